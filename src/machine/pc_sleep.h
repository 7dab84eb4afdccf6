/* S3 suspend to RAM, as QEMU's pc does it: SLP_TYP 1 in PM1a_CNT stops every vCPU (RAM and
 * devices stay, time goes on), the CMOS shutdown byte becomes 0xFE (SeaBIOS's "S3 resume"),
 * QMP gets SUSPEND and `info status` says "paused (suspended)". An RTC alarm (with PM1_EN.RTC_EN
 * and the RTC's AIE), the power button or `system_wakeup` wakes the machine: a reset that
 * keeps RAM and the shadowed BIOS, WAK_STS (with RTC_STS or PWRBTN_STS), QMP WAKEUP, then the
 * firmware's resume path, or without firmware (-kernel) a jump to the FACS waking vector in
 * real mode as the firmware would make it. */
#ifndef PCVM_MACHINE_PC_SLEEP_H
#define PCVM_MACHINE_PC_SLEEP_H

#include <stdbool.h>

struct pc;

/* Hook S3 into the PM function and the RTC, add system_wakeup to the monitors. */
void pc_sleep_init(struct pc *pc);
/* The power button while suspended wakes the machine: true when it did. */
bool pc_sleep_power_button(struct pc *pc);
/* Part of the reset that a wake-up requested: reset the devices keeping what S3 keeps and
 * start the resume. False (nothing done) when there is nothing to resume into: the caller
 * then boots as after any reset. */
bool pc_sleep_resume(struct pc *pc);

#endif

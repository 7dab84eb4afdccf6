/* PIIX4-style ACPI power management function at 01.3 (8086:7113), as QEMU's pc has it.
 *
 * The PM register block (64 ports) appears at config 0x40 (PMBA, bits 15:6) once config 0x80
 * (PMREGMISC) bit 0 is set:
 *   +0x00 PM1a_STS  +0x02 PM1a_EN  +0x04 PM1a_CNT  +0x08 PM_TMR (24-bit, 3.579545 MHz)
 *   +0x0C GPE0_STS  +0x0E GPE0_EN  (the FADT's GPE0 block, 4 bytes)  +0x28 GLBCTL (storage)
 * SLP_EN with SLP_TYP 0 (the DSDT's \_S5) powers off through the board's callback, SLP_TYP 1
 * (\_S3, QEMU's value) suspends to RAM through another (acpi_pm_set_suspend), SLP_TYP 2 (\_S4,
 * QEMU's s4_val) is hibernation: the guest saved itself to disk, the board reports it and
 * powers off (acpi_pm_set_suspend_disk; without that hook it is a power-off).  The SCI
 * is a level on the line the board gives (IRQ 9).  The APM ports 0xB2/0xB3 accept the FADT's
 * ACPI_ENABLE (0xF1) / ACPI_DISABLE (0xF0) commands, which set or clear SCI_EN; SMIs are not
 * generated (config 0x5B bit 1 reads as set, so SeaBIOS skips its SMM setup as on QEMU with
 * SMM off).  The SMBus function is storage only (0x90 SMBBA, 0xD2 host config). */
#ifndef PCVM_HW_ACPI_PM_H
#define PCVM_HW_ACPI_PM_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/irq.h"
#include "hw/pci.h"
#include "util/vclock.h"

#define ACPI_PM_DEVFN 0x0b          /* 01.3 */
#define ACPI_PM_TIMER_HZ 3579545
#define ACPI_PM_IO_LEN 64
/* Where SeaBIOS puts the PM and SMBus blocks on QEMU's pc (it moves them from 0xB000/0xB100
 * there when fw_cfg offers etc/table-loader); pcvm's firmware-less boot uses the same. */
#define ACPI_PM_DEFAULT_BASE 0x600
#define ACPI_PM_DEFAULT_SMB_BASE 0x700
#define ACPI_PM_GPE0_OFFSET 0x0c
#define ACPI_PM_SMI_CMD 0xb2
#define ACPI_PM_ACPI_ENABLE 0xf1
#define ACPI_PM_ACPI_DISABLE 0xf0
#define ACPI_PM_SLP_TYP_S3 1         /* the DSDT's \_S3 */
#define ACPI_PM_SLP_TYP_S4 2         /* the DSDT's \_S4 */

/* PM1 status/enable bits. */
enum {
    ACPI_PM1_TMR = 1u << 0, ACPI_PM1_BM = 1u << 4, ACPI_PM1_GBL = 1u << 5,
    ACPI_PM1_PWRBTN = 1u << 8, ACPI_PM1_SLPBTN = 1u << 9, ACPI_PM1_RTC = 1u << 10,
    ACPI_PM1_WAK = 1u << 15,
};
/* PM1 control bits. */
enum { ACPI_PM1_CNT_SCI_EN = 1u << 0, ACPI_PM1_CNT_SLP_TYP_SHIFT = 10, ACPI_PM1_CNT_SLP_EN = 1u << 13 };

struct acpi_pm {
    struct pci_device dev;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint16_t gpe0_sts, gpe0_en;
    uint32_t glbctl;
    uint8_t apm_cnt, apm_sts;        /* ports 0xB2 / 0xB3 */
    uint64_t tmr_seen_ticks;         /* PM timer ticks when TMR_STS was last evaluated */
    uint16_t io_base;                /* where the PM block is decoded, 0 = nowhere */
    bool sci_level;
    /* Host side (not state). */
    int io_handle;
    struct vtimer tmr_timer;         /* armed for the next bit-23 toggle while TMR_EN is set */
    struct vclock *clock;
    const struct irq_line *sci;
    void (*power_off)(void *opaque);
    void (*suspend)(void *opaque);   /* S3 entry; NULL: SLP_TYP 1 does nothing */
    void (*suspend_disk)(void *opaque);   /* S4 entry; NULL: SLP_TYP 2 powers off */
    void *opaque;
};

/* Register the function at 01.3, claim 0xB2/0xB3. sci: the SCI line (ISA IRQ 9, level, active
 * high); power_off(opaque) runs on S5 entry. Returns 0 or -1. */
int acpi_pm_init(struct acpi_pm *s, struct pci_bus *bus, struct io_bus *io, struct vclock *clock,
                 const struct irq_line *sci, void (*power_off)(void *opaque), void *opaque);
/* RESET#: registers cleared, PM block unmapped. */
void acpi_pm_reset(struct acpi_pm *s);
/* The power button was pressed (system_powerdown): PWRBTN_STS and an SCI if enabled. */
void acpi_pm_power_button(struct acpi_pm *s);
/* suspend(opaque) runs on S3 entry (SLP_EN with SLP_TYP 1); same opaque as power_off. */
void acpi_pm_set_suspend(struct acpi_pm *s, void (*suspend)(void *opaque));
/* suspend_disk(opaque) runs on S4 entry (SLP_EN with SLP_TYP 2); same opaque as power_off. */
void acpi_pm_set_suspend_disk(struct acpi_pm *s, void (*suspend_disk)(void *opaque));
/* After the wake-up reset: WAK_STS, and why (ACPI_PM1_RTC or ACPI_PM1_PWRBTN) as QEMU sets it. */
void acpi_pm_woken(struct acpi_pm *s, uint16_t why);
/* PM1_EN.RTC_EN: the RTC alarm may wake the machine from S3. */
bool acpi_pm_rtc_wake_enabled(const struct acpi_pm *s);
/* Raise GPE0 status bit n (0-15), e.g. for hotplug later. */
void acpi_pm_raise_gpe(struct acpi_pm *s, unsigned n);
/* Current 24-bit PM timer value. */
uint32_t acpi_pm_timer_value(const struct acpi_pm *s);
/* The PM block base programmed in PMBA (0 until firmware writes it). */
uint16_t acpi_pm_programmed_base(const struct acpi_pm *s);
/* Map the PM block at base as firmware would (direct boot without a BIOS). */
void acpi_pm_set_base(struct acpi_pm *s, uint16_t base);

/* Saved state (device model). */
extern const struct vmstate_desc acpi_pm_vmstate;
#endif

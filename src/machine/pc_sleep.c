/* S3 suspend and wake-up (pc_sleep.h). */
#include "machine/pc_sleep.h"

#include <stdio.h>
#include <string.h>

#include "machine/pc.h"
#include "monitor/monitor.h"
#include "monitor/registry.h"

enum { CMOS_SHUTDOWN = 0x0f, CMOS_S3_RESUME = 0xfe };

/* Every vCPU waits as an AP waits for SIPI: interrupts do not wake it, a reset does. */
static void halt_all(void *opaque)
{
    struct pc *pc = opaque;
    for (unsigned i = 0; i < pc->ncpus; i++) {
        struct cpu *c = pc->cpus[i];
        c->sys.wait_for_sipi = true;
        c->halted = true;
        cpu_request(c, CPU_REQ_EXIT, 1);
    }
}

static void pc_suspend(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->suspended)
        return;
    pc->suspended = true;
    rtc_cmos_set(&pc->rtc, CMOS_SHUTDOWN, CMOS_S3_RESUME);
    runloop_run_stopped(&pc->rl, halt_all, pc);
    log_printf(pc->log, LOG_CPU_RESET, "S3 suspend\n");
    pc_event(pc, "SUSPEND", NULL);
}

/* Request the wake-up reset; why: ACPI_PM1_RTC, ACPI_PM1_PWRBTN or 0 (system_wakeup). */
static bool wake(struct pc *pc, uint16_t why)
{
    if (!pc->suspended || pc->waking)
        return false;
    pc->waking = true;
    pc->wake_why = why;
    pc_request_reset(pc);
    return true;
}

static void rtc_alarm(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->suspended && acpi_pm_rtc_wake_enabled(&pc->pm))
        wake(pc, ACPI_PM1_RTC);
}

bool pc_sleep_power_button(struct pc *pc)
{
    return wake(pc, ACPI_PM1_PWRBTN);
}

/* ---- Resume ---- */

/* FACS.FIRMWARE_WAKING_VECTOR through the RSDP in the BIOS area, RSDT and FADT; 0 if any of
 * them is missing (the guest's RAM is read through the bus, so any pointer is safe). */
static uint32_t waking_vector(struct pc *pc)
{
    struct phys_mem *m = &pc->mem;
    uint32_t rsdp = 0;
    for (uint32_t a = 0xe0000; a < 0x100000 && !rsdp; a += 16)
        if (phys_read(m, a, 4) == 0x20445352u && phys_read(m, a + 4, 4) == 0x20525450u)   /* "RSD PTR " */
            rsdp = a;
    if (!rsdp)
        return 0;
    uint32_t rsdt = phys_read(m, rsdp + 16, 4);
    if (phys_read(m, rsdt, 4) != 0x54445352u)   /* "RSDT" */
        return 0;
    uint32_t len = phys_read(m, rsdt + 4, 4);
    for (uint32_t off = 36; off + 4 <= len && off < 4096; off += 4) {
        uint32_t t = phys_read(m, rsdt + off, 4);
        if (phys_read(m, t, 4) != 0x50434146u)   /* "FACP" */
            continue;
        uint32_t facs = phys_read(m, t + 36, 4);
        if (phys_read(m, facs, 4) != 0x53434146u)   /* "FACS" */
            return 0;
        return phys_read(m, facs + 12, 4);
    }
    return 0;
}

bool pc_sleep_resume(struct pc *pc)
{
    uint32_t vector = 0;
    pc->waking = false;
    if (pc->cfg->kernel) {
        vector = waking_vector(pc);
        if (!vector || vector >= 0x100000) {
            log_printf(pc->log, LOG_GUEST_ERRORS, "S3 wake-up: no FACS waking vector, booting\n");
            pc->suspended = false;
            return false;
        }
    }
    uint8_t pam[I440FX_PAM_BYTES];
    i440fx_get_pam(&pc->i440fx, pam);
    uint16_t pm_base = pc->pm.io_base;
    devlist_reset(&pc->devices);
    pc->suspended = false;
    i440fx_set_pam(&pc->i440fx, pam);
    if (pm_base)
        acpi_pm_set_base(&pc->pm, pm_base);
    acpi_pm_woken(&pc->pm, pc->wake_why);
    log_printf(pc->log, LOG_CPU_RESET, "S3 wake-up%s\n", vector ? " at the FACS waking vector" : "");
    pc_event(pc, "WAKEUP", NULL);
    if (vector) {
        /* What the firmware hands over: real mode, CS:IP = vector >> 4 : vector & 0xF. */
        struct cpu *c = pc->cpus[0];
        uint16_t sel = (uint16_t)(vector >> 4);
        c->seg[SEG_CS].sel = sel;
        c->seg[SEG_CS].base = (uint32_t)sel << 4;
        c->eip = vector & 0xf;
        cpu_update_mode(c);
        rtc_cmos_set(&pc->rtc, CMOS_SHUTDOWN, 0);
    }
    return true;
}

/* ---- Monitor ---- */

static void hmp_system_wakeup(struct monitor *mon, const char *args, void *opaque)
{
    (void)args;
    if (!wake(opaque, 0))
        monitor_printf(mon, "Error: Unable to wake up: guest is not in suspended state\n");
}

static json_t *qmp_system_wakeup(json_t *args, void *opaque, struct qmp_error *err)
{
    (void)args;
    if (!wake(opaque, 0))
        return qmp_error_set(err, "GenericError", "Unable to wake up: guest is not in suspended state");
    return json_object();
}

static const struct hmp_command sleep_hmp[] = {
    { "system_wakeup", NULL, "", "wakeup guest from suspend", hmp_system_wakeup },
};
static const struct qmp_command sleep_qmp[] = {
    { "system_wakeup", qmp_system_wakeup },
};

/* S4: the guest has written its image to disk; as QEMU, QMP SUSPEND_DISK, then power off. */
static void pc_suspend_disk(void *opaque)
{
    struct pc *pc = opaque;
    log_printf(pc->log, LOG_CPU_RESET, "S4 (suspend to disk): powering off\n");
    pc_event(pc, "SUSPEND_DISK", NULL);
    pc->pm.power_off(pc->pm.opaque);
}

void pc_sleep_init(struct pc *pc)
{
    acpi_pm_set_suspend(&pc->pm, pc_suspend);
    acpi_pm_set_suspend_disk(&pc->pm, pc_suspend_disk);
    rtc_set_alarm_hook(&pc->rtc, rtc_alarm, pc);
    monitor_registry_add_hmp(&pc->monreg, sleep_hmp, 1, pc);
    monitor_registry_add_qmp(&pc->monreg, sleep_qmp, 1, pc);
}


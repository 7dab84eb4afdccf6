/* The "pc" board: i440FX/PIIX3 with the legacy chips, APICs, fw_cfg, IDE and VGA.
 * This file and pc.c are only wiring: which chips, at which ports, which IRQs. */
#ifndef PCVM_MACHINE_PC_H
#define PCVM_MACHINE_PC_H

#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "cli/config.h"
#include "cli/wiring.h"
#include "cpu/cpu.h"
#include "gdbstub/gdbstub.h"
#include "hw/devmodel.h"
#include "hw/acpi_pm.h"
#include "hw/debugcon.h"
#include "hw/debugexit.h"
#include "hw/fw_cfg.h"
#include "hw/i440fx.h"
#include "hw/i8042.h"
#include "hw/ide.h"
#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "hw/pci.h"
#include "hw/pic.h"
#include "hw/piix3.h"
#include "hw/pit.h"
#include "hw/port92.h"
#include "hw/pvpanic.h"
#include "hw/pc_testdev.h"
#include "hw/pci_testdev.h"
#include "hw/rtc.h"
#include "hw/uart.h"
#include "hw/vga.h"
#include "machine/pc_net.h"
#include "machine/pc_virtio.h"
#include "machine/runloop.h"
#include "mem/memory.h"
#include "monitor/monitor.h"
#include "monitor/registry.h"
#include "ui/display.h"
#include "util/log.h"
#include "util/mainloop.h"
#include "util/stamps.h"
#include "util/vclock.h"

#define PC_MAX_CPUS 32
#define PC_MAX_DEBUGEXIT 4

/* Who drives an ISA IRQ line; the line's level is the OR over sources. */
#define PC_MAX_PCI_TESTDEV 4

enum pc_irq_source { PC_IRQ_SRC_DEVICE, PC_IRQ_SRC_PCI, PC_IRQ_SRC_SCI, PC_IRQ_SRC_SHARED, PC_IRQ_SRC_FERR,
                     PC_IRQ_SRC_TESTDEV };

struct snapshot_ctx;

struct pc {
    const struct vm_config *cfg;
    struct pcvm_log *log;
    struct mainloop *ml;
    struct vm_chardevs *chardevs;

    struct vclock clock;
    struct phys_mem mem;
    struct io_bus io;
    struct runloop rl;
    struct stamp_writer *stamps;   /* -stamps FILE, or NULL */

    unsigned ncpus;
    struct cpu *cpus[PC_MAX_CPUS];
    const uint64_t *insn_counters[PC_MAX_CPUS]; /* -icount time follows their sum */
    struct lapic lapic[PC_MAX_CPUS];
    uint8_t apic_ids[PC_MAX_CPUS]; /* of every possible CPU (-smp maxcpus), from the topology */
    unsigned max_cpus;             /* -smp maxcpus: the MADT lists them, the absent disabled */
    struct apic_bus apic_bus;
    struct ioapic ioapic;

    struct irq_line isa_irq[16];   /* ISA IRQ n: to the PIC and the I/O APIC */
    struct irq_line piix3_irq[16]; /* the same IRQs as driven by PCI INTx through the PIIX3 */
    struct irq_line sci_irq;       /* IRQ 9 as driven by the ACPI PM device */
    struct irq_line ferr_irq;      /* IRQ 13 as driven by the FPU's FERR# */
    uint32_t isa_irq_sources[16];  /* per IRQ: bit per enum pc_irq_source currently high */
    struct irq_line pic_intr;      /* PIC INTR output: LINT0 of the BSP */
    struct pic pic;
    struct pit pit;
    struct rtc rtc;
    struct uart uart[4];
    unsigned nuarts;
    struct i8042 kbc;
    struct port92 port92;
    bool a20_kbc, a20_port92;
    struct debugexit debugexit[PC_MAX_DEBUGEXIT];
    struct debugcon debugcon;
    struct debugcon seabios_log;   /* port 0x402 */

    struct pci_bus pci;
    struct i440fx i440fx;
    struct piix3 piix3;
    struct acpi_pm pm;
    struct ide_ctrl ide;
    struct block_dev *drives[4];
    bool drive_is_cdrom[4];
    struct block_aio_pool aio;
    bool aio_started;
    struct vga vga;
    bool has_vga;
    struct display display;        /* renders the VGA for -vnc, -display sdl and screendump */
    bool has_display;
    struct fw_cfg fw_cfg;
    struct pc_net net;             /* network back ends and cards */
    struct pc_virtio virtio;       /* virtio-blk/rng devices */

    uint8_t *bios;                 /* firmware image, mapped below 4 GiB */
    uint32_t bios_size;
    uint8_t *rom_area;             /* 0xC0000-0xFFFFF as seen through PAM in ROM mode */

    struct monitor *monitors[VM_MAX_MONITORS + VM_MAX_SERIALS];
    unsigned nmonitors;
    struct monitor_registry monreg;   /* HMP/QMP commands and QMP events (pc_monitor.c) */
    struct qmp_session *qmps[VM_MAX_MONITORS + VM_MAX_SERIALS];
    unsigned nqmps;
    const char *run_state;         /* QMP RunState while paused: "paused", "prelaunch" ... */
    const char *shutdown_reason;   /* why the loop ends (QMP SHUTDOWN); "" sends none */
    bool reset_by_host;            /* the pending reset came from the monitor */
    uint64_t irq_count[16];        /* rising edges per ISA IRQ (info irq) */
    struct pvpanic pvpanic;
    bool has_pvpanic;
    struct pc_testdev *testdev;    /* -device pc-testdev (64 KiB of scratch memory), or NULL */
    struct pci_testdev pci_testdev[PC_MAX_PCI_TESTDEV];   /* -device pci-testdev */
    unsigned n_pci_testdev;

    bool reset_pending;
    bool powered_off;
    bool suspended, waking;        /* S3 (pc_sleep.c): CPUs stopped; the wake-up reset pending */
    uint16_t wake_why;             /* ACPI_PM1_RTC, ACPI_PM1_PWRBTN or 0 (system_wakeup) */

    struct gdbstub *gdb;           /* -gdb / -s / monitor gdbserver (NULL: none) */
    struct chardev *gdb_chr;       /* its connection when opened by gdbserver (owned) */

    /* Every device and CPU, in creation order: reset, teardown, info qtree and snapshots
     * walk this list (hw/devmodel.h). */
    struct device_list devices;
    struct snapshot_ctx *snap;     /* savevm/loadvm jobs and migration (machine/snapshot.c) */
    int64_t saved_vtime;           /* virtual time when the state was saved (vclock section) */
};

/* Build the board from cfg (host resources already opened in chardevs); 0 or -1 with err. */
int pc_create(struct pc *pc, const struct vm_config *cfg, struct pcvm_log *log, struct mainloop *ml,
              struct vm_chardevs *chardevs, char *err, size_t errlen);
/* Run the machine until it exits; returns the process exit status. */
int pc_run(struct pc *pc);
/* Register a device with the board (id is a printf format); 0 or -1 with err. */
int pc_register_device(struct pc *pc, const struct device *tmpl, char *err, size_t errlen, const char *id_fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Release everything pc_create() made. */
void pc_destroy(struct pc *pc);
/* Ask for a reset at the next slice boundary (as the reset pins do). */
void pc_request_reset(struct pc *pc);
/* Stop the machine and end the run with status (isa-debug-exit, quit). */
void pc_debug_exit(void *opaque, int status);

/* ---- pc_monitor.c: the board's monitor commands and QMP events ---- */

/* Open the HMP and QMP monitors the config names, with the board's commands. */
void pc_monitors_create(struct pc *pc);
/* Close them (after the SHUTDOWN event went out). */
void pc_monitors_destroy(struct pc *pc);
/* Pause (run_state: QMP's RunState, e.g. "paused") or resume; sends STOP/RESUME. */
void pc_set_paused(struct pc *pc, bool paused, const char *run_state);
/* Send a QMP event (data stolen, may be NULL) to every QMP client. */
void pc_event(struct pc *pc, const char *name, json_t *data);
/* pvpanic callback: GUEST_PANICKED and the -action panic= outcome. */
void pc_guest_panicked(void *opaque, unsigned events);

#endif

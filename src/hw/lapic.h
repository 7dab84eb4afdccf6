/* Local APIC (P6-family integrated xAPIC, version 0x14, 6 LVT entries), one per CPU, and the
 * APIC "bus" that connects the local APICs and the I/O APIC.
 *
 * Wiring (board):
 *   - apic_bus_init(), then lapic_init() per CPU, then ioapic_init() (hw/ioapic.h).
 *   - All local APICs share the MMIO page at 0xFEE00000; an access goes to the APIC of the
 *     CPU the board says is running: call apic_bus_set_current(bus, cpu_index) before
 *     cpu_run() of each vCPU.  The CPU's APIC_BASE MSR code calls lapic_set_base() /
 *     lapic_get_base(); a relocation moves the shared page.
 *   - The PIC's INTR output goes to LINT0 of the bootstrap CPU: irq_connect(&pic_intr,
 *     lapic_lint_irq, lapic0, 0).  LINT0 is ExtINT after reset on the BSP (virtual wire), so
 *     the PIC reaches the CPU until the OS masks LINT0.  NMI sources may drive LINT1.
 *   - The board's cpu_board_ops.intr_ack calls lapic_intr_ack(): it returns the APIC's vector,
 *     or for ExtINT calls pic_ack(pic_opaque) for the PIC's vector.
 *   - The APIC raises and lowers CPU_REQ_INTR on its CPU (cpu_request), and sets CPU_REQ_NMI,
 *     CPU_REQ_INIT, CPU_REQ_SIPI (with cpu->sipi_vector) for IPIs.
 * The timer runs from the virtual clock at a 1 GHz bus clock (1 ns per bus cycle, as QEMU)
 * divided by the divide configuration register; one-shot and periodic (no TSC deadline yet). */
#ifndef PCVM_HW_LAPIC_H
#define PCVM_HW_LAPIC_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mem/memory.h"
#include "util/vclock.h"

#define APIC_MAX_CPUS 32
#define LAPIC_DEFAULT_BASE 0xfee00000u
#define LAPIC_VERSION 0x00050014u
#define APIC_BASE_MSR_BSP (1u << 8)
#define APIC_BASE_MSR_ENABLE (1u << 11)

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

/* Delivery modes (ICR, LVT and I/O APIC redirection entries). */
enum { APIC_DM_FIXED = 0, APIC_DM_LOWEST = 1, APIC_DM_SMI = 2, APIC_DM_NMI = 4, APIC_DM_INIT = 5,
       APIC_DM_SIPI = 6, APIC_DM_EXTINT = 7 };

struct lapic;
struct apic_bus {
    struct lapic *lapics[APIC_MAX_CPUS];
    unsigned count;
    unsigned current;             /* index of the CPU whose accesses the MMIO page serves */
    int mmio_index;
    uint32_t mmio_base;
    struct phys_mem *mem;
    /* Level-triggered EOI broadcast to the I/O APIC (set by ioapic_init). */
    void (*eoi)(void *opaque, uint8_t vector);
    void *eoi_opaque;
};

struct lapic {
    uint8_t id;                   /* APIC ID (register bits 31:24) */
    uint64_t apic_base;           /* IA32_APIC_BASE MSR */
    uint32_t tpr, ldr, dfr, svr, esr, esr_pending;
    uint32_t isr[8], tmr[8], irr[8];
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[LVT_COUNT];
    uint32_t timer_initial, timer_dcr;
    int64_t timer_start;          /* virtual ns when the count was (re)loaded */
    uint8_t lint_level[2];
    bool extint_pending;          /* ExtINT delivered by the I/O APIC, until acknowledged */
    /* Host side (not state). */
    struct cpu *cpu;
    struct apic_bus *bus;
    struct vclock *clock;
    struct vtimer timer;
    int (*pic_ack)(void *opaque);
    void *pic_opaque;
};

/* Empty bus; maps the shared MMIO page at 0xFEE00000 in mem. */
void apic_bus_init(struct apic_bus *bus, struct phys_mem *mem);
/* Route MMIO accesses to the APIC of CPU index (call before running that vCPU). */
void apic_bus_set_current(struct apic_bus *bus, unsigned index);
/* Deliver an interrupt message (from the I/O APIC or an IPI) to the APICs it addresses.
 * dest_mode: 0 physical, 1 logical. level: trigger mode is level. */
void apic_bus_deliver(struct apic_bus *bus, uint8_t dest, int dest_mode, int delivery_mode,
                      uint8_t vector, bool level);
/* Deliver a message-signalled interrupt (a PCI device's write of data to address 0xFEExxxxx);
 * opaque is the struct apic_bus (the signature of pci_bus.msi_send). Other addresses are ignored. */
void apic_bus_deliver_msi(void *opaque, uint32_t address, uint32_t data);

/* Attach a local APIC with the given ID to cpu; bsp selects the BSP flag and LINT0 ExtINT.
 * pic_ack(pic_opaque) returns the PIC's vector for ExtINT. Returns 0 or -1 (bus full). */
int lapic_init(struct lapic *s, struct apic_bus *bus, struct cpu *cpu, struct vclock *clock, uint8_t id,
               bool bsp, int (*pic_ack)(void *opaque), void *pic_opaque);
/* RESET#: registers and the APIC base MSR to power-on values. */
void lapic_reset(struct lapic *s);
/* INIT (IPI or INIT#): registers reset, ID and APIC base kept. */
void lapic_init_reset(struct lapic *s);
/* IA32_APIC_BASE MSR read / write (for the CPU's MSR code). */
uint64_t lapic_get_base(const struct lapic *s);
void lapic_set_base(struct lapic *s, uint64_t value);
/* The CPU takes the pending interrupt: returns the vector (ISR updated) or the PIC's vector. */
int lapic_intr_ack(struct lapic *s);
/* irq_handler_fn for LINT0 (n = 0) and LINT1 (n = 1); opaque is the struct lapic. */
void lapic_lint_irq(void *opaque, int n, int level);
/* Register access by offset (what the MMIO page does; also for tests and an x2APIC later). */
uint32_t lapic_read(struct lapic *s, uint32_t offset);
void lapic_write(struct lapic *s, uint32_t offset, uint32_t value);
/* Current timer count (register 0x390). */
uint32_t lapic_timer_current(const struct lapic *s);

/* Saved state (device model). */
extern const struct vmstate_desc lapic_vmstate;
#endif

/* Debugger hooks for the gdb stub (see debug.h for the cost model). */
#include "cpu/debug.h"

#include <setjmp.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"

/* Drop the traces that may hold the instruction at linear (its physical page), so they are
 * decoded again with the new breakpoint set. When the page is not mapped now, or not RAM,
 * drop them all: the breakpoint must hold whenever the page gets mapped. */
static void drop_traces_at(struct cpu *cpu, uint32_t linear)
{
    uint32_t phys;
    if (cpu_probe(cpu, linear, &phys) && (phys >> 12) < cpu->mem->code_pages_count)
        cpu_code_written(cpu, phys & ~0xfffu, 4096);
    else
        cpu_flush_traces(cpu);
}

int cpu_debug_insert_break(struct cpu *cpu, uint32_t linear, bool hw)
{
    struct cpu_debug_state *d = &cpu->dbg;
    if (d->nbreak >= CPU_DEBUG_MAX_BREAKS)
        return -1;
    d->brk[d->nbreak++] = (struct cpu_debug_break){ .linear = linear, .hw = hw };
    drop_traces_at(cpu, linear);
    return 0;
}

int cpu_debug_remove_break(struct cpu *cpu, uint32_t linear, bool hw)
{
    struct cpu_debug_state *d = &cpu->dbg;
    for (unsigned k = 0; k < d->nbreak; k++) {
        if (d->brk[k].linear == linear && d->brk[k].hw == hw) {
            d->brk[k] = d->brk[--d->nbreak];
            drop_traces_at(cpu, linear);
            return 0;
        }
    }
    return -1;
}

int cpu_debug_insert_watch(struct cpu *cpu, uint32_t linear, uint32_t len, enum cpu_watch_kind kind)
{
    struct cpu_debug_state *d = &cpu->dbg;
    if (d->nwatch >= CPU_DEBUG_MAX_WATCHES || len == 0 || len > 4096 ||
        kind < CPU_WATCH_WRITE || kind > CPU_WATCH_ACCESS)
        return -1;
    d->watch[d->nwatch++] = (struct cpu_debug_watch){ .linear = linear, .len = len, .kind = (uint8_t)kind };
    /* Refill the TLB so the entries of the watched pages get their tag. */
    cpu_tlb_flush(cpu);
    return 0;
}

int cpu_debug_remove_watch(struct cpu *cpu, uint32_t linear, uint32_t len, enum cpu_watch_kind kind)
{
    struct cpu_debug_state *d = &cpu->dbg;
    for (unsigned k = 0; k < d->nwatch; k++) {
        struct cpu_debug_watch *w = &d->watch[k];
        if (w->linear == linear && w->len == len && w->kind == kind) {
            *w = d->watch[--d->nwatch];
            cpu_tlb_flush(cpu);
            return 0;
        }
    }
    return -1;
}

void cpu_debug_clear(struct cpu *cpu)
{
    struct cpu_debug_state *d = &cpu->dbg;
    bool had_breaks = d->nbreak != 0, had_watches = d->nwatch != 0;
    memset(d, 0, sizeof(*d));
    if (had_breaks)
        cpu_flush_traces(cpu);
    if (had_watches)
        cpu_tlb_flush(cpu);
}

void cpu_debug_set_step(struct cpu *cpu, bool on, bool noirq)
{
    if (on)
        cpu->dbg.step |= CPU_STEP_GDB;
    else
        cpu->dbg.step &= (uint8_t)~CPU_STEP_GDB;
    cpu->dbg.step_noirq = on && noirq;
}

/* ---- Breakpoints ---- */

void cpu_debug_mark_break(struct cpu *cpu, struct insn *i, uint32_t lin)
{
    const struct cpu_debug_state *d = &cpu->dbg;
    for (unsigned k = 0; k < d->nbreak; k++) {
        if (d->brk[k].linear == lin) {
            i->fn = h_debug_break;
            return;
        }
    }
}

struct insn *h_debug_break(struct cpu *cpu, struct insn *i)
{
    (void)i;
    struct cpu_debug_state *d = &cpu->dbg;
    uint32_t lin = cpu->seg[SEG_CS].base + cpu->eip;
    d->stop = CPU_STOP_SW_BREAK;
    d->stop_addr = lin;
    for (unsigned k = 0; k < d->nbreak; k++)
        if (d->brk[k].linear == lin && !d->brk[k].hw)
            goto found;
    for (unsigned k = 0; k < d->nbreak; k++)
        if (d->brk[k].linear == lin)
            d->stop = CPU_STOP_HW_BREAK;
found:
    d->break_hit = true;
    cpu->insn_count--;          /* not executed */
    cpu->exec.yield = true;
    return NULL;
}

int cpu_debug_yield_reason(struct cpu *cpu)
{
    if (cpu->dbg.break_hit) {
        cpu->dbg.break_hit = false;
        return CPU_EXIT_DEBUG;
    }
    return CPU_EXIT_BUDGET;
}

void cpu_debug_step_done(struct cpu *cpu)
{
    struct cpu_debug_state *d = &cpu->dbg;
    if (!(d->step & CPU_STEP_WATCH))
        d->stop = CPU_STOP_STEP;
    d->step &= (uint8_t)~CPU_STEP_WATCH;
    d->watch_quiet = false;
}

/* ---- Watchpoints ---- */

bool cpu_debug_page_watched(const struct cpu *cpu, uint32_t lpage)
{
    const struct cpu_debug_state *d = &cpu->dbg;
    for (unsigned k = 0; k < d->nwatch; k++) {
        const struct cpu_debug_watch *w = &d->watch[k];
        uint32_t first = w->linear & ~0xfffu, last = (w->linear + w->len - 1) & ~0xfffu;
        if (first <= last ? (lpage >= first && lpage <= last) : (lpage >= first || lpage <= last))
            return true;
    }
    return false;
}

void cpu_debug_check_watch(struct cpu *cpu, uint32_t lin, unsigned len, bool write)
{
    struct cpu_debug_state *d = &cpu->dbg;
    if (d->watch_quiet || !len)
        return;
    for (unsigned k = 0; k < d->nwatch; k++) {
        const struct cpu_debug_watch *w = &d->watch[k];
        if (w->kind == CPU_WATCH_WRITE && !write)
            continue;
        if (w->kind == CPU_WATCH_READ && write)
            continue;
        /* Overlap of [lin, lin+len) and [w->linear, w->linear+w->len), modulo 2^32. */
        if (lin - w->linear >= w->len && w->linear - lin >= len)
            continue;
        d->stop = CPU_STOP_WATCH;
        d->stop_addr = w->linear;
        d->stop_watch_kind = w->kind;
        d->step |= CPU_STEP_WATCH;
        if (cpu->sys.delivering >= 0)
            return;   /* inside interrupt delivery: report after the next instruction */
        /* Undo the instruction (faults are precise) and run it again without checks. */
        d->watch_quiet = true;
        d->watch_restart = true;
        longjmp(cpu->fault_env, 1);
    }
}

bool cpu_debug_watch_restart(struct cpu *cpu)
{
    if (!cpu->dbg.watch_restart)
        return false;
    cpu->dbg.watch_restart = false;
    return true;
}

/* Debugger hooks for the gdb stub: breakpoints compiled into traces, watchpoints through the
 * software TLB, single-step, and holding a vCPU while another steps. Embedded in struct cpu.
 *
 * Cost model: nothing here runs per instruction.
 *   - A breakpoint is checked when a trace is decoded (cpu_debug_mark_break): the instruction
 *     at a breakpoint gets the handler h_debug_break instead of its own. Inserting or removing
 *     one drops the traces of its page only, so they are rebuilt with or without it.
 *   - A watchpoint tags the TLB entries of its linear page (TLB_WATCH): accesses to that page
 *     take the slow path, which calls cpu_debug_check_watch; other pages keep the fast path.
 *   - Single-step and watch reports use the run loop's existing one-instruction path. */
#ifndef PCVM_CPU_DEBUG_H
#define PCVM_CPU_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;
struct insn;

#define CPU_DEBUG_MAX_BREAKS 64
#define CPU_DEBUG_MAX_WATCHES 16

/* Watchpoint kinds (gdb's Z2, Z3, Z4). */
enum cpu_watch_kind { CPU_WATCH_WRITE = 1, CPU_WATCH_READ = 2, CPU_WATCH_ACCESS = 3 };

/* Why cpu_run() last returned CPU_EXIT_DEBUG. */
enum cpu_debug_stop {
    CPU_STOP_NONE = 0,
    CPU_STOP_SW_BREAK,   /* at a breakpoint inserted as software (Z0) */
    CPU_STOP_HW_BREAK,   /* at a breakpoint inserted as hardware (Z1) */
    CPU_STOP_STEP,       /* after a single step */
    CPU_STOP_WATCH,      /* after the instruction that hit a watchpoint */
};

/* Bits of cpu_debug_state.step. */
enum { CPU_STEP_GDB = 1u << 0, CPU_STEP_WATCH = 1u << 1 };

struct cpu_debug_break {
    uint32_t linear;
    bool hw;
};

struct cpu_debug_watch {
    uint32_t linear;
    uint32_t len;
    uint8_t kind;        /* enum cpu_watch_kind */
};

struct cpu_debug_state {
    struct cpu_debug_break brk[CPU_DEBUG_MAX_BREAKS];
    unsigned nbreak;
    struct cpu_debug_watch watch[CPU_DEBUG_MAX_WATCHES];
    unsigned nwatch;
    uint8_t step;        /* CPU_STEP_*: run one instruction, then return CPU_EXIT_DEBUG */
    bool step_noirq;     /* while stepping for gdb, hold interrupts (qqemu.sstep NOIRQ) */
    bool hold;           /* another vCPU steps: cpu_run() returns CPU_EXIT_HALT at once */
    bool watch_quiet;    /* re-executing the instruction that hit a watchpoint: no checks */
    bool watch_restart;  /* the fault longjmp in flight is a watchpoint hit */
    bool break_hit;      /* h_debug_break ran: cpu_run() returns CPU_EXIT_DEBUG */
    /* The last stop, for the stop reply. */
    uint8_t stop;        /* enum cpu_debug_stop */
    uint8_t stop_watch_kind;
    uint32_t stop_addr;
};

/* ---- For the gdb stub ---- */

/* Insert / remove a breakpoint at a linear address (hw: inserted as a hardware breakpoint,
 * only the stop reply differs). 0, or -1 when the table is full / no such breakpoint. */
int cpu_debug_insert_break(struct cpu *cpu, uint32_t linear, bool hw);
int cpu_debug_remove_break(struct cpu *cpu, uint32_t linear, bool hw);
/* Insert / remove a watchpoint on [linear, linear+len). 0, or -1 (full, bad length, unknown). */
int cpu_debug_insert_watch(struct cpu *cpu, uint32_t linear, uint32_t len, enum cpu_watch_kind kind);
int cpu_debug_remove_watch(struct cpu *cpu, uint32_t linear, uint32_t len, enum cpu_watch_kind kind);
/* Remove every breakpoint and watchpoint, stop stepping and holding. */
void cpu_debug_clear(struct cpu *cpu);
/* Single-step for gdb (noirq: interrupts wait until the step is done). */
void cpu_debug_set_step(struct cpu *cpu, bool on, bool noirq);

/* ---- Hooks for exec and sys ---- */

/* Trace decoding: i (just decoded, at linear address lin) becomes a breakpoint stop when a
 * breakpoint is there. Called only while cpu->dbg.nbreak != 0. */
void cpu_debug_mark_break(struct cpu *cpu, struct insn *i, uint32_t lin);
/* Handler of an instruction at a breakpoint: not executed; cpu_run() returns CPU_EXIT_DEBUG. */
struct insn *h_debug_break(struct cpu *cpu, struct insn *i);
/* What cpu_run() returns after exec.yield: CPU_EXIT_DEBUG after h_debug_break, else
 * CPU_EXIT_BUDGET. */
int cpu_debug_yield_reason(struct cpu *cpu);
/* After the one-instruction path ran an instruction with dbg.step set: record the reason. */
void cpu_debug_step_done(struct cpu *cpu);
/* TLB fill: true when a watchpoint covers part of the linear page lpage. */
bool cpu_debug_page_watched(const struct cpu *cpu, uint32_t lpage);
/* Slow-path access of len bytes at lin to a watched page, before any byte is accessed. On a
 * hit inside an instruction it longjmps to cpu_run(), which re-executes the instruction with
 * checks off and then stops. */
void cpu_debug_check_watch(struct cpu *cpu, uint32_t lin, unsigned len, bool write);
/* cpu_run()'s fault handler: true when the longjmp was a watchpoint hit (re-execute, do not
 * deliver an exception). */
bool cpu_debug_watch_restart(struct cpu *cpu);

#endif

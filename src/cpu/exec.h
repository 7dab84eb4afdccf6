/* Private state of exec (decoder, trace cache, lazy flags), embedded in struct cpu.
 * Owned by exec. */
#ifndef PCVM_CPU_EXEC_H
#define PCVM_CPU_EXEC_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

#define EXEC_MAX_BREAKPOINTS 16

struct cpu_exec_state {
    /* Lazy arithmetic flags: the last flag-setting operation.  The flags in lf_mask are
     * computed from (lf_kind, lf_op1, lf_op2, lf_result); the others are in cpu->eflags. */
    uint32_t lf_result;
    uint32_t lf_op1;
    uint32_t lf_op2;
    uint32_t lf_kind;
    uint32_t lf_mask;
    /* CPUID.1 EDX features and the family, read once (exec_init) to #UD what the model lacks. */
    uint32_t features;
    uint32_t family;
    bool ready;            /* exec_init done */
    /* Debugger (gdb stub) breakpoints and single-step, by linear address. */
    uint32_t dbg_bp[EXEC_MAX_BREAKPOINTS];
    unsigned dbg_nbp;
    bool dbg_step;
    bool dbg_resume;       /* the first instruction after cpu_run() entry ignores dbg_bp */
    bool yield;            /* a long REP stopped part-way: return to the main loop */
    void *traces;          /* trace cache (exec's own layout, see exec_int.h) */
};

/* Allocate the trace cache and read the model's features (cpu_run does it on first use;
 * call it again after a model change or reset to re-read CPUID). */
void cpu_exec_init(struct cpu *cpu);
/* Free the trace cache. */
void cpu_exec_destroy(struct cpu *cpu);

/* Debugger breakpoint at a linear address: cpu_run() returns CPU_EXIT_DEBUG before executing
 * it (except as the very first instruction of a cpu_run() call, so execution can resume).
 * Return 0, or -1 when the table is full / the breakpoint is unknown. */
int cpu_exec_breakpoint_insert(struct cpu *cpu, uint32_t linear);
int cpu_exec_breakpoint_remove(struct cpu *cpu, uint32_t linear);
/* Debugger single-step: cpu_run() returns CPU_EXIT_DEBUG after each instruction. */
void cpu_exec_set_single_step(struct cpu *cpu, bool on);

#endif

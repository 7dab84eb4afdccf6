/* Private state of exec (decoder, trace cache, lazy flags), embedded in struct cpu.
 * Owned by exec. */
#ifndef PCVM_CPU_EXEC_H
#define PCVM_CPU_EXEC_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

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
    /* 1 << enum opcode_ext for each extension feature the model advertises (POPCNT...). */
    uint32_t ext_features;
    bool ready;            /* exec_init done */
    bool yield;            /* a long REP stopped part-way: return to the main loop */
    void *traces;          /* trace cache (exec's own layout, see exec_int.h) */
    /* JIT (cpu/jit.c): compile a trace on its Nth execution (1: at once); 0 = interpreter only. */
    int jit_threshold;
    void *jit;             /* the code cache (jit.c's own layout) */
    uint64_t insn_target;  /* cpu_run's instruction budget end, read by compiled traces */
    /* Debugging aid (PCVM_DEBUG_TLB set): check the TLB against the page tables on every
     * entry to user mode (last_cpl: the CPL the run loop last saw). */
    bool debug_tlb;
    uint8_t last_cpl;
};

/* Allocate the trace cache and read the model's features (cpu_run does it on first use;
 * call it again after a model change or reset to re-read CPUID). */
void cpu_exec_init(struct cpu *cpu);
/* Free the trace cache. */
void cpu_exec_destroy(struct cpu *cpu);


#endif

/* The JIT: hot traces compiled to x86-64 host code behind the trace's handler pointer
 * (exec private; see docs/ARCHITECTURE.md, "The JIT").
 *
 * A stored trace's first instruction gets the JIT's counting handler; on the trace's
 * jit_threshold-th execution the trace is compiled and insns[0].fn becomes the compiled code,
 * which has the handler signature and runs the whole trace (returning the next instruction
 * to run, like a handler).  The trace keeps its decoded instructions: compiled code calls
 * their handlers for everything it does not inline, and invalidation (insns[k].fn = h_stale)
 * unhooks it the same way it stops interpreted traces. */
#ifndef PCVM_CPU_JIT_H
#define PCVM_CPU_JIT_H

#include <stdint.h>

#include "cpu/decode.h"
#include "cpu/exec_int.h"

/* Executions before a trace is compiled (-accel tcg,jit=on). */
#define JIT_DEFAULT_THRESHOLD 32

/* Counters for the report (and -d jit style diagnostics). */
struct jit_stats {
    uint64_t traces;       /* traces compiled */
    uint64_t code_bytes;   /* host code emitted in total */
    uint64_t compile_ns;   /* time spent compiling */
    uint64_t flushes;      /* times the code cache filled up and was emptied */
    uint64_t cache_size;   /* bytes of code cache */
    uint64_t links;        /* exits patched to jump straight into another compiled trace */
};

/* A trace was stored in the trace cache: route its first instruction through the JIT. */
void jit_trace_stored(struct cpu *cpu, struct trace *t);
/* Every trace was dropped: the code cache may be refilled from the start. Safe while a
 * compiled trace is running (its code is only overwritten by a later compile, and compiles
 * happen only from the run loop). */
void jit_flush(struct cpu *cpu);
/* Free the code cache (prints the statistics when PCVM_JIT_STATS is set). */
void jit_destroy(struct cpu *cpu);
/* The statistics so far (zeros when the JIT never ran). */
void jit_get_stats(const struct cpu *cpu, struct jit_stats *out);

/* The handler that runs instruction i of t alone (single-step, breakpoints, the interrupt
 * shadow): the first instruction's own handler when the JIT hooked it. */
static inline insn_fn jit_single_fn(const struct trace *t, const struct insn *i)
{
    if (i == &t->insns[0] && t->entry_fn && i->fn != h_stale)
        return t->entry_fn;
    return i->fn;
}

#endif

/* Test environment for the fpu unit tests: a hand-made struct cpu over a flat guest memory,
 * with minimal stand-ins for the sys/exec functions fpu calls (memory access, exceptions,
 * CPUID, EFLAGS). Included by exactly one test program each. */
#ifndef PCVM_TEST_FPU_ENV_H
#define PCVM_TEST_FPU_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"

#define TEST_MEM_SIZE 0x10000u

struct test_env {
    uint8_t mem[TEST_MEM_SIZE];
    int last_vector;       /* -1 when no exception */
    int ferr_level, ferr_calls;
    uint32_t cpuid_edx, cpuid_ecx;
};

/* The environment hangs off the board's opaque pointer. */
static struct test_env *env_of(struct cpu *cpu) { return cpu->board.opaque; }

static uint8_t *mem_at(struct cpu *cpu, int seg, uint32_t off, unsigned len)
{
    uint32_t lin = cpu->seg[seg].base + off;
    if (lin > TEST_MEM_SIZE - len || off + (uint64_t)len - 1 > cpu->seg[seg].limit)
        cpu_exception(cpu, EXC_GP, 0);
    return env_of(cpu)->mem + lin;
}

_Noreturn void cpu_exception(struct cpu *cpu, int vector, uint32_t error_code)
{
    (void)error_code;
    env_of(cpu)->last_vector = vector;
    longjmp(cpu->fault_env, 1);
}

/* mmu.h's inline fast paths fall back to these when the segment window is empty, which
 * make_cpu arranges, so every access lands in the flat test memory. */
uint32_t mmu_read_slow(struct cpu *cpu, int seg, uint32_t o, unsigned size)
{
    uint32_t v = 0;
    memcpy(&v, mem_at(cpu, seg, o, size), size);
    return v;
}
void mmu_write_slow(struct cpu *cpu, int seg, uint32_t o, unsigned size, uint32_t v)
{
    memcpy(mem_at(cpu, seg, o, size), &v, size);
}
uint64_t cpu_read64(struct cpu *cpu, int seg, uint32_t o)
{ uint64_t v; memcpy(&v, mem_at(cpu, seg, o, 8), 8); return v; }
void cpu_write64(struct cpu *cpu, int seg, uint32_t o, uint64_t v) { memcpy(mem_at(cpu, seg, o, 8), &v, 8); }
void cpu_read_bytes(struct cpu *cpu, int seg, uint32_t o, void *buf, unsigned len)
{ memcpy(buf, mem_at(cpu, seg, o, len), len); }
void cpu_write_bytes(struct cpu *cpu, int seg, uint32_t o, const void *buf, unsigned len)
{ memcpy(mem_at(cpu, seg, o, len), buf, len); }
void cpu_check_write(struct cpu *cpu, int seg, uint32_t o, unsigned len) { (void)mem_at(cpu, seg, o, len); }

void cpu_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)subleaf;
    out[0] = out[1] = out[2] = out[3] = 0;
    if (leaf == 1) {
        out[2] = env_of(cpu)->cpuid_ecx;
        out[3] = env_of(cpu)->cpuid_edx;
    }
}

uint32_t cpu_get_eflags(struct cpu *cpu) { return cpu->eflags; }
void cpu_set_eflags(struct cpu *cpu, uint32_t value, uint32_t mask)
{
    cpu->eflags = (cpu->eflags & ~mask) | (value & mask);
}

static void ferr_cb(void *opaque, struct cpu *cpu, int level)
{
    (void)cpu;
    struct test_env *e = opaque;
    e->ferr_level = level;
    e->ferr_calls++;
}

/* CPUID feature sets. */
#define FEAT_EDX_P3 ((1u << 0) | (1u << 15) | (1u << 23) | (1u << 24) | (1u << 25))
#define FEAT_EDX_P4 (FEAT_EDX_P3 | (1u << 26))
#define FEAT_ECX_SSE3 1u

/* A 32-bit protected-mode CPU with flat DS/CS, FPU on, SSE enabled by the OS. */
static inline struct cpu *make_cpu(uint32_t edx, uint32_t ecx)
{
    struct cpu *cpu = calloc(1, sizeof(*cpu));
    struct test_env *e = calloc(1, sizeof(*e));
    e->last_vector = -1;
    e->cpuid_edx = edx;
    e->cpuid_ecx = ecx;
    for (int s = 0; s < SEG_COUNT; s++) {
        cpu->seg[s].base = 0;
        cpu->seg[s].limit = 0xffffffff;
        cpu->seg[s].sel = (uint16_t)(s == SEG_CS ? 0x08 : 0x10);
        cpu->sys.segw[s].rd_min = cpu->sys.segw[s].wr_min = 1; /* empty: always slow path */
    }
    cpu->pe = true;
    cpu->code32 = true;
    cpu->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_MP;
    cpu->cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu->eflags = 2;
    cpu->board.opaque = e;
    cpu->board.ferr = ferr_cb;
    fpu_reset(cpu);
    return cpu;
}

static inline void free_cpu(struct cpu *cpu)
{
    free(env_of(cpu));
    free(cpu);
}

/* Run an x87 escape with operand size op32; returns the exception vector raised, or -1. */
static inline int run_fpu_sz(struct cpu *cpu, uint8_t opcode, uint8_t modrm, uint32_t ea, bool op32)
{
    env_of(cpu)->last_vector = -1;
    if (setjmp(cpu->fault_env))
        return env_of(cpu)->last_vector;
    cpu_fpu_op(cpu, opcode, modrm, modrm < 0xc0 ? SEG_DS : -1, ea, op32);
    return -1;
}

static inline int run_fpu(struct cpu *cpu, uint8_t opcode, uint8_t modrm, uint32_t ea)
{
    return run_fpu_sz(cpu, opcode, modrm, ea, true);
}

/* FXSAVE (save = true) or FXRSTOR at DS:ea; returns the exception vector or -1. */
static inline int run_fx(struct cpu *cpu, bool save, uint32_t ea)
{
    env_of(cpu)->last_vector = -1;
    if (setjmp(cpu->fault_env))
        return env_of(cpu)->last_vector;
    if (save)
        fpu_fxsave(cpu, SEG_DS, ea);
    else
        fpu_fxrstor(cpu, SEG_DS, ea);
    return -1;
}

static inline int run_wait(struct cpu *cpu)
{
    env_of(cpu)->last_vector = -1;
    if (setjmp(cpu->fault_env))
        return env_of(cpu)->last_vector;
    cpu_fpu_wait(cpu);
    return -1;
}

#endif

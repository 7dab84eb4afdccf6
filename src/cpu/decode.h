/* Pre-decoded instructions and traces (exec private).
 *
 * A trace is a run of decoded instructions starting at one physical address, up to an
 * unconditional control transfer, a mode-changing instruction or the end of the page.  It is
 * keyed by physical address and the mode bits that change decoding (code32) or that handlers
 * are specialised on (stack32).  Execution is threaded: i = i->fn(cpu, i).  A handler
 * returns i + 1 to continue, another trace's first instruction to chain, or NULL to go back
 * to the run loop (which looks the next trace up from CS:EIP). */
#ifndef PCVM_CPU_DECODE_H
#define PCVM_CPU_DECODE_H

#include "cpu/cpu.h"

struct insn;
typedef struct insn *(*insn_fn)(struct cpu *cpu, struct insn *i);

/* insn.pfx bits. */
enum {
    P_OP32 = 1u << 0,   /* 32-bit operand size */
    P_A32 = 1u << 1,    /* 32-bit address size */
    P_REP = 1u << 2,    /* F3 */
    P_REPNE = 1u << 3,  /* F2 */
    P_LOCK = 1u << 4,
    P_MEM = 1u << 5,    /* ModRM names memory */
    P_SEGOVR = 1u << 6, /* segment override present */
};
#define NOREG 8

struct insn {
    insn_fn fn;
    struct insn *chain;   /* cached successor for a taken direct branch (same page) */
    uint32_t disp;        /* displacement, or branch target offset (relative) */
    uint32_t imm;
    uint32_t imm2;        /* far pointer selector, ENTER level, second immediate */
    uint32_t paddr;       /* physical address of the first byte */
    uint8_t len;
    uint8_t map;          /* 0: one-byte map, 1: 0F map */
    uint8_t op;
    uint8_t modrm;
    uint8_t reg;          /* ModRM.reg (or the register in the opcode's low bits) */
    uint8_t rm;           /* ModRM.rm: register number for register forms */
    uint8_t seg;          /* segment of the memory operand */
    uint8_t base, index, scale;  /* address registers (NOREG when absent) */
    uint8_t pfx;          /* P_* */
    uint8_t simd_pfx;     /* last of 66/F2/F3 (mandatory prefix for SIMD) */
    uint8_t nochain;      /* trace is not cached: never chain into it */
    uint8_t ea_base;      /* 32-bit address [base + disp] (no index): the common form */
    uint8_t vex;          /* VEX_* bits: a VEX-encoded instruction (C4/C5 in protected mode) */
    uint8_t vvvv;         /* VEX.vvvv (un-inverted; bit 3 is ignored in 32-bit code) */
};

/* insn.vex bits. */
enum {
    VEX_ON = 1u << 0,     /* VEX-encoded: map/op from the prefix, vvvv, pp in VEX_PP */
    VEX_W = 1u << 1,
    VEX_L = 1u << 2,
    VEX_PP_SHIFT = 3,     /* pp: 0 none, 1 66, 2 F3, 3 F2 */
    VEX_BAD = 1u << 5,    /* #UD: after a 66/F2/F3/LOCK prefix, or a reserved map */
};

#define TRACE_MAX_INSNS 48

struct trace {
    struct trace *hash_next;
    struct trace *page_next[2];  /* per-page lists for invalidation */
    uint32_t paddr;
    uint32_t page[2];            /* physical pages covered (page[1] == page[0] if one) */
    uint16_t mode;
    uint16_t bytes;
    uint16_t ninsn;
    bool valid;
    /* JIT (jit.c): insns[0].fn is the JIT's while entry_fn is set. */
    insn_fn entry_fn;            /* the first instruction's own handler */
    uint32_t hits;               /* executions counted towards compiling */
    struct insn insns[TRACE_MAX_INSNS + 1];  /* + the end marker */
};

/* Mode bits in the trace key. */
static inline uint16_t trace_mode(const struct cpu *cpu)
{
    return (uint16_t)((cpu->code32 ? 1 : 0) | (cpu->stack32 ? 2 : 0));
}

/* Decode one instruction from bytes (avail valid bytes) into i; returns its length, or 0
 * when it needs more than avail bytes, or -1 when longer than 15 bytes (#GP). */
int decode_insn(struct cpu *cpu, const uint8_t *bytes, unsigned avail, bool code32, struct insn *i);

/* Choose the handler for a decoded instruction (sets i->fn). */
void decode_select_handler(struct cpu *cpu, struct insn *i);

#endif

/* A small x86-64 machine-code emitter for the JIT (exec private).
 *
 * Only the forms the code generator needs: integer moves and ALU operations between host
 * registers, immediates and [base + index*scale + disp32] memory operands, conditional and
 * unconditional rel32 jumps, calls through a register (shortest displacement and immediate
 * encodings, to keep the code small).  Registers are host numbers 0-15
 * (HR_*); byte operations only ever name host registers 0-3, so no REX-byte-register
 * subtleties arise.  Writing past the end of the buffer sets `overflow` and writes nothing. */
#ifndef PCVM_CPU_JIT_EMIT_H
#define PCVM_CPU_JIT_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    HR_RAX, HR_RCX, HR_RDX, HR_RBX, HR_RSP, HR_RBP, HR_RSI, HR_RDI,
    HR_R8, HR_R9, HR_R10, HR_R11, HR_R12, HR_R13, HR_R14, HR_R15,
};
#define HR_NONE (-1)

struct jit_buf {
    uint8_t *start;   /* where the code is written (the writable view) */
    uint8_t *p;
    uint8_t *end;
    bool overflow;
};

/* A memory operand [base + index * (1 << scale) + disp]. */
struct jit_mem {
    int base, index;
    unsigned scale;
    int32_t disp;
};

static inline struct jit_mem jm(int base, int32_t disp)
{
    return (struct jit_mem){ base, HR_NONE, 0, disp };
}

static inline void jb_byte(struct jit_buf *b, uint8_t v)
{
    if (b->p < b->end)
        *b->p++ = v;
    else
        b->overflow = true;
}

static inline void jb_u32(struct jit_buf *b, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        jb_byte(b, (uint8_t)(v >> (8 * k)));
}

static inline void jb_u64(struct jit_buf *b, uint64_t v)
{
    jb_u32(b, (uint32_t)v);
    jb_u32(b, (uint32_t)(v >> 32));
}

/* Operand size of an instruction: 1, 2, 4 or 8 bytes. */
static inline void jb_prefix(struct jit_buf *b, unsigned size, int reg, int base, int index)
{
    if (size == 2)
        jb_byte(b, 0x66);
    uint8_t rex = 0x40 | (size == 8 ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index >= 0 && (index & 8)) ? 2 : 0) |
                  ((base >= 0 && (base & 8)) ? 1 : 0);
    if (rex != 0x40)
        jb_byte(b, rex);
}

static inline void jb_opcode(struct jit_buf *b, unsigned op)
{
    if (op > 0xff)
        jb_byte(b, (uint8_t)(op >> 8));
    jb_byte(b, (uint8_t)op);
}

/* ModRM (+SIB) and the shortest displacement for reg field `reg` and memory operand m:
 * none for 0 (except with an RBP/R13 base), 8 bits when it fits, else 32 bits. */
static inline void jb_modrm_mem(struct jit_buf *b, int reg, struct jit_mem m)
{
    unsigned mod = m.disp == 0 && (m.base & 7) != HR_RBP ? 0x00 : m.disp >= -128 && m.disp <= 127 ? 0x40 : 0x80;
    if (m.index < 0 && (m.base & 7) != HR_RSP) {
        jb_byte(b, (uint8_t)(mod | ((reg & 7) << 3) | (m.base & 7)));
    } else {
        jb_byte(b, (uint8_t)(mod | ((reg & 7) << 3) | 4));
        int idx = m.index < 0 ? 4 : m.index;
        jb_byte(b, (uint8_t)((m.scale << 6) | ((idx & 7) << 3) | (m.base & 7)));
    }
    if (mod == 0x40)
        jb_byte(b, (uint8_t)m.disp);
    else if (mod == 0x80)
        jb_u32(b, (uint32_t)m.disp);
}

/* op reg, [m]  /  op [m], reg  (the opcode decides the direction). */
static inline void e_rm(struct jit_buf *b, unsigned size, unsigned op, int reg, struct jit_mem m)
{
    jb_prefix(b, size, reg, m.base, m.index);
    jb_opcode(b, op);
    jb_modrm_mem(b, reg, m);
}

/* op rm_reg, reg (register-direct ModRM). */
static inline void e_rr(struct jit_buf *b, unsigned size, unsigned op, int reg, int rm)
{
    jb_prefix(b, size, reg, rm, HR_NONE);
    jb_opcode(b, op);
    jb_byte(b, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7)));
}

static inline void jb_imm(struct jit_buf *b, unsigned size, uint32_t imm)
{
    if (size == 1)
        jb_byte(b, (uint8_t)imm);
    else if (size == 2) {
        jb_byte(b, (uint8_t)imm);
        jb_byte(b, (uint8_t)(imm >> 8));
    } else {
        jb_u32(b, imm);
    }
}

/* Loads and stores of `size` bytes (1, 2, 4, 8). Loads of 1 and 2 bytes zero-extend. */
static inline void e_load(struct jit_buf *b, unsigned size, int reg, struct jit_mem m)
{
    if (size == 1)
        e_rm(b, 4, 0x0fb6, reg, m);
    else if (size == 2)
        e_rm(b, 4, 0x0fb7, reg, m);
    else
        e_rm(b, size, 0x8b, reg, m);
}

static inline void e_store(struct jit_buf *b, unsigned size, struct jit_mem m, int reg)
{
    e_rm(b, size, size == 1 ? 0x88 : 0x89, reg, m);
}

/* mov size [m], imm (imm sign-extended for size 8). */
static inline void e_store_imm(struct jit_buf *b, unsigned size, struct jit_mem m, uint32_t imm)
{
    e_rm(b, size, size == 1 ? 0xc6 : 0xc7, 0, m);
    jb_imm(b, size == 8 ? 4 : size, imm);
}

/* mov reg32, imm32 (zero-extends) and mov reg64, imm64. */
static inline void e_mov_imm32(struct jit_buf *b, int reg, uint32_t imm)
{
    if (reg & 8)
        jb_byte(b, 0x41);
    jb_byte(b, (uint8_t)(0xb8 | (reg & 7)));
    jb_u32(b, imm);
}

static inline void e_mov_imm64(struct jit_buf *b, int reg, uint64_t imm)
{
    jb_byte(b, (uint8_t)(0x48 | ((reg & 8) ? 1 : 0)));
    jb_byte(b, (uint8_t)(0xb8 | (reg & 7)));
    jb_u64(b, imm);
}

/* ALU operation numbers as in the x86 encoding (and as OP_* in exec_ops.h). */
enum { JA_ADD, JA_OR, JA_ADC, JA_SBB, JA_AND, JA_SUB, JA_XOR, JA_CMP };

/* alu size rm_reg, reg. */
static inline void e_alu_rr(struct jit_buf *b, unsigned size, unsigned alu, int rm, int reg)
{
    e_rr(b, size, (alu << 3) | (size == 1 ? 0 : 1), reg, rm);
}

/* alu size reg, [m]. */
static inline void e_alu_rm(struct jit_buf *b, unsigned size, unsigned alu, int reg, struct jit_mem m)
{
    e_rm(b, size, (alu << 3) | (size == 1 ? 2 : 3), reg, m);
}

/* alu size rm_reg, imm. */
static inline bool imm_fits8(unsigned size, uint32_t imm)
{
    /* The 83 form sign-extends its byte to the operand size. */
    int32_t v = size == 2 ? (int16_t)imm : (int32_t)imm;
    return size != 1 && v >= -128 && v <= 127;
}

static inline void e_alu_ri(struct jit_buf *b, unsigned size, unsigned alu, int rm, uint32_t imm)
{
    if (imm_fits8(size, imm)) {
        e_rr(b, size, 0x83, (int)alu, rm);
        jb_byte(b, (uint8_t)imm);
        return;
    }
    e_rr(b, size, size == 1 ? 0x80 : 0x81, (int)alu, rm);
    jb_imm(b, size == 8 ? 4 : size, imm);
}

/* alu size [m], imm. */
static inline void e_alu_mi(struct jit_buf *b, unsigned size, unsigned alu, struct jit_mem m, uint32_t imm)
{
    if (imm_fits8(size, imm)) {
        e_rm(b, size, 0x83, (int)alu, m);
        jb_byte(b, (uint8_t)imm);
        return;
    }
    e_rm(b, size, size == 1 ? 0x80 : 0x81, (int)alu, m);
    jb_imm(b, size == 8 ? 4 : size, imm);
}

/* test size rm_reg, reg. */
static inline void e_test_rr(struct jit_buf *b, unsigned size, int rm, int reg)
{
    e_rr(b, size, size == 1 ? 0x84 : 0x85, reg, rm);
}

/* lea reg, [m] (size 4: the 32-bit result, wrapped). */
static inline void e_lea(struct jit_buf *b, unsigned size, int reg, struct jit_mem m)
{
    e_rm(b, size, 0x8d, reg, m);
}

/* shr/shl reg32, imm8. */
static inline void e_shift_ri(struct jit_buf *b, unsigned size, unsigned ext, int rm, uint8_t count)
{
    e_rr(b, size, 0xc1, (int)ext, rm);
    jb_byte(b, count);
}

/* shl/shr/sar size [m], imm8 (ext: 4 SHL, 5 SHR, 7 SAR) and by CL. */
static inline void e_shift_mi(struct jit_buf *b, unsigned size, unsigned ext, struct jit_mem m, uint8_t count)
{
    e_rm(b, size, 0xc1, (int)ext, m);
    jb_byte(b, count);
}

static inline void e_shift_mcl(struct jit_buf *b, unsigned size, unsigned ext, struct jit_mem m)
{
    e_rm(b, size, 0xd3, (int)ext, m);
}

/* inc (ext 0) / dec (ext 1) of a register. */
static inline void e_incdec_r(struct jit_buf *b, unsigned size, unsigned ext, int rm)
{
    e_rr(b, size, size == 1 ? 0xfe : 0xff, (int)ext, rm);
}

/* imul reg32, [m] and imul reg32, [m], imm32. */
static inline void e_imul_rm(struct jit_buf *b, int reg, struct jit_mem m)
{
    e_rm(b, 4, 0x0faf, reg, m);
}

static inline void e_imul_rmi(struct jit_buf *b, int reg, struct jit_mem m, uint32_t imm)
{
    e_rm(b, 4, 0x69, reg, m);
    jb_u32(b, imm);
}

/* setcc reg8 (host registers 0-3 only). */
static inline void e_setcc(struct jit_buf *b, unsigned cc, int rm)
{
    e_rr(b, 4, 0x0f90 | cc, 0, rm);
}

/* imul reg32, rm_reg32, imm32. */
static inline void e_imul_rri(struct jit_buf *b, int reg, int rm, uint32_t imm)
{
    e_rr(b, 4, 0x69, reg, rm);
    jb_u32(b, imm);
}

static inline void e_push(struct jit_buf *b, int reg)
{
    if (reg & 8)
        jb_byte(b, 0x41);
    jb_byte(b, (uint8_t)(0x50 | (reg & 7)));
}

static inline void e_pop(struct jit_buf *b, int reg)
{
    if (reg & 8)
        jb_byte(b, 0x41);
    jb_byte(b, (uint8_t)(0x58 | (reg & 7)));
}

static inline void e_ret(struct jit_buf *b) { jb_byte(b, 0xc3); }

/* call/jmp through a register. */
static inline void e_call_reg(struct jit_buf *b, int reg) { e_rr(b, 4, 0xff, 2, reg); }
static inline void e_jmp_reg(struct jit_buf *b, int reg) { e_rr(b, 4, 0xff, 4, reg); }

/* Jumps with a rel32 to patch later: each returns the offset of the rel32 field, or -1. */
static inline long e_jcc32(struct jit_buf *b, unsigned cc)
{
    jb_byte(b, 0x0f);
    jb_byte(b, (uint8_t)(0x80 | cc));
    long at = b->p - b->start;
    jb_u32(b, 0);
    return b->overflow ? -1 : at;
}

static inline long e_jmp32(struct jit_buf *b)
{
    jb_byte(b, 0xe9);
    long at = b->p - b->start;
    jb_u32(b, 0);
    return b->overflow ? -1 : at;
}

/* Point the rel32 at offset `at` to buffer offset `target`. */
static inline void jb_patch(struct jit_buf *b, long at, long target)
{
    if (at < 0 || b->overflow)
        return;
    uint32_t rel = (uint32_t)(target - (at + 4));
    memcpy(b->start + at, &rel, 4);
}

static inline long jb_here(const struct jit_buf *b)
{
    return b->p - b->start;
}

/* Host condition codes (the same numbering as the guest's Jcc/SETcc). */
enum { CC_O, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A, CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_GE, CC_LE, CC_G };

#endif

/* 80-bit extended-precision arithmetic behind a narrow interface: every x87 computation of the
 * emulator goes through here. Each function behaves exactly like the x87 instruction it names
 * under the guest context cw (an f80_ctx: control word with precision, rounding and exception
 * masks, plus the status word before the operation), and returns the status-word bits the
 * instruction produces (exception flags, C0-C3). When an unmasked exception suppresses a
 * result, the outputs are left as they were, as on the chip.
 *
 * The x86 host implementation (float80_x87.c) runs the host's own x87 instructions, so it is
 * bit-exact with the host; a portable soft-float implementation can replace it later. */
#ifndef PCVM_CPU_FLOAT80_H
#define PCVM_CPU_FLOAT80_H

#include <stdbool.h>
#include <stdint.h>

/* One x87 register value: 64-bit significand (explicit integer bit), sign and 15-bit exponent.
 * The first 10 bytes have the memory layout of an m80 operand on little-endian hosts. */
typedef struct f80 {
    uint64_t mant;
    uint16_t se;  /* sign << 15 | biased exponent */
} f80;

/* The guest context of an operation: the control word in bits 0-15 and the status word before
 * the operation in bits 16-31. From the status word, the condition codes an instruction leaves
 * alone come back unchanged, and exception flags already set and masked need not be detected
 * again (their bits in a result may then be set whether or not the operation raised them).
 * A bare control word (status word 0) is a valid context. */
typedef uint32_t f80_ctx;
static inline f80_ctx f80_ctx_of(uint16_t cw, uint16_t sw) { return cw | (uint32_t)sw << 16; }

/* Status-word bits, at their x87 positions. */
enum {
    F80_IE = 0x0001, F80_DE = 0x0002, F80_ZE = 0x0004, F80_OE = 0x0008, F80_UE = 0x0010,
    F80_PE = 0x0020, F80_SF = 0x0040, F80_ES = 0x0080, F80_C0 = 0x0100, F80_C1 = 0x0200,
    F80_C2 = 0x0400, F80_C3 = 0x4000, F80_B = 0x8000,
    F80_EXC = 0x003f,
    F80_CC = F80_C0 | F80_C1 | F80_C2 | F80_C3,
};

/* Operand formats in memory (or an 80-bit register value for F80_X80). */
enum f80_kind { F80_X80, F80_M32, F80_M64, F80_I16, F80_I32, F80_I64 };

/* Arithmetic operations, numbered as the x87 ModRM reg field (D8 /r). */
enum f80_arith_op { F80_ADD = 0, F80_MUL = 1, F80_SUB = 4, F80_SUBR = 5, F80_DIV = 6, F80_DIVR = 7 };

/* Operations on the top of the stack (st[0] = ST(0), st[1] = ST(1)). */
enum f80_stack_op {
    F80_FSQRT, F80_FRNDINT, F80_FSIN, F80_FCOS, F80_F2XM1,    /* ST(0) = f(ST(0)) */
    F80_FSINCOS, F80_FPTAN, F80_FXTRACT,                       /* push a second result */
    F80_FSCALE, F80_FPREM, F80_FPREM1,                         /* ST(0) = f(ST(0), ST(1)) */
    F80_FPATAN, F80_FYL2X, F80_FYL2XP1,                        /* ST(1) = f(ST(1), ST(0)), pop */
    F80_FLD1, F80_FLDL2T, F80_FLDL2E, F80_FLDPI, F80_FLDLG2, F80_FLDLN2, F80_FLDZ, /* push */
};

/* Unless said otherwise, a function returns the exception flags the operation raised and C1 as
 * the instruction leaves it. */

/* *d = *d op s (s in format kind; for F80_X80 an f80). */
unsigned f80_arith(enum f80_arith_op op, f80_ctx cw, f80 *d, const void *s, enum f80_kind kind);
/* *d = *d op s for the DC/DE register forms, where d is ST(i) and s is ST(0). */
unsigned f80_arith_sti(enum f80_arith_op op, f80_ctx cw, f80 *d, const f80 *s);
/* FCOMP/FUCOMP of a with s: returns the exception flags and C0-C3 as the instruction leaves
 * them; *popped tells whether the chip would pop (false when an unmasked exception aborts the
 * instruction). */
unsigned f80_compare(f80_ctx cw, const f80 *a, const void *s, enum f80_kind kind, bool unordered,
                     bool *popped);
/* FTST: compare a with +0.0. Returns the exception flags and C0-C3. */
unsigned f80_test(f80_ctx cw, const f80 *a);
/* FLD m32/m64 and FILD: convert s to *out; *loaded is false (and *out unchanged) when an
 * unmasked exception aborts the load. Returns the exception flags only. */
unsigned f80_load(f80_ctx cw, const void *s, enum f80_kind kind, f80 *out, bool *loaded);
/* FST/FIST (truncate: FISTTP) of a into out (bytes of kind's size). *written tells whether
 * the chip would store (false on an unmasked exception). */
unsigned f80_store(f80_ctx cw, const f80 *a, void *out, enum f80_kind kind, bool truncate,
                   bool *written);
/* FBLD: packed BCD (10 bytes) to *out. Returns the exception flags only. */
unsigned f80_bcd_load(f80_ctx cw, const uint8_t bcd[10], f80 *out);
/* FBSTP: a to packed BCD. */
unsigned f80_bcd_store(f80_ctx cw, const f80 *a, uint8_t bcd[10], bool *written);
/* Run a stack operation. st[0..1] hold ST(0), ST(1) on entry (unused ones may be anything); on
 * return st[0..2] hold the new top of the stack and *delta the change of depth (+1 push, -1 pop,
 * 0 when the operation was suppressed or keeps the depth). Returns the exception flags and all
 * four condition codes as the instruction leaves them (the ones it leaves alone come from the
 * status word of the context). */
unsigned f80_stack(enum f80_stack_op op, f80_ctx cw, f80 st[3], int *delta);

/* Classification helpers (pure bit tests). */
static inline bool f80_is_zero(f80 a) { return (a.se & 0x7fff) == 0 && a.mant == 0; }
static inline bool f80_is_special(f80 a)
{
    /* Tag "special": NaN, infinity, denormal, pseudo-denormal, unnormal. */
    unsigned e = a.se & 0x7fff;
    if (e == 0x7fff) return true;
    if (e == 0) return a.mant != 0;
    return !(a.mant >> 63);
}
/* The QNaN "real indefinite". */
static inline f80 f80_indefinite(void) { return (f80){ 0xc000000000000000ull, 0xffff }; }

#endif

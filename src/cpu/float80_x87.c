/* float80.h on an x86 host: each operation runs the host's own x87 instruction under the guest
 * control word, so results, flags and even unmasked-exception responses are the chip's. The
 * common cases that raise nothing (exact loads and stores, comparisons of ordinary values) are
 * done in C.
 *
 * Every run is one asm block (X87_FAST_ASM or X87_EXACT_ASM, below). */
#include <stddef.h>
#include <string.h>

#include "cpu/float80.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "float80_x87.c needs an x86 host; a portable soft-float backend is still to be written"
#endif

/* The 28-byte FLDENV image (32-bit format); only cw, sw and tw matter here. */
struct x87_env {
    uint32_t cw, sw, tw, fip, fcs, fdp, fds;
};

/* Operands and results of one host x87 run. */
struct x87_frame {
    f80 in0, in1;          /* ST(0), ST(1) at the start */
    f80 out[3];            /* ST(0..2) at the end */
    uint8_t msrc[16];      /* memory source operand */
    uint8_t mdst[16];      /* memory destination operand */
    struct x87_env env;    /* the exact run's starting state */
    uint16_t cw, care, masked, saved, sw0, sw1;
    uint16_t guest_sw;     /* the guest status word before the operation */
    bool exact;            /* the result comes from the exact run */
    int delta;             /* change of stack depth */
};

/* Two ways to run an instruction on the host x87.
 *
 * The fast run: clear the host's exception flags only when some flag the guest needs to see is
 * set (FNCLEX is slow; flags the guest already has set and masked may stay), the guest control
 * word, LOADS, the instruction, the status word, FNCLEX only when an unmasked exception set ES
 * (so no later waiting instruction traps), then STORES pops exactly the values left when no
 * unmasked exception occurred, with everything masked, and the host control word comes back.
 * Its condition codes are exact only for the bits the instruction always writes.
 *
 * The exact run (unmasked exceptions, and instructions whose condition codes depend on the
 * case): FLDENV with the guest control word and condition codes, an empty stack and clear
 * flags; load ST(1) and ST(0), status word (for the depth change), the instruction, status
 * word, then store three values (popping every register the run can have filled; popping empty
 * ones only sets masked host flags, which a later fast run clears when it matters). FLDENV also
 * empties whatever a fast run interrupted by an unmasked exception left on the host stack.
 *
 * The x86-64 ABI keeps the host x87 stack empty at calls, so a run owns the whole stack. */
#define X87_CLOBBERS                                                                          \
    "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "memory", "cc"
/* The frame is addressed through one base register (few free registers at -O0 otherwise). */
#define FRAME_OPERANDS(F)                                                                     \
    [fr] "r"(&(F)), [o_in0] "i"(offsetof(struct x87_frame, in0)),                             \
    [o_in1] "i"(offsetof(struct x87_frame, in1)),                                             \
    [o_o0] "i"(offsetof(struct x87_frame, out[0])),                                           \
    [o_o1] "i"(offsetof(struct x87_frame, out[1])),                                           \
    [o_o2] "i"(offsetof(struct x87_frame, out[2])),                                           \
    [o_ms] "i"(offsetof(struct x87_frame, msrc)), [o_md] "i"(offsetof(struct x87_frame, mdst)), \
    [o_env] "i"(offsetof(struct x87_frame, env)), [o_cw] "i"(offsetof(struct x87_frame, cw)),   \
    [o_masked] "i"(offsetof(struct x87_frame, masked)),                                       \
    [o_saved] "i"(offsetof(struct x87_frame, saved)),                                         \
    [o_sw0] "i"(offsetof(struct x87_frame, sw0)), [o_sw1] "i"(offsetof(struct x87_frame, sw1))
#define FR(FIELD) "%c[o_" #FIELD "](%[fr])"
#define MS FR(ms) /* the memory source operand, in instruction text */
#define MD FR(md) /* the memory destination operand */

#define X87_FAST_ASM(F, LOADS, INSN, STORES)                                                  \
    __asm__ volatile("fnstcw " FR(saved) "\n\t"                                               \
                     "fnstsw %%ax\n\t"                                                        \
                     "testw %[care], %%ax\n\t"                                                \
                     "jz 1f\n\t"                                                              \
                     "fnclex\n"                                                               \
                     "1:\n\t"                                                                 \
                     "fldcw " FR(cw) "\n\t" LOADS INSN "\n\t"                                 \
                     "fnstsw " FR(sw1) "\n\t"                                                 \
                     "testb $0x80, " FR(sw1) "\n\t"                                           \
                     "jz 2f\n\t"                                                              \
                     "fnclex\n"                                                               \
                     "2:\n\t"                                                                 \
                     "fldcw " FR(masked) "\n\t" STORES                                        \
                     "fldcw " FR(saved)                                                       \
                     :                                                                        \
                     : FRAME_OPERANDS(F), [care] "r"((F).care)                                \
                     : "ax", X87_CLOBBERS)

#define X87_EXACT_ASM(F, INSN)                                                                \
    __asm__ volatile("fnstcw " FR(saved) "\n\t"                                               \
                     "fldenv " FR(env) "\n\t"                                                 \
                     "fldt " FR(in1) "\n\t"                                                   \
                     "fldt " FR(in0) "\n\t"                                                   \
                     "fnstsw " FR(sw0) "\n\t" INSN "\n\t"                                     \
                     "fnstsw " FR(sw1) "\n\t"                                                 \
                     "testb $0x80, " FR(sw1) "\n\t"                                           \
                     "jz 1f\n\t"                                                              \
                     "fnclex\n"                                                               \
                     "1:\n\t"                                                                 \
                     "fldcw " FR(masked) "\n\t"                                               \
                     "fstpt " FR(o0) "\n\t"                                                   \
                     "fstpt " FR(o1) "\n\t"                                                   \
                     "fstpt " FR(o2) "\n\t"                                                   \
                     "fldcw " FR(saved)                                                       \
                     :                                                                        \
                     : FRAME_OPERANDS(F)                                                      \
                     : X87_CLOBBERS)

/* What a fast run loads and pops. */
#define LOAD_NONE ""
#define LOAD_0 "fldt " FR(in0) "\n\t"
#define LOAD_10 "fldt " FR(in1) "\n\tfldt " FR(in0) "\n\t"
#define POP_NONE ""
#define POP_DROP "fstp %%st(0)\n\t"
#define POP_0 "fstpt " FR(o0) "\n\t"
#define POP_0_DROP "fstpt " FR(o0) "\n\tfstp %%st(0)\n\t"
#define POP_01 "fstpt " FR(o0) "\n\tfstpt " FR(o1) "\n\t"

/* The exact run, alone. */
#define X87_EXACT(F, INSN)                                                                    \
    do {                                                                                      \
        frame_env(&(F));                                                                      \
        X87_EXACT_ASM(F, INSN);                                                               \
        (F).delta = frame_delta(&(F));                                                        \
        (F).exact = true;                                                                     \
    } while (0)

/* The fast run, whose depth change is DELTA unless an unmasked exception intervenes; then
 * (rarely) the exact run. */
#define X87_RUN(F, LOADS, INSN, POPS, DELTA)                                                  \
    do {                                                                                      \
        X87_FAST_ASM(F, LOADS, INSN, POPS);                                                   \
        (F).delta = (DELTA);                                                                  \
        if ((F).sw1 & F80_ES)                                                                 \
            X87_EXACT(F, INSN);                                                               \
    } while (0)

static void frame_init(struct x87_frame *f, f80_ctx ctx)
{
    f->cw = (uint16_t)ctx;
    f->guest_sw = (uint16_t)(ctx >> 16);
    /* Flags the guest has set and masked need not be detected again. */
    f->care = F80_EXC & (uint16_t)~(f->guest_sw & f->cw);
    f->masked = 0x037f;
    f->in0 = f->in1 = (f80){ 0, 0 };
    f->exact = false;
    f->delta = 0;
    f->sw0 = f->sw1 = 0;
}

/* Before an exact run: its FLDENV image (guest control word and condition codes, no flags,
 * TOP = 0, every register empty). */
static void frame_env(struct x87_frame *f)
{
    f->env = (struct x87_env){ .cw = f->cw, .sw = f->guest_sw & F80_CC, .tw = 0xffff };
}

/* Depth change from TOP before and after (TOP decreases on a push). */
static int frame_delta(const struct x87_frame *f)
{
    int d = (((f->sw0 >> 11) - (f->sw1 >> 11)) & 7);
    return d >= 4 ? d - 8 : d;
}

/* Exception flags and the condition codes in cc. The exact run has them all; after a fast run
 * the condition codes outside written (those the instruction writes whenever it completes
 * without an unmasked exception) are the guest's. */
static unsigned frame_status(const struct x87_frame *f, unsigned cc, unsigned written)
{
    if (f->exact)
        return f->sw1 & (F80_EXC | cc);
    return (f->sw1 & (F80_EXC | (cc & written))) | (f->guest_sw & cc & ~written);
}

static unsigned kind_size(enum f80_kind kind)
{
    switch (kind) {
    case F80_M32: case F80_I32: return 4;
    case F80_M64: case F80_I64: return 8;
    case F80_I16: return 2;
    case F80_X80: return 10;
    }
    return 0;
}

/* Would the chip write a memory result? Not when an unmasked exception other than PE occurs. */
static bool store_allowed(uint16_t cw, unsigned st)
{
    return !(st & ~cw & (F80_EXC & ~F80_PE));
}

#define ARITH_MEM(F, OP, P, S)                                                                \
    switch (OP) {                                                                             \
    case F80_ADD: X87_RUN(F, LOAD_0, P "add" S " " MS, POP_0, 0); break;                   \
    case F80_MUL: X87_RUN(F, LOAD_0, P "mul" S " " MS, POP_0, 0); break;                   \
    case F80_SUB: X87_RUN(F, LOAD_0, P "sub" S " " MS, POP_0, 0); break;                   \
    case F80_SUBR: X87_RUN(F, LOAD_0, P "subr" S " " MS, POP_0, 0); break;                 \
    case F80_DIV: X87_RUN(F, LOAD_0, P "div" S " " MS, POP_0, 0); break;                   \
    case F80_DIVR: X87_RUN(F, LOAD_0, P "divr" S " " MS, POP_0, 0); break;                 \
    }

/* ST(0) = ST(0) op ST(1) (D8 C0+1 ..). */
#define ARITH_REG(F, OP, B0, B1, POPS)                                                        \
    switch (OP) {                                                                             \
    case F80_ADD: X87_RUN(F, LOAD_10, ".byte " B0 ", " B1 "+0x00", POPS, 0); break;          \
    case F80_MUL: X87_RUN(F, LOAD_10, ".byte " B0 ", " B1 "+0x08", POPS, 0); break;          \
    case F80_SUB: X87_RUN(F, LOAD_10, ".byte " B0 ", " B1 "+0x20", POPS, 0); break;          \
    case F80_SUBR: X87_RUN(F, LOAD_10, ".byte " B0 ", " B1 "+0x28", POPS, 0); break;         \
    case F80_DIV: X87_RUN(F, LOAD_10, ".byte " B0 ", " B1 "+0x30", POPS, 0); break;          \
    case F80_DIVR: X87_RUN(F, LOAD_10, ".byte " B0 ", " B1 "+0x38", POPS, 0); break;         \
    }

unsigned f80_arith(enum f80_arith_op op, f80_ctx cw, f80 *d, const void *s, enum f80_kind kind)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *d;
    switch (kind) {
    case F80_X80:
        memcpy(&f.in1, s, sizeof(f80));
        ARITH_REG(f, op, "0xd8", "0xc1", POP_0_DROP);
        break;
    case F80_M32:
        memcpy(f.msrc, s, 4);
        ARITH_MEM(f, op, "f", "s");
        break;
    case F80_M64:
        memcpy(f.msrc, s, 8);
        ARITH_MEM(f, op, "f", "l");
        break;
    case F80_I16:
        memcpy(f.msrc, s, 2);
        ARITH_MEM(f, op, "fi", "s");
        break;
    case F80_I32:
        memcpy(f.msrc, s, 4);
        ARITH_MEM(f, op, "fi", "l");
        break;
    case F80_I64:
        return 0; /* no such x87 form */
    }
    *d = f.out[0];
    return frame_status(&f, F80_C1, F80_C1);
}

unsigned f80_arith_sti(enum f80_arith_op op, f80_ctx cw, f80 *d, const f80 *s)
{
    /* DC C0+1 ..: ST(1) = ST(1) op ST(0), with ST(1) = d and ST(0) = s. The DC encoding names
     * SUB and SUBR (and DIV, DIVR) the other way round: reg 4 is ST(i) = ST(0) - ST(i). */
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *s;
    f.in1 = *d;
    switch (op) {
    case F80_ADD: X87_RUN(f, LOAD_10, ".byte 0xdc, 0xc1", POP_01, 0); break;
    case F80_MUL: X87_RUN(f, LOAD_10, ".byte 0xdc, 0xc9", POP_01, 0); break;
    case F80_SUBR: X87_RUN(f, LOAD_10, ".byte 0xdc, 0xe1", POP_01, 0); break;
    case F80_SUB: X87_RUN(f, LOAD_10, ".byte 0xdc, 0xe9", POP_01, 0); break;
    case F80_DIVR: X87_RUN(f, LOAD_10, ".byte 0xdc, 0xf1", POP_01, 0); break;
    case F80_DIV: X87_RUN(f, LOAD_10, ".byte 0xdc, 0xf9", POP_01, 0); break;
    }
    *d = f.out[1];
    return frame_status(&f, F80_C1, F80_C1);
}

/* The class of a register value for comparisons done in C: finite nonzero numbers the chip
 * compares without any exception (normals), zeros and infinities; anything else goes to the
 * host (NaNs, denormals, unsupported formats). */
static bool plain(const f80 *a)
{
    unsigned e = a->se & 0x7fff;
    if (e == 0)
        return a->mant == 0;
    if (e == 0x7fff)
        return a->mant == 1ull << 63;
    return a->mant >> 63;
}

/* C3/C2/C0 of comparing two plain values (equal: C3; less: C0; greater: none). */
static unsigned compare_plain(const f80 *a, const f80 *b)
{
    bool za = (a->se & 0x7fff) == 0, zb = (b->se & 0x7fff) == 0;
    if (za && zb)
        return F80_C3;
    int sa = a->se >> 15, sb = b->se >> 15;
    if (za) sa = !sb; /* 0 versus b: the sign of b decides */
    if (zb) sb = !sa;
    if (sa != sb)
        return sa ? F80_C0 : 0;
    unsigned ea = a->se & 0x7fff, eb = b->se & 0x7fff;
    if (ea == eb && a->mant == b->mant)
        return F80_C3;
    bool mag_less = ea != eb ? ea < eb : a->mant < b->mant;
    return mag_less != (bool)sa ? F80_C0 : 0;
}

static bool load_fast(const void *s, enum f80_kind kind, f80 *out);

unsigned f80_compare(f80_ctx cw, const f80 *a, const void *s, enum f80_kind kind, bool unordered,
                     bool *popped)
{
    /* Plain operands: no exception, C1 = 0. */
    if (plain(a)) {
        f80 b;
        bool have = false;
        if (kind == F80_X80) {
            memcpy(&b, s, sizeof(f80));
            have = plain(&b);
        } else if (kind != F80_I64) {
            have = load_fast(s, kind, &b);
        }
        if (have) {
            *popped = true;
            return compare_plain(a, &b);
        }
    }
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    switch (kind) {
    case F80_X80:
        memcpy(&f.in1, s, sizeof(f80));
        if (unordered)
            X87_RUN(f, LOAD_10, ".byte 0xdd, 0xe9", POP_DROP, -1); /* FUCOMP ST(1) */
        else
            X87_RUN(f, LOAD_10, ".byte 0xd8, 0xd9", POP_DROP, -1); /* FCOMP ST(1) */
        break;
    case F80_M32: memcpy(f.msrc, s, 4); X87_RUN(f, LOAD_0, "fcomps " MS, POP_NONE, -1); break;
    case F80_M64: memcpy(f.msrc, s, 8); X87_RUN(f, LOAD_0, "fcompl " MS, POP_NONE, -1); break;
    case F80_I16: memcpy(f.msrc, s, 2); X87_RUN(f, LOAD_0, "ficomps " MS, POP_NONE, -1); break;
    case F80_I32: memcpy(f.msrc, s, 4); X87_RUN(f, LOAD_0, "ficompl " MS, POP_NONE, -1); break;
    case F80_I64: *popped = false; return 0;
    }
    *popped = f.delta == -1;
    return frame_status(&f, F80_CC, F80_CC);
}

unsigned f80_test(f80_ctx cw, const f80 *a)
{
    if (plain(a)) {
        static const f80 zero = { 0, 0 };
        return compare_plain(a, &zero);
    }
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    X87_RUN(f, LOAD_0, "ftst", POP_DROP, 0);
    return frame_status(&f, F80_CC, F80_CC);
}

/* Exact conversions that raise nothing (normal numbers, zeros, integers) done in C: the
 * common loads skip the host round trip. Returns false for the cases the host must do. */
static bool load_fast(const void *s, enum f80_kind kind, f80 *out)
{
    switch (kind) {
    case F80_M64: {
        uint64_t v;
        memcpy(&v, s, 8);
        uint16_t sign = (uint16_t)(v >> 48 & 0x8000), e = (uint16_t)(v >> 52 & 0x7ff);
        uint64_t frac = v & 0xfffffffffffffull;
        if (e == 0 && frac == 0)
            *out = (f80){ 0, sign };
        else if (e != 0 && e != 0x7ff)
            *out = (f80){ 1ull << 63 | frac << 11, (uint16_t)(sign | (e - 1023 + 16383)) };
        else
            return false;
        return true;
    }
    case F80_M32: {
        uint32_t v;
        memcpy(&v, s, 4);
        uint16_t sign = (uint16_t)(v >> 16 & 0x8000), e = (uint16_t)(v >> 23 & 0xff);
        uint64_t frac = v & 0x7fffff;
        if (e == 0 && frac == 0)
            *out = (f80){ 0, sign };
        else if (e != 0 && e != 0xff)
            *out = (f80){ 1ull << 63 | frac << 40, (uint16_t)(sign | (e - 127 + 16383)) };
        else
            return false;
        return true;
    }
    case F80_I16: case F80_I32: case F80_I64: {
        int64_t i;
        if (kind == F80_I16) { int16_t t; memcpy(&t, s, 2); i = t; }
        else if (kind == F80_I32) { int32_t t; memcpy(&t, s, 4); i = t; }
        else memcpy(&i, s, 8);
        uint16_t sign = i < 0 ? 0x8000 : 0;
        uint64_t m = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
        if (m == 0) {
            *out = (f80){ 0, 0 };
            return true;
        }
        int lz = __builtin_clzll(m);
        *out = (f80){ m << lz, (uint16_t)(sign | (16383 + 63 - lz)) };
        return true;
    }
    case F80_X80:
        break;
    }
    return false;
}

unsigned f80_load(f80_ctx cw, const void *s, enum f80_kind kind, f80 *out, bool *loaded)
{
    if (load_fast(s, kind, out)) {
        *loaded = true;
        return 0;
    }
    struct x87_frame f;
    frame_init(&f, cw);
    memcpy(f.msrc, s, kind_size(kind));
    switch (kind) {
    case F80_X80: memcpy(out, s, 10); *loaded = true; return 0;
    case F80_M32: X87_RUN(f, LOAD_NONE, "flds " MS, POP_0, 1); break;
    case F80_M64: X87_RUN(f, LOAD_NONE, "fldl " MS, POP_0, 1); break;
    case F80_I16: X87_RUN(f, LOAD_NONE, "filds " MS, POP_0, 1); break;
    case F80_I32: X87_RUN(f, LOAD_NONE, "fildl " MS, POP_0, 1); break;
    case F80_I64: X87_RUN(f, LOAD_NONE, "fildll " MS, POP_0, 1); break;
    }
    *loaded = f.delta == 1;
    if (*loaded)
        *out = f.out[0];
    return frame_status(&f, 0, 0);
}

/* FST m32/m64 done in C when the result is a normal number of the format (or zero): the
 * significand is rounded per the control word's rounding mode (precision control does not
 * apply to stores), PE reports a rounded result and C1 a rounding away from zero. Results that
 * overflow or become denormal, and operands that are not normal numbers, go to the host.
 * Returns false for those; else true with the status bits in *bits. */
static bool store_fast(uint16_t cw, const f80 *a, void *out, enum f80_kind kind, unsigned *bits)
{
    unsigned e = a->se & 0x7fff;
    uint64_t sign = a->se >> 15;
    bool dbl = kind == F80_M64;
    if (kind != F80_M64 && kind != F80_M32)
        return false;
    *bits = 0;
    if (e == 0 && a->mant == 0) {
        if (dbl) {
            uint64_t v = sign << 63;
            memcpy(out, &v, 8);
        } else {
            uint32_t v = (uint32_t)sign << 31;
            memcpy(out, &v, 4);
        }
        return true;
    }
    if (!(a->mant >> 63) || e == 0x7fff)
        return false;
    int ue = (int)e - 16383, max_e = dbl ? 1023 : 127;
    unsigned drop = dbl ? 11 : 40; /* significand bits beyond the format's */
    if (ue < 1 - max_e || ue > max_e)
        return false;
    uint64_t q = a->mant >> drop, rem = a->mant & ((1ull << drop) - 1), half = 1ull << (drop - 1);
    bool up = false;
    if (rem) {
        switch (cw >> 10 & 3) {
        case 0: up = rem > half || (rem == half && (q & 1)); break; /* nearest, ties to even */
        case 1: up = sign; break;                                   /* toward -inf */
        case 2: up = !sign; break;                                  /* toward +inf */
        default: break;                                             /* toward zero */
        }
        *bits = F80_PE | (up ? F80_C1 : 0);
    }
    if (up && ++q >> (64 - drop)) { /* carried into a new integer bit */
        q >>= 1;
        if (++ue > max_e)
            return false; /* overflow: the host reports it */
    }
    if (dbl) {
        uint64_t v = sign << 63 | (uint64_t)(ue + 1023) << 52 | (q & 0xfffffffffffffull);
        memcpy(out, &v, 8);
    } else {
        uint32_t v = (uint32_t)sign << 31 | (uint32_t)(ue + 127) << 23 | (uint32_t)(q & 0x7fffff);
        memcpy(out, &v, 4);
    }
    return true;
}

unsigned f80_store(f80_ctx cw, const f80 *a, void *out, enum f80_kind kind, bool truncate,
                   bool *written)
{
    unsigned fast_bits;
    if (store_fast((uint16_t)cw, a, out, kind, &fast_bits)) {
        *written = true;
        return fast_bits;
    }
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    switch (kind) {
    case F80_X80:
        memcpy(out, a, 10);
        *written = true;
        return 0;
    case F80_M32: X87_RUN(f, LOAD_0, "fsts " MD, POP_DROP, 0); break;
    case F80_M64: X87_RUN(f, LOAD_0, "fstl " MD, POP_DROP, 0); break;
    case F80_I16:
        if (truncate) X87_RUN(f, LOAD_0, "fisttps " MD, POP_NONE, -1);
        else X87_RUN(f, LOAD_0, "fists " MD, POP_DROP, 0);
        break;
    case F80_I32:
        if (truncate) X87_RUN(f, LOAD_0, "fisttpl " MD, POP_NONE, -1);
        else X87_RUN(f, LOAD_0, "fistl " MD, POP_DROP, 0);
        break;
    case F80_I64:
        if (truncate) X87_RUN(f, LOAD_0, "fisttpll " MD, POP_NONE, -1);
        else X87_RUN(f, LOAD_0, "fistpll " MD, POP_NONE, -1);
        break;
    }
    unsigned st = frame_status(&f, F80_C1, F80_C1);
    *written = store_allowed((uint16_t)cw, st);
    if (*written)
        memcpy(out, f.mdst, kind_size(kind));
    return st;
}

unsigned f80_bcd_load(f80_ctx cw, const uint8_t bcd[10], f80 *out)
{
    struct x87_frame f;
    frame_init(&f, cw);
    memcpy(f.msrc, bcd, 10);
    X87_RUN(f, LOAD_NONE, "fbld " MS, POP_0, 1);
    *out = f.out[0];
    return frame_status(&f, 0, 0);
}

unsigned f80_bcd_store(f80_ctx cw, const f80 *a, uint8_t bcd[10], bool *written)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    X87_RUN(f, LOAD_0, "fbstp " MD, POP_NONE, -1);
    unsigned st = frame_status(&f, F80_C1, F80_C1);
    *written = store_allowed((uint16_t)cw, st);
    if (*written)
        memcpy(bcd, f.mdst, 10);
    return st;
}

unsigned f80_stack(enum f80_stack_op op, f80_ctx cw, f80 st[3], int *delta)
{
    struct x87_frame f;
    /* FLDZ and FLD1 are exact in every rounding mode. */
    if (op == F80_FLDZ || op == F80_FLD1) {
        st[0] = op == F80_FLDZ ? (f80){ 0, 0 } : (f80){ 1ull << 63, 0x3fff };
        *delta = 1;
        return (cw >> 16) & (F80_C0 | F80_C2 | F80_C3);
    }
    frame_init(&f, cw);
    f.in0 = st[0];
    f.in1 = st[1];
    /* The common ones run fast (they write C1 whenever they complete); the others, whose
     * condition codes depend on the case, run exact. */
    switch (op) {
    case F80_FSQRT: X87_RUN(f, LOAD_0, "fsqrt", POP_0, 0); break;
    case F80_FRNDINT: X87_RUN(f, LOAD_0, "frndint", POP_0, 0); break;
    case F80_FLDL2T: X87_RUN(f, LOAD_NONE, "fldl2t", POP_0, 1); break;
    case F80_FLDL2E: X87_RUN(f, LOAD_NONE, "fldl2e", POP_0, 1); break;
    case F80_FLDPI: X87_RUN(f, LOAD_NONE, "fldpi", POP_0, 1); break;
    case F80_FLDLG2: X87_RUN(f, LOAD_NONE, "fldlg2", POP_0, 1); break;
    case F80_FLDLN2: X87_RUN(f, LOAD_NONE, "fldln2", POP_0, 1); break;
    case F80_FSIN: X87_EXACT(f, "fsin"); break;
    case F80_FCOS: X87_EXACT(f, "fcos"); break;
    case F80_F2XM1: X87_EXACT(f, "f2xm1"); break;
    case F80_FSINCOS: X87_EXACT(f, "fsincos"); break;
    case F80_FPTAN: X87_EXACT(f, "fptan"); break;
    case F80_FXTRACT: X87_EXACT(f, "fxtract"); break;
    case F80_FSCALE: X87_EXACT(f, "fscale"); break;
    case F80_FPREM: X87_EXACT(f, "fprem"); break;
    case F80_FPREM1: X87_EXACT(f, "fprem1"); break;
    case F80_FPATAN: X87_EXACT(f, "fpatan"); break;
    case F80_FYL2X: X87_EXACT(f, "fyl2x"); break;
    case F80_FYL2XP1: X87_EXACT(f, "fyl2xp1"); break;
    case F80_FLD1: case F80_FLDZ: __builtin_unreachable();
    }
    st[0] = f.out[0];
    st[1] = f.out[1];
    st[2] = f.out[2];
    *delta = f.delta;
    return frame_status(&f, F80_CC, F80_C1);
}

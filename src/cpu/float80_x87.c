/* float80.h on an x86 host: each operation runs the host's own x87 instruction under the guest
 * control word, so results, flags and even unmasked-exception responses are the chip's.
 *
 * Every operation is one asm block (X87_ASM). The x86-64 ABI keeps the host x87 stack empty
 * at calls, so the block owns the whole stack. */
#include <string.h>

#include "cpu/float80.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "float80_x87.c needs an x86 host; a portable soft-float backend is still to be written"
#endif

/* Operands and results of one host x87 run. */
struct x87_frame {
    f80 in0, in1;          /* ST(0), ST(1) at the start */
    f80 out[3];            /* ST(0..2) at the end */
    uint8_t msrc[16];      /* memory source operand */
    uint8_t mdst[16];      /* memory destination operand */
    uint16_t cw, masked, saved, sw0, sw1;
    int delta;             /* change of stack depth */
};

/* The run: PRE (FNCLEX), guest control word, load ST(1) and ST(0), the instruction, status word,
 * FNCLEX again only when an unmasked exception set ES (so no later waiting instruction traps),
 * then store three values with everything masked and restore the host control word. Storing
 * three values may pop empty registers: that only sets masked host flags (cleared by the next
 * run's FNCLEX) and moves the host TOP of an empty stack, which no host code depends on.
 * SW0 captures the status word after the loads too (for the depth change). */
#define X87_ASM(F, PRE, SW0, INSN)                                                            \
    __asm__ volatile("fnstcw %[saved]\n\t" PRE "\n\t"                                        \
                     "fldcw %[cw]\n\t"                                                        \
                     "fldt %[in1]\n\t"                                                        \
                     "fldt %[in0]\n\t" SW0 INSN "\n\t"                                        \
                     "fnstsw %[sw1]\n\t"                                                      \
                     "testw $0x80, %[sw1]\n\t"                                                \
                     "jz 1f\n\t"                                                              \
                     "fnclex\n"                                                               \
                     "1:\n\t"                                                                 \
                     "fldcw %[masked]\n\t"                                                    \
                     "fstpt %[o0]\n\t"                                                        \
                     "fstpt %[o1]\n\t"                                                        \
                     "fstpt %[o2]\n\t"                                                        \
                     "fldcw %[saved]"                                                         \
                     : [o0] "=m"((F).out[0]), [o1] "=m"((F).out[1]), [o2] "=m"((F).out[2]),  \
                       [sw0] "=m"((F).sw0), [sw1] "=m"((F).sw1), [saved] "+m"((F).saved),     \
                       [md] "+m"((F).mdst)                                                    \
                     : [cw] "m"((F).cw), [masked] "m"((F).masked), [in0] "m"((F).in0),        \
                       [in1] "m"((F).in1), [ms] "m"((F).msrc)                                 \
                     : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",   \
                       "memory", "cc")

/* Run INSN whose depth change is DELTA unless an exception intervenes; after an unmasked
 * exception (rare) run again from FNINIT (so condition codes an aborted instruction leaves
 * alone are 0, not stale host bits) reading TOP before and after to learn the real change. */
#define X87_RUN_D(F, INSN, DELTA)                                                             \
    do {                                                                                      \
        X87_ASM(F, "fnclex", "", INSN);                                                       \
        (F).delta = (DELTA);                                                                  \
        if ((F).sw1 & F80_ES) {                                                               \
            X87_ASM(F, "fninit", "fnstsw %[sw0]\n\t", INSN);                                  \
            (F).delta = frame_delta(&(F));                                                    \
        }                                                                                     \
    } while (0)
#define X87_RUN(F, INSN) X87_RUN_D(F, INSN, 0)

static void frame_init(struct x87_frame *f, uint16_t cw)
{
    memset(f, 0, sizeof(*f));
    f->cw = cw;
    f->masked = 0x037f;
}

/* Exception flags and condition codes of the run (the host's own stack faults never happen). */
static unsigned frame_status(const struct x87_frame *f)
{
    return f->sw1 & (F80_EXC | F80_CC);
}

/* Depth change from TOP before and after (TOP decreases on a push). */
static int frame_delta(const struct x87_frame *f)
{
    int d = (((f->sw0 >> 11) - (f->sw1 >> 11)) & 7);
    return d >= 4 ? d - 8 : d;
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
    case F80_ADD: X87_RUN(F, P "add" S " %[ms]"); break;                                     \
    case F80_MUL: X87_RUN(F, P "mul" S " %[ms]"); break;                                     \
    case F80_SUB: X87_RUN(F, P "sub" S " %[ms]"); break;                                     \
    case F80_SUBR: X87_RUN(F, P "subr" S " %[ms]"); break;                                   \
    case F80_DIV: X87_RUN(F, P "div" S " %[ms]"); break;                                     \
    case F80_DIVR: X87_RUN(F, P "divr" S " %[ms]"); break;                                   \
    }

unsigned f80_arith(enum f80_arith_op op, uint16_t cw, f80 *d, const void *s, enum f80_kind kind)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *d;
    switch (kind) {
    case F80_X80:
        /* D8 C0+1 ..: ST(0) = ST(0) op ST(1). */
        memcpy(&f.in1, s, sizeof(f80));
        switch (op) {
        case F80_ADD: X87_RUN(f, ".byte 0xd8, 0xc1"); break;
        case F80_MUL: X87_RUN(f, ".byte 0xd8, 0xc9"); break;
        case F80_SUB: X87_RUN(f, ".byte 0xd8, 0xe1"); break;
        case F80_SUBR: X87_RUN(f, ".byte 0xd8, 0xe9"); break;
        case F80_DIV: X87_RUN(f, ".byte 0xd8, 0xf1"); break;
        case F80_DIVR: X87_RUN(f, ".byte 0xd8, 0xf9"); break;
        }
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
    return frame_status(&f) & (F80_EXC | F80_C1);
}

unsigned f80_arith_sti(enum f80_arith_op op, uint16_t cw, f80 *d, const f80 *s)
{
    /* DC C0+1 ..: ST(1) = ST(1) op ST(0), with ST(1) = d and ST(0) = s. */
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *s;
    f.in1 = *d;
    switch (op) {
    case F80_ADD: X87_RUN(f, ".byte 0xdc, 0xc1"); break;
    case F80_MUL: X87_RUN(f, ".byte 0xdc, 0xc9"); break;
    case F80_SUBR: X87_RUN(f, ".byte 0xdc, 0xe1"); break;
    case F80_SUB: X87_RUN(f, ".byte 0xdc, 0xe9"); break;
    case F80_DIVR: X87_RUN(f, ".byte 0xdc, 0xf1"); break;
    case F80_DIV: X87_RUN(f, ".byte 0xdc, 0xf9"); break;
    }
    *d = f.out[1];
    return frame_status(&f) & (F80_EXC | F80_C1);
}

unsigned f80_compare(uint16_t cw, const f80 *a, const void *s, enum f80_kind kind, bool unordered,
                     bool *popped)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    switch (kind) {
    case F80_X80:
        memcpy(&f.in1, s, sizeof(f80));
        if (unordered)
            X87_RUN_D(f, ".byte 0xdd, 0xe9", -1); /* FUCOMP ST(1) */
        else
            X87_RUN_D(f, ".byte 0xd8, 0xd9", -1); /* FCOMP ST(1) */
        break;
    case F80_M32: memcpy(f.msrc, s, 4); X87_RUN_D(f, "fcomps %[ms]", -1); break;
    case F80_M64: memcpy(f.msrc, s, 8); X87_RUN_D(f, "fcompl %[ms]", -1); break;
    case F80_I16: memcpy(f.msrc, s, 2); X87_RUN_D(f, "ficomps %[ms]", -1); break;
    case F80_I32: memcpy(f.msrc, s, 4); X87_RUN_D(f, "ficompl %[ms]", -1); break;
    case F80_I64: *popped = false; return 0;
    }
    *popped = f.delta == -1;
    return frame_status(&f) & (F80_EXC | F80_C0 | F80_C2 | F80_C3);
}

unsigned f80_test(uint16_t cw, const f80 *a)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    X87_RUN(f, "ftst");
    return frame_status(&f) & (F80_EXC | F80_C0 | F80_C2 | F80_C3);
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

unsigned f80_load(uint16_t cw, const void *s, enum f80_kind kind, f80 *out, bool *loaded)
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
    case F80_M32: X87_RUN_D(f, "flds %[ms]", 1); break;
    case F80_M64: X87_RUN_D(f, "fldl %[ms]", 1); break;
    case F80_I16: X87_RUN_D(f, "filds %[ms]", 1); break;
    case F80_I32: X87_RUN_D(f, "fildl %[ms]", 1); break;
    case F80_I64: X87_RUN_D(f, "fildll %[ms]", 1); break;
    }
    *loaded = f.delta == 1;
    if (*loaded)
        *out = f.out[0];
    return frame_status(&f) & F80_EXC;
}

/* FST m32/m64 of a value the format holds exactly (zeros, normals without extra bits): no
 * rounding and no flags, done in C. Returns false for the cases the host must do. */
static bool store_fast(const f80 *a, void *out, enum f80_kind kind)
{
    unsigned e = a->se & 0x7fff;
    uint64_t sign = a->se >> 15;
    if (kind != F80_M64 && kind != F80_M32)
        return false;
    if (e == 0 && a->mant == 0) {
        if (kind == F80_M64) {
            uint64_t v = sign << 63;
            memcpy(out, &v, 8);
        } else {
            uint32_t v = (uint32_t)sign << 31;
            memcpy(out, &v, 4);
        }
        return true;
    }
    if (!(a->mant >> 63))
        return false;
    int ue = (int)e - 16383;
    if (kind == F80_M64) {
        if (ue < -1022 || ue > 1023 || (a->mant & 0x7ff))
            return false;
        uint64_t v = sign << 63 | (uint64_t)(ue + 1023) << 52 | (a->mant >> 11 & 0xfffffffffffffull);
        memcpy(out, &v, 8);
    } else {
        if (ue < -126 || ue > 127 || (a->mant & 0xffffffffffull))
            return false;
        uint32_t v = (uint32_t)sign << 31 | (uint32_t)(ue + 127) << 23 |
                     (uint32_t)(a->mant >> 40 & 0x7fffff);
        memcpy(out, &v, 4);
    }
    return true;
}

unsigned f80_store(uint16_t cw, const f80 *a, void *out, enum f80_kind kind, bool truncate,
                   bool *written)
{
    if (store_fast(a, out, kind)) {
        *written = true;
        return 0;
    }
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    switch (kind) {
    case F80_X80:
        memcpy(out, a, 10);
        *written = true;
        return 0;
    case F80_M32: X87_RUN(f, "fsts %[md]"); break;
    case F80_M64: X87_RUN(f, "fstl %[md]"); break;
    case F80_I16:
        if (truncate) X87_RUN(f, "fisttps %[md]"); else X87_RUN(f, "fists %[md]");
        break;
    case F80_I32:
        if (truncate) X87_RUN(f, "fisttpl %[md]"); else X87_RUN(f, "fistl %[md]");
        break;
    case F80_I64:
        if (truncate) X87_RUN(f, "fisttpll %[md]"); else X87_RUN(f, "fistpll %[md]");
        break;
    }
    unsigned st = frame_status(&f) & (F80_EXC | F80_C1);
    *written = store_allowed(cw, st);
    if (*written)
        memcpy(out, f.mdst, kind_size(kind));
    return st;
}

unsigned f80_bcd_load(uint16_t cw, const uint8_t bcd[10], f80 *out)
{
    struct x87_frame f;
    frame_init(&f, cw);
    memcpy(f.msrc, bcd, 10);
    X87_RUN(f, "fbld %[ms]");
    *out = f.out[0];
    return frame_status(&f) & F80_EXC;
}

unsigned f80_bcd_store(uint16_t cw, const f80 *a, uint8_t bcd[10], bool *written)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = *a;
    X87_RUN(f, "fbstp %[md]");
    unsigned st = frame_status(&f) & (F80_EXC | F80_C1);
    *written = store_allowed(cw, st);
    if (*written)
        memcpy(bcd, f.mdst, 10);
    return st;
}

unsigned f80_stack(enum f80_stack_op op, uint16_t cw, f80 st[3], int *delta)
{
    struct x87_frame f;
    frame_init(&f, cw);
    f.in0 = st[0];
    f.in1 = st[1];
    switch (op) {
    case F80_FSQRT: X87_RUN(f, "fsqrt"); break;
    case F80_FRNDINT: X87_RUN(f, "frndint"); break;
    case F80_FSIN: X87_RUN(f, "fsin"); break;
    case F80_FCOS: X87_RUN(f, "fcos"); break;
    case F80_F2XM1: X87_RUN(f, "f2xm1"); break;
    case F80_FSINCOS: X87_RUN_D(f, "fsincos", 1); break;
    case F80_FPTAN: X87_RUN_D(f, "fptan", 1); break;
    case F80_FXTRACT: X87_RUN_D(f, "fxtract", 1); break;
    case F80_FSCALE: X87_RUN(f, "fscale"); break;
    case F80_FPREM: X87_RUN(f, "fprem"); break;
    case F80_FPREM1: X87_RUN(f, "fprem1"); break;
    case F80_FPATAN: X87_RUN_D(f, "fpatan", -1); break;
    case F80_FYL2X: X87_RUN_D(f, "fyl2x", -1); break;
    case F80_FYL2XP1: X87_RUN_D(f, "fyl2xp1", -1); break;
    case F80_FLD1: X87_RUN_D(f, "fld1", 1); break;
    case F80_FLDL2T: X87_RUN_D(f, "fldl2t", 1); break;
    case F80_FLDL2E: X87_RUN_D(f, "fldl2e", 1); break;
    case F80_FLDPI: X87_RUN_D(f, "fldpi", 1); break;
    case F80_FLDLG2: X87_RUN_D(f, "fldlg2", 1); break;
    case F80_FLDLN2: X87_RUN_D(f, "fldln2", 1); break;
    case F80_FLDZ: X87_RUN_D(f, "fldz", 1); break;
    }
    /* FSINCOS and FPTAN leave an out-of-range operand alone (C2 = 1) without pushing. */
    if ((op == F80_FSINCOS || op == F80_FPTAN) && (f.sw1 & F80_C2))
        f.delta = 0;
    st[0] = f.out[0];
    st[1] = f.out[1];
    st[2] = f.out[2];
    *delta = f.delta;
    return frame_status(&f);
}

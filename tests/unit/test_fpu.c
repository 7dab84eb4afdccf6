/* x87 unit tests: the emulated FPU against the host's own x87 over edge-case operands, plus
 * architectural facts from the Intel SDM (stack faults, environment layouts, #NM/#MF/FERR#). */
#include "test_fpu_env.h"

/* ---- Operands ---- */

static const f80 edges[] = {
    { 0, 0 }, { 0, 0x8000 },                                            /* +0, -0 */
    { 0x8000000000000000ull, 0x3fff }, { 0x8000000000000000ull, 0xbfff }, /* +1, -1 */
    { 0xc000000000000000ull, 0x4000 },                                  /* 3 */
    { 0xaaaaaaaaaaaaaaabull, 0x3ffd },                                  /* ~1/3 */
    { 0xc90fdaa22168c235ull, 0x4000 },                                  /* ~pi */
    { 0xffffffffffffffffull, 0x7ffe }, { 0xffffffffffffffffull, 0xfffe }, /* +-max */
    { 0x8000000000000000ull, 0x0001 },                                  /* min normal */
    { 0x0000000000000001ull, 0x0000 }, { 0x4000000000000000ull, 0x8000 }, /* denormals */
    { 0x8000000000000000ull, 0x0000 },                                  /* pseudo-denormal */
    { 0x8000000000000000ull, 0x7fff }, { 0x8000000000000000ull, 0xffff }, /* +-inf */
    { 0xc000000000000001ull, 0x7fff }, { 0xc000000000000000ull, 0xffff }, /* QNaN, indefinite */
    { 0x8000000000000001ull, 0x7fff }, { 0xa000000000000000ull, 0xffff }, /* SNaNs */
    { 0x4000000000000000ull, 0x4000 },                                  /* unnormal */
    { 0x8000000000000000ull, 0x403e }, { 0xfffffffffffffc00ull, 0x403d }, /* 2^63, big int */
    { 0x8000000000000001ull, 0x3ffe }, { 0xc000000000000000ull, 0x3ffe }, /* 0.5+ulp, 0.75 */
    { 0x8000000000000000ull, 0x7000 }, { 0x8000000000000000ull, 0x1000 }, /* huge, tiny */
    { 0x8000000000000400ull, 0x4000 }, { 0xffffff8000000000ull, 0x3fff }, /* rounding edges */
    { 0x9000000000000000ull, 0x4003 }, { 0xd6c8000000000000ull, 0xc00d }, /* 18, -27502 */
};
#define N_EDGES (sizeof(edges) / sizeof(edges[0]))

/* Control words: each rounding mode, each precision, masked and unmasked. */
static const uint16_t cws[] = { 0x037f, 0x077f, 0x0b7f, 0x0f7f, 0x007f, 0x027f, 0x0360, 0x0372,
                                0x0c40, 0x035e };
#define N_CWS (sizeof(cws) / sizeof(cws[0]))

static bool same(f80 a, f80 b) { return a.mant == b.mant && a.se == b.se; }

/* ---- Native reference: the host x87 with its own asm, independent of float80_x87.c ----
 * FNINIT first: operations whose C0/C2/C3 are "undefined" leave them alone, and the
 * emulator's FPU starts each case with them clear. */

struct native {
    f80 a, b, r[3];
    uint8_t m[16];
    uint16_t cw, sw0, sw, saved, masked;
};

#define NATIVE(N, INSN)                                                                       \
    __asm__ volatile("fnstcw %[sv]\n\tfninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t"    \
                     "fnstsw %[sw0]\n\t" INSN "\n\tfnstsw %[sw]\n\tfnclex\n\tfldcw %[mk]\n\t"  \
                     "fstpt %[r0]\n\tfstpt %[r1]\n\tfstpt %[r2]\n\tfninit\n\tfldcw %[sv]"     \
                     : [r0] "=m"((N).r[0]), [r1] "=m"((N).r[1]), [r2] "=m"((N).r[2]),        \
                       [sw] "=m"((N).sw), [sw0] "=m"((N).sw0), [sv] "+m"((N).saved),          \
                       [m] "+m"((N).m)                                                        \
                     : [cw] "m"((N).cw), [a] "m"((N).a), [b] "m"((N).b), [mk] "m"((N).masked) \
                     : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",   \
                       "memory")

static void native_init(struct native *n, uint16_t cw, f80 a, f80 b)
{
    memset(n, 0, sizeof(*n));
    n->cw = cw;
    n->a = a;
    n->b = b;
    n->masked = 0x037f;
}

static int native_delta(const struct native *n)
{
    int d = ((n->sw0 >> 11) - (n->sw >> 11)) & 7;
    return d >= 4 ? d - 8 : d;
}

/* Put a in ST(0) and b in ST(1) of a fresh FPU with control word cw. */
static void setup2(struct cpu *cpu, uint16_t cw, f80 a, f80 b)
{
    struct fpu_state *f = &cpu->fpu;
    fpu_reset(cpu);
    f->control = cw;
    f->top = 6;
    f->st[6] = a;
    f->st[7] = b;
    f->valid = 0xc0;
}

#define SW_CMP 0x82ff /* B, C1, ES, SF, exception flags */

static void check_result(const char *what, uint16_t cw, f80 a, f80 b, f80 got, f80 want,
                         uint16_t got_sw, uint16_t want_sw)
{
    if (!same(got, want) || got_sw != want_sw) {
        print_error("%s cw=%04x a=%04x:%016llx b=%04x:%016llx: got %04x:%016llx sw %04x, "
                    "host %04x:%016llx sw %04x\n", what, cw, a.se, (unsigned long long)a.mant,
                    b.se, (unsigned long long)b.mant, got.se, (unsigned long long)got.mant,
                    got_sw, want.se, (unsigned long long)want.mant, want_sw);
        fail();
    }
}

/* ---- Host comparisons ---- */

static void test_arith_registers_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    for (unsigned op = 0; op < 8; op++) {
        if (op == 2 || op == 3)
            continue;
        for (unsigned c = 0; c < N_CWS; c++)
            for (unsigned i = 0; i < N_EDGES; i++)
                for (unsigned j = 0; j < N_EDGES; j++) {
                    struct native n;
                    /* D8 C0+8*op+1: ST(0) = ST(0) op ST(1). */
                    native_init(&n, cws[c], edges[i], edges[j]);
                    switch (op) {
                    case 0: NATIVE(n, ".byte 0xd8, 0xc1"); break;
                    case 1: NATIVE(n, ".byte 0xd8, 0xc9"); break;
                    case 4: NATIVE(n, ".byte 0xd8, 0xe1"); break;
                    case 5: NATIVE(n, ".byte 0xd8, 0xe9"); break;
                    case 6: NATIVE(n, ".byte 0xd8, 0xf1"); break;
                    case 7: NATIVE(n, ".byte 0xd8, 0xf9"); break;
                    }
                    setup2(cpu, cws[c], edges[i], edges[j]);
                    assert_int_equal(run_fpu(cpu, 0xd8, (uint8_t)(0xc1 | op << 3), 0), -1);
                    check_result("D8 reg", cws[c], edges[i], edges[j], cpu->fpu.st[6], n.r[0],
                                 fpu_status_word(&cpu->fpu) & SW_CMP, n.sw & SW_CMP);
                    /* DE C0+8*op+1: ST(1) = ST(1) op' ST(0), pop. */
                    native_init(&n, cws[c], edges[i], edges[j]);
                    switch (op) {
                    case 0: NATIVE(n, ".byte 0xde, 0xc1"); break;
                    case 1: NATIVE(n, ".byte 0xde, 0xc9"); break;
                    case 4: NATIVE(n, ".byte 0xde, 0xe1"); break;
                    case 5: NATIVE(n, ".byte 0xde, 0xe9"); break;
                    case 6: NATIVE(n, ".byte 0xde, 0xf1"); break;
                    case 7: NATIVE(n, ".byte 0xde, 0xf9"); break;
                    }
                    setup2(cpu, cws[c], edges[i], edges[j]);
                    assert_int_equal(run_fpu(cpu, 0xde, (uint8_t)(0xc1 | op << 3), 0), -1);
                    int delta = native_delta(&n);
                    assert_int_equal(cpu->fpu.top, (unsigned)(6 - delta) & 7);
                    check_result("DE reg", cws[c], edges[i], edges[j], cpu->fpu.st[7],
                                 delta == -1 ? n.r[0] : n.r[1],
                                 fpu_status_word(&cpu->fpu) & SW_CMP, n.sw & SW_CMP);
                }
    }
    free_cpu(cpu);
}

static const uint32_t edge32[] = { 0, 0x80000000, 0x3f800000, 0xbf800000, 0x00000001, 0x807fffff,
                                   0x00800000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00001,
                                   0x7f800001, 0xffc00000, 0x3eaaaaab, 0x4b000001, 0xcf000000 };
static const uint64_t edge64[] = { 0, 0x8000000000000000ull, 0x3ff0000000000000ull,
                                   0x0000000000000001ull, 0x000fffffffffffffull,
                                   0x7fefffffffffffffull, 0x7ff0000000000000ull,
                                   0xfff0000000000000ull, 0x7ff8000000000001ull,
                                   0x7ff0000000000001ull, 0x3fd5555555555555ull,
                                   0xc3e0000000000000ull, 0x43dfffffffffffffull };

/* Random register operands (all exponent classes) and random control words. */
static void test_arith_random_matches_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned k = 0; k < 20000; k++) {
        uint64_t r[3];
        for (int q = 0; q < 3; q++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            r[q] = x;
        }
        f80 a = { r[0], (uint16_t)r[2] }, b = { r[1], (uint16_t)(r[2] >> 16) };
        /* Bias exponents towards each other so the arithmetic does real rounding. */
        if (r[2] & 0x100000000ull)
            b.se = (uint16_t)((a.se & 0x8000) | ((a.se + (r[2] >> 40 & 0x7f)) & 0x7fff) | (b.se & 0x8000));
        uint16_t cw = (uint16_t)((r[2] >> 48 & 0x0f3f) | 0x40);
        unsigned op = (unsigned)(r[2] >> 60) & 7;
        if (op == 2 || op == 3)
            op = 0;
        struct native n;
        native_init(&n, cw, a, b);
        switch (op) {
        case 0: NATIVE(n, ".byte 0xd8, 0xc1"); break;
        case 1: NATIVE(n, ".byte 0xd8, 0xc9"); break;
        case 4: NATIVE(n, ".byte 0xd8, 0xe1"); break;
        case 5: NATIVE(n, ".byte 0xd8, 0xe9"); break;
        case 6: NATIVE(n, ".byte 0xd8, 0xf1"); break;
        case 7: NATIVE(n, ".byte 0xd8, 0xf9"); break;
        }
        setup2(cpu, cw, a, b);
        assert_int_equal(run_fpu(cpu, 0xd8, (uint8_t)(0xc1 | op << 3), 0), -1);
        check_result("random", cw, a, b, cpu->fpu.st[6], n.r[0],
                     fpu_status_word(&cpu->fpu) & SW_CMP, n.sw & SW_CMP);
    }
    free_cpu(cpu);
}

static void test_arith_memory_matches_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    for (unsigned op = 0; op < 8; op++)
        for (unsigned c = 0; c < N_CWS; c++)
            for (unsigned i = 0; i < N_EDGES; i++)
                for (unsigned k = 0; k < 16 + 13; k++)
                    for (unsigned form = 0; form < 4; form++) {
                        static const uint8_t opc[4] = { 0xd8, 0xdc, 0xda, 0xde };
                        struct native n;
                        native_init(&n, cws[c], edges[i], edges[0]);
                        if (k < 16)
                            memcpy(n.m, &edge32[k], 4);
                        else
                            memcpy(n.m, &edge64[k - 16], 8);
                        if (form == 1 && k < 16)
                            continue;
                        memcpy(mem + 0x100, n.m, 8);
#define MEMOPS(P, S)                                                                          \
    switch (op) {                                                                             \
    case 0: NATIVE(n, P "add" S " %[m]"); break;                                              \
    case 1: NATIVE(n, P "mul" S " %[m]"); break;                                              \
    case 2: NATIVE(n, P "com" S " %[m]"); break;                                              \
    case 3: NATIVE(n, P "comp" S " %[m]"); break;                                             \
    case 4: NATIVE(n, P "sub" S " %[m]"); break;                                              \
    case 5: NATIVE(n, P "subr" S " %[m]"); break;                                             \
    case 6: NATIVE(n, P "div" S " %[m]"); break;                                              \
    case 7: NATIVE(n, P "divr" S " %[m]"); break;                                             \
    }
                        switch (form) {
                        case 0: MEMOPS("f", "s"); break;
                        case 1: MEMOPS("f", "l"); break;
                        case 2: MEMOPS("fi", "l"); break;
                        case 3: MEMOPS("fi", "s"); break;
                        }
                        setup2(cpu, cws[c], edges[i], edges[0]);
                        assert_int_equal(run_fpu(cpu, opc[form], (uint8_t)(0x05 | op << 3), 0x100), -1);
                        uint16_t mask = SW_CMP | (op == 2 || op == 3 ? 0x4500 : 0);
                        check_result("mem", cws[c], edges[i], edges[0],
                                     cpu->fpu.st[cpu->fpu.top], n.r[0],
                                     fpu_status_word(&cpu->fpu) & mask, n.sw & mask);
                        assert_int_equal(cpu->fpu.top, (unsigned)(6 - native_delta(&n)) & 7);
                    }
    free_cpu(cpu);
}

/* D9 operations that read ST(1): FSCALE, FPREM, FPREM1, FPATAN, FYL2X, FYL2XP1. */
static bool uses_st1(uint8_t op)
{
    return op == 0xfd || op == 0xf8 || op == 0xf5 || op == 0xf3 || op == 0xf1 || op == 0xf9;
}

static void test_stack_ops_match_host(void **state)
{
    (void)state;
    static const uint8_t ops[] = { 0xfa, 0xfc, 0xfe, 0xff, 0xf0, 0xfb, 0xf2, 0xf4, 0xfd,
                                   0xf8, 0xf5, 0xf3, 0xf1, 0xf9, 0xe8, 0xeb, 0xe9, 0xe0, 0xe1,
                                   0xe4 };
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    for (unsigned o = 0; o < sizeof(ops); o++)
        for (unsigned c = 0; c < N_CWS; c++)
            for (unsigned i = 0; i < N_EDGES; i++)
                for (unsigned j = 0; j < N_EDGES; j += uses_st1(ops[o]) ? 1 : N_EDGES) {
                    struct native n;
                    native_init(&n, cws[c], edges[i], edges[j]);
                    switch (ops[o]) {
                    case 0xfa: NATIVE(n, "fsqrt"); break;
                    case 0xfc: NATIVE(n, "frndint"); break;
                    case 0xfe: NATIVE(n, "fsin"); break;
                    case 0xff: NATIVE(n, "fcos"); break;
                    case 0xf0: NATIVE(n, "f2xm1"); break;
                    case 0xfb: NATIVE(n, "fsincos"); break;
                    case 0xf2: NATIVE(n, "fptan"); break;
                    case 0xf4: NATIVE(n, "fxtract"); break;
                    case 0xfd: NATIVE(n, "fscale"); break;
                    case 0xf8: NATIVE(n, "fprem"); break;
                    case 0xf5: NATIVE(n, "fprem1"); break;
                    case 0xf3: NATIVE(n, "fpatan"); break;
                    case 0xf1: NATIVE(n, "fyl2x"); break;
                    case 0xf9: NATIVE(n, "fyl2xp1"); break;
                    case 0xe8: NATIVE(n, "fld1"); break;
                    case 0xeb: NATIVE(n, "fldpi"); break;
                    case 0xe9: NATIVE(n, "fldl2t"); break;
                    case 0xe0: NATIVE(n, "fchs"); break;
                    case 0xe1: NATIVE(n, "fabs"); break;
                    case 0xe4: NATIVE(n, "ftst"); break;
                    }
                    setup2(cpu, cws[c], edges[i], edges[j]);
                    if (ops[o] >= 0xe8 && ops[o] <= 0xee)
                        cpu->fpu.valid = 0x40 | 0x80; /* room to push */
                    assert_int_equal(run_fpu(cpu, 0xd9, ops[o], 0), -1);
                    int delta = native_delta(&n);
                    assert_int_equal(cpu->fpu.top, (unsigned)(6 - delta) & 7);
                    uint16_t mask = SW_CMP | 0x4500;
                    f80 got0 = *(&cpu->fpu.st[cpu->fpu.top]);
                    check_result("D9 op", cws[c], edges[i], edges[j], got0, n.r[0],
                                 fpu_status_word(&cpu->fpu) & mask, n.sw & mask);
                    if (delta >= 0)
                        check_result("D9 op st1", cws[c], edges[i], edges[j],
                                     cpu->fpu.st[(cpu->fpu.top + 1) & 7], n.r[1], 0, 0);
                }
    free_cpu(cpu);
}

/* Random operands for the transcendental and scaling operations, all rounding modes. */
static void test_stack_ops_random_match_host(void **state)
{
    (void)state;
    static const uint8_t ops[] = { 0xfa, 0xfc, 0xfe, 0xff, 0xf0, 0xfb, 0xf2, 0xf4, 0xfd,
                                   0xf8, 0xf5, 0xf3, 0xf1, 0xf9 };
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint64_t x = 0x5851f42d4c957f2dull;
    for (unsigned o = 0; o < sizeof(ops); o++)
        for (unsigned k = 0; k < 400; k++) {
            uint64_t r[3];
            for (int q = 0; q < 3; q++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                r[q] = x;
            }
            /* Exponents within 2^-70..2^70 around 1 (F2XM1 and FYL2XP1 want small ones). */
            f80 a = { r[0] | 1ull << 63, (uint16_t)((r[2] & 0x8000) | (0x3fff - 70 + (r[2] >> 16) % 140)) };
            f80 b = { r[1] | 1ull << 63, (uint16_t)((r[2] >> 32 & 0x8000) | (0x3fff - 70 + (r[2] >> 48) % 140)) };
            if (ops[o] == 0xf0 || ops[o] == 0xf9)
                a.se = (uint16_t)((a.se & 0x8000) | (0x3ffe - (r[2] >> 24) % 40));
            if (ops[o] == 0xfd) /* FSCALE: a modest scale */
                b.se = (uint16_t)((b.se & 0x8000) | (0x3fff + (r[2] >> 40) % 12));
            if (ops[o] == 0xfa && (k & 1))
                a.se &= 0x7fff; /* FSQRT: positive operands half the time */
            uint16_t cw = (uint16_t)(0x037f | (r[2] >> 8 & 3) << 10);
            struct native n;
            native_init(&n, cw, a, b);
            switch (ops[o]) {
            case 0xfa: NATIVE(n, "fsqrt"); break;
            case 0xfc: NATIVE(n, "frndint"); break;
            case 0xfe: NATIVE(n, "fsin"); break;
            case 0xff: NATIVE(n, "fcos"); break;
            case 0xf0: NATIVE(n, "f2xm1"); break;
            case 0xfb: NATIVE(n, "fsincos"); break;
            case 0xf2: NATIVE(n, "fptan"); break;
            case 0xf4: NATIVE(n, "fxtract"); break;
            case 0xfd: NATIVE(n, "fscale"); break;
            case 0xf8: NATIVE(n, "fprem"); break;
            case 0xf5: NATIVE(n, "fprem1"); break;
            case 0xf3: NATIVE(n, "fpatan"); break;
            case 0xf1: NATIVE(n, "fyl2x"); break;
            case 0xf9: NATIVE(n, "fyl2xp1"); break;
            }
            setup2(cpu, cw, a, b);
            assert_int_equal(run_fpu(cpu, 0xd9, ops[o], 0), -1);
            int delta = native_delta(&n);
            assert_int_equal(cpu->fpu.top, (unsigned)(6 - delta) & 7);
            check_result("D9 random", cw, a, b, cpu->fpu.st[cpu->fpu.top], n.r[0],
                         fpu_status_word(&cpu->fpu) & (SW_CMP | 0x4500), n.sw & (SW_CMP | 0x4500));
            if (delta >= 0)
                check_result("D9 random st1", cw, a, b, cpu->fpu.st[(cpu->fpu.top + 1) & 7],
                             n.r[1], 0, 0);
        }
    free_cpu(cpu);
}

static void test_stores_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    uint8_t *mem = env_of(cpu)->mem;
    /* DB /1 FISTTP m32, DD /1 FISTTP m64, DF /1 FISTTP m16 need SSE3 (host has it). */
    static const struct { uint8_t opc, reg, size; } forms[] = {
        { 0xd9, 2, 4 }, { 0xdd, 2, 8 }, { 0xdf, 2, 2 }, { 0xdb, 2, 4 }, { 0xdf, 7, 8 },
        { 0xdf, 1, 2 }, { 0xdb, 1, 4 }, { 0xdd, 1, 8 }, { 0xdf, 6, 10 }, { 0xd9, 3, 4 },
    };
    uint64_t x = 0xfedcba9876543210ull;
    for (unsigned fm = 0; fm < sizeof(forms) / sizeof(forms[0]); fm++)
        for (unsigned c = 0; c < N_CWS; c++)
            for (unsigned i = 0; i < N_EDGES + 200; i++) {
                struct native n;
                f80 v = i < N_EDGES ? edges[i] : (f80){ 0, 0 };
                if (i >= N_EDGES) {
                    /* Random values near the float/double/integer ranges, some exact. */
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    static const uint64_t keep[4] = { ~0ull, ~0ull << 11, ~0ull << 40, ~0ull << 52 };
                    v.mant = (x | 1ull << 63) & keep[x >> 62];
                    v.se = (uint16_t)((x & 0x8000) | (0x3fff - 140 + (x >> 20) % 280));
                }
                native_init(&n, cws[c], v, edges[0]);
                memset(n.m, 0x5a, sizeof(n.m));
                switch (fm) {
                case 0: NATIVE(n, "fsts %[m]"); break;
                case 1: NATIVE(n, "fstl %[m]"); break;
                case 2: NATIVE(n, "fists %[m]"); break;
                case 3: NATIVE(n, "fistl %[m]"); break;
                case 4: NATIVE(n, "fistpll %[m]"); break;
                case 5: NATIVE(n, "fisttps %[m]"); break;
                case 6: NATIVE(n, "fisttpl %[m]"); break;
                case 7: NATIVE(n, "fisttpll %[m]"); break;
                case 8: NATIVE(n, "fbstp %[m]"); break;
                case 9: NATIVE(n, "fstps %[m]"); break;
                }
                setup2(cpu, cws[c], v, edges[0]);
                memset(mem + 0x200, 0x5a, 16);
                assert_int_equal(run_fpu(cpu, forms[fm].opc, (uint8_t)(0x05 | forms[fm].reg << 3), 0x200), -1);
                if (memcmp(mem + 0x200, n.m, 16) != 0 ||
                    (fpu_status_word(&cpu->fpu) & SW_CMP) != (n.sw & SW_CMP) ||
                    cpu->fpu.top != ((unsigned)(6 - native_delta(&n)) & 7)) {
                    print_error("store form %u cw %04x value %04x:%016llx: sw %04x host %04x, "
                                "mem %016llx host %016llx top %u\n", fm, cws[c], v.se,
                                (unsigned long long)v.mant, fpu_status_word(&cpu->fpu),
                                n.sw, *(unsigned long long *)(mem + 0x200),
                                *(unsigned long long *)n.m, cpu->fpu.top);
                    fail();
                }
            }
    free_cpu(cpu);
}

static void test_loads_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    uint64_t x = 0x0123456789abcdefull;
    for (unsigned c = 0; c < N_CWS; c++)
        for (unsigned k = 0; k < 16 + 13 + 300; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            for (unsigned form = 0; form < 5; form++) {
                struct native n;
                native_init(&n, cws[c], edges[0], edges[0]);
                if (k < 16)
                    memcpy(n.m, &edge32[k], 4);
                else if (k < 16 + 13)
                    memcpy(n.m, &edge64[k - 16], 8);
                else
                    memcpy(n.m, &x, 8); /* random bits: every class of float and integer */
                memcpy(mem + 0x300, n.m, 8);
                static const uint8_t opc[5] = { 0xd9, 0xdd, 0xdb, 0xdf, 0xdf };
                static const uint8_t reg[5] = { 0, 0, 0, 0, 5 };
                switch (form) {
                case 0: NATIVE(n, "flds %[m]"); break;
                case 1: NATIVE(n, "fldl %[m]"); break;
                case 2: NATIVE(n, "fildl %[m]"); break;
                case 3: NATIVE(n, "filds %[m]"); break;
                case 4: NATIVE(n, "fildll %[m]"); break;
                }
                setup2(cpu, cws[c], edges[0], edges[0]);
                assert_int_equal(run_fpu(cpu, opc[form], (uint8_t)(0x05 | reg[form] << 3), 0x300), -1);
                assert_int_equal(cpu->fpu.top, (unsigned)(6 - native_delta(&n)) & 7);
                check_result("load", cws[c], edges[0], edges[0], cpu->fpu.st[cpu->fpu.top],
                             n.r[0], fpu_status_word(&cpu->fpu) & SW_CMP, n.sw & SW_CMP);
            }
        }
    free_cpu(cpu);
}

static void test_compare_and_fcomi_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    for (unsigned c = 0; c < N_CWS; c++)
        for (unsigned i = 0; i < N_EDGES; i++)
            for (unsigned j = 0; j < N_EDGES; j++) {
                for (unsigned kind = 0; kind < 2; kind++) {
                    struct native n;
                    native_init(&n, cws[c], edges[i], edges[j]);
                    if (kind == 0)
                        NATIVE(n, ".byte 0xd8, 0xd1"); /* FCOM ST(1) */
                    else
                        NATIVE(n, ".byte 0xdd, 0xe1"); /* FUCOM ST(1) */
                    setup2(cpu, cws[c], edges[i], edges[j]);
                    assert_int_equal(run_fpu(cpu, kind ? 0xdd : 0xd8, kind ? 0xe1 : 0xd1, 0), -1);
                    uint16_t mask = SW_CMP | 0x4500;
                    check_result("fcom", cws[c], edges[i], edges[j], cpu->fpu.st[6], n.r[0],
                                 fpu_status_word(&cpu->fpu) & mask, n.sw & mask);
                }
                /* FCOMI / FUCOMI against the host's EFLAGS. */
                for (unsigned kind = 0; kind < 2; kind++) {
                    struct native n;
                    uint64_t fl;
                    native_init(&n, cws[c], edges[i], edges[j]);
                    __asm__ volatile("fnstcw %[sv]\n\tfnclex\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t"
                                     "testl %[k], %[k]\n\tjz 1f\n\t.byte 0xdb, 0xe9\n\tjmp 2f\n"
                                     "1:\n\t.byte 0xdb, 0xf1\n2:\n\tpushfq\n\tpopq %[fl]\n\t"
                                     "fnstsw %[sw]\n\tfnclex\n\tfninit\n\tfldcw %[sv]"
                                     : [fl] "=&r"(fl), [sw] "=m"(n.sw), [sv] "+m"(n.saved)
                                     : [cw] "m"(n.cw), [a] "m"(n.a), [b] "m"(n.b), [k] "r"(kind)
                                     : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)",
                                       "st(7)", "memory", "cc");
                    setup2(cpu, cws[c], edges[i], edges[j]);
                    cpu->eflags = 2 | FLAG_OF | FLAG_SF | FLAG_AF;
                    assert_int_equal(run_fpu(cpu, 0xdb, kind ? 0xe9 : 0xf1, 0), -1);
                    uint32_t m = FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF;
                    if (!(n.sw & 0x80))
                        assert_int_equal(cpu->eflags & m, fl & m);
                    assert_int_equal(fpu_status_word(&cpu->fpu) & SW_CMP, n.sw & SW_CMP);
                }
            }
    free_cpu(cpu);
}

/* ---- Architectural facts ---- */

static void push_m80(struct cpu *cpu, f80 v)
{
    memcpy(env_of(cpu)->mem + 0x400, &v, 10);
    assert_int_equal(run_fpu(cpu, 0xdb, 0x2d, 0x400), -1); /* FLD m80 */
}

static void test_stack_underflow_overflow(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    /* FADD ST(0), ST(1) on an empty stack: IE+SF, C1=0, masked response indefinite. */
    assert_int_equal(run_fpu(cpu, 0xd8, 0xc1, 0), -1);
    assert_int_equal(fpu_status_word(&cpu->fpu) & 0x02ff, 0x0041);
    assert_true(same(cpu->fpu.st[0], f80_indefinite()));
    /* Eight pushes fill the stack; the ninth overflows: IE+SF+C1, indefinite pushed. */
    fpu_reset(cpu);
    for (int i = 0; i < 8; i++)
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1); /* FLD1 */
    assert_int_equal(fpu_status_word(&cpu->fpu) & 0x00ff, 0);
    assert_int_equal(fpu_tag_word(&cpu->fpu), 0x0000);
    assert_int_equal(run_fpu(cpu, 0xd9, 0xeb, 0), -1); /* FLDPI */
    assert_int_equal(fpu_status_word(&cpu->fpu) & 0x02ff, 0x0241);
    assert_true(same(cpu->fpu.st[cpu->fpu.top], f80_indefinite()));
    /* Unmasked IE: the overflow leaves TOP and the registers alone and sets ES. */
    fpu_reset(cpu);
    cpu->fpu.control = 0x037e;
    for (int i = 0; i < 8; i++)
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    unsigned top = cpu->fpu.top;
    assert_int_equal(run_fpu(cpu, 0xd9, 0xee, 0), -1);
    assert_int_equal(cpu->fpu.top, top);
    assert_int_equal(fpu_status_word(&cpu->fpu) & 0x82ff, 0x82c1);
    free_cpu(cpu);
}

static void test_tags_and_fxam(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    static const struct { f80 v; uint16_t cc; unsigned tag; } cases[] = {
        { { 0, 0 }, 0x4000, 1 },                                  /* +0: C3 */
        { { 0, 0x8000 }, 0x4200, 1 },                             /* -0: C3 C1 */
        { { 0x8000000000000000ull, 0x3fff }, 0x0400, 0 },         /* normal: C2 */
        { { 0x8000000000000000ull, 0xffff }, 0x0700, 2 },         /* -inf: C2 C0 C1 */
        { { 0xc000000000000000ull, 0x7fff }, 0x0100, 2 },         /* NaN: C0 */
        { { 1, 0 }, 0x4400, 2 },                                  /* denormal: C3 C2 */
        { { 0x4000000000000000ull, 0x4000 }, 0x0000, 2 },         /* unnormal: unsupported */
    };
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        fpu_reset(cpu);
        push_m80(cpu, cases[k].v);
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe5, 0), -1);
        assert_int_equal(fpu_status_word(&cpu->fpu) & 0x4700, cases[k].cc);
        assert_int_equal(fpu_tag_word(&cpu->fpu), (0xffff & ~(3u << 14)) | cases[k].tag << 14);
    }
    /* FXAM on an empty register: C3 and C0. */
    fpu_reset(cpu);
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe5, 0), -1);
    assert_int_equal(fpu_status_word(&cpu->fpu) & 0x4500, 0x4100);
    free_cpu(cpu);
}

static void test_precision_control(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    for (unsigned pc = 0; pc < 4; pc++) {
        fpu_reset(cpu);
        uint16_t cw = (uint16_t)(0x007f | pc << 8);
        memcpy(mem + 0x10, &cw, 2);
        assert_int_equal(run_fpu(cpu, 0xd9, 0x2d, 0x10), -1); /* FLDCW */
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);       /* 1 */
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);       /* 1 */
        assert_int_equal(run_fpu(cpu, 0xd8, 0xc1, 0), -1);       /* 2 */
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);       /* 1 */
        assert_int_equal(run_fpu(cpu, 0xd8, 0xc1, 0), -1);       /* 3 */
        assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);       /* 1 */
        assert_int_equal(run_fpu(cpu, 0xde, 0xf1, 0), -1);       /* FDIVRP: 1/3 */
        uint64_t m = cpu->fpu.st[cpu->fpu.top].mant;
        /* 1/3 = 0.0101..b: significand AAAA... rounded to 24, 53 or 64 bits. */
        switch (pc) {
        case 0: assert_int_equal(m, 0xaaaaab0000000000ull); break;
        case 2: assert_int_equal(m, 0xaaaaaaaaaaaaa800ull); break;
        case 3: assert_int_equal(m, 0xaaaaaaaaaaaaaaabull); break;
        }
        assert_true(fpu_status_word(&cpu->fpu) & F80_PE);
    }
    free_cpu(cpu);
}

static void test_fldcw_fstcw_fnstsw(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    uint16_t cw = 0;
    memcpy(mem + 0x10, &cw, 2);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x2d, 0x10), -1);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x3d, 0x20), -1); /* FNSTCW */
    assert_int_equal(mem[0x20] | mem[0x21] << 8, 0x0040);
    /* Reserved bits 6 (reads as one) and 13-15 (zero); IC (bit 12) is kept. */
    cw = 0xffff;
    memcpy(mem + 0x10, &cw, 2);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x2d, 0x10), -1);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x3d, 0x20), -1);
    assert_int_equal(mem[0x20] | mem[0x21] << 8, 0x1f7f);
    fpu_reset(cpu);
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    cpu->regs[R_EAX] = 0x12345678;
    assert_int_equal(run_fpu(cpu, 0xdf, 0xe0, 0), -1); /* FNSTSW AX: TOP = 7 */
    assert_int_equal(cpu->regs[R_EAX], 0x12343800);
    free_cpu(cpu);
}

static void test_fnstenv_layout_protected32(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    cpu->eip_start = 0x1234;
    cpu->seg[SEG_DS].sel = 0x2b;
    uint32_t one = 0x3f800000;
    memcpy(mem + 0x500, &one, 4);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x05, 0x500), -1); /* FLD m32 at DS:0x500 */
    cpu->eip_start = 0x9999;
    assert_int_equal(run_fpu(cpu, 0xd9, 0x35, 0x600), -1); /* FNSTENV */
    uint32_t w[7];
    memcpy(w, mem + 0x600, 28);
    assert_int_equal(w[0] & 0xffff, 0x037f);
    assert_int_equal(w[1] & 0xffff, 0x3800);
    assert_int_equal(w[2] & 0xffff, 0x3fff); /* R7 valid, others empty */
    assert_int_equal(w[3], 0x1234);
    assert_int_equal(w[4], 0x08u | (0x105u << 16)); /* FCS, FOP = D9 05 */
    assert_int_equal(w[5], 0x500);
    assert_int_equal(w[6] & 0xffff, 0x2b);
    /* FSTENV masks every exception afterwards. */
    assert_int_equal(cpu->fpu.control & 0x3f, 0x3f);
    /* FLDENV restores. */
    mem[0x600] = 0x72;
    assert_int_equal(run_fpu(cpu, 0xd9, 0x25, 0x600), -1);
    assert_int_equal(cpu->fpu.control, 0x0372);
    assert_int_equal(cpu->fpu.top, 7);
    free_cpu(cpu);
}

static void test_fnsave_frstor_roundtrip(void **state)
{
    (void)state;
    for (int layout = 0; layout < 4; layout++) {
        struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
        bool op32 = layout & 1;
        cpu->pe = layout & 2;
        cpu->eip_start = 0x10;
        for (unsigned i = 0; i < 3; i++)
            push_m80(cpu, edges[i + 4]);
        assert_int_equal(run_fpu(cpu, 0xd9, 0xeb, 0), -1); /* FLDPI */
        struct fpu_state before = cpu->fpu;
        assert_int_equal(run_fpu_sz(cpu, 0xdd, 0x35, 0x800, op32), -1); /* FNSAVE */
        /* FNSAVE reinitialises the FPU. */
        assert_int_equal(cpu->fpu.control, 0x037f);
        assert_int_equal(fpu_tag_word(&cpu->fpu), 0xffff);
        unsigned n = op32 ? 28 : 14;
        f80 st0;
        memcpy(&st0, env_of(cpu)->mem + 0x800 + n, 10);
        st0.se = (uint16_t)(env_of(cpu)->mem[0x800 + n + 8] | env_of(cpu)->mem[0x800 + n + 9] << 8);
        assert_true(same(st0, before.st[before.top]));
        assert_int_equal(run_fpu_sz(cpu, 0xdd, 0x25, 0x800, op32), -1); /* FRSTOR */
        assert_int_equal(cpu->fpu.top, before.top);
        assert_int_equal(cpu->fpu.valid, before.valid);
        assert_int_equal(fpu_status_word(&cpu->fpu), fpu_status_word(&before));
        /* Real-mode images hold the linear address (CS * 16 + IP). */
        assert_int_equal(cpu->fpu.fip, cpu->pe ? before.fip : before.fip + before.fcs * 16u);
        for (int r = 0; r < 8; r++)
            if (before.valid >> r & 1)
                assert_true(same(cpu->fpu.st[r], before.st[r]));
        free_cpu(cpu);
    }
}

static void test_fxsave_layout_and_fxrstor(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    push_m80(cpu, edges[2]);
    push_m80(cpu, edges[6]);
    cpu->fpu.mxcsr = 0x1f80 | 0x6000;
    memset(cpu->fpu.xmm[3].b, 0xa5, 16);
    memset(mem + 0x1000, 0xee, 512);
    assert_int_equal(run_fx(cpu, true, 0x1000), -1);
    assert_int_equal(mem[0x1000] | mem[0x1001] << 8, 0x037f);
    assert_int_equal(mem[0x1002] | mem[0x1003] << 8, 0x3000); /* TOP = 6 */
    assert_int_equal(mem[0x1004], 0xc0);                       /* abridged tags */
    assert_int_equal(mem[0x1018] | mem[0x1019] << 8, 0x7f80);  /* MXCSR */
    assert_memory_equal(mem + 0x1020, &edges[6].mant, 8);      /* ST0 */
    assert_int_equal(mem[0x1028] | mem[0x1029] << 8, edges[6].se);
    assert_memory_equal(mem + 0x1030, &edges[2].mant, 8);      /* ST1 */
    assert_int_equal(mem[0x10d0], 0xa5);                       /* XMM3 at 160 + 48 */
    assert_int_equal(mem[0x1000 + 464], 0xee);                 /* reserved area untouched */
    fpu_reset(cpu);
    assert_int_equal(run_fx(cpu, false, 0x1000), -1);
    assert_int_equal(cpu->fpu.top, 6);
    assert_int_equal(cpu->fpu.valid, 0xc0);
    assert_int_equal(cpu->fpu.mxcsr, 0x7f80);
    assert_true(same(cpu->fpu.st[6], edges[6]));
    /* Misaligned: #GP. Reserved MXCSR bits (DAZ on a Pentium III): #GP. */
    assert_int_equal(run_fx(cpu, true, 0x1008), EXC_GP);
    mem[0x1018] |= 0x40;
    assert_int_equal(run_fx(cpu, false, 0x1000), EXC_GP);
    free_cpu(cpu);
    /* Pentium II (FXSR without SSE): the MXCSR and XMM areas are reserved, not written. */
    cpu = make_cpu(FEAT_EDX_P3 & ~(1u << 25), 0);
    mem = env_of(cpu)->mem;
    memset(mem + 0x1000, 0xee, 512);
    push_m80(cpu, edges[2]);
    assert_int_equal(run_fx(cpu, true, 0x1000), -1);
    assert_int_equal(mem[0x1004], 0x80);
    assert_int_equal(mem[0x1018], 0); /* MXCSR field: reserved, stored as zero */
    assert_int_equal(mem[0x1000 + 160], 0xee);
    assert_int_equal(run_fx(cpu, false, 0x1000), -1); /* no MXCSR check either */
    free_cpu(cpu);
}

static void test_cr0_nm_rules(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    cpu->cr0 |= CR0_TS;
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), EXC_NM);
    assert_int_equal(run_fpu(cpu, 0xdb, 0xe3, 0), EXC_NM); /* even FNINIT */
    assert_int_equal(run_wait(cpu), EXC_NM);                /* MP+TS */
    cpu->cr0 &= ~CR0_MP;
    assert_int_equal(run_wait(cpu), -1);                    /* TS alone: WAIT runs */
    cpu->cr0 = (cpu->cr0 & ~CR0_TS) | CR0_EM;
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), EXC_NM);
    assert_int_equal(run_wait(cpu), -1);                    /* EM does not affect WAIT */
    cpu->cr0 &= ~CR0_EM;
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    free_cpu(cpu);
}

static void test_unmasked_exception_mf_and_ferr(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint16_t cw = 0x037b; /* ZE unmasked */
    memcpy(env_of(cpu)->mem + 0x10, &cw, 2);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x2d, 0x10), -1);
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1); /* 1 */
    assert_int_equal(run_fpu(cpu, 0xd9, 0xee, 0), -1); /* 0 */
    assert_int_equal(run_fpu(cpu, 0xde, 0xf9, 0), -1); /* FDIVP: 1/0, ZE unmasked */
    assert_int_equal(fpu_status_word(&cpu->fpu) & 0x80ff, 0x8084);
    assert_int_equal(cpu->fpu.top, 6); /* no pop on an unmasked ZE */
    /* Next waiting instruction: #MF (CR0.NE); non-waiting ones run. */
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), EXC_MF);
    assert_int_equal(run_wait(cpu), EXC_MF);
    assert_int_equal(run_fpu(cpu, 0xd9, 0x3d, 0x20), -1); /* FNSTCW */
    assert_int_equal(run_fpu(cpu, 0xdb, 0xe2, 0), -1);    /* FNCLEX */
    assert_int_equal(run_wait(cpu), -1);
    /* Without CR0.NE: FERR# at the next waiting instruction, cleared by FNCLEX. */
    cpu->cr0 &= ~CR0_NE;
    assert_int_equal(run_fpu(cpu, 0xde, 0xf9, 0), -1);
    assert_int_equal(env_of(cpu)->ferr_calls, 0);
    assert_int_equal(run_wait(cpu), -1);
    assert_int_equal(env_of(cpu)->ferr_level, 1);
    assert_int_equal(run_fpu(cpu, 0xdb, 0xe2, 0), -1);
    assert_int_equal(env_of(cpu)->ferr_level, 0);
    assert_int_equal(env_of(cpu)->ferr_calls, 2);
    free_cpu(cpu);
}

static void test_fisttp_needs_sse3_and_fcomi_needs_p6(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    assert_int_equal(run_fpu(cpu, 0xdb, 0x0d, 0x20), EXC_UD);
    free_cpu(cpu);
    cpu = make_cpu(1, 0); /* a 486/Pentium: FPU only */
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    assert_int_equal(run_fpu(cpu, 0xdb, 0xf1, 0), EXC_UD);
    assert_int_equal(run_fpu(cpu, 0xda, 0xc1, 0), EXC_UD);
    free_cpu(cpu);
}

/* FNSAVE images of the host and of the emulator after loading three values: control, status
 * and full tag words (with the reserved upper halves) and the registers must agree. */
static void test_fnsave_image_matches_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    for (unsigned i = 0; i < N_EDGES; i++) {
        uint8_t host[108];
        f80 a = edges[i], b = edges[(i + 7) % N_EDGES], c = edges[(i + 13) % N_EDGES];
        uint16_t saved;
        __asm__ volatile("fnstcw %[sv]\n\tfninit\n\tfldt %[a]\n\tfldt %[b]\n\tfldt %[c]\n\t"
                         "fnsave %[img]\n\tfldcw %[sv]"
                         : [img] "=m"(host), [sv] "+m"(saved)
                         : [a] "m"(a), [b] "m"(b), [c] "m"(c)
                         : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
                           "memory");
        fpu_reset(cpu);
        push_m80(cpu, a);
        push_m80(cpu, b);
        push_m80(cpu, c);
        /* FXSAVE: control, status, abridged tags and the register slots (with their zeroed
         * reserved bytes) as the host writes them. */
        uint8_t hfx[512] __attribute__((aligned(16)));
        __asm__ volatile("fnstcw %[sv]\n\tfninit\n\tfldt %[a]\n\tfldt %[b]\n\tfldt %[c]\n\t"
                         "fxsave %[img]\n\tfninit\n\tfldcw %[sv]"
                         : [img] "=m"(hfx), [sv] "+m"(saved)
                         : [a] "m"(a), [b] "m"(b), [c] "m"(c)
                         : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
                           "memory");
        assert_int_equal(run_fx(cpu, true, 0x1000), -1);
        assert_memory_equal(mem + 0x1000, hfx, 5);
        assert_memory_equal(mem + 0x1000 + 32, hfx + 32, 48); /* empty slots hold stale data */
        assert_int_equal(run_fpu(cpu, 0xdd, 0x35, 0x800), -1); /* FNSAVE */
        if (memcmp(mem + 0x800, host, 12) != 0 || memcmp(mem + 0x800 + 28, host + 28, 30) != 0) {
            print_error("value %u: cw/sw/tw %08x %08x %08x host %08x %08x %08x\n", i,
                        *(uint32_t *)(mem + 0x800), *(uint32_t *)(mem + 0x804),
                        *(uint32_t *)(mem + 0x808), *(uint32_t *)host, *(uint32_t *)(host + 4),
                        *(uint32_t *)(host + 8));
            fail();
        }
    }
    free_cpu(cpu);
}

static void test_fbld_and_fcmov(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    /* FBLD -123456789012345678 (packed BCD, sign in byte 9), then FBSTP it back. */
    static const uint8_t bcd[10] = { 0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80 };
    memcpy(mem + 0x60, bcd, 10);
    assert_int_equal(run_fpu(cpu, 0xdf, 0x25, 0x60), -1); /* FBLD */
    f80 v = cpu->fpu.st[cpu->fpu.top];
    struct native n;
    native_init(&n, 0x037f, edges[0], edges[0]);
    memcpy(n.m, bcd, 10);
    NATIVE(n, "fbld %[m]");
    assert_true(same(v, n.r[0]));
    assert_int_equal(v.se, 0xc037); /* negative, 2^56 <= |x| < 2^57 */
    assert_int_equal(run_fpu(cpu, 0xdf, 0x35, 0x70), -1); /* FBSTP */
    assert_memory_equal(mem + 0x70, bcd, 10);
    assert_int_equal(fpu_tag_word(&cpu->fpu), 0xffff);
    /* FCMOVB / FCMOVNE on EFLAGS. */
    push_m80(cpu, edges[2]); /* ST(1) = 1 */
    push_m80(cpu, edges[4]); /* ST(0) = 3 */
    cpu->eflags = 2;
    assert_int_equal(run_fpu(cpu, 0xda, 0xc1, 0), -1); /* FCMOVB: CF=0, no move */
    assert_true(same(cpu->fpu.st[cpu->fpu.top], edges[4]));
    assert_int_equal(run_fpu(cpu, 0xdb, 0xc9, 0), -1); /* FCMOVNE: ZF=0, move */
    assert_true(same(cpu->fpu.st[cpu->fpu.top], edges[2]));
    free_cpu(cpu);
}

static void test_fip_fop_recorded(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    cpu->eip_start = 0x4242;
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    assert_int_equal(cpu->fpu.fip, 0x4242);
    assert_int_equal(cpu->fpu.fop, 0x1e8);
    cpu->eip_start = 0x5555;
    assert_int_equal(run_fpu(cpu, 0xd9, 0x3d, 0x20), -1); /* FNSTCW: a control instruction */
    assert_int_equal(cpu->fpu.fip, 0x4242);
    free_cpu(cpu);
}

/* ---- Whole-state comparisons with the host: every defined register form ----
 * The host runs FRSTOR image; the instruction; FNSAVE from a generated code page, the emulator
 * the same through its own FRSTOR/FNSAVE, from random states: empty registers (stack underflow
 * and overflow), random TOP, condition codes and control words (masks, precision, rounding) and
 * special values. Control and status words, the full tag word and all eight registers must
 * agree, so the masked responses to stack faults, the tags they leave and the condition codes
 * each instruction leaves alone are all checked. Forms reading or writing EFLAGS (FCMOVcc,
 * FCOMI) and the ones that trap on the host (undefined) are left out. */

#include <sys/mman.h>

typedef void (*jit_fn)(const void *in, void *out);

/* FRSTOR [rdi]; b0 b1; FNSAVE [rsi]; FNINIT; RET. */
static jit_fn jit_make(uint8_t *page, uint8_t b0, uint8_t b1)
{
    static const uint8_t head[] = { 0xdd, 0x27 }, tail[] = { 0xdd, 0x36, 0xdb, 0xe3, 0xc3 };
    memcpy(page, head, 2);
    page[2] = b0;
    page[3] = b1;
    memcpy(page + 4, tail, sizeof(tail));
    jit_fn fn;
    void *p = page;
    memcpy(&fn, &p, sizeof(fn));
    return fn;
}

static bool jit_form(uint8_t op, uint8_t modrm)
{
    unsigned reg = modrm >> 3 & 7;
    if ((op == 0xda || op == 0xdb) && reg < 4)
        return false; /* FCMOVcc */
    if ((op == 0xdb || op == 0xdf) && (reg == 5 || reg == 6))
        return false; /* FCOMI family */
    if (op == 0xdb && modrm >= 0xe0 && modrm <= 0xe4)
        return false; /* control: FNINIT/FNCLEX and no-ops */
    if (op == 0xdf && modrm == 0xe0)
        return false; /* FNSTSW AX */
    return true;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_register_forms_match_host_state(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    uint8_t *mem = env_of(cpu)->mem;
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
    assert_true(page != MAP_FAILED);
    uint64_t x = 0x2545f4914f6cdd1dull;
    unsigned forms = 0, failures = 0;
    for (unsigned op = 0xd8; op <= 0xdf; op++)
        for (unsigned modrm = 0xc0; modrm <= 0xff; modrm++) {
            /* Defined here: the emulator runs it (no #UD) from a clean state. */
            fpu_reset(cpu);
            if (!jit_form((uint8_t)op, (uint8_t)modrm) ||
                run_fpu(cpu, (uint8_t)op, (uint8_t)modrm, 0) == EXC_UD)
                continue;
            forms++;
            jit_fn fn = jit_make(page, (uint8_t)op, (uint8_t)modrm);
            for (unsigned k = 0; k < 200; k++) {
                uint8_t img[108], host[108];
                uint64_t r = xorshift(&x);
                memset(img, 0, sizeof(img));
                /* Control word: masks (IE unmasked now and then), precision, rounding. */
                uint16_t cw = (uint16_t)(0x0040 | (r & 0x0f00) | ((r >> 12 & 3) ? 0x3f : 0x3e));
                /* Status word: TOP, condition codes, flags that are all masked (no ES). */
                uint16_t sw = (uint16_t)((r >> 16 & 0x3800) | (r >> 20 & 0x4700) |
                                         (r >> 28 & 0x3f & cw));
                uint16_t tw = (uint16_t)(r >> 40);
                memcpy(img, &cw, 2);
                memcpy(img + 4, &sw, 2);
                memcpy(img + 8, &tw, 2);
                for (unsigned i = 0; i < 8; i++) {
                    f80 v = edges[xorshift(&x) % N_EDGES];
                    if (i & 1) /* and ordinary numbers */
                        v = (f80){ xorshift(&x) | 1ull << 63, (uint16_t)(0x3ff0 + i) };
                    memcpy(img + 28 + 10 * i, &v.mant, 8);
                    memcpy(img + 36 + 10 * i, &v.se, 2);
                }
                uint16_t saved;
                __asm__ volatile("fnstcw %0" : "=m"(saved));
                fn(img, host);
                __asm__ volatile("fldcw %0" : : "m"(saved));
                memcpy(mem + 0x100, img, sizeof(img));
                fpu_reset(cpu);
                assert_int_equal(run_fpu(cpu, 0xdd, 0x25, 0x100), -1); /* FRSTOR */
                assert_int_equal(run_fpu(cpu, (uint8_t)op, (uint8_t)modrm, 0), -1);
                assert_int_equal(run_fpu(cpu, 0xdd, 0x35, 0x200), -1); /* FNSAVE */
                const uint8_t *got = mem + 0x200;
                if (memcmp(got, host, 2) || memcmp(got + 4, host + 4, 2) ||
                    memcmp(got + 8, host + 8, 2) || memcmp(got + 28, host + 28, 80)) {
                    print_error("%02x %02x from cw %04x sw %04x tw %04x: got cw %04x sw %04x tw "
                                "%04x, host cw %04x sw %04x tw %04x\n", op, modrm, cw, sw, tw,
                                got[0] | got[1] << 8, got[4] | got[5] << 8, got[8] | got[9] << 8,
                                host[0] | host[1] << 8, host[4] | host[5] << 8,
                                host[8] | host[9] << 8);
                    for (unsigned i = 0; i < 8; i++)
                        if (memcmp(got + 28 + 10 * i, host + 28 + 10 * i, 10))
                            print_error("  R%u differs\n", ((sw >> 11) + i) & 7);
                    failures++;
                    break; /* one report per form */
                }
            }
        }
    munmap(page, 4096);
    free_cpu(cpu);
    assert_int_equal(failures, 0);
    assert_true(forms > 300);
}

/* Undefined encodings raise #UD even with an unmasked exception pending (#MF comes only at a
 * defined waiting instruction). */
static void test_undefined_before_pending_mf(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    static const uint8_t undefined[][2] = {
        { 0xd9, 0xd1 }, { 0xd9, 0xe2 }, { 0xd9, 0xe7 }, { 0xd9, 0xef }, { 0xda, 0xe0 },
        { 0xda, 0xf8 }, { 0xdb, 0xe5 }, { 0xdb, 0xf8 }, { 0xdd, 0xf0 }, { 0xde, 0xd8 },
        { 0xdf, 0xe1 }, { 0xdf, 0xf8 },
        { 0xd9, 0x08 }, { 0xdb, 0x20 }, { 0xdb, 0x30 }, { 0xdd, 0x28 }, /* memory /1 /4 /6 /5 */
    };
    for (unsigned k = 0; k < sizeof(undefined) / sizeof(undefined[0]); k++) {
        fpu_reset(cpu);
        cpu->fpu.control = 0x037e;
        assert_int_equal(run_fpu(cpu, 0xd8, 0xc1, 0), -1); /* underflow, IE unmasked: ES */
        assert_int_equal(cpu->fpu.status & F80_ES, F80_ES);
        assert_int_equal(run_fpu(cpu, undefined[k][0], undefined[k][1], 0x40), EXC_UD);
    }
    assert_int_equal(run_fpu(cpu, 0xd9, 0xd0, 0), EXC_MF); /* FNOP waits */
    assert_int_equal(run_fpu(cpu, 0xdf, 0xe0, 0), -1);     /* FNSTSW AX does not */
    free_cpu(cpu);
}

/* Condition codes of FCMOVcc and FCOMI: without a stack fault they stay as they were (SDM
 * Vol. 1 table 8-3: C1 "#IS" only; FCMOVcc: "C1 set to 0 if stack underflow occurred"). */
static void test_fcmov_fcomi_leave_condition_codes(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    push_m80(cpu, edges[2]);
    push_m80(cpu, edges[4]);
    for (unsigned k = 0; k < 2; k++) {
        uint16_t cc = k ? 0x4700 : 0;
        cpu->fpu.status = cc;
        cpu->eflags = 2 | FLAG_CF;
        assert_int_equal(run_fpu(cpu, 0xda, 0xc1, 0), -1); /* FCMOVB: moves */
        assert_int_equal(cpu->fpu.status, cc);
        assert_int_equal(run_fpu(cpu, 0xdb, 0xf1, 0), -1); /* FCOMI: 1 = 1 */
        assert_int_equal(cpu->fpu.status, cc);
        assert_int_equal(cpu->eflags & (FLAG_ZF | FLAG_PF | FLAG_CF), FLAG_ZF);
    }
    /* A stack underflow clears C1, sets IE and SF, and reads as unordered. */
    fpu_reset(cpu);
    push_m80(cpu, edges[2]);
    cpu->fpu.status = 0x0200;
    assert_int_equal(run_fpu(cpu, 0xdb, 0xf1, 0), -1);
    assert_int_equal(cpu->fpu.status & 0x02ff, 0x0041);
    assert_int_equal(cpu->eflags & (FLAG_ZF | FLAG_PF | FLAG_CF), FLAG_ZF | FLAG_PF | FLAG_CF);
    free_cpu(cpu);
}

/* The host may keep exception flags set between runs when the guest already has them set and
 * masked; they must never show up in a guest that does not. */
static void test_stale_host_flags_do_not_leak(void **state)
{
    (void)state;
    f80 one = edges[2], third = edges[5], d = one;
    /* 1/3 with PE already sticky in the guest: leaves PE set on the host. */
    f80_arith(F80_DIV, f80_ctx_of(0x037f, F80_PE), &d, &third, F80_X80);
    /* Then 1 + 1, exact, in a guest with no flags: nothing raised. */
    d = one;
    assert_int_equal(f80_arith(F80_ADD, f80_ctx_of(0x037f, 0), &d, &one, F80_X80) & F80_EXC, 0);
    assert_int_equal(d.se, 0x4000);
    /* A masked stack fault of the host itself (an empty register popped by a run after an
     * out-of-range FPTAN) must not leak IE either. */
    f80 st[3] = { { 0x8000000000000000ull, 0x7000 }, one, one };
    int delta;
    f80_stack(F80_FPTAN, f80_ctx_of(0x037f, 0), st, &delta);
    d = one;
    assert_int_equal(f80_arith(F80_MUL, f80_ctx_of(0x037f, 0), &d, &one, F80_X80) & F80_EXC, 0);
    /* Sticky flags of the guest's own status word come back with the condition codes an
     * instruction leaves alone: FSQRT writes only C1. */
    st[0] = edges[4];
    unsigned bits = f80_stack(F80_FSQRT, f80_ctx_of(0x037f, 0x4500), st, &delta);
    assert_int_equal(bits & (F80_C0 | F80_C2 | F80_C3), 0x4500);
}

/* FST m32/m64 at the edges of the formats' exponent ranges, where rounding carries into the
 * exponent: overflow to infinity or the largest number, and denormals rounding up to the
 * smallest normal, in every rounding mode and with PE/OE/UE masked and unmasked. */
static void test_store_rounding_edges_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    uint8_t *mem = env_of(cpu)->mem;
    static const uint16_t exps[] = { 0x3fff + 1023, 0x3fff + 1024, 0x3fff - 1022, 0x3fff - 1023,
                                     0x3fff + 127, 0x3fff + 128, 0x3fff - 126, 0x3fff - 127 };
    static const uint64_t mants[] = { ~0ull, 0xfffffffffffff800ull, 0xfffffffffffffc00ull,
                                      0xffffff8000000000ull, 0xffffffffffffff00ull,
                                      0x8000000000000001ull, 0x8000000000000400ull };
    for (unsigned dbl = 0; dbl < 2; dbl++)
        for (unsigned c = 0; c < N_CWS; c++)
            for (unsigned e = 0; e < sizeof(exps) / sizeof(exps[0]); e++)
                for (unsigned m = 0; m < sizeof(mants) / sizeof(mants[0]); m++)
                    for (unsigned sg = 0; sg < 2; sg++) {
                        f80 v = { mants[m], (uint16_t)(exps[e] | sg << 15) };
                        struct native n;
                        native_init(&n, cws[c], v, edges[0]);
                        memset(n.m, 0x5a, sizeof(n.m));
                        if (dbl)
                            NATIVE(n, "fstl %[m]");
                        else
                            NATIVE(n, "fsts %[m]");
                        fpu_reset(cpu);
                        cpu->fpu.control = cws[c];
                        push_m80(cpu, v);
                        memset(mem + 0x300, 0x5a, 16);
                        assert_int_equal(run_fpu(cpu, dbl ? 0xdd : 0xd9, 0x15, 0x300), -1);
                        if (memcmp(mem + 0x300, n.m, 8) != 0 ||
                            (fpu_status_word(&cpu->fpu) & SW_CMP) != (n.sw & SW_CMP)) {
                            print_error("fst%s cw %04x of %04x:%016llx: sw %04x host %04x\n",
                                        dbl ? "l" : "s", cws[c], v.se,
                                        (unsigned long long)v.mant,
                                        fpu_status_word(&cpu->fpu) & SW_CMP, n.sw & SW_CMP);
                            fail();
                        }
                    }
    free_cpu(cpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith_registers_match_host),
        cmocka_unit_test(test_arith_random_matches_host),
        cmocka_unit_test(test_arith_memory_matches_host),
        cmocka_unit_test(test_stack_ops_match_host),
        cmocka_unit_test(test_stack_ops_random_match_host),
        cmocka_unit_test(test_stores_match_host),
        cmocka_unit_test(test_loads_match_host),
        cmocka_unit_test(test_compare_and_fcomi_match_host),
        cmocka_unit_test(test_stack_underflow_overflow),
        cmocka_unit_test(test_tags_and_fxam),
        cmocka_unit_test(test_precision_control),
        cmocka_unit_test(test_fldcw_fstcw_fnstsw),
        cmocka_unit_test(test_fnstenv_layout_protected32),
        cmocka_unit_test(test_fnsave_frstor_roundtrip),
        cmocka_unit_test(test_fxsave_layout_and_fxrstor),
        cmocka_unit_test(test_cr0_nm_rules),
        cmocka_unit_test(test_unmasked_exception_mf_and_ferr),
        cmocka_unit_test(test_fisttp_needs_sse3_and_fcomi_needs_p6),
        cmocka_unit_test(test_fip_fop_recorded),
        cmocka_unit_test(test_fbld_and_fcmov),
        cmocka_unit_test(test_fnsave_image_matches_host),
        cmocka_unit_test(test_register_forms_match_host_state),
        cmocka_unit_test(test_undefined_before_pending_mf),
        cmocka_unit_test(test_fcmov_fcomi_leave_condition_codes),
        cmocka_unit_test(test_stale_host_flags_do_not_leak),
        cmocka_unit_test(test_store_rounding_edges_match_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* MMX/SSE/SSE2/SSE3 unit tests: the emulated instructions against the host's own MMX/SSE units
 * over edge-case lanes and every MXCSR rounding/FTZ/DAZ setting, plus SDM facts (register
 * aliasing, #XM/#UD/#NM/#GP rules, CPUID gating). */
#include <signal.h>
#include <ucontext.h>

#include "test_fpu_env.h"

typedef long long v2di __attribute__((vector_size(16)));

/* Run one 0F-map instruction; returns the exception vector raised, or -1. */
static int run_simd(struct cpu *cpu, uint8_t pfx, uint8_t op, uint8_t modrm, uint8_t imm,
                    uint32_t ea)
{
    struct simd_args a = { .prefix = pfx, .map = 1, .opcode = op, .modrm = modrm, .imm8 = imm,
                           .seg = modrm < 0xc0 ? SEG_DS : -1, .ea = ea, .str_seg = SEG_DS, .addr32 = true };
    env_of(cpu)->last_vector = -1;
    if (setjmp(cpu->fault_env))
        return env_of(cpu)->last_vector;
    cpu_simd_op(cpu, &a);
    return -1;
}

/* ---- Edge-case lanes ---- */

static const uint32_t f32e[] = { 0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x00000001,
                                 0x807fffff, 0x00800000, 0x7f7fffff, 0x7f800000, 0xff800000,
                                 0x7fc00001, 0x7f800001, 0xffc00000, 0x3eaaaaab, 0x4b800001,
                                 0xcf000000, 0x4effffff, 0x00c00000 };
#define N_F32 (sizeof(f32e) / sizeof(f32e[0]))
static const uint64_t f64e[] = { 0, 0x8000000000000000ull, 0x3ff0000000000000ull,
                                 0x0000000000000001ull, 0x800fffffffffffffull,
                                 0x0010000000000000ull, 0x7fefffffffffffffull,
                                 0x7ff0000000000000ull, 0xfff0000000000000ull,
                                 0x7ff8000000000001ull, 0x7ff0000000000001ull,
                                 0x3fd5555555555555ull, 0xc1e0000000000000ull,
                                 0x41dfffffffc00000ull, 0x47efffffe0000000ull,
                                 0x3690000000000001ull };
#define N_F64 (sizeof(f64e) / sizeof(f64e[0]))

static const uint32_t mxcsrs[] = { 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9f80, 0x1fc0, 0xffc0 };
#define N_MXCSR (sizeof(mxcsrs) / sizeof(mxcsrs[0]))

static void lanes(unsigned i, unsigned j, bool dbl, xmm_reg *d, xmm_reg *s)
{
    if (dbl) {
        d->q[0] = f64e[i]; d->q[1] = f64e[(j + 3) % N_F64];
        s->q[0] = f64e[j]; s->q[1] = f64e[(i + 5) % N_F64];
    } else {
        d->d[0] = f32e[i]; d->d[1] = f32e[j]; d->d[2] = f32e[(i + 3) % N_F32];
        d->d[3] = f32e[(j + 7) % N_F32];
        s->d[0] = f32e[j]; s->d[1] = f32e[(i + 1) % N_F32]; s->d[2] = f32e[(j + 5) % N_F32];
        s->d[3] = f32e[i];
    }
}

/* ---- Native references (the test's own list of mnemonics) ---- */

#define NATIVE_FP(INSN)                                                                       \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], %[d]\n\t"                \
                     "stmxcsr %[o]\n\tldmxcsr %[h]"                                           \
                     : [d] "+x"(vd), [o] "=m"(out), [h] "+m"(host)                            \
                     : [s] "x"(vs), [c] "m"(csr))

/* Floating-point forms: opcode, prefix, double lanes, native runner index. */
#define FP_LIST(X)                                                                            \
    X(0x51, 0x00, 0, sqrtps) X(0x51, 0x66, 1, sqrtpd) X(0x51, 0xf3, 0, sqrtss)                \
    X(0x51, 0xf2, 1, sqrtsd) X(0x52, 0x00, 0, rsqrtps) X(0x52, 0xf3, 0, rsqrtss)              \
    X(0x53, 0x00, 0, rcpps) X(0x53, 0xf3, 0, rcpss) X(0x58, 0x00, 0, addps)                   \
    X(0x58, 0x66, 1, addpd) X(0x58, 0xf3, 0, addss) X(0x58, 0xf2, 1, addsd)                   \
    X(0x59, 0x00, 0, mulps) X(0x59, 0x66, 1, mulpd) X(0x59, 0xf3, 0, mulss)                   \
    X(0x59, 0xf2, 1, mulsd) X(0x5a, 0x00, 0, cvtps2pd) X(0x5a, 0x66, 1, cvtpd2ps)             \
    X(0x5a, 0xf3, 0, cvtss2sd) X(0x5a, 0xf2, 1, cvtsd2ss) X(0x5b, 0x00, 0, cvtdq2ps)          \
    X(0x5b, 0x66, 0, cvtps2dq) X(0x5b, 0xf3, 0, cvttps2dq) X(0x5c, 0x00, 0, subps)            \
    X(0x5c, 0x66, 1, subpd) X(0x5c, 0xf3, 0, subss) X(0x5c, 0xf2, 1, subsd)                   \
    X(0x5d, 0x00, 0, minps) X(0x5d, 0x66, 1, minpd) X(0x5d, 0xf3, 0, minss)                   \
    X(0x5d, 0xf2, 1, minsd) X(0x5e, 0x00, 0, divps) X(0x5e, 0x66, 1, divpd)                   \
    X(0x5e, 0xf3, 0, divss) X(0x5e, 0xf2, 1, divsd) X(0x5f, 0x00, 0, maxps)                   \
    X(0x5f, 0x66, 1, maxpd) X(0x5f, 0xf3, 0, maxss) X(0x5f, 0xf2, 1, maxsd)                   \
    X(0xe6, 0x66, 1, cvttpd2dq) X(0xe6, 0xf3, 0, cvtdq2pd) X(0xe6, 0xf2, 1, cvtpd2dq)         \
    X(0xd0, 0x66, 1, addsubpd) X(0xd0, 0xf2, 0, addsubps) X(0x7c, 0x66, 1, haddpd)            \
    X(0x7c, 0xf2, 0, haddps) X(0x7d, 0x66, 1, hsubpd) X(0x7d, 0xf2, 0, hsubps)

#define FP_NATIVE_FN(o, p, dbl, name)                                                         \
    static uint32_t native_##name(uint32_t csr, xmm_reg *d, const xmm_reg *s)                 \
    {                                                                                         \
        v2di vd, vs;                                                                          \
        uint32_t out = 0, host = 0;                                                           \
        memcpy(&vd, d, 16);                                                                   \
        memcpy(&vs, s, 16);                                                                   \
        NATIVE_FP(#name);                                                                     \
        memcpy(d, &vd, 16);                                                                   \
        return out;                                                                           \
    }
FP_LIST(FP_NATIVE_FN)

struct fp_form {
    uint8_t op, pfx;
    bool dbl;
    const char *name;
    uint32_t (*native)(uint32_t, xmm_reg *, const xmm_reg *);
};
#define FP_FORM(o, p, dbl, name) { o, p, dbl, #name, native_##name },
static const struct fp_form fp_forms[] = { FP_LIST(FP_FORM) };

/* Memory operand size of a form (scalar and half-width conversions read less). */
static unsigned form_mem_size(const struct fp_form *f)
{
    if (f->op == 0x5a)
        return f->pfx == 0 ? 8 : f->pfx == 0x66 ? 16 : f->pfx == 0xf3 ? 4 : 8;
    if (f->op == 0xe6 && f->pfx == 0xf3)
        return 8;
    if (f->op == 0x5b || f->op == 0xe6 || f->op == 0xd0 || f->op == 0x7c || f->op == 0x7d)
        return 16;
    return f->pfx == 0xf3 ? 4 : f->pfx == 0xf2 ? 8 : 16;
}

static void test_fp_ops_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    uint8_t *mem = env_of(cpu)->mem;
    for (unsigned k = 0; k < sizeof(fp_forms) / sizeof(fp_forms[0]); k++) {
        const struct fp_form *f = &fp_forms[k];
        unsigned n = f->dbl ? N_F64 : N_F32;
        for (unsigned c = 0; c < N_MXCSR; c++)
            for (unsigned i = 0; i < n; i++)
                for (unsigned j = 0; j < n; j++)
                    for (int memform = 0; memform < 2; memform++) {
                        xmm_reg d, s, want;
                        lanes(i, j, f->dbl, &d, &s);
                        want = d;
                        uint32_t flags = f->native(mxcsrs[c], &want, &s) & 0x3f;
                        cpu->fpu.mxcsr = mxcsrs[c];
                        cpu->fpu.xmm[1] = d;
                        cpu->fpu.xmm[2] = s;
                        memset(mem + 0x100, 0, 16);
                        memcpy(mem + 0x100, &s, form_mem_size(f));
                        int v = run_simd(cpu, f->pfx, f->op, memform ? 0x0d : 0xca, 0, 0x100);
                        if (v != -1 || memcmp(&cpu->fpu.xmm[1], &want, 16) != 0 ||
                            cpu->fpu.mxcsr != (mxcsrs[c] | flags)) {
                            print_error("%s mxcsr %04x lanes %u,%u mem %d: vec %d mxcsr %04x "
                                        "host %04x, got %016llx%016llx host %016llx%016llx\n",
                                        f->name, mxcsrs[c], i, j, memform, v, cpu->fpu.mxcsr,
                                        mxcsrs[c] | flags,
                                        (unsigned long long)cpu->fpu.xmm[1].q[1],
                                        (unsigned long long)cpu->fpu.xmm[1].q[0],
                                        (unsigned long long)want.q[1],
                                        (unsigned long long)want.q[0]);
                            fail();
                        }
                    }
    }
    free_cpu(cpu);
}

/* Random lanes (biased to close exponents) for every floating-point form and MXCSR. */
static void test_fp_ops_random_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    uint64_t x = 0x243f6a8885a308d3ull;
    for (unsigned k = 0; k < sizeof(fp_forms) / sizeof(fp_forms[0]); k++) {
        const struct fp_form *f = &fp_forms[k];
        for (unsigned n = 0; n < 600; n++) {
            xmm_reg d, s, want;
            for (int q = 0; q < 2; q++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                d.q[q] = x;
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                s.q[q] = x;
            }
            if (n & 1) { /* same exponents: cancellation and rounding at the last bit */
                if (f->dbl) {
                    s.q[0] = (s.q[0] & 0x800fffffffffffffull) | (d.q[0] & 0x7ff0000000000000ull);
                    s.q[1] = (s.q[1] & 0x800fffffffffffffull) | (d.q[1] & 0x7ff0000000000000ull);
                } else {
                    for (int q = 0; q < 4; q++)
                        s.d[q] = (s.d[q] & 0x807fffffu) | (d.d[q] & 0x7f800000u);
                }
            }
            uint32_t csr = mxcsrs[n % N_MXCSR];
            want = d;
            uint32_t flags = f->native(csr, &want, &s) & 0x3f;
            cpu->fpu.mxcsr = csr;
            cpu->fpu.xmm[3] = d;
            cpu->fpu.xmm[6] = s;
            assert_int_equal(run_simd(cpu, f->pfx, f->op, 0xde, 0, 0), -1);
            if (memcmp(&cpu->fpu.xmm[3], &want, 16) != 0 || cpu->fpu.mxcsr != (csr | flags)) {
                print_error("%s random %u: mxcsr %04x host %04x\n", f->name, n,
                            cpu->fpu.mxcsr, csr | flags);
                fail();
            }
        }
    }
    free_cpu(cpu);
}

/* ---- Unmasked SIMD exceptions: the host traps (SIGFPE) and the handler reads MXCSR from
 * the signal context. A signal handler can only reach the test through statics. ---- */
static sigjmp_buf trap_env;
static volatile uint32_t trap_mxcsr;

static void on_sigfpe(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    trap_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    siglongjmp(trap_env, 1);
}

/* Run form f natively with csr (exceptions possibly unmasked): returns true when the host
 * trapped, with the MXCSR at the trap in *mx; else the MXCSR after the operation. */
static bool native_trap(const struct fp_form *f, uint32_t csr, const xmm_reg *d,
                        const xmm_reg *s, uint32_t *mx)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, &old);
    volatile bool trapped = false;
    xmm_reg w = *d;
    if (sigsetjmp(trap_env, 1) == 0)
        *mx = f->native(csr, &w, s);
    else {
        trapped = true;
        *mx = trap_mxcsr;
    }
    sigaction(SIGFPE, &old, NULL);
    return trapped;
}

static void test_unmasked_exceptions_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (unsigned k = 0; k < sizeof(fp_forms) / sizeof(fp_forms[0]); k++) {
        const struct fp_form *f = &fp_forms[k];
        unsigned n = f->dbl ? N_F64 : N_F32;
        for (unsigned unmask = 0; unmask < 7; unmask++) {
            /* One exception unmasked at a time, then all of them. */
            uint32_t csr = unmask < 6 ? 0x1f80 & ~(0x80u << unmask) : 0x0000;
            for (unsigned i = 0; i < n + 60; i++)
                for (unsigned j = 0; j < n; j += 3) {
                    xmm_reg d, s;
                    uint32_t mx;
                    if (i < n) {
                        lanes(i, j, f->dbl, &d, &s);
                    } else {
                        /* Random lanes with exponents near the top and the bottom, some with
                         * short significands (exact results). */
                        for (int q = 0; q < 4; q++) {
                            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                            uint64_t m = x & ((x >> 60) & 1 ? 0xffffffffffffffffull : 0xfff0000000000000ull);
                            if (f->dbl) {
                                uint64_t e = (x >> 40 & 1) ? 2046 - (x >> 41 & 15) : 1 + (x >> 41 & 31);
                                uint64_t v = (x & 1ull << 63) | e << 52 | (m >> 12);
                                if (q < 2) d.q[q] = v; else s.q[q - 2] = v;
                            } else {
                                uint32_t e = (x >> 40 & 1) ? 254 - (uint32_t)(x >> 41 & 7) : 1 + (uint32_t)(x >> 41 & 15);
                                uint32_t v = (uint32_t)(x >> 32 & 0x80000000u) | e << 23 | (uint32_t)(m >> 41);
                                d.d[q] = v;
                                s.d[q] = v ^ (uint32_t)(x >> 8 & 0x807fff00u);
                            }
                        }
                    }
                    /* Every rounding mode, DAZ and FTZ on and off. */
                    uint32_t c = csr | (i & 3) << 13 | (i & 4 ? 0x40 : 0) | (i & 8 ? 0x8000 : 0);
                    bool trapped = native_trap(f, c, &d, &s, &mx);
                    cpu->fpu.mxcsr = c;
                    cpu->fpu.xmm[1] = d;
                    cpu->fpu.xmm[2] = s;
                    int v = run_simd(cpu, f->pfx, f->op, 0xca, 0, 0);
                    if (v != (trapped ? EXC_XM : -1) || cpu->fpu.mxcsr != mx ||
                        (trapped && memcmp(&cpu->fpu.xmm[1], &d, 16) != 0)) {
                        print_error("%s csr %04x lanes %u,%u: vector %d mxcsr %04x, host %s "
                                    "mxcsr %04x\n", f->name, c, i, j, v, cpu->fpu.mxcsr,
                                    trapped ? "trapped" : "ran", mx);
                        fail();
                    }
                }
        }
    }
    free_cpu(cpu);
}

/* Scalar conversions to integers and (U)COMIS* with unmasked exceptions, against host traps. */
#define SCALAR_NATIVE(FN, INSN, OUT)                                                          \
    static uint32_t FN(uint32_t csr, const xmm_reg *d, const xmm_reg *s)                      \
    {                                                                                         \
        v2di vd, vs;                                                                          \
        uint32_t out = 0, host = 0, r = 0;                                                    \
        memcpy(&vd, d, 16);                                                                   \
        memcpy(&vs, s, 16);                                                                   \
        __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], " OUT "\n\t"          \
                         "stmxcsr %[o]\n\tldmxcsr %[h]"                                       \
                         : [r] "=&r"(r), [o] "=m"(out), [h] "+m"(host)                         \
                         : [s] "x"(vs), [d] "x"(vd), [c] "m"(csr) : "cc");                    \
        (void)r;                                                                              \
        return out;                                                                           \
    }
SCALAR_NATIVE(nat_cvtss2si, "cvtss2si", "%[r]")
SCALAR_NATIVE(nat_cvttss2si, "cvttss2si", "%[r]")
SCALAR_NATIVE(nat_cvtsd2si, "cvtsd2si", "%[r]")
SCALAR_NATIVE(nat_cvttsd2si, "cvttsd2si", "%[r]")
SCALAR_NATIVE(nat_comiss, "comiss", "%[d]")
SCALAR_NATIVE(nat_ucomiss, "ucomiss", "%[d]")
SCALAR_NATIVE(nat_comisd, "comisd", "%[d]")
SCALAR_NATIVE(nat_ucomisd, "ucomisd", "%[d]")

static void test_unmasked_scalar_forms_match_host(void **state)
{
    (void)state;
    static const struct { uint8_t pfx, op, modrm; bool dbl; const char *name;
                          uint32_t (*native)(uint32_t, const xmm_reg *, const xmm_reg *); } forms[] = {
        { 0xf3, 0x2d, 0xda, false, "cvtss2si", nat_cvtss2si },
        { 0xf3, 0x2c, 0xda, false, "cvttss2si", nat_cvttss2si },
        { 0xf2, 0x2d, 0xda, true, "cvtsd2si", nat_cvtsd2si },
        { 0xf2, 0x2c, 0xda, true, "cvttsd2si", nat_cvttsd2si },
        { 0x00, 0x2f, 0xca, false, "comiss", nat_comiss },
        { 0x00, 0x2e, 0xca, false, "ucomiss", nat_ucomiss },
        { 0x66, 0x2f, 0xca, true, "comisd", nat_comisd },
        { 0x66, 0x2e, 0xca, true, "ucomisd", nat_ucomisd },
    };
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO;
    for (unsigned k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
        unsigned n = forms[k].dbl ? N_F64 : N_F32;
        for (unsigned unmask = 0; unmask < 7; unmask++) {
            uint32_t csr = unmask < 6 ? 0x1f80 & ~(0x80u << unmask) : 0x0000;
            for (unsigned i = 0; i < n; i++)
                for (unsigned j = 0; j < n; j++) {
                    xmm_reg d, s;
                    lanes(i, j, forms[k].dbl, &d, &s);
                    uint32_t c = csr | (i & 3) << 13 | (j & 1 ? 0x40 : 0);
                    volatile uint32_t mx = 0;
                    volatile bool trapped = false;
                    sigaction(SIGFPE, &sa, &old);
                    if (sigsetjmp(trap_env, 1) == 0) {
                        mx = forms[k].native(c, &d, &s);
                    } else {
                        trapped = true;
                        mx = trap_mxcsr;
                    }
                    sigaction(SIGFPE, &old, NULL);
                    cpu->fpu.mxcsr = c;
                    cpu->fpu.xmm[1] = d;
                    cpu->fpu.xmm[2] = s;
                    int v = run_simd(cpu, forms[k].pfx, forms[k].op, forms[k].modrm, 0, 0);
                    if (v != (trapped ? EXC_XM : -1) || cpu->fpu.mxcsr != mx) {
                        print_error("%s csr %04x lanes %u,%u: vector %d mxcsr %04x, host %s "
                                    "mxcsr %04x\n", forms[k].name, c, i, j, v, cpu->fpu.mxcsr,
                                    trapped ? "trapped" : "ran", (unsigned)mx);
                        fail();
                    }
                }
        }
    }
    free_cpu(cpu);
}

#define CMP_NATIVE(NAME, IMM)                                                                 \
    case IMM: NATIVE_FP(NAME " $" #IMM ","); break;

static uint32_t native_cmp(unsigned form, uint8_t imm, uint32_t csr, xmm_reg *d, const xmm_reg *s)
{
    v2di vd, vs;
    uint32_t out = 0, host = 0;
    memcpy(&vd, d, 16);
    memcpy(&vs, s, 16);
#define CMP_FORM(NAME)                                                                        \
    switch (imm) {                                                                            \
        CMP_NATIVE(NAME, 0) CMP_NATIVE(NAME, 1) CMP_NATIVE(NAME, 2) CMP_NATIVE(NAME, 3)       \
        CMP_NATIVE(NAME, 4) CMP_NATIVE(NAME, 5) CMP_NATIVE(NAME, 6) CMP_NATIVE(NAME, 7)       \
    }
    switch (form) {
    case 0: CMP_FORM("cmpps"); break;
    case 1: CMP_FORM("cmppd"); break;
    case 2: CMP_FORM("cmpss"); break;
    default: CMP_FORM("cmpsd"); break;
    }
    memcpy(d, &vd, 16);
    return out & 0x3f;
}

static void test_cmp_and_comi_match_host(void **state)
{
    (void)state;
    static const uint8_t pfx[4] = { 0x00, 0x66, 0xf3, 0xf2 };
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    for (unsigned form = 0; form < 4; form++) {
        bool dbl = form & 1;
        unsigned n = dbl ? N_F64 : N_F32;
        for (unsigned imm = 0; imm < 8; imm++)
            for (unsigned i = 0; i < n; i++)
                for (unsigned j = 0; j < n; j++) {
                    xmm_reg d, s, want;
                    lanes(i, j, dbl, &d, &s);
                    want = d;
                    uint32_t flags = native_cmp(form, (uint8_t)imm, 0x1f80, &want, &s);
                    cpu->fpu.mxcsr = 0x1f80;
                    cpu->fpu.xmm[1] = d;
                    cpu->fpu.xmm[2] = s;
                    assert_int_equal(run_simd(cpu, pfx[form], 0xc2, 0xca, (uint8_t)imm, 0), -1);
                    assert_memory_equal(&cpu->fpu.xmm[1], &want, 16);
                    assert_int_equal(cpu->fpu.mxcsr, 0x1f80 | flags);
                }
    }
    /* COMISS/UCOMISS/COMISD/UCOMISD: ZF/PF/CF and OF/SF/AF cleared, IE per the SDM. */
    for (unsigned form = 0; form < 4; form++) {
        bool dbl = form >= 2, unord = form & 1;
        unsigned n = dbl ? N_F64 : N_F32;
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++) {
                xmm_reg d, s;
                lanes(i, j, dbl, &d, &s);
                v2di vd, vs;
                uint32_t out = 0, host = 0, csr = 0x1f80;
                uint8_t z, p, cf;
                memcpy(&vd, &d, 16);
                memcpy(&vs, &s, 16);
#define NATIVE_COMI(INSN)                                                                     \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], %[d]\n\tsetz %[z]\n\t"   \
                     "setp %[p]\n\tsetc %[cf]\n\tstmxcsr %[o]\n\tldmxcsr %[h]"                \
                     : [z] "=&q"(z), [p] "=&q"(p), [cf] "=&q"(cf), [o] "=m"(out), [h] "+m"(host) \
                     : [d] "x"(vd), [s] "x"(vs), [c] "m"(csr) : "cc")
                switch (form) {
                case 0: NATIVE_COMI("comiss"); break;
                case 1: NATIVE_COMI("ucomiss"); break;
                case 2: NATIVE_COMI("comisd"); break;
                default: NATIVE_COMI("ucomisd"); break;
                }
                cpu->fpu.mxcsr = 0x1f80;
                cpu->fpu.xmm[1] = d;
                cpu->fpu.xmm[2] = s;
                cpu->eflags = 2 | FLAG_OF | FLAG_SF | FLAG_AF;
                assert_int_equal(run_simd(cpu, dbl ? 0x66 : 0, unord ? 0x2e : 0x2f, 0xca, 0, 0), -1);
                uint32_t want = 2 | (z ? FLAG_ZF : 0) | (p ? FLAG_PF : 0) | (cf ? FLAG_CF : 0);
                assert_int_equal(cpu->eflags, want);
                assert_int_equal(cpu->fpu.mxcsr, 0x1f80 | (out & 0x3f));
            }
    }
    free_cpu(cpu);
}

static void test_int_conversions_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    for (unsigned c = 0; c < N_MXCSR; c++)
        for (unsigned i = 0; i < N_F64; i++) {
            uint32_t csr = mxcsrs[c], host = 0, out = 0, r;
            v2di vs;
            xmm_reg s = { .q = { f64e[i], 0 } };
            xmm_reg sf = { .d = { f32e[i % N_F32], f32e[(i + 1) % N_F32], 0, 0 } };
            /* CVTSD2SI / CVTTSD2SI / CVTSS2SI / CVTTSS2SI */
            static const struct { uint8_t pfx, op; bool dbl; } forms[] = {
                { 0xf2, 0x2d, true }, { 0xf2, 0x2c, true }, { 0xf3, 0x2d, false }, { 0xf3, 0x2c, false },
            };
            for (unsigned k = 0; k < 4; k++) {
                memcpy(&vs, forms[k].dbl ? &s : &sf, 16);
#define NATIVE_TO_GPR(INSN)                                                                   \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], %[r]\n\t"                \
                     "stmxcsr %[o]\n\tldmxcsr %[h]"                                           \
                     : [r] "=&r"(r), [o] "=m"(out), [h] "+m"(host) : [s] "x"(vs), [c] "m"(csr))
                switch (k) {
                case 0: NATIVE_TO_GPR("cvtsd2si"); break;
                case 1: NATIVE_TO_GPR("cvttsd2si"); break;
                case 2: NATIVE_TO_GPR("cvtss2si"); break;
                default: NATIVE_TO_GPR("cvttss2si"); break;
                }
                cpu->fpu.mxcsr = csr;
                cpu->fpu.xmm[2] = forms[k].dbl ? s : sf;
                cpu->regs[R_EBX] = 0xdeadbeef;
                assert_int_equal(run_simd(cpu, forms[k].pfx, forms[k].op, 0xda, 0, 0), -1);
                assert_int_equal(cpu->regs[R_EBX], r);
                assert_int_equal(cpu->fpu.mxcsr, csr | (out & 0x3f));
            }
            /* CVTSI2SS / CVTSI2SD from EBX, merging into XMM1. */
            int32_t iv = (int32_t)(f64e[i] >> 17);
            for (unsigned k = 0; k < 2; k++) {
                v2di vd;
                xmm_reg d = { .q = { 0x1111111122222222ull, 0x3333333344444444ull } };
                memcpy(&vd, &d, 16);
#define NATIVE_FROM_GPR(INSN)                                                                 \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[i], %[d]\n\t"                \
                     "stmxcsr %[o]\n\tldmxcsr %[h]"                                           \
                     : [d] "+x"(vd), [o] "=m"(out), [h] "+m"(host) : [i] "r"(iv), [c] "m"(csr))
                if (k == 0)
                    NATIVE_FROM_GPR("cvtsi2ssl");
                else
                    NATIVE_FROM_GPR("cvtsi2sdl");
                cpu->fpu.mxcsr = csr;
                cpu->fpu.xmm[1] = d;
                cpu->regs[R_EBX] = (uint32_t)iv;
                assert_int_equal(run_simd(cpu, k ? 0xf2 : 0xf3, 0x2a, 0xcb, 0, 0), -1);
                assert_memory_equal(&cpu->fpu.xmm[1], &vd, 16);
                assert_int_equal(cpu->fpu.mxcsr, csr | (out & 0x3f));
            }
            /* CVTPS2PI / CVTTPS2PI into MM3, CVTPI2PS from MM3 (host MMX). */
            {
                uint64_t mm = 0, mm_src = (uint64_t)(uint32_t)iv | (uint64_t)(uint32_t)-iv << 32;
                v2di vd;
                xmm_reg d = { .q = { 0x1111111122222222ull, 0x3333333344444444ull } };
                memcpy(&vs, &sf, 16);
                __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\tcvtps2pi %[s], %%mm3\n\t"
                                 "movq %%mm3, %[m]\n\tstmxcsr %[o]\n\tldmxcsr %[h]\n\temms"
                                 : [m] "=m"(mm), [o] "=m"(out), [h] "+m"(host)
                                 : [s] "x"(vs), [c] "m"(csr) : "mm3", "st", "st(1)", "st(2)",
                                   "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
                cpu->fpu.mxcsr = csr;
                cpu->fpu.xmm[2] = sf;
                assert_int_equal(run_simd(cpu, 0, 0x2d, 0xda, 0, 0), -1);
                assert_int_equal(cpu->fpu.st[3].mant, mm);
                assert_int_equal(cpu->fpu.mxcsr, csr | (out & 0x3f));
                memcpy(&vd, &d, 16);
                __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\tmovq %[m], %%mm3\n\t"
                                 "cvtpi2ps %%mm3, %[d]\n\tstmxcsr %[o]\n\tldmxcsr %[h]\n\temms"
                                 : [d] "+x"(vd), [o] "=m"(out), [h] "+m"(host)
                                 : [m] "m"(mm_src), [c] "m"(csr) : "mm3", "st", "st(1)", "st(2)",
                                   "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
                cpu->fpu.mxcsr = csr;
                cpu->fpu.xmm[1] = d;
                fpu_mmx_write(cpu, 3, mm_src);
                assert_int_equal(run_simd(cpu, 0, 0x2a, 0xcb, 0, 0), -1);
                assert_memory_equal(&cpu->fpu.xmm[1], &vd, 16);
                assert_int_equal(cpu->fpu.mxcsr, csr | (out & 0x3f));
            }
        }
    free_cpu(cpu);
}

/* ---- Integer operations: MMX forms on the host MMX unit, XMM forms on host SSE2 ---- */

#define INT_LIST(X)                                                                           \
    X(punpcklbw, 0x60) X(punpcklwd, 0x61) X(punpckldq, 0x62) X(packsswb, 0x63)                \
    X(pcmpgtb, 0x64) X(pcmpgtw, 0x65) X(pcmpgtd, 0x66) X(packuswb, 0x67) X(punpckhbw, 0x68)   \
    X(punpckhwd, 0x69) X(punpckhdq, 0x6a) X(packssdw, 0x6b) X(pcmpeqb, 0x74)                  \
    X(pcmpeqw, 0x75) X(pcmpeqd, 0x76) X(psrlw, 0xd1) X(psrld, 0xd2) X(psrlq, 0xd3)            \
    X(paddq, 0xd4) X(pmullw, 0xd5) X(psubusb, 0xd8) X(psubusw, 0xd9) X(pminub, 0xda)          \
    X(pand, 0xdb) X(paddusb, 0xdc) X(paddusw, 0xdd) X(pmaxub, 0xde) X(pandn, 0xdf)            \
    X(pavgb, 0xe0) X(psraw, 0xe1) X(psrad, 0xe2) X(pavgw, 0xe3) X(pmulhuw, 0xe4)              \
    X(pmulhw, 0xe5) X(psubsb, 0xe8) X(psubsw, 0xe9) X(pminsw, 0xea) X(por, 0xeb)              \
    X(paddsb, 0xec) X(paddsw, 0xed) X(pmaxsw, 0xee) X(pxor, 0xef) X(psllw, 0xf1)              \
    X(pslld, 0xf2) X(psllq, 0xf3) X(pmuludq, 0xf4) X(pmaddwd, 0xf5) X(psadbw, 0xf6)           \
    X(psubb, 0xf8) X(psubw, 0xf9) X(psubd, 0xfa) X(psubq, 0xfb) X(paddb, 0xfc)                \
    X(paddw, 0xfd) X(paddd, 0xfe)

#define INT_NATIVE_FN(name, opc)                                                              \
    static uint64_t mmx_##name(uint64_t d, uint64_t s)                                        \
    {                                                                                         \
        __asm__ volatile("movq %[s], %%mm1\n\tmovq %[d], %%mm0\n\t" #name " %%mm1, %%mm0\n\t" \
                         "movq %%mm0, %[d]\n\temms"                                           \
                         : [d] "+m"(d) : [s] "m"(s)                                           \
                         : "mm0", "mm1", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",   \
                           "st(6)", "st(7)");                                                 \
        return d;                                                                             \
    }                                                                                         \
    static void xmm_##name(xmm_reg *d, const xmm_reg *s)                                      \
    {                                                                                         \
        v2di vd, vs;                                                                          \
        memcpy(&vd, d, 16);                                                                   \
        memcpy(&vs, s, 16);                                                                   \
        __asm__(#name " %[s], %[d]" : [d] "+x"(vd) : [s] "x"(vs));                            \
        memcpy(d, &vd, 16);                                                                   \
    }
INT_LIST(INT_NATIVE_FN)

struct int_form {
    const char *name;
    uint8_t op;
    uint64_t (*mmx)(uint64_t, uint64_t);
    void (*xmm)(xmm_reg *, const xmm_reg *);
};
#define INT_FORM(name, opc) { #name, opc, mmx_##name, xmm_##name },
static const struct int_form int_forms[] = { INT_LIST(INT_FORM) };

/* Deterministic operand patterns with lane-boundary values. */
static uint64_t pattern(unsigned k)
{
    static const uint64_t base[] = { 0, ~0ull, 0x8000800080008000ull, 0x7fff7fff7fff7fffull,
                                     0x0123456789abcdefull, 0xfedcba9876543210ull,
                                     0x00000000000000ffull, 0x0000000000000010ull,
                                     0x000000000000003full, 0x8080808080808080ull,
                                     0x7f7f7f7f01010101ull, 0xffff0000ffff0000ull };
    unsigned n = sizeof(base) / sizeof(base[0]);
    uint64_t x = base[k % n];
    for (unsigned r = 0; r < k / n; r++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

static void test_int_ops_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    uint8_t *mem = env_of(cpu)->mem;
    for (unsigned k = 0; k < sizeof(int_forms) / sizeof(int_forms[0]); k++) {
        const struct int_form *f = &int_forms[k];
        for (unsigned i = 0; i < 40; i++)
            for (unsigned j = 0; j < 40; j++) {
                uint64_t d = pattern(i), s = pattern(j);
                /* MMX form, register source: MM1 op= MM2. */
                fpu_mmx_write(cpu, 1, d);
                fpu_mmx_write(cpu, 2, s);
                assert_int_equal(run_simd(cpu, 0, f->op, 0xca, 0, 0), -1);
                if (cpu->fpu.st[1].mant != f->mmx(d, s)) {
                    print_error("%s mmx %016llx %016llx: got %016llx host %016llx\n", f->name,
                                (unsigned long long)d, (unsigned long long)s,
                                (unsigned long long)cpu->fpu.st[1].mant,
                                (unsigned long long)f->mmx(d, s));
                    fail();
                }
                /* MMX form, memory source (PUNPCKL* read only 32 bits). */
                fpu_mmx_write(cpu, 1, d);
                memcpy(mem + 0x200, &s, 8);
                assert_int_equal(run_simd(cpu, 0, f->op, 0x0d, 0, 0x200), -1);
                assert_int_equal(cpu->fpu.st[1].mant, f->mmx(d, s));
                /* XMM form. */
                xmm_reg xd = { .q = { d, pattern(i + j + 3) } }, xs = { .q = { s, pattern(i * j) } };
                xmm_reg want = xd;
                f->xmm(&want, &xs);
                cpu->fpu.xmm[1] = xd;
                cpu->fpu.xmm[2] = xs;
                assert_int_equal(run_simd(cpu, 0x66, f->op, 0xca, 0, 0), -1);
                if (memcmp(&cpu->fpu.xmm[1], &want, 16) != 0) {
                    print_error("%s xmm %u %u\n", f->name, i, j);
                    fail();
                }
            }
    }
    free_cpu(cpu);
}

static void test_shifts_and_shuffles_match_host(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    for (unsigned i = 0; i < 30; i++) {
        uint64_t v = pattern(i), w;
        xmm_reg x = { .q = { v, pattern(i + 7) } }, want;
        v2di vx;
#define MMX_IMM(INSN, OPC, REG, IMM)                                                          \
    w = v;                                                                                    \
    __asm__ volatile("movq %[d], %%mm0\n\t" INSN " $" #IMM ", %%mm0\n\tmovq %%mm0, %[d]\n\temms" \
                     : [d] "+m"(w) : : "mm0", "st", "st(1)", "st(2)", "st(3)", "st(4)",      \
                       "st(5)", "st(6)", "st(7)");                                            \
    fpu_mmx_write(cpu, 4, v);                                                                 \
    assert_int_equal(run_simd(cpu, 0, OPC, 0xc4 | (REG) << 3, IMM, 0), -1);                   \
    assert_int_equal(cpu->fpu.st[4].mant, w);
#define XMM_IMM(INSN, OPC, REG, IMM)                                                          \
    memcpy(&vx, &x, 16);                                                                      \
    __asm__(INSN " $" #IMM ", %[d]" : [d] "+x"(vx));                                          \
    memcpy(&want, &vx, 16);                                                                   \
    cpu->fpu.xmm[4] = x;                                                                      \
    assert_int_equal(run_simd(cpu, 0x66, OPC, 0xc4 | (REG) << 3, IMM, 0), -1);                \
    assert_memory_equal(&cpu->fpu.xmm[4], &want, 16);
#define BOTH_IMM(INSN, OPC, REG, IMM) MMX_IMM(INSN, OPC, REG, IMM) XMM_IMM(INSN, OPC, REG, IMM)
        BOTH_IMM("psrlw", 0x71, 2, 3) BOTH_IMM("psrlw", 0x71, 2, 17)
        BOTH_IMM("psraw", 0x71, 4, 5) BOTH_IMM("psraw", 0x71, 4, 200)
        BOTH_IMM("psllw", 0x71, 6, 15) BOTH_IMM("psrld", 0x72, 2, 31)
        BOTH_IMM("psrad", 0x72, 4, 9) BOTH_IMM("pslld", 0x72, 6, 32)
        BOTH_IMM("psrlq", 0x73, 2, 1) BOTH_IMM("psllq", 0x73, 6, 63)
        BOTH_IMM("psllq", 0x73, 6, 64)
        XMM_IMM("psrldq", 0x73, 3, 5) XMM_IMM("pslldq", 0x73, 7, 9)
        XMM_IMM("psrldq", 0x73, 3, 17) XMM_IMM("pslldq", 0x73, 7, 0)
        /* PSHUFW / PSHUFD / PSHUFLW / PSHUFHW. */
#define SHUF(INSN, PFX, IMM)                                                                  \
    memcpy(&vx, &x, 16);                                                                      \
    __asm__(INSN " $" #IMM ", %[s], %[d]" : [d] "=x"(vx) : [s] "x"(vx));                      \
    memcpy(&want, &vx, 16);                                                                   \
    cpu->fpu.xmm[5] = x;                                                                      \
    assert_int_equal(run_simd(cpu, PFX, 0x70, 0xec, IMM, 0), -1);                             \
    assert_memory_equal(&cpu->fpu.xmm[5], &want, 16);
        SHUF("pshufd", 0x66, 0x1b) SHUF("pshufd", 0x66, 0x4e) SHUF("pshuflw", 0xf2, 0x1b)
        SHUF("pshufhw", 0xf3, 0xd8)
        w = v;
        __asm__ volatile("movq %[d], %%mm0\n\tpshufw $0x9c, %%mm0, %%mm1\n\tmovq %%mm1, %[d]\n\temms"
                         : [d] "+m"(w) : : "mm0", "mm1", "st", "st(1)", "st(2)", "st(3)",
                           "st(4)", "st(5)", "st(6)", "st(7)");
        fpu_mmx_write(cpu, 0, v);
        assert_int_equal(run_simd(cpu, 0, 0x70, 0xc8, 0x9c, 0), -1);
        assert_int_equal(cpu->fpu.st[1].mant, w);
    }
    free_cpu(cpu);
}

/* ---- Architectural facts ---- */

static void test_mmx_aliases_x87(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    /* FLD1 leaves TOP = 7; an MMX instruction resets TOP to 0 and tags every register valid. */
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    uint64_t v = 0x1122334455667788ull;
    memcpy(mem + 0x40, &v, 8);
    assert_int_equal(run_simd(cpu, 0, 0x6f, 0x15, 0, 0x40), -1); /* MOVQ MM2, [0x40] */
    assert_int_equal(cpu->fpu.top, 0);
    assert_int_equal(cpu->fpu.valid, 0xff);
    assert_int_equal(cpu->fpu.st[2].mant, v);
    assert_int_equal(cpu->fpu.st[2].se, 0xffff);
    /* The x87 view: ST(2) is that register, a NaN-like special (tag 2). */
    assert_int_equal(fpu_tag_word(&cpu->fpu) >> 4 & 3, 2);
    /* EMMS empties every tag. */
    assert_int_equal(run_simd(cpu, 0, 0x77, 0, 0, 0), -1);
    assert_int_equal(fpu_tag_word(&cpu->fpu), 0xffff);
    /* MOVD r32, mm / MOVD mm, r32 (zero-extends). */
    cpu->regs[R_ECX] = 0xcafef00d;
    assert_int_equal(run_simd(cpu, 0, 0x6e, 0xf9, 0, 0), -1); /* MOVD MM7, ECX */
    assert_int_equal(cpu->fpu.st[7].mant, 0xcafef00dull);
    assert_int_equal(run_simd(cpu, 0, 0x7e, 0xd2, 0, 0), -1); /* MOVD EDX, MM2 */
    assert_int_equal(cpu->regs[R_EDX], 0x55667788);
    free_cpu(cpu);
}

static void test_mmx_rules(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    cpu->cr0 |= CR0_EM;
    assert_int_equal(run_simd(cpu, 0, 0xfc, 0xc1, 0, 0), EXC_UD);
    cpu->cr0 = (cpu->cr0 & ~CR0_EM) | CR0_TS;
    assert_int_equal(run_simd(cpu, 0, 0xfc, 0xc1, 0, 0), EXC_NM);
    cpu->cr0 &= ~CR0_TS;
    /* A pending unmasked x87 exception: #MF at the MMX instruction. */
    cpu->fpu.control = 0x037b;
    assert_int_equal(run_fpu(cpu, 0xd9, 0xe8, 0), -1);
    assert_int_equal(run_fpu(cpu, 0xd9, 0xee, 0), -1);
    assert_int_equal(run_fpu(cpu, 0xde, 0xf9, 0), -1); /* 1/0 */
    assert_int_equal(run_simd(cpu, 0, 0xfc, 0xc1, 0, 0), EXC_MF);
    free_cpu(cpu);
    /* PADDQ on MMX registers is SSE2; PSHUFW is SSE; plain MMX only: both #UD. */
    cpu = make_cpu(FEAT_EDX_P3, 0);
    assert_int_equal(run_simd(cpu, 0, 0xd4, 0xc1, 0, 0), EXC_UD);
    assert_int_equal(run_simd(cpu, 0, 0x70, 0xc1, 0, 0), -1);
    free_cpu(cpu);
    cpu = make_cpu((1u << 0) | (1u << 23), 0); /* Pentium MMX */
    assert_int_equal(run_simd(cpu, 0, 0x70, 0xc1, 0, 0), EXC_UD);
    assert_int_equal(run_simd(cpu, 0, 0xfc, 0xc1, 0, 0), -1);
    assert_int_equal(run_simd(cpu, 0, 0x58, 0xc1, 0, 0), EXC_UD); /* ADDPS */
    free_cpu(cpu);
}

static void test_sse_rules(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P3, 0);
    uint8_t *mem = env_of(cpu)->mem;
    /* SSE2/SSE3 forms on a Pentium III: #UD. */
    assert_int_equal(run_simd(cpu, 0x66, 0x58, 0xc1, 0, 0), EXC_UD);
    assert_int_equal(run_simd(cpu, 0xf2, 0x7c, 0xc1, 0, 0), EXC_UD);
    assert_int_equal(run_simd(cpu, 0x66, 0xfc, 0xc1, 0, 0), EXC_UD);
    assert_int_equal(run_simd(cpu, 0, 0x58, 0xc1, 0, 0), -1);
    /* CR4.OSFXSR clear or CR0.EM: #UD; CR0.TS: #NM. */
    cpu->cr4 &= ~CR4_OSFXSR;
    assert_int_equal(run_simd(cpu, 0, 0x58, 0xc1, 0, 0), EXC_UD);
    cpu->cr4 |= CR4_OSFXSR;
    cpu->cr0 |= CR0_EM;
    assert_int_equal(run_simd(cpu, 0, 0x58, 0xc1, 0, 0), EXC_UD);
    cpu->cr0 = (cpu->cr0 & ~CR0_EM) | CR0_TS;
    assert_int_equal(run_simd(cpu, 0, 0x58, 0xc1, 0, 0), EXC_NM);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x00, 0, 0x1000), EXC_NM); /* FXSAVE */
    cpu->cr0 &= ~CR0_TS;
    /* Misaligned 128-bit operand: #GP; MOVUPS is fine. */
    assert_int_equal(run_simd(cpu, 0, 0x58, 0x05, 0, 0x108), EXC_GP);
    assert_int_equal(run_simd(cpu, 0, 0x10, 0x05, 0, 0x108), -1);
    /* Unmasked divide by zero: #XM with OSXMMEXCPT, #UD without; destination unchanged. */
    xmm_reg one = { .d = { 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000 } }, zero;
    memset(&zero, 0, sizeof(zero));
    cpu->fpu.mxcsr = 0x1f80 & ~(1u << 9); /* ZM clear */
    cpu->fpu.xmm[0] = one;
    cpu->fpu.xmm[1] = zero;
    assert_int_equal(run_simd(cpu, 0, 0x5e, 0xc1, 0, 0), EXC_XM); /* DIVPS XMM0, XMM1 */
    assert_memory_equal(&cpu->fpu.xmm[0], &one, 16);
    assert_int_equal(cpu->fpu.mxcsr & 0x3f, 0x04);
    cpu->cr4 &= ~CR4_OSXMMEXCPT;
    assert_int_equal(run_simd(cpu, 0, 0x5e, 0xc1, 0, 0), EXC_UD);
    cpu->cr4 |= CR4_OSXMMEXCPT;
    /* Masked: +inf results and ZE. */
    cpu->fpu.mxcsr = 0x1f80;
    assert_int_equal(run_simd(cpu, 0, 0x5e, 0xc1, 0, 0), -1);
    assert_int_equal(cpu->fpu.xmm[0].d[2], 0x7f800000);
    assert_int_equal(cpu->fpu.mxcsr, 0x1f84);
    /* LDMXCSR: reserved bits and DAZ (absent on the Pentium III) raise #GP; STMXCSR. */
    uint32_t v = 0x1f80 | 0x40;
    memcpy(mem + 0x20, &v, 4);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x15, 0, 0x20), EXC_GP);
    v = 0x10000;
    memcpy(mem + 0x20, &v, 4);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x15, 0, 0x20), EXC_GP);
    v = 0x7f80 | 0x3f;
    memcpy(mem + 0x20, &v, 4);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x15, 0, 0x20), -1);
    assert_int_equal(cpu->fpu.mxcsr, v);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x1d, 0, 0x24), -1);
    assert_memory_equal(mem + 0x24, &v, 4);
    /* SFENCE ok, LFENCE needs SSE2. */
    assert_int_equal(run_simd(cpu, 0, 0xae, 0xf8, 0, 0), -1);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0xe8, 0, 0), EXC_UD);
    free_cpu(cpu);
    /* DAZ is accepted where SSE2 exists. */
    cpu = make_cpu(FEAT_EDX_P4, 0);
    v = 0x1fc0;
    memcpy(env_of(cpu)->mem + 0x20, &v, 4);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x15, 0, 0x20), -1);
    free_cpu(cpu);
}

static void test_sse_moves(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, FEAT_ECX_SSE3);
    uint8_t *mem = env_of(cpu)->mem;
    xmm_reg a = { .d = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 } };
    xmm_reg b = { .d = { 0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd } };
    /* MOVSS xmm, xmm merges; MOVSS xmm, m32 zeroes the rest. */
    cpu->fpu.xmm[0] = a; cpu->fpu.xmm[1] = b;
    assert_int_equal(run_simd(cpu, 0xf3, 0x10, 0xc1, 0, 0), -1);
    assert_int_equal(cpu->fpu.xmm[0].d[0], 0xaaaaaaaa);
    assert_int_equal(cpu->fpu.xmm[0].d[1], 0x22222222);
    memcpy(mem + 0x30, &b, 16);
    assert_int_equal(run_simd(cpu, 0xf3, 0x10, 0x05, 0, 0x34), -1);
    assert_int_equal(cpu->fpu.xmm[0].d[0], 0xbbbbbbbb);
    assert_int_equal(cpu->fpu.xmm[0].d[1], 0);
    assert_int_equal(cpu->fpu.xmm[0].q[1], 0);
    /* MOVHLPS / MOVLHPS. */
    cpu->fpu.xmm[0] = a;
    assert_int_equal(run_simd(cpu, 0, 0x12, 0xc1, 0, 0), -1);
    assert_int_equal(cpu->fpu.xmm[0].q[0], b.q[1]);
    assert_int_equal(cpu->fpu.xmm[0].q[1], a.q[1]);
    assert_int_equal(run_simd(cpu, 0, 0x16, 0xc1, 0, 0), -1);
    assert_int_equal(cpu->fpu.xmm[0].q[1], b.q[0]);
    /* UNPCKLPS, SHUFPS, MOVMSKPS. */
    cpu->fpu.xmm[0] = a;
    assert_int_equal(run_simd(cpu, 0, 0x14, 0xc1, 0, 0), -1);
    xmm_reg u = { .d = { 0x11111111, 0xaaaaaaaa, 0x22222222, 0xbbbbbbbb } };
    assert_memory_equal(&cpu->fpu.xmm[0], &u, 16);
    cpu->fpu.xmm[0] = a;
    assert_int_equal(run_simd(cpu, 0, 0xc6, 0xc1, 0x1b, 0), -1);
    xmm_reg sh = { .d = { 0x44444444, 0x33333333, 0xbbbbbbbb, 0xaaaaaaaa } };
    assert_memory_equal(&cpu->fpu.xmm[0], &sh, 16);
    assert_int_equal(run_simd(cpu, 0, 0x50, 0xd1, 0, 0), -1); /* MOVMSKPS EDX, XMM1 */
    assert_int_equal(cpu->regs[R_EDX], 0xf);
    /* MOVDDUP, MOVSHDUP (SSE3). */
    cpu->fpu.xmm[1] = b;
    assert_int_equal(run_simd(cpu, 0xf2, 0x12, 0xc1, 0, 0), -1);
    assert_int_equal(cpu->fpu.xmm[0].q[1], b.q[0]);
    assert_int_equal(run_simd(cpu, 0xf3, 0x16, 0xc1, 0, 0), -1);
    assert_int_equal(cpu->fpu.xmm[0].d[0], 0xbbbbbbbb);
    assert_int_equal(cpu->fpu.xmm[0].d[3], 0xdddddddd);
    /* PEXTRW / PINSRW / PMOVMSKB (MMX forms). */
    fpu_mmx_write(cpu, 1, 0x8001800200037f04ull);
    assert_int_equal(run_simd(cpu, 0, 0xc5, 0xc1, 2, 0), -1); /* PEXTRW EAX, MM1, 2 */
    assert_int_equal(cpu->regs[R_EAX], 0x8002);
    cpu->regs[R_EAX] = 0x1234beef;
    assert_int_equal(run_simd(cpu, 0, 0xc4, 0xc8, 7, 0), -1); /* PINSRW MM1, EAX, 3 */
    assert_int_equal(cpu->fpu.st[1].mant, 0xbeef800200037f04ull);
    assert_int_equal(run_simd(cpu, 0, 0xd7, 0xd1, 0, 0), -1); /* PMOVMSKB EDX, MM1 */
    assert_int_equal(cpu->regs[R_EDX], 0xe0); /* bytes 5-7 have the top bit */
    /* MASKMOVQ: bytes with the top bit of the mask go to DS:EDI. */
    memset(mem + 0x80, 0, 8);
    cpu->regs[R_EDI] = 0x80;
    fpu_mmx_write(cpu, 0, 0x8877665544332211ull);
    fpu_mmx_write(cpu, 1, 0x8000000000000080ull);
    assert_int_equal(run_simd(cpu, 0, 0xf7, 0xc1, 0, 0), -1);
    assert_int_equal(mem[0x80], 0x11);
    assert_int_equal(mem[0x81], 0);
    assert_int_equal(mem[0x87], 0x88);
    /* With a 16-bit address size only DI counts (the high half of EDI is ignored). */
    memset(mem + 0x80, 0, 8);
    cpu->regs[R_EDI] = 0x50080;
    struct simd_args m16 = { .map = 1, .opcode = 0xf7, .modrm = 0xc1, .seg = -1, .str_seg = SEG_DS };
    cpu_simd_op(cpu, &m16);
    assert_int_equal(mem[0x80], 0x11);
    assert_int_equal(mem[0x87], 0x88);
    /* MOVQ2DQ / MOVDQ2Q / MOVQ xmm, xmm zero-extends. */
    assert_int_equal(run_simd(cpu, 0xf3, 0xd6, 0xd0, 0, 0), -1); /* MOVQ2DQ XMM2, MM0 */
    assert_int_equal(cpu->fpu.xmm[2].q[0], 0x8877665544332211ull);
    assert_int_equal(cpu->fpu.xmm[2].q[1], 0);
    cpu->fpu.xmm[3] = b;
    assert_int_equal(run_simd(cpu, 0xf3, 0x7e, 0xe3, 0, 0), -1); /* MOVQ XMM4, XMM3 */
    assert_int_equal(cpu->fpu.xmm[4].q[0], b.q[0]);
    assert_int_equal(cpu->fpu.xmm[4].q[1], 0);
    free_cpu(cpu);
}

/* CVTPI2PS/CVTPI2PD from an MMX register and CVT(T)PS2PI/CVT(T)PD2PI enter MMX state (TOP = 0,
 * every tag valid, SDM: "causes a transition from x87 FPU to MMX technology operation"), before
 * the conversion, so also when it then raises #XM (host behaviour); a memory source does not. */
static void test_cvt_mmx_transition(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    uint8_t *mem = env_of(cpu)->mem;
    /* CVTPI2PS xmm0, mm3 of 2^24 + 1 (inexact in single) with PE unmasked: #XM. */
    cpu->fpu.st[3].mant = 0x0100000101000001ull;
    cpu->fpu.top = 3;
    cpu->fpu.valid = 0x0f;
    cpu->fpu.mxcsr = 0x0f80;
    assert_int_equal(run_simd(cpu, 0, 0x2a, 0xc3, 0, 0), EXC_XM);
    assert_int_equal(cpu->fpu.top, 0);
    assert_int_equal(cpu->fpu.valid, 0xff);
    /* The memory form leaves the x87 state alone. */
    cpu->fpu.top = 3;
    cpu->fpu.valid = 0x0f;
    cpu->fpu.mxcsr = 0x1f80;
    memcpy(mem + 0x40, &cpu->fpu.st[3].mant, 8);
    assert_int_equal(run_simd(cpu, 0, 0x2a, 0x05, 0, 0x40), -1);
    assert_int_equal(cpu->fpu.top, 3);
    assert_int_equal(cpu->fpu.valid, 0x0f);
    /* CVTTPD2PI mm1, xmm2 of a NaN with IE unmasked: #XM after the transition. */
    cpu->fpu.xmm[2].q[0] = 0x7ff8000000000000ull;
    cpu->fpu.mxcsr = 0x1f00;
    assert_int_equal(run_simd(cpu, 0x66, 0x2c, 0xca, 0, 0), EXC_XM);
    assert_int_equal(cpu->fpu.top, 0);
    assert_int_equal(cpu->fpu.valid, 0xff);
    free_cpu(cpu);
}

/* CLFLUSH (0F AE /7) exists only with CPUID.1:EDX.CLFSH[19]; it checks its operand as a byte
 * read and changes nothing (pcvm has no caches to flush). */
static void test_clflush(void **state)
{
    (void)state;
    struct cpu *cpu = make_cpu(FEAT_EDX_P4, 0);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x3d, 0, 0x80), EXC_UD);
    free_cpu(cpu);
    cpu = make_cpu(FEAT_EDX_P4 | 1u << 19, 0);
    uint8_t *mem = env_of(cpu)->mem;
    mem[0x80] = 0x5a;
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x3d, 0, 0x80), -1);
    assert_int_equal(mem[0x80], 0x5a);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0x3d, 0, TEST_MEM_SIZE + 0x40), EXC_GP);
    assert_int_equal(run_simd(cpu, 0, 0xae, 0xf8, 0, 0), -1);    /* reg form: SFENCE */
    assert_int_equal(run_simd(cpu, 0x66, 0xae, 0x3d, 0, 0x80), EXC_UD); /* not CLFLUSHOPT */
    free_cpu(cpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp_ops_match_host),
        cmocka_unit_test(test_fp_ops_random_match_host),
        cmocka_unit_test(test_unmasked_exceptions_match_host),
        cmocka_unit_test(test_unmasked_scalar_forms_match_host),
        cmocka_unit_test(test_cmp_and_comi_match_host),
        cmocka_unit_test(test_int_conversions_match_host),
        cmocka_unit_test(test_int_ops_match_host),
        cmocka_unit_test(test_shifts_and_shuffles_match_host),
        cmocka_unit_test(test_mmx_aliases_x87),
        cmocka_unit_test(test_mmx_rules),
        cmocka_unit_test(test_sse_rules),
        cmocka_unit_test(test_sse_moves),
        cmocka_unit_test(test_cvt_mmx_transition),
        cmocka_unit_test(test_clflush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* MMX, SSE, SSE2 and SSE3: the 0F-map opcodes fpu claims. Data movement is plain C; numeric
 * operations run the host's own SSE instruction (simd_host.h) under the guest MXCSR, so results
 * and flags are the chip's. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"
#include "cpu/simd_host.h"
#include "cpu/simd_int.h"

/* ---- Opcode tables ---- */

bool simd_opcode_claimed(uint8_t map, uint8_t op)
{
    if (map == 2 || map == 3)
        return opcode_map23_exists(map, op);
    if (map != 1)
        return false;
    return (op >= 0x10 && op <= 0x18) || (op >= 0x28 && op <= 0x2f) ||
           (op >= 0x50 && op <= 0x77) || (op >= 0x7c && op <= 0x7f) || op == 0xae ||
           (op >= 0xc2 && op <= 0xc6) || (op >= 0xd0 && op <= 0xfe);
}

bool simd_opcode_has_imm8(uint8_t map, uint8_t op)
{
    if (map == 3)
        return true;
    return map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6));
}

/* ---- Checks ---- */

static _Noreturn void ud(struct cpu *cpu) { cpu_exception(cpu, EXC_UD, 0); }

static void need(struct cpu *cpu, enum fpu_feature feat)
{
    if (!fpu_has(cpu, feat))
        ud(cpu);
}

/* An SSE instruction (XMM registers or MXCSR): feature, CR0.EM, CR4.OSFXSR, CR0.TS. */
static void sse_check(struct cpu *cpu, enum fpu_feature feat)
{
    need(cpu, feat);
    if ((cpu->cr0 & CR0_EM) || !(cpu->cr4 & CR4_OSFXSR))
        ud(cpu);
    if (cpu->cr0 & CR0_TS)
        cpu_exception(cpu, EXC_NM, 0);
}

/* An instruction using MMX registers: feature, CR0.EM, CR0.TS, pending x87 exceptions. */
static void mmx_check(struct cpu *cpu, enum fpu_feature feat)
{
    need(cpu, feat);
    if (cpu->cr0 & CR0_EM)
        ud(cpu);
    if (cpu->cr0 & CR0_TS)
        cpu_exception(cpu, EXC_NM, 0);
    fpu_check_pending(cpu);
}

/* SSE instruction that also touches MMX registers (CVTPI2PS, MOVQ2DQ...). */
static void sse_mmx_check(struct cpu *cpu, enum fpu_feature feat)
{
    sse_check(cpu, feat);
    fpu_check_pending(cpu);
}

/* ---- Operands ---- */

static bool is_mem(const struct simd_args *a) { return a->seg >= 0; }
static unsigned reg_of(const struct simd_args *a) { return a->modrm >> 3 & 7; }
static unsigned rm_of(const struct simd_args *a) { return a->modrm & 7; }

static void check_align16(struct cpu *cpu, const struct simd_args *a)
{
    if ((cpu->seg[a->seg].base + a->ea) & 15)
        cpu_exception(cpu, EXC_GP, 0);
}

static void mem_read(struct cpu *cpu, const struct simd_args *a, void *buf, unsigned size)
{
    switch (size) {
    case 2: { uint16_t v = cpu_read16(cpu, a->seg, a->ea); memcpy(buf, &v, 2); break; }
    case 4: { uint32_t v = cpu_read32(cpu, a->seg, a->ea); memcpy(buf, &v, 4); break; }
    case 8: { uint64_t v = cpu_read64(cpu, a->seg, a->ea); memcpy(buf, &v, 8); break; }
    default: cpu_read_bytes(cpu, a->seg, a->ea, buf, size); break;
    }
}

static void mem_write(struct cpu *cpu, const struct simd_args *a, const void *buf, unsigned size)
{
    switch (size) {
    case 4: { uint32_t v; memcpy(&v, buf, 4); cpu_write32(cpu, a->seg, a->ea, v); break; }
    case 8: { uint64_t v; memcpy(&v, buf, 8); cpu_write64(cpu, a->seg, a->ea, v); break; }
    default: cpu_write_bytes(cpu, a->seg, a->ea, buf, size); break;
    }
}

/* XMM source: the register, or size bytes of memory (zero-extended; 16 with align: aligned). */
static xmm_reg xmm_src(struct cpu *cpu, const struct simd_args *a, unsigned size, bool align)
{
    xmm_reg v;
    if (!is_mem(a))
        return cpu->fpu.xmm[rm_of(a)];
    memset(&v, 0, sizeof(v));
    if (align)
        check_align16(cpu, a);
    mem_read(cpu, a, &v, size);
    return v;
}

/* XMM destination store: the register, or size bytes of memory. */
static void xmm_store(struct cpu *cpu, const struct simd_args *a, const xmm_reg *v, unsigned size,
                      bool align)
{
    if (!is_mem(a)) {
        cpu->fpu.xmm[rm_of(a)] = *v;
        return;
    }
    if (align)
        check_align16(cpu, a);
    mem_write(cpu, a, v, size);
}

static uint64_t mm_get(struct cpu *cpu, unsigned r) { return cpu->fpu.st[r & 7].mant; }

/* MMX source: the register or size (4 or 8) bytes of memory. */
static uint64_t mm_src(struct cpu *cpu, const struct simd_args *a, unsigned size)
{
    if (!is_mem(a))
        return mm_get(cpu, rm_of(a));
    uint64_t v = 0;
    mem_read(cpu, a, &v, size);
    return v;
}

/* Write MMX register r and enter MMX state. */
static void mm_set(struct cpu *cpu, unsigned r, uint64_t v)
{
    fpu_mmx_write(cpu, r, v);
    fpu_mmx_enter(cpu);
}

static uint32_t gpr_src(struct cpu *cpu, const struct simd_args *a)
{
    return is_mem(a) ? cpu_read32(cpu, a->seg, a->ea) : cpu->regs[rm_of(a)];
}

/* ---- MXCSR and SIMD floating-point exceptions ---- */

enum { MX_IE = 1, MX_DE = 2, MX_ZE = 4, MX_OE = 8, MX_UE = 16, MX_PE = 32 };

/* Merge the flags of an operation; unmasked ones raise #XM (or #UD without OSXMMEXCPT)
 * before the destination is written. */
static void sse_flags(struct cpu *cpu, uint32_t flags)
{
    uint32_t *mx = &cpu->fpu.mxcsr;
    uint32_t unmasked = flags & ~(*mx >> 7) & 0x3f;
    if (unmasked) {
        /* Pre-computation exceptions stop the operation before the others are detected. */
        *mx |= (unmasked & (MX_IE | MX_DE | MX_ZE)) ? flags & (MX_IE | MX_DE | MX_ZE) : flags & 0x3f;
        cpu_exception(cpu, (cpu->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0);
    }
    *mx |= flags & 0x3f;
}

/* ---- Numeric operations ---- */

/* Source size in memory for a 0F 5x/Cx/Dx/Ex/7x floating-point opcode and prefix. */
static unsigned fp_src_size(uint8_t op, uint8_t pfx)
{
    if (op == 0x5a) /* cvtps2pd m64, cvtpd2ps m128, cvtss2sd m32, cvtsd2ss m64 */
        return pfx == 0 ? 8 : pfx == 0x66 ? 16 : pfx == 0xf3 ? 4 : 8;
    if (op == 0xe6 && pfx == 0xf3) /* cvtdq2pd m64 */
        return 8;
    if (op == 0x5b) /* cvtdq2ps, cvtps2dq, cvttps2dq: m128 */
        return 16;
    return pfx == 0xf3 ? 4 : pfx == 0xf2 && op != 0xd0 && op != 0x7c && op != 0x7d &&
                                     op != 0xe6 ? 8 : 16;
}

/* How the result elements of a floating-point operation depend on its source elements. */
struct fp_shape {
    unsigned lanes;   /* result elements computed (1 for scalar operations) */
    unsigned width;   /* bytes per source element: 4 or 8 */
    bool horizontal;  /* HADD/HSUB: result k from elements 2k, 2k+1 of d, then of s */
    bool div;         /* the neutral filler is 1.0 (0/0 would be invalid) */
};

static struct fp_shape fp_shape_of(enum simd_fp_op op)
{
    switch (op) {
    case SFP_SQRTSS: case SFP_RSQRTSS: case SFP_RCPSS: case SFP_ADDSS: case SFP_MULSS:
    case SFP_SUBSS: case SFP_MINSS: case SFP_MAXSS: case SFP_CMPSS: case SFP_CVTSS2SD:
    case SFP_SQRTSD: case SFP_ADDSD: case SFP_MULSD: case SFP_SUBSD: case SFP_MINSD:
    case SFP_MAXSD: case SFP_CMPSD: case SFP_CVTSD2SS:
        return (struct fp_shape){ 1, 4, false, false };
    case SFP_DIVSS: case SFP_DIVSD:
        return (struct fp_shape){ 1, 4, false, true };
    case SFP_DIVPS: return (struct fp_shape){ 4, 4, false, true };
    case SFP_DIVPD: return (struct fp_shape){ 2, 8, false, true };
    case SFP_HADDPS: case SFP_HSUBPS: return (struct fp_shape){ 4, 4, true, false };
    case SFP_HADDPD: case SFP_HSUBPD: return (struct fp_shape){ 2, 8, true, false };
    case SFP_CVTPS2PD: case SFP_CVTDQ2PD: return (struct fp_shape){ 2, 4, false, false };
    case SFP_SQRTPD: case SFP_ADDPD: case SFP_MULPD: case SFP_SUBPD: case SFP_MINPD:
    case SFP_MAXPD: case SFP_CMPPD: case SFP_CVTPD2PS: case SFP_CVTPD2DQ: case SFP_CVTTPD2DQ:
    case SFP_ADDSUBPD:
        return (struct fp_shape){ 2, 8, false, false };
    default:
        return (struct fp_shape){ 4, 4, false, false };
    }
}

/* Keep only the source elements result element k depends on; the others become a neutral
 * filler (0, or 1.0 for divisions) that computes exactly, so the flags are element k's. */
static void isolate_lane(struct fp_shape sh, unsigned k, xmm_reg *d, xmm_reg *s)
{
    xmm_reg nd, ns;
    unsigned n = 16 / sh.width;
    for (unsigned i = 0; i < n; i++) {
        uint64_t fill = !sh.div ? 0 : sh.width == 4 ? 0x3f800000u : 0x3ff0000000000000ull;
        if (sh.width == 4) {
            nd.d[i] = (uint32_t)fill;
            ns.d[i] = (uint32_t)fill;
        } else {
            nd.q[i] = fill;
            ns.q[i] = fill;
        }
    }
    if (sh.horizontal) {
        unsigned half = sh.lanes / 2;
        bool from_s = k >= half;
        unsigned e = 2 * (from_s ? k - half : k);
        for (unsigned i = e; i < e + 2; i++) {
            if (sh.width == 4) {
                if (from_s) ns.d[i] = s->d[i]; else nd.d[i] = d->d[i];
            } else {
                if (from_s) ns.q[i] = s->q[i]; else nd.q[i] = d->q[i];
            }
        }
    } else if (sh.width == 4) {
        nd.d[k] = d->d[k];
        ns.d[k] = s->d[k];
    } else {
        nd.q[k] = d->q[k];
        ns.q[k] = s->q[k];
    }
    *d = nd;
    *s = ns;
}

/* Operand of element i of v as an 80-bit value (exact); DAZ reads denormals as zero. */
static f80 lane_value(const xmm_reg *v, unsigned i, bool dbl, bool daz)
{
    uint8_t buf[8];
    f80 r = { 0, 0 };
    bool loaded;
    if (dbl) {
        uint64_t x = v->q[i];
        if (daz && !(x >> 52 & 0x7ff))
            x &= 1ull << 63;
        memcpy(buf, &x, 8);
        f80_load(0x037f, buf, F80_M64, &r, &loaded);
    } else {
        uint32_t x = v->d[i];
        if (daz && !(x >> 23 & 0xff))
            x &= 1u << 31;
        memcpy(buf, &x, 4);
        f80_load(0x037f, buf, F80_M32, &r, &loaded);
    }
    return r;
}

/* Is result element k exact when the exponent range is unbounded? That decides PE when an
 * unmasked overflow or underflow is reported (the processor rounds the significand first). */
static bool lane_exact(enum simd_fp_op op, const xmm_reg *d, const xmm_reg *s, unsigned k,
                       bool daz)
{
    enum f80_arith_op aop;
    bool dbl, from_s = false, horizontal = false;
    unsigned ia = k, ib = k;
    switch (op) {
    case SFP_ADDPS: case SFP_ADDSS: case SFP_ADDPD: case SFP_ADDSD: aop = F80_ADD; break;
    case SFP_SUBPS: case SFP_SUBSS: case SFP_SUBPD: case SFP_SUBSD: aop = F80_SUB; break;
    case SFP_MULPS: case SFP_MULSS: case SFP_MULPD: case SFP_MULSD: aop = F80_MUL; break;
    case SFP_DIVPS: case SFP_DIVSS: case SFP_DIVPD: case SFP_DIVSD: aop = F80_DIV; break;
    case SFP_ADDSUBPS: case SFP_ADDSUBPD: aop = (k & 1) ? F80_ADD : F80_SUB; break;
    case SFP_HADDPS: case SFP_HSUBPS: case SFP_HADDPD: case SFP_HSUBPD: {
        unsigned half = (op == SFP_HADDPS || op == SFP_HSUBPS) ? 2 : 1;
        aop = (op == SFP_HADDPS || op == SFP_HADDPD) ? F80_ADD : F80_SUB;
        horizontal = true;
        from_s = k >= half;
        ia = 2 * (from_s ? k - half : k);
        ib = ia + 1;
        break;
    }
    case SFP_CVTPD2PS: case SFP_CVTSD2SS: {
        f80 v = lane_value(s, k, true, daz);
        return !(v.mant & 0xffffffffffull);
    }
    default:
        return true;
    }
    switch (op) {
    case SFP_ADDPD: case SFP_ADDSD: case SFP_SUBPD: case SFP_SUBSD: case SFP_MULPD:
    case SFP_MULSD: case SFP_DIVPD: case SFP_DIVSD: case SFP_ADDSUBPD: case SFP_HADDPD:
    case SFP_HSUBPD:
        dbl = true;
        break;
    default:
        dbl = false;
        break;
    }
    /* Horizontal operations take both operands from one register. */
    const xmm_reg *src_a = from_s ? s : d, *src_b = horizontal ? src_a : s;
    f80 a = lane_value(src_a, ia, dbl, daz), b = lane_value(src_b, ib, dbl, daz);
    unsigned bits = f80_arith(aop, 0x037f, &a, &b, F80_X80);
    return !(bits & F80_PE) && !(a.mant & (dbl ? 0x7ffull : 0xffffffffffull));
}

/* An operation with unmasked exceptions that may trap: work out, element by element, the
 * flags the processor reports at the #XM. An unmasked overflow or underflow reports OE or UE,
 * with PE only when the significand was rounded, and unmasked underflow is signalled on
 * tininess even for an exact result; an
 * unmasked pre-computation exception (IE, DE, ZE) reports only the pre-computation flags.
 * Raises #XM/#UD when an unmasked exception occurs; returns otherwise. */
static void sse_fp_unmasked(struct cpu *cpu, enum simd_fp_op op, const xmm_reg *d,
                            const xmm_reg *s, uint8_t imm, uint32_t flags)
{
    uint32_t mx = cpu->fpu.mxcsr, unmasked = ~(mx >> 7) & 0x3f, pre = 0, post = 0;
    struct fp_shape sh = fp_shape_of(op);
    for (unsigned k = 0; k < sh.lanes; k++) {
        xmm_reg ld = *d, ls = *s, t;
        if (sh.lanes > 1)
            isolate_lane(sh, k, &ld, &ls);
        t = ld;
        uint32_t f = sh.lanes > 1 ? simd_host_fp(op, mx, &t, &ls, imm) : flags;
        bool tiny = false;
        if (unmasked & MX_UE) {
            /* With FTZ a tiny result (exact or not) raises UE. */
            t = ld;
            tiny = simd_host_fp(op, mx | 0x8000, &t, &ls, imm) & MX_UE;
        }
        pre |= f & (MX_IE | MX_DE | MX_ZE);
        bool daz = mx & 0x40;
        if (f & MX_OE)
            post |= MX_OE | ((unmasked & MX_OE) && lane_exact(op, d, s, k, daz) ? 0 : MX_PE);
        else if (tiny && (unmasked & MX_UE))
            post |= MX_UE | (lane_exact(op, d, s, k, daz) ? 0 : MX_PE);
        else
            post |= f & (MX_UE | MX_PE);
    }
    if (pre & unmasked) {
        cpu->fpu.mxcsr |= pre;
    } else if (post & unmasked) {
        cpu->fpu.mxcsr |= pre | post;
    } else {
        return;
    }
    cpu_exception(cpu, (cpu->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0);
}

/* Packed/scalar floating-point arithmetic: 51-53, 58-5F, C2, D0, 7C, 7D, E6. */
static void sse_fp(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode, pfx = a->prefix;
    enum fpu_feature feat;
    enum simd_fp_op fop = simd_fp_lookup(op, pfx, &feat);
    if (fop == SFP_NONE)
        ud(cpu);
    sse_check(cpu, feat);
    unsigned size = fp_src_size(op, pfx);
    xmm_reg s = xmm_src(cpu, a, size, size == 16);
    xmm_reg d = cpu->fpu.xmm[reg_of(a)], r = d;
    uint32_t flags = simd_host_fp(fop, cpu->fpu.mxcsr, &r, &s, a->imm8);
    uint32_t unmasked = ~(cpu->fpu.mxcsr >> 7) & 0x3f;
    if (unmasked && ((flags & unmasked) || (unmasked & MX_UE)))
        sse_fp_unmasked(cpu, fop, &d, &s, a->imm8, flags);
    sse_flags(cpu, flags);
    cpu->fpu.xmm[reg_of(a)] = r;
}

/* Bitwise 54-57 (and, andn, or, xor) on ps (none) and pd (66). */
static void sse_logic(struct cpu *cpu, const struct simd_args *a)
{
    if (a->prefix != 0 && a->prefix != 0x66)
        ud(cpu);
    sse_check(cpu, a->prefix ? FEAT_SSE2 : FEAT_SSE);
    xmm_reg s = xmm_src(cpu, a, 16, true), *d = &cpu->fpu.xmm[reg_of(a)];
    for (int i = 0; i < 2; i++) {
        switch (a->opcode) {
        case 0x54: d->q[i] &= s.q[i]; break;
        case 0x55: d->q[i] = ~d->q[i] & s.q[i]; break;
        case 0x56: d->q[i] |= s.q[i]; break;
        default: d->q[i] ^= s.q[i]; break;
        }
    }
}

/* COMISS/UCOMISS/COMISD/UCOMISD (2E/2F). */
static void sse_comi(struct cpu *cpu, const struct simd_args *a)
{
    if (a->prefix != 0 && a->prefix != 0x66)
        ud(cpu);
    bool dbl = a->prefix == 0x66;
    sse_check(cpu, dbl ? FEAT_SSE2 : FEAT_SSE);
    xmm_reg s = xmm_src(cpu, a, dbl ? 8 : 4, false);
    xmm_reg d = cpu->fpu.xmm[reg_of(a)];
    uint32_t eflags;
    uint32_t flags = simd_host_comi(a->opcode == 0x2e, dbl, cpu->fpu.mxcsr, &d, &s, &eflags);
    sse_flags(cpu, flags);
    cpu_set_eflags(cpu, eflags, FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF);
}

/* 2A: CVTPI2PS, CVTPI2PD, CVTSI2SS, CVTSI2SD. */
static void sse_cvt_to_fp(struct cpu *cpu, const struct simd_args *a)
{
    xmm_reg *d = &cpu->fpu.xmm[reg_of(a)], r = *d, s;
    uint32_t flags;
    memset(&s, 0, sizeof(s));
    switch (a->prefix) {
    case 0: case 0x66:
        if (is_mem(a))
            sse_check(cpu, a->prefix ? FEAT_SSE2 : FEAT_SSE);
        else
            sse_mmx_check(cpu, a->prefix ? FEAT_SSE2 : FEAT_SSE);
        s.q[0] = mm_src(cpu, a, 8);
        /* An MMX register source enters MMX state even when the conversion then faults. */
        if (!is_mem(a))
            fpu_mmx_enter(cpu);
        flags = simd_host_cvt(a->prefix ? SCV_DQ2PD : SCV_DQ2PS, cpu->fpu.mxcsr, &r, &s);
        sse_flags(cpu, flags);
        if (a->prefix) {
            *d = r;
        } else {
            d->q[0] = r.q[0];
        }
        return;
    case 0xf3: case 0xf2:
        sse_check(cpu, a->prefix == 0xf3 ? FEAT_SSE : FEAT_SSE2);
        s.d[0] = gpr_src(cpu, a);
        flags = simd_host_cvt(a->prefix == 0xf3 ? SCV_SI2SS : SCV_SI2SD, cpu->fpu.mxcsr, &r, &s);
        sse_flags(cpu, flags);
        *d = r;
        return;
    }
    ud(cpu);
}

/* 2C/2D: CVT(T)PS2PI, CVT(T)PD2PI, CVT(T)SS2SI, CVT(T)SD2SI. */
static void sse_cvt_to_int(struct cpu *cpu, const struct simd_args *a)
{
    bool trunc = a->opcode == 0x2c;
    xmm_reg s, r;
    uint32_t flags;
    memset(&r, 0, sizeof(r));
    switch (a->prefix) {
    case 0: case 0x66:
        sse_mmx_check(cpu, a->prefix ? FEAT_SSE2 : FEAT_SSE);
        s = xmm_src(cpu, a, a->prefix ? 16 : 8, a->prefix != 0);
        if (!a->prefix)
            s.q[1] = 0; /* only two singles take part */
        /* MMX state is entered even when the conversion then faults. */
        fpu_mmx_enter(cpu);
        flags = simd_host_cvt(a->prefix ? (trunc ? SCV_TPD2DQ : SCV_PD2DQ)
                                        : (trunc ? SCV_TPS2DQ : SCV_PS2DQ),
                              cpu->fpu.mxcsr, &r, &s);
        sse_flags(cpu, flags);
        mm_set(cpu, reg_of(a), r.q[0]);
        return;
    case 0xf3: case 0xf2:
        sse_check(cpu, a->prefix == 0xf3 ? FEAT_SSE : FEAT_SSE2);
        s = xmm_src(cpu, a, a->prefix == 0xf3 ? 4 : 8, false);
        flags = simd_host_cvt(a->prefix == 0xf3 ? (trunc ? SCV_TSS2SI : SCV_SS2SI)
                                                : (trunc ? SCV_TSD2SI : SCV_SD2SI),
                              cpu->fpu.mxcsr, &r, &s);
        sse_flags(cpu, flags);
        cpu->regs[reg_of(a)] = r.d[0];
        return;
    }
    ud(cpu);
}

/* ---- Data movement ---- */

static void sse_moves(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode, pfx = a->prefix;
    unsigned r = reg_of(a);
    xmm_reg *d = &cpu->fpu.xmm[r], v;
    switch (op) {
    case 0x10: case 0x11: /* MOVUPS/MOVUPD/MOVSS/MOVSD */
        sse_check(cpu, pfx == 0 || pfx == 0xf3 ? FEAT_SSE : FEAT_SSE2);
        if (pfx == 0 || pfx == 0x66) {
            if (op == 0x10)
                *d = xmm_src(cpu, a, 16, false);
            else
                xmm_store(cpu, a, d, 16, false);
            return;
        }
        {
            unsigned n = pfx == 0xf3 ? 4 : 8;
            if (op == 0x10) {
                v = xmm_src(cpu, a, n, false);
                if (is_mem(a))
                    *d = v; /* from memory: upper part zeroed */
                else
                    memcpy(d, &v, n);
            } else if (is_mem(a)) {
                mem_write(cpu, a, d, n);
            } else {
                memcpy(&cpu->fpu.xmm[rm_of(a)], d, n);
            }
        }
        return;
    case 0x12: case 0x13: case 0x16: case 0x17: {
        bool high = op >= 0x16;
        if (pfx == 0xf3 && (op == 0x12 || op == 0x16)) { /* MOVSLDUP / MOVSHDUP */
            sse_check(cpu, FEAT_SSE3);
            v = xmm_src(cpu, a, 16, true);
            for (int i = 0; i < 4; i += 2)
                d->d[i] = d->d[i + 1] = v.d[i + (high ? 1 : 0)];
            return;
        }
        if (pfx == 0xf2 && op == 0x12) { /* MOVDDUP */
            sse_check(cpu, FEAT_SSE3);
            v = xmm_src(cpu, a, 8, false);
            d->q[0] = d->q[1] = v.q[0];
            return;
        }
        if (pfx != 0 && pfx != 0x66)
            ud(cpu);
        sse_check(cpu, pfx ? FEAT_SSE2 : FEAT_SSE);
        if (op == 0x12 || op == 0x16) {
            if (!is_mem(a)) {
                if (pfx)
                    ud(cpu);
                /* MOVHLPS / MOVLHPS */
                if (op == 0x12)
                    d->q[0] = cpu->fpu.xmm[rm_of(a)].q[1];
                else
                    d->q[1] = cpu->fpu.xmm[rm_of(a)].q[0];
                return;
            }
            d->q[high] = cpu_read64(cpu, a->seg, a->ea);
            return;
        }
        if (!is_mem(a))
            ud(cpu);
        cpu_write64(cpu, a->seg, a->ea, d->q[high]);
        return;
    }
    case 0x14: case 0x15: /* UNPCKLPS/PD, UNPCKHPS/PD */
        if (pfx != 0 && pfx != 0x66)
            ud(cpu);
        sse_check(cpu, pfx ? FEAT_SSE2 : FEAT_SSE);
        v = xmm_src(cpu, a, 16, true);
        if (pfx) {
            if (op == 0x14)
                d->q[1] = v.q[0];
            else {
                d->q[0] = d->q[1];
                d->q[1] = v.q[1];
            }
        } else {
            unsigned h = op == 0x15 ? 2 : 0;
            xmm_reg t = { .d = { d->d[h], v.d[h], d->d[h + 1], v.d[h + 1] } };
            *d = t;
        }
        return;
    case 0x28: case 0x29: /* MOVAPS/MOVAPD */
        if (pfx != 0 && pfx != 0x66)
            ud(cpu);
        sse_check(cpu, pfx ? FEAT_SSE2 : FEAT_SSE);
        if (op == 0x28)
            *d = xmm_src(cpu, a, 16, true);
        else
            xmm_store(cpu, a, d, 16, true);
        return;
    case 0x2b: /* MOVNTPS/MOVNTPD */
        if ((pfx != 0 && pfx != 0x66) || !is_mem(a))
            ud(cpu);
        sse_check(cpu, pfx ? FEAT_SSE2 : FEAT_SSE);
        xmm_store(cpu, a, d, 16, true);
        return;
    case 0x50: /* MOVMSKPS/PD */
        if ((pfx != 0 && pfx != 0x66) || is_mem(a))
            ud(cpu);
        sse_check(cpu, pfx ? FEAT_SSE2 : FEAT_SSE);
        v = cpu->fpu.xmm[rm_of(a)];
        cpu->regs[r] = pfx ? (uint32_t)(v.q[0] >> 63 | (v.q[1] >> 63) << 1)
                           : (v.d[0] >> 31 | (v.d[1] >> 31) << 1 | (v.d[2] >> 31) << 2 |
                              (v.d[3] >> 31) << 3);
        return;
    case 0xc6: /* SHUFPS/SHUFPD */
        if (pfx != 0 && pfx != 0x66)
            ud(cpu);
        sse_check(cpu, pfx ? FEAT_SSE2 : FEAT_SSE);
        v = xmm_src(cpu, a, 16, true);
        if (pfx) {
            xmm_reg t = { .q = { d->q[a->imm8 & 1], v.q[a->imm8 >> 1 & 1] } };
            *d = t;
        } else {
            uint8_t i = a->imm8;
            xmm_reg t = { .d = { d->d[i & 3], d->d[i >> 2 & 3], v.d[i >> 4 & 3], v.d[i >> 6 & 3] } };
            *d = t;
        }
        return;
    }
    ud(cpu);
}

/* ---- Integer SIMD (MMX and SSE2 forms) ---- */

/* Feature an MMX-register form of integer opcode op needs. */
static enum fpu_feature mmx_feature(uint8_t op)
{
    switch (op) {
    case 0xda: case 0xde: case 0xe0: case 0xe3: case 0xe4: case 0xea: case 0xee: case 0xf6:
    case 0xf7: case 0xe7: case 0x70: case 0xc4: case 0xc5: case 0xd7:
        return FEAT_MMXEXT;
    case 0xd4: case 0xfb: case 0xf4:
        return FEAT_SSE2;
    }
    return FEAT_MMX;
}

/* Binary integer operations with a host equivalent: 60-6D, 74-76, D1-FE. */
static bool int_binary(uint8_t op)
{
    if ((op >= 0x60 && op <= 0x6d) || (op >= 0x74 && op <= 0x76))
        return true;
    if (op >= 0xd1 && op <= 0xfe)
        return op != 0xd6 && op != 0xd7 && op != 0xe6 && op != 0xe7 && op != 0xf0 &&
               op != 0xf7;
    return false;
}

static void mmx_binary(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode;
    if (op == 0x6c || op == 0x6d)
        ud(cpu);
    mmx_check(cpu, mmx_feature(op));
    bool low32 = op >= 0x60 && op <= 0x62; /* PUNPCKL* mm, mm/m32 */
    xmm_reg d = { .q = { mm_get(cpu, reg_of(a)), 0 } }, s = { .q = { mm_src(cpu, a, low32 ? 4 : 8), 0 } };
    uint8_t hop = op;
    if (op == 0x63 || op == 0x67 || op == 0x6b) {
        /* Packs: destination words then source words, in one 128-bit operand. */
        d.q[1] = s.q[0];
        s = d;
    } else if (op >= 0x68 && op <= 0x6a) {
        /* High unpacks of 64-bit operands are low unpacks of their upper halves. */
        d.q[0] >>= 32;
        s.q[0] >>= 32;
        hop = (uint8_t)(op - 8);
    }
    simd_host_int(hop, &d, &s);
    mm_set(cpu, reg_of(a), d.q[0]);
}

static void xmm_binary(struct cpu *cpu, const struct simd_args *a)
{
    sse_check(cpu, FEAT_SSE2);
    xmm_reg s = xmm_src(cpu, a, 16, true), d = cpu->fpu.xmm[reg_of(a)];
    simd_host_int(a->opcode, &d, &s);
    cpu->fpu.xmm[reg_of(a)] = d;
}

/* 71-73: shifts by immediate of the rm register. */
static void shift_imm(struct cpu *cpu, const struct simd_args *a)
{
    static const uint8_t host_op[3][8] = {
        { 0, 0, 0xd1, 0, 0xe1, 0, 0xf1, 0 }, /* 71: psrlw, psraw, psllw */
        { 0, 0, 0xd2, 0, 0xe2, 0, 0xf2, 0 }, /* 72: psrld, psrad, pslld */
        { 0, 0, 0xd3, 1, 0, 0, 0xf3, 1 },    /* 73: psrlq, psrldq, psllq, pslldq */
    };
    unsigned g = a->opcode - 0x71, r = reg_of(a);
    uint8_t hop = host_op[g][r];
    if (is_mem(a) || hop == 0 || (a->prefix != 0 && a->prefix != 0x66))
        ud(cpu);
    xmm_reg count = { .q = { a->imm8, 0 } };
    if (a->prefix == 0x66) {
        sse_check(cpu, FEAT_SSE2);
        xmm_reg *d = &cpu->fpu.xmm[rm_of(a)];
        if (hop == 1) {
            unsigned n = a->imm8 > 16 ? 16 : a->imm8;
            xmm_reg t;
            memset(&t, 0, sizeof(t));
            if (r == 3)
                memcpy(t.b, d->b + n, 16 - n);
            else
                memcpy(t.b + n, d->b, 16 - n);
            *d = t;
            return;
        }
        simd_host_int(hop, d, &count);
        return;
    }
    if (hop == 1)
        ud(cpu);
    mmx_check(cpu, FEAT_MMX);
    xmm_reg d = { .q = { mm_get(cpu, rm_of(a)), 0 } };
    simd_host_int(hop, &d, &count);
    mm_set(cpu, rm_of(a), d.q[0]);
}

/* 70: PSHUFW / PSHUFD / PSHUFHW / PSHUFLW. */
static void pshuf(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t i = a->imm8;
    if (a->prefix == 0) {
        mmx_check(cpu, FEAT_MMXEXT);
        uint64_t s = mm_src(cpu, a, 8), r = 0;
        for (int k = 0; k < 4; k++)
            r |= (s >> (16 * (i >> (2 * k) & 3)) & 0xffff) << (16 * k);
        mm_set(cpu, reg_of(a), r);
        return;
    }
    sse_check(cpu, FEAT_SSE2);
    xmm_reg s = xmm_src(cpu, a, 16, true), r = s;
    switch (a->prefix) {
    case 0x66:
        for (int k = 0; k < 4; k++)
            r.d[k] = s.d[i >> (2 * k) & 3];
        break;
    case 0xf2:
        for (int k = 0; k < 4; k++)
            r.w[k] = s.w[i >> (2 * k) & 3];
        break;
    default:
        for (int k = 0; k < 4; k++)
            r.w[4 + k] = s.w[4 + (i >> (2 * k) & 3)];
        break;
    }
    cpu->fpu.xmm[reg_of(a)] = r;
}

/* 6E/7E/6F/7F/D6/E7/F0/F7/D7/C4/C5: moves, masks and word insert/extract. */
static void int_moves(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode, pfx = a->prefix;
    unsigned r = reg_of(a);
    xmm_reg *x = &cpu->fpu.xmm[r], v;
    switch (op) {
    case 0x6e: /* MOVD mm/xmm, r/m32 */
        if (pfx == 0) {
            mmx_check(cpu, FEAT_MMX);
            mm_set(cpu, r, gpr_src(cpu, a));
        } else if (pfx == 0x66) {
            sse_check(cpu, FEAT_SSE2);
            memset(&v, 0, sizeof(v));
            v.d[0] = gpr_src(cpu, a);
            *x = v;
        } else {
            ud(cpu);
        }
        return;
    case 0x7e:
        if (pfx == 0xf3) { /* MOVQ xmm, xmm/m64 */
            sse_check(cpu, FEAT_SSE2);
            v = xmm_src(cpu, a, 8, false);
            v.q[1] = 0;
            *x = v;
            return;
        }
        if (pfx == 0) {
            mmx_check(cpu, FEAT_MMX);
        } else if (pfx == 0x66) {
            sse_check(cpu, FEAT_SSE2);
        } else {
            ud(cpu);
        }
        {
            uint32_t val = pfx ? x->d[0] : (uint32_t)mm_get(cpu, r);
            if (is_mem(a))
                cpu_write32(cpu, a->seg, a->ea, val);
            else
                cpu->regs[rm_of(a)] = val;
            if (!pfx)
                fpu_mmx_enter(cpu);
        }
        return;
    case 0x6f: case 0x7f:
        if (pfx == 0) {
            mmx_check(cpu, FEAT_MMX);
            if (op == 0x6f) {
                mm_set(cpu, r, mm_src(cpu, a, 8));
            } else {
                uint64_t val = mm_get(cpu, r);
                if (is_mem(a))
                    cpu_write64(cpu, a->seg, a->ea, val);
                else
                    fpu_mmx_write(cpu, rm_of(a), val);
                fpu_mmx_enter(cpu);
            }
            return;
        }
        if (pfx == 0xf2)
            ud(cpu);
        sse_check(cpu, FEAT_SSE2);
        if (op == 0x6f)
            *x = xmm_src(cpu, a, 16, pfx == 0x66);
        else
            xmm_store(cpu, a, x, 16, pfx == 0x66);
        return;
    case 0xd6:
        if (pfx == 0x66) { /* MOVQ xmm/m64, xmm */
            sse_check(cpu, FEAT_SSE2);
            if (is_mem(a)) {
                cpu_write64(cpu, a->seg, a->ea, x->q[0]);
            } else {
                xmm_reg t = { .q = { x->q[0], 0 } };
                cpu->fpu.xmm[rm_of(a)] = t;
            }
            return;
        }
        if (is_mem(a) || (pfx != 0xf3 && pfx != 0xf2))
            ud(cpu);
        sse_mmx_check(cpu, FEAT_SSE2);
        if (pfx == 0xf3) { /* MOVQ2DQ xmm, mm */
            xmm_reg t = { .q = { mm_get(cpu, rm_of(a)), 0 } };
            *x = t;
            fpu_mmx_enter(cpu);
        } else { /* MOVDQ2Q mm, xmm */
            mm_set(cpu, r, cpu->fpu.xmm[rm_of(a)].q[0]);
        }
        return;
    case 0xe7: /* MOVNTQ / MOVNTDQ */
        if (!is_mem(a))
            ud(cpu);
        if (pfx == 0) {
            mmx_check(cpu, FEAT_MMXEXT);
            cpu_write64(cpu, a->seg, a->ea, mm_get(cpu, r));
            fpu_mmx_enter(cpu);
        } else if (pfx == 0x66) {
            sse_check(cpu, FEAT_SSE2);
            xmm_store(cpu, a, x, 16, true);
        } else {
            ud(cpu);
        }
        return;
    case 0xf0: /* LDDQU */
        if (pfx != 0xf2 || !is_mem(a))
            ud(cpu);
        sse_check(cpu, FEAT_SSE3);
        *x = xmm_src(cpu, a, 16, false);
        return;
    case 0xf7: { /* MASKMOVQ / MASKMOVDQU: store selected bytes to DS:(E)DI */
        if (is_mem(a) || (pfx != 0 && pfx != 0x66))
            ud(cpu);
        uint8_t data[16], mask[16];
        unsigned n = pfx ? 16 : 8;
        if (pfx) {
            sse_check(cpu, FEAT_SSE2);
            memcpy(data, x->b, 16);
            memcpy(mask, cpu->fpu.xmm[rm_of(a)].b, 16);
        } else {
            mmx_check(cpu, FEAT_MMXEXT);
            uint64_t dv = mm_get(cpu, r), mv = mm_get(cpu, rm_of(a));
            memcpy(data, &dv, 8);
            memcpy(mask, &mv, 8);
        }
        uint32_t addr = a->addr32 ? cpu->regs[R_EDI] : (cpu->regs[R_EDI] & 0xffff);
        for (unsigned k = 0; k < n; k++)
            if (mask[k] & 0x80)
                cpu_write8(cpu, a->str_seg, a->addr32 ? addr + k : (uint16_t)(addr + k), data[k]);
        if (!pfx)
            fpu_mmx_enter(cpu);
        return;
    }
    case 0xd7: /* PMOVMSKB r32, mm/xmm */
        if (is_mem(a) || (pfx != 0 && pfx != 0x66))
            ud(cpu);
        {
            uint32_t m = 0;
            if (pfx) {
                sse_check(cpu, FEAT_SSE2);
                for (int k = 0; k < 16; k++)
                    m |= (uint32_t)(cpu->fpu.xmm[rm_of(a)].b[k] >> 7) << k;
            } else {
                mmx_check(cpu, FEAT_MMXEXT);
                uint64_t s = mm_get(cpu, rm_of(a));
                for (int k = 0; k < 8; k++)
                    m |= (uint32_t)(s >> (8 * k + 7) & 1) << k;
                fpu_mmx_enter(cpu);
            }
            cpu->regs[r] = m;
        }
        return;
    case 0xc4: /* PINSRW mm/xmm, r32/m16, imm8 */
        if (pfx == 0) {
            mmx_check(cpu, FEAT_MMXEXT);
            uint16_t w = is_mem(a) ? cpu_read16(cpu, a->seg, a->ea) : (uint16_t)cpu->regs[rm_of(a)];
            unsigned sh = 16 * (a->imm8 & 3);
            uint64_t m = mm_get(cpu, r);
            m = (m & ~(0xffffull << sh)) | (uint64_t)w << sh;
            mm_set(cpu, r, m);
        } else if (pfx == 0x66) {
            sse_check(cpu, FEAT_SSE2);
            uint16_t w = is_mem(a) ? cpu_read16(cpu, a->seg, a->ea) : (uint16_t)cpu->regs[rm_of(a)];
            x->w[a->imm8 & 7] = w;
        } else {
            ud(cpu);
        }
        return;
    case 0xc5: /* PEXTRW r32, mm/xmm, imm8 */
        if (is_mem(a))
            ud(cpu);
        if (pfx == 0) {
            mmx_check(cpu, FEAT_MMXEXT);
            cpu->regs[r] = (uint32_t)(mm_get(cpu, rm_of(a)) >> (16 * (a->imm8 & 3)) & 0xffff);
            fpu_mmx_enter(cpu);
        } else if (pfx == 0x66) {
            sse_check(cpu, FEAT_SSE2);
            cpu->regs[r] = cpu->fpu.xmm[rm_of(a)].w[a->imm8 & 7];
        } else {
            ud(cpu);
        }
        return;
    }
    ud(cpu);
}

/* ---- 0F AE: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, fences, CLFLUSH ---- */

static void group_ae(struct cpu *cpu, const struct simd_args *a)
{
    unsigned r = reg_of(a);
    if (a->prefix != 0)
        ud(cpu);
    if (!is_mem(a)) {
        switch (r) {
        case 5: case 6: need(cpu, FEAT_SSE2); return; /* LFENCE, MFENCE */
        case 7: need(cpu, FEAT_MMXEXT); return;       /* SFENCE */
        }
        ud(cpu);
    }
    switch (r) {
    case 0: case 1:
        need(cpu, FEAT_FXSR);
        if (cpu->cr0 & (CR0_EM | CR0_TS))
            cpu_exception(cpu, EXC_NM, 0);
        if (r == 0)
            fpu_fxsave(cpu, a->seg, a->ea);
        else
            fpu_fxrstor(cpu, a->seg, a->ea);
        return;
    case 2: {
        sse_check(cpu, FEAT_SSE);
        uint32_t v = cpu_read32(cpu, a->seg, a->ea);
        if (v & ~fpu_mxcsr_mask(cpu))
            cpu_exception(cpu, EXC_GP, 0);
        cpu->fpu.mxcsr = v;
        return;
    }
    case 3:
        sse_check(cpu, FEAT_SSE);
        cpu_write32(cpu, a->seg, a->ea, cpu->fpu.mxcsr);
        return;
    case 7: /* CLFLUSH: no caches to flush; fault like a byte read */
        need(cpu, FEAT_CLFSH);
        (void)cpu_read8(cpu, a->seg, a->ea);
        return;
    }
    ud(cpu);
}

/* ---- For sse4.c (simd_int.h) ---- */

void simd_need(struct cpu *cpu, enum fpu_feature feat) { need(cpu, feat); }
void simd_sse_check(struct cpu *cpu, enum fpu_feature feat) { sse_check(cpu, feat); }
void simd_mmx_check(struct cpu *cpu, enum fpu_feature feat) { mmx_check(cpu, feat); }
xmm_reg simd_xmm_src(struct cpu *cpu, const struct simd_args *a, unsigned size, bool align)
{
    return xmm_src(cpu, a, size, align);
}
uint64_t simd_mm_src(struct cpu *cpu, const struct simd_args *a, unsigned size)
{
    return mm_src(cpu, a, size);
}
uint64_t simd_mm_get(struct cpu *cpu, unsigned r) { return mm_get(cpu, r); }
void simd_mm_set(struct cpu *cpu, unsigned r, uint64_t v) { mm_set(cpu, r, v); }
void simd_sse_flags(struct cpu *cpu, uint32_t flags) { sse_flags(cpu, flags); }

uint32_t simd_fp_step(struct cpu *cpu, enum simd_fp_op op, xmm_reg *r, const xmm_reg *s,
                      uint32_t prior)
{
    xmm_reg d = *r;
    uint32_t flags = simd_host_fp(op, cpu->fpu.mxcsr, r, s, 0);
    uint32_t unmasked = ~(cpu->fpu.mxcsr >> 7) & 0x3f;
    if (unmasked && ((flags & unmasked) || (unmasked & MX_UE))) {
        uint32_t keep = cpu->fpu.mxcsr;
        cpu->fpu.mxcsr |= prior;   /* reported with this step's flags if it traps */
        sse_fp_unmasked(cpu, op, &d, s, 0, flags);
        cpu->fpu.mxcsr = keep;
    }
    return prior | flags;
}

/* ---- Dispatch ---- */

void cpu_simd_op(struct cpu *cpu, const struct simd_args *a)
{
    uint8_t op = a->opcode;
    if (a->map != 1) {
        sse4_op(cpu, a);
        return;
    }
    switch (op) {
    case 0x10 ... 0x17: case 0x28: case 0x29: case 0x2b: case 0x50: case 0xc6:
        sse_moves(cpu, a);
        return;
    case 0x18: /* PREFETCHh: a hint */
        need(cpu, FEAT_MMXEXT);
        return;
    case 0x2a: sse_cvt_to_fp(cpu, a); return;
    case 0x2c: case 0x2d: sse_cvt_to_int(cpu, a); return;
    case 0x2e: case 0x2f: sse_comi(cpu, a); return;
    case 0x51 ... 0x53: case 0x58 ... 0x5f: case 0xc2: case 0xd0: case 0x7c: case 0x7d:
    case 0xe6:
        sse_fp(cpu, a);
        return;
    case 0x54 ... 0x57: sse_logic(cpu, a); return;
    case 0x70: pshuf(cpu, a); return;
    case 0x71 ... 0x73: shift_imm(cpu, a); return;
    case 0x77: /* EMMS */
        if (a->prefix)
            ud(cpu);
        mmx_check(cpu, FEAT_MMX);
        cpu->fpu.valid = 0;
        cpu->fpu.top = 0;
        return;
    case 0xae: group_ae(cpu, a); return;
    case 0xc3: /* MOVNTI m32, r32 */
        if (a->prefix || !is_mem(a))
            ud(cpu);
        need(cpu, FEAT_SSE2);
        cpu_write32(cpu, a->seg, a->ea, cpu->regs[reg_of(a)]);
        return;
    }
    if (int_binary(op)) {
        if (a->prefix == 0)
            mmx_binary(cpu, a);
        else if (a->prefix == 0x66)
            xmm_binary(cpu, a);
        else
            ud(cpu);
        return;
    }
    int_moves(cpu, a);
}

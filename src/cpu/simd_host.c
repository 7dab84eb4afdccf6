/* simd_host.h on an x86 host: each operation is one asm block that saves the host MXCSR, loads
 * the guest's (flags cleared, every exception masked), runs the host instruction, reads the
 * flags and restores the host MXCSR. */
#include <string.h>

#include "cpu/simd_host.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "simd_host.c needs an x86 host with SSE3; a portable backend is still to be written"
#endif

typedef long long v2di __attribute__((vector_size(16)));

/* MXCSR for the host run: guest rounding/FTZ/DAZ, no flags, all exceptions masked. */
static uint32_t host_csr(uint32_t mxcsr) { return (mxcsr & ~0x3fu) | 0x1f80u; }

#define SSE_RUN(INSN)                                                                         \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], %[d]\n\t"                \
                     "stmxcsr %[o]\n\tldmxcsr %[h]"                                           \
                     : [d] "+x"(vd), [o] "=m"(out), [h] "+m"(host)                            \
                     : [s] "x"(vs), [c] "m"(csr))

enum simd_fp_op simd_fp_lookup(uint8_t op, uint8_t pfx, enum fpu_feature *feat)
{
#define SIMD_FP_FIND(o, p, f, n, s)                                                           \
    if (op == (o) && pfx == (p)) {                                                            \
        *feat = (f);                                                                          \
        return SFP_##n;                                                                       \
    }
    SIMD_FP_OPS(SIMD_FP_FIND)
#undef SIMD_FP_FIND
    if (op == 0xc2) {
        switch (pfx) {
        case 0x00: *feat = FEAT_SSE; return SFP_CMPPS;
        case 0x66: *feat = FEAT_SSE2; return SFP_CMPPD;
        case 0xf3: *feat = FEAT_SSE; return SFP_CMPSS;
        case 0xf2: *feat = FEAT_SSE2; return SFP_CMPSD;
        }
    }
    return SFP_NONE;
}

#define CMP_CASES(NAME)                                                                       \
    switch (imm & 7) {                                                                        \
    case 0: SSE_RUN(NAME " $0,"); break;                                                      \
    case 1: SSE_RUN(NAME " $1,"); break;                                                      \
    case 2: SSE_RUN(NAME " $2,"); break;                                                      \
    case 3: SSE_RUN(NAME " $3,"); break;                                                      \
    case 4: SSE_RUN(NAME " $4,"); break;                                                      \
    case 5: SSE_RUN(NAME " $5,"); break;                                                      \
    case 6: SSE_RUN(NAME " $6,"); break;                                                      \
    default: SSE_RUN(NAME " $7,"); break;                                                     \
    }

uint32_t simd_host_fp(enum simd_fp_op op, uint32_t mxcsr, xmm_reg *d, const xmm_reg *s, uint8_t imm)
{
    v2di vd, vs;
    uint32_t out = 0, host = 0, csr = host_csr(mxcsr);
    memcpy(&vd, d, 16);
    memcpy(&vs, s, 16);
    switch (op) {
#define SIMD_FP_CASE(o, p, f, n, str)                                                         \
    case SFP_##n: SSE_RUN(str); break;
        SIMD_FP_OPS(SIMD_FP_CASE)
#undef SIMD_FP_CASE
    case SFP_CMPPS: CMP_CASES("cmpps"); break;
    case SFP_CMPPD: CMP_CASES("cmppd"); break;
    case SFP_CMPSS: CMP_CASES("cmpss"); break;
    case SFP_CMPSD: CMP_CASES("cmpsd"); break;
    case SFP_NONE: return 0;
    }
    memcpy(d, &vd, 16);
    return out & 0x3f;
}

uint32_t simd_host_comi(bool unordered, bool dbl, uint32_t mxcsr, const xmm_reg *d,
                        const xmm_reg *s, uint32_t *eflags)
{
    v2di vd, vs;
    uint32_t out = 0, host = 0, csr = host_csr(mxcsr);
    uint8_t zf, pf, cf;
    memcpy(&vd, d, 16);
    memcpy(&vs, s, 16);
#define COMI_RUN(INSN)                                                                        \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], %[d]\n\t"                \
                     "setz %[z]\n\tsetp %[p]\n\tsetc %[cf]\n\tstmxcsr %[o]\n\tldmxcsr %[h]"    \
                     : [z] "=&q"(zf), [p] "=&q"(pf), [cf] "=&q"(cf), [o] "=m"(out),             \
                       [h] "+m"(host)                                                         \
                     : [d] "x"(vd), [s] "x"(vs), [c] "m"(csr)                                 \
                     : "cc")
    if (dbl) {
        if (unordered) COMI_RUN("ucomisd"); else COMI_RUN("comisd");
    } else {
        if (unordered) COMI_RUN("ucomiss"); else COMI_RUN("comiss");
    }
#undef COMI_RUN
    /* ZF, PF, CF from the comparison; OF, SF, AF cleared (bit positions of EFLAGS). */
    *eflags = (zf ? 1u << 6 : 0) | (pf ? 1u << 2 : 0) | (cf ? 1u : 0);
    return out & 0x3f;
}

uint32_t simd_host_cvt(enum simd_cvt op, uint32_t mxcsr, xmm_reg *d, const xmm_reg *s)
{
    v2di vd, vs;
    uint32_t out = 0, host = 0, csr = host_csr(mxcsr), r = 0;
    int32_t i = (int32_t)s->d[0];
    memcpy(&vd, d, 16);
    memcpy(&vs, s, 16);
#define CVT_TO_GPR(INSN)                                                                      \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[s], %[r]\n\t"                \
                     "stmxcsr %[o]\n\tldmxcsr %[h]"                                           \
                     : [r] "=&r"(r), [o] "=m"(out), [h] "+m"(host)                            \
                     : [s] "x"(vs), [c] "m"(csr))
#define CVT_FROM_GPR(INSN)                                                                    \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" INSN " %[i], %[d]\n\t"                \
                     "stmxcsr %[o]\n\tldmxcsr %[h]"                                           \
                     : [d] "+x"(vd), [o] "=m"(out), [h] "+m"(host)                            \
                     : [i] "r"(i), [c] "m"(csr))
    switch (op) {
    case SCV_DQ2PS: SSE_RUN("cvtdq2ps"); break;
    case SCV_DQ2PD: SSE_RUN("cvtdq2pd"); break;
    case SCV_PS2DQ: SSE_RUN("cvtps2dq"); break;
    case SCV_TPS2DQ: SSE_RUN("cvttps2dq"); break;
    case SCV_PD2DQ: SSE_RUN("cvtpd2dq"); break;
    case SCV_TPD2DQ: SSE_RUN("cvttpd2dq"); break;
    case SCV_SI2SS: CVT_FROM_GPR("cvtsi2ssl"); break;
    case SCV_SI2SD: CVT_FROM_GPR("cvtsi2sdl"); break;
    case SCV_SS2SI: CVT_TO_GPR("cvtss2si"); break;
    case SCV_TSS2SI: CVT_TO_GPR("cvttss2si"); break;
    case SCV_SD2SI: CVT_TO_GPR("cvtsd2si"); break;
    case SCV_TSD2SI: CVT_TO_GPR("cvttsd2si"); break;
    }
#undef CVT_TO_GPR
#undef CVT_FROM_GPR
    if (op >= SCV_SS2SI) {
        memset(d, 0, 16);
        d->d[0] = r;
    } else {
        memcpy(d, &vd, 16);
    }
    return out & 0x3f;
}

#define INT_RUN(INSN) __asm__(INSN " %[s], %[d]" : [d] "+x"(vd) : [s] "x"(vs))

void simd_host_int(uint8_t opcode, xmm_reg *d, const xmm_reg *s)
{
    v2di vd, vs;
    memcpy(&vd, d, 16);
    memcpy(&vs, s, 16);
    switch (opcode) {
    case 0x60: INT_RUN("punpcklbw"); break;
    case 0x61: INT_RUN("punpcklwd"); break;
    case 0x62: INT_RUN("punpckldq"); break;
    case 0x63: INT_RUN("packsswb"); break;
    case 0x64: INT_RUN("pcmpgtb"); break;
    case 0x65: INT_RUN("pcmpgtw"); break;
    case 0x66: INT_RUN("pcmpgtd"); break;
    case 0x67: INT_RUN("packuswb"); break;
    case 0x68: INT_RUN("punpckhbw"); break;
    case 0x69: INT_RUN("punpckhwd"); break;
    case 0x6a: INT_RUN("punpckhdq"); break;
    case 0x6b: INT_RUN("packssdw"); break;
    case 0x6c: INT_RUN("punpcklqdq"); break;
    case 0x6d: INT_RUN("punpckhqdq"); break;
    case 0x74: INT_RUN("pcmpeqb"); break;
    case 0x75: INT_RUN("pcmpeqw"); break;
    case 0x76: INT_RUN("pcmpeqd"); break;
    case 0xd1: INT_RUN("psrlw"); break;
    case 0xd2: INT_RUN("psrld"); break;
    case 0xd3: INT_RUN("psrlq"); break;
    case 0xd4: INT_RUN("paddq"); break;
    case 0xd5: INT_RUN("pmullw"); break;
    case 0xd8: INT_RUN("psubusb"); break;
    case 0xd9: INT_RUN("psubusw"); break;
    case 0xda: INT_RUN("pminub"); break;
    case 0xdb: INT_RUN("pand"); break;
    case 0xdc: INT_RUN("paddusb"); break;
    case 0xdd: INT_RUN("paddusw"); break;
    case 0xde: INT_RUN("pmaxub"); break;
    case 0xdf: INT_RUN("pandn"); break;
    case 0xe0: INT_RUN("pavgb"); break;
    case 0xe1: INT_RUN("psraw"); break;
    case 0xe2: INT_RUN("psrad"); break;
    case 0xe3: INT_RUN("pavgw"); break;
    case 0xe4: INT_RUN("pmulhuw"); break;
    case 0xe5: INT_RUN("pmulhw"); break;
    case 0xe8: INT_RUN("psubsb"); break;
    case 0xe9: INT_RUN("psubsw"); break;
    case 0xea: INT_RUN("pminsw"); break;
    case 0xeb: INT_RUN("por"); break;
    case 0xec: INT_RUN("paddsb"); break;
    case 0xed: INT_RUN("paddsw"); break;
    case 0xee: INT_RUN("pmaxsw"); break;
    case 0xef: INT_RUN("pxor"); break;
    case 0xf1: INT_RUN("psllw"); break;
    case 0xf2: INT_RUN("pslld"); break;
    case 0xf3: INT_RUN("psllq"); break;
    case 0xf4: INT_RUN("pmuludq"); break;
    case 0xf5: INT_RUN("pmaddwd"); break;
    case 0xf6: INT_RUN("psadbw"); break;
    case 0xf8: INT_RUN("psubb"); break;
    case 0xf9: INT_RUN("psubw"); break;
    case 0xfa: INT_RUN("psubd"); break;
    case 0xfb: INT_RUN("psubq"); break;
    case 0xfc: INT_RUN("paddb"); break;
    case 0xfd: INT_RUN("paddw"); break;
    case 0xfe: INT_RUN("paddd"); break;
    default: return;
    }
    memcpy(d, &vd, 16);
}

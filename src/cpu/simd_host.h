/* Numeric SIMD operations run on the host's SSE unit (x86 hosts), with the guest MXCSR's
 * rounding, FTZ and DAZ in force and every exception masked: each returns the MXCSR flags the
 * operation raised (bits 0-5); the caller decides about unmasked exceptions. A portable
 * implementation can replace simd_host.c behind this interface. */
#ifndef PCVM_CPU_SIMD_HOST_H
#define PCVM_CPU_SIMD_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/fpu.h"

/* Floating-point opcodes (0F map opcode, mandatory prefix, feature, name, host mnemonic). */
#define SIMD_FP_OPS(X)                                                                        \
    X(0x51, 0x00, FEAT_SSE, SQRTPS, "sqrtps") X(0x51, 0x66, FEAT_SSE2, SQRTPD, "sqrtpd")      \
    X(0x51, 0xf3, FEAT_SSE, SQRTSS, "sqrtss") X(0x51, 0xf2, FEAT_SSE2, SQRTSD, "sqrtsd")      \
    X(0x52, 0x00, FEAT_SSE, RSQRTPS, "rsqrtps") X(0x52, 0xf3, FEAT_SSE, RSQRTSS, "rsqrtss")   \
    X(0x53, 0x00, FEAT_SSE, RCPPS, "rcpps") X(0x53, 0xf3, FEAT_SSE, RCPSS, "rcpss")           \
    X(0x58, 0x00, FEAT_SSE, ADDPS, "addps") X(0x58, 0x66, FEAT_SSE2, ADDPD, "addpd")          \
    X(0x58, 0xf3, FEAT_SSE, ADDSS, "addss") X(0x58, 0xf2, FEAT_SSE2, ADDSD, "addsd")          \
    X(0x59, 0x00, FEAT_SSE, MULPS, "mulps") X(0x59, 0x66, FEAT_SSE2, MULPD, "mulpd")          \
    X(0x59, 0xf3, FEAT_SSE, MULSS, "mulss") X(0x59, 0xf2, FEAT_SSE2, MULSD, "mulsd")          \
    X(0x5a, 0x00, FEAT_SSE2, CVTPS2PD, "cvtps2pd") X(0x5a, 0x66, FEAT_SSE2, CVTPD2PS, "cvtpd2ps") \
    X(0x5a, 0xf3, FEAT_SSE2, CVTSS2SD, "cvtss2sd") X(0x5a, 0xf2, FEAT_SSE2, CVTSD2SS, "cvtsd2ss") \
    X(0x5b, 0x00, FEAT_SSE2, CVTDQ2PS, "cvtdq2ps") X(0x5b, 0x66, FEAT_SSE2, CVTPS2DQ, "cvtps2dq") \
    X(0x5b, 0xf3, FEAT_SSE2, CVTTPS2DQ, "cvttps2dq")                                           \
    X(0x5c, 0x00, FEAT_SSE, SUBPS, "subps") X(0x5c, 0x66, FEAT_SSE2, SUBPD, "subpd")          \
    X(0x5c, 0xf3, FEAT_SSE, SUBSS, "subss") X(0x5c, 0xf2, FEAT_SSE2, SUBSD, "subsd")          \
    X(0x5d, 0x00, FEAT_SSE, MINPS, "minps") X(0x5d, 0x66, FEAT_SSE2, MINPD, "minpd")          \
    X(0x5d, 0xf3, FEAT_SSE, MINSS, "minss") X(0x5d, 0xf2, FEAT_SSE2, MINSD, "minsd")          \
    X(0x5e, 0x00, FEAT_SSE, DIVPS, "divps") X(0x5e, 0x66, FEAT_SSE2, DIVPD, "divpd")          \
    X(0x5e, 0xf3, FEAT_SSE, DIVSS, "divss") X(0x5e, 0xf2, FEAT_SSE2, DIVSD, "divsd")          \
    X(0x5f, 0x00, FEAT_SSE, MAXPS, "maxps") X(0x5f, 0x66, FEAT_SSE2, MAXPD, "maxpd")          \
    X(0x5f, 0xf3, FEAT_SSE, MAXSS, "maxss") X(0x5f, 0xf2, FEAT_SSE2, MAXSD, "maxsd")          \
    X(0xe6, 0x66, FEAT_SSE2, CVTTPD2DQ, "cvttpd2dq") X(0xe6, 0xf3, FEAT_SSE2, CVTDQ2PD, "cvtdq2pd") \
    X(0xe6, 0xf2, FEAT_SSE2, CVTPD2DQ, "cvtpd2dq")                                             \
    X(0xd0, 0x66, FEAT_SSE3, ADDSUBPD, "addsubpd") X(0xd0, 0xf2, FEAT_SSE3, ADDSUBPS, "addsubps") \
    X(0x7c, 0x66, FEAT_SSE3, HADDPD, "haddpd") X(0x7c, 0xf2, FEAT_SSE3, HADDPS, "haddps")     \
    X(0x7d, 0x66, FEAT_SSE3, HSUBPD, "hsubpd") X(0x7d, 0xf2, FEAT_SSE3, HSUBPS, "hsubps")

enum simd_fp_op {
    SFP_NONE,
#define SIMD_FP_ENUM(o, p, f, n, s) SFP_##n,
    SIMD_FP_OPS(SIMD_FP_ENUM)
#undef SIMD_FP_ENUM
    SFP_CMPPS, SFP_CMPPD, SFP_CMPSS, SFP_CMPSD,  /* C2, predicate in imm8 */
};

/* Conversions with integer or MMX operands. */
enum simd_cvt {
    SCV_DQ2PS, SCV_DQ2PD,              /* CVTPI2PS/PD via two dwords in s */
    SCV_SI2SS, SCV_SI2SD,              /* s->d[0] is the integer; d keeps its upper part */
    SCV_PS2DQ, SCV_TPS2DQ, SCV_PD2DQ, SCV_TPD2DQ, /* result dwords in d */
    SCV_SS2SI, SCV_TSS2SI, SCV_SD2SI, SCV_TSD2SI, /* result in d->d[0] */
};

/* The floating-point operation for 0F op with prefix pfx (SFP_NONE: #UD); *feat its feature. */
enum simd_fp_op simd_fp_lookup(uint8_t op, uint8_t pfx, enum fpu_feature *feat);
/* *d = *d op *s (imm: CMPxx predicate). Returns the MXCSR flags raised. */
uint32_t simd_host_fp(enum simd_fp_op op, uint32_t mxcsr, xmm_reg *d, const xmm_reg *s, uint8_t imm);
/* (U)COMISS/SD of d with s: *eflags gets ZF/PF/CF. Returns the MXCSR flags raised. */
uint32_t simd_host_comi(bool unordered, bool dbl, uint32_t mxcsr, const xmm_reg *d,
                        const xmm_reg *s, uint32_t *eflags);
/* Conversion op of s into d. Returns the MXCSR flags raised. */
uint32_t simd_host_cvt(enum simd_cvt op, uint32_t mxcsr, xmm_reg *d, const xmm_reg *s);
/* Integer operation of 0F opcode (60-6D, 74-76, D1-FE; SSE2 semantics on 128 bits). */
void simd_host_int(uint8_t opcode, xmm_reg *d, const xmm_reg *s);

#endif

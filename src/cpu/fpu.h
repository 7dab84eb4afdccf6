/* x87 / MMX / SSE state, embedded in struct cpu. Owned by fpu. Plain data (snapshots copy it). */
#ifndef PCVM_CPU_FPU_H
#define PCVM_CPU_FPU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/float80.h"

/* One XMM register. */
typedef union xmm_reg {
    uint8_t b[16];
    uint16_t w[8];
    uint32_t d[4];
    uint64_t q[2];
} xmm_reg;

struct fpu_state {
    uint16_t control;        /* FCW */
    uint16_t status;         /* FSW without TOP (bits 11-13 kept zero here) */
    unsigned top;            /* TOP, 0..7 */
    uint8_t valid;           /* bit i: physical register Ri is not empty (abridged tag) */
    f80 st[8];               /* physical registers R0..R7; MMX register i is st[i].mant */
    uint32_t fip, fdp;       /* last instruction / operand pointers (offsets) */
    uint16_t fcs, fds;       /* their selectors */
    uint16_t fop;            /* last opcode: 11 bits */
    bool ferr;               /* FERR# is asserted (CR0.NE clear) */
    uint32_t mxcsr;
    xmm_reg xmm[8];
    /* CPUID leaf 1 feature bits, read lazily from sys (cleared by fpu_reset). */
    bool features_valid;
    uint32_t feat_edx, feat_ecx, feat_ext_edx;
};

struct cpu;

/* CPUID features that gate x87/MMX/SSE instructions. */
enum fpu_feature {
    FEAT_CMOV, FEAT_MMX, FEAT_FXSR, FEAT_SSE, FEAT_SSE2, FEAT_SSE3, FEAT_CLFSH,
    FEAT_MMXEXT, /* SSE's MMX additions: SSE, or AMD's extended MMX (0x80000001 EDX bit 22) */
    FEAT_SSSE3, FEAT_SSE41, FEAT_SSE42, FEAT_AES, FEAT_PCLMUL, /* CPUID.1:ECX bits 9 19 20 25 1 */
};

/* CPUID leaf 1 EDX/ECX as the model reports them (cached until fpu_reset). */
void fpu_features(struct cpu *cpu, uint32_t *edx, uint32_t *ecx);
/* True when the CPU model has the feature. */
bool fpu_has(struct cpu *cpu, enum fpu_feature feat);
/* FXSAVE / FXRSTOR of the 512-byte image at seg:ea (alignment and MXCSR checks inside). */
void fpu_fxsave(struct cpu *cpu, int seg, uint32_t ea);
void fpu_fxrstor(struct cpu *cpu, int seg, uint32_t ea);
/* The FXSAVE image's first 288 bytes (x87, MXCSR and its mask, XMM0-7), as XSAVE stores them. */
void fpu_legacy_image(struct cpu *cpu, uint8_t b[288]);
/* Load the x87 part (bytes 0-23 and 32-159) of an FXSAVE/XSAVE image. */
void fpu_load_x87_image(struct cpu *cpu, const uint8_t *b);
/* XRSTOR's initial x87 state: FNINIT's, with ST0-7 zeroed. */
void fpu_init_x87_state(struct cpu *cpu);
/* MXCSR bits that LDMXCSR/FXRSTOR accept. */
uint32_t fpu_mxcsr_mask(struct cpu *cpu);
/* An MMX instruction executes: TOP = 0, every tag valid. */
void fpu_mmx_enter(struct cpu *cpu);
/* Write MMX register reg (mantissa of R<reg>, exponent and sign all ones). */
void fpu_mmx_write(struct cpu *cpu, unsigned reg, uint64_t v);
/* #MF / FERR# for a pending unmasked x87 exception (waiting instructions, MMX). */
void fpu_check_pending(struct cpu *cpu);
/* Full FTW (2 bits per register) computed from the registers and the valid mask. */
uint16_t fpu_tag_word(const struct fpu_state *f);
/* FSW with TOP folded in. */
uint16_t fpu_status_word(const struct fpu_state *f);

#endif

/* Internal interface between fpu's SIMD files: simd.c (MMX/SSE/SSE2/SSE3, the 0F map) lends
 * its checks and operand access to sse4.c (the 0F 38 / 0F 3A maps: SSSE3, SSE4.1, SSE4.2,
 * AES-NI, PCLMULQDQ). */
#ifndef PCVM_CPU_SIMD_INT_H
#define PCVM_CPU_SIMD_INT_H

#include "cpu/cpu.h"
#include "cpu/simd_host.h"

/* #UD unless the model has feat. */
void simd_need(struct cpu *cpu, enum fpu_feature feat);
/* Checks of an instruction on XMM registers: feature, CR0.EM, CR4.OSFXSR (#UD), CR0.TS (#NM). */
void simd_sse_check(struct cpu *cpu, enum fpu_feature feat);
/* Checks of an instruction on MMX registers: feature, CR0.EM, CR0.TS, pending x87 #MF. */
void simd_mmx_check(struct cpu *cpu, enum fpu_feature feat);
/* XMM source operand: the ModRM.rm register, or size bytes of memory zero-extended (16 with
 * align: #GP(0) unless 16-byte aligned). */
xmm_reg simd_xmm_src(struct cpu *cpu, const struct simd_args *a, unsigned size, bool align);
/* MMX source operand: the ModRM.rm register, or size (4 or 8) bytes of memory. */
uint64_t simd_mm_src(struct cpu *cpu, const struct simd_args *a, unsigned size);
/* MMX register r. */
uint64_t simd_mm_get(struct cpu *cpu, unsigned r);
/* Write MMX register r and enter MMX state (TOP 0, all tags valid). */
void simd_mm_set(struct cpu *cpu, unsigned r, uint64_t v);
/* Merge MXCSR flags raised by an operation; #XM (#UD without CR4.OSXMMEXCPT) for unmasked
 * ones, before any destination is written. */
void simd_sse_flags(struct cpu *cpu, uint32_t flags);

/* One step of a compound operation (DPPS/DPPD): *r = *r op *s under the guest MXCSR. When
 * it raises an unmasked exception, #XM (or #UD) with the flags of the earlier steps (prior)
 * and those the processor reports for this one; else returns prior | the step's flags. */
uint32_t simd_fp_step(struct cpu *cpu, enum simd_fp_op op, xmm_reg *r, const xmm_reg *s,
                      uint32_t prior);
/* Execute a 0F 38 / 0F 3A vector instruction (sse4.c); #UD for anything else. */
void sse4_op(struct cpu *cpu, const struct simd_args *a);

#endif

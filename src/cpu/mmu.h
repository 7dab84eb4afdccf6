/* Memory access from the CPU: segmentation checks, paging through the software TLB.
 * Owned by sys. exec and fpu call only these. Each may fault (cpu_exception). Names and
 * signatures are the contract; sys may turn any of them into static inline fast paths. */
#ifndef PCVM_CPU_MMU_H
#define PCVM_CPU_MMU_H

#include "cpu/cpu.h"

/* Access kinds for linear accesses. ACC_SUPER marks implicit supervisor accesses
 * (descriptor tables, TSS, IDT), which ignore CPL for the U/S check. */
enum { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2, ACC_SUPER = 4 };

/* Segmented data accesses: limit/permission checks on seg, then paging. */
uint8_t cpu_read8(struct cpu *cpu, int seg, uint32_t offset);
uint16_t cpu_read16(struct cpu *cpu, int seg, uint32_t offset);
uint32_t cpu_read32(struct cpu *cpu, int seg, uint32_t offset);
uint64_t cpu_read64(struct cpu *cpu, int seg, uint32_t offset);
void cpu_write8(struct cpu *cpu, int seg, uint32_t offset, uint8_t value);
void cpu_write16(struct cpu *cpu, int seg, uint32_t offset, uint16_t value);
void cpu_write32(struct cpu *cpu, int seg, uint32_t offset, uint32_t value);
void cpu_write64(struct cpu *cpu, int seg, uint32_t offset, uint64_t value);
/* Bulk copies (FXSAVE, FSAVE, SSE 128-bit operands): checks the whole range first. */
void cpu_read_bytes(struct cpu *cpu, int seg, uint32_t offset, void *buf, unsigned len);
void cpu_write_bytes(struct cpu *cpu, int seg, uint32_t offset, const void *buf, unsigned len);
/* Fault now (without writing) unless [offset, offset+len) of seg is writable; lets a
 * multi-store instruction (PUSHA, ENTER, far CALL) check before changing anything. */
void cpu_check_write(struct cpu *cpu, int seg, uint32_t offset, unsigned len);

/* Linear accesses (no segmentation); acc is ACC_READ/ACC_WRITE, optionally | ACC_SUPER. */
uint8_t cpu_lin_read8(struct cpu *cpu, uint32_t linear, int acc);
uint16_t cpu_lin_read16(struct cpu *cpu, uint32_t linear, int acc);
uint32_t cpu_lin_read32(struct cpu *cpu, uint32_t linear, int acc);
void cpu_lin_write8(struct cpu *cpu, uint32_t linear, uint8_t value, int acc);
void cpu_lin_write16(struct cpu *cpu, uint32_t linear, uint16_t value, int acc);
void cpu_lin_write32(struct cpu *cpu, uint32_t linear, uint32_t value, int acc);

/* Translate a linear address for access acc (raises #PF, sets A/D bits); returns physical. */
uint32_t cpu_translate(struct cpu *cpu, uint32_t linear, int acc);
/* For instruction fetch: translate linear (EXEC, current CPL) and return a host pointer to
 * the byte, valid up to the end of its 4 KiB page; *paddr gets the physical address.
 * Returns NULL (no fault) when the page is not RAM/ROM (MMIO code: fetch via phys_read). */
const uint8_t *cpu_fetch_ptr(struct cpu *cpu, uint32_t linear, uint32_t *paddr);
/* Probe translation without faulting or setting A/D bits (gdb stub, monitor, -d in_asm). */
bool cpu_probe(struct cpu *cpu, uint32_t linear, uint32_t *paddr);

#endif

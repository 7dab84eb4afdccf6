/* Functions shared between the sys files (mmu.c, seg.c, intr.c, task.c, sysregs.c, cpu.c,
 * msr.c, cpuid.c, models.c). Not for exec or fpu. */
#ifndef PCVM_CPU_SYSINT_H
#define PCVM_CPU_SYSINT_H

#include "cpu/cpu.h"
#include "cpu/mmu.h"

/* ---- mmu.c ---- */
/* Allocate / free the TLB. Returns 0 or -1. */
int mmu_init(struct cpu *cpu);
void mmu_destroy(struct cpu *cpu);
/* Drop every entry except global ones (CR3 load). */
void mmu_flush_nonglobal(struct cpu *cpu);
/* Debugging aid: how many non-global TLB entries disagree with the page tables (each printed). */
unsigned mmu_debug_check_tlb(struct cpu *cpu);
/* Load the four PAE PDPTEs from the table at cr3 (#GP(0) on reserved bits, nothing changed). */
void mmu_load_pdptes(struct cpu *cpu, uint32_t cr3);
/* Recompute the TLB bits for the CPL and all segment windows. */
void mmu_update_mode(struct cpu *cpu);

/* ---- seg.c ---- */
/* Fetch the 8-byte descriptor for sel from the GDT/LDT; false when beyond the table limit. */
bool seg_read_desc(struct cpu *cpu, uint16_t sel, uint32_t desc[2]);
/* Fill a segment cache from a descriptor. */
void seg_from_desc(struct seg *s, uint16_t sel, const uint32_t desc[2]);
/* Set the accessed bit of the descriptor of sel (if clear). */
void seg_set_accessed(struct cpu *cpu, uint16_t sel, uint32_t desc[2]);
/* Load a segment register in real or v86 mode. */
void seg_load_real(struct cpu *cpu, int seg, uint16_t sel);
/* Load seg with a flat descriptor cache (SYSENTER/SYSEXIT and tests). */
void seg_set_flat(struct cpu *cpu, int seg, uint16_t sel, unsigned type, unsigned dpl);
/* After a privilege drop: null DS/ES/FS/GS whose descriptors the new CPL may not use. */
void seg_null_invalid(struct cpu *cpu);
/* Read the inner stack SS:ESP for dpl from the current TSS (#TS on limit). */
void seg_tss_stack(struct cpu *cpu, unsigned dpl, uint16_t *ss, uint32_t *esp);
/* Read and check the descriptor of sel for use as SS at privilege cpl; raises #TS (ts=true)
 * or #GP, and #SS when not present. */
void seg_check_stack(struct cpu *cpu, uint16_t sel, uint32_t desc[2], unsigned cpl, bool ts);
/* True when [off, off+size) passes the limit check of a segment cache (expand-down aware). */
bool seg_cache_ok(const struct seg *s, uint32_t off, unsigned size);
/* Write bytes at SS-relative address using an explicit SS cache (new stacks). */
void seg_stack_write(struct cpu *cpu, const struct seg *ss, uint32_t esp_off, uint32_t value,
                     unsigned size, unsigned cpl, uint32_t fault_error);

/* ---- intr.c ---- */
/* Deliver an exception with an optional error code. */
void intr_deliver(struct cpu *cpu, int vector, bool has_error, uint32_t error, bool is_exc);
/* Log a line for LOG_INT. */
void intr_log(struct cpu *cpu, int vector, uint32_t error, bool has_error, int kind);

/* ---- task.c ---- */
enum task_reason { TASK_JMP, TASK_CALL, TASK_INT, TASK_IRET };
/* Switch to the task of TSS selector sel (descriptor desc already read). */
void task_switch(struct cpu *cpu, uint16_t sel, const uint32_t desc[2], enum task_reason why,
                 uint32_t next_eip, bool has_error, uint32_t error);


/* A selector error code: index and TI, plus EXT while delivering an external event. */
static inline uint32_t sel_error(const struct cpu *cpu, uint16_t sel)
{
    return (sel & 0xfffcu) | (cpu->sys.ext ? 1u : 0u);
}

/* Descriptor helpers. */
static inline unsigned desc_type(const uint32_t d[2]) { return (d[1] >> 8) & 15; }
static inline bool desc_s(const uint32_t d[2]) { return (d[1] >> 12) & 1; }
static inline unsigned desc_dpl(const uint32_t d[2]) { return (d[1] >> 13) & 3; }
static inline bool desc_p(const uint32_t d[2]) { return (d[1] >> 15) & 1; }
static inline uint32_t desc_base(const uint32_t d[2])
{
    return (d[0] >> 16) | ((d[1] & 0xff) << 16) | (d[1] & 0xff000000u);
}
static inline uint32_t desc_limit(const uint32_t d[2])
{
    uint32_t l = (d[0] & 0xffff) | (d[1] & 0xf0000);
    return (d[1] & SEG_FLAG_G) ? (l << 12) | 0xfff : l;
}
/* True when ESP (32-bit stack) or SP is in use for the given SS cache. */
static inline uint32_t stack_mask(const struct seg *ss)
{
    return (ss->flags & SEG_FLAG_DB) ? 0xffffffffu : 0xffffu;
}

#endif

/* Memory access from the CPU: segmentation checks, paging through the software TLB.
 * Owned by sys. exec and fpu call only these. Each may fault (cpu_exception). Names and
 * signatures are the contract; the common case is inline here: the segment window check
 * (one compare pair, flat segments included) and one TLB bit test. Everything else goes to
 * the out-of-line slow paths in mmu.c.
 *
 * Anyone who changes cpu->seg[] directly (instead of through cpu_load_seg and friends) must
 * call cpu_update_mode() afterwards: it recomputes the cached segment windows. */
#ifndef PCVM_CPU_MMU_H
#define PCVM_CPU_MMU_H

#include <string.h>

#include "cpu/cpu.h"

/* Access kinds for linear accesses. ACC_SUPER marks implicit supervisor accesses
 * (descriptor tables, TSS, IDT), which ignore CPL for the U/S check. */
enum { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2, ACC_SUPER = 4 };

/* Out-of-line slow paths (full checks, faults, MMIO, page crossings). */
uint32_t mmu_read_slow(struct cpu *cpu, int seg, uint32_t offset, unsigned size);
void mmu_write_slow(struct cpu *cpu, int seg, uint32_t offset, unsigned size, uint32_t value);
/* Recompute the segment window of seg from its descriptor cache and the mode. */
void mmu_update_seg(struct cpu *cpu, int seg);

static inline __attribute__((always_inline)) bool mmu_seg_rd_ok(const struct cpu *cpu, int seg, uint32_t off, unsigned size)
{
    const struct seg_window *w = &cpu->sys.segw[seg];
    return off >= w->rd_min && (uint64_t)off + size - 1 <= w->rd_max;
}
static inline __attribute__((always_inline)) bool mmu_seg_wr_ok(const struct cpu *cpu, int seg, uint32_t off, unsigned size)
{
    const struct seg_window *w = &cpu->sys.segw[seg];
    return off >= w->wr_min && (uint64_t)off + size - 1 <= w->wr_max;
}
/* Host pointer for lin when the TLB allows the access directly, else NULL. The tag compare
 * uses the page of the access's last byte, so an access crossing a page misses. */
static inline __attribute__((always_inline)) uint8_t *mmu_fast(const struct cpu *cpu, uint32_t lin, unsigned size, uint8_t kind)
{
    const struct tlb_entry *e = &cpu->sys.tlb[tlb_index(lin)];
    if (e->tag[kind] == (((lin + size - 1) & ~0xfffu) | 1u) &&
        !((lin & (size - 1)) && cpu->sys.ac_possible))
        return (uint8_t *)(e->addend + lin);
    return NULL;
}

/* The fast path tests the TLB tag inline (no NULL test on a returned pointer). */
#define MMU_DEFINE_RW(bits, type)                                                        \
    static inline __attribute__((always_inline)) type cpu_read##bits(struct cpu *cpu, int seg, uint32_t offset)         \
    {                                                                                    \
        if (mmu_seg_rd_ok(cpu, seg, offset, bits / 8)) {                                 \
            uint32_t lin = cpu->seg[seg].base + offset;                                  \
            const struct tlb_entry *e = &cpu->sys.tlb[tlb_index(lin)];                   \
            if (e->tag[cpu->sys.rd_kind] == (((lin + bits / 8 - 1) & ~0xfffu) | 1u) &&   \
                !((lin & (bits / 8 - 1)) && cpu->sys.ac_possible)) {                     \
                type v;                                                                  \
                memcpy(&v, (const uint8_t *)(e->addend + lin), sizeof(v));               \
                return v;                                                                \
            }                                                                            \
        }                                                                                \
        return (type)mmu_read_slow(cpu, seg, offset, bits / 8);                          \
    }                                                                                    \
    static inline __attribute__((always_inline)) void cpu_write##bits(struct cpu *cpu, int seg, uint32_t offset, type value) \
    {                                                                                    \
        if (mmu_seg_wr_ok(cpu, seg, offset, bits / 8)) {                                 \
            uint32_t lin = cpu->seg[seg].base + offset;                                  \
            const struct tlb_entry *e = &cpu->sys.tlb[tlb_index(lin)];                   \
            if (e->tag[cpu->sys.wr_kind] == (((lin + bits / 8 - 1) & ~0xfffu) | 1u) &&   \
                !((lin & (bits / 8 - 1)) && cpu->sys.ac_possible)) {                     \
                memcpy((uint8_t *)(e->addend + lin), &value, sizeof(value));             \
                return;                                                                  \
            }                                                                            \
        }                                                                                \
        mmu_write_slow(cpu, seg, offset, bits / 8, value);                               \
    }

/* Segmented data accesses: limit/permission checks on seg, then paging. */
MMU_DEFINE_RW(8, uint8_t)
MMU_DEFINE_RW(16, uint16_t)
MMU_DEFINE_RW(32, uint32_t)
#undef MMU_DEFINE_RW
uint64_t cpu_read64(struct cpu *cpu, int seg, uint32_t offset);
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
 * Returns NULL (no fault) when the page is not RAM/ROM (MMIO code: fetch via phys_read).
 * The CS limit check is the caller's (exec's) job. */
const uint8_t *cpu_fetch_ptr(struct cpu *cpu, uint32_t linear, uint32_t *paddr);
/* Probe translation without faulting or setting A/D bits (gdb stub, monitor, -d in_asm). */
bool cpu_probe(struct cpu *cpu, uint32_t linear, uint32_t *paddr);

#endif

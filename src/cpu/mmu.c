/* Paging, the software TLB and segmented memory access (slow paths; fast paths in mmu.h). */
#include "cpu/mmu.h"

#include <stdio.h>
#include <stdlib.h>

#include "cpu/sysint.h"

/* PTE bits. */
enum { PTE_P = 1, PTE_W = 2, PTE_U = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100 };
/* PAE reserved physical-address bits (36-bit physical addresses, no NX on P6). */
#define PAE_RSVD_HI 0xfffffff000000000ull
#define PAE_RSVD_2M 0x1fe000ull
#define PAE_NX (1ull << 63)

static inline uint8_t acc_bit(bool write, bool user)
{
    return (uint8_t)(1u << ((write ? 1 : 0) + (user ? 2 : 0)));
}

static inline bool acc_user(const struct cpu *cpu, int acc)
{
    return !(acc & ACC_SUPER) && cpu->cpl == 3;
}

/* ---- TLB bookkeeping ---- */

static inline unsigned acc_kind(bool write, bool user)
{
    return (write ? 1u : 0u) + (user ? 2u : 0u);
}

int mmu_init(struct cpu *cpu)
{
    cpu->sys.tlb = calloc(TLB_ENTRIES, sizeof(struct tlb_entry));
    if (!cpu->sys.tlb)
        return -1;
    cpu->sys.tlb_nfilled = 0;
    cpu->sys.tlb_has_large = false;
    return 0;
}

void mmu_destroy(struct cpu *cpu)
{
    free(cpu->sys.tlb);
    cpu->sys.tlb = NULL;
}

void cpu_tlb_flush(struct cpu *cpu)
{
    struct cpu_sys_state *s = &cpu->sys;
    for (uint32_t i = 0; i < s->tlb_nfilled; i++)
        memset(&s->tlb[s->tlb_filled[i]], 0, sizeof(struct tlb_entry));
    s->tlb_nfilled = 0;
    s->tlb_has_large = false;
}

void mmu_flush_nonglobal(struct cpu *cpu)
{
    struct cpu_sys_state *s = &cpu->sys;
    uint32_t kept = 0;
    bool large = false;
    for (uint32_t i = 0; i < s->tlb_nfilled; i++) {
        struct tlb_entry *e = &s->tlb[s->tlb_filled[i]];
        if (e->lpage && (e->flags & TLB_GLOBAL)) {
            s->tlb_filled[kept++] = s->tlb_filled[i];
            large |= (e->flags & TLB_LARGE) != 0;
        } else {
            memset(e, 0, sizeof(*e));
        }
    }
    s->tlb_nfilled = kept;
    s->tlb_has_large = large;
}

/* Forget the translation an entry holds (it stays listed in tlb_filled). */
static inline void tlb_drop(struct tlb_entry *e)
{
    memset(e->tag, 0, sizeof(e->tag));
    e->lpage = 0;
    e->perm = 0;
    e->flags = 0;
}

void cpu_invlpg(struct cpu *cpu, uint32_t linear)
{
    struct cpu_sys_state *s = &cpu->sys;
    /* A large page lives in many 4 KiB entries: drop all of those in the same 4 MiB. */
    if (s->tlb_has_large) {
        for (uint32_t i = 0; i < s->tlb_nfilled; i++) {
            struct tlb_entry *f = &s->tlb[s->tlb_filled[i]];
            if ((f->flags & TLB_LARGE) && (f->lpage >> 22) == (linear >> 22))
                tlb_drop(f);
        }
    }
    struct tlb_entry *e = &s->tlb[tlb_index(linear)];
    if ((e->lpage >> 12) == (linear >> 12))
        tlb_drop(e);
    log_printf(cpu->log, LOG_MMU, "invlpg %08x\n", linear);
}

void cpu_tlb_protect_code(struct cpu *cpu, uint32_t paddr)
{
    struct cpu_sys_state *s = &cpu->sys;
    uint32_t page = paddr & ~0xfffu;
    for (uint32_t i = 0; i < s->tlb_nfilled; i++) {
        struct tlb_entry *e = &s->tlb[s->tlb_filled[i]];
        if (e->lpage && e->phys == page)
            e->tag[acc_kind(true, false)] = e->tag[acc_kind(true, true)] = 0;
    }
}

void mmu_update_mode(struct cpu *cpu)
{
    bool user = cpu->cpl == 3;
    /* With data breakpoints armed every access takes the slow path, which checks them. */
    cpu->sys.rd_kind = (uint8_t)(cpu->sys.data_bp ? TLB_KIND_NONE : acc_kind(false, user));
    cpu->sys.wr_kind = (uint8_t)(cpu->sys.data_bp ? TLB_KIND_NONE : acc_kind(true, user));
    cpu->sys.ac_possible = (cpu->cr0 & CR0_AM) && user;
    for (int i = 0; i < SEG_COUNT; i++)
        mmu_update_seg(cpu, i);
}

void mmu_update_seg(struct cpu *cpu, int seg)
{
    const struct seg *s = &cpu->seg[seg];
    struct seg_window *w = &cpu->sys.segw[seg];
    const struct seg_window none = { .rd_min = 1, .wr_min = 1, .rd_max = 0, .wr_max = 0 };
    if (!cpu->pe || cpu->vm86) {
        /* Real and v86 mode: only the cached limit counts. */
        *w = (struct seg_window){ 0, 0, s->limit, s->limit };
        return;
    }
    if (!(s->flags & SEG_FLAG_P) || !(s->flags & SEG_FLAG_S)) {
        *w = none;
        return;
    }
    unsigned type = seg_type(s);
    uint32_t min = 0;
    uint64_t max = s->limit;
    if (!(type & 8) && (type & 4)) {
        /* Expand-down data: valid offsets are limit+1 .. 0xffff or 0xffffffff. */
        uint64_t upper = (s->flags & SEG_FLAG_DB) ? 0xffffffffu : 0xffffu;
        if ((uint64_t)s->limit >= upper) {
            *w = none;
            return;
        }
        min = s->limit + 1;
        max = upper;
    }
    *w = none;
    if (type & 8) {
        if (type & 2) {
            w->rd_min = min;
            w->rd_max = max;
        }
    } else {
        w->rd_min = min;
        w->rd_max = max;
        if (type & 2) {
            w->wr_min = min;
            w->wr_max = max;
        }
    }
}

/* ---- Page walk ---- */

struct walk {
    uint32_t phys;   /* physical page base */
    uint8_t perm;    /* TLB_* bits */
    uint8_t flags;   /* TLB_GLOBAL, TLB_LARGE */
};

static uint32_t pt_read32(struct cpu *cpu, uint32_t addr)
{
    return phys_read(cpu->mem, addr & cpu->a20_mask, 4);
}

static uint64_t pt_read64(struct cpu *cpu, uint32_t addr)
{
    return pt_read32(cpu, addr) | ((uint64_t)pt_read32(cpu, addr + 4) << 32);
}

static void pt_set_bits(struct cpu *cpu, uint32_t addr, uint32_t old, uint32_t bits)
{
    if ((old & bits) != bits)
        phys_write(cpu->mem, addr & cpu->a20_mask, old | bits, 4);
}

static uint8_t perm_of(const struct cpu *cpu, bool us, bool rw)
{
    uint8_t p = TLB_RS;
    if (rw || !(cpu->cr0 & CR0_WP))
        p |= TLB_WS;
    if (us) {
        p |= TLB_RU;
        if (rw)
            p |= TLB_WU;
    }
    return p;
}

/* Walk the page tables for lin. On success fills *w (write permission only when the page is
 * already dirty or this is a write) and, with commit, sets A/D bits; on failure returns false
 * with the #PF error code in *err and changes nothing. */
static bool page_walk(struct cpu *cpu, uint32_t lin, bool write, bool user, bool commit,
                      struct walk *w, uint32_t *err)
{
    uint32_t base_err = (write ? 2u : 0u) | (user ? 4u : 0u);
    uint8_t need = acc_bit(write, user);
    bool pge = (cpu->cr4 & CR4_PGE) != 0;

    if (!(cpu->cr4 & CR4_PAE)) {
        uint32_t pde_addr = (cpu->cr3 & 0xfffff000u) | ((lin >> 20) & 0xffc);
        uint32_t pde = pt_read32(cpu, pde_addr);
        if (!(pde & PTE_P)) {
            *err = base_err;
            return false;
        }
        if ((pde & PTE_PS) && (cpu->cr4 & CR4_PSE)) {
            uint8_t perm = perm_of(cpu, pde & PTE_U, pde & PTE_W);
            if (!(perm & need)) {
                *err = base_err | 1;
                return false;
            }
            if (commit)
                pt_set_bits(cpu, pde_addr, pde, PTE_A | (write ? PTE_D : 0));
            if (!write && !(pde & PTE_D))
                perm &= (uint8_t)~(TLB_WS | TLB_WU);
            w->phys = (pde & 0xffc00000u) | (lin & 0x3ff000u);
            w->perm = perm;
            w->flags = (uint8_t)(TLB_LARGE | ((pge && (pde & PTE_G)) ? TLB_GLOBAL : 0) |
                                 ((pde & PTE_U) ? TLB_USER : 0));
            return true;
        }
        uint32_t pte_addr = (pde & 0xfffff000u) | ((lin >> 10) & 0xffc);
        uint32_t pte = pt_read32(cpu, pte_addr);
        if (!(pte & PTE_P)) {
            *err = base_err;
            return false;
        }
        uint8_t perm = perm_of(cpu, pde & pte & PTE_U, pde & pte & PTE_W);
        if (!(perm & need)) {
            *err = base_err | 1;
            return false;
        }
        if (commit) {
            pt_set_bits(cpu, pde_addr, pde, PTE_A);
            pt_set_bits(cpu, pte_addr, pte, PTE_A | (write ? PTE_D : 0));
        }
        if (!write && !(pte & PTE_D))
            perm &= (uint8_t)~(TLB_WS | TLB_WU);
        w->phys = pte & 0xfffff000u;
        w->perm = perm;
        w->flags = (uint8_t)(((pge && (pte & PTE_G)) ? TLB_GLOBAL : 0) |
                             ((pde & pte & PTE_U) ? TLB_USER : 0));
        return true;
    }

    /* PAE: PDPTE (cached at CR3 load), PDE, PTE, each 64 bits. */
    uint64_t pdpte = cpu->sys.pdpte[lin >> 30];
    if (!(pdpte & PTE_P)) {
        *err = base_err;
        return false;
    }
    uint32_t pde_addr = ((uint32_t)pdpte & 0xfffff000u) + ((lin >> 21) & 0x1ff) * 8;
    uint64_t pde = pt_read64(cpu, pde_addr);
    if (!(pde & PTE_P)) {
        *err = base_err;
        return false;
    }
    /* With EFER.NXE bit 63 is execute-disable, else reserved. */
    uint64_t rsvd_hi = (cpu->sys.efer & EFER_NXE) ? PAE_RSVD_HI & ~PAE_NX : PAE_RSVD_HI;
    if ((pde & rsvd_hi) || ((pde & PTE_PS) && (pde & PAE_RSVD_2M))) {
        *err = base_err | 9;
        return false;
    }
    if (pde & PTE_PS) {
        uint8_t perm = perm_of(cpu, pde & PTE_U, pde & PTE_W);
        if (!(perm & need)) {
            *err = base_err | 1;
            return false;
        }
        if (commit)
            pt_set_bits(cpu, pde_addr, (uint32_t)pde, PTE_A | (write ? PTE_D : 0));
        if (!write && !(pde & PTE_D))
            perm &= (uint8_t)~(TLB_WS | TLB_WU);
        w->phys = ((uint32_t)pde & 0xffe00000u) | (lin & 0x1ff000u);
        w->perm = perm;
        w->flags = (uint8_t)(TLB_LARGE | ((pge && (pde & PTE_G)) ? TLB_GLOBAL : 0) |
                             ((pde >> 32) & 0xf ? TLB_VOID : 0) | ((pde & PAE_NX) ? TLB_NX : 0) |
                             ((pde & PTE_U) ? TLB_USER : 0));
        return true;
    }
    uint32_t pte_addr = ((uint32_t)pde & 0xfffff000u) + ((lin >> 12) & 0x1ff) * 8;
    uint64_t pte = pt_read64(cpu, pte_addr);
    if (!(pte & PTE_P)) {
        *err = base_err;
        return false;
    }
    if (pte & rsvd_hi) {
        *err = base_err | 9;
        return false;
    }
    uint8_t perm = perm_of(cpu, pde & pte & PTE_U, pde & pte & PTE_W);
    if (!(perm & need)) {
        *err = base_err | 1;
        return false;
    }
    if (commit) {
        pt_set_bits(cpu, pde_addr, (uint32_t)pde, PTE_A);
        pt_set_bits(cpu, pte_addr, (uint32_t)pte, PTE_A | (write ? PTE_D : 0));
    }
    if (!write && !(pte & PTE_D))
        perm &= (uint8_t)~(TLB_WS | TLB_WU);
    w->phys = (uint32_t)pte & 0xfffff000u;
    w->perm = perm;
    w->flags = (uint8_t)(((pge && (pte & PTE_G)) ? TLB_GLOBAL : 0) |
                         ((pte >> 32) & 0xf ? TLB_VOID : 0) | (((pde | pte) & PAE_NX) ? TLB_NX : 0) |
                         ((pde & pte & PTE_U) ? TLB_USER : 0));
    return true;
}

void mmu_load_pdptes(struct cpu *cpu, uint32_t cr3)
{
    uint32_t base = cr3 & 0xffffffe0u;
    uint64_t p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = pt_read64(cpu, base + (uint32_t)i * 8);
        /* Reserved: 63:36, 8:5, 2:1. */
        if ((p[i] & PTE_P) && (p[i] & (PAE_RSVD_HI | 0x1e6ull)))
            cpu_exception(cpu, EXC_GP, 0);
    }
    memcpy(cpu->sys.pdpte, p, sizeof(p));
}

static _Noreturn void page_fault(struct cpu *cpu, uint32_t lin, uint32_t err)
{
    /* I/D: an instruction fetch, reported with PAE and EFER.NXE or with CR4.SMEP. */
    if (cpu->sys.fetching && (((cpu->cr4 & CR4_PAE) && (cpu->sys.efer & EFER_NXE)) ||
                              (cpu->cr4 & CR4_SMEP)))
        err |= 0x10;
    cpu->sys.fetching = false;
    cpu->cr2 = lin;
    log_printf(cpu->log, LOG_MMU, "#PF lin=%08x err=%x eip=%08x\n", lin, err, cpu->eip_start);
    cpu_exception(cpu, EXC_PF, err);
}

static struct tlb_entry *tlb_fill(struct cpu *cpu, uint32_t lin, bool write, bool user)
{
    struct cpu_sys_state *s = &cpu->sys;
    struct walk w;
    if (!cpu->paging) {
        w.phys = lin & 0xfffff000u;
        w.perm = TLB_RS | TLB_WS | TLB_RU | TLB_WU;
        w.flags = 0;
    } else {
        uint32_t err;
        if (!page_walk(cpu, lin, write, user, true, &w, &err))
            page_fault(cpu, lin, err);
    }
    w.phys &= cpu->a20_mask;
    uint32_t idx = tlb_index(lin), lpage = lin & ~0xfffu;
    struct tlb_entry *e = &s->tlb[idx];
    if (!e->listed) {
        s->tlb_filled[s->tlb_nfilled++] = idx;   /* at most TLB_ENTRIES until a flush */
        e->listed = 1;
    }
    e->lpage = lpage | 1u;
    e->phys = w.phys;
    e->perm = w.perm;
    e->flags = w.flags;
    if (w.flags & TLB_LARGE)
        s->tlb_has_large = true;
    uintptr_t pe = (w.flags & TLB_VOID) ? 0 : cpu->mem->pages[w.phys >> PHYS_PAGE_SHIFT];
    uint8_t fast = 0;
    e->host = NULL;
    e->addend = 0;
    if (pe & PHYS_DIRECT_READ) {
        e->host = (uint8_t *)(pe & ~(uintptr_t)PHYS_FLAG_MASK);
        e->addend = (uintptr_t)e->host - lpage;
        fast = w.perm & (TLB_RS | TLB_RU);
        /* Never write straight into ROM or a page holding translated code. */
        if ((pe & PHYS_DIRECT_WRITE) && !phys_is_code_page(cpu->mem, w.phys))
            fast |= w.perm & (TLB_WS | TLB_WU);
    }
    /* A page under a gdb watchpoint is tagged like a code page: every access goes slow. */
    if (__builtin_expect(cpu->dbg.nwatch != 0, 0) && cpu_debug_page_watched(cpu, lpage)) {
        e->flags |= TLB_WATCH;
        fast = 0;
    }
    /* CR4.SMAP: supervisor data accesses to user pages take the slow path (smap_check), so
     * EFLAGS.AC changes need no flush. */
    if ((w.flags & TLB_USER) && (cpu->cr4 & CR4_SMAP))
        fast &= (uint8_t)~(TLB_RS | TLB_WS);
    for (unsigned k = 0; k < 4; k++)
        e->tag[k] = (fast >> k) & 1 ? lpage | 1u : 0;
    e->tag[TLB_KIND_NONE] = 0;
    return e;
}

static inline struct tlb_entry *tlb_get(struct cpu *cpu, uint32_t lin, bool write, bool user)
{
    struct tlb_entry *e = &cpu->sys.tlb[tlb_index(lin)];
    if (e->lpage == ((lin & ~0xfffu) | 1u) && (e->perm & acc_bit(write, user)))
        return e;
    return tlb_fill(cpu, lin, write, user);
}

/* CR4.SMAP: a supervisor data access to a user page is a #PF (P, W/R) unless it is explicit,
 * at CPL < 3, with EFLAGS.AC set. Implicit accesses (descriptor tables, TSS) always fault. */
static inline void smap_check(struct cpu *cpu, const struct tlb_entry *e, uint32_t lin,
                              bool write, bool user, bool implicit)
{
    if (__builtin_expect(e->flags & TLB_USER, 0) && !user && (cpu->cr4 & CR4_SMAP) &&
        (implicit || cpu->cpl == 3 || !(cpu->eflags & FLAG_AC)))
        page_fault(cpu, lin, 1u | (write ? 2u : 0u));
}

/* tlb_get for a data access, with the SMAP check. */
static inline struct tlb_entry *tlb_get_data(struct cpu *cpu, uint32_t lin, bool write,
                                             bool user, bool implicit)
{
    struct tlb_entry *e = tlb_get(cpu, lin, write, user);
    smap_check(cpu, e, lin, write, user, implicit);
    return e;
}

uint32_t cpu_translate(struct cpu *cpu, uint32_t linear, int acc)
{
    struct tlb_entry *e = tlb_get_data(cpu, linear, acc & ACC_WRITE, acc_user(cpu, acc),
                                       (acc & ACC_SUPER) != 0);
    return e->phys | (linear & 0xfff);
}

const uint8_t *cpu_fetch_ptr(struct cpu *cpu, uint32_t linear, uint32_t *paddr)
{
    bool user = cpu->cpl == 3;
    cpu->sys.fetching = true;
    struct tlb_entry *e = tlb_get(cpu, linear, false, user);
    if (__builtin_expect(e->flags & (TLB_NX | TLB_USER), 0) && cpu->paging) {
        /* Execute-disable page, or a user page fetched at CPL < 3 under SMEP. */
        if ((e->flags & TLB_NX) || (!user && (e->flags & TLB_USER) && (cpu->cr4 & CR4_SMEP)))
            page_fault(cpu, linear, 1u | (user ? 4u : 0u));
    }
    cpu->sys.fetching = false;
    *paddr = e->phys | (linear & 0xfff);
    return e->host ? e->host + (linear & 0xfff) : NULL;
}

bool cpu_probe(struct cpu *cpu, uint32_t linear, uint32_t *paddr)
{
    if (!cpu->paging) {
        *paddr = linear & cpu->a20_mask;
        return true;
    }
    struct walk w;
    uint32_t err;
    if (!page_walk(cpu, linear, false, false, false, &w, &err))
        return false;
    *paddr = ((w.phys & cpu->a20_mask) | (linear & 0xfff));
    return true;
}

/* ---- Linear accesses ---- */

/* Record the DR0-3 data breakpoints that [lin, lin+len) hits (DR7 R/W 01 write, 11 read or
 * write; LEN 00 1 byte, 01 2, 11 4, 10 8). */
static void check_data_breakpoints(struct cpu *cpu, uint32_t lin, unsigned len, bool write)
{
    uint32_t dr7 = cpu->dr[7];
    static const uint32_t sizes[4] = { 1, 2, 8, 4 };
    for (unsigned n = 0; n < 4; n++) {
        if (!(cpu->sys.data_bp & (1u << n)))
            continue;
        unsigned rw = (dr7 >> (16 + 4 * n)) & 3;
        if (rw == 1 && !write)
            continue;
        uint32_t size = sizes[(dr7 >> (18 + 4 * n)) & 3];
        uint32_t start = cpu->dr[n] & ~(size - 1);
        if (lin - start < size || start - lin < len)
            cpu->sys.db_hits |= (uint8_t)(1u << n);
    }
}

bool cpu_take_data_breakpoints(struct cpu *cpu)
{
    uint8_t hits = cpu->sys.db_hits;
    if (!hits)
        return false;
    cpu->sys.db_hits = 0;
    cpu->dr[6] = (cpu->dr[6] & ~0xfu) | hits;
    return true;
}

/* Read/write len bytes at lin: every page is translated (and may fault) before any byte is
 * written. Scalar accesses within one page reach MMIO as one access of their size. */
static void lin_access_mode(struct cpu *cpu, uint32_t lin, void *buf, unsigned len, bool write,
                            bool user, bool implicit)
{
    uint32_t first = lin & 0xfff;
    if (__builtin_expect(cpu->sys.data_bp != 0, 0))
        check_data_breakpoints(cpu, lin, len, write);
    if (first + len <= 0x1000 && (len == 1 || len == 2 || len == 4)) {
        struct tlb_entry *e = tlb_get_data(cpu, lin, write, user, implicit);
        if (__builtin_expect(e->flags & TLB_WATCH, 0))
            cpu_debug_check_watch(cpu, lin, len, write);
        if (e->flags & TLB_VOID) {
            if (!write)
                memset(buf, 0xff, len);
        } else if (e->tag[acc_kind(write, user)]) {
            if (write)
                memcpy(e->host + first, buf, len);
            else
                memcpy(buf, e->host + first, len);
        } else if (write) {
            uint32_t v = 0;
            memcpy(&v, buf, len);
            phys_write(cpu->mem, e->phys | first, v, len);
        } else {
            uint32_t v = phys_read(cpu->mem, e->phys | first, len);
            memcpy(buf, &v, len);
        }
        return;
    }
    /* Pass 1: translate every page so a fault leaves memory untouched. */
    uint32_t end = lin + len - 1;
    for (uint32_t page = lin & ~0xfffu;; page += 0x1000) {
        struct tlb_entry *e = tlb_get_data(cpu, page < lin ? lin : page, write, user, implicit);
        if (__builtin_expect(e->flags & TLB_WATCH, 0))
            cpu_debug_check_watch(cpu, lin, len, write);
        if ((page >> 12) == (end >> 12))
            break;
    }
    /* Pass 2: copy page by page. */
    uint8_t *p = buf;
    while (len) {
        unsigned off = lin & 0xfff;
        unsigned chunk = 0x1000 - off;
        if (chunk > len)
            chunk = len;
        struct tlb_entry *e = tlb_get_data(cpu, lin, write, user, implicit);
        uint32_t phys = e->phys | off;
        if (e->flags & TLB_VOID) {
            if (!write)
                memset(p, 0xff, chunk);
        } else if (e->tag[acc_kind(write, user)]) {
            if (write)
                memcpy(e->host + off, p, chunk);
            else
                memcpy(p, e->host + off, chunk);
        } else if (write) {
            for (unsigned i = 0; i < chunk; i++)
                phys_write(cpu->mem, phys + i, p[i], 1);
        } else {
            for (unsigned i = 0; i < chunk; i++)
                p[i] = (uint8_t)phys_read(cpu->mem, phys + i, 1);
        }
        p += chunk;
        lin += chunk;
        len -= chunk;
    }
}

/* An explicit data access (the instruction's own operands). */
static void lin_access(struct cpu *cpu, uint32_t lin, void *buf, unsigned len, bool write,
                       bool user)
{
    lin_access_mode(cpu, lin, buf, len, write, user, false);
}

uint8_t cpu_lin_read8(struct cpu *cpu, uint32_t linear, int acc)
{
    uint8_t v;
    lin_access_mode(cpu, linear, &v, 1, false, acc_user(cpu, acc), (acc & ACC_SUPER) != 0);
    return v;
}

uint16_t cpu_lin_read16(struct cpu *cpu, uint32_t linear, int acc)
{
    uint16_t v;
    lin_access_mode(cpu, linear, &v, 2, false, acc_user(cpu, acc), (acc & ACC_SUPER) != 0);
    return v;
}

uint32_t cpu_lin_read32(struct cpu *cpu, uint32_t linear, int acc)
{
    uint32_t v;
    lin_access_mode(cpu, linear, &v, 4, false, acc_user(cpu, acc), (acc & ACC_SUPER) != 0);
    return v;
}

void cpu_lin_write8(struct cpu *cpu, uint32_t linear, uint8_t value, int acc)
{
    lin_access_mode(cpu, linear, &value, 1, true, acc_user(cpu, acc), (acc & ACC_SUPER) != 0);
}

void cpu_lin_write16(struct cpu *cpu, uint32_t linear, uint16_t value, int acc)
{
    lin_access_mode(cpu, linear, &value, 2, true, acc_user(cpu, acc), (acc & ACC_SUPER) != 0);
}

void cpu_lin_write32(struct cpu *cpu, uint32_t linear, uint32_t value, int acc)
{
    lin_access_mode(cpu, linear, &value, 4, true, acc_user(cpu, acc), (acc & ACC_SUPER) != 0);
}

/* ---- Segmented accesses ---- */

static _Noreturn void seg_fault(struct cpu *cpu, int seg)
{
    cpu_exception(cpu, seg == SEG_SS ? EXC_SS : EXC_GP, 0);
}

/* Check offset..offset+len-1 of seg for the access; return the linear address. */
static uint32_t seg_check(struct cpu *cpu, int seg, uint32_t offset, unsigned len, bool write)
{
    if (len == 0)
        len = 1;
    if (write ? !mmu_seg_wr_ok(cpu, seg, offset, len) : !mmu_seg_rd_ok(cpu, seg, offset, len))
        seg_fault(cpu, seg);
    uint32_t lin = cpu->seg[seg].base + offset;
    /* Alignment check: CR0.AM, EFLAGS.AC, CPL 3, misaligned. */
    if (cpu->sys.ac_possible && (cpu->eflags & FLAG_AC) && len <= 8 && (lin & (len - 1)))
        cpu_exception(cpu, EXC_AC, 0);
    return lin;
}

uint32_t mmu_read_slow(struct cpu *cpu, int seg, uint32_t offset, unsigned size)
{
    uint32_t lin = seg_check(cpu, seg, offset, size, false);
    uint32_t v = 0;
    lin_access(cpu, lin, &v, size, false, cpu->cpl == 3);
    return v;
}

void mmu_write_slow(struct cpu *cpu, int seg, uint32_t offset, unsigned size, uint32_t value)
{
    uint32_t lin = seg_check(cpu, seg, offset, size, true);
    lin_access(cpu, lin, &value, size, true, cpu->cpl == 3);
}

uint64_t cpu_read64(struct cpu *cpu, int seg, uint32_t offset)
{
    uint64_t v;
    if (mmu_seg_rd_ok(cpu, seg, offset, 8)) {
        uint8_t *p = mmu_fast(cpu, cpu->seg[seg].base + offset, 8, cpu->sys.rd_kind);
        if (p) {
            memcpy(&v, p, 8);
            return v;
        }
    }
    uint32_t lin = seg_check(cpu, seg, offset, 8, false);
    if ((lin & 0xfff) <= 0xff8) {
        /* Within a page: two dword accesses (MMIO sees dwords). */
        uint32_t lo, hi;
        lin_access(cpu, lin, &lo, 4, false, cpu->cpl == 3);
        lin_access(cpu, lin + 4, &hi, 4, false, cpu->cpl == 3);
        return lo | ((uint64_t)hi << 32);
    }
    lin_access(cpu, lin, &v, 8, false, cpu->cpl == 3);
    return v;
}

void cpu_write64(struct cpu *cpu, int seg, uint32_t offset, uint64_t value)
{
    if (mmu_seg_wr_ok(cpu, seg, offset, 8)) {
        uint8_t *p = mmu_fast(cpu, cpu->seg[seg].base + offset, 8, cpu->sys.wr_kind);
        if (p) {
            memcpy(p, &value, 8);
            return;
        }
    }
    uint32_t lin = seg_check(cpu, seg, offset, 8, true);
    if ((lin & 0xfff) <= 0xff8) {
        uint32_t lo = (uint32_t)value, hi = (uint32_t)(value >> 32);
        tlb_get_data(cpu, lin, true, cpu->cpl == 3, false);
        lin_access(cpu, lin, &lo, 4, true, cpu->cpl == 3);
        lin_access(cpu, lin + 4, &hi, 4, true, cpu->cpl == 3);
        return;
    }
    lin_access(cpu, lin, &value, 8, true, cpu->cpl == 3);
}

void cpu_read_bytes(struct cpu *cpu, int seg, uint32_t offset, void *buf, unsigned len)
{
    if (!len)
        return;
    uint32_t lin = seg_check(cpu, seg, offset, len, false);
    lin_access(cpu, lin, buf, len, false, cpu->cpl == 3);
}

void cpu_write_bytes(struct cpu *cpu, int seg, uint32_t offset, const void *buf, unsigned len)
{
    if (!len)
        return;
    uint32_t lin = seg_check(cpu, seg, offset, len, true);
    lin_access(cpu, lin, (void *)buf, len, true, cpu->cpl == 3);
}

void cpu_check_write(struct cpu *cpu, int seg, uint32_t offset, unsigned len)
{
    if (!len)
        return;
    if (!mmu_seg_wr_ok(cpu, seg, offset, len))
        seg_fault(cpu, seg);
    uint32_t lin = cpu->seg[seg].base + offset;
    uint32_t end = lin + len - 1;
    bool user = cpu->cpl == 3;
    for (uint32_t page = lin & ~0xfffu;; page += 0x1000) {
        tlb_get_data(cpu, page < lin ? lin : page, true, user, false);
        if ((page >> 12) == (end >> 12))
            break;
    }
}

/* Debugging aid (PCVM_DEBUG_TLB): compare every non-global TLB entry with a fresh walk of the
 * page tables; a translation to another frame, or write permission the tables no longer give,
 * is a stale entry. Returns how many were found (each printed on stderr). */
unsigned mmu_debug_check_tlb(struct cpu *cpu)
{
    struct cpu_sys_state *s = &cpu->sys;
    unsigned bad = 0;
    if (!cpu->paging)
        return 0;
    for (uint32_t i = 0; i < s->tlb_nfilled; i++) {
        struct tlb_entry *e = &s->tlb[s->tlb_filled[i]];
        if (!e->lpage || (e->flags & TLB_GLOBAL))
            continue;   /* global entries may lawfully outlive a change until an INVLPG */
        uint32_t lin = e->lpage & ~0xfffu;
        struct walk w, ww;
        uint32_t err;
        bool wr_now = page_walk(cpu, lin, true, false, false, &ww, &err);
        bool ok = page_walk(cpu, lin, false, false, false, &w, &err);
        bool wr_tag = (e->perm & (TLB_WS | TLB_WU)) != 0;
        if (!ok || (w.phys & cpu->a20_mask) != e->phys || (wr_tag && !wr_now)) {
            fprintf(stderr, "pcvm: stale TLB entry: lin %08x -> %08x perm %x tags w %x/%x; "
                    "tables: %s %08x writable %d; cr3 %08x eip %08x cpl %u\n",
                    lin, e->phys, e->perm, e->tag[acc_kind(true, false)], e->tag[acc_kind(true, true)],
                    ok ? "present" : "not present", ok ? w.phys : 0, wr_now, cpu->cr3, cpu->eip, cpu->cpl);
            bad++;
        }
    }
    return bad;
}

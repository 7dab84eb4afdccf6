/* Paging, TLB and segmented access checks (expected values from the Intel SDM vol. 3,
 * ch. 4 "Paging" and ch. 5 "Protection"). */
#include "../cpu/sys/harness.h"
#include "cpu/sysint.h"

#define PD 0x10000u
#define PT 0x11000u
#define PTE_P 1u
#define PTE_W 2u
#define PTE_U 4u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PTE_PS 0x80u
#define PTE_G 0x100u

/* Paging on with PD at PD, one page table for 0x00400000..0x007fffff at PT, and an identity
 * 4 MiB-equivalent page table for the first 4 MiB (so the test code's GDT etc. stay). */
static void setup_paging(struct fx *f, uint32_t cr4)
{
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    memset(f->mem.ram + PD, 0, 0x3000);
    put32(f, PD + 0, (PT + 0x1000) | PTE_P | PTE_W | PTE_U);
    for (uint32_t i = 0; i < 1024; i++)
        put32(f, PT + 0x1000 + i * 4, (i << 12) | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D);
    put32(f, PD + 4, PT | PTE_P | PTE_W | PTE_U);
    int v = TRY(cpu, {
        cpu_write_cr(cpu, 4, cr4);
        cpu_write_cr(cpu, 3, PD);
        cpu_write_cr(cpu, 0, cpu->cr0 | CR0_PG);
    });
    assert_int_equal(v, -1);
    assert_true(cpu->paging);
}

static void test_real_mode_limits(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    cpu_load_seg(cpu, SEG_DS, 0x1000);
    assert_int_equal(TRY(cpu, cpu_write32(cpu, SEG_DS, 0x10, 0xdeadbeef)), -1);
    assert_int_equal(get32(f, 0x10010), 0xdeadbeef);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x10), 0xdeadbeef);
    /* 64 KiB limit: a dword at 0xfffe crosses it -> #GP(0); SS-relative -> #SS(0). */
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0xfffe)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    assert_int_equal(TRY(cpu, cpu_write16(cpu, SEG_SS, 0xffff, 1)), EXC_SS);
    assert_int_equal(TRY(cpu, cpu_read16(cpu, SEG_DS, 0xfffe)), -1);
    /* Unreal mode: a cached 4 GiB limit survives real-mode loads. */
    cpu->seg[SEG_DS].limit = 0xffffffffu;
    cpu_load_seg(cpu, SEG_DS, 0);
    assert_int_equal(TRY(cpu, cpu_write32(cpu, SEG_DS, 0x200000, 7)), -1);
    assert_int_equal(get32(f, 0x200000), 7);
    fx_free(f);
}

static void test_a20(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    cpu_load_seg(cpu, SEG_DS, 0xffff);
    put32(f, 0x100010, 0x11111111);
    put32(f, 0x000010, 0x22222222);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x20), 0x11111111);
    cpu_set_a20(cpu, false);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x20), 0x22222222);
    cpu_set_a20(cpu, true);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x20), 0x11111111);
    fx_free(f);
}

static void test_walk_sets_accessed_dirty(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, 0);
    put32(f, PT + 5 * 4, 0x200000 | PTE_P | PTE_W);
    put32(f, 0x200000 + 0x123, 0xcafef00d);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x405123), 0xcafef00d);
    assert_true(get32(f, PD + 4) & PTE_A);
    assert_int_equal(get32(f, PT + 5 * 4), 0x200000 | PTE_P | PTE_W | PTE_A);
    /* The first write sets D even though the translation is cached. */
    cpu_write32(cpu, SEG_DS, 0x405200, 1);
    assert_int_equal(get32(f, PT + 5 * 4), 0x200000 | PTE_P | PTE_W | PTE_A | PTE_D);
    assert_int_equal(get32(f, 0x200200), 1);
    /* D is never set in the PDE of a 4 KiB page. */
    assert_false(get32(f, PD + 4) & PTE_D);
    fx_free(f);
}

static void test_page_fault_codes(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, 0);
    /* Not present: P=0, read, supervisor -> 0; CR2 = linear address; no A bit on the PDE. */
    put32(f, PD + 8, 0x12000 | PTE_P | PTE_W);
    memset(f->mem.ram + 0x12000, 0, 0x1000);
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_DS, 0x800010)), EXC_PF);
    assert_int_equal(ERR(cpu), 0);
    assert_int_equal(cpu->cr2, 0x800010);
    assert_false(get32(f, PD + 8) & PTE_A);
    /* Write to not-present: W/R=1 -> 2. */
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_DS, 0x800010, 1)), EXC_PF);
    assert_int_equal(ERR(cpu), 2);

    /* Supervisor-only page read from CPL 3: P|U = 5. */
    put32(f, PT + 6 * 4, 0x300000 | PTE_P | PTE_W);
    put32(f, PT + 7 * 4, 0x301000 | PTE_P | PTE_U); /* user read-only */
    cpu->cpl = 3;
    cpu_update_mode(cpu);
    cpu->seg[SEG_DS].flags |= 3u << SEG_FLAG_DPL_SHIFT;
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_DS, 0x406000)), EXC_PF);
    assert_int_equal(ERR(cpu), 5);
    assert_false(get32(f, PT + 6 * 4) & PTE_A);
    /* User write to read-only user page: P|W|U = 7; a user read works and sets A. */
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_DS, 0x407000, 1)), EXC_PF);
    assert_int_equal(ERR(cpu), 7);
    assert_false(get32(f, PT + 7 * 4) & PTE_A);
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_DS, 0x407000)), -1);
    assert_true(get32(f, PT + 7 * 4) & PTE_A);
    /* Supervisor write to a read-only page: allowed with WP=0, P|W = 3 with WP=1. */
    cpu->cpl = 0;
    cpu_update_mode(cpu);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_DS, 0x407001, 9)), -1);
    assert_int_equal(f->mem.ram[0x301001], 9);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 0, cpu->cr0 | CR0_WP)), -1);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_DS, 0x407002, 9)), EXC_PF);
    assert_int_equal(ERR(cpu), 3);
    /* Implicit supervisor accesses (ACC_SUPER) ignore CPL 3. */
    cpu->cpl = 3;
    cpu_update_mode(cpu);
    assert_int_equal(TRY(cpu, cpu_lin_read8(cpu, 0x406000, ACC_READ | ACC_SUPER)), -1);
    fx_free(f);
}

/* CR4.SMAP (SDM vol. 3 4.6.1): supervisor data accesses to user pages fault unless explicit
 * with EFLAGS.AC=1 at CPL < 3; implicit ones always fault; fetches and user accesses are not
 * affected; the bit is reserved on models without SMAP. */
static void test_smap(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, 0);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 4, cpu->cr4 | CR4_SMAP)), EXC_GP);
    fx_free(f);

    f = fx_new("max");
    cpu = &f->cpu;
    setup_paging(f, 0);
    put32(f, PT + 6 * 4, 0x300000 | PTE_P | PTE_W | PTE_U);   /* 0x406000: user */
    put32(f, PT + 7 * 4, 0x301000 | PTE_P | PTE_W);           /* 0x407000: supervisor */
    put32(f, 0x300ffc, 0x11223344);
    put32(f, 0x301000, 0x55667788);
    /* A TLB entry filled before SMAP is set must not keep its fast path. */
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x406ffc), 0x11223344);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 4, cpu->cr4 | CR4_SMAP)), -1);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x406ffc)), EXC_PF);
    assert_int_equal(ERR(cpu), 1);
    assert_int_equal(cpu->cr2, 0x406ffc);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_DS, 0x406000, 1)), EXC_PF);
    assert_int_equal(ERR(cpu), 3);
    /* A dword crossing from the user page into the supervisor page faults on the first. */
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x406ffe)), EXC_PF);
    assert_int_equal(cpu->cr2, 0x406ffe);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x407000)), -1);
    /* EFLAGS.AC=1 at CPL 0: explicit accesses pass, without any flush. */
    cpu->eflags |= FLAG_AC;
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x406ffc), 0x11223344);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_DS, 0x406000, 1)), -1);
    uint8_t buf[8];
    assert_int_equal(TRY(cpu, cpu_read_bytes(cpu, SEG_DS, 0x406ffc, buf, 8)), -1);
    assert_int_equal(TRY(cpu, cpu_read64(cpu, SEG_DS, 0x406ff8)), -1);
    /* Implicit supervisor accesses fault whatever AC says (P, W/R). */
    assert_int_equal(TRY(cpu, cpu_lin_read32(cpu, 0x406000, ACC_READ | ACC_SUPER)), EXC_PF);
    assert_int_equal(ERR(cpu), 1);
    assert_int_equal(TRY(cpu, cpu_lin_write8(cpu, 0x406000, 0, ACC_WRITE | ACC_SUPER)), EXC_PF);
    assert_int_equal(ERR(cpu), 3);
    cpu->eflags &= ~FLAG_AC;
    /* The entry the AC=1 accesses filled has no supervisor fast path. */
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x406ffc)), EXC_PF);
    assert_int_equal(TRY(cpu, cpu_read_bytes(cpu, SEG_DS, 0x406ffc, buf, 8)), EXC_PF);
    /* Fetches are SMEP's business; CPL 3 accesses are user accesses. */
    uint32_t pa;
    assert_int_equal(TRY(cpu, cpu_fetch_ptr(cpu, 0x406000, &pa)), -1);
    cpu->cpl = 3;
    cpu_update_mode(cpu);
    cpu->seg[SEG_DS].flags |= 3u << SEG_FLAG_DPL_SHIFT;
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x406ffc)), -1);
    /* At CPL 3 even with AC=1 an implicit access faults. */
    cpu->eflags |= FLAG_AC;
    assert_int_equal(TRY(cpu, cpu_lin_read8(cpu, 0x406000, ACC_READ | ACC_SUPER)), EXC_PF);
    fx_free(f);
}

static void test_tlb_flush_and_global(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, CR4_PGE);
    put32(f, 0x200000, 0xaaaa);
    put32(f, 0x201000, 0xbbbb);
    put32(f, PT + 0, 0x200000 | PTE_P | PTE_W);         /* 0x400000, not global */
    put32(f, PT + 4, 0x200000 | PTE_P | PTE_W | PTE_G); /* 0x401000, global */
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x400000), 0xaaaa);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x401000), 0xaaaa);
    /* Change both mappings: the TLB keeps the old ones until a flush. */
    put32(f, PT + 0, 0x201000 | PTE_P | PTE_W);
    put32(f, PT + 4, 0x201000 | PTE_P | PTE_W | PTE_G);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x400000), 0xaaaa);
    /* CR3 reload drops non-global entries only. */
    cpu_write_cr(cpu, 3, PD);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x400000), 0xbbbb);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x401000), 0xaaaa);
    /* INVLPG drops a global entry. */
    cpu_invlpg(cpu, 0x401000);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x401000), 0xbbbb);
    /* Toggling CR4.PGE flushes everything. */
    put32(f, PT + 4, 0x200000 | PTE_P | PTE_W | PTE_G);
    cpu_write_cr(cpu, 4, 0);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x401000), 0xaaaa);
    fx_free(f);
}

/* PCVM_DEBUG_TLB's check: a non-global entry the page tables no longer back (another frame,
 * or write permission taken away) is reported until an INVLPG; global entries are not. */
static void test_debug_check_tlb(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, CR4_PGE);
    cpu_write_cr(cpu, 0, cpu->cr0 | CR0_WP);   /* read-only pages bind ring 0 too */
    put32(f, PT + 0, 0x200000 | PTE_P | PTE_W | PTE_A | PTE_D);
    put32(f, PT + 4, 0x200000 | PTE_P | PTE_W | PTE_G | PTE_A | PTE_D);
    cpu_write32(cpu, SEG_DS, 0x400000, 1);
    cpu_write32(cpu, SEG_DS, 0x401000, 2);
    assert_int_equal(mmu_debug_check_tlb(cpu), 0);
    put32(f, PT + 0, 0x201000 | PTE_P | PTE_W | PTE_A | PTE_D);   /* another frame */
    put32(f, PT + 4, 0x201000 | PTE_P | PTE_W | PTE_G | PTE_A | PTE_D);
    assert_int_equal(mmu_debug_check_tlb(cpu), 1);
    cpu_invlpg(cpu, 0x400000);
    assert_int_equal(mmu_debug_check_tlb(cpu), 0);
    cpu_write32(cpu, SEG_DS, 0x400000, 3);
    put32(f, PT + 0, 0x201000 | PTE_P | PTE_A | PTE_D);           /* read-only now */
    assert_int_equal(mmu_debug_check_tlb(cpu), 1);
    cpu_write_cr(cpu, 3, PD);
    assert_int_equal(mmu_debug_check_tlb(cpu), 0);
    fx_free(f);
}

static void test_pse_large_page(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, CR4_PSE);
    put32(f, PD + 8, 0x400000 | PTE_P | PTE_W | PTE_PS); /* 0x800000 -> 0x400000, 4 MiB */
    put32(f, 0x400000 + 0x123456, 0x5a5a5a5a);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x923456), 0x5a5a5a5a);
    assert_int_equal(get32(f, PD + 8), 0x400000 | PTE_P | PTE_W | PTE_PS | PTE_A);
    cpu_write8(cpu, SEG_DS, 0x800000, 1);
    assert_true(get32(f, PD + 8) & PTE_D);
    /* Without CR4.PSE the PS bit is ignored (treated as a page-table pointer). */
    cpu_write_cr(cpu, 4, 0);
    memset(f->mem.ram + 0x400000, 0, 0x1000);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x923456)), EXC_PF);
    assert_int_equal(ERR(cpu), 0);
    fx_free(f);
}

static void test_pae(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    /* PDPT at 0x20000; PD0 at 0x21000; PT at 0x22000. */
    memset(f->mem.ram + 0x20000, 0, 0x3000);
    put32(f, 0x20000, 0x21000 | PTE_P);
    put32(f, 0x21000, 0x000000 | PTE_P | PTE_W | PTE_PS | PTE_A | PTE_D); /* 0-2M identity */
    put32(f, 0x21008, 0x22000 | PTE_P | PTE_W);                          /* 2M-4M: PT */
    put32(f, 0x22000 + 3 * 8, 0x600000 | PTE_P | PTE_W);                 /* 0x203000 */
    put32(f, 0x21010, 0x800000 | PTE_P | PTE_W | PTE_PS);                /* 4M-6M -> 8M */
    put32(f, 0x21018, 0x800000 | PTE_P | PTE_W | PTE_PS | 0x2000);       /* reserved bit 13 */
    put32(f, 0x22000 + 4 * 8, 0x600000 | PTE_P);
    put32(f, 0x22000 + 4 * 8 + 4, 0x10);                                 /* bit 36 reserved */
    assert_int_equal(TRY(cpu, {
        cpu_write_cr(cpu, 4, CR4_PAE);
        cpu_write_cr(cpu, 3, 0x20000);
        cpu_write_cr(cpu, 0, cpu->cr0 | CR0_PG);
    }), -1);
    put32(f, 0x600010, 0x600d);
    put32(f, 0x800020, 0x800d);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x203010), 0x600d);
    assert_int_equal(get32(f, 0x22000 + 3 * 8), 0x600000 | PTE_P | PTE_W | PTE_A);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x400020), 0x800d);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x600000)), EXC_PF);
    assert_int_equal(ERR(cpu), 9);   /* P | RSVD */
    assert_int_equal(TRY(cpu, cpu_write32(cpu, SEG_DS, 0x204000, 0)), EXC_PF);
    assert_int_equal(ERR(cpu), 0xb); /* P | W | RSVD */
    /* A page above 4 GiB (bit 32 set, allowed with 36-bit addresses): nothing there. */
    put32(f, 0x22000 + 5 * 8, 0x000000 | PTE_P | PTE_W);
    put32(f, 0x22000 + 5 * 8 + 4, 0x1);
    put32(f, 0, 0x12345678);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x205000)), -1);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x205000), 0xffffffffu);
    cpu_write32(cpu, SEG_DS, 0x205000, 0);
    assert_int_equal(get32(f, 0), 0x12345678);
    /* PDPTEs with reserved bits make the CR3 load fault with #GP(0). */
    put32(f, 0x20008, 0x21000 | PTE_P | PTE_W);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 3, 0x20000)), EXC_GP);
    fx_free(f);
}

static void test_cross_page_write_checks_both(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, 0);
    put32(f, PT + 0, 0x200000 | PTE_P | PTE_W);
    put32(f, PT + 4, 0); /* 0x401000 not present */
    put32(f, 0x200ffc, 0x11223344);
    assert_int_equal(TRY(cpu, cpu_write32(cpu, SEG_DS, 0x400ffe, 0xaabbccdd)), EXC_PF);
    assert_int_equal(cpu->cr2, 0x401000);
    assert_int_equal(get32(f, 0x200ffc), 0x11223344);
    /* Now map it and the split write lands in two pages. */
    put32(f, PT + 4, 0x300000 | PTE_P | PTE_W);
    assert_int_equal(TRY(cpu, cpu_write32(cpu, SEG_DS, 0x400ffe, 0xaabbccdd)), -1);
    assert_int_equal(get16(f, 0x200ffe), 0xccdd);
    assert_int_equal(get16(f, 0x300000), 0xaabb);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x400ffe), 0xaabbccdd);
    fx_free(f);
}

struct hook_log { uint32_t paddr; unsigned len; int calls; };
static void code_hook(void *opaque, uint32_t paddr, unsigned len)
{
    struct hook_log *h = opaque;
    h->paddr = paddr;
    h->len = len;
    h->calls++;
}

static void test_code_page_writes_fire_hook(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    struct hook_log h = { 0, 0, 0 };
    f->mem.code_write = code_hook;
    f->mem.code_write_opaque = &h;
    /* Fill a direct-write entry first, then mark the page as code. */
    cpu_write32(cpu, SEG_DS, 0x5000, 1);
    assert_int_equal(h.calls, 0);
    f->mem.code_pages[5] = 1;
    cpu_tlb_protect_code(cpu, 0x5000);
    cpu_write16(cpu, SEG_DS, 0x5010, 0x1234);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.paddr, 0x5010);
    assert_int_equal(h.len, 2);
    assert_int_equal(get16(f, 0x5010), 0x1234);
    /* Reads stay direct; a fresh fill of a code page never gets direct write. */
    cpu_tlb_flush(cpu);
    cpu_write8(cpu, SEG_DS, 0x5020, 7);
    assert_int_equal(h.calls, 2);
    fx_free(f);
}

static void test_segment_types_and_expand_down(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put_desc(f, GDT_BASE + 0x30, 0x10000, 0x0fff, 0x90, 0x4);  /* read-only data */
    put_desc(f, GDT_BASE + 0x38, 0x10000, 0x0fff, 0x96, 0x0);  /* expand-down RW, 16-bit */
    put_desc(f, GDT_BASE + 0x40, 0x10000, 0x0fff, 0x98, 0x4);  /* execute-only code */
    put_desc(f, GDT_BASE + 0x48, 0x10000, 0x0fff, 0x9a, 0x4);  /* readable code */
    cpu_load_seg(cpu, SEG_ES, 0x30);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_ES, 0xffc)), -1);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_ES, 0xffd)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_ES, 0, 1)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    /* Expand-down, limit 0xfff, B=0: valid offsets 0x1000..0xffff. */
    cpu_load_seg(cpu, SEG_ES, 0x38);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_ES, 0xfff, 1)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_ES, 0x1000, 1)), -1);
    assert_int_equal(TRY(cpu, cpu_write16(cpu, SEG_ES, 0xfffe, 1)), -1);
    assert_int_equal(TRY(cpu, cpu_write16(cpu, SEG_ES, 0xffff, 1)), EXC_GP);
    /* Execute-only code cannot be loaded into a data segment register. */
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_ES, 0x40)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x40);
    /* Readable code: reads fine, writes #GP. */
    cpu_load_seg(cpu, SEG_ES, 0x48);
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_ES, 5)), -1);
    assert_int_equal(TRY(cpu, cpu_write8(cpu, SEG_ES, 5, 0)), EXC_GP);
    /* Null selector: loads, then any access is #GP(0). */
    cpu_load_seg(cpu, SEG_ES, 0);
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_ES, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    /* Stack segment limit faults are #SS(0). */
    put_desc(f, GDT_BASE + 0x50, 0x10000, 0x0fff, 0x92, 0x4);
    cpu_load_seg(cpu, SEG_SS, 0x50);
    assert_int_equal(TRY(cpu, cpu_write32(cpu, SEG_SS, 0x1000, 0)), EXC_SS);
    assert_int_equal(ERR(cpu), 0);
    fx_free(f);
}

static void test_alignment_check(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    cpu_write_cr(cpu, 0, cpu->cr0 | CR0_AM);
    cpu_load_seg(cpu, SEG_DS, SEL_DATA3);
    cpu->cpl = 3;
    cpu_update_mode(cpu);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x5001)), -1); /* AC clear */
    cpu->eflags |= FLAG_AC;
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x5001)), EXC_AC);
    assert_int_equal(ERR(cpu), 0);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x5004)), -1);
    assert_int_equal(TRY(cpu, cpu_read16(cpu, SEG_DS, 0x5003)), EXC_AC);
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_DS, 0x5003)), -1);
    cpu->cpl = 0;
    cpu_update_mode(cpu);
    assert_int_equal(TRY(cpu, cpu_read32(cpu, SEG_DS, 0x5001)), -1); /* CPL 0 */
    fx_free(f);
}

static void test_probe_and_fetch(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, 0);
    put32(f, PT + 9 * 4, 0x250000 | PTE_P);
    uint32_t pa = 0;
    assert_true(cpu_probe(cpu, 0x409abc, &pa));
    assert_int_equal(pa, 0x250abc);
    assert_false(get32(f, PT + 9 * 4) & PTE_A); /* probes set no bits */
    assert_false(cpu_probe(cpu, 0x40a000, &pa));
    f->mem.ram[0x250abc] = 0x90;
    const uint8_t *p = cpu_fetch_ptr(cpu, 0x409abc, &pa);
    assert_non_null(p);
    assert_int_equal(*p, 0x90);
    assert_int_equal(pa, 0x250abc);
    assert_true(get32(f, PT + 9 * 4) & PTE_A);
    fx_free(f);
}

struct mmio_log { uint32_t last_off, last_val; unsigned last_size; int reads, writes; };
static uint32_t mmio_rd(void *opaque, uint32_t off, unsigned size)
{
    struct mmio_log *m = opaque;
    m->reads++;
    m->last_off = off;
    m->last_size = size;
    return 0x44332211u & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}
static void mmio_wr(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    struct mmio_log *m = opaque;
    m->writes++;
    m->last_off = off;
    m->last_val = value;
    m->last_size = size;
}

static void test_mmio_and_bulk_access(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    struct mmio_log m = { 0, 0, 0, 0, 0 };
    phys_map_mmio(&f->mem, 0xfee00000u, 0x1000, &m, mmio_rd, mmio_wr, "test");
    fx_protected(f);
    /* A dword access reaches the device as one 4-byte access, each time (never cached). */
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0xfee00020u), 0x44332211u);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0xfee00020u), 0x44332211u);
    assert_int_equal(m.reads, 2);
    assert_int_equal(m.last_size, 4);
    assert_int_equal(m.last_off, 0x20);
    cpu_write32(cpu, SEG_DS, 0xfee000b0u, 0);
    assert_int_equal(m.writes, 1);
    assert_int_equal(m.last_off, 0xb0);
    assert_int_equal(m.last_size, 4);
    /* 64-bit accesses: two dwords. */
    cpu_write64(cpu, SEG_DS, 0x7000, 0x1122334455667788ull);
    assert_int_equal(cpu_read64(cpu, SEG_DS, 0x7000), 0x1122334455667788ull);
    assert_int_equal(get32(f, 0x7004), 0x11223344);
    /* Bulk copies across a page boundary. */
    uint8_t buf[64], back[64];
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7);
    cpu_write_bytes(cpu, SEG_DS, 0x7fe0, buf, sizeof(buf));
    cpu_read_bytes(cpu, SEG_DS, 0x7fe0, back, sizeof(back));
    assert_memory_equal(buf, back, sizeof(buf));
    assert_int_equal(f->mem.ram[0x8000], buf[0x20]);
    /* cpu_check_write faults on a read-only segment without writing. */
    put_desc(f, GDT_BASE + 0x30, 0, 0xfffff, 0x90, 0xc);
    cpu_load_seg(cpu, SEG_ES, 0x30);
    assert_int_equal(TRY(cpu, cpu_check_write(cpu, SEG_ES, 0x100, 8)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_check_write(cpu, SEG_DS, 0x100, 8)), -1);
    fx_free(f);
}

static void test_invlpg_large_page(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, CR4_PSE);
    put32(f, PD + 8, 0x400000 | PTE_P | PTE_W | PTE_PS);
    put32(f, 0x400000, 0xa);
    put32(f, 0x400000 + 0x5000, 0xb);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x800000), 0xa);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x805000), 0xb);
    /* Remap the 4 MiB page; INVLPG of one address inside it drops all its entries. */
    put32(f, PD + 8, 0x000000 | PTE_P | PTE_W | PTE_PS);
    put32(f, 0x000000, 0xc);
    put32(f, 0x005000, 0xd);
    cpu_invlpg(cpu, 0x800000);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x800000), 0xc);
    assert_int_equal(cpu_read32(cpu, SEG_DS, 0x805000), 0xd);
    fx_free(f);
}

/* Two linear pages that share a slot of the direct-mapped TLB: each access must still reach
 * its own page (the tag decides), for reads and writes, at every size, and accesses that
 * cross into the next page must not use the slot of the first. */
static void test_tlb_slot_collision(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_paging(f, 0);
    const uint32_t pt2 = 0x13000;
    memset(f->mem.ram + pt2, 0, 0x1000);
    put32(f, PD + 5 * 4, pt2 | PTE_P | PTE_W | PTE_U);   /* 0x01400000.. */
    put32(f, pt2 + 0 * 4, 0x200000 | PTE_P | PTE_W);     /* 0x01400000 */
    put32(f, PT + 0 * 4, 0x201000 | PTE_P | PTE_W);      /* 0x00400000 */
    put32(f, PT + 1 * 4, 0x202000 | PTE_P | PTE_W);      /* 0x00401000 */
    const uint32_t a = 0x1400000, b = 0x400000;
    assert_int_equal(tlb_index(a), tlb_index(b));
    put32(f, 0x200000, 0x11111111);
    put32(f, 0x201000, 0x22222222);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(cpu_read32(cpu, SEG_DS, a), 0x11111111);
        assert_int_equal(cpu_read32(cpu, SEG_DS, b), 0x22222222);
        assert_int_equal(cpu_read16(cpu, SEG_DS, a + 2), 0x1111);
        assert_int_equal(cpu_read8(cpu, SEG_DS, b + 1), 0x22);
    }
    cpu_write32(cpu, SEG_DS, a + 8, 0xa5a5a5a5);
    cpu_write32(cpu, SEG_DS, b + 8, 0x5a5a5a5a);
    assert_int_equal(get32(f, 0x200008), 0xa5a5a5a5);
    assert_int_equal(get32(f, 0x201008), 0x5a5a5a5a);
    /* A dword at the end of 0x400000 continues in 0x401000 (physical 0x202000). */
    put32(f, 0x201ffc, 0x44332211);
    put32(f, 0x202000, 0x88776655);
    assert_int_equal(cpu_read32(cpu, SEG_DS, b + 0xffe), 0x66554433);
    cpu_write32(cpu, SEG_DS, b + 0xffd, 0xddccbbaa);
    assert_int_equal(get32(f, 0x201ffc), 0xccbbaa11);
    assert_int_equal(get32(f, 0x202000), 0x887766dd);
    /* Only the translation of this address goes: INVLPG of one leaves the other right. */
    cpu_invlpg(cpu, a);
    assert_int_equal(cpu_read32(cpu, SEG_DS, b + 8), 0x5a5a5a5a);
    assert_int_equal(cpu_read32(cpu, SEG_DS, a + 8), 0xa5a5a5a5);
    fx_free(f);
}

static void test_data_breakpoints(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    /* DR0 = 0x5002, L0, R/W = 01 (writes), LEN = 11 (4 bytes): covers 0x5000..0x5003. */
    cpu_write_dr(cpu, 0, 0x5002);
    cpu_write_dr(cpu, 7, 0x1 | (1u << 16) | (3u << 18));
    cpu_read32(cpu, SEG_DS, 0x5000);
    assert_false(cpu_take_data_breakpoints(cpu)); /* reads do not match a write breakpoint */
    cpu_write8(cpu, SEG_DS, 0x5004, 1);
    assert_false(cpu_take_data_breakpoints(cpu));
    cpu_write16(cpu, SEG_DS, 0x4fff, 1);            /* overlaps 0x5000 */
    assert_true(cpu_take_data_breakpoints(cpu));
    assert_int_equal(cpu->dr[6] & 0xf, 1);
    /* R/W = 11 (reads or writes) on DR3, 1 byte at 0x6000. */
    cpu_write_dr(cpu, 3, 0x6000);
    cpu_write_dr(cpu, 7, 0x40 | (3u << 28));
    cpu_read8(cpu, SEG_DS, 0x6000);
    assert_true(cpu_take_data_breakpoints(cpu));
    assert_int_equal(cpu->dr[6] & 0xf, 8);
    /* Disarmed: the fast path is back and nothing is recorded. */
    cpu_write_dr(cpu, 7, 0);
    cpu_read8(cpu, SEG_DS, 0x6000);
    assert_false(cpu_take_data_breakpoints(cpu));
    assert_int_not_equal(cpu->sys.rd_kind, TLB_KIND_NONE);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_mode_limits),
        cmocka_unit_test(test_a20),
        cmocka_unit_test(test_walk_sets_accessed_dirty),
        cmocka_unit_test(test_page_fault_codes),
        cmocka_unit_test(test_smap),
        cmocka_unit_test(test_tlb_flush_and_global),
        cmocka_unit_test(test_debug_check_tlb),
        cmocka_unit_test(test_pse_large_page),
        cmocka_unit_test(test_pae),
        cmocka_unit_test(test_cross_page_write_checks_both),
        cmocka_unit_test(test_code_page_writes_fire_hook),
        cmocka_unit_test(test_segment_types_and_expand_down),
        cmocka_unit_test(test_alignment_check),
        cmocka_unit_test(test_probe_and_fetch),
        cmocka_unit_test(test_mmio_and_bulk_access),
        cmocka_unit_test(test_invlpg_large_page),
        cmocka_unit_test(test_data_breakpoints),
        cmocka_unit_test(test_tlb_slot_collision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

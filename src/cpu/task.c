/* Hardware task switching (SDM vol. 3 ch. 7): JMP, CALL, INT and IRET through TSS
 * descriptors and task gates, 16-bit (286) and 32-bit (386) TSS formats. */
#include "cpu/sysint.h"

static uint32_t rd32(struct cpu *cpu, uint32_t a) { return cpu_lin_read32(cpu, a, ACC_READ | ACC_SUPER); }
static uint16_t rd16(struct cpu *cpu, uint32_t a) { return cpu_lin_read16(cpu, a, ACC_READ | ACC_SUPER); }
static void wr32(struct cpu *cpu, uint32_t a, uint32_t v) { cpu_lin_write32(cpu, a, v, ACC_WRITE | ACC_SUPER); }
static void wr16(struct cpu *cpu, uint32_t a, uint16_t v) { cpu_lin_write16(cpu, a, v, ACC_WRITE | ACC_SUPER); }

/* Set or clear the busy bit of the TSS descriptor of sel in the GDT. */
static void set_busy(struct cpu *cpu, uint16_t sel, bool busy)
{
    uint32_t a = cpu->gdtr.base + (sel & ~7u) + 4;
    uint32_t hi = rd32(cpu, a);
    hi = busy ? (hi | 0x200) : (hi & ~0x200u);
    wr32(cpu, a, hi);
}

struct tss_image {
    uint32_t cr3, eip, eflags, regs[8];
    uint16_t seg[SEG_COUNT], ldt;
    bool trap;
};

static void read_tss(struct cpu *cpu, uint32_t base, bool is32, struct tss_image *t)
{
    if (is32) {
        t->cr3 = rd32(cpu, base + 0x1c);
        t->eip = rd32(cpu, base + 0x20);
        t->eflags = rd32(cpu, base + 0x24);
        for (int i = 0; i < 8; i++)
            t->regs[i] = rd32(cpu, base + 0x28 + 4 * (uint32_t)i);
        for (int i = 0; i < SEG_COUNT; i++)
            t->seg[i] = rd16(cpu, base + 0x48 + 4 * (uint32_t)i);
        t->ldt = rd16(cpu, base + 0x60);
        t->trap = rd16(cpu, base + 0x64) & 1;
    } else {
        t->cr3 = 0;
        t->eip = rd16(cpu, base + 0x0e);
        t->eflags = rd16(cpu, base + 0x10);
        for (int i = 0; i < 8; i++)
            t->regs[i] = rd16(cpu, base + 0x12 + 2 * (uint32_t)i);
        for (int i = 0; i < 4; i++)
            t->seg[i] = rd16(cpu, base + 0x22 + 2 * (uint32_t)i);
        t->seg[SEG_FS] = t->seg[SEG_GS] = 0;
        t->ldt = rd16(cpu, base + 0x2a);
        t->trap = false;
    }
}

static void save_tss(struct cpu *cpu, uint32_t base, bool is32, uint32_t eip, uint32_t eflags)
{
    if (is32) {
        wr32(cpu, base + 0x20, eip);
        wr32(cpu, base + 0x24, eflags);
        for (int i = 0; i < 8; i++)
            wr32(cpu, base + 0x28 + 4 * (uint32_t)i, cpu->regs[i]);
        for (int i = 0; i < SEG_COUNT; i++)
            wr16(cpu, base + 0x48 + 4 * (uint32_t)i, cpu->seg[i].sel);
    } else {
        wr16(cpu, base + 0x0e, (uint16_t)eip);
        wr16(cpu, base + 0x10, (uint16_t)eflags);
        for (int i = 0; i < 8; i++)
            wr16(cpu, base + 0x12 + 2 * (uint32_t)i, (uint16_t)cpu->regs[i]);
        for (int i = 0; i < 4; i++)
            wr16(cpu, base + 0x22 + 2 * (uint32_t)i, cpu->seg[i].sel);
    }
}

static _Noreturn void ts(struct cpu *cpu, uint16_t sel) { cpu_exception(cpu, EXC_TS, sel_error(cpu, sel)); }

/* Load a data segment register of the new task (#TS / #NP on bad descriptors). */
static void task_load_data(struct cpu *cpu, int seg, uint16_t sel)
{
    if ((sel & 0xfffc) == 0) {
        cpu->seg[seg] = (struct seg){ sel, 0, 0, 0 };
        return;
    }
    uint32_t d[2];
    if (!seg_read_desc(cpu, sel, d))
        ts(cpu, sel);
    unsigned t = desc_type(d);
    if (!desc_s(d) || ((t & 8) && !(t & 2)))
        ts(cpu, sel);
    if ((t & 0xc) != 0xc && (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & 3u)))
        ts(cpu, sel);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel_error(cpu, sel));
    seg_set_accessed(cpu, sel, d);
    seg_from_desc(&cpu->seg[seg], sel, d);
}

void task_switch(struct cpu *cpu, uint16_t sel, const uint32_t desc[2], enum task_reason why,
                 uint32_t next_eip, bool has_error, uint32_t error)
{
    uint32_t nd[2] = { desc[0], desc[1] };
    bool new32 = (desc_type(nd) & 8) != 0;
    uint32_t nbase = desc_base(nd), nlimit = desc_limit(nd);
    if (nlimit < (new32 ? 0x67u : 0x2bu))
        ts(cpu, sel);
    log_printf(cpu->log, LOG_PCALL, "task switch %04x -> %04x (%s)\n", cpu->tr.sel, sel,
               why == TASK_JMP ? "jmp" : why == TASK_CALL ? "call" : why == TASK_INT ? "int" : "iret");

    /* Read the new task's state first: a page fault here changes nothing. */
    struct tss_image t;
    read_tss(cpu, nbase, new32, &t);

    /* Save the outgoing task. */
    uint16_t old_sel = cpu->tr.sel;
    uint32_t obase = cpu->tr.base;
    bool old32 = (seg_type(&cpu->tr) & 8) != 0;
    uint32_t eflags = cpu_get_eflags(cpu);
    if (why == TASK_IRET)
        eflags &= ~(uint32_t)FLAG_NT;
    save_tss(cpu, obase, old32, next_eip, eflags);
    if (why == TASK_JMP || why == TASK_IRET)
        set_busy(cpu, old_sel, false);
    if (why == TASK_CALL || why == TASK_INT) {
        wr16(cpu, nbase, old_sel);
        t.eflags |= FLAG_NT;
    }
    if (why != TASK_IRET)
        set_busy(cpu, sel, true);
    nd[1] |= 0x200;

    /* Commit: TR, CR0.TS, CR3, registers, then the segments (faults now hit the new task). */
    seg_from_desc(&cpu->tr, sel, nd);
    cpu->cr0 |= CR0_TS;
    if (new32 && cpu->paging) {
        if (cpu->cr4 & CR4_PAE)
            mmu_load_pdptes(cpu, t.cr3);
        cpu->cr3 = t.cr3;
        mmu_flush_nonglobal(cpu);
    }
    if (!new32)
        t.eflags = (cpu_get_eflags(cpu) & 0xffff0000u & ~(uint32_t)FLAG_VM) | (t.eflags & 0xffff);
    for (int i = 0; i < 8; i++)
        cpu->regs[i] = new32 ? t.regs[i] : (0xffff0000u | t.regs[i]);
    cpu->eip = t.eip;
    /* A fault from here on belongs to the new task: make cpu_run's restore a no-op. */
    cpu->eip_start = cpu->eip;
    cpu->esp_start = cpu->regs[R_ESP];
    /* Selectors first (so a fault reports the new task's values), descriptors next. */
    for (int i = 0; i < SEG_COUNT; i++)
        cpu->seg[i] = (struct seg){ t.seg[i], 0, 0, 0 };
    cpu->ldtr = (struct seg){ t.ldt, 0, 0, 0 };
    cpu_set_eflags(cpu, t.eflags | 2, 0x3f7fd7u);

    if (t.ldt & 4)
        ts(cpu, t.ldt);
    if (t.ldt & 0xfffc) {
        uint32_t ld[2];
        if (!seg_read_desc(cpu, t.ldt, ld) || desc_s(ld) || desc_type(ld) != 2)
            ts(cpu, t.ldt);
        if (!desc_p(ld))
            ts(cpu, t.ldt);
        seg_from_desc(&cpu->ldtr, t.ldt, ld);
    }
    if (new32 && (t.eflags & FLAG_VM)) {
        cpu_update_mode(cpu);
        for (int i = 0; i < SEG_COUNT; i++)
            seg_load_real(cpu, i, t.seg[i]);
    } else {
        uint16_t cs = t.seg[SEG_CS];
        uint32_t cd[2];
        if ((cs & 0xfffc) == 0 || !seg_read_desc(cpu, cs, cd))
            ts(cpu, cs);
        unsigned ct = desc_type(cd);
        if (!desc_s(cd) || !(ct & 8) ||
            ((ct & 4) ? desc_dpl(cd) > (cs & 3u) : desc_dpl(cd) != (cs & 3u)))
            ts(cpu, cs);
        if (!desc_p(cd))
            cpu_exception(cpu, EXC_NP, sel_error(cpu, cs));
        cpu->cpl = cs & 3;
        uint32_t sd[2];
        seg_check_stack(cpu, t.seg[SEG_SS], sd, cpu->cpl, true);
        seg_set_accessed(cpu, t.seg[SEG_SS], sd);
        seg_from_desc(&cpu->seg[SEG_SS], t.seg[SEG_SS], sd);
        seg_set_accessed(cpu, cs, cd);
        seg_from_desc(&cpu->seg[SEG_CS], cs, cd);
        cpu_update_mode(cpu);
        task_load_data(cpu, SEG_ES, t.seg[SEG_ES]);
        task_load_data(cpu, SEG_DS, t.seg[SEG_DS]);
        task_load_data(cpu, SEG_FS, t.seg[SEG_FS]);
        task_load_data(cpu, SEG_GS, t.seg[SEG_GS]);
    }
    cpu_update_mode(cpu);

    if (has_error) {
        unsigned size = new32 ? 4 : 2;
        uint32_t mask = stack_mask(&cpu->seg[SEG_SS]);
        uint32_t esp = (cpu->regs[R_ESP] - size) & mask;
        if (size == 4)
            cpu_write32(cpu, SEG_SS, esp, error);
        else
            cpu_write16(cpu, SEG_SS, esp, (uint16_t)error);
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & ~mask) | esp;
        cpu->esp_start = cpu->regs[R_ESP];
    }
    if (cpu->eip > cpu->seg[SEG_CS].limit)
        cpu_exception(cpu, EXC_GP, 0);
    if (t.trap) {
        cpu->dr[6] |= 1u << 15; /* BT */
        cpu_exception(cpu, EXC_DB, 0);
    }
}

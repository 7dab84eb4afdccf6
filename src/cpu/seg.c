/* Segmentation: descriptor loading, far JMP/CALL/RET, IRET, call gates, LAR/LSL/VERR/VERW,
 * LLDT/LTR. Checks and error codes follow the Intel SDM vol. 2 pseudo-code. */
#include "cpu/sysint.h"

static _Noreturn void gp(struct cpu *cpu, uint32_t err) { cpu_exception(cpu, EXC_GP, err); }

/* ---- Descriptor tables ---- */

static bool desc_addr(struct cpu *cpu, uint16_t sel, uint32_t *addr)
{
    uint32_t base, limit;
    if (sel & 4) {
        if (!(cpu->ldtr.flags & SEG_FLAG_P) || (cpu->ldtr.sel & 0xfffc) == 0)
            return false;
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    if ((uint32_t)(sel | 7) > limit)
        return false;
    *addr = base + (sel & ~7u);
    return true;
}

bool seg_read_desc(struct cpu *cpu, uint16_t sel, uint32_t desc[2])
{
    uint32_t a;
    if (!desc_addr(cpu, sel, &a))
        return false;
    desc[0] = cpu_lin_read32(cpu, a, ACC_READ | ACC_SUPER);
    desc[1] = cpu_lin_read32(cpu, a + 4, ACC_READ | ACC_SUPER);
    return true;
}

void seg_from_desc(struct seg *s, uint16_t sel, const uint32_t desc[2])
{
    s->sel = sel;
    s->base = desc_base(desc);
    s->limit = desc_limit(desc);
    s->flags = desc[1] & 0x00f0ff00u;
}

void seg_set_accessed(struct cpu *cpu, uint16_t sel, uint32_t desc[2])
{
    uint32_t a;
    if ((desc[1] & 0x100) || !desc_addr(cpu, sel, &a))
        return;
    desc[1] |= 0x100;
    cpu_lin_write8(cpu, a + 5, (uint8_t)(desc[1] >> 8), ACC_WRITE | ACC_SUPER);
}

bool seg_cache_ok(const struct seg *s, uint32_t off, unsigned size)
{
    uint64_t last = (uint64_t)off + size - 1;
    if (!(s->flags & SEG_FLAG_S) || (seg_type(s) & 0xc) != 4)
        return last <= s->limit;
    uint64_t upper = (s->flags & SEG_FLAG_DB) ? 0xffffffffu : 0xffffu;
    return off > s->limit && last <= upper;
}

void seg_load_real(struct cpu *cpu, int seg, uint16_t sel)
{
    struct seg *s = &cpu->seg[seg];
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
    if (cpu->vm86) {
        /* v86 segments: 64 KiB, DPL 3, present, writable data (code for CS). */
        s->limit = 0xffff;
        s->flags = SEG_FLAG_P | SEG_FLAG_S | (3u << SEG_FLAG_DPL_SHIFT) |
                   ((seg == SEG_CS ? 0xbu : 0x3u) << SEG_FLAG_TYPE_SHIFT);
    }
    if (seg == SEG_CS || seg == SEG_SS)
        cpu_update_mode(cpu);
    else
        mmu_update_seg(cpu, seg);
}

void seg_set_flat(struct cpu *cpu, int seg, uint16_t sel, unsigned type, unsigned dpl)
{
    struct seg *s = &cpu->seg[seg];
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->flags = SEG_FLAG_P | SEG_FLAG_S | SEG_FLAG_DB | SEG_FLAG_G | (dpl << SEG_FLAG_DPL_SHIFT) |
               (type << SEG_FLAG_TYPE_SHIFT);
}

static void seg_set_null(struct seg *s, uint16_t sel)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0;
    s->flags = 0;
}

void seg_null_invalid(struct cpu *cpu)
{
    static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
    for (unsigned i = 0; i < 4; i++) {
        struct seg *s = &cpu->seg[segs[i]];
        if (!(s->flags & SEG_FLAG_P) || !(s->flags & SEG_FLAG_S))
            continue;
        unsigned t = seg_type(s);
        bool conforming_code = (t & 0xc) == 0xc;
        if (!conforming_code && seg_dpl(s) < cpu->cpl)
            seg_set_null(s, 0);
    }
}

void seg_check_stack(struct cpu *cpu, uint16_t sel, uint32_t desc[2], unsigned cpl, bool ts)
{
    int exc = ts ? EXC_TS : EXC_GP;
    if ((sel & 0xfffc) == 0)
        cpu_exception(cpu, exc, cpu->sys.ext ? 1 : 0);
    if (!seg_read_desc(cpu, sel, desc))
        cpu_exception(cpu, exc, sel_error(cpu, sel));
    unsigned t = desc_type(desc);
    if ((sel & 3) != cpl || !desc_s(desc) || (t & 8) || !(t & 2) || desc_dpl(desc) != cpl)
        cpu_exception(cpu, exc, sel_error(cpu, sel));
    if (!desc_p(desc))
        cpu_exception(cpu, EXC_SS, sel_error(cpu, sel));
}

void seg_tss_stack(struct cpu *cpu, unsigned dpl, uint16_t *ss, uint32_t *esp)
{
    const struct seg *tr = &cpu->tr;
    if (seg_type(tr) & 8) {
        uint32_t off = 4 + dpl * 8;
        if (off + 5 > tr->limit)
            cpu_exception(cpu, EXC_TS, sel_error(cpu, tr->sel));
        *esp = cpu_lin_read32(cpu, tr->base + off, ACC_READ | ACC_SUPER);
        *ss = cpu_lin_read16(cpu, tr->base + off + 4, ACC_READ | ACC_SUPER);
    } else {
        uint32_t off = 2 + dpl * 4;
        if (off + 3 > tr->limit)
            cpu_exception(cpu, EXC_TS, sel_error(cpu, tr->sel));
        *esp = cpu_lin_read16(cpu, tr->base + off, ACC_READ | ACC_SUPER);
        *ss = cpu_lin_read16(cpu, tr->base + off + 2, ACC_READ | ACC_SUPER);
    }
}

void seg_stack_write(struct cpu *cpu, const struct seg *ss, uint32_t esp_off, uint32_t value,
                     unsigned size, unsigned cpl, uint32_t fault_error)
{
    if (!seg_cache_ok(ss, esp_off, size))
        cpu_exception(cpu, EXC_SS, fault_error);
    int acc = ACC_WRITE | ((cpl == 3 && cpu->cpl == 3) ? 0 : ACC_SUPER);
    if (size == 4)
        cpu_lin_write32(cpu, ss->base + esp_off, value, acc);
    else
        cpu_lin_write16(cpu, ss->base + esp_off, (uint16_t)value, acc);
}

/* Read a value of size bytes at SS:off with an explicit cache (fault: #SS(0)). */
static uint32_t stack_read(struct cpu *cpu, uint32_t off, unsigned size)
{
    return size == 4 ? cpu_read32(cpu, SEG_SS, off) : cpu_read16(cpu, SEG_SS, off);
}

static void set_esp(struct cpu *cpu, const struct seg *ss, uint32_t value)
{
    uint32_t mask = stack_mask(ss);
    cpu->regs[R_ESP] = (cpu->regs[R_ESP] & ~mask) | (value & mask);
}

/* ---- Segment register loads ---- */

void cpu_load_seg(struct cpu *cpu, int seg, uint16_t sel)
{
    if (!cpu->pe || cpu->vm86) {
        seg_load_real(cpu, seg, sel);
        return;
    }
    uint32_t d[2];
    unsigned rpl = sel & 3, cpl = cpu->cpl;
    if (seg == SEG_SS) {
        seg_check_stack(cpu, sel, d, cpl, false);
    } else if ((sel & 0xfffc) == 0) {
        if (seg == SEG_CS)
            gp(cpu, 0);
        seg_set_null(&cpu->seg[seg], sel);
        mmu_update_seg(cpu, seg);
        return;
    } else {
        if (!seg_read_desc(cpu, sel, d))
            gp(cpu, sel & 0xfffc);
        unsigned t = desc_type(d);
        if (!desc_s(d) || ((t & 8) && !(t & 2)))
            gp(cpu, sel & 0xfffc);
        if ((t & 0xc) != 0xc && (rpl > desc_dpl(d) || cpl > desc_dpl(d)))
            gp(cpu, sel & 0xfffc);
        if (!desc_p(d))
            cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    }
    seg_set_accessed(cpu, sel, d);
    seg_from_desc(&cpu->seg[seg], sel, d);
    if (seg == SEG_SS || seg == SEG_CS)
        cpu_update_mode(cpu);
    else
        mmu_update_seg(cpu, seg);
}

/* ---- Far transfers ---- */

/* Load CS from a checked code descriptor with RPL = new_cpl and jump to eip. */
static void load_cs(struct cpu *cpu, uint16_t sel, uint32_t d[2], unsigned new_cpl, uint32_t eip)
{
    seg_set_accessed(cpu, sel, d);
    seg_from_desc(&cpu->seg[SEG_CS], (uint16_t)((sel & 0xfffc) | new_cpl), d);
    cpu->cpl = new_cpl;
    cpu->eip = eip;
    cpu_update_mode(cpu);
}

/* Checks for a direct JMP/CALL to a code segment (not through a gate). */
static void check_direct_code(struct cpu *cpu, uint16_t sel, const uint32_t d[2], uint32_t offset)
{
    unsigned t = desc_type(d);
    if (!(t & 8))
        gp(cpu, sel & 0xfffc);
    if (t & 4) {
        if (desc_dpl(d) > cpu->cpl)
            gp(cpu, sel & 0xfffc);
    } else if ((sel & 3) > cpu->cpl || desc_dpl(d) != cpu->cpl) {
        gp(cpu, sel & 0xfffc);
    }
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    if (offset > desc_limit(d))
        gp(cpu, 0);
}

/* Common checks of a TSS or task gate reached by JMP/CALL; returns the TSS selector and
 * its descriptor. */
static uint16_t task_target(struct cpu *cpu, uint16_t sel, const uint32_t d[2], uint32_t tss[2])
{
    unsigned t = desc_type(d);
    if (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & 3u))
        gp(cpu, sel & 0xfffc);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    if (t == 5) {
        uint16_t tsel = (uint16_t)(d[0] >> 16);
        if ((tsel & 4) || !seg_read_desc(cpu, tsel, tss))
            gp(cpu, tsel & 0xfffc);
        unsigned tt = desc_type(tss);
        if (desc_s(tss) || (tt != 1 && tt != 9))
            gp(cpu, tsel & 0xfffc);
        if (!desc_p(tss))
            cpu_exception(cpu, EXC_NP, tsel & 0xfffc);
        return tsel;
    }
    tss[0] = d[0];
    tss[1] = d[1];
    return sel;
}

void cpu_far_jmp(struct cpu *cpu, uint16_t sel, uint32_t offset, uint32_t next_eip)
{
    if (!cpu->pe || cpu->vm86) {
        if (offset > cpu->seg[SEG_CS].limit)
            gp(cpu, 0);
        seg_load_real(cpu, SEG_CS, sel);
        cpu->eip = offset;
        return;
    }
    uint32_t d[2];
    if ((sel & 0xfffc) == 0)
        gp(cpu, 0);
    if (!seg_read_desc(cpu, sel, d))
        gp(cpu, sel & 0xfffc);
    if (desc_s(d)) {
        check_direct_code(cpu, sel, d, offset);
        load_cs(cpu, sel, d, cpu->cpl, offset);
        return;
    }
    unsigned t = desc_type(d);
    if (t == 1 || t == 9 || t == 5) {
        uint32_t tss[2];
        uint16_t tsel = task_target(cpu, sel, d, tss);
        if (desc_type(tss) != 1 && desc_type(tss) != 9)
            gp(cpu, tsel & 0xfffc);
        task_switch(cpu, tsel, tss, TASK_JMP, next_eip, false, 0);
        return;
    }
    if (t != 4 && t != 12)
        gp(cpu, sel & 0xfffc);
    /* Call gate used by JMP: no privilege change. */
    if (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & 3u))
        gp(cpu, sel & 0xfffc);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    uint16_t csel = (uint16_t)(d[0] >> 16);
    uint32_t eip = (d[0] & 0xffff) | (t == 12 ? (d[1] & 0xffff0000u) : 0);
    uint32_t cd[2];
    if ((csel & 0xfffc) == 0)
        gp(cpu, 0);
    if (!seg_read_desc(cpu, csel, cd))
        gp(cpu, csel & 0xfffc);
    unsigned ct = desc_type(cd);
    if (!desc_s(cd) || !(ct & 8) || ((ct & 4) ? desc_dpl(cd) > cpu->cpl : desc_dpl(cd) != cpu->cpl))
        gp(cpu, csel & 0xfffc);
    if (!desc_p(cd))
        cpu_exception(cpu, EXC_NP, csel & 0xfffc);
    if (eip > desc_limit(cd))
        gp(cpu, 0);
    load_cs(cpu, csel, cd, cpu->cpl, eip);
}

/* Push CS:EIP (size 2 or 4) on the current stack and return the new ESP offset. */
static uint32_t push_return(struct cpu *cpu, unsigned size, uint32_t next_eip)
{
    uint32_t mask = stack_mask(&cpu->seg[SEG_SS]);
    uint32_t esp = cpu->regs[R_ESP];
    uint32_t a1 = (esp - size) & mask, a2 = (esp - 2 * size) & mask;
    cpu_check_write(cpu, SEG_SS, a1, size);
    cpu_check_write(cpu, SEG_SS, a2, size);
    if (size == 4) {
        cpu_write32(cpu, SEG_SS, a1, cpu->seg[SEG_CS].sel);
        cpu_write32(cpu, SEG_SS, a2, next_eip);
    } else {
        cpu_write16(cpu, SEG_SS, a1, cpu->seg[SEG_CS].sel);
        cpu_write16(cpu, SEG_SS, a2, (uint16_t)next_eip);
    }
    return esp - 2 * size;
}

void cpu_far_call(struct cpu *cpu, uint16_t sel, uint32_t offset, bool op32, uint32_t next_eip)
{
    unsigned size = op32 ? 4 : 2;
    if (!cpu->pe || cpu->vm86) {
        if (offset > cpu->seg[SEG_CS].limit)
            gp(cpu, 0);
        uint32_t esp = push_return(cpu, size, next_eip);
        set_esp(cpu, &cpu->seg[SEG_SS], esp);
        seg_load_real(cpu, SEG_CS, sel);
        cpu->eip = offset;
        return;
    }
    uint32_t d[2];
    if ((sel & 0xfffc) == 0)
        gp(cpu, 0);
    if (!seg_read_desc(cpu, sel, d))
        gp(cpu, sel & 0xfffc);
    if (desc_s(d)) {
        check_direct_code(cpu, sel, d, offset);
        uint32_t esp = push_return(cpu, size, next_eip);
        set_esp(cpu, &cpu->seg[SEG_SS], esp);
        load_cs(cpu, sel, d, cpu->cpl, offset);
        return;
    }
    unsigned t = desc_type(d);
    if (t == 1 || t == 9 || t == 5) {
        uint32_t tss[2];
        uint16_t tsel = task_target(cpu, sel, d, tss);
        task_switch(cpu, tsel, tss, TASK_CALL, next_eip, false, 0);
        return;
    }
    if (t != 4 && t != 12)
        gp(cpu, sel & 0xfffc);
    if (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & 3u))
        gp(cpu, sel & 0xfffc);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    bool gate32 = t == 12;
    size = gate32 ? 4 : 2;
    uint16_t csel = (uint16_t)(d[0] >> 16);
    /* A 286 gate's high offset word is reserved and ignored. */
    uint32_t eip = (d[0] & 0xffff) | (gate32 ? (d[1] & 0xffff0000u) : 0);
    unsigned nparams = d[1] & 0x1f;
    uint32_t cd[2];
    if ((csel & 0xfffc) == 0)
        gp(cpu, 0);
    if (!seg_read_desc(cpu, csel, cd))
        gp(cpu, csel & 0xfffc);
    unsigned ct = desc_type(cd);
    if (!desc_s(cd) || !(ct & 8) || desc_dpl(cd) > cpu->cpl)
        gp(cpu, csel & 0xfffc);
    if (!desc_p(cd))
        cpu_exception(cpu, EXC_NP, csel & 0xfffc);
    if (eip > desc_limit(cd))
        gp(cpu, 0);
    unsigned dpl = desc_dpl(cd);
    seg_set_accessed(cpu, csel, cd); /* before any register changes: it may fault */
    log_printf(cpu->log, LOG_PCALL, "call gate %04x -> %04x:%08x dpl=%u cpl=%u\n", sel, csel,
               eip, dpl, cpu->cpl);
    if (!(ct & 4) && dpl < cpu->cpl) {
        /* More privilege: new stack from the TSS, copy parameters. */
        uint16_t nss;
        uint32_t nesp, sd[2];
        seg_tss_stack(cpu, dpl, &nss, &nesp);
        seg_check_stack(cpu, nss, sd, dpl, true);
        struct seg new_ss;
        seg_from_desc(&new_ss, nss, sd);
        uint32_t nmask = stack_mask(&new_ss);
        const struct seg *old_ss = &cpu->seg[SEG_SS];
        uint32_t omask = stack_mask(old_ss);
        uint32_t oesp = cpu->regs[R_ESP];
        uint32_t params[31];
        for (unsigned i = 0; i < nparams; i++)
            params[i] = stack_read(cpu, (oesp + i * size) & omask, size);
        uint32_t frame[36];
        unsigned n = 0;
        frame[n++] = old_ss->sel;
        frame[n++] = oesp;
        for (unsigned i = nparams; i-- > 0;)
            frame[n++] = params[i];
        frame[n++] = cpu->seg[SEG_CS].sel;
        frame[n++] = next_eip;
        uint32_t esp = nesp;
        for (unsigned i = 0; i < n; i++) {
            esp -= size;
            seg_stack_write(cpu, &new_ss, esp & nmask, frame[i], size, dpl, nss & 0xfffc);
        }
        seg_set_accessed(cpu, nss, sd);
        cpu->seg[SEG_SS] = new_ss;
        cpu->regs[R_ESP] = (nesp & ~nmask) | (esp & nmask);
        load_cs(cpu, csel, cd, dpl, eip);
        return;
    }
    uint32_t esp = push_return(cpu, size, next_eip);
    set_esp(cpu, &cpu->seg[SEG_SS], esp);
    load_cs(cpu, csel, cd, cpu->cpl, eip);
}

/* Checks of the CS popped by RET/IRET in protected mode. */
static void check_return_cs(struct cpu *cpu, uint16_t sel, uint32_t d[2])
{
    if ((sel & 0xfffc) == 0)
        gp(cpu, 0);
    if ((sel & 3u) < cpu->cpl)
        gp(cpu, sel & 0xfffc);
    if (!seg_read_desc(cpu, sel, d))
        gp(cpu, sel & 0xfffc);
    unsigned t = desc_type(d);
    if (!desc_s(d) || !(t & 8))
        gp(cpu, sel & 0xfffc);
    if ((t & 4) ? desc_dpl(d) > (sel & 3u) : desc_dpl(d) != (sel & 3u))
        gp(cpu, sel & 0xfffc);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
}

/* Return to an outer level: load SS:ESP from the popped values (checked). */
static void return_outer_stack(struct cpu *cpu, uint16_t ss_sel, uint32_t esp, unsigned rpl)
{
    uint32_t sd[2];
    if ((ss_sel & 0xfffc) == 0)
        gp(cpu, 0);
    if (!seg_read_desc(cpu, ss_sel, sd))
        gp(cpu, ss_sel & 0xfffc);
    unsigned t = desc_type(sd);
    if ((ss_sel & 3u) != rpl || !desc_s(sd) || (t & 8) || !(t & 2) || desc_dpl(sd) != rpl)
        gp(cpu, ss_sel & 0xfffc);
    if (!desc_p(sd))
        cpu_exception(cpu, EXC_SS, ss_sel & 0xfffc);
    seg_set_accessed(cpu, ss_sel, sd);
    seg_from_desc(&cpu->seg[SEG_SS], ss_sel, sd);
    set_esp(cpu, &cpu->seg[SEG_SS], esp);
}

void cpu_far_ret(struct cpu *cpu, bool op32, uint16_t pop_bytes)
{
    unsigned size = op32 ? 4 : 2;
    uint32_t mask = stack_mask(&cpu->seg[SEG_SS]);
    uint32_t esp = cpu->regs[R_ESP];
    uint32_t eip = stack_read(cpu, esp & mask, size);
    uint16_t sel = (uint16_t)stack_read(cpu, (esp + size) & mask, size);
    if (!cpu->pe || cpu->vm86) {
        if (eip > cpu->seg[SEG_CS].limit)
            gp(cpu, 0);
        seg_load_real(cpu, SEG_CS, sel);
        cpu->eip = eip;
        set_esp(cpu, &cpu->seg[SEG_SS], esp + 2 * size + pop_bytes);
        return;
    }
    uint32_t d[2];
    check_return_cs(cpu, sel, d);
    seg_set_accessed(cpu, sel, d); /* before any register changes: it may fault */
    unsigned rpl = sel & 3;
    if (eip > desc_limit(d))
        gp(cpu, 0);
    if (rpl > cpu->cpl) {
        uint32_t at = esp + 2 * size + pop_bytes;
        uint32_t new_esp = stack_read(cpu, at & mask, size);
        uint16_t new_ss = (uint16_t)stack_read(cpu, (at + size) & mask, size);
        return_outer_stack(cpu, new_ss, new_esp, rpl);
        set_esp(cpu, &cpu->seg[SEG_SS], cpu->regs[R_ESP] + pop_bytes);
        load_cs(cpu, sel, d, rpl, eip);
        seg_null_invalid(cpu);
        cpu_update_mode(cpu);
        return;
    }
    set_esp(cpu, &cpu->seg[SEG_SS], esp + 2 * size + pop_bytes);
    load_cs(cpu, sel, d, cpu->cpl, eip);
}

/* EFLAGS bits IRET may change, by operand size and privilege. */
static uint32_t iret_flag_mask(const struct cpu *cpu, bool op32, unsigned cpl)
{
    uint32_t m = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT;
    unsigned iopl = (cpu->eflags & FLAG_IOPL) >> 12;
    if (cpl <= iopl)
        m |= FLAG_IF;
    if (cpl == 0)
        m |= FLAG_IOPL;
    if (op32) {
        m |= FLAG_RF | FLAG_AC | FLAG_ID;
        if (cpl == 0)
            m |= FLAG_VIF | FLAG_VIP;
    } else {
        m &= 0xffff;
    }
    return m;
}

static void iret_to_v86(struct cpu *cpu, uint32_t eip, uint16_t cs, uint32_t flags)
{
    uint32_t mask = stack_mask(&cpu->seg[SEG_SS]);
    uint32_t esp = cpu->regs[R_ESP];
    uint32_t v[6];
    for (int i = 0; i < 6; i++)
        v[i] = cpu_read32(cpu, SEG_SS, (esp + 12 + 4 * (uint32_t)i) & mask);
    /* v = ESP, SS, ES, DS, FS, GS */
    cpu_set_eflags(cpu, flags, 0x3f7fd5u);
    cpu->cpl = 3;
    cpu_update_mode(cpu);
    seg_load_real(cpu, SEG_CS, cs);
    seg_load_real(cpu, SEG_SS, (uint16_t)v[1]);
    seg_load_real(cpu, SEG_ES, (uint16_t)v[2]);
    seg_load_real(cpu, SEG_DS, (uint16_t)v[3]);
    seg_load_real(cpu, SEG_FS, (uint16_t)v[4]);
    seg_load_real(cpu, SEG_GS, (uint16_t)v[5]);
    cpu->regs[R_ESP] = v[0];
    cpu->eip = eip & 0xffff;
    cpu_update_mode(cpu);
}

void cpu_iret(struct cpu *cpu, bool op32, uint32_t next_eip)
{
    unsigned size = op32 ? 4 : 2;
    cpu->sys.nmi_blocked = false;
    uint32_t mask = stack_mask(&cpu->seg[SEG_SS]);
    uint32_t esp = cpu->regs[R_ESP];

    if (cpu->pe && !cpu->vm86 && (cpu->eflags & FLAG_NT)) {
        /* Task return through the back link. */
        uint16_t link = cpu_lin_read16(cpu, cpu->tr.base, ACC_READ | ACC_SUPER);
        uint32_t d[2];
        if ((link & 4) || !seg_read_desc(cpu, link, d))
            cpu_exception(cpu, EXC_TS, link & 0xfffc);
        unsigned t = desc_type(d);
        if (desc_s(d) || (t != 3 && t != 11))
            cpu_exception(cpu, EXC_TS, link & 0xfffc);
        if (!desc_p(d))
            cpu_exception(cpu, EXC_NP, link & 0xfffc);
        task_switch(cpu, link, d, TASK_IRET, next_eip, false, 0);
        return;
    }

    uint32_t eip = stack_read(cpu, esp & mask, size);
    uint16_t sel = (uint16_t)stack_read(cpu, (esp + size) & mask, size);
    uint32_t flags = stack_read(cpu, (esp + 2 * size) & mask, size);

    if (!cpu->pe || cpu->vm86) {
        uint32_t fmask;
        if (cpu->vm86) {
            if ((cpu->eflags & FLAG_IOPL) != FLAG_IOPL)
                gp(cpu, 0);
            /* IOPL, VM, VIP, VIF stay. */
            fmask = op32 ? (0x3f7fd5u & ~(FLAG_IOPL | FLAG_VM | FLAG_VIP | FLAG_VIF)) : 0x4fd5u;
        } else {
            fmask = op32 ? (0x3f7fd5u & ~(FLAG_VM | FLAG_VIP | FLAG_VIF)) : 0x7fd5u;
        }
        if (eip > cpu->seg[SEG_CS].limit)
            gp(cpu, 0);
        seg_load_real(cpu, SEG_CS, sel);
        cpu->eip = eip;
        set_esp(cpu, &cpu->seg[SEG_SS], esp + 3 * size);
        cpu_set_eflags(cpu, flags, fmask);
        return;
    }

    if (op32 && (flags & FLAG_VM) && cpu->cpl == 0) {
        iret_to_v86(cpu, eip, sel, flags);
        return;
    }
    uint32_t d[2];
    check_return_cs(cpu, sel, d);
    seg_set_accessed(cpu, sel, d); /* before any register changes: it may fault */
    unsigned rpl = sel & 3;
    if (eip > desc_limit(d))
        gp(cpu, 0);
    uint32_t fmask = iret_flag_mask(cpu, op32, cpu->cpl);
    if (rpl > cpu->cpl) {
        uint32_t new_esp = stack_read(cpu, (esp + 3 * size) & mask, size);
        uint16_t new_ss = (uint16_t)stack_read(cpu, (esp + 4 * size) & mask, size);
        return_outer_stack(cpu, new_ss, new_esp, rpl);
        load_cs(cpu, sel, d, rpl, eip);
        cpu_set_eflags(cpu, flags, fmask);
        seg_null_invalid(cpu);
        cpu_update_mode(cpu);
        return;
    }
    set_esp(cpu, &cpu->seg[SEG_SS], esp + 3 * size);
    load_cs(cpu, sel, d, cpu->cpl, eip);
    cpu_set_eflags(cpu, flags, fmask);
}

/* ---- LAR / LSL / VERR / VERW ---- */

/* Descriptor of sel visible at the current CPL/RPL (conforming code always is). */
static bool visible_desc(struct cpu *cpu, uint16_t sel, uint32_t d[2])
{
    if ((sel & 0xfffc) == 0 || !seg_read_desc(cpu, sel, d))
        return false;
    bool conforming = desc_s(d) && (desc_type(d) & 0xc) == 0xc;
    if (!conforming && (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & 3u)))
        return false;
    return true;
}

bool cpu_lar(struct cpu *cpu, uint16_t sel, uint32_t *out)
{
    uint32_t d[2];
    if (!visible_desc(cpu, sel, d))
        return false;
    if (!desc_s(d)) {
        static const bool ok[16] = { [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [9] = 1,
                                     [11] = 1, [12] = 1 };
        if (!ok[desc_type(d)])
            return false;
    }
    *out = d[1] & 0x00ffff00u;
    return true;
}

bool cpu_lsl(struct cpu *cpu, uint16_t sel, uint32_t *out)
{
    uint32_t d[2];
    if (!visible_desc(cpu, sel, d))
        return false;
    if (!desc_s(d)) {
        static const bool ok[16] = { [1] = 1, [2] = 1, [3] = 1, [9] = 1, [11] = 1 };
        if (!ok[desc_type(d)])
            return false;
    }
    *out = desc_limit(d);
    return true;
}

bool cpu_verr(struct cpu *cpu, uint16_t sel)
{
    uint32_t d[2];
    if (!visible_desc(cpu, sel, d) || !desc_s(d))
        return false;
    unsigned t = desc_type(d);
    return !(t & 8) || (t & 2);
}

bool cpu_verw(struct cpu *cpu, uint16_t sel)
{
    uint32_t d[2];
    if (!visible_desc(cpu, sel, d) || !desc_s(d))
        return false;
    unsigned t = desc_type(d);
    return !(t & 8) && (t & 2);
}

/* ---- LLDT / LTR ---- */

static void check_system_insn(struct cpu *cpu)
{
    if (!cpu->pe || cpu->vm86)
        cpu_exception(cpu, EXC_UD, 0);
    if (cpu->cpl != 0)
        gp(cpu, 0);
}

void cpu_lldt(struct cpu *cpu, uint16_t sel)
{
    check_system_insn(cpu);
    if ((sel & 0xfffc) == 0) {
        seg_set_null(&cpu->ldtr, sel);
        return;
    }
    uint32_t d[2];
    if ((sel & 4) || !seg_read_desc(cpu, sel, d))
        gp(cpu, sel & 0xfffc);
    if (desc_s(d) || desc_type(d) != 2)
        gp(cpu, sel & 0xfffc);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    seg_from_desc(&cpu->ldtr, sel, d);
}

void cpu_ltr(struct cpu *cpu, uint16_t sel)
{
    check_system_insn(cpu);
    if ((sel & 0xfffc) == 0)
        gp(cpu, 0);
    uint32_t d[2];
    if ((sel & 4) || !seg_read_desc(cpu, sel, d))
        gp(cpu, sel & 0xfffc);
    unsigned t = desc_type(d);
    if (desc_s(d) || (t != 1 && t != 9))
        gp(cpu, sel & 0xfffc);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, sel & 0xfffc);
    d[1] |= 0x200; /* busy */
    cpu_lin_write32(cpu, cpu->gdtr.base + (sel & ~7u) + 4, d[1], ACC_WRITE | ACC_SUPER);
    seg_from_desc(&cpu->tr, sel, d);
}

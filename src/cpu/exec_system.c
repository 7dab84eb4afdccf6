/* System instruction handlers (descriptor tables, control/debug registers, MSRs, TSC,
 * CPUID, SYSENTER/SYSEXIT) and the hand-off of x87 and SIMD instructions. */
#include "cpu/exec_ops.h"

/* ---- System instructions ---- */

static inline void need_pmode(struct cpu *cpu)
{
    if (!cpu->pe || cpu->vm86)
        raise_ud(cpu);
}

/* 0F 00: SLDT STR LLDT LTR VERR VERW. */
/* CR4.UMIP: SGDT, SIDT, SLDT, STR and SMSW raise #GP(0) outside ring 0. */
static inline void umip_check(struct cpu *cpu)
{
    if (UNLIKELY(cpu->cr4 & CR4_UMIP) && cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        raise_gp0(cpu);
}

struct insn *h_grp6(struct cpu *cpu, struct insn *i)
{
    need_pmode(cpu);
    switch (i->reg) {
    case 0: case 1: {
        umip_check(cpu);
        uint16_t sel = i->reg == 0 ? cpu->ldtr.sel : cpu->tr.sel;
        if (!(i->pfx & P_MEM) && (i->pfx & P_OP32))
            cpu->regs[i->rm] = sel;
        else
            rm_set(cpu, i, SZ16, sel);
        return next(cpu, i);
    }
    case 2: case 3: {
        need_cpl0(cpu);
        uint16_t sel = (uint16_t)rm_get(cpu, i, SZ16);
        if (i->reg == 2)
            cpu_lldt(cpu, sel);
        else
            cpu_ltr(cpu, sel);
        return leave_trace(cpu, i);
    }
    case 4: case 5: {
        uint16_t sel = (uint16_t)rm_get(cpu, i, SZ16);
        bool ok = i->reg == 4 ? cpu_verr(cpu, sel) : cpu_verw(cpu, sel);
        flags_set_arith(cpu, ok ? FLAG_ZF : 0, FLAG_ZF);
        return next(cpu, i);
    }
    default:
        raise_ud(cpu);
    }
}

/* 0F 01 CA CLAC, 0F 01 CB STAC (models with SMAP): #UD outside ring 0. SMAP reads EFLAGS.AC
 * at each slow-path access (mmu.c), so nothing is flushed. */
struct insn *h_clac_stac(struct cpu *cpu, struct insn *i)
{
    if (cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        raise_ud(cpu);
    if (i->modrm == 0xcb)
        cpu->eflags |= FLAG_AC;
    else
        cpu->eflags &= ~FLAG_AC;
    return next(cpu, i);
}

/* 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
struct insn *h_grp7(struct cpu *cpu, struct insn *i)
{
    bool op32 = i->pfx & P_OP32;
    switch (i->reg) {
    case 0: case 1: {
        if (!(i->pfx & P_MEM))
            raise_ud(cpu);
        umip_check(cpu);
        const struct dtr *d = i->reg == 0 ? &cpu->gdtr : &cpu->idtr;
        uint32_t off = ea(cpu, i);
        cpu_check_write(cpu, i->seg, off, 6);
        cpu_write16(cpu, i->seg, off, d->limit);
        /* The SDM stores all 32 base bits whatever the operand size. */
        cpu_write32(cpu, i->seg, off + 2, d->base);
        return next(cpu, i);
    }
    case 2: case 3: {
        if (!(i->pfx & P_MEM))
            raise_ud(cpu);
        need_cpl0(cpu);
        uint32_t off = ea(cpu, i);
        uint16_t limit = cpu_read16(cpu, i->seg, off);
        uint32_t base = cpu_read32(cpu, i->seg, off + 2);
        if (!op32)
            base &= 0xffffff;
        struct dtr *d = i->reg == 2 ? &cpu->gdtr : &cpu->idtr;
        d->base = base;
        d->limit = limit;
        return next(cpu, i);
    }
    case 4:
        umip_check(cpu);
        if (!(i->pfx & P_MEM) && op32)
            cpu->regs[i->rm] = cpu->cr0;
        else
            rm_set(cpu, i, SZ16, cpu->cr0 & 0xffff);
        return next(cpu, i);
    case 6: {
        need_cpl0(cpu);
        uint32_t v = rm_get(cpu, i, SZ16);
        /* LMSW loads PE, MP, EM, TS; it can set PE but not clear it. */
        uint32_t cr0 = (cpu->cr0 & ~0xeu) | (v & 0xf) | (cpu->cr0 & CR0_PE);
        cpu_write_cr(cpu, 0, cr0);
        exec_jump_cache_clear(cpu);
        return leave_trace(cpu, i);
    }
    case 7:
        if (!(i->pfx & P_MEM))
            raise_ud(cpu);
        need_cpl0(cpu);
        cpu_invlpg(cpu, cpu->seg[i->seg].base + ea(cpu, i));
        exec_jump_cache_clear(cpu);
        return leave_trace(cpu, i);
    default:
        raise_ud(cpu);
    }
}

struct insn *h_lar_lsl(struct cpu *cpu, struct insn *i)
{
    need_pmode(cpu);
    uint16_t sel = (uint16_t)rm_get(cpu, i, SZ16);
    uint32_t out = 0;
    bool ok = i->op == 2 ? cpu_lar(cpu, sel, &out) : cpu_lsl(cpu, sel, &out);
    if (ok)
        reg_set(cpu, opsz(i), i->reg, out);
    flags_set_arith(cpu, ok ? FLAG_ZF : 0, FLAG_ZF);
    return next(cpu, i);
}

struct insn *h_arpl(struct cpu *cpu, struct insn *i)
{
    need_pmode(cpu);
    struct rmw w = { 0 };
    uint32_t d = rmw_get(cpu, i, SZ16, &w), s = reg_get(cpu, SZ16, i->reg);
    if ((d & 3) < (s & 3)) {
        rmw_set(cpu, i, SZ16, &w, (d & ~3u) | (s & 3));
        flags_set_arith(cpu, FLAG_ZF, FLAG_ZF);
    } else {
        flags_set_arith(cpu, 0, FLAG_ZF);
    }
    return next(cpu, i);
}

struct insn *h_clts(struct cpu *cpu, struct insn *i)
{
    need_cpl0(cpu);
    cpu_write_cr(cpu, 0, cpu->cr0 & ~CR0_TS);
    return next(cpu, i);
}

struct insn *h_priv_nop(struct cpu *cpu, struct insn *i)   /* INVD, WBINVD */
{
    need_cpl0(cpu);
    return next(cpu, i);
}

struct insn *h_mov_cr_dr(struct cpu *cpu, struct insn *i)
{
    need_cpl0(cpu);
    unsigned n = i->reg;
    switch (i->op) {
    case 0x20:
        if (n == 1 || n > 4)
            raise_ud(cpu);
        cpu->regs[i->rm] = cpu_read_cr(cpu, (int)n);
        break;
    case 0x22:
        if (n == 1 || n > 4)
            raise_ud(cpu);
        flags_materialize(cpu);
        cpu_write_cr(cpu, (int)n, cpu->regs[i->rm]);
        exec_jump_cache_clear(cpu);
        break;
    case 0x21:
        cpu->regs[i->rm] = cpu_read_dr(cpu, (int)n);
        break;
    default:
        cpu_write_dr(cpu, (int)n, cpu->regs[i->rm]);
        break;
    }
    return leave_trace(cpu, i);
}

struct insn *h_msr(struct cpu *cpu, struct insn *i)
{
    need_cpl0(cpu);
    if (i->op == 0x30) {
        cpu_wrmsr(cpu, cpu->regs[R_ECX], ((uint64_t)cpu->regs[R_EDX] << 32) | cpu->regs[R_EAX]);
        exec_jump_cache_clear(cpu);   /* EFER.NXE changes which pages may run */
    } else {
        uint64_t v = cpu_rdmsr(cpu, cpu->regs[R_ECX]);
        cpu->regs[R_EAX] = (uint32_t)v;
        cpu->regs[R_EDX] = (uint32_t)(v >> 32);
    }
    return leave_trace(cpu, i);
}

struct insn *h_rdtsc(struct cpu *cpu, struct insn *i)
{
    if ((cpu->cr4 & CR4_TSD) && cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        raise_gp0(cpu);
    uint64_t t = cpu_read_tsc(cpu);
    cpu->regs[R_EAX] = (uint32_t)t;
    cpu->regs[R_EDX] = (uint32_t)(t >> 32);
    return next(cpu, i);
}

struct insn *h_rdpmc(struct cpu *cpu, struct insn *i)
{
    if (!(cpu->cr4 & CR4_PCE) && cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        raise_gp0(cpu);
    if (cpu->regs[R_ECX] > 1)
        raise_gp0(cpu);
    cpu->regs[R_EAX] = 0;     /* no performance counters are modelled */
    cpu->regs[R_EDX] = 0;
    return next(cpu, i);
}

struct insn *h_cpuid(struct cpu *cpu, struct insn *i)
{
    uint32_t out[4];
    cpu_cpuid(cpu, cpu->regs[R_EAX], cpu->regs[R_ECX], out);
    cpu->regs[R_EAX] = out[0];
    cpu->regs[R_EBX] = out[1];
    cpu->regs[R_ECX] = out[2];
    cpu->regs[R_EDX] = out[3];
    return next(cpu, i);
}

struct insn *h_sysenter(struct cpu *cpu, struct insn *i)
{
    flags_materialize(cpu);
    if (i->op == 0x34)
        cpu_sysenter(cpu);
    else
        cpu_sysexit(cpu);
    return NULL;
}

/* ---- x87 and SIMD: handed to fpu ---- */

struct insn *h_fpu(struct cpu *cpu, struct insn *i)
{
    bool mem = i->pfx & P_MEM;
    cpu_fpu_op(cpu, i->op, i->modrm, mem ? i->seg : -1, mem ? ea(cpu, i) : 0, i->pfx & P_OP32);
    return next(cpu, i);
}

struct insn *h_fwait(struct cpu *cpu, struct insn *i)
{
    cpu_fpu_wait(cpu);
    return next(cpu, i);
}

struct insn *h_simd(struct cpu *cpu, struct insn *i)
{
    struct simd_args a;
    bool mem = i->pfx & P_MEM;
    a.prefix = i->simd_pfx;
    if (i->map >= 2)   /* 0F 38 / 0F 3A: F2 and F3 win over 66 (SDM vol. 2 2.1.2) */
        a.prefix = (i->pfx & P_REP) ? 0xf3 : (i->pfx & P_REPNE) ? 0xf2 : i->simd_pfx ? 0x66 : 0;
    a.map = i->map;
    a.opcode = i->op;
    a.modrm = i->modrm;
    a.imm8 = (uint8_t)i->imm;
    a.seg = mem ? i->seg : -1;
    a.ea = mem ? ea(cpu, i) : 0;
    a.next_eip = next_eip(cpu, i);
    a.str_seg = i->seg;
    a.addr32 = i->pfx & P_A32;
    cpu_simd_op(cpu, &a);
    return next(cpu, i);
}

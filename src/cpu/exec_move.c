/* Data movement handlers: MOV (and MOVZX/MOVSX, LEA, XCHG, segment registers), PUSH/POP,
 * EFLAGS (PUSHF/POPF, LAHF/SAHF, CLC.., CLI/STI), SETcc/CMOVcc, BOUND/ENTER/LEAVE. */
#include "cpu/exec_ops.h"

/* ---- MOV ---- */

#define MOV_HANDLERS(SZ)                                                                      \
    static struct insn *mov_##SZ##_egr(struct cpu *cpu, struct insn *i)                       \
    {                                                                                         \
        reg_set(cpu, SZ, i->rm, reg_get(cpu, SZ, i->reg));                                    \
        return next(cpu, i);                                                                  \
    }                                                                                         \
    static struct insn *mov_##SZ##_egm(struct cpu *cpu, struct insn *i)                       \
    {                                                                                         \
        mem_set(cpu, SZ, i->seg, ea(cpu, i), reg_get(cpu, SZ, i->reg));                       \
        return next(cpu, i);                                                                  \
    }                                                                                         \
    static struct insn *mov_##SZ##_gem(struct cpu *cpu, struct insn *i)                       \
    {                                                                                         \
        reg_set(cpu, SZ, i->reg, mem_get(cpu, SZ, i->seg, ea(cpu, i)));                       \
        return next(cpu, i);                                                                  \
    }                                                                                         \
    static struct insn *mov_##SZ##_eir(struct cpu *cpu, struct insn *i)                       \
    {                                                                                         \
        reg_set(cpu, SZ, i->rm, i->imm);                                                      \
        return next(cpu, i);                                                                  \
    }                                                                                         \
    static struct insn *mov_##SZ##_eim(struct cpu *cpu, struct insn *i)                       \
    {                                                                                         \
        mem_set(cpu, SZ, i->seg, ea(cpu, i), i->imm);                                         \
        return next(cpu, i);                                                                  \
    }
MOV_HANDLERS(SZ8)
MOV_HANDLERS(SZ16)
MOV_HANDLERS(SZ32)

const insn_fn mov_table[3][5] = {
    { mov_SZ8_egr, mov_SZ8_egm, mov_SZ8_gem, mov_SZ8_eir, mov_SZ8_eim },
    { mov_SZ16_egr, mov_SZ16_egm, mov_SZ16_gem, mov_SZ16_eir, mov_SZ16_eim },
    { mov_SZ32_egr, mov_SZ32_egm, mov_SZ32_gem, mov_SZ32_eir, mov_SZ32_eim },
};

struct insn *h_lea(struct cpu *cpu, struct insn *i)
{
    reg_set(cpu, opsz(i), i->reg, ea(cpu, i));
    return next(cpu, i);
}

struct insn *h_mov_from_seg(struct cpu *cpu, struct insn *i)
{
    if (i->reg >= SEG_COUNT)
        raise_ud(cpu);
    uint16_t sel = cpu->seg[i->reg].sel;
    if (i->pfx & P_MEM)
        cpu_write16(cpu, i->seg, ea(cpu, i), sel);
    else if (i->pfx & P_OP32)
        cpu->regs[i->rm] = sel;     /* 32-bit register destination: zero-extended on P6 */
    else
        reg_set(cpu, SZ16, i->rm, sel);
    return next(cpu, i);
}

struct insn *h_mov_to_seg(struct cpu *cpu, struct insn *i)
{
    if (i->reg == SEG_CS || i->reg >= SEG_COUNT)
        raise_ud(cpu);
    uint16_t sel = (uint16_t)rm_get(cpu, i, SZ16);
    cpu_load_seg(cpu, i->reg, sel);
    if (i->reg != SEG_SS)
        return next(cpu, i);       /* data segments do not change how code decodes */
    cpu->inhibit_irq = true;
    return leave_trace(cpu, i);
}

/* MOVZX / MOVSX. */
struct insn *h_movx(struct cpu *cpu, struct insn *i)
{
    bool word = i->op & 1;
    uint32_t v = rm_get(cpu, i, word ? SZ16 : SZ8);
    if (i->op >= 0xbe)
        v = word ? (uint32_t)(int16_t)v : (uint32_t)(int8_t)v;
    reg_set(cpu, opsz(i), i->reg, v);
    return next(cpu, i);
}

struct insn *h_movzx_r32_m8(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = cpu_read8(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}

/* MOVZX/MOVSX into a 32-bit register, by source form. */
struct insn *h_movzx_r32_m16(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = cpu_read16(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}
struct insn *h_movsx_r32_m8(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = (uint32_t)(int8_t)cpu_read8(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}
struct insn *h_movsx_r32_m16(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = (uint32_t)(int16_t)cpu_read16(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}
struct insn *h_movzx_r32_r8(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = *r8p(cpu, i->rm);
    return next(cpu, i);
}
struct insn *h_movzx_r32_r16(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = cpu->regs[i->rm] & 0xffff;
    return next(cpu, i);
}

struct insn *h_xchg(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    uint32_t b = reg_get(cpu, sz, i->reg);
    if (a == b && a && (i->pfx & P_MEM))
        spin_note(cpu);     /* a test-and-set that found the lock taken */
    rmw_set(cpu, i, sz, &w, b);
    reg_set(cpu, sz, i->reg, a);
    return next(cpu, i);
}

struct insn *h_xchg_ax(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t a = reg_get(cpu, sz, R_EAX), b = reg_get(cpu, sz, i->reg);
    reg_set(cpu, sz, R_EAX, b);
    reg_set(cpu, sz, i->reg, a);
    return next(cpu, i);
}

struct insn *h_nop(struct cpu *cpu, struct insn *i)
{
    return next(cpu, i);
}

/* PAUSE (F3 90): the hint of a spin-wait loop. */
struct insn *h_pause(struct cpu *cpu, struct insn *i)
{
    spin_note(cpu);
    return next(cpu, i);
}

/* MOV AL/eAX <-> moffs. */
struct insn *h_mov_moffs(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint32_t off = i->disp;
    if (i->op < 0xa2)
        reg_set(cpu, sz, R_EAX, mem_get(cpu, sz, i->seg, off));
    else
        mem_set(cpu, sz, i->seg, off, reg_get(cpu, sz, R_EAX));
    return next(cpu, i);
}

struct insn *h_mov_r8_imm(struct cpu *cpu, struct insn *i)
{
    *r8p(cpu, i->reg) = (uint8_t)i->imm;
    return next(cpu, i);
}

struct insn *h_mov_r16_imm(struct cpu *cpu, struct insn *i)
{
    reg_set(cpu, SZ16, i->reg, i->imm);
    return next(cpu, i);
}

struct insn *h_mov_r32_imm(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = i->imm;
    return next(cpu, i);
}

/* ---- PUSH / POP ---- */

struct insn *h_push_r32(struct cpu *cpu, struct insn *i)
{
    uint32_t v = cpu->regs[i->reg];
    if (cpu->stack32) {
        uint32_t sp = cpu->regs[R_ESP] - 4;
        cpu_write32(cpu, SEG_SS, sp, v);
        cpu->regs[R_ESP] = sp;
    } else {
        push(cpu, SZ32, v);
    }
    return next(cpu, i);
}

struct insn *h_pop_r32(struct cpu *cpu, struct insn *i)
{
    uint32_t v;
    if (cpu->stack32) {
        uint32_t sp = cpu->regs[R_ESP];
        v = cpu_read32(cpu, SEG_SS, sp);
        cpu->regs[R_ESP] = sp + 4;
    } else {
        v = pop(cpu, SZ32);
    }
    cpu->regs[i->reg] = v;
    return next(cpu, i);
}

struct insn *h_push_r16(struct cpu *cpu, struct insn *i)
{
    push(cpu, SZ16, cpu->regs[i->reg] & 0xffff);
    return next(cpu, i);
}

struct insn *h_pop_r16(struct cpu *cpu, struct insn *i)
{
    uint32_t v = pop(cpu, SZ16);
    reg_set(cpu, SZ16, i->reg, v);
    return next(cpu, i);
}

struct insn *h_push_imm(struct cpu *cpu, struct insn *i)
{
    push(cpu, opsz(i), i->imm);
    return next(cpu, i);
}

struct insn *h_push_rm(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);
    push(cpu, sz, v);
    return next(cpu, i);
}

/* POP r/m: ESP is incremented before the destination address is computed. */
struct insn *h_pop_rm(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = pop(cpu, sz);
    rm_set(cpu, i, sz, v);
    return next(cpu, i);
}

static const uint8_t push_seg_of[] = { [0x06] = SEG_ES, [0x0e] = SEG_CS, [0x16] = SEG_SS, [0x1e] = SEG_DS };

struct insn *h_push_seg(struct cpu *cpu, struct insn *i)
{
    int s = i->map ? (i->op == 0xa0 ? SEG_FS : SEG_GS) : push_seg_of[i->op];
    uint16_t sel = cpu->seg[s].sel;
    if (i->pfx & P_OP32) {
        /* P6: a 32-bit push of a segment register writes only the low word. */
        uint32_t sp = (sp_get(cpu) - 4) & sp_mask(cpu);
        cpu_check_write(cpu, SEG_SS, sp, 4);
        cpu_write16(cpu, SEG_SS, sp, sel);
        sp_set(cpu, sp);
    } else {
        push(cpu, SZ16, sel);
    }
    return next(cpu, i);
}

struct insn *h_pop_seg(struct cpu *cpu, struct insn *i)
{
    int s = i->map ? (i->op == 0xa1 ? SEG_FS : SEG_GS) : push_seg_of[i->op - 1];
    int sz = opsz(i);
    uint16_t sel = (uint16_t)stack_peek(cpu, sz, 0);
    /* The increment wraps within the stack as it was before the pop: POP SS that turns a
     * 16-bit stack into a 32-bit one moves SP, not ESP, past the popped selector. */
    uint32_t m = sp_mask(cpu), esp = cpu->regs[R_ESP];
    cpu_load_seg(cpu, s, sel);
    cpu->regs[R_ESP] = (esp & ~m) | ((esp + (sz == SZ32 ? 4 : 2)) & m);
    if (s != SEG_SS)
        return next(cpu, i);
    cpu->inhibit_irq = true;
    return leave_trace(cpu, i);
}

struct insn *h_pusha(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    unsigned n = sz == SZ32 ? 4 : 2;
    uint32_t sp = sp_get(cpu), m = sp_mask(cpu);
    uint32_t orig_sp = cpu->regs[R_ESP];
    cpu_check_write(cpu, SEG_SS, (sp - 8 * n) & m, 8 * n);
    for (unsigned r = 0; r < 8; r++) {
        uint32_t v = r == R_ESP ? orig_sp : cpu->regs[r];
        sp = (sp - n) & m;
        mem_set(cpu, sz, SEG_SS, sp, v);
    }
    sp_set(cpu, sp);
    return next(cpu, i);
}

struct insn *h_popa(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    unsigned n = sz == SZ32 ? 4 : 2;
    uint32_t v[8];
    for (unsigned k = 0; k < 8; k++)
        v[7 - k] = stack_peek(cpu, sz, k * n);
    for (unsigned r = 0; r < 8; r++)
        if (r != R_ESP)
            reg_set(cpu, sz, r, v[r]);
    sp_set(cpu, sp_get(cpu) + 8 * n);
    return next(cpu, i);
}

/* ---- EFLAGS ---- */

/* Virtual-interrupt handling applies: v86 with CR4.VME, or CPL 3 with CR4.PVI, and IOPL < 3. */
static inline bool vif_mode(const struct cpu *cpu)
{
    if (cpu->vm86)
        return (cpu->cr4 & CR4_VME) && iopl(cpu) < 3;
    return cpu->pe && (cpu->cr4 & CR4_PVI) && cpu->cpl == 3 && iopl(cpu) < 3;
}

struct insn *h_pushf(struct cpu *cpu, struct insn *i)
{
    uint32_t f = cpu_get_eflags(cpu);
    if (cpu->vm86 && iopl(cpu) < 3) {
        /* VME: a 16-bit PUSHF shows VIF as IF and IOPL as 3. */
        if (!(cpu->cr4 & CR4_VME) || (i->pfx & P_OP32))
            raise_gp0(cpu);
        f = (f & ~FLAG_IF) | ((f & FLAG_VIF) ? FLAG_IF : 0) | FLAG_IOPL;
    }
    if (i->pfx & P_OP32)
        push(cpu, SZ32, f & ~(FLAG_VM | FLAG_RF));
    else
        push(cpu, SZ16, f & 0xffff);
    return next(cpu, i);
}

/* Write EFLAGS as POPF/IRET-in-the-same-privilege do: which bits change depends on CPL/IOPL. */
static void write_eflags_popf(struct cpu *cpu, uint32_t v, bool op32)
{
    uint32_t mask = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT;
    if (op32)
        mask |= FLAG_AC | FLAG_ID;
    if (!cpu->pe) {
        mask |= FLAG_IF | FLAG_IOPL;
    } else if (cpu->vm86) {
        mask |= FLAG_IF;                 /* IOPL is 3 here (else #GP) and stays */
    } else {
        if (cpu->cpl == 0)
            mask |= FLAG_IOPL;
        if (cpu->cpl <= iopl(cpu))
            mask |= FLAG_IF;
    }
    if (!op32)
        mask &= 0xffff;
    cpu_set_eflags(cpu, v, mask);
}

struct insn *h_popf(struct cpu *cpu, struct insn *i)
{
    bool op32 = i->pfx & P_OP32;
    if (cpu->vm86 && iopl(cpu) < 3) {
        if (!(cpu->cr4 & CR4_VME) || op32)
            raise_gp0(cpu);
        /* VME: the popped IF goes to VIF; #GP when it would set TF, or enable interrupts
         * with VIP pending. */
        uint32_t v = stack_peek(cpu, SZ16, 0);
        if ((v & FLAG_TF) || ((v & FLAG_IF) && (cpu->eflags & FLAG_VIP)))
            raise_gp0(cpu);
        sp_set(cpu, sp_get(cpu) + 2);
        uint32_t mask = (FLAGS_ARITH | FLAG_DF | FLAG_NT) & 0xffff;
        cpu_set_eflags(cpu, (v & mask) | ((v & FLAG_IF) ? FLAG_VIF : 0), mask | FLAG_VIF);
        return leave_trace(cpu, i);
    }
    uint32_t v = pop(cpu, op32 ? SZ32 : SZ16);
    write_eflags_popf(cpu, v, op32);
    return leave_trace(cpu, i);
}

struct insn *h_lahf(struct cpu *cpu, struct insn *i)
{
    *r8p(cpu, 4) = (uint8_t)(cpu_get_eflags(cpu) & 0xff);
    return next(cpu, i);
}

struct insn *h_sahf(struct cpu *cpu, struct insn *i)
{
    uint32_t m = FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF;
    flags_set_arith(cpu, *r8p(cpu, 4), m);
    return next(cpu, i);
}

struct insn *h_flagop(struct cpu *cpu, struct insn *i)
{
    switch (i->op) {
    case 0xf5: flags_set_arith(cpu, get_cf(cpu) ? 0 : FLAG_CF, FLAG_CF); break;
    case 0xf8: flags_set_arith(cpu, 0, FLAG_CF); break;
    case 0xf9: flags_set_arith(cpu, FLAG_CF, FLAG_CF); break;
    case 0xfc: cpu->eflags &= ~FLAG_DF; break;
    case 0xfd: cpu->eflags |= FLAG_DF; break;
    }
    return next(cpu, i);
}

/* CLI/STI: allowed when CPL <= IOPL (real mode always; v86 needs IOPL 3). */
static bool if_allowed(const struct cpu *cpu)
{
    if (!cpu->pe)
        return true;
    if (cpu->vm86)
        return iopl(cpu) == 3;
    return cpu->cpl <= iopl(cpu);
}

struct insn *h_cli(struct cpu *cpu, struct insn *i)
{
    if (if_allowed(cpu))
        cpu->eflags &= ~FLAG_IF;
    else if (vif_mode(cpu))
        cpu->eflags &= ~FLAG_VIF;
    else
        raise_gp0(cpu);
    return next(cpu, i);
}

struct insn *h_sti(struct cpu *cpu, struct insn *i)
{
    if (if_allowed(cpu)) {
        if (!(cpu->eflags & FLAG_IF)) {
            cpu->eflags |= FLAG_IF;
            cpu->inhibit_irq = true;
        }
    } else if (vif_mode(cpu) && !(cpu->eflags & FLAG_VIP)) {
        cpu->eflags |= FLAG_VIF;
    } else {
        raise_gp0(cpu);
    }
    return leave_trace(cpu, i);
}

/* ---- SETcc / CMOVcc ---- */

struct insn *h_setcc(struct cpu *cpu, struct insn *i)
{
    rm_set(cpu, i, SZ8, cond_true(cpu, i->op & 15));
    return next(cpu, i);
}

struct insn *h_cmovcc(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);     /* the source is read (and may fault) either way */
    if (cond_true(cpu, i->op & 15))
        reg_set(cpu, sz, i->reg, v);
    return next(cpu, i);
}

/* ---- BOUND / ENTER / LEAVE ---- */

struct insn *h_bound(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t off = ea(cpu, i);
    int32_t idx, lo, hi;
    if (sz == SZ16) {
        lo = (int16_t)cpu_read16(cpu, i->seg, off);
        hi = (int16_t)cpu_read16(cpu, i->seg, (off + 2) & ((i->pfx & P_A32) ? ~0u : 0xffff));
        idx = (int16_t)cpu->regs[i->reg];
    } else {
        lo = (int32_t)cpu_read32(cpu, i->seg, off);
        hi = (int32_t)cpu_read32(cpu, i->seg, off + 4);
        idx = (int32_t)cpu->regs[i->reg];
    }
    if (idx < lo || idx > hi)
        cpu_exception(cpu, EXC_BR, 0);
    return next(cpu, i);
}

struct insn *h_enter(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    unsigned n = sz == SZ32 ? 4 : 2;
    uint32_t size = i->imm & 0xffff, level = i->imm2 & 31;
    uint32_t m = sp_mask(cpu);
    uint32_t sp = sp_get(cpu), bp = cpu->regs[R_EBP];
    sp = (sp - n) & m;
    mem_set(cpu, sz, SEG_SS, sp, bp);
    /* FrameTemp: SP for a 16-bit operand size, the whole ESP (its upper half kept on a
     * 16-bit stack) for a 32-bit one; both are pushed and loaded into (E)BP as they are. */
    uint32_t frame = sz == SZ32 ? (cpu->regs[R_ESP] & ~m) | sp : sp;
    if (level > 0) {
        for (uint32_t k = 1; k < level; k++) {
            bp = (bp - n) & m;
            uint32_t v = mem_get(cpu, sz, SEG_SS, bp & m);
            sp = (sp - n) & m;
            mem_set(cpu, sz, SEG_SS, sp, v);
        }
        sp = (sp - n) & m;
        mem_set(cpu, sz, SEG_SS, sp, frame);
    }
    sp = (sp - size) & m;
    if (size)
        cpu_check_write(cpu, SEG_SS, sp, 1);
    reg_set(cpu, sz, R_EBP, frame);
    sp_set(cpu, sp);
    return next(cpu, i);
}

struct insn *h_leave(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t sp = cpu->regs[R_EBP] & sp_mask(cpu);
    uint32_t v = mem_get(cpu, sz, SEG_SS, sp);
    sp_set(cpu, sp + (sz == SZ32 ? 4 : 2));
    reg_set(cpu, sz, R_EBP, v);
    return next(cpu, i);
}

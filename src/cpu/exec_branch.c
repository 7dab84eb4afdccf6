/* Branch handlers: Jcc, JMP/CALL/RET near, LOOP/JCXZ, indirect branches, far transfers
 * (JMP/CALL/RET far, LDS..LSS), INT/IRET and HLT. */
#include "cpu/exec_ops.h"

/* ---- Conditional and near branches ---- */

/* Jcc with the condition fixed at decode time (the condition switch folds away). */
#define JCC_HANDLER(CC)                                                                       \
    static struct insn *h_jcc_##CC(struct cpu *cpu, struct insn *i)                          \
    {                                                                                         \
        if (cond_true(cpu, CC))                                                               \
            return jump_near(cpu, i, cpu->eip + i->len + i->disp);                            \
        return next(cpu, i);                                                                  \
    }
JCC_HANDLER(0) JCC_HANDLER(1) JCC_HANDLER(2) JCC_HANDLER(3)
JCC_HANDLER(6) JCC_HANDLER(7) JCC_HANDLER(8) JCC_HANDLER(9)
JCC_HANDLER(10) JCC_HANDLER(11) JCC_HANDLER(12) JCC_HANDLER(13)
JCC_HANDLER(14) JCC_HANDLER(15)

/* Specialised Jcc for the common flag tests after CMP/SUB/TEST. */
static struct insn *h_jz(struct cpu *cpu, struct insn *i)
{
    if (get_zf(cpu))
        return jump_near(cpu, i, cpu->eip + i->len + i->disp);
    return next(cpu, i);
}

static struct insn *h_jnz(struct cpu *cpu, struct insn *i)
{
    if (!get_zf(cpu))
        return jump_near(cpu, i, cpu->eip + i->len + i->disp);
    return next(cpu, i);
}

const insn_fn jcc_table[16] = {
    h_jcc_0, h_jcc_1, h_jcc_2, h_jcc_3, h_jz, h_jnz, h_jcc_6, h_jcc_7,
    h_jcc_8, h_jcc_9, h_jcc_10, h_jcc_11, h_jcc_12, h_jcc_13, h_jcc_14, h_jcc_15,
};

struct insn *h_jmp_rel(struct cpu *cpu, struct insn *i)
{
    return jump_near(cpu, i, cpu->eip + i->len + i->disp);
}

struct insn *h_call_rel(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t ret = next_eip(cpu, i);
    uint32_t target = ret + i->disp;
    if (sz == SZ16)
        target &= 0xffff;
    if (UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    push(cpu, sz, ret);
    cpu->eip = target;
    return exec_chain(cpu, i, target);
}

struct insn *h_ret(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t target = pop(cpu, sz);
    if (i->op == 0xc2)
        sp_set(cpu, sp_get(cpu) + (i->imm & 0xffff));
    return jump_indirect(cpu, i, target);
}

/* CALL rel32 and RET in 32-bit code with a 32-bit stack (the trace key fixes both). */
struct insn *h_call_rel32(struct cpu *cpu, struct insn *i)
{
    uint32_t ret = cpu->eip + i->len;
    uint32_t target = ret + i->disp;
    if (UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    uint32_t sp = cpu->regs[R_ESP] - 4;
    cpu_write32(cpu, SEG_SS, sp, ret);
    cpu->regs[R_ESP] = sp;
    cpu->eip = target;
    return exec_chain(cpu, i, target);
}

struct insn *h_ret32(struct cpu *cpu, struct insn *i)
{
    uint32_t sp = cpu->regs[R_ESP];
    uint32_t target = cpu_read32(cpu, SEG_SS, sp);
    cpu->regs[R_ESP] = sp + 4;
    return jump_indirect(cpu, i, target);
}

struct insn *h_loop(struct cpu *cpu, struct insn *i)
{
    bool a32 = i->pfx & P_A32;
    uint32_t c = a32 ? cpu->regs[R_ECX] : (cpu->regs[R_ECX] & 0xffff);
    bool take;
    if (i->op == 0xe3) {
        take = c == 0;
    } else {
        c = a32 ? c - 1 : ((c - 1) & 0xffff);
        take = c != 0;
        if (i->op == 0xe0)
            take = take && !get_zf(cpu);
        else if (i->op == 0xe1)
            take = take && get_zf(cpu);
    }
    uint32_t target = (cpu->eip + i->len + i->disp) & ((i->pfx & P_OP32) ? 0xffffffffu : 0xffff);
    if (take && UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    if (i->op != 0xe3) {
        if (a32)
            cpu->regs[R_ECX] = c;
        else
            reg_set(cpu, SZ16, R_ECX, c);
    }
    if (take) {
        cpu->eip = target;
        return exec_chain(cpu, i, target);
    }
    return next(cpu, i);
}

/* FF /2 /4: CALL/JMP near indirect. */
struct insn *h_call_ind(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t target = rm_get(cpu, i, sz);
    if (UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    push(cpu, sz, next_eip(cpu, i));
    cpu->eip = target;
    return exec_chain_indirect(cpu);
}

struct insn *h_jmp_ind(struct cpu *cpu, struct insn *i)
{
    return jump_indirect(cpu, i, rm_get(cpu, i, opsz(i)));
}

/* ---- Interrupts, far transfers, HLT ---- */

struct insn *h_hlt(struct cpu *cpu, struct insn *i)
{
    need_cpl0(cpu);
    cpu->eip = next_eip(cpu, i);
    cpu->halted = true;
    return NULL;
}

/* INT n in virtual-8086 mode with CR4.VME: when the TSS's interrupt redirection bitmap has
 * bit n clear, the interrupt goes through the real-mode IVT of the v86 task (returns true).
 * Otherwise the caller handles it (#GP with IOPL < 3, else the IDT). */
static bool vme_int_redirect(struct cpu *cpu, uint8_t n, uint32_t ret)
{
    uint32_t base = cpu->tr.base, limit = cpu->tr.limit;
    if (limit < 0x67)
        raise_gp0(cpu);
    uint32_t iomap = cpu_lin_read16(cpu, base + 0x66, ACC_READ | ACC_SUPER);
    uint32_t off = iomap - 32 + n / 8;
    if (iomap < 32 || off > limit)
        raise_gp0(cpu);
    if (cpu_lin_read8(cpu, base + off, ACC_READ | ACC_SUPER) & (1u << (n & 7)))
        return false;
    uint16_t new_ip = cpu_lin_read16(cpu, n * 4u, ACC_READ);
    uint16_t new_cs = cpu_lin_read16(cpu, n * 4u + 2, ACC_READ);
    uint32_t f = cpu_get_eflags(cpu);
    uint32_t img = f & 0xffff;
    bool iopl3 = iopl(cpu) == 3;
    if (!iopl3)
        img = (img & ~FLAG_IF) | ((f & FLAG_VIF) ? FLAG_IF : 0) | FLAG_IOPL;
    uint32_t sp = cpu->regs[R_ESP] & 0xffff;
    cpu_write16(cpu, SEG_SS, (sp - 2) & 0xffff, (uint16_t)img);
    cpu_write16(cpu, SEG_SS, (sp - 4) & 0xffff, cpu->seg[SEG_CS].sel);
    cpu_write16(cpu, SEG_SS, (sp - 6) & 0xffff, (uint16_t)ret);
    cpu_load_seg(cpu, SEG_CS, new_cs);
    cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | ((sp - 6) & 0xffff);
    cpu->eip = new_ip;
    cpu_set_eflags(cpu, 0, FLAG_TF | (iopl3 ? FLAG_IF : FLAG_VIF));
    return true;
}

struct insn *h_int(struct cpu *cpu, struct insn *i)
{
    uint32_t ret = next_eip(cpu, i);
    if (i->op == 0xce && !get_of(cpu))
        return next(cpu, i);
    if (i->op == 0xcd && cpu->vm86 && (cpu->cr4 & CR4_VME) && vme_int_redirect(cpu, i->imm & 0xff, ret))
        return NULL;
    /* INT n, INT3 and INTO are IOPL-sensitive in virtual-8086 mode (ICEBP is not). */
    if (i->op != 0xf1 && cpu->vm86 && iopl(cpu) < 3)
        raise_gp0(cpu);
    switch (i->op) {
    case 0xcc:
        cpu_interrupt(cpu, EXC_BP, INT_SOFT_EXC, ret);
        break;
    case 0xce:
        cpu_interrupt(cpu, EXC_OF, INT_SOFT_EXC, ret);
        break;
    case 0xf1:
        cpu_interrupt(cpu, EXC_DB, INT_EXTERNAL, ret);    /* ICEBP: no gate DPL check */
        break;
    default:
        cpu_interrupt(cpu, i->imm & 0xff, INT_SOFTWARE, ret);
        break;
    }
    return NULL;
}

struct insn *h_iret(struct cpu *cpu, struct insn *i)
{
    if (cpu->vm86 && iopl(cpu) < 3)
        raise_gp0(cpu);
    flags_materialize(cpu);
    cpu_iret(cpu, i->pfx & P_OP32, next_eip(cpu, i));
    return NULL;
}

struct insn *h_jmp_far(struct cpu *cpu, struct insn *i)
{
    cpu_far_jmp(cpu, (uint16_t)i->imm2, i->imm, next_eip(cpu, i));
    return NULL;
}

struct insn *h_call_far(struct cpu *cpu, struct insn *i)
{
    cpu_far_call(cpu, (uint16_t)i->imm2, i->imm, i->pfx & P_OP32, next_eip(cpu, i));
    return NULL;
}

/* FF /3 and /5: far CALL/JMP through a memory pointer. */
struct insn *h_far_ind(struct cpu *cpu, struct insn *i)
{
    uint32_t off = ea(cpu, i);
    bool op32 = i->pfx & P_OP32;
    uint32_t target = op32 ? cpu_read32(cpu, i->seg, off) : cpu_read16(cpu, i->seg, off);
    uint16_t sel = cpu_read16(cpu, i->seg, off + (op32 ? 4 : 2));
    if (i->reg == 3)
        cpu_far_call(cpu, sel, target, op32, next_eip(cpu, i));
    else
        cpu_far_jmp(cpu, sel, target, next_eip(cpu, i));
    return NULL;
}

struct insn *h_ret_far(struct cpu *cpu, struct insn *i)
{
    cpu_far_ret(cpu, i->pfx & P_OP32, i->op == 0xca ? (uint16_t)i->imm : 0);
    return NULL;
}

/* LES LDS LSS LFS LGS. */
struct insn *h_lseg(struct cpu *cpu, struct insn *i)
{
    int s = i->map == 0 ? (i->op == 0xc4 ? SEG_ES : SEG_DS)
                        : (i->op == 0xb2 ? SEG_SS : i->op == 0xb4 ? SEG_FS : SEG_GS);
    uint32_t off = ea(cpu, i);
    int sz = opsz(i);
    uint32_t v = mem_get(cpu, sz, i->seg, off);
    uint16_t sel = cpu_read16(cpu, i->seg, off + (sz == SZ32 ? 4 : 2));
    cpu_load_seg(cpu, s, sel);
    reg_set(cpu, sz, i->reg, v);
    return s == SEG_SS ? leave_trace(cpu, i) : next(cpu, i);
}

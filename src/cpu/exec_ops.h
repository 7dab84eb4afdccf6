/* Private to the instruction handlers (exec_alu.c, exec_move.c, exec_branch.c, exec_string.c,
 * exec_system.c) and the handler choice (exec_select.c): operand, stack and branch helpers,
 * inline so every handler keeps them in its own body, and the handlers and tables the
 * choice picks from.
 *
 * Handlers follow the fault contract of cpu.h: registers (other than ESP) and flags change
 * only after the last access that can fault.  The hot instructions (ALU, MOV, INC/DEC,
 * PUSH/POP, Jcc, CALL/RET, string moves) have handlers specialised by operand size and by
 * register/memory form; the rest share size-generic handlers. */
#ifndef PCVM_CPU_EXEC_OPS_H
#define PCVM_CPU_EXEC_OPS_H

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/flags.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* LOCKed read-modify-write with other vCPUs on other threads (exec_alu.c): the load of the
 * operand, and its store as a host compare-and-swap. */
uint32_t locked_load(struct cpu *cpu, int sz, int seg, uint32_t off);
void locked_store(struct cpu *cpu, int sz, int seg, uint32_t off, uint32_t v);

/* ---- Operand access ---- */

static inline uint8_t *r8p(struct cpu *cpu, unsigned r)
{
    return (uint8_t *)&cpu->regs[r & 3] + (r >> 2);
}

static inline __attribute__((always_inline)) uint32_t reg_get(struct cpu *cpu, int sz, unsigned r)
{
    if (sz == SZ8)
        return *r8p(cpu, r);
    if (sz == SZ16)
        return cpu->regs[r] & 0xffff;
    return cpu->regs[r];
}

static inline __attribute__((always_inline)) void reg_set(struct cpu *cpu, int sz, unsigned r, uint32_t v)
{
    if (sz == SZ8)
        *r8p(cpu, r) = (uint8_t)v;
    else if (sz == SZ16)
        cpu->regs[r] = (cpu->regs[r] & 0xffff0000u) | (v & 0xffff);
    else
        cpu->regs[r] = v;
}

static inline __attribute__((always_inline)) uint32_t mem_get(struct cpu *cpu, int sz, int seg, uint32_t off)
{
    if (sz == SZ8)
        return cpu_read8(cpu, seg, off);
    if (sz == SZ16)
        return cpu_read16(cpu, seg, off);
    return cpu_read32(cpu, seg, off);
}

static inline __attribute__((always_inline)) void mem_set(struct cpu *cpu, int sz, int seg, uint32_t off, uint32_t v)
{
    if (sz == SZ8)
        cpu_write8(cpu, seg, off, (uint8_t)v);
    else if (sz == SZ16)
        cpu_write16(cpu, seg, off, (uint16_t)v);
    else
        cpu_write32(cpu, seg, off, v);
}

static inline __attribute__((always_inline)) uint32_t lk_get(struct cpu *cpu, const struct insn *i, int sz, int seg,
                                                             uint32_t off)
{
    if (__builtin_expect((i->pfx & P_LOCK) && cpu->parallel, 0))
        return locked_load(cpu, sz, seg, off);
    return mem_get(cpu, sz, seg, off);
}

static inline __attribute__((always_inline)) void lk_set(struct cpu *cpu, const struct insn *i, int sz, int seg,
                                                         uint32_t off, uint32_t v)
{
    if (__builtin_expect((i->pfx & P_LOCK) && cpu->parallel, 0))
        locked_store(cpu, sz, seg, off, v);
    else
        mem_set(cpu, sz, seg, off, v);
}

/* Effective address (offset within i->seg) of a memory operand. */
static inline __attribute__((always_inline)) uint32_t ea(struct cpu *cpu, const struct insn *i)
{
    if (__builtin_expect(i->ea_base, 1))
        return cpu->regs[i->base] + i->disp;
    uint32_t a = i->disp;
    if (i->base != NOREG)
        a += cpu->regs[i->base];
    if (i->index != NOREG)
        a += cpu->regs[i->index] << i->scale;
    if (!(i->pfx & P_A32))
        a &= 0xffff;
    return a;
}

static inline __attribute__((always_inline)) uint32_t rm_get(struct cpu *cpu, const struct insn *i, int sz)
{
    if (i->pfx & P_MEM)
        return mem_get(cpu, sz, i->seg, ea(cpu, i));
    return reg_get(cpu, sz, i->rm);
}

static inline __attribute__((always_inline)) void rm_set(struct cpu *cpu, const struct insn *i, int sz, uint32_t v)
{
    if (i->pfx & P_MEM)
        mem_set(cpu, sz, i->seg, ea(cpu, i), v);
    else
        reg_set(cpu, sz, i->rm, v);
}

static inline int opsz(const struct insn *i)
{
    return (i->pfx & P_OP32) ? SZ32 : SZ16;
}

/* Size of a byte/word opcode pair: bit 0 clear = byte. */
static inline int bwsz(const struct insn *i)
{
    return (i->op & 1) ? opsz(i) : SZ8;
}

static inline struct insn *next(struct cpu *cpu, struct insn *i)
{
    cpu->eip += i->len;
    return i + 1;
}

/* Next EIP, wrapped to 16 bits in 16-bit code. */
static inline uint32_t next_eip(struct cpu *cpu, const struct insn *i)
{
    uint32_t e = cpu->eip + i->len;
    return cpu->code32 ? e : (e & 0xffff);
}

static inline struct insn *leave_trace(struct cpu *cpu, struct insn *i)
{
    cpu->eip = next_eip(cpu, i);
    return NULL;
}

/* ---- Stack ---- */

static inline uint32_t sp_get(struct cpu *cpu)
{
    return cpu->stack32 ? cpu->regs[R_ESP] : (cpu->regs[R_ESP] & 0xffff);
}

static inline void sp_set(struct cpu *cpu, uint32_t v)
{
    if (cpu->stack32)
        cpu->regs[R_ESP] = v;
    else
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | (v & 0xffff);
}

static inline uint32_t sp_mask(const struct cpu *cpu)
{
    return cpu->stack32 ? 0xffffffffu : 0xffffu;
}

/* Push a 2-byte (sz SZ16) or 4-byte value. */
static inline void push(struct cpu *cpu, int sz, uint32_t v)
{
    uint32_t sp = (sp_get(cpu) - (sz == SZ32 ? 4 : 2)) & sp_mask(cpu);
    mem_set(cpu, sz, SEG_SS, sp, v);
    sp_set(cpu, sp);
}

static inline uint32_t pop(struct cpu *cpu, int sz)
{
    uint32_t sp = sp_get(cpu);
    uint32_t v = mem_get(cpu, sz, SEG_SS, sp);
    sp_set(cpu, sp + (sz == SZ32 ? 4 : 2));
    return v;
}

/* Read the stack at offset delta from the top without popping. */
static inline uint32_t stack_peek(struct cpu *cpu, int sz, uint32_t delta)
{
    return mem_get(cpu, sz, SEG_SS, (sp_get(cpu) + delta) & sp_mask(cpu));
}

/* ---- Exceptions ---- */

static inline _Noreturn void raise_ud(struct cpu *cpu) { cpu_exception(cpu, EXC_UD, 0); }
static inline _Noreturn void raise_gp0(struct cpu *cpu) { cpu_exception(cpu, EXC_GP, 0); }
static inline unsigned iopl(const struct cpu *cpu) { return (cpu->eflags >> 12) & 3; }

/* Privileged instructions: #GP(0) unless CPL 0 (v86 counts as CPL 3). */
static inline void need_cpl0(struct cpu *cpu)
{
    if (cpu->pe && (cpu->vm86 || cpu->cpl != 0))
        raise_gp0(cpu);
}

/* ---- Near branches ---- */

static inline struct insn *jump_near(struct cpu *cpu, struct insn *i, uint32_t target)
{
    if (!(i->pfx & P_OP32))
        target &= 0xffff;
    if (UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    cpu->eip = target;
    return exec_chain(cpu, i, target);
}

/* Indirect branches (RET, JMP/CALL r/m): chain through the jump cache. */
static inline struct insn *jump_indirect(struct cpu *cpu, struct insn *i, uint32_t target)
{
    (void)i;
    if (UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    cpu->eip = target;
    return exec_chain_indirect(cpu);
}

/* Read-modify-write helpers for r/m operands. */
struct rmw { uint32_t off; };
static inline uint32_t rmw_get(struct cpu *cpu, const struct insn *i, int sz, struct rmw *w)
{
    if (i->pfx & P_MEM) {
        w->off = ea(cpu, i);
        return lk_get(cpu, i, sz, i->seg, w->off);
    }
    return reg_get(cpu, sz, i->rm);
}
static inline void rmw_set(struct cpu *cpu, const struct insn *i, int sz, const struct rmw *w, uint32_t v)
{
    if (i->pfx & P_MEM)
        lk_set(cpu, i, sz, i->seg, w->off, v);
    else
        reg_set(cpu, sz, i->rm, v);
}

/* Most instructions from one attempt of a spin loop to the next (test-and-set: 3). */
#define SPIN_LOOP_MAX_INSNS 64

/* A lock attempt that failed, or a PAUSE: count it when it repeats the last one's EIP within
 * a spin loop's length, and end the run once that happened cpu->spin.after times in a row
 * (see cpu.h).  Code that only meets a taken lock or a PAUSE now and then never gets there. */
static inline void spin_note(struct cpu *cpu)
{
    if (!cpu->spin.after)
        return;
    if (cpu->eip_start == cpu->spin.eip && cpu->insn_count - cpu->spin.at <= SPIN_LOOP_MAX_INSNS) {
        if (++cpu->spin.count >= cpu->spin.after) {
            cpu->spin.count = 0;
            cpu->spin.spun = true;
            cpu_request(cpu, CPU_REQ_EXIT, 1);
        }
    } else {
        cpu->spin.eip = cpu->eip_start;
        cpu->spin.count = 1;
    }
    cpu->spin.at = cpu->insn_count;
}

/* ---- What the handler choice picks from ---- */

/* ALU operations in the order of the encoding, and the operand forms of alu_table. */
enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP };
enum { F_EGR, F_EGM, F_GER, F_GEM, F_EIR, F_EIM };
/* ALU handlers by operation, size (SZ8 SZ16 SZ32) and form (exec_alu.c). */
extern const insn_fn alu_table[8][3][6];
/* MOV handlers by size and form: E<-G reg, E<-G mem, G<-E mem, E<-imm reg, E<-imm mem
 * (exec_move.c). */
extern const insn_fn mov_table[3][5];
/* Jcc handlers by condition code (exec_branch.c). */
extern const insn_fn jcc_table[16];

/* Handlers of exec_alu.c that the handler choice (exec_select.c) returns. */
struct insn *h_aaa_aas(struct cpu *cpu, struct insn *i);
struct insn *h_aad(struct cpu *cpu, struct insn *i);
struct insn *h_aam(struct cpu *cpu, struct insn *i);
struct insn *h_bsf_bsr(struct cpu *cpu, struct insn *i);
struct insn *h_bswap(struct cpu *cpu, struct insn *i);
struct insn *h_bt_imm(struct cpu *cpu, struct insn *i);
struct insn *h_bt_reg(struct cpu *cpu, struct insn *i);
struct insn *h_cbw(struct cpu *cpu, struct insn *i);
struct insn *h_cmpxchg(struct cpu *cpu, struct insn *i);
struct insn *h_cmpxchg8b(struct cpu *cpu, struct insn *i);
struct insn *h_cwd(struct cpu *cpu, struct insn *i);
struct insn *h_daa_das(struct cpu *cpu, struct insn *i);
struct insn *h_dec_r16(struct cpu *cpu, struct insn *i);
struct insn *h_dec_r32(struct cpu *cpu, struct insn *i);
struct insn *h_imul_g(struct cpu *cpu, struct insn *i);
struct insn *h_inc_r16(struct cpu *cpu, struct insn *i);
struct insn *h_inc_r32(struct cpu *cpu, struct insn *i);
struct insn *h_incdec_rm(struct cpu *cpu, struct insn *i);
struct insn *h_muldiv(struct cpu *cpu, struct insn *i);
struct insn *h_neg(struct cpu *cpu, struct insn *i);
struct insn *h_not(struct cpu *cpu, struct insn *i);
struct insn *h_popcnt(struct cpu *cpu, struct insn *i);
struct insn *h_salc(struct cpu *cpu, struct insn *i);
struct insn *h_shift(struct cpu *cpu, struct insn *i);
struct insn *h_shift_r32_cl(struct cpu *cpu, struct insn *i);
struct insn *h_shift_r32_imm(struct cpu *cpu, struct insn *i);
struct insn *h_shxd(struct cpu *cpu, struct insn *i);
struct insn *h_test(struct cpu *cpu, struct insn *i);
struct insn *h_test_ai(struct cpu *cpu, struct insn *i);
struct insn *h_tzcnt_lzcnt(struct cpu *cpu, struct insn *i);
struct insn *h_xadd(struct cpu *cpu, struct insn *i);
struct insn *h_xlat(struct cpu *cpu, struct insn *i);

/* Handlers of exec_move.c that the handler choice (exec_select.c) returns. */
struct insn *h_bound(struct cpu *cpu, struct insn *i);
struct insn *h_cli(struct cpu *cpu, struct insn *i);
struct insn *h_cmovcc(struct cpu *cpu, struct insn *i);
struct insn *h_enter(struct cpu *cpu, struct insn *i);
struct insn *h_flagop(struct cpu *cpu, struct insn *i);
struct insn *h_lahf(struct cpu *cpu, struct insn *i);
struct insn *h_lea(struct cpu *cpu, struct insn *i);
struct insn *h_leave(struct cpu *cpu, struct insn *i);
struct insn *h_mov_from_seg(struct cpu *cpu, struct insn *i);
struct insn *h_mov_moffs(struct cpu *cpu, struct insn *i);
struct insn *h_mov_r16_imm(struct cpu *cpu, struct insn *i);
struct insn *h_mov_r32_imm(struct cpu *cpu, struct insn *i);
struct insn *h_mov_r8_imm(struct cpu *cpu, struct insn *i);
struct insn *h_mov_to_seg(struct cpu *cpu, struct insn *i);
struct insn *h_movsx_r32_m16(struct cpu *cpu, struct insn *i);
struct insn *h_movsx_r32_m8(struct cpu *cpu, struct insn *i);
struct insn *h_movx(struct cpu *cpu, struct insn *i);
struct insn *h_movzx_r32_m16(struct cpu *cpu, struct insn *i);
struct insn *h_movzx_r32_m8(struct cpu *cpu, struct insn *i);
struct insn *h_movzx_r32_r16(struct cpu *cpu, struct insn *i);
struct insn *h_movzx_r32_r8(struct cpu *cpu, struct insn *i);
struct insn *h_nop(struct cpu *cpu, struct insn *i);
struct insn *h_pause(struct cpu *cpu, struct insn *i);
struct insn *h_pop_r16(struct cpu *cpu, struct insn *i);
struct insn *h_pop_r32(struct cpu *cpu, struct insn *i);
struct insn *h_pop_rm(struct cpu *cpu, struct insn *i);
struct insn *h_pop_seg(struct cpu *cpu, struct insn *i);
struct insn *h_popa(struct cpu *cpu, struct insn *i);
struct insn *h_popf(struct cpu *cpu, struct insn *i);
struct insn *h_push_imm(struct cpu *cpu, struct insn *i);
struct insn *h_push_r16(struct cpu *cpu, struct insn *i);
struct insn *h_push_r32(struct cpu *cpu, struct insn *i);
struct insn *h_push_rm(struct cpu *cpu, struct insn *i);
struct insn *h_push_seg(struct cpu *cpu, struct insn *i);
struct insn *h_pusha(struct cpu *cpu, struct insn *i);
struct insn *h_pushf(struct cpu *cpu, struct insn *i);
struct insn *h_sahf(struct cpu *cpu, struct insn *i);
struct insn *h_setcc(struct cpu *cpu, struct insn *i);
struct insn *h_sti(struct cpu *cpu, struct insn *i);
struct insn *h_xchg(struct cpu *cpu, struct insn *i);
struct insn *h_xchg_ax(struct cpu *cpu, struct insn *i);

/* Handlers of exec_branch.c that the handler choice (exec_select.c) returns. */
struct insn *h_call_far(struct cpu *cpu, struct insn *i);
struct insn *h_call_ind(struct cpu *cpu, struct insn *i);
struct insn *h_call_rel(struct cpu *cpu, struct insn *i);
struct insn *h_call_rel32(struct cpu *cpu, struct insn *i);
struct insn *h_far_ind(struct cpu *cpu, struct insn *i);
struct insn *h_hlt(struct cpu *cpu, struct insn *i);
struct insn *h_int(struct cpu *cpu, struct insn *i);
struct insn *h_iret(struct cpu *cpu, struct insn *i);
struct insn *h_jmp_far(struct cpu *cpu, struct insn *i);
struct insn *h_jmp_ind(struct cpu *cpu, struct insn *i);
struct insn *h_jmp_rel(struct cpu *cpu, struct insn *i);
struct insn *h_loop(struct cpu *cpu, struct insn *i);
struct insn *h_lseg(struct cpu *cpu, struct insn *i);
struct insn *h_ret(struct cpu *cpu, struct insn *i);
struct insn *h_ret32(struct cpu *cpu, struct insn *i);
struct insn *h_ret_far(struct cpu *cpu, struct insn *i);

/* Handlers of exec_string.c that the handler choice (exec_select.c) returns. */
struct insn *h_cmps(struct cpu *cpu, struct insn *i);
struct insn *h_in(struct cpu *cpu, struct insn *i);
struct insn *h_ins(struct cpu *cpu, struct insn *i);
struct insn *h_lods(struct cpu *cpu, struct insn *i);
struct insn *h_movs(struct cpu *cpu, struct insn *i);
struct insn *h_out(struct cpu *cpu, struct insn *i);
struct insn *h_outs(struct cpu *cpu, struct insn *i);
struct insn *h_rep_movsd32(struct cpu *cpu, struct insn *i);
struct insn *h_rep_stosd32(struct cpu *cpu, struct insn *i);
struct insn *h_scas(struct cpu *cpu, struct insn *i);
struct insn *h_stos(struct cpu *cpu, struct insn *i);

/* Handlers of exec_system.c that the handler choice (exec_select.c) returns. */
struct insn *h_arpl(struct cpu *cpu, struct insn *i);
struct insn *h_clac_stac(struct cpu *cpu, struct insn *i);
struct insn *h_clts(struct cpu *cpu, struct insn *i);
struct insn *h_cpuid(struct cpu *cpu, struct insn *i);
struct insn *h_fpu(struct cpu *cpu, struct insn *i);
struct insn *h_fwait(struct cpu *cpu, struct insn *i);
struct insn *h_grp6(struct cpu *cpu, struct insn *i);
struct insn *h_grp7(struct cpu *cpu, struct insn *i);
struct insn *h_lar_lsl(struct cpu *cpu, struct insn *i);
struct insn *h_mov_cr_dr(struct cpu *cpu, struct insn *i);
struct insn *h_msr(struct cpu *cpu, struct insn *i);
struct insn *h_priv_nop(struct cpu *cpu, struct insn *i);
struct insn *h_rdpmc(struct cpu *cpu, struct insn *i);
struct insn *h_rdtsc(struct cpu *cpu, struct insn *i);
struct insn *h_simd(struct cpu *cpu, struct insn *i);
struct insn *h_sysenter(struct cpu *cpu, struct insn *i);

#endif

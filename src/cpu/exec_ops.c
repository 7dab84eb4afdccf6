/* Instruction handlers and the choice of handler for each decoded instruction.
 *
 * Handlers follow the fault contract of cpu.h: registers (other than ESP) and flags change
 * only after the last access that can fault.  The hot instructions (ALU, MOV, INC/DEC,
 * PUSH/POP, Jcc, CALL/RET, string moves) have handlers specialised by operand size and by
 * register/memory form; the rest share size-generic handlers. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/flags.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

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

/* A LOCKed operand no host atomic covers (MMIO, a page holding code, a page split, a watched
 * or misaligned-with-AC access): leave cpu_run without running the instruction (no fault is
 * pending, EIP stays on it); the vCPU's thread runs it again with every other vCPU stopped
 * (cpu->lk.exclusive), as plain accesses.  Called after the operand's write checks. */
static __attribute__((noreturn, noinline)) void locked_need_exclusive(struct cpu *cpu)
{
    cpu->lk.want_exclusive = true;
    cpu_request(cpu, CPU_REQ_EXIT, 1);
    cpu->sys.pending_vector = -1;
    longjmp(cpu->fault_env, 1);
}

/* LOCKed read-modify-write with other vCPUs on other threads (cpu->parallel): the load
 * remembers the operand's host address and value, the store is a host compare-and-swap that,
 * when another vCPU changed the operand in between, restarts the instruction (no fault is
 * pending, so cpu_run just runs it again).  An operand that is not plain writable RAM inside
 * one page takes locked_need_exclusive. */
static __attribute__((noinline)) uint32_t locked_load(struct cpu *cpu, int sz, int seg, uint32_t off)
{
    unsigned size = 1u << sz;
    cpu->lk.host = NULL;
    if (cpu->lk.exclusive)
        return mem_get(cpu, sz, seg, off);
    cpu_check_write(cpu, seg, off, size);
    uint8_t *p = mmu_fast(cpu, cpu->seg[seg].base + off, size, cpu->sys.wr_kind);
    if (!p)
        locked_need_exclusive(cpu);
    cpu->lk.host = p;
    uint32_t v = sz == SZ8 ? __atomic_load_n(p, __ATOMIC_SEQ_CST)
               : sz == SZ16 ? __atomic_load_n((uint16_t *)p, __ATOMIC_SEQ_CST)
                            : __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
    cpu->lk.old = v;
    return v;
}

static __attribute__((noinline)) void locked_store(struct cpu *cpu, int sz, int seg, uint32_t off, uint32_t v)
{
    uint8_t *p = cpu->lk.host;
    cpu->lk.host = NULL;
    if (!p) {
        mem_set(cpu, sz, seg, off, v);
        return;
    }
    bool ok;
    if (sz == SZ8) {
        uint8_t old = (uint8_t)cpu->lk.old;
        ok = __atomic_compare_exchange_n(p, &old, (uint8_t)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    } else if (sz == SZ16) {
        uint16_t old = (uint16_t)cpu->lk.old;
        ok = __atomic_compare_exchange_n((uint16_t *)p, &old, (uint16_t)v, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
    } else {
        uint32_t old = cpu->lk.old;
        ok = __atomic_compare_exchange_n((uint32_t *)p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    if (!ok) {
        cpu->sys.pending_vector = -1;
        longjmp(cpu->fault_env, 1);
    }
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

uint32_t exec_ea(struct cpu *cpu, const struct insn *i) { return ea(cpu, i); }

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

static _Noreturn void raise_ud(struct cpu *cpu) { cpu_exception(cpu, EXC_UD, 0); }
static _Noreturn void raise_gp0(struct cpu *cpu) { cpu_exception(cpu, EXC_GP, 0); }

static struct insn *h_ud(struct cpu *cpu, struct insn *i) { (void)i; raise_ud(cpu); }
struct insn *h_gp0(struct cpu *cpu, struct insn *i) { (void)i; raise_gp0(cpu); }

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

/* ---- ALU: ADD OR ADC SBB AND SUB XOR CMP ---- */

enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP };

/* Compute op; *kind receives the lazy-flags kind to record after the write. */
static inline uint32_t alu_compute(struct cpu *cpu, int op, int sz, uint32_t a, uint32_t b, uint32_t *kind)
{
    uint32_t m = lf_mask_tab[sz], c;
    switch (op) {
    case OP_ADD: *kind = LF_ADD + sz; return (a + b) & m;
    case OP_OR: *kind = LF_LOGIC + sz; return a | b;
    case OP_ADC: c = get_cf(cpu); *kind = (c ? LF_ADC : LF_ADD) + sz; return (a + b + c) & m;
    case OP_SBB: c = get_cf(cpu); *kind = (c ? LF_SBB : LF_SUB) + sz; return (a - b - c) & m;
    case OP_AND: *kind = LF_LOGIC + sz; return a & b;
    case OP_XOR: *kind = LF_LOGIC + sz; return a ^ b;
    default: *kind = LF_SUB + sz; return (a - b) & m;
    }
}

#define ALU_HANDLERS(OP, SZ)                                                                   \
    static struct insn *alu_##OP##_##SZ##_egr(struct cpu *cpu, struct insn *i)                 \
    {                                                                                          \
        uint32_t k, a = reg_get(cpu, SZ, i->rm), b = reg_get(cpu, SZ, i->reg);                 \
        uint32_t r = alu_compute(cpu, OP, SZ, a, b, &k);                                       \
        if (OP != OP_CMP)                                                                      \
            reg_set(cpu, SZ, i->rm, r);                                                        \
        lf_set(cpu, k, a, b, r, FLAGS_ARITH);                                                  \
        return next(cpu, i);                                                                   \
    }                                                                                          \
    static struct insn *alu_##OP##_##SZ##_egm(struct cpu *cpu, struct insn *i)                 \
    {                                                                                          \
        uint32_t k, off = ea(cpu, i);                                                          \
        uint32_t a = lk_get(cpu, i, SZ, i->seg, off), b = reg_get(cpu, SZ, i->reg);            \
        uint32_t r = alu_compute(cpu, OP, SZ, a, b, &k);                                       \
        if (OP != OP_CMP)                                                                      \
            lk_set(cpu, i, SZ, i->seg, off, r);                                                \
        lf_set(cpu, k, a, b, r, FLAGS_ARITH);                                                  \
        return next(cpu, i);                                                                   \
    }                                                                                          \
    static struct insn *alu_##OP##_##SZ##_ger(struct cpu *cpu, struct insn *i)                 \
    {                                                                                          \
        uint32_t k, a = reg_get(cpu, SZ, i->reg), b = reg_get(cpu, SZ, i->rm);                 \
        uint32_t r = alu_compute(cpu, OP, SZ, a, b, &k);                                       \
        if (OP != OP_CMP)                                                                      \
            reg_set(cpu, SZ, i->reg, r);                                                       \
        lf_set(cpu, k, a, b, r, FLAGS_ARITH);                                                  \
        return next(cpu, i);                                                                   \
    }                                                                                          \
    static struct insn *alu_##OP##_##SZ##_gem(struct cpu *cpu, struct insn *i)                 \
    {                                                                                          \
        uint32_t k, b = mem_get(cpu, SZ, i->seg, ea(cpu, i)), a = reg_get(cpu, SZ, i->reg);    \
        uint32_t r = alu_compute(cpu, OP, SZ, a, b, &k);                                       \
        if (OP != OP_CMP)                                                                      \
            reg_set(cpu, SZ, i->reg, r);                                                       \
        lf_set(cpu, k, a, b, r, FLAGS_ARITH);                                                  \
        return next(cpu, i);                                                                   \
    }                                                                                          \
    static struct insn *alu_##OP##_##SZ##_eir(struct cpu *cpu, struct insn *i)                 \
    {                                                                                          \
        uint32_t k, a = reg_get(cpu, SZ, i->rm), b = i->imm;                                   \
        uint32_t r = alu_compute(cpu, OP, SZ, a, b, &k);                                       \
        if (OP != OP_CMP)                                                                      \
            reg_set(cpu, SZ, i->rm, r);                                                        \
        lf_set(cpu, k, a, b, r, FLAGS_ARITH);                                                  \
        return next(cpu, i);                                                                   \
    }                                                                                          \
    static struct insn *alu_##OP##_##SZ##_eim(struct cpu *cpu, struct insn *i)                 \
    {                                                                                          \
        uint32_t k, off = ea(cpu, i);                                                          \
        uint32_t a = lk_get(cpu, i, SZ, i->seg, off), b = i->imm;                              \
        uint32_t r = alu_compute(cpu, OP, SZ, a, b, &k);                                       \
        if (OP != OP_CMP)                                                                      \
            lk_set(cpu, i, SZ, i->seg, off, r);                                                \
        lf_set(cpu, k, a, b, r, FLAGS_ARITH);                                                  \
        return next(cpu, i);                                                                   \
    }

#define ALU_ALL_SIZES(OP) ALU_HANDLERS(OP, SZ8) ALU_HANDLERS(OP, SZ16) ALU_HANDLERS(OP, SZ32)
ALU_ALL_SIZES(OP_ADD)
ALU_ALL_SIZES(OP_OR)
ALU_ALL_SIZES(OP_ADC)
ALU_ALL_SIZES(OP_SBB)
ALU_ALL_SIZES(OP_AND)
ALU_ALL_SIZES(OP_SUB)
ALU_ALL_SIZES(OP_XOR)
ALU_ALL_SIZES(OP_CMP)

enum { F_EGR, F_EGM, F_GER, F_GEM, F_EIR, F_EIM };
#define ALU_ROW(OP, SZ) { alu_##OP##_##SZ##_egr, alu_##OP##_##SZ##_egm, alu_##OP##_##SZ##_ger, \
                          alu_##OP##_##SZ##_gem, alu_##OP##_##SZ##_eir, alu_##OP##_##SZ##_eim }
#define ALU_OP(OP) { ALU_ROW(OP, SZ8), ALU_ROW(OP, SZ16), ALU_ROW(OP, SZ32) }
static const insn_fn alu_table[8][3][6] = {
    ALU_OP(OP_ADD), ALU_OP(OP_OR), ALU_OP(OP_ADC), ALU_OP(OP_SBB),
    ALU_OP(OP_AND), ALU_OP(OP_SUB), ALU_OP(OP_XOR), ALU_OP(OP_CMP),
};

/* TEST: AND without writing. */
static struct insn *h_test(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint32_t a = rm_get(cpu, i, sz);
    uint32_t b = (i->op == 0x84 || i->op == 0x85) ? reg_get(cpu, sz, i->reg) : i->imm;
    lf_set(cpu, LF_LOGIC + sz, 0, 0, a & b, FLAGS_ARITH);
    return next(cpu, i);
}

static struct insn *h_test_ai(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    lf_set(cpu, LF_LOGIC + sz, 0, 0, reg_get(cpu, sz, R_EAX) & i->imm, FLAGS_ARITH);
    return next(cpu, i);
}

/* ---- INC / DEC / NOT / NEG ---- */

#define INCDEC_REG(NAME, SZ, KIND, DELTA)                                                     \
    static struct insn *NAME(struct cpu *cpu, struct insn *i)                                 \
    {                                                                                         \
        flags_keep_cf(cpu);                                                                   \
        uint32_t a = reg_get(cpu, SZ, i->reg), r = (a + (DELTA)) & lf_mask_tab[SZ];           \
        reg_set(cpu, SZ, i->reg, r);                                                          \
        lf_set(cpu, KIND + SZ, a, 1, r, FLAGS_ARITH & ~FLAG_CF);                              \
        return next(cpu, i);                                                                  \
    }
INCDEC_REG(h_inc_r16, SZ16, LF_ADD, 1)
INCDEC_REG(h_inc_r32, SZ32, LF_ADD, 1)
INCDEC_REG(h_dec_r16, SZ16, LF_SUB, -1u)
INCDEC_REG(h_dec_r32, SZ32, LF_SUB, -1u)

/* INC/DEC r/m (FE/FF /0 /1): reg 0 = inc. */
static struct insn *h_incdec_rm(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    bool dec = i->reg == 1;
    uint32_t off = 0, a;
    if (i->pfx & P_MEM) {
        off = ea(cpu, i);
        a = lk_get(cpu, i, sz, i->seg, off);
    } else {
        a = reg_get(cpu, sz, i->rm);
    }
    uint32_t r = (a + (dec ? -1u : 1u)) & lf_mask_tab[sz];
    if (i->pfx & P_MEM)
        lk_set(cpu, i, sz, i->seg, off, r);
    else
        reg_set(cpu, sz, i->rm, r);
    flags_keep_cf(cpu);
    lf_set(cpu, (dec ? LF_SUB : LF_ADD) + sz, a, 1, r, FLAGS_ARITH & ~FLAG_CF);
    return next(cpu, i);
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

static struct insn *h_not(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    rmw_set(cpu, i, sz, &w, ~a & lf_mask_tab[sz]);
    return next(cpu, i);
}

static struct insn *h_neg(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    uint32_t r = (0 - a) & lf_mask_tab[sz];
    rmw_set(cpu, i, sz, &w, r);
    lf_set(cpu, LF_SUB + sz, 0, a, r, FLAGS_ARITH);
    return next(cpu, i);
}

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

static const insn_fn mov_table[3][5] = {
    { mov_SZ8_egr, mov_SZ8_egm, mov_SZ8_gem, mov_SZ8_eir, mov_SZ8_eim },
    { mov_SZ16_egr, mov_SZ16_egm, mov_SZ16_gem, mov_SZ16_eir, mov_SZ16_eim },
    { mov_SZ32_egr, mov_SZ32_egm, mov_SZ32_gem, mov_SZ32_eir, mov_SZ32_eim },
};

static struct insn *h_lea(struct cpu *cpu, struct insn *i)
{
    reg_set(cpu, opsz(i), i->reg, ea(cpu, i));
    return next(cpu, i);
}

static struct insn *h_mov_from_seg(struct cpu *cpu, struct insn *i)
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

static struct insn *h_mov_to_seg(struct cpu *cpu, struct insn *i)
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
static struct insn *h_movx(struct cpu *cpu, struct insn *i)
{
    bool word = i->op & 1;
    uint32_t v = rm_get(cpu, i, word ? SZ16 : SZ8);
    if (i->op >= 0xbe)
        v = word ? (uint32_t)(int16_t)v : (uint32_t)(int8_t)v;
    reg_set(cpu, opsz(i), i->reg, v);
    return next(cpu, i);
}

static struct insn *h_movzx_r32_m8(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = cpu_read8(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}

/* MOVZX/MOVSX into a 32-bit register, by source form. */
static struct insn *h_movzx_r32_m16(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = cpu_read16(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}
static struct insn *h_movsx_r32_m8(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = (uint32_t)(int8_t)cpu_read8(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}
static struct insn *h_movsx_r32_m16(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = (uint32_t)(int16_t)cpu_read16(cpu, i->seg, ea(cpu, i));
    return next(cpu, i);
}
static struct insn *h_movzx_r32_r8(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = *r8p(cpu, i->rm);
    return next(cpu, i);
}
static struct insn *h_movzx_r32_r16(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = cpu->regs[i->rm] & 0xffff;
    return next(cpu, i);
}

static struct insn *h_xchg(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    uint32_t b = reg_get(cpu, sz, i->reg);
    rmw_set(cpu, i, sz, &w, b);
    reg_set(cpu, sz, i->reg, a);
    return next(cpu, i);
}

static struct insn *h_xchg_ax(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t a = reg_get(cpu, sz, R_EAX), b = reg_get(cpu, sz, i->reg);
    reg_set(cpu, sz, R_EAX, b);
    reg_set(cpu, sz, i->reg, a);
    return next(cpu, i);
}

static struct insn *h_nop(struct cpu *cpu, struct insn *i)
{
    return next(cpu, i);
}

/* MOV AL/eAX <-> moffs. */
static struct insn *h_mov_moffs(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint32_t off = i->disp;
    if (i->op < 0xa2)
        reg_set(cpu, sz, R_EAX, mem_get(cpu, sz, i->seg, off));
    else
        mem_set(cpu, sz, i->seg, off, reg_get(cpu, sz, R_EAX));
    return next(cpu, i);
}

static struct insn *h_mov_r8_imm(struct cpu *cpu, struct insn *i)
{
    *r8p(cpu, i->reg) = (uint8_t)i->imm;
    return next(cpu, i);
}

static struct insn *h_mov_r16_imm(struct cpu *cpu, struct insn *i)
{
    reg_set(cpu, SZ16, i->reg, i->imm);
    return next(cpu, i);
}

static struct insn *h_mov_r32_imm(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->reg] = i->imm;
    return next(cpu, i);
}

/* ---- PUSH / POP ---- */

static struct insn *h_push_r32(struct cpu *cpu, struct insn *i)
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

static struct insn *h_pop_r32(struct cpu *cpu, struct insn *i)
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

static struct insn *h_push_r16(struct cpu *cpu, struct insn *i)
{
    push(cpu, SZ16, cpu->regs[i->reg] & 0xffff);
    return next(cpu, i);
}

static struct insn *h_pop_r16(struct cpu *cpu, struct insn *i)
{
    uint32_t v = pop(cpu, SZ16);
    reg_set(cpu, SZ16, i->reg, v);
    return next(cpu, i);
}

static struct insn *h_push_imm(struct cpu *cpu, struct insn *i)
{
    push(cpu, opsz(i), i->imm);
    return next(cpu, i);
}

static struct insn *h_push_rm(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);
    push(cpu, sz, v);
    return next(cpu, i);
}

/* POP r/m: ESP is incremented before the destination address is computed. */
static struct insn *h_pop_rm(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = pop(cpu, sz);
    rm_set(cpu, i, sz, v);
    return next(cpu, i);
}

static const uint8_t push_seg_of[] = { [0x06] = SEG_ES, [0x0e] = SEG_CS, [0x16] = SEG_SS, [0x1e] = SEG_DS };

static struct insn *h_push_seg(struct cpu *cpu, struct insn *i)
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

static struct insn *h_pop_seg(struct cpu *cpu, struct insn *i)
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

static struct insn *h_pusha(struct cpu *cpu, struct insn *i)
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

static struct insn *h_popa(struct cpu *cpu, struct insn *i)
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

static struct insn *h_pushf(struct cpu *cpu, struct insn *i)
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

static struct insn *h_popf(struct cpu *cpu, struct insn *i)
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

static struct insn *h_lahf(struct cpu *cpu, struct insn *i)
{
    *r8p(cpu, 4) = (uint8_t)(cpu_get_eflags(cpu) & 0xff);
    return next(cpu, i);
}

static struct insn *h_sahf(struct cpu *cpu, struct insn *i)
{
    uint32_t m = FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF;
    flags_set_arith(cpu, *r8p(cpu, 4), m);
    return next(cpu, i);
}

static struct insn *h_flagop(struct cpu *cpu, struct insn *i)
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

static struct insn *h_cli(struct cpu *cpu, struct insn *i)
{
    if (if_allowed(cpu))
        cpu->eflags &= ~FLAG_IF;
    else if (vif_mode(cpu))
        cpu->eflags &= ~FLAG_VIF;
    else
        raise_gp0(cpu);
    return next(cpu, i);
}

static struct insn *h_sti(struct cpu *cpu, struct insn *i)
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

static const insn_fn jcc_table[16] = {
    h_jcc_0, h_jcc_1, h_jcc_2, h_jcc_3, h_jz, h_jnz, h_jcc_6, h_jcc_7,
    h_jcc_8, h_jcc_9, h_jcc_10, h_jcc_11, h_jcc_12, h_jcc_13, h_jcc_14, h_jcc_15,
};

static struct insn *h_jmp_rel(struct cpu *cpu, struct insn *i)
{
    return jump_near(cpu, i, cpu->eip + i->len + i->disp);
}

static struct insn *h_call_rel(struct cpu *cpu, struct insn *i)
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

static struct insn *h_ret(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t target = pop(cpu, sz);
    if (i->op == 0xc2)
        sp_set(cpu, sp_get(cpu) + (i->imm & 0xffff));
    return jump_indirect(cpu, i, target);
}

/* CALL rel32 and RET in 32-bit code with a 32-bit stack (the trace key fixes both). */
static struct insn *h_call_rel32(struct cpu *cpu, struct insn *i)
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

static struct insn *h_ret32(struct cpu *cpu, struct insn *i)
{
    uint32_t sp = cpu->regs[R_ESP];
    uint32_t target = cpu_read32(cpu, SEG_SS, sp);
    cpu->regs[R_ESP] = sp + 4;
    return jump_indirect(cpu, i, target);
}

static struct insn *h_loop(struct cpu *cpu, struct insn *i)
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
static struct insn *h_call_ind(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t target = rm_get(cpu, i, sz);
    if (UNLIKELY(target > cpu->seg[SEG_CS].limit))
        raise_gp0(cpu);
    push(cpu, sz, next_eip(cpu, i));
    cpu->eip = target;
    return exec_chain_indirect(cpu);
}

static struct insn *h_jmp_ind(struct cpu *cpu, struct insn *i)
{
    return jump_indirect(cpu, i, rm_get(cpu, i, opsz(i)));
}

/* ---- SETcc / CMOVcc ---- */

static struct insn *h_setcc(struct cpu *cpu, struct insn *i)
{
    rm_set(cpu, i, SZ8, cond_true(cpu, i->op & 15));
    return next(cpu, i);
}

static struct insn *h_cmovcc(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);     /* the source is read (and may fault) either way */
    if (cond_true(cpu, i->op & 15))
        reg_set(cpu, sz, i->reg, v);
    return next(cpu, i);
}

/* ---- Shifts and rotates (group 2) ---- */

static unsigned shift_count(struct cpu *cpu, const struct insn *i)
{
    if (i->op == 0xd0 || i->op == 0xd1)
        return 1;
    if (i->op == 0xd2 || i->op == 0xd3)
        return cpu->regs[R_ECX] & 0x1f;
    return i->imm & 0x1f;
}

static struct insn *h_shift(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    unsigned bits = 8u << sz;
    uint32_t m = lf_mask_tab[sz], sign = lf_sign_tab[sz];
    unsigned cnt = shift_count(cpu, i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    if (cnt == 0) {
        /* The destination is checked for writing whatever the count (read-only segment). */
        if (i->pfx & P_MEM)
            cpu_check_write(cpu, i->seg, w.off, 1u << sz);
        return next(cpu, i);
    }
    uint32_t r, cf = 0, of = 0;
    unsigned op = i->reg;
    switch (op) {
    case 0: { /* ROL */
        unsigned c = cnt & (bits - 1);
        r = c ? ((a << c) | (a >> (bits - c))) & m : a;
        cf = r & 1;
        of = ((r & sign) != 0) ^ cf;
        break;
    }
    case 1: { /* ROR */
        unsigned c = cnt & (bits - 1);
        r = c ? ((a >> c) | (a << (bits - c))) & m : a;
        cf = (r & sign) != 0;
        of = cf ^ ((r & (sign >> 1)) != 0);
        break;
    }
    case 2: { /* RCL */
        unsigned c = cnt % (bits + 1);
        uint64_t v = ((uint64_t)get_cf(cpu) << bits) | a;
        if (c)
            v = ((v << c) | (v >> (bits + 1 - c))) & ((2ull << bits) - 1);
        r = (uint32_t)v & m;
        cf = (uint32_t)(v >> bits) & 1;
        of = ((r & sign) != 0) ^ cf;
        break;
    }
    case 3: { /* RCR */
        unsigned c = cnt % (bits + 1);
        uint64_t v = ((uint64_t)get_cf(cpu) << bits) | a;
        if (c)
            v = ((v >> c) | (v << (bits + 1 - c))) & ((2ull << bits) - 1);
        r = (uint32_t)v & m;
        cf = (uint32_t)(v >> bits) & 1;
        of = ((r & sign) != 0) ^ ((r & (sign >> 1)) != 0);
        break;
    }
    case 4: case 6: { /* SHL/SAL */
        uint64_t v = (uint64_t)a << cnt;
        r = (uint32_t)v & m;
        cf = (uint32_t)(v >> bits) & 1;
        of = ((r & sign) != 0) ^ cf;
        break;
    }
    case 5: /* SHR */
        r = (uint32_t)((uint64_t)a >> cnt) & m;
        cf = (uint32_t)((uint64_t)a >> (cnt - 1)) & 1;
        of = (a & sign) != 0;
        break;
    default: { /* SAR */
        int64_t sa = sz == SZ8 ? (int8_t)a : sz == SZ16 ? (int16_t)a : (int32_t)a;
        r = (uint32_t)(sa >> cnt) & m;
        cf = (uint32_t)(sa >> (cnt - 1)) & 1;
        of = 0;
        break;
    }
    }
    rmw_set(cpu, i, sz, &w, r);
    uint32_t f = (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0);
    if (op < 4) {
        flags_set_arith(cpu, f, FLAG_CF | FLAG_OF);
    } else {
        flags_set_arith(cpu, f, FLAG_CF | FLAG_OF | FLAG_AF);
        lf_set(cpu, LF_LOGIC + sz, 0, 0, r, FLAG_SF | FLAG_ZF | FLAG_PF);
    }
    return next(cpu, i);
}

/* SHL/SHR/SAR of a 32-bit register by cnt (already masked to 0..31). */
static inline struct insn *shift_r32(struct cpu *cpu, struct insn *i, unsigned cnt)
{
    if (cnt == 0)
        return next(cpu, i);
    uint32_t a = cpu->regs[i->rm], r, cf, of;
    switch (i->reg) {
    case 4: case 6:
        r = a << cnt;
        cf = (a >> (32 - cnt)) & 1;
        of = (r >> 31) ^ cf;
        break;
    case 5:
        r = a >> cnt;
        cf = (a >> (cnt - 1)) & 1;
        of = a >> 31;
        break;
    default:
        r = (uint32_t)((int32_t)a >> cnt);
        cf = (uint32_t)((int32_t)a >> (cnt - 1)) & 1;
        of = 0;
        break;
    }
    cpu->regs[i->rm] = r;
    cpu->eflags = (cpu->eflags & ~(FLAG_CF | FLAG_OF | FLAG_AF)) | cf | (of << 11);
    lf_set(cpu, LF_LOGIC + SZ32, 0, 0, r, FLAG_SF | FLAG_ZF | FLAG_PF);
    return next(cpu, i);
}

/* SHL/SHR/SAR r32 by an immediate count (C1 /4 /5 /7, D1): the common shifts. */
static struct insn *h_shift_r32_imm(struct cpu *cpu, struct insn *i)
{
    return shift_r32(cpu, i, i->op == 0xd1 ? 1 : (i->imm & 0x1f));
}

/* SHL/SHR/SAR r32 by CL (D3 /4 /5 /7). */
static struct insn *h_shift_r32_cl(struct cpu *cpu, struct insn *i)
{
    return shift_r32(cpu, i, cpu->regs[R_ECX] & 0x1f);
}

/* SHLD / SHRD. */
static struct insn *h_shxd(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    unsigned bits = 8u << sz;
    unsigned cnt = ((i->op & 1) ? cpu->regs[R_ECX] : i->imm) & 0x1f;
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    if (cnt == 0) {
        if (i->pfx & P_MEM)
            cpu_check_write(cpu, i->seg, w.off, 1u << sz);
        return next(cpu, i);
    }
    uint32_t b = reg_get(cpu, sz, i->reg), m = lf_mask_tab[sz], sign = lf_sign_tab[sz];
    uint32_t r, cf;
    if (i->op < 0xa8) { /* SHLD: a:b shifted left */
        uint64_t v = sz == SZ32 ? ((uint64_t)a << 32) | b
                                : ((uint64_t)a << 32) | ((uint64_t)b << 16) | a;
        v <<= cnt;
        r = (uint32_t)(v >> 32) & m;
        cf = (uint32_t)(v >> 32 >> bits) & 1;
        if (sz == SZ32)
            cf = (a >> (32 - cnt)) & 1;
    } else {            /* SHRD: b:a shifted right */
        uint64_t v = sz == SZ32 ? ((uint64_t)b << 32) | a
                                : ((uint64_t)a << 32) | ((uint64_t)b << 16) | a;
        if (sz == SZ32) {
            r = (uint32_t)(v >> cnt);
            cf = (a >> (cnt - 1)) & 1;
        } else {
            uint64_t t = (((uint64_t)a << 32) | ((uint64_t)b << 16) | a) >> 32;
            (void)t;
            uint64_t x = ((uint64_t)b << 16) | a;    /* b:a, 32 bits */
            x |= (uint64_t)a << 32;                  /* repeat for counts above 16 */
            r = (uint32_t)(x >> cnt) & m;
            cf = (uint32_t)(x >> (cnt - 1)) & 1;
        }
    }
    rmw_set(cpu, i, sz, &w, r);
    uint32_t of = ((r ^ a) & sign) != 0;
    flags_set_arith(cpu, (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0), FLAG_CF | FLAG_OF | FLAG_AF);
    lf_set(cpu, LF_LOGIC + sz, 0, 0, r, FLAG_SF | FLAG_ZF | FLAG_PF);
    return next(cpu, i);
}

/* ---- Multiply and divide ---- */

static void set_mul_flags(struct cpu *cpu, int sz, uint32_t low, bool overflow)
{
    flags_set_arith(cpu, overflow ? (FLAG_CF | FLAG_OF) : 0, FLAG_CF | FLAG_OF | FLAG_AF);
    lf_set(cpu, LF_LOGIC + sz, 0, 0, low & lf_mask_tab[sz], FLAG_SF | FLAG_ZF | FLAG_PF);
}

/* F6/F7 /4../7: MUL, IMUL, DIV, IDIV on the accumulator. */
static struct insn *h_muldiv(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint32_t src = rm_get(cpu, i, sz);
    uint32_t *R = cpu->regs;
    switch (i->reg) {
    case 4: /* MUL */
        if (sz == SZ8) {
            uint32_t r = (R[R_EAX] & 0xff) * src;
            reg_set(cpu, SZ16, R_EAX, r);
            set_mul_flags(cpu, sz, r, (r >> 8) != 0);
        } else if (sz == SZ16) {
            uint32_t r = (R[R_EAX] & 0xffff) * src;
            reg_set(cpu, SZ16, R_EAX, r);
            reg_set(cpu, SZ16, R_EDX, r >> 16);
            set_mul_flags(cpu, sz, r, (r >> 16) != 0);
        } else {
            uint64_t r = (uint64_t)R[R_EAX] * src;
            R[R_EAX] = (uint32_t)r;
            R[R_EDX] = (uint32_t)(r >> 32);
            set_mul_flags(cpu, sz, (uint32_t)r, (r >> 32) != 0);
        }
        break;
    case 5: /* IMUL */
        if (sz == SZ8) {
            int32_t r = (int8_t)R[R_EAX] * (int8_t)src;
            reg_set(cpu, SZ16, R_EAX, (uint32_t)r);
            set_mul_flags(cpu, sz, (uint32_t)r, r != (int8_t)r);
        } else if (sz == SZ16) {
            int32_t r = (int16_t)R[R_EAX] * (int16_t)src;
            reg_set(cpu, SZ16, R_EAX, (uint32_t)r);
            reg_set(cpu, SZ16, R_EDX, (uint32_t)r >> 16);
            set_mul_flags(cpu, sz, (uint32_t)r, r != (int16_t)r);
        } else {
            int64_t r = (int64_t)(int32_t)R[R_EAX] * (int32_t)src;
            R[R_EAX] = (uint32_t)r;
            R[R_EDX] = (uint32_t)((uint64_t)r >> 32);
            set_mul_flags(cpu, sz, (uint32_t)r, r != (int32_t)r);
        }
        break;
    case 6: /* DIV */
        if (src == 0)
            cpu_exception(cpu, EXC_DE, 0);
        if (sz == SZ8) {
            uint32_t n = R[R_EAX] & 0xffff, q = n / src;
            if (q > 0xff)
                cpu_exception(cpu, EXC_DE, 0);
            reg_set(cpu, SZ16, R_EAX, ((n % src) << 8) | q);
        } else if (sz == SZ16) {
            uint32_t n = ((R[R_EDX] & 0xffff) << 16) | (R[R_EAX] & 0xffff), q = n / src;
            if (q > 0xffff)
                cpu_exception(cpu, EXC_DE, 0);
            reg_set(cpu, SZ16, R_EAX, q);
            reg_set(cpu, SZ16, R_EDX, n % src);
        } else {
            uint64_t n = ((uint64_t)R[R_EDX] << 32) | R[R_EAX], q = n / src;
            if (q > 0xffffffffu)
                cpu_exception(cpu, EXC_DE, 0);
            R[R_EAX] = (uint32_t)q;
            R[R_EDX] = (uint32_t)(n % src);
        }
        break;
    default: /* IDIV */
        if (src == 0)
            cpu_exception(cpu, EXC_DE, 0);
        if (sz == SZ8) {
            int32_t n = (int16_t)R[R_EAX], d = (int8_t)src;
            int32_t q = n / d, rem = n % d;
            if (q != (int8_t)q)
                cpu_exception(cpu, EXC_DE, 0);
            reg_set(cpu, SZ16, R_EAX, (((uint32_t)rem & 0xff) << 8) | ((uint32_t)q & 0xff));
        } else if (sz == SZ16) {
            int32_t n = (int32_t)(((R[R_EDX] & 0xffff) << 16) | (R[R_EAX] & 0xffff));
            int32_t d = (int16_t)src;
            if (n == INT32_MIN && d == -1)
                cpu_exception(cpu, EXC_DE, 0);
            int32_t q = n / d, rem = n % d;
            if (q != (int16_t)q)
                cpu_exception(cpu, EXC_DE, 0);
            reg_set(cpu, SZ16, R_EAX, (uint32_t)q);
            reg_set(cpu, SZ16, R_EDX, (uint32_t)rem);
        } else {
            int64_t n = (int64_t)(((uint64_t)R[R_EDX] << 32) | R[R_EAX]);
            int64_t d = (int32_t)src;
            if (n == INT64_MIN && d == -1)
                cpu_exception(cpu, EXC_DE, 0);
            int64_t q = n / d, rem = n % d;
            if (q != (int32_t)q)
                cpu_exception(cpu, EXC_DE, 0);
            R[R_EAX] = (uint32_t)q;
            R[R_EDX] = (uint32_t)rem;
        }
        break;
    }
    return next(cpu, i);
}

/* IMUL Gv, Ev [, imm]. */
static struct insn *h_imul_g(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t src = rm_get(cpu, i, sz);
    uint32_t other = i->map ? reg_get(cpu, sz, i->reg) : i->imm;
    if (sz == SZ16) {
        int32_t r = (int16_t)src * (int16_t)other;
        reg_set(cpu, sz, i->reg, (uint32_t)r);
        set_mul_flags(cpu, sz, (uint32_t)r, r != (int16_t)r);
    } else {
        int64_t r = (int64_t)(int32_t)src * (int32_t)other;
        cpu->regs[i->reg] = (uint32_t)r;
        set_mul_flags(cpu, sz, (uint32_t)r, r != (int32_t)r);
    }
    return next(cpu, i);
}

/* ---- Bit operations ---- */

/* BT/BTS/BTR/BTC; kind 0..3 = bt, bts, btr, btc. */
static struct insn *bitop(struct cpu *cpu, struct insn *i, unsigned kind, uint32_t bitoff, bool from_reg)
{
    int sz = opsz(i);
    unsigned bits = 8u << sz;
    uint32_t v, off = 0;
    if (i->pfx & P_MEM) {
        off = ea(cpu, i);
        if (from_reg) {
            /* The register offset is signed and may address outside the operand. */
            int32_t so = sz == SZ16 ? (int16_t)bitoff : (int32_t)bitoff;
            off += (uint32_t)((so >> (sz == SZ16 ? 4 : 5)) * (int32_t)(bits / 8));
            if (!(i->pfx & P_A32))
                off &= 0xffff;
        }
        v = kind ? lk_get(cpu, i, sz, i->seg, off) : mem_get(cpu, sz, i->seg, off);
    } else {
        v = reg_get(cpu, sz, i->rm);
    }
    uint32_t bit = 1u << (bitoff & (bits - 1));
    bool cf = v & bit;
    if (kind) {
        uint32_t nv = kind == 1 ? (v | bit) : kind == 2 ? (v & ~bit) : (v ^ bit);
        if (i->pfx & P_MEM)
            lk_set(cpu, i, sz, i->seg, off, nv);
        else
            reg_set(cpu, sz, i->rm, nv);
    }
    flags_set_arith(cpu, cf ? FLAG_CF : 0, FLAG_CF);
    return next(cpu, i);
}

static struct insn *h_bt_reg(struct cpu *cpu, struct insn *i)
{
    unsigned kind = i->op == 0xa3 ? 0 : i->op == 0xab ? 1 : i->op == 0xb3 ? 2 : 3;
    return bitop(cpu, i, kind, reg_get(cpu, opsz(i), i->reg), true);
}

static struct insn *h_bt_imm(struct cpu *cpu, struct insn *i)
{
    return bitop(cpu, i, i->reg - 4u, i->imm & 0xff, false);
}

static struct insn *h_bsf_bsr(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);
    if (v == 0) {
        flags_set_arith(cpu, FLAG_ZF, FLAG_ZF);
    } else {
        uint32_t idx = i->op == 0xbc ? (uint32_t)__builtin_ctz(v) : 31u - (uint32_t)__builtin_clz(v);
        reg_set(cpu, sz, i->reg, idx);
        flags_set_arith(cpu, 0, FLAG_ZF);
    }
    return next(cpu, i);
}

/* F3 0F B8 POPCNT: ZF for a zero source, the other arithmetic flags cleared. */
static struct insn *h_popcnt(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);
    reg_set(cpu, sz, i->reg, (uint32_t)__builtin_popcount(v));
    flags_set_arith(cpu, v ? 0 : FLAG_ZF, FLAGS_ARITH);
    return next(cpu, i);
}

/* F3 0F BC TZCNT / F3 0F BD LZCNT: the operand width for a zero source (CF set), ZF when the
 * count is zero; OF SF AF PF are undefined (cleared here). */
static struct insn *h_tzcnt_lzcnt(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    unsigned width = sz == SZ16 ? 16 : 32;
    uint32_t v = rm_get(cpu, i, sz);
    uint32_t n = width;
    if (v)
        n = i->op == 0xbc ? (uint32_t)__builtin_ctz(v) : (uint32_t)__builtin_clz(v) - (32 - width);
    reg_set(cpu, sz, i->reg, n);
    flags_set_arith(cpu, (v ? 0 : FLAG_CF) | (n ? 0 : FLAG_ZF), FLAGS_ARITH);
    return next(cpu, i);
}

/* ---- XADD / CMPXCHG / CMPXCHG8B / BSWAP ---- */

static struct insn *h_xadd(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t d = rmw_get(cpu, i, sz, &w), s = reg_get(cpu, sz, i->reg);
    uint32_t r = (d + s) & lf_mask_tab[sz];
    if (i->pfx & P_MEM) {
        lk_set(cpu, i, sz, i->seg, w.off, r);
        reg_set(cpu, sz, i->reg, d);
    } else {
        reg_set(cpu, sz, i->reg, d);
        reg_set(cpu, sz, i->rm, r);
    }
    lf_set(cpu, LF_ADD + sz, d, s, r, FLAGS_ARITH);
    return next(cpu, i);
}

static struct insn *h_cmpxchg(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t d = rmw_get(cpu, i, sz, &w), acc = reg_get(cpu, sz, R_EAX);
    uint32_t r = (acc - d) & lf_mask_tab[sz];
    if (acc == d) {
        rmw_set(cpu, i, sz, &w, reg_get(cpu, sz, i->reg));
    } else {
        if (i->pfx & P_MEM)
            lk_set(cpu, i, sz, i->seg, w.off, d);   /* the destination is always written */
        reg_set(cpu, sz, R_EAX, d);
    }
    lf_set(cpu, LF_SUB + sz, acc, d, r, FLAGS_ARITH);
    return next(cpu, i);
}

static struct insn *h_cmpxchg8b(struct cpu *cpu, struct insn *i)
{
    uint32_t off = ea(cpu, i);
    if ((i->pfx & P_LOCK) && cpu->parallel && !cpu->lk.exclusive) {
        cpu_check_write(cpu, i->seg, off, 8);
        uint64_t *p = (uint64_t *)mmu_fast(cpu, cpu->seg[i->seg].base + off, 8, cpu->sys.wr_kind);
        if (!p)
            locked_need_exclusive(cpu);
        uint64_t m = ((uint64_t)cpu->regs[R_EDX] << 32) | cpu->regs[R_EAX];
        uint64_t nv = ((uint64_t)cpu->regs[R_ECX] << 32) | cpu->regs[R_EBX];
        if (__atomic_compare_exchange_n(p, &m, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            flags_set_arith(cpu, FLAG_ZF, FLAG_ZF);
        } else {
            cpu->regs[R_EAX] = (uint32_t)m;
            cpu->regs[R_EDX] = (uint32_t)(m >> 32);
            flags_set_arith(cpu, 0, FLAG_ZF);
        }
        return next(cpu, i);
    }
    uint64_t m = cpu_read64(cpu, i->seg, off);
    uint64_t cmp = ((uint64_t)cpu->regs[R_EDX] << 32) | cpu->regs[R_EAX];
    if (m == cmp) {
        cpu_write64(cpu, i->seg, off, ((uint64_t)cpu->regs[R_ECX] << 32) | cpu->regs[R_EBX]);
        flags_set_arith(cpu, FLAG_ZF, FLAG_ZF);
    } else {
        cpu_write64(cpu, i->seg, off, m);
        cpu->regs[R_EAX] = (uint32_t)m;
        cpu->regs[R_EDX] = (uint32_t)(m >> 32);
        flags_set_arith(cpu, 0, FLAG_ZF);
    }
    return next(cpu, i);
}

static struct insn *h_bswap(struct cpu *cpu, struct insn *i)
{
    if (i->pfx & P_OP32)
        cpu->regs[i->reg] = __builtin_bswap32(cpu->regs[i->reg]);
    else
        reg_set(cpu, SZ16, i->reg, 0);    /* undefined; P6 clears the word */
    return next(cpu, i);
}

/* ---- BCD and accumulator conversions ---- */

static void set_szp8(struct cpu *cpu, uint32_t al, uint32_t other, uint32_t other_mask)
{
    flags_set_arith(cpu, other, other_mask);
    lf_set(cpu, LF_LOGIC + SZ8, 0, 0, al & 0xff, FLAG_SF | FLAG_ZF | FLAG_PF);
}

static struct insn *h_daa_das(struct cpu *cpu, struct insn *i)
{
    uint32_t al = cpu->regs[R_EAX] & 0xff, old_al = al;
    bool old_cf = get_cf(cpu), af = get_af(cpu), cf = false;
    bool das = i->op == 0x2f;
    if ((al & 0xf) > 9 || af) {
        cf = old_cf || (das ? al < 6 : al + 6 > 0xff);
        al = (das ? al - 6 : al + 6) & 0xff;
        af = true;
    } else {
        af = false;
    }
    if (old_al > 0x99 || old_cf) {
        al = (das ? al - 0x60 : al + 0x60) & 0xff;
        cf = true;
    } else if (!das) {
        cf = false;
    }
    *r8p(cpu, 0) = (uint8_t)al;
    /* OF is undefined: P6 leaves it as the last addition/subtraction would. */
    set_szp8(cpu, al, (cf ? FLAG_CF : 0) | (af ? FLAG_AF : 0), FLAG_CF | FLAG_AF | FLAG_OF);
    return next(cpu, i);
}

static struct insn *h_aaa_aas(struct cpu *cpu, struct insn *i)
{
    uint32_t ax = cpu->regs[R_EAX] & 0xffff;
    bool adj = (ax & 0xf) > 9 || get_af(cpu);
    if (adj) {
        if (i->op == 0x37)
            ax += 0x106;
        else
            ax = (ax - 6 - 0x100) & 0xffff;
    }
    ax = (ax & 0xff0f);
    reg_set(cpu, SZ16, R_EAX, ax);
    set_szp8(cpu, ax, adj ? (FLAG_CF | FLAG_AF) : 0, FLAG_CF | FLAG_AF | FLAG_OF);
    return next(cpu, i);
}

static struct insn *h_aam(struct cpu *cpu, struct insn *i)
{
    uint32_t base = i->imm & 0xff, al = cpu->regs[R_EAX] & 0xff;
    if (base == 0)
        cpu_exception(cpu, EXC_DE, 0);
    uint32_t r = al % base;
    reg_set(cpu, SZ16, R_EAX, ((al / base) << 8) | r);
    set_szp8(cpu, r, 0, FLAG_CF | FLAG_AF | FLAG_OF);
    return next(cpu, i);
}

static struct insn *h_aad(struct cpu *cpu, struct insn *i)
{
    uint32_t base = i->imm & 0xff, ax = cpu->regs[R_EAX];
    uint32_t a = ax & 0xff, b = (((ax >> 8) & 0xff) * base) & 0xff;
    uint32_t r = (a + b) & 0xff;
    reg_set(cpu, SZ16, R_EAX, r);
    /* The flags are those of the byte addition AL + AH*imm (CF, OF, AF undefined). */
    lf_set(cpu, LF_ADD + SZ8, a, b, r, FLAGS_ARITH);
    return next(cpu, i);
}

static struct insn *h_salc(struct cpu *cpu, struct insn *i)
{
    *r8p(cpu, 0) = get_cf(cpu) ? 0xff : 0;
    return next(cpu, i);
}

static struct insn *h_xlat(struct cpu *cpu, struct insn *i)
{
    uint32_t off = cpu->regs[R_EBX] + (cpu->regs[R_EAX] & 0xff);
    if (!(i->pfx & P_A32))
        off &= 0xffff;
    *r8p(cpu, 0) = cpu_read8(cpu, i->seg, off);
    return next(cpu, i);
}

static struct insn *h_cbw(struct cpu *cpu, struct insn *i)
{
    if (i->pfx & P_OP32)
        cpu->regs[R_EAX] = (uint32_t)(int16_t)cpu->regs[R_EAX];
    else
        reg_set(cpu, SZ16, R_EAX, (uint32_t)(int8_t)cpu->regs[R_EAX]);
    return next(cpu, i);
}

static struct insn *h_cwd(struct cpu *cpu, struct insn *i)
{
    if (i->pfx & P_OP32)
        cpu->regs[R_EDX] = (int32_t)cpu->regs[R_EAX] < 0 ? 0xffffffffu : 0;
    else
        reg_set(cpu, SZ16, R_EDX, (cpu->regs[R_EAX] & 0x8000) ? 0xffff : 0);
    return next(cpu, i);
}

/* ---- BOUND / ENTER / LEAVE ---- */

static struct insn *h_bound(struct cpu *cpu, struct insn *i)
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

static struct insn *h_enter(struct cpu *cpu, struct insn *i)
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

static struct insn *h_leave(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t sp = cpu->regs[R_EBP] & sp_mask(cpu);
    uint32_t v = mem_get(cpu, sz, SEG_SS, sp);
    sp_set(cpu, sp + (sz == SZ32 ? 4 : 2));
    reg_set(cpu, sz, R_EBP, v);
    return next(cpu, i);
}

/* ---- String instructions ----
 * REP forms run iterations in a loop, updating ECX/ESI/EDI after each, so a fault leaves
 * the progress visible and EIP at the instruction.  They stop without retiring (and resume
 * later at the same EIP) after STRING_BATCH iterations when an event is pending, and after
 * STRING_YIELD iterations anyway so that cpu_run() returns to the main loop. */

#define STRING_BATCH 4096
#define STRING_YIELD 65536

/* Interrupt a long REP: not retired, EIP unchanged; cpu_run() returns when no event waits. */
static inline bool rep_should_stop(struct cpu *cpu, unsigned batch)
{
    if (__builtin_expect(batch <= STRING_BATCH, 1))
        return false;
    if (cpu->interrupt_request)
        return true;
    if (batch > STRING_YIELD) {
        cpu->exec.yield = true;
        return true;
    }
    return false;
}

static inline uint32_t amask_of(const struct insn *i)
{
    return (i->pfx & P_A32) ? 0xffffffffu : 0xffffu;
}

static inline void areg_set(struct cpu *cpu, const struct insn *i, unsigned r, uint32_t v)
{
    if (i->pfx & P_A32)
        cpu->regs[r] = v;
    else
        cpu->regs[r] = (cpu->regs[r] & 0xffff0000u) | (v & 0xffff);
}

enum { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS, S_INS, S_OUTS };

/* REP MOVS / REP STOS with 32-bit addressing and DF clear, fast path: as many iterations as
 * stay within the current source and destination pages, done at once on host memory when
 * both pages are plain RAM in the TLB (no MMIO, no code page, no watchpoint, no #AC) and
 * the segment windows take the whole run.  Returns the iterations done, 0 when the next one
 * must take the element-by-element path (which faults, stops or yields at the exact
 * iteration).  batch: iterations of this instruction so far, as rep_should_stop counts
 * them: a run never passes the STRING_YIELD stop, and past STRING_BATCH a pending event
 * leaves the stop to the slow path. */
static uint32_t rep_chunk(struct cpu *cpu, const struct insn *i, int kind, int sz, unsigned batch)
{
    uint32_t size = 1u << sz, n = cpu->regs[R_ECX];
    if (batch >= STRING_YIELD || (batch >= STRING_BATCH && cpu->interrupt_request))
        return 0;
    if (n > STRING_YIELD - batch)
        n = STRING_YIELD - batch;
    uint32_t di = cpu->regs[R_EDI], lin_d = cpu->seg[SEG_ES].base + di;
    uint32_t room = (4096 - (lin_d & 4095)) / size;
    if (n > room)
        n = room;
    uint32_t si = cpu->regs[R_ESI], lin_s = cpu->seg[i->seg].base + si;
    if (kind == S_MOVS) {
        room = (4096 - (lin_s & 4095)) / size;
        if (n > room)
            n = room;
    }
    if (n == 0)
        return 0;
    uint32_t bytes = n * size;
    if (!mmu_seg_wr_ok(cpu, SEG_ES, di, bytes))
        return 0;
    uint8_t *d = mmu_fast(cpu, lin_d, size, cpu->sys.wr_kind);
    if (!d)
        return 0;
    if (kind == S_MOVS) {
        if (!mmu_seg_rd_ok(cpu, i->seg, si, bytes))
            return 0;
        const uint8_t *src = mmu_fast(cpu, lin_s, size, cpu->sys.rd_kind);
        /* A destination just above the source repeats a pattern: element by element. */
        if (!src || (d > src && d < src + bytes))
            return 0;
        memmove(d, src, bytes);
        cpu->regs[R_ESI] = si + bytes;
    } else if (sz == SZ8) {
        memset(d, (int)(cpu->regs[R_EAX] & 0xff), bytes);
    } else {
        uint32_t v = cpu->regs[R_EAX];
        for (uint32_t k = 0; k < bytes; k += size)
            memcpy(d + k, &v, size);
    }
    cpu->regs[R_EDI] = di + bytes;
    cpu->regs[R_ECX] -= n;
    return n;
}

static inline struct insn *string_op(struct cpu *cpu, struct insn *i, int kind)
{
    int sz = bwsz(i);
    uint32_t am = amask_of(i);
    uint32_t step = 1u << sz;
    if (cpu->eflags & FLAG_DF)
        step = -step;
    bool rep = i->pfx & (P_REP | P_REPNE);
    uint16_t port = (uint16_t)cpu->regs[R_EDX];
    if (kind == S_INS || kind == S_OUTS)
        cpu_check_io(cpu, port, 1u << sz);
    unsigned batch = 0;
    bool fast = rep && (kind == S_MOVS || kind == S_STOS) && (i->pfx & P_A32) && !(cpu->eflags & FLAG_DF);
    for (;;) {
        if (rep) {
            if ((cpu->regs[R_ECX] & am) == 0)
                break;
            if (fast) {
                uint32_t done = rep_chunk(cpu, i, kind, sz, batch);
                if (done) {
                    batch += done;
                    continue;
                }
            }
            if (rep_should_stop(cpu, ++batch)) {
                cpu->insn_count--;       /* not retired yet: resumes at the same EIP */
                return NULL;
            }
        }
        uint32_t si = cpu->regs[R_ESI] & am, di = cpu->regs[R_EDI] & am;
        bool stop = false;
        switch (kind) {
        case S_MOVS:
            mem_set(cpu, sz, SEG_ES, di, mem_get(cpu, sz, i->seg, si));
            areg_set(cpu, i, R_ESI, si + step);
            areg_set(cpu, i, R_EDI, di + step);
            break;
        case S_STOS:
            mem_set(cpu, sz, SEG_ES, di, reg_get(cpu, sz, R_EAX));
            areg_set(cpu, i, R_EDI, di + step);
            break;
        case S_LODS:
            reg_set(cpu, sz, R_EAX, mem_get(cpu, sz, i->seg, si));
            areg_set(cpu, i, R_ESI, si + step);
            break;
        case S_CMPS: {
            uint32_t a = mem_get(cpu, sz, i->seg, si), b = mem_get(cpu, sz, SEG_ES, di);
            lf_set(cpu, LF_SUB + sz, a, b, (a - b) & lf_mask_tab[sz], FLAGS_ARITH);
            areg_set(cpu, i, R_ESI, si + step);
            areg_set(cpu, i, R_EDI, di + step);
            stop = true;
            break;
        }
        case S_SCAS: {
            uint32_t a = reg_get(cpu, sz, R_EAX), b = mem_get(cpu, sz, SEG_ES, di);
            lf_set(cpu, LF_SUB + sz, a, b, (a - b) & lf_mask_tab[sz], FLAGS_ARITH);
            areg_set(cpu, i, R_EDI, di + step);
            stop = true;
            break;
        }
        case S_INS:
            cpu_check_write(cpu, SEG_ES, di, 1u << sz);
            mem_set(cpu, sz, SEG_ES, di, io_read(cpu->io, port, 1u << sz));
            areg_set(cpu, i, R_EDI, di + step);
            break;
        default: /* OUTS */
            io_write(cpu->io, port, mem_get(cpu, sz, i->seg, si), 1u << sz);
            areg_set(cpu, i, R_ESI, si + step);
            break;
        }
        if (!rep)
            break;
        areg_set(cpu, i, R_ECX, (cpu->regs[R_ECX] & am) - 1);
        if (stop) {
            bool zf = cpu->exec.lf_result == 0;
            if ((i->pfx & P_REP) ? !zf : zf)
                break;
        }
    }
    if (kind == S_INS || kind == S_OUTS)
        return leave_trace(cpu, i);
    return next(cpu, i);
}

static struct insn *h_movs(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_MOVS); }
static struct insn *h_cmps(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_CMPS); }
static struct insn *h_stos(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_STOS); }
static struct insn *h_lods(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_LODS); }
static struct insn *h_scas(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_SCAS); }
static struct insn *h_ins(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_INS); }
static struct insn *h_outs(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_OUTS); }

/* REP STOSD / REP MOVSD with 32-bit addressing: the common memset/memcpy (string_op's
 * page-at-a-time path). */
static struct insn *h_rep_stosd32(struct cpu *cpu, struct insn *i)
{
    return string_op(cpu, i, S_STOS);
}

static struct insn *h_rep_movsd32(struct cpu *cpu, struct insn *i)
{
    return string_op(cpu, i, S_MOVS);
}

/* ---- Port I/O ---- */

static struct insn *h_in(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint16_t port = (i->op & 8) ? (uint16_t)cpu->regs[R_EDX] : (uint16_t)(i->imm & 0xff);
    cpu_check_io(cpu, port, 1u << sz);
    reg_set(cpu, sz, R_EAX, io_read(cpu->io, port, 1u << sz));
    return leave_trace(cpu, i);
}

static struct insn *h_out(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint16_t port = (i->op & 8) ? (uint16_t)cpu->regs[R_EDX] : (uint16_t)(i->imm & 0xff);
    cpu_check_io(cpu, port, 1u << sz);
    io_write(cpu->io, port, reg_get(cpu, sz, R_EAX), 1u << sz);
    return leave_trace(cpu, i);
}

/* ---- Interrupts, far transfers, HLT ---- */

static struct insn *h_hlt(struct cpu *cpu, struct insn *i)
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

static struct insn *h_int(struct cpu *cpu, struct insn *i)
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

static struct insn *h_iret(struct cpu *cpu, struct insn *i)
{
    if (cpu->vm86 && iopl(cpu) < 3)
        raise_gp0(cpu);
    flags_materialize(cpu);
    cpu_iret(cpu, i->pfx & P_OP32, next_eip(cpu, i));
    return NULL;
}

static struct insn *h_jmp_far(struct cpu *cpu, struct insn *i)
{
    cpu_far_jmp(cpu, (uint16_t)i->imm2, i->imm, next_eip(cpu, i));
    return NULL;
}

static struct insn *h_call_far(struct cpu *cpu, struct insn *i)
{
    cpu_far_call(cpu, (uint16_t)i->imm2, i->imm, i->pfx & P_OP32, next_eip(cpu, i));
    return NULL;
}

/* FF /3 and /5: far CALL/JMP through a memory pointer. */
static struct insn *h_far_ind(struct cpu *cpu, struct insn *i)
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

static struct insn *h_ret_far(struct cpu *cpu, struct insn *i)
{
    cpu_far_ret(cpu, i->pfx & P_OP32, i->op == 0xca ? (uint16_t)i->imm : 0);
    return NULL;
}

/* LES LDS LSS LFS LGS. */
static struct insn *h_lseg(struct cpu *cpu, struct insn *i)
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

static struct insn *h_grp6(struct cpu *cpu, struct insn *i)
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
static struct insn *h_clac_stac(struct cpu *cpu, struct insn *i)
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
static struct insn *h_grp7(struct cpu *cpu, struct insn *i)
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

static struct insn *h_lar_lsl(struct cpu *cpu, struct insn *i)
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

static struct insn *h_arpl(struct cpu *cpu, struct insn *i)
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

static struct insn *h_clts(struct cpu *cpu, struct insn *i)
{
    need_cpl0(cpu);
    cpu_write_cr(cpu, 0, cpu->cr0 & ~CR0_TS);
    return next(cpu, i);
}

static struct insn *h_priv_nop(struct cpu *cpu, struct insn *i)   /* INVD, WBINVD */
{
    need_cpl0(cpu);
    return next(cpu, i);
}

static struct insn *h_mov_cr_dr(struct cpu *cpu, struct insn *i)
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

static struct insn *h_msr(struct cpu *cpu, struct insn *i)
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

static struct insn *h_rdtsc(struct cpu *cpu, struct insn *i)
{
    if ((cpu->cr4 & CR4_TSD) && cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        raise_gp0(cpu);
    uint64_t t = cpu_read_tsc(cpu);
    cpu->regs[R_EAX] = (uint32_t)t;
    cpu->regs[R_EDX] = (uint32_t)(t >> 32);
    return next(cpu, i);
}

static struct insn *h_rdpmc(struct cpu *cpu, struct insn *i)
{
    if (!(cpu->cr4 & CR4_PCE) && cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        raise_gp0(cpu);
    if (cpu->regs[R_ECX] > 1)
        raise_gp0(cpu);
    cpu->regs[R_EAX] = 0;     /* no performance counters are modelled */
    cpu->regs[R_EDX] = 0;
    return next(cpu, i);
}

static struct insn *h_cpuid(struct cpu *cpu, struct insn *i)
{
    uint32_t out[4];
    cpu_cpuid(cpu, cpu->regs[R_EAX], cpu->regs[R_ECX], out);
    cpu->regs[R_EAX] = out[0];
    cpu->regs[R_EBX] = out[1];
    cpu->regs[R_ECX] = out[2];
    cpu->regs[R_EDX] = out[3];
    return next(cpu, i);
}

static struct insn *h_sysenter(struct cpu *cpu, struct insn *i)
{
    flags_materialize(cpu);
    if (i->op == 0x34)
        cpu_sysenter(cpu);
    else
        cpu_sysexit(cpu);
    return NULL;
}

/* ---- x87 and SIMD: handed to fpu ---- */

static struct insn *h_fpu(struct cpu *cpu, struct insn *i)
{
    bool mem = i->pfx & P_MEM;
    cpu_fpu_op(cpu, i->op, i->modrm, mem ? i->seg : -1, mem ? ea(cpu, i) : 0, i->pfx & P_OP32);
    return next(cpu, i);
}

static struct insn *h_fwait(struct cpu *cpu, struct insn *i)
{
    cpu_fpu_wait(cpu);
    return next(cpu, i);
}

static struct insn *h_simd(struct cpu *cpu, struct insn *i)
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

/* ---- Handler selection ---- */

static bool model_has(const struct cpu *cpu, const struct opcode_info *e)
{
    static const uint8_t family_level[16] = { [4] = LVL_486, [5] = LVL_P5 };
    unsigned fam = cpu->exec.family;
    unsigned level = fam >= 6 ? LVL_P6 : fam < 16 ? family_level[fam] : LVL_P6;
    if (fam == 3)
        level = LVL_386;
    if (e->cpuid_bit >= 0)
        return (cpu->exec.features >> e->cpuid_bit) & 1;
    if (e->level == LVL_P5 && e->name && !strcmp(e->name, "cpuid"))
        return cpu->model ? cpu->model->has_cpuid : true;   /* late 486s have CPUID too */
    return e->level <= level;
}

static insn_fn select_map0(struct cpu *cpu, struct insn *i)
{
    uint8_t op = i->op;
    bool mem = i->pfx & P_MEM;
    int sz = (op & 1) ? opsz(i) : SZ8;
    (void)cpu;
    if (op < 0x40 && (op & 7) < 6) {
        unsigned alu = op >> 3;
        switch (op & 7) {
        case 0: case 1: return alu_table[alu][sz][mem ? F_EGM : F_EGR];
        case 2: case 3: return alu_table[alu][sz][mem ? F_GEM : F_GER];
        default:
            i->rm = R_EAX;
            return alu_table[alu][sz][F_EIR];
        }
    }
    switch (op) {
    case 0x06: case 0x0e: case 0x16: case 0x1e: return h_push_seg;
    case 0x07: case 0x17: case 0x1f: return h_pop_seg;
    case 0x27: case 0x2f: return h_daa_das;
    case 0x37: case 0x3f: return h_aaa_aas;
    case 0x40 ... 0x47: return (i->pfx & P_OP32) ? h_inc_r32 : h_inc_r16;
    case 0x48 ... 0x4f: return (i->pfx & P_OP32) ? h_dec_r32 : h_dec_r16;
    case 0x50 ... 0x57: return (i->pfx & P_OP32) ? h_push_r32 : h_push_r16;
    case 0x58 ... 0x5f: return (i->pfx & P_OP32) ? h_pop_r32 : h_pop_r16;
    case 0x60: return h_pusha;
    case 0x61: return h_popa;
    case 0x62: return h_bound;
    case 0x63: return h_arpl;
    case 0x68: return h_push_imm;
    case 0x6a: i->imm = (uint32_t)(int8_t)i->imm; return h_push_imm;
    case 0x69: return h_imul_g;
    case 0x6b: i->imm = (uint32_t)(int8_t)i->imm; return h_imul_g;
    case 0x6c: case 0x6d: return h_ins;
    case 0x6e: case 0x6f: return h_outs;
    case 0x70 ... 0x7f: return jcc_table[op & 15];
    case 0x80: case 0x81: case 0x82: case 0x83:
        if (op == 0x83)
            i->imm = (uint32_t)(int8_t)i->imm & lf_mask_tab[sz];
        return alu_table[i->reg][op == 0x82 ? SZ8 : sz][mem ? F_EIM : F_EIR];
    case 0x84: case 0x85: return h_test;
    case 0x86: case 0x87: return h_xchg;
    case 0x88 ... 0x8b: {
        bool to_reg = op & 2;
        if (!mem) {
            if (to_reg) {   /* G <- E: swap so the E<-G register handler applies */
                uint8_t t = i->reg;
                i->reg = i->rm;
                i->rm = t;
            }
            return mov_table[sz][0];
        }
        return to_reg ? mov_table[sz][2] : mov_table[sz][1];
    }
    case 0x8c: return h_mov_from_seg;
    case 0x8d: return h_lea;
    case 0x8e: return h_mov_to_seg;
    case 0x8f: return i->reg == 0 ? h_pop_rm : h_ud;
    case 0x90: return h_nop;                 /* also PAUSE (F3 90) */
    case 0x91 ... 0x97: return h_xchg_ax;
    case 0x98: return h_cbw;
    case 0x99: return h_cwd;
    case 0x9a: return h_call_far;
    case 0x9b: return h_fwait;
    case 0x9c: return h_pushf;
    case 0x9d: return h_popf;
    case 0x9e: return h_sahf;
    case 0x9f: return h_lahf;
    case 0xa0 ... 0xa3: return h_mov_moffs;
    case 0xa4: case 0xa5:
        if (op == 0xa5 && (i->pfx & (P_REP | P_REPNE)) && (i->pfx & P_A32) && (i->pfx & P_OP32))
            return h_rep_movsd32;
        return h_movs;
    case 0xa6: case 0xa7: return h_cmps;
    case 0xa8: case 0xa9: return h_test_ai;
    case 0xaa: case 0xab:
        if (op == 0xab && (i->pfx & (P_REP | P_REPNE)) && (i->pfx & P_A32) && (i->pfx & P_OP32))
            return h_rep_stosd32;
        return h_stos;
    case 0xac: case 0xad: return h_lods;
    case 0xae: case 0xaf: return h_scas;
    case 0xb0 ... 0xb7: return h_mov_r8_imm;
    case 0xb8 ... 0xbf: return (i->pfx & P_OP32) ? h_mov_r32_imm : h_mov_r16_imm;
    case 0xc0: case 0xc1: case 0xd0 ... 0xd3:
        if ((op == 0xc1 || op == 0xd1) && !mem && (i->pfx & P_OP32) && i->reg >= 4)
            return h_shift_r32_imm;
        if (op == 0xd3 && !mem && (i->pfx & P_OP32) && i->reg >= 4)
            return h_shift_r32_cl;
        return h_shift;
    case 0xc2: case 0xc3:
        return (op == 0xc3 && (i->pfx & P_OP32) && cpu->code32 && cpu->stack32) ? h_ret32 : h_ret;
    case 0xc4: case 0xc5: return h_lseg;
    case 0xc6: case 0xc7:
        if (i->reg != 0)
            return h_ud;
        return mov_table[sz][mem ? 4 : 3];
    case 0xc8: return h_enter;
    case 0xc9: return h_leave;
    case 0xca: case 0xcb: return h_ret_far;
    case 0xcc: case 0xcd: case 0xce: case 0xf1: return h_int;
    case 0xcf: return h_iret;
    case 0xd4: return h_aam;
    case 0xd5: return h_aad;
    case 0xd6: return h_salc;
    case 0xd7: return h_xlat;
    case 0xd8 ... 0xdf: return h_fpu;
    case 0xe0 ... 0xe3: return h_loop;
    case 0xe4: case 0xe5: case 0xec: case 0xed: return h_in;
    case 0xe6: case 0xe7: case 0xee: case 0xef: return h_out;
    case 0xe8: return ((i->pfx & P_OP32) && cpu->code32 && cpu->stack32) ? h_call_rel32 : h_call_rel;
    case 0xe9: case 0xeb: return h_jmp_rel;
    case 0xea: return h_jmp_far;
    case 0xf4: return h_hlt;
    case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd: return h_flagop;
    case 0xf6: case 0xf7:
        switch (i->reg) {
        case 0: case 1: return h_test;
        case 2: return h_not;
        case 3: return h_neg;
        default: return h_muldiv;
        }
    case 0xfa: return h_cli;
    case 0xfb: return h_sti;
    case 0xfe:
        return i->reg < 2 ? h_incdec_rm : h_ud;
    case 0xff:
        switch (i->reg) {
        case 0: case 1: return h_incdec_rm;
        case 2: return h_call_ind;
        case 3: case 5: return mem ? h_far_ind : h_ud;
        case 4: return h_jmp_ind;
        case 6: return h_push_rm;
        default: return h_ud;
        }
    }
    return h_ud;
}

static insn_fn select_map1(struct cpu *cpu, struct insn *i)
{
    uint8_t op = i->op;
    bool mem = i->pfx & P_MEM;
    (void)cpu;
    switch (op) {
    case 0x00: return h_grp6;
    case 0x01: return h_grp7;
    case 0x02: case 0x03: return h_lar_lsl;
    case 0x06: return h_clts;
    case 0x08: case 0x09: return h_priv_nop;
    case 0x18 ... 0x1f: return h_nop;
    case 0x20 ... 0x23: return h_mov_cr_dr;
    case 0x30: case 0x32: return h_msr;
    case 0x31: return h_rdtsc;
    case 0x33: return h_rdpmc;
    case 0x34: case 0x35: return h_sysenter;
    case 0x05: case 0x07: {
        insn_fn fn = syscall_select_handler(cpu, i);
        return fn ? fn : h_ud;
    }
    case 0x40 ... 0x4f: return h_cmovcc;
    case 0x80 ... 0x8f: return jcc_table[op & 15];
    case 0x90 ... 0x9f: return h_setcc;
    case 0xa0: case 0xa8: return h_push_seg;
    case 0xa1: case 0xa9: return h_pop_seg;
    case 0xa2: return h_cpuid;
    case 0xa3: case 0xab: case 0xb3: case 0xbb: return h_bt_reg;
    case 0xa4: case 0xa5: case 0xac: case 0xad: return h_shxd;
    case 0xaf: return h_imul_g;
    case 0xb0: case 0xb1: return h_cmpxchg;
    case 0xb2: case 0xb4: case 0xb5: return h_lseg;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf:
        if (i->pfx & P_OP32) {
            static const insn_fn mem_forms[4] = { h_movzx_r32_m8, h_movzx_r32_m16, h_movsx_r32_m8, h_movsx_r32_m16 };
            if (mem)
                return mem_forms[((op >> 2) & 2) | (op & 1)];
            if (op == 0xb6)
                return h_movzx_r32_r8;
            if (op == 0xb7)
                return h_movzx_r32_r16;
        }
        return h_movx;
    case 0xba: return i->reg >= 4 ? h_bt_imm : h_ud;
    case 0xbc: case 0xbd: return h_bsf_bsr;
    case 0xc0: case 0xc1: return h_xadd;
    case 0xc7: return (i->reg == 1 && mem) ? h_cmpxchg8b : h_ud;
    case 0xc8 ... 0xcf: return h_bswap;
    }
    return h_ud;
}

void decode_select_handler(struct cpu *cpu, struct insn *i)
{
    if ((i->map == 2 && i->op >= 0xf0) || i->vex) {   /* integer forms of map 2, VEX (bmi.c) */
        insn_fn fn = (i->pfx & P_LOCK) ? NULL : bmi_select_handler(cpu, i);
        i->fn = fn ? fn : h_ud;
        i->ea_base = (i->pfx & P_A32) && i->base != NOREG && i->index == NOREG;
        return;
    }
    if (i->map == 1 && (i->op == 0xae || i->op == 0x01 || i->op == 0xc7)) {   /* XSAVE family (xsave.c) */
        bool claimed;
        insn_fn fn = xsave_select_handler(cpu, i, &claimed);
        if (claimed) {
            i->fn = fn ? fn : h_ud;
            return;
        }
    }
    if (i->map >= 2 || (i->map == 1 && (opcode_lookup(1, i->op, -1)->attr & OA_INVALID) &&
                        simd_opcode_claimed(1, i->op))) {
        i->fn = (i->pfx & P_LOCK) ? h_ud : h_simd;
        return;
    }
    if (i->map == 1 && i->op == 0x01 && (i->modrm == 0xca || i->modrm == 0xcb)) {
        bool smap = (cpu->model->leaf7_ebx & CPUID_7EBX_SMAP) && !(i->pfx & P_LOCK);
        i->fn = smap ? h_clac_stac : h_ud;
        return;
    }
    if (i->map == 1 && (i->op == 0xc7 || i->op == 0x01) && (i->pfx & P_MEM) == 0) {
        bool claimed;
        insn_fn fn = rdrand_select_handler(cpu, i, &claimed);
        if (claimed) {
            i->fn = fn ? fn : h_ud;
            return;
        }
    }
    const struct opcode_info *e = opcode_lookup(i->map, i->op, i->reg);
    /* F3 0F B8/BC/BD: POPCNT, TZCNT, LZCNT when the model has them (else #UD, BSF, BSR). */
    const struct opcode_info *f3 = (i->map == 1 && (i->pfx & P_REP)) ? opcode_lookup_f3(1, i->op) : NULL;
    if (f3 && (cpu->exec.ext_features >> f3->ext & 1))
        e = f3;
    else
        f3 = NULL;
    if ((e->attr & OA_INVALID) || !model_has(cpu, e)) {
        i->fn = h_ud;
        return;
    }
    bool mem = i->pfx & P_MEM;
    if ((e->attr & OA_MEMONLY) && !mem) {
        i->fn = h_ud;
        return;
    }
    /* LOCK: only on a lockable instruction with a memory destination. */
    if ((i->pfx & P_LOCK) && (!(e->attr & OA_LOCK) || !mem)) {
        i->fn = h_ud;
        return;
    }
    i->fn = i->map == 0 ? select_map0(cpu, i) : select_map1(cpu, i);
    if (cpu->parallel && i->map == 0 && (i->op == 0x86 || i->op == 0x87) && mem)
        i->pfx |= P_LOCK;   /* XCHG with memory always locks the bus */
    if (f3)
        i->fn = i->op == 0xb8 ? h_popcnt : h_tzcnt_lzcnt;
    /* Same result as the general form of ea(), in fewer steps. */
    i->ea_base = (i->pfx & P_A32) && i->base != NOREG && i->index == NOREG;
}

bool exec_insn_ends_trace(const struct insn *i)
{
    if (i->fn == h_ud || i->fn == h_gp0)
        return true;
    if (i->map >= 2)
        return false;
    /* Loads of data segment registers keep the trace going (only SS changes the mode). */
    if (i->fn == h_mov_to_seg)
        return i->reg == SEG_SS;
    if (i->fn == h_pop_seg)
        return i->map == 0 && i->op == 0x17;
    if (i->fn == h_lseg)
        return i->map == 1 && i->op == 0xb2;
    const struct opcode_info *e = opcode_lookup(i->map, i->op, i->reg);
    if (e->attr & (OA_BRANCH | OA_PRIV))
        return true;
    /* Port I/O and interrupt-flag changes return to the run loop to look at events. */
    return i->fn == h_in || i->fn == h_out || i->fn == h_ins || i->fn == h_outs || i->fn == h_sti;
}

/* ---- Forms the JIT inlines (see exec_int.h) ---- */

void exec_insn_form(const struct insn *i, struct insn_form *f)
{
    memset(f, 0, sizeof(*f));
    /* LOCKed forms stay in their handlers (host atomics with other vCPU threads). */
    if (i->pfx & P_LOCK)
        return;
    insn_fn fn = i->fn;
    bool op32 = i->pfx & P_OP32, a32 = i->pfx & P_A32;
    static const insn_fn loadx[4] = { h_movzx_r32_m8, h_movzx_r32_m16, h_movsx_r32_m8, h_movsx_r32_m16 };
    for (unsigned k = 0; k < 4; k++) {
        if (fn == loadx[k] && a32) {
            f->kind = FORM_LOADX;
            f->sz = k & 1 ? SZ16 : SZ8;
            f->sx = k >= 2;
            f->dst = i->reg;
            return;
        }
    }
    if (fn == h_movzx_r32_r8 || fn == h_movzx_r32_r16) {
        f->kind = FORM_MOVX_RR;
        f->sz = fn == h_movzx_r32_r8 ? SZ8 : SZ16;
        f->dst = i->reg;
        f->src = i->rm;
        return;
    }
    if (fn == h_shift_r32_imm || fn == h_shift_r32_cl) {
        f->kind = FORM_SHIFT;
        f->sz = SZ32;
        f->alu = i->reg;
        f->dst = i->rm;
        f->cl = fn == h_shift_r32_cl;
        f->count = i->op == 0xd1 ? 1 : (i->imm & 0x1f);
        return;
    }
    if (fn == h_shift && op32 && !(i->pfx & P_MEM) && i->reg < 2 &&
        (i->op == 0xc1 || i->op == 0xd1 || i->op == 0xd3)) {
        f->kind = FORM_ROT;
        f->sz = SZ32;
        f->alu = i->reg;
        f->dst = i->rm;
        f->cl = i->op == 0xd3;
        f->count = i->op == 0xd1 ? 1 : (i->imm & 0x1f);
        return;
    }
    if (fn == h_mov_moffs && a32) {
        /* MOV AL/AX/EAX <-> [moffs]: a load or store at [disp] (no base, no index). */
        f->kind = i->op < 0xa2 ? FORM_LOAD : FORM_STORE;
        f->sz = (unsigned)bwsz(i);
        f->dst = f->src = R_EAX;
        return;
    }
    if (fn == h_test && (i->pfx & P_MEM) && a32) {
        f->kind = (i->op == 0x84 || i->op == 0x85) ? FORM_ALU_MR : FORM_ALU_MI;
        f->alu = 4;
        f->test = true;
        f->sz = (unsigned)bwsz(i);
        f->dst = f->src = i->reg;
        return;
    }
    if (fn == h_imul_g && op32 && !(i->pfx & P_MEM)) {
        f->kind = FORM_IMUL;
        f->sz = SZ32;
        f->dst = i->reg;
        f->src = i->rm;
        f->imm = i->map == 0;
        return;
    }
    if (fn == h_inc_r32 || fn == h_dec_r32) {
        f->kind = FORM_INCDEC;
        f->sz = SZ32;
        f->alu = fn == h_dec_r32;
        f->dst = i->reg;
        return;
    }
    if (fn == h_push_r32 || fn == h_pop_r32) {
        f->kind = fn == h_push_r32 ? FORM_PUSH : FORM_POP;
        f->sz = SZ32;
        f->dst = f->src = i->reg;
        return;
    }
    if ((fn == h_cmovcc && op32) || fn == h_setcc) {
        if (i->pfx & P_MEM)
            return;
        f->kind = fn == h_cmovcc ? FORM_CMOV : FORM_SETCC;
        f->sz = fn == h_cmovcc ? SZ32 : SZ8;
        f->dst = fn == h_cmovcc ? i->reg : i->rm;
        f->src = i->rm;
        f->cc = i->op & 15;
        return;
    }
    if (fn == h_call_rel32 || fn == h_ret32) {
        f->kind = fn == h_call_rel32 ? FORM_CALL : FORM_RET;
        f->sz = SZ32;
        return;
    }
    for (unsigned sz = SZ8; sz <= SZ32; sz++) {
        const insn_fn *m = mov_table[sz];
        f->sz = sz;
        if (fn == m[0] || fn == m[3]) {
            f->kind = fn == m[0] ? FORM_MOV_RR : FORM_MOV_RI;
            f->dst = i->rm;
            f->src = i->reg;
            return;
        }
        if ((fn == m[1] || fn == m[2] || fn == m[4]) && a32) {
            f->kind = fn == m[1] ? FORM_STORE : fn == m[2] ? FORM_LOAD : FORM_STORE_IMM;
            f->dst = f->src = i->reg;
            return;
        }
        for (unsigned op = 0; op < 8; op++) {
            const insn_fn *a = alu_table[op][sz];
            if ((fn == a[F_GEM] || fn == a[F_EGM] || fn == a[F_EIM]) && a32) {
                f->kind = fn == a[F_GEM] ? FORM_ALU_RM : fn == a[F_EGM] ? FORM_ALU_MR : FORM_ALU_MI;
                f->alu = op;
                f->dst = f->src = i->reg;
                return;
            }
            if (fn != a[F_EGR] && fn != a[F_GER] && fn != a[F_EIR])
                continue;
            f->kind = fn == a[F_EIR] ? FORM_ALU_RI : FORM_ALU_RR;
            f->alu = op;
            f->dst = fn == a[F_GER] ? i->reg : i->rm;
            f->src = fn == a[F_GER] ? i->rm : i->reg;
            return;
        }
    }
    if (fn == h_mov_r32_imm || fn == h_mov_r16_imm || fn == h_mov_r8_imm) {
        f->kind = FORM_MOV_RI;
        f->sz = fn == h_mov_r32_imm ? SZ32 : fn == h_mov_r16_imm ? SZ16 : SZ8;
        f->dst = i->reg;
    } else if (fn == h_test && !(i->pfx & P_MEM)) {
        f->kind = (i->op == 0x84 || i->op == 0x85) ? FORM_TEST_RR : FORM_TEST_RI;
        f->sz = (unsigned)bwsz(i);
        f->dst = i->rm;
        f->src = i->reg;
    } else if (fn == h_test_ai) {
        f->kind = FORM_TEST_RI;
        f->sz = (unsigned)bwsz(i);
        f->dst = R_EAX;
    } else if (fn == h_lea && op32 && a32) {
        f->kind = FORM_LEA;
        f->sz = SZ32;
        f->dst = i->reg;
    } else if (fn == h_jmp_rel && op32) {
        f->kind = FORM_JMP;
    } else if (op32) {
        for (unsigned cc = 0; cc < 16; cc++) {
            if (fn == jcc_table[cc]) {
                f->kind = FORM_JCC;
                f->cc = cc;
            }
        }
    }
}

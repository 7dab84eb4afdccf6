/* Arithmetic and logic handlers: ADD OR ADC SBB AND SUB XOR CMP, TEST, INC/DEC/NOT/NEG,
 * shifts and rotates, multiply and divide, bit operations, XADD/CMPXCHG/BSWAP, BCD and
 * accumulator conversions, and the host-atomic path of LOCKed read-modify-writes. */
#include "cpu/exec_ops.h"

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
__attribute__((noinline)) uint32_t locked_load(struct cpu *cpu, int sz, int seg, uint32_t off)
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

__attribute__((noinline)) void locked_store(struct cpu *cpu, int sz, int seg, uint32_t off, uint32_t v)
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

/* ---- ALU: ADD OR ADC SBB AND SUB XOR CMP ---- */


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

#define ALU_ROW(OP, SZ) { alu_##OP##_##SZ##_egr, alu_##OP##_##SZ##_egm, alu_##OP##_##SZ##_ger, \
                          alu_##OP##_##SZ##_gem, alu_##OP##_##SZ##_eir, alu_##OP##_##SZ##_eim }
#define ALU_OP(OP) { ALU_ROW(OP, SZ8), ALU_ROW(OP, SZ16), ALU_ROW(OP, SZ32) }
const insn_fn alu_table[8][3][6] = {
    ALU_OP(OP_ADD), ALU_OP(OP_OR), ALU_OP(OP_ADC), ALU_OP(OP_SBB),
    ALU_OP(OP_AND), ALU_OP(OP_SUB), ALU_OP(OP_XOR), ALU_OP(OP_CMP),
};

/* TEST: AND without writing. */
struct insn *h_test(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint32_t a = rm_get(cpu, i, sz);
    uint32_t b = (i->op == 0x84 || i->op == 0x85) ? reg_get(cpu, sz, i->reg) : i->imm;
    lf_set(cpu, LF_LOGIC + sz, 0, 0, a & b, FLAGS_ARITH);
    return next(cpu, i);
}

struct insn *h_test_ai(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    lf_set(cpu, LF_LOGIC + sz, 0, 0, reg_get(cpu, sz, R_EAX) & i->imm, FLAGS_ARITH);
    return next(cpu, i);
}

/* ---- INC / DEC / NOT / NEG ---- */

#define INCDEC_REG(NAME, SZ, KIND, DELTA)                                                     \
    struct insn *NAME(struct cpu *cpu, struct insn *i)                                        \
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
struct insn *h_incdec_rm(struct cpu *cpu, struct insn *i)
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


struct insn *h_not(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    rmw_set(cpu, i, sz, &w, ~a & lf_mask_tab[sz]);
    return next(cpu, i);
}

struct insn *h_neg(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t a = rmw_get(cpu, i, sz, &w);
    uint32_t r = (0 - a) & lf_mask_tab[sz];
    rmw_set(cpu, i, sz, &w, r);
    lf_set(cpu, LF_SUB + sz, 0, a, r, FLAGS_ARITH);
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

struct insn *h_shift(struct cpu *cpu, struct insn *i)
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
struct insn *h_shift_r32_imm(struct cpu *cpu, struct insn *i)
{
    return shift_r32(cpu, i, i->op == 0xd1 ? 1 : (i->imm & 0x1f));
}

/* SHL/SHR/SAR r32 by CL (D3 /4 /5 /7). */
struct insn *h_shift_r32_cl(struct cpu *cpu, struct insn *i)
{
    return shift_r32(cpu, i, cpu->regs[R_ECX] & 0x1f);
}

/* SHLD / SHRD. */
struct insn *h_shxd(struct cpu *cpu, struct insn *i)
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
struct insn *h_muldiv(struct cpu *cpu, struct insn *i)
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
struct insn *h_imul_g(struct cpu *cpu, struct insn *i)
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

struct insn *h_bt_reg(struct cpu *cpu, struct insn *i)
{
    unsigned kind = i->op == 0xa3 ? 0 : i->op == 0xab ? 1 : i->op == 0xb3 ? 2 : 3;
    return bitop(cpu, i, kind, reg_get(cpu, opsz(i), i->reg), true);
}

struct insn *h_bt_imm(struct cpu *cpu, struct insn *i)
{
    return bitop(cpu, i, i->reg - 4u, i->imm & 0xff, false);
}

struct insn *h_bsf_bsr(struct cpu *cpu, struct insn *i)
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
struct insn *h_popcnt(struct cpu *cpu, struct insn *i)
{
    int sz = opsz(i);
    uint32_t v = rm_get(cpu, i, sz);
    reg_set(cpu, sz, i->reg, (uint32_t)__builtin_popcount(v));
    flags_set_arith(cpu, v ? 0 : FLAG_ZF, FLAGS_ARITH);
    return next(cpu, i);
}

/* F3 0F BC TZCNT / F3 0F BD LZCNT: the operand width for a zero source (CF set), ZF when the
 * count is zero; OF SF AF PF are undefined (cleared here). */
struct insn *h_tzcnt_lzcnt(struct cpu *cpu, struct insn *i)
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

struct insn *h_xadd(struct cpu *cpu, struct insn *i)
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

struct insn *h_cmpxchg(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    struct rmw w = { 0 };
    uint32_t d = rmw_get(cpu, i, sz, &w), acc = reg_get(cpu, sz, R_EAX);
    uint32_t r = (acc - d) & lf_mask_tab[sz];
    if (acc == d) {
        rmw_set(cpu, i, sz, &w, reg_get(cpu, sz, i->reg));
    } else {
        if (i->pfx & P_MEM) {
            lk_set(cpu, i, sz, i->seg, w.off, d);   /* the destination is always written */
            spin_note(cpu);
        }
        reg_set(cpu, sz, R_EAX, d);
    }
    lf_set(cpu, LF_SUB + sz, acc, d, r, FLAGS_ARITH);
    return next(cpu, i);
}

struct insn *h_cmpxchg8b(struct cpu *cpu, struct insn *i)
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

struct insn *h_bswap(struct cpu *cpu, struct insn *i)
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

struct insn *h_daa_das(struct cpu *cpu, struct insn *i)
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

struct insn *h_aaa_aas(struct cpu *cpu, struct insn *i)
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

struct insn *h_aam(struct cpu *cpu, struct insn *i)
{
    uint32_t base = i->imm & 0xff, al = cpu->regs[R_EAX] & 0xff;
    if (base == 0)
        cpu_exception(cpu, EXC_DE, 0);
    uint32_t r = al % base;
    reg_set(cpu, SZ16, R_EAX, ((al / base) << 8) | r);
    set_szp8(cpu, r, 0, FLAG_CF | FLAG_AF | FLAG_OF);
    return next(cpu, i);
}

struct insn *h_aad(struct cpu *cpu, struct insn *i)
{
    uint32_t base = i->imm & 0xff, ax = cpu->regs[R_EAX];
    uint32_t a = ax & 0xff, b = (((ax >> 8) & 0xff) * base) & 0xff;
    uint32_t r = (a + b) & 0xff;
    reg_set(cpu, SZ16, R_EAX, r);
    /* The flags are those of the byte addition AL + AH*imm (CF, OF, AF undefined). */
    lf_set(cpu, LF_ADD + SZ8, a, b, r, FLAGS_ARITH);
    return next(cpu, i);
}

struct insn *h_salc(struct cpu *cpu, struct insn *i)
{
    *r8p(cpu, 0) = get_cf(cpu) ? 0xff : 0;
    return next(cpu, i);
}

struct insn *h_xlat(struct cpu *cpu, struct insn *i)
{
    uint32_t off = cpu->regs[R_EBX] + (cpu->regs[R_EAX] & 0xff);
    if (!(i->pfx & P_A32))
        off &= 0xffff;
    *r8p(cpu, 0) = cpu_read8(cpu, i->seg, off);
    return next(cpu, i);
}

struct insn *h_cbw(struct cpu *cpu, struct insn *i)
{
    if (i->pfx & P_OP32)
        cpu->regs[R_EAX] = (uint32_t)(int16_t)cpu->regs[R_EAX];
    else
        reg_set(cpu, SZ16, R_EAX, (uint32_t)(int8_t)cpu->regs[R_EAX]);
    return next(cpu, i);
}

struct insn *h_cwd(struct cpu *cpu, struct insn *i)
{
    if (i->pfx & P_OP32)
        cpu->regs[R_EDX] = (int32_t)cpu->regs[R_EAX] < 0 ? 0xffffffffu : 0;
    else
        reg_set(cpu, SZ16, R_EDX, (cpu->regs[R_EAX] & 0x8000) ? 0xffff : 0);
    return next(cpu, i);
}

/* Lazy arithmetic flags (exec private).  The last flag-setting operation is kept as
 * (kind, op1, op2, result), operands masked to the operand size; flags in lf_mask are
 * computed from it on demand, the others live in cpu->eflags. */
#ifndef PCVM_CPU_FLAGS_H
#define PCVM_CPU_FLAGS_H

#include "cpu/cpu.h"

/* lf_kind = operation * 4 + size index (0: 8 bits, 1: 16, 2: 32). */
enum {
    LF_ADD = 0,   /* result = op1 + op2 */
    LF_ADC = 4,   /* result = op1 + op2 + 1 (ADC with CF set) */
    LF_SUB = 8,   /* result = op1 - op2 */
    LF_SBB = 12,  /* result = op1 - op2 - 1 (SBB with CF set) */
    LF_LOGIC = 16 /* CF = OF = AF = 0 */
};
enum { SZ8 = 0, SZ16 = 1, SZ32 = 2 };

static const uint32_t lf_sign_tab[3] = { 0x80u, 0x8000u, 0x80000000u };
static const uint32_t lf_mask_tab[3] = { 0xffu, 0xffffu, 0xffffffffu };

static inline void lf_set(struct cpu *cpu, uint32_t kind, uint32_t op1, uint32_t op2, uint32_t res,
                          uint32_t mask)
{
    cpu->exec.lf_kind = kind;
    cpu->exec.lf_op1 = op1;
    cpu->exec.lf_op2 = op2;
    cpu->exec.lf_result = res;
    cpu->exec.lf_mask = mask;
}

static inline bool lf_cf_compute(const struct cpu_exec_state *x)
{
    switch (x->lf_kind >> 2) {
    case LF_ADD >> 2: return x->lf_result < x->lf_op1;
    case LF_ADC >> 2: return x->lf_result <= x->lf_op1;
    case LF_SUB >> 2: return x->lf_op1 < x->lf_op2;
    case LF_SBB >> 2: return x->lf_op1 <= x->lf_op2;
    default: return false;
    }
}

static inline bool lf_of_compute(const struct cpu_exec_state *x)
{
    uint32_t sign = lf_sign_tab[x->lf_kind & 3];
    switch (x->lf_kind >> 2) {
    case LF_ADD >> 2: case LF_ADC >> 2:
        return ((x->lf_op1 ^ x->lf_result) & (x->lf_op2 ^ x->lf_result) & sign) != 0;
    case LF_SUB >> 2: case LF_SBB >> 2:
        return ((x->lf_op1 ^ x->lf_op2) & (x->lf_op1 ^ x->lf_result) & sign) != 0;
    default: return false;
    }
}

static inline bool lf_af_compute(const struct cpu_exec_state *x)
{
    if ((x->lf_kind >> 2) == (LF_LOGIC >> 2))
        return false;
    return ((x->lf_op1 ^ x->lf_op2 ^ x->lf_result) & 0x10) != 0;
}

static inline bool get_cf(const struct cpu *cpu)
{
    return (cpu->exec.lf_mask & FLAG_CF) ? lf_cf_compute(&cpu->exec) : (cpu->eflags & FLAG_CF);
}
static inline bool get_zf(const struct cpu *cpu)
{
    return (cpu->exec.lf_mask & FLAG_ZF) ? cpu->exec.lf_result == 0 : (cpu->eflags & FLAG_ZF) != 0;
}
static inline bool get_sf(const struct cpu *cpu)
{
    return (cpu->exec.lf_mask & FLAG_SF) ? (cpu->exec.lf_result & lf_sign_tab[cpu->exec.lf_kind & 3]) != 0
                                         : (cpu->eflags & FLAG_SF) != 0;
}
static inline bool get_of(const struct cpu *cpu)
{
    return (cpu->exec.lf_mask & FLAG_OF) ? lf_of_compute(&cpu->exec) : (cpu->eflags & FLAG_OF) != 0;
}
static inline bool get_pf(const struct cpu *cpu)
{
    return (cpu->exec.lf_mask & FLAG_PF) ? !__builtin_parity(cpu->exec.lf_result & 0xff)
                                         : (cpu->eflags & FLAG_PF) != 0;
}
static inline bool get_af(const struct cpu *cpu)
{
    return (cpu->exec.lf_mask & FLAG_AF) ? lf_af_compute(&cpu->exec) : (cpu->eflags & FLAG_AF) != 0;
}

/* Fold the lazy flags into cpu->eflags (afterwards lf_mask is 0). */
static inline void flags_materialize(struct cpu *cpu)
{
    uint32_t m = cpu->exec.lf_mask;
    if (!m)
        return;
    uint32_t f = 0;
    if (get_cf(cpu)) f |= FLAG_CF;
    if (get_pf(cpu)) f |= FLAG_PF;
    if (get_af(cpu)) f |= FLAG_AF;
    if (get_zf(cpu)) f |= FLAG_ZF;
    if (get_sf(cpu)) f |= FLAG_SF;
    if (get_of(cpu)) f |= FLAG_OF;
    cpu->eflags = (cpu->eflags & ~m) | (f & m);
    cpu->exec.lf_mask = 0;
}

/* Set the arithmetic flags in mask to the bits of value explicitly.  The other lazy flags
 * stay lazy: each flag is computed on its own from the recorded operation. */
static inline void flags_set_arith(struct cpu *cpu, uint32_t value, uint32_t mask)
{
    cpu->exec.lf_mask &= ~mask;
    cpu->eflags = (cpu->eflags & ~mask) | (value & mask);
}

/* INC/DEC: keep the current CF, then record the new operation for the other five flags. */
static inline void flags_keep_cf(struct cpu *cpu)
{
    if (cpu->exec.lf_mask & FLAG_CF)
        cpu->eflags = (cpu->eflags & ~FLAG_CF) | (lf_cf_compute(&cpu->exec) ? FLAG_CF : 0);
}

/* Sign-extend a value of size index sz (SZ8/SZ16/SZ32) to 32 bits. */
static inline int32_t lf_sext(uint32_t v, unsigned sz)
{
    unsigned shift = 24u - 8u * sz - (sz == SZ32 ? 8u : 0u);   /* 24, 16, 0 */
    return (int32_t)(v << shift) >> shift;
}

/* True when the last operation was SUB/CMP (or SBB/ADD kinds excluded) and the flags in need
 * are all still lazy: conditions then come straight from the operands. */
static inline bool lf_is_sub(const struct cpu_exec_state *x, uint32_t need)
{
    return (x->lf_mask & need) == need && (x->lf_kind >> 2) == (LF_SUB >> 2);
}

/* Condition code cc (the low nibble of Jcc/SETcc/CMOVcc).  Inlined: with a constant cc the
 * switches fold away. */
static inline __attribute__((always_inline)) bool cond_true(const struct cpu *cpu, unsigned cc)
{
    const struct cpu_exec_state *x = &cpu->exec;
    bool r;
    switch (cc >> 1) {
    case 0: r = get_of(cpu); break;
    case 1: r = get_cf(cpu); break;
    case 2: r = get_zf(cpu); break;
    case 3:
        if (lf_is_sub(x, FLAG_CF | FLAG_ZF))
            r = x->lf_op1 <= x->lf_op2;
        else
            r = get_cf(cpu) || get_zf(cpu);
        break;
    case 4: r = get_sf(cpu); break;
    case 5: r = get_pf(cpu); break;
    case 6:
        if (lf_is_sub(x, FLAG_SF | FLAG_OF))
            r = lf_sext(x->lf_op1, x->lf_kind & 3) < lf_sext(x->lf_op2, x->lf_kind & 3);
        else
            r = get_sf(cpu) != get_of(cpu);
        break;
    default:
        if (lf_is_sub(x, FLAG_SF | FLAG_OF | FLAG_ZF))
            r = lf_sext(x->lf_op1, x->lf_kind & 3) <= lf_sext(x->lf_op2, x->lf_kind & 3);
        else
            r = get_zf(cpu) || (get_sf(cpu) != get_of(cpu));
        break;
    }
    return r ^ (cc & 1);
}

#endif

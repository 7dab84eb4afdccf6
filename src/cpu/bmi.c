/* Integer instructions of the 0F 38 map on general registers: MOVBE, CRC32 (SSE4.2), ADCX and
 * ADOX (ADX), and the VEX-encoded BMI1/BMI2 forms. Kept out of exec_alu.c: none is hot. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/flags.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"

static struct insn *next(struct cpu *cpu, struct insn *i)
{
    cpu->eip += i->len;
    return i + 1;
}

static bool op32(const struct insn *i) { return i->pfx & P_OP32; }

/* r/m operand of 1, 2 or 4 bytes (register forms: AL..BH for bytes). */
static uint32_t rm_read(struct cpu *cpu, const struct insn *i, unsigned bytes)
{
    if (i->pfx & P_MEM) {
        uint32_t off = exec_ea(cpu, i);
        return bytes == 1 ? cpu_read8(cpu, i->seg, off) : bytes == 2 ? cpu_read16(cpu, i->seg, off)
                                                                     : cpu_read32(cpu, i->seg, off);
    }
    uint32_t v = cpu->regs[bytes == 1 ? (i->rm & 3) : i->rm];
    if (bytes == 1)
        return (i->rm & 4) ? (v >> 8 & 0xff) : (v & 0xff);
    return bytes == 2 ? (v & 0xffff) : v;
}

/* 0F 38 F0 / F1 MOVBE Gv, Mv / Mv, Gv: a load or store with the bytes swapped. */
static struct insn *h_movbe(struct cpu *cpu, struct insn *i)
{
    uint32_t off = exec_ea(cpu, i);
    if (i->op == 0xf0) {
        if (op32(i)) {
            cpu->regs[i->reg] = __builtin_bswap32(cpu_read32(cpu, i->seg, off));
        } else {
            uint16_t v = __builtin_bswap16(cpu_read16(cpu, i->seg, off));
            cpu->regs[i->reg] = (cpu->regs[i->reg] & 0xffff0000u) | v;
        }
    } else if (op32(i)) {
        cpu_write32(cpu, i->seg, off, __builtin_bswap32(cpu->regs[i->reg]));
    } else {
        cpu_write16(cpu, i->seg, off, __builtin_bswap16((uint16_t)cpu->regs[i->reg]));
    }
    return next(cpu, i);
}

/* F2 0F 38 F0 / F1 CRC32 Gd, Eb / Ev: CRC-32C (polynomial 0x1EDC6F41, bit-reflected), no
 * inversion in or out; flags unchanged. */
static struct insn *h_crc32(struct cpu *cpu, struct insn *i)
{
    unsigned bytes = i->op == 0xf0 ? 1 : op32(i) ? 4 : 2;
    uint32_t v = rm_read(cpu, i, bytes), crc = cpu->regs[i->reg];
    for (unsigned k = 0; k < bytes; k++) {
        crc ^= v >> (8 * k) & 0xff;
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
    }
    cpu->regs[i->reg] = crc;
    return next(cpu, i);
}

/* 66 0F 38 F6 ADCX / F3 0F 38 F6 ADOX Gd, Ed: add with carry through CF (ADCX) or OF (ADOX)
 * alone; no other flag changes. */
static struct insn *h_adx(struct cpu *cpu, struct insn *i)
{
    bool adox = i->pfx & P_REP;
    uint32_t flag = adox ? FLAG_OF : FLAG_CF;
    uint64_t s = (uint64_t)cpu->regs[i->reg] + rm_read(cpu, i, 4) +
                 ((adox ? get_of(cpu) : get_cf(cpu)) ? 1 : 0);
    cpu->regs[i->reg] = (uint32_t)s;
    flags_set_arith(cpu, (s >> 32) ? flag : 0, flag);
    return next(cpu, i);
}

/* ---- VEX-encoded BMI1 / BMI2 (32-bit operands: VEX.W1 is ignored outside 64-bit mode) ---- */

/* VEX instructions raise #UD in real-address and virtual-8086 mode. */
static void vex_mode_check(struct cpu *cpu)
{
    if (!cpu->pe || cpu->vm86)
        cpu_exception(cpu, EXC_UD, 0);
}

/* SF and ZF of a 32-bit result, for flags_set_arith. */
static uint32_t sz_flags(uint32_t r)
{
    return (r ? 0 : FLAG_ZF) | ((r >> 31) ? FLAG_SF : 0);
}

static uint32_t vreg(struct cpu *cpu, const struct insn *i) { return cpu->regs[i->vvvv & 7]; }

/* ANDN, BLSR/BLSMSK/BLSI, BZHI, BEXTR: results and flags (AF/PF undefined: cleared). */
static struct insn *h_bmi_flags(struct cpu *cpu, struct insn *i)
{
    vex_mode_check(cpu);
    uint32_t src = rm_read(cpu, i, 4), r, f;
    unsigned dst = i->reg;
    switch (i->op) {
    case 0xf2: /* ANDN: ~vvvv & rm */
        r = ~vreg(cpu, i) & src;
        f = sz_flags(r);
        break;
    case 0xf3:
        dst = i->vvvv & 7;
        if (i->reg == 1) {          /* BLSR: clear the lowest set bit */
            r = src & (src - 1);
            f = sz_flags(r) | (src ? 0 : FLAG_CF);
        } else if (i->reg == 2) {   /* BLSMSK: up to the lowest set bit */
            r = src ^ (src - 1);
            f = (r >> 31 ? FLAG_SF : 0) | (src ? 0 : FLAG_CF);
        } else {                    /* BLSI: the lowest set bit */
            r = src & (0u - src);
            f = sz_flags(r) | (src ? FLAG_CF : 0);
        }
        break;
    case 0xf5: { /* BZHI: clear from bit index vvvv[7:0] up */
        unsigned n = vreg(cpu, i) & 0xff;
        r = n < 32 ? src & ((1u << n) - 1) : src;
        f = sz_flags(r) | (n > 31 ? FLAG_CF : 0);
        break;
    }
    default: { /* F7 BEXTR: vvvv[7:0] start, vvvv[15:8] length */
        uint32_t ctl = vreg(cpu, i);
        unsigned start = ctl & 0xff, len = ctl >> 8 & 0xff;
        r = start < 32 ? src >> start : 0;
        if (len < 32)
            r &= (1u << len) - 1;
        f = r ? 0 : FLAG_ZF;
        break;
    }
    }
    cpu->regs[dst] = r;
    flags_set_arith(cpu, f, FLAGS_ARITH);
    return next(cpu, i);
}

static uint32_t pdep(uint32_t src, uint32_t mask)
{
    uint32_t r = 0;
    for (uint32_t bit = 1; mask; bit <<= 1) {
        uint32_t low = mask & (0u - mask);
        if (src & bit)
            r |= low;
        mask &= mask - 1;
    }
    return r;
}
static uint32_t pext(uint32_t src, uint32_t mask)
{
    uint32_t r = 0;
    for (uint32_t bit = 1; mask; bit <<= 1) {
        uint32_t low = mask & (0u - mask);
        if (src & low)
            r |= bit;
        mask &= mask - 1;
    }
    return r;
}

/* PDEP, PEXT, MULX, SHLX/SARX/SHRX, RORX: flags unchanged. */
static struct insn *h_bmi2(struct cpu *cpu, struct insn *i)
{
    vex_mode_check(cpu);
    uint32_t src = rm_read(cpu, i, 4);
    unsigned pp = i->vex >> VEX_PP_SHIFT & 3;   /* 1: 66, 2: F3, 3: F2 */
    uint32_t v = vreg(cpu, i);
    switch (i->op) {
    case 0xf5: cpu->regs[i->reg] = pp == 2 ? pext(v, src) : pdep(v, src); break;
    case 0xf6: { /* MULX: EDX * rm, low half to vvvv, then high half to reg */
        uint64_t p = (uint64_t)cpu->regs[R_EDX] * src;
        cpu->regs[i->vvvv & 7] = (uint32_t)p;
        cpu->regs[i->reg] = (uint32_t)(p >> 32);
        break;
    }
    case 0xf7: {
        unsigned n = v & 31;
        cpu->regs[i->reg] = pp == 1 ? src << n : pp == 2 ? (uint32_t)((int32_t)src >> n) : src >> n;
        break;
    }
    default: { /* 0F 3A F0 RORX */
        unsigned n = i->imm & 31;
        cpu->regs[i->reg] = n ? (src >> n) | (src << (32 - n)) : src;
        break;
    }
    }
    return next(cpu, i);
}

static insn_fn vex_select(struct cpu *cpu, const struct insn *i)
{
    static const uint8_t pp_prefix[4] = { 0, 0x66, 0xf3, 0xf2 };
    if ((i->vex & (VEX_BAD | VEX_L)) || i->map < 2)
        return NULL;
    const struct opcode_info *e = opcode_vex_lookup(i->map, i->op, pp_prefix[i->vex >> VEX_PP_SHIFT & 3], i->reg);
    if (!e || !(cpu->exec.ext_features >> e->ext & 1))
        return NULL;
    if (i->map == 3 && (i->vvvv & 7))
        return NULL;   /* RORX: VEX.vvvv must be 1111b (its top bit is ignored here) */
    return (e->flags_set && i->map == 2) ? h_bmi_flags : h_bmi2;
}

insn_fn bmi_select_handler(struct cpu *cpu, const struct insn *i)
{
    uint32_t ext = cpu->exec.ext_features;
    if (i->vex)
        return vex_select(cpu, i);
    bool mem = i->pfx & P_MEM;
    uint8_t pfx = (i->pfx & P_REP) ? 0xf3 : (i->pfx & P_REPNE) ? 0xf2 : i->simd_pfx ? 0x66 : 0;
    switch (i->op) {
    case 0xf0: case 0xf1:
        if (pfx == 0xf2)
            return (ext >> OX_SSE42 & 1) ? h_crc32 : NULL;
        if ((pfx == 0 || pfx == 0x66) && mem)
            return (ext >> OX_MOVBE & 1) ? h_movbe : NULL;
        return NULL;
    case 0xf6:
        if (pfx == 0x66 || pfx == 0xf3)
            return (ext >> OX_ADX & 1) ? h_adx : NULL;
        return NULL;
    }
    return NULL;
}

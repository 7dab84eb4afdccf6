/* Integer instructions of the 0F 38 map on general registers: MOVBE, CRC32 (SSE4.2), ADCX and
 * ADOX (ADX), and the VEX-encoded BMI1/BMI2 forms. Kept out of exec_ops.c: none is hot. */
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

insn_fn bmi_select_handler(struct cpu *cpu, const struct insn *i)
{
    uint32_t ext = cpu->exec.ext_features;
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

/* Instruction decoder: prefixes, opcode, ModRM/SIB, displacement and immediates, driven by
 * the opcode table.  Decoding never faults; the caller supplies the bytes. */
#include "cpu/decode.h"

#include <string.h>

#include "cpu/opcodes.h"

static uint32_t get_le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint32_t)p[k] << (8 * k);
    return v;
}

/* Default segments for the 16-bit addressing forms (rm 0..7). */
static const uint8_t modrm16_base[8] = { R_EBX, R_EBX, R_EBP, R_EBP, R_ESI, R_EDI, R_EBP, R_EBX };
static const uint8_t modrm16_index[8] = { R_ESI, R_EDI, R_ESI, R_EDI, NOREG, NOREG, NOREG, NOREG };

/* What the decoder needs of a VEX-encoded instruction: a ModRM byte (imm8 for map 3). */
static const struct opcode_info vex_form = { "(vex)", "", OA_MODRM, 0, 0, LVL_P6, -1, OX_NONE };

int decode_insn(struct cpu *cpu, const uint8_t *bytes, unsigned avail, bool code32, struct insn *i)
{
    (void)cpu;
    unsigned p = 0;
    bool op32 = code32, a32 = code32;
    int seg = -1;
    uint8_t pfx = 0, simd = 0;
    uint8_t b;

    memset(i, 0, sizeof(*i));
#define NEED(n)                                  \
    do {                                         \
        if (p + (n) > 15)                        \
            return -1;                           \
        if (p + (n) > avail)                     \
            return 0;                            \
    } while (0)

    for (;;) {
        NEED(1);
        b = bytes[p];
        switch (b) {
        case 0x26: seg = SEG_ES; break;
        case 0x2e: seg = SEG_CS; break;
        case 0x36: seg = SEG_SS; break;
        case 0x3e: seg = SEG_DS; break;
        case 0x64: seg = SEG_FS; break;
        case 0x65: seg = SEG_GS; break;
        case 0x66: op32 = !code32; simd = 0x66; break;
        case 0x67: a32 = !code32; break;
        case 0xf0: pfx |= P_LOCK; break;
        case 0xf2: pfx = (uint8_t)((pfx & ~P_REP) | P_REPNE); simd = 0xf2; break;
        case 0xf3: pfx = (uint8_t)((pfx & ~P_REPNE) | P_REP); simd = 0xf3; break;
        default: goto opcode;
        }
        p++;
    }
opcode:
    p++;
    i->map = 0;
    i->op = b;
    const struct opcode_info *info;
    bool modrm = false;
    unsigned imm_bytes = 0, imm2_bytes = 0;
    bool vex = false;
    if (b == 0xc4 || b == 0xc5) {
        NEED(1);
        vex = (bytes[p] & 0xc0) == 0xc0;
    }
    if (vex) {
        /* VEX: LES/LDS with a register operand would be #UD, so C4/C5 followed by a byte
         * whose top bits (R, X inverted; "mod") are 11 is VEX (SDM vol. 2 2.3.5). In real and
         * virtual-8086 mode the VEX instructions raise #UD, as the LES/LDS forms do. */
        unsigned map = 1, r;
        uint8_t v = VEX_ON;
        if (b == 0xc4) {
            NEED(2);
            map = bytes[p] & 31;
            r = bytes[p + 1];
            if (r & 0x80)
                v |= VEX_W;
            p += 2;
        } else {
            r = bytes[p];
            p += 1;
        }
        i->vvvv = (uint8_t)(~r >> 3 & 15);
        v |= (uint8_t)((r >> 2 & 1) ? VEX_L : 0) | (uint8_t)((r & 3) << VEX_PP_SHIFT);
        if ((pfx & (P_LOCK | P_REP | P_REPNE)) || simd || map < 1 || map > 3) {
            v |= VEX_BAD;
            map = map >= 1 && map <= 3 ? map : 2;
        }
        NEED(1);
        b = bytes[p++];
        i->vex = v;
        i->map = (uint8_t)map;
        i->op = b;
        info = &vex_form;
        imm_bytes = map == 3 ? 1 : 0;
    } else if (b == 0x0f) {
        NEED(1);
        b = bytes[p++];
        i->map = 1;
        i->op = b;
        info = opcode_lookup(1, b, -1);
        if ((pfx & P_REP) && opcode_lookup_f3(1, b))
            info = opcode_lookup_f3(1, b);   /* POPCNT F3 0F B8 takes a ModRM */
        if (info->attr & OA_INVALID) {
            /* Not an integer opcode: SIMD when fpu claims it, else #UD. */
            if (b == 0x38 || b == 0x3a) {
                NEED(1);
                uint8_t op3 = bytes[p];
                uint8_t map = b == 0x38 ? 2 : 3;
                if (simd_opcode_claimed(map, op3)) {
                    p++;
                    i->map = map;
                    i->op = op3;
                    modrm = true;
                    imm_bytes = map == 3 ? 1 : 0;
                }
            } else if (simd_opcode_claimed(1, b)) {
                modrm = b != 0x77 && b != 0x0e;
                imm_bytes = simd_opcode_has_imm8(1, b) ? 1 : 0;
            }
        }
    } else {
        info = opcode_lookup(0, b, -1);
    }
    uint32_t attr = info->attr;
    if (attr & OA_MODRM)
        modrm = true;

    i->base = i->index = NOREG;
    if (modrm) {
        NEED(1);
        uint8_t m = bytes[p++];
        unsigned mod = m >> 6, rm = m & 7;
        i->modrm = m;
        i->reg = (m >> 3) & 7;
        i->rm = (uint8_t)rm;
        /* MOV to/from CR/DR treat mod as 3 whatever its value. */
        bool force_reg = i->map == 1 && b >= 0x20 && b <= 0x23;
        if (mod != 3 && !force_reg) {
            pfx |= P_MEM;
            int defseg = SEG_DS;
            if (a32) {
                unsigned base = rm;
                if (rm == 4) {
                    NEED(1);
                    uint8_t sib = bytes[p++];
                    base = sib & 7;
                    unsigned idx = (sib >> 3) & 7;
                    i->index = idx == 4 ? NOREG : (uint8_t)idx;
                    i->scale = sib >> 6;
                }
                if (base == 5 && mod == 0) {
                    i->base = NOREG;
                    NEED(4);
                    i->disp = get_le(bytes + p, 4);
                    p += 4;
                } else {
                    i->base = (uint8_t)base;
                    if (base == R_ESP || base == R_EBP)
                        defseg = SEG_SS;
                }
                if (mod == 1) {
                    NEED(1);
                    i->disp = (uint32_t)(int8_t)bytes[p++];
                } else if (mod == 2) {
                    NEED(4);
                    i->disp = get_le(bytes + p, 4);
                    p += 4;
                }
            } else {
                if (mod == 0 && rm == 6) {
                    NEED(2);
                    i->disp = get_le(bytes + p, 2);
                    p += 2;
                } else {
                    i->base = modrm16_base[rm];
                    i->index = modrm16_index[rm];
                    if (i->base == R_EBP)
                        defseg = SEG_SS;
                }
                if (mod == 1) {
                    NEED(1);
                    i->disp = (uint32_t)(int8_t)bytes[p++];
                } else if (mod == 2) {
                    NEED(2);
                    i->disp = get_le(bytes + p, 2);
                    p += 2;
                }
            }
            i->seg = (uint8_t)defseg;
        }
    }

    /* Immediates. */
    unsigned zsize = op32 ? 4 : 2;
    if (attr & OA_IB)
        imm_bytes = 1;
    if (attr & OA_IW)
        imm_bytes = 2;
    if (attr & OA_IZ)
        imm_bytes = zsize;
    if (attr & (OA_IW)) {
        if (i->map == 0 && b == 0xc8)
            imm2_bytes = 1;                   /* ENTER Iw, Ib */
    }
    if (i->map == 0 && (b == 0xf6 || b == 0xf7) && i->reg < 2)
        imm_bytes = b == 0xf6 ? 1 : zsize;    /* TEST Eb/Ev, imm */
    if (attr & (OA_JB | OA_JZ)) {
        unsigned n = (attr & OA_JB) ? 1 : zsize;
        NEED(n);
        uint32_t v = get_le(bytes + p, n);
        i->disp = n == 1 ? (uint32_t)(int8_t)v : n == 2 ? (uint32_t)(int16_t)v : v;
        p += n;
    }
    if (attr & OA_AP) {
        NEED(zsize + 2);
        i->imm = get_le(bytes + p, zsize);
        i->imm2 = get_le(bytes + p + zsize, 2);
        p += zsize + 2;
    }
    if (attr & OA_MOFFS) {
        unsigned n = a32 ? 4 : 2;
        NEED(n);
        i->disp = get_le(bytes + p, n);
        p += n;
        pfx |= P_MEM;
        i->seg = SEG_DS;
    }
    if (imm_bytes) {
        NEED(imm_bytes);
        i->imm = get_le(bytes + p, imm_bytes);
        p += imm_bytes;
    }
    if (imm2_bytes) {
        NEED(imm2_bytes);
        i->imm2 = get_le(bytes + p, imm2_bytes);
        p += imm2_bytes;
    }
#undef NEED
    if (seg >= 0) {
        i->seg = (uint8_t)seg;
        pfx |= P_SEGOVR;
    } else if (!(pfx & P_MEM)) {
        i->seg = SEG_DS;    /* string sources and XLAT */
    }
    if (op32)
        pfx |= P_OP32;
    if (a32)
        pfx |= P_A32;
    i->pfx = pfx;
    i->simd_pfx = simd;
    i->len = (uint8_t)p;
    if ((attr & OA_GROUP) == 0 && i->map == 0 && !modrm)
        i->reg = b & 7;      /* register encoded in the opcode (40+r, 50+r, B0+r, ...) */
    if (i->map == 1 && b >= 0xc8 && b <= 0xcf)
        i->reg = b & 7;      /* BSWAP */
    return (int)p;
}

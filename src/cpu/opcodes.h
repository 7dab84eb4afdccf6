/* The opcode table: one entry per one-byte and 0F two-byte integer opcode (and per ModRM.reg
 * for group opcodes).  It drives the decoder (ModRM and immediate sizes, lockability, the
 * model level that introduced the opcode), the disassembler (names and operand forms) and the
 * conformance harness (flags written and flags left undefined). */
#ifndef PCVM_CPU_OPCODES_H
#define PCVM_CPU_OPCODES_H

#include <stdbool.h>
#include <stdint.h>

/* Attributes (struct opcode_info.attr). */
enum {
    OA_MODRM   = 1u << 0,   /* a ModRM byte follows */
    OA_IB      = 1u << 1,   /* imm8 */
    OA_IW      = 1u << 2,   /* imm16 */
    OA_IZ      = 1u << 3,   /* imm16 or imm32 (operand size) */
    OA_JB      = 1u << 4,   /* rel8 */
    OA_JZ      = 1u << 5,   /* rel16/rel32 (operand size) */
    OA_AP      = 1u << 6,   /* ptr16:16/32 (far immediate) */
    OA_MOFFS   = 1u << 7,   /* moffs (address size) */
    OA_LOCK    = 1u << 8,   /* LOCK allowed with a memory destination */
    OA_GROUP   = 1u << 9,   /* ModRM.reg selects the entry in a group table */
    OA_PREFIX  = 1u << 10,  /* a prefix byte, not an instruction */
    OA_INVALID = 1u << 11,  /* #UD */
    OA_BRANCH  = 1u << 12,  /* transfers control (ends a trace) */
    OA_MEMONLY = 1u << 13,  /* ModRM must name memory (#UD for a register form) */
    OA_FPU     = 1u << 14,  /* x87 escape */
    OA_PRIV    = 1u << 15,  /* may change mode or needs system state (ends a trace) */
    /* Architecturally undefined results (for the conformance harness, see
     * opcode_result_undefined). */
    OA_UNDEF_SRC0  = 1u << 16,  /* destination undefined when the source is zero (BSF/BSR) */
    OA_UNDEF_COUNT = 1u << 17,  /* destination and all flags undefined when count > width */
    OA_UNDEF_OP16  = 1u << 18,  /* destination undefined with a 16-bit operand size (BSWAP) */
    OA_PUSH_SREG   = 1u << 19,  /* PUSH Sreg: with a 32-bit operand size the CPU writes either
                                   all 4 bytes (zero-extended) or only the low 2 (SDM vol. 2
                                   PUSH); the upper 2 bytes of the slot are unspecified */
};

/* Model level that introduced an opcode. */
enum { LVL_386 = 0, LVL_486 = 1, LVL_P5 = 2, LVL_P6 = 3 };

struct opcode_info {
    const char *name;       /* mnemonic for the disassembler ("" for prefixes) */
    const char *operands;   /* Intel opcode-map operand forms, e.g. "Ev,Gv" */
    uint32_t attr;          /* OA_* */
    uint32_t flags_set;     /* EFLAGS bits the instruction writes (defined or not) */
    uint32_t flags_undef;   /* subset of flags_set whose value is architecturally undefined */
    uint8_t level;          /* LVL_*: older models raise #UD */
    int8_t cpuid_bit;       /* CPUID.1:EDX feature bit required, or -1 */
    uint8_t ext;            /* enum opcode_ext: a feature outside CPUID.1:EDX, or OX_NONE */
};

/* Features of the F3-prefixed integer forms (struct opcode_info.ext). */
enum opcode_ext {
    OX_NONE,
    OX_POPCNT,  /* CPUID.1:ECX.POPCNT[23] */
    OX_LZCNT,   /* CPUID.80000001:ECX.ABM/LZCNT[5] */
    OX_BMI1,    /* CPUID.7.0:EBX.BMI1[3] (TZCNT, ANDN, BEXTR, BLSI, BLSMSK, BLSR) */
    OX_MOVBE,   /* CPUID.1:ECX.MOVBE[22] */
    OX_SSE42,   /* CPUID.1:ECX.SSE4_2[20] (CRC32) */
    OX_ADX,     /* CPUID.7.0:EBX.ADX[19] */
    OX_BMI2,    /* CPUID.7.0:EBX.BMI2[8] */
    OX_RDRAND,  /* CPUID.1:ECX.RDRAND[30] */
    OX_RDSEED,  /* CPUID.7.0:EBX.RDSEED[18] */
    OX_RDTSCP,  /* CPUID.80000001:EDX.RDTSCP[27] */
    OX_RDPID,   /* CPUID.7.0:ECX.RDPID[22] */
};

/* The entry for opcode (map 0: one byte, map 1: 0F xx); reg selects within groups (pass -1
 * to get the group's own entry). Never NULL. */
const struct opcode_info *opcode_lookup(int map, uint8_t opcode, int reg);

/* The F3-prefixed form of 0F opcode (POPCNT 0F B8, TZCNT 0F BC, LZCNT 0F BD), or NULL when
 * F3 does not change the opcode. Without its feature (ext) the CPU runs F3 0F BC/BD as
 * BSF/BSR and raises #UD for F3 0F B8. */
const struct opcode_info *opcode_lookup_f3(int map, uint8_t opcode);

/* Undefined-flag mask for an instruction, refined by the shift/rotate count where the SDM
 * makes definedness depend on it (count is the masked count; pass 1 when not a shift).
 * Without the operand size; prefer opcode_undef_flags_sized. */
uint32_t opcode_undef_flags(int map, uint8_t opcode, int reg, unsigned count);
/* As opcode_undef_flags, also refined by the operand size in bits (8, 16, 32): SHL/SHR/SAL
 * leave CF undefined when count >= width, SHLD/SHRD leave every flag undefined when
 * count > width. */
uint32_t opcode_undef_flags_sized(int map, uint8_t opcode, int reg, unsigned count,
                                  unsigned opsize);
/* True when the instruction's destination is architecturally undefined for these inputs:
 * BSF/BSR with a zero source, SHLD/SHRD with count > width, BSWAP with a 16-bit operand. */
bool opcode_result_undefined(int map, uint8_t opcode, int reg, unsigned count, unsigned opsize,
                             bool source_zero);

/* ---- x87 (escape opcodes D8-DF): one entry per operation ---- */

/* Memory operand kinds of x87 memory forms. */
enum x87_mem {
    X87M_NONE, X87M_F32, X87M_F64, X87M_F80, X87M_I16, X87M_I32, X87M_I64, X87M_BCD,
    X87M_ENV,   /* 14/28-byte environment (operand size) */
    X87M_SAVE,  /* 94/108-byte state */
    X87M_CW,    /* control word */
    X87M_SW,    /* status word */
};
/* Operand shapes of x87 register forms (ModRM mod == 3). */
enum x87_form { X87F_NONE, X87F_ST0_STI, X87F_STI_ST0, X87F_STI, X87F_AX, X87F_MEM };

/* FSW condition bits, for x87_op_info.fsw_undef. */
enum { FSW_C0 = 0x0100, FSW_C1 = 0x0200, FSW_C2 = 0x0400, FSW_C3 = 0x4000 };

struct x87_op_info {
    const char *name;       /* mnemonic; NULL for an encoding without a documented meaning
                               (pcvm still executes it as the CPU does) */
    uint8_t form;           /* X87F_* (X87F_MEM for memory forms) */
    uint8_t mem;            /* X87M_* (memory forms) */
    uint16_t fsw_undef;     /* C0-C3 bits the SDM's "FPU Flags Affected" leaves undefined */
    uint8_t level;          /* LVL_*: FCMOVcc/FCOMI are P6 */
    int8_t cpuid_bit;       /* CPUID.1:EDX bit required (15 = CMOV for FCMOVcc/FCOMI), or -1;
                               FISTTP needs SSE3 (CPUID.1:ECX bit 0): see cpuid_ecx_bit */
    int8_t cpuid_ecx_bit;   /* CPUID.1:ECX bit required, or -1 */
};
/* The x87 operation of escape byte (0xD8-0xDF) with this ModRM byte. Never NULL. */
const struct x87_op_info *opcode_x87_lookup(uint8_t escape, uint8_t modrm);
/* Size in bytes of an x87 memory operand kind (op32: operand size for ENV/SAVE). */
unsigned x87_mem_size(enum x87_mem kind, bool op32);

/* ---- MMX / SSE / SSE2 / SSE3 (0F map with mandatory prefixes) ---- */

/* CPUID features a SIMD form needs (struct simd_op_info.feature). */
enum simd_feature {
    SF_MMX,     /* CPUID.1:EDX.MMX[23] */
    SF_SSE,     /* CPUID.1:EDX.SSE[25] */
    SF_SSE2,    /* CPUID.1:EDX.SSE2[26] */
    SF_SSE3,    /* CPUID.1:ECX.SSE3[0] */
    SF_MMXEXT,  /* the integer MMX instructions SSE added: SSE, or AMD CPUID.80000001:EDX[22] */
    SF_FXSR,    /* CPUID.1:EDX.FXSR[24] (FXSAVE/FXRSTOR) */
    SF_CLFSH,   /* CPUID.1:EDX.CLFSH[19] */
    SF_SSSE3,   /* CPUID.1:ECX.SSSE3[9] */
    SF_SSE41,   /* CPUID.1:ECX.SSE4_1[19] */
    SF_SSE42,   /* CPUID.1:ECX.SSE4_2[20] (also CRC32) */
    SF_MOVBE,   /* CPUID.1:ECX.MOVBE[22] */
    SF_AES,     /* CPUID.1:ECX.AESNI[25] */
    SF_PCLMUL,  /* CPUID.1:ECX.PCLMULQDQ[1] */
    SF_ADX,     /* CPUID.7.0:EBX.ADX[19] */
};

/* Attributes (struct simd_op_info.attr). */
enum {
    SA_IMM8    = 1u << 0,   /* an imm8 follows the ModRM operand */
    SA_MEMONLY = 1u << 1,   /* the ModRM operand must be memory (#UD otherwise) */
    SA_REGONLY = 1u << 2,   /* the ModRM operand must be a register */
    SA_NOMODRM = 1u << 3,   /* no ModRM (EMMS) */
};

/* Operand letters in simd_op_info.operands (Intel opcode map style):
 *   P = MMX register (ModRM.reg), Q = MMX register or memory (ModRM.rm), N = MMX register (rm)
 *   V = XMM register (reg), W = XMM register or memory (rm), U = XMM register (rm)
 *   G = general register (reg, 32-bit), E = general register or memory (rm, 32-bit), R = GPR (rm)
 *   M = memory only; I = imm8.  A size letter follows memory operands: b w d q x (16 bytes). */
struct simd_op_info {
    const char *name;
    const char *operands;
    uint8_t attr;           /* SA_* */
    uint8_t feature;        /* enum simd_feature */
};
/* The SIMD form of 0F opcode with mandatory prefix (0, 0x66, 0xF2, 0xF3), ModRM.reg (for
 * the 0F 71-73 and 0F AE groups) and memory/register operand; NULL when the combination is
 * not an MMX/SSE/SSE2/SSE3 instruction (#UD on the P6-family models). */
const struct simd_op_info *opcode_simd_lookup(uint8_t opcode, uint8_t prefix, int reg, bool mem);
/* The form of opcode in map 2 (0F 38 xx) or map 3 (0F 3A xx, every form takes an imm8) with
 * mandatory prefix (0, 0x66, 0xF2, 0xF3) and memory/register operand: SSSE3, SSE4.1, SSE4.2,
 * AES-NI, PCLMULQDQ, and the integer forms MOVBE, CRC32, ADCX, ADOX (G/E operands); NULL
 * when the combination is not an instruction (#UD). */
const struct simd_op_info *opcode_map23_lookup(uint8_t map, uint8_t opcode, uint8_t prefix, bool mem);
/* The VEX-encoded general-register instruction (BMI1, BMI2) of map 2 or 3, opcode, implied
 * prefix pp (0, 0x66, 0xF3, 0xF2) and ModRM.reg (the F3 group), or NULL (#UD). Its ext
 * names the feature; flags_set / flags_undef as for the other opcodes. */
const struct opcode_info *opcode_vex_lookup(uint8_t map, uint8_t opcode, uint8_t prefix, int reg);
/* True when some prefix/operand combination of opcode in map 2 or 3 is an instruction. */
bool opcode_map23_exists(uint8_t map, uint8_t opcode);

#endif

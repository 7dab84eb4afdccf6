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
};

/* The entry for opcode (map 0: one byte, map 1: 0F xx); reg selects within groups (pass -1
 * to get the group's own entry). Never NULL. */
const struct opcode_info *opcode_lookup(int map, uint8_t opcode, int reg);

/* Undefined-flag mask for an instruction, refined by the shift/rotate count where the SDM
 * makes definedness depend on it (count is the masked count; pass 1 when not a shift). */
uint32_t opcode_undef_flags(int map, uint8_t opcode, int reg, unsigned count);

#endif

/* Internal interface between exec's files (run loop, handlers, disassembler). */
#ifndef PCVM_CPU_EXEC_INT_H
#define PCVM_CPU_EXEC_INT_H

#include "cpu/decode.h"

/* Handler of invalidated instructions: not an instruction, returns to the run loop. */
struct insn *h_stale(struct cpu *cpu, struct insn *i);
/* Raise #GP(0) (instruction too long, or past the CS limit). */
struct insn *h_gp0(struct cpu *cpu, struct insn *i);
/* True when a decoded instruction must be the last of its trace. */
bool exec_insn_ends_trace(const struct insn *i);
/* Log a freshly decoded trace for -d in_asm. */
void exec_log_trace(struct cpu *cpu, const struct trace *t);
/* The cached trace at paddr for mode, or NULL. */
struct trace *exec_trace_find(struct cpu *cpu, uint32_t paddr, uint16_t mode);
/* The cached trace at CS:EIP by linear address (no translation), or NULL. */
struct insn *exec_jump_cache_lookup(struct cpu *cpu);
/* Forget linear-address shortcuts (after INVLPG, MOV CR, paging changes). */
void exec_jump_cache_clear(struct cpu *cpu);
/* Slow part of exec_chain: look the target trace up and cache it in i->chain. */
struct insn *exec_chain_slow(struct cpu *cpu, struct insn *i, uint32_t target);

/* Effective address (offset within i->seg) of a decoded memory operand. */
uint32_t exec_ea(struct cpu *cpu, const struct insn *i);
/* Handler of a 0F 38 Fx integer form (MOVBE, CRC32, ADCX, ADOX) or a VEX-encoded instruction
 * (BMI1/BMI2; bmi.c); NULL when the model lacks it or the encoding is invalid (#UD). */
insn_fn bmi_select_handler(struct cpu *cpu, const struct insn *i);

/* RDTSCP (0F 01 F9), RDRAND/RDSEED (0F C7 /6, /7 register), RDPID (F3 0F C7 /7 register):
 * *claimed tells whether the encoding is one of them; the handler, or NULL for #UD when the
 * model lacks it (rdrand.c). RDTSCP on a model without it is left to grp7 (#UD). */
insn_fn rdrand_select_handler(struct cpu *cpu, const struct insn *i, bool *claimed);

/* XGETBV/XSETBV (0F 01 D0/D1), XSAVE/XRSTOR/XSAVEOPT (0F AE /4 /5 /6 memory), XRSTORS/
 * XSAVEC/XSAVES (0F C7 /3 /4 /5 memory, on models with them): *claimed tells whether the
 * encoding is one of them; the handler, or NULL for #UD (xsave.c). */
insn_fn xsave_select_handler(struct cpu *cpu, const struct insn *i, bool *claimed);
/* SYSCALL (0F 05) / SYSRET (0F 07) of legacy mode, for models with CPUID.80000001H:EDX[11]
 * (syscall.c); NULL for #UD. */
insn_fn syscall_select_handler(struct cpu *cpu, const struct insn *i);

/* What the JIT inlines: an instruction's form, read from its handler and operands. */
enum insn_form_kind {
    FORM_OTHER,     /* anything else: the JIT calls the handler */
    FORM_MOV_RR,    /* dst <- src (registers) */
    FORM_MOV_RI,    /* dst <- imm */
    FORM_ALU_RR,    /* dst = dst alu src (alu: OP_ADD... order of the encoding) */
    FORM_ALU_RI,    /* dst = dst alu imm */
    FORM_TEST_RR,   /* flags of dst & src */
    FORM_TEST_RI,   /* flags of dst & imm */
    FORM_LOAD,      /* dst <- [mem] */
    FORM_STORE,     /* [mem] <- src */
    FORM_STORE_IMM, /* [mem] <- imm */
    FORM_LEA,       /* dst32 <- 32-bit effective address */
    FORM_JCC,       /* conditional near branch (cc), 32-bit operand size */
    FORM_JMP,       /* near relative jump, 32-bit operand size */
    FORM_LOADX,     /* dst32 <- [mem] of size sz zero- (or with sx sign-) extended */
    FORM_MOVX_RR,   /* dst32 <- src of size sz (SZ8/SZ16) zero-extended */
    FORM_ALU_RM,    /* dst = dst alu [mem] */
    FORM_ALU_MR,    /* [mem] = [mem] alu src */
    FORM_ALU_MI,    /* [mem] = [mem] alu imm */
    FORM_SHIFT,     /* dst32 shifted (alu: 4 SHL, 5 SHR, 6 SAL, 7 SAR) by count, or by CL (cl) */
    FORM_IMUL,      /* dst32 = dst32 * src32, or (imm form) src32 * imm */
    FORM_INCDEC,    /* dst32 + 1 (alu 0) or - 1 (alu 1) */
    FORM_PUSH,      /* push src32 (32-bit stack) */
    FORM_POP,       /* pop dst32 (32-bit stack) */
    FORM_CALL,      /* call rel32 (32-bit code and stack) */
    FORM_RET,       /* ret (32-bit code and stack) */
    FORM_CMOV,      /* dst32 <- src32 when cc holds (registers) */
    FORM_SETCC,     /* byte register dst <- cc holds */
    FORM_ROT,       /* ROL (alu 0) / ROR (alu 1) of dst32 by count, or by CL (cl) */
};
struct insn_form {
    enum insn_form_kind kind;
    unsigned alu;       /* FORM_ALU_*: 0-7 as in the opcode (ADD OR ADC SBB AND SUB XOR CMP) */
    unsigned sz;        /* SZ8, SZ16, SZ32 */
    unsigned dst, src;  /* register numbers (byte registers: 0-3 low, 4-7 high bytes) */
    unsigned cc;        /* FORM_JCC */
    unsigned count;     /* FORM_SHIFT: the immediate count (0-31) */
    bool sx, cl, imm;   /* FORM_LOADX: sign-extend; FORM_SHIFT: by CL; FORM_IMUL: imm form */
    bool test;          /* FORM_ALU_MR/MI with alu 4 (AND): TEST, flags only */
};
/* Classify a decoded instruction (after decode_select_handler) for the JIT. */
void exec_insn_form(const struct insn *i, struct insn_form *f);

/* Continue at target (an EIP already stored in cpu->eip) without going back to the run loop
 * when it is in the same linear page as the current instruction and no event is pending. */
static inline struct insn *exec_chain(struct cpu *cpu, struct insn *i, uint32_t target)
{
    uint32_t req = cpu->interrupt_request;
    /* A pending INTR with IF clear cannot be taken: keep chaining. */
    if (__builtin_expect(req != 0, 0) && ((req & ~(uint32_t)CPU_REQ_INTR) || (cpu->eflags & FLAG_IF)))
        return NULL;
    uint32_t base = cpu->seg[SEG_CS].base;
    if (((base + target) ^ (base + cpu->eip_start)) & ~4095u)
        return NULL;
    struct insn *c = i->chain;
    if (c && c->fn != h_stale)
        return c;
    return exec_chain_slow(cpu, i, target);
}

/* Continue at an indirect target (already in cpu->eip) through the jump cache. */
static inline struct insn *exec_chain_indirect(struct cpu *cpu)
{
    uint32_t req = cpu->interrupt_request;
    if (__builtin_expect(req != 0, 0) && ((req & ~(uint32_t)CPU_REQ_INTR) || (cpu->eflags & FLAG_IF)))
        return NULL;
    return exec_jump_cache_lookup(cpu);
}

#endif

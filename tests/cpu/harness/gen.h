/* CPU conformance harness: instruction forms and seeded test cases.
 * Pure C, built twice: into the 32-bit native runner (which generates and runs the cases)
 * and into the 64-bit pcvm runner (which needs the form list for names and masks). */
#ifndef PCVM_TESTS_CPU_HARNESS_GEN_H
#define PCVM_TESTS_CPU_HARNESS_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "tc.h"

/* Special set-up a form needs (implicit operands, counts, stack, strings...). */
enum gen_kind {
    K_PLAIN, K_SHIFT1, K_SHIFT_CL, K_SHIFT_IB, K_STACK, K_POPF, K_ENTER, K_LEAVE, K_STRING,
    K_XLAT, K_DIV, K_BCD, K_AAMD, K_BTMEM, K_JCC, K_LOOP, K_CMPXCHG, K_CX8, K_BOUND, K_MOFFS,
    K_BSX, K_MULDIV, K_FAULT, K_INTO, K_X87, K_SIMD, K_BRANCH,
};

struct gen_form {
    char name[40];          /* "adc Ev,Gv o16 mem", "fadd m32fp", "sse 66 0f58 reg" */
    char mnem[16];          /* mnemonic, for --only (also matched: family "int"/"x87"/"simd") */
    uint8_t family;         /* enum tc_family */
    uint8_t map, opcode;
    int8_t reg;             /* group ModRM.reg, -1 for none */
    uint8_t opsize;         /* 8, 16, 32; 0 for x87/SIMD */
    uint8_t mem;            /* the ModRM operand is memory */
    uint8_t pfx;            /* SIMD mandatory prefix (0, 66, F2, F3) */
    uint8_t rep;            /* 0, F2, F3 */
    uint8_t lock;           /* F0 prefix */
    uint8_t addr16;         /* 67 prefix: 16-bit addressing (buffer at TC_MEM16_BASE) */
    uint8_t modrm;          /* x87 register forms: the whole ModRM byte */
    uint8_t kind;           /* enum gen_kind */
    uint8_t mem_size;       /* bytes of the memory operand (x87/SIMD) */
    uint8_t mem_type;       /* x87: enum gen_x87_mem */
    uint32_t attr;          /* OA_* of the opcode-table entry (integer forms) */
    uint8_t abs_mem;        /* the memory operand is encoded as SIB [disp32] (no base, no
                               index): the same absolute address in 64-bit mode */
    uint8_t vex;            /* VEX-encoded (BMI1/BMI2): pfx is the VEX.pp prefix */
    uint32_t flags_undef;   /* EFLAGS bits the form leaves undefined (VEX forms) */
};

/* Maximum number of forms gen_forms() can produce. */
#define GEN_MAX_FORMS 4096

/* Fill forms[] with every form the harness covers; returns the count (deterministic order). */
int gen_forms(struct gen_form *forms, int max);
/* Build case k of form form_id for seed: code bytes and input state (in, fx_in).
 * sel[] are the host's selectors (copied into the case). */
void gen_case(const struct gen_form *f, uint32_t form_id, uint32_t seed, uint32_t k,
              const uint16_t sel[6], struct tc_case *c);
/* True when name selects form f for --only (mnemonic, family name, or form-name prefix). */
bool gen_form_matches(const struct gen_form *f, const char *name);

/* True when the host CPU runs form f differently from pcvm's max model for lack of a common
 * feature (TZCNT without host BMI1, LZCNT without host LZCNT, the 0F 38 / 0F 3A and VEX forms
 * without SSSE3, SSE4.x, MOVBE, AES-NI, PCLMULQDQ, ADX, BMI1/BMI2 on the host); *why says so. */
bool gen_host_feature_mismatch(const struct gen_form *f, const char **why);

/* Range [*lo, *hi) of the data buffer whose contents the comparison ignores (x87 FNSTENV /
 * FNSAVE pointer fields the host does not keep); returns false when none. */
bool gen_mem_ignore(const struct gen_form *f, const struct tc_case *c, unsigned *lo, unsigned *hi);

#endif

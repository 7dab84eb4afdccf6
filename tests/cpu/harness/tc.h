/* CPU conformance harness: the test-case record shared by the generator, the native
 * runner (32-bit host process) and the pcvm runner (CPU core without the board).
 *
 * Flow: native runner generates cases (gen.c), runs each on the host CPU and writes one
 * record per case (inputs + host results) to stdout; pcvm_run reads the records, runs the
 * same bytes from the same state on pcvm's core and compares.  Plain fixed-size types only:
 * the layout is identical in the 32-bit and the 64-bit build. */
#ifndef PCVM_TESTS_CPU_HARNESS_TC_H
#define PCVM_TESTS_CPU_HARNESS_TC_H

#include <stdint.h>

/* Fixed guest/host addresses (flat segments, paging off in pcvm; MAP_FIXED on the host). */
#define TC_MEM_BASE   0x00100000u  /* data buffer (one page mapped, TC_MEM_SIZE compared) */
#define TC_MEM16_BASE 0x00008000u  /* the buffer for 16-bit address-size (67) forms */
#define TC_MEM_SIZE   256u
#define TC_CODE_BASE  0x00200000u  /* the instruction, then the exit jumps */
#define TC_STACK_OFF  0x80u        /* ESP for stack instructions: buffer + this */
#define TC_FRAME_OFF  0xa0u        /* EBP for ENTER/LEAVE: buffer + this */
#define TC_CODE_MAX   16u
/* Layout of the code page: insn at TC_CODE_BASE, then "jmp fallthrough_exit" (5 bytes),
 * then "jmp taken_exit" (5 bytes).  Jcc cases use displacement 5 so that "taken" ends at
 * TC_CODE_BASE + len + 5.  The result EIP is compared, so both paths are checked. */

/* Case families (what state is loaded/compared). */
enum tc_family { TC_INT = 0, TC_X87 = 1, TC_SIMD = 2 };

/* Case flags. */
enum {
    TC_F_FPU      = 1u << 0,  /* load/compare the FXSAVE image */
    TC_F_APPROX   = 1u << 1,  /* x87 transcendental: allow 1 ulp in ST results */
    TC_F_REP      = 1u << 2,  /* REP string: run pcvm until EIP moves on */
    TC_F_NOEXIT   = 1u << 3,  /* reserved */
    TC_F_F3       = 1u << 4,  /* F3 0F form (opcode_lookup_f3: POPCNT, TZCNT, LZCNT) */
};

/* Register/flag state (host and pcvm agree on this layout). */
struct tc_state {
    uint32_t regs[8];         /* EAX..EDI in encoding order */
    uint32_t eflags;
    uint32_t eip;
    uint32_t fault;           /* 0 none, else exception vector + 1 */
    uint32_t err;             /* error code (only #GP/#SS/#PF..., host: from the signal) */
    uint8_t mem[TC_MEM_SIZE]; /* the data buffer at TC_MEM_BASE */
};

struct tc_case {
    uint32_t seed;            /* replay with --seed seed --case index */
    uint32_t index;
    uint8_t code[TC_CODE_MAX];
    uint8_t len;
    uint8_t family;           /* enum tc_family */
    uint8_t map;              /* opcode table map of the instruction: 0 one byte, 1 = 0F */
    uint8_t opcode;
    int8_t reg;               /* ModRM.reg for group opcodes, -1 otherwise */
    uint8_t opsize;           /* 8, 16, 32 (integer), 0 otherwise */
    uint8_t count;            /* shift/rotate count as executed (masked to 5 bits), else 1 */
    uint8_t flags;            /* TC_F_* */
    uint32_t form;            /* form id (index in the generator's form list) */
    uint32_t membase;         /* address of the data buffer: TC_MEM_BASE or TC_MEM16_BASE */
    uint16_t sel[6];          /* host selectors ES CS SS DS FS GS (pcvm loads the same) */
    uint16_t memoff;          /* offset of the ModRM memory operand in the buffer */
    struct tc_state in, out;
    uint8_t fx_in[512];       /* FXSAVE images, only when TC_F_FPU */
    uint8_t fx_out[512];
};

/* Bytes of a record on the wire: the FXSAVE images are sent only for FPU cases. */
#define TC_REC_SHORT ((unsigned)(sizeof(struct tc_case) - 1024))
#define TC_REC_FULL  ((unsigned)sizeof(struct tc_case))

#define TC_MAGIC 0x31435450u /* "PTC1": first word of the stream */

#endif

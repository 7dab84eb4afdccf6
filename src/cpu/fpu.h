/* x87 / MMX / SSE state, embedded in struct cpu. Owned by fpu. */
#ifndef PCVM_CPU_FPU_H
#define PCVM_CPU_FPU_H

#include <stdint.h>

struct fpu_state {
    uint16_t control, status, tag;
    uint32_t mxcsr;
    uint8_t st[8][16];       /* 80-bit registers (fpu's own representation) */
    uint8_t xmm[8][16];
};

#endif

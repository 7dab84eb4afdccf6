/* Private state of exec (decoder, trace cache, lazy flags), embedded in struct cpu.
 * Owned by exec. */
#ifndef PCVM_CPU_EXEC_H
#define PCVM_CPU_EXEC_H

#include <stdint.h>

struct cpu_exec_state {
    /* Lazy arithmetic flags: the last flag-setting operation. */
    uint32_t lf_result;
    uint32_t lf_op1;
    uint32_t lf_op2;
    uint32_t lf_kind;
    void *traces; /* trace cache (exec's own layout) */
};

#endif

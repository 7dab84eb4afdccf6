/* Private state of sys (TLB, MSRs, model data, exception bookkeeping), embedded in struct cpu.
 * Owned by sys. */
#ifndef PCVM_CPU_SYS_H
#define PCVM_CPU_SYS_H

#include <stdint.h>

struct cpu_sys_state {
    int pending_vector;      /* exception recorded by cpu_exception(), -1 none */
    uint32_t pending_error;
    void *tlb;               /* software TLB (sys's own layout) */
    uint64_t tsc_offset;
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t apic_base;
};

#endif

/* Stand-ins for exec's and fpu's functions, so sys's unit tests can be linked from sys's own
 * sources before the whole core exists:
 *   gcc ... tests/unit/test_mmu.c src/cpu/{mmu,seg,intr,task,cpuid,msr,models,sysregs,cpu}.c \
 *       src/mem/memory.c src/util/log.c src/util/vclock.c tests/cpu/sys/stubs.c -lcmocka
 * Under `make check` the real exec/fpu in libpcvm.a are used instead (do not link this). */
#include "cpu/cpu.h"

uint32_t cpu_get_eflags(struct cpu *cpu)
{
    return cpu->eflags;
}

void cpu_set_eflags(struct cpu *cpu, uint32_t value, uint32_t mask)
{
    uint32_t old = cpu->eflags;
    cpu->eflags = (old & ~mask) | (value & mask) | FLAG_BIT1;
    if ((old ^ cpu->eflags) & FLAG_VM)
        cpu_update_mode(cpu);
}

void cpu_code_written(struct cpu *cpu, uint32_t paddr, unsigned len)
{
    (void)cpu; (void)paddr; (void)len;
}

void cpu_flush_traces(struct cpu *cpu)
{
    (void)cpu;
}

void fpu_reset(struct cpu *cpu)
{
    (void)cpu;
}

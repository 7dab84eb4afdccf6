/* SYSCALL (0F 05) and SYSRET (0F 07) outside long mode, AMD's legacy mode: the architectural
 * part is cpu_syscall/cpu_sysret (sysregs.c). Intel CPUs have them only in 64-bit mode, which
 * pcvm does not have, so only models reporting CPUID.80000001H:EDX[11] decode them. */
#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/flags.h"

static struct insn *h_syscall(struct cpu *cpu, struct insn *i)
{
    flags_materialize(cpu);
    if (i->op == 0x05)
        cpu_syscall(cpu, cpu->eip + i->len);
    else
        cpu_sysret(cpu);
    return NULL;
}

insn_fn syscall_select_handler(struct cpu *cpu, const struct insn *i)
{
    if (i->map != 1 || (i->pfx & P_LOCK) || !(cpu->model->ext_edx & CPUID_EXT_SYSCALL))
        return NULL;
    return i->op == 0x05 || i->op == 0x07 ? h_syscall : NULL;
}

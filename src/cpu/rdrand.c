/* RDRAND and RDSEED (random numbers from the host's getrandom), and the two readers of
 * IA32_TSC_AUX: RDTSCP (TSC and TSC_AUX) and RDPID (TSC_AUX alone). */
#include <sys/random.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/flags.h"
#include "cpu/opcodes.h"

static struct insn *next(struct cpu *cpu, struct insn *i)
{
    cpu->eip += i->len;
    return i + 1;
}

/* 0F C7 /6 RDRAND, 0F C7 /7 RDSEED r16/r32: CF=1 with a random value, or CF=0 and zero when
 * none is available; OF SF ZF AF PF cleared. */
static struct insn *h_rdrand(struct cpu *cpu, struct insn *i)
{
    uint32_t v = 0;
    bool ok = getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v);
    if (!ok)
        v = 0;
    if (i->pfx & P_OP32)
        cpu->regs[i->rm] = v;
    else
        cpu->regs[i->rm] = (cpu->regs[i->rm] & 0xffff0000u) | (v & 0xffff);
    flags_set_arith(cpu, ok ? FLAG_CF : 0, FLAGS_ARITH);
    return next(cpu, i);
}

/* F3 0F C7 /7 RDPID r32: IA32_TSC_AUX (not gated by CR4.TSD). */
static struct insn *h_rdpid(struct cpu *cpu, struct insn *i)
{
    cpu->regs[i->rm] = (uint32_t)cpu->sys.tsc_aux;
    return next(cpu, i);
}

/* 0F 01 F9 RDTSCP: EDX:EAX = TSC, ECX = IA32_TSC_AUX; #GP(0) outside ring 0 under CR4.TSD. */
static struct insn *h_rdtscp(struct cpu *cpu, struct insn *i)
{
    if ((cpu->cr4 & CR4_TSD) && cpu->pe && (cpu->cpl != 0 || cpu->vm86))
        cpu_exception(cpu, EXC_GP, 0);
    uint64_t t = cpu_read_tsc(cpu);
    cpu->regs[R_EAX] = (uint32_t)t;
    cpu->regs[R_EDX] = (uint32_t)(t >> 32);
    cpu->regs[R_ECX] = (uint32_t)cpu->sys.tsc_aux;
    return next(cpu, i);
}

insn_fn rdrand_select_handler(struct cpu *cpu, const struct insn *i, bool *claimed)
{
    uint32_t ext = cpu->exec.ext_features;
    *claimed = false;
    if (i->map != 1 || (i->pfx & P_LOCK))
        return NULL;
    if (i->op == 0x01 && i->modrm == 0xf9) {
        *claimed = (ext >> OX_RDTSCP & 1) != 0;
        return *claimed ? h_rdtscp : NULL;
    }
    if (i->op != 0xc7 || (i->pfx & P_MEM) || i->reg < 6)
        return NULL;
    if (i->reg == 7 && (i->pfx & P_REP)) {   /* F3: RDPID */
        *claimed = true;
        return (ext >> OX_RDPID & 1) ? h_rdpid : NULL;
    }
    *claimed = true;
    if (i->pfx & (P_REP | P_REPNE))
        return NULL;
    return (ext >> (i->reg == 6 ? OX_RDRAND : OX_RDSEED) & 1) ? h_rdrand : NULL;
}

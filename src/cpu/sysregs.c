/* Control and debug registers, SYSENTER/SYSEXIT, SYSCALL/SYSRET, the I/O permission check, A20, the TSC. */
#include "cpu/sysint.h"

static void check_cpl0(struct cpu *cpu)
{
    if (cpu->pe && (cpu->vm86 || cpu->cpl != 0))
        cpu_exception(cpu, EXC_GP, 0);
}

/* CR4 bits the model supports. */
static uint32_t cr4_valid(const struct cpu *cpu)
{
    const struct cpu_model *m = cpu->model;
    uint32_t v = 0;
    if (m->features_edx & CPUID_VME)
        v |= CR4_VME | CR4_PVI;
    if (m->features_edx & CPUID_TSC)
        v |= CR4_TSD;
    if (m->features_edx & CPUID_DE)
        v |= CR4_DE;
    if (m->features_edx & CPUID_PSE)
        v |= CR4_PSE;
    if (m->features_edx & CPUID_PAE)
        v |= CR4_PAE;
    if (m->features_edx & CPUID_MCE)
        v |= CR4_MCE;
    if (m->features_edx & CPUID_PGE)
        v |= CR4_PGE;
    if (m->family >= 6)
        v |= CR4_PCE;
    if (m->features_edx & CPUID_FXSR)
        v |= CR4_OSFXSR;
    if (m->features_edx & CPUID_SSE)
        v |= CR4_OSXMMEXCPT;
    if (m->leaf7_ebx & CPUID_7EBX_SMEP)
        v |= CR4_SMEP;
    if (m->leaf7_ebx & CPUID_7EBX_SMAP)
        v |= CR4_SMAP;
    if (m->leaf7_ecx & CPUID_7ECX_UMIP)
        v |= CR4_UMIP;
    if (m->features_ecx & CPUID_ECX_XSAVE)
        v |= CR4_OSXSAVE;
    return v;
}

uint32_t cpu_read_cr(struct cpu *cpu, int n)
{
    if (n == 1 || n > 4)
        cpu_exception(cpu, EXC_UD, 0);
    check_cpl0(cpu);
    switch (n) {
    case 0: return cpu->cr0;
    case 2: return cpu->cr2;
    case 3: return cpu->cr3;
    default: return cpu->cr4;
    }
}

void cpu_write_cr(struct cpu *cpu, int n, uint32_t value)
{
    if (n == 1 || n > 4)
        cpu_exception(cpu, EXC_UD, 0);
    check_cpl0(cpu);
    switch (n) {
    case 0: {
        const uint32_t defined = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP |
                                 CR0_AM | CR0_NW | CR0_CD | CR0_PG;
        if ((value & CR0_PG) && !(value & CR0_PE))
            cpu_exception(cpu, EXC_GP, 0);
        if ((value & CR0_NW) && !(value & CR0_CD))
            cpu_exception(cpu, EXC_GP, 0);
        value = (value & defined) | CR0_ET;
        if ((value & CR0_PG) && !(cpu->cr0 & CR0_PG) && (cpu->cr4 & CR4_PAE))
            mmu_load_pdptes(cpu, cpu->cr3);
        uint32_t changed = cpu->cr0 ^ value;
        cpu->cr0 = value;
        /* Traces stay: they are keyed by physical address and code32/stack32, and their
         * handlers do not depend on PE/PG (SeaBIOS switches modes on every BIOS call). */
        if (changed & (CR0_PG | CR0_PE | CR0_WP))
            cpu_tlb_flush(cpu);
        cpu_update_mode(cpu);
        break;
    }
    case 2:
        cpu->cr2 = value;
        break;
    case 3:
        if (cpu->paging && (cpu->cr4 & CR4_PAE))
            mmu_load_pdptes(cpu, value);
        cpu->cr3 = value;
        mmu_flush_nonglobal(cpu);
        break;
    case 4: {
        if (value & ~cr4_valid(cpu))
            cpu_exception(cpu, EXC_GP, 0);
        if (cpu->paging && (value & CR4_PAE) && !(cpu->cr4 & CR4_PAE))
            mmu_load_pdptes(cpu, cpu->cr3);
        uint32_t changed = cpu->cr4 ^ value;
        cpu->cr4 = value;
        if (changed & (CR4_PSE | CR4_PGE | CR4_PAE | CR4_SMEP | CR4_SMAP))
            cpu_tlb_flush(cpu);
        break;
    }
    }
}

uint32_t cpu_read_dr(struct cpu *cpu, int n)
{
    if (n > 7)
        cpu_exception(cpu, EXC_UD, 0);
    if ((n == 4 || n == 5) && (cpu->cr4 & CR4_DE))
        cpu_exception(cpu, EXC_UD, 0);
    check_cpl0(cpu);
    if (n == 4 || n == 5)
        n += 2;
    return cpu->dr[n];
}

void cpu_write_dr(struct cpu *cpu, int n, uint32_t value)
{
    if (n > 7)
        cpu_exception(cpu, EXC_UD, 0);
    if ((n == 4 || n == 5) && (cpu->cr4 & CR4_DE))
        cpu_exception(cpu, EXC_UD, 0);
    check_cpl0(cpu);
    if (n == 4 || n == 5)
        n += 2;
    if (n == 6)
        value = (value & 0x0000e00fu) | 0xffff0ff0u;
    else if (n == 7)
        value = (value & 0xffff2bffu) | 0x400;
    cpu->dr[n] = value;
    if (n == 7) {
        /* Data breakpoints: enabled (L or G) with R/W 01 or 11. */
        uint8_t data = 0;
        for (unsigned i = 0; i < 4; i++)
            if (((value >> (2 * i)) & 3) && ((value >> (16 + 4 * i)) & 1))
                data |= (uint8_t)(1u << i);
        cpu->sys.data_bp = data;
        mmu_update_mode(cpu);
    }
}

void cpu_check_io(struct cpu *cpu, uint16_t port, unsigned size)
{
    if (!cpu->pe)
        return;
    unsigned iopl = (cpu->eflags & FLAG_IOPL) >> 12;
    if (!cpu->vm86 && cpu->cpl <= iopl)
        return;
    /* The I/O permission bitmap of a 32-bit TSS. */
    const struct seg *tr = &cpu->tr;
    if ((seg_type(tr) & 9) != 9 || tr->limit < 103)
        cpu_exception(cpu, EXC_GP, 0);
    uint32_t base = cpu_lin_read16(cpu, tr->base + 0x66, ACC_READ | ACC_SUPER);
    uint32_t at = base + port / 8;
    if (at + 1 > tr->limit)
        cpu_exception(cpu, EXC_GP, 0);
    uint32_t bits = cpu_lin_read16(cpu, tr->base + at, ACC_READ | ACC_SUPER);
    uint32_t mask = ((1u << size) - 1) << (port & 7);
    if (bits & mask)
        cpu_exception(cpu, EXC_GP, 0);
}

void cpu_set_a20(struct cpu *cpu, bool enabled)
{
    uint32_t mask = enabled ? 0xffffffffu : 0xffefffffu;
    if (mask == cpu->a20_mask)
        return;
    cpu->a20_mask = mask;
    /* Only linear-to-physical translation changes: traces (by physical address) stay, and
     * the jump cache's key includes the A20 state. */
    cpu_tlb_flush(cpu);
}

uint64_t cpu_read_tsc(struct cpu *cpu)
{
    uint64_t ticks;
    uint64_t mhz = cpu->model && cpu->model->mhz ? cpu->model->mhz : 1000;
    if (cpu->clock) {
        int64_t ns = vclock_now(cpu->clock);
        uint64_t u = ns > 0 ? (uint64_t)ns : 0;
        ticks = (u / 1000) * mhz + (u % 1000) * mhz / 1000;
    } else {
        ticks = cpu->insn_count;
    }
    return ticks + cpu->sys.tsc_offset;
}

void cpu_sysenter(struct cpu *cpu)
{
    if (!cpu->pe || (cpu->sys.sysenter_cs & 0xfffc) == 0)
        cpu_exception(cpu, EXC_GP, 0);
    cpu_set_eflags(cpu, 0, FLAG_VM | FLAG_IF | FLAG_RF);
    uint16_t cs = (uint16_t)(cpu->sys.sysenter_cs & 0xfffc);
    seg_set_flat(cpu, SEG_CS, cs, 0xb, 0);
    seg_set_flat(cpu, SEG_SS, (uint16_t)(cs + 8), 0x3, 0);
    cpu->cpl = 0;
    cpu->regs[R_ESP] = cpu->sys.sysenter_esp;
    cpu->eip = cpu->sys.sysenter_eip;
    cpu_update_mode(cpu);
}

void cpu_sysexit(struct cpu *cpu)
{
    if (!cpu->pe || cpu->vm86 || cpu->cpl != 0 || (cpu->sys.sysenter_cs & 0xfffc) == 0)
        cpu_exception(cpu, EXC_GP, 0);
    uint16_t cs = (uint16_t)(cpu->sys.sysenter_cs & 0xfffc);
    seg_set_flat(cpu, SEG_CS, (uint16_t)((cs + 16) | 3), 0xb, 3);
    seg_set_flat(cpu, SEG_SS, (uint16_t)((cs + 24) | 3), 0x3, 3);
    cpu->cpl = 3;
    cpu->regs[R_ESP] = cpu->regs[R_ECX];
    cpu->eip = cpu->regs[R_EDX];
    cpu_update_mode(cpu);
}

/* AMD64 APM vol. 3, SYSCALL in legacy mode: CS = STAR[47:32] (flat ring-0 code), SS = CS + 8;
 * ECX = the return EIP; IF, RF and VM cleared; EIP = STAR[31:0]. */
void cpu_syscall(struct cpu *cpu, uint32_t next_eip)
{
    if (!(cpu->sys.efer & EFER_SCE))
        cpu_exception(cpu, EXC_UD, 0);
    uint16_t sel = (uint16_t)(cpu->sys.star >> 32);
    cpu->regs[R_ECX] = next_eip;
    cpu_set_eflags(cpu, 0, FLAG_VM | FLAG_IF | FLAG_RF);
    seg_set_flat(cpu, SEG_CS, sel & 0xfffc, 0xb, 0);
    seg_set_flat(cpu, SEG_SS, (uint16_t)((sel + 8) & 0xfffc), 0x3, 0);
    cpu->cpl = 0;
    cpu->eip = (uint32_t)cpu->sys.star;
    cpu_update_mode(cpu);
}

/* SYSRET in legacy mode (protected mode, CPL 0): CS = STAR[63:48] | 3, SS = CS + 8 (flat
 * ring-3 segments), IF set, EIP = ECX. */
void cpu_sysret(struct cpu *cpu)
{
    if (!(cpu->sys.efer & EFER_SCE))
        cpu_exception(cpu, EXC_UD, 0);
    if (!cpu->pe || cpu->vm86 || cpu->cpl != 0)
        cpu_exception(cpu, EXC_GP, 0);
    uint16_t sel = (uint16_t)(cpu->sys.star >> 48);
    cpu_set_eflags(cpu, FLAG_IF, FLAG_IF);
    seg_set_flat(cpu, SEG_CS, (uint16_t)(sel | 3), 0xb, 3);
    seg_set_flat(cpu, SEG_SS, (uint16_t)((sel + 8) | 3), 0x3, 3);
    cpu->cpl = 3;
    cpu->eip = cpu->regs[R_ECX];
    cpu_update_mode(cpu);
}

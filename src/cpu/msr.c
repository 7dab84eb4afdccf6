/* Model-specific registers of the P6 family (and what Linux probes on them). The performance
 * counters are left out (#GP): pcvm does not count events, and guests then fall back to
 * software events, as they do under QEMU's TCG. */
#include "cpu/sysint.h"
#include "cpu/kvm_para.h"

enum {
    MSR_TSC = 0x10, MSR_PLATFORM_ID = 0x17, MSR_APIC_BASE = 0x1b, MSR_EBL_CR_POWERON = 0x2a,
    MSR_BIOS_SIGN_ID = 0x8b, MSR_MTRRCAP = 0xfe,
    MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176,
    MSR_MCG_CAP = 0x179, MSR_MCG_STATUS = 0x17a, MSR_MCG_CTL = 0x17b, MSR_MISC_ENABLE = 0x1a0,
    MSR_DEBUGCTL = 0x1d9,
    MSR_MTRR_PHYS_BASE0 = 0x200, MSR_MTRR_FIX64K = 0x250, MSR_MTRR_FIX16K_80000 = 0x258,
    MSR_MTRR_FIX16K_A0000 = 0x259, MSR_MTRR_FIX4K_C0000 = 0x268, MSR_PAT = 0x277,
    MSR_MTRR_DEF_TYPE = 0x2ff, MSR_MC0_CTL = 0x400,
    /* AMD K7 (its performance counters, like the P6 ones, are absent: they would not count) */
    MSR_K7_SYSCFG = 0xc0010010u,
    MSR_K7_HWCR = 0xc0010015u, MSR_K7_TOP_MEM = 0xc001001au, MSR_K7_CLK_CTL = 0xc001001bu,
    MSR_AMD_NB_CFG = 0xc001001fu,   /* northbridge configuration, family 10h on */
    MSR_XSS = 0xda0u,
    MSR_EFER = 0xc0000080u, MSR_STAR = 0xc0000081u, MSR_TSC_AUX = 0xc0000103u,
};

/* IA32_TSC_AUX exists with RDTSCP or RDPID. */
static bool has_tsc_aux(const struct cpu *cpu)
{
    return (cpu->model->ext_edx & CPUID_EXT_RDTSCP) || (cpu->model->leaf7_ecx & CPUID_7ECX_RDPID);
}

/* IA32_EFER bits the model lets software set: SCE with SYSCALL, NXE with NX (no long mode). */
static uint64_t efer_writable(const struct cpu *cpu)
{
    uint64_t m = 0;
    if (cpu->model->ext_edx & CPUID_EXT_SYSCALL)
        m |= EFER_SCE;
    if (cpu->model->ext_edx & CPUID_EXT_NX)
        m |= EFER_NXE;
    return m;
}

/* IA32_XSS exists with XSAVES (CPUID.(EAX=0DH,ECX=1):EAX[3]). */
static bool has_xsaves(const struct cpu *cpu)
{
    return (cpu->model->features_ecx & CPUID_ECX_XSAVE) && (cpu->model->xsave1_eax & CPUID_D1EAX_XSAVES);
}

static bool is_amd(const struct cpu *cpu)
{
    return cpu->model->vendor[0] == 'A';
}

/* Storage for the AMD MSRs, or NULL. */
static uint64_t *amd_msr(struct cpu *cpu, uint32_t index)
{
    if (!is_amd(cpu))
        return NULL;
    switch (index) {
    case MSR_K7_SYSCFG: return &cpu->sys.amd_syscfg;
    case MSR_K7_HWCR: return &cpu->sys.amd_hwcr;
    case MSR_K7_TOP_MEM: return &cpu->sys.amd_top_mem;
    case MSR_AMD_NB_CFG: return cpu->model->family >= 0x10 ? &cpu->sys.amd_nb_cfg : NULL;
    default: return NULL;
    }
}

static void check_msr_access(struct cpu *cpu)
{
    if (!(cpu->model->features_edx & CPUID_MSR))
        cpu_exception(cpu, EXC_UD, 0);
    if (cpu->pe && (cpu->vm86 || cpu->cpl != 0))
        cpu_exception(cpu, EXC_GP, 0);
}

/* Pointer to the storage of a fixed-range MTRR, or NULL. */
static uint64_t *mtrr_fixed(struct cpu *cpu, uint32_t index)
{
    if (index == MSR_MTRR_FIX64K)
        return &cpu->sys.mtrr_fixed[0];
    if (index == MSR_MTRR_FIX16K_80000 || index == MSR_MTRR_FIX16K_A0000)
        return &cpu->sys.mtrr_fixed[1 + index - MSR_MTRR_FIX16K_80000];
    if (index >= MSR_MTRR_FIX4K_C0000 && index < MSR_MTRR_FIX4K_C0000 + 8)
        return &cpu->sys.mtrr_fixed[3 + index - MSR_MTRR_FIX4K_C0000];
    return NULL;
}

static bool has(const struct cpu *cpu, uint32_t f)
{
    return (cpu->model->features_edx & f) != 0;
}

uint64_t cpu_rdmsr(struct cpu *cpu, uint32_t index)
{
    check_msr_access(cpu);
    uint64_t kvm_value;
    if (kvm_para_rdmsr(cpu, index, &kvm_value))
        return kvm_value;
    struct cpu_sys_state *s = &cpu->sys;
    bool p6 = cpu->model->family >= 6;
    switch (index) {
    case MSR_TSC:
        return cpu_read_tsc(cpu);
    case MSR_PLATFORM_ID:
        if (p6)
            return 0;
        break;
    case MSR_APIC_BASE:
        if (has(cpu, CPUID_APIC))
            return s->apic_base;
        break;
    case MSR_EBL_CR_POWERON:
        if (p6)
            return 0;
        break;
    case MSR_BIOS_SIGN_ID:
        if (p6)
            return s->bios_sign_id;
        break;
    case MSR_MTRRCAP:
        if (has(cpu, CPUID_MTRR))
            return 0x508; /* 8 variable ranges, fixed ranges, write-combining */
        break;
    case MSR_SYSENTER_CS:
        if (has(cpu, CPUID_SEP))
            return s->sysenter_cs;
        break;
    case MSR_SYSENTER_ESP:
        if (has(cpu, CPUID_SEP))
            return s->sysenter_esp;
        break;
    case MSR_SYSENTER_EIP:
        if (has(cpu, CPUID_SEP))
            return s->sysenter_eip;
        break;
    case MSR_MCG_CAP:
        if (has(cpu, CPUID_MCA))
            return SYS_MCA_BANKS | (1u << 8); /* MCG_CTL present */
        break;
    case MSR_MCG_STATUS:
        if (has(cpu, CPUID_MCA))
            return s->mcg_status;
        break;
    case MSR_MCG_CTL:
        if (has(cpu, CPUID_MCA))
            return s->mcg_ctl;
        break;
    case MSR_MISC_ENABLE:
        if (p6)
            return s->misc_enable;
        break;
    case MSR_DEBUGCTL:
        if (p6)
            return s->debugctl;
        break;
    case MSR_PAT:
        if (has(cpu, CPUID_PAT))
            return s->pat;
        break;
    case MSR_MTRR_DEF_TYPE:
        if (has(cpu, CPUID_MTRR))
            return s->mtrr_def_type;
        break;
    case MSR_K7_CLK_CTL:
        if (is_amd(cpu))
            return 0x20000000u; /* the value AMD documents for K7 at reset */
        break;
    case MSR_TSC_AUX:
        if (has_tsc_aux(cpu))
            return s->tsc_aux;
        break;
    case MSR_EFER:
        if (efer_writable(cpu))
            return s->efer;
        break;
    case MSR_STAR:
        if (cpu->model->ext_edx & CPUID_EXT_SYSCALL)
            return s->star;
        break;
    case MSR_XSS:
        if (has_xsaves(cpu))
            return 0;   /* no supervisor state components exist */
        break;
    default:
        if (amd_msr(cpu, index))
            return *amd_msr(cpu, index);
        if (has(cpu, CPUID_MTRR) && index >= MSR_MTRR_PHYS_BASE0 && index < MSR_MTRR_PHYS_BASE0 + 16)
            return s->mtrr_var[index - MSR_MTRR_PHYS_BASE0];
        if (has(cpu, CPUID_MTRR) && mtrr_fixed(cpu, index))
            return *mtrr_fixed(cpu, index);
        if (has(cpu, CPUID_MCA) && index >= MSR_MC0_CTL && index < MSR_MC0_CTL + 4 * SYS_MCA_BANKS)
            return s->mc_regs[(index - MSR_MC0_CTL) / 4][(index - MSR_MC0_CTL) % 4];
        break;
    }
    log_printf(cpu->log, LOG_UNIMP, "rdmsr of unknown MSR 0x%x\n", index);
    cpu_exception(cpu, EXC_GP, 0);
}

void cpu_wrmsr(struct cpu *cpu, uint32_t index, uint64_t value)
{
    check_msr_access(cpu);
    if (kvm_para_wrmsr(cpu, index, value))
        return;
    struct cpu_sys_state *s = &cpu->sys;
    bool p6 = cpu->model->family >= 6;
    switch (index) {
    case MSR_TSC:
        /* Writes set the counter; P6 writes only the low 32 bits, zero-extended. */
        s->tsc_offset = 0;
        s->tsc_offset = (p6 ? (value & 0xffffffffu) : value) - cpu_read_tsc(cpu);
        kvm_para_tsc_changed(cpu);
        return;
    case MSR_APIC_BASE:
        if (has(cpu, CPUID_APIC)) {
            if (value & ~0xfffff900ull)
                break;
            s->apic_base = (s->apic_base & (1u << 8)) | (value & ~(uint64_t)(1u << 8));
            if (cpu->board.apic_base_changed)
                cpu->board.apic_base_changed(cpu->board.opaque, cpu, s->apic_base);
            return;
        }
        break;
    case MSR_BIOS_SIGN_ID:
        if (p6) {
            s->bios_sign_id = 0; /* no microcode update is loaded */
            return;
        }
        break;
    case MSR_SYSENTER_CS:
        if (has(cpu, CPUID_SEP)) {
            s->sysenter_cs = (uint32_t)value & 0xffff;
            return;
        }
        break;
    case MSR_SYSENTER_ESP:
        if (has(cpu, CPUID_SEP)) {
            s->sysenter_esp = (uint32_t)value;
            return;
        }
        break;
    case MSR_SYSENTER_EIP:
        if (has(cpu, CPUID_SEP)) {
            s->sysenter_eip = (uint32_t)value;
            return;
        }
        break;
    case MSR_MCG_STATUS:
        if (has(cpu, CPUID_MCA)) {
            s->mcg_status = value;
            return;
        }
        break;
    case MSR_MCG_CTL:
        if (has(cpu, CPUID_MCA)) {
            s->mcg_ctl = value;
            return;
        }
        break;
    case MSR_MISC_ENABLE:
        if (p6) {
            s->misc_enable = value;
            return;
        }
        break;
    case MSR_DEBUGCTL:
        if (p6) {
            s->debugctl = value & 0x7f;
            return;
        }
        break;
    case MSR_PAT:
        if (has(cpu, CPUID_PAT)) {
            /* Each byte must be a valid memory type: 0, 1, 4, 5, 6, 7. */
            for (int i = 0; i < 8; i++) {
                unsigned t = (value >> (8 * i)) & 0xff;
                if (t > 7 || t == 2 || t == 3)
                    cpu_exception(cpu, EXC_GP, 0);
            }
            s->pat = value;
            return;
        }
        break;
    case MSR_MTRR_DEF_TYPE:
        if (has(cpu, CPUID_MTRR)) {
            s->mtrr_def_type = value & 0xcff;
            return;
        }
        break;
    case MSR_K7_CLK_CTL:
        if (is_amd(cpu))
            return; /* accepted, no effect */
        break;
    case MSR_TSC_AUX:
        if (has_tsc_aux(cpu)) {
            if (value >> 32)
                break;   /* bits 63:32 are reserved */
            s->tsc_aux = value;
            return;
        }
        break;
    case MSR_EFER:
        if (efer_writable(cpu)) {
            if (value & ~efer_writable(cpu))
                break;
            if ((value ^ s->efer) & EFER_NXE)
                cpu_tlb_flush(cpu);   /* the NX bit changes meaning */
            s->efer = value;
            return;
        }
        break;
    case MSR_STAR:
        if (cpu->model->ext_edx & CPUID_EXT_SYSCALL) {
            s->star = value;
            return;
        }
        break;
    case MSR_XSS:
        if (has_xsaves(cpu) && value == 0)
            return;     /* any supervisor component bit: #GP (none is supported) */
        break;
    default:
        if (amd_msr(cpu, index)) {
            *amd_msr(cpu, index) = value;
            return;
        }
        if (has(cpu, CPUID_MTRR) && index >= MSR_MTRR_PHYS_BASE0 && index < MSR_MTRR_PHYS_BASE0 + 16) {
            s->mtrr_var[index - MSR_MTRR_PHYS_BASE0] = value & 0xfffffffffull;
            return;
        }
        if (has(cpu, CPUID_MTRR) && mtrr_fixed(cpu, index)) {
            *mtrr_fixed(cpu, index) = value;
            return;
        }
        if (has(cpu, CPUID_MCA) && index >= MSR_MC0_CTL && index < MSR_MC0_CTL + 4 * SYS_MCA_BANKS) {
            unsigned bank = (index - MSR_MC0_CTL) / 4, reg = (index - MSR_MC0_CTL) % 4;
            /* MCi_STATUS accepts only zero. */
            if (reg == 1 && value != 0)
                cpu_exception(cpu, EXC_GP, 0);
            s->mc_regs[bank][reg] = value;
            return;
        }
        break;
    }
    log_printf(cpu->log, LOG_UNIMP, "wrmsr of unknown MSR 0x%x value 0x%llx\n", index,
               (unsigned long long)value);
    cpu_exception(cpu, EXC_GP, 0);
}

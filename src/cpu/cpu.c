/* CPU set-up: init, RESET# and INIT# state, mode bookkeeping. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/sysint.h"

void cpu_update_mode(struct cpu *cpu)
{
    cpu->pe = (cpu->cr0 & CR0_PE) != 0;
    cpu->paging = cpu->pe && (cpu->cr0 & CR0_PG);
    cpu->vm86 = cpu->pe && (cpu->eflags & FLAG_VM);
    /* In protected mode the CPL is kept by whoever loads CS (it is CS.RPL, except right
     * after CR0.PE is set, when it stays 0 until the far jump). */
    if (!cpu->pe)
        cpu->cpl = 0;
    else if (cpu->vm86)
        cpu->cpl = 3;
    cpu->code32 = (cpu->seg[SEG_CS].flags & SEG_FLAG_DB) != 0;
    cpu->stack32 = (cpu->seg[SEG_SS].flags & SEG_FLAG_DB) != 0;
    mmu_update_mode(cpu);
}

static uint32_t signature(const struct cpu_model *m)
{
    uint32_t fam = m->family > 15 ? 15 : m->family;
    uint32_t ext_fam = m->family > 15 ? m->family - 15 : 0;
    return (m->stepping & 15) | ((m->model & 15) << 4) | (fam << 8) | ((m->model >> 4) << 16) |
           (ext_fam << 20);
}

static void log_reset(struct cpu *cpu, const char *what)
{
    if (!log_enabled(cpu->log, LOG_CPU_RESET))
        return;
    log_printf(cpu->log, LOG_CPU_RESET,
               "CPU#%d %s: EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x "
               "ESP=%08x EIP=%08x EFL=%08x CS=%04x:%08x CR0=%08x CR3=%08x CR4=%08x\n",
               cpu->index, what, cpu->regs[R_EAX], cpu->regs[R_EBX], cpu->regs[R_ECX],
               cpu->regs[R_EDX], cpu->regs[R_ESI], cpu->regs[R_EDI], cpu->regs[R_EBP],
               cpu->regs[R_ESP], cpu->eip, cpu->eflags, cpu->seg[SEG_CS].sel,
               cpu->seg[SEG_CS].base, cpu->cr0, cpu->cr3, cpu->cr4);
}

/* The state RESET# and INIT# share (SDM vol. 3 table 9-1). */
static void reset_common(struct cpu *cpu, bool power_on)
{
    log_reset(cpu, power_on ? "reset (state before)" : "INIT (state before)");
    for (int i = 0; i < 8; i++)
        cpu->regs[i] = 0;
    cpu->regs[R_EDX] = signature(cpu->model);
    cpu->eip = 0xfff0;
    uint32_t keep = power_on ? 0 : (cpu->cr0 & (CR0_CD | CR0_NW));
    cpu->cr0 = power_on ? 0x60000010u : (0x00000010u | keep);
    cpu->cr2 = cpu->cr3 = cpu->cr4 = 0;
    const uint32_t data = SEG_FLAG_P | SEG_FLAG_S | (3u << SEG_FLAG_TYPE_SHIFT);
    for (int i = 0; i < SEG_COUNT; i++)
        cpu->seg[i] = (struct seg){ 0, 0, 0xffff, data };
    cpu->seg[SEG_CS] = (struct seg){ 0xf000, 0xffff0000u, 0xffff,
                                     SEG_FLAG_P | SEG_FLAG_S | (0xbu << SEG_FLAG_TYPE_SHIFT) };
    cpu->gdtr = (struct dtr){ 0, 0xffff };
    cpu->idtr = (struct dtr){ 0, 0xffff };
    cpu->ldtr = (struct seg){ 0, 0, 0xffff, SEG_FLAG_P | (2u << SEG_FLAG_TYPE_SHIFT) };
    cpu->tr = (struct seg){ 0, 0, 0xffff, SEG_FLAG_P | (0xbu << SEG_FLAG_TYPE_SHIFT) };
    for (int i = 0; i < 4; i++)
        cpu->dr[i] = 0;
    cpu->dr[4] = cpu->dr[6] = 0xffff0ff0u;
    cpu->dr[5] = cpu->dr[7] = 0x400;
    cpu->cpl = 0;
    cpu->halted = false;
    cpu->inhibit_irq = false;
    cpu_request(cpu, CPU_REQ_NMI | CPU_REQ_INIT | CPU_REQ_SIPI | CPU_REQ_SMI, 0);

    struct cpu_sys_state *s = &cpu->sys;
    s->pending_vector = -1;
    s->pending_error = 0;
    s->delivering = -1;
    s->ext = false;
    s->triple_fault = false;
    s->nmi_blocked = false;
    s->data_bp = 0;
    s->db_hits = 0;
    memset(s->pdpte, 0, sizeof(s->pdpte));
    s->efer = 0;   /* cleared by INIT too */
    /* Application processors wait for a startup IPI. */
    s->wait_for_sipi = cpu->index != 0;
    cpu->halted = s->wait_for_sipi;
    if (power_on) {
        /* The TSC counts virtual time since the machine started, the same on every vCPU
         * (per-vCPU offsets taken at each reset look like TSC warp to Linux). */
        s->tsc_offset = 0;
        s->sysenter_cs = s->sysenter_esp = s->sysenter_eip = 0;
        s->apic_base = 0;
        if (cpu->model->features_edx & CPUID_APIC)
            s->apic_base = 0xfee00000u | (1u << 11) | (cpu->index == 0 ? (1u << 8) : 0);
        s->pat = 0x0007040600070406ull;
        s->misc_enable = 1; /* fast strings */
        s->bios_sign_id = 0;
        s->debugctl = 0;
        memset(s->mtrr_var, 0, sizeof(s->mtrr_var));
        memset(s->mtrr_fixed, 0, sizeof(s->mtrr_fixed));
        s->mtrr_def_type = 0;
        s->mcg_status = s->mcg_ctl = 0;
        memset(s->mc_regs, 0, sizeof(s->mc_regs));
        s->amd_hwcr = s->amd_syscfg = 0;
        s->tsc_aux = 0;
        s->star = 0;
        s->xcr0 = XCR0_X87;   /* unchanged by INIT */
        s->kvm_system_time = s->kvm_wall_clock = 0;
        s->amd_top_mem = cpu->mem ? (uint64_t)cpu->mem->ram_below_4g : 0;
    }
    cpu->eflags = 2;
    cpu_set_eflags(cpu, 2, 0xffffffffu);
    cpu_tlb_flush(cpu);
    cpu_update_mode(cpu);
    if (power_on)
        fpu_reset(cpu);
}

void cpu_reset(struct cpu *cpu)
{
    reset_common(cpu, true);
}

void cpu_init_signal(struct cpu *cpu)
{
    reset_common(cpu, false);
}

void cpu_sipi(struct cpu *cpu, uint8_t vector)
{
    if (!cpu->sys.wait_for_sipi)
        return;
    cpu->sys.wait_for_sipi = false;
    cpu->halted = false;
    cpu->seg[SEG_CS].sel = (uint16_t)(vector << 8);
    cpu->seg[SEG_CS].base = (uint32_t)vector << 12;
    cpu->eip = 0;
    cpu_update_mode(cpu);
}

void cpu_init(struct cpu *cpu, int index, const struct cpu_model *model, struct phys_mem *mem,
              struct io_bus *io, struct vclock *clock, struct pcvm_log *log,
              const struct cpu_board_ops *board)
{
    memset(cpu, 0, sizeof(*cpu));
    cpu->index = index;
    cpu->topo = (struct cpu_topo){ .threads = 1, .cores = 1, .dies = 1, .apic_id = (uint32_t)index };
    cpu->model = model ? model : cpu_model_find("pentium3");
    cpu->mem = mem;
    cpu->io = io;
    cpu->clock = clock;
    cpu->wall_clock_base_ns = INT64_MIN;
    cpu->log = log;
    if (board)
        cpu->board = *board;
    cpu->a20_mask = 0xffffffffu;
    if (mmu_init(cpu) < 0) {
        fprintf(stderr, "pcvm: cannot allocate the TLB\n");
        abort();
    }
    cpu_reset(cpu);
}

void cpu_wake(struct cpu *cpu)
{
    __atomic_add_fetch(&cpu->wake_seq, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &cpu->wake_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

uint32_t cpu_sleep_begin(struct cpu *cpu)
{
    uint32_t seq = __atomic_load_n(&cpu->wake_seq, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cpu->sleeping, 1, __ATOMIC_SEQ_CST);
    return seq;
}

void cpu_sleep(struct cpu *cpu, uint32_t seq, int64_t timeout_ns)
{
    if (timeout_ns > 0) {
        struct timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
        syscall(SYS_futex, &cpu->wake_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
    }
    __atomic_store_n(&cpu->sleeping, 0, __ATOMIC_SEQ_CST);
}

void cpu_destroy(struct cpu *cpu)
{
    cpu_exec_destroy(cpu);
    mmu_destroy(cpu);
}

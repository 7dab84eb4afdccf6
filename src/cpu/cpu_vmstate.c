/* Saved state of a vCPU (device model): architectural registers, the parts of sys and fpu that
 * are guest state (MSRs, pending events, x87/SSE). Taken between slices, i.e. at an instruction
 * boundary; lazy flags are folded into EFLAGS first. The TLB, traces and segment windows are
 * caches, rebuilt after loading. */
#include "cpu/cpu_vmstate.h"

#include <stdio.h>

static const struct vmstate_field seg_fields[] = {
    VMF(struct seg, sel), VMF(struct seg, base), VMF(struct seg, limit), VMF(struct seg, flags),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc seg_vmstate = { .name = "segment", .version = 1, .fields = seg_fields };

static const struct vmstate_field dtr_fields[] = {
    VMF(struct dtr, base), VMF(struct dtr, limit),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc dtr_vmstate = { .name = "dtr", .version = 1, .fields = dtr_fields };

static const struct vmstate_field f80_fields[] = {
    VMF(f80, mant), VMF(f80, se),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc f80_vmstate = { .name = "f80", .version = 1, .fields = f80_fields };

static const struct vmstate_field fpu_fields[] = {
    VMF(struct fpu_state, control), VMF(struct fpu_state, status), VMF_MAX(struct fpu_state, top, 7),
    VMF(struct fpu_state, valid), VMF_STRUCT_ARRAY(struct fpu_state, st, f80_vmstate),
    VMF(struct fpu_state, fip), VMF(struct fpu_state, fdp), VMF(struct fpu_state, fcs), VMF(struct fpu_state, fds),
    VMF(struct fpu_state, fop), VMF(struct fpu_state, ferr), VMF(struct fpu_state, mxcsr),
    VMF_BYTES(struct fpu_state, xmm),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc fpu_vmstate = { .name = "fpu", .version = 1, .fields = fpu_fields };

static const struct vmstate_field sys_fields[] = {
    VMF(struct cpu_sys_state, wait_for_sipi), VMF(struct cpu_sys_state, nmi_blocked),
    VMF_ARRAY(struct cpu_sys_state, pdpte), VMF(struct cpu_sys_state, tsc_offset),
    VMF(struct cpu_sys_state, sysenter_cs), VMF(struct cpu_sys_state, sysenter_esp),
    VMF(struct cpu_sys_state, sysenter_eip), VMF(struct cpu_sys_state, apic_base), VMF(struct cpu_sys_state, pat),
    VMF(struct cpu_sys_state, misc_enable), VMF(struct cpu_sys_state, bios_sign_id), VMF(struct cpu_sys_state, debugctl),
    VMF_ARRAY(struct cpu_sys_state, mtrr_var), VMF_ARRAY(struct cpu_sys_state, mtrr_fixed),
    VMF(struct cpu_sys_state, mtrr_def_type), VMF(struct cpu_sys_state, mcg_status), VMF(struct cpu_sys_state, mcg_ctl),
    VMF_ARRAY2(struct cpu_sys_state, mc_regs), VMF(struct cpu_sys_state, amd_hwcr),
    VMF(struct cpu_sys_state, amd_syscfg), VMF(struct cpu_sys_state, amd_top_mem),
    VMF(struct cpu_sys_state, amd_nb_cfg),
    { .name = "tsc_aux", .type = VMF_U64, .offset = offsetof(struct cpu_sys_state, tsc_aux),
      .count = 1, .since = 2 },
    { .name = "efer", .type = VMF_U64, .offset = offsetof(struct cpu_sys_state, efer),
      .count = 1, .since = 2 },
    { .name = "kvm_system_time", .type = VMF_U64, .offset = offsetof(struct cpu_sys_state, kvm_system_time),
      .count = 1, .since = 3 },
    { .name = "kvm_wall_clock", .type = VMF_U64, .offset = offsetof(struct cpu_sys_state, kvm_wall_clock),
      .count = 1, .since = 3 },
    { .name = "star", .type = VMF_U64, .offset = offsetof(struct cpu_sys_state, star),
      .count = 1, .since = 4 },
    { .name = "xcr0", .type = VMF_U64, .offset = offsetof(struct cpu_sys_state, xcr0),
      .count = 1, .since = 4 },
    VMF_END_OF_LIST,
};
static const struct vmstate_desc sys_vmstate = { .name = "cpu-sys", .version = 4, .min_version = 1,
                                                 .fields = sys_fields };

/* Lazy flags become plain EFLAGS bits; only the architectural value is saved. */
static int cpu_pre_save(void *opaque)
{
    struct cpu *cpu = opaque;
    cpu_set_eflags(cpu, cpu_get_eflags(cpu), 0xffffffffu);
    return 0;
}

static int cpu_post_load(void *opaque, char *err, size_t errlen)
{
    struct cpu *cpu = opaque;
    uint32_t fl = cpu->eflags;
    cpu->interrupt_request &= ~(uint32_t)CPU_REQ_EXIT;
    if (cpu->a20_mask != 0xffffffffu && cpu->a20_mask != 0xffefffffu) {
        snprintf(err, errlen, "cpu%d: A20 mask 0x%08x is corrupt", cpu->index, cpu->a20_mask);
        return -1;
    }
    if (cpu->sys.xcr0 == 0)
        cpu->sys.xcr0 = XCR0_X87;   /* a state saved before XCR0 was */
    if (!(cpu->sys.xcr0 & XCR0_X87) || (cpu->sys.xcr0 & ~(uint64_t)XCR0_SUPPORTED)) {
        snprintf(err, errlen, "cpu%d: XCR0 0x%llx is corrupt", cpu->index,
                 (unsigned long long)cpu->sys.xcr0);
        return -1;
    }
    cpu->sys.pending_vector = -1;
    cpu->sys.delivering = -1;
    cpu->sys.triple_fault = false;
    cpu->sys.db_hits = 0;
    cpu->fpu.features_valid = false;
    cpu->fpu.status &= (uint16_t)~0x3800u; /* TOP lives in fpu.top */
    /* Data breakpoints armed in DR7 (what cpu_write_dr computes). */
    cpu->sys.data_bp = 0;
    for (int i = 0; i < 4; i++) {
        unsigned rw = (cpu->dr[7] >> (16 + 4 * i)) & 3;
        if ((cpu->dr[7] >> (2 * i)) & 3 && (rw == 1 || rw == 3))
            cpu->sys.data_bp |= (uint8_t)(1u << i);
    }
    cpu->eflags = 2;
    cpu_set_eflags(cpu, fl, 0xffffffffu);
    cpu_update_mode(cpu);
    cpu_tlb_flush(cpu);
    cpu_flush_traces(cpu);
    cpu_exec_init(cpu);
    return 0;
}

static const struct vmstate_field cpu_fields[] = {
    VMF_ARRAY(struct cpu, regs), VMF(struct cpu, eip), VMF(struct cpu, eflags),
    VMF_STRUCT_ARRAY(struct cpu, seg, seg_vmstate), VMF_STRUCT(struct cpu, ldtr, seg_vmstate),
    VMF_STRUCT(struct cpu, tr, seg_vmstate), VMF_STRUCT(struct cpu, gdtr, dtr_vmstate),
    VMF_STRUCT(struct cpu, idtr, dtr_vmstate), VMF(struct cpu, cr0), VMF(struct cpu, cr2), VMF(struct cpu, cr3),
    VMF(struct cpu, cr4), VMF_ARRAY(struct cpu, dr), VMF_MAX(struct cpu, cpl, 3), VMF(struct cpu, insn_count),
    VMF(struct cpu, halted), VMF(struct cpu, inhibit_irq), VMF(struct cpu, interrupt_request),
    VMF(struct cpu, sipi_vector), VMF(struct cpu, a20_mask),
    VMF_STRUCT(struct cpu, sys, sys_vmstate), VMF_STRUCT(struct cpu, fpu, fpu_vmstate),
    VMF_END_OF_LIST,
};
const struct vmstate_desc cpu_vmstate = { .name = "cpu", .version = 1, .fields = cpu_fields,
                                          .pre_save = cpu_pre_save, .post_load = cpu_post_load };

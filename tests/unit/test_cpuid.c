/* CPU models, CPUID, MSRs, control registers and the reset state (Intel SDM vol. 2 CPUID,
 * vol. 3 table 9-1 and ch. 2 / MSR chapter; AP-485 for leaf 2 descriptors). */
#include "../cpu/sys/harness.h"
#include "cpu/kvm_para.h"

static void test_reset_state(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    assert_int_equal(cpu->eip, 0xfff0);
    assert_int_equal(cpu->seg[SEG_CS].sel, 0xf000);
    assert_int_equal(cpu->seg[SEG_CS].base, 0xffff0000u);
    assert_int_equal(cpu->seg[SEG_CS].limit, 0xffff);
    assert_int_equal(cpu->cr0, 0x60000010u);
    assert_int_equal(cpu_get_eflags(cpu), 2);
    assert_int_equal(cpu->regs[R_EDX], 0x68a); /* family 6 model 8 stepping 10 */
    assert_int_equal(cpu->dr[6], 0xffff0ff0u);
    assert_int_equal(cpu->dr[7], 0x400);
    assert_int_equal(cpu->idtr.limit, 0xffff);
    assert_false(cpu->pe);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu_rdmsr(cpu, 0x1b) & 0xfffff900u, 0xfee00900u); /* APIC base, BSP, EN */
    fx_free(f);
}

static void test_init_and_sipi(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *ap = calloc(1, sizeof(*ap));
    assert_non_null(ap);
    cpu_init(ap, 1, cpu_model_find("pentium3"), &f->mem, &f->io, NULL, NULL, NULL);
    /* An AP waits for SIPI; its APIC base has no BSP bit. */
    assert_true(ap->sys.wait_for_sipi);
    assert_true(ap->halted);
    assert_int_equal(cpu_rdmsr(ap, 0x1b) & 0x100, 0);
    cpu_sipi(ap, 0x9a);
    assert_false(ap->sys.wait_for_sipi);
    assert_int_equal(ap->seg[SEG_CS].sel, 0x9a00);
    assert_int_equal(ap->seg[SEG_CS].base, 0x9a000);
    assert_int_equal(ap->eip, 0);
    /* INIT keeps MSRs (SYSENTER_CS here) and CR0.CD/NW, resets the rest. */
    cpu_wrmsr(ap, 0x174, 0x60);
    ap->cr0 = 0x60000011u;
    ap->regs[R_EAX] = 5;
    cpu_init_signal(ap);
    assert_int_equal(cpu_rdmsr(ap, 0x174), 0x60);
    assert_int_equal(ap->cr0, 0x60000010u);
    assert_int_equal(ap->regs[R_EAX], 0);
    assert_int_equal(ap->eip, 0xfff0);
    assert_true(ap->sys.wait_for_sipi);
    /* RESET clears the MSRs. */
    cpu_reset(ap);
    assert_int_equal(cpu_rdmsr(ap, 0x174), 0);
    cpu_destroy(ap);
    free(ap);
    fx_free(f);
}

static void test_cpuid_pentium3(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    uint32_t r[4];
    cpu_cpuid(cpu, 0, 0, r);
    assert_int_equal(r[0], 2);
    assert_memory_equal(&r[1], "Genu", 4);
    assert_memory_equal(&r[3], "ineI", 4);
    assert_memory_equal(&r[2], "ntel", 4);
    cpu_cpuid(cpu, 1, 0, r);
    assert_int_equal(r[0], 0x68a);
    assert_true(r[3] & CPUID_SSE);
    assert_false(r[3] & CPUID_SSE2);
    assert_true(r[3] & CPUID_TSC);
    assert_true(r[3] & CPUID_CMOV);
    assert_false(r[3] & CPUID_VME); /* not implemented: not advertised */
    cpu_cpuid(cpu, 2, 0, r);
    assert_int_equal(r[0] & 0xff, 1); /* AL = 1: one CPUID(2) call */
    char brand[49] = { 0 };
    for (uint32_t i = 0; i < 3; i++) {
        cpu_cpuid(cpu, 0x80000002u + i, 0, r);
        memcpy(brand + 16 * i, r, 16);
    }
    assert_non_null(strstr(brand, "Pentium(R) III"));
    fx_free(f);
}

static void test_models_and_features(void **state)
{
    (void)state;
    const struct cpu_model *m486 = cpu_model_find("486");
    assert_non_null(m486);
    assert_false(m486->features_edx & (CPUID_TSC | CPUID_CX8 | CPUID_CMOV));
    assert_int_equal(m486->family, 4);
    const char *names[] = { "pentium", "pentium2", "pentium3", "athlon", "coreduo",
                            "pentium4", "max" };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_non_null(cpu_model_find(names[i]));
    assert_null(cpu_model_find("z80"));
    const struct cpu_model *athlon = cpu_model_find("athlon");
    assert_string_equal(athlon->vendor, "AuthenticAMD");
    /* A K7 has the MMX extensions (AMD APM CPUID Fn8000_0001 EDX[22]); 3DNow! (EDX[31])
     * and 3DNow! extensions (EDX[30]) are not implemented by pcvm, so never advertised. */
    assert_true(athlon->ext_edx & CPUID_EXT_MMXEXT);
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_false(cpu_model_find(names[i])->ext_edx & (3u << 30));
    assert_int_equal(cpu_model_find("pentium4")->family, 15);

    struct cpu_model m = *cpu_model_find("pentium3");
    char err[128];
    assert_int_equal(cpu_model_set_feature(&m, "+sse2", err, sizeof(err)), 0);
    assert_true(m.features_edx & CPUID_SSE2);
    assert_int_equal(cpu_model_set_feature(&m, "-sse", err, sizeof(err)), 0);
    assert_false(m.features_edx & CPUID_SSE);
    assert_int_equal(cpu_model_set_feature(&m, "sse3=on", err, sizeof(err)), 0);
    assert_true(m.features_ecx & CPUID_ECX_SSE3);
    assert_int_equal(cpu_model_set_feature(&m, "pae=off", err, sizeof(err)), 0);
    assert_false(m.features_edx & CPUID_PAE);
    assert_int_equal(cpu_model_set_feature(&m, "+bogus", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(cpu_model_set_feature(&m, "sse=maybe", err, sizeof(err)), -1);
}

static void count_warning(void *opaque, const char *line)
{
    unsigned *n = opaque;
    (*n)++;
    assert_non_null(strstr(line, "doesn't support requested feature: CPUID."));
}

/* QEMU's models by QEMU's names, with QEMU's identity; what pcvm lacks is named and dropped. */
static void test_qemu_models(void **state)
{
    (void)state;
    struct cpu_model m;
    char err[160];
    unsigned warnings = 0;
    assert_true(cpu_model_resolve("qemu32", &m));   /* qemu-system-i386's default */
    assert_string_equal(m.vendor, "GenuineIntel");
    assert_int_equal(m.family, 6);
    assert_int_equal(m.model, 6);
    assert_string_equal(m.brand, "QEMU Virtual CPU version 2.5+");
    assert_true(m.features_edx & CPUID_SSE2);
    assert_true(m.features_ecx & CPUID_ECX_SSE3);
    assert_int_equal(cpu_model_finalize(&m, count_warning, &warnings, err, sizeof(err)), 0);
    assert_int_equal(warnings, 0);   /* everything qemu32 has, pcvm implements */

    assert_true(cpu_model_resolve("Nehalem", &m));
    assert_int_equal(m.model, 26);
    assert_string_equal(m.brand, "Intel Core i7 9xx (Nehalem Class Core i7)");
    assert_true(m.features_ecx & (1u << 13));        /* cx16, as QEMU defines it ... */
    assert_int_equal(cpu_model_finalize(&m, count_warning, &warnings, err, sizeof(err)), 0);
    assert_true(warnings >= 1);                       /* cx16 ... */
    assert_false(m.features_ecx & (1u << 13));       /* ... and dropped, since pcvm lacks it */
    assert_true(m.features_ecx & CPUID_ECX_POPCNT);  /* implemented: kept */
    assert_true(m.features_ecx & CPUID_ECX_SSSE3);
    assert_true(m.features_ecx & CPUID_ECX_SSE41);
    assert_true(m.features_ecx & CPUID_ECX_SSE42);
    assert_true(m.features_edx & CPUID_SSE2);

    assert_true(cpu_model_resolve("EPYC", &m));
    assert_string_equal(m.vendor, "AuthenticAMD");
    assert_int_equal(m.family, 23);
    assert_true(m.leaf7_ebx != 0);
    m.enforce = true;
    assert_int_equal(cpu_model_finalize(&m, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "enforce"));
    assert_true(cpu_model_resolve("EPYC", &m));
    assert_int_equal(cpu_model_finalize(&m, NULL, NULL, err, sizeof(err)), 0);
    assert_false(m.leaf7_ebx & (1u << 5));           /* avx2: dropped */
    assert_true(m.leaf7_ebx & CPUID_7EBX_ADX);       /* implemented: kept */
    assert_true(m.ext_edx & CPUID_FPU);              /* AMD's copy of the leaf-1 bits */

    assert_true(cpu_model_resolve("Haswell-v4", &m));
    /* QEMU's base: no vendor, level 0, nothing to drop; features can be added to it. */
    assert_true(cpu_model_resolve("base", &m));
    assert_int_equal(m.vendor[0], 0);
    assert_int_equal(m.max_leaf, 0);
    assert_int_equal(m.features_edx | m.features_ecx | m.ext_edx | m.leaf7_ebx, 0);
    warnings = 0;
    assert_int_equal(cpu_model_set_feature(&m, "+sse2", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_finalize(&m, count_warning, &warnings, err, sizeof(err)), 0);
    assert_int_equal(warnings, 0);
    assert_true(m.features_edx & CPUID_SSE2);
    assert_true(cpu_model_resolve("host", &m));
    assert_int_equal(cpu_model_finalize(&m, count_warning, &warnings, err, sizeof(err)), 0);
    assert_true(m.features_edx & CPUID_FPU);
    assert_false(cpu_model_resolve("z80", &m));

    /* Properties. */
    assert_true(cpu_model_resolve("qemu32", &m));
    assert_int_equal(cpu_model_set_feature(&m, "vendor=AuthenticAMD", err, sizeof(err)), 0);
    assert_string_equal(m.vendor, "AuthenticAMD");
    assert_int_equal(cpu_model_set_feature(&m, "vendor=AMD", err, sizeof(err)), -1);
    assert_int_equal(cpu_model_set_feature(&m, "model-id=My CPU", err, sizeof(err)), 0);
    assert_string_equal(m.brand, "My CPU");
    assert_int_equal(cpu_model_set_feature(&m, "family=15", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "model=2", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "stepping=9", err, sizeof(err)), 0);
    assert_int_equal(m.family * 256 + m.model * 16 + m.stepping, 15 * 256 + 2 * 16 + 9);
    assert_int_equal(cpu_model_set_feature(&m, "stepping=16", err, sizeof(err)), -1);
    assert_int_equal(cpu_model_set_feature(&m, "phys-bits=36", err, sizeof(err)), 0);
    assert_int_equal(m.phys_bits, 36);
    assert_int_equal(cpu_model_set_feature(&m, "xlevel=8", err, sizeof(err)), 0);
    assert_int_equal(m.max_ext_leaf, 0x80000008);
    assert_int_equal(cpu_model_set_feature(&m, "kvm=off", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "+sse4.2", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "+sse4_2", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "+avx", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "+avx512f", err, sizeof(err)), 0);
    assert_true(m.max_leaf >= 7);
    warnings = 0;
    assert_int_equal(cpu_model_finalize(&m, count_warning, &warnings, err, sizeof(err)), 0);
    assert_int_equal(warnings, 2);   /* avx and avx512f; sse4.2 is implemented */
    assert_true(m.features_ecx & CPUID_ECX_SSE42);
}

/* CPUID answers the new leaves from the model. */
static void test_cpuid_leaves(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu_model m;
    assert_true(cpu_model_resolve("qemu32", &m));
    char err[64];
    assert_int_equal(cpu_model_set_feature(&m, "phys-bits=36", err, sizeof(err)), 0);
    assert_int_equal(cpu_model_set_feature(&m, "xlevel=0x80000008", err, sizeof(err)), 0);
    f->cpu.model = &m;
    uint32_t r[4];
    cpu_cpuid(&f->cpu, 0x80000008u, 0, r);
    assert_int_equal(r[0] & 0xff, 36);
    cpu_cpuid(&f->cpu, 1, 0, r);
    assert_int_equal(r[0], (6u << 8) | (6u << 4) | 3u);
    m.max_leaf = 7;
    m.leaf7_ebx = 1u << 7;
    cpu_cpuid(&f->cpu, 7, 0, r);
    assert_int_equal(r[1], 1u << 7);
    cpu_cpuid(&f->cpu, 7, 1, r);
    assert_int_equal(r[1], 0);
    fx_free(f);
}

static void test_msrs(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    cpu_wrmsr(cpu, 0x174, 0x10);
    cpu_wrmsr(cpu, 0x175, 0xc0001000);
    cpu_wrmsr(cpu, 0x176, 0xc0100000);
    assert_int_equal(cpu_rdmsr(cpu, 0x174), 0x10);
    assert_int_equal(cpu_rdmsr(cpu, 0x176), 0xc0100000);
    /* Unknown MSR -> #GP(0); MTRRs are stored. */
    assert_int_equal(TRY(cpu, cpu_rdmsr(cpu, 0x12345)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_wrmsr(cpu, 0x200, 0xf0000006)), -1);
    assert_int_equal(cpu_rdmsr(cpu, 0x200), 0xf0000006);
    assert_int_equal(cpu_rdmsr(cpu, 0xfe) & 0xff, 8);
    /* PAT with an invalid type -> #GP. */
    assert_int_equal(TRY(cpu, cpu_wrmsr(cpu, 0x277, 0x02)), EXC_GP);
    /* WRMSR TSC sets the counter (clock-less CPU: ticks follow insn_count). */
    cpu_wrmsr(cpu, 0x10, 1000);
    cpu->insn_count += 50;
    assert_int_equal(cpu_read_tsc(cpu), 1050);
    /* From CPL 3 -> #GP(0); on a 486 (no MSR feature) -> #UD. */
    fx_protected(f);
    cpu->cpl = 3;
    assert_int_equal(TRY(cpu, cpu_rdmsr(cpu, 0x10)), EXC_GP);
    fx_free(f);
    f = fx_new("486");
    assert_int_equal(TRY(&f->cpu, cpu_rdmsr(&f->cpu, 0x10)), EXC_UD);
    fx_free(f);
}

static void test_tsc_follows_virtual_clock(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    struct vclock clk;
    uint64_t icount = 0;
    vclock_init(&clk, true, 0, &icount); /* 1 instruction = 1 ns */
    cpu->clock = &clk;
    cpu_wrmsr(cpu, 0x10, 0);
    icount = 1000; /* 1 us at 1000 MHz = 1000 ticks */
    assert_int_equal(cpu_read_tsc(cpu), 1000);
    fx_free(f);
}

static void test_control_registers(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    /* PG without PE, NW without CD -> #GP(0). */
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 0, 0x80000000u)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 0, 0x20000010u)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 1, 0)), EXC_UD);
    /* CR4: reserved bits -> #GP; VME is not offered by the models. */
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 4, 1u << 20)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 4, CR4_VME)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_write_cr(cpu, 4, CR4_PSE | CR4_PGE | CR4_OSFXSR)), -1);
    /* ET stays set. */
    cpu_write_cr(cpu, 0, 0x00000000);
    assert_int_equal(cpu_read_cr(cpu, 0), CR0_ET);
    /* DR4/DR5 alias DR6/DR7 unless CR4.DE; then #UD. */
    cpu_write_dr(cpu, 7, 0x3);
    assert_int_equal(cpu_read_dr(cpu, 5), 0x403);
    cpu_write_cr(cpu, 4, CR4_DE);
    assert_int_equal(TRY(cpu, cpu_read_dr(cpu, 4)), EXC_UD);
    /* From CPL 3 -> #GP(0). */
    fx_protected(f);
    cpu->cpl = 3;
    assert_int_equal(TRY(cpu, cpu_read_cr(cpu, 0)), EXC_GP);
    fx_free(f);
}

static void test_sysenter_sysexit(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    assert_int_equal(TRY(cpu, cpu_sysenter(cpu)), EXC_GP); /* real mode */
    fx_protected(f);
    assert_int_equal(TRY(cpu, cpu_sysenter(cpu)), EXC_GP); /* SYSENTER_CS = 0 */
    cpu_wrmsr(cpu, 0x174, SEL_CODE0);
    cpu_wrmsr(cpu, 0x175, 0x9000);
    cpu_wrmsr(cpu, 0x176, 0x7000);
    cpu->regs[R_ECX] = 0x6fff0;
    cpu->regs[R_EDX] = 0x401000;
    assert_int_equal(TRY(cpu, cpu_sysexit(cpu)), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->seg[SEG_CS].sel, SEL_CODE0 + 16 + 3);
    assert_int_equal(cpu->seg[SEG_SS].sel, SEL_CODE0 + 24 + 3);
    assert_int_equal(cpu->eip, 0x401000);
    assert_int_equal(cpu->regs[R_ESP], 0x6fff0);
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    assert_int_equal(TRY(cpu, cpu_sysenter(cpu)), -1);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->seg[SEG_CS].sel, SEL_CODE0);
    assert_int_equal(cpu->seg[SEG_SS].sel, SEL_CODE0 + 8);
    assert_int_equal(cpu->eip, 0x7000);
    assert_int_equal(cpu->regs[R_ESP], 0x9000);
    assert_false(cpu_get_eflags(cpu) & FLAG_IF);
    assert_true(cpu->code32 && cpu->stack32);
    fx_free(f);
}

static void test_io_permission(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    cpu_check_io(cpu, 0x3f8, 1); /* real mode: always allowed */
    fx_protected(f);
    cpu_check_io(cpu, 0x3f8, 1); /* CPL 0 <= IOPL 0 */
    /* CPL 3, IOPL 0: the bitmap decides. TSS limit covers bitmap up to port 0x3ff. */
    put_desc(f, GDT_BASE + SEL_TSS, TSS_BASE, 0x68 + 0x80, 0x8b, 0);
    cpu->tr.limit = 0x68 + 0x80;
    put16(f, TSS_BASE + 0x66, 0x68);
    memset(f->mem.ram + TSS_BASE + 0x68, 0, 0x81);
    f->mem.ram[TSS_BASE + 0x68 + 0x3f8 / 8] = 0x02; /* port 0x3f9 denied */
    cpu->cpl = 3;
    cpu_update_mode(cpu);
    assert_int_equal(TRY(cpu, cpu_check_io(cpu, 0x3f8, 1)), -1);
    assert_int_equal(TRY(cpu, cpu_check_io(cpu, 0x3f9, 1)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_check_io(cpu, 0x3f8, 2)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_check_io(cpu, 0x3fa, 4)), -1);
    /* Beyond the TSS limit -> #GP. */
    assert_int_equal(TRY(cpu, cpu_check_io(cpu, 0x800, 1)), EXC_GP);
    fx_free(f);
}

/* KVM's paravirtual leaves and kvmclock (KVM's Documentation/virt/kvm/x86/cpuid.rst and msr.rst). */
static void test_kvm_para(void **state)
{
    (void)state;
    struct fx *f = fx_new("pentium3");
    struct cpu *cpu = &f->cpu;
    uint32_t r[4];
    /* On by default (-cpu ...,kvm=on says the same). */
    struct cpu_model on = *cpu->model;
    char on_err[128];
    assert_int_equal(cpu_model_set_feature(&on, "kvm=on", on_err, sizeof(on_err)), 0);
    assert_memory_equal(&on, cpu->model, sizeof(on));
    cpu_cpuid(cpu, 1, 0, r);
    assert_true(r[2] & CPUID_ECX_HYPERVISOR);
    cpu_cpuid(cpu, 0x40000000u, 0, r);
    assert_int_equal(r[0], 0x40000001u);
    assert_memory_equal(&r[1], "KVMKVMKVM\0\0\0", 12);
    cpu_cpuid(cpu, 0x40000001u, 0, r);
    assert_int_equal(r[0], (1u << 0) | (1u << 1) | (1u << 3) | (1u << 24));
    assert_int_equal(r[1] | r[2] | r[3], 0);
    /* The system-time structure: even version, scale, stable flag, the TSC of now. */
    cpu_wrmsr(cpu, 0x10, 123456789);
    cpu_wrmsr(cpu, MSR_KVM_SYSTEM_TIME_NEW, 0x3000 | 1);
    assert_int_equal(cpu_rdmsr(cpu, MSR_KVM_SYSTEM_TIME_NEW), 0x3001);
    uint32_t version = phys_read(&f->mem, 0x3000, 4);
    assert_int_equal(version & 1, 0);
    assert_true(version >= 2);
    uint64_t tsc = phys_read(&f->mem, 0x3008, 4) | (uint64_t)phys_read(&f->mem, 0x300c, 4) << 32;
    assert_int_equal(tsc, cpu_read_tsc(cpu));
    uint32_t mul = phys_read(&f->mem, 0x3018, 4);
    int8_t shift = (int8_t)phys_read(&f->mem, 0x301c, 1);
    assert_int_equal(phys_read(&f->mem, 0x301d, 1), PVCLOCK_TSC_STABLE_BIT);
    uint32_t m2;
    int8_t s2;
    kvm_para_time_scale(cpu->model->mhz, &m2, &s2);
    assert_int_equal(mul, m2);
    assert_int_equal(shift, s2);
    /* The scale turns one second of TSC ticks into 10^9 ns (within 1 ns) for any rate. */
    static const uint32_t rates[] = { 100, 233, 1000, 1400, 2000, 3333, 4000 };
    for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        kvm_para_time_scale(rates[i], &m2, &s2);
        uint64_t delta = (uint64_t)rates[i] * 1000000;
        delta = s2 >= 0 ? delta << s2 : delta >> -s2;
        uint64_t ns = (uint64_t)(((unsigned __int128)delta * m2) >> 32);
        assert_true(ns >= 999999999 && ns <= 1000000001);
    }
    /* A TSC write refreshes the structure (a new version, the new TSC). */
    cpu_wrmsr(cpu, 0x10, 5);
    assert_int_equal(phys_read(&f->mem, 0x3000, 4), version + 2);
    assert_int_equal(phys_read(&f->mem, 0x3008, 4), 5);
    /* Wall clock: the host's time of day (the virtual clock is at 0 here). */
    cpu_wrmsr(cpu, MSR_KVM_WALL_CLOCK_NEW, 0x4000);
    int64_t now = host_realtime_ns() / 1000000000;
    int64_t sec = phys_read(&f->mem, 0x4004, 4);
    assert_true(sec >= now - 5 && sec <= now + 5);
    assert_int_equal(phys_read(&f->mem, 0x4000, 4) & 1, 0);
    /* With -rtc base=DATE the board fixes it: the same date every run (for -icount). */
    cpu->wall_clock_base_ns = 946684800LL * 1000000000 + 250000000;   /* 2000-01-01 00:00:00.25 */
    cpu_wrmsr(cpu, MSR_KVM_WALL_CLOCK_NEW, 0x4000);
    assert_int_equal(phys_read(&f->mem, 0x4004, 4), 946684800u);
    assert_int_equal(phys_read(&f->mem, 0x4008, 4), 250000000u);
    /* An address outside RAM is kept but never written. */
    cpu_wrmsr(cpu, MSR_KVM_SYSTEM_TIME, 0xfffff000u | 1);
    assert_int_equal(cpu_rdmsr(cpu, MSR_KVM_SYSTEM_TIME), 0xfffff001u);
    /* Power-on reset disables the clock. */
    cpu_reset(cpu);
    assert_int_equal(cpu_rdmsr(cpu, MSR_KVM_SYSTEM_TIME_NEW), 0);
    /* -cpu ...,-kvmclock: the leaves stay, the clock goes; kvm=off: the leaves go too. */
    struct cpu_model m = *cpu->model;
    char err[128];
    assert_int_equal(cpu_model_set_feature(&m, "-kvmclock", err, sizeof(err)), 0);
    cpu->model = &m;
    cpu_cpuid(cpu, 0x40000001u, 0, r);
    assert_int_equal(r[0], 1u << 1);
    uint64_t v;
    assert_false(kvm_para_rdmsr(cpu, MSR_KVM_SYSTEM_TIME_NEW, &v));
    assert_int_equal(cpu_model_set_feature(&m, "kvm=off", err, sizeof(err)), 0);
    cpu_cpuid(cpu, 0x40000000u, 0, r);
    assert_int_not_equal(r[1], 0x4b4d564bu);
    uint32_t top[4];
    cpu_cpuid(cpu, 2, 0, top);
    assert_memory_equal(r, top, sizeof(top));     /* as any leaf beyond the maximum */
    fx_free(f);
    /* A model whose WRMSR is #UD (the 486, even with +tsc) gets the leaves without the clock. */
    f = fx_new("486");
    cpu = &f->cpu;
    m = *cpu->model;
    assert_int_equal(cpu_model_set_feature(&m, "+tsc", err, sizeof(err)), 0);
    cpu->model = &m;
    cpu_cpuid(cpu, 0x40000000u, 0, r);
    assert_memory_equal(&r[1], "KVMKVMKVM\0\0\0", 12);
    cpu_cpuid(cpu, 0x40000001u, 0, r);
    assert_int_equal(r[0], 1u << 1);
    assert_false(kvm_para_rdmsr(cpu, MSR_KVM_SYSTEM_TIME_NEW, &v));
    fx_free(f);
    /* The Pentium has both (MSR, TSC): the clock is offered. */
    f = fx_new("pentium");
    cpu = &f->cpu;
    cpu_cpuid(cpu, 0x40000001u, 0, r);
    assert_true(r[0] & (1u << 3));
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_state),
        cmocka_unit_test(test_init_and_sipi),
        cmocka_unit_test(test_cpuid_pentium3),
        cmocka_unit_test(test_models_and_features),
        cmocka_unit_test(test_qemu_models),
        cmocka_unit_test(test_cpuid_leaves),
        cmocka_unit_test(test_msrs),
        cmocka_unit_test(test_tsc_follows_virtual_clock),
        cmocka_unit_test(test_control_registers),
        cmocka_unit_test(test_sysenter_sysexit),
        cmocka_unit_test(test_io_permission),
        cmocka_unit_test(test_kvm_para),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

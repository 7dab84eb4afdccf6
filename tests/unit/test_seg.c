/* Segment register loads, far transfers, call gates, RET/IRET across privilege levels and
 * LAR/LSL/VERR/VERW (Intel SDM vol. 2 pseudo-code, vol. 3 ch. 5). */
#include "../cpu/sys/harness.h"

static void to_ring3(struct fx *f, uint32_t esp)
{
    struct cpu *cpu = &f->cpu;
    /* Build an IRET frame at ring 0 and return to ring 3. */
    cpu->regs[R_ESP] = 0x80000 - 20;
    put32(f, 0x80000 - 20, 0x401000);
    put32(f, 0x80000 - 16, SEL_CODE3);
    put32(f, 0x80000 - 12, 0x202);
    put32(f, 0x80000 - 8, esp);
    put32(f, 0x80000 - 4, SEL_DATA3);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_int_equal(cpu->cpl, 3);
}

static void test_load_seg_checks(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_SS, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_SS, SEL_DATA0 | 3)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_DATA0);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_SS, SEL_CODE0)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_CODE0);
    /* Beyond the GDT limit. */
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_DS, 0x100)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x100);
    /* Not present data -> #NP(sel); not present stack -> #SS(sel). */
    put_desc(f, GDT_BASE + 0x30, 0, 0xfffff, 0x12, 0xc);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_DS, 0x30)), EXC_NP);
    assert_int_equal(ERR(cpu), 0x30);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_SS, 0x30)), EXC_SS);
    assert_int_equal(ERR(cpu), 0x30);
    /* A load sets the accessed bit in the descriptor. */
    put_desc(f, GDT_BASE + 0x38, 0x1234000, 0xfff, 0x92, 0x4);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_FS, 0x38)), -1);
    assert_int_equal(f->mem.ram[GDT_BASE + 0x38 + 5], 0x93);
    assert_int_equal(cpu->seg[SEG_FS].base, 0x1234000);
    assert_int_equal(cpu->seg[SEG_FS].limit, 0xfff);
    /* RPL 3 selector for a DPL 0 segment -> #GP(sel). */
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_DS, SEL_DATA0 | 3)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_DATA0);
    /* A 4 KiB-granular limit. */
    assert_int_equal(cpu->seg[SEG_DS].limit, 0xffffffffu);
    /* From ring 3: DPL 0 data is off limits; DPL 3 loads. */
    to_ring3(f, 0x70000);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_GS, SEL_DATA0)), EXC_GP);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_GS, SEL_DATA3)), -1);
    fx_free(f);
}

static void test_call_gate_privilege_change(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put32(f, TSS_BASE + 4, 0x90000);      /* ESP0 */
    put32(f, TSS_BASE + 8, SEL_DATA0);    /* SS0 */
    put_gate(f, GDT_BASE + 0x30, SEL_CODE0, 0x00345678, 0xec, 2); /* 386 call gate, DPL 3 */
    to_ring3(f, 0x70000);
    put32(f, 0x70000, 0x1111);
    put32(f, 0x70004, 0x2222);
    assert_int_equal(TRY(cpu, cpu_far_call(cpu, 0x33, 0, true, 0x401007)), -1);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->seg[SEG_CS].sel, SEL_CODE0);
    assert_int_equal(cpu->eip, 0x00345678);
    assert_int_equal(cpu->seg[SEG_SS].sel, SEL_DATA0);
    assert_int_equal(cpu->regs[R_ESP], 0x90000 - 24);
    /* SDM fig. 5-13: SS, ESP, params (in caller order), CS, EIP. */
    assert_int_equal(get32(f, 0x90000 - 4), SEL_DATA3);
    assert_int_equal(get32(f, 0x90000 - 8), 0x70000);
    assert_int_equal(get32(f, 0x90000 - 12), 0x2222);
    assert_int_equal(get32(f, 0x90000 - 16), 0x1111);
    assert_int_equal(get32(f, 0x90000 - 20), SEL_CODE3);
    assert_int_equal(get32(f, 0x90000 - 24), 0x401007);
    /* RET 8 back to ring 3; DS holding a DPL 0 segment is nulled. */
    cpu_load_seg(cpu, SEG_DS, SEL_DATA0);
    cpu_load_seg(cpu, SEG_ES, SEL_DATA3);
    assert_int_equal(TRY(cpu, cpu_far_ret(cpu, true, 8)), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->seg[SEG_CS].sel, SEL_CODE3);
    assert_int_equal(cpu->eip, 0x401007);
    assert_int_equal(cpu->seg[SEG_SS].sel, SEL_DATA3);
    assert_int_equal(cpu->regs[R_ESP], 0x70008);
    assert_int_equal(cpu->seg[SEG_DS].sel, 0);
    assert_int_equal(TRY(cpu, cpu_read8(cpu, SEG_DS, 0)), EXC_GP);
    assert_int_equal(cpu->seg[SEG_ES].sel, SEL_DATA3);
    /* A gate whose DPL is below CPL -> #GP(gate selector). */
    put_gate(f, GDT_BASE + 0x38, SEL_CODE0, 0x1000, 0x8c, 0);
    assert_int_equal(TRY(cpu, cpu_far_call(cpu, 0x3b, 0, true, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x38);
    fx_free(f);
}

static void test_286_gate_ignores_high_offset(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put_gate(f, GDT_BASE + 0x30, SEL_CODE0, 0xdead1234, 0x84, 0); /* 286 call gate */
    cpu->regs[R_ESP] = 0x80000;
    assert_int_equal(TRY(cpu, cpu_far_call(cpu, 0x30, 0, true, 0x5555)), -1);
    assert_int_equal(cpu->eip, 0x1234);
    /* 286 gate: 16-bit pushes of CS and IP. */
    assert_int_equal(cpu->regs[R_ESP], 0x80000 - 4);
    assert_int_equal(get16(f, 0x80000 - 2), SEL_CODE0);
    assert_int_equal(get16(f, 0x80000 - 4), 0x5555);
    /* JMP through the same gate. */
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, 0x30, 0, 0)), -1);
    assert_int_equal(cpu->eip, 0x1234);
    fx_free(f);
}

static void test_conforming_code_keeps_cpl(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put_desc(f, GDT_BASE + 0x30, 0, 0xfffff, 0x9e, 0xc); /* conforming, DPL 0 */
    to_ring3(f, 0x70000);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, 0x30, 0x2000, 0)), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->seg[SEG_CS].sel, 0x33);
    /* Non-conforming DPL 0 code from CPL 3 -> #GP(sel). */
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_CODE0, 0x2000, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_CODE0);
    /* Offset beyond the limit -> #GP(0). */
    put_desc(f, GDT_BASE + 0x38, 0, 0xfff, 0xfa, 0x4);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, 0x3b, 0x1000, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    fx_free(f);
}

static void test_iret_flags_by_privilege(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    /* CPL 0 IRET to ring 3 may set IOPL and IF. */
    cpu->regs[R_ESP] = 0x80000 - 20;
    put32(f, 0x80000 - 20, 0x401000);
    put32(f, 0x80000 - 16, SEL_CODE3);
    put32(f, 0x80000 - 12, 0x3202 | FLAG_CF);
    put32(f, 0x80000 - 8, 0x70000);
    put32(f, 0x80000 - 4, SEL_DATA3);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_int_equal(cpu_get_eflags(cpu) & (FLAG_IOPL | FLAG_IF | FLAG_CF),
                     FLAG_IOPL | FLAG_IF | FLAG_CF);
    /* At CPL 3 with IOPL 0, IRET cannot change IOPL or IF. */
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    cpu->regs[R_ESP] = 0x70000;
    put32(f, 0x70000, 0x401100);
    put32(f, 0x70004, SEL_CODE3);
    put32(f, 0x70008, 0x3002 | FLAG_ZF);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_int_equal(cpu_get_eflags(cpu) & (FLAG_IOPL | FLAG_IF | FLAG_ZF), FLAG_IF | FLAG_ZF);
    assert_int_equal(cpu->regs[R_ESP], 0x7000c);
    /* Return to a more privileged level -> #GP(selector). */
    cpu->regs[R_ESP] = 0x70000;
    put32(f, 0x70004, SEL_CODE0);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_CODE0);
    fx_free(f);
}

static void test_real_mode_far_transfers(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    cpu_load_seg(cpu, SEG_SS, 0x2000);
    cpu->regs[R_ESP] = 0x100;
    cpu_far_call(cpu, 0x1234, 0x5678, false, 0xfff3);
    assert_int_equal(cpu->seg[SEG_CS].sel, 0x1234);
    assert_int_equal(cpu->seg[SEG_CS].base, 0x12340);
    assert_int_equal(cpu->eip, 0x5678);
    assert_int_equal(cpu->regs[R_ESP], 0xfc);
    assert_int_equal(get16(f, 0x200fe), 0xf000);
    assert_int_equal(get16(f, 0x200fc), 0xfff3);
    cpu_far_ret(cpu, false, 4);
    assert_int_equal(cpu->seg[SEG_CS].sel, 0xf000);
    assert_int_equal(cpu->eip, 0xfff3);
    assert_int_equal(cpu->regs[R_ESP], 0x104);
    /* Real-mode IRET restores all of FLAGS' low word. */
    cpu->regs[R_ESP] = 0x100;
    put16(f, 0x20100, 0x10);
    put16(f, 0x20102, 0x3000);
    put16(f, 0x20104, 0x0202 | FLAG_DF);
    cpu_iret(cpu, false, cpu->eip + 1);
    assert_int_equal(cpu->eip, 0x10);
    assert_int_equal(cpu->seg[SEG_CS].base, 0x30000);
    assert_int_equal(cpu_get_eflags(cpu) & 0xffff, 0x0202 | FLAG_DF);
    fx_free(f);
}

static void test_lar_lsl_verr_verw(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put_desc(f, GDT_BASE + 0x30, 0, 0x12, 0x98, 0xc);  /* execute-only code, G */
    uint32_t v = 0;
    assert_true(cpu_lar(cpu, SEL_DATA0, &v));
    assert_int_equal(v, 0x00cf9300); /* loaded, so accessed */
    assert_true(cpu_lsl(cpu, 0x30, &v));
    assert_int_equal(v, 0x12fff);
    assert_false(cpu_verr(cpu, 0x30));
    assert_true(cpu_verr(cpu, SEL_CODE0));
    assert_false(cpu_verw(cpu, SEL_CODE0));
    assert_true(cpu_verw(cpu, SEL_DATA0));
    assert_false(cpu_lar(cpu, 0, &v));
    assert_false(cpu_lsl(cpu, 0x800, &v));
    /* TSS: LAR and LSL accept it (busy 386 TSS, type 11). */
    assert_true(cpu_lar(cpu, SEL_TSS, &v));
    assert_int_equal(v & 0xff00, 0x8b00);
    assert_true(cpu_lsl(cpu, SEL_TSS, &v));
    assert_int_equal(v, 0x67);
    /* Call gate: LAR yes, LSL no. */
    put_gate(f, GDT_BASE + 0x38, SEL_CODE0, 0, 0xec, 0);
    assert_true(cpu_lar(cpu, 0x38, &v));
    assert_false(cpu_lsl(cpu, 0x38, &v));
    /* From ring 3, DPL 0 descriptors are invisible. */
    to_ring3(f, 0x70000);
    assert_false(cpu_lar(cpu, SEL_DATA0, &v));
    assert_true(cpu_lar(cpu, SEL_DATA3, &v));
    fx_free(f);
}

static void test_ltr_lldt(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    /* LTR set the busy bit: type 9 -> 11. */
    assert_int_equal(f->mem.ram[GDT_BASE + SEL_TSS + 5], 0x8b);
    /* LTR of a busy TSS -> #GP(sel). */
    assert_int_equal(TRY(cpu, cpu_ltr(cpu, SEL_TSS)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_TSS);
    /* LLDT of a data descriptor -> #GP(sel); of an LDT descriptor works. */
    assert_int_equal(TRY(cpu, cpu_lldt(cpu, SEL_DATA0)), EXC_GP);
    put_desc(f, GDT_BASE + 0x30, 0x6000, 0x17, 0x82, 0);
    put_desc(f, 0x6008, 0x777000, 0xfff, 0x92, 0x4);
    assert_int_equal(TRY(cpu, cpu_lldt(cpu, 0x30)), -1);
    assert_int_equal(cpu->ldtr.base, 0x6000);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_FS, 0x0c)), -1); /* LDT entry 1 */
    assert_int_equal(cpu->seg[SEG_FS].base, 0x777000);
    assert_int_equal(TRY(cpu, cpu_load_seg(cpu, SEG_FS, 0x1c)), EXC_GP); /* beyond LDT limit */
    assert_int_equal(ERR(cpu), 0x1c);
    fx_free(f);
}

static void test_return_faults(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    /* IRET to ring 3 with an SS whose RPL differs from the CS RPL -> #GP(SS selector). */
    cpu->regs[R_ESP] = 0x80000 - 20;
    put32(f, 0x80000 - 20, 0x401000);
    put32(f, 0x80000 - 16, SEL_CODE3);
    put32(f, 0x80000 - 12, 0x202);
    put32(f, 0x80000 - 8, 0x70000);
    put32(f, 0x80000 - 4, SEL_DATA0);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_DATA0);
    /* ... with a null SS -> #GP(0). */
    put32(f, 0x80000 - 4, 0);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    /* ... with a not-present SS -> #SS(selector). */
    put_desc(f, GDT_BASE + 0x30, 0, 0xfffff, 0x72, 0xc);
    put32(f, 0x80000 - 4, 0x33);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), EXC_SS);
    assert_int_equal(ERR(cpu), 0x30);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->seg[SEG_CS].sel, SEL_CODE0);
    /* RET to a not-present code segment -> #NP(selector). */
    put_desc(f, GDT_BASE + 0x38, 0, 0xfffff, 0x1a, 0xc);
    cpu->regs[R_ESP] = 0x80000 - 8;
    put32(f, 0x80000 - 8, 0x1000);
    put32(f, 0x80000 - 4, 0x38);
    assert_int_equal(TRY(cpu, cpu_far_ret(cpu, true, 0)), EXC_NP);
    assert_int_equal(ERR(cpu), 0x38);
    /* Far JMP to a system segment that is neither gate nor TSS (an LDT) -> #GP(selector). */
    put_desc(f, GDT_BASE + 0x40, 0x6000, 0xf, 0x82, 0);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, 0x40, 0, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x40);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_seg_checks),
        cmocka_unit_test(test_call_gate_privilege_change),
        cmocka_unit_test(test_286_gate_ignores_high_offset),
        cmocka_unit_test(test_conforming_code_keeps_cpl),
        cmocka_unit_test(test_iret_flags_by_privilege),
        cmocka_unit_test(test_real_mode_far_transfers),
        cmocka_unit_test(test_lar_lsl_verr_verw),
        cmocka_unit_test(test_ltr_lldt),
        cmocka_unit_test(test_return_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

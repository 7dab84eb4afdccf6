/* Interrupt and exception delivery: real-mode IVT frames, IDT gates with and without stack
 * switch, DPL checks, error codes, double and triple faults (Intel SDM vol. 3 ch. 6). */
#include <stdio.h>

#include "../cpu/sys/harness.h"

static void test_real_mode_int(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    put16(f, 0x10 * 4, 0x1234);
    put16(f, 0x10 * 4 + 2, 0x5678);
    cpu_load_seg(cpu, SEG_SS, 0);
    cpu->regs[R_ESP] = 0x1000;
    cpu_set_eflags(cpu, 0x0202 | FLAG_TF | FLAG_CF, 0xffffffffu);
    cpu_interrupt(cpu, 0x10, INT_SOFTWARE, 0xfff2);
    assert_int_equal(cpu->regs[R_ESP], 0x0ffa);
    assert_int_equal(get16(f, 0x0ffa), 0xfff2);
    assert_int_equal(get16(f, 0x0ffc), 0xf000);
    assert_int_equal(get16(f, 0x0ffe), 0x0202 | FLAG_TF | FLAG_CF);
    assert_int_equal(cpu->seg[SEG_CS].sel, 0x5678);
    assert_int_equal(cpu->seg[SEG_CS].base, 0x56780);
    assert_int_equal(cpu->eip, 0x1234);
    assert_int_equal(cpu_get_eflags(cpu) & (FLAG_IF | FLAG_TF | FLAG_CF), FLAG_CF);
    /* Real-mode exceptions push no error code. */
    put16(f, 13 * 4, 0x100);
    put16(f, 13 * 4 + 2, 0);
    cpu->eip = 0x44;
    assert_int_equal(TRY(cpu, cpu_exception(cpu, EXC_GP, 0)), EXC_GP);
    cpu->sys.pending_vector = EXC_GP;
    cpu_deliver_pending_exception(cpu);
    assert_int_equal(cpu->regs[R_ESP], 0x0ff4);
    assert_int_equal(get16(f, 0x0ff4), 0x44);
    fx_free(f);
}

static void setup_ring3(struct fx *f)
{
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put32(f, TSS_BASE + 4, 0x90000);
    put32(f, TSS_BASE + 8, SEL_DATA0);
    cpu->regs[R_ESP] = 0x80000 - 20;
    put32(f, 0x80000 - 20, 0x401000);
    put32(f, 0x80000 - 16, SEL_CODE3);
    put32(f, 0x80000 - 12, 0x202);
    put32(f, 0x80000 - 8, 0x70000);
    put32(f, 0x80000 - 4, SEL_DATA3);
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_int_equal(cpu->cpl, 3);
}

static void test_idt_gate_stack_switch(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_ring3(f);
    put_gate(f, IDT_BASE + 0x80 * 8, SEL_CODE0, 0xc0001000, 0xee, 0); /* int gate DPL 3 */
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x80, INT_SOFTWARE, 0x401002)), -1);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->eip, 0xc0001000);
    assert_int_equal(cpu->seg[SEG_SS].sel, SEL_DATA0);
    assert_int_equal(cpu->regs[R_ESP], 0x90000 - 20);
    assert_int_equal(get32(f, 0x90000 - 4), SEL_DATA3);
    assert_int_equal(get32(f, 0x90000 - 8), 0x70000);
    assert_int_equal(get32(f, 0x90000 - 12), 0x202);
    assert_int_equal(get32(f, 0x90000 - 16), SEL_CODE3);
    assert_int_equal(get32(f, 0x90000 - 20), 0x401002);
    assert_false(cpu_get_eflags(cpu) & FLAG_IF);
    /* IRET goes back. */
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->eip, 0x401002);
    assert_int_equal(cpu->regs[R_ESP], 0x70000);
    assert_true(cpu_get_eflags(cpu) & FLAG_IF);
    /* A trap gate keeps IF; an exception with error code pushes it last. */
    put_gate(f, IDT_BASE + 13 * 8, SEL_CODE0, 0xc0002000, 0x8f, 0);
    cpu->eip = 0x401005;
    assert_int_equal(TRY(cpu, cpu_exception(cpu, EXC_GP, 0x1234)), EXC_GP);
    cpu->sys.pending_vector = EXC_GP;
    cpu->sys.pending_error = 0x1234;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_int_equal(cpu->eip, 0xc0002000);
    assert_int_equal(cpu->regs[R_ESP], 0x90000 - 24);
    assert_int_equal(get32(f, 0x90000 - 24), 0x1234);
    assert_int_equal(get32(f, 0x90000 - 20), 0x401005);
    assert_true(cpu_get_eflags(cpu) & FLAG_IF);
    fx_free(f);
}

static void test_int_dpl_check(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_ring3(f);
    put_gate(f, IDT_BASE + 0x30 * 8, SEL_CODE0, 0x1000, 0x8e, 0); /* DPL 0 */
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x30, INT_SOFTWARE, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x30 * 8 + 2);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x30, INT_SOFT_EXC, 0)), EXC_GP);
    /* External interrupts ignore the gate DPL. */
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x30, INT_EXTERNAL, 0x401000)), -1);
    assert_int_equal(cpu->eip, 0x1000);
    fx_free(f);
}

static void test_same_level_frame_and_idt_limit(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put_gate(f, IDT_BASE + 0x21 * 8, SEL_CODE0, 0x3000, 0x8e, 0);
    cpu->regs[R_ESP] = 0x80000;
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x21, INT_EXTERNAL, 0x1111)), -1);
    assert_int_equal(cpu->regs[R_ESP], 0x80000 - 12);
    assert_int_equal(get32(f, 0x80000 - 12), 0x1111);
    assert_int_equal(get32(f, 0x80000 - 8), SEL_CODE0);
    assert_int_equal(get32(f, 0x80000 - 4), 0x202);
    /* A 286 interrupt gate pushes words. */
    put_gate(f, IDT_BASE + 0x22 * 8, SEL_CODE0, 0x3000, 0x86, 0);
    cpu->regs[R_ESP] = 0x80000;
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x22, INT_EXTERNAL, 0x2222)), -1);
    assert_int_equal(cpu->regs[R_ESP], 0x80000 - 6);
    assert_int_equal(get16(f, 0x80000 - 6), 0x2222);
    /* Beyond the IDT limit: #GP(vector*8+2+EXT). */
    cpu->idtr.limit = 0xff;
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x40, INT_EXTERNAL, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x40 * 8 + 3);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x40, INT_SOFTWARE, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x40 * 8 + 2);
    fx_free(f);
}

/* SDM vol. 3 17.3.1.1: the EFLAGS image pushed for a fault has RF set (the restarted
 * instruction must not hit its instruction breakpoint again); traps, external interrupts
 * and aborts push RF as it was; EFLAGS.RF is clear in the handler. */
static void test_fault_sets_rf_in_pushed_eflags(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put_gate(f, IDT_BASE + EXC_UD * 8, SEL_CODE0, 0x3000, 0x8e, 0);
    put_gate(f, IDT_BASE + EXC_GP * 8, SEL_CODE0, 0x3000, 0x8e, 0);
    put_gate(f, IDT_BASE + EXC_BP * 8, SEL_CODE0, 0x3000, 0x8e, 0);
    put_gate(f, IDT_BASE + 0x21 * 8, SEL_CODE0, 0x3000, 0x8e, 0);
    /* #UD (fault, no error code). */
    cpu->regs[R_ESP] = 0x80000;
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    cpu->eip = 0x1234;
    assert_int_equal(TRY(cpu, cpu_exception(cpu, EXC_UD, 0)), EXC_UD);
    cpu->sys.pending_vector = EXC_UD;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_int_equal(get32(f, 0x80000 - 12), 0x1234);
    assert_int_equal(get32(f, 0x80000 - 4), 0x202 | FLAG_RF);
    assert_int_equal(cpu_get_eflags(cpu) & FLAG_RF, 0);
    /* #GP (fault with an error code): the image above the error code. */
    cpu->regs[R_ESP] = 0x80000;
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    cpu->sys.pending_vector = EXC_GP;
    cpu->sys.pending_error = 0x18;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_int_equal(get32(f, 0x80000 - 16), 0x18);
    assert_int_equal(get32(f, 0x80000 - 4), 0x202 | FLAG_RF);
    /* INT3 (trap) and an external interrupt: RF not set. */
    cpu->regs[R_ESP] = 0x80000;
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, EXC_BP, INT_SOFT_EXC, 0x1235)), -1);
    assert_int_equal(get32(f, 0x80000 - 4), 0x202);
    cpu->regs[R_ESP] = 0x80000;
    cpu_set_eflags(cpu, 0x202, 0xffffffffu);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x21, INT_EXTERNAL, 0x1235)), -1);
    assert_int_equal(get32(f, 0x80000 - 4), 0x202);
    fx_free(f);
}

static void test_double_and_triple_fault(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    cpu->regs[R_ESP] = 0x80000;
    /* #GP handler not present: delivering #GP raises #NP -> contributory twice -> #DF. */
    put_gate(f, IDT_BASE + 13 * 8, SEL_CODE0, 0x3000, 0x0e, 0);
    put_gate(f, IDT_BASE + 11 * 8, SEL_CODE0, 0x3100, 0x8e, 0);
    put_gate(f, IDT_BASE + 8 * 8, SEL_CODE0, 0x3800, 0x8e, 0);
    cpu->eip = 0x1000;
    TRY(cpu, cpu_exception(cpu, EXC_GP, 0));
    cpu->sys.pending_vector = EXC_GP;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), EXC_NP);
    assert_int_equal(ERR(cpu), 13 * 8 + 2 + 1);
    cpu->sys.pending_vector = EXC_NP;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_int_equal(cpu->eip, 0x3800);
    assert_int_equal(get32(f, cpu->regs[R_ESP]), 0); /* #DF error code is 0 */
    assert_int_equal(get32(f, cpu->regs[R_ESP] + 4), 0x1000);
    /* #PF handler not present: #PF then #NP (contributory) -> #DF. */
    put_gate(f, IDT_BASE + 14 * 8, SEL_CODE0, 0x3000, 0x0e, 0);
    cpu->regs[R_ESP] = 0x80000;
    cpu->sys.pending_vector = EXC_PF;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), EXC_NP);
    cpu->sys.pending_vector = EXC_NP;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_int_equal(cpu->eip, 0x3800); /* PF + contributory -> #DF */
    /* #DF handler missing too: triple fault. */
    put_gate(f, IDT_BASE + 8 * 8, SEL_CODE0, 0x3800, 0x0e, 0);
    cpu->sys.pending_vector = EXC_GP;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), EXC_NP);
    cpu->sys.pending_vector = EXC_NP;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), EXC_NP);
    assert_false(cpu->sys.triple_fault);
    cpu->sys.pending_vector = EXC_NP;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_true(cpu->sys.triple_fault);
    /* Reset clears it. */
    cpu_reset(cpu);
    assert_false(cpu->sys.triple_fault);
    fx_free(f);
}

static void test_v86_int_iopl(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    fx_protected(f);
    put32(f, TSS_BASE + 4, 0x90000);
    put32(f, TSS_BASE + 8, SEL_DATA0);
    /* IRET to v86 mode: EIP, CS, EFLAGS(VM), ESP, SS, ES, DS, FS, GS. */
    uint32_t fr[] = { 0x100, 0x2000, FLAG_VM | 0x202, 0xfffe, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000 };
    cpu->regs[R_ESP] = 0x80000 - sizeof(fr);
    memcpy(f->mem.ram + cpu->regs[R_ESP], fr, sizeof(fr));
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_true(cpu->vm86);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->seg[SEG_CS].base, 0x20000);
    assert_int_equal(cpu->seg[SEG_DS].base, 0x50000);
    assert_int_equal(cpu->seg[SEG_GS].sel, 0x7000);
    assert_int_equal(cpu->regs[R_ESP], 0xfffe);
    /* INT n with IOPL < 3 -> #GP(0). */
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x21, INT_SOFTWARE, 0x102)), EXC_GP);
    assert_int_equal(ERR(cpu), 0);
    /* An external interrupt leaves v86 through a ring-0 gate, pushing the segments. */
    put_gate(f, IDT_BASE + 0x20 * 8, SEL_CODE0, 0x5000, 0x8e, 0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x20, INT_EXTERNAL, 0x100)), -1);
    assert_false(cpu->vm86);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->regs[R_ESP], 0x90000 - 36);
    assert_int_equal(get32(f, 0x90000 - 4), 0x7000);  /* GS */
    assert_int_equal(get32(f, 0x90000 - 16), 0x4000); /* ES */
    assert_int_equal(get32(f, 0x90000 - 20), 0x3000); /* SS */
    assert_int_equal(get32(f, 0x90000 - 28) & FLAG_VM, FLAG_VM);
    assert_int_equal(cpu->seg[SEG_DS].sel, 0);
    /* IRET returns to v86 with the same frame. */
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, cpu->eip + 1)), -1);
    assert_true(cpu->vm86);
    assert_int_equal(cpu->seg[SEG_ES].base, 0x40000);
    fx_free(f);
}

static void test_delivery_faults(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_ring3(f);
    put_gate(f, IDT_BASE + 0x80 * 8, SEL_CODE0, 0x1000, 0xee, 0);
    /* TSS.SS0 not a writable data segment -> #TS(SS0 selector). */
    put32(f, TSS_BASE + 8, SEL_CODE0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x80, INT_SOFTWARE, 0)), EXC_TS);
    assert_int_equal(ERR(cpu), SEL_CODE0);
    /* TSS.SS0 null -> #TS(0); with EXT for an external interrupt. */
    put32(f, TSS_BASE + 8, 0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x80, INT_SOFTWARE, 0)), EXC_TS);
    assert_int_equal(ERR(cpu), 0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x80, INT_EXTERNAL, 0)), EXC_TS);
    assert_int_equal(ERR(cpu), 1);
    put32(f, TSS_BASE + 8, SEL_DATA0);
    /* Gate to a not-present code segment -> #NP(selector). */
    put_desc(f, GDT_BASE + 0x30, 0, 0xfffff, 0x1a, 0xc);
    put_gate(f, IDT_BASE + 0x81 * 8, 0x30, 0x1000, 0xee, 0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x81, INT_SOFTWARE, 0)), EXC_NP);
    assert_int_equal(ERR(cpu), 0x30);
    /* Gate to a data segment -> #GP(selector). */
    put_gate(f, IDT_BASE + 0x82 * 8, SEL_DATA0, 0x1000, 0xee, 0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x82, INT_SOFTWARE, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_DATA0);
    /* A system descriptor that is not a gate in the IDT -> #GP(vector*8+2). */
    put_desc(f, IDT_BASE + 0x83 * 8, 0, 0, 0xe9, 0);
    assert_int_equal(TRY(cpu, cpu_interrupt(cpu, 0x83, INT_SOFTWARE, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), 0x83 * 8 + 2);
    /* Nothing changed by the failed deliveries. */
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->regs[R_ESP], 0x70000);
    assert_int_equal(cpu->seg[SEG_SS].sel, SEL_DATA3);
    fx_free(f);
}

static void test_log_int_format(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct pcvm_log log = { LOG_INT, out };
    fx_protected(f);
    cpu->log = &log;
    put_gate(f, IDT_BASE + 14 * 8, SEL_CODE0, 0x3000, 0x8e, 0);
    cpu->eip = 0x1234;
    cpu->cr2 = 0xdeadb000;
    cpu->sys.pending_vector = EXC_PF;
    cpu->sys.pending_error = 2;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    fclose(out);
    /* QEMU's -d int line: vector, error code, software flag, CPL, CS:EIP, CR2 for #PF. */
    assert_non_null(strstr(text, "v=0e e=0002 i=0 cpl=0 IP=0008:00001234"));
    assert_non_null(strstr(text, "CR2=deadb000"));
    free(text);
    cpu->log = NULL;
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_mode_int),
        cmocka_unit_test(test_idt_gate_stack_switch),
        cmocka_unit_test(test_int_dpl_check),
        cmocka_unit_test(test_same_level_frame_and_idt_limit),
        cmocka_unit_test(test_double_and_triple_fault),
        cmocka_unit_test(test_fault_sets_rf_in_pushed_eflags),
        cmocka_unit_test(test_v86_int_iopl),
        cmocka_unit_test(test_delivery_faults),
        cmocka_unit_test(test_log_int_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Hardware task switches: state saved to the old TSS and loaded from the new one, busy bits,
 * NT and the back link, IRET task return, task gates in the IDT (Intel SDM vol. 3 ch. 7). */
#include "../cpu/sys/harness.h"

#define TSS2 0x4000u
#define SEL_TSS2 0x30
#define SEL_TGATE 0x38

static void setup_tasks(struct fx *f)
{
    fx_protected(f);
    put_desc(f, GDT_BASE + SEL_TSS2, TSS2, 0x67, 0x89, 0);
    put_gate(f, GDT_BASE + SEL_TGATE, SEL_TSS2, 0, 0x85, 0);
    memset(f->mem.ram + TSS2, 0, 0x68);
    put32(f, TSS2 + 0x20, 0x500000);            /* EIP */
    put32(f, TSS2 + 0x24, 0x2 | FLAG_CF);       /* EFLAGS */
    for (uint32_t i = 0; i < 8; i++)
        put32(f, TSS2 + 0x28 + 4 * i, 0x1000 + i); /* EAX..EDI */
    put32(f, TSS2 + 0x48, SEL_DATA0);           /* ES */
    put32(f, TSS2 + 0x4c, SEL_CODE0);           /* CS */
    put32(f, TSS2 + 0x50, SEL_DATA0);           /* SS */
    put32(f, TSS2 + 0x54, SEL_DATA0);           /* DS */
    put32(f, TSS2 + 0x58, 0);                   /* FS */
    put32(f, TSS2 + 0x5c, SEL_DATA0);           /* GS */
}

static void test_jmp_task(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_tasks(f);
    cpu->regs[R_EAX] = 0xaaaa;
    cpu->regs[R_ESP] = 0x80000;
    cpu_set_eflags(cpu, 0x2 | FLAG_ZF, 0xffffffffu);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_TSS2, 0, 0x100007)), -1);
    /* Old task state saved. */
    assert_int_equal(get32(f, TSS_BASE + 0x20), 0x100007);
    assert_int_equal(get32(f, TSS_BASE + 0x28), 0xaaaa);
    assert_int_equal(get32(f, TSS_BASE + 0x38), 0x80000);
    assert_int_equal(get32(f, TSS_BASE + 0x24) & FLAG_ZF, FLAG_ZF);
    assert_int_equal(get16(f, TSS_BASE + 0x4c), SEL_CODE0);
    /* Busy bits: old cleared (JMP), new set. */
    assert_int_equal(f->mem.ram[GDT_BASE + SEL_TSS + 5], 0x89);
    assert_int_equal(f->mem.ram[GDT_BASE + SEL_TSS2 + 5], 0x8b);
    /* New state loaded. */
    assert_int_equal(cpu->tr.sel, SEL_TSS2);
    assert_int_equal(cpu->eip, 0x500000);
    assert_int_equal(cpu->regs[R_EAX], 0x1000);
    assert_int_equal(cpu->regs[R_EDI], 0x1007);
    assert_int_equal(cpu_get_eflags(cpu) & (FLAG_CF | FLAG_ZF | FLAG_NT), FLAG_CF);
    assert_int_equal(cpu->seg[SEG_FS].sel, 0);
    assert_true(cpu->cr0 & CR0_TS);
    /* No back link for JMP. */
    assert_int_equal(get16(f, TSS2), 0);
    fx_free(f);
}

static void test_call_and_iret_task(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_tasks(f);
    cpu->regs[R_ESP] = 0x80000;
    /* CALL through a task gate. */
    assert_int_equal(TRY(cpu, cpu_far_call(cpu, SEL_TGATE, 0, true, 0x100010)), -1);
    assert_int_equal(cpu->tr.sel, SEL_TSS2);
    assert_int_equal(get16(f, TSS2), SEL_TSS); /* back link */
    assert_true(cpu_get_eflags(cpu) & FLAG_NT);
    assert_int_equal(f->mem.ram[GDT_BASE + SEL_TSS + 5], 0x8b); /* old stays busy */
    assert_int_equal(f->mem.ram[GDT_BASE + SEL_TSS2 + 5], 0x8b);
    /* CALL to a busy task -> #GP(sel). */
    assert_int_equal(TRY(cpu, cpu_far_call(cpu, SEL_TSS, 0, true, 0)), EXC_GP);
    assert_int_equal(ERR(cpu), SEL_TSS);
    /* IRET with NT returns to the caller. */
    cpu->regs[R_EBX] = 0x4321;
    uint32_t iret_eip = cpu->eip;
    assert_int_equal(TRY(cpu, cpu_iret(cpu, true, iret_eip + 1)), -1);
    assert_int_equal(get32(f, TSS2 + 0x20), iret_eip + 1); /* resumes after the IRET */
    assert_int_equal(cpu->tr.sel, SEL_TSS);
    assert_int_equal(cpu->eip, 0x100010);
    assert_int_equal(cpu->regs[R_ESP], 0x80000);
    assert_int_equal(f->mem.ram[GDT_BASE + SEL_TSS2 + 5], 0x89); /* IRET clears busy */
    assert_int_equal(get32(f, TSS2 + 0x34), 0x4321);             /* EBX saved */
    assert_false(get32(f, TSS2 + 0x24) & FLAG_NT);                /* saved NT cleared */
    fx_free(f);
}

static void test_task_gate_in_idt(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_tasks(f);
    put32(f, TSS2 + 0x38, 0x60000); /* ESP of the new task */
    put_gate(f, IDT_BASE + 8 * 8, SEL_TSS2, 0, 0x85, 0);
    cpu->regs[R_ESP] = 0x80000;
    cpu->eip = 0x1234;
    cpu->sys.pending_vector = EXC_DF;
    cpu->sys.pending_error = 0;
    assert_int_equal(TRY(cpu, cpu_deliver_pending_exception(cpu)), -1);
    assert_int_equal(cpu->tr.sel, SEL_TSS2);
    /* The error code is pushed on the new task's stack. */
    assert_int_equal(cpu->regs[R_ESP], 0x60000 - 4);
    assert_int_equal(get32(f, 0x60000 - 4), 0);
    assert_int_equal(get32(f, TSS_BASE + 0x20), 0x1234);
    assert_true(cpu_get_eflags(cpu) & FLAG_NT);
    fx_free(f);
}

static void test_bad_new_tss(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_tasks(f);
    /* TSS limit below 0x67 -> #TS(sel). */
    put_desc(f, GDT_BASE + SEL_TSS2, TSS2, 0x50, 0x89, 0);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_TSS2, 0, 0)), EXC_TS);
    assert_int_equal(ERR(cpu), SEL_TSS2);
    assert_int_equal(cpu->tr.sel, SEL_TSS);
    /* Not present -> #NP(sel). */
    put_desc(f, GDT_BASE + SEL_TSS2, TSS2, 0x67, 0x09, 0);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_TSS2, 0, 0)), EXC_NP);
    fx_free(f);
}

static void test_286_tss_and_trap_bit(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_tasks(f);
    /* A 286 TSS (type 1, limit 0x2b): IP, FLAGS, AX..DI, ES, CS, SS, DS, LDT as words. */
    put_desc(f, GDT_BASE + 0x48, 0x5000, 0x2b, 0x81, 0);
    memset(f->mem.ram + 0x5000, 0, 0x2c);
    put16(f, 0x5000 + 0x0e, 0x1234);        /* IP */
    put16(f, 0x5000 + 0x10, 0x0002 | FLAG_ZF);
    put16(f, 0x5000 + 0x12, 0xaaaa);        /* AX */
    put16(f, 0x5000 + 0x1a, 0x7000);        /* SP */
    put16(f, 0x5000 + 0x22, SEL_DATA0);     /* ES */
    put16(f, 0x5000 + 0x24, SEL_CODE0);     /* CS */
    put16(f, 0x5000 + 0x26, SEL_DATA0);     /* SS */
    put16(f, 0x5000 + 0x28, SEL_DATA0);     /* DS */
    cpu->regs[R_ESP] = 0x80000;
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, 0x48, 0, 0x100020)), -1);
    assert_int_equal(cpu->tr.sel, 0x48);
    assert_int_equal(cpu->eip, 0x1234);
    assert_int_equal(cpu->regs[R_EAX] & 0xffff, 0xaaaa);
    assert_int_equal(cpu->regs[R_ESP] & 0xffff, 0x7000);
    assert_int_equal(cpu_get_eflags(cpu) & FLAG_ZF, FLAG_ZF);
    assert_int_equal(f->mem.ram[GDT_BASE + 0x48 + 5], 0x83); /* busy 286 TSS */
    /* The 386 TSS we left got EIP saved. */
    assert_int_equal(get32(f, TSS_BASE + 0x20), 0x100020);

    /* T bit in a 386 TSS: #DB after the switch, in the new task. */
    put16(f, TSS2 + 0x64, 1);
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_TSS2, 0, 0x1240)), EXC_DB);
    assert_int_equal(cpu->tr.sel, SEL_TSS2);
    assert_int_equal(cpu->eip, 0x500000);
    assert_int_equal(cpu->eip_start, 0x500000);
    assert_true(cpu->dr[6] & (1u << 15)); /* DR6.BT */
    /* The 286 TSS we left has IP saved as a word. */
    assert_int_equal(get16(f, 0x5000 + 0x0e), 0x1240);
    fx_free(f);
}

static void test_task_ldt(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct cpu *cpu = &f->cpu;
    setup_tasks(f);
    /* The new task's LDT holds its data segment; LDTR and DS come from it. */
    put_desc(f, GDT_BASE + 0x50, 0x6000, 0xf, 0x82, 0);
    put_desc(f, 0x6008, 0xabc000, 0xfff, 0x92, 0x4);
    put32(f, TSS2 + 0x60, 0x50);
    put32(f, TSS2 + 0x54, 0x0c); /* DS = LDT entry 1 */
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_TSS2, 0, 0)), -1);
    assert_int_equal(cpu->ldtr.sel, 0x50);
    assert_int_equal(cpu->ldtr.base, 0x6000);
    assert_int_equal(cpu->seg[SEG_DS].base, 0xabc000);
    /* A bad LDT selector in the TSS: #TS(ldt) raised in the new task's context. */
    setup_tasks(f);
    put32(f, TSS2 + 0x60, 0x10); /* a data segment, not an LDT */
    assert_int_equal(TRY(cpu, cpu_far_jmp(cpu, SEL_TSS2, 0, 0)), EXC_TS);
    assert_int_equal(ERR(cpu), 0x10);
    assert_int_equal(cpu->tr.sel, SEL_TSS2);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jmp_task),
        cmocka_unit_test(test_call_and_iret_task),
        cmocka_unit_test(test_task_gate_in_idt),
        cmocka_unit_test(test_bad_new_tss),
        cmocka_unit_test(test_286_tss_and_trap_bit),
        cmocka_unit_test(test_task_ldt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

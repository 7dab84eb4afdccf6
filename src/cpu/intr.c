/* Exceptions and interrupts: recording faults, the double-fault matrix, delivery through the
 * real-mode IVT or the protected-mode IDT (interrupt, trap and task gates). */
#include "cpu/sysint.h"

enum { KIND_EXC = 100 }; /* an exception, beside the int_kind values */

_Noreturn void cpu_exception(struct cpu *cpu, int vector, uint32_t error_code)
{
    cpu->sys.pending_vector = vector;
    cpu->sys.pending_error = error_code;
    longjmp(cpu->fault_env, 1);
}

static bool exc_has_error(int v)
{
    return v == EXC_DF || (v >= EXC_TS && v <= EXC_PF) || v == EXC_AC;
}

/* Fault-class exceptions (restartable: the saved EIP is the faulting instruction's). */
static bool exc_is_fault(int v)
{
    switch (v) {
    case EXC_DE: case EXC_BR: case EXC_UD: case EXC_NM: case EXC_TS: case EXC_NP: case EXC_SS:
    case EXC_GP: case EXC_PF: case EXC_MF: case EXC_AC: case EXC_XM:
        return true;
    default:
        return false;
    }
}

enum { CLASS_BENIGN, CLASS_CONTRIB, CLASS_PF, CLASS_DF };

static int exc_class(int v)
{
    switch (v) {
    case EXC_DE: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP:
        return CLASS_CONTRIB;
    case EXC_PF:
        return CLASS_PF;
    case EXC_DF:
        return CLASS_DF;
    default:
        return CLASS_BENIGN;
    }
}

void intr_log(struct cpu *cpu, int vector, uint32_t error, bool has_error, int kind)
{
    if (!log_enabled(cpu->log, LOG_INT))
        return;
    bool soft = kind == INT_SOFTWARE || kind == INT_SOFT_EXC;
    char extra[32];
    if (vector == EXC_PF && kind == KIND_EXC)
        snprintf(extra, sizeof(extra), " CR2=%08x", cpu->cr2);
    else
        snprintf(extra, sizeof(extra), " EAX=%08x", cpu->regs[R_EAX]);
    log_printf(cpu->log, LOG_INT,
               "%6llu: v=%02x e=%04x i=%d cpl=%u IP=%04x:%08x pc=%08x SP=%04x:%08x%s\n",
               (unsigned long long)cpu->sys.int_count, vector, has_error ? error : 0, soft,
               cpu->cpl, cpu->seg[SEG_CS].sel, cpu->eip, cpu->seg[SEG_CS].base + cpu->eip,
               cpu->seg[SEG_SS].sel, cpu->regs[R_ESP], extra);
    cpu->sys.int_count++;
}

static void triple_fault(struct cpu *cpu)
{
    cpu->sys.triple_fault = true;
    cpu->sys.delivering = -1;
    cpu->sys.ext = false;
    log_printf(cpu->log, LOG_INT | LOG_CPU_RESET, "triple fault at %04x:%08x\n",
               cpu->seg[SEG_CS].sel, cpu->eip);
}

void cpu_deliver_pending_exception(struct cpu *cpu)
{
    int v = cpu->sys.pending_vector;
    uint32_t err = cpu->sys.pending_error;
    cpu->sys.pending_vector = -1;
    cpu->sys.db_hits = 0; /* the instruction faulted: data breakpoints are not reported */
    if (v < 0)
        return;
    if (cpu->sys.delivering >= 0 && cpu->sys.delivering_is_exc) {
        int first = exc_class(cpu->sys.delivering), second = exc_class(v);
        if (first == CLASS_DF && (second == CLASS_CONTRIB || second == CLASS_PF)) {
            triple_fault(cpu);
            return;
        }
        if ((first == CLASS_CONTRIB && second == CLASS_CONTRIB) ||
            (first == CLASS_PF && (second == CLASS_CONTRIB || second == CLASS_PF))) {
            v = EXC_DF;
            err = 0;
        }
    }
    cpu->sys.delivering = -1;
    /* SDM vol. 3 17.3.1.1: the EFLAGS image pushed for a fault has RF set, so that the
     * restarted instruction does not hit its instruction breakpoint again (#DB itself
     * excepted: its handler decides).  Delivery clears RF in EFLAGS afterwards. */
    if (exc_is_fault(v))
        cpu_set_eflags(cpu, FLAG_RF, FLAG_RF);
    intr_deliver(cpu, v, exc_has_error(v), err, true);
}

static void real_mode_int(struct cpu *cpu, int vector, uint32_t ret_eip)
{
    uint32_t a = (uint32_t)vector * 4;
    if (a + 3 > cpu->idtr.limit)
        cpu_exception(cpu, EXC_GP, 0);
    uint16_t off = cpu_lin_read16(cpu, cpu->idtr.base + a, ACC_READ | ACC_SUPER);
    uint16_t sel = cpu_lin_read16(cpu, cpu->idtr.base + a + 2, ACC_READ | ACC_SUPER);
    uint32_t mask = stack_mask(&cpu->seg[SEG_SS]);
    uint32_t sp = cpu->regs[R_ESP];
    uint16_t flags = (uint16_t)cpu_get_eflags(cpu);
    cpu_write16(cpu, SEG_SS, (sp - 2) & mask, flags);
    cpu_write16(cpu, SEG_SS, (sp - 4) & mask, cpu->seg[SEG_CS].sel);
    cpu_write16(cpu, SEG_SS, (sp - 6) & mask, (uint16_t)ret_eip);
    cpu->regs[R_ESP] = (sp & ~mask) | ((sp - 6) & mask);
    cpu_set_eflags(cpu, 0, FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
    seg_load_real(cpu, SEG_CS, sel);
    cpu->eip = off;
}

static void prot_mode_int(struct cpu *cpu, int vector, int kind, uint32_t ret_eip,
                          bool has_error, uint32_t error)
{
    uint32_t ext = cpu->sys.ext ? 1 : 0;
    uint32_t idt_err = (uint32_t)vector * 8 + 2 + ext;
    bool soft = kind == INT_SOFTWARE || kind == INT_SOFT_EXC;
    if ((uint32_t)vector * 8 + 7 > cpu->idtr.limit)
        cpu_exception(cpu, EXC_GP, idt_err);
    uint32_t d[2];
    d[0] = cpu_lin_read32(cpu, cpu->idtr.base + (uint32_t)vector * 8, ACC_READ | ACC_SUPER);
    d[1] = cpu_lin_read32(cpu, cpu->idtr.base + (uint32_t)vector * 8 + 4, ACC_READ | ACC_SUPER);
    unsigned t = desc_type(d);
    if (desc_s(d) || !(t == 5 || t == 6 || t == 7 || t == 14 || t == 15))
        cpu_exception(cpu, EXC_GP, idt_err);
    if (soft && desc_dpl(d) < cpu->cpl)
        cpu_exception(cpu, EXC_GP, (uint32_t)vector * 8 + 2);
    if (!desc_p(d))
        cpu_exception(cpu, EXC_NP, idt_err);

    if (t == 5) {
        uint16_t tsel = (uint16_t)(d[0] >> 16);
        uint32_t td[2];
        if ((tsel & 4) || !seg_read_desc(cpu, tsel, td))
            cpu_exception(cpu, EXC_TS, sel_error(cpu, tsel));
        unsigned tt = desc_type(td);
        if (desc_s(td) || (tt != 1 && tt != 9))
            cpu_exception(cpu, EXC_TS, sel_error(cpu, tsel));
        if (!desc_p(td))
            cpu_exception(cpu, EXC_NP, sel_error(cpu, tsel));
        task_switch(cpu, tsel, td, TASK_INT, ret_eip, has_error, error);
        return;
    }

    bool gate32 = (t & 8) != 0, trap = (t & 1) != 0;
    unsigned size = gate32 ? 4 : 2;
    uint16_t sel = (uint16_t)(d[0] >> 16);
    uint32_t eip = (d[0] & 0xffff) | (gate32 ? (d[1] & 0xffff0000u) : 0);
    uint32_t cd[2];
    if ((sel & 0xfffc) == 0)
        cpu_exception(cpu, EXC_GP, ext);
    if (!seg_read_desc(cpu, sel, cd))
        cpu_exception(cpu, EXC_GP, sel_error(cpu, sel));
    unsigned ct = desc_type(cd);
    if (!desc_s(cd) || !(ct & 8) || desc_dpl(cd) > cpu->cpl)
        cpu_exception(cpu, EXC_GP, sel_error(cpu, sel));
    if (!desc_p(cd))
        cpu_exception(cpu, EXC_NP, sel_error(cpu, sel));
    if (eip > desc_limit(cd))
        cpu_exception(cpu, EXC_GP, ext);

    unsigned dpl = desc_dpl(cd);
    seg_set_accessed(cpu, sel, cd); /* before any register changes: it may fault */
    uint32_t flags = cpu_get_eflags(cpu);
    uint32_t frame[10];
    unsigned n = 0;
    unsigned new_cpl = cpu->cpl;
    if (!(ct & 4) && dpl < cpu->cpl) {
        /* Inner privilege: switch to the stack from the TSS. */
        if (cpu->vm86 && dpl != 0)
            cpu_exception(cpu, EXC_GP, sel_error(cpu, sel));
        uint16_t nss;
        uint32_t nesp, sd[2];
        seg_tss_stack(cpu, dpl, &nss, &nesp);
        seg_check_stack(cpu, nss, sd, dpl, true);
        struct seg new_ss;
        seg_from_desc(&new_ss, nss, sd);
        uint32_t nmask = stack_mask(&new_ss);
        if (cpu->vm86) {
            frame[n++] = cpu->seg[SEG_GS].sel;
            frame[n++] = cpu->seg[SEG_FS].sel;
            frame[n++] = cpu->seg[SEG_DS].sel;
            frame[n++] = cpu->seg[SEG_ES].sel;
        }
        frame[n++] = cpu->seg[SEG_SS].sel;
        frame[n++] = cpu->regs[R_ESP];
        frame[n++] = flags;
        frame[n++] = cpu->seg[SEG_CS].sel;
        frame[n++] = ret_eip;
        if (has_error)
            frame[n++] = error;
        uint32_t esp = nesp;
        for (unsigned i = 0; i < n; i++) {
            esp -= size;
            seg_stack_write(cpu, &new_ss, esp & nmask, frame[i], size, dpl, sel_error(cpu, nss));
        }
        seg_set_accessed(cpu, nss, sd);
        bool was_vm86 = cpu->vm86;
        cpu->seg[SEG_SS] = new_ss;
        cpu->regs[R_ESP] = (nesp & ~nmask) | (esp & nmask);
        if (was_vm86) {
            static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
            for (unsigned i = 0; i < 4; i++)
                cpu->seg[segs[i]] = (struct seg){ 0, 0, 0, 0 };
        }
        seg_set_accessed(cpu, sel, cd);
        seg_from_desc(&cpu->seg[SEG_CS], (uint16_t)((sel & 0xfffc) | dpl), cd);
        new_cpl = dpl;
    } else {
        if (cpu->vm86)
            cpu_exception(cpu, EXC_GP, sel_error(cpu, sel));
        frame[n++] = flags;
        frame[n++] = cpu->seg[SEG_CS].sel;
        frame[n++] = ret_eip;
        if (has_error)
            frame[n++] = error;
        const struct seg *ss = &cpu->seg[SEG_SS];
        uint32_t mask = stack_mask(ss);
        uint32_t esp = cpu->regs[R_ESP];
        for (unsigned i = 0; i < n; i++) {
            esp -= size;
            seg_stack_write(cpu, ss, esp & mask, frame[i], size, cpu->cpl, ext);
        }
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & ~mask) | (esp & mask);
        seg_set_accessed(cpu, sel, cd);
        seg_from_desc(&cpu->seg[SEG_CS], (uint16_t)((sel & 0xfffc) | cpu->cpl), cd);
    }
    cpu->eip = eip;
    cpu_set_eflags(cpu, 0, FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM | (trap ? 0 : FLAG_IF));
    cpu->cpl = new_cpl;
    cpu_update_mode(cpu);
}

/* Deliver vector; kind is an int_kind or KIND_EXC. */
static void deliver(struct cpu *cpu, int vector, int kind, uint32_t ret_eip, bool has_error,
                    uint32_t error)
{
    intr_log(cpu, vector, error, has_error, kind);
    cpu->sys.delivering = vector;
    cpu->sys.delivering_is_exc = kind == KIND_EXC;
    cpu->sys.ext = kind == KIND_EXC || kind == INT_EXTERNAL || kind == INT_NMI;
    if (kind == INT_SOFTWARE && cpu->vm86 && (cpu->eflags & FLAG_IOPL) != FLAG_IOPL)
        cpu_exception(cpu, EXC_GP, 0);
    if (!cpu->pe)
        real_mode_int(cpu, vector, ret_eip);
    else
        prot_mode_int(cpu, vector, kind, ret_eip, has_error, error);
    cpu->sys.delivering = -1;
    cpu->sys.ext = false;
    cpu->halted = false;
    if (kind == INT_NMI)
        cpu->sys.nmi_blocked = true;
}

void intr_deliver(struct cpu *cpu, int vector, bool has_error, uint32_t error, bool is_exc)
{
    /* In real mode no error code is pushed. */
    deliver(cpu, vector, is_exc ? KIND_EXC : INT_EXTERNAL, cpu->eip, has_error && cpu->pe, error);
}

void cpu_interrupt(struct cpu *cpu, int vector, enum int_kind kind, uint32_t next_eip)
{
    deliver(cpu, vector, (int)kind, next_eip, false, 0);
}

void cpu_deliver_trap(struct cpu *cpu, int vector, uint32_t next_eip)
{
    deliver(cpu, vector, KIND_EXC, next_eip, false, 0);
}

/* CPU conformance harness, pcvm side: reads the native runner's records (stdin or a file),
 * runs each case on pcvm's CPU core (no board: RAM, an I/O bus and the CPU) and compares.
 *
 *   native ... | pcvm_run [--model NAME] [--print N] [--quiet] [FILE]
 *
 * Set-up: flat 32-bit protected mode, paging off, CPL 3 with the host's selectors (a GDT
 * holds matching descriptors), a TSS with a ring-0 stack and an IDT whose gates lead to
 * stubs "out 0x80+vector, al; hlt": an exception is recognised by the port write (or EIP
 * inside the stubs) and its frame is read from the ring-0 stack.  Exactly one instruction
 * runs (cpu_run(cpu, 1)); a REP string runs until EIP moves past it.
 *
 * --jit compiles every trace at its first run (jit-threshold 1).  A compiled trace runs only
 * when the budget covers it whole, so each run gets a budget of 2: the instruction and the
 * exit jump after it (one trace); EIP is then mapped back from the exit jump's target.
 *
 * --jit-vs-interp generates the cases itself (no native runner, e.g. on a host that cannot
 * run 32-bit programs) and compares the JIT with the interpreter on each:
 *   pcvm_run --jit-vs-interp [--seed N] [--per N] [--only NAME]... */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"
#include "gen.h"

#define RAM_SIZE    (4u << 20)
#define GDT_BASE    0x300000u
#define IDT_BASE    0x301000u
#define STUB_BASE   0x302000u
#define TSS_BASE    0x303000u
#define RING0_STACK 0x305000u
#define FX_AREA     0x306000u
#define STUB_SIZE   16u
#define EXC_PORT    0x80u

struct harness {
    struct phys_mem mem;
    struct io_bus io;
    struct vclock clock;
    struct cpu cpu;
    int exc_vector;            /* from the stub's port write, -1 none */
    /* Statistics. */
    uint64_t cases, passed, failed, skipped;
    uint32_t *form_cases, *form_fail;
    int nforms;
    struct gen_form *forms;
    unsigned print_max, printed_per_form_max;
    uint32_t *form_printed;
    uint32_t *form_kinds;
    bool quiet;
    bool jit;                  /* --jit: every trace compiled at its first run */
};

static uint32_t exc_port_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque; (void)port; (void)size;
    return 0xffffffffu;
}

static void exc_port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct harness *h = opaque;
    (void)value; (void)size;
    if (h->exc_vector < 0)
        h->exc_vector = port - EXC_PORT;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* A GDT descriptor: base 0, limit 4 GiB, type/S/DPL from the arguments, 32-bit, G. */
static void gdt_flat(uint8_t *gdt, unsigned index, unsigned type, unsigned dpl)
{
    uint8_t *d = gdt + 8 * index;
    d[0] = 0xff; d[1] = 0xff; d[2] = d[3] = d[4] = 0;
    d[5] = (uint8_t)(0x80 | dpl << 5 | 0x10 | type);
    d[6] = 0xcf;
    d[7] = 0;
}

static void harness_init(struct harness *h, const char *model)
{
    if (phys_mem_init(&h->mem, RAM_SIZE, RAM_SIZE) < 0) {
        fprintf(stderr, "pcvm_run: cannot allocate RAM\n");
        exit(1);
    }
    io_bus_init(&h->io);
    io_register(&h->io, EXC_PORT, 32, h, exc_port_read, exc_port_write, IO_SIZE_ALL, "exc");
    const struct cpu_model *m = cpu_model_find(model);
    if (!m) {
        fprintf(stderr, "pcvm_run: unknown model %s\n", model);
        exit(2);
    }
    vclock_init(&h->clock, true, 0, &h->cpu.insn_count);
    cpu_init(&h->cpu, 0, m, &h->mem, &h->io, &h->clock, NULL, NULL);
    h->cpu.exec.jit_threshold = h->jit ? 1 : 0;

    uint8_t *ram = h->mem.ram;
    /* IDT: 32 interrupt gates (DPL 3, so INT3/INTO from ring 3 reach them) to the stubs. */
    for (unsigned v = 0; v < 32; v++) {
        uint8_t *g = ram + IDT_BASE + 8 * v;
        uint32_t off = STUB_BASE + STUB_SIZE * v;
        g[0] = (uint8_t)off; g[1] = (uint8_t)(off >> 8);
        g[2] = 0x08; g[3] = 0;
        g[4] = 0; g[5] = 0xee;
        g[6] = (uint8_t)(off >> 16); g[7] = (uint8_t)(off >> 24);
        uint8_t *s = ram + off;
        s[0] = 0xe6; s[1] = (uint8_t)(EXC_PORT + v); s[2] = 0xf4; s[3] = 0xeb; s[4] = 0xfd;
    }
    /* TSS: ring-0 stack, I/O bitmap beyond the limit (every port #GP at CPL 3). */
    put32(ram + TSS_BASE + 4, RING0_STACK);
    put32(ram + TSS_BASE + 8, 0x10);
    put32(ram + TSS_BASE + 0x64, 0xffffu << 16);
}

/* Per-case architectural set-up. */
static void setup_cpu(struct harness *h, const struct tc_case *c)
{
    struct cpu *cpu = &h->cpu;
    uint8_t *ram = h->mem.ram;
    /* GDT: ring-0 code/data at 0x08/0x10, the TSS at 0x18, the host's ring-3 selectors. */
    memset(ram + GDT_BASE, 0, 0x1000);
    gdt_flat(ram + GDT_BASE, 1, 0xb, 0);
    gdt_flat(ram + GDT_BASE, 2, 0x3, 0);
    uint8_t *t = ram + GDT_BASE + 0x18;
    t[0] = 0x67; t[1] = 0; t[2] = (uint8_t)TSS_BASE; t[3] = (uint8_t)(TSS_BASE >> 8);
    t[4] = (uint8_t)(TSS_BASE >> 16); t[5] = 0x8b; t[6] = 0; t[7] = (uint8_t)(TSS_BASE >> 24);
    for (int s = 0; s < SEG_COUNT; s++)
        if (c->sel[s] >= 0x20 && (c->sel[s] >> 3) < 512)
            gdt_flat(ram + GDT_BASE, c->sel[s] >> 3, s == SEG_CS ? 0xb : 0x3, 3);

    cpu->gdtr = (struct dtr){ GDT_BASE, 0xfff };
    cpu->idtr = (struct dtr){ IDT_BASE, 32 * 8 - 1 };
    cpu->tr = (struct seg){ 0x18, TSS_BASE, 0x67, SEG_FLAG_P | (0xbu << SEG_FLAG_TYPE_SHIFT) };
    cpu->ldtr = (struct seg){ 0, 0, 0, 0 };
    const uint32_t common = SEG_FLAG_P | SEG_FLAG_S | (3u << SEG_FLAG_DPL_SHIFT) | SEG_FLAG_DB | SEG_FLAG_G;
    for (int s = 0; s < SEG_COUNT; s++) {
        uint32_t type = s == SEG_CS ? 0xb : 0x3;
        cpu->seg[s] = (struct seg){ c->sel[s], 0, 0xffffffffu, common | type << SEG_FLAG_TYPE_SHIFT };
        if (c->sel[s] < 4 && s != SEG_CS)
            cpu->seg[s] = (struct seg){ c->sel[s], 0, 0, 0 };   /* null selector: unusable */
    }
    cpu->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_AM;
    cpu->cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu->cpl = 3;
    cpu->halted = false;
    cpu->inhibit_irq = false;
    cpu->interrupt_request = 0;
    cpu->sys.pending_vector = -1;
    cpu->sys.delivering = -1;
    cpu->sys.ext = false;
    cpu->sys.triple_fault = false;
    for (int i = 0; i < 8; i++)
        cpu->regs[i] = c->in.regs[i];
    cpu->eip = TC_CODE_BASE;
    cpu->eflags = c->in.eflags | FLAG_IF | FLAG_BIT1;
    cpu_set_eflags(cpu, c->in.eflags | FLAG_IF | FLAG_BIT1, 0x003f7fd7u);
    cpu_update_mode(cpu);
    cpu->cpl = 3;
    cpu_update_mode(cpu);
}

/* Load the FXSAVE image through pcvm's own FXRSTOR; false when pcvm refuses it. */
static bool load_fx(struct harness *h, const uint8_t *fx)
{
    struct cpu *cpu = &h->cpu;
    memcpy(h->mem.ram + FX_AREA, fx, 512);
    if (setjmp(cpu->fault_env)) {
        cpu->sys.pending_vector = -1;
        return false;
    }
    fpu_fxrstor(cpu, SEG_DS, FX_AREA);
    return true;
}

static bool save_fx(struct harness *h, uint8_t *fx)
{
    struct cpu *cpu = &h->cpu;
    memset(h->mem.ram + FX_AREA, 0, 512);
    if (setjmp(cpu->fault_env)) {
        cpu->sys.pending_vector = -1;
        return false;
    }
    fpu_fxsave(cpu, SEG_DS, FX_AREA);
    memcpy(fx, h->mem.ram + FX_AREA, 512);
    return true;
}

/* Run the case on pcvm; fills out (and fx_out). Returns false when it cannot be set up. */
static bool run_pcvm(struct harness *h, struct tc_case *c, struct tc_state *out, uint8_t *fx_out)
{
    struct cpu *cpu = &h->cpu;
    uint8_t *ram = h->mem.ram;
    if (c->membase != TC_MEM_BASE && c->membase != TC_MEM16_BASE)
        return false;
    memset(ram + c->membase, 0, 4096);
    memcpy(ram + c->membase, c->in.mem, TC_MEM_SIZE);
    memset(ram + TC_CODE_BASE, 0xcc, 64);
    memcpy(ram + TC_CODE_BASE, c->code, c->len);
    uint8_t *p = ram + TC_CODE_BASE + c->len;
    p[0] = 0xe9; put32(p + 1, 0x1000);
    p[5] = 0xe9; put32(p + 6, 0x1000);
    cpu_code_written(cpu, TC_CODE_BASE, 64);
    memset(ram + RING0_STACK - 64, 0, 64);
    setup_cpu(h, c);
    if (c->flags & TC_F_FPU) {
        if (!load_fx(h, c->fx_in))
            return false;
    }
    h->exc_vector = -1;
    enum cpu_exit_reason why = CPU_EXIT_BUDGET;
    for (int iter = 0; iter < 100000; iter++) {
        why = cpu_run(cpu, h->jit ? 2 : 1);
        if (why == CPU_EXIT_RESET || h->exc_vector >= 0)
            break;
        if (cpu->eip >= STUB_BASE && cpu->eip < STUB_BASE + 32 * STUB_SIZE)
            break;
        if (cpu->eip != TC_CODE_BASE || !(c->flags & TC_F_REP))
            break;
        if (why != CPU_EXIT_BUDGET)
            break;
    }
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 8; i++)
        out->regs[i] = cpu->regs[i];
    out->eflags = cpu_get_eflags(cpu);
    out->eip = cpu->eip;
    /* --jit: the exit jumps ran too; EIP is where they are. */
    if (h->jit && cpu->eip == TC_CODE_BASE + c->len + 5 + 0x1000)
        out->eip = TC_CODE_BASE + c->len;
    else if (h->jit && cpu->eip == TC_CODE_BASE + c->len + 10 + 0x1000)
        out->eip = TC_CODE_BASE + c->len + 5;
    int vec = h->exc_vector;
    if (vec < 0 && cpu->eip >= STUB_BASE && cpu->eip < STUB_BASE + 32 * STUB_SIZE)
        vec = (int)((cpu->eip - STUB_BASE) / STUB_SIZE);
    if (why == CPU_EXIT_RESET) {
        out->fault = 0x100;   /* triple fault */
    } else if (vec >= 0) {
        /* Ring-0 frame: SS, ESP, EFLAGS, CS, EIP [, error code]. */
        const uint8_t *f = ram + RING0_STACK;
        out->fault = (uint32_t)vec + 1;
        out->eip = get32(f - 20);
        out->eflags = get32(f - 12);
        out->regs[R_ESP] = get32(f - 8);
        bool has_err = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
        out->err = has_err ? get32(f - 24) : 0;
    }
    memcpy(out->mem, ram + c->membase, TC_MEM_SIZE);
    if (c->flags & TC_F_FPU) {
        /* FXSAVE at CPL 0 or 3: DS is unchanged by the exception. */
        if (!save_fx(h, fx_out))
            memset(fx_out, 0, 512);
    }
    return true;
}

/* ---- Comparison ---- */

/* Kinds of difference (a per-form summary of what differs). */
enum { D_FAULT, D_ERR, D_EIP, D_EFLAGS, D_REGS, D_MEM, D_FCW, D_FSW, D_FTW, D_MXCSR, D_ST, D_XMM, D_KINDS };
static const char *const dkind_name[D_KINDS] = {
    "fault", "errcode", "eip", "eflags", "regs", "mem", "fcw", "fsw", "ftw", "mxcsr", "st", "xmm",
};

struct diffs {
    char text[4096];
    unsigned len;
    unsigned count;
    uint32_t kinds;   /* 1 << D_* */
};

static void note(struct diffs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct diffs *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (d->len < sizeof(d->text) - 1) {
        int n = vsnprintf(d->text + d->len, sizeof(d->text) - d->len, fmt, ap);
        if (n > 0)
            d->len = d->len + (unsigned)n < sizeof(d->text) - 1 ? d->len + (unsigned)n : sizeof(d->text) - 1;
    }
    va_end(ap);
    d->count++;
}

/* note() for a difference of kind k. */
#define note_k(d, k, ...) ((d)->kinds |= 1u << (k), note((d), __VA_ARGS__))

static const char *const regname[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const excname[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?9", "#TS", "#NP", "#SS",
    "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "?20", "?21", "?22", "?23", "?24", "?25",
    "?26", "?27", "?28", "?29", "?30", "?31",
};

static void fault_str(uint32_t fault, char *buf, size_t n)
{
    if (!fault)
        snprintf(buf, n, "none");
    else if (fault == 0x100)
        snprintf(buf, n, "triple-fault");
    else if (fault - 1 < 32)
        snprintf(buf, n, "%s", excname[fault - 1]);
    else
        snprintf(buf, n, "trap%u", fault - 1);
}

/* Difference in units of the last place between two 80-bit values (same sign/exponent). */
static bool f80_close(const uint8_t *a, const uint8_t *b)
{
    uint64_t ma, mb;
    memcpy(&ma, a, 8);
    memcpy(&mb, b, 8);
    uint16_t ea = get16(a + 8), eb = get16(b + 8);
    if (ea == eb)
        return (ma > mb ? ma - mb : mb - ma) <= 1;
    /* Carry across a binade: 1.111..1 x 2^e vs 1.000..0 x 2^(e+1). */
    if ((ea & 0x8000) == (eb & 0x8000) && ((ea + 1) == eb || (eb + 1) == ea)) {
        uint64_t lo = (ea < eb) ? ma : mb, hi = (ea < eb) ? mb : ma;
        return lo == ~0ull && hi == 1ull << 63;
    }
    return false;
}

/* FSW condition bits the SDM leaves undefined after x87 form f (from the opcode table). */
static uint16_t x87_fsw_undef(const struct gen_form *f)
{
    if (f->opcode == 0x9b)
        return FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3;   /* FWAIT: "C0-C3 undefined" */
    uint8_t modrm = f->mem ? (uint8_t)(f->reg << 3) : f->modrm;
    return opcode_x87_lookup(f->opcode, modrm)->fsw_undef;
}

static void compare_fx(const struct gen_form *f, const struct tc_case *c, const uint8_t *e,
                       const uint8_t *a, struct diffs *d)
{
    if (get16(e) != get16(a))
        note_k(d, D_FCW, "  fcw:   expected %04x actual %04x\n", get16(e), get16(a));
    uint16_t fsw_mask = 0xffff;
    if (f->family == TC_X87)
        fsw_mask = (uint16_t)~x87_fsw_undef(f);
    if (c->flags & TC_F_APPROX)
        fsw_mask &= (uint16_t)~0x0200;   /* C1: rounded up */
    if ((get16(e + 2) ^ get16(a + 2)) & fsw_mask)
        note_k(d, D_FSW, "  fsw:   expected %04x actual %04x (compared bits %04x)\n", get16(e + 2),
             get16(a + 2), fsw_mask);
    if (e[4] != a[4])
        note_k(d, D_FTW, "  ftw:   expected %02x actual %02x\n", e[4], a[4]);
    if (get32(e + 24) != get32(a + 24))
        note_k(d, D_MXCSR, "  mxcsr: expected %08x actual %08x\n", get32(e + 24), get32(a + 24));
    unsigned top = get16(e + 2) >> 11 & 7;
    for (unsigned i = 0; i < 8; i++) {
        unsigned phys = (top + i) & 7;
        if (!(e[4] & a[4] & (1u << phys)))
            continue;
        const uint8_t *re = e + 32 + 16 * i, *ra = a + 32 + 16 * i;
        if (!memcmp(re, ra, 10))
            continue;
        if ((c->flags & TC_F_APPROX) && f80_close(re, ra))
            continue;
        uint64_t me, ma;
        memcpy(&me, re, 8);
        memcpy(&ma, ra, 8);
        note_k(d, D_ST, "  st%u:   expected %04x:%016" PRIx64 " actual %04x:%016" PRIx64 "\n", i,
             get16(re + 8), me, get16(ra + 8), ma);
    }
    for (unsigned i = 0; i < 8; i++) {
        const uint8_t *xe = e + 160 + 16 * i, *xa = a + 160 + 16 * i;
        if (memcmp(xe, xa, 16))
            note_k(d, D_XMM, "  xmm%u:  expected %08x%08x%08x%08x actual %08x%08x%08x%08x\n", i,
                 get32(xe + 12), get32(xe + 8), get32(xe + 4), get32(xe), get32(xa + 12),
                 get32(xa + 8), get32(xa + 4), get32(xa));
    }
}

static void compare(const struct gen_form *f, const struct tc_case *c, const struct tc_state *act,
                    const uint8_t *fx_act, struct diffs *d)
{
    const struct tc_state *exp = &c->out;
    if (exp->fault != act->fault) {
        char a[32], b[32];
        fault_str(exp->fault, a, sizeof(a));
        fault_str(act->fault, b, sizeof(b));
        note_k(d, D_FAULT, "  fault: expected %s actual %s\n", a, b);
        return;   /* the rest is meaningless when one side faulted */
    }
    if (exp->fault) {
        unsigned v = exp->fault - 1;
        bool has_err = v == 8 || (v >= 10 && v <= 13) || v == 17;
        if (has_err && exp->err != act->err)
            note_k(d, D_ERR, "  error code: expected %04x actual %04x\n", exp->err, act->err);
    }
    uint32_t undef = 0;
    bool result_undef = false;
    if (c->family == TC_INT) {
        undef = opcode_undef_flags_sized(c->map, c->opcode, c->reg, c->count, c->opsize);
        /* BSF/BSR: the source is zero exactly when ZF is set (defined). */
        result_undef = opcode_result_undefined(c->map, c->opcode, c->reg, c->count, c->opsize,
                                               (c->out.eflags & FLAG_ZF) != 0);
        if ((c->flags & TC_F_F3) && opcode_lookup_f3(c->map, c->opcode)) {
            undef = opcode_lookup_f3(c->map, c->opcode)->flags_undef;
            result_undef = false;
        }
    }
    undef |= f->flags_undef;   /* VEX forms: from the opcode table */
    if (exp->eip != act->eip)
        note_k(d, D_EIP, "  eip:   expected %08x actual %08x\n", exp->eip, act->eip);
    uint32_t fmask = (FLAGS_ARITH | FLAG_DF) & ~undef;
    if ((exp->eflags ^ act->eflags) & fmask)
        note_k(d, D_EFLAGS, "  eflags: expected %08x actual %08x (compared bits %03x)\n", exp->eflags,
             act->eflags, fmask);
    for (int i = 0; i < 8; i++) {
        if (result_undef)
            continue;
        if (exp->regs[i] != act->regs[i])
            note_k(d, D_REGS, "  %s:   expected %08x actual %08x\n", regname[i], exp->regs[i], act->regs[i]);
    }
    unsigned lo = 0, hi = 0;
    bool ign = gen_mem_ignore(f, c, &lo, &hi);
    if (!result_undef) {
        for (unsigned i = 0; i < TC_MEM_SIZE; i++) {
            if (ign && i >= lo && i < hi)
                continue;
            if (exp->mem[i] != act->mem[i]) {
                unsigned j = i;
                while (j + 1 < TC_MEM_SIZE && j + 1 < i + 16 && exp->mem[j + 1] != act->mem[j + 1])
                    j++;
                note_k(d, D_MEM, "  mem[%02x..%02x]: expected", i, j);
                for (unsigned k = i; k <= j; k++)
                    note(d, " %02x", exp->mem[k]);
                note(d, " actual");
                for (unsigned k = i; k <= j; k++)
                    note(d, " %02x", act->mem[k]);
                note(d, "\n");
                i = j;
            }
        }
    }
    if (c->flags & TC_F_FPU)
        compare_fx(f, c, c->fx_out, fx_act, d);
}

static void print_case(struct harness *h, const struct gen_form *f, const struct tc_case *c,
                       const struct diffs *d)
{
    char dis[128] = "";
    if (cpu_disasm(&h->cpu, TC_CODE_BASE, dis, sizeof(dis)) <= 0)
        snprintf(dis, sizeof(dis), "?");
    printf("DIFF %s  (replay: --seed %u --case %u)\n  bytes:", f->name, c->seed, c->index);
    for (unsigned i = 0; i < c->len; i++)
        printf(" %02x", c->code[i]);
    printf("   pcvm disasm: %s\n  input:", dis);
    for (int i = 0; i < 8; i++)
        printf(" %s=%08x", regname[i], c->in.regs[i]);
    printf(" eflags=%08x", c->in.eflags);
    if (c->memoff)
        printf("\n  mem operand @%02x:", c->memoff);
    for (unsigned i = 0; c->memoff && i < 16 && c->memoff + i < TC_MEM_SIZE; i++)
        printf(" %02x", c->in.mem[c->memoff + i]);
    if (c->flags & TC_F_FPU) {
        printf("\n  fx in: fcw=%04x fsw=%04x ftw=%02x mxcsr=%08x", get16(c->fx_in), get16(c->fx_in + 2),
               c->fx_in[4], get32(c->fx_in + 24));
        for (int i = 0; i < 8; i++) {
            uint64_t m;
            memcpy(&m, c->fx_in + 32 + 16 * i, 8);
            printf("%s st%d=%04x:%016" PRIx64, i % 2 ? "" : "\n        ", i, get16(c->fx_in + 40 + 16 * i), m);
        }
        for (int i = 0; i < 8; i++) {
            const uint8_t *x = c->fx_in + 160 + 16 * i;
            printf("%s xmm%d=%08x%08x%08x%08x", i % 2 ? "" : "\n        ", i, get32(x + 12),
                   get32(x + 8), get32(x + 4), get32(x));
        }
    }
    printf("\n%s", d->text);
}

/* ---- Random instruction streams, JIT against interpreter (--jit-fuzz N) ---- */

static uint32_t fuzz_rand(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

/* A destination register: never ESP, nor EBX (the data pointer). */
static unsigned fuzz_dst(uint32_t *st)
{
    static const uint8_t r[6] = { R_EAX, R_ECX, R_EDX, R_EBP, R_ESI, R_EDI };
    return r[fuzz_rand(st) % 6];
}

/* Append one random instruction of the forms the JIT inlines (and some it does not) to
 * code; memory operands are [ebx + disp8] inside the data buffer. Returns its length. */
static unsigned fuzz_insn(uint32_t *st, uint8_t *p, uint32_t at, bool allow_jcc)
{
    unsigned d = fuzz_dst(st), s = fuzz_rand(st) & 7, n = 0;
    uint8_t disp = (uint8_t)(fuzz_rand(st) % 124);   /* disp8 is signed: stay below 128 */
    static const uint8_t alu_ops[8] = { 0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39 };
    static const uint8_t r8[6] = { 0, 1, 2, 4, 5, 6 };   /* byte registers but BL/BH */
    switch (fuzz_rand(st) % 44) {
    case 0: p[n++] = 0x89; p[n++] = (uint8_t)(0xc0 | s << 3 | d); break;            /* mov r32,r32 */
    case 1: p[n++] = 0x88; p[n++] = (uint8_t)(0xc0 | s << 3 | (d & 3)); break;     /* mov r8,r8 */
    case 2: p[n++] = 0x66; p[n++] = 0x89; p[n++] = (uint8_t)(0xc0 | s << 3 | d); break;
    case 3: case 4: case 5:
        p[n++] = (uint8_t)(alu_ops[fuzz_rand(st) & 7] - (fuzz_rand(st) % 3 == 0 ? 1 : 0));
        p[n++] = (uint8_t)(0xc0 | s << 3 | ((p[0] & 1) ? d : (d & 3)));
        break;
    case 6: p[n++] = 0x66; p[n++] = alu_ops[fuzz_rand(st) & 7]; p[n++] = (uint8_t)(0xc0 | s << 3 | d); break;
    case 7: case 8: {                                                                 /* alu r32, imm */
        bool b = fuzz_rand(st) & 1;
        p[n++] = b ? 0x83 : 0x81;
        p[n++] = (uint8_t)(0xc0 | (fuzz_rand(st) & 7) << 3 | d);
        uint32_t imm = fuzz_rand(st);
        if (fuzz_rand(st) & 1)
            imm &= 0xff;
        memcpy(p + n, &imm, b ? 1 : 4);
        n += b ? 1 : 4;
        break;
    }
    case 9: p[n++] = 0x80; p[n++] = (uint8_t)(0xc0 | (fuzz_rand(st) & 7) << 3 | (d & 3));
            p[n++] = (uint8_t)fuzz_rand(st); break;
    case 10: p[n++] = 0x85; p[n++] = (uint8_t)(0xc0 | s << 3 | (fuzz_rand(st) & 7)); break;   /* test */
    case 11: p[n++] = 0xa9; { uint32_t imm = fuzz_rand(st) >> (fuzz_rand(st) & 31); memcpy(p + n, &imm, 4); }
             n += 4; break;
    case 12: p[n++] = 0x8d; p[n++] = (uint8_t)(0x44 | d << 3);                       /* lea d,[b+i*s+8] */
             p[n++] = (uint8_t)((fuzz_rand(st) & 0xc0) | (fuzz_rand(st) & 7) << 3 | (fuzz_rand(st) & 7));
             if ((p[2] & 0x38) == 0x20) p[2] ^= 0x08;
             p[n++] = (uint8_t)fuzz_rand(st); break;
    case 13: p[n++] = (uint8_t)(0xb8 | d); { uint32_t imm = fuzz_rand(st); memcpy(p + n, &imm, 4); } n += 4; break;
    case 14: p[n++] = (uint8_t)((fuzz_rand(st) & 1 ? 0x40 : 0x48) | d); break;        /* inc/dec */
    case 15: p[n++] = 0x8b; p[n++] = (uint8_t)(0x43 | d << 3); p[n++] = disp; break; /* mov d,[ebx+x] */
    case 16: p[n++] = 0x89; p[n++] = (uint8_t)(0x43 | s << 3); p[n++] = disp; break; /* mov [ebx+x],s */
    case 17: p[n++] = (uint8_t)(alu_ops[fuzz_rand(st) & 7] + 2); p[n++] = (uint8_t)(0x43 | d << 3);
             p[n++] = disp; break;                                                    /* alu d,[ebx+x] */
    case 18: p[n++] = 0xc1; p[n++] = (uint8_t)(0xc0 | (4 + (fuzz_rand(st) % 4)) << 3 | d);
             p[n++] = (uint8_t)(fuzz_rand(st) & 31); break;                           /* shifts */
    case 19: p[n++] = 0x0f; p[n++] = (uint8_t)(0x40 | (fuzz_rand(st) & 15));
             p[n++] = (uint8_t)(0xc0 | d << 3 | s); break;                            /* cmovcc */
    case 20: p[n++] = 0xc6; p[n++] = 0x43; p[n++] = disp; p[n++] = (uint8_t)fuzz_rand(st); break;
    case 21: p[n++] = 0x0f; p[n++] = (uint8_t)(0xb6 | (fuzz_rand(st) & 9));          /* movzx/movsx d,[m] */
             p[n++] = (uint8_t)(0x43 | d << 3); p[n++] = disp; break;
    case 22: p[n++] = 0x0f; p[n++] = (uint8_t)(0xb6 | (fuzz_rand(st) & 1));          /* movzx d, r8/r16 */
             p[n++] = (uint8_t)(0xc0 | d << 3 | s); break;
    case 23: p[n++] = (uint8_t)(alu_ops[fuzz_rand(st) & 7] - (fuzz_rand(st) & 1));   /* alu [m], s */
             p[n++] = (uint8_t)(0x43 | s << 3); p[n++] = disp; break;
    case 24: p[n++] = fuzz_rand(st) & 1 ? 0x83 : 0x80;                               /* alu [m], imm8 */
             p[n++] = (uint8_t)(0x43 | (fuzz_rand(st) & 7) << 3); p[n++] = disp;
             p[n++] = (uint8_t)fuzz_rand(st); break;
    case 25: p[n++] = 0xd3; p[n++] = (uint8_t)(0xc0 | (4 + (fuzz_rand(st) % 4)) << 3 | d); break;   /* shift cl */
    case 26: if (fuzz_rand(st) & 1) {                                                /* imul d, s (, imm8) */
                 p[n++] = 0x0f; p[n++] = 0xaf; p[n++] = (uint8_t)(0xc0 | d << 3 | s);
             } else {
                 p[n++] = 0x6b; p[n++] = (uint8_t)(0xc0 | d << 3 | s); p[n++] = (uint8_t)fuzz_rand(st);
             }
             break;
    case 27: p[n++] = (uint8_t)(0x50 | s); break;                                    /* push s */
    case 28: p[n++] = (uint8_t)(0x58 | d); break;                                    /* pop d */
    case 29: { static const uint8_t callret[8] = { 0xe8, 2, 0, 0, 0, 0xeb, 1, 0xc3 }; /* call L; jmp +1; L: ret */
             memcpy(p, callret, 8); n = 8; break; }
    case 30: if (fuzz_rand(st) & 1) {                                                /* across a page end */
                 p[n++] = 0x8b; p[n++] = (uint8_t)(0x83 | d << 3);
             } else {
                 p[n++] = alu_ops[fuzz_rand(st) & 7]; p[n++] = (uint8_t)(0x83 | s << 3);
             }
             { uint32_t off = 0xffd + (fuzz_rand(st) & 3); memcpy(p + n, &off, 4); n += 4; }
             break;
    case 31: p[n++] = 0x64; p[n++] = 0x8b; p[n++] = (uint8_t)(0x43 | d << 3); p[n++] = disp; break;   /* #GP: null FS */
    case 32: { /* SMC: a byte store into the immediate of the next instruction (same trace) */
             uint32_t imm_at = at + 7 + 1 + (fuzz_rand(st) & 3), imm = fuzz_rand(st);
             p[n++] = 0xc6; p[n++] = 0x05; memcpy(p + n, &imm_at, 4); n += 4;
             p[n++] = (uint8_t)fuzz_rand(st);
             p[n++] = (uint8_t)(0xb8 | d); memcpy(p + n, &imm, 4); n += 4;    /* mov d, imm32 */
             break;
    }
    case 33: { p[n++] = 0x0f;                                                      /* setcc (not BL/BH) */ p[n++] = (uint8_t)(0x90 | (fuzz_rand(st) & 15));
             p[n++] = (uint8_t)(0xc0 | r8[fuzz_rand(st) % 6]); break; }
    case 34: p[n++] = 0xc1; p[n++] = (uint8_t)(0xc0 | (fuzz_rand(st) & 1) << 3 | d);   /* rol/ror imm */
             p[n++] = (uint8_t)(fuzz_rand(st) & 31); break;
    case 35: p[n++] = fuzz_rand(st) & 1 ? 0xd3 : 0xd1;                                 /* rol/ror cl, 1 */
             p[n++] = (uint8_t)(0xc0 | (fuzz_rand(st) & 1) << 3 | d); break;
    case 36: { uint32_t a = TC_MEM_BASE + disp; unsigned v = fuzz_rand(st) & 3;   /* mov al/eax <-> [moffs] */
             if (v == 3) p[n++] = 0x66;
             p[n++] = (uint8_t)(0xa0 + (fuzz_rand(st) & 2) + (v != 0));
             memcpy(p + n, &a, 4); n += 4; break; }
    case 37: p[n++] = (uint8_t)(0x84 | (fuzz_rand(st) & 1));                         /* test [m], r */
             p[n++] = (uint8_t)(0x43 | s << 3); p[n++] = disp; break;
    case 38: { bool w = fuzz_rand(st) & 1; uint32_t imm = fuzz_rand(st);              /* test [m], imm */
             p[n++] = w ? 0xf7 : 0xf6; p[n++] = 0x43; p[n++] = disp;
             memcpy(p + n, &imm, w ? 4 : 1); n += w ? 4 : 1; break; }
    /* Byte registers AH..DH as destinations (the JIT keeps EAX..EDX in host registers). */
    case 39: p[n++] = (uint8_t)(0xb0 | r8[fuzz_rand(st) % 6]); p[n++] = (uint8_t)fuzz_rand(st); break;
    case 40: p[n++] = (uint8_t)(fuzz_rand(st) & 1 ? 0x88 : alu_ops[fuzz_rand(st) & 7] - 1);   /* op r8, r8 */
             p[n++] = (uint8_t)(0xc0 | s << 3 | r8[fuzz_rand(st) % 6]); break;
    case 41: p[n++] = 0x80; p[n++] = (uint8_t)(0xc0 | (fuzz_rand(st) & 7) << 3 | r8[fuzz_rand(st) % 6]);
             p[n++] = (uint8_t)fuzz_rand(st); break;                                  /* alu r8, imm8 */
    case 42: { static const uint8_t other[5] = { 0x99, 0x98, 0x9f, 0x9e, 0x92 };     /* handler calls: */
             p[n++] = other[fuzz_rand(st) % 5]; break; }                              /* cdq cwde lahf sahf xchg edx,eax */
    default:
        if (!allow_jcc)
            return fuzz_insn(st, p, at, false);
        p[n++] = (uint8_t)(0x70 | (fuzz_rand(st) & 15));                             /* jcc +skip */
        p[n++] = 0;    /* patched by the caller */
        break;
    }
    return n;
}

/* Run the code at TC_CODE_BASE for budget instructions; the state that results. */
static void fuzz_run(struct harness *h, const struct tc_case *c, unsigned budget, struct tc_state *out,
                     uint64_t *count)
{
    struct cpu *cpu = &h->cpu;
    memset(h->mem.ram + TC_MEM_BASE, 0, 8192);   /* stores may land past the compared bytes (and page) */
    memcpy(h->mem.ram + TC_MEM_BASE, c->in.mem, TC_MEM_SIZE);
    memset(h->mem.ram + RING0_STACK - 4096, 0, 4096);   /* what a run left on the ring-0 stack */
    cpu_code_written(cpu, TC_CODE_BASE, 4096);
    setup_cpu(h, c);
    h->exc_vector = -1;
    uint64_t start = cpu->insn_count;
    for (int iter = 0; iter < 64 && cpu->insn_count - start < budget; iter++) {
        enum cpu_exit_reason why = cpu_run(cpu, budget - (cpu->insn_count - start));
        if (why != CPU_EXIT_BUDGET || h->exc_vector >= 0)
            break;
    }
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 8; i++)
        out->regs[i] = cpu->regs[i];
    out->eflags = cpu_get_eflags(cpu);
    out->eip = cpu->eip;
    out->fault = (uint32_t)(h->exc_vector + 1);
    memcpy(out->mem, h->mem.ram + TC_MEM_BASE, TC_MEM_SIZE);
    *count = cpu->insn_count - start;
}

/* A trace of one inline TEST (the next instruction crosses into the next page) compiled
 * just before a trace that starts with that JNE: the JNE must test the guest's flags, not
 * what the previous compile left behind.  Returns the number of differing runs. */
static int jit_page_split(struct harness *h)
{
    static struct tc_case c;
    static const uint16_t sel[6] = { 0x2b, 0x23, 0x2b, 0x2b, 0, 0 };
    static const uint8_t tail[] = {
        0xf7, 0xc6, 0x01, 0x00, 0x00, 0x00,   /* 4088: test esi, 1 */
        0x0f, 0x85, 0x02, 0x00, 0x00, 0x00,   /* 4094: jne +2 (crosses the page) */
        0x40, 0x41,                           /* 4100: inc eax; inc ecx */
        0xff, 0x4b, 0x7c,                     /* 4102: dec dword [ebx+124] */
        0x0f, 0x85, 0xe9, 0xff, 0xff, 0xff,   /* 4105: jnz 4088 */
        0xeb, 0xfe,                           /* 4111: jmp $ */
    };
    uint8_t *code = h->mem.ram + TC_CODE_BASE;
    int failed = 0;
    memset(code, 0xcc, 8192);
    int32_t rel = 4088 - 5;
    code[0] = 0xe9;
    memcpy(code + 1, &rel, 4);
    memcpy(code + 4088, tail, sizeof(tail));
    for (unsigned v = 0; v < 6; v++) {
        memset(&c, 0, sizeof(c));
        memcpy(c.sel, sel, sizeof(sel));
        c.in.regs[R_EBX] = TC_MEM_BASE;
        c.in.regs[R_ESP] = TC_MEM_BASE + 2048;
        c.in.regs[R_ESI] = 0x10 + (v & 1);
        uint32_t loops = 4;
        memcpy(c.in.mem + 124, &loops, 4);
        struct tc_state a, j;
        uint64_t na, nj;
        h->cpu.exec.jit_threshold = 0;
        fuzz_run(h, &c, 200, &a, &na);
        h->cpu.exec.jit_threshold = 1 + (int)(v >> 1);
        fuzz_run(h, &c, 200, &j, &nj);
        if (memcmp(&a, &j, sizeof(a)) || na != nj) {
            failed++;
            printf("DIFF page-split run %u: interp eax=%08x ecx=%08x eip=%08x, jit eax=%08x ecx=%08x eip=%08x\n",
                   v, a.regs[R_EAX], a.regs[R_ECX], a.eip, j.regs[R_EAX], j.regs[R_ECX], j.eip);
        }
    }
    return failed;
}

/* n random blocks of up to 40 instructions (forward Jcc inside, then a loop back to the start
 * a few times, then "jmp $"), each run by the interpreter and by the JIT, compared. */
static int jit_fuzz(struct harness *h, uint32_t seed, unsigned n)
{
    static const uint16_t sel[6] = { 0x2b, 0x23, 0x2b, 0x2b, 0, 0 };
    uint32_t st = seed * 2654435761u + 1;
    unsigned failed = 0, unsteady = 0;
    static struct tc_case c;
    for (unsigned b = 0; b < n; b++) {
        uint8_t *code = h->mem.ram + TC_CODE_BASE;
        memset(code, 0xcc, 1024);
        unsigned len = 0, ninsn = 4 + fuzz_rand(&st) % 36;
        unsigned starts[48];
        /* The loop counter is a buffer word: dec [ebx+124]; jnz back to the start. */
        for (unsigned k = 0; k < ninsn; k++) {
            starts[k] = len;
            len += fuzz_insn(&st, code + len, TC_CODE_BASE + len, k + 1 < ninsn);
        }
        /* Forward Jcc: to the start of a later instruction (or the loop tail). */
        for (unsigned k = 0; k < ninsn; k++) {
            uint8_t *p = code + starts[k];
            if ((p[0] & 0xf0) == 0x70 && p[1] == 0 && starts[k] + 2 == (k + 1 < ninsn ? starts[k + 1] : len)) {
                unsigned to = k + 1 + fuzz_rand(&st) % (ninsn - k);
                unsigned target = to < ninsn ? starts[to] : len;
                if (target - (starts[k] + 2) <= 127)   /* rel8 is signed: stay forward */
                    p[1] = (uint8_t)(target - (starts[k] + 2));
            }
        }
        code[len++] = 0xff; code[len++] = 0x4b; code[len++] = 124;       /* dec dword [ebx+124] */
        int32_t back = -(int32_t)(len + 2);
        if (back >= -128) {
            code[len++] = 0x75; code[len++] = (uint8_t)back;             /* jnz start */
        } else {
            back = -(int32_t)(len + 6);
            code[len++] = 0x0f; code[len++] = 0x85; memcpy(code + len, &back, 4); len += 4;
        }
        code[len++] = 0xeb; code[len++] = 0xfe;                           /* jmp $ */
        memset(&c, 0, sizeof(c));
        memcpy(c.sel, sel, sizeof(sel));
        for (int i = 0; i < 8; i++)
            c.in.regs[i] = fuzz_rand(&st) >> (fuzz_rand(&st) % 4 == 0 ? 24 : 0);
        c.in.regs[R_EBX] = TC_MEM_BASE;
        c.in.regs[R_ESP] = TC_MEM_BASE + 2048;
        c.in.eflags = fuzz_rand(&st) & 0x8d5;
        for (unsigned i = 0; i < TC_MEM_SIZE; i++)
            c.in.mem[i] = (uint8_t)fuzz_rand(&st);
        if (fuzz_rand(&st) % 8 == 0)
            c.in.eflags |= 1u << 18;   /* AC: misaligned accesses take #AC (CPL 3, CR0.AM) */
        uint32_t loops = 1 + fuzz_rand(&st) % 5;
        memcpy(c.in.mem + 124, &loops, 4);
        unsigned budget = 50 + fuzz_rand(&st) % 400;
        static uint8_t saved[1024];   /* the code as generated: SMC changes it during a run */
        memcpy(saved, code, sizeof(saved));
        struct tc_state a, j;
        uint64_t na, nj;
        h->cpu.exec.jit_threshold = 0;
        fuzz_run(h, &c, budget, &a, &na);
        memcpy(code, saved, sizeof(saved));
        h->cpu.exec.jit_threshold = 1 + fuzz_rand(&st) % 3;
        fuzz_run(h, &c, budget, &j, &nj);
        if (!memcmp(&a, &j, sizeof(a)) && na == nj)
            continue;
        /* A block the interpreter itself does not run the same way twice (state the harness
         * does not reset, reached through random SMC and faults) is no verdict on the JIT. */
        struct tc_state a2;
        uint64_t na2;
        memcpy(code, saved, sizeof(saved));
        h->cpu.exec.jit_threshold = 0;
        fuzz_run(h, &c, budget, &a2, &na2);
        if (memcmp(&a, &a2, sizeof(a)) || na != na2) {
            unsteady++;
            continue;
        }
        failed++;
        if (failed <= h->print_max) {
            printf("DIFF block %u (seed %u), budget %u, counts %llu/%llu, code:", b, seed, budget,
                   (unsigned long long)na, (unsigned long long)nj);
            for (unsigned i = 0; i < len; i++)
                printf(" %02x", code[i]);
            printf("\n  interp: eip=%08x efl=%08x fault=%u", a.eip, a.eflags, a.fault);
            for (int i = 0; i < 8; i++)
                printf(" %08x", a.regs[i]);
            printf("\n  jit:    eip=%08x efl=%08x fault=%u", j.eip, j.eflags, j.fault);
            for (int i = 0; i < 8; i++)
                printf(" %08x", j.regs[i]);
            printf("\n  memory %s\n", memcmp(a.mem, j.mem, TC_MEM_SIZE) ? "differs" : "same");
        }
    }
    int split = jit_page_split(h);
    printf("jit-fuzz: page-split Jcc after a one-instruction trace: %s\n", split ? "FAILED" : "ok");
    failed += (unsigned)split;
    printf("jit-fuzz: %u blocks, %u passed, %u failed, %u skipped (the interpreter differs from itself)\n",
           n, n - failed - unsteady, failed, unsteady);
    return failed ? 1 : 0;
}

/* ---- REP MOVS / REP STOS against a C model (--rep-check N) ----
 * The string instructions copy a page at a time on host memory when they can; this checks
 * them, element by element, against a plain model: byte, word and dword forms, DF set and
 * clear, overlapping source and destination (a pattern repeated when the destination is just
 * above), page crossings, misaligned elements with EFLAGS.AC (#AC at the first one), and an
 * ES limit inside the run (#GP with ECX/EDI at exactly the faulting element). */
#define REP_AREA 0x3000u   /* bytes at TC_MEM_BASE the runs touch (three pages) */

static int rep_check(struct harness *h, uint32_t seed, unsigned n)
{
    static const uint16_t sel[6] = { 0x2b, 0x23, 0x2b, 0x2b, 0, 0 };
    static uint8_t model[REP_AREA];
    static struct tc_case c;
    struct cpu *cpu = &h->cpu;
    uint32_t st = seed * 2654435761u + 7;
    unsigned failed = 0, faults = 0;
    h->cpu.exec.jit_threshold = 0;
    for (unsigned b = 0; b < n; b++) {
        bool movs = fuzz_rand(&st) & 1, df = fuzz_rand(&st) % 4 == 0, ac = fuzz_rand(&st) % 8 == 0;
        unsigned sz = fuzz_rand(&st) % 3, size = 1u << sz;
        uint32_t count = fuzz_rand(&st) % (fuzz_rand(&st) % 4 == 0 ? 8 : 2048 / size);
        uint32_t span = count * size;
        /* Start offsets that keep the whole run inside the area, in either direction. */
        uint32_t lo = df ? span : 0, room = REP_AREA - span - size;
        uint32_t di = lo + fuzz_rand(&st) % (room - lo + 1), si = lo + fuzz_rand(&st) % (room - lo + 1);
        if (movs && fuzz_rand(&st) % 3 == 0) {   /* overlapping, the destination near the source */
            int32_t delta = (int32_t)(fuzz_rand(&st) % 17) - 8;
            if ((int64_t)si + delta >= lo && (int64_t)si + delta <= room)
                di = (uint32_t)((int32_t)si + delta);
        }
        uint32_t es_limit = 0xffffffffu;
        if (fuzz_rand(&st) % 6 == 0)   /* ES ends somewhere in the run */
            es_limit = TC_MEM_BASE + di + (df ? -1u : 1u) * (fuzz_rand(&st) % (span + 1));
        uint8_t *ram = h->mem.ram + TC_MEM_BASE;
        for (unsigned k = 0; k < REP_AREA; k++)
            ram[k] = (uint8_t)fuzz_rand(&st);
        memcpy(model, ram, REP_AREA);
        uint8_t *code = h->mem.ram + TC_CODE_BASE;
        unsigned len = 0;
        if (df)
            code[len++] = 0xfd;                                  /* std */
        if (sz == 1)
            code[len++] = 0x66;
        code[len++] = 0xf3;                                      /* rep */
        code[len++] = (uint8_t)((movs ? 0xa4 : 0xaa) + (sz != 0));
        code[len++] = 0xeb; code[len++] = 0xfe;                  /* jmp $ */
        cpu_code_written(cpu, TC_CODE_BASE, 4096);
        memset(&c, 0, sizeof(c));
        memcpy(c.sel, sel, sizeof(sel));
        c.in.regs[R_EAX] = fuzz_rand(&st);
        c.in.regs[R_ECX] = count;
        c.in.regs[R_ESI] = TC_MEM_BASE + si;
        c.in.regs[R_EDI] = TC_MEM_BASE + di;
        c.in.regs[R_ESP] = TC_MEM_BASE + REP_AREA + 2048;
        c.in.eflags = ac ? 1u << 18 : 0;
        setup_cpu(h, &c);
        cpu->seg[SEG_ES].limit = es_limit;
        cpu_update_mode(cpu);
        h->exc_vector = -1;
        for (int iter = 0; iter < 64 && cpu->eip != TC_CODE_BASE + len - 2 && h->exc_vector < 0; iter++)
            cpu_run(cpu, 1);
        /* The model. */
        uint32_t m_ecx = count, m_esi = TC_MEM_BASE + si, m_edi = TC_MEM_BASE + di;
        int m_fault = -1;
        int32_t step = df ? -(int32_t)size : (int32_t)size;
        while (m_ecx) {
            /* The segment check comes before the alignment check; a MOVS reads first. */
            if (movs && ac && (m_esi & (size - 1))) {
                m_fault = EXC_AC;
                break;
            }
            if ((uint64_t)m_edi + size - 1 > es_limit) {
                m_fault = EXC_GP;
                break;
            }
            if (ac && (m_edi & (size - 1))) {
                m_fault = EXC_AC;
                break;
            }
            uint8_t elem[4];
            for (unsigned k = 0; k < size; k++)
                elem[k] = movs ? model[m_esi - TC_MEM_BASE + k] : (uint8_t)(c.in.regs[R_EAX] >> (8 * k));
            memcpy(model + m_edi - TC_MEM_BASE, elem, size);
            if (movs)
                m_esi += (uint32_t)step;
            m_edi += (uint32_t)step;
            m_ecx--;
        }
        faults += m_fault >= 0;
        bool ok = cpu->regs[R_ECX] == m_ecx && cpu->regs[R_ESI] == m_esi && cpu->regs[R_EDI] == m_edi &&
                  h->exc_vector == m_fault && !memcmp(ram, model, REP_AREA);
        if (!ok && ++failed <= h->print_max)
            printf("DIFF rep case %u: %s size %u df %d ac %d count %u si %x di %x es_limit %x: "
                   "ecx %x/%x esi %x/%x edi %x/%x fault %d/%d memory %s\n", b, movs ? "movs" : "stos", size,
                   df, ac, count, si, di, es_limit, cpu->regs[R_ECX], m_ecx, cpu->regs[R_ESI], m_esi,
                   cpu->regs[R_EDI], m_edi, h->exc_vector, m_fault, memcmp(ram, model, REP_AREA) ? "differs" : "same");
    }
    printf("rep-check: %u cases (%u with a fault), %u passed, %u failed\n", n, faults, n - failed, failed);
    return failed ? 1 : 0;
}

/* Where the cases come from: the native runner's stream, or generated here (--jit-vs-interp). */
struct case_source {
    FILE *in;
    bool generate;
    uint32_t seed, per;
    const char *only[16];
    int nonly;
    int form;
    uint32_t k;
};

/* The next case (with the interpreter's result as the expected one when generating). */
static bool next_case(struct harness *h, struct case_source *src, struct tc_case *c)
{
    if (!src->generate) {
        if (fread(c, TC_REC_SHORT, 1, src->in) != 1)
            return false;
        if ((c->flags & TC_F_FPU) && fread((uint8_t *)c + TC_REC_SHORT, TC_REC_FULL - TC_REC_SHORT, 1, src->in) != 1)
            return false;
        return true;
    }
    /* The selectors of a 32-bit Linux process (the GDT is built to match whatever they are). */
    static const uint16_t sel[6] = { 0x2b, 0x23, 0x2b, 0x2b, 0, 0 };
    for (;;) {
        if (src->form >= h->nforms)
            return false;
        const struct gen_form *f = &h->forms[src->form];
        bool match = src->nonly == 0;
        for (int j = 0; j < src->nonly; j++)
            match = match || gen_form_matches(f, src->only[j]);
        if (!match || src->k >= src->per) {
            src->form++;
            src->k = 0;
            continue;
        }
        gen_case(f, (uint32_t)src->form, src->seed, src->k++, sel, c);
        h->jit = false;
        h->cpu.exec.jit_threshold = 0;
        if (!run_pcvm(h, c, &c->out, c->fx_out))
            memset(&c->out, 0, sizeof(c->out));   /* run again below: skipped there too */
        h->jit = true;
        h->cpu.exec.jit_threshold = 1;
        return true;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: pcvm_run [--model NAME] [--print N] [--quiet] [--jit] [FILE]\n"
                    "       pcvm_run --jit-vs-interp [--seed N] [--per N] [--only NAME]...\n"
                    "       pcvm_run --jit-fuzz BLOCKS [--seed N] [--print N]\n"
                    "       pcvm_run --rep-check CASES [--seed N] [--print N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *model = "max", *file = NULL;
    static struct harness h;
    static struct case_source src = { .seed = 1, .per = 100 };
    unsigned fuzz_blocks = 0, rep_cases = 0;
    h.print_max = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--print") && i + 1 < argc)
            h.print_max = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--quiet"))
            h.quiet = true;
        else if (!strcmp(argv[i], "--jit"))
            h.jit = true;
        else if (!strcmp(argv[i], "--jit-fuzz") && i + 1 < argc)
            fuzz_blocks = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--rep-check") && i + 1 < argc)
            rep_cases = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--jit-vs-interp"))
            src.generate = h.jit = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            src.seed = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--per") && i + 1 < argc)
            src.per = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc && src.nonly < 16)
            src.only[src.nonly++] = argv[++i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else
            usage();
    }
    if (rep_cases) {
        static struct gen_form none[1];
        h.forms = none;
        harness_init(&h, model);
        return rep_check(&h, src.seed, rep_cases);
    }
    if (fuzz_blocks) {
        static struct gen_form none[1];
        h.forms = none;
        harness_init(&h, model);
        return jit_fuzz(&h, src.seed, fuzz_blocks);
    }
    FILE *in = src.generate ? NULL : file ? fopen(file, "rb") : stdin;
    if (!in && !src.generate) {
        perror(file);
        return 2;
    }
    static struct gen_form forms[GEN_MAX_FORMS];
    h.forms = forms;
    h.nforms = gen_forms(forms, GEN_MAX_FORMS);
    h.form_cases = calloc((size_t)h.nforms, sizeof(uint32_t));
    h.form_fail = calloc((size_t)h.nforms, sizeof(uint32_t));
    h.form_printed = calloc((size_t)h.nforms, sizeof(uint32_t));
    h.form_kinds = calloc((size_t)h.nforms, sizeof(uint32_t));
    harness_init(&h, model);

    uint32_t magic = src.generate ? TC_MAGIC : 0;
    src.in = in;
    if ((!src.generate && fread(&magic, 4, 1, in) != 1) || magic != TC_MAGIC) {
        fprintf(stderr, "pcvm_run: no case stream (did the native runner start?)\n");
        return 2;
    }
    static struct tc_case c;
    static struct tc_state act;
    static uint8_t fx_act[512];
    while (next_case(&h, &src, &c)) {
        if (c.form >= (uint32_t)h.nforms) {
            fprintf(stderr, "pcvm_run: form %u out of range: runners built from different sources\n", c.form);
            return 2;
        }
        const struct gen_form *f = &forms[c.form];
        h.cases++;
        if (!run_pcvm(&h, &c, &act, fx_act)) {
            h.skipped++;
            continue;
        }
        struct diffs d;
        d.len = 0;
        d.count = 0;
        d.text[0] = 0;
        d.kinds = 0;
        compare(f, &c, &act, fx_act, &d);
        h.form_cases[c.form]++;
        if (!d.len) {
            h.passed++;
            continue;
        }
        h.failed++;
        h.form_fail[c.form]++;
        h.form_kinds[c.form] |= d.kinds;
        if (!h.quiet && h.form_printed[c.form] < h.print_max) {
            h.form_printed[c.form]++;
            print_case(&h, f, &c, &d);
        }
    }
    /* Summary per differing form, then coverage. */
    int forms_run = 0, forms_bad = 0;
    for (int i = 0; i < h.nforms; i++) {
        if (!h.form_cases[i])
            continue;
        forms_run++;
        if (h.form_fail[i]) {
            forms_bad++;
            if (!h.quiet) {
                printf("FORM %-34s %5u/%-5u cases differ:", forms[i].name, h.form_fail[i], h.form_cases[i]);
                for (int k = 0; k < D_KINDS; k++)
                    if (h.form_kinds[i] & (1u << k))
                        printf(" %s", dkind_name[k]);
                printf("\n");
            }
        }
    }
    int fam_forms[3] = { 0, 0, 0 };
    uint64_t fam_cases[3] = { 0, 0, 0 };
    for (int i = 0; i < h.nforms; i++) {
        if (h.form_cases[i]) {
            fam_forms[forms[i].family]++;
            fam_cases[forms[i].family] += h.form_cases[i];
        }
    }
    printf("coverage: %d forms (integer %d, x87 %d, simd %d), %" PRIu64 " cases (integer %" PRIu64
           ", x87 %" PRIu64 ", simd %" PRIu64 "), %" PRIu64 " skipped; %d forms differ\n",
           forms_run, fam_forms[0], fam_forms[1], fam_forms[2], h.cases, fam_cases[0], fam_cases[1],
           fam_cases[2], h.skipped, forms_bad);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", h.passed, h.failed);
    cpu_destroy(&h.cpu);
    return h.failed ? 1 : 0;
}

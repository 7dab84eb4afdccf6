/* CPU conformance harness, 64-bit native side: for hosts whose kernel cannot run 32-bit
 * programs (no IA-32 compatibility mode), the register-only forms run here in 64-bit mode.
 *
 *   native64 [--seed S] [--per N] [--only NAME]... [--case I] [--list]
 *
 * Same cases (gen.c) and record stream as native.c.  A form is run only when its bytes
 * mean the same in 64-bit mode: no memory operand (64-bit mode addresses with 64-bit
 * registers and RIP-relative disp32), no stack (64-bit pushes), no opcode that 64-bit mode
 * redefines or removes (0x40-0x4F are REX, 0x63 MOVSXD, 0x62/C4/C5 EVEX/VEX, BCD, ...),
 * no 16-bit addressing (67 selects 32-bit addressing there), no segment loads. Memory
 * operands encoded as SIB [disp32] (no base, no index: the 0F 38 / 0F 3A forms) address the
 * same absolute location in both modes and run.  32-bit
 * results zero-extend into the 64-bit registers; only the low 32 bits are recorded.
 * EFLAGS, x87 and SSE register forms behave identically.  Prints on stderr how many forms
 * ran and how many were skipped. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "gen.h"

#if !defined(__x86_64__)
#error "native64 is the 64-bit runner"
#endif

/* State shared with the assembly stubs (every register belongs to the case while it runs). */
struct native_io {
    uint64_t regs[8];
    uint64_t rflags;
    uint64_t taken;
};
struct native_io g_in, g_out;
uint64_t g_host_rsp;
uint64_t g_target;
uint8_t g_fx_in[512] __attribute__((aligned(16)));
uint8_t g_fx_out[512] __attribute__((aligned(16)));
uint8_t g_fx_host[512] __attribute__((aligned(16)));
uint64_t g_use_fx;

void tc_enter(void);
void tc_exit_fall(void);
void tc_exit_taken(void);

/* Callee-saved registers are pushed; the host RSP is kept in a global. */
__asm__(
    ".text\n"
    ".globl tc_enter\n"
    "tc_enter:\n"
    "  pushq %rbx\n"
    "  pushq %rbp\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  pushfq\n"
    "  movq %rsp, g_host_rsp(%rip)\n"
    "  cmpq $0, g_use_fx(%rip)\n"
    "  je 1f\n"
    "  fxrstor g_fx_in(%rip)\n"
    "1:\n"
    "  pushq g_in+64(%rip)\n"
    "  popfq\n"
    "  movq g_in+8(%rip), %rcx\n"
    "  movq g_in+16(%rip), %rdx\n"
    "  movq g_in+24(%rip), %rbx\n"
    "  movq g_in+32(%rip), %rsp\n"
    "  movq g_in+40(%rip), %rbp\n"
    "  movq g_in+48(%rip), %rsi\n"
    "  movq g_in+56(%rip), %rdi\n"
    "  movq g_in+0(%rip), %rax\n"
    "  jmp *g_target(%rip)\n"
    ".globl tc_exit_taken\n"
    "tc_exit_taken:\n"
    "  movq $1, g_out+72(%rip)\n"
    "  jmp 2f\n"
    ".globl tc_exit_fall\n"
    "tc_exit_fall:\n"
    "  movq $0, g_out+72(%rip)\n"
    "2:\n"
    "  movq %rax, g_out+0(%rip)\n"
    "  movq %rcx, g_out+8(%rip)\n"
    "  movq %rdx, g_out+16(%rip)\n"
    "  movq %rbx, g_out+24(%rip)\n"
    "  movq %rsp, g_out+32(%rip)\n"
    "  movq %rbp, g_out+40(%rip)\n"
    "  movq %rsi, g_out+48(%rip)\n"
    "  movq %rdi, g_out+56(%rip)\n"
    "  movq g_host_rsp(%rip), %rsp\n"
    "  pushfq\n"
    "  popq g_out+64(%rip)\n"
    "  cmpq $0, g_use_fx(%rip)\n"
    "  je 3f\n"
    "  fxsave g_fx_out(%rip)\n"
    "  fxrstor g_fx_host(%rip)\n"
    "3:\n"
    "  popfq\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbp\n"
    "  popq %rbx\n"
    "  ret\n");

static sigjmp_buf g_jmp;
static volatile int g_fault_trapno, g_fault_err;
static volatile uint64_t g_fault_rip;

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    mcontext_t *mc = &uc->uc_mcontext;
    g_fault_trapno = (int)mc->gregs[REG_TRAPNO];
    g_fault_err = (int)mc->gregs[REG_ERR];
    g_fault_rip = (uint64_t)mc->gregs[REG_RIP];
    static const int gr[8] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI };
    for (int i = 0; i < 8; i++)
        g_out.regs[i] = (uint64_t)mc->gregs[gr[i]];
    g_out.rflags = (uint64_t)mc->gregs[REG_EFL];
    /* In 64-bit mode the signal frame's FP state is the FXSAVE image itself. */
    if (mc->fpregs && g_use_fx)
        memcpy(g_fx_out, mc->fpregs, 512);
    siglongjmp(g_jmp, 1);
}

static struct tc_case *g_case;

static void copy_out(struct tc_case *cp)
{
    for (int i = 0; i < 8; i++)
        cp->out.regs[i] = (uint32_t)g_out.regs[i];
    cp->out.eflags = (uint32_t)g_out.rflags;
}

/* Run g_case on the host (sigsetjmp in a function of its own: no locals to clobber). */
static __attribute__((noinline)) void run_one_inner(void)
{
    struct tc_case *cp = g_case;
    g_target = TC_CODE_BASE;
    if (sigsetjmp(g_jmp, 1) == 0) {
        tc_enter();
        copy_out(cp);
        cp->out.eip = TC_CODE_BASE + cp->len + (g_out.taken ? 5u : 0u);
        cp->out.fault = 0;
    } else {
        /* Back from a signal: the host FPU state is the handler's; restore it. */
        __asm__ volatile("fxrstor g_fx_host(%%rip)\n\tcld" ::: "memory");
        cp = g_case;
        copy_out(cp);
        cp->out.eip = (uint32_t)g_fault_rip;
        cp->out.fault = (uint32_t)g_fault_trapno + 1;
        cp->out.err = (uint32_t)g_fault_err;
    }
}

/* True when the form's bytes do the same thing in 64-bit mode as in 32-bit protected mode
 * (see the header comment); *why gets the reason when not. */
static bool same_in_64bit(const struct gen_form *f, const char **why)
{
    if (gen_host_feature_mismatch(f, why))
        return false;
    if ((f->mem && !f->abs_mem) || f->addr16 || (f->rep && f->kind == K_STRING)) {
        *why = "memory operand (64-bit mode addresses differently)";
        return false;
    }
    if (f->family == TC_SIMD) {
        if (f->map == 1 && f->opcode == 0xf7) {   /* MASKMOVQ/MASKMOVDQU store to [RDI] */
            *why = "implicit memory operand";
            return false;
        }
        return true;
    }
    if (f->family == TC_X87)
        return true;
    switch (f->kind) {
    case K_STACK: case K_POPF: case K_ENTER: case K_LEAVE: case K_BRANCH:
        *why = "stack (64-bit pushes and pops)";
        return false;
    case K_STRING: case K_XLAT: case K_MOFFS: case K_BOUND:
        *why = "memory operand (64-bit mode addresses differently)";
        return false;
    case K_BCD: case K_AAMD: case K_INTO:
        *why = "invalid in 64-bit mode";
        return false;
    }
    if (f->map == 0) {
        uint8_t op = f->opcode;
        if ((op >= 0x40 && op <= 0x4f) || op == 0x63 || op == 0x62 || op == 0xc4 || op == 0xc5) {
            *why = "redefined in 64-bit mode (REX, MOVSXD, VEX/EVEX)";
            return false;
        }
        if (op == 0x06 || op == 0x07 || op == 0x0e || op == 0x16 || op == 0x17 || op == 0x1e ||
            op == 0x1f || op == 0x60 || op == 0x61 || op == 0x82 || op == 0x9a || op == 0xd6 ||
            op == 0xea) {
            *why = "invalid in 64-bit mode";
            return false;
        }
        if (op == 0x8c || op == 0x8e) {
            *why = "segment registers (the 64-bit process has other selectors)";
            return false;
        }
    } else if (f->map == 1) {
        uint8_t op = f->opcode;
        if (op == 0x05 || op == 0x07 || op == 0x34 || op == 0x35) {
            *why = "SYSCALL/SYSRET/SYSENTER/SYSEXIT differ in 64-bit mode";
            return false;
        }
    }
    return true;
}

static void usage(void)
{
    fprintf(stderr, "usage: native64 [--seed S] [--per N] [--only NAME]... [--case I] [--list]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint32_t seed = 1, per = 100;
    long one_case = -1;
    const char *only[16];
    int nonly = 0;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--per") && i + 1 < argc)
            per = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc && nonly < 16)
            only[nonly++] = argv[++i];
        else if (!strcmp(argv[i], "--case") && i + 1 < argc)
            one_case = strtol(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--list"))
            list = true;
        else
            usage();
    }
    if (per > 65536)
        per = 65536;

    static struct gen_form forms[GEN_MAX_FORMS];
    int nforms = gen_forms(forms, GEN_MAX_FORMS);
    if (list) {
        for (int i = 0; i < nforms; i++) {
            const char *why = NULL;
            bool ok = same_in_64bit(&forms[i], &why);
            printf("%5d %s%s%s%s\n", i, forms[i].name, ok ? "" : "   (skipped: ", ok ? "" : why,
                   ok ? "" : ")");
        }
        return 0;
    }

    uint8_t *mem = mmap((void *)(uintptr_t)TC_MEM_BASE, 4096, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint8_t *code = mmap((void *)(uintptr_t)TC_CODE_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mem == MAP_FAILED || code == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    /* The exit jumps are rel32: the runner's own code must be within 2 GiB (non-PIE). */
    int64_t dist = (int64_t)(uintptr_t)tc_exit_fall - (int64_t)TC_CODE_BASE;
    if (dist > 0x7fff0000ll || dist < -0x7fff0000ll) {
        fprintf(stderr, "native64: exit stubs out of rel32 range (build with -static -no-pie)\n");
        return 1;
    }

    static uint8_t altstack[65536];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);

    /* The selectors of a 32-bit process on a 64-bit Linux kernel: pcvm runs the cases with
     * these (register forms never use them). */
    static const uint16_t sel[6] = { 0x2b, 0x23, 0x2b, 0x2b, 0, 0 };
    __asm__ volatile("fninit\n\tfxsave g_fx_host(%%rip)" ::: "memory");

    setvbuf(stdout, NULL, _IOFBF, 1 << 20);
    uint32_t magic = TC_MAGIC;
    fwrite(&magic, 4, 1, stdout);

    static struct tc_case c;
    unsigned ran_forms = 0, skipped_forms = 0, skip_mem = 0;
    unsigned long cases = 0;
    for (int fi = 0; fi < nforms; fi++) {
        const struct gen_form *f = &forms[fi];
        if (one_case >= 0 && (uint32_t)fi != ((uint32_t)one_case >> 16))
            continue;
        if (nonly) {
            bool m = false;
            for (int j = 0; j < nonly; j++)
                m = m || gen_form_matches(f, only[j]);
            if (!m)
                continue;
        }
        const char *why = NULL;
        if (!same_in_64bit(f, &why)) {
            skipped_forms++;
            skip_mem += !strncmp(why, "memory", 6);
            continue;
        }
        ran_forms++;
        for (uint32_t k = 0; k < per; k++) {
            if (one_case >= 0 && k != ((uint32_t)one_case & 0xffff))
                continue;
            gen_case(f, (uint32_t)fi, seed, k, sel, &c);
            /* Code page: insn, jmp fall_exit, jmp taken_exit. */
            memcpy(code, c.code, c.len);
            uint8_t *p = code + c.len;
            p[0] = 0xe9;
            uint32_t rel = (uint32_t)((uintptr_t)tc_exit_fall - (uintptr_t)(p + 5));
            memcpy(p + 1, &rel, 4);
            p[5] = 0xe9;
            rel = (uint32_t)((uintptr_t)tc_exit_taken - (uintptr_t)(p + 10));
            memcpy(p + 6, &rel, 4);
            memset(mem, 0, 4096);
            memcpy(mem, c.in.mem, TC_MEM_SIZE);
            for (int i = 0; i < 8; i++)
                g_in.regs[i] = c.in.regs[i];
            g_in.rflags = c.in.eflags;
            g_use_fx = (c.flags & TC_F_FPU) != 0;
            if (g_use_fx)
                memcpy(g_fx_in, c.fx_in, 512);
            memset(g_fx_out, 0, sizeof(g_fx_out));
            g_case = &c;
            run_one_inner();
            memcpy(c.out.mem, mem, TC_MEM_SIZE);
            if (g_use_fx)
                memcpy(c.fx_out, g_fx_out, 512);
            fwrite(&c, (c.flags & TC_F_FPU) ? TC_REC_FULL : TC_REC_SHORT, 1, stdout);
            cases++;
        }
    }
    fflush(stdout);
    fprintf(stderr, "native64: %u register-only forms (%lu cases) run on the host CPU in 64-bit mode; "
            "%u forms skipped (%u with memory operands, whose addressing differs in 64-bit mode; "
            "the rest use the stack, segments or opcodes 64-bit mode redefines)\n",
            ran_forms, cases, skipped_forms, skip_mem);
    return 0;
}

/* CPU conformance harness, native side: a static 32-bit Linux program that generates the
 * cases (gen.c), runs each one on the host CPU and writes a record per case to stdout.
 *
 *   native [--seed S] [--per N] [--only NAME] [--case I] [--list]
 *
 * The data buffer and the code page live at fixed addresses (MAP_FIXED); the instruction
 * runs with every general register, EFLAGS and the x87/SSE state (FXRSTOR) loaded from the
 * case, then jumps to an exit stub that captures them.  Faults arrive as signals and are
 * recorded by trap number (from the signal context). */
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

#if !defined(__i386__)
#error "the native runner must be built with gcc -m32"
#endif

/* State shared with the assembly stubs: globals are the only way to reach them without
 * registers, since every register belongs to the case while it runs. */
struct native_io {
    uint32_t regs[8];
    uint32_t eflags;
    uint32_t taken;
};
struct native_io g_in, g_out;
uint32_t g_host_esp;
uint32_t g_target;
uint8_t g_fx_in[512] __attribute__((aligned(16)));
uint8_t g_fx_out[512] __attribute__((aligned(16)));
uint8_t g_fx_host[512] __attribute__((aligned(16)));
uint32_t g_use_fx;

void tc_enter(void);
void tc_exit_fall(void);
void tc_exit_taken(void);

__asm__(
    ".text\n"
    ".globl tc_enter\n"
    "tc_enter:\n"
    "  pushal\n"
    "  pushfl\n"
    "  movl %esp, g_host_esp\n"
    "  cmpl $0, g_use_fx\n"
    "  je 1f\n"
    "  fxrstor g_fx_in\n"
    "1:\n"
    "  pushl g_in+32\n"
    "  popfl\n"
    "  movl g_in+4, %ecx\n"
    "  movl g_in+8, %edx\n"
    "  movl g_in+12, %ebx\n"
    "  movl g_in+16, %esp\n"
    "  movl g_in+20, %ebp\n"
    "  movl g_in+24, %esi\n"
    "  movl g_in+28, %edi\n"
    "  movl g_in+0, %eax\n"
    "  jmp *g_target\n"
    ".globl tc_exit_taken\n"
    "tc_exit_taken:\n"
    "  movl $1, g_out+36\n"
    "  jmp 2f\n"
    ".globl tc_exit_fall\n"
    "tc_exit_fall:\n"
    "  movl $0, g_out+36\n"
    "2:\n"
    "  movl %eax, g_out+0\n"
    "  movl %ecx, g_out+4\n"
    "  movl %edx, g_out+8\n"
    "  movl %ebx, g_out+12\n"
    "  movl %esp, g_out+16\n"
    "  movl %ebp, g_out+20\n"
    "  movl %esi, g_out+24\n"
    "  movl %edi, g_out+28\n"
    "  movl g_host_esp, %esp\n"
    "  pushfl\n"
    "  popl g_out+32\n"
    "  cmpl $0, g_use_fx\n"
    "  je 3f\n"
    "  fxsave g_fx_out\n"
    "  fxrstor g_fx_host\n"
    "3:\n"
    "  popfl\n"
    "  popal\n"
    "  ret\n");

static sigjmp_buf g_jmp;
static volatile int g_fault_trapno, g_fault_err;
static volatile uint32_t g_fault_eip;

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    mcontext_t *mc = &uc->uc_mcontext;
    g_fault_trapno = (int)mc->gregs[REG_TRAPNO];
    g_fault_err = (int)mc->gregs[REG_ERR];
    g_fault_eip = (uint32_t)mc->gregs[REG_EIP];
    g_out.regs[0] = (uint32_t)mc->gregs[REG_EAX];
    g_out.regs[1] = (uint32_t)mc->gregs[REG_ECX];
    g_out.regs[2] = (uint32_t)mc->gregs[REG_EDX];
    g_out.regs[3] = (uint32_t)mc->gregs[REG_EBX];
    g_out.regs[4] = (uint32_t)mc->gregs[REG_ESP];
    g_out.regs[5] = (uint32_t)mc->gregs[REG_EBP];
    g_out.regs[6] = (uint32_t)mc->gregs[REG_ESI];
    g_out.regs[7] = (uint32_t)mc->gregs[REG_EDI];
    g_out.eflags = (uint32_t)mc->gregs[REG_EFL];
    /* The FXSAVE image follows the 112-byte FSAVE header of the i386 signal frame. */
    if (mc->fpregs && g_use_fx) {
        const uint8_t *fp = (const uint8_t *)mc->fpregs;
        if (((const uint16_t *)fp)[55] == 0)   /* magic 0x0000: FXSR data present */
            memcpy(g_fx_out, fp + 112, 512);
    }
    siglongjmp(g_jmp, 1);
}

static struct tc_case *g_case;

/* Run g_case on the host (sigsetjmp in a function of its own: no locals to clobber). */
static __attribute__((noinline)) void run_one_inner(void)
{
    struct tc_case *cp = g_case;
    g_target = TC_CODE_BASE;
    if (sigsetjmp(g_jmp, 1) == 0) {
        tc_enter();
        memcpy(cp->out.regs, g_out.regs, sizeof(cp->out.regs));
        cp->out.eflags = g_out.eflags;
        cp->out.eip = TC_CODE_BASE + cp->len + (g_out.taken ? 5u : 0u);
        cp->out.fault = 0;
    } else {
        /* Back from a signal: the host FPU state is the handler's; restore it. */
        __asm__ volatile("fxrstor g_fx_host\n\tcld" ::: "memory");
        cp = g_case;
        memcpy(cp->out.regs, g_out.regs, sizeof(cp->out.regs));
        cp->out.eflags = g_out.eflags;
        cp->out.eip = g_fault_eip;
        cp->out.fault = (uint32_t)g_fault_trapno + 1;
        cp->out.err = (uint32_t)g_fault_err;
    }
}

static void run_one(struct tc_case *c)
{
    g_case = c;
    run_one_inner();
}

static void usage(void)
{
    fprintf(stderr, "usage: native [--seed S] [--per N] [--only NAME]... [--case I] [--list]\n");
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
        for (int i = 0; i < nforms; i++)
            printf("%5d %s\n", i, forms[i].name);
        return 0;
    }

    uint8_t *mem = mmap((void *)(uintptr_t)TC_MEM_BASE, 4096, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    /* The 16-bit-addressing buffer needs vm.mmap_min_addr <= TC_MEM16_BASE; without it
     * those forms are left out (reported on stderr). */
    uint8_t *mem16 = mmap((void *)(uintptr_t)TC_MEM16_BASE, 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mem16 == MAP_FAILED) {
        fprintf(stderr, "native: cannot map %#x (vm.mmap_min_addr?): 16-bit addressing forms skipped\n",
                TC_MEM16_BASE);
        mem16 = NULL;
    }
    uint8_t *code = mmap((void *)(uintptr_t)TC_CODE_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mem == MAP_FAILED || code == MAP_FAILED) {
        perror("mmap");
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

    uint16_t sel[6];
    __asm__ volatile("movw %%es, %0" : "=r"(sel[0]));
    __asm__ volatile("movw %%cs, %0" : "=r"(sel[1]));
    __asm__ volatile("movw %%ss, %0" : "=r"(sel[2]));
    __asm__ volatile("movw %%ds, %0" : "=r"(sel[3]));
    __asm__ volatile("movw %%fs, %0" : "=r"(sel[4]));
    __asm__ volatile("movw %%gs, %0" : "=r"(sel[5]));
    __asm__ volatile("fninit\n\tfxsave g_fx_host" ::: "memory");

    setvbuf(stdout, NULL, _IOFBF, 1 << 20);
    uint32_t magic = TC_MAGIC;
    fwrite(&magic, 4, 1, stdout);

    static struct tc_case c;
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
        if (f->addr16 && !mem16)
            continue;
        const char *why;
        if (gen_host_feature_mismatch(f, &why))
            continue;
        for (uint32_t k = 0; k < per; k++) {
            if (one_case >= 0 && k != ((uint32_t)one_case & 0xffff))
                continue;
            gen_case(f, (uint32_t)fi, seed, k, sel, &c);
            /* Code page: insn, jmp fall_exit, jmp taken_exit. */
            memcpy(code, c.code, c.len);
            uint8_t *p = code + c.len;
            p[0] = 0xe9;
            uint32_t rel = (uint32_t)(uintptr_t)tc_exit_fall - (uint32_t)(uintptr_t)(p + 5);
            memcpy(p + 1, &rel, 4);
            p[5] = 0xe9;
            rel = (uint32_t)(uintptr_t)tc_exit_taken - (uint32_t)(uintptr_t)(p + 10);
            memcpy(p + 6, &rel, 4);
            uint8_t *buf = c.membase == TC_MEM16_BASE ? mem16 : mem;
            memset(buf, 0, 4096);
            memcpy(buf, c.in.mem, TC_MEM_SIZE);
            memcpy(g_in.regs, c.in.regs, sizeof(g_in.regs));
            g_in.eflags = c.in.eflags;
            g_use_fx = (c.flags & TC_F_FPU) != 0;
            if (g_use_fx)
                memcpy(g_fx_in, c.fx_in, 512);
            memset(g_fx_out, 0, sizeof(g_fx_out));
            run_one(&c);
            memcpy(c.out.mem, buf, TC_MEM_SIZE);
            if (g_use_fx)
                memcpy(c.fx_out, g_fx_out, 512);
            fwrite(&c, (c.flags & TC_F_FPU) ? TC_REC_FULL : TC_REC_SHORT, 1, stdout);
        }
    }
    fflush(stdout);
    return 0;
}

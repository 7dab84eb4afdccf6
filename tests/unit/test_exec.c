/* Unit tests for exec: the decoder, handlers, lazy flags, traces and the run loop, on a CPU
 * linked without the board (flat RAM, an empty port bus).  Flag results are checked against
 * the host CPU where the host is x86 (same instruction, same inputs), and against SDM facts
 * otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"

#define RAM_SIZE (4u << 20)
#define CODE 0x1000u

struct vm {
    struct phys_mem mem;
    struct io_bus io;
    struct cpu cpu;
    uint32_t last_out_port, last_out_value;
};

static void code_write_hook(void *opaque, uint32_t paddr, unsigned len)
{
    cpu_code_written(opaque, paddr, len);
}

static void port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    (void)size;
    struct vm *vm = opaque;
    vm->last_out_port = port;
    vm->last_out_value = value;
}

static uint32_t port_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque;
    (void)size;
    return 0x1200u + port;
}

static struct vm *vm_new(void)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    assert_non_null(vm);
    assert_int_equal(phys_mem_init(&vm->mem, RAM_SIZE, RAM_SIZE), 0);
    io_bus_init(&vm->io);
    io_register(&vm->io, 0xe0, 16, vm, port_read, port_write, IO_SIZE_ALL, "test");
    cpu_init(&vm->cpu, 0, cpu_model_find("pentium3"), &vm->mem, &vm->io, NULL, NULL, NULL);
    vm->mem.code_write = code_write_hook;
    vm->mem.code_write_opaque = &vm->cpu;
    return vm;
}

static void vm_free(struct vm *vm)
{
    cpu_exec_destroy(&vm->cpu);
    cpu_destroy(&vm->cpu);
    phys_mem_destroy(&vm->mem);
    free(vm);
}

/* Real mode, CS=DS=ES=SS=0, IP=CODE, SP=0x8000. */
static void vm_real(struct vm *vm, const uint8_t *code, size_t len)
{
    memcpy(vm->mem.ram + CODE, code, len);
    cpu_load_seg(&vm->cpu, SEG_CS, 0);
    vm->cpu.eip = CODE;
    vm->cpu.regs[R_ESP] = 0x8000;
}

static void set_flat(struct seg *s, bool code)
{
    s->sel = code ? 8 : 16;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->flags = ((code ? 0xbu : 0x3u) << SEG_FLAG_TYPE_SHIFT) | SEG_FLAG_S | SEG_FLAG_P | SEG_FLAG_DB | SEG_FLAG_G;
}

/* 32-bit flat protected mode, CPL 0, no paging. */
static void vm_flat(struct vm *vm, const uint8_t *code, size_t len)
{
    struct cpu *cpu = &vm->cpu;
    if (len)
        memcpy(vm->mem.ram + CODE, code, len);
    cpu->cr0 |= CR0_PE;
    for (int s = 0; s < SEG_COUNT; s++)
        set_flat(&cpu->seg[s], s == SEG_CS);
    cpu_update_mode(cpu);
    cpu->eip = CODE;
    cpu->regs[R_ESP] = 0x80000;
}

static enum cpu_exit_reason run(struct vm *vm)
{
    return cpu_run(&vm->cpu, 1000000);
}

/* ---- A tiny assembler for the tests: emit bytes into a buffer ---- */

struct code {
    uint8_t b[4096];
    size_t n;
};

static void emit(struct code *c, int count, ...)
{
    va_list ap;
    va_start(ap, count);
    for (int k = 0; k < count; k++)
        c->b[c->n++] = (uint8_t)va_arg(ap, int);
    va_end(ap);
}

static void emit32(struct code *c, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        c->b[c->n++] = (uint8_t)(v >> (8 * k));
}

static void mov_r32(struct code *c, int r, uint32_t v)
{
    emit(c, 1, 0xb8 + r);
    emit32(c, v);
}

/* A small deterministic generator (tests must be reproducible). */
static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 32);
}

/* ---- Basic execution ---- */

static void test_real_mode_loop(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* mov cx,10; xor ax,ax; l: add ax,cx; loop l; mov [0x500],ax; hlt */
    static const uint8_t code[] = {
        0xb9, 0x0a, 0x00, 0x31, 0xc0, 0x01, 0xc8, 0xe2, 0xfc, 0xa3, 0x00, 0x05, 0xf4,
    };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 55);
    assert_int_equal(vm->mem.ram[0x500], 55);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 0);
    /* 2 + 10*2 + 2 instructions retired (HLT counts). */
    assert_int_equal(vm->cpu.insn_count, 24);
    assert_int_equal(vm->cpu.eip, CODE + sizeof(code));
    vm_free(vm);
}

static void test_exact_budget(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    static const uint8_t code[] = { 0x40, 0x40, 0x40, 0xeb, 0xfb };   /* inc ax x3; jmp back */
    vm_real(vm, code, sizeof(code));
    assert_int_equal(cpu_run(&vm->cpu, 7), CPU_EXIT_BUDGET);
    assert_int_equal(vm->cpu.insn_count, 7);
    /* inc inc inc jmp inc inc inc: AX = 6, next is the JMP at +3 */
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 6);
    assert_int_equal(vm->cpu.eip, CODE + 3);
    assert_int_equal(cpu_run(&vm->cpu, 1), CPU_EXIT_BUDGET);
    assert_int_equal(vm->cpu.eip, CODE);
    vm_free(vm);
}

static void test_call_ret_stack16(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* call f; hlt; f: push 0x1234; pop bx; ret */
    static const uint8_t code[] = { 0xe8, 0x01, 0x00, 0xf4, 0x68, 0x34, 0x12, 0x5b, 0xc3 };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EBX] & 0xffff, 0x1234);
    assert_int_equal(vm->cpu.regs[R_ESP], 0x8000);
    assert_int_equal(vm->cpu.eip, CODE + 4);
    /* The return address was pushed at SS:7FFE. */
    assert_int_equal(vm->mem.ram[0x7ffe] | (vm->mem.ram[0x7fff] << 8), CODE + 3);
    vm_free(vm);
}

static void test_rep_movsb_and_stos(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    for (int k = 0; k < 100; k++)
        vm->mem.ram[0x2000 + k] = (uint8_t)(k * 7);
    /* cld; mov si,0x2000; mov di,0x3000; mov cx,100; rep movsb; mov al,0xaa; mov cx,5; rep stosb; hlt */
    static const uint8_t code[] = {
        0xfc, 0xbe, 0x00, 0x20, 0xbf, 0x00, 0x30, 0xb9, 0x64, 0x00, 0xf3, 0xa4,
        0xb0, 0xaa, 0xb9, 0x05, 0x00, 0xf3, 0xaa, 0xf4,
    };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_memory_equal(vm->mem.ram + 0x3000, vm->mem.ram + 0x2000, 100);
    for (int k = 0; k < 5; k++)
        assert_int_equal(vm->mem.ram[0x3064 + k], 0xaa);
    assert_int_equal(vm->mem.ram[0x3069], 0);
    assert_int_equal(vm->cpu.regs[R_ESI] & 0xffff, 0x2064);
    assert_int_equal(vm->cpu.regs[R_EDI] & 0xffff, 0x3069);
    assert_int_equal(vm->cpu.insn_count, 9);    /* each REP instruction counts once */
    vm_free(vm);
}

static void test_repe_cmpsb(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    memcpy(vm->mem.ram + 0x2000, "abcdef", 6);
    memcpy(vm->mem.ram + 0x3000, "abcxef", 6);
    /* mov si,0x2000; mov di,0x3000; mov cx,6; repe cmpsb; hlt */
    static const uint8_t code[] = {
        0xbe, 0x00, 0x20, 0xbf, 0x00, 0x30, 0xb9, 0x06, 0x00, 0xf3, 0xa6, 0xf4,
    };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    /* Stops after the mismatch at index 3: CX = 6 - 4, SI = 0x2004, ZF = 0. */
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 2);
    assert_int_equal(vm->cpu.regs[R_ESI] & 0xffff, 0x2004);
    assert_int_equal(cpu_get_eflags(&vm->cpu) & FLAG_ZF, 0);
    assert_int_equal(cpu_get_eflags(&vm->cpu) & FLAG_CF, FLAG_CF);   /* 'd' < 'x' */
    vm_free(vm);
}

static void test_flat32_memory_and_sib(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct code c = { .n = 0 };
    mov_r32(&c, R_EBX, 0x10000);
    mov_r32(&c, R_ESI, 3);
    mov_r32(&c, R_EAX, 0xdeadbeef);
    emit(&c, 4, 0x89, 0x44, 0xb3, 0x10);        /* mov [ebx+esi*4+0x10], eax */
    emit(&c, 3, 0x8b, 0x0c, 0xb3);              /* mov ecx, [ebx+esi*4] (0) */
    emit(&c, 4, 0x8b, 0x54, 0xb3, 0x10);        /* mov edx, [ebx+esi*4+0x10] */
    emit(&c, 4, 0x0f, 0xb6, 0x7b, 0x1c);        /* movzx edi, byte [ebx+0x1c] */
    emit(&c, 4, 0x0f, 0xbf, 0x6b, 0x1e);        /* movsx ebp, word [ebx+0x1e] */
    emit(&c, 1, 0xf4);
    vm_flat(vm, c.b, c.n);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EDX], 0xdeadbeef);
    assert_int_equal(vm->cpu.regs[R_ECX], 0);
    assert_int_equal(vm->cpu.regs[R_EDI], 0xef);
    assert_int_equal(vm->cpu.regs[R_EBP], 0xffffdead);
    assert_int_equal(vm->mem.ram[0x1001c], 0xef);
    vm_free(vm);
}

static void test_self_modifying_code(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct code c = { .n = 0 };
    /* Run "mov eax, 1" once, then patch its immediate to 2 and jump back to it. */
    mov_r32(&c, R_ECX, 0);                                /* 0: mov ecx, 0 */
    size_t target = c.n;
    mov_r32(&c, R_EAX, 1);                                /* 5: mov eax, 1 */
    emit(&c, 1, 0x41);                                    /* inc ecx */
    emit(&c, 3, 0x83, 0xf9, 0x02);                        /* cmp ecx, 2 */
    emit(&c, 2, 0x74, 0x0c);                              /* je done (+12) */
    emit(&c, 2, 0xc6, 0x05);                              /* mov byte [CODE+target+1], 2 */
    emit32(&c, CODE + (uint32_t)target + 1);
    emit(&c, 1, 0x02);
    emit(&c, 1, 0xe9);                                    /* jmp target */
    emit32(&c, (uint32_t)(target - (c.n + 4)));
    emit(&c, 1, 0xf4);                                    /* done: hlt */
    vm_flat(vm, c.b, c.n);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_ECX], 2);
    assert_int_equal(vm->cpu.regs[R_EAX], 2);
    vm_free(vm);
}

static void test_insn_across_page(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* mov eax, 0x11223344 straddling 0x1ffe..0x2002, then hlt. */
    uint8_t *p = vm->mem.ram + 0x1ffe;
    p[0] = 0xb8; p[1] = 0x44; p[2] = 0x33; p[3] = 0x22; p[4] = 0x11; p[5] = 0xf4;
    vm_flat(vm, NULL, 0);
    vm->cpu.eip = 0x1ffe;
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EAX], 0x11223344);
    assert_int_equal(vm->cpu.eip, 0x2004);
    vm_free(vm);
}

/* Real-mode #DE through the IVT: the handler sees CS:IP of the DIV (a fault). */
static void test_divide_error_real_mode(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* IVT[0] = 0000:0x1100; handler: mov bx, sp; mov bx,[bx]; hlt */
    vm->mem.ram[0] = 0x00; vm->mem.ram[1] = 0x11; vm->mem.ram[2] = 0; vm->mem.ram[3] = 0;
    static const uint8_t handler[] = { 0x89, 0xe3, 0x8b, 0x1f, 0xf4 };
    memcpy(vm->mem.ram + 0x1100, handler, sizeof(handler));
    /* mov ax, 5; xor cx, cx; div cx; hlt */
    static const uint8_t code[] = { 0xb8, 0x05, 0x00, 0x31, 0xc9, 0xf7, 0xf1, 0xf4 };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EBX] & 0xffff, CODE + 5);
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 5);   /* untouched by the faulting DIV */
    /* The faulting DIV did not retire: mov, xor, then the handler's 3. */
    assert_int_equal(vm->cpu.insn_count, 5);
    vm_free(vm);
}

static void test_port_io(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* mov al,0x5a; out 0xe1,al; mov dx,0xe2; in ax,dx; hlt */
    static const uint8_t code[] = { 0xb0, 0x5a, 0xe6, 0xe1, 0xba, 0xe2, 0x00, 0xed, 0xf4 };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->last_out_port, 0xe1);
    assert_int_equal(vm->last_out_value, 0x5a);
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 0x12e2);
    vm_free(vm);
}

static void test_enter_leave_nested(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct code c = { .n = 0 };
    mov_r32(&c, R_EBP, 0x7000);
    emit(&c, 4, 0xc8, 0x10, 0x00, 0x03);       /* enter 16, 3 */
    emit(&c, 2, 0x89, 0xe8);                   /* mov eax, ebp */
    emit(&c, 2, 0x89, 0xe1);                   /* mov ecx, esp */
    emit(&c, 1, 0xc9);                         /* leave */
    emit(&c, 1, 0xf4);
    vm_flat(vm, c.b, c.n);
    memset(vm->mem.ram + 0x6ff0, 0, 16);
    vm->mem.ram[0x6ffc] = 0x11;                /* [ebp-4] */
    vm->mem.ram[0x6ff8] = 0x22;                /* [ebp-8] */
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    /* push ebp -> frame = 0x7fffc; copies of [ebp-4], [ebp-8]; push frame; esp -= 16 */
    assert_int_equal(vm->cpu.regs[R_EAX], 0x7fffc);
    assert_int_equal(vm->cpu.regs[R_ECX], 0x7fffc - 12 - 16);
    assert_int_equal(vm->mem.ram[0x7fff8], 0x11);
    assert_int_equal(vm->mem.ram[0x7fff4], 0x22);
    assert_int_equal(vm->mem.ram[0x7fff0] | (vm->mem.ram[0x7fff1] << 8) | (vm->mem.ram[0x7fff2] << 16), 0x7fffc);
    assert_int_equal(vm->cpu.regs[R_EBP], 0x7000);
    assert_int_equal(vm->cpu.regs[R_ESP], 0x80000);
    vm_free(vm);
}

static void test_lock_register_is_ud(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* IVT[6] = 0000:0x1100: handler hlt */
    vm->mem.ram[24] = 0x00; vm->mem.ram[25] = 0x11;
    vm->mem.ram[0x1100] = 0xf4;
    static const uint8_t code[] = { 0xf0, 0x01, 0xc0, 0xf4 };   /* lock add ax, ax */
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.eip, 0x1101);
    assert_int_equal(vm->mem.ram[0x7ffa] | (vm->mem.ram[0x7ffb] << 8), CODE);  /* pushed IP */
    vm_free(vm);
}

/* Spin detection (cpu.h's spin): a run ends with spin.spun set after spin.after failed lock
 * attempts (or PAUSEs) in a row at one EIP, a short loop apart; anything else runs on. */
static enum cpu_exit_reason run_spin(const struct code *c, uint32_t lock, unsigned after, int jit)
{
    struct vm *vm = vm_new();
    vm_flat(vm, c->b, c->n);
    memcpy(vm->mem.ram + 0x2000, &lock, 4);
    vm->cpu.exec.jit_threshold = jit;
    vm->cpu.spin.after = after;
    enum cpu_exit_reason why = cpu_run(&vm->cpu, 20000);
    bool spun = vm->cpu.spin.spun;
    uint64_t n = vm->cpu.insn_count;
    vm_free(vm);
    assert_true(spun == (why == CPU_EXIT_REQUEST));
    /* A hand-off comes after 16 rounds of a 3- or 2-instruction loop, not later. */
    if (why == CPU_EXIT_REQUEST)
        assert_true(n <= 1 + 16 * 3 + 3);
    return why;
}

static void test_spin_handoff(void **state)
{
    (void)state;
    for (int jit = 0; jit <= 1; jit++) {
        /* mov eax,1; l: xchg [0x2000],eax; test eax,eax; jnz l; hlt */
        struct code tas = { .n = 0 };
        mov_r32(&tas, 0, 1);
        emit(&tas, 2, 0x87, 0x05); emit32(&tas, 0x2000);
        emit(&tas, 5, 0x85, 0xc0, 0x75, 0xf6, 0xf4);
        assert_int_equal(run_spin(&tas, 1, 16, jit), CPU_EXIT_REQUEST);   /* the lock is taken */
        assert_int_equal(run_spin(&tas, 0, 16, jit), CPU_EXIT_HALT);      /* free: taken at once */
        assert_int_equal(run_spin(&tas, 1, 0, jit), CPU_EXIT_BUDGET);     /* detection off */
        /* l: pause; jmp l */
        struct code pause = { .n = 0 };
        emit(&pause, 4, 0xf3, 0x90, 0xeb, 0xfc);
        assert_int_equal(run_spin(&pause, 0, 16, jit), CPU_EXIT_REQUEST);
        /* Clearing a word already clear is no lock attempt: mov eax,0; l: xchg [0x2000],eax;
         * jmp l */
        struct code clear = { .n = 0 };
        mov_r32(&clear, 0, 0);
        emit(&clear, 2, 0x87, 0x05); emit32(&clear, 0x2000);
        emit(&clear, 2, 0xeb, 0xf8);
        assert_int_equal(run_spin(&clear, 0, 16, jit), CPU_EXIT_BUDGET);
        /* Failed attempts with a longer stretch of work between them (a back-off, or code
         * that meets a taken lock now and then): l: xchg [0x2000],eax; mov ecx,100;
         * w: loop w; jmp l */
        struct code apart = { .n = 0 };
        mov_r32(&apart, 0, 1);
        emit(&apart, 2, 0x87, 0x05); emit32(&apart, 0x2000);
        mov_r32(&apart, 1, 100);
        emit(&apart, 4, 0xe2, 0xfe, 0xeb, 0xf1);
        assert_int_equal(run_spin(&apart, 1, 16, jit), CPU_EXIT_BUDGET);
    }
}

static void no_warning(void *opaque, const char *line) { (void)opaque; (void)line; }

/* POPCNT (F3 0F B8) and LZCNT (F3 0F BD) per model: run where the model advertises them;
 * without them POPCNT is #UD and LZCNT runs as BSR, as on real CPUs. */
static void test_popcnt_lzcnt_per_model(void **state)
{
    (void)state;
    static const struct { const char *model; bool popcnt, lzcnt; } cases[] = {
        { "pentium3", false, false }, { "Nehalem", true, false }, { "Haswell", true, true },
        { "max", true, true },
    };
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct cpu_model m;
        char err[200];
        assert_true(cpu_model_resolve(cases[k].model, &m));
        assert_int_equal(cpu_model_finalize(&m, no_warning, NULL, err, sizeof(err)), 0);
        struct vm *vm = vm_new();
        cpu_destroy(&vm->cpu);
        cpu_init(&vm->cpu, 0, &m, &vm->mem, &vm->io, NULL, NULL, NULL);
        vm->mem.ram[24] = 0x00; vm->mem.ram[25] = 0x11;   /* IVT[6] = 0000:1100: hlt */
        vm->mem.ram[0x1100] = 0xf4;
        /* mov bx, 0x00f1; lzcnt ax, bx; mov dx, ax; popcnt cx, bx; hlt */
        static const uint8_t code[] = { 0xbb, 0xf1, 0x00, 0xf3, 0x0f, 0xbd, 0xc3, 0x89, 0xc2,
                                        0xf3, 0x0f, 0xb8, 0xcb, 0xf4 };
        vm_real(vm, code, sizeof(code));
        assert_int_equal(run(vm), CPU_EXIT_HALT);
        /* LZCNT of 0x00f1 in 16 bits is 8; BSR gives the top bit's index, 7. */
        assert_int_equal(vm->cpu.regs[R_EDX] & 0xffff, cases[k].lzcnt ? 8 : 7);
        if (cases[k].popcnt) {
            assert_int_equal(vm->cpu.eip, CODE + sizeof(code));
            assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 5);
        } else {
            assert_int_equal(vm->cpu.eip, 0x1101);   /* #UD */
        }
        vm_free(vm);
    }
}

static void test_disasm(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    static const uint8_t code[] = { 0x89, 0x44, 0xb3, 0x10, 0xf3, 0xa5, 0x0f, 0x44, 0xc1 };
    vm_flat(vm, code, sizeof(code));
    char buf[80];
    assert_int_equal(cpu_disasm(&vm->cpu, CODE, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "mov dword [ebx+esi*4+0x10], eax");
    assert_int_equal(cpu_disasm(&vm->cpu, CODE + 4, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "rep movsd");
    assert_int_equal(cpu_disasm(&vm->cpu, CODE + 6, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "cmove eax, ecx");
    vm_free(vm);
}


static void put32(struct vm *vm, uint32_t addr, uint32_t v)
{
    memcpy(vm->mem.ram + addr, &v, 4);
}

/* Flat protected mode with a GDT, an IDT (#PF -> 0x1800) and identity paging in which the
 * page at 0x21000 is not present. */
static void vm_paged(struct vm *vm, const uint8_t *code, size_t len)
{
    struct cpu *cpu = &vm->cpu;
    vm_flat(vm, code, len);
    put32(vm, 0x508, 0x0000ffff); put32(vm, 0x50c, 0x00cf9b00);   /* code: flat, 32-bit */
    put32(vm, 0x510, 0x0000ffff); put32(vm, 0x514, 0x00cf9300);   /* data: flat */
    cpu->gdtr.base = 0x500;
    cpu->gdtr.limit = 0x17;
    put32(vm, 0x600 + 14 * 8, 0x00081800); put32(vm, 0x604 + 14 * 8, 0x00008e00);
    cpu->idtr.base = 0x600;
    cpu->idtr.limit = 0x7ff;
    put32(vm, 0x10000, 0x11000 | 3);
    for (uint32_t pg = 0; pg < 1024; pg++)
        put32(vm, 0x11000 + pg * 4, pg == 0x21 ? 0 : ((pg << 12) | 3));
    static const uint8_t handler[] = { 0x0f, 0x20, 0xd0, 0xf4 };   /* mov eax, cr2; hlt */
    memcpy(vm->mem.ram + 0x1800, handler, sizeof(handler));
    cpu_write_cr(cpu, 3, 0x10000);
    cpu_write_cr(cpu, 0, cpu->cr0 | CR0_PG);
}

/* A page fault in the middle of REP MOVSB: the registers show the progress so far and the
 * pushed EIP is the REP instruction, so the guest can resume it. */
static void test_rep_movs_page_fault_restart(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct code c = { .n = 0 };
    mov_r32(&c, R_ESI, 0x30000);
    mov_r32(&c, R_EDI, 0x20ff8);
    mov_r32(&c, R_ECX, 16);
    emit(&c, 1, 0xfc);
    uint32_t rep_eip = CODE + (uint32_t)c.n;
    emit(&c, 3, 0xf3, 0xa4, 0xf4);
    for (int k = 0; k < 16; k++)
        vm->mem.ram[0x30000 + k] = (uint8_t)(0xa0 + k);
    vm_paged(vm, c.b, c.n);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    struct cpu *cpu = &vm->cpu;
    assert_int_equal(cpu->eip, 0x1804);                 /* in the #PF handler */
    assert_int_equal(cpu->regs[R_EAX], 0x21000);        /* CR2 */
    assert_int_equal(cpu->regs[R_ECX], 8);
    assert_int_equal(cpu->regs[R_ESI], 0x30008);
    assert_int_equal(cpu->regs[R_EDI], 0x21000);
    assert_memory_equal(vm->mem.ram + 0x20ff8, vm->mem.ram + 0x30000, 8);
    /* Stack: error code (write, not present = 2), EIP, CS, EFLAGS. */
    uint32_t sp = cpu->regs[R_ESP], v;
    memcpy(&v, vm->mem.ram + sp, 4);
    assert_int_equal(v, 2);
    memcpy(&v, vm->mem.ram + sp + 4, 4);
    assert_int_equal(v, rep_eip);
    /* Map the page and return to the REP: it completes the remaining 8 bytes. */
    put32(vm, 0x11000 + 0x21 * 4, 0x21000 | 3);
    cpu_invlpg(cpu, 0x21000);
    cpu->regs[R_ESP] += 4;                                /* drop the error code */
    static const uint8_t iret[] = { 0xcf };
    memcpy(vm->mem.ram + 0x1804, iret, 1);
    cpu_code_written(cpu, 0x1804, 1);
    cpu->halted = false;
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(cpu->regs[R_ECX], 0);
    assert_int_equal(cpu->eip, rep_eip + 3);
    assert_memory_equal(vm->mem.ram + 0x20ff8, vm->mem.ram + 0x30000, 16);
    vm_free(vm);
}

/* An instruction across a page boundary, run under two page tables that map its first page
 * to the same frame and its second page to different frames (as two processes whose text
 * relocations made private copies of one page): each run reads its own second page, not the
 * bytes the cached trace was decoded from. */
static void test_insn_across_page_remapped(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct cpu *cpu = &vm->cpu;
    vm_paged(vm, NULL, 0);
    /* Second page directory: the same, but linear 0x41000 maps to frame 0x42000. */
    put32(vm, 0x12000, 0x13000 | 3);
    for (uint32_t pg = 0; pg < 1024; pg++)
        put32(vm, 0x13000 + pg * 4, ((pg == 0x41 ? 0x42 : pg) << 12) | 3);
    /* mov eax, imm32 at 0x40ffe: one immediate byte in the first page, three in the second,
     * then hlt. */
    uint8_t *p = vm->mem.ram + 0x40ffe;
    p[0] = 0xb8; p[1] = 0x44; p[2] = 0x33; p[3] = 0x22; p[4] = 0x11; p[5] = 0xf4;
    vm->mem.ram[0x42000] = 0x66; vm->mem.ram[0x42001] = 0x55; vm->mem.ram[0x42002] = 0x77;
    vm->mem.ram[0x42003] = 0xf4;
    for (int round = 0; round < 3; round++) {
        cpu_write_cr(cpu, 3, 0x10000);
        cpu->eip = 0x40ffe;
        cpu->halted = false;
        assert_int_equal(run(vm), CPU_EXIT_HALT);
        assert_int_equal(cpu->regs[R_EAX], 0x11223344);
        cpu_write_cr(cpu, 3, 0x12000);
        cpu->eip = 0x40ffe;
        cpu->halted = false;
        assert_int_equal(run(vm), CPU_EXIT_HALT);
        assert_int_equal(cpu->regs[R_EAX], 0x77556644);
    }
    vm_free(vm);
}

/* TF: a #DB trap after each instruction that starts with TF set (not after the POPF that
 * sets it, but after the POPF that clears it). */
static void test_single_step_trap(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    vm->mem.ram[4] = 0x00; vm->mem.ram[5] = 0x11;          /* IVT[1] = 0000:1100 */
    static const uint8_t handler[] = { 0x46, 0xcf };       /* inc si; iret */
    memcpy(vm->mem.ram + 0x1100, handler, sizeof(handler));
    static const uint8_t code[] = {
        0x9c, 0x58, 0x80, 0xcc, 0x01, 0x50, 0x9d,          /* pushf; pop ax; or ah,1; push ax; popf */
        0x90, 0x90,                                        /* nop; nop */
        0x9c, 0x58, 0x80, 0xe4, 0xfe, 0x50, 0x9d,          /* pushf; pop ax; and ah,0xfe; push ax; popf */
        0xf4,
    };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_ESI] & 0xffff, 7);
    assert_int_equal(vm->cpu.eip, CODE + sizeof(code));
    assert_int_equal(vm->cpu.eflags & FLAG_TF, 0);
    vm_free(vm);
}


/* BCD adjustments: the worked examples of the SDM instruction pages. */
static uint32_t run_real_ax(const uint8_t *code, size_t len, uint32_t *flags)
{
    struct vm *vm = vm_new();
    vm_real(vm, code, len);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    uint32_t ax = vm->cpu.regs[R_EAX] & 0xffff;
    *flags = cpu_get_eflags(&vm->cpu);
    vm_free(vm);
    return ax;
}

static void test_bcd(void **state)
{
    (void)state;
    uint32_t f;
    /* mov al,0x79; add al,0x35; daa -> 0x14, CF=1 (79 + 35 = 114) */
    static const uint8_t daa[] = { 0xb0, 0x79, 0x04, 0x35, 0x27, 0xf4 };
    assert_int_equal(run_real_ax(daa, sizeof(daa), &f) & 0xff, 0x14);
    assert_true(f & FLAG_CF);
    /* mov al,0x35; sub al,0x47; das -> 0x88, CF=1 (35 - 47 = -12 -> 88 borrow) */
    static const uint8_t das[] = { 0xb0, 0x35, 0x2c, 0x47, 0x2f, 0xf4 };
    assert_int_equal(run_real_ax(das, sizeof(das), &f) & 0xff, 0x88);
    assert_true(f & FLAG_CF);
    /* mov ax,0x0008; add al,6; aaa -> AX = 0x0104, CF=AF=1 */
    static const uint8_t aaa[] = { 0xb8, 0x08, 0x00, 0x04, 0x06, 0x37, 0xf4 };
    assert_int_equal(run_real_ax(aaa, sizeof(aaa), &f), 0x0104);
    assert_true((f & FLAG_CF) && (f & FLAG_AF));
    /* mov ax,0x0102; sub al,5; aas -> AL=(0xfd-6)&0x0f=7, AH=0 (12 - 5 = 7 unpacked) */
    static const uint8_t aas[] = { 0xb8, 0x02, 0x01, 0x2c, 0x05, 0x3f, 0xf4 };
    assert_int_equal(run_real_ax(aas, sizeof(aas), &f), 0x0007);
    assert_true(f & FLAG_CF);
    /* mov al,63; aam -> AH=6, AL=3 */
    static const uint8_t aam[] = { 0xb0, 0x3f, 0xd4, 0x0a, 0xf4 };
    assert_int_equal(run_real_ax(aam, sizeof(aam), &f), 0x0603);
    /* mov ax,0x0607; aad -> AX = 67 */
    static const uint8_t aad[] = { 0xb8, 0x07, 0x06, 0xd5, 0x0a, 0xf4 };
    assert_int_equal(run_real_ax(aad, sizeof(aad), &f), 67);
    assert_int_equal(f & FLAG_ZF, 0);
}

/* DIV/IDIV results and #DE on quotient overflow. */
static void test_divide(void **state)
{
    (void)state;
    uint32_t f;
    /* mov ax,1000; mov bl,7; div bl -> AL=142, AH=6 */
    static const uint8_t d8[] = { 0xb8, 0xe8, 0x03, 0xb3, 0x07, 0xf6, 0xf3, 0xf4 };
    assert_int_equal(run_real_ax(d8, sizeof(d8), &f), (6 << 8) | 142);
    /* mov ax,-1000; mov bl,7; idiv bl -> AL=-142: overflow -> #DE to IVT[0]=0:0 (AX kept) */
    struct vm *vm = vm_new();
    vm->mem.ram[0] = 0x00; vm->mem.ram[1] = 0x11;
    vm->mem.ram[0x1100] = 0xf4;
    static const uint8_t d8s[] = { 0xb8, 0x18, 0xfc, 0xb3, 0x07, 0xf6, 0xfb, 0xf4 };
    vm_real(vm, d8s, sizeof(d8s));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.eip, 0x1101);
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 0xfc18);
    vm_free(vm);
    /* mov ax,-100; mov bl,7; idiv bl -> AL=-14, AH=-2 (remainder has the dividend's sign) */
    static const uint8_t d8n[] = { 0xb8, 0x9c, 0xff, 0xb3, 0x07, 0xf6, 0xfb, 0xf4 };
    assert_int_equal(run_real_ax(d8n, sizeof(d8n), &f), 0xfef2);
}


/* 16-bit addressing: the eight base/index forms, their default segments (BP -> SS) and the
 * 64 KiB wrap of the offset. */
static void test_addressing16(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    /* DS = 0x2000 (base 0x20000), SS = 0x3000 (base 0x30000). */
    vm->mem.ram[0x20000 + 0x0150] = 0x11;   /* [bx+si] = 0x100 + 0x50 */
    vm->mem.ram[0x30000 + 0x0260] = 0x22;   /* [bp+si+0x10] = 0x200 + 0x50 + 0x10 (SS) */
    vm->mem.ram[0x20000 + 0x0004] = 0x33;   /* [bx+di] = 0x100 + 0xff04 wraps to 0x0004 */
    vm->mem.ram[0x30000 + 0x01fe] = 0x44;   /* [bp-2] (SS) */
    vm->mem.ram[0x20000 + 0x1234] = 0x55;   /* [0x1234] */
    static const uint8_t code[] = {
        0xb8, 0x00, 0x20, 0x8e, 0xd8,       /* mov ax,0x2000; mov ds,ax */
        0xb8, 0x00, 0x30, 0x8e, 0xd0,       /* mov ax,0x3000; mov ss,ax */
        0xbb, 0x00, 0x01, 0xbe, 0x50, 0x00, /* mov bx,0x100; mov si,0x50 */
        0xbd, 0x00, 0x02, 0xbf, 0x04, 0xff, /* mov bp,0x200; mov di,0xff04 */
        0x8a, 0x00,                         /* mov al,[bx+si] */
        0x8a, 0x62, 0x10,                   /* mov ah,[bp+si+0x10] */
        0x8a, 0x09,                         /* mov cl,[bx+di] */
        0x8a, 0x6e, 0xfe,                   /* mov ch,[bp-2] */
        0x8a, 0x16, 0x34, 0x12,             /* mov dl,[0x1234] */
        0x3e, 0x8a, 0x76, 0xfe,             /* mov dh,ds:[bp-2] -> DS:0x1fe = 0 */
        0xf4,
    };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 0x2211);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 0x4433);
    assert_int_equal(vm->cpu.regs[R_EDX] & 0xffff, 0x0055);
    vm_free(vm);
}

/* The interrupt shadow after MOV SS, and INTR delivery through the board's acknowledge. */
static int ack_vector(void *opaque, struct cpu *cpu)
{
    (void)opaque;
    cpu_request(cpu, CPU_REQ_INTR, 0);
    return 0x20;
}

static void test_external_interrupt(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    vm->cpu.board.intr_ack = ack_vector;
    vm->mem.ram[0x80] = 0x00; vm->mem.ram[0x81] = 0x11;   /* IVT[0x20] = 0000:1100 */
    static const uint8_t handler[] = { 0xbb, 0x34, 0x12, 0xcf };   /* mov bx,0x1234; iret */
    memcpy(vm->mem.ram + 0x1100, handler, sizeof(handler));
    /* sti; nop; hlt; inc cx; hlt */
    static const uint8_t code[] = { 0xfb, 0x90, 0xf4, 0x41, 0xf4 };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.eip, CODE + 3);
    cpu_request(&vm->cpu, CPU_REQ_INTR, 1);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EBX] & 0xffff, 0x1234);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 1);
    assert_int_equal(vm->cpu.eip, CODE + 5);
    vm_free(vm);
}


/* Virtual-8086 mode with CR4.VME and IOPL 0: CLI/STI act on VIF, PUSHF shows VIF as IF. */
static void test_vme_virtual_if(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct cpu *cpu = &vm->cpu;
    /* cli; sti; pushf; pop ax */
    static const uint8_t code[] = { 0xfa, 0xfb, 0x9c, 0x58 };
    vm_real(vm, code, sizeof(code));
    cpu->cr0 |= CR0_PE;
    cpu->cr4 |= CR4_VME;
    cpu_set_eflags(cpu, FLAG_VM | FLAG_IF | FLAG_VIF, FLAG_VM | FLAG_IF | FLAG_VIF | FLAG_IOPL);
    cpu_update_mode(cpu);
    assert_true(cpu->vm86);
    assert_int_equal(cpu_run(cpu, 1), CPU_EXIT_BUDGET);         /* cli */
    assert_int_equal(cpu->eflags & (FLAG_IF | FLAG_VIF), FLAG_IF);
    assert_int_equal(cpu_run(cpu, 1), CPU_EXIT_BUDGET);         /* sti */
    assert_int_equal(cpu->eflags & (FLAG_IF | FLAG_VIF), FLAG_IF | FLAG_VIF);
    cpu_set_eflags(cpu, 0, FLAG_VIF);
    assert_int_equal(cpu_run(cpu, 2), CPU_EXIT_BUDGET);         /* pushf; pop ax */
    assert_int_equal(cpu->regs[R_EAX] & (FLAG_IF | FLAG_IOPL), FLAG_IOPL);
    vm_free(vm);
}


/* An execute breakpoint in DR0/DR7 faults before the instruction, with DR6.B0 set. */
static void test_code_breakpoint(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    vm->mem.ram[4] = 0x00; vm->mem.ram[5] = 0x11;          /* IVT[1] = 0000:1100 */
    static const uint8_t handler[] = { 0x0f, 0x21, 0xf0, 0xf4 };   /* mov eax, dr6; hlt */
    memcpy(vm->mem.ram + 0x1100, handler, sizeof(handler));
    static const uint8_t code[] = { 0x41, 0x41, 0x41, 0xf4 };      /* inc cx x3; hlt */
    vm_real(vm, code, sizeof(code));
    vm->cpu.dr[0] = CODE + 2;
    vm->cpu.dr[7] = 1;
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.eip, 0x1104);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 2);              /* the third INC did not run */
    assert_int_equal(vm->cpu.regs[R_EAX] & 1, 1);
    assert_int_equal(vm->mem.ram[0x7ffa] | (vm->mem.ram[0x7ffb] << 8), CODE + 2);
    vm_free(vm);
}


/* A data breakpoint is a trap (SDM vol. 3 17.3.1.2): the store completes, then #DB with the
 * return address of the next instruction and DR6.B0 set (BS clear). */
static void test_data_breakpoint_trap(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    vm->mem.ram[4] = 0x00; vm->mem.ram[5] = 0x11;          /* IVT[1] = 0000:1100 */
    static const uint8_t handler[] = { 0x0f, 0x21, 0xf0, 0xf4 };   /* mov eax, dr6; hlt */
    memcpy(vm->mem.ram + 0x1100, handler, sizeof(handler));
    static const uint8_t code[] = { 0xb0, 0x5a, 0xa2, 0x00, 0x20, 0x41, 0xf4 }; /* mov al,0x5a; mov [0x2000],al; inc cx; hlt */
    vm_real(vm, code, sizeof(code));
    cpu_write_dr(&vm->cpu, 0, 0x2000);
    cpu_write_dr(&vm->cpu, 7, 0x1 | (1u << 16));            /* L0, R/W0 = write, LEN0 = 1 byte */
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->mem.ram[0x2000], 0x5a);
    assert_int_equal(vm->cpu.eip, 0x1104);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 0);       /* the INC after the store did not run */
    assert_int_equal(vm->cpu.regs[R_EAX] & 0x400f, 1);       /* B0, not BS */
    assert_int_equal(vm->mem.ram[0x7ffa] | (vm->mem.ram[0x7ffb] << 8), CODE + 5);
    vm_free(vm);
}

/* NMIs are blocked from the delivery of one until the next IRET (SDM vol. 3 6.7.1): a second
 * NMI raised inside the handler waits for its IRET, then runs the handler again. */
static void test_nmi_blocked_until_iret(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    vm->mem.ram[8] = 0x00; vm->mem.ram[9] = 0x11;          /* IVT[2] = 0000:1100 */
    static const uint8_t handler[] = { 0x46, 0x90, 0x90, 0xcf };   /* inc si; nop; nop; iret */
    memcpy(vm->mem.ram + 0x1100, handler, sizeof(handler));
    static const uint8_t code[] = { 0x90, 0x90, 0x90, 0x90, 0xf4 };
    vm_real(vm, code, sizeof(code));
    cpu_request(&vm->cpu, CPU_REQ_NMI, 1);
    assert_int_equal(cpu_run(&vm->cpu, 1), CPU_EXIT_BUDGET);      /* NMI, then inc si */
    assert_int_equal(vm->cpu.eip, 0x1101);
    cpu_request(&vm->cpu, CPU_REQ_NMI, 1);
    assert_int_equal(cpu_run(&vm->cpu, 1), CPU_EXIT_BUDGET);      /* blocked: the nop runs */
    assert_int_equal(vm->cpu.eip, 0x1102);
    assert_int_equal(vm->cpu.regs[R_ESI] & 0xffff, 1);
    assert_int_equal(cpu_run(&vm->cpu, 2), CPU_EXIT_BUDGET);      /* nop; iret */
    assert_int_equal(vm->cpu.eip, CODE);
    assert_int_equal(cpu_run(&vm->cpu, 1), CPU_EXIT_BUDGET);      /* second NMI, inc si */
    assert_int_equal(vm->cpu.regs[R_ESI] & 0xffff, 2);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.eip, CODE + sizeof(code));
    vm_free(vm);
}

/* Random bytes as code, in real mode and in flat protected mode: whatever they do, pcvm must
 * not crash, and the instruction count stays within the budget. */
static void test_random_bytes_robust(void **state)
{
    (void)state;
    const char *env = getenv("PCVM_TEST_ITERS");
    int iters = env ? atoi(env) / 20 : 300;
    uint64_t seed = env ? (uint64_t)iters : 4242;
    struct vm *vm = vm_new();
    for (int iter = 0; iter < iters; iter++) {
        cpu_reset(&vm->cpu);
        memset(vm->mem.ram, 0, 0x20000);
        for (int v = 0; v < 256; v++) {     /* every vector -> 0000:0500 (hlt) */
            vm->mem.ram[v * 4] = 0x00;
            vm->mem.ram[v * 4 + 1] = 0x05;
        }
        vm->mem.ram[0x500] = 0xf4;
        uint8_t code[512];
        for (size_t k = 0; k < sizeof(code); k++)
            code[k] = (uint8_t)rng_next(&seed);
        if (iter & 1) {
            vm_flat(vm, code, sizeof(code));
            vm->cpu.idtr.limit = 0;           /* any exception escalates to a triple fault */
        } else {
            vm_real(vm, code, sizeof(code));
        }
        cpu_flush_traces(&vm->cpu);
        uint64_t before = vm->cpu.insn_count;
        enum cpu_exit_reason r = cpu_run(&vm->cpu, 5000);
        assert_true(vm->cpu.insn_count - before <= 5000);
        assert_true(r == CPU_EXIT_BUDGET || r == CPU_EXIT_HALT || r == CPU_EXIT_RESET);
    }
    vm_free(vm);
}


/* Debugger breakpoints stop before the instruction, also when the trace was decoded before
 * the breakpoint was inserted (its page's traces are rebuilt); single-step stops after each
 * instruction; removing the breakpoint lets the code run on. */
static void test_debugger_breakpoint_and_step(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    static const uint8_t code[] = { 0x41, 0x41, 0x41, 0xf4, 0xeb, 0xfb };  /* inc cx x3; hlt; jmp CODE+1 */
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);       /* the trace is decoded without a breakpoint */
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 3);
    vm->cpu.eip = CODE;
    vm->cpu.halted = false;
    assert_int_equal(cpu_debug_insert_break(&vm->cpu, CODE + 2, false), 0);
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);
    assert_int_equal(vm->cpu.eip, CODE + 2);
    assert_int_equal(vm->cpu.dbg.stop, CPU_STOP_SW_BREAK);
    assert_int_equal(vm->cpu.dbg.stop_addr, CODE + 2);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 5);
    /* Still there when resumed: the breakpoint is at EIP. */
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);
    assert_int_equal(vm->cpu.eip, CODE + 2);
    assert_int_equal(cpu_debug_remove_break(&vm->cpu, CODE + 2, false), 0);
    assert_int_equal(cpu_debug_remove_break(&vm->cpu, CODE + 2, false), -1);
    cpu_debug_set_step(&vm->cpu, true, true);
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);
    assert_int_equal(vm->cpu.eip, CODE + 3);
    assert_int_equal(vm->cpu.dbg.stop, CPU_STOP_STEP);
    cpu_debug_set_step(&vm->cpu, false, false);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_ECX] & 0xffff, 6);
    /* A hardware breakpoint reached by a jump into the middle of a trace. */
    vm->cpu.halted = false;
    assert_int_equal(cpu_debug_insert_break(&vm->cpu, CODE + 1, true), 0);
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);
    assert_int_equal(vm->cpu.eip, CODE + 1);
    assert_int_equal(vm->cpu.dbg.stop, CPU_STOP_HW_BREAK);
    /* A held vCPU does not run. */
    cpu_debug_clear(&vm->cpu);
    vm->cpu.dbg.hold = true;
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.eip, CODE + 1);
    vm->cpu.dbg.hold = false;
    vm_free(vm);
}

/* Watchpoints stop after the instruction that writes / reads the watched bytes, with the
 * access done once; accesses elsewhere (also on the same page) do not stop. */
static void test_debugger_watchpoints(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    static const uint8_t code[] = {
        0xa3, 0x00, 0x30, 0x01, 0x00,         /* mov [0x13000], eax   (same page, not watched) */
        0x40,                                 /* inc eax */
        0xa3, 0x10, 0x30, 0x01, 0x00,         /* mov [0x13010], eax   (watched) */
        0x43,                                 /* inc ebx */
        0x8b, 0x0d, 0x11, 0x30, 0x01, 0x00,   /* mov ecx, [0x13011]   (read, overlaps) */
        0xbf, 0x0c, 0x30, 0x01, 0x00,         /* mov edi, 0x1300c */
        0xb9, 0x04, 0x00, 0x00, 0x00,         /* mov ecx, 4 */
        0xf3, 0xab,                           /* rep stosd: the 2nd dword hits */
        0xf4,                                 /* hlt */
    };
    vm_flat(vm, code, sizeof(code));
    vm->cpu.regs[R_EAX] = 0x100;
    assert_int_equal(cpu_debug_insert_watch(&vm->cpu, 0x13010, 4, CPU_WATCH_WRITE), 0);
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);
    assert_int_equal(vm->cpu.dbg.stop, CPU_STOP_WATCH);
    assert_int_equal(vm->cpu.dbg.stop_addr, 0x13010);
    assert_int_equal(vm->cpu.eip, CODE + 11);          /* after the store */
    assert_int_equal(vm->cpu.regs[R_EAX], 0x101);
    uint32_t v;
    memcpy(&v, vm->mem.ram + 0x13010, 4);
    assert_int_equal(v, 0x101);
    memcpy(&v, vm->mem.ram + 0x13000, 4);
    assert_int_equal(v, 0x100);
    assert_int_equal(cpu_debug_insert_watch(&vm->cpu, 0x13010, 4, CPU_WATCH_READ), 0);
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);
    assert_int_equal(vm->cpu.dbg.stop_watch_kind, CPU_WATCH_READ);
    assert_int_equal(vm->cpu.eip, CODE + 18);
    assert_int_equal(vm->cpu.regs[R_EBX], 1);
    assert_int_equal(vm->cpu.regs[R_ECX], 0x01);
    assert_int_equal(run(vm), CPU_EXIT_DEBUG);         /* rep stosd writes 0x13010 */
    assert_int_equal(vm->cpu.dbg.stop_watch_kind, CPU_WATCH_WRITE);
    assert_int_equal(vm->cpu.eip, CODE + sizeof(code) - 1);
    assert_int_equal(vm->cpu.regs[R_ECX], 0);
    assert_int_equal(vm->cpu.regs[R_EDI], 0x1301c);
    assert_int_equal(cpu_debug_remove_watch(&vm->cpu, 0x13010, 4, CPU_WATCH_WRITE), 0);
    assert_int_equal(cpu_debug_remove_watch(&vm->cpu, 0x13010, 4, CPU_WATCH_READ), 0);
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    vm_free(vm);
}


/* VME INT n redirection: bit n clear in the TSS bitmap -> through the v86 IVT with VIF as
 * the pushed IF and IOPL 3. */
static void test_vme_int_redirect(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    struct cpu *cpu = &vm->cpu;
    static const uint8_t code[] = { 0xcd, 0x21 };                /* int 0x21 */
    vm_real(vm, code, sizeof(code));
    vm->mem.ram[0x84] = 0x00; vm->mem.ram[0x85] = 0x11;           /* IVT[0x21] = 0000:1100 */
    vm->mem.ram[0x86] = 0x00; vm->mem.ram[0x87] = 0x00;
    /* TSS at 0x9000, I/O map base 0x88 -> redirection bitmap at 0x68..0x87 (all clear). */
    memset(vm->mem.ram + 0x9000, 0, 0x100);
    vm->mem.ram[0x9066] = 0x88;
    cpu->tr.base = 0x9000;
    cpu->tr.limit = 0xff;
    cpu->tr.flags = (11u << SEG_FLAG_TYPE_SHIFT) | SEG_FLAG_P;
    cpu->cr0 |= CR0_PE;
    cpu->cr4 |= CR4_VME;
    cpu_set_eflags(cpu, FLAG_VM | FLAG_IF | FLAG_VIF, FLAG_VM | FLAG_IF | FLAG_VIF | FLAG_IOPL);
    cpu_update_mode(cpu);
    assert_int_equal(cpu_run(cpu, 1), CPU_EXIT_BUDGET);
    assert_int_equal(cpu->eip, 0x1100);
    assert_int_equal(cpu->regs[R_ESP], 0x8000 - 6);
    uint16_t ip, cs, fl;
    memcpy(&ip, vm->mem.ram + 0x7ffa, 2);
    memcpy(&cs, vm->mem.ram + 0x7ffc, 2);
    memcpy(&fl, vm->mem.ram + 0x7ffe, 2);
    assert_int_equal(ip, CODE + 2);
    assert_int_equal(cs, 0);
    assert_int_equal(fl & (FLAG_IF | FLAG_IOPL), FLAG_IF | FLAG_IOPL);
    assert_int_equal(cpu->eflags & (FLAG_VIF | FLAG_IF), FLAG_IF);  /* VIF cleared, IF kept */
    vm_free(vm);
}


/* Model levels: a 486 model with CPUID runs CPUID but raises #UD for CMOV (P6). */
static void test_model_486_levels(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    cpu_destroy(&vm->cpu);
    cpu_init(&vm->cpu, 0, cpu_model_find("486"), &vm->mem, &vm->io, NULL, NULL, NULL);
    vm->mem.code_write_opaque = &vm->cpu;
    vm->mem.ram[24] = 0x00; vm->mem.ram[25] = 0x11;          /* IVT[6] = 0000:1100 */
    vm->mem.ram[0x1100] = 0xf4;
    /* xor eax,eax; cpuid; mov si,1; cmove eax,ecx; hlt */
    static const uint8_t code[] = { 0x66, 0x31, 0xc0, 0x0f, 0xa2, 0xbe, 0x01, 0x00, 0x66, 0x0f, 0x44, 0xc1, 0xf4 };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_ESI] & 0xffff, 1);        /* CPUID did not fault */
    assert_int_equal(vm->cpu.eip, 0x1101);                     /* CMOV did */
    assert_int_equal(vm->mem.ram[0x7ffa] | (vm->mem.ram[0x7ffb] << 8), CODE + 8);
    vm_free(vm);
}

/* C4/C5: VEX when the next byte's top two bits are 11 (32-bit code: ANDN runs), LES/LDS
 * otherwise; VEX instructions are #UD in real mode. */
static void test_vex_or_les(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    cpu_destroy(&vm->cpu);
    cpu_init(&vm->cpu, 0, cpu_model_find("max"), &vm->mem, &vm->io, NULL, NULL, NULL);
    vm->mem.code_write_opaque = &vm->cpu;
    /* andn eax, ecx, ebx (C4 E2 70 F2 C3); hlt */
    static const uint8_t andn[] = { 0xc4, 0xe2, 0x70, 0xf2, 0xc3, 0xf4 };
    vm_flat(vm, andn, sizeof(andn));
    vm->cpu.regs[R_ECX] = 0xff00ff00;
    vm->cpu.regs[R_EBX] = 0x12345678;
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EAX], 0x00340078);
    assert_int_equal(vm->cpu.eip, CODE + 6);
    vm_free(vm);

    vm = vm_new();
    cpu_destroy(&vm->cpu);
    cpu_init(&vm->cpu, 0, cpu_model_find("max"), &vm->mem, &vm->io, NULL, NULL, NULL);
    vm->mem.code_write_opaque = &vm->cpu;
    vm->mem.ram[24] = 0x00; vm->mem.ram[25] = 0x11;          /* IVT[6] = 0000:1100 */
    vm->mem.ram[0x1100] = 0xf4;
    vm->mem.ram[0x2000] = 0x34; vm->mem.ram[0x2001] = 0x12;  /* LES's offset and segment */
    vm->mem.ram[0x2002] = 0x00; vm->mem.ram[0x2003] = 0x30;
    /* les ax, [0x2000] (C4 06 00 20: mod 00); then the VEX ANDN: #UD in real mode */
    static const uint8_t code[] = { 0xc4, 0x06, 0x00, 0x20, 0xc4, 0xe2, 0x70, 0xf2, 0xc3, 0xf4 };
    vm_real(vm, code, sizeof(code));
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_EAX] & 0xffff, 0x1234);
    assert_int_equal(vm->cpu.seg[SEG_ES].sel, 0x3000);
    assert_int_equal(vm->cpu.eip, 0x1101);                     /* #UD at CODE + 4 */
    assert_int_equal(vm->mem.ram[0x7ffa] | (vm->mem.ram[0x7ffb] << 8), CODE + 4);
    vm_free(vm);
}

/* RDTSCP and RDPID read IA32_TSC_AUX (WRMSR 0xC0000103); RDRAND/RDSEED set CF with a value;
 * on pentium3 all four are #UD. */
static void test_tsc_aux_rdrand(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    cpu_destroy(&vm->cpu);
    cpu_init(&vm->cpu, 0, cpu_model_find("max"), &vm->mem, &vm->io, NULL, NULL, NULL);
    vm->mem.code_write_opaque = &vm->cpu;
    static const uint8_t code[] = {
        0xb9, 0x03, 0x01, 0x00, 0xc0,   /* mov ecx, 0xc0000103 */
        0xb8, 0x07, 0x00, 0x00, 0x00,   /* mov eax, 7 */
        0x31, 0xd2,                     /* xor edx, edx */
        0x0f, 0x30,                     /* wrmsr */
        0x0f, 0x01, 0xf9,               /* rdtscp */
        0xf3, 0x0f, 0xc7, 0xfe,         /* rdpid esi */
        0x0f, 0xc7, 0xf3,               /* rdrand ebx */
        0x0f, 0xc7, 0xff,               /* rdseed edi */
        0xf4,
    };
    vm_flat(vm, code, sizeof(code));
    vm->cpu.regs[R_ESI] = vm->cpu.regs[R_EBX] = vm->cpu.regs[R_EDI] = 0x55555555;
    assert_int_equal(run(vm), CPU_EXIT_HALT);
    assert_int_equal(vm->cpu.regs[R_ECX], 7);
    assert_int_equal(vm->cpu.regs[R_ESI], 7);
    assert_true(cpu_get_eflags(&vm->cpu) & FLAG_CF);
    assert_true(vm->cpu.regs[R_EBX] != 0x55555555 || vm->cpu.regs[R_EDI] != 0x55555555);
    assert_int_equal(cpu_rdmsr(&vm->cpu, 0xc0000103u), 7);
    vm_free(vm);

    /* pentium3: each is #UD (IVT[6] in real mode). */
    static const uint8_t insns[4][4] = { { 0x0f, 0x01, 0xf9 }, { 0xf3, 0x0f, 0xc7, 0xfe },
                                         { 0x0f, 0xc7, 0xf3 }, { 0x0f, 0xc7, 0xff } };
    for (int k = 0; k < 4; k++) {
        vm = vm_new();
        vm->mem.ram[24] = 0x00; vm->mem.ram[25] = 0x11;
        vm->mem.ram[0x1100] = 0xf4;
        vm_real(vm, insns[k], 4);
        assert_int_equal(run(vm), CPU_EXIT_HALT);
        assert_int_equal(vm->cpu.eip, 0x1101);
        vm_free(vm);
    }
}

/* ---- Differential flag tests against the host CPU ---- */
#if defined(__x86_64__)

struct regs4 { uint32_t a, b, c, d; uint64_t f; };

#define HOST(name, text)                                                                     \
    static void host_##name(struct regs4 *r)                                                 \
    {                                                                                        \
        __asm__ volatile("sub $128, %%rsp\n\tpush %4\n\tpopfq\n\t" text "\n\tpushfq\n\tpop %4\n\tadd $128, %%rsp" \
                         : "+a"(r->a), "+b"(r->b), "+c"(r->c), "+d"(r->d), "+r"(r->f)      \
                         :                                                                   \
                         : "cc", "memory");                                                  \
    }

HOST(add32, "addl %%ebx, %%eax") HOST(adc32, "adcl %%ebx, %%eax") HOST(sub32, "subl %%ebx, %%eax")
HOST(sbb32, "sbbl %%ebx, %%eax") HOST(and32, "andl %%ebx, %%eax") HOST(or32, "orl %%ebx, %%eax")
HOST(xor32, "xorl %%ebx, %%eax") HOST(cmp32, "cmpl %%ebx, %%eax")
HOST(add16, "addw %%bx, %%ax") HOST(adc16, "adcw %%bx, %%ax") HOST(sub16, "subw %%bx, %%ax")
HOST(sbb16, "sbbw %%bx, %%ax") HOST(add8, "addb %%bl, %%al") HOST(adc8, "adcb %%bl, %%al")
HOST(sub8, "subb %%bl, %%al") HOST(sbb8, "sbbb %%bl, %%al") HOST(cmp8, "cmpb %%bl, %%al")
HOST(inc32, "incl %%eax") HOST(dec32, "decl %%eax") HOST(neg32, "negl %%eax") HOST(inc8, "incb %%al")
HOST(neg16, "negw %%ax")
HOST(shl32, "shll %%cl, %%eax") HOST(shr32, "shrl %%cl, %%eax") HOST(sar32, "sarl %%cl, %%eax")
HOST(rol32, "roll %%cl, %%eax") HOST(ror32, "rorl %%cl, %%eax") HOST(rcl32, "rcll %%cl, %%eax")
HOST(rcr32, "rcrl %%cl, %%eax") HOST(shl8, "shlb %%cl, %%al") HOST(shr16, "shrw %%cl, %%ax")
HOST(sar8, "sarb %%cl, %%al") HOST(rcl8, "rclb %%cl, %%al") HOST(rcr16, "rcrw %%cl, %%ax")
HOST(rol8, "rolb %%cl, %%al") HOST(ror16, "rorw %%cl, %%ax")
HOST(shld32, "shldl %%cl, %%ebx, %%eax") HOST(shrd32, "shrdl %%cl, %%ebx, %%eax")
HOST(shld16, "shldw %%cl, %%bx, %%ax") HOST(shrd16, "shrdw %%cl, %%bx, %%ax")
HOST(mul32, "mull %%ebx") HOST(imul32, "imull %%ebx") HOST(mul8, "mulb %%bl") HOST(imul16, "imulw %%bx")
HOST(imul2_32, "imull %%ebx, %%eax")
HOST(bsf32, "bsfl %%ebx, %%eax") HOST(bsr32, "bsrl %%ebx, %%eax") HOST(bt32, "btl %%ebx, %%eax")
HOST(bts32, "btsl %%ebx, %%eax") HOST(btc16, "btcw %%bx, %%ax")
HOST(xadd32, "xaddl %%ebx, %%eax") HOST(cmpxchg32, "cmpxchgl %%ebx, %%ecx")
HOST(test8, "testb %%bl, %%al")
HOST(shl32i, "shll $5, %%eax") HOST(shr32i, "shrl $31, %%eax") HOST(sar32i, "sarl $7, %%eax")
HOST(shl32one, "shll $1, %%eax") HOST(sar32one, "sarl $1, %%eax") HOST(shr32one, "shrl $1, %%eax")

struct diff_case {
    const char *name;
    void (*host)(struct regs4 *);
    uint8_t bytes[6];   /* the instruction in 32-bit code */
    uint8_t len;
    int map, op, reg;   /* for the undefined-flag mask */
    bool count_in_cl;
    uint8_t fixed_count;  /* immediate shift count (0: not a shift by immediate) */
};

#define C1(n, b0, b1, op, reg) { #n, host_##n, { b0, b1 }, 2, 0, op, reg, false, 0 }
#define C66(n, b1, b2, op, reg) { #n, host_##n, { 0x66, b1, b2 }, 3, 0, op, reg, false, 0 }
#define CSH(n, b0, b1, op, reg) { #n, host_##n, { b0, b1 }, 2, 0, op, reg, true, 0 }
#define CSH66(n, b1, b2, op, reg) { #n, host_##n, { 0x66, b1, b2 }, 3, 0, op, reg, true, 0 }

static const struct diff_case diff_cases[] = {
    C1(add32, 0x01, 0xd8, 0x01, 3), C1(adc32, 0x11, 0xd8, 0x11, 3), C1(sub32, 0x29, 0xd8, 0x29, 3),
    C1(sbb32, 0x19, 0xd8, 0x19, 3), C1(and32, 0x21, 0xd8, 0x21, 3), C1(or32, 0x09, 0xd8, 0x09, 3),
    C1(xor32, 0x31, 0xd8, 0x31, 3), C1(cmp32, 0x39, 0xd8, 0x39, 3),
    C66(add16, 0x01, 0xd8, 0x01, 3), C66(adc16, 0x11, 0xd8, 0x11, 3), C66(sub16, 0x29, 0xd8, 0x29, 3),
    C66(sbb16, 0x19, 0xd8, 0x19, 3),
    C1(add8, 0x00, 0xd8, 0x00, 3), C1(adc8, 0x10, 0xd8, 0x10, 3), C1(sub8, 0x28, 0xd8, 0x28, 3),
    C1(sbb8, 0x18, 0xd8, 0x18, 3), C1(cmp8, 0x38, 0xd8, 0x38, 3), C1(test8, 0x84, 0xd8, 0x84, 3),
    C1(inc32, 0xff, 0xc0, 0xff, 0), C1(dec32, 0xff, 0xc8, 0xff, 1), C1(neg32, 0xf7, 0xd8, 0xf7, 3),
    C1(inc8, 0xfe, 0xc0, 0xfe, 0), C66(neg16, 0xf7, 0xd8, 0xf7, 3),
    CSH(shl32, 0xd3, 0xe0, 0xd3, 4), CSH(shr32, 0xd3, 0xe8, 0xd3, 5), CSH(sar32, 0xd3, 0xf8, 0xd3, 7),
    CSH(rol32, 0xd3, 0xc0, 0xd3, 0), CSH(ror32, 0xd3, 0xc8, 0xd3, 1), CSH(rcl32, 0xd3, 0xd0, 0xd3, 2),
    CSH(rcr32, 0xd3, 0xd8, 0xd3, 3), CSH(shl8, 0xd2, 0xe0, 0xd2, 4), CSH66(shr16, 0xd3, 0xe8, 0xd3, 5),
    CSH(sar8, 0xd2, 0xf8, 0xd2, 7), CSH(rcl8, 0xd2, 0xd0, 0xd2, 2), CSH66(rcr16, 0xd3, 0xd8, 0xd3, 3),
    CSH(rol8, 0xd2, 0xc0, 0xd2, 0), CSH66(ror16, 0xd3, 0xc8, 0xd3, 1),
    { "shld32", host_shld32, { 0x0f, 0xa5, 0xd8 }, 3, 1, 0xa5, 3, true, 0 },
    { "shrd32", host_shrd32, { 0x0f, 0xad, 0xd8 }, 3, 1, 0xad, 3, true, 0 },
    { "shld16", host_shld16, { 0x66, 0x0f, 0xa5, 0xd8 }, 4, 1, 0xa5, 3, true, 0 },
    { "shrd16", host_shrd16, { 0x66, 0x0f, 0xad, 0xd8 }, 4, 1, 0xad, 3, true, 0 },
    C1(mul32, 0xf7, 0xe3, 0xf7, 4), C1(imul32, 0xf7, 0xeb, 0xf7, 5), C1(mul8, 0xf6, 0xe3, 0xf6, 4),
    C66(imul16, 0xf7, 0xeb, 0xf7, 5),
    { "imul2_32", host_imul2_32, { 0x0f, 0xaf, 0xc3 }, 3, 1, 0xaf, 0, false, 0 },
    { "bsf32", host_bsf32, { 0x0f, 0xbc, 0xc3 }, 3, 1, 0xbc, 0, false, 0 },
    { "bsr32", host_bsr32, { 0x0f, 0xbd, 0xc3 }, 3, 1, 0xbd, 0, false, 0 },
    { "bt32", host_bt32, { 0x0f, 0xa3, 0xd8 }, 3, 1, 0xa3, 3, false, 0 },
    { "bts32", host_bts32, { 0x0f, 0xab, 0xd8 }, 3, 1, 0xab, 3, false, 0 },
    { "btc16", host_btc16, { 0x66, 0x0f, 0xbb, 0xd8 }, 4, 1, 0xbb, 3, false, 0 },
    { "xadd32", host_xadd32, { 0x0f, 0xc1, 0xd8 }, 3, 1, 0xc1, 3, false, 0 },
    { "cmpxchg32", host_cmpxchg32, { 0x0f, 0xb1, 0xd9 }, 3, 1, 0xb1, 3, false, 0 },
    { "shl32i", host_shl32i, { 0xc1, 0xe0, 5 }, 3, 0, 0xc1, 4, false, 5 },
    { "shr32i", host_shr32i, { 0xc1, 0xe8, 31 }, 3, 0, 0xc1, 5, false, 31 },
    { "sar32i", host_sar32i, { 0xc1, 0xf8, 7 }, 3, 0, 0xc1, 7, false, 7 },
    { "shl32one", host_shl32one, { 0xd1, 0xe0 }, 2, 0, 0xd1, 4, false, 1 },
    { "sar32one", host_sar32one, { 0xd1, 0xf8 }, 2, 0, 0xd1, 7, false, 1 },
    { "shr32one", host_shr32one, { 0xd1, 0xe8 }, 2, 0, 0xd1, 5, false, 1 },
};


static uint32_t interesting(uint64_t *s)
{
    static const uint32_t v[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
                                  0x10000, 0x7fffffff, 0x80000000u, 0xffffffffu, 0x0f, 0x10,
                                  0x99, 0x09, 0xfffffffe };
    uint32_t r = rng_next(s);
    return (r & 3) ? v[r % (sizeof(v) / sizeof(v[0]))] : rng_next(s);
}

static void test_flags_vs_host(void **state)
{
    (void)state;
    struct vm *vm = vm_new();
    uint64_t seed = 12345;
    for (size_t ci = 0; ci < sizeof(diff_cases) / sizeof(diff_cases[0]); ci++) {
        const struct diff_case *dc = &diff_cases[ci];
        for (int iter = 0; iter < 300; iter++) {
            struct regs4 h;
            h.a = interesting(&seed);
            h.b = interesting(&seed);
            h.c = dc->count_in_cl ? (rng_next(&seed) % 40) : interesting(&seed);
            h.d = interesting(&seed);
            uint32_t fin = (rng_next(&seed) & FLAGS_ARITH) | FLAG_BIT1;
            h.f = fin;
            struct regs4 in = h;
            dc->host(&h);

            struct code c = { .n = 0 };
            mov_r32(&c, R_EAX, in.a);
            mov_r32(&c, R_EBX, in.b);
            mov_r32(&c, R_ECX, in.c);
            mov_r32(&c, R_EDX, in.d);
            emit(&c, 1, 0x68);
            emit32(&c, fin);
            emit(&c, 1, 0x9d);                      /* popf */
            for (int k = 0; k < dc->len; k++)
                emit(&c, 1, dc->bytes[k]);
            emit(&c, 3, 0x9c, 0x5e, 0xf4);         /* pushf; pop esi; hlt */
            cpu_reset(&vm->cpu);
            vm_flat(vm, c.b, c.n);
            cpu_flush_traces(&vm->cpu);
            assert_int_equal(run(vm), CPU_EXIT_HALT);
            struct cpu *cpu = &vm->cpu;
            unsigned count = dc->count_in_cl ? (in.c & 0x1f) : dc->fixed_count ? dc->fixed_count : 1;
            uint32_t undef = opcode_undef_flags(dc->map, (uint8_t)dc->op, dc->reg, count);
            uint32_t mask = FLAGS_ARITH & ~undef;
            bool bad = (cpu->regs[R_ESI] & mask) != ((uint32_t)h.f & mask) ||
                       cpu->regs[R_EAX] != h.a || cpu->regs[R_EBX] != h.b ||
                       cpu->regs[R_ECX] != h.c || cpu->regs[R_EDX] != h.d;
            /* Results that the SDM leaves undefined: SHLD/SHRD 16-bit counts above 16. */
            if (!strcmp(dc->name, "shld16") || !strcmp(dc->name, "shrd16"))
                if ((in.c & 0x1f) > 16)
                    bad = (cpu->regs[R_ESI] & mask & ~(FLAG_CF | FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF)) !=
                          ((uint32_t)h.f & mask & ~(FLAG_CF | FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF));
            if (bad) {
                print_error("%s: in a=%08x b=%08x c=%08x d=%08x f=%03x\n  host a=%08x b=%08x c=%08x d=%08x f=%03x\n"
                            "  pcvm a=%08x b=%08x c=%08x d=%08x f=%03x (mask %03x)\n",
                            dc->name, in.a, in.b, in.c, in.d, fin, h.a, h.b, h.c, h.d, (uint32_t)h.f & 0xfff,
                            cpu->regs[R_EAX], cpu->regs[R_EBX], cpu->regs[R_ECX], cpu->regs[R_EDX],
                            cpu->regs[R_ESI] & 0xfff, mask);
                fail();
            }
        }
    }
    vm_free(vm);
}

/* ---- Random single instructions against the host CPU ----
 * Register-only integer instructions encode the same in 32-bit and 64-bit code (except
 * 40-4F and PUSH/POP), so each one is run natively from an executable page and in pcvm from
 * the same register state, and every register and the defined flags are compared. */

struct native_state { uint32_t r[8]; uint64_t flags; };

/* Build: save callee-saved, load eax..edi (not esp) and flags from *rdi, run insn, store back. */
static size_t native_build(uint8_t *p, const uint8_t *insn, size_t len)
{
    size_t n = 0;
    static const uint8_t pro[] = { 0x53, 0x55, 0x41, 0x57, 0x49, 0x89, 0xff };
    memcpy(p + n, pro, sizeof(pro));
    n += sizeof(pro);
    for (int r = 0; r < 8; r++) {
        if (r == R_ESP)
            continue;
        p[n++] = 0x41; p[n++] = 0x8b; p[n++] = (uint8_t)(0x47 | (r << 3)); p[n++] = (uint8_t)(4 * r);
    }
    p[n++] = 0x41; p[n++] = 0xff; p[n++] = 0x77; p[n++] = 0x20;      /* push qword [r15+32] */
    p[n++] = 0x9d;                                                   /* popfq */
    memcpy(p + n, insn, len);
    n += len;
    p[n++] = 0x9c;                                                   /* pushfq */
    p[n++] = 0x41; p[n++] = 0x8f; p[n++] = 0x47; p[n++] = 0x20;      /* pop qword [r15+32] */
    for (int r = 0; r < 8; r++) {
        if (r == R_ESP)
            continue;
        p[n++] = 0x41; p[n++] = 0x89; p[n++] = (uint8_t)(0x47 | (r << 3)); p[n++] = (uint8_t)(4 * r);
    }
    static const uint8_t epi[] = { 0x41, 0x5f, 0x5d, 0x5b, 0xc3 };
    memcpy(p + n, epi, sizeof(epi));
    return n + sizeof(epi);
}

/* A random register-form ModRM avoiding ESP/SP (and AH..BH pairs are fine). */
static uint8_t rand_modrm(uint64_t *seed, int fixed_reg)
{
    unsigned reg, rm;
    do
        reg = fixed_reg >= 0 ? (unsigned)fixed_reg : rng_next(seed) & 7;
    while (fixed_reg < 0 && reg == R_ESP);
    do
        rm = rng_next(seed) & 7;
    while (rm == R_ESP);
    return (uint8_t)(0xc0 | (reg << 3) | rm);
}

/* Generate one instruction; fills map/op/reg for the undefined-flag lookup and the count. */
static size_t gen_insn(uint64_t *seed, uint8_t *b, int *map, uint8_t *op, int *reg, bool *byte_op,
                       bool *word_op, bool *skip_16bit_big_shift)
{
    size_t n = 0;
    *word_op = (rng_next(seed) % 4) == 0;
    *skip_16bit_big_shift = false;
    if (*word_op)
        b[n++] = 0x66;
    unsigned kind = rng_next(seed) % 16;
    *map = 0;
    *byte_op = false;
    switch (kind) {
    case 0: case 1: { /* ALU r/m, r and r, r/m, all sizes */
        uint8_t o = (uint8_t)(((rng_next(seed) % 8) << 3) | (rng_next(seed) % 4));
        *byte_op = !(o & 1);
        b[n++] = o; b[n++] = rand_modrm(seed, -1);
        *op = o; *reg = 0;
        break;
    }
    case 2: { /* group 1 immediates */
        static const uint8_t g[] = { 0x80, 0x81, 0x83 };
        uint8_t o = g[rng_next(seed) % 3];
        uint8_t m = rand_modrm(seed, (int)(rng_next(seed) % 8));
        b[n++] = o; b[n++] = m;
        b[n++] = (uint8_t)rng_next(seed);
        if (o == 0x81) {
            b[n++] = (uint8_t)rng_next(seed);
            if (!*word_op) { b[n++] = (uint8_t)rng_next(seed); b[n++] = (uint8_t)rng_next(seed); }
        }
        *byte_op = o == 0x80;
        *op = o; *reg = (m >> 3) & 7;
        break;
    }
    case 3: case 4: { /* shifts and rotates */
        static const uint8_t g[] = { 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3 };
        uint8_t o = g[rng_next(seed) % 6];
        unsigned r;
        do r = rng_next(seed) % 8; while (r == 6);
        uint8_t m = rand_modrm(seed, (int)r);
        b[n++] = o; b[n++] = m;
        if (o == 0xc0 || o == 0xc1)
            b[n++] = (uint8_t)(rng_next(seed) % 40);
        *byte_op = !(o & 1);
        *op = o; *reg = (int)r;
        break;
    }
    case 5: { /* group 3 without DIV */
        uint8_t o = (rng_next(seed) & 1) ? 0xf7 : 0xf6;
        unsigned r = rng_next(seed) % 6;
        uint8_t m = rand_modrm(seed, (int)r);
        b[n++] = o; b[n++] = m;
        if (r < 2) {
            b[n++] = (uint8_t)rng_next(seed);
            if (o == 0xf7) {
                b[n++] = (uint8_t)rng_next(seed);
                if (!*word_op) { b[n++] = (uint8_t)rng_next(seed); b[n++] = (uint8_t)rng_next(seed); }
            }
        }
        *byte_op = o == 0xf6;
        *op = o; *reg = (int)r;
        break;
    }
    case 6: { /* INC/DEC r/m, TEST, XCHG */
        static const uint8_t g[] = { 0xfe, 0xff, 0x84, 0x85, 0x86, 0x87 };
        uint8_t o = g[rng_next(seed) % 6];
        int r = (o == 0xfe || o == 0xff) ? (int)(rng_next(seed) & 1) : -1;
        uint8_t m = rand_modrm(seed, r);
        b[n++] = o; b[n++] = m;
        *byte_op = !(o & 1);
        *op = o; *reg = (m >> 3) & 7;
        break;
    }
    case 7: { /* 0F two-operand: IMUL, BSF, BSR, BT*, MOVZX/SX, XADD, CMPXCHG, SHLD/SHRD */
        static const uint8_t g[] = { 0xaf, 0xbc, 0xbd, 0xa3, 0xab, 0xb3, 0xbb, 0xb6, 0xb7, 0xbe, 0xbf,
                                     0xc0, 0xc1, 0xb0, 0xb1, 0xa4, 0xa5, 0xac, 0xad };
        uint8_t o = g[rng_next(seed) % sizeof(g)];
        b[n++] = 0x0f; b[n++] = o; b[n++] = rand_modrm(seed, -1);
        if (o == 0xa4 || o == 0xac)
            b[n++] = (uint8_t)(rng_next(seed) % 40);
        *map = 1;
        *byte_op = o == 0xc0 || o == 0xb0;
        *op = o; *reg = 0;
        if (*word_op && (o == 0xa4 || o == 0xa5 || o == 0xac || o == 0xad))
            *skip_16bit_big_shift = true;
        break;
    }
    case 8: { /* BT* imm */
        unsigned r = 4 + rng_next(seed) % 4;
        b[n++] = 0x0f; b[n++] = 0xba; b[n++] = rand_modrm(seed, (int)r); b[n++] = (uint8_t)rng_next(seed);
        *map = 1; *op = 0xba; *reg = (int)r;
        break;
    }
    case 9: { /* CMOVcc, SETcc */
        if (rng_next(seed) & 1) {
            uint8_t o = (uint8_t)(0x40 + rng_next(seed) % 16);
            b[n++] = 0x0f; b[n++] = o; b[n++] = rand_modrm(seed, -1);
            *op = o;
        } else {
            uint8_t o = (uint8_t)(0x90 + rng_next(seed) % 16);
            b[n++] = 0x0f; b[n++] = o; b[n++] = rand_modrm(seed, 0);
            *op = o;
            *byte_op = true;
        }
        *map = 1; *reg = 0;
        break;
    }
    case 10: { /* IMUL imm */
        uint8_t o = (rng_next(seed) & 1) ? 0x69 : 0x6b;
        b[n++] = o; b[n++] = rand_modrm(seed, -1);
        b[n++] = (uint8_t)rng_next(seed);
        if (o == 0x69) {
            b[n++] = (uint8_t)rng_next(seed);
            if (!*word_op) { b[n++] = (uint8_t)rng_next(seed); b[n++] = (uint8_t)rng_next(seed); }
        }
        *op = o; *reg = 0;
        break;
    }
    case 11: { /* one-byte flag and accumulator ops */
        static const uint8_t g[] = { 0x98, 0x99, 0xf5, 0xf8, 0xf9, 0x9e, 0x9f, 0x90 };
        uint8_t o = g[rng_next(seed) % sizeof(g)];
        b[n++] = o;
        *op = o; *reg = 0;
        break;
    }
    case 12: { /* accumulator immediates: ALU AL/eAX, imm and TEST */
        uint8_t o = (uint8_t)(((rng_next(seed) % 8) << 3) | 4 | (rng_next(seed) & 1));
        if (rng_next(seed) % 4 == 0)
            o = (uint8_t)(0xa8 | (rng_next(seed) & 1));
        b[n++] = o;
        b[n++] = (uint8_t)rng_next(seed);
        if (o & 1) {
            b[n++] = (uint8_t)rng_next(seed);
            if (!*word_op) { b[n++] = (uint8_t)rng_next(seed); b[n++] = (uint8_t)rng_next(seed); }
        }
        *byte_op = !(o & 1);
        *op = o; *reg = 0;
        break;
    }
    case 13: { /* MOV forms and LEA with a register base and disp8 */
        if (rng_next(seed) & 1) {
            uint8_t o = (uint8_t)(0x88 + rng_next(seed) % 4);
            b[n++] = o; b[n++] = rand_modrm(seed, -1);
            *op = o;
            *byte_op = !(o & 1);
        } else {
            unsigned reg, rm;
            do reg = rng_next(seed) & 7; while (reg == R_ESP);
            do rm = rng_next(seed) & 7; while (rm == R_ESP);
            b[n++] = 0x8d; b[n++] = (uint8_t)(0x40 | (reg << 3) | rm); b[n++] = (uint8_t)rng_next(seed);
            *op = 0x8d;
        }
        *reg = 0;
        break;
    }
    case 14: { /* MOV reg, imm */
        unsigned r;
        do r = rng_next(seed) & 15; while ((r & 7) == R_ESP && r >= 8);
        b[n++] = (uint8_t)(0xb0 + r);
        b[n++] = (uint8_t)rng_next(seed);
        if (r >= 8) {
            b[n++] = (uint8_t)rng_next(seed);
            if (!*word_op) { b[n++] = (uint8_t)rng_next(seed); b[n++] = (uint8_t)rng_next(seed); }
        }
        *op = (uint8_t)(0xb0 + r); *reg = 0;
        break;
    }
    default: { /* BSWAP (32-bit only) */
        if (*word_op) { b[0] = 0x90; n = 1; }
        unsigned r;
        do r = rng_next(seed) & 7; while (r == R_ESP);
        b[n++] = 0x0f; b[n++] = (uint8_t)(0xc8 + r);
        *map = 1; *op = (uint8_t)(0xc8 + r); *reg = 0;
        *word_op = false;
        break;
    }
    }
    return n;
}

static void test_random_insns_vs_host(void **state)
{
    (void)state;
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        skip();
    struct vm *vm = vm_new();
    const char *env = getenv("PCVM_TEST_ITERS");
    int iters = env ? atoi(env) : 6000;
    uint64_t seed = env ? (uint64_t)iters * 31 : 777;
    int failures = 0;
    for (int iter = 0; iter < iters && failures < 5; iter++) {
        uint8_t insn[16];
        int map, reg;
        uint8_t op = 0;
        bool byte_op, word_op, skip16;
        size_t len = gen_insn(&seed, insn, &map, &op, &reg, &byte_op, &word_op, &skip16);
        struct native_state ns;
        for (int r = 0; r < 8; r++)
            ns.r[r] = interesting(&seed);
        ns.r[R_ESP] = 0;
        ns.r[R_ECX] = (rng_next(&seed) & 1) ? ns.r[R_ECX] : (rng_next(&seed) % 40);
        uint32_t fin = (rng_next(&seed) & FLAGS_ARITH) | FLAG_BIT1;
        ns.flags = fin;
        struct native_state in = ns;
        native_build(page, insn, len);
        ((void (*)(struct native_state *))(void *)page)(&ns);

        struct code c = { .n = 0 };
        emit(&c, 1, 0x68);
        emit32(&c, fin);
        emit(&c, 1, 0x9d);
        for (size_t k = 0; k < len; k++)
            emit(&c, 1, insn[k]);
        emit(&c, 1, 0xf4);
        cpu_reset(&vm->cpu);
        vm_flat(vm, c.b, c.n);
        cpu_flush_traces(&vm->cpu);
        for (int r = 0; r < 8; r++)
            if (r != R_ESP)
                vm->cpu.regs[r] = in.r[r];
        assert_int_equal(run(vm), CPU_EXIT_HALT);
        uint32_t f = cpu_get_eflags(&vm->cpu);

        unsigned count = 1;
        bool shift = map == 0 && (op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3));
        bool dshift = map == 1 && (op == 0xa4 || op == 0xa5 || op == 0xac || op == 0xad);
        if (shift || dshift) {
            bool by_cl = (map == 0 && (op == 0xd2 || op == 0xd3)) || (map == 1 && (op & 1));
            bool by_one = map == 0 && (op == 0xd0 || op == 0xd1);
            count = by_cl ? (in.r[R_ECX] & 0x1f) : by_one ? 1 : (insn[len - 1] & 0x1f);
        }
        if (skip16 && count > 16)
            continue;
        uint32_t undef = opcode_undef_flags(map, op, reg, count);
        /* Rotates by a count that is a multiple of the width but not 0: OF undefined too. */
        if (shift && reg < 4 && count > 1)
            undef |= FLAG_OF;
        /* 8/16-bit shifts by counts >= the width: CF is undefined (SDM SHL/SHR). */
        if (shift && reg >= 4 && count >= (byte_op ? 8u : word_op ? 16u : 32u))
            undef |= FLAG_CF | FLAG_OF;
        uint32_t mask = FLAGS_ARITH & ~undef;
        bool bad = (f & mask) != ((uint32_t)ns.flags & mask);
        for (int r = 0; r < 8; r++)
            if (r != R_ESP && vm->cpu.regs[r] != ns.r[r])
                bad = true;
        if (bad) {
            char text[96] = "";
            cpu_disasm(&vm->cpu, CODE + 6, text, sizeof(text));
            print_error("insn %s (", text);
            for (size_t k = 0; k < len; k++)
                print_error("%02x ", insn[k]);
            print_error(") flags in %03x host %03x pcvm %03x mask %03x\n", fin, (uint32_t)ns.flags & 0xfff,
                        f & 0xfff, mask);
            for (int r = 0; r < 8; r++)
                print_error("  r%d in %08x host %08x pcvm %08x%s\n", r, in.r[r], ns.r[r], vm->cpu.regs[r],
                            ns.r[r] != vm->cpu.regs[r] && r != R_ESP ? "  <--" : "");
            failures++;
        }
    }
    vm_free(vm);
    munmap(page, 4096);
    assert_int_equal(failures, 0);
}

/* The same random instructions with their r/m operand moved to memory ([disp32], sometimes
 * unaligned or across a page): pcvm's memory forms must give the host's register-form
 * results, in memory instead of the register. */
static void test_random_memory_forms_vs_host(void **state)
{
    (void)state;
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        skip();
    struct vm *vm = vm_new();
    const char *env = getenv("PCVM_TEST_ITERS");
    int iters = env ? atoi(env) : 6000;
    uint64_t seed = env ? (uint64_t)iters * 17 : 991;
    int failures = 0, tested = 0;
    for (int iter = 0; iter < iters && failures < 5; iter++) {
        uint8_t insn[16];
        int map, reg;
        uint8_t op = 0;
        bool byte_op, word_op, skip16;
        size_t len = gen_insn(&seed, insn, &map, &op, &reg, &byte_op, &word_op, &skip16);
        size_t mpos = (insn[0] == 0x66 ? 1u : 0u) + (map ? 2u : 1u);
        bool has_modrm = map ? !(op >= 0xc8 && op <= 0xcf)
                             : ((op < 0x40 && (op & 7) < 4) || (op >= 0x80 && op <= 0x8b) || op == 0x69 ||
                                op == 0x6b || op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3) ||
                                op == 0xf6 || op == 0xf7 || op == 0xfe || op == 0xff);
        if (!has_modrm || mpos >= len || (insn[mpos] & 0xc0) != 0xc0)
            continue;
        if (map && (op == 0xa3 || op == 0xab || op == 0xb3 || op == 0xbb))
            continue;                       /* BT with a register offset may leave the operand */
        unsigned m = insn[mpos], mreg = (m >> 3) & 7, mrm = m & 7;
        bool group = (!map && ((op >= 0x80 && op <= 0x83) || op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3) ||
                               op == 0xf6 || op == 0xf7 || op == 0xfe || op == 0xff)) ||
                     (map && (op == 0xba || (op >= 0x90 && op <= 0x9f)));
        unsigned esize = byte_op ? 1 : (map && (op == 0xb6 || op == 0xbe)) ? 1
                       : (map && (op == 0xb7 || op == 0xbf)) ? 2 : word_op ? 2 : 4;
        unsigned rm_full = esize == 1 ? (mrm & 3) : mrm;
        unsigned reg_full = (byte_op && !(map && (op == 0xb6 || op == 0xbe))) ? (mreg & 3) : mreg;
        if (!group && reg_full == rm_full)
            continue;
        if (!map && (op == 0xf6 || op == 0xf7) && reg >= 4 && (rm_full == R_EAX || rm_full == R_EDX))
            continue;                       /* implicit EAX/EDX */
        if (map && (op == 0xb0 || op == 0xb1) && rm_full == R_EAX)
            continue;                       /* CMPXCHG's implicit accumulator */
        struct native_state ns;
        for (int r = 0; r < 8; r++)
            ns.r[r] = interesting(&seed);
        ns.r[R_ESP] = 0;
        ns.r[R_ECX] = (rng_next(&seed) & 1) ? ns.r[R_ECX] : (rng_next(&seed) % 40);
        uint32_t fin = (rng_next(&seed) & FLAGS_ARITH) | FLAG_BIT1;
        ns.flags = fin;
        struct native_state in = ns;
        native_build(page, insn, len);
        ((void (*)(struct native_state *))(void *)page)(&ns);

        unsigned shift = (esize == 1 && mrm >= 4) ? 8 : 0;
        uint32_t emask = esize == 4 ? 0xffffffffu : esize == 2 ? 0xffffu : 0xffu;
        uint32_t in_val = (in.r[rm_full] >> shift) & emask, out_val = (ns.r[rm_full] >> shift) & emask;
        uint32_t addr = (rng_next(&seed) & 1) ? 0x5000 + rng_next(&seed) % 16 : 0x5ffd + rng_next(&seed) % 3;

        struct code c = { .n = 0 };
        emit(&c, 1, 0x68);
        emit32(&c, fin);
        emit(&c, 1, 0x9d);
        for (size_t k = 0; k < mpos; k++)
            emit(&c, 1, insn[k]);
        emit(&c, 1, (m & 0x38) | 0x05);
        emit32(&c, addr);
        for (size_t k = mpos + 1; k < len; k++)
            emit(&c, 1, insn[k]);
        emit(&c, 1, 0xf4);
        cpu_reset(&vm->cpu);
        vm_flat(vm, c.b, c.n);
        cpu_flush_traces(&vm->cpu);
        memset(vm->mem.ram + 0x5000, 0xcc, 0x1010);
        memcpy(vm->mem.ram + addr, &in_val, esize);
        for (int r = 0; r < 8; r++)
            if (r != R_ESP)
                vm->cpu.regs[r] = in.r[r];
        assert_int_equal(run(vm), CPU_EXIT_HALT);
        uint32_t f = cpu_get_eflags(&vm->cpu), got = 0;
        memcpy(&got, vm->mem.ram + addr, esize);

        unsigned count = 1;
        bool shift_op = !map && (op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3));
        bool dshift = map && (op == 0xa4 || op == 0xa5 || op == 0xac || op == 0xad);
        if (shift_op || dshift) {
            bool by_cl = (!map && (op == 0xd2 || op == 0xd3)) || (map && (op & 1));
            bool by_one = !map && (op == 0xd0 || op == 0xd1);
            count = by_cl ? (in.r[R_ECX] & 0x1f) : by_one ? 1 : (insn[len - 1] & 0x1f);
        }
        if (skip16 && count > 16)
            continue;
        uint32_t undef = opcode_undef_flags(map, op, reg, count);
        if (shift_op && reg < 4 && count > 1)
            undef |= FLAG_OF;
        if (shift_op && reg >= 4 && count >= (byte_op ? 8u : word_op ? 16u : 32u))
            undef |= FLAG_CF | FLAG_OF;
        uint32_t mask = FLAGS_ARITH & ~undef;
        tested++;
        bool bad = (f & mask) != ((uint32_t)ns.flags & mask) || got != out_val;
        for (int r = 0; r < 8; r++) {
            if (r == R_ESP)
                continue;
            uint32_t want = (unsigned)r == rm_full ? in.r[r] : ns.r[r];
            if (vm->cpu.regs[r] != want)
                bad = true;
        }
        if (bad) {
            char text[96] = "";
            cpu_disasm(&vm->cpu, CODE + 6, text, sizeof(text));
            print_error("insn %s at %05x: mem in %08x host %08x pcvm %08x; flags in %03x host %03x pcvm %03x mask %03x\n",
                        text, addr, in_val, out_val, got, fin, (uint32_t)ns.flags & 0xfff, f & 0xfff, mask);
            for (int r = 0; r < 8; r++)
                print_error("  r%d in %08x host %08x pcvm %08x\n", r, in.r[r], ns.r[r], vm->cpu.regs[r]);
            failures++;
        }
    }
    vm_free(vm);
    munmap(page, 4096);
    assert_int_equal(failures, 0);
    assert_true(tested > iters / 4);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_mode_loop),
        cmocka_unit_test(test_exact_budget),
        cmocka_unit_test(test_call_ret_stack16),
        cmocka_unit_test(test_rep_movsb_and_stos),
        cmocka_unit_test(test_repe_cmpsb),
        cmocka_unit_test(test_flat32_memory_and_sib),
        cmocka_unit_test(test_self_modifying_code),
        cmocka_unit_test(test_insn_across_page),
        cmocka_unit_test(test_insn_across_page_remapped),
        cmocka_unit_test(test_divide_error_real_mode),
        cmocka_unit_test(test_port_io),
        cmocka_unit_test(test_enter_leave_nested),
        cmocka_unit_test(test_lock_register_is_ud),
        cmocka_unit_test(test_popcnt_lzcnt_per_model),
        cmocka_unit_test(test_disasm),
        cmocka_unit_test(test_rep_movs_page_fault_restart),
        cmocka_unit_test(test_single_step_trap),
        cmocka_unit_test(test_data_breakpoint_trap),
        cmocka_unit_test(test_nmi_blocked_until_iret),
        cmocka_unit_test(test_bcd),
        cmocka_unit_test(test_divide),
        cmocka_unit_test(test_addressing16),
        cmocka_unit_test(test_external_interrupt),
        cmocka_unit_test(test_vme_virtual_if),
        cmocka_unit_test(test_vme_int_redirect),
        cmocka_unit_test(test_model_486_levels),
        cmocka_unit_test(test_vex_or_les),
        cmocka_unit_test(test_tsc_aux_rdrand),
        cmocka_unit_test(test_code_breakpoint),
        cmocka_unit_test(test_random_bytes_robust),
        cmocka_unit_test(test_debugger_breakpoint_and_step),
        cmocka_unit_test(test_debugger_watchpoints),
        cmocka_unit_test(test_spin_handoff),
#if defined(__x86_64__)
        cmocka_unit_test(test_flags_vs_host),
        cmocka_unit_test(test_random_insns_vs_host),
        cmocka_unit_test(test_random_memory_forms_vs_host),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

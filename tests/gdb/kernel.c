/* A small Multiboot kernel with symbols for the gdb stub tests (tests/gdb/run.sh).
 * It runs a fixed sequence that the gdb scripts stop in: a breakpoint at main, calls to
 * compute() and add() (bt, finish, next), a write of `counter` (watch), a read and a write
 * of `shared_value` (rwatch, awatch), SSE registers loaded from `pattern`, then it spins
 * until gdb sets `release` and exits through isa-debug-exit: status 3 when gdb set
 * `magic` to 42, 1 otherwise. Built with gcc -m32 -ffreestanding -nostdlib -g. */
#include <stdint.h>

#define MB_MAGIC 0x1BADB002u
#define MB_FLAGS 0x00000003u   /* page-aligned modules, memory info */

__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t multiboot_header[3] = { MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS) };

static uint8_t stack[16384] __attribute__((aligned(16), used));

volatile int counter;
volatile int shared_value = 7;
volatile int magic;
volatile int release;
volatile uint32_t spins;
uint32_t pattern[4] __attribute__((aligned(16))) = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 };

void main(void);

__asm__(".globl _start\n"
        "_start:\n"
        "  mov $stack + 16384, %esp\n"
        "  call main\n"
        "1: hlt\n"
        "  jmp 1b\n");

static void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static void serial_puts(const char *s)
{
    while (*s)
        outb(0x3f8, (uint8_t)*s++);
}

int add(int a, int b)
{
    return a + b;
}

int compute(int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++)
        sum = add(sum, i);
    return sum;
}

static void enable_sse(void)
{
    uint32_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~4u) | 2u;                    /* EM off, MP on */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 0x600;                              /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
}

void load_done(void)
{
    serial_puts("kernel: sse loaded\n");
}

void main(void)
{
    serial_puts("kernel: start\n");
    enable_sse();
    counter = 1;
    int r = compute(4);
    counter = r;
    int x = shared_value;
    shared_value = x + 1;
    __asm__ volatile("movaps %0, %%xmm0" : : "m"(pattern));
    load_done();
    while (!release)
        spins++;
    serial_puts(magic == 42 ? "kernel: magic set\n" : "kernel: magic unset\n");
    outl(0xf4, magic == 42 ? 1 : 0);
    for (;;)
        __asm__ volatile("hlt");
}

/* Integer-loop speed of the interpreter (MIPS), without the board.
 * Build: gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc tests/cpu/exec/bench_loop.c build/libpcvm.a -lm
 * Run: ./a.out [iterations] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void code_write_hook(void *opaque, uint32_t paddr, unsigned len)
{
    cpu_code_written(opaque, paddr, len);
}

int main(int argc, char **argv)
{
    uint32_t iters = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 20000000u;
    int kind = argc > 2 ? atoi(argv[2]) : 0;
    static struct phys_mem mem;
    static struct io_bus io;
    static struct cpu cpu;
    if (phys_mem_init(&mem, 16u << 20, 16u << 20) < 0)
        return 1;
    io_bus_init(&io);
    cpu_init(&cpu, 0, cpu_model_find("pentium3"), &mem, &io, NULL, NULL, NULL);
    mem.code_write = code_write_hook;
    mem.code_write_opaque = &cpu;
    /* mov ecx, iters; mov esi, 0x10000
     * l: mov eax, [esi]; add eax, ecx; mov [esi+4], eax; xor edx, eax; shl edx, 1;
     *    inc ebx; cmp ebx, edx; dec ecx; jnz l; hlt                          (9 per iteration) */
    uint8_t alu[] = {
        0xb9, 0, 0, 0, 0, 0xbe, 0x00, 0x00, 0x01, 0x00,
        0x8b, 0x06, 0x01, 0xc8, 0x89, 0x46, 0x04, 0x31, 0xc2, 0xd1, 0xe2,
        0x43, 0x39, 0xd3, 0x49, 0x75, 0xef, 0xf4,
    };
    /* mov ecx, iters; l: call f; dec ecx; jnz l; hlt; f: push ebp; mov ebp, esp; mov eax, [ebp+8];
     * add eax, ecx; pop ebp; ret                                            (9 per iteration) */
    uint8_t call[] = {
        0xb9, 0, 0, 0, 0, 0xe8, 0x04, 0, 0, 0, 0x49, 0x75, 0xf8, 0xf4,
        0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0x01, 0xc8, 0x5d, 0xc3,
    };
    uint8_t *code = kind == 1 ? call : alu;
    size_t len = kind == 1 ? sizeof(call) : sizeof(alu);
    memcpy(code + 1, &iters, 4);
    memcpy(mem.ram + 0x1000, code, len);
    cpu.cr0 |= CR0_PE;
    for (int s = 0; s < SEG_COUNT; s++) {
        cpu.seg[s].sel = s == SEG_CS ? 8 : 16;
        cpu.seg[s].base = 0;
        cpu.seg[s].limit = 0xffffffffu;
        cpu.seg[s].flags = ((s == SEG_CS ? 0xbu : 0x3u) << SEG_FLAG_TYPE_SHIFT) | SEG_FLAG_S |
                           SEG_FLAG_P | SEG_FLAG_DB | SEG_FLAG_G;
    }
    cpu_update_mode(&cpu);
    cpu.eip = 0x1000;
    cpu.regs[R_ESP] = 0x80000;
    double t0 = now();
    enum cpu_exit_reason r;
    do
        r = cpu_run(&cpu, 1000000);
    while (r == CPU_EXIT_BUDGET);
    double t1 = now();
    printf("%llu instructions in %.3f s: %.1f MIPS (exit %d)\n", (unsigned long long)cpu.insn_count,
           t1 - t0, cpu.insn_count / (t1 - t0) / 1e6, (int)r);
    return 0;
}

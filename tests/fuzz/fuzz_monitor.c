/* libFuzzer target: the human monitor's line editor and command interpreter.  Bytes are typed
 * into monitor_input() on a chardev that only counts output, with machine callbacks that just
 * record the call.  Checked on every input: the edited line stays shorter than MONITOR_LINE_MAX,
 * history entries are NUL-terminated and its indexes in range, the escape state is one of its
 * three values, and the monitor keeps answering (a final command prints a new prompt).
 * Sources: src/monitor/*.c src/chardev/[a-z]*.c src/cli/kvlist.c src/util/mainloop.c
 *          -lutil -lpthread -ljansson */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "monitor/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    size_t bytes;       /* everything written */
    size_t prompts;     /* how many times the prompt's last byte pattern was seen */
    char tail[8];       /* the last bytes written, to spot "(qemu) " */
};

struct machine {
    unsigned stops, conts, resets, powerdowns, quits, infos;
    int running;
};

static void sink_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct sink *s = chr->priv;
    s->bytes += len;
    for (size_t i = 0; i < len; i++) {
        memmove(s->tail, s->tail + 1, sizeof(s->tail) - 2);
        s->tail[sizeof(s->tail) - 2] = (char)buf[i];
        s->tail[sizeof(s->tail) - 1] = '\0';
        if (!strcmp(s->tail + sizeof(s->tail) - 1 - strlen(MONITOR_PROMPT), MONITOR_PROMPT))
            s->prompts++;
    }
}

static void sink_close(struct chardev *chr)
{
    (void)chr;
}

static const struct chardev_ops sink_ops = { .write = sink_write, .close = sink_close };

static const char *m_status(void *o)
{
    return ((struct machine *)o)->running ? "running" : "paused";
}
static void m_stop(void *o) { struct machine *m = o; m->stops++; m->running = 0; }
static void m_cont(void *o) { struct machine *m = o; m->conts++; m->running = 1; }
static void m_reset(void *o) { ((struct machine *)o)->resets++; }
static void m_powerdown(void *o) { ((struct machine *)o)->powerdowns++; }
static void m_quit(void *o) { ((struct machine *)o)->quits++; }
static void m_info(void *o, struct monitor *mon)
{
    ((struct machine *)o)->infos++;
    monitor_printf(mon, "EAX=%08x %s\n", 0x12345678u, "stub");
}

static const struct monitor_ops full_ops = {
    .status = m_status, .stop = m_stop, .cont = m_cont, .system_reset = m_reset,
    .system_powerdown = m_powerdown, .quit = m_quit, .info_registers = m_info,
    .info_qtree = m_info,
};
static const struct monitor_ops no_ops;   /* every callback "not available" */

static void check(const struct monitor *mon)
{
    if (mon->len >= MONITOR_LINE_MAX || mon->hist_count > MONITOR_HISTORY ||
        mon->hist_pos > mon->hist_count || mon->esc_state < 0 || mon->esc_state > 2) {
        fprintf(stderr, "monitor state out of range: len %zu hist %u/%u esc %d\n", mon->len,
                mon->hist_pos, mon->hist_count, mon->esc_state);
        abort();
    }
    for (unsigned i = 0; i < mon->hist_count; i++)
        if (!memchr(mon->history[i], '\0', MONITOR_LINE_MAX)) {
            fprintf(stderr, "history entry %u is not NUL-terminated\n", i);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    struct sink sink = { 0 };
    struct chardev chr = { .label = "fuzz-monitor", .ops = &sink_ops, .priv = &sink };
    struct machine machine = { .running = 1 };
    /* The first byte picks the callbacks and how the input is cut into deliveries. */
    const struct monitor_ops *ops = (data[0] & 1) ? &no_ops : &full_ops;
    size_t chunk = 1 + (data[0] >> 1);
    data++;
    size--;
    struct monitor *mon = monitor_new(&chr, ops, &machine);
    if (!mon)
        return 0;
    monitor_show_prompt(mon);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        /* Half the time through the chardev's front-end callback, as the main loop does. */
        if ((off / chunk) & 1 && chr.fe_read)
            chr.fe_read(chr.fe_opaque, data + off, n);
        else
            monitor_input(mon, data + off, n);
        check(mon);
    }
    /* Whatever came before, ^U (kill line) and a harmless command must still give a prompt. */
    size_t before = sink.prompts;
    static const uint8_t tail[] = "\x1b\x1b[A\x15\x03\r\ninfo status\r\n";
    monitor_input(mon, tail, sizeof(tail) - 1);
    check(mon);
    if (sink.prompts <= before) {
        fprintf(stderr, "the monitor printed no prompt after a final command\n");
        abort();
    }
    monitor_free(mon);
    return 0;
}

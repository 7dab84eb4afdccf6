/* libFuzzer target: QMP and HMP input against the real pc board's command tables.  A small
 * machine (16 MiB, no devices beyond the board) is built once; each input is either a QMP byte
 * stream (first byte even) fed in chunks to a QMP session, or HMP command lines (odd) run one
 * by one.  Commands that write or open host files (memsave, pmemsave, logfile, change,
 * blockdev-change-medium) are left out of the tables the fuzzer reaches.
 * Checked: every QMP message written is one JSON object with exactly one of QMP/return/error/
 * event, errors carry a class and a description, and the session answers a final request
 * (with its id) whenever the input left no request open; every HMP command's output is whole
 * lines, an unknown command gives exactly one error line, and "info status" still answers.
 * Sources: src/block/[a-z]*.c src/boot/[a-z]*.c src/chardev/[a-z]*.c src/cli/[a-z]*.c
 *          src/cpu/[a-z]*.c src/hw/[a-z]*.c src/machine/[a-z]*.c src/mem/[a-z]*.c
 *          src/monitor/[a-z]*.c src/util/[a-z]*.c src/net/[a-z]*.c src/gdbstub/[a-z]*.c
 *          src/ui/[a-z]*.c src/migration/[a-z]*.c src/fs/[a-z]*.c -lvncserver -lSDL2 -lpng -lxkbcommon
 *          -lz -lzstd -ljansson -lslirp -lpthread -lm -lutil */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "cli/wiring.h"
#include "machine/pc.h"
#include "monitor/monitor.h"
#include "monitor/qmp.h"
#include "monitor/registry.h"
#include "util/mainloop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const denied[] = { "memsave", "pmemsave", "logfile", "change",
                                      "blockdev-change-medium", NULL };

static struct pc pc;
static struct monitor_registry reg;      /* pc's tables minus the denied commands */
static struct hmp_command hmp_copy[MONITOR_MAX_TABLES][64];
static struct qmp_command qmp_copy[MONITOR_MAX_TABLES][64];

static bool is_denied(const char *name)
{
    for (int i = 0; denied[i]; i++)
        if (!strcmp(name, denied[i]))
            return true;
    return false;
}

static void build_machine(void)
{
    static struct vm_config cfg;
    static struct mainloop ml;
    static struct vm_chardevs cd;
    static struct pcvm_log log;
    char *argv[] = { "pcvm", "-m", "16", "-nodefaults", "-display", "none", "-smp", "2", NULL };
    char err[512];
    log.out = stderr;
    if (vm_config_parse(&cfg, 8, argv, err, sizeof(err)) != VM_PARSE_OK || mainloop_init(&ml) < 0 ||
        vm_chardevs_open(&cd, &cfg, &ml, err, sizeof(err)) < 0 ||
        pc_create(&pc, &cfg, &log, &ml, &cd, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_qmp: cannot build the machine: %s\n", err);
        abort();
    }
    monitor_registry_init(&reg, pc.monreg.ops, pc.monreg.opaque);
    for (unsigned t = 0; t < pc.monreg.n_hmp; t++) {
        const struct hmp_command *c = pc.monreg.hmp[t].cmds;
        size_t n = 0;
        for (size_t i = 0; i < pc.monreg.hmp[t].n && n < 64; i++)
            if (!is_denied(c[i].name))
                hmp_copy[t][n++] = c[i];
        monitor_registry_add_hmp(&reg, hmp_copy[t], n, pc.monreg.hmp[t].opaque);
    }
    for (unsigned t = 0; t < pc.monreg.n_qmp; t++) {
        const struct qmp_command *c = pc.monreg.qmp[t].cmds;
        size_t n = 0;
        for (size_t i = 0; i < pc.monreg.qmp[t].n && n < 64; i++)
            if (!is_denied(c[i].name))
                qmp_copy[t][n++] = c[i];
        monitor_registry_add_qmp(&reg, qmp_copy[t], n, pc.monreg.qmp[t].opaque);
    }
}

/* ---- QMP ---- */

struct sink {
    char *buf;
    size_t len, cap;
};

static void sink_write(struct chardev *chr, const uint8_t *b, size_t len)
{
    struct sink *s = chr->priv;
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        if (!s->buf)
            abort();
    }
    memcpy(s->buf + s->len, b, len);
    s->len += len;
    s->buf[s->len] = '\0';
}

static const struct chardev_ops sink_ops = { .write = sink_write };

/* Every "\r\n"-terminated line is one well-formed QMP message. */
static void check_messages(const struct sink *s)
{
    const char *p = s->buf;
    if (s->len && (s->len < 2 || strcmp(s->buf + s->len - 2, "\r\n"))) {
        fprintf(stderr, "QMP output does not end with a whole message\n");
        abort();
    }
    while (p && *p) {
        const char *end = strstr(p, "\r\n");
        json_error_t e;
        json_t *m = json_loadb(p, (size_t)(end - p), 0, &e);
        int kinds = m ? !!json_object_get(m, "QMP") + !!json_object_get(m, "return") +
                        !!json_object_get(m, "error") + !!json_object_get(m, "event") : 0;
        json_t *err = m ? json_object_get(m, "error") : NULL;
        if (!json_is_object(m) || kinds != 1 ||
            (err && (!json_is_string(json_object_get(err, "class")) ||
                     !json_is_string(json_object_get(err, "desc"))))) {
            fprintf(stderr, "bad QMP message: %.*s\n", (int)(end - p), p);
            abort();
        }
        json_decref(m);
        p = end + 2;
    }
}

static void fuzz_qmp(const uint8_t *data, size_t size, size_t chunk)
{
    struct sink sink = { 0 };
    struct chardev chr = { .label = "fuzz-qmp", .ops = &sink_ops, .priv = &sink };
    struct qmp_session *q = qmp_new(&chr, &reg, false);
    if (!q)
        abort();
    for (size_t off = 0; off < size; off += chunk)
        qmp_input(q, data + off, size - off < chunk ? size - off : chunk);
    check_messages(&sink);
    if (q->depth == 0 && !q->in_string && !q->skipping) {
        /* whatever came before was answered: a final request is too */
        static const char final[] = " {\"execute\": \"query-status\", \"id\": \"fuzz-end\"}";
        size_t before = sink.len;
        qmp_input(q, (const uint8_t *)final, sizeof(final) - 1);
        check_messages(&sink);
        if (!strstr(sink.buf + before, "\"id\": \"fuzz-end\"}\r\n")) {
            fprintf(stderr, "no answer to the final request: %s\n", sink.buf + before);
            abort();
        }
    }
    qmp_free(q);
    free(sink.buf);
}

/* ---- HMP ---- */

static void fuzz_hmp(const uint8_t *data, size_t size)
{
    char line[MONITOR_LINE_MAX];
    size_t off = 0;
    while (off < size) {
        size_t n = 0;
        while (off < size && data[off] != '\n' && n < sizeof(line) - 1)
            line[n++] = (char)data[off++];
        off++;
        line[n] = '\0';
        if (strlen(line) != n)
            continue;   /* a NUL: typed input never holds one */
        char *out = monitor_run_captured(&reg, line, data[0] & 1);
        if (!out)
            abort();
        size_t len = strlen(out);
        if (len && (len < 2 || strcmp(out + len - 2, "\r\n"))) {
            fprintf(stderr, "HMP output of '%s' is not whole lines: %s\n", line, out);
            abort();
        }
        if (!strncmp(out, "unknown command:", 16) && strstr(out, "\r\n") != out + len - 2) {
            fprintf(stderr, "more than one error line for '%s': %s\n", line, out);
            abort();
        }
        free(out);
    }
    char *out = monitor_run_captured(&reg, "info status", 0);
    if (!out || strncmp(out, "VM status: ", 11)) {
        fprintf(stderr, "info status no longer answers: %s\n", out ? out : "(null)");
        abort();
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg.ops)
        build_machine();
    if (size < 1 || size > 65536)
        return 0;
    uint8_t mode = data[0];
    if (mode & 1)
        fuzz_hmp(data + 1, size - 1);
    else
        fuzz_qmp(data + 1, size - 1, 1 + (mode >> 1));
    pc.log->mask = 0;          /* "log all" must not slow the next inputs */
    pc.rl.paused = false;
    return 0;
}

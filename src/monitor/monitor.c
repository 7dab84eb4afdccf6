/* HMP monitor: line editing and commands. */
#include "monitor/monitor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "chardev/chardev_mux.h"
#include "monitor/registry.h"

#define PCVM_MONITOR_VERSION "pcvm 0.1"

static void mon_write(struct monitor *mon, const char *s, size_t len)
{
    chardev_write(mon->chr, (const uint8_t *)s, len);
}

static void mon_puts(struct monitor *mon, const char *s)
{
    /* QEMU sends "\r\n": scripts and terminals in raw mode expect it. */
    const char *p = s;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl) {
            mon_write(mon, p, strlen(p));
            break;
        }
        if (nl > p)
            mon_write(mon, p, (size_t)(nl - p));
        mon_write(mon, "\r\n", 2);
        p = nl + 1;
    }
}

void monitor_printf(struct monitor *mon, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(buf)) {
        mon_puts(mon, buf);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    mon_puts(mon, big);
    free(big);
}

static void show_banner(struct monitor *mon)
{
    if (!mon->banner_shown) {
        monitor_printf(mon, "QEMU-compatible monitor (%s) - type 'help' for more information\n",
                       PCVM_MONITOR_VERSION);
        mon->banner_shown = true;
    }
}

static void prompt(struct monitor *mon)
{
    mon_puts(mon, MONITOR_PROMPT);
}

/* ---- commands ---- */

static void call_or_na(struct monitor *mon, void (*fn)(void *), const char *what)
{
    if (fn)
        fn(mon->opaque);
    else
        monitor_printf(mon, "%s: not available\n", what);
}

static void cmd_stop(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    call_or_na(mon, mon->ops ? mon->ops->stop : NULL, "stop");
}

static void cmd_cont(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    call_or_na(mon, mon->ops ? mon->ops->cont : NULL, "cont");
}

static void cmd_reset(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    call_or_na(mon, mon->ops ? mon->ops->system_reset : NULL, "system_reset");
}

static void cmd_powerdown(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    call_or_na(mon, mon->ops ? mon->ops->system_powerdown : NULL, "system_powerdown");
}

static void cmd_quit(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    call_or_na(mon, mon->ops ? mon->ops->quit : NULL, "quit");
}

static void cmd_snapshot(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    monitor_printf(mon, "Error: snapshots are not supported yet by pcvm\n");
}

static void cmd_help(struct monitor *mon, const char *a, void *o);
static void cmd_info(struct monitor *mon, const char *a, void *o);

static void info_status(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    const char *s = mon->ops && mon->ops->status ? mon->ops->status(mon->opaque) : NULL;
    monitor_printf(mon, "VM status: %s\n", s ? s : "unknown");
}

static void info_version(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    monitor_printf(mon, "%s\n", PCVM_MONITOR_VERSION);
}

static void info_registers(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    if (mon->ops && mon->ops->info_registers)
        mon->ops->info_registers(mon->opaque, mon);
    else
        monitor_printf(mon, "info registers: not available\n");
}

static void info_qtree(struct monitor *mon, const char *a, void *o)
{
    (void)a, (void)o;
    if (mon->ops && mon->ops->info_qtree)
        mon->ops->info_qtree(mon->opaque, mon);
    else
        monitor_printf(mon, "info qtree: not available\n");
}

/* The core commands; a registry table with the same name takes precedence. */
static const struct hmp_command builtin_commands[] = {
    { "help", "?", "[cmd]", "show the help", cmd_help },
    { "info", NULL, "[subcommand]", "show various information about the system state", cmd_info },
    { "stop", "s", "", "stop emulation", cmd_stop },
    { "cont", "c", "", "resume emulation", cmd_cont },
    { "system_reset", NULL, "", "reset the system", cmd_reset },
    { "system_powerdown", NULL, "", "send system power down event", cmd_powerdown },
    { "quit", "q", "", "quit the emulator", cmd_quit },
    { "savevm", NULL, "tag", "save a VM snapshot (not supported yet)", cmd_snapshot },
    { "loadvm", NULL, "tag", "restore a VM snapshot (not supported yet)", cmd_snapshot },
    { "delvm", NULL, "tag", "delete a VM snapshot (not supported yet)", cmd_snapshot },
    { "info status", NULL, "", "show the current VM status (running|paused)", info_status },
    { "info version", NULL, "", "show the version of QEMU", info_version },
    { "info registers", NULL, "", "show the cpu registers", info_registers },
    { "info qtree", NULL, "", "show device tree", info_qtree },
    { "info snapshots", NULL, "", "show the currently saved VM snapshots", cmd_snapshot },
};
#define N_BUILTIN (sizeof(builtin_commands) / sizeof(builtin_commands[0]))

static const struct hmp_command *find_command(struct monitor *mon, const char *name,
                                              void **opaque)
{
    *opaque = NULL;
    const struct hmp_command *c = mon->reg ? monitor_registry_find_hmp(mon->reg, name, opaque) : NULL;
    if (c)
        return c;
    for (size_t i = 0; i < N_BUILTIN; i++) {
        c = &builtin_commands[i];
        if (!strcmp(name, c->name) || (c->alias && !strcmp(name, c->alias)))
            return c;
    }
    return NULL;
}

/* Every command (or every "info" item when info is true), each name once, sorted. */
static size_t list_commands(struct monitor *mon, bool info, const struct hmp_command **out,
                            size_t max)
{
    size_t n = 0;
    for (unsigned t = 0; t <= (mon->reg ? mon->reg->n_hmp : 0); t++) {
        const struct hmp_command *tab = t == 0 ? builtin_commands : mon->reg->hmp[t - 1].cmds;
        size_t cnt = t == 0 ? N_BUILTIN : mon->reg->hmp[t - 1].n;
        for (size_t i = 0; i < cnt && n < max; i++) {
            const struct hmp_command *c = &tab[i];
            if (info != !strncmp(c->name, "info ", 5))
                continue;
            size_t k = 0;
            while (k < n && strcmp(out[k]->name, c->name))
                k++;
            if (k < n)
                out[k] = c;          /* a registry table overrides the builtin */
            else
                out[n++] = c;
        }
    }
    for (size_t i = 1; i < n; i++)   /* insertion sort: a few dozen names */
        for (size_t j = i; j > 0 && strcmp(out[j - 1]->name, out[j]->name) > 0; j--) {
            const struct hmp_command *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static void cmd_info(struct monitor *mon, const char *args, void *o)
{
    (void)o;
    const struct hmp_command *list[128];
    if (!*args) {
        size_t n = list_commands(mon, true, list, 128);
        for (size_t i = 0; i < n; i++)
            monitor_printf(mon, "%s%s%s -- %s\n", list[i]->name, *list[i]->params ? " " : "",
                           list[i]->params, list[i]->help);
        return;
    }
    char name[80];
    size_t w = strcspn(args, " \t");
    if (w > 60)
        w = 60;
    snprintf(name, sizeof(name), "info %.*s", (int)w, args);
    const char *rest = args + strcspn(args, " \t");
    while (*rest == ' ' || *rest == '\t')
        rest++;
    void *opaque;
    const struct hmp_command *c = find_command(mon, name, &opaque);
    if (!c) {
        monitor_printf(mon, "unknown command: '%s'\n", name);
        return;
    }
    c->fn(mon, rest, opaque);
}

static void cmd_help(struct monitor *mon, const char *args, void *o)
{
    (void)o;
    const struct hmp_command *list[256];
    if (!strcmp(args, "info")) {
        cmd_info(mon, "", NULL);
        return;
    }
    size_t n = list_commands(mon, false, list, 256);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        const struct hmp_command *c = list[i];
        if (*args && strcmp(args, c->name) && (!c->alias || strcmp(args, c->alias)))
            continue;
        found = true;
        monitor_printf(mon, "%s%s%s%s%s -- %s\n", c->name, c->alias ? "|" : "",
                       c->alias ? c->alias : "", *c->params ? " " : "", c->params, c->help);
    }
    if (*args && !found)
        monitor_printf(mon, "unknown command: '%s'\n", args);
}

void monitor_execute(struct monitor *mon, const char *cmdline)
{
    while (*cmdline == ' ' || *cmdline == '\t')
        cmdline++;
    if (!*cmdline)
        return;
    char name[64];
    /* "x/10i" and "p/x": the format belongs to the arguments */
    size_t n = strcspn(cmdline, " \t/");
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    memcpy(name, cmdline, n);
    name[n] = '\0';
    const char *args = cmdline + strcspn(cmdline, " \t/");
    while (*args == ' ' || *args == '\t')
        args++;
    /* trailing blanks are not part of the arguments */
    char argbuf[MONITOR_LINE_MAX];
    snprintf(argbuf, sizeof(argbuf), "%s", args);
    size_t al = strlen(argbuf);
    while (al && (argbuf[al - 1] == ' ' || argbuf[al - 1] == '\t'))
        argbuf[--al] = '\0';
    void *opaque;
    const struct hmp_command *c = find_command(mon, name, &opaque);
    if (!c || !strncmp(name, "info ", 5)) {
        monitor_printf(mon, "unknown command: '%s'\n", name);
        return;
    }
    c->fn(mon, argbuf, opaque);
}

/* ---- line editing ---- */

static void set_line(struct monitor *mon, const char *text)
{
    while (mon->len) {   /* erase what is shown */
        mon_write(mon, "\b \b", 3);
        mon->len--;
    }
    snprintf(mon->line, sizeof(mon->line), "%s", text);
    mon->len = strlen(mon->line);
    mon_write(mon, mon->line, mon->len);
}

static void history_add(struct monitor *mon)
{
    if (!mon->len)
        return;
    if (mon->hist_count == MONITOR_HISTORY) {
        memmove(mon->history[0], mon->history[1], sizeof(mon->history[0]) * (MONITOR_HISTORY - 1));
        mon->hist_count--;
    }
    memcpy(mon->history[mon->hist_count++], mon->line, mon->len + 1);
}

static void enter(struct monitor *mon)
{
    mon->line[mon->len] = '\0';
    mon_write(mon, "\r\n", 2);
    history_add(mon);
    mon->hist_pos = mon->hist_count;
    char cmd[MONITOR_LINE_MAX];
    memcpy(cmd, mon->line, mon->len + 1);
    mon->len = 0;
    monitor_execute(mon, cmd);
    prompt(mon);
}

static void key(struct monitor *mon, uint8_t c)
{
    if (mon->esc_state == 1) {
        mon->esc_state = c == '[' || c == 'O' ? 2 : 0;
        return;
    }
    if (mon->esc_state == 2) {
        if (c >= '0' && c <= '9')
            return;   /* parameters of the sequence */
        mon->esc_state = 0;
        if (c == 'A' && mon->hist_pos > 0) {
            mon->hist_pos--;
            set_line(mon, mon->history[mon->hist_pos]);
        } else if (c == 'B' && mon->hist_pos < mon->hist_count) {
            mon->hist_pos++;
            set_line(mon, mon->hist_pos < mon->hist_count ? mon->history[mon->hist_pos] : "");
        }
        return;
    }
    bool was_cr = mon->last_was_cr;
    mon->last_was_cr = c == '\r';
    switch (c) {
    case '\r':
        enter(mon);
        return;
    case '\n':
        if (!was_cr)
            enter(mon);
        return;
    case 0x1b:
        mon->esc_state = 1;
        return;
    case 0x7f:
    case '\b':
        if (mon->len) {
            mon->len--;
            mon_write(mon, "\b \b", 3);
        }
        return;
    case 0x15:   /* Ctrl-U: kill the line */
        set_line(mon, "");
        return;
    default:
        break;
    }
    if (c < 0x20 || mon->len + 1 >= sizeof(mon->line))
        return;
    mon->line[mon->len++] = (char)c;
    mon_write(mon, (const char *)&c, 1);
}

void monitor_input(struct monitor *mon, const uint8_t *buf, size_t len)
{
    show_banner(mon);
    for (size_t i = 0; i < len; i++)
        key(mon, buf[i]);
}

static size_t mon_can_read(void *opaque)
{
    (void)opaque;
    return MONITOR_LINE_MAX;
}

static void mon_read(void *opaque, const uint8_t *buf, size_t len)
{
    monitor_input(opaque, buf, len);
}

static void mon_focus(void *opaque, bool focused)
{
    struct monitor *mon = opaque;
    if (!focused)
        return;
    if (!mon->banner_shown) {
        show_banner(mon);
    } else {
        mon_write(mon, "\r\n", 2);
    }
    prompt(mon);
    mon_write(mon, mon->line, mon->len);
}

void monitor_show_prompt(struct monitor *mon)
{
    show_banner(mon);
    prompt(mon);
}

/* A new client on a server socket: a fresh session, greeted as QEMU does. */
static void mon_opened(void *opaque)
{
    struct monitor *mon = opaque;
    mon->len = 0;
    mon->esc_state = 0;
    mon->last_was_cr = false;
    mon->banner_shown = false;
    monitor_show_prompt(mon);
}

static struct monitor *monitor_create(struct chardev *chr, const struct monitor_ops *ops,
                                      void *opaque, struct monitor_registry *reg, bool greet)
{
    struct monitor *mon = calloc(1, sizeof(*mon));
    if (!mon)
        return NULL;
    mon->chr = chr;
    mon->ops = ops;
    mon->opaque = opaque;
    mon->reg = reg;
    mon->last_format = 'x';
    mon->last_size = 4;
    if (!greet)
        return mon;
    chardev_attach(chr, mon_can_read, mon_read, mon);
    chardev_set_opened_handler(chr, mon_opened, mon);
    if (chardev_is_mux_frontend(chr))
        chardev_mux_set_focus_handler(chr, mon_focus, mon);   /* prompt when focused */
    else
        monitor_show_prompt(mon);
    return mon;
}

struct monitor *monitor_new(struct chardev *chr, const struct monitor_ops *ops, void *opaque)
{
    return monitor_create(chr, ops, opaque, NULL, true);
}

struct monitor *monitor_new_in(struct chardev *chr, struct monitor_registry *reg)
{
    return monitor_create(chr, reg->ops, reg->opaque, reg, true);
}

void monitor_free(struct monitor *mon)
{
    if (!mon)
        return;
    if (mon->chr) {
        chardev_attach(mon->chr, NULL, NULL, NULL);
        chardev_set_opened_handler(mon->chr, NULL, NULL);
    }
    free(mon);
}

/* ---- output to a string (QMP's human-monitor-command) ---- */

struct capture {
    char *buf;
    size_t len, cap;
};

static void capture_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct capture *c = chr->priv;
    if (!c->buf)
        return;
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap * 2;
        while (cap < c->len + len + 1)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (!nb) {
            free(c->buf);
            c->buf = NULL;
            return;
        }
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

static const struct chardev_ops capture_ops = { .write = capture_write };

char *monitor_run_captured(struct monitor_registry *reg, const char *cmdline, int cpu_index)
{
    struct capture cap = { .buf = malloc(256), .cap = 256 };
    if (!cap.buf)
        return NULL;
    cap.buf[0] = '\0';
    struct chardev chr = { .label = "hmp-capture", .ops = &capture_ops, .priv = &cap };
    struct monitor *mon = monitor_create(&chr, reg->ops, reg->opaque, reg, false);
    if (!mon) {
        free(cap.buf);
        return NULL;
    }
    mon->cpu_index = cpu_index;
    monitor_execute(mon, cmdline);
    free(mon);
    return cap.buf;
}

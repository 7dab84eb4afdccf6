/* HMP monitor: line editing and commands. */
#include "monitor/monitor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "chardev/chardev_mux.h"

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

typedef void (*cmd_fn)(struct monitor *mon, const char *args);

struct mon_cmd {
    const char *name;
    const char *alias;
    const char *args;
    const char *help;
    cmd_fn fn;
};

static void call_or_na(struct monitor *mon, void (*fn)(void *), const char *what)
{
    if (fn)
        fn(mon->opaque);
    else
        monitor_printf(mon, "%s: not available\n", what);
}

static void cmd_stop(struct monitor *mon, const char *a)
{
    (void)a;
    call_or_na(mon, mon->ops ? mon->ops->stop : NULL, "stop");
}

static void cmd_cont(struct monitor *mon, const char *a)
{
    (void)a;
    call_or_na(mon, mon->ops ? mon->ops->cont : NULL, "cont");
}

static void cmd_reset(struct monitor *mon, const char *a)
{
    (void)a;
    call_or_na(mon, mon->ops ? mon->ops->system_reset : NULL, "system_reset");
}

static void cmd_powerdown(struct monitor *mon, const char *a)
{
    (void)a;
    call_or_na(mon, mon->ops ? mon->ops->system_powerdown : NULL, "system_powerdown");
}

static void cmd_quit(struct monitor *mon, const char *a)
{
    (void)a;
    call_or_na(mon, mon->ops ? mon->ops->quit : NULL, "quit");
}

static void cmd_snapshot(struct monitor *mon, const char *a)
{
    (void)a;
    monitor_printf(mon, "Error: snapshots are not supported yet by pcvm\n");
}

static void cmd_help(struct monitor *mon, const char *a);

static void info_status(struct monitor *mon)
{
    const char *s = mon->ops && mon->ops->status ? mon->ops->status(mon->opaque) : NULL;
    monitor_printf(mon, "VM status: %s\n", s ? s : "unknown");
}

static void cmd_info(struct monitor *mon, const char *args)
{
    static const char *const items[] = { "status", "version", "registers", "qtree", "snapshots",
                                         NULL };
    if (!*args) {
        for (int i = 0; items[i]; i++)
            monitor_printf(mon, "info %s\n", items[i]);
        return;
    }
    char what[64];
    sscanf(args, "%63s", what);
    if (!strcmp(what, "status")) {
        info_status(mon);
    } else if (!strcmp(what, "version")) {
        monitor_printf(mon, "%s\n", PCVM_MONITOR_VERSION);
    } else if (!strcmp(what, "registers")) {
        if (mon->ops && mon->ops->info_registers)
            mon->ops->info_registers(mon->opaque, mon);
        else
            monitor_printf(mon, "info registers: not available\n");
    } else if (!strcmp(what, "qtree")) {
        if (mon->ops && mon->ops->info_qtree)
            mon->ops->info_qtree(mon->opaque, mon);
        else
            monitor_printf(mon, "info qtree: not available\n");
    } else if (!strcmp(what, "snapshots")) {
        cmd_snapshot(mon, args);
    } else {
        monitor_printf(mon, "unknown info item: '%s' (try 'info')\n", what);
    }
}

static const struct mon_cmd commands[] = {
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
};

static void cmd_help(struct monitor *mon, const char *args)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct mon_cmd *c = &commands[i];
        if (*args && strcmp(args, c->name))
            continue;
        monitor_printf(mon, "%s%s%s %s -- %s\n", c->name, c->alias ? "|" : "",
                       c->alias ? c->alias : "", c->args, c->help);
    }
}

void monitor_execute(struct monitor *mon, const char *cmdline)
{
    while (*cmdline == ' ' || *cmdline == '\t')
        cmdline++;
    if (!*cmdline)
        return;
    char name[64];
    size_t n = strcspn(cmdline, " \t");
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    memcpy(name, cmdline, n);
    name[n] = '\0';
    const char *args = cmdline + strcspn(cmdline, " \t");
    while (*args == ' ' || *args == '\t')
        args++;
    /* trailing blanks are not part of the arguments */
    char argbuf[MONITOR_LINE_MAX];
    snprintf(argbuf, sizeof(argbuf), "%s", args);
    size_t al = strlen(argbuf);
    while (al && (argbuf[al - 1] == ' ' || argbuf[al - 1] == '\t'))
        argbuf[--al] = '\0';
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct mon_cmd *c = &commands[i];
        if (!strcmp(name, c->name) || (c->alias && !strcmp(name, c->alias))) {
            c->fn(mon, argbuf);
            return;
        }
    }
    monitor_printf(mon, "unknown command: '%s'\n", name);
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

struct monitor *monitor_new(struct chardev *chr, const struct monitor_ops *ops, void *opaque)
{
    struct monitor *mon = calloc(1, sizeof(*mon));
    if (!mon)
        return NULL;
    mon->chr = chr;
    mon->ops = ops;
    mon->opaque = opaque;
    chardev_attach(chr, mon_can_read, mon_read, mon);
    if (chardev_is_mux_frontend(chr))
        chardev_mux_set_focus_handler(chr, mon_focus, mon);   /* prompt when focused */
    else
        monitor_show_prompt(mon);
    return mon;
}


void monitor_free(struct monitor *mon)
{
    if (!mon)
        return;
    chardev_attach(mon->chr, NULL, NULL, NULL);
    free(mon);
}

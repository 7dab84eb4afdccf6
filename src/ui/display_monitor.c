/* HMP display commands, with QEMU's syntax. */
#include "ui/display_monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/screendump.h"
#include "ui/vnc.h"

#define MAX_WORDS 8

/* Split args at blanks into at most MAX_WORDS words (in buf); returns the count or -1. */
static int split_words(const char *args, char *buf, size_t buflen, char *words[MAX_WORDS])
{
    snprintf(buf, buflen, "%s", args);
    int n = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_WORDS)
            return -1;
        words[n++] = w;
    }
    return n;
}

static bool parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 0);
    if (!*s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* screendump FILENAME [-f ppm|png] */
static void cmd_screendump(struct monitor *mon, const char *args, void *opaque)
{
    struct display *d = opaque;
    char buf[MONITOR_LINE_MAX];
    char *w[MAX_WORDS];
    int n = split_words(args, buf, sizeof(buf), w);
    const char *file = NULL;
    enum screendump_format fmt = SCREENDUMP_PPM;
    for (int i = 0; i < n; i++) {
        if (!strcmp(w[i], "-f")) {
            if (i + 1 >= n) {
                monitor_printf(mon, "screendump: -f needs a format (ppm, png)\n");
                return;
            }
            const char *f = w[++i];
            if (!strcmp(f, "png")) {
                fmt = SCREENDUMP_PNG;
            } else if (!strcmp(f, "ppm")) {
                fmt = SCREENDUMP_PPM;
            } else {
                monitor_printf(mon, "screendump: unknown format '%s' (ppm, png)\n", f);
                return;
            }
        } else if (!file) {
            file = w[i];
        } else {
            monitor_printf(mon, "screendump: unexpected argument '%s'\n", w[i]);
            return;
        }
    }
    if (n < 0 || !file) {
        monitor_printf(mon, "usage: screendump FILENAME [-f ppm|png]\n");
        return;
    }
    char err[512];
    if (screendump_write(display_snapshot(d), file, fmt, err, sizeof(err)) < 0)
        monitor_printf(mon, "screendump: %s\n", err);
}

/* mouse_move DX DY [DZ] */
static void cmd_mouse_move(struct monitor *mon, const char *args, void *opaque)
{
    struct display *d = opaque;
    char buf[MONITOR_LINE_MAX];
    char *w[MAX_WORDS];
    int n = split_words(args, buf, sizeof(buf), w);
    long dx, dy, dz = 0;
    if (n < 2 || n > 3 || !parse_int(w[0], -32768, 32767, &dx) || !parse_int(w[1], -32768, 32767, &dy) ||
        (n == 3 && !parse_int(w[2], -127, 127, &dz))) {
        monitor_printf(mon, "usage: mouse_move DX DY [DZ]\n");
        return;
    }
    display_mouse(d, (int)dx, (int)dy, (int)dz, d->mouse_buttons);
}

/* mouse_button STATE: bit 0 left, bit 1 middle, bit 2 right (QEMU's numbering). */
static void cmd_mouse_button(struct monitor *mon, const char *args, void *opaque)
{
    struct display *d = opaque;
    char buf[MONITOR_LINE_MAX];
    char *w[MAX_WORDS];
    int n = split_words(args, buf, sizeof(buf), w);
    long state;
    if (n != 1 || !parse_int(w[0], 0, 7, &state)) {
        monitor_printf(mon, "usage: mouse_button STATE (1 left, 2 middle, 4 right)\n");
        return;
    }
    uint8_t ps2 = (uint8_t)((state & 1) | (state & 2) << 1 | (state & 4) >> 1);
    display_mouse(d, 0, 0, 0, ps2);
}

/* set_password vnc PASSWORD: what a password=on VNC server accepts. */
static void cmd_set_password(struct monitor *mon, const char *args, void *opaque)
{
    struct display *d = opaque;
    char buf[MONITOR_LINE_MAX];
    char *w[MAX_WORDS];
    int n = split_words(args, buf, sizeof(buf), w);
    if (n < 2 || n > 3 || strcmp(w[0], "vnc")) {
        monitor_printf(mon, "usage: set_password vnc PASSWORD\n");
        return;
    }
    if (!d->vnc) {
        monitor_printf(mon, "set_password: no VNC server (-vnc)\n");
        return;
    }
    if (vnc_set_password(d->vnc, w[1]) < 0)
        monitor_printf(mon, "set_password: the VNC server was started without password=on\n");
}

/* info vnc: where the server listens and who is connected. */
static void cmd_info_vnc(struct monitor *mon, const char *args, void *opaque)
{
    struct display *d = opaque;
    (void)args;
    if (!d->vnc) {
        monitor_printf(mon, "Server: disabled\n");
        return;
    }
    char where[300];
    vnc_describe(d->vnc, where, sizeof(where));
    monitor_printf(mon, "Server: %s\n", where);
}

static const struct hmp_command display_hmp[] = {
    { "screendump", NULL, "filename [-f ppm|png]", "save the screen as a PPM or PNG image",
      cmd_screendump },
    { "mouse_move", NULL, "dx dy [dz]", "send a mouse move event", cmd_mouse_move },
    { "mouse_button", NULL, "state", "change the mouse button state (1=L, 2=M, 4=R)",
      cmd_mouse_button },
    { "set_password", NULL, "vnc password", "set the VNC password (-vnc ...,password=on)",
      cmd_set_password },
    { "info vnc", NULL, "", "show the VNC server", cmd_info_vnc },
};

/* QMP screendump: {"filename": F, "format": "ppm"|"png"} */
static json_t *q_screendump(json_t *args, void *opaque, struct qmp_error *err)
{
    struct display *d = opaque;
    static const char *const allowed[] = { "filename", "format", "device", "head", NULL };
    const char *file, *format = NULL;
    if (qmp_check_args(args, allowed, err) < 0 || qmp_arg_str(args, "filename", true, &file, err) < 0 ||
        qmp_arg_str(args, "format", false, &format, err) < 0)
        return NULL;
    enum screendump_format fmt = SCREENDUMP_PPM;
    if (format && !strcmp(format, "png"))
        fmt = SCREENDUMP_PNG;
    else if (format && strcmp(format, "ppm"))
        return qmp_error_set(err, "GenericError", "Parameter 'format' does not accept value '%s'", format);
    char why[512];
    if (screendump_write(display_snapshot(d), file, fmt, why, sizeof(why)) < 0)
        return qmp_error_set(err, "GenericError", "%s", why);
    return json_object();
}

static const struct qmp_command display_qmp[] = {
    { "screendump", q_screendump },
};

int display_monitor_register(struct display *d, struct monitor_registry *reg)
{
    if (monitor_registry_add_hmp(reg, display_hmp, sizeof(display_hmp) / sizeof(display_hmp[0]), d) < 0 ||
        monitor_registry_add_qmp(reg, display_qmp, sizeof(display_qmp) / sizeof(display_qmp[0]), d) < 0)
        return -1;
    return 0;
}

/* HMP, the human monitor: a "(qemu) " prompt with line editing over any chardev, and the
 * commands users script against (info status, stop, cont, system_reset, quit ...). The
 * machine is reached only through struct monitor_ops, so the monitor knows nothing of boards. */
#ifndef PCVM_MONITOR_MONITOR_H
#define PCVM_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;
struct monitor;
struct monitor_registry;

/* What the monitor may ask of the machine. Any callback may be NULL ("not available"). */
struct monitor_ops {
    /* "running", "paused", "paused (prelaunch)", "shutdown" ... for info status */
    const char *(*status)(void *opaque);
    void (*stop)(void *opaque);
    void (*cont)(void *opaque);
    void (*system_reset)(void *opaque);
    void (*system_powerdown)(void *opaque);
    /* quit: the emulator exits with status 0 (e.g. mainloop_request_exit(ml, 0)) */
    void (*quit)(void *opaque);
    /* print with monitor_printf() */
    void (*info_registers)(void *opaque, struct monitor *mon);
    void (*info_qtree)(void *opaque, struct monitor *mon);
};

#define MONITOR_PROMPT "(qemu) "
#define MONITOR_LINE_MAX 512
#define MONITOR_HISTORY 16

struct monitor {
    struct chardev *chr;            /* host pointer: where the text goes */
    const struct monitor_ops *ops;
    void *opaque;
    char line[MONITOR_LINE_MAX];
    size_t len;
    bool last_was_cr;               /* "\r\n" is one Enter */
    int esc_state;                  /* 0 none, 1 after ESC, 2 after ESC [ */
    char history[MONITOR_HISTORY][MONITOR_LINE_MAX];
    unsigned hist_count, hist_pos;
    bool banner_shown;
    struct monitor_registry *reg;   /* NULL: only the core commands */
    int cpu_index;                  /* "cpu N": the CPU that x, p, info registers ... use */
    char last_format;               /* x/xp/p: the format and unit size last given (QEMU */
    int last_size;                  /* remembers them): 'x' and 4 at first */
};

/* Create a monitor on chr (attaches as its front end). Banner and prompt are printed now, or,
 * on a mux front end (mon:stdio, -nographic), when it gets the focus (Ctrl-A c).
 * Returns NULL on allocation failure. */
struct monitor *monitor_new(struct chardev *chr, const struct monitor_ops *ops, void *opaque);
/* Detach and free. */
void monitor_free(struct monitor *mon);
/* Print to the monitor ("\n" becomes "\r\n" as in QEMU). */
void monitor_printf(struct monitor *mon, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Feed typed bytes (what the chardev delivers; used directly by tests). */
void monitor_input(struct monitor *mon, const uint8_t *buf, size_t len);
/* Print the banner and prompt now (a monitor alone on its chardev, e.g. -monitor stdio; on a
 * mux this happens when it gets the focus). */
void monitor_show_prompt(struct monitor *mon);
/* Run one command line (no prompt printed). */
void monitor_execute(struct monitor *mon, const char *cmdline);
/* Create a monitor on chr with every command of reg (its ops are the core commands'). It
 * greets each new client of a server socket with the banner and prompt. */
struct monitor *monitor_new_in(struct chardev *chr, struct monitor_registry *reg);
/* Run cmdline on a monitor of reg that writes to a string (QMP human-monitor-command);
 * cpu_index selects the CPU. Returns the output (malloc'd, "\r\n" line ends) or NULL. */
char *monitor_run_captured(struct monitor_registry *reg, const char *cmdline, int cpu_index);

#endif

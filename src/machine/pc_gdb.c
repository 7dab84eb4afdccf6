/* The pc board's gdb stub glue: what the stub may do to the machine, and gdbserver. */
#include "machine/pc_gdb.h"

#include <string.h>

#include "chardev/chardev.h"
#include "gdbstub/gdbstub.h"
#include "machine/pc.h"
#include "monitor/monitor.h"
#include "monitor/registry.h"

static void gdb_set_paused(void *opaque, bool paused)
{
    struct pc *pc = opaque;
    runloop_set_paused(&pc->rl, paused);
}

static bool gdb_is_paused(void *opaque)
{
    struct pc *pc = opaque;
    return pc->rl.paused;
}

static void gdb_set_clock_running(void *opaque, bool running)
{
    struct pc *pc = opaque;
    vclock_set_running(&pc->clock, running);
}

static void gdb_quit(void *opaque)
{
    struct pc *pc = opaque;
    mainloop_request_exit(pc->ml, 0);
}

/* gdb's `monitor CMD` (qRcmd): the HMP command on the first vCPU, its output back to gdb. */
static void gdb_monitor_command(void *opaque, const char *cmdline, char *out, size_t outlen)
{
    struct pc *pc = opaque;
    char *text = monitor_run_captured(&pc->monreg, cmdline, 0);
    snprintf(out, outlen, "%s", text ? text : "");
    free(text);
}

/* Start the stub on chr (replacing one already there). */
static int gdb_start(struct pc *pc, struct chardev *chr)
{
    gdbstub_free(pc->gdb);
    struct gdbstub_target t = {
        .cpus = pc->cpus, .ncpus = pc->ncpus, .opaque = pc, .set_paused = gdb_set_paused,
        .is_paused = gdb_is_paused, .monitor_command = gdb_monitor_command, .quit = gdb_quit,
        .set_clock_running = gdb_set_clock_running,
    };
    pc->gdb = gdbstub_new(&t, chr);
    return pc->gdb ? 0 : -1;
}

static void stop_stub(struct pc *pc)
{
    gdbstub_free(pc->gdb);
    pc->gdb = NULL;
    chardev_close(pc->gdb_chr);
    pc->gdb_chr = NULL;
}

/* gdbserver [DEVICE]: default tcp::1234; "none" stops the stub. */
static void hmp_gdbserver(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    const char *spec = *args ? args : "tcp::1234";
    if (!strcmp(spec, "none")) {
        stop_stub(pc);
        monitor_printf(mon, "Disabled gdbserver\n");
        return;
    }
    char full[1200], err[512];
    gdbstub_chardev_spec(spec, full, sizeof(full));
    struct chardev *chr = chardev_open(full, "gdb", pc->ml, err, sizeof(err));
    if (!chr) {
        monitor_printf(mon, "Could not open gdbserver on device '%s': %s\n", spec,
                       err[0] ? err : "no device");
        return;
    }
    stop_stub(pc);
    pc->gdb_chr = chr;
    if (gdb_start(pc, chr) < 0) {
        monitor_printf(mon, "gdbserver: out of memory\n");
        return;
    }
    monitor_printf(mon, "Waiting for gdb connection on device '%s'\n", spec);
}

static const struct hmp_command gdb_hmp_commands[] = {
    { "gdbserver", NULL, "[device]",
      "start gdbserver on given device (default 'tcp::1234'), stop with 'none'", hmp_gdbserver },
};

int pc_gdb_init(struct pc *pc)
{
    monitor_registry_add_hmp(&pc->monreg, gdb_hmp_commands,
                             sizeof(gdb_hmp_commands) / sizeof(gdb_hmp_commands[0]), pc);
    if (pc->chardevs->gdb)
        return gdb_start(pc, pc->chardevs->gdb);
    return 0;
}

void pc_gdb_destroy(struct pc *pc)
{
    stop_stub(pc);
}

/* The pc board's side of the monitor: the core callbacks (status, stop, cont ...), QMP events,
 * the pvpanic outcome, and the board's QMP commands (query-block, query-pci, eject ...).
 * The HMP inspection commands (info pci, x, xp ...) are in pc_monitor_hmp.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/pc.h"
#include "machine/pc_monitor.h"
#include "machine/pc_sleep.h"
#include "machine/snapshot.h"
#include "monitor/qmp.h"

/* ---- run state and events ---- */

void pc_event(struct pc *pc, const char *name, json_t *data)
{
    monitor_event(&pc->monreg, name, data);
}

void pc_set_paused(struct pc *pc, bool paused, const char *run_state)
{
    bool was = pc->rl.paused;
    pc->run_state = paused ? run_state : NULL;
    runloop_set_paused(&pc->rl, paused);
    if (was != paused)
        pc_event(pc, paused ? "STOP" : "RESUME", NULL);
}

static void pc_stop_cpus(struct pc *pc)
{
    for (unsigned i = 0; i < pc->ncpus; i++)
        cpu_request(pc->cpus[i], CPU_REQ_EXIT, 1);
}

void pc_guest_panicked(void *opaque, unsigned events)
{
    struct pc *pc = opaque;
    if (!(events & PVPANIC_PANICKED)) {
        pc_event(pc, "GUEST_CRASHLOADED", json_pack("{s:s}", "action", "run"));
        return;
    }
    enum vm_panic_action act = pc->cfg->panic_action;
    if (act == VM_PANIC_SHUTDOWN && pc->cfg->no_shutdown)
        act = VM_PANIC_PAUSE;   /* QEMU: shutdown=pause turns the panic shutdown into a pause */
    switch (act) {
    case VM_PANIC_NONE:
        pc_event(pc, "GUEST_PANICKED", json_pack("{s:s}", "action", "run"));
        break;
    case VM_PANIC_PAUSE:
        pc_event(pc, "GUEST_PANICKED", json_pack("{s:s}", "action", "pause"));
        pc_set_paused(pc, true, "guest-panicked");
        pc_stop_cpus(pc);
        break;
    case VM_PANIC_SHUTDOWN:
    case VM_PANIC_EXIT_FAILURE:
        pc_event(pc, "GUEST_PANICKED", json_pack("{s:s}", "action", "poweroff"));
        pc_set_paused(pc, true, "guest-panicked");
        fprintf(stderr, "pcvm: the guest reported a panic (pvpanic)\n");
        pc->shutdown_reason = "guest-panic";
        mainloop_request_exit(pc->ml, act == VM_PANIC_EXIT_FAILURE ? 1 : 0);
        pc_stop_cpus(pc);
        break;
    }
}

/* ---- core callbacks ---- */

static const char *mon_status(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->suspended)
        return "paused (suspended)";
    if (!pc->rl.paused)
        return "running";
    if (!pc->run_state || !strcmp(pc->run_state, "paused"))
        return "paused";
    static const char *const forms[][2] = {
        { "prelaunch", "paused (prelaunch)" }, { "shutdown", "paused (shutdown)" },
        { "guest-panicked", "paused (guest-panicked)" }, { "restore-vm", "paused (restore-vm)" },
        { "save-vm", "paused (save-vm)" }, { "debug", "paused (debug)" },
        { "inmigrate", "paused (inmigrate)" }, { "postmigrate", "paused (postmigrate)" },
        { "finish-migrate", "paused (finish-migrate)" },
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        if (!strcmp(pc->run_state, forms[i][0]))
            return forms[i][1];
    return "paused";
}

static void mon_stop(void *opaque) { pc_set_paused(opaque, true, "paused"); }
static void mon_cont(void *opaque) { pc_set_paused(opaque, false, NULL); }

static void mon_reset(void *opaque)
{
    struct pc *pc = opaque;
    pc->reset_by_host = true;
    pc_request_reset(pc);
}

static void mon_powerdown(void *opaque)
{
    struct pc *pc = opaque;
    pc_event(pc, "POWERDOWN", NULL);
    if (pc_sleep_power_button(pc))   /* suspended: the button wakes the machine */
        return;
    acpi_pm_power_button(&pc->pm);
}

static void mon_quit(void *opaque)
{
    struct pc *pc = opaque;
    pc->shutdown_reason = "host-qmp-quit";
    pc_debug_exit(pc, 0);
}

static void mon_info_registers(void *opaque, struct monitor *mon)
{
    struct pc *pc = opaque;
    for (unsigned i = 0; i < pc->ncpus; i++) {
        struct cpu *c = pc->cpus[i];
        uint32_t fl = cpu_get_eflags(c);
        monitor_printf(mon, "CPU#%u\n", i);
        monitor_printf(mon, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", c->regs[R_EAX], c->regs[R_EBX],
                       c->regs[R_ECX], c->regs[R_EDX]);
        monitor_printf(mon, "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", c->regs[R_ESI], c->regs[R_EDI],
                       c->regs[R_EBP], c->regs[R_ESP]);
        monitor_printf(mon, "EIP=%08x EFL=%08x CPL=%u %s\n", c->eip, fl, c->cpl, c->halted ? "HLT" : "");
        static const char names[6][3] = { "ES", "CS", "SS", "DS", "FS", "GS" };
        for (int s = 0; s < SEG_COUNT; s++)
            monitor_printf(mon, "%s =%04x %08x %08x %08x\n", names[s], c->seg[s].sel, c->seg[s].base,
                           c->seg[s].limit, c->seg[s].flags);
        monitor_printf(mon, "GDT=     %08x %08x\nIDT=     %08x %08x\n", c->gdtr.base, c->gdtr.limit,
                       c->idtr.base, c->idtr.limit);
        monitor_printf(mon, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", c->cr0, c->cr2, c->cr3, c->cr4);
    }
}

static void mon_print(void *ctx, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    monitor_printf(ctx, "%s", line);
}

static void mon_info_qtree(void *opaque, struct monitor *mon)
{
    struct pc *pc = opaque;
    devlist_print_qtree(&pc->devices, mon_print, mon);
}

static const struct monitor_ops pc_monitor_ops = {
    .status = mon_status,
    .stop = mon_stop,
    .cont = mon_cont,
    .system_reset = mon_reset,
    .system_powerdown = mon_powerdown,
    .quit = mon_quit,
    .info_registers = mon_info_registers,
    .info_qtree = mon_info_qtree,
};

/* ---- drives, as QEMU names them ---- */

const char *pc_drive_name(const struct pc *pc, int index, char *buf, size_t len)
{
    for (unsigned i = 0; i < pc->cfg->n_drives; i++) {
        const struct vm_drive *d = &pc->cfg->drives[i];
        if (d->interface == VM_IF_IDE && d->index == index && d->id) {
            snprintf(buf, len, "%s", d->id);
            return buf;
        }
    }
    snprintf(buf, len, "ide%d-%s%d", index / 2, pc->drive_is_cdrom[index] ? "cd" : "hd",
             index % 2);
    return buf;
}

bool pc_drive_exists(const struct pc *pc, int index)
{
    return pc->drives[index] || pc->drive_is_cdrom[index];
}

int pc_drive_find(const struct pc *pc, const char *name)
{
    char buf[64];
    for (int i = 0; i < 4; i++)
        if (pc_drive_exists(pc, i) && !strcmp(pc_drive_name(pc, i, buf, sizeof(buf)), name))
            return i;
    return -1;
}

bool pc_drive_is_snapshot(const struct pc *pc, int index)
{
    for (unsigned i = 0; i < pc->cfg->n_drives; i++) {
        const struct vm_drive *d = &pc->cfg->drives[i];
        if (d->interface == VM_IF_IDE && d->index == index)
            return d->snapshot && d->media != VM_MEDIA_CDROM;
    }
    return false;
}

const char *pc_drive_file(const struct pc *pc, int index)
{
    const struct block_dev *bs = pc->drives[index];
    if (!bs)
        return NULL;
    if (pc_drive_is_snapshot(pc, index) && bs->backing)   /* name the user's image */
        bs = bs->backing;
    return bs->file.filename ? bs->file.filename : "";
}

static void tray_moved(struct pc *pc, int index, bool open)
{
    char name[64];
    pc_drive_name(pc, index, name, sizeof(name));
    pc_event(pc, "DEVICE_TRAY_MOVED", json_pack("{s:s,s:s,s:b}", "device", name, "id", "",
                                                "tray-open", open));
}

static void guest_moved_tray(void *opaque, int index, bool open)
{
    tray_moved(opaque, index, open);
}

int pc_cd_eject(struct pc *pc, const char *device, bool force, char *err, size_t errlen)
{
    int i = pc_drive_find(pc, device);
    if (i < 0) {
        snprintf(err, errlen, "Device '%s' not found", device);
        return -2;
    }
    if (!pc->drive_is_cdrom[i]) {
        snprintf(err, errlen, "Device '%s' is not removable", device);
        return -1;
    }
    struct ide_drive *d = &pc->ide.ch[i / 2].drives[i % 2];
    if (d->tray_locked && !force) {
        snprintf(err, errlen, "Device '%s' is locked and force was not specified, wait for "
                 "tray to open and try again", device);
        return -1;
    }
    bool was_open = d->tray_open;
    block_aio_drain(&pc->aio);   /* no request may still use the medium */
    ide_cdrom_change(&pc->ide, i, NULL);
    block_close(pc->drives[i]);
    pc->drives[i] = NULL;
    if (!was_open)
        tray_moved(pc, i, true);
    return 0;
}

int pc_cd_change(struct pc *pc, const char *device, const char *file, const char *format,
                 char *err, size_t errlen)
{
    int i = pc_drive_find(pc, device);
    if (i < 0) {
        snprintf(err, errlen, "Device '%s' not found", device);
        return -2;
    }
    if (!pc->drive_is_cdrom[i]) {
        snprintf(err, errlen, "Device '%s' is not removable", device);
        return -1;
    }
    if (format && strcmp(format, "raw") && strcmp(format, "qcow2")) {
        snprintf(err, errlen, "Unknown driver '%s'", format);
        return -1;
    }
    char why[BLOCK_ERR_LEN];
    struct block_dev *bs = block_open(file, format, 0, BLOCK_CACHE_WRITEBACK, why, sizeof(why));
    if (!bs) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    struct ide_drive *d = &pc->ide.ch[i / 2].drives[i % 2];
    bool was_open = d->tray_open;
    block_aio_drain(&pc->aio);
    if (pc->drives[i] || !was_open) {
        ide_cdrom_change(&pc->ide, i, NULL);
        block_close(pc->drives[i]);
        pc->drives[i] = NULL;
        if (!was_open)
            tray_moved(pc, i, true);
    }
    pc->drives[i] = bs;
    ide_cdrom_change(&pc->ide, i, bs);
    tray_moved(pc, i, false);
    return 0;
}

int pc_drive_commit(struct pc *pc, int index, char *err, size_t errlen)
{
    char name[64], why[BLOCK_ERR_LEN];
    pc_drive_name(pc, index, name, sizeof(name));
    if (!pc->drives[index]) {
        snprintf(err, errlen, "Device '%s' has no medium", name);
        return -1;
    }
    block_aio_drain(&pc->aio);   /* nothing in flight while the layers change */
    if (block_commit(pc->drives[index], why, sizeof(why)) < 0) {
        snprintf(err, errlen, "'commit' of '%s' failed: %s", name, why);
        return -1;
    }
    return 0;
}

/* ---- QMP commands of the board ---- */

static const char *const no_args[] = { NULL };

static json_t *q_query_name(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    if (qmp_check_args(args, no_args, err) < 0)
        return NULL;
    return pc->cfg->name ? json_pack("{s:s}", "name", pc->cfg->name) : json_object();
}

static json_t *q_query_cpus_fast(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    if (qmp_check_args(args, no_args, err) < 0)
        return NULL;
    json_t *list = json_array();
    for (unsigned i = 0; i < pc->ncpus; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/machine/unattached/device[%u]", i);
        /* The vCPU's host thread (pcvm's pid when one thread runs them all); its place in
         * the -smp topology as QEMU 7.2 reports it (die-id only with dies > 1). */
        const struct vm_smp *t = &pc->cfg->smp;
        unsigned threads = t->threads ? t->threads : 1, cores = t->cores ? t->cores : 1;
        unsigned dies = t->dies ? t->dies : 1;
        json_t *props = json_pack("{s:i,s:i}", "core-id", (int)(i / threads % cores), "thread-id",
                                  (int)(i % threads));
        if (dies > 1)
            json_object_set_new(props, "die-id", json_integer(i / (threads * cores) % dies));
        json_object_set_new(props, "socket-id", json_integer(i / (threads * cores * dies)));
        json_array_append_new(list, json_pack("{s:i,s:s,s:i,s:o,s:s}", "cpu-index", (int)i, "qom-path",
                                              path, "thread-id", runloop_cpu_thread_id(&pc->rl, i),
                                              "props", props, "target", "i386"));
    }
    return list;
}

static json_t *block_entry(struct pc *pc, int i)
{
    char name[64], qdev[64];
    pc_drive_name(pc, i, name, sizeof(name));
    snprintf(qdev, sizeof(qdev), "/machine/unattached/device[%d]", 20 + i);
    bool cd = pc->drive_is_cdrom[i];
    json_t *e = json_pack("{s:s,s:s,s:b,s:b,s:s,s:s}", "device", name, "qdev", qdev,
                          "removable", cd, "locked",
                          cd && pc->ide.ch[i / 2].drives[i % 2].tray_locked, "io-status", "ok",
                          "type", "unknown");
    if (cd)
        json_object_set_new(e, "tray_open", json_boolean(pc->ide.ch[i / 2].drives[i % 2].tray_open));
    struct block_dev *bs = pc->drives[i];
    if (bs) {
        const char *file = pc_drive_file(pc, i);
        int depth = 0;
        for (const struct block_dev *b = bs->backing; b; b = b->backing)
            depth++;
        json_t *ins = json_pack("{s:s,s:b,s:s,s:b,s:i,s:{s:s,s:s,s:I}}", "file", file, "ro",
                                bs->readonly, "drv", block_format_name(bs), "encrypted", 0,
                                "backing_file_depth", depth, "image", "filename", file, "format",
                                block_format_name(bs), "virtual-size", (json_int_t)bs->size);
        json_object_set_new(e, "inserted", ins);
    }
    return e;
}

static json_t *q_query_block(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    if (qmp_check_args(args, no_args, err) < 0)
        return NULL;
    json_t *list = json_array();
    for (int i = 0; i < 4; i++)
        if (pc_drive_exists(pc, i))
            json_array_append_new(list, block_entry(pc, i));
    return list;
}

static json_t *q_query_pci(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    if (qmp_check_args(args, no_args, err) < 0)
        return NULL;
    json_t *devs = json_array();
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        struct pci_device *d = pc->pci.devices[devfn];
        if (!d)
            continue;
        const uint8_t *c = d->config;
        json_t *regions = json_array();
        for (int n = 0; n < 6; n++) {
            if (!d->bars[n].size)
                continue;
            uint32_t v = pci_get_long(c + 0x10 + 4 * n);
            bool io = d->bars[n].is_io;
            json_t *r = json_pack("{s:i,s:s,s:I,s:I}", "bar", n, "type", io ? "io" : "memory",
                                  "address", (json_int_t)(io ? v & ~3u : v & ~15u), "size",
                                  (json_int_t)d->bars[n].size);
            if (!io) {
                json_object_set_new(r, "prefetch", json_boolean(v & 8));
                json_object_set_new(r, "mem_type_64", json_false());
            }
            json_array_append_new(regions, r);
        }
        uint16_t cls = pci_get_word(c + 0x0a);
        json_t *dev = json_pack("{s:i,s:i,s:i,s:{s:i},s:{s:i,s:i,s:i,s:i},s:s,s:o}", "bus", 0,
                                "slot", (int)(devfn >> 3), "function", (int)(devfn & 7),
                                "class_info", "class", cls, "id", "device",
                                pci_get_word(c + 2), "vendor", pci_get_word(c),
                                "subsystem", pci_get_word(c + 0x2e), "subsystem-vendor",
                                pci_get_word(c + 0x2c), "qdev_id", "", "regions", regions);
        if (c[0x3d]) {
            json_object_set_new(dev, "irq", json_integer(c[0x3c]));
            json_object_set_new(dev, "irq_pin", json_integer(c[0x3d]));
        }
        json_array_append_new(devs, dev);
    }
    return json_pack("[{s:i,s:o}]", "bus", 0, "devices", devs);
}

static json_t *q_query_chardev(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    if (qmp_check_args(args, no_args, err) < 0)
        return NULL;
    json_t *list = json_array();
    struct pc_chardev_info info[64];
    size_t n = pc_chardev_list(pc, info, 64);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s,s:s,s:b}", "label", info[i].label,
                                              "filename", info[i].filename, "frontend-open",
                                              1));
    return list;
}

static json_t *q_query_machines(json_t *args, void *opaque, struct qmp_error *err)
{
    (void)opaque;
    static const char *const allowed[] = { "compat-props", NULL };
    if (qmp_check_args(args, allowed, err) < 0)
        return NULL;
    return json_pack("[{s:s,s:s,s:b,s:i,s:b,s:b,s:b,s:s,s:s}]", "name", "pc-i440fx-7.2",
                     "alias", "pc", "is-default", 1, "cpu-max", PC_MAX_CPUS,
                     "hotpluggable-cpus", 0, "numa-mem-supported", 0, "deprecated", 0,
                     "default-cpu-type", "pentium3-i386-cpu", "default-ram-id", "pc.ram");
}

/* device= or id= (QEMU accepts either for the block commands). */
static const char *device_arg(json_t *args, struct qmp_error *err)
{
    const char *dev, *id;
    if (qmp_arg_str(args, "device", false, &dev, err) < 0 ||
        qmp_arg_str(args, "id", false, &id, err) < 0)
        return NULL;
    if (!dev && !id)
        qmp_error_set(err, "GenericError", "Need exactly one of 'device' and 'id'");
    return dev ? dev : id;
}

static json_t *block_error(struct qmp_error *err, int r, const char *why)
{
    return qmp_error_set(err, r == -2 ? "DeviceNotFound" : "GenericError", "%s", why);
}

static json_t *q_eject(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    static const char *const allowed[] = { "device", "id", "force", NULL };
    bool force = false;
    const char *dev;
    if (qmp_check_args(args, allowed, err) < 0 || qmp_arg_bool(args, "force", &force, err) < 0 ||
        !(dev = device_arg(args, err)))
        return NULL;
    char why[512];
    int r = pc_cd_eject(pc, dev, force, why, sizeof(why));
    return r < 0 ? block_error(err, r, why) : json_object();
}

static json_t *q_change_medium(json_t *args, void *opaque, struct qmp_error *err)
{
    struct pc *pc = opaque;
    static const char *const allowed[] = { "device", "id", "filename", "format",
                                           "read-only-mode", "force", NULL };
    const char *dev, *file, *format, *mode;
    if (qmp_check_args(args, allowed, err) < 0 ||
        qmp_arg_str(args, "filename", true, &file, err) < 0 ||
        qmp_arg_str(args, "format", false, &format, err) < 0 ||
        qmp_arg_str(args, "read-only-mode", false, &mode, err) < 0 ||
        !(dev = device_arg(args, err)))
        return NULL;
    if (mode && strcmp(mode, "retain") && strcmp(mode, "read-only") && strcmp(mode, "read-write"))
        return qmp_error_set(err, "GenericError", "Parameter 'read-only-mode' does not accept "
                             "value '%s'", mode);
    char why[BLOCK_ERR_LEN + 64];
    int r = pc_cd_change(pc, dev, file, format, why, sizeof(why));
    return r < 0 ? block_error(err, r, why) : json_object();
}

static const struct qmp_command pc_qmp_commands[] = {
    { "query-name", q_query_name },
    { "query-cpus-fast", q_query_cpus_fast },
    { "query-block", q_query_block },
    { "query-pci", q_query_pci },
    { "query-chardev", q_query_chardev },
    { "query-machines", q_query_machines },
    { "eject", q_eject },
    { "blockdev-change-medium", q_change_medium },
};

/* ---- creation ---- */

void pc_monitors_create(struct pc *pc)
{
    struct vm_chardevs *cd = pc->chardevs;
    monitor_registry_init(&pc->monreg, &pc_monitor_ops, pc);
    pc->ide.tray_moved = guest_moved_tray;
    pc->ide.tray_opaque = pc;
    monitor_registry_add_qmp(&pc->monreg, pc_qmp_commands,
                             sizeof(pc_qmp_commands) / sizeof(pc_qmp_commands[0]), pc);
    pc_monitor_hmp_register(pc);
    pc_net_monitor_register(&pc->net, &pc->monreg);
    pc_snapshot_register(pc);
    for (unsigned i = 0; i < cd->n_monitors; i++) {
        if (cd->monitor_control[i]) {
            struct qmp_session *q = qmp_new(cd->monitor[i], &pc->monreg, cd->monitor_pretty[i]);
            if (q)
                pc->qmps[pc->nqmps++] = q;
            continue;
        }
        struct monitor *m = monitor_new_in(cd->monitor[i], &pc->monreg);
        if (m)
            pc->monitors[pc->nmonitors++] = m;
    }
}

void pc_monitors_destroy(struct pc *pc)
{
    for (unsigned i = 0; i < pc->nmonitors; i++)
        monitor_free(pc->monitors[i]);
    for (unsigned i = 0; i < pc->nqmps; i++)
        qmp_free(pc->qmps[i]);
    pc->nmonitors = pc->nqmps = 0;
}

/* vm_config: release, stable text dump, help-like actions, and the entry for main(). */
#include "cli/config.h"
#include "cpu/cpu.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define PCVM_VERSION "0.1"

static void free_props(struct vm_prop *props, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(props[i].key);
        free(props[i].value);
    }
}

void vm_config_free(struct vm_config *cfg)
{
    free(cfg->machine);
    free_props(cfg->machine_props, cfg->n_machine_props);
    free(cfg->cpu_model);
    for (unsigned i = 0; i < cfg->n_cpu_features; i++) {
        free(cfg->cpu_features[i].name);
        free(cfg->cpu_features[i].value);
    }
    for (unsigned i = 0; i < cfg->n_drives; i++) {
        free(cfg->drives[i].file);
        free(cfg->drives[i].id);
    }
    free(cfg->kernel);
    free(cfg->initrd);
    free(cfg->append);
    free(cfg->bios);
    free(cfg->name);
    for (unsigned i = 0; i < cfg->n_netdevs; i++) {
        free(cfg->netdevs[i].type);
        free(cfg->netdevs[i].id);
        free_props(cfg->netdevs[i].opts, cfg->netdevs[i].n_opts);
    }
    for (unsigned i = 0; i < cfg->n_nics; i++) {
        free(cfg->nics[i].model);
        free(cfg->nics[i].netdev);
        free(cfg->nics[i].id);
        free(cfg->nics[i].romfile);
    }
    for (unsigned i = 0; i < cfg->n_filters; i++) {
        free(cfg->filters[i].id);
        free(cfg->filters[i].netdev);
        free(cfg->filters[i].file);
    }
    for (unsigned i = 0; i < cfg->n_fsdevs; i++) {
        free(cfg->fsdevs[i].id);
        free(cfg->fsdevs[i].path);
        free(cfg->fsdevs[i].security_model);
    }
    for (unsigned i = 0; i < cfg->n_devices; i++) {
        free(cfg->devices[i].driver);
        free(cfg->devices[i].id);
        free_props(cfg->devices[i].props, cfg->devices[i].n_props);
    }
    for (unsigned i = 0; i < cfg->n_serial; i++)
        free(cfg->serial[i]);
    for (unsigned i = 0; i < cfg->n_monitors; i++) {
        free(cfg->monitors[i].spec);
        free(cfg->monitors[i].chardev_id);
    }
    for (unsigned i = 0; i < cfg->n_chardevs; i++) {
        free(cfg->chardevs[i].id);
        free(cfg->chardevs[i].backend);
        free(cfg->chardevs[i].spec);
    }
    free(cfg->debugcon);
    free(cfg->vnc);
    free(cfg->keyboard_layout);
    free(cfg->log_file);
    free(cfg->gdb);
    free(cfg->loadvm);
    free(cfg->incoming);
    free(cfg->pidfile);
    free(cfg->stamps);
    memset(cfg, 0, sizeof(*cfg));
}

static const char *s_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static const char *onoff(bool b)
{
    return b ? "on" : "off";
}

static const char *accel_name(enum vm_accel a)
{
    return a == VM_ACCEL_KVM ? "kvm" : "tcg";
}

void vm_config_dump(const struct vm_config *cfg, FILE *out)
{
    static const char *const formats[] = { "probe", "raw", "qcow2" };
    static const char *const caches[] = { "writeback", "writethrough", "none", "unsafe",
                                          "directsync" };
    static const char *const aios[] = { "threads", "native", "io_uring" };
    static const char *const ifs[] = { "ide", "none", "virtio", "floppy" };
    static const char *const rtc_bases[] = { "utc", "localtime", "date" };
    static const char *const rtc_clocks[] = { "host", "rt", "vm" };

    fprintf(out, "ram_size %" PRIu64 "\n", cfg->ram_size);
    fprintf(out, "machine %s", s_or(cfg->machine, "pc"));
    fprintf(out, " usb=%s", onoff(cfg->usb));
    for (unsigned i = 0; i < cfg->n_machine_props; i++)
        fprintf(out, " %s=%s", cfg->machine_props[i].key, cfg->machine_props[i].value);
    fprintf(out, "\naccel %s requested=", accel_name(cfg->accel));
    for (unsigned i = 0; i < cfg->n_accels; i++)
        fprintf(out, "%s%s", i ? ":" : "", accel_name(cfg->accels[i]));
    fprintf(out, "\ncpu %s", s_or(cfg->cpu_model, "(default)"));
    for (unsigned i = 0; i < cfg->n_cpu_features; i++) {
        if (cfg->cpu_features[i].value)
            fprintf(out, " %s=%s", cfg->cpu_features[i].name, cfg->cpu_features[i].value);
        else
            fprintf(out, " %c%s", cfg->cpu_features[i].enable ? '+' : '-', cfg->cpu_features[i].name);
    }
    fprintf(out, "\nsmp cpus=%u sockets=%u cores=%u threads=%u maxcpus=%u", cfg->smp.cpus,
            cfg->smp.sockets, cfg->smp.cores, cfg->smp.threads, cfg->smp.maxcpus);
    if (cfg->smp.dies > 1)
        fprintf(out, " dies=%u", cfg->smp.dies);
    fprintf(out, "%s\n", cfg->smp.zero_given ? " (a zero count ignored: deprecated)" : "");
    for (unsigned i = 0; i < cfg->n_drives; i++) {
        const struct vm_drive *d = &cfg->drives[i];
        fprintf(out, "drive[%u] file=%s format=%s cache=%s aio=%s if=%s index=%d media=%s "
                "snapshot=%s readonly=%s id=%s\n", i, s_or(d->file, "(empty)"),
                formats[d->format], caches[d->cache], aios[d->aio], ifs[d->interface], d->index,
                d->media == VM_MEDIA_CDROM ? "cdrom" : "disk", onoff(d->snapshot),
                onoff(d->readonly), s_or(d->id, "-"));
    }
    fprintf(out, "boot order=%s once=%s menu=%s strict=%s\n", cfg->boot.order,
            cfg->boot.once[0] ? cfg->boot.once : "-", onoff(cfg->boot.menu),
            onoff(cfg->boot.strict));
    fprintf(out, "snapshot %s\n", onoff(cfg->snapshot));
    fprintf(out, "kernel %s\ninitrd %s\nappend %s\nbios %s\n", s_or(cfg->kernel, "-"),
            s_or(cfg->initrd, "-"), s_or(cfg->append, "-"), s_or(cfg->bios, "-"));
    fprintf(out, "nodefaults %s\nname %s\n", onoff(cfg->nodefaults), s_or(cfg->name, "-"));
    for (unsigned i = 0; i < cfg->n_netdevs; i++) {
        const struct vm_netdev *n = &cfg->netdevs[i];
        fprintf(out, "netdev[%u] %s id=%s", i, n->type, n->id);
        for (unsigned j = 0; j < n->n_hostfwd; j++) {
            const struct vm_hostfwd *f = &n->hostfwd[j];
            fprintf(out, " hostfwd=%s:%s:%u-%s:%u", f->udp ? "udp" : "tcp",
                    f->host_addr[0] ? f->host_addr : "*", f->host_port,
                    f->guest_addr[0] ? f->guest_addr : "*", f->guest_port);
        }
        for (unsigned j = 0; j < n->n_opts; j++)
            fprintf(out, " %s=%s", n->opts[j].key, n->opts[j].value);
        fputc('\n', out);
    }
    for (unsigned i = 0; i < cfg->n_nics; i++) {
        const struct vm_nic *n = &cfg->nics[i];
        fprintf(out, "nic[%u] model=%s netdev=%s id=%s", i, n->model, s_or(n->netdev, "-"),
                s_or(n->id, "-"));
        if (n->has_mac)
            fprintf(out, " mac=%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1], n->mac[2],
                    n->mac[3], n->mac[4], n->mac[5]);
        if (n->no_cplus)
            fputs(" cplus=off", out);
        fputc('\n', out);
    }
    for (unsigned i = 0; i < cfg->n_fsdevs; i++)
        fprintf(out, "fsdev[%u] local id=%s path=%s security_model=%s readonly=%s\n", i, cfg->fsdevs[i].id,
                cfg->fsdevs[i].path, cfg->fsdevs[i].security_model, onoff(cfg->fsdevs[i].readonly));
    for (unsigned i = 0; i < cfg->n_devices; i++) {
        const struct vm_device *d = &cfg->devices[i];
        fprintf(out, "device[%u] %s id=%s iobase=0x%x iosize=%u\n", i, d->driver,
                s_or(d->id, "-"), d->iobase, d->iosize);
    }
    for (unsigned i = 0; i < cfg->n_serial; i++)
        fprintf(out, "serial[%u] %s\n", i, cfg->serial[i]);
    for (unsigned i = 0; i < cfg->n_monitors; i++) {
        const struct vm_monitor *m = &cfg->monitors[i];
        if (m->spec)
            fprintf(out, "monitor[%u] %s%s\n", i, m->spec, m->control ? " mode=control" : "");
        else
            fprintf(out, "monitor[%u] chardev=%s%s%s\n", i, m->chardev_id,
                    m->control ? " mode=control" : "", m->pretty ? " pretty=on" : "");
    }
    for (unsigned i = 0; i < cfg->n_chardevs; i++)
        fprintf(out, "chardev[%u] id=%s backend=%s mux=%s spec=%s\n", i, cfg->chardevs[i].id,
                cfg->chardevs[i].backend, onoff(cfg->chardevs[i].mux), cfg->chardevs[i].spec);
    fprintf(out, "debugcon %s\n", s_or(cfg->debugcon, "-"));
    fprintf(out, "nographic %s\ndisplay %s\nvga %s\n", onoff(cfg->nographic),
            cfg->display == VM_DISPLAY_NONE ? "none" : cfg->display == VM_DISPLAY_SDL ? "sdl" : "default",
            cfg->vga == VM_VGA_NONE ? "none" : "std");
    if (cfg->vnc)
        fprintf(out, "vnc %s\n", cfg->vnc);
    if (cfg->keyboard_layout)
        fprintf(out, "keyboard %s\n", cfg->keyboard_layout);
    fprintf(out, "rtc base=%s", rtc_bases[cfg->rtc.base]);
    if (cfg->rtc.base == VM_RTC_BASE_DATE)
        fprintf(out, "@%" PRId64, cfg->rtc.base_time);
    fprintf(out, " clock=%s driftfix=%s\n", rtc_clocks[cfg->rtc.clock],
            cfg->rtc.driftfix_slew ? "slew" : "none");
    fprintf(out, "no_reboot %s\nno_shutdown %s\n", onoff(cfg->no_reboot), onoff(cfg->no_shutdown));
    static const char *const panics[] = { "shutdown", "pause", "exit-failure", "none" };
    if (cfg->panic_action != VM_PANIC_SHUTDOWN)
        fprintf(out, "action panic=%s\n", panics[cfg->panic_action]);
    fprintf(out, "log_mask 0x%x\nlog_file %s\n", cfg->log_mask, s_or(cfg->log_file, "-"));
    fprintf(out, "gdb %s\nstart_paused %s\n", s_or(cfg->gdb, "-"), onoff(cfg->start_paused));
    if (cfg->icount.enabled)
        fprintf(out, "icount shift=%d sleep=%s\n", cfg->icount.shift, onoff(cfg->icount.sleep));
    else
        fprintf(out, "icount off\n");
    fprintf(out, "loadvm %s\npidfile %s\n", s_or(cfg->loadvm, "-"), s_or(cfg->pidfile, "-"));
    if (cfg->stamps)
        fprintf(out, "stamps %s\n", cfg->stamps);
}

static void print_help(void)
{
    printf("usage: pcvm [options]\n"
           "A PC emulator for 32-bit x86 guests that takes qemu-system-i386 command lines.\n\n"
           "Machine:   -M/-machine pc[,usb=off,accel=tcg]  -m SIZE  -smp N[,cores=,threads=,sockets=]\n"
           "           -cpu MODEL[,+feat,-feat] (-cpu help)  -accel tcg  -rtc base=utc|localtime,clock=host|vm\n"
           "Storage:   -drive file=,format=raw|qcow2,cache=,aio=,if=ide|none,index=,media=disk|cdrom,...\n"
           "           -hda -hdb -hdc -hdd -cdrom FILE  -boot order=,menu=  -snapshot\n"
           "Boot:      -kernel FILE -initrd FILE -append CMDLINE -bios FILE\n"
           "Network:   -netdev user,id=,hostfwd=tcp::HOSTPORT-:GUESTPORT  -device e1000|virtio-net-pci,netdev=\n"
           "           -net nic,model=e1000|virtio -net user  -nic user[,model=]\n"
           "Devices:   -device isa-debug-exit,iobase=,iosize=  -device help  -debugcon SPEC\n"
           "Consoles:  -nographic -display none -vga std|none -serial SPEC (x4) -monitor SPEC\n"
           "           -chardev BACKEND,id=,...  -mon chardev=ID  (SPEC: stdio mon:stdio pty null none\n"
           "           file:PATH unix:PATH,server,nowait tcp:HOST:PORT,server,nowait chardev:ID)\n"
           "Control:   -no-reboot -no-shutdown -S -s -gdb SPEC -icount N|auto -loadvm NAME -pidfile FILE\n"
           "Logs:      -d ITEMS (-d help) -D FILE  -stamps FILE (time stamps of serial/debugcon bytes)\n"
           "Other:     -name NAME -nodefaults -sandbox off -version -h\n"
           "See docs/OPTIONS.md for every option and its status.\n");
}

void vm_config_print_action(const struct vm_config *cfg)
{
    switch (cfg->action) {
    case VM_ACTION_VERSION:
        printf("pcvm version " PCVM_VERSION " (qemu-system-i386 compatible command line)\n");
        break;
    case VM_ACTION_HELP:
        print_help();
        break;
    case VM_ACTION_CPU_HELP:
        cpu_model_list();
        break;
    case VM_ACTION_LOG_HELP:
        log_print_items();
        break;
    case VM_ACTION_DEVICE_HELP:
        printf("Storage devices:\nname \"virtio-blk-pci\", bus PCI, alias \"virtio-blk\"\n\n"
               "Network devices:\nname \"e1000\", bus PCI, desc \"Intel Gigabit Ethernet\"\nname \"rtl8139\", bus PCI\n"
               "name \"virtio-net-pci\", bus PCI, alias \"virtio-net\"\n\n"
               "Misc devices:\nname \"isa-debug-exit\", bus ISA\n"
               "name \"pc-testdev\", bus ISA\n"
               "name \"pci-testdev\", bus PCI, desc \"PCI Test Device\"\n"
               "name \"pvpanic\", bus ISA, desc \"pvpanic device\"\n"
               "name \"virtio-9p-pci\", bus PCI, alias \"virtio-9p\"\n"
               "name \"virtio-rng-pci\", bus PCI, alias \"virtio-rng\"\n\n"
               "Input devices:\nname \"virtconsole\", bus virtio-serial-bus\n"
               "name \"virtio-serial-pci\", bus PCI, alias \"virtio-serial\"\n"
               "name \"virtserialport\", bus virtio-serial-bus\n");
        break;
    case VM_ACTION_MACHINE_HELP:
        printf("Supported machines are:\n"
               "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\n"
               "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\n");
        break;
    case VM_ACTION_NIC_HELP:
        printf("Available NIC models:\ne1000\nrtl8139\nvirtio-net-pci\n");
        break;
    case VM_ACTION_DUMP_CONFIG:
        vm_config_dump(cfg, stdout);
        break;
    case VM_ACTION_RUN:
        break;
    }
}

int cli_parse_or_exit(struct vm_config *cfg, int argc, char **argv)
{
    char err[768];
    int r = vm_config_parse(cfg, argc, argv, err, sizeof(err));
    if (r == VM_PARSE_ERROR || r == VM_PARSE_UNSUPPORTED) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (r == VM_PARSE_EXIT) {
        vm_config_print_action(cfg);
        fflush(stdout);
        vm_config_free(cfg);
        return 0;
    }
    return -1;
}

int cli_main_dump(int argc, char **argv)
{
    struct vm_config cfg;
    int r = cli_parse_or_exit(&cfg, argc, argv);
    if (r >= 0)
        return r;
    vm_config_dump(&cfg, stdout);
    vm_config_free(&cfg);
    return 0;
}

/* Option parsing: vm_config_parse() against QEMU's documented semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/kvlist.h"

static char existing_file[64];

/* Parse a NULL-terminated argument list. */
static int parse_v(struct vm_config *cfg, char *err, const char *first, va_list ap)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"pcvm";
    for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    return vm_config_parse(cfg, argc, argv, err, 512);
}

static int parse(struct vm_config *cfg, char *err, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int r = parse_v(cfg, err, first, ap);
    va_end(ap);
    return r;
}

/* Expect an error whose line is exactly msg. */
static void expect_error(int want, const char *msg, const char *first, ...)
{
    struct vm_config cfg;
    char err[512];
    va_list ap;
    va_start(ap, first);
    int r = parse_v(&cfg, err, first, ap);
    va_end(ap);
    if (r == 0)
        vm_config_free(&cfg);
    assert_int_equal(r, want);
    if (msg)
        assert_string_equal(err, msg);
    assert_null(strchr(err, '\n'));   /* one line */
}

static void test_defaults(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, NULL), VM_PARSE_OK);
    assert_int_equal(cfg.ram_size, 128ull << 20);   /* QEMU's default -m */
    assert_string_equal(cfg.machine, "pc");
    assert_int_equal(cfg.smp.cpus, 1);
    assert_string_equal(cfg.boot.order, "cad");
    assert_int_equal(cfg.vga, VM_VGA_STD);
    /* graphical default: COM1 on the (absent) console, default NIC e1000 + user net */
    assert_int_equal(cfg.n_serial, 1);
    assert_string_equal(cfg.serial[0], "vc");
    assert_int_equal(cfg.n_nics, 1);
    assert_string_equal(cfg.nics[0].model, "e1000");
    assert_int_equal(cfg.n_netdevs, 1);
    vm_config_free(&cfg);
}

static void test_memory_sizes(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-m", "2048", NULL), 0);
    assert_int_equal(cfg.ram_size, 2048ull << 20);   /* no suffix: MiB */
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-m", "256M", NULL), 0);
    assert_int_equal(cfg.ram_size, 256ull << 20);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-m", "size=1G", NULL), 0);
    assert_int_equal(cfg.ram_size, 1ull << 30);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-m", "1.5G", NULL), 0);
    assert_int_equal(cfg.ram_size, 3ull << 29);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-m", "65536k", NULL), 0);
    assert_int_equal(cfg.ram_size, 64ull << 20);
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, "pcvm: -m 0: memory size must be greater than zero", "-m", "0",
                 NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -m 9999999G: memory size too large (maximum 64G)", "-m",
                 "9999999G", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -m 99999999999999999999: invalid memory size", "-m",
                 "99999999999999999999", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -m lots: invalid memory size", "-m", "lots", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -m size=1G,colour=red: invalid parameter 'colour'", "-m",
                 "size=1G,colour=red", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -m: requires an argument", "-m", NULL);
}

static void test_smp(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-smp", "cores=4,threads=2,sockets=1", NULL), 0);
    assert_int_equal(cfg.smp.cpus, 8);
    assert_int_equal(cfg.smp.maxcpus, 8);
    assert_int_equal(cfg.smp.cores, 4);
    assert_int_equal(cfg.smp.threads, 2);
    vm_config_free(&cfg);
    /* machine types since 6.2 fill in cores, not sockets */
    assert_int_equal(parse(&cfg, err, "-smp", "4", NULL), 0);
    assert_int_equal(cfg.smp.cpus, 4);
    assert_int_equal(cfg.smp.sockets, 1);
    assert_int_equal(cfg.smp.cores, 4);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-smp", "2,sockets=2", NULL), 0);
    assert_int_equal(cfg.smp.cores, 1);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-smp", "2,maxcpus=4", NULL), 0);
    assert_int_equal(cfg.smp.cpus, 2);
    assert_int_equal(cfg.smp.maxcpus, 4);
    vm_config_free(&cfg);
    /* QEMU 7.2: cores given, sockets filled in; dies count; zero is ignored with a warning. */
    assert_int_equal(parse(&cfg, err, "-smp", "4,cores=2", NULL), 0);
    assert_int_equal(cfg.smp.sockets, 2);
    assert_int_equal(cfg.smp.cores, 2);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-smp", "8,sockets=2,dies=2", NULL), 0);
    assert_int_equal(cfg.smp.dies, 2);
    assert_int_equal(cfg.smp.cores, 2);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-smp", "0", NULL), 0);
    assert_int_equal(cfg.smp.cpus, 1);
    assert_true(cfg.smp.zero_given);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-smp", "4,threads=0", NULL), 0);
    assert_int_equal(cfg.smp.cores, 4);
    assert_int_equal(cfg.smp.threads, 1);
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, "pcvm: -smp 4,sockets=3: Invalid CPU topology: product of the "
                 "hierarchy must match maxcpus: sockets (3) * dies (1) * cores (1) * threads (1) "
                 "!= maxcpus (4)", "-smp", "4,sockets=3", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -smp 8,maxcpus=4: Invalid CPU topology: maxcpus must be "
                 "equal to or greater than smp: sockets (1) * dies (1) * cores (4) * threads (1) "
                 "== maxcpus (4) < smp_cpus (8)", "-smp", "8,maxcpus=4", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -smp 4,clusters=2: clusters not supported by this "
                 "machine's CPU topology", "-smp", "4,clusters=2", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -smp x: Parameter 'smp.cpus' expects integer", "-smp", "x",
                 NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -smp 64: Invalid SMP CPUs 64. The max CPUs supported by "
                 "machine 'pc-i440fx-7.2' is 32", "-smp", "64", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-smp", "1000", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -smp 2,books=2: invalid parameter 'books'", "-smp",
                 "2,books=2", NULL);
}

static void test_machine_accel_cpu(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-machine", "pc-i440fx-7.2,usb=off", "-cpu",
                           "pentium3,+sse,-apic,pse=off", NULL), 0);
    assert_string_equal(cfg.machine, "pc-i440fx-7.2");
    assert_false(cfg.usb);
    assert_string_equal(cfg.cpu_model, "pentium3");
    assert_int_equal(cfg.n_cpu_features, 3);
    assert_string_equal(cfg.cpu_features[0].name, "sse");
    assert_true(cfg.cpu_features[0].enable);
    assert_false(cfg.cpu_features[1].enable);
    assert_false(cfg.cpu_features[2].enable);
    vm_config_free(&cfg);
    /* -accel kvm -accel tcg: the fallback lands on tcg; kvm,tcg is refused as QEMU 7.2 does */
    assert_int_equal(parse(&cfg, err, "-accel", "kvm", "-accel", "tcg", NULL), 0);
    assert_int_equal(cfg.accel, VM_ACCEL_TCG);
    assert_int_equal(cfg.n_accels, 2);
    assert_int_equal(cfg.accels[0], VM_ACCEL_KVM);
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, "pcvm: -accel kvm,tcg: 'tcg' is not a property of an accelerator "
                 "(QEMU 7.2 refuses this too); a fallback list is -accel kvm -accel tcg",
                 "-accel", "kvm,tcg", NULL);
    assert_int_equal(parse(&cfg, err, "-M", "pc,accel=kvm:tcg", NULL), 0);
    assert_int_equal(cfg.accel, VM_ACCEL_TCG);
    vm_config_free(&cfg);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -accel kvm: not supported yet", "-accel", "kvm",
                 NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -enable-kvm: not supported yet", "-enable-kvm",
                 NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -machine q35: not supported yet", "-machine", "q35",
                 NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-M", "pc-i440fx-x", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -machine pc,bogus=1: invalid parameter 'bogus'",
                 "-machine", "pc,bogus=1", NULL);
    struct vm_config c2;
    assert_int_equal(parse(&c2, err, "-cpu", "help", NULL), VM_PARSE_EXIT);
    assert_int_equal(c2.action, VM_ACTION_CPU_HELP);
    vm_config_free(&c2);
}

static void test_drives(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    char spec[256];
    snprintf(spec, sizeof(spec),
             "file=%s,format=qcow2,cache=writeback,aio=threads,if=ide", existing_file);
    assert_int_equal(parse(&cfg, err, "-drive", spec, NULL), 0);
    assert_int_equal(cfg.n_drives, 1);
    assert_int_equal(cfg.drives[0].format, VM_FMT_QCOW2);
    assert_int_equal(cfg.drives[0].cache, VM_CACHE_WRITEBACK);
    assert_int_equal(cfg.drives[0].aio, VM_AIO_THREADS);
    assert_int_equal(cfg.drives[0].interface, VM_IF_IDE);
    assert_int_equal(cfg.drives[0].index, 0);
    vm_config_free(&cfg);

    /* -hda is index 0, -cdrom index 2 (secondary master); auto drives fill the gaps */
    snprintf(spec, sizeof(spec), "file=%s", existing_file);
    assert_int_equal(parse(&cfg, err, "-cdrom", existing_file, "-drive", spec, "-hda",
                           existing_file, "-snapshot", NULL), 0);
    assert_int_equal(cfg.n_drives, 3);
    assert_int_equal(cfg.drives[0].index, 2);
    assert_int_equal(cfg.drives[0].media, VM_MEDIA_CDROM);
    assert_true(cfg.drives[0].readonly);
    assert_int_equal(cfg.drives[1].index, 1);
    assert_int_equal(cfg.drives[2].index, 0);
    for (int i = 0; i < 3; i++)
        assert_true(cfg.drives[i].snapshot);
    vm_config_free(&cfg);

    expect_error(VM_PARSE_ERROR, NULL, "-hdc", existing_file, "-cdrom", existing_file, NULL);
    snprintf(spec, sizeof(spec), "file=%s,colour=blue", existing_file);
    expect_error(VM_PARSE_ERROR, NULL, "-drive", spec, NULL);
    assert_true(1);
    struct vm_config c;
    assert_int_equal(parse(&c, err, "-drive", spec, NULL), VM_PARSE_ERROR);
    assert_non_null(strstr(err, "invalid parameter 'colour'"));
    snprintf(spec, sizeof(spec), "file=%s,if=virtio", existing_file);
    assert_int_equal(parse(&c, err, "-drive", spec, NULL), VM_PARSE_OK);
    assert_int_equal(c.drives[0].interface, VM_IF_VIRTIO);
    vm_config_free(&c);
    snprintf(spec, sizeof(spec), "file=%s,if=virtio,index=1", existing_file);
    expect_error(VM_PARSE_ERROR, NULL, "-drive", spec, NULL);
    snprintf(spec, sizeof(spec), "file=%s,if=floppy", existing_file);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -drive if=floppy: not supported yet", "-drive",
                 spec, NULL);
    /* The Hurd box's virtio-blk form, and what virtio devices refuse. */
    snprintf(spec, sizeof(spec), "file=%s,if=none,id=hd0,format=qcow2", existing_file);
    assert_int_equal(parse(&c, err, "-drive", spec, "-device", "virtio-blk-pci,drive=hd0,disable-legacy=auto",
                           "-device", "virtio-rng,disable-modern=on,vectors=0", NULL), VM_PARSE_OK);
    assert_int_equal(c.n_devices, 2);
    assert_string_equal(c.devices[0].driver, "virtio-blk-pci");
    assert_string_equal(c.devices[1].driver, "virtio-rng-pci");
    vm_config_free(&c);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-blk-pci", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-blk-pci,drive=hd0,disable-legacy=maybe", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-rng-pci,disable-legacy=on,disable-modern=on", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-blk-pci,drive=hd0,vectors=10", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-rng-pci,vectors=x", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtconsole,chardev=c,vectors=2", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, NULL, "-device", "virtio-blk-pci,drive=hd0,ioeventfd=on", NULL);
    /* virtio-9p: -virtfs, and -fsdev with -device. */
    assert_int_equal(parse(&c, err, "-virtfs", "local,path=/tmp,mount_tag=host0,security_model=none,readonly=on",
                           "-fsdev", "local,id=fs1,path=/srv,security_model=mapped",
                           "-device", "virtio-9p-pci,fsdev=fs1,mount_tag=srv", NULL), VM_PARSE_OK);
    assert_int_equal(c.n_fsdevs, 2);
    assert_true(c.fsdevs[0].readonly);
    assert_string_equal(c.fsdevs[1].security_model, "mapped-xattr");
    assert_string_equal(c.fsdevs[1].path, "/srv");
    assert_int_equal(c.n_devices, 2);
    assert_string_equal(c.devices[0].driver, "virtio-9p-pci");
    assert_string_equal(c.devices[1].driver, "virtio-9p-pci");
    vm_config_free(&c);
    expect_error(VM_PARSE_ERROR, NULL, "-virtfs", "local,path=/tmp,security_model=none", NULL);   /* no tag */
    expect_error(VM_PARSE_ERROR, NULL, "-virtfs", "local,path=/tmp,mount_tag=t", NULL);  /* no model */
    expect_error(VM_PARSE_ERROR, NULL, "-virtfs", "local,path=/tmp,mount_tag=t,security_model=open", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, NULL, "-virtfs", "local,path=/tmp,mount_tag=t,security_model=mapped-file", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, NULL, "-fsdev", "synth,id=x", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-fsdev", "local,id=x,security_model=none", NULL);        /* no path */
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-9p-pci,mount_tag=t", NULL);             /* no fsdev */
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-9p-pci,fsdev=f", NULL);                 /* no tag */
    /* virtio-serial with its two kinds of port. */
    assert_int_equal(parse(&c, err, "-device", "virtio-serial", "-chardev", "null,id=c0", "-device",
                           "virtconsole,chardev=c0", "-chardev", "null,id=c1", "-device",
                           "virtserialport,chardev=c1,name=org.x,bus=virtio-serial0.0,nr=2", NULL), VM_PARSE_OK);
    assert_int_equal(c.n_devices, 3);
    assert_string_equal(c.devices[0].driver, "virtio-serial-pci");
    assert_string_equal(c.devices[1].driver, "virtconsole");
    assert_string_equal(c.devices[2].driver, "virtserialport");
    vm_config_free(&c);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtconsole", NULL);                           /* no chardev */
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtserialport,chardev=c,bus=pci.1", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtserialport,chardev=c,nr=99", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtserialport,chardev=c,colour=red", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, NULL, "-device", "virtio-serial-pci,max_ports=4", NULL);
    snprintf(spec, sizeof(spec), "file=%s,cache=sometimes", existing_file);
    expect_error(VM_PARSE_ERROR, NULL, "-drive", spec, NULL);
    snprintf(spec, sizeof(spec), "file=%s,index=4", existing_file);
    expect_error(VM_PARSE_ERROR, NULL, "-drive", spec, NULL);
    snprintf(spec, sizeof(spec), "file=%s,aio=native", existing_file);
    expect_error(VM_PARSE_ERROR, NULL, "-drive", spec, NULL);
    expect_error(VM_PARSE_ERROR,
                 "pcvm: -drive file=/nonexistent/disk.img: could not open '/nonexistent/disk.img':"
                 " No such file or directory", "-drive", "file=/nonexistent/disk.img", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-kernel", "/nonexistent/kernel", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-hda", "/nonexistent/hda", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -append: only allowed with -kernel", "-append", "x",
                 NULL);
}

static void test_boot(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-boot", "order=dc,menu=on", NULL), 0);
    assert_string_equal(cfg.boot.order, "dc");
    assert_true(cfg.boot.menu);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-boot", "d", NULL), 0);   /* legacy form */
    assert_string_equal(cfg.boot.order, "d");
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, NULL, "-boot", "order=z", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-boot", "order=cc", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-boot", "menu=maybe", NULL);
}

static void test_network(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-netdev",
                           "user,id=net0,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:8080-10.0.2.15:80",
                           "-device", "e1000,netdev=net0,mac=52:54:00:12:34:56", NULL), 0);
    assert_int_equal(cfg.n_netdevs, 1);
    struct vm_netdev *nd = &cfg.netdevs[0];
    assert_string_equal(nd->id, "net0");
    assert_int_equal(nd->n_hostfwd, 2);
    assert_false(nd->hostfwd[0].udp);
    assert_string_equal(nd->hostfwd[0].host_addr, "");
    assert_int_equal(nd->hostfwd[0].host_port, 2222);
    assert_string_equal(nd->hostfwd[0].guest_addr, "");
    assert_int_equal(nd->hostfwd[0].guest_port, 22);
    assert_true(nd->hostfwd[1].udp);
    assert_string_equal(nd->hostfwd[1].host_addr, "127.0.0.1");
    assert_string_equal(nd->hostfwd[1].guest_addr, "10.0.2.15");
    assert_int_equal(nd->hostfwd[1].guest_port, 80);
    assert_int_equal(cfg.n_nics, 1);   /* -netdev removes the default NIC */
    assert_string_equal(cfg.nics[0].netdev, "net0");
    assert_true(cfg.nics[0].has_mac);
    assert_int_equal(cfg.nics[0].mac[5], 0x56);
    vm_config_free(&cfg);

    /* -net nic + -net user: the card joins the user back end */
    assert_int_equal(parse(&cfg, err, "-net", "nic,model=e1000", "-net", "user", NULL), 0);
    assert_int_equal(cfg.n_nics, 1);
    assert_int_equal(cfg.n_netdevs, 1);
    assert_string_equal(cfg.nics[0].netdev, cfg.netdevs[0].id);
    vm_config_free(&cfg);

    assert_int_equal(parse(&cfg, err, "-nodefaults", NULL), 0);
    assert_int_equal(cfg.n_nics, 0);
    assert_int_equal(cfg.n_serial, 0);
    assert_int_equal(cfg.vga, VM_VGA_NONE);
    vm_config_free(&cfg);

    static const char *const bad_fwd[] = {
        "user,id=n,hostfwd=tcp::2222", "user,id=n,hostfwd=tcp::99999-:22",
        "user,id=n,hostfwd=sctp::22-:22", "user,id=n,hostfwd=tcp:300.1.1.1:22-:22",
        "user,id=n,hostfwd=tcp::22-:0", "user,id=n,hostfwd=", "user,id=n,hostfwd=tcp::x-:22",
    };
    for (size_t i = 0; i < sizeof(bad_fwd) / sizeof(bad_fwd[0]); i++)
        expect_error(VM_PARSE_ERROR, NULL, "-netdev", bad_fwd[i], NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -netdev vde: not supported yet", "-netdev",
                 "vde,id=n", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-netdev", "tap,id=n,script=/etc/qemu-ifup", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-netdev", "socket,id=n", NULL);       /* no mode */
    expect_error(VM_PARSE_ERROR, NULL, "-netdev", "socket,id=n,listen=:1,connect=:2", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-object", "filter-dump,id=f,netdev=n", NULL);   /* no file */
    {
        struct vm_config c2;
        char e2[256];
        assert_int_equal(parse(&c2, e2, "-netdev", "tap,id=net0,ifname=tap0,script=no,downscript=no",
                               "-device", "e1000,netdev=net0", NULL), 0);
        assert_string_equal(c2.netdevs[0].type, "tap");
        assert_string_equal(c2.nics[0].netdev, "net0");
        vm_config_free(&c2);
    }
    expect_error(VM_PARSE_ERROR, NULL, "-netdev", "user", NULL);   /* no id */
    expect_error(VM_PARSE_ERROR, NULL, "-netdev", "user,id=a,frob=1", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "e1000,netdev=nosuch", NULL);
    /* virtio-net-pci under its three spellings; other virtio NICs are refused. */
    {
        struct vm_config c3;
        char e3[256];
        assert_int_equal(parse(&c3, e3, "-netdev", "user,id=net0", "-device",
                               "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:09,disable-legacy=on",
                               "-nic", "user,model=virtio-net-pci", "-net", "nic,model=virtio", "-net", "user",
                               NULL), 0);
        assert_int_equal(c3.n_nics, 3);
        for (unsigned i = 0; i < 3; i++)
            assert_string_equal(c3.nics[i].model, "virtio-net-pci");
        assert_true(c3.nics[0].no_legacy);
        assert_false(c3.nics[0].no_modern);
        assert_int_equal(c3.nics[0].mac[5], 9);
        vm_config_free(&c3);
    }
    expect_error(VM_PARSE_ERROR, NULL, "-device", "virtio-net-pci,netdev=n", NULL);   /* no such netdev */
    expect_error(VM_PARSE_ERROR, NULL, "-netdev", "user,id=n", "-device",
                 "virtio-net-pci,netdev=n,disable-legacy=on,disable-modern=on", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -net virtio-net-ccw: not supported yet",
                 "-net", "nic,model=virtio-net-ccw", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "e1000,mac=01:00:00:00:00:01", NULL);
}

static void test_devices(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-device", "isa-debug-exit", "-device",
                           "isa-debug-exit,iobase=0xf4,iosize=0x04", NULL), 0);
    assert_int_equal(cfg.n_devices, 2);
    assert_int_equal(cfg.devices[0].iobase, 0x501);   /* QEMU's defaults */
    assert_int_equal(cfg.devices[0].iosize, 2);
    assert_int_equal(cfg.devices[1].iobase, 0xf4);
    assert_int_equal(cfg.devices[1].iosize, 4);
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "isa-debug-exit,iobase=0x10000", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "isa-debug-exit,iosize=3", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "isa-debug-exit,colour=1", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "no-such-device", NULL);
    assert_int_equal(parse(&cfg, err, "-device", "help", NULL), VM_PARSE_EXIT);
    assert_int_equal(cfg.action, VM_ACTION_DEVICE_HELP);
    vm_config_free(&cfg);
}

static void test_consoles(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    /* -nographic alone: serial and monitor share stdio through the mux */
    assert_int_equal(parse(&cfg, err, "-nographic", NULL), 0);
    assert_int_equal(cfg.n_serial, 1);
    assert_string_equal(cfg.serial[0], "mon:stdio");
    assert_int_equal(cfg.n_monitors, 0);
    vm_config_free(&cfg);
    /* -nographic with an explicit serial: the monitor keeps stdio */
    assert_int_equal(parse(&cfg, err, "-nographic", "-serial", "pty", NULL), 0);
    assert_string_equal(cfg.serial[0], "pty");
    assert_int_equal(cfg.n_monitors, 1);
    assert_string_equal(cfg.monitors[0].spec, "stdio");
    vm_config_free(&cfg);
    /* -nographic with both elsewhere: nothing on stdio */
    assert_int_equal(parse(&cfg, err, "-nographic", "-serial", "pty", "-monitor",
                           "unix:/tmp/x.sock,server,nowait", NULL), 0);
    assert_int_equal(cfg.n_monitors, 1);
    assert_string_equal(cfg.monitors[0].spec, "unix:/tmp/x.sock,server,nowait");
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-serial", "none", "-serial", "stdio", "-monitor", "none",
                           NULL), 0);
    assert_int_equal(cfg.n_serial, 1);   /* "none" takes no COM port */
    assert_int_equal(cfg.n_monitors, 0);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-chardev", "socket,id=m0,path=/tmp/m.sock,server=on,wait=off",
                           "-mon", "chardev=m0,mode=readline", "-serial", "file:/tmp/s.log",
                           "-serial", "null", "-serial", "tcp::4444,server,nowait", "-serial",
                           "pty", NULL), 0);
    assert_int_equal(cfg.n_serial, 4);
    assert_int_equal(cfg.n_chardevs, 1);
    assert_string_equal(cfg.chardevs[0].backend, "socket");
    assert_string_equal(cfg.monitors[0].chardev_id, "m0");
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, NULL, "-serial", "null", "-serial", "null", "-serial", "null",
                 "-serial", "null", "-serial", "null", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: cannot use stdio by multiple character devices",
                 "-serial", "stdio", "-monitor", "stdio", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-serial", "bogus:x", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-serial", "unix:/tmp/a,server,colour=1", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-mon", "chardev=nosuch", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-chardev", "socket,path=/tmp/a", NULL);   /* no id */
    /* QMP: -mon mode=control[,pretty=on] and -qmp */
    assert_int_equal(parse(&cfg, err, "-chardev", "socket,id=q,path=/tmp/q.sock,server=on,wait=off",
                           "-mon", "chardev=q,mode=control,pretty=on", "-qmp",
                           "tcp:127.0.0.1:4444,server,nowait", NULL), 0);
    assert_int_equal(cfg.n_monitors, 2);
    assert_true(cfg.monitors[0].control);
    assert_true(cfg.monitors[0].pretty);
    assert_true(cfg.monitors[1].control);
    assert_string_equal(cfg.monitors[1].spec, "tcp:127.0.0.1:4444,server,nowait");
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, NULL, "-mon", "chardev=q,mode=json", "-chardev", "null,id=q", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-qmp", "bogus:x", NULL);
    /* -action and pvpanic */
    assert_int_equal(parse(&cfg, err, "-action", "panic=exit-failure,reboot=shutdown", "-device",
                           "pvpanic", NULL), 0);
    assert_int_equal(cfg.panic_action, VM_PANIC_EXIT_FAILURE);
    assert_true(cfg.no_reboot);
    assert_int_equal(cfg.n_devices, 1);
    assert_string_equal(cfg.devices[0].driver, "pvpanic");
    assert_int_equal(cfg.devices[0].iobase, 0x505);
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, "pcvm: -action panic=reboot: invalid value 'reboot' for 'panic' "
                 "(pause, shutdown, exit-failure, none)", "-action", "panic=reboot", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-action", "colour=red", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-device", "pvpanic,ioport=0x10000", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -vnc 0.0.0.0:0,websocket=on: option 'websocket' not "
                 "supported (password, to, share)", "-vnc", "0.0.0.0:0,websocket=on", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -sdl: not supported yet", "-sdl", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -display gtk: not supported yet", "-display",
                 "gtk", NULL);
    expect_error(VM_PARSE_ERROR, "pcvm: -foo: invalid option", "-foo", NULL);
}

static void test_misc(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-rtc", "base=2000-01-01T00:00:00,clock=vm", "-d",
                           "guest_errors,int", "-D", "/tmp/q.log", "-s", "-S", "-no-reboot",
                           "-icount", "shift=3,sleep=off", "-loadvm", "snap1", "-name",
                           "a,,b", "-sandbox", "off", NULL), 0);
    assert_int_equal(cfg.rtc.base, VM_RTC_BASE_DATE);
    assert_int_equal(cfg.rtc.base_time, 946684800);   /* 2000-01-01 UTC */
    assert_int_equal(cfg.rtc.clock, VM_RTC_CLOCK_VM);
    assert_int_equal(cfg.log_mask, 0x3);
    assert_string_equal(cfg.log_file, "/tmp/q.log");
    assert_string_equal(cfg.gdb, "tcp::1234");        /* -s */
    assert_true(cfg.start_paused);
    assert_true(cfg.no_reboot);
    assert_true(cfg.icount.enabled);
    assert_int_equal(cfg.icount.shift, 3);
    assert_false(cfg.icount.sleep);
    assert_string_equal(cfg.loadvm, "snap1");
    assert_string_equal(cfg.name, "a,b");             /* ",," is a literal comma */
    vm_config_free(&cfg);
    expect_error(VM_PARSE_ERROR, NULL, "-rtc", "base=yesterday", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-rtc", "clock=sundial", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-d", "guest_errors,nonsense", NULL);
    expect_error(VM_PARSE_ERROR, NULL, "-icount", "shift=11", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -daemonize: not supported yet", "-daemonize", NULL);
    expect_error(VM_PARSE_UNSUPPORTED, "pcvm: -sandbox on: not supported yet", "-sandbox", "on",
                 NULL);
    assert_int_equal(parse(&cfg, err, "-d", "help", NULL), VM_PARSE_EXIT);
    assert_int_equal(cfg.action, VM_ACTION_LOG_HELP);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-version", NULL), VM_PARSE_EXIT);
    assert_int_equal(cfg.action, VM_ACTION_VERSION);
    vm_config_free(&cfg);
    assert_int_equal(parse(&cfg, err, "-h", NULL), VM_PARSE_EXIT);
    assert_int_equal(cfg.action, VM_ACTION_HELP);
    vm_config_free(&cfg);
}

static void test_size_parser(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(parse_size("1T", 1, &v), 0);
    assert_int_equal(v, 1ull << 40);
    assert_int_equal(parse_size("512", 1024, &v), 0);
    assert_int_equal(v, 512 * 1024);
    assert_int_equal(parse_size("4KB", 1, &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(parse_size("16E", 1, &v), -1);   /* 2^64: overflow */
    assert_int_equal(parse_size("-1", 1, &v), -1);
    assert_int_equal(parse_size("1X", 1, &v), -1);
    assert_int_equal(parse_size("", 1, &v), -1);
}

static void test_dump_is_stable(void **state)
{
    (void)state;
    struct vm_config cfg;
    char err[512];
    assert_int_equal(parse(&cfg, err, "-m", "64", "-nographic", NULL), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    vm_config_dump(&cfg, f);
    fclose(f);
    assert_non_null(strstr(text, "ram_size 67108864\n"));
    assert_non_null(strstr(text, "serial[0] mon:stdio\n"));
    assert_non_null(strstr(text, "nographic on\n"));
    free(text);
    vm_config_free(&cfg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(existing_file, sizeof(existing_file), "/tmp/pcvm-test-cli-XXXXXX");
    int fd = mkstemp(existing_file);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(existing_file);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_memory_sizes),
        cmocka_unit_test(test_smp),             cmocka_unit_test(test_machine_accel_cpu),
        cmocka_unit_test(test_drives),          cmocka_unit_test(test_boot),
        cmocka_unit_test(test_network),         cmocka_unit_test(test_devices),
        cmocka_unit_test(test_consoles),        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_size_parser),     cmocka_unit_test(test_dump_is_stable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

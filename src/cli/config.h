/* The parsed command line: one plain-data description of a run, built by vm_config_parse()
 * without side effects (no file is opened, nothing printed). main.c and the board read it. */
#ifndef PCVM_CLI_CONFIG_H
#define PCVM_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VM_MAX_DRIVES        16
#define VM_MAX_NETDEVS       8
#define VM_MAX_NICS          8
#define VM_MAX_DEVICES       32
#define VM_MAX_SERIALS       4   /* COM1..COM4 */
#define VM_MAX_CHARDEVS      16
#define VM_MAX_MONITORS      4
#define VM_MAX_HOSTFWD       16
#define VM_MAX_PROPS         16
#define VM_MAX_CPU_FEATURES  32
#define VM_MAX_ACCELS        4

/* What main() should do after a successful parse (help-like flags print nothing themselves). */
enum vm_action {
    VM_ACTION_RUN = 0,
    VM_ACTION_VERSION,      /* -version */
    VM_ACTION_HELP,         /* -h / -help */
    VM_ACTION_CPU_HELP,     /* -cpu help */
    VM_ACTION_LOG_HELP,     /* -d help */
    VM_ACTION_DEVICE_HELP,  /* -device help */
    VM_ACTION_MACHINE_HELP, /* -M help */
    VM_ACTION_NIC_HELP,     /* -net nic,model=help */
    VM_ACTION_DUMP_CONFIG,  /* --dump-config (hidden): print vm_config_dump() and exit 0 */
};

/* vm_config_parse() results. */
#define VM_PARSE_OK           0
#define VM_PARSE_EXIT         1   /* an action flag was given: act on cfg->action, exit 0 */
#define VM_PARSE_ERROR       -1   /* invalid input: err holds one line; exit 1 */
#define VM_PARSE_UNSUPPORTED -2   /* valid QEMU option pcvm refuses for now; exit 1 */

/* A key=value property (value may be NULL for a bare flag). */
struct vm_prop {
    char *key;
    char *value;
};

enum vm_accel { VM_ACCEL_TCG = 0, VM_ACCEL_KVM };

struct vm_cpu_feature {
    char *name;
    bool enable;            /* +feat / feat=on: true; -feat / feat=off: false */
    char *value;            /* a property's value (vendor=, family=, ...); NULL for a feature */
};

struct vm_smp {
    unsigned cpus, cores, threads, sockets, maxcpus;   /* all resolved, never 0 */
    unsigned dies;          /* per socket, resolved (1 unless dies= says more) */
    bool zero_given;        /* a count was 0: QEMU 7.2 warns (deprecated) and ignores it */
};

enum vm_drive_if { VM_IF_IDE = 0, VM_IF_NONE, VM_IF_VIRTIO, VM_IF_FLOPPY };
enum vm_drive_media { VM_MEDIA_DISK = 0, VM_MEDIA_CDROM };
enum vm_drive_format { VM_FMT_PROBE = 0, VM_FMT_RAW, VM_FMT_QCOW2 };
enum vm_drive_cache {
    VM_CACHE_WRITEBACK = 0, VM_CACHE_WRITETHROUGH, VM_CACHE_NONE, VM_CACHE_UNSAFE,
    VM_CACHE_DIRECTSYNC
};
enum vm_drive_aio { VM_AIO_THREADS = 0, VM_AIO_NATIVE, VM_AIO_IO_URING };

struct vm_drive {
    char *file;             /* NULL: empty drive (a CD-ROM without medium) */
    char *id;               /* id= or NULL */
    enum vm_drive_format format;
    enum vm_drive_cache cache;
    enum vm_drive_aio aio;
    enum vm_drive_if interface;
    int index;              /* resolved for if=ide (0..3: bus = index / 2, unit = index % 2) */
    enum vm_drive_media media;
    bool snapshot;          /* snapshot=on or global -snapshot */
    bool readonly;
};

enum vm_boot_device { VM_BOOT_FLOPPY = 'a', VM_BOOT_DISK = 'c', VM_BOOT_CDROM = 'd',
                      VM_BOOT_NET = 'n' };

struct vm_boot {
    char order[17];         /* drive letters, e.g. "cad" (QEMU's default) */
    char once[17];          /* once= or "" */
    bool menu;
    bool strict;
};

struct vm_hostfwd {
    bool udp;               /* false: tcp */
    char host_addr[64];     /* "" = any */
    uint16_t host_port;
    char guest_addr[64];    /* "" = the first DHCP address */
    uint16_t guest_port;
};

/* -netdev user / -net user. */
struct vm_netdev {
    char *type;             /* "user" */
    char *id;               /* -net user gets a generated id "__net_userN" */
    struct vm_hostfwd hostfwd[VM_MAX_HOSTFWD];
    unsigned n_hostfwd;
    struct vm_prop opts[VM_MAX_PROPS];   /* other validated user options: net, host, dns ... */
    unsigned n_opts;
    bool implicit;          /* QEMU's default network, added because no network option was given */
};

/* -device e1000 / -net nic. */
struct vm_nic {
    char *model;            /* "e1000" or "virtio-net-pci" */
    char *netdev;           /* netdev id, or NULL when unconnected */
    char *id;
    bool has_mac;
    uint8_t mac[6];
    bool implicit;          /* QEMU's default NIC (no network option was given) */
    bool legacy;            /* -net nic: without netdev= it joins the first -net user */
    char *romfile;          /* romfile= ("" = no option ROM), NULL: the model's iPXE ROM */
    bool no_legacy, no_modern;  /* virtio-net-pci: disable-legacy=on / disable-modern=on */
    bool no_cplus;          /* rtl8139: cplus=off, an RTL8139C without C+ mode (pcvm's own) */
};

/* -object filter-dump,id=ID,netdev=NETDEV,file=PCAP[,maxlen=N] */
#define VM_MAX_FILTERS 4
struct vm_filter_dump {
    char *id;
    char *netdev;
    char *file;
    unsigned maxlen;        /* 0: 64 KiB, QEMU's default */
};

/* -fsdev local,id=,path=,security_model=[,readonly=on]; -virtfs makes one with its device. */
#define VM_MAX_FSDEVS 4
struct vm_fsdev {
    char *id;
    char *path;
    char *security_model;   /* "none", "passthrough" or "mapped-xattr" */
    bool readonly;
};

/* Other -device entries. */
struct vm_device {
    char *driver;           /* "isa-debug-exit" */
    char *id;
    struct vm_prop props[VM_MAX_PROPS];   /* as given, validated */
    unsigned n_props;
    uint32_t iobase;        /* isa-debug-exit: default 0x501 */
    uint32_t iosize;        /* isa-debug-exit: default 2 */
};

/* -chardev BACKEND,id=ID,...: spec is the whole argument, given to chardev_open() as is. */
struct vm_chardev {
    char *id;
    char *backend;
    char *spec;
    bool mux;               /* mux=on */
};

/* A monitor: either on a legacy spec (-monitor stdio) or on a -chardev (-mon chardev=ID). */
struct vm_monitor {
    char *spec;             /* -monitor SPEC, or NULL */
    char *chardev_id;       /* -mon chardev=ID, or NULL */
    bool control;           /* -qmp, or -mon mode=control: QMP instead of HMP */
    bool pretty;            /* -mon pretty=on: indented QMP replies */
};

/* -action panic=: what a guest panic reported through pvpanic does (QEMU's default: shutdown). */
enum vm_panic_action { VM_PANIC_SHUTDOWN = 0, VM_PANIC_PAUSE, VM_PANIC_EXIT_FAILURE, VM_PANIC_NONE };

enum vm_display { VM_DISPLAY_DEFAULT = 0, VM_DISPLAY_NONE, VM_DISPLAY_SDL };
enum vm_vga { VM_VGA_STD = 0, VM_VGA_NONE };
enum vm_rtc_base { VM_RTC_BASE_UTC = 0, VM_RTC_BASE_LOCALTIME, VM_RTC_BASE_DATE };
enum vm_rtc_clock { VM_RTC_CLOCK_HOST = 0, VM_RTC_CLOCK_RT, VM_RTC_CLOCK_VM };

struct vm_rtc {
    enum vm_rtc_base base;
    int64_t base_time;      /* VM_RTC_BASE_DATE: seconds since the epoch, UTC */
    enum vm_rtc_clock clock;
    bool driftfix_slew;
};

struct vm_icount {
    bool enabled;
    int shift;              /* 2^shift ns per instruction; -1 = auto */
    bool sleep;             /* default true */
};

struct vm_config {
    enum vm_action action;

    uint64_t ram_size;      /* bytes; default 128 MiB */
    char *machine;          /* "pc" or "pc-i440fx-X.Y" */
    struct vm_prop machine_props[VM_MAX_PROPS];
    unsigned n_machine_props;
    bool usb;               /* -machine usb=on|off (default off) */

    enum vm_accel accels[VM_MAX_ACCELS];   /* preference order, as given */
    unsigned n_accels;                     /* 0: default (tcg) */
    enum vm_accel accel;                   /* the one chosen (pcvm: always tcg) */
    int jit;                /* -accel tcg,jit=on|off: 1 on, 0 off, -1 the default */
    unsigned jit_threshold; /* -accel tcg,jit-threshold=N (pcvm's own): 0 = the default */
    enum vm_tcg_thread { VM_TCG_THREAD_DEFAULT = 0, VM_TCG_THREAD_SINGLE, VM_TCG_THREAD_MULTI }
        tcg_thread;         /* -accel tcg,thread=: default multi with -smp > 1, single with -icount */

    char *cpu_model;        /* NULL: the board's default model */
    struct vm_cpu_feature cpu_features[VM_MAX_CPU_FEATURES];
    unsigned n_cpu_features;
    struct vm_smp smp;

    struct vm_drive drives[VM_MAX_DRIVES];
    unsigned n_drives;
    struct vm_boot boot;
    bool snapshot;          /* -snapshot */

    char *kernel, *initrd, *append, *bios;
    bool nodefaults;
    char *name;

    struct vm_netdev netdevs[VM_MAX_NETDEVS];
    unsigned n_netdevs;
    struct vm_nic nics[VM_MAX_NICS];
    unsigned n_nics;
    struct vm_device devices[VM_MAX_DEVICES];
    unsigned n_devices;
    struct vm_filter_dump filters[VM_MAX_FILTERS];
    unsigned n_filters;
    struct vm_fsdev fsdevs[VM_MAX_FSDEVS];
    unsigned n_fsdevs;

    /* Effective after defaults: -nographic with nothing else gives serial[0] = "mon:stdio". */
    char *serial[VM_MAX_SERIALS];          /* chardev specs for COM1..COM4 ("chardev:ID" too) */
    unsigned n_serial;
    struct vm_monitor monitors[VM_MAX_MONITORS];
    unsigned n_monitors;
    struct vm_chardev chardevs[VM_MAX_CHARDEVS];
    unsigned n_chardevs;
    char *debugcon;         /* -debugcon SPEC (port 0xe9) or NULL */

    bool nographic;
    enum vm_display display;
    char *vnc;              /* -vnc SPEC as given (checked by vnc_spec_parse), or NULL */
    char *keyboard_layout;  /* -k LAYOUT (en-us, de), or NULL */
    enum vm_vga vga;
    struct vm_rtc rtc;
    bool no_reboot, no_shutdown;
    enum vm_panic_action panic_action;

    unsigned log_mask;      /* enum log_item bits */
    char *log_file;         /* -D or NULL (stderr) */

    char *gdb;              /* -gdb SPEC ("tcp::1234" for -s), or NULL */
    bool start_paused;      /* -S */
    struct vm_icount icount;
    char *loadvm;
    char *incoming;         /* -incoming URI (exec:CMD, file:PATH, defer) */
    bool daemonize;         /* refused for now: always false */
    char *pidfile;
    char *stamps;           /* -stamps FILE: time stamps of guest output, or NULL */
    bool sandbox;           /* only -sandbox off is accepted: always false */
};

/* Parse argv (argv[0] is the program) into cfg with no side effects. Returns VM_PARSE_OK,
 * VM_PARSE_EXIT (act on cfg->action, then exit 0), VM_PARSE_ERROR or VM_PARSE_UNSUPPORTED
 * (err holds one line such as "pcvm: -m 0: memory size must be greater than zero"). */
int vm_config_parse(struct vm_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Release every string the config owns; cfg is zeroed afterwards. */
void vm_config_free(struct vm_config *cfg);
/* Write the config in a stable line-per-field text form (used by tests, --dump-config). */
void vm_config_dump(const struct vm_config *cfg, FILE *out);
/* Print what a help-like action asks for (-h, -version, -cpu help ...) to stdout. */
void vm_config_print_action(const struct vm_config *cfg);
/* Find a -chardev by id (NULL if absent). */
const struct vm_chardev *vm_config_find_chardev(const struct vm_config *cfg, const char *id);

/* Parse for main(): prints the error line or the help-like action (and --dump-config).
 * Returns -1 when the VM should run with cfg filled (free it later), else the exit status
 * main() must return (cfg already freed). */
int cli_parse_or_exit(struct vm_config *cfg, int argc, char **argv);
/* Parse, print the outcome and return the exit status; never runs a VM (tests, tools). */
int cli_main_dump(int argc, char **argv);

#endif

/* QEMU-compatible command-line parsing into struct vm_config, with no side effects beyond
 * checking that named input files exist. */
#include "boot/multiboot.h"
#include "cli/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "chardev/chardev_spec.h"
#include "cli/kvlist.h"
#include "ui/keymap.h"
#include "ui/vnc.h"
#include "util/log.h"

#define RAM_DEFAULT   (128ull << 20)
#define RAM_MAX       (64ull << 30)   /* 36-bit PAE physical space */
#define SMP_MAX_CPUS  32     /* the board's local APICs (pc.h PC_MAX_CPUS) */

struct parser {
    struct vm_config *cfg;
    char *err;
    size_t errlen;
    const char *opt;           /* current option as written, e.g. "-m" */
    const char *arg;           /* its argument or NULL */
    bool default_serial, default_monitor, default_vga, default_net;
    char accel_origin[64];     /* where a kvm-only request came from, for the refusal */
    bool accel_from_machine;
};

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = xstrdup(s);
}

/* "pcvm: -opt arg: message". */
static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->arg)
        snprintf(p->err, p->errlen, "pcvm: %s %s: %s", p->opt, p->arg, msg);
    else
        snprintf(p->err, p->errlen, "pcvm: %s: %s", p->opt, msg);
    return VM_PARSE_ERROR;
}

/* "pcvm: -opt[ what]: not supported yet". */
static int punsup(struct parser *p, const char *what)
{
    if (what && *what)
        snprintf(p->err, p->errlen, "pcvm: %s %s: not supported yet", p->opt, what);
    else
        snprintf(p->err, p->errlen, "pcvm: %s: not supported yet", p->opt);
    return VM_PARSE_UNSUPPORTED;
}

/* A kvlist key nobody consumed: the QEMU key pcvm does not know. */
static int check_unused(struct parser *p, struct kvlist *kl)
{
    const struct kv *kv = kvlist_unused(kl);
    if (kv)
        return perr(p, "invalid parameter '%s'", kv->key);
    return VM_PARSE_OK;
}

static int split(struct parser *p, struct kvlist *kl, const char *implied)
{
    char e[128];
    if (kvlist_parse(kl, p->arg, implied, e, sizeof(e)) < 0)
        return perr(p, "%s", e);
    return VM_PARSE_OK;
}

static int check_file(struct parser *p, const char *path)
{
    if (access(path, F_OK) < 0)
        return perr(p, "could not open '%s': %s", path, strerror(errno));
    return VM_PARSE_OK;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* ---- memory, machine, accelerator, CPU, SMP ---- */

static int opt_m(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "size");
    if (r)
        return r;
    if (kvlist_get(&kl, "slots") || kvlist_get(&kl, "maxmem")) {
        kvlist_free(&kl);
        return punsup(p, "slots=/maxmem= (memory hotplug)");
    }
    const char *size = kvlist_get(&kl, "size");
    uint64_t bytes = 0;
    if ((r = check_unused(p, &kl)))
        goto out;
    if (!size || parse_size(size, 1ull << 20, &bytes) < 0) {
        r = perr(p, "invalid memory size");
        goto out;
    }
    if (bytes == 0) {
        r = perr(p, "memory size must be greater than zero");
        goto out;
    }
    if (bytes > RAM_MAX) {
        r = perr(p, "memory size too large (maximum 64G)");
        goto out;
    }
    p->cfg->ram_size = (bytes + 8191) & ~8191ull;   /* whole 8 KiB, as QEMU rounds */
out:
    kvlist_free(&kl);
    return r;
}

/* Accelerator name -> list entry; kvm is remembered so a kvm-only request is refused. */
static int add_accel(struct parser *p, const char *name)
{
    struct vm_config *cfg = p->cfg;
    static const char *const other[] = { "xen", "hax", "hvf", "whpx", "nvmm", "qtest", NULL };
    enum vm_accel a;
    if (!strcmp(name, "tcg"))
        a = VM_ACCEL_TCG;
    else if (!strcmp(name, "kvm"))
        a = VM_ACCEL_KVM;
    else if (in_list(name, other))
        return punsup(p, name);
    else
        return perr(p, "invalid accelerator '%s'", name);
    if (cfg->n_accels >= VM_MAX_ACCELS)
        return perr(p, "too many accelerators");
    cfg->accels[cfg->n_accels++] = a;
    if (!p->accel_origin[0])
        snprintf(p->accel_origin, sizeof(p->accel_origin), "%s %s", p->opt, p->arg);
    return VM_PARSE_OK;
}

static bool valid_machine_type(const char *t)
{
    if (!strcmp(t, "pc"))
        return true;
    unsigned maj, min;
    char rest;
    return sscanf(t, "pc-i440fx-%u.%u%c", &maj, &min, &rest) == 2;
}

static int opt_machine(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    struct kvlist kl;
    int r = split(p, &kl, "type");
    if (r)
        return r;
    const char *type = kvlist_get(&kl, "type");
    if (type) {
        if (!strcmp(type, "help")) {
            cfg->action = VM_ACTION_MACHINE_HELP;
        } else if (!strcmp(type, "q35") || has_prefix(type, "pc-q35") || !strcmp(type, "isapc") ||
                   !strcmp(type, "microvm") || !strcmp(type, "none") || !strcmp(type, "x-remote") ||
                   has_prefix(type, "xen")) {
            r = punsup(p, type);
            goto out;
        } else if (!valid_machine_type(type)) {
            r = perr(p, "unsupported machine type '%s' (see -M help)", type);
            goto out;
        } else {
            set_str(&cfg->machine, type);
        }
    }
    const char *accel = kvlist_get(&kl, "accel");
    if (accel) {
        char *list = xstrdup(accel), *save = NULL;
        p->accel_from_machine = true;
        for (char *tok = strtok_r(list, ":", &save); tok && !r; tok = strtok_r(NULL, ":", &save))
            r = add_accel(p, tok);
        free(list);
        if (r)
            goto out;
    }
    if (kvlist_bool(&kl, "usb", &cfg->usb) < 0) {
        r = perr(p, "invalid value for 'usb'");
        goto out;
    }
    if (cfg->usb) {
        r = punsup(p, "usb=on");
        goto out;
    }
    /* Board switches kept for the board to apply (values checked: on/off, or auto). */
    static const char *const bool_props[] = { "acpi", "hpet", "vmport", "smm", "graphics",
                                              "dump-guest-core", "mem-merge", "kernel_irqchip",
                                              "i8042", "pit", "sata", "smbus", NULL };
    for (unsigned i = 0; i < kl.n && !r; i++) {
        struct kv *kv = &kl.items[i];
        bool coalesce = !strcmp(kv->key, "idle-coalesce");   /* pcvm's own: milliseconds */
        if (kv->used || (!coalesce && !in_list(kv->key, bool_props)))
            continue;
        kv->used = true;
        bool b;
        uint64_t ms;
        const char *v = kv->value ? kv->value : "on";
        if (coalesce ? parse_uint(v, 1000, &ms) < 0
                     : parse_bool(v, &b) < 0 && strcmp(v, "auto") && strcmp(v, "split")) {
            r = perr(p, "invalid value for '%s'", kv->key);
            break;
        }
        if (cfg->n_machine_props >= VM_MAX_PROPS) {
            r = perr(p, "too many machine properties");
            break;
        }
        struct vm_prop *prop = &cfg->machine_props[cfg->n_machine_props++];
        prop->key = xstrdup(kv->key);
        prop->value = xstrdup(v);
    }
    if (!r)
        r = check_unused(p, &kl);
out:
    kvlist_free(&kl);
    return r;
}

static int opt_accel(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "accel");
    if (r)
        return r;
    /* "-accel kvm,tcg" is refused, as QEMU 7.2 does ("Property 'kvm-accel.tcg' not found"):
     * its fallback form is "-accel kvm -accel tcg". */
    for (unsigned i = 0; i < kl.n && !r; i++) {
        struct kv *kv = &kl.items[i];
        if (i == 0) {
            kv->used = true;
            r = add_accel(p, kv->value);
        } else if (!kv->value && (!strcmp(kv->key, "tcg") || !strcmp(kv->key, "kvm"))) {
            r = perr(p, "'%s' is not a property of an accelerator (QEMU 7.2 refuses this too); "
                        "a fallback list is -accel %s -accel %s", kv->key, kl.items[0].value, kv->key);
        } else if (!strcmp(kv->key, "jit") || !strcmp(kv->key, "jit-threshold")) {
            /* pcvm's translator: jit=on|off, and after how many runs a trace compiles. */
            kv->used = true;
            bool on;
            uint64_t n;
            if (!strcmp(kv->key, "jit")) {
                if (parse_bool(kv->value ? kv->value : "on", &on) < 0)
                    r = perr(p, "invalid value for 'jit' (on or off)");
                else
                    p->cfg->jit = on;
            } else if (!kv->value || parse_uint(kv->value, 1u << 30, &n) < 0 || n == 0) {
                r = perr(p, "invalid value for 'jit-threshold' (1 to 1073741824)");
            } else {
                p->cfg->jit_threshold = (unsigned)n;
            }
        } else if (!strcmp(kv->key, "thread")) {
            /* single: the vCPUs take turns on one thread; multi: one host thread each. */
            kv->used = true;
            if (kv->value && !strcmp(kv->value, "single"))
                p->cfg->tcg_thread = VM_TCG_THREAD_SINGLE;
            else if (kv->value && !strcmp(kv->value, "multi"))
                p->cfg->tcg_thread = VM_TCG_THREAD_MULTI;
            else
                r = perr(p, "Invalid 'thread' setting %s", kv->value ? kv->value : "");
        }
    }
    if (!r) {
        const struct kv *kv = kvlist_unused(&kl);
        if (kv)
            r = punsup(p, kv->key);
    }
    kvlist_free(&kl);
    return r;
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static int add_cpu_feature(struct parser *p, const char *name, bool enable, const char *value)
{
    struct vm_config *cfg = p->cfg;
    if (!valid_name(name))
        return perr(p, "invalid CPU feature '%s'", name);
    if (cfg->n_cpu_features >= VM_MAX_CPU_FEATURES)
        return perr(p, "too many CPU features");
    cfg->cpu_features[cfg->n_cpu_features].name = xstrdup(name);
    cfg->cpu_features[cfg->n_cpu_features].value = value ? xstrdup(value) : NULL;
    cfg->cpu_features[cfg->n_cpu_features++].enable = enable;
    return VM_PARSE_OK;
}

/* -cpu properties that take a value rather than on/off (the CPU checks the values). */
static bool cpu_value_property(const char *key)
{
    static const char *const keys[] = { "vendor", "model-id", "family", "model", "stepping",
                                        "level", "xlevel", "phys-bits", NULL };
    for (int i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

static int opt_cpu(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    if (!strcmp(p->arg, "help") || !strcmp(p->arg, "?")) {
        cfg->action = VM_ACTION_CPU_HELP;
        return VM_PARSE_OK;
    }
    struct kvlist kl;
    int r = split(p, &kl, "model");
    if (r)
        return r;
    for (unsigned i = 0; i < cfg->n_cpu_features; i++) {
        free(cfg->cpu_features[i].name);
        free(cfg->cpu_features[i].value);
    }
    cfg->n_cpu_features = 0;
    const char *model = kl.n ? kl.items[0].value : NULL;
    if (!model || strcmp(kl.items[0].key, "model") || !valid_name(model)) {
        r = perr(p, "invalid CPU model name");
        goto out;
    }
    set_str(&cfg->cpu_model, model);
    for (unsigned i = 1; i < kl.n && !r; i++) {
        struct kv *kv = &kl.items[i];
        bool b;
        if (!kv->value && (kv->key[0] == '+' || kv->key[0] == '-')) {
            r = add_cpu_feature(p, kv->key + 1, kv->key[0] == '+', NULL);
        } else if (!kv->value) {
            r = add_cpu_feature(p, kv->key, true, NULL);
        } else if (cpu_value_property(kv->key)) {
            r = add_cpu_feature(p, kv->key, true, kv->value);
        } else if (parse_bool(kv->value, &b) == 0) {
            r = add_cpu_feature(p, kv->key, b, NULL);
        } else {
            char what[96];
            snprintf(what, sizeof(what), "property '%s'", kv->key);
            r = punsup(p, what);
        }
    }
out:
    kvlist_free(&kl);
    return r;
}

static int opt_smp(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "cpus");
    if (r)
        return r;
    enum { CPUS, SOCKETS, DIES, CLUSTERS, CORES, THREADS, MAXCPUS, NKEYS };
    static const char *const keys[NKEYS] = { "cpus", "sockets", "dies", "clusters", "cores",
                                             "threads", "maxcpus" };
    uint64_t v[NKEYS] = { 0 };
    bool zero = false;
    for (int i = 0; i < NKEYS; i++) {
        const char *s = kvlist_get(&kl, keys[i]);
        if (!s)
            continue;
        if (parse_uint(s, 1u << 20, &v[i]) < 0) {
            r = perr(p, "Parameter 'smp.%s' expects integer", keys[i]);
            goto out;
        }
        zero |= v[i] == 0;   /* QEMU 7.2 warns and treats it as omitted */
    }
    if ((r = check_unused(p, &kl)))
        goto out;
    /* QEMU 7.2's rules for the pc machine (dies supported, clusters not; cores preferred
     * over sockets since 6.2). */
    if (v[CLUSTERS] > 1) {
        r = perr(p, "clusters not supported by this machine's CPU topology");
        goto out;
    }
    uint64_t cpus = v[CPUS], sockets = v[SOCKETS], dies = v[DIES] ? v[DIES] : 1;
    uint64_t cores = v[CORES], threads = v[THREADS], maxcpus = v[MAXCPUS];
    if (cpus == 0 && maxcpus == 0) {
        sockets = sockets ? sockets : 1;
        cores = cores ? cores : 1;
        threads = threads ? threads : 1;
    } else {
        maxcpus = maxcpus ? maxcpus : cpus;
        if (cores == 0) {
            sockets = sockets ? sockets : 1;
            threads = threads ? threads : 1;
            cores = maxcpus / (sockets * dies * threads);
        } else if (sockets == 0) {
            threads = threads ? threads : 1;
            sockets = maxcpus / (dies * cores * threads);
        }
        if (threads == 0)
            threads = maxcpus / (sockets * dies * cores);
    }
    maxcpus = maxcpus ? maxcpus : sockets * dies * cores * threads;
    cpus = cpus ? cpus : maxcpus;
    char topo[160];
    snprintf(topo, sizeof(topo), "sockets (%llu) * dies (%llu) * cores (%llu) * threads (%llu)",
             (unsigned long long)sockets, (unsigned long long)dies, (unsigned long long)cores,
             (unsigned long long)threads);
    if (sockets * dies * cores * threads != maxcpus) {
        r = perr(p, "Invalid CPU topology: product of the hierarchy must match maxcpus: "
                 "%s != maxcpus (%llu)", topo, (unsigned long long)maxcpus);
        goto out;
    }
    if (maxcpus < cpus) {
        r = perr(p, "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                 "%s == maxcpus (%llu) < smp_cpus (%llu)", topo, (unsigned long long)maxcpus,
                 (unsigned long long)cpus);
        goto out;
    }
    if (maxcpus > SMP_MAX_CPUS) {
        /* QEMU's pc allows 255; pcvm's board has SMP_MAX_CPUS local APICs. */
        r = perr(p, "Invalid SMP CPUs %llu. The max CPUs supported by machine 'pc-i440fx-7.2' "
                 "is %d", (unsigned long long)maxcpus, SMP_MAX_CPUS);
        goto out;
    }
    p->cfg->smp = (struct vm_smp){ .cpus = (unsigned)cpus, .cores = (unsigned)cores,
                                   .threads = (unsigned)threads, .sockets = (unsigned)sockets,
                                   .maxcpus = (unsigned)maxcpus, .dies = (unsigned)dies,
                                   .zero_given = zero };
out:
    kvlist_free(&kl);
    return r;
}

/* ---- drives and boot ---- */

static struct vm_drive *new_drive(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    if (cfg->n_drives >= VM_MAX_DRIVES) {
        perr(p, "too many drives (maximum %d)", VM_MAX_DRIVES);
        return NULL;
    }
    struct vm_drive *d = &cfg->drives[cfg->n_drives++];
    memset(d, 0, sizeof(*d));
    d->index = -1;
    return d;
}

/* Pick a value from a table; returns its position, -1 unknown, -2 known but refused. */
static int pick(const char *v, const char *const *ok, const char *const *refused)
{
    for (int i = 0; ok[i]; i++)
        if (!strcmp(v, ok[i]))
            return i;
    if (refused && in_list(v, refused))
        return -2;
    return -1;
}

static int drive_enum(struct parser *p, struct kvlist *kl, const char *key, const char *const *ok,
                      const char *const *refused, int *out)
{
    const char *v = kvlist_get(kl, key);
    if (!v)
        return VM_PARSE_OK;
    int i = pick(v, ok, refused);
    if (i == -2) {
        char what[96];
        snprintf(what, sizeof(what), "%s=%s", key, v);
        return punsup(p, what);
    }
    if (i < 0)
        return perr(p, "invalid %s '%s'", key, v);
    *out = i;
    return VM_PARSE_OK;
}

static int opt_drive(struct parser *p)
{
    static const char *const formats[] = { "", "raw", "qcow2", NULL };
    static const char *const formats_no[] = { "vmdk", "vdi", "vpc", "vhdx", "qed", "luks", "dmg",
                                              "cloop", "bochs", "parallels", "vvfat",
                                              "host_device", "host_cdrom", "file", "nbd",
                                              "iscsi", "ssh", "http", "https", NULL };
    static const char *const caches[] = { "writeback", "writethrough", "none", "unsafe",
                                          "directsync", NULL };
    static const char *const aios[] = { "threads", "native", "io_uring", NULL };
    static const char *const ifs[] = { "ide", "none", "virtio", NULL };
    static const char *const ifs_no[] = { "floppy", "scsi", "sd", "mtd", "pflash",
                                          "xen", NULL };
    static const char *const medias[] = { "disk", "cdrom", NULL };
    static const char *const keys_no[] = { "werror", "rerror", "discard", "detect-zeroes",
                                           "copy-on-read", "serial", "node-name", "driver",
                                           "locking", "auto-read-only", "cache.direct",
                                           "cache.no-flush", "boot", "cyls", "heads", "secs",
                                           "trans", "addr", "bps", "iops", "throttling.bps-total",
                                           NULL };
    struct kvlist kl;
    int r = split(p, &kl, NULL);
    if (r)
        return r;
    struct vm_drive *d = new_drive(p);
    if (!d) {
        kvlist_free(&kl);
        return VM_PARSE_ERROR;
    }
    int fmt = 0, cache = 0, aio = 0, iface = 0, media = 0;
    for (unsigned i = 0; i < kl.n; i++)
        if (in_list(kl.items[i].key, keys_no)) {
            kl.items[i].used = true;
            r = punsup(p, kl.items[i].key);
            goto out;
        }
    if ((r = drive_enum(p, &kl, "format", formats, formats_no, &fmt)) ||
        (r = drive_enum(p, &kl, "cache", caches, NULL, &cache)) ||
        (r = drive_enum(p, &kl, "aio", aios, NULL, &aio)) ||
        (r = drive_enum(p, &kl, "if", ifs, ifs_no, &iface)) ||
        (r = drive_enum(p, &kl, "media", medias, NULL, &media)))
        goto out;
    d->format = (enum vm_drive_format)fmt;
    d->cache = (enum vm_drive_cache)cache;
    d->aio = (enum vm_drive_aio)aio;
    d->interface = iface == 0 ? VM_IF_IDE : iface == 1 ? VM_IF_NONE : VM_IF_VIRTIO;
    d->media = (enum vm_drive_media)media;
    if (kvlist_bool(&kl, "snapshot", &d->snapshot) < 0) {
        r = perr(p, "invalid value for 'snapshot'");
        goto out;
    }
    if (kvlist_bool(&kl, "readonly", &d->readonly) < 0) {
        r = perr(p, "invalid value for 'readonly'");
        goto out;
    }
    const char *id = kvlist_get(&kl, "id");
    if (id) {
        if (!valid_name(id)) {
            r = perr(p, "invalid id '%s'", id);
            goto out;
        }
        for (unsigned i = 0; i + 1 < p->cfg->n_drives; i++)
            if (p->cfg->drives[i].id && !strcmp(p->cfg->drives[i].id, id)) {
                r = perr(p, "duplicate drive id '%s'", id);
                goto out;
            }
        d->id = xstrdup(id);
    }
    const char *index = kvlist_get(&kl, "index");
    const char *bus = kvlist_get(&kl, "bus");
    const char *unit = kvlist_get(&kl, "unit");
    uint64_t v;
    if (index) {
        if (bus || unit) {
            r = perr(p, "index= cannot be used with bus= and unit=");
            goto out;
        }
        if (parse_uint(index, 3, &v) < 0) {
            r = perr(p, "invalid index '%s' (IDE has 0..3)", index);
            goto out;
        }
        d->index = (int)v;
    } else if (bus || unit) {
        uint64_t b = 0, u = 0;
        if ((bus && parse_uint(bus, 1, &b) < 0) || (unit && parse_uint(unit, 1, &u) < 0)) {
            r = perr(p, "invalid bus/unit (IDE has bus 0..1, unit 0..1)");
            goto out;
        }
        d->index = (int)(b * 2 + u);
    }
    if (d->interface != VM_IF_IDE && d->index >= 0) {
        r = perr(p, "index=/bus=/unit= are for if=ide only");
        goto out;
    }
    const char *file = kvlist_get(&kl, "file");
    if (file && *file) {
        if ((r = check_file(p, file)))
            goto out;
        d->file = xstrdup(file);
    } else if (d->media == VM_MEDIA_DISK && d->interface != VM_IF_NONE) {
        r = perr(p, "a disk drive needs file=");
        goto out;
    }
    if (d->aio == VM_AIO_NATIVE && d->cache != VM_CACHE_NONE && d->cache != VM_CACHE_DIRECTSYNC) {
        r = perr(p, "aio=native needs cache=none or cache=directsync");
        goto out;
    }
    if (d->media == VM_MEDIA_CDROM)
        d->readonly = true;
    r = check_unused(p, &kl);
out:
    kvlist_free(&kl);
    return r;
}

/* -hda/-hdb/-hdc/-hdd/-cdrom: a drive at a fixed IDE index. */
static int legacy_drive(struct parser *p, int index, enum vm_drive_media media)
{
    if (*p->arg) {
        int r = check_file(p, p->arg);
        if (r)
            return r;
    } else if (media == VM_MEDIA_DISK) {
        return perr(p, "needs a file name");
    }
    struct vm_drive *d = new_drive(p);
    if (!d)
        return VM_PARSE_ERROR;
    d->file = *p->arg ? xstrdup(p->arg) : NULL;
    d->index = index;
    d->media = media;
    d->readonly = media == VM_MEDIA_CDROM;
    return VM_PARSE_OK;
}

static int opt_hda(struct parser *p) { return legacy_drive(p, 0, VM_MEDIA_DISK); }
static int opt_hdb(struct parser *p) { return legacy_drive(p, 1, VM_MEDIA_DISK); }
static int opt_hdc(struct parser *p) { return legacy_drive(p, 2, VM_MEDIA_DISK); }
static int opt_hdd(struct parser *p) { return legacy_drive(p, 3, VM_MEDIA_DISK); }
static int opt_cdrom(struct parser *p) { return legacy_drive(p, 2, VM_MEDIA_CDROM); }

static int boot_letters(struct parser *p, const char *s, char *dst, size_t cap)
{
    if (strlen(s) >= cap)
        return perr(p, "boot order too long");
    for (const char *c = s; *c; c++) {
        if (*c < 'a' || *c > 'p')
            return perr(p, "invalid boot device '%c' (a-p)", *c);
        if (strchr(c + 1, *c))
            return perr(p, "boot device '%c' given twice", *c);
    }
    memcpy(dst, s, strlen(s) + 1);
    return VM_PARSE_OK;
}

static int opt_boot(struct parser *p)
{
    struct vm_boot *b = &p->cfg->boot;
    struct kvlist kl;
    int r = split(p, &kl, "order");
    if (r)
        return r;
    const char *order = kvlist_get(&kl, "order");
    const char *once = kvlist_get(&kl, "once");
    if (order && (r = boot_letters(p, order, b->order, sizeof(b->order))))
        goto out;
    if (once && (r = boot_letters(p, once, b->once, sizeof(b->once))))
        goto out;
    if (kvlist_bool(&kl, "menu", &b->menu) < 0 || kvlist_bool(&kl, "strict", &b->strict) < 0) {
        r = perr(p, "invalid value for 'menu' or 'strict'");
        goto out;
    }
    if (kvlist_get(&kl, "splash") || kvlist_get(&kl, "splash-time") ||
        kvlist_get(&kl, "reboot-timeout")) {
        r = punsup(p, "splash/splash-time/reboot-timeout");
        goto out;
    }
    r = check_unused(p, &kl);
out:
    kvlist_free(&kl);
    return r;
}

static int opt_snapshot(struct parser *p) { p->cfg->snapshot = true; return VM_PARSE_OK; }

/* ---- kernel, firmware, misc ---- */

static int opt_kernel(struct parser *p)
{
    int r = check_file(p, p->arg);
    if (!r)
        set_str(&p->cfg->kernel, p->arg);
    return r;
}

/* -initrd "file[ args][,file2 args]": Multiboot modules are comma separated. */
static int opt_initrd(struct parser *p)
{
    /* A Multiboot module list: "mod1 args,mod2 args", where ",," is a literal comma. Check
     * each module's file (the part before its first space). */
    size_t len = strlen(p->arg) + 1;
    char *buf = malloc(len);
    const char *mods[MB_MAX_MODULES];
    int n = buf ? multiboot_split_modules(p->arg, buf, len, mods, MB_MAX_MODULES) : -1;
    int r = VM_PARSE_OK;
    if (n < 0)
        r = perr(p, "too many modules (at most %d)", MB_MAX_MODULES);
    for (int i = 0; i < n && !r; i++) {
        char *path = xstrdup(mods[i]);
        path[strcspn(path, " ")] = '\0';
        r = check_file(p, path);
        free(path);
    }
    free(buf);
    if (!r)
        set_str(&p->cfg->initrd, p->arg);
    return r;
}

static int opt_append(struct parser *p) { set_str(&p->cfg->append, p->arg); return VM_PARSE_OK; }

static int opt_bios(struct parser *p)
{
    /* A bare name is looked up in the firmware directories when the machine is built. */
    if (strchr(p->arg, '/')) {
        int r = check_file(p, p->arg);
        if (r)
            return r;
    }
    set_str(&p->cfg->bios, p->arg);
    return VM_PARSE_OK;
}

static int opt_nodefaults(struct parser *p) { p->cfg->nodefaults = true; return VM_PARSE_OK; }

static int opt_name(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "guest");
    if (r)
        return r;
    bool b = false;
    if (kvlist_bool(&kl, "debug-threads", &b) < 0) {
        r = perr(p, "invalid value for 'debug-threads'");
    } else if (kvlist_get(&kl, "process")) {
        r = punsup(p, "process=");
    } else {
        const char *g = kvlist_get(&kl, "guest");
        set_str(&p->cfg->name, g ? g : "");
        r = check_unused(p, &kl);
    }
    kvlist_free(&kl);
    return r;
}

/* ---- network ---- */

static int parse_port16(const char *s, size_t len, uint16_t *out)
{
    char buf[8];
    uint64_t v;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (parse_uint(buf, 65535, &v) < 0 || v == 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int parse_addr(const char *s, size_t len, char *dst, size_t cap)
{
    struct in_addr a;
    if (len >= cap)
        return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    if (len && inet_pton(AF_INET, dst, &a) != 1)
        return -1;
    return 0;
}

/* [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport */
static int parse_hostfwd(const char *s, struct vm_hostfwd *fw)
{
    memset(fw, 0, sizeof(*fw));
    const char *c1 = strchr(s, ':');
    if (!c1)
        return -1;
    size_t pl = (size_t)(c1 - s);
    if (pl == 3 && !strncmp(s, "udp", 3))
        fw->udp = true;
    else if (!(pl == 0 || (pl == 3 && !strncmp(s, "tcp", 3))))
        return -1;
    const char *c2 = strchr(c1 + 1, ':');
    const char *dash = strchr(c1 + 1, '-');
    if (!c2 || !dash || c2 > dash)
        return -1;
    if (parse_addr(c1 + 1, (size_t)(c2 - c1 - 1), fw->host_addr, sizeof(fw->host_addr)) < 0 ||
        parse_port16(c2 + 1, (size_t)(dash - c2 - 1), &fw->host_port) < 0)
        return -1;
    const char *c3 = strchr(dash + 1, ':');
    if (!c3)
        return -1;
    if (parse_addr(dash + 1, (size_t)(c3 - dash - 1), fw->guest_addr, sizeof(fw->guest_addr)) < 0 ||
        parse_port16(c3 + 1, strlen(c3 + 1), &fw->guest_port) < 0)
        return -1;
    return 0;
}

static struct vm_netdev *find_netdev(struct vm_config *cfg, const char *id)
{
    for (unsigned i = 0; i < cfg->n_netdevs; i++)
        if (!strcmp(cfg->netdevs[i].id, id))
            return &cfg->netdevs[i];
    return NULL;
}

/* The options of a user-mode network (-netdev user, -net user, -nic user). */
static int user_net(struct parser *p, struct kvlist *kl, const char *id, const char *const *extra)
{
    struct vm_config *cfg = p->cfg;
    static const char *const opts[] = { "net", "host", "dns", "dhcpstart", "hostname", "restrict",
                                        "domainname", "tftp", "bootfile", "ipv4", "ipv6",
                                        "dnssearch", "tftp-server-name", "guestfwd", NULL };
    static const char *const refused[] = { "smb", "smbserver", "ipv6-net",
                                           "ipv6-host", "ipv6-dns", "ipv6-prefix",
                                           "ipv6-prefixlen", NULL };
    if (cfg->n_netdevs >= VM_MAX_NETDEVS)
        return perr(p, "too many network back ends");
    if (find_netdev(cfg, id))
        return perr(p, "duplicate netdev id '%s'", id);
    struct vm_netdev *nd = &cfg->netdevs[cfg->n_netdevs];
    memset(nd, 0, sizeof(*nd));
    int r = VM_PARSE_OK;
    for (unsigned i = 0; i < kl->n && !r; i++) {
        struct kv *kv = &kl->items[i];
        if (kv->used || (extra && in_list(kv->key, extra)))
            continue;
        if (!strcmp(kv->key, "hostfwd")) {
            kv->used = true;
            if (nd->n_hostfwd >= VM_MAX_HOSTFWD)
                r = perr(p, "too many hostfwd rules (maximum %d)", VM_MAX_HOSTFWD);
            else if (!kv->value || parse_hostfwd(kv->value, &nd->hostfwd[nd->n_hostfwd]) < 0)
                r = perr(p, "invalid host forwarding rule '%s' "
                         "(expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport)",
                         kv->value ? kv->value : "");
            else
                nd->n_hostfwd++;
        } else if (!strcmp(kv->key, "smb")) {
            kv->used = true;
            r = perr(p, "smb= is not supported (pcvm runs no Samba server; forward a port or use a disk image)");
        } else if (in_list(kv->key, refused)) {
            kv->used = true;
            r = punsup(p, kv->key);
        } else if (in_list(kv->key, opts)) {
            kv->used = true;
            if (!kv->value)
                r = perr(p, "'%s' needs a value", kv->key);
            else if (nd->n_opts >= VM_MAX_PROPS)
                r = perr(p, "too many options");
            else {
                nd->opts[nd->n_opts].key = xstrdup(kv->key);
                nd->opts[nd->n_opts++].value = xstrdup(kv->value);
            }
        }
    }
    if (!r)
        r = check_unused(p, kl);
    if (r) {
        for (unsigned i = 0; i < nd->n_opts; i++) {
            free(nd->opts[i].key);
            free(nd->opts[i].value);
        }
        memset(nd, 0, sizeof(*nd));
        return r;
    }
    nd->type = xstrdup("user");
    nd->id = xstrdup(id);
    cfg->n_netdevs++;
    return VM_PARSE_OK;
}

/* -netdev socket / tap: the options are stored as given; the back end checks them. */
static int generic_net(struct parser *p, struct kvlist *kl, const char *type, const char *id)
{
    struct vm_config *cfg = p->cfg;
    static const char *const socket_opts[] = { "listen", "connect", "mcast", "localaddr", NULL };
    static const char *const tap_opts[] = { "ifname", "script", "downscript", "fd", NULL };
    static const char *const tap_refused[] = { "fds", "vhost", "vhostfd", "vhostfds", "vhostforce",
                                               "queues", "helper", "br", "vnet_hdr", "poll-us", NULL };
    bool tap = !strcmp(type, "tap");
    if (cfg->n_netdevs >= VM_MAX_NETDEVS)
        return perr(p, "too many network back ends");
    if (find_netdev(cfg, id))
        return perr(p, "duplicate netdev id '%s'", id);
    struct vm_netdev *nd = &cfg->netdevs[cfg->n_netdevs];
    memset(nd, 0, sizeof(*nd));
    int r = VM_PARSE_OK;
    unsigned modes = 0;
    for (unsigned i = 0; i < kl->n && !r; i++) {
        struct kv *kv = &kl->items[i];
        if (kv->used)
            continue;
        if (tap && in_list(kv->key, tap_refused)) {
            kv->used = true;
            r = punsup(p, kv->key);
        } else if (!tap && (!strcmp(kv->key, "udp") || !strcmp(kv->key, "fd"))) {
            kv->used = true;
            r = punsup(p, kv->key);
        } else if (in_list(kv->key, tap ? tap_opts : socket_opts)) {
            kv->used = true;
            if (!kv->value || !*kv->value)
                r = perr(p, "'%s' needs a value", kv->key);
            else if (tap && (!strcmp(kv->key, "script") || !strcmp(kv->key, "downscript")) &&
                     strcmp(kv->value, "no"))
                r = perr(p, "%s=%s: only %s=no is supported (configure the tap device beforehand)",
                         kv->key, kv->value, kv->key);
            else if (nd->n_opts >= VM_MAX_PROPS)
                r = perr(p, "too many options");
            else {
                if (!tap && strcmp(kv->key, "localaddr"))
                    modes++;
                nd->opts[nd->n_opts].key = xstrdup(kv->key);
                nd->opts[nd->n_opts++].value = xstrdup(kv->value);
            }
        }
    }
    if (!r)
        r = check_unused(p, kl);
    if (!r && !tap && modes != 1)
        r = perr(p, "needs exactly one of listen=, connect= or mcast=");
    if (r) {
        for (unsigned i = 0; i < nd->n_opts; i++) {
            free(nd->opts[i].key);
            free(nd->opts[i].value);
        }
        memset(nd, 0, sizeof(*nd));
        return r;
    }
    nd->type = xstrdup(type);
    nd->id = xstrdup(id);
    cfg->n_netdevs++;
    return VM_PARSE_OK;
}

static bool refused_netdev_type(const char *t)
{
    static const char *const types[] = { "bridge", "vde", "l2tpv3", "stream",
                                         "dgram", "vhost-user", "vhost-vdpa", "netmap",
                                         "vmnet-host", "vmnet-shared", "vmnet-bridged", "af-xdp",
                                         "hubport", NULL };
    return in_list(t, types);
}

static int opt_netdev(struct parser *p)
{
    p->default_net = false;
    struct kvlist kl;
    int r = split(p, &kl, "type");
    if (r)
        return r;
    const char *type = kvlist_get(&kl, "type");
    const char *id = kvlist_get(&kl, "id");
    if (!type)
        r = perr(p, "needs a type (user, socket, tap)");
    else if (refused_netdev_type(type))
        r = punsup(p, type);
    else if (strcmp(type, "user") && strcmp(type, "socket") && strcmp(type, "tap"))
        r = perr(p, "invalid network back end type '%s'", type);
    else if (!id || !valid_name(id))
        r = perr(p, "needs a valid id=");
    else if (strcmp(type, "user"))
        r = generic_net(p, &kl, type, id);
    else
        r = user_net(p, &kl, id, NULL);
    kvlist_free(&kl);
    return r;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char end;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return (mac[0] & 1) ? -1 : 0;   /* a multicast address cannot be a NIC's */
}

static bool is_e1000(const char *model)
{
    return !strcmp(model, "e1000") || !strcmp(model, "e1000-82540em");
}

/* virtio-net-pci and QEMU's names for it (-net nic,model=virtio; -device virtio-net). */
static bool is_virtio_net(const char *model)
{
    return !strcmp(model, "virtio-net-pci") || !strcmp(model, "virtio") || !strcmp(model, "virtio-net");
}

/* The card model a NIC name stands for (no name: e1000), or NULL when pcvm has none. */
static const char *nic_model(const char *model)
{
    if (!model || is_e1000(model))
        return "e1000";
    if (is_virtio_net(model))
        return "virtio-net-pci";
    return !strcmp(model, "rtl8139") ? "rtl8139" : NULL;
}

static bool refused_nic_model(const char *model)
{
    static const char *const models[] = { "ne2k_pci", "ne2k_isa", "pcnet", "i82551",
                                          "i82557b", "i82559er", "e1000e", "e1000-82544gc",
                                          "e1000-82545em", "vmxnet3", "igb", "tulip", NULL };
    return in_list(model, models) || (has_prefix(model, "virtio") && !is_virtio_net(model));
}

static int add_nic(struct parser *p, const char *model, const char *netdev, const char *id,
                   const char *mac)
{
    struct vm_config *cfg = p->cfg;
    if (cfg->n_nics >= VM_MAX_NICS)
        return perr(p, "too many network cards");
    struct vm_nic *nic = &cfg->nics[cfg->n_nics];
    memset(nic, 0, sizeof(*nic));
    if (mac) {
        if (parse_mac(mac, nic->mac) < 0)
            return perr(p, "invalid MAC address '%s'", mac);
        nic->has_mac = true;
    }
    nic->model = xstrdup(model);
    nic->netdev = xstrdup(netdev);
    nic->id = xstrdup(id);
    cfg->n_nics++;
    return VM_PARSE_OK;
}

#define LEGACY_USER_NET_FMT "__net_user%u"

static int opt_net(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    p->default_net = false;
    struct kvlist kl;
    int r = split(p, &kl, "type");
    if (r)
        return r;
    const char *type = kvlist_get(&kl, "type");
    if (!type) {
        r = perr(p, "needs a type (nic, user, none)");
    } else if (!strcmp(type, "none")) {
        r = check_unused(p, &kl);
    } else if (!strcmp(type, "nic")) {
        const char *model = kvlist_get(&kl, "model");
        const char *netdev = kvlist_get(&kl, "netdev");
        const char *id = kvlist_get(&kl, "id");
        const char *mac = kvlist_get(&kl, "macaddr");
        kvlist_get(&kl, "name");
        if (kvlist_get(&kl, "vlan") || kvlist_get(&kl, "addr") || kvlist_get(&kl, "vectors"))
            r = punsup(p, "vlan=/addr=/vectors=");
        else if (model && (!strcmp(model, "help") || !strcmp(model, "?")))
            cfg->action = VM_ACTION_NIC_HELP;
        else if (model && refused_nic_model(model))
            r = punsup(p, model);
        else if (model && !nic_model(model))
            r = perr(p, "invalid NIC model '%s' (see -net nic,model=help)", model);
        else if (!(r = check_unused(p, &kl)) && !(r = add_nic(p, nic_model(model), netdev, id, mac)))
            cfg->nics[cfg->n_nics - 1].legacy = true;
    } else if (!strcmp(type, "user")) {
        char id[32];
        snprintf(id, sizeof(id), LEGACY_USER_NET_FMT, cfg->n_netdevs);
        kvlist_get(&kl, "id");
        kvlist_get(&kl, "name");
        r = user_net(p, &kl, id, NULL);
    } else if (!strcmp(type, "tap") || !strcmp(type, "socket")) {
        char id[32];
        snprintf(id, sizeof(id), "__net_%s%u", type, cfg->n_netdevs);
        kvlist_get(&kl, "id");
        kvlist_get(&kl, "name");
        r = generic_net(p, &kl, type, id);
    } else if (refused_netdev_type(type)) {
        r = punsup(p, type);
    } else {
        r = perr(p, "invalid network type '%s'", type);
    }
    kvlist_free(&kl);
    return r;
}

/* -nic user,model=e1000,hostfwd=...: a back end and its card in one option. */
static int opt_nic(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    p->default_net = false;
    struct kvlist kl;
    int r = split(p, &kl, "type");
    if (r)
        return r;
    const char *type = kvlist_get(&kl, "type");
    const char *model = kvlist_get(&kl, "model");
    const char *mac = kvlist_get(&kl, "mac");
    const char *id = kvlist_get(&kl, "id");
    char gen[32];
    snprintf(gen, sizeof(gen), "__nic%u", cfg->n_nics);
    if (!type)
        type = "user";            /* QEMU's back end when -nic names none (-nic model=rtl8139) */
    if (!strcmp(type, "none")) {
        r = check_unused(p, &kl);
    } else if (refused_netdev_type(type)) {
        r = punsup(p, type);
    } else if (strcmp(type, "user")) {
        r = perr(p, "invalid network back end type '%s'", type);
    } else if (model && (!strcmp(model, "help") || !strcmp(model, "?"))) {
        cfg->action = VM_ACTION_NIC_HELP;
    } else if (model && refused_nic_model(model)) {
        r = punsup(p, model);
    } else if (model && !nic_model(model)) {
        r = perr(p, "invalid NIC model '%s'", model);
    } else if (!(r = user_net(p, &kl, id ? id : gen, NULL))) {
        r = add_nic(p, nic_model(model), id ? id : gen, NULL, mac);
    }
    kvlist_free(&kl);
    return r;
}

/* -object: only filter-dump (packet capture of a netdev) for now. */
static int opt_object(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    struct kvlist kl;
    int r = split(p, &kl, "qom-type");
    if (r)
        return r;
    const char *type = kvlist_get(&kl, "qom-type");
    const char *id = kvlist_get(&kl, "id"), *netdev = kvlist_get(&kl, "netdev");
    const char *file = kvlist_get(&kl, "file"), *maxlen = kvlist_get(&kl, "maxlen");
    uint64_t ml = 0;
    if (!type || strcmp(type, "filter-dump"))
        r = punsup(p, type ? type : "(no type)");
    else if (!id || !valid_name(id))
        r = perr(p, "needs a valid id=");
    else if (!netdev || !file || !*file)
        r = perr(p, "needs netdev= and file=");
    else if (maxlen && (parse_uint(maxlen, 0xffffffffu, &ml) < 0 || ml == 0))
        r = perr(p, "invalid maxlen '%s'", maxlen);
    else if (cfg->n_filters >= VM_MAX_FILTERS)
        r = perr(p, "too many filter-dump objects (maximum %d)", VM_MAX_FILTERS);
    else if (!(r = check_unused(p, &kl))) {
        struct vm_filter_dump *f = &cfg->filters[cfg->n_filters++];
        f->id = xstrdup(id);
        f->netdev = xstrdup(netdev);
        f->file = xstrdup(file);
        f->maxlen = (unsigned)ml;
    }
    kvlist_free(&kl);
    return r;
}

/* The keys of -fsdev local / -virtfs local shared by both: path=, security_model=, readonly=. */
static int add_fsdev(struct parser *p, struct kvlist *kl, const char *id)
{
    struct vm_config *cfg = p->cfg;
    const char *driver = kvlist_get(kl, "fsdriver");
    const char *path = kvlist_get(kl, "path"), *sm = kvlist_get(kl, "security_model");
    const char *ro = kvlist_get(kl, "readonly");
    bool readonly = false;
    if (!driver || strcmp(driver, "local"))
        return punsup(p, driver ? driver : "(no driver)");
    if (!id || !valid_name(id))
        return perr(p, "needs a valid id=");
    if (!path || !*path)
        return perr(p, "needs path= (the host directory to share)");
    if (!sm)
        return perr(p, "needs security_model= (passthrough, mapped-xattr or none)");
    if (!strcmp(sm, "mapped"))
        sm = "mapped-xattr";
    if (strcmp(sm, "passthrough") && strcmp(sm, "mapped-xattr") && strcmp(sm, "none"))
        return strcmp(sm, "mapped-file") ? perr(p, "invalid security_model '%s' (passthrough, mapped-xattr or none)", sm)
                                         : punsup(p, "security_model=mapped-file");
    if (ro && parse_bool(ro, &readonly) < 0)
        return perr(p, "invalid readonly '%s' (on or off)", ro);
    if (kvlist_get(kl, "writeout") || kvlist_get(kl, "fmode") || kvlist_get(kl, "dmode") ||
        kvlist_get(kl, "multidevs") || kvlist_get(kl, "throttling.bps-total"))
        return punsup(p, "writeout=/fmode=/dmode=/multidevs=/throttling");
    for (unsigned i = 0; i < cfg->n_fsdevs; i++)
        if (!strcmp(cfg->fsdevs[i].id, id))
            return perr(p, "duplicate id '%s'", id);
    if (cfg->n_fsdevs >= VM_MAX_FSDEVS)
        return perr(p, "too many file system devices (maximum %d)", VM_MAX_FSDEVS);
    struct vm_fsdev *f = &cfg->fsdevs[cfg->n_fsdevs++];
    f->id = xstrdup(id);
    f->path = xstrdup(path);
    f->security_model = xstrdup(sm);
    f->readonly = readonly;
    return VM_PARSE_OK;
}

/* -fsdev local,id=ID,path=DIR,security_model=M[,readonly=on] */
static int opt_fsdev(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "fsdriver");
    if (r)
        return r;
    r = add_fsdev(p, &kl, kvlist_get(&kl, "id"));
    if (!r)
        r = check_unused(p, &kl);
    kvlist_free(&kl);
    return r;
}

/* -virtfs local,path=DIR,mount_tag=TAG,security_model=M[,readonly=on][,id=ID]: an fsdev and
 * its virtio-9p-pci in one option. */
static int opt_virtfs(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    struct kvlist kl;
    int r = split(p, &kl, "fsdriver");
    if (r)
        return r;
    const char *id = kvlist_get(&kl, "id"), *tag = kvlist_get(&kl, "mount_tag");
    char gen[32];
    snprintf(gen, sizeof(gen), "__virtfs%u", cfg->n_fsdevs);
    if (!tag || !*tag || strlen(tag) > 255)
        r = perr(p, "needs mount_tag= (1 to 255 characters)");
    else if (cfg->n_devices >= VM_MAX_DEVICES)
        r = perr(p, "too many devices");
    else if (!(r = add_fsdev(p, &kl, id ? id : gen)) && !(r = check_unused(p, &kl))) {
        struct vm_device *dev = &cfg->devices[cfg->n_devices++];
        memset(dev, 0, sizeof(*dev));
        dev->driver = xstrdup("virtio-9p-pci");
        dev->props[0].key = xstrdup("fsdev");
        dev->props[0].value = xstrdup(id ? id : gen);
        dev->props[1].key = xstrdup("mount_tag");
        dev->props[1].value = xstrdup(tag);
        dev->n_props = 2;
    }
    kvlist_free(&kl);
    return r;
}

/* ---- devices ---- */

static bool refused_device(const char *d)
{
    static const char *const devs[] = {
        "ahci", "ich9-ahci", "qemu-xhci", "nec-usb-xhci", "piix3-usb-uhci", "piix4-usb-uhci",
        "usb-ehci", "ich9-usb-ehci1", "ne2k_pci", "ne2k_isa", "pcnet", "e1000e",
        "vmxnet3", "igb", "i82559er", "VGA", "cirrus-vga", "isa-cirrus-vga", "qxl", "qxl-vga",
        "vmware-svga", "bochs-display", "ramfb", "secondary-vga", "intel-hda", "ich9-intel-hda",
        "hda-duplex", "hda-output", "hda-micro", "AC97", "sb16", "adlib", "gus", "cs4231a",
        "es1370", "isa-serial", "isa-parallel", "pci-serial", "pci-bridge", "pcie-root-port",
        "lsi53c895a", "lsi", "megasas", "mptsas1068", "am53c974", "dc390", "nvme", "i6300esb",
        "ib700", "vmcoreinfo", "edu", "sga", "isa-fdc", "floppy", "vfio-pci",
        "ivshmem-plain", "ivshmem-doorbell", "tpm-tis", "tpm-crb", "pc-dimm", "nvdimm",
        "isa-ide", "piix3-ide", "piix4-ide", "ich9-intel-hda", "usb-tablet", "usb-kbd",
        "usb-mouse", "usb-storage", "i8042", "kvm-pit", "hpet", "smbus-ipmi", "ipmi-bmc-sim",
        "pxb", "loader", "nvme-ns", "sdhci-pci", "xen-pvdevice", NULL };
    return in_list(d, devs) || has_prefix(d, "virtio-") || has_prefix(d, "vhost-") ||
           has_prefix(d, "usb-") || has_prefix(d, "scsi-") || has_prefix(d, "ide-") ||
           has_prefix(d, "vfio-") || has_prefix(d, "pcie-") || has_prefix(d, "x-");
}

/* 1: virtio-blk-pci, 2: virtio-rng-pci, 3: virtio-9p-pci, 4: virtio-serial-pci (QEMU's short
 * aliases too), 5: virtconsole, 6: virtserialport, 0: none. */
static int virtio_device_kind(const char *d)
{
    if (!strcmp(d, "virtio-blk-pci") || !strcmp(d, "virtio-blk"))
        return 1;
    if (!strcmp(d, "virtio-rng-pci") || !strcmp(d, "virtio-rng"))
        return 2;
    if (!strcmp(d, "virtio-9p-pci") || !strcmp(d, "virtio-9p"))
        return 3;
    if (!strcmp(d, "virtio-serial-pci") || !strcmp(d, "virtio-serial"))
        return 4;
    if (!strcmp(d, "virtconsole"))
        return 5;
    if (!strcmp(d, "virtserialport"))
        return 6;
    return 0;
}

/* -device virtio-blk-pci,drive=ID[,serial=][,disable-legacy=on|off|auto][,disable-modern=on|off]
 * and -device virtio-rng-pci[,disable-legacy=][,disable-modern=]; kept as props for the board. */
static int parse_virtio_device(struct parser *p, struct kvlist *kl, const char *driver, const char *id)
{
    struct vm_config *cfg = p->cfg;
    int kind = virtio_device_kind(driver);
    const char *bus = kvlist_get(kl, "bus");
    const char *dl = kvlist_get(kl, "disable-legacy"), *dm = kvlist_get(kl, "disable-modern");
    bool b;
    if (cfg->n_devices >= VM_MAX_DEVICES)
        return perr(p, "too many devices");
    bool port = kind == 5 || kind == 6;
    if (bus && !port && strcmp(bus, "pci.0"))
        return perr(p, "invalid bus '%s' (pci.0)", bus);
    if (bus && port && (strlen(bus) < 3 || strcmp(bus + strlen(bus) - 2, ".0")))
        return perr(p, "invalid bus '%s' (a virtio-serial device's bus: ID.0)", bus);
    const char *chr = kvlist_get(kl, "chardev"), *name = kvlist_get(kl, "name"), *nr = kvlist_get(kl, "nr");
    uint64_t nr_value;
    if (port && (!chr || !*chr))
        return perr(p, "needs chardev= (the id of a -chardev)");
    if (port && name && (!*name || strlen(name) > 63))
        return perr(p, "name= is 1 to 63 characters");
    if (port && nr && parse_uint(nr, 30, &nr_value) < 0)
        return perr(p, "invalid nr '%s' (0..30)", nr);
    if (kind == 4 && kvlist_get(kl, "max_ports"))
        return punsup(p, "max_ports=");
    if (kvlist_get(kl, "addr") || kvlist_get(kl, "multifunction"))
        return punsup(p, "addr=/multifunction=");
    const char *vectors = kvlist_get(kl, "vectors");
    uint64_t nvec;
    /* The transport offers at most one vector per queue plus config (VIRTIO_MSIX_MAX, 9). */
    if (vectors && port)
        return perr(p, "invalid parameter 'vectors'");
    if (vectors && parse_uint(vectors, 9, &nvec) < 0)
        return perr(p, "invalid vectors '%s' (0 to 9 in pcvm; 0: no MSI-X)", vectors);
    if (kvlist_get(kl, "ioeventfd") || kvlist_get(kl, "num-queues") ||
        kvlist_get(kl, "rng") || kvlist_get(kl, "max-bytes") || kvlist_get(kl, "period") ||
        kvlist_get(kl, "iothread") || kvlist_get(kl, "packed"))
        return punsup(p, "ioeventfd=/num-queues=/rng=/max-bytes=/period=/iothread=/packed=");
    const char *event_idx = kvlist_get(kl, "event_idx");
    if (event_idx && (port || parse_bool(event_idx, &b) < 0))
        return port ? perr(p, "invalid parameter 'event_idx'") : perr(p, "invalid event_idx '%s' (on or off)", event_idx);
    if (dl && strcmp(dl, "auto") && parse_bool(dl, &b) < 0)
        return perr(p, "invalid disable-legacy '%s' (on, off or auto)", dl);
    if (dm && parse_bool(dm, &b) < 0)
        return perr(p, "invalid disable-modern '%s' (on or off)", dm);
    if (dl && dm && parse_bool(dm, &b) == 0 && b && !strcmp(dl, "on"))
        return perr(p, "disable-legacy=on and disable-modern=on leave no interface");
    const char *drive = kvlist_get(kl, "drive"), *serial = kvlist_get(kl, "serial");
    if (kind == 1 && (!drive || !*drive))
        return perr(p, "needs drive= (the id of a -drive if=none)");
    if (kind == 1 && serial && strlen(serial) > 20)
        return perr(p, "serial= is at most 20 characters");
    const char *fsdev = kvlist_get(kl, "fsdev"), *tag = kvlist_get(kl, "mount_tag");
    if (kind == 3 && (!fsdev || !*fsdev))
        return perr(p, "needs fsdev= (the id of a -fsdev)");
    if (kind == 3 && (!tag || !*tag || strlen(tag) > 255))
        return perr(p, "needs mount_tag= (1 to 255 characters)");
    if (id && !valid_name(id))
        return perr(p, "invalid id '%s'", id);
    int r = check_unused(p, kl);
    if (r)
        return r;
    struct vm_device *dev = &cfg->devices[cfg->n_devices++];
    memset(dev, 0, sizeof(*dev));
    static const char *const names[] = { NULL, "virtio-blk-pci", "virtio-rng-pci", "virtio-9p-pci",
                                         "virtio-serial-pci", "virtconsole", "virtserialport" };
    dev->driver = xstrdup(names[kind]);
    dev->id = id ? xstrdup(id) : NULL;
    for (unsigned i = 0; i < kl->n && dev->n_props < VM_MAX_PROPS; i++) {
        if (!strcmp(kl->items[i].key, "driver") || !strcmp(kl->items[i].key, "id"))
            continue;
        dev->props[dev->n_props].key = xstrdup(kl->items[i].key);
        dev->props[dev->n_props++].value = xstrdup(kl->items[i].value);
    }
    return VM_PARSE_OK;
}

static int opt_device(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    struct kvlist kl;
    int r = split(p, &kl, "driver");
    if (r)
        return r;
    const char *driver = kvlist_get(&kl, "driver");
    const char *id = kvlist_get(&kl, "id");
    if (!driver) {
        r = perr(p, "needs a device model name (see -device help)");
    } else if (!strcmp(driver, "help") || !strcmp(driver, "?")) {
        cfg->action = VM_ACTION_DEVICE_HELP;
    } else if (is_e1000(driver) || !strcmp(driver, "rtl8139") || (is_virtio_net(driver) && strcmp(driver, "virtio"))) {
        const char *netdev = kvlist_get(&kl, "netdev");
        const char *mac = kvlist_get(&kl, "mac");
        const char *bus = kvlist_get(&kl, "bus");
        const char *romfile = kvlist_get(&kl, "romfile");
        const char *dl = is_virtio_net(driver) ? kvlist_get(&kl, "disable-legacy") : NULL;
        const char *dm = is_virtio_net(driver) ? kvlist_get(&kl, "disable-modern") : NULL;
        const char *cplus = !strcmp(driver, "rtl8139") ? kvlist_get(&kl, "cplus") : NULL;
        bool no_legacy = false, no_modern = false, cplus_on = true;
        if (bus && strcmp(bus, "pci.0"))
            r = perr(p, "invalid bus '%s' (pci.0)", bus);
        else if (kvlist_get(&kl, "addr") || kvlist_get(&kl, "multifunction"))
            r = punsup(p, "addr=/multifunction=");
        else if (dl && strcmp(dl, "auto") && parse_bool(dl, &no_legacy) < 0)
            r = perr(p, "invalid disable-legacy '%s' (on, off or auto)", dl);
        else if (dm && parse_bool(dm, &no_modern) < 0)
            r = perr(p, "invalid disable-modern '%s' (on or off)", dm);
        else if (no_legacy && no_modern)
            r = perr(p, "disable-legacy=on and disable-modern=on leave no interface");
        else if (cplus && parse_bool(cplus, &cplus_on) < 0)
            r = perr(p, "invalid cplus '%s' (on or off)", cplus);
        else if (!(r = check_unused(p, &kl)) && !(r = add_nic(p, nic_model(driver), netdev, id, mac))) {
            struct vm_nic *nic = &cfg->nics[cfg->n_nics - 1];
            nic->romfile = romfile ? xstrdup(romfile) : NULL;
            nic->no_legacy = no_legacy;
            nic->no_modern = no_modern;
            nic->no_cplus = !cplus_on;
        }
    } else if (!strcmp(driver, "isa-debug-exit")) {
        if (cfg->n_devices >= VM_MAX_DEVICES) {
            r = perr(p, "too many devices");
            goto out;
        }
        uint64_t base = 0x501, size = 2;
        const char *b = kvlist_get(&kl, "iobase"), *s = kvlist_get(&kl, "iosize");
        if (b && parse_uint(b, 0xffff, &base) < 0) {
            r = perr(p, "invalid iobase '%s' (0..0xffff)", b);
            goto out;
        }
        if (s && (parse_uint(s, 4, &size) < 0 || size == 0 || size == 3)) {
            r = perr(p, "invalid iosize '%s' (1, 2 or 4)", s);
            goto out;
        }
        if (base + size > 0x10000) {
            r = perr(p, "port range beyond 0xffff");
            goto out;
        }
        if ((r = check_unused(p, &kl)))
            goto out;
        struct vm_device *dev = &cfg->devices[cfg->n_devices++];
        memset(dev, 0, sizeof(*dev));
        dev->driver = xstrdup(driver);
        dev->id = xstrdup(id);
        dev->iobase = (uint32_t)base;
        dev->iosize = (uint32_t)size;
        for (unsigned i = 0; i < kl.n && dev->n_props < VM_MAX_PROPS; i++) {
            if (!strcmp(kl.items[i].key, "driver"))
                continue;
            dev->props[dev->n_props].key = xstrdup(kl.items[i].key);
            dev->props[dev->n_props++].value = xstrdup(kl.items[i].value);
        }
    } else if (!strcmp(driver, "pvpanic")) {
        uint64_t port = 0x505;
        const char *b = kvlist_get(&kl, "ioport");
        if (cfg->n_devices >= VM_MAX_DEVICES) {
            r = perr(p, "too many devices");
        } else if (b && parse_uint(b, 0xffff, &port) < 0) {
            r = perr(p, "invalid ioport '%s' (0..0xffff)", b);
        } else if (!(r = check_unused(p, &kl))) {
            struct vm_device *dev = &cfg->devices[cfg->n_devices++];
            memset(dev, 0, sizeof(*dev));
            dev->driver = xstrdup(driver);
            dev->id = xstrdup(id);
            dev->iobase = (uint32_t)port;
            dev->iosize = 1;
        }
    } else if (!strcmp(driver, "pc-testdev") || !strcmp(driver, "pci-testdev")) {
        /* QEMU's test devices (src/hw/pc_testdev.c, src/hw/pci_testdev.c). */
        const char *bus = kvlist_get(&kl, "bus");
        bool is_pci = driver[2] == 'i';
        if (cfg->n_devices >= VM_MAX_DEVICES) {
            r = perr(p, "too many devices");
        } else if (bus && strcmp(bus, is_pci ? "pci.0" : "isa.0")) {
            r = perr(p, "invalid bus '%s' (%s)", bus, is_pci ? "pci.0" : "isa.0");
        } else if (is_pci && (kvlist_get(&kl, "addr") || kvlist_get(&kl, "multifunction") ||
                              kvlist_get(&kl, "membar"))) {
            r = punsup(p, "pci-testdev addr=/multifunction=/membar=");
        } else if (!(r = check_unused(p, &kl))) {
            struct vm_device *dev = &cfg->devices[cfg->n_devices++];
            memset(dev, 0, sizeof(*dev));
            dev->driver = xstrdup(driver);
            dev->id = xstrdup(id);
        }
    } else if (virtio_device_kind(driver)) {
        r = parse_virtio_device(p, &kl, driver, id);
    } else if (refused_device(driver)) {
        r = punsup(p, driver);
    } else {
        r = perr(p, "'%s' is not a valid device model name (see -device help)", driver);
    }
out:
    kvlist_free(&kl);
    return r;
}

/* ---- character devices, monitor, display ---- */

static int check_chardev_spec(struct parser *p, const char *spec, struct chardev_spec *out)
{
    char e[256];
    int r = chardev_spec_parse(spec, out, e, sizeof(e));
    if (r == -2)
        return punsup(p, spec);
    if (r < 0)
        return perr(p, "%s", e);
    return VM_PARSE_OK;
}

static int opt_serial(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    struct chardev_spec spec;
    int r = check_chardev_spec(p, p->arg, &spec);
    if (r)
        return r;
    p->default_serial = false;
    if (spec.mon_prefix)
        p->default_monitor = false;
    if (spec.kind == CHARDEV_NONE)
        return VM_PARSE_OK;   /* as QEMU: "none" takes no COM port */
    if (cfg->n_serial >= VM_MAX_SERIALS)
        return perr(p, "too many serial ports (maximum %d)", VM_MAX_SERIALS);
    cfg->serial[cfg->n_serial++] = xstrdup(p->arg);
    return VM_PARSE_OK;
}

static int add_monitor_mode(struct parser *p, const char *spec, const char *chardev_id,
                            bool control, bool pretty)
{
    struct vm_config *cfg = p->cfg;
    if (cfg->n_monitors >= VM_MAX_MONITORS)
        return perr(p, "too many monitors (maximum %d)", VM_MAX_MONITORS);
    struct vm_monitor *m = &cfg->monitors[cfg->n_monitors++];
    memset(m, 0, sizeof(*m));
    m->spec = xstrdup(spec);
    m->chardev_id = xstrdup(chardev_id);
    m->control = control;
    m->pretty = pretty;
    return VM_PARSE_OK;
}

static int add_monitor(struct parser *p, const char *spec, const char *chardev_id)
{
    return add_monitor_mode(p, spec, chardev_id, false, false);
}

static int opt_monitor(struct parser *p)
{
    struct chardev_spec spec;
    int r = check_chardev_spec(p, p->arg, &spec);
    if (r)
        return r;
    p->default_monitor = false;
    if (spec.kind == CHARDEV_NONE)
        return VM_PARSE_OK;
    return add_monitor(p, p->arg, NULL);
}

/* -qmp SPEC: a QMP monitor on a legacy chardev spec (unix:PATH,server,nowait ...). */
static int opt_qmp(struct parser *p)
{
    struct chardev_spec spec;
    int r = check_chardev_spec(p, p->arg, &spec);
    if (r)
        return r;
    if (spec.kind == CHARDEV_NONE)
        return VM_PARSE_OK;
    return add_monitor_mode(p, p->arg, NULL, true, false);
}

static int opt_chardev(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    struct chardev_spec spec;
    char e[256];
    int r = chardev_spec_parse_opts(p->arg, &spec, e, sizeof(e));
    if (r == -2)
        return punsup(p, e);
    if (r < 0)
        return perr(p, "%s", e);
    if (vm_config_find_chardev(cfg, spec.id))
        return perr(p, "duplicate chardev id '%s'", spec.id);
    if (cfg->n_chardevs >= VM_MAX_CHARDEVS)
        return perr(p, "too many character devices");
    struct vm_chardev *c = &cfg->chardevs[cfg->n_chardevs++];
    c->id = xstrdup(spec.id);
    c->backend = xstrdup(p->arg);
    c->backend[strcspn(c->backend, ",")] = '\0';
    c->spec = xstrdup(p->arg);
    c->mux = spec.mux;
    return VM_PARSE_OK;
}

static int opt_mon(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "chardev");
    if (r)
        return r;
    const char *chr = kvlist_get(&kl, "chardev");
    const char *mode = kvlist_get(&kl, "mode");
    bool pretty = false;
    if (!chr || !*chr)
        r = perr(p, "needs chardev=");
    else if (mode && strcmp(mode, "readline") && strcmp(mode, "control"))
        r = perr(p, "invalid mode '%s' (readline)", mode);
    else if (kvlist_bool(&kl, "pretty", &pretty) < 0)
        r = perr(p, "invalid value for 'pretty'");
    else if (!(r = check_unused(p, &kl))) {
        p->default_monitor = false;
        r = add_monitor_mode(p, NULL, chr, mode && !strcmp(mode, "control"), pretty);
    }
    kvlist_free(&kl);
    return r;
}

static int opt_debugcon(struct parser *p)
{
    struct chardev_spec spec;
    int r = check_chardev_spec(p, p->arg, &spec);
    if (r)
        return r;
    if (spec.kind == CHARDEV_NONE) {
        free(p->cfg->debugcon);
        p->cfg->debugcon = NULL;
    } else {
        set_str(&p->cfg->debugcon, p->arg);
    }
    return VM_PARSE_OK;
}

static int opt_nographic(struct parser *p) { p->cfg->nographic = true; return VM_PARSE_OK; }

static int opt_display(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "type");
    if (r)
        return r;
    static const char *const refused[] = { "gtk", "curses", "egl-headless",
                                           "spice-app", "cocoa", "dbus", "default", NULL };
    const char *type = kvlist_get(&kl, "type");
    if (!type)
        r = perr(p, "needs a display type (none, sdl)");
    else if (in_list(type, refused))
        r = punsup(p, type);
    else if (strcmp(type, "none") && strcmp(type, "sdl"))
        r = perr(p, "invalid display type '%s' (none, sdl)", type);
    else if (!(r = check_unused(p, &kl)))
        p->cfg->display = strcmp(type, "sdl") ? VM_DISPLAY_NONE : VM_DISPLAY_SDL;
    kvlist_free(&kl);
    return r;
}

static int opt_vnc(struct parser *p)
{
    struct vnc_spec spec;
    char e[256];
    if (vnc_spec_parse(p->arg, &spec, e, sizeof(e)) < 0)
        return perr(p, "%s", e);
    set_str(&p->cfg->vnc, p->arg);
    return VM_PARSE_OK;
}

static int opt_k(struct parser *p)
{
    if (!keymap_known(p->arg))
        return perr(p, "unknown keyboard layout '%s' (%s)", p->arg, keymap_names());
    set_str(&p->cfg->keyboard_layout, p->arg);
    return VM_PARSE_OK;
}

static int opt_vga(struct parser *p)
{
    static const char *const refused[] = { "cirrus", "vmware", "qxl", "virtio", "tcx", "cg3",
                                           "xenfb", "bochs", "ati", NULL };
    p->default_vga = false;
    if (!strcmp(p->arg, "std"))
        p->cfg->vga = VM_VGA_STD;
    else if (!strcmp(p->arg, "none"))
        p->cfg->vga = VM_VGA_NONE;
    else if (in_list(p->arg, refused))
        return punsup(p, p->arg);
    else
        return perr(p, "invalid VGA type (std, none)");
    return VM_PARSE_OK;
}

static int opt_rtc(struct parser *p)
{
    struct vm_rtc *rtc = &p->cfg->rtc;
    struct kvlist kl;
    int r = split(p, &kl, NULL);
    if (r)
        return r;
    const char *base = kvlist_get(&kl, "base");
    const char *clock = kvlist_get(&kl, "clock");
    const char *drift = kvlist_get(&kl, "driftfix");
    if (base) {
        struct tm tm = { 0 };
        char end;
        if (!strcmp(base, "utc")) {
            rtc->base = VM_RTC_BASE_UTC;
        } else if (!strcmp(base, "localtime")) {
            rtc->base = VM_RTC_BASE_LOCALTIME;
        } else if (sscanf(base, "%d-%d-%dT%d:%d:%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                          &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &end) == 6 ||
                   sscanf(base, "%d-%d-%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &end) == 3) {
            if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
                tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 ||
                tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0) {
                r = perr(p, "invalid date '%s'", base);
                goto out;
            }
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            rtc->base = VM_RTC_BASE_DATE;
            rtc->base_time = (int64_t)timegm(&tm);
        } else {
            r = perr(p, "invalid base '%s' (utc, localtime, YYYY-MM-DDTHH:MM:SS)", base);
            goto out;
        }
    }
    if (clock) {
        if (!strcmp(clock, "host"))
            rtc->clock = VM_RTC_CLOCK_HOST;
        else if (!strcmp(clock, "rt"))
            rtc->clock = VM_RTC_CLOCK_RT;
        else if (!strcmp(clock, "vm"))
            rtc->clock = VM_RTC_CLOCK_VM;
        else {
            r = perr(p, "invalid clock '%s' (host, rt, vm)", clock);
            goto out;
        }
    }
    if (drift) {
        if (!strcmp(drift, "none") || !strcmp(drift, "slew"))
            rtc->driftfix_slew = !strcmp(drift, "slew");
        else {
            r = perr(p, "invalid driftfix '%s' (none, slew)", drift);
            goto out;
        }
    }
    r = check_unused(p, &kl);
out:
    kvlist_free(&kl);
    return r;
}

static int opt_no_reboot(struct parser *p) { p->cfg->no_reboot = true; return VM_PARSE_OK; }
static int opt_no_shutdown(struct parser *p) { p->cfg->no_shutdown = true; return VM_PARSE_OK; }

/* -action reboot=reset|shutdown,shutdown=poweroff|pause,panic=pause|shutdown|exit-failure|none
 * (QEMU 7.2); reboot=shutdown is -no-reboot and shutdown=pause is -no-shutdown. */
static int opt_action(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, NULL);
    if (r)
        return r;
    const char *reboot = kvlist_get(&kl, "reboot");
    const char *shutdown = kvlist_get(&kl, "shutdown");
    const char *panic = kvlist_get(&kl, "panic");
    static const char *const panics[] = { "shutdown", "pause", "exit-failure", "none", NULL };
    if (kvlist_get(&kl, "watchdog")) {
        r = punsup(p, "watchdog=");
    } else if (reboot && strcmp(reboot, "reset") && strcmp(reboot, "shutdown")) {
        r = perr(p, "invalid value '%s' for 'reboot' (reset, shutdown)", reboot);
    } else if (shutdown && strcmp(shutdown, "poweroff") && strcmp(shutdown, "pause")) {
        r = perr(p, "invalid value '%s' for 'shutdown' (poweroff, pause)", shutdown);
    } else if (panic && !in_list(panic, panics)) {
        r = perr(p, "invalid value '%s' for 'panic' (pause, shutdown, exit-failure, none)", panic);
    } else if (!(r = check_unused(p, &kl))) {
        if (reboot)
            p->cfg->no_reboot = !strcmp(reboot, "shutdown");
        if (shutdown)
            p->cfg->no_shutdown = !strcmp(shutdown, "pause");
        for (int i = 0; panic && panics[i]; i++)
            if (!strcmp(panic, panics[i]))
                p->cfg->panic_action = (enum vm_panic_action)i;
    }
    kvlist_free(&kl);
    return r;
}

/* ---- logs, debugging, time ---- */

static int opt_d(struct parser *p)
{
    if (!strcmp(p->arg, "help") || !strcmp(p->arg, "?")) {
        p->cfg->action = VM_ACTION_LOG_HELP;
        return VM_PARSE_OK;
    }
    const char *bad = NULL;
    unsigned badlen = 0;
    long mask = log_parse_items(p->arg, &bad, &badlen);
    if (mask < 0)
        return perr(p, "unknown log item '%.*s' (see -d help)", (int)badlen, bad ? bad : "");
    p->cfg->log_mask = (unsigned)mask;
    return VM_PARSE_OK;
}

static int opt_D(struct parser *p)
{
    if (!*p->arg)
        return perr(p, "needs a file name");
    set_str(&p->cfg->log_file, p->arg);
    return VM_PARSE_OK;
}

static int opt_s(struct parser *p) { set_str(&p->cfg->gdb, "tcp::1234"); return VM_PARSE_OK; }

static int opt_gdb(struct parser *p)
{
    struct chardev_spec spec;
    int r = check_chardev_spec(p, p->arg, &spec);
    if (r)
        return r;
    if (spec.kind == CHARDEV_NONE) {
        free(p->cfg->gdb);
        p->cfg->gdb = NULL;
        return VM_PARSE_OK;
    }
    if (spec.kind != CHARDEV_TCP && spec.kind != CHARDEV_UNIX && spec.kind != CHARDEV_STDIO &&
        spec.kind != CHARDEV_PTY && spec.kind != CHARDEV_REF)
        return perr(p, "the GDB stub needs tcp:, unix:, stdio or pty");
    set_str(&p->cfg->gdb, p->arg);
    return VM_PARSE_OK;
}

static int opt_S(struct parser *p) { p->cfg->start_paused = true; return VM_PARSE_OK; }

static int opt_icount(struct parser *p)
{
    struct vm_icount *ic = &p->cfg->icount;
    struct kvlist kl;
    int r = split(p, &kl, "shift");
    if (r)
        return r;
    const char *shift = kvlist_get(&kl, "shift");
    uint64_t v;
    ic->enabled = true;
    ic->sleep = true;
    ic->shift = -1;
    if (shift && strcmp(shift, "auto")) {
        if (parse_uint(shift, 10, &v) < 0) {
            r = perr(p, "invalid shift '%s' (0..10 or auto)", shift);
            goto out;
        }
        ic->shift = (int)v;
    }
    if (kvlist_bool(&kl, "sleep", &ic->sleep) < 0) {
        r = perr(p, "invalid value for 'sleep'");
        goto out;
    }
    if (kvlist_get(&kl, "align") || kvlist_get(&kl, "rr") || kvlist_get(&kl, "rrfile") ||
        kvlist_get(&kl, "rrsnapshot")) {
        r = punsup(p, "align=/rr=");
        goto out;
    }
    r = check_unused(p, &kl);
out:
    kvlist_free(&kl);
    return r;
}

static int opt_loadvm(struct parser *p)
{
    if (!*p->arg)
        return perr(p, "needs a snapshot name");
    set_str(&p->cfg->loadvm, p->arg);
    return VM_PARSE_OK;
}

static int opt_incoming(struct parser *p)
{
    if (!*p->arg)
        return perr(p, "needs a URI (exec:COMMAND, file:PATH or defer)");
    set_str(&p->cfg->incoming, p->arg);
    return VM_PARSE_OK;
}

static int opt_daemonize(struct parser *p) { return punsup(p, NULL); }

static int opt_pidfile(struct parser *p)
{
    if (!*p->arg)
        return perr(p, "needs a file name");
    set_str(&p->cfg->pidfile, p->arg);
    return VM_PARSE_OK;
}

static int opt_stamps(struct parser *p)
{
    if (!*p->arg)
        return perr(p, "needs a file name");
    set_str(&p->cfg->stamps, p->arg);
    return VM_PARSE_OK;
}

static int opt_sandbox(struct parser *p)
{
    struct kvlist kl;
    int r = split(p, &kl, "enable");
    if (r)
        return r;
    bool on = false;
    if (kvlist_bool(&kl, "enable", &on) < 0)
        r = perr(p, "invalid value (on, off)");
    else if (on)
        r = punsup(p, "on");
    else {
        for (unsigned i = 0; i < kl.n; i++)   /* sub-options only matter when it is on */
            kl.items[i].used = true;
    }
    kvlist_free(&kl);
    return r;
}

static int opt_version(struct parser *p) { p->cfg->action = VM_ACTION_VERSION; return VM_PARSE_OK; }
static int opt_help(struct parser *p) { p->cfg->action = VM_ACTION_HELP; return VM_PARSE_OK; }
static int opt_dump(struct parser *p) { p->cfg->action = VM_ACTION_DUMP_CONFIG; return VM_PARSE_OK; }
static int opt_accepted(struct parser *p) { (void)p; return VM_PARSE_OK; }
static int opt_enable_kvm(struct parser *p) { return punsup(p, NULL); }
static int opt_parallel(struct parser *p)
{
    return strcmp(p->arg, "none") ? punsup(p, p->arg) : VM_PARSE_OK;
}

struct option_def {
    const char *name;
    bool has_arg;
    int (*fn)(struct parser *p);
};

static const struct option_def options[] = {
    { "m", true, opt_m }, { "M", true, opt_machine }, { "machine", true, opt_machine },
    { "accel", true, opt_accel }, { "enable-kvm", false, opt_enable_kvm },
    { "cpu", true, opt_cpu }, { "smp", true, opt_smp },
    { "drive", true, opt_drive }, { "hda", true, opt_hda }, { "hdb", true, opt_hdb },
    { "hdc", true, opt_hdc }, { "hdd", true, opt_hdd }, { "cdrom", true, opt_cdrom },
    { "boot", true, opt_boot }, { "snapshot", false, opt_snapshot },
    { "kernel", true, opt_kernel }, { "initrd", true, opt_initrd },
    { "append", true, opt_append }, { "bios", true, opt_bios },
    { "nodefaults", false, opt_nodefaults }, { "name", true, opt_name },
    { "netdev", true, opt_netdev }, { "net", true, opt_net }, { "nic", true, opt_nic },
    { "object", true, opt_object },
    { "fsdev", true, opt_fsdev }, { "virtfs", true, opt_virtfs },
    { "device", true, opt_device },
    { "serial", true, opt_serial }, { "monitor", true, opt_monitor }, { "qmp", true, opt_qmp },
    { "chardev", true, opt_chardev }, { "mon", true, opt_mon }, { "debugcon", true, opt_debugcon },
    { "nographic", false, opt_nographic }, { "display", true, opt_display },
    { "vga", true, opt_vga }, { "rtc", true, opt_rtc },
    { "vnc", true, opt_vnc }, { "k", true, opt_k },
    { "no-reboot", false, opt_no_reboot }, { "no-shutdown", false, opt_no_shutdown },
    { "action", true, opt_action },
    { "d", true, opt_d }, { "D", true, opt_D },
    { "s", false, opt_s }, { "S", false, opt_S }, { "gdb", true, opt_gdb },
    { "icount", true, opt_icount }, { "loadvm", true, opt_loadvm },
    { "incoming", true, opt_incoming },
    { "daemonize", false, opt_daemonize }, { "pidfile", true, opt_pidfile },
    { "sandbox", true, opt_sandbox },
    { "stamps", true, opt_stamps },
    { "version", false, opt_version }, { "h", false, opt_help }, { "help", false, opt_help },
    { "parallel", true, opt_parallel },
    { "no-user-config", false, opt_accepted }, { "nodefconfig", false, opt_accepted },
    { "-dump-config", false, opt_dump },   /* hidden: written --dump-config */
};

/* QEMU options pcvm knows of but does not implement: refused by name. */
static const char *const refused_options[] = {
    "spice", "sdl", "curses", "full-screen", "fda", "fdb", "mtdblock", "sd", "pflash",
    "usb", "usbdevice", "soundhw", "audiodev", "audio", "L", "global",
    "smbios", "fw_cfg", "option-rom", "watchdog", "watchdog-action", "mem-path",
    "mem-prealloc", "numa", "tb-size", "singlestep", "one-insn-per-tb", "overcommit", "msg",
    "runas", "chroot", "run-with", "semihosting", "semihosting-config", "plugin", "readconfig",
    "writeconfig", "iscsi", "blockdev", "virtfs_synth", "add-fd", "uuid",
    "echr", "portrait", "rotate", "g", "alt-grab", "ctrl-grab", "no-quit", "win2k-hack",
    "no-acpi", "no-hpet", "localtime", "rtc-td-hack", "no-fd-bootchk", "acpitable", "xen-domid",
    "xen-attach", "qmp-pretty", "preconfig", "trace", "seed", "compat", "set", "bt", "tpmdev",
    "netdev-help", "icount-auto", "show-cursor", "device-help", "dtb", "kernel-irqchip",
    "enable-fips", "mon-pretty", "gdb-pretty", "S-paused", "old-param", "list-machines",
    "balloon", "nic-help", "prom-env", "g-size", "realtime", "no-frame", "vga-help", "serial-help",
    NULL
};

static void defaults_init(struct vm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ram_size = RAM_DEFAULT;
    cfg->machine = xstrdup("pc");
    cfg->smp = (struct vm_smp){ .cpus = 1, .cores = 1, .threads = 1, .sockets = 1, .maxcpus = 1, .dies = 1 };
    strcpy(cfg->boot.order, "cad");
    cfg->vga = VM_VGA_STD;
    cfg->jit = -1;
}

/* Checks and defaults that need the whole command line. */
static int finish(struct parser *p)
{
    struct vm_config *cfg = p->cfg;
    p->arg = NULL;

    /* Accelerator: the first of the list pcvm has (only tcg for now). */
    cfg->accel = VM_ACCEL_TCG;
    if (cfg->n_accels) {
        bool has_tcg = false;
        for (unsigned i = 0; i < cfg->n_accels; i++)
            has_tcg |= cfg->accels[i] == VM_ACCEL_TCG;
        if (!has_tcg) {
            snprintf(p->err, p->errlen, "pcvm: %s: not supported yet", p->accel_origin);
            return VM_PARSE_UNSUPPORTED;
        }
    }

    /* Kernel-only options. */
    if (!cfg->kernel && (cfg->initrd || cfg->append)) {
        p->opt = cfg->initrd ? "-initrd" : "-append";
        return perr(p, "only allowed with -kernel");
    }

    /* IDE slots: explicit indexes first, then the first free slot in command-line order. */
    bool taken[4] = { false };
    for (unsigned i = 0; i < cfg->n_drives; i++) {
        struct vm_drive *d = &cfg->drives[i];
        if (cfg->snapshot)
            d->snapshot = true;
        if (d->interface != VM_IF_IDE || d->index < 0)
            continue;
        if (taken[d->index]) {
            snprintf(p->err, p->errlen,
                     "pcvm: -drive: two drives on IDE bus %d unit %d (index %d)",
                     d->index / 2, d->index % 2, d->index);
            return VM_PARSE_ERROR;
        }
        taken[d->index] = true;
    }
    for (unsigned i = 0; i < cfg->n_drives; i++) {
        struct vm_drive *d = &cfg->drives[i];
        if (d->interface != VM_IF_IDE || d->index >= 0)
            continue;
        int slot = 0;
        while (slot < 4 && taken[slot])
            slot++;
        if (slot == 4) {
            snprintf(p->err, p->errlen, "pcvm: -drive: too many IDE drives (maximum 4)");
            return VM_PARSE_ERROR;
        }
        taken[slot] = true;
        d->index = slot;
    }

    /* References to -chardev ids. */
    for (unsigned i = 0; i < cfg->n_monitors; i++) {
        const char *id = cfg->monitors[i].chardev_id;
        if (id && !vm_config_find_chardev(cfg, id)) {
            snprintf(p->err, p->errlen, "pcvm: -mon chardev=%s: no -chardev with this id", id);
            return VM_PARSE_ERROR;
        }
    }
    const char *refs[VM_MAX_SERIALS + 2];
    unsigned nrefs = 0;
    for (unsigned i = 0; i < cfg->n_serial; i++)
        refs[nrefs++] = cfg->serial[i];
    refs[nrefs++] = cfg->debugcon;
    refs[nrefs++] = cfg->gdb;
    for (unsigned i = 0; i < nrefs; i++)
        if (refs[i] && has_prefix(refs[i], "chardev:") && !vm_config_find_chardev(cfg, refs[i] + 8)) {
            snprintf(p->err, p->errlen, "pcvm: %s: no -chardev with this id", refs[i]);
            return VM_PARSE_ERROR;
        }

    if (cfg->nographic && cfg->display == VM_DISPLAY_SDL) {
        snprintf(p->err, p->errlen, "pcvm: -nographic cannot be used with -display sdl");
        return VM_PARSE_ERROR;
    }

    /* Defaults, as QEMU makes them. */
    if (cfg->nodefaults) {
        if (p->default_vga)
            cfg->vga = VM_VGA_NONE;
        p->default_serial = p->default_monitor = p->default_vga = p->default_net = false;
    }
    if (cfg->nographic) {
        if (p->default_serial && p->default_monitor) {
            cfg->serial[cfg->n_serial++] = xstrdup("mon:stdio");
        } else {
            if (p->default_serial)
                cfg->serial[cfg->n_serial++] = xstrdup("stdio");
            if (p->default_monitor) {
                int r = add_monitor(p, "stdio", NULL);
                if (r)
                    return r;
            }
        }
    } else {
        /* QEMU's graphical defaults: COM1 and the monitor on text consoles of the display
         * (Ctrl-Alt-3 and Ctrl-Alt-2); without a display nothing shows them. */
        if (p->default_serial)
            cfg->serial[cfg->n_serial++] = xstrdup("vc");
        if (p->default_monitor) {
            int r = add_monitor(p, "vc", NULL);
            if (r)
                return r;
        }
    }
    if (p->default_net) {
        char id[32];
        snprintf(id, sizeof(id), LEGACY_USER_NET_FMT, cfg->n_netdevs);
        struct kvlist empty = { .n = 0 };
        int r = user_net(p, &empty, id, NULL);
        if (!r)
            r = add_nic(p, "e1000", id, NULL, NULL);
        if (r)
            return r;
        cfg->netdevs[cfg->n_netdevs - 1].implicit = true;
        cfg->nics[cfg->n_nics - 1].implicit = true;
    }

    /* -net nic without netdev= joins the first -net user back end (QEMU's hub 0). */
    const char *legacy_user = NULL;
    for (unsigned i = 0; i < cfg->n_netdevs; i++)
        if (has_prefix(cfg->netdevs[i].id, "__net_")) {
            legacy_user = cfg->netdevs[i].id;
            break;
        }
    for (unsigned i = 0; i < cfg->n_nics; i++) {
        struct vm_nic *nic = &cfg->nics[i];
        if (!nic->netdev) {
            if (nic->legacy)
                nic->netdev = xstrdup(legacy_user);
            continue;
        }
        if (!find_netdev(cfg, nic->netdev)) {
            snprintf(p->err, p->errlen, "pcvm: -device %s,netdev=%s: no -netdev with this id",
                     nic->model, nic->netdev);
            return VM_PARSE_ERROR;
        }
        for (unsigned j = 0; j < i; j++)
            if (cfg->nics[j].netdev && !strcmp(cfg->nics[j].netdev, nic->netdev)) {
                snprintf(p->err, p->errlen, "pcvm: -device %s,netdev=%s: netdev already in use",
                         nic->model, nic->netdev);
                return VM_PARSE_ERROR;
            }
    }

    /* stdio has one user (a mux counts once). */
    unsigned stdio_users = 0;
    const char *specs[VM_MAX_SERIALS + VM_MAX_MONITORS + 2];
    unsigned nspecs = 0;
    for (unsigned i = 0; i < cfg->n_serial; i++)
        specs[nspecs++] = cfg->serial[i];
    for (unsigned i = 0; i < cfg->n_monitors; i++)
        if (cfg->monitors[i].spec)
            specs[nspecs++] = cfg->monitors[i].spec;
    specs[nspecs++] = cfg->debugcon;
    specs[nspecs++] = cfg->gdb;
    for (unsigned i = 0; i < nspecs; i++) {
        struct chardev_spec cs;
        char e[128];
        if (specs[i] && chardev_spec_parse(specs[i], &cs, e, sizeof(e)) == 0 &&
            cs.kind == CHARDEV_STDIO)
            stdio_users++;
    }
    for (unsigned i = 0; i < cfg->n_chardevs; i++)
        if (!strcmp(cfg->chardevs[i].backend, "stdio"))
            stdio_users++;
    if (stdio_users > 1) {
        snprintf(p->err, p->errlen, "pcvm: cannot use stdio by multiple character devices");
        return VM_PARSE_ERROR;
    }
    return VM_PARSE_OK;
}

int vm_config_parse(struct vm_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct parser p = { .cfg = cfg, .err = err, .errlen = errlen, .default_serial = true,
                        .default_monitor = true, .default_vga = true, .default_net = true };
    defaults_init(cfg);
    if (errlen)
        err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        p.opt = a;
        p.arg = NULL;
        if (a[0] != '-' || !a[1]) {
            snprintf(err, errlen, "pcvm: %s: invalid argument (a disk image needs -hda or -drive)",
                     a);
            vm_config_free(cfg);
            return VM_PARSE_ERROR;
        }
        const char *name = a + 1;
        if (name[0] == '-' && strcmp(name, "-dump-config"))
            name++;   /* --opt is the same as -opt */
        const struct option_def *def = NULL;
        for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++)
            if (!strcmp(options[k].name, name)) {
                def = &options[k];
                break;
            }
        int r;
        if (!def) {
            if (in_list(name, refused_options)) {
                snprintf(err, errlen, "pcvm: -%s: not supported yet", name);
                r = VM_PARSE_UNSUPPORTED;
            } else {
                snprintf(err, errlen, "pcvm: %s: invalid option", a);
                r = VM_PARSE_ERROR;
            }
            vm_config_free(cfg);
            return r;
        }
        char optname[48];
        snprintf(optname, sizeof(optname), "-%s", def->name);
        p.opt = optname;
        if (def->has_arg) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "pcvm: %s: requires an argument", optname);
                vm_config_free(cfg);
                return VM_PARSE_ERROR;
            }
            p.arg = argv[++i];
        }
        r = def->fn(&p);
        if (r) {
            vm_config_free(cfg);
            return r;
        }
        /* Help-like flags stop parsing, as QEMU prints and exits at once. */
        if (cfg->action != VM_ACTION_RUN && cfg->action != VM_ACTION_DUMP_CONFIG)
            return VM_PARSE_EXIT;
    }
    int r = finish(&p);
    if (r) {
        vm_config_free(cfg);
        return r;
    }
    return cfg->action == VM_ACTION_DUMP_CONFIG ? VM_PARSE_EXIT : VM_PARSE_OK;
}

const struct vm_chardev *vm_config_find_chardev(const struct vm_config *cfg, const char *id)
{
    for (unsigned i = 0; i < cfg->n_chardevs; i++)
        if (!strcmp(cfg->chardevs[i].id, id))
            return &cfg->chardevs[i];
    return NULL;
}

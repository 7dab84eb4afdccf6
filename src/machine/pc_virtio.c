/* The board's virtio devices (see pc_virtio.h). Only wiring: options to devices and slots. */
#include "machine/pc_virtio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int free_slot(struct pci_bus *pci)
{
    for (int slot = 2; slot < 32; slot++)
        if (!pci->devices[slot << 3])
            return slot;
    return -1;
}

static const char *prop(const struct vm_device *d, const char *key)
{
    for (unsigned i = 0; i < d->n_props; i++)
        if (!strcmp(d->props[i].key, key))
            return d->props[i].value;
    return NULL;
}

static bool is_on(const char *v)
{
    return v && (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "y"));
}

static struct block_dev *open_drive(const struct vm_drive *d, char *err, size_t errlen)
{
    static const enum block_cache caches[] = {
        [VM_CACHE_WRITEBACK] = BLOCK_CACHE_WRITEBACK, [VM_CACHE_WRITETHROUGH] = BLOCK_CACHE_WRITETHROUGH,
        [VM_CACHE_NONE] = BLOCK_CACHE_NONE, [VM_CACHE_UNSAFE] = BLOCK_CACHE_UNSAFE,
        [VM_CACHE_DIRECTSYNC] = BLOCK_CACHE_DIRECTSYNC,
    };
    const char *fmt = d->format == VM_FMT_RAW ? "raw" : d->format == VM_FMT_QCOW2 ? "qcow2" : NULL;
    unsigned flags = d->readonly ? 0 : BLOCK_RDWR;
    if (d->snapshot)
        flags |= BLOCK_SNAPSHOT;
    char why[BLOCK_ERR_LEN];
    struct block_dev *bs = block_open(d->file, fmt, flags, caches[d->cache], why, sizeof(why));
    if (!bs)
        fail(err, errlen, "pcvm: -drive file=%s: %s", d->file, why);
    return bs;
}

static int add_blk(struct pc_virtio *v, const struct vm_drive *d, const char *serial, bool legacy,
                   bool modern, struct pci_bus *pci, struct phys_mem *mem, struct pcvm_log *log,
                   struct block_aio_pool *aio, const char *what, char *err, size_t errlen)
{
    int slot = free_slot(pci);
    if (v->n_blk >= PC_MAX_VIRTIO || slot < 0)
        return fail(err, errlen, "pcvm: %s: no free PCI slot", what);
    if (d->media == VM_MEDIA_CDROM || !d->file)
        return fail(err, errlen, "pcvm: %s: the drive needs a disk image (file=, media=disk)", what);
    struct block_dev *bs = open_drive(d, err, errlen);
    if (!bs)
        return -1;
    struct virtio_blk *s = calloc(1, sizeof(*s));
    if (!s || virtio_blk_init(s, pci, (uint8_t)(slot << 3), mem, log, bs, aio, serial, legacy, modern) < 0) {
        free(s);
        block_close(bs);
        return fail(err, errlen, "pcvm: %s: cannot create the device", what);
    }
    v->blk[v->n_blk] = s;
    if (d->id)
        snprintf(v->bs_name[v->n_blk], sizeof(v->bs_name[0]), "%s", d->id);
    else
        snprintf(v->bs_name[v->n_blk], sizeof(v->bs_name[0]), "virtio%u", v->n_blk);
    v->bs[v->n_blk++] = bs;
    return 0;
}

static int add_9p(struct pc_virtio *v, const struct vm_config *cfg, const struct vm_device *d, bool legacy,
                  bool modern, struct pci_bus *pci, struct phys_mem *mem, struct pcvm_log *log, char *err,
                  size_t errlen)
{
    const char *id = prop(d, "fsdev"), *tag = prop(d, "mount_tag");
    const struct vm_fsdev *fs = NULL;
    for (unsigned i = 0; i < cfg->n_fsdevs; i++)
        if (!strcmp(cfg->fsdevs[i].id, id))
            fs = &cfg->fsdevs[i];
    /* -virtfs generates the fsdev id: name it as the user wrote it. */
    const char *what = !strncmp(id, "__virtfs", 8) ? "-virtfs" : "-device virtio-9p-pci";
    if (!fs)
        return fail(err, errlen, "pcvm: %s: no -fsdev with id '%s'", what, id);
    for (unsigned i = 0; i < v->n_9p; i++)
        if (v->p9_fsdev[i] == fs)
            return fail(err, errlen, "pcvm: %s: fsdev '%s' is used twice", what, id);
    int slot = free_slot(pci);
    if (v->n_9p >= PC_MAX_VIRTIO || slot < 0)
        return fail(err, errlen, "pcvm: %s: no free PCI slot", what);
    enum p9_security sec = !strcmp(fs->security_model, "passthrough") ? P9_SEC_PASSTHROUGH
                           : !strcmp(fs->security_model, "mapped-xattr") ? P9_SEC_MAPPED_XATTR : P9_SEC_NONE;
    struct virtio_9p *s = calloc(1, sizeof(*s));
    if (!s)
        return fail(err, errlen, "pcvm: %s: out of memory", what);
    char why[256];
    if (virtio_9p_init(s, pci, (uint8_t)(slot << 3), mem, log, fs->path, tag, sec, fs->readonly, legacy, modern,
                       why, sizeof(why)) < 0) {
        free(s);
        return fail(err, errlen, "pcvm: %s: %s", what, why);
    }
    v->p9_fsdev[v->n_9p] = fs;
    v->p9[v->n_9p++] = s;
    return 0;
}

/* A virtconsole or virtserialport: a port of the virtio-serial device its bus= names (ID.0, or
 * virtio-serialN.0 as QEMU names a device without id), else of the first one. */
static int add_serial_port(struct pc_virtio *v, const struct vm_device *d, struct chardev *chr, char *err,
                           size_t errlen)
{
    const char *bus = prop(d, "bus"), *nr = prop(d, "nr");
    struct virtio_serial *s = v->n_serial ? v->serial[0] : NULL;
    if (bus) {
        s = NULL;
        for (unsigned i = 0; i < v->n_serial && !s; i++) {
            char auto_name[48];
            snprintf(auto_name, sizeof(auto_name), "virtio-serial%u.0", i);
            size_t n = strlen(v->serial_id[i]);
            if ((n && !strncmp(bus, v->serial_id[i], n) && !strcmp(bus + n, ".0")) ||
                (!n && !strcmp(bus, auto_name)))
                s = v->serial[i];
        }
        if (!s)
            return fail(err, errlen, "pcvm: -device %s: no virtio-serial bus '%s'", d->driver, bus);
    }
    if (!s)
        return fail(err, errlen, "pcvm: -device %s: needs a -device virtio-serial-pci before it", d->driver);
    char why[128];
    if (virtio_serial_add_port(s, nr ? atoi(nr) : -1, !strcmp(d->driver, "virtconsole"), prop(d, "name"), chr,
                               why, sizeof(why)) < 0)
        return fail(err, errlen, "pcvm: -device %s: %s", d->driver, why);
    return 0;
}

/* vectors=N and event_idx=on|off of -device (validated by the parser): the MSI-X vectors the
 * device offers, and whether it offers VIRTIO_RING_F_EVENT_IDX (QEMU's default: on). */
static int set_vectors(struct virtio_pci *vp, const struct vm_device *d, char *err, size_t errlen)
{
    if (prop(d, "event_idx") && !is_on(prop(d, "event_idx")))
        vp->host_features &= ~VIRTIO_RING_F_EVENT_IDX;
    const char *vec = prop(d, "vectors");
    if (vec && virtio_pci_set_msix_vectors(vp, (unsigned)atoi(vec)) < 0)
        return fail(err, errlen, "pcvm: -device %s: vectors=%s is more than the device can offer", d->driver, vec);
    return 0;
}

int pc_virtio_create(struct pc_virtio *v, const struct vm_config *cfg, const struct vm_chardevs *chardevs,
                     struct pci_bus *pci, struct phys_mem *mem, struct pcvm_log *log,
                     struct block_aio_pool *aio, char *err, size_t errlen)
{
    for (unsigned i = 0; i < cfg->n_drives; i++)
        if (cfg->drives[i].interface == VM_IF_VIRTIO &&
            add_blk(v, &cfg->drives[i], NULL, true, true, pci, mem, log, aio, "-drive if=virtio", err, errlen) < 0)
            return -1;
    bool used[VM_MAX_DRIVES] = { false };
    for (unsigned i = 0; i < cfg->n_devices; i++) {
        const struct vm_device *d = &cfg->devices[i];
        bool blk = !strcmp(d->driver, "virtio-blk-pci"), rng = !strcmp(d->driver, "virtio-rng-pci");
        bool p9 = !strcmp(d->driver, "virtio-9p-pci"), serial = !strcmp(d->driver, "virtio-serial-pci");
        if (!strcmp(d->driver, "virtconsole") || !strcmp(d->driver, "virtserialport")) {
            if (add_serial_port(v, d, chardevs ? chardevs->device[i] : NULL, err, errlen) < 0)
                return -1;
            continue;
        }
        if (!blk && !rng && !p9 && !serial)
            continue;
        /* QEMU on a PCI bus: disable-legacy=auto keeps the legacy interface. */
        bool modern = !is_on(prop(d, "disable-modern"));
        bool legacy = !is_on(prop(d, "disable-legacy"));
        if (p9) {
            if (add_9p(v, cfg, d, legacy, modern, pci, mem, log, err, errlen) < 0 ||
                set_vectors(&v->p9[v->n_9p - 1]->vp, d, err, errlen) < 0)
                return -1;
            continue;
        }
        if (serial) {
            int slot = free_slot(pci);
            if (v->n_serial >= PC_MAX_VIRTIO || slot < 0)
                return fail(err, errlen, "pcvm: -device virtio-serial-pci: no free PCI slot");
            struct virtio_serial *s = calloc(1, sizeof(*s));
            if (!s || virtio_serial_init(s, pci, (uint8_t)(slot << 3), mem, log, legacy, modern) < 0) {
                free(s);
                return fail(err, errlen, "pcvm: -device virtio-serial-pci: cannot create the device");
            }
            snprintf(v->serial_id[v->n_serial], sizeof(v->serial_id[0]), "%s", d->id ? d->id : "");
            v->serial[v->n_serial++] = s;
            if (set_vectors(&s->vp, d, err, errlen) < 0)
                return -1;
            continue;
        }
        if (rng) {
            int slot = free_slot(pci);
            if (v->n_rng >= PC_MAX_VIRTIO || slot < 0)
                return fail(err, errlen, "pcvm: -device virtio-rng-pci: no free PCI slot");
            struct virtio_rng *s = calloc(1, sizeof(*s));
            if (!s || virtio_rng_init(s, pci, (uint8_t)(slot << 3), mem, log, legacy, modern) < 0) {
                free(s);
                return fail(err, errlen, "pcvm: -device virtio-rng-pci: cannot create the device");
            }
            v->rng[v->n_rng++] = s;
            if (set_vectors(&s->vp, d, err, errlen) < 0)
                return -1;
            continue;
        }
        const char *id = prop(d, "drive");
        unsigned k = 0;
        while (k < cfg->n_drives && !(cfg->drives[k].id && !strcmp(cfg->drives[k].id, id)))
            k++;
        if (k == cfg->n_drives)
            return fail(err, errlen, "pcvm: -device virtio-blk-pci: no -drive with id '%s'", id);
        if (cfg->drives[k].interface != VM_IF_NONE)
            return fail(err, errlen, "pcvm: -device virtio-blk-pci: drive '%s' is already in use (give it if=none)", id);
        if (used[k])
            return fail(err, errlen, "pcvm: -device virtio-blk-pci: drive '%s' is used twice", id);
        used[k] = true;
        if (add_blk(v, &cfg->drives[k], prop(d, "serial"), legacy, modern, pci, mem, log, aio,
                    "-device virtio-blk-pci", err, errlen) < 0 ||
            set_vectors(&v->blk[v->n_blk - 1]->vp, d, err, errlen) < 0)
            return -1;
    }
    return 0;
}

bool pc_virtio_device(struct pc_virtio *v, unsigned i, struct device *d)
{
    memset(d, 0, sizeof(*d));
    d->bus = "pci.0";
    if (i < v->n_blk) {
        d->type = "virtio-blk-pci";
        snprintf(d->id, sizeof(d->id), "virtio-blk-pci.%u", i);
        d->opaque = v->blk[i];
        d->vmsd = &virtio_blk_vmstate;
        d->reset = virtio_blk_reset;
        d->bus_data = &v->blk[i]->vp.pci;
        return true;
    }
    i -= v->n_blk;
    if (i < v->n_rng) {
        d->type = "virtio-rng-pci";
        snprintf(d->id, sizeof(d->id), "virtio-rng-pci.%u", i);
        d->opaque = v->rng[i];
        d->vmsd = &virtio_rng_vmstate;
        d->reset = virtio_rng_reset;
        d->bus_data = &v->rng[i]->vp.pci;
        return true;
    }
    i -= v->n_rng;
    if (i < v->n_9p) {
        d->type = "virtio-9p-pci";
        snprintf(d->id, sizeof(d->id), "virtio-9p-pci.%u", i);
        d->opaque = v->p9[i];
        d->reset = virtio_9p_reset;
        d->bus_data = &v->p9[i]->vp.pci;
        /* As QEMU: the guest's open files on the host cannot be part of a snapshot, so the
         * machine is saved only while the share is not mounted. */
        d->vmsd = &virtio_9p_vmstate;
        d->snapshot_blocker = virtio_9p_snapshot_blocker;
        return true;
    }
    i -= v->n_9p;
    if (i < v->n_serial) {
        d->type = "virtio-serial-pci";
        snprintf(d->id, sizeof(d->id), "virtio-serial-pci.%u", i);
        d->opaque = v->serial[i];
        d->vmsd = &virtio_serial_vmstate;
        d->reset = virtio_serial_reset;
        d->bus_data = &v->serial[i]->vp.pci;
        return true;
    }
    return false;
}

void pc_virtio_reset(struct pc_virtio *v)
{
    for (unsigned i = 0; i < v->n_blk; i++)
        virtio_pci_reset(&v->blk[i]->vp);
    for (unsigned i = 0; i < v->n_rng; i++)
        virtio_pci_reset(&v->rng[i]->vp);
    for (unsigned i = 0; i < v->n_9p; i++)
        virtio_pci_reset(&v->p9[i]->vp);
    for (unsigned i = 0; i < v->n_serial; i++)
        virtio_pci_reset(&v->serial[i]->vp);
}

void pc_virtio_destroy(struct pc_virtio *v)
{
    for (unsigned i = 0; i < v->n_blk; i++) {
        free(v->blk[i]);
        block_close(v->bs[i]);
    }
    for (unsigned i = 0; i < v->n_rng; i++)
        free(v->rng[i]);
    for (unsigned i = 0; i < v->n_9p; i++) {
        virtio_9p_destroy(v->p9[i]);
        free(v->p9[i]);
    }
    for (unsigned i = 0; i < v->n_serial; i++) {
        for (unsigned p = 0; p < VIRTIO_SERIAL_MAX_PORTS; p++)
            chardev_attach(v->serial[i]->port[p].chr, NULL, NULL, NULL);
        free(v->serial[i]);
    }
    memset(v, 0, sizeof(*v));
}

/* Whole-machine snapshots (snapshot.h): building and loading the machine state, and savevm/
 * loadvm/delvm/info snapshots on the qcow2 drives' internal snapshots. */
#include "machine/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "machine/pc.h"
#include "machine/pc_monitor.h"
#include "machine/snapshot_int.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- building the state ---- */

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)p;
    for (unsigned i = 0; i < MSTATE_PAGE / 8; i += 8)
        if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7])
            return false;
    return true;
}

static void put_section(struct vmbuf *b, const char *tag, const void *p, size_t len)
{
    vmbuf_put(b, tag, 4);
    vmbuf_put_u32(b, (uint32_t)len);
    vmbuf_put(b, p, len);
}

int pc_state_build(struct pc *pc, bool raw_ram, struct pc_state *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    if (pc->aio_started)
        block_aio_drain(&pc->aio);   /* no disk request is in flight in the state */
    struct vmbuf devs = { 0 }, meta = { 0 };
    int ret = -1;
    if (devlist_save(&pc->devices, &devs, err, errlen) < 0)
        goto out;
    if (devs.len > UINT32_MAX) {
        fail(err, errlen, "the device state is too large");
        goto out;
    }
    put_section(&meta, "DEVS", devs.data, devs.len);
    for (unsigned i = 0; i < pc->net.n_netdevs; i++) {
        struct pc_netdev *nd = &pc->net.netdevs[i];
        if (!nd->user)
            continue;
        struct vmbuf s = { 0 };
        uint32_t version;
        const char *id = nd->port->name;
        size_t idlen = strlen(id);
        if (idlen == 0 || idlen >= 64) {
            fail(err, errlen, "user network '%s': its id is too long to save", id);
            goto out;
        }
        vmbuf_put_u8(&s, (uint8_t)idlen);
        vmbuf_put(&s, id, idlen);
        size_t ver_at = s.len;
        vmbuf_put_u32(&s, 0);
        if (net_user_state_save(nd->user, &s, &version) < 0 || s.failed) {
            vmbuf_free(&s);
            fail(err, errlen, "out of memory saving user network '%s'", id);
            goto out;
        }
        for (int k = 0; k < 4; k++)
            s.data[ver_at + k] = (uint8_t)(version >> (8 * k));
        put_section(&meta, "SLRP", s.data, s.len);
        vmbuf_free(&s);
    }
    st->ram = pc->mem.ram;
    st->pages = pc->mem.ram_size / MSTATE_PAGE;
    st->bitmap = calloc((size_t)(st->pages + 7) / 8 + 1, 1);
    if (!st->bitmap) {
        fail(err, errlen, "out of memory");
        goto out;
    }
    uint64_t nonzero = 0;
    /* Anonymous RAM the guest never touched is zero: the kernel's page map says which pages
     * exist (present or swapped), so those alone are read; touching the others would fault
     * each one in. RAM mapped from a state file is read whole. */
    int pagemap = pc->snap && pc->snap->ram_from_file ? -1 : open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    static uint64_t ent[4096];
    for (uint64_t pn = 0; pn < st->pages; pn++) {
        if (pagemap >= 0) {
            uint64_t k = pn % 4096;
            if (k == 0) {
                size_t want = (size_t)(st->pages - pn < 4096 ? st->pages - pn : 4096) * 8;
                uintptr_t vpn = (uintptr_t)st->ram / MSTATE_PAGE + pn;
                if (pread(pagemap, ent, want, (off_t)(vpn * 8)) != (ssize_t)want) {
                    close(pagemap);
                    pagemap = -1;
                }
            }
            if (pagemap >= 0 && !(ent[k] >> 62 & 3))   /* neither present nor swapped */
                continue;
        }
        if (!page_is_zero(st->ram + pn * MSTATE_PAGE)) {
            st->bitmap[pn >> 3] |= (uint8_t)(1u << (pn & 7));
            nonzero++;
        }
    }
    if (pagemap >= 0)
        close(pagemap);
    put_section(&meta, "RAMB", st->bitmap, (size_t)(st->pages + 7) / 8);
    put_section(&meta, "END ", NULL, 0);
    if (meta.failed) {
        fail(err, errlen, "out of memory saving the machine state");
        goto out;
    }
    st->h = (struct mstate_header){
        .version = MSTATE_VERSION,
        .flags = raw_ram ? MSTATE_RAW_RAM : 0,
        .ram_size = pc->mem.ram_size,
        .ncpus = pc->ncpus,
        .meta_len = meta.len,
        .ram_off = (MSTATE_HEADER_SIZE + meta.len + MSTATE_PAGE - 1) / MSTATE_PAGE * MSTATE_PAGE,
        .ram_len = raw_ram ? pc->mem.ram_size : nonzero * MSTATE_PAGE,
        .meta_crc = mstate_crc(meta.data, meta.len),
    };
    uint8_t hdr[MSTATE_HEADER_SIZE];
    mstate_header_encode(&st->h, hdr);
    vmbuf_put(&st->head, hdr, sizeof(hdr));
    vmbuf_put(&st->head, meta.data, meta.len);
    static const uint8_t pad[MSTATE_PAGE];
    vmbuf_put(&st->head, pad, st->h.ram_off - st->head.len);
    if (st->head.failed) {
        fail(err, errlen, "out of memory saving the machine state");
        goto out;
    }
    ret = 0;
out:
    vmbuf_free(&devs);
    vmbuf_free(&meta);
    if (ret < 0)
        pc_state_free(st);
    return ret;
}

uint64_t pc_state_size(const struct pc_state *st)
{
    return st->h.ram_off + st->h.ram_len;
}

bool pc_state_next_run(const struct pc_state *st, uint64_t *pos, uint64_t *packed, struct mstate_run *run)
{
    return mstate_next_run(&st->h, st->bitmap, st->pages, pos, packed, run);
}

void pc_state_free(struct pc_state *st)
{
    vmbuf_free(&st->head);
    free(st->bitmap);
    memset(st, 0, sizeof(*st));
}

/* ---- loading it ---- */

static struct pc_netdev *find_user_net(struct pc *pc, const char *id)
{
    for (unsigned i = 0; i < pc->net.n_netdevs; i++)
        if (pc->net.netdevs[i].user && !strcmp(pc->net.netdevs[i].port->name, id))
            return &pc->net.netdevs[i];
    return NULL;
}

/* A saved user network: this machine must have it; libslirp loads it. */
static int load_slirp(void *opaque, const struct mstate_slirp *s, bool load, char *err, size_t errlen)
{
    struct pc_netdev *nd = find_user_net(opaque, s->id);
    if (!nd)
        return fail(err, errlen, "the machine state has a user network this machine lacks: '%s'", s->id);
    if (!load) {
        if (s->version > net_user_state_version())
            return fail(err, errlen, "user network '%s': its state (libslirp version %u) is newer than this "
                        "libslirp's", s->id, s->version);
        return 0;
    }
    return net_user_state_load(nd->user, s->version, s->data, s->len, err, errlen);
}

int pc_state_load(struct pc *pc, const struct mstate_source *src, bool *changed, char *err, size_t errlen)
{
    struct mstate_target t = { .devices = &pc->devices, .ram = pc->mem.ram, .ram_size = pc->mem.ram_size,
                               .ncpus = pc->ncpus, .slirp = load_slirp, .opaque = pc,
                               .ram_mapped = &pc->snap->ram_from_file };
    int r = mstate_load(&t, src, changed, err, errlen);
    if (*changed)
        snap_spans_clear(&pc->snap->shared);   /* the RAM those ranges were is gone */
    return r;
}

/* ---- the drives ---- */

/* Every writable drive (IDE, then virtio-blk), named as info block names it; the count. */
static int writable_drives(struct pc *pc, struct snap_drive *out, int max)
{
    int n = 0;
    for (int i = 0; i < 4 && n < max; i++) {
        struct block_dev *bs = pc->drives[i];
        if (!bs || bs->readonly)
            continue;
        out[n].bs = bs;
        pc_drive_name(pc, i, out[n].name, sizeof(out[n].name));
        n++;
    }
    for (unsigned i = 0; i < pc->virtio.n_blk && n < max; i++) {
        struct block_dev *bs = pc->virtio.bs[i];
        if (!bs || bs->readonly)
            continue;
        out[n].bs = bs;
        snprintf(out[n].name, sizeof(out[n].name), "%s", pc->virtio.bs_name[i]);
        n++;
    }
    return n;
}

int snap_drives(struct pc *pc, struct snap_drive *out, char *err, size_t errlen)
{
    int n = writable_drives(pc, out, SNAP_MAX_DRIVES);
    for (int i = 0; i < n; i++)
        if (strcmp(block_format_name(out[i].bs), "qcow2"))
            return fail(err, errlen, "Device '%s' is writable but does not support snapshots", out[i].name);
    return n;
}

/* Narrow the drives to devices[] (QMP), each of which must exist; 0 or -1. */
static int pick_drives(struct snap_drive *d, int *n, const char *const *devices, unsigned ndevices, char *err,
                       size_t errlen)
{
    if (!devices)
        return 0;
    struct snap_drive keep[SNAP_MAX_DRIVES];
    int k = 0;
    for (unsigned i = 0; i < ndevices; i++) {
        int j = 0;
        while (j < *n && strcmp(d[j].name, devices[i]))
            j++;
        if (j == *n)
            return fail(err, errlen, "No block device node '%s'", devices[i]);
        if (k < SNAP_MAX_DRIVES)
            keep[k++] = d[j];
    }
    memcpy(d, keep, sizeof(keep[0]) * (size_t)k);
    *n = k;
    return 0;
}

/* The drives a snapshot operation covers, with the one that holds the state first. */
static int op_drives(struct pc *pc, struct snap_drive *d, const char *vmstate, const char *const *devices,
                     unsigned ndevices, bool need_vmstate, char *err, size_t errlen)
{
    struct snap_drive all[SNAP_MAX_DRIVES];
    int n;
    if (devices) {
        /* Only the named drives: a writable raw drive elsewhere does not matter. */
        n = writable_drives(pc, all, SNAP_MAX_DRIVES);
        if (pick_drives(all, &n, devices, ndevices, err, errlen) < 0)
            return -1;
        for (int i = 0; i < n; i++)
            if (strcmp(block_format_name(all[i].bs), "qcow2"))
                return fail(err, errlen, "Device '%s' is writable but does not support snapshots", all[i].name);
    } else if ((n = snap_drives(pc, all, err, errlen)) < 0) {
        return -1;
    }
    if (need_vmstate && !n)
        return fail(err, errlen, "No block device can accept snapshots");
    int first = 0;
    if (vmstate) {
        while (first < n && strcmp(all[first].name, vmstate))
            first++;
        if (first == n)
            return fail(err, errlen, "Could not find node '%s'", vmstate);
    }
    int k = 0;
    d[k++] = all[first];
    for (int i = 0; i < n; i++)
        if (i != first)
            d[k++] = all[i];
    return n;
}

/* Every snapshot of a drive (malloc'ed; *n their count, 0 on failure). */
static struct qcow2_snapshot_info *list_snaps(struct block_dev *bs, int *n)
{
    struct qcow2_info qi;
    qcow2_get_info(bs, &qi);
    struct qcow2_snapshot_info *sn = calloc((size_t)qi.nb_snapshots + 1, sizeof(*sn));
    *n = sn ? qcow2_snapshot_list(bs, sn, qi.nb_snapshots) : 0;
    if (*n < 0)
        *n = 0;
    return sn;
}

static bool drive_has(struct block_dev *bs, const char *name, struct qcow2_snapshot_info *info)
{
    int n;
    struct qcow2_snapshot_info *sn = list_snaps(bs, &n);
    bool found = false;
    for (int i = 0; i < n && !found; i++)
        if (!strcmp(sn[i].name, name)) {
            if (info)
                *info = sn[i];
            found = true;
        }
    free(sn);
    return found;
}

static const char *qerr(struct block_dev *bs, int r)
{
    const char *m = qcow2_last_error(bs);
    return m && *m ? m : strerror(-r);
}

/* ---- savevm ---- */

/* The run state before an operation stopped the machine, to go back to afterwards. */
struct run_saved {
    bool running;
    const char *state;
};

static struct run_saved stop_for(struct pc *pc, const char *why)
{
    struct run_saved r = { !pc->rl.paused, pc->run_state };
    pc_set_paused(pc, true, why);
    return r;
}

static void restore_run(struct pc *pc, struct run_saved r)
{
    pc_set_paused(pc, !r.running, r.running ? NULL : r.state);
}

int pc_snapshot_save(struct pc *pc, const char *name, bool overwrite, const char *vmstate,
                     const char *const *devices, unsigned ndevices, char *err, size_t errlen)
{
    struct snap_drive d[SNAP_MAX_DRIVES];
    int n = op_drives(pc, d, vmstate, devices, ndevices, true, err, errlen);
    if (n < 0 || snap_unshare_ram(pc, err, errlen) < 0)
        return -1;
    /* A snapshot of the same name is replaced in the same switch as the new one is written, so
     * a savevm killed half-way leaves the old one there. */
    for (int i = 0; i < n; i++)
        if (!overwrite && drive_has(d[i].bs, name, NULL))
            return fail(err, errlen, "Snapshot '%s' already exists in one or more devices", name);
    const char *why = devlist_snapshot_blocker(&pc->devices);
    if (why)
        return fail(err, errlen, "State blocked by non-migratable device: %s", why);
    struct run_saved was = stop_for(pc, "save-vm");
    int64_t t0 = host_monotonic_ns();
    struct pc_state st;
    int ret = -1;
    if (pc_state_build(pc, false, &st, err, errlen) < 0)
        goto out;
    /* The segments: the header and meta, then each run of non-zero pages (zeros elsewhere take
     * no clusters). */
    unsigned cap = 64, nsegs = 0;
    struct qcow2_vmstate_seg *segs = malloc(cap * sizeof(*segs));
    if (!segs) {
        fail(err, errlen, "out of memory");
        goto out_st;
    }
    segs[nsegs++] = (struct qcow2_vmstate_seg){ 0, st.head.data, st.head.len };
    uint64_t pos = 0, packed = 0;
    struct mstate_run run;
    while (pc_state_next_run(&st, &pos, &packed, &run)) {
        if (nsegs == cap) {
            struct qcow2_vmstate_seg *ns = realloc(segs, 2 * cap * sizeof(*segs));
            if (!ns) {
                free(segs);
                fail(err, errlen, "out of memory");
                goto out_st;
            }
            segs = ns;
            cap *= 2;
        }
        segs[nsegs++] = (struct qcow2_vmstate_seg){ run.off, st.ram + run.first * MSTATE_PAGE, run.n * MSTATE_PAGE };
    }
    for (int i = 0; i < n; i++) {
        int r = block_flush(d[i].bs);
        if (r >= 0)
            r = i == 0 ? qcow2_snapshot_replace_vm(d[i].bs, name, overwrite, segs, nsegs, pc_state_size(&st),
                                                   (uint64_t)vclock_now(&pc->clock))
                       : qcow2_snapshot_replace_vm(d[i].bs, name, overwrite, NULL, 0, 0, 0);
        if (r < 0) {
            fail(err, errlen, "Error while creating snapshot on '%s': %s", d[i].name, qerr(d[i].bs, r));
            for (int k = 0; k < i; k++)   /* all or nothing, as QEMU */
                qcow2_snapshot_delete(d[k].bs, name);
            free(segs);
            goto out_st;
        }
    }
    free(segs);
    pc->snap->last_save_ms = (host_monotonic_ns() - t0) / 1e6;
    pc->snap->last_size = pc_state_size(&st);
    ret = 0;
out_st:
    pc_state_free(&st);
out:
    restore_run(pc, was);
    return ret;
}

/* ---- loadvm ---- */

struct qcow2_source {
    struct block_dev *bs;
    const char *name;
    struct snap_spans mapped;       /* RAM mapped from the image's clusters */
};

static int qcow2_read_at(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct qcow2_source *s = opaque;
    return qcow2_snapshot_vmstate_read(s->bs, s->name, off, buf, len);
}

static int qcow2_map_at(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct qcow2_source *s = opaque;
    bool mapped;
    int r = qcow2_snapshot_vmstate_map(s->bs, s->name, off, buf, len, &mapped);
    if (r < 0 || !mapped)
        return r;
    if (snap_spans_add(&s->mapped, buf, len) < 0) {
#ifdef MADV_POPULATE_WRITE
        /* Cannot remember the range: copy it now. */
        if (madvise(buf, len, MADV_POPULATE_WRITE) == 0)
            return 1;
#endif
        return -ENOMEM;
    }
    return 1;
}

/* After a load that failed half-way: the machine is reset and stays stopped (as QEMU leaves
 * it after a failed loadvm). */
void snap_after_failed_load(struct pc *pc)
{
    devlist_reset(&pc->devices);
    pc_request_reset(pc);
    pc_set_paused(pc, true, "restore-vm");
}

int pc_snapshot_load(struct pc *pc, const char *name, const char *vmstate, const char *const *devices,
                     unsigned ndevices, char *err, size_t errlen)
{
    struct snap_drive d[SNAP_MAX_DRIVES];
    int n = op_drives(pc, d, vmstate, devices, ndevices, true, err, errlen);
    if (n < 0)
        return -1;
    struct qcow2_snapshot_info info;
    for (int i = 0; i < n; i++)
        if (!drive_has(d[i].bs, name, i == 0 ? &info : NULL))
            return fail(err, errlen, "Snapshot '%s' does not exist in one or more devices", name);
    if (info.vm_state_size == 0)
        return fail(err, errlen, "This is a disk-only snapshot. Revert to it  offline using qemu-img");
    const char *why = devlist_snapshot_blocker(&pc->devices);
    if (why)
        return fail(err, errlen, "State blocked by non-migratable device: %s", why);
    struct run_saved was = stop_for(pc, "restore-vm");
    if (pc->aio_started)
        block_aio_drain(&pc->aio);
    int64_t t0 = host_monotonic_ns();
    /* Check the state first (a dry load reads only the header and meta), then switch the disks,
     * then load. */
    struct qcow2_source qs = { d[0].bs, name, { 0 } };
    struct mstate_source src = { qcow2_read_at, &qs, -1, info.vm_state_size, qcow2_map_at };
    uint8_t hdr[MSTATE_HEADER_SIZE];
    struct mstate_header h;
    int r = qcow2_read_at(&qs, 0, hdr, info.vm_state_size < sizeof(hdr) ? 0 : sizeof(hdr));
    if (info.vm_state_size < sizeof(hdr)) {
        fail(err, errlen, "the machine state is truncated (%" PRIu64 " bytes)", info.vm_state_size);
        goto fail_early;
    }
    if (r < 0) {
        fail(err, errlen, "cannot read the machine state: %s", qerr(d[0].bs, r));
        goto fail_early;
    }
    if (mstate_header_decode(hdr, sizeof(hdr), &h, err, errlen) < 0)
        goto fail_early;
    for (int i = 0; i < n; i++) {
        int rr = qcow2_snapshot_apply(d[i].bs, name);
        if (rr < 0) {
            fail(err, errlen, "Error while loading snapshot on '%s': %s", d[i].name, qerr(d[i].bs, rr));
            snap_after_failed_load(pc);
            return -1;
        }
    }
    bool changed;
    int lr = pc_state_load(pc, &src, &changed, err, errlen);
    if (changed) {   /* the RAM was replaced: what is mapped now is this load's */
        pc->snap->shared = qs.mapped;
        qs.mapped = (struct snap_spans){ 0 };
    }
    snap_spans_clear(&qs.mapped);
    if (lr < 0) {
        if (changed)
            snap_after_failed_load(pc);
        else
            restore_run(pc, was);
        return -1;
    }
    pc->snap->last_load_ms = (host_monotonic_ns() - t0) / 1e6;
    restore_run(pc, was);
    return 0;
fail_early:
    restore_run(pc, was);
    return -1;
}

/* ---- delvm ---- */

int pc_snapshot_delete(struct pc *pc, const char *name, const char *const *devices, unsigned ndevices,
                       char *err, size_t errlen)
{
    struct snap_drive d[SNAP_MAX_DRIVES];
    int n = op_drives(pc, d, NULL, devices, ndevices, false, err, errlen);
    if (n < 0 || snap_unshare_ram(pc, err, errlen) < 0)
        return -1;
    if (pc->aio_started)
        block_aio_drain(&pc->aio);
    for (int i = 0; i < n; i++) {
        if (!drive_has(d[i].bs, name, NULL))
            continue;
        int r = qcow2_snapshot_delete(d[i].bs, name);
        if (r < 0)
            return fail(err, errlen, "Error while deleting snapshot on device '%s': %s", d[i].name,
                        qerr(d[i].bs, r));
    }
    return 0;
}

/* ---- HMP ---- */

/* QEMU's size_to_str: three significant digits and a binary unit. */
void snap_size_str(uint64_t v, char *buf, size_t len)
{
    static const char *const units[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    int e;
    frexp((double)v / (1000.0 / 1024.0), &e);
    int i = (e - 1) / 10;
    if (i < 0)
        i = 0;
    if (i > 6)
        i = 6;
    snprintf(buf, len, "%0.3g %sB", (double)v / (double)(1ull << (i * 10)), units[i]);
}

static void dump_row(struct monitor *mon, const struct qcow2_snapshot_info *sn, const char *id)
{
    char vs[32], date[32], clk[32], ic[32] = "";
    snap_size_str(sn->vm_state_size, vs, sizeof(vs));
    time_t t = sn->date_sec;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    uint64_t secs = sn->vm_clock_nsec / 1000000000;
    snprintf(clk, sizeof(clk), "%02d:%02d:%02d.%03d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
             (int)(sn->vm_clock_nsec / 1000000 % 1000));
    if (sn->has_icount)
        snprintf(ic, sizeof(ic), "%" PRIu64, sn->icount);
    monitor_printf(mon, "%-9s %-16s %8s%20s%13s%11s\n", id ? id : sn->id, sn->name, vs, date, clk, ic);
}

static void dump_header(struct monitor *mon)
{
    monitor_printf(mon, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
}

static void info_snapshots(struct monitor *mon, const char *args, void *opaque)
{
    (void)args;
    struct pc *pc = opaque;
    struct snap_drive d[SNAP_MAX_DRIVES];
    char err[256];
    int n = op_drives(pc, d, NULL, NULL, 0, true, err, sizeof(err));
    if (n < 0) {
        monitor_printf(mon, "%s\n", err);
        return;
    }
    struct qcow2_snapshot_info *sn[SNAP_MAX_DRIVES];
    int cnt[SNAP_MAX_DRIVES];
    for (int i = 0; i < n; i++)
        sn[i] = list_snaps(d[i].bs, &cnt[i]);
    bool *on_all = calloc((size_t)cnt[0] + 1, sizeof(bool));
    int total = 0;
    for (int k = 0; k < cnt[0] && on_all; k++) {
        bool all = true;
        for (int i = 1; i < n && all; i++)
            all = drive_has(d[i].bs, sn[0][k].name, NULL);
        on_all[k] = all;
        total += all;
    }
    if (total) {
        monitor_printf(mon, "List of snapshots present on all disks:\n");
        dump_header(mon);
        for (int k = 0; k < cnt[0]; k++)
            if (on_all && on_all[k])
                dump_row(mon, &sn[0][k], "--");   /* IDs may differ between disks */
    } else {
        monitor_printf(mon, "None\n");
    }
    for (int i = 0; i < n; i++) {
        bool header = false;
        for (int k = 0; k < cnt[i]; k++) {
            bool all = true;
            for (int j = 0; j < n && all; j++)
                all = j == i || drive_has(d[j].bs, sn[i][k].name, NULL);
            if (all)
                continue;
            if (!header) {
                monitor_printf(mon, "\nList of partial (non-loadable) snapshots on '%s':\n", d[i].name);
                dump_header(mon);
                header = true;
            }
            dump_row(mon, &sn[i][k], NULL);
        }
    }
    for (int i = 0; i < n; i++)
        free(sn[i]);
    free(on_all);
}

static void hmp_savevm(struct monitor *mon, const char *args, void *opaque)
{
    char name[128], err[512];
    if (*args) {
        snprintf(name, sizeof(name), "%s", args);
    } else {   /* QEMU names an unnamed snapshot after the time */
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(name, sizeof(name), "vm-%Y%m%d%H%M%S", &tm);
    }
    if (pc_snapshot_save(opaque, name, true, NULL, NULL, 0, err, sizeof(err)) < 0)
        monitor_printf(mon, "Error: %s\n", err);
}

static void hmp_loadvm(struct monitor *mon, const char *args, void *opaque)
{
    char err[512];
    if (!*args) {
        monitor_printf(mon, "Parameter 'name' is missing\n");
        return;
    }
    if (pc_snapshot_load(opaque, args, NULL, NULL, 0, err, sizeof(err)) < 0)
        monitor_printf(mon, "Error: %s\n", err);
}

static void hmp_delvm(struct monitor *mon, const char *args, void *opaque)
{
    char err[512];
    if (!*args) {
        monitor_printf(mon, "Parameter 'name' is missing\n");
        return;
    }
    if (pc_snapshot_delete(opaque, args, NULL, 0, err, sizeof(err)) < 0)
        monitor_printf(mon, "Error: %s\n", err);
}

static const struct hmp_command snapshot_hmp[] = {
    { "savevm", NULL, "[tag]", "save a VM snapshot. If no tag is provided, a new snapshot is created", hmp_savevm },
    { "loadvm", NULL, "tag", "restore a VM snapshot from its tag", hmp_loadvm },
    { "delvm", NULL, "tag", "delete a VM snapshot from its tag", hmp_delvm },
    { "info snapshots", NULL, "", "show the currently saved VM snapshots", info_snapshots },
};

void pc_snapshot_register(struct pc *pc)
{
    pc->snap = calloc(1, sizeof(*pc->snap));
    if (!pc->snap)
        return;
    pc->snap->wake[0] = pc->snap->wake[1] = -1;
    monitor_registry_add_hmp(&pc->monreg, snapshot_hmp, sizeof(snapshot_hmp) / sizeof(snapshot_hmp[0]), pc);
    snap_jobs_register(pc);
    migrate_register(pc);
}

void pc_snapshot_destroy(struct pc *pc)
{
    struct snapshot_ctx *s = pc->snap;
    if (!s)
        return;
    snap_jobs_free(pc);
    snap_spans_clear(&s->shared);
    free(s);
    pc->snap = NULL;
}

int pc_snapshot_startup(struct pc *pc, char *err, size_t errlen)
{
    const struct vm_config *cfg = pc->cfg;
    if (!pc->snap)
        return fail(err, errlen, "pcvm: out of memory");
    if (cfg->loadvm) {
        char why[512];
        if (pc_snapshot_load(pc, cfg->loadvm, NULL, NULL, 0, why, sizeof(why)) < 0)
            return fail(err, errlen, "pcvm: -loadvm %s: %s", cfg->loadvm, why);
    }
    return migrate_startup(pc, err, errlen);
}

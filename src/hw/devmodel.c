/* The device model: the board's device list and the field-table state encoding. */
#include "hw/devmodel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define VM_PAGE 4096u

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- buffers ---- */

void vmbuf_put(struct vmbuf *b, const void *p, size_t len)
{
    if (b->failed || !len)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *n = realloc(b->data, cap);
        if (!n) {
            b->failed = true;
            return;
        }
        b->data = n;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
}

void vmbuf_put_u8(struct vmbuf *b, uint8_t v) { vmbuf_put(b, &v, 1); }

void vmbuf_put_u32(struct vmbuf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    vmbuf_put(b, x, 4);
}

void vmbuf_put_u64(struct vmbuf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    vmbuf_put(b, x, 8);
}

void vmbuf_free(struct vmbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

bool vmreader_get(struct vmreader *r, void *out, size_t len)
{
    if (r->left < len)
        return false;
    if (out)
        memcpy(out, r->p, len);
    r->p += len;
    r->left -= len;
    return true;
}

static uint64_t le_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool vmreader_get_u32(struct vmreader *r, uint32_t *v)
{
    uint8_t x[4];
    if (!vmreader_get(r, x, 4))
        return false;
    *v = (uint32_t)le_get(x, 4);
    return true;
}

bool vmreader_get_u64(struct vmreader *r, uint64_t *v)
{
    uint8_t x[8];
    if (!vmreader_get(r, x, 8))
        return false;
    *v = le_get(x, 8);
    return true;
}

/* ---- field tables ---- */

static unsigned elem_size(enum vmf_type t)
{
    switch (t) {
    case VMF_U8: case VMF_I8: case VMF_BOOL: return 1;
    case VMF_U16: case VMF_I16: return 2;
    case VMF_U32: case VMF_I32: return 4;
    case VMF_U64: case VMF_I64: return 8;
    default: return 0;
    }
}

static bool is_signed(enum vmf_type t)
{
    return t == VMF_I8 || t == VMF_I16 || t == VMF_I32 || t == VMF_I64;
}

static uint64_t read_scalar(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    memcpy(&v, p, n); /* the host is little endian (x86) */
    return v;
}

static bool field_present(const struct vmstate_field *f, uint32_t version)
{
    return f->since <= version;
}

void vmstate_save(const struct vmstate_desc *desc, const void *opaque, struct vmbuf *out)
{
    const uint8_t *base = opaque;
    for (const struct vmstate_field *f = desc->fields; f->type != VMF_END; f++) {
        const uint8_t *p = base + f->offset;
        unsigned n = elem_size(f->type);
        if (n) {
            for (uint32_t i = 0; i < f->count; i++) {
                uint64_t v = read_scalar(p + (size_t)i * n, n);
                if (f->type == VMF_BOOL)
                    v = p[i] != 0;
                uint8_t x[8];
                for (unsigned k = 0; k < n; k++)
                    x[k] = (uint8_t)(v >> (8 * k));
                vmbuf_put(out, x, n);
            }
        } else if (f->type == VMF_STRUCT) {
            for (uint32_t i = 0; i < f->count; i++)
                vmstate_save(f->sub, p + (size_t)i * f->stride, out);
        } else if (f->type == VMF_TIMER) {
            const struct vtimer *t = (const struct vtimer *)p;
            vmbuf_put_u8(out, t->armed);
            vmbuf_put_u64(out, t->armed ? (uint64_t)t->deadline : 0); /* a stale deadline is not state */
        } else if (f->type == VMF_BUFFER) {
            const uint8_t *buf = *(uint8_t *const *)p;
            static const uint8_t zero[VM_PAGE];
            for (uint32_t off = 0; off < f->count; off += VM_PAGE) {
                uint32_t len = f->count - off < VM_PAGE ? f->count - off : VM_PAGE;
                bool nz = buf && memcmp(buf + off, zero, len) != 0;
                vmbuf_put_u8(out, nz);
                if (nz)
                    vmbuf_put(out, buf + off, len);
            }
        }
    }
}

/* The kernel's page map of a heap buffer: one entry per host page it spans (read at once:
 * a system call per page costs more than the check). */
struct buf_pagemap {
    uint64_t *ent;
    uintptr_t first;                /* host page number of ent[0] */
    size_t n;
};

static void pagemap_read(struct buf_pagemap *m, const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof(*m));
    m->first = (uintptr_t)buf / VM_PAGE;
    size_t n = ((uintptr_t)buf + len - 1) / VM_PAGE - m->first + 1;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    m->ent = malloc(n * 8);
    if (m->ent && pread(fd, m->ent, n * 8, (off_t)(m->first * 8)) == (ssize_t)(n * 8))
        m->n = n;
    close(fd);
}

/* Whether [p, p+len) reads as zero. Buffers are heap memory (anonymous): a host page the
 * page map shows neither present nor swapped was never written, so it is zero without
 * touching it (a touch would fault it in; video memory has thousands of them). */
static bool buffer_is_zero(const struct buf_pagemap *m, const uint8_t *p, size_t len)
{
    static const uint8_t zero[VM_PAGE];
    uintptr_t first = (uintptr_t)p / VM_PAGE, last = ((uintptr_t)p + len - 1) / VM_PAGE;
    bool untouched = m->n && first >= m->first && last - m->first < m->n;
    for (uintptr_t pg = first; untouched && pg <= last; pg++)
        untouched = !(m->ent[pg - m->first] >> 62 & 3);
    return untouched || (len <= VM_PAGE && !memcmp(p, zero, len));
}

/* Parse (dry: only check) the fields of desc at version into opaque. */
static int load_fields(const struct vmstate_desc *desc, uint8_t *base, uint32_t version, struct vmreader *r,
                       bool dry, const char *path, char *err, size_t errlen)
{
    for (const struct vmstate_field *f = desc->fields; f->type != VMF_END; f++) {
        if (!field_present(f, version))
            continue;
        uint8_t *p = base ? base + f->offset : NULL;
        unsigned n = elem_size(f->type);
        if (n) {
            for (uint32_t i = 0; i < f->count; i++) {
                uint8_t x[8];
                if (!vmreader_get(r, x, n))
                    return fail(err, errlen, "%s: state ends inside field '%s'", path, f->name);
                uint64_t v = le_get(x, n);
                if (f->type == VMF_BOOL && v > 1)
                    return fail(err, errlen, "%s: field '%s' is not a boolean (%" PRIu64 ")", path, f->name, v);
                if (f->has_max) {
                    bool over = is_signed(f->type) ? (int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n) > (int64_t)f->max
                                                   : v > f->max;
                    if (over)
                        return fail(err, errlen, "%s: field '%s' is out of range (%" PRIu64 " > %" PRIu64 ")",
                                    path, f->name, v, f->max);
                }
                if (!dry)
                    memcpy(p + (size_t)i * n, x, n);
            }
        } else if (f->type == VMF_STRUCT) {
            for (uint32_t i = 0; i < f->count; i++) {
                char sub[128];
                snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
                if (load_fields(f->sub, dry ? NULL : p + (size_t)i * f->stride, f->sub->version, r, dry, sub,
                                err, errlen) < 0)
                    return -1;
            }
        } else if (f->type == VMF_TIMER) {
            uint8_t armed;
            uint64_t deadline;
            if (!vmreader_get(r, &armed, 1) || !vmreader_get_u64(r, &deadline))
                return fail(err, errlen, "%s: state ends inside timer '%s'", path, f->name);
            if (armed > 1 || (int64_t)deadline < 0)
                return fail(err, errlen, "%s: timer '%s' is corrupt", path, f->name);
            if (!dry) {
                struct vtimer *t = (struct vtimer *)p;
                if (armed)
                    vtimer_mod(t, (int64_t)deadline);
                else
                    vtimer_del(t);
            }
        } else if (f->type == VMF_BUFFER) {
            uint8_t *buf = p ? *(uint8_t **)p : NULL;
            struct buf_pagemap pagemap = { 0 };
            if (!dry && buf)
                pagemap_read(&pagemap, buf, f->count);
            int rc = 0;
            for (uint32_t off = 0; off < f->count && !rc; off += VM_PAGE) {
                uint32_t len = f->count - off < VM_PAGE ? f->count - off : VM_PAGE;
                uint8_t nz;
                if (!vmreader_get(r, &nz, 1) || nz > 1)
                    rc = fail(err, errlen, "%s: buffer '%s' is corrupt", path, f->name);
                else if (nz ? !vmreader_get(r, dry || !buf ? NULL : buf + off, len) : false)
                    rc = fail(err, errlen, "%s: state ends inside buffer '%s'", path, f->name);
                else if (!nz && !dry && buf && !buffer_is_zero(&pagemap, buf + off, len))
                    memset(buf + off, 0, len);   /* only pages not zero already */
            }
            free(pagemap.ent);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int vmstate_load(const struct vmstate_desc *desc, void *opaque, uint32_t version, struct vmreader *r,
                 char *err, size_t errlen)
{
    uint32_t min = desc->min_version ? desc->min_version : desc->version;
    if (version > desc->version || version < min)
        return fail(err, errlen, "%s: state version %u is not supported (this pcvm reads %u to %u)", desc->name,
                    version, min, desc->version);
    struct vmreader dry = *r;
    if (load_fields(desc, NULL, version, &dry, true, desc->name, err, errlen) < 0)
        return -1;
    if (load_fields(desc, opaque, version, r, false, desc->name, err, errlen) < 0)
        return -1;
    if (desc->post_load && desc->post_load(opaque, err, errlen) < 0)
        return -1;
    return 0;
}

static void print_fields(const struct vmstate_desc *desc, const void *opaque, int indent, bool nested,
                         devmodel_print_fn pr, void *ctx)
{
    const uint8_t *base = opaque;
    for (const struct vmstate_field *f = desc->fields; f->type != VMF_END; f++) {
        const uint8_t *p = base + f->offset;
        unsigned n = elem_size(f->type);
        if (n) {
            pr(ctx, "%*s%s =", indent, "", f->name);
            uint32_t shown = f->count > 16 ? 16 : f->count;
            for (uint32_t i = 0; i < shown; i++) {
                uint64_t v = read_scalar(p + (size_t)i * n, n);
                if (f->type == VMF_BOOL)
                    pr(ctx, " %s", p[i] ? "true" : "false");
                else if (is_signed(f->type))
                    pr(ctx, " %" PRId64, (int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n));
                else
                    pr(ctx, " 0x%0*" PRIx64, (int)n * 2, v);
            }
            pr(ctx, "%s\n", f->count > shown ? " ..." : "");
        } else if (f->type == VMF_STRUCT && nested) {
            for (uint32_t i = 0; i < f->count; i++) {
                if (f->count > 1)
                    pr(ctx, "%*s%s[%u]:\n", indent, "", f->name, i);
                else
                    pr(ctx, "%*s%s:\n", indent, "", f->name);
                print_fields(f->sub, p + (size_t)i * f->stride, indent + 2, true, pr, ctx);
            }
        } else if (f->type == VMF_TIMER) {
            const struct vtimer *t = (const struct vtimer *)p;
            if (t->armed)
                pr(ctx, "%*s%s = armed, deadline %" PRId64 " ns\n", indent, "", f->name, t->deadline);
            else
                pr(ctx, "%*s%s = idle\n", indent, "", f->name);
        } else if (f->type == VMF_BUFFER) {
            pr(ctx, "%*s%s = %u bytes\n", indent, "", f->name, f->count);
        }
    }
}

void vmstate_print(const struct vmstate_desc *desc, const void *opaque, int indent, devmodel_print_fn pr,
                   void *ctx)
{
    print_fields(desc, opaque, indent, true, pr, ctx);
}

/* ---- the device list ---- */

struct device *devlist_add(struct device_list *l, const struct device *d)
{
    if (!d->id[0] || devlist_find(l, d->id))
        return NULL;
    if (l->n == l->cap) {
        unsigned cap = l->cap ? l->cap * 2 : 32;
        struct device *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = *d;
    return &l->v[l->n++];
}

struct device *devlist_find(const struct device_list *l, const char *id)
{
    for (unsigned i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].id, id))
            return &l->v[i];
    return NULL;
}

void devlist_reset(struct device_list *l)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->v[i].reset)
            l->v[i].reset(l->v[i].opaque);
}

void devlist_destroy(struct device_list *l)
{
    for (unsigned i = l->n; i-- > 0;)
        if (l->v[i].destroy)
            l->v[i].destroy(l->v[i].opaque);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

const char *devlist_snapshot_blocker(const struct device_list *l)
{
    static __thread char why[160];
    for (unsigned i = 0; i < l->n; i++) {
        const char *now = l->v[i].snapshot_blocker ? l->v[i].snapshot_blocker(l->v[i].opaque) : NULL;
        if (l->v[i].no_snapshot || now) {
            snprintf(why, sizeof(why), "device '%s' (%s): %s", l->v[i].id, l->v[i].type,
                     l->v[i].no_snapshot ? l->v[i].no_snapshot : now);
            return why;
        }
    }
    return NULL;
}

/* A section: id (u8 length + bytes), version (u32), payload length (u32), payload. */
int devlist_save(struct device_list *l, struct vmbuf *out, char *err, size_t errlen)
{
    const char *why = devlist_snapshot_blocker(l);
    if (why)
        return fail(err, errlen, "%s", why);
    for (unsigned i = 0; i < l->n; i++) {
        struct device *d = &l->v[i];
        if (d->vmsd && d->vmsd->pre_save && d->vmsd->pre_save(d->opaque) < 0)
            return fail(err, errlen, "device '%s' cannot be saved now", d->id);
    }
    for (unsigned i = 0; i < l->n; i++) {
        struct device *d = &l->v[i];
        if (!d->vmsd)
            continue;
        size_t idlen = strlen(d->id);
        vmbuf_put_u8(out, (uint8_t)idlen);
        vmbuf_put(out, d->id, idlen);
        vmbuf_put_u32(out, d->vmsd->version);
        size_t len_at = out->len;
        vmbuf_put_u32(out, 0);
        vmstate_save(d->vmsd, d->opaque, out);
        if (out->failed)
            break;
        uint32_t plen = (uint32_t)(out->len - len_at - 4);
        for (int k = 0; k < 4; k++)
            out->data[len_at + k] = (uint8_t)(plen >> (8 * k));
    }
    vmbuf_put_u8(out, 0); /* end of sections */
    if (out->failed)
        return fail(err, errlen, "out of memory saving the device state");
    return 0;
}

struct section {
    char id[256];
    uint32_t version, len;
    const uint8_t *payload;
};

static int next_section(struct vmreader *r, struct section *s, bool *end, char *err, size_t errlen)
{
    uint8_t idlen;
    *end = false;
    if (!vmreader_get(r, &idlen, 1))
        return fail(err, errlen, "device state is truncated");
    if (!idlen) {
        *end = true;
        return 0;
    }
    if (!vmreader_get(r, s->id, idlen) || !vmreader_get_u32(r, &s->version) || !vmreader_get_u32(r, &s->len))
        return fail(err, errlen, "device state is truncated");
    s->id[idlen] = 0;
    s->payload = r->p;
    if (!vmreader_get(r, NULL, s->len))
        return fail(err, errlen, "device state is truncated (section '%s')", s->id);
    return 0;
}

/* Walk the sections; with load, load each into its device (dry run first). */
static int walk_sections(struct device_list *l, const uint8_t *data, size_t len, bool load, char *err,
                         size_t errlen)
{
    bool *seen = calloc(l->n ? l->n : 1, sizeof(bool));
    if (!seen)
        return fail(err, errlen, "out of memory");
    struct vmreader r = { data, len };
    int ret = -1;
    for (;;) {
        struct section s;
        bool end;
        if (next_section(&r, &s, &end, err, errlen) < 0)
            goto out;
        if (end)
            break;
        struct device *d = devlist_find(l, s.id);
        if (!d || !d->vmsd) {
            fail(err, errlen, "the state has a device this machine lacks: '%s'", s.id);
            goto out;
        }
        unsigned idx = (unsigned)(d - l->v);
        if (seen[idx]) {
            fail(err, errlen, "the state has device '%s' twice", s.id);
            goto out;
        }
        seen[idx] = true;
        struct vmreader pr = { s.payload, s.len };
        int rc;
        if (load) {
            rc = vmstate_load(d->vmsd, d->opaque, s.version, &pr, err, errlen);
        } else {
            uint32_t min = d->vmsd->min_version ? d->vmsd->min_version : d->vmsd->version;
            if (s.version > d->vmsd->version || s.version < min) {
                fail(err, errlen, "%s: state version %u is not supported (this pcvm reads %u to %u)", s.id,
                     s.version, min, d->vmsd->version);
                goto out;
            }
            rc = load_fields(d->vmsd, NULL, s.version, &pr, true, s.id, err, errlen);
        }
        if (rc < 0)
            goto out;
        if (pr.left) {
            fail(err, errlen, "%s: section is %u bytes longer than its fields", s.id, (unsigned)pr.left);
            goto out;
        }
    }
    if (r.left) {
        fail(err, errlen, "device state has %zu bytes after its end", r.left);
        goto out;
    }
    for (unsigned i = 0; i < l->n; i++)
        if (l->v[i].vmsd && !seen[i]) {
            fail(err, errlen, "the state has no section for device '%s'", l->v[i].id);
            goto out;
        }
    ret = 0;
out:
    free(seen);
    return ret;
}

int devlist_check(const struct device_list *l, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    return walk_sections((struct device_list *)l, data, len, false, err, errlen);
}

int devlist_load(struct device_list *l, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (devlist_check(l, data, len, err, errlen) < 0)
        return -1;
    return walk_sections(l, data, len, true, err, errlen);
}

void devlist_print_qtree(const struct device_list *l, devmodel_print_fn pr, void *ctx)
{
    /* Buses in order of first appearance, each with its devices. */
    const char *buses[32];
    unsigned nb = 0;
    for (unsigned i = 0; i < l->n; i++) {
        const char *b = l->v[i].bus ? l->v[i].bus : "sysbus";
        bool known = false;
        for (unsigned k = 0; k < nb; k++)
            known |= !strcmp(buses[k], b);
        if (!known && nb < 32)
            buses[nb++] = b;
    }
    for (unsigned k = 0; k < nb; k++) {
        pr(ctx, "bus: %s\n", buses[k]);
        for (unsigned i = 0; i < l->n; i++) {
            const struct device *d = &l->v[i];
            if (strcmp(d->bus ? d->bus : "sysbus", buses[k]))
                continue;
            pr(ctx, "  dev: %s, id \"%s\"\n", d->type, d->id);
            if (d->info)
                d->info(d, 4, pr, ctx);
            if (d->vmsd) /* the device's own registers; sub-structures (CPU segments...) elsewhere */
                print_fields(d->vmsd, d->opaque, 4, false, pr, ctx);
        }
    }
}

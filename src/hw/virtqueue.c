/* Split virtqueue parsing with every guest address checked against RAM (see virtqueue.h). */
#include "hw/virtqueue.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hw/dma.h"

static int broken(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int broken(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void virtq_reset(struct virtq *q)
{
    uint16_t max = q->max_size;
    memset(q, 0, sizeof(*q));
    q->max_size = max;
    q->size = max;
}

void virtq_set_legacy_pfn(struct virtq *q, uint32_t pfn)
{
    q->desc = (uint64_t)pfn << 12;
    q->avail = q->desc + 16u * q->size;
    q->used = (q->avail + 6u + 2u * q->size + 4095u) & ~(uint64_t)4095u;
    q->enabled = pfn != 0;
}

/* The three ring parts lie in RAM for the current size. */
static bool rings_in_ram(const struct virtq *q, struct phys_mem *pm)
{
    return q->size && dma_in_ram(pm, q->desc, 16ull * q->size) &&
           dma_in_ram(pm, q->avail, 6ull + 2ull * q->size) &&
           dma_in_ram(pm, q->used, 6ull + 8ull * q->size);
}

static uint16_t rd16(struct phys_mem *pm, uint64_t a) { return (uint16_t)phys_read(pm, (uint32_t)a, 2); }

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static void read_desc(struct phys_mem *pm, uint64_t table, unsigned i, struct desc *d)
{
    uint8_t b[16];
    phys_read_block(pm, (uint32_t)(table + 16ull * i), b, sizeof(b));
    d->addr = 0;
    for (int k = 7; k >= 0; k--)
        d->addr = d->addr << 8 | b[k];
    d->len = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    d->flags = (uint16_t)(b[12] | b[13] << 8);
    d->next = (uint16_t)(b[14] | b[15] << 8);
}

/* Append one buffer descriptor to e, keeping readable before writable. */
static int add_seg(struct virtq_elem *e, struct phys_mem *pm, const struct desc *d, char *why, size_t whylen)
{
    bool write = d->flags & VIRTQ_DESC_F_WRITE;
    if (e->n_out + e->n_in >= VIRTQ_MAX_SEGS)
        return broken(why, whylen, "chain longer than %d buffers", VIRTQ_MAX_SEGS);
    if (!dma_in_ram(pm, d->addr, d->len))
        return broken(why, whylen, "buffer 0x%llx+%u outside RAM", (unsigned long long)d->addr, d->len);
    if (!write && e->n_in)
        return broken(why, whylen, "readable buffer after a writable one");
    struct virtq_seg *s = &e->seg[e->n_out + e->n_in];
    s->addr = (uint32_t)d->addr;
    s->len = d->len;
    if (write) {
        e->n_in++;
        e->in_len += d->len;
    } else {
        e->n_out++;
        e->out_len += d->len;
    }
    return 0;
}

/* Walk an indirect table of len bytes at addr. */
static int walk_indirect(struct virtq_elem *e, struct phys_mem *pm, uint64_t addr, uint32_t len,
                         char *why, size_t whylen)
{
    if (len == 0 || len % 16)
        return broken(why, whylen, "indirect table length %u is not a multiple of 16", len);
    if (!dma_in_ram(pm, addr, len))
        return broken(why, whylen, "indirect table 0x%llx+%u outside RAM", (unsigned long long)addr, len);
    unsigned n = len / 16, i = 0;
    for (unsigned steps = 0;; steps++) {
        if (steps >= n)
            return broken(why, whylen, "indirect chain loops");
        struct desc d;
        read_desc(pm, addr, i, &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT)
            return broken(why, whylen, "indirect descriptor inside an indirect table");
        if (add_seg(e, pm, &d, why, whylen) < 0)
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (d.next >= n)
            return broken(why, whylen, "indirect next %u beyond the table (%u)", d.next, n);
        i = d.next;
    }
}

/* The ring looks empty: with event_idx, ask for a notification when the driver makes the next
 * chain available, then look again (a chain made available before the driver saw the request
 * would otherwise never be notified). Returns the available index to use. */
static uint16_t avail_idx_wanting_notify(struct virtq *q, struct phys_mem *pm, uint16_t avail_idx)
{
    if (!q->event_idx)
        return avail_idx;
    phys_write(pm, (uint32_t)(q->used + 4 + 8ull * q->size), q->last_avail, 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* avail_event before the next look at the index */
    return rd16(pm, q->avail + 2);
}

int virtq_pop(struct virtq *q, struct phys_mem *pm, struct virtq_elem *e, char *why, size_t whylen)
{
    if (!q->enabled || !q->size)
        return 0;
    if (!rings_in_ram(q, pm))
        return broken(why, whylen, "rings outside RAM (desc 0x%llx avail 0x%llx used 0x%llx size %u)",
                      (unsigned long long)q->desc, (unsigned long long)q->avail,
                      (unsigned long long)q->used, q->size);
    uint16_t avail_idx = rd16(pm, q->avail + 2);
    if (avail_idx == q->last_avail)
        avail_idx = avail_idx_wanting_notify(q, pm, avail_idx);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size)
        return broken(why, whylen, "available index moved by %u on a ring of %u", pending, q->size);
    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* ring entry after the index */
    uint16_t head = rd16(pm, q->avail + 4 + 2ull * (q->last_avail % q->size));
    if (head >= q->size)
        return broken(why, whylen, "head descriptor %u beyond the ring (%u)", head, q->size);
    e->head = head;
    e->n_out = e->n_in = 0;
    e->out_len = e->in_len = 0;
    unsigned i = head;
    for (unsigned steps = 0;; steps++) {
        if (steps >= q->size)
            return broken(why, whylen, "descriptor chain loops");
        struct desc d;
        read_desc(pm, q->desc, i, &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (d.flags & VIRTQ_DESC_F_NEXT)
                return broken(why, whylen, "indirect descriptor with NEXT set");
            if (walk_indirect(e, pm, d.addr, d.len, why, whylen) < 0)
                return -1;
            break;
        }
        if (add_seg(e, pm, &d, why, whylen) < 0)
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= q->size)
            return broken(why, whylen, "next descriptor %u beyond the ring (%u)", d.next, q->size);
        i = d.next;
    }
    q->last_avail++;
    return 1;
}

bool virtq_has_avail(struct virtq *q, struct phys_mem *pm)
{
    if (!q->enabled || !q->size || !rings_in_ram(q, pm))
        return false;
    uint16_t avail_idx = rd16(pm, q->avail + 2);
    if (avail_idx == q->last_avail)
        avail_idx = avail_idx_wanting_notify(q, pm, avail_idx);
    return avail_idx != q->last_avail;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
    q->last_avail = (uint16_t)(q->last_avail - n);
}

int virtq_push(struct virtq *q, struct phys_mem *pm, uint16_t head, uint32_t len, char *why, size_t whylen)
{
    if (!q->size || !dma_in_ram(pm, q->used, 6ull + 8ull * q->size))
        return broken(why, whylen, "used ring outside RAM");
    uint64_t slot = q->used + 4 + 8ull * (q->used_idx % q->size);
    phys_write(pm, (uint32_t)slot, head, 4);
    phys_write(pm, (uint32_t)slot + 4, len, 4);
    __atomic_thread_fence(__ATOMIC_RELEASE); /* the entry before the index */
    q->used_idx++;
    phys_write(pm, (uint32_t)q->used + 2, q->used_idx, 2);
    return 0;
}

bool virtq_wants_interrupt(struct virtq *q, struct phys_mem *pm)
{
    if (!q->size || !dma_in_ram(pm, q->avail, 6ull + 2ull * q->size))
        return true;
    if (!q->event_idx)
        return !(rd16(pm, q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the used index before reading used_event */
    uint16_t old = q->signalled_used, now = q->used_idx;
    bool valid = q->signalled_valid;
    q->signalled_valid = true;
    q->signalled_used = now;
    uint16_t event = rd16(pm, q->avail + 4 + 2ull * q->size);
    /* used_event in [old, now): an entry the driver waits for was pushed since the last one. */
    return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

/* Copy between buf and the segments [first, first+count) starting at byte off. */
static size_t copy_segs(struct phys_mem *pm, const struct virtq_seg *seg, unsigned count, uint64_t off,
                        uint8_t *buf, size_t len, bool to_guest)
{
    size_t done = 0;
    for (unsigned i = 0; i < count && done < len; i++) {
        if (off >= seg[i].len) {
            off -= seg[i].len;
            continue;
        }
        size_t n = seg[i].len - off;
        if (n > len - done)
            n = len - done;
        if (to_guest)
            phys_write_block(pm, seg[i].addr + (uint32_t)off, buf + done, n);
        else
            phys_read_block(pm, seg[i].addr + (uint32_t)off, buf + done, n);
        done += n;
        off = 0;
    }
    return done;
}

size_t virtq_elem_read(struct phys_mem *pm, const struct virtq_elem *e, uint64_t off, void *buf, size_t len)
{
    return copy_segs(pm, e->seg, e->n_out, off, buf, len, false);
}

size_t virtq_elem_write(struct phys_mem *pm, const struct virtq_elem *e, uint64_t off, const void *buf, size_t len)
{
    return copy_segs(pm, e->seg + e->n_out, e->n_in, off, (uint8_t *)buf, len, true);
}

/* virtio-blk device model (see virtio_blk.h). */
#include "hw/virtio_blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Feature bits. */
#define BLK_F_SIZE_MAX     (1ull << 1)
#define BLK_F_SEG_MAX      (1ull << 2)
#define BLK_F_RO           (1ull << 5)
#define BLK_F_BLK_SIZE     (1ull << 6)
#define BLK_F_FLUSH        (1ull << 9)
#define BLK_F_CONFIG_WCE   (1ull << 11)
#define BLK_F_DISCARD      (1ull << 13)
#define BLK_F_WRITE_ZEROES (1ull << 14)

/* Request types and status. */
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

/* Config offsets. */
enum { C_CAPACITY = 0, C_SIZE_MAX = 8, C_SEG_MAX = 12, C_BLK_SIZE = 20, C_WRITEBACK = 32,
       C_NUM_QUEUES = 34, C_MAX_DISCARD_SECTORS = 36, C_MAX_DISCARD_SEG = 40,
       C_DISCARD_ALIGN = 44, C_MAX_WZ_SECTORS = 48, C_MAX_WZ_SEG = 52, C_WZ_MAY_UNMAP = 56 };

#define MAX_ZERO_SECTORS 32768u    /* 16 MiB per write-zeroes request */
#define MAX_IO_BYTES (64u << 20)   /* a larger read/write is refused with IOERR */

struct blk_req {
    struct virtio_blk *s;
    uint32_t epoch;
    uint32_t type;
    uint8_t *buf;
    size_t len;
    struct virtq_elem elem;
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Writes must reach the disk before completion: cache mode, driver choice, or no FLUSH command. */
static bool writethrough(const struct virtio_blk *s)
{
    if (!s->bs->wce)
        return true;
    if (!virtio_has_feature(&s->vp, BLK_F_FLUSH))
        return true;
    if (virtio_has_feature(&s->vp, BLK_F_CONFIG_WCE))
        return s->config[C_WRITEBACK] == 0;
    return false;
}

/* Finish a request: data for reads, the status byte last, used ring, interrupt. */
static void complete(struct blk_req *r, uint8_t status)
{
    struct virtio_blk *s = r->s;
    s->in_flight--;
    if (r->epoch == s->epoch && virtio_pci_running(&s->vp)) {
        uint32_t written = 0;
        if (status == S_OK && (r->type == T_IN || r->type == T_GET_ID))
            written = (uint32_t)virtq_elem_write(s->vp.mem, &r->elem, 0, r->buf, r->len);
        virtq_elem_write(s->vp.mem, &r->elem, r->elem.in_len - 1, &status, 1);
        virtio_pci_push(&s->vp, 0, r->elem.head, written + 1);
        virtio_pci_notify_queue(&s->vp, 0);
    }
    free(r->buf);
    free(r);
}

static void io_done(void *opaque, int ret)
{
    struct blk_req *r = opaque;
    if (ret >= 0 && r->type == T_OUT && writethrough(r->s)) {
        r->type = T_FLUSH; /* flush next, then complete */
        block_aio_submit(r->s->aio, r->s->bs, BLOCK_AIO_FLUSH, 0, NULL, 0, io_done, r);
        return;
    }
    complete(r, ret < 0 ? S_IOERR : S_OK);
}

/* Range [sector, sector+count) inside the disk? */
static bool in_disk(const struct virtio_blk *s, uint64_t sector, uint64_t count)
{
    uint64_t total = s->bs->size / 512;
    return sector <= total && count <= total - sector;
}

static void start_request(struct virtio_blk *s, struct blk_req *r)
{
    struct virtq_elem *e = &r->elem;
    uint8_t hdr[16];
    s->in_flight++;
    r->s = s;
    r->epoch = s->epoch;
    if (e->in_len < 1 || virtq_elem_read(s->vp.mem, e, 0, hdr, 16) < 16) {
        s->in_flight--;
        virtio_pci_set_broken(&s->vp, "request without header or status byte");
        free(r);
        return;
    }
    r->type = (uint32_t)get_le(hdr, 4);
    uint64_t sector = get_le(hdr + 8, 8);
    uint64_t data_out = e->out_len - 16, data_in = e->in_len - 1;
    switch (r->type) {
    case T_IN:
    case T_OUT: {
        uint64_t len = r->type == T_IN ? data_in : data_out;
        if (len % 512 || len > MAX_IO_BYTES || !in_disk(s, sector, len / 512)) {
            log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-blk: %s of %llu bytes at sector %llu refused\n",
                       r->type == T_IN ? "read" : "write", (unsigned long long)len, (unsigned long long)sector);
            complete(r, S_IOERR);
            return;
        }
        if (r->type == T_OUT && s->bs->readonly) {
            complete(r, S_IOERR);
            return;
        }
        r->len = (size_t)len;
        r->buf = malloc(r->len ? r->len : 1);
        if (!r->buf) {
            complete(r, S_IOERR);
            return;
        }
        if (r->type == T_OUT)
            virtq_elem_read(s->vp.mem, e, 16, r->buf, r->len);
        /* A read of cached data, with nothing else in flight (so no earlier write it could
         * overtake), completes at once: no hand-over to a worker thread and back, which costs
         * more than the copy for small requests on a busy host. */
        if (r->type == T_IN && s->in_flight == 1 && block_pread_nowait(s->bs, sector * 512, r->buf, r->len) == 0) {
            complete(r, S_OK);
            return;
        }
        block_aio_submit(s->aio, s->bs, r->type == T_IN ? BLOCK_AIO_READ : BLOCK_AIO_WRITE, sector * 512,
                         r->buf, r->len, io_done, r);
        return;
    }
    case T_FLUSH:
        block_aio_submit(s->aio, s->bs, BLOCK_AIO_FLUSH, 0, NULL, 0, io_done, r);
        return;
    case T_GET_ID:
        r->len = 20;
        r->buf = calloc(1, 20);
        if (!r->buf || data_in < 20) {
            complete(r, S_IOERR);
            return;
        }
        memcpy(r->buf, s->serial, strlen(s->serial));
        complete(r, S_OK);
        return;
    case T_DISCARD:
    case T_WRITE_ZEROES: {
        uint8_t seg[16];
        if (data_out != 16 || virtq_elem_read(s->vp.mem, e, 16, seg, 16) < 16) {
            complete(r, S_UNSUPP); /* one segment per request (max_*_seg = 1) */
            return;
        }
        uint64_t start = get_le(seg, 8);
        uint32_t count = (uint32_t)get_le(seg + 8, 4), flags = (uint32_t)get_le(seg + 12, 4);
        if (!in_disk(s, start, count) || count > MAX_ZERO_SECTORS || (flags & ~1u) ||
            (r->type == T_DISCARD && flags) || s->bs->readonly) {
            complete(r, r->type == T_DISCARD && flags ? S_UNSUPP : S_IOERR);
            return;
        }
        if (r->type == T_DISCARD) {
            /* A hint: the block layer cannot free host space yet, so the data stays. */
            complete(r, S_OK);
            return;
        }
        r->type = T_OUT; /* zeroes are written as data, flushed if writethrough */
        r->len = (size_t)count * 512;
        r->buf = calloc(1, r->len ? r->len : 1);
        if (!r->buf) {
            complete(r, S_IOERR);
            return;
        }
        block_aio_submit(s->aio, s->bs, BLOCK_AIO_WRITE, start * 512, r->buf, r->len, io_done, r);
        return;
    }
    default:
        complete(r, S_UNSUPP);
        return;
    }
}

static void blk_notify(struct virtio_pci *vp, unsigned n)
{
    struct virtio_blk *s = vp->opaque;
    if (n != 0)
        return;
    for (;;) {
        struct blk_req *r = calloc(1, sizeof(*r));
        if (!r)
            return;
        if (virtio_pci_pop(vp, 0, &r->elem) <= 0) {
            free(r);
            return;
        }
        start_request(s, r);
    }
}

static void blk_reset(struct virtio_pci *vp)
{
    struct virtio_blk *s = vp->opaque;
    s->epoch++;
    s->config[C_WRITEBACK] = s->bs->wce;
}

static void blk_config_written(struct virtio_pci *vp, unsigned off, unsigned size)
{
    struct virtio_blk *s = vp->opaque;
    /* Only the writeback byte is writable; restore everything else. */
    uint8_t wb = s->config[C_WRITEBACK];
    uint64_t sectors = s->bs->size / 512;
    put_le(s->config + C_CAPACITY, sectors, 8);
    put_le(s->config + C_SIZE_MAX, 0, 4);
    (void)off;
    (void)size;
    s->config[C_WRITEBACK] = wb ? 1 : 0;
}

static const struct virtio_device_ops blk_ops = {
    .notify = blk_notify, .reset = blk_reset, .config_written = blk_config_written,
};

int virtio_blk_init(struct virtio_blk *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, struct block_dev *bs, struct block_aio_pool *aio,
                    const char *serial, bool legacy, bool modern)
{
    s->bs = bs;
    s->aio = aio;
    snprintf(s->serial, sizeof(s->serial), "%s", serial ? serial : "");
    memset(s->config, 0, sizeof(s->config));
    put_le(s->config + C_CAPACITY, bs->size / 512, 8);
    put_le(s->config + C_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2, 4);
    put_le(s->config + C_BLK_SIZE, 512, 4);
    s->config[C_WRITEBACK] = bs->wce;
    put_le(s->config + C_NUM_QUEUES, 1, 2);
    put_le(s->config + C_MAX_DISCARD_SECTORS, MAX_ZERO_SECTORS, 4);
    put_le(s->config + C_MAX_DISCARD_SEG, 1, 4);
    put_le(s->config + C_DISCARD_ALIGN, 1, 4);
    put_le(s->config + C_MAX_WZ_SECTORS, MAX_ZERO_SECTORS, 4);
    put_le(s->config + C_MAX_WZ_SEG, 1, 4);
    s->config[C_WZ_MAY_UNMAP] = 0;
    uint64_t features = BLK_F_SEG_MAX | BLK_F_BLK_SIZE | BLK_F_FLUSH | BLK_F_CONFIG_WCE |
                        (bs->readonly ? BLK_F_RO : BLK_F_DISCARD | BLK_F_WRITE_ZEROES);
    return virtio_pci_init(&s->vp, bus, devfn, mem, log, "virtio-blk", VIRTIO_ID_BLOCK, 0x010000, features,
                           1, VIRTIO_BLK_QUEUE_SIZE, s->config, VIRTIO_BLK_CONFIG_LEN, legacy, modern,
                           &blk_ops, s);
}

void virtio_blk_reset(void *opaque)
{
    struct virtio_blk *s = opaque;
    virtio_pci_reset(&s->vp);
}

/* A request in flight completes first: its data and used entry belong to the saved state. */
static int blk_pre_save(void *opaque)
{
    struct virtio_blk *s = opaque;
    if (s->aio)
        block_aio_drain(s->aio);
    return 0;
}

static int blk_post_load(void *opaque, char *err, size_t errlen)
{
    struct virtio_blk *s = opaque;
    if (virtio_pci_post_load(&s->vp, err, errlen) < 0)
        return -1;
    blk_config_written(&s->vp, 0, 0);           /* capacity from the image as it is */
    return 0;
}

static const struct vmstate_field virtio_blk_fields[] = {
    VMF_STRUCT(struct virtio_blk, vp, virtio_pci_vmstate), VMF_ARRAY(struct virtio_blk, config),
    VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_blk_vmstate = { .name = "virtio-blk", .version = 1, .fields = virtio_blk_fields,
                                                 .pre_save = blk_pre_save, .post_load = blk_post_load };

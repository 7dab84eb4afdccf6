/* Split virtqueue parsing (direct, indirect, and the chains a hostile guest builds: loops,
 * buffers and tables outside RAM, nested indirect tables, bad indices), and virtio-blk and
 * virtio-rng driven through the modern and legacy PCI interfaces as a driver would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/virtio_blk.h"
#include "hw/virtio_rng.h"

#define RAM (4u << 20)
#define DESC 0x10000u
#define AVAIL 0x11000u
#define USED 0x12000u
#define IND 0x13000u
#define BUF 0x20000u
#define QSIZE 8

/* ---- raw virtqueue ---- */

struct vq_fixture {
    struct phys_mem mem;
    struct virtq q;
    struct virtq_elem e;
    char why[160];
};

static int vq_setup(void **state)
{
    struct vq_fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, RAM, RAM), 0);
    f->q.max_size = QSIZE;
    virtq_reset(&f->q);
    f->q.desc = DESC;
    f->q.avail = AVAIL;
    f->q.used = USED;
    f->q.enabled = true;
    *state = f;
    return 0;
}

static int vq_teardown(void **state)
{
    struct vq_fixture *f = *state;
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static void put_desc(struct phys_mem *pm, uint32_t table, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint32_t a = table + 16 * i;
    phys_write(pm, a, (uint32_t)addr, 4);
    phys_write(pm, a + 4, (uint32_t)(addr >> 32), 4);
    phys_write(pm, a + 8, len, 4);
    phys_write(pm, a + 12, flags, 2);
    phys_write(pm, a + 14, next, 2);
}

/* Offer head as the next available entry. */
static void offer(struct phys_mem *pm, uint16_t head)
{
    uint16_t idx = (uint16_t)phys_read(pm, AVAIL + 2, 2);
    phys_write(pm, AVAIL + 4 + 2 * (idx % QSIZE), head, 2);
    phys_write(pm, AVAIL + 2, (uint16_t)(idx + 1), 2);
}

static void test_direct_chain(void **state)
{
    struct vq_fixture *f = *state;
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 0); /* empty */
    put_desc(&f->mem, DESC, 3, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
    put_desc(&f->mem, DESC, 5, BUF + 0x100, 100, VIRTQ_DESC_F_NEXT, 0);
    put_desc(&f->mem, DESC, 0, BUF + 0x1000, 513, VIRTQ_DESC_F_WRITE, 0);
    offer(&f->mem, 3);
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 1);
    assert_int_equal(f->e.head, 3);
    assert_int_equal(f->e.n_out, 2);
    assert_int_equal(f->e.n_in, 1);
    assert_int_equal(f->e.out_len, 116);
    assert_int_equal(f->e.in_len, 513);
    /* Reading across the two readable buffers, writing into the writable one. */
    phys_write(&f->mem, BUF + 15, 0xaa, 1);
    phys_write(&f->mem, BUF + 0x100, 0xbb, 1);
    uint8_t two[2];
    assert_int_equal(virtq_elem_read(&f->mem, &f->e, 15, two, 2), 2);
    assert_int_equal(two[0], 0xaa);
    assert_int_equal(two[1], 0xbb);
    assert_int_equal(virtq_elem_read(&f->mem, &f->e, 110, two, 2), 2);
    assert_int_equal(virtq_elem_read(&f->mem, &f->e, 115, two, 2), 1);   /* stops at the end */
    assert_int_equal(virtq_elem_write(&f->mem, &f->e, 512, "xy", 2), 1);
    assert_int_equal(phys_read(&f->mem, BUF + 0x1000 + 512, 1), 'x');
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 0);
    /* The used ring gets head and length, then the index. */
    assert_int_equal(virtq_push(&f->q, &f->mem, 3, 513, f->why, sizeof(f->why)), 0);
    assert_int_equal(phys_read(&f->mem, USED + 4, 4), 3);
    assert_int_equal(phys_read(&f->mem, USED + 8, 4), 513);
    assert_int_equal(phys_read(&f->mem, USED + 2, 2), 1);
    assert_true(virtq_wants_interrupt(&f->q, &f->mem));
    phys_write(&f->mem, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT, 2);
    assert_false(virtq_wants_interrupt(&f->q, &f->mem));
}

/* VIRTIO_RING_F_EVENT_IDX: avail_event (after the used ring) is written when the device finds
 * the ring empty; an interrupt is wanted only when used_event (after the available ring) lies
 * among the entries pushed since the last interrupt. */
static void test_event_idx(void **state)
{
    struct vq_fixture *f = *state;
    const uint32_t avail_event = USED + 4 + 8 * QSIZE, used_event = AVAIL + 4 + 2 * QSIZE;
    f->q.event_idx = true;
    phys_write(&f->mem, avail_event, 0x7777, 2);
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 0);
    assert_int_equal(phys_read(&f->mem, avail_event, 2), 0);          /* notify me at entry 0 */
    for (uint16_t i = 0; i < 3; i++) {
        put_desc(&f->mem, DESC, i, BUF + 0x100 * i, 16, 0, 0);
        offer(&f->mem, i);
    }
    phys_write(&f->mem, avail_event, 0x7777, 2);
    /* Popping while chains remain leaves avail_event alone (the device does not need kicks). */
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 1);
    assert_int_equal(phys_read(&f->mem, avail_event, 2), 0x7777);
    assert_true(virtq_has_avail(&f->q, &f->mem));
    assert_int_equal(phys_read(&f->mem, avail_event, 2), 0x7777);
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 1);
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 1);
    assert_false(virtq_has_avail(&f->q, &f->mem));
    assert_int_equal(phys_read(&f->mem, avail_event, 2), 3);          /* drained: next at 3 */
    /* The first decision always interrupts; then only when used_event is passed. The
     * NO_INTERRUPT flag means nothing with event_idx. */
    phys_write(&f->mem, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT, 2);
    phys_write(&f->mem, used_event, 1, 2);                            /* wants entry 1 */
    assert_int_equal(virtq_push(&f->q, &f->mem, 0, 0, f->why, sizeof(f->why)), 0);
    assert_true(virtq_wants_interrupt(&f->q, &f->mem));
    assert_false(virtq_wants_interrupt(&f->q, &f->mem));              /* nothing new */
    assert_int_equal(virtq_push(&f->q, &f->mem, 1, 0, f->why, sizeof(f->why)), 0);
    assert_true(virtq_wants_interrupt(&f->q, &f->mem));               /* used idx 1 -> 2 passes 1 */
    phys_write(&f->mem, used_event, 5, 2);                            /* wants entry 5 */
    assert_int_equal(virtq_push(&f->q, &f->mem, 2, 0, f->why, sizeof(f->why)), 0);
    assert_false(virtq_wants_interrupt(&f->q, &f->mem));
    /* A chain made available after the driver read an old avail_event is still seen. */
    offer(&f->mem, 0);
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 1);
    /* Without the feature the flag rules again. */
    f->q.event_idx = false;
    assert_false(virtq_wants_interrupt(&f->q, &f->mem));
}

static void test_indirect_chain(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
    put_desc(&f->mem, IND, 2, BUF + 0x200, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    put_desc(&f->mem, IND, 1, BUF + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
    put_desc(&f->mem, DESC, 7, IND, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&f->mem, 7);
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), 1);
    assert_int_equal(f->e.head, 7);
    assert_int_equal(f->e.n_out, 1);
    assert_int_equal(f->e.n_in, 2);
    assert_int_equal(f->e.in_len, 4097);
    assert_int_equal(f->e.seg[2].addr, BUF + 0x2000);
}

/* Each builder sets up one bad chain; virtq_pop must refuse it with a reason containing want. */
static void expect_broken(struct vq_fixture *f, const char *want)
{
    assert_int_equal(virtq_pop(&f->q, &f->mem, &f->e, f->why, sizeof(f->why)), -1);
    if (!strstr(f->why, want))
        fail_msg("reason '%s' lacks '%s'", f->why, want);
}

static void test_direct_loop(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&f->mem, DESC, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
    offer(&f->mem, 0);
    expect_broken(f, "loops");
}

static void test_self_loop(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 4, BUF, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
    offer(&f->mem, 4);
    expect_broken(f, "loops");
}

static void test_indirect_loop(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&f->mem, IND, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
    put_desc(&f->mem, DESC, 0, IND, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&f->mem, 0);
    expect_broken(f, "indirect chain loops");
}

static void test_buffer_outside_ram(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, RAM - 8, 16, 0, 0);               /* crosses the end of RAM */
    offer(&f->mem, 0);
    expect_broken(f, "outside RAM");
}

static void test_buffer_above_4g(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, 0x100000000ull + BUF, 16, 0, 0);  /* would alias BUF if truncated */
    offer(&f->mem, 0);
    expect_broken(f, "outside RAM");
}

static void test_huge_length(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, BUF, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);
    offer(&f->mem, 0);
    expect_broken(f, "outside RAM");
}

static void test_indirect_table_outside_ram(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, 0xfffffff0u, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&f->mem, 0);
    expect_broken(f, "indirect table");
}

static void test_indirect_bad_length(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, IND, 20, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&f->mem, 0);
    expect_broken(f, "multiple of 16");
}

static void test_nested_indirect(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, IND, 0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
    put_desc(&f->mem, DESC, 0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&f->mem, 0);
    expect_broken(f, "inside an indirect table");
}

static void test_indirect_with_next(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, IND, 0, BUF, 16, 0, 0);
    put_desc(&f->mem, DESC, 0, IND, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    offer(&f->mem, 0);
    expect_broken(f, "NEXT");
}

static void test_indirect_next_beyond(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 9);
    put_desc(&f->mem, DESC, 0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&f->mem, 0);
    expect_broken(f, "beyond the table");
}

static void test_readable_after_writable(void **state)
{
    struct vq_fixture *f = *state;
    put_desc(&f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    put_desc(&f->mem, DESC, 1, BUF, 16, 0, 0);
    offer(&f->mem, 0);
    expect_broken(f, "readable buffer after a writable");
}

static void test_bad_indices(void **state)
{
    struct vq_fixture *f = *state;
    offer(&f->mem, QSIZE);                                         /* head beyond the ring */
    expect_broken(f, "head descriptor");
    phys_write(&f->mem, AVAIL + 2, 100, 2);                        /* index jumps past the size */
    f->q.last_avail = 0;
    expect_broken(f, "available index moved");
    put_desc(&f->mem, DESC, 1, BUF, 16, VIRTQ_DESC_F_NEXT, QSIZE + 3);
    phys_write(&f->mem, AVAIL + 2, 1, 2);
    phys_write(&f->mem, AVAIL + 4, 1, 2);
    expect_broken(f, "next descriptor");
}

static void test_rings_outside_ram(void **state)
{
    struct vq_fixture *f = *state;
    f->q.used = RAM - 16;
    offer(&f->mem, 0);
    expect_broken(f, "rings outside RAM");
    assert_int_equal(virtq_push(&f->q, &f->mem, 0, 0, f->why, sizeof(f->why)), -1);
    f->q.used = USED;
    f->q.desc = 0xfffff000u;
    expect_broken(f, "rings outside RAM");
}

static void test_legacy_layout(void **state)
{
    struct vq_fixture *f = *state;
    f->q.size = 256;
    virtq_set_legacy_pfn(&f->q, 0x40);
    assert_int_equal(f->q.desc, 0x40000);
    assert_int_equal(f->q.avail, 0x40000 + 4096);
    assert_int_equal(f->q.used, 0x40000 + 8192);   /* 4096 + 6 + 512 rounded up to a page */
    assert_true(f->q.enabled);
}

/* ---- devices through the transport ---- */

struct dev_fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct pcvm_log log;
    struct virtio_blk blk;
    struct virtio_rng rng;
    struct block_dev *bs;
    char path[64];
    int irq;
};

static void record_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)dev;
    (void)pin;
    ((struct dev_fixture *)opaque)->irq = level;
}

static int dev_setup_mode(void **state, bool legacy, bool modern)
{
    struct dev_fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, RAM, RAM), 0);
    io_bus_init(&f->io);
    pci_bus_init(&f->bus, &f->mem, &f->io, record_irq, f);
    f->log.mask = LOG_GUEST_ERRORS;
    f->log.out = fopen("/dev/null", "w");
    strcpy(f->path, "/tmp/pcvm-test-virtio-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    uint8_t sector[512];
    for (int s = 0; s < 64; s++) {
        memset(sector, s, sizeof(sector));
        assert_int_equal(write(fd, sector, sizeof(sector)), 512);
    }
    close(fd);
    char err[BLOCK_ERR_LEN];
    f->bs = block_open(f->path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(f->bs);
    assert_int_equal(virtio_blk_init(&f->blk, &f->bus, 4 << 3, &f->mem, &f->log, f->bs, NULL, "pcvm-disk-1",
                                     legacy, modern), 0);
    assert_int_equal(virtio_rng_init(&f->rng, &f->bus, 5 << 3, &f->mem, &f->log, legacy, modern), 0);
    *state = f;
    return 0;
}

static int dev_setup(void **state) { return dev_setup_mode(state, true, true); }

static int dev_teardown(void **state)
{
    struct dev_fixture *f = *state;
    block_close(f->bs);
    unlink(f->path);
    fclose(f->log.out);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static uint32_t mr(struct virtio_pci *vp, uint32_t off, unsigned size) { return virtio_pci_modern_read(vp, off, size); }
static void mw(struct virtio_pci *vp, uint32_t off, uint32_t v, unsigned size) { virtio_pci_modern_write(vp, off, v, size); }

/* A 1.0 driver's start-up: features, queue 0 at DESC/AVAIL/USED with QSIZE entries, DRIVER_OK. */
static void modern_start(struct virtio_pci *vp, uint32_t want_lo)
{
    mw(vp, 0x14, 0, 1);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    mw(vp, 0x00, 1, 4);
    assert_int_equal(mr(vp, 0x04, 4), 1);                 /* VERSION_1 */
    mw(vp, 0x08, 0, 4);
    mw(vp, 0x0c, want_lo, 4);
    mw(vp, 0x08, 1, 4);
    mw(vp, 0x0c, 1, 4);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
    assert_true(mr(vp, 0x14, 1) & VIRTIO_STATUS_FEATURES_OK);
    mw(vp, 0x16, 0, 2);
    mw(vp, 0x18, QSIZE, 2);
    mw(vp, 0x20, DESC, 4);
    mw(vp, 0x24, 0, 4);
    mw(vp, 0x28, AVAIL, 4);
    mw(vp, 0x2c, 0, 4);
    mw(vp, 0x30, USED, 4);
    mw(vp, 0x34, 0, 4);
    mw(vp, 0x1c, 1, 2);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK, 1);
}

/* A virtio-blk request: header at BUF, data at BUF+0x1000 (len bytes), status at BUF+0x100. */
static uint8_t blk_request(struct dev_fixture *f, uint32_t type, uint64_t sector, uint32_t len, bool data_in)
{
    struct phys_mem *pm = &f->mem;
    phys_write(pm, BUF, type, 4);
    phys_write(pm, BUF + 4, 0, 4);
    phys_write(pm, BUF + 8, (uint32_t)sector, 4);
    phys_write(pm, BUF + 12, (uint32_t)(sector >> 32), 4);
    phys_write(pm, BUF + 0x100, 0xee, 1);
    unsigned n = 0;
    put_desc(pm, DESC, n, BUF, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(n + 1));
    n++;
    if (len) {
        put_desc(pm, DESC, n, BUF + 0x1000, len, VIRTQ_DESC_F_NEXT | (data_in ? VIRTQ_DESC_F_WRITE : 0),
                 (uint16_t)(n + 1));
        n++;
    }
    put_desc(pm, DESC, n, BUF + 0x100, 1, VIRTQ_DESC_F_WRITE, 0);
    offer(pm, 0);
    mw(&f->blk.vp, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    return (uint8_t)phys_read(pm, BUF + 0x100, 1);
}

static void test_blk_modern(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    assert_int_equal(pci_get_word(&vp->pci.config[0]), 0x1af4);
    assert_int_equal(pci_get_word(&vp->pci.config[2]), 0x1001);   /* transitional block */
    assert_int_equal(pci_get_word(&vp->pci.config[0x2e]), 2);
    /* The capability list reaches common, ISR, notify and device areas. */
    unsigned seen = 0;
    for (uint8_t p = vp->pci.config[0x34]; p; p = vp->pci.config[p + 1]) {
        assert_int_equal(vp->pci.config[p], 0x09);
        seen |= 1u << vp->pci.config[p + 3];
    }
    assert_int_equal(seen, 0x1e);
    assert_int_equal(mr(vp, VIRTIO_PCI_DEVICE_OFF, 4), 64);       /* capacity in sectors */
    modern_start(vp, (1u << 9) | (1u << 13) | (1u << 14) | (1u << 28));
    uint8_t st = blk_request(f, 0, 3, 1024, true);                /* read sectors 3 and 4 */
    assert_int_equal(st, 0);
    assert_int_equal(phys_read(&f->mem, BUF + 0x1000, 1), 3);
    assert_int_equal(phys_read(&f->mem, BUF + 0x1000 + 1023, 1), 4);
    assert_int_equal(phys_read(&f->mem, USED + 8, 4), 1025);     /* data + status */
    assert_int_equal(f->irq, 1);
    assert_int_equal(mr(vp, VIRTIO_PCI_ISR_OFF, 1), 1);           /* reading clears */
    assert_int_equal(f->irq, 0);
    /* Write sector 10, read it back through the block layer. */
    for (int i = 0; i < 512; i++)
        phys_write(&f->mem, BUF + 0x1000 + i, (uint8_t)(i * 7), 1);
    assert_int_equal(blk_request(f, 1, 10, 512, false), 0);
    uint8_t back[512];
    assert_int_equal(block_pread(f->bs, 10 * 512, back, 512), 0);
    assert_int_equal(back[5], 35);
    assert_int_equal(blk_request(f, 4, 0, 0, false), 0);          /* flush */
    assert_int_equal(blk_request(f, 8, 0, 20, true), 0);          /* get id */
    assert_memory_equal(&f->mem.ram[BUF + 0x1000], "pcvm-disk-1", 12);
    /* Write zeroes over sectors 20..21 (one segment). */
    phys_write(&f->mem, BUF + 0x1000, 20, 4);
    phys_write(&f->mem, BUF + 0x1004, 0, 4);
    phys_write(&f->mem, BUF + 0x1008, 2, 4);
    phys_write(&f->mem, BUF + 0x100c, 0, 4);
    assert_int_equal(blk_request(f, 13, 0, 16, false), 0);
    assert_int_equal(block_pread(f->bs, 20 * 512, back, 512), 0);
    assert_int_equal(back[0] | back[511], 0);
    assert_int_equal(block_pread(f->bs, 22 * 512, back, 1), 0);
    assert_int_equal(back[0], 22);
    /* Past the end and odd lengths fail with IOERR; unknown types with UNSUPP. */
    assert_int_equal(blk_request(f, 0, 64, 512, true), 1);
    assert_int_equal(blk_request(f, 0, 0, 100, true), 1);
    assert_int_equal(blk_request(f, 99, 0, 0, false), 2);
    assert_int_equal(vp->broken_count, 0);
}

static void test_blk_broken_chain(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    modern_start(vp, 1u << 9);
    put_desc(&f->mem, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 0);    /* loops onto itself */
    offer(&f->mem, 0);
    mw(vp, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    assert_int_equal(vp->broken_count, 1);
    assert_true(mr(vp, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(f->irq, 1);
    assert_int_equal(mr(vp, VIRTIO_PCI_ISR_OFF, 1), 2);           /* config change */
    /* Nothing more is processed until the driver resets the device. */
    put_desc(&f->mem, DESC, 1, BUF, 16, 0, 0);
    offer(&f->mem, 1);
    mw(vp, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    assert_int_equal(phys_read(&f->mem, USED + 2, 2), 0);
    mw(vp, 0x14, 0, 1);
    assert_int_equal(mr(vp, 0x14, 1), 0);
    phys_write(&f->mem, AVAIL + 2, 0, 2);
    phys_write(&f->mem, USED + 2, 0, 2);
    modern_start(vp, 1u << 9);
    assert_int_equal(blk_request(f, 0, 1, 512, true), 0);
    assert_int_equal(phys_read(&f->mem, BUF + 0x1000, 1), 1);
}

static void test_features_refused(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    mw(vp, 0x08, 0, 4);
    mw(vp, 0x0c, 1u << 31, 4);                                     /* not offered */
    mw(vp, 0x08, 1, 4);
    mw(vp, 0x0c, 1, 4);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
    assert_false(mr(vp, 0x14, 1) & VIRTIO_STATUS_FEATURES_OK);
    /* Ring addresses outside RAM break the device at the first notify, not the host. */
    mw(vp, 0x14, 0, 1);
    modern_start(vp, 0);
    mw(vp, 0x1c, 0, 2);
    vp->vq[0].enabled = false;
    mw(vp, 0x20, 0xfffff000u, 4);
    mw(vp, 0x24, 0x7, 4);
    mw(vp, 0x1c, 1, 2);
    mw(vp, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    assert_int_equal(vp->broken_count, 1);
}

static void test_blk_legacy(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    /* I/O BAR unmapped: offsets are the ports. */
    assert_int_equal(virtio_pci_legacy_read(vp, 0x14, 4), 64);
    assert_int_equal(virtio_pci_legacy_read(vp, 0x00, 4) & (1u << 28), 1u << 28);
    virtio_pci_legacy_write(vp, 0x12, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    virtio_pci_legacy_write(vp, 0x04, (1u << 9) | (1u << 28), 4);
    virtio_pci_legacy_write(vp, 0x0e, 0, 2);
    assert_int_equal(virtio_pci_legacy_read(vp, 0x0c, 2), VIRTIO_BLK_QUEUE_SIZE);
    virtio_pci_legacy_write(vp, 0x08, 0x100, 4);                   /* rings at 1 MiB */
    virtio_pci_legacy_write(vp, 0x12, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                            VIRTIO_STATUS_DRIVER_OK, 1);
    struct phys_mem *pm = &f->mem;
    uint32_t desc = 0x100000, avail = desc + 16 * VIRTIO_BLK_QUEUE_SIZE;
    uint32_t used = (avail + 6 + 2 * VIRTIO_BLK_QUEUE_SIZE + 4095) & ~4095u;
    /* Header and data in one indirect table. */
    phys_write(pm, BUF, 0, 4);
    phys_write(pm, BUF + 8, 7, 4);
    phys_write(pm, BUF + 12, 0, 4);
    put_desc(pm, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(pm, IND, 1, BUF + 0x1000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    put_desc(pm, IND, 2, BUF + 0x100, 1, VIRTQ_DESC_F_WRITE, 0);
    put_desc(pm, desc, 0, IND, 48, VIRTQ_DESC_F_INDIRECT, 0);
    phys_write(pm, avail + 4, 0, 2);
    phys_write(pm, avail + 2, 1, 2);
    virtio_pci_legacy_write(vp, 0x10, 0, 2);
    assert_int_equal(phys_read(pm, BUF + 0x100, 1), 0);
    assert_int_equal(phys_read(pm, BUF + 0x1000 + 100, 1), 7);
    assert_int_equal(phys_read(pm, used + 2, 2), 1);
    assert_int_equal(virtio_pci_legacy_read(vp, 0x13, 1), 1);
    virtio_pci_legacy_write(vp, 0x12, 0, 1);                       /* reset */
    assert_int_equal(virtio_pci_legacy_read(vp, 0x08, 4), 0);
}

/* Event index through the transport (legacy layout): offered, taken by a legacy driver, the
 * device asks for the next kick after the used ring and honours used_event after the available
 * ring: a used_event the driver has not reached suppresses the interrupt. */
static void test_blk_event_idx_legacy(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    assert_true(virtio_pci_legacy_read(vp, 0x00, 4) & (1u << 29));
    virtio_pci_legacy_write(vp, 0x12, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    virtio_pci_legacy_write(vp, 0x04, (1u << 9) | (1u << 29), 4);
    virtio_pci_legacy_write(vp, 0x0e, 0, 2);
    virtio_pci_legacy_write(vp, 0x08, 0x100, 4);
    virtio_pci_legacy_write(vp, 0x12, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                            VIRTIO_STATUS_DRIVER_OK, 1);
    struct phys_mem *pm = &f->mem;
    const uint32_t qs = VIRTIO_BLK_QUEUE_SIZE;
    uint32_t desc = 0x100000, avail = desc + 16 * qs, used = (avail + 6 + 2 * qs + 4095) & ~4095u;
    for (uint16_t i = 0; i < 2; i++) {
        uint32_t b = BUF + 0x2000 * i;
        phys_write(pm, b, 0, 4);                                   /* read sector i */
        phys_write(pm, b + 8, i, 4);
        phys_write(pm, b + 12, 0, 4);
        put_desc(pm, desc, 3 * i, b, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(3 * i + 1));
        put_desc(pm, desc, 3 * i + 1, b + 0x1000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
                 (uint16_t)(3 * i + 2));
        put_desc(pm, desc, 3 * i + 2, b + 0x100, 1, VIRTQ_DESC_F_WRITE, 0);
        phys_write(pm, avail + 4 + 2 * i, 3 * i, 2);
    }
    phys_write(pm, avail + 4 + 2 * qs, 1, 2);                      /* used_event: after entry 1 */
    phys_write(pm, avail + 2, 1, 2);
    virtio_pci_legacy_write(vp, 0x10, 0, 2);
    assert_int_equal(phys_read(pm, used + 2, 2), 1);
    assert_int_equal(phys_read(pm, used + 4 + 8 * qs, 2), 1);      /* avail_event: kick at 1 */
    assert_int_equal(virtio_pci_legacy_read(vp, 0x13, 1), 1);      /* first one interrupts */
    phys_write(pm, avail + 4 + 2 * qs, 5, 2);                      /* now wants entry 5 */
    phys_write(pm, avail + 2, 2, 2);
    virtio_pci_legacy_write(vp, 0x10, 0, 2);
    assert_int_equal(phys_read(pm, used + 2, 2), 2);
    assert_int_equal(phys_read(pm, BUF + 0x2000 + 0x1000, 1), 1);  /* sector 1's data */
    assert_int_equal(phys_read(pm, used + 4 + 8 * qs, 2), 2);
    assert_int_equal(virtio_pci_legacy_read(vp, 0x13, 1), 0);      /* suppressed */
    assert_int_equal(f->irq, 0);
    assert_int_equal(vp->broken_count, 0);
}

static void test_rng(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->rng.vp;
    assert_int_equal(pci_get_word(&vp->pci.config[2]), 0x1005);
    modern_start(vp, 0);
    memset(&f->mem.ram[BUF], 0, 300);
    put_desc(&f->mem, DESC, 2, BUF, 256, VIRTQ_DESC_F_WRITE, 0);
    offer(&f->mem, 2);
    mw(vp, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    assert_int_equal(phys_read(&f->mem, USED + 4, 4), 2);
    assert_int_equal(phys_read(&f->mem, USED + 8, 4), 256);
    unsigned zeros = 0;
    for (int i = 0; i < 256; i++)
        zeros += f->mem.ram[BUF + i] == 0;
    assert_true(zeros < 32);                    /* 256 random bytes are not mostly zero */
    assert_int_equal(f->mem.ram[BUF + 256], 0); /* nothing written past the buffer */
}

static int modern_only_setup(void **state) { return dev_setup_mode(state, false, true); }

static void test_modern_only(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    assert_int_equal(pci_get_word(&vp->pci.config[2]), 0x1042);
    assert_int_equal(vp->pci.config[8], 1);                        /* revision 1 */
    assert_int_equal(vp->pci.bars[0].size, 0);                     /* no legacy I/O BAR */
}

static int legacy_only_setup(void **state) { return dev_setup_mode(state, true, false); }

static void test_legacy_only(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->blk.vp;
    assert_int_equal(vp->pci.bars[4].size, 0);
    assert_int_equal(vp->pci.config[0x34], 0);
    assert_int_equal(vp->host_features & VIRTIO_F_VERSION_1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_direct_chain, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_event_idx, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_chain, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_direct_loop, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_self_loop, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_loop, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_buffer_outside_ram, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_buffer_above_4g, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_huge_length, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_table_outside_ram, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_bad_length, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_nested_indirect, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_with_next, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_indirect_next_beyond, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_readable_after_writable, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_bad_indices, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_rings_outside_ram, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_layout, vq_setup, vq_teardown),
        cmocka_unit_test_setup_teardown(test_blk_modern, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_blk_broken_chain, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_features_refused, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_blk_legacy, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_blk_event_idx_legacy, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_rng, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_modern_only, modern_only_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_only, legacy_only_setup, dev_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

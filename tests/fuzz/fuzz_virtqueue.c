/* libFuzzer target: the input becomes guest RAM holding a split virtqueue (its first bytes pick
 * the queue size, ring addresses and which device consumes it), then the chains are popped raw
 * and through virtio-blk (over a small raw image), virtio-rng and virtio-serial (any of its
 * queues: control messages or port data). Every access must stay inside RAM; a bad chain may
 * only mark the device NEEDS_RESET.
 * Sources: src/hw/virtqueue.c src/hw/virtio_pci.c src/hw/virtio_blk.c src/hw/virtio_rng.c
 *          src/hw/virtio_serial.c
 *          src/hw/pci.c src/mem/memory.c src/util/log.c src/block/[a-z]*.c src/util/mainloop.c src/util/fdio.c
 *          -lz -lzstd -lpthread */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hw/virtio_blk.h"
#include "hw/virtio_rng.h"
#include "hw/virtio_serial.h"

#define FUZZ_RAM (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void no_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)opaque;
    (void)dev;
    (void)pin;
    (void)level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16 || size > FUZZ_RAM)
        return 0;
    static struct phys_mem mem;
    static struct io_bus io;
    static struct pci_bus bus;
    static struct block_dev *bs;
    static struct virtq_elem elem;
    static bool ready;
    if (!ready) {
        if (phys_mem_init(&mem, FUZZ_RAM, FUZZ_RAM) < 0)
            abort();
        int fd = memfd_create("fuzz-virtio", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 64 << 10) < 0)
            abort();
        char path[64], err[BLOCK_ERR_LEN];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        bs = block_open(path, "raw", BLOCK_RDWR | BLOCK_NO_LOCK, BLOCK_CACHE_UNSAFE, err, sizeof(err));
        if (!bs)
            abort();
        ready = true;
    }
    memset(mem.ram, 0, FUZZ_RAM);
    memcpy(mem.ram, data, size);
    uint8_t mode = data[0];
    uint16_t qsize = (uint16_t)(1u << (data[1] % 11));          /* 1..1024 */
    uint64_t desc = le32(data + 4) % (FUZZ_RAM + 0x1000);         /* sometimes past the end */
    uint64_t avail = le32(data + 8) % (FUZZ_RAM + 0x1000);
    uint64_t used = le32(data + 12) % (FUZZ_RAM + 0x1000);
    if (mode & 0x80)
        desc |= (uint64_t)data[2] << 32;                          /* 64-bit addresses */

    /* Raw parser: pop until empty or broken, pushing each chain back. */
    struct virtq q = { .max_size = qsize };
    virtq_reset(&q);
    q.desc = desc;
    q.avail = avail;
    q.used = used;
    q.enabled = true;
    q.event_idx = mode & 0x40;                                    /* avail_event / used_event */
    char why[160];
    for (int i = 0; i < 64; i++) {
        int r = virtq_pop(&q, &mem, &elem, why, sizeof(why));
        if (r <= 0) {
            virtq_wants_interrupt(&q, &mem);
            break;
        }
        if (elem.n_out + elem.n_in > VIRTQ_MAX_SEGS)
            abort();
        uint8_t buf[64];
        virtq_elem_read(&mem, &elem, data[3], buf, sizeof(buf));
        virtq_elem_write(&mem, &elem, 0, buf, 16);
        virtq_push(&q, &mem, elem.head, (uint32_t)elem.in_len, why, sizeof(why));
    }

    /* The same RAM consumed by a device through its modern interface. */
    memset(&bus, 0, sizeof(bus));
    io_bus_init(&io);
    pci_bus_init(&bus, &mem, &io, no_irq, NULL);
    memcpy(mem.ram, data, size);
    static struct virtio_blk blk;
    static struct virtio_rng rng;
    static struct virtio_serial ser;
    struct virtio_pci *vp;
    unsigned queue = 0;
    memset(&blk, 0, sizeof(blk));
    memset(&rng, 0, sizeof(rng));
    if ((mode & 3) == 2) {
        char err[128];
        if (virtio_serial_init(&ser, &bus, 3 << 3, &mem, NULL, true, true) < 0 ||
            virtio_serial_add_port(&ser, -1, true, NULL, NULL, err, sizeof(err)) < 0 ||
            virtio_serial_add_port(&ser, -1, false, "fuzz", NULL, err, sizeof(err)) < 0)
            abort();
        vp = &ser.vp;
        queue = data[3] % (2 * VIRTIO_SERIAL_MAX_PORTS + 2);
        virtio_pci_modern_write(vp, 0x08, 0, 4);
        virtio_pci_modern_write(vp, 0x0c, 6 | (mode & 0x40 ? 1u << 29 : 0), 4); /* multiport, emergency write */
        virtio_pci_modern_write(vp, 0x16, queue, 2);
    } else if (mode & 1) {
        if (virtio_rng_init(&rng, &bus, 3 << 3, &mem, NULL, true, true) < 0)
            abort();
        vp = &rng.vp;
    } else {
        if (virtio_blk_init(&blk, &bus, 3 << 3, &mem, NULL, bs, NULL, "fuzz", true, true) < 0)
            abort();
        vp = &blk.vp;
    }
    if ((mode & 0x40) && (mode & 3) != 2) {
        virtio_pci_modern_write(vp, 0x08, 0, 4);
        virtio_pci_modern_write(vp, 0x0c, 1u << 29, 4);           /* VIRTIO_RING_F_EVENT_IDX */
    }
    virtio_pci_modern_write(vp, 0x14, 0x0b, 1);
    virtio_pci_modern_write(vp, 0x18, qsize > 256 ? 256 : qsize, 2);
    virtio_pci_modern_write(vp, 0x20, (uint32_t)desc, 4);
    virtio_pci_modern_write(vp, 0x24, (uint32_t)(desc >> 32), 4);
    virtio_pci_modern_write(vp, 0x28, (uint32_t)avail, 4);
    virtio_pci_modern_write(vp, 0x30, (uint32_t)used, 4);
    virtio_pci_modern_write(vp, 0x1c, 1, 2);
    virtio_pci_modern_write(vp, 0x14, 0x0f, 1);                  /* DRIVER_OK: processes the queue */
    virtio_pci_modern_write(vp, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * queue, queue, 2);
    virtio_pci_modern_write(vp, 0x14, 0, 1);
    return 0;
}

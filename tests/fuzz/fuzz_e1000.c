/* libFuzzer target: the e1000 driven by a hostile guest and a hostile network.  The input is a
 * list of operations: MMIO register writes and reads (any offset, any value), 32-bit stores
 * into the first 64 KiB of guest RAM (where descriptor rings and buffers can be built), frames
 * arriving from the back end, and timer runs.  Guest RAM is only 1 MiB, so rings and buffers
 * often point outside it.  ASan/UBSan watch every access; checked on every input: the card
 * never sends a frame longer than NET_MAX_FRAME, and queued frames are freed (LeakSanitizer).
 * Sources: src/hw/e1000.c src/hw/pci.c src/mem/memory.c src/net/net.c src/util/vclock.c
 *          src/util/log.c -lz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/e1000.h"
#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t frames_out;

static bool wire_receive(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    if (len > NET_MAX_FRAME)
        abort();
    frames_out++;
    return true;
}

static const struct net_port_ops wire_ops = { .receive = wire_receive };

static void no_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)opaque; (void)dev; (void)pin; (void)level;
}

static uint32_t take(const uint8_t **p, const uint8_t *end, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n && *p < end; i++)
        v |= (uint32_t)*(*p)++ << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct phys_mem mem;
    static struct io_bus io;
    static struct pci_bus bus;
    static struct vclock clock;
    static struct e1000 nic;
    static struct net_port wire;
    static bool ready;
    if (!ready) {
        if (phys_mem_init(&mem, 1 << 20, 1 << 20) < 0)
            abort();
        ready = true;
    }
    memset(mem.ram, 0, 1 << 16);
    io_bus_init(&io);
    pci_bus_init(&bus, &mem, &io, no_irq, NULL);
    vclock_init(&clock, false, 0, NULL);
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    if (e1000_init(&nic, &bus, 3 << 3, &mem, &clock, NULL, mac, "e1000.0") < 0)
        abort();
    nic.pci.config[4] |= 4;
    net_port_init(&wire, "wire", "fuzz", &wire_ops, NULL);
    net_port_link(&nic.port, &wire);

    const uint8_t *p = data, *end = data + size;
    static uint8_t frame[4096];
    while (p < end) {
        uint8_t op = *p++;
        switch (op % 5) {
        case 0: {
            uint32_t off = take(&p, end, 3) & (E1000_MMIO_SIZE - 1);
            uint32_t val = take(&p, end, 4);
            e1000_mmio_write(&nic, off & ~3u, val, 4);
            break;
        }
        case 1:
            e1000_mmio_read(&nic, take(&p, end, 3) & (E1000_MMIO_SIZE - 1), 1u << (op >> 6 & 2));
            break;
        case 2: {
            uint32_t addr = take(&p, end, 2) & ~3u;
            uint32_t val = take(&p, end, 4);
            memcpy(mem.ram + addr, &val, 4);
            break;
        }
        case 3: {
            size_t len = take(&p, end, 2) % sizeof(frame);
            size_t have = (size_t)(end - p) < len ? (size_t)(end - p) : len;
            memset(frame, 0, len);
            memcpy(frame, p, have);
            p += have;
            if (op & 0x80)
                memcpy(frame, mac, 6);
            net_port_send(&wire, frame, len);
            break;
        }
        case 4:
            vclock_run_timers(&clock);
            break;
        }
    }
    e1000_destroy(&nic);
    net_port_cleanup(&wire);
    return 0;
}

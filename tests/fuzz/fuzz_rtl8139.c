/* libFuzzer target: the RTL8139C+ driven by a hostile guest and a hostile network.  The input
 * is a list of operations: register writes and reads (any offset, size 1, 2 or 4, any value),
 * 32-bit stores into the first 64 KiB of guest RAM (where the classic ring buffer, the C+
 * descriptor rings and their buffers can be built), frames arriving from the back end, time
 * moving with timer runs, and a save + load of the card's state.  Guest RAM is only 1 MiB,
 * so rings and buffers often point outside it.  ASan/UBSan watch every access; checked on
 * every input: the card never sends a frame longer than NET_MAX_FRAME, saved state always
 * loads back, and queued frames are freed (LeakSanitizer).
 * Sources: src/hw/rtl8139.c src/hw/pci.c src/hw/devmodel.c src/mem/memory.c src/net/net.c
 *          src/util/vclock.c src/util/log.c -lz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/rtl8139.h"
#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool wire_receive(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    if (len > NET_MAX_FRAME)
        abort();
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
    static uint64_t insns;
    static struct rtl8139 nic;
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
    insns = 0;
    vclock_init(&clock, true, 0, &insns);
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };
    if (rtl8139_init(&nic, &bus, 4 << 3, &mem, &clock, NULL, mac, "rtl8139.0") < 0)
        abort();
    nic.pci.config[4] |= 4;
    net_port_init(&wire, "wire", "fuzz", &wire_ops, NULL);
    net_port_link(&nic.port, &wire);

    const uint8_t *p = data, *end = data + size;
    static uint8_t frame[4096];
    while (p < end) {
        uint8_t op = *p++;
        unsigned sz = 1u << (op >> 6 & 3);
        switch (op % 6) {
        case 0: {
            uint32_t off = take(&p, end, 1);
            uint32_t val = take(&p, end, 4);
            rtl8139_reg_write(&nic, off, val, sz > 4 ? 4 : sz);
            break;
        }
        case 1:
            rtl8139_reg_read(&nic, take(&p, end, 1), sz > 4 ? 4 : sz);
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
            insns += take(&p, end, 3) * 64ull;
            vclock_run_timers(&clock);
            break;
        case 5: {
            struct vmbuf b = { 0 };
            vmstate_save(&rtl8139_vmstate, &nic, &b);
            struct vmreader r = { b.data, b.len };
            char err[160];
            if (b.failed || vmstate_load(&rtl8139_vmstate, &nic, rtl8139_vmstate.version, &r, err, sizeof(err)) < 0)
                abort();
            vmbuf_free(&b);
            break;
        }
        }
    }
    rtl8139_destroy(&nic);
    net_port_cleanup(&wire);
    return 0;
}

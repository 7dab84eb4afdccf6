/* What the network card fuzz targets (fuzz_e1000, fuzz_rtl8139) share: the board the card sits
 * on (1 MiB of guest RAM, so rings and buffers often point outside it; a PCI bus; a virtual
 * clock), the wire that aborts on any frame longer than NET_MAX_FRAME the card sends, and the
 * operations both read from the input: guest RAM stores and frames arriving from the network.
 * Header-only; each target is one program. */
#ifndef PCVM_TESTS_NIC_FUZZ_H
#define PCVM_TESTS_NIC_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "mem/memory.h"
#include "net/net.h"
#include "util/vclock.h"

struct nic_fuzz {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct vclock clock;
    uint64_t insns;             /* with icount: virtual ns, moved by the target */
    struct net_port wire;
    size_t frames_out;          /* frames the card sent */
    uint8_t frame[4096];
    bool ready;
};

static bool nic_fuzz_wire_receive(void *opaque, const uint8_t *buf, size_t len)
{
    (void)buf;
    if (len > NET_MAX_FRAME)
        abort();
    ((struct nic_fuzz *)opaque)->frames_out++;
    return true;
}

static const struct net_port_ops nic_fuzz_wire_ops = { .receive = nic_fuzz_wire_receive };

static void nic_fuzz_no_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)opaque; (void)dev; (void)pin; (void)level;
}

/* Up to n input bytes, little endian (0 past the end). */
static uint32_t nic_fuzz_take(const uint8_t **p, const uint8_t *end, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n && *p < end; i++)
        v |= (uint32_t)*(*p)++ << (8 * i);
    return v;
}

/* A fresh board for one input (RAM kept between inputs, its first 64 KiB cleared). */
static void nic_fuzz_begin(struct nic_fuzz *z, bool icount)
{
    if (!z->ready) {
        if (phys_mem_init(&z->mem, 1 << 20, 1 << 20) < 0)
            abort();
        z->ready = true;
    }
    memset(z->mem.ram, 0, 1 << 16);
    io_bus_init(&z->io);
    pci_bus_init(&z->bus, &z->mem, &z->io, nic_fuzz_no_irq, NULL);
    z->insns = 0;
    if (icount)
        vclock_init(&z->clock, true, 0, &z->insns);
    else
        vclock_init(&z->clock, false, 0, NULL);
}

/* The card created on z->bus: bus master, its port joined to the wire. */
static void nic_fuzz_attach(struct nic_fuzz *z, struct pci_device *card, struct net_port *port)
{
    card->config[4] |= 4;
    net_port_init(&z->wire, "wire", "fuzz", &nic_fuzz_wire_ops, z);
    net_port_link(port, &z->wire);
}

/* A 32-bit store of input into the first 64 KiB of RAM, where rings and buffers are built. */
static void nic_fuzz_store(struct nic_fuzz *z, const uint8_t **p, const uint8_t *end)
{
    uint32_t addr = nic_fuzz_take(p, end, 2) & ~3u;
    uint32_t val = nic_fuzz_take(p, end, 4);
    memcpy(z->mem.ram + addr, &val, 4);
}

/* A frame of input arriving from the network (addressed to mac when op's top bit is set). */
static void nic_fuzz_frame_in(struct nic_fuzz *z, uint8_t op, const uint8_t **p, const uint8_t *end,
                              const uint8_t mac[6])
{
    size_t len = nic_fuzz_take(p, end, 2) % sizeof(z->frame);
    size_t have = (size_t)(end - *p) < len ? (size_t)(end - *p) : len;
    memset(z->frame, 0, len);
    memcpy(z->frame, *p, have);
    *p += have;
    if (op & 0x80)
        memcpy(z->frame, mac, 6);
    net_port_send(&z->wire, z->frame, len);
}

/* After the card is destroyed. */
static void nic_fuzz_end(struct nic_fuzz *z)
{
    net_port_cleanup(&z->wire);
}

#endif

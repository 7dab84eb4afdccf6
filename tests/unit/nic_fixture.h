/* The bench the network card unit tests (test_e1000, test_rtl8139) put their card on: 16 MiB
 * of guest RAM, a PCI bus that records the card's interrupt line, a virtual clock (optionally
 * -icount, 1 instruction = 1 ns, so time moves only when the test says so) and the wire, the
 * back end's side of the card's net_port, which records the frames the card sends.
 * Header-only (each unit test is one program); include it after cmocka.h. */
#ifndef PCVM_TESTS_NIC_FIXTURE_H
#define PCVM_TESTS_NIC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hw/pci.h"
#include "mem/memory.h"
#include "net/net.h"
#include "util/vclock.h"

#define NIC_BENCH_FRAMES 16

struct frame { uint8_t data[2048]; size_t len; };

struct nic_bench {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct vclock clock;
    uint64_t insns;             /* with icount: virtual ns */
    struct net_port wire;
    struct frame sent[NIC_BENCH_FRAMES];
    unsigned nsent;
    int irq;
};

static bool nic_bench_wire_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct nic_bench *b = opaque;
    if (b->nsent < NIC_BENCH_FRAMES && len <= sizeof(b->sent[0].data)) {
        memcpy(b->sent[b->nsent].data, buf, len);
        b->sent[b->nsent++].len = len;
    }
    return true;
}

static const struct net_port_ops nic_bench_wire_ops = { .receive = nic_bench_wire_receive };

static void nic_bench_record_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)dev;
    (void)pin;
    ((struct nic_bench *)opaque)->irq = level;
}

/* RAM, I/O and PCI buses and the clock, before the card is created on b->bus. */
static void nic_bench_init(struct nic_bench *b, bool icount)
{
    assert_int_equal(phys_mem_init(&b->mem, 16 << 20, 16 << 20), 0);
    io_bus_init(&b->io);
    pci_bus_init(&b->bus, &b->mem, &b->io, nic_bench_record_irq, b);
    if (icount)
        vclock_init(&b->clock, true, 0, &b->insns);
    else
        vclock_init(&b->clock, false, 0, NULL);
}

/* The card created: let it master the bus and join its port to the wire. */
static void nic_bench_attach(struct nic_bench *b, struct pci_device *card, struct net_port *port)
{
    card->config[4] |= 4;       /* bus master */
    net_port_init(&b->wire, "wire", "test", &nic_bench_wire_ops, b);
    net_port_link(port, &b->wire);
}

/* After the card is destroyed. */
static void nic_bench_destroy(struct nic_bench *b)
{
    net_port_cleanup(&b->wire);
    phys_mem_destroy(&b->mem);
}

#endif

/* virtio-serial driven through the 1.0 interface as Linux's virtio_console does: the control
 * handshake (DEVICE_READY -> DEVICE_ADD, PORT_READY -> CONSOLE_PORT / PORT_NAME / PORT_OPEN),
 * output to the port's chardev, input held until the guest opens the port, emergency writes,
 * and control messages a hostile driver makes up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "capture_chardev.h"
#include "hw/virtio_serial.h"

#define RAM (4u << 20)
#define QSIZE 8
#define QBASE(q) (0x10000u + (q) * 0x3000u)   /* desc, then avail (+0x1000), used (+0x2000) */
#define BUF(q) (0x100000u + (q) * 0x10000u)

enum { CTRL_RX = 2, CTRL_TX = 3, P1_RX = 4, P1_TX = 5 };

struct fx {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct pcvm_log log;
    struct virtio_serial s;
    struct chardev con, port;
    struct capture con_out, port_out;
    uint16_t avail_idx[VIRTIO_MAX_QUEUES], used_seen[VIRTIO_MAX_QUEUES];
};

static void no_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)opaque, (void)dev, (void)pin, (void)level;
}

static void no_msi(void *opaque, uint32_t address, uint32_t data)
{
    (void)opaque, (void)address, (void)data;
}

static void mw(struct fx *f, uint32_t off, uint32_t v, unsigned size) { virtio_pci_modern_write(&f->s.vp, off, v, size); }

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, RAM, RAM), 0);
    io_bus_init(&f->io);
    pci_bus_init(&f->bus, &f->mem, &f->io, no_irq, f);
    f->log.mask = LOG_GUEST_ERRORS;
    f->log.out = fopen("/dev/null", "w");
    f->con.ops = f->port.ops = &capture_ops;
    f->con.priv = &f->con_out;
    f->port.priv = &f->port_out;
    assert_int_equal(virtio_serial_init(&f->s, &f->bus, 4 << 3, &f->mem, &f->log, true, true), 0);
    char err[128];
    assert_int_equal(virtio_serial_add_port(&f->s, -1, true, NULL, &f->con, err, sizeof(err)), 0);
    assert_int_equal(virtio_serial_add_port(&f->s, -1, false, "org.pcvm.x", &f->port, err, sizeof(err)), 1);
    /* The numbering rules: no second port 1, no serial port at 0, nothing beyond the last. */
    assert_int_equal(virtio_serial_add_port(&f->s, 1, false, NULL, NULL, err, sizeof(err)), -1);
    assert_int_equal(virtio_serial_add_port(&f->s, 0, false, NULL, NULL, err, sizeof(err)), -1);
    assert_int_equal(virtio_serial_add_port(&f->s, VIRTIO_SERIAL_MAX_PORTS, false, NULL, NULL, err, sizeof(err)), -1);
    assert_int_equal(virtio_serial_add_port(&f->s, -1, false, "org.pcvm.x", NULL, err, sizeof(err)), -1);
    /* Driver start-up: MULTIPORT and EMERG_WRITE, every queue set up. */
    mw(f, 0x14, 0, 1);
    mw(f, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    mw(f, 0x08, 0, 4);
    mw(f, 0x0c, 6, 4);
    mw(f, 0x08, 1, 4);
    mw(f, 0x0c, 1, 4);
    mw(f, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
    for (unsigned q = 0; q < 2 * VIRTIO_SERIAL_MAX_PORTS + 2; q++) {
        mw(f, 0x16, q, 2);
        mw(f, 0x18, QSIZE, 2);
        mw(f, 0x20, QBASE(q), 4);
        mw(f, 0x28, QBASE(q) + 0x1000, 4);
        mw(f, 0x30, QBASE(q) + 0x2000, 4);
        mw(f, 0x1c, 1, 2);
    }
    mw(f, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                VIRTIO_STATUS_DRIVER_OK, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fclose(f->log.out);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

/* Offer one buffer (descriptor slot = ring position) on queue q and notify. */
static void offer(struct fx *f, unsigned q, uint32_t addr, uint32_t len, bool writable)
{
    uint16_t i = f->avail_idx[q]++;
    uint32_t d = QBASE(q) + 16 * (i % QSIZE);
    phys_write(&f->mem, d, addr, 4);
    phys_write(&f->mem, d + 4, 0, 4);
    phys_write(&f->mem, d + 8, len, 4);
    phys_write(&f->mem, d + 12, writable ? VIRTQ_DESC_F_WRITE : 0, 2);
    phys_write(&f->mem, d + 14, 0, 2);
    phys_write(&f->mem, QBASE(q) + 0x1000 + 4 + 2 * (i % QSIZE), i % QSIZE, 2);
    phys_write(&f->mem, QBASE(q) + 0x1000 + 2, f->avail_idx[q], 2);
    mw(f, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q, q, 2);
}

/* The next used element of queue q: its length, or -1 when there is none. */
static int next_used(struct fx *f, unsigned q, uint32_t *addr)
{
    uint16_t idx = (uint16_t)phys_read(&f->mem, QBASE(q) + 0x2000 + 2, 2);
    if (idx == f->used_seen[q])
        return -1;
    uint32_t e = QBASE(q) + 0x2000 + 4 + 8 * (f->used_seen[q] % QSIZE);
    uint32_t id = phys_read(&f->mem, e, 4);
    *addr = phys_read(&f->mem, QBASE(q) + 16 * id, 4);
    f->used_seen[q]++;
    return (int)phys_read(&f->mem, e + 4, 4);
}

static void send_ctrl(struct fx *f, uint32_t id, uint16_t event, uint16_t value)
{
    uint32_t a = BUF(CTRL_TX) + 16 * (f->avail_idx[CTRL_TX] % QSIZE);
    phys_write(&f->mem, a, id, 4);
    phys_write(&f->mem, a + 4, event, 2);
    phys_write(&f->mem, a + 6, value, 2);
    offer(f, CTRL_TX, a, 8, false);
}

/* Receive the next control message the device sent: event and id (and the name, if any). */
static void expect_ctrl(struct fx *f, uint32_t id, uint16_t event, uint16_t value, const char *extra)
{
    uint32_t a;
    int len = next_used(f, CTRL_RX, &a);
    assert_int_equal(len, 8 + (extra ? (int)strlen(extra) : 0));
    assert_int_equal(phys_read(&f->mem, a, 4), id);
    assert_int_equal(phys_read(&f->mem, a + 4, 2), event);
    assert_int_equal(phys_read(&f->mem, a + 6, 2), value);
    if (extra)
        assert_memory_equal(&f->mem.ram[a + 8], extra, strlen(extra));
}

static void handshake(struct fx *f)
{
    for (unsigned i = 0; i < QSIZE; i++)
        offer(f, CTRL_RX, BUF(CTRL_RX) + 0x100 * i, 0x100, true);
    send_ctrl(f, 0, 0 /* DEVICE_READY */, 1);
    expect_ctrl(f, 0, 1 /* DEVICE_ADD */, 1, NULL);
    expect_ctrl(f, 1, 1, 1, NULL);
    send_ctrl(f, 0, 3 /* PORT_READY */, 1);
    expect_ctrl(f, 0, 4 /* CONSOLE_PORT */, 1, NULL);
    expect_ctrl(f, 0, 6 /* PORT_OPEN */, 1, NULL);
    send_ctrl(f, 1, 3, 1);
    expect_ctrl(f, 1, 7 /* PORT_NAME */, 1, "org.pcvm.x");
    expect_ctrl(f, 1, 6, 1, NULL);
}

static void test_handshake_and_data(void **state)
{
    struct fx *f = *state;
    handshake(f);
    /* Output: the guest's bytes reach the port's chardev, the buffer comes back. */
    memcpy(&f->mem.ram[BUF(P1_TX)], "hello host", 10);
    offer(f, P1_TX, BUF(P1_TX), 10, false);
    assert_string_equal(f->port_out.out, "hello host");
    uint32_t a;
    assert_int_equal(next_used(f, P1_TX, &a), 0);
    /* Input waits until the guest opens the port. */
    offer(f, P1_RX, BUF(P1_RX), 4, true);
    assert_int_equal(f->port.fe_can_read(f->port.fe_opaque), 0);
    send_ctrl(f, 1, 6 /* PORT_OPEN */, 1);
    assert_int_equal(f->port.fe_can_read(f->port.fe_opaque), VIRTIO_SERIAL_INBUF);
    f->port.fe_read(f->port.fe_opaque, (const uint8_t *)"abcdefgh", 8);
    assert_int_equal(next_used(f, P1_RX, &a), 4);          /* one 4-byte buffer filled */
    assert_memory_equal(&f->mem.ram[BUF(P1_RX)], "abcd", 4);
    assert_int_equal(f->port.fe_can_read(f->port.fe_opaque), VIRTIO_SERIAL_INBUF - 4);
    offer(f, P1_RX, BUF(P1_RX) + 0x100, 16, true);         /* the rest goes into the next one */
    assert_int_equal(next_used(f, P1_RX, &a), 4);
    assert_memory_equal(&f->mem.ram[BUF(P1_RX) + 0x100], "efgh", 4);
    /* The console (port 0, queue 1) writes to its own chardev. */
    memcpy(&f->mem.ram[BUF(1)], "log line", 8);
    offer(f, 1, BUF(1), 8, false);
    assert_string_equal(f->con_out.out, "log line");
    /* Emergency write: one character to port 0. */
    mw(f, VIRTIO_PCI_DEVICE_OFF + 8, '!', 4);
    assert_string_equal(f->con_out.out, "log line!");
    /* Closing the port stops input again. */
    send_ctrl(f, 1, 6, 0);
    assert_int_equal(f->port.fe_can_read(f->port.fe_opaque), 0);
}

static void test_hostile_control(void **state)
{
    struct fx *f = *state;
    handshake(f);
    uint64_t broken = f->s.vp.broken_count;
    send_ctrl(f, 77, 6, 1);                       /* a port that does not exist */
    send_ctrl(f, 2, 6, 1);                        /* a free port number */
    send_ctrl(f, 0, 5 /* RESIZE: host to guest only */, 1);
    send_ctrl(f, 0xffffffffu, 0xffff, 0xffff);
    uint32_t a = BUF(CTRL_TX) + 0x800;
    offer(f, CTRL_TX, a, 3, false);               /* a short message */
    offer(f, CTRL_TX, a, 8, true);                /* a writable one: nothing to read */
    assert_int_equal(f->s.vp.broken_count, broken);
    for (int i = 0; i < 6; i++)
        assert_true(next_used(f, CTRL_TX, &a) >= 0);
    /* A driver that keeps saying DEVICE_READY without taking messages fills the control queue:
     * the extra messages are dropped, nothing overflows. */
    for (int i = 0; i < 40; i++)
        send_ctrl(f, 0, 0, 1);
    assert_true(f->s.ctrl_count <= VIRTIO_SERIAL_CTRL_MAX);
    /* Output on a queue whose port does not exist is consumed and dropped. */
    memcpy(&f->mem.ram[BUF(7)], "nowhere", 7);
    offer(f, 7, BUF(7), 7, false);
    assert_int_equal(next_used(f, 7, &a), 0);
    assert_int_equal(f->port_out.len, 0);
}

/* vectors=: fewer MSI-X vectors, or none at all (the capability leaves the list, BAR 1 goes). */
static void test_vectors(void **state)
{
    struct fx *f = *state;
    struct virtio_pci *vp = &f->s.vp;
    assert_int_equal(vp->msix_vectors, 0);      /* this bus delivers no messages: INTx only */
    assert_int_equal(virtio_pci_set_msix_vectors(vp, 2), 0);
    struct pci_bus bus;
    struct virtio_serial s2;
    memset(&bus, 0, sizeof(bus));
    pci_bus_init(&bus, &f->mem, &f->io, no_irq, f);
    bus.msi_send = no_msi;
    assert_int_equal(virtio_serial_init(&s2, &bus, 5 << 3, &f->mem, &f->log, true, true), 0);
    vp = &s2.vp;
    assert_int_equal(vp->msix_vectors, 2 * VIRTIO_SERIAL_MAX_PORTS + 3);
    assert_int_equal(vp->pci.config[0x79], VIRTIO_MSIX_CAP);         /* after the device cap */
    assert_int_equal(virtio_pci_set_msix_vectors(vp, VIRTIO_MSIX_MAX + 1), -1);
    assert_int_equal(virtio_pci_set_msix_vectors(vp, 2), 0);
    assert_int_equal(pci_get_word(&vp->pci.config[VIRTIO_MSIX_CAP + 2]), 1);   /* table size - 1 */
    assert_int_equal(virtio_pci_set_msix_vectors(vp, 0), 0);
    assert_int_equal(vp->msix_vectors, 0);
    assert_int_equal(vp->pci.config[0x79], 0);                        /* end of the list */
    assert_int_equal(vp->pci.config[VIRTIO_MSIX_CAP], 0);
    assert_int_equal(vp->pci.bars[1].size, 0);
    virtio_pci_modern_write(vp, 0x10, 0, 2);                          /* config vector 0 */
    assert_int_equal(virtio_pci_modern_read(vp, 0x10, 2), VIRTIO_MSIX_NO_VECTOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vectors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

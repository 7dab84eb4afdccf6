/* virtio-serial (virtio 1.x section 5.3, the console device) with the multiport feature: up to
 * VIRTIO_SERIAL_MAX_PORTS ports, each a virtconsole (Linux's hvcN) or a named virtserialport
 * (/dev/vportNpM), joined to a chardev. The control queues announce the ports (DEVICE_ADD,
 * CONSOLE_PORT, PORT_NAME, PORT_OPEN); output goes to the port's chardev as the guest queues it,
 * input waits in a small per-port buffer until the guest has opened the port and queued
 * receive buffers. Emergency writes (config emerg_wr) go to port 0. */
#ifndef PCVM_HW_VIRTIO_SERIAL_H
#define PCVM_HW_VIRTIO_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "chardev/chardev.h"
#include "hw/virtio_pci.h"

/* Two queues per port plus the two control queues must fit the transport's queues. */
#define VIRTIO_SERIAL_MAX_PORTS ((VIRTIO_MAX_QUEUES - 2) / 2)
#define VIRTIO_SERIAL_INBUF 4096u      /* host input held for a port */
#define VIRTIO_SERIAL_NAME_MAX 64u
#define VIRTIO_SERIAL_CTRL_MAX 32u     /* control messages waiting for guest buffers */
#define VIRTIO_SERIAL_CTRL_LEN (8u + VIRTIO_SERIAL_NAME_MAX)

struct virtio_serial;

struct virtio_serial_port {
    struct virtio_serial *dev;
    struct chardev *chr;               /* NULL: output dropped, no input */
    bool present;
    bool console;                      /* virtconsole (hvc) rather than virtserialport */
    char name[VIRTIO_SERIAL_NAME_MAX]; /* virtserialport name= ("" for none) */
    bool guest_open;                   /* the driver said PORT_OPEN 1 */
    uint8_t in[VIRTIO_SERIAL_INBUF];   /* ring of host input not given to the guest yet */
    uint32_t in_head, in_len;
    uint64_t bytes_out, bytes_in;      /* statistics (tests) */
};

struct virtio_serial {
    struct virtio_pci vp;
    uint8_t config[12];                /* cols, rows, max_nr_ports, emerg_wr */
    struct virtio_serial_port port[VIRTIO_SERIAL_MAX_PORTS];
    uint8_t ctrl[VIRTIO_SERIAL_CTRL_MAX][VIRTIO_SERIAL_CTRL_LEN];   /* queued control messages */
    uint8_t ctrl_len[VIRTIO_SERIAL_CTRL_MAX];
    uint32_t ctrl_head, ctrl_count;
    struct virtq_elem elem;
};

/* Register the device at devfn (no ports yet). Returns 0 or -1. */
int virtio_serial_init(struct virtio_serial *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                       struct pcvm_log *log, bool legacy, bool modern);
/* Add a port: nr is its number (-1: port 0 for the first console, else the lowest free from 1);
 * name may be NULL. Returns the port number, or -1 with a reason in err. */
int virtio_serial_add_port(struct virtio_serial *s, int nr, bool console, const char *name,
                           struct chardev *chr, char *err, size_t errlen);
/* Saved state and the device model's reset hook. */
extern const struct vmstate_desc virtio_serial_vmstate;
void virtio_serial_reset(void *opaque);

#endif

/* virtio-serial device model (see virtio_serial.h). */
#include "hw/virtio_serial.h"

#include <stdio.h>
#include <string.h>

/* Feature bits. */
#define CONSOLE_F_MULTIPORT   (1ull << 1)
#define CONSOLE_F_EMERG_WRITE (1ull << 2)

/* Config offsets. */
enum { C_COLS = 0, C_ROWS = 2, C_MAX_NR_PORTS = 4, C_EMERG_WR = 8 };

/* Control events (struct virtio_console_control: le32 id, le16 event, le16 value). */
enum {
    DEVICE_READY = 0, DEVICE_ADD = 1, DEVICE_REMOVE = 2, PORT_READY = 3, CONSOLE_PORT = 4,
    RESIZE = 5, PORT_OPEN = 6, PORT_NAME = 7,
};

/* Queues: port 0 at 0/1, control at 2/3, port p > 0 at 2p+2 / 2p+3. */
enum { CTRL_RX = 2, CTRL_TX = 3 };

static unsigned port_rxq(unsigned p)
{
    return p == 0 ? 0 : 2 * p + 2;
}

/* The port a data queue belongs to, or -1 for the control queues. */
static int queue_port(unsigned n)
{
    if (n < 2)
        return 0;
    if (n < 4)
        return -1;
    return (int)(n - 2) / 2;
}

static bool multiport(const struct virtio_serial *s)
{
    return virtio_has_feature(&s->vp, CONSOLE_F_MULTIPORT);
}

/* Without the multiport feature there is one port (0), always open. */
static bool port_open(const struct virtio_serial *s, const struct virtio_serial_port *p)
{
    if (!p->present)
        return false;
    return multiport(s) ? p->guest_open : p == &s->port[0];
}

/* ---- control queue ---- */

static void flush_ctrl(struct virtio_serial *s)
{
    bool pushed = false;
    while (s->ctrl_count && virtio_pci_running(&s->vp)) {
        if (virtio_pci_pop(&s->vp, CTRL_RX, &s->elem) <= 0)
            break;
        unsigned i = s->ctrl_head;
        uint32_t n = (uint32_t)virtq_elem_write(s->vp.mem, &s->elem, 0, s->ctrl[i], s->ctrl_len[i]);
        virtio_pci_push(&s->vp, CTRL_RX, s->elem.head, n);
        s->ctrl_head = (s->ctrl_head + 1) % VIRTIO_SERIAL_CTRL_MAX;
        s->ctrl_count--;
        pushed = true;
    }
    if (pushed)
        virtio_pci_notify_queue(&s->vp, CTRL_RX);
}

/* Queue a control message to the guest (extra: bytes after the header, a port name). */
static void send_ctrl(struct virtio_serial *s, uint32_t id, uint16_t event, uint16_t value, const char *extra)
{
    if (s->ctrl_count == VIRTIO_SERIAL_CTRL_MAX) {
        log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-serial: control queue full, event %u dropped\n", event);
        return;
    }
    unsigned i = (s->ctrl_head + s->ctrl_count) % VIRTIO_SERIAL_CTRL_MAX;
    uint8_t *m = s->ctrl[i];
    for (int b = 0; b < 4; b++)
        m[b] = (uint8_t)(id >> (8 * b));
    m[4] = (uint8_t)event;
    m[5] = (uint8_t)(event >> 8);
    m[6] = (uint8_t)value;
    m[7] = (uint8_t)(value >> 8);
    size_t len = 8;
    if (extra) {
        size_t k = strnlen(extra, VIRTIO_SERIAL_NAME_MAX - 1);
        memcpy(m + 8, extra, k);
        len += k;
    }
    s->ctrl_len[i] = (uint8_t)len;
    s->ctrl_count++;
}

static void flush_input(struct virtio_serial *s, unsigned p);

static void handle_ctrl(struct virtio_serial *s, const uint8_t *m)
{
    uint32_t id = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
    uint16_t event = (uint16_t)(m[4] | m[5] << 8), value = (uint16_t)(m[6] | m[7] << 8);
    if (event == DEVICE_READY) {
        if (value != 1) {
            log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-serial: the driver failed to initialise\n");
            return;
        }
        for (unsigned p = 0; p < VIRTIO_SERIAL_MAX_PORTS; p++)
            if (s->port[p].present)
                send_ctrl(s, p, DEVICE_ADD, 1, NULL);
        return;
    }
    if (id >= VIRTIO_SERIAL_MAX_PORTS || !s->port[id].present) {
        log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-serial: control event %u for unknown port %u\n", event, id);
        return;
    }
    struct virtio_serial_port *port = &s->port[id];
    if (event == PORT_READY) {
        if (value != 1)
            return;
        if (port->console)
            send_ctrl(s, id, CONSOLE_PORT, 1, NULL);
        if (port->name[0])
            send_ctrl(s, id, PORT_NAME, 1, port->name);
        /* The host side counts as connected from the start (a file, a pty, a socket). */
        send_ctrl(s, id, PORT_OPEN, 1, NULL);
    } else if (event == PORT_OPEN) {
        port->guest_open = value != 0;
        if (port->guest_open)
            flush_input(s, id);
    } else {
        log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-serial: unexpected control event %u from the driver\n", event);
    }
}

static void ctrl_tx(struct virtio_serial *s)
{
    bool pushed = false;
    while (virtio_pci_running(&s->vp) && virtio_pci_pop(&s->vp, CTRL_TX, &s->elem) > 0) {
        uint8_t m[8];
        if (virtq_elem_read(s->vp.mem, &s->elem, 0, m, sizeof(m)) == sizeof(m))
            handle_ctrl(s, m);
        else
            log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-serial: short control message\n");
        virtio_pci_push(&s->vp, CTRL_TX, s->elem.head, 0);
        pushed = true;
    }
    if (pushed)
        virtio_pci_notify_queue(&s->vp, CTRL_TX);
    flush_ctrl(s);
}

/* ---- data ---- */

static void port_tx(struct virtio_serial *s, unsigned p)
{
    struct virtio_serial_port *port = &s->port[p];
    unsigned q = port_rxq(p) + 1;
    bool pushed = false;
    while (virtio_pci_running(&s->vp) && virtio_pci_pop(&s->vp, q, &s->elem) > 0) {
        uint8_t buf[4096];
        for (uint64_t off = 0; off < s->elem.out_len;) {
            size_t k = virtq_elem_read(s->vp.mem, &s->elem, off, buf, sizeof(buf));
            if (!k)
                break;
            if (port->present)
                chardev_write(port->chr, buf, k);
            port->bytes_out += k;
            off += k;
        }
        virtio_pci_push(&s->vp, q, s->elem.head, 0);
        pushed = true;
    }
    if (pushed)
        virtio_pci_notify_queue(&s->vp, q);
}

/* Move held input into the guest's receive buffers. */
static void flush_input(struct virtio_serial *s, unsigned p)
{
    struct virtio_serial_port *port = &s->port[p];
    unsigned q = port_rxq(p);
    bool pushed = false;
    while (port->in_len && port_open(s, port) && virtio_pci_running(&s->vp)) {
        if (virtio_pci_pop(&s->vp, q, &s->elem) <= 0)
            break;
        uint32_t done = 0;
        while (port->in_len && done < s->elem.in_len) {
            uint32_t run = VIRTIO_SERIAL_INBUF - port->in_head;
            if (run > port->in_len)
                run = port->in_len;
            size_t k = virtq_elem_write(s->vp.mem, &s->elem, done, port->in + port->in_head, run);
            if (!k)
                break;
            done += (uint32_t)k;
            port->in_head = (port->in_head + (uint32_t)k) % VIRTIO_SERIAL_INBUF;
            port->in_len -= (uint32_t)k;
        }
        port->bytes_in += done;
        virtio_pci_push(&s->vp, q, s->elem.head, done);
        pushed = true;
    }
    if (pushed)
        virtio_pci_notify_queue(&s->vp, q);
}

static size_t port_can_read(void *opaque)
{
    struct virtio_serial_port *port = opaque;
    if (!port_open(port->dev, port) || !virtio_pci_running(&port->dev->vp))
        return 0;
    return VIRTIO_SERIAL_INBUF - port->in_len;
}

static void port_read(void *opaque, const uint8_t *buf, size_t len)
{
    struct virtio_serial_port *port = opaque;
    struct virtio_serial *s = port->dev;
    for (size_t i = 0; i < len && port->in_len < VIRTIO_SERIAL_INBUF; i++) {
        port->in[(port->in_head + port->in_len) % VIRTIO_SERIAL_INBUF] = buf[i];
        port->in_len++;
    }
    flush_input(s, (unsigned)(port - s->port));
}

static void serial_notify(struct virtio_pci *vp, unsigned n)
{
    struct virtio_serial *s = vp->opaque;
    if (n == CTRL_RX) {
        flush_ctrl(s);
        return;
    }
    if (n == CTRL_TX) {
        ctrl_tx(s);
        return;
    }
    int p = queue_port(n);
    if (p < 0 || p >= (int)VIRTIO_SERIAL_MAX_PORTS)
        return;
    if (n == port_rxq((unsigned)p))
        flush_input(s, (unsigned)p);
    else
        port_tx(s, (unsigned)p);
}

static void serial_device_reset(struct virtio_pci *vp)
{
    struct virtio_serial *s = vp->opaque;
    for (unsigned p = 0; p < VIRTIO_SERIAL_MAX_PORTS; p++)
        s->port[p].guest_open = false;
    s->ctrl_head = s->ctrl_count = 0;
}

static void serial_config_written(struct virtio_pci *vp, unsigned off, unsigned size)
{
    struct virtio_serial *s = vp->opaque;
    /* emerg_wr: one character for port 0, usable before the queues are set up. */
    if (off <= C_EMERG_WR && off + size > C_EMERG_WR && virtio_has_feature(vp, CONSOLE_F_EMERG_WRITE)) {
        uint8_t c = s->config[C_EMERG_WR];
        if (s->port[0].present)
            chardev_write(s->port[0].chr, &c, 1);
    }
    memset(s->config + C_EMERG_WR, 0, 4);
    /* cols/rows and max_nr_ports are read-only. */
    memset(s->config, 0, 4);
    s->config[C_MAX_NR_PORTS] = VIRTIO_SERIAL_MAX_PORTS;
    s->config[C_MAX_NR_PORTS + 1] = s->config[C_MAX_NR_PORTS + 2] = s->config[C_MAX_NR_PORTS + 3] = 0;
}

static const struct virtio_device_ops serial_ops = {
    .notify = serial_notify,
    .reset = serial_device_reset,
    .config_written = serial_config_written,
};

int virtio_serial_init(struct virtio_serial *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                       struct pcvm_log *log, bool legacy, bool modern)
{
    memset(s, 0, sizeof(*s));
    s->config[C_MAX_NR_PORTS] = VIRTIO_SERIAL_MAX_PORTS;
    for (unsigned p = 0; p < VIRTIO_SERIAL_MAX_PORTS; p++)
        s->port[p].dev = s;
    /* QEMU's class for virtio-serial-pci: communication controller, other (0x0780). */
    return virtio_pci_init(&s->vp, bus, devfn, mem, log, "virtio-serial", VIRTIO_ID_CONSOLE, 0x078000,
                           CONSOLE_F_MULTIPORT | CONSOLE_F_EMERG_WRITE, 2 * VIRTIO_SERIAL_MAX_PORTS + 2, 128,
                           s->config, sizeof(s->config), legacy, modern, &serial_ops, s);
}

int virtio_serial_add_port(struct virtio_serial *s, int nr, bool console, const char *name,
                           struct chardev *chr, char *err, size_t errlen)
{
    if (nr < 0) {
        nr = console && !s->port[0].present ? 0 : 1;
        while (nr < (int)VIRTIO_SERIAL_MAX_PORTS && s->port[nr].present)
            nr++;
        if (nr == (int)VIRTIO_SERIAL_MAX_PORTS) {
            snprintf(err, errlen, "no free port on the virtio-serial device (it has %u)", VIRTIO_SERIAL_MAX_PORTS);
            return -1;
        }
    }
    if (nr >= (int)VIRTIO_SERIAL_MAX_PORTS) {
        snprintf(err, errlen, "nr=%d is beyond the last port (%u)", nr, VIRTIO_SERIAL_MAX_PORTS - 1);
        return -1;
    }
    if (nr == 0 && !console) {
        snprintf(err, errlen, "port 0 is for a virtconsole (as QEMU)");
        return -1;
    }
    if (s->port[nr].present) {
        snprintf(err, errlen, "port %d is already in use", nr);
        return -1;
    }
    if (name && strlen(name) >= VIRTIO_SERIAL_NAME_MAX) {
        snprintf(err, errlen, "name= is at most %u characters", VIRTIO_SERIAL_NAME_MAX - 1);
        return -1;
    }
    for (unsigned p = 0; name && *name && p < VIRTIO_SERIAL_MAX_PORTS; p++)
        if (s->port[p].present && !strcmp(s->port[p].name, name)) {
            snprintf(err, errlen, "name '%s' is already in use", name);
            return -1;
        }
    struct virtio_serial_port *port = &s->port[nr];
    port->present = true;
    port->console = console;
    snprintf(port->name, sizeof(port->name), "%s", name ? name : "");
    port->chr = chr;
    chardev_attach(chr, port_can_read, port_read, port);
    return nr;
}

void virtio_serial_reset(void *opaque)
{
    struct virtio_serial *s = opaque;
    virtio_pci_reset(&s->vp);
}

static int serial_post_load(void *opaque, char *err, size_t errlen)
{
    struct virtio_serial *s = opaque;
    for (unsigned p = 0; p < VIRTIO_SERIAL_MAX_PORTS; p++)
        if (s->port[p].in_head >= VIRTIO_SERIAL_INBUF || s->port[p].in_len > VIRTIO_SERIAL_INBUF) {
            snprintf(err, errlen, "virtio-serial: port %u input ring out of range", p);
            return -1;
        }
    for (unsigned i = 0; i < VIRTIO_SERIAL_CTRL_MAX; i++)
        if (s->ctrl_len[i] > VIRTIO_SERIAL_CTRL_LEN) {
            snprintf(err, errlen, "virtio-serial: control message %u too long", i);
            return -1;
        }
    return virtio_pci_post_load(&s->vp, err, errlen);
}

static const struct vmstate_field port_fields[] = {
    VMF(struct virtio_serial_port, guest_open), VMF_ARRAY(struct virtio_serial_port, in),
    VMF_MAX(struct virtio_serial_port, in_head, VIRTIO_SERIAL_INBUF - 1),
    VMF_MAX(struct virtio_serial_port, in_len, VIRTIO_SERIAL_INBUF), VMF_END_OF_LIST,
};
static const struct vmstate_desc port_vmstate = { .name = "virtio-serial-port", .version = 1,
                                                  .fields = port_fields };

static const struct vmstate_field virtio_serial_fields[] = {
    VMF_STRUCT(struct virtio_serial, vp, virtio_pci_vmstate), VMF_ARRAY(struct virtio_serial, config),
    VMF_STRUCT_ARRAY(struct virtio_serial, port, port_vmstate), VMF_ARRAY2(struct virtio_serial, ctrl),
    VMF_ARRAY(struct virtio_serial, ctrl_len),
    VMF_MAX(struct virtio_serial, ctrl_head, VIRTIO_SERIAL_CTRL_MAX - 1),
    VMF_MAX(struct virtio_serial, ctrl_count, VIRTIO_SERIAL_CTRL_MAX), VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_serial_vmstate = { .name = "virtio-serial", .version = 1,
                                                    .fields = virtio_serial_fields, .post_load = serial_post_load };

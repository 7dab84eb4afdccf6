/* Transitional virtio-PCI transport (see virtio_pci.h). */
#include "hw/virtio_pci.h"

#include <string.h>

#define PCI_STATUS 0x06
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_VNDR 0x09
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID 0x2e

/* Modern capability types. */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };

#define GUEST_ERR(vp, ...) log_printf((vp)->log, LOG_GUEST_ERRORS, __VA_ARGS__)

#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_HI (VIRTIO_MSIX_CAP + 3)     /* bit 7: enable, bit 6: function mask */

static bool msix_enabled(const struct virtio_pci *vp)
{
    return vp->msix_vectors && (vp->pci.config[MSIX_CTRL_HI] & 0x80);
}

static bool msix_vector_masked(const struct virtio_pci *vp, unsigned v)
{
    return (vp->pci.config[MSIX_CTRL_HI] & 0x40) || (vp->msix_table[16 * v + 12] & 1) ||
           !(vp->pci.config[4] & 4);         /* no bus mastering: no message writes */
}

static void msix_send(struct virtio_pci *vp, unsigned v)
{
    const uint8_t *e = &vp->msix_table[16 * v];
    if (pci_get_long(e + 4)) {
        GUEST_ERR(vp, "%s: MSI-X vector %u addressed above 4 GiB: dropped\n", vp->name, v);
        return;
    }
    vp->pci.bus->msi_send(vp->pci.bus->msi_opaque, pci_get_long(e), pci_get_long(e + 8));
}

/* Signal vector v: now, or as a pending bit while it is masked. */
static void msix_notify(struct virtio_pci *vp, uint16_t v)
{
    if (v >= vp->msix_vectors)
        return;                              /* NO_VECTOR: the driver wants no interrupt */
    if (msix_vector_masked(vp, v))
        vp->msix_pending |= 1u << v;
    else
        msix_send(vp, v);
}

/* Send the pending vectors that are no longer masked. */
static void msix_deliver_pending(struct virtio_pci *vp)
{
    if (!msix_enabled(vp))
        return;
    for (unsigned v = 0; v < vp->msix_vectors; v++)
        if ((vp->msix_pending >> v & 1) && !msix_vector_masked(vp, v)) {
            vp->msix_pending &= ~(1u << v);
            msix_send(vp, v);
        }
}

static void update_irq(struct virtio_pci *vp)
{
    pci_set_irq(&vp->pci, !msix_enabled(vp) && vp->isr != 0);
}

/* A config-change interrupt (ISR bit 1). */
static void raise_config_irq(struct virtio_pci *vp)
{
    vp->isr |= 2;
    if (msix_enabled(vp))
        msix_notify(vp, vp->config_vector);
    else
        update_irq(vp);
}

bool virtio_pci_running(const struct virtio_pci *vp)
{
    return (vp->status & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_NEEDS_RESET);
}

void virtio_pci_set_broken(struct virtio_pci *vp, const char *why)
{
    vp->broken_count++;
    GUEST_ERR(vp, "%s: %s: device needs reset\n", vp->name, why);
    if (vp->status & VIRTIO_STATUS_NEEDS_RESET)
        return;
    vp->status |= VIRTIO_STATUS_NEEDS_RESET;
    if (vp->status & VIRTIO_STATUS_DRIVER_OK)
        raise_config_irq(vp);
}

int virtio_pci_pop(struct virtio_pci *vp, unsigned n, struct virtq_elem *e)
{
    if (n >= vp->nqueues || !virtio_pci_running(vp))
        return 0;
    char why[160];
    int r = virtq_pop(&vp->vq[n], vp->mem, e, why, sizeof(why));
    if (r < 0) {
        char line[200];
        snprintf(line, sizeof(line), "queue %u: %s", n, why);
        virtio_pci_set_broken(vp, line);
    }
    return r;
}

void virtio_pci_push(struct virtio_pci *vp, unsigned n, uint16_t head, uint32_t len)
{
    char why[160];
    if (n < vp->nqueues && virtq_push(&vp->vq[n], vp->mem, head, len, why, sizeof(why)) < 0)
        virtio_pci_set_broken(vp, why);
}

void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned n)
{
    if (n >= vp->nqueues || !virtq_wants_interrupt(&vp->vq[n], vp->mem))
        return;
    vp->isr |= 1;
    if (msix_enabled(vp))
        msix_notify(vp, vp->queue_vector[n]);
    else
        update_irq(vp);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
    vp->config_generation++;
    if (vp->status & VIRTIO_STATUS_DRIVER_OK)
        raise_config_irq(vp);
}

void virtio_pci_reset(struct virtio_pci *vp)
{
    if (vp->ops && vp->ops->reset)
        vp->ops->reset(vp);
    vp->status = 0;
    vp->guest_features = 0;
    vp->dfselect = vp->gfselect = 0;
    vp->queue_sel = 0;
    vp->isr = 0;
    vp->config_vector = VIRTIO_MSIX_NO_VECTOR;
    for (unsigned i = 0; i < vp->nqueues; i++) {
        virtq_reset(&vp->vq[i]);
        vp->queue_vector[i] = VIRTIO_MSIX_NO_VECTOR;
    }
    vp->msix_pending = 0;
    update_irq(vp);
}

static void queue_notify(struct virtio_pci *vp, unsigned n)
{
    if (n >= vp->nqueues) {
        GUEST_ERR(vp, "%s: notify of queue %u (has %u)\n", vp->name, n, vp->nqueues);
        return;
    }
    if (virtio_pci_running(vp) && vp->ops && vp->ops->notify)
        vp->ops->notify(vp, n);
}

/* The queues follow the ring features the driver took. */
static void sync_ring_features(struct virtio_pci *vp)
{
    for (unsigned i = 0; i < vp->nqueues; i++)
        vp->vq[i].event_idx = virtio_has_feature(vp, VIRTIO_RING_F_EVENT_IDX);
}

static void write_status(struct virtio_pci *vp, uint8_t v, bool modern)
{
    if (v == 0) {
        virtio_pci_reset(vp);
        return;
    }
    if (modern && (v & VIRTIO_STATUS_FEATURES_OK) && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
        /* Accept only what was offered, and 1.0 devices need VERSION_1 through this interface. */
        if ((vp->guest_features & ~vp->host_features) || !(vp->guest_features & VIRTIO_F_VERSION_1))
            v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    }
    bool was_running = virtio_pci_running(vp);
    vp->status = (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
    sync_ring_features(vp);
    if (!was_running && virtio_pci_running(vp))
        for (unsigned i = 0; i < vp->nqueues; i++)
            queue_notify(vp, i); /* buffers queued before DRIVER_OK */
}

static uint8_t read_isr(struct virtio_pci *vp)
{
    uint8_t v = vp->isr;
    vp->isr = 0;
    update_irq(vp);
    return v;
}

static uint32_t config_read(struct virtio_pci *vp, unsigned off, unsigned size)
{
    uint32_t v = 0;
    if (off >= vp->config_len || size > vp->config_len - off)
        return 0xffffffffu >> (32 - 8 * size);
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)vp->config[off + i] << (8 * i);
    return v;
}

static void config_write(struct virtio_pci *vp, unsigned off, uint32_t v, unsigned size)
{
    if (off >= vp->config_len || size > vp->config_len - off) {
        GUEST_ERR(vp, "%s: config write at %u+%u beyond %u bytes\n", vp->name, off, size, vp->config_len);
        return;
    }
    if (!vp->ops || !vp->ops->config_written) {
        GUEST_ERR(vp, "%s: write to read-only config at %u\n", vp->name, off);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        vp->config[off + i] = (uint8_t)(v >> (8 * i));
    vp->ops->config_written(vp, off, size);
}

/* ---- legacy interface (I/O BAR 0) ---- */

uint32_t virtio_pci_legacy_read(void *opaque, uint16_t port, unsigned size)
{
    struct virtio_pci *vp = opaque;
    unsigned off = (uint16_t)(port - vp->pci.bars[0].mapped_addr);
    struct virtq *q = vp->queue_sel < vp->nqueues ? &vp->vq[vp->queue_sel] : NULL;
    unsigned cfg = msix_enabled(vp) ? VIRTIO_PCI_LEGACY_CONFIG_MSIX : VIRTIO_PCI_LEGACY_CONFIG;
    if (off >= cfg)
        return config_read(vp, off - cfg, size);
    switch (off) {
    case 0x14: return vp->config_vector;       /* only while MSI-X is on (else config) */
    case 0x16: return q ? vp->queue_vector[vp->queue_sel] : VIRTIO_MSIX_NO_VECTOR;
    case 0x00: return (uint32_t)vp->host_features;
    case 0x04: return (uint32_t)vp->guest_features;
    case 0x08: return q ? (uint32_t)(q->desc >> 12) : 0;
    case 0x0c: return q ? q->size : 0;
    case 0x0e: return vp->queue_sel;
    case 0x10: return 0;
    case 0x12: return vp->status;
    case 0x13: return read_isr(vp);
    }
    GUEST_ERR(vp, "%s: legacy read at 0x%x size %u\n", vp->name, off, size);
    return 0xffffffffu >> (32 - 8 * size);
}

void virtio_pci_legacy_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct virtio_pci *vp = opaque;
    unsigned off = (uint16_t)(port - vp->pci.bars[0].mapped_addr);
    struct virtq *q = vp->queue_sel < vp->nqueues ? &vp->vq[vp->queue_sel] : NULL;
    unsigned cfg = msix_enabled(vp) ? VIRTIO_PCI_LEGACY_CONFIG_MSIX : VIRTIO_PCI_LEGACY_CONFIG;
    if (off >= cfg) {
        config_write(vp, off - cfg, value, size);
        return;
    }
    switch (off) {
    case 0x14: vp->config_vector = value < vp->msix_vectors ? (uint16_t)value : VIRTIO_MSIX_NO_VECTOR; return;
    case 0x16:
        if (q)
            vp->queue_vector[vp->queue_sel] = value < vp->msix_vectors ? (uint16_t)value : VIRTIO_MSIX_NO_VECTOR;
        return;
    case 0x04:
        /* A legacy driver sees only the low 32 bits and never VERSION_1. */
        vp->guest_features = value & (uint32_t)vp->host_features;
        return;
    case 0x08:
        if (!q)
            break;
        if (value == 0) {
            virtq_reset(q);
        } else {
            q->size = q->max_size; /* legacy queues have the device's size */
            virtq_set_legacy_pfn(q, value);
        }
        return;
    case 0x0e: vp->queue_sel = (uint16_t)value; return;
    case 0x10: queue_notify(vp, value & 0xffff); return;
    case 0x12: write_status(vp, (uint8_t)value, false); return;
    }
    GUEST_ERR(vp, "%s: legacy write 0x%x at 0x%x size %u ignored\n", vp->name, value, off, size);
}

/* ---- modern interface (memory BAR 4) ---- */

static uint32_t common_read(struct virtio_pci *vp, unsigned off, unsigned size)
{
    struct virtq *q = vp->queue_sel < vp->nqueues ? &vp->vq[vp->queue_sel] : NULL;
    uint64_t v;
    switch (off & ~7u) {
    case 0x20: v = q ? q->desc : 0; return (uint32_t)(v >> (8 * (off & 4)));
    case 0x28: v = q ? q->avail : 0; return (uint32_t)(v >> (8 * (off & 4)));
    case 0x30: v = q ? q->used : 0; return (uint32_t)(v >> (8 * (off & 4)));
    }
    switch (off) {
    case 0x00: return vp->dfselect;
    case 0x04: return vp->dfselect < 2 ? (uint32_t)(vp->host_features >> (32 * vp->dfselect)) : 0;
    case 0x08: return vp->gfselect;
    case 0x0c: return vp->gfselect < 2 ? (uint32_t)(vp->guest_features >> (32 * vp->gfselect)) : 0;
    case 0x10: return vp->config_vector;
    case 0x12: return vp->nqueues;
    case 0x14: return vp->status;
    case 0x15: return vp->config_generation;
    case 0x16: return vp->queue_sel;
    case 0x18: return q ? q->size : 0;
    case 0x1a: return q ? vp->queue_vector[vp->queue_sel] : VIRTIO_MSIX_NO_VECTOR;
    case 0x1c: return q ? q->enabled : 0;
    case 0x1e: return q ? vp->queue_sel : 0; /* queue_notify_off: one slot per queue */
    }
    (void)size;
    return 0;
}

static void common_write(struct virtio_pci *vp, unsigned off, uint32_t value, unsigned size)
{
    struct virtq *q = vp->queue_sel < vp->nqueues ? &vp->vq[vp->queue_sel] : NULL;
    uint64_t *addr = NULL;
    switch (off & ~7u) {
    case 0x20: addr = q ? &q->desc : NULL; break;
    case 0x28: addr = q ? &q->avail : NULL; break;
    case 0x30: addr = q ? &q->used : NULL; break;
    }
    if (off >= 0x20 && off < 0x38) {
        if (!addr || q->enabled) {
            GUEST_ERR(vp, "%s: ring address write with no queue or an enabled one\n", vp->name);
            return;
        }
        unsigned shift = 8 * (off & 4);
        *addr = (*addr & ~(0xffffffffull << shift)) | (uint64_t)value << shift;
        return;
    }
    switch (off) {
    case 0x00: vp->dfselect = value; return;
    case 0x08: vp->gfselect = value; return;
    case 0x0c:
        if (vp->gfselect < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned shift = 32 * vp->gfselect;
            vp->guest_features = (vp->guest_features & ~(0xffffffffull << shift)) | (uint64_t)value << shift;
        }
        return;
    case 0x10:                             /* msix_config: NO_VECTOR unless the table has it */
        vp->config_vector = value < vp->msix_vectors ? (uint16_t)value : VIRTIO_MSIX_NO_VECTOR;
        return;
    case 0x14: write_status(vp, (uint8_t)value, true); return;
    case 0x16: vp->queue_sel = (uint16_t)value; return;
    case 0x18:
        if (q && !q->enabled) {
            if (value == 0 || value > q->max_size || (value & (value - 1)))
                GUEST_ERR(vp, "%s: queue size %u refused (max %u, power of two)\n", vp->name, value, q->max_size);
            else
                q->size = (uint16_t)value;
        }
        return;
    case 0x1a:
        if (q)
            vp->queue_vector[vp->queue_sel] = value < vp->msix_vectors ? (uint16_t)value : VIRTIO_MSIX_NO_VECTOR;
        return;
    case 0x1c:
        if (q && value == 1)
            q->enabled = true;
        return;
    }
    GUEST_ERR(vp, "%s: common config write 0x%x at 0x%x size %u ignored\n", vp->name, value, off, size);
}

uint32_t virtio_pci_modern_read(void *opaque, uint32_t offset, unsigned size)
{
    struct virtio_pci *vp = opaque;
    if (offset < VIRTIO_PCI_ISR_OFF)
        return common_read(vp, offset, size) & (0xffffffffu >> (32 - 8 * size));
    if (offset < VIRTIO_PCI_DEVICE_OFF)
        return offset == VIRTIO_PCI_ISR_OFF ? read_isr(vp) : 0;
    if (offset < VIRTIO_PCI_NOTIFY_OFF)
        return config_read(vp, offset - VIRTIO_PCI_DEVICE_OFF, size);
    return 0;
}

void virtio_pci_modern_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct virtio_pci *vp = opaque;
    if (offset < VIRTIO_PCI_ISR_OFF)
        common_write(vp, offset, value, size);
    else if (offset < VIRTIO_PCI_DEVICE_OFF)
        GUEST_ERR(vp, "%s: write to the ISR\n", vp->name);
    else if (offset < VIRTIO_PCI_NOTIFY_OFF)
        config_write(vp, offset - VIRTIO_PCI_DEVICE_OFF, value, size);
    else
        queue_notify(vp, (offset - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT);
}

/* ---- MSI-X table and pending bits (memory BAR 1) ---- */

uint32_t virtio_pci_msix_read(void *opaque, uint32_t offset, unsigned size)
{
    struct virtio_pci *vp = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint32_t o = offset + i;
        uint8_t b = 0;
        if (o < 16u * vp->msix_vectors)
            b = vp->msix_table[o];
        else if (o >= VIRTIO_MSIX_PBA_OFF && o < VIRTIO_MSIX_PBA_OFF + 4)
            b = (uint8_t)(vp->msix_pending >> (8 * (o - VIRTIO_MSIX_PBA_OFF)));
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

void virtio_pci_msix_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct virtio_pci *vp = opaque;
    bool control = false;
    for (unsigned i = 0; i < size; i++) {
        uint32_t o = offset + i;
        if (o >= 16u * vp->msix_vectors) {
            GUEST_ERR(vp, "%s: MSI-X write at 0x%x outside the table\n", vp->name, o);
            return;
        }
        vp->msix_table[o] = (uint8_t)(value >> (8 * i));
        control |= (o & 15) >= 12;
    }
    if (control)
        msix_deliver_pending(vp);            /* a vector unmasked */
}

/* Config-space writes: enabling MSI-X or clearing its function mask sends what is pending. */
static void pci_config_written(struct pci_device *dev, unsigned offset, uint32_t value, unsigned size)
{
    struct virtio_pci *vp = dev->opaque;
    (void)value;
    if (vp->msix_vectors && offset <= MSIX_CTRL_HI && offset + size > MSIX_CTRL_HI - 1) {
        msix_deliver_pending(vp);
        update_irq(vp);
    }
    if (offset < 6 && offset + size > 4)
        msix_deliver_pending(vp);            /* bus mastering turned on */
}

/* ---- saved state ---- */

static const struct vmstate_field virtq_fields[] = {
    VMF(struct virtq, size), VMF(struct virtq, enabled), VMF(struct virtq, desc), VMF(struct virtq, avail),
    VMF(struct virtq, used), VMF(struct virtq, last_avail), VMF(struct virtq, used_idx), VMF_END_OF_LIST,
};
static const struct vmstate_desc virtq_vmstate = { .name = "virtqueue", .version = 1, .fields = virtq_fields };

static const struct vmstate_field virtio_pci_fields[] = {
    VMF_STRUCT(struct virtio_pci, pci, pci_device_vmstate),
    VMF(struct virtio_pci, guest_features), VMF(struct virtio_pci, dfselect), VMF(struct virtio_pci, gfselect),
    VMF(struct virtio_pci, status), VMF(struct virtio_pci, isr), VMF(struct virtio_pci, config_generation),
    VMF(struct virtio_pci, queue_sel), VMF_STRUCT_ARRAY(struct virtio_pci, vq, virtq_vmstate),
    VMF(struct virtio_pci, config_vector), VMF_ARRAY(struct virtio_pci, queue_vector),
    VMF_ARRAY(struct virtio_pci, msix_table), VMF(struct virtio_pci, msix_pending),
    VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_pci_vmstate = { .name = "virtio-pci", .version = 1, .fields = virtio_pci_fields };

int virtio_pci_post_load(struct virtio_pci *vp, char *err, size_t errlen)
{
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        struct virtq *q = &vp->vq[i];
        if (i >= vp->nqueues ? q->size != 0 : (q->size > q->max_size || (q->size & (q->size - 1)))) {
            snprintf(err, errlen, "%s: queue %u has size %u (device offers %u)", vp->name, i, q->size,
                     i < vp->nqueues ? q->max_size : 0);
            return -1;
        }
    }
    if (vp->guest_features & ~vp->host_features) {
        snprintf(err, errlen, "%s: saved features 0x%llx beyond what the device offers", vp->name,
                 (unsigned long long)vp->guest_features);
        return -1;
    }
    sync_ring_features(vp);         /* the next interrupt decision starts afresh (signalled_valid) */
    pci_device_post_load(&vp->pci);
    update_irq(vp);
    return 0;
}

/* ---- PCI setup ---- */

static uint8_t add_cap(struct virtio_pci *vp, uint8_t pos, uint8_t next, uint8_t type, uint32_t off,
                       uint32_t len, bool notify)
{
    uint8_t *c = &vp->pci.config[pos];
    c[0] = PCI_CAP_ID_VNDR;
    c[1] = next;
    c[2] = notify ? 20 : 16;
    c[3] = type;
    c[4] = 4;                    /* BAR 4 */
    pci_set_long(c + 8, off);
    pci_set_long(c + 12, len);
    if (notify)
        pci_set_long(c + 16, VIRTIO_PCI_NOTIFY_MULT);
    return pos;
}

static uint32_t pow2_at_least(uint32_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

int virtio_pci_init(struct virtio_pci *vp, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, const char *name, unsigned type, uint32_t class_code,
                    uint64_t features, unsigned nqueues, uint16_t queue_size, uint8_t *config,
                    unsigned config_len, bool legacy, bool modern, const struct virtio_device_ops *ops,
                    void *opaque)
{
    if ((!legacy && !modern) || nqueues > VIRTIO_MAX_QUEUES || queue_size > VIRTQ_MAX_SIZE ||
        config_len > VIRTIO_PCI_NOTIFY_OFF - VIRTIO_PCI_DEVICE_OFF)
        return -1;
    vp->mem = mem;
    vp->log = log;
    vp->name = name;
    vp->ops = ops;
    vp->opaque = opaque;
    vp->legacy = legacy;
    vp->modern = modern;
    vp->config = config;
    vp->config_len = config_len;
    vp->nqueues = nqueues;
    vp->host_features = features | VIRTIO_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX |
                        (legacy ? VIRTIO_F_ANY_LAYOUT : 0) | (modern ? VIRTIO_F_VERSION_1 : 0);
    for (unsigned i = 0; i < nqueues; i++)
        vp->vq[i].max_size = queue_size;
    /* Transitional devices keep the 0x1000 IDs (revision 0); modern-only ones use 0x1040 + type. */
    static const uint16_t legacy_ids[] = { [VIRTIO_ID_NET] = 0x1000, [VIRTIO_ID_BLOCK] = 0x1001,
                                           [VIRTIO_ID_CONSOLE] = 0x1003,
                                           [VIRTIO_ID_RNG] = 0x1005, [VIRTIO_ID_9P] = 0x1009 };
    uint16_t pci_id = legacy ? legacy_ids[type] : (uint16_t)(0x1040 + type);
    if (pci_register_device(bus, &vp->pci, devfn, name, VIRTIO_PCI_VENDOR, pci_id, legacy ? 0 : 1,
                            class_code, 0, 1) < 0)
        return -1;
    vp->pci.opaque = vp;
    pci_set_word(&vp->pci.config[PCI_SUBSYS_VENDOR], VIRTIO_PCI_VENDOR);
    pci_set_word(&vp->pci.config[PCI_SUBSYS_ID], (uint16_t)type);
    if (legacy) {
        struct pci_bar b = { .size = pow2_at_least(VIRTIO_PCI_LEGACY_CONFIG_MSIX + config_len), .is_io = true,
                             .opaque = vp, .io_read = virtio_pci_legacy_read,
                             .io_write = virtio_pci_legacy_write, .io_sizes = IO_SIZE_ALL };
        pci_register_bar(&vp->pci, 0, &b);
    }
    if (modern) {
        struct pci_bar b = { .size = VIRTIO_PCI_MODERN_BAR_SIZE, .opaque = vp,
                             .mmio_read = virtio_pci_modern_read, .mmio_write = virtio_pci_modern_write };
        pci_register_bar(&vp->pci, 4, &b);
        /* Capability list: common -> isr -> notify -> device. */
        add_cap(vp, 0x40, 0x50, CAP_COMMON, VIRTIO_PCI_COMMON_OFF, 0x38, false);
        add_cap(vp, 0x50, 0x60, CAP_ISR, VIRTIO_PCI_ISR_OFF, 1, false);
        add_cap(vp, 0x60, config_len ? 0x78 : 0, CAP_NOTIFY, VIRTIO_PCI_NOTIFY_OFF,
                VIRTIO_PCI_NOTIFY_MULT * nqueues, true);
        if (config_len)
            add_cap(vp, 0x78, 0, CAP_DEVICE, VIRTIO_PCI_DEVICE_OFF, config_len, false);
        vp->pci.config[PCI_CAP_PTR] = 0x40;
        pci_set_word(&vp->pci.config[PCI_STATUS], pci_get_word(&vp->pci.config[PCI_STATUS]) | 0x10);
    }
    if (bus->msi_send && nqueues + 1 <= VIRTIO_MSIX_MAX) {
        /* MSI-X: one vector for config changes and one per queue, as QEMU's default. */
        vp->msix_vectors = (uint16_t)(nqueues + 1);
        for (unsigned v = 0; v < vp->msix_vectors; v++)
            vp->msix_table[16 * v + 12] = 1;   /* masked until the driver programs it */
        struct pci_bar b = { .size = VIRTIO_MSIX_BAR_SIZE, .opaque = vp, .mmio_read = virtio_pci_msix_read,
                             .mmio_write = virtio_pci_msix_write };
        pci_register_bar(&vp->pci, 1, &b);
        uint8_t *c = &vp->pci.config[VIRTIO_MSIX_CAP];
        c[0] = PCI_CAP_ID_MSIX;
        c[1] = 0;
        pci_set_word(c + 2, (uint16_t)(vp->msix_vectors - 1));
        pci_set_long(c + 4, 1);                                /* table at 0 in BAR 1 */
        pci_set_long(c + 8, VIRTIO_MSIX_PBA_OFF | 1);          /* pending bits in BAR 1 */
        vp->pci.wmask[MSIX_CTRL_HI] = 0xc0;
        if (modern)
            vp->pci.config[config_len ? 0x79 : 0x61] = VIRTIO_MSIX_CAP;   /* after the last vendor cap */
        else
            vp->pci.config[PCI_CAP_PTR] = VIRTIO_MSIX_CAP;
        pci_set_word(&vp->pci.config[PCI_STATUS], pci_get_word(&vp->pci.config[PCI_STATUS]) | 0x10);
        vp->pci.config_write = pci_config_written;
    }
    virtio_pci_reset(vp);
    return 0;
}

int virtio_pci_set_msix_vectors(struct virtio_pci *vp, unsigned n)
{
    if (n > VIRTIO_MSIX_MAX)
        return -1;
    if (!vp->msix_vectors)
        return 0;                            /* the bus delivers no messages: INTx anyway */
    if (n) {
        vp->msix_vectors = (uint16_t)n;
        pci_set_word(&vp->pci.config[VIRTIO_MSIX_CAP + 2], (uint16_t)(n - 1));
        return 0;
    }
    /* No MSI-X at all: drop the capability from the list and BAR 1 (never mapped yet). */
    vp->msix_vectors = 0;
    memset(&vp->pci.config[VIRTIO_MSIX_CAP], 0, 12);
    vp->pci.wmask[MSIX_CTRL_HI] = 0;
    memset(&vp->pci.bars[1], 0, sizeof(vp->pci.bars[1]));
    vp->pci.bars[1].handle = -1;
    pci_set_long(&vp->pci.config[0x14], 0);                 /* BAR 1 */
    pci_set_long(&vp->pci.wmask[0x14], 0);
    if (vp->modern) {
        vp->pci.config[vp->config_len ? 0x79 : 0x61] = 0;
    } else {
        vp->pci.config[PCI_CAP_PTR] = 0;
        pci_set_word(&vp->pci.config[PCI_STATUS], pci_get_word(&vp->pci.config[PCI_STATUS]) & ~0x10);
    }
    vp->config_vector = VIRTIO_MSIX_NO_VECTOR;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        vp->queue_vector[i] = VIRTIO_MSIX_NO_VECTOR;
    return 0;
}

/* Virtio over PCI, transitional: the legacy interface in I/O BAR 0 and the virtio 1.0 interface
 * (vendor capabilities pointing into memory BAR 4: common, ISR, device and notify areas), either
 * of which can be turned off (QEMU's disable-legacy=/disable-modern=). Interrupts: MSI-X (a
 * vector for the config and one per queue; table and pending bits in memory BAR 1) when the
 * bus can deliver messages and the driver enables it, INTx otherwise. A device model embeds struct virtio_pci and supplies its queues, feature bits,
 * config space and a notify callback; the transport owns status, features and NEEDS_RESET. */
#ifndef PCVM_HW_VIRTIO_PCI_H
#define PCVM_HW_VIRTIO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/pci.h"
#include "hw/virtqueue.h"
#include "util/log.h"

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_PCI_VENDOR 0x1af4

/* Device status bits. */
enum {
    VIRTIO_STATUS_ACKNOWLEDGE = 1, VIRTIO_STATUS_DRIVER = 2, VIRTIO_STATUS_DRIVER_OK = 4,
    VIRTIO_STATUS_FEATURES_OK = 8, VIRTIO_STATUS_NEEDS_RESET = 64, VIRTIO_STATUS_FAILED = 128,
};
/* Transport feature bits. */
#define VIRTIO_F_NOTIFY_ON_EMPTY (1ull << 24)
#define VIRTIO_F_ANY_LAYOUT      (1ull << 27)
#define VIRTIO_F_INDIRECT_DESC   (1ull << 28)
#define VIRTIO_F_VERSION_1       (1ull << 32)

/* Device types (virtio 1.x section 5). */
enum { VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2, VIRTIO_ID_CONSOLE = 3, VIRTIO_ID_RNG = 4, VIRTIO_ID_9P = 9 };

/* Modern BAR 4 layout. */
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF    0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MODERN_BAR_SIZE 0x4000
#define VIRTIO_PCI_LEGACY_CONFIG 0x14  /* device config in the legacy I/O BAR (no MSI-X) */
#define VIRTIO_PCI_LEGACY_CONFIG_MSIX 0x18  /* ... while MSI-X is enabled */
#define VIRTIO_MSIX_NO_VECTOR 0xffff
#define VIRTIO_MSIX_MAX (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_MSIX_CAP 0x88           /* config-space offset of the MSI-X capability */
#define VIRTIO_MSIX_BAR_SIZE 0x1000    /* BAR 1: table at 0, pending bits at 0x800 */
#define VIRTIO_MSIX_PBA_OFF 0x800

struct virtio_pci;

/* What the device model supplies. */
struct virtio_device_ops {
    /* The driver notified queue n (DRIVER_OK is set). */
    void (*notify)(struct virtio_pci *vp, unsigned n);
    /* Device reset (status 0 written, or PCI reset): drop in-flight work. */
    void (*reset)(struct virtio_pci *vp);
    /* The driver wrote config bytes [off, off+size) (already stored in config[]); may be NULL. */
    void (*config_written)(struct virtio_pci *vp, unsigned off, unsigned size);
};

struct virtio_pci {
    struct pci_device pci;
    struct phys_mem *mem;
    struct pcvm_log *log;
    const char *name;               /* "virtio-blk" ... for log lines */
    const struct virtio_device_ops *ops;
    void *opaque;                   /* the device model */
    bool legacy, modern;            /* interfaces offered */

    uint64_t host_features;         /* transport + device bits offered */
    uint64_t guest_features;
    uint32_t dfselect, gfselect;    /* modern feature window selectors */
    uint8_t status;
    uint8_t isr;                    /* bit 0: used buffers, bit 1: config change */
    uint8_t config_generation;
    uint16_t queue_sel;
    unsigned nqueues;
    struct virtq vq[VIRTIO_MAX_QUEUES];

    /* MSI-X (msix_vectors == 0: not offered) */
    uint16_t msix_vectors;
    uint16_t config_vector;         /* VIRTIO_MSIX_NO_VECTOR or a table index */
    uint16_t queue_vector[VIRTIO_MAX_QUEUES];
    uint8_t msix_table[VIRTIO_MSIX_MAX * 16];  /* address lo, hi, data, vector control */
    uint32_t msix_pending;          /* bit per vector: raised while masked */

    uint8_t *config;                /* device config space (little-endian), owned by the model */
    unsigned config_len;
    uint64_t broken_count;          /* times the guest broke the rules (tests) */
};

/* Register the PCI function at devfn: type is VIRTIO_ID_*, class the PCI class code, features the
 * device bits; queues get queue_size entries each. legacy/modern choose the interfaces (at least one).
 * Returns 0 or -1. */
int virtio_pci_init(struct virtio_pci *vp, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, const char *name, unsigned type, uint32_t class_code,
                    uint64_t features, unsigned nqueues, uint16_t queue_size, uint8_t *config,
                    unsigned config_len, bool legacy, bool modern, const struct virtio_device_ops *ops,
                    void *opaque);
/* QEMU's vectors=: offer n MSI-X vectors (at most VIRTIO_MSIX_MAX; 0: no MSI-X capability,
 * INTx only) instead of one per queue plus config. Call before the machine starts; 0 or -1. */
int virtio_pci_set_msix_vectors(struct virtio_pci *vp, unsigned n);
/* Device reset: status, features, queues, ISR; calls ops->reset. */
void virtio_pci_reset(struct virtio_pci *vp);
/* True when the driver negotiated feature bit f (a VIRTIO_F_* or device mask). */
static inline bool virtio_has_feature(const struct virtio_pci *vp, uint64_t f) { return (vp->guest_features & f) != 0; }
/* True while the device may process queues (DRIVER_OK and not NEEDS_RESET). */
bool virtio_pci_running(const struct virtio_pci *vp);
/* Pop from queue n; on a guest error logs it, marks the device NEEDS_RESET and returns -1. */
int virtio_pci_pop(struct virtio_pci *vp, unsigned n, struct virtq_elem *e);
/* Complete head on queue n with len bytes written (no interrupt yet). */
void virtio_pci_push(struct virtio_pci *vp, unsigned n, uint16_t head, uint32_t len);
/* Raise the queue interrupt for queue n unless the driver suppressed it. */
void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned n);
/* The device changed its config space: new generation and a config-change interrupt. */
void virtio_pci_config_changed(struct virtio_pci *vp);
/* The guest broke the rules: guest_errors line, NEEDS_RESET, config-change interrupt. */
void virtio_pci_set_broken(struct virtio_pci *vp, const char *why);
/* Saved state of the transport (PCI config, status, features, queues, MSI-X); a device's own
 * description embeds it and calls virtio_pci_post_load from its post_load. */
extern const struct vmstate_desc virtio_pci_vmstate;
/* Rebuild host-side state after loading (BAR mappings, the interrupt line); 0 or -1 with err. */
int virtio_pci_post_load(struct virtio_pci *vp, char *err, size_t errlen);
/* Register access (also used by tests and the fuzz target). */
uint32_t virtio_pci_legacy_read(void *opaque, uint16_t port, unsigned size);
void virtio_pci_legacy_write(void *opaque, uint16_t port, uint32_t value, unsigned size);
uint32_t virtio_pci_modern_read(void *opaque, uint32_t offset, unsigned size);
void virtio_pci_modern_write(void *opaque, uint32_t offset, uint32_t value, unsigned size);
uint32_t virtio_pci_msix_read(void *opaque, uint32_t offset, unsigned size);
void virtio_pci_msix_write(void *opaque, uint32_t offset, uint32_t value, unsigned size);

#endif

/* virtio-net (virtio 1.x section 5.1) over the virtio-PCI transport: one receive and one
 * transmit queue, the MAC and link status in config space, mergeable receive buffers,
 * checksum offload and TSO from the driver, and a control queue for the receive filter
 * (promiscuous/all-multicast and the other rx modes, the unicast and multicast MAC table, the
 * MAC address). The back ends get plain Ethernet frames: partial
 * checksums are completed and TCP/UDP super-frames cut into MTU-sized segments here. */
#ifndef PCVM_HW_VIRTIO_NET_H
#define PCVM_HW_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/virtio_pci.h"
#include "net/net.h"

#define VIRTIO_NET_CONFIG_LEN 10       /* mac[6], status, max_virtqueue_pairs */
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_HDR_MAX 12          /* with num_buffers */
#define VIRTIO_NET_TX_MAX (NET_MAX_FRAME + VIRTIO_NET_HDR_MAX)
#define VIRTIO_NET_RX_MAX_BUFS 64      /* buffers one received frame may be spread over */

/* Device feature bits. */
#define VIRTIO_NET_F_CSUM       (1ull << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ull << 1)
#define VIRTIO_NET_F_MAC        (1ull << 5)
#define VIRTIO_NET_F_HOST_TSO4  (1ull << 11)
#define VIRTIO_NET_F_HOST_TSO6  (1ull << 12)
#define VIRTIO_NET_F_HOST_ECN   (1ull << 13)
#define VIRTIO_NET_F_MRG_RXBUF  (1ull << 15)
#define VIRTIO_NET_F_STATUS     (1ull << 16)
#define VIRTIO_NET_F_CTRL_VQ    (1ull << 17)
#define VIRTIO_NET_F_CTRL_RX    (1ull << 18)
#define VIRTIO_NET_F_CTRL_MAC_ADDR (1ull << 23)
#define VIRTIO_NET_MAC_TABLE 64        /* unicast + multicast filter entries, as QEMU */
#define VIRTIO_NET_CTRL_MAX 1024       /* longest control command taken (a full MAC table is 398 bytes) */

struct virtio_net {
    struct virtio_pci vp;
    struct net_port port;
    uint8_t mac[6];
    uint8_t config[VIRTIO_NET_CONFIG_LEN];
    struct virtq_elem *rx;         /* VIRTIO_NET_RX_MAX_BUFS chains for one frame */
    struct virtq_elem *tx;         /* the chain being sent */
    uint8_t *txbuf;                /* its bytes, header first */
    uint8_t *segbuf;               /* one segment of a TSO frame */
    bool in_tx;                    /* net_port_send may deliver back into us: no re-entry */
    uint64_t tx_frames, rx_frames, tso_segments, rx_dropped, rx_filtered;
    /* The receive filter the driver sets through the control queue (after a reset: every
     * frame, as QEMU's promiscuous default). */
    struct virtq_elem *ctrl;
    uint8_t *ctrlbuf;              /* VIRTIO_NET_CTRL_MAX bytes */
    uint8_t perm_mac[6];           /* the MAC a reset restores */
    bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
    bool uni_overflow, multi_overflow;     /* more entries than the table holds: take all */
    uint32_t uni_count, multi_count;       /* unicast entries first, then multicast */
    uint8_t mac_table[VIRTIO_NET_MAC_TABLE][6];
};

/* Register the card at devfn with this MAC; id names its port (info network, set_link).
 * Returns 0 or -1. */
int virtio_net_init(struct virtio_net *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, const uint8_t mac[6], const char *id, bool legacy, bool modern);
/* Saved state: the transport, the MAC and config space (queued frames are host state). */
extern const struct vmstate_desc virtio_net_vmstate;
/* Device reset (the device model's reset hook; opaque is the struct virtio_net). */
void virtio_net_reset(void *opaque);
/* Link status from both ends of the port (after linking it to a back end). */
void virtio_net_update_link(struct virtio_net *s);
/* Free buffers and drop queued frames. */
void virtio_net_destroy(struct virtio_net *s);
/* Turn one frame the driver gave (virtio_net_hdr then Ethernet) into frames for the back end:
 * emit(ctx, frame, len) is called for each; returns the number emitted, or -1 with why set when
 * the header is malformed. seg is scratch space of NET_MAX_FRAME bytes. (Also for unit tests.) */
int virtio_net_tx_frame(uint8_t *pkt, size_t len, size_t hdr_len, uint8_t *seg,
                        void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx,
                        char *why, size_t whylen);

#endif

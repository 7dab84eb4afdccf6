/* Split virtqueues (virtio 1.x section 2.7, also the legacy layout): the device side pops
 * descriptor chains (direct and indirect) from the available ring and pushes used elements.
 * Every guest access goes through range checks against guest RAM; a chain that loops, leaves
 * RAM, nests indirect tables or puts readable after writable buffers makes virtq_pop fail with
 * a one-line reason, and the transport marks the device NEEDS_RESET. */
#ifndef PCVM_HW_VIRTQUEUE_H
#define PCVM_HW_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/memory.h"

#define VIRTQ_MAX_SIZE 1024     /* largest queue size a device offers */
#define VIRTQ_MAX_SEGS 1024     /* most buffers in one chain (direct + indirect) */

/* Descriptor flags. */
enum { VIRTQ_DESC_F_NEXT = 1, VIRTQ_DESC_F_WRITE = 2, VIRTQ_DESC_F_INDIRECT = 4 };
/* Available ring flag: the driver does not want interrupts. */
enum { VIRTQ_AVAIL_F_NO_INTERRUPT = 1 };
/* VIRTIO_RING_F_EVENT_IDX (virtio 1.x 2.7.7/2.7.10): the driver names the used index it wants an
 * interrupt at (used_event, after the available ring) and the device the available index it
 * wants a notification at (avail_event, after the used ring), instead of the on/off flags. */
#define VIRTIO_RING_F_EVENT_IDX (1ull << 29)

struct virtq {
    uint16_t size;              /* entries (power of two), 0 = not configured */
    uint16_t max_size;          /* what the device offers */
    bool enabled;               /* modern queue_enable, or a legacy PFN written */
    uint64_t desc, avail, used; /* guest physical addresses of the three parts */
    uint16_t last_avail;        /* next available ring entry to pop */
    uint16_t used_idx;          /* next used ring entry to fill */
    bool event_idx;             /* VIRTIO_RING_F_EVENT_IDX negotiated (set by the transport) */
    bool signalled_valid;       /* signalled_used holds the used index of the last interrupt */
    uint16_t signalled_used;
};

/* One guest buffer of a chain. */
struct virtq_seg {
    uint32_t addr;
    uint32_t len;
};

/* A popped chain: n_out device-readable buffers then n_in device-writable ones. */
struct virtq_elem {
    uint16_t head;
    unsigned n_out, n_in;
    uint64_t out_len, in_len;   /* total bytes of each kind */
    struct virtq_seg seg[VIRTQ_MAX_SEGS]; /* out buffers first, then in buffers */
};

/* Forget ring addresses and indices (device reset). */
void virtq_reset(struct virtq *q);
/* Legacy layout from a page frame number: desc at pfn*4096, avail after it, used page-aligned. */
void virtq_set_legacy_pfn(struct virtq *q, uint32_t pfn);
/* Pop the next chain into e: 1 got one, 0 ring empty, -1 the guest broke the rules (why says how).
 * With event_idx, finding the ring empty asks for a notification at the next chain (avail_event). */
int virtq_pop(struct virtq *q, struct phys_mem *pm, struct virtq_elem *e, char *why, size_t whylen);
/* True when the available ring holds at least one chain not popped yet (false when the rings
 * are not set up or lie outside RAM: virtq_pop reports that). With event_idx, false also asks
 * for a notification at the next chain. */
bool virtq_has_avail(struct virtq *q, struct phys_mem *pm);
/* Give back the last n popped chains (none of them pushed yet): the next pops return them again. */
void virtq_unpop(struct virtq *q, uint16_t n);
/* Put head back on the used ring with len bytes written; 0 or -1 (ring outside RAM, why set). */
int virtq_push(struct virtq *q, struct phys_mem *pm, uint16_t head, uint32_t len, char *why, size_t whylen);
/* Does the driver want an interrupt for what was pushed since the last one? Without event_idx:
 * unless it set VIRTQ_AVAIL_F_NO_INTERRUPT; with it: when used_event lies among the entries
 * pushed since the last interrupt (which this call records as signalled). */
bool virtq_wants_interrupt(struct virtq *q, struct phys_mem *pm);
/* Copy up to len bytes at offset off of the chain's readable buffers into buf; returns bytes copied. */
size_t virtq_elem_read(struct phys_mem *pm, const struct virtq_elem *e, uint64_t off, void *buf, size_t len);
/* Copy up to len bytes from buf into the chain's writable buffers at offset off; returns bytes copied. */
size_t virtq_elem_write(struct phys_mem *pm, const struct virtq_elem *e, uint64_t off, const void *buf, size_t len);

#endif

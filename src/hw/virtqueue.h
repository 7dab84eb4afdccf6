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

struct virtq {
    uint16_t size;              /* entries (power of two), 0 = not configured */
    uint16_t max_size;          /* what the device offers */
    bool enabled;               /* modern queue_enable, or a legacy PFN written */
    uint64_t desc, avail, used; /* guest physical addresses of the three parts */
    uint16_t last_avail;        /* next available ring entry to pop */
    uint16_t used_idx;          /* next used ring entry to fill */
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
/* Pop the next chain into e: 1 got one, 0 ring empty, -1 the guest broke the rules (why says how). */
int virtq_pop(struct virtq *q, struct phys_mem *pm, struct virtq_elem *e, char *why, size_t whylen);
/* True when the available ring holds at least one chain not popped yet (false when the rings
 * are not set up or lie outside RAM: virtq_pop reports that). */
bool virtq_has_avail(const struct virtq *q, struct phys_mem *pm);
/* Give back the last n popped chains (none of them pushed yet): the next pops return them again. */
void virtq_unpop(struct virtq *q, uint16_t n);
/* Put head back on the used ring with len bytes written; 0 or -1 (ring outside RAM, why set). */
int virtq_push(struct virtq *q, struct phys_mem *pm, uint16_t head, uint32_t len, char *why, size_t whylen);
/* True unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT. */
bool virtq_wants_interrupt(const struct virtq *q, struct phys_mem *pm);
/* Copy up to len bytes at offset off of the chain's readable buffers into buf; returns bytes copied. */
size_t virtq_elem_read(struct phys_mem *pm, const struct virtq_elem *e, uint64_t off, void *buf, size_t len);
/* Copy up to len bytes from buf into the chain's writable buffers at offset off; returns bytes copied. */
size_t virtq_elem_write(struct phys_mem *pm, const struct virtq_elem *e, uint64_t off, const void *buf, size_t len);

#endif

/* The network layer: a card (front end) and a back end (user networking, tap, socket) are the
 * two ends of a link, each a struct net_port.  A port sends frames to its peer through
 * net_port_send(); frames the peer cannot take now (its receive ring is full) wait in a
 * bounded queue until the peer calls net_port_flush().  Packet capture (filter-dump) taps the
 * back end's port and sees both directions. */
#ifndef PCVM_NET_NET_H
#define PCVM_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_FRAME 65536        /* largest frame a port accepts (jumbo + slack) */
#define NET_QUEUE_MAX 512          /* frames waiting for a peer that cannot receive */

struct net_port;
struct net_dump;

struct net_port_ops {
    /* True when receive() would take a frame now. NULL: always. */
    bool (*can_receive)(void *opaque);
    /* Take one frame (the port owns nothing after returning). False: no room for it now, keep
     * it queued until the port calls net_port_flush(); a frame the port filters out is taken. */
    bool (*receive)(void *opaque, const uint8_t *buf, size_t len);
    /* The link went up or down (set_link); NULL when the port does not care. */
    void (*link_changed)(void *opaque, bool up);
};

struct net_frame {
    struct net_frame *next;
    size_t len;
    uint8_t data[];
};

struct net_port {
    char name[64];                 /* what info network shows: the id the user gave */
    char kind[32];                 /* "e1000", "user", "tap", "socket" */
    char info[160];                /* one line of details for info network */
    const struct net_port_ops *ops;
    void *opaque;
    struct net_port *peer;
    bool link_down;                /* set_link NAME off */
    struct net_frame *queue_head, *queue_tail;   /* frames for this port, waiting */
    unsigned queue_len;
    struct net_dump *dumps[2];     /* filter-dump objects attached (back ends only) */
    uint64_t tx_frames, rx_frames, dropped;
};

/* Prepare a port with its callbacks (not yet linked). */
void net_port_init(struct net_port *p, const char *name, const char *kind,
                   const struct net_port_ops *ops, void *opaque);
/* Join two ports as peers. */
void net_port_link(struct net_port *a, struct net_port *b);
/* Send a frame from p to its peer: delivered now, or queued while the peer cannot receive.
 * Frames are dropped when either link is down, the queue is full, or len is 0 or too big. */
void net_port_send(struct net_port *p, const uint8_t *buf, size_t len);
/* p can receive again: deliver the frames queued for it, in order, while it can. */
void net_port_flush(struct net_port *p);
/* Free the frames queued for p and unlink it. */
void net_port_cleanup(struct net_port *p);
/* True when the wire p is on is up: neither p nor its peer has its link set down. */
bool net_port_link_up(const struct net_port *p);
/* set_link: change p's link state (and its peer's view of it); tells both ports. */
void net_port_set_link(struct net_port *p, bool up);

/* ---- packet capture (-object filter-dump) ---- */

/* Open a pcap file capturing at most maxlen bytes per frame; NULL with err on failure. */
struct net_dump *net_dump_open(const char *path, unsigned maxlen, char *err, size_t errlen);
/* Append one frame with the current host time. */
void net_dump_frame(struct net_dump *d, const uint8_t *buf, size_t len);
/* Flush and close. */
void net_dump_close(struct net_dump *d);

/* ---- helpers shared by the cards ---- */

/* The Internet checksum (ones' complement sum, not inverted) of len bytes added to sum. */
uint32_t net_csum_add(uint32_t sum, const uint8_t *buf, size_t len);
/* Fold a 32-bit sum into 16 bits and invert it: the value to store in a header. */
uint16_t net_csum_finish(uint32_t sum);
/* The MAC QEMU would give the n-th card without mac= (52:54:00:12:34:56 + n). */
void net_default_mac(unsigned n, uint8_t mac[6]);

#endif

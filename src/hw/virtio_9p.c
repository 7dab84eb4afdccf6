/* virtio-9p device model (see virtio_9p.h). */
#include "hw/virtio_9p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void p9_notify(struct virtio_pci *vp, unsigned n)
{
    struct virtio_9p *s = vp->opaque;
    if (n != 0)
        return;
    bool done = false;
    while (virtio_pci_pop(vp, 0, s->elem) > 0) {
        struct virtq_elem *e = s->elem;
        size_t len = e->out_len < P9_MAX_MSIZE ? (size_t)e->out_len : P9_MAX_MSIZE;
        virtq_elem_read(vp->mem, e, 0, s->req, len);
        size_t cap = e->in_len < P9_MAX_MSIZE ? (size_t)e->in_len : P9_MAX_MSIZE;
        size_t rlen = p9_handle(&s->server, s->req, len, s->reply, cap);
        if (!rlen) {
            virtio_pci_set_broken(vp, "malformed 9P request (no header, or a size beyond its buffers)");
            return;
        }
        virtq_elem_write(vp->mem, e, 0, s->reply, rlen);
        virtio_pci_push(vp, 0, e->head, (uint32_t)rlen);
        done = true;
    }
    if (done)
        virtio_pci_notify_queue(vp, 0);
}

static void p9_reset(struct virtio_pci *vp)
{
    struct virtio_9p *s = vp->opaque;
    p9_server_reset(&s->server);
}

static const struct virtio_device_ops p9_ops = { .notify = p9_notify, .reset = p9_reset };

int virtio_9p_init(struct virtio_9p *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                   struct pcvm_log *log, const char *path, const char *mount_tag, enum p9_security security,
                   bool readonly, bool legacy, bool modern, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->server.root_fd = -1;
    size_t tl = strlen(mount_tag);
    if (tl == 0 || tl > VIRTIO_9P_TAG_MAX) {
        snprintf(err, errlen, "mount_tag must have 1 to %d characters", VIRTIO_9P_TAG_MAX);
        return -1;
    }
    if (p9_server_init(&s->server, path, security, readonly, err, errlen) < 0)
        return -1;
    s->config[0] = (uint8_t)tl;
    s->config[1] = (uint8_t)(tl >> 8);
    memcpy(s->config + 2, mount_tag, tl);
    s->elem = calloc(1, sizeof(*s->elem));
    s->req = malloc(P9_MAX_MSIZE);
    s->reply = malloc(P9_MAX_MSIZE);
    if (!s->elem || !s->req || !s->reply) {
        virtio_9p_destroy(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (virtio_pci_init(&s->vp, bus, devfn, mem, log, "virtio-9p", VIRTIO_ID_9P, 0x000200,
                        VIRTIO_9P_F_MOUNT_TAG, 1, VIRTIO_9P_QUEUE_SIZE, s->config, (unsigned)(2 + tl), legacy,
                        modern, &p9_ops, s) < 0) {
        virtio_9p_destroy(s);
        snprintf(err, errlen, "cannot register the PCI function");
        return -1;
    }
    return 0;
}

void virtio_9p_reset(void *opaque)
{
    struct virtio_9p *s = opaque;
    virtio_pci_reset(&s->vp);
}

const char *virtio_9p_snapshot_blocker(void *opaque)
{
    struct virtio_9p *s = opaque;
    if (!s->server.fid_count)
        return NULL;
    snprintf(s->blocker, sizeof(s->blocker), "the guest has mounted the 9p export with mount_tag '%.*s' "
             "(unmount it first)", (int)s->config[0], (const char *)s->config + 2);
    return s->blocker;
}

/* The server starts afresh: the saved guest had no fids (see the blocker above). */
static int p9_post_load(void *opaque, char *err, size_t errlen)
{
    struct virtio_9p *s = opaque;
    p9_server_reset(&s->server);
    return virtio_pci_post_load(&s->vp, err, errlen);
}

static const struct vmstate_field virtio_9p_fields[] = {
    VMF_STRUCT(struct virtio_9p, vp, virtio_pci_vmstate), VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_9p_vmstate = { .name = "virtio-9p", .version = 1, .fields = virtio_9p_fields,
                                                .post_load = p9_post_load };

void virtio_9p_destroy(struct virtio_9p *s)
{
    p9_server_destroy(&s->server);
    free(s->elem);
    free(s->req);
    free(s->reply);
    s->elem = NULL;
    s->req = s->reply = NULL;
}

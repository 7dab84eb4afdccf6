/* virtio-rng device model (see virtio_rng.h). */
#include "hw/virtio_rng.h"

#include <errno.h>
#include <sys/random.h>

#define RNG_CHUNK 4096u
#define RNG_MAX_PER_REQUEST (64u << 10)  /* a driver asking for more gets this much */

static void rng_notify(struct virtio_pci *vp, unsigned n)
{
    struct virtio_rng *s = vp->opaque;
    if (n != 0)
        return;
    while (virtio_pci_pop(vp, 0, &s->elem) > 0) {
        uint64_t want = s->elem.in_len < RNG_MAX_PER_REQUEST ? s->elem.in_len : RNG_MAX_PER_REQUEST;
        uint32_t done = 0;
        uint8_t buf[RNG_CHUNK];
        while (done < want) {
            size_t k = want - done < RNG_CHUNK ? (size_t)(want - done) : RNG_CHUNK;
            ssize_t got = getrandom(buf, k, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            virtq_elem_write(vp->mem, &s->elem, done, buf, (size_t)got);
            done += (uint32_t)got;
        }
        s->bytes_given += done;
        virtio_pci_push(vp, 0, s->elem.head, done);
        virtio_pci_notify_queue(vp, 0);
    }
}

static const struct virtio_device_ops rng_ops = { .notify = rng_notify };

int virtio_rng_init(struct virtio_rng *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, bool legacy, bool modern)
{
    return virtio_pci_init(&s->vp, bus, devfn, mem, log, "virtio-rng", VIRTIO_ID_RNG, 0x00ff00, 0, 1, 256,
                           NULL, 0, legacy, modern, &rng_ops, s);
}

void virtio_rng_reset(void *opaque)
{
    struct virtio_rng *s = opaque;
    virtio_pci_reset(&s->vp);
}

static int rng_post_load(void *opaque, char *err, size_t errlen)
{
    struct virtio_rng *s = opaque;
    return virtio_pci_post_load(&s->vp, err, errlen);
}

static const struct vmstate_field virtio_rng_fields[] = {
    VMF_STRUCT(struct virtio_rng, vp, virtio_pci_vmstate), VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_rng_vmstate = { .name = "virtio-rng", .version = 1, .fields = virtio_rng_fields,
                                                 .post_load = rng_post_load };

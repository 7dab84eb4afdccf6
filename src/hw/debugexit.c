/* isa-debug-exit: lets test kernels end the run with a chosen exit status. */
#include "hw/debugexit.h"

static uint32_t debugexit_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque;
    (void)port;
    (void)size;
    return 0xffffffffu; /* nothing to read: like an empty bus */
}

static void debugexit_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct debugexit *s = opaque;
    (void)port;
    if (size < 4)
        value &= (1u << (8 * size)) - 1;
    if (s->exit_fn)
        s->exit_fn(s->opaque, (int)((value << 1) | 1));
}

void debugexit_init(struct debugexit *s, struct io_bus *io, uint16_t iobase, uint16_t iosize,
                    debugexit_fn exit_fn, void *opaque)
{
    s->iobase = iobase;
    s->iosize = iosize ? iosize : 1;
    s->exit_fn = exit_fn;
    s->opaque = opaque;
    io_register(io, iobase, s->iosize, s, debugexit_read, debugexit_write, IO_SIZE_ALL,
                "isa-debug-exit");
}

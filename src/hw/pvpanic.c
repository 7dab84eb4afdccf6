/* pvpanic: the guest's panic notifier writes here; the board decides what a panic does. */
#include "hw/pvpanic.h"

static uint32_t pvpanic_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque, (void)port, (void)size;
    return PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pvpanic *s = opaque;
    (void)port, (void)size;
    unsigned events = value & (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
    if (events && s->event_fn)
        s->event_fn(s->opaque, events);
}

void pvpanic_init(struct pvpanic *s, struct io_bus *io, uint16_t port, pvpanic_fn event_fn,
                  void *opaque)
{
    s->port = port;
    s->event_fn = event_fn;
    s->opaque = opaque;
    io_register(io, port, 1, s, pvpanic_read, pvpanic_write, IO_SIZE_ALL, "pvpanic");
}

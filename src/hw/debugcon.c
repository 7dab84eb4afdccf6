/* Debug console port: one byte per OUT to a chardev. */
#include "hw/debugcon.h"

static uint32_t debugcon_read(void *opaque, uint16_t port, unsigned size)
{
    struct debugcon *s = opaque;
    (void)port;
    (void)size;
    return s->readback;
}

static void debugcon_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct debugcon *s = opaque;
    (void)port;
    (void)size;
    uint8_t b = (uint8_t)value;
    stamp_tap_byte(&s->stamps, b);
    chardev_write(s->chr, &b, 1);
}

void debugcon_init(struct debugcon *s, struct io_bus *io, uint16_t port, struct chardev *chr)
{
    s->port = port;
    s->readback = DEBUGCON_READBACK;
    s->chr = chr;
    s->stamps = (struct stamp_tap){ 0 };
    io_register(io, port, 1, s, debugcon_read, debugcon_write, IO_SIZE_1, "debugcon");
}

/* ---- saved state ---- */

static const struct vmstate_field debugcon_fields[] = { VMF(struct debugcon, readback), VMF_END_OF_LIST };
const struct vmstate_desc debugcon_vmstate = { .name = "isa-debugcon", .version = 1, .fields = debugcon_fields };

/* Port 0x92, system control port A (PS/2 and PIIX): fast A20 gate and fast reset. */
#include "hw/port92.h"

static uint32_t port92_read(void *opaque, uint16_t port, unsigned size)
{
    struct port92 *s = opaque;
    (void)port;
    (void)size;
    return s->value;
}

static void port92_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct port92 *s = opaque;
    (void)port;
    (void)size;
    uint8_t old = s->value;
    s->value = (uint8_t)(value & 3);
    if ((old ^ s->value) & 2) {
        if (s->set_a20)
            s->set_a20(s->opaque, (s->value & 2) != 0);
    }
    if (!(old & 1) && (s->value & 1)) {
        if (s->reset)
            s->reset(s->opaque);
    }
}

void port92_reset(struct port92 *s)
{
    s->value = 0; /* the board sets the combined A20 state itself on reset */
}

void port92_init(struct port92 *s, struct io_bus *io, port92_a20_fn set_a20, port92_reset_fn reset,
                 void *opaque)
{
    s->value = 0;
    s->set_a20 = set_a20;
    s->reset = reset;
    s->opaque = opaque;
    io_register(io, 0x92, 1, s, port92_read, port92_write, IO_SIZE_1, "port92");
}

/* ---- saved state ---- */

static const struct vmstate_field port92_fields[] = { VMF(struct port92, value), VMF_END_OF_LIST };
const struct vmstate_desc port92_vmstate = { .name = "port92", .version = 1, .fields = port92_fields };

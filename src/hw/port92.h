/* System control port A (0x92, "fast A20 and reset"): bit 1 drives A20, a 0->1 transition of
 * bit 0 resets the CPUs. The board combines A20 with the keyboard controller's output port. */
#ifndef PCVM_HW_PORT92_H
#define PCVM_HW_PORT92_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "mem/memory.h"

/* Board callbacks: A20 gate from this source; a system reset request. */
typedef void (*port92_a20_fn)(void *opaque, bool enabled);
typedef void (*port92_reset_fn)(void *opaque);

struct port92 {
    uint8_t value; /* bits 1 (A20) and 0 (reset) as last written */

    /* ---- host side (not guest state) ---- */
    port92_a20_fn set_a20;
    port92_reset_fn reset;
    void *opaque;
};

/* Claim port 0x92. */
void port92_init(struct port92 *s, struct io_bus *io, port92_a20_fn set_a20, port92_reset_fn reset,
                 void *opaque);
/* Back to 0 on a system reset (no callback: the board resets its combined A20 state). */
void port92_reset(struct port92 *s);

/* Saved state (device model). */
extern const struct vmstate_desc port92_vmstate;
#endif

/* Bochs/QEMU debug console port (0xE9, or 0x402 for SeaBIOS's log): bytes written go to a
 * chardev; a read returns the readback value 0xE9, which is how software detects the port. */
#ifndef PCVM_HW_DEBUGCON_H
#define PCVM_HW_DEBUGCON_H

#include "hw/devmodel.h"

#include <stdint.h>

#include "chardev/chardev.h"
#include "mem/memory.h"
#include "util/stamps.h"

#define DEBUGCON_READBACK 0xe9

struct debugcon {
    uint16_t port;
    uint8_t readback;

    /* ---- host side (not guest state) ---- */
    struct chardev *chr; /* NULL: output dropped */
    struct stamp_tap stamps; /* -stamps: set by the board (w NULL: off); stamped even if dropped */
};

/* Claim port (one byte) and send what the guest writes there to chr. */
void debugcon_init(struct debugcon *s, struct io_bus *io, uint16_t port, struct chardev *chr);

/* Saved state (device model). */
extern const struct vmstate_desc debugcon_vmstate;
#endif

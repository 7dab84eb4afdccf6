/* isa-debug-exit: a write of value V to its port asks the board to exit pcvm with status
 * (V << 1) | 1, as QEMU's device does (default iobase 0x501, iosize 2). */
#ifndef PCVM_HW_DEBUGEXIT_H
#define PCVM_HW_DEBUGEXIT_H

#include <stdint.h>

#include "mem/memory.h"

/* Board callback: stop the machine and exit the process with status. */
typedef void (*debugexit_fn)(void *opaque, int status);

struct debugexit {
    uint16_t iobase;
    uint16_t iosize;

    /* ---- host side (not guest state) ---- */
    debugexit_fn exit_fn;
    void *opaque;
};

/* Claim [iobase, iobase + iosize) (iosize 1, 2 or 4); writes call exit_fn(opaque, (V<<1)|1). */
void debugexit_init(struct debugexit *s, struct io_bus *io, uint16_t iobase, uint16_t iosize,
                    debugexit_fn exit_fn, void *opaque);

#endif

/* pvpanic (ISA, QEMU's "pvpanic" device, port 0x505): a guest reports that it panicked (bit 0)
 * or loaded a crash kernel (bit 1). Linux finds it through the ACPI device QEMU0001. Reads
 * return the events the device supports. */
#ifndef PCVM_HW_PVPANIC_H
#define PCVM_HW_PVPANIC_H

#include <stdint.h>

#include "mem/memory.h"

#define PVPANIC_DEFAULT_PORT 0x505
#define PVPANIC_PANICKED 1u
#define PVPANIC_CRASH_LOADED 2u

/* Board callback: the guest wrote these event bits (PVPANIC_*). */
typedef void (*pvpanic_fn)(void *opaque, unsigned events);

struct pvpanic {
    uint16_t port;

    /* ---- host side (not guest state) ---- */
    pvpanic_fn event_fn;
    void *opaque;
};

/* Claim one port at port; guest writes of supported bits call event_fn(opaque, bits). */
void pvpanic_init(struct pvpanic *s, struct io_bus *io, uint16_t port, pvpanic_fn event_fn,
                  void *opaque);

#endif

/* libFuzzer target: the e1000 driven by a hostile guest and a hostile network.  The input is a
 * list of operations: MMIO register writes and reads (any offset, any value), 32-bit stores
 * into the first 64 KiB of guest RAM (where descriptor rings and buffers can be built), frames
 * arriving from the back end, and timer runs.  Guest RAM is only 1 MiB, so rings and buffers
 * often point outside it.  ASan/UBSan watch every access; checked on every input: the card
 * never sends a frame longer than NET_MAX_FRAME, and queued frames are freed (LeakSanitizer).
 * Sources: src/hw/e1000.c src/hw/pci.c src/mem/memory.c src/net/net.c src/util/vclock.c
 *          src/util/log.c -lz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/e1000.h"
#include "net/net.h"
#include "nic_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nic_fuzz z;
    static struct e1000 nic;
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    nic_fuzz_begin(&z, false);
    if (e1000_init(&nic, &z.bus, 3 << 3, &z.mem, &z.clock, NULL, mac, "e1000.0") < 0)
        abort();
    nic_fuzz_attach(&z, &nic.pci, &nic.port);

    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        uint8_t op = *p++;
        switch (op % 5) {
        case 0: {
            uint32_t off = nic_fuzz_take(&p, end, 3) & (E1000_MMIO_SIZE - 1);
            uint32_t val = nic_fuzz_take(&p, end, 4);
            e1000_mmio_write(&nic, off & ~3u, val, 4);
            break;
        }
        case 1:
            e1000_mmio_read(&nic, nic_fuzz_take(&p, end, 3) & (E1000_MMIO_SIZE - 1), 1u << (op >> 6 & 2));
            break;
        case 2:
            nic_fuzz_store(&z, &p, end);
            break;
        case 3:
            nic_fuzz_frame_in(&z, op, &p, end, mac);
            break;
        case 4:
            vclock_run_timers(&z.clock);
            break;
        }
    }
    e1000_destroy(&nic);
    nic_fuzz_end(&z);
    return 0;
}

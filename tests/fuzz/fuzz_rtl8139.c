/* libFuzzer target: the RTL8139C+ (or, when the first input byte is odd, the RTL8139C of
 * cplus=off) driven by a hostile guest and a hostile network.  The rest of the input is a list
 * of operations: register writes and reads (any offset, size 1, 2 or 4, any value),
 * 32-bit stores into the first 64 KiB of guest RAM (where the classic ring buffer, the C+
 * descriptor rings and their buffers can be built), frames arriving from the back end, time
 * moving with timer runs, and a save + load of the card's state.  Guest RAM is only 1 MiB,
 * so rings and buffers often point outside it.  ASan/UBSan watch every access; checked on
 * every input: the card never sends a frame longer than NET_MAX_FRAME, saved state always
 * loads back, and queued frames are freed (LeakSanitizer).
 * Sources: src/hw/rtl8139.c src/hw/pci.c src/hw/devmodel.c src/mem/memory.c src/net/net.c
 *          src/util/vclock.c src/util/log.c -lz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/rtl8139.h"
#include "net/net.h"
#include "nic_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nic_fuzz z;
    static struct rtl8139 nic;
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };
    /* the first byte picks the chip: odd, the RTL8139C (cplus=off); even, the C+ */
    bool cplus = !(size && (data[0] & 1));
    nic_fuzz_begin(&z, true);
    if (rtl8139_init(&nic, &z.bus, 4 << 3, &z.mem, &z.clock, NULL, mac, "rtl8139.0", cplus) < 0)
        abort();
    nic_fuzz_attach(&z, &nic.pci, &nic.port);

    const uint8_t *p = data + (size ? 1 : 0), *end = data + size;
    while (p < end) {
        uint8_t op = *p++;
        unsigned sz = 1u << (op >> 6 & 3);
        switch (op % 6) {
        case 0: {
            uint32_t off = nic_fuzz_take(&p, end, 1);
            uint32_t val = nic_fuzz_take(&p, end, 4);
            rtl8139_reg_write(&nic, off, val, sz > 4 ? 4 : sz);
            break;
        }
        case 1:
            rtl8139_reg_read(&nic, nic_fuzz_take(&p, end, 1), sz > 4 ? 4 : sz);
            break;
        case 2:
            nic_fuzz_store(&z, &p, end);
            break;
        case 3:
            nic_fuzz_frame_in(&z, op, &p, end, mac);
            break;
        case 4:
            z.insns += nic_fuzz_take(&p, end, 3) * 64ull;
            vclock_run_timers(&z.clock);
            break;
        case 5: {
            struct vmbuf b = { 0 };
            vmstate_save(&rtl8139_vmstate, &nic, &b);
            struct vmreader r = { b.data, b.len };
            char err[160];
            if (b.failed || vmstate_load(&rtl8139_vmstate, &nic, rtl8139_vmstate.version, &r, err, sizeof(err)) < 0)
                abort();
            vmbuf_free(&b);
            break;
        }
        }
    }
    rtl8139_destroy(&nic);
    nic_fuzz_end(&z);
    return 0;
}

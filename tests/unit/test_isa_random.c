/* Bad guest input never crashes the legacy chips or the VGA: seeded random port and window
 * accesses (run under ASan/UBSan by make check-asan), with time moving and timers firing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/debugcon.h"
#include "hw/debugexit.h"
#include "hw/i8042.h"
#include "hw/pic.h"
#include "hw/pit.h"
#include "hw/port92.h"
#include "hw/rtc.h"
#include "hw/uart.h"
#include "hw/vga.h"

struct board {
    struct io_bus io;
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns;
    struct pci_bus bus;
    struct pic pic;
    struct pit pit;
    struct rtc rtc;
    struct uart uart;
    struct i8042 kbc;
    struct port92 p92;
    struct debugexit dexit;
    struct debugcon dcon;
    struct vga vga;
    int exits, resets;
};

static void on_exit_req(void *opaque, int status) { (void)status; ((struct board *)opaque)->exits++; }
static void on_reset(void *opaque) { ((struct board *)opaque)->resets++; }
static void on_a20(void *opaque, bool en) { (void)opaque; (void)en; }

/* Small deterministic generator so runs repeat exactly. */
static uint32_t next_rand(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

static void random_accesses(void **state)
{
    (void)state;
    struct board *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    io_bus_init(&b->io);
    assert_int_equal(phys_mem_init(&b->mem, 1u << 20, 1u << 20), 0);
    vclock_init(&b->clock, true, 0, &b->insns);
    pci_bus_init(&b->bus, &b->mem, &b->io, NULL, NULL);
    struct irq_line none = { 0 }, l[16];
    for (int i = 0; i < 16; i++)
        irq_connect(&l[i], pic_set_irq, &b->pic, i);
    pic_init(&b->pic, &b->io, none, NULL);
    pit_init(&b->pit, &b->io, &b->clock, l[0], NULL);
    rtc_init(&b->rtc, &b->io, &b->clock, l[8], 1700000000, NULL);
    uart_init(&b->uart, &b->io, 0x3f8, l[4], NULL, &b->clock, NULL);
    i8042_init(&b->kbc, &b->io, l[1], l[12], on_a20, on_reset, b, NULL);
    port92_init(&b->p92, &b->io, on_a20, on_reset, b);
    debugexit_init(&b->dexit, &b->io, 0x501, 2, on_exit_req, b);
    debugcon_init(&b->dcon, &b->io, 0xe9, NULL);
    assert_int_equal(vga_init(&b->vga, &b->io, &b->mem, &b->bus, 2 << 3, &b->clock, NULL), 0);
    static const uint8_t rom[512] = { 0x55, 0xaa, 1 };
    assert_int_equal(vga_set_rom(&b->vga, rom, sizeof(rom)), 0);

    static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43,
                                      0x61, 0x70, 0x71, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd,
                                      0x3fe, 0x3ff, 0x60, 0x64, 0x92, 0xe9, 0x501, 0x3c0, 0x3c1, 0x3c2,
                                      0x3c4, 0x3c5, 0x3c6, 0x3c7, 0x3c8, 0x3c9, 0x3cc, 0x3ce, 0x3cf,
                                      0x3b4, 0x3b5, 0x3ba, 0x3d4, 0x3d5, 0x3da, 0x1ce, 0x1cf, 0xcf8,
                                      0xcfc };
    const unsigned nports = sizeof(ports) / sizeof(ports[0]);
    uint64_t st = 12345;
    char text[8192];
    for (int i = 0; i < 200000; i++) {
        uint32_t r = next_rand(&st);
        uint16_t port = ports[r % nports];
        unsigned size = 1u << ((r >> 8) % 3);
        uint32_t v = next_rand(&st);
        if (port == 0x64 && ((v & 0xff) == 0xfe || (v & 0xf0) == 0xf0))
            v = 0xff; /* reset requests only count; keep going */
        switch ((r >> 12) % 8) {
        case 0:
        case 1:
        case 2:
            io_write(&b->io, port, v, size);
            break;
        case 3:
        case 4:
            (void)io_read(&b->io, port, size);
            break;
        case 5:
            phys_write(&b->mem, 0xa0000 + (v % 0x20000), next_rand(&st), size);
            (void)phys_read(&b->mem, 0xa0000 + (next_rand(&st) % 0x20000), size);
            break;
        case 6:
            b->insns += v % 100000;
            vclock_run_timers(&b->clock);
            if (b->pic.intr_level)
                (void)pic_intr_ack(&b->pic);
            break;
        default:
            if ((v & 0xfff) == 0)
                (void)vga_text_snapshot(&b->vga, text, (v >> 12) % sizeof(text));
            i8042_key_event(&b->kbc, (uint16_t)(v & 0xe07f), v & 0x100);
            i8042_mouse_event(&b->kbc, (int)(v % 600) - 300, (int)(v % 501) - 250, 0, v & 7);
            {
                uint8_t in[20];
                memset(in, (int)v, sizeof(in));
                size_t n = uart_can_receive(&b->uart);
                uart_receive(&b->uart, in, n < sizeof(in) ? n : sizeof(in));
            }
            break;
        }
    }
    assert_true(b->exits > 0);
    vga_destroy(&b->vga);
    phys_mem_destroy(&b->mem);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_accesses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer target: the machine-state loader (savevm/loadvm, -incoming) with hostile state.
 * The loader is the one pcvm uses (mstate_load: header, meta sections, RAM map, the device
 * sections of hw/devmodel.c into real devices: PIC, PIT, RTC, UART; RAM replaced in place).
 * The first input byte picks how the rest is used:
 *   0: the rest is a whole state read as a file (size known);
 *   1: the same read as a stream (size unknown, forward reads only);
 *   2: edits (u16 offset, u8 xor) of a valid state made at start-up, checksums left stale;
 *   3: the same with the checksums recomputed, so mutations reach the sections and fields.
 * Checked on every input: no crash, no out-of-bounds access, no leak (ASan/UBSan/LSan), and a
 * refusal always comes with a message.
 * Sources: src/migration/mstate.c src/migration/mstate_load.c src/hw/devmodel.c src/hw/pic.c
 *          src/hw/pit.c src/hw/rtc.c src/hw/uart.c src/mem/memory.c src/util/vclock.c
 *          src/util/log.c src/util/stamps.c -lz -lpthread */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/devmodel.h"
#include "hw/pic.h"
#include "hw/pit.h"
#include "hw/rtc.h"
#include "hw/uart.h"
#include "mem/memory.h"
#include "migration/mstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RAM (1u << 20)

struct board {
    struct io_bus io;
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns;
    struct pic pic;
    struct pit pit;
    struct rtc rtc;
    struct uart uart;
    struct device_list devices;
    struct vmbuf valid;             /* a valid state of this board */
};

static void on_irq(void *opaque, int n, int level) { (void)opaque; (void)n; (void)level; }

static void put_section(struct vmbuf *b, const char *tag, const void *p, size_t len)
{
    vmbuf_put(b, tag, 4);
    vmbuf_put_u32(b, (uint32_t)len);
    vmbuf_put(b, p, len);
}

/* A user network section is accepted for id "net0" with a version up to 4 (its bytes are
 * libslirp's business, not fuzzed here). */
static int fake_slirp(void *opaque, const struct mstate_slirp *s, bool load, char *err, size_t errlen)
{
    (void)opaque;
    (void)load;
    if (strcmp(s->id, "net0") || s->version > 4) {
        snprintf(err, errlen, "no user network '%s'", s->id);
        return -1;
    }
    return 0;
}

static struct board *board(void)
{
    static struct board *b;
    if (b)
        return b;
    b = calloc(1, sizeof(*b));
    if (!b)
        abort();
    io_bus_init(&b->io);
    if (phys_mem_init(&b->mem, FUZZ_RAM, FUZZ_RAM) < 0)
        abort();
    vclock_init(&b->clock, true, 0, &b->insns);
    struct irq_line l;
    irq_connect(&l, on_irq, b, 0);
    struct irq_line none = { 0 };
    pic_init(&b->pic, &b->io, none, NULL);
    pit_init(&b->pit, &b->io, &b->clock, l, NULL);
    rtc_init(&b->rtc, &b->io, &b->clock, l, 1700000000, NULL);
    uart_init(&b->uart, &b->io, 0x3f8, l, NULL, &b->clock, NULL);
    struct device d[] = {
        { .type = "i8259", .id = "pic", .opaque = &b->pic, .vmsd = &pic_vmstate },
        { .type = "isa-pit", .id = "pit", .opaque = &b->pit, .vmsd = &pit_vmstate },
        { .type = "mc146818rtc", .id = "rtc", .opaque = &b->rtc, .vmsd = &rtc_vmstate },
        { .type = "isa-serial", .id = "serial0", .opaque = &b->uart, .vmsd = &uart_vmstate },
    };
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        if (!devlist_add(&b->devices, &d[i]))
            abort();
    /* The valid state: the devices, a few non-zero pages, a user network. */
    for (unsigned pg = 0; pg < FUZZ_RAM / MSTATE_PAGE; pg += 37)
        memset(b->mem.ram + pg * MSTATE_PAGE, (int)(pg | 1), 100);
    struct vmbuf devs = { 0 }, meta = { 0 };
    char err[256];
    if (devlist_save(&b->devices, &devs, err, sizeof(err)) < 0)
        abort();
    put_section(&meta, "DEVS", devs.data, devs.len);
    static const uint8_t slirp[] = { 4, 'n', 'e', 't', '0', 4, 0, 0, 0, 1, 2, 3 };
    put_section(&meta, "SLRP", slirp, sizeof(slirp));
    uint64_t pages = FUZZ_RAM / MSTATE_PAGE, nonzero = 0;
    uint8_t bitmap[FUZZ_RAM / MSTATE_PAGE / 8] = { 0 };
    for (uint64_t pn = 0; pn < pages; pn++)
        if (b->mem.ram[pn * MSTATE_PAGE]) {
            bitmap[pn >> 3] |= (uint8_t)(1u << (pn & 7));
            nonzero++;
        }
    put_section(&meta, "RAMB", bitmap, sizeof(bitmap));
    put_section(&meta, "END ", NULL, 0);
    struct mstate_header h = { .version = MSTATE_VERSION, .ram_size = FUZZ_RAM, .ncpus = 1, .meta_len = meta.len,
                               .ram_off = (MSTATE_HEADER_SIZE + meta.len + MSTATE_PAGE - 1) / MSTATE_PAGE * MSTATE_PAGE,
                               .ram_len = nonzero * MSTATE_PAGE, .meta_crc = mstate_crc(meta.data, meta.len) };
    uint8_t hdr[MSTATE_HEADER_SIZE];
    mstate_header_encode(&h, hdr);
    vmbuf_put(&b->valid, hdr, sizeof(hdr));
    vmbuf_put(&b->valid, meta.data, meta.len);
    static const uint8_t pad[MSTATE_PAGE];
    vmbuf_put(&b->valid, pad, h.ram_off - b->valid.len);
    for (uint64_t pn = 0; pn < pages; pn++)
        if (mstate_page_set(bitmap, pn))
            vmbuf_put(&b->valid, b->mem.ram + pn * MSTATE_PAGE, MSTATE_PAGE);
    vmbuf_free(&devs);
    vmbuf_free(&meta);
    if (b->valid.failed)
        abort();
    return b;
}

struct mem_source {
    const uint8_t *p;
    size_t len;
    bool stream;
    uint64_t pos;
};

static int mem_read_at(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct mem_source *s = opaque;
    if (s->stream) {
        if (off < s->pos)
            abort();   /* the loader promised forward reads only */
        s->pos = off + len;
    }
    if (off > s->len || len > s->len - off)
        return -ENODATA;
    memcpy(buf, s->p + off, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (4u << 20))
        return 0;
    struct board *b = board();
    unsigned mode = data[0] & 3;
    uint8_t *state = NULL;
    size_t len;
    if (mode < 2) {
        len = size - 1;
        state = malloc(len ? len : 1);
        memcpy(state, data + 1, len);
    } else {
        len = b->valid.len;
        state = malloc(len);
        memcpy(state, b->valid.data, len);
        size_t i = 1;
        if (size > 3 && (data[1] & 0x80)) {   /* cut it short */
            size_t cut = ((size_t)data[2] << 8 | data[3]) * 4;
            if (cut < len)
                len = cut;
            i = 4;
        }
        for (; i + 3 <= size; i += 3) {
            size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % (len ? len : 1);
            if (len)
                state[off] ^= data[i + 2];
        }
        if (mode == 3 && len >= MSTATE_HEADER_SIZE) {
            uint64_t meta_len = 0;
            memcpy(&meta_len, state + 32, 8);
            if (meta_len <= len - MSTATE_HEADER_SIZE) {
                uint32_t c = mstate_crc(state + MSTATE_HEADER_SIZE, (size_t)meta_len);
                memcpy(state + 56, &c, 4);
            }
            uint32_t c = mstate_crc(state, 60);
            memcpy(state + 60, &c, 4);
        }
    }
    struct mem_source src = { state, len, mode == 1, 0 };
    struct mstate_source s = { mem_read_at, &src, -1, mode == 1 ? UINT64_MAX : len, NULL };
    struct mstate_target t = { .devices = &b->devices, .ram = b->mem.ram, .ram_size = FUZZ_RAM, .ncpus = 1,
                               .slirp = fake_slirp, .opaque = b };
    char err[512] = "";
    bool changed;
    if (mstate_load(&t, &s, &changed, err, sizeof(err)) < 0 && !err[0])
        abort();   /* a refusal without a reason */
    free(state);
    return 0;
}

/* The machine-state format and loader (src/migration/mstate*.c): round trips of RAM and a
 * device (packed from memory, packed from a stream, raw from a file mapped copy-on-write) and
 * the refusals of foreign, newer, corrupt, truncated and mismatched states, each with a
 * message and, when refused before the RAM, with nothing changed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/devmodel.h"
#include "hw/pic.h"
#include "mem/memory.h"
#include "migration/mstate.h"

#define RAM (1u << 20)

struct rig {
    struct io_bus io;
    struct phys_mem mem;
    struct pic pic;
    struct device_list devices;
};

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    io_bus_init(&r->io);
    assert_int_equal(phys_mem_init(&r->mem, RAM, RAM), 0);
    struct irq_line none = { 0 };
    pic_init(&r->pic, &r->io, none, NULL);
    struct device d = { .type = "i8259", .id = "pic", .opaque = &r->pic, .vmsd = &pic_vmstate };
    assert_non_null(devlist_add(&r->devices, &d));
    return r;
}

static void rig_free(struct rig *r)
{
    free(r->devices.v);
    phys_mem_destroy(&r->mem);
    free(r);
}

static void put_section(struct vmbuf *b, const char *tag, const void *p, size_t len)
{
    vmbuf_put(b, tag, 4);
    vmbuf_put_u32(b, (uint32_t)len);
    vmbuf_put(b, p, len);
}

/* The state of r (RAM packed, or raw when raw is set). */
static void build(struct rig *r, bool raw, struct vmbuf *out)
{
    struct vmbuf devs = { 0 }, meta = { 0 };
    char err[256];
    assert_int_equal(devlist_save(&r->devices, &devs, err, sizeof(err)), 0);
    put_section(&meta, "DEVS", devs.data, devs.len);
    uint8_t bitmap[RAM / MSTATE_PAGE / 8] = { 0 };
    uint64_t nonzero = 0;
    static const uint8_t zero[MSTATE_PAGE];
    for (uint64_t pn = 0; pn < RAM / MSTATE_PAGE; pn++)
        if (memcmp(r->mem.ram + pn * MSTATE_PAGE, zero, MSTATE_PAGE)) {
            bitmap[pn >> 3] |= (uint8_t)(1u << (pn & 7));
            nonzero++;
        }
    put_section(&meta, "RAMB", bitmap, sizeof(bitmap));
    put_section(&meta, "END ", NULL, 0);
    struct mstate_header h = { .version = MSTATE_VERSION, .flags = raw ? MSTATE_RAW_RAM : 0, .ram_size = RAM,
                               .ncpus = 1, .meta_len = meta.len,
                               .ram_off = (MSTATE_HEADER_SIZE + meta.len + MSTATE_PAGE - 1) / MSTATE_PAGE * MSTATE_PAGE,
                               .ram_len = raw ? RAM : nonzero * MSTATE_PAGE,
                               .meta_crc = mstate_crc(meta.data, meta.len) };
    uint8_t hdr[MSTATE_HEADER_SIZE];
    mstate_header_encode(&h, hdr);
    vmbuf_put(out, hdr, sizeof(hdr));
    vmbuf_put(out, meta.data, meta.len);
    vmbuf_put(out, zero, h.ram_off - out->len);
    for (uint64_t pn = 0; pn < RAM / MSTATE_PAGE; pn++)
        if (raw || mstate_page_set(bitmap, pn))
            vmbuf_put(out, r->mem.ram + pn * MSTATE_PAGE, MSTATE_PAGE);
    assert_false(out->failed);
    vmbuf_free(&devs);
    vmbuf_free(&meta);
}

struct mem_src {
    const uint8_t *p;
    size_t len;
    bool stream;
    uint64_t pos;
};

static int mem_read_at(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct mem_src *s = opaque;
    if (s->stream) {
        assert_true(off >= s->pos);   /* forward only */
        s->pos = off + len;
    }
    if (off > s->len || len > s->len - off)
        return -ENODATA;
    memcpy(buf, s->p + off, len);
    return 0;
}

static int load(struct rig *r, const uint8_t *p, size_t len, bool stream, bool *changed, char *err, size_t errlen)
{
    struct mem_src ms = { p, len, stream, 0 };
    struct mstate_source src = { mem_read_at, &ms, -1, stream ? UINT64_MAX : len, NULL };
    struct mstate_target t = { .devices = &r->devices, .ram = r->mem.ram, .ram_size = RAM, .ncpus = 1 };
    return mstate_load(&t, &src, changed, err, errlen);
}

/* Program the PIC (ICW1-4, a mask) and write RAM patterns. */
static void dirty(struct rig *r)
{
    io_write(&r->io, 0x20, 0x11, 1);
    io_write(&r->io, 0x21, 0x08, 1);
    io_write(&r->io, 0x21, 0x04, 1);
    io_write(&r->io, 0x21, 0x01, 1);
    io_write(&r->io, 0x21, 0xb5, 1);
    for (unsigned pg = 3; pg < RAM / MSTATE_PAGE; pg += 29)
        memset(r->mem.ram + pg * MSTATE_PAGE + 17, (int)pg, 300);
}

static void round_trip(bool stream)
{
    struct rig *a = rig_new(), *b = rig_new();
    dirty(a);
    memset(b->mem.ram, 0x77, RAM);   /* every page must be overwritten or cleared */
    struct vmbuf st = { 0 };
    build(a, false, &st);
    char err[256] = "";
    bool changed;
    assert_int_equal(load(b, st.data, st.len, stream, &changed, err, sizeof(err)), 0);
    assert_true(changed);
    assert_memory_equal(a->mem.ram, b->mem.ram, RAM);
    assert_int_equal(io_read(&b->io, 0x21, 1), 0xb5);
    vmbuf_free(&st);
    rig_free(a);
    rig_free(b);
}

static void packed_round_trip(void **s) { (void)s; round_trip(false); }
static void stream_round_trip(void **s) { (void)s; round_trip(true); }

static int file_read_at(void *opaque, uint64_t off, void *buf, size_t len)
{
    return pread(*(int *)opaque, buf, len, (off_t)off) == (ssize_t)len ? 0 : -ENODATA;
}

static void raw_file_mapped(void **s)
{
    (void)s;
    struct rig *a = rig_new(), *b = rig_new();
    dirty(a);
    struct vmbuf st = { 0 };
    build(a, true, &st);
    char path[] = "/tmp/test_mstate.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, st.data, st.len), (ssize_t)st.len);
    struct mstate_source src = { file_read_at, &fd, fd, st.len, NULL };
    bool mapped = false, changed;
    struct mstate_target t = { .devices = &b->devices, .ram = b->mem.ram, .ram_size = RAM, .ncpus = 1,
                               .ram_mapped = &mapped };
    char err[256] = "";
    assert_int_equal(mstate_load(&t, &src, &changed, err, sizeof(err)), 0);
    assert_true(mapped);
    assert_memory_equal(a->mem.ram, b->mem.ram, RAM);
    /* Copy-on-write: the guest's writes stay out of the file. */
    b->mem.ram[5 * MSTATE_PAGE] = 0x42;
    uint8_t byte = 0;
    uint64_t ram_off = st.len - RAM;
    assert_int_equal(pread(fd, &byte, 1, (off_t)(ram_off + 5 * MSTATE_PAGE)), 1);
    assert_int_equal(byte, a->mem.ram[5 * MSTATE_PAGE]);
    close(fd);
    vmbuf_free(&st);
    rig_free(a);
    rig_free(b);
}

/* A refused state: a message containing want; unchanged when the refusal comes before RAM. */
static void refused(struct rig *r, const uint8_t *p, size_t len, bool stream, const char *want, bool may_change)
{
    char err[256] = "";
    bool changed = true;
    assert_int_equal(load(r, p, len, stream, &changed, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("refusal %s does not say '%s'", err, want);
    if (!may_change)
        assert_false(changed);
}

static void refusals(void **s)
{
    (void)s;
    struct rig *a = rig_new(), *b = rig_new();
    dirty(a);
    struct vmbuf st = { 0 };
    build(a, false, &st);
    uint8_t *c = malloc(st.len);
    assert_non_null(c);
    refused(b, st.data, 30, false, "truncated", false);
    refused(b, (const uint8_t *)"QEVM\0\0\0\3 and then QEMU's sections .......................................", 64,
            false, "QEMU", false);
    memset(c, 'x', 64);
    refused(b, c, 64, false, "not a pcvm machine state", false);
    memcpy(c, st.data, st.len);   /* a newer format version */
    c[8] = 9;
    refused(b, c, st.len, false, "newer pcvm", false);
    memcpy(c, st.data, st.len);   /* the header does not check */
    c[20] ^= 1;
    refused(b, c, st.len, false, "corrupt", false);
    memcpy(c, st.data, st.len);   /* the meta does not check */
    c[100] ^= 1;
    refused(b, c, st.len, false, "corrupt", false);
    refused(b, st.data, st.len - 1, false, "truncated", false);   /* RAM cut short (size known) */
    refused(b, st.data, st.len - 1, true, "truncated", true);     /* the same as a stream */
    struct rig *big = calloc(1, sizeof(*big));   /* another RAM size */
    assert_non_null(big);
    io_bus_init(&big->io);
    assert_int_equal(phys_mem_init(&big->mem, 2 * RAM, 2 * RAM), 0);
    char err[256] = "";
    bool changed;
    struct mem_src ms = { st.data, st.len, false, 0 };
    struct mstate_source src = { mem_read_at, &ms, -1, st.len, NULL };
    struct mstate_target t = { .devices = &b->devices, .ram = big->mem.ram, .ram_size = 2 * RAM, .ncpus = 1 };
    assert_int_equal(mstate_load(&t, &src, &changed, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "-m"));
    t = (struct mstate_target){ .devices = &b->devices, .ram = b->mem.ram, .ram_size = RAM, .ncpus = 2 };
    ms.pos = 0;
    assert_int_equal(mstate_load(&t, &src, &changed, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "-smp"));
    phys_mem_destroy(&big->mem);
    free(big);
    /* A machine without the saved device. */
    struct rig *empty = rig_new();
    empty->devices.n = 0;
    refused(empty, st.data, st.len, false, "lacks", false);
    rig_free(empty);
    free(c);
    vmbuf_free(&st);
    rig_free(a);
    rig_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(packed_round_trip),
        cmocka_unit_test(stream_round_trip),
        cmocka_unit_test(raw_file_mapped),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

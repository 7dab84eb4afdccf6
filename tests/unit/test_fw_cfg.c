/* fw_cfg: selector/data ports, the DMA interface, the file directory and the pc items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/fw_cfg.h"

struct fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct fw_cfg cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, 4 << 20, 4 << 20), 0);
    io_bus_init(&f->io);
    fw_cfg_init(&f->cfg, &f->io, &f->mem, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fw_cfg_destroy(&f->cfg);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static void read_item(struct fixture *f, uint16_t key, uint8_t *buf, unsigned n)
{
    io_write(&f->io, 0x510, key, 2);
    for (unsigned i = 0; i < n; i++)
        buf[i] = (uint8_t)io_read(&f->io, 0x511, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Write a FWCfgDmaAccess at desc and kick it as SeaBIOS does (outl of the swapped low half). */
static uint32_t dma(struct fixture *f, uint32_t desc, uint32_t control, uint32_t len, uint32_t addr)
{
    uint8_t d[16] = {
        (uint8_t)(control >> 24), (uint8_t)(control >> 16), (uint8_t)(control >> 8), (uint8_t)control,
        (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
        0, 0, 0, 0, (uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr,
    };
    phys_write_block(&f->mem, desc, d, 16);
    io_write(&f->io, 0x518, __builtin_bswap32(desc), 4);
    uint8_t st[4];
    phys_read_block(&f->mem, desc, st, 4);
    return be32(st);
}

static void signature_id_and_dma_signature(void **state)
{
    struct fixture *f = *state;
    uint8_t b[8];
    read_item(f, FW_CFG_SIGNATURE, b, 4);
    assert_memory_equal(b, "QEMU", 4);
    read_item(f, FW_CFG_ID, b, 4);
    assert_int_equal(le(b, 4), 3);  /* traditional + DMA */
    /* Reading past the end gives zeros. */
    read_item(f, FW_CFG_SIGNATURE, b, 6);
    assert_int_equal(b[4], 0);
    assert_int_equal(b[5], 0);
    /* The DMA register reads "QEMU CFG" as a big-endian 64-bit value. */
    uint64_t sig = (uint64_t)__builtin_bswap32(io_read(&f->io, 0x514, 4)) << 32 |
                   __builtin_bswap32(io_read(&f->io, 0x518, 4));
    assert_true(sig == 0x51454d5520434647ull);
}

static void pc_items_and_file_directory(void **state)
{
    struct fixture *f = *state;
    struct fw_cfg_pc_config pc = { .ram_size = 128u << 20, .ram_below_4g = 128u << 20, .cpus = 2,
                                   .max_cpus = 4, .nographic = true, .boot_fail_wait_ms = 5000,
                                   .bootorder = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n" };
    assert_int_equal(fw_cfg_setup_pc(&f->cfg, &pc), 0);
    uint8_t b[64];
    read_item(f, FW_CFG_RAM_SIZE, b, 8);
    assert_true(le(b, 8) == 128u << 20);
    read_item(f, FW_CFG_NB_CPUS, b, 2);
    assert_int_equal(le(b, 2), 2);
    read_item(f, FW_CFG_MAX_CPUS, b, 2);
    assert_int_equal(le(b, 2), 4);
    read_item(f, FW_CFG_NOGRAPHIC, b, 2);
    assert_int_equal(le(b, 2), 1);

    /* Directory: be32 count, entries of be32 size, be16 key, be16 reserved, char name[56]. */
    uint8_t dir[4 + 64 * 8];
    read_item(f, FW_CFG_FILE_DIR, dir, 4);
    uint32_t count = be32(dir);
    assert_int_equal(count, 4);
    read_item(f, FW_CFG_FILE_DIR, dir, 4 + 64 * count);
    int found = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = dir + 4 + 64 * i;
        uint32_t size = be32(e);
        uint16_t key = (uint16_t)(e[4] << 8 | e[5]);
        const char *name = (const char *)e + 8;
        assert_true(key >= 0x20);
        assert_int_equal(e[6] | e[7], 0);
        if (strcmp(name, "etc/e820") == 0) {
            found++;
            assert_int_equal(size, 20);
            read_item(f, key, b, 20);
            assert_true(le(b, 8) == 0);
            assert_true(le(b + 8, 8) == 128u << 20);
            assert_int_equal(le(b + 16, 4), 1);
        } else if (strcmp(name, "etc/sercon-port") == 0) {
            found++;
            read_item(f, key, b, size);
            assert_int_equal(le(b, size), 0x3f8);
        } else if (strcmp(name, "bootorder") == 0) {
            found++;
            read_item(f, key, b, size);
            assert_string_equal((char *)b, pc.bootorder);
        } else if (strcmp(name, "etc/boot-fail-wait") == 0) {
            found++;
            read_item(f, key, b, size);
            assert_int_equal(le(b, size), 5000);
        }
    }
    assert_int_equal(found, 4);
    /* Replacing a file keeps its key and updates the directory size. */
    int k1 = fw_cfg_add_file(&f->cfg, "etc/boot-fail-wait", "\x01\x00", 2);
    int k2 = fw_cfg_add_file(&f->cfg, "etc/boot-fail-wait", "\x02\x00\x00\x00", 4);
    assert_int_equal(k1, k2);
    assert_int_equal(fw_cfg_find_file(&f->cfg, "etc/boot-fail-wait")->len, 4);
    assert_null(fw_cfg_find_file(&f->cfg, "nope"));
}

static void dma_select_read_skip_and_errors(void **state)
{
    struct fixture *f = *state;
    uint8_t data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (uint8_t)(i * 7);
    int key = fw_cfg_add_file(&f->cfg, "test/blob", data, sizeof(data));
    assert_true(key >= 0x20);
    uint8_t out[400];

    /* Select + read 100 bytes. */
    uint32_t st = dma(f, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 100, 0x2000);
    assert_int_equal(st, 0);
    phys_read_block(&f->mem, 0x2000, out, 100);
    assert_memory_equal(out, data, 100);
    /* Skip 50, then read 200: 150 real bytes, then zeros. */
    memset(f->mem.ram + 0x3000, 0xee, 400);
    assert_int_equal(dma(f, 0x1000, FW_CFG_DMA_SKIP, 50, 0), 0);
    assert_int_equal(dma(f, 0x1000, FW_CFG_DMA_READ, 200, 0x3000), 0);
    phys_read_block(&f->mem, 0x3000, out, 201);
    assert_memory_equal(out, data + 150, 150);
    for (int i = 150; i < 200; i++)
        assert_int_equal(out[i], 0);
    assert_int_equal(out[200], 0xee);
    /* The byte port continues at the same offset after a DMA access. */
    dma(f, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP, 10, 0);
    assert_int_equal(io_read(&f->io, 0x511, 1), data[10]);
    /* Writes to a read-only item fail with the error bit. */
    st = dma(f, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4, 0x2000);
    assert_int_equal(st, FW_CFG_DMA_ERROR);
    /* A writable file accepts them. */
    int wkey = fw_cfg_add_file_writable(&f->cfg, "test/w", NULL, 8);
    phys_write(&f->mem, 0x2000, 0xdeadbeef, 4);
    st = dma(f, 0x1000, (uint32_t)wkey << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4, 0x2000);
    assert_int_equal(st, 0);
    assert_int_equal(le(fw_cfg_find_file(&f->cfg, "test/w")->data, 4), 0xdeadbeef);
    /* A descriptor pointing at nothing or a target beyond 4 GiB does not crash. */
    io_write(&f->io, 0x518, __builtin_bswap32(0xfffffff8u), 4);
    io_write(&f->io, 0x514, __builtin_bswap32(1), 4);
    io_write(&f->io, 0x518, 0, 4);
    st = dma(f, 0x1000, FW_CFG_DMA_READ, 0x100, 0xffffff80u);
    assert_int_equal(st, FW_CFG_DMA_ERROR);
}

/* Random descriptors and selector values: no crash, no write outside RAM, status written back. */
static void random_dma_is_harmless(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[1000];
    memset(blob, 0x5a, sizeof(blob));
    fw_cfg_add_file(&f->cfg, "x", blob, sizeof(blob));
    fw_cfg_add_file_writable(&f->cfg, "w", blob, 16);
    uint32_t x = 777;
    for (int i = 0; i < 5000; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t control = (x & 0x001f) | ((x >> 5) % 0x30) << 16;
        uint32_t len = (x >> 11) & 0x7ff;
        uint32_t addr = (x >> 3) & 0x3ffff0;
        uint32_t st = dma(f, 0x1000, control, len, addr < 0x2000 ? addr + 0x2000 : addr);
        assert_true(st == 0 || st == FW_CFG_DMA_ERROR);
        io_write(&f->io, 0x510, x >> 16, 2);
        (void)io_read(&f->io, 0x511, 1);
    }
}

/* The select hook runs before data moves, so an item it replaces is read in its new form,
 * through the ports and through DMA (the board rebuilds the ACPI tables this way). */
struct hook_state { struct fw_cfg *cfg; uint16_t last_key; unsigned calls; char value; };

static void refresh_hook(void *opaque, uint16_t key)
{
    struct hook_state *h = opaque;
    h->calls++;
    h->last_key = key;
    char data[4] = { h->value, h->value, h->value, h->value };
    if ((int)key == fw_cfg_file_key(h->cfg, "etc/follow"))
        fw_cfg_add_file(h->cfg, "etc/follow", data, 4);
}

static void select_hook_refreshes_items(void **state)
{
    struct fixture *f = *state;
    int key = fw_cfg_add_file(&f->cfg, "etc/follow", "aaaa", 4);
    assert_true(key >= 0x20);
    assert_int_equal(fw_cfg_file_key(&f->cfg, "etc/follow"), key);
    assert_int_equal(fw_cfg_file_key(&f->cfg, "etc/none"), -1);
    struct hook_state h = { .cfg = &f->cfg, .value = 'b' };
    fw_cfg_set_select_hook(&f->cfg, refresh_hook, &h);
    uint8_t b[4];
    read_item(f, (uint16_t)key, b, 4);
    assert_memory_equal(b, "bbbb", 4);
    assert_int_equal(h.last_key, key);
    h.value = 'c';
    assert_int_equal(dma(f, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4, 0x2000), 0);
    phys_read_block(&f->mem, 0x2000, b, 4);
    assert_memory_equal(b, "cccc", 4);
    read_item(f, FW_CFG_SIGNATURE, b, 4);   /* other keys: the hook sees them, nothing changes */
    assert_int_equal(h.last_key, FW_CFG_SIGNATURE);
    assert_memory_equal(b, "QEMU", 4);
    assert_int_equal(h.calls, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(signature_id_and_dma_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(pc_items_and_file_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(dma_select_read_skip_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(random_dma_is_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(select_hook_refreshes_items, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

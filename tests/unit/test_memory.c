/* Physical memory map and port I/O bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mem/memory.h"

struct mmio_probe {
    uint32_t last_offset, last_value;
    unsigned last_size, reads, writes;
};

static uint32_t probe_read(void *opaque, uint32_t offset, unsigned size)
{
    struct mmio_probe *p = opaque;
    p->last_offset = offset;
    p->last_size = size;
    p->reads++;
    return 0x11223344u & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}

static void probe_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct mmio_probe *p = opaque;
    p->last_offset = offset;
    p->last_value = value;
    p->last_size = size;
    p->writes++;
}

static void ram_read_write(void **state)
{
    (void)state;
    struct phys_mem pm;
    assert_int_equal(phys_mem_init(&pm, 1 << 20, 1 << 20), 0);
    phys_write(&pm, 0x1000, 0xdeadbeef, 4);
    assert_int_equal(phys_read(&pm, 0x1000, 4), 0xdeadbeef);
    assert_int_equal(phys_read(&pm, 0x1001, 1), 0xbe);
    assert_int_equal(pm.ram[0x1003], 0xde);
    /* A dword across a page boundary is split correctly. */
    phys_write(&pm, 0x1ffe, 0xa1b2c3d4, 4);
    assert_int_equal(phys_read(&pm, 0x1ffe, 4), 0xa1b2c3d4);
    assert_int_equal(pm.ram[0x2000], 0xb2);
    /* Beyond RAM: unassigned reads as all ones. */
    assert_int_equal(phys_read(&pm, 0x200000, 4), 0xffffffffu);
    assert_int_equal(phys_read(&pm, 0x200000, 2), 0xffff);
    phys_mem_destroy(&pm);
}

static void rom_drops_writes(void **state)
{
    (void)state;
    struct phys_mem pm;
    assert_int_equal(phys_mem_init(&pm, 1 << 20, 1 << 20), 0);
    static uint8_t rom[4096] __attribute__((aligned(4096)));
    memset(rom, 0x5a, sizeof(rom));
    phys_map_host(&pm, 0xfffff000u, 4096, rom, false);
    assert_int_equal(phys_read(&pm, 0xfffffff0u, 1), 0x5a);
    phys_write(&pm, 0xfffffff0u, 0, 1);
    assert_int_equal(rom[0xff0], 0x5a);
    assert_null(phys_direct(&pm, 0xfffff000u, true));
    assert_non_null(phys_direct(&pm, 0xfffff000u, false));
    phys_mem_destroy(&pm);
}

static void mmio_dispatch_and_remap(void **state)
{
    (void)state;
    struct phys_mem pm;
    struct mmio_probe probe = { 0 };
    assert_int_equal(phys_mem_init(&pm, 1 << 20, 1 << 20), 0);
    int idx = phys_map_mmio(&pm, 0xfec00000u, 0x1000, &probe, probe_read, probe_write, "probe");
    assert_true(idx >= 0);
    assert_int_equal(phys_read(&pm, 0xfec00010u, 4), 0x11223344u);
    assert_int_equal(probe.last_offset, 0x10);
    phys_write(&pm, 0xfec00020u, 0x77, 1);
    assert_int_equal(probe.last_value, 0x77);
    assert_int_equal(probe.last_size, 1);
    /* Move the region over RAM, then away: RAM reappears. */
    pm.ram[0x5000] = 0x42;
    phys_remap_mmio(&pm, idx, 0x5000, 0x1000);
    assert_int_equal(phys_read(&pm, 0x5000, 1), 0x44);
    phys_remap_mmio(&pm, idx, 0, 0);
    assert_int_equal(phys_read(&pm, 0x5000, 1), 0x42);
    assert_int_equal(phys_read(&pm, 0xfec00010u, 4), 0xffffffffu);
    phys_mem_destroy(&pm);
}

struct code_hook {
    uint32_t paddr;
    unsigned len, calls;
};

static void on_code_write(void *opaque, uint32_t paddr, unsigned len)
{
    struct code_hook *h = opaque;
    h->paddr = paddr;
    h->len = len;
    h->calls++;
}

static void code_page_writes_notify(void **state)
{
    (void)state;
    struct phys_mem pm;
    struct code_hook hook = { 0 };
    assert_int_equal(phys_mem_init(&pm, 1 << 20, 1 << 20), 0);
    pm.code_write = on_code_write;
    pm.code_write_opaque = &hook;
    pm.code_pages[3] = 1;
    phys_write(&pm, 0x2ffc, 1, 4);
    assert_int_equal(hook.calls, 0);
    phys_write(&pm, 0x3004, 1, 2);
    assert_int_equal(hook.calls, 1);
    assert_int_equal(hook.paddr, 0x3004);
    uint8_t buf[16] = { 0 };
    phys_write_block(&pm, 0x3ff8, buf, sizeof(buf)); /* straddles code page 3 and page 4 */
    assert_int_equal(hook.calls, 2);
    assert_int_equal(hook.paddr, 0x3ff8);
    assert_int_equal(hook.len, 8);
    phys_mem_destroy(&pm);
}

struct port_probe {
    uint16_t port;
    uint32_t value;
    unsigned size, calls;
};

static uint32_t port_read(void *opaque, uint16_t port, unsigned size)
{
    struct port_probe *p = opaque;
    p->port = port;
    p->size = size;
    p->calls++;
    return port & 0xff;
}

static void port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct port_probe *p = opaque;
    p->port = port;
    p->value = value;
    p->size = size;
    p->calls++;
}

static void io_sizes_are_split(void **state)
{
    (void)state;
    static struct io_bus bus;
    struct port_probe bytes = { 0 }, words = { 0 };
    io_bus_init(&bus);
    io_register(&bus, 0x60, 5, &bytes, port_read, port_write, IO_SIZE_1, "bytes");
    io_register(&bus, 0x1f0, 8, &words, port_read, port_write, IO_SIZE_1 | IO_SIZE_2, "words");
    /* A 16-bit read of a byte-only device becomes two byte reads, little-endian. */
    assert_int_equal(io_read(&bus, 0x60, 2), 0x6160);
    assert_int_equal(bytes.calls, 2);
    assert_int_equal(io_read(&bus, 0x1f0, 2), 0xf0);
    assert_int_equal(words.size, 2);
    /* A dword to a word device becomes two words. */
    io_write(&bus, 0x1f0, 0xaabbccdd, 4);
    assert_int_equal(words.port, 0x1f2);
    assert_int_equal(words.value, 0xaabb);
    /* Unclaimed ports read as ones. */
    assert_int_equal(io_read(&bus, 0x80, 1), 0xff);
    assert_int_equal(io_read(&bus, 0x80, 4), 0xffffffffu);
}

static void io_remap_moves_ports(void **state)
{
    (void)state;
    static struct io_bus bus;
    struct port_probe p = { 0 };
    io_bus_init(&bus);
    int h = io_register(&bus, 0xc000, 16, &p, port_read, port_write, IO_SIZE_ALL, "bar");
    assert_int_equal(io_read(&bus, 0xc004, 1), 0x04);
    io_remap(&bus, h, 0xd000, 16);
    assert_int_equal(io_read(&bus, 0xc004, 1), 0xff);
    assert_int_equal(io_read(&bus, 0xd004, 1), 0x04);
    io_remap(&bus, h, 0, 0);
    assert_int_equal(io_read(&bus, 0xd004, 1), 0xff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ram_read_write),
        cmocka_unit_test(rom_drops_writes),
        cmocka_unit_test(mmio_dispatch_and_remap),
        cmocka_unit_test(code_page_writes_notify),
        cmocka_unit_test(io_sizes_are_split),
        cmocka_unit_test(io_remap_moves_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

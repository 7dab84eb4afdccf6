/* Direct kernel boot: synthetic bzImage, Multiboot (a.out kludge and ELF) and ELF images, and
 * malformed ones.  Expected values come from the Linux boot protocol (boot.rst) and the
 * Multiboot 0.6.96 specification, not from the loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/multiboot.h"
#include "mem/memory.h"

#define MIB (1024u * 1024u)

struct fixture {
    struct phys_mem pm;
    struct e820_entry e820[16];
    struct boot_request req;
    struct boot_entry_state st;
    char err[256];
    char tmpfiles[4][64];
    int ntmp;
};

static struct fixture *setup_ram(uint32_t ram)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(phys_mem_init(&f->pm, ram, ram), 0);
    memset(f->pm.ram, 0xaa, ram);   /* so zeroed bss is visible */
    f->req.ram_below_4g = ram;
    f->req.e820 = f->e820;
    f->req.e820_count = boot_build_e820(ram, 0, 0, f->e820, 16);
    f->req.kernel_path = "/boot/kernel";
    return f;
}

static void teardown_ram(struct fixture *f)
{
    for (int i = 0; i < f->ntmp; i++)
        unlink(f->tmpfiles[i]);
    phys_mem_destroy(&f->pm);
    free(f);
}

/* Create a temporary file of len bytes (byte i = seed + i), or a sparse one when seed < 0. */
static const char *tmpfile_with(struct fixture *f, size_t len, int seed)
{
    char *name = f->tmpfiles[f->ntmp++];
    strcpy(name, "/tmp/pcvm-test-boot-XXXXXX");
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    if (seed < 0) {
        assert_int_equal(ftruncate(fd, (off_t)len), 0);
    } else {
        uint8_t *buf = malloc(len);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(seed + i);
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
        free(buf);
    }
    close(fd);
    return name;
}

static uint8_t rd8(struct fixture *f, uint32_t a) { return f->pm.ram[a]; }
static uint16_t rd16(struct fixture *f, uint32_t a) { return (uint16_t)(rd8(f, a) | rd8(f, a + 1) << 8); }
static uint32_t rd32(struct fixture *f, uint32_t a) { return rd16(f, a) | (uint32_t)rd16(f, a + 2) << 16; }
static uint64_t rd64(struct fixture *f, uint32_t a) { return rd32(f, a) | (uint64_t)rd32(f, a + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* ---- bzImage ---- */

#define BZ_SETUP_SECTS 4
#define BZ_SETUP_SIZE ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_KERNEL_SIZE 8192

struct bz {
    uint8_t img[BZ_SETUP_SIZE + BZ_KERNEL_SIZE];
};

static void make_bzimage(struct bz *b)
{
    memset(b->img, 0, sizeof(b->img));
    uint8_t *p = b->img;
    p[0x1f1] = BZ_SETUP_SECTS;
    put32(p + 0x1f4, BZ_KERNEL_SIZE / 16);       /* syssize */
    put16(p + 0x1fe, 0xaa55);
    p[0x200] = 0xeb;                              /* jmp short: header ends at 0x202 + 0x66 */
    p[0x201] = 0x66;
    memcpy(p + 0x202, "HdrS", 4);
    put16(p + 0x206, 0x20f);
    p[0x211] = 0x01;                              /* LOADED_HIGH */
    put32(p + 0x214, 0x100000);                   /* code32_start */
    put32(p + 0x22c, 0x7fffffff);                 /* initrd_addr_max */
    put32(p + 0x230, 0x200000);                   /* kernel_alignment */
    p[0x234] = 1;                                 /* relocatable */
    put32(p + 0x238, 2047);                       /* cmdline_size */
    put32(p + 0x258, 0x1000000);                  /* pref_address (16 MiB) */
    put32(p + 0x260, 0x400000);                   /* init_size (4 MiB) */
    for (unsigned i = 0; i < BZ_KERNEL_SIZE; i++)
        p[BZ_SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
}

static int load(struct fixture *f, const void *img, size_t size)
{
    f->err[0] = '\0';
    return boot_load_image(&f->req, img, size, &f->pm, &f->st, f->err, sizeof(f->err));
}

static void expect_error(struct fixture *f, const void *img, size_t size, const char *needle)
{
    assert_int_equal(load(f, img, size), -1);
    if (!strstr(f->err, needle)) {
        print_error("error '%s' lacks '%s'\n", f->err, needle);
        fail();
    }
    assert_null(strchr(f->err, '\n'));
}

static void check_flat_pm(struct fixture *f)
{
    const struct boot_entry_state *st = &f->st;
    assert_int_equal(st->seg[1].sel, 0x10);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(st->seg[i].base, 0);
        assert_int_equal(st->seg[i].limit, 0xffffffffu);
        assert_true(st->seg[i].flags & (1u << 15));  /* present */
        assert_true(st->seg[i].flags & (1u << 22));  /* 32-bit */
    }
    assert_int_equal(st->seg[0].sel, 0x18);   /* ES */
    assert_int_equal(st->seg[2].sel, 0x18);   /* SS */
    assert_int_equal(st->seg[3].sel, 0x18);   /* DS */
    assert_int_equal((st->seg[1].flags >> 8) & 0x1a, 0x1a);   /* S=1, code, readable */
    assert_int_equal((st->seg[3].flags >> 8) & 0x1a, 0x12);   /* S=1, data, writable */
    assert_int_equal(st->eflags & (1u << 9), 0);               /* IF=0 */
    assert_int_equal(st->cr0 & 0x80000001u, 1);                /* PE, no paging */
    /* The GDT in guest memory matches the selectors. */
    assert_true(st->gdt_limit >= 0x1f);
    assert_int_equal(rd64(f, st->gdt_base + 0x10), 0x00cf9b000000ffffull);
    assert_int_equal(rd64(f, st->gdt_base + 0x18), 0x00cf93000000ffffull);
}

static void test_linux_basic(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(64 * MIB);
    struct bz b;
    make_bzimage(&b);
    f->req.cmdline = "console=ttyS0 quiet";
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    assert_int_equal(f->st.kind, BOOT_LINUX);
    check_flat_pm(f);
    assert_int_equal(f->st.eip, 0x100000);
    uint32_t zp = f->st.regs[6];
    assert_int_equal(zp, BOOT_ZEROPAGE_ADDR);
    assert_int_equal(f->st.regs[3], 0);   /* EBX */
    assert_int_equal(f->st.regs[5], 0);   /* EBP */
    assert_int_equal(f->st.regs[7], 0);   /* EDI */
    /* Protected-mode part at 1 MiB. */
    assert_memory_equal(f->pm.ram + 0x100000, b.img + BZ_SETUP_SIZE, BZ_KERNEL_SIZE);
    /* Zero page: header copied, loader fields set. */
    assert_memory_equal(f->pm.ram + zp + 0x202, "HdrS", 4);
    assert_int_equal(rd16(f, zp + 0x206), 0x20f);
    assert_int_not_equal(rd8(f, zp + 0x210), 0);            /* type_of_loader */
    assert_true(rd8(f, zp + 0x211) & 1);
    assert_int_equal(rd32(f, zp + 0x214), 0x100000);
    assert_int_equal(rd32(f, zp + 0x260), 0x400000);        /* init_size copied */
    assert_int_equal(rd32(f, zp + 0x218), 0);               /* no ramdisk */
    assert_int_equal(rd32(f, zp + 0x21c), 0);
    assert_int_equal(rd8(f, zp + 0x1ef), 0);                /* sentinel */
    uint32_t cl = rd32(f, zp + 0x228);
    assert_true(cl >= 0x10000 && cl < 0xa0000);
    assert_string_equal((char *)f->pm.ram + cl, "console=ttyS0 quiet");
    /* Memory: e820 copy and the legacy sizes. */
    assert_int_equal(rd8(f, zp + 0x1e8), f->req.e820_count);
    for (unsigned i = 0; i < f->req.e820_count; i++) {
        assert_int_equal(rd64(f, zp + 0x2d0 + i * 20), f->e820[i].addr);
        assert_int_equal(rd64(f, zp + 0x2d0 + i * 20 + 8), f->e820[i].len);
        assert_int_equal(rd32(f, zp + 0x2d0 + i * 20 + 16), f->e820[i].type);
    }
    assert_int_equal(rd32(f, zp + 0x1e0), 63 * 1024);       /* alt_mem_k: above 1 MiB */
    assert_int_equal(rd16(f, zp + 0x002), 63 * 1024);       /* ext_mem_k */
    teardown_ram(f);
}

static void test_linux_initrd_top(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(64 * MIB);
    struct bz b;
    make_bzimage(&b);
    const size_t len = 10000;
    f->req.initrd = tmpfile_with(f, len, 3);
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    uint32_t zp = BOOT_ZEROPAGE_ADDR;
    uint32_t addr = rd32(f, zp + 0x218);
    assert_int_equal(rd32(f, zp + 0x21c), len);
    assert_int_equal(addr & 0xfff, 0);
    /* Highest page-aligned place below the top of RAM. */
    assert_int_equal(addr, (64 * MIB - len) & ~0xfffu);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(f->pm.ram[addr + i], (uint8_t)(3 + i));
    teardown_ram(f);
}

static void test_linux_initrd_addr_max_and_acpi(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(128 * MIB);
    /* ACPI tables in the top 128 KiB: the initrd must stay below them. */
    f->req.e820_count = boot_build_e820(128 * MIB, 128 * MIB - 0x20000, 0x20000, f->e820, 16);
    struct bz b;
    make_bzimage(&b);
    f->req.initrd = tmpfile_with(f, 5000, 0);
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    uint32_t addr = rd32(f, BOOT_ZEROPAGE_ADDR + 0x218);
    assert_int_equal(addr, (128 * MIB - 0x20000 - 5000) & ~0xfffu);
    /* initrd_addr_max = 48 MiB - 1: the last byte may be at most there. */
    put32(b.img + 0x22c, 48 * MIB - 1);
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    addr = rd32(f, BOOT_ZEROPAGE_ADDR + 0x218);
    assert_int_equal(addr, (48 * MIB - 5000) & ~0xfffu);
    assert_true(addr + 5000 - 1 <= 48 * MIB - 1);
    teardown_ram(f);
}

static void test_linux_errors(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(64 * MIB);
    struct bz b;

    make_bzimage(&b);
    put16(b.img + 0x206, 0x201);
    expect_error(f, b.img, sizeof(b.img), "too old");

    make_bzimage(&b);
    memcpy(b.img + 0x202, "HdrX", 4);
    expect_error(f, b.img, sizeof(b.img), "not a Linux bzImage");

    make_bzimage(&b);
    b.img[0x211] = 0;   /* zImage */
    expect_error(f, b.img, sizeof(b.img), "zImage");

    make_bzimage(&b);
    b.img[0x1f1] = 60;  /* setup longer than the file */
    expect_error(f, b.img, sizeof(b.img), "truncated");

    make_bzimage(&b);   /* syssize claims more than there is */
    expect_error(f, b.img, sizeof(b.img) - 4096, "truncated");

    make_bzimage(&b);
    put32(b.img + 0x238, 10);
    f->req.cmdline = "console=ttyS0 loglevel=8";
    expect_error(f, b.img, sizeof(b.img), "command line");
    f->req.cmdline = NULL;

    make_bzimage(&b);
    f->req.initrd = "/nonexistent/initrd.gz";
    expect_error(f, b.img, sizeof(b.img), "cannot open initrd");
    f->req.initrd = NULL;

    expect_error(f, b.img, 100, "not a Linux bzImage");
    teardown_ram(f);
}

static void test_linux_too_little_ram(void **state)
{
    (void)state;
    /* Runs at 16 MiB and needs 4 MiB there: 16 MiB of RAM is not enough. */
    struct fixture *f = setup_ram(16 * MIB);
    struct bz b;
    make_bzimage(&b);
    expect_error(f, b.img, sizeof(b.img), "-m");
    teardown_ram(f);

    /* Kernel fits (needs up to 20 MiB) but a 15 MiB initrd does not fit beside it in 32 MiB. */
    f = setup_ram(32 * MIB);
    f->req.initrd = tmpfile_with(f, 15 * MIB, -1);
    expect_error(f, b.img, sizeof(b.img), "initrd");
    teardown_ram(f);
}

static void test_linux_from_file_and_relocation(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(64 * MIB);
    struct bz b;
    make_bzimage(&b);
    /* Through the file path. */
    char *path = f->tmpfiles[f->ntmp++];
    strcpy(path, "/tmp/pcvm-test-bz-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.img, sizeof(b.img)), (ssize_t)sizeof(b.img));
    close(fd);
    f->req.kernel_path = path;
    assert_int_equal(boot_load_kernel(&f->req, &f->pm, &f->st, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->st.eip, 0x100000);
    f->req.kernel_path = "/nonexistent/bzImage";
    assert_int_equal(boot_load_kernel(&f->req, &f->pm, &f->st, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "cannot open kernel"));

    /* No RAM at 1 MiB: a relocatable kernel goes to its preferred address (16 MiB). */
    f->e820[0] = (struct e820_entry){ 0, 0x9fc00, E820_RAM };
    f->e820[1] = (struct e820_entry){ 16 * MIB, 48 * MIB, E820_RAM };
    f->req.e820_count = 2;
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    assert_int_equal(f->st.eip, 16 * MIB);
    assert_int_equal(rd32(f, BOOT_ZEROPAGE_ADDR + 0x214), 16 * MIB);   /* code32_start */
    assert_memory_equal(f->pm.ram + 16 * MIB, b.img + BZ_SETUP_SIZE, BZ_KERNEL_SIZE);
    /* A kernel that cannot move has nowhere to go. */
    b.img[0x234] = 0;
    expect_error(f, b.img, sizeof(b.img), "0x100000");
    teardown_ram(f);
}

static void test_linux_old_protocol_limits(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(64 * MIB);
    struct bz b;
    make_bzimage(&b);
    put16(b.img + 0x206, 0x202);   /* 2.02: no cmdline_size (255), no initrd_addr_max (0x37ffffff) */
    char line[300];
    memset(line, 'a', 255);
    line[255] = '\0';
    f->req.cmdline = line;
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    assert_int_equal(f->st.eip, 0x100000);
    assert_int_equal(strlen((char *)f->pm.ram + rd32(f, BOOT_ZEROPAGE_ADDR + 0x228)), 255);
    line[255] = 'a';
    line[256] = '\0';
    expect_error(f, b.img, sizeof(b.img), "at most 255");
    /* 2.06+: cmdline_size from the header, exactly that many bytes are fine. */
    make_bzimage(&b);
    put32(b.img + 0x238, 256);
    assert_int_equal(load(f, b.img, sizeof(b.img)), 0);
    teardown_ram(f);
}

/* ---- Multiboot ---- */

#define AOUT_BASE 0x100000u
#define AOUT_HDR 0x40u

/* An a.out-kludge kernel of 0x200 bytes loaded at 1 MiB, bss up to bss_end. */
static void make_aout(uint8_t *img, uint32_t flags, uint32_t bss_end)
{
    for (unsigned i = 0; i < 0x200; i++)
        img[i] = (uint8_t)(0x90 + i);
    uint8_t *h = img + AOUT_HDR;
    put32(h, MB_HEADER_MAGIC);
    put32(h + 4, flags);
    put32(h + 8, (uint32_t)-(MB_HEADER_MAGIC + flags));
    put32(h + 12, AOUT_BASE + AOUT_HDR);  /* header_addr */
    put32(h + 16, AOUT_BASE);             /* load_addr */
    put32(h + 20, 0);                     /* load_end_addr: whole file */
    put32(h + 24, bss_end);
    put32(h + 28, AOUT_BASE + 0x80);      /* entry */
}

static void test_multiboot_aout(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(32 * MIB);
    uint8_t img[0x200];
    make_aout(img, 0x10003, AOUT_BASE + 0x2000);
    f->req.cmdline = "root=device:hd0s1 -s";
    assert_int_equal(load(f, img, sizeof(img)), 0);
    assert_int_equal(f->st.kind, BOOT_MULTIBOOT);
    check_flat_pm(f);
    assert_int_equal(f->st.eip, AOUT_BASE + 0x80);
    assert_int_equal(f->st.regs[0], 0x2badb002u);
    uint32_t mbi = f->st.regs[3];
    assert_true(mbi != 0 && mbi < 0xa0000);
    assert_memory_equal(f->pm.ram + AOUT_BASE, img, sizeof(img));
    for (uint32_t a = AOUT_BASE + 0x200; a < AOUT_BASE + 0x2000; a++)
        assert_int_equal(f->pm.ram[a], 0);   /* bss zeroed */
    uint32_t flags = rd32(f, mbi);
    assert_true(flags & (1u << 0));   /* mem_* */
    assert_true(flags & (1u << 2));   /* cmdline */
    assert_true(flags & (1u << 6));   /* mmap */
    assert_int_equal(rd32(f, mbi + 4), 0x9fc00 / 1024);          /* mem_lower = 639 */
    assert_int_equal(rd32(f, mbi + 8), (32 * MIB - MIB) / 1024); /* mem_upper */
    assert_string_equal((char *)f->pm.ram + rd32(f, mbi + 16), "/boot/kernel root=device:hd0s1 -s");
    if (flags & (1u << 3))
        assert_int_equal(rd32(f, mbi + 20), 0);                  /* no modules */
    if (flags & (1u << 1))
        assert_int_equal(rd32(f, mbi + 12) >> 24, 0x80);         /* first hard disk */
    /* mmap: size field 20, then base, length, type, from the e820 map. */
    uint32_t len = rd32(f, mbi + 44), addr = rd32(f, mbi + 48);
    assert_int_equal(len, f->req.e820_count * 24);
    for (unsigned i = 0; i < f->req.e820_count; i++) {
        assert_int_equal(rd32(f, addr + i * 24), 20);
        assert_int_equal(rd64(f, addr + i * 24 + 4), f->e820[i].addr);
        assert_int_equal(rd64(f, addr + i * 24 + 12), f->e820[i].len);
        assert_int_equal(rd32(f, addr + i * 24 + 20), f->e820[i].type);
    }
    /* Nothing the loader wrote may overlap the kernel. */
    assert_true(rd32(f, mbi + 16) >= AOUT_BASE + 0x2000 || rd32(f, mbi + 16) < AOUT_BASE);
    teardown_ram(f);
}

/* A kernel where the loader's low tables usually go (0x8000, as small kernels link
 * themselves) loads; the GDT, memory map and information structure move past it. */
static void test_multiboot_low_kernel(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(32 * MIB);
    uint8_t img[0x200];
    const uint32_t base = 0x8000, bss_end = 0x8000 + 0x3000;
    make_aout(img, 0x10003, bss_end);
    put32(img + AOUT_HDR + 12, base + AOUT_HDR);
    put32(img + AOUT_HDR + 16, base);
    put32(img + AOUT_HDR + 28, base + 0x80);
    assert_int_equal(load(f, img, sizeof(img)), 0);
    assert_memory_equal(f->pm.ram + base, img, sizeof(img));
    for (uint32_t a = base + 0x200; a < bss_end; a++)
        assert_int_equal(f->pm.ram[a], 0);   /* bss zeroed and not overwritten by tables */
    uint32_t mbi = f->st.regs[3], mmap = rd32(f, mbi + 48);
    assert_true(mbi >= bss_end);
    assert_true(mmap >= bss_end);
    assert_true(f->st.gdt_base >= bss_end);
    assert_int_equal(rd32(f, mmap), 20);
    assert_string_equal((char *)f->pm.ram + rd32(f, mbi + 16), "/boot/kernel");
    check_flat_pm(f);

    /* Below 0x500 it would overwrite the interrupt table and the BIOS data area. */
    make_aout(img, 0x10003, 0);
    put32(img + AOUT_HDR + 12, 0x100 + AOUT_HDR);
    put32(img + AOUT_HDR + 16, 0x100);
    put32(img + AOUT_HDR + 28, 0x180);
    expect_error(f, img, sizeof(img), "below 0x500");
    teardown_ram(f);
}

static void test_multiboot_modules(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(32 * MIB);
    uint8_t img[0x200];
    make_aout(img, 0x10003, AOUT_BASE + 0x2345);
    const char *m1 = tmpfile_with(f, 5000, 1);
    const char *m2 = tmpfile_with(f, 100, 9);
    char list[256];
    snprintf(list, sizeof(list), "%s arg1 arg2,%s a,,b", m1, m2);
    f->req.initrd = list;
    assert_int_equal(load(f, img, sizeof(img)), 0);
    uint32_t mbi = f->st.regs[3];
    assert_true(rd32(f, mbi) & (1u << 3));
    assert_int_equal(rd32(f, mbi + 20), 2);
    uint32_t mods = rd32(f, mbi + 24);
    uint32_t s1 = rd32(f, mods), e1 = rd32(f, mods + 4);
    uint32_t s2 = rd32(f, mods + 16), e2 = rd32(f, mods + 20);
    assert_int_equal(s1 & 0xfff, 0);
    assert_int_equal(s2 & 0xfff, 0);
    assert_true(s1 >= AOUT_BASE + 0x2345);            /* after the kernel's bss */
    assert_int_equal(s1, 0x103000);                   /* the next page */
    assert_int_equal(e1 - s1, 5000);
    assert_true(s2 >= e1);
    assert_int_equal(e2 - s2, 100);
    char want[256];
    snprintf(want, sizeof(want), "%s arg1 arg2", m1);
    assert_string_equal((char *)f->pm.ram + rd32(f, mods + 8), want);
    snprintf(want, sizeof(want), "%s a,b", m2);
    assert_string_equal((char *)f->pm.ram + rd32(f, mods + 24), want);
    for (uint32_t i = 0; i < 5000; i++)
        assert_int_equal(f->pm.ram[s1 + i], (uint8_t)(1 + i));
    for (uint32_t i = 0; i < 100; i++)
        assert_int_equal(f->pm.ram[s2 + i], (uint8_t)(9 + i));
    /* Module list and strings do not overlap the modules. */
    assert_true(mods >= e2 || mods + 32 <= s1);

    f->req.initrd = "/nonexistent/module arg";
    expect_error(f, img, sizeof(img), "/nonexistent/module");
    teardown_ram(f);
}

static void test_multiboot_split(void **state)
{
    (void)state;
    char buf[128];
    const char *mods[4];
    assert_int_equal(multiboot_split_modules("a x,b,,c y,d", buf, sizeof(buf), mods, 4), 3);
    assert_string_equal(mods[0], "a x");
    assert_string_equal(mods[1], "b,c y");
    assert_string_equal(mods[2], "d");
    assert_int_equal(multiboot_split_modules("", buf, sizeof(buf), mods, 4), 0);
    assert_int_equal(multiboot_split_modules("a,b,c,d,e", buf, sizeof(buf), mods, 4), -1);
    assert_int_equal(multiboot_split_modules("abcdefgh", buf, 4, mods, 4), -1);
}

/* A Multiboot ELF kernel linked at 0xc0100000 and loaded at its physical address 1 MiB. */
static size_t make_mb_elf(uint8_t *img, size_t cap, uint32_t mbflags)
{
    memset(img, 0, cap);
    const uint32_t off = 0x100, filesz = 0x300, memsz = 0x1000;
    memcpy(img, "\x7f" "ELF", 4);
    img[4] = 1; img[5] = 1; img[6] = 1;
    put16(img + 16, 2);           /* ET_EXEC */
    put16(img + 18, 3);           /* EM_386 */
    put32(img + 20, 1);
    put32(img + 24, 0xc0100010);  /* e_entry (virtual) */
    put32(img + 28, 52);          /* e_phoff */
    put16(img + 40, 52);
    put16(img + 42, 32);
    put16(img + 44, 1);
    uint8_t *ph = img + 52;
    put32(ph, 1);                 /* PT_LOAD */
    put32(ph + 4, off);
    put32(ph + 8, 0xc0100000);
    put32(ph + 12, 0x100000);
    put32(ph + 16, filesz);
    put32(ph + 20, memsz);
    for (uint32_t i = 0; i < filesz; i++)
        img[off + i] = (uint8_t)(i ^ 0x5a);
    if (mbflags != 0xffffffffu) {
        uint8_t *h = img + off + 0x20;
        put32(h, MB_HEADER_MAGIC);
        put32(h + 4, mbflags);
        put32(h + 8, (uint32_t)-(MB_HEADER_MAGIC + mbflags));
    }
    return off + filesz;
}

static void test_multiboot_elf(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(32 * MIB);
    uint8_t img[0x400];
    size_t n = make_mb_elf(img, sizeof(img), 0x3);
    assert_int_equal(load(f, img, n), 0);
    assert_int_equal(f->st.kind, BOOT_MULTIBOOT);
    assert_int_equal(f->st.eip, 0x100010);    /* virtual entry translated */
    assert_int_equal(f->st.regs[0], 0x2badb002u);
    assert_memory_equal(f->pm.ram + 0x100000, img + 0x100, 0x300);
    for (uint32_t a = 0x100300; a < 0x101000; a++)
        assert_int_equal(f->pm.ram[a], 0);
    assert_string_equal((char *)f->pm.ram + rd32(f, f->st.regs[3] + 16), "/boot/kernel");

    /* Without a Multiboot header it is a plain ELF: same load, no information structure. */
    n = make_mb_elf(img, sizeof(img), 0xffffffffu);
    assert_int_equal(load(f, img, n), 0);
    assert_int_equal(f->st.kind, BOOT_ELF);
    assert_int_equal(f->st.eip, 0x100010);
    check_flat_pm(f);
    teardown_ram(f);
}

static void test_multiboot_errors(void **state)
{
    (void)state;
    struct fixture *f = setup_ram(32 * MIB);
    uint8_t img[0x400];

    make_aout(img, 0x10003, 0);
    put32(img + AOUT_HDR + 8, 0x12345678);    /* bad checksum: not a Multiboot kernel at all */
    expect_error(f, img, 0x200, "not a Linux bzImage, a Multiboot kernel or an ELF32");

    make_aout(img, 0x10000 | (1u << 3), 0);   /* a required flag we do not know */
    expect_error(f, img, 0x200, "unsupported");

    make_aout(img, 0x10003, 0);
    put32(img + AOUT_HDR + 16, AOUT_BASE + 0x100);   /* load_addr above header_addr */
    expect_error(f, img, 0x200, "load_addr");

    make_aout(img, 0x10003, 0);
    put32(img + AOUT_HDR + 28, 0x500000);             /* entry outside */
    expect_error(f, img, 0x200, "entry");

    make_aout(img, 0x10003, 0);
    put32(img + AOUT_HDR + 20, AOUT_BASE + 0x1000);   /* load_end past the file */
    expect_error(f, img, 0x200, "truncated");

    make_aout(img, 0x10003, 64 * MIB);                /* bss beyond RAM */
    expect_error(f, img, 0x200, "-m");

    make_aout(img, 0x10003, 0);                       /* into the ROM/VGA hole */
    put32(img + AOUT_HDR + 12, 0xc0000 + AOUT_HDR);
    put32(img + AOUT_HDR + 16, 0xc0000);
    put32(img + AOUT_HDR + 28, 0xc0080);
    expect_error(f, img, 0x200, "overlaps");

    make_aout(img, 0x3, 0);                           /* no address fields and not ELF */
    expect_error(f, img, 0x200, "neither ELF");

    size_t n = make_mb_elf(img, sizeof(img), 0x3);
    img[4] = 2;                                       /* ELFCLASS64 */
    expect_error(f, img, n, "64-bit");

    n = make_mb_elf(img, sizeof(img), 0x3);
    expect_error(f, img, n - 0x10, "truncated");

    n = make_mb_elf(img, sizeof(img), 0x3);
    put32(img + 24, 0xd0000000);                      /* entry nowhere */
    expect_error(f, img, n, "entry");
    teardown_ram(f);
}

static void test_e820_builder(void **state)
{
    (void)state;
    struct e820_entry m[16];
    unsigned n = boot_build_e820(256 * MIB, 256 * MIB - 0x20000, 0x20000, m, 16);
    /* Usable RAM: 0..0x9fc00 and 1 MiB up to the ACPI tables; nothing usable in the hole. */
    uint64_t usable = 0;
    bool acpi = false;
    for (unsigned i = 0; i < n; i++) {
        if (m[i].type == E820_RAM) {
            usable += m[i].len;
            assert_false(m[i].addr < 0x100000 && m[i].addr + m[i].len > 0xa0000);
        }
        if (m[i].type == E820_ACPI) {
            acpi = true;
            assert_int_equal(m[i].addr, 256 * MIB - 0x20000);
        }
    }
    assert_true(acpi);
    assert_int_equal(usable, 0x9fc00 + (256 * MIB - 0x20000 - MIB));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_basic),
        cmocka_unit_test(test_linux_initrd_top),
        cmocka_unit_test(test_linux_initrd_addr_max_and_acpi),
        cmocka_unit_test(test_linux_errors),
        cmocka_unit_test(test_linux_too_little_ram),
        cmocka_unit_test(test_linux_from_file_and_relocation),
        cmocka_unit_test(test_linux_old_protocol_limits),
        cmocka_unit_test(test_multiboot_aout),
        cmocka_unit_test(test_multiboot_low_kernel),
        cmocka_unit_test(test_multiboot_modules),
        cmocka_unit_test(test_multiboot_split),
        cmocka_unit_test(test_multiboot_elf),
        cmocka_unit_test(test_multiboot_errors),
        cmocka_unit_test(test_e820_builder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

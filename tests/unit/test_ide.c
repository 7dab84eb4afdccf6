/* PIIX3 IDE at the register level: IDENTIFY words, PIO and DMA transfers, resets and ATAPI
 * packets, checked against the ATA/ATAPI-6, SFF-8038i and MMC facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "block/block.h"
#include "hw/ide.h"
#include "hw/pci.h"
#include "mem/memory.h"

struct irq_rec {
    int level[16];
    int raises[16];
};

static void irq_handler(void *opaque, int n, int level)
{
    struct irq_rec *r = opaque;
    if (level && !r->level[n])
        r->raises[n]++;
    r->level[n] = level;
}

struct fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus pci;
    struct ide_ctrl ide;
    struct irq_rec irq;
    struct block_dev *disk, *cd;
    struct block_aio_pool pool;
    bool use_pool;
    char disk_path[64], cd_path[64];
};

#define DISK_SECTORS 4096u
#define CD_SECTORS 300u

static uint8_t disk_pattern(uint64_t off) { return (uint8_t)(off * 7 + (off >> 9) * 13); }
static uint8_t cd_pattern(uint64_t off) { return (uint8_t)(off * 3 + (off >> 11) * 5 + 1); }

static int setup_common(void **state, bool pool)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(phys_mem_init(&f->mem, 4 << 20, 4 << 20), 0);
    io_bus_init(&f->io);
    pci_bus_init(&f->pci, &f->mem, &f->io, NULL, NULL);
    strcpy(f->disk_path, "/tmp/test_ide_disk.XXXXXX");
    strcpy(f->cd_path, "/tmp/test_ide_cd.XXXXXX");
    int fd = mkstemp(f->disk_path);
    assert_true(fd >= 0);
    uint8_t *buf = malloc(DISK_SECTORS * 512);
    for (uint64_t i = 0; i < DISK_SECTORS * 512; i++)
        buf[i] = disk_pattern(i);
    assert_int_equal(write(fd, buf, DISK_SECTORS * 512), DISK_SECTORS * 512);
    close(fd);
    free(buf);
    fd = mkstemp(f->cd_path);
    assert_true(fd >= 0);
    buf = malloc(CD_SECTORS * 2048);
    for (uint64_t i = 0; i < CD_SECTORS * 2048; i++)
        buf[i] = cd_pattern(i);
    assert_int_equal(write(fd, buf, CD_SECTORS * 2048), CD_SECTORS * 2048);
    close(fd);
    free(buf);
    char err[BLOCK_ERR_LEN];
    f->disk = block_open(f->disk_path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    f->cd = block_open(f->cd_path, "raw", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(f->disk);
    assert_non_null(f->cd);
    f->use_pool = pool;
    if (pool)
        assert_int_equal(block_aio_pool_init(&f->pool, NULL), 0);
    struct irq_line i14, i15;
    irq_connect(&i14, irq_handler, &f->irq, 14);
    irq_connect(&i15, irq_handler, &f->irq, 15);
    struct block_dev *drives[4] = { f->disk, NULL, f->cd, NULL };
    bool cdrom[4] = { false, false, true, false };
    assert_int_equal(ide_init(&f->ide, &f->pci, 1 << 3 | 1, &f->io, &f->mem, i14, i15, drives, cdrom,
                              pool ? &f->pool : NULL), 0);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_common(state, false); }
static int setup_pool(void **state) { return setup_common(state, true); }

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->use_pool)
        block_aio_pool_destroy(&f->pool);
    ide_destroy(&f->ide);
    block_close(f->disk);
    block_close(f->cd);
    unlink(f->disk_path);
    unlink(f->cd_path);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static uint8_t inb(struct fixture *f, uint16_t p) { return (uint8_t)io_read(&f->io, p, 1); }
static uint16_t inw(struct fixture *f, uint16_t p) { return (uint16_t)io_read(&f->io, p, 2); }
static void outb(struct fixture *f, uint16_t p, uint8_t v) { io_write(&f->io, p, v, 1); }
static void outw(struct fixture *f, uint16_t p, uint16_t v) { io_write(&f->io, p, v, 2); }

/* Let asynchronous completions land (no-op without a pool). */
static void settle(struct fixture *f)
{
    if (f->use_pool)
        block_aio_drain(&f->pool);
}

static void read_words(struct fixture *f, uint16_t base, uint16_t *w, int n)
{
    for (int i = 0; i < n; i++)
        w[i] = inw(f, base);
}

static void ata_lba28(struct fixture *f, uint16_t base, uint32_t lba, uint8_t count, uint8_t cmd)
{
    outb(f, base + 6, (uint8_t)(0xe0 | (lba >> 24)));
    outb(f, base + 2, count);
    outb(f, base + 3, (uint8_t)lba);
    outb(f, base + 4, (uint8_t)(lba >> 8));
    outb(f, base + 5, (uint8_t)(lba >> 16));
    outb(f, base + 7, cmd);
}

static void test_identify(void **state)
{
    struct fixture *f = *state;
    int before = f->irq.raises[14];
    outb(f, 0x1f6, 0xa0);
    outb(f, 0x1f7, 0xec);
    assert_int_equal(f->irq.raises[14], before + 1);
    assert_true(inb(f, 0x3f6) & 0x08);          /* DRQ */
    uint16_t w[256];
    read_words(f, 0x1f0, w, 256);
    assert_int_equal(w[0] & 0x8000, 0);          /* ATA device */
    assert_true(w[49] & (1 << 9));               /* LBA */
    assert_true(w[49] & (1 << 8));               /* DMA */
    assert_int_equal(w[60] | (uint32_t)w[61] << 16, DISK_SECTORS);
    assert_true(w[83] & (1 << 10));              /* 48-bit feature set */
    assert_true(w[83] & (1 << 13));              /* FLUSH CACHE EXT */
    assert_true(w[86] & (1 << 10));
    assert_int_equal(w[100], DISK_SECTORS);
    assert_int_equal(w[101] | w[102] | w[103], 0);
    assert_int_equal(w[47] & 0xff, 16);          /* max sectors per READ MULTIPLE */
    assert_int_equal(w[88] & 0x3f, 0x3f);        /* UDMA 0-5 */
    /* Strings: first character in the high byte of each word. */
    assert_int_equal(w[27] >> 8, 'P');
    assert_int_equal(w[27] & 0xff, 'C');
    assert_int_equal(w[28] >> 8, 'V');
    assert_true(w[85] & (1 << 5));               /* write cache enabled (cache=writeback) */
    uint8_t st = inb(f, 0x1f7);
    assert_int_equal(st & 0x88, 0);              /* not busy, no DRQ */
    /* SET FEATURES 82h disables the write cache; IDENTIFY shows it. */
    outb(f, 0x1f1, 0x82);
    outb(f, 0x1f7, 0xef);
    assert_int_equal(inb(f, 0x1f7) & 0x01, 0);
    outb(f, 0x1f7, 0xec);
    read_words(f, 0x1f0, w, 256);
    assert_int_equal(w[85] & (1 << 5), 0);
    /* An unknown SET FEATURES subcommand aborts. */
    outb(f, 0x1f1, 0x77);
    outb(f, 0x1f7, 0xef);
    assert_int_equal(inb(f, 0x1f7) & 0x01, 1);
    assert_int_equal(inb(f, 0x1f1), 0x04);
    assert_true(st & 0x40);                      /* DRDY */
    assert_int_equal(f->irq.level[14], 0);       /* reading status lowered INTRQ */
    (void)st;
}

static void test_pio_read_write(void **state)
{
    struct fixture *f = *state;
    int before = f->irq.raises[14];
    ata_lba28(f, 0x1f0, 100, 2, 0x20);
    settle(f);
    uint16_t w[512];
    /* One interrupt per sector for READ SECTORS; the handler reads status first. */
    assert_int_equal(f->irq.raises[14], before + 1);
    inb(f, 0x1f7);
    read_words(f, 0x1f0, w, 256);
    inb(f, 0x1f7);
    read_words(f, 0x1f0, w + 256, 256);
    assert_int_equal(f->irq.raises[14], before + 2);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(((uint8_t *)w)[i], disk_pattern(100 * 512 + (uint64_t)i));
    assert_int_equal(inb(f, 0x1f7) & 0x89, 0);
    /* Registers hold the last sector transferred. */
    assert_int_equal(inb(f, 0x1f3), 101);

    /* WRITE SECTORS: DRQ at once without an interrupt, interrupt after the data. */
    before = f->irq.raises[14];
    ata_lba28(f, 0x1f0, 7, 1, 0x30);
    assert_int_equal(f->irq.raises[14], before);
    assert_true(inb(f, 0x3f6) & 0x08);
    for (int i = 0; i < 256; i++)
        outw(f, 0x1f0, (uint16_t)(0xa5a5 ^ i));
    settle(f);
    assert_int_equal(f->irq.raises[14], before + 1);
    assert_int_equal(inb(f, 0x1f7) & 0x89, 0);
    uint8_t sec[512];
    assert_int_equal(block_pread(f->disk, 7 * 512, sec, 512), 0);
    assert_int_equal(sec[0], 0xa5);
    assert_int_equal(sec[1], 0xa5);
    assert_int_equal(sec[2], 0xa4);
}

static void test_multiple_and_lba48(void **state)
{
    struct fixture *f = *state;
    /* READ MULTIPLE without SET MULTIPLE... the default after reset is 16: set 4. */
    outb(f, 0x1f6, 0xe0);
    outb(f, 0x1f2, 4);
    outb(f, 0x1f7, 0xc6);
    assert_int_equal(inb(f, 0x1f7) & 0x01, 0);
    int before = f->irq.raises[14];
    ata_lba28(f, 0x1f0, 8, 8, 0xc4);
    uint16_t w[8 * 256];
    inb(f, 0x1f7);
    read_words(f, 0x1f0, w, 4 * 256);
    inb(f, 0x1f7);
    read_words(f, 0x1f0, w + 4 * 256, 4 * 256);
    assert_int_equal(f->irq.raises[14], before + 2); /* one per 4-sector block */
    for (int i = 0; i < 8 * 512; i++)
        assert_int_equal(((uint8_t *)w)[i], disk_pattern(8 * 512 + (uint64_t)i));
    /* SET MULTIPLE with a non power of two aborts. */
    outb(f, 0x1f2, 3);
    outb(f, 0x1f7, 0xc6);
    assert_int_equal(inb(f, 0x1f7) & 0x01, 1);
    assert_int_equal(inb(f, 0x1f1), 0x04);

    /* READ SECTORS EXT: the HOB bytes are written first. */
    outb(f, 0x1f6, 0x40);
    outb(f, 0x1f2, 0);
    outb(f, 0x1f2, 1);
    outb(f, 0x1f3, 0);
    outb(f, 0x1f3, 0x10);     /* LBA 16 + 0 << 24 */
    outb(f, 0x1f4, 0);
    outb(f, 0x1f4, 0);
    outb(f, 0x1f5, 0);
    outb(f, 0x1f5, 0);
    outb(f, 0x1f7, 0x24);
    read_words(f, 0x1f0, w, 256);
    for (int i = 0; i < 512; i++)
        assert_int_equal(((uint8_t *)w)[i], disk_pattern(16 * 512 + (uint64_t)i));
    /* Past the end of the disk: IDNF. */
    ata_lba28(f, 0x1f0, DISK_SECTORS, 1, 0x20);
    assert_int_equal(inb(f, 0x1f7) & 0x01, 1);
    assert_true(inb(f, 0x1f1) & 0x10);
}

static void put_prd(struct fixture *f, uint32_t at, uint32_t addr, uint32_t len, bool eot)
{
    phys_write(&f->mem, at, addr, 4);
    phys_write(&f->mem, at + 4, (len & 0xffff) | (eot ? 0x80000000u : 0), 4);
}

static uint16_t bm_base(struct fixture *f)
{
    /* Program BAR4 and enable I/O + bus mastering like a BIOS would. */
    pci_config_write(&f->pci, 1 << 3 | 1, 0x20, 0xc000, 4);
    pci_config_write(&f->pci, 1 << 3 | 1, 0x04, 0x0005, 2);
    return 0xc000;
}

static void test_dma_read_write(void **state)
{
    struct fixture *f = *state;
    uint16_t bm = bm_base(f);
    assert_int_equal(pci_config_read(&f->pci, 1 << 3 | 1, 0, 4), 0x70108086u);
    assert_int_equal(pci_config_read(&f->pci, 1 << 3 | 1, 0x08, 4) >> 8, 0x010180u);
    /* Two PRDs: 1024 bytes at 0x10000 and 1024 at 0x20000 (EOT). */
    put_prd(f, 0x1000, 0x10000, 1024, false);
    put_prd(f, 0x1008, 0x20000, 1024, true);
    io_write(&f->io, bm + 4, 0x1000, 4);
    int before = f->irq.raises[14];
    ata_lba28(f, 0x1f0, 40, 4, 0xc8);            /* READ DMA */
    outb(f, bm, 0x09);                           /* start, device -> memory */
    settle(f);
    assert_int_equal(f->irq.raises[14], before + 1);
    uint8_t bst = inb(f, bm + 2);
    assert_true(bst & 0x04);                     /* interrupt */
    assert_int_equal(bst & 0x03, 0);             /* not active, no error */
    outb(f, bm, 0x00);
    for (int i = 0; i < 1024; i++) {
        assert_int_equal(phys_read(&f->mem, 0x10000 + (uint32_t)i, 1), disk_pattern(40 * 512 + (uint64_t)i));
        assert_int_equal(phys_read(&f->mem, 0x20000 + (uint32_t)i, 1), disk_pattern(42 * 512 + (uint64_t)i));
    }
    assert_int_equal(inb(f, 0x1f7) & 0x89, 0);
    outb(f, bm + 2, 0x04);                       /* write one to clear */
    assert_int_equal(inb(f, bm + 2) & 0x04, 0);

    /* WRITE DMA from one 512-byte PRD. */
    for (uint32_t i = 0; i < 512; i++)
        phys_write(&f->mem, 0x30000 + i, (uint8_t)(i ^ 0x3c), 1);
    put_prd(f, 0x1000, 0x30000, 512, true);
    ata_lba28(f, 0x1f0, 9, 1, 0xca);
    outb(f, bm, 0x01);
    settle(f);
    assert_int_equal(inb(f, 0x1f7) & 0x89, 0);
    outb(f, bm, 0x00);
    uint8_t sec[512];
    assert_int_equal(block_pread(f->disk, 9 * 512, sec, 512), 0);
    for (int i = 0; i < 512; i++)
        assert_int_equal(sec[i], (uint8_t)(i ^ 0x3c));
    /* A PRD larger than the transfer leaves ACTIVE set (SFF-8038i). */
    put_prd(f, 0x1000, 0x30000, 4096, true);
    ata_lba28(f, 0x1f0, 9, 1, 0xc8);
    outb(f, bm, 0x09);
    settle(f);
    assert_int_equal(inb(f, bm + 2) & 0x05, 0x05);
    outb(f, bm, 0x00);
    /* FLUSH CACHE completes with an interrupt. */
    before = f->irq.raises[14];
    inb(f, 0x1f7);
    outb(f, 0x1f7, 0xe7);
    settle(f);
    assert_int_equal(f->irq.raises[14], before + 1);
    assert_int_equal(inb(f, 0x1f7) & 0x81, 0);
}

static void test_reset_and_absent(void **state)
{
    struct fixture *f = *state;
    /* Slave on channel 0 is absent: its registers read 0. */
    outb(f, 0x1f6, 0xb0);
    assert_int_equal(inb(f, 0x1f7), 0);
    outb(f, 0x1f6, 0xa0);
    /* SRST: ATA signature 01 01 00 00, ATAPI signature 14 EB. */
    outb(f, 0x3f6, 0x04);
    assert_true(inb(f, 0x3f6) & 0x80);
    outb(f, 0x3f6, 0x00);
    assert_int_equal(inb(f, 0x1f2), 1);
    assert_int_equal(inb(f, 0x1f3), 1);
    assert_int_equal(inb(f, 0x1f4), 0);
    assert_int_equal(inb(f, 0x1f5), 0);
    assert_int_equal(inb(f, 0x1f7) & 0xc0, 0x40);
    outb(f, 0x376, 0x04);
    outb(f, 0x376, 0x00);
    assert_int_equal(inb(f, 0x174), 0x14);
    assert_int_equal(inb(f, 0x175), 0xeb);
    /* IDENTIFY DEVICE on the ATAPI device aborts. */
    outb(f, 0x177, 0xec);
    assert_int_equal(inb(f, 0x177) & 0x01, 1);
    assert_int_equal(inb(f, 0x174), 0x14);
    /* nIEN masks INTRQ. */
    int before = f->irq.raises[14];
    outb(f, 0x3f6, 0x02);
    outb(f, 0x1f6, 0xa0);
    outb(f, 0x1f7, 0xe5);   /* CHECK POWER MODE */
    assert_int_equal(f->irq.raises[14], before);
    assert_int_equal(inb(f, 0x1f2), 0xff);
    outb(f, 0x3f6, 0x00);
}

/* Send a 12-byte packet on channel 1; returns the status after the packet. */
static uint8_t atapi_cmd(struct fixture *f, const uint8_t *pkt, uint16_t limit, bool dma)
{
    outb(f, 0x176, 0xa0);
    outb(f, 0x171, dma ? 1 : 0);
    outb(f, 0x174, (uint8_t)limit);
    outb(f, 0x175, (uint8_t)(limit >> 8));
    outb(f, 0x177, 0xa0);
    assert_true(inb(f, 0x376) & 0x08);
    assert_int_equal(inb(f, 0x172) & 3, 1);     /* C/D=1, I/O=0: send the packet */
    for (int i = 0; i < 6; i++)
        outw(f, 0x170, (uint16_t)(pkt[2 * i] | pkt[2 * i + 1] << 8));
    settle(f);
    return inb(f, 0x376);
}

/* Read a PIO reply, chunk by chunk; returns bytes read. */
static uint32_t atapi_read_reply(struct fixture *f, uint8_t *out, uint32_t max, int *chunks)
{
    uint32_t got = 0;
    *chunks = 0;
    while ((inb(f, 0x177) & 0x08)) {
        assert_int_equal(inb(f, 0x172) & 3, 2);  /* I/O=1, C/D=0: data to host */
        uint32_t n = inb(f, 0x174) | (uint32_t)inb(f, 0x175) << 8;
        (*chunks)++;
        for (uint32_t i = 0; i < n; i += 2) {
            uint16_t w = inw(f, 0x170);
            if (got + i < max)
                out[got + i] = (uint8_t)w;
            if (got + i + 1 < max)
                out[got + i + 1] = (uint8_t)(w >> 8);
        }
        got += n;
    }
    return got;
}

static void test_atapi(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[8192];
    int chunks;
    uint32_t n;
    /* IDENTIFY PACKET DEVICE: word 0 says ATAPI CD-ROM, removable. */
    outb(f, 0x176, 0xa0);
    outb(f, 0x177, 0xa1);
    uint16_t w[256];
    read_words(f, 0x170, w, 256);
    assert_int_equal(w[0] >> 14, 2);
    assert_int_equal((w[0] >> 8) & 0x1f, 5);
    assert_true(w[0] & 0x80);
    /* INQUIRY */
    uint8_t inq[12] = { 0x12, 0, 0, 0, 36, 0 };
    uint8_t st = atapi_cmd(f, inq, 0xfffe, false);
    assert_true(st & 0x08);
    assert_int_equal(atapi_read_reply(f, buf, sizeof(buf), &chunks), 36);
    assert_int_equal(buf[0] & 0x1f, 5);
    assert_true(buf[1] & 0x80);
    assert_int_equal(inb(f, 0x172) & 3, 3);      /* status phase */
    /* READ CAPACITY */
    uint8_t cap[12] = { 0x25 };
    atapi_cmd(f, cap, 0xfffe, false);
    atapi_read_reply(f, buf, sizeof(buf), &chunks);
    assert_int_equal((uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], CD_SECTORS - 1);
    assert_int_equal(buf[6] << 8 | buf[7], 2048);
    /* READ(10) of 2 sectors with a 2048-byte limit: two chunks. */
    uint8_t rd[12] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 2 };
    atapi_cmd(f, rd, 2048, false);
    assert_int_equal(atapi_read_reply(f, buf, sizeof(buf), &chunks), 4096);
    assert_int_equal(chunks, 2);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(buf[i], cd_pattern(5 * 2048 + (uint64_t)i));
    assert_int_equal(inb(f, 0x177) & 0x01, 0);
    /* READ CD of user data only (byte 9 = 10h) returns the same 2048-byte sectors. */
    uint8_t rcd[12] = { 0xbe, 0, 0, 0, 0, 6, 0, 0, 1, 0x10 };
    atapi_cmd(f, rcd, 0xfffe, false);
    assert_int_equal(atapi_read_reply(f, buf, sizeof(buf), &chunks), 2048);
    for (int i = 0; i < 2048; i++)
        assert_int_equal(buf[i], cd_pattern(6 * 2048 + (uint64_t)i));
    /* MODE SENSE(6) page 2Ah: 4-byte header, then the capabilities page. */
    uint8_t ms6[12] = { 0x1a, 0, 0x2a, 0, 255 };
    atapi_cmd(f, ms6, 0xfffe, false);
    n = atapi_read_reply(f, buf, sizeof(buf), &chunks);
    assert_int_equal(n, 4 + 20);
    assert_int_equal(buf[0], n - 1);
    assert_int_equal(buf[4], 0x2a);
    assert_int_equal(buf[5], 0x12);
    /* READ TOC format 0, LBA: track 1 at 0, lead-out at the disc size. */
    uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0 };
    atapi_cmd(f, toc, 0xfffe, false);
    n = atapi_read_reply(f, buf, sizeof(buf), &chunks);
    assert_int_equal(n, 20);
    assert_int_equal(buf[0] << 8 | buf[1], 18);
    assert_int_equal(buf[2], 1);
    assert_int_equal(buf[3], 1);
    assert_int_equal(buf[6], 1);
    assert_int_equal(buf[4 + 8 + 2], 0xaa);
    assert_int_equal(buf[16] << 24 | buf[17] << 16 | buf[18] << 8 | buf[19], CD_SECTORS);
    /* MSF: lead-out at (300 + 150) frames = 00:06:00. */
    toc[1] = 2;
    atapi_cmd(f, toc, 0xfffe, false);
    atapi_read_reply(f, buf, sizeof(buf), &chunks);
    assert_int_equal(buf[4 + 5], 0);
    assert_int_equal(buf[4 + 6], 2);            /* track 1 at 00:02:00 */
    assert_int_equal(buf[17], 0);
    assert_int_equal(buf[18], 6);
    assert_int_equal(buf[19], 0);
    /* Out of range READ: ILLEGAL REQUEST / LBA out of range. */
    uint8_t bad[12] = { 0x28, 0, 0, 0, 0x10, 0, 0, 0, 1 };
    st = atapi_cmd(f, bad, 0xfffe, false);
    assert_true(st & 0x01);
    assert_int_equal(inb(f, 0x171) >> 4, 5);
    uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
    atapi_cmd(f, rs, 0xfffe, false);
    atapi_read_reply(f, buf, sizeof(buf), &chunks);
    assert_int_equal(buf[2] & 0x0f, 5);
    assert_int_equal(buf[12], 0x21);
    /* Media change: the next TEST UNIT READY reports UNIT ATTENTION, then ready. */
    ide_cdrom_change(&f->ide, 2, f->cd);
    uint8_t tur[12] = { 0 };
    st = atapi_cmd(f, tur, 0, false);
    assert_true(st & 0x01);
    assert_int_equal(inb(f, 0x171) >> 4, 6);
    st = atapi_cmd(f, tur, 0, false);
    assert_int_equal(st & 0x01, 0);
    /* READ(10) by DMA into a PRD. */
    uint16_t bm = bm_base(f);
    put_prd(f, 0x2000, 0x40000, 4096, true);
    io_write(&f->io, bm + 8 + 4, 0x2000, 4);
    uint8_t rd2[12] = { 0x28, 0, 0, 0, 0, 9, 0, 0, 2 };
    int before = f->irq.raises[15];
    atapi_cmd(f, rd2, 0, true);
    outb(f, bm + 8, 0x09);
    settle(f);
    assert_int_equal(f->irq.raises[15], before + 1);
    assert_int_equal(inb(f, bm + 8 + 2) & 0x07, 0x04);
    for (uint32_t i = 0; i < 4096; i++)
        assert_int_equal(phys_read(&f->mem, 0x40000 + i, 1), cd_pattern(9 * 2048 + (uint64_t)i));
    assert_int_equal(inb(f, 0x172) & 3, 3);
    /* Eject: empty drive reports NOT READY / medium not present. */
    ide_cdrom_change(&f->ide, 2, NULL);
    atapi_cmd(f, tur, 0, false);                 /* unit attention */
    st = atapi_cmd(f, tur, 0, false);
    assert_true(st & 0x01);
    assert_int_equal(inb(f, 0x171) >> 4, 2);
    ide_cdrom_change(&f->ide, 2, f->cd);
}

static void test_channel_without_drives(void **state)
{
    (void)state;
    struct phys_mem mem;
    struct io_bus io;
    struct ide_ctrl ide;
    struct irq_line none = { 0 };
    assert_int_equal(phys_mem_init(&mem, 1 << 20, 1 << 20), 0);
    io_bus_init(&io);
    assert_int_equal(ide_init(&ide, NULL, 0, &io, &mem, none, none, NULL, NULL, NULL), 0);
    assert_int_equal(io_read(&io, 0x1f7, 1), 0xff);  /* floating bus */
    char path[64];
    assert_string_equal(ide_boot_path(1 << 3 | 1, 2, path, sizeof(path)), "/pci@i0cf8/ide@1,1/drive@1/disk@0");
    ide_destroy(&ide);
    phys_mem_destroy(&mem);
}

/* Random register traffic (commands, packets, PRDs anywhere) must never crash or hang. */
static void test_random_guest_traffic(void **state)
{
    struct fixture *f = *state;
    uint16_t bm = bm_base(f);
    static const uint16_t ports[] = { 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7, 0x3f6,
                                      0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376 };
    static const uint8_t cmds[] = { 0x20, 0x24, 0x29, 0x30, 0x34, 0x39, 0xc4, 0xc5, 0xc6, 0xc8, 0xca,
                                    0x25, 0x35, 0xec, 0xa1, 0xa0, 0xe7, 0xea, 0xef, 0x91, 0x40, 0x42,
                                    0x70, 0xe5, 0xf8, 0x27, 0x08, 0x90, 0x00, 0xff };
    static const uint8_t ops[] = { 0x00, 0x03, 0x12, 0x25, 0x28, 0xa8, 0x5a, 0x43, 0x46, 0x4a, 0x1b,
                                   0x1e, 0x51, 0xbd, 0xbb, 0x2b, 0xff };
    uint64_t r = 12345;
    for (int i = 0; i < 200000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        unsigned what = (unsigned)(r >> 59);
        uint16_t port = ports[(r >> 20) % (sizeof(ports) / sizeof(ports[0]))];
        uint32_t v = (uint32_t)(r >> 32);
        if (what < 8) {
            io_write(&f->io, port, v & 0xff, 1);
        } else if (what < 12) {
            io_read(&f->io, port, 1 << ((r >> 8) % 3));
        } else if (what < 16) {
            io_write(&f->io, (port & 0x300) | (port & 0x80 ? 0x70 : 0xf0), v, 1 << ((r >> 8) % 3));
        } else if (what < 20) {
            io_write(&f->io, (uint16_t)((port & 0xff80) | 7 | (port < 0x1f0 ? 0x100 : 0x1f0)),
                     cmds[(r >> 24) % sizeof(cmds)], 1);
        } else if (what < 23) {
            /* a packet on the ATAPI channel */
            outb(f, 0x176, 0xa0);
            outb(f, 0x177, 0xa0);
            uint8_t pkt[12];
            for (int k = 0; k < 12; k++)
                pkt[k] = (uint8_t)(r >> (k * 5));
            pkt[0] = ops[(r >> 13) % sizeof(ops)];
            for (int k = 0; k < 6; k++)
                outw(f, 0x170, (uint16_t)(pkt[2 * k] | pkt[2 * k + 1] << 8));
        } else if (what < 27) {
            io_write(&f->io, (uint16_t)(bm + ((r >> 16) % 16)), v, 1 << ((r >> 8) % 3));
        } else if (what < 29) {
            /* PRD tables anywhere, including past RAM */
            put_prd(f, 0x1000, v & ~1u, (uint32_t)(r >> 3), (r >> 2) & 1);
            io_write(&f->io, bm + 4, (r & 1) ? 0x1000 : v, 4);
        } else {
            for (int k = 0; k < 64; k++)
                io_read(&f->io, (port & 0x80) ? 0x170 : 0x1f0, 2);
        }
        settle(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pio_read_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiple_and_lba48, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_read_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_read_write, setup_pool, teardown),
        cmocka_unit_test_setup_teardown(test_pio_read_write, setup_pool, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atapi, setup, teardown),
        cmocka_unit_test(test_channel_without_drives),
        cmocka_unit_test_setup_teardown(test_random_guest_traffic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_guest_traffic, setup_pool, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* PIIX3 IDE: ATA disks and ATAPI CD-ROMs on two legacy channels with bus-master DMA.
 * Register semantics from the ATA/ATAPI-6 specification, bus-master from the Intel PIIX3
 * datasheet and SFF-8038i, ATAPI replies from MMC-2/SPC. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/ide.h"

enum {
    ST_ERR = 0x01, ST_DRQ = 0x08, ST_DSC = 0x10, ST_DF = 0x20, ST_DRDY = 0x40, ST_BSY = 0x80,
    ER_ABRT = 0x04, ER_IDNF = 0x10, ER_UNC = 0x40,
    DC_NIEN = 0x02, DC_SRST = 0x04, DC_HOB = 0x80,
    BM_CMD_START = 0x01, BM_CMD_READ = 0x08,         /* READ: device -> memory */
    BM_ST_ACTIVE = 0x01, BM_ST_ERROR = 0x02, BM_ST_INT = 0x04,
    ATAPI_SECTOR = 2048,
};

/* SCSI sense keys and additional sense codes used here. */
enum {
    SENSE_NONE = 0, SENSE_NOT_READY = 2, SENSE_ILLEGAL_REQUEST = 5, SENSE_UNIT_ATTENTION = 6,
    ASC_INVALID_OPCODE = 0x20, ASC_LBA_OUT_OF_RANGE = 0x21, ASC_INVALID_FIELD = 0x24,
    ASC_MEDIUM_MAY_HAVE_CHANGED = 0x28, ASC_SAVING_NOT_SUPPORTED = 0x39,
    ASC_MEDIUM_NOT_PRESENT = 0x3a, ASC_MEDIUM_REMOVAL_PREVENTED = 0x53,
};

static void put_be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16); put_be16(p + 2, v); }
static uint32_t get_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get_be32(const uint8_t *p) { return get_be16(p) << 16 | get_be16(p + 2); }

static struct ide_drive *cur_drive(struct ide_channel *ch)
{
    return &ch->drives[ch->cur];
}

static void update_irq(struct ide_channel *ch)
{
    irq_set(&ch->irq, ch->irq_pending && !(ch->devctl & DC_NIEN));
}

static void raise_irq(struct ide_channel *ch)
{
    ch->irq_pending = true;
    ch->bm.status |= BM_ST_INT;
    update_irq(ch);
}

static void lower_irq(struct ide_channel *ch)
{
    ch->irq_pending = false;
    update_irq(ch);
}

/* ---------------- task file addressing ---------------- */

static uint64_t get_lba(struct ide_drive *d, bool *ok)
{
    *ok = true;
    if (d->lba48)
        return (uint64_t)d->hob_hcyl << 40 | (uint64_t)d->hob_lcyl << 32 | (uint64_t)d->hob_sector << 24 |
               (uint64_t)d->hcyl << 16 | (uint64_t)d->lcyl << 8 | d->sector;
    if (d->select & 0x40)
        return (uint64_t)(d->select & 0x0f) << 24 | (uint64_t)d->hcyl << 16 | (uint64_t)d->lcyl << 8 | d->sector;
    uint32_t cyl = d->lcyl | (uint32_t)d->hcyl << 8, head = d->select & 0x0f;
    if (!d->sector || d->sector > d->cur_secs || head >= d->cur_heads) {
        *ok = false;
        return 0;
    }
    return ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs + d->sector - 1;
}

static void set_lba(struct ide_drive *d, uint64_t lba)
{
    if (d->lba48) {
        d->sector = (uint8_t)lba;
        d->lcyl = (uint8_t)(lba >> 8);
        d->hcyl = (uint8_t)(lba >> 16);
        d->hob_sector = (uint8_t)(lba >> 24);
        d->hob_lcyl = (uint8_t)(lba >> 32);
        d->hob_hcyl = (uint8_t)(lba >> 40);
    } else if (d->select & 0x40) {
        d->sector = (uint8_t)lba;
        d->lcyl = (uint8_t)(lba >> 8);
        d->hcyl = (uint8_t)(lba >> 16);
        d->select = (uint8_t)((d->select & 0xf0) | ((lba >> 24) & 0x0f));
    } else if (d->cur_heads && d->cur_secs) {
        uint64_t cyl = lba / (d->cur_heads * d->cur_secs);
        uint32_t r = (uint32_t)(lba % (d->cur_heads * d->cur_secs));
        d->lcyl = (uint8_t)cyl;
        d->hcyl = (uint8_t)(cyl >> 8);
        d->select = (uint8_t)((d->select & 0xf0) | (r / d->cur_secs));
        d->sector = (uint8_t)(r % d->cur_secs + 1);
    }
}

static uint32_t sector_count(struct ide_drive *d)
{
    if (d->lba48) {
        uint32_t n = d->nsector | (uint32_t)d->hob_nsector << 8;
        return n ? n : 65536;
    }
    return d->nsector ? d->nsector : 256;
}

/* ---------------- completion helpers ---------------- */

static void cmd_ok(struct ide_drive *d)
{
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    d->pio_end = IDE_END_NONE;
    raise_irq(d->ch);
}

static void cmd_abort(struct ide_drive *d)
{
    d->status = ST_DRDY | ST_ERR;
    d->error = ER_ABRT;
    d->pio_end = IDE_END_NONE;
    d->dma_pending = IDE_DMA_NONE;
    raise_irq(d->ch);
}

static void cmd_error(struct ide_drive *d, uint8_t err)
{
    d->status = ST_DRDY | ST_ERR;
    d->error = err;
    d->pio_end = IDE_END_NONE;
    d->dma_pending = IDE_DMA_NONE;
    raise_irq(d->ch);
}

/* Start a device-to-host PIO block of len bytes from buf. */
static void pio_in(struct ide_drive *d, uint32_t len, enum ide_pio_end end, bool irq)
{
    d->pos = 0;
    d->end = len;
    d->pio_end = end;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    if (irq)
        raise_irq(d->ch);
}

/* ---------------- IDENTIFY ---------------- */

static void put_str(uint16_t *w, int first, int words, const char *s)
{
    size_t len = strlen(s);
    for (int i = 0; i < words * 2; i++) {
        uint8_t c = (size_t)i < len ? (uint8_t)s[i] : ' ';
        if (i & 1)
            w[first + i / 2] |= c;
        else
            w[first + i / 2] = (uint16_t)(c << 8);
    }
}

static void identify_words(struct ide_drive *d, uint16_t *w)
{
    memset(w, 0, 512);
    uint8_t mode = d->xfer_mode;
    if (d->is_cdrom) {
        w[0] = 2u << 14 | 5u << 8 | 1u << 7 | 2u << 5;  /* ATAPI, CD-ROM, removable, 50us DRQ, 12-byte packets */
        put_str(w, 10, 10, d->serial);
        put_str(w, 23, 4, d->firmware);
        put_str(w, 27, 20, d->model);
        w[48] = 1;
        w[49] = 1u << 9 | 1u << 8;                  /* LBA, DMA */
        w[53] = 7;
        w[62] = 7;
        w[63] = 7 | ((mode >> 3) == 4 ? 1u << (8 + (mode & 7)) : 0);
        w[64] = 3;
        w[65] = w[66] = w[67] = w[68] = 0xb4;
        w[71] = 30;
        w[72] = 30;
        w[80] = 0x1e;
        w[82] = 1u << 14 | 1u << 4;                 /* PACKET feature set */
        w[83] = 1u << 14;
        w[84] = 1u << 14;
        w[85] = 1u << 14 | 1u << 4;
        w[86] = 0;
        w[87] = 1u << 14;
        w[88] = 0x3f | ((mode >> 3) == 8 ? 1u << (8 + (mode & 7)) : 0);
        w[93] = 1u << 14 | 1u << 13 | 1;
        return;
    }
    w[0] = 0x0040;                                   /* fixed device */
    w[1] = (uint16_t)d->cyls;
    w[3] = (uint16_t)d->heads;
    w[4] = (uint16_t)(512 * d->secs);
    w[5] = 512;
    w[6] = (uint16_t)d->secs;
    put_str(w, 10, 10, d->serial);
    w[20] = 3;
    w[21] = 512;
    w[22] = 4;
    put_str(w, 23, 4, d->firmware);
    put_str(w, 27, 20, d->model);
    w[47] = 0x8000 | IDE_MAX_MULT;
    w[48] = 1;
    w[49] = 1u << 11 | 1u << 9 | 1u << 8;            /* IORDY, LBA, DMA */
    w[51] = 0x200;
    w[52] = 0x200;
    w[53] = 7;                                       /* words 54-58, 64-70, 88 valid */
    /* Current translation (INITIALIZE DEVICE PARAMETERS may have changed heads/sectors). */
    uint64_t per_cyl = (uint64_t)d->cur_heads * d->cur_secs;
    uint64_t cur_cyls = per_cyl ? d->nb_sectors / per_cyl : 0;
    if (cur_cyls > 65535)
        cur_cyls = 65535;
    uint64_t chs = cur_cyls * per_cyl;
    w[54] = (uint16_t)cur_cyls;
    w[55] = (uint16_t)d->cur_heads;
    w[56] = (uint16_t)d->cur_secs;
    w[57] = (uint16_t)chs;
    w[58] = (uint16_t)(chs >> 16);
    if (d->mult_sectors)
        w[59] = (uint16_t)(0x100 | d->mult_sectors);
    uint64_t lba28 = d->nb_sectors < 0x0fffffff ? d->nb_sectors : 0x0fffffff;
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[62] = 0x07;
    w[63] = 0x07 | ((mode >> 3) == 4 ? 1u << (8 + (mode & 7)) : 0);
    w[64] = 0x03;                                    /* PIO 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0xf0;                                    /* ATA/ATAPI-4 to -7 */
    w[81] = 0x16;
    w[82] = 1u << 14 | 1u << 5;                      /* NOP, write cache (no SMART) */
    w[83] = 1u << 14 | 1u << 13 | 1u << 12 | 1u << 10; /* FLUSH CACHE EXT, FLUSH CACHE, 48-bit */
    w[84] = 1u << 14;
    w[85] = (uint16_t)(1u << 14 | (d->wce ? 1u << 5 : 0));
    w[86] = 1u << 13 | 1u << 12 | 1u << 10;
    w[87] = 1u << 14;
    w[88] = 0x3f | ((mode >> 3) == 8 ? 1u << (8 + (mode & 7)) : 0);
    w[93] = 1u << 14 | 1u << 13 | 1;
    for (int i = 0; i < 4; i++)
        w[100 + i] = (uint16_t)(d->nb_sectors >> (16 * i));
}

static void cmd_identify(struct ide_drive *d, bool packet)
{
    if (d->is_cdrom != packet) {
        if (!packet && d->is_cdrom) {
            /* ATAPI devices abort IDENTIFY DEVICE and show their signature. */
            d->nsector = 1;
            d->sector = 1;
            d->lcyl = 0x14;
            d->hcyl = 0xeb;
        }
        cmd_abort(d);
        return;
    }
    uint16_t w[256];
    identify_words(d, w);
    for (int i = 0; i < 256; i++) {
        d->buf[2 * i] = (uint8_t)w[i];
        d->buf[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
    pio_in(d, 512, IDE_END_DONE, true);
}

/* ---------------- bus-master DMA ---------------- */

struct prd_cursor {
    uint32_t entry;   /* address of the current PRD */
    uint32_t used;    /* bytes of it already moved */
    bool eot_done;    /* the last PRD is used up */
};

/* Move len bytes between buf and guest memory along the PRD table; returns bytes moved. */
static uint32_t dma_move(struct ide_channel *ch, struct prd_cursor *c, uint8_t *buf, uint32_t len, bool to_mem)
{
    struct phys_mem *mem = ch->ctrl->mem;
    uint32_t done = 0;
    int guard = 0;
    while (done < len && !c->eot_done && guard++ < 65536) {
        uint32_t addr = phys_read(mem, c->entry, 4) & ~1u;
        uint32_t ctl = phys_read(mem, c->entry + 4, 4);
        uint32_t count = ctl & 0xfffe;
        if (!count)
            count = 0x10000;
        uint32_t n = count - c->used;
        if (n > len - done)
            n = len - done;
        if (to_mem)
            phys_write_block(mem, addr + c->used, buf + done, n);
        else
            phys_read_block(mem, addr + c->used, buf + done, n);
        done += n;
        c->used += n;
        if (c->used == count) {
            c->used = 0;
            if (ctl & 0x80000000u)
                c->eot_done = true;
            else
                c->entry += 8;
        }
    }
    return done;
}

static void dma_finish(struct ide_channel *ch, struct prd_cursor *c, bool error)
{
    /* ACTIVE stays set when the PRD table described more memory than was transferred. */
    if (c->eot_done || error)
        ch->bm.status &= (uint8_t)~BM_ST_ACTIVE;
    if (error)
        ch->bm.status |= BM_ST_ERROR;
}

struct ide_req {
    struct ide_drive *d;
    uint32_t gen;
    uint8_t *buf;
    uint32_t sectors;
    struct prd_cursor prd;
    bool write;
};

static void ata_dma_step(struct ide_drive *d, struct prd_cursor prd);

static void ata_dma_cb(void *opaque, int ret)
{
    struct ide_req *r = opaque;
    struct ide_drive *d = r->d;
    if (r->gen != d->busy_gen) {  /* the drive was reset meanwhile */
        free(r->buf);
        free(r);
        return;
    }
    d->aio_busy = false;
    struct ide_channel *ch = d->ch;
    /* Guest turned the write cache off (SET FEATURES 82h): every write must be durable. */
    if (ret >= 0 && r->write && !d->wce)
        ret = block_flush(d->bs);
    if (ret < 0) {
        dma_finish(ch, &r->prd, true);
        cmd_error(d, r->write ? ER_ABRT : (ER_UNC | ER_ABRT));
    } else {
        if (!r->write && dma_move(ch, &r->prd, r->buf, r->sectors * 512, true) < r->sectors * 512)
            d->remaining = r->sectors; /* PRD table too short: stop after this piece */
        d->lba += r->sectors;
        d->remaining -= r->sectors;
        set_lba(d, d->lba - 1);
        if (d->remaining && !r->prd.eot_done && (ch->bm.cmd & BM_CMD_START)) {
            struct prd_cursor prd = r->prd;
            free(r->buf);
            free(r);
            ata_dma_step(d, prd);
            return;
        }
        d->dma_pending = IDE_DMA_NONE;
        dma_finish(ch, &r->prd, false);
        cmd_ok(d);
    }
    free(r->buf);
    free(r);
}

static void ata_dma_step(struct ide_drive *d, struct prd_cursor prd)
{
    struct ide_channel *ch = d->ch;
    uint32_t k = d->remaining < 256 ? d->remaining : 256;
    struct ide_req *r = calloc(1, sizeof(*r));
    uint8_t *buf = malloc((size_t)k * 512);
    if (!r || !buf) {
        free(r);
        free(buf);
        dma_finish(ch, &prd, true);
        cmd_abort(d);
        return;
    }
    *r = (struct ide_req){ .d = d, .gen = d->busy_gen, .buf = buf, .sectors = k, .prd = prd,
                           .write = d->dma_pending == IDE_DMA_ATA_WRITE };
    d->aio_busy = true;
    d->status = ST_DRDY | ST_DSC | ST_BSY;
    if (r->write) {
        uint32_t got = dma_move(ch, &r->prd, buf, k * 512, false);
        if (got < k * 512) {
            /* PRD table too short: write the whole sectors we got, then end. */
            k = got / 512;
            r->sectors = k;
            d->remaining = k;
        }
        block_aio_submit(ch->ctrl->aio, d->bs, BLOCK_AIO_WRITE, d->lba * 512, buf, (size_t)k * 512, ata_dma_cb, r);
    } else {
        block_aio_submit(ch->ctrl->aio, d->bs, BLOCK_AIO_READ, d->lba * 512, buf, (size_t)k * 512, ata_dma_cb, r);
    }
}

static void atapi_dma_run(struct ide_drive *d, struct prd_cursor *prd);

/* Start the transfer if both the command and the bus master are ready. */
static void dma_kick(struct ide_channel *ch)
{
    struct ide_drive *d = cur_drive(ch);
    if (!(ch->bm.cmd & BM_CMD_START) || d->dma_pending == IDE_DMA_NONE || d->aio_busy)
        return;
    struct prd_cursor prd = { .entry = ch->bm.prd_addr & ~3u };
    if (d->dma_pending == IDE_DMA_ATAPI) {
        atapi_dma_run(d, &prd);
        return;
    }
    if (!d->remaining) {
        d->dma_pending = IDE_DMA_NONE;
        cmd_ok(d);
        return;
    }
    ata_dma_step(d, prd);
}

/* ---------------- ATA commands ---------------- */

static bool check_range(struct ide_drive *d, uint64_t lba, uint32_t n)
{
    if (!d->bs || lba > d->nb_sectors || n > d->nb_sectors - lba) {
        cmd_error(d, ER_IDNF | ER_ABRT);
        return false;
    }
    return true;
}

static void ata_read_block(struct ide_drive *d)
{
    uint32_t k = d->remaining < d->block_sectors ? d->remaining : d->block_sectors;
    int r = block_pread(d->bs, d->lba * 512, d->buf, (size_t)k * 512);
    if (r < 0) {
        cmd_error(d, ER_UNC | ER_ABRT);
        return;
    }
    d->lba += k;
    d->remaining -= k;
    set_lba(d, d->lba - 1);
    pio_in(d, k * 512, IDE_END_READ_NEXT, true);
}

static void ata_write_next(struct ide_drive *d, bool irq)
{
    uint32_t k = d->remaining < d->block_sectors ? d->remaining : d->block_sectors;
    d->pos = 0;
    d->end = k * 512;
    d->pio_end = IDE_END_WRITE_BLOCK;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    if (irq)
        raise_irq(d->ch);
}

static void ata_rw(struct ide_drive *d, bool lba48, bool write, bool multiple, bool dma)
{
    d->lba48 = lba48;
    if (multiple && !d->mult_sectors) {
        cmd_abort(d);
        return;
    }
    bool ok;
    uint64_t lba = get_lba(d, &ok);
    uint32_t n = sector_count(d);
    if (!ok) {
        cmd_error(d, ER_IDNF | ER_ABRT);
        return;
    }
    if (!check_range(d, lba, n))
        return;
    d->lba = lba;
    d->remaining = n;
    d->block_sectors = multiple ? d->mult_sectors : 1;
    if (dma) {
        d->dma_pending = write ? IDE_DMA_ATA_WRITE : IDE_DMA_ATA_READ;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        dma_kick(d->ch);
        return;
    }
    if (write)
        ata_write_next(d, false);
    else
        ata_read_block(d);
}

static void flush_cb(void *opaque, int ret)
{
    struct ide_req *r = opaque;
    struct ide_drive *d = r->d;
    if (r->gen == d->busy_gen) {
        d->aio_busy = false;
        if (ret < 0)
            cmd_error(d, ER_ABRT);
        else
            cmd_ok(d);
    }
    free(r);
}

static void ata_flush(struct ide_drive *d)
{
    if (!d->bs) {
        cmd_ok(d);
        return;
    }
    struct ide_req *r = calloc(1, sizeof(*r));
    if (!r) {
        cmd_abort(d);
        return;
    }
    r->d = d;
    r->gen = d->busy_gen;
    d->aio_busy = true;
    d->status = ST_DRDY | ST_BSY;
    block_aio_submit(d->ch->ctrl->aio, d->bs, BLOCK_AIO_FLUSH, 0, NULL, 0, flush_cb, r);
}

static void set_signature(struct ide_drive *d)
{
    d->select &= 0xf0;
    d->nsector = 1;
    d->sector = 1;
    if (d->is_cdrom) {
        d->lcyl = 0x14;
        d->hcyl = 0xeb;
    } else {
        d->lcyl = 0;
        d->hcyl = 0;
    }
}

static void atapi_packet_cmd(struct ide_drive *d);

static void exec_command(struct ide_drive *d, uint8_t cmd)
{
    d->command = cmd;
    d->lba48 = false;
    if (d->is_cdrom) {
        switch (cmd) {
        case 0xa0: atapi_packet_cmd(d); return;
        case 0xa1: cmd_identify(d, true); return;
        case 0xec: cmd_identify(d, false); return;
        case 0x08: /* DEVICE RESET */
            set_signature(d);
            d->status = 0;
            d->error = 1;
            d->pio_end = IDE_END_NONE;
            d->dma_pending = IDE_DMA_NONE;
            return;
        case 0x90:
            set_signature(d);
            d->status = 0;
            d->error = 1;
            raise_irq(d->ch);
            return;
        case 0xef: case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe6: case 0xe7: case 0xea:
            if (cmd == 0xef && d->feature == 0x03)
                d->xfer_mode = d->nsector;
            cmd_ok(d);
            return;
        case 0xe5:
            d->nsector = 0xff;
            cmd_ok(d);
            return;
        default:
            cmd_abort(d);
            return;
        }
    }
    switch (cmd) {
    case 0xec: cmd_identify(d, false); return;
    case 0xa1: case 0xa0: cmd_abort(d); return;
    case 0x20: case 0x21: ata_rw(d, false, false, false, false); return;
    case 0x24: ata_rw(d, true, false, false, false); return;
    case 0xc4: ata_rw(d, false, false, true, false); return;
    case 0x29: ata_rw(d, true, false, true, false); return;
    case 0x30: case 0x31: ata_rw(d, false, true, false, false); return;
    case 0x34: ata_rw(d, true, true, false, false); return;
    case 0xc5: ata_rw(d, false, true, true, false); return;
    case 0x39: ata_rw(d, true, true, true, false); return;
    case 0xc8: case 0xc9: ata_rw(d, false, false, false, true); return;
    case 0x25: ata_rw(d, true, false, false, true); return;
    case 0xca: case 0xcb: ata_rw(d, false, true, false, true); return;
    case 0x35: ata_rw(d, true, true, false, true); return;
    case 0x40: case 0x41: case 0x42: { /* READ VERIFY (EXT) */
        d->lba48 = cmd == 0x42;
        bool ok;
        uint64_t lba = get_lba(d, &ok);
        if (!ok) {
            cmd_error(d, ER_IDNF | ER_ABRT);
            return;
        }
        if (check_range(d, lba, sector_count(d))) {
            set_lba(d, lba + sector_count(d) - 1);
            cmd_ok(d);
        }
        return;
    }
    case 0xc6: /* SET MULTIPLE MODE */
        if (d->nsector > IDE_MAX_MULT || (d->nsector & (d->nsector - 1))) {
            cmd_abort(d);
            return;
        }
        d->mult_sectors = d->nsector;
        cmd_ok(d);
        return;
    case 0x91: /* INITIALIZE DEVICE PARAMETERS */
        if (!d->nsector) {
            cmd_abort(d);
            return;
        }
        d->cur_secs = d->nsector;
        d->cur_heads = (d->select & 0x0f) + 1u;
        cmd_ok(d);
        return;
    case 0xef: /* SET FEATURES */
        switch (d->feature) {
        case 0x02: d->wce = true; break;
        case 0x82: d->wce = false; break;
        case 0x03: {
            uint8_t m = d->nsector;
            if ((m >> 3) > 8 || ((m >> 3) == 8 && (m & 7) > 5) || ((m >> 3) == 4 && (m & 7) > 2)) {
                cmd_abort(d);
                return;
            }
            d->xfer_mode = m;
            break;
        }
        case 0x66: case 0xcc: case 0xaa: case 0x55: case 0x05: case 0x85: case 0x31: case 0x95:
            break;
        default:
            cmd_abort(d);
            return;
        }
        cmd_ok(d);
        return;
    case 0xe7: case 0xea: ata_flush(d); return;
    case 0x70: case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15: case 0x16: case 0x17:
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
        cmd_ok(d); /* SEEK, RECALIBRATE */
        return;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe6: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x99:
        cmd_ok(d); /* power management: always active */
        return;
    case 0xe5: case 0x98:
        d->nsector = 0xff; /* CHECK POWER MODE: active or idle */
        cmd_ok(d);
        return;
    case 0xf8: case 0x27: { /* READ NATIVE MAX ADDRESS (EXT) */
        d->lba48 = cmd == 0x27;
        uint64_t max = d->nb_sectors ? d->nb_sectors - 1 : 0;
        if (!d->lba48 && max > 0x0fffffff)
            max = 0x0fffffff;
        set_lba(d, max);
        cmd_ok(d);
        return;
    }
    case 0x90: /* EXECUTE DEVICE DIAGNOSTIC */
        set_signature(d);
        d->status = ST_DRDY | ST_DSC;
        d->error = 1;
        raise_irq(d->ch);
        return;
    default:
        cmd_abort(d);
        return;
    }
}

/* ---------------- ATAPI ---------------- */

static bool has_medium(struct ide_drive *d)
{
    return d->bs && !d->tray_open;
}

static void atapi_ok(struct ide_drive *d)
{
    d->nsector = 3;   /* I/O and C/D: status phase */
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    d->pio_end = IDE_END_NONE;
    d->dma_pending = IDE_DMA_NONE;
    raise_irq(d->ch);
}

static void atapi_check(struct ide_drive *d, uint8_t key, uint8_t asc)
{
    d->sense_key = key;
    d->asc = asc;
    d->ascq = 0;
    d->error = (uint8_t)(key << 4);
    d->status = ST_DRDY | ST_ERR;
    d->nsector = 3;
    d->pio_end = IDE_END_NONE;
    d->dma_pending = IDE_DMA_NONE;
    raise_irq(d->ch);
}

/* Load the next batch of sectors of a READ into buf; returns false on error. */
static bool atapi_refill(struct ide_drive *d)
{
    uint32_t n = d->atapi_left < 32 ? d->atapi_left : 32;
    if (block_pread(d->bs, (uint64_t)d->atapi_lba * ATAPI_SECTOR, d->buf, (size_t)n * ATAPI_SECTOR) < 0)
        return false;
    d->atapi_lba += n;
    d->atapi_left -= n;
    d->remaining = n * ATAPI_SECTOR;
    d->pos = 0;
    return true;
}

/* Offer the next PIO chunk (at most the byte-count limit) of the reply. */
static void atapi_pio_chunk(struct ide_drive *d)
{
    if (d->pos >= d->remaining) {
        if (!d->atapi_left) {
            atapi_ok(d);
            return;
        }
        if (!atapi_refill(d)) {
            atapi_check(d, 3, 0x11); /* MEDIUM ERROR, unrecovered read error */
            return;
        }
    }
    uint32_t limit = d->byte_limit;
    if (!limit || limit == 0xffff)
        limit = 0xfffe;
    if (limit & 1)
        limit--;
    uint32_t n = d->remaining - d->pos;
    if (n > limit)
        n = limit;
    d->lcyl = (uint8_t)n;
    d->hcyl = (uint8_t)(n >> 8);
    d->nsector = 2;  /* I/O: data to host */
    d->end = d->pos + n;
    d->pio_end = IDE_END_ATAPI_DATA;
    d->status = ST_DRDY | ST_DRQ;
    raise_irq(d->ch);
}

static void atapi_dma_run(struct ide_drive *d, struct prd_cursor *prd)
{
    struct ide_channel *ch = d->ch;
    for (;;) {
        uint32_t n = d->remaining - d->pos;
        if (n) {
            uint32_t moved = dma_move(ch, prd, d->buf + d->pos, n, true);
            d->pos += moved;
            if (moved < n)
                break;  /* PRD table exhausted */
        }
        if (!d->atapi_left)
            break;
        if (!atapi_refill(d)) {
            dma_finish(ch, prd, true);
            atapi_check(d, 3, 0x11);
            return;
        }
    }
    dma_finish(ch, prd, false);
    atapi_ok(d);
}

/* Send len bytes of buf (already filled) or of a READ (atapi_left set) to the host. */
static void atapi_reply(struct ide_drive *d, uint32_t len, uint32_t alloc)
{
    if (len > alloc)
        len = alloc;
    d->pos = 0;
    d->remaining = len;
    if (!len && !d->atapi_left) {
        atapi_ok(d);
        return;
    }
    if (d->atapi_dma) {
        d->dma_pending = IDE_DMA_ATAPI;
        d->status = ST_DRDY | ST_DRQ;
        dma_kick(d->ch);
        return;
    }
    atapi_pio_chunk(d);
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    lba += 150;
    p[0] = (uint8_t)(lba / (75 * 60));
    p[1] = (uint8_t)(lba / 75 % 60);
    p[2] = (uint8_t)(lba % 75);
}

static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf) {
        p[0] = 0;
        lba_to_msf(p + 1, lba);
    } else {
        put_be32(p, lba);
    }
}

static uint32_t read_toc(struct ide_drive *d, const uint8_t *cmd, uint8_t *b, bool *ok)
{
    bool msf = cmd[1] & 2;
    unsigned format = cmd[2] & 0x0f;
    if (!format)
        format = cmd[9] >> 6;
    uint8_t start = cmd[6];
    uint32_t total = (uint32_t)d->cd_sectors;
    *ok = true;
    uint32_t len;
    switch (format) {
    case 0:
        if (start > 1 && start != 0xaa) {
            *ok = false;
            return 0;
        }
        b[2] = 1;
        b[3] = 1;
        len = 4;
        if (start <= 1) {
            memset(b + len, 0, 8);
            b[len + 1] = 0x14;
            b[len + 2] = 1;
            put_addr(b + len + 4, 0, msf);
            len += 8;
        }
        memset(b + len, 0, 8);
        b[len + 1] = 0x14;
        b[len + 2] = 0xaa;
        put_addr(b + len + 4, total, msf);
        len += 8;
        break;
    case 1: /* session info */
        memset(b, 0, 12);
        b[2] = 1;
        b[3] = 1;
        b[5] = 0x14;
        b[6] = 1;
        put_addr(b + 8, 0, msf);
        len = 12;
        break;
    case 2: { /* raw TOC: points A0, A1, A2 and track 1 */
        b[2] = 1;
        b[3] = 1;
        len = 4;
        static const uint8_t points[4] = { 0xa0, 0xa1, 0xa2, 0x01 };
        for (int i = 0; i < 4; i++) {
            uint8_t *e = b + len;
            memset(e, 0, 11);
            e[0] = 1;
            e[1] = 0x14;
            e[3] = points[i];
            if (points[i] == 0xa0 || points[i] == 0xa1)
                e[8] = 1;
            else if (points[i] == 0xa2)
                lba_to_msf(e + 8, total);
            else
                lba_to_msf(e + 8, 0);
            len += 11;
        }
        break;
    }
    default:
        *ok = false;
        return 0;
    }
    put_be16(b, len - 2);
    return len;
}

static uint32_t mode_sense(struct ide_drive *d, const uint8_t *cmd, uint8_t *b, bool *ok)
{
    unsigned pc = cmd[2] >> 6, page = cmd[2] & 0x3f;
    *ok = true;
    if (pc == 3) {
        *ok = false;
        d->asc = ASC_SAVING_NOT_SUPPORTED;
        return 0;
    }
    memset(b, 0, 8);
    b[2] = has_medium(d) ? 0x01 : 0x70;  /* medium type: data CD / door closed no disc */
    uint32_t len = 8;
    if (page == 0x01 || page == 0x3f) {
        uint8_t *p = b + len;
        memset(p, 0, 8);
        p[0] = 0x01;
        p[1] = 0x06;
        p[3] = 5;   /* read retry count */
        len += 8;
    }
    if (page == 0x2a || page == 0x3f) {
        uint8_t *p = b + len;
        memset(p, 0, 20);
        p[0] = 0x2a;
        p[1] = 0x12;
        p[2] = 0x3b;           /* reads CD-R, CD-RW, method 2, DVD-ROM */
        p[4] = 0x71;           /* audio play, composite, digital ports, multi-session */
        p[5] = 0x60;           /* ISRC, UPC */
        p[6] = (uint8_t)(0x29 | (d->tray_locked ? 0x02 : 0)); /* tray loader, eject, lock */
        put_be16(p + 8, 706);  /* max speed KB/s */
        put_be16(p + 10, 2);   /* volume levels */
        put_be16(p + 12, 512); /* buffer KB */
        put_be16(p + 14, 706);
        len += 20;
    }
    if (len == 8) {
        *ok = false;
        d->asc = ASC_INVALID_FIELD;
        return 0;
    }
    put_be16(b, len - 2);
    return len;
}

static void atapi_execute(struct ide_drive *d)
{
    const uint8_t *c = d->packet;
    uint8_t *b = d->buf;
    uint8_t op = c[0];
    d->atapi_left = 0;
    bool ok;
    uint32_t len;
    if (d->unit_attention && op != 0x12 && op != 0x03 && op != 0x4a) {
        d->unit_attention = false;
        atapi_check(d, SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED);
        return;
    }
    bool needs_medium = op == 0x00 || op == 0x25 || op == 0x28 || op == 0xa8 || op == 0x43 || op == 0x51 ||
                        op == 0x2b || op == 0xbe;
    if (needs_medium && !has_medium(d)) {
        atapi_check(d, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        return;
    }
    switch (op) {
    case 0x00: /* TEST UNIT READY */
    case 0x2b: /* SEEK(10) */
    case 0xbb: /* SET CD SPEED */
        atapi_ok(d);
        return;
    case 0x03: /* REQUEST SENSE */
        memset(b, 0, 18);
        b[0] = 0x70;
        b[2] = d->sense_key;
        b[7] = 10;
        b[12] = d->asc;
        b[13] = d->ascq;
        if (d->sense_key == SENSE_UNIT_ATTENTION)
            d->unit_attention = false;
        d->sense_key = 0;
        d->asc = 0;
        d->ascq = 0;
        atapi_reply(d, 18, c[4]);
        return;
    case 0x12: /* INQUIRY */
        memset(b, 0, 36);
        b[0] = 0x05;   /* CD/DVD device */
        b[1] = 0x80;   /* removable */
        b[2] = 0x00;
        b[3] = 0x21;   /* ATAPI, response format 1 */
        b[4] = 31;
        memcpy(b + 8, "PCVM    ", 8);
        memcpy(b + 16, "PCVM DVD-ROM    ", 16);
        memcpy(b + 32, "1.0 ", 4);
        atapi_reply(d, 36, get_be16(c + 3) ? get_be16(c + 3) : c[4]);
        return;
    case 0x25: /* READ CAPACITY */
        put_be32(b, (uint32_t)(d->cd_sectors ? d->cd_sectors - 1 : 0));
        put_be32(b + 4, ATAPI_SECTOR);
        atapi_reply(d, 8, 8);
        return;
    case 0x28: case 0xa8: { /* READ(10), READ(12) */
        uint32_t lba = get_be32(c + 2);
        uint32_t n = op == 0x28 ? get_be16(c + 7) : get_be32(c + 6);
        if ((uint64_t)lba + n > d->cd_sectors) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
            return;
        }
        if (!n) {
            atapi_ok(d);
            return;
        }
        d->atapi_lba = lba;
        d->atapi_left = n;
        atapi_reply(d, 0, 0);
        return;
    }
    case 0x5a: /* MODE SENSE(10) */
        len = mode_sense(d, c, b, &ok);
        if (!ok) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, d->asc);
            return;
        }
        atapi_reply(d, len, get_be16(c + 7));
        return;
    case 0x1a: /* MODE SENSE(6): same pages behind a 4-byte header */
        len = mode_sense(d, c, b, &ok);
        if (!ok) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, d->asc);
            return;
        }
        b[0] = (uint8_t)(len - 4 - 1);
        b[1] = b[2];
        b[2] = 0;
        b[3] = 0;
        memmove(b + 4, b + 8, len - 8);
        atapi_reply(d, len - 4, c[4]);
        return;
    case 0xbe: { /* READ CD: only the 2048-byte user data of data sectors */
        unsigned type = (c[1] >> 2) & 7, fields = c[9];
        uint32_t lba = get_be32(c + 2);
        uint32_t n = (uint32_t)c[6] << 16 | get_be16(c + 7);
        if ((type != 0 && type != 2) || (fields & 0xf8) != 0x10) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        if ((uint64_t)lba + n > d->cd_sectors) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
            return;
        }
        if (!n) {
            atapi_ok(d);
            return;
        }
        d->atapi_lba = lba;
        d->atapi_left = n;
        atapi_reply(d, 0, 0);
        return;
    }
    case 0x43: /* READ TOC/PMA/ATIP */
        len = read_toc(d, c, b, &ok);
        if (!ok) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        atapi_reply(d, len, get_be16(c + 7));
        return;
    case 0x46: { /* GET CONFIGURATION */
        bool dvd = d->cd_sectors > 1440000;
        uint16_t profile = has_medium(d) ? (dvd ? 0x0010 : 0x0008) : 0;
        memset(b, 0, 32);
        put_be16(b + 6, profile);
        uint8_t *f = b + 8;
        /* Profile list feature (0000h): DVD-ROM and CD-ROM. */
        f[2] = 0x03;
        f[3] = 8;
        put_be16(f + 4, 0x0010);
        f[6] = profile == 0x0010;
        put_be16(f + 8, 0x0008);
        f[10] = profile == 0x0008;
        /* Core feature (0001h): ATAPI interface. */
        f += 12;
        put_be16(f, 0x0001);
        f[2] = 0x0b;
        f[3] = 8;
        put_be32(f + 4, 2);
        len = 8 + 12 + 12;
        put_be32(b, len - 4);
        atapi_reply(d, len, get_be16(c + 7));
        return;
    }
    case 0x4a: { /* GET EVENT STATUS NOTIFICATION */
        if (!(c[1] & 1)) {  /* only polled mode */
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        memset(b, 0, 8);
        if (c[4] & 0x10) {
            put_be16(b, 6);
            b[2] = 0x04;       /* media class */
            b[3] = 0x10;       /* supported: media */
            b[4] = d->media_event;
            b[5] = (uint8_t)((has_medium(d) ? 0x02 : 0) | (d->tray_open ? 0x01 : 0));
            d->media_event = 0;
            len = 8;
        } else {
            put_be16(b, 2);
            b[2] = 0x80;       /* no event available */
            b[3] = 0x10;
            len = 4;
        }
        atapi_reply(d, len, get_be16(c + 7));
        return;
    }
    case 0x1b: { /* START STOP UNIT */
        bool loej = c[4] & 2, start = c[4] & 1;
        if (loej) {
            if (!start && d->tray_locked) {
                atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
                d->ascq = 2;
                return;
            }
            struct ide_ctrl *ctrl = d->ch->ctrl;
            if (d->tray_open != !start && ctrl->tray_moved)   /* QMP's DEVICE_TRAY_MOVED */
                ctrl->tray_moved(ctrl->tray_opaque, d->ch->index * 2 + (int)(d - d->ch->drives),
                                 !start);
            d->tray_open = !start;
        }
        atapi_ok(d);
        return;
    }
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
        d->tray_locked = c[4] & 1;
        atapi_ok(d);
        return;
    case 0x51: /* READ DISC INFORMATION */
        if (c[1] & 7) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        memset(b, 0, 34);
        put_be16(b, 32);
        b[2] = 0x0e;   /* complete disc, last session complete */
        b[3] = 1;
        b[4] = 1;
        b[5] = 1;
        b[6] = 1;
        b[7] = 0x20;   /* unrestricted use */
        atapi_reply(d, 34, get_be16(c + 7));
        return;
    case 0xbd: /* MECHANISM STATUS */
        memset(b, 0, 8);
        put_be16(b + 6, 0);
        atapi_reply(d, 8, get_be16(c + 8));
        return;
    default:
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
        return;
    }
}

static void atapi_packet_cmd(struct ide_drive *d)
{
    d->atapi_dma = d->feature & 1;
    d->byte_limit = d->lcyl | (uint32_t)d->hcyl << 8;
    d->nsector = 1;   /* C/D: command packet wanted */
    d->pos = 0;
    d->end = 12;
    d->pio_end = IDE_END_PACKET;
    d->status = ST_DRDY | ST_DRQ;
}

/* ---------------- PIO data port ---------------- */

static void pio_done(struct ide_drive *d)
{
    enum ide_pio_end e = d->pio_end;
    d->pio_end = IDE_END_NONE;
    d->status &= (uint8_t)~ST_DRQ;
    switch (e) {
    case IDE_END_READ_NEXT:
        if (d->remaining)
            ata_read_block(d);
        else
            d->status = ST_DRDY | ST_DSC;
        break;
    case IDE_END_WRITE_BLOCK: {
        uint32_t k = d->end / 512;
        if (block_pwrite(d->bs, d->lba * 512, d->buf, (size_t)k * 512) < 0 ||
            (!d->wce && block_flush(d->bs) < 0)) {
            cmd_error(d, ER_ABRT);
            break;
        }
        d->lba += k;
        d->remaining -= k;
        set_lba(d, d->lba - 1);
        if (d->remaining)
            ata_write_next(d, true);
        else
            cmd_ok(d);
        break;
    }
    case IDE_END_PACKET:
        memcpy(d->packet, d->buf, 12);
        atapi_execute(d);
        break;
    case IDE_END_ATAPI_DATA:
        atapi_pio_chunk(d);
        break;
    case IDE_END_DONE:
        d->status = ST_DRDY | ST_DSC;
        break;
    case IDE_END_NONE:
        break;
    }
}

static bool pio_out_phase(const struct ide_drive *d)
{
    return d->pio_end == IDE_END_WRITE_BLOCK || d->pio_end == IDE_END_PACKET;
}

static uint32_t data_read(struct ide_channel *ch, unsigned size)
{
    struct ide_drive *d = cur_drive(ch);
    if (!d->present || !(d->status & ST_DRQ) || pio_out_phase(d) || d->pio_end == IDE_END_NONE)
        return 0xffffffffu >> (32 - 8 * size);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        v |= (uint32_t)d->buf[d->pos++] << (8 * i);
    if (d->pos >= d->end)
        pio_done(d);
    return v;
}

static void data_write(struct ide_channel *ch, uint32_t v, unsigned size)
{
    struct ide_drive *d = cur_drive(ch);
    if (!d->present || !(d->status & ST_DRQ) || !pio_out_phase(d))
        return;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        d->buf[d->pos++] = (uint8_t)(v >> (8 * i));
    if (d->pos >= d->end)
        pio_done(d);
}

/* ---------------- registers ---------------- */

static void drive_soft_reset(struct ide_drive *d)
{
    d->busy_gen++;
    d->aio_busy = false;
    d->pio_end = IDE_END_NONE;
    d->dma_pending = IDE_DMA_NONE;
    d->pos = d->end = 0;
    d->error = 1;
    d->feature = 0;
    d->select = 0xa0;
    set_signature(d);
    d->status = d->present ? (d->is_cdrom ? 0 : ST_DRDY | ST_DSC) : 0;
    d->mult_sectors = IDE_MAX_MULT;
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
}

static uint32_t channel_read(void *opaque, uint16_t port, unsigned size)
{
    struct ide_channel *ch = opaque;
    unsigned reg = port & 7;
    if (reg == 0)
        return data_read(ch, size);
    struct ide_drive *d = cur_drive(ch);
    bool hob = ch->devctl & DC_HOB;
    if (!ch->drives[0].present && !ch->drives[1].present)
        return 0xff;   /* nothing on this cable: floating bus */
    if (!d->present)
        return 0;
    switch (reg) {
    case 1: return d->error;
    case 2: return hob ? d->hob_nsector : d->nsector;
    case 3: return hob ? d->hob_sector : d->sector;
    case 4: return hob ? d->hob_lcyl : d->lcyl;
    case 5: return hob ? d->hob_hcyl : d->hcyl;
    case 6: return d->select;
    default:
        lower_irq(ch);
        return d->status;
    }
}

static void channel_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct ide_channel *ch = opaque;
    unsigned reg = port & 7;
    uint8_t v = (uint8_t)value;
    if (reg == 0) {
        data_write(ch, value, size);
        return;
    }
    if (reg != 7)
        ch->devctl &= (uint8_t)~DC_HOB;  /* writing the task file clears HOB */
    for (int i = 0; i < 2; i++) {
        struct ide_drive *d = &ch->drives[i];
        switch (reg) {
        case 1: d->hob_feature = d->feature; d->feature = v; break;
        case 2: d->hob_nsector = d->nsector; d->nsector = v; break;
        case 3: d->hob_sector = d->sector; d->sector = v; break;
        case 4: d->hob_lcyl = d->lcyl; d->lcyl = v; break;
        case 5: d->hob_hcyl = d->hcyl; d->hcyl = v; break;
        case 6: d->select = (uint8_t)(v | 0xa0); break;
        default: break;
        }
    }
    if (reg == 6) {
        ch->cur = (v >> 4) & 1;
        return;
    }
    if (reg == 7) {
        struct ide_drive *d = cur_drive(ch);
        if (!d->present || (d->status & ST_BSY && d->aio_busy))
            return;
        if (d->command == 0xa0 && d->pio_end == IDE_END_PACKET && v != 0x08)
            return;
        lower_irq(ch);
        exec_command(d, v);
    }
}

static uint32_t ctl_read(void *opaque, uint16_t port, unsigned size)
{
    (void)port;
    (void)size;
    struct ide_channel *ch = opaque;
    struct ide_drive *d = cur_drive(ch);
    if (!ch->drives[0].present && !ch->drives[1].present)
        return 0xff;
    return d->present ? d->status : 0;
}

static void ctl_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    (void)port;
    (void)size;
    struct ide_channel *ch = opaque;
    uint8_t v = (uint8_t)value, old = ch->devctl;
    if (!(old & DC_SRST) && (v & DC_SRST)) {
        for (int i = 0; i < 2; i++) {
            ch->drives[i].busy_gen++;
            ch->drives[i].aio_busy = false;
            ch->drives[i].status = ST_BSY | ST_DSC;
        }
    } else if ((old & DC_SRST) && !(v & DC_SRST)) {
        for (int i = 0; i < 2; i++)
            drive_soft_reset(&ch->drives[i]);
        ch->cur = 0;
        ch->irq_pending = false;
    }
    ch->devctl = v;
    update_irq(ch);
}

uint32_t ide_bmdma_read(struct ide_ctrl *s, unsigned offset, unsigned size)
{
    struct ide_channel *ch = &s->ch[(offset >> 3) & 1];
    unsigned r = offset & 7;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && r + i < 8; i++) {
        uint8_t b;
        switch (r + i) {
        case 0: b = ch->bm.cmd; break;
        case 2: b = ch->bm.status; break;
        case 4: case 5: case 6: case 7: b = (uint8_t)(ch->bm.prd_addr >> (8 * (r + i - 4))); break;
        default: b = 0; break;
        }
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

void ide_bmdma_write(struct ide_ctrl *s, unsigned offset, uint32_t value, unsigned size)
{
    struct ide_channel *ch = &s->ch[(offset >> 3) & 1];
    unsigned r = offset & 7;
    for (unsigned i = 0; i < size && r + i < 8; i++) {
        uint8_t b = (uint8_t)(value >> (8 * i));
        switch (r + i) {
        case 0: {
            uint8_t old = ch->bm.cmd;
            ch->bm.cmd = b & (BM_CMD_START | BM_CMD_READ);
            if (!(old & BM_CMD_START) && (b & BM_CMD_START)) {
                ch->bm.status |= BM_ST_ACTIVE;
                dma_kick(ch);
            } else if ((old & BM_CMD_START) && !(b & BM_CMD_START)) {
                ch->bm.status &= (uint8_t)~BM_ST_ACTIVE;
            }
            break;
        }
        case 2:
            /* bits 5-6 are read/write, 1 and 2 are write-one-to-clear */
            ch->bm.status = (uint8_t)((ch->bm.status & ~0x60 & ~(b & (BM_ST_ERROR | BM_ST_INT))) | (b & 0x60));
            break;
        case 4: case 5: case 6: case 7: {
            unsigned sh = 8 * (r + i - 4);
            ch->bm.prd_addr = (ch->bm.prd_addr & ~(0xffu << sh)) | (uint32_t)b << sh;
            ch->bm.prd_addr &= ~3u;
            break;
        }
        default:
            break;
        }
    }
}

static uint32_t bar4_read(void *opaque, uint16_t port, unsigned size)
{
    struct ide_ctrl *s = opaque;
    return ide_bmdma_read(s, port & 0x0f, size);
}

static void bar4_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct ide_ctrl *s = opaque;
    ide_bmdma_write(s, port & 0x0f, value, size);
}

/* ---------------- setup ---------------- */

static void attach(struct ide_drive *d, struct block_dev *bs, bool cdrom, int index)
{
    d->present = bs || cdrom;
    d->is_cdrom = cdrom;
    d->bs = bs;
    snprintf(d->serial, sizeof(d->serial), "QM%05d", index + 1);
    snprintf(d->model, sizeof(d->model), cdrom ? "PCVM DVD-ROM" : "PCVM HARDDISK");
    snprintf(d->firmware, sizeof(d->firmware), "2.5+");
    d->wce = bs ? bs->wce : true;
    if (cdrom) {
        d->cd_sectors = bs ? bs->size / ATAPI_SECTOR : 0;
        d->tray_open = false;
    } else if (bs) {
        d->nb_sectors = bs->size / 512;
        d->heads = 16;
        d->secs = 63;
        uint64_t c = d->nb_sectors / (16 * 63);
        d->cyls = (uint32_t)(c > 16383 ? 16383 : c < 1 ? 1 : c);
    }
}

void ide_reset(struct ide_ctrl *s)
{
    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        for (int i = 0; i < 2; i++) {
            drive_soft_reset(&ch->drives[i]);
            ch->drives[i].xfer_mode = 0;
            ch->drives[i].tray_locked = false;
            ch->drives[i].wce = ch->drives[i].bs ? ch->drives[i].bs->wce : true;
        }
        ch->cur = 0;
        ch->devctl = 0;
        ch->irq_pending = false;
        ch->bm.cmd = 0;
        ch->bm.status = 0x60 & ((ch->drives[0].present ? 0x20 : 0) | (ch->drives[1].present ? 0x40 : 0));
        ch->bm.prd_addr = 0;
        update_irq(ch);
    }
}

int ide_init(struct ide_ctrl *s, struct pci_bus *bus, uint8_t devfn, struct io_bus *io,
             struct phys_mem *mem, struct irq_line irq14, struct irq_line irq15,
             struct block_dev *drives[4], const bool cdrom[4], struct block_aio_pool *aio)
{
    memset(s, 0, sizeof(*s));
    s->io = io;
    s->mem = mem;
    s->aio = aio;
    static const uint16_t bases[2] = { 0x1f0, 0x170 }, ctls[2] = { 0x3f6, 0x376 };
    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        ch->index = c;
        ch->ctrl = s;
        ch->irq = c ? irq15 : irq14;
        for (int i = 0; i < 2; i++) {
            struct ide_drive *d = &ch->drives[i];
            d->ch = ch;
            d->buf = calloc(1, IDE_BUF_SIZE);
            if (!d->buf)
                return -1;
            attach(d, drives ? drives[c * 2 + i] : NULL, cdrom ? cdrom[c * 2 + i] : false, c * 2 + i);
        }
        if (io_register(io, bases[c], 8, ch, channel_read, channel_write, IO_SIZE_ALL, c ? "ide1" : "ide0") < 0 ||
            io_register(io, ctls[c], 1, ch, ctl_read, ctl_write, IO_SIZE_1, c ? "ide1-ctl" : "ide0-ctl") < 0)
            return -1;
    }
    if (bus) {
        if (pci_register_device(bus, &s->pci, devfn, "piix3-ide", 0x8086, 0x7010, 0x00, 0x010180, 0x00, 0) < 0)
            return -1;
        s->pci.opaque = s;
        /* IDETIM: decode enable for both channels (Linux ata_piix checks bit 15). */
        s->pci.config[0x41] = 0x80;
        s->pci.config[0x43] = 0x80;
        for (int i = 0x40; i < 0x50; i++)
            s->pci.wmask[i] = 0xff;
        struct pci_bar bar = { .size = 16, .is_io = true, .opaque = s, .io_read = bar4_read,
                               .io_write = bar4_write, .io_sizes = IO_SIZE_ALL, .handle = -1 };
        pci_register_bar(&s->pci, 4, &bar);
    }
    ide_reset(s);
    return 0;
}

void ide_destroy(struct ide_ctrl *s)
{
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++) {
            free(s->ch[c].drives[i].buf);
            s->ch[c].drives[i].buf = NULL;
        }
}

void ide_cdrom_change(struct ide_ctrl *s, int index, struct block_dev *bs)
{
    if (index < 0 || index > 3)
        return;
    struct ide_drive *d = &s->ch[index / 2].drives[index % 2];
    if (!d->is_cdrom)
        return;
    d->bs = bs;
    d->cd_sectors = bs ? bs->size / ATAPI_SECTOR : 0;
    d->tray_open = !bs;   /* eject leaves the tray open, a new medium closes it */
    d->unit_attention = true;
    d->media_event = bs ? 2 : 3;
}

char *ide_boot_path(uint8_t devfn, int index, char *buf, unsigned len)
{
    if (devfn & 7)
        snprintf(buf, len, "/pci@i0cf8/ide@%x,%x/drive@%d/disk@%d", devfn >> 3, devfn & 7, index / 2, index % 2);
    else
        snprintf(buf, len, "/pci@i0cf8/ide@%x/drive@%d/disk@%d", devfn >> 3, index / 2, index % 2);
    return buf;
}

/* ---- saved state ---- */

static const struct vmstate_field ide_drive_fields[] = {
    VMF(struct ide_drive, feature), VMF(struct ide_drive, nsector), VMF(struct ide_drive, sector),
    VMF(struct ide_drive, lcyl), VMF(struct ide_drive, hcyl), VMF(struct ide_drive, select),
    VMF(struct ide_drive, status), VMF(struct ide_drive, error), VMF(struct ide_drive, hob_feature),
    VMF(struct ide_drive, hob_nsector), VMF(struct ide_drive, hob_sector), VMF(struct ide_drive, hob_lcyl),
    VMF(struct ide_drive, hob_hcyl), VMF(struct ide_drive, command),
    VMF(struct ide_drive, nb_sectors), VMF(struct ide_drive, cyls), VMF(struct ide_drive, heads),
    VMF(struct ide_drive, secs), VMF(struct ide_drive, cur_heads), VMF(struct ide_drive, cur_secs),
    VMF_MAX(struct ide_drive, mult_sectors, IDE_MAX_MULT), VMF(struct ide_drive, xfer_mode), VMF(struct ide_drive, wce),
    VMF_MAX(struct ide_drive, pos, IDE_BUF_SIZE), VMF_MAX(struct ide_drive, end, IDE_BUF_SIZE),
    VMF_MAX(struct ide_drive, pio_end, IDE_END_DONE), VMF(struct ide_drive, lba48), VMF(struct ide_drive, lba),
    VMF(struct ide_drive, remaining), VMF_MAX(struct ide_drive, block_sectors, 256),
    VMF_MAX(struct ide_drive, dma_pending, IDE_DMA_ATAPI), VMF(struct ide_drive, busy_gen),
    VMF_MAX(struct ide_drive, aio_busy, 0),
    VMF_ARRAY(struct ide_drive, packet), VMF(struct ide_drive, sense_key), VMF(struct ide_drive, asc),
    VMF(struct ide_drive, ascq), VMF(struct ide_drive, unit_attention), VMF(struct ide_drive, tray_locked),
    VMF(struct ide_drive, tray_open), VMF(struct ide_drive, cd_sectors), VMF(struct ide_drive, atapi_lba),
    VMF(struct ide_drive, atapi_left), VMF(struct ide_drive, byte_limit), VMF(struct ide_drive, atapi_dma),
    VMF(struct ide_drive, media_event), VMF_ARRAY(struct ide_drive, serial), VMF_ARRAY(struct ide_drive, model),
    VMF_ARRAY(struct ide_drive, firmware), VMF_BUFFER(struct ide_drive, buf, IDE_BUF_SIZE),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc ide_drive_vmstate = { .name = "ide-drive", .version = 1, .fields = ide_drive_fields };
static const struct vmstate_field ide_bmdma_fields[] = {
    VMF(struct ide_bmdma, cmd), VMF(struct ide_bmdma, status), VMF(struct ide_bmdma, prd_addr),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc ide_bmdma_vmstate = { .name = "ide-bmdma", .version = 1, .fields = ide_bmdma_fields };
static const struct vmstate_field ide_channel_fields[] = {
    VMF_STRUCT_ARRAY(struct ide_channel, drives, ide_drive_vmstate), VMF_MAX(struct ide_channel, cur, 1),
    VMF(struct ide_channel, devctl), VMF(struct ide_channel, irq_pending),
    VMF_STRUCT(struct ide_channel, bm, ide_bmdma_vmstate),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc ide_channel_vmstate = { .name = "ide-channel", .version = 1, .fields = ide_channel_fields };

/* A request in flight finishes first: its data and completion belong to the saved state. */
static int ide_pre_save(void *opaque)
{
    struct ide_ctrl *s = opaque;
    if (s->aio)
        block_aio_drain(s->aio);
    return 0;
}

static int ide_post_load(void *opaque, char *err, size_t errlen)
{
    struct ide_ctrl *s = opaque;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++) {
            struct ide_drive *d = &s->ch[c].drives[i];
            d->serial[sizeof(d->serial) - 1] = d->model[sizeof(d->model) - 1] = 0;
            d->firmware[sizeof(d->firmware) - 1] = 0;
            if (d->pos > d->end) {
                snprintf(err, errlen, "piix3-ide: drive %d: transfer position beyond its end", c * 2 + i);
                return -1;
            }
        }
    pci_device_post_load(&s->pci);
    return 0;
}

static const struct vmstate_field ide_fields[] = {
    VMF_STRUCT(struct ide_ctrl, pci, pci_device_vmstate), VMF_STRUCT_ARRAY(struct ide_ctrl, ch, ide_channel_vmstate),
    VMF_END_OF_LIST,
};
const struct vmstate_desc ide_vmstate = { .name = "piix3-ide", .version = 1, .fields = ide_fields,
                                          .pre_save = ide_pre_save, .post_load = ide_post_load };

/* PIIX3 IDE (PCI 8086:7010, function 1 of the PIIX3): two legacy channels (0x1F0-0x1F7/0x3F6
 * on IRQ 14, 0x170-0x177/0x376 on IRQ 15), bus-master DMA through BAR4, ATA disks (PIO and
 * DMA, LBA28/LBA48) and ATAPI CD-ROMs (PACKET commands, 2048-byte sectors).
 *
 * Wiring (pc.c):
 *   struct ide_ctrl ide;
 *   struct block_dev *drives[4] = { hda, hdb, hdc, hdd };   // NULL = no drive / empty CD
 *   bool cdrom[4] = { false, false, true, false };           // index = bus * 2 + unit
 *   ide_init(&ide, &pci_bus, PCI_DEVFN(1, 1), &io, &mem, irq14, irq15, drives, cdrom, aio_pool);
 * aio_pool may be NULL (every request completes synchronously inside the port access).
 * The controller does not own the block devices: close them after ide_destroy. */
#ifndef PCVM_HW_IDE_H
#define PCVM_HW_IDE_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "hw/irq.h"
#include "hw/pci.h"
#include "mem/memory.h"

#define IDE_BUF_SIZE (256 * 512 + 4)   /* one PIO block: up to 256 sectors (READ MULTIPLE) */
#define IDE_MAX_MULT 16

enum ide_pio_end {          /* what happens when the PIO buffer has been moved */
    IDE_END_NONE,
    IDE_END_READ_NEXT,      /* ATA read: next block or done */
    IDE_END_WRITE_BLOCK,    /* ATA write: store the block, then next or done */
    IDE_END_PACKET,         /* ATAPI: command packet received */
    IDE_END_ATAPI_DATA,     /* ATAPI: next chunk of the reply or done */
    IDE_END_DONE,           /* identify etc.: command complete */
};

enum ide_dma_kind { IDE_DMA_NONE, IDE_DMA_ATA_READ, IDE_DMA_ATA_WRITE, IDE_DMA_ATAPI };

struct ide_drive {
    bool present, is_cdrom;
    /* task file */
    uint8_t feature, nsector, sector, lcyl, hcyl, select, status, error;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    uint8_t command;
    /* geometry and modes */
    uint64_t nb_sectors;          /* 512-byte sectors (disks) */
    uint32_t cyls, heads, secs;   /* default CHS geometry */
    uint32_t cur_heads, cur_secs; /* INITIALIZE DEVICE PARAMETERS */
    unsigned mult_sectors;        /* SET MULTIPLE MODE (0 = off) */
    uint8_t xfer_mode;            /* SET FEATURES 03h value */
    bool wce;                     /* write cache enabled */
    /* transfer in progress */
    uint32_t pos, end;            /* PIO buffer window */
    enum ide_pio_end pio_end;
    bool lba48;
    uint64_t lba;                 /* next sector */
    uint32_t remaining;           /* sectors (ATA) or bytes (ATAPI) still to move */
    uint32_t block_sectors;       /* sectors per PIO block */
    enum ide_dma_kind dma_pending;
    uint32_t busy_gen;            /* bumped by reset: stale async completions are dropped */
    bool aio_busy;
    /* ATAPI */
    uint8_t packet[12];
    uint8_t sense_key, asc, ascq;
    bool unit_attention, tray_locked, tray_open;
    uint64_t cd_sectors;          /* 2048-byte sectors on the medium */
    uint32_t atapi_lba, atapi_left;   /* READ: next 2048-byte sector and count left */
    uint32_t byte_limit;          /* PIO byte-count limit of this packet */
    bool atapi_dma;
    uint8_t media_event;          /* GET EVENT STATUS: 0 none, 2 new media, 3 removal */
    char serial[21], model[41], firmware[9];
    /* ---- host side (not guest state) ---- */
    struct block_dev *bs;
    uint8_t *buf;                 /* IDE_BUF_SIZE bytes */
    struct ide_channel *ch;
};

struct ide_bmdma {
    uint8_t cmd, status;
    uint32_t prd_addr;
};

struct ide_channel {
    struct ide_drive drives[2];
    uint8_t cur;                  /* selected drive */
    uint8_t devctl;
    bool irq_pending;
    struct ide_bmdma bm;
    int index;
    /* ---- host side ---- */
    struct irq_line irq;
    struct ide_ctrl *ctrl;
};

struct ide_ctrl {
    struct pci_device pci;
    struct ide_channel ch[2];
    /* ---- host side ---- */
    struct io_bus *io;
    struct phys_mem *mem;
    struct block_aio_pool *aio;
    /* The guest opened (true) or closed a CD tray (drive index 0-3); NULL: nobody cares. */
    void (*tray_moved)(void *opaque, int index, bool open);
    void *tray_opaque;
};

/* Register the PCI function at devfn, claim the legacy ports, attach drives[bus*2+unit]
 * (cdrom[i] makes drive i an ATAPI CD-ROM; a NULL CD block device is an empty tray).
 * Returns 0 or -1. */
int ide_init(struct ide_ctrl *s, struct pci_bus *bus, uint8_t devfn, struct io_bus *io,
             struct phys_mem *mem, struct irq_line irq14, struct irq_line irq15,
             struct block_dev *drives[4], const bool cdrom[4], struct block_aio_pool *aio);
/* Free buffers (drains nothing: drain the aio pool first). */
void ide_destroy(struct ide_ctrl *s);
/* Hardware reset (both channels). */
void ide_reset(struct ide_ctrl *s);
/* Change the medium of CD-ROM drive index (bs NULL = eject, tray left open); guests see a
 * media change. */
void ide_cdrom_change(struct ide_ctrl *s, int index, struct block_dev *bs);
/* SeaBIOS bootorder path of drive index (0-3) behind the PIIX3 IDE at devfn, e.g.
 * "/pci@i0cf8/ide@1,1/drive@1/disk@0" for index 2; returns buf. */
char *ide_boot_path(uint8_t devfn, int index, char *buf, unsigned len);
/* Bus-master registers (BAR4), offset 0-15; exposed for tests and the PCI BAR. */
uint32_t ide_bmdma_read(struct ide_ctrl *s, unsigned offset, unsigned size);
void ide_bmdma_write(struct ide_ctrl *s, unsigned offset, uint32_t value, unsigned size);

/* Saved state (device model); pre_save drains in-flight disk requests. */
extern const struct vmstate_desc ide_vmstate;
#endif

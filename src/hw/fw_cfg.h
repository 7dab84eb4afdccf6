/* QEMU's firmware configuration device (fw_cfg), x86 flavour: selector at port 0x510
 * (16-bit), data at 0x511 (8-bit), the DMA address register at 0x514-0x51B (64-bit, big
 * endian; a write of its last byte, e.g. outl to 0x518, starts the transfer).
 *
 * Items are copied in when added.  Standard keys are below 0x20, files are given keys from
 * 0x20 on and listed in the directory at key 0x19; arch keys have bit 15 set. */
#ifndef PCVM_HW_FW_CFG_H
#define PCVM_HW_FW_CFG_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "mem/memory.h"

enum {
    FW_CFG_SIGNATURE = 0x00, FW_CFG_ID = 0x01, FW_CFG_UUID = 0x02, FW_CFG_RAM_SIZE = 0x03,
    FW_CFG_NOGRAPHIC = 0x04, FW_CFG_NB_CPUS = 0x05, FW_CFG_MACHINE_ID = 0x06,
    FW_CFG_KERNEL_ADDR = 0x07, FW_CFG_KERNEL_SIZE = 0x08, FW_CFG_KERNEL_CMDLINE = 0x09,
    FW_CFG_INITRD_ADDR = 0x0a, FW_CFG_INITRD_SIZE = 0x0b, FW_CFG_BOOT_DEVICE = 0x0c,
    FW_CFG_NUMA = 0x0d, FW_CFG_BOOT_MENU = 0x0e, FW_CFG_MAX_CPUS = 0x0f,
    FW_CFG_KERNEL_ENTRY = 0x10, FW_CFG_KERNEL_DATA = 0x11, FW_CFG_INITRD_DATA = 0x12,
    FW_CFG_CMDLINE_ADDR = 0x13, FW_CFG_CMDLINE_SIZE = 0x14, FW_CFG_CMDLINE_DATA = 0x15,
    FW_CFG_SETUP_ADDR = 0x16, FW_CFG_SETUP_SIZE = 0x17, FW_CFG_SETUP_DATA = 0x18,
    FW_CFG_FILE_DIR = 0x19, FW_CFG_FILE_FIRST = 0x20,
    FW_CFG_WRITE_CHANNEL = 0x4000, FW_CFG_ARCH_LOCAL = 0x8000,
    FW_CFG_ACPI_TABLES = 0x8000, FW_CFG_SMBIOS_ENTRIES = 0x8001, FW_CFG_IRQ0_OVERRIDE = 0x8002,
    FW_CFG_E820_TABLE = 0x8003, FW_CFG_HPET = 0x8004,
};
/* DMA control bits (FWCfgDmaAccess.control, big endian in guest memory). */
enum { FW_CFG_DMA_ERROR = 1, FW_CFG_DMA_READ = 2, FW_CFG_DMA_SKIP = 4, FW_CFG_DMA_SELECT = 8,
       FW_CFG_DMA_WRITE = 0x10 };

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA 0x514
#define FW_CFG_MAX_FILES 64
#define FW_CFG_NAME_LEN 56
#define FW_CFG_ARCH_KEYS 16

struct fw_cfg_item {
    uint8_t *data;    /* malloc'd copy, NULL when empty */
    uint32_t len;
    bool writable;    /* guest may write through DMA (files only) */
};

struct fw_cfg_file {
    char name[FW_CFG_NAME_LEN];
    struct fw_cfg_item item;
};

struct fw_cfg {
    uint16_t cur_key;      /* selector as written */
    uint32_t cur_offset;   /* read position in the selected item */
    uint8_t dma_addr[8];   /* DMA address register bytes in port order (big endian) */
    bool dma_enabled;
    /* Contents, set up by the board (host side). */
    struct phys_mem *mem;
    struct fw_cfg_item std[FW_CFG_FILE_FIRST];
    struct fw_cfg_item arch[FW_CFG_ARCH_KEYS];
    struct fw_cfg_file files[FW_CFG_MAX_FILES];
    unsigned nfiles;
    /* Run when the guest selects a key, before data moves: lets the board refresh items that
     * follow what firmware has programmed so far (NULL: none). */
    void (*on_select)(void *opaque, uint16_t key);
    void *on_select_opaque;
};

/* Claim the ports, set the signature and ID (DMA bit when dma) and an empty directory. */
void fw_cfg_init(struct fw_cfg *s, struct io_bus *io, struct phys_mem *mem, bool dma);
/* Free every item. */
void fw_cfg_destroy(struct fw_cfg *s);
/* Set item key (standard < 0x20 or arch 0x8000+n) to a copy of data. Returns 0 or -1. */
int fw_cfg_add_bytes(struct fw_cfg *s, uint16_t key, const void *data, uint32_t len);
/* Little-endian integer items. */
int fw_cfg_add_i16(struct fw_cfg *s, uint16_t key, uint16_t v);
int fw_cfg_add_i32(struct fw_cfg *s, uint16_t key, uint32_t v);
int fw_cfg_add_i64(struct fw_cfg *s, uint16_t key, uint64_t v);
/* A NUL-terminated string item (the NUL included, as QEMU does for the command line). */
int fw_cfg_add_string(struct fw_cfg *s, uint16_t key, const char *str);
/* Add or replace file name with a copy of data; returns its key or -1. */
int fw_cfg_add_file(struct fw_cfg *s, const char *name, const void *data, uint32_t len);
/* Like fw_cfg_add_file, but the guest may overwrite the contents by DMA write. */
int fw_cfg_add_file_writable(struct fw_cfg *s, const char *name, const void *data, uint32_t len);
/* The key of file name, or -1. */
int fw_cfg_file_key(const struct fw_cfg *s, const char *name);
/* Call hook(opaque, key) on every guest select (port or DMA); hook may replace items. */
void fw_cfg_set_select_hook(struct fw_cfg *s, void (*hook)(void *opaque, uint16_t key), void *opaque);
/* The item of a file, or NULL. */
const struct fw_cfg_item *fw_cfg_find_file(const struct fw_cfg *s, const char *name);
/* RESET#: deselect. Contents stay. */
void fw_cfg_reset(struct fw_cfg *s);

/* What the pc board tells firmware; fw_cfg_setup_pc turns it into items. */
struct fw_cfg_pc_config {
    uint64_t ram_size;          /* all RAM (FW_CFG_RAM_SIZE) */
    uint32_t ram_below_4g;      /* etc/e820 RAM entry at 0 */
    uint64_t ram_above_4g;      /* etc/e820 RAM entry at 4 GiB (0: none) */
    unsigned cpus, max_cpus;
    bool nographic;             /* FW_CFG_NOGRAPHIC and etc/sercon-port = 0x3F8 */
    bool boot_menu;
    int boot_fail_wait_ms;      /* etc/boot-fail-wait; -1 = never retry (QEMU's default) */
    uint16_t boot_device;       /* FW_CFG_BOOT_DEVICE ('c', 'd', ...) */
    const char *bootorder;      /* newline-separated device paths, NULL: none */
};
/* Standard items SeaBIOS reads on QEMU's pc: RAM size, CPU counts, NUMA (no nodes), IRQ0
 * override, etc/e820, bootorder, etc/sercon-port, etc/boot-fail-wait. Returns 0 or -1. */
int fw_cfg_setup_pc(struct fw_cfg *s, const struct fw_cfg_pc_config *cfg);

/* One etc/e820 entry as the file holds it (20 bytes, little endian). */
#include "mem/e820.h"

/* Saved state (device model). */
extern const struct vmstate_desc fw_cfg_vmstate;
#endif

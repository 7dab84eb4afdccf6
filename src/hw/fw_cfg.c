/* fw_cfg: selector/data ports, DMA interface and the file directory. */
#include "hw/fw_cfg.h"

#include <stdlib.h>
#include <string.h>

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int item_set(struct fw_cfg_item *it, const void *data, uint32_t len)
{
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return -1;
        if (data)
            memcpy(copy, data, len);
        else
            memset(copy, 0, len);
    }
    free(it->data);
    it->data = copy;
    it->len = len;
    return 0;
}

/* The item a selector value names, or NULL. */
static struct fw_cfg_item *item_for_key(struct fw_cfg *s, uint16_t key)
{
    key &= (uint16_t)~FW_CFG_WRITE_CHANNEL;
    if (key & FW_CFG_ARCH_LOCAL) {
        unsigned n = key & 0x3fffu;
        return n < FW_CFG_ARCH_KEYS ? &s->arch[n] : NULL;
    }
    if (key < FW_CFG_FILE_FIRST)
        return &s->std[key];
    unsigned n = key - FW_CFG_FILE_FIRST;
    return n < s->nfiles ? &s->files[n].item : NULL;
}

/* Directory: be32 count, then per file be32 size, be16 key, be16 reserved, name[56]. */
static int rebuild_dir(struct fw_cfg *s)
{
    uint32_t len = 4 + 64 * s->nfiles;
    uint8_t *d = calloc(1, len);
    if (!d)
        return -1;
    put_be32(d, s->nfiles);
    for (unsigned i = 0; i < s->nfiles; i++) {
        uint8_t *e = d + 4 + 64 * i;
        put_be32(e, s->files[i].item.len);
        e[4] = (uint8_t)((FW_CFG_FILE_FIRST + i) >> 8);
        e[5] = (uint8_t)(FW_CFG_FILE_FIRST + i);
        memcpy(e + 8, s->files[i].name, FW_CFG_NAME_LEN);
    }
    free(s->std[FW_CFG_FILE_DIR].data);
    s->std[FW_CFG_FILE_DIR].data = d;
    s->std[FW_CFG_FILE_DIR].len = len;
    return 0;
}

int fw_cfg_add_bytes(struct fw_cfg *s, uint16_t key, const void *data, uint32_t len)
{
    if (key == FW_CFG_FILE_DIR || (!(key & FW_CFG_ARCH_LOCAL) && key >= FW_CFG_FILE_FIRST))
        return -1;
    struct fw_cfg_item *it = item_for_key(s, key);
    return it ? item_set(it, data, len) : -1;
}

int fw_cfg_add_i16(struct fw_cfg *s, uint16_t key, uint16_t v)
{
    uint8_t b[2];
    put_le(b, v, 2);
    return fw_cfg_add_bytes(s, key, b, 2);
}

int fw_cfg_add_i32(struct fw_cfg *s, uint16_t key, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    return fw_cfg_add_bytes(s, key, b, 4);
}

int fw_cfg_add_i64(struct fw_cfg *s, uint16_t key, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    return fw_cfg_add_bytes(s, key, b, 8);
}

int fw_cfg_add_string(struct fw_cfg *s, uint16_t key, const char *str)
{
    return fw_cfg_add_bytes(s, key, str, (uint32_t)strlen(str) + 1);
}

static int add_file(struct fw_cfg *s, const char *name, const void *data, uint32_t len, bool writable)
{
    if (strlen(name) >= FW_CFG_NAME_LEN)
        return -1;
    unsigned i;
    for (i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].name, name) == 0)
            break;
    if (i == s->nfiles) {
        if (s->nfiles >= FW_CFG_MAX_FILES)
            return -1;
        memset(&s->files[i], 0, sizeof(s->files[i]));
        strcpy(s->files[i].name, name);
        s->nfiles++;
    }
    if (item_set(&s->files[i].item, data, len) < 0)
        return -1;
    s->files[i].item.writable = writable;
    if (rebuild_dir(s) < 0)
        return -1;
    return FW_CFG_FILE_FIRST + (int)i;
}

int fw_cfg_add_file(struct fw_cfg *s, const char *name, const void *data, uint32_t len)
{
    return add_file(s, name, data, len, false);
}

int fw_cfg_add_file_writable(struct fw_cfg *s, const char *name, const void *data, uint32_t len)
{
    return add_file(s, name, data, len, true);
}

const struct fw_cfg_item *fw_cfg_find_file(const struct fw_cfg *s, const char *name)
{
    for (unsigned i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return &s->files[i].item;
    return NULL;
}

int fw_cfg_file_key(const struct fw_cfg *s, const char *name)
{
    for (unsigned i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return FW_CFG_FILE_FIRST + (int)i;
    return -1;
}

void fw_cfg_set_select_hook(struct fw_cfg *s, void (*hook)(void *opaque, uint16_t key), void *opaque)
{
    s->on_select = hook;
    s->on_select_opaque = opaque;
}

void fw_cfg_reset(struct fw_cfg *s)
{
    s->cur_key = 0;
    s->cur_offset = 0;
    memset(s->dma_addr, 0, sizeof(s->dma_addr));
}

static void select_key(struct fw_cfg *s, uint16_t key)
{
    s->cur_key = key;
    s->cur_offset = 0;
    if (s->on_select)
        s->on_select(s->on_select_opaque, (uint16_t)(key & ~FW_CFG_WRITE_CHANNEL));
}

/* Run one FWCfgDmaAccess {be32 control, be32 length, be64 address} at guest address desc. */
static void dma_transfer(struct fw_cfg *s, uint64_t desc)
{
    uint8_t raw[16];
    if (desc > 0xfffffff0ull)
        return;
    uint32_t da = (uint32_t)desc;
    phys_read_block(s->mem, da, raw, sizeof(raw));
    uint32_t control = get_be32(raw);
    uint32_t length = get_be32(raw + 4);
    uint64_t address = (uint64_t)get_be32(raw + 8) << 32 | get_be32(raw + 12);
    bool error = false;

    if (control & FW_CFG_DMA_SELECT)
        select_key(s, (uint16_t)(control >> 16));
    unsigned op = control & (FW_CFG_DMA_READ | FW_CFG_DMA_SKIP | FW_CFG_DMA_WRITE);
    struct fw_cfg_item *it = item_for_key(s, s->cur_key);
    if (op && address + length > 0x100000000ull && !(op & FW_CFG_DMA_SKIP) )
        error = true;
    while (!error && op && length) {
        uint32_t avail = it && it->data && s->cur_offset < it->len ? it->len - s->cur_offset : 0;
        uint32_t n;
        if (!avail) {
            /* Past the end: reads are zero-filled, writes fail. */
            n = length;
            if (op & FW_CFG_DMA_READ) {
                uint8_t zero[256] = {0};
                for (uint32_t done = 0; done < n;) {
                    uint32_t c = n - done < sizeof(zero) ? n - done : (uint32_t)sizeof(zero);
                    phys_write_block(s->mem, (uint32_t)address + done, zero, c);
                    done += c;
                }
            } else if (op & FW_CFG_DMA_WRITE) {
                error = true;
                break;
            }
        } else {
            n = length < avail ? length : avail;
            if (op & FW_CFG_DMA_READ) {
                phys_write_block(s->mem, (uint32_t)address, it->data + s->cur_offset, n);
            } else if (op & FW_CFG_DMA_WRITE) {
                if (!it->writable) {
                    error = true;
                    break;
                }
                phys_read_block(s->mem, (uint32_t)address, it->data + s->cur_offset, n);
            }
        }
        address += n;
        length -= n;
        s->cur_offset += n;
    }
    uint8_t status[4];
    put_be32(status, error ? FW_CFG_DMA_ERROR : 0);
    phys_write_block(s->mem, da, status, 4);
}

static uint32_t port_read(void *opaque, uint16_t port, unsigned size)
{
    struct fw_cfg *s = opaque;
    if (port == FW_CFG_PORT_DATA) {
        struct fw_cfg_item *it = item_for_key(s, s->cur_key);
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++) {
            uint8_t b = 0;
            if (it && it->data && s->cur_offset < it->len)
                b = it->data[s->cur_offset++];
            v |= (uint32_t)b << (8 * i);
        }
        return v;
    }
    if (port >= FW_CFG_PORT_DMA && port < FW_CFG_PORT_DMA + 8) {
        if (!s->dma_enabled)
            return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
        /* Reads return "QEMU CFG" in port order. */
        static const char sig[8] = { 'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G' };
        uint32_t v = 0;
        for (unsigned i = 0; i < size && port - FW_CFG_PORT_DMA + i < 8; i++)
            v |= (uint32_t)(uint8_t)sig[port - FW_CFG_PORT_DMA + i] << (8 * i);
        return v;
    }
    if (port == FW_CFG_PORT_SEL)
        return 0;
    return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct fw_cfg *s = opaque;
    if (port == FW_CFG_PORT_SEL) {
        select_key(s, (uint16_t)(size == 1 ? (value & 0xff) : value));
        return;
    }
    if (port >= FW_CFG_PORT_DMA && port < FW_CFG_PORT_DMA + 8 && s->dma_enabled) {
        unsigned off = port - FW_CFG_PORT_DMA;
        bool trigger = false;
        for (unsigned i = 0; i < size && off + i < 8; i++) {
            s->dma_addr[off + i] = (uint8_t)(value >> (8 * i));
            if (off + i == 7)
                trigger = true;
        }
        if (trigger) {
            uint64_t a = 0;
            for (int i = 0; i < 8; i++)
                a = a << 8 | s->dma_addr[i];
            memset(s->dma_addr, 0, sizeof(s->dma_addr));
            dma_transfer(s, a);
        }
    }
    /* Writes to the data port are ignored, as on QEMU since 2.4. */
}

void fw_cfg_init(struct fw_cfg *s, struct io_bus *io, struct phys_mem *mem, bool dma)
{
    memset(s, 0, sizeof(*s));
    s->mem = mem;
    s->dma_enabled = dma;
    fw_cfg_add_bytes(s, FW_CFG_SIGNATURE, "QEMU", 4);
    fw_cfg_add_i32(s, FW_CFG_ID, dma ? 3 : 1);
    rebuild_dir(s);
    io_register(io, FW_CFG_PORT_SEL, 2, s, port_read, port_write, IO_SIZE_1 | IO_SIZE_2, "fw_cfg");
    io_register(io, FW_CFG_PORT_DMA, 8, s, port_read, port_write, IO_SIZE_ALL, "fw_cfg-dma");
}

void fw_cfg_destroy(struct fw_cfg *s)
{
    for (unsigned i = 0; i < FW_CFG_FILE_FIRST; i++)
        free(s->std[i].data);
    for (unsigned i = 0; i < FW_CFG_ARCH_KEYS; i++)
        free(s->arch[i].data);
    for (unsigned i = 0; i < s->nfiles; i++)
        free(s->files[i].item.data);
    memset(s->std, 0, sizeof(s->std));
    memset(s->arch, 0, sizeof(s->arch));
    s->nfiles = 0;
}

int fw_cfg_setup_pc(struct fw_cfg *s, const struct fw_cfg_pc_config *cfg)
{
    int rc = 0;
    unsigned max_cpus = cfg->max_cpus > cfg->cpus ? cfg->max_cpus : cfg->cpus;
    rc |= fw_cfg_add_i64(s, FW_CFG_RAM_SIZE, cfg->ram_size);
    rc |= fw_cfg_add_i16(s, FW_CFG_NOGRAPHIC, cfg->nographic);
    rc |= fw_cfg_add_i16(s, FW_CFG_NB_CPUS, (uint16_t)cfg->cpus);
    rc |= fw_cfg_add_i16(s, FW_CFG_MAX_CPUS, (uint16_t)max_cpus);
    rc |= fw_cfg_add_i16(s, FW_CFG_BOOT_MENU, cfg->boot_menu);
    rc |= fw_cfg_add_i16(s, FW_CFG_BOOT_DEVICE, cfg->boot_device);
    /* NUMA: u64 node count (0), then one u64 per possible CPU, then one per node. */
    uint8_t *numa = calloc(1 + max_cpus, 8);
    if (!numa)
        return -1;
    rc |= fw_cfg_add_bytes(s, FW_CFG_NUMA, numa, (1 + max_cpus) * 8);
    free(numa);
    rc |= fw_cfg_add_i32(s, FW_CFG_IRQ0_OVERRIDE, 1);

    uint8_t e820[2 * 20];
    uint32_t n = 0;
    put_le(e820, 0, 8);
    put_le(e820 + 8, cfg->ram_below_4g, 8);
    put_le(e820 + 16, E820_RAM, 4);
    n++;
    if (cfg->ram_above_4g) {
        put_le(e820 + 20, 0x100000000ull, 8);
        put_le(e820 + 28, cfg->ram_above_4g, 8);
        put_le(e820 + 36, E820_RAM, 4);
        n++;
    }
    rc |= fw_cfg_add_file(s, "etc/e820", e820, 20 * n) < 0;
    if (cfg->bootorder)
        rc |= fw_cfg_add_file(s, "bootorder", cfg->bootorder, (uint32_t)strlen(cfg->bootorder) + 1) < 0;
    if (cfg->nographic) {
        uint8_t port[2];
        put_le(port, 0x3f8, 2);
        rc |= fw_cfg_add_file(s, "etc/sercon-port", port, 2) < 0;
    }
    uint8_t w[4];
    put_le(w, (uint32_t)cfg->boot_fail_wait_ms, 4);
    rc |= fw_cfg_add_file(s, "etc/boot-fail-wait", w, 4) < 0;
    return rc ? -1 : 0;
}

/* ---- saved state ---- */

/* The contents are the board's (rebuilt at start); only the guest's position is state. */
static const struct vmstate_field fw_cfg_fields[] = {
    VMF(struct fw_cfg, cur_key), VMF(struct fw_cfg, cur_offset), VMF_ARRAY(struct fw_cfg, dma_addr),
    VMF_END_OF_LIST,
};
const struct vmstate_desc fw_cfg_vmstate = { .name = "fw_cfg", .version = 1, .fields = fw_cfg_fields };

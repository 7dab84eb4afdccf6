/* i440FX host bridge: PAM shadowing of the BIOS window and the SMRAM register. */
#include "hw/i440fx.h"

#include <string.h>

#define I440FX_PAM0 0x59
#define I440FX_SMRAM 0x72
#define SMRAM_D_OPEN 0x40
#define SMRAM_D_LCK 0x10
#define SMRAM_DEFAULT 0x02   /* C_BASE_SEG = 010: SMRAM at 0xA0000 */

void i440fx_pam_region(int r, uint32_t *base, uint32_t *size)
{
    if (r == 0) {
        *base = 0xF0000;
        *size = 0x10000;
    } else {
        *base = 0xC0000 + (uint32_t)(r - 1) * 0x4000;
        *size = 0x4000;
    }
}

/* PAM0's high nibble is region 0; PAM1..6 hold two regions each, low nibble first. */
static unsigned pam_mode_from_config(const struct i440fx *s, int r)
{
    if (r == 0)
        return (s->dev.config[I440FX_PAM0] >> 4) & 3;
    uint8_t v = s->dev.config[I440FX_PAM0 + 1 + (r - 1) / 2];
    return ((r - 1) & 1 ? v >> 4 : v) & 3;
}

static uint32_t pam_split_read(void *opaque, uint32_t offset, unsigned size);
static void pam_split_write(void *opaque, uint32_t offset, uint32_t value, unsigned size);

static void pam_apply(struct i440fx *s, int r, unsigned mode)
{
    uint32_t base, size;
    i440fx_pam_region(r, &base, &size);
    uint8_t *rom = s->rom_area + (base - I440FX_ROM_AREA_BASE);
    bool have_ram = s->mem->ram_below_4g >= base + size;
    if (s->pam_mmio[r] >= 0)
        phys_remap_mmio(s->mem, s->pam_mmio[r], base, 0);
    if (!have_ram)
        mode = 0;
    switch (mode) {
    case 0:
        phys_map_host(s->mem, base, size, rom, false);
        break;
    case 1:
        phys_map_host(s->mem, base, size, s->mem->ram + base, false);
        break;
    case 2:
        if (s->pam_mmio[r] < 0)
            s->pam_mmio[r] = phys_map_mmio(s->mem, base, 0, &s->pam_ctx[r], pam_split_read, pam_split_write, "pam");
        if (s->pam_mmio[r] >= 0)
            phys_remap_mmio(s->mem, s->pam_mmio[r], base, size);
        else
            phys_map_host(s->mem, base, size, rom, false);
        break;
    default:
        phys_map_host(s->mem, base, size, s->mem->ram + base, true);
        break;
    }
    s->pam_mode[r] = (uint8_t)mode;
}

/* Mode 2: reads see the ROM buffer, writes land in RAM. */
static uint32_t pam_split_read(void *opaque, uint32_t offset, unsigned size)
{
    struct i440fx_pam_ctx *c = opaque;
    uint32_t base, len;
    i440fx_pam_region(c->region, &base, &len);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && offset + i < len; i++)
        v |= (uint32_t)c->s->rom_area[base - I440FX_ROM_AREA_BASE + offset + i] << (8 * i);
    return v;
}

static void pam_split_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct i440fx_pam_ctx *c = opaque;
    uint32_t base, len;
    i440fx_pam_region(c->region, &base, &len);
    for (unsigned i = 0; i < size && offset + i < len; i++)
        c->s->mem->ram[base + offset + i] = (uint8_t)(value >> (8 * i));
}

static void pam_update(struct i440fx *s, bool force)
{
    bool changed = false;
    for (int r = 0; r < I440FX_PAM_REGIONS; r++) {
        unsigned mode = pam_mode_from_config(s, r);
        if (!force && mode == s->pam_mode[r])
            continue;
        pam_apply(s, r, mode);
        changed = true;
    }
    if (changed && s->mem_changed)
        s->mem_changed(s->opaque);
}

static void i440fx_config_write(struct pci_device *dev, unsigned offset, uint32_t value, unsigned size)
{
    struct i440fx *s = dev->opaque;
    (void)value;
    if (offset <= I440FX_SMRAM && offset + size > I440FX_SMRAM) {
        /* Undo the plain store when locked; D_LCK also forces D_OPEN off. */
        uint8_t v = dev->config[I440FX_SMRAM];
        uint8_t old = s->smram;
        if (old & SMRAM_D_LCK)
            v = old;
        else if (v & SMRAM_D_LCK)
            v &= (uint8_t)~SMRAM_D_OPEN;
        v = (uint8_t)((v & 0x78) | SMRAM_DEFAULT);
        dev->config[I440FX_SMRAM] = v;
        s->smram = v;
    }
    if (offset < I440FX_PAM0 + 7 && offset + size > I440FX_PAM0)
        pam_update(s, false);
}

void i440fx_reset(struct i440fx *s)
{
    memset(&s->dev.config[I440FX_PAM0], 0, 7);
    s->dev.config[I440FX_SMRAM] = SMRAM_DEFAULT;
    s->smram = SMRAM_DEFAULT;
    pam_update(s, true);
}

int i440fx_init(struct i440fx *s, struct pci_bus *bus, struct phys_mem *mem, uint8_t *rom_area,
                void (*mem_changed)(void *opaque), void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->mem = mem;
    s->rom_area = rom_area;
    s->mem_changed = mem_changed;
    s->opaque = opaque;
    for (int r = 0; r < I440FX_PAM_REGIONS; r++) {
        s->pam_mmio[r] = -1;
        s->pam_ctx[r] = (struct i440fx_pam_ctx){ .s = s, .region = r };
    }
    if (pci_register_device(bus, &s->dev, 0, "i440FX", 0x8086, 0x1237, 0x02, 0x060000, 0x00, 0) < 0)
        return -1;
    s->dev.opaque = s;
    s->dev.config_write = i440fx_config_write;
    /* The host bridge is always a memory/IO target; status: fast back-to-back, medium DEVSEL. */
    pci_set_word(&s->dev.config[0x04], 0x0006);
    pci_set_word(&s->dev.config[0x06], 0x0280);
    /* 0x50-0x71: PMC config, DRAM control/timing, PAM, DRB, FDHC, ... all plain storage. */
    memset(&s->dev.wmask[0x50], 0xff, 0x72 - 0x50);
    s->dev.wmask[I440FX_SMRAM] = 0xff;
    i440fx_reset(s);
    return 0;
}

void i440fx_get_pam(const struct i440fx *s, uint8_t pam[I440FX_PAM_BYTES])
{
    memcpy(pam, &s->dev.config[I440FX_PAM0], I440FX_PAM_BYTES);
}

void i440fx_set_pam(struct i440fx *s, const uint8_t pam[I440FX_PAM_BYTES])
{
    memcpy(&s->dev.config[I440FX_PAM0], pam, I440FX_PAM_BYTES);
    pam_update(s, false);
}

void i440fx_shadow_ram(struct i440fx *s, bool writable)
{
    uint8_t v = writable ? 0x33 : 0x11;
    memset(&s->dev.config[I440FX_PAM0 + 1], v, 6);
    s->dev.config[I440FX_PAM0] = (uint8_t)(v & 0xf0);
    pam_update(s, false);
}

/* ---- saved state ---- */

static int i440fx_post_load(void *opaque, char *err, size_t errlen)
{
    struct i440fx *s = opaque;
    (void)err;
    (void)errlen;
    pci_device_post_load(&s->dev);
    return 0;
}

static const struct vmstate_field i440fx_fields[] = {
    VMF_STRUCT(struct i440fx, dev, pci_device_vmstate), VMF(struct i440fx, smram),
    VMF_END_OF_LIST,
};
const struct vmstate_desc i440fx_vmstate = { .name = "i440FX", .version = 1, .fields = i440fx_fields,
                                             .post_load = i440fx_post_load };

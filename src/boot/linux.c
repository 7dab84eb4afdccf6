/* Linux boot protocol loader (Documentation/x86/boot.rst): we act as the boot loader and enter
 * the protected-mode kernel directly through the 32-bit boot protocol, so the real-mode setup
 * code never runs and the zero page must hold what it would have detected (memory map, video). */
#include "boot/linux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/memory.h"

#define MIB (1024u * 1024u)

bool linux_probe(const uint8_t *img, size_t size)
{
    return size >= HDR_MAGIC + 4 && memcmp(img + HDR_MAGIC, "HdrS", 4) == 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return a ? (v + a - 1) / a * a : v;
}

/* Highest page-aligned start for an initrd of len bytes in usable RAM ending at or below limit
 * and not overlapping [avoid_lo, avoid_hi).  Returns 0 when nothing fits. */
static uint64_t place_initrd(const struct boot_request *req, uint64_t len, uint64_t limit,
                             uint64_t avoid_lo, uint64_t avoid_hi)
{
    uint64_t best = 0;
    for (unsigned i = 0; i < req->e820_count; i++) {
        const struct e820_entry *e = &req->e820[i];
        if (e->type != E820_RAM)
            continue;
        uint64_t top = e->addr + e->len;
        if (top > limit)
            top = limit;
        if (top > req->ram_below_4g)
            top = req->ram_below_4g;
        if (top < len || top - len < e->addr)
            continue;
        uint64_t start = (top - len) & ~(uint64_t)(PHYS_PAGE_SIZE - 1);
        if (start < avoid_hi && start + len > avoid_lo) {
            /* Below the kernel's area, if it fits there. */
            if (avoid_lo < len)
                continue;
            start = (avoid_lo - len) & ~(uint64_t)(PHYS_PAGE_SIZE - 1);
        }
        if (start < e->addr || start < MIB)
            continue;
        if (start > best)
            best = start;
    }
    return best;
}

int linux_load(const struct boot_request *req, const uint8_t *img, size_t size,
               struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen)
{
    if (!linux_probe(img, size))
        return boot_error(err, errlen, "not a Linux kernel (no HdrS signature)");
    if (size < 1024)
        return boot_error(err, errlen, "Linux kernel truncated: %zu bytes", size);
    if (boot_le16(img + HDR_BOOT_FLAG) != 0xaa55)
        return boot_error(err, errlen, "Linux kernel has a bad boot flag 0x%04x (expected 0xaa55)",
                          boot_le16(img + HDR_BOOT_FLAG));
    unsigned version = boot_le16(img + HDR_VERSION);
    if (version < 0x202)
        return boot_error(err, errlen, "Linux boot protocol %u.%02u is too old (pcvm needs 2.02 or "
                          "later)", version >> 8, version & 0xff);
    uint8_t loadflags = img[HDR_LOADFLAGS];
    if (!(loadflags & LOADFLAG_LOADED_HIGH))
        return boot_error(err, errlen, "Linux zImage (loaded low) is not supported; give a bzImage");

    unsigned setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
    size_t setup_size = (size_t)(setup_sects + 1) * 512;
    if (setup_size >= size)
        return boot_error(err, errlen, "Linux kernel truncated: setup code is %zu bytes, file has %zu",
                          setup_size, size);
    size_t kernel_size = size - setup_size;
    uint64_t syssize = (uint64_t)(version >= 0x204 ? boot_le32(img + HDR_SYSSIZE)
                                                   : boot_le16(img + HDR_SYSSIZE)) * 16;
    if (syssize > align_up(kernel_size, 16))   /* syssize counts 16-byte units, rounded up */
        return boot_error(err, errlen, "Linux kernel truncated: protected-mode part is %zu bytes, "
                          "header says %llu", kernel_size, (unsigned long long)syssize);

    uint64_t initrd_addr_max = version >= 0x203 ? boot_le32(img + HDR_INITRD_ADDR_MAX) : 0x37ffffff;
    uint32_t cmdline_size = version >= 0x206 ? boot_le32(img + HDR_CMDLINE_SIZE) : 255;
    bool relocatable = version >= 0x205 && img[HDR_RELOCATABLE];
    uint64_t alignment = version >= 0x205 ? boot_le32(img + HDR_KERNEL_ALIGNMENT) : MIB;
    uint64_t pref_address = LINUX_LOAD_ADDR, init_size = 0;
    if (version >= 0x20a) {
        pref_address = boot_le32(img + HDR_PREF_ADDRESS) |
                       (uint64_t)boot_le32(img + HDR_PREF_ADDRESS + 4) << 32;
        init_size = boot_le32(img + HDR_INIT_SIZE);
    }
    if (pref_address >= 0x100000000ull)
        return boot_error(err, errlen, "Linux kernel wants to run above 4 GiB (pref_address 0x%llx)",
                          (unsigned long long)pref_address);

    /* Load at 1 MiB; a relocatable kernel may go to its preferred address when 1 MiB is not
     * usable RAM (the decompressor moves itself anyway). */
    uint64_t load = LINUX_LOAD_ADDR;
    if (boot_check_ram(req, load, kernel_size, "Linux kernel", err, errlen) < 0) {
        if (!relocatable || pref_address == load)
            return -1;
        load = align_up(pref_address, alignment);
        if (boot_check_ram(req, load, kernel_size, "Linux kernel", err, errlen) < 0)
            return -1;
    }
    /* Where the kernel decompresses and runs, and how much it needs there (init_size). */
    uint64_t runtime = load;
    if (version >= 0x20a)
        runtime = relocatable ? (align_up(load, alignment) > pref_address ? align_up(load, alignment)
                                                                          : pref_address)
                              : pref_address;
    uint64_t need = init_size > kernel_size ? init_size : kernel_size;
    if (runtime + need > req->ram_below_4g)
        return boot_error(err, errlen, "Linux kernel needs RAM up to %llu MiB (it runs at 0x%llx "
                          "and needs 0x%llx bytes there); give more memory with -m",
                          (unsigned long long)((runtime + need + MIB - 1) / MIB),
                          (unsigned long long)runtime, (unsigned long long)need);
    if (boot_check_ram(req, runtime, need, "Linux kernel's working area", err, errlen) < 0)
        return -1;
    uint64_t kern_lo = load < runtime ? load : runtime;
    uint64_t kern_hi = load + kernel_size > runtime + need ? load + kernel_size : runtime + need;

    const char *cmdline = req->cmdline ? req->cmdline : "";
    size_t cmdline_len = strlen(cmdline);
    if (cmdline_len > cmdline_size)
        return boot_error(err, errlen, "kernel command line is %zu bytes; this kernel accepts at most %u",
                          cmdline_len, cmdline_size);
    if (cmdline_len >= 0x10000)
        return boot_error(err, errlen, "kernel command line is too long (%zu bytes)", cmdline_len);
    if (boot_check_ram(req, BOOT_ZEROPAGE_ADDR, 0x20000 + cmdline_len + 1 - 0x10000,
                       "Linux zero page and command line", err, errlen) < 0)
        return -1;

    /* The initrd goes as high as allowed, page aligned, clear of the kernel. */
    uint8_t *initrd = NULL;
    size_t initrd_size = 0;
    uint64_t initrd_addr = 0;
    if (req->initrd && req->initrd[0]) {
        initrd = boot_read_file(req->initrd, req->ram_below_4g, &initrd_size, "initrd", err, errlen);
        if (!initrd)
            return -1;
        uint64_t limit = initrd_addr_max + 1;
        if (initrd_size == 0 || (initrd_addr = place_initrd(req, initrd_size, limit, kern_lo, kern_hi)) == 0) {
            free(initrd);
            return boot_error(err, errlen, "initrd '%s' (%zu bytes) does not fit in RAM below 0x%llx "
                              "next to the kernel; give more memory with -m", req->initrd, initrd_size,
                              (unsigned long long)(limit < req->ram_below_4g ? limit : req->ram_below_4g));
        }
    }

    /* Zero page: the kernel's own setup header, then what the setup code would have found. */
    uint8_t zp[4096];
    memset(zp, 0, sizeof(zp));
    size_t hdr_end = HDR_JUMP + 2 + img[HDR_JUMP + 1];   /* 0x202 + byte at 0x201 */
    if (hdr_end > HDR_MAX_END)
        hdr_end = HDR_MAX_END;
    memcpy(zp + HDR_START, img + HDR_START, hdr_end - HDR_START);

    uint32_t ext_k = (req->ram_below_4g - MIB) / 1024;
    boot_put16(zp + BP_EXT_MEM_K, (uint16_t)(ext_k > 0xffff ? 0xffff : ext_k));
    boot_put32(zp + BP_ALT_MEM_K, ext_k);
    zp[BP_VIDEO_MODE] = 3;        /* 80x25 colour text, as a PC BIOS leaves it */
    zp[BP_VIDEO_COLS] = 80;
    zp[BP_VIDEO_LINES] = 25;
    boot_put16(zp + BP_VIDEO_POINTS, 16);
    if (req->vga_text) {
        boot_put16(zp + BP_VIDEO_EGA_BX, 0x0003); /* colour, 256 KiB: EGA or better */
        zp[BP_VIDEO_ISVGA] = 1;
    }
    unsigned n = req->e820_count < BP_E820_MAX ? req->e820_count : BP_E820_MAX;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = zp + BP_E820_TABLE + i * 20;
        boot_put64(e, req->e820[i].addr);
        boot_put64(e + 8, req->e820[i].len);
        boot_put32(e + 16, req->e820[i].type);
    }
    zp[BP_E820_ENTRIES] = (uint8_t)n;

    boot_put16(zp + HDR_VID_MODE, 0xffff);                     /* "normal" */
    zp[HDR_TYPE_OF_LOADER] = LINUX_LOADER_TYPE;
    zp[HDR_LOADFLAGS] = (uint8_t)(loadflags | LOADFLAG_CAN_USE_HEAP);
    boot_put16(zp + HDR_HEAP_END_PTR, 0xfe00);
    boot_put32(zp + HDR_CODE32_START, (uint32_t)load);
    boot_put32(zp + HDR_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
    boot_put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
    boot_put32(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
    if (version >= 0x209)
        memset(zp + HDR_SETUP_DATA, 0, 8);

    /* Everything checked: write guest memory. */
    phys_write_block(pm, (uint32_t)load, img + setup_size, kernel_size);
    phys_write_block(pm, BOOT_ZEROPAGE_ADDR, zp, sizeof(zp));
    phys_write_block(pm, BOOT_CMDLINE_ADDR, cmdline, cmdline_len + 1);
    if (initrd) {
        phys_write_block(pm, (uint32_t)initrd_addr, initrd, initrd_size);
        free(initrd);
    }

    memset(out, 0, sizeof(*out));
    out->kind = BOOT_LINUX;
    boot_flat_protected_mode(pm, out);
    out->eip = (uint32_t)load;
    out->regs[6] = BOOT_ZEROPAGE_ADDR;   /* ESI */
    out->regs[4] = BOOT_ZEROPAGE_ADDR;   /* ESP: below the zero page (the protocol leaves it open) */
    out->kernel_start = (uint32_t)load;
    out->kernel_end = (uint32_t)(load + kernel_size);
    out->initrd_start = (uint32_t)initrd_addr;
    out->initrd_size = (uint32_t)initrd_size;
    out->info_addr = BOOT_ZEROPAGE_ADDR;
    out->cmdline_addr = BOOT_CMDLINE_ADDR;
    return 0;
}

/* Multiboot 1 loader.  Layout: the kernel at its own addresses; modules page aligned after
 * it; then the loader name, command lines and the module list; the memory map and the
 * information structure in low memory (BOOT_MB_MMAP_ADDR, BOOT_MB_INFO_ADDR). */
#include "boot/multiboot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/elf.h"
#include "mem/memory.h"

#define MB_MMAP_MAX ((BOOT_MB_INFO_ADDR - BOOT_MB_MMAP_ADDR) / 24)
#define PAGE_ALIGN(x) (((x) + (uint64_t)PHYS_PAGE_SIZE - 1) & ~(uint64_t)(PHYS_PAGE_SIZE - 1))

long multiboot_find_header(const uint8_t *img, size_t size)
{
    size_t lim = size < MB_SEARCH_LEN ? size : MB_SEARCH_LEN;
    for (size_t off = 0; off + 12 <= lim; off += 4) {
        uint32_t magic = boot_le32(img + off);
        if (magic == MB_HEADER_MAGIC &&
            (uint32_t)(magic + boot_le32(img + off + 4) + boot_le32(img + off + 8)) == 0)
            return (long)off;
    }
    return -1;
}

int multiboot_split_modules(const char *list, char *buf, size_t buflen, const char **mods, int max)
{
    int count = 0;
    size_t pos = 0;
    const char *p = list;
    while (*p) {
        if (count >= max)
            return -1;
        mods[count++] = buf + pos;
        for (; *p; p++) {
            if (*p == ',') {
                if (p[1] != ',')
                    break;
                p++;   /* ",," is one literal comma */
            }
            if (pos + 1 >= buflen)
                return -1;
            buf[pos++] = *p;
        }
        if (pos >= buflen)
            return -1;
        buf[pos++] = '\0';
        if (*p == ',')
            p++;
    }
    return count;
}

/* Load an a.out-kludge kernel from the header's address fields. */
static int load_aout(const struct boot_request *req, const uint8_t *img, size_t size, size_t off,
                     struct phys_mem *pm, uint32_t *entry, uint32_t *lo, uint32_t *hi,
                     char *err, size_t errlen)
{
    if (off + 32 > size)
        return boot_error(err, errlen, "Multiboot header truncated: address fields past end of file");
    uint32_t header_addr = boot_le32(img + off + 12), load_addr = boot_le32(img + off + 16);
    uint32_t load_end = boot_le32(img + off + 20), bss_end = boot_le32(img + off + 24);
    uint32_t entry_addr = boot_le32(img + off + 28);
    if (load_addr > header_addr)
        return boot_error(err, errlen, "Multiboot load_addr 0x%x is above header_addr 0x%x",
                          load_addr, header_addr);
    if (header_addr - load_addr > off)
        return boot_error(err, errlen, "Multiboot load_addr 0x%x lies before the start of the file",
                          load_addr);
    size_t file_off = off - (header_addr - load_addr);
    uint64_t load_len;
    if (load_end) {
        if (load_end < load_addr)
            return boot_error(err, errlen, "Multiboot load_end_addr 0x%x is below load_addr 0x%x",
                              load_end, load_addr);
        load_len = load_end - load_addr;
    } else {
        load_len = size - file_off;
    }
    if (file_off + load_len > size)
        return boot_error(err, errlen, "Multiboot kernel truncated: needs 0x%llx bytes from file "
                          "offset 0x%zx, file has 0x%zx", (unsigned long long)load_len, file_off, size);
    uint64_t mem_end = load_addr + load_len;
    if (bss_end) {
        if (bss_end < mem_end)
            return boot_error(err, errlen, "Multiboot bss_end_addr 0x%x is below the loaded end 0x%llx",
                              bss_end, (unsigned long long)mem_end);
        mem_end = bss_end;
    }
    if (mem_end == load_addr)
        return boot_error(err, errlen, "Multiboot kernel loads nothing");
    if (boot_check_ram(req, load_addr, mem_end - load_addr, "Multiboot kernel", err, errlen) < 0)
        return -1;
    if (entry_addr < load_addr || entry_addr >= mem_end)
        return boot_error(err, errlen, "Multiboot entry_addr 0x%x is outside the kernel 0x%x-0x%llx",
                          entry_addr, load_addr, (unsigned long long)mem_end);
    phys_write_block(pm, load_addr, img + file_off, (size_t)load_len);
    static const uint8_t zeros[4096];
    for (uint64_t a = load_addr + load_len; a < mem_end; a += sizeof(zeros)) {
        uint64_t n = mem_end - a < sizeof(zeros) ? mem_end - a : sizeof(zeros);
        phys_write_block(pm, (uint32_t)a, zeros, (size_t)n);
    }
    *entry = entry_addr;
    *lo = load_addr;
    *hi = (uint32_t)mem_end;
    return 0;
}

/* mem_lower: conventional memory at 0 (KiB, at most 640); mem_upper: contiguous RAM from 1 MiB. */
static void memory_info(const struct boot_request *req, uint32_t *lower, uint32_t *upper)
{
    uint64_t low_end = 0, up_end = 0x100000;
    bool grew = true;
    while (grew) {   /* follow adjacent or overlapping RAM entries */
        grew = false;
        for (unsigned i = 0; i < req->e820_count; i++) {
            const struct e820_entry *e = &req->e820[i];
            if (e->type != E820_RAM)
                continue;
            uint64_t end = e->addr + e->len;
            if (e->addr <= low_end && end > low_end) {
                low_end = end;
                grew = true;
            }
            if (e->addr <= up_end && end > up_end) {
                up_end = end;
                grew = true;
            }
        }
    }
    if (low_end > 0xa0000)
        low_end = 0xa0000;
    if (up_end > 0x100000000ull)
        up_end = 0x100000000ull;
    *lower = (uint32_t)(low_end / 1024);
    *upper = (uint32_t)((up_end - 0x100000) / 1024);
}

int multiboot_load(const struct boot_request *req, const uint8_t *img, size_t size, size_t hdr_off,
                   struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen)
{
    uint32_t flags = boot_le32(img + hdr_off + 4);
    uint32_t required = flags & 0xffffu;
    uint32_t known = MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE;
    if (required & ~known)
        return boot_error(err, errlen, "Multiboot kernel requires unsupported features (flags 0x%x)",
                          required & ~known);
    uint32_t entry, lo, hi;
    if (flags & MB_FLAG_AOUT_KLUDGE) {
        if (load_aout(req, img, size, hdr_off, pm, &entry, &lo, &hi, err, errlen) < 0)
            return -1;
    } else if (elf_probe(img, size)) {
        if (elf32_load(req, img, size, pm, &entry, &lo, &hi, err, errlen) < 0)
            return -1;
    } else {
        return boot_error(err, errlen, "Multiboot kernel is neither ELF nor has address fields (flag 16)");
    }
    if (lo < BOOT_GDT_ADDR)
        return boot_error(err, errlen, "Multiboot kernel at 0x%x-0x%x overlaps the real-mode interrupt "
                          "table and BIOS data area below 0x%x", lo, hi, BOOT_GDT_ADDR);
    /* The GDT, memory map and information structure go to their usual low-memory places unless
     * the kernel is there; then after the kernel, its modules and the command lines. */
    bool tables_low = lo >= BOOT_MB_INFO_ADDR + MBI_SIZE || hi <= BOOT_GDT_ADDR;

    /* Modules, each page aligned after the kernel; a module's command line is its whole string. */
    const char *list = req->initrd ? req->initrd : "";
    size_t listlen = strlen(list) + 1;
    char *modbuf = malloc(listlen + 1);
    const char *mods[MB_MAX_MODULES];
    int nmods = modbuf ? multiboot_split_modules(list, modbuf, listlen + 1, mods, MB_MAX_MODULES) : -1;
    if (nmods < 0) {
        free(modbuf);
        return boot_error(err, errlen, "too many Multiboot modules (at most %d)", MB_MAX_MODULES);
    }
    uint32_t mod_start[MB_MAX_MODULES], mod_end[MB_MAX_MODULES];
    uint64_t next = PAGE_ALIGN((uint64_t)hi);
    for (int i = 0; i < nmods; i++) {
        char path[4096];
        size_t plen = strcspn(mods[i], " ");
        if (plen == 0 || plen >= sizeof(path)) {
            free(modbuf);
            return boot_error(err, errlen, "Multiboot module %d has %s file name", i + 1,
                              plen ? "a too long" : "no");
        }
        memcpy(path, mods[i], plen);
        path[plen] = '\0';
        size_t msize;
        uint8_t *data = boot_read_file(path, req->ram_below_4g, &msize, "Multiboot module", err, errlen);
        if (!data) {
            free(modbuf);
            return -1;
        }
        char what[64];
        snprintf(what, sizeof(what), "Multiboot module %d", i + 1);
        if (boot_check_ram(req, next, msize ? msize : 1, what, err, errlen) < 0) {
            free(data);
            free(modbuf);
            return -1;
        }
        phys_write_block(pm, (uint32_t)next, data, msize);
        free(data);
        mod_start[i] = (uint32_t)next;
        mod_end[i] = (uint32_t)(next + msize);
        next = PAGE_ALIGN(next + msize);
    }

    /* Strings and the module list, after the modules. */
    const char *kpath = req->kernel_path ? req->kernel_path : "kernel";
    const char *append = req->cmdline ? req->cmdline : "";
    size_t strings = strlen("pcvm") + 1 + strlen(kpath) + 1 + strlen(append) + 1;
    for (int i = 0; i < nmods; i++)
        strings += strlen(mods[i]) + 1;
    size_t mods_off = (strings + 15) & ~(size_t)15;
    size_t area_len = mods_off + (size_t)nmods * 16;
    uint8_t *area = calloc(1, area_len);
    if (!area) {
        free(modbuf);
        return boot_error(err, errlen, "out of memory");
    }
    uint32_t base = (uint32_t)next;
    if (boot_check_ram(req, next, area_len, "Multiboot command lines", err, errlen) < 0) {
        free(area);
        free(modbuf);
        return -1;
    }
    size_t pos = 0;
    uint32_t name_addr = base + (uint32_t)pos;
    pos += (size_t)sprintf((char *)area + pos, "pcvm") + 1;
    uint32_t cmdline_addr = base + (uint32_t)pos;
    pos += (size_t)sprintf((char *)area + pos, append[0] ? "%s %s" : "%s", kpath, append) + 1;
    for (int i = 0; i < nmods; i++) {
        uint8_t *m = area + mods_off + (size_t)i * 16;
        boot_put32(m, mod_start[i]);
        boot_put32(m + 4, mod_end[i]);
        boot_put32(m + 8, base + (uint32_t)pos);
        pos += (size_t)sprintf((char *)area + pos, "%s", mods[i]) + 1;
    }
    phys_write_block(pm, base, area, area_len);
    free(area);
    free(modbuf);

    uint32_t gdt_addr = BOOT_GDT_ADDR, mmap_addr = BOOT_MB_MMAP_ADDR, info_addr = BOOT_MB_INFO_ADDR;
    if (!tables_low) {
        gdt_addr = (uint32_t)PAGE_ALIGN(next + area_len);
        mmap_addr = gdt_addr + 0x100;
        info_addr = mmap_addr + (BOOT_MB_INFO_ADDR - BOOT_MB_MMAP_ADDR);
    }
    if (boot_check_ram(req, gdt_addr, info_addr - gdt_addr + MBI_SIZE, "Multiboot information",
                       err, errlen) < 0)
        return -1;

    /* Memory map, from the e820 map: each entry is preceded by its size (20). */
    uint8_t mmap[MB_MMAP_MAX * 24];
    unsigned nmap = req->e820_count < MB_MMAP_MAX ? req->e820_count : MB_MMAP_MAX;
    for (unsigned i = 0; i < nmap; i++) {
        uint8_t *e = mmap + i * 24;
        boot_put32(e, 20);
        boot_put64(e + 4, req->e820[i].addr);
        boot_put64(e + 12, req->e820[i].len);
        boot_put32(e + 20, req->e820[i].type);
    }
    if (nmap)
        phys_write_block(pm, mmap_addr, mmap, nmap * 24);

    uint8_t mbi[MBI_SIZE];
    memset(mbi, 0, sizeof(mbi));
    uint32_t lower, upper;
    memory_info(req, &lower, &upper);
    boot_put32(mbi + MBI_FLAGS, MBI_F_MEM | MBI_F_BOOTDEV | MBI_F_CMDLINE | MBI_F_MODS |
                                (nmap ? MBI_F_MMAP : 0) | MBI_F_LOADER_NAME);
    boot_put32(mbi + MBI_MEM_LOWER, lower);
    boot_put32(mbi + MBI_MEM_UPPER, upper);
    boot_put32(mbi + MBI_BOOT_DEVICE, MB_BOOT_DEVICE);
    boot_put32(mbi + MBI_CMDLINE, cmdline_addr);
    boot_put32(mbi + MBI_MODS_COUNT, (uint32_t)nmods);
    boot_put32(mbi + MBI_MODS_ADDR, nmods ? base + (uint32_t)mods_off : 0);
    boot_put32(mbi + MBI_MMAP_LENGTH, nmap * 24);
    boot_put32(mbi + MBI_MMAP_ADDR, nmap ? mmap_addr : 0);
    boot_put32(mbi + MBI_BOOT_LOADER_NAME, name_addr);
    phys_write_block(pm, info_addr, mbi, sizeof(mbi));

    memset(out, 0, sizeof(*out));
    out->kind = BOOT_MULTIBOOT;
    boot_flat_protected_mode_at(pm, out, gdt_addr);
    out->eip = entry;
    out->regs[0] = MB_BOOT_MAGIC;         /* EAX */
    out->regs[3] = info_addr;             /* EBX */
    out->kernel_start = lo;
    out->kernel_end = hi;
    out->initrd_start = nmods ? mod_start[0] : 0;
    out->initrd_size = nmods ? mod_end[nmods - 1] - mod_start[0] : 0;
    out->info_addr = info_addr;
    out->cmdline_addr = cmdline_addr;
    return 0;
}

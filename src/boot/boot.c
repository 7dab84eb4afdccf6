/* Direct kernel boot: pick the loader for the file's format, and helpers the loaders share. */
#include "boot/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot/elf.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "mem/memory.h"

int boot_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

uint8_t *boot_read_file(const char *path, uint64_t max_size, size_t *size, const char *what,
                        char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        boot_error(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        boot_error(err, errlen, "%s '%s' is not a regular file", what, path);
        return NULL;
    }
    if ((uint64_t)st.st_size > max_size) {
        fclose(f);
        boot_error(err, errlen, "%s '%s' is larger (%llu bytes) than guest RAM allows (%llu bytes); "
                   "give more memory with -m", what, path, (unsigned long long)st.st_size,
                   (unsigned long long)max_size);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        boot_error(err, errlen, "out of memory reading %s '%s'", what, path);
        return NULL;
    }
    if (fread(buf, 1, n, f) != n) {
        fclose(f);
        free(buf);
        boot_error(err, errlen, "cannot read %s '%s'", what, path);
        return NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

int boot_check_ram(const struct boot_request *req, uint64_t addr, uint64_t len, const char *what,
                   char *err, size_t errlen)
{
    uint64_t end = addr + len;
    if (end > req->ram_below_4g)
        return boot_error(err, errlen, "%s at 0x%llx-0x%llx does not fit in %u MiB of RAM; "
                          "give more memory with -m", what, (unsigned long long)addr,
                          (unsigned long long)end, req->ram_below_4g >> 20);
    for (unsigned i = 0; i < req->e820_count; i++) {
        const struct e820_entry *e = &req->e820[i];
        if (e->type == E820_RAM && addr >= e->addr && end <= e->addr + e->len)
            return 0;
    }
    /* Name the area it collides with: the usual case is the VGA/ROM hole below 1 MiB. */
    for (unsigned i = 0; i < req->e820_count; i++) {
        const struct e820_entry *e = &req->e820[i];
        if (e->type != E820_RAM && addr < e->addr + e->len && end > e->addr)
            return boot_error(err, errlen, "%s at 0x%llx-0x%llx overlaps the reserved area "
                              "0x%llx-0x%llx", what, (unsigned long long)addr,
                              (unsigned long long)end, (unsigned long long)e->addr,
                              (unsigned long long)(e->addr + e->len));
    }
    if (addr < 0x100000 && end > 0xa0000)
        return boot_error(err, errlen, "%s at 0x%llx-0x%llx overlaps the VGA/ROM area "
                          "0xa0000-0x100000", what, (unsigned long long)addr, (unsigned long long)end);
    return boot_error(err, errlen, "%s at 0x%llx-0x%llx is not in usable RAM", what,
                      (unsigned long long)addr, (unsigned long long)end);
}

void boot_flat_protected_mode(struct phys_mem *pm, struct boot_entry_state *st)
{
    boot_flat_protected_mode_at(pm, st, BOOT_GDT_ADDR);
}

void boot_flat_protected_mode_at(struct phys_mem *pm, struct boot_entry_state *st, uint32_t gdt_addr)
{
    /* Null, unused, flat code (0x10), flat data (0x18): the Linux 32-bit boot protocol's
     * selectors, which suit Multiboot kernels too (they load their own GDT). */
    static const uint8_t gdt[32] = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0,
        0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0,
    };
    phys_write_block(pm, gdt_addr, gdt, sizeof(gdt));
    st->gdt_base = gdt_addr;
    st->gdt_limit = sizeof(gdt) - 1;
    for (int i = 0; i < 6; i++) {
        st->seg[i].sel = BOOT_SEL_DATA;
        st->seg[i].base = 0;
        st->seg[i].limit = 0xffffffffu;
        st->seg[i].flags = BOOT_FLAT_DATA_FLAGS;
    }
    st->seg[1].sel = BOOT_SEL_CODE;   /* SEG_CS */
    st->seg[1].flags = BOOT_FLAT_CODE_FLAGS;
    st->cr0 = 0x11;                   /* PE, ET; paging off */
    st->eflags = 0x2;                 /* IF clear */
}

unsigned boot_build_e820(uint32_t ram_below_4g, uint32_t acpi_base, uint32_t acpi_len,
                         struct e820_entry *out, unsigned max)
{
    struct e820_entry map[8];
    unsigned n = 0;
    uint64_t low_top = ram_below_4g < 0x9fc00 ? ram_below_4g : 0x9fc00;
    map[n++] = (struct e820_entry){ 0, low_top, E820_RAM };
    map[n++] = (struct e820_entry){ 0x9fc00, 0x400, E820_RESERVED };
    map[n++] = (struct e820_entry){ 0xf0000, 0x10000, E820_RESERVED };
    if (ram_below_4g > 0x100000) {
        uint64_t top = ram_below_4g;
        if (acpi_len && acpi_base >= 0x100000 && (uint64_t)acpi_base + acpi_len <= ram_below_4g)
            top = acpi_base;
        map[n++] = (struct e820_entry){ 0x100000, top - 0x100000, E820_RAM };
        if (top != ram_below_4g)
            map[n++] = (struct e820_entry){ top, acpi_len, E820_ACPI };
    }
    map[n++] = (struct e820_entry){ 0xfec00000, 0x1000, E820_RESERVED };
    map[n++] = (struct e820_entry){ 0xfee00000, 0x1000, E820_RESERVED };
    map[n++] = (struct e820_entry){ 0xfffc0000, 0x40000, E820_RESERVED };
    if (n > max)
        n = max;
    memcpy(out, map, n * sizeof(map[0]));
    return n;
}

int boot_load_image(const struct boot_request *req, const uint8_t *img, size_t size,
                    struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (req->ram_below_4g < 0x100000)
        return boot_error(err, errlen, "direct kernel boot needs at least 1 MiB of RAM");
    /* QEMU's order: a Multiboot header wins over a Linux header. */
    long mb = multiboot_find_header(img, size);
    if (mb >= 0)
        return multiboot_load(req, img, size, (size_t)mb, pm, out, err, errlen);
    if (linux_probe(img, size))
        return linux_load(req, img, size, pm, out, err, errlen);
    if (elf_probe(img, size))
        return elf_boot_load(req, img, size, pm, out, err, errlen);
    return boot_error(err, errlen, "kernel '%s' is not a Linux bzImage, a Multiboot kernel or an "
                      "ELF32 file", req->kernel_path ? req->kernel_path : "(image)");
}

int boot_load_kernel(const struct boot_request *req, struct phys_mem *pm,
                     struct boot_entry_state *out, char *err, size_t errlen)
{
    if (!req->kernel_path)
        return boot_error(err, errlen, "no kernel given");
    size_t size;
    uint8_t *img = boot_read_file(req->kernel_path, req->ram_below_4g, &size, "kernel", err, errlen);
    if (!img)
        return -1;
    int r = boot_load_image(req, img, size, pm, out, err, errlen);
    free(img);
    return r;
}

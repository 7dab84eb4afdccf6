/* ELF32 loading for Multiboot kernels and plain ELF files. */
#include "boot/elf.h"

#include <stdio.h>
#include <string.h>

#include "mem/memory.h"

enum {
    EHDR_SIZE = 52, PHDR_MIN = 32,
    EI_CLASS = 4, EI_DATA = 5, ELFCLASS32 = 1, ELFCLASS64 = 2, ELFDATA2LSB = 1,
    ET_EXEC = 2, EM_386 = 3, PT_LOAD = 1,
};

bool elf_probe(const uint8_t *img, size_t size)
{
    return size >= 4 && memcmp(img, "\x7f" "ELF", 4) == 0;
}

struct elf_seg {
    uint32_t offset, vaddr, paddr, filesz, memsz;
};

/* Zero [addr, addr+len) of guest memory. */
static void zero_guest(struct phys_mem *pm, uint32_t addr, uint32_t len)
{
    static const uint8_t zeros[4096];
    while (len) {
        uint32_t n = len < sizeof(zeros) ? len : (uint32_t)sizeof(zeros);
        phys_write_block(pm, addr, zeros, n);
        addr += n;
        len -= n;
    }
}

int elf32_load(const struct boot_request *req, const uint8_t *img, size_t size,
               struct phys_mem *pm, uint32_t *entry, uint32_t *lo, uint32_t *hi,
               char *err, size_t errlen)
{
    if (!elf_probe(img, size))
        return boot_error(err, errlen, "not an ELF file");
    if (size < EHDR_SIZE)
        return boot_error(err, errlen, "ELF file truncated: %zu bytes, header needs %d", size, EHDR_SIZE);
    if (img[EI_CLASS] == ELFCLASS64)
        return boot_error(err, errlen, "64-bit ELF kernels cannot run on this 32-bit PC; give a 32-bit one");
    if (img[EI_CLASS] != ELFCLASS32 || img[EI_DATA] != ELFDATA2LSB)
        return boot_error(err, errlen, "ELF file is not 32-bit little-endian");
    if (boot_le16(img + 16) != ET_EXEC)
        return boot_error(err, errlen, "ELF file is not an executable (e_type %u)", boot_le16(img + 16));
    if (boot_le16(img + 18) != EM_386)
        return boot_error(err, errlen, "ELF file is not for i386 (e_machine %u)", boot_le16(img + 18));
    uint32_t e_entry = boot_le32(img + 24);
    uint64_t phoff = boot_le32(img + 28);
    unsigned phentsize = boot_le16(img + 42), phnum = boot_le16(img + 44);
    if (phnum == 0)
        return boot_error(err, errlen, "ELF file has no program headers");
    if (phentsize < PHDR_MIN)
        return boot_error(err, errlen, "ELF program header size %u is too small", phentsize);
    if (phoff + (uint64_t)phnum * phentsize > size)
        return boot_error(err, errlen, "ELF file truncated: program headers end past the file");

    /* Pass 1: check every segment, so a bad file leaves guest memory untouched. */
    uint64_t low = UINT64_MAX, high = 0;
    unsigned loads = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
        if (boot_le32(ph) != PT_LOAD)
            continue;
        struct elf_seg s = { boot_le32(ph + 4), boot_le32(ph + 8), boot_le32(ph + 12),
                             boot_le32(ph + 16), boot_le32(ph + 20) };
        if (s.memsz == 0)
            continue;
        if (s.filesz > s.memsz)
            return boot_error(err, errlen, "ELF segment %u: file size 0x%x exceeds memory size 0x%x",
                              i, s.filesz, s.memsz);
        if ((uint64_t)s.offset + s.filesz > size)
            return boot_error(err, errlen, "ELF file truncated: segment %u ends at 0x%llx, file has "
                              "0x%zx bytes", i, (unsigned long long)s.offset + s.filesz, size);
        char what[48];
        snprintf(what, sizeof(what), "ELF segment %u", i);
        if (boot_check_ram(req, s.paddr, s.memsz, what, err, errlen) < 0)
            return -1;
        if (s.paddr < low)
            low = s.paddr;
        if ((uint64_t)s.paddr + s.memsz > high)
            high = (uint64_t)s.paddr + s.memsz;
        loads++;
    }
    if (!loads)
        return boot_error(err, errlen, "ELF file has no loadable segments");

    /* The entry is a virtual address; kernels linked high give physical load addresses. */
    uint32_t phys_entry = 0;
    bool found = false;
    for (unsigned pass = 0; pass < 2 && !found; pass++) {
        for (unsigned i = 0; i < phnum && !found; i++) {
            const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
            if (boot_le32(ph) != PT_LOAD)
                continue;
            uint32_t vaddr = boot_le32(ph + 8), paddr = boot_le32(ph + 12), memsz = boot_le32(ph + 20);
            uint32_t base = pass == 0 ? paddr : vaddr;
            if (e_entry >= base && (uint64_t)e_entry < (uint64_t)base + memsz) {
                phys_entry = e_entry - base + paddr;
                found = true;
            }
        }
    }
    if (!found)
        return boot_error(err, errlen, "ELF entry point 0x%x is outside the loaded segments", e_entry);

    /* Pass 2: load. */
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
        if (boot_le32(ph) != PT_LOAD || boot_le32(ph + 20) == 0)
            continue;
        uint32_t offset = boot_le32(ph + 4), paddr = boot_le32(ph + 12);
        uint32_t filesz = boot_le32(ph + 16), memsz = boot_le32(ph + 20);
        phys_write_block(pm, paddr, img + offset, filesz);
        zero_guest(pm, paddr + filesz, memsz - filesz);
    }
    *entry = phys_entry;
    *lo = (uint32_t)low;
    *hi = (uint32_t)high;
    return 0;
}

int elf_boot_load(const struct boot_request *req, const uint8_t *img, size_t size,
                  struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen)
{
    uint32_t entry, lo, hi;
    if (elf32_load(req, img, size, pm, &entry, &lo, &hi, err, errlen) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->kind = BOOT_ELF;
    boot_flat_protected_mode(pm, out);
    out->eip = entry;
    out->kernel_start = lo;
    out->kernel_end = hi;
    return 0;
}

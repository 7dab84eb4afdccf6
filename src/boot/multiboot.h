/* Multiboot 1 (spec 0.6.96): ELF and a.out-kludge kernels, memory info and map, command line,
 * boot device and modules, entered with EAX=0x2BADB002 and EBX = the information structure. */
#ifndef PCVM_BOOT_MULTIBOOT_H
#define PCVM_BOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

enum {
    MB_HEADER_MAGIC = 0x1badb002u, MB_BOOT_MAGIC = 0x2badb002u, MB_SEARCH_LEN = 8192,
    MB_FLAG_PAGE_ALIGN = 1u << 0, MB_FLAG_MEMORY_INFO = 1u << 1, MB_FLAG_VIDEO_MODE = 1u << 2,
    MB_FLAG_AOUT_KLUDGE = 1u << 16,
    /* Information structure offsets and flags. */
    MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_BOOT_DEVICE = 12, MBI_CMDLINE = 16,
    MBI_MODS_COUNT = 20, MBI_MODS_ADDR = 24, MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48,
    MBI_BOOT_LOADER_NAME = 64, MBI_SIZE = 120,
    MBI_F_MEM = 1u << 0, MBI_F_BOOTDEV = 1u << 1, MBI_F_CMDLINE = 1u << 2, MBI_F_MODS = 1u << 3,
    MBI_F_MMAP = 1u << 6, MBI_F_LOADER_NAME = 1u << 9,
    MB_MAX_MODULES = 64,
    MB_BOOT_DEVICE = 0x8000ffffu,  /* BIOS drive 0x80, first partition (what QEMU passes) */
};

/* Offset of a valid Multiboot header (magic and checksum) in the first 8 KiB, or -1. */
long multiboot_find_header(const uint8_t *img, size_t size);
/* Split a -initrd module list ("a x,b y"; ",," is a literal comma) into at most max strings
 * written into buf (NUL-separated); returns the count, or -1 when it does not fit. */
int multiboot_split_modules(const char *list, char *buf, size_t buflen, const char **mods, int max);
/* Load the kernel whose header is at hdr_off, its modules (req->initrd) and the information
 * structure; set the entry state.  0, or -1 with err. */
int multiboot_load(const struct boot_request *req, const uint8_t *img, size_t size, size_t hdr_off,
                   struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen);

#endif

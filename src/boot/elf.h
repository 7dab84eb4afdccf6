/* ELF32 (i386) executables: loading PT_LOAD segments at their physical addresses. */
#ifndef PCVM_BOOT_ELF_H
#define PCVM_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

/* True when the image starts with the ELF magic (any class). */
bool elf_probe(const uint8_t *img, size_t size);
/* Check and load every PT_LOAD segment of an ELF32 i386 executable at p_paddr (bss zeroed).
 * *entry is e_entry, translated to a physical address when it lies in a segment's virtual
 * range; [*lo, *hi) spans the loaded memory.  Returns 0, or -1 with err set (nothing written). */
int elf32_load(const struct boot_request *req, const uint8_t *img, size_t size,
               struct phys_mem *pm, uint32_t *entry, uint32_t *lo, uint32_t *hi,
               char *err, size_t errlen);
/* Boot a plain ELF32 file: load it and enter at its entry in flat protected mode, EAX=EBX=0. */
int elf_boot_load(const struct boot_request *req, const uint8_t *img, size_t size,
                  struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen);

#endif

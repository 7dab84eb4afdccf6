/* Direct kernel boot (-kernel/-initrd/-append): load a Linux bzImage, a Multiboot kernel (ELF
 * or a.out kludge) or a plain ELF32 file into guest RAM and describe the CPU state to start it
 * in.  No firmware runs: the loader writes what the kernel expects (zero page or Multiboot
 * information, the memory map it is given, a GDT) and the board applies the entry state.
 *
 * Low memory used by the loaders (all inside the first 640 KiB, which must be RAM in e820):
 *   0x00500  GDT: 0x10 = flat 4 GiB code (exec/read), 0x18 = flat 4 GiB data (read/write)
 *   0x09000  Multiboot memory map        0x09500  Multiboot information structure
 *   0x10000  Linux zero page (boot_params)  0x20000  Linux command line
 * The kernel goes at its own address (1 MiB for bzImage); the initrd at the top of usable RAM;
 * Multiboot modules, their command lines and the module list follow the kernel, page aligned.
 */
#ifndef PCVM_BOOT_BOOT_H
#define PCVM_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct phys_mem;
struct cpu;

/* One BIOS e820 memory map entry. */
#include "mem/e820.h"
#define BOOT_E820_MAX 128   /* what the Linux zero page holds */

/* What -kernel, -initrd and -append asked for, and the machine's memory. */
struct boot_request {
    const char *kernel_path;
    const char *initrd;      /* Linux: one file; Multiboot: "mod arg,mod2 arg" (,, = comma); NULL */
    const char *cmdline;     /* -append; NULL means empty */
    uint32_t ram_below_4g;   /* bytes of RAM mapped at 0 */
    const struct e820_entry *e820;
    unsigned e820_count;
    bool vga_text;           /* a VGA text console exists (fills the zero page's screen_info) */
};

enum boot_kind { BOOT_LINUX = 1, BOOT_MULTIBOOT, BOOT_ELF };

/* A segment register as loaded at entry (same meaning as struct seg in cpu/cpu.h). */
struct boot_seg {
    uint16_t sel;
    uint32_t base, limit, flags;
};

/* The CPU state a kernel starts in; indices follow cpu.h (R_EAX.., SEG_ES..). */
struct boot_entry_state {
    enum boot_kind kind;
    uint32_t regs[8];
    uint32_t eip, eflags, cr0;
    struct boot_seg seg[6];
    uint32_t gdt_base;
    uint16_t gdt_limit;
    /* Where things went (for logs and tests). */
    uint32_t kernel_start, kernel_end;   /* loaded image incl. bss */
    uint32_t initrd_start, initrd_size;  /* Linux initrd, or first..last Multiboot module */
    uint32_t info_addr;                  /* zero page or Multiboot info; 0 for plain ELF */
    uint32_t cmdline_addr;
};

/* Fixed low-memory addresses (see the map above). */
#define BOOT_GDT_ADDR       0x500u
#define BOOT_MB_MMAP_ADDR   0x9000u
#define BOOT_MB_INFO_ADDR   0x9500u
#define BOOT_ZEROPAGE_ADDR  0x10000u
#define BOOT_CMDLINE_ADDR   0x20000u
#define BOOT_SEL_CODE       0x10
#define BOOT_SEL_DATA       0x18
/* Descriptor flags (cpu.h struct seg layout) of the flat segments. */
#define BOOT_FLAT_CODE_FLAGS 0x00c09b00u
#define BOOT_FLAT_DATA_FLAGS 0x00c09300u

/* Load the kernel named in req (Multiboot, else bzImage, else ELF32) and fill *out.
 * Returns 0, or -1 with one line (no newline) in err. Never trusts the file. */
int boot_load_kernel(const struct boot_request *req, struct phys_mem *pm,
                     struct boot_entry_state *out, char *err, size_t errlen);
/* Same, from an image already in memory (used by tests and the fuzzer). */
int boot_load_image(const struct boot_request *req, const uint8_t *img, size_t size,
                    struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen);
/* Set the CPU's registers, segments, GDTR, CR0 and EFLAGS from st and call cpu_update_mode. */
void boot_apply_entry_state(struct cpu *cpu, const struct boot_entry_state *st);

/* A PC memory map for ram_below_4g bytes of RAM: 0..0x9fc00 RAM, EBDA and 0xf0000..1M reserved,
 * RAM from 1 MiB up to the ACPI area [acpi_base, acpi_base+acpi_len) (type ACPI; acpi_len may be
 * 0), then reserved for the I/O APIC (0xfec00000), local APIC (0xfee00000) and the BIOS ROM
 * (0xfffc0000).  Returns the number of entries written (at most max). */
unsigned boot_build_e820(uint32_t ram_below_4g, uint32_t acpi_base, uint32_t acpi_len,
                         struct e820_entry *out, unsigned max);

/* ---- Shared by the loaders (boot/boot.c) ---- */

/* Format one error line into err; returns -1. */
int boot_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Read a whole file (at most max_size bytes). Returns a malloc'd buffer or NULL with err set. */
uint8_t *boot_read_file(const char *path, uint64_t max_size, size_t *size, const char *what,
                        char *err, size_t errlen);
/* 0 when [addr, addr+len) lies inside one usable (type 1) e820 entry and below ram_below_4g;
 * otherwise -1 with a message naming what (e.g. "kernel") in err. */
int boot_check_ram(const struct boot_request *req, uint64_t addr, uint64_t len, const char *what,
                   char *err, size_t errlen);
/* Write the flat GDT at BOOT_GDT_ADDR and set the 32-bit flat protected-mode state in st. */
void boot_flat_protected_mode(struct phys_mem *pm, struct boot_entry_state *st);
/* The same with the 32-byte GDT at gdt_addr (for kernels that occupy the usual place). */
void boot_flat_protected_mode_at(struct phys_mem *pm, struct boot_entry_state *st, uint32_t gdt_addr);

/* Little-endian field access into a byte buffer (caller checks bounds). */
static inline uint16_t boot_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t boot_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void boot_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void boot_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void boot_put64(uint8_t *p, uint64_t v)
{
    boot_put32(p, (uint32_t)v);
    boot_put32(p + 4, (uint32_t)(v >> 32));
}

#endif

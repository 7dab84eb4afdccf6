/* ACPI tables for the pc board: RSDP, RSDT, FADT (rev 3), FACS, DSDT (AML generated here),
 * MADT.  Two ways out:
 *  (a) for SeaBIOS through fw_cfg: acpi_build() gives the `etc/acpi/tables` blob (pointers in
 *      it are offsets into the blob), the `etc/acpi/rsdp` file and the `etc/table-loader`
 *      script (romfile-loader commands ALLOCATE / ADD_POINTER / ADD_CHECKSUM, 128 bytes each);
 *      acpi_add_to_fw_cfg() adds the three files;
 *  (b) for -kernel without firmware: acpi_write_tables() runs the same script itself, placing
 *      the tables and the RSDP at guest addresses the board chooses (the RSDP must lie in
 *      0xE0000-0xFFFFF, 16-byte aligned, so the OS's scan finds it).
 *
 * The DSDT describes \_SB.PCI0 (PNP0A03) with its _CRS windows and a _PRT in which slot S pin P
 * uses PCI interrupt link \_SB.LNKx for PIRQ ((S + P - 1) & 3); the links (PNP0C0F) read and
 * write the PIIX3 route registers 0x60-0x63 through a PCI_Config operation region (_STA, _PRS
 * {5, 10, 11} level/high/shared, _CRS, _SRS, _DIS), so whatever the firmware or OS programs is
 * what the OS sees.  Also the ISA devices (PNP0303 keyboard, PNP0F13 mouse, PNP0501 COM1,
 * PNP0B00 RTC, PNP0100 PIT, PNP0000 PIC), the power button (PNP0C0C) and \_S5 = {0, 0} (the
 * PIIX4's soft-off SLP_TYP).  The MADT marks IRQ 5, 9 (SCI), 10, 11 and cfg->pirq_irq[] level,
 * active high, as QEMU's pc does. */
#ifndef PCVM_HW_ACPI_TABLES_H
#define PCVM_HW_ACPI_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/fw_cfg.h"
#include "mem/memory.h"

struct acpi_config {
    unsigned cpus;              /* processors present (the first cpus of max_cpus) */
    unsigned max_cpus;          /* possible processors (-smp maxcpus), 0: cpus; the absent
                                   ones are listed disabled, as QEMU does */
    const uint8_t *apic_ids;    /* LAPIC ID of each of max_cpus; NULL: 0, 1, 2 ... */
    uint32_t lapic_addr;        /* 0xFEE00000 */
    uint32_t ioapic_addr;       /* 0xFEC00000 */
    uint8_t ioapic_id;
    uint16_t pm_base;           /* PIIX4 PM block: where firmware programmed it */
    uint8_t sci_irq;            /* 9 */
    uint8_t pirq_irq[4];        /* ISA IRQ of PIRQ A-D as firmware routes them (SeaBIOS: 10, 10,
                                   11, 11): made level in the MADT */
    uint32_t pci_mem_start;     /* PCI memory window [start, end): above RAM ... */
    uint32_t pci_mem_end;       /* ... up to the I/O APIC, 0xFEC00000 */
    uint16_t pvpanic_port;      /* -device pvpanic: its port in the DSDT (QEMU0001); 0 none */
};

/* Fill cfg with the pc defaults for cpus processors and ram_below_4g bytes of low RAM. */
void acpi_config_pc_defaults(struct acpi_config *cfg, unsigned cpus, uint32_t ram_below_4g);

#define ACPI_LOADER_ENTRY_SIZE 128
#define ACPI_LOADER_FILESZ 56
enum { ACPI_LOADER_ALLOCATE = 1, ACPI_LOADER_ADD_POINTER = 2, ACPI_LOADER_ADD_CHECKSUM = 3 };
enum { ACPI_LOADER_ZONE_HIGH = 1, ACPI_LOADER_ZONE_FSEG = 2 };
#define ACPI_FILE_TABLES "etc/acpi/tables"
#define ACPI_FILE_RSDP "etc/acpi/rsdp"
#define ACPI_FILE_LOADER "etc/table-loader"
#define ACPI_RSDP_SIZE 20

struct acpi_build {
    uint8_t *tables;            /* etc/acpi/tables (malloc'd) */
    uint32_t tables_len;
    uint8_t rsdp[ACPI_RSDP_SIZE];
    uint8_t *loader;            /* etc/table-loader (malloc'd) */
    uint32_t loader_len;
    /* Where each table sits in the blob. */
    uint32_t facs_off, dsdt_off, dsdt_len, fadt_off, madt_off, rsdt_off;
};

/* Build every table. Returns 0 or -1 (out of memory). */
int acpi_build(struct acpi_build *b, const struct acpi_config *cfg);
/* Free the buffers of a build. */
void acpi_build_free(struct acpi_build *b);
/* Build and add etc/acpi/tables, etc/acpi/rsdp and etc/table-loader. Returns 0 or -1. */
int acpi_add_to_fw_cfg(struct fw_cfg *fw, const struct acpi_config *cfg);
/* Build and write the tables at tables_addr (64-byte aligned, RAM, room for the blob) and the
 * RSDP at rsdp_addr; returns the bytes used at tables_addr, or 0 on failure. */
uint32_t acpi_write_tables(struct phys_mem *mem, const struct acpi_config *cfg, uint32_t tables_addr,
                           uint32_t rsdp_addr);
/* Run a table-loader script against files placed at the given guest addresses (tables, rsdp). */
int acpi_loader_run(const uint8_t *loader, uint32_t loader_len, uint8_t *tables, uint32_t tables_len,
                    uint32_t tables_addr, uint8_t *rsdp, uint32_t rsdp_addr);
/* 8-bit checksum byte that makes len bytes sum to zero (with the checksum field included). */
uint8_t acpi_checksum(const uint8_t *p, uint32_t len);

#endif

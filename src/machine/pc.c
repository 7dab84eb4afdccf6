/* The "pc" board: only wiring. Devices keep their own state; this file decides which chips
 * exist, where they sit in the port and memory spaces, and where their IRQ lines go. */
#include "machine/pc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/boot.h"
#include "cpu/jit.h"
#include "cpu/cpu_vmstate.h"
#include "hw/acpi_tables.h"
#include "hw/mptable.h"
#include "machine/pc_gdb.h"
#include "machine/pc_sleep.h"
#include "machine/snapshot.h"
#include "ui/display_console.h"
#include "ui/display_monitor.h"
#include "ui/display_setup.h"
#include "chardev/chardev_vc.h"
#include "chardev/chardev_mux.h"

#define DEFAULT_BIOS "/usr/share/seabios/bios-256k.bin"
#define DEFAULT_VGABIOS "/usr/share/seabios/vgabios-stdvga.bin"
#define DEFAULT_CPU_MODEL "qemu32"   /* as qemu-system-i386 */
#define MAX_RAM_BELOW_4G 0xe0000000ull   /* the PCI hole starts at 3.5 GiB */
#define IDE_DEVFN 0x09                    /* 01.1 */
#define VGA_DEVFN 0x10                    /* 02.0 */

static const uint16_t uart_ports[4] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
static const int uart_irqs[4] = { 4, 3, 4, 3 };

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- The device list ---- */

int pc_register_device(struct pc *pc, const struct device *tmpl, char *err, size_t errlen, const char *id_fmt, ...)
{
    struct device d = *tmpl;
    va_list ap;
    va_start(ap, id_fmt);
    vsnprintf(d.id, sizeof(d.id), id_fmt, ap);
    va_end(ap);
    if (!devlist_add(&pc->devices, &d))
        return fail(err, errlen, "pcvm: device id '%s' is used twice (or out of memory)", d.id);
    return 0;
}

/* Reset and destroy through the list take the device's struct as void *. */
#define PC_OPAQUE_FN(name, type, fn) static void name(void *opaque) { fn((type *)opaque); }
PC_OPAQUE_FN(reset_pic, struct pic, pic_reset)
PC_OPAQUE_FN(reset_pit, struct pit, pit_reset)
PC_OPAQUE_FN(reset_rtc, struct rtc, rtc_reset)
PC_OPAQUE_FN(reset_uart, struct uart, uart_reset)
PC_OPAQUE_FN(reset_kbc, struct i8042, i8042_reset)
PC_OPAQUE_FN(reset_port92, struct port92, port92_reset)
PC_OPAQUE_FN(reset_i440fx, struct i440fx, i440fx_reset)
PC_OPAQUE_FN(reset_piix3, struct piix3, piix3_reset)
PC_OPAQUE_FN(reset_pm, struct acpi_pm, acpi_pm_reset)
PC_OPAQUE_FN(reset_ide, struct ide_ctrl, ide_reset)
PC_OPAQUE_FN(reset_vga, struct vga, vga_reset)
PC_OPAQUE_FN(reset_fw_cfg, struct fw_cfg, fw_cfg_reset)
PC_OPAQUE_FN(reset_ioapic, struct ioapic, ioapic_reset)
PC_OPAQUE_FN(reset_pci_bus, struct pci_bus, pci_bus_reset)
PC_OPAQUE_FN(reset_lapic, struct lapic, lapic_reset)
PC_OPAQUE_FN(reset_cpu, struct cpu, cpu_reset)
PC_OPAQUE_FN(destroy_ide, struct ide_ctrl, ide_destroy)
PC_OPAQUE_FN(destroy_vga, struct vga, vga_destroy)
PC_OPAQUE_FN(destroy_fw_cfg, struct fw_cfg, fw_cfg_destroy)
PC_OPAQUE_FN(destroy_net, struct pc_net, pc_net_destroy)
PC_OPAQUE_FN(destroy_virtio, struct pc_virtio, pc_virtio_destroy)

static void destroy_cpu(void *opaque)
{
    struct cpu *cpu = opaque;
    cpu_exec_destroy(cpu);
    cpu_destroy(cpu);
    free(cpu);
}

static void pc_pci_info(const struct device *d, int indent, devmodel_print_fn pr, void *ctx)
{
    const struct pci_device *p = d->bus_data;
    pr(ctx, "%*saddr = %02x.%x\n%*svendor/device = %04x:%04x\n", indent, "", p->devfn >> 3, p->devfn & 7, indent, "",
       pci_get_word(p->config), pci_get_word(p->config + 2));
}

/* ---- Interrupt routing ---- */

/* ISA IRQ n goes to PIC input n and I/O APIC pin n, except the PIT's IRQ0 which is wired to
 * pin 2 (the MADT's interrupt source override says so). Several sources may share an IRQ
 * (PCI INTx routed by the PIIX3, the SCI, COM1 and COM3): the line is the OR of them. The
 * line number carries the source in bits 8 and up. */
static void pc_isa_irq(void *opaque, int n, int level)
{
    struct pc *pc = opaque;
    int irq = n & 15, src = n >> 8;
    uint32_t old = pc->isa_irq_sources[irq];
    uint32_t now = level ? old | (1u << src) : old & ~(1u << src);
    pc->isa_irq_sources[irq] = now;
    if ((old != 0) == (now != 0))
        return;
    if (now)
        pc->irq_count[irq]++;
    pic_set_irq(&pc->pic, irq, now != 0);
    ioapic_set_irq(&pc->ioapic, irq == 0 ? 2 : irq, now != 0);
}

static struct irq_line pc_isa_line(struct pc *pc, int irq, enum pc_irq_source src)
{
    struct irq_line line;
    irq_connect(&line, pc_isa_irq, pc, irq | (int)src << 8);
    return line;
}

static int pc_pic_ack(void *opaque)
{
    struct pc *pc = opaque;
    return pic_intr_ack(&pc->pic);
}

static int pc_intr_ack(void *opaque, struct cpu *cpu)
{
    struct pc *pc = opaque;
    runloop_board_lock(&pc->rl, true);
    int v = lapic_intr_ack(&pc->lapic[cpu->index]);
    runloop_board_lock(&pc->rl, false);
    return v;
}

static void pc_apic_base_changed(void *opaque, struct cpu *cpu, uint64_t value)
{
    struct pc *pc = opaque;
    runloop_board_lock(&pc->rl, true);
    lapic_set_base(&pc->lapic[cpu->index], value);
    runloop_board_lock(&pc->rl, false);
}

static void pc_ferr(void *opaque, struct cpu *cpu, int level)
{
    struct pc *pc = opaque;
    (void)cpu;
    runloop_board_lock(&pc->rl, true);
    irq_set(&pc->ferr_irq, level);
    runloop_board_lock(&pc->rl, false);
}

/* ---- Reset, A20, power ---- */

void pc_request_reset(struct pc *pc)
{
    pc->reset_pending = true;
    for (unsigned i = 0; i < pc->ncpus; i++)
        cpu_request(pc->cpus[i], CPU_REQ_EXIT, 1);
}

static void pc_kbc_reset(void *opaque) { pc_request_reset(opaque); }
static void pc_port92_reset(void *opaque) { pc_request_reset(opaque); }
static void pc_piix3_reset(void *opaque, bool hard) { (void)hard; pc_request_reset(opaque); }

static void pc_apply_a20(void *opaque)
{
    struct pc *pc = opaque;
    bool on = pc->a20_kbc || pc->a20_port92;
    for (unsigned i = 0; i < pc->ncpus; i++)
        cpu_set_a20(pc->cpus[i], on);
}

/* Every vCPU's TLB changes: with one thread per vCPU, with all of them stopped. */
static void pc_update_a20(struct pc *pc)
{
    runloop_run_stopped(&pc->rl, pc_apply_a20, pc);
}

static void pc_kbc_a20(void *opaque, bool enabled)
{
    struct pc *pc = opaque;
    pc->a20_kbc = enabled;
    pc_update_a20(pc);
}

static void pc_port92_a20(void *opaque, bool enabled)
{
    struct pc *pc = opaque;
    pc->a20_port92 = enabled;
    pc_update_a20(pc);
}

static void pc_power_off(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->cfg->no_shutdown) {
        pc_event(pc, "SHUTDOWN", json_pack("{s:b,s:s}", "guest", 1, "reason", "guest-shutdown"));
        pc_set_paused(pc, true, "shutdown");
        return;
    }
    if (!pc->shutdown_reason)
        pc->shutdown_reason = "guest-shutdown";
    pc->powered_off = true;
    mainloop_request_exit(pc->ml, 0);
    for (unsigned i = 0; i < pc->ncpus; i++)
        cpu_request(pc->cpus[i], CPU_REQ_EXIT, 1);
}

void pc_debug_exit(void *opaque, int status)
{
    struct pc *pc = opaque;
    if (!pc->shutdown_reason)
        pc->shutdown_reason = "";   /* the guest's own exit: no SHUTDOWN event, as QEMU */
    mainloop_request_exit(pc->ml, status);
    for (unsigned i = 0; i < pc->ncpus; i++)
        cpu_request(pc->cpus[i], CPU_REQ_EXIT, 1);
}

/* Writes into pages holding translated code reach every vCPU's trace cache: the writing
 * vCPU's at once, with one thread per vCPU the others' through their invalidation queues. */
static void pc_code_written(void *opaque, uint32_t paddr, unsigned len)
{
    struct pc *pc = opaque;
    struct cpu *self = runloop_current_cpu();
    for (unsigned i = 0; i < pc->ncpus; i++) {
        if (!pc->rl.mt || pc->cpus[i] == self) {
            cpu_code_written(pc->cpus[i], paddr, len);
            continue;
        }
        /* Only vCPUs that may hold traces of the page: a page that once held code and now
         * holds data (freed init memory) would otherwise wake every vCPU on each write. */
        for (uint32_t pg = paddr >> 12; pg <= (paddr + len - 1) >> 12; pg++)
            if (phys_code_cpus(&pc->mem, pg) & (1u << (i & 31)))
                runloop_queue_invalidate(&pc->rl, pc->cpus[i], pg << 12, false);
    }
}

/* A page became code on one vCPU: the others must stop writing it directly too. */
static void pc_code_marked(void *opaque, uint32_t paddr)
{
    struct pc *pc = opaque;
    struct cpu *self = runloop_current_cpu();
    for (unsigned i = 0; i < pc->ncpus; i++) {
        if (pc->cpus[i] == self)
            continue;
        if (pc->rl.mt)
            runloop_queue_invalidate(&pc->rl, pc->cpus[i], paddr, false);
        else
            cpu_tlb_protect_code(pc->cpus[i], paddr);
    }
}

static void pc_flush_all_cpus(void *opaque)
{
    struct pc *pc = opaque;
    for (unsigned i = 0; i < pc->ncpus; i++) {
        cpu_tlb_flush(pc->cpus[i]);
        cpu_flush_traces(pc->cpus[i]);
    }
}

/* PAM changes remap 0xC0000-0xFFFFF: translated code and TLB entries there are stale (with
 * one thread per vCPU, dropped with every vCPU stopped). */
static void pc_mem_changed(void *opaque)
{
    struct pc *pc = opaque;
    runloop_run_stopped(&pc->rl, pc_flush_all_cpus, pc);
}

/* The board lock around port I/O and MMIO of one thread per vCPU; the local APIC page then
 * serves the vCPU that took it. */
static void pc_board_lock(void *opaque, bool held)
{
    struct pc *pc = opaque;
    runloop_board_lock(&pc->rl, held);
    struct cpu *self = runloop_current_cpu();
    if (held && self)
        apic_bus_set_current(&pc->apic_bus, (unsigned)self->index);
}

static void pc_unassigned_mem(void *opaque, uint32_t paddr, bool is_write, unsigned size)
{
    struct pc *pc = opaque;
    log_printf(pc->log, LOG_GUEST_ERRORS, "unassigned memory %s at 0x%08x (size %u)\n",
               is_write ? "write" : "read", paddr, size);
}

/* ---- Firmware and ROMs ---- */

static uint8_t *read_whole_file(const char *path, size_t max, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf) {
        fail(err, errlen, "out of memory reading '%s'", path);
        return NULL;
    }
    if (n > max || n == 0) {
        free(buf);
        fail(err, errlen, "'%s' is %s", path, n ? "too large" : "empty");
        return NULL;
    }
    *size = n;
    return buf;
}

static int pc_load_bios(struct pc *pc, char *err, size_t errlen)
{
    const char *path = pc->cfg->bios ? pc->cfg->bios : DEFAULT_BIOS;
    size_t size;
    char why[256];
    uint8_t *data = read_whole_file(path, 16u << 20, &size, why, sizeof(why));
    if (!data)
        return fail(err, errlen, "pcvm: -bios: %s", why);
    if (size % 65536) {
        free(data);
        return fail(err, errlen, "pcvm: -bios: '%s': size %zu is not a multiple of 64 KiB", path, size);
    }
    pc->bios_size = (uint32_t)size;
    pc->bios = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pc->bios == MAP_FAILED) {
        pc->bios = NULL;
        free(data);
        return fail(err, errlen, "pcvm: out of memory for the BIOS");
    }
    memcpy(pc->bios, data, size);
    free(data);
    phys_map_host(&pc->mem, (uint32_t)(0x100000000ull - size), (uint32_t)size, pc->bios, false);
    /* The last 128 KiB (or all of a smaller image) also appear just below 1 MiB. */
    uint32_t isa = pc->bios_size < 0x20000 ? pc->bios_size : 0x20000;
    memcpy(pc->rom_area + (0x100000 - isa - I440FX_ROM_AREA_BASE), pc->bios + pc->bios_size - isa, isa);
    return 0;
}

/* The VGA BIOS goes to SeaBIOS through fw_cfg, which runs "vgaroms/" files at boot. */
static void pc_add_vgabios(struct pc *pc)
{
    size_t size;
    char why[256];
    uint8_t *data = read_whole_file(DEFAULT_VGABIOS, 256u << 10, &size, why, sizeof(why));
    if (!data) {
        log_printf(pc->log, LOG_GUEST_ERRORS, "no VGA BIOS: %s\n", why);
        return;
    }
    fw_cfg_add_file(&pc->fw_cfg, "vgaroms/vgabios-stdvga.bin", data, (uint32_t)size);
    free(data);
}

/* ---- Direct kernel boot: what firmware would have done ---- */

static void pc_bda_setup(struct pc *pc)
{
    uint8_t bda[0x20] = { 0 };
    for (unsigned i = 0; i < pc->nuarts && i < 4; i++) {
        bda[2 * i] = (uint8_t)uart_ports[i];
        bda[2 * i + 1] = (uint8_t)(uart_ports[i] >> 8);
    }
    bda[0x0e] = 0xc0; /* EBDA segment 0x9FC0 */
    bda[0x0f] = 0x9f;
    bda[0x13] = 639 & 0xff; /* KiB of base memory below the EBDA */
    bda[0x14] = 639 >> 8;
    phys_write_block(&pc->mem, 0x400, bda, sizeof(bda));
    if (pc->has_vga) {
        /* Mode 3 as the VGA BIOS records it: mode, columns, page size, CRTC port, rows - 1,
         * character height. */
        static const uint8_t video[] = { 0x03, 80, 0, 0x00, 0x10 };
        phys_write_block(&pc->mem, 0x449, video, sizeof(video));
        static const uint8_t crtc_port[] = { 0xd4, 0x03 }, rows[] = { 24, 16, 0 };
        phys_write_block(&pc->mem, 0x463, crtc_port, sizeof(crtc_port));
        phys_write_block(&pc->mem, 0x484, rows, sizeof(rows));
    }
}

/* Give every PCI BAR an address and enable decoding, as SeaBIOS would. */
static void pc_pci_assign(struct pc *pc)
{
    uint32_t io_next = 0xc000, mem_next = 0xf0000000u;
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        struct pci_device *dev = pc->pci.devices[devfn];
        if (!dev)
            continue;
        uint16_t cmd = 0;
        for (int n = 0; n < 6; n++) {
            const struct pci_bar *bar = &dev->bars[n];
            if (!bar->size)
                continue;
            uint32_t size = bar->size;
            if (bar->is_io) {
                if (size < 4)
                    size = 4;
                io_next = (io_next + size - 1) & ~(size - 1);
                pci_config_write(&pc->pci, (uint8_t)devfn, 0x10 + 4 * n, io_next | 1, 4);
                io_next += size;
                cmd |= 1;
            } else {
                if (size < 4096)
                    size = 4096;
                mem_next = (mem_next + size - 1) & ~(size - 1);
                pci_config_write(&pc->pci, (uint8_t)devfn, 0x10 + 4 * n, mem_next, 4);
                mem_next += size;
                cmd |= 2;
            }
        }
        if (cmd) {
            cmd |= 4; /* bus master */
            uint32_t old = pci_config_read(&pc->pci, (uint8_t)devfn, 4, 2);
            pci_config_write(&pc->pci, (uint8_t)devfn, 4, old | cmd, 2);
        }
    }
    /* The IDE function also decodes the legacy ports (its IO enable bit). */
}

static void pc_firmware_equivalent(struct pc *pc)
{
    /* PIRQ A-D to IRQ 10, 10, 11, 11 (SeaBIOS's choice, the DSDT assumes it), level. */
    pci_config_write(&pc->pci, PIIX3_DEVFN, 0x60, 0x0b0b0a0au, 4);
    io_write(&pc->io, 0x4d1, 0x0e, 1); /* ELCR: IRQ 9, 10, 11 level-triggered */
    /* ACPI PM I/O block and SMBus base, enabled where SeaBIOS puts them on QEMU. */
    pci_config_write(&pc->pci, ACPI_PM_DEVFN, 0x40, ACPI_PM_DEFAULT_BASE | 1, 4);
    pci_config_write(&pc->pci, ACPI_PM_DEVFN, 0x80, 1, 1);
    pci_config_write(&pc->pci, ACPI_PM_DEVFN, 0x90, ACPI_PM_DEFAULT_SMB_BASE | 1, 4);
    pci_config_write(&pc->pci, ACPI_PM_DEVFN, 0xd2, 0x09, 1);
    pc_pci_assign(pc);
    pc_bda_setup(pc);
}

/* The I/O APIC's ID: right above the highest local APIC ID (= the CPU count when the IDs are
 * contiguous). */
static uint8_t pc_ioapic_id(const struct pc *pc)
{
    unsigned top = 0;
    for (unsigned i = 0; i < pc->max_cpus; i++)
        if (pc->apic_ids[i] >= top)
            top = pc->apic_ids[i] + 1u;
    return (uint8_t)(top ? top : 1);
}

/* The ACPI tables' view of the board. The PM block address comes from the PIIX4's own PMBA
 * register, the one source of truth: firmware may move it (SeaBIOS does). */
static void pc_acpi_config(struct pc *pc, struct acpi_config *acfg)
{
    acpi_config_pc_defaults(acfg, pc->ncpus, pc->mem.ram_below_4g);
    acfg->max_cpus = pc->max_cpus;
    acfg->apic_ids = pc->apic_ids;
    acfg->ioapic_id = pc_ioapic_id(pc);
    uint16_t pm = acpi_pm_programmed_base(&pc->pm);
    acfg->pm_base = pm ? pm : ACPI_PM_DEFAULT_BASE;
    acfg->pvpanic_port = pc->has_pvpanic ? pc->pvpanic.port : 0;
}

/* SeaBIOS programs the PM base before it runs etc/table-loader: rebuild the tables whenever
 * it selects one of the ACPI files, so they name what the device decodes (QEMU rebuilds its
 * tables on that read too). The rebuilt files keep their sizes. */
static void pc_fw_cfg_select(void *opaque, uint16_t key)
{
    struct pc *pc = opaque;
    if ((int)key != fw_cfg_file_key(&pc->fw_cfg, ACPI_FILE_TABLES) &&
        (int)key != fw_cfg_file_key(&pc->fw_cfg, ACPI_FILE_RSDP) &&
        (int)key != fw_cfg_file_key(&pc->fw_cfg, ACPI_FILE_LOADER))
        return;
    struct acpi_config acfg;
    pc_acpi_config(pc, &acfg);
    if (acpi_add_to_fw_cfg(&pc->fw_cfg, &acfg) < 0)
        log_printf(pc->log, LOG_GUEST_ERRORS, "fw_cfg: cannot rebuild the ACPI tables (out of memory)\n");
}

static int pc_direct_boot(struct pc *pc, char *err, size_t errlen)
{
    const struct vm_config *cfg = pc->cfg;
    /* The BIOS area becomes RAM so the tables the OS scans for can live there. */
    i440fx_shadow_ram(&pc->i440fx, true);
    pc_firmware_equivalent(pc);
    if (pc->has_vga) {
        /* No VGA BIOS runs: leave the screen in mode 3 as it would (QEMU runs SeaBIOS and the
         * VGA BIOS before its -kernel loaders), so text written to 0xB8000 shows. */
        uint8_t font[256 * CONSOLE_FONT_HEIGHT];
        vga_set_text_mode3(&pc->vga, console_font_load(DEFAULT_VGABIOS, font) ? font : NULL);
    }

    uint32_t below = pc->mem.ram_below_4g;
    uint32_t acpi_len = 0x20000;
    uint32_t acpi_base = (below - acpi_len) & ~0xfffu;
    struct acpi_config acfg;
    pc_acpi_config(pc, &acfg);
    uint32_t used = acpi_write_tables(&pc->mem, &acfg, acpi_base, 0xf0000);
    if (!used)
        return fail(err, errlen, "pcvm: could not build the ACPI tables");
    struct mptable_config mcfg;
    mptable_config_pc_defaults(&mcfg, pc->ncpus);
    mcfg.apic_ids = pc->apic_ids;
    mcfg.ioapic_id = pc_ioapic_id(pc);
    mptable_write(&pc->mem, &mcfg, 0xf0100);

    struct e820_entry e820[BOOT_E820_MAX];
    unsigned n = boot_build_e820(below, acpi_base, acpi_len, e820, BOOT_E820_MAX);
    struct boot_request req = {
        .kernel_path = cfg->kernel,
        .initrd = cfg->initrd,
        .cmdline = cfg->append,
        .ram_below_4g = below,
        .vga_text = pc->has_vga,
        .e820 = e820,
        .e820_count = n,
    };
    struct boot_entry_state st;
    char why[512];
    if (boot_load_kernel(&req, &pc->mem, &st, why, sizeof(why)) < 0)
        return fail(err, errlen, "pcvm: -kernel: %s", why);
    boot_apply_entry_state(pc->cpus[0], &st);
    return 0;
}

/* ---- Board construction ---- */

static int pc_open_drives(struct pc *pc, char *err, size_t errlen)
{
    const struct vm_config *cfg = pc->cfg;
    /* As QEMU's pc: an empty CD-ROM as secondary master unless -nodefaults or a drive is there. */
    bool index2_used = false;
    for (unsigned i = 0; i < cfg->n_drives; i++)
        if (cfg->drives[i].interface == VM_IF_IDE && cfg->drives[i].index == 2)
            index2_used = true;
    if (!cfg->nodefaults && !index2_used)
        pc->drive_is_cdrom[2] = true;
    for (unsigned i = 0; i < cfg->n_drives; i++) {
        const struct vm_drive *d = &cfg->drives[i];
        if (d->interface == VM_IF_VIRTIO || d->interface == VM_IF_NONE)
            continue; /* opened by pc_virtio_create (if=none: when a device names it) */
        if (d->interface != VM_IF_IDE)
            return fail(err, errlen, "pcvm: -drive if=floppy: not supported yet");
        if (d->index < 0 || d->index > 3)
            return fail(err, errlen, "pcvm: -drive index=%d: IDE has 4 positions (0-3)", d->index);
        pc->drive_is_cdrom[d->index] = d->media == VM_MEDIA_CDROM;
        if (!d->file)
            continue;
        static const enum block_cache caches[] = {
            [VM_CACHE_WRITEBACK] = BLOCK_CACHE_WRITEBACK, [VM_CACHE_WRITETHROUGH] = BLOCK_CACHE_WRITETHROUGH,
            [VM_CACHE_NONE] = BLOCK_CACHE_NONE, [VM_CACHE_UNSAFE] = BLOCK_CACHE_UNSAFE,
            [VM_CACHE_DIRECTSYNC] = BLOCK_CACHE_DIRECTSYNC,
        };
        const char *fmt = d->format == VM_FMT_RAW ? "raw" : d->format == VM_FMT_QCOW2 ? "qcow2" : NULL;
        unsigned flags = 0;
        if (!d->readonly && d->media != VM_MEDIA_CDROM)
            flags |= BLOCK_RDWR;
        if (d->snapshot)
            flags |= BLOCK_SNAPSHOT;
        char why[BLOCK_ERR_LEN];
        pc->drives[d->index] = block_open(d->file, fmt, flags, caches[d->cache], why, sizeof(why));
        if (!pc->drives[d->index])
            return fail(err, errlen, "pcvm: -drive file=%s: %s", d->file, why);
    }
    return 0;
}

/* A feature the chosen model has and pcvm does not: one warning line, as QEMU's TCG. */
static void pc_cpu_warning(void *opaque, const char *line)
{
    (void)opaque;
    fprintf(stderr, "pcvm: warning: %s\n", line);
}

static int pc_create_cpus(struct pc *pc, char *err, size_t errlen)
{
    const struct vm_config *cfg = pc->cfg;
    const char *name = cfg->cpu_model ? cfg->cpu_model : DEFAULT_CPU_MODEL;
    struct cpu_model *model = malloc(sizeof(*model));
    if (!model)
        return fail(err, errlen, "pcvm: out of memory");
    if (!cpu_model_resolve(name, model)) {
        free(model);
        return fail(err, errlen, "pcvm: -cpu %s: unknown CPU model (see -cpu help)", name);
    }
    for (unsigned i = 0; i < cfg->n_cpu_features; i++) {
        const struct vm_cpu_feature *f = &cfg->cpu_features[i];
        char spec[320], why[256];
        if (f->value)
            snprintf(spec, sizeof(spec), "%s=%s", f->name, f->value);
        else
            snprintf(spec, sizeof(spec), "%c%s", f->enable ? '+' : '-', f->name);
        if (cpu_model_set_feature(model, spec, why, sizeof(why)) < 0) {
            free(model);
            return fail(err, errlen, "pcvm: -cpu %s: %s", name, why);
        }
    }
    char why[256];
    if (cpu_model_finalize(model, pc_cpu_warning, pc, why, sizeof(why)) < 0) {
        free(model);
        return fail(err, errlen, "pcvm: %s", why);
    }
    pc->ncpus = cfg->smp.cpus ? cfg->smp.cpus : 1;
    if (pc->ncpus > PC_MAX_CPUS) {
        free(model);
        return fail(err, errlen, "pcvm: -smp %u: at most %d CPUs are supported", pc->ncpus, PC_MAX_CPUS);
    }
    if (cfg->smp.zero_given)
        fprintf(stderr, "pcvm: warning: Deprecated CPU topology (considered invalid): CPU topology "
                "parameters must be greater than zero\n");
    /* APIC IDs of every possible CPU, packed as QEMU does (sparse when a count is not a power
     * of two). */
    struct cpu_topo topo = { .threads = cfg->smp.threads ? cfg->smp.threads : 1,
                             .cores = cfg->smp.cores ? cfg->smp.cores : 1,
                             .dies = cfg->smp.dies ? cfg->smp.dies : 1 };
    pc->max_cpus = cfg->smp.maxcpus > pc->ncpus ? cfg->smp.maxcpus : pc->ncpus;
    if (pc->max_cpus > PC_MAX_CPUS)
        pc->max_cpus = PC_MAX_CPUS;
    for (unsigned i = 0; i < pc->max_cpus; i++) {
        uint32_t id = cpu_topo_apic_id(&topo, i);
        if (id >= 0xff) {
            free(model);
            return fail(err, errlen, "pcvm: -smp: APIC ID %u of CPU %u does not fit in 8 bits", id, i);
        }
        pc->apic_ids[i] = (uint8_t)id;
    }
    struct cpu_board_ops ops = { .opaque = pc, .intr_ack = pc_intr_ack, .ferr = pc_ferr,
                                 .apic_base_changed = pc_apic_base_changed };
    for (unsigned i = 0; i < pc->ncpus; i++) {
        pc->cpus[i] = calloc(1, sizeof(struct cpu));
        if (!pc->cpus[i])
            return fail(err, errlen, "pcvm: out of memory");
        cpu_init(pc->cpus[i], (int)i, model, &pc->mem, &pc->io, &pc->clock, pc->log, &ops);
        pc->cpus[i]->topo = topo;
        pc->cpus[i]->topo.apic_id = pc->apic_ids[i];
        if (cfg->rtc.base == VM_RTC_BASE_DATE)   /* kvmclock's date agrees with the RTC's */
            pc->cpus[i]->wall_clock_base_ns = cfg->rtc.base_time * NS_PER_SEC;
        /* The JIT is the default; -accel tcg,jit=off forces the interpreter (docs/OPTIONS.md). */
        pc->cpus[i]->exec.jit_threshold =
            cfg->jit != 0 ? (int)(cfg->jit_threshold ? cfg->jit_threshold : JIT_DEFAULT_THRESHOLD) : 0;
        if (pc_register_device(pc, &(struct device){ .type = model ? model->name : "cpu", .bus = "cpu",
                                                     .opaque = pc->cpus[i], .vmsd = &cpu_vmstate,
                                                     .reset = reset_cpu, .destroy = destroy_cpu },
                               err, errlen, "cpu%u", i) < 0) {
            destroy_cpu(pc->cpus[i]);
            pc->cpus[i] = NULL;
            return -1;
        }
    }
    return 0;
}

/* Retired instructions over every vCPU: the count -stamps records with each byte. */
static uint64_t pc_total_insns(void *opaque)
{
    struct pc *pc = opaque;
    uint64_t n = 0;
    for (unsigned i = 0; i < pc->ncpus; i++)
        n += pc->cpus[i]->insn_count;
    return n;
}

/* ---- -device ---- */

static int add_isa_debug_exit(struct pc *pc, const struct vm_device *d, char *err, size_t errlen)
{
    unsigned n = 0;
    while (n < PC_MAX_DEBUGEXIT && pc->debugexit[n].exit_fn)
        n++;
    if (n >= PC_MAX_DEBUGEXIT)
        return fail(err, errlen, "pcvm: -device isa-debug-exit: at most %d", PC_MAX_DEBUGEXIT);
    debugexit_init(&pc->debugexit[n], &pc->io, (uint16_t)d->iobase, (uint16_t)d->iosize, pc_debug_exit, pc);
    struct device dev = { .type = "isa-debug-exit", .bus = "isa.0", .opaque = &pc->debugexit[n] };
    if (d->id)
        return pc_register_device(pc, &dev, err, errlen, "%s", d->id);
    return pc_register_device(pc, &dev, err, errlen, "isa-debug-exit%u", n);
}

static void pvpanic_info(const struct device *d, int indent, devmodel_print_fn pr, void *ctx)
{
    const struct pvpanic *p = d->opaque;
    pr(ctx, "%*sioport = %u (0x%x)\n", indent, "", p->port, p->port);
}

static int add_pvpanic(struct pc *pc, const struct vm_device *d, char *err, size_t errlen)
{
    if (pc->has_pvpanic)
        return fail(err, errlen, "pcvm: -device pvpanic: only one");
    pvpanic_init(&pc->pvpanic, &pc->io, (uint16_t)d->iobase, pc_guest_panicked, pc);
    pc->has_pvpanic = true;
    struct device dev = { .type = "pvpanic", .bus = "isa.0", .opaque = &pc->pvpanic, .info = pvpanic_info };
    return pc_register_device(pc, &dev, err, errlen, "%s", d->id ? d->id : "pvpanic");
}

static void destroy_testdev(void *opaque)
{
    free(opaque);
}

/* pc-testdev's lines join the ISA IRQ fan-out (PIC and I/O APIC) as their own source. */
static int add_pc_testdev(struct pc *pc, const struct vm_device *d, char *err, size_t errlen)
{
    if (pc->testdev)
        return fail(err, errlen, "pcvm: -device pc-testdev: only one");
    pc->testdev = calloc(1, sizeof(*pc->testdev));
    if (!pc->testdev)
        return fail(err, errlen, "pcvm: out of memory");
    struct irq_line lines[PC_TESTDEV_IRQS];
    for (int n = 0; n < PC_TESTDEV_IRQS; n++)
        lines[n] = pc_isa_line(pc, n, PC_IRQ_SRC_TESTDEV);
    if (pc_testdev_init(pc->testdev, &pc->io, &pc->mem, lines) < 0) {
        free(pc->testdev);
        pc->testdev = NULL;
        return fail(err, errlen, "pcvm: -device pc-testdev: no room for its ports or memory");
    }
    struct device dev = { .type = "pc-testdev", .bus = "isa.0", .opaque = pc->testdev, .vmsd = &pc_testdev_vmstate,
                          .reset = pc_testdev_reset, .destroy = destroy_testdev };
    return pc_register_device(pc, &dev, err, errlen, "%s", d->id ? d->id : "pc-testdev");
}

/* pci-testdev functions take the first free slot after the virtio devices. */
static int pc_create_pci_testdevs(struct pc *pc, char *err, size_t errlen)
{
    for (unsigned i = 0; i < pc->cfg->n_devices; i++) {
        const struct vm_device *d = &pc->cfg->devices[i];
        if (strcmp(d->driver, "pci-testdev"))
            continue;
        int slot = 2;
        while (slot < 32 && pc->pci.devices[slot << 3])
            slot++;
        if (pc->n_pci_testdev >= PC_MAX_PCI_TESTDEV || slot >= 32)
            return fail(err, errlen, "pcvm: -device pci-testdev: no free PCI slot (at most %d)", PC_MAX_PCI_TESTDEV);
        struct pci_testdev *t = &pc->pci_testdev[pc->n_pci_testdev];
        if (pci_testdev_init(t, &pc->pci, (uint8_t)(slot << 3)) < 0)
            return fail(err, errlen, "pcvm: -device pci-testdev: cannot register it");
        struct device dev = { .type = "pci-testdev", .bus = "pci.0", .opaque = t, .vmsd = &pci_testdev_vmstate,
                              .reset = pci_testdev_reset, .bus_data = &t->pci, .info = pc_pci_info };
        int rc = d->id ? pc_register_device(pc, &dev, err, errlen, "%s", d->id)
                       : pc_register_device(pc, &dev, err, errlen, "pci-testdev%u", pc->n_pci_testdev);
        if (rc < 0)
            return -1;
        pc->n_pci_testdev++;
    }
    return 0;
}

/* Virtio devices are made after the NICs, by pc_virtio_create. */
static int add_later_virtio(struct pc *pc, const struct vm_device *d, char *err, size_t errlen)
{
    (void)pc;
    (void)d;
    (void)err;
    (void)errlen;
    return 0;
}

/* What -device can create: the driver name and its constructor, which registers the device. */
static const struct {
    const char *driver;
    int (*add)(struct pc *pc, const struct vm_device *d, char *err, size_t errlen);
} pc_device_types[] = {
    { "isa-debug-exit", add_isa_debug_exit },
    { "pvpanic", add_pvpanic },
    { "pc-testdev", add_pc_testdev },
    { "pci-testdev", add_later_virtio },   /* after the virtio devices: pc_create_pci_testdevs */
    { "virtio-blk-pci", add_later_virtio },
    { "virtio-rng-pci", add_later_virtio },
    { "virtio-9p-pci", add_later_virtio },
    { "virtio-serial-pci", add_later_virtio },
    { "virtconsole", add_later_virtio },
    { "virtserialport", add_later_virtio },
};

static int pc_add_device(struct pc *pc, const struct vm_device *d, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(pc_device_types) / sizeof(pc_device_types[0]); i++)
        if (!strcmp(d->driver, pc_device_types[i].driver))
            return pc_device_types[i].add(pc, d, err, errlen);
    return fail(err, errlen, "pcvm: -device %s: not supported yet", d->driver);
}

static void pc_before_run(void *opaque, struct cpu *cpu)
{
    struct pc *pc = opaque;
    apic_bus_set_current(&pc->apic_bus, (unsigned)cpu->index);
}

/* The board's part of a reset (registered last, after every chip and CPU). */
static void pc_board_reset(void *opaque)
{
    struct pc *pc = opaque;
    pc->a20_kbc = pc->a20_port92 = false;
    pc->a20_kbc = true; /* the keyboard controller's output port starts with A20 on */
    pc_update_a20(pc);
}

static void pc_reset_devices(struct pc *pc)
{
    devlist_reset(&pc->devices);
}

/* ---- The board's saved state: its IRQ fan-in and A20 inputs, and the clock ---- */

static int pc_board_post_load(void *opaque, char *err, size_t errlen)
{
    struct pc *pc = opaque;
    if (pc->wake_why & ~(ACPI_PM1_RTC | ACPI_PM1_PWRBTN)) {
        snprintf(err, errlen, "pc-board: wake-up cause %#x unknown", pc->wake_why);
        return -1;
    }
    pc->waking = pc->waking && pc->suspended;
    if (pc->waking)
        pc_request_reset(pc);   /* the wake-up reset was pending when the state was saved */
    pc_update_a20(pc);
    return 0;
}

/* Version 2: the S3 state (a snapshot of a suspended guest stays suspended and can be woken;
 * the vCPUs' wait-for-SIPI halt is in their own state). */
static const struct vmstate_field pc_board_fields[] = {
    VMF_ARRAY(struct pc, isa_irq_sources), VMF(struct pc, a20_kbc), VMF(struct pc, a20_port92),
    { .name = "suspended", .type = VMF_BOOL, .offset = offsetof(struct pc, suspended), .count = 1, .since = 2 },
    { .name = "waking", .type = VMF_BOOL, .offset = offsetof(struct pc, waking), .count = 1, .since = 2 },
    { .name = "wake_why", .type = VMF_U16, .offset = offsetof(struct pc, wake_why), .count = 1, .since = 2 },
    VMF_END_OF_LIST,
};
static const struct vmstate_desc pc_board_vmstate = { .name = "pc-board", .version = 2, .min_version = 1,
                                                      .fields = pc_board_fields, .post_load = pc_board_post_load };

static int pc_clock_pre_save(void *opaque)
{
    struct pc *pc = opaque;
    pc->saved_vtime = vclock_now(&pc->clock);
    return 0;
}

/* Time goes on from where it was saved (timers were re-armed with their saved deadlines). */
static int pc_clock_post_load(void *opaque, char *err, size_t errlen)
{
    struct pc *pc = opaque;
    if (pc->saved_vtime < 0) {
        snprintf(err, errlen, "vclock: negative time");
        return -1;
    }
    vclock_restore(&pc->clock, pc->saved_vtime);
    return 0;
}

static const struct vmstate_field pc_clock_fields[] = { VMF(struct pc, saved_vtime), VMF_END_OF_LIST };
static const struct vmstate_desc pc_clock_vmstate = { .name = "vclock", .version = 1, .fields = pc_clock_fields,
                                                      .pre_save = pc_clock_pre_save,
                                                      .post_load = pc_clock_post_load };

/* A reset request (triple fault, 0xCF9, keyboard controller, port 0x92). */
static int pc_do_reset(struct pc *pc)
{
    pc->reset_pending = false;
    if (pc->waking && pc_sleep_resume(pc))   /* S3 wake-up: RAM and the shadowed BIOS stay */
        return 0;
    bool by_host = pc->reset_by_host;
    pc->reset_by_host = false;
    if (pc->cfg->no_reboot && !by_host) {
        if (!pc->shutdown_reason)
            pc->shutdown_reason = "guest-reset";
        mainloop_request_exit(pc->ml, 0);
        return 0;
    }
    pc_event(pc, "RESET", json_pack("{s:b,s:s}", "guest", !by_host, "reason",
                                    by_host ? "host-qmp-system-reset" : "guest-reset"));
    log_printf(pc->log, LOG_CPU_RESET, "system reset\n");
    pc_reset_devices(pc);
    if (pc->cfg->kernel) {
        char err[512];
        if (pc_direct_boot(pc, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            mainloop_request_exit(pc->ml, 1);
            return -1;
        }
    }
    return 0;
}

static void pc_cpu_event(void *opaque, struct cpu *cpu, enum cpu_exit_reason why)
{
    struct pc *pc = opaque;
    if (why == CPU_EXIT_RESET) {
        log_printf(pc->log, LOG_CPU_RESET | LOG_GUEST_ERRORS, "CPU %d: triple fault\n", cpu->index);
        pc->reset_pending = true;
    }
    if (why == CPU_EXIT_DEBUG && pc->gdb)
        gdbstub_cpu_stopped(pc->gdb, cpu);
}

static void pc_do_reset_stopped(void *opaque) { pc_do_reset(opaque); }

static void pc_after_slice(void *opaque)
{
    struct pc *pc = opaque;
    if (pc->stamps)
        stamps_flush_due(pc->stamps);
    if (pc->reset_pending)
        runloop_run_stopped(&pc->rl, pc_do_reset_stopped, pc);   /* every vCPU stopped first */
}

/* The boot order as fw_cfg's "bootorder" device paths and the CMOS boot byte. */
static void pc_boot_order(struct pc *pc, char *bootorder, size_t len)
{
    const char *order = pc->cfg->boot.order[0] ? pc->cfg->boot.order : "cad";
    bootorder[0] = 0;
    for (const char *p = order; *p; p++) {
        for (int i = 0; i < 4; i++) {
            bool want = (*p == 'c' && pc->drives[i] && !pc->drive_is_cdrom[i]) ||
                        (*p == 'd' && pc->drive_is_cdrom[i]);
            if (!want)
                continue;
            size_t used = strlen(bootorder);
            snprintf(bootorder + used, len - used, "/pci@i0cf8/ide@1,1/drive@%d/disk@%d\n", i / 2, i % 2);
        }
        if (*p == 'n')
            pc_net_boot_paths(&pc->net, bootorder, len);
    }
    rtc_cmos_set_boot_order(&pc->rtc, order, false);
}

int pc_create(struct pc *pc, const struct vm_config *cfg, struct pcvm_log *log, struct mainloop *ml,
              struct vm_chardevs *chardevs, char *err, size_t errlen)
{
    memset(pc, 0, sizeof(*pc));
    pc->cfg = cfg;
    pc->log = log;
    pc->ml = ml;
    pc->chardevs = chardevs;

    uint64_t ram = cfg->ram_size ? cfg->ram_size : 128ull << 20;
    if (ram > MAX_RAM_BELOW_4G)
        return fail(err, errlen, "pcvm: -m %llu: at most %llu MiB is supported (no RAM above 4 GiB yet)",
                    (unsigned long long)(ram >> 20), MAX_RAM_BELOW_4G >> 20);
    if (ram < (2u << 20))
        return fail(err, errlen, "pcvm: -m %llu: the pc machine needs at least 2 MiB",
                    (unsigned long long)(ram >> 20));
    if (phys_mem_init(&pc->mem, ram, (uint32_t)ram) < 0)
        return fail(err, errlen, "pcvm: -m: cannot allocate %llu MiB of guest RAM", (unsigned long long)(ram >> 20));
    pc->mem.code_write = pc_code_written;
    pc->mem.code_write_opaque = pc;
    pc->mem.code_marked = pc_code_marked;
    pc->mem.unassigned = pc_unassigned_mem;
    pc->mem.unassigned_opaque = pc;
    io_bus_init(&pc->io);

    /* Time: the CPUs do not exist yet, so icount's counter is bound below. */
    vclock_init(&pc->clock, false, 0, NULL);

    if (pc_open_drives(pc, err, errlen) < 0)
        return -1;
    if (pc_create_cpus(pc, err, errlen) < 0)
        return -1;
    if (cfg->icount.enabled) {
        int shift = cfg->icount.shift < 0 ? 3 : cfg->icount.shift;
        vclock_init(&pc->clock, true, shift, &pc->cpus[0]->insn_count);
        for (unsigned i = 0; i < pc->ncpus; i++)
            pc->insn_counters[i] = &pc->cpus[i]->insn_count;
        vclock_follow_counters(&pc->clock, pc->insn_counters, pc->ncpus);
    }
    if (cfg->stamps) {
        pc->stamps = stamps_open(cfg->stamps, &pc->clock, pc_total_insns, pc, err, errlen);
        if (!pc->stamps)
            return -1;
    }

    pc->rom_area = mmap(NULL, I440FX_ROM_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pc->rom_area == MAP_FAILED) {
        pc->rom_area = NULL;
        return fail(err, errlen, "pcvm: out of memory");
    }
    memset(pc->rom_area, 0xff, I440FX_ROM_AREA_SIZE);
    if (pc_load_bios(pc, err, errlen) < 0)
        return -1;

    /* Interrupt controllers and the ISA IRQ fan-out. */
    for (int i = 0; i < 16; i++) {
        pc->isa_irq[i] = pc_isa_line(pc, i, PC_IRQ_SRC_DEVICE);
        pc->piix3_irq[i] = pc_isa_line(pc, i, PC_IRQ_SRC_PCI);
    }
    pc->sci_irq = pc_isa_line(pc, 9, PC_IRQ_SRC_SCI);
    pc->ferr_irq = pc_isa_line(pc, 13, PC_IRQ_SRC_FERR);
    apic_bus_init(&pc->apic_bus, &pc->mem);
    for (unsigned i = 0; i < pc->ncpus; i++) {
        lapic_init(&pc->lapic[i], &pc->apic_bus, pc->cpus[i], &pc->clock, pc->apic_ids[i], i == 0, pc_pic_ack, pc);
        if (pc_register_device(pc, &(struct device){ .type = "apic", .bus = "cpu", .opaque = &pc->lapic[i],
                                                     .vmsd = &lapic_vmstate, .reset = reset_lapic },
                               err, errlen, "apic%u", i) < 0)
            return -1;
    }
    ioapic_init(&pc->ioapic, &pc->apic_bus, &pc->mem, IOAPIC_DEFAULT_BASE, pc_ioapic_id(pc));
    irq_connect(&pc->pic_intr, lapic_lint_irq, &pc->lapic[0], 0);
    pic_init(&pc->pic, &pc->io, pc->pic_intr, log);
    if (pc_register_device(pc, &(struct device){ .type = "ioapic", .bus = "sysbus", .opaque = &pc->ioapic,
                                                 .vmsd = &ioapic_vmstate, .reset = reset_ioapic },
                           err, errlen, "ioapic") < 0 ||
        pc_register_device(pc, &(struct device){ .type = "isa-i8259", .bus = "isa.0", .opaque = &pc->pic,
                                                 .vmsd = &pic_vmstate, .reset = reset_pic },
                           err, errlen, "pic") < 0)
        return -1;

    /* Legacy chips. */
    pit_init(&pc->pit, &pc->io, &pc->clock, pc->isa_irq[0], log);
    int64_t start_sec = host_realtime_ns() / NS_PER_SEC;
    if (cfg->rtc.base == VM_RTC_BASE_DATE)
        start_sec = cfg->rtc.base_time;
    else if (cfg->rtc.base == VM_RTC_BASE_LOCALTIME)
        rtc_parse_base("localtime", host_realtime_ns(), &start_sec);
    rtc_init(&pc->rtc, &pc->io, &pc->clock, pc->isa_irq[8], start_sec, log);
    rtc_cmos_set_memory(&pc->rtc, pc->mem.ram_below_4g, 0);
    rtc_cmos_set(&pc->rtc, 0x14, 0x06);                   /* equipment: FPU, PS/2 mouse */
    rtc_cmos_set(&pc->rtc, 0x5f, (uint8_t)(pc->ncpus - 1)); /* CPU count - 1, as SeaBIOS reads */
    rtc_cmos_update_checksum(&pc->rtc);
    if (pc_register_device(pc, &(struct device){ .type = "isa-pit", .bus = "isa.0", .opaque = &pc->pit,
                                                 .vmsd = &pit_vmstate, .reset = reset_pit },
                           err, errlen, "pit") < 0 ||
        pc_register_device(pc, &(struct device){ .type = "mc146818rtc", .bus = "isa.0", .opaque = &pc->rtc,
                                                 .vmsd = &rtc_vmstate, .reset = reset_rtc },
                           err, errlen, "rtc") < 0)
        return -1;
    pc->nuarts = chardevs->n_serial < 4 ? chardevs->n_serial : 4;
    for (unsigned i = 0; i < pc->nuarts; i++) {
        uart_init(&pc->uart[i], &pc->io, uart_ports[i],
                  pc_isa_line(pc, uart_irqs[i], i < 2 ? PC_IRQ_SRC_DEVICE : PC_IRQ_SRC_SHARED),
                  chardevs->serial[i],
                  &pc->clock, log);
        if (pc_register_device(pc, &(struct device){ .type = "isa-serial", .bus = "isa.0", .opaque = &pc->uart[i],
                                                     .vmsd = &uart_vmstate, .reset = reset_uart },
                               err, errlen, "serial%u", i) < 0)
            return -1;
    }
    i8042_init(&pc->kbc, &pc->io, pc->isa_irq[1], pc->isa_irq[12], pc_kbc_a20, pc_kbc_reset, pc, log);
    port92_init(&pc->port92, &pc->io, pc_port92_a20, pc_port92_reset, pc);
    if (pc_register_device(pc, &(struct device){ .type = "i8042", .bus = "isa.0", .opaque = &pc->kbc,
                                                 .vmsd = &i8042_vmstate, .reset = reset_kbc },
                           err, errlen, "i8042") < 0 ||
        pc_register_device(pc, &(struct device){ .type = "port92", .bus = "isa.0", .opaque = &pc->port92,
                                                 .vmsd = &port92_vmstate, .reset = reset_port92 },
                           err, errlen, "port92") < 0)
        return -1;
    for (unsigned i = 0; i < cfg->n_devices; i++)
        if (pc_add_device(pc, &cfg->devices[i], err, errlen) < 0)
            return -1;
    debugcon_init(&pc->debugcon, &pc->io, 0xe9, chardevs->debugcon);
    debugcon_init(&pc->seabios_log, &pc->io, 0x402, NULL);
    if (pc->stamps) {
        static const char *const serial_names[4] = { "serial0", "serial1", "serial2", "serial3" };
        for (unsigned i = 0; i < pc->nuarts; i++)
            pc->uart[i].stamps = stamps_tap(pc->stamps, serial_names[i]);
        pc->debugcon.stamps = stamps_tap(pc->stamps, "debugcon");
        pc->seabios_log.stamps = stamps_tap(pc->stamps, "debugcon402");
    }
    if (pc_register_device(pc, &(struct device){ .type = "isa-debugcon", .bus = "isa.0", .opaque = &pc->debugcon,
                                                 .vmsd = &debugcon_vmstate },
                           err, errlen, "debugcon") < 0 ||
        pc_register_device(pc, &(struct device){ .type = "isa-debugcon", .bus = "isa.0", .opaque = &pc->seabios_log,
                                                 .vmsd = &debugcon_vmstate },
                           err, errlen, "seabios-log") < 0)
        return -1;

    /* PCI: host bridge, ISA bridge, IDE, PM, VGA. */
    pci_bus_init(&pc->pci, &pc->mem, &pc->io, piix3_pci_set_irq, &pc->piix3);
    pc->pci.msi_send = apic_bus_deliver_msi;     /* MSI-X of the virtio devices */
    pc->pci.msi_opaque = &pc->apic_bus;
    if (pc_register_device(pc, &(struct device){ .type = "i440FX-pcihost", .bus = "sysbus", .opaque = &pc->pci,
                                                 .vmsd = &pci_bus_vmstate, .reset = reset_pci_bus },
                           err, errlen, "pcihost") < 0)
        return -1;
    if (i440fx_init(&pc->i440fx, &pc->pci, &pc->mem, pc->rom_area, pc_mem_changed, pc) < 0)
        return fail(err, errlen, "pcvm: cannot create the i440FX host bridge");
    if (pc_register_device(pc, &(struct device){ .type = "i440FX", .bus = "pci.0", .opaque = &pc->i440fx,
                                                 .vmsd = &i440fx_vmstate, .reset = reset_i440fx,
                                                 .bus_data = &pc->i440fx.dev, .info = pc_pci_info },
                           err, errlen, "i440fx") < 0)
        return -1;
    if (piix3_init(&pc->piix3, &pc->pci, &pc->io, pc->piix3_irq, pc_piix3_reset, pc) < 0)
        return fail(err, errlen, "pcvm: cannot create the PIIX3");
    if (pc_register_device(pc, &(struct device){ .type = "PIIX3", .bus = "pci.0", .opaque = &pc->piix3,
                                                 .vmsd = &piix3_vmstate, .reset = reset_piix3,
                                                 .bus_data = &pc->piix3.dev, .info = pc_pci_info },
                           err, errlen, "piix3") < 0)
        return -1;
    if (block_aio_pool_init(&pc->aio, ml) < 0)
        return fail(err, errlen, "pcvm: cannot start the disk I/O threads");
    pc->aio_started = true;
    if (ide_init(&pc->ide, &pc->pci, IDE_DEVFN, &pc->io, &pc->mem, pc->isa_irq[14], pc->isa_irq[15],
                 pc->drives, pc->drive_is_cdrom, &pc->aio) < 0)
        return fail(err, errlen, "pcvm: cannot create the IDE controller");
    if (pc_register_device(pc, &(struct device){ .type = "piix3-ide", .bus = "pci.0", .opaque = &pc->ide,
                                                 .vmsd = &ide_vmstate, .reset = reset_ide, .destroy = destroy_ide,
                                                 .bus_data = &pc->ide.pci, .info = pc_pci_info },
                           err, errlen, "ide") < 0) {
        ide_destroy(&pc->ide);
        return -1;
    }
    if (acpi_pm_init(&pc->pm, &pc->pci, &pc->io, &pc->clock, &pc->sci_irq, pc_power_off, pc) < 0)
        return fail(err, errlen, "pcvm: cannot create the ACPI PM device");
    if (pc_register_device(pc, &(struct device){ .type = "PIIX4_PM", .bus = "pci.0", .opaque = &pc->pm,
                                                 .vmsd = &acpi_pm_vmstate, .reset = reset_pm,
                                                 .bus_data = &pc->pm.dev, .info = pc_pci_info },
                           err, errlen, "pm") < 0)
        return -1;
    if (cfg->vga != VM_VGA_NONE && !cfg->nodefaults) {
        if (vga_init(&pc->vga, &pc->io, &pc->mem, &pc->pci, VGA_DEVFN, &pc->clock, log) < 0)
            return fail(err, errlen, "pcvm: cannot create the VGA");
        pc->has_vga = true;
        if (pc_register_device(pc, &(struct device){ .type = "VGA", .bus = "pci.0", .opaque = &pc->vga,
                                                     .vmsd = &vga_vmstate, .reset = reset_vga,
                                                     .destroy = destroy_vga, .bus_data = &pc->vga.pci,
                                                     .info = pc_pci_info },
                               err, errlen, "vga") < 0) {
            vga_destroy(&pc->vga);
            return -1;
        }
    }
    /* The back ends as one entry until they have a state description; each card on its own. */
    if (pc_register_device(pc, &(struct device){ .type = "pc-net", .bus = "pci.0", .opaque = &pc->net,
                                                 .destroy = destroy_net },
                           err, errlen, "net") < 0)
        return -1;
    if (pc_net_create(&pc->net, cfg, &pc->pci, &pc->mem, &pc->clock, ml, log, err, errlen) < 0)
        return -1;
    /* Back ends do not block snapshots: the user network's connections are saved by
     * machine/snapshot.c (libslirp); socket and tap hold no guest state (QEMU saves none). */
    for (unsigned i = 0; i < pc->net.n_nics; i++) {
        struct device card;
        pc_net_card_device(&pc->net, i, &card);
        card.info = pc_pci_info;
        if (pc_register_device(pc, &card, err, errlen, "%s", pc->net.nics[i].port->name) < 0)
            return -1;
    }
    /* The virtio devices: one entry owns them (teardown), each has its own state. */
    if (pc_register_device(pc, &(struct device){ .type = "pc-virtio", .bus = "pci.0", .opaque = &pc->virtio,
                                                 .destroy = destroy_virtio },
                           err, errlen, "virtio") < 0)
        return -1;
    if (pc_virtio_create(&pc->virtio, cfg, chardevs, &pc->pci, &pc->mem, log, &pc->aio, err, errlen) < 0)
        return -1;
    struct device vdev;
    for (unsigned i = 0; pc_virtio_device(&pc->virtio, i, &vdev); i++) {
        vdev.info = pc_pci_info;
        if (pc_register_device(pc, &vdev, err, errlen, "%s", vdev.id) < 0)
            return -1;
    }
    if (pc_create_pci_testdevs(pc, err, errlen) < 0)
        return -1;

    /* fw_cfg for SeaBIOS. */
    fw_cfg_init(&pc->fw_cfg, &pc->io, &pc->mem, true);
    if (pc_register_device(pc, &(struct device){ .type = "fw_cfg_io", .bus = "sysbus", .opaque = &pc->fw_cfg,
                                                 .vmsd = &fw_cfg_vmstate, .reset = reset_fw_cfg,
                                                 .destroy = destroy_fw_cfg },
                           err, errlen, "fw_cfg") < 0) {
        fw_cfg_destroy(&pc->fw_cfg);
        return -1;
    }
    /* The board's own lines and the clock come last: loading the clock re-anchors time after
     * every CPU's instruction count is back. */
    if (pc_register_device(pc, &(struct device){ .type = "pc-i440fx", .bus = "sysbus", .opaque = pc,
                                                 .vmsd = &pc_board_vmstate, .reset = pc_board_reset },
                           err, errlen, "machine") < 0 ||
        pc_register_device(pc, &(struct device){ .type = "vclock", .bus = "sysbus", .opaque = pc,
                                                 .vmsd = &pc_clock_vmstate },
                           err, errlen, "vclock") < 0)
        return -1;
    char bootorder[512];
    pc_boot_order(pc, bootorder, sizeof(bootorder));
    struct fw_cfg_pc_config fcfg = {
        .ram_size = ram,
        .ram_below_4g = pc->mem.ram_below_4g,
        .cpus = pc->ncpus,
        .max_cpus = pc_ioapic_id(pc),   /* QEMU's apic_id_limit: the highest APIC ID + 1 */
        .nographic = cfg->nographic || !pc->has_vga,
        .boot_menu = cfg->boot.menu,
        .boot_fail_wait_ms = -1,
        .boot_device = (uint16_t)(cfg->boot.order[0] ? cfg->boot.order[0] : 'c'),
        .bootorder = bootorder[0] ? bootorder : NULL,
    };
    if (fw_cfg_setup_pc(&pc->fw_cfg, &fcfg) < 0)
        return fail(err, errlen, "pcvm: cannot set up fw_cfg");
    struct acpi_config acfg;
    pc_acpi_config(pc, &acfg);
    if (acpi_add_to_fw_cfg(&pc->fw_cfg, &acfg) < 0)
        return fail(err, errlen, "pcvm: cannot build the ACPI tables");
    fw_cfg_set_select_hook(&pc->fw_cfg, pc_fw_cfg_select, pc);
    if (pc->has_vga)
        pc_add_vgabios(pc);
    if (pc_net_add_roms(&pc->net, &pc->fw_cfg, err, errlen) < 0)
        return -1;

    pc_reset_devices(pc);
    /* A state loaded at start (-loadvm, -incoming) replaces all the direct boot would load. */
    if (cfg->kernel && !cfg->loadvm && !cfg->incoming && pc_direct_boot(pc, err, errlen) < 0)
        return -1;

    /* Display: the VGA's picture for VNC, the SDL window and screendump. */
    if (display_init(&pc->display, pc->has_vga ? &pc->vga : NULL, &pc->kbc, &pc->clock, ml) < 0)
        return fail(err, errlen, "pcvm: cannot set up the display");
    pc->has_display = true;
    if (display_start_frontends(&pc->display, cfg, err, errlen) < 0)
        return -1;
    /* Text consoles in QEMU's order: the monitors (Ctrl-Alt-2), then the serial ports. */
    for (unsigned i = 0; i < chardevs->n_monitors; i++)   /* mon:vc: the vc behind the mux */
        if (chardev_is_vc(chardev_underlying(chardevs->monitor[i])))
            display_add_console(&pc->display, chardev_underlying(chardevs->monitor[i]));
    for (unsigned i = 0; i < chardevs->n_serial; i++)
        if (chardev_is_vc(chardev_underlying(chardevs->serial[i])))
            display_add_console(&pc->display, chardev_underlying(chardevs->serial[i]));

    pc_monitors_create(pc);
    pc_sleep_init(pc);
    if (display_monitor_register(&pc->display, &pc->monreg) < 0)
        return fail(err, errlen, "pcvm: too many monitor command tables");

    if (pc_gdb_init(pc) < 0)
        return fail(err, errlen, "pcvm: -gdb: out of memory");

    runloop_init(&pc->rl, pc->cpus, pc->ncpus, &pc->clock, ml);
    pc->rl.cpu_event = pc_cpu_event;
    pc->rl.before_run = pc_before_run;
    pc->rl.after_slice = pc_after_slice;
    pc->rl.opaque = pc;
    pc->rl.icount_sleep = cfg->icount.sleep;
    /* One host thread per vCPU by default with several vCPUs, as QEMU's TCG on an x86 host;
     * -icount implies the one-thread loop (its time follows the instruction count). */
    bool threads = cfg->tcg_thread == VM_TCG_THREAD_MULTI ||
                   (cfg->tcg_thread == VM_TCG_THREAD_DEFAULT && !cfg->icount.enabled);
    if (threads) {
        if (cfg->icount.enabled)
            return fail(err, errlen, "pcvm: -accel tcg,thread=multi: No MTTCG when icount is enabled");
        if (pc->ncpus > 1) {
            if (runloop_threads_init(&pc->rl) < 0)
                return fail(err, errlen, "pcvm: out of memory");
            pc->io.lock = pc->mem.lock = pc_board_lock;
            pc->io.lock_opaque = pc->mem.lock_opaque = pc;
        }
    }
    for (unsigned i = 0; i < cfg->n_machine_props; i++)
        if (!strcmp(cfg->machine_props[i].key, "idle-coalesce"))
            pc->rl.idle_coalesce_ns = (int64_t)strtoull(cfg->machine_props[i].value, NULL, 10) * 1000000;
    if (cfg->start_paused)
        pc_set_paused(pc, true, "prelaunch");
    return 0;
}

int pc_run(struct pc *pc)
{
    int status = runloop_run(&pc->rl);
    /* QEMU's order: the reply to quit, then SHUTDOWN; a signal is "host-signal". */
    const char *why = pc->shutdown_reason ? pc->shutdown_reason : "host-signal";
    if (*why)
        pc_event(pc, "SHUTDOWN", json_pack("{s:b,s:s}", "guest", !strncmp(why, "guest", 5),
                                           "reason", why));
    return status;
}

void pc_destroy(struct pc *pc)
{
    pc_monitors_destroy(pc);
    pc_snapshot_destroy(pc);
    pc_gdb_destroy(pc);
    if (pc->aio_started)
        block_aio_pool_destroy(&pc->aio); /* drains pending completions first */
    if (pc->has_display)
        display_destroy(&pc->display); /* stops the VNC and SDL threads first */
    const struct cpu_model *model = pc->cpus[0] ? pc->cpus[0]->model : NULL;
    devlist_destroy(&pc->devices);
    for (unsigned i = 0; i < pc->ncpus; i++)
        pc->cpus[i] = NULL;
    for (int i = 0; i < 4; i++)
        if (pc->drives[i])
            block_close(pc->drives[i]);
    free((void *)model);
    if (pc->bios)
        munmap(pc->bios, pc->bios_size);
    if (pc->rom_area)
        munmap(pc->rom_area, I440FX_ROM_AREA_SIZE);
    phys_mem_destroy(&pc->mem);
    if (stamps_close(pc->stamps) < 0)
        fprintf(stderr, "pcvm: -stamps %s: write failed; the stamps are incomplete\n", pc->cfg->stamps);
    pc->stamps = NULL;
}

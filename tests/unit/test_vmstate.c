/* The device model's saved state: for every device, put it in a busy state (seeded random
 * register traffic, time moving, timers firing), save, reset, load, and check that it saves
 * the same bytes again and answers the same probe sequence (register reads, its IRQ lines)
 * as it did right after the save. Then the encoding's refusals: truncated, unknown, newer,
 * out-of-range and duplicate state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpu/cpu_vmstate.h"
#include "hw/acpi_pm.h"
#include "hw/debugcon.h"
#include "hw/devmodel.h"
#include "hw/fw_cfg.h"
#include "hw/i440fx.h"
#include "hw/i8042.h"
#include "hw/ide.h"
#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "hw/pic.h"
#include "hw/piix3.h"
#include "hw/pit.h"
#include "hw/port92.h"
#include "hw/rtc.h"
#include "hw/uart.h"
#include "hw/vga.h"

struct board {
    struct io_bus io;
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns;
    struct pci_bus bus;
    int irq[16];
    struct pic pic;
    struct pit pit;
    struct rtc rtc;
    struct uart uart;
    struct i8042 kbc;
    struct port92 p92;
    struct debugcon dcon;
    struct vga vga;
    struct i440fx nb;
    struct piix3 sb;
    struct acpi_pm pm;
    struct irq_line sci;
    struct fw_cfg fw;
    struct ide_ctrl ide;
    struct block_dev *disk;
    char disk_path[64];
    uint8_t *rom_area;
};

static void on_irq(void *opaque, int n, int level) { ((struct board *)opaque)->irq[n & 15] = level; }
static void on_a20(void *opaque, bool en) { (void)opaque; (void)en; }
static void on_reset(void *opaque) { (void)opaque; }
static void on_pm_off(void *opaque) { (void)opaque; }
static void on_sb_reset(void *opaque, bool hard) { (void)opaque; (void)hard; }

static uint32_t next_rand(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

static struct board *board_new(void)
{
    struct board *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    io_bus_init(&b->io);
    assert_int_equal(phys_mem_init(&b->mem, 4u << 20, 4u << 20), 0);
    vclock_init(&b->clock, true, 0, &b->insns);
    pci_bus_init(&b->bus, &b->mem, &b->io, piix3_pci_set_irq, &b->sb);
    struct irq_line l[16];
    for (int i = 0; i < 16; i++)
        irq_connect(&l[i], on_irq, b, i);
    struct irq_line none = { 0 };
    pic_init(&b->pic, &b->io, none, NULL);
    pit_init(&b->pit, &b->io, &b->clock, l[0], NULL);
    rtc_init(&b->rtc, &b->io, &b->clock, l[8], 1700000000, NULL);
    uart_init(&b->uart, &b->io, 0x3f8, l[4], NULL, &b->clock, NULL);
    i8042_init(&b->kbc, &b->io, l[1], l[12], on_a20, on_reset, b, NULL);
    port92_init(&b->p92, &b->io, on_a20, on_reset, b);
    debugcon_init(&b->dcon, &b->io, 0xe9, NULL);
    b->rom_area = calloc(1, I440FX_ROM_AREA_SIZE);
    assert_int_equal(i440fx_init(&b->nb, &b->bus, &b->mem, b->rom_area, NULL, NULL), 0);
    assert_int_equal(piix3_init(&b->sb, &b->bus, &b->io, l, on_sb_reset, b), 0);
    irq_connect(&b->sci, on_irq, b, 9);
    assert_int_equal(acpi_pm_init(&b->pm, &b->bus, &b->io, &b->clock, &b->sci, on_pm_off, b), 0);
    assert_int_equal(vga_init(&b->vga, &b->io, &b->mem, &b->bus, 2 << 3, &b->clock, NULL), 0);
    fw_cfg_init(&b->fw, &b->io, &b->mem, true);
    fw_cfg_add_file(&b->fw, "etc/test", "0123456789abcdef", 16);
    strcpy(b->disk_path, "/tmp/test_vmstate_disk.XXXXXX");
    int fd = mkstemp(b->disk_path);
    assert_true(fd >= 0);
    uint8_t sector[512];
    for (int s = 0; s < 256; s++) {
        for (int i = 0; i < 512; i++)
            sector[i] = (uint8_t)(s * 7 + i);
        assert_int_equal(write(fd, sector, 512), 512);
    }
    close(fd);
    char err[256];
    b->disk = block_open(b->disk_path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(b->disk);
    struct block_dev *drives[4] = { b->disk, NULL, NULL, NULL };
    bool cdrom[4] = { false, false, true, false };
    assert_int_equal(ide_init(&b->ide, &b->bus, 1 << 3 | 1, &b->io, &b->mem, l[14], l[15], drives, cdrom, NULL), 0);
    return b;
}

static void board_free(struct board *b)
{
    ide_destroy(&b->ide);
    block_close(b->disk);
    unlink(b->disk_path);
    vga_destroy(&b->vga);
    fw_cfg_destroy(&b->fw);
    phys_mem_destroy(&b->mem);
    free(b->rom_area);
    free(b);
}

/* One device under test: its state, reset and the ports a probe exercises. */
struct dut {
    const char *name;
    void *opaque;
    const struct vmstate_desc *vmsd;
    void (*reset)(struct board *b);
    const uint16_t *ports;
    unsigned nports;
    int irq_a, irq_b;                 /* IRQ lines to record (-1: none) */
    const struct vmstate_desc *vmsd2; /* a second part saved with it (the PCI bus), or NULL */
    void *opaque2;
};

/* Ports a probe must not write: reset requests and the like. */
static bool port_writable(uint16_t port, uint32_t v)
{
    if (port == 0x64 && ((v & 0xff) == 0xfe || (v & 0xf0) == 0xf0))
        return false;
    if (port == 0x92 || port == 0xcf9)
        return false;
    return true;
}

/* A deterministic sequence of accesses; the transcript holds every read and the IRQ levels. */
static void probe(struct board *b, const struct dut *d, uint64_t seed, int steps, uint32_t *out)
{
    uint64_t st = seed;
    for (int i = 0; i < steps; i++) {
        uint32_t r = next_rand(&st), v = next_rand(&st);
        uint16_t port = d->ports[r % d->nports];
        unsigned size = port >= 0xcf8 && port <= 0xcff ? 4 : 1;
        uint32_t got = 0;
        switch ((r >> 12) % 4) {
        case 0:
            if (port_writable(port, v))
                io_write(&b->io, port, v, size);
            break;
        case 1:
        case 2:
            got = io_read(&b->io, port, size);
            break;
        default:
            b->insns += v % 50000;
            vclock_run_timers(&b->clock);
            break;
        }
        out[i] = got ^ (d->irq_a >= 0 ? (uint32_t)b->irq[d->irq_a] << 30 : 0) ^
                 (d->irq_b >= 0 ? (uint32_t)b->irq[d->irq_b] << 31 : 0);
    }
}

static void save(const struct vmstate_desc *vmsd, void *opaque, struct vmbuf *out)
{
    if (vmsd->pre_save)
        assert_int_equal(vmsd->pre_save(opaque), 0);
    vmstate_save(vmsd, opaque, out);
    assert_false(out->failed);
}

static void load(const struct vmstate_desc *vmsd, void *opaque, const struct vmbuf *in)
{
    char err[256] = "";
    struct vmreader r = { in->data, in->len };
    int rc = vmstate_load(vmsd, opaque, vmsd->version, &r, err, sizeof(err));
    if (rc < 0)
        fail_msg("load %s: %s", vmsd->name, err);
    assert_int_equal(r.left, 0);
}

/* Save, probe, reset, load, probe again: the same bytes and the same answers. */
static void round_trip(struct board *b, const struct dut *d)
{
    enum { STEPS = 400 };
    /* Warm up into a busy state. */
    uint32_t scratch[2000];
    probe(b, d, 7, 2000, scratch);
    struct vmbuf a = { 0 }, c = { 0 };
    uint64_t t0 = b->insns;
    int irq0[16];
    memcpy(irq0, b->irq, sizeof(irq0));
    struct vmbuf a2 = { 0 }, c2 = { 0 };
    save(d->vmsd, d->opaque, &a);
    if (d->vmsd2)
        save(d->vmsd2, d->opaque2, &a2);
    uint32_t before[STEPS], after[STEPS];
    probe(b, d, 99, STEPS, before);
    d->reset(b);
    b->insns = t0;
    memcpy(b->irq, irq0, sizeof(irq0));
    if (d->vmsd2) {
        load(d->vmsd2, d->opaque2, &a2);
        save(d->vmsd2, d->opaque2, &c2);
        assert_memory_equal(a2.data, c2.data, a2.len);
        vmbuf_free(&a2);
        vmbuf_free(&c2);
    }
    load(d->vmsd, d->opaque, &a);
    save(d->vmsd, d->opaque, &c);
    assert_int_equal(a.len, c.len);
    assert_memory_equal(a.data, c.data, a.len);
    probe(b, d, 99, STEPS, after);
    for (int i = 0; i < STEPS; i++)
        if (before[i] != after[i])
            fail_msg("%s: step %d answered 0x%x after loading, 0x%x before", d->name, i, after[i], before[i]);
    vmbuf_free(&a);
    vmbuf_free(&c);
}

static void reset_pic(struct board *b) { pic_reset(&b->pic); }
static void reset_pit(struct board *b) { pit_reset(&b->pit); }
static void reset_rtc(struct board *b) { rtc_reset(&b->rtc); memset(b->rtc.cmos, 0, 14); }
static void reset_uart(struct board *b) { uart_reset(&b->uart); }
static void reset_kbc(struct board *b) { i8042_reset(&b->kbc); }
static void reset_p92(struct board *b) { port92_reset(&b->p92); }
static void reset_dcon(struct board *b) { b->dcon.readback = 0; }
static void reset_vga(struct board *b) { vga_reset(&b->vga); memset(b->vga.vram, 0, VGA_VRAM_SIZE); }
static void reset_nb(struct board *b) { i440fx_reset(&b->nb); pci_bus_reset(&b->bus); }
static void reset_sb(struct board *b) { piix3_reset(&b->sb); pci_bus_reset(&b->bus); }
static void reset_pm(struct board *b) { acpi_pm_reset(&b->pm); }
static void reset_fw(struct board *b) { fw_cfg_reset(&b->fw); }

static void run_dut(const struct dut *tmpl, size_t opaque_offset)
{
    struct board *b = board_new();
    struct dut d = *tmpl;
    d.opaque = (uint8_t *)b + opaque_offset;
    round_trip(b, &d);
    board_free(b);
}

#define PORTS(...) (const uint16_t[]){ __VA_ARGS__ }, sizeof((const uint16_t[]){ __VA_ARGS__ }) / sizeof(uint16_t)

static void pic_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "pic", NULL, &pic_vmstate, reset_pic, PORTS(0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1), -1, -1, NULL, NULL },
            offsetof(struct board, pic));
}
static void pit_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "pit", NULL, &pit_vmstate, reset_pit, PORTS(0x40, 0x41, 0x42, 0x43, 0x61), 0, -1, NULL, NULL },
            offsetof(struct board, pit));
}
static void rtc_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "rtc", NULL, &rtc_vmstate, reset_rtc, PORTS(0x70, 0x71, 0x71), 8, -1, NULL, NULL },
            offsetof(struct board, rtc));
}
static void uart_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "uart", NULL, &uart_vmstate, reset_uart,
                           PORTS(0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff), 4, -1, NULL, NULL },
            offsetof(struct board, uart));
}
static void i8042_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "i8042", NULL, &i8042_vmstate, reset_kbc, PORTS(0x60, 0x64), 1, 12, NULL, NULL },
            offsetof(struct board, kbc));
}
static void port92_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "port92", NULL, &port92_vmstate, reset_p92, PORTS(0x92), -1, -1, NULL, NULL },
            offsetof(struct board, p92));
}
static void debugcon_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "debugcon", NULL, &debugcon_vmstate, reset_dcon, PORTS(0xe9), -1, -1, NULL, NULL },
            offsetof(struct board, dcon));
}
static void vga_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "vga", NULL, &vga_vmstate, reset_vga,
                           PORTS(0x3c0, 0x3c1, 0x3c2, 0x3c4, 0x3c5, 0x3c7, 0x3c8, 0x3c9, 0x3ce, 0x3cf, 0x3d4,
                                 0x3d5, 0x3da, 0x1ce, 0x1cf),
                           -1, -1, NULL, NULL },
            offsetof(struct board, vga));
}
static void fw_cfg_round_trip(void **s)
{
    (void)s;
    run_dut(&(struct dut){ "fw_cfg", NULL, &fw_cfg_vmstate, reset_fw, PORTS(0x510, 0x511), -1, -1, NULL, NULL },
            offsetof(struct board, fw));
}

/* PCI functions: configuration traffic through 0xCF8/0xCFC aimed at one function. */
static void pci_round_trip(const char *name, size_t off, const struct vmstate_desc *vmsd,
                           void (*reset)(struct board *), uint8_t devfn, int irq)
{
    struct board *b = board_new();
    struct dut d = { name, (uint8_t *)b + off, vmsd, reset, PORTS(0xcf8, 0xcfc), irq, -1, &pci_bus_vmstate, &b->bus };
    /* Aim the address latch at the function, then let the probe read/write its registers. */
    io_write(&b->io, 0xcf8, 0x80000000u | (uint32_t)devfn << 8 | 0x40, 4);
    round_trip(b, &d);
    board_free(b);
}
static void i440fx_round_trip(void **s) { (void)s; pci_round_trip("i440fx", offsetof(struct board, nb), &i440fx_vmstate, reset_nb, 0, -1); }
static void piix3_round_trip(void **s) { (void)s; pci_round_trip("piix3", offsetof(struct board, sb), &piix3_vmstate, reset_sb, 1 << 3, -1); }

static void acpi_pm_round_trip(void **s)
{
    (void)s;
    struct board *b = board_new();
    acpi_pm_set_base(&b->pm, 0xb000);
    struct dut d = { "acpi_pm", &b->pm, &acpi_pm_vmstate, reset_pm,
                     PORTS(0xb000, 0xb001, 0xb002, 0xb003, 0xb004, 0xb005, 0xb008, 0xb00c, 0xb00e, 0xb2, 0xb3), 9, -1, NULL, NULL };
    round_trip(b, &d);
    board_free(b);
}

/* IDE: stop in the middle of a PIO read of several sectors; the rest reads the same after a load. */
static void ide_round_trip(void **s)
{
    (void)s;
    struct board *b = board_new();
    io_write(&b->io, 0x1f6, 0xe0, 1);
    io_write(&b->io, 0x1f2, 4, 1);
    io_write(&b->io, 0x1f3, 3, 1);
    io_write(&b->io, 0x1f4, 0, 1);
    io_write(&b->io, 0x1f5, 0, 1);
    io_write(&b->io, 0x1f7, 0x20, 1); /* READ SECTORS: 4 from LBA 3 */
    for (int i = 0; i < 300; i++)
        (void)io_read(&b->io, 0x1f0, 2);
    struct vmbuf a = { 0 };
    save(&ide_vmstate, &b->ide, &a);
    uint32_t before[2048], after[2048];
    for (int i = 0; i < 2048; i++)
        before[i] = io_read(&b->io, i % 2 ? 0x1f0 : 0x1f7, i % 2 ? 2 : 1);
    ide_reset(&b->ide);
    load(&ide_vmstate, &b->ide, &a);
    for (int i = 0; i < 2048; i++)
        after[i] = io_read(&b->io, i % 2 ? 0x1f0 : 0x1f7, i % 2 ? 2 : 1);
    assert_memory_equal(before, after, sizeof(before));
    /* The data really is the disk's: 600 bytes were read, so sector 4 from byte 88 on. */
    assert_int_equal(before[1], (uint32_t)((uint8_t)(4 * 7 + 88) | (uint8_t)(4 * 7 + 89) << 8));
    vmbuf_free(&a);
    board_free(b);
}

/* Local APIC and I/O APIC through their register interfaces. */
static void apic_round_trip(void **s)
{
    (void)s;
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns = 0;
    assert_int_equal(phys_mem_init(&mem, 1 << 20, 1 << 20), 0);
    vclock_init(&clock, true, 0, &insns);
    struct apic_bus bus;
    apic_bus_init(&bus, &mem);
    struct cpu *cpu = calloc(1, sizeof(*cpu));
    struct lapic apic;
    struct ioapic io;
    assert_int_equal(lapic_init(&apic, &bus, cpu, &clock, 0, true, NULL, NULL), 0);
    ioapic_init(&io, &bus, &mem, IOAPIC_DEFAULT_BASE, 1);
    lapic_write(&apic, 0xf0, 0x1ff);          /* software enable */
    lapic_write(&apic, 0x3e0, 0x3);           /* divide by 16 */
    lapic_write(&apic, 0x320, 0x20030);       /* periodic timer, vector 0x30 */
    lapic_write(&apic, 0x380, 100000);
    ioapic_write_reg(&io, 0x10 + 2 * 4, 0x41);
    ioapic_set_irq(&io, 4, 1);
    insns += 123456;
    vclock_run_timers(&clock);
    struct vmbuf a = { 0 }, c = { 0 };
    save(&lapic_vmstate, &apic, &a);
    save(&ioapic_vmstate, &io, &c);
    uint32_t before[64], after[64];
    uint64_t t0 = insns;
    for (int i = 0; i < 64; i++) {
        insns += 5000;
        vclock_run_timers(&clock);
        before[i] = lapic_read(&apic, (uint32_t)(0x100 + 0x10 * (i % 40))) ^ lapic_timer_current(&apic) ^
                    ioapic_read_reg(&io, (uint8_t)(0x10 + i % 48));
    }
    lapic_reset(&apic);
    ioapic_reset(&io);
    insns = t0;
    load(&lapic_vmstate, &apic, &a);
    load(&ioapic_vmstate, &io, &c);
    for (int i = 0; i < 64; i++) {
        insns += 5000;
        vclock_run_timers(&clock);
        after[i] = lapic_read(&apic, (uint32_t)(0x100 + 0x10 * (i % 40))) ^ lapic_timer_current(&apic) ^
                   ioapic_read_reg(&io, (uint8_t)(0x10 + i % 48));
    }
    assert_memory_equal(before, after, sizeof(before));
    vmbuf_free(&a);
    vmbuf_free(&c);
    free(cpu);
    phys_mem_destroy(&mem);
}

/* A CPU in protected mode with pending lazy flags and x87 state runs on identically. */
static void cpu_round_trip(void **s)
{
    (void)s;
    struct phys_mem mem;
    struct io_bus io;
    assert_int_equal(phys_mem_init(&mem, 1 << 20, 1 << 20), 0);
    io_bus_init(&io);
    struct cpu *cpu = calloc(1, sizeof(*cpu));
    cpu_init(cpu, 0, cpu_model_find("pentium3"), &mem, &io, NULL, NULL, NULL);
    /* Real mode at 0:0x1000: add ax,bx; fld1; fadd st0; inc dx; loop; hlt */
    static const uint8_t code[] = { 0x01, 0xd8, 0xd9, 0xe8, 0xd8, 0xc0, 0x42, 0xe2, 0xf7, 0xf4 };
    memcpy(mem.ram + 0x1000, code, sizeof(code));
    cpu_load_seg(cpu, SEG_CS, 0);
    cpu->eip = 0x1000;
    cpu->regs[R_EAX] = 0xfff0;
    cpu->regs[R_EBX] = 0x11;
    cpu->regs[R_ECX] = 20;
    cpu_update_mode(cpu);
    cpu_run(cpu, 12);                  /* part-way through the loop, flags lazy */
    struct vmbuf a = { 0 }, c = { 0 };
    save(&cpu_vmstate, cpu, &a);
    cpu_run(cpu, 1000);
    struct cpu before = *cpu;
    uint32_t fl_before = cpu_get_eflags(cpu);
    cpu_reset(cpu);
    load(&cpu_vmstate, cpu, &a);
    save(&cpu_vmstate, cpu, &c);
    assert_memory_equal(a.data, c.data, a.len);
    cpu_run(cpu, 1000);
    assert_true(cpu->halted && before.halted);
    assert_memory_equal(cpu->regs, before.regs, sizeof(cpu->regs));
    assert_int_equal(cpu->eip, before.eip);
    assert_int_equal(cpu_get_eflags(cpu), fl_before);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(cpu->fpu.st[i].mant, before.fpu.st[i].mant);
        assert_int_equal(cpu->fpu.st[i].se, before.fpu.st[i].se);
    }
    assert_int_equal(cpu->fpu.top, before.fpu.top);
    assert_int_equal(cpu->insn_count, before.insn_count);
    vmbuf_free(&a);
    vmbuf_free(&c);
    cpu_exec_destroy(cpu);
    cpu_destroy(cpu);
    free(cpu);
    phys_mem_destroy(&mem);
}

/* ---- the encoding's refusals ---- */

struct toy {
    uint8_t a;
    bool b;
    uint32_t arr[3];
    int64_t t;
    uint16_t idx;
};
static const struct vmstate_field toy_fields[] = {
    VMF(struct toy, a), VMF(struct toy, b), VMF_ARRAY(struct toy, arr), VMF(struct toy, t),
    VMF_MAX(struct toy, idx, 9), VMF_END_OF_LIST,
};
static const struct vmstate_desc toy_vmstate = { .name = "toy", .version = 2, .min_version = 2, .fields = toy_fields };

static void assert_toy_equal(const struct toy *x, const struct toy *y)
{
    assert_int_equal(x->a, y->a);
    assert_int_equal(x->b, y->b);
    assert_memory_equal(x->arr, y->arr, sizeof(x->arr));
    assert_int_equal(x->t, y->t);
    assert_int_equal(x->idx, y->idx);
}

static void list_with_toys(struct device_list *l, struct toy *t1, struct toy *t2)
{
    memset(l, 0, sizeof(*l));
    assert_non_null(devlist_add(l, &(struct device){ .type = "toy", .id = "t1", .opaque = t1, .vmsd = &toy_vmstate }));
    assert_non_null(devlist_add(l, &(struct device){ .type = "toy", .id = "t2", .opaque = t2, .vmsd = &toy_vmstate }));
    assert_null(devlist_add(l, &(struct device){ .type = "toy", .id = "t2" })); /* ids are unique */
}

static void encoding_refusals(void **s)
{
    (void)s;
    struct toy t1 = { 1, true, { 2, 3, 4 }, -5, 6 }, t2 = { 9, false, { 8, 7, 6 }, 5, 4 };
    struct device_list l;
    list_with_toys(&l, &t1, &t2);
    struct vmbuf buf = { 0 };
    char err[256];
    assert_int_equal(devlist_save(&l, &buf, err, sizeof(err)), 0);
    struct toy s1 = t1, s2 = t2;
    memset(&t1, 0, sizeof(t1));
    memset(&t2, 0, sizeof(t2));
    assert_int_equal(devlist_load(&l, buf.data, buf.len, err, sizeof(err)), 0);
    assert_toy_equal(&t1, &s1);
    assert_toy_equal(&t2, &s2);

    /* Every truncation is refused, and leaves the devices untouched (checked before loading). */
    for (size_t cut = 0; cut < buf.len; cut++) {
        err[0] = 0;
        assert_int_equal(devlist_load(&l, buf.data, cut, err, sizeof(err)), -1);
        assert_true(err[0] != 0);
        assert_toy_equal(&t1, &s1);
    }
    uint8_t *bad = malloc(buf.len + 1);
    /* A newer version. */
    memcpy(bad, buf.data, buf.len);
    bad[1 + 2] = 3;
    assert_int_equal(devlist_load(&l, bad, buf.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "version 3 is not supported"));
    /* An unknown device. */
    memcpy(bad, buf.data, buf.len);
    bad[2] = 'x';
    assert_int_equal(devlist_load(&l, bad, buf.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lacks: 'tx'"));
    /* A boolean that is not 0/1; an index beyond its maximum. */
    size_t payload = 1 + 2 + 4 + 4;
    memcpy(bad, buf.data, buf.len);
    bad[payload + 1] = 2;
    assert_int_equal(devlist_load(&l, bad, buf.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a boolean"));
    memcpy(bad, buf.data, buf.len);
    bad[payload + 1 + 1 + 12 + 8] = 10;
    assert_int_equal(devlist_load(&l, bad, buf.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "out of range"));
    /* Trailing bytes. */
    memcpy(bad, buf.data, buf.len);
    bad[buf.len] = 0;
    assert_int_equal(devlist_load(&l, bad, buf.len + 1, err, sizeof(err)), -1);
    assert_toy_equal(&t1, &s1);
    assert_toy_equal(&t2, &s2);
    free(bad);
    vmbuf_free(&buf);
    devlist_destroy(&l);
}

static int n_resets;
static void count_reset(void *opaque) { (void)opaque; n_resets++; }
static void print_to_buf(void *ctx, const char *fmt, ...)
{
    char *out = ctx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + strlen(out), 4096 - strlen(out), fmt, ap);
    va_end(ap);
}

static void list_walks(void **s)
{
    (void)s;
    struct toy t1 = { 1, true, { 2, 3, 4 }, -5, 6 }, t2 = { 0 };
    struct device_list l;
    list_with_toys(&l, &t1, &t2);
    l.v[0].reset = count_reset;
    l.v[1].reset = count_reset;
    l.v[1].bus = "isa.0";
    n_resets = 0;
    devlist_reset(&l);
    assert_int_equal(n_resets, 2);
    assert_non_null(devlist_find(&l, "t2"));
    assert_null(devlist_find(&l, "t3"));
    char out[4096] = "";
    devlist_print_qtree(&l, print_to_buf, out);
    assert_non_null(strstr(out, "bus: sysbus\n  dev: toy, id \"t1\"\n    a = 0x01\n    b = true\n"));
    assert_non_null(strstr(out, "arr = 0x00000002 0x00000003 0x00000004\n    t = -5\n"));
    assert_non_null(strstr(out, "bus: isa.0\n  dev: toy, id \"t2\"\n"));
    devlist_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pic_round_trip),     cmocka_unit_test(pit_round_trip),
        cmocka_unit_test(rtc_round_trip),     cmocka_unit_test(uart_round_trip),
        cmocka_unit_test(i8042_round_trip),   cmocka_unit_test(port92_round_trip),
        cmocka_unit_test(debugcon_round_trip), cmocka_unit_test(vga_round_trip),
        cmocka_unit_test(fw_cfg_round_trip),  cmocka_unit_test(i440fx_round_trip),
        cmocka_unit_test(piix3_round_trip),   cmocka_unit_test(acpi_pm_round_trip),
        cmocka_unit_test(ide_round_trip),     cmocka_unit_test(apic_round_trip),
        cmocka_unit_test(cpu_round_trip),     cmocka_unit_test(encoding_refusals),
        cmocka_unit_test(list_walks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ACPI: the PIIX4 PM function (timer, SCI, S5, power button) and the tables, read back with
 * an independent minimal parser; the DSDT is decompiled with iasl when it is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/acpi_pm.h"
#include "hw/acpi_tables.h"

/* ---- PM device ---- */

struct pmfix {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct vclock clock;
    uint64_t insns;          /* icount: 1 instruction = 1 ns */
    struct acpi_pm pm;
    struct irq_line sci;
    int sci_level;
    int power_offs;
    int suspends;
    int suspend_disks;
};

static void on_sci(void *opaque, int n, int level)
{
    struct pmfix *f = opaque;
    (void)n;
    f->sci_level = level;
}

static void on_power_off(void *opaque)
{
    struct pmfix *f = opaque;
    f->power_offs++;
}

static void on_suspend(void *opaque)
{
    struct pmfix *f = opaque;
    f->suspends++;
}

static void on_suspend_disk(void *opaque)
{
    struct pmfix *f = opaque;
    f->suspend_disks++;
}

static int pm_setup(void **state)
{
    struct pmfix *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, 1 << 20, 1 << 20), 0);
    io_bus_init(&f->io);
    vclock_init(&f->clock, true, 0, &f->insns);
    pci_bus_init(&f->bus, &f->mem, &f->io, NULL, NULL);
    irq_connect(&f->sci, on_sci, f, 9);
    assert_int_equal(acpi_pm_init(&f->pm, &f->bus, &f->io, &f->clock, &f->sci, on_power_off, f), 0);
    *state = f;
    return 0;
}

static int pm_teardown(void **state)
{
    struct pmfix *f = *state;
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static void cfg_write(struct pmfix *f, unsigned off, uint32_t v, unsigned size)
{
    io_write(&f->io, 0xCF8, 0x80000000u | ACPI_PM_DEVFN << 8 | (off & 0xfc), 4);
    io_write(&f->io, (uint16_t)(0xCFC + (off & 3)), v, size);
}

static uint32_t cfg_read(struct pmfix *f, unsigned off, unsigned size)
{
    io_write(&f->io, 0xCF8, 0x80000000u | ACPI_PM_DEVFN << 8 | (off & 0xfc), 4);
    return io_read(&f->io, (uint16_t)(0xCFC + (off & 3)), size);
}

/* What SeaBIOS's PIIX4 PM setup does: PMBA = 0xB000 | 1, PMREGMISC = 1. */
static void enable_pm_io(struct pmfix *f)
{
    cfg_write(f, 0x40, 0xb001, 4);
    cfg_write(f, 0x80, 0x01, 1);
}

static void pm_identity_and_io_enable(void **state)
{
    struct pmfix *f = *state;
    assert_int_equal(cfg_read(f, 0, 4), 0x71138086);
    assert_int_equal(cfg_read(f, 0x0a, 2), 0x0680);
    assert_int_equal(cfg_read(f, 0x3d, 1), 1);
    assert_int_equal(cfg_read(f, 0x5b, 1) & 0x02, 0x02);  /* SMM setup skipped by SeaBIOS */
    assert_int_equal(io_read(&f->io, 0xb008, 4), 0xffffffffu); /* not decoded yet */
    enable_pm_io(f);
    assert_int_equal(cfg_read(f, 0x40, 4), 0xb001);
    assert_int_not_equal(io_read(&f->io, 0xb004, 2), 0xffff);
    /* Moving the block. */
    cfg_write(f, 0x40, 0x6001, 4);
    assert_int_equal(io_read(&f->io, 0xb004, 2), 0xffff);
    assert_int_equal(io_read(&f->io, 0x6004, 2), 0);
}

static void pm_timer_frequency_and_overflow(void **state)
{
    struct pmfix *f = *state;
    enable_pm_io(f);
    f->insns = 1000000000;   /* 1 s */
    assert_int_equal(io_read(&f->io, 0xb008, 4), 3579545);
    f->insns = 2000000000;
    assert_int_equal(io_read(&f->io, 0xb008, 4), 7159090);
    /* 24 bits: after 2^24 ticks (~4.687 s) it wraps. */
    f->insns = 5000000000ull;  /* 17897725 ticks */
    assert_int_equal(io_read(&f->io, 0xb008, 4), 17897725 - (1 << 24));
    assert_int_equal(io_read(&f->io, 0xb008, 4) >> 24, 0);

    /* TMR_STS: bit 23 toggled since the start, so it is set; clearing is write-1. */
    assert_true(io_read(&f->io, 0xb000, 2) & ACPI_PM1_TMR);
    io_write(&f->io, 0xb000, ACPI_PM1_TMR, 2);
    assert_false(io_read(&f->io, 0xb000, 2) & ACPI_PM1_TMR);
    /* With TMR_EN, the next bit-23 toggle raises the SCI at the right time. */
    io_write(&f->io, 0xb002, ACPI_PM1_TMR, 2);
    assert_int_equal(f->sci_level, 0);
    int64_t deadline = vclock_next_deadline(&f->clock);
    /* Next multiple of 2^23 ticks after 17897725 is 3 * 2^23 = 25165824 ticks = 7.0305 s. */
    assert_true(deadline >= 7030000000ll && deadline <= 7031000000ll);
    f->insns = (uint64_t)deadline - 1;
    vclock_run_timers(&f->clock);
    assert_int_equal(f->sci_level, 0);
    f->insns = (uint64_t)deadline;
    vclock_run_timers(&f->clock);
    assert_int_equal(f->sci_level, 1);
    assert_int_equal(io_read(&f->io, 0xb008, 4) & 0x800000, 0x800000);
    io_write(&f->io, 0xb000, ACPI_PM1_TMR, 2);
    assert_int_equal(f->sci_level, 0);
    assert_true(vtimer_pending(&f->pm.tmr_timer));
    io_write(&f->io, 0xb002, 0, 2);
    assert_false(vtimer_pending(&f->pm.tmr_timer));
}

static void pm_s5_power_off_and_power_button(void **state)
{
    struct pmfix *f = *state;
    enable_pm_io(f);
    /* ACPI enable through the SMI command port sets SCI_EN. */
    io_write(&f->io, 0xb2, 0xf1, 1);
    assert_int_equal(io_read(&f->io, 0xb004, 2) & 1, 1);
    /* Power button: status always, SCI only when enabled. */
    acpi_pm_power_button(&f->pm);
    assert_true(io_read(&f->io, 0xb000, 2) & ACPI_PM1_PWRBTN);
    assert_int_equal(f->sci_level, 0);
    io_write(&f->io, 0xb002, ACPI_PM1_PWRBTN, 2);
    assert_int_equal(f->sci_level, 1);
    io_write(&f->io, 0xb000, ACPI_PM1_PWRBTN, 2);
    assert_int_equal(f->sci_level, 0);
    /* GPE0 also drives the SCI. */
    io_write(&f->io, 0xb00e, 0x0002, 2);
    acpi_pm_raise_gpe(&f->pm, 1);
    assert_int_equal(f->sci_level, 1);
    io_write(&f->io, 0xb00c, 0x0002, 2);
    assert_int_equal(f->sci_level, 0);
    /* SLP_TYP 1 with SLP_EN: not S5, nothing happens; SLP_TYP 0 (\_S5) powers off. */
    io_write(&f->io, 0xb004, 1u << 10 | ACPI_PM1_CNT_SLP_EN | 1, 2);
    assert_int_equal(f->power_offs, 0);
    assert_int_equal(io_read(&f->io, 0xb004, 2) & ACPI_PM1_CNT_SLP_EN, 0);  /* write-only */
    io_write(&f->io, 0xb004, ACPI_PM1_CNT_SLP_EN | 1, 2);
    assert_int_equal(f->power_offs, 1);
    /* Byte writes, as some guests do: high byte 0x20 = SLP_EN, SLP_TYP 0. */
    io_write(&f->io, 0xb005, 0x20, 1);
    assert_int_equal(f->power_offs, 2);
    /* With the board's S3 callback, SLP_TYP 1 (\_S3) suspends; SLP_TYP 5 still does nothing. */
    acpi_pm_set_suspend(&f->pm, on_suspend);
    io_write(&f->io, 0xb004, 5u << 10 | ACPI_PM1_CNT_SLP_EN | 1, 2);
    assert_int_equal(f->suspends, 0);
    io_write(&f->io, 0xb004, 1u << 10 | ACPI_PM1_CNT_SLP_EN | 1, 2);
    assert_int_equal(f->suspends, 1);
    assert_int_equal(f->power_offs, 2);
    /* SLP_TYP 2 (\_S4): a power-off without the board's S4 hook, the hook with it. */
    io_write(&f->io, 0xb004, 2u << 10 | ACPI_PM1_CNT_SLP_EN | 1, 2);
    assert_int_equal(f->power_offs, 3);
    acpi_pm_set_suspend_disk(&f->pm, on_suspend_disk);
    io_write(&f->io, 0xb004, 2u << 10 | ACPI_PM1_CNT_SLP_EN | 1, 2);
    assert_int_equal(f->suspend_disks, 1);
    assert_int_equal(f->power_offs, 3);
    assert_int_equal(f->suspends, 1);
    /* The wake-up: RTC_EN tells whether the alarm may wake; WAK_STS and RTC_STS are set. */
    assert_false(acpi_pm_rtc_wake_enabled(&f->pm));
    io_write(&f->io, 0xb002, ACPI_PM1_RTC, 2);
    assert_true(acpi_pm_rtc_wake_enabled(&f->pm));
    io_write(&f->io, 0xb000, 0xffff, 2);
    acpi_pm_woken(&f->pm, ACPI_PM1_RTC);
    assert_int_equal(io_read(&f->io, 0xb000, 2) & (ACPI_PM1_WAK | ACPI_PM1_RTC | ACPI_PM1_PWRBTN),
                     ACPI_PM1_WAK | ACPI_PM1_RTC);
    assert_int_equal(f->sci_level, 1);   /* RTC_STS with RTC_EN */
}

/* ---- Tables, read back independently ---- */

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static bool sum_ok(const uint8_t *p, uint32_t len)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

/* Guest memory image for the parser: a flat 1 MiB + the high table area. */
struct image {
    uint8_t *low;    /* 0 .. 1 MiB */
};

static const uint8_t *at(struct phys_mem *m, uint32_t addr)
{
    return phys_direct(m, addr, false);
}

/* Check a table header at addr: signature, checksum; returns its length. */
static uint32_t check_table(struct phys_mem *m, uint32_t addr, const char *sig)
{
    const uint8_t *t = at(m, addr);
    assert_non_null(t);
    assert_memory_equal(t, sig, 4);
    uint32_t len = rd32(t + 4);
    assert_true(len >= 36 && len < 65536);
    assert_true(sum_ok(t, len));
    return len;
}

static char *iasl_decompile(const uint8_t *dsdt, uint32_t len)
{
    if (system("command -v iasl >/dev/null 2>&1") != 0)
        return NULL;
    char dir[] = "/tmp/pcvm-acpi-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(dsdt, 1, len, fp), len);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.aml > iasl.log 2>&1", dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof(cmd), "cat %s/iasl.log", dir);
        if (system(cmd) != 0)
            print_message("could not show the iasl log\n");
    }
    assert_int_equal(rc, 0);
    snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, fp);
    fclose(fp);
    text[n] = 0;
    /* Recompiling the decompiled source must also succeed without errors. */
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -p re dsdt.dsl > iasl2.log 2>&1", dir);
    rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof(cmd), "cat %s/iasl2.log", dir);
        if (system(cmd) != 0)
            print_message("could not show the iasl log\n");
    }
    assert_int_equal(rc, 0);
    /* Run the link methods in ACPICA's own interpreter when acpiexec is there: the simulated
     * PCI config space starts at zero (IRQ 0, enabled), _DIS sets the disable bit. */
    if (system("command -v acpiexec >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof(cmd),
                 "cd %s && timeout 60 acpiexec -b 'evaluate \\_SB.LNKA._STA; evaluate \\_SB.LNKB._CRS;"
                 " execute \\_SB.LNKC._DIS; evaluate \\_SB.LNKC._STA; evaluate \\_S5' dsdt.aml"
                 " > exec.log 2>&1", dir);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof(path), "%s/exec.log", dir);
        fp = fopen(path, "rb");
        assert_non_null(fp);
        char *log = calloc(1, 1 << 16);
        n = fread(log, 1, (1 << 16) - 1, fp);
        fclose(fp);
        log[n] = 0;
        const char *sta = strstr(log, "Evaluation of \\_SB.LNKA._STA");
        assert_non_null(sta);
        assert_non_null(strstr(sta, "[Integer] = 000000000000000B"));
        assert_non_null(strstr(log, "89 06 00 09 01 00 00 00 00 79 00"));
        const char *sta2 = strstr(log, "Evaluation of \\_SB.LNKC._STA");
        assert_non_null(sta2);
        assert_non_null(strstr(sta2, "[Integer] = 0000000000000009"));
        assert_non_null(strstr(log, "[Package] Contains 4 Elements"));
        assert_null(strstr(log, "AE_"));
        free(log);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", dir);
    return text;
}

static void verify_tables_in_memory(struct phys_mem *m, uint32_t rsdp_addr, unsigned cpus)
{
    const uint8_t *rsdp = at(m, rsdp_addr);
    assert_memory_equal(rsdp, "RSD PTR ", 8);
    assert_true(sum_ok(rsdp, 20));
    assert_int_equal(rsdp[15], 0);   /* revision 0: RSDT only */
    uint32_t rsdt = rd32(rsdp + 16);
    uint32_t rlen = check_table(m, rsdt, "RSDT");
    assert_int_equal((rlen - 36) % 4, 0);
    uint32_t fadt = 0, madt = 0;
    for (uint32_t i = 36; i < rlen; i += 4) {
        uint32_t a = rd32(at(m, rsdt) + i);
        const uint8_t *t = at(m, a);
        if (!memcmp(t, "FACP", 4)) fadt = a;
        if (!memcmp(t, "APIC", 4)) madt = a;
    }
    assert_int_not_equal(fadt, 0);
    assert_int_not_equal(madt, 0);

    /* FADT fields (ACPI 3.0 layout). */
    assert_int_equal(check_table(m, fadt, "FACP"), 244);
    const uint8_t *f = at(m, fadt);
    assert_int_equal(f[8], 3);
    uint32_t facs = rd32(f + 36), dsdt = rd32(f + 40);
    assert_int_equal(facs % 64, 0);
    const uint8_t *fc = at(m, facs);
    assert_memory_equal(fc, "FACS", 4);
    assert_int_equal(rd32(fc + 4), 64);
    assert_int_equal(rd16(f + 46), 9);         /* SCI_INT */
    assert_int_equal(rd32(f + 56), 0x600);     /* PM1a_EVT_BLK */
    assert_int_equal(rd32(f + 64), 0x604);     /* PM1a_CNT_BLK */
    assert_int_equal(rd32(f + 76), 0x608);     /* PM_TMR_BLK */
    assert_int_equal(f[88], 4);                /* PM1_EVT_LEN */
    assert_int_equal(f[89], 2);                /* PM1_CNT_LEN */
    assert_int_equal(f[91], 4);                /* PM_TMR_LEN */
    assert_true(rd32(f + 112) & (1u << 10));   /* RESET_REG_SUP */
    assert_int_equal(f[116], 1);               /* reset register in I/O space */
    assert_int_equal(rd32(f + 120), 0xcf9);
    assert_int_equal(f[128], 6);               /* RESET_VALUE */
    assert_int_equal(rd32(f + 148 + 4), 0x600);  /* X_PM1a_EVT_BLK agrees */

    /* MADT: one enabled LAPIC per CPU, the IOAPIC, IRQ0 -> GSI2, SCI level/high. */
    uint32_t mlen = check_table(m, madt, "APIC");
    const uint8_t *ma = at(m, madt);
    assert_int_equal(rd32(ma + 36), 0xfee00000);
    unsigned lapics = 0, ioapics = 0;
    bool irq0 = false, sci = false;
    for (uint32_t o = 44; o < mlen;) {
        const uint8_t *e = ma + o;
        assert_true(e[1] >= 2 && o + e[1] <= mlen);
        if (e[0] == 0) {
            assert_int_equal(e[1], 8);
            assert_int_equal(e[3], lapics);    /* APIC IDs 0..n-1 */
            assert_int_equal(rd32(e + 4) & 1, 1);
            lapics++;
        } else if (e[0] == 1) {
            assert_int_equal(e[1], 12);
            assert_int_equal(rd32(e + 4), 0xfec00000);
            assert_int_equal(rd32(e + 8), 0);
            ioapics++;
        } else if (e[0] == 2) {
            assert_int_equal(e[1], 10);
            if (e[3] == 0 && rd32(e + 4) == 2)
                irq0 = true;
            if (e[3] == 9 && rd32(e + 4) == 9 && rd16(e + 8) == 0x000d)
                sci = true;
        }
        o += e[1];
    }
    assert_int_equal(lapics, cpus);
    assert_int_equal(ioapics, 1);
    assert_true(irq0);
    assert_true(sci);

    /* DSDT: header ok, and the AML for \_S5 = Package(4){0,0,0,0} is there. */
    uint32_t dlen = check_table(m, dsdt, "DSDT");
    const uint8_t *d = at(m, dsdt);
    static const uint8_t s5[] = { 0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0 };
    bool found = false;
    for (uint32_t i = 36; i + sizeof(s5) <= dlen; i++)
        found |= memcmp(d + i, s5, sizeof(s5)) == 0;
    assert_true(found);
    /* ...and \_S3 = Package(4){1,1,0,0}: suspend to RAM with QEMU's SLP_TYP 1. */
    static const uint8_t s3[] = { 0x08, 0x5c, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 1, 1, 0, 0 };
    found = false;
    for (uint32_t i = 36; i + sizeof(s3) <= dlen; i++)
        found |= memcmp(d + i, s3, sizeof(s3)) == 0;
    assert_true(found);
    /* ...and \_S4 = Package(4){2,2,0,0}: hibernation with QEMU's s4_val 2. */
    static const uint8_t s4[] = { 0x08, 0x5c, '_', 'S', '4', '_', 0x12, 0x08, 0x04, 0x0a, 2, 0x0a, 2, 0, 0 };
    found = false;
    for (uint32_t i = 36; i + sizeof(s4) <= dlen; i++)
        found |= memcmp(d + i, s4, sizeof(s4)) == 0;
    assert_true(found);
    char *text = iasl_decompile(d, dlen);
    if (text) {
        assert_non_null(strstr(text, "PNP0A03"));
        assert_non_null(strstr(text, "PNP0C0C"));
        assert_non_null(strstr(text, "PNP0501"));
        assert_non_null(strstr(text, "_S5_"));
        assert_non_null(strstr(text, "_PRT"));
        assert_non_null(strstr(text, "0x0003FFFF"));
        assert_non_null(strstr(text, "PNP0C0F"));
        assert_non_null(strstr(text, "PCI_Config"));
        free(text);
    } else {
        print_message("iasl not installed: DSDT not decompiled\n");
    }
}

/* The romfile-loader script as SeaBIOS would run it, written independently: checksums are
 * zeroed and recomputed rather than adjusted. */
static void run_loader_like_firmware(const uint8_t *loader, uint32_t llen, uint8_t *tables, uint32_t tlen,
                                     uint32_t taddr, uint8_t *rsdp, uint32_t raddr)
{
    int allocated = 0;
    assert_int_equal(llen % 128, 0);
    for (uint32_t p = 0; p < llen; p += 128) {
        const uint8_t *e = loader + p;
        uint32_t cmd = rd32(e);
        if (cmd == 1) {
            const char *file = (const char *)e + 4;
            uint32_t align = rd32(e + 60);
            uint8_t zone = e[64];
            if (!strcmp(file, "etc/acpi/rsdp")) {
                assert_int_equal(zone, 2);    /* FSEG */
                assert_int_equal(raddr % align, 0);
            } else {
                assert_string_equal(file, "etc/acpi/tables");
                assert_int_equal(zone, 1);    /* HIGH */
                assert_int_equal(align, 64);
            }
            allocated++;
        } else if (cmd == 2) {
            const char *dst = (const char *)e + 4, *src = (const char *)e + 60;
            uint32_t off = rd32(e + 116);
            assert_int_equal(e[120], 4);
            assert_string_equal(src, "etc/acpi/tables");
            uint8_t *d = !strcmp(dst, "etc/acpi/rsdp") ? rsdp : tables;
            assert_true(off + 4 <= (d == rsdp ? 20u : tlen));
            uint32_t v = rd32(d + off) + taddr;
            memcpy(d + off, &v, 4);
        } else if (cmd == 3) {
            const char *file = (const char *)e + 4;
            uint32_t off = rd32(e + 60), start = rd32(e + 64), len = rd32(e + 68);
            uint8_t *d = !strcmp(file, "etc/acpi/rsdp") ? rsdp : tables;
            d[off] = 0;
            uint8_t s = 0;
            for (uint32_t i = 0; i < len; i++)
                s = (uint8_t)(s + d[start + i]);
            d[off] = (uint8_t)-s;
        } else {
            fail_msg("unknown loader command %u", cmd);
        }
    }
    assert_int_equal(allocated, 2);
}

static void tables_through_fw_cfg_loader(void **state)
{
    (void)state;
    struct phys_mem mem;
    assert_int_equal(phys_mem_init(&mem, 64 << 20, 64 << 20), 0);
    struct io_bus io;
    io_bus_init(&io);
    struct fw_cfg fw;
    fw_cfg_init(&fw, &io, &mem, true);
    struct acpi_config cfg;
    acpi_config_pc_defaults(&cfg, 4, 64 << 20);
    assert_int_equal(acpi_add_to_fw_cfg(&fw, &cfg), 0);
    const struct fw_cfg_item *t = fw_cfg_find_file(&fw, "etc/acpi/tables");
    const struct fw_cfg_item *r = fw_cfg_find_file(&fw, "etc/acpi/rsdp");
    const struct fw_cfg_item *l = fw_cfg_find_file(&fw, "etc/table-loader");
    assert_non_null(t);
    assert_non_null(r);
    assert_non_null(l);
    assert_int_equal(r->len, 20);
    uint8_t *tables = malloc(t->len), rsdp[20];
    memcpy(tables, t->data, t->len);
    memcpy(rsdp, r->data, 20);
    uint32_t taddr = 0x3ff0000, raddr = 0xf5a30;
    run_loader_like_firmware(l->data, l->len, tables, t->len, taddr, rsdp, raddr);
    phys_write_block(&mem, taddr, tables, t->len);
    phys_write_block(&mem, raddr, rsdp, 20);
    verify_tables_in_memory(&mem, raddr, 4);
    free(tables);
    fw_cfg_destroy(&fw);
    phys_mem_destroy(&mem);
}

static void tables_written_directly(void **state)
{
    (void)state;
    struct phys_mem mem;
    assert_int_equal(phys_mem_init(&mem, 32 << 20, 32 << 20), 0);
    struct acpi_config cfg;
    acpi_config_pc_defaults(&cfg, 2, 32 << 20);
    uint32_t used = acpi_write_tables(&mem, &cfg, 0x1ff0000, 0xf0000);
    assert_true(used > 300);
    verify_tables_in_memory(&mem, 0xf0000, 2);
    phys_mem_destroy(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pm_identity_and_io_enable, pm_setup, pm_teardown),
        cmocka_unit_test_setup_teardown(pm_timer_frequency_and_overflow, pm_setup, pm_teardown),
        cmocka_unit_test_setup_teardown(pm_s5_power_off_and_power_button, pm_setup, pm_teardown),
        cmocka_unit_test(tables_through_fw_cfg_loader),
        cmocka_unit_test(tables_written_directly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

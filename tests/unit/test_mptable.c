/* MP specification tables for direct boot, parsed back independently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/mptable.h"

static bool sum_ok(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void tables_parse_back(void **state)
{
    (void)state;
    struct phys_mem mem;
    assert_int_equal(phys_mem_init(&mem, 1 << 20, 1 << 20), 0);
    struct mptable_config cfg = { .cpus = 2, .lapic_addr = 0xfee00000, .ioapic_addr = 0xfec00000,
                                  .ioapic_id = 2, .pirq_irq = { 10, 10, 11, 11 },
                                  .pci_slots = 1u << 1 | 1u << 3 };
    uint32_t n = mptable_write(&mem, &cfg, 0x9fc00);
    assert_int_equal(n, mptable_size(&cfg));
    /* Find the floating pointer the way an OS does: 16-byte steps, signature + checksum. */
    const uint8_t *fp = NULL;
    for (uint32_t a = 0x9fc00; a < 0xa0000; a += 16) {
        const uint8_t *p = phys_direct(&mem, a, false);
        if (!memcmp(p, "_MP_", 4) && sum_ok(p, 16)) {
            fp = p;
            break;
        }
    }
    assert_non_null(fp);
    assert_int_equal(fp[8], 1);
    assert_int_equal(fp[9], 4);
    assert_int_equal(fp[11], 0);            /* a configuration table follows, not a default */
    const uint8_t *ct = phys_direct(&mem, rd32(fp + 4), false);
    assert_memory_equal(ct, "PCMP", 4);
    uint16_t len = rd16(ct + 4);
    assert_true(sum_ok(ct, len));
    assert_int_equal(rd32(ct + 36), 0xfee00000);
    unsigned count = rd16(ct + 34), procs = 0, buses = 0, ioapics = 0, isa = 0, pci = 0, lints = 0;
    bool irq0_pin2 = false, slot3_intb = false;
    const uint8_t *p = ct + 44;
    for (unsigned i = 0; i < count; i++) {
        switch (p[0]) {
        case 0:
            assert_int_equal(p[1], procs);
            assert_int_equal(p[3] & 1, 1);
            assert_int_equal((p[3] >> 1) & 1, procs == 0);
            procs++;
            p += 20;
            continue;
        case 1:
            assert_true(!memcmp(p + 2, "PCI   ", 6) || !memcmp(p + 2, "ISA   ", 6));
            buses++;
            break;
        case 2:
            assert_int_equal(p[1], 2);
            assert_int_equal(rd32(p + 4), 0xfec00000);
            ioapics++;
            break;
        case 3:
            assert_int_equal(p[6], 2);
            if (p[4] == 1) {
                isa++;
                if (p[5] == 0 && p[7] == 2)
                    irq0_pin2 = true;
            } else {
                pci++;
                /* slot 3 INTB -> PIRQ (3 + 1 - 1) & 3 = D -> IRQ 11 */
                if (p[5] == (3 << 2 | 1) && p[7] == 11)
                    slot3_intb = true;
            }
            break;
        case 4:
            lints++;
            break;
        default:
            fail_msg("bad entry type %u", p[0]);
        }
        p += 8;
    }
    assert_int_equal(p - ct, len);
    assert_int_equal(procs, 2);
    assert_int_equal(buses, 2);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isa, 15);
    assert_int_equal(pci, 8);
    assert_int_equal(lints, 2);
    assert_true(irq0_pin2);
    assert_true(slot3_intb);
    assert_int_equal(mptable_write(&mem, &cfg, 0x9fc04), 0);   /* misaligned */
    phys_mem_destroy(&mem);
}

static void zero_fields_take_pc_defaults(void **state)
{
    (void)state;
    struct phys_mem mem;
    assert_int_equal(phys_mem_init(&mem, 1 << 20, 1 << 20), 0);
    struct mptable_config only_cpus = { .cpus = 1 }, def;
    mptable_config_pc_defaults(&def, 1);
    assert_int_equal(def.ioapic_id, 1);
    uint32_t n = mptable_write(&mem, &only_cpus, 0xf0100);
    assert_int_equal(n, mptable_size(&def));
    const uint8_t *ct = phys_direct(&mem, 0xf0110, false);
    assert_int_equal(rd32(ct + 36), 0xfee00000);
    const uint8_t *p = ct + 44 + 20 + 16;          /* after the CPU and the two buses */
    assert_int_equal(p[0], 2);
    assert_int_equal(rd32(p + 4), 0xfec00000);
    phys_mem_destroy(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_parse_back),
        cmocka_unit_test(zero_fields_take_pc_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

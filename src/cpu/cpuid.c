/* CPUID: the leaves a model answers, filled from its struct cpu_model. */
#include <string.h>

#include "cpu/sysint.h"

static uint32_t str4(const char *s)
{
    uint32_t v = 0;
    memcpy(&v, s, 4);
    return v;
}

static void basic_leaf(struct cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    const struct cpu_model *m = cpu->model;
    memset(out, 0, 4 * sizeof(uint32_t));
    switch (leaf) {
    case 0:
        out[0] = m->max_leaf;
        out[1] = str4(m->vendor);
        out[3] = str4(m->vendor + 4);
        out[2] = str4(m->vendor + 8);
        break;
    case 1: {
        uint32_t fam = m->family > 15 ? 15 : m->family;
        uint32_t ext_fam = m->family > 15 ? m->family - 15 : 0;
        out[0] = (m->stepping & 15) | ((m->model & 15) << 4) | (fam << 8) |
                 ((m->model >> 4) << 16) | (ext_fam << 20);
        /* EBX: initial APIC ID, logical count 1, CLFLUSH line 8 qwords when supported. */
        out[1] = ((uint32_t)cpu->index << 24) | (1u << 16) |
                 ((m->features_edx & CPUID_CLFSH) ? (8u << 8) : 0);
        out[2] = m->features_ecx;
        out[3] = m->features_edx;
        break;
    }
    case 2:
        memcpy(out, m->cache_leaf2, 4 * sizeof(uint32_t));
        break;
    case 6:
        out[0] = m->leaf6_eax;
        break;
    case 7:
        if (subleaf == 0) {
            out[1] = m->leaf7_ebx;
            out[2] = m->leaf7_ecx;
            out[3] = m->leaf7_edx;
        }
        break;
    case 0xd:
        if (subleaf == 1)
            out[0] = m->xsave1_eax;
        break;
    default:
        break; /* leaf 3 (serial number) and leaf 4 (no deterministic cache data): zeros */
    }
}

void cpu_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    const struct cpu_model *m = cpu->model;
    if (leaf >= 0x80000000u) {
        memset(out, 0, 4 * sizeof(uint32_t));
        if (m->max_ext_leaf < 0x80000000u || leaf > m->max_ext_leaf) {
            /* Intel answers unknown leaves with the highest basic leaf. */
            if (strcmp(m->vendor, "AuthenticAMD"))
                basic_leaf(cpu, m->max_leaf, subleaf, out);
            return;
        }
        switch (leaf) {
        case 0x80000000u:
            out[0] = m->max_ext_leaf;
            if (!strcmp(m->vendor, "AuthenticAMD")) {
                out[1] = str4(m->vendor);
                out[3] = str4(m->vendor + 4);
                out[2] = str4(m->vendor + 8);
            }
            break;
        case 0x80000001u:
            if (!strcmp(m->vendor, "AuthenticAMD")) {
                out[0] = (m->stepping & 15) | ((m->model & 15) << 4) |
                         ((m->family > 15 ? 15 : m->family) << 8);
            }
            out[2] = m->ext_ecx;
            out[3] = m->ext_edx;
            break;
        case 0x80000002u:
        case 0x80000003u:
        case 0x80000004u: {
            char brand[48];
            memset(brand, 0, sizeof(brand));
            memcpy(brand, m->brand, strnlen(m->brand, sizeof(brand)));
            memcpy(out, brand + (leaf - 0x80000002u) * 16, 16);
            break;
        }
        case 0x80000005u:
            memcpy(out, m->amd_l1, 4 * sizeof(uint32_t));
            break;
        case 0x80000006u:
            memcpy(out, m->amd_l2, 4 * sizeof(uint32_t));
            break;
        case 0x80000008u:
            /* Physical address bits (32 unless phys-bits= says more), 32 linear bits. */
            out[0] = 0x2000 | (m->phys_bits ? m->phys_bits : 32);
            break;
        default:
            break;
        }
        return;
    }
    basic_leaf(cpu, leaf > m->max_leaf ? m->max_leaf : leaf, subleaf, out);
}

/* CPUID: the leaves a model answers, filled from its struct cpu_model. */
#include <string.h>

#include "cpu/sysint.h"
#include "cpu/kvm_para.h"

static uint32_t str4(const char *s)
{
    uint32_t v = 0;
    memcpy(&v, s, 4);
    return v;
}

/* Bits that hold 0..count-1: the width of one level in the APIC ID. */
static unsigned topo_width(unsigned count)
{
    unsigned w = 0;
    while (count > 1 && (1u << w) < count)
        w++;
    return w;
}

static unsigned core_offset(const struct cpu_topo *t) { return topo_width(t->threads); }
static unsigned die_offset(const struct cpu_topo *t) { return core_offset(t) + topo_width(t->cores); }
static unsigned pkg_offset(const struct cpu_topo *t) { return die_offset(t) + topo_width(t->dies); }

uint32_t cpu_topo_apic_id(const struct cpu_topo *t, unsigned index)
{
    unsigned threads = t->threads ? t->threads : 1, cores = t->cores ? t->cores : 1;
    unsigned dies = t->dies ? t->dies : 1;
    unsigned thread = index % threads, core = index / threads % cores;
    unsigned die = index / threads / cores % dies, socket = index / threads / cores / dies;
    return (socket << pkg_offset(t)) | (die << die_offset(t)) | (core << core_offset(t)) | thread;
}

/* One cache of CPUID leaf 4 (QEMU's legacy cache geometry, which its Intel models report).
 * type: 1 data, 2 instruction, 3 unified. */
struct cache4 {
    uint8_t type, level, ways;
    uint16_t sets;
    uint8_t edx;          /* bit 0 no-INVD-sharing, 1 inclusive, 2 complex indexing */
};

static void leaf4(const struct cpu_topo *t, uint32_t subleaf, uint32_t out[4])
{
    static const struct cache4 caches[4] = {
        { 1, 1, 8, 64, 1 }, { 2, 1, 8, 64, 1 }, { 3, 2, 16, 4096, 1 }, { 3, 3, 16, 16384, 6 },
    };
    if (subleaf > 3)
        return;
    const struct cache4 *c = &caches[subleaf];
    /* Logical processors sharing it: one (L1), a core's threads (L2), a die (L3). */
    uint32_t sharing = subleaf < 2 ? 1 : subleaf == 2 ? t->threads : 1u << die_offset(t);
    out[0] = c->type | (uint32_t)c->level << 5 | 1u << 8 /* self-initialising */ |
             (t->cores - 1) << 26 | (sharing - 1) << 14;
    out[1] = 63 /* 64-byte lines */ | (uint32_t)(c->ways - 1) << 22;
    out[2] = c->sets - 1u;
    out[3] = c->edx;
}

/* Extended topology (0xB; 0x1F adds the die level): one level per subleaf, SMT first. */
static void topology_leaf(const struct cpu_topo *t, bool with_dies, uint32_t subleaf, uint32_t out[4])
{
    out[2] = subleaf & 0xff;
    out[3] = t->apic_id;
    if (subleaf == 0) {
        out[0] = core_offset(t);
        out[1] = t->threads;
        out[2] |= 1u << 8;                      /* SMT */
    } else if (subleaf == 1) {
        out[0] = with_dies ? die_offset(t) : pkg_offset(t);
        out[1] = t->cores * t->threads;
        out[2] |= 2u << 8;                      /* core */
    } else if (subleaf == 2 && with_dies) {
        out[0] = pkg_offset(t);
        out[1] = t->dies * t->cores * t->threads;
        out[2] |= 5u << 8;                      /* die */
    }
    out[1] &= 0xffff;
}

/* The highest basic leaf: the model's, raised to 0x1F when there are dies to report (QEMU's
 * automatic level; not for AMD). */
static uint32_t cpuid_max_leaf(const struct cpu *cpu)
{
    uint32_t max = cpu->model->max_leaf;
    if (cpu->topo.dies > 1 && max < 0x1f && strcmp(cpu->model->vendor, "AuthenticAMD"))
        max = 0x1f;
    return max;
}

static void basic_leaf(struct cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    const struct cpu_model *m = cpu->model;
    memset(out, 0, 4 * sizeof(uint32_t));
    switch (leaf) {
    case 0:
        out[0] = cpuid_max_leaf(cpu);
        out[1] = str4(m->vendor);
        out[3] = str4(m->vendor + 4);
        out[2] = str4(m->vendor + 8);
        break;
    case 1: {
        uint32_t fam = m->family > 15 ? 15 : m->family;
        uint32_t ext_fam = m->family > 15 ? m->family - 15 : 0;
        out[0] = (m->stepping & 15) | ((m->model & 15) << 4) | (fam << 8) |
                 ((m->model >> 4) << 16) | (ext_fam << 20);
        /* EBX: initial APIC ID, CLFLUSH line 8 qwords when supported. */
        out[1] = (cpu->topo.apic_id << 24) | ((m->features_edx & CPUID_CLFSH) ? (8u << 8) : 0);
        out[2] = m->features_ecx;
        if (cpu->cr4 & CR4_OSXSAVE)
            out[2] |= CPUID_ECX_OSXSAVE;   /* follows CR4 */
        out[3] = m->features_edx;
        if (cpu->topo.cores * cpu->topo.threads > 1) {
            /* Several logical processors per package: their count and HTT, as QEMU. */
            out[1] |= (cpu->topo.cores * cpu->topo.threads & 0xff) << 16;
            out[3] |= 1u << 28;
        }
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
    case 4:
        /* Deterministic cache parameters: QEMU answers them for every vendor but AMD. */
        if (strcmp(m->vendor, "AuthenticAMD"))
            leaf4(&cpu->topo, subleaf, out);
        break;
    case 0xb:
        topology_leaf(&cpu->topo, false, subleaf, out);
        break;
    case 0xd:
        /* XSAVE components: x87 and SSE, both in the 512-byte legacy area; with the header
         * the area is 576 bytes whatever XCR0 enables. */
        if (!(m->features_ecx & CPUID_ECX_XSAVE))
            break;
        if (subleaf == 0) {
            out[0] = XCR0_SUPPORTED;
            out[1] = 576;
            out[2] = 576;
        } else if (subleaf == 1) {
            out[0] = m->xsave1_eax;
            /* EBX: the compacted area for XCR0 | IA32_XSS, the legacy region and the header
             * whatever is enabled (x87 and SSE live there); ECX/EDX: no IA32_XSS components. */
            if (m->xsave1_eax & (CPUID_D1EAX_XSAVEC | CPUID_D1EAX_XSAVES))
                out[1] = 576;
        }
        break;
    case 0x1f:
        if (cpu->topo.dies > 1)
            topology_leaf(&cpu->topo, true, subleaf, out);
        break;
    default:
        break; /* leaf 3 (serial number): zeros */
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
                basic_leaf(cpu, cpuid_max_leaf(cpu), subleaf, out);
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
            /* AMD's CmpLegacy with several logical processors (Linux ignores HTT's thread
             * count on Intel when it is set, so QEMU sets it only for AMD). */
            if (cpu->topo.cores * cpu->topo.threads > 1 && !strcmp(m->vendor, "AuthenticAMD"))
                out[2] |= 1u << 1;
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
            /* ECX: APIC ID bits per package and logical processors - 1. */
            if (cpu->topo.cores * cpu->topo.threads > 1)
                out[2] = pkg_offset(&cpu->topo) << 12 | (cpu->topo.cores * cpu->topo.threads - 1);
            break;
        default:
            break;
        }
        return;
    }
    if (kvm_para_cpuid(cpu, leaf, out))
        return;
    uint32_t max = cpuid_max_leaf(cpu);
    basic_leaf(cpu, leaf > max ? max : leaf, subleaf, out);
}

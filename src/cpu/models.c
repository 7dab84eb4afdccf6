/* CPU models: identity, feature bits and caches, and -cpu MODEL,+feat,-feat. Feature sets
 * only name what pcvm implements (no VME, PSE-36, 3DNow!, NX, long mode). Like QEMU,
 * every model sets the "hypervisor" bit (CPUID.1:ECX[31]): guests then know why there is no
 * PMU and no microcode to load. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpu/sysint.h"

#define P5_FEATURES (CPUID_FPU | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_MCE | CPUID_CX8)
#define P6_FEATURES (P5_FEATURES | CPUID_PAE | CPUID_APIC | CPUID_SEP | CPUID_MTRR | CPUID_PGE | \
                     CPUID_MCA | CPUID_CMOV)

static const struct cpu_model models[] = {
    {
        .name = "486", .desc = "Intel 486 DX4 (CPUID, no TSC/CX8/CMOV)",
        .vendor = "GenuineIntel", .family = 4, .model = 8, .stepping = 0,
        .max_leaf = 1, .features_edx = CPUID_FPU, .features_ecx = CPUID_ECX_HYPERVISOR,
        .mhz = 100, .has_cpuid = true,
    },
    {
        .name = "pentium", .desc = "Intel Pentium (P54C)",
        .vendor = "GenuineIntel", .family = 5, .model = 2, .stepping = 11,
        .max_leaf = 1, .features_edx = P5_FEATURES, .features_ecx = CPUID_ECX_HYPERVISOR,
        .mhz = 200, .has_cpuid = true,
    },
    {
        .name = "pentium-mmx", .desc = "Intel Pentium MMX (P55C)",
        .vendor = "GenuineIntel", .family = 5, .model = 4, .stepping = 3,
        .max_leaf = 1, .features_edx = P5_FEATURES | CPUID_MMX,
        .features_ecx = CPUID_ECX_HYPERVISOR, .mhz = 233, .has_cpuid = true,
    },
    {
        .name = "pentium2", .desc = "Intel Pentium II (Deschutes)",
        .vendor = "GenuineIntel", .family = 6, .model = 5, .stepping = 2,
        .max_leaf = 2, .features_edx = P6_FEATURES | CPUID_MMX | CPUID_FXSR,
        .features_ecx = CPUID_ECX_HYPERVISOR,
        .cache_leaf2 = { 0x03020101, 0, 0, 0x0c040843 }, .mhz = 450, .has_cpuid = true,
    },
    {
        .name = "pentium3", .desc = "Intel Pentium III (Coppermine), the default",
        .vendor = "GenuineIntel", .family = 6, .model = 8, .stepping = 10,
        .max_leaf = 2, .max_ext_leaf = 0x80000004,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_MMX | CPUID_FXSR | CPUID_SSE,
        .features_ecx = CPUID_ECX_HYPERVISOR,
        .cache_leaf2 = { 0x03020101, 0, 0, 0x0c040882 },
        .brand = "Intel(R) Pentium(R) III CPU family      1000MHz", .mhz = 1000,
        .has_cpuid = true,
    },
    {
        .name = "qemu32", .desc = "QEMU Virtual CPU (as qemu-system-i386's default)",
        .vendor = "GenuineIntel", .family = 6, .model = 6, .stepping = 3,
        .max_leaf = 4, .max_ext_leaf = 0x80000004,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_MMX | CPUID_FXSR | CPUID_SSE | CPUID_SSE2,
        .features_ecx = CPUID_ECX_SSE3 | CPUID_ECX_HYPERVISOR,
        .brand = "QEMU Virtual CPU version 2.5+", .mhz = 2000, .has_cpuid = true,
    },
    {
        /* The K7's MMX extensions (0x80000001 EDX[22]) are the integer half of SSE (PSHUFW,
         * PAVGB, PMOVMSKB, MOVNTQ, SFENCE...), which pcvm implements; 3DNow! (EDX[31]) and
         * its extensions (EDX[30]) are not implemented, so not advertised. */
        .name = "athlon", .desc = "AMD Athlon XP (Palomino), without 3DNow!",
        .vendor = "AuthenticAMD", .family = 6, .model = 6, .stepping = 2,
        .max_leaf = 1, .max_ext_leaf = 0x80000006,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_MMX | CPUID_FXSR | CPUID_SSE,
        .features_ecx = CPUID_ECX_HYPERVISOR,
        .ext_edx = ((P6_FEATURES | CPUID_PAT | CPUID_MMX | CPUID_FXSR) & ~CPUID_SEP) | CPUID_EXT_MMXEXT,
        .amd_l1 = { 0x0408ff08, 0xff20ff10, 0x40020140, 0x40020140 },
        .amd_l2 = { 0, 0x41004100, 0x01008140, 0 },
        .brand = "AMD Athlon(tm) XP 1800+", .mhz = 1533, .has_cpuid = true,
    },
    {
        .name = "pentium4", .desc = "Intel Pentium 4 (Northwood)",
        .vendor = "GenuineIntel", .family = 15, .model = 2, .stepping = 9,
        .max_leaf = 2, .max_ext_leaf = 0x80000004,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_CLFSH | CPUID_MMX | CPUID_FXSR |
                        CPUID_SSE | CPUID_SSE2,
        .features_ecx = CPUID_ECX_HYPERVISOR,
        .cache_leaf2 = { 0x665b5001, 0, 0, 0x007b7040 },
        .brand = "Intel(R) Pentium(R) 4 CPU 2.80GHz", .mhz = 2800, .has_cpuid = true,
    },
    {
        .name = "coreduo", .desc = "Intel Core Duo (Yonah), 32-bit",
        .vendor = "GenuineIntel", .family = 6, .model = 14, .stepping = 8,
        .max_leaf = 2, .max_ext_leaf = 0x80000008,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_CLFSH | CPUID_MMX | CPUID_FXSR |
                        CPUID_SSE | CPUID_SSE2,
        .features_ecx = CPUID_ECX_SSE3 | CPUID_ECX_HYPERVISOR,
        .cache_leaf2 = { 0x02b3b001, 0x000000f0, 0, 0x2c04307d },
        .brand = "Genuine Intel(R) CPU           T2600  @ 2.16GHz", .mhz = 2160,
        .has_cpuid = true,
    },
    {
        .name = "max", .desc = "Everything pcvm implements",
        .vendor = "GenuineIntel", .family = 6, .model = 15, .stepping = 1,
        .max_leaf = 2, .max_ext_leaf = 0x80000004,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_CLFSH | CPUID_MMX | CPUID_FXSR |
                        CPUID_SSE | CPUID_SSE2,
        .features_ecx = CPUID_ECX_SSE3 | CPUID_ECX_HYPERVISOR,
        .cache_leaf2 = { 0x02b3b001, 0x000000f0, 0, 0x2c04307d },
        .brand = "pcvm max CPU", .mhz = 2000, .has_cpuid = true,
    },
};

const struct cpu_model *cpu_model_find(const char *name)
{
    if (!name)
        return NULL;
    if (!strcasecmp(name, "host"))
        name = "max";
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (!strcasecmp(models[i].name, name))
            return &models[i];
    return NULL;
}

void cpu_model_list(void)
{
    printf("Available CPUs:\n");
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        printf("  %-12s %s\n", models[i].name, models[i].desc);
    printf("  %-12s %s\n", "host", "alias of max");
    printf("\nFeatures for -cpu MODEL,+feat,-feat,feat=on|off:\n ");
    printf(" fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat clflush mmx fxsr sse"
           " sse2 sse3 mmxext hypervisor\n");
}

/* Feature names and where they live. */
enum { W_EDX, W_ECX, W_EXT_EDX };
static const struct {
    const char *name;
    int word;
    uint32_t bit;
} feature_names[] = {
    { "fpu", W_EDX, CPUID_FPU }, { "de", W_EDX, CPUID_DE }, { "pse", W_EDX, CPUID_PSE },
    { "tsc", W_EDX, CPUID_TSC }, { "msr", W_EDX, CPUID_MSR }, { "pae", W_EDX, CPUID_PAE },
    { "mce", W_EDX, CPUID_MCE }, { "cx8", W_EDX, CPUID_CX8 }, { "apic", W_EDX, CPUID_APIC },
    { "sep", W_EDX, CPUID_SEP }, { "mtrr", W_EDX, CPUID_MTRR }, { "pge", W_EDX, CPUID_PGE },
    { "mca", W_EDX, CPUID_MCA }, { "cmov", W_EDX, CPUID_CMOV }, { "pat", W_EDX, CPUID_PAT },
    { "clflush", W_EDX, CPUID_CLFSH },
    { "mmx", W_EDX, CPUID_MMX }, { "fxsr", W_EDX, CPUID_FXSR }, { "sse", W_EDX, CPUID_SSE },
    { "sse2", W_EDX, CPUID_SSE2 }, { "sse3", W_ECX, CPUID_ECX_SSE3 },
    { "pni", W_ECX, CPUID_ECX_SSE3 }, { "mmxext", W_EXT_EDX, CPUID_EXT_MMXEXT },
    { "hypervisor", W_ECX, CPUID_ECX_HYPERVISOR },
};

int cpu_model_set_feature(struct cpu_model *model, const char *spec, char *err, unsigned errlen)
{
    char name[32];
    bool on;
    const char *eq = strchr(spec, '=');
    if (spec[0] == '+' || spec[0] == '-') {
        on = spec[0] == '+';
        snprintf(name, sizeof(name), "%s", spec + 1);
    } else if (eq) {
        size_t n = (size_t)(eq - spec);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, spec, n);
        name[n] = 0;
        if (!strcmp(eq + 1, "on") || !strcmp(eq + 1, "true") || !strcmp(eq + 1, "yes"))
            on = true;
        else if (!strcmp(eq + 1, "off") || !strcmp(eq + 1, "false") || !strcmp(eq + 1, "no"))
            on = false;
        else {
            snprintf(err, errlen, "bad value '%s' for CPU feature '%s' (on or off)", eq + 1, name);
            return -1;
        }
    } else {
        snprintf(name, sizeof(name), "%s", spec);
        on = true;
    }
    for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
        if (strcasecmp(feature_names[i].name, name))
            continue;
        uint32_t *w = feature_names[i].word == W_EDX ? &model->features_edx
                      : feature_names[i].word == W_ECX ? &model->features_ecx
                                                       : &model->ext_edx;
        if (on)
            *w |= feature_names[i].bit;
        else
            *w &= ~feature_names[i].bit;
        if (feature_names[i].word == W_EXT_EDX && on && model->max_ext_leaf < 0x80000001)
            model->max_ext_leaf = 0x80000001;
        return 0;
    }
    snprintf(err, errlen, "unknown CPU feature '%s' (see -cpu help)", name);
    return -1;
}

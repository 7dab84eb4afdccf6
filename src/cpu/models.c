/* CPU models: identity, feature bits and caches, and -cpu MODEL,+feat,-feat. Feature sets
 * only name what pcvm implements (no VME, PSE-36, 3DNow!, long mode). Like QEMU,
 * every model sets the "hypervisor" bit (CPUID.1:ECX[31]): guests then know why there is no
 * PMU and no microcode to load. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <cpuid.h>

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
        .name = "pentium3", .desc = "Intel Pentium III (Coppermine)",
        .vendor = "GenuineIntel", .family = 6, .model = 8, .stepping = 10,
        .max_leaf = 2, .max_ext_leaf = 0x80000004,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_MMX | CPUID_FXSR | CPUID_SSE,
        .features_ecx = CPUID_ECX_HYPERVISOR,
        .cache_leaf2 = { 0x03020101, 0, 0, 0x0c040882 },
        .brand = "Intel(R) Pentium(R) III CPU family      1000MHz", .mhz = 1000,
        .has_cpuid = true,
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
        /* QEMU's "base": no vendor, no identity, CPUID level 0 and no feature at all (for
         * -cpu base,+feat,... lines); as in QEMU, its leaf 1 answers leaf 0's zeros. */
        .name = "base", .desc = "base CPU model type with no features enabled",
        .mhz = 2000, .has_cpuid = true,
    },
    {
        .name = "max", .desc = "Everything pcvm implements",
        .vendor = "GenuineIntel", .family = 6, .model = 15, .stepping = 1,
        .max_leaf = 0xd, .max_ext_leaf = 0x80000004,
        .leaf7_ebx = CPUID_7EBX_BMI1 | CPUID_7EBX_SMEP | CPUID_7EBX_BMI2 | CPUID_7EBX_RDSEED |
                     CPUID_7EBX_ADX | CPUID_7EBX_SMAP,
        .features_edx = P6_FEATURES | CPUID_PAT | CPUID_CLFSH | CPUID_MMX | CPUID_FXSR |
                        CPUID_SSE | CPUID_SSE2,
        .features_ecx = CPUID_ECX_SSE3 | CPUID_ECX_PCLMUL | CPUID_ECX_SSSE3 | CPUID_ECX_SSE41 |
                        CPUID_ECX_SSE42 | CPUID_ECX_MOVBE | CPUID_ECX_POPCNT | CPUID_ECX_AES |
                        CPUID_ECX_XSAVE | CPUID_ECX_RDRAND | CPUID_ECX_HYPERVISOR,
        .xsave1_eax = CPUID_D1EAX_XSAVEOPT | CPUID_D1EAX_XSAVEC | CPUID_D1EAX_XGETBV1 | CPUID_D1EAX_XSAVES,
        .ext_ecx = CPUID_E1ECX_ABM, .ext_edx = CPUID_EXT_NX | CPUID_EXT_RDTSCP,
        .leaf7_ecx = CPUID_7ECX_UMIP | CPUID_7ECX_RDPID,
        .cache_leaf2 = { 0x02b3b001, 0x000000f0, 0, 0x2c04307d },
        .brand = "pcvm max CPU", .mhz = 2000, .has_cpuid = true,
    },
};


/* Every model qemu-system-i386 lists, as QEMU defines it (tools/gen-cpu-models.py). */
struct qemu_model {
    const char *name, *vendor;
    uint32_t family, model, stepping;
    const char *model_id;
    uint32_t level, xlevel;
    uint32_t words[9];   /* in the order of enum feature_word */
};

static const struct qemu_model qemu_models[] = {
#include "cpu/model_table.inc"
};

/* The CPUID words that carry feature bits, in the generator's order. */
enum feature_word { W_1EDX, W_1ECX, W_7EBX, W_7ECX, W_7EDX, W_E1EDX, W_E1ECX, W_D1EAX, W_6EAX, W_COUNT };

static const char *const word_names[W_COUNT] = {
    "CPUID.01H:EDX", "CPUID.01H:ECX", "CPUID.07H:EBX", "CPUID.07H:ECX", "CPUID.07H:EDX",
    "CPUID.80000001H:EDX", "CPUID.80000001H:ECX", "CPUID.0DH:EAX", "CPUID.06H:EAX",
};

/* Bit names per word, space separated, "-" for a bit without a name (QEMU's spellings). */
static const char *const bit_names[W_COUNT] = {
    "fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov pat pse36 pn clflush - ds "
    "acpi mmx fxsr sse sse2 ss ht tm ia64 pbe",
    "pni pclmulqdq dtes64 monitor ds-cpl vmx smx est tm2 ssse3 cid - fma cx16 xtpr pdcm - pcid "
    "dca sse4.1 sse4.2 x2apic movbe popcnt tsc-deadline aes xsave - avx f16c rdrand hypervisor",
    "fsgsbase tsc-adjust sgx bmi1 hle avx2 - smep bmi2 erms invpcid rtm - - mpx - avx512f "
    "avx512dq rdseed adx smap avx512ifma pcommit clflushopt clwb intel-pt avx512pf avx512er "
    "avx512cd sha-ni avx512bw avx512vl",
    "- avx512vbmi umip pku - waitpkg avx512vbmi2 - gfni vaes vpclmulqdq avx512vnni avx512bitalg "
    "- avx512-vpopcntdq - la57 - - - - - rdpid - - cldemote - movdiri movdir64b - sgxlc pks",
    "- - avx512-4vnniw avx512-4fmaps fsrm - - - avx512-vp2intersect - md-clear - - - serialize "
    "- tsx-ldtrk - - arch-lbr - - amx-bf16 avx512-fp16 amx-tile amx-int8 spec-ctrl stibp - "
    "arch-capabilities core-capability ssbd",
    "- - - - - - - - - - - syscall - - - - - - - - nx - mmxext - - fxsr-opt pdpe1gb rdtscp - "
    "lm 3dnowext 3dnow",
    "lahf-lm cmp-legacy svm extapic cr8legacy abm sse4a misalignsse 3dnowprefetch osvw ibs xop "
    "skinit wdt - lwp fma4 tce - nodeid-msr - tbm topoext perfctr-core perfctr-nb",
    "xsaveopt xsavec xgetbv1 xsaves xfd",
    "- - arat",
};

/* Other spellings QEMU accepts for the same bits. */
static const struct { const char *alias, *name; } feature_aliases[] = {
    { "sse3", "pni" }, { "sse4-1", "sse4.1" }, { "sse4_1", "sse4.1" }, { "sse4-2", "sse4.2" },
    { "sse4_2", "sse4.2" }, { "xd", "nx" }, { "i64", "lm" }, { "pclmuldq", "pclmulqdq" },
    { "lahf_lm", "lahf-lm" }, { "fxsr_opt", "fxsr-opt" }, { "tsc_deadline", "tsc-deadline" },
};

/* What pcvm implements, per word. 8000_0001.EDX also holds AMD's copies of leaf-1 bits. */
#define AMD_ALIASES 0x0183f3ffu
static const uint32_t implemented[W_COUNT] = {
    [W_1EDX] = CPUID_FPU | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_MCE |
               CPUID_CX8 | CPUID_APIC | CPUID_SEP | CPUID_MTRR | CPUID_PGE | CPUID_MCA |
               CPUID_CMOV | CPUID_PAT | CPUID_CLFSH | CPUID_MMX | CPUID_FXSR | CPUID_SSE |
               CPUID_SSE2,
    [W_1ECX] = CPUID_ECX_SSE3 | CPUID_ECX_PCLMUL | CPUID_ECX_SSSE3 | CPUID_ECX_SSE41 |
               CPUID_ECX_SSE42 | CPUID_ECX_MOVBE | CPUID_ECX_POPCNT | CPUID_ECX_AES |
               CPUID_ECX_XSAVE | CPUID_ECX_RDRAND | CPUID_ECX_HYPERVISOR,
    [W_7EBX] = CPUID_7EBX_BMI1 | CPUID_7EBX_SMEP | CPUID_7EBX_BMI2 | CPUID_7EBX_RDSEED |
               CPUID_7EBX_ADX | CPUID_7EBX_SMAP,
    [W_7ECX] = CPUID_7ECX_UMIP | CPUID_7ECX_RDPID,
    [W_E1EDX] = CPUID_EXT_SYSCALL | CPUID_EXT_NX | CPUID_EXT_MMXEXT | CPUID_EXT_RDTSCP,
    [W_E1ECX] = CPUID_E1ECX_ABM,
    [W_D1EAX] = CPUID_D1EAX_XSAVEOPT | CPUID_D1EAX_XSAVEC | CPUID_D1EAX_XGETBV1 | CPUID_D1EAX_XSAVES,
};

static uint32_t *model_word(struct cpu_model *m, enum feature_word w)
{
    switch (w) {
    case W_1EDX: return &m->features_edx;
    case W_1ECX: return &m->features_ecx;
    case W_7EBX: return &m->leaf7_ebx;
    case W_7ECX: return &m->leaf7_ecx;
    case W_7EDX: return &m->leaf7_edx;
    case W_E1EDX: return &m->ext_edx;
    case W_E1ECX: return &m->ext_ecx;
    case W_D1EAX: return &m->xsave1_eax;
    default: return &m->leaf6_eax;
    }
}

/* Copy the name of bit `bit` of word `w` into out; false when the bit has no name. */
static bool bit_name(enum feature_word w, unsigned bit, char *out, size_t outlen)
{
    const char *p = bit_names[w];
    for (unsigned i = 0; *p; i++) {
        size_t n = strcspn(p, " ");
        if (i == bit) {
            if (n == 1 && *p == '-')
                return false;
            snprintf(out, outlen, "%.*s", (int)n, p);
            return true;
        }
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

/* Find a feature by name (or alias): its word and bit. */
static bool feature_lookup(const char *name, enum feature_word *w, unsigned *bit)
{
    for (size_t i = 0; i < sizeof(feature_aliases) / sizeof(feature_aliases[0]); i++)
        if (!strcasecmp(name, feature_aliases[i].alias))
            name = feature_aliases[i].name;
    char buf[32];
    for (int word = 0; word < W_COUNT; word++)
        for (unsigned b = 0; b < 32; b++)
            if (bit_name((enum feature_word)word, b, buf, sizeof(buf)) && !strcasecmp(buf, name)) {
                *w = (enum feature_word)word;
                *bit = b;
                return true;
            }
    return false;
}

const struct cpu_model *cpu_model_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (!strcasecmp(models[i].name, name))
            return &models[i];
    return NULL;
}

static void from_qemu_model(const struct qemu_model *q, struct cpu_model *out)
{
    memset(out, 0, sizeof(*out));
    out->name = q->name;
    out->desc = q->model_id;
    snprintf(out->vendor, sizeof(out->vendor), "%s", q->vendor);
    out->family = q->family;
    out->model = q->model;
    out->stepping = q->stepping;
    out->max_leaf = q->level;
    out->max_ext_leaf = q->xlevel;
    for (int w = 0; w < W_COUNT; w++)
        *model_word(out, (enum feature_word)w) = q->words[w];
    bool amd = !strcmp(q->vendor, "AuthenticAMD");
    if (amd)
        out->ext_edx |= out->features_edx & AMD_ALIASES;
    if (q->level >= 2 && !amd) {   /* legacy cache descriptors, as QEMU's models answer */
        static const uint32_t leaf2[4] = { 0x00000001, 0, 0x0000004d, 0x002c307d };
        memcpy(out->cache_leaf2, leaf2, sizeof(leaf2));
    }
    if (amd) {
        static const uint32_t l1[4] = { 0xff01ff01, 0xff01ff01, 0x40020140, 0x40020140 };
        static const uint32_t l2[4] = { 0, 0x42004200, 0x02008140, 0 };
        memcpy(out->amd_l1, l1, sizeof(l1));
        memcpy(out->amd_l2, l2, sizeof(l2));
    }
    snprintf(out->brand, sizeof(out->brand), "%s", q->model_id);
    if (out->features_edx & CPUID_PAE)
        out->phys_bits = 36;   /* what QEMU's models report with PAE */
    out->mhz = 2000;
    out->has_cpuid = true;
}

/* -cpu host without KVM: the host's identity and feature words (finalize keeps what pcvm
 * implements, without warnings: the user asked for the host, not for each feature). */
static void host_model(struct cpu_model *out)
{
    unsigned a, b, c, d;
    memset(out, 0, sizeof(*out));
    out->name = "host";
    out->desc = "the host CPU's identity with the features pcvm implements";
    __cpuid(0, a, b, c, d);
    out->max_leaf = a > 0xd ? 0xd : a;
    memcpy(out->vendor, &b, 4);
    memcpy(out->vendor + 4, &d, 4);
    memcpy(out->vendor + 8, &c, 4);
    __cpuid(1, a, b, c, d);
    unsigned fam = (a >> 8) & 15, mod = (a >> 4) & 15;
    if (fam == 15)
        fam += (a >> 20) & 0xff;
    if (fam == 6 || fam >= 15)
        mod |= ((a >> 16) & 15) << 4;
    out->family = fam;
    out->model = mod;
    out->stepping = a & 15;
    out->features_ecx = c | CPUID_ECX_HYPERVISOR;
    out->features_edx = d;
    if (out->max_leaf >= 7)
        __cpuid_count(7, 0, a, out->leaf7_ebx, out->leaf7_ecx, out->leaf7_edx);
    if (out->max_leaf >= 0xd)
        __cpuid_count(0xd, 1, out->xsave1_eax, b, c, d);
    __cpuid(0x80000000, a, b, c, d);
    out->max_ext_leaf = a >= 0x80000008 ? 0x80000008 : a;
    if (a >= 0x80000001)
        __cpuid(0x80000001, a, b, out->ext_ecx, out->ext_edx);
    if (out->max_ext_leaf >= 0x80000004) {
        uint32_t r[12];
        for (unsigned i = 0; i < 3; i++)
            __cpuid(0x80000002 + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        memcpy(out->brand, r, 48);
        out->brand[48] = 0;
    }
    static const uint32_t leaf2[4] = { 0x00000001, 0, 0x0000004d, 0x002c307d };
    memcpy(out->cache_leaf2, leaf2, sizeof(leaf2));
    out->mhz = 2000;
    out->has_cpuid = true;
}

bool cpu_model_resolve(const char *name, struct cpu_model *out)
{
    if (!name)
        return false;
    const struct cpu_model *own = cpu_model_find(name);
    if (own) {
        *out = *own;
        return true;
    }
    if (!strcasecmp(name, "host")) {
        host_model(out);
        return true;
    }
    for (size_t i = 0; i < sizeof(qemu_models) / sizeof(qemu_models[0]); i++)
        if (!strcmp(qemu_models[i].name, name)) {
            from_qemu_model(&qemu_models[i], out);
            return true;
        }
    return false;
}

int cpu_model_finalize(struct cpu_model *model, void (*warn)(void *opaque, const char *line),
                       void *opaque, char *err, unsigned errlen)
{
    bool host = !strcmp(model->name, "host");
    bool amd = !strcmp(model->vendor, "AuthenticAMD");
    unsigned missing = 0;
    for (int w = 0; w < W_COUNT; w++) {
        uint32_t *word = model_word(model, (enum feature_word)w);
        uint32_t ok = implemented[w];
        if (w == W_E1EDX && amd)
            ok |= implemented[W_1EDX] & AMD_ALIASES;
        /* SYSCALL outside long mode exists on AMD's CPUs only (Intel: 64-bit mode only). */
        if (w == W_E1EDX && !amd && strcmp(model->vendor, "HygonGenuine"))
            ok &= ~(uint32_t)CPUID_EXT_SYSCALL;
        uint32_t drop = *word & ~ok;
        if (w == W_E1EDX && amd)   /* AMD's copies are reported once, under leaf 1 */
            drop &= ~AMD_ALIASES;
        *word &= ok;
        for (unsigned b = 0; b < 32 && !host; b++) {
            if (!(drop >> b & 1))
                continue;
            char name[32], line[160];
            if (!bit_name((enum feature_word)w, b, name, sizeof(name)))
                snprintf(name, sizeof(name), "?");
            snprintf(line, sizeof(line), "pcvm doesn't support requested feature: %s.%s [bit %u]",
                     word_names[w], name, b);
            missing++;
            if (warn)
                warn(opaque, line);
        }
    }
    if (model->enforce && missing) {
        snprintf(err, errlen, "-cpu %s,enforce: %u requested feature%s not supported", model->name,
                 missing, missing == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

void cpu_model_list(void)
{
    printf("Available CPUs:\n");
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        printf("x86 %-28s %s\n", models[i].name, models[i].desc);
    printf("x86 %-28s %s\n", "host", "the host's identity, with the features pcvm implements");
    for (size_t i = 0; i < sizeof(qemu_models) / sizeof(qemu_models[0]); i++)
        if (!cpu_model_find(qemu_models[i].name))
            printf("x86 %-28s %s\n", qemu_models[i].name, qemu_models[i].model_id);
    printf("\nFeatures pcvm implements (-cpu MODEL,+feat,-feat,feat=on|off; others are named in a\n"
           "warning and left out):\n ");
    char name[32];
    for (int w = 0; w < W_COUNT; w++)
        for (unsigned b = 0; b < 32; b++)
            if ((implemented[w] >> b & 1) && bit_name((enum feature_word)w, b, name, sizeof(name)))
                printf(" %s", name);
    printf("\nProperties: vendor= model-id= family= model= stepping= level= xlevel= phys-bits=\n"
           "host-phys-bits=on|off enforce check kvm=on|off\n");
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long x = strtoul(v, &end, 0);
    if (!*v || *end || x > max)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

/* key=value properties other than features; 1 when key is not one of them. */
static int set_property(struct cpu_model *m, const char *key, const char *value, char *err,
                        unsigned errlen)
{
    uint32_t v;
    if (!strcasecmp(key, "vendor")) {
        if (strlen(value) != 12) {
            snprintf(err, errlen, "vendor '%s' must be 12 characters", value);
            return -1;
        }
        memcpy(m->vendor, value, 13);
        return 0;
    }
    if (!strcasecmp(key, "model-id")) {
        snprintf(m->brand, sizeof(m->brand), "%s", value);
        if (m->max_ext_leaf < 0x80000004)
            m->max_ext_leaf = 0x80000004;
        return 0;
    }
    struct { const char *key; uint32_t *field; uint32_t max; } nums[] = {
        { "family", &m->family, 0xff + 15 }, { "model", &m->model, 0xff },
        { "stepping", &m->stepping, 15 }, { "level", &m->max_leaf, 0xd },
        { "xlevel", &m->max_ext_leaf, 0x80000008 }, { "phys-bits", &m->phys_bits, 52 },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (strcasecmp(key, nums[i].key))
            continue;
        if (parse_u32(value, nums[i].max, &v) < 0) {
            snprintf(err, errlen, "bad value '%s' for CPU property '%s' (at most 0x%x)", value, key,
                     nums[i].max);
            return -1;
        }
        if (!strcasecmp(key, "xlevel") && v && v < 0x80000000u)
            v += 0x80000000u;   /* QEMU accepts xlevel=8 for 0x80000008 */
        if (!strcasecmp(key, "phys-bits") && v && v < 32) {
            snprintf(err, errlen, "phys-bits=%u: at least 32", v);
            return -1;
        }
        *nums[i].field = v;
        return 0;
    }
    return 1;
}

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
        int r = set_property(model, name, eq + 1, err, errlen);
        if (r <= 0)
            return r;
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
    if (!strcasecmp(name, "enforce")) {
        model->enforce = on;
        return 0;
    }
    if (!strcasecmp(name, "kvm")) {
        model->kvm_off = !on;       /* the KVM CPUID leaves and MSRs (cpu/kvm_para.h) */
        return 0;
    }
    if (!strcasecmp(name, "kvmclock") || !strcasecmp(name, "kvm-clock")) {
        model->kvmclock_off = !on;
        return 0;
    }
    if (!strcasecmp(name, "check") || !strcasecmp(name, "migratable"))
        return 0;   /* warnings are always printed */
    if (!strcasecmp(name, "host-phys-bits")) {
        if (on) {
            unsigned a = 0, b, c, d;
            if (__get_cpuid(0x80000008, &a, &b, &c, &d))
                model->phys_bits = a & 0xff;
        }
        return 0;
    }
    enum feature_word w;
    unsigned bit;
    if (!feature_lookup(name, &w, &bit)) {
        snprintf(err, errlen, "unknown CPU feature '%s' (see -cpu help)", name);
        return -1;
    }
    uint32_t *word = model_word(model, w);
    if (on)
        *word |= 1u << bit;
    else
        *word &= ~(1u << bit);
    if (w == W_E1EDX || w == W_E1ECX) {
        if (on && model->max_ext_leaf < 0x80000001)
            model->max_ext_leaf = 0x80000001;
    } else if ((w == W_7EBX || w == W_7ECX || w == W_7EDX) && on && model->max_leaf < 7) {
        model->max_leaf = 7;
    } else if (((w == W_1ECX && bit == 26) || w == W_D1EAX) && on && model->max_leaf < 0xd) {
        model->max_leaf = 0xd;   /* XSAVE's leaf, as QEMU raises the level */
    }
    return 0;
}

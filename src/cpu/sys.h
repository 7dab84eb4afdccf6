/* Private state of sys (TLB, MSRs, model data, exception bookkeeping), embedded in struct cpu.
 * Owned by sys. exec may read: triple_fault, the cpu_model feature words (cpu_has_*). */
#ifndef PCVM_CPU_SYS_H
#define PCVM_CPU_SYS_H

#include <stdbool.h>
#include <stdint.h>

/* ---- Software TLB ----
 * A small direct-mapped, tagged TLB (TLB_ENTRIES entries, indexed by the low bits of the
 * linear page number). One compare decides the fast path: tag[k] holds "linear page | 1" when
 * access kind k (bit k of TLB_RS..TLB_WU) at that page may use host memory directly, else 0;
 * tag[TLB_KIND_NONE] is always 0 (data breakpoints armed: every access takes the slow path).
 * `perm` says what the translation permits (the slow path then goes through
 * phys_read/phys_write for MMIO, ROM and code pages). */
enum {
    TLB_RS = 1u << 0,  /* supervisor read (and execute) */
    TLB_WS = 1u << 1,  /* supervisor write */
    TLB_RU = 1u << 2,  /* user read (and execute) */
    TLB_WU = 1u << 3,  /* user write */
};
enum { TLB_KIND_NONE = 4 };
enum {
    TLB_GLOBAL = 1u << 0,
    TLB_LARGE = 1u << 1,
    TLB_VOID = 1u << 2,  /* PAE page above 4 GiB: nothing there (reads all ones) */
    TLB_WATCH = 1u << 3, /* a gdb watchpoint covers the page: no fast path (cpu/debug.h) */
    TLB_NX = 1u << 4,    /* execute-disable (PAE with EFER.NXE): fetches #PF */
    TLB_USER = 1u << 5,  /* a user page (U/S set at every level): SMEP refuses CPL<3 fetches,
                          SMAP CPL<3 data accesses (mmu.c) */
};
struct tlb_entry {
    uint32_t tag[5];   /* per access kind: linear page | 1 when the fast path applies, else 0 */
    uint32_t lpage;    /* linear page | 1 of the translation held; 0 = empty */
    uintptr_t addend;  /* host address of linear byte lin is lin + addend (when host) */
    uint8_t *host;     /* host address of the page, NULL when not RAM/ROM */
    uint32_t phys;     /* physical page base (A20 applied) */
    uint8_t perm;      /* TLB_* bits allowed by the translation */
    uint8_t flags;     /* TLB_GLOBAL, TLB_LARGE, TLB_VOID */
    uint8_t listed;    /* index is in tlb_filled (stays set after INVLPG until a flush) */
};
#define TLB_BITS 12
#define TLB_ENTRIES (1u << TLB_BITS)

/* TLB slot of a linear address: the low bits of its page number.  (Mixing in the directory
 * index cost ~1 host instruction per guest instruction in callgrind and no measured misses.) */
static inline uint32_t tlb_index(uint32_t lin)
{
    return (lin >> 12) & (TLB_ENTRIES - 1);
}

/* Offsets of a segment that pass the limit and type checks, per access kind: an access of
 * size n at off passes when off >= min && off + n - 1 <= max. Empty window: min 1, max 0. */
struct seg_window {
    uint32_t rd_min, wr_min;
    uint64_t rd_max, wr_max;
};

/* CPUID feature bits (leaf 1 EDX). */
enum {
    CPUID_FPU = 1u << 0, CPUID_VME = 1u << 1, CPUID_DE = 1u << 2, CPUID_PSE = 1u << 3,
    CPUID_TSC = 1u << 4, CPUID_MSR = 1u << 5, CPUID_PAE = 1u << 6, CPUID_MCE = 1u << 7,
    CPUID_CX8 = 1u << 8, CPUID_APIC = 1u << 9, CPUID_SEP = 1u << 11, CPUID_MTRR = 1u << 12,
    CPUID_PGE = 1u << 13, CPUID_MCA = 1u << 14, CPUID_CMOV = 1u << 15, CPUID_PAT = 1u << 16,
    CPUID_PSE36 = 1u << 17, CPUID_CLFSH = 1u << 19, CPUID_MMX = 1u << 23,
    CPUID_FXSR = 1u << 24, CPUID_SSE = 1u << 25, CPUID_SSE2 = 1u << 26,
};
/* Leaf 1 ECX. */
enum { CPUID_ECX_SSE3 = 1u << 0, CPUID_ECX_PCLMUL = 1u << 1, CPUID_ECX_SSSE3 = 1u << 9,
       CPUID_ECX_SSE41 = 1u << 19, CPUID_ECX_SSE42 = 1u << 20, CPUID_ECX_MOVBE = 1u << 22,
       CPUID_ECX_POPCNT = 1u << 23, CPUID_ECX_AES = 1u << 25, CPUID_ECX_XSAVE = 1u << 26,
       CPUID_ECX_OSXSAVE = 1u << 27, CPUID_ECX_RDRAND = 1u << 30,
       CPUID_ECX_HYPERVISOR = 1u << 31 };
/* IA32_EFER bits. */
enum { EFER_SCE = 1u << 0, EFER_NXE = 1u << 11 };
/* XCR0 state components pcvm implements (x87, SSE) and CPUID.(0DH,1):EAX bits. */
enum { XCR0_X87 = 1u << 0, XCR0_SSE = 1u << 1, XCR0_SUPPORTED = XCR0_X87 | XCR0_SSE };
enum { CPUID_D1EAX_XSAVEOPT = 1u << 0, CPUID_D1EAX_XSAVEC = 1u << 1, CPUID_D1EAX_XGETBV1 = 1u << 2,
       CPUID_D1EAX_XSAVES = 1u << 3 };
/* Leaf 7 subleaf 0 EBX / ECX. */
enum { CPUID_7EBX_BMI1 = 1u << 3, CPUID_7EBX_SMEP = 1u << 7, CPUID_7EBX_BMI2 = 1u << 8,
       CPUID_7EBX_RDSEED = 1u << 18, CPUID_7EBX_ADX = 1u << 19, CPUID_7EBX_SMAP = 1u << 20 };
enum { CPUID_7ECX_UMIP = 1u << 2, CPUID_7ECX_RDPID = 1u << 22 };
/* CPUID.80000001:ECX: LZCNT (AMD's ABM; Intel names the same bit LZCNT). */
enum { CPUID_E1ECX_ABM = 1u << 5 };
/* Leaf 0x80000001 EDX (AMD). */
enum { CPUID_EXT_SYSCALL = 1u << 11, CPUID_EXT_MMXEXT = 1u << 22, CPUID_EXT_NX = 1u << 20,
       CPUID_EXT_RDTSCP = 1u << 27 };

/* A CPU model: identity and what it implements. */
struct cpu_model {
    const char *name;
    const char *desc;
    char vendor[13];
    uint32_t family, model, stepping;
    uint32_t max_leaf, max_ext_leaf;
    uint32_t features_edx, features_ecx;   /* leaf 1 */
    uint32_t ext_edx, ext_ecx;             /* leaf 0x80000001 */
    uint32_t leaf7_ebx, leaf7_ecx, leaf7_edx;  /* leaf 7 subleaf 0 */
    uint32_t xsave1_eax;                   /* leaf 0xD subleaf 1 */
    uint32_t leaf6_eax;                    /* leaf 6 (thermal and power) */
    uint32_t phys_bits;                    /* leaf 0x80000008 EAX[7:0]; 0 means 32 */
    bool enforce;                          /* -cpu ...,enforce: unimplemented features are fatal */
    bool kvm_off;                          /* -cpu ...,kvm=off: no KVM CPUID leaves or MSRs */
    bool kvmclock_off;                     /* -cpu ...,-kvmclock: no kvmclock */
    uint32_t cache_leaf2[4];               /* leaf 2 descriptors (Intel) */
    uint32_t amd_l1[4], amd_l2[4];         /* leaves 0x80000005/6 */
    char brand[49];                        /* leaves 0x80000002..4 */
    uint32_t mhz;                          /* TSC rate */
    bool has_cpuid;
};

/* True when the CPU's model has leaf-1 EDX feature bit f. */
#define cpu_has_feature(cpu, f) (((cpu)->model->features_edx & (f)) != 0)

#define SYS_MCA_BANKS 5

struct cpu_sys_state {
    int pending_vector;      /* exception recorded by cpu_exception(), -1 none */
    uint32_t pending_error;
    int delivering;          /* vector being delivered when a fault hits, -1 none */
    bool delivering_is_exc;  /* ...and whether it is an exception (double-fault matrix) */
    bool ext;                /* EXT bit for error codes raised during delivery */
    bool triple_fault;       /* set on shutdown; cpu_run returns CPU_EXIT_RESET */
    bool wait_for_sipi;      /* AP after RESET/INIT: halted until cpu_sipi() */
    bool nmi_blocked;        /* an NMI handler runs: further NMIs wait for the next IRET */
    uint8_t data_bp;         /* DR0-3 enabled in DR7 as data breakpoints (bit n) */
    uint8_t db_hits;         /* data breakpoints hit by the current instruction (bit n) */
    uint64_t int_count;      /* events logged with -d int */

    /* TLB */
    struct tlb_entry *tlb;   /* TLB_ENTRIES, allocated by cpu_init */
    uint32_t tlb_nfilled;
    uint32_t tlb_filled[TLB_ENTRIES];  /* indexes of entries filled since the last flush */
    bool tlb_has_large;
    uint8_t rd_kind, wr_kind;  /* tag[] index for reads/writes at the current CPL */
    bool ac_possible;        /* CR0.AM && CPL 3: misaligned accesses take the slow path */
    struct seg_window segw[6];
    uint64_t pdpte[4];       /* PAE PDPTEs loaded with CR3 */

    /* MSRs */
    uint64_t tsc_offset;
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t apic_base;
    uint64_t pat, misc_enable, bios_sign_id, debugctl;
    uint64_t mtrr_var[16], mtrr_fixed[11], mtrr_def_type;
    uint64_t mcg_status, mcg_ctl;
    uint64_t mc_regs[SYS_MCA_BANKS][4];
    uint64_t amd_hwcr, amd_syscfg, amd_top_mem; /* AMD K7 models */
    uint64_t amd_nb_cfg;                         /* AMD family 10h and later */
    uint64_t tsc_aux;        /* IA32_TSC_AUX (RDTSCP, RDPID): Linux stores the CPU number */
    uint64_t efer;           /* IA32_EFER: SCE and NXE (no long mode) */
    uint64_t star;           /* STAR: SYSCALL's EIP and CS, SYSRET's CS (AMD) */
    uint64_t xcr0;           /* XCR0 (XSETBV): x87 always, SSE */
    bool fetching;           /* a code fetch is being translated: #PF gets the I/D bit */
    uint64_t kvm_system_time, kvm_wall_clock;   /* kvmclock MSRs (cpu/kvm_para.h) */
};

/* Free what cpu_init allocated (the TLB). */
struct cpu;
void cpu_destroy(struct cpu *cpu);
/* Startup IPI: an AP waiting for SIPI starts at vector:0000 in real mode. */
void cpu_sipi(struct cpu *cpu, uint8_t vector);
/* Deliver a trap-class exception (no error code, e.g. #DB after single-step) with return
 * address next_eip, outside the fault/longjmp path. */
void cpu_deliver_trap(struct cpu *cpu, int vector, uint32_t next_eip);
/* After an instruction completed: when it hit data breakpoints, set DR6.Bn and return true
 * (exec then delivers #DB as a trap with cpu_deliver_trap). */
bool cpu_take_data_breakpoints(struct cpu *cpu);
/* Drop direct-write TLB entries that map physical page paddr (exec calls this when it marks
 * a page as holding code, so later writes go through phys_write and fire code_write). */
void cpu_tlb_protect_code(struct cpu *cpu, uint32_t paddr);

#endif

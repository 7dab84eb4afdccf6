/* The IA-32 CPU: its state and the contract between the parts of the core and the board.
 *
 * Ownership of the core's files (each part keeps private state in its own header, embedded
 * below, so parts never edit each other's files):
 *   exec  (cpu/exec*.c, cpu/decode*.c, cpu/flags.c, cpu/trace*.c, cpu/opcodes*.[ch], cpu/disasm.c;
 *          private state struct cpu_exec_state in cpu/exec.h):
 *          decoder and opcode table, trace cache, threaded dispatch, integer instructions,
 *          lazy flags, cpu_run(), cpu_code_written(), disassembly for -d in_asm.
 *   sys   (cpu/mmu.[ch], cpu/seg.c, cpu/intr.c, cpu/task.c, cpu/cpuid.c, cpu/msr.c, cpu/models.c,
 *          cpu/sysregs.c, cpu/cpu.c; private state struct cpu_sys_state in cpu/sys.h):
 *          paging and the software TLB, memory access with segment checks, descriptor
 *          loading, far transfers, gates, task switches, exceptions and interrupts,
 *          control/debug registers, MSRs, CPUID and CPU models, reset.
 *   fpu   (cpu/fpu*.c, cpu/simd*.c, cpu/softfloat*.c; state struct fpu_state in cpu/fpu.h):
 *          x87, MMX, SSE/SSE2/SSE3.
 *
 * Faults: a fault anywhere calls cpu_exception(), which records the exception and
 * longjmps to cpu->fault_env, set by cpu_run().  cpu_run() then restores EIP and ESP
 * to their values at the start of the instruction (eip_start, esp_start) and calls
 * cpu_deliver_pending_exception().  So an instruction handler must not change any
 * register other than ESP before its last access that can fault; memory written
 * before a fault is below ESP or gets rewritten on restart.
 */
#ifndef PCVM_CPU_CPU_H
#define PCVM_CPU_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/memory.h"
#include "util/log.h"
#include "util/vclock.h"

struct cpu;

#include "cpu/debug.h"
#include "cpu/exec.h"
#include "cpu/fpu.h"
#include "cpu/sys.h"

/* General registers, in encoding order. */
enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
/* Segment registers, in encoding order. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

/* EFLAGS bits. */
enum {
    FLAG_CF = 1u << 0, FLAG_BIT1 = 1u << 1, FLAG_PF = 1u << 2, FLAG_AF = 1u << 4,
    FLAG_ZF = 1u << 6, FLAG_SF = 1u << 7, FLAG_TF = 1u << 8, FLAG_IF = 1u << 9,
    FLAG_DF = 1u << 10, FLAG_OF = 1u << 11, FLAG_IOPL = 3u << 12, FLAG_NT = 1u << 14,
    FLAG_RF = 1u << 16, FLAG_VM = 1u << 17, FLAG_AC = 1u << 18, FLAG_VIF = 1u << 19,
    FLAG_VIP = 1u << 20, FLAG_ID = 1u << 21,
};
#define FLAGS_ARITH (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)

/* CR0 / CR4 bits. */
enum {
    CR0_PE = 1u << 0, CR0_MP = 1u << 1, CR0_EM = 1u << 2, CR0_TS = 1u << 3, CR0_ET = 1u << 4,
    CR0_NE = 1u << 5, CR0_WP = 1u << 16, CR0_AM = 1u << 18, CR0_NW = 1u << 29,
    CR0_CD = 1u << 30, CR0_PG = 1u << 31,
};
enum {
    CR4_VME = 1u << 0, CR4_PVI = 1u << 1, CR4_TSD = 1u << 2, CR4_DE = 1u << 3, CR4_PSE = 1u << 4,
    CR4_PAE = 1u << 5, CR4_MCE = 1u << 6, CR4_PGE = 1u << 7, CR4_PCE = 1u << 8,
    CR4_OSFXSR = 1u << 9, CR4_OSXMMEXCPT = 1u << 10, CR4_UMIP = 1u << 11,
    CR4_OSXSAVE = 1u << 18, CR4_SMEP = 1u << 20, CR4_SMAP = 1u << 21,
};

/* Exception vectors. */
enum {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
    EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
    EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* A segment register with its hidden descriptor cache. */
struct seg {
    uint16_t sel;
    uint32_t base;
    uint32_t limit;  /* effective byte-granular limit (G already applied) */
    uint32_t flags;  /* descriptor high dword & 0x00f0ff00: type, S, DPL, P, AVL, D/B, G */
};
#define SEG_FLAG_TYPE_SHIFT 8
#define SEG_FLAG_S   (1u << 12)
#define SEG_FLAG_DPL_SHIFT 13
#define SEG_FLAG_P   (1u << 15)
#define SEG_FLAG_DB  (1u << 22)
#define SEG_FLAG_G   (1u << 23)
static inline unsigned seg_type(const struct seg *s) { return (s->flags >> SEG_FLAG_TYPE_SHIFT) & 15; }
static inline unsigned seg_dpl(const struct seg *s) { return (s->flags >> SEG_FLAG_DPL_SHIFT) & 3; }

/* A descriptor table register (GDTR, IDTR). */
struct dtr {
    uint32_t base;
    uint16_t limit;
};

/* Bits of cpu->interrupt_request: asynchronous events the run loop looks at between
 * instructions (at trace boundaries at the latest). Set them with cpu_request(). */
enum {
    CPU_REQ_INTR = 1u << 0,  /* the INTR pin is high (level): ask board.intr_ack for the vector */
    CPU_REQ_NMI  = 1u << 1,
    CPU_REQ_INIT = 1u << 2,
    CPU_REQ_SIPI = 1u << 3,  /* vector in cpu->sipi_vector */
    CPU_REQ_SMI  = 1u << 4,
    CPU_REQ_EXIT = 1u << 5,  /* return from cpu_run() to the main loop soon */
    CPU_REQ_INVAL = 1u << 6, /* thread=multi: pages wait in this vCPU's invalidation queue (the
                                board sets EXIT with it and drains the queue between runs) */
};

/* Reasons cpu_run() returns. */
enum cpu_exit_reason {
    CPU_EXIT_BUDGET,    /* max_insns retired */
    CPU_EXIT_HALT,      /* HLT with no interrupt deliverable: sleep until an event */
    CPU_EXIT_REQUEST,   /* CPU_REQ_EXIT was set */
    CPU_EXIT_RESET,     /* triple fault: the board decides reset or exit (-no-reboot) */
    CPU_EXIT_DEBUG,     /* a breakpoint/watchpoint for the gdb stub */
};

/* What the CPU asks of the board. */
struct cpu_board_ops {
    void *opaque;
    /* Acknowledge the pending external interrupt (INTA cycle); returns the vector. */
    int (*intr_ack)(void *opaque, struct cpu *cpu);
    /* FERR# changed (x87 error with CR0.NE clear): the board routes it to IRQ13. */
    void (*ferr)(void *opaque, struct cpu *cpu, int level);
    /* The guest wrote IA32_APIC_BASE (relocation, global enable); may be NULL. */
    void (*apic_base_changed)(void *opaque, struct cpu *cpu, uint64_t value);
};

struct cpu_model; /* defined by sys in cpu/sys.h */

/* Where a vCPU sits in the -smp topology: CPUID leaves 1, 4, 0xB and 0x1F report it. */
struct cpu_topo {
    unsigned threads, cores, dies;  /* per core, per die, per socket (1 when alone) */
    uint32_t apic_id;               /* initial APIC ID (QEMU's packing, cpu_topo_apic_id) */
};

struct cpu {
    /* Architectural state. */
    uint32_t regs[8];
    uint32_t eip;
    uint32_t eflags;       /* non-arithmetic bits always exact; arithmetic bits are lazy: use
                              cpu_get_eflags()/cpu_set_eflags() */
    struct seg seg[SEG_COUNT];
    struct seg ldtr, tr;
    struct dtr gdtr, idtr;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];

    /* Mode, derived from the above by cpu_update_mode() (sys) after any change of CR0,
     * EFLAGS.VM or a segment: exec reads these. */
    unsigned cpl;
    bool pe;               /* CR0.PE */
    bool vm86;             /* EFLAGS.VM in protected mode */
    bool code32;           /* CS.D: default operand/address size 32 */
    bool stack32;          /* SS.B: ESP (true) or SP (false) */
    bool paging;           /* CR0.PG */

    /* Execution bookkeeping. */
    uint32_t eip_start;    /* EIP of the instruction being executed */
    uint32_t esp_start;    /* ESP at its start, restored on a fault */
    uint64_t insn_count;   /* retired instructions, exact */
    bool halted;
    bool inhibit_irq;      /* interrupt shadow after STI / MOV SS / POP SS: one instruction */
    volatile uint32_t interrupt_request;
    uint8_t sipi_vector;
    uint32_t a20_mask;     /* 0xffffffff, or 0xffefffff with A20 masked */
    jmp_buf fault_env;

    /* Identity and links to the machine. */
    int index;             /* 0 = bootstrap processor */
    struct cpu_topo topo;  /* cpu_init: a lone CPU, APIC ID = index; the board sets -smp's */
    /* -accel tcg,thread=multi: other vCPUs run on other host threads at the same time, so
     * LOCKed read-modify-writes use host atomics (lk: the operand being updated). */
    bool parallel;
    /* exclusive: every other vCPU is stopped (LOCKed accesses are plain ones); want_exclusive:
     * a LOCKed operand was not plain RAM in one page, cpu_run returned CPU_EXIT_REQUEST
     * without running the instruction, which must run again with the others stopped. */
    struct { uint8_t *host; uint32_t old; bool exclusive, want_exclusive; } lk;
    /* Spin detection: a lock attempt that found the lock taken (an XCHG writing the value it
     * read, a failed CMPXCHG) or a PAUSE, at the same EIP as the last one and at most a short
     * loop's length later, `after` times in a row, ends the run with `spun` set, so the run
     * loop can give the host CPU to the lock's holder (0: off; set by the run loop). */
    struct { uint32_t eip, count, after; uint64_t at; bool spun; } spin;
    /* Armed by cpu_sleep_begin() until cpu_sleep() returns: cpu_request() bumps wake_seq and
     * wakes the vCPU's thread. */
    uint32_t sleeping, wake_seq;
    const struct cpu_model *model;
    struct phys_mem *mem;
    struct io_bus *io;
    struct vclock *clock;
    /* kvmclock's wall clock at virtual time 0 in ns since 1970 (the board's -rtc base=DATE),
     * so -icount runs read the same date every time; INT64_MIN: follow the host's clock. */
    int64_t wall_clock_base_ns;
    struct pcvm_log *log;
    struct cpu_board_ops board;

    struct cpu_exec_state exec;  /* owned by exec */
    struct cpu_sys_state sys;    /* owned by sys */
    struct fpu_state fpu;        /* owned by fpu */
    struct cpu_debug_state dbg;  /* gdb stub hooks (cpu/debug.c) */
};

/* ---- Provided by sys ---- */

/* Find a CPU model by name ("pentium3", "486", ...); NULL when unknown. */
const struct cpu_model *cpu_model_find(const char *name);
/* Print the list of models (for -cpu help) to stdout. */
void cpu_model_list(void);
/* Fill *out with model NAME: pcvm's own models, every model qemu-system-i386 lists (with all
 * the feature bits QEMU gives it) or "host"; false when the name is unknown. */
bool cpu_model_resolve(const char *name, struct cpu_model *out);
/* Drop the feature bits pcvm does not implement, calling warn() with one line for each
 * (as QEMU's TCG does); -1 with *err set when the model asked for enforce. */
int cpu_model_finalize(struct cpu_model *model, void (*warn)(void *opaque, const char *line),
                       void *opaque, char *err, unsigned errlen);
/* Apply "+feat"/"-feat"/"feat=on|off" to a model copy; returns 0 or -1 with a message in err. */
int cpu_model_set_feature(struct cpu_model *model, const char *spec, char *err, unsigned errlen);
/* APIC ID of the index-th CPU (socket-major, threads innermost): each level takes the bits
 * its count needs, as QEMU packs them. */
uint32_t cpu_topo_apic_id(const struct cpu_topo *t, unsigned index);
/* Set up a CPU attached to the machine and reset it. */
void cpu_init(struct cpu *cpu, int index, const struct cpu_model *model, struct phys_mem *mem,
              struct io_bus *io, struct vclock *clock, struct pcvm_log *log,
              const struct cpu_board_ops *board);
/* Power-on / RESET# state (CS:IP = F000:FFF0, real mode). */
void cpu_reset(struct cpu *cpu);
/* INIT# state (as reset, but keeps caches, MSRs and, for APs, waits for SIPI). */
void cpu_init_signal(struct cpu *cpu);
/* Recompute cpl/pe/vm86/code32/stack32/paging after a state change. */
void cpu_update_mode(struct cpu *cpu);
/* Raise exception vector (error_code is used only for vectors that push one). Never returns. */
_Noreturn void cpu_exception(struct cpu *cpu, int vector, uint32_t error_code);
/* Deliver the exception recorded by cpu_exception() (double/triple fault escalation inside). */
void cpu_deliver_pending_exception(struct cpu *cpu);
/* Kinds of interrupt for cpu_interrupt(). */
enum int_kind { INT_EXTERNAL, INT_SOFTWARE /* INT n */, INT_SOFT_EXC /* INT3, INTO */, INT_NMI };
/* Deliver an interrupt through the IDT/IVT; next_eip is the return address pushed. */
void cpu_interrupt(struct cpu *cpu, int vector, enum int_kind kind, uint32_t next_eip);
/* Load a segment register with a selector as MOV/POP/LDS do (all checks). */
void cpu_load_seg(struct cpu *cpu, int seg, uint16_t sel);
/* Far JMP / CALL / RET / IRET (gates, task switches, privilege changes). op32: operand size. */
void cpu_far_jmp(struct cpu *cpu, uint16_t sel, uint32_t offset, uint32_t next_eip);
void cpu_far_call(struct cpu *cpu, uint16_t sel, uint32_t offset, bool op32, uint32_t next_eip);
void cpu_far_ret(struct cpu *cpu, bool op32, uint16_t pop_bytes);
void cpu_iret(struct cpu *cpu, bool op32, uint32_t next_eip);
/* LAR / LSL / VERR / VERW: return true (ZF=1) and the result when the selector passes. */
bool cpu_lar(struct cpu *cpu, uint16_t sel, uint32_t *out);
bool cpu_lsl(struct cpu *cpu, uint16_t sel, uint32_t *out);
bool cpu_verr(struct cpu *cpu, uint16_t sel);
bool cpu_verw(struct cpu *cpu, uint16_t sel);
/* LLDT / LTR. */
void cpu_lldt(struct cpu *cpu, uint16_t sel);
void cpu_ltr(struct cpu *cpu, uint16_t sel);
/* MOV to/from CRn and DRn (privilege already checked by exec? no: these check CPL and #UD). */
uint32_t cpu_read_cr(struct cpu *cpu, int n);
void cpu_write_cr(struct cpu *cpu, int n, uint32_t value);
uint32_t cpu_read_dr(struct cpu *cpu, int n);
void cpu_write_dr(struct cpu *cpu, int n, uint32_t value);
/* RDMSR / WRMSR (checks CPL and raises #GP for unknown MSRs). */
uint64_t cpu_rdmsr(struct cpu *cpu, uint32_t index);
void cpu_wrmsr(struct cpu *cpu, uint32_t index, uint64_t value);
/* CPUID leaf/subleaf into out[0..3] = EAX, EBX, ECX, EDX. */
void cpu_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
/* The time-stamp counter (follows the virtual clock). */
uint64_t cpu_read_tsc(struct cpu *cpu);
/* SYSENTER / SYSEXIT. */
void cpu_sysenter(struct cpu *cpu);
void cpu_sysexit(struct cpu *cpu);
/* SYSCALL / SYSRET outside long mode (EFER.SCE, STAR); next_eip is SYSCALL's return EIP. */
void cpu_syscall(struct cpu *cpu, uint32_t next_eip);
void cpu_sysret(struct cpu *cpu);
/* #GP unless port..port+size-1 is allowed at the current IOPL/CPL/TSS bitmap. */
void cpu_check_io(struct cpu *cpu, uint16_t port, unsigned size);
/* Make writes to physical page paddr take the slow path (it holds code now). */
void cpu_tlb_protect_code(struct cpu *cpu, uint32_t paddr);
/* INVLPG / full TLB flush. */
void cpu_invlpg(struct cpu *cpu, uint32_t linear);
void cpu_tlb_flush(struct cpu *cpu);
/* Set the A20 gate (board: port 0x92, keyboard controller). */
void cpu_set_a20(struct cpu *cpu, bool enabled);

/* ---- Provided by exec ---- */

/* Run up to max_insns instructions; returns why it stopped. */
enum cpu_exit_reason cpu_run(struct cpu *cpu, uint64_t max_insns);
/* EFLAGS with the lazy arithmetic flags folded in. */
uint32_t cpu_get_eflags(struct cpu *cpu);
/* Replace the bits of EFLAGS in mask with value (no privilege checks; calls cpu_update_mode
 * when VM changes). */
void cpu_set_eflags(struct cpu *cpu, uint32_t value, uint32_t mask);
/* Guest physical memory [paddr, paddr+len) holding translated code was written. */
void cpu_code_written(struct cpu *cpu, uint32_t paddr, unsigned len);
/* Drop every translated trace (e.g. after a mode change the traces depend on). */
void cpu_flush_traces(struct cpu *cpu);
/* Disassemble one instruction at linear address into buf; returns its length, 0 on failure. */
int cpu_disasm(struct cpu *cpu, uint32_t linear, char *buf, unsigned buflen);

/* ---- Provided by fpu ---- */

/* Reset the FPU/SSE state (FNINIT plus MXCSR = 0x1f80). */
void fpu_reset(struct cpu *cpu);
/* Execute an x87 escape opcode (0xD8..0xDF). For mod == 3, seg is -1 and ea unused. */
void cpu_fpu_op(struct cpu *cpu, uint8_t opcode, uint8_t modrm, int seg, uint32_t ea, bool op32);
/* FWAIT (0x9B): #NM or pending unmasked x87 exceptions. */
void cpu_fpu_wait(struct cpu *cpu);
/* A decoded MMX/SSE instruction (0x0F-prefixed), as exec hands it to fpu. */
struct simd_args {
    uint8_t prefix;    /* 0, 0x66, 0xF2 or 0xF3: the last mandatory-prefix candidate seen */
    uint8_t map;       /* 1 = 0F xx, 2 = 0F 38 xx, 3 = 0F 3A xx */
    uint8_t opcode;    /* the byte after 0F (or after 0F 38 / 0F 3A) */
    uint8_t modrm;
    uint8_t imm8;      /* when the opcode takes one (see simd_opcode_has_imm8) */
    int seg;           /* -1 for register operands (mod == 3) */
    uint32_t ea;       /* effective offset within seg */
    uint32_t next_eip;
    uint8_t str_seg;   /* segment of implicit DS:(E)DI operands (DS or the override) */
    bool addr32;       /* address size: (E)DI is EDI when set, DI otherwise */
};
/* True when fpu implements the 0F-map opcode (exec routes it to cpu_simd_op). */
bool simd_opcode_claimed(uint8_t map, uint8_t opcode);
/* True when the opcode is followed by an imm8 (0F 70-73, C2, C4-C6, 0F 3A xx). */
bool simd_opcode_has_imm8(uint8_t map, uint8_t opcode);
/* Execute an MMX/SSE instruction; #UD when the model lacks it. */
void cpu_simd_op(struct cpu *cpu, const struct simd_args *a);

/* ---- Used by all parts ---- */

/* Wake a vCPU thread sleeping in cpu_sleep() (any thread). */
void cpu_wake(struct cpu *cpu);
/* Sleep (a halted vCPU's own thread) until cpu_wake() or timeout_ns; returns at once when a
 * wake-up came after seq was read with cpu_sleep_begin(); timeout_ns <= 0 only ends the
 * sleeping state begun there. */
uint32_t cpu_sleep_begin(struct cpu *cpu);
void cpu_sleep(struct cpu *cpu, uint32_t seq, int64_t timeout_ns);

/* Set (level=1) or clear bits of interrupt_request (safe from device callbacks and from
 * other threads: a sleeping vCPU thread is woken). */
static inline void cpu_request(struct cpu *cpu, uint32_t bits, int level)
{
    if (level) {
        __atomic_or_fetch(&cpu->interrupt_request, bits, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&cpu->sleeping, __ATOMIC_SEQ_CST))
            cpu_wake(cpu);
    } else
        __atomic_and_fetch(&cpu->interrupt_request, ~bits, __ATOMIC_SEQ_CST);
}

#endif

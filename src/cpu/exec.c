/* The run loop, the trace cache, lazy-flag folding and code invalidation.
 *
 * Instruction counting: cpu->insn_count counts retired instructions.  A faulting instruction
 * does not count.  A REP string instruction counts once, when it completes (an interrupted
 * REP that resumes later still counts once in total).  Delivering an interrupt or exception
 * is not an instruction. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/sysint.h"
#include "cpu/flags.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"

#define TC_HASH_BITS 15
#define TC_HASH_SIZE (1u << TC_HASH_BITS)
#define TC_ARENA_SIZE (24u << 20)

/* Jump cache: linear EIP -> trace, skipping translation and hashing for indirect branches
 * and returns.  An entry is valid only for the same mode, CPL, paging state, CR3 and A20;
 * INVLPG and MOV CR clear it (they are exec's instructions). */
#define JC_SIZE 16384u
struct jc_entry {
    uint32_t lin;
    uint32_t key;
    uint32_t cr3;
    struct trace *t;
};

struct trace_cache {
    struct trace *hash[TC_HASH_SIZE];
    struct jc_entry jc[JC_SIZE];
    struct trace **page_head;     /* per RAM page: traces on it (code_pages_count entries) */
    uint32_t page_count;
    uint8_t *arena;
    size_t arena_used;
    struct trace scratch;          /* uncached traces (MMIO code, CS-limit truncation) */
    struct trace build;            /* a trace being decoded */
};

/* Bytes a stored trace of n instructions takes in the arena (walked by cpu_flush_traces). */
static inline size_t trace_size(unsigned n)
{
    size_t size = offsetof(struct trace, insns) + (n + 1) * sizeof(struct insn);
    return (size + 15) & ~(size_t)15;
}

static inline struct trace_cache *tc_of(struct cpu *cpu)
{
    return (struct trace_cache *)cpu->exec.traces;
}

/* ---- End markers and stale instructions ---- */

/* End of a trace that fell through: not an instruction; chain to the next trace in the page. */
static struct insn *h_end(struct cpu *cpu, struct insn *i)
{
    cpu->insn_count--;
    return exec_chain(cpu, i, cpu->eip);
}

struct insn *h_stale(struct cpu *cpu, struct insn *i)
{
    (void)i;
    cpu->insn_count--;
    return NULL;
}

/* ---- Flags ---- */

uint32_t cpu_get_eflags(struct cpu *cpu)
{
    flags_materialize(cpu);
    return cpu->eflags;
}

void cpu_set_eflags(struct cpu *cpu, uint32_t value, uint32_t mask)
{
    flags_materialize(cpu);
    uint32_t old = cpu->eflags;
    cpu->eflags = ((old & ~mask) | (value & mask) | FLAG_BIT1) & ~(0xffc00000u | (1u << 3) | (1u << 5) | (1u << 15));
    if ((old ^ cpu->eflags) & FLAG_VM)
        cpu_update_mode(cpu);
}

/* ---- Trace cache ---- */

void cpu_exec_init(struct cpu *cpu)
{
    struct trace_cache *tc = tc_of(cpu);
    if (!tc) {
        tc = calloc(1, sizeof(*tc));
        if (!tc)
            abort();
        tc->arena = malloc(TC_ARENA_SIZE);
        if (!tc->arena)
            abort();
        cpu->exec.traces = tc;
    }
    cpu->exec.debug_tlb = getenv("PCVM_DEBUG_TLB") != NULL;
    uint32_t pages = cpu->mem ? cpu->mem->code_pages_count : 0;
    if (pages != tc->page_count || !tc->page_head) {
        free(tc->page_head);
        tc->page_head = calloc(pages ? pages : 1, sizeof(*tc->page_head));
        if (!tc->page_head)
            abort();
        tc->page_count = pages;
    }
    cpu_flush_traces(cpu);
    uint32_t out[4] = { 0, 0, 0, 0 };
    cpu_cpuid(cpu, 1, 0, out);
    cpu->exec.features = out[3];
    cpu->exec.ext_features = (out[2] >> 23 & 1) << OX_POPCNT | (out[2] >> 22 & 1) << OX_MOVBE |
                             (out[2] >> 20 & 1) << OX_SSE42 | (out[2] >> 30 & 1) << OX_RDRAND;
    uint32_t top[4] = { 0, 0, 0, 0 }, w[4] = { 0, 0, 0, 0 };
    cpu_cpuid(cpu, 0, 0, top);
    if (top[0] >= 7) {
        cpu_cpuid(cpu, 7, 0, w);
        cpu->exec.ext_features |= (w[1] >> 3 & 1) << OX_BMI1 | (w[1] >> 19 & 1) << OX_ADX |
                                   (w[1] >> 8 & 1) << OX_BMI2 | (w[1] >> 18 & 1) << OX_RDSEED |
                                   (w[2] >> 22 & 1) << OX_RDPID;
    }
    cpu_cpuid(cpu, 0x80000000u, 0, top);
    if (top[0] >= 0x80000001u && top[0] < 0x80000100u) {
        cpu_cpuid(cpu, 0x80000001u, 0, w);
        cpu->exec.ext_features |= (w[2] >> 5 & 1) << OX_LZCNT | (w[3] >> 27 & 1) << OX_RDTSCP;
    }
    cpu->exec.family = (out[0] >> 8) & 15;
    if (cpu->exec.family == 0)
        cpu->exec.family = 4;     /* no CPUID leaf 1: a 486 */
    cpu->exec.ready = true;
}

void cpu_exec_destroy(struct cpu *cpu)
{
    struct trace_cache *tc = tc_of(cpu);
    if (!tc)
        return;
    free(tc->page_head);
    free(tc->arena);
    free(tc);
    cpu->exec.traces = NULL;
    jit_destroy(cpu);
    cpu->exec.ready = false;
}

void cpu_flush_traces(struct cpu *cpu)
{
    struct trace_cache *tc = tc_of(cpu);
    if (!tc)
        return;
    /* Traces stay readable until the arena is reused (only when building), so a running
     * trace may be flushed: its instructions are marked stale first. */
    uint8_t *p = tc->arena;
    while (p < tc->arena + tc->arena_used) {
        struct trace *t = (struct trace *)p;
        for (unsigned k = 0; k <= t->ninsn; k++)
            t->insns[k].fn = h_stale;
        t->valid = false;
        p += trace_size(t->ninsn);
    }
    /* Only trace_store fills the tables, and it also fills the arena: with the arena empty they
     * are clear already (not touching them keeps a fresh process's restore from faulting in
     * ~1 MiB of zero pages). */
    if (tc->arena_used) {
        memset(tc->hash, 0, sizeof(tc->hash));
        memset(tc->jc, 0, sizeof(tc->jc));
        if (tc->page_head)
            memset(tc->page_head, 0, tc->page_count * sizeof(*tc->page_head));
    }
    tc->arena_used = 0;
    jit_flush(cpu);
    for (unsigned k = 0; k <= tc->scratch.ninsn && k <= TRACE_MAX_INSNS; k++)
        tc->scratch.insns[k].fn = h_stale;
}

static inline uint32_t tc_hash(uint32_t paddr, uint16_t mode)
{
    uint32_t h = paddr ^ (paddr >> TC_HASH_BITS) ^ ((uint32_t)mode << 13);
    return h & (TC_HASH_SIZE - 1);
}

struct trace *exec_trace_find(struct cpu *cpu, uint32_t paddr, uint16_t mode)
{
    struct trace_cache *tc = tc_of(cpu);
    for (struct trace *t = tc->hash[tc_hash(paddr, mode)]; t; t = t->hash_next)
        if (t->paddr == paddr && t->mode == mode)
            return t;
    return NULL;
}

static void trace_invalidate(struct trace_cache *tc, struct trace *t)
{
    if (!t->valid)
        return;
    t->valid = false;
    for (unsigned k = 0; k <= t->ninsn; k++)
        t->insns[k].fn = h_stale;
    struct trace **pp = &tc->hash[tc_hash(t->paddr, t->mode)];
    while (*pp && *pp != t)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = t->hash_next;
}

void cpu_code_written(struct cpu *cpu, uint32_t paddr, unsigned len)
{
    struct trace_cache *tc = tc_of(cpu);
    if (!tc || !len)
        return;
    uint32_t first = paddr >> 12, last = (paddr + len - 1) >> 12;
    for (uint32_t pg = first; pg <= last && pg < tc->page_count; pg++) {
        struct trace *t = tc->page_head[pg];
        if (!t)
            continue;
        tc->page_head[pg] = NULL;
        while (t) {
            struct trace *next = t->page[0] == pg ? t->page_next[0] : t->page_next[1];
            trace_invalidate(tc, t);
            t = next;
        }
    }
}

/* Mark a RAM page as holding code; the first time, drop the TLB's direct-write entries for
 * it so that writes take the slow path (which reaches cpu_code_written).  The mark stays:
 * pages that mix code and data would otherwise cost a TLB protect on every rebuild. */
static void mark_code_page(struct cpu *cpu, uint32_t pg)
{
    struct phys_mem *mem = cpu->mem;
    if (pg < mem->code_pages_count && !__atomic_load_n(&mem->code_pages[pg], __ATOMIC_RELAXED)) {
        __atomic_store_n(&mem->code_pages[pg], 1, __ATOMIC_RELAXED);   /* other vCPUs read it */
        cpu_tlb_protect_code(cpu, pg << 12);
        if (mem->code_marked)
            mem->code_marked(mem->code_write_opaque, pg << 12);   /* the other vCPUs' TLBs */
    }
}

/* Fetch bytes for decoding at linear address lin (within CS); returns how many are
 * available (up to 16), stopping at the page end unless cross is set. */
static unsigned fetch_bytes(struct cpu *cpu, const uint8_t *host, uint32_t paddr, uint32_t lin,
                            uint8_t *buf, bool cross, uint32_t *paddr2)
{
    unsigned in_page = 4096 - (lin & 4095);
    unsigned n = in_page < 16 ? in_page : 16;
    if (host)
        memcpy(buf, host, n);
    else
        for (unsigned k = 0; k < n; k++)
            buf[k] = (uint8_t)phys_read(cpu->mem, paddr + k, 1);
    if (n < 16 && cross) {
        uint32_t p2;
        const uint8_t *h2 = cpu_fetch_ptr(cpu, lin + n, &p2);
        *paddr2 = p2;
        for (unsigned k = n; k < 16; k++)
            buf[k] = h2 ? h2[k - n] : (uint8_t)phys_read(cpu->mem, p2 + k - n, 1);
        n = 16;
    }
    return n;
}

/* Decode a trace at CS:EIP into t.  The first instruction may fault (#PF on its second page,
 * #GP past the CS limit); later ones never do: the trace just ends before them. */
static void trace_decode(struct cpu *cpu, struct trace *t, const uint8_t *host, uint32_t paddr,
                         uint16_t mode)
{
    uint32_t eip = cpu->eip;
    uint32_t cs_base = cpu->seg[SEG_CS].base, cs_limit = cpu->seg[SEG_CS].limit;
    bool code32 = mode & 1;
    unsigned off = 0, n = 0;
    uint8_t buf[16];
    t->paddr = paddr;
    t->mode = mode;
    t->page[0] = t->page[1] = paddr >> 12;
    phys_code_cpu_set(cpu->mem, paddr >> 12, (unsigned)cpu->index, true);   /* before reading it */
    for (;;) {
        struct insn *i = &t->insns[n];
        uint32_t lin = cs_base + eip + off;
        uint32_t p2 = 0;
        unsigned avail = fetch_bytes(cpu, host ? host + off : NULL, paddr + off, lin, buf, false, &p2);
        int len = decode_insn(cpu, buf, avail, code32, i);
        if (len == 0) {
            /* Crosses into the next page: only as the first instruction of a trace. */
            if (n > 0)
                break;
            avail = fetch_bytes(cpu, host, paddr, lin, buf, true, &p2);
            if (!(phys_code_cpus(cpu->mem, p2 >> 12) & (1u << (cpu->index & 31)))) {
                phys_code_cpu_set(cpu->mem, p2 >> 12, (unsigned)cpu->index, true);
                avail = fetch_bytes(cpu, host, paddr, lin, buf, true, &p2);   /* now seen by writers */
            }
            len = decode_insn(cpu, buf, avail, code32, i);
            t->page[1] = p2 >> 12;
        }
        uint32_t last = eip + off + (len > 0 ? (unsigned)len : 15) - 1;
        if (len < 0 || last > cs_limit || (!code32 && last > 0xffff && cs_limit <= 0xffff)) {
            if (n > 0)
                break;
            /* Too long (#GP) or past the CS limit (#GP): raise it when executed. */
            memset(i, 0, sizeof(*i));
            i->fn = h_gp0;
            i->len = 1;
            i->paddr = paddr + off;
            n = 1;
            off += 1;
            break;
        }
        i->paddr = paddr + off;
        decode_select_handler(cpu, i);
        off += (unsigned)len;
        n++;
        bool ends = exec_insn_ends_trace(i) || n >= TRACE_MAX_INSNS || (paddr & 4095) + off >= 4096 ||
                    t->page[1] != t->page[0];
        if (__builtin_expect(cpu->dbg.nbreak != 0, 0))
            cpu_debug_mark_break(cpu, i, lin);
        if (ends)
            break;
    }
    struct insn *end = &t->insns[n];
    memset(end, 0, sizeof(*end));
    end->fn = h_end;
    end->paddr = paddr + off;
    /* Chain the fall-through only within the page the trace started in. */
    end->nochain = t->page[1] != t->page[0] || ((paddr + off) & 4095) == 0;
    t->ninsn = (uint16_t)n;
    t->bytes = (uint16_t)off;
    t->valid = true;
    t->entry_fn = NULL;
    t->hash_next = NULL;
    t->page_next[0] = t->page_next[1] = NULL;
    if (cpu->log && log_enabled(cpu->log, LOG_IN_ASM))
        exec_log_trace(cpu, t);
}

static struct trace *trace_store(struct cpu *cpu, struct trace *b)
{
    struct trace_cache *tc = tc_of(cpu);
    size_t size = trace_size(b->ninsn);
    if (tc->arena_used + size > TC_ARENA_SIZE)
        cpu_flush_traces(cpu);
    struct trace *t = (struct trace *)(tc->arena + tc->arena_used);
    memcpy(t, b, size);
    tc->arena_used += size;
    uint32_t h = tc_hash(t->paddr, t->mode);
    t->hash_next = tc->hash[h];
    tc->hash[h] = t;
    for (int k = 0; k < 2; k++) {
        uint32_t pg = t->page[k];
        if (k == 1 && pg == t->page[0])
            break;
        if (pg < tc->page_count) {
            t->page_next[k] = tc->page_head[pg];
            tc->page_head[pg] = t;
            mark_code_page(cpu, pg);
        }
    }
    jit_trace_stored(cpu, t);
    return t;
}

/* A trace whose one instruction crosses into the next page was decoded with the bytes of
 * the frame that page mapped then (t->page[1]); under another mapping of that page (another
 * process, a private copy of a page with text relocations) it must not run.  Looking the
 * page up may fault, as executing the instruction would. */
static bool second_page_matches(struct cpu *cpu, const struct trace *t, uint32_t lin)
{
    if (t->page[1] == t->page[0])
        return true;
    uint32_t p2;
    cpu_fetch_ptr(cpu, (lin & ~4095u) + 4096u, &p2);
    return (p2 >> 12) == t->page[1];
}

/* The trace to run at CS:EIP (building it when needed).  May fault for the first instruction. */
static struct trace *trace_get(struct cpu *cpu)
{
    struct trace_cache *tc = tc_of(cpu);
    uint32_t eip = cpu->eip;
    const struct seg *cs = &cpu->seg[SEG_CS];
    if (eip > cs->limit)
        cpu_exception(cpu, EXC_GP, 0);
    uint32_t lin = cs->base + eip;
    uint16_t mode = trace_mode(cpu);
    uint32_t key = mode | (cpu->cpl << 2) | (cpu->paging ? 16u : 0) | (cpu->a20_mask != 0xffffffffu ? 32u : 0);
    struct jc_entry *e = &tc->jc[(lin ^ (lin >> 12)) & (JC_SIZE - 1)];
    if (e->lin == lin && e->key == key && e->t && e->cr3 == cpu->cr3 && e->t->valid &&
        eip + e->t->bytes - 1 <= cs->limit)
        return e->t;
    uint32_t paddr;
    const uint8_t *host = cpu_fetch_ptr(cpu, lin, &paddr);
    if (host) {
        struct trace *t = exec_trace_find(cpu, paddr, mode);
        if (!t) {
            trace_decode(cpu, &tc->build, host, paddr, mode);
            if (eip + tc->build.bytes - 1 <= cs->limit && tc->build.insns[0].fn != h_gp0)
                t = trace_store(cpu, &tc->build);
            else
                t = NULL;
        } else if (eip + t->bytes - 1 > cs->limit || !second_page_matches(cpu, t, lin)) {
            t = NULL;
        }
        if (t) {
            e->lin = lin;
            e->key = key;
            e->cr3 = cpu->cr3;
            e->t = t;
            return t;
        }
    }
    /* Uncached: MMIO code or a trace cut by the CS limit. */
    trace_decode(cpu, &tc->scratch, host, paddr, mode);
    for (unsigned k = 0; k <= tc->scratch.ninsn; k++)
        tc->scratch.insns[k].nochain = 1;
    tc->scratch.valid = false;
    return &tc->scratch;
}

struct insn *exec_jump_cache_lookup(struct cpu *cpu)
{
    struct trace_cache *tc = tc_of(cpu);
    uint32_t eip = cpu->eip;
    const struct seg *cs = &cpu->seg[SEG_CS];
    uint32_t lin = cs->base + eip;
    uint32_t key = trace_mode(cpu) | (cpu->cpl << 2) | (cpu->paging ? 16u : 0) |
                   (cpu->a20_mask != 0xffffffffu ? 32u : 0);
    const struct jc_entry *e = &tc->jc[(lin ^ (lin >> 12)) & (JC_SIZE - 1)];
    if (e->lin == lin && e->key == key && e->t && e->cr3 == cpu->cr3 && e->t->valid &&
        eip + e->t->bytes - 1 <= cs->limit)
        return &e->t->insns[0];
    return NULL;
}

void exec_jump_cache_clear(struct cpu *cpu)
{
    struct trace_cache *tc = tc_of(cpu);
    if (tc)
        memset(tc->jc, 0, sizeof(tc->jc));
}

/* Chain from a direct branch at i to target (an EIP in the same linear page). */
struct insn *exec_chain_slow(struct cpu *cpu, struct insn *i, uint32_t target)
{
    if (i->nochain)
        return NULL;
    uint32_t lin = cpu->seg[SEG_CS].base + target;
    uint32_t paddr = (i->paddr & ~4095u) | (lin & 4095u);
    struct trace *t = exec_trace_find(cpu, paddr, trace_mode(cpu));
    /* Never to a trace that crosses into the next page: a stored chain would skip the check
     * of that page's mapping (second_page_matches). */
    if (!t || target + t->bytes - 1 > cpu->seg[SEG_CS].limit || t->page[1] != t->page[0])
        return NULL;
    i->chain = &t->insns[0];
    return i->chain;
}

/* ---- Events between instructions ---- */

static bool intr_deliverable(struct cpu *cpu)
{
    uint32_t req = cpu->interrupt_request;
    if (req & (CPU_REQ_INIT | CPU_REQ_SMI | CPU_REQ_SIPI))
        return true;
    if ((req & CPU_REQ_NMI) && !cpu->sys.nmi_blocked)
        return true;
    return (req & CPU_REQ_INTR) && (cpu->eflags & FLAG_IF) && !cpu->inhibit_irq;
}

/* Handle pending requests; returns an exit reason, or -1 to keep running. */
static int handle_events(struct cpu *cpu)
{
    uint32_t req = cpu->interrupt_request;
    if (__builtin_expect(cpu->dbg.step_noirq, 0) && !cpu->halted)
        req &= CPU_REQ_EXIT;          /* gdb single-step with interrupts held (qqemu.sstep) */
    if (req & CPU_REQ_EXIT) {
        cpu_request(cpu, CPU_REQ_EXIT, 0);
        return CPU_EXIT_REQUEST;
    }
    cpu->eip_start = cpu->eip;
    cpu->esp_start = cpu->regs[R_ESP];
    if (req & CPU_REQ_SMI) {
        /* System management mode is not modelled: drop the request. */
        cpu_request(cpu, CPU_REQ_SMI, 0);
        log_printf(cpu->log, LOG_UNIMP, "SMI ignored (no SMM)\n");
    }
    if (req & CPU_REQ_INIT) {
        /* INIT before SIPI: both pending means INIT-SIPI(-SIPI) arrived within one slice. */
        cpu_request(cpu, CPU_REQ_INIT, 0);
        cpu->halted = false;
        cpu_init_signal(cpu);       /* also drops the pending SIPI bit */
    }
    if (req & CPU_REQ_SIPI) {
        cpu_request(cpu, CPU_REQ_SIPI, 0);
        cpu_sipi(cpu, cpu->sipi_vector);
    }
    if (req & (CPU_REQ_INIT | CPU_REQ_SIPI))
        return -1;
    if (cpu->sys.wait_for_sipi)
        return CPU_EXIT_HALT;
    if (cpu->inhibit_irq)
        return cpu->halted ? CPU_EXIT_HALT : -1;
    /* An NMI handler runs until its IRET (which clears nmi_blocked): the NMI waits. */
    if ((req & CPU_REQ_NMI) && !cpu->sys.nmi_blocked) {
        cpu_request(cpu, CPU_REQ_NMI, 0);
        cpu->halted = false;
        cpu_interrupt(cpu, EXC_NMI, INT_NMI, cpu->eip);
        return -1;
    }
    if ((req & CPU_REQ_INTR) && (cpu->eflags & FLAG_IF)) {
        int vec = cpu->board.intr_ack ? cpu->board.intr_ack(cpu->board.opaque, cpu) : -1;
        if (vec >= 0) {
            cpu->halted = false;
            cpu_interrupt(cpu, vec & 0xff, INT_EXTERNAL, cpu->eip);
            return -1;
        }
    }
    if (cpu->halted)
        return CPU_EXIT_HALT;
    return -1;
}

/* ---- The run loop ---- */

/* DR0-DR3 execute breakpoints enabled in DR7 that match CS:EIP; sets DR6.Bn. */
static bool code_breakpoint_hit(struct cpu *cpu)
{
    uint32_t dr7 = cpu->dr[7], lin = cpu->seg[SEG_CS].base + cpu->eip, hits = 0;
    for (unsigned n = 0; n < 4; n++) {
        bool enabled = (dr7 >> (2 * n)) & 3;
        bool exec_type = ((dr7 >> (16 + 4 * n)) & 3) == 0;
        if (enabled && exec_type && cpu->dr[n] == lin)
            hits |= 1u << n;
    }
    if (!hits)
        return false;
    cpu->dr[6] = (cpu->dr[6] & ~0xfu) | hits;
    return true;
}

/* -d exec and -d cpu: one line per trace entered, and the register state before it. */
static void log_trace_entry(struct cpu *cpu, const struct trace *t)
{
    if (log_enabled(cpu->log, LOG_CPU)) {
        const uint32_t *r = cpu->regs;
        log_printf(cpu->log, LOG_CPU,
                   "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\nESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
                   "EIP=%08x EFL=%08x CPL=%u CR0=%08x CR3=%08x\n"
                   "ES=%04x CS=%04x SS=%04x DS=%04x FS=%04x GS=%04x\n",
                   r[R_EAX], r[R_EBX], r[R_ECX], r[R_EDX], r[R_ESI], r[R_EDI], r[R_EBP], r[R_ESP],
                   cpu->eip, cpu_get_eflags(cpu), cpu->cpl, cpu->cr0, cpu->cr3,
                   cpu->seg[SEG_ES].sel, cpu->seg[SEG_CS].sel, cpu->seg[SEG_SS].sel,
                   cpu->seg[SEG_DS].sel, cpu->seg[SEG_FS].sel, cpu->seg[SEG_GS].sel);
    }
    if (log_enabled(cpu->log, LOG_EXEC))
        log_printf(cpu->log, LOG_EXEC, "Trace %p [%08x/%04x:%08x] %u insns\n", (const void *)t, t->paddr,
                   cpu->seg[SEG_CS].sel, cpu->eip, t->ninsn);
}

/* The hot loop, outside cpu_run so that setjmp does not pessimise its registers. */
static __attribute__((noinline)) void run_threaded(struct cpu *cpu, struct insn *i, uint64_t target)
{
    do {
        cpu->eip_start = cpu->eip;
        cpu->esp_start = cpu->regs[R_ESP];
        i = i->fn(cpu, i);
        cpu->insn_count++;
    } while (i && cpu->insn_count < target);
}

enum cpu_exit_reason cpu_run(struct cpu *cpu, uint64_t max_insns)
{
    if (!cpu->exec.ready)
        cpu_exec_init(cpu);
    const uint64_t target = cpu->insn_count + max_insns;
    if (__builtin_expect(cpu->dbg.hold, 0))
        return CPU_EXIT_HALT;         /* the gdb stub steps another vCPU */
    cpu->exec.insn_target = target;

    if (setjmp(cpu->fault_env)) {
        /* A fault: undo the instruction's EIP/ESP changes and deliver the exception. */
        cpu->eip = cpu->eip_start;
        cpu->regs[R_ESP] = cpu->esp_start;
        cpu->inhibit_irq = false;
        if (!cpu_debug_watch_restart(cpu))
            cpu_deliver_pending_exception(cpu);
    }
    while (cpu->insn_count < target) {
        if (__builtin_expect(cpu->sys.triple_fault, 0))
            return CPU_EXIT_RESET;
        if (cpu->interrupt_request || cpu->halted || cpu->sys.wait_for_sipi) {
            if (cpu->sys.wait_for_sipi && !(cpu->interrupt_request & (CPU_REQ_SIPI | CPU_REQ_INIT | CPU_REQ_EXIT)))
                return CPU_EXIT_HALT;
            if (cpu->halted && !intr_deliverable(cpu) && !(cpu->interrupt_request & CPU_REQ_EXIT))
                return CPU_EXIT_HALT;
            int r = handle_events(cpu);
            if (r >= 0)
                return (enum cpu_exit_reason)r;
        }
        cpu->eip_start = cpu->eip;
        cpu->esp_start = cpu->regs[R_ESP];
        if (__builtin_expect(cpu->exec.debug_tlb, 0)) {
            if (cpu->cpl == 3 && cpu->exec.last_cpl != 3 && mmu_debug_check_tlb(cpu))
                fprintf(stderr, "pcvm: (CPU %u: stale TLB entries on entering user mode)\n", cpu->index);
            cpu->exec.last_cpl = (uint8_t)cpu->cpl;
        }
        struct trace *t = trace_get(cpu);
        if (__builtin_expect(cpu->log && (cpu->log->mask & (LOG_EXEC | LOG_CPU)), 0))
            log_trace_entry(cpu, t);
        struct insn *i = &t->insns[0];
        if (__builtin_expect(cpu->inhibit_irq || (cpu->eflags & (FLAG_TF | FLAG_RF)) || (cpu->dr[7] & 0xff) ||
                             cpu->dbg.step, 0)) {
            /* One instruction: the interrupt shadow or a single-step trap follows it, an
             * instruction breakpoint may precede it, RF is cleared after it. */
            bool step = cpu->eflags & FLAG_TF;
            bool shadow = cpu->inhibit_irq;
            if (jit_single_fn(t, i) == h_debug_break) {
                h_debug_break(cpu, i);
                cpu->insn_count++;    /* h_debug_break uncounts; nothing ran */
                cpu->exec.yield = false;
                return cpu_debug_yield_reason(cpu);
            }
            if (!(cpu->eflags & FLAG_RF) && code_breakpoint_hit(cpu))
                cpu_exception(cpu, EXC_DB, 0);
            jit_single_fn(t, i)(cpu, i);
            cpu->insn_count++;
            cpu->eflags &= ~FLAG_RF;
            if (shadow)
                cpu->inhibit_irq = false;
            /* Data breakpoints and single-step are both traps after the instruction: one #DB
             * reports both (DR6.Bn and DR6.BS). */
            bool data_hit = cpu_take_data_breakpoints(cpu);
            if (step)
                cpu->dr[6] |= 1u << 14;   /* DR6.BS */
            if (step || data_hit) {
                cpu->eip_start = cpu->eip;
                cpu->esp_start = cpu->regs[R_ESP];
                cpu->halted = false;
                cpu_deliver_trap(cpu, EXC_DB, cpu->eip);
            }
            if (cpu->dbg.step) {
                cpu->exec.yield = false;
                cpu_debug_step_done(cpu);
                return CPU_EXIT_DEBUG;
            }
            if (cpu->exec.yield) {
                cpu->exec.yield = false;
                return (enum cpu_exit_reason)cpu_debug_yield_reason(cpu);
            }
            continue;
        }
        run_threaded(cpu, i, target);
        if (__builtin_expect(cpu->exec.yield, 0)) {
            cpu->exec.yield = false;
            /* early: a long REP is part-way (see exec_string.c), or a breakpoint (debug.c) */
            return (enum cpu_exit_reason)cpu_debug_yield_reason(cpu);
        }
    }
    return CPU_EXIT_BUDGET;
}

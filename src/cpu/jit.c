/* The JIT: code cache, hot-trace counting and the x86-64 code generator.
 *
 * Compiled code of a trace (System V ABI, the handler signature insn *fn(cpu, insn)):
 *   rbx = the struct cpu, rbp = the struct trace, rax/rcx/rdx/rsi/rdi/r8/r9 scratch,
 *   r10-r15 up to six guest registers (plan_registers: loaded at the body's start and after
 *   handler calls, written back at every exit and before every handler call, so handlers,
 *   faults and the run loop only ever see struct cpu's copy, current).
 * Lazy flags stay in struct cpu.  The code is specialised on the EIP the trace was entered with (e0): a different
 * EIP (the same physical code under another linear address or CS base) falls back to the
 * interpreter, so every guest EIP is a constant in the code.
 *
 * Exactness (the same contract as the interpreter, see exec.c and cpu.h):
 * - The trace only runs when the whole trace fits in the instruction budget (cpu_run's
 *   max_insns, stored in exec.insn_target); otherwise the first instruction's own handler
 *   runs and the run loop goes on one instruction at a time.  So -icount stays exact.
 * - insn_count is kept as a compile-time known offset from its value at entry and written
 *   before anything that can fault or leave; EIP, eip_start and esp_start are written
 *   before every handler call.  A fault therefore sees the same state as in the
 *   interpreter.  Inline fast paths (registers, the TLB hit of a memory access) cannot
 *   fault; every miss runs the instruction's own handler out of line.
 * - After a handler call the code continues only when the handler returned the next
 *   instruction and the trace is still valid (a store may have invalidated it).
 * - Interrupts are looked at where the interpreter looks: when leaving the trace (the run
 *   loop and exec_chain) and on a trace's jump back to its own start.
 * Flags: an inline ALU operation leaves the guest's flags in the host's flags (the same
 * instruction on the same ISA); a following Jcc tests them directly.  The lazy-flag fields
 * are written only when a later instruction of the trace could observe them (dead-flag
 * analysis over the trace). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/flags.h"
#include "cpu/jit.h"
#include "cpu/jit_emit.h"
#include "cpu/mmu.h"

#define JIT_CACHE_SIZE (16u << 20)
/* Bytes of a compiled trace's pushes: a chained jump from another trace enters after them. */
#define JIT_CHAIN_ENTRY 14
/* Host registers that hold guest registers within a trace (r10/r11 are caller-saved: reloaded
 * after every call anyway, as the callee-saved ones are, since a handler may write any guest
 * register). */
#define JIT_NCACHE 6
static const int cache_hr[JIT_NCACHE] = { HR_R10, HR_R11, HR_R12, HR_R13, HR_R14, HR_R15 };
/* Room a trace may need at most (48 instructions with slow paths, generously). */
#define JIT_TRACE_MAX_BYTES (64u << 10)

struct codegen;

struct jit_cache {
    struct codegen *g;  /* the code generator's scratch state */
    uint8_t *rw;       /* writable view: the code generator writes here */
    uint8_t *rx;       /* executable view of the same pages */
    size_t size;
    size_t used;
    struct jit_stats stats;
};

/* ---- Code cache ---- */

static struct codegen *codegen_alloc(void);

/* Two views of one memfd: never a page that is writable and executable at once. */
static struct jit_cache *cache_get(struct cpu *cpu)
{
    struct jit_cache *c = cpu->exec.jit;
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    /* Debugging aid: PCVM_JIT_CACHE_MB=N (1-1024) sizes the cache (a profile without flushes). */
    const char *mb = getenv("PCVM_JIT_CACHE_MB");
    size_t size = JIT_CACHE_SIZE;
    if (mb && atoi(mb) >= 1 && atoi(mb) <= 1024)
        size = (size_t)atoi(mb) << 20;
    int fd = memfd_create("pcvm-jit", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        log_printf(cpu->log, LOG_UNIMP, "JIT off: no code cache (%s)\n", strerror(errno));
        goto fail;
    }
    c->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    c->rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);
    fd = -1;
    if (c->rw == MAP_FAILED || c->rx == MAP_FAILED) {
        log_printf(cpu->log, LOG_UNIMP, "JIT off: cannot map the code cache (%s)\n", strerror(errno));
        if (c->rw != MAP_FAILED)
            munmap(c->rw, size);
        if (c->rx != MAP_FAILED)
            munmap(c->rx, size);
        goto fail;
    }
    c->g = codegen_alloc();
    if (!c->g)
        abort();
    c->size = size;
    c->stats.cache_size = size;
    cpu->exec.jit = c;
    return c;
fail:
    if (fd >= 0)
        close(fd);
    free(c);
    cpu->exec.jit_threshold = 0;
    return NULL;
}

void jit_flush(struct cpu *cpu)
{
    struct jit_cache *c = cpu->exec.jit;
    if (!c)
        return;
    const char *map = getenv("PCVM_JIT_MAP");
    FILE *f = map && c->used ? fopen(map, "a") : NULL;
    if (f) {
        fprintf(f, "FLUSH\n");   /* offsets are reused from here on */
        fclose(f);
    }
    c->used = 0;
}

void jit_destroy(struct cpu *cpu)
{
    struct jit_cache *c = cpu->exec.jit;
    if (!c)
        return;
    if (getenv("PCVM_JIT_STATS"))
        fprintf(stderr, "pcvm: jit cpu%d: %llu traces compiled, %llu bytes of code, %.3f s compiling, "
                "%llu code cache flushes (cache %llu KiB), %llu exits linked\n", cpu->index,
                (unsigned long long)c->stats.traces, (unsigned long long)c->stats.code_bytes,
                c->stats.compile_ns / 1e9, (unsigned long long)c->stats.flushes,
                (unsigned long long)(c->size >> 10), (unsigned long long)c->stats.links);
    munmap(c->rw, c->size);
    munmap(c->rx, c->size);
    free(c->g);
    free(c);
    cpu->exec.jit = NULL;
}

void jit_get_stats(const struct cpu *cpu, struct jit_stats *out)
{
    const struct jit_cache *c = cpu->exec.jit;
    if (c)
        *out = c->stats;
    else
        memset(out, 0, sizeof(*out));
}

/* ---- Code generator ---- */

#define O_CPU(field) ((int32_t)offsetof(struct cpu, field))
#define O_TRACE(field) ((int32_t)offsetof(struct trace, field))
#define O_INSN(k) ((int32_t)(offsetof(struct trace, insns) + (size_t)(k) * sizeof(struct insn)))

/* What an instruction does to the guest flags, for the dead-flag analysis. */
enum { FX_NONE, FX_WRITE_ALL, FX_OBSERVE };

/* An out-of-line slow path: run instruction k's handler, then continue at `resume`. */
struct slow_path {
    long jumps[4];     /* rel32 fields that lead here */
    unsigned njumps;
    unsigned k;
    int v;             /* insn_count offset at the jump sites and at resume */
    long resume;       /* -1: the handler ends the trace (no resume) */
    int reload;        /* lf_kind + 1: recreate the host flags from the lazy ones at resume */
    uint8_t dirty;     /* guest registers newer in host registers than in struct cpu (jump sites) */
    uint8_t loaded;    /* guest registers in host registers (jump sites and resume) */
};

struct codegen {
    struct cpu *cpu;
    struct trace *t;
    struct jit_buf b;
    uint32_t e0;
    uint32_t off[TRACE_MAX_INSNS + 1];   /* byte offset of each instruction */
    struct insn_form form[TRACE_MAX_INSNS];
    bool flags_live_after[TRACE_MAX_INSNS];
    int v;                 /* insn_count - (its value at entry), as known here */
    long body;             /* offset of the first instruction's code */
    long fn_at;            /* offset of the code's entry (after the struct jit_meta) */
    uint32_t cs_base;      /* the CS base the code is specialised on */
    long epilogue;         /* offset of the common exit (return value in rax) */
    long exit_jumps[TRACE_MAX_INSNS * 8 + 8];
    unsigned nexit;
    /* Guest registers in host registers: which guest registers this trace keeps in one
     * (cached), the host register of each, and, as known at this point of the code, which
     * are loaded (the host register holds the value) and dirty (struct cpu's copy is old).
     * dirty is a subset of loaded; registers not loaded are current in struct cpu. */
    uint8_t cached, loaded, dirty;
    int8_t hreg[8];
    uint8_t top_loaded, top_dirty;   /* the state at body_loaded (where a loop jumps back) */
    long body_loaded;
    uint8_t reload_after[TRACE_MAX_INSNS];   /* registers to reload after instruction k's handler */
    struct slow_path slow[TRACE_MAX_INSNS * 2];
    unsigned nslow;
    bool host_flags;       /* host EFLAGS hold the guest's, from lf_kind_known's operation */
    bool host_cf_bad;      /* ... except CF (after an inline INC/DEC: CF is in cpu->eflags) */
    bool lf_known;         /* the lazy-flag fields hold an operation of kind lf_kind */
    bool lf_partial;       /* ... for all flags but CF (INC/DEC): not reloadable */
    uint32_t lf_kind;
    unsigned noinline;     /* debugging: 1 << FORM_* not to inline (PCVM_JIT_NOINLINE) */
    uint64_t max_traces;   /* debugging: compile no more than this many (PCVM_JIT_MAX_TRACES) */
};

static struct codegen *codegen_alloc(void)
{
    struct codegen *g = calloc(1, sizeof(struct codegen));
    const char *no = getenv("PCVM_JIT_NOINLINE");
    if (g && no)
        g->noinline = (unsigned)strtoul(no, NULL, 0);
    const char *max = getenv("PCVM_JIT_MAX_TRACES");
    if (g)
        g->max_traces = max ? strtoull(max, NULL, 0) : UINT64_MAX;
    return g;
}

/* Taken direct branch, compiled: exec_chain with the branch's instruction. */
static struct insn *jit_chain(struct cpu *cpu, struct insn *i, uint32_t target)
{
    struct insn *n = exec_chain(cpu, i, target);
    if (n || i->nochain)
        return n;
    /* Another page (a call into another function, mostly): the jump cache, which checks the
     * linear address, CR3 and mode as it does for RET, instead of a trip through the run loop. */
    return exec_chain_indirect(cpu);
}

/* RET, compiled: continue at cpu->eip through the jump cache. */
static struct insn *jit_chain_indirect(struct cpu *cpu)
{
    return exec_chain_indirect(cpu);
}

/* Stored just before a compiled trace's code (read back through the executable view). */
struct jit_meta {
    uint32_t e0;        /* the EIP the code is specialised on */
    uint32_t cs_base;   /* ... and the CS base */
    uint32_t direct;    /* offset from the code's start of the entry that linked jumps take */
    uint32_t magic;
};
#define JIT_META_MAGIC 0x4a495431u

static bool in_cache(const struct jit_cache *c, const void *p)
{
    return (const uint8_t *)p >= c->rx && (const uint8_t *)p < c->rx + c->used;
}

/* A direct exit of trace t (a taken branch, or the fall-through) to target, not linked yet:
 * chain as jit_chain does, and when the next trace is compiled for exactly this EIP and CS
 * base, patch the exit's jump (rel32 at `site` bytes into t's code) to that trace's direct
 * entry, so later runs go straight there (while no interrupt is pending; the direct entry
 * checks the budget and that the trace is still valid). */
static struct insn *jit_link(struct cpu *cpu, struct insn *i, uint32_t target, struct trace *t, uint32_t site)
{
    struct insn *n = exec_chain(cpu, i, target);
    if (!n)
        return i->nochain ? NULL : exec_chain_indirect(cpu);
    struct jit_cache *c = cpu->exec.jit;
    const uint8_t *src = (const uint8_t *)(void *)t->insns[0].fn, *dst = (const uint8_t *)(void *)n->fn;
    if (c && t->valid && in_cache(c, src) && in_cache(c, dst)) {
        const struct jit_meta *m = (const struct jit_meta *)(const void *)(dst - sizeof(struct jit_meta));
        if (m->magic == JIT_META_MAGIC && m->e0 == target && m->cs_base == cpu->seg[SEG_CS].base) {
            const uint8_t *rel_at = src + site;
            int32_t rel = (int32_t)((dst + m->direct) - (rel_at + 4));
            memcpy(c->rw + (rel_at - c->rx), &rel, 4);
            c->stats.links++;
        }
    }
    return n;
}

static uint32_t eip_of(const struct codegen *g, unsigned k)
{
    return g->e0 + g->off[k];
}

static unsigned bytes_of(unsigned sz)
{
    return 1u << sz;
}

/* The guest register r of size sz in struct cpu (byte registers 4-7 are AH..BH). */
static struct jit_mem greg(unsigned r, unsigned sz)
{
    if (sz == SZ8)
        return jm(HR_RBX, O_CPU(regs) + (int32_t)(4 * (r & 3) + (r >> 2)));
    return jm(HR_RBX, O_CPU(regs) + (int32_t)(4 * r));
}

static struct jit_mem cpu_field(int32_t off)
{
    return jm(HR_RBX, off);
}

/* The 32-bit guest register that holds register r of size sz. */
static unsigned greg_id(unsigned r, unsigned sz)
{
    return sz == SZ8 ? r & 3 : r;
}

/* The host register holding guest register r (32-bit number) here, or HR_NONE. */
static int loaded_hr(const struct codegen *g, unsigned r)
{
    return (g->loaded >> r) & 1 ? g->hreg[r] : HR_NONE;
}

/* hr (a scratch register) = guest register r of size sz, zero-extended.  Moves only: the
 * host flags survive. */
static void ld(struct codegen *g, int hr, unsigned r, unsigned sz)
{
    struct jit_buf *b = &g->b;
    unsigned gr = greg_id(r, sz);
    int h = loaded_hr(g, gr);
    if (h == HR_NONE) {
        e_load(b, bytes_of(sz), hr, greg(r, sz));
    } else if (sz == SZ32) {
        if (h != hr)
            e_rr(b, 4, 0x89, h, hr);
    } else if (sz == SZ16) {
        e_rr(b, 4, 0x0fb7, hr, h);
    } else if (r < 4) {
        e_rr(b, 4, 0x0fb6, hr, h);
    } else {
        /* AH..BH: through struct cpu. */
        if ((g->dirty >> gr) & 1)
            e_store(b, 4, greg(gr, SZ32), h);
        e_load(b, 1, hr, greg(r, SZ8));
    }
}

/* Guest register r of size sz = the low bytes of hr (rax, rcx or rdx).  Moves only. */
static void st(struct codegen *g, unsigned r, unsigned sz, int hr)
{
    struct jit_buf *b = &g->b;
    unsigned gr = greg_id(r, sz);
    int h = loaded_hr(g, gr);
    if (h == HR_NONE) {
        e_store(b, bytes_of(sz), greg(r, sz), hr);
        return;
    }
    if (sz == SZ32) {
        e_rr(b, 4, 0x89, hr, h);
    } else if (sz == SZ16) {
        e_rr(b, 2, 0x89, hr, h);
    } else if (r < 4) {
        e_rr(b, 1, 0x88, hr, h);
    } else {
        if ((g->dirty >> gr) & 1)
            e_store(b, 4, greg(gr, SZ32), h);
        e_store(b, 1, greg(r, SZ8), hr);
        e_load(b, 4, h, greg(gr, SZ32));
    }
    g->dirty |= (uint8_t)(1u << gr);
}

/* Guest register r of size sz = imm.  Moves only. */
static void st_imm(struct codegen *g, unsigned r, unsigned sz, uint32_t imm)
{
    struct jit_buf *b = &g->b;
    unsigned gr = greg_id(r, sz);
    int h = loaded_hr(g, gr);
    if (h == HR_NONE) {
        e_store_imm(b, bytes_of(sz), greg(r, sz), imm);
        return;
    }
    if (sz == SZ32) {
        e_mov_imm32(b, h, imm);
    } else if (sz == SZ16) {
        e_rr(b, 2, 0xc7, 0, h);
        jb_imm(b, 2, imm);
    } else if (r < 4) {
        e_rr(b, 1, 0xc6, 0, h);
        jb_byte(b, (uint8_t)imm);
    } else {
        if ((g->dirty >> gr) & 1)
            e_store(b, 4, greg(gr, SZ32), h);
        e_store_imm(b, 1, greg(r, SZ8), imm);
        e_load(b, 4, h, greg(gr, SZ32));
    }
    g->dirty |= (uint8_t)(1u << gr);
}

/* The host register of 32-bit guest register r for an operation in place (marked dirty), or
 * HR_NONE when it is not in one. */
static int dst_hr(struct codegen *g, unsigned r)
{
    int h = loaded_hr(g, r);
    if (h != HR_NONE)
        g->dirty |= (uint8_t)(1u << r);
    return h;
}

/* Store the dirty guest registers in mask to struct cpu (the state is not changed: used on
 * the way out, where the code generator's state goes on for the fall-through). */
static void writeback(struct codegen *g, uint8_t mask)
{
    for (unsigned r = 0; r < 8; r++)
        if ((g->dirty & mask) >> r & 1)
            e_store(&g->b, 4, greg(r, SZ32), g->hreg[r]);
}

/* Load the cached guest registers in mask from struct cpu (they are current there). */
static void load_regs(struct codegen *g, uint8_t mask)
{
    mask &= g->cached;
    for (unsigned r = 0; r < 8; r++)
        if (mask >> r & 1)
            e_load(&g->b, 4, g->hreg[r], greg(r, SZ32));
}

/* insn_count = entry value + v. Clobbers host flags. */
static void count_to(struct codegen *g, int v)
{
    if (v != g->v) {
        e_alu_mi(&g->b, 8, JA_ADD, cpu_field(O_CPU(insn_count)), (uint32_t)(v - g->v));
        g->host_flags = false;
    }
    g->v = v;
}

static void jump_to_epilogue(struct codegen *g)
{
    long at = e_jmp32(&g->b);
    if (at >= 0 && g->nexit < sizeof(g->exit_jumps) / sizeof(g->exit_jumps[0]))
        g->exit_jumps[g->nexit++] = at;
    else
        g->b.overflow = true;
}

static void jcc_to_epilogue(struct codegen *g, unsigned cc)
{
    long at = e_jcc32(&g->b, cc);
    if (at >= 0 && g->nexit < sizeof(g->exit_jumps) / sizeof(g->exit_jumps[0]))
        g->exit_jumps[g->nexit++] = at;
    else
        g->b.overflow = true;
}

/* Leave through a direct exit to target, chaining as instruction ci's exec_chain would (with
 * eip_start = start): a jump that jit_link patches to the next trace's direct entry once that
 * trace is compiled; until then (and while an interrupt is pending) jit_link itself.
 * insn_count must be one short (the run loop's count of the exit instruction). */
static void emit_link_exit(struct codegen *g, unsigned ci, uint32_t target, uint32_t start)
{
    struct jit_buf *b = &g->b;
    writeback(g, 0xff);
    e_store_imm(b, 4, cpu_field(O_CPU(eip)), target);
    e_alu_mi(b, 4, JA_CMP, cpu_field(O_CPU(interrupt_request)), 0);
    long irq = e_jcc32(b, CC_NE);
    long site = e_jmp32(b);
    jb_patch(b, irq, jb_here(b));
    jb_patch(b, site, jb_here(b));
    e_store_imm(b, 4, cpu_field(O_CPU(eip_start)), start);
    e_rr(b, 8, 0x89, HR_RBX, HR_RDI);
    e_lea(b, 8, HR_RSI, jm(HR_RBP, O_INSN(ci)));
    e_mov_imm32(b, HR_RDX, target);
    e_rr(b, 8, 0x89, HR_RBP, HR_RCX);
    e_mov_imm32(b, HR_R8, (uint32_t)(site - g->fn_at));
    e_mov_imm64(b, HR_RAX, (uint64_t)(uintptr_t)jit_link);
    e_call_reg(b, HR_RAX);
    jump_to_epilogue(g);
}

/* Leave the trace after m completed instructions with EIP = eip and rax = &insns[next]
 * (next < 0: NULL, back to the run loop). */
static void exit_trace(struct codegen *g, unsigned m, uint32_t eip, int next)
{
    struct jit_buf *b = &g->b;
    unsigned n = g->t->ninsn;
    count_to(g, (int)m - 1);
    if (next == (int)n && !g->t->insns[n].nochain) {
        /* Falling through to the next trace: what the end marker (h_end) would do. */
        emit_link_exit(g, n, eip, eip);
        return;
    }
    writeback(g, 0xff);
    e_store_imm(b, 4, cpu_field(O_CPU(eip)), eip);
    if (next >= 0) {
        e_lea(b, 8, HR_RAX, jm(HR_RBP, O_INSN(next)));
    } else {
        e_mov_imm32(b, HR_RAX, 0);
    }
    jump_to_epilogue(g);
}

/* Call instruction k's own handler with the interpreter's state (EIP, eip_start,
 * esp_start, insn_count).  Afterwards insn_count = entry + k, and the code goes on only when
 * the handler returned insns[k + 1] of a still valid trace (else it leaves with rax). */
static void call_handler(struct codegen *g, unsigned k, bool last, uint8_t reload)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    insn_fn fn = k == 0 ? g->t->entry_fn : i->fn;   /* insns[0].fn is the JIT's own */
    e_store_imm(b, 4, cpu_field(O_CPU(eip)), eip_of(g, k));
    e_store_imm(b, 4, cpu_field(O_CPU(eip_start)), eip_of(g, k));
    ld(g, HR_RAX, R_ESP, SZ32);
    e_store(b, 4, cpu_field(O_CPU(esp_start)), HR_RAX);
    count_to(g, (int)k);
    /* The handler reads and writes struct cpu's registers (and a fault leaves from it). */
    writeback(g, 0xff);
    e_rr(b, 8, 0x89, HR_RBX, HR_RDI);                 /* mov rdi, rbx */
    e_lea(b, 8, HR_RSI, jm(HR_RBP, O_INSN(k)));
    e_mov_imm64(b, HR_RAX, (uint64_t)(uintptr_t)fn);
    e_call_reg(b, HR_RAX);
    g->host_flags = false;
    g->lf_known = false;
    if (last) {
        jump_to_epilogue(g);
        return;
    }
    e_lea(b, 8, HR_RCX, jm(HR_RBP, O_INSN(k + 1)));
    e_rr(b, 8, 0x39, HR_RCX, HR_RAX);                 /* cmp rax, rcx */
    jcc_to_epilogue(g, CC_NE);
    e_alu_mi(b, 1, JA_CMP, jm(HR_RBP, O_TRACE(valid)), 0);
    jcc_to_epilogue(g, CC_E);
    g->loaded = reload & g->cached;
    g->dirty = 0;
    load_regs(g, g->loaded);
}

/* A jump (rel32 field at `at`) to a new slow path for instruction k. */
static struct slow_path *slow_new(struct codegen *g, unsigned k, long at)
{
    if (g->nslow >= sizeof(g->slow) / sizeof(g->slow[0]) || at < 0) {
        g->b.overflow = true;
        return NULL;
    }
    struct slow_path *s = &g->slow[g->nslow++];
    s->njumps = 1;
    s->jumps[0] = at;
    s->k = k;
    s->v = g->v;
    s->resume = -1;
    s->reload = 0;
    s->dirty = g->dirty;
    s->loaded = g->loaded;
    return s;
}

static void slow_add_jump(struct codegen *g, struct slow_path *s, long at)
{
    if (!s)
        return;
    if (s->njumps >= 4 || at < 0) {
        g->b.overflow = true;
        return;
    }
    s->jumps[s->njumps++] = at;
}

static void emit_flags_from_lazy(struct codegen *g, uint32_t kind);
static bool reload_host_flags(struct codegen *g);

static void emit_slow_paths(struct codegen *g)
{
    for (unsigned n = 0; n < g->nslow; n++) {
        struct slow_path *s = &g->slow[n];
        long here = jb_here(&g->b);
        for (unsigned j = 0; j < s->njumps; j++)
            jb_patch(&g->b, s->jumps[j], here);
        g->v = s->v;
        g->dirty = s->dirty;
        g->loaded = s->loaded;
        /* Back at resume with the registers loaded there (clean: a superset of nothing). */
        call_handler(g, s->k, s->resume < 0, s->loaded);
        if (s->resume >= 0) {
            count_to(g, s->v);
            if (s->reload)
                emit_flags_from_lazy(g, (uint32_t)s->reload - 1);
            jb_patch(&g->b, e_jmp32(&g->b), s->resume);
        }
    }
}

/* eax = the 32-bit effective address of instruction i's memory operand (P_A32). */
static void emit_ea(struct codegen *g, const struct insn *i)
{
    struct jit_buf *b = &g->b;
    struct jit_mem m = { HR_RAX, HR_NONE, 0, (int32_t)i->disp };
    if (i->base != NOREG && (m.base = loaded_hr(g, i->base)) == HR_NONE) {
        e_load(b, 4, HR_RAX, greg(i->base, SZ32));
        m.base = HR_RAX;
    } else if (i->base == NOREG) {
        e_mov_imm32(b, HR_RAX, 0);
    }
    if (i->index != NOREG) {
        m.index = loaded_hr(g, i->index);
        if (m.index == HR_NONE) {
            e_load(b, 4, HR_RCX, greg(i->index, SZ32));
            m.index = HR_RCX;
        }
        m.scale = i->scale;
    }
    e_lea(b, 4, HR_RAX, m);
}

/* The TLB fast path of a data access of `size` bytes at i->seg:eax.  Jumps to the slow path
 * s on anything but a hit; on a hit, rdx + rcx is the host address. */
static struct slow_path *emit_tlb(struct codegen *g, unsigned k, unsigned seg, unsigned size, bool write)
{
    struct jit_buf *b = &g->b;
    int32_t segw = O_CPU(sys.segw) + (int32_t)(seg * sizeof(struct seg_window));
    int32_t wmin = segw + (int32_t)(write ? offsetof(struct seg_window, wr_min) : offsetof(struct seg_window, rd_min));
    int32_t wmax = segw + (int32_t)(write ? offsetof(struct seg_window, wr_max) : offsetof(struct seg_window, rd_max));
    /* Segment window: off >= min && off + size - 1 <= max (64-bit). */
    e_alu_rm(b, 4, JA_CMP, HR_RAX, cpu_field(wmin));
    struct slow_path *s = slow_new(g, k, e_jcc32(b, CC_B));
    e_lea(b, 8, HR_RCX, jm(HR_RAX, (int32_t)size - 1));
    e_alu_rm(b, 8, JA_CMP, HR_RCX, cpu_field(wmax));
    slow_add_jump(g, s, e_jcc32(b, CC_A));
    /* Linear address and the tag of its last byte's page. */
    e_load(b, 4, HR_RCX, cpu_field(O_CPU(seg) + (int32_t)(seg * sizeof(struct seg)) + (int32_t)offsetof(struct seg, base)));
    e_alu_rr(b, 4, JA_ADD, HR_RCX, HR_RAX);
    e_lea(b, 4, HR_RDX, jm(HR_RCX, (int32_t)size - 1));
    e_alu_ri(b, 4, JA_AND, HR_RDX, 0xfffff000u);
    e_alu_ri(b, 4, JA_OR, HR_RDX, 1);
    /* The entry: tlb + ((lin >> 12) & (TLB_ENTRIES - 1)) * sizeof(entry). */
    e_rr(b, 4, 0x89, HR_RCX, HR_RSI);                 /* mov esi, ecx */
    e_shift_ri(b, 4, 5, HR_RSI, 12);                  /* shr esi, 12 */
    e_alu_ri(b, 4, JA_AND, HR_RSI, TLB_ENTRIES - 1);
    if (sizeof(struct tlb_entry) == 48) {
        e_lea(b, 4, HR_RSI, (struct jit_mem){ HR_RSI, HR_RSI, 1, 0 });   /* esi * 3 */
        e_shift_ri(b, 4, 4, HR_RSI, 4);                                  /* * 16 */
    } else {
        e_imul_rri(b, HR_RSI, HR_RSI, (uint32_t)sizeof(struct tlb_entry));
    }
    e_alu_rm(b, 8, JA_ADD, HR_RSI, cpu_field(O_CPU(sys.tlb)));
    e_load(b, 1, HR_RDI, cpu_field(write ? O_CPU(sys.wr_kind) : O_CPU(sys.rd_kind)));
    struct jit_mem tag = { HR_RSI, HR_RDI, 2, (int32_t)offsetof(struct tlb_entry, tag) };
    e_alu_rm(b, 4, JA_CMP, HR_RDX, tag);
    slow_add_jump(g, s, e_jcc32(b, CC_NE));
    if (size > 1) {
        /* Misaligned with alignment checking possible: the slow path decides on #AC. */
        e_rr(b, 1, 0xf6, 0, HR_RCX);                  /* test cl, size - 1 */
        jb_byte(b, (uint8_t)(size - 1));
        long aligned = e_jcc32(b, CC_E);
        e_alu_mi(b, 1, JA_CMP, cpu_field(O_CPU(sys.ac_possible)), 0);
        slow_add_jump(g, s, e_jcc32(b, CC_NE));
        jb_patch(b, aligned, jb_here(b));
    }
    e_load(b, 8, HR_RDX, jm(HR_RSI, (int32_t)offsetof(struct tlb_entry, addend)));
    return s;
}

/* Lazy flags of an inline operation: kind, operands in edx / ecx (or imm), result in eax
 * (zero-extended here). Only mov and movzx: the host flags survive. */
static void store_lazy_flags(struct codegen *g, uint32_t kind, unsigned sz, bool op2_imm, uint32_t imm,
                             bool zero_ops, uint32_t mask)
{
    struct jit_buf *b = &g->b;
    if (sz == SZ8)
        e_rr(b, 4, 0x0fb6, HR_RAX, HR_RAX);           /* movzx eax, al */
    else if (sz == SZ16)
        e_rr(b, 4, 0x0fb7, HR_RAX, HR_RAX);           /* movzx eax, ax */
    if (zero_ops) {
        e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_op1)), 0);
        e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_op2)), 0);
    } else {
        e_store(b, 4, cpu_field(O_CPU(exec.lf_op1)), HR_RDX);
        if (op2_imm)
            e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_op2)), imm);
        else
            e_store(b, 4, cpu_field(O_CPU(exec.lf_op2)), HR_RCX);
    }
    e_store(b, 4, cpu_field(O_CPU(exec.lf_result)), HR_RAX);
    e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_kind)), kind);
    e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_mask)), mask);
    g->lf_known = true;
    g->lf_kind = kind;
}

static bool alu_inlinable(const struct insn_form *f)
{
    return (f->kind == FORM_ALU_RR || f->kind == FORM_ALU_RI) && f->alu != JA_ADC && f->alu != JA_SBB;
}

/* ALU with a memory operand, inline (ADC/SBB read CF: their handlers). */
static bool alu_mem_inlinable(const struct insn_form *f)
{
    return (f->kind == FORM_ALU_RM || f->kind == FORM_ALU_MR || f->kind == FORM_ALU_MI) && f->alu != JA_ADC &&
           f->alu != JA_SBB;
}

static uint32_t alu_lf_kind(unsigned alu, unsigned sz)
{
    switch (alu) {
    case JA_ADD: return LF_ADD + sz;
    case JA_SUB: case JA_CMP: return LF_SUB + sz;
    default: return LF_LOGIC + sz;
    }
}

/* Nothing is known about the flags any more (a handler ran, or host flags were clobbered). */
static void flags_forget(struct codegen *g)
{
    g->host_flags = false;
    g->host_cf_bad = false;
    g->lf_known = false;
    g->lf_partial = false;
}

/* The host flags hold those of an inline operation of lazy kind `kind`; `live`: a later
 * instruction may look at them, so the lazy-flag fields were stored too. */
static void flags_from_host(struct codegen *g, uint32_t kind, bool live)
{
    g->host_flags = true;
    g->host_cf_bad = false;
    g->lf_known = live;
    g->lf_partial = false;
    g->lf_kind = kind;
}

/* The ALU operation of instruction k between eax (op1) and ecx (op2) into eax (edx keeps op1
 * when the flags are live); stores the lazy flags when a later instruction may see them. */
static void emit_alu_op(struct codegen *g, unsigned k, unsigned alu, bool test, bool op2_imm)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    bool live = g->flags_live_after[k];
    if (live)
        e_rr(b, 4, 0x89, HR_RAX, HR_RDX);             /* mov edx, eax: op1 */
    e_alu_rr(b, bytes_of(f->sz), alu == JA_CMP ? JA_SUB : alu, HR_RAX, HR_RCX);
    uint32_t kind = test ? LF_LOGIC + f->sz : alu_lf_kind(alu, f->sz);
    if (live)
        store_lazy_flags(g, kind, f->sz, op2_imm, i->imm & lf_mask_tab[f->sz], test, FLAGS_ARITH);
    flags_from_host(g, kind, live);
}

/* ALU/TEST between registers or with an immediate, flags in the host's flags. */
static void emit_alu(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    bool test = f->kind == FORM_TEST_RR || f->kind == FORM_TEST_RI;
    bool imm = f->kind == FORM_ALU_RI || f->kind == FORM_TEST_RI;
    unsigned alu = test ? JA_AND : f->alu;
    ld(g, HR_RAX, f->dst, f->sz);
    if (imm)
        e_mov_imm32(b, HR_RCX, i->imm & lf_mask_tab[f->sz]);
    else
        ld(g, HR_RCX, f->src, f->sz);
    emit_alu_op(g, k, alu, test, imm);
    if (!test && alu != JA_CMP)
        st(g, f->dst, f->sz, HR_RAX);
}

/* ALU with a memory operand (reg op= [mem], [mem] op= reg / imm) through the TLB fast path;
 * a miss runs the handler, which stores the same lazy flags. */
static void emit_alu_mem(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    unsigned size = bytes_of(f->sz);
    bool to_mem = f->kind != FORM_ALU_RM && f->alu != JA_CMP && !f->test;
    emit_ea(g, i);
    struct slow_path *s = emit_tlb(g, k, i->seg, size, to_mem);
    struct jit_mem host = { HR_R8, HR_NONE, 0, 0 };
    e_lea(b, 8, HR_R8, (struct jit_mem){ HR_RDX, HR_RCX, 0, 0 });
    bool imm = f->kind == FORM_ALU_MI;
    if (f->kind == FORM_ALU_RM) {
        ld(g, HR_RAX, f->dst, f->sz);
        e_load(b, size, HR_RCX, host);
    } else {
        e_load(b, size, HR_RAX, host);
        if (imm)
            e_mov_imm32(b, HR_RCX, i->imm & lf_mask_tab[f->sz]);
        else
            ld(g, HR_RCX, f->src, f->sz);
    }
    emit_alu_op(g, k, f->alu, f->test, imm);
    if (f->alu != JA_CMP && !f->test) {
        if (f->kind == FORM_ALU_RM)
            st(g, f->dst, f->sz, HR_RAX);
        else
            e_store(b, size, host, HR_RAX);
    }
    bool live = g->flags_live_after[k];
    uint32_t kind = g->lf_kind;
    if (s) {
        s->resume = jb_here(b);
        if (live)
            s->reload = (int)kind + 1;
    }
    /* Both paths arrive with the lazy fields stored (when live) and, when live, the host
     * flags recreated on the slow path. */
    if (live)
        flags_from_host(g, kind, true);
    else
        flags_forget(g);
}

/* A register-only operation whose flags nobody sees (shift, IMUL, INC/DEC): the host's own
 * instruction on the register in struct cpu. */
static void emit_dead_flags_op(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    struct jit_mem dst = greg(f->dst, SZ32);
    unsigned ext = f->alu == 6 ? 4 : f->alu;
    switch (f->kind) {
    case FORM_SHIFT: case FORM_ROT:
        if (f->cl) {
            ld(g, HR_RCX, R_ECX, SZ32);
            int h = dst_hr(g, f->dst);
            if (h != HR_NONE)
                e_rr(b, 4, 0xd3, (int)ext, h);
            else
                e_shift_mcl(b, 4, ext, dst);
        } else if (f->count) {
            int h = dst_hr(g, f->dst);
            if (h != HR_NONE)
                e_shift_ri(b, 4, ext, h, (uint8_t)f->count);
            else
                e_shift_mi(b, 4, ext, dst, (uint8_t)f->count);
        }
        break;
    case FORM_IMUL:
        if (f->imm) {
            ld(g, HR_RCX, f->src, SZ32);
            e_imul_rri(b, HR_RAX, HR_RCX, i->imm);
        } else {
            ld(g, HR_RAX, f->dst, SZ32);
            ld(g, HR_RCX, f->src, SZ32);
            e_rr(b, 4, 0x0faf, HR_RAX, HR_RCX);       /* imul eax, ecx */
        }
        st(g, f->dst, SZ32, HR_RAX);
        break;
    default: {  /* FORM_INCDEC */
        int h = dst_hr(g, f->dst);
        if (h != HR_NONE)
            e_incdec_r(b, 4, f->alu, h);
        else
            e_rm(b, 4, 0xff, (int)f->alu, dst);
        break;
    }
    }
    flags_forget(g);
}

/* SHL/SHR/SAR r32 by a non-zero immediate whose flags may be seen, as the interpreter's
 * shift_r32 leaves them: CF (the host's: the last bit shifted out), OF (SHL: the result's
 * sign ^ CF; SHR: the operand's sign; SAR: 0) and AF = 0 in EFLAGS, SF/ZF/PF lazy from the
 * result.  The host flags are the host's own afterwards (not the guest's). */
static void emit_shift_live(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn_form *f = &g->form[k];
    unsigned ext = f->alu == 6 ? 4 : f->alu;
    ld(g, HR_RAX, f->dst, SZ32);
    e_rr(b, 4, 0x89, HR_RAX, HR_RDX);                 /* mov edx, eax: the operand */
    e_shift_ri(b, 4, ext, HR_RAX, (uint8_t)f->count);
    e_setcc(b, CC_B, HR_RCX);
    e_rr(b, 4, 0x0fb6, HR_RCX, HR_RCX);               /* ecx = CF */
    st(g, f->dst, SZ32, HR_RAX);
    if (ext == 4) {
        e_rr(b, 4, 0x89, HR_RAX, HR_RDX);
        e_shift_ri(b, 4, 5, HR_RDX, 31);
        e_alu_rr(b, 4, JA_XOR, HR_RDX, HR_RCX);
    } else if (ext == 5) {
        e_shift_ri(b, 4, 5, HR_RDX, 31);
    } else {
        e_mov_imm32(b, HR_RDX, 0);
    }
    e_shift_ri(b, 4, 4, HR_RDX, 11);
    e_alu_rr(b, 4, JA_OR, HR_RDX, HR_RCX);            /* edx = OF << 11 | CF */
    e_load(b, 4, HR_RSI, cpu_field(O_CPU(eflags)));
    e_alu_ri(b, 4, JA_AND, HR_RSI, ~(uint32_t)(FLAG_CF | FLAG_OF | FLAG_AF));
    e_alu_rr(b, 4, JA_OR, HR_RSI, HR_RDX);
    e_store(b, 4, cpu_field(O_CPU(eflags)), HR_RSI);
    e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_op1)), 0);
    e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_op2)), 0);
    e_store(b, 4, cpu_field(O_CPU(exec.lf_result)), HR_RAX);
    e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_kind)), LF_LOGIC + SZ32);
    e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_mask)), FLAG_SF | FLAG_ZF | FLAG_PF);
    flags_forget(g);
}

/* INC/DEC r32 whose flags may be seen: CF stays (folded into cpu->eflags from the host
 * flags), the others are the host's and go to the lazy fields.  False: not inlinable here. */
static bool emit_incdec_live(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn_form *f = &g->form[k];
    if (!g->host_flags || g->host_cf_bad) {
        if (!reload_host_flags(g))
            return false;
    }
    e_setcc(b, CC_B, HR_RCX);                         /* cl = the guest's CF */
    e_rr(b, 4, 0x0fb6, HR_RCX, HR_RCX);               /* movzx ecx, cl */
    e_load(b, 4, HR_RAX, cpu_field(O_CPU(eflags)));
    e_alu_ri(b, 4, JA_AND, HR_RAX, ~(uint32_t)FLAG_CF);
    e_alu_rr(b, 4, JA_OR, HR_RAX, HR_RCX);
    e_store(b, 4, cpu_field(O_CPU(eflags)), HR_RAX);
    ld(g, HR_RAX, f->dst, SZ32);
    e_rr(b, 4, 0x89, HR_RAX, HR_RDX);                 /* mov edx, eax: op1 */
    e_incdec_r(b, 4, f->alu, HR_RAX);
    st(g, f->dst, SZ32, HR_RAX);
    uint32_t kind = (f->alu ? LF_SUB : LF_ADD) + SZ32;
    store_lazy_flags(g, kind, SZ32, true, 1, false, FLAGS_ARITH & ~FLAG_CF);
    g->host_flags = true;
    g->host_cf_bad = true;
    g->lf_known = true;
    g->lf_partial = true;
    g->lf_kind = kind;
    return true;
}

/* Host flags from lazy-flag fields of kind `kind` (ADD, SUB or LOGIC). Clobbers eax. */
static void emit_flags_from_lazy(struct codegen *g, uint32_t kind)
{
    struct jit_buf *b = &g->b;
    unsigned sz = kind & 3, size = bytes_of(sz), op = kind >> 2;
    if (op == LF_LOGIC >> 2) {
        e_load(b, 4, HR_RAX, cpu_field(O_CPU(exec.lf_result)));
        e_test_rr(b, size, HR_RAX, HR_RAX);
    } else {
        e_load(b, 4, HR_RAX, cpu_field(O_CPU(exec.lf_op1)));
        e_alu_rm(b, size, op == LF_ADD >> 2 ? JA_ADD : JA_CMP, HR_RAX, cpu_field(O_CPU(exec.lf_op2)));
    }
}

/* Recreate the host flags of the last inline operation from the lazy-flag fields. */
static bool reload_host_flags(struct codegen *g)
{
    if (!g->lf_known || g->lf_partial)
        return false;
    emit_flags_from_lazy(g, g->lf_kind);
    g->host_flags = true;
    g->host_cf_bad = false;
    return true;
}

/* Host condition cc reads CF. */
static bool cc_reads_cf(unsigned cc)
{
    return cc == CC_B || cc == CC_AE || cc == CC_BE || cc == CC_A;
}

/* Taken direct branch of instruction k to target: back to the trace's start in place, else
 * leave through exec_chain (interrupt check, same-page chaining).  check_limit: a target past
 * the CS limit runs the handler (which raises #GP). */
static void emit_branch_taken(struct codegen *g, unsigned k, uint32_t target, bool check_limit)
{
    struct jit_buf *b = &g->b;
    unsigned n = g->t->ninsn;
    if (check_limit) {
        /* (The lazy flags are in memory: Jcc reads them, so the dead-flag analysis kept them.) */
        e_alu_mi(b, 4, JA_CMP, cpu_field(O_CPU(seg) + (int32_t)(SEG_CS * sizeof(struct seg)) + (int32_t)offsetof(struct seg, limit)), target);
        slow_new(g, k, e_jcc32(b, CC_B));
    }
    if (target == g->e0) {
        /* A loop over this trace: a new iteration starts with insn_count at entry + k + 1. */
        count_to(g, (int)k + 1);
        e_alu_mi(b, 4, JA_CMP, cpu_field(O_CPU(interrupt_request)), 0);
        long ev = e_jcc32(b, CC_NE);
        e_load(b, 8, HR_RAX, cpu_field(O_CPU(exec.insn_target)));
        e_alu_rm(b, 8, JA_SUB, HR_RAX, cpu_field(O_CPU(insn_count)));
        e_alu_ri(b, 8, JA_CMP, HR_RAX, n);
        long budget = e_jcc32(b, CC_B);
        /* Into the state at body_loaded: its registers loaded, no other dirty one.  (The
         * code generator's state stays that of the exit below.) */
        load_regs(g, g->top_loaded & ~g->loaded);
        writeback(g, (uint8_t)~(g->top_dirty & g->top_loaded));
        jb_patch(b, e_jmp32(b), g->body_loaded);
        jb_patch(b, ev, jb_here(b));
        jb_patch(b, budget, jb_here(b));
        g->v = (int)k + 1;
        exit_trace(g, k + 1, target, -1);
        return;
    }
    count_to(g, (int)k);
    if (!(((g->cs_base + target) ^ (g->cs_base + eip_of(g, k))) & ~4095u) && !g->t->insns[k].nochain) {
        /* The same linear page: exec_chain's case, linkable. */
        emit_link_exit(g, k, target, eip_of(g, k));
        return;
    }
    writeback(g, 0xff);
    e_store_imm(b, 4, cpu_field(O_CPU(eip)), target);
    e_store_imm(b, 4, cpu_field(O_CPU(eip_start)), eip_of(g, k));
    e_rr(b, 8, 0x89, HR_RBX, HR_RDI);
    e_lea(b, 8, HR_RSI, jm(HR_RBP, O_INSN(k)));
    e_mov_imm32(b, HR_RDX, target);
    e_mov_imm64(b, HR_RAX, (uint64_t)(uintptr_t)jit_chain);
    e_call_reg(b, HR_RAX);
    jump_to_epilogue(g);
}

/* Make the host flags hold the guest's (CF included); false when that cannot be done here. */
static bool need_host_flags(struct codegen *g, bool cf)
{
    if (g->host_flags && !(cf && g->host_cf_bad))
        return true;
    return reload_host_flags(g);
}

/* CMOVcc / SETcc on registers, testing the host flags. */
static bool emit_cond_move(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn_form *f = &g->form[k];
    if (!need_host_flags(g, cc_reads_cf(f->cc)))
        return false;
    if (f->kind == FORM_CMOV) {
        ld(g, HR_RAX, f->dst, SZ32);
        ld(g, HR_RCX, f->src, SZ32);
        e_rr(b, 4, 0x0f40 | f->cc, HR_RAX, HR_RCX);   /* cmovcc eax, ecx */
        st(g, f->dst, SZ32, HR_RAX);
    } else {
        e_setcc(b, f->cc, HR_RAX);
        st(g, f->dst, SZ8, HR_RAX);
    }
    return true;
}

/* ADC/SBB between registers or with an immediate: the host's ADC/SBB on the guest's CF. */
static bool emit_adc(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    unsigned size = bytes_of(f->sz);
    bool imm = f->kind == FORM_ALU_RI, live = g->flags_live_after[k];
    if (!need_host_flags(g, true))
        return false;
    ld(g, HR_RAX, f->dst, f->sz);                    /* loads and moves keep the flags */
    if (imm)
        e_mov_imm32(b, HR_RCX, i->imm & lf_mask_tab[f->sz]);
    else
        ld(g, HR_RCX, f->src, f->sz);
    if (live) {
        e_rr(b, 4, 0x89, HR_RAX, HR_RDX);             /* mov edx, eax: op1 */
        e_setcc(b, CC_B, HR_R8);                      /* r8b = carry in */
    }
    e_alu_rr(b, size, f->alu, HR_RAX, HR_RCX);
    st(g, f->dst, f->sz, HR_RAX);
    if (live) {
        /* Lazy kind: ADD/SUB without a carry in, ADC/SBB (4 more) with one. */
        uint32_t base = (f->alu == JA_ADC ? LF_ADD : LF_SUB) + f->sz;
        e_rr(b, 4, 0x0fb6, HR_R8, HR_R8);             /* movzx r8d, r8b */
        e_lea(b, 4, HR_R8, (struct jit_mem){ HR_R8, HR_R8, 0, 0 });
        e_lea(b, 4, HR_R8, (struct jit_mem){ HR_R8, HR_R8, 0, (int32_t)base });
        if (f->sz == SZ8)
            e_rr(b, 4, 0x0fb6, HR_RAX, HR_RAX);
        else if (f->sz == SZ16)
            e_rr(b, 4, 0x0fb7, HR_RAX, HR_RAX);
        e_store(b, 4, cpu_field(O_CPU(exec.lf_op1)), HR_RDX);
        e_store(b, 4, cpu_field(O_CPU(exec.lf_op2)), HR_RCX);
        e_store(b, 4, cpu_field(O_CPU(exec.lf_result)), HR_RAX);
        e_store(b, 4, cpu_field(O_CPU(exec.lf_kind)), HR_R8);
        e_store_imm(b, 4, cpu_field(O_CPU(exec.lf_mask)), FLAGS_ARITH);
    }
    g->host_flags = true;
    g->host_cf_bad = false;
    g->lf_known = live;
    g->lf_partial = true;    /* the kind is known only at run time: not reloadable */
    g->lf_kind = 0;
    return true;
}

/* Stack push of eax's 4 bytes at SS:ESP-4 for instruction k (32-bit stack); a miss runs the
 * handler (which does the whole instruction) and the code resumes at the returned slow path's
 * resume point, which the caller sets. */
static struct slow_path *emit_push_eax(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    e_rr(b, 4, 0x89, HR_RAX, HR_R9);                  /* mov r9d, eax: the value */
    ld(g, HR_RAX, R_ESP, SZ32);
    e_alu_ri(b, 4, JA_SUB, HR_RAX, 4);
    struct slow_path *s = emit_tlb(g, k, SEG_SS, 4, true);
    e_store(b, 4, (struct jit_mem){ HR_RDX, HR_RCX, 0, 0 }, HR_R9);
    st(g, R_ESP, SZ32, HR_RAX);
    return s;
}

/* Code for instruction k; returns false when it ended the code of the trace. */
static bool emit_insn(struct codegen *g, unsigned k)
{
    struct jit_buf *b = &g->b;
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    bool last = k + 1 == g->t->ninsn;
    unsigned size = bytes_of(f->sz);
    bool stack32 = g->t->mode & 2;
    switch (f->kind) {
    case FORM_MOV_RR:
        ld(g, HR_RAX, f->src, f->sz);
        st(g, f->dst, f->sz, HR_RAX);
        break;
    case FORM_MOVX_RR:
        ld(g, HR_RAX, f->src, f->sz);
        st(g, f->dst, SZ32, HR_RAX);
        break;
    case FORM_MOV_RI:
        st_imm(g, f->dst, f->sz, i->imm & lf_mask_tab[f->sz]);
        break;
    case FORM_LEA:
        emit_ea(g, i);
        st(g, f->dst, SZ32, HR_RAX);
        break;
    case FORM_ALU_RR: case FORM_ALU_RI: case FORM_TEST_RR: case FORM_TEST_RI:
        if (!alu_inlinable(f) && f->kind != FORM_TEST_RR && f->kind != FORM_TEST_RI) {
            if (emit_adc(g, k))
                break;
            goto handler;
        }
        emit_alu(g, k);
        break;
    case FORM_CMOV: case FORM_SETCC:
        if (!emit_cond_move(g, k))
            goto handler;
        break;
    case FORM_ALU_RM: case FORM_ALU_MR: case FORM_ALU_MI:
        if (!alu_mem_inlinable(f))
            goto handler;
        emit_alu_mem(g, k);
        break;
    case FORM_SHIFT: case FORM_IMUL: case FORM_INCDEC: case FORM_ROT:
        if (!g->flags_live_after[k]) {
            emit_dead_flags_op(g, k);
            break;
        }
        if (f->kind == FORM_INCDEC && emit_incdec_live(g, k))
            break;
        if (f->kind == FORM_SHIFT && !f->cl) {
            if (f->count)
                emit_shift_live(g, k);
            break;
        }
        goto handler;
    case FORM_LOAD: case FORM_STORE: case FORM_STORE_IMM: case FORM_LOADX: {
        bool write = f->kind != FORM_LOAD && f->kind != FORM_LOADX;
        emit_ea(g, i);
        struct slow_path *s = emit_tlb(g, k, i->seg, size, write);
        struct jit_mem host = { HR_RDX, HR_RCX, 0, 0 };
        if (f->kind == FORM_LOAD) {
            e_load(b, size, HR_RAX, host);
            st(g, f->dst, f->sz, HR_RAX);
        } else if (f->kind == FORM_LOADX) {
            if (f->sx)
                e_rm(b, 4, f->sz == SZ8 ? 0x0fbe : 0x0fbf, HR_RAX, host);
            else
                e_load(b, size, HR_RAX, host);
            st(g, f->dst, SZ32, HR_RAX);
        } else if (f->kind == FORM_STORE) {
            ld(g, HR_RAX, f->src, f->sz);
            e_store(b, size, host, HR_RAX);
        } else {
            e_store_imm(b, size, host, i->imm & lf_mask_tab[f->sz]);
        }
        if (s)
            s->resume = jb_here(b);
        g->host_flags = false;
        g->host_cf_bad = false;
        break;
    }
    case FORM_PUSH: {
        if (!stack32)
            goto handler;
        ld(g, HR_RAX, f->src, SZ32);
        struct slow_path *s = emit_push_eax(g, k);
        if (s)
            s->resume = jb_here(b);
        g->host_flags = false;
        g->host_cf_bad = false;
        break;
    }
    case FORM_POP: {
        if (!stack32)
            goto handler;
        ld(g, HR_RAX, R_ESP, SZ32);
        struct slow_path *s = emit_tlb(g, k, SEG_SS, 4, false);
        e_load(b, 4, HR_RDX, (struct jit_mem){ HR_RDX, HR_RCX, 0, 0 });
        e_alu_ri(b, 4, JA_ADD, HR_RAX, 4);
        st(g, R_ESP, SZ32, HR_RAX);
        st(g, f->dst, SZ32, HR_RDX);                 /* after ESP: POP ESP loads the value */
        if (s)
            s->resume = jb_here(b);
        g->host_flags = false;
        g->host_cf_bad = false;
        break;
    }
    case FORM_CALL: {
        uint32_t ret = eip_of(g, k + 1), target = ret + i->disp;
        if (!stack32 || !last)
            goto handler;
        /* The CS limit first (the handler raises #GP before pushing), then the push. */
        e_alu_mi(b, 4, JA_CMP, cpu_field(O_CPU(seg) + (int32_t)(SEG_CS * sizeof(struct seg)) + (int32_t)offsetof(struct seg, limit)), target);
        slow_new(g, k, e_jcc32(b, CC_B));
        e_mov_imm32(b, HR_RAX, ret);
        emit_push_eax(g, k);   /* its slow path runs the whole CALL and leaves */
        g->host_flags = false;
        g->host_cf_bad = false;
        emit_branch_taken(g, k, target, false);
        return false;
    }
    case FORM_RET: {
        if (!stack32 || !last)
            goto handler;
        ld(g, HR_RAX, R_ESP, SZ32);
        emit_tlb(g, k, SEG_SS, 4, false);            /* a miss: the handler, which leaves */
        e_load(b, 4, HR_RDX, (struct jit_mem){ HR_RDX, HR_RCX, 0, 0 });
        e_alu_rm(b, 4, JA_CMP, HR_RDX, cpu_field(O_CPU(seg) + (int32_t)(SEG_CS * sizeof(struct seg)) + (int32_t)offsetof(struct seg, limit)));
        slow_new(g, k, e_jcc32(b, CC_A));            /* past the limit: the handler's #GP */
        e_alu_ri(b, 4, JA_ADD, HR_RAX, 4);
        st(g, R_ESP, SZ32, HR_RAX);
        writeback(g, 0xff);
        e_store(b, 4, cpu_field(O_CPU(eip)), HR_RDX);
        count_to(g, (int)k);
        e_store_imm(b, 4, cpu_field(O_CPU(eip_start)), eip_of(g, k));
        e_rr(b, 8, 0x89, HR_RBX, HR_RDI);
        e_mov_imm64(b, HR_RAX, (uint64_t)(uintptr_t)jit_chain_indirect);
        e_call_reg(b, HR_RAX);
        jump_to_epilogue(g);
        return false;
    }
    case FORM_JCC: case FORM_JMP: {
        uint32_t next = eip_of(g, k + 1), target = next + i->disp;
        if (f->kind == FORM_JMP) {
            emit_branch_taken(g, k, target, true);
            return false;
        }
        if ((!g->host_flags || (g->host_cf_bad && cc_reads_cf(f->cc))) && !reload_host_flags(g))
            goto handler;
        if (!last) {
            /* A Jcc inside the trace (traces run on past conditional branches): the taken
             * side leaves, the fall-through goes on in compiled code with the state of
             * before the branch (a Jcc changes no flags). */
            long skip = e_jcc32(b, f->cc ^ 1);
            int v = g->v;
            bool hf = g->host_flags, cb = g->host_cf_bad, lk = g->lf_known, lp = g->lf_partial;
            uint32_t kind = g->lf_kind;
            uint8_t loaded = g->loaded, dirty = g->dirty;
            emit_branch_taken(g, k, target, true);
            jb_patch(b, skip, jb_here(b));
            g->loaded = loaded;
            g->dirty = dirty;
            g->v = v;
            g->host_flags = hf;
            g->host_cf_bad = cb;
            g->lf_known = lk;
            g->lf_partial = lp;
            g->lf_kind = kind;
            break;
        }
        long taken = e_jcc32(b, f->cc);
        int v = g->v;
        uint8_t loaded = g->loaded, dirty = g->dirty;
        exit_trace(g, k + 1, next, (int)k + 1);
        jb_patch(b, taken, jb_here(b));
        g->loaded = loaded;
        g->dirty = dirty;
        g->v = v;
        emit_branch_taken(g, k, target, true);
        return false;
    }
    default:
    handler:
        call_handler(g, k, last, g->reload_after[k]);
        return !last;
    }
    if (last) {
        exit_trace(g, k + 1, eip_of(g, k + 1), (int)k + 1);
        return false;
    }
    return true;
}

/* Which instructions leave flags another one (or the world after the trace) may see. */
static void analyse_flags(struct codegen *g)
{
    bool live = true;
    for (int k = g->t->ninsn - 1; k >= 0; k--) {
        const struct insn_form *f = &g->form[k];
        int fx;
        if (alu_inlinable(f) || f->kind == FORM_TEST_RR || f->kind == FORM_TEST_RI)
            fx = FX_WRITE_ALL;
        else if (f->kind == FORM_MOV_RR || f->kind == FORM_MOV_RI || f->kind == FORM_LEA || f->kind == FORM_MOVX_RR)
            fx = FX_NONE;
        else if (f->kind == FORM_SHIFT && !f->cl && f->count)
            fx = FX_WRITE_ALL; /* inline either way, every arithmetic flag written */
        else if (f->kind == FORM_SHIFT && !f->cl)
            fx = FX_NONE;      /* a count of 0: no flag changes */
        else if (f->kind == FORM_ROT && !f->cl && !f->count)
            fx = FX_NONE;      /* a count of 0: no flag changes */
        else if ((f->kind == FORM_SHIFT || f->kind == FORM_IMUL || f->kind == FORM_INCDEC ||
                  f->kind == FORM_ROT) && !live)
            fx = FX_NONE;      /* inline: nobody sees what it leaves (it cannot fault) */
        else
            fx = FX_OBSERVE;   /* handlers, possible faults, Jcc */
        g->flags_live_after[k] = live;
        if (fx == FX_WRITE_ALL)
            live = false;
        else if (fx == FX_OBSERVE)
            live = true;
    }
}

/* Undo the entry's pushes. */
static void emit_pops(struct jit_buf *b)
{
    e_alu_ri(b, 8, JA_ADD, HR_RSP, 8);
    e_pop(b, HR_R15);
    e_pop(b, HR_R14);
    e_pop(b, HR_R13);
    e_pop(b, HR_R12);
    e_pop(b, HR_RBP);
    e_pop(b, HR_RBX);
}

/* The guest registers (mask) that instruction k's inline code may name. */
static unsigned insn_regs(const struct codegen *g, unsigned k)
{
    const struct insn *i = &g->t->insns[k];
    const struct insn_form *f = &g->form[k];
    unsigned m = 0, ea = (i->base < 8 ? 1u << i->base : 0) | (i->index < 8 ? 1u << i->index : 0);
    switch (f->kind) {
    case FORM_MOV_RR: case FORM_ALU_RR: case FORM_TEST_RR: case FORM_CMOV:
        m = 1u << greg_id(f->src, f->sz) | 1u << greg_id(f->dst, f->sz);
        break;
    case FORM_MOVX_RR:
        m = 1u << greg_id(f->src, f->sz) | 1u << f->dst;
        break;
    case FORM_MOV_RI: case FORM_ALU_RI: case FORM_TEST_RI: case FORM_SETCC:
        m = 1u << greg_id(f->dst, f->kind == FORM_SETCC ? SZ8 : f->sz);
        break;
    case FORM_LEA: case FORM_LOADX:
        m = ea | 1u << f->dst;
        break;
    case FORM_LOAD: case FORM_ALU_RM:
        m = ea | 1u << greg_id(f->dst, f->sz);
        break;
    case FORM_STORE: case FORM_ALU_MR:
        m = ea | 1u << greg_id(f->src, f->sz);
        break;
    case FORM_STORE_IMM: case FORM_ALU_MI:
        m = ea;
        break;
    case FORM_SHIFT: case FORM_ROT:
        m = 1u << f->dst | (f->cl ? 1u << R_ECX : 0);
        break;
    case FORM_IMUL:
        m = 1u << f->dst | 1u << f->src;
        break;
    case FORM_INCDEC:
        m = 1u << f->dst;
        break;
    case FORM_PUSH:
        m = 1u << R_ESP | 1u << f->src;
        break;
    case FORM_POP:
        m = 1u << R_ESP | 1u << f->dst;
        break;
    case FORM_CALL: case FORM_RET:
        m = 1u << R_ESP;
        break;
    default:
        break;
    }
    return m & 0xff;
}

/* Choose the guest registers this trace keeps in host registers (the most named ones), which
 * to reload after each handler call (those named before the next one), and the state at
 * body_loaded. */
static void plan_registers(struct codegen *g)
{
    unsigned n = g->t->ninsn, uses[8] = { 0 }, named[TRACE_MAX_INSNS];
    bool loops = false;
    for (unsigned k = 0; k < n; k++) {
        named[k] = insn_regs(g, k);
        for (unsigned r = 0; r < 8; r++)
            uses[r] += (named[k] >> r) & 1;
        const struct insn_form *f = &g->form[k];
        if ((f->kind == FORM_JCC || f->kind == FORM_JMP) && eip_of(g, k + 1) + g->t->insns[k].disp == g->e0)
            loops = true;
    }
    g->cached = 0;
    for (unsigned h = 0; h < JIT_NCACHE; h++) {
        unsigned best = 8;
        for (unsigned r = 0; r < 8; r++)
            if (uses[r] && !((g->cached >> r) & 1) && (best == 8 || uses[r] > uses[best]))
                best = r;
        if (best == 8)
            break;
        g->cached |= (uint8_t)(1u << best);
        g->hreg[best] = (int8_t)cache_hr[h];
    }
    if (g->noinline & (1u << 31))
        g->cached = 0;   /* debugging: PCVM_JIT_NOINLINE bit 31 keeps registers in struct cpu */
    unsigned next = 0;   /* named by the instructions after k up to the next handler call */
    for (int k = (int)n - 1; k >= 0; k--) {
        g->reload_after[k] = (uint8_t)(next & g->cached);
        next = g->form[k].kind == FORM_OTHER ? named[k] : next | named[k];
    }
    g->top_loaded = (uint8_t)(next & g->cached);
    g->top_dirty = loops ? g->top_loaded : 0;
    g->loaded = g->top_loaded;
    g->dirty = g->top_dirty;
}

/* Compile t (entered at EIP e0) into the code cache; NULL when it does not fit. */
static insn_fn compile(struct cpu *cpu, struct jit_cache *c, struct trace *t, struct codegen *g)
{
    if (c->stats.traces >= g->max_traces)
        return NULL;
    memset(g, 0, offsetof(struct codegen, slow));
    g->nslow = 0;
    /* Nothing is known about the flags at a trace's entry.  (These fields sit after the
     * memset's end: left over from the previous compile, a trace starting with a Jcc
     * tested stale host flags, which broke Linux's boot.) */
    g->host_flags = false;
    g->host_cf_bad = false;
    g->lf_known = false;
    g->lf_partial = false;
    g->lf_kind = 0;
    g->cpu = cpu;
    g->t = t;
    g->e0 = cpu->eip;
    size_t room = c->size - c->used;
    g->b.start = c->rw + c->used;
    g->b.p = g->b.start;
    g->b.end = g->b.start + (room < JIT_TRACE_MAX_BYTES ? room : JIT_TRACE_MAX_BYTES);
    unsigned n = t->ninsn;
    for (unsigned k = 0; k < n; k++) {
        g->off[k + 1] = g->off[k] + t->insns[k].len;
        struct insn copy = t->insns[k];
        if (k == 0)
            copy.fn = t->entry_fn;
        exec_insn_form(&copy, &g->form[k]);
        if (g->form[k].kind != FORM_OTHER && ((g->noinline >> g->form[k].kind) & 1))
            g->form[k].kind = FORM_OTHER;
    }
    analyse_flags(g);
    plan_registers(g);

    struct jit_buf *b = &g->b;
    /* The struct jit_meta, written at the end. */
    for (unsigned k = 0; k < sizeof(struct jit_meta); k++)
        jb_byte(b, 0);
    g->fn_at = jb_here(b);
    g->cs_base = cpu->seg[SEG_CS].base;
    e_push(b, HR_RBX);
    e_push(b, HR_RBP);
    e_push(b, HR_R12);
    e_push(b, HR_R13);
    e_push(b, HR_R14);
    e_push(b, HR_R15);
    e_alu_ri(b, 8, JA_SUB, HR_RSP, 8);               /* calls see a 16-byte aligned stack */
    if (jb_here(b) != g->fn_at + JIT_CHAIN_ENTRY)
        return NULL;
    e_rr(b, 8, 0x89, HR_RDI, HR_RBX);                 /* mov rbx, rdi */
    e_lea(b, 8, HR_RBP, jm(HR_RSI, -O_INSN(0)));
    /* Entered at another EIP or CS base, or the budget ends inside the trace: the
     * interpreter. */
    e_alu_mi(b, 4, JA_CMP, cpu_field(O_CPU(eip)), g->e0);
    long other = e_jcc32(b, CC_NE);
    e_alu_mi(b, 4, JA_CMP, cpu_field(O_CPU(seg) + (int32_t)(SEG_CS * sizeof(struct seg)) + (int32_t)offsetof(struct seg, base)), g->cs_base);
    long other_base = e_jcc32(b, CC_NE);
    e_load(b, 8, HR_RAX, cpu_field(O_CPU(exec.insn_target)));
    e_alu_rm(b, 8, JA_SUB, HR_RAX, cpu_field(O_CPU(insn_count)));
    e_alu_ri(b, 8, JA_CMP, HR_RAX, n);
    long short_budget = e_jcc32(b, CC_B);
    g->body = jb_here(b);
    load_regs(g, g->top_loaded);
    g->body_loaded = jb_here(b);
    for (unsigned k = 0; k < n; k++)
        if (!emit_insn(g, k))
            break;
    emit_slow_paths(g);
    /* Fallback: the first instruction's handler, as if not compiled. */
    jb_patch(b, other, jb_here(b));
    jb_patch(b, other_base, jb_here(b));
    jb_patch(b, short_budget, jb_here(b));
    e_rr(b, 8, 0x89, HR_RBX, HR_RDI);
    e_lea(b, 8, HR_RSI, jm(HR_RBP, O_INSN(0)));
    emit_pops(b);
    e_mov_imm64(b, HR_RAX, (uint64_t)(uintptr_t)t->entry_fn);
    e_jmp_reg(b, HR_RAX);
    /* The direct entry, where linked exits of other compiled traces jump (same stack frame,
     * rbx = the cpu, eip = e0 and the CS base checked by the linking trace, insn_count one
     * short): count the linking exit as the dispatch below does, then run the body when
     * this trace is still valid and fits in the budget, else back to the run loop. */
    long direct = jb_here(b);
    e_alu_mi(b, 8, JA_ADD, cpu_field(O_CPU(insn_count)), 1);
    e_mov_imm64(b, HR_RBP, (uint64_t)(uintptr_t)t);
    e_alu_mi(b, 1, JA_CMP, jm(HR_RBP, O_TRACE(valid)), 0);
    long stale = e_jcc32(b, CC_E);
    e_load(b, 8, HR_RAX, cpu_field(O_CPU(exec.insn_target)));
    e_alu_rm(b, 8, JA_SUB, HR_RAX, cpu_field(O_CPU(insn_count)));
    e_alu_ri(b, 8, JA_CMP, HR_RAX, n);
    jb_patch(b, e_jcc32(b, CC_AE), g->body);
    jb_patch(b, stale, jb_here(b));
    e_alu_mi(b, 8, JA_SUB, cpu_field(O_CPU(insn_count)), 1);
    e_mov_imm32(b, HR_RAX, 0);
    jump_to_epilogue(g);
    /* Every exit comes here with rax = the next instruction to run (as a handler returns it)
     * and insn_count one short, as run_threaded expects.  When that instruction starts a
     * compiled trace and the budget allows, jump straight into it past its pushes (the saved
     * registers on the stack are the same), counting the instruction run_threaded would. */
    long dispatch = jb_here(b);
    for (unsigned j = 0; j < g->nexit; j++)
        jb_patch(b, g->exit_jumps[j], dispatch);
    e_test_rr(b, 8, HR_RAX, HR_RAX);
    long no_next = e_jcc32(b, CC_E);
    e_load(b, 8, HR_RCX, jm(HR_RAX, 0));               /* its handler */
    e_mov_imm64(b, HR_RDX, (uint64_t)(uintptr_t)c->rx);
    e_alu_rr(b, 8, JA_CMP, HR_RCX, HR_RDX);
    long below = e_jcc32(b, CC_B);
    e_alu_ri(b, 8, JA_ADD, HR_RDX, (uint32_t)c->size);
    e_alu_rr(b, 8, JA_CMP, HR_RCX, HR_RDX);
    long above = e_jcc32(b, CC_AE);
    e_load(b, 8, HR_RDX, cpu_field(O_CPU(insn_count)));
    e_alu_ri(b, 8, JA_ADD, HR_RDX, 1);
    e_alu_rm(b, 8, JA_CMP, HR_RDX, cpu_field(O_CPU(exec.insn_target)));
    long budget = e_jcc32(b, CC_AE);
    e_store(b, 8, cpu_field(O_CPU(insn_count)), HR_RDX);
    e_rr(b, 8, 0x89, HR_RBX, HR_RDI);
    e_rr(b, 8, 0x89, HR_RAX, HR_RSI);
    e_alu_ri(b, 8, JA_ADD, HR_RCX, JIT_CHAIN_ENTRY);
    e_jmp_reg(b, HR_RCX);
    g->epilogue = jb_here(b);
    jb_patch(b, no_next, g->epilogue);
    jb_patch(b, below, g->epilogue);
    jb_patch(b, above, g->epilogue);
    jb_patch(b, budget, g->epilogue);
    emit_pops(b);
    e_ret(b);
    if (b->overflow)
        return NULL;
    struct jit_meta meta = { g->e0, g->cs_base, (uint32_t)(direct - g->fn_at), JIT_META_MAGIC };
    memcpy(b->start, &meta, sizeof(meta));
    size_t len = (size_t)(b->p - b->start);
    const char *dump = getenv("PCVM_JIT_DUMP");
    if (dump) {
        /* Debugging aid: append "paddr eip len" and the code, for objdump -b binary. */
        FILE *f = fopen(dump, "ab");
        if (f) {
            fprintf(f, "TRACE %08x %08x %zu %u\n", t->paddr, g->e0, len, n);
            fwrite(b->start, 1, len, f);
            fputc('\n', f);
            fclose(f);
        }
    }
    insn_fn fn = (insn_fn)(void *)(c->rx + c->used + g->fn_at);
    const char *map = getenv("PCVM_JIT_MAP");
    if (map) {
        /* Profiling aid: "offset-in-cache length eip instructions" per trace (perf reports
         * samples in the code cache as offsets into memfd:pcvm-jit). */
        FILE *f = fopen(map, "a");
        if (f) {
            fprintf(f, "%zx %zx %08x %u\n", c->used, len, g->e0, n);
            fclose(f);
        }
    }
    c->used += (len + 15) & ~(size_t)15;
    c->stats.traces++;
    c->stats.code_bytes += len;
    return fn;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The first instruction's handler of a trace that is not compiled yet: count, compile. */
static struct insn *jit_hot(struct cpu *cpu, struct insn *i)
{
    struct trace *t = (struct trace *)(void *)((uint8_t *)i - offsetof(struct trace, insns));
    if (++t->hits < (uint32_t)cpu->exec.jit_threshold)
        return t->entry_fn(cpu, i);
    struct jit_cache *c = cache_get(cpu);
    if (!c) {
        i->fn = t->entry_fn;
        t->entry_fn = NULL;
        return i->fn(cpu, i);
    }
    uint64_t start = now_ns();
    insn_fn fn = compile(cpu, c, t, c->g);
    c->stats.compile_ns += now_ns() - start;
    if (!fn) {
        if (c->used == 0 || c->stats.traces >= c->g->max_traces) {
            /* Too big even for an empty cache: leave it to the interpreter. */
            i->fn = t->entry_fn;
            t->entry_fn = NULL;
            return i->fn(cpu, i);
        }
        /* The cache is full: drop every trace and start again (this one included). */
        c->stats.flushes++;
        cpu_flush_traces(cpu);
        cpu->insn_count--;   /* no instruction ran; the run loop counts one */
        return NULL;
    }
    i->fn = fn;
    return fn(cpu, i);
}

void jit_trace_stored(struct cpu *cpu, struct trace *t)
{
    t->entry_fn = NULL;
    t->hits = 0;
    if (cpu->exec.jit_threshold <= 0 || !(t->mode & 1) || t->insns[0].fn == h_stale)
        return;
    if (cpu->log && (cpu->log->mask & (LOG_EXEC | LOG_CPU)))
        return;   /* -d exec / -d cpu: one log entry per trace, from the interpreter */
    t->entry_fn = t->insns[0].fn;
    t->insns[0].fn = jit_hot;
}

/* String instruction handlers (MOVS CMPS STOS LODS SCAS INS OUTS, with REP) and port I/O. */
#include <string.h>

#include "cpu/exec_ops.h"

/* ---- String instructions ----
 * REP forms run iterations in a loop, updating ECX/ESI/EDI after each, so a fault leaves
 * the progress visible and EIP at the instruction.  They stop without retiring (and resume
 * later at the same EIP) after STRING_BATCH iterations when an event is pending, and after
 * STRING_YIELD iterations anyway so that cpu_run() returns to the main loop. */

#define STRING_BATCH 4096
#define STRING_YIELD 65536

/* Interrupt a long REP: not retired, EIP unchanged; cpu_run() returns when no event waits. */
static inline bool rep_should_stop(struct cpu *cpu, unsigned batch)
{
    if (__builtin_expect(batch <= STRING_BATCH, 1))
        return false;
    if (cpu->interrupt_request)
        return true;
    if (batch > STRING_YIELD) {
        cpu->exec.yield = true;
        return true;
    }
    return false;
}

static inline uint32_t amask_of(const struct insn *i)
{
    return (i->pfx & P_A32) ? 0xffffffffu : 0xffffu;
}

static inline void areg_set(struct cpu *cpu, const struct insn *i, unsigned r, uint32_t v)
{
    if (i->pfx & P_A32)
        cpu->regs[r] = v;
    else
        cpu->regs[r] = (cpu->regs[r] & 0xffff0000u) | (v & 0xffff);
}

enum { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS, S_INS, S_OUTS };

/* REP MOVS / REP STOS with 32-bit addressing and DF clear, fast path: as many iterations as
 * stay within the current source and destination pages, done at once on host memory when
 * both pages are plain RAM in the TLB (no MMIO, no code page, no watchpoint, no #AC) and
 * the segment windows take the whole run.  Returns the iterations done, 0 when the next one
 * must take the element-by-element path (which faults, stops or yields at the exact
 * iteration).  batch: iterations of this instruction so far, as rep_should_stop counts
 * them: a run never passes the STRING_YIELD stop, and past STRING_BATCH a pending event
 * leaves the stop to the slow path. */
static uint32_t rep_chunk(struct cpu *cpu, const struct insn *i, int kind, int sz, unsigned batch)
{
    uint32_t size = 1u << sz, n = cpu->regs[R_ECX];
    if (batch >= STRING_YIELD || (batch >= STRING_BATCH && cpu->interrupt_request))
        return 0;
    if (n > STRING_YIELD - batch)
        n = STRING_YIELD - batch;
    uint32_t di = cpu->regs[R_EDI], lin_d = cpu->seg[SEG_ES].base + di;
    uint32_t room = (4096 - (lin_d & 4095)) / size;
    if (n > room)
        n = room;
    uint32_t si = cpu->regs[R_ESI], lin_s = cpu->seg[i->seg].base + si;
    if (kind == S_MOVS) {
        room = (4096 - (lin_s & 4095)) / size;
        if (n > room)
            n = room;
    }
    if (n == 0)
        return 0;
    uint32_t bytes = n * size;
    if (!mmu_seg_wr_ok(cpu, SEG_ES, di, bytes))
        return 0;
    uint8_t *d = mmu_fast(cpu, lin_d, size, cpu->sys.wr_kind);
    if (!d)
        return 0;
    if (kind == S_MOVS) {
        if (!mmu_seg_rd_ok(cpu, i->seg, si, bytes))
            return 0;
        const uint8_t *src = mmu_fast(cpu, lin_s, size, cpu->sys.rd_kind);
        /* A destination just above the source repeats a pattern: element by element. */
        if (!src || (d > src && d < src + bytes))
            return 0;
        memmove(d, src, bytes);
        cpu->regs[R_ESI] = si + bytes;
    } else if (sz == SZ8) {
        memset(d, (int)(cpu->regs[R_EAX] & 0xff), bytes);
    } else {
        uint32_t v = cpu->regs[R_EAX];
        for (uint32_t k = 0; k < bytes; k += size)
            memcpy(d + k, &v, size);
    }
    cpu->regs[R_EDI] = di + bytes;
    cpu->regs[R_ECX] -= n;
    return n;
}

static inline struct insn *string_op(struct cpu *cpu, struct insn *i, int kind)
{
    int sz = bwsz(i);
    uint32_t am = amask_of(i);
    uint32_t step = 1u << sz;
    if (cpu->eflags & FLAG_DF)
        step = -step;
    bool rep = i->pfx & (P_REP | P_REPNE);
    uint16_t port = (uint16_t)cpu->regs[R_EDX];
    if (kind == S_INS || kind == S_OUTS)
        cpu_check_io(cpu, port, 1u << sz);
    unsigned batch = 0;
    bool fast = rep && (kind == S_MOVS || kind == S_STOS) && (i->pfx & P_A32) && !(cpu->eflags & FLAG_DF);
    for (;;) {
        if (rep) {
            if ((cpu->regs[R_ECX] & am) == 0)
                break;
            if (fast) {
                uint32_t done = rep_chunk(cpu, i, kind, sz, batch);
                if (done) {
                    batch += done;
                    continue;
                }
            }
            if (rep_should_stop(cpu, ++batch)) {
                cpu->insn_count--;       /* not retired yet: resumes at the same EIP */
                return NULL;
            }
        }
        uint32_t si = cpu->regs[R_ESI] & am, di = cpu->regs[R_EDI] & am;
        bool stop = false;
        switch (kind) {
        case S_MOVS:
            mem_set(cpu, sz, SEG_ES, di, mem_get(cpu, sz, i->seg, si));
            areg_set(cpu, i, R_ESI, si + step);
            areg_set(cpu, i, R_EDI, di + step);
            break;
        case S_STOS:
            mem_set(cpu, sz, SEG_ES, di, reg_get(cpu, sz, R_EAX));
            areg_set(cpu, i, R_EDI, di + step);
            break;
        case S_LODS:
            reg_set(cpu, sz, R_EAX, mem_get(cpu, sz, i->seg, si));
            areg_set(cpu, i, R_ESI, si + step);
            break;
        case S_CMPS: {
            uint32_t a = mem_get(cpu, sz, i->seg, si), b = mem_get(cpu, sz, SEG_ES, di);
            lf_set(cpu, LF_SUB + sz, a, b, (a - b) & lf_mask_tab[sz], FLAGS_ARITH);
            areg_set(cpu, i, R_ESI, si + step);
            areg_set(cpu, i, R_EDI, di + step);
            stop = true;
            break;
        }
        case S_SCAS: {
            uint32_t a = reg_get(cpu, sz, R_EAX), b = mem_get(cpu, sz, SEG_ES, di);
            lf_set(cpu, LF_SUB + sz, a, b, (a - b) & lf_mask_tab[sz], FLAGS_ARITH);
            areg_set(cpu, i, R_EDI, di + step);
            stop = true;
            break;
        }
        case S_INS:
            cpu_check_write(cpu, SEG_ES, di, 1u << sz);
            mem_set(cpu, sz, SEG_ES, di, io_read(cpu->io, port, 1u << sz));
            areg_set(cpu, i, R_EDI, di + step);
            break;
        default: /* OUTS */
            io_write(cpu->io, port, mem_get(cpu, sz, i->seg, si), 1u << sz);
            areg_set(cpu, i, R_ESI, si + step);
            break;
        }
        if (!rep)
            break;
        areg_set(cpu, i, R_ECX, (cpu->regs[R_ECX] & am) - 1);
        if (stop) {
            bool zf = cpu->exec.lf_result == 0;
            if ((i->pfx & P_REP) ? !zf : zf)
                break;
        }
    }
    if (kind == S_INS || kind == S_OUTS)
        return leave_trace(cpu, i);
    return next(cpu, i);
}

struct insn *h_movs(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_MOVS); }
struct insn *h_cmps(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_CMPS); }
struct insn *h_stos(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_STOS); }
struct insn *h_lods(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_LODS); }
struct insn *h_scas(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_SCAS); }
struct insn *h_ins(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_INS); }
struct insn *h_outs(struct cpu *cpu, struct insn *i) { return string_op(cpu, i, S_OUTS); }

/* REP STOSD / REP MOVSD with 32-bit addressing: the common memset/memcpy (string_op's
 * page-at-a-time path). */
struct insn *h_rep_stosd32(struct cpu *cpu, struct insn *i)
{
    return string_op(cpu, i, S_STOS);
}

struct insn *h_rep_movsd32(struct cpu *cpu, struct insn *i)
{
    return string_op(cpu, i, S_MOVS);
}

/* ---- Port I/O ---- */

struct insn *h_in(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint16_t port = (i->op & 8) ? (uint16_t)cpu->regs[R_EDX] : (uint16_t)(i->imm & 0xff);
    cpu_check_io(cpu, port, 1u << sz);
    reg_set(cpu, sz, R_EAX, io_read(cpu->io, port, 1u << sz));
    return leave_trace(cpu, i);
}

struct insn *h_out(struct cpu *cpu, struct insn *i)
{
    int sz = bwsz(i);
    uint16_t port = (i->op & 8) ? (uint16_t)cpu->regs[R_EDX] : (uint16_t)(i->imm & 0xff);
    cpu_check_io(cpu, port, 1u << sz);
    io_write(cpu->io, port, reg_get(cpu, sz, R_EAX), 1u << sz);
    return leave_trace(cpu, i);
}

/* The x87 FPU: register stack, tags, exceptions and the D8-DF escape opcodes. Arithmetic goes
 * through float80.h; this file keeps the architectural bookkeeping (stack faults, masked
 * responses, condition codes, FIP/FDP/FOP, environment images, #NM/#MF/FERR#). */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"

enum { CW_MASKS = 0x003f, CW_PC_SHIFT = 8, CW_RC_SHIFT = 10 };

/* ---- Stack and tags ---- */

static unsigned phys(const struct fpu_state *f, unsigned i) { return (f->top + i) & 7; }
static f80 *st(struct fpu_state *f, unsigned i) { return &f->st[phys(f, i)]; }
static bool empty(const struct fpu_state *f, unsigned i) { return !(f->valid >> phys(f, i) & 1); }
static void set_valid(struct fpu_state *f, unsigned i) { f->valid |= 1u << phys(f, i); }
/* The context float80 operations run under. */
static f80_ctx ctx(const struct fpu_state *f) { return f80_ctx_of(f->control, f->status); }

static void push(struct fpu_state *f, f80 v)
{
    f->top = (f->top - 1) & 7;
    f->st[f->top] = v;
    f->valid |= 1u << f->top;
}

static void pop(struct fpu_state *f)
{
    f->valid &= ~(1u << f->top);
    f->top = (f->top + 1) & 7;
}

uint16_t fpu_tag_word(const struct fpu_state *f)
{
    uint16_t tw = 0;
    for (unsigned r = 0; r < 8; r++) {
        unsigned t;
        if (!(f->valid >> r & 1))
            t = 3;
        else if (f80_is_zero(f->st[r]))
            t = 1;
        else if (f80_is_special(f->st[r]))
            t = 2;
        else
            t = 0;
        tw |= t << (2 * r);
    }
    return tw;
}

uint16_t fpu_status_word(const struct fpu_state *f)
{
    return (uint16_t)((f->status & ~0x3800u) | (f->top << 11));
}

/* ---- Exceptions ---- */

/* FERR# follows ES while CR0.NE is clear; drop it when ES clears. */
static void update_es(struct cpu *cpu)
{
    struct fpu_state *f = &cpu->fpu;
    if (f->status & ~f->control & CW_MASKS)
        f->status |= F80_ES | F80_B;
    else
        f->status &= ~(F80_ES | F80_B);
    if (!(f->status & F80_ES) && f->ferr) {
        f->ferr = false;
        if (cpu->board.ferr)
            cpu->board.ferr(cpu->board.opaque, cpu, 0);
    }
}

/* Merge the status bits of an operation: sticky exception flags, the condition codes in
 * ccmask, ES/B for unmasked exceptions. Returns true when an unmasked exception occurred. */
static bool raise_bits(struct fpu_state *f, unsigned bits, unsigned ccmask)
{
    f->status = (uint16_t)((f->status & ~ccmask) | (bits & ccmask) | (bits & (F80_EXC | F80_SF)));
    if (bits & ~f->control & CW_MASKS) {
        f->status |= F80_ES | F80_B;
        return true;
    }
    return false;
}

/* Pre-computation exceptions that leave the destination and TOP untouched when unmasked. */
static bool suppressed(const struct fpu_state *f, unsigned bits)
{
    return (bits & ~f->control & (F80_IE | F80_DE | F80_ZE)) != 0;
}

/* Stack underflow (an operand register is empty): IE+SF, C1=0. True when masked (the caller
 * then writes the masked response). */
static bool underflow(struct fpu_state *f)
{
    raise_bits(f, F80_IE | F80_SF, F80_C1);
    return (f->control & F80_IE) != 0;
}

/* Stack overflow (push onto a full register): IE+SF, C1=1. */
static bool overflow(struct fpu_state *f)
{
    raise_bits(f, F80_IE | F80_SF | F80_C1, F80_C1);
    return (f->control & F80_IE) != 0;
}

/* Report a pending unmasked exception at a waiting instruction. */
static void check_pending(struct cpu *cpu)
{
    struct fpu_state *f = &cpu->fpu;
    if (!(f->status & F80_ES))
        return;
    if (cpu->cr0 & CR0_NE)
        cpu_exception(cpu, EXC_MF, 0);
    if (!f->ferr) {
        /* DOS-compatible reporting: FERR# -> IRQ13; execution continues (IGNNE#). */
        f->ferr = true;
        if (cpu->board.ferr)
            cpu->board.ferr(cpu->board.opaque, cpu, 1);
    }
}

/* The masked response to a stack fault: ST(i) becomes the (valid) real indefinite. */
static void set_indefinite(struct fpu_state *f, unsigned i)
{
    *st(f, i) = f80_indefinite();
    set_valid(f, i);
}

/* ---- Features ---- */

void fpu_features(struct cpu *cpu, uint32_t *edx, uint32_t *ecx)
{
    struct fpu_state *f = &cpu->fpu;
    if (!f->features_valid) {
        uint32_t r[4] = { 0, 0, 0, 0 };
        cpu_cpuid(cpu, 1, 0, r);
        f->feat_ecx = r[2];
        f->feat_edx = r[3];
        cpu_cpuid(cpu, 0x80000000u, 0, r);
        if (r[0] >= 0x80000001u && r[0] <= 0x8000ffffu) {
            cpu_cpuid(cpu, 0x80000001u, 0, r);
            f->feat_ext_edx = r[3];
        } else {
            f->feat_ext_edx = 0;
        }
        f->features_valid = true;
    }
    *edx = f->feat_edx;
    *ecx = f->feat_ecx;
}

bool fpu_has(struct cpu *cpu, enum fpu_feature feat)
{
    uint32_t edx, ecx;
    fpu_features(cpu, &edx, &ecx);
    switch (feat) {
    case FEAT_CMOV: return edx >> 15 & 1;
    case FEAT_MMX: return edx >> 23 & 1;
    case FEAT_FXSR: return edx >> 24 & 1;
    case FEAT_SSE: return edx >> 25 & 1;
    case FEAT_SSE2: return edx >> 26 & 1;
    case FEAT_SSE3: return ecx & 1;
    case FEAT_CLFSH: return edx >> 19 & 1;
    case FEAT_MMXEXT: return (edx >> 25 & 1) || (cpu->fpu.feat_ext_edx >> 22 & 1);
    case FEAT_SSSE3: return ecx >> 9 & 1;
    case FEAT_SSE41: return ecx >> 19 & 1;
    case FEAT_SSE42: return ecx >> 20 & 1;
    case FEAT_AES: return ecx >> 25 & 1;
    case FEAT_PCLMUL: return ecx >> 1 & 1;
    }
    return false;
}

/* ---- Reset, FNINIT ---- */

static void fninit(struct cpu *cpu)
{
    struct fpu_state *f = &cpu->fpu;
    f->control = 0x037f;
    f->status = 0;
    f->top = 0;
    f->valid = 0;
    f->fip = f->fdp = 0;
    f->fcs = f->fds = 0;
    f->fop = 0;
    update_es(cpu);
}

void fpu_reset(struct cpu *cpu)
{
    struct fpu_state *f = &cpu->fpu;
    bool ferr = f->ferr;
    memset(f, 0, sizeof(*f));
    f->ferr = ferr;
    fninit(cpu);
    f->mxcsr = 0x1f80;
}

/* ---- Environment images (FSTENV/FLDENV/FSAVE/FRSTOR) ---- */

/* FSTENV image size: 28 bytes with a 32-bit operand size, 14 with 16. */
static unsigned env_size(bool op32) { return op32 ? 28 : 14; }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

static void build_env(struct cpu *cpu, uint8_t *b, bool op32)
{
    struct fpu_state *f = &cpu->fpu;
    bool prot = cpu->pe && !cpu->vm86;
    uint16_t cw = f->control, sw = fpu_status_word(f), tw = fpu_tag_word(f);
    if (op32) {
        memset(b, 0xff, 28);
        put16(b + 0, cw);
        put16(b + 4, sw);
        put16(b + 8, tw);
        if (prot) {
            put32(b + 12, f->fip);
            put32(b + 16, f->fcs | (uint32_t)(f->fop & 0x7ff) << 16);
            put32(b + 20, f->fdp);
            put16(b + 24, f->fds);
        } else {
            uint32_t ip = f->fip + ((uint32_t)f->fcs << 4), dp = f->fdp + ((uint32_t)f->fds << 4);
            put16(b + 12, (uint16_t)ip);
            put32(b + 16, (f->fop & 0x7ffu) | (ip >> 16 & 0xffff) << 12);
            put16(b + 20, (uint16_t)dp);
            put32(b + 24, (dp >> 16 & 0xffff) << 12);
        }
    } else {
        put16(b + 0, cw);
        put16(b + 2, sw);
        put16(b + 4, tw);
        if (prot) {
            put16(b + 6, (uint16_t)f->fip);
            put16(b + 8, f->fcs);
            put16(b + 10, (uint16_t)f->fdp);
            put16(b + 12, f->fds);
        } else {
            uint32_t ip = f->fip + ((uint32_t)f->fcs << 4), dp = f->fdp + ((uint32_t)f->fds << 4);
            put16(b + 6, (uint16_t)ip);
            put16(b + 8, (uint16_t)((f->fop & 0x7ff) | (ip >> 16 & 0xf) << 12));
            put16(b + 10, (uint16_t)dp);
            put16(b + 12, (uint16_t)((dp >> 16 & 0xf) << 12));
        }
    }
}

static void load_env(struct cpu *cpu, const uint8_t *b, bool op32)
{
    struct fpu_state *f = &cpu->fpu;
    bool prot = cpu->pe && !cpu->vm86;
    uint16_t cw, sw, tw;
    if (op32) {
        cw = get16(b);
        sw = get16(b + 4);
        tw = get16(b + 8);
        if (prot) {
            f->fip = get32(b + 12);
            f->fcs = get16(b + 16);
            f->fop = get16(b + 18) & 0x7ff;
            f->fdp = get32(b + 20);
            f->fds = get16(b + 24);
        } else {
            f->fip = get16(b + 12) | (get32(b + 16) >> 12 & 0xffff) << 16;
            f->fop = get16(b + 16) & 0x7ff;
            f->fdp = get16(b + 20) | (get32(b + 24) >> 12 & 0xffff) << 16;
            f->fcs = f->fds = 0;
        }
    } else {
        cw = get16(b);
        sw = get16(b + 2);
        tw = get16(b + 4);
        if (prot) {
            f->fip = get16(b + 6);
            f->fcs = get16(b + 8);
            f->fdp = get16(b + 10);
            f->fds = get16(b + 12);
        } else {
            f->fip = get16(b + 6) | (uint32_t)(get16(b + 8) >> 12) << 16;
            f->fop = get16(b + 8) & 0x7ff;
            f->fdp = get16(b + 10) | (uint32_t)(get16(b + 12) >> 12) << 16;
            f->fcs = f->fds = 0;
        }
    }
    f->control = (uint16_t)((cw & 0x1f3f) | 0x0040);
    f->status = sw & ~0x3800;
    f->top = sw >> 11 & 7;
    f->valid = 0;
    for (unsigned r = 0; r < 8; r++)
        if ((tw >> (2 * r) & 3) != 3)
            f->valid |= 1u << r;
    update_es(cpu);
}

static void fnstenv(struct cpu *cpu, int seg, uint32_t ea, bool op32)
{
    uint8_t b[28];
    build_env(cpu, b, op32);
    cpu_write_bytes(cpu, seg, ea, b, env_size(op32));
    /* FSTENV masks all exceptions after saving. */
    cpu->fpu.control |= CW_MASKS;
    update_es(cpu);
}

static void fldenv(struct cpu *cpu, int seg, uint32_t ea, bool op32)
{
    uint8_t b[28];
    cpu_read_bytes(cpu, seg, ea, b, env_size(op32));
    load_env(cpu, b, op32);
}

static void fnsave(struct cpu *cpu, int seg, uint32_t ea, bool op32)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t b[108];
    unsigned n = env_size(op32);
    build_env(cpu, b, op32);
    for (unsigned i = 0; i < 8; i++)
        memcpy(b + n + 10 * i, st(f, i), 10);
    cpu_write_bytes(cpu, seg, ea, b, n + 80);
    fninit(cpu);
}

static void frstor(struct cpu *cpu, int seg, uint32_t ea, bool op32)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t b[108];
    unsigned n = env_size(op32);
    cpu_read_bytes(cpu, seg, ea, b, n + 80);
    load_env(cpu, b, op32);
    for (unsigned i = 0; i < 8; i++) {
        f80 *r = st(f, i);
        memcpy(&r->mant, b + n + 10 * i, 8);
        r->se = get16(b + n + 10 * i + 8);
    }
}

/* ---- FXSAVE / FXRSTOR ---- */

uint32_t fpu_mxcsr_mask(struct cpu *cpu)
{
    /* DAZ exists from the SSE2 parts on. */
    return fpu_has(cpu, FEAT_SSE2) ? 0xffff : 0xffbf;
}

void fpu_legacy_image(struct cpu *cpu, uint8_t b[288])
{
    struct fpu_state *f = &cpu->fpu;
    memset(b, 0, 288);
    put16(b + 0, f->control);
    put16(b + 2, fpu_status_word(f));
    b[4] = f->valid;
    put16(b + 6, f->fop);
    put32(b + 8, f->fip);
    put16(b + 12, f->fcs);
    put32(b + 16, f->fdp);
    put16(b + 20, f->fds);
    if (fpu_has(cpu, FEAT_SSE)) {
        put32(b + 24, f->mxcsr);
        put32(b + 28, fpu_has(cpu, FEAT_SSE2) ? 0xffff : 0);   /* 0: the default mask */
    }
    for (unsigned i = 0; i < 8; i++) {
        f80 *r = st(f, i);
        memcpy(b + 32 + 16 * i, &r->mant, 8);
        put16(b + 40 + 16 * i, r->se);
    }
    memcpy(b + 160, f->xmm, 128);
}

void fpu_load_x87_image(struct cpu *cpu, const uint8_t *b)
{
    struct fpu_state *f = &cpu->fpu;
    f->control = (uint16_t)((get16(b) & 0x1f3f) | 0x0040);
    uint16_t sw = get16(b + 2);
    f->status = sw & ~0x3800;
    f->top = sw >> 11 & 7;
    f->valid = b[4];
    f->fop = get16(b + 6) & 0x7ff;
    f->fip = get32(b + 8);
    f->fcs = get16(b + 12);
    f->fdp = get32(b + 16);
    f->fds = get16(b + 20);
    for (unsigned i = 0; i < 8; i++) {
        f80 *r = st(f, i);
        memcpy(&r->mant, b + 32 + 16 * i, 8);
        r->se = get16(b + 40 + 16 * i);
    }
    update_es(cpu);
}

void fpu_init_x87_state(struct cpu *cpu)
{
    memset(cpu->fpu.st, 0, sizeof(cpu->fpu.st));
    fninit(cpu);
}

void fpu_fxsave(struct cpu *cpu, int seg, uint32_t ea)
{
    uint8_t b[288];
    if ((cpu->seg[seg].base + ea) & 15)
        cpu_exception(cpu, EXC_GP, 0);
    cpu_check_write(cpu, seg, ea, 512);
    fpu_legacy_image(cpu, b);
    /* Without SSE (Pentium II) MXCSR reads as zero and the XMM area is left alone. */
    cpu_write_bytes(cpu, seg, ea, b, fpu_has(cpu, FEAT_SSE) ? 288 : 160);
}

void fpu_fxrstor(struct cpu *cpu, int seg, uint32_t ea)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t b[288];
    if ((cpu->seg[seg].base + ea) & 15)
        cpu_exception(cpu, EXC_GP, 0);
    bool sse = fpu_has(cpu, FEAT_SSE);
    cpu_read_bytes(cpu, seg, ea, b, sse ? 288 : 160);
    uint32_t mxcsr = sse ? get32(b + 24) : f->mxcsr;
    if (mxcsr & ~fpu_mxcsr_mask(cpu))
        cpu_exception(cpu, EXC_GP, 0);
    f->mxcsr = mxcsr;
    if (sse)
        memcpy(f->xmm, b + 160, 128);
    fpu_load_x87_image(cpu, b);
}

/* ---- Instruction groups ---- */

/* Read a memory operand of the given kind into buf. */
static void read_operand(struct cpu *cpu, int seg, uint32_t ea, enum f80_kind kind, uint8_t *buf)
{
    switch (kind) {
    case F80_M32: case F80_I32: { uint32_t v = cpu_read32(cpu, seg, ea); memcpy(buf, &v, 4); break; }
    case F80_M64: case F80_I64: { uint64_t v = cpu_read64(cpu, seg, ea); memcpy(buf, &v, 8); break; }
    case F80_I16: { uint16_t v = cpu_read16(cpu, seg, ea); memcpy(buf, &v, 2); break; }
    case F80_X80: cpu_read_bytes(cpu, seg, ea, buf, 10); break;
    }
}

static unsigned kind_bytes(enum f80_kind kind)
{
    static const unsigned size[] = { [F80_X80] = 10, [F80_M32] = 4, [F80_M64] = 8,
                                     [F80_I16] = 2, [F80_I32] = 4, [F80_I64] = 8 };
    return size[kind];
}

/* The masked response of a store from an empty or invalid register: indefinite in kind. */
static void indefinite_bytes(enum f80_kind kind, uint8_t *buf)
{
    memset(buf, 0, 10);
    switch (kind) {
    case F80_M32: buf[2] = 0xc0; buf[3] = 0xff; break;
    case F80_M64: buf[6] = 0xf8; buf[7] = 0xff; break;
    case F80_I16: buf[1] = 0x80; break;
    case F80_I32: buf[3] = 0x80; break;
    case F80_I64: buf[7] = 0x80; break;
    case F80_X80: { f80 v = f80_indefinite(); memcpy(buf, &v, 10); break; }
    }
}

/* ST(0) = ST(0) op memory/ST(i) (D8/DC/DA/DE memory forms, D8 register forms). */
static void arith_st0(struct fpu_state *f, unsigned op, const void *src, enum f80_kind kind,
                      bool src_empty)
{
    if (empty(f, 0) || src_empty) {
        if (underflow(f))
            set_indefinite(f, 0);
        return;
    }
    f80 v = *st(f, 0);
    unsigned bits = f80_arith((enum f80_arith_op)op, ctx(f), &v, src, kind);
    raise_bits(f, bits, F80_C1);
    *st(f, 0) = v;
}

/* ST(i) = ST(i) op ST(0) (DC/DE register forms, reg field as encoded), optional pop. */
static void arith_sti(struct fpu_state *f, unsigned reg, unsigned i, bool do_pop)
{
    static const enum f80_arith_op map[8] = { F80_ADD, F80_MUL, 0, 0, F80_SUBR, F80_SUB,
                                              F80_DIVR, F80_DIV };
    if (empty(f, 0) || empty(f, i)) {
        if (underflow(f)) {
            set_indefinite(f, i);
            if (do_pop)
                pop(f);
        }
        return;
    }
    f80 d = *st(f, i), s = *st(f, 0);
    unsigned bits = f80_arith_sti(map[reg], ctx(f), &d, &s);
    raise_bits(f, bits, F80_C1);
    *st(f, i) = d;
    if (do_pop && !suppressed(f, bits))
        pop(f);
}

/* FCOM/FUCOM family: compare ST(0) with src; pops times pops. A stack underflow sets the
 * condition codes to unordered even when IE is unmasked (the SDM exempts only an unmasked #IA,
 * an invalid operand, from setting them); an unmasked one does not pop. */
static void compare(struct fpu_state *f, const void *src, enum f80_kind kind, bool src_empty,
                    bool unordered, unsigned pops)
{
    if (empty(f, 0) || src_empty) {
        bool masked = underflow(f);
        raise_bits(f, F80_C0 | F80_C2 | F80_C3, F80_C0 | F80_C2 | F80_C3);
        if (!masked)
            return;
    } else {
        bool popped;
        unsigned bits = f80_compare(ctx(f), st(f, 0), src, kind, unordered, &popped);
        raise_bits(f, bits, F80_CC);
        if (!popped)
            return;
    }
    while (pops--)
        pop(f);
}

/* FCOMI/FUCOMI(P): compare ST(0) with ST(i) into ZF/PF/CF (OF/SF/AF cleared). The condition
 * codes are left alone, C1 too unless a stack underflow clears it (SDM Vol. 1 table 8-3). */
static void compare_eflags(struct cpu *cpu, unsigned i, bool unordered, bool do_pop)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned bits;
    bool done = true;
    if (!fpu_has(cpu, FEAT_CMOV))
        cpu_exception(cpu, EXC_UD, 0);
    if (empty(f, 0) || empty(f, i)) {
        /* As FCOM: unordered even when the underflow is unmasked. */
        done = underflow(f);
        bits = F80_C0 | F80_C2 | F80_C3;
    } else {
        /* An unmasked exception leaves the stack alone, but the host CPU still sets ZF/PF/CF
         * (as the P6-era SDM said: "flags are set regardless"; today's SDM says they are not
         * set on an unmasked #IA). */
        bits = f80_compare(ctx(f), st(f, 0), st(f, i), F80_X80, unordered, &done);
        raise_bits(f, bits & F80_EXC, 0);
    }
    uint32_t fl = (bits & F80_C3 ? FLAG_ZF : 0) | (bits & F80_C2 ? FLAG_PF : 0) |
                  (bits & F80_C0 ? FLAG_CF : 0);
    cpu_set_eflags(cpu, fl, FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF);
    if (done && do_pop)
        pop(f);
}

/* FLD from memory (float, integer, m80, BCD). */
static void load_mem(struct cpu *cpu, int seg, uint32_t ea, enum f80_kind kind, bool bcd)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t buf[10];
    if (bcd)
        cpu_read_bytes(cpu, seg, ea, buf, 10);
    else
        read_operand(cpu, seg, ea, kind, buf);
    if (!empty(f, 7)) {
        if (overflow(f))
            push(f, f80_indefinite());
        return;
    }
    f80 v;
    unsigned bits;
    bool loaded = true;
    if (bcd) {
        bits = f80_bcd_load(ctx(f), buf, &v);
    } else if (kind == F80_X80) {
        memcpy(&v.mant, buf, 8);
        v.se = get16(buf + 8);
        bits = 0;
    } else {
        bits = f80_load(ctx(f), buf, kind, &v, &loaded);
    }
    raise_bits(f, bits, F80_C1);
    if (loaded)
        push(f, v);
}

/* FST/FIST/FISTTP/FBSTP to memory, optional pop. */
static void store_mem(struct cpu *cpu, int seg, uint32_t ea, enum f80_kind kind, bool truncate,
                      bool bcd, bool do_pop)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t buf[10];
    unsigned n = bcd ? 10 : kind_bytes(kind);
    unsigned bits;
    bool written;
    if (empty(f, 0)) {
        if (!(f->control & F80_IE)) {
            raise_bits(f, F80_IE | F80_SF, F80_C1);
            return;
        }
        if (bcd) {
            memset(buf, 0, 10);
            buf[7] = 0xc0;
            buf[8] = 0xff;
            buf[9] = 0xff;
        } else {
            indefinite_bytes(kind, buf);
        }
        cpu_write_bytes(cpu, seg, ea, buf, n);
        raise_bits(f, F80_IE | F80_SF, F80_C1);
        if (do_pop)
            pop(f);
        return;
    }
    if (bcd)
        bits = f80_bcd_store(ctx(f), st(f, 0), buf, &written);
    else
        bits = f80_store(ctx(f), st(f, 0), buf, kind, truncate, &written);
    if (written)
        cpu_write_bytes(cpu, seg, ea, buf, n);
    raise_bits(f, bits, F80_C1);
    if (written && do_pop)
        pop(f);
}

/* ST(i) = ST(0), optional pop (FST/FSTP ST(i)). */
static void store_reg(struct fpu_state *f, unsigned i, bool do_pop)
{
    if (empty(f, 0)) {
        if (!underflow(f))
            return;
        *st(f, i) = f80_indefinite();
    } else {
        *st(f, i) = *st(f, 0);
        raise_bits(f, 0, F80_C1);
    }
    set_valid(f, i);
    if (do_pop)
        pop(f);
}

static void fxch(struct fpu_state *f, unsigned i)
{
    if (empty(f, 0) || empty(f, i)) {
        if (!underflow(f))
            return;
        if (empty(f, 0))
            *st(f, 0) = f80_indefinite();
        if (empty(f, i))
            *st(f, i) = f80_indefinite();
        set_valid(f, 0);
        set_valid(f, i);
    } else {
        raise_bits(f, 0, F80_C1);
    }
    f80 t = *st(f, 0);
    *st(f, 0) = *st(f, i);
    *st(f, i) = t;
}

static void fxam(struct fpu_state *f)
{
    f80 v = *st(f, 0);
    unsigned cc, e = v.se & 0x7fff;
    bool integer = v.mant >> 63;
    if (empty(f, 0))
        cc = F80_C3 | F80_C0;
    else if (e == 0x7fff)
        cc = !integer ? 0 : (v.mant << 1) ? F80_C0 : F80_C2 | F80_C0;
    else if (e == 0)
        cc = v.mant ? F80_C3 | F80_C2 : F80_C3;
    else
        cc = integer ? F80_C2 : 0;
    if (v.se & 0x8000)
        cc |= F80_C1;
    raise_bits(f, cc, F80_CC);
}

/* A stack fault clears C2 of the instructions for which it flags an incomplete reduction (FSIN,
 * FCOS, FSINCOS, FPTAN: operand out of range; FPREM, FPREM1: partial remainder), masked or not;
 * C0 and C3 stay (host behaviour; the SDM leaves them undefined). */
static void clear_c2_on_fault(struct fpu_state *f, enum f80_stack_op op)
{
    if (op == F80_FSIN || op == F80_FCOS || op == F80_FSINCOS || op == F80_FPTAN ||
        op == F80_FPREM || op == F80_FPREM1)
        f->status &= (uint16_t)~F80_C2;
}

/* Operations on ST(0)/ST(1) run by f80_stack, which returns all four condition codes. */
static void stack_op(struct fpu_state *f, enum f80_stack_op op)
{
    f80 r[3] = { *st(f, 0), *st(f, 1), { 0, 0 } };
    int delta = 0;
    unsigned bits;
    switch (op) {
    case F80_FSQRT: case F80_FRNDINT: case F80_F2XM1: case F80_FSIN: case F80_FCOS:
        if (empty(f, 0)) {
            clear_c2_on_fault(f, op);
            if (underflow(f))
                set_indefinite(f, 0);
            return;
        }
        bits = f80_stack(op, ctx(f), r, &delta);
        raise_bits(f, bits, F80_CC);
        *st(f, 0) = r[0];
        return;
    case F80_FSINCOS: case F80_FPTAN: case F80_FXTRACT:
        if (empty(f, 0)) {
            clear_c2_on_fault(f, op);
            /* The underflow is the only fault reported, even on a full stack. */
            if (underflow(f)) {
                set_indefinite(f, 0);
                push(f, f80_indefinite());
            }
            return;
        }
        if (!empty(f, 7)) {
            clear_c2_on_fault(f, op);
            if (overflow(f)) {
                *st(f, 0) = f80_indefinite();
                push(f, f80_indefinite());
            }
            return;
        }
        bits = f80_stack(op, ctx(f), r, &delta);
        raise_bits(f, bits, F80_CC);
        if (delta == 1) {
            *st(f, 0) = r[1];
            push(f, r[0]);
        } else {
            *st(f, 0) = r[0];
        }
        return;
    case F80_FSCALE: case F80_FPREM: case F80_FPREM1:
        if (empty(f, 0) || empty(f, 1)) {
            clear_c2_on_fault(f, op);
            if (underflow(f))
                set_indefinite(f, 0);
            return;
        }
        bits = f80_stack(op, ctx(f), r, &delta);
        raise_bits(f, bits, F80_CC);
        *st(f, 0) = r[0];
        return;
    case F80_FPATAN: case F80_FYL2X: case F80_FYL2XP1:
        if (empty(f, 0) || empty(f, 1)) {
            if (underflow(f)) {
                set_indefinite(f, 1);
                pop(f);
            }
            return;
        }
        bits = f80_stack(op, ctx(f), r, &delta);
        raise_bits(f, bits, F80_CC);
        if (delta == -1) {
            *st(f, 1) = r[0];
            pop(f);
        }
        return;
    default: /* constants */
        if (!empty(f, 7)) {
            if (overflow(f))
                push(f, f80_indefinite());
            return;
        }
        bits = f80_stack(op, ctx(f), r, &delta);
        raise_bits(f, bits, F80_CC);
        push(f, r[0]);
        return;
    }
}

/* FCMOVcc: condition from EFLAGS per the DA/DB reg field. */
static void fcmov(struct cpu *cpu, uint8_t opcode, unsigned reg, unsigned i)
{
    struct fpu_state *f = &cpu->fpu;
    if (!fpu_has(cpu, FEAT_CMOV))
        cpu_exception(cpu, EXC_UD, 0);
    uint32_t fl = cpu_get_eflags(cpu);
    bool cond;
    switch (reg) {
    case 0: cond = fl & FLAG_CF; break;
    case 1: cond = fl & FLAG_ZF; break;
    case 2: cond = fl & (FLAG_CF | FLAG_ZF); break;
    default: cond = fl & FLAG_PF; break;
    }
    if (opcode == 0xdb)
        cond = !cond;
    if (empty(f, 0) || empty(f, i)) {
        if (underflow(f)) {
            /* Masked response: ST(0) becomes indefinite whatever the condition. */
            *st(f, 0) = f80_indefinite();
            set_valid(f, 0);
        }
        return;
    }
    /* C1 is written only on stack underflow (SDM FCMOVcc, and Vol. 1 table 8-3). */
    if (cond)
        *st(f, 0) = *st(f, i);
}

static _Noreturn void ud(struct cpu *cpu) { cpu_exception(cpu, EXC_UD, 0); }

/* D9 register forms. */
static void op_d9_reg(struct cpu *cpu, uint8_t modrm)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned i = modrm & 7;
    switch (modrm) {
    case 0xc0 ... 0xc7: {
        /* An empty source is reported before a full stack. */
        bool src_empty = empty(f, i);
        f80 v = src_empty ? f80_indefinite() : *st(f, i);
        if (src_empty) {
            if (underflow(f))
                push(f, v);
        } else if (!empty(f, 7)) {
            if (overflow(f))
                push(f, f80_indefinite());
        } else {
            raise_bits(f, 0, F80_C1);
            push(f, v);
        }
        return;
    }
    case 0xc8 ... 0xcf: fxch(f, i); return;
    case 0xd0: return; /* FNOP */
    case 0xd8 ... 0xdf:
        /* FSTP1, an undocumented alias of FSTP ST(i). From an empty ST(0) the host CPU just
         * pops (C1 = 0): no stack fault, ST(i) untouched. */
        if (empty(f, 0)) {
            raise_bits(f, 0, F80_C1);
            pop(f);
            return;
        }
        store_reg(f, i, true);
        return;
    case 0xe0: case 0xe1:
        if (empty(f, 0)) {
            if (underflow(f))
                set_indefinite(f, 0);
            return;
        }
        if (modrm == 0xe0)
            st(f, 0)->se ^= 0x8000;
        else
            st(f, 0)->se &= 0x7fff;
        raise_bits(f, 0, F80_C1);
        return;
    case 0xe4:
        if (empty(f, 0)) {
            /* Unordered, even when the underflow is unmasked (as FCOM). */
            underflow(f);
            raise_bits(f, F80_C0 | F80_C2 | F80_C3, F80_C0 | F80_C2 | F80_C3);
            return;
        } else {
            unsigned bits = f80_test(ctx(f), st(f, 0));
            raise_bits(f, bits, F80_CC);
        }
        return;
    case 0xe5: fxam(f); return;
    case 0xe8: stack_op(f, F80_FLD1); return;
    case 0xe9: stack_op(f, F80_FLDL2T); return;
    case 0xea: stack_op(f, F80_FLDL2E); return;
    case 0xeb: stack_op(f, F80_FLDPI); return;
    case 0xec: stack_op(f, F80_FLDLG2); return;
    case 0xed: stack_op(f, F80_FLDLN2); return;
    case 0xee: stack_op(f, F80_FLDZ); return;
    case 0xf0: stack_op(f, F80_F2XM1); return;
    case 0xf1: stack_op(f, F80_FYL2X); return;
    case 0xf2: stack_op(f, F80_FPTAN); return;
    case 0xf3: stack_op(f, F80_FPATAN); return;
    case 0xf4: stack_op(f, F80_FXTRACT); return;
    case 0xf5: stack_op(f, F80_FPREM1); return;
    case 0xf6: f->top = (f->top - 1) & 7; raise_bits(f, 0, F80_C1); return;
    case 0xf7: f->top = (f->top + 1) & 7; raise_bits(f, 0, F80_C1); return;
    case 0xf8: stack_op(f, F80_FPREM); return;
    case 0xf9: stack_op(f, F80_FYL2XP1); return;
    case 0xfa: stack_op(f, F80_FSQRT); return;
    case 0xfb: stack_op(f, F80_FSINCOS); return;
    case 0xfc: stack_op(f, F80_FRNDINT); return;
    case 0xfd: stack_op(f, F80_FSCALE); return;
    case 0xfe: stack_op(f, F80_FSIN); return;
    case 0xff: stack_op(f, F80_FCOS); return;
    default: ud(cpu);
    }
}

/* Memory operand kind of the arithmetic escapes D8 (m32), DA (m32int), DC (m64), DE (m16int). */
static enum f80_kind arith_kind(uint8_t opcode)
{
    switch (opcode) {
    case 0xd8: return F80_M32;
    case 0xda: return F80_I32;
    case 0xdc: return F80_M64;
    default: return F80_I16;
    }
}

/* True for the control instructions, which leave FIP/FDP/FOP alone. */
static bool is_control(uint8_t opcode, uint8_t modrm)
{
    unsigned reg = modrm >> 3 & 7;
    bool mem = modrm < 0xc0;
    if (opcode == 0xd9 && mem && reg >= 4)
        return true;
    if (opcode == 0xdb && modrm >= 0xe0 && modrm <= 0xe7)
        return true;
    if (opcode == 0xdd && mem && (reg == 4 || reg == 6 || reg == 7))
        return true;
    if (opcode == 0xdf && modrm == 0xe0)
        return true;
    return false;
}

/* Non-waiting forms: FNSTENV, FNSTCW, FNCLEX, FNINIT, FNSAVE, FNSTSW, FNENI/FNDISI/FNSETPM. */
static bool is_nowait(uint8_t opcode, uint8_t modrm)
{
    unsigned reg = modrm >> 3 & 7;
    bool mem = modrm < 0xc0;
    return (opcode == 0xd9 && mem && (reg == 6 || reg == 7)) ||
           (opcode == 0xdb && modrm >= 0xe0 && modrm <= 0xe4) ||
           (opcode == 0xdd && mem && (reg == 6 || reg == 7)) || (opcode == 0xdf && modrm == 0xe0);
}

/* Is the escape opcode defined (on this model)? Undefined ones raise #UD before any x87 check
 * but #NM, pending exceptions included. Register forms: the SDM's opcode map plus the
 * aliases every x87 since the 387 decodes (FCOM2/FCOMP3/FCOMP5, FXCH4/FXCH7, FSTP1/FSTP8/FSTP9,
 * FFREEP, FNENI/FNDISI/FNSETPM as no-ops). */
static bool valid_encoding(struct cpu *cpu, uint8_t opcode, uint8_t modrm)
{
    unsigned reg = modrm >> 3 & 7;
    if (modrm < 0xc0) {
        switch (opcode) {
        case 0xd9: return reg != 1;
        case 0xdb: return reg == 1 ? fpu_has(cpu, FEAT_SSE3) : reg != 4 && reg != 6;
        case 0xdd: return reg == 1 ? fpu_has(cpu, FEAT_SSE3) : reg != 5;
        case 0xdf: return reg != 1 || fpu_has(cpu, FEAT_SSE3);
        default: return true;
        }
    }
    switch (opcode) {
    case 0xd9:
        if (modrm >= 0xd1 && modrm <= 0xd7)
            return false;
        return modrm != 0xe2 && modrm != 0xe3 && modrm != 0xe6 && modrm != 0xe7 && modrm != 0xef;
    case 0xda:
        if (reg < 4)
            return fpu_has(cpu, FEAT_CMOV);
        return modrm == 0xe9;
    case 0xdb:
        if (reg < 4 || reg == 5 || reg == 6)
            return fpu_has(cpu, FEAT_CMOV);
        return modrm >= 0xe0 && modrm <= 0xe4;
    case 0xdd:
        return reg != 6 && reg != 7;
    case 0xde:
        return reg != 3 || modrm == 0xd9;
    case 0xdf:
        if (reg == 5 || reg == 6)
            return fpu_has(cpu, FEAT_CMOV);
        return reg < 4 || modrm == 0xe0;
    default:
        return true;
    }
}

void cpu_fpu_wait(struct cpu *cpu)
{
    if ((cpu->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
        cpu_exception(cpu, EXC_NM, 0);
    check_pending(cpu);
}

void cpu_fpu_op(struct cpu *cpu, uint8_t opcode, uint8_t modrm, int seg, uint32_t ea, bool op32)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned reg = modrm >> 3 & 7, i = modrm & 7;
    bool mem = modrm < 0xc0;
    uint8_t buf[10];

    if (cpu->cr0 & (CR0_EM | CR0_TS))
        cpu_exception(cpu, EXC_NM, 0);
    if (!valid_encoding(cpu, opcode, modrm))
        ud(cpu);
    if (!is_nowait(opcode, modrm))
        check_pending(cpu);
    if (!is_control(opcode, modrm)) {
        f->fip = cpu->eip_start;
        f->fcs = cpu->seg[SEG_CS].sel;
        f->fop = (uint16_t)((opcode & 7) << 8 | modrm);
        if (mem) {
            f->fdp = ea;
            f->fds = cpu->seg[seg].sel;
        }
    }

    switch (opcode) {
    case 0xd8: case 0xda: case 0xdc: case 0xde:
        if (mem) {
            enum f80_kind kind = arith_kind(opcode);
            read_operand(cpu, seg, ea, kind, buf);
            if (reg == 2 || reg == 3)
                compare(f, buf, kind, false, false, reg == 3);
            else
                arith_st0(f, reg, buf, kind, false);
            return;
        }
        if (opcode == 0xd8) {
            if (reg == 2 || reg == 3)
                compare(f, st(f, i), F80_X80, empty(f, i), false, reg == 3);
            else
                arith_st0(f, reg, st(f, i), F80_X80, empty(f, i));
            return;
        }
        if (opcode == 0xda) {
            if (reg < 4)
                fcmov(cpu, opcode, reg, i);
            else if (modrm == 0xe9)
                compare(f, st(f, 1), F80_X80, empty(f, 1), true, 2); /* FUCOMPP */
            else
                ud(cpu);
            return;
        }
        if (reg == 2 || reg == 3) {
            /* DC D0/D8 (FCOM2/FCOMP3), DE D0 (FCOMP5) aliases; DE D9 FCOMPP. */
            if (opcode == 0xde && reg == 3) {
                if (modrm != 0xd9)
                    ud(cpu);
                compare(f, st(f, 1), F80_X80, empty(f, 1), false, 2);
                return;
            }
            compare(f, st(f, i), F80_X80, empty(f, i), false, opcode == 0xde || reg == 3);
            return;
        }
        arith_sti(f, reg, i, opcode == 0xde);
        return;

    case 0xd9:
        if (!mem) {
            op_d9_reg(cpu, modrm);
            return;
        }
        switch (reg) {
        case 0: load_mem(cpu, seg, ea, F80_M32, false); return;
        case 2: store_mem(cpu, seg, ea, F80_M32, false, false, false); return;
        case 3: store_mem(cpu, seg, ea, F80_M32, false, false, true); return;
        case 4: fldenv(cpu, seg, ea, op32); return;
        case 5:
            f->control = (uint16_t)((cpu_read16(cpu, seg, ea) & 0x1f3f) | 0x0040);
            update_es(cpu);
            return;
        case 6: fnstenv(cpu, seg, ea, op32); return;
        case 7: cpu_write16(cpu, seg, ea, f->control); return;
        default: ud(cpu);
        }

    case 0xdb:
        if (!mem) {
            if (reg < 4) {
                fcmov(cpu, opcode, reg, i);
                return;
            }
            switch (modrm) {
            case 0xe0: case 0xe1: case 0xe4: return; /* FNENI, FNDISI, FNSETPM: no-ops */
            case 0xe2: /* FNCLEX */
                f->status &= ~(F80_EXC | F80_SF | F80_ES | F80_B);
                update_es(cpu);
                return;
            case 0xe3: fninit(cpu); return;
            default:
                if (reg == 5 || reg == 6) {
                    compare_eflags(cpu, i, reg == 5, false);
                    return;
                }
                ud(cpu);
            }
        }
        switch (reg) {
        case 0: load_mem(cpu, seg, ea, F80_I32, false); return;
        case 1:
            if (!fpu_has(cpu, FEAT_SSE3))
                ud(cpu);
            store_mem(cpu, seg, ea, F80_I32, true, false, true);
            return;
        case 2: store_mem(cpu, seg, ea, F80_I32, false, false, false); return;
        case 3: store_mem(cpu, seg, ea, F80_I32, false, false, true); return;
        case 5: load_mem(cpu, seg, ea, F80_X80, false); return;
        case 7: store_mem(cpu, seg, ea, F80_X80, false, false, true); return;
        default: ud(cpu);
        }

    case 0xdd:
        if (!mem) {
            switch (reg) {
            case 0: /* FFREE: C1 cleared as on the host (the SDM leaves C0-C3 undefined) */
                f->valid &= ~(1u << phys(f, i));
                raise_bits(f, 0, F80_C1);
                return;
            case 1: fxch(f, i); return;                       /* FXCH4 alias */
            case 2: store_reg(f, i, false); return;
            case 3: store_reg(f, i, true); return;
            case 4: compare(f, st(f, i), F80_X80, empty(f, i), true, 0); return;
            case 5: compare(f, st(f, i), F80_X80, empty(f, i), true, 1); return;
            default: ud(cpu);
            }
        }
        switch (reg) {
        case 0: load_mem(cpu, seg, ea, F80_M64, false); return;
        case 1:
            if (!fpu_has(cpu, FEAT_SSE3))
                ud(cpu);
            store_mem(cpu, seg, ea, F80_I64, true, false, true);
            return;
        case 2: store_mem(cpu, seg, ea, F80_M64, false, false, false); return;
        case 3: store_mem(cpu, seg, ea, F80_M64, false, false, true); return;
        case 4: frstor(cpu, seg, ea, op32); return;
        case 6: fnsave(cpu, seg, ea, op32); return;
        case 7: cpu_write16(cpu, seg, ea, fpu_status_word(f)); return;
        default: ud(cpu);
        }

    case 0xdf:
        if (!mem) {
            switch (reg) {
            case 0: /* FFREEP (as FFREE, then pop) */
                f->valid &= ~(1u << phys(f, i));
                raise_bits(f, 0, F80_C1);
                pop(f);
                return;
            case 1: fxch(f, i); return;                              /* FXCH7 alias */
            case 2: case 3: store_reg(f, i, true); return;           /* FSTP8/9 aliases */
            case 4:
                if (modrm != 0xe0)
                    ud(cpu);
                cpu->regs[R_EAX] = (cpu->regs[R_EAX] & 0xffff0000u) | fpu_status_word(f);
                return;
            case 5: compare_eflags(cpu, i, true, true); return;
            case 6: compare_eflags(cpu, i, false, true); return;
            default: ud(cpu);
            }
        }
        switch (reg) {
        case 0: load_mem(cpu, seg, ea, F80_I16, false); return;
        case 1:
            if (!fpu_has(cpu, FEAT_SSE3))
                ud(cpu);
            store_mem(cpu, seg, ea, F80_I16, true, false, true);
            return;
        case 2: store_mem(cpu, seg, ea, F80_I16, false, false, false); return;
        case 3: store_mem(cpu, seg, ea, F80_I16, false, false, true); return;
        case 4: load_mem(cpu, seg, ea, F80_X80, true); return;
        case 5: load_mem(cpu, seg, ea, F80_I64, false); return;
        case 6: store_mem(cpu, seg, ea, F80_X80, false, true, true); return;
        case 7: store_mem(cpu, seg, ea, F80_I64, false, false, true); return;
        }
        return;
    default:
        ud(cpu);
    }
}

/* ---- MMX register file view ---- */

void fpu_mmx_enter(struct cpu *cpu)
{
    cpu->fpu.top = 0;
    cpu->fpu.valid = 0xff;
}

void fpu_mmx_write(struct cpu *cpu, unsigned reg, uint64_t v)
{
    cpu->fpu.st[reg & 7].mant = v;
    cpu->fpu.st[reg & 7].se = 0xffff;
}

void fpu_check_pending(struct cpu *cpu) { check_pending(cpu); }

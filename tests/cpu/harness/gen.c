/* CPU conformance harness: the list of instruction forms (all from pcvm's
 * opcode tables: integer, x87 and SIMD) and seeded cases. */
#include "gen.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "cpu/opcodes.h"

/* EFLAGS bits used here (same values as cpu/cpu.h; not included to keep this file portable
 * to the 32-bit native build without the rest of the core). */
#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_DF 0x400u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* ---- Random numbers: splitmix64 per case, so any case can be rebuilt alone ---- */

struct rng {
    uint64_t s;
};

static uint64_t rnd64(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t rnd32(struct rng *r) { return (uint32_t)rnd64(r); }
static uint32_t rndn(struct rng *r, uint32_t n) { return n ? (uint32_t)(rnd64(r) % n) : 0; }
static bool chance(struct rng *r, uint32_t one_in) { return rndn(r, one_in) == 0; }

static const uint32_t edge32[] = {
    0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff,
    0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x0f, 0x10, 0x55555555, 0xaaaaaaaa,
    0x7ffffffe, 0xff80, 0xffffff80, 0x00ff00ff,
};
#define NEDGE (sizeof(edge32) / sizeof(edge32[0]))

/* A value for an integer operand: edge values (also in the upper bytes, for AH..BH), or
 * random. */
static uint32_t pick_value(struct rng *r)
{
    switch (rndn(r, 6)) {
    case 0: case 1: case 2: return edge32[rndn(r, NEDGE)];
    case 3: return edge32[rndn(r, NEDGE)] << 8 | edge32[rndn(r, NEDGE)] >> 24;
    case 4: return (edge32[rndn(r, NEDGE)] & 0xff) * 0x01010101u;
    default: return rnd32(r);
    }
}

static const uint8_t shift_counts[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255, 0xe1 };

/* ---- x87 and SIMD forms: names, operand kinds and imm8 come from pcvm's opcode tables ---- */

/* The x87 memory operand kinds are the opcode table's (enum x87_mem). */
enum gen_x87_mem { XM_NONE = X87M_NONE, XM_F32 = X87M_F32, XM_F64 = X87M_F64, XM_F80 = X87M_F80,
                   XM_I16 = X87M_I16, XM_I32 = X87M_I32, XM_I64 = X87M_I64, XM_BCD = X87M_BCD,
                   XM_ENV = X87M_ENV, XM_SAVE = X87M_SAVE, XM_CW = X87M_CW, XM_SW = X87M_SW };

/* SIMD opcodes of map 1 covered (mandatory prefixes 0/66/F2/F3 each, valid or not): every
 * opcode the SIMD table has a form for, and UD0 (0F FF). 0F 78/79 (AMD SSE4a on the host)
 * and the 0F 38 / 0F 3A maps are left out: the host has extensions pcvm's models do not. */
static bool simd_opcode(uint8_t op)
{
    static const uint8_t pfx[4] = { 0, 0x66, 0xf2, 0xf3 };
    if (op == 0xff)
        return true;
    for (int p = 0; p < 4; p++)
        for (int reg = 0; reg < 8; reg++)
            if (opcode_simd_lookup(op, pfx[p], reg, false) || opcode_simd_lookup(op, pfx[p], reg, true))
                return true;
    return false;
}
static bool simd_has_imm8(uint8_t op)
{
    static const uint8_t pfx[4] = { 0, 0x66, 0xf2, 0xf3 };
    for (int p = 0; p < 4; p++)
        for (int reg = 0; reg < 8; reg++) {
            const struct simd_op_info *e = opcode_simd_lookup(op, pfx[p], reg, false);
            if (!e)
                e = opcode_simd_lookup(op, pfx[p], reg, true);
            if (e && (e->attr & SA_IMM8))
                return true;
        }
    return false;
}

/* ---- Forms ---- */

static bool name_in(const char *n, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(n, *list))
            return true;
    return false;
}

/* Integer opcodes the host cannot run for us at CPL 3 or that need system state. Faulting
 * ones that fault the same way everywhere in ring 3 (IO, HLT, CLI/STI) are kept. */
static bool int_excluded(int map, uint8_t op, int reg, const struct opcode_info *e)
{
    if (map == 0) {
        switch (op) {
        case 0x6c: case 0x6d: case 0x6e: case 0x6f: case 0xe4: case 0xe5: case 0xe6: case 0xe7:
        case 0xec: case 0xed: case 0xee: case 0xef: case 0xf4: case 0xfa: case 0xfb: case 0xcc:
        case 0xce: case 0x9d:
            return false;      /* #GP at CPL 3 / traps / POPF: run them */
        case 0xe8: case 0xe9: case 0xeb: case 0xc2: case 0xc3:
            return false;      /* near branches: they land on the harness's exits */
        case 0xff:
            if (reg == 2 || reg == 4)
                return false;  /* CALL/JMP Ev */
            break;
        case 0x8f:
            return reg != 0;   /* 8F /1-7 is the XOP escape on AMD hosts */
        case 0xc6: case 0xc7:
            return reg == 7;   /* XABORT / XBEGIN on TSX hosts */
        case 0xcd:
            return true;       /* INT n: Linux gives some vectors DPL 3 */
        case 0x9b:
            return true;       /* FWAIT: an x87 form */
        }
    } else {
        switch (op) {
        case 0x00: case 0x01:  /* SLDT/SGDT...: UMIP emulation by the host kernel */
        case 0x31: case 0x33: case 0xa2: /* RDTSC, RDPMC, CPUID: host-specific values */
            return true;
        case 0xc7:
            return reg >= 3;   /* XRSTORS/XSAVEC/XSAVES, RDRAND/RDSEED on the host */
        case 0x0d: case 0x0e:
            return true;
        }
    }
    if (e->attr & (OA_PRIV | OA_BRANCH))
        return true;
    if (e->attr & OA_FPU)
        return true;
    return false;
}

static bool int_sized(const struct opcode_info *parent, const struct opcode_info *e)
{
    static const char *const sized[] = { "movs", "cmps", "stos", "lods", "scas", "pusha", "popa",
                                         "pushf", "popf", "cbw", "cwd", "ins", "outs", "leave",
                                         "enter", "push", "pop", NULL };
    const char *ops = parent->operands ? parent->operands : "";
    if (e->operands && e->operands[0] && e->operands[0] != '*')
        ops = e->operands;
    if (strchr(ops, 'v') || strchr(ops, 'z'))
        return true;
    return e->name && name_in(e->name, sized);
}

static uint8_t int_kind(int map, uint8_t op, int reg, const char *n)
{
    if (map == 0) {
        switch (op) {
        case 0xd0: case 0xd1: return K_SHIFT1;
        case 0xd2: case 0xd3: return K_SHIFT_CL;
        case 0xc0: case 0xc1: return K_SHIFT_IB;
        case 0x27: case 0x2f: case 0x37: case 0x3f: return K_BCD;
        case 0xd4: case 0xd5: return K_AAMD;
        case 0xd7: return K_XLAT;
        case 0x62: return K_BOUND;
        case 0x9d: return K_POPF;
        case 0xc8: return K_ENTER;
        case 0xc9: return K_LEAVE;
        case 0xa0: case 0xa1: case 0xa2: case 0xa3: return K_MOFFS;
        case 0xe0: case 0xe1: case 0xe2: case 0xe3: return K_LOOP;
        case 0xce: return K_INTO;
        case 0xe8: case 0xe9: case 0xeb: case 0xc2: case 0xc3: return K_BRANCH;
        case 0xff: if (reg == 2 || reg == 4) return K_BRANCH; break;
        case 0xcc: case 0xf4: case 0xfa: case 0xfb: case 0xe4: case 0xe5: case 0xe6: case 0xe7:
        case 0xec: case 0xed: case 0xee: case 0xef: return K_FAULT;
        case 0xf6: case 0xf7:
            return reg >= 6 ? K_DIV : reg >= 4 ? K_MULDIV : K_PLAIN;
        }
        if (op >= 0x70 && op <= 0x7f)
            return K_JCC;
        if ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || (op >= 0x6c && op <= 0x6f))
            return K_STRING;
        if (!strcmp(n, "push") || !strcmp(n, "pop") || !strcmp(n, "pusha") || !strcmp(n, "popa") ||
            !strcmp(n, "pushf"))
            return K_STACK;
    } else {
        switch (op) {
        case 0xa5: case 0xad: return K_SHIFT_CL;
        case 0xa4: case 0xac: return K_SHIFT_IB;
        case 0xa3: case 0xab: case 0xb3: case 0xbb: return K_BTMEM;
        case 0xb0: case 0xb1: return K_CMPXCHG;
        case 0xc7: return K_CX8;
        case 0xbc: case 0xbd: return K_BSX;
        case 0xa0: case 0xa8: return K_STACK;
        }
        if (op >= 0x80 && op <= 0x8f)
            return K_JCC;
    }
    return K_PLAIN;
}

static struct gen_form *add_form(struct gen_form *forms, int *n, int max)
{
    if (*n >= max)
        return NULL;
    struct gen_form *f = &forms[(*n)++];
    memset(f, 0, sizeof(*f));
    f->reg = -1;
    return f;
}

static void int_forms(struct gen_form *forms, int *n, int max)
{
    for (int map = 0; map < 2; map++) {
        for (int op = 0; op < 256; op++) {
            const struct opcode_info *parent = opcode_lookup(map, (uint8_t)op, -1);
            if ((parent->attr & (OA_PREFIX | OA_FPU)) || (map == 0 && op == 0x0f))
                continue;
            bool group = parent->attr & OA_GROUP;
            for (int reg = group ? 0 : -1; reg < (group ? 8 : 0); reg++) {
                const struct opcode_info *e = group ? opcode_lookup(map, (uint8_t)op, reg) : parent;
                bool invalid = (e->attr & OA_INVALID) != 0;
                /* Named invalid opcodes (RSM, UD1) and undefined group members: #UD. */
                if (invalid && !group && !e->name)
                    continue;
                if (!invalid && int_excluded(map, (uint8_t)op, reg, parent))
                    continue;
                if (group && int_excluded(map, (uint8_t)op, reg, e))
                    continue;
                if (invalid && group && map == 0 && op == 0x8f)
                    continue;
                if (invalid && group && int_excluded(map, (uint8_t)op, reg, parent))
                    continue;
                const char *name = e->name ? e->name : "(bad)";
                bool sized = !invalid && int_sized(parent, e);
                bool byte = !sized && parent->operands && strstr(parent->operands, "b");
                bool modrm = parent->attr & OA_MODRM;
                bool memonly = (parent->attr | e->attr) & OA_MEMONLY;
                uint8_t kind = int_kind(map, (uint8_t)op, reg, name);
                for (int size = 0; size < 2; size++) {
                    if (size == 1 && !sized)
                        break;
                    if (size == 1 && (kind == K_JCC || kind == K_LOOP || kind == K_BRANCH))
                        break;   /* 16-bit EIP would leave the code page */
                    for (int mem = 0; mem < 2; mem++) {
                        if (mem == 1 && !modrm)
                            break;
                        if (mem == 0 && memonly && (op != 0x8d || size))
                            continue;   /* one #UD register form is enough (LEA) */
                        for (int lock = 0; lock < 2; lock++) {
                            /* LOCK: lockable memory forms run, every other memory form and
                             * ADD reg,reg must #UD. */
                            if (lock && !(mem || (op == 0x00 && map == 0)))
                                break;
                            if (lock && invalid)
                                break;
                            for (int rep = 0; rep < 3; rep++) {
                                if (rep && kind != K_STRING)
                                    break;
                              for (int a16 = 0; a16 < 2; a16++) {
                                if (a16 && (lock || !(mem || kind == K_STRING || kind == K_LOOP ||
                                                      kind == K_XLAT || kind == K_MOFFS)))
                                    break;
                                struct gen_form *f = add_form(forms, n, max);
                                if (!f)
                                    return;
                                f->family = TC_INT;
                                f->map = (uint8_t)map;
                                f->opcode = (uint8_t)op;
                                f->reg = (int8_t)reg;
                                f->opsize = byte ? 8 : size ? 16 : 32;
                                f->mem = (uint8_t)mem;
                                f->lock = (uint8_t)lock;
                                f->rep = rep == 1 ? 0xf3 : rep == 2 ? 0xf2 : 0;
                                f->kind = kind;
                                f->attr = parent->attr | e->attr;
                                snprintf(f->mnem, sizeof(f->mnem), "%s", name);
                                snprintf(f->name, sizeof(f->name), "%s%s%s %s%02x%s o%u%s",
                                         lock ? "lock " : "", f->rep == 0xf3 ? "rep " :
                                         f->rep == 0xf2 ? "repne " : "", name,
                                         map ? "0f" : "", op, reg >= 0 ? (const char[]){ '/', (char)('0' + reg), 0 } : "",
                                         f->opsize, modrm ? (mem ? " mem" : " reg") : "");
                                f->addr16 = (uint8_t)a16;
                                if (a16) {
                                    size_t l = strlen(f->name);
                                    snprintf(f->name + l, sizeof(f->name) - l, " a16");
                                }
                              }
                            }
                        }
                    }
                }
            }
        }
    }
}

/* F3 0F forms of the opcode table (POPCNT, TZCNT, LZCNT): 16/32-bit, register and memory. */
static void f3_forms(struct gen_form *forms, int *n, int max)
{
    for (int op = 0; op < 256; op++) {
        const struct opcode_info *e = opcode_lookup_f3(1, (uint8_t)op);
        if (!e)
            continue;
        for (int size = 0; size < 2; size++)
            for (int mem = 0; mem < 2; mem++) {
                struct gen_form *f = add_form(forms, n, max);
                if (!f)
                    return;
                f->family = TC_INT;
                f->map = 1;
                f->opcode = (uint8_t)op;
                f->opsize = size ? 16 : 32;
                f->mem = (uint8_t)mem;
                f->rep = 0xf3;
                f->kind = K_BSX;   /* a zero source now and then */
                f->attr = e->attr;
                snprintf(f->mnem, sizeof(f->mnem), "%s", e->name);
                snprintf(f->name, sizeof(f->name), "%s f3 0f%02x o%u %s", e->name, op, f->opsize,
                         mem ? "mem" : "reg");
            }
    }
}

static void x87_forms(struct gen_form *forms, int *n, int max)
{
    for (int op = 0xd8; op <= 0xdf; op++) {
        for (int reg = 0; reg < 8; reg++) {
            const struct x87_op_info *m = opcode_x87_lookup((uint8_t)op, (uint8_t)(reg << 3));
            struct gen_form *f = add_form(forms, n, max);
            if (!f)
                return;
            f->family = TC_X87;
            f->opcode = (uint8_t)op;
            f->reg = (int8_t)reg;
            f->mem = 1;
            f->kind = K_X87;
            f->mem_type = m->mem;
            f->mem_size = (uint8_t)x87_mem_size((enum x87_mem)m->mem, true);
            snprintf(f->mnem, sizeof(f->mnem), "%s", m->name ? m->name : "x87?");
            snprintf(f->name, sizeof(f->name), "%s %02x/%d mem", m->name ? m->name : "(bad)", op, reg);
        }
        for (int modrm = 0xc0; modrm <= 0xff; modrm++) {
            const char *name = opcode_x87_lookup((uint8_t)op, (uint8_t)modrm)->name;
            struct gen_form *f = add_form(forms, n, max);
            if (!f)
                return;
            f->family = TC_X87;
            f->opcode = (uint8_t)op;
            f->reg = (int8_t)(modrm >> 3 & 7);
            f->modrm = (uint8_t)modrm;
            f->kind = K_X87;
            snprintf(f->mnem, sizeof(f->mnem), "%s", name ? name : "x87?");
            snprintf(f->name, sizeof(f->name), "%s %02x %02x", name ? name : "(undoc)", op, modrm);
        }
    }
    struct gen_form *f = add_form(forms, n, max);
    if (!f)
        return;
    f->family = TC_X87;
    f->opcode = 0x9b;
    f->kind = K_X87;
    snprintf(f->mnem, sizeof(f->mnem), "fwait");
    snprintf(f->name, sizeof(f->name), "fwait 9b");
}

static void simd_forms(struct gen_form *forms, int *n, int max)
{
    static const uint8_t pfx[4] = { 0, 0x66, 0xf2, 0xf3 };
    for (int op = 0; op < 256; op++) {
        bool grp = op >= 0x71 && op <= 0x73;
        bool ae = op == 0xae;
        if (!simd_opcode((uint8_t)op) && !grp && !ae)
            continue;
        for (int p = 0; p < 4; p++) {
            if (op == 0x2b && p >= 2)
                break;   /* F2/F3 0F 2B: AMD SSE4a MOVNTSD/MOVNTSS on the host */
            if (op == 0x77 && p)
                break;
            for (int reg = (grp || ae) ? 0 : -1; reg < ((grp || ae) ? 8 : 0); reg++) {
                if (ae && p)
                    break;   /* F3 0F AE: FSGSBASE on the host (64-bit only) */
                for (int mem = 0; mem < 2; mem++) {
                    if (grp && mem)
                        break;
                    if (ae && mem && reg >= 4 && reg <= 6)
                        continue;  /* XSAVE/XRSTOR/XSAVEOPT on the host */
                    if (op == 0x77 && mem)
                        break;     /* EMMS has no ModRM */
                    struct gen_form *f = add_form(forms, n, max);
                    if (!f)
                        return;
                    f->family = TC_SIMD;
                    f->map = 1;
                    f->opcode = (uint8_t)op;
                    f->reg = (int8_t)reg;
                    f->pfx = pfx[p];
                    f->mem = (uint8_t)mem;
                    f->kind = K_SIMD;
                    f->mem_size = 16;
                    snprintf(f->mnem, sizeof(f->mnem), "%s", op >= 0x60 && op != 0xc2 && op != 0xc6 &&
                             !(op >= 0x7c && op <= 0x7d) && !(op == 0xd0) && !(op == 0xe6) &&
                             !(op == 0xae) ? (p == 0 ? "mmx" : "sse2i") : "sse");
                    char rs[4] = "";
                    if (reg >= 0)
                        snprintf(rs, sizeof(rs), "/%d", reg);
                    snprintf(f->name, sizeof(f->name), "%s %s0f%02x%s %s", f->mnem,
                             p == 0 ? "" : p == 1 ? "66 " : p == 2 ? "f2 " : "f3 ", op, rs,
                             mem ? "mem" : "reg");
                }
            }
        }
    }
}

/* The 0F 38 / 0F 3A forms of pcvm's table (SSSE3, SSE4.1, SSE4.2, AES-NI, PCLMULQDQ, MOVBE,
 * CRC32, ADX) with every mandatory prefix the table has for the opcode, plus the other prefixes
 * of the vector opcodes (#UD), register and memory operands. */
static void map23_forms(struct gen_form *forms, int *n, int max)
{
    static const uint8_t pfx[4] = { 0, 0x66, 0xf2, 0xf3 };
    for (int map = 2; map <= 3; map++)
        for (int op = 0; op < 256; op++) {
            if (!opcode_map23_exists((uint8_t)map, (uint8_t)op))
                continue;
            for (int p = 0; p < 4; p++)
                for (int mem = 0; mem < 2; mem++) {
                    const struct simd_op_info *e = opcode_map23_lookup((uint8_t)map, (uint8_t)op, pfx[p], mem);
                    if (!e && (op >= 0xf0 || (p >= 2 && mem)))
                        continue;   /* the host may have other extensions there (CET, SHA...) */
                    struct gen_form *f = add_form(forms, n, max);
                    if (!f)
                        return;
                    f->family = TC_SIMD;
                    f->map = (uint8_t)map;
                    f->opcode = (uint8_t)op;
                    f->reg = -1;
                    f->pfx = pfx[p];
                    f->mem = (uint8_t)mem;
                    f->abs_mem = (uint8_t)mem;
                    f->kind = K_SIMD;
                    f->mem_size = 16;
                    snprintf(f->mnem, sizeof(f->mnem), "%s", e ? e->name : "ud-0f38");
                    snprintf(f->name, sizeof(f->name), "%s %s0f%s%02x %s", e ? e->name : "(bad)",
                             p == 0 ? "" : p == 1 ? "66 " : p == 2 ? "f2 " : "f3 ",
                             map == 2 ? "38" : "3a", op, mem ? "mem" : "reg");
                }
        }
}

/* VEX-encoded BMI1/BMI2 forms of pcvm's table: register and memory ([disp32]) operands. */
static void vex_forms(struct gen_form *forms, int *n, int max)
{
    static const uint8_t pfx[4] = { 0, 0x66, 0xf3, 0xf2 };
    for (int map = 2; map <= 3; map++)
        for (int op = 0xf0; op <= 0xf7; op++)
            for (int p = 0; p < 4; p++)
                for (int reg = 0; reg < 8; reg++) {
                    bool group = map == 2 && op == 0xf3;   /* BLSR/BLSMSK/BLSI by ModRM.reg */
                    if (reg && !group)
                        break;
                    const struct opcode_info *e = opcode_vex_lookup((uint8_t)map, (uint8_t)op, pfx[p], reg);
                    if (!e)
                        continue;
                    for (int mem = 0; mem < 2; mem++) {
                        struct gen_form *f = add_form(forms, n, max);
                        if (!f)
                            return;
                        f->family = TC_SIMD;
                        f->map = (uint8_t)map;
                        f->opcode = (uint8_t)op;
                        f->reg = (int8_t)((map == 2 && op == 0xf3) ? reg : -1);
                        f->pfx = pfx[p];
                        f->mem = (uint8_t)mem;
                        f->abs_mem = (uint8_t)mem;
                        f->vex = 1;
                        f->kind = K_SIMD;
                        f->flags_undef = e->flags_undef;
                        snprintf(f->mnem, sizeof(f->mnem), "%s", e->name);
                        snprintf(f->name, sizeof(f->name), "%s vex.%s0f%s %02x %s", e->name,
                                 p == 0 ? "" : p == 1 ? "66." : p == 2 ? "f3." : "f2.",
                                 map == 2 ? "38" : "3a", op, mem ? "mem" : "reg");
                    }
                }
}

int gen_forms(struct gen_form *forms, int max)
{
    int n = 0;
    int_forms(forms, &n, max);
    f3_forms(forms, &n, max);
    x87_forms(forms, &n, max);
    simd_forms(forms, &n, max);
    map23_forms(forms, &n, max);
    vex_forms(forms, &n, max);
    return n;
}

bool gen_form_matches(const struct gen_form *f, const char *name)
{
    static const char *const fam[3] = { "int", "x87", "simd" };
    if (!strcmp(name, fam[f->family]) || !strcmp(name, f->mnem))
        return true;
    size_t len = strlen(name);
    return len > 1 && !strncmp(f->name, name, len) && (f->name[len] == ' ' || f->name[len] == 0);
}

/* ---- Cases ---- */

struct build {
    uint8_t *p;
    unsigned len;
};
static void emit8(struct build *b, uint8_t v) { if (b->len < TC_CODE_MAX) b->p[b->len++] = v; }
static void emit16(struct build *b, uint16_t v) { emit8(b, (uint8_t)v); emit8(b, (uint8_t)(v >> 8)); }
static void emit32(struct build *b, uint32_t v) { emit16(b, (uint16_t)v); emit16(b, (uint16_t)(v >> 16)); }

/* Registers with a fixed role in this case: never used as address base/index. */
static uint32_t fixed_regs(uint8_t kind, const struct gen_form *f)
{
    uint32_t m = 1u << 4;   /* ESP */
    switch (kind) {
    case K_SHIFT_CL: case K_LOOP: m |= 1u << 1; break;
    case K_STACK: case K_POPF: case K_ENTER: case K_BRANCH: m |= 1u << 5; break;
    case K_LEAVE: m |= 1u << 5; break;
    case K_DIV: case K_MULDIV: case K_CMPXCHG: case K_CX8: case K_AAMD: case K_BCD:
        m |= 1u << 0 | 1u << 2 | 1u << 1 | 1u << 3; break;
    case K_XLAT: m |= 1u << 3 | 1u; break;
    case K_SIMD:
        m |= 1u << 7;
        if (f && f->map == 3 && f->opcode >= 0x60 && f->opcode <= 0x63)
            m |= 1u << 0 | 1u << 2;   /* PCMPESTRx lengths in EAX and EDX */
        break;
    }
    return m;
}

/* Encode ModRM (+SIB+disp) naming memory at the buffer + off; sets the base/index regs. */
static void emit_modrm_mem(struct build *b, struct rng *r, struct tc_case *c, unsigned reg,
                           uint32_t off, uint32_t avoid)
{
    uint32_t addr = c->membase + off;
    unsigned cand[8], nc = 0;
    for (unsigned i = 0; i < 8; i++)
        if (!(avoid & (1u << i)))
            cand[nc++] = i;
    unsigned mode = nc ? rndn(r, 5) : 0;
    if (mode == 0) {
        emit8(b, (uint8_t)(0x05 | reg << 3));
        emit32(b, addr);
    } else if (mode == 1 || mode == 2) {
        unsigned base = cand[rndn(r, nc)];
        if (mode == 1) {
            int8_t d = (int8_t)(rnd32(r) & 0xff);
            emit8(b, (uint8_t)(0x40 | reg << 3 | base));
            emit8(b, (uint8_t)d);
            c->in.regs[base] = addr - (uint32_t)(int32_t)d;
        } else {
            uint32_t d = rnd32(r);
            emit8(b, (uint8_t)(0x80 | reg << 3 | base));
            emit32(b, d);
            c->in.regs[base] = addr - d;
        }
    } else if (mode == 3 && nc >= 2) {
        /* SIB: base + index * scale + disp8. */
        unsigned base = cand[rndn(r, nc)], index;
        do
            index = cand[rndn(r, nc)];
        while (index == base);
        unsigned scale = rndn(r, 4);
        uint32_t iv = rnd32(r) & 0xff;
        int8_t d = (int8_t)(rnd32(r) & 0xff);
        emit8(b, (uint8_t)(0x44 | reg << 3));
        emit8(b, (uint8_t)(scale << 6 | index << 3 | base));
        emit8(b, (uint8_t)d);
        c->in.regs[index] = iv;
        c->in.regs[base] = addr - (iv << scale) - (uint32_t)(int32_t)d;
    } else {
        /* SIB without base: [index*scale + disp32]. */
        unsigned index = cand[rndn(r, nc)];
        unsigned scale = rndn(r, 4);
        uint32_t iv = rnd32(r) & 0xfff;
        emit8(b, (uint8_t)(0x04 | reg << 3));
        emit8(b, (uint8_t)(scale << 6 | index << 3 | 5));
        emit32(b, addr - (iv << scale));
        c->in.regs[index] = iv;
    }
}

/* 16-bit addressing: ModRM (+disp) naming the buffer + off (the buffer is below 64 KiB);
 * the upper halves of the base/index registers are random (they must be ignored). */
static void emit_modrm_mem16(struct build *b, struct rng *r, struct tc_case *c, unsigned reg,
                             uint32_t off, uint32_t avoid)
{
    static const int8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
    static const int8_t index16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };
    uint16_t addr = (uint16_t)(c->membase + off);
    unsigned cand[8], nc = 0;
    for (unsigned rm = 0; rm < 8; rm++)
        if (!(avoid & (1u << base16[rm])) && (index16[rm] < 0 || !(avoid & (1u << index16[rm]))))
            cand[nc++] = rm;
    if (!nc || chance(r, 6)) {
        emit8(b, (uint8_t)(0x06 | reg << 3));
        emit16(b, addr);
        return;
    }
    unsigned rm = cand[rndn(r, nc)];
    unsigned mod = rndn(r, 3);
    if (rm == 6 && mod == 0)
        mod = 1;
    uint16_t disp = mod == 1 ? (uint16_t)(int16_t)(int8_t)rnd32(r) : mod == 2 ? (uint16_t)rnd32(r) : 0;
    emit8(b, (uint8_t)(mod << 6 | reg << 3 | rm));
    if (mod == 1)
        emit8(b, (uint8_t)disp);
    else if (mod == 2)
        emit16(b, disp);
    uint16_t iv = 0;
    if (index16[rm] >= 0) {
        iv = (uint16_t)rnd32(r);
        c->in.regs[index16[rm]] = (rnd32(r) & 0xffff0000u) | iv;
    }
    c->in.regs[base16[rm]] = (rnd32(r) & 0xffff0000u) | (uint16_t)(addr - iv - disp);
}

/* ---- Floating-point special values ---- */

static const uint32_t f32_special[] = {
    0, 0x80000000, 0x3f800000, 0xbf800000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff,
    0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x3f000000,
    0x3fc00000, 0x40200000, 0x4f000000, 0xcf000000, 0x4effffff, 0x40490fdb, 0x3eaaaaab,
};
static const uint64_t f64_special[] = {
    0, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull, 1,
    0x000fffffffffffffull, 0x0010000000000000ull, 0x7fefffffffffffffull, 0x7ff0000000000000ull,
    0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff0000000000001ull,
    0x7ff4000000000000ull, 0x3fe0000000000000ull, 0x3ff8000000000000ull, 0x4004000000000000ull,
    0x41dfffffffc00000ull, 0x41e0000000000000ull, 0xc1e0000000000000ull, 0x43e0000000000000ull,
    0x400921fb54442d18ull, 0x3fd5555555555555ull, 0x3ff0000000000001ull, 0x4330000000000000ull,
};
struct f80v { uint16_t se; uint64_t m; };
static const struct f80v f80_special[] = {
    { 0, 0 }, { 0x8000, 0 }, { 0x3fff, 1ull << 63 }, { 0xbfff, 1ull << 63 }, { 0x4000, 1ull << 63 },
    { 0x3ffe, 1ull << 63 }, { 0x4000, 0xc90fdaa22168c235ull }, { 0x7ffe, ~0ull }, { 1, 1ull << 63 },
    { 0, 1 }, { 0, 0x4000000000000000ull }, { 0x8000, 0x0000000000000fffull },
    { 0, 0x8000000000000001ull },               /* pseudo-denormal */
    { 0x7fff, 1ull << 63 }, { 0xffff, 1ull << 63 }, /* infinities */
    { 0x7fff, 0xc000000000000001ull }, { 0xffff, 0xc000000000000000ull }, /* QNaN, indefinite */
    { 0x7fff, 0xa000000000000000ull }, { 0xffff, 0x8000000000000001ull }, /* SNaN */
    { 0x4000, 0x4000000000000000ull },          /* unnormal */
    { 0x7fff, 0 },                              /* pseudo-infinity */
    { 0x403e, 1ull << 63 }, { 0xc03e, 1ull << 63 }, { 0x401d, 0xfffffffe00000000ull },
    { 0x3fff, 0xc000000000000000ull }, { 0x4000, 0xa000000000000000ull }, /* 1.5, 2.5 */
    { 0x3ffd, 0xffffffffffffffffull }, { 0x3fff, 0x8000000000000400ull }, /* rounding edges */
    { 0x3fff, 0x8000000000000001ull }, { 0x3fff, 0x80000000000007ffull },
    { 0x43fe, 1ull << 63 }, { 0x3c00, 1ull << 63 }, /* f64 overflow / underflow */
    { 0x407e, 1ull << 63 }, { 0x3f80, 0xc000000000000000ull },
};
#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static struct f80v pick_f80(struct rng *r)
{
    struct f80v v;
    switch (rndn(r, 4)) {
    case 0: case 1:
        return f80_special[rndn(r, ARRAY_N(f80_special))];
    case 2:   /* a normal number near 1 */
        v.se = (uint16_t)(0x3ff0 + rndn(r, 32) + (chance(r, 2) ? 0x8000 : 0));
        v.m = rnd64(r) | 1ull << 63;
        return v;
    default:  /* anything finite */
        v.se = (uint16_t)(rndn(r, 0x7fff) | (chance(r, 2) ? 0x8000 : 0));
        v.m = rnd64(r) | (v.se & 0x7fff ? 1ull << 63 : 0);
        return v;
    }
}
static uint32_t pick_f32(struct rng *r)
{
    if (chance(r, 2))
        return f32_special[rndn(r, ARRAY_N(f32_special))];
    if (chance(r, 2))
        return (0x3f000000u + rndn(r, 0x02000000)) | (chance(r, 2) ? 0x80000000u : 0);
    return rnd32(r);
}
static uint64_t pick_f64(struct rng *r)
{
    if (chance(r, 2))
        return f64_special[rndn(r, ARRAY_N(f64_special))];
    if (chance(r, 2))
        return (0x3fe0000000000000ull + (rnd64(r) & 0x003fffffffffffffull)) |
               (chance(r, 2) ? 0x8000000000000000ull : 0);
    return rnd64(r);
}
static uint64_t pick_i64(struct rng *r)
{
    static const uint64_t e[] = { 0, 1, ~0ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
                                  0x7fff, 0x8000, 0xffffffffffff8000ull, 0x7fffffff,
                                  0xffffffff80000000ull, 0x80000000, 1000000 };
    if (chance(r, 2))
        return e[rndn(r, ARRAY_N(e))];
    return (uint64_t)(int64_t)(int32_t)pick_value(r);
}
/* A packed-BCD value (sometimes with invalid digits). */
static void pick_bcd(struct rng *r, uint8_t *p)
{
    for (int i = 0; i < 9; i++)
        p[i] = (uint8_t)(rndn(r, 10) | rndn(r, 10) << 4);
    p[9] = chance(r, 2) ? 0x80 : 0;
    if (chance(r, 8))
        p[rndn(r, 9)] |= 0xa0;
    if (chance(r, 8))
        memset(p, 0, 9);
}

/* Fill mem with a value of the given x87 memory type. */
static void fill_x87_mem(struct rng *r, uint8_t type, uint8_t *p)
{
    switch (type) {
    case XM_F32: put32(p, pick_f32(r)); break;
    case XM_F64: put64(p, pick_f64(r)); break;
    case XM_F80: { struct f80v v = pick_f80(r); put64(p, v.m); put16(p + 8, v.se); break; }
    case XM_I16: put16(p, (uint16_t)pick_value(r)); break;
    case XM_I32: put32(p, pick_value(r)); break;
    case XM_I64: put64(p, pick_i64(r)); break;
    case XM_BCD: pick_bcd(r, p); break;
    case XM_CW: put16(p, (uint16_t)((rnd32(r) & 0x0f3f) | 0x0040)); break;
    default: break;
    }
}

/* A random FXSAVE image for x87/SIMD cases: FCW/FSW/tags/registers/MXCSR/XMM. */
static void fill_fx(struct rng *r, struct tc_case *c, bool simd)
{
    uint8_t *fx = c->fx_in;
    memset(fx, 0, 512);
    uint16_t fcw = 0x037f;
    if (!simd) {
        fcw = (uint16_t)(0x0040 | 0x3f | (rndn(r, 4) << 10));
        unsigned pc = rndn(r, 4);
        fcw |= (uint16_t)((pc == 1 ? 3 : pc) << 8);
        if (chance(r, 6))
            fcw &= (uint16_t)~(1u << rndn(r, 6));   /* one unmasked exception */
    }
    unsigned top = rndn(r, 8);
    uint16_t fsw = (uint16_t)((top << 11) | (rnd32(r) & 0x4700));
    if (chance(r, 4))
        fsw |= (uint16_t)(rnd32(r) & 0x3f & fcw);   /* sticky masked flags */
    if (!simd && chance(r, 24)) {
        /* A pending unmasked exception: the next waiting x87 instruction raises #MF. */
        fcw &= (uint16_t)~1u;
        fsw |= 0x0081;
    }
    uint8_t tags = 0;
    for (int i = 0; i < 8; i++)
        if (!chance(r, 5))
            tags |= (uint8_t)(1u << i);
    if (chance(r, 8))
        tags = 0xff;
    put16(fx + 0, fcw);
    put16(fx + 2, fsw);
    fx[4] = tags;
    for (int i = 0; i < 8; i++) {
        struct f80v v = pick_f80(r);
        if (simd && chance(r, 2)) {
            v.m = ((uint64_t)pick_value(r) << 32) | pick_value(r);
            v.se = 0xffff;
        }
        put64(fx + 32 + 16 * i, v.m);
        put16(fx + 40 + 16 * i, v.se);
    }
    uint32_t mxcsr = 0x1f80;
    if (simd) {
        mxcsr = (uint32_t)(rndn(r, 4) << 13);
        if (chance(r, 4))
            mxcsr |= 0x8000;                           /* FZ */
        if (chance(r, 4))
            mxcsr |= 0x0040;                           /* DAZ */
        mxcsr |= chance(r, 4) ? (rnd32(r) & 0x1f80) : 0x1f80;
        if (chance(r, 4))
            mxcsr |= rnd32(r) & 0x3f;                  /* sticky flags */
    }
    put32(fx + 24, mxcsr);
    for (int i = 0; i < 8; i++) {
        uint8_t *x = fx + 160 + 16 * i;
        for (int h = 0; h < 2; h++) {
            switch (rndn(r, 3)) {
            case 0: put32(x + 8 * h, pick_f32(r)); put32(x + 8 * h + 4, pick_f32(r)); break;
            case 1: put64(x + 8 * h, pick_f64(r)); break;
            default: put32(x + 8 * h, pick_value(r)); put32(x + 8 * h + 4, pick_value(r)); break;
            }
        }
    }
}

static void x87_case(const struct gen_form *f, struct rng *r, struct tc_case *c, struct build *b)
{
    fill_fx(r, c, false);
    c->flags |= TC_F_FPU;
    if (f->opcode == 0x9b) {
        emit8(b, 0x9b);
        return;
    }
    if (f->opcode == 0xd9 && f->modrm >= 0xf0 && f->modrm != 0xf4 && f->modrm != 0xf5 &&
        f->modrm != 0xf6 && f->modrm != 0xf7 && f->modrm != 0xf8 && f->modrm != 0xfa &&
        f->modrm != 0xfc && f->modrm != 0xfd)
        c->flags |= TC_F_APPROX;
    emit8(b, f->opcode);
    if (!f->mem) {
        emit8(b, f->modrm);
        return;
    }
    uint32_t off = f->mem_size > 16 ? 0x10 : 0x40 + rndn(r, 0x40);
    c->memoff = (uint16_t)off;
    if (f->mem_type == XM_ENV || f->mem_type == XM_SAVE) {
        /* A plausible environment: control/status/tags, then registers. */
        uint8_t *p = c->in.mem + off;
        put16(p, (uint16_t)((rnd32(r) & 0x0f00) | 0x7f));
        put16(p + 4, (uint16_t)(rnd32(r) & 0x7f00));
        put16(p + 8, (uint16_t)(chance(r, 2) ? 0xffff : rnd32(r)));
        for (int i = 0; f->mem_type == XM_SAVE && i < 8; i++) {
            struct f80v v = pick_f80(r);
            put64(p + 28 + 10 * i, v.m);
            put16(p + 36 + 10 * i, v.se);
        }
    } else {
        fill_x87_mem(r, f->mem_type, c->in.mem + off);
    }
    emit_modrm_mem(b, r, c, (unsigned)f->reg, off, 1u << 4);
}

/* String-compare inputs: short alphabets (with NULs) so that matches, ranges and ends occur;
 * explicit lengths in EAX/EDX around the element counts, negative ones too. */
static void pcmpstr_inputs(struct rng *r, struct tc_case *c, bool mem, uint32_t off)
{
    static const uint8_t alpha[] = { 0x41, 0x42, 0x43, 0x61, 0x7f, 0x80, 0xff, 0 };
    for (int x = 0; x < 9; x++) {
        uint8_t *p = x < 8 ? c->fx_in + 160 + 16 * x : c->in.mem + off;
        if (x == 8 && !mem)
            break;
        if (chance(r, 4))
            continue;
        unsigned nalpha = chance(r, 2) ? 3 : ARRAY_N(alpha) - (chance(r, 2) ? 1 : 0);
        for (int k = 0; k < 16; k++)
            p[k] = alpha[rndn(r, nalpha)];
        if (chance(r, 3))
            memset(p + rndn(r, 16), 0, 2);
    }
    for (int reg = 0; reg <= 2; reg += 2) {
        static const int32_t lens[] = { 0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, -1, -8, -16, -17 };
        if (!chance(r, 4))
            c->in.regs[reg] = (uint32_t)lens[rndn(r, ARRAY_N(lens))];
        else if (chance(r, 2))
            c->in.regs[reg] = chance(r, 2) ? 0x80000000u : 0x7fffffffu;
    }
}

/* A 0F 38 / 0F 3A case (the bytes after 0F). */
static void map23_case(const struct gen_form *f, struct rng *r, struct tc_case *c, struct build *b)
{
    emit8(b, f->map == 2 ? 0x38 : 0x3a);
    emit8(b, f->opcode);
    unsigned reg = rndn(r, 8);
    uint32_t off = 0x40 + (chance(r, 8) ? rndn(r, 16) : 0);
    bool str = f->map == 3 && f->opcode >= 0x60 && f->opcode <= 0x63;
    if (f->mem) {
        c->memoff = (uint16_t)off;
        for (unsigned i = 0; i < 16; i += 8) {
            switch (rndn(r, 3)) {
            case 0: put32(c->in.mem + off + i, pick_f32(r)); put32(c->in.mem + off + i + 4, pick_f32(r)); break;
            case 1: put64(c->in.mem + off + i, pick_f64(r)); break;
            default: put32(c->in.mem + off + i, pick_value(r)); put32(c->in.mem + off + i + 4, pick_value(r)); break;
            }
        }
        /* ModRM mod 00 rm 100, SIB base 101 index 100: [disp32], in 32- and 64-bit mode. */
        emit8(b, (uint8_t)(0x04 | reg << 3));
        emit8(b, 0x25);
        emit32(b, c->membase + off);
    } else {
        emit8(b, (uint8_t)(0xc0 | reg << 3 | rndn(r, 8)));
    }
    if (str)
        pcmpstr_inputs(r, c, f->mem, off);
    if (f->map == 3) {
        uint8_t imm = (uint8_t)rnd32(r);
        if (f->opcode >= 0x08 && f->opcode <= 0x0b && chance(r, 2))
            imm &= 0x0f;   /* ROUNDxx: the defined bits */
        emit8(b, imm);
    }
}

/* A VEX case: C4, RXB = 111 and the map, W0 (W1 means 64-bit operands in 64-bit mode),
 * vvvv of EAX..EDI, L0 (now and then L1: #UD), pp; then opcode, ModRM, imm8 for map 3. The
 * vvvv register and the rm register hold small counts/indexes/masks often. */
static void vex_case(const struct gen_form *f, struct rng *r, struct tc_case *c, struct build *b)
{
    static const uint8_t pp[4] = { 0, 0x66, 0xf3, 0xf2 };
    unsigned ppv = 0;
    for (unsigned k = 0; k < 4; k++)
        if (pp[k] == f->pfx)
            ppv = k;
    unsigned v = rndn(r, 8);
    if (f->map == 3 && !chance(r, 8))
        v = 0;   /* RORX: vvvv unused (1111b encoded) */
    unsigned l = chance(r, 16) ? 1 : 0;
    emit8(b, 0xc4);
    emit8(b, (uint8_t)(0xe0 | f->map));
    emit8(b, (uint8_t)((~v & 15) << 3 | l << 2 | ppv));
    emit8(b, f->opcode);
    unsigned reg = f->reg >= 0 ? (unsigned)f->reg : rndn(r, 8);
    uint32_t off = 0x40 + rndn(r, 16);
    if (f->mem) {
        c->memoff = (uint16_t)off;
        emit8(b, (uint8_t)(0x04 | reg << 3));
        emit8(b, 0x25);
        emit32(b, c->membase + off);
    } else {
        emit8(b, (uint8_t)(0xc0 | reg << 3 | rndn(r, 8)));
    }
    if (f->map == 3)
        emit8(b, (uint8_t)rnd32(r));
    if (v != 4 && chance(r, 2)) {
        static const uint32_t ctl[] = { 0, 1, 5, 16, 31, 32, 33, 255, 0x0800, 0x1004, 0x2000, 0x1f01,
                                        0xff00, 0x0820, 0x081f, 0x2001 };
        c->in.regs[v] = chance(r, 2) ? ctl[rndn(r, ARRAY_N(ctl))] : (rnd32(r) & 0xffff);
    }
}

static void simd_case(const struct gen_form *f, struct rng *r, struct tc_case *c, struct build *b)
{
    fill_fx(r, c, true);
    c->flags |= TC_F_FPU;
    if (f->vex) {
        vex_case(f, r, c, b);
        return;
    }
    if (f->pfx)
        emit8(b, f->pfx);
    emit8(b, 0x0f);
    if (f->map >= 2) {
        map23_case(f, r, c, b);
        return;
    }
    emit8(b, f->opcode);
    if (f->opcode == 0x77)
        return;
    unsigned reg = f->reg >= 0 ? (unsigned)f->reg : rndn(r, 8);
    /* MASKMOVQ/MASKMOVDQU store to DS:EDI. */
    c->in.regs[7] = c->membase + 0x60 + (chance(r, 4) ? rndn(r, 16) : 0);
    if (f->mem && f->opcode == 0xae && f->reg < 2) {
        /* FXSAVE / FXRSTOR: the image at the start of the buffer (its first 256 bytes are
         * compared: header, ST0-7, XMM0-5); sometimes misaligned (#GP). */
        uint32_t off = chance(r, 8) ? 8 : 0;
        c->memoff = (uint16_t)off;
        if (f->reg == 1) {
            uint8_t keep[512];
            memcpy(keep, c->fx_in, 512);
            fill_fx(r, c, chance(r, 2));
            if (chance(r, 8))
                put32(c->fx_in + 24, 0x1f80u | 1u << (chance(r, 4) ? 16 : 18 + rndn(r, 14)));   /* reserved: #GP (not bit 17: AMD MM) */
            memcpy(c->in.mem + off, c->fx_in, TC_MEM_SIZE - off);
            memcpy(c->fx_in, keep, 512);
        }
        emit_modrm_mem(b, r, c, reg, off, fixed_regs(K_SIMD, f));
        return;
    }
    if (f->mem) {
        uint32_t off = 0x40 + (chance(r, 8) ? rndn(r, 16) : 0);
        c->memoff = (uint16_t)off;
        for (unsigned i = 0; i < 16; i += 8) {
            switch (rndn(r, 3)) {
            case 0: put32(c->in.mem + off + i, pick_f32(r)); put32(c->in.mem + off + i + 4, pick_f32(r)); break;
            case 1: put64(c->in.mem + off + i, pick_f64(r)); break;
            default: put32(c->in.mem + off + i, pick_value(r)); put32(c->in.mem + off + i + 4, pick_value(r)); break;
            }
        }
        if (f->opcode == 0xae && f->reg == 2)   /* LDMXCSR: mostly valid values */
            put32(c->in.mem + off, (rnd32(r) & (chance(r, 4) ? 0xfffdffffu : 0xffbfu)));
        emit_modrm_mem(b, r, c, reg, off, fixed_regs(K_SIMD, f));
    } else {
        emit8(b, (uint8_t)(0xc0 | reg << 3 | rndn(r, 8)));
    }
    if (simd_has_imm8(f->opcode)) {
        static const uint8_t counts[] = { 0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 255 };
        uint8_t imm = (uint8_t)rnd32(r);
        if (f->opcode >= 0x71 && f->opcode <= 0x73)
            imm = counts[rndn(r, ARRAY_N(counts))];
        else if (f->opcode == 0xc2 && !chance(r, 8))
            imm &= 7;
        emit8(b, imm);
    }
}

/* Integer case. */
static void int_case(const struct gen_form *f, struct rng *r, struct tc_case *c, struct build *b,
                     uint32_t k)
{
    uint8_t kind = f->kind;
    uint32_t *R = c->in.regs;
    unsigned width = f->opsize;
    uint32_t avoid = fixed_regs(kind, f);
    c->opsize = f->opsize;
    c->count = 1;

    /* Prefixes (the order varies: decoders must not care). */
    uint8_t seg = 0;
    if (f->mem && kind != K_STACK && chance(r, 6)) {
        static const uint8_t segs[4] = { 0x26, 0x2e, 0x36, 0x3e };
        seg = segs[rndn(r, 4)];
    }
    if (kind == K_STRING && chance(r, 4)) {
        static const uint8_t segs[4] = { 0x26, 0x2e, 0x36, 0x3e };
        seg = segs[rndn(r, 4)];
    }
    if (f->lock)
        emit8(b, 0xf0);
    if (seg && chance(r, 2))
        emit8(b, seg);
    if (f->opsize == 16)
        emit8(b, 0x66);
    if (f->addr16)
        emit8(b, 0x67);
    if (seg && b->len && b->p[b->len - 1] != seg)
        emit8(b, seg);
    if (f->rep)
        emit8(b, f->rep);
    if (f->rep && kind != K_STRING)
        c->flags |= TC_F_F3;
    if (f->map == 1)
        emit8(b, 0x0f);
    emit8(b, f->opcode);

    /* Kind-specific register set-up (before ModRM, which may override base registers). */
    switch (kind) {
    case K_STACK: case K_POPF: case K_BRANCH:
        R[4] = (c->membase + TC_STACK_OFF) - (chance(r, 4) ? 4 * rndn(r, 4) : 0);
        break;
    case K_ENTER:
        R[4] = (c->membase + TC_STACK_OFF);
        R[5] = (c->membase + TC_FRAME_OFF) + 4 * rndn(r, 4);
        for (unsigned i = 0; i < 8; i++)   /* frame pointers for nesting levels */
            put32(c->in.mem + ((c->membase + TC_FRAME_OFF) - c->membase) - 4 * (i + 1) + 16, (c->membase + TC_FRAME_OFF) - 0x30 + 4 * i);
        break;
    case K_LEAVE:
        R[5] = (c->membase + TC_FRAME_OFF) + 4 * rndn(r, 8);
        break;
    case K_STRING: {
        R[6] = c->membase + 0x30 + rndn(r, 0x30);
        R[7] = c->membase + 0x90 + rndn(r, 0x30);
        static const uint32_t cnt[] = { 0, 1, 2, 3, 5, 8 };
        R[1] = cnt[rndn(r, ARRAY_N(cnt))];
        if (chance(r, 3))   /* equal strings so that REPE runs on */
            memcpy(c->in.mem + (R[7] - c->membase) - 0x20, c->in.mem + (R[6] - c->membase) - 0x20, 0x40);
        if (f->rep)
            c->flags |= TC_F_REP;
        if (f->addr16) {   /* SI, DI, CX: the upper halves must be ignored */
            R[6] = (rnd32(r) & 0xffff0000u) | (R[6] & 0xffff);
            R[7] = (rnd32(r) & 0xffff0000u) | (R[7] & 0xffff);
            R[1] = (rnd32(r) & 0xffff0000u) | R[1];
        }
        break;
    }
    case K_XLAT:
        R[3] = c->membase + rndn(r, 0x40);
        if (f->addr16)
            R[3] = (rnd32(r) & 0xffff0000u) | (R[3] & 0xffff);
        R[0] = (R[0] & ~0xffu) | rndn(r, 0xc0);
        break;
    case K_BCD:
        if (k < 1024) {
            R[0] = (R[0] & ~0xffu) | (k & 0xff);
            c->in.eflags = (c->in.eflags & ~(F_CF | F_AF)) | ((k >> 8) & 1 ? F_CF : 0) |
                           ((k >> 9) & 1 ? F_AF : 0);
        }
        break;
    case K_LOOP: {
        static const uint32_t cnt[] = { 0, 1, 2, 0x10000, 0x10001, 0xffffffff, 0xffff };
        R[1] = chance(r, 4) ? rnd32(r) : cnt[rndn(r, ARRAY_N(cnt))];
        break;
    }
    case K_DIV: {
        /* Mostly quotients that fit, some overflows and zero divisors. */
        uint32_t mask = width == 8 ? 0xff : width == 16 ? 0xffff : 0xffffffff;
        uint32_t d = pick_value(r) & mask;
        if (chance(r, 16))
            d = 0;
        if (!chance(r, 4) && d) {
            uint32_t q = pick_value(r) & (mask >> rndn(r, width));
            uint64_t prod = (uint64_t)q * d + (rnd32(r) % d);
            if (width == 8)
                R[0] = (R[0] & ~0xffffu) | (uint32_t)(prod & 0xffff);
            else if (width == 16) {
                R[0] = (R[0] & ~0xffffu) | (uint32_t)(prod & 0xffff);
                R[2] = (R[2] & ~0xffffu) | (uint32_t)(prod >> 16 & 0xffff);
            } else {
                R[0] = (uint32_t)prod;
                R[2] = (uint32_t)(prod >> 32);
            }
            if (f->reg == 7 && chance(r, 2)) {   /* signed: negate dividend or divisor */
                if (width == 32) {
                    uint64_t v = ~(((uint64_t)R[2] << 32) | R[0]) + 1;
                    R[0] = (uint32_t)v;
                    R[2] = (uint32_t)(v >> 32);
                } else {
                    d = (0u - d) & mask;
                }
            }
        }
        c->in.regs[1] = d;   /* divisor in ECX (or memory, below) */
        break;
    }
    case K_CMPXCHG: case K_CX8: case K_BSX: case K_BTMEM: case K_MULDIV:
        break;
    }

    /* ModRM and memory operand. */
    int target_reg = -1;
    int target_off = -1;
    if (f->attr & OA_MODRM) {
        unsigned reg = f->reg >= 0 ? (unsigned)f->reg : rndn(r, 8);
        if (f->map == 0 && f->opcode == 0x8c)
            reg = rndn(r, 6);
        if (kind == K_DIV) {   /* divisor register ECX */
            reg = (unsigned)f->reg;
        }
        uint32_t regmask = width == 8 ? 1u << (reg & 3) : 1u << reg;
        if (f->mem) {
            uint32_t off = 0x40 + rndn(r, 0x80);
            if (kind == K_BTMEM) {
                off = 0x60 + rndn(r, 0x40);
                /* Bit offset register limited to +-256 bits (32 bytes) around the operand. */
                R[reg] = (uint32_t)((int32_t)rndn(r, 512) - 256);
                if (width == 16)
                    R[reg] = (R[reg] & 0xffff) | (rnd32(r) & 0xffff0000u);
            }
            if (kind == K_CX8)
                off = 0x40 + 8 * rndn(r, 8);
            if (kind == K_STACK || (f->map == 0 && f->opcode == 0x8f))
                off = 0xa0 + rndn(r, 0x40);
            c->memoff = (uint16_t)off;
            uint32_t val = pick_value(r);
            put32(c->in.mem + off, val);
            if (kind == K_DIV) {
                uint32_t d = R[1];
                if (width == 8) c->in.mem[off] = (uint8_t)d;
                else if (width == 16) put16(c->in.mem + off, (uint16_t)d);
                else put32(c->in.mem + off, d);
                R[1] = pick_value(r);
            }
            if (kind == K_CMPXCHG && chance(r, 2))
                memcpy(&R[0], c->in.mem + off, width == 8 ? 1 : width == 16 ? 2 : 4);
            if (kind == K_CX8 && chance(r, 2)) {
                memcpy(&R[0], c->in.mem + off, 4);
                memcpy(&R[2], c->in.mem + off + 4, 4);
            }
            if (kind == K_BSX && chance(r, 4))
                memset(c->in.mem + off, 0, 4);
            if (kind == K_BOUND) {
                int32_t lo = (int32_t)pick_value(r), hi = lo + (int32_t)rndn(r, 1000);
                if (width == 16) {
                    put16(c->in.mem + off, (uint16_t)lo);
                    put16(c->in.mem + off + 2, (uint16_t)hi);
                } else {
                    put32(c->in.mem + off, (uint32_t)lo);
                    put32(c->in.mem + off + 4, (uint32_t)hi);
                }
                R[reg] = (uint32_t)(lo + (int32_t)rndn(r, 1100) - 50);
            }
            if (f->addr16)
                emit_modrm_mem16(b, r, c, reg, off, avoid | regmask);
            else
                emit_modrm_mem(b, r, c, reg, off, avoid | regmask);
            target_off = (int)off;
        } else {
            unsigned rm = rndn(r, 8);
            if (kind == K_DIV) {
                rm = 1;   /* ECX/CX/CL */
                if (width == 8)
                    R[1] = (R[1] & ~0xffu) | (R[1] & 0xff);
            } else if (kind == K_BSX && chance(r, 4)) {
                R[rm] = 0;
            }
            if (kind == K_CMPXCHG && chance(r, 2))
                R[rm] = R[0];
            if (kind == K_BRANCH && rm == 4)
                rm = 0;   /* keep ESP the stack pointer */
            emit8(b, (uint8_t)(0xc0 | reg << 3 | rm));
            target_reg = (int)rm;
        }
    }

    /* Immediates. */
    uint32_t attr = f->attr;
    if (kind == K_ENTER) {
        emit16(b, (uint16_t)(rndn(r, 3) * 4 + (chance(r, 4) ? rndn(r, 0x20) : 0)));
        static const uint8_t lv[] = { 0, 0, 1, 2, 3, 0x20, 0x21 };
        uint8_t level = lv[rndn(r, ARRAY_N(lv))];
        emit8(b, level);
        return;
    }
    if (kind == K_MOFFS) {
        uint32_t off = 0x40 + rndn(r, 0x80);
        c->memoff = (uint16_t)off;
        if (f->addr16)
            emit16(b, (uint16_t)(c->membase + off));
        else
            emit32(b, c->membase + off);
        return;
    }
    if (kind == K_JCC || kind == K_LOOP || (kind == K_BRANCH && (attr & (OA_JB | OA_JZ)))) {
        if (attr & OA_JZ)
            emit32(b, 5);
        else
            emit8(b, 5);
        return;
    }
    if (attr & OA_IB) {
        uint8_t imm = (uint8_t)pick_value(r);
        if (kind == K_SHIFT_IB) {
            imm = shift_counts[rndn(r, ARRAY_N(shift_counts))];
            if (chance(r, 4))
                imm = (uint8_t)rnd32(r);
        }
        if (kind == K_AAMD) {
            static const uint8_t base[] = { 10, 10, 10, 0, 1, 16, 7, 255 };
            imm = chance(r, 4) ? (uint8_t)rnd32(r) : base[rndn(r, ARRAY_N(base))];
        }
        emit8(b, imm);
        if (kind == K_SHIFT_IB)
            c->count = imm & 31;
    }
    if (attr & OA_IW)
        emit16(b, (uint16_t)pick_value(r));
    if (attr & OA_IZ) {
        if (f->opsize == 16)
            emit16(b, (uint16_t)pick_value(r));
        else
            emit32(b, pick_value(r));
    }
    if (kind == K_SHIFT_CL) {
        uint8_t cnt = shift_counts[rndn(r, ARRAY_N(shift_counts))];
        if (chance(r, 4))
            cnt = (uint8_t)rnd32(r);
        R[1] = (R[1] & ~0xffu) | cnt;
        c->count = cnt & 31;
    }
    if (kind == K_BRANCH) {
        /* RET and CALL/JMP Ev go to one of the two exits. */
        uint32_t target = TC_CODE_BASE + b->len + (chance(r, 2) ? 5u : 0u);
        if (f->opcode == 0xc2 || f->opcode == 0xc3)
            put32(c->in.mem + (R[4] - c->membase), target);
        else if (target_reg >= 0)
            R[target_reg] = target;
        else if (target_off >= 0)
            put32(c->in.mem + target_off, target);
    }
    if (kind == K_POPF) {
        /* Only the flags ring 3 may change without side effects (no TF, AC, NT, ID). */
        uint32_t sp = R[4] - c->membase;
        put32(c->in.mem + sp, (pick_value(r) & (F_ARITH | F_DF)) | (rnd32(r) & 0xffff0000u & 0));
    }
}

void gen_case(const struct gen_form *f, uint32_t form_id, uint32_t seed, uint32_t k,
              const uint16_t sel[6], struct tc_case *c)
{
    memset(c, 0, sizeof(*c));
    struct rng r = { ((uint64_t)seed << 32 | form_id) * 0x2545f4914f6cdd1dull + k };
    rnd64(&r);
    c->seed = seed;
    c->index = form_id << 16 | (k & 0xffff);
    c->family = f->family;
    c->map = f->map;
    c->opcode = f->opcode;
    c->reg = f->reg;
    c->form = form_id;
    c->count = 1;
    memcpy(c->sel, sel, sizeof(c->sel));
    c->membase = f->addr16 ? TC_MEM16_BASE : TC_MEM_BASE;
    for (int i = 0; i < 8; i++)
        c->in.regs[i] = pick_value(&r);
    c->in.regs[4] = (c->membase + TC_STACK_OFF);
    c->in.eflags = (rnd32(&r) & (F_ARITH | F_DF)) | 0x202;
    for (unsigned i = 0; i < TC_MEM_SIZE; i += 4)
        put32(c->in.mem + i, chance(&r, 2) ? rnd32(&r) : pick_value(&r));
    c->in.eip = TC_CODE_BASE;
    struct build b = { c->code, 0 };
    if (f->family == TC_X87)
        x87_case(f, &r, c, &b);
    else if (f->family == TC_SIMD)
        simd_case(f, &r, c, &b);
    else
        int_case(f, &r, c, &b, k);
    c->len = (uint8_t)b.len;
}

/* True when the host CPU has the feature a 0F 38 / 0F 3A or VEX form needs. */
static bool host_has_map23(const struct gen_form *f, const char **why)
{
    unsigned a, b, c1, d, b7, c;
    if (!__get_cpuid(1, &a, &b, &c1, &d))
        c1 = 0;
    if (!__get_cpuid_count(7, 0, &a, &b7, &c, &d))
        b7 = 0;
    if (f->vex) {
        const struct opcode_info *e = opcode_vex_lookup(f->map, f->opcode, f->pfx, f->reg);
        unsigned bit = e && e->ext == OX_BMI2 ? 8 : 3;
        *why = bit == 8 ? "the host CPU lacks BMI2" : "the host CPU lacks BMI1";
        return !e || (b7 >> bit & 1);
    }
    const struct simd_op_info *e = opcode_map23_lookup(f->map, f->opcode, f->pfx, f->mem);
    if (!e)
        return true;   /* #UD forms: #UD on any host */
    static const struct { uint8_t sf; uint8_t leaf7; uint8_t bit; const char *why; } need[] = {
        { SF_SSSE3, 0, 9, "the host CPU lacks SSSE3" }, { SF_SSE41, 0, 19, "the host CPU lacks SSE4.1" },
        { SF_SSE42, 0, 20, "the host CPU lacks SSE4.2" }, { SF_MOVBE, 0, 22, "the host CPU lacks MOVBE" },
        { SF_AES, 0, 25, "the host CPU lacks AES-NI" }, { SF_PCLMUL, 0, 1, "the host CPU lacks PCLMULQDQ" },
        { SF_ADX, 1, 19, "the host CPU lacks ADX" },
    };
    for (unsigned k = 0; k < ARRAY_N(need); k++)
        if (need[k].sf == e->feature) {
            *why = need[k].why;
            return ((need[k].leaf7 ? b7 : c1) >> need[k].bit) & 1;
        }
    return true;
}

bool gen_host_feature_mismatch(const struct gen_form *f, const char **why)
{
    if (f->map >= 2)
        return !host_has_map23(f, why);
    if (f->family != TC_INT || f->rep != 0xf3 || f->kind == K_STRING || f->map != 1)
        return false;
    unsigned a, b, c, d;
    if (f->opcode == 0xbc && (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 3)))) {
        *why = "TZCNT: the host CPU lacks BMI1 (runs it as BSF)";
        return true;
    }
    if (f->opcode == 0xbd && (!__get_cpuid(0x80000001u, &a, &b, &c, &d) || !(c & (1u << 5)))) {
        *why = "LZCNT: the host CPU lacks it";
        return true;
    }
    return false;
}

/* ---- Masks (see gen.h) ---- */

bool gen_mem_ignore(const struct gen_form *f, const struct tc_case *c, unsigned *lo, unsigned *hi)
{
    if (f->family == TC_X87 && f->mem && (f->mem_type == XM_ENV || f->mem_type == XM_SAVE) &&
        (f->reg == 6)) {
        /* FNSTENV/FNSAVE: FIP, FCS:FOP, FDP, FDS (the host zeroes or keeps them its own way). */
        *lo = c->memoff + 12u;
        *hi = c->memoff + 28u;
        return true;
    }
    if (f->family == TC_SIMD && f->mem && f->opcode == 0xae && f->reg == 0) {
        /* FXSAVE: FOP, FIP, FCS, FDP, FDS (not kept by the host) and MXCSR_MASK (the host
         * reports its own features). */
        *lo = c->memoff + 5u;
        *hi = c->memoff + 32u;
        return true;
    }
    if (f->family == TC_INT && f->opsize == 32 && (f->attr & OA_PUSH_SREG)) {
        /* The opcode table's OA_PUSH_SREG: a 32-bit PUSH of a segment register either
         * zero-extends or writes only 16 bits (SDM vol. 2 PUSH). */
        *lo = c->in.regs[4] - c->membase - 2;
        *hi = *lo + 2;
        return true;
    }
    return false;
}

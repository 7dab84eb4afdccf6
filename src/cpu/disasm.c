/* Disassembler for -d in_asm and the monitor, driven by the opcode table (Intel syntax). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_int.h"
#include "cpu/mmu.h"
#include "cpu/opcodes.h"

static const char *const reg32[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const reg16[8] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
static const char *const reg8[8] = { "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" };
static const char *const sreg[8] = { "es", "cs", "ss", "ds", "fs", "gs", "?", "?" };

struct out {
    char *buf;
    unsigned len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (o->len < o->cap) {
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        if (n > 0)
            o->len = o->len + (unsigned)n < o->cap ? o->len + (unsigned)n : o->cap - 1;
    }
    va_end(ap);
}

static void put_mem(struct out *o, const struct insn *i, const char *size)
{
    bool a32 = i->pfx & P_A32;
    const char *const *rn = a32 ? reg32 : reg16;
    put(o, "%s", size);
    if (i->base == NOREG && i->index == NOREG) {
        /* An absolute address: always with its segment, as objdump prints it. */
        put(o, "%s:0x%x", sreg[i->seg], a32 ? i->disp : (i->disp & 0xffff));
        return;
    }
    if (i->pfx & P_SEGOVR)
        put(o, "%s:", sreg[i->seg]);
    put(o, "[");
    bool any = false;
    if (i->base != NOREG) {
        put(o, "%s", rn[i->base]);
        any = true;
    }
    if (i->index != NOREG) {
        put(o, "%s%s", any ? "+" : "", rn[i->index]);
        if (i->scale)
            put(o, "*%u", 1u << i->scale);
        any = true;
    }
    uint32_t d = i->disp;
    if (!any)
        put(o, "0x%x", d);
    else if (d) {
        int32_t sd = a32 ? (int32_t)d : (int16_t)d;
        if (sd < 0)
            put(o, "-0x%x", (uint32_t)-(int64_t)sd);
        else
            put(o, "+0x%x", (uint32_t)sd);
    }
    put(o, "]");
}

/* Operand tokens that name a fixed register (checked before the one-letter kinds, so that
 * "CL" is not read as a control register nor "ES" as a ModRM operand). */
static const char *fixed_operand(const char *tok, bool op32)
{
    static const char *const names[][2] = {
        { "AL", "al" }, { "CL", "cl" }, { "DX", "dx" }, { "1", "1" }, { "ES", "es" },
        { "CS", "cs" }, { "SS", "ss" }, { "DS", "ds" }, { "FS", "fs" }, { "GS", "gs" },
    };
    if (!strcmp(tok, "eAX"))
        return op32 ? "eax" : "ax";
    for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (!strcmp(tok, names[k][0]))
            return names[k][1];
    return NULL;
}

static const char *size_word(char s)
{
    switch (s) {
    case 'b': return "byte ";
    case 'w': case 'y': return "word ";
    case 'd': return "dword ";
    case 'q': return "qword ";
    case 't': return "tbyte ";
    case 'x': return "xmmword ";
    default: return "";
    }
}

/* x87 escapes D8-DF, from the x87 operation table. */
static void format_x87(const struct insn *i, struct out *o)
{
    uint8_t modrm = (i->pfx & P_MEM) ? (uint8_t)(i->modrm & 0x3f) : (uint8_t)(0xc0 | i->reg << 3 | i->rm);
    const struct x87_op_info *x = opcode_x87_lookup(i->op, modrm);
    if (!x->name) {
        put(o, "(bad)");
        return;
    }
    put(o, "%s", x->name);
    switch (x->form) {
    case X87F_MEM: {
        static const char sz[] = { 0, 'd', 'q', 't', 'w', 'd', 'q', 't', 0, 0, 'w', 'w' };
        put(o, " ");
        put_mem(o, i, size_word(x->mem < sizeof(sz) ? sz[x->mem] : 0));
        break;
    }
    case X87F_ST0_STI: put(o, " st, st(%u)", i->rm); break;
    case X87F_STI_ST0: put(o, " st(%u), st", i->rm); break;
    case X87F_STI: put(o, " st(%u)", i->rm); break;
    case X87F_AX: put(o, " ax"); break;
    default: break;
    }
}

/* The mandatory prefix of a SIMD form: F2/F3 win over 66 (SDM vol. 2 2.1.2). */
static uint8_t simd_prefix(const struct insn *i)
{
    if (i->pfx & P_REP)
        return 0xf3;
    if (i->pfx & P_REPNE)
        return 0xf2;
    return i->simd_pfx == 0x66 ? 0x66 : 0;
}

/* MMX/SSE forms of the 0F map, from the SIMD table. */
static void format_simd(const struct insn *i, struct out *o)
{
    bool mem = i->pfx & P_MEM;
    const struct simd_op_info *e = i->map >= 2 ? opcode_map23_lookup(i->map, i->op, simd_prefix(i), mem)
                                               : opcode_simd_lookup(i->op, simd_prefix(i), i->reg, mem);
    if (!e) {
        put(o, "(bad)");
        return;
    }
    const char *ops = e->operands;
    if (i->op == 0xc2 && (i->imm & 0xff) < 8) {
        /* CMPccPS & co.: the assemblers' pseudo-ops name the predicate. */
        static const char *const pred[8] = { "eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord" };
        put(o, "cmp%s%s", pred[i->imm & 7], e->name + 3);   /* the imm8 is then not printed */
    } else {
        put(o, "%s", e->name);
    }
    bool first = true;
    for (const char *p = ops; *p;) {
        char k = *p++, s = 0;
        if (*p && *p != ',')
            s = *p++;
        if (*p == ',')
            p++;
        if (k == 'I' && i->op == 0xc2 && (i->imm & 0xff) < 8)
            continue;
        put(o, first ? " " : ", ");
        first = false;
        bool rm_mem = mem && (k == 'Q' || k == 'W' || k == 'E' || k == 'M');
        if (rm_mem) {
            put_mem(o, i, size_word(s));
            continue;
        }
        switch (k) {
        case 'P': put(o, "mm%u", i->reg); break;
        case 'N': case 'Q': put(o, "mm%u", i->rm); break;
        case 'V': put(o, "xmm%u", i->reg); break;
        case 'U': case 'W': put(o, "xmm%u", i->rm); break;
        case 'G': put(o, "%s", reg32[i->reg]); break;
        case 'E': case 'R': put(o, "%s", reg32[i->rm]); break;
        case 'I': put(o, "0x%x", i->imm & 0xff); break;
        default: put(o, "?"); break;
        }
    }
}

/* Instructions printed with a size suffix when their operand size is not the default. */
static bool stack_sized(const struct insn *i)
{
    if (i->map == 1)
        return i->op == 0xa0 || i->op == 0xa1 || i->op == 0xa8 || i->op == 0xa9;
    switch (i->op) {
    case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
    case 0x60: case 0x61: case 0x68: case 0x6a: case 0x9c: case 0x9d: case 0xc2: case 0xc3:
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcf: case 0xe8: case 0xe9:
        return true;
    }
    return false;
}

/* VEX-encoded BMI1/BMI2 forms (G: ModRM.reg, B: VEX.vvvv, E: ModRM.rm, I: imm8). */
static void format_vex(const struct insn *i, struct out *o)
{
    static const uint8_t pp_prefix[4] = { 0, 0x66, 0xf3, 0xf2 };
    const struct opcode_info *e = (i->vex & VEX_BAD) ? NULL :
        opcode_vex_lookup(i->map, i->op, pp_prefix[i->vex >> VEX_PP_SHIFT & 3], i->reg);
    if (!e) {
        put(o, "(bad vex)");
        return;
    }
    put(o, "%s", e->name);
    bool first = true;
    for (const char *p = e->operands; *p; p++) {
        if (*p < 'A' || *p > 'Z')
            continue;   /* separators and size letters */
        put(o, first ? " " : ", ");
        first = false;
        switch (*p) {
        case 'G': put(o, "%s", reg32[i->reg]); break;
        case 'B': put(o, "%s", reg32[i->vvvv & 7]); break;
        case 'I': put(o, "0x%x", i->imm & 0xff); break;
        default:
            if (i->pfx & P_MEM)
                put_mem(o, i, size_word('d'));
            else
                put(o, "%s", reg32[i->rm]);
            break;
        }
    }
}

/* "Ew" operands whose register form is the full operand-size register (SLDT, STR, SMSW,
 * LAR, LSL, MOV Sreg: SDM vol. 2 gives the 32-bit register forms). */
static bool reg_is_opsize(const struct insn *i)
{
    if (i->map == 0)
        return i->op == 0x8c || i->op == 0x8e;
    return (i->op == 0x00 && i->reg < 2) || (i->op == 0x01 && i->reg == 4) || i->op == 0x02 ||
           i->op == 0x03;
}

/* Format one decoded instruction at eip. */
static void format_insn(const struct insn *i, uint32_t eip, bool code32, char *buf, unsigned buflen)
{
    struct out o = { buf, 0, buflen };
    buf[0] = 0;
    if (i->vex) {
        format_vex(i, &o);
        return;
    }
    if (i->map >= 2) {   /* 0F 38 / 0F 3A */
        format_simd(i, &o);
        return;
    }
    const struct opcode_info *f3 = (i->map == 1 && (i->pfx & P_REP)) ? opcode_lookup_f3(1, i->op) : NULL;
    if (i->map == 1 && !f3 && (opcode_lookup(1, i->op, -1)->attr & OA_INVALID)) {
        format_simd(i, &o);
        return;
    }
    if (i->map == 0 && i->op >= 0xd8 && i->op <= 0xdf) {
        format_x87(i, &o);
        return;
    }
    const struct opcode_info *top = f3 ? f3 : opcode_lookup(i->map, i->op, -1);
    const struct opcode_info *e = f3 ? f3 : opcode_lookup(i->map, i->op, i->reg);
    if (!e->name) {
        put(&o, "(bad)");
        return;
    }
    const char *ops = e->operands ? e->operands : top->operands;
    bool op32 = i->pfx & P_OP32;
    if (i->pfx & P_LOCK)
        put(&o, "lock ");
    if (i->pfx & (P_REP | P_REPNE)) {
        bool str = i->map == 0 && ((i->op >= 0xa4 && i->op <= 0xaf && i->op != 0xa8 && i->op != 0xa9) ||
                                   (i->op >= 0x6c && i->op <= 0x6f));
        if (str)
            put(&o, "%s ", (i->pfx & P_REP) ? ((i->op == 0xa6 || i->op == 0xa7 || i->op == 0xae || i->op == 0xaf) ? "repe" : "rep") : "repne");
    }
    if (i->map == 1 && i->op == 0x18 && (i->pfx & P_MEM) && i->reg < 4) {
        static const char *const pf[4] = { "prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2" };
        put(&o, "%s ", pf[i->reg]);
        put_mem(&o, i, "byte ");
        return;
    }
    const char *name = e->name;
    bool a32 = i->pfx & P_A32;
    if (i->map == 0 && i->op == 0x98)
        name = op32 ? "cwde" : "cbw";
    else if (i->map == 0 && i->op == 0x99)
        name = op32 ? "cdq" : "cwd";
    else if (i->map == 0 && i->op == 0xe3)
        name = a32 ? "jecxz" : "jcxz";
    put(&o, "%s", name);
    /* Word/dword string forms get a size suffix. */
    size_t nl = strlen(name);
    if (i->map == 0 && (i->op & 1) && ops[0] == 0 && nl <= 5 &&
        ((i->op >= 0xa4 && i->op <= 0xaf) || i->op == 0x6d || i->op == 0x6f))
        put(&o, "%s", op32 ? "d" : "w");
    /* Stack and near-branch forms whose operand size differs from the code segment's
     * default get a w/d suffix (objdump's convention: pushw, retfw, pushad in 16-bit code). */
    if (op32 != code32 && stack_sized(i))
        put(&o, "%s", op32 ? "d" : "w");
    if (!ops || !ops[0])
        return;
    put(&o, " ");
    const char *p = ops;
    bool first = true;
    while (*p) {
        char tok[8];
        unsigned n = 0;
        while (*p && *p != ',' && n < sizeof(tok) - 1)
            tok[n++] = *p++;
        tok[n] = 0;
        if (*p == ',')
            p++;
        if (!first)
            put(&o, ", ");
        first = false;
        char k = tok[0], s = tok[1];
        const char *const *rv = op32 ? reg32 : reg16;
        const char *fixed = fixed_operand(tok, op32);
        if (fixed) {
            put(&o, "%s", fixed);
        } else if ((k == 'E' || k == 'M') && (i->pfx & P_MEM)) {
            const char *size = s == 'b' ? "byte " : s == 'w' ? "word " : s == 'd' ? "dword " :
                               s == 'v' ? (op32 ? "dword " : "word ") : s == 'q' ? "qword " :
                               s == 'p' ? (op32 ? "fword " : "dword ") :
                               s == 'a' ? (op32 ? "qword " : "dword ") : "";
            if (i->map == 0 && (i->op == 0x8c || i->op == 0x8e))
                size = "word ";         /* MOV to/from Sreg: memory is always 16 bits */
            put_mem(&o, i, size);
        } else if (k == 'E' && s == 'w' && reg_is_opsize(i)) {
            put(&o, "%s", rv[i->rm]);
        } else if (k == 'E' || k == 'R') {
            put(&o, "%s", s == 'b' ? reg8[i->rm] : s == 'w' ? reg16[i->rm] : s == 'd' ? reg32[i->rm] : rv[i->rm]);
        } else if (k == 'M') {
            put(&o, "%s", rv[i->rm]);
        } else if (k == 'G') {
            put(&o, "%s", s == 'b' ? reg8[i->reg] : s == 'w' ? reg16[i->reg] : rv[i->reg]);
        } else if (k == 'Z') {
            put(&o, "%s", s == 'b' ? reg8[i->reg] : s == 'd' ? reg32[i->reg] : rv[i->reg]);
        } else if (k == 'S') {
            put(&o, "%s", sreg[i->reg]);
        } else if (k == 'C' || k == 'D') {
            put(&o, "%cr%u", k == 'C' ? 'c' : 'd', i->reg);
        } else if (k == 'I') {
            put(&o, "0x%x", i->imm);
        } else if (k == 's') {
            put(&o, "0x%x", (uint32_t)(int8_t)i->imm & (op32 ? 0xffffffffu : 0xffffu));
        } else if (k == 'J') {
            uint32_t t = eip + i->len + i->disp;
            put(&o, "0x%x", op32 ? t : (t & 0xffff));
        } else if (k == 'A' && s == 'p') {
            put(&o, "0x%x:0x%x", i->imm2, i->imm);
        } else if (k == 'O') {
            put_mem(&o, i, "");
        } else {
            for (char *c = tok; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            put(&o, "%s", tok);
        }
        if (k == 'I' && tok[1] == 'w' && i->map == 0 && i->op == 0xc8) {
            put(&o, ", 0x%x", i->imm2);
            break;
        }
    }
}

int cpu_disasm(struct cpu *cpu, uint32_t linear, char *buf, unsigned buflen)
{
    uint8_t bytes[16];
    unsigned n = 0;
    for (; n < 16; n++) {
        uint32_t pa;
        if (!cpu_probe(cpu, linear + n, &pa))
            break;
        bytes[n] = (uint8_t)phys_read(cpu->mem, pa, 1);
    }
    if (!buflen)
        return 0;
    struct insn i;
    int len = decode_insn(cpu, bytes, n, cpu->code32, &i);
    if (len <= 0) {
        snprintf(buf, buflen, "(bad)");
        return 0;
    }
    i.fn = NULL;
    format_insn(&i, linear - cpu->seg[SEG_CS].base, cpu->code32, buf, buflen);
    return len;
}

void exec_log_trace(struct cpu *cpu, const struct trace *t)
{
    uint32_t eip = cpu->eip;
    log_printf(cpu->log, LOG_IN_ASM, "----------------\nIN: %04x:%08x (phys 0x%08x)\n",
               cpu->seg[SEG_CS].sel, eip, t->paddr);
    for (unsigned k = 0; k < t->ninsn; k++) {
        char text[96];
        format_insn(&t->insns[k], eip, (t->mode & 1) != 0, text, sizeof(text));
        log_printf(cpu->log, LOG_IN_ASM, "0x%08x:  %s\n", cpu->seg[SEG_CS].base + eip, text);
        eip += t->insns[k].len;
    }
}

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

/* Format one decoded instruction at eip. */
static void format_insn(const struct insn *i, uint32_t eip, char *buf, unsigned buflen)
{
    struct out o = { buf, 0, buflen };
    buf[0] = 0;
    if (i->map >= 2 || (i->map == 1 && (opcode_lookup(1, i->op, -1)->attr & OA_INVALID) &&
                        i->fn != NULL && i->len > 2)) {
        put(&o, "(simd 0f%s%02x)", i->map == 2 ? "38" : i->map == 3 ? "3a" : "", i->op);
        return;
    }
    const struct opcode_info *top = opcode_lookup(i->map, i->op, -1);
    const struct opcode_info *e = opcode_lookup(i->map, i->op, i->reg);
    if (!e->name) {
        put(&o, "(bad)");
        return;
    }
    const char *ops = e->operands && e->operands[0] != '*' ? e->operands : top->operands;
    if (i->map == 0 && (i->op == 0xf6 || i->op == 0xf7) && i->reg < 2)
        ops = i->op == 0xf6 ? "Eb,Ib" : "Ev,Iz";
    bool op32 = i->pfx & P_OP32;
    if (i->pfx & P_LOCK)
        put(&o, "lock ");
    if (i->pfx & (P_REP | P_REPNE)) {
        bool str = i->map == 0 && ((i->op >= 0xa4 && i->op <= 0xaf && i->op != 0xa8 && i->op != 0xa9) ||
                                   (i->op >= 0x6c && i->op <= 0x6f));
        if (str)
            put(&o, "%s ", (i->pfx & P_REP) ? ((i->op == 0xa6 || i->op == 0xa7 || i->op == 0xae || i->op == 0xaf) ? "repe" : "rep") : "repne");
    }
    put(&o, "%s", e->name);
    /* Word/dword string and stack-flag forms get a size suffix. */
    size_t nl = strlen(e->name);
    if (i->map == 0 && (i->op & 1) && ops[0] == 0 && nl <= 5 &&
        ((i->op >= 0xa4 && i->op <= 0xaf) || i->op == 0x6d || i->op == 0x6f))
        put(&o, "%s", op32 ? "d" : "w");
    if (i->map == 0 && (i->op == 0x60 || i->op == 0x61 || i->op == 0x9c || i->op == 0x9d || i->op == 0xcf) && op32)
        put(&o, "d");
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
        if ((k == 'E' || k == 'M') && (i->pfx & P_MEM)) {
            const char *size = s == 'b' ? "byte " : s == 'w' ? "word " : s == 'd' ? "dword " :
                               s == 'v' ? (op32 ? "dword " : "word ") : s == 'q' ? "qword " : "";
            put_mem(&o, i, size);
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
            put(&o, "0x%x", tok[1] == 'w' && i->map == 0 && i->op == 0xc8 ? i->imm : i->imm);
        } else if (k == 's') {
            put(&o, "0x%x", (uint32_t)(int8_t)i->imm & (op32 ? 0xffffffffu : 0xffffu));
        } else if (k == 'J') {
            uint32_t t = eip + i->len + i->disp;
            put(&o, "0x%x", op32 ? t : (t & 0xffff));
        } else if (k == 'A' && s == 'p') {
            put(&o, "0x%x:0x%x", i->imm2, i->imm);
        } else if (k == 'O') {
            put_mem(&o, i, "");
        } else if (!strcmp(tok, "eAX")) {
            put(&o, "%s", op32 ? "eax" : "ax");
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
    format_insn(&i, linear - cpu->seg[SEG_CS].base, buf, buflen);
    return len;
}

void exec_log_trace(struct cpu *cpu, const struct trace *t)
{
    uint32_t eip = cpu->eip;
    log_printf(cpu->log, LOG_IN_ASM, "----------------\nIN: %04x:%08x (phys 0x%08x)\n",
               cpu->seg[SEG_CS].sel, eip, t->paddr);
    for (unsigned k = 0; k < t->ninsn; k++) {
        char text[96];
        format_insn(&t->insns[k], eip, text, sizeof(text));
        log_printf(cpu->log, LOG_IN_ASM, "0x%08x:  %s\n", cpu->seg[SEG_CS].base + eip, text);
        eip += t->insns[k].len;
    }
}

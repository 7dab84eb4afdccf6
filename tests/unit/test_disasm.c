/* The disassembler (-d in_asm) against binutils: every form of the opcode tables (integer,
 * x87, MMX/SSE/SSE2/SSE3) is encoded, disassembled by pcvm and by
 * `objdump -D -b binary -m i386 -M intel`, and the mnemonic, operands and length compared.
 * Notational differences objdump has (implicit string operands, "DWORD PTR") are
 * normalised; skipped when objdump is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../cpu/sys/harness.h"
#include "cpu/opcodes.h"

#define SLOT 16u            /* bytes per instruction in the blob (rest: NOPs) */
#define MAX_INSNS 6000u
#define WHAT_LEN 64   /* a form's label; one size everywhere keeps -Wformat-truncation quiet */
#define CODE_BASE 0x100000u

struct blob {
    uint8_t bytes[MAX_INSNS * SLOT];
    unsigned n;
    char what[MAX_INSNS][WHAT_LEN];
};

static void add(struct blob *b, const uint8_t *code, unsigned len, const char *what)
{
    if (b->n >= MAX_INSNS)
        return;
    uint8_t *s = &b->bytes[b->n * SLOT];
    memset(s, 0x90, SLOT);
    memcpy(s, code, len);
    snprintf(b->what[b->n], sizeof(b->what[0]), "%s", what);
    b->n++;
}

/* Append ModRM (register form rm=1, or memory [eax+0x10]) and imm bytes. */
static unsigned modrm_bytes(uint8_t *c, unsigned p, unsigned reg, bool mem, unsigned rm)
{
    if (mem) {
        c[p++] = (uint8_t)(0x40 | reg << 3);
        c[p++] = 0x10;
    } else {
        c[p++] = (uint8_t)(0xc0 | reg << 3 | rm);
    }
    return p;
}

static unsigned imm_bytes(const struct opcode_info *top, const struct opcode_info *e, bool o16,
                          bool a16)
{
    uint32_t a = top->attr | e->attr;
    unsigned n = 0;
    if (a & OA_IB)
        n += 1;
    if (a & OA_IW)
        n += 2;
    if (a & OA_IZ)
        n += o16 ? 2 : 4;
    if (a & OA_JB)
        n += 1;
    if (a & OA_JZ)
        n += o16 ? 2 : 4;
    if (a & OA_AP)
        n += o16 ? 4 : 6;
    if (a & OA_MOFFS)
        n += a16 ? 2 : 4;
    return n;
}

static void gen_integer(struct blob *b, bool code32)
{
    for (int map = 0; map < 2; map++) {
        for (int op = 0; op < 256; op++) {
            if (map == 0 && (op == 0x0f || (op >= 0xd8 && op <= 0xdf)))
                continue;
            const struct opcode_info *top = opcode_lookup(map, (uint8_t)op, -1);
            if (top->attr & (OA_PREFIX | OA_INVALID))
                continue;
            bool group = top->attr & OA_GROUP;
            for (int reg = 0; reg < (group ? 8 : 1); reg++) {
                const struct opcode_info *e = group ? opcode_lookup(map, (uint8_t)op, reg) : top;
                if (!e->name || (e->attr & OA_INVALID))
                    continue;
                for (int o16 = 0; o16 < 2; o16++) {
                    for (int mem = 0; mem < ((top->attr & OA_MODRM) ? 2 : 1); mem++) {
                        if (!mem && (e->attr & OA_MEMONLY))
                            continue;
                        uint8_t c[16];
                        unsigned p = 0;
                        if (o16)
                            c[p++] = 0x66;
                        if (map)
                            c[p++] = 0x0f;
                        c[p++] = (uint8_t)op;
                        if (top->attr & OA_MODRM)
                            p = modrm_bytes(c, p, group ? (unsigned)reg : 3, mem, 1);
                        unsigned n = imm_bytes(top, e, code32 ? o16 : !o16, !code32);
                        for (unsigned k = 0; k < n; k++)
                            c[p++] = (uint8_t)(0x11 * (k + 1));
                        char what[WHAT_LEN];
                        snprintf(what, sizeof(what), "%d:%02x/%d%s%s", map, op, group ? reg : -1,
                                 o16 ? " 66" : "", mem ? " mem" : "");
                        add(b, c, p, what);
                    }
                }
            }
        }
    }
}

/* The F3 0F forms (POPCNT, TZCNT, LZCNT): 16/32-bit, register and memory. */
static void gen_f3(struct blob *b)
{
    for (int op = 0; op < 256; op++) {
        if (!opcode_lookup_f3(1, (uint8_t)op))
            continue;
        for (int o16 = 0; o16 < 2; o16++)
            for (int mem = 0; mem < 2; mem++) {
                uint8_t c[16];
                unsigned p = 0;
                if (o16)
                    c[p++] = 0x66;
                c[p++] = 0xf3;
                c[p++] = 0x0f;
                c[p++] = (uint8_t)op;
                p = modrm_bytes(c, p, 3, mem, 1);
                char what[WHAT_LEN];
                snprintf(what, sizeof(what), "f3 0f %02x%s%s", op, o16 ? " 66" : "", mem ? " mem" : "");
                add(b, c, p, what);
            }
    }
}

static void gen_x87(struct blob *b)
{
    for (int esc = 0xd8; esc <= 0xdf; esc++) {
        for (int m = 0; m < 256; m++) {
            if (m < 0xc0 && (m & 0xc7) != 0x40)
                continue;   /* memory forms: [eax+disp8] once per reg */
            uint8_t c[3] = { (uint8_t)esc, (uint8_t)m, 0x10 };
            char what[WHAT_LEN];
            snprintf(what, sizeof(what), "x87 %02x %02x", esc, m);
            add(b, c, m < 0xc0 ? 3 : 2, what);
        }
    }
}

static void gen_simd(struct blob *b)
{
    static const uint8_t pfx[4] = { 0, 0x66, 0xf3, 0xf2 };
    for (int op = 0; op < 256; op++) {
        for (int k = 0; k < 4; k++) {
            for (int reg = 0; reg < 8; reg++) {
                for (int mem = 0; mem < 2; mem++) {
                    const struct simd_op_info *e = opcode_simd_lookup((uint8_t)op, pfx[k], reg, mem);
                    if (!e)
                        continue;
                    /* One reg value unless the opcode is a group (71-73, AE). */
                    bool grp = op == 0x71 || op == 0x72 || op == 0x73 || op == 0xae;
                    if (!grp && reg != 2)
                        continue;
                    uint8_t c[16];
                    unsigned p = 0;
                    if (pfx[k])
                        c[p++] = pfx[k];
                    c[p++] = 0x0f;
                    c[p++] = (uint8_t)op;
                    if (!(e->attr & SA_NOMODRM))
                        p = modrm_bytes(c, p, (unsigned)reg, mem, op == 0xae ? 0 : 5);
                    if (e->attr & SA_IMM8)
                        c[p++] = op == 0xc2 ? (uint8_t)(reg & 7) : 0x21;
                    char what[WHAT_LEN];
                    snprintf(what, sizeof(what), "simd %02x %02x/%d%s", pfx[k], op, reg, mem ? " mem" : "");
                    add(b, c, p, what);
                    if (e->attr & SA_NOMODRM)
                        break;
                }
            }
        }
    }
}

/* Lower case, no " ptr", no space after commas, single spaces. */
static void normalise(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    bool space = false;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        char ch = *p;
        if (ch == '\t' || ch == '\n')
            ch = ' ';
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        if (!strncasecmp(p, " ptr ", 5)) {
            p += 3;
            continue;
        }
        if (ch == ' ') {
            space = true;
            continue;
        }
        if (space && o && out[o - 1] != ',' && ch != ',')
            out[o++] = ' ';
        space = false;
        out[o++] = ch;
    }
    out[o] = 0;
}

/* Known notational differences: pcvm spells these without the implicit operands objdump
 * prints, or as the documented alias objdump does not know. Returns true to skip. */
static bool known_difference(const char *mine, const char *theirs)
{
    static const char *const implicit[] = {
        "movs", "cmps", "stos", "lods", "scas", "ins", "outs", "xlat", NULL };
    for (int k = 0; implicit[k]; k++) {
        size_t n = strlen(implicit[k]);
        if (!strncmp(mine, implicit[k], n) && !strncmp(theirs, implicit[k], n))
            return true;
    }
    /* Undefined x87 memory forms: objdump prints the operand after "(bad)". */
    if (!strcmp(mine, "(bad)") && !strncmp(theirs, "(bad)", 5))
        return true;
    /* objdump's notes on 8087/287-only instructions (no-ops since the 387). */
    if (strstr(theirs, "87 only)") && (!strcmp(mine, "(bad)") || !strncmp(mine, theirs, strlen(mine))))
        return true;
    /* 16-bit near branch targets wrap at 64 KiB (EIP is masked to 16 bits): objdump does
     * not wrap. */
    if (mine[0] == 'j' || !strncmp(mine, "loop", 4)) {
        const char *a = strchr(mine, ' '), *b = strchr(theirs, ' ');
        if (a && b && (strtoul(a + 1, NULL, 0) & 0xffff) == (strtoul(b + 1, NULL, 0) & 0xffff) &&
            strtoul(a + 1, NULL, 0) <= 0xffff)
            return true;
    }
    /* objdump's operand-size suffixes on descriptor-table loads and stores. */
    static const char *const dt[] = { "sgdt", "sidt", "lgdt", "lidt", NULL };
    for (int k = 0; dt[k]; k++)
        if (!strncmp(mine, dt[k], 4) && !strncmp(theirs, dt[k], 4) && !strcmp(mine + 4, theirs + 5))
            return true;
    /* Documented aliases objdump spells differently or does not know: SAL /6 (objdump:
     * shl), SALC (undocumented, D6), NOP with 66 (objdump: xchg ax,ax), 0F 1A/1B hint
     * NOPs (MPX on newer CPUs), 66 0F 09 (objdump: bad). */
    if ((!strncmp(mine, "sal ", 4) && !strncmp(theirs, "shl ", 4) && !strcmp(mine + 4, theirs + 4)) ||
        !strcmp(mine, "salc") || (!strcmp(mine, "nop") && (!strcmp(theirs, "xchg ax,ax") || !strcmp(theirs, "xchg eax,eax"))) ||
        (!strncmp(mine, "nop", 3) && !strncmp(theirs, "bnd", 3)) ||
        (!strcmp(mine, "wbinvd") && !strcmp(theirs, "(bad)")))
        return true;
    /* Undocumented x87 aliases (fstp1, fxch4, fcom2...): objdump says (bad). */
    if (!strcmp(theirs, "(bad)") && mine[0] == 'f' && strpbrk(mine, "123456789") &&
        strpbrk(mine, "123456789") < strchr(mine, ' ' ) )
        return true;
    return false;
}

/* Disassemble the blob with objdump (-m i386 or i8086) and with pcvm in 32-bit protected
 * mode or 16-bit real mode at base; returns the number of differences. */
static unsigned compare_with_objdump(bool code32)
{
    struct blob *b = calloc(1, sizeof(*b));
    gen_integer(b, code32);
    gen_x87(b);
    gen_simd(b);
    gen_f3(b);
    assert_true(b->n > 1000 && b->n < MAX_INSNS);

    char bin[] = "/tmp/pcvm-disasm-XXXXXX";
    int fd = mkstemp(bin);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b->bytes, b->n * SLOT), (ssize_t)(b->n * SLOT));
    close(fd);
    char cmd[256];
    const uint32_t base = code32 ? CODE_BASE : 0;
    snprintf(cmd, sizeof(cmd), "objdump -D -b binary -m %s -M intel --adjust-vma=0x%x %s",
             code32 ? "i386" : "i8086", base, bin);
    FILE *od = popen(cmd, "r");
    assert_non_null(od);
    static char theirs[MAX_INSNS][96];
    static uint8_t their_len[MAX_INSNS];
    char line[512];
    unsigned last = ~0u;
    while (fgets(line, sizeof(line), od)) {
        unsigned addr;
        char hex[128], text[256] = "";
        if (sscanf(line, " %x:\t%127[0-9a-f ]\t%255[^\n]", &addr, hex, text) < 2)
            continue;
        unsigned off = addr - base;
        unsigned nbytes = 0;
        for (char *t = strtok(hex, " "); t; t = strtok(NULL, " "))
            nbytes++;
        if (off % SLOT == 0 && off / SLOT < b->n) {
            last = off / SLOT;
            /* objdump names a 66 prefix that changes nothing "data16". */
            const char *t = text;
            if (!strncmp(t, "data16 ", 7) || !strncmp(t, "data32 ", 7))
                t += 7;
            normalise(t, theirs[last], sizeof(theirs[0]));
            their_len[last] = (uint8_t)nbytes;
        } else if (last != ~0u && off / SLOT == last && text[0] == 0) {
            their_len[last] = (uint8_t)(their_len[last] + nbytes);   /* continuation line */
        }
    }
    pclose(od);
    unlink(bin);

    struct fx *f = fx_new(NULL);
    if (code32) {
        fx_protected(f);
    } else {
        /* Real mode with CS = 0, so that EIP equals the linear address. */
        f->cpu.seg[SEG_CS].sel = 0;
        f->cpu.seg[SEG_CS].base = 0;
        cpu_update_mode(&f->cpu);
    }
    memcpy(f->mem.ram + base, b->bytes, b->n * SLOT);
    unsigned bad = 0;
    for (unsigned k = 0; k < b->n; k++) {
        char text[128], mine[128];
        int len = cpu_disasm(&f->cpu, base + k * SLOT, text, sizeof(text));
        normalise(text, mine, sizeof(mine));
        bool same = !strcmp(mine, theirs[k]) && (unsigned)len == their_len[k];
        if (!same && !known_difference(mine, theirs[k])) {
            if (bad < 400)
                fprintf(stderr, "%-22s pcvm: %-40s (%d)  objdump: %s (%u)\n", b->what[k], mine, len,
                        theirs[k], their_len[k]);
            bad++;
        }
    }
    fprintf(stderr, "disasm (%d-bit code): %u forms, %u differences\n", code32 ? 32 : 16, b->n, bad);
    fx_free(f);
    free(b);
    return bad;
}

static void test_disasm_matches_objdump(void **state)
{
    (void)state;
    if (system("objdump --version >/dev/null 2>&1") != 0)
        skip();
    assert_int_equal(compare_with_objdump(true), 0);
    assert_int_equal(compare_with_objdump(false), 0);
}

/* The bugs this file was written for, checked without objdump. */
static void test_disasm_fixed_operands(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    fx_protected(f);
    static const struct { uint8_t code[8]; const char *text; } cases[] = {
        { { 0x2e, 0x0f, 0xad, 0x20 }, "shrd dword cs:[eax], esp, cl" },
        { { 0x06 }, "push es" }, { { 0x0e }, "push cs" }, { { 0x1e }, "push ds" },
        { { 0x16 }, "push ss" }, { { 0x0f, 0xa8 }, "push gs" }, { { 0x0f, 0xa0 }, "push fs" },
        { { 0xd3, 0xe0 }, "shl eax, cl" }, { { 0xd9, 0xc9 }, "fxch st(1)" },
        { { 0xdd, 0x40, 0x08 }, "fld qword [eax+0x8]" }, { { 0xdf, 0xe0 }, "fnstsw ax" },
        { { 0x0f, 0x58, 0xc1 }, "addps xmm0, xmm1" }, { { 0x66, 0x0f, 0xfe, 0xd3 }, "paddd xmm2, xmm3" },
        { { 0x0f, 0xfe, 0xd3 }, "paddd mm2, mm3" }, { { 0xf6, 0xc1, 0x80 }, "test cl, 0x80" },
    };
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        memcpy(f->mem.ram + CODE_BASE, cases[k].code, 8);
        char text[96];
        cpu_disasm(&f->cpu, CODE_BASE, text, sizeof(text));
        assert_string_equal(text, cases[k].text);
    }
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disasm_fixed_operands),
        cmocka_unit_test(test_disasm_matches_objdump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

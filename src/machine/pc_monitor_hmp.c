/* The pc board's HMP commands: inspection (info cpus/pci/block/mtree/pic/irq/mem/tlb/chardev/
 * roms), memory (x, xp, memsave, pmemsave, gva2gpa), the CPU (cpu, p/print), input (sendkey),
 * CD media (change, eject) and logging (log, logfile). Output follows QEMU 7.2's. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu/mmu.h"
#include "machine/pc.h"
#include "machine/pc_monitor.h"

static struct cpu *mon_cpu(struct pc *pc, struct monitor *mon)
{
    int i = mon->cpu_index;
    return pc->cpus[i >= 0 && (unsigned)i < pc->ncpus ? i : 0];
}

/* ---- expressions: numbers, $registers, + - * / % & | ^ ~ and parentheses ---- */

struct expr {
    const char *p;
    struct cpu *cpu;
    const char *err;
};

static void skip_blanks(struct expr *e)
{
    while (*e->p == ' ' || *e->p == '\t')
        e->p++;
}

static bool reg_value(struct cpu *c, const char *name, uint64_t *v)
{
    static const char *const r32[] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    static const char *const r16[] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
    static const char *const segs[] = { "es", "cs", "ss", "ds", "fs", "gs" };
    for (int i = 0; i < 8; i++) {
        if (!strcmp(name, r32[i])) {
            *v = c->regs[i];
            return true;
        }
        if (!strcmp(name, r16[i])) {
            *v = c->regs[i] & 0xffff;
            return true;
        }
    }
    for (int i = 0; i < SEG_COUNT; i++)
        if (!strcmp(name, segs[i])) {
            *v = c->seg[i].sel;
            return true;
        }
    if (!strcmp(name, "eip") || !strcmp(name, "pc"))
        *v = c->eip;
    else if (!strcmp(name, "eflags"))
        *v = cpu_get_eflags(c);
    else if (!strcmp(name, "cr0"))
        *v = c->cr0;
    else if (!strcmp(name, "cr2"))
        *v = c->cr2;
    else if (!strcmp(name, "cr3"))
        *v = c->cr3;
    else if (!strcmp(name, "cr4"))
        *v = c->cr4;
    else
        return false;
    return true;
}

static uint64_t expr_sum(struct expr *e, int depth);

static uint64_t expr_unary(struct expr *e, int depth)
{
    skip_blanks(e);
    if (e->err)
        return 0;
    if (depth > 64) {
        e->err = "expression too deep";
        return 0;
    }
    char c = *e->p;
    if (c == '-' || c == '+' || c == '~') {
        e->p++;
        uint64_t v = expr_unary(e, depth + 1);
        return c == '-' ? (uint64_t)0 - v : c == '~' ? ~v : v;
    }
    if (c == '(') {
        e->p++;
        uint64_t v = expr_sum(e, depth + 1);
        skip_blanks(e);
        if (*e->p != ')') {
            if (!e->err)
                e->err = "')' expected";
            return 0;
        }
        e->p++;
        return v;
    }
    if (c == '$') {
        char name[16];
        size_t n = 0;
        e->p++;
        while (isalnum((unsigned char)*e->p) && n < sizeof(name) - 1)
            name[n++] = (char)tolower((unsigned char)*e->p++);
        name[n] = '\0';
        uint64_t v = 0;
        if (!reg_value(e->cpu, name, &v))
            e->err = "unknown register";
        return v;
    }
    if (isdigit((unsigned char)c)) {
        char *end;
        errno = 0;
        uint64_t v = strtoull(e->p, &end, 0);
        if (errno)
            e->err = "number too large";
        e->p = end;
        return v;
    }
    e->err = *e->p ? "invalid char in expression" : "unexpected end of expression";
    return 0;
}

static uint64_t expr_prod(struct expr *e, int depth)
{
    uint64_t v = expr_unary(e, depth);
    for (;;) {
        skip_blanks(e);
        char op = *e->p;
        if (e->err || (op != '*' && op != '/' && op != '%' && op != '&'))
            return v;
        e->p++;
        uint64_t w = expr_unary(e, depth);
        if ((op == '/' || op == '%') && w == 0) {
            e->err = "division by zero";
            return 0;
        }
        v = op == '*' ? v * w : op == '/' ? v / w : op == '%' ? v % w : v & w;
    }
}

static uint64_t expr_sum(struct expr *e, int depth)
{
    uint64_t v = expr_prod(e, depth);
    for (;;) {
        skip_blanks(e);
        char op = *e->p;
        if (e->err || (op != '+' && op != '-' && op != '|' && op != '^'))
            return v;
        e->p++;
        uint64_t w = expr_prod(e, depth);
        v = op == '+' ? v + w : op == '-' ? v - w : op == '|' ? (v | w) : (v ^ w);
    }
}

/* Evaluate one expression at *s (advanced past it); prints the error and returns false. */
static bool get_expr(struct monitor *mon, struct cpu *cpu, const char **s, uint64_t *out)
{
    struct expr e = { .p = *s, .cpu = cpu };
    *out = expr_sum(&e, 0);
    if (!e.err && *e.p && *e.p != ' ' && *e.p != '\t')
        e.err = "invalid char in expression";
    if (e.err) {
        monitor_printf(mon, "%s\n", e.err);
        return false;
    }
    *s = e.p;
    while (**s == ' ' || **s == '\t')
        (*s)++;
    return true;
}

/* "/Nfu": count N, format f (x d u o c i s), unit u (b h w g); defaults as QEMU's. */
struct fmt {
    long count;
    char format;
    int size;
};

static bool parse_fmt(struct monitor *mon, const char **s, struct fmt *f)
{
    f->count = 1;
    f->format = mon->last_format;
    f->size = mon->last_size;
    const char *p = *s;
    if (*p != '/')
        return true;
    p++;
    if (isdigit((unsigned char)*p)) {
        char *end;
        f->count = strtol(p, &end, 10);
        p = end;
    }
    for (; *p && *p != ' ' && *p != '\t'; p++) {
        switch (*p) {
        case 'x': case 'd': case 'u': case 'o': case 'c': case 'i':
            f->format = *p;
            break;
        case 'b': f->size = 1; break;
        case 'h': f->size = 2; break;
        case 'w': f->size = 4; break;
        case 'g': case 'l': f->size = 8; break;
        default:
            monitor_printf(mon, "invalid char in format: '%c'\n", *p);
            return false;
        }
    }
    while (*p == ' ' || *p == '\t')
        p++;
    *s = p;
    if (f->count < 1 || f->count > 1 << 20) {
        monitor_printf(mon, "invalid count\n");
        return false;
    }
    mon->last_format = f->format;   /* QEMU keeps them for the next x, xp or p */
    mon->last_size = f->size;
    return true;
}

static void print_char(struct monitor *mon, unsigned v)
{
    v &= 0xff;
    switch (v) {
    case '\'': monitor_printf(mon, "'\\''"); break;
    case '\\': monitor_printf(mon, "'\\\\'"); break;
    case '\n': monitor_printf(mon, "'\\n'"); break;
    case '\r': monitor_printf(mon, "'\\r'"); break;
    default:
        if (v >= 32 && v <= 126)
            monitor_printf(mon, "'%c'", v);
        else
            monitor_printf(mon, "'\\x%02x'", v);
    }
}

/* Read guest memory for the monitor: physical through the bus, virtual through the current
 * CPU's page tables without faulting. False when a page is not mapped. */
static bool read_guest(struct pc *pc, struct cpu *cpu, bool physical, uint64_t addr, uint8_t *buf,
                       size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t a = (uint32_t)(addr + i), pa = a;
        if (addr + i > 0xffffffffull)
            return false;
        if (!physical && !cpu_probe(cpu, a, &pa))
            return false;
        size_t n = PHYS_PAGE_SIZE - (a & (PHYS_PAGE_SIZE - 1));
        if (n > len - i)
            n = len - i;
        const uint8_t *host = phys_direct(&pc->mem, pa, false);
        if (host)
            memcpy(buf + i, host, n);
        else
            for (size_t k = 0; k < n; k++)   /* MMIO or nothing: byte reads as a CPU would */
                buf[i + k] = (uint8_t)phys_read(&pc->mem, pa + (uint32_t)k, 1);
        i += n;
    }
    return true;
}

static void memory_dump(struct monitor *mon, struct pc *pc, const char *args, bool physical)
{
    struct cpu *cpu = mon_cpu(pc, mon);
    struct fmt f;
    uint64_t addr;
    if (!parse_fmt(mon, &args, &f))
        return;
    if (!*args) {
        monitor_printf(mon, "missing address\n");
        return;
    }
    if (!get_expr(mon, cpu, &args, &addr))
        return;
    if (f.format == 'i') {
        for (long n = 0; n < f.count; n++) {
            char text[128];
            uint32_t lin = (uint32_t)addr, pa;
            int len = 0;
            if (physical) {
                monitor_printf(mon, "xp/i: physical disassembly is not supported\n");
                return;
            }
            if (cpu_probe(cpu, lin, &pa))
                len = cpu_disasm(cpu, lin, text, sizeof(text));
            if (len <= 0) {
                monitor_printf(mon, "Cannot access memory\n");
                return;
            }
            monitor_printf(mon, "0x%08x:  %s\n", lin, text);
            addr += (unsigned)len;
        }
        return;
    }
    int wsize = f.format == 'c' ? 1 : f.size;
    int line = wsize == 1 ? 8 : 16;
    int digits = f.format == 'o' ? (wsize * 8 + 2) / 3
               : (f.format == 'u' || f.format == 'd') ? (wsize * 8 * 10 + 32) / 33
               : wsize * 2;
    uint64_t len = (uint64_t)wsize * (uint64_t)f.count;
    while (len > 0) {
        if (physical)
            monitor_printf(mon, "%016" PRIx64 ":", addr);
        else
            monitor_printf(mon, "%08" PRIx32 ":", (uint32_t)addr);
        int l = len < (uint64_t)line ? (int)len : line;
        uint8_t buf[16];
        if (!read_guest(pc, cpu, physical, addr, buf, (size_t)l)) {
            monitor_printf(mon, " Cannot access memory\n");
            return;
        }
        for (int i = 0; i < l; i += wsize) {
            uint64_t v = 0;
            for (int k = wsize - 1; k >= 0; k--)
                v = v << 8 | buf[i + k];
            monitor_printf(mon, " ");
            switch (f.format) {
            case 'o':
                monitor_printf(mon, "%#*" PRIo64, digits, v);
                break;
            case 'u':
                monitor_printf(mon, "%*" PRIu64, digits, v);
                break;
            case 'd': {
                int64_t sv = wsize == 1 ? (int8_t)v : wsize == 2 ? (int16_t)v
                           : wsize == 4 ? (int32_t)v : (int64_t)v;
                monitor_printf(mon, "%*" PRId64, digits, sv);
                break;
            }
            case 'c':
                print_char(mon, (unsigned)v);
                break;
            default:
                monitor_printf(mon, "0x%0*" PRIx64, digits, v);
            }
        }
        monitor_printf(mon, "\n");
        addr += (uint64_t)l;
        len -= (uint64_t)l;
    }
}

static void hmp_x(struct monitor *mon, const char *args, void *opaque)
{
    memory_dump(mon, opaque, args, false);
}

static void hmp_xp(struct monitor *mon, const char *args, void *opaque)
{
    memory_dump(mon, opaque, args, true);
}

static void hmp_print(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    struct fmt f;
    uint64_t v;
    if (!parse_fmt(mon, &args, &f) || !get_expr(mon, mon_cpu(pc, mon), &args, &v))
        return;
    switch (f.format) {
    case 'o': monitor_printf(mon, "%#" PRIo64, v); break;
    case 'u': monitor_printf(mon, "%" PRIu64, v); break;
    case 'd': monitor_printf(mon, "%" PRId64, (int64_t)v); break;
    case 'c': print_char(mon, (unsigned)v); break;
    default: monitor_printf(mon, "%#" PRIx64, v); break;
    }
    monitor_printf(mon, "\n");
}

static void hmp_gva2gpa(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    uint64_t addr;
    uint32_t pa;
    if (!*args) {
        monitor_printf(mon, "missing address\n");
        return;
    }
    if (!get_expr(mon, mon_cpu(pc, mon), &args, &addr))
        return;
    if (addr > 0xffffffffull || !cpu_probe(mon_cpu(pc, mon), (uint32_t)addr, &pa))
        monitor_printf(mon, "Unmapped\n");
    else
        monitor_printf(mon, "gpa: %#" PRIx32 "\n", pa);
}

/* memsave/pmemsave ADDR SIZE FILE */
static void save_memory(struct monitor *mon, struct pc *pc, const char *args, bool physical)
{
    struct cpu *cpu = mon_cpu(pc, mon);
    uint64_t addr, size;
    if (!get_expr(mon, cpu, &args, &addr) || !get_expr(mon, cpu, &args, &size))
        return;
    if (!*args) {
        monitor_printf(mon, "missing filename\n");
        return;
    }
    FILE *f = fopen(args, "wb");
    if (!f) {
        monitor_printf(mon, "could not open '%s'\n", args);
        return;
    }
    uint8_t buf[4096];
    while (size) {
        size_t n = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        if (!read_guest(pc, cpu, physical, addr, buf, n)) {
            monitor_printf(mon, "Invalid addr 0x%016" PRIx64 "/size %zu specified\n", addr, n);
            break;
        }
        if (fwrite(buf, 1, n, f) != n) {
            monitor_printf(mon, "could not write '%s': %s\n", args, strerror(errno));
            break;
        }
        addr += n;
        size -= n;
    }
    fclose(f);
}

static void hmp_memsave(struct monitor *mon, const char *args, void *opaque)
{
    save_memory(mon, opaque, args, false);
}

static void hmp_pmemsave(struct monitor *mon, const char *args, void *opaque)
{
    save_memory(mon, opaque, args, true);
}

static void hmp_cpu(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    char *end;
    long n = strtol(args, &end, 0);
    if (!*args || *end || n < 0 || (unsigned long)n >= pc->ncpus) {
        monitor_printf(mon, "invalid CPU index\n");
        return;
    }
    mon->cpu_index = (int)n;
}

/* ---- info ---- */

static void info_cpus(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    for (unsigned i = 0; i < pc->ncpus; i++) {
        struct cpu *c = pc->cpus[i];
        monitor_printf(mon, "%c CPU #%u: thread_id=%d\n", mon_cpu(pc, mon) == c ? '*' : ' ', i,
                       runloop_cpu_thread_id(&pc->rl, i));
    }
}

static const char *pci_class_name(uint16_t cls)
{
    static const struct { uint16_t cls; const char *name; } names[] = {
        { 0x0100, "SCSI controller" }, { 0x0101, "IDE controller" },
        { 0x0106, "SATA controller" }, { 0x0180, "Storage controller" },
        { 0x0200, "Ethernet controller" }, { 0x0300, "VGA controller" },
        { 0x0380, "Display controller" }, { 0x0401, "Audio controller" },
        { 0x0403, "Audio controller" }, { 0x0600, "Host bridge" }, { 0x0601, "ISA bridge" },
        { 0x0604, "PCI bridge" }, { 0x0680, "Bridge" }, { 0x0c03, "USB controller" },
        { 0x00ff, "Class 00ff" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].cls == cls)
            return names[i].name;
    return NULL;
}

static void info_pci(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        struct pci_device *d = pc->pci.devices[devfn];
        if (!d)
            continue;
        const uint8_t *c = d->config;
        uint16_t cls = pci_get_word(c + 0x0a);
        monitor_printf(mon, "  Bus  0, device %3u, function %u:\n", devfn >> 3, devfn & 7);
        const char *name = pci_class_name(cls);
        if (name)
            monitor_printf(mon, "    %s", name);
        else
            monitor_printf(mon, "    Class %04x", cls);
        monitor_printf(mon, ": PCI device %04x:%04x\n", pci_get_word(c), pci_get_word(c + 2));
        monitor_printf(mon, "      PCI subsystem %04x:%04x\n", pci_get_word(c + 0x2c),
                       pci_get_word(c + 0x2e));
        if (c[0x3d])
            monitor_printf(mon, "      IRQ %u, pin %c\n", c[0x3c], 'A' + c[0x3d] - 1);
        for (int n = 0; n < 6; n++) {
            if (!d->bars[n].size)
                continue;
            uint32_t v = pci_get_long(c + 0x10 + 4 * n), size = d->bars[n].size;
            if (d->bars[n].is_io) {
                uint32_t a = v & ~3u;
                monitor_printf(mon, "      BAR%d: I/O at 0x%04x [0x%04x].\n", n, a, a + size - 1);
            } else {
                uint32_t a = v & ~15u;
                monitor_printf(mon, "      BAR%d: 32 bit%s memory at 0x%08x [0x%08x].\n", n,
                               v & 8 ? " prefetchable" : "", a, a + size - 1);
            }
        }
        monitor_printf(mon, "      id \"\"\n");
    }
}

static void info_block(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    bool first = true;
    for (int i = 0; i < 4; i++) {
        if (!pc_drive_exists(pc, i))
            continue;
        char name[64];
        pc_drive_name(pc, i, name, sizeof(name));
        if (!first)
            monitor_printf(mon, "\n");
        first = false;
        struct block_dev *bs = pc->drives[i];
        if (bs)
            monitor_printf(mon, "%s: %s (%s%s)\n", name, pc_drive_file(pc, i),
                           block_format_name(bs), bs->readonly ? ", read-only" : "");
        else
            monitor_printf(mon, "%s: [not inserted]\n", name);
        monitor_printf(mon, "    Attached to:      /machine/unattached/device[%d]\n", 20 + i);
        if (pc->drive_is_cdrom[i]) {
            const struct ide_drive *d = &pc->ide.ch[i / 2].drives[i % 2];
            monitor_printf(mon, "    Removable device: %slocked, tray %s\n",
                           d->tray_locked ? "" : "not ", d->tray_open ? "open" : "closed");
        }
        if (bs)
            monitor_printf(mon, "    Cache mode:       %s\n", bs->wce ? "writeback" : "writethrough");
        if (bs && bs->backing && !pc_drive_is_snapshot(pc, i))
            monitor_printf(mon, "    Backing file:     %s (chain depth: 1)\n",
                           bs->backing->file.filename ? bs->backing->file.filename : "?");
    }
}

static void info_mtree(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    monitor_printf(mon, "address-space: memory\n");
    monitor_printf(mon, "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n");
    /* Walk the page map and print each run of pages of one kind. */
    uint32_t start = 0;
    int kind = -1;      /* 0 none, 1 ram, 2 rom, 3 mmio */
    unsigned region = 0;
    for (uint64_t page = 0; page <= PHYS_PAGE_COUNT; page++) {
        int k = 0;
        unsigned r = 0;
        if (page < PHYS_PAGE_COUNT) {
            uintptr_t e = pc->mem.pages[page];
            if (e & PHYS_MMIO) {
                k = 3;
                r = (unsigned)((e & PHYS_FLAG_MASK) >> PHYS_MMIO_INDEX_SHIFT);
            } else if (e & PHYS_DIRECT_WRITE) {
                k = 1;
            } else if (e & PHYS_DIRECT_READ) {
                k = 2;
            }
        }
        if (page < PHYS_PAGE_COUNT && k == kind && r == region)
            continue;
        if (kind > 0) {
            uint64_t end = (page << PHYS_PAGE_SHIFT) - 1;
            const char *what = kind == 1 ? "ram" : kind == 2 ? "rom" : "i/o";
            const char *name = kind == 1 ? "pc.ram" : kind == 2 ? "pc.bios/rom"
                             : pc->mem.mmio[region].name ? pc->mem.mmio[region].name : "mmio";
            monitor_printf(mon, "    %016" PRIx64 "-%016" PRIx64 " (prio 1, %s): %s\n",
                           (uint64_t)start, end, what, name);
        }
        if (page < PHYS_PAGE_COUNT) {
            start = (uint32_t)(page << PHYS_PAGE_SHIFT);
            kind = k;
            region = r;
        }
    }
    monitor_printf(mon, "\naddress-space: I/O\n");
    monitor_printf(mon, "  0000000000000000-000000000000ffff (prio 0, i/o): io\n");
    for (unsigned i = 0; i < pc->io.count; i++) {
        const struct io_handler *h = &pc->io.handlers[i];
        if (!h->len)
            continue;
        monitor_printf(mon, "    %016" PRIx64 "-%016" PRIx64 " (prio 0, i/o): %s\n",
                       (uint64_t)h->base, (uint64_t)h->base + h->len - 1,
                       h->name ? h->name : "io");
    }
}

static void info_pic(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    for (int i = 0; i < 2; i++) {
        const struct pic_chip *s = &pc->pic.chip[i];
        monitor_printf(mon, "pic%d: irr=%02x imr=%02x isr=%02x hprio=%d irq_base=%02x "
                       "rr_sel=%d elcr=%02x fnm=%d\n", i, s->irr, s->imr, s->isr,
                       (s->lowest_prio + 1) & 7, s->vector_base, s->read_isr, s->elcr, s->sfnm);
    }
}

static void info_irq(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    monitor_printf(mon, "IRQ statistics for isa-i8259:\n");
    for (int i = 0; i < 16; i++)
        if (pc->irq_count[i])
            monitor_printf(mon, "%2d: %" PRIu64 "\n", i, pc->irq_count[i]);
}

/* Walk the current CPU's page tables (non-PAE 32-bit, with 4 MiB pages). fn gets each
 * present leaf: linear address, size, entry. */
typedef void (*pte_fn)(struct monitor *mon, uint32_t lin, uint32_t size, uint32_t pte, void *ctx);

static bool walk_pages(struct monitor *mon, struct pc *pc, pte_fn fn, void *ctx)
{
    struct cpu *c = mon_cpu(pc, mon);
    if (!(c->cr0 & CR0_PG)) {
        monitor_printf(mon, "PG disabled\n");
        return false;
    }
    if (c->cr4 & CR4_PAE) {
        monitor_printf(mon, "PAE paging is not shown yet\n");
        return false;
    }
    uint32_t dir = c->cr3 & ~0xfffu;
    for (uint32_t i = 0; i < 1024; i++) {
        uint32_t pde = phys_read(&pc->mem, dir + 4 * i, 4);
        if (!(pde & 1))
            continue;
        if ((pde & 0x80) && (c->cr4 & CR4_PSE)) {
            fn(mon, i << 22, 1u << 22, pde, ctx);
            continue;
        }
        uint32_t table = pde & ~0xfffu;
        for (uint32_t j = 0; j < 1024; j++) {
            uint32_t pte = phys_read(&pc->mem, table + 4 * j, 4);
            if (pte & 1)   /* user and write need both levels */
                fn(mon, i << 22 | j << 12, 4096, (pte & ~6u) | (pte & pde & 6u), ctx);
        }
    }
    return true;
}

static void tlb_entry(struct monitor *mon, uint32_t lin, uint32_t size, uint32_t pte, void *ctx)
{
    (void)ctx;
    uint32_t mask = size == 4096 ? ~0xfffu : ~0x3fffffu;
    monitor_printf(mon, "%08x: %08x %c%c%c%c%c%c%c%c%c\n", lin, pte & mask,
                   pte & 0x100 ? 'G' : '-', size != 4096 ? 'P' : '-', pte & 0x40 ? 'D' : '-',
                   pte & 0x20 ? 'A' : '-', pte & 0x10 ? 'T' : '-', pte & 0x08 ? 'T' : '-',
                   pte & 0x04 ? 'U' : '-', pte & 0x02 ? 'W' : '-', '-');
}

static void info_tlb(struct monitor *mon, const char *args, void *opaque)
{
    (void)args;
    walk_pages(mon, opaque, tlb_entry, NULL);
}

/* info mem: runs of pages with the same protection. */
struct mem_run {
    bool open;
    uint32_t start, end, prot;
};

static void mem_flush(struct monitor *mon, struct mem_run *r)
{
    if (r->open && r->prot)
        monitor_printf(mon, "%08x-%08x %08x %c%c%c\n", r->start, r->end, r->end - r->start,
                       r->prot & 4 ? 'u' : '-', 'r', r->prot & 2 ? 'w' : '-');
    r->open = false;
}

static void mem_entry(struct monitor *mon, uint32_t lin, uint32_t size, uint32_t pte, void *ctx)
{
    struct mem_run *r = ctx;
    uint32_t prot = (pte & 6) | 1;
    if (r->open && r->end == lin && r->prot == prot) {
        r->end = lin + size;
        return;
    }
    mem_flush(mon, r);
    *r = (struct mem_run){ .open = true, .start = lin, .end = lin + size, .prot = prot };
}

static void info_mem(struct monitor *mon, const char *args, void *opaque)
{
    (void)args;
    struct mem_run r = { 0 };
    if (walk_pages(mon, opaque, mem_entry, &r))
        mem_flush(mon, &r);
}

size_t pc_chardev_list(const struct pc *pc, struct pc_chardev_info *out, size_t max)
{
    const struct vm_config *cfg = pc->cfg;
    size_t n = 0;
    for (unsigned i = 0; i < cfg->n_serial && n < max; i++, n++) {
        snprintf(out[n].label, sizeof(out[n].label), "serial%u", i);
        snprintf(out[n].filename, sizeof(out[n].filename), "%s", cfg->serial[i]);
    }
    for (unsigned i = 0; i < cfg->n_monitors && n < max; i++) {
        if (!cfg->monitors[i].spec)
            continue;   /* -mon chardev=ID: listed with the -chardev */
        snprintf(out[n].label, sizeof(out[n].label), "compat_monitor%u", i);
        snprintf(out[n].filename, sizeof(out[n].filename), "%s", cfg->monitors[i].spec);
        n++;
    }
    for (unsigned i = 0; i < cfg->n_chardevs && n < max; i++, n++) {
        snprintf(out[n].label, sizeof(out[n].label), "%s", cfg->chardevs[i].id);
        snprintf(out[n].filename, sizeof(out[n].filename), "%s", cfg->chardevs[i].spec);
    }
    if (cfg->debugcon && n < max) {
        snprintf(out[n].label, sizeof(out[n].label), "debugcon");
        snprintf(out[n].filename, sizeof(out[n].filename), "%s", cfg->debugcon);
        n++;
    }
    return n;
}

static void info_chardev(struct monitor *mon, const char *args, void *opaque)
{
    (void)args;
    struct pc_chardev_info info[64];
    size_t n = pc_chardev_list(opaque, info, 64);
    for (size_t i = 0; i < n; i++)
        monitor_printf(mon, "%s: filename=%s\n", info[i].label, info[i].filename);
}

static void info_roms(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    (void)args;
    const char *bios = pc->cfg->bios ? pc->cfg->bios : "bios-256k.bin";
    const char *base = strrchr(bios, '/');
    struct stat st;
    if (pc->has_vga && stat("/usr/share/seabios/vgabios-stdvga.bin", &st) == 0)
        monitor_printf(mon, "fw=vgaroms/vgabios-stdvga.bin size=0x%06llx name=\"vgabios-stdvga.bin\"\n",
                       (unsigned long long)st.st_size);
    monitor_printf(mon, "addr=%016" PRIx64 " size=0x%06x mem=rom name=\"%s\"\n",
                   (uint64_t)(0x100000000ull - pc->bios_size), pc->bios_size, base ? base + 1 : bios);
}

/* ---- keys, media, logging ---- */

/* QEMU's key names (QKeyCode) and their set-1 scancodes (0xe0xx: extended). */
static const struct { const char *name; uint16_t code; } key_names[] = {
    { "esc", 0x01 }, { "1", 0x02 }, { "2", 0x03 }, { "3", 0x04 }, { "4", 0x05 }, { "5", 0x06 },
    { "6", 0x07 }, { "7", 0x08 }, { "8", 0x09 }, { "9", 0x0a }, { "0", 0x0b }, { "minus", 0x0c },
    { "equal", 0x0d }, { "backspace", 0x0e }, { "tab", 0x0f }, { "q", 0x10 }, { "w", 0x11 },
    { "e", 0x12 }, { "r", 0x13 }, { "t", 0x14 }, { "y", 0x15 }, { "u", 0x16 }, { "i", 0x17 },
    { "o", 0x18 }, { "p", 0x19 }, { "bracket_left", 0x1a }, { "bracket_right", 0x1b },
    { "ret", 0x1c }, { "ctrl", 0x1d }, { "a", 0x1e }, { "s", 0x1f }, { "d", 0x20 }, { "f", 0x21 },
    { "g", 0x22 }, { "h", 0x23 }, { "j", 0x24 }, { "k", 0x25 }, { "l", 0x26 },
    { "semicolon", 0x27 }, { "apostrophe", 0x28 }, { "grave_accent", 0x29 }, { "shift", 0x2a },
    { "backslash", 0x2b }, { "z", 0x2c }, { "x", 0x2d }, { "c", 0x2e }, { "v", 0x2f },
    { "b", 0x30 }, { "n", 0x31 }, { "m", 0x32 }, { "comma", 0x33 }, { "dot", 0x34 },
    { "slash", 0x35 }, { "shift_r", 0x36 }, { "asterisk", 0x37 }, { "alt", 0x38 },
    { "spc", 0x39 }, { "caps_lock", 0x3a }, { "f1", 0x3b }, { "f2", 0x3c }, { "f3", 0x3d },
    { "f4", 0x3e }, { "f5", 0x3f }, { "f6", 0x40 }, { "f7", 0x41 }, { "f8", 0x42 },
    { "f9", 0x43 }, { "f10", 0x44 }, { "num_lock", 0x45 }, { "scroll_lock", 0x46 },
    { "f11", 0x57 }, { "f12", 0x58 }, { "less", 0x56 }, { "ctrl_r", 0xe01d },
    { "alt_r", 0xe038 }, { "home", 0xe047 }, { "up", 0xe048 }, { "pgup", 0xe049 },
    { "left", 0xe04b }, { "right", 0xe04d }, { "end", 0xe04f }, { "down", 0xe050 },
    { "pgdn", 0xe051 }, { "insert", 0xe052 }, { "delete", 0xe053 }, { "meta_l", 0xe05b },
    { "meta_r", 0xe05c }, { "menu", 0xe05d }, { "kp_enter", 0xe01c }, { "kp_divide", 0xe035 },
};

static void hmp_sendkey(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    uint16_t codes[16];
    int n = 0;
    char keys[256];
    snprintf(keys, sizeof(keys), "%.*s", (int)strcspn(args, " \t"), args);
    if (!*keys) {
        monitor_printf(mon, "missing key\n");
        return;
    }
    for (char *save = NULL, *k = strtok_r(keys, "-", &save); k; k = strtok_r(NULL, "-", &save)) {
        int found = -1;
        for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
            if (!strcmp(k, key_names[i].name))
                found = (int)i;
        uint16_t code;
        if (found >= 0) {
            code = key_names[found].code;
        } else if (!strncmp(k, "0x", 2) && strtoul(k, NULL, 16) > 0 && strtoul(k, NULL, 16) < 0xe100) {
            code = (uint16_t)strtoul(k, NULL, 16);
        } else {
            monitor_printf(mon, "invalid parameter: %s\n", k);
            return;
        }
        if (n == 16) {
            monitor_printf(mon, "too many keys\n");
            return;
        }
        codes[n++] = code;
    }
    for (int i = 0; i < n; i++)          /* press in order ... */
        i8042_key_event(&pc->kbc, codes[i], true);
    for (int i = n - 1; i >= 0; i--)     /* ... release in reverse */
        i8042_key_event(&pc->kbc, codes[i], false);
}

static void hmp_eject(struct monitor *mon, const char *args, void *opaque)
{
    bool force = false;
    if (!strncmp(args, "-f", 2) && (args[2] == ' ' || args[2] == '\t')) {
        force = true;
        args += 2;
        while (*args == ' ' || *args == '\t')
            args++;
    }
    if (!*args) {
        monitor_printf(mon, "missing device\n");
        return;
    }
    char why[512];
    if (pc_cd_eject(opaque, args, force, why, sizeof(why)) < 0)
        monitor_printf(mon, "Error: %s\n", why);
}

static void hmp_change(struct monitor *mon, const char *args, void *opaque)
{
    char dev[64], file[1024], format[32];
    int n = sscanf(args, "%63s %1023s %31s", dev, file, format);
    if (n < 2) {
        monitor_printf(mon, "usage: change device filename [format]\n");
        return;
    }
    if (!strcmp(dev, "vnc")) {
        monitor_printf(mon, "Error: pcvm has no VNC server\n");
        return;
    }
    char why[BLOCK_ERR_LEN + 64];
    if (pc_cd_change(opaque, dev, file, n >= 3 ? format : NULL, why, sizeof(why)) < 0)
        monitor_printf(mon, "Error: %s\n", why);
}

/* commit DEVICE|all */
static void hmp_commit(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    char why[BLOCK_ERR_LEN + 128];
    if (!*args) {
        monitor_printf(mon, "missing device\n");
        return;
    }
    if (!strcmp(args, "all")) {
        for (int i = 0; i < 4; i++)
            if (pc->drives[i] && pc->drives[i]->backing && pc_drive_commit(pc, i, why, sizeof(why)) < 0)
                monitor_printf(mon, "Error: %s\n", why);
        return;
    }
    int i = pc_drive_find(pc, args);
    if (i < 0)
        monitor_printf(mon, "Error: Device '%s' not found\n", args);
    else if (pc_drive_commit(pc, i, why, sizeof(why)) < 0)
        monitor_printf(mon, "Error: %s\n", why);
}

static void hmp_log(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    if (!*args) {
        monitor_printf(mon, "missing log items (see 'log help'... -d help)\n");
        return;
    }
    if (!strcmp(args, "none")) {
        pc->log->mask = 0;
        return;
    }
    const char *bad;
    unsigned badlen;
    long mask = log_parse_items(args, &bad, &badlen);
    if (mask < 0) {
        monitor_printf(mon, "Invalid parameter '%.*s'\n", (int)badlen, bad);
        return;
    }
    pc->log->mask = (unsigned)mask;
}

static void hmp_logfile(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    if (!*args) {
        monitor_printf(mon, "missing filename\n");
        return;
    }
    FILE *f = fopen(args, "w");
    if (!f) {
        monitor_printf(mon, "could not open '%s': %s\n", args, strerror(errno));
        return;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    if (pc->log->out && pc->log->out != stderr)
        fclose(pc->log->out);
    pc->log->out = f;
}

static const struct hmp_command pc_hmp_commands[] = {
    { "x", NULL, "/fmt addr", "virtual memory dump starting at 'addr'", hmp_x },
    { "xp", NULL, "/fmt addr", "physical memory dump starting at 'addr'", hmp_xp },
    { "print", "p", "/fmt expr", "print expression value (use $reg for CPU register access)",
      hmp_print },
    { "gva2gpa", NULL, "addr", "print the guest physical address of a guest virtual address",
      hmp_gva2gpa },
    { "memsave", NULL, "addr size file", "save to disk virtual memory dump starting at 'addr' "
      "of size 'size'", hmp_memsave },
    { "pmemsave", NULL, "addr size file", "save to disk physical memory dump starting at "
      "'addr' of size 'size'", hmp_pmemsave },
    { "cpu", NULL, "index", "set the default CPU", hmp_cpu },
    { "sendkey", NULL, "keys [hold_ms]", "send keys to the VM (e.g. 'sendkey ctrl-alt-f1')",
      hmp_sendkey },
    { "eject", NULL, "[-f] device", "eject a removable medium (use -f to force it)", hmp_eject },
    { "change", NULL, "device filename [format]", "change a removable medium", hmp_change },
    { "commit", NULL, "device|all", "commit changes to the disk images (if -snapshot is used) "
      "or backing files", hmp_commit },
    { "log", NULL, "item1[,...]", "activate logging of the specified items", hmp_log },
    { "logfile", NULL, "filename", "output logs to 'filename'", hmp_logfile },
    { "info cpus", NULL, "", "show infos for each CPU", info_cpus },
    { "info pci", NULL, "", "show PCI info", info_pci },
    { "info block", NULL, "", "show info of one block device or all block devices", info_block },
    { "info mtree", NULL, "", "show memory tree", info_mtree },
    { "info pic", NULL, "", "show PIC state", info_pic },
    { "info irq", NULL, "", "show the interrupts statistics (if available)", info_irq },
    { "info mem", NULL, "", "show the active virtual memory mappings", info_mem },
    { "info tlb", NULL, "", "show virtual to physical memory mappings", info_tlb },
    { "info chardev", NULL, "", "show the character devices", info_chardev },
    { "info roms", NULL, "", "show roms", info_roms },
};

void pc_monitor_hmp_register(struct pc *pc)
{
    monitor_registry_add_hmp(&pc->monreg, pc_hmp_commands,
                             sizeof(pc_hmp_commands) / sizeof(pc_hmp_commands[0]), pc);
}

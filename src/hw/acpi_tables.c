/* ACPI tables (RSDP, RSDT, FADT, FACS, DSDT, MADT), a small AML writer and the table loader. */
#include "hw/acpi_tables.h"
#include "hw/acpi_pm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Growable byte buffer ---- */

struct buf {
    uint8_t *p;
    uint32_t len, cap;
    bool oom;
};

static void buf_reserve(struct buf *b, uint32_t extra)
{
    if (b->oom || b->len + extra <= b->cap)
        return;
    uint32_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    memset(p + b->cap, 0, cap - b->cap);
    b->p = p;
    b->cap = cap;
}

static void put(struct buf *b, const void *data, uint32_t n)
{
    buf_reserve(b, n);
    if (b->oom)
        return;
    if (data)
        memcpy(b->p + b->len, data, n);
    else
        memset(b->p + b->len, 0, n);
    b->len += n;
}

static void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static void put_le(struct buf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        put8(b, (uint8_t)(v >> (8 * i)));
}

static void set_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void align_to(struct buf *b, uint32_t a)
{
    while (b->len % a)
        put8(b, 0);
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

uint8_t acpi_checksum(const uint8_t *p, uint32_t len)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

/* ---- AML ---- */

enum {
    AML_ZERO = 0x00, AML_ONE = 0x01, AML_NAME = 0x08, AML_BYTE = 0x0a, AML_WORD = 0x0b,
    AML_DWORD = 0x0c, AML_STRING = 0x0d, AML_SCOPE = 0x10, AML_BUFFER = 0x11, AML_PACKAGE = 0x12,
    AML_EXT = 0x5b, AML_DEVICE = 0x82, AML_ROOT = 0x5c, AML_DUAL = 0x2e, AML_MULTI = 0x2f,
    AML_METHOD = 0x14, AML_IF = 0xa0, AML_ELSE = 0xa1, AML_RETURN = 0xa4, AML_STORE = 0x70,
    AML_AND = 0x7b, AML_OR = 0x7d, AML_LLESS = 0x95, AML_CREATE_DWORD_FIELD = 0x8a,
    AML_OPREGION = 0x80, AML_FIELD = 0x81, AML_ARG0 = 0x68, AML_NULL_NAME = 0x00,
};

static void aml_int(struct buf *b, uint64_t v)
{
    if (v == 0) {
        put8(b, AML_ZERO);
    } else if (v == 1) {
        put8(b, AML_ONE);
    } else if (v <= 0xff) {
        put8(b, AML_BYTE);
        put8(b, (uint8_t)v);
    } else if (v <= 0xffff) {
        put8(b, AML_WORD);
        put_le(b, v, 2);
    } else {
        put8(b, AML_DWORD);
        put_le(b, v, 4);
    }
}

/* A path such as "\\_SB_.PCI0" or "COM1"; segments shorter than 4 are padded with '_'. */
static void aml_name(struct buf *b, const char *path)
{
    if (*path == '\\') {
        put8(b, AML_ROOT);
        path++;
    }
    unsigned nseg = 1;
    for (const char *c = path; *c; c++)
        nseg += *c == '.';
    if (nseg == 2)
        put8(b, AML_DUAL);
    else if (nseg > 2) {
        put8(b, AML_MULTI);
        put8(b, (uint8_t)nseg);
    }
    while (*path) {
        char seg[4] = { '_', '_', '_', '_' };
        for (int i = 0; i < 4 && *path && *path != '.'; i++)
            seg[i] = *path++;
        put(b, seg, 4);
        if (*path == '.')
            path++;
    }
}

/* PkgLength counts itself: 1 byte up to 63, else 2-4 bytes with the low nibble first. */
static void aml_pkglen(struct buf *b, uint32_t payload)
{
    if (payload + 1 <= 0x3f) {
        put8(b, (uint8_t)(payload + 1));
        return;
    }
    unsigned extra = payload + 2 < (1u << 12) ? 1 : payload + 3 < (1u << 20) ? 2 : 3;
    uint32_t total = payload + 1 + extra;
    put8(b, (uint8_t)(extra << 6 | (total & 0x0f)));
    for (unsigned i = 0; i < extra; i++)
        put8(b, (uint8_t)(total >> (4 + 8 * i)));
}

/* op (1 or 2 bytes) PkgLength then body. */
static void aml_pkg(struct buf *b, const uint8_t *op, unsigned oplen, const struct buf *body)
{
    put(b, op, oplen);
    aml_pkglen(b, body->len);
    put(b, body->p, body->len);
}

static void aml_scope(struct buf *b, const char *name, struct buf *body)
{
    struct buf t = {0};
    aml_name(&t, name);
    put(&t, body->p, body->len);
    static const uint8_t op[] = { AML_SCOPE };
    aml_pkg(b, op, 1, &t);
    b->oom |= t.oom || body->oom;
    buf_free(&t);
    buf_free(body);
}

static void aml_device(struct buf *b, const char *name, struct buf *body)
{
    struct buf t = {0};
    aml_name(&t, name);
    put(&t, body->p, body->len);
    static const uint8_t op[] = { AML_EXT, AML_DEVICE };
    aml_pkg(b, op, 2, &t);
    b->oom |= t.oom || body->oom;
    buf_free(&t);
    buf_free(body);
}

static void aml_name_int(struct buf *b, const char *name, uint64_t v)
{
    put8(b, AML_NAME);
    aml_name(b, name);
    aml_int(b, v);
}

/* Method(name, nargs, NotSerialized) { body } */
static void aml_method(struct buf *b, const char *name, unsigned nargs, struct buf *body)
{
    struct buf t = {0};
    aml_name(&t, name);
    put8(&t, (uint8_t)(nargs & 7));
    put(&t, body->p, body->len);
    static const uint8_t op[] = { AML_METHOD };
    aml_pkg(b, op, 1, &t);
    b->oom |= t.oom || body->oom;
    buf_free(&t);
    buf_free(body);
}

/* If (predicate) { body }: predicate is already-encoded AML. */
static void aml_if(struct buf *b, struct buf *pred, struct buf *body)
{
    struct buf t = {0};
    put(&t, pred->p, pred->len);
    put(&t, body->p, body->len);
    static const uint8_t op[] = { AML_IF };
    aml_pkg(b, op, 1, &t);
    b->oom |= t.oom || pred->oom || body->oom;
    buf_free(&t);
    buf_free(pred);
    buf_free(body);
}

static void aml_else(struct buf *b, struct buf *body)
{
    static const uint8_t op[] = { AML_ELSE };
    aml_pkg(b, op, 1, body);
    b->oom |= body->oom;
    buf_free(body);
}

/* EISA ID: three letters in 5 bits each, then four hex digits, stored as a dword. */
static uint32_t eisa_id(const char *id)
{
    unsigned c1 = (unsigned)(id[0] - 0x40) & 0x1f, c2 = (unsigned)(id[1] - 0x40) & 0x1f,
             c3 = (unsigned)(id[2] - 0x40) & 0x1f;
    unsigned hex = (unsigned)strtoul(id + 3, NULL, 16);
    uint8_t b0 = (uint8_t)(c1 << 2 | c2 >> 3), b1 = (uint8_t)((c2 & 7) << 5 | c3);
    return (uint32_t)b0 | (uint32_t)b1 << 8 | (uint32_t)(hex >> 8 & 0xff) << 16 | (uint32_t)(hex & 0xff) << 24;
}

static void aml_name_eisa(struct buf *b, const char *name, const char *id)
{
    put8(b, AML_NAME);
    aml_name(b, name);
    put8(b, AML_DWORD);
    put_le(b, eisa_id(id), 4);
}

/* Name(name, Buffer() { resource descriptors, EndTag }). */
static void aml_name_resources(struct buf *b, const char *name, struct buf *res)
{
    put8(res, 0x79);   /* End tag */
    put8(res, 0x00);   /* checksum 0: "treated as correct" */
    struct buf t = {0};
    aml_int(&t, res->len);
    put(&t, res->p, res->len);
    put8(b, AML_NAME);
    aml_name(b, name);
    static const uint8_t op[] = { AML_BUFFER };
    aml_pkg(b, op, 1, &t);
    b->oom |= t.oom || res->oom;
    buf_free(&t);
    buf_free(res);
}

/* Small resource descriptors. */
static void res_io(struct buf *r, uint16_t port, uint8_t len)
{
    put8(r, 0x47);
    put8(r, 0x01);         /* 16-bit decode */
    put_le(r, port, 2);    /* min */
    put_le(r, port, 2);    /* max */
    put8(r, 0x01);         /* alignment */
    put8(r, len);
}

static void res_irq(struct buf *r, unsigned irq)
{
    put8(r, 0x22);         /* IRQNoFlags: edge, active high */
    put_le(r, 1u << irq, 2);
}

/* Extended interrupt descriptor: consumer, level, active high, shared. */
static void res_interrupts(struct buf *r, const uint8_t *irqs, unsigned n)
{
    put8(r, 0x89);
    put_le(r, 2 + 4 * n, 2);
    put8(r, 0x09);
    put8(r, (uint8_t)n);
    for (unsigned i = 0; i < n; i++)
        put_le(r, irqs[i], 4);
}

/* Large address space descriptors: producer, MinFixed, MaxFixed, positive decode. */
static void res_word(struct buf *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
    put8(r, 0x88);
    put_le(r, 13, 2);
    put8(r, type);
    put8(r, 0x0c);
    put8(r, tflags);
    put_le(r, 0, 2);
    put_le(r, min, 2);
    put_le(r, max, 2);
    put_le(r, 0, 2);
    put_le(r, (uint32_t)max - min + 1, 2);
}

static void res_dword_mem(struct buf *r, uint32_t min, uint32_t max)
{
    put8(r, 0x87);
    put_le(r, 23, 2);
    put8(r, 0);            /* memory */
    put8(r, 0x0c);
    put8(r, 0x03);         /* read/write, cacheable */
    put_le(r, 0, 4);
    put_le(r, min, 4);
    put_le(r, max, 4);
    put_le(r, 0, 4);
    put_le(r, (uint64_t)max - min + 1, 4);
}

static void isa_device(struct buf *isa, const char *name, const char *hid, int uid, struct buf *res)
{
    struct buf d = {0};
    aml_name_eisa(&d, "_HID", hid);
    if (uid >= 0)
        aml_name_int(&d, "_UID", (uint64_t)uid);
    aml_name_resources(&d, "_CRS", res);
    aml_device(isa, name, &d);
}

/* IRQs a PCI interrupt link may be steered to (as on QEMU's pc). */
static const uint8_t link_irqs[3] = { 5, 10, 11 };

/* Device (LNKx): PCI interrupt link n, backed by the PIIX3 route register PRQn. */
static void build_link(struct buf *sb, int n)
{
    char name[5] = { 'L', 'N', 'K', (char)('A' + n), 0 };
    char prq[32]; /* room for any int: keeps -Wformat-truncation quiet at every -O level */
    snprintf(prq, sizeof(prq), "\\_SB.PCI0.ISA.PRQ%d", n);
    struct buf d = {0}, r = {0}, body = {0}, pred = {0}, then = {0}, els = {0};
    aml_name_eisa(&d, "_HID", "PNP0C0F");
    aml_name_int(&d, "_UID", (uint64_t)n);
    res_interrupts(&r, link_irqs, 3);
    aml_name_resources(&d, "_PRS", &r);

    /* _STA: 0x09 (present, hidden) when routing is disabled, else 0x0B. */
    put8(&pred, AML_AND);
    aml_name(&pred, prq);
    aml_int(&pred, 0x80);
    put8(&pred, AML_NULL_NAME);
    put8(&then, AML_RETURN);
    aml_int(&then, 0x09);
    aml_if(&body, &pred, &then);
    put8(&els, AML_RETURN);
    aml_int(&els, 0x0b);
    aml_else(&body, &els);
    aml_method(&d, "_STA", 0, &body);

    /* _DIS: set the disable bit. */
    put8(&body, AML_OR);
    aml_name(&body, prq);
    aml_int(&body, 0x80);
    aml_name(&body, prq);
    aml_method(&d, "_DIS", 0, &body);

    /* _CRS: the routed IRQ, or 0 when disabled. */
    {
        uint8_t zero = 0;
        res_interrupts(&r, &zero, 1);
        aml_name_resources(&body, "PRR0", &r);
        put8(&body, AML_CREATE_DWORD_FIELD);
        aml_name(&body, "PRR0");
        aml_int(&body, 5);
        aml_name(&body, "PRRI");
        put8(&pred, AML_LLESS);
        aml_name(&pred, prq);
        aml_int(&pred, 0x80);
        put8(&then, AML_STORE);
        aml_name(&then, prq);
        aml_name(&then, "PRRI");
        aml_if(&body, &pred, &then);
        put8(&body, AML_RETURN);
        aml_name(&body, "PRR0");
        aml_method(&d, "_CRS", 0, &body);
    }

    /* _SRS: route to the IRQ in the descriptor passed in Arg0. */
    put8(&body, AML_CREATE_DWORD_FIELD);
    put8(&body, AML_ARG0);
    aml_int(&body, 5);
    aml_name(&body, "PRRI");
    put8(&body, AML_STORE);
    aml_name(&body, "PRRI");
    aml_name(&body, prq);
    aml_method(&d, "_SRS", 1, &body);

    aml_device(sb, name, &d);
}

static void build_dsdt_aml(struct buf *aml, const struct acpi_config *cfg)
{
    /* ISA bridge and its devices. */
    struct buf isa = {0}, r = {0};
    aml_name_int(&isa, "_ADR", 0x00010000);
    /* OperationRegion (PIRQ, PCI_Config, 0x60, 4) with fields PRQ0-PRQ3: the PIRQ routes. */
    put8(&isa, AML_EXT);
    put8(&isa, AML_OPREGION);
    aml_name(&isa, "PIRQ");
    put8(&isa, 0x02);                               /* PCI_Config */
    aml_int(&isa, 0x60);
    aml_int(&isa, 4);
    {
        struct buf fl = {0};
        aml_name(&fl, "PIRQ");
        put8(&fl, 0x01);                            /* ByteAcc, NoLock, Preserve */
        for (int i = 0; i < 4; i++) {
            char seg[5] = { 'P', 'R', 'Q', (char)('0' + i), 0 };
            put(&fl, seg, 4);
            put8(&fl, 8);                           /* 8 bits */
        }
        static const uint8_t field_op[] = { AML_EXT, AML_FIELD };
        aml_pkg(&isa, field_op, 2, &fl);
        isa.oom |= fl.oom;
        buf_free(&fl);
    }
    res_io(&r, 0x60, 1); res_io(&r, 0x64, 1); res_irq(&r, 1);
    isa_device(&isa, "KBD", "PNP0303", -1, &r);
    res_irq(&r, 12);
    isa_device(&isa, "MOU", "PNP0F13", -1, &r);
    res_io(&r, 0x3f8, 8); res_irq(&r, 4);
    isa_device(&isa, "COM1", "PNP0501", 1, &r);
    res_io(&r, 0x70, 2); res_irq(&r, 8);
    isa_device(&isa, "RTC", "PNP0B00", -1, &r);
    res_io(&r, 0x40, 4); res_irq(&r, 0);
    isa_device(&isa, "TMR", "PNP0100", -1, &r);
    res_io(&r, 0x20, 2); res_io(&r, 0xa0, 2); res_irq(&r, 2);
    isa_device(&isa, "PIC", "PNP0000", -1, &r);
    if (cfg->pvpanic_port) {   /* Linux's pvpanic driver looks for QEMU0001 */
        struct buf d = {0};
        put8(&d, AML_NAME);
        aml_name(&d, "_HID");
        put8(&d, AML_STRING);
        put(&d, "QEMU0001", 9);
        res_io(&r, cfg->pvpanic_port, 1);
        aml_name_resources(&d, "_CRS", &r);
        aml_device(&isa, "PEVT", &d);
    }

    /* PCI host bridge. */
    struct buf pci = {0};
    aml_name_eisa(&pci, "_HID", "PNP0A03");
    aml_name_int(&pci, "_ADR", 0);
    aml_name_int(&pci, "_UID", 0);
    res_word(&r, 2, 0, 0x00, 0xff);                 /* bus numbers 0-255 */
    res_io(&r, 0xcf8, 8);                           /* the config ports themselves */
    res_word(&r, 1, 0x03, 0x0000, 0x0cf7);          /* I/O windows around them */
    res_word(&r, 1, 0x03, 0x0d00, 0xffff);
    res_dword_mem(&r, 0x000a0000, 0x000bffff);      /* VGA */
    if (cfg->pci_mem_end > cfg->pci_mem_start)
        res_dword_mem(&r, cfg->pci_mem_start, cfg->pci_mem_end - 1);
    aml_name_resources(&pci, "_CRS", &r);

    /* _PRT: Package { Package { 0xSSSSFFFF, pin, LNKx, 0 } ... } for slots 1-31, where
     * slot S pin P uses PIRQ (S + P - 1) & 3, as the PIIX3 wiring does. */
    struct buf prt = {0};
    put8(&prt, 31 * 4);
    for (unsigned slot = 1; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            static const char *const links[4] = { "\\_SB.LNKA", "\\_SB.LNKB", "\\_SB.LNKC", "\\_SB.LNKD" };
            struct buf e = {0};
            put8(&e, 4);
            aml_int(&e, (uint64_t)slot << 16 | 0xffff);
            aml_int(&e, pin);
            aml_name(&e, links[(slot + pin - 1) & 3]);
            aml_int(&e, 0);
            static const uint8_t op[] = { AML_PACKAGE };
            aml_pkg(&prt, op, 1, &e);
            prt.oom |= e.oom;
            buf_free(&e);
        }
    }
    put8(&pci, AML_NAME);
    aml_name(&pci, "_PRT");
    static const uint8_t pkg_op[] = { AML_PACKAGE };
    aml_pkg(&pci, pkg_op, 1, &prt);
    pci.oom |= prt.oom;
    buf_free(&prt);
    aml_device(&pci, "ISA", &isa);

    struct buf sb = {0};
    aml_device(&sb, "PCI0", &pci);
    for (int i = 0; i < 4; i++)
        build_link(&sb, i);
    struct buf pwrb = {0};
    aml_name_eisa(&pwrb, "_HID", "PNP0C0C");
    aml_name_int(&pwrb, "_UID", 1);
    aml_device(&sb, "PWRB", &pwrb);
    aml_scope(aml, "\\_SB", &sb);

    /* \_S3 (suspend to RAM, SLP_TYP 1 as on QEMU's PIIX4), \_S4 (hibernation, 2: QEMU's s4_val)
     * and \_S5 (soft off, 0): SLP_TYPa, SLP_TYPb, reserved, reserved. */
    static const struct { const char *name; int typ; } states[] = { { "\\_S3", 1 }, { "\\_S4", 2 }, { "\\_S5", 0 } };
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
        struct buf sx = {0};
        put8(&sx, 4);
        for (int i = 0; i < 4; i++)
            aml_int(&sx, i < 2 ? states[k].typ : 0);
        put8(aml, AML_NAME);
        aml_name(aml, states[k].name);
        aml_pkg(aml, pkg_op, 1, &sx);
        aml->oom |= sx.oom;
        buf_free(&sx);
    }
}

/* ---- Tables ---- */

static uint32_t table_begin(struct buf *b, const char *sig, uint8_t rev)
{
    align_to(b, 4);
    uint32_t off = b->len;
    put(b, sig, 4);
    put_le(b, 0, 4);                 /* length, patched by table_end */
    put8(b, rev);
    put8(b, 0);                      /* checksum */
    put(b, "PCVM  ", 6);
    char tid[8] = { 'P', 'C', 'V', 'M', sig[0], sig[1], sig[2], sig[3] };
    put(b, tid, 8);
    put_le(b, 1, 4);                 /* OEM revision */
    put(b, "PCVM", 4);
    put_le(b, 1, 4);                 /* creator revision */
    return off;
}

static void table_end(struct buf *b, uint32_t off)
{
    if (b->oom)
        return;
    uint32_t len = b->len - off;
    set_le(b->p + off + 4, len, 4);
    b->p[off + 9] = 0;
    b->p[off + 9] = acpi_checksum(b->p + off, len);
}

/* Generic address structure. */
static void put_gas(struct buf *b, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
    put8(b, space);
    put8(b, bits);
    put8(b, 0);
    put8(b, access);
    put_le(b, addr, 8);
}

/* Loader command helpers. */
static void loader_cmd(struct buf *l, uint32_t cmd, const uint8_t body[124])
{
    put_le(l, cmd, 4);
    put(l, body, 124);
}

static void loader_allocate(struct buf *l, const char *file, uint32_t align, uint8_t zone)
{
    uint8_t e[124] = {0};
    strncpy((char *)e, file, ACPI_LOADER_FILESZ - 1);
    set_le(e + 56, align, 4);
    e[60] = zone;
    loader_cmd(l, ACPI_LOADER_ALLOCATE, e);
}

static void loader_add_pointer(struct buf *l, const char *dest, const char *src, uint32_t offset, uint8_t size)
{
    uint8_t e[124] = {0};
    strncpy((char *)e, dest, ACPI_LOADER_FILESZ - 1);
    strncpy((char *)e + 56, src, ACPI_LOADER_FILESZ - 1);
    set_le(e + 112, offset, 4);
    e[116] = size;
    loader_cmd(l, ACPI_LOADER_ADD_POINTER, e);
}

static void loader_add_checksum(struct buf *l, const char *file, uint32_t offset, uint32_t start, uint32_t len)
{
    uint8_t e[124] = {0};
    strncpy((char *)e, file, ACPI_LOADER_FILESZ - 1);
    set_le(e + 56, offset, 4);
    set_le(e + 60, start, 4);
    set_le(e + 64, len, 4);
    loader_cmd(l, ACPI_LOADER_ADD_CHECKSUM, e);
}

void acpi_config_pc_defaults(struct acpi_config *cfg, unsigned cpus, uint32_t ram_below_4g)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cpus = cpus ? cpus : 1;
    cfg->lapic_addr = 0xfee00000;
    cfg->ioapic_addr = 0xfec00000;
    cfg->ioapic_id = (uint8_t)cfg->cpus;
    cfg->pm_base = ACPI_PM_DEFAULT_BASE;
    cfg->sci_irq = 9;
    cfg->pirq_irq[0] = 10;
    cfg->pirq_irq[1] = 10;
    cfg->pirq_irq[2] = 11;
    cfg->pirq_irq[3] = 11;
    cfg->pci_mem_start = ram_below_4g;
    cfg->pci_mem_end = 0xfec00000;
}

int acpi_build(struct acpi_build *out, const struct acpi_config *cfg)
{
    struct buf b = {0}, l = {0};
    memset(out, 0, sizeof(*out));

    /* FACS first: it must be 64-byte aligned and the blob is allocated with that alignment. */
    uint32_t facs = b.len;
    put(&b, "FACS", 4);
    put_le(&b, 64, 4);
    put(&b, NULL, 24);
    put8(&b, 1);                                   /* version */
    put(&b, NULL, 64 - 33);

    uint32_t dsdt = table_begin(&b, "DSDT", 1);
    build_dsdt_aml(&b, cfg);
    table_end(&b, dsdt);
    uint32_t dsdt_len = b.len - dsdt;

    /* FADT revision 3 (244 bytes). */
    uint16_t pm = cfg->pm_base;
    uint32_t fadt = table_begin(&b, "FACP", 3);
    put_le(&b, facs, 4);                           /* FIRMWARE_CTRL (patched) */
    put_le(&b, dsdt, 4);                           /* DSDT (patched) */
    put8(&b, 0);                                   /* reserved (ACPI 1.0 INT_MODEL) */
    put8(&b, 0);                                   /* preferred PM profile: unspecified */
    put_le(&b, cfg->sci_irq, 2);
    put_le(&b, 0xb2, 4);                           /* SMI_CMD */
    put8(&b, 0xf1);                                /* ACPI_ENABLE */
    put8(&b, 0xf0);                                /* ACPI_DISABLE */
    put8(&b, 0);                                   /* S4BIOS_REQ */
    put8(&b, 0);                                   /* PSTATE_CNT */
    put_le(&b, pm + 0x00, 4);                      /* PM1a_EVT_BLK */
    put_le(&b, 0, 4);                              /* PM1b_EVT_BLK */
    put_le(&b, pm + 0x04, 4);                      /* PM1a_CNT_BLK */
    put_le(&b, 0, 4);                              /* PM1b_CNT_BLK */
    put_le(&b, 0, 4);                              /* PM2_CNT_BLK */
    put_le(&b, pm + 0x08, 4);                      /* PM_TMR_BLK */
    put_le(&b, pm + 0x0c, 4);                      /* GPE0_BLK */
    put_le(&b, 0, 4);                              /* GPE1_BLK */
    put8(&b, 4);                                   /* PM1_EVT_LEN */
    put8(&b, 2);                                   /* PM1_CNT_LEN */
    put8(&b, 0);                                   /* PM2_CNT_LEN */
    put8(&b, 4);                                   /* PM_TMR_LEN */
    put8(&b, 4);                                   /* GPE0_BLK_LEN */
    put8(&b, 0);                                   /* GPE1_BLK_LEN */
    put8(&b, 0);                                   /* GPE1_BASE */
    put8(&b, 0);                                   /* CST_CNT */
    put_le(&b, 0xfff, 2);                          /* P_LVL2_LAT: C2 unsupported */
    put_le(&b, 0xffff, 2);                         /* P_LVL3_LAT: C3 unsupported */
    put_le(&b, 0, 2);                              /* FLUSH_SIZE */
    put_le(&b, 0, 2);                              /* FLUSH_STRIDE */
    put8(&b, 0);                                   /* DUTY_OFFSET */
    put8(&b, 0);                                   /* DUTY_WIDTH */
    put8(&b, 0);                                   /* DAY_ALRM */
    put8(&b, 0);                                   /* MON_ALRM */
    put8(&b, 0x32);                                /* CENTURY (CMOS index) */
    put_le(&b, 0x0003, 2);                         /* IAPC_BOOT_ARCH: legacy devices, 8042 */
    put8(&b, 0);
    /* WBINVD, PROC_C1, SLP_BUTTON (none), RTC_S4, RESET_REG_SUP, USE_PLATFORM_CLOCK. */
    put_le(&b, 1u << 0 | 1u << 2 | 1u << 5 | 1u << 7 | 1u << 10 | 1u << 15, 4);
    put_gas(&b, 1, 8, 0, 0xcf9);                   /* RESET_REG */
    put8(&b, 0x06);                                /* RESET_VALUE */
    put(&b, NULL, 3);
    put_le(&b, 0, 8);                              /* X_FIRMWARE_CTRL: the 32-bit field is used */
    put_le(&b, 0, 8);                              /* X_DSDT: likewise */
    put_gas(&b, 1, 32, 0, pm + 0x00);              /* X_PM1a_EVT_BLK */
    put_gas(&b, 0, 0, 0, 0);
    put_gas(&b, 1, 16, 0, pm + 0x04);              /* X_PM1a_CNT_BLK */
    put_gas(&b, 0, 0, 0, 0);
    put_gas(&b, 0, 0, 0, 0);                       /* X_PM2_CNT_BLK */
    put_gas(&b, 1, 32, 0, pm + 0x08);              /* X_PM_TMR_BLK */
    put_gas(&b, 1, 32, 0, pm + 0x0c);              /* X_GPE0_BLK */
    put_gas(&b, 0, 0, 0, 0);
    table_end(&b, fadt);

    /* MADT. */
    uint32_t madt = table_begin(&b, "APIC", 1);
    put_le(&b, cfg->lapic_addr, 4);
    put_le(&b, 1, 4);                              /* PCAT_COMPAT: dual 8259s present */
    unsigned possible = cfg->max_cpus > cfg->cpus ? cfg->max_cpus : cfg->cpus;
    for (unsigned i = 0; i < possible; i++) {
        uint8_t id = cfg->apic_ids ? cfg->apic_ids[i] : (uint8_t)i;
        put8(&b, 0); put8(&b, 8); put8(&b, (uint8_t)i); put8(&b, id);
        put_le(&b, i < cfg->cpus ? 1 : 0, 4);      /* enabled, or hot-pluggable later */
    }
    put8(&b, 1); put8(&b, 12); put8(&b, cfg->ioapic_id); put8(&b, 0);
    put_le(&b, cfg->ioapic_addr, 4);
    put_le(&b, 0, 4);                              /* GSI base */
    /* IRQ0 -> GSI 2; the SCI and PCI IRQs are level, active high (as on QEMU's pc). */
    put8(&b, 2); put8(&b, 10); put8(&b, 0); put8(&b, 0); put_le(&b, 2, 4); put_le(&b, 0, 2);
    uint16_t level_irqs = (uint16_t)(1u << (cfg->sci_irq & 15));
    for (int i = 0; i < 4; i++)
        level_irqs |= (uint16_t)(1u << (cfg->pirq_irq[i] & 15));
    for (unsigned i = 0; i < sizeof(link_irqs); i++)
        level_irqs |= (uint16_t)(1u << link_irqs[i]);
    for (unsigned irq = 1; irq < 16; irq++) {
        if (!(level_irqs & (1u << irq)) || irq == 2)
            continue;
        put8(&b, 2); put8(&b, 10); put8(&b, 0); put8(&b, (uint8_t)irq);
        put_le(&b, irq, 4);
        put_le(&b, 0x000d, 2);                     /* polarity 01 high, trigger 11 level */
    }
    /* NMI on LINT1 of every processor. */
    put8(&b, 4); put8(&b, 6); put8(&b, 0xff); put_le(&b, 0, 2); put8(&b, 1);
    table_end(&b, madt);
    uint32_t madt_len = b.len - madt;

    uint32_t rsdt = table_begin(&b, "RSDT", 1);
    put_le(&b, fadt, 4);
    put_le(&b, madt, 4);
    table_end(&b, rsdt);

    /* RSDP (ACPI 1.0 form: 20 bytes, RSDT only). */
    memcpy(out->rsdp, "RSD PTR ", 8);
    out->rsdp[8] = 0;
    memcpy(out->rsdp + 9, "PCVM  ", 6);
    out->rsdp[15] = 0;
    set_le(out->rsdp + 16, rsdt, 4);
    out->rsdp[8] = acpi_checksum(out->rsdp, ACPI_RSDP_SIZE);

    /* Loader script: allocate, patch pointers, then fix checksums. */
    loader_allocate(&l, ACPI_FILE_RSDP, 16, ACPI_LOADER_ZONE_FSEG);
    loader_allocate(&l, ACPI_FILE_TABLES, 64, ACPI_LOADER_ZONE_HIGH);
    loader_add_pointer(&l, ACPI_FILE_TABLES, ACPI_FILE_TABLES, fadt + 36, 4);
    loader_add_pointer(&l, ACPI_FILE_TABLES, ACPI_FILE_TABLES, fadt + 40, 4);
    loader_add_checksum(&l, ACPI_FILE_TABLES, fadt + 9, fadt, 244);
    loader_add_checksum(&l, ACPI_FILE_TABLES, dsdt + 9, dsdt, dsdt_len);
    loader_add_checksum(&l, ACPI_FILE_TABLES, madt + 9, madt, madt_len);
    loader_add_pointer(&l, ACPI_FILE_TABLES, ACPI_FILE_TABLES, rsdt + 36, 4);
    loader_add_pointer(&l, ACPI_FILE_TABLES, ACPI_FILE_TABLES, rsdt + 40, 4);
    loader_add_checksum(&l, ACPI_FILE_TABLES, rsdt + 9, rsdt, 44);
    loader_add_pointer(&l, ACPI_FILE_RSDP, ACPI_FILE_TABLES, 16, 4);
    loader_add_checksum(&l, ACPI_FILE_RSDP, 8, 0, ACPI_RSDP_SIZE);

    if (b.oom || l.oom) {
        buf_free(&b);
        buf_free(&l);
        return -1;
    }
    out->tables = b.p;
    out->tables_len = b.len;
    out->loader = l.p;
    out->loader_len = l.len;
    out->facs_off = facs;
    out->dsdt_off = dsdt;
    out->dsdt_len = dsdt_len;
    out->fadt_off = fadt;
    out->madt_off = madt;
    out->rsdt_off = rsdt;
    return 0;
}

void acpi_build_free(struct acpi_build *b)
{
    free(b->tables);
    free(b->loader);
    memset(b, 0, sizeof(*b));
}

int acpi_add_to_fw_cfg(struct fw_cfg *fw, const struct acpi_config *cfg)
{
    struct acpi_build b;
    if (acpi_build(&b, cfg) < 0)
        return -1;
    int rc = 0;
    rc |= fw_cfg_add_file(fw, ACPI_FILE_TABLES, b.tables, b.tables_len) < 0;
    rc |= fw_cfg_add_file(fw, ACPI_FILE_RSDP, b.rsdp, ACPI_RSDP_SIZE) < 0;
    rc |= fw_cfg_add_file(fw, ACPI_FILE_LOADER, b.loader, b.loader_len) < 0;
    acpi_build_free(&b);
    return rc ? -1 : 0;
}

int acpi_loader_run(const uint8_t *loader, uint32_t loader_len, uint8_t *tables, uint32_t tables_len,
                    uint32_t tables_addr, uint8_t *rsdp, uint32_t rsdp_addr)
{
    struct { const char *name; uint8_t *data; uint32_t len, addr; } files[2] = {
        { ACPI_FILE_TABLES, tables, tables_len, tables_addr },
        { ACPI_FILE_RSDP, rsdp, ACPI_RSDP_SIZE, rsdp_addr },
    };
    for (uint32_t pos = 0; pos + ACPI_LOADER_ENTRY_SIZE <= loader_len; pos += ACPI_LOADER_ENTRY_SIZE) {
        const uint8_t *e = loader + pos;
        uint32_t cmd = (uint32_t)get_le(e, 4);
        const char *f1 = (const char *)e + 4, *f2 = (const char *)e + 60;
        int a = -1, c = -1;
        for (int i = 0; i < 2; i++) {
            if (strncmp(f1, files[i].name, ACPI_LOADER_FILESZ) == 0)
                a = i;
            if (strncmp(f2, files[i].name, ACPI_LOADER_FILESZ) == 0)
                c = i;
        }
        if (cmd == ACPI_LOADER_ALLOCATE) {
            if (a < 0)
                return -1;
        } else if (cmd == ACPI_LOADER_ADD_POINTER) {
            uint32_t off = (uint32_t)get_le(e + 116, 4);
            unsigned size = e[120];
            if (a < 0 || c < 0 || (size != 1 && size != 2 && size != 4 && size != 8) ||
                off > files[a].len || files[a].len - off < size)
                return -1;
            uint64_t v = get_le(files[a].data + off, size) + files[c].addr;
            set_le(files[a].data + off, v, size);
        } else if (cmd == ACPI_LOADER_ADD_CHECKSUM) {
            uint32_t off = (uint32_t)get_le(e + 60, 4), start = (uint32_t)get_le(e + 64, 4),
                     len = (uint32_t)get_le(e + 68, 4);
            if (a < 0 || off >= files[a].len || start > files[a].len || files[a].len - start < len)
                return -1;
            files[a].data[off] = (uint8_t)(files[a].data[off] + acpi_checksum(files[a].data + start, len));
        } else if (cmd != 0) {
            return -1;
        }
    }
    return 0;
}

uint32_t acpi_write_tables(struct phys_mem *mem, const struct acpi_config *cfg, uint32_t tables_addr,
                           uint32_t rsdp_addr)
{
    struct acpi_build b;
    if (acpi_build(&b, cfg) < 0)
        return 0;
    uint32_t used = 0;
    if (acpi_loader_run(b.loader, b.loader_len, b.tables, b.tables_len, tables_addr, b.rsdp, rsdp_addr) == 0) {
        phys_write_block(mem, tables_addr, b.tables, b.tables_len);
        phys_write_block(mem, rsdp_addr, b.rsdp, ACPI_RSDP_SIZE);
        used = b.tables_len;
    }
    acpi_build_free(&b);
    return used;
}

/* libFuzzer target: the mux behind mon:stdio and -nographic, and its Ctrl-A escapes.  Up to four
 * recording front ends share a recording back end; the input is fed in chunks (some through the
 * back end's front-end callback, as the main loop does) and compared with a model of the
 * documented behaviour: C-a a and C-a C-a send one C-a to the focused front end, C-a c moves the
 * focus to the next front end (and calls both focus handlers), C-a h and C-a ? print the help on
 * the back end, C-a x prints "terminated" (and would stop the main loop), any other byte after
 * C-a is swallowed, every other byte goes to the front end with the focus.
 * Sources: src/chardev/[a-z]*.c src/cli/kvlist.c src/util/mainloop.c -lutil -lpthread */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "chardev/chardev_fd.h"
#include "chardev/chardev_mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 8192

struct recorder {
    uint8_t got[MAX_IN];
    size_t len;
    unsigned focus_gained, focus_lost;
};

struct backend_out {
    size_t bytes;
    unsigned helps, terminated;
};

static void be_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct backend_out *o = chr->priv;
    /* Messages are written whole, so they can be counted per write. */
    if (len >= 6 && memmem(buf, len, "C-a h", 5))
        o->helps++;
    if (memmem(buf, len, "terminated", 10))
        o->terminated++;
    o->bytes += len;
}

static void be_close(struct chardev *chr)
{
    chr->priv = NULL;
}

static const struct chardev_ops be_ops = { .write = be_write, .close = be_close };

static size_t fe_can_read(void *opaque)
{
    (void)opaque;
    return MAX_IN;
}

static void fe_read(void *opaque, const uint8_t *buf, size_t len)
{
    struct recorder *r = opaque;
    if (r->len + len > MAX_IN) {
        fprintf(stderr, "a front end got more bytes than were typed\n");
        abort();
    }
    memcpy(r->got + r->len, buf, len);
    r->len += len;
}

static void on_focus(void *opaque, bool focused)
{
    struct recorder *r = opaque;
    if (focused)
        r->focus_gained++;
    else
        r->focus_lost++;
}

/* The model: what each front end should have received. */
struct model {
    struct recorder fe[MUX_MAX_FRONTENDS];
    unsigned n, focus, helps, terminated;
    bool escape;
};

static void model_byte(struct model *m, uint8_t ch)
{
    if (!m->escape) {
        if (ch == MUX_ESCAPE_CHAR)
            m->escape = true;
        else
            m->fe[m->focus].got[m->fe[m->focus].len++] = ch;
        return;
    }
    m->escape = false;
    switch (ch) {
    case MUX_ESCAPE_CHAR:
    case 'a':
        m->fe[m->focus].got[m->fe[m->focus].len++] = MUX_ESCAPE_CHAR;
        break;
    case 'c':
        if (m->n >= 2) {
            m->fe[m->focus].focus_lost++;
            m->focus = (m->focus + 1) % m->n;
            m->fe[m->focus].focus_gained++;
        }
        break;
    case 'h':
    case '?':
        m->helps++;
        break;
    case 'x':
        m->terminated++;
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_IN)
        return 0;
    /* First byte: number of front ends (1..4) and the chunk size. */
    unsigned n = 1 + (data[0] & 3);
    size_t chunk = 1 + (data[0] >> 2);
    data++;
    size--;

    struct recorder *rec = calloc(MUX_MAX_FRONTENDS, sizeof(*rec));
    struct model *model = calloc(1, sizeof(*model));
    struct chardev *be = calloc(1, sizeof(*be));
    if (!rec || !model || !be)
        abort();
    model->n = n;
    struct backend_out out = { 0 };
    snprintf(be->label, sizeof(be->label), "fuzz");
    be->ops = &be_ops;
    be->priv = &out;
    struct chardev *mux = chardev_mux_open(be, NULL);
    if (!chardev_is_mux(mux)) {
        fprintf(stderr, "chardev_mux_open did not make a mux\n");
        abort();
    }
    struct chardev *first = NULL;
    for (unsigned i = 0; i < n; i++) {
        char label[16];
        snprintf(label, sizeof(label), "fe%u", i);
        struct chardev *fe = chardev_mux_frontend(mux, label);
        if (!fe || !chardev_is_mux_frontend(fe)) {
            fprintf(stderr, "front end %u refused\n", i);
            abort();
        }
        if (!first)
            first = fe;
        chardev_attach(fe, fe_can_read, fe_read, &rec[i]);
        chardev_mux_set_focus_handler(fe, on_focus, &rec[i]);
    }
    if (n == MUX_MAX_FRONTENDS && chardev_mux_frontend(mux, "one too many")) {
        fprintf(stderr, "a fifth front end was accepted\n");
        abort();
    }

    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        if (((off / chunk) & 1) && be->fe_read)
            be->fe_read(be->fe_opaque, data + off, len);
        else
            chardev_mux_input(mux, data + off, len);
    }
    for (size_t i = 0; i < size; i++)
        model_byte(model, data[i]);

    for (unsigned i = 0; i < n; i++) {
        if (rec[i].len != model->fe[i].len || memcmp(rec[i].got, model->fe[i].got, rec[i].len)) {
            fprintf(stderr, "front end %u got %zu bytes, expected %zu (or different bytes)\n", i,
                    rec[i].len, model->fe[i].len);
            abort();
        }
        if (rec[i].focus_gained != model->fe[i].focus_gained ||
            rec[i].focus_lost != model->fe[i].focus_lost) {
            fprintf(stderr, "front end %u focus events %u/%u, expected %u/%u\n", i,
                    rec[i].focus_gained, rec[i].focus_lost, model->fe[i].focus_gained,
                    model->fe[i].focus_lost);
            abort();
        }
    }
    if (chardev_mux_focus(mux) != model->focus) {
        fprintf(stderr, "focus on %u, expected %u\n", chardev_mux_focus(mux), model->focus);
        abort();
    }
    if (out.helps != model->helps || out.terminated != model->terminated) {
        fprintf(stderr, "help printed %u times (expected %u), terminated %u (expected %u)\n",
                out.helps, model->helps, out.terminated, model->terminated);
        abort();
    }
    /* Guest output through a front end reaches the back end unchanged in length. */
    size_t before = out.bytes;
    chardev_write(first, (const uint8_t *)"ok\n", 3);
    if (out.bytes != before + 3) {
        fprintf(stderr, "mux write lost bytes\n");
        abort();
    }
    chardev_close(mux);
    free(rec);
    free(model);
    return 0;
}

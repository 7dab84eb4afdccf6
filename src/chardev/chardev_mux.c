/* Mux: front ends share one back end, Ctrl-A escapes as QEMU users know them. */
#include "chardev/chardev_mux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev_fd.h"
#include "util/mainloop.h"

struct mux_frontend {
    struct chardev chr;       /* what the device sees */
    struct mux *mux;
    mux_focus_fn focus_fn;
    void *focus_opaque;
};

struct mux {
    struct chardev_impl impl;
    struct chardev *self;
    struct chardev *backend;
    struct mainloop *ml;
    struct mux_frontend *fe[MUX_MAX_FRONTENDS];
    unsigned n_fe;
    unsigned focus;
    bool got_escape;
};

static const char mux_help[] =
    "\r\n"
    "C-a h    print this help\r\n"
    "C-a x    exit emulator\r\n"
    "C-a c    switch between console and monitor\r\n"
    "C-a a    sends C-a\r\n"
    "C-a C-a  sends C-a\r\n";

static void mux_out(struct mux *m, const char *s)
{
    chardev_write(m->backend, (const uint8_t *)s, strlen(s));
}

static void fe_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct mux_frontend *fe = (struct mux_frontend *)chr;
    chardev_write(fe->mux->backend, buf, len);
}

static void fe_close(struct chardev *chr)
{
    (void)chr;   /* front ends live as long as their mux */
}

static const struct chardev_ops fe_ops = { .write = fe_write, .close = fe_close };

static size_t mux_can_read(void *opaque)
{
    struct mux *m = opaque;
    if (!m->n_fe)
        return 4096;   /* nobody attached yet: consume (escapes still work) */
    struct chardev *fc = &m->fe[m->focus]->chr;
    if (!fc->fe_read)
        return 4096;
    return fc->fe_can_read ? fc->fe_can_read(fc->fe_opaque) : 4096;
}

static void deliver(struct mux *m, const uint8_t *buf, size_t len)
{
    if (!len || !m->n_fe)
        return;
    struct chardev *fc = &m->fe[m->focus]->chr;
    if (fc->fe_read)
        fc->fe_read(fc->fe_opaque, buf, len);
}

static void switch_focus(struct mux *m)
{
    if (m->n_fe < 2)
        return;
    struct mux_frontend *old = m->fe[m->focus];
    m->focus = (m->focus + 1) % m->n_fe;
    struct mux_frontend *now = m->fe[m->focus];
    if (old->focus_fn)
        old->focus_fn(old->focus_opaque, false);
    if (now->focus_fn)
        now->focus_fn(now->focus_opaque, true);
}

void chardev_mux_input(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct mux *m = chr->priv;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = buf[i];
        if (!m->got_escape) {
            if (ch == MUX_ESCAPE_CHAR) {
                deliver(m, buf + start, i - start);
                start = i + 1;
                m->got_escape = true;
            }
            continue;
        }
        /* The byte after Ctrl-A is a command, never guest input. */
        m->got_escape = false;
        deliver(m, buf + start, i - start);
        start = i + 1;
        static const uint8_t ctrl_a = MUX_ESCAPE_CHAR;
        switch (ch) {
        case MUX_ESCAPE_CHAR:
        case 'a':
            deliver(m, &ctrl_a, 1);
            break;
        case 'x':
            mux_out(m, "pcvm: terminated\r\n");
            chardev_flush(m->backend);
            if (m->ml)
                mainloop_request_exit(m->ml, 0);
            break;
        case 'h':
        case '?':
            mux_out(m, mux_help);
            break;
        case 'c':
            switch_focus(m);
            break;
        default:
            break;   /* unknown escapes are swallowed, as in QEMU */
        }
    }
    deliver(m, buf + start, len - start);
}

static void mux_read(void *opaque, const uint8_t *buf, size_t len)
{
    struct mux *m = opaque;
    chardev_mux_input(m->self, buf, len);
}

static void mux_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct mux *m = chr->priv;
    chardev_write(m->backend, buf, len);
}

static void mux_flush(struct chardev *chr)
{
    struct mux *m = chr->priv;
    chardev_flush(m->backend);
}

static void mux_close(struct chardev *chr)
{
    struct mux *m = chr->priv;
    chardev_close(m->backend);
    for (unsigned i = 0; i < m->n_fe; i++)
        free(m->fe[i]);
    free(m);
    chr->priv = NULL;
}

static const struct chardev_ops mux_ops = { .write = mux_write, .close = mux_close };

struct chardev *chardev_mux_open(struct chardev *backend, struct mainloop *ml)
{
    struct chardev *chr = calloc(1, sizeof(*chr));
    struct mux *m = calloc(1, sizeof(*m));
    if (!chr || !m)
        abort();
    memcpy(chr->label, backend->label, sizeof(chr->label));
    chr->ops = &mux_ops;
    chr->priv = m;
    m->impl.flush = mux_flush;
    m->self = chr;
    m->backend = backend;
    m->ml = ml;
    chardev_attach(backend, mux_can_read, mux_read, m);
    return chr;
}

bool chardev_is_mux(const struct chardev *chr)
{
    return chr && chr->ops == &mux_ops;
}

struct chardev *chardev_mux_frontend(struct chardev *chr, const char *label)
{
    if (!chardev_is_mux(chr))
        return NULL;
    struct mux *m = chr->priv;
    if (m->n_fe >= MUX_MAX_FRONTENDS)
        return NULL;
    struct mux_frontend *fe = calloc(1, sizeof(*fe));
    if (!fe)
        abort();
    snprintf(fe->chr.label, sizeof(fe->chr.label), "%s", label ? label : "");
    fe->chr.ops = &fe_ops;
    fe->chr.priv = NULL;
    fe->mux = m;
    m->fe[m->n_fe++] = fe;
    return &fe->chr;
}

void chardev_mux_set_focus_handler(struct chardev *frontend, mux_focus_fn fn, void *opaque)
{
    if (!frontend || frontend->ops != &fe_ops)
        return;
    struct mux_frontend *fe = (struct mux_frontend *)frontend;
    fe->focus_fn = fn;
    fe->focus_opaque = opaque;
}

bool chardev_is_mux_frontend(const struct chardev *chr)
{
    return chr && chr->ops == &fe_ops;
}

struct chardev *chardev_underlying(struct chardev *chr)
{
    if (chardev_is_mux_frontend(chr))
        return ((struct mux_frontend *)chr)->mux->backend;
    if (chardev_is_mux(chr))
        return ((struct mux *)chr->priv)->backend;
    return chr;
}

unsigned chardev_mux_focus(const struct chardev *chr)
{
    const struct mux *m = chr->priv;
    return m->focus;
}

/* Front ends have no priv: flush goes to their mux's back end. */
void chardev_flush(struct chardev *chr)
{
    if (!chr)
        return;
    if (chr->ops == &fe_ops) {
        chardev_flush(((struct mux_frontend *)chr)->mux->backend);
        return;
    }
    /* priv is a chardev_impl only for our own back ends (devices may make chardevs too) */
    const struct chardev_ops *ours[] = { &mux_ops, &chardev_stdio_ops, &chardev_pty_ops,
                                         &chardev_file_ops, &chardev_socket_ops,
                                         &chardev_null_ops };
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        if (chr->ops == ours[i]) {
            struct chardev_impl *impl = chr->priv;
            if (impl && impl->flush)
                impl->flush(chr);
            return;
        }
    }
}

void chardev_close(struct chardev *chr)
{
    if (!chr || chr->ops == &fe_ops)
        return;
    if (chr->ops && chr->ops->close)
        chr->ops->close(chr);
    free(chr);
}

/* The vc back end: output into a character grid a display draws, typed keys back as input. */
#include "chardev/chardev_vc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev_fd.h"

enum { ESC_NONE, ESC_START, ESC_CSI };

struct vc_state {
    struct chardev_impl impl;   /* first: chardev_flush() looks here */
    pthread_mutex_t lock;       /* guest output may come from a vCPU thread, drawing from the loop */
    int cols, rows;
    uint8_t *grid;
    int cx, cy;
    unsigned generation;
    int esc;
    int csi_param;
    uint8_t *history;           /* VC_HISTORY lines scrolled off the top, a ring */
    int hist_count, hist_next;
    int view_back;              /* lines scrolled back in the view (0: the live screen) */
};

static void vc_flush(struct chardev *chr)
{
    (void)chr;
}

static void scroll_up(struct vc_state *s)
{
    memcpy(s->history + (size_t)s->hist_next * (size_t)s->cols, s->grid, (size_t)s->cols);
    s->hist_next = (s->hist_next + 1) % VC_HISTORY;
    if (s->hist_count < VC_HISTORY)
        s->hist_count++;
    if (s->view_back && s->view_back < s->hist_count)
        s->view_back++;      /* a view scrolled back keeps showing the same lines */
    memmove(s->grid, s->grid + s->cols, (size_t)s->cols * (size_t)(s->rows - 1));
    memset(s->grid + (size_t)s->cols * (size_t)(s->rows - 1), ' ', (size_t)s->cols);
}

static void newline(struct vc_state *s)
{
    if (s->cy + 1 < s->rows)
        s->cy++;
    else
        scroll_up(s);
}

/* The final byte of ESC [ n X: erase in line and in display are kept, the rest (colors,
 * cursor keys echoed back) is read and ignored. */
static void csi_final(struct vc_state *s, uint8_t c)
{
    size_t row = (size_t)s->cy * (size_t)s->cols;
    switch (c) {
    case 'K':
        if (s->csi_param == 0)
            memset(s->grid + row + s->cx, ' ', (size_t)(s->cols - s->cx));
        else if (s->csi_param == 2)
            memset(s->grid + row, ' ', (size_t)s->cols);
        break;
    case 'J':
        if (s->csi_param == 2) {
            memset(s->grid, ' ', (size_t)s->cols * (size_t)s->rows);
            s->cx = s->cy = 0;
        }
        break;
    case 'H':
        if (s->csi_param == 0)
            s->cx = s->cy = 0;
        break;
    default:
        break;
    }
}

static void put_byte(struct vc_state *s, uint8_t c)
{
    if (s->esc == ESC_START) {
        s->esc = c == '[' ? ESC_CSI : ESC_NONE;
        s->csi_param = 0;
        return;
    }
    if (s->esc == ESC_CSI) {
        if (c >= '0' && c <= '9') {
            if (s->csi_param < 10000)
                s->csi_param = s->csi_param * 10 + (c - '0');
        } else if (c >= 0x40 && c <= 0x7e) {
            csi_final(s, c);
            s->esc = ESC_NONE;
        } else if (c != ';' && c != '?') {
            s->esc = ESC_NONE;
        }
        return;
    }
    switch (c) {
    case 0x1b:
        s->esc = ESC_START;
        return;
    case '\r':
        s->cx = 0;
        return;
    case '\n':
        newline(s);
        return;
    case '\b':
        if (s->cx > 0)
            s->cx--;
        return;
    case '\t':
        s->cx = (s->cx + 8) & ~7;
        if (s->cx >= s->cols)
            s->cx = s->cols - 1;
        return;
    default:
        break;
    }
    if (c < 0x20 || c == 0x7f)
        return;
    if (s->cx >= s->cols) {
        s->cx = 0;
        newline(s);
    }
    s->grid[(size_t)s->cy * (size_t)s->cols + (size_t)s->cx++] = c;
}

static void vc_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct vc_state *s = chr->priv;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < len; i++)
        put_byte(s, buf[i]);
    s->generation++;
    pthread_mutex_unlock(&s->lock);
}

static void vc_close(struct chardev *chr)
{
    struct vc_state *s = chr->priv;
    pthread_mutex_destroy(&s->lock);
    free(s->history);
    free(s->grid);
    free(s);
    chr->priv = NULL;
}

static const struct chardev_ops chardev_vc_ops = { .write = vc_write, .close = vc_close };

struct chardev *chardev_vc_open(const char *label, int cols, int rows)
{
    if (cols < 1 || cols > VC_MAX_COLS)
        cols = cols < 1 ? 1 : VC_MAX_COLS;
    if (rows < 1 || rows > VC_MAX_ROWS)
        rows = rows < 1 ? 1 : VC_MAX_ROWS;
    struct chardev *chr = calloc(1, sizeof(*chr));
    struct vc_state *s = calloc(1, sizeof(*s));
    uint8_t *grid = malloc((size_t)cols * (size_t)rows);
    uint8_t *history = malloc((size_t)cols * VC_HISTORY);
    if (!chr || !s || !grid || !history)
        abort();
    s->history = history;
    memset(grid, ' ', (size_t)cols * (size_t)rows);
    s->impl.flush = vc_flush;
    pthread_mutex_init(&s->lock, NULL);
    s->cols = cols;
    s->rows = rows;
    s->grid = grid;
    snprintf(chr->label, sizeof(chr->label), "%s", label ? label : "");
    chr->ops = &chardev_vc_ops;
    chr->priv = s;
    return chr;
}

bool chardev_is_vc(const struct chardev *chr)
{
    return chr && chr->ops == &chardev_vc_ops;
}

/* The view's state; s->lock held. */
static void fill_view(const struct vc_state *s, struct vc_view *view)
{
    view->cols = s->cols;
    view->rows = s->rows;
    view->cursor_x = s->cx < s->cols ? s->cx : s->cols - 1;
    view->cursor_y = s->view_back ? -1 : s->cy;    /* scrolled back: no cursor */
    view->generation = s->generation;
    view->back = s->view_back;
}

bool chardev_vc_peek(struct chardev *chr, struct vc_view *view)
{
    if (!chardev_is_vc(chr))
        return false;
    struct vc_state *s = chr->priv;
    pthread_mutex_lock(&s->lock);
    fill_view(s, view);
    pthread_mutex_unlock(&s->lock);
    return true;
}

bool chardev_vc_read(struct chardev *chr, struct vc_view *view, uint8_t *out, size_t cap)
{
    if (!chardev_is_vc(chr))
        return false;
    struct vc_state *s = chr->priv;
    pthread_mutex_lock(&s->lock);
    size_t cols = (size_t)s->cols;
    for (int r = 0; r < s->rows && (size_t)(r + 1) * cols <= cap; r++) {
        /* Line r of the view: history lines first when scrolled back, then the screen. */
        int line = s->hist_count - s->view_back + r;
        const uint8_t *src;
        if (line < s->hist_count)
            src = s->history + (size_t)((s->hist_next - s->hist_count + line + VC_HISTORY) % VC_HISTORY) * cols;
        else
            src = s->grid + (size_t)(line - s->hist_count) * cols;
        memcpy(out + (size_t)r * cols, src, cols);
    }
    fill_view(s, view);
    pthread_mutex_unlock(&s->lock);
    return true;
}

void chardev_vc_scroll(struct chardev *chr, int lines)
{
    if (!chardev_is_vc(chr))
        return;
    struct vc_state *s = chr->priv;
    pthread_mutex_lock(&s->lock);
    int back = s->view_back + lines;
    back = back < 0 ? 0 : back > s->hist_count ? s->hist_count : back;
    if (back != s->view_back) {
        s->view_back = back;
        s->generation++;
    }
    pthread_mutex_unlock(&s->lock);
}

void chardev_vc_input(struct chardev *chr, const uint8_t *buf, size_t len)
{
    if (!chardev_is_vc(chr) || !chr->fe_read)
        return;
    size_t room = chr->fe_can_read ? chr->fe_can_read(chr->fe_opaque) : len;
    if (room < len)
        len = room;   /* the front end is busy: what does not fit is lost, as on a real line */
    if (len)
        chr->fe_read(chr->fe_opaque, buf, len);
}

/* The display core: refresh timer, changed-line bookkeeping per front end, input queue. */
#include "ui/display.h"

#include "chardev/chardev_vc.h"
#include "ui/display_console.h"

#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The picture shown without a VGA (-vga none). */
#define BLANK_WIDTH 640
#define BLANK_HEIGHT 480

/* The picture front end f shows: the guest's or its console's. */
static struct vga_render *shown(struct display *d, struct display_frontend *f)
{
    return f->active ? &f->console_render : &d->render;
}

/* Add the changed lines of r (rc as vga_render_update returns) to f's pending lines. */
static void add_pending(struct display_frontend *f, const struct vga_render *r, int rc)
{
    if (rc <= 0)
        return;
    if (rc == 2) {
        f->resized_pending = true;
        return;
    }
    int y0 = r->surf.height, y1 = 0;
    for (int y = 0; y < r->surf.height; y++)
        if (r->line_dirty[y]) {
            if (y < y0)
                y0 = y;
            y1 = y + 1;
        }
    if (f->pending_y0 >= f->pending_y1) {
        f->pending_y0 = y0;
        f->pending_y1 = y1;
    } else {
        if (y0 < f->pending_y0)
            f->pending_y0 = y0;
        if (y1 > f->pending_y1)
            f->pending_y1 = y1;
    }
}

/* Render the guest's screen and add what changed to the front ends that show it. */
static void render_guest(struct display *d, bool force)
{
    int rc = d->vga ? vga_render_update(&d->render, d->vga, host_monotonic_ns(), force)
                    : vga_render_blank(&d->render, BLANK_WIDTH, BLANK_HEIGHT);
    for (unsigned i = 0; i < d->n_frontends; i++)
        if (!d->frontends[i].active)
            add_pending(&d->frontends[i], &d->render, rc);
}

/* Render what changed for every front end: the guest's screen once (when someone shows it),
 * each console shown into its front end's own picture. */
static void display_render(struct display *d, bool force)
{
    bool guest_shown = !d->n_frontends;
    for (unsigned i = 0; i < d->n_frontends; i++) {
        struct display_frontend *f = &d->frontends[i];
        if (!f->active) {
            guest_shown = true;
            continue;
        }
        int rc = console_render(&f->console_render, d->consoles[f->active - 1],
                                d->console_font_loaded ? d->console_font : NULL, &f->console_drawn,
                                force);
        add_pending(f, &f->console_render, rc);
    }
    if (guest_shown)
        render_guest(d, force);
}

/* Offer every front end its pending lines. */
static void display_push(struct display *d)
{
    for (unsigned i = 0; i < d->n_frontends; i++) {
        struct display_frontend *f = &d->frontends[i];
        const struct display_surface *s = &shown(d, f)->surf;
        if (!s->pixels)
            continue;
        if (!f->resized_pending && f->pending_y0 >= f->pending_y1)
            continue;
        int y0 = f->pending_y0 < 0 ? 0 : f->pending_y0;
        int y1 = f->pending_y1 > s->height ? s->height : f->pending_y1;
        if (!f->resized_pending && y0 >= y1) {
            f->pending_y0 = f->pending_y1 = 0;
            continue;
        }
        if (f->ops->publish(f->opaque, s, f->resized_pending, y0, y1)) {
            f->resized_pending = false;
            f->pending_y0 = f->pending_y1 = 0;
        }
    }
}

/* The front end whose opaque is origin, or NULL. */
static struct display_frontend *frontend_of(struct display *d, const void *origin)
{
    for (unsigned i = 0; origin && i < d->n_frontends; i++)
        if (d->frontends[i].opaque == origin)
            return &d->frontends[i];
    return NULL;
}

static bool display_watched(struct display *d)
{
    for (unsigned i = 0; i < d->n_frontends; i++)
        if (d->frontends[i].ops->watching(d->frontends[i].opaque))
            return true;
    return false;
}

static void refresh_arm(struct display *d)
{
    if (!vtimer_pending(&d->refresh))
        vtimer_mod(&d->refresh, vclock_now(d->clock) + NS_PER_SEC / DISPLAY_REFRESH_HZ);
}

/* The refresh runs only while someone watches; a new viewer restarts it. */
static void refresh_tick(void *opaque)
{
    struct display *d = opaque;
    if (!display_watched(d))
        return;
    display_render(d, false);
    display_push(d);
    refresh_arm(d);
}

void display_select_console(struct display *d, const void *origin, unsigned index)
{
    struct display_frontend *f = frontend_of(d, origin);
    if (!f || index > d->n_consoles || index == f->active)
        return;
    if (!f->active && d->kbc) {
        /* The guest saw Ctrl and Alt go down: it must see them released, as on a real
         * switch of virtual terminals. */
        if (f->ctrl_down)
            i8042_key_event(d->kbc, 0x1d, false);
        if (f->alt_down)
            i8042_key_event(d->kbc, 0x38, false);
    }
    f->active = index;
    f->console_drawn--;    /* draw the console anew */
    f->resized_pending = true;
    f->pending_y0 = f->pending_y1 = 0;
    display_render(d, true);
    display_push(d);
}

unsigned display_active_console(const struct display *d, const void *origin)
{
    for (unsigned i = 0; origin && i < d->n_frontends; i++)
        if (d->frontends[i].opaque == origin)
            return d->frontends[i].active;
    return 0;
}

int display_add_console(struct display *d, struct chardev *vc)
{
    for (unsigned i = 0; i < d->n_consoles; i++)
        if (d->consoles[i] == vc)
            return 0;   /* one vc shared by the monitor and a serial port (mon:vc) */
    if (d->n_consoles >= DISPLAY_MAX_CONSOLES || !chardev_is_vc(vc))
        return -1;
    if (!d->n_consoles)
        d->console_font_loaded = console_font_load(CONSOLE_FONT_ROM, d->console_font);
    d->consoles[d->n_consoles++] = vc;
    return 0;
}

void display_key(struct display *d, const void *origin, uint16_t code, bool down)
{
    struct display_frontend *f = frontend_of(d, origin);
    if (!f) {
        if (d->kbc)
            i8042_key_event(d->kbc, code, down);
        return;
    }
    if (code == 0x1d || code == 0xe01d)
        f->ctrl_down = down;
    else if (code == 0x38 || code == 0xe038)
        f->alt_down = down;
    else if (code == 0x2a || code == 0x36)
        f->shift_down = down;
    /* Ctrl-Alt-1..9: the guest's screen, then the consoles (QEMU's keys). */
    if (down && f->ctrl_down && f->alt_down && code >= 0x02 && code <= 0x0a) {
        display_select_console(d, origin, code - 0x02u);
        f->swallow_code = code;
        return;
    }
    if (!down && code == f->swallow_code) {
        f->swallow_code = 0;
        return;
    }
    if (f->active) {
        struct chardev *vc = d->consoles[f->active - 1];
        /* Ctrl-Up/Down one line, Ctrl-PgUp/PgDn half a screen through the history (QEMU's). */
        if (down && f->ctrl_down && (code == 0xe048 || code == 0xe050 || code == 0xe049 || code == 0xe051)) {
            struct vc_view view;
            int step = (code == 0xe049 || code == 0xe051) && chardev_vc_peek(vc, &view) ? view.rows / 2 : 1;
            chardev_vc_scroll(vc, code == 0xe048 || code == 0xe049 ? step : -step);
            return;
        }
        uint8_t bytes[4];
        size_t n = down ? console_key_bytes(code, f->shift_down, f->ctrl_down, bytes) : 0;
        if (n) {
            chardev_vc_scroll(vc, -VC_HISTORY);   /* typing shows the live screen again */
            chardev_vc_input(vc, bytes, n);
        }
        return;
    }
    if (d->kbc)
        i8042_key_event(d->kbc, code, down);
}

void display_mouse(struct display *d, int dx, int dy, int dz, uint8_t buttons)
{
    d->mouse_buttons = buttons;
    if (d->kbc)
        i8042_mouse_event(d->kbc, dx, -dy, dz, buttons);
}

static void handle_event(struct display *d, const struct display_event *ev)
{
    switch (ev->kind) {
    case DISPLAY_EV_KEY:
        display_key(d, ev->origin, ev->code, ev->down);
        break;
    case DISPLAY_EV_MOUSE:
        display_mouse(d, ev->dx, ev->dy, ev->dz, ev->buttons);
        break;
    case DISPLAY_EV_REFRESH:
        /* A new viewer gets the whole picture. */
        for (unsigned i = 0; i < d->n_frontends; i++)
            d->frontends[i].resized_pending = true;
        display_render(d, false);
        display_push(d);
        refresh_arm(d);
        break;
    case DISPLAY_EV_QUIT:
        mainloop_request_exit(d->ml, 0);
        break;
    default:
        break;
    }
}

static void on_wake(void *opaque, int fd, short revents)
{
    struct display *d = opaque;
    (void)revents;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    for (;;) {
        struct display_event batch[64];
        unsigned count = 0;
        pthread_mutex_lock(&d->queue_lock);
        while (d->queue_count && count < 64) {
            batch[count++] = d->queue[d->queue_head];
            d->queue_head = (d->queue_head + 1) % DISPLAY_EVENT_QUEUE;
            d->queue_count--;
        }
        pthread_mutex_unlock(&d->queue_lock);
        if (!count)
            break;
        for (unsigned i = 0; i < count; i++)
            handle_event(d, &batch[i]);
    }
}

void display_post_event(struct display *d, const struct display_event *ev)
{
    pthread_mutex_lock(&d->queue_lock);
    if (d->queue_count < DISPLAY_EVENT_QUEUE) {
        d->queue[(d->queue_head + d->queue_count) % DISPLAY_EVENT_QUEUE] = *ev;
        d->queue_count++;
    }
    pthread_mutex_unlock(&d->queue_lock);
    uint64_t one = 1;
    ssize_t w = write(d->wake_fd, &one, sizeof(one));
    (void)w;
}

int display_init(struct display *d, struct vga *vga, struct i8042 *kbc, struct vclock *clock,
                 struct mainloop *ml)
{
    memset(d, 0, sizeof(*d));
    d->wake_fd = -1;
    d->vga = vga;
    d->kbc = kbc;
    d->clock = clock;
    d->ml = ml;
    vga_render_init(&d->render);
    vtimer_init(&d->refresh, clock, refresh_tick, d);
    d->refresh.deferrable = true; /* an idle guest's screen may wait for its next wake-up */
    if (pthread_mutex_init(&d->queue_lock, NULL))
        return -1;
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->wake_fd < 0 || mainloop_add_fd(ml, d->wake_fd, POLLIN, NULL, on_wake, d) < 0) {
        if (d->wake_fd >= 0)
            close(d->wake_fd);
        d->wake_fd = -1;
        pthread_mutex_destroy(&d->queue_lock);
        return -1;
    }
    return 0;
}

void display_destroy(struct display *d)
{
    for (unsigned i = 0; i < d->n_frontends; i++) {
        d->frontends[i].ops->destroy(d->frontends[i].opaque);
        vga_render_destroy(&d->frontends[i].console_render);
    }
    d->n_frontends = 0;
    vtimer_del(&d->refresh);
    if (d->wake_fd >= 0) {
        mainloop_remove_fd(d->ml, d->wake_fd);
        close(d->wake_fd);
        d->wake_fd = -1;
        pthread_mutex_destroy(&d->queue_lock);
    }
    vga_render_destroy(&d->render);
}

int display_add_frontend(struct display *d, const struct display_frontend_ops *ops, void *opaque)
{
    if (d->n_frontends >= DISPLAY_MAX_FRONTENDS)
        return -1;
    struct display_frontend *f = &d->frontends[d->n_frontends++];
    memset(f, 0, sizeof(*f));
    f->ops = ops;
    f->opaque = opaque;
    f->resized_pending = true;
    vga_render_init(&f->console_render);
    return 0;
}

const struct display_surface *display_snapshot(struct display *d)
{
    /* The guest's screen, whatever console is shown (QEMU's screendump: console 0). */
    render_guest(d, false);
    return &d->render.surf;
}

/* The display: renders the VGA into a host picture at a bounded rate while someone watches
 * (a VNC client, the SDL window), hands changed lines to the front ends, and feeds their
 * keyboard and mouse input to the PS/2 devices on the main thread.
 *
 * Front ends may run their own threads: they reach the machine only through
 * display_post_event(), which queues the event and wakes the main loop. */
#ifndef PCVM_UI_DISPLAY_H
#define PCVM_UI_DISPLAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/i8042.h"
#include "hw/vga.h"
#include "ui/vga_render.h"
#include "util/mainloop.h"
#include "util/vclock.h"

struct vnc_server;

/* Frames per second at most, while watched and changing. */
#define DISPLAY_REFRESH_HZ 30
#define DISPLAY_MAX_FRONTENDS 2
#define DISPLAY_EVENT_QUEUE 512
/* Text consoles after the guest's screen: Ctrl-Alt-2 ... Ctrl-Alt-9. */
#define DISPLAY_MAX_CONSOLES 8

/* A front end (VNC server, SDL window), called on the main thread. */
struct display_frontend_ops {
    /* Take lines [y0, y1) of s, or all of s when resized; false when busy now (the lines stay
     * pending and are offered again on the next refresh). */
    bool (*publish)(void *opaque, const struct display_surface *s, bool resized, int y0, int y1);
    /* Someone is looking (a client connected, the window open); may be asked from any thread. */
    bool (*watching)(void *opaque);
    /* Stop threads, close sockets and windows, free. */
    void (*destroy)(void *opaque);
};

enum display_event_kind {
    DISPLAY_EV_KEY,       /* code: set-1 make code (0xE0xx extended), down */
    DISPLAY_EV_MOUSE,     /* dx, dy (up), dz, buttons (bit 0 left, 1 right, 2 middle) */
    DISPLAY_EV_REFRESH,   /* a viewer appeared: draw everything now and keep refreshing */
    DISPLAY_EV_QUIT,      /* the window asked pcvm to exit */
};

struct display_event {
    uint8_t kind;
    const void *origin;   /* the front end's opaque (its Ctrl-Alt-n console); NULL: the guest */
    bool down;
    uint8_t buttons;
    uint16_t code;
    int16_t dx, dy, dz;
};

/* Each front end shows its own console, as in QEMU: Ctrl-Alt-2 in the SDL window does not
 * change what VNC clients see. */
struct display_frontend {
    const struct display_frontend_ops *ops;
    void *opaque;
    bool resized_pending;
    int pending_y0, pending_y1;   /* lines not yet taken; y0 >= y1 when none */
    unsigned active;              /* 0: the guest's screen; n: the display's consoles[n - 1] */
    struct vga_render console_render;   /* the console shown, when active */
    unsigned console_drawn;       /* generation of the console picture drawn */
    bool ctrl_down, alt_down, shift_down;
    uint16_t swallow_code;        /* a console-switch key whose release the guest must not see */
};

struct display {
    struct vga *vga;              /* NULL with -vga none: a blank screen */
    struct i8042 *kbc;            /* where key and mouse events go (NULL: dropped) */
    struct vclock *clock;
    struct mainloop *ml;
    struct vga_render render;
    struct vtimer refresh;
    struct display_frontend frontends[DISPLAY_MAX_FRONTENDS];
    unsigned n_frontends;

    pthread_mutex_t queue_lock;   /* the event queue is filled by front-end threads */
    struct display_event queue[DISPLAY_EVENT_QUEUE];
    unsigned queue_head, queue_count;
    int wake_fd;                  /* eventfd the main loop watches; -1 before init */
    uint8_t mouse_buttons;        /* last button state sent, for mouse_move/mouse_button */
    struct vnc_server *vnc;       /* the -vnc front end, for set_password; NULL without */

    /* Text consoles (vc chardevs), as QEMU's virtual consoles: Ctrl-Alt-1 shows the guest,
     * Ctrl-Alt-2 the first console (the monitor), and so on, in each front end on its own;
     * keys typed while a console is shown go to it, not to the guest. */
    struct chardev *consoles[DISPLAY_MAX_CONSOLES];
    unsigned n_consoles;
    uint8_t console_font[256 * 16];
    bool console_font_loaded;
};

/* Set up the display for a VGA (or NULL) and a keyboard controller; 0 or -1. */
int display_init(struct display *d, struct vga *vga, struct i8042 *kbc, struct vclock *clock,
                 struct mainloop *ml);
/* Destroy the front ends, stop the refresh, free the picture. */
void display_destroy(struct display *d);
/* Attach a front end (at most DISPLAY_MAX_FRONTENDS); 0 or -1. */
int display_add_frontend(struct display *d, const struct display_frontend_ops *ops, void *opaque);
/* Any thread: queue an input event for the main thread (dropped when the queue is full). */
void display_post_event(struct display *d, const struct display_event *ev);
/* Main thread: render what changed now and return the current picture (screendump). */
const struct display_surface *display_snapshot(struct display *d);
/* Add a vc chardev as the next console (Ctrl-Alt-2, -3...); 0 (also when it is one already),
 * or -1 when full or not a vc. */
int display_add_console(struct display *d, struct chardev *vc);
/* Main thread: the front end with this opaque shows console index (0: the guest's screen);
 * ignored when there is no such console or front end. */
void display_select_console(struct display *d, const void *origin, unsigned index);
/* Main thread: the console index the front end with this opaque shows (0 also when unknown). */
unsigned display_active_console(const struct display *d, const void *origin);
/* Main thread: a key press or release (set-1 make code) from the front end with this opaque:
 * Ctrl-Alt-1..9 switch its consoles, other keys go to the console it shows, or to the guest's
 * keyboard (always so for origin NULL). */
void display_key(struct display *d, const void *origin, uint16_t code, bool down);
/* Main thread: relative mouse movement (dy down, as on screen) and buttons. */
void display_mouse(struct display *d, int dx, int dy, int dz, uint8_t buttons);

#endif

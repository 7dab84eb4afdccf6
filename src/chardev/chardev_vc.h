/* The vc back end: a text console (QEMU's "virtual console") that a display shows on
 * Ctrl-Alt-2, -3...  Output lands in a character grid (printing, CR, LF, BS, TAB, scrolling
 * with VC_HISTORY lines to scroll back through; escape sequences are read and ignored except
 * erase-line and clear-screen); keys typed while the console is shown come back as input.  Without a display it is a sink, like null. */
#ifndef PCVM_CHARDEV_CHARDEV_VC_H
#define PCVM_CHARDEV_CHARDEV_VC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/chardev.h"

#define VC_DEFAULT_COLS 80
#define VC_DEFAULT_ROWS 24
#define VC_MAX_COLS 256
#define VC_MAX_ROWS 128
#define VC_HISTORY 500          /* lines kept above the screen for scrolling back */

/* What a display needs to draw a vc: the grid is rows * cols characters, row 0 on top. */
struct vc_view {
    int cols, rows;
    int cursor_x, cursor_y;     /* cursor_y -1: not in view (scrolled back) */
    unsigned generation;        /* bumped by every change */
    int back;                   /* lines scrolled back (0: the live screen) */
};

/* Open a vc of cols x rows characters (clamped to 1..VC_MAX_*). */
struct chardev *chardev_vc_open(const char *label, int cols, int rows);
/* True when chr is a vc. */
bool chardev_is_vc(const struct chardev *chr);
/* Copy the grid (at least cols * rows bytes in out, cap bytes) and its state; false if chr is
 * not a vc.  Any thread. */
bool chardev_vc_read(struct chardev *chr, struct vc_view *view, uint8_t *out, size_t cap);
/* The state alone (cheap: to see whether anything changed); false if chr is not a vc. */
bool chardev_vc_peek(struct chardev *chr, struct vc_view *view);
/* Scroll the view back (lines > 0) or forward through the history; stops at both ends. */
void chardev_vc_scroll(struct chardev *chr, int lines);
/* Bytes typed on the console, to its front end (the monitor, the serial port). */
void chardev_vc_input(struct chardev *chr, const uint8_t *buf, size_t len);

#endif

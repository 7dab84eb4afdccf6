/* The mux behind mon:stdio and -nographic: several front ends (serial port, monitor) share one
 * back end; Ctrl-A escapes switch between them (c), exit (x), help (h), send Ctrl-A (a, C-a). */
#ifndef PCVM_CHARDEV_CHARDEV_MUX_H
#define PCVM_CHARDEV_CHARDEV_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/chardev.h"

#define MUX_MAX_FRONTENDS 4
#define MUX_ESCAPE_CHAR   0x01   /* Ctrl-A */

/* Called when a front end gains or loses the focus (the monitor prints its prompt). */
typedef void (*mux_focus_fn)(void *opaque, bool focused);

/* Register fn for a front end returned by chardev_mux_frontend(). */
void chardev_mux_set_focus_handler(struct chardev *frontend, mux_focus_fn fn, void *opaque);
/* Feed back-end input to the mux (what the back end delivers; exposed for tests). */
void chardev_mux_input(struct chardev *mux, const uint8_t *buf, size_t len);
/* True when chr is a front end made by chardev_mux_frontend(). */
bool chardev_is_mux_frontend(const struct chardev *chr);
/* The back end behind a mux or one of its front ends (the vc of mon:vc); else chr itself. */
struct chardev *chardev_underlying(struct chardev *chr);
/* Index of the front end that has the focus. */
unsigned chardev_mux_focus(const struct chardev *mux);

#endif

/* Character devices: where a serial port, the monitor or a debug port sends and gets bytes.
 * Back ends (stdio, mux for mon:stdio, pty, file, null, unix/tcp sockets) are owned by the
 * chardev part; devices only use chardev_write() and chardev_attach(). */
#ifndef PCVM_CHARDEV_CHARDEV_H
#define PCVM_CHARDEV_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;
struct mainloop;

/* Front end (device side) callbacks: how many bytes it can take now, and delivery. */
typedef size_t (*chr_can_read_fn)(void *opaque);
typedef void (*chr_read_fn)(void *opaque, const uint8_t *buf, size_t len);
/* Called when a client connects to a server socket (a monitor greets it). */
typedef void (*chr_opened_fn)(void *opaque);

struct chardev_ops {
    /* Queue len bytes of output; must not block for long (buffer, flush from the loop). */
    void (*write)(struct chardev *chr, const uint8_t *buf, size_t len);
    /* Flush buffered output and release host resources (restore the terminal). */
    void (*close)(struct chardev *chr);
};

struct chardev {
    char label[32];              /* "serial0", "monitor0", the -chardev id ... */
    const struct chardev_ops *ops;
    chr_can_read_fn fe_can_read;
    chr_read_fn fe_read;
    void *fe_opaque;
    chr_opened_fn fe_opened;     /* NULL: the front end does not care about connections */
    void *fe_opened_opaque;
    void *priv;                  /* back end's own state */
};

/* Send guest output to the back end (NULL chr: dropped). */
static inline void chardev_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr && chr->ops && chr->ops->write)
        chr->ops->write(chr, buf, len);
}

/* Attach the device that receives this chardev's input. */
static inline void chardev_attach(struct chardev *chr, chr_can_read_fn can_read, chr_read_fn read,
                                  void *opaque)
{
    if (!chr)
        return;
    chr->fe_can_read = can_read;
    chr->fe_read = read;
    chr->fe_opaque = opaque;
}

/* Be told about each new connection of a server socket back end (fn NULL: stop). */
static inline void chardev_set_opened_handler(struct chardev *chr, chr_opened_fn fn, void *opaque)
{
    if (!chr)
        return;
    chr->fe_opened = fn;
    chr->fe_opened_opaque = opaque;
}

/* ---- Back-end creation (src/chardev/chardev_open.c and friends) ---- */

/* Open a back end from a spec: stdio, mon:stdio, pty, null, none, vc, file:PATH,
 * unix:PATH[,server][,nowait], tcp:HOST:PORT[,server][,nowait] or a -chardev argument
 * (socket,id=..,path=..,server=on,wait=off / stdio,id= / file,id=,path= / pty,id= / null,id=).
 * label names it in messages ("serial0"). Returns NULL with err[0] == '\0' for "none",
 * NULL with a message (no "pcvm: " prefix) on failure. A mux spec (mon:..., mux=on) returns
 * the mux: take its front ends with chardev_mux_frontend(). */
struct chardev *chardev_open(const char *spec, const char *label, struct mainloop *ml, char *err,
                             size_t errlen);
/* A new front end of a mux (first = the one with focus at start; at most 4). NULL if chr is
 * not a mux or is full. Front ends are released by chardev_close(mux). */
struct chardev *chardev_mux_frontend(struct chardev *mux, const char *label);
/* True when chr is a mux created by chardev_open(). */
bool chardev_is_mux(const struct chardev *chr);
/* Write buffered output now (also done by the main loop and at close). */
void chardev_flush(struct chardev *chr);
/* Flush, restore the terminal, release host resources and free chr (NULL: nothing). */
void chardev_close(struct chardev *chr);

#endif

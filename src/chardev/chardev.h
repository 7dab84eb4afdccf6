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

#endif

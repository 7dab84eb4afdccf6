/* A chardev back end for unit tests that keeps everything written to it as a NUL-terminated
 * string, so a test can check what a front end (monitor, QMP, mux) printed. Included by
 * one test program each. */
#ifndef PCVM_TEST_CAPTURE_CHARDEV_H
#define PCVM_TEST_CAPTURE_CHARDEV_H

#include <stdint.h>
#include <string.h>

#include "chardev/chardev.h"

struct capture {
    char out[65536];
    size_t len;
};

/* Appends what the front end wrote; output beyond the buffer is dropped. */
static inline void capture_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct capture *c = chr->priv;
    if (c->len + len < sizeof(c->out)) {
        memcpy(c->out + c->len, buf, len);
        c->len += len;
        c->out[c->len] = '\0';
    }
}

/* The capture buffer belongs to the test, so closing only forgets it. */
static inline void capture_close(struct chardev *chr)
{
    chr->priv = NULL;
}

static const struct chardev_ops capture_ops = { .write = capture_write, .close = capture_close };

#endif

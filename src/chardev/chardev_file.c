/* file:PATH back end (output only) and the null back end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chardev/chardev_fd.h"

const struct chardev_ops chardev_file_ops = { .write = fdchr_write, .close = fdchr_close_common };

struct chardev *chardev_file_open(const struct chardev_spec *spec, const char *label,
                                  struct mainloop *ml, char *err, size_t errlen)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (spec->append ? O_APPEND : O_TRUNC);
    int fd = open(spec->path, flags, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open '%s': %s", spec->path, strerror(errno));
        return NULL;
    }
    struct chardev *chr = fdchr_new(label, ml, CHARDEV_FILE);
    struct fdchr *f = chr->priv;
    chr->ops = &chardev_file_ops;
    f->out_fd = fd;
    f->out_blocking = true;
    fdchr_register(f);
    return chr;
}

static void null_flush(struct chardev *chr)
{
    (void)chr;
}

static void null_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    (void)chr;
    (void)buf;
    (void)len;
}

static void null_close(struct chardev *chr)
{
    free(chr->priv);
    chr->priv = NULL;
}

const struct chardev_ops chardev_null_ops = { .write = null_write, .close = null_close };

struct chardev *chardev_null_open(const char *label)
{
    struct chardev *chr = calloc(1, sizeof(*chr));
    struct chardev_impl *impl = calloc(1, sizeof(*impl));
    if (!chr || !impl)
        abort();
    impl->flush = null_flush;
    snprintf(chr->label, sizeof(chr->label), "%s", label ? label : "");
    chr->ops = &chardev_null_ops;
    chr->priv = impl;
    return chr;
}

/* pty back end: a pseudo-terminal the user attaches to (screen /dev/pts/N). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <errno.h>

#include "chardev/chardev_fd.h"

const struct chardev_ops chardev_pty_ops = { .write = fdchr_write, .close = fdchr_close_common };

struct chardev *chardev_pty_open(const struct chardev_spec *spec, const char *label,
                                 struct mainloop *ml, char *err, size_t errlen)
{
    (void)spec;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    char name[128];
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, name, sizeof(name)) != 0) {
        snprintf(err, errlen, "cannot create a pty: %s", strerror(errno));
        if (master >= 0)
            close(master);
        return NULL;
    }
    /* Keep the slave open: output queues in the pty while nobody is attached, and the
     * master never sees a hang-up that would make poll() spin. */
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        snprintf(err, errlen, "cannot open %s: %s", name, strerror(errno));
        close(master);
        return NULL;
    }
    struct termios tio;
    if (tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(slave, TCSANOW, &tio);
    }
    fd_set_nonblock(master);
    struct chardev *chr = fdchr_new(label, ml, CHARDEV_PTY);
    struct fdchr *f = chr->priv;
    chr->ops = &chardev_pty_ops;
    f->in_fd = f->out_fd = master;
    f->pty_slave_fd = slave;
    fprintf(stderr, "char device redirected to %s (label %s)\n", name, chr->label);
    fdchr_register(f);
    return chr;
}

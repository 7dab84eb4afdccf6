/* chardev_open(): spec -> back end (and mux when asked). */
#include <stdio.h>
#include <string.h>

#include "chardev/chardev_fd.h"
#include "chardev/chardev_vc.h"
#include "chardev/chardev_spec.h"

struct chardev *chardev_open(const char *text, const char *label, struct mainloop *ml, char *err,
                             size_t errlen)
{
    struct chardev_spec spec;
    if (errlen)
        err[0] = '\0';
    if (chardev_spec_parse(text, &spec, err, errlen) < 0)
        return NULL;
    struct chardev *chr = NULL;
    switch (spec.kind) {
    case CHARDEV_NONE:
        return NULL;
    case CHARDEV_NULL:
        chr = chardev_null_open(label);
        break;
    case CHARDEV_VC:
        chr = chardev_vc_open(label, spec.vc_cols ? spec.vc_cols : VC_DEFAULT_COLS,
                              spec.vc_rows ? spec.vc_rows : VC_DEFAULT_ROWS);
        break;
    case CHARDEV_STDIO:
        chr = chardev_stdio_open(&spec, label, ml, err, errlen);
        break;
    case CHARDEV_PTY:
        chr = chardev_pty_open(&spec, label, ml, err, errlen);
        break;
    case CHARDEV_FILE:
        chr = chardev_file_open(&spec, label, ml, err, errlen);
        break;
    case CHARDEV_UNIX:
    case CHARDEV_TCP:
        chr = chardev_socket_open(&spec, label, ml, err, errlen);
        break;
    case CHARDEV_REF:
        snprintf(err, errlen, "chardev:%s must be looked up among the -chardev options", spec.id);
        return NULL;
    }
    if (chr && spec.mux)
        chr = chardev_mux_open(chr, ml);
    return chr;
}

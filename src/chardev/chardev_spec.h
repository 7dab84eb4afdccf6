/* Character device specs as QEMU users write them, parsed into plain data with no side
 * effects: legacy forms (-serial/-monitor: "stdio", "mon:stdio", "file:PATH",
 * "unix:PATH,server,nowait", "tcp:HOST:PORT,server,nowait", "chardev:ID") and -chardev forms
 * ("socket,id=c0,path=PATH,server=on,wait=off"). Used by the option parser to validate and by
 * chardev_open() to open. */
#ifndef PCVM_CHARDEV_CHARDEV_SPEC_H
#define PCVM_CHARDEV_CHARDEV_SPEC_H

#include <stdbool.h>
#include <stddef.h>

enum chardev_kind {
    CHARDEV_NULL = 0,    /* null */
    CHARDEV_NONE,        /* none: no device at all */
    CHARDEV_STDIO,
    CHARDEV_PTY,
    CHARDEV_FILE,
    CHARDEV_UNIX,
    CHARDEV_TCP,
    CHARDEV_REF,         /* chardev:ID, a -chardev defined elsewhere */
    CHARDEV_VC,          /* vc: a text console the display shows (Ctrl-Alt-2...) */
};

struct chardev_spec {
    enum chardev_kind kind;
    bool mux;            /* mon:SPEC or mux=on: serial and monitor share it (Ctrl-A) */
    bool mon_prefix;     /* written as mon:SPEC: a monitor goes on the mux */
    char id[64];         /* -chardev id=, or the referenced id for CHARDEV_REF */
    char path[1024];     /* file / unix socket path */
    char host[256];      /* tcp host ("" = any) */
    unsigned port;       /* tcp port */
    bool server;
    bool wait;           /* server waits for a client before the VM starts (default on) */
    bool nodelay;
    bool signal;         /* stdio: Ctrl-C raises SIGINT (default on) */
    bool append;         /* file: append instead of truncate */
    int vc_cols, vc_rows; /* vc: size in characters (0: the default 80x24) */
};

/* Parse a chardev spec (legacy or -chardev form). Returns 0, -1 (invalid) or -2 (a QEMU form
 * pcvm does not support yet); on failure err holds a message without the "pcvm: " prefix. */
int chardev_spec_parse(const char *text, struct chardev_spec *spec, char *err, size_t errlen);
/* Parse a -chardev argument (BACKEND,id=ID,...); id is required. Same returns. */
int chardev_spec_parse_opts(const char *text, struct chardev_spec *spec, char *err,
                            size_t errlen);

#endif

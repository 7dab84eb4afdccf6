/* Parsing chardev specs into plain data (no side effects). */
#include "chardev/chardev_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/kvlist.h"

static int copy_field(char *dst, size_t cap, const char *src, const char *what, char *err,
                      size_t errlen)
{
    if (strlen(src) >= cap) {
        snprintf(err, errlen, "%s too long", what);
        return -1;
    }
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int parse_port(const char *s, unsigned *port, char *err, size_t errlen)
{
    uint64_t v;
    if (parse_uint(s, 65535, &v) < 0) {
        snprintf(err, errlen, "invalid port '%s'", s);
        return -1;
    }
    *port = (unsigned)v;
    return 0;
}

/* The socket flags shared by both syntaxes: server, wait/nowait, nodelay. */
static int socket_flags(struct kvlist *kl, struct chardev_spec *spec, char *err, size_t errlen)
{
    spec->wait = true;
    if (kvlist_find(kl, "nowait"))
        spec->wait = false;
    static const char *const keys[] = { "server", "wait", "nodelay" };
    bool *dst[] = { &spec->server, &spec->wait, &spec->nodelay };
    for (size_t i = 0; i < 3; i++)
        if (kvlist_bool(kl, keys[i], dst[i]) < 0) {
            snprintf(err, errlen, "invalid value for '%s'", keys[i]);
            return -1;
        }
    if (kvlist_get(kl, "telnet") || kvlist_get(kl, "reconnect") || kvlist_get(kl, "websocket") ||
        kvlist_get(kl, "tls-creds")) {
        snprintf(err, errlen, "telnet, reconnect, websocket and TLS sockets: not supported yet");
        return -2;
    }
    return 0;
}

static int check_unused(struct kvlist *kl, char *err, size_t errlen)
{
    const struct kv *kv = kvlist_unused(kl);
    if (kv) {
        snprintf(err, errlen, "invalid parameter '%s'", kv->key);
        return -1;
    }
    return 0;
}

/* "HOST:PORT" (HOST may be empty) for legacy tcp: */
static int split_host_port(const char *s, struct chardev_spec *spec, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    if (!colon) {
        snprintf(err, errlen, "tcp: needs HOST:PORT");
        return -1;
    }
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(spec->host)) {
        snprintf(err, errlen, "host too long");
        return -1;
    }
    memcpy(spec->host, s, hl);
    spec->host[hl] = '\0';
    return parse_port(colon + 1, &spec->port, err, errlen);
}

static int parse_legacy(const char *text, struct chardev_spec *spec, char *err, size_t errlen)
{
    if (!strncmp(text, "mon:", 4)) {
        int r = parse_legacy(text + 4, spec, err, errlen);
        if (r < 0)
            return r;
        if (spec->kind == CHARDEV_NONE || spec->kind == CHARDEV_REF || spec->mux) {
            snprintf(err, errlen, "mon: needs a back end such as mon:stdio");
            return -1;
        }
        spec->mux = true;
        spec->mon_prefix = true;
        spec->signal = false;   /* mon:stdio: Ctrl-C goes to the guest, as in QEMU */
        return 0;
    }
    static const struct { const char *name; enum chardev_kind kind; } simple[] = {
        { "null", CHARDEV_NULL }, { "none", CHARDEV_NONE }, { "stdio", CHARDEV_STDIO },
        { "pty", CHARDEV_PTY }, { "vc", CHARDEV_VC },
    };
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
        if (!strcmp(text, simple[i].name)) {
            spec->kind = simple[i].kind;
            return 0;
        }
    if (!strncmp(text, "vc:", 3)) {
        /* vc:WxH in pixels, or vc:COLSCxROWSC in characters (QEMU's 80Cx24C) */
        char *end;
        unsigned long w = strtoul(text + 3, &end, 10), h = 0;
        bool w_chars = *end == 'C', h_chars = false, ok = end != text + 3 && w > 0;
        end += w_chars;
        if (ok && *end == 'x') {
            const char *hp = end + 1;
            h = strtoul(hp, &end, 10);
            h_chars = *end == 'C';
            end += h_chars;
            ok = end != hp && h > 0 && !*end;
        } else {
            ok = false;
        }
        if (!ok) {
            snprintf(err, errlen, "vc: size must be WIDTHxHEIGHT or COLSCxROWSC");
            return -1;
        }
        spec->kind = CHARDEV_VC;
        w = w_chars ? w : w / 8;
        h = h_chars ? h : h / 16;
        spec->vc_cols = (int)(w > 1000 ? 1000 : w);
        spec->vc_rows = (int)(h > 1000 ? 1000 : h);
        return 0;
    }
    if (!strncmp(text, "chardev:", 8)) {
        spec->kind = CHARDEV_REF;
        if (!text[8]) {
            snprintf(err, errlen, "chardev: needs an id");
            return -1;
        }
        return copy_field(spec->id, sizeof(spec->id), text + 8, "id", err, errlen);
    }
    if (!strncmp(text, "file:", 5)) {
        spec->kind = CHARDEV_FILE;
        if (!text[5]) {
            snprintf(err, errlen, "file: needs a path");
            return -1;
        }
        return copy_field(spec->path, sizeof(spec->path), text + 5, "path", err, errlen);
    }
    if (!strncmp(text, "unix:", 5) || !strncmp(text, "tcp:", 4)) {
        bool is_unix = text[0] == 'u';
        struct kvlist kl;
        if (kvlist_parse(&kl, text + (is_unix ? 5 : 4), "addr", err, errlen) < 0)
            return -1;
        const char *addr = kvlist_get(&kl, "addr");
        int r = 0;
        if (!addr || !*addr) {
            snprintf(err, errlen, "%s needs an address", is_unix ? "unix:" : "tcp:");
            r = -1;
        } else if (is_unix) {
            spec->kind = CHARDEV_UNIX;
            r = copy_field(spec->path, sizeof(spec->path), addr, "path", err, errlen);
        } else {
            spec->kind = CHARDEV_TCP;
            r = split_host_port(addr, spec, err, errlen);
        }
        if (!r)
            r = socket_flags(&kl, spec, err, errlen);
        if (!r)
            r = check_unused(&kl, err, errlen);
        kvlist_free(&kl);
        return r;
    }
    static const char *const unsupported[] = { "telnet:", "udp:", "pipe:", "serial:",
                                               "parallel:", "/dev/", "msmouse", "braille",
                                               "websocket:", "spicevmc", "spiceport", "tty:" };
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (!strncmp(text, unsupported[i], strlen(unsupported[i]))) {
            snprintf(err, errlen, "character device '%s': not supported yet", text);
            return -2;
        }
    snprintf(err, errlen, "'%s' is not a valid character device", text);
    return -1;
}

int chardev_spec_parse_opts(const char *text, struct chardev_spec *spec, char *err,
                            size_t errlen)
{
    memset(spec, 0, sizeof(*spec));
    spec->signal = true;
    struct kvlist kl;
    if (kvlist_parse(&kl, text, "backend", err, errlen) < 0)
        return -1;
    int r = 0;
    const char *backend = kvlist_get(&kl, "backend");
    const char *id = kvlist_get(&kl, "id");
    if (!backend || !strcmp(backend, "help")) {
        snprintf(err, errlen, "needs a back end: null, stdio, pty, file, socket");
        r = -1;
        goto out;
    }
    if (!id || !*id) {
        snprintf(err, errlen, "needs an id");
        r = -1;
        goto out;
    }
    if ((r = copy_field(spec->id, sizeof(spec->id), id, "id", err, errlen)) < 0)
        goto out;
    if (kvlist_bool(&kl, "mux", &spec->mux) < 0) {
        snprintf(err, errlen, "invalid value for 'mux'");
        r = -1;
        goto out;
    }
    if (kvlist_get(&kl, "logfile") || kvlist_get(&kl, "logappend")) {
        snprintf(err, errlen, "logfile: not supported yet");
        r = -2;
        goto out;
    }
    if (!strcmp(backend, "null") || !strcmp(backend, "vc")) {
        spec->kind = CHARDEV_NULL;
        if (!strcmp(backend, "vc")) { /* cols=/rows= in characters, width=/height= in pixels */
            spec->kind = CHARDEV_VC;
            const char *cols = kvlist_get(&kl, "cols"), *rows = kvlist_get(&kl, "rows");
            const char *width = kvlist_get(&kl, "width"), *height = kvlist_get(&kl, "height");
            if (cols)
                spec->vc_cols = atoi(cols);
            else if (width)
                spec->vc_cols = atoi(width) / 8;
            if (rows)
                spec->vc_rows = atoi(rows);
            else if (height)
                spec->vc_rows = atoi(height) / 16;
        }
    } else if (!strcmp(backend, "stdio")) {
        spec->kind = CHARDEV_STDIO;
        if (kvlist_bool(&kl, "signal", &spec->signal) < 0) {
            snprintf(err, errlen, "invalid value for 'signal'");
            r = -1;
        }
    } else if (!strcmp(backend, "pty")) {
        spec->kind = CHARDEV_PTY;
    } else if (!strcmp(backend, "file")) {
        spec->kind = CHARDEV_FILE;
        const char *path = kvlist_get(&kl, "path");
        if (!path || !*path) {
            snprintf(err, errlen, "file needs path=");
            r = -1;
        } else {
            r = copy_field(spec->path, sizeof(spec->path), path, "path", err, errlen);
        }
        if (!r && kvlist_bool(&kl, "append", &spec->append) < 0) {
            snprintf(err, errlen, "invalid value for 'append'");
            r = -1;
        }
    } else if (!strcmp(backend, "socket")) {
        const char *path = kvlist_get(&kl, "path");
        const char *host = kvlist_get(&kl, "host");
        const char *port = kvlist_get(&kl, "port");
        if (path && (host || port)) {
            snprintf(err, errlen, "socket takes path= or host=/port=, not both");
            r = -1;
        } else if (path) {
            spec->kind = CHARDEV_UNIX;
            r = copy_field(spec->path, sizeof(spec->path), path, "path", err, errlen);
        } else if (port) {
            spec->kind = CHARDEV_TCP;
            r = copy_field(spec->host, sizeof(spec->host), host ? host : "", "host", err, errlen);
            if (!r)
                r = parse_port(port, &spec->port, err, errlen);
        } else {
            snprintf(err, errlen, "socket needs path= or port=");
            r = -1;
        }
        if (!r)
            r = socket_flags(&kl, spec, err, errlen);
    } else if (!strcmp(backend, "udp") || !strcmp(backend, "pipe") ||
               !strcmp(backend, "serial") || !strcmp(backend, "tty") ||
               !strcmp(backend, "parallel") || !strcmp(backend, "ringbuf") ||
               !strcmp(backend, "memory") || !strcmp(backend, "msmouse") ||
               !strcmp(backend, "spicevmc") || !strcmp(backend, "spiceport") ||
               !strcmp(backend, "braille") || !strcmp(backend, "testdev")) {
        snprintf(err, errlen, "back end '%s': not supported yet", backend);
        r = -2;
    } else {
        snprintf(err, errlen, "'%s' is not a valid character device back end", backend);
        r = -1;
    }
    if (!r)
        r = check_unused(&kl, err, errlen);
out:
    kvlist_free(&kl);
    return r;
}

int chardev_spec_parse(const char *text, struct chardev_spec *spec, char *err, size_t errlen)
{
    size_t first = strcspn(text, ":,");
    if (text[first] == ',')
        return chardev_spec_parse_opts(text, spec, err, errlen);
    memset(spec, 0, sizeof(*spec));
    spec->signal = true;
    return parse_legacy(text, spec, err, errlen);
}

/* The -vnc option's value: a pure parser, kept apart from the server so the command-line
 * code (and its fuzz target) needs no VNC library. */
#include "ui/vnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int vnc_spec_parse(const char *text, struct vnc_spec *spec, char *err, size_t errlen)
{
    memset(spec, 0, sizeof(*spec));
    spec->to = -1;
    if (!strcmp(text, "none")) {
        spec->none = true;
        return 0;
    }
    char buf[512];
    if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf)) {
        snprintf(err, errlen, "too long");
        return -1;
    }
    char *opts = strchr(buf, ',');
    if (opts)
        *opts++ = '\0';
    if (!strncmp(buf, "unix:", 5)) {
        if (!buf[5] || strlen(buf + 5) >= sizeof(spec->path)) {
            snprintf(err, errlen, "unix: needs a socket path (under %zu bytes)", sizeof(spec->path));
            return -1;
        }
        spec->unix_socket = true;
        memcpy(spec->path, buf + 5, strlen(buf + 5) + 1);
    } else {
        char *colon = strrchr(buf, ':');
        if (!colon) {
            snprintf(err, errlen, "'%s': expected [host]:display, unix:path or none", buf);
            return -1;
        }
        *colon = '\0';
        const char *host = buf;
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1]:0 */
            buf[hl - 1] = '\0';
            host = buf + 1;
        }
        if (strlen(host) >= sizeof(spec->host)) {
            snprintf(err, errlen, "host name too long");
            return -1;
        }
        memcpy(spec->host, host, strlen(host) + 1);
        char *end;
        long d = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || d < 0 || d > 65535 - VNC_BASE_PORT) {
            snprintf(err, errlen, "invalid display number '%s'", colon + 1);
            return -1;
        }
        spec->display = (int)d;
    }
    for (char *save = NULL, *o = opts ? strtok_r(opts, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(o, '=');
        const char *val = eq ? eq + 1 : "on";
        if (eq)
            *eq = '\0';
        if (!strcmp(o, "password")) {
            if (!strcmp(val, "on"))
                spec->password = true;
            else if (!strcmp(val, "off"))
                spec->password = false;
            else {
                snprintf(err, errlen, "password=%s: expected on or off", val);
                return -1;
            }
        } else if (!strcmp(o, "to")) {
            char *end;
            long t = strtol(val, &end, 10);
            if (!*val || *end || t < spec->display || t > 65535 - VNC_BASE_PORT) {
                snprintf(err, errlen, "to=%s: expected a display number from %d", val, spec->display);
                return -1;
            }
            spec->to = (int)t;
        } else if (!strcmp(o, "share")) {
            if (strcmp(val, "allow-exclusive") && strcmp(val, "force-shared") && strcmp(val, "ignore")) {
                snprintf(err, errlen, "share=%s: expected allow-exclusive, force-shared or ignore", val);
                return -1;
            }
        } else {
            snprintf(err, errlen, "option '%s' not supported (password, to, share)", o);
            return -1;
        }
    }
    return 0;
}

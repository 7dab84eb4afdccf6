/* The VNC server (-vnc), built on libvncserver: several clients at once, keyboard (keysyms
 * through the -k layout to PS/2 scan codes), mouse (PS/2, relative), optional VNC password
 * authentication. It runs in its own thread; the main thread hands it changed lines through
 * the display (a lock it only tries, so a slow client never stalls the guest). */
#ifndef PCVM_UI_VNC_H
#define PCVM_UI_VNC_H

#include <stdbool.h>
#include <stddef.h>

#include "ui/display.h"

/* -vnc [host]:display[,password=on][,to=N] | unix:PATH | none */
/* Display N listens on TCP port VNC_BASE_PORT + N, as in QEMU. */
#define VNC_BASE_PORT 5900

struct vnc_spec {
    bool none;
    bool unix_socket;
    char path[108];     /* unix:PATH */
    char host[256];     /* "" = every address */
    int display;        /* TCP port 5900 + display */
    int to;             /* try displays display..to when busy; -1 = only display */
    bool password;      /* password=on: VNC authentication, password from set_password */
};

/* Parse a -vnc argument (no side effects); 0, or -1 with one line in err. */
int vnc_spec_parse(const char *text, struct vnc_spec *spec, char *err, size_t errlen);

struct vnc_server;
/* Listen as spec says and serve d's picture; layout is a -k name (NULL: en-us). NULL with
 * one line in err when the address cannot be used. The server is a front end of d and is
 * destroyed with it. */
struct vnc_server *vnc_start(const struct vnc_spec *spec, const char *layout, struct display *d,
                             char *err, size_t errlen);
/* The password clients must give (at most 8 characters count); -1 without password=on. */
int vnc_set_password(struct vnc_server *s, const char *password);
/* The TCP port listened on (0 for a unix socket). */
int vnc_port(const struct vnc_server *s);
/* "127.0.0.1:5901 (1 client)" or "unix:/path (0 clients)" for info vnc. */
void vnc_describe(struct vnc_server *s, char *buf, size_t len);

#endif

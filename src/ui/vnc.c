/* VNC server on libvncserver. pcvm accepts connections itself (so it controls the address,
 * the display range and unix sockets) and hands each socket to libvncserver, which speaks RFB.
 * Every libvncserver call happens with s->lock held: on the server thread while it serves
 * clients, on the main thread when it publishes a new picture (trylock: if the server is
 * busy writing to a slow client, the lines stay pending for the next refresh). */
#include "ui/vnc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "ui/dynlib.h"

/* The libvncserver functions used here, resolved when first needed (dynlib.h). */
#define VNC_FUNCS(X) \
    X(rfbCheckPasswordByList) X(rfbClientIteratorNext) X(rfbCloseClient) \
    X(rfbErr) X(rfbGetClientIterator) X(rfbGetScreen) \
    X(rfbInitServerWithPthreadsAndZRLE) X(rfbLog) X(rfbMarkRectAsModified) \
    X(rfbNewClient) X(rfbNewFramebuffer) X(rfbProcessEvents) \
    X(rfbReleaseClientIterator) X(rfbScreenCleanup) X(rfbShutdownServer)
DYNLIB_DEFINE(VNC_FUNCS, "libvncserver", "libvncserver.so.1", "libvncserver.so");
#define rfbCheckPasswordByList (dynlib_api.p_rfbCheckPasswordByList)
#define rfbClientIteratorNext (dynlib_api.p_rfbClientIteratorNext)
#define rfbCloseClient (dynlib_api.p_rfbCloseClient)
#define rfbErr (*dynlib_api.p_rfbErr)
#define rfbGetClientIterator (dynlib_api.p_rfbGetClientIterator)
#define rfbGetScreen (dynlib_api.p_rfbGetScreen)
#define rfbInitServerWithPthreadsAndZRLE (dynlib_api.p_rfbInitServerWithPthreadsAndZRLE)
#define rfbLog (*dynlib_api.p_rfbLog)
#define rfbMarkRectAsModified (dynlib_api.p_rfbMarkRectAsModified)
#define rfbNewClient (dynlib_api.p_rfbNewClient)
#define rfbNewFramebuffer (dynlib_api.p_rfbNewFramebuffer)
#define rfbProcessEvents (dynlib_api.p_rfbProcessEvents)
#define rfbReleaseClientIterator (dynlib_api.p_rfbReleaseClientIterator)
#define rfbScreenCleanup (dynlib_api.p_rfbScreenCleanup)
#define rfbShutdownServer (dynlib_api.p_rfbShutdownServer)

#include "ui/keymap.h"

#define VNC_MAX_LISTEN 4
#define VNC_MAX_CLIENTS 16
/* How long a client that stops reading may block its update before it is dropped. */
#define VNC_CLIENT_WAIT_MS 5000
/* How often a new client still waiting for its first picture asks the main thread again. */
#define VNC_HOLD_RETRY_MS 50

struct vnc_server {
    struct display *display;
    const struct keymap *keymap;
    pthread_mutex_t lock;            /* everything libvncserver, fb, passwords */
    rfbScreenInfoPtr screen;
    uint32_t *fb;                    /* R | G << 8 | B << 16 pixels, libvncserver's default */
    int width, height;
    int listen_fd[VNC_MAX_LISTEN];
    int n_listen;
    int port;
    char host[256];
    char unix_path[108];
    int wake[2];                     /* pipe: wakes the server thread */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_int clients;
    bool password_required;
    char password[9];
    char *password_list[2];
};

/* Per-client input state (libvncserver's clientData). */
struct vnc_client {
    bool shift_l, shift_r, altgr;
    bool have_pos;
    int x, y;
    uint8_t held[512 / 8];           /* keys this client holds down, to release when it goes */
};

static void wake_thread(struct vnc_server *s)
{
    char c = 1;
    ssize_t w = write(s->wake[1], &c, 1);
    (void)w;
}


/* ---- input (server thread) ---- */

static void post_key(struct vnc_server *s, struct vnc_client *c, uint16_t code, bool down)
{
    unsigned slot = (code & 0xff) | ((code >> 8) ? 0x100 : 0);
    if (c) {
        if (down)
            c->held[slot / 8] |= (uint8_t)(1 << (slot % 8));
        else
            c->held[slot / 8] &= (uint8_t)~(1 << (slot % 8));
    }
    struct display_event ev = { .kind = DISPLAY_EV_KEY, .origin = s, .code = code, .down = down };
    display_post_event(s->display, &ev);
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    struct vnc_server *s = cl->screen->screenData;
    struct vnc_client *c = cl->clientData;
    if (!c)
        return;
    int mods;
    uint16_t code = keymap_keysym(s->keymap, keysym, &mods);
    if (!code)
        return;
    /* Remember the client's modifiers, to add or remove what a symbol needs on the guest. */
    if (code == KEY_LSHIFT)
        c->shift_l = down;
    else if (code == KEY_RSHIFT)
        c->shift_r = down;
    else if (code == KEY_ALTGR)
        c->altgr = down;
    if (mods < 0 || !down) {
        post_key(s, c, code, down);
        return;
    }
    bool shift = c->shift_l || c->shift_r;
    bool want_shift = mods & KEYMAP_SHIFT, want_altgr = mods & KEYMAP_ALTGR;
    /* Letters: the client's case wins only through Shift; keep Shift as the client has it
     * when the symbol does not need a change. */
    if (want_shift && !shift)
        post_key(s, NULL, KEY_LSHIFT, true);
    if (!want_shift && shift) {
        if (c->shift_l)
            post_key(s, NULL, KEY_LSHIFT, false);
        if (c->shift_r)
            post_key(s, NULL, KEY_RSHIFT, false);
    }
    if (want_altgr != c->altgr)
        post_key(s, NULL, KEY_ALTGR, want_altgr);
    post_key(s, c, code, true);
    if (want_altgr != c->altgr)
        post_key(s, NULL, KEY_ALTGR, c->altgr);
    if (want_shift && !shift)
        post_key(s, NULL, KEY_LSHIFT, false);
    if (!want_shift && shift) {
        if (c->shift_l)
            post_key(s, NULL, KEY_LSHIFT, true);
        if (c->shift_r)
            post_key(s, NULL, KEY_RSHIFT, true);
    }
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    struct vnc_server *s = cl->screen->screenData;
    struct vnc_client *c = cl->clientData;
    if (!c)
        return;
    int dx = c->have_pos ? x - c->x : 0, dy = c->have_pos ? y - c->y : 0;
    c->x = x;
    c->y = y;
    c->have_pos = true;
    /* RFB: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down. PS/2: 0 left, 1 right, 2 middle. */
    uint8_t buttons = (uint8_t)((mask & 1) | (mask & 2) << 1 | (mask & 4) >> 1);
    int dz = (mask & 8) ? -1 : (mask & 16) ? 1 : 0;
    struct display_event ev = { .kind = DISPLAY_EV_MOUSE, .origin = s, .buttons = buttons,
                                .dx = (int16_t)(dx < -32768 ? -32768 : dx > 32767 ? 32767 : dx),
                                .dy = (int16_t)(dy < -32768 ? -32768 : dy > 32767 ? 32767 : dy),
                                .dz = (int16_t)dz };
    display_post_event(s->display, &ev);
}

static void on_client_gone(rfbClientPtr cl)
{
    struct vnc_server *s = cl->screen->screenData;
    struct vnc_client *c = cl->clientData;
    if (c) {
        /* A client that vanished with keys down must not leave them stuck in the guest. */
        for (unsigned slot = 0; slot < 512; slot++)
            if (c->held[slot / 8] & (1 << (slot % 8)))
                post_key(s, NULL, (uint16_t)((slot & 0x100 ? 0xe000 : 0) | (slot & 0xff)), false);
        free(c);
        cl->clientData = NULL;
    }
    atomic_fetch_sub(&s->clients, 1);
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
    struct vnc_server *s = cl->screen->screenData;
    if (atomic_load(&s->clients) >= VNC_MAX_CLIENTS)
        return RFB_CLIENT_REFUSE;
    cl->clientData = calloc(1, sizeof(struct vnc_client));
    if (!cl->clientData)
        return RFB_CLIENT_REFUSE;
    atomic_fetch_add(&s->clients, 1);
    cl->clientGoneHook = on_client_gone;
    struct display_event ev = { .kind = DISPLAY_EV_REFRESH };
    display_post_event(s->display, &ev);
    /* Held until the main thread has published the current picture, so the client learns
     * the right screen size in its ServerInit. */
    return RFB_CLIENT_ON_HOLD;
}

/* password=on: nothing is accepted until set_password gave a password (as QEMU). */
static rfbBool check_password(rfbClientPtr cl, const char *response, int len)
{
    struct vnc_server *s = cl->screen->screenData;
    if (!s->password[0])
        return FALSE;
    return rfbCheckPasswordByList(cl, response, len);
}

/* ---- server thread ---- */

/* Hand a new connection to libvncserver. libvncserver first peeks for a WebSocket
 * handshake, and that peek spins forever on a client that sends one to three bytes and
 * stops (a plain RFB client sends nothing before the server's greeting). So the peek is
 * shown one end of a fresh socketpair with nothing in it; the greeting libvncserver writes
 * there is forwarded, and then the client's own socket takes over that descriptor number. */
static void accept_client(struct vnc_server *s, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on unix sockets */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        close(fd);
        return;
    }
    rfbClientPtr cl = rfbNewClient(s->screen, sv[0]);
    if (cl) {
        char greeting[64];
        ssize_t n = read(sv[1], greeting, sizeof(greeting));
        if (n <= 0 || write(fd, greeting, (size_t)n) != n || dup3(fd, sv[0], O_CLOEXEC) < 0)
            rfbCloseClient(cl); /* freed by the next rfbProcessEvents */
    }
    close(sv[1]);
    close(fd);
}

static void *server_thread(void *opaque)
{
    struct vnc_server *s = opaque;
    struct pollfd pfd[1 + VNC_MAX_LISTEN + VNC_MAX_CLIENTS + 4];
    while (!atomic_load(&s->stop)) {
        int n = 0;
        pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
        for (int i = 0; i < s->n_listen; i++)
            pfd[n++] = (struct pollfd){ .fd = s->listen_fd[i], .events = POLLIN };
        bool held = false;
        pthread_mutex_lock(&s->lock);
        rfbClientIteratorPtr it = rfbGetClientIterator(s->screen);
        for (rfbClientPtr cl = rfbClientIteratorNext(it); cl; cl = rfbClientIteratorNext(it)) {
            if (cl->onHold)
                held = true;
            else if (cl->sock >= 0 && n < (int)(sizeof(pfd) / sizeof(pfd[0])))
                pfd[n++] = (struct pollfd){ .fd = cl->sock, .events = POLLIN };
        }
        rfbReleaseClientIterator(it);
        pthread_mutex_unlock(&s->lock);
        /* A held client waits for the main thread's next picture; if that publish found the
         * lock taken, ask again shortly (this works while the guest is paused, too). */
        if (poll(pfd, (nfds_t)n, held ? VNC_HOLD_RETRY_MS : -1) < 0 && errno != EINTR)
            break;
        if (held) {
            struct display_event ev = { .kind = DISPLAY_EV_REFRESH };
            display_post_event(s->display, &ev);
        }
        if (pfd[0].revents) {
            char buf[64];
            while (read(s->wake[0], buf, sizeof(buf)) > 0) {
            }
        }
        pthread_mutex_lock(&s->lock);
        for (int i = 0; i < s->n_listen; i++)
            if (pfd[1 + i].revents & POLLIN)
                accept_client(s, s->listen_fd[i]);
        /* Reads client messages, sends due updates, frees clients that went away. */
        rfbProcessEvents(s->screen, 0);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

/* ---- front end (main thread) ---- */

static inline uint32_t to_rfb(uint32_t xrgb)
{
    return (xrgb >> 16 & 0xff) | (xrgb & 0xff00) | (xrgb & 0xff) << 16;
}

static bool vnc_publish(void *opaque, const struct display_surface *surf, bool resized, int y0, int y1)
{
    struct vnc_server *s = opaque;
    if (pthread_mutex_trylock(&s->lock))
        return false;
    if (resized && surf->width == s->width && surf->height == s->height) {
        y0 = 0;
        y1 = surf->height;
    }
    if (surf->width != s->width || surf->height != s->height) {
        uint32_t *fb = malloc((size_t)surf->width * (size_t)surf->height * 4);
        if (!fb) {
            pthread_mutex_unlock(&s->lock);
            return false;
        }
        for (size_t i = 0; i < (size_t)surf->width * (size_t)surf->height; i++)
            fb[i] = to_rfb(surf->pixels[i]);
        rfbNewFramebuffer(s->screen, (char *)fb, surf->width, surf->height, 8, 3, 4);
        s->screen->cursor = NULL;
        free(s->fb);
        s->fb = fb;
        s->width = surf->width;
        s->height = surf->height;
        rfbMarkRectAsModified(s->screen, 0, 0, s->width, s->height);
    } else {
        /* Send only the columns that changed on each line. */
        for (int y = y0; y < y1; y++) {
            const uint32_t *src = surf->pixels + (size_t)y * (size_t)surf->width;
            uint32_t *dst = s->fb + (size_t)y * (size_t)s->width;
            int x0 = -1, x1 = -1;
            for (int x = 0; x < s->width; x++) {
                uint32_t v = to_rfb(src[x]);
                if (dst[x] != v) {
                    dst[x] = v;
                    if (x0 < 0)
                        x0 = x;
                    x1 = x + 1;
                }
            }
            if (x0 >= 0)
                rfbMarkRectAsModified(s->screen, x0, y, x1, y + 1);
        }
    }
    rfbClientIteratorPtr it = rfbGetClientIterator(s->screen);
    for (rfbClientPtr cl = rfbClientIteratorNext(it); cl; cl = rfbClientIteratorNext(it))
        cl->onHold = FALSE;
    rfbReleaseClientIterator(it);
    pthread_mutex_unlock(&s->lock);
    wake_thread(s);
    return true;
}

static bool vnc_watching(void *opaque)
{
    struct vnc_server *s = opaque;
    return atomic_load(&s->clients) > 0;
}

static void vnc_destroy(void *opaque)
{
    struct vnc_server *s = opaque;
    if (s->thread_started) {
        atomic_store(&s->stop, true);
        wake_thread(s);
        pthread_join(s->thread, NULL);
    }
    if (s->screen) {
        rfbShutdownServer(s->screen, TRUE);
        rfbScreenCleanup(s->screen);
    }
    for (int i = 0; i < s->n_listen; i++)
        close(s->listen_fd[i]);
    if (s->unix_path[0])
        unlink(s->unix_path);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    pthread_mutex_destroy(&s->lock);
    keymap_free(s->keymap);
    free(s->fb);
    free(s);
}

static const struct display_frontend_ops vnc_ops = {
    .publish = vnc_publish,
    .watching = vnc_watching,
    .destroy = vnc_destroy,
};

/* ---- listening ---- */

static int listen_unix(struct vnc_server *s, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    s->listen_fd[s->n_listen++] = fd;
    snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
    return 0;
}

/* Listen on every address of host at port; 0 when at least one worked, else errno. */
static int listen_tcp(struct vnc_server *s, const char *host, int port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE }, *res;
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, ports, &hints, &res);
    if (rc)
        return rc == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
    int last = EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai && s->n_listen < VNC_MAX_LISTEN; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 8) < 0) {
            last = errno;
            close(fd);
            continue;
        }
        s->listen_fd[s->n_listen++] = fd;
    }
    freeaddrinfo(res);
    if (s->n_listen)
        return 0;
    return last;
}

/* libvncserver's own log lines would go to stderr: pcvm keeps quiet. */
static void quiet_log(const char *fmt, ...)
{
    (void)fmt;
}

struct vnc_server *vnc_start(const struct vnc_spec *spec, const char *layout, struct display *d,
                             char *err, size_t errlen)
{
    char why_lib[320];
    if (dynlib_load(&dynlib_api_lib, why_lib, sizeof(why_lib)) < 0) {
        snprintf(err, errlen, "pcvm: -vnc: %s", why_lib);
        return NULL;
    }
    struct vnc_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "pcvm: -vnc: out of memory");
        return NULL;
    }
    s->display = d;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    char why_k[512];
    s->keymap = keymap_load(layout ? layout : "en-us", why_k, sizeof(why_k));
    if (!s->keymap) {
        snprintf(err, errlen, "pcvm: -k %s: %s", layout, why_k);
        goto fail;
    }
    char why[512];
    if (spec->unix_socket) {
        if (listen_unix(s, spec->path, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "pcvm: -vnc %s", why);
            goto fail;
        }
    } else {
        int last = spec->to >= 0 ? spec->to : spec->display, e = 0;
        for (int disp = spec->display; disp <= last; disp++) {
            e = listen_tcp(s, spec->host, VNC_BASE_PORT + disp);
            if (!e) {
                s->port = VNC_BASE_PORT + disp;
                snprintf(s->host, sizeof(s->host), "%s", spec->host[0] ? spec->host : "*");
                break;
            }
        }
        if (e) {
            snprintf(err, errlen, "pcvm: -vnc %s:%d: cannot listen: %s", spec->host, spec->display,
                     strerror(e));
            goto fail;
        }
    }
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "pcvm: -vnc: %s", strerror(errno));
        goto fail;
    }
    rfbLog = quiet_log;
    rfbErr = quiet_log;
    int argc = 0;
    s->width = 640;
    s->height = 480;
    s->fb = calloc((size_t)s->width * (size_t)s->height, 4);
    s->screen = s->fb ? rfbGetScreen(&argc, NULL, s->width, s->height, 8, 3, 4) : NULL;
    if (!s->screen) {
        snprintf(err, errlen, "pcvm: -vnc: cannot create the VNC server");
        goto fail;
    }
    rfbScreenInfoPtr scr = s->screen;
    scr->frameBuffer = (char *)s->fb;
    scr->desktopName = "pcvm";
    scr->port = 0;             /* pcvm listens itself */
    scr->ipv6port = 0;
    scr->autoPort = FALSE;
    scr->alwaysShared = TRUE;  /* several viewers at once, as QEMU's share=allow-exclusive does */
    scr->maxClientWait = VNC_CLIENT_WAIT_MS;
    scr->deferUpdateTime = 0;  /* the display already paces updates */
    scr->cursor = NULL;        /* the guest draws its own pointer */
    scr->screenData = s;
    scr->kbdAddEvent = on_key;
    scr->ptrAddEvent = on_pointer;
    scr->newClientHook = on_new_client;
    if (spec->password) {
        s->password_required = true;
        s->password_list[0] = s->password;
        s->password_list[1] = NULL;
        scr->authPasswdData = s->password_list;
        scr->passwordCheck = check_password;
    }
    rfbInitServer(scr);
    if (pthread_create(&s->thread, NULL, server_thread, s)) {
        snprintf(err, errlen, "pcvm: -vnc: cannot start the server thread");
        goto fail;
    }
    s->thread_started = true;
    if (display_add_frontend(d, &vnc_ops, s) < 0) {
        snprintf(err, errlen, "pcvm: -vnc: too many displays");
        goto fail;
    }
    d->vnc = s;
    return s;
fail:
    vnc_destroy(s);
    return NULL;
}

int vnc_set_password(struct vnc_server *s, const char *password)
{
    if (!s->password_required)
        return -1;
    pthread_mutex_lock(&s->lock);
    snprintf(s->password, sizeof(s->password), "%s", password);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int vnc_port(const struct vnc_server *s)
{
    return s->port;
}

void vnc_describe(struct vnc_server *s, char *buf, size_t len)
{
    int n = atomic_load(&s->clients);
    if (s->unix_path[0])
        snprintf(buf, len, "unix:%s (%d client%s)", s->unix_path, n, n == 1 ? "" : "s");
    else
        snprintf(buf, len, "%s:%d (%d client%s)", s->host, s->port, n, n == 1 ? "" : "s");
}

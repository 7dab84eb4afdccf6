/* libFuzzer target: the VNC server (src/ui/vnc.c on libvncserver) fed malformed client
 * messages. One server on a unix socket serves a blank display for the whole run; each input
 * is written by a fresh client connection, which then hangs up. Checked on every input: the
 * server thread takes the connection, lets it go (no client left behind), and the display's
 * event queue (keys, pointer, refresh requests the bytes produced) drains on the main thread.
 * Sources: src/ui/vnc.c src/ui/display.c src/ui/display_console.c src/ui/vga_render.c
 *          src/ui/keymap.c src/ui/keymap_xkb.c src/ui/dynlib.c src/chardev/chardev_vc.c src/hw/i8042.c
 *          src/hw/ps2.c src/hw/vga.c src/hw/pci.c src/mem/memory.c src/util/mainloop.c
 *          src/util/vclock.c src/util/log.c -lvncserver -lxkbcommon -lpthread */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ui/display.h"
#include "ui/vnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mainloop ml;
static struct vclock clock_;
static struct display display;
static struct vnc_server *server;
static char sock_path[108];

static void cleanup(void)
{
    display_destroy(&display);
    mainloop_destroy(&ml);
}

static void setup_once(void)
{
    if (server)
        return;
    if (mainloop_init(&ml) < 0)
        abort();
    vclock_init(&clock_, false, 0, NULL);
    if (display_init(&display, NULL, NULL, &clock_, &ml) < 0)
        abort();
    snprintf(sock_path, sizeof(sock_path), "/tmp/pcvm-fuzz-vnc.%d.sock", (int)getpid());
    unlink(sock_path);
    struct vnc_spec spec = { .unix_socket = true, .to = -1 };
    snprintf(spec.path, sizeof(spec.path), "%s", sock_path);
    char err[256];
    server = vnc_start(&spec, "de", &display, err, sizeof(err));
    if (!server) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    atexit(cleanup);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the main loop's side (display events, refreshes) at least once, until cond() or the
 * deadline. */
static int serve_until(int (*cond)(void), int64_t ms)
{
    int64_t end = now_ms() + ms;
    do {
        vclock_run_timers(&clock_);
        mainloop_poll(&ml, ms ? 1000000 : 0);
        if (cond())
            return 1;
    } while (now_ms() < end);
    return 0;
}

static int no_clients(void)
{
    char d[300];
    vnc_describe(server, d, sizeof(d));
    return strstr(d, "(0 clients)") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    int fd = -1;
    for (int tries = 0; fd < 0; tries++) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            abort();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        /* libFuzzer's timers interrupt system calls; a full backlog says "try again". */
        if ((errno != EINTR && errno != EAGAIN) || tries > 1000) {
            perror("fuzz_vnc: connect"); /* the server stopped listening */
            abort();
        }
        close(fd);
        fd = -1;
        serve_until(no_clients, 1);
    }
    /* Write while reading what the server sends, so neither side blocks the other. */
    size_t off = 0;
    int64_t end = now_ms() + 2000;
    while (off < size && now_ms() < end) {
        struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
        if (poll(&p, 1, 10) <= 0) {
            serve_until(no_clients, 0);
            continue;
        }
        if (p.revents & POLLIN) {
            char buf[65536];
            if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
                break; /* the server dropped us: bad input, fine */
        }
        if (p.revents & POLLOUT) {
            ssize_t n = send(fd, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN)
                break;
            if (n > 0)
                off += (size_t)n;
        }
        serve_until(no_clients, 0);
    }
    close(fd);
    /* The server must notice the hang-up and free the client. */
    if (!serve_until(no_clients, 10000)) {
        fprintf(stderr, "fuzz_vnc: a client was never freed\n");
        abort();
    }
    return 0;
}

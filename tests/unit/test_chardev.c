/* Character back ends: specs, file, null, unix/tcp sockets, pty, and the mux escapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "chardev/chardev.h"
#include "chardev/chardev_fd.h"
#include "chardev/chardev_mux.h"
#include "chardev/chardev_spec.h"
#include "util/mainloop.h"
#include "cli/config.h"
#include "cli/wiring.h"
#include "capture_chardev.h"

/* A front end that records what it receives. */
struct sink {
    uint8_t data[8192];
    size_t len;
    size_t room;   /* what can_read answers */
};

static size_t sink_can_read(void *opaque)
{
    struct sink *s = opaque;
    return s->room;
}

static void sink_read(void *opaque, const uint8_t *buf, size_t len)
{
    struct sink *s = opaque;
    assert_true(len <= s->room);
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    s->room -= len;
}

static void poll_a_bit(struct mainloop *ml, int rounds)
{
    for (int i = 0; i < rounds; i++)
        mainloop_poll(ml, 10 * 1000 * 1000);
}

static void test_spec_parse(void **state)
{
    (void)state;
    struct chardev_spec s;
    char err[256];
    assert_int_equal(chardev_spec_parse("mon:stdio", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_STDIO);
    assert_true(s.mux);
    assert_false(s.signal);   /* QEMU: Ctrl-C goes to the guest behind mon:stdio */
    assert_int_equal(chardev_spec_parse("stdio", &s, err, sizeof(err)), 0);
    assert_true(s.signal);
    assert_false(s.mux);
    assert_int_equal(chardev_spec_parse("unix:/tmp/q.sock,server,nowait", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_UNIX);
    assert_string_equal(s.path, "/tmp/q.sock");
    assert_true(s.server);
    assert_false(s.wait);
    assert_int_equal(chardev_spec_parse("tcp:127.0.0.1:4444,server,nowait", &s, err, sizeof(err)),
                     0);
    assert_int_equal(s.kind, CHARDEV_TCP);
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 4444);
    assert_int_equal(chardev_spec_parse("tcp::4444,server", &s, err, sizeof(err)), 0);
    assert_string_equal(s.host, "");
    assert_true(s.wait);   /* a server waits unless told nowait */
    assert_int_equal(chardev_spec_parse("socket,id=m,path=/tmp/m,server=on,wait=off", &s, err,
                                        sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_UNIX);
    assert_string_equal(s.id, "m");
    assert_false(s.wait);
    assert_int_equal(chardev_spec_parse("file:/tmp/x.log", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_FILE);
    assert_int_equal(chardev_spec_parse("chardev:c0", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_REF);
    assert_string_equal(s.id, "c0");
    assert_int_equal(chardev_spec_parse("none", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_NONE);
    assert_int_equal(chardev_spec_parse("tcp:host", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse("tcp::99999,server", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse("floppy", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse("file:", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse("mon:none", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse("telnet::4444,server", &s, err, sizeof(err)), -2);
    assert_int_equal(chardev_spec_parse("socket,id=x,path=/a,colour=1", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse_opts("null", &s, err, sizeof(err)), -1);   /* no id */
}

static void test_null_and_none(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    char err[256] = "x";
    assert_null(chardev_open("none", "serial0", &ml, err, sizeof(err)));
    assert_string_equal(err, "");   /* none is not an error */
    struct chardev *chr = chardev_open("null", "serial0", &ml, err, sizeof(err));
    assert_non_null(chr);
    chardev_write(chr, (const uint8_t *)"abc", 3);
    chardev_flush(chr);
    chardev_close(chr);
    assert_null(chardev_open("chardev:x", "serial0", &ml, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_null(chardev_open("file:/nonexistent-dir/x.log", "serial0", &ml, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir/x.log"));
    mainloop_destroy(&ml);
}

static void test_file_buffered(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    char path[] = "/tmp/pcvm-test-chr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char spec[64];
    snprintf(spec, sizeof(spec), "file:%s", path);
    char err[256];
    struct chardev *chr = chardev_open(spec, "serial0", &ml, err, sizeof(err));
    assert_non_null(chr);
    for (int i = 0; i < 1000; i++) {
        uint8_t b = (uint8_t)('a' + i % 26);
        chardev_write(chr, &b, 1);
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);   /* buffered: not one write per byte */
    mainloop_poll(&ml, 0);             /* the loop flushes */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1000);
    /* beyond the sync threshold a blocking fd is written without waiting for the loop */
    static uint8_t big[FDCHR_SYNC_FLUSH + 10];
    memset(big, 'z', sizeof(big));
    chardev_write(chr, big, sizeof(big));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1000 + (off_t)sizeof(big));
    chardev_write(chr, (const uint8_t *)"END", 3);
    chardev_close(chr);                /* close flushes */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1003 + (off_t)sizeof(big));
    FILE *f = fopen(path, "r");
    char head[4] = { 0 };
    assert_int_equal(fread(head, 1, 3, f), 3);
    assert_string_equal(head, "abc");
    fclose(f);
    unlink(path);
    mainloop_destroy(&ml);
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static ssize_t read_timeout(int fd, void *buf, size_t len)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (poll(&pfd, 1, 2000) <= 0)
        return -1;
    return read(fd, buf, len);
}

static void test_unix_socket(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/pcvm-test-%d.sock", (int)getpid());
    char spec[128];
    snprintf(spec, sizeof(spec), "unix:%s,server,nowait", path);
    char err[256];
    struct chardev *chr = chardev_open(spec, "monitor0", &ml, err, sizeof(err));
    assert_non_null(chr);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    struct sink sink = { .room = sizeof(sink.data) };
    chardev_attach(chr, sink_can_read, sink_read, &sink);

    for (int round = 0; round < 2; round++) {   /* a second client after the first leaves */
        int c = connect_unix(path);
        assert_true(c >= 0);
        poll_a_bit(&ml, 2);                   /* accept */
        assert_int_equal(write(c, "info status\n", 12), 12);
        sink.len = 0;
        sink.room = 100;
        for (int i = 0; i < 50 && sink.len < 12; i++)
            poll_a_bit(&ml, 1);
        assert_int_equal(sink.len, 12);
        assert_memory_equal(sink.data, "info status\n", 12);
        chardev_write(chr, (const uint8_t *)"VM status: running\r\n", 20);
        poll_a_bit(&ml, 1);
        char buf[64];
        ssize_t n = read_timeout(c, buf, sizeof(buf));
        assert_int_equal(n, 20);
        assert_memory_equal(buf, "VM status: running\r\n", 20);
        close(c);
        poll_a_bit(&ml, 3);                   /* notice the hang-up */
    }
    /* the front end full: input stays queued until it has room */
    int c = connect_unix(path);
    poll_a_bit(&ml, 2);
    sink.len = 0;
    sink.room = 0;
    assert_int_equal(write(c, "abcdef", 6), 6);
    poll_a_bit(&ml, 3);
    assert_int_equal(sink.len, 0);
    sink.room = 4;
    poll_a_bit(&ml, 1);
    assert_int_equal(sink.len, 4);
    sink.room = 100;
    poll_a_bit(&ml, 2);
    assert_int_equal(sink.len, 6);
    assert_memory_equal(sink.data, "abcdef", 6);
    close(c);
    /* a client that leaves while output is queued: no SIGPIPE, back to listening */
    c = connect_unix(path);
    poll_a_bit(&ml, 2);
    close(c);
    for (int i = 0; i < 4; i++) {
        chardev_write(chr, (const uint8_t *)"late output\r\n", 13);
        poll_a_bit(&ml, 1);
    }
    c = connect_unix(path);
    assert_true(c >= 0);
    poll_a_bit(&ml, 2);
    chardev_write(chr, (const uint8_t *)"again", 5);
    poll_a_bit(&ml, 1);
    char buf[16];
    assert_int_equal(read_timeout(c, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "again", 5);
    close(c);
    chardev_close(chr);
    assert_int_equal(access(path, F_OK), -1);   /* removed at close */
    mainloop_destroy(&ml);
}

static void test_tcp_socket(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    char err[256];
    struct chardev *chr = NULL;
    unsigned port = 0;
    for (unsigned p = 45000 + (unsigned)(getpid() % 1000); p < 47000 && !chr; p += 7) {
        char spec[64];
        snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u,server,nowait", p);
        chr = chardev_open(spec, "serial0", &ml, err, sizeof(err));
        port = p;
    }
    assert_non_null(chr);
    struct sink sink = { .room = sizeof(sink.data) };
    chardev_attach(chr, sink_can_read, sink_read, &sink);
    /* output with no client is dropped, as QEMU does */
    chardev_write(chr, (const uint8_t *)"lost", 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    poll_a_bit(&ml, 2);
    chardev_write(chr, (const uint8_t *)"hello", 5);
    poll_a_bit(&ml, 1);
    char buf[16];
    assert_int_equal(read_timeout(c, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(write(c, "x", 1), 1);
    for (int i = 0; i < 50 && !sink.len; i++)
        poll_a_bit(&ml, 1);
    assert_int_equal(sink.len, 1);
    close(c);
    chardev_close(chr);
    mainloop_destroy(&ml);
}

static void test_pty(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    /* capture stderr for the "redirected" line */
    char logpath[] = "/tmp/pcvm-test-stderr-XXXXXX";
    int logfd = mkstemp(logpath);
    assert_true(logfd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(logfd, 2);
    char err[256];
    struct chardev *chr = chardev_open("pty", "serial0", &ml, err, sizeof(err));
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_non_null(chr);
    char line[256] = { 0 };
    assert_true(pread(logfd, line, sizeof(line) - 1, 0) > 0);
    close(logfd);
    unlink(logpath);
    char ptsname_buf[128];
    assert_int_equal(sscanf(line, "char device redirected to %127s (label serial0)",
                            ptsname_buf), 1);
    assert_non_null(strstr(line, "(label serial0)\n"));
    assert_int_equal(strncmp(ptsname_buf, "/dev/pts/", 9), 0);

    /* output written before anyone attaches is kept and read later */
    chardev_write(chr, (const uint8_t *)"boot\r\n", 6);
    poll_a_bit(&ml, 1);
    int slave = open(ptsname_buf, O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    char buf[32];
    assert_int_equal(read_timeout(slave, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "boot\r\n", 6);
    struct sink sink = { .room = sizeof(sink.data) };
    chardev_attach(chr, sink_can_read, sink_read, &sink);
    assert_int_equal(write(slave, "k", 1), 1);
    for (int i = 0; i < 50 && !sink.len; i++)
        poll_a_bit(&ml, 1);
    assert_int_equal(sink.len, 1);
    assert_int_equal(sink.data[0], 'k');
    close(slave);
    chardev_close(chr);
    mainloop_destroy(&ml);
}

static void test_mux_escapes(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    static struct capture cap;
    memset(&cap, 0, sizeof(cap));
    struct chardev *be = calloc(1, sizeof(*be));
    be->ops = &capture_ops;
    be->priv = &cap;
    struct chardev *mux = chardev_mux_open(be, &ml);
    assert_true(chardev_is_mux(mux));
    assert_false(chardev_is_mux(be));
    struct chardev *serial = chardev_mux_frontend(mux, "serial0");
    struct chardev *mon = chardev_mux_frontend(mux, "monitor0");
    assert_non_null(serial);
    assert_non_null(mon);
    struct sink s_in = { .room = sizeof(s_in.data) }, m_in = { .room = sizeof(m_in.data) };
    chardev_attach(serial, sink_can_read, sink_read, &s_in);
    chardev_attach(mon, sink_can_read, sink_read, &m_in);

    /* plain input goes to the first front end */
    chardev_mux_input(mux, (const uint8_t *)"ls\r", 3);
    assert_int_equal(s_in.len, 3);
    assert_int_equal(m_in.len, 0);
    /* Ctrl-A c: the monitor gets the focus, and the next bytes */
    chardev_mux_input(mux, (const uint8_t *)"\x01" "cinfo", 6);
    assert_int_equal(chardev_mux_focus(mux), 1);
    assert_int_equal(m_in.len, 4);
    assert_memory_equal(m_in.data, "info", 4);
    /* the escape split across two reads still works; back to the serial port */
    chardev_mux_input(mux, (const uint8_t *)"\x01", 1);
    chardev_mux_input(mux, (const uint8_t *)"c", 1);
    assert_int_equal(chardev_mux_focus(mux), 0);
    assert_int_equal(s_in.len, 3);
    /* Ctrl-A Ctrl-A and Ctrl-A a send one Ctrl-A to the guest */
    chardev_mux_input(mux, (const uint8_t *)"\x01\x01" "\x01" "a", 4);
    assert_int_equal(s_in.len, 5);
    assert_int_equal(s_in.data[3], 0x01);
    assert_int_equal(s_in.data[4], 0x01);
    /* Ctrl-A h prints help on the back end, nothing reaches the guest */
    chardev_mux_input(mux, (const uint8_t *)"\x01h", 2);
    assert_int_equal(s_in.len, 5);
    assert_non_null(strstr(cap.out, "C-a x    exit emulator"));
    assert_non_null(strstr(cap.out, "C-a c    switch between console and monitor"));
    /* unknown escape: swallowed */
    chardev_mux_input(mux, (const uint8_t *)"\x01z", 2);
    assert_int_equal(s_in.len, 5);
    /* both front ends write through to the back end */
    cap.len = 0;
    chardev_write(serial, (const uint8_t *)"S", 1);
    chardev_write(mon, (const uint8_t *)"M", 1);
    assert_int_equal(cap.len, 2);
    assert_memory_equal(cap.out, "SM", 2);
    /* Ctrl-A x: exit status 0, after saying so */
    assert_false(ml.quit);
    chardev_mux_input(mux, (const uint8_t *)"\x01x", 2);
    assert_true(ml.quit);
    assert_int_equal(ml.exit_status, 0);
    assert_non_null(strstr(cap.out, "pcvm: terminated"));
    chardev_close(mon);      /* front ends belong to the mux: no-op */
    chardev_close(mux);      /* closes and frees the back end too */
    mainloop_destroy(&ml);
}

static void test_mux_flow_control(void **state)
{
    (void)state;
    static struct capture cap;
    struct chardev *be = calloc(1, sizeof(*be));
    be->ops = &capture_ops;
    be->priv = &cap;
    struct chardev *mux = chardev_mux_open(be, NULL);
    struct chardev *serial = chardev_mux_frontend(mux, "serial0");
    struct sink s_in = { .room = 0 };
    chardev_attach(serial, sink_can_read, sink_read, &s_in);
    /* the mux tells the back end how much the focused front end can take */
    assert_int_equal(be->fe_can_read(be->fe_opaque), 0);
    s_in.room = 16;
    assert_int_equal(be->fe_can_read(be->fe_opaque), 16);
    for (int i = 0; i < 3; i++)
        assert_non_null(chardev_mux_frontend(mux, "x"));
    assert_null(chardev_mux_frontend(mux, "fifth"));   /* at most 4 */
    assert_null(chardev_mux_frontend(be, "not-a-mux"));
    chardev_close(mux);
}

/* stdio when stdin is a pipe: the terminal is left alone, bytes flow both ways. */
static void test_stdio_pipe(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    fflush(stdout);
    int saved0 = dup(0), saved1 = dup(1);
    dup2(in[0], 0);
    dup2(out[1], 1);
    char err[256];
    struct chardev *chr = chardev_open("stdio", "serial0", &ml, err, sizeof(err));
    assert_non_null(chr);
    struct sink sink = { .room = 100 };
    chardev_attach(chr, sink_can_read, sink_read, &sink);
    assert_int_equal(write(in[1], "typed", 5), 5);
    for (int i = 0; i < 20 && sink.len < 5; i++)
        poll_a_bit(&ml, 1);
    assert_int_equal(sink.len, 5);
    assert_memory_equal(sink.data, "typed", 5);
    for (int i = 0; i < 100; i++)
        chardev_write(chr, (const uint8_t *)"x", 1);
    poll_a_bit(&ml, 1);
    char buf[256];
    assert_int_equal(read_timeout(out[0], buf, sizeof(buf)), 100);   /* one write of 100 */
    close(in[1]);          /* EOF on stdin: output keeps working */
    poll_a_bit(&ml, 2);
    chardev_write(chr, (const uint8_t *)"after", 5);
    chardev_close(chr);    /* flushes */
    assert_int_equal(read_timeout(out[0], buf, sizeof(buf)), 5);
    dup2(saved0, 0);
    dup2(saved1, 1);
    close(saved0);
    close(saved1);
    close(in[0]);
    close(out[0]);
    close(out[1]);
    mainloop_destroy(&ml);
}

/* From a parsed config to front ends: mon: muxes and shared -chardev ids. */
static void test_wiring(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    char path[] = "/tmp/pcvm-test-wiring-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char serial_spec[64];
    snprintf(serial_spec, sizeof(serial_spec), "mon:file:%s", path);
    char *argv[] = { "pcvm", "-serial", serial_spec, "-chardev", "null,id=shared,mux=on",
                     "-serial", "chardev:shared", "-mon", "chardev=shared", "-serial", "null",
                     "-debugcon", "null", NULL };
    struct vm_config cfg;
    char err[512];
    assert_int_equal(vm_config_parse(&cfg, 13, argv, err, sizeof(err)), VM_PARSE_OK);
    struct vm_chardevs cd;
    assert_int_equal(vm_chardevs_open(&cd, &cfg, &ml, err, sizeof(err)), 0);
    assert_int_equal(cd.n_serial, 3);
    assert_true(chardev_is_mux_frontend(cd.serial[0]));
    assert_true(chardev_is_mux_frontend(cd.serial[1]));
    assert_false(chardev_is_mux_frontend(cd.serial[2]));
    assert_int_equal(cd.n_monitors, 2);   /* the mon: one and the -mon one */
    assert_true(chardev_is_mux_frontend(cd.monitor[0]));
    assert_string_equal(cd.serial[0]->label, "serial0");
    assert_string_equal(cd.monitor[0]->label, "monitor0");
    assert_non_null(cd.debugcon);
    /* serial and monitor of the mon: mux land in the same file */
    chardev_write(cd.serial[0], (const uint8_t *)"S", 1);
    chardev_write(cd.monitor[0], (const uint8_t *)"M", 1);
    vm_chardevs_close(&cd);
    FILE *f = fopen(path, "r");
    char buf[8] = { 0 };
    assert_int_equal(fread(buf, 1, sizeof(buf), f), 2);
    assert_string_equal(buf, "SM");
    fclose(f);
    unlink(path);
    vm_config_free(&cfg);

    /* a chardev without mux=on has one user */
    char *argv2[] = { "pcvm", "-chardev", "null,id=one", "-serial", "chardev:one", "-mon",
                      "chardev=one", NULL };
    assert_int_equal(vm_config_parse(&cfg, 7, argv2, err, sizeof(err)), VM_PARSE_OK);
    assert_int_equal(vm_chardevs_open(&cd, &cfg, &ml, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already in use"));
    vm_config_free(&cfg);

    /* a back end that cannot open: one line naming the option */
    char *argv3[] = { "pcvm", "-serial", "file:/nonexistent-dir/x", NULL };
    assert_int_equal(vm_config_parse(&cfg, 3, argv3, err, sizeof(err)), VM_PARSE_OK);
    assert_int_equal(vm_chardevs_open(&cd, &cfg, &ml, err, sizeof(err)), -1);
    assert_int_equal(strncmp(err, "pcvm: -serial file:/nonexistent-dir/x: ", 39), 0);
    vm_config_free(&cfg);
    mainloop_destroy(&ml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parse),   cmocka_unit_test(test_null_and_none),
        cmocka_unit_test(test_file_buffered), cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_tcp_socket),   cmocka_unit_test(test_pty),
        cmocka_unit_test(test_mux_escapes),  cmocka_unit_test(test_mux_flow_control),
        cmocka_unit_test(test_stdio_pipe),   cmocka_unit_test(test_wiring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

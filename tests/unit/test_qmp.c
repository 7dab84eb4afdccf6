/* QMP sessions (greeting, negotiation, id, error classes, events, framing) and the greeting
 * of HMP and QMP monitors on every connect of a nowait server socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chardev/chardev.h"
#include "monitor/monitor.h"
#include "monitor/qmp.h"
#include "monitor/registry.h"
#include "util/mainloop.h"
#include "capture_chardev.h"

struct machine {
    bool running;
    int stops, quits;
    struct monitor_registry *reg;
};

static const char *m_status(void *o) { return ((struct machine *)o)->running ? "running" : "paused (prelaunch)"; }
static void m_stop(void *o)
{
    struct machine *m = o;
    m->running = false;
    m->stops++;
    monitor_event(m->reg, "STOP", NULL);
}
static void m_quit(void *o) { ((struct machine *)o)->quits++; }

static const struct monitor_ops ops = { .status = m_status, .stop = m_stop, .quit = m_quit };

static json_t *echo_cmd(json_t *args, void *opaque, struct qmp_error *err)
{
    (void)opaque;
    static const char *const allowed[] = { "text", NULL };
    const char *t;
    if (qmp_check_args(args, allowed, err) < 0 || qmp_arg_str(args, "text", true, &t, err) < 0)
        return NULL;
    if (!strcmp(t, "nodev"))
        return qmp_error_set(err, "DeviceNotFound", "Device '%s' not found", t);
    return json_pack("{s:s}", "text", t);
}

static const struct qmp_command extra[] = { { "x-echo", echo_cmd } };

static void hmp_hello(struct monitor *mon, const char *args, void *opaque)
{
    (void)opaque;
    monitor_printf(mon, "hello %s\n", args);
}

static const struct hmp_command extra_hmp[] = {
    { "hello", NULL, "name", "say hello", hmp_hello },
    { "info hello", NULL, "", "say hello", hmp_hello },
};

struct fixture {
    struct capture cap;
    struct chardev chr;
    struct machine m;
    struct monitor_registry reg;
    struct qmp_session *q;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->chr.ops = &capture_ops;
    f->chr.priv = &f->cap;
    f->m.running = true;
    f->m.reg = &f->reg;
    monitor_registry_init(&f->reg, &ops, &f->m);
    monitor_registry_add_qmp(&f->reg, extra, 1, NULL);
    monitor_registry_add_hmp(&f->reg, extra_hmp, 2, NULL);
    f->q = qmp_new(&f->chr, &f->reg, false);
    *state = f;
    return f->q ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    qmp_free(f->q);
    assert_int_equal(f->reg.n_sessions, 0);
    free(f);
    return 0;
}

/* Send text, return everything written since (the last message parsed when last != NULL). */
static const char *qsend(struct fixture *f, const char *text)
{
    f->cap.len = 0;
    f->cap.out[0] = '\0';
    qmp_input(f->q, (const uint8_t *)text, strlen(text));
    return f->cap.out;
}

static void test_greeting_and_negotiation(void **state)
{
    struct fixture *f = *state;
    assert_non_null(strstr(f->cap.out, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
                                       "\"major\": 7}, \"package\": \"pcvm\"}, \"capabilities\": []}}\r\n"));
    assert_string_equal(qsend(f, "{\"execute\": \"query-status\"}"),
                        "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting "
                        "capabilities negotiation with 'qmp_capabilities'\"}}\r\n");
    assert_string_equal(qsend(f, "{\"execute\": \"qmp_capabilities\", \"id\": \"a1\"}"),
                        "{\"return\": {}, \"id\": \"a1\"}\r\n");
    assert_non_null(strstr(qsend(f, "{\"execute\": \"qmp_capabilities\"}"),
                           "Capabilities negotiation is already complete"));
    assert_string_equal(qsend(f, "{\"execute\": \"query-status\", \"id\": 5}"),
                        "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
                        "\"running\": true}, \"id\": 5}\r\n");
}

static void test_commands_errors_events(void **state)
{
    struct fixture *f = *state;
    qsend(f, "{\"execute\": \"qmp_capabilities\"}");
    /* an event goes out before the reply, as QEMU's STOP does */
    const char *out = qsend(f, "{\"execute\": \"stop\"}");
    assert_non_null(strstr(out, "\"event\": \"STOP\"}\r\n{\"return\": {}}\r\n"));
    assert_non_null(strstr(out, "{\"timestamp\": {\"seconds\": "));
    assert_int_equal(f->m.stops, 1);
    assert_non_null(strstr(qsend(f, "{\"execute\": \"query-status\"}"), "\"status\": \"prelaunch\""));
    assert_string_equal(qsend(f, "{\"execute\": \"x-nope\", \"id\": [1]}"),
                        "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command "
                        "x-nope has not been found\"}, \"id\": [1]}\r\n");
    assert_string_equal(qsend(f, "{\"execute\": \"x-echo\", \"arguments\": {\"text\": \"hi\"}}"),
                        "{\"return\": {\"text\": \"hi\"}}\r\n");
    assert_non_null(strstr(qsend(f, "{\"execute\": \"x-echo\", \"arguments\": {\"text\": \"nodev\"}}"),
                           "\"class\": \"DeviceNotFound\""));
    assert_non_null(strstr(qsend(f, "{\"execute\": \"x-echo\"}"), "Parameter 'text' is missing"));
    assert_non_null(strstr(qsend(f, "{\"execute\": \"x-echo\", \"arguments\": {\"text\": 1}}"),
                           "Invalid parameter type for 'text', expected: string"));
    assert_non_null(strstr(qsend(f, "{\"execute\": \"x-echo\", \"arguments\": {\"text\": \"a\", \"b\": 1}}"),
                           "Parameter 'b' is unexpected"));
    assert_non_null(strstr(qsend(f, "{\"execute\": \"stop\", \"arguments\": []}"),
                           "QMP input member 'arguments' must be an object"));
    assert_non_null(strstr(qsend(f, "{\"exec\": \"stop\"}"), "QMP input member 'exec' is unexpected"));
    assert_non_null(strstr(qsend(f, "{\"id\": 1}"), "QMP input lacks member 'execute'"));
    assert_non_null(strstr(qsend(f, "{\"execute\": 3}"), "'execute' must be a string"));
    assert_non_null(strstr(qsend(f, "[1, 2]"), "QMP input must be a JSON object"));
    assert_non_null(strstr(qsend(f, "{\"execute\": }"), "\"class\": \"GenericError\", \"desc\": \"JSON parse error"));
    /* HMP passthrough, with the registry's commands */
    assert_string_equal(qsend(f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                                "{\"command-line\": \"hello world\"}}"),
                        "{\"return\": \"hello world\\r\\n\"}\r\n");
    assert_non_null(strstr(qsend(f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                                   "{\"command-line\": \"info status\"}}"),
                           "VM status: paused (prelaunch)"));
    out = qsend(f, "{\"execute\": \"query-commands\"}");
    assert_non_null(strstr(out, "{\"name\": \"x-echo\"}"));
    assert_non_null(strstr(out, "{\"name\": \"human-monitor-command\"}"));
    assert_string_equal(qsend(f, "{\"execute\": \"quit\"}"), "{\"return\": {}}\r\n");
    assert_int_equal(f->m.quits, 1);
}

static void test_framing(void **state)
{
    struct fixture *f = *state;
    /* two requests in one read, one request over three reads, strings with braces */
    const char *out = qsend(f, "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"x-echo\",\"arguments\":{\"text\":\"}{\\\"\"}}");
    assert_non_null(strstr(out, "{\"return\": {}}\r\n{\"return\": {\"text\": \"}{\\\"\"}}\r\n"));
    assert_string_equal(qsend(f, "  {\"execute\": \"x-ec"), "");
    assert_string_equal(qsend(f, "ho\", \"arguments\": {\"te"), "");
    assert_string_equal(qsend(f, "xt\": \"ok\"}}\n"), "{\"return\": {\"text\": \"ok\"}}\r\n");
    /* a bare scalar is one error once it ends; stray closers too */
    assert_non_null(strstr(qsend(f, "123 "), "QMP input must be a JSON object"));
    assert_non_null(strstr(qsend(f, "] "), "JSON parse error"));
    /* an oversized request: one error, then the session works again */
    size_t big = QMP_MAX_INPUT + 100;
    char *junk = malloc(big + 1);
    junk[0] = '[';
    memset(junk + 1, '1', big - 2);
    junk[big - 1] = ']';
    junk[big] = '\0';
    f->cap.len = 0;
    qmp_input(f->q, (const uint8_t *)junk, big);
    free(junk);
    assert_non_null(strstr(f->cap.out, "request too large"));
    assert_null(strstr(strstr(f->cap.out, "request too large") + 1, "error"));
    assert_string_equal(qsend(f, "{\"execute\": \"x-echo\", \"arguments\": {\"text\": \"again\"}}"),
                        "{\"return\": {\"text\": \"again\"}}\r\n");
}

static void test_pretty(void **state)
{
    (void)state;
    struct capture cap = { 0 };
    struct chardev chr = { .ops = &capture_ops, .priv = &cap };
    struct monitor_registry reg;
    monitor_registry_init(&reg, NULL, NULL);
    struct qmp_session *q = qmp_new(&chr, &reg, true);
    assert_non_null(strstr(cap.out, "{\r\n    \"QMP\": {\r\n"));
    qmp_free(q);
}

/* ---- greeting on every connect of a nowait server socket ---- */

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

/* Poll the loop until the client has received text containing want. */
static bool client_sees(struct mainloop *ml, int fd, const char *want)
{
    char buf[4096];
    size_t len = 0;
    for (int i = 0; i < 200; i++) {
        mainloop_poll(ml, 10 * 1000 * 1000);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 0) > 0) {
            ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
            if (n > 0)
                len += (size_t)n;
            buf[len] = '\0';
            if (strstr(buf, want))
                return true;
        }
    }
    return false;
}

static void test_greets_every_client(void **state)
{
    (void)state;
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    char hpath[64], qpath[64], spec[128], err[256];
    snprintf(hpath, sizeof(hpath), "/tmp/pcvm-test-hmp-%d.sock", (int)getpid());
    snprintf(qpath, sizeof(qpath), "/tmp/pcvm-test-qmp-%d.sock", (int)getpid());
    snprintf(spec, sizeof(spec), "unix:%s,server,nowait", hpath);
    struct chardev *hchr = chardev_open(spec, "monitor0", &ml, err, sizeof(err));
    snprintf(spec, sizeof(spec), "unix:%s,server,nowait", qpath);
    struct chardev *qchr = chardev_open(spec, "monitor1", &ml, err, sizeof(err));
    assert_non_null(hchr);
    assert_non_null(qchr);
    struct monitor_registry reg;
    struct machine m = { .running = true, .reg = &reg };
    monitor_registry_init(&reg, &ops, &m);
    struct monitor *mon = monitor_new_in(hchr, &reg);
    struct qmp_session *q = qmp_new(qchr, &reg, false);
    for (int round = 0; round < 3; round++) {
        int h = connect_unix(hpath);
        assert_true(h >= 0);
        assert_true(client_sees(&ml, h, "type 'help' for more information\r\n(qemu) "));
        assert_int_equal(write(h, "info status\r", 12), 12);
        assert_true(client_sees(&ml, h, "VM status: running\r\n(qemu) "));
        close(h);
        int c = connect_unix(qpath);
        assert_true(c >= 0);
        assert_true(client_sees(&ml, c, "{\"QMP\": {\"version\""));
        /* each client negotiates again */
        assert_int_equal(write(c, "{\"execute\":\"query-status\"}", 26), 26);
        assert_true(client_sees(&ml, c, "Expecting capabilities negotiation"));
        close(c);
        for (int i = 0; i < 3; i++)
            mainloop_poll(&ml, 10 * 1000 * 1000);   /* notice the hang-ups */
    }
    monitor_free(mon);
    qmp_free(q);
    chardev_close(hchr);
    chardev_close(qchr);
    mainloop_destroy(&ml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greeting_and_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_errors_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
        cmocka_unit_test(test_pretty),
        cmocka_unit_test(test_greets_every_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

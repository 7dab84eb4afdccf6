/* QMP sessions: framing of the JSON stream, negotiation, dispatch, replies and events. */
#include "monitor/qmp.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "chardev/chardev.h"
#include "monitor/monitor.h"

/* ---- output ---- */

static void send_json(struct qmp_session *q, json_t *msg)
{
    size_t flags = JSON_PRESERVE_ORDER | (q->pretty ? JSON_INDENT(4) : 0);
    char *text = json_dumps(msg, flags);
    if (!text)
        return;
    /* QEMU ends every message, and every line of a pretty one, with "\r\n". */
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        chardev_write(q->chr, (const uint8_t *)p, n);
        chardev_write(q->chr, (const uint8_t *)"\r\n", 2);
        p += n + (nl ? 1 : 0);
    }
    free(text);
}

static json_t *version_object(void)
{
    return json_pack("{s:{s:i,s:i,s:i},s:s}", "qemu", "micro", QMP_QEMU_MICRO, "minor",
                     QMP_QEMU_MINOR, "major", QMP_QEMU_MAJOR, "package", "pcvm");
}

static void greet(struct qmp_session *q)
{
    json_t *g = json_pack("{s:{s:o,s:[]}}", "QMP", "version", version_object(), "capabilities");
    if (g)
        send_json(q, g);
    json_decref(g);
}

void qmp_send_event(struct qmp_session *q, const char *name, json_t *data)
{
    if (!q->command_mode)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    json_t *ev = json_pack("{s:{s:I,s:I},s:s}", "timestamp", "seconds", (json_int_t)tv.tv_sec,
                           "microseconds", (json_int_t)tv.tv_usec, "event", name);
    if (!ev)
        return;
    if (data)
        json_object_set(ev, "data", data);
    send_json(q, ev);
    json_decref(ev);
}

/* ---- core commands (the machine's come from the registry) ---- */

static json_t *run_core(struct qmp_session *q, void (*fn)(void *), const char *name,
                        struct qmp_error *err)
{
    if (!fn)
        return qmp_error_set(err, "GenericError", "%s is not available", name);
    fn(q->reg->opaque);
    return json_object();
}

/* The HMP status ("paused (prelaunch)") as QMP's RunState ("prelaunch"). */
static json_t *query_status(struct qmp_session *q)
{
    const struct monitor_ops *ops = q->reg->ops;
    const char *s = ops && ops->status ? ops->status(q->reg->opaque) : "running";
    char state[64];
    const char *paren = strchr(s, '(');
    if (paren) {
        snprintf(state, sizeof(state), "%s", paren + 1);
        state[strcspn(state, ")")] = '\0';
    } else {
        snprintf(state, sizeof(state), "%s", s);
    }
    return json_pack("{s:s,s:b,s:b}", "status", state, "singlestep", 0, "running",
                     !strcmp(state, "running"));
}

static const char *const core_names[] = {
    "qmp_capabilities", "query-commands", "query-version", "query-status", "stop", "cont",
    "system_reset", "system_powerdown", "quit", "human-monitor-command", NULL,
};

static json_t *query_commands(struct qmp_session *q)
{
    json_t *list = json_array();
    for (size_t i = 0; core_names[i]; i++)
        json_array_append_new(list, json_pack("{s:s}", "name", core_names[i]));
    for (unsigned t = 0; t < q->reg->n_qmp; t++) {
        const struct qmp_command *cmds = q->reg->qmp[t].cmds;
        for (size_t i = 0; i < q->reg->qmp[t].n; i++)
            json_array_append_new(list, json_pack("{s:s}", "name", cmds[i].name));
    }
    return list;
}

static json_t *human_monitor_command(struct qmp_session *q, json_t *args, struct qmp_error *err)
{
    static const char *const allowed[] = { "command-line", "cpu-index", NULL };
    const char *line;
    long long cpu = 0;
    if (qmp_check_args(args, allowed, err) < 0 ||
        qmp_arg_str(args, "command-line", true, &line, err) < 0 ||
        qmp_arg_int(args, "cpu-index", false, &cpu, err) < 0)
        return NULL;
    if (cpu < 0 || cpu > 255)
        return qmp_error_set(err, "GenericError", "Parameter 'cpu-index' expects a CPU index");
    char *out = monitor_run_captured(q->reg, line, (int)cpu);
    if (!out)
        return qmp_error_set(err, "GenericError", "out of memory");
    json_t *r = json_string(out);
    if (!r)   /* not UTF-8 (a guest string in the output): keep it valid JSON */
        r = json_stringn_nocheck(out, strlen(out));
    free(out);
    return r;
}

static json_t *run_command(struct qmp_session *q, const char *name, json_t *args,
                           struct qmp_error *err)
{
    static const char *const none[] = { NULL };
    const struct monitor_ops *ops = q->reg->ops;
    void *opaque;
    /* The registry first: a subsystem may provide a fuller version of a core command. */
    const struct qmp_command *c = monitor_registry_find_qmp(q->reg, name, &opaque);
    if (c)
        return c->fn(args, opaque, err);
    if (!strcmp(name, "human-monitor-command"))
        return human_monitor_command(q, args, err);
    bool known = false;
    for (size_t i = 0; core_names[i]; i++)
        known |= !strcmp(core_names[i], name);
    if (!known)
        return qmp_error_set(err, "CommandNotFound", "The command %s has not been found", name);
    if (qmp_check_args(args, none, err) < 0)
        return NULL;
    if (!strcmp(name, "query-commands"))
        return query_commands(q);
    if (!strcmp(name, "query-version"))
        return version_object();
    if (!strcmp(name, "query-status"))
        return query_status(q);
    if (!strcmp(name, "stop"))
        return run_core(q, ops ? ops->stop : NULL, name, err);
    if (!strcmp(name, "cont"))
        return run_core(q, ops ? ops->cont : NULL, name, err);
    if (!strcmp(name, "system_reset"))
        return run_core(q, ops ? ops->system_reset : NULL, name, err);
    if (!strcmp(name, "system_powerdown"))
        return run_core(q, ops ? ops->system_powerdown : NULL, name, err);
    if (!strcmp(name, "quit"))
        return run_core(q, ops ? ops->quit : NULL, name, err);
    return qmp_error_set(err, "CommandNotFound", "The command %s has not been found", name);
}

static json_t *capabilities(struct qmp_session *q, json_t *args, struct qmp_error *err)
{
    static const char *const allowed[] = { "enable", NULL };
    if (qmp_check_args(args, allowed, err) < 0)
        return NULL;
    json_t *en = json_object_get(args, "enable");
    if (en && !json_is_array(en))
        return qmp_error_set(err, "GenericError",
                             "Invalid parameter type for 'enable', expected: array");
    size_t i;
    json_t *cap;
    json_array_foreach(en, i, cap) {
        if (!json_is_string(cap))
            return qmp_error_set(err, "GenericError",
                                 "Invalid parameter type for 'enable', expected: string");
        return qmp_error_set(err, "GenericError", "Capability '%s' not available",
                             json_string_value(cap));
    }
    q->command_mode = true;
    return json_object();
}

json_t *qmp_dispatch(struct qmp_session *q, json_t *req)
{
    struct qmp_error err = { 0 };
    json_t *ret = NULL, *id = NULL;
    if (!json_is_object(req)) {
        qmp_error_set(&err, "GenericError", "QMP input must be a JSON object");
        goto reply;
    }
    id = json_object_get(req, "id");
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
            qmp_error_set(&err, "GenericError", "QMP input member '%s' is unexpected", key);
            goto reply;
        }
    }
    json_t *exec = json_object_get(req, "execute");
    if (!exec) {
        qmp_error_set(&err, "GenericError", "QMP input lacks member 'execute'");
        goto reply;
    }
    if (!json_is_string(exec)) {
        qmp_error_set(&err, "GenericError", "QMP input member 'execute' must be a string");
        goto reply;
    }
    json_t *args = json_object_get(req, "arguments");
    if (args && !json_is_object(args)) {
        qmp_error_set(&err, "GenericError", "QMP input member 'arguments' must be an object");
        goto reply;
    }
    json_t *empty = json_object();
    if (!args)
        args = empty;
    const char *name = json_string_value(exec);
    if (!strcmp(name, "qmp_capabilities")) {
        if (q->command_mode)
            qmp_error_set(&err, "CommandNotFound",
                          "Capabilities negotiation is already complete, command ignored");
        else
            ret = capabilities(q, args, &err);
    } else if (!q->command_mode) {
        qmp_error_set(&err, "CommandNotFound",
                      "Expecting capabilities negotiation with 'qmp_capabilities'");
    } else {
        ret = run_command(q, name, args, &err);
        if (!ret && !err.cls)
            qmp_error_set(&err, "GenericError", "%s failed", name);
    }
    json_decref(empty);
reply:;
    json_t *reply = ret ? json_pack("{s:o}", "return", ret)
                        : json_pack("{s:{s:s,s:s}}", "error", "class", err.cls, "desc", err.desc);
    if (reply && id)
        json_object_set(reply, "id", id);
    return reply;
}

/* ---- input framing: one request is one top-level JSON value ---- */

static void reply_to(struct qmp_session *q, json_t *reply)
{
    if (reply)
        send_json(q, reply);
    json_decref(reply);
}

static void parse_error(struct qmp_session *q, const char *why)
{
    struct qmp_error err;
    qmp_error_set(&err, "GenericError", "JSON parse error, %s", why);
    reply_to(q, json_pack("{s:{s:s,s:s}}", "error", "class", err.cls, "desc", err.desc));
}

static void handle_text(struct qmp_session *q, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!req) {
        parse_error(q, jerr.text);
        return;
    }
    reply_to(q, qmp_dispatch(q, req));
    json_decref(req);
}

static void consume(struct qmp_session *q, size_t n)
{
    memmove(q->in, q->in + n, q->in_len - n);
    q->in_len -= n;
    q->scan = 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Take every complete request out of the input buffer. */
static void scan_input(struct qmp_session *q)
{
    while (q->scan < q->in_len) {
        char c = q->in[q->scan];
        if (q->depth == 0 && !q->in_string) {
            if (is_blank(c)) {
                consume(q, q->scan + 1);
                continue;
            }
            if (c != '{' && c != '[') {
                /* a bare scalar or stray byte: one error for the run of them */
                size_t end = q->scan;
                while (end < q->in_len && !is_blank(q->in[end]) && q->in[end] != '{' &&
                       q->in[end] != '[')
                    end++;
                if (end == q->in_len && q->in_len < QMP_MAX_INPUT)
                    return;   /* may continue in the next read */
                handle_text(q, q->in, end);
                consume(q, end);
                continue;
            }
        }
        q->scan++;
        if (q->in_string) {
            if (q->escaped)
                q->escaped = false;
            else if (c == '\\')
                q->escaped = true;
            else if (c == '"')
                q->in_string = false;
            continue;
        }
        if (c == '"') {
            q->in_string = true;
        } else if (c == '{' || c == '[') {
            q->depth++;
        } else if (c == '}' || c == ']') {
            if (--q->depth == 0) {
                size_t n = q->scan;
                if (q->skipping) {
                    q->skipping = false;
                    consume(q, n);
                    continue;
                }
                handle_text(q, q->in, n);
                consume(q, n);
            }
        }
    }
}

void qmp_input(struct qmp_session *q, const uint8_t *buf, size_t len)
{
    while (len) {
        size_t room = QMP_MAX_INPUT - q->in_len;
        size_t n = len < room ? len : room;
        if (q->in_len + n > q->in_cap) {
            size_t cap = q->in_cap ? q->in_cap : 1024;
            while (cap < q->in_len + n)
                cap *= 2;
            char *nb = realloc(q->in, cap);
            if (!nb)
                return;
            q->in = nb;
            q->in_cap = cap;
        }
        memcpy(q->in + q->in_len, buf, n);
        q->in_len += n;
        buf += n;
        len -= n;
        scan_input(q);
        if (q->in_len >= QMP_MAX_INPUT) {
            /* One request larger than any real one: refuse it, skip to its end. */
            parse_error(q, "request too large");
            bool open = q->depth > 0;
            q->in_len = q->scan = 0;
            q->skipping = open;
            if (!open)
                q->in_string = q->escaped = false;
        }
    }
}

/* ---- chardev glue ---- */

static size_t qmp_can_read(void *opaque)
{
    (void)opaque;
    return 4096;
}

static void qmp_read(void *opaque, const uint8_t *buf, size_t len)
{
    qmp_input(opaque, buf, len);
}

static void reset_session(struct qmp_session *q)
{
    q->command_mode = false;
    q->in_len = q->scan = 0;
    q->depth = 0;
    q->in_string = q->escaped = q->skipping = false;
}

/* A new client of a server socket: a fresh session, greeted. */
static void qmp_opened(void *opaque)
{
    struct qmp_session *q = opaque;
    reset_session(q);
    greet(q);
}

struct qmp_session *qmp_new(struct chardev *chr, struct monitor_registry *reg, bool pretty)
{
    if (reg->n_sessions >= MONITOR_MAX_QMP_SESSIONS)
        return NULL;
    struct qmp_session *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->chr = chr;
    q->reg = reg;
    q->pretty = pretty;
    reg->sessions[reg->n_sessions++] = q;
    chardev_attach(chr, qmp_can_read, qmp_read, q);
    chardev_set_opened_handler(chr, qmp_opened, q);
    greet(q);   /* a client already there (wait mode, stdio); else dropped */
    return q;
}

void qmp_free(struct qmp_session *q)
{
    if (!q)
        return;
    struct monitor_registry *reg = q->reg;
    for (unsigned i = 0; i < reg->n_sessions; i++) {
        if (reg->sessions[i] == q) {
            reg->sessions[i] = reg->sessions[--reg->n_sessions];
            break;
        }
    }
    if (q->chr) {
        chardev_attach(q->chr, NULL, NULL, NULL);
        chardev_set_opened_handler(q->chr, NULL, NULL);
    }
    free(q->in);
    free(q);
}

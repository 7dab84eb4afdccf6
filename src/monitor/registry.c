/* Command tables and event fan-out shared by a machine's monitors. */
#include "monitor/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "monitor/qmp.h"

void monitor_registry_init(struct monitor_registry *reg, const struct monitor_ops *ops,
                           void *opaque)
{
    memset(reg, 0, sizeof(*reg));
    reg->ops = ops;
    reg->opaque = opaque;
}

static int add_table(struct monitor_table *tabs, unsigned *n, const void *cmds, size_t count,
                     void *opaque)
{
    if (*n >= MONITOR_MAX_TABLES)
        return -1;
    tabs[*n].cmds = cmds;
    tabs[*n].n = count;
    tabs[*n].opaque = opaque;
    (*n)++;
    return 0;
}

int monitor_registry_add_hmp(struct monitor_registry *reg, const struct hmp_command *cmds,
                             size_t n, void *opaque)
{
    return add_table(reg->hmp, &reg->n_hmp, cmds, n, opaque);
}

int monitor_registry_add_qmp(struct monitor_registry *reg, const struct qmp_command *cmds,
                             size_t n, void *opaque)
{
    return add_table(reg->qmp, &reg->n_qmp, cmds, n, opaque);
}

const struct hmp_command *monitor_registry_find_hmp(const struct monitor_registry *reg,
                                                    const char *name, void **opaque)
{
    for (unsigned t = 0; t < reg->n_hmp; t++) {
        const struct hmp_command *cmds = reg->hmp[t].cmds;
        for (size_t i = 0; i < reg->hmp[t].n; i++) {
            if (!strcmp(cmds[i].name, name) || (cmds[i].alias && !strcmp(cmds[i].alias, name))) {
                *opaque = reg->hmp[t].opaque;
                return &cmds[i];
            }
        }
    }
    return NULL;
}

const struct qmp_command *monitor_registry_find_qmp(const struct monitor_registry *reg,
                                                    const char *name, void **opaque)
{
    for (unsigned t = 0; t < reg->n_qmp; t++) {
        const struct qmp_command *cmds = reg->qmp[t].cmds;
        for (size_t i = 0; i < reg->qmp[t].n; i++) {
            if (!strcmp(cmds[i].name, name)) {
                *opaque = reg->qmp[t].opaque;
                return &cmds[i];
            }
        }
    }
    return NULL;
}

void monitor_event(struct monitor_registry *reg, const char *name, json_t *data)
{
    if (!reg) {
        json_decref(data);
        return;
    }
    for (unsigned i = 0; i < reg->n_sessions; i++)
        qmp_send_event(reg->sessions[i], name, data);
    json_decref(data);
}

json_t *qmp_error_set(struct qmp_error *err, const char *cls, const char *fmt, ...)
{
    err->cls = cls;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
    va_end(ap);
    return NULL;
}

/* ---- argument helpers ---- */

int qmp_check_args(json_t *args, const char *const *allowed, struct qmp_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed && allowed[i]; i++)
            if (!strcmp(allowed[i], key))
                ok = true;
        if (!ok) {
            qmp_error_set(err, "GenericError", "Parameter '%s' is unexpected", key);
            return -1;
        }
    }
    return 0;
}

/* Argument `key` of a command: *v is NULL when it is absent and not required (0); a missing
 * required argument or one of the wrong JSON type is a GenericError in QEMU's words (-1). */
static int qmp_arg_lookup(json_t *args, const char *key, bool required, int (*is_type)(const json_t *),
                          const char *type_name, json_t **v, struct qmp_error *err)
{
    *v = json_object_get(args, key);
    if (!*v) {
        if (required) {
            qmp_error_set(err, "GenericError", "Parameter '%s' is missing", key);
            return -1;
        }
        return 0;
    }
    if (!is_type(*v)) {
        qmp_error_set(err, "GenericError", "Invalid parameter type for '%s', expected: %s", key,
                      type_name);
        return -1;
    }
    return 0;
}

static int is_string(const json_t *v) { return json_is_string(v); }
static int is_boolean(const json_t *v) { return json_is_boolean(v); }
static int is_integer(const json_t *v) { return json_is_integer(v); }

int qmp_arg_str(json_t *args, const char *key, bool required, const char **out,
                struct qmp_error *err)
{
    json_t *v;
    *out = NULL;
    if (qmp_arg_lookup(args, key, required, is_string, "string", &v, err) < 0)
        return -1;
    if (v)
        *out = json_string_value(v);
    return 0;
}

int qmp_arg_bool(json_t *args, const char *key, bool *out, struct qmp_error *err)
{
    json_t *v;
    if (qmp_arg_lookup(args, key, false, is_boolean, "boolean", &v, err) < 0)
        return -1;
    if (v)
        *out = json_is_true(v);
    return 0;
}

int qmp_arg_int(json_t *args, const char *key, bool required, long long *out,
                struct qmp_error *err)
{
    json_t *v;
    if (qmp_arg_lookup(args, key, required, is_integer, "integer", &v, err) < 0)
        return -1;
    if (v)
        *out = json_integer_value(v);
    return 0;
}

/* The monitor's command tables and event fan-out, shared by every HMP and QMP monitor of a
 * machine. Each subsystem keeps its commands in its own file as a static table and adds it
 * with monitor_registry_add_hmp()/_add_qmp() (the board in src/machine/pc_monitor.c, the
 * snapshot code, the network code ...). The monitor core only dispatches. */
#ifndef PCVM_MONITOR_REGISTRY_H
#define PCVM_MONITOR_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct monitor;
struct monitor_ops;
struct qmp_session;

/* An HMP command. Items of "info" are commands named "info ITEM" (e.g. "info pci"). args is
 * the rest of the line with outer blanks removed. */
struct hmp_command {
    const char *name;
    const char *alias;      /* NULL or a short name ("c" for cont) */
    const char *params;     /* for help: "[/fmt] addr" */
    const char *help;
    void (*fn)(struct monitor *mon, const char *args, void *opaque);
};

/* A QMP error: one of QEMU's classes and a description. */
struct qmp_error {
    const char *cls;        /* "GenericError", "CommandNotFound", "DeviceNotFound" ... */
    char desc[512];
};

/* A QMP command: args is the "arguments" object (never NULL: {} when absent). Returns the
 * "return" value (a new reference; json_object() for {}), or NULL after qmp_error_set(). */
struct qmp_command {
    const char *name;
    json_t *(*fn)(json_t *args, void *opaque, struct qmp_error *err);
};

#define MONITOR_MAX_TABLES 16
#define MONITOR_MAX_QMP_SESSIONS 8

struct monitor_table {
    const void *cmds;       /* struct hmp_command[] or struct qmp_command[] */
    size_t n;
    void *opaque;
};

struct monitor_registry {
    const struct monitor_ops *ops;   /* the core commands (stop, cont, quit ...) */
    void *opaque;
    struct monitor_table hmp[MONITOR_MAX_TABLES];
    unsigned n_hmp;
    struct monitor_table qmp[MONITOR_MAX_TABLES];
    unsigned n_qmp;
    struct qmp_session *sessions[MONITOR_MAX_QMP_SESSIONS];   /* who gets events */
    unsigned n_sessions;
};

/* Start an empty registry whose core commands call ops (may be NULL) with opaque. */
void monitor_registry_init(struct monitor_registry *reg, const struct monitor_ops *ops,
                           void *opaque);
/* Add a table of n HMP commands, called with opaque. Returns 0, -1 when full. */
int monitor_registry_add_hmp(struct monitor_registry *reg, const struct hmp_command *cmds,
                             size_t n, void *opaque);
/* Add a table of n QMP commands, called with opaque. Returns 0, -1 when full. */
int monitor_registry_add_qmp(struct monitor_registry *reg, const struct qmp_command *cmds,
                             size_t n, void *opaque);
/* Find an HMP command by name or alias; *opaque gets its table's opaque. NULL if none. */
const struct hmp_command *monitor_registry_find_hmp(const struct monitor_registry *reg,
                                                    const char *name, void **opaque);
/* Find a QMP command by name; *opaque gets its table's opaque. NULL if none. */
const struct qmp_command *monitor_registry_find_qmp(const struct monitor_registry *reg,
                                                    const char *name, void **opaque);
/* Send event NAME with data (stolen; NULL for none) to every QMP session in command mode. */
void monitor_event(struct monitor_registry *reg, const char *name, json_t *data);

/* Fill err with class cls and a printf-style description; returns NULL for "return
 * qmp_error_set(...)". */
json_t *qmp_error_set(struct qmp_error *err, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Argument checks for QMP commands, each filling err as QEMU words it and returning -1 on
 * failure, 0 otherwise. Only the NULL-terminated allowed keys may appear: */
int qmp_check_args(json_t *args, const char *const *allowed, struct qmp_error *err);
/* A string argument (*out NULL when absent and not required). */
int qmp_arg_str(json_t *args, const char *key, bool required, const char **out,
                struct qmp_error *err);
/* A boolean argument (*out unchanged when absent). */
int qmp_arg_bool(json_t *args, const char *key, bool *out, struct qmp_error *err);
/* An integer argument (*out unchanged when absent and not required). */
int qmp_arg_int(json_t *args, const char *key, bool required, long long *out,
                struct qmp_error *err);

#endif

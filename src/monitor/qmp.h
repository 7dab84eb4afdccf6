/* QMP, the JSON machine protocol, on any chardev: greeting, qmp_capabilities negotiation,
 * commands from the registry with "id" echoed, QEMU's error classes, and events. JSON is
 * parsed and written by jansson. */
#ifndef PCVM_MONITOR_QMP_H
#define PCVM_MONITOR_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/registry.h"

struct chardev;

/* The QEMU version pcvm's QMP and HMP claim (its command set follows QEMU 7.2). */
#define QMP_QEMU_MAJOR 7
#define QMP_QEMU_MINOR 2
#define QMP_QEMU_MICRO 0
#define QMP_MAX_INPUT (1u << 20)   /* bytes of one request at most */

struct qmp_session {
    struct chardev *chr;
    struct monitor_registry *reg;
    bool pretty;            /* -mon ...,pretty=on: indented replies */
    bool command_mode;      /* after qmp_capabilities */
    char *in;               /* bytes received, not yet a whole request */
    size_t in_len, in_cap;
    size_t scan;            /* how far in has been scanned */
    int depth;              /* { and [ open at scan */
    bool in_string, escaped;
    bool skipping;          /* after an oversized request: drop until depth 0 */
};

/* Create a QMP monitor on chr (attaches as its front end), greet the client (and every later
 * one of a server socket) and register for reg's events. NULL on failure. */
struct qmp_session *qmp_new(struct chardev *chr, struct monitor_registry *reg, bool pretty);
/* Detach, leave the registry and free. */
void qmp_free(struct qmp_session *q);
/* Feed received bytes (what the chardev delivers; used directly by tests and the fuzzer). */
void qmp_input(struct qmp_session *q, const uint8_t *buf, size_t len);
/* Send an event (data borrowed, NULL for none) if the session is in command mode. */
void qmp_send_event(struct qmp_session *q, const char *name, json_t *data);
/* Run one parsed request and return the reply object (NULL: no reply). */
json_t *qmp_dispatch(struct qmp_session *q, json_t *req);

#endif

/* QMP snapshot-save, snapshot-load and snapshot-delete as jobs (QEMU 6+), with query-jobs,
 * job-dismiss and JOB_STATUS_CHANGE events. A job is created by its command (event
 * "created"), runs from the main loop after the command has returned (running, then waiting,
 * pending, concluded; or aborting, concluded with its error) and stays until job-dismiss
 * (auto-dismiss is off for these jobs in QEMU too). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/pc.h"
#include "machine/snapshot.h"
#include "machine/snapshot_int.h"

static void set_status(struct pc *pc, struct snap_job *j, const char *status)
{
    j->status = status;
    pc_event(pc, "JOB_STATUS_CHANGE", json_pack("{s:s,s:s}", "status", status, "id", j->id));
}

static struct snap_job *find_job(struct snapshot_ctx *s, const char *id)
{
    for (unsigned i = 0; i < s->njobs; i++)
        if (!strcmp(s->jobs[i].id, id))
            return &s->jobs[i];
    return NULL;
}

static void job_free(struct snap_job *j)
{
    free(j->tag);
    free(j->vmstate);
    for (unsigned i = 0; i < j->ndevices; i++)
        free(j->devices[i]);
    free(j->devices);
    free(j->error);
}

static void run_job(struct pc *pc, struct snap_job *j)
{
    char err[512] = "";
    set_status(pc, j, "running");
    const char *const *devs = (const char *const *)j->devices;
    int r;
    if (!strcmp(j->type, "snapshot-save"))
        r = pc_snapshot_save(pc, j->tag, false, j->vmstate, devs, j->ndevices, err, sizeof(err));
    else if (!strcmp(j->type, "snapshot-load"))
        r = pc_snapshot_load(pc, j->tag, j->vmstate, devs, j->ndevices, err, sizeof(err));
    else
        r = pc_snapshot_delete(pc, j->tag, devs, j->ndevices, err, sizeof(err));
    if (r < 0) {
        j->error = strdup(err);
        set_status(pc, j, "aborting");
    } else {
        set_status(pc, j, "waiting");
        set_status(pc, j, "pending");
    }
    set_status(pc, j, "concluded");
}

static void run_pending(void *opaque, int fd, short revents)
{
    (void)revents;
    struct pc *pc = opaque;
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    for (unsigned i = 0; i < pc->snap->njobs; i++)
        if (!strcmp(pc->snap->jobs[i].status, "created"))
            run_job(pc, &pc->snap->jobs[i]);
}

/* The list argument "devices": strings, copied into j. */
static int devices_arg(json_t *args, struct snap_job *j, struct qmp_error *err)
{
    json_t *a = json_object_get(args, "devices");
    if (!a) {
        qmp_error_set(err, "GenericError", "Parameter 'devices' is missing");
        return -1;
    }
    if (!json_is_array(a)) {
        qmp_error_set(err, "GenericError", "Invalid parameter type for 'devices', expected: array");
        return -1;
    }
    size_t n = json_array_size(a);
    j->devices = calloc(n ? n : 1, sizeof(char *));
    if (!j->devices)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e)) {
            qmp_error_set(err, "GenericError", "Invalid parameter type for 'devices[%zu]', expected: string", i);
            return -1;
        }
        j->devices[j->ndevices++] = strdup(json_string_value(e));
    }
    return 0;
}

static json_t *start_job(struct pc *pc, const char *type, json_t *args, bool with_vmstate, struct qmp_error *err)
{
    static const char *const allowed_vm[] = { "job-id", "tag", "vmstate", "devices", NULL };
    static const char *const allowed_del[] = { "job-id", "tag", "devices", NULL };
    struct snapshot_ctx *s = pc->snap;
    const char *id, *tag, *vmstate = NULL;
    if (qmp_check_args(args, with_vmstate ? allowed_vm : allowed_del, err) < 0 ||
        qmp_arg_str(args, "job-id", true, &id, err) < 0 || qmp_arg_str(args, "tag", true, &tag, err) < 0 ||
        (with_vmstate && qmp_arg_str(args, "vmstate", true, &vmstate, err) < 0))
        return NULL;
    if (find_job(s, id))
        return qmp_error_set(err, "GenericError", "Job ID '%s' already in use", id);
    if (!*id || strlen(id) >= sizeof(s->jobs[0].id))
        return qmp_error_set(err, "GenericError", "Invalid job ID '%s'", id);
    if (s->njobs == SNAP_MAX_JOBS)
        return qmp_error_set(err, "GenericError", "Too many jobs: dismiss concluded ones with job-dismiss");
    struct snap_job j = { .type = type, .status = "created" };
    if (devices_arg(args, &j, err) < 0) {
        job_free(&j);
        return NULL;
    }
    snprintf(j.id, sizeof(j.id), "%s", id);
    j.tag = strdup(tag);
    j.vmstate = vmstate ? strdup(vmstate) : NULL;
    if (s->wake[0] < 0) {
        if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) < 0 ||
            mainloop_add_fd(pc->ml, s->wake[0], POLLIN, NULL, run_pending, pc) < 0) {
            job_free(&j);
            return qmp_error_set(err, "GenericError", "cannot start the job: %s", strerror(errno));
        }
    }
    s->jobs[s->njobs] = j;
    set_status(pc, &s->jobs[s->njobs++], "created");
    if (write(s->wake[1], "j", 1) < 0) { /* the pipe is only a wake-up: full is fine */ }
    return json_object();
}

static json_t *q_snapshot_save(json_t *args, void *opaque, struct qmp_error *err)
{
    return start_job(opaque, "snapshot-save", args, true, err);
}

static json_t *q_snapshot_load(json_t *args, void *opaque, struct qmp_error *err)
{
    return start_job(opaque, "snapshot-load", args, true, err);
}

static json_t *q_snapshot_delete(json_t *args, void *opaque, struct qmp_error *err)
{
    return start_job(opaque, "snapshot-delete", args, false, err);
}

static json_t *q_query_jobs(json_t *args, void *opaque, struct qmp_error *err)
{
    static const char *const allowed[] = { NULL };
    struct pc *pc = opaque;
    if (qmp_check_args(args, allowed, err) < 0)
        return NULL;
    json_t *list = json_array();
    for (unsigned i = 0; i < pc->snap->njobs; i++) {
        struct snap_job *j = &pc->snap->jobs[i];
        bool done = !strcmp(j->status, "concluded");
        json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:i}", "id", j->id, "type", j->type, "status", j->status,
                              "current-progress", done ? 1 : 0, "total-progress", 1);
        if (j->error)
            json_object_set_new(o, "error", json_string(j->error));
        json_array_append_new(list, o);
    }
    return list;
}

static json_t *q_job_dismiss(json_t *args, void *opaque, struct qmp_error *err)
{
    static const char *const allowed[] = { "id", NULL };
    struct pc *pc = opaque;
    struct snapshot_ctx *s = pc->snap;
    const char *id;
    if (qmp_check_args(args, allowed, err) < 0 || qmp_arg_str(args, "id", true, &id, err) < 0)
        return NULL;
    struct snap_job *j = find_job(s, id);
    if (!j)
        return qmp_error_set(err, "GenericError", "Job not found");
    if (strcmp(j->status, "concluded"))
        return qmp_error_set(err, "GenericError", "Job '%s' in state '%s' cannot accept command verb 'dismiss'",
                             id, j->status);
    set_status(pc, j, "null");
    job_free(j);
    unsigned idx = (unsigned)(j - s->jobs);
    memmove(j, j + 1, (s->njobs - idx - 1) * sizeof(*j));
    s->njobs--;
    return json_object();
}

static const struct qmp_command job_qmp[] = {
    { "snapshot-save", q_snapshot_save },
    { "snapshot-load", q_snapshot_load },
    { "snapshot-delete", q_snapshot_delete },
    { "query-jobs", q_query_jobs },
    { "job-dismiss", q_job_dismiss },
};

void snap_jobs_register(struct pc *pc)
{
    monitor_registry_add_qmp(&pc->monreg, job_qmp, sizeof(job_qmp) / sizeof(job_qmp[0]), pc);
}

void snap_jobs_free(struct pc *pc)
{
    struct snapshot_ctx *s = pc->snap;
    for (unsigned i = 0; i < s->njobs; i++)
        job_free(&s->jobs[i]);
    s->njobs = 0;
    if (s->wake[0] >= 0) {
        mainloop_remove_fd(pc->ml, s->wake[0]);
        close(s->wake[0]);
        close(s->wake[1]);
    }
    s->wake[0] = s->wake[1] = -1;
}

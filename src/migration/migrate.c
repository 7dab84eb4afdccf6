/* Migration to and from files and commands: HMP migrate / QMP migrate with "exec:CMD" (the
 * state is piped into a shell command, as QEMU 7.2 does) or "file:PATH" (QEMU 8.2's form;
 * RAM as a page-aligned sparse image), -incoming exec:/file:/defer, migrate_incoming, info
 * migrate and query-migrate. An incoming file's RAM is mapped copy-on-write (MAP_PRIVATE), so
 * starting from it costs milliseconds whatever the guest's size. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "machine/pc.h"
#include "machine/snapshot.h"
#include "machine/snapshot_int.h"
#include "util/fdio.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The state as a stream (packed RAM) into fd. */
static int write_stream(const struct pc_state *st, int fd)
{
    int r = fd_write_all(fd, st->head.data, st->head.len);
    uint64_t pos = 0, packed = 0;
    struct mstate_run run;
    while (r == 0 && pc_state_next_run(st, &pos, &packed, &run))
        r = fd_write_all(fd, st->ram + run.first * MSTATE_PAGE, run.n * MSTATE_PAGE);
    return r;
}

/* The state as a file with the RAM image at its page-aligned offset (zero pages are holes).
 * Written beside path and renamed over it: a machine mapping the old file keeps its pages. */
static int write_file(const struct pc_state *st, const char *path, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return fail(err, errlen, "out of memory");
    snprintf(tmp, plen + 16, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fail(err, errlen, "Failed to open file '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int r = fd_pwrite_all(fd, st->head.data, st->head.len, 0);
    uint64_t pos = 0, packed = 0;
    struct mstate_run run;
    while (r == 0 && pc_state_next_run(st, &pos, &packed, &run))
        r = fd_pwrite_all(fd, st->ram + run.first * MSTATE_PAGE, run.n * MSTATE_PAGE, run.off);
    if (r == 0 && ftruncate(fd, (off_t)pc_state_size(st)) < 0)
        r = -errno;
    if (r == 0)
        fchmod(fd, 0644 & ~0022u);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        fail(err, errlen, "cannot write '%s': %s", path, strerror(-r));
    }
    free(tmp);
    return r < 0 ? -1 : 0;
}

static void count_pages(struct pc *pc, const struct pc_state *st)
{
    struct migrate_info *m = &pc->snap->mig;
    m->total_ram = pc->mem.ram_size;
    m->normal_pages = 0;
    for (uint64_t pn = 0; pn < st->pages; pn++)
        m->normal_pages += mstate_page_set(st->bitmap, pn);
    m->zero_pages = st->pages - m->normal_pages;
    m->bytes = st->head.len + m->normal_pages * MSTATE_PAGE;
}

/* Migrate to uri; 0 or -1 with err. The machine stays stopped afterwards ("postmigrate"). */
static int migrate_to(struct pc *pc, const char *uri, char *err, size_t errlen)
{
    struct migrate_info *m = &pc->snap->mig;
    bool is_exec = !strncmp(uri, "exec:", 5), is_file = !strncmp(uri, "file:", 5);
    if (!is_exec && !is_file) {
        const char *colon = strchr(uri, ':');
        if (colon && (!strncmp(uri, "tcp:", 4) || !strncmp(uri, "unix:", 5) || !strncmp(uri, "fd:", 3) ||
                      !strncmp(uri, "rdma:", 5)))
            return fail(err, errlen, "pcvm migrates only to exec:COMMAND and file:PATH, not '%.*s'",
                        (int)(colon - uri), uri);
        return fail(err, errlen, "unknown migration protocol: %s", uri);
    }
    if (!uri[5])
        return fail(err, errlen, "%s needs a %s", is_exec ? "exec:" : "file:", is_exec ? "command" : "file name");
    const char *why = devlist_snapshot_blocker(&pc->devices);
    if (why)
        return fail(err, errlen, "State blocked by non-migratable device: %s", why);
    bool was_running = !pc->rl.paused;
    int64_t t0 = host_monotonic_ns();
    pc_set_paused(pc, true, "finish-migrate");
    memset(m, 0, sizeof(*m));
    m->status = "active";
    pc_event(pc, "MIGRATION", json_pack("{s:s}", "status", "active"));
    struct pc_state st;
    int ret = -1;
    if (pc_state_build(pc, is_file, &st, err, errlen) < 0)
        goto out;
    count_pages(pc, &st);
    if (is_file) {
        ret = write_file(&st, uri + 5, err, errlen);
    } else {
        FILE *f = popen(uri + 5, "w");
        if (!f) {
            fail(err, errlen, "cannot run '%s': %s", uri + 5, strerror(errno));
        } else {
            int r = write_stream(&st, fileno(f));
            int status = pclose(f);
            if (r < 0)
                fail(err, errlen, "writing to '%s' failed: %s", uri + 5, strerror(-r));
            else if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
                fail(err, errlen, "'%s' failed (exit status %d)", uri + 5,
                     status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            else
                ret = 0;
        }
    }
    pc_state_free(&st);
out:
    m->total_ms = m->downtime_ms = (double)(host_monotonic_ns() - t0) / 1e6;
    m->status = ret == 0 ? "completed" : "failed";
    if (ret < 0)
        snprintf(m->error, sizeof(m->error), "%s", err);
    pc_event(pc, "MIGRATION", json_pack("{s:s}", "status", m->status));
    if (ret == 0)
        pc_set_paused(pc, true, "postmigrate");   /* as QEMU: the source stops; cont resumes it */
    else if (was_running)
        pc_set_paused(pc, false, NULL);
    else
        pc_set_paused(pc, true, "paused");
    return ret;
}

/* ---- incoming ---- */

struct fd_source {
    int fd;
    bool stream;
    uint64_t pos;                   /* stream: bytes consumed */
};

static int src_read_at(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct fd_source *s = opaque;
    uint8_t *b = buf;
    if (!s->stream) {
        ssize_t n = fd_pread_full(s->fd, b, len, off);
        return n < 0 ? (int)n : (size_t)n < len ? -ENODATA : 0;
    }
    if (off < s->pos)
        return -EINVAL;
    static uint8_t skip[65536];
    while (s->pos < off) {   /* a stream moves forward only */
        size_t want = off - s->pos > sizeof(skip) ? sizeof(skip) : (size_t)(off - s->pos);
        ssize_t n = fd_read_full(s->fd, skip, want);
        if (n < 0 || (size_t)n < want)
            return n < 0 ? (int)n : -ENODATA;
        s->pos += (uint64_t)n;
    }
    ssize_t n = fd_read_full(s->fd, b, len);
    if (n < 0 || (size_t)n < len)
        return n < 0 ? (int)n : -ENODATA;
    s->pos += (uint64_t)n;
    return 0;
}

/* Load the machine from uri (exec:CMD or file:PATH); 0 or -1 with err. */
static int incoming_from(struct pc *pc, const char *uri, char *err, size_t errlen)
{
    struct migrate_info *m = &pc->snap->mig;
    bool is_exec = !strncmp(uri, "exec:", 5), is_file = !strncmp(uri, "file:", 5);
    if (!is_exec && !is_file)
        return fail(err, errlen, "pcvm takes incoming migrations only from exec:COMMAND and file:PATH, not '%s'",
                    uri);
    const char *why = devlist_snapshot_blocker(&pc->devices);
    if (why)
        return fail(err, errlen, "State blocked by non-migratable device: %s", why);
    int64_t t0 = host_monotonic_ns();
    if (pc->aio_started)
        block_aio_drain(&pc->aio);
    struct fd_source fs = { .fd = -1 };
    FILE *pipe = NULL;
    struct mstate_source src = { src_read_at, &fs, -1, UINT64_MAX, NULL };
    if (is_file) {
        fs.fd = open(uri + 5, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fs.fd < 0 || fstat(fs.fd, &sb) < 0) {
            fail(err, errlen, "Failed to open file '%s': %s", uri + 5, strerror(errno));
            if (fs.fd >= 0)
                close(fs.fd);
            return -1;
        }
        src.size = (uint64_t)sb.st_size;
        src.map_fd = fs.fd;
    } else {
        pipe = popen(uri + 5, "r");
        if (!pipe)
            return fail(err, errlen, "cannot run '%s': %s", uri + 5, strerror(errno));
        fs.fd = fileno(pipe);
        fs.stream = true;
    }
    memset(m, 0, sizeof(*m));
    bool changed;
    int ret = pc_state_load(pc, &src, &changed, err, errlen);
    if (ret < 0 && changed)
        snap_after_failed_load(pc);
    if (pipe)
        pclose(pipe);   /* the command may still be writing: closing the pipe ends it */
    else
        close(fs.fd);   /* a mapping keeps the file's pages */
    m->status = ret == 0 ? "completed" : "failed";
    m->total_ms = (double)(host_monotonic_ns() - t0) / 1e6;
    m->total_ram = pc->mem.ram_size;
    if (ret < 0)
        snprintf(m->error, sizeof(m->error), "%s", err);
    pc->snap->last_load_ms = m->total_ms;
    pc_event(pc, "MIGRATION", json_pack("{s:s}", "status", m->status));
    return ret;
}

int migrate_startup(struct pc *pc, char *err, size_t errlen)
{
    const char *uri = pc->cfg->incoming;
    if (!uri)
        return 0;
    if (!strcmp(uri, "defer")) {
        pc->snap->incoming_deferred = true;
        pc_set_paused(pc, true, "inmigrate");
        return 0;
    }
    char why[512];
    if (incoming_from(pc, uri, why, sizeof(why)) < 0)
        return fail(err, errlen, "pcvm: -incoming %s: %s", uri, why);
    return 0;
}

/* ---- monitor ---- */

/* HMP's string arguments may be quoted: "exec:cat > FILE". */
static const char *unquote(const char *args, char *buf, size_t len)
{
    size_t n = strlen(args);
    if (n >= 2 && args[0] == '"' && args[n - 1] == '"' && n - 1 <= len) {
        memcpy(buf, args + 1, n - 2);
        buf[n - 2] = 0;
        return buf;
    }
    return args;
}

static void hmp_migrate(struct monitor *mon, const char *args, void *opaque)
{
    char err[512], buf[1024];
    while (args[0] == '-' && args[1] && strchr("dbi", args[1]) && (args[2] == ' ' || !args[2]))   /* -d -b -i */
        for (args += 2; *args == ' '; args++)
            ;
    if (!*args) {
        monitor_printf(mon, "Parameter 'uri' is missing\n");
        return;
    }
    args = unquote(args, buf, sizeof(buf));
    if (migrate_to(opaque, args, err, sizeof(err)) < 0)
        monitor_printf(mon, "Error: %s\n", err);
}

static void hmp_migrate_incoming(struct monitor *mon, const char *args, void *opaque)
{
    struct pc *pc = opaque;
    char err[512], buf[1024];
    if (!pc->snap->incoming_deferred) {
        monitor_printf(mon, "Error: The incoming migration has not been started\n");
        return;
    }
    if (!*args) {
        monitor_printf(mon, "Parameter 'uri' is missing\n");
        return;
    }
    if (incoming_from(pc, unquote(args, buf, sizeof(buf)), err, sizeof(err)) < 0) {
        monitor_printf(mon, "Error: %s\n", err);
        return;
    }
    pc->snap->incoming_deferred = false;
    pc_set_paused(pc, pc->cfg->start_paused, pc->cfg->start_paused ? "paused" : NULL);
}

static void info_migrate(struct monitor *mon, const char *args, void *opaque)
{
    (void)args;
    struct pc *pc = opaque;
    const struct migrate_info *m = &pc->snap->mig;
    monitor_printf(mon, "globals:\nstore-global-state: on\nonly-migratable: off\nsend-configuration: on\n"
                        "send-section-footer: on\ndecompress-error-check: on\nclear-bitmap-shift: 18\n");
    if (!m->status)
        return;
    monitor_printf(mon, "Migration status: %s", m->status);
    if (!strcmp(m->status, "failed") && m->error[0])
        monitor_printf(mon, " (%s)", m->error);
    monitor_printf(mon, "\ntotal time: %.0f ms\n", m->total_ms);
    if (m->bytes) {
        monitor_printf(mon, "downtime: %.0f ms\n", m->downtime_ms);
        monitor_printf(mon, "transferred ram: %" PRIu64 " kbytes\n", m->bytes >> 10);
        monitor_printf(mon, "remaining ram: 0 kbytes\ntotal ram: %" PRIu64 " kbytes\n", m->total_ram >> 10);
        monitor_printf(mon, "duplicate: %" PRIu64 " pages\nskipped: 0 pages\nnormal: %" PRIu64 " pages\n",
                       m->zero_pages, m->normal_pages);
        monitor_printf(mon, "normal bytes: %" PRIu64 " kbytes\npage size: 4 kbytes\n",
                       m->normal_pages * MSTATE_PAGE >> 10);
    }
}

static json_t *q_migrate(json_t *args, void *opaque, struct qmp_error *err)
{
    static const char *const allowed[] = { "uri", "blk", "inc", "detach", "resume", NULL };
    const char *uri;
    char why[512];
    if (qmp_check_args(args, allowed, err) < 0 || qmp_arg_str(args, "uri", true, &uri, err) < 0)
        return NULL;
    if (migrate_to(opaque, uri, why, sizeof(why)) < 0)
        return qmp_error_set(err, "GenericError", "%s", why);
    return json_object();
}

static json_t *q_migrate_incoming(json_t *args, void *opaque, struct qmp_error *err)
{
    static const char *const allowed[] = { "uri", NULL };
    struct pc *pc = opaque;
    const char *uri;
    char why[512];
    if (qmp_check_args(args, allowed, err) < 0 || qmp_arg_str(args, "uri", true, &uri, err) < 0)
        return NULL;
    if (!pc->snap->incoming_deferred)
        return qmp_error_set(err, "GenericError", "'-incoming' was not specified on the command line");
    if (incoming_from(pc, uri, why, sizeof(why)) < 0)
        return qmp_error_set(err, "GenericError", "%s", why);
    pc->snap->incoming_deferred = false;
    pc_set_paused(pc, pc->cfg->start_paused, pc->cfg->start_paused ? "paused" : NULL);
    return json_object();
}

static json_t *q_query_migrate(json_t *args, void *opaque, struct qmp_error *err)
{
    static const char *const allowed[] = { NULL };
    struct pc *pc = opaque;
    const struct migrate_info *m = &pc->snap->mig;
    if (qmp_check_args(args, allowed, err) < 0)
        return NULL;
    json_t *o = json_object();
    if (!m->status)
        return o;
    json_object_set_new(o, "status", json_string(m->status));
    json_object_set_new(o, "total-time", json_integer((json_int_t)m->total_ms));
    if (m->bytes) {
        json_object_set_new(o, "downtime", json_integer((json_int_t)m->downtime_ms));
        json_object_set_new(o, "ram", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "transferred", (json_int_t)m->bytes,
                                                "remaining", (json_int_t)0, "total", (json_int_t)m->total_ram,
                                                "duplicate", (json_int_t)m->zero_pages, "normal",
                                                (json_int_t)m->normal_pages, "normal-bytes",
                                                (json_int_t)(m->normal_pages * MSTATE_PAGE), "page-size",
                                                (json_int_t)MSTATE_PAGE));
    }
    if (!strcmp(m->status, "failed") && m->error[0])
        json_object_set_new(o, "error-desc", json_string(m->error));
    return o;
}

static const struct hmp_command migrate_hmp[] = {
    { "migrate", NULL, "[-d] uri", "migrate to URI (exec:COMMAND or file:PATH)", hmp_migrate },
    { "migrate_incoming", NULL, "uri", "Continue an incoming migration from an -incoming defer",
      hmp_migrate_incoming },
    { "info migrate", NULL, "", "show migration status", info_migrate },
};

static const struct qmp_command migrate_qmp[] = {
    { "migrate", q_migrate },
    { "migrate-incoming", q_migrate_incoming },
    { "query-migrate", q_query_migrate },
};

void migrate_register(struct pc *pc)
{
    monitor_registry_add_hmp(&pc->monreg, migrate_hmp, sizeof(migrate_hmp) / sizeof(migrate_hmp[0]), pc);
    monitor_registry_add_qmp(&pc->monreg, migrate_qmp, sizeof(migrate_qmp) / sizeof(migrate_qmp[0]), pc);
}

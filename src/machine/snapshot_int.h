/* What the snapshot files (snapshot.c, snapshot_jobs.c, migration/migrate.c) share. */
#ifndef PCVM_MACHINE_SNAPSHOT_INT_H
#define PCVM_MACHINE_SNAPSHOT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "block/block.h"

struct pc;

/* A drive taking part in a snapshot. */
struct snap_drive {
    struct block_dev *bs;
    char name[64];                  /* as info block names it: ide0-hd0 or the -drive id */
};

#define SNAP_MAX_JOBS 16
#define SNAP_MAX_DRIVES 20          /* 4 IDE + PC_MAX_VIRTIO virtio-blk */

/* A QMP job (snapshot-save/-load/-delete), run from the main loop after its command returned. */
struct snap_job {
    char id[128];
    const char *type;               /* "snapshot-save" ... */
    const char *status;             /* QEMU's JobStatus: created, running, concluded ... */
    char *tag, *vmstate;
    char **devices;
    unsigned ndevices;
    char *error;                    /* set when it failed */
};

/* The migration's outcome, for info migrate and query-migrate. */
struct migrate_info {
    const char *status;             /* NULL (none), "completed", "failed" */
    char error[512];
    double total_ms, downtime_ms;
    uint64_t bytes, total_ram, normal_pages, zero_pages;
};

/* RAM ranges mapped copy-on-write from a snapshot's clusters in an image (snapshot_map.c). */
struct snap_span {
    uint8_t *addr;
    size_t len;
};
struct snap_spans {
    struct snap_span *v;
    unsigned n, cap;
};

/* The snapshot code's own state of a machine (struct pc holds a pointer to it). */
struct snapshot_ctx {
    struct snap_job jobs[SNAP_MAX_JOBS];
    unsigned njobs;
    int wake[2];                    /* a pipe: run pending jobs from the main loop */
    bool wake_added;
    struct migrate_info mig;
    bool incoming_deferred;         /* -incoming defer: waiting for migrate_incoming */
    double last_save_ms, last_load_ms;
    bool ram_from_file;             /* RAM is a copy-on-write mapping of a state file */
    uint64_t last_size;
    struct snap_spans shared;       /* RAM still mapped from the last loadvm's image clusters */
};

/* Remember [addr, addr+len) (merged with the last range when adjacent); 0 or -1 (memory). */
int snap_spans_add(struct snap_spans *s, uint8_t *addr, size_t len);
/* Forget every range. */
void snap_spans_clear(struct snap_spans *s);
/* Give every RAM page still mapped from an image's snapshot clusters its own copy (before
 * a delvm or savevm may free those clusters); 0 or -1 with err. */
int snap_unshare_ram(struct pc *pc, char *err, size_t errlen);

/* The writable drives (a writable non-qcow2 one is refused with err); count or -1. */
int snap_drives(struct pc *pc, struct snap_drive *out, char *err, size_t errlen);
/* After a load that failed half-way: reset the machine and keep it stopped. */
void snap_after_failed_load(struct pc *pc);
/* QEMU's size_to_str ("17.4 MiB"). */
void snap_size_str(uint64_t v, char *buf, size_t len);
/* The QMP jobs (snapshot_jobs.c). */
void snap_jobs_register(struct pc *pc);
/* Forget the jobs and close the wake pipe. */
void snap_jobs_free(struct pc *pc);
/* migrate, migrate_incoming, info migrate, query-migrate (migration/migrate.c). */
void migrate_register(struct pc *pc);
/* -incoming at start; 0 or -1 with err. */
int migrate_startup(struct pc *pc, char *err, size_t errlen);

#endif

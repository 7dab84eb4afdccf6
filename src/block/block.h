/* Block layer: disk images (raw, qcow2) behind one interface, with QEMU's cache modes,
 * image locking, -snapshot overlays and an aio=threads worker pool.
 *
 * Layering: a block_dev is a format driver (raw or qcow2) over a bfile (a host file with a
 * cache mode and OFD locks). All calls on one block_dev are serialized by its mutex, so the
 * synchronous API may be used from tools and from the aio worker threads alike. */
#ifndef PCVM_BLOCK_BLOCK_H
#define PCVM_BLOCK_BLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mainloop;

enum block_cache {
    BLOCK_CACHE_WRITEBACK,   /* page cache; fdatasync on guest flush */
    BLOCK_CACHE_WRITETHROUGH,/* page cache; fdatasync after every write */
    BLOCK_CACHE_NONE,        /* O_DIRECT; fdatasync on guest flush */
    BLOCK_CACHE_UNSAFE,      /* page cache; flushes ignored */
    BLOCK_CACHE_DIRECTSYNC,  /* O_DIRECT; fdatasync after every write */
};

/* A host file with its cache mode and locks. */
struct bfile {
    int fd;
    enum block_cache cache;
    bool direct;             /* opened with O_DIRECT: I/O goes through aligned bounce buffers */
    bool readonly;
    unsigned align;          /* O_DIRECT alignment (bytes) */
    char *filename;
    uint64_t writes;         /* pwrite/truncate calls so far */
    uint64_t crash_at;       /* tests: when non-zero, write number crash_at and every later write,
                              * truncate or flush fail with -EIO, as if the process had died */
};

/* Open flags for block_open. */
enum {
    BLOCK_RDWR        = 1u << 0,  /* open for writing (else read-only) */
    BLOCK_NO_LOCK     = 1u << 1,  /* skip image locking (force share, like qemu-img -U) */
    BLOCK_SNAPSHOT    = 1u << 2,  /* writes go to a temporary qcow2 overlay */
    BLOCK_NO_BACKING  = 1u << 3,  /* do not open the backing file (qcow2 metadata tools) */
    BLOCK_NO_REPAIR   = 1u << 4,  /* do not repair a dirty lazy-refcount image on open */
};

#define BLOCK_MAX_BACKING_DEPTH 16
#define BLOCK_ERR_LEN 512

struct block_dev;

/* A format driver. Byte offsets and lengths; return 0 or a negative errno. */
struct block_driver {
    const char *name;
    /* Score how likely buf (the first bytes of the file) is this format; 0 = not. */
    int (*probe)(const uint8_t *buf, size_t len);
    /* Open the format on bs->file; fill bs->size. err gets one line on failure. */
    int (*open)(struct block_dev *bs, unsigned flags, char *err, size_t errlen);
    void (*close)(struct block_dev *bs);
    int (*pread)(struct block_dev *bs, uint64_t off, void *buf, size_t len);
    int (*pwrite)(struct block_dev *bs, uint64_t off, const void *buf, size_t len);
    /* Make metadata and data durable per the cache mode. */
    int (*flush)(struct block_dev *bs);
    /* Change the virtual size. */
    int (*truncate)(struct block_dev *bs, uint64_t size, bool shrink);
    /* Status of [off, off+len): returns BLOCK_STATUS_* and sets *pnum (bytes with that status). */
    int (*block_status)(struct block_dev *bs, uint64_t off, uint64_t len, uint64_t *pnum);
};

enum {
    BLOCK_STATUS_DATA      = 1,  /* allocated in this layer */
    BLOCK_STATUS_ZERO      = 2,  /* reads as zeros */
    BLOCK_STATUS_BACKING   = 4,  /* not allocated here: comes from the backing file */
};

struct block_dev {
    const struct block_driver *drv;
    struct bfile file;
    void *opaque;              /* driver state */
    uint64_t size;             /* virtual size in bytes */
    bool readonly;
    bool wce;                  /* write cache enabled (writeback/none/unsafe) */
    struct block_dev *backing; /* qcow2 backing file, owned */
    pthread_mutex_t lock;      /* serializes every request on this device */
    char *overlay_path;        /* -snapshot: temporary overlay to delete at close */
    struct block_dev *snapshot_base; /* -snapshot: not used directly (backing owns it) */
    int depth;                 /* position in a backing chain (loop/depth guard) */
    bool probed_raw;           /* format guessed as raw: block 0 may not turn into another format */
};

/* Parse "writeback" etc.; returns 0 or -1. */
int block_parse_cache(const char *s, enum block_cache *out);
/* Name of a cache mode. */
const char *block_cache_name(enum block_cache c);

/* Open filename with format fmt (NULL: probe; raw probing warns like QEMU). Returns NULL and a
 * one-line message in err on failure. */
struct block_dev *block_open(const char *filename, const char *fmt, unsigned flags,
                             enum block_cache cache, char *err, size_t errlen);
/* Open like block_open at position depth of a backing chain (checks depth and loops). */
struct block_dev *block_open_depth(const char *filename, const char *fmt, unsigned flags,
                                   enum block_cache cache, int depth, char *err, size_t errlen);
/* Flush and close; deletes a -snapshot overlay. */
void block_close(struct block_dev *bs);
/* Read len bytes at off (past the end reads zeros). Returns 0 or -errno. */
int block_pread(struct block_dev *bs, uint64_t off, void *buf, size_t len);
/* Read len bytes at off only if that cannot block (a raw image whose data is in the host's page
 * cache, the device idle): 0, or -EAGAIN when the caller should use block_pread on a thread. */
int block_pread_nowait(struct block_dev *bs, uint64_t off, void *buf, size_t len);
/* Write len bytes at off. Returns 0 or -errno (-EROFS when read-only, -ENOSPC past the end). */
int block_pwrite(struct block_dev *bs, uint64_t off, const void *buf, size_t len);
/* Guest flush: durable when it returns 0 (per the cache mode). */
int block_flush(struct block_dev *bs);
/* Resize the virtual disk. */
int block_truncate(struct block_dev *bs, uint64_t size, bool shrink);
/* Allocation status of [off, off+len) (see BLOCK_STATUS_*). */
int block_status(struct block_dev *bs, uint64_t off, uint64_t len, uint64_t *pnum);
/* Name of the format driver. */
const char *block_format_name(const struct block_dev *bs);

/* ---- host files ---- */

/* Open a host file with a cache mode; returns 0 or -errno. */
int bfile_open(struct bfile *f, const char *filename, bool rdwr, enum block_cache cache);
/* Close the file. */
void bfile_close(struct bfile *f);
/* pread/pwrite everything or fail (-errno); reads past EOF give zeros. */
int bfile_pread(struct bfile *f, uint64_t off, void *buf, size_t len);
int bfile_pwrite(struct bfile *f, uint64_t off, const void *buf, size_t len);
/* Guest-flush semantics for the cache mode. */
int bfile_flush(struct bfile *f);
/* Current file length, or -errno. */
int64_t bfile_length(struct bfile *f);
/* Set the file length. */
int bfile_truncate(struct bfile *f, uint64_t len);
/* Bytes the file uses on disk. */
int64_t bfile_allocated(struct bfile *f);
/* Take QEMU-compatible OFD locks: write access (rdwr) or shared read; 0 or -1 with message. */
int bfile_lock(struct bfile *f, bool rdwr, char *err, size_t errlen);

/* ---- drivers ---- */
extern const struct block_driver block_driver_raw;
extern const struct block_driver block_driver_qcow2;
/* Find a driver by name, or NULL. */
const struct block_driver *block_find_driver(const char *name);

/* ---- asynchronous I/O (aio=threads) ---- */

typedef void (*block_aio_cb)(void *opaque, int ret);

enum block_aio_op { BLOCK_AIO_READ, BLOCK_AIO_WRITE, BLOCK_AIO_FLUSH };

struct block_aio_req {
    struct block_aio_req *next;
    struct block_dev *bs;
    enum block_aio_op op;
    uint64_t off;
    void *buf;
    size_t len;
    int ret;
    block_aio_cb cb;
    void *opaque;
};

#define BLOCK_AIO_WORKERS 4

/* A small worker pool; completions run on the main loop's thread. */
struct block_aio_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t threads[BLOCK_AIO_WORKERS];
    int nthreads;
    struct block_aio_req *queue_head, *queue_tail;
    struct block_aio_req *done_head, *done_tail;
    int notify_pipe[2];        /* worker -> main loop */
    struct mainloop *ml;
    bool stop;
    int in_flight;
};

/* Start the pool and register its completion pipe with ml (ml may be NULL: then the owner
 * calls block_aio_poll). Returns 0 or -1. */
int block_aio_pool_init(struct block_aio_pool *p, struct mainloop *ml);
/* Wait for in-flight requests, stop the workers, unregister. */
void block_aio_pool_destroy(struct block_aio_pool *p);
/* Submit a request; pool NULL runs it synchronously and calls cb before returning. */
void block_aio_submit(struct block_aio_pool *p, struct block_dev *bs, enum block_aio_op op,
                      uint64_t off, void *buf, size_t len, block_aio_cb cb, void *opaque);
/* Run completed callbacks (the main loop does this; tests may call it). Returns how many ran. */
int block_aio_poll(struct block_aio_pool *p);
/* Block until every submitted request has completed and its callback ran. */
void block_aio_drain(struct block_aio_pool *p);

/* ---- qcow2 specifics used by pcvm-img ---- */

struct qcow2_create_opts {
    uint64_t size;
    unsigned cluster_size;     /* default 65536 */
    int version;               /* 2 (compat=0.10) or 3 (compat=1.1, default) */
    bool lazy_refcounts;
    int compression_type;      /* 0 zlib, 1 zstd */
    const char *backing_file;
    const char *backing_fmt;
    unsigned refcount_bits;    /* default 16 */
};

/* Create a qcow2 image; returns 0 or -1 with a message. */
int qcow2_create(const char *filename, const struct qcow2_create_opts *o, char *err, size_t errlen);
/* Create a raw image of size bytes. */
int raw_create(const char *filename, uint64_t size, char *err, size_t errlen);

struct qcow2_info {
    int version;
    unsigned cluster_size;
    unsigned refcount_bits;
    bool lazy_refcounts;
    bool dirty;
    bool corrupt;
    int compression_type;
    char backing_file[1024];
    char backing_fmt[64];
    int nb_snapshots;
};
/* Header facts of an open qcow2 image. */
void qcow2_get_info(struct block_dev *bs, struct qcow2_info *info);

struct qcow2_snapshot_info {
    char id[64];
    char name[256];
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t disk_size;
    uint64_t icount;
    bool has_icount;
};
/* Copy up to max snapshot descriptions; returns the count. */
int qcow2_snapshot_list(struct block_dev *bs, struct qcow2_snapshot_info *out, int max);
/* Create, apply (revert to) and delete internal snapshots by name or id. 0 or -errno. */
int qcow2_snapshot_create(struct block_dev *bs, const char *name);
int qcow2_snapshot_apply(struct block_dev *bs, const char *name);
int qcow2_snapshot_delete(struct block_dev *bs, const char *name);
/* A piece of a VM state to store with a snapshot: len bytes at offset off of the state. */
struct qcow2_vmstate_seg {
    uint64_t off;
    const void *data;
    uint64_t len;
};
/* Create snapshot name with a VM state of vm_state_size bytes (the segments; zeros elsewhere,
 * which take no clusters) in its VM-state area, as QEMU's savevm stores it: one atomic switch,
 * so a process killed half-way leaves the image as it was. 0 or -errno. */
int qcow2_snapshot_create_vm(struct block_dev *bs, const char *name, const struct qcow2_vmstate_seg *segs,
                             unsigned nsegs, uint64_t vm_state_size, uint64_t vm_clock_nsec);
/* The same, replacing the snapshots called name (if replace) in that one switch: a process
 * killed half-way leaves the old snapshot there. 0 or -errno. */
int qcow2_snapshot_replace_vm(struct block_dev *bs, const char *name, bool replace,
                              const struct qcow2_vmstate_seg *segs, unsigned nsegs, uint64_t vm_state_size,
                              uint64_t vm_clock_nsec);
/* Read [off, off+len) of snapshot name's VM state; 0 or -errno (-ENOENT: no such snapshot). */
int qcow2_snapshot_vmstate_read(struct block_dev *bs, const char *name, uint64_t off, void *buf, size_t len);
/* The same into page-aligned memory, mapping every page-aligned piece that lies whole in the
 * image file copy-on-write (MAP_PRIVATE | MAP_FIXED) instead of reading it; *mapped tells
 * whether anything was mapped. While such pages are mapped, the snapshot's clusters must not
 * be freed (delete or replace it only after touching them for writing). 0 or -errno. */
int qcow2_snapshot_vmstate_map(struct block_dev *bs, const char *name, uint64_t off, void *buf, size_t len,
                               bool *mapped);
/* Why the last failed qcow2 operation failed, in words ("" if it set no message). */
const char *qcow2_last_error(struct block_dev *bs);

struct qcow2_check_result {
    int64_t corruptions, leaks, check_errors;
    int64_t corruptions_fixed, leaks_fixed;
    uint64_t image_end_offset;
    uint64_t total_clusters, allocated_clusters, fragmented_clusters, compressed_clusters;
};
enum { QCOW2_FIX_LEAKS = 1, QCOW2_FIX_ERRORS = 2 };
/* Check (and with fix, repair) refcounts and flags, printing findings to stderr when verbose. */
int qcow2_check(struct block_dev *bs, int fix, struct qcow2_check_result *res, bool verbose);
/* Write one compressed cluster (convert -c); len must be one cluster at a cluster boundary.
 * Returns 0, or 1 when the data did not compress (caller writes it normally), or -errno. */
int qcow2_write_compressed(struct block_dev *bs, uint64_t off, const void *buf, size_t len);
/* Change the backing file name/format recorded in the header (rebase -u). */
int qcow2_set_backing(struct block_dev *bs, const char *backing, const char *fmt);
/* Cluster size of a qcow2 image (0 for others). */
unsigned qcow2_cluster_size(struct block_dev *bs);
/* Write the clusters a qcow2 image holds itself into its backing file, empty the image and
 * reopen the backing file (src/block/commit.c). Returns 0 or -1 with a message in err. */
int block_commit(struct block_dev *top, char *err, size_t errlen);
/* Make every allocated-in-this-layer range of the active image unallocated (after commit). */
int qcow2_make_empty(struct block_dev *bs);

#endif

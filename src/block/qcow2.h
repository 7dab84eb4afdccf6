/* qcow2 on-disk constants and the driver's in-memory state (internal to src/block). */
#ifndef PCVM_BLOCK_QCOW2_H
#define PCVM_BLOCK_QCOW2_H

#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_OFFSET_MASK      UINT64_C(0x00fffffffffffe00)
#define QCOW2_RT_OFFSET_MASK   UINT64_C(0xfffffffffffffe00)
#define QCOW2_OFLAG_COPIED     (UINT64_C(1) << 63)
#define QCOW2_OFLAG_COMPRESSED (UINT64_C(1) << 62)
#define QCOW2_OFLAG_ZERO       UINT64_C(1)
#define QCOW2_INCOMPAT_DIRTY       1u
#define QCOW2_INCOMPAT_CORRUPT     2u
#define QCOW2_INCOMPAT_DATA_FILE   4u
#define QCOW2_INCOMPAT_COMPRESSION 8u
#define QCOW2_INCOMPAT_EXTL2       16u
#define QCOW2_COMPAT_LAZY          1u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857u
#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1
/* Sanity limits (the ones QEMU applies, so images QEMU makes always open). */
#define QCOW2_MAX_SIZE        (UINT64_C(1) << 56)
#define QCOW2_MAX_OFFSET      (UINT64_C(1) << 56)
#define QCOW2_MAX_L1_ENTRIES  (UINT64_C(32) * 1024 * 1024 / 8)
#define QCOW2_MAX_RT_CLUSTERS(q) ((UINT64_C(8) * 1024 * 1024) >> (q)->cluster_bits ? \
                                  (UINT64_C(8) * 1024 * 1024) >> (q)->cluster_bits : 1)
#define QCOW2_MAX_SNAPSHOTS   65536
#define QCOW2_MAX_SNAPSHOTS_SIZE (UINT64_C(64) * 1024 * 1024)
#define QCOW2_CACHE_SLOTS 16

struct qcow2_cache {
    uint64_t off[QCOW2_CACHE_SLOTS];   /* 0 = empty slot */
    uint8_t *buf[QCOW2_CACHE_SLOTS];   /* cluster-sized, on-disk (big-endian) contents */
    uint64_t lru[QCOW2_CACHE_SLOTS];
};

struct qcow2_snap {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id, *name;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec, vm_state_size, disk_size, icount;
    uint32_t extra_size;
    uint8_t *extra;
};

struct qcow2_state {
    struct block_dev *bs;
    int version;
    unsigned cluster_bits;
    uint64_t cluster_size, l2_entries, size, file_len;
    uint32_t l1_size;
    uint64_t l1_offset, *l1;              /* host order */
    uint64_t rt_offset, rt_entries, *rt;  /* refcount table, host order */
    uint32_t rt_clusters;
    unsigned refcount_order;
    uint64_t rb_entries;                  /* refcounts per refcount block */
    uint32_t nb_snapshots;
    uint32_t incomplete_snapshots;   /* entries past the end of a truncated file (read-only) */
    uint64_t snapshots_offset, snapshots_size;
    struct qcow2_snap *snaps;
    uint64_t incompat, compat, autoclear;
    int compression_type;
    char backing_file[1024];
    char backing_fmt[64];
    struct qcow2_cache l2_cache, rb_cache;
    uint64_t lru_clock;
    uint64_t free_hint;                   /* no free cluster below this one */
    uint64_t reserve_start, reserve_end;  /* found free, refcount not yet raised */
    uint64_t cfree_off;                   /* next byte for packed compressed clusters */
    uint8_t *cdata;                       /* last decompressed cluster */
    uint64_t cdata_off;
    bool cdata_valid;
    bool set_dirty;                       /* we set the dirty bit (lazy refcounts) */
    bool corrupt;
    uint64_t *repair_ref;                 /* during repair: computed refcounts */
    uint64_t repair_len;
    char errmsg[256];
};

#endif

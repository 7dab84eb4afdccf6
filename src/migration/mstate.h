/* pcvm's whole-machine state format, shared by savevm (the qcow2 VM-state area), migrate
 * (files and streams) and their loaders.
 *
 * Layout (little endian):
 *   header (64 bytes): magic "PCVMSTAT", format version, flags, RAM size, vCPU count, page
 *     size, meta length, RAM offset and length, CRC-32 of the meta and of the header;
 *   meta (at 64): sections, each a 4-character tag, a u32 length and the payload:
 *     "DEVS" the device list's sections (hw/devmodel.h), "RAMB" one bit per RAM page (set: the
 *     page is not all zero), "SLRP" a user network's libslirp state (u8 id length, id, u32
 *     libslirp version, bytes), "END " last;
 *   RAM at ram_off (page aligned): packed (the non-zero pages one after another, in address
 *     order) or, with MSTATE_RAW_RAM, the whole RAM image (zero pages are holes of a sparse
 *     file), which a loader can map copy-on-write instead of reading. */
#ifndef PCVM_MIGRATION_MSTATE_H
#define PCVM_MIGRATION_MSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSTATE_MAGIC "PCVMSTAT"
#define MSTATE_VERSION 1u
#define MSTATE_HEADER_SIZE 64u
#define MSTATE_PAGE 4096u
#define MSTATE_RAW_RAM 1u            /* flags: RAM stored as a page-aligned image */
#define MSTATE_MAX_SLIRP 8
#define MSTATE_MAX_META (1ull << 30) /* the meta is read whole: bound it */

struct mstate_header {
    uint32_t version;
    uint32_t flags;
    uint64_t ram_size;
    uint32_t ncpus;
    uint64_t meta_len;
    uint64_t ram_off;
    uint64_t ram_len;               /* bytes of the RAM area */
    uint32_t meta_crc;
};

struct mstate_slirp {
    char id[64];
    uint32_t version;
    const uint8_t *data;
    size_t len;
};

/* The meta, parsed: pointers into the caller's buffer. */
struct mstate_view {
    const uint8_t *devs;
    size_t devs_len;
    const uint8_t *bitmap;          /* ram_size / page bits */
    size_t bitmap_len;
    uint64_t nonzero_pages;
    struct mstate_slirp slirp[MSTATE_MAX_SLIRP];
    unsigned n_slirp;
};

/* Encode h (meta_crc included) into 64 bytes. */
void mstate_header_encode(const struct mstate_header *h, uint8_t out[MSTATE_HEADER_SIZE]);
/* Decode and check the header (magic, version, CRC, sizes); 0 or -1 with one line in err
 * (a foreign, newer or corrupt state). */
int mstate_header_decode(const uint8_t *buf, size_t len, struct mstate_header *h, char *err, size_t errlen);
/* Parse the meta of a decoded header (CRC, sections, bitmap against the RAM size and the RAM
 * area's length); 0 or -1 with err. */
int mstate_meta_parse(const struct mstate_header *h, const uint8_t *meta, size_t len, struct mstate_view *v,
                      char *err, size_t errlen);
/* True when page pn's bit is set in the bitmap. */
static inline bool mstate_page_set(const uint8_t *bitmap, uint64_t pn)
{
    return bitmap[pn >> 3] >> (pn & 7) & 1;
}
/* CRC-32 (zlib's) of len bytes. */
uint32_t mstate_crc(const void *p, size_t len);

/* A run of non-zero pages and where it sits in the state. */
struct mstate_run {
    uint64_t first, n;              /* pages */
    uint64_t off;                   /* byte offset in the state */
};
/* The next run of set pages of bitmap (pages bits) at or after page *pos, placed as header h
 * says (packed: *packed pages written before it); advances *pos and *packed. False at the end. */
bool mstate_next_run(const struct mstate_header *h, const uint8_t *bitmap, uint64_t pages, uint64_t *pos,
                     uint64_t *packed, struct mstate_run *run);

/* Where a state is read from. read_at is called with increasing offsets (a stream source
 * skips forward); 0 or -errno (-ENODATA: the state ended). */
struct mstate_source {
    int (*read_at)(void *opaque, uint64_t off, void *buf, size_t len);
    void *opaque;
    int map_fd;                     /* >= 0: a file whose raw RAM may be mapped copy-on-write */
    uint64_t size;                  /* bytes available, or UINT64_MAX when unknown */
    /* If not NULL: like read_at into page-aligned fresh memory, but it may map the pages
     * copy-on-write instead; 1 if it mapped any, 0 if it read all, or -errno. */
    int (*map_at)(void *opaque, uint64_t off, void *buf, size_t len);
};

struct device_list;

/* What a state is loaded into. */
struct mstate_target {
    struct device_list *devices;
    uint8_t *ram;                   /* one mmap'ed region of ram_size bytes (replaced in place) */
    uint64_t ram_size;
    unsigned ncpus;
    /* A user network section: check it (load=false: id known, version readable) or load it;
     * 0 or -1 with err. NULL: such sections are refused. */
    int (*slirp)(void *opaque, const struct mstate_slirp *s, bool load, char *err, size_t errlen);
    void *opaque;
    bool *ram_mapped;               /* if not NULL: set when the RAM was replaced (mapped from a file or not) */
};

/* Load a state: header, meta and every device section are checked before anything changes,
 * then the RAM is replaced (mapped from src->map_fd for a raw state, else zeroed and the
 * non-zero runs read in) and the devices loaded. 0, or -1 with one line in err; *changed
 * tells whether the target was touched already. */
int mstate_load(const struct mstate_target *t, const struct mstate_source *src, bool *changed, char *err,
                size_t errlen);

#endif

/* A 9P2000.L file server over one host directory (the "share"), as Linux's v9fs uses it:
 * version, attach, walk, getattr/setattr, lopen/lcreate, read/write, readdir, mkdir, mknod
 * (FIFOs and sockets; device nodes too under mapped-xattr), symlink, readlink, link,
 * rename/renameat, unlinkat, remove, statfs, lock/getlock, fsync, flush, clunk, and extended
 * attributes (xattrwalk to read a value or the list of names, xattrcreate + write + clunk to
 * set or remove one).
 *
 * The guest never reaches outside the share: fids hold paths relative to the share, made of
 * validated names ("..", "/" and empty names never stored), and every access opens the path
 * one component at a time from the share's directory descriptor with O_NOFOLLOW, so a symlink
 * (planted before or during the access) is never followed by the host; the final component is
 * used through *at() calls that do not follow it either. The guest's kernel resolves symlinks
 * itself through readlink.
 *
 * Security models as QEMU's local back end: passthrough (files get the guest's owner and
 * mode), none (the same, failures to change ownership ignored) and mapped-xattr (host files
 * keep the server's owner; the guest's uid, gid, mode and device numbers live in
 * user.virtfs.* extended attributes; device nodes, FIFOs, sockets and symlinks the guest makes
 * are regular files, a symlink's target being its content; the guest's own attributes other
 * than user.* are stored as user.virtfs.NAME, and pcvm's are hidden from it). readonly refuses
 * every change with EROFS. */
#ifndef PCVM_FS_P9_H
#define PCVM_FS_P9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P9_MAX_MSIZE (1u << 20)      /* largest message size negotiated */
#define P9_MAX_FIDS 65536
#define P9_FID_BUCKETS 256

enum p9_security { P9_SEC_NONE, P9_SEC_PASSTHROUGH, P9_SEC_MAPPED_XATTR };

struct p9_fid;

struct p9_server {
    int root_fd;                   /* the share's directory */
    enum p9_security security;
    bool readonly;
    uint32_t msize;                /* negotiated by Tversion (0: not yet) */
    struct p9_fid *fids[P9_FID_BUCKETS];   /* chained by fid number */
    unsigned fid_count;
    uint64_t requests, errors;
};

/* Open the share at path; 0 or -1 with one line in err. */
int p9_server_init(struct p9_server *s, const char *path, enum p9_security security, bool readonly,
                   char *err, size_t errlen);
/* Forget every fid (Tversion does this too, and the device reset). */
void p9_server_reset(struct p9_server *s);
/* Close everything. */
void p9_server_destroy(struct p9_server *s);
/* Handle one T-message of len bytes in req, writing the R-message (Rlerror on failure) into
 * reply (cap bytes). Returns the reply length, or 0 when req is too malformed to answer (no
 * readable header): the transport then reports the guest's error. */
size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *reply, size_t cap);

#endif

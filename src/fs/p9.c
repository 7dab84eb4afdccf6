/* 9P2000.L server beneath one directory (see p9.h). */
#include "fs/p9.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* Message types (9P2000.L and the 9P2000 ones it keeps). */
enum {
    TLERROR = 6, RLERROR = 7, TSTATFS = 8, TLOPEN = 12, TLCREATE = 14, TSYMLINK = 16, TMKNOD = 18,
    TRENAME = 20, TREADLINK = 22, TGETATTR = 24, TSETATTR = 26, TXATTRWALK = 30, TXATTRCREATE = 32,
    TREADDIR = 40, TFSYNC = 50, TLOCK = 52, TGETLOCK = 54, TLINK = 70, TMKDIR = 72, TRENAMEAT = 74,
    TUNLINKAT = 76, TVERSION = 100, TAUTH = 102, TATTACH = 104, TFLUSH = 108, TWALK = 110,
    TREAD = 116, TWRITE = 118, TCLUNK = 120, TREMOVE = 122,
};
enum { QT_DIR = 0x80, QT_SYMLINK = 0x02, QT_FILE = 0 };
enum { MAX_WALK = 16, HDR = 7 };
/* Tsetattr valid bits. */
enum { SA_MODE = 1, SA_UID = 2, SA_GID = 4, SA_SIZE = 8, SA_ATIME = 0x10, SA_MTIME = 0x20,
       SA_ATIME_SET = 0x80, SA_MTIME_SET = 0x100 };
enum { P9L_RD = 0, P9L_WR = 1, P9L_UN = 2 };
enum { P9L_SUCCESS = 0, P9L_BLOCKED = 1, P9L_ERROR = 2 };
#define GETATTR_BASIC 0x7ffull
#define AT_REMOVEDIR_9P 0x200
#define NO_ID 0xffffffffu

struct p9_fid {
    struct p9_fid *next;
    uint32_t id;
    uint32_t uid;                  /* the attaching user (n_uname) */
    char *path;                    /* beneath the share: "" or "a/b" */
    int fd;                        /* after lopen/lcreate, else -1 */
    DIR *dir;                      /* readdir stream over a dup of fd */
    enum { FID_FILE, FID_XATTR_READ, FID_XATTR_WRITE } kind;
    uint8_t *xval;                 /* xattr value or name list read (READ), value written (WRITE) */
    size_t xlen, xcopied;          /* its length; bytes the guest wrote so far (WRITE) */
    char *xname;                   /* host attribute name (WRITE) */
    int xflags;                    /* XATTR_CREATE / XATTR_REPLACE (WRITE) */
};

/* ---- message reading and writing ---- */

struct rd {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint64_t rdn(struct rd *r, unsigned n)
{
    const uint8_t *p = take(r, n);
    uint64_t v = 0;
    for (unsigned i = 0; p && i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint8_t r8(struct rd *r) { return (uint8_t)rdn(r, 1); }
static uint32_t r32(struct rd *r) { return (uint32_t)rdn(r, 4); }
static uint64_t r64(struct rd *r) { return rdn(r, 8); }

/* A string into buf (cap bytes with the NUL); embedded NULs or too long: bad. */
static char *rstr(struct rd *r, char *buf, size_t cap)
{
    size_t n = (size_t)rdn(r, 2);
    const uint8_t *p = take(r, n);
    if (!p || n >= cap || memchr(p, 0, n)) {
        r->bad = true;
        buf[0] = 0;
        return NULL;
    }
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

struct wr {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

static void wbytes(struct wr *w, const void *b, size_t n)
{
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

static void wn(struct wr *w, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    wbytes(w, b, n);
}
static void w8(struct wr *w, uint8_t v) { wn(w, v, 1); }
static void w16(struct wr *w, uint16_t v) { wn(w, v, 2); }
static void w32(struct wr *w, uint32_t v) { wn(w, v, 4); }
static void w64(struct wr *w, uint64_t v) { wn(w, v, 8); }
static void wstr(struct wr *w, const char *s)
{
    size_t n = strlen(s);
    w16(w, (uint16_t)n);
    wbytes(w, s, n);
}

static void wqid(struct wr *w, const struct stat *st)
{
    w8(w, S_ISDIR(st->st_mode) ? QT_DIR : S_ISLNK(st->st_mode) ? QT_SYMLINK : QT_FILE);
    w32(w, 0);
    w64(w, (uint64_t)st->st_ino);
}

/* ---- fids ---- */

static struct p9_fid *fid_get(struct p9_server *s, uint32_t id)
{
    for (struct p9_fid *f = s->fids[id % P9_FID_BUCKETS]; f; f = f->next)
        if (f->id == id)
            return f;
    return NULL;
}

static void fid_close(struct p9_fid *f)
{
    if (f->dir)
        closedir(f->dir);
    if (f->fd >= 0)
        close(f->fd);
    f->dir = NULL;
    f->fd = -1;
    free(f->xval);
    free(f->xname);
    f->xval = NULL;
    f->xname = NULL;
    f->kind = FID_FILE;
}

/* A new fid with path (copied); NULL when the id is taken or out of memory/fids. */
static struct p9_fid *fid_new(struct p9_server *s, uint32_t id, const char *path, uint32_t uid)
{
    if (id == NO_ID || fid_get(s, id) || s->fid_count >= P9_MAX_FIDS)
        return NULL;
    struct p9_fid *f = calloc(1, sizeof(*f));
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return NULL;
    }
    f->id = id;
    f->uid = uid;
    f->fd = -1;
    f->next = s->fids[id % P9_FID_BUCKETS];
    s->fids[id % P9_FID_BUCKETS] = f;
    s->fid_count++;
    return f;
}

static void fid_free(struct p9_server *s, uint32_t id)
{
    for (struct p9_fid **pp = &s->fids[id % P9_FID_BUCKETS]; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            struct p9_fid *f = *pp;
            *pp = f->next;
            fid_close(f);
            free(f->path);
            free(f);
            s->fid_count--;
            return;
        }
}

void p9_server_reset(struct p9_server *s)
{
    for (unsigned b = 0; b < P9_FID_BUCKETS; b++)
        while (s->fids[b])
            fid_free(s, s->fids[b]->id);
    s->msize = 0;
}

/* ---- paths beneath the share ---- */

/* A name the guest may use as one component. */
static bool valid_name(const char *n)
{
    return n[0] && strcmp(n, ".") && strcmp(n, "..") && !strchr(n, '/');
}

/* Open the directory at rel (may be "") beneath the root, one component at a time, never
 * following a symlink: O_PATH descriptor or -errno. */
static int open_dir(struct p9_server *s, const char *rel)
{
    int fd = openat(s->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (n == 0 || n > NAME_MAX) {
            close(fd);
            return -EINVAL;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        int nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (nfd < 0)
            return -(e == ELOOP ? ENOTDIR : e);
        fd = nfd;
        p += n + (slash ? 1 : 0);
    }
    return fd;
}

/* The parent directory of rel and its last name ("." for the root itself). */
static int open_parent(struct p9_server *s, const char *rel, char *name, size_t namecap)
{
    const char *slash = strrchr(rel, '/');
    if (!*rel) {
        snprintf(name, namecap, ".");
        return open_dir(s, "");
    }
    char parent[PATH_MAX];
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    if (plen >= sizeof(parent) || strlen(slash ? slash + 1 : rel) >= namecap)
        return -ENAMETOOLONG;
    memcpy(parent, rel, plen);
    parent[plen] = 0;
    snprintf(name, namecap, "%s", slash ? slash + 1 : rel);
    return open_dir(s, parent);
}

/* rel + "/" + name into out. */
static int join(char *out, size_t cap, const char *rel, const char *name)
{
    int n = snprintf(out, cap, "%s%s%s", rel, *rel ? "/" : "", name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* lstat of the fid's file (beneath the share); 0 or -errno. */
static int stat_path(struct p9_server *s, const char *rel, struct stat *st)
{
    char name[NAME_MAX + 1];
    int dfd = open_parent(s, rel, name, sizeof(name));
    if (dfd < 0)
        return dfd;
    int r = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    close(dfd);
    return r;
}

/* An O_PATH descriptor of the file itself (not following a final symlink), or -errno. */
static int open_path(struct p9_server *s, const char *rel)
{
    char name[NAME_MAX + 1];
    int dfd = open_parent(s, rel, name, sizeof(name));
    if (dfd < 0)
        return dfd;
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(dfd);
    return fd < 0 ? -e : fd;
}

static void proc_path(char *buf, size_t cap, int fd)
{
    snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

/* ---- mapped-xattr credentials ---- */

static const char *const XA_UID = "user.virtfs.uid", *const XA_GID = "user.virtfs.gid",
                  *const XA_MODE = "user.virtfs.mode", *const XA_RDEV = "user.virtfs.rdev";

/* Store the guest's view on the inode behind an O_PATH fd (not a symlink); 0 or -errno. */
static int set_mapped(int pathfd, const uint32_t *uid, const uint32_t *gid, const uint32_t *mode,
                      const uint64_t *rdev)
{
    char pp[40];
    proc_path(pp, sizeof(pp), pathfd);
    if ((uid && setxattr(pp, XA_UID, uid, 4, 0) < 0) || (gid && setxattr(pp, XA_GID, gid, 4, 0) < 0) ||
        (mode && setxattr(pp, XA_MODE, mode, 4, 0) < 0) || (rdev && setxattr(pp, XA_RDEV, rdev, 8, 0) < 0))
        return -errno;
    return 0;
}

/* The file type the guest sees for a host file whose stored mode is stored: device nodes,
 * FIFOs, sockets and symlinks made by the guest are regular files on the host (as QEMU's
 * mapped models keep them); a stored type never turns a host directory or symlink into
 * something else, nor a host file into a directory. */
static mode_t mapped_type(mode_t host, uint32_t stored)
{
    mode_t t = stored & S_IFMT;
    if (S_ISREG(host) && (S_ISCHR(t) || S_ISBLK(t) || S_ISFIFO(t) || S_ISSOCK(t) || S_ISLNK(t)))
        return t;
    return host & S_IFMT;
}

/* Replace owner, mode and device number in st (lstat of the O_PATH fd pathfd) with the stored
 * ones. */
static void apply_mapped_fd(int pathfd, struct stat *st)
{
    if (S_ISLNK(st->st_mode))
        return;
    char pp[40];
    proc_path(pp, sizeof(pp), pathfd);
    uint32_t v;
    if (getxattr(pp, XA_UID, &v, 4) == 4)
        st->st_uid = v;
    if (getxattr(pp, XA_GID, &v, 4) == 4)
        st->st_gid = v;
    if (getxattr(pp, XA_MODE, &v, 4) == 4)
        st->st_mode = mapped_type(st->st_mode, v) | (v & 07777);
    uint64_t d;
    if (getxattr(pp, XA_RDEV, &d, 8) == 8 && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
        st->st_rdev = d;
}

/* Replace owner and mode in st with the stored ones (mapped-xattr). */
static void apply_mapped(struct p9_server *s, const char *rel, struct stat *st)
{
    if (s->security != P9_SEC_MAPPED_XATTR || S_ISLNK(st->st_mode))
        return;
    int fd = open_path(s, rel);
    if (fd < 0)
        return;
    apply_mapped_fd(fd, st);
    close(fd);
}

/* The same for name in the directory dfd (readdir entries). */
static void apply_mapped_at(struct p9_server *s, int dfd, const char *name, struct stat *st)
{
    if (s->security != P9_SEC_MAPPED_XATTR || S_ISLNK(st->st_mode))
        return;
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    apply_mapped_fd(fd, st);
    close(fd);
}

/* After creating name in dfd: the guest's owner (passthrough/none) or the stored view (with
 * the device number rdev of a mapped device node, else NULL). */
static int set_owner(struct p9_server *s, int dfd, const char *name, uint32_t uid, uint32_t gid, uint32_t mode,
                     const uint64_t *rdev)
{
    if (s->security == P9_SEC_MAPPED_XATTR) {
        int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : S_ISLNK(st.st_mode) ? 0 : set_mapped(fd, &uid, &gid, &mode, rdev);
        close(fd);
        return r;
    }
    if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && s->security == P9_SEC_PASSTHROUGH)
        return -errno;
    return 0;
}

/* The host mode a new file gets: the guest's (passthrough/none) or the server's own. */
static mode_t host_mode(const struct p9_server *s, uint32_t mode, bool dir)
{
    if (s->security == P9_SEC_MAPPED_XATTR)
        return dir ? 0700 : 0600;
    return mode & 07777;
}

/* ---- requests ---- */

#define NEED(cond) do { if (!(cond)) return EPROTO; } while (0)
#define RO(s) do { if ((s)->readonly) return EROFS; } while (0)

static int do_version(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t msize = r32(r);
    char ver[32];
    rstr(r, ver, sizeof(ver));
    NEED(!r->bad);
    p9_server_reset(s);
    /* Not capped by this request's reply buffer: Linux (since 6.0) sends Tversion with a small
     * one, and each later reply is cut to its own request's buffer anyway. */
    if (msize > P9_MAX_MSIZE)
        msize = P9_MAX_MSIZE;
    if (msize < 512)
        return EINVAL;
    bool ok = !strncmp(ver, "9P2000.L", 8);
    s->msize = ok ? msize : 0;
    w32(w, msize);
    wstr(w, ok ? "9P2000.L" : "unknown");
    return 0;
}

static int do_attach(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    r32(r);                        /* afid: no authentication */
    char uname[256], aname[PATH_MAX];
    rstr(r, uname, sizeof(uname));
    rstr(r, aname, sizeof(aname));
    uint32_t uid = r32(r);
    NEED(!r->bad);
    struct stat st;
    if (fstat(s->root_fd, &st) < 0)
        return errno;
    apply_mapped(s, "", &st);
    if (!fid_new(s, fid, "", uid == NO_ID ? 0 : uid))
        return EBADF;
    wqid(w, &st);
    return 0;
}

static int do_walk(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r), newfid = r32(r);
    uint16_t n = (uint16_t)rdn(r, 2);
    NEED(!r->bad);
    if (n > MAX_WALK)
        return E2BIG;
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    if (newfid != fid && fid_get(s, newfid))
        return EBADF;
    if (f->fd >= 0 && n)
        return EBADF;              /* walking from an open fid */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", f->path);
    struct stat st[MAX_WALK];
    unsigned done = 0;
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        char name[NAME_MAX + 1];
        if (!rstr(r, name, sizeof(name)))
            return EPROTO;
        if (err)
            continue;
        char next[PATH_MAX];
        if (!strcmp(name, "..")) {
            char *slash = strrchr(path, '/');
            if (slash)
                *slash = 0;
            else
                path[0] = 0;       /* the root's parent is the root */
            snprintf(next, sizeof(next), "%s", path);
        } else if (!valid_name(name)) {
            err = ENOENT;
            continue;
        } else if ((err = -join(next, sizeof(next), path, name))) {
            continue;
        }
        int e = stat_path(s, next, &st[i]);
        if (e < 0) {
            err = -e;
            continue;
        }
        apply_mapped(s, next, &st[i]);
        snprintf(path, sizeof(path), "%s", next);
        done++;
    }
    if (err && done == 0)
        return err;
    if (done == n) {
        if (newfid == fid) {
            char *p = strdup(path);
            if (!p)
                return ENOMEM;
            free(f->path);
            f->path = p;
        } else if (!fid_new(s, newfid, path, f->uid)) {
            return ENOMEM;
        }
    }
    w16(w, (uint16_t)done);
    for (unsigned i = 0; i < done; i++)
        wqid(w, &st[i]);
    return 0;
}

static int do_getattr(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    r64(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    struct stat st;
    int e = f->fd >= 0 ? (fstat(f->fd, &st) < 0 ? -errno : 0) : stat_path(s, f->path, &st);
    if (e < 0)
        return -e;
    apply_mapped(s, f->path, &st);
    w64(w, GETATTR_BASIC);
    wqid(w, &st);
    w32(w, st.st_mode);
    w32(w, st.st_uid);
    w32(w, st.st_gid);
    w64(w, st.st_nlink);
    w64(w, st.st_rdev);
    w64(w, (uint64_t)st.st_size);
    w64(w, (uint64_t)st.st_blksize);
    w64(w, (uint64_t)st.st_blocks);
    w64(w, (uint64_t)st.st_atim.tv_sec);
    w64(w, (uint64_t)st.st_atim.tv_nsec);
    w64(w, (uint64_t)st.st_mtim.tv_sec);
    w64(w, (uint64_t)st.st_mtim.tv_nsec);
    w64(w, (uint64_t)st.st_ctim.tv_sec);
    w64(w, (uint64_t)st.st_ctim.tv_nsec);
    for (int i = 0; i < 4; i++)
        w64(w, 0);                 /* btime, gen, data_version */
    return 0;
}

static int do_setattr(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t fid = r32(r), valid = r32(r), mode = r32(r), uid = r32(r), gid = r32(r);
    uint64_t size = r64(r), as = r64(r), ans = r64(r), ms = r64(r), mns = r64(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    RO(s);
    int pfd = open_path(s, f->path);
    if (pfd < 0)
        return -pfd;
    struct stat st;
    int err = 0;
    char pp[40];
    proc_path(pp, sizeof(pp), pfd);
    if (fstat(pfd, &st) < 0)
        err = errno;
    if (!err && (valid & SA_MODE) && !S_ISLNK(st.st_mode)) {
        if (s->security == P9_SEC_MAPPED_XATTR) {
            struct stat seen = st;
            apply_mapped_fd(pfd, &seen);  /* keeps a mapped device node's type */
            uint32_t m = (seen.st_mode & S_IFMT) | (mode & 07777);
            err = -set_mapped(pfd, NULL, NULL, &m, NULL);
        } else if (fchmodat(AT_FDCWD, pp, mode & 07777, 0) < 0) {
            err = errno;
        }
    }
    if (!err && (valid & (SA_UID | SA_GID))) {
        if (s->security == P9_SEC_MAPPED_XATTR) {
            if (!S_ISLNK(st.st_mode))
                err = -set_mapped(pfd, (valid & SA_UID) ? &uid : NULL, (valid & SA_GID) ? &gid : NULL, NULL, NULL);
        } else if (fchownat(pfd, "", (valid & SA_UID) ? uid : (uid_t)-1, (valid & SA_GID) ? gid : (gid_t)-1,
                            AT_EMPTY_PATH) < 0 && s->security == P9_SEC_PASSTHROUGH) {
            err = errno;
        }
    }
    if (!err && (valid & SA_SIZE)) {
        if (!S_ISREG(st.st_mode)) {
            err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        } else {
            int fd = open(pp, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
                err = errno;
            if (fd >= 0)
                close(fd);
        }
    }
    if (!err && (valid & (SA_ATIME | SA_MTIME))) {
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
        if (valid & SA_ATIME)
            ts[0] = (valid & SA_ATIME_SET) ? (struct timespec){ (time_t)as, (long)ans } :
                                            (struct timespec){ 0, UTIME_NOW };
        if (valid & SA_MTIME)
            ts[1] = (valid & SA_MTIME_SET) ? (struct timespec){ (time_t)ms, (long)mns } :
                                            (struct timespec){ 0, UTIME_NOW };
        if ((ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW && (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)) ||
            (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW && (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)))
            err = EINVAL;
        else if (utimensat(pfd, "", ts, AT_EMPTY_PATH) < 0)
            err = errno;
    }
    close(pfd);
    return err;
}

/* Open flags the guest may pass through (Linux's values on both sides). */
static int open_flags(uint32_t l)
{
    return (int)(l & (O_ACCMODE | O_TRUNC | O_APPEND | O_DSYNC | O_SYNC | O_DIRECTORY)) | O_NOFOLLOW |
           O_CLOEXEC | O_NONBLOCK;
}

/* Clear O_NONBLOCK (used only so that opening a FIFO never blocks the emulator). */
static void blocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

static int do_lopen(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r), flags = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->fd >= 0 || f->kind != FID_FILE)
        return EBADF;
    int fl = open_flags(flags);
    if (s->readonly && ((fl & O_ACCMODE) != O_RDONLY || (fl & O_TRUNC)))
        return EROFS;
    char name[NAME_MAX + 1];
    int dfd = open_parent(s, f->path, name, sizeof(name));
    if (dfd < 0)
        return -dfd;
    struct stat st;
    int fd = -1, err = 0;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        err = errno;
    else if (S_ISDIR(st.st_mode))
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    else if (S_ISREG(st.st_mode))
        fd = openat(dfd, name, fl & ~O_DIRECTORY);
    else
        err = S_ISLNK(st.st_mode) ? ELOOP : EOPNOTSUPP;   /* no device nodes, FIFOs or sockets */
    if (!err && fd < 0)
        err = errno;
    close(dfd);
    if (err)
        return err;
    blocking(fd);
    f->fd = fd;
    fstat(fd, &st);
    apply_mapped(s, f->path, &st);
    wqid(w, &st);
    w32(w, 0);                     /* iounit: the client uses msize */
    return 0;
}

static int do_lcreate(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    char name[NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    uint32_t flags = r32(r), mode = r32(r), gid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->fd >= 0 || f->kind != FID_FILE)
        return EBADF;
    RO(s);
    if (!valid_name(name))
        return EINVAL;
    char path[PATH_MAX];
    int e = join(path, sizeof(path), f->path, name);
    if (e < 0)
        return -e;
    int dfd = open_dir(s, f->path);
    if (dfd < 0)
        return -dfd;
    int fd = openat(dfd, name, (open_flags(flags) & ~O_DIRECTORY) | O_CREAT | O_EXCL, host_mode(s, mode, false));
    int err = fd < 0 ? errno : 0;
    if (!err && (e = set_owner(s, dfd, name, f->uid, gid, S_IFREG | (mode & 07777), NULL)) < 0) {
        err = -e;
        close(fd);
        unlinkat(dfd, name, 0);
    }
    close(dfd);
    if (err)
        return err;
    char *p = strdup(path);
    if (!p) {
        close(fd);
        return ENOMEM;
    }
    blocking(fd);
    free(f->path);
    f->path = p;
    f->fd = fd;
    struct stat st;
    fstat(fd, &st);
    apply_mapped(s, f->path, &st);
    wqid(w, &st);
    w32(w, 0);
    return 0;
}

static int do_read(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    uint64_t off = r64(r);
    uint32_t count = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    size_t room = w->cap - w->len - 4;
    if (count > room)
        count = (uint32_t)room;
    if (f->kind == FID_XATTR_READ) {
        size_t n = off < f->xlen ? f->xlen - (size_t)off : 0;
        if (n > count)
            n = count;
        w32(w, (uint32_t)n);
        wbytes(w, f->xval + (n ? off : 0), n);
        return 0;
    }
    if (f->fd < 0)
        return EBADF;
    if (off > INT64_MAX)
        return EINVAL;
    ssize_t n;
    do
        n = pread(f->fd, w->p + w->len + 4, count, (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    w32(w, (uint32_t)n);
    w->len += (size_t)n;
    return 0;
}

static int do_write(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    uint64_t off = r64(r);
    uint32_t count = r32(r);
    const uint8_t *data = take(r, count);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (f && f->kind == FID_XATTR_WRITE) {
        /* The value of an xattrcreate, in order; it is set when the fid is clunked. */
        if (off != f->xcopied)
            return EINVAL;
        size_t n = f->xlen - f->xcopied < count ? f->xlen - f->xcopied : count;
        if (n < count && !n)
            return ENOSPC;
        memcpy(f->xval + f->xcopied, data, n);
        f->xcopied += n;
        w32(w, (uint32_t)n);
        return 0;
    }
    if (!f || f->fd < 0)
        return EBADF;
    RO(s);
    if (off > INT64_MAX)
        return EINVAL;
    ssize_t n;
    do
        n = pwrite(f->fd, data, count, (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    w32(w, (uint32_t)n);
    return 0;
}

static int do_readdir(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    uint64_t off = r64(r);
    uint32_t count = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->fd < 0)
        return EBADF;
    if (!f->dir) {
        int d = dup(f->fd);
        if (d < 0 || !(f->dir = fdopendir(d))) {
            int e = errno;
            if (d >= 0)
                close(d);
            return e;
        }
    }
    if (off == 0)
        rewinddir(f->dir);
    else
        seekdir(f->dir, (long)off);
    struct stat self;
    if (fstat(f->fd, &self) < 0)
        return errno;
    size_t start = w->len;
    w32(w, 0);
    size_t room = w->cap - w->len;
    if (count < room)
        room = count;
    size_t used = 0;
    for (;;) {
        long before = telldir(f->dir);
        errno = 0;
        struct dirent *de = readdir(f->dir);
        if (!de)
            break;
        size_t nl = strlen(de->d_name), need = 13 + 8 + 1 + 2 + nl;
        if (used + need > room) {
            seekdir(f->dir, before);
            break;
        }
        struct stat st = self;
        uint8_t type = de->d_type;
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            if (fstatat(dirfd(f->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;          /* gone meanwhile */
            if (s->security == P9_SEC_MAPPED_XATTR && S_ISREG(st.st_mode)) {
                apply_mapped_at(s, dirfd(f->dir), de->d_name, &st);
                type = (uint8_t)IFTODT(st.st_mode);   /* a mapped device node or symlink */
            }
        }
        wqid(w, &st);
        w64(w, (uint64_t)telldir(f->dir));
        w8(w, type);
        wstr(w, de->d_name);
        used += need;
    }
    uint8_t *c = w->p + start;
    c[0] = (uint8_t)used;
    c[1] = (uint8_t)(used >> 8);
    c[2] = (uint8_t)(used >> 16);
    c[3] = (uint8_t)(used >> 24);
    return 0;
}

/* The end of mkdir, symlink and mknod: err is the create's errno (0: made). Gives the new
 * entry its owner (undoing the create if that fails), answers its qid, closes dfd. */
static int finish_create(struct p9_server *s, struct wr *w, int dfd, const char *name, int err,
                         uint32_t uid, uint32_t gid, uint32_t owner_mode, const uint64_t *rdev, int unlink_flag)
{
    int e;
    if (!err && (e = set_owner(s, dfd, name, uid, gid, owner_mode, rdev)) < 0) {
        err = -e;
        unlinkat(dfd, name, unlink_flag);
    }
    struct stat st;
    if (!err && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        err = errno;
    if (!err)
        apply_mapped_at(s, dfd, name, &st);
    close(dfd);
    if (err)
        return err;
    wqid(w, &st);
    return 0;
}

static int do_mkdir(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    char name[NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    uint32_t mode = r32(r), gid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    RO(s);
    if (!valid_name(name))
        return EINVAL;
    int dfd = open_dir(s, f->path);
    if (dfd < 0)
        return -dfd;
    int err = mkdirat(dfd, name, host_mode(s, mode, true)) < 0 ? errno : 0;
    return finish_create(s, w, dfd, name, err, f->uid, gid, S_IFDIR | (mode & 07777), NULL, AT_REMOVEDIR);
}

static int do_symlink(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    char name[NAME_MAX + 1], target[PATH_MAX];
    rstr(r, name, sizeof(name));
    rstr(r, target, sizeof(target));
    uint32_t gid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    RO(s);
    if (!valid_name(name))
        return EINVAL;
    int dfd = open_dir(s, f->path);
    if (dfd < 0)
        return -dfd;
    /* The target is stored as given: the host never follows it (every access uses O_NOFOLLOW).
     * mapped-xattr keeps it as the content of a regular file, as QEMU does. */
    int err = 0;
    if (s->security == P9_SEC_MAPPED_XATTR) {
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        size_t tl = strlen(target);
        if (fd < 0) {
            err = errno;
        } else {
            if (write(fd, target, tl) != (ssize_t)tl) {
                err = errno ? errno : EIO;
                unlinkat(dfd, name, 0);
            }
            close(fd);
        }
    } else if (symlinkat(target, dfd, name) < 0) {
        err = errno;
    }
    return finish_create(s, w, dfd, name, err, f->uid, gid, S_IFLNK | 0777, NULL, 0);
}

static int do_mknod(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    char name[NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    uint32_t mode = r32(r), major = r32(r), minor = r32(r), gid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    RO(s);
    if (!valid_name(name))
        return EINVAL;
    bool mapped = s->security == P9_SEC_MAPPED_XATTR;
    bool dev = S_ISCHR(mode) || S_ISBLK(mode);
    if (!S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISREG(mode) && !(mapped && dev))
        return mapped ? EINVAL : EPERM;   /* device nodes only as mapped regular files */
    int dfd = open_dir(s, f->path);
    if (dfd < 0)
        return -dfd;
    /* mapped-xattr: every node is a regular file; its type and device number are stored. */
    mode_t host = mapped ? S_IFREG | 0600 : (mode & S_IFMT) | host_mode(s, mode, false);
    uint64_t rdev = makedev(major, minor);
    int err = mknodat(dfd, name, host, 0) < 0 ? errno : 0;
    return finish_create(s, w, dfd, name, err, f->uid, gid, mode & (S_IFMT | 07777), dev ? &rdev : NULL, 0);
}

static int do_readlink(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    char name[NAME_MAX + 1], target[PATH_MAX];
    int dfd = open_parent(s, f->path, name, sizeof(name));
    if (dfd < 0)
        return -dfd;
    ssize_t n;
    struct stat st;
    if (s->security == P9_SEC_MAPPED_XATTR && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
        /* A symlink the guest made: its target is the file's content. */
        apply_mapped_at(s, dfd, name, &st);
        int fd = -1;
        errno = EINVAL;            /* not a symlink */
        if (S_ISLNK(st.st_mode))
            fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        n = fd < 0 ? -1 : read(fd, target, sizeof(target) - 1);
        if (fd >= 0)
            close(fd);
    } else {
        n = readlinkat(dfd, name, target, sizeof(target) - 1);
    }
    int e = errno;
    close(dfd);
    if (n < 0)
        return e;
    target[n] = 0;
    wstr(w, target);
    return 0;
}

/* Paths of fids at or below from now live under to. */
static void renamed(struct p9_server *s, const char *from, const char *to)
{
    size_t fl = strlen(from);
    for (unsigned b = 0; b < P9_FID_BUCKETS; b++)
        for (struct p9_fid *f = s->fids[b]; f; f = f->next) {
            if (strncmp(f->path, from, fl) || (f->path[fl] && f->path[fl] != '/'))
                continue;
            char np[PATH_MAX];
            if (snprintf(np, sizeof(np), "%s%s", to, f->path + fl) >= (int)sizeof(np))
                continue;
            char *p = strdup(np);
            if (p) {
                free(f->path);
                f->path = p;
            }
        }
}

/* Rename olddir/oldname to newdir/newname (fid paths of both dirs). */
static int rename_paths(struct p9_server *s, const char *olddir, const char *oldname, const char *newdir,
                        const char *newname)
{
    if (!valid_name(oldname) || !valid_name(newname))
        return EINVAL;
    char from[PATH_MAX], to[PATH_MAX];
    if (join(from, sizeof(from), olddir, oldname) < 0 || join(to, sizeof(to), newdir, newname) < 0)
        return ENAMETOOLONG;
    int ofd = open_dir(s, olddir);
    if (ofd < 0)
        return -ofd;
    int nfd = open_dir(s, newdir);
    if (nfd < 0) {
        close(ofd);
        return -nfd;
    }
    int err = renameat(ofd, oldname, nfd, newname) < 0 ? errno : 0;
    close(ofd);
    close(nfd);
    if (!err)
        renamed(s, from, to);
    return err;
}

static int do_rename(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t fid = r32(r), dfid = r32(r);
    char name[NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid), *d = fid_get(s, dfid);
    if (!f || !d)
        return EBADF;
    RO(s);
    if (!*f->path)
        return EBUSY;              /* the share's root */
    char dir[PATH_MAX], old[NAME_MAX + 1];
    const char *slash = strrchr(f->path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - f->path) : 0, f->path);
    snprintf(old, sizeof(old), "%s", slash ? slash + 1 : f->path);
    char newdir[PATH_MAX];
    snprintf(newdir, sizeof(newdir), "%s", d->path);
    return rename_paths(s, dir, old, newdir, name);
}

static int do_renameat(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t ofid = r32(r);
    char oldname[NAME_MAX + 1], newname[NAME_MAX + 1];
    rstr(r, oldname, sizeof(oldname));
    uint32_t nfid = r32(r);
    rstr(r, newname, sizeof(newname));
    NEED(!r->bad);
    struct p9_fid *o = fid_get(s, ofid), *n = fid_get(s, nfid);
    if (!o || !n)
        return EBADF;
    RO(s);
    char od[PATH_MAX], nd[PATH_MAX];
    snprintf(od, sizeof(od), "%s", o->path);
    snprintf(nd, sizeof(nd), "%s", n->path);
    return rename_paths(s, od, oldname, nd, newname);
}

static int do_unlinkat(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t fid = r32(r);
    char name[NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    uint32_t flags = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    RO(s);
    if (!valid_name(name))
        return EINVAL;
    int dfd = open_dir(s, f->path);
    if (dfd < 0)
        return -dfd;
    int err = unlinkat(dfd, name, (flags & AT_REMOVEDIR_9P) ? AT_REMOVEDIR : 0) < 0 ? errno : 0;
    close(dfd);
    return err;
}

static int do_link(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t dfid = r32(r), fid = r32(r);
    char name[NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    NEED(!r->bad);
    struct p9_fid *d = fid_get(s, dfid), *f = fid_get(s, fid);
    if (!d || !f)
        return EBADF;
    RO(s);
    if (!valid_name(name))
        return EINVAL;
    char oldname[NAME_MAX + 1];
    int ofd = open_parent(s, f->path, oldname, sizeof(oldname));
    if (ofd < 0)
        return -ofd;
    int nfd = open_dir(s, d->path);
    if (nfd < 0) {
        close(ofd);
        return -nfd;
    }
    int err = linkat(ofd, oldname, nfd, name, 0) < 0 ? errno : 0;
    close(ofd);
    close(nfd);
    return err;
}

static int do_statfs(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    int fd = open_path(s, f->path);
    if (fd < 0)
        return -fd;
    struct statfs sf;
    int err = fstatfs(fd, &sf) < 0 ? errno : 0;
    close(fd);
    if (err)
        return err;
    w32(w, (uint32_t)sf.f_type);
    w32(w, (uint32_t)sf.f_bsize);
    w64(w, sf.f_blocks);
    w64(w, sf.f_bfree);
    w64(w, sf.f_bavail);
    w64(w, sf.f_files);
    w64(w, sf.f_ffree);
    uint64_t fsid;
    memcpy(&fsid, &sf.f_fsid, sizeof(fsid));
    w64(w, fsid);
    w32(w, (uint32_t)sf.f_namelen);
    return 0;
}

static int do_fsync(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t fid = r32(r), datasync = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->fd < 0)
        return EBADF;
    return (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0 ? errno : 0;
}

static int do_lock(struct p9_server *s, struct rd *r, struct wr *w, bool get)
{
    uint32_t fid = r32(r);
    uint8_t type = r8(r);
    if (!get)
        r32(r);                    /* flags: a blocking request is answered BLOCKED, the client retries */
    uint64_t start = r64(r), length = r64(r);
    uint32_t proc = r32(r);
    char client[256];
    rstr(r, client, sizeof(client));
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->fd < 0)
        return EBADF;
    if (type > P9L_UN || start > INT64_MAX || length > INT64_MAX)
        return EINVAL;
    struct flock fl = { .l_type = (short)(type == P9L_RD ? F_RDLCK : type == P9L_WR ? F_WRLCK : F_UNLCK),
                        .l_whence = SEEK_SET, .l_start = (off_t)start, .l_len = (off_t)length };
    if (get) {
        if (fcntl(f->fd, F_OFD_GETLK, &fl) < 0)
            return errno;
        w8(w, fl.l_type == F_RDLCK ? P9L_RD : fl.l_type == F_WRLCK ? P9L_WR : P9L_UN);
        w64(w, (uint64_t)fl.l_start);
        w64(w, (uint64_t)fl.l_len);
        w32(w, proc);
        wstr(w, client);
        return 0;
    }
    uint8_t status = P9L_SUCCESS;
    if (fcntl(f->fd, F_OFD_SETLK, &fl) < 0)
        status = (errno == EAGAIN || errno == EACCES) ? P9L_BLOCKED : P9L_ERROR;
    w8(w, status);
    return 0;
}

/* ---- extended attributes ---- */

#define XATTR_MAX_VALUE 65536      /* Linux's XATTR_SIZE_MAX and XATTR_LIST_MAX */
static const char XA_PREFIX[] = "user.virtfs.";

/* The host name of the guest's attribute name into buf, or -errno. mapped-xattr hides its own
 * user.virtfs.* attributes (-hidden_err) and keeps every namespace but user. beneath them, so an
 * unprivileged pcvm can store trusted., security. and system. attributes for the guest. */
static int xattr_host_name(const struct p9_server *s, const char *guest, char *buf, size_t cap, int hidden_err)
{
    int n;
    if (!*guest)
        return -EINVAL;
    if (s->security != P9_SEC_MAPPED_XATTR)
        n = snprintf(buf, cap, "%s", guest);
    else if (!strncmp(guest, XA_PREFIX, sizeof(XA_PREFIX) - 1))
        return -hidden_err;
    else if (!strncmp(guest, "user.", 5))
        n = snprintf(buf, cap, "%s", guest);
    else if (!strchr(guest, '.'))
        return -EOPNOTSUPP;        /* no namespace: never one of pcvm's own names */
    else
        n = snprintf(buf, cap, "%s%s", XA_PREFIX, guest);
    return n < 0 || (size_t)n >= cap ? -ERANGE : 0;
}

/* The guest's name for a listed host name (NULL: not shown to the guest). */
static const char *xattr_guest_name(const struct p9_server *s, const char *host)
{
    if (s->security != P9_SEC_MAPPED_XATTR)
        return host;
    if (!strncmp(host, XA_PREFIX, sizeof(XA_PREFIX) - 1)) {
        const char *rest = host + sizeof(XA_PREFIX) - 1;
        return strchr(rest, '.') ? rest : NULL;     /* uid, gid, mode, rdev stay hidden */
    }
    return strncmp(host, "user.", 5) ? NULL : host;
}

/* An O_PATH descriptor of rel for the xattr calls through its /proc path, or -errno. A host
 * symlink gives -ELOOP: it has no user attributes, and its /proc path must not be used. */
static int xattr_open(struct p9_server *s, const char *rel, char *pp, size_t cap)
{
    int fd = open_path(s, rel);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
        close(fd);
        return -ELOOP;
    }
    proc_path(pp, cap, fd);
    return fd;
}

/* Read the attribute name (or, for "", the list of names) of the fid's file into x. */
static int xattr_fetch(struct p9_server *s, struct p9_fid *x, const char *name)
{
    char host[XATTR_NAME_MAX + 1], pp[40];
    int e;
    if (*name && (e = xattr_host_name(s, name, host, sizeof(host), ENODATA)) < 0)
        return -e;
    int fd = xattr_open(s, x->path, pp, sizeof(pp));
    if (fd == -ELOOP)
        return *name ? ENODATA : 0;   /* a host symlink: no attributes */
    if (fd < 0)
        return -fd;
    uint8_t *buf = malloc(XATTR_MAX_VALUE);
    ssize_t n = !buf ? -1 : *name ? getxattr(pp, host, buf, XATTR_MAX_VALUE) : listxattr(pp, (char *)buf, XATTR_MAX_VALUE);
    int err = n < 0 ? (errno == ERANGE ? E2BIG : errno) : 0;
    close(fd);
    if (!buf)
        return ENOMEM;
    if (err) {
        free(buf);
        return err;
    }
    if (!*name) {
        /* Keep, renamed, the names the guest may see ("a\0b\0" lists). */
        size_t out = 0;
        for (size_t i = 0; i < (size_t)n;) {
            const char *h = (const char *)buf + i;
            size_t hl = strnlen(h, (size_t)n - i);
            const char *g = hl < (size_t)n - i ? xattr_guest_name(s, h) : NULL;
            if (g) {
                size_t gl = strlen(g) + 1;
                memmove(buf + out, g, gl);
                out += gl;
            }
            i += hl + 1;
        }
        n = (ssize_t)out;
    }
    x->xval = buf;
    x->xlen = (size_t)n;
    return 0;
}

static int do_xattrwalk(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = r32(r), newfid = r32(r);
    char name[XATTR_NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->kind != FID_FILE)
        return EBADF;
    struct p9_fid *x = fid_new(s, newfid, f->path, f->uid);
    if (!x)
        return EBADF;
    int err = xattr_fetch(s, x, name);
    if (err) {
        fid_free(s, newfid);
        return err;
    }
    x->kind = FID_XATTR_READ;
    w64(w, x->xlen);
    return 0;
}

static int do_xattrcreate(struct p9_server *s, struct rd *r, struct wr *w)
{
    (void)w;
    uint32_t fid = r32(r);
    char name[XATTR_NAME_MAX + 1], host[XATTR_NAME_MAX + 1];
    rstr(r, name, sizeof(name));
    uint64_t size = r64(r);
    uint32_t flags = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f || f->kind != FID_FILE || f->fd >= 0)
        return EBADF;
    RO(s);
    if (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
        return EINVAL;
    if (size > XATTR_MAX_VALUE)
        return E2BIG;
    int e = xattr_host_name(s, name, host, sizeof(host), EACCES);
    if (e < 0)
        return -e;
    char *hn = strdup(host);
    uint8_t *val = malloc(size ? (size_t)size : 1);
    if (!hn || !val) {
        free(hn);
        free(val);
        return ENOMEM;
    }
    /* The fid now collects the value; the clunk sets it (or, when empty, removes the name). */
    f->kind = FID_XATTR_WRITE;
    f->xname = hn;
    f->xval = val;
    f->xlen = (size_t)size;
    f->xcopied = 0;
    f->xflags = (int)flags;
    return 0;
}

/* Set (or with an empty value remove) the attribute an xattrcreate fid collected. */
static int xattr_commit(struct p9_server *s, struct p9_fid *f)
{
    if (f->xcopied != f->xlen)
        return EINVAL;             /* clunked before the whole value came */
    char pp[40];
    int fd = xattr_open(s, f->path, pp, sizeof(pp));
    if (fd < 0)
        return fd == -ELOOP ? EPERM : -fd;
    int r = f->xlen ? setxattr(pp, f->xname, f->xval, f->xlen, f->xflags) : removexattr(pp, f->xname);
    int err = r < 0 ? errno : 0;
    close(fd);
    return err;
}

static int do_clunk(struct p9_server *s, struct rd *r, bool remove)
{
    uint32_t fid = r32(r);
    NEED(!r->bad);
    struct p9_fid *f = fid_get(s, fid);
    if (!f)
        return EBADF;
    int err = 0;
    if (f->kind == FID_XATTR_WRITE)
        err = xattr_commit(s, f);
    else if (remove && f->kind != FID_FILE)
        err = EBADF;
    else if (remove) {
        if (s->readonly) {
            err = EROFS;
        } else if (!*f->path) {
            err = EBUSY;
        } else {
            char name[NAME_MAX + 1];
            int dfd = open_parent(s, f->path, name, sizeof(name));
            struct stat st;
            if (dfd < 0)
                err = -dfd;
            else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                     unlinkat(dfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                err = errno;
            if (dfd >= 0)
                close(dfd);
        }
    }
    fid_free(s, fid);
    return err;
}

size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *reply, size_t cap)
{
    if (len < HDR || cap < HDR + 4)
        return 0;
    uint32_t size = (uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24;
    if (size < HDR || size > len)
        return 0;
    uint8_t type = req[4];
    uint16_t tag = (uint16_t)(req[5] | req[6] << 8);
    struct rd r = { .p = req + HDR, .left = size - HDR };
    size_t limit = s->msize && s->msize < cap ? s->msize : cap;
    struct wr w = { .p = reply, .len = HDR, .cap = limit };
    s->requests++;
    int err;
    if (type != TVERSION && !s->msize) {
        err = EPROTO;              /* nothing before Tversion */
    } else {
        switch (type) {
        case TVERSION: err = do_version(s, &r, &w); break;
        case TATTACH: err = do_attach(s, &r, &w); break;
        case TWALK: err = do_walk(s, &r, &w); break;
        case TGETATTR: err = do_getattr(s, &r, &w); break;
        case TSETATTR: err = do_setattr(s, &r, &w); break;
        case TLOPEN: err = do_lopen(s, &r, &w); break;
        case TLCREATE: err = do_lcreate(s, &r, &w); break;
        case TREAD: err = do_read(s, &r, &w); break;
        case TWRITE: err = do_write(s, &r, &w); break;
        case TREADDIR: err = do_readdir(s, &r, &w); break;
        case TMKDIR: err = do_mkdir(s, &r, &w); break;
        case TSYMLINK: err = do_symlink(s, &r, &w); break;
        case TMKNOD: err = do_mknod(s, &r, &w); break;
        case TREADLINK: err = do_readlink(s, &r, &w); break;
        case TRENAME: err = do_rename(s, &r, &w); break;
        case TRENAMEAT: err = do_renameat(s, &r, &w); break;
        case TUNLINKAT: err = do_unlinkat(s, &r, &w); break;
        case TLINK: err = do_link(s, &r, &w); break;
        case TSTATFS: err = do_statfs(s, &r, &w); break;
        case TFSYNC: err = do_fsync(s, &r, &w); break;
        case TLOCK: err = do_lock(s, &r, &w, false); break;
        case TGETLOCK: err = do_lock(s, &r, &w, true); break;
        case TXATTRWALK: err = do_xattrwalk(s, &r, &w); break;
        case TXATTRCREATE: err = do_xattrcreate(s, &r, &w); break;
        case TCLUNK: err = do_clunk(s, &r, false); break;
        case TREMOVE: err = do_clunk(s, &r, true); break;
        case TFLUSH: err = 0; break;          /* requests complete in order: nothing to cancel */
        case TAUTH: err = EOPNOTSUPP; break;
        default: err = EOPNOTSUPP; break;
        }
    }
    if (!err && w.overflow)
        err = ERANGE;
    uint8_t rtype = (uint8_t)(type + 1);
    if (err) {
        s->errors++;
        w.len = HDR;
        w.overflow = false;
        w32(&w, (uint32_t)err);
        rtype = RLERROR;
    }
    uint32_t n = (uint32_t)w.len;
    reply[0] = (uint8_t)n;
    reply[1] = (uint8_t)(n >> 8);
    reply[2] = (uint8_t)(n >> 16);
    reply[3] = (uint8_t)(n >> 24);
    reply[4] = rtype;
    reply[5] = (uint8_t)tag;
    reply[6] = (uint8_t)(tag >> 8);
    return w.len;
}

int p9_server_init(struct p9_server *s, const char *path, enum p9_security security, bool readonly,
                   char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        snprintf(err, errlen, "cannot open the directory %s: %s", path, strerror(errno));
        return -1;
    }
    s->security = security;
    s->readonly = readonly;
    return 0;
}

void p9_server_destroy(struct p9_server *s)
{
    p9_server_reset(s);
    if (s->root_fd >= 0)
        close(s->root_fd);
    s->root_fd = -1;
}

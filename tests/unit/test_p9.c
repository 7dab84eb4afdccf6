/* The 9P2000.L server with raw messages, as Linux's v9fs sends them: version, attach, walk,
 * create/write/read, readdir, getattr/setattr, mkdir, symlink/readlink, rename/renameat,
 * unlinkat, statfs, lock; then every way out of the share a guest can try (walking "..",
 * names with "/", walking through a symlink to a directory outside, renaming or linking
 * through one, opening a symlink), read-only shares, mapped-xattr ownership, device nodes and
 * symlinks, extended attributes in both models, and malformed messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "fs/p9.h"

struct fx {
    char top[64], share[96];
    struct p9_server s;
    uint8_t msg[8192], reply[8192];
    size_t len, rlen;
    uint16_t tag;
};

/* ---- message building ---- */

static void begin(struct fx *f, uint8_t type)
{
    f->len = 7;
    f->msg[4] = type;
    f->msg[5] = (uint8_t)++f->tag;
    f->msg[6] = 0;
}
static void p8(struct fx *f, uint8_t v) { f->msg[f->len++] = v; }
static void pn(struct fx *f, uint64_t v, int n) { for (int i = 0; i < n; i++) p8(f, (uint8_t)(v >> (8 * i))); }
static void p16(struct fx *f, uint16_t v) { pn(f, v, 2); }
static void p32(struct fx *f, uint32_t v) { pn(f, v, 4); }
static void p64(struct fx *f, uint64_t v) { pn(f, v, 8); }
static void pstr(struct fx *f, const char *s)
{
    p16(f, (uint16_t)strlen(s));
    memcpy(f->msg + f->len, s, strlen(s));
    f->len += strlen(s);
}

/* Send the message; returns the reply type (errno in *err for Rlerror). */
static uint8_t send(struct fx *f, uint32_t *err)
{
    pn(f, 0, 0);
    f->msg[0] = (uint8_t)f->len;
    f->msg[1] = (uint8_t)(f->len >> 8);
    f->msg[2] = f->msg[3] = 0;
    f->rlen = p9_handle(&f->s, f->msg, f->len, f->reply, sizeof(f->reply));
    assert_true(f->rlen >= 7);
    assert_int_equal(f->reply[0] | f->reply[1] << 8, f->rlen);
    assert_int_equal(f->reply[5], (uint8_t)f->tag);
    if (err)
        *err = f->reply[4] == 7 ? (uint32_t)(f->reply[7] | f->reply[8] << 8) : 0;
    return f->reply[4];
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Expect success (reply type = T + 1). */
static void ok(struct fx *f)
{
    uint32_t e;
    uint8_t t = send(f, &e);
    if (t == 7)
        fail_msg("request type %u failed with errno %u", f->msg[4], e);
    assert_int_equal(t, f->msg[4] + 1);
}

/* Expect Rlerror with this errno. */
static void fails(struct fx *f, uint32_t want)
{
    uint32_t e;
    assert_int_equal(send(f, &e), 7);
    assert_int_equal(e, want);
}

static void walk(struct fx *f, uint32_t fid, uint32_t newfid, int n, ...)
{
    begin(f, 110);
    p32(f, fid);
    p32(f, newfid);
    p16(f, (uint16_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        pstr(f, va_arg(ap, const char *));
    va_end(ap);
}

static void clunk(struct fx *f, uint32_t fid)
{
    begin(f, 120);
    p32(f, fid);
    ok(f);
}

static void host_path(struct fx *f, char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", f->share, rel);
}

static void write_host(const char *path, const char *text)
{
    FILE *h = fopen(path, "w");
    assert_non_null(h);
    fputs(text, h);
    fclose(h);
}

static int setup_mode(void **state, enum p9_security sec, bool ro)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->top, "/tmp/pcvm-test-p9-XXXXXX");
    assert_non_null(mkdtemp(f->top));
    snprintf(f->share, sizeof(f->share), "%s/share", f->top);
    assert_int_equal(mkdir(f->share, 0755), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/secret", f->top);
    write_host(p, "outside");
    host_path(f, p, sizeof(p), "hello.txt");
    write_host(p, "hello from the host\n");
    host_path(f, p, sizeof(p), "up");
    assert_int_equal(symlink("..", p), 0);
    host_path(f, p, sizeof(p), "abs");
    assert_int_equal(symlink(f->top, p), 0);
    char err[256];
    assert_int_equal(p9_server_init(&f->s, f->share, sec, ro, err, sizeof(err)), 0);
    begin(f, 100);
    p32(f, 65536);
    pstr(f, "9P2000.L");
    ok(f);
    assert_int_equal(rd32(f->reply + 7), 65536);           /* as asked: later replies are cut to their own buffers */
    begin(f, 104);
    p32(f, 1);
    p32(f, 0xffffffffu);
    pstr(f, "root");
    pstr(f, "");
    p32(f, 0);
    ok(f);
    assert_int_equal(f->reply[7], 0x80);                   /* a directory qid */
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_mode(state, P9_SEC_NONE, false); }
static int setup_ro(void **state) { return setup_mode(state, P9_SEC_PASSTHROUGH, true); }
static int setup_mapped(void **state) { return setup_mode(state, P9_SEC_MAPPED_XATTR, false); }

static int teardown(void **state)
{
    struct fx *f = *state;
    p9_server_destroy(&f->s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->top);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_files(void **state)
{
    struct fx *f = *state;
    /* Read the host's file. */
    walk(f, 1, 2, 1, "hello.txt");
    ok(f);
    assert_int_equal(f->reply[7] | f->reply[8] << 8, 1);
    begin(f, 12);
    p32(f, 2);
    p32(f, 0);
    ok(f);
    begin(f, 116);
    p32(f, 2);
    p64(f, 6);
    p32(f, 100);
    ok(f);
    assert_int_equal(rd32(f->reply + 7), 14);
    assert_memory_equal(f->reply + 11, "from the host\n", 14);
    clunk(f, 2);
    /* A read larger than this request's reply buffer (8192) is cut to fit it, msize being 64 KiB. */
    char hp[256];
    host_path(f, hp, sizeof(hp), "big.bin");
    FILE *big = fopen(hp, "w");
    assert_non_null(big);
    for (int i = 0; i < 20000; i++)
        fputc('a' + i % 26, big);
    fclose(big);
    walk(f, 1, 2, 1, "big.bin");
    ok(f);
    begin(f, 12);
    p32(f, 2);
    p32(f, 0);
    ok(f);
    begin(f, 116);
    p32(f, 2);
    p64(f, 0);
    p32(f, 60000);
    ok(f);
    assert_int_equal(rd32(f->reply + 7), 8192 - 11);
    assert_int_equal(f->rlen, 8192);
    clunk(f, 2);
    /* mkdir d, create d/new.txt, write, getattr. */
    begin(f, 72);
    p32(f, 1);
    pstr(f, "d");
    p32(f, 0755);
    p32(f, 0);
    ok(f);
    walk(f, 1, 3, 1, "d");
    ok(f);
    begin(f, 14);
    p32(f, 3);
    pstr(f, "new.txt");
    p32(f, 2);
    p32(f, 0644);
    p32(f, 0);
    ok(f);
    begin(f, 118);
    p32(f, 3);
    p64(f, 0);
    p32(f, 5);
    memcpy(f->msg + f->len, "guest", 5);
    f->len += 5;
    ok(f);
    assert_int_equal(rd32(f->reply + 7), 5);
    begin(f, 24);
    p32(f, 3);
    p64(f, 0x7ff);
    ok(f);
    assert_int_equal(rd32(f->reply + 7 + 8 + 13) & 0777, 0644);     /* mode */
    assert_int_equal(f->reply[7 + 8 + 13 + 4 + 4 + 4 + 8 + 8], 5);  /* size */
    begin(f, 50);
    p32(f, 3);
    p32(f, 0);
    ok(f);
    /* A lock, and getlock sees it free for the holder. */
    begin(f, 52);
    p32(f, 3);
    p8(f, 1);
    p32(f, 0);
    p64(f, 0);
    p64(f, 0);
    p32(f, 42);
    pstr(f, "pcvm");
    ok(f);
    assert_int_equal(f->reply[7], 0);
    begin(f, 54);
    p32(f, 3);
    p8(f, 1);
    p64(f, 0);
    p64(f, 0);
    p32(f, 42);
    pstr(f, "pcvm");
    ok(f);
    clunk(f, 3);
    char p[256], buf[32] = { 0 };
    host_path(f, p, sizeof(p), "d/new.txt");
    FILE *h = fopen(p, "r");
    assert_non_null(h);
    assert_int_equal(fread(buf, 1, sizeof(buf), h), 5);
    fclose(h);
    assert_string_equal(buf, "guest");
    /* renameat d/new.txt -> moved.txt at the top; the host sees it. */
    walk(f, 1, 4, 1, "d");
    ok(f);
    begin(f, 74);
    p32(f, 4);
    pstr(f, "new.txt");
    p32(f, 1);
    pstr(f, "moved.txt");
    ok(f);
    host_path(f, p, sizeof(p), "moved.txt");
    assert_int_equal(access(p, F_OK), 0);
    /* symlink + readlink, setattr (mode and size), readdir, statfs, unlinkat. */
    begin(f, 16);
    p32(f, 1);
    pstr(f, "ln");
    pstr(f, "moved.txt");
    p32(f, 0);
    ok(f);
    walk(f, 1, 5, 1, "ln");
    ok(f);
    begin(f, 22);
    p32(f, 5);
    ok(f);
    assert_int_equal(f->reply[7], 9);
    assert_memory_equal(f->reply + 9, "moved.txt", 9);
    clunk(f, 5);
    walk(f, 1, 6, 1, "moved.txt");
    ok(f);
    begin(f, 26);
    p32(f, 6);
    p32(f, 1 | 8);
    p32(f, 0600);
    p32(f, 0);
    p32(f, 0);
    p64(f, 2);
    for (int i = 0; i < 4; i++)
        p64(f, 0);
    ok(f);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 2);
    clunk(f, 6);
    walk(f, 1, 7, 0);
    ok(f);
    begin(f, 12);
    p32(f, 7);
    p32(f, 0);
    ok(f);
    begin(f, 40);
    p32(f, 7);
    p64(f, 0);
    p32(f, 4000);
    ok(f);
    uint32_t n = rd32(f->reply + 7);
    assert_true(n > 0);
    bool seen = false;
    for (uint32_t o = 0; o < n;) {
        const uint8_t *e = f->reply + 11 + o;
        uint16_t nl = (uint16_t)(e[22] | e[23] << 8);
        if (nl == 9 && !memcmp(e + 24, "moved.txt", 9))
            seen = true;
        o += 24 + nl;
    }
    assert_true(seen);
    begin(f, 8);
    p32(f, 7);
    ok(f);
    clunk(f, 7);
    begin(f, 76);
    p32(f, 1);
    pstr(f, "moved.txt");
    p32(f, 0);
    ok(f);
    assert_int_equal(access(p, F_OK), -1);
    begin(f, 76);
    p32(f, 1);
    pstr(f, "d");
    p32(f, 0x200);
    ok(f);
}

static void test_escapes(void **state)
{
    struct fx *f = *state;
    char p[256];
    /* ".." from the root stays at the root. */
    walk(f, 1, 2, 2, "..", "..");
    ok(f);
    begin(f, 24);
    p32(f, 2);
    p64(f, 0x7ff);
    ok(f);
    struct stat st;
    assert_int_equal(stat(f->share, &st), 0);
    uint64_t ino = 0;
    for (int i = 0; i < 8; i++)
        ino |= (uint64_t)f->reply[7 + 8 + 5 + i] << (8 * i);
    assert_int_equal(ino, st.st_ino);
    walk(f, 2, 3, 1, "secret");
    fails(f, 2);                                          /* ENOENT: not in the share */
    clunk(f, 2);
    /* Names with "/" and empty names. */
    walk(f, 1, 3, 1, "../secret");
    fails(f, 2);
    walk(f, 1, 3, 1, "");
    fails(f, 2);
    /* Through a symlink to a directory outside: the walk to the link works (the guest reads
     * it), the next step does not. */
    walk(f, 1, 3, 2, "up", "secret");
    ok(f);
    assert_int_equal(f->reply[7], 1);                     /* only "up" */
    assert_int_equal(f->reply[9], 0x02);                  /* a symlink qid */
    walk(f, 1, 3, 1, "abs");
    ok(f);
    walk(f, 3, 4, 1, "secret");
    fails(f, 20);                                         /* ENOTDIR */
    begin(f, 12);                                         /* opening the symlink itself */
    p32(f, 3);
    p32(f, 0);
    fails(f, 40);                                         /* ELOOP */
    begin(f, 14);                                         /* creating inside it */
    p32(f, 3);
    pstr(f, "planted");
    p32(f, 2);
    p32(f, 0644);
    p32(f, 0);
    fails(f, 20);
    begin(f, 74);                                         /* renaming into it */
    p32(f, 1);
    pstr(f, "hello.txt");
    p32(f, 3);
    pstr(f, "stolen");
    fails(f, 20);
    begin(f, 70);                                         /* a hard link inside it */
    p32(f, 3);
    p32(f, 1);
    pstr(f, "x");
    fails(f, 20);
    begin(f, 72);                                         /* mkdir with a "/" name */
    p32(f, 1);
    pstr(f, "../evil");
    p32(f, 0755);
    p32(f, 0);
    fails(f, 22);
    snprintf(p, sizeof(p), "%s/evil", f->top);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/stolen", f->top);
    assert_int_equal(access(p, F_OK), -1);
    host_path(f, p, sizeof(p), "hello.txt");
    assert_int_equal(access(p, F_OK), 0);
}

static void test_readonly(void **state)
{
    struct fx *f = *state;
    begin(f, 72);
    p32(f, 1);
    pstr(f, "d");
    p32(f, 0755);
    p32(f, 0);
    fails(f, 30);                                         /* EROFS */
    walk(f, 1, 2, 1, "hello.txt");
    ok(f);
    begin(f, 12);
    p32(f, 2);
    p32(f, 2);                                            /* O_RDWR */
    fails(f, 30);
    begin(f, 12);
    p32(f, 2);
    p32(f, 0);
    ok(f);
    begin(f, 118);
    p32(f, 2);
    p64(f, 0);
    p32(f, 1);
    p8(f, 'x');
    fails(f, 30);
    begin(f, 76);
    p32(f, 1);
    pstr(f, "hello.txt");
    p32(f, 0);
    fails(f, 30);
}

static void test_mapped(void **state)
{
    struct fx *f = *state;
    walk(f, 1, 2, 0);
    ok(f);
    begin(f, 14);
    p32(f, 2);
    pstr(f, "owned");
    p32(f, 2);
    p32(f, 0640);
    p32(f, 5678);
    ok(f);
    begin(f, 26);
    p32(f, 2);
    p32(f, 2);                                            /* uid */
    p32(f, 0);
    p32(f, 1234);
    p32(f, 0);
    for (int i = 0; i < 5; i++)
        p64(f, 0);
    ok(f);
    begin(f, 24);
    p32(f, 2);
    p64(f, 0x7ff);
    ok(f);
    const uint8_t *a = f->reply + 7 + 8 + 13;
    assert_int_equal(rd32(a) & 07777, 0640);
    assert_int_equal(rd32(a + 4), 1234);
    assert_int_equal(rd32(a + 8), 5678);
    char p[256];
    host_path(f, p, sizeof(p), "owned");
    uint32_t v = 0;
    assert_int_equal(getxattr(p, "user.virtfs.uid", &v, 4), 4);
    assert_int_equal(v, 1234);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);            /* the host keeps its own mode */
}

/* Txattrcreate fid name + Twrite value + Tclunk: set (or, with "", remove) an attribute. */
static void set_xattr(struct fx *f, uint32_t fid, uint32_t tmp, const char *name, const char *value, uint32_t want_err)
{
    walk(f, fid, tmp, 0);
    ok(f);
    begin(f, 32);
    p32(f, tmp);
    pstr(f, name);
    p64(f, strlen(value));
    p32(f, 0);
    if (want_err == 13) {                                 /* refused at once (EACCES) */
        fails(f, 13);
        clunk(f, tmp);
        return;
    }
    ok(f);
    if (*value) {
        begin(f, 118);
        p32(f, tmp);
        p64(f, 0);
        p32(f, (uint32_t)strlen(value));
        memcpy(f->msg + f->len, value, strlen(value));
        f->len += strlen(value);
        ok(f);
    }
    begin(f, 120);
    p32(f, tmp);
    if (want_err)
        fails(f, want_err);
    else
        ok(f);
}

/* Txattrwalk fid name + Tread: the value (or name list) into buf; returns its length or -errno. */
static int get_xattr(struct fx *f, uint32_t fid, uint32_t tmp, const char *name, char *buf, size_t cap)
{
    begin(f, 30);
    p32(f, fid);
    p32(f, tmp);
    pstr(f, name);
    uint32_t e;
    if (send(f, &e) == 7)
        return -(int)e;
    uint32_t size = rd32(f->reply + 7);
    begin(f, 116);
    p32(f, tmp);
    p64(f, 0);
    p32(f, (uint32_t)cap);
    ok(f);
    uint32_t n = rd32(f->reply + 7);
    assert_int_equal(n, size);
    memcpy(buf, f->reply + 11, n);
    clunk(f, tmp);
    return (int)n;
}

static void test_xattrs(void **state)
{
    struct fx *f = *state;
    char p[256], buf[512];
    walk(f, 1, 2, 1, "hello.txt");
    ok(f);
    host_path(f, p, sizeof(p), "hello.txt");
    assert_int_equal(setxattr(p, "user.from_host", "hv", 2, 0), 0);
    assert_int_equal(get_xattr(f, 2, 3, "user.from_host", buf, sizeof(buf)), 2);
    assert_memory_equal(buf, "hv", 2);
    set_xattr(f, 2, 4, "user.color", "blue", 0);
    assert_int_equal(getxattr(p, "user.color", buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "blue", 4);
    int n = get_xattr(f, 2, 3, "", buf, sizeof(buf));    /* the list */
    assert_true(n > 0 && memmem(buf, (size_t)n, "user.color\0", 11) && memmem(buf, (size_t)n, "user.from_host\0", 15));
    set_xattr(f, 2, 4, "user.color", "", 0);             /* removal */
    assert_int_equal(getxattr(p, "user.color", buf, sizeof(buf)), -1);
    assert_int_equal(get_xattr(f, 2, 3, "user.color", buf, sizeof(buf)), -61);   /* ENODATA */
    set_xattr(f, 2, 4, "user.color", "", 61);            /* removing a missing one */
    /* A value clunked before it was all written is not set. */
    walk(f, 2, 4, 0);
    ok(f);
    begin(f, 32);
    p32(f, 4);
    pstr(f, "user.part");
    p64(f, 10);
    p32(f, 0);
    ok(f);
    begin(f, 120);
    p32(f, 4);
    fails(f, 22);
    assert_int_equal(getxattr(p, "user.part", buf, sizeof(buf)), -1);
    begin(f, 32);                                         /* over Linux's size limit */
    p32(f, 2);
    pstr(f, "user.big");
    p64(f, 65537);
    p32(f, 0);
    fails(f, 7);
    /* A host symlink (pointing out of the share) has no attributes and takes none. */
    walk(f, 1, 5, 1, "abs");
    ok(f);
    assert_int_equal(get_xattr(f, 5, 3, "user.color", buf, sizeof(buf)), -61);
    set_xattr(f, 5, 4, "user.x", "1", 1);                /* EPERM */
    char top[256];
    snprintf(top, sizeof(top), "%s", f->top);
    assert_int_equal(getxattr(top, "user.x", buf, sizeof(buf)), -1);
}

static void test_readonly_xattr(void **state)
{
    struct fx *f = *state;
    walk(f, 1, 2, 1, "hello.txt");
    ok(f);
    begin(f, 32);
    p32(f, 2);
    pstr(f, "user.color");
    p64(f, 1);
    p32(f, 0);
    fails(f, 30);                                         /* EROFS */
}

static void test_mapped_nodes(void **state)
{
    struct fx *f = *state;
    char p[256], buf[512];
    walk(f, 1, 2, 0);
    ok(f);
    begin(f, 18);                                         /* mknod c 1 3 */
    p32(f, 2);
    pstr(f, "null");
    p32(f, 020644);
    p32(f, 1);
    p32(f, 3);
    p32(f, 0);
    ok(f);
    walk(f, 1, 3, 1, "null");
    ok(f);
    begin(f, 24);
    p32(f, 3);
    p64(f, 0x7ff);
    ok(f);
    const uint8_t *a = f->reply + 7 + 8 + 13;
    assert_int_equal(rd32(a), 020644);
    assert_int_equal(rd32(a + 20), 0x103);                /* rdev: 1, 3 */
    begin(f, 26);                                         /* chmod keeps the type */
    p32(f, 3);
    p32(f, 1);
    p32(f, 0600);
    for (int i = 0; i < 2; i++)
        p32(f, 0);
    for (int i = 0; i < 5; i++)
        p64(f, 0);
    ok(f);
    begin(f, 24);
    p32(f, 3);
    p64(f, 0x7ff);
    ok(f);
    assert_int_equal(rd32(f->reply + 7 + 8 + 13), 020600);
    host_path(f, p, sizeof(p), "null");
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));                     /* a plain file on the host */
    begin(f, 16);                                         /* a symlink is a file with the target */
    p32(f, 2);
    pstr(f, "ln");
    pstr(f, "../../secret");
    p32(f, 0);
    ok(f);
    assert_int_equal(f->reply[7], 0x02);                  /* a symlink qid */
    host_path(f, p, sizeof(p), "ln");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    walk(f, 1, 4, 1, "ln");
    ok(f);
    begin(f, 22);
    p32(f, 4);
    ok(f);
    assert_int_equal(f->reply[7], 12);
    assert_memory_equal(f->reply + 9, "../../secret", 12);
    /* readdir gives the guest's types. */
    walk(f, 1, 5, 0);
    ok(f);
    begin(f, 12);
    p32(f, 5);
    p32(f, 0);
    ok(f);
    begin(f, 40);
    p32(f, 5);
    p64(f, 0);
    p32(f, 4096);
    ok(f);
    int seen = 0;
    for (size_t i = 11; i + 24 <= f->rlen;) {
        uint16_t nl = (uint16_t)(f->reply[i + 22] | f->reply[i + 23] << 8);
        if (nl == 4 && !memcmp(f->reply + i + 24, "null", 4) && f->reply[i + 21] == 2)   /* DT_CHR */
            seen |= 1;
        if (nl == 2 && !memcmp(f->reply + i + 24, "ln", 2) && f->reply[i + 21] == 10)    /* DT_LNK */
            seen |= 2;
        i += 24 + nl;
    }
    assert_int_equal(seen, 3);
    /* Attributes: user.* as is, others beneath user.virtfs., pcvm's own hidden. */
    walk(f, 1, 6, 1, "hello.txt");
    ok(f);
    set_xattr(f, 6, 7, "user.k", "v", 0);
    set_xattr(f, 6, 7, "trusted.t", "tv", 0);
    host_path(f, p, sizeof(p), "hello.txt");
    assert_int_equal(getxattr(p, "user.virtfs.trusted.t", buf, sizeof(buf)), 2);
    set_xattr(f, 6, 7, "user.virtfs.uid", "0000", 13);   /* EACCES */
    uint32_t uid = 4321;
    assert_int_equal(setxattr(p, "user.virtfs.uid", &uid, 4, 0), 0);
    assert_int_equal(get_xattr(f, 6, 7, "user.virtfs.uid", buf, sizeof(buf)), -61);
    assert_int_equal(get_xattr(f, 6, 7, "trusted.t", buf, sizeof(buf)), 2);
    int n = get_xattr(f, 6, 7, "", buf, sizeof(buf));
    assert_true(n > 0);
    assert_non_null(memmem(buf, (size_t)n, "user.k\0", 7));
    assert_non_null(memmem(buf, (size_t)n, "trusted.t\0", 10));
    assert_null(memmem(buf, (size_t)n, "virtfs", 6));
}

static void test_malformed(void **state)
{
    struct fx *f = *state;
    uint8_t m[16] = { 5, 0, 0, 0, 110, 1, 0 };
    assert_int_equal(p9_handle(&f->s, m, 7, f->reply, sizeof(f->reply)), 0);      /* size < 7 */
    m[0] = 200;
    assert_int_equal(p9_handle(&f->s, m, 16, f->reply, sizeof(f->reply)), 0);     /* size > buffer */
    assert_int_equal(p9_handle(&f->s, m, 3, f->reply, sizeof(f->reply)), 0);
    begin(f, 110);                                        /* truncated walk */
    p32(f, 1);
    p32(f, 2);
    p16(f, 3);
    pstr(f, "hello.txt");
    fails(f, 71);                                         /* EPROTO */
    walk(f, 1, 2, 17, "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a");
    fails(f, 7);                                          /* E2BIG */
    walk(f, 99, 2, 0);
    fails(f, 9);                                          /* unknown fid */
    walk(f, 1, 1, 0);
    ok(f);
    walk(f, 1, 2, 0);
    ok(f);
    walk(f, 1, 2, 0);
    fails(f, 9);                                          /* newfid in use */
    begin(f, 110);                                        /* a string with a NUL in it */
    p32(f, 1);
    p32(f, 3);
    p16(f, 1);
    p16(f, 3);
    p8(f, 'a');
    p8(f, 0);
    p8(f, 'b');
    fails(f, 71);
    begin(f, 200);                                        /* unknown type */
    fails(f, 95);
    begin(f, 116);                                        /* read of a fid never opened */
    p32(f, 2);
    p64(f, 0);
    p32(f, 10);
    fails(f, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
        cmocka_unit_test_setup_teardown(test_mapped, setup_mapped, teardown),
        cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_xattr, setup_ro, teardown),
        cmocka_unit_test_setup_teardown(test_mapped_nodes, setup_mapped, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

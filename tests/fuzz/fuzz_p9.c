/* libFuzzer target: the 9P2000.L server fed hostile messages. A scratch share (a file, a
 * directory, a symlink pointing outside) lives in a temporary directory next to a "secret"
 * file outside it. Each input is a run of messages (each framed by its own size field, the
 * first one forced to a Tversion so the rest reach the handlers); replies must fit their
 * buffer and be well framed, and after the run nothing outside the share has changed and no
 * reply ever contains the secret.
 * Sources: src/fs/p9.c */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/p9.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "pcvm-fuzz-secret-7d1f"

static char top[64], share[96], secret_path[128];
static uint8_t reply[64 << 10];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The scratch tree goes when the fuzzer exits. */
static void cleanup(void)
{
    nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    snprintf(top, sizeof(top), "/tmp/pcvm-fuzz-p9-XXXXXX");
    if (!mkdtemp(top))
        abort();
    snprintf(share, sizeof(share), "%s/share", top);
    snprintf(secret_path, sizeof(secret_path), "%s/secret", top);
    mkdir(share, 0755);
    atexit(cleanup);
    FILE *f = fopen(secret_path, "w");
    fputs(SECRET, f);
    fclose(f);
    char p[192];
    snprintf(p, sizeof(p), "%s/file", share);
    f = fopen(p, "w");
    fputs("hello", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/dir", share);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/out", share);
    symlink("..", p);
    snprintf(p, sizeof(p), "%s/abs", share);
    symlink(top, p);
}

/* The secret is intact and the directory above the share holds only what setup made. */
static void check_outside(void)
{
    char buf[64] = { 0 };
    int fd = open(secret_path, O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) != (ssize_t)strlen(SECRET) || strcmp(buf, SECRET))
        abort();
    close(fd);
    DIR *d = opendir(top);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "share") &&
            strcmp(de->d_name, "secret"))
            abort();
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct p9_server s;
    static bool ready;
    if (!ready) {
        setup();
        char err[256];
        if (p9_server_init(&s, share, P9_SEC_MAPPED_XATTR, false, err, sizeof(err)) < 0)
            abort();
        ready = true;
    }
    p9_server_reset(&s);
    static const uint8_t version[] = { 21, 0, 0, 0, 100, 0xff, 0xff, 0, 0x40, 0, 0, 8, 0,
                                       '9', 'P', '2', '0', '0', '0', '.', 'L' };
    p9_handle(&s, version, sizeof(version), reply, sizeof(reply));
    uint8_t *msg = malloc(size + 8);
    size_t off = 0;
    while (off + 7 <= size) {
        uint32_t len = (uint32_t)data[off] | (uint32_t)data[off + 1] << 8;   /* small messages */
        if (len < 7)
            len = 7;
        if (len > size - off)
            len = (uint32_t)(size - off);
        memcpy(msg, data + off, len);
        msg[0] = (uint8_t)len;
        msg[1] = (uint8_t)(len >> 8);
        msg[2] = msg[3] = 0;
        size_t cap = 16 + data[off + 2] * 256u;    /* replies into buffers of varied sizes */
        if (cap > sizeof(reply))
            cap = sizeof(reply);
        size_t n = p9_handle(&s, msg, len, reply, cap);
        if (n > cap || (n && (n < 7 || (uint32_t)(reply[0] | reply[1] << 8 | reply[2] << 16) != n)))
            abort();
        if (n && memmem(reply, n, SECRET, strlen(SECRET)))
            abort();
        off += len;
    }
    free(msg);
    check_outside();
    return 0;
}

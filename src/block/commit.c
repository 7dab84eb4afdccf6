/* block_commit(): write a qcow2 image's own clusters into its backing file (HMP commit, and
 * the -snapshot overlay's data into the user's image). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"

int block_commit(struct block_dev *top, char *err, size_t errlen)
{
    if (!top->backing || strcmp(block_format_name(top), "qcow2")) {
        snprintf(err, errlen, "no backing file to commit to");
        return -1;
    }
    struct block_dev *base = top->backing;
    char *base_name = strdup(base->file.filename ? base->file.filename : "");
    char fmt[16], why[BLOCK_ERR_LEN];
    snprintf(fmt, sizeof(fmt), "%s", block_format_name(base));
    /* The read-only handle keeps its lock; a second handle writes beside it. */
    struct block_dev *w = base_name ? block_open(base_name, fmt, BLOCK_RDWR | BLOCK_NO_LOCK,
                                                 BLOCK_CACHE_WRITEBACK, why, sizeof(why)) : NULL;
    if (!w) {
        snprintf(err, errlen, "cannot open '%s' for writing: %s", base_name ? base_name : "?",
                 base_name ? why : "out of memory");
        free(base_name);
        return -1;
    }
    int r = 0;
    uint8_t *buf = malloc(1 << 16);
    if (!buf)
        r = -ENOMEM;
    for (uint64_t off = 0; off < top->size && r >= 0;) {
        uint64_t pnum = 0;
        int st = block_status(top, off, top->size - off, &pnum);
        if (st < 0 || pnum == 0) {
            r = st < 0 ? st : -EIO;
            break;
        }
        for (uint64_t done = 0; !(st & BLOCK_STATUS_BACKING) && done < pnum && r >= 0;) {
            size_t n = pnum - done < (1u << 16) ? (size_t)(pnum - done) : (1u << 16);
            r = block_pread(top, off + done, buf, n);
            if (r >= 0)
                r = block_pwrite(w, off + done, buf, n);
            done += n;
        }
        off += pnum;
    }
    free(buf);
    if (r >= 0)
        r = block_flush(w);
    block_close(w);
    if (r >= 0)
        r = qcow2_make_empty(top);
    /* The image changed under the read-only handle's caches: open it again. */
    struct block_dev *fresh = block_open_depth(base_name, fmt, BLOCK_NO_LOCK,
                                               BLOCK_CACHE_WRITEBACK, top->depth + 1, why,
                                               sizeof(why));
    if (fresh) {
        pthread_mutex_lock(&top->lock);
        top->backing = fresh;
        pthread_mutex_unlock(&top->lock);
        block_close(base);
    }
    free(base_name);
    if (r < 0) {
        snprintf(err, errlen, "%s", strerror(-r));
        return -1;
    }
    if (!fresh) {
        snprintf(err, errlen, "cannot reopen the backing file: %s", why);
        return -1;
    }
    return 0;
}

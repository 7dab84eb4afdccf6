/* aio=threads: a small pool of workers runs block requests; a pipe registered with the main
 * loop brings each completion back to the main thread, where its callback runs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "block/block.h"
#include "util/mainloop.h"

static int run_request(struct block_aio_req *r)
{
    switch (r->op) {
    case BLOCK_AIO_READ: return block_pread(r->bs, r->off, r->buf, r->len);
    case BLOCK_AIO_WRITE: return block_pwrite(r->bs, r->off, r->buf, r->len);
    case BLOCK_AIO_FLUSH: return block_flush(r->bs);
    }
    return -EINVAL;
}

static void *worker_main(void *arg)
{
    struct block_aio_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue_head && !p->stop)
            pthread_cond_wait(&p->cond, &p->lock);
        if (!p->queue_head && p->stop)
            break;
        struct block_aio_req *r = p->queue_head;
        p->queue_head = r->next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        pthread_mutex_unlock(&p->lock);
        r->ret = run_request(r);
        r->next = NULL;
        pthread_mutex_lock(&p->lock);
        if (p->done_tail)
            p->done_tail->next = r;
        else
            p->done_head = r;
        p->done_tail = r;
        pthread_cond_broadcast(&p->cond);
        char c = 1;
        ssize_t n = write(p->notify_pipe[1], &c, 1);
        (void)n; /* a full pipe already means "wake up" */
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void pool_fd_handler(void *opaque, int fd, short revents)
{
    (void)fd;
    (void)revents;
    block_aio_poll(opaque);
}

int block_aio_pool_init(struct block_aio_pool *p, struct mainloop *ml)
{
    *p = (struct block_aio_pool){ .ml = ml };
    if (pipe2(p->notify_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (int i = 0; i < BLOCK_AIO_WORKERS; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p))
            break;
        p->nthreads++;
    }
    if (!p->nthreads)
        return -1;
    if (ml && mainloop_add_fd(ml, p->notify_pipe[0], POLLIN, NULL, pool_fd_handler, p) < 0)
        return -1;
    return 0;
}

void block_aio_pool_destroy(struct block_aio_pool *p)
{
    block_aio_drain(p);
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->ml)
        mainloop_remove_fd(p->ml, p->notify_pipe[0]);
    close(p->notify_pipe[0]);
    close(p->notify_pipe[1]);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

void block_aio_submit(struct block_aio_pool *p, struct block_dev *bs, enum block_aio_op op,
                      uint64_t off, void *buf, size_t len, block_aio_cb cb, void *opaque)
{
    if (!p) {
        struct block_aio_req r = { .bs = bs, .op = op, .off = off, .buf = buf, .len = len };
        int ret = run_request(&r);
        if (cb)
            cb(opaque, ret);
        return;
    }
    struct block_aio_req *r = calloc(1, sizeof(*r));
    if (!r) {
        if (cb)
            cb(opaque, -ENOMEM);
        return;
    }
    *r = (struct block_aio_req){ .bs = bs, .op = op, .off = off, .buf = buf, .len = len,
                                 .cb = cb, .opaque = opaque };
    pthread_mutex_lock(&p->lock);
    if (p->queue_tail)
        p->queue_tail->next = r;
    else
        p->queue_head = r;
    p->queue_tail = r;
    p->in_flight++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int block_aio_poll(struct block_aio_pool *p)
{
    char buf[64];
    while (read(p->notify_pipe[0], buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&p->lock);
    struct block_aio_req *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    int n = 0;
    while (list) {
        struct block_aio_req *r = list;
        list = r->next;
        pthread_mutex_lock(&p->lock);
        p->in_flight--;
        pthread_mutex_unlock(&p->lock);
        if (r->cb)
            r->cb(r->opaque, r->ret);
        free(r);
        n++;
    }
    return n;
}

void block_aio_drain(struct block_aio_pool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int left = p->in_flight;
        while (left && !p->done_head) {
            pthread_cond_wait(&p->cond, &p->lock);
            left = p->in_flight;
        }
        pthread_mutex_unlock(&p->lock);
        if (!left)
            return;
        block_aio_poll(p);
    }
}

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pagecopy.h"

#define CHUNK 64u /* pages a reader takes at a time: a call each (iovecs a side, at most) */

/* One copy, shared by the readers: each takes CHUNK pages at a time from NEXT. */
struct job {
    pid_t pid;
    const uint64_t *pages;
    const uint32_t *spans;
    unsigned char *const *dst;
    uint8_t *ok;
    size_t n;
    atomic_size_t next;
    atomic_size_t calls;
    atomic_int refused;
    int claimed, done;     /* the second reader took the job / finished it (under mu) */
};

struct ps_pagecopy {
    pid_t pid;
    struct iovec *iov;     /* the calling thread's iovecs: CHUNK remote, then CHUNK local */
    int started;           /* the second reader runs */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, finished;
    struct job *posted;    /* a job for the second reader, until it claims it */
    int quit;
};

/* Copy pages [0, K) of the arrays (K <= CHUNK): one call, unless a page cannot be read;
 * then again from the page after it. Adjacent pages whose spans meet make one remote
 * iovec: the kernel then looks the mapping up once and pins up to 16 pages at a time. */
static void read_chunk(struct job *j, struct iovec *iov, const uint64_t *pages,
                       const uint32_t *spans, size_t k, unsigned char *const *dst, uint8_t *ok)
{
    struct iovec *remote = iov, *local = iov + CHUNK;
    size_t i = 0;
    while (i < k && !atomic_load_explicit(&j->refused, memory_order_relaxed)) {
        size_t nr = 0, nl = 0;
        for (size_t x = i; x < k; x++) {
            uint32_t sp = spans ? spans[x] : PS_SPAN_FULL;
            unsigned char *to = dst[x] + ps_span_lo(sp);
            uint64_t from = pages[x] + ps_span_lo(sp);
            size_t len = ps_span_len(sp);
            if (nr && (uint64_t)(uintptr_t)remote[nr - 1].iov_base + remote[nr - 1].iov_len == from)
                remote[nr - 1].iov_len += len;
            else
                remote[nr++] = (struct iovec){(void *)(uintptr_t)from, len};
            /* Consecutive local bytes make one local iovec. */
            if (nl && (unsigned char *)local[nl - 1].iov_base + local[nl - 1].iov_len == to)
                local[nl - 1].iov_len += len;
            else
                local[nl++] = (struct iovec){to, len};
        }
        ssize_t r = process_vm_readv(j->pid, local, (unsigned long)nl, remote, (unsigned long)nr, 0);
        atomic_fetch_add_explicit(&j->calls, 1, memory_order_relaxed);
        if (r < 0 && (errno == ENOSYS || errno == EPERM)) {
            atomic_store(&j->refused, 1);
            return;
        }
        if (r < 0 && errno == ESRCH)
            return; /* the target is gone: nothing more to read */
        /* A partial copy stops at the first page that cannot be read: the pages before it
         * were copied whole. */
        size_t got = r > 0 ? (size_t)r : 0;
        for (; i < k; i++) {
            size_t len = ps_span_len(spans ? spans[i] : PS_SPAN_FULL);
            if (len > got)
                break;
            got -= len;
            ok[i] = 1;
        }
        i++; /* that page is unreadable (or all were read); go on after it */
    }
}

static void work(struct job *j, struct iovec *iov)
{
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, CHUNK);
        if (i >= j->n)
            return;
        size_t k = j->n - i < CHUNK ? j->n - i : CHUNK;
        read_chunk(j, iov, j->pages + i, j->spans ? j->spans + i : NULL, k, j->dst + i, j->ok + i);
    }
}

static void *second_reader(void *arg)
{
    struct ps_pagecopy *pc = arg;
    struct iovec *iov = malloc(2 * CHUNK * sizeof *iov);
    /* Real-time where allowed (CAP_SYS_NICE), always: woken inside a freeze, where the
     * calling thread runs real-time on one CPU, a normal thread could be queued behind it
     * (woken on its CPU) or behind other work on the other one until the copy is over. It
     * runs only while a copy has work for it. */
    struct sched_param rt = {.sched_priority = 1};
    (void)sched_setscheduler(0, SCHED_FIFO, &rt);
    pthread_mutex_lock(&pc->mu);
    for (;;) {
        while (!pc->posted && !pc->quit)
            pthread_cond_wait(&pc->wake, &pc->mu);
        if (pc->quit)
            break;
        struct job *j = pc->posted;
        pc->posted = NULL;
        j->claimed = 1;
        pthread_mutex_unlock(&pc->mu);
        if (iov)
            work(j, iov);
        pthread_mutex_lock(&pc->mu);
        j->done = 1;
        pthread_cond_signal(&pc->finished);
    }
    pthread_mutex_unlock(&pc->mu);
    free(iov);
    return NULL;
}

struct ps_pagecopy *ps_pagecopy_open(pid_t pid)
{
    struct ps_pagecopy *pc = calloc(1, sizeof *pc);
    if (!pc || !(pc->iov = malloc(2 * CHUNK * sizeof *pc->iov))) {
        free(pc);
        return NULL;
    }
    pc->pid = pid;
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
        pthread_mutex_init(&pc->mu, NULL);
        pthread_cond_init(&pc->wake, NULL);
        pthread_cond_init(&pc->finished, NULL);
        /* Its own signals stay blocked: pysnap's handlers run on the main thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        pc->started = pthread_create(&pc->thread, NULL, second_reader, pc) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!pc->started) {
            pthread_cond_destroy(&pc->finished);
            pthread_cond_destroy(&pc->wake);
            pthread_mutex_destroy(&pc->mu);
        }
    }
    return pc;
}

void ps_pagecopy_close(struct ps_pagecopy *pc)
{
    if (!pc)
        return;
    if (pc->started) {
        pthread_mutex_lock(&pc->mu);
        pc->quit = 1;
        pthread_cond_signal(&pc->wake);
        pthread_mutex_unlock(&pc->mu);
        pthread_join(pc->thread, NULL);
        pthread_cond_destroy(&pc->finished);
        pthread_cond_destroy(&pc->wake);
        pthread_mutex_destroy(&pc->mu);
    }
    free(pc->iov);
    free(pc);
}

size_t ps_pagecopy_run(struct ps_pagecopy *pc, const uint64_t *pages, const uint32_t *spans,
                       size_t n, unsigned char *const *dst, uint8_t *ok, int *refused)
{
    struct job j = {.pid = pc->pid, .pages = pages, .spans = spans, .dst = dst, .ok = ok, .n = n};
    atomic_init(&j.next, 0);
    atomic_init(&j.calls, 0);
    atomic_init(&j.refused, 0);
    memset(ok, 0, n);
    int shared = pc->started && n > CHUNK;
    if (shared) {
        pthread_mutex_lock(&pc->mu);
        pc->posted = &j;
        pthread_cond_signal(&pc->wake);
        pthread_mutex_unlock(&pc->mu);
    }
    work(&j, pc->iov);
    if (shared) {
        /* Not claimed yet: withdrawn (there is nothing left to take). Claimed: wait for its
         * last chunk. */
        pthread_mutex_lock(&pc->mu);
        if (!j.claimed)
            pc->posted = NULL;
        else
            while (!j.done)
                pthread_cond_wait(&pc->finished, &pc->mu);
        pthread_mutex_unlock(&pc->mu);
    }
    *refused = atomic_load(&j.refused);
    return atomic_load(&j.calls);
}

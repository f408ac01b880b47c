/* The first round of a freeze shared by two tracer threads: each seizes, interrupts, waits
 * for and, at the thaw, detaches its own half of the threads (freeze_split.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "freeze_split.h"

struct ps_freeze_split {
    pthread_t thread;
    struct ps_freeze share; /* the helper's own tasks */
    const pid_t *tids;      /* the helper's half of the listing */
    size_t n;
    unsigned timeout_ms;
    int rc;                 /* the helper's error, its message set with ps_error_set */
    pthread_barrier_t seized, stopped;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int thaw;
};

/* The helper: its half, in step with the calling thread at the two barriers (both seized
 * before either interrupts: the pause starts at the first interrupt), then asleep until
 * the thaw. It inherits pysnap's real-time scheduling and blocked signals. */
static void *helper_main(void *arg)
{
    struct ps_freeze_split *sp = arg;
    size_t added;
    sp->rc = ps_freeze_seize(&sp->share, sp->tids, sp->n, &added);
    pthread_barrier_wait(&sp->seized);
    ps_freeze_interrupt(&sp->share);
    if (!sp->rc && sp->share.ntasks)
        sp->rc = ps_freeze_wait(&sp->share, sp->timeout_ms);
    pthread_barrier_wait(&sp->stopped);
    pthread_mutex_lock(&sp->lock);
    while (!sp->thaw)
        pthread_cond_wait(&sp->cond, &sp->lock);
    pthread_mutex_unlock(&sp->lock);
    ps_freeze_detach(&sp->share);
    return NULL;
}

static int timespec_zero(const struct timespec *t)
{
    return t->tv_sec == 0 && t->tv_nsec == 0;
}

int ps_freeze_split(struct ps_freeze *fz, const pid_t *tids, size_t n, unsigned timeout_ms)
{
    struct ps_freeze_split *sp = calloc(1, sizeof *sp);
    int helped = 0;
    if (sp) {
        sp->share.pid = fz->pid;
        sp->tids = tids + n / 2;
        sp->n = n - n / 2;
        sp->timeout_ms = timeout_ms;
        pthread_barrier_init(&sp->seized, NULL, 2);
        pthread_barrier_init(&sp->stopped, NULL, 2);
        pthread_mutex_init(&sp->lock, NULL);
        pthread_cond_init(&sp->cond, NULL);
        helped = pthread_create(&sp->thread, NULL, helper_main, sp) == 0;
        if (!helped) {
            fz->split = sp;
            ps_freeze_split_thaw_end(fz); /* nothing to join: only frees */
        }
    }
    size_t added;
    int rc = ps_freeze_seize(fz, tids, helped ? n / 2 : n, &added);
    if (helped)
        pthread_barrier_wait(&sp->seized);
    ps_freeze_interrupt(fz);
    if (!rc && fz->ntasks)
        rc = ps_freeze_wait(fz, timeout_ms);
    if (!helped)
        return rc;
    pthread_barrier_wait(&sp->stopped);
    fz->split = sp; /* from here the thaw wakes the helper */
    if (!rc)
        rc = sp->rc;
    const struct timespec *hs = &sp->share.t_start;
    if (!timespec_zero(hs) &&
        (timespec_zero(&fz->t_start) || hs->tv_sec < fz->t_start.tv_sec ||
         (hs->tv_sec == fz->t_start.tv_sec && hs->tv_nsec < fz->t_start.tv_nsec)))
        fz->t_start = *hs;
    for (size_t i = 0; i < sp->share.ntasks && !rc; i++)
        rc = ps_freeze_adopt(fz, &sp->share.tasks[i]);
    return rc;
}

void ps_freeze_split_thaw_begin(struct ps_freeze *fz)
{
    struct ps_freeze_split *sp = fz->split;
    if (!sp)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->thaw = 1;
    pthread_cond_signal(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
}

void ps_freeze_split_thaw_end(struct ps_freeze *fz)
{
    struct ps_freeze_split *sp = fz->split;
    if (!sp)
        return;
    if (sp->thaw)
        pthread_join(sp->thread, NULL);
    ps_freeze_free(&sp->share);
    pthread_barrier_destroy(&sp->seized);
    pthread_barrier_destroy(&sp->stopped);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->cond);
    free(sp);
    fz->split = NULL;
}

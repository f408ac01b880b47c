#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pysnap/error.h"
#include "freeze.h"
#include "proc.h"

#define MAX_TASKS 65536
#define MAX_RELIST_ROUNDS 64
#define POLL_US 100

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

uint64_t ps_freeze_pause_ns(const struct ps_freeze *fz)
{
    int64_t d = ns_between(&fz->t_start, &fz->t_end);
    return d > 0 ? (uint64_t)d : 0;
}

static int perm_error(pid_t pid, int err)
{
    pid_t tracer = ps_proc_tracer(pid);
    if (tracer > 0)
        return ps_error_set(PS_ATTACH,
                            "cannot attach to %d: it is already traced by process %d "
                            "(a debugger or strace?); detach that first",
                            (int)pid, (int)tracer);
    return ps_proc_perm_error(pid, "attach to", err);
}

static struct ps_ftask *find_task(struct ps_freeze *fz, pid_t tid)
{
    for (size_t i = 0; i < fz->ntasks; i++)
        if (fz->tasks[i].tid == tid)
            return &fz->tasks[i];
    return NULL;
}

/* Seize and interrupt every listed thread not yet known. Returns the number added. */
static int seize_new(struct ps_freeze *fz, size_t *added)
{
    pid_t *tids;
    size_t n;
    int rc = ps_proc_list_tasks(fz->pid, &tids, &n, MAX_TASKS);
    if (rc)
        return rc;
    *added = 0;
    for (size_t i = 0; i < n; i++) {
        if (find_task(fz, tids[i]))
            continue;
        struct ps_ftask *nt = realloc(fz->tasks, (fz->ntasks + 1) * sizeof *nt);
        if (!nt) {
            free(tids);
            return PS_NOMEM;
        }
        fz->tasks = nt;
        struct ps_ftask *t = &nt[fz->ntasks];
        memset(t, 0, sizeof *t);
        t->tid = tids[i];
        ps_proc_task_info(fz->pid, t->tid, &t->state, t->comm);
        if (ptrace(PTRACE_SEIZE, t->tid, NULL, NULL) != 0) {
            int e = errno;
            if (e == ESRCH)
                continue; /* the thread ended meanwhile */
            free(tids);
            return e == EPERM || e == EACCES ? perm_error(fz->pid, e)
                                             : ps_error_set(PS_ATTACH, "cannot attach to thread %d: %s",
                                                            (int)t->tid, strerror(e));
        }
        t->seized = 1;
        fz->ntasks++;
        (*added)++;
    }
    /* Interrupt only after every new thread is seized, so they stop as close together in
     * time as possible: the pause starts at the first interrupt. */
    for (size_t i = fz->ntasks - *added; i < fz->ntasks; i++) {
        if (fz->t_start.tv_sec == 0 && fz->t_start.tv_nsec == 0)
            clock_gettime(CLOCK_MONOTONIC, &fz->t_start);
        if (ptrace(PTRACE_INTERRUPT, fz->tasks[i].tid, NULL, NULL) == 0)
            fz->tasks[i].interrupted = 1;
        else if (errno == ESRCH)
            fz->tasks[i].gone = 1;
    }
    free(tids);
    return PS_OK;
}

static void collect_stop(struct ps_ftask *t, int status)
{
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        t->gone = 1;
        return;
    }
    if (!WIFSTOPPED(status))
        return;
    t->stopped = 1;
    /* A PTRACE_EVENT_STOP is our interrupt (or a group-stop, kept as it is on detach); any
     * other stop is a signal on its way to the thread: give it back when we detach. */
    if ((status >> 16) != PTRACE_EVENT_STOP)
        t->pending_sig = WSTOPSIG(status);
}

static volatile sig_atomic_t wait_timed_out;

static void on_wait_timeout(int sig)
{
    (void)sig;
    wait_timed_out = 1;
}

/* Collect the stops with a blocking waitpid(-1), so each is seen the moment it happens
 * (polling with sleeps costs milliseconds on a loaded machine); an interval timer without
 * SA_RESTART bounds the wait. */
static int wait_stops(struct ps_freeze *fz, unsigned timeout_ms)
{
    size_t waiting = 0;
    for (size_t i = 0; i < fz->ntasks; i++)
        waiting += !fz->tasks[i].stopped && !fz->tasks[i].gone;
    if (!waiting)
        return PS_OK;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wait_timeout;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old_sa);
    wait_timed_out = 0;
    struct itimerval timer = {{0, 0}, {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000}};
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &timer, NULL);
    /* Real-time, pysnap would preempt a CPU at every single stop to collect it: poll
     * instead, every POLL_US, collecting all the stops that came meanwhile. */
    const struct timespec poll = {0, POLL_US * 1000};
    while (waiting && !wait_timed_out) {
        int status;
        pid_t r = waitpid(-1, &status, __WALL | (fz->boosted ? WNOHANG : 0));
        if (r == 0) {
            nanosleep(&poll, NULL);
            continue;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: none of ours is left */
        }
        struct ps_ftask *t = find_task(fz, r);
        if (!t || t->stopped || t->gone)
            continue; /* not ours (pysnap starts no children), or seen already */
        collect_stop(t, status);
        if (t->stopped || t->gone)
            waiting--;
    }
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    for (size_t i = 0; i < fz->ntasks; i++)
        if (!fz->tasks[i].stopped && !fz->tasks[i].gone)
            fz->partial = 1; /* the walk goes on with the threads that did stop */
    return PS_OK;
}

static void boost(struct ps_freeze *fz)
{
    struct sched_param old, rt = {.sched_priority = 1};
    fz->old_policy = sched_getscheduler(0);
    if (fz->old_policy < 0 || sched_getparam(0, &old) != 0)
        return;
    fz->old_priority = old.sched_priority;
    /* Not allowed (no CAP_SYS_NICE) or already real-time: run as we are. */
    if (fz->old_policy == SCHED_OTHER || fz->old_policy == SCHED_BATCH)
        fz->boosted = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
}

static void unboost(struct ps_freeze *fz)
{
    if (!fz->boosted)
        return;
    struct sched_param old = {.sched_priority = fz->old_priority};
    sched_setscheduler(0, fz->old_policy, &old);
    fz->boosted = 0;
}

int ps_freeze(pid_t pid, unsigned timeout_ms, struct ps_freeze *fz)
{
    memset(fz, 0, sizeof *fz);
    fz->pid = pid;
    boost(fz);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    fz->realtime_start_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
    int rc = PS_OK;
    /* New threads may appear until every existing one is stopped: list again until no new
     * one shows up. */
    for (int round = 0; round < MAX_RELIST_ROUNDS; round++) {
        size_t added;
        if ((rc = seize_new(fz, &added)))
            break;
        if (!added)
            break;
        if (fz->ntasks >= MAX_TASKS)
            break;
    }
    if (!rc && fz->ntasks == 0)
        rc = ps_error_set(PS_NOPROC, "process %d has no threads left", (int)pid);
    if (!rc)
        rc = wait_stops(fz, timeout_ms);
    if (rc) {
        ps_thaw(fz);
        return rc;
    }
    for (size_t i = 0; i < fz->ntasks; i++) {
        struct ps_ftask *t = &fz->tasks[i];
        if (t->stopped && ptrace(PTRACE_GETREGS, t->tid, NULL, &t->regs) == 0)
            t->has_regs = 1;
    }
    return PS_OK;
}

void ps_thaw(struct ps_freeze *fz)
{
    clock_gettime(CLOCK_MONOTONIC, &fz->t_thaw);
    for (size_t i = 0; i < fz->ntasks; i++) {
        struct ps_ftask *t = &fz->tasks[i];
        if (!t->seized)
            continue;
        if (t->interrupted && !t->stopped && !t->gone) {
            /* Not stopped yet (e.g. in uninterruptible sleep): give it a last chance so the
             * detach can happen now rather than when pysnap exits. */
            int status;
            for (int k = 0; k < 50 && !t->stopped && !t->gone; k++) {
                pid_t r = waitpid(t->tid, &status, __WALL | WNOHANG);
                if (r == t->tid)
                    collect_stop(t, status);
                else if (r < 0)
                    t->gone = 1;
                else {
                    struct timespec nap = {0, 100000};
                    nanosleep(&nap, NULL);
                }
            }
        }
        if (t->stopped)
            ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(intptr_t)t->pending_sig);
        /* A thread never stopped is detached by the kernel when pysnap exits. */
        t->seized = 0;
        t->stopped = 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &fz->t_end);
    unboost(fz);
}

void ps_freeze_free(struct ps_freeze *fz)
{
    free(fz->tasks);
    fz->tasks = NULL;
    fz->ntasks = 0;
}

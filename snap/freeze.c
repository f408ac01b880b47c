#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pysnap/error.h"
#include "freeze.h"
#include "freeze_split.h"
#include "proc.h"

#ifndef sigev_notify_thread_id /* glibc before 2.35 names it only by its union member */
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define MAX_TASKS 65536
#define MAX_RELIST_ROUNDS 64

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

uint64_t ps_freeze_pause_ns(const struct ps_freeze *fz)
{
    int64_t d = ns_between(&fz->t_start, &fz->t_end);
    return d > 0 ? (uint64_t)d : 0;
}

static int perm_error(pid_t pid, pid_t tid, int err)
{
    pid_t tracer = ps_proc_tracer(tid);
    if (tracer <= 0 || tracer == getpid())
        tracer = ps_proc_tracer(pid);
    if (tracer > 0 && tracer != getpid())
        return ps_error_set(PS_ATTACH,
                            "cannot attach to %d: it is already traced by process %d "
                            "(a debugger or strace?); detach that first",
                            (int)pid, (int)tracer);
    return ps_proc_perm_error(pid, "attach to", err);
}

static struct ps_ftask *find_task(struct ps_freeze *fz, pid_t tid)
{
    uintptr_t i = (uintptr_t)ps_u64map_get(&fz->index, (uint64_t)tid);
    return i ? &fz->tasks[i - 1] : NULL;
}

/* Append a zeroed task for TID, indexed; NULL when out of memory. Pointers into fz->tasks
 * do not survive this call. */
static struct ps_ftask *append_task(struct ps_freeze *fz, pid_t tid)
{
    if (fz->ntasks == fz->cap) {
        size_t cap = fz->cap ? fz->cap * 2 : 64;
        struct ps_ftask *nt = realloc(fz->tasks, cap * sizeof *nt);
        if (!nt)
            return NULL;
        fz->tasks = nt;
        fz->cap = cap;
    }
    if (ps_u64map_put(&fz->index, (uint64_t)tid, (void *)(uintptr_t)(fz->ntasks + 1)))
        return NULL;
    struct ps_ftask *t = &fz->tasks[fz->ntasks++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

/* Append a task for TID, its state and name read now (before its interrupt). */
static struct ps_ftask *add_task(struct ps_freeze *fz, pid_t tid)
{
    struct ps_ftask *t = append_task(fz, tid);
    if (t)
        ps_proc_task_info(fz->pid, tid, &t->state, t->comm);
    return t;
}

/* A clone child that PTRACE_O_TRACECLONE attached to us: it begins in a stop that
 * wait_stops collects, so it is known without a listing. A process (clone without
 * CLONE_THREAD) is only held until the thaw, and left out of the snapshot. */
static int add_clone_child(struct ps_freeze *fz, pid_t tid)
{
    if (find_task(fz, tid))
        return PS_OK;
    struct ps_ftask *t = add_task(fz, tid);
    if (!t)
        return PS_NOMEM;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d", (int)fz->pid, (int)tid);
    t->seized = 1;
    t->other_process = access(path, F_OK) != 0;
    return PS_OK;
}

/* Whether TID is a thread of pysnap (the other tracer thread of a split freeze). */
static int own_thread(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    return access(path, F_OK) == 0;
}

/* Seize every thread of TIDS not yet known (not interrupted yet: ps_freeze_interrupt does
 * that). Returns PS_OK or the error that ends the freeze; *ADDED counts the new tasks. */
int ps_freeze_seize(struct ps_freeze *fz, const pid_t *tids, size_t n, size_t *added)
{
    int rc = PS_OK;
    *added = 0;
    for (size_t i = 0; i < n; i++) {
        if (find_task(fz, tids[i]))
            continue;
        /* TRACECLONE: a thread this one creates from now on is attached to us at birth,
         * stopped, so it cannot run through the walk unseen (a listing of /proc/PID/task
         * misses threads born during it, and a thread interrupted inside clone() still
         * creates its child). */
        if (ptrace(PTRACE_SEIZE, tids[i], NULL, (void *)(uintptr_t)PTRACE_O_TRACECLONE) != 0) {
            int e = errno;
            if (e == ESRCH)
                continue; /* the thread ended meanwhile */
            char state, comm[16];
            ps_proc_task_info(fz->pid, tids[i], &state, comm);
            if (e == EPERM && (state == 0 || state == 'Z' || state == 'X'))
                continue; /* ended meanwhile: the kernel refuses an exiting thread EPERM */
            pid_t tracer = e == EPERM ? ps_proc_tracer(tids[i]) : 0;
            if (tracer > 0 && tracer == (pid_t)gettid()) {
                /* a clone child attached to us already: its birth stop is on its way */
                if ((rc = add_clone_child(fz, tids[i])))
                    break;
                (*added)++;
                continue;
            }
            if (tracer > 0 && own_thread(tracer))
                continue; /* attached to our other tracer thread at birth: it thaws it */
            rc = e == EPERM || e == EACCES
                     ? perm_error(fz->pid, tids[i], e)
                     : ps_error_set(PS_ATTACH, "cannot attach to thread %d: %s", (int)tids[i],
                                    strerror(e));
            break;
        }
        struct ps_ftask *t = add_task(fz, tids[i]);
        if (!t) {
            /* attached but not recorded: not stopped, so it cannot be detached now; the
             * kernel detaches it when its tracer thread exits */
            rc = PS_NOMEM;
            break;
        }
        t->seized = 1;
        t->to_interrupt = 1;
        (*added)++;
    }
    return rc;
}

/* Interrupt every thread seized and not yet interrupted. Only after every new thread is
 * seized, so they stop as close together in time as possible: the pause starts at the
 * first interrupt. */
void ps_freeze_interrupt(struct ps_freeze *fz)
{
    for (size_t i = 0; i < fz->ntasks; i++) {
        struct ps_ftask *t = &fz->tasks[i];
        if (!t->to_interrupt)
            continue;
        t->to_interrupt = 0;
        if (fz->t_start.tv_sec == 0 && fz->t_start.tv_nsec == 0)
            clock_gettime(CLOCK_MONOTONIC, &fz->t_start);
        if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) == 0)
            t->interrupted = 1;
        else if (errno == ESRCH)
            t->gone = 1;
    }
}

/* List the threads, seize and interrupt every one not yet known; *ADDED counts them. */
static int seize_new(struct ps_freeze *fz, size_t *added)
{
    pid_t *tids;
    size_t n;
    int rc = ps_proc_list_tasks(fz->pid, &tids, &n, MAX_TASKS);
    if (rc)
        return rc;
    rc = ps_freeze_seize(fz, tids, n, added);
    free(tids);
    ps_freeze_interrupt(fz);
    return rc;
}

/* Record one wait status of T. Returns the tid of a thread T has just created (its clone
 * event stop), else 0. */
static pid_t collect_stop(struct ps_ftask *t, int status)
{
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        t->gone = 1;
        return 0;
    }
    if (!WIFSTOPPED(status))
        return 0;
    t->stopped = 1;
    int event = status >> 16;
    /* A PTRACE_EVENT_STOP is our interrupt, a new thread's first stop, or a group-stop
     * (kept as it is on detach); a clone event is a stop inside clone(); a stop without
     * an event is a signal on its way to the thread: give it back when we detach. */
    if (event == 0)
        t->pending_sig = WSTOPSIG(status);
    if (event == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        if (ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &child) == 0 && child > 0 &&
            child < (unsigned long)INT_MAX)
            return (pid_t)child;
    }
    return 0;
}

/* The registers of a stopped thread of the target (the unwinder starts from all of them:
 * the callee-saved ones too, so one PTRACE_GETREGS rather than SP and PC alone). */
static void read_regs(struct ps_ftask *t)
{
    if (t->stopped && !t->other_process && !t->has_regs && !t->foreign &&
        ptrace(PTRACE_GETREGS, t->tid, NULL, &t->regs) == 0)
        t->has_regs = 1;
}

/* Set by the SIGALRM of the waiting thread's own timer: two tracer threads may wait at once. */
static _Thread_local volatile sig_atomic_t wait_timed_out;

static void on_wait_timeout(int sig)
{
    (void)sig;
    wait_timed_out = 1;
}

/* Collect the stops thread by thread, each with a blocking waitpid on its own tid: the
 * kernel finds a given tracee at once, where waitpid(-1) scans the whole list of tracees at
 * every call (quadratic in the thread count: 100 ms of the pause at 2000 threads). The
 * threads were interrupted in this same order, so by the time a thread is waited for it has
 * usually stopped already. A thread created meanwhile (a clone event) is appended and waited
 * for in its turn. A timer of this thread's own (its SIGALRM, without SA_RESTART, caught
 * by the handler ps_freeze installs) bounds the whole wait. Threads of another tracer thread
 * (foreign) are not ours to wait for. */
int ps_freeze_wait(struct ps_freeze *fz, unsigned timeout_ms)
{
    size_t i = 0;
    while (i < fz->ntasks && (fz->tasks[i].stopped || fz->tasks[i].gone || fz->tasks[i].foreign))
        i++;
    if (i == fz->ntasks)
        return PS_OK;
    wait_timed_out = 0;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGALRM;
    ev.sigev_notify_thread_id = (pid_t)gettid();
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0)
        return ps_error_set(PS_ATTACH, "cannot bound the wait for the threads to stop: %s",
                            strerror(errno));
    struct itimerspec its = {{0, 0}, {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000}};
    timer_settime(timer, 0, &its, NULL);
    int rc = PS_OK;
    for (; i < fz->ntasks && !wait_timed_out && !rc; i++) {
        while (!fz->tasks[i].stopped && !fz->tasks[i].gone && !fz->tasks[i].foreign &&
               !wait_timed_out) {
            int status;
            pid_t r = waitpid(fz->tasks[i].tid, &status, __WALL);
            if (r < 0) {
                if (errno != EINTR)
                    fz->tasks[i].gone = 1; /* ECHILD: no longer ours (it exited) */
                continue;
            }
            pid_t child = collect_stop(&fz->tasks[i], status);
            /* Now, while later threads are still on their way to their stops: the read
             * overlaps their stopping instead of following it. */
            read_regs(&fz->tasks[i]);
            if (child && !find_task(fz, child) && (rc = add_clone_child(fz, child)))
                break;
        }
    }
    timer_delete(timer);
    return rc;
}

/* Whether every thread of the process is known and stopped, without a listing: the known
 * threads that are stopped are alive (a stopped tracee cannot end unseen), so when they are
 * as many as the kernel counts in the thread group, there is no other. A listing of
 * /proc/PID/task inside the pause costs a directory entry per thread (0.75 ms at 1000
 * threads); the count is one small read. Any doubt (a thread not stopped, no count) says
 * no, and the caller lists. */
static int all_stopped_by_count(const struct ps_freeze *fz)
{
    long stopped = 0;
    for (size_t i = 0; i < fz->ntasks; i++) {
        const struct ps_ftask *t = &fz->tasks[i];
        if (t->other_process || t->gone)
            continue;
        if (!t->stopped)
            return 0;
        stopped++;
    }
    return stopped > 0 && ps_proc_thread_count(fz->pid) == stopped;
}

/* Milliseconds left until DEADLINE, at least 1 (a zero interval timer would never fire). */
static unsigned ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = ns_between(&now, deadline);
    return ns > 1000000 ? (unsigned)(ns / 1000000) : 1;
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

int ps_freeze_adopt(struct ps_freeze *fz, const struct ps_ftask *t)
{
    if (find_task(fz, t->tid))
        return PS_OK;
    struct ps_ftask *c = append_task(fz, t->tid);
    if (!c)
        return PS_NOMEM;
    *c = *t;
    c->foreign = 1;
    c->seized = 0; /* not this thread's to detach */
    return PS_OK;
}

/* Whether the first round over N listed threads is split between two tracer threads.
 * Measured on the 2-CPU VM, idle (bench/scale.py, medians of 7-9 alternated captures of
 * each kind on one target, split against serial, with the page copy shared by two readers):
 * 30 threads 0.56 against 0.51 ms, 50: 1.10 / 0.98, 75: 1.13 / 1.17, 100: 1.10 / 1.31,
 * 150: 1.66 / 1.98, 200: 2.02-2.32 / 2.62-2.65, 300: 3.25 / 3.99, 1000: 10.1 / 13.3, 2000:
 * 23.4 / 29.9. Below ~75 threads starting the helper and handing over cost more than the
 * halved work saves. (Before the copy was shared, on the loaded VM, 200 threads was a coin
 * toss and the threshold 500.) PYSNAP_FREEZE_SPLIT_MIN (a thread count) forces the choice
 * either way, for the benchmark and the tests. */
static int split_first_round(size_t n)
{
    const char *e = getenv("PYSNAP_FREEZE_SPLIT_MIN");
    if (e && *e)
        return n >= (size_t)strtoul(e, NULL, 10);
    return n >= PS_FREEZE_SPLIT_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

/* The first round by this thread alone: seize every listed thread, interrupt them, wait. */
static int first_round_serial(struct ps_freeze *fz, const pid_t *tids, size_t n,
                              unsigned timeout_ms)
{
    size_t added;
    int rc = ps_freeze_seize(fz, tids, n, &added);
    ps_freeze_interrupt(fz);
    if (!rc && fz->ntasks)
        rc = ps_freeze_wait(fz, timeout_ms);
    return rc;
}

int ps_freeze(pid_t pid, unsigned timeout_ms, struct ps_freeze *fz)
{
    memset(fz, 0, sizeof *fz);
    fz->pid = pid;
    boost(fz);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    fz->realtime_start_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    /* Every wait below is bounded by a SIGALRM of the waiting thread's own timer. */
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wait_timeout;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old_sa);
    /* New threads may appear until every existing one is stopped, and a thread interrupted
     * inside clone() still creates its child before it stops, after a listing may have
     * missed it. Only a listing made while every known thread is stopped (or given up on)
     * proves the set complete: so list, seize and interrupt, wait for the stops, and list
     * again until a listing finds no new thread. In the usual case the thread count of
     * /proc/PID/status stands in for that second listing (all_stopped_by_count). The first
     * round, which stops nearly every thread, may be shared by two tracer threads
     * (freeze_split.c, split_first_round): each stops, and later resumes, half of them. */
    pid_t *tids;
    size_t n;
    int rc = ps_proc_list_tasks(pid, &tids, &n, MAX_TASKS), complete = 0;
    if (!rc) {
        rc = split_first_round(n) ? ps_freeze_split(fz, tids, n, ms_left(&deadline))
                 : first_round_serial(fz, tids, n, ms_left(&deadline));
        free(tids);
    }
    for (int round = 1; !rc && fz->ntasks && round < MAX_RELIST_ROUNDS &&
                        fz->ntasks < MAX_TASKS; round++) {
        size_t added;
        if (all_stopped_by_count(fz)) {
            complete = 1;
            break;
        }
        if ((rc = seize_new(fz, &added)))
            break;
        if (!added) {
            complete = 1;
            break;
        }
        rc = ps_freeze_wait(fz, ms_left(&deadline));
    }
    if (!rc && fz->ntasks == 0)
        rc = ps_error_set(PS_NOPROC, "process %d has no threads left", (int)pid);
    if (!rc && !complete) {
        /* Out of rounds (threads born faster than we list): stop what we have; a thread
         * born meanwhile may run during the walk, so the snapshot is marked partial. */
        rc = ps_freeze_wait(fz, ms_left(&deadline));
        fz->partial = 1;
        fz->partial_reason = "threads were still being created after the last listing";
    }
    sigaction(SIGALRM, &old_sa, NULL);
    for (size_t i = 0; i < fz->ntasks && !rc; i++)
        if (!fz->tasks[i].stopped && !fz->tasks[i].gone) {
            fz->partial = 1; /* the walk goes on with the threads that did stop */
            fz->partial_reason = "some threads did not stop before the timeout";
        }
    if (rc) {
        ps_thaw(fz);
        ps_freeze_free(fz);
        return rc;
    }
    for (size_t i = 0; i < fz->ntasks; i++)
        read_regs(&fz->tasks[i]); /* read as they stopped; this catches any left */
    return PS_OK;
}

void ps_freeze_detach(struct ps_freeze *fz)
{
    /* fz->ntasks may grow during the loop: a last-chance wait can collect a clone event. */
    for (size_t i = 0; i < fz->ntasks; i++) {
        if (!fz->tasks[i].seized)
            continue;
        if (!fz->tasks[i].stopped && !fz->tasks[i].gone) {
            /* Not stopped yet (e.g. in uninterruptible sleep, or a clone child before its
             * birth stop): give it a last chance so the detach can happen now rather than
             * when pysnap exits. */
            int status;
            for (int k = 0; k < 50 && !fz->tasks[i].stopped && !fz->tasks[i].gone; k++) {
                pid_t r = waitpid(fz->tasks[i].tid, &status, __WALL | WNOHANG);
                if (r == fz->tasks[i].tid) {
                    pid_t child = collect_stop(&fz->tasks[i], status);
                    if (child)
                        add_clone_child(fz, child); /* out of memory: pysnap's exit frees it */
                } else if (r < 0)
                    fz->tasks[i].gone = 1;
                else {
                    struct timespec nap = {0, 100000};
                    nanosleep(&nap, NULL);
                }
            }
        }
        struct ps_ftask *t = &fz->tasks[i];
        if (t->stopped)
            ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(intptr_t)t->pending_sig);
        /* A thread never stopped is detached by the kernel when pysnap exits. */
        t->seized = 0;
        t->stopped = 0;
    }
}

void ps_thaw(struct ps_freeze *fz)
{
    clock_gettime(CLOCK_MONOTONIC, &fz->t_thaw);
    ps_freeze_split_thaw_begin(fz); /* the other tracer thread detaches its half meanwhile */
    ps_freeze_detach(fz);
    ps_freeze_split_thaw_end(fz);
    clock_gettime(CLOCK_MONOTONIC, &fz->t_end);
    unboost(fz);
}

void ps_freeze_free(struct ps_freeze *fz)
{
    if (fz->split) { /* never thawed: the other tracer thread must not be left waiting */
        ps_freeze_split_thaw_begin(fz);
        ps_freeze_split_thaw_end(fz);
    }
    free(fz->tasks);
    ps_u64map_free(&fz->index, NULL);
    fz->tasks = NULL;
    fz->ntasks = fz->cap = 0;
}

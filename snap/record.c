/* pysnap record: the sampling loop. See include/pysnap/record.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/record.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"
#include "pysnap/walker.h"
#include "freeze.h"
#include "memsrc_direct.h"
#include "proc.h"
#include "pyfind.h"

#define MAX_PROCESSES 256
#define RELIST_NS 1000000000LL /* --children: look for new descendants once a second */
#define FREEZE_TIMEOUT_MS 1000

struct target {
    pid_t pid;
    int state;                /* 0 sampling, 1 not Python / failed, 2 gone */
    char cmdline[512];
    struct ps_pyfind py;
    struct ps_walk_target wt;
    struct ps_direct *mem;
};

struct recorder {
    const struct ps_record_opts *o;
    struct ps_profile *prof;
    struct ps_record_stats *st;
    struct target *t;
    size_t nt;
    struct ps_walk_limits lim;
    int first_err;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Find the runtime of PID and open a direct source; a failure marks the target skipped. */
static int open_target(struct recorder *r, pid_t pid)
{
    for (size_t i = 0; i < r->nt; i++)
        if (r->t[i].pid == pid)
            return PS_OK;
    if (r->nt >= MAX_PROCESSES)
        return PS_OK;
    struct target *nt = realloc(r->t, (r->nt + 1) * sizeof *nt);
    if (!nt)
        return PS_NOMEM;
    r->t = nt;
    struct target *t = &r->t[r->nt++];
    memset(t, 0, sizeof *t);
    t->pid = pid;
    ps_proc_cmdline(pid, t->cmdline, sizeof t->cmdline);
    ps_error_clear();
    struct ps_maps maps;
    int rc = ps_proc_read_maps(pid, &maps);
    if (!rc) {
        rc = ps_pyfind(pid, &maps, &t->py);
        ps_proc_maps_free(&maps);
    }
    if (!rc)
        rc = ps_direct_open(pid, &t->mem);
    if (!rc) {
        struct ps_memsrc mem = ps_direct_memsrc(t->mem);
        uint32_t v = t->py.version_hex;
        uint32_t pv;
        if (t->py.version_addr && ps_mem_u32(&mem, t->py.version_addr, &pv) == PS_OK && (pv >> 24) == 3)
            v = pv;
        if (!v)
            rc = ps_error_set(PS_UNSUPPORTED, "cannot tell the CPython version of %s", t->py.path);
        t->wt = (struct ps_walk_target){t->py.runtime_addr, v, t->py.hash_secret, 0, {0}};
        memcpy(t->wt.roots, t->py.roots, sizeof t->wt.roots);
    }
    if (!rc) { /* reading needs ptrace access: refuse early and clearly, not sample by sample */
        struct ps_memsrc mem = ps_direct_memsrc(t->mem);
        uint64_t word;
        if (ps_mem_u64(&mem, t->py.runtime_addr, &word) != PS_OK) {
            int err = ps_direct_last_errno(t->mem);
            rc = err == EPERM || err == EACCES
                     ? ps_proc_perm_error(pid, "read the memory of", err)
                     : ps_error_set(PS_READ, "cannot read the memory of %d: %s", (int)pid,
                                    strerror(err ? err : EIO));
        }
    }
    if (rc) {
        t->state = 1;
        if (!r->first_err)
            r->first_err = rc;
        return PS_OK;
    }
    r->st->processes++;
    return PS_OK;
}

static int list_targets(struct recorder *r)
{
    if (!r->o->children)
        return open_target(r, r->o->pid);
    pid_t *pids;
    size_t n;
    int rc = ps_proc_descendants(r->o->pid, &pids, &n, MAX_PROCESSES);
    if (rc)
        return rc == PS_NOPROC && r->nt ? PS_OK : rc;
    for (size_t i = 0; i < n && !rc; i++)
        rc = open_target(r, pids[i]);
    free(pids);
    return rc;
}

/* Which threads go into the profile. */
static int wanted(const struct recorder *r, pid_t pid, const struct ps_thread *t)
{
    if (r->o->gil_only)
        return t->holds_gil;
    if (r->o->idle || t->holds_gil)
        return 1;
    char state, comm[16];
    ps_proc_task_info(pid, (pid_t)t->tid, &state, comm);
    return state == 'R';
}

static const struct ps_thread *find_thread(const struct ps_model *m, uint32_t tid)
{
    for (size_t i = 0; i < m->ninterps; i++)
        for (size_t j = 0; j < m->interps[i].nthreads; j++)
            if (m->interps[i].threads[j].tid == tid)
                return &m->interps[i].threads[j];
    return NULL;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Same functions in the same order (lines may move: a hot loop changes them all the time). */
static int same_stack(const struct ps_thread *a, const struct ps_thread *b)
{
    if (!b || a->nframes != b->nframes || b->walk_status != a->walk_status)
        return 0;
    for (size_t i = 0; i < a->nframes; i++)
        if (a->frames[i].kind != b->frames[i].kind ||
            !same_str(a->frames[i].function, b->frames[i].function) ||
            !same_str(a->frames[i].file, b->frames[i].file))
            return 0;
    return 1;
}

/* Some thread of PID is on CPU (R) right now. */
static int any_running(pid_t pid)
{
    pid_t *tids;
    size_t n;
    if (ps_proc_list_tasks(pid, &tids, &n, 16384) != PS_OK)
        return 1; /* cannot tell: walk */
    int running = 0;
    for (size_t i = 0; i < n && !running; i++) {
        char state, comm[16];
        ps_proc_task_info(pid, tids[i], &state, comm);
        running = state == 'R';
    }
    free(tids);
    return running;
}

/* --native: one capture in memory per sample, analyzed at once, so that native frames are
 * unwound and merged with the Python ones exactly as `dump --native` shows them. */
static void sample_native(struct recorder *r, struct target *t)
{
    struct ps_capture_opts co;
    ps_capture_opts_default(&co);
    co.pid = t->pid;
    co.compress_level = 0;
    co.limits = r->lim;
    co.timeout_ms = FREEZE_TIMEOUT_MS;
    unsigned char *buf;
    size_t len;
    struct ps_capture_result cr;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Capture installs its own handlers for these (to remove a half-written file): put
     * ours back before a signal that arrived meanwhile is delivered. */
    struct sigaction sa_int, sa_term;
    sigaction(SIGINT, NULL, &sa_int);
    sigaction(SIGTERM, NULL, &sa_term);
    sigprocmask(SIG_BLOCK, &set, &old);
    ps_error_clear();
    int rc = ps_capture_to_memory(&co, &buf, &len, &cr);
    sigaction(SIGINT, &sa_int, NULL);
    sigaction(SIGTERM, &sa_term, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    struct ps_snapshot *snap = NULL;
    struct ps_report rep;
    if (!rc)
        rc = ps_snapshot_open_buffer(buf, len, &snap);
    if (!rc && (rc = ps_report_build(snap, &rep)) != PS_OK)
        ps_report_free(&rep);
    if (rc) {
        if (snap)
            ps_snapshot_close(snap);
        if (kill(t->pid, 0) != 0 && errno == ESRCH)
            t->state = 2;
        else
            r->st->dropped++;
        return;
    }
    r->st->process_samples++;
    for (size_t i = 0; i < rep.model.ninterps; i++)
        for (size_t j = 0; j < rep.model.interps[i].nthreads; j++) {
            const struct ps_thread *th = &rep.model.interps[i].threads[j];
            int keep = r->o->gil_only ? th->holds_gil
                       : r->o->idle   ? th->nframes > 0
                                      : th->holds_gil || th->state == PS_TSTATE_RUNNING;
            if (keep && th->nframes &&
                ps_profile_add_thread(r->prof, (uint64_t)t->pid, t->cmdline, th, 1) == PS_OK)
                r->st->thread_samples++;
        }
    ps_report_free(&rep);
    ps_snapshot_close(snap);
}

static void sample_one(struct recorder *r, struct target *t)
{
    if (r->o->native) {
        sample_native(r, t);
        return;
    }
    /* Without --idle or --gil only threads on CPU are recorded: a process with none (an idle
     * worker, the gunicorn master) costs a few /proc reads instead of a walk. */
    if (!r->o->idle && !r->o->gil_only && !r->o->blocking && !any_running(t->pid)) {
        r->st->process_samples++;
        return;
    }
    struct ps_memsrc mem = ps_direct_memsrc(t->mem);
    ps_direct_reset(t->mem);
    struct ps_freeze fz;
    sigset_t set, old;
    int frozen = 0;
    if (r->o->blocking) {
        /* As in capture: signals wait until the process runs again. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, &old);
        if (ps_freeze(t->pid, FREEZE_TIMEOUT_MS, &fz) != PS_OK) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            if (kill(t->pid, 0) != 0 && errno == ESRCH)
                t->state = 2;
            else
                r->st->dropped++;
            return;
        }
        frozen = 1;
    }
    struct ps_model m = {0}, again = {0};
    int rc = ps_walk(&mem, &t->wt, &r->lim, &m);
    if (!rc && !frozen) {
        /* The process ran during the walk, and pages were read at different moments: a
         * stack can come out torn (a frame of a moment ago under frames of now). Walk again
         * over fresh pages and keep only threads whose stacks came out the same twice. */
        ps_direct_reset(t->mem);
        if (ps_walk(&mem, &t->wt, &r->lim, &again) != PS_OK)
            rc = PS_READ;
    }
    if (frozen) {
        ps_thaw(&fz);
        ps_freeze_free(&fz);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    if (rc) {
        ps_model_free(&m);
        ps_model_free(&again);
        if (kill(t->pid, 0) != 0 && errno == ESRCH)
            t->state = 2;
        else
            r->st->dropped++; /* torn: the interpreter moved under the walk */
        return;
    }
    r->st->process_samples++;
    for (size_t i = 0; i < m.ninterps; i++)
        for (size_t j = 0; j < m.interps[i].nthreads; j++) {
            const struct ps_thread *th = &m.interps[i].threads[j];
            if (th->walk_status && th->walk_status != PS_LIMIT) {
                r->st->dropped++;
                continue;
            }
            if (!th->nframes || !wanted(r, t->pid, th))
                continue;
            /* Running, a torn read can also close a loop of frames (3.8-3.10 reuse frame
             * objects): it reads as a stack cut by the frame limit. Past 1024 frames, sample
             * with --blocking. */
            if (!frozen && (th->frames_truncated ||
                            !same_stack(th, find_thread(&again, th->tid)))) {
                r->st->dropped++;
                continue;
            }
            if (ps_profile_add_thread(r->prof, (uint64_t)t->pid, t->cmdline, th, 0) == PS_OK)
                r->st->thread_samples++;
        }
    ps_model_free(&m);
    ps_model_free(&again);
}

static void progress(const struct recorder *r, double elapsed, int final)
{
    fprintf(stderr, "\rpysnap record: %.1f/%.1f s, %llu samples, %llu dropped, %llu process%s%s",
            elapsed, r->o->duration, (unsigned long long)r->st->thread_samples,
            (unsigned long long)r->st->dropped, (unsigned long long)r->st->processes,
            r->st->processes == 1 ? "" : "es", final ? "\n" : "   ");
    fflush(stderr);
}

int ps_record(const struct ps_record_opts *o, struct ps_profile *prof, struct ps_record_stats *st)
{
    memset(st, 0, sizeof *st);
    if (o->pid <= 0 || o->rate == 0 || !(o->duration > 0))
        return ps_error_set(PS_USAGE, "record needs a pid, a rate and a duration");
    if (kill(o->pid, 0) != 0 && errno == ESRCH)
        return ps_error_set(PS_NOPROC, "no process %d", (int)o->pid);
    struct recorder r = {o, prof, st, NULL, 0, {0}, 0};
    ps_walk_limits_default(&r.lim);
    r.lim.locals = 0;      /* stacks only: fewer reads, fewer chances to tear */
    r.lim.max_frames = 1024;
    int rc = list_targets(&r);
    if (!rc && !st->processes)
        rc = r.first_err ? r.first_err : ps_error_set(PS_NOTPYTHON, "no Python process to sample");
    if (rc) {
        for (size_t i = 0; i < r.nt; i++)
            ps_direct_close(r.t[i].mem);
        free(r.t);
        return rc;
    }
    ps_error_clear();
    int64_t period = 1000000000LL / o->rate;
    int64_t start = now_ns(), next = start, end = start + (int64_t)(o->duration * 1e9);
    int64_t last_list = start, last_progress = 0;
    for (;;) {
        if (o->stop && *o->stop) {
            st->interrupted = 1;
            break;
        }
        int64_t now = now_ns();
        if (now >= end)
            break;
        if (o->children && now - last_list >= RELIST_NS) {
            list_targets(&r); /* new workers (a respawn) join; errors just skip them */
            last_list = now;
        }
        int alive = 0;
        for (size_t i = 0; i < r.nt; i++)
            if (r.t[i].state == 0) {
                sample_one(&r, &r.t[i]);
                alive += r.t[i].state == 0;
            }
        st->ticks++;
        if (!alive && !o->children)
            break; /* the process is gone: write what there is */
        now = now_ns();
        if (o->progress && now - last_progress >= 250000000LL) {
            progress(&r, (double)(now - start) / 1e9, 0);
            last_progress = now;
        }
        next += period;
        if (now > next) { /* fell behind (a slow walk, a busy machine): skip, do not burst */
            st->late += (uint64_t)((now - next) / period);
            next = now;
        }
        struct timespec ts = {(time_t)(next / 1000000000LL), (long)(next % 1000000000LL)};
        /* EINTR (Ctrl-C) returns at once: the loop checks *stop. */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    st->elapsed = (double)(now_ns() - start) / 1e9;
    if (o->progress)
        progress(&r, st->elapsed, 1);
    for (size_t i = 0; i < r.nt; i++)
        ps_direct_close(r.t[i].mem);
    free(r.t);
    return PS_OK;
}

/* The sampler: see include/pysnap/sampler.h and doc/sampling.md. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pysnap/capture.h"
#include "pysnap/clock.h"
#include "pysnap/error.h"
#include "pysnap/report.h"
#include "pysnap/sampler.h"
#include "pysnap/snapshot.h"
#include "pysnap/walker.h"
#include "freeze.h"
#include "memsrc_direct.h"
#include "proc.h"
#include "pyfind.h"
#include "stackwalk.h"

#define MAX_PROCESSES 256
#define RELIST_NS 1000000000LL /* --children: look for new descendants once a second */
#define FREEZE_TIMEOUT_MS 1000

struct proc {
    pid_t pid;
    int state;                /* enum ps_sampler_pstate */
    int error;
    char cmdline[512];
    struct ps_pyfind py;
    struct ps_walk_target wt;
    struct ps_direct *mem;
    struct ps_stackwalk *sw;
    clockid_t cpu_clock;      /* the process's CPU clock (all its threads), precise */
    int has_cpu_clock;
    int64_t last_cpu;         /* its value at the last round, -1 before the first */
    int ran;                  /* this round: the process used CPU since the last one */
    int no_gil;               /* its last round found no GIL (free-threaded build) */
    uint64_t thread_samples, torn;
};

struct ps_sampler {
    struct ps_sampler_opts o;
    struct proc *p;
    size_t np;
    struct ps_walk_limits lim;
    struct ps_sampler_stats st;
    int64_t start, last_list;
    double cpu0;              /* this thread's CPU time at open */
    int first_err;
};

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ps_sampler_opts_default(struct ps_sampler_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_frames = 1024;
}

/* Find the runtime of PID and open a direct source; a failure marks the process skipped. */
static int open_process(struct ps_sampler *s, pid_t pid)
{
    for (size_t i = 0; i < s->np; i++)
        if (s->p[i].pid == pid)
            return PS_OK;
    if (s->np >= MAX_PROCESSES)
        return PS_OK;
    struct proc *np = realloc(s->p, (s->np + 1) * sizeof *np);
    if (!np)
        return PS_NOMEM;
    s->p = np;
    struct proc *t = &s->p[s->np++];
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
        memcpy(t->wt.roots, t->py.roots, sizeof t->wt.roots); /* 3.6: interp_head, the GIL's statics */
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
    if (!rc && !s->o.native)
        rc = ps_stackwalk_open(pid, t->mem, &t->wt, s->o.max_frames, s->o.lines, &t->sw);
    t->has_cpu_clock = clock_getcpuclockid(pid, &t->cpu_clock) == 0;
    t->last_cpu = -1;
    if (rc) {
        t->state = PS_SAMPLER_SKIPPED;
        t->error = rc;
        ps_direct_close(t->mem);
        t->mem = NULL;
        if (!s->first_err)
            s->first_err = rc;
        return PS_OK;
    }
    s->st.processes++;
    return PS_OK;
}

static int list_processes(struct ps_sampler *s)
{
    if (!s->o.children)
        return open_process(s, s->o.pid);
    pid_t *pids;
    size_t n;
    int rc = ps_proc_descendants(s->o.pid, &pids, &n, MAX_PROCESSES);
    if (rc)
        return rc == PS_NOPROC && s->np ? PS_OK : rc;
    for (size_t i = 0; i < n && !rc; i++)
        rc = open_process(s, pids[i]);
    free(pids);
    return rc;
}

int ps_sampler_open(const struct ps_sampler_opts *o, struct ps_sampler **out)
{
    *out = NULL;
    if (o->pid <= 0)
        return ps_error_set(PS_USAGE, "sampling needs a pid");
    if (kill(o->pid, 0) != 0 && errno == ESRCH)
        return ps_error_set(PS_NOPROC, "no process %d", (int)o->pid);
    struct ps_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return PS_NOMEM;
    s->o = *o;
    if (s->o.native)
        s->o.blocking = 1;
    if (!s->o.max_frames)
        s->o.max_frames = 1024;
    ps_walk_limits_default(&s->lim);
    s->lim.locals = 0; /* stacks only */
    s->lim.max_frames = s->o.max_frames;
    int rc = list_processes(s);
    if (!rc && !s->st.processes)
        rc = s->first_err ? s->first_err : ps_error_set(PS_NOTPYTHON, "no Python process to sample");
    if (rc) {
        ps_sampler_close(s);
        return rc;
    }
    ps_error_clear();
    s->start = s->last_list = ps_mono_ns();
    s->cpu0 = thread_cpu();
    *out = s;
    return PS_OK;
}

static int gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Report one thread; returns the sink's verdict. */
static int report(struct ps_sampler *s, struct proc *p, const struct ps_thread *th, uint32_t tid,
                  char os_state, int holds_gil, const struct ps_sampler_sink *sink)
{
    struct ps_sample_thread st = {p->pid, p->cmdline, tid, os_state, (uint8_t)holds_gil,
                                  (uint8_t)!th, th, s->st.ticks, (uint8_t)p->no_gil};
    if (th) {
        s->st.thread_samples++;
        p->thread_samples++;
    } else {
        s->st.torn++;
        p->torn++;
    }
    return sink && sink->thread ? sink->thread(sink->arg, &st) : 0;
}

static void add_pause(struct ps_sampler *s, uint64_t ns)
{
    double pause = (double)ns / 1e9;
    s->st.pauses++;
    s->st.pause_total += pause;
    if (pause > s->st.pause_max)
        s->st.pause_max = pause;
}

/* A process sample's GIL (ps_stackwalk_gil's values), before any thread is reported. */
static void count_gil(struct ps_sampler *s, struct proc *p, int gil)
{
    p->no_gil = gil < 0;
    if (gil < 0)
        s->st.no_gil++;
    else if (gil > 0)
        s->st.gil_held++;
}

/* --native: one capture in memory per sample, analyzed at once, so that native frames are
 * unwound and merged with the Python ones exactly as `dump --native` shows them. */
static int sample_native(struct ps_sampler *s, struct proc *p, const struct ps_sampler_sink *sink)
{
    struct ps_capture_opts co;
    ps_capture_opts_default(&co);
    co.pid = p->pid;
    co.compress_level = 0;
    co.limits = s->lim;
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
    if (!rc) {
        add_pause(s, cr.pause_ns);
        rc = ps_snapshot_open_buffer(buf, len, &snap);
    }
    if (!rc && (rc = ps_report_build(snap, &rep)) != PS_OK)
        ps_report_free(&rep);
    s->st.process_samples++;
    if (rc) {
        if (snap)
            ps_snapshot_close(snap);
        if (gone(p->pid))
            p->state = PS_SAMPLER_GONE;
        else
            return report(s, p, NULL, 0, 0, 0, sink);
        return 0;
    }
    size_t nogil = 0;
    int held = 0;
    for (size_t i = 0; i < rep.model.ninterps; i++) {
        nogil += rep.model.interps[i].free_threaded != 0;
        for (size_t j = 0; j < rep.model.interps[i].nthreads; j++)
            held |= rep.model.interps[i].threads[j].holds_gil;
    }
    count_gil(s, p, rep.model.ninterps && nogil == rep.model.ninterps ? -1 : held);
    int stop = 0;
    for (size_t i = 0; i < rep.model.ninterps && !stop; i++)
        for (size_t j = 0; j < rep.model.interps[i].nthreads && !stop; j++) {
            const struct ps_thread *th = &rep.model.interps[i].threads[j];
            int keep = s->o.gil_only ? th->holds_gil
                       : s->o.idle   ? 1
                                     : th->holds_gil || th->state == PS_TSTATE_RUNNING;
            if (keep && th->nframes)
                stop = report(s, p, th, th->tid, th->os_state, th->holds_gil, sink);
        }
    ps_report_free(&rep);
    ps_snapshot_close(snap);
    return stop;
}

/* Which threads are reported: the decision takes only the thread's state, whether it holds
 * the GIL and whether its process used CPU since the last round, all read before its stack
 * (never what the stack holds). State R is running or waiting for a CPU: a thread that waits
 * (a loaded machine) stays where it was, and every round of the wait would count the same
 * frame again; the process's CPU clock tells such rounds apart (doc/sampling.md). */
struct want_ctx {
    const struct ps_sampler *s;
    const struct proc *p;
};

static int wanted(void *arg, char os_state, int holds_gil)
{
    const struct want_ctx *c = arg;
    if (c->s->o.gil_only)
        return holds_gil;
    return c->s->o.idle || ((holds_gil || os_state == 'R') && c->p->ran);
}

/* Did P use CPU since the last round? (Its CPU clock moved; the kernel adds the running
 * threads' pending time on read.) Unknown: yes. */
static void read_ran(struct proc *p)
{
    struct timespec ts;
    p->ran = 1;
    if (!p->has_cpu_clock || clock_gettime(p->cpu_clock, &ts) != 0)
        return;
    int64_t cpu = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    p->ran = cpu != p->last_cpu;
    p->last_cpu = cpu;
}

/* --blocking: the states as they were just before the freeze (frozen, every thread is 't'). */
static char frozen_state(void *arg, uint32_t tid)
{
    const struct ps_freeze *fz = arg;
    for (size_t i = 0; i < fz->ntasks; i++)
        if ((uint32_t)fz->tasks[i].tid == tid)
            return fz->tasks[i].state;
    return 0;
}

static int sample_python(struct ps_sampler *s, struct proc *p, const struct ps_sampler_sink *sink)
{
    struct ps_freeze fz;
    sigset_t set, old;
    int frozen = 0;
    read_ran(p);
    if (s->o.blocking) {
        /* As in capture: signals wait until the process runs again. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, &old);
        if (ps_freeze(p->pid, FREEZE_TIMEOUT_MS, &fz) != PS_OK) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            if (gone(p->pid)) {
                p->state = PS_SAMPLER_GONE;
                return 0;
            }
            s->st.process_samples++;
            return report(s, p, NULL, 0, 0, 0, sink);
        }
        frozen = 1;
    }
    const struct ps_sw_thread *th;
    size_t n;
    struct want_ctx wc = {s, p};
    int rc = ps_stackwalk_round(p->sw, wanted, &wc, frozen ? frozen_state : NULL, &fz, &th, &n);
    if (frozen) {
        ps_thaw(&fz);
        add_pause(s, ps_freeze_pause_ns(&fz));
        ps_freeze_free(&fz);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    if (rc == PS_NOMEM)
        return report(s, p, NULL, 0, 0, 0, sink);
    if (rc) {
        if (gone(p->pid)) {
            p->state = PS_SAMPLER_GONE;
            return 0;
        }
        s->st.process_samples++;
        return report(s, p, NULL, 0, 0, 0, sink); /* torn at the thread list */
    }
    s->st.process_samples++;
    count_gil(s, p, ps_stackwalk_gil(p->sw));
    int stop = 0;
    for (size_t i = 0; i < n && !stop; i++) {
        if (!th[i].torn && !th[i].th.nframes)
            continue; /* a thread with no Python frame (starting, ending) */
        stop = report(s, p, th[i].torn ? NULL : &th[i].th, th[i].tid, th[i].os_state,
                      th[i].holds_gil, sink);
    }
    return stop;
}

int ps_sampler_tick(struct ps_sampler *s, const struct ps_sampler_sink *sink)
{
    int64_t now = ps_mono_ns();
    if (s->o.children && now - s->last_list >= RELIST_NS) {
        list_processes(s); /* new workers (a respawn) join; errors just skip them */
        s->last_list = now;
    }
    int alive = 0, stop = 0;
    for (size_t i = 0; i < s->np && !stop; i++) {
        struct proc *p = &s->p[i];
        if (p->state != PS_SAMPLER_SAMPLING)
            continue;
        stop = s->o.native ? sample_native(s, p, sink) : sample_python(s, p, sink);
        alive += p->state == PS_SAMPLER_SAMPLING;
    }
    s->st.ticks++;
    s->st.elapsed = (double)(ps_mono_ns() - s->start) / 1e9;
    if (stop)
        return PS_INTERRUPTED;
    return alive || s->o.children ? PS_OK : PS_NOPROC;
}

/* xorshift64*: the moment of each round inside its slot, independent of the target. */
static uint64_t next_random(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

/* Sleep until DUE (CLOCK_MONOTONIC), or until *stop. While *WATCH, the run's input descriptor
 * is polled meanwhile and its callback called as soon as it is readable. 1: the input asked
 * to stop. */
static int wait_until(int64_t due, const struct ps_sampler_run *run, int *watch,
                      struct ps_sampler *s, const struct ps_sampler_sink *sink)
{
    struct timespec ts = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
    for (;;) {
        if (run->stop && *run->stop)
            return 0;
        int64_t left = due - ps_mono_ns();
        if (left <= 0)
            return 0;
        if (!*watch) {
            /* EINTR (Ctrl-C) returns at once: *stop is checked next. */
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == 0)
                return 0;
            continue;
        }
        struct pollfd pfd = {run->input_fd, POLLIN, 0};
        struct timespec rel = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL)};
        int n = ppoll(&pfd, 1, &rel, NULL);
        if (n <= 0) /* timed out, or a signal: both checked above */
            continue;
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
            *watch = 0; /* the terminal went away: plain sleeps from now on */
            continue;
        }
        if ((pfd.revents & POLLIN) && run->input(sink ? sink->arg : NULL, s))
            return 1;
    }
}

int ps_sampler_run(struct ps_sampler *s, const struct ps_sampler_run *run,
                   const struct ps_sampler_sink *sink)
{
    if (!run->rate)
        return ps_error_set(PS_USAGE, "sampling needs a rate");
    int64_t period = 1000000000LL / run->rate;
    int64_t start = ps_mono_ns();
    int64_t end = run->duration > 0 ? start + (int64_t)(run->duration * 1e9) : INT64_MAX;
    uint64_t rnd = (uint64_t)start | 1;
    if (!s->st.ticks)
        s->start = start;
    /* On a loaded machine a sleeper's wake-up waits behind every runnable task: rounds would
     * come late and be skipped. Where allowed (CAP_SYS_NICE), sampling runs at the lowest
     * real-time priority; a round is tens of microseconds, and the kernel's real-time
     * throttling bounds it anyway. Elsewhere it runs as it is (late rounds are counted).
     * Not with --native, whose rounds are whole captures (tens of milliseconds each). */
    struct sched_param old_param, rt = {.sched_priority = 1};
    int old_policy = sched_getscheduler(0);
    sched_getparam(0, &old_param);
    int boosted = !s->o.native && old_policy == SCHED_OTHER &&
                  sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
    int watch = run->input != NULL && run->input_fd >= 0;
    for (int64_t k = 0;; k++) {
        int64_t slot = start + k * period;
        if (slot >= end)
            break;
        int64_t due = slot + (int64_t)(next_random(&rnd) % (uint64_t)period);
        if (wait_until(due, run, &watch, s, sink))
            break;
        if (run->stop && *run->stop) {
            s->st.interrupted = 1;
            break;
        }
        int64_t now = ps_mono_ns();
        if (now >= end)
            break;
        if (now >= slot + period) { /* fell behind (a slow round, a busy machine): skip */
            int64_t behind = (now - slot) / period;
            s->st.late += (uint64_t)behind;
            k += behind - 1;
            continue;
        }
        int rc = ps_sampler_tick(s, sink);
        if (rc == PS_INTERRUPTED)
            break;
        if (rc)
            break; /* the process is gone: the caller writes what there is */
        if (sink && sink->round && sink->round(sink->arg, s))
            break;
    }
    if (boosted)
        sched_setscheduler(0, old_policy, &old_param);
    s->st.elapsed = (double)(ps_mono_ns() - s->start) / 1e9;
    return PS_OK;
}

void ps_sampler_stats(const struct ps_sampler *s, struct ps_sampler_stats *st)
{
    *st = s->st;
    st->cpu = thread_cpu() - s->cpu0;
}

size_t ps_sampler_nprocesses(const struct ps_sampler *s)
{
    return s->np;
}

int ps_sampler_process_at(const struct ps_sampler *s, size_t i, struct ps_sampler_process *out)
{
    if (i >= s->np)
        return PS_LIMIT;
    const struct proc *p = &s->p[i];
    *out = (struct ps_sampler_process){p->pid, p->cmdline, p->state, p->error,
                                       p->thread_samples, p->torn, p->no_gil};
    return PS_OK;
}

void ps_sampler_close(struct ps_sampler *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->np; i++) {
        ps_stackwalk_close(s->p[i].sw);
        ps_direct_close(s->p[i].mem);
    }
    free(s->p);
    free(s);
}

/* top: where a live process spends its time, refreshed every DELAY seconds: full screen on a
 * terminal (top_screen.c), a plain block per refresh otherwise. The sampling is the sampler's
 * (sampler.h, as record's); the numbers are include/pysnap/topview.h's. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysnap/clock.h"
#include "pysnap/error.h"
#include "pysnap/procinfo.h"
#include "pysnap/sampler.h"
#include "pysnap/topview.h"
#include "cli.h"
#include "top_screen.h"

void usage_top(FILE *out)
{
    fprintf(out,
            "Usage: pysnap top --pid PID [options]\n\n"
            "A live view of the functions PID's threads run, like top: sampled RATE times a\n"
            "second without stopping the process (unless --blocking), refreshed every DELAY\n"
            "seconds. On a terminal: full screen, keys below. Otherwise (a pipe, a log): one\n"
            "plain block per refresh, ending with \"(end)\".\n\n"
            "  -p, --pid PID        process to watch (required)\n"
            "      --children       also every descendant (gunicorn workers): one header line\n"
            "                       per process with its share of the samples\n"
            "  -r, --rate HZ        samples per second (default 100, at most 10000)\n"
            "  -d, --delay SECS     refresh interval (default 1; 0.5 works)\n"
            "  -n, --iterations N   stop after N refreshes\n"
            "      --gil            only the thread holding the GIL\n"
            "      --idle           also threads that are not on CPU (sleeping, waiting)\n"
            "      --native         native frames too (each sample is a capture: implies\n"
            "                       --blocking, slower)\n"
            "      --blocking       freeze the process for each sample (exact, slower)\n"
            "  -h, --help           this help\n\n"
            "Keys: 1-6 sort by %%Own, %%Total, OwnTime, TotalTime, function, file; l per line /\n"
            "per function; t thread view (each thread's stack and state); w last window / since\n"
            "start; p or space pause; r reset; arrows scroll; ? help; q quit (Ctrl-C too).\n"
            "%%Own: the function is the innermost frame; %%Total: anywhere on the stack; 100%% is\n"
            "one thread there in every round. OwnTime, TotalTime: seconds since start.\n\n%s",
            exit_codes_help);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct top_run {
    struct ps_top *top;
    struct ps_sampler *view;  /* every thread, once per refresh: the thread view and counts */
    struct top_view v;
    struct top_header h;
    int tty;
    int64_t delay_ns, next_refresh;
    unsigned long iterations, done; /* -n; 0: for ever */
    pid_t *named;             /* processes given a name (command line, Python version) */
    size_t nnamed;
    pid_t *gil;               /* processes whose GIL was held in this round */
    size_t ngil, gil_cap;
    int exited, quit, err;
};

/* The header's thread state: holding the GIL runs; else the kernel's letter. */
static uint8_t state_of(int holds_gil, char os_state)
{
    if (holds_gil || os_state == 'R')
        return PS_TSTATE_RUNNING;
    return os_state == 'S' || os_state == 'D' ? PS_TSTATE_SLEEPING : PS_TSTATE_UNKNOWN;
}

static int add(struct top_run *r, const struct ps_sample_thread *st, int counted)
{
    if (st->torn || !st->thread)
        return 0; /* counted by the sampler (torn); never shown */
    struct ps_thread th = *st->thread;
    /* The thread view's round reads each state (once per refresh); a sample keeps what the
     * sampler read, which is nothing for the GIL holder (it runs). */
    th.os_state = st->os_state || counted ? st->os_state
                                          : ps_procinfo_thread_state(st->pid, (pid_t)st->tid);
    th.holds_gil = st->holds_gil;
    th.state = state_of(th.holds_gil, th.os_state);
    if (ps_top_add_thread(r->top, (uint64_t)st->pid, &th, counted, ps_mono_ns()) != PS_OK) {
        r->err = PS_NOMEM;
        return 1;
    }
    return 0;
}

static int on_sample(void *arg, const struct ps_sample_thread *st)
{
    struct top_run *r = arg;
    if (st->holds_gil) {
        size_t i = 0;
        while (i < r->ngil && r->gil[i] != st->pid)
            i++;
        if (i == r->ngil) {
            if (r->ngil == r->gil_cap) {
                size_t cap = r->gil_cap ? r->gil_cap * 2 : 16;
                pid_t *g = realloc(r->gil, cap * sizeof *g);
                if (!g) {
                    r->err = PS_NOMEM;
                    return 1;
                }
                r->gil = g;
                r->gil_cap = cap;
            }
            r->gil[r->ngil++] = st->pid;
        }
    }
    return add(r, st, 1);
}

static int on_view_thread(void *arg, const struct ps_sample_thread *st)
{
    return add(arg, st, 0);
}

static int named(const struct top_run *r, pid_t pid)
{
    for (size_t i = 0; i < r->nnamed; i++)
        if (r->named[i] == pid)
            return 1;
    return 0;
}

/* New processes get their name; exited ones are marked; each sampled one ends its round. */
static void sync_processes(struct top_run *r, struct ps_sampler *s)
{
    size_t n = ps_sampler_nprocesses(s);
    for (size_t i = 0; i < n; i++) {
        struct ps_sampler_process p;
        if (ps_sampler_process_at(s, i, &p) != PS_OK || p.state == PS_SAMPLER_SKIPPED)
            continue;
        if (!named(r, p.pid)) {
            pid_t *nn = realloc(r->named, (r->nnamed + 1) * sizeof *nn);
            if (!nn)
                continue;
            r->named = nn;
            r->named[r->nnamed++] = p.pid;
            char py[32];
            ps_procinfo_python(p.pid, py, sizeof py);
            ps_top_set_process(r->top, (uint64_t)p.pid, p.cmdline, py);
        }
        if (p.state == PS_SAMPLER_GONE) {
            ps_top_process_exited(r->top, (uint64_t)p.pid);
            continue;
        }
        int held = 0;
        for (size_t k = 0; k < r->ngil && !held; k++)
            held = r->gil[k] == p.pid;
        ps_top_set_no_gil(r->top, (uint64_t)p.pid, p.no_gil);
        ps_top_end_round(r->top, (uint64_t)p.pid, held);
    }
    r->ngil = 0;
}

static void draw(struct top_run *r)
{
    if (r->tty)
        top_screen_draw(r->top, &r->v, &r->h);
}

/* A refresh: every thread once (the thread view, the thread counts), close the window, show. */
static void refresh_view(struct top_run *r, struct ps_sampler *s, int64_t now)
{
    if (r->view) {
        struct ps_sampler_sink sink = {on_view_thread, NULL, r};
        ps_sampler_tick(r->view, &sink);
    }
    size_t n = ps_sampler_nprocesses(s);
    for (size_t i = 0; i < n; i++) {
        struct ps_sampler_process p;
        if (ps_sampler_process_at(s, i, &p) == PS_OK && p.state == PS_SAMPLER_SAMPLING) {
            unsigned on_cpu, total;
            ps_procinfo_threads(p.pid, &on_cpu, &total);
            ps_top_set_threads(r->top, (uint64_t)p.pid, on_cpu, total);
        }
    }
    ps_top_roll(r->top, now, 2 * r->delay_ns + 1000000000LL);
    if (r->tty) {
        draw(r);
    } else {
        ps_top_write_text(stdout, r->top, r->v.group, r->v.span, r->v.sort, 0, ps_wall_ns());
        if (fflush(stdout) != 0 || ferror(stdout)) /* the reader went away (| head) */
            r->err = ps_error_set(PS_IO, "cannot write the output");
    }
    r->done++;
}

/* The keys typed so far; 1: quit. */
static int keys(struct top_run *r, int64_t now)
{
    if (!r->tty)
        return 0;
    switch (top_screen_keys(&r->v)) {
    case TOP_QUIT: r->quit = 1; return 1;
    case TOP_RESET: ps_top_reset(r->top, now); draw(r); break;
    case TOP_REDRAW: draw(r); break;
    case TOP_NONE: break;
    }
    return 0;
}

/* A key arrived between rounds: acted on at once, not at the next round (at --rate 1 that
 * would be up to a second later). */
static int on_input(void *arg, struct ps_sampler *s)
{
    (void)s;
    return keys(arg, ps_mono_ns());
}

static int on_round(void *arg, struct ps_sampler *s)
{
    struct top_run *r = arg;
    struct ps_sampler_stats st;
    ps_sampler_stats(s, &st);
    sync_processes(r, s);
    ps_top_tick(r->top);
    ps_top_counters(r->top, st.late, st.torn);
    if (stop_flag || r->err)
        return 1;
    int64_t now = ps_mono_ns();
    if (keys(r, now))
        return 1;
    if (now < r->next_refresh)
        return 0;
    r->next_refresh += r->delay_ns;
    if (r->next_refresh < now)
        r->next_refresh = now + r->delay_ns;
    if (ps_procinfo_exited(r->h.root_pid)) {
        r->exited = 1;
        return 1;
    }
    if (r->v.paused)
        return 0;
    refresh_view(r, s, now);
    return r->err || (r->iterations && r->done >= r->iterations);
}

static void restore(void)
{
    top_screen_close();
}

/* top's own options: how often to refresh, how many times. */
struct top_args {
    double delay;
    unsigned long iterations;
};

static int top_arg(int c, const char *arg, void *ctx)
{
    struct top_args *a = ctx;
    if (c == 'd') {
        if (parse_seconds(arg, 3600, &a->delay) || a->delay < 0.1)
            return usage_error("--delay takes seconds (0.1 to 3600), not '%s'", arg);
    } else if (parse_uint(arg, 1000000000, &a->iterations) || a->iterations == 0) { /* 'n' */
        return usage_error("-n takes a number of refreshes, not '%s'", arg);
    }
    return 0;
}

int cmd_top(int argc, char **argv)
{
    static const struct option own[] = {{"delay", required_argument, NULL, 'd'},
                                         {"iterations", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    struct top_args a = {1.0, 0};
    const struct sampler_cmd cmd = {"top", "d:n:", own, top_arg, usage_top, &a};
    struct ps_sampler_opts o;
    unsigned rate;
    int rc = parse_sampler_args(&cmd, argc, argv, &o, &rate);
    if (rc >= 0)
        return rc;
    double delay = a.delay;
    unsigned long iterations = a.iterations;
    o.lines = 1; /* the per-line table, the hottest line of a function, the thread view */

    struct ps_sampler *s;
    rc = ps_sampler_open(&o, &s);
    if (rc)
        return fail(rc);
    struct top_run r;
    memset(&r, 0, sizeof r);
    /* The thread view shows every thread, on CPU or not: a second sampler, ticked once per
     * refresh, that never stops the process. */
    struct ps_sampler_opts vo = o;
    vo.idle = 1;
    vo.gil_only = vo.blocking = vo.native = 0;
    if (ps_sampler_open(&vo, &r.view) != PS_OK)
        r.view = NULL;
    ps_error_clear();
    r.delay_ns = (int64_t)(delay * 1e9);
    r.iterations = iterations;
    r.v.sort = PS_TOP_SORT_OWN;
    r.h.root_pid = o.pid;
    r.h.children = o.children;
    r.h.rate = rate;
    r.h.mode = o.native ? "--native" : o.blocking ? "--blocking" : o.gil_only ? "--gil"
               : o.idle ? "--idle" : "";
    rc = ps_top_new(ps_mono_ns(), &r.top);
    if (rc) {
        ps_sampler_close(s);
        ps_sampler_close(r.view);
        return fail(rc);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the sampler's sleep returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the SSH session dropped */
    signal(SIGPIPE, SIG_IGN);     /* a closed pipe is a write error: we stop cleanly */

    r.tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    if (r.tty) {
        atexit(restore);
        if (top_screen_open() != 0) {
            r.tty = 0; /* an unknown TERM: the plain blocks still work */
            fprintf(stderr, "pysnap: cannot use this terminal (TERM=%s): plain output\n",
                    getenv("TERM") ? getenv("TERM") : "");
        }
    }
    r.next_refresh = ps_mono_ns() + r.delay_ns;
    sync_processes(&r, s);
    draw(&r);
    struct ps_sampler_run run = {rate, 0, &stop_flag, r.tty ? on_input : NULL, STDIN_FILENO};
    struct ps_sampler_sink sink = {on_sample, on_round, &r};
    rc = ps_sampler_run(s, &run, &sink);
    top_screen_close();
    if (!rc)
        rc = r.err;
    if (!rc && !r.quit && !stop_flag && !r.exited) { /* the run ended by itself: gone? */
        struct ps_sampler_process p;
        r.exited = ps_procinfo_exited(o.pid) ||
                   (ps_sampler_process_at(s, 0, &p) == PS_OK && p.state == PS_SAMPLER_GONE);
    }
    if (!rc && !r.tty && ferror(stdout))
        rc = ps_error_set(PS_IO, "cannot write the output");
    ps_top_free(r.top);
    ps_sampler_close(r.view);
    ps_sampler_close(s);
    free(r.named);
    free(r.gil);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (rc)
        return fail(rc);
    if (r.exited) {
        printf("pysnap top: process %d exited\n", (int)o.pid);
        fflush(stdout);
    }
    return 0;
}

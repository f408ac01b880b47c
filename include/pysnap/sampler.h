/* The sampler: the Python stacks of a process (and optionally its descendants), one round at a
 * time, for `pysnap record`, `pysnap top` and anything else that samples. doc/sampling.md
 * says how it works and why its profiles are unbiased.
 *
 * Use:
 *     struct ps_sampler_opts o;  ps_sampler_opts_default(&o);  o.pid = pid;  ...
 *     struct ps_sampler *s;      rc = ps_sampler_open(&o, &s);
 *     either own the timing:     for (...) { ps_sampler_tick(s, &sink); sleep...; }
 *     or let the sampler do it:  ps_sampler_run(s, &run, &sink);  (absolute deadlines, late
 *                                rounds counted, sink.round called after each round)
 *     ps_sampler_stats(s, &st);  ps_sampler_process_at(s, i, &pinfo);  ps_sampler_close(s);
 *
 * A round (one tick) samples every live process once. For each thread it reports (sink.thread)
 * the thread's pid, tid, state, GIL, and either its stack (a ps_thread of model.h: frames
 * innermost first, valid only during the call) or TORN: the walk of that thread failed
 * validation (the interpreter moved under it), and no frame of it is reported. Which threads
 * are reported: see the options. A thread is never reported half.
 *
 * Default mode: the target is not stopped; one walk per thread per round, validated
 * structurally; whether a sample is kept never depends on what the thread runs (a torn sample
 * is counted and reported as torn). With BLOCKING each process is frozen for its walk (exact);
 * the time it stood still is in the stats. NATIVE: each round is an in-memory capture,
 * analyzed with native frames merged (implies BLOCKING).
 *
 * Stable API: additions only; callers: snap/record.c, top.
 * Since the first version: opts.lines (line numbers; --native frames always have them);
 * sample_thread.no_gil, process.no_gil, stats.gil_held and stats.no_gil (the GIL share, and
 * a free-threaded target that has none);
 * run.input (a descriptor watched while waiting for the next round). */
#ifndef PYSNAP_SAMPLER_H
#define PYSNAP_SAMPLER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "pysnap/model.h"

struct ps_sampler;

struct ps_sampler_opts {
    pid_t pid;
    int children;  /* also every descendant (re-listed once a second) */
    int blocking;  /* freeze each process for each of its samples */
    int native;    /* native frames too (a capture per sample; implies blocking) */
    int gil_only;  /* report only the thread holding the GIL */
    int idle;      /* also threads neither on CPU nor holding the GIL (default: only those) */
    unsigned max_frames; /* Python frames per thread (a deeper stack is torn), default 1024 */
    int lines;     /* resolve each frame's line (else line is -1; a profile needs none) */
};

void ps_sampler_opts_default(struct ps_sampler_opts *o);

/* One thread of one process in one round. */
struct ps_sample_thread {
    pid_t pid;
    const char *cmdline;   /* of the process, "" when unknown */
    uint32_t tid;          /* 0 when the whole process walk was torn */
    char os_state;         /* /proc state letter (R, S, D, ...), 0 when not read */
    uint8_t holds_gil;
    uint8_t torn;          /* no stack: the walk failed validation */
    const struct ps_thread *thread; /* NULL when torn; frames innermost first */
    uint64_t round;        /* index of the round (tick) */
    uint8_t no_gil;        /* the process has no GIL (a free-threaded build running without
                              one): holds_gil is 0 because there is nothing to hold */
};

struct ps_sampler_sink {
    /* Each reported thread; non-zero stops the run (ps_sampler_run returns PS_OK). */
    int (*thread)(void *arg, const struct ps_sample_thread *t);
    /* After each round of ps_sampler_run; non-zero stops it. May be NULL. */
    int (*round)(void *arg, struct ps_sampler *s);
    void *arg;
};

/* Find the runtime of opts->pid (and, with children, of its descendants) and prepare.
 * PS_OK when at least one process can be sampled, else the first error (PS_NOPROC,
 * PS_NOTPYTHON, PS_PERM, ...). */
int ps_sampler_open(const struct ps_sampler_opts *o, struct ps_sampler **out);

/* One round, now. Returns PS_OK, PS_INTERRUPTED when the sink asked to stop, or PS_NOPROC
 * once no process is left to sample (without children: the process exited). */
int ps_sampler_tick(struct ps_sampler *s, const struct ps_sampler_sink *sink);

struct ps_sampler_run {
    unsigned rate;      /* rounds per second */
    double duration;    /* seconds; <= 0: until *stop or the processes are gone */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to end early; may be NULL */
    /* May be NULL. Between rounds the run also waits on INPUT_FD (a terminal): when it is
     * readable INPUT is called at once (with the sink's arg), whatever the rate; non-zero
     * stops the run. On a hang-up or error of the descriptor it is no longer watched. */
    int (*input)(void *arg, struct ps_sampler *s);
    int input_fd;
};

/* Rounds at RATE for DURATION: round k is due at a random moment (uniform, independent of
 * the target) inside its slot [start + k/rate, start + (k+1)/rate); a round that could not
 * start inside its slot is skipped and counted late, never burst. */
int ps_sampler_run(struct ps_sampler *s, const struct ps_sampler_run *run,
                   const struct ps_sampler_sink *sink);

struct ps_sampler_stats {
    uint64_t ticks;           /* rounds done */
    uint64_t late;            /* rounds skipped: sampling fell behind the rate */
    uint64_t process_samples; /* process walks done (torn or not) */
    uint64_t thread_samples;  /* threads reported with a stack */
    uint64_t torn;            /* threads (or whole processes, tid 0) reported torn */
    uint64_t processes;       /* Python processes sampled so far */
    uint64_t pauses;          /* blocking: samples that froze a process */
    double pause_total;       /* blocking: seconds the processes stood still, summed */
    double pause_max;         /* blocking: the longest pause, seconds */
    double elapsed;           /* seconds since the first round */
    double cpu;               /* seconds of CPU this thread used since the sampler opened */
    int interrupted;          /* ps_sampler_run ended by *stop */
    uint64_t gil_held;        /* process samples (not torn) in which a thread held the GIL,
                                 whichever threads were reported */
    uint64_t no_gil;          /* process samples of a process that has no GIL (free-threaded) */
};

void ps_sampler_stats(const struct ps_sampler *s, struct ps_sampler_stats *st);

/* The processes met so far (--children: one per descendant found). */
enum ps_sampler_pstate { PS_SAMPLER_SAMPLING = 0, PS_SAMPLER_SKIPPED, PS_SAMPLER_GONE };
struct ps_sampler_process {
    pid_t pid;
    const char *cmdline;
    int state;                /* enum ps_sampler_pstate */
    int error;                /* SKIPPED: why (PS_NOTPYTHON, PS_PERM, ...) */
    uint64_t thread_samples;  /* threads reported with a stack */
    uint64_t torn;
    int no_gil;               /* its last round found no GIL (free-threaded build) */
};
size_t ps_sampler_nprocesses(const struct ps_sampler *s);
int ps_sampler_process_at(const struct ps_sampler *s, size_t i, struct ps_sampler_process *out);

void ps_sampler_close(struct ps_sampler *s);

#endif

/* What `pysnap top` shows, without a terminal: thread samples in, sorted rows out.
 *
 * The sampler (sampler.h) hands over each round's threads; this keeps, per function and per
 * line, how often it was the innermost frame (own) and anywhere on the stack (total, a
 * recursive function once per sample), over the last window (the last refresh interval) and
 * since start (or the last reset); per process its share of the samples and how often a
 * thread held its GIL; per thread its latest stack and state (the thread view). The screen
 * (programs/top_screen.c) and the plain-text blocks (ps_top_write_text) only read it.
 *
 * Percentages are of sampling rounds: 100% is one thread there in every round (one core, for
 * a thread on CPU), as top's %CPU; several threads or processes can add up to more.
 * OwnTime and TotalTime are always since start: samples times the seconds a round stood for.
 * Times are passed in (nanoseconds, any monotonic clock), so the whole of it is testable. */
#ifndef PYSNAP_TOPVIEW_H
#define PYSNAP_TOPVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pysnap/model.h"
#include "pysnap/textsafe.h"

struct ps_top;

enum ps_top_group { PS_TOP_FUNCTION, PS_TOP_LINE };
enum ps_top_span { PS_TOP_WINDOW, PS_TOP_SINCE_START };
/* Sort orders, by column; each sorts descending except FUNCTION and FILE (A-Z). */
enum ps_top_sort {
    PS_TOP_SORT_OWN, PS_TOP_SORT_TOTAL, PS_TOP_SORT_OWNTIME, PS_TOP_SORT_TOTALTIME,
    PS_TOP_SORT_FUNCTION, PS_TOP_SORT_FILE, PS_TOP_NSORT
};
extern const char *const ps_top_sort_names[PS_TOP_NSORT]; /* "%Own", "%Total", ... */

int ps_top_new(int64_t now_ns, struct ps_top **out);
void ps_top_free(struct ps_top *t);

/* Name a sampled process (again when it changes). CMDLINE and PYTHON (a version, "3.11.2")
 * may be NULL. Returns PS_OK or PS_NOMEM. */
int ps_top_set_process(struct ps_top *t, uint64_t pid, const char *cmdline, const char *python);
/* The process is gone: kept in the header (marked exited), its threads leave the view. */
void ps_top_process_exited(struct ps_top *t, uint64_t pid);

/* One thread of PID as walked in this round. COUNTED: its stack is a sample (on CPU, or
 * whatever the options count); otherwise it only updates the thread view (an idle thread's
 * stack and state). A torn walk is never passed: it is counted by the sampler (torn).
 * Frames innermost first, as the walker gives them. Returns PS_OK or PS_NOMEM. */
int ps_top_add_thread(struct ps_top *t, uint64_t pid, const struct ps_thread *th, int counted,
                      int64_t now_ns);
/* PID's round is over: GIL_HELD says whether one of its threads held the GIL (torn or not). */
void ps_top_end_round(struct ps_top *t, uint64_t pid, int gil_held);
/* PID has no GIL (a free-threaded build running without one): its GIL share is not a
 * figure (ps_top_process.no_gil), and the totals' GIL share leaves its rounds out. */
void ps_top_set_no_gil(struct ps_top *t, uint64_t pid, int no_gil);
/* PID's threads right now: ON_CPU of NTHREADS are running (the header's threads column). */
void ps_top_set_threads(struct ps_top *t, uint64_t pid, unsigned on_cpu, unsigned nthreads);
/* One sampling round over every process is done. */
void ps_top_tick(struct ps_top *t);
/* The sampler's own running totals: rounds skipped because it fell behind, and thread
 * samples dropped as torn. The window shows what they grew by. */
void ps_top_counters(struct ps_top *t, uint64_t late, uint64_t torn);

/* Close the window at NOW: what the window span shows until the next roll. Threads not seen
 * for STALE_NS leave the thread view. */
void ps_top_roll(struct ps_top *t, int64_t now_ns, int64_t stale_ns);
/* Start counting again from zero (since start = since now). Stacks and names stay. */
void ps_top_reset(struct ps_top *t, int64_t now_ns);

/* Rows, sorted. A row appears once it has a sample in either span. */
struct ps_top_row {
    const char *function, *file; /* FILE NULL when unknown */
    int line;                    /* line mode: the line; function mode: its hottest line in
                                    the span (most total samples), -1 unknown */
    uint8_t kind;                /* PS_FRAME_PYTHON or PS_FRAME_NATIVE */
    uint64_t own, total;         /* samples in the span */
    double own_pct, total_pct;   /* of the span's rounds */
    double own_time, total_time; /* seconds, since start */
};
/* Valid until the next call that changes T. Returns PS_OK or PS_NOMEM. */
int ps_top_rows(struct ps_top *t, enum ps_top_group group, enum ps_top_span span,
                enum ps_top_sort sort, const struct ps_top_row **rows, size_t *n);

struct ps_top_totals {
    uint64_t rounds, samples, torn, late;
    double seconds;     /* the span's length */
    double rate;        /* rounds per second reached */
    double gil_pct;     /* of process rounds, one of its threads held the GIL (processes
                           with a GIL only) */
    int no_gil;         /* no process sampled has a GIL: gil_pct means nothing */
    unsigned on_cpu, threads; /* latest round, all processes: threads running / threads */
};
void ps_top_totals(const struct ps_top *t, enum ps_top_span span, struct ps_top_totals *out);

struct ps_top_process {
    uint64_t pid;
    const char *cmdline, *python; /* may be NULL */
    int exited;
    uint64_t samples;             /* in the span */
    double share_pct;             /* of the span's samples, over every process */
    double gil_pct;               /* of its rounds in the span */
    int no_gil;                   /* it has no GIL (free-threaded): gil_pct means nothing */
    unsigned on_cpu, threads;     /* latest round */
};
size_t ps_top_nprocesses(const struct ps_top *t);
/* In the order they were named. */
void ps_top_process_at(const struct ps_top *t, size_t i, enum ps_top_span span,
                       struct ps_top_process *out);

/* The thread view: each thread's latest stack and state. */
struct ps_top_frame {
    const char *function, *file;
    int line;
    uint8_t kind;
};
struct ps_top_thread {
    uint64_t pid;
    uint32_t tid;
    const char *name;            /* may be NULL */
    uint8_t state;               /* enum ps_thread_state */
    char os_state;               /* /proc letter, 0 unknown */
    uint8_t holds_gil;
    uint64_t samples;            /* counted, in the span */
    size_t nframes;              /* innermost first */
    const struct ps_top_frame *frames;
};
size_t ps_top_nthreads(const struct ps_top *t);
/* Sorted by process, then by samples in the span (busiest first), then tid; I = 0 sorts, so
 * walk from 0 up. The frames are valid until the next call. */
void ps_top_thread_at(struct ps_top *t, size_t i, enum ps_top_span span,
                      struct ps_top_thread *out);

/* One plain-text block (the refresh of a non-terminal `top`), MAX_ROWS rows at most (0: all):
 *
 *   pysnap top 2026-12-05T12:00:01Z window 1.00 s, since start 12.0 s
 *   rounds 100 rate 99.8/s samples 98 torn 0 late 0 gil 98.0% threads 1/3
 *   process 124 share 98.0% gil 97.0% threads 1/1 python 3.11.2 cmd gunicorn: worker
 * (`gil none` where there is no GIL: a free-threaded build)
 *     %Own  %Total  OwnTime  TotalTime  Function (file:line)
 *    98.0%   98.0%    9.80s      9.80s  cpu_intensive_task (/app/webapp.py:41)
 *   (end)
 *
 * Every string from the target is escaped (ps_term_escape). Returns PS_OK, PS_NOMEM or PS_IO. */
int ps_top_write_text(FILE *out, struct ps_top *t, enum ps_top_group group,
                      enum ps_top_span span, enum ps_top_sort sort, size_t max_rows,
                      int64_t wall_ns);

#endif

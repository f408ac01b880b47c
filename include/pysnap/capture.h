/* Capturing a snapshot of a live CPython process (Linux). */
#ifndef PYSNAP_CAPTURE_H
#define PYSNAP_CAPTURE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pysnap/walker.h"

struct ps_capture_opts {
    pid_t pid;
    const char *output;       /* file name, or NULL for pysnap-PID-HOST-TIME.snap here */
    int force;                /* replace an existing output file */
    unsigned timeout_ms;      /* bound on waiting for the threads to stop */
    int compress_level;       /* zstd level; 0 writes a plain ELF core */
    unsigned hold_ms;         /* test only: stay frozen this long after the walk
                                 (PYSNAP_TEST_HOLD_MS) */
    unsigned hold_before_walk_ms; /* test only: frozen, before the walk
                                     (PYSNAP_TEST_HOLD_BEFORE_WALK_MS) */
    int no_prewalk;           /* test only (PYSNAP_TEST_NO_PREWALK=1): no walk before the
                                 first freeze, so every freeze of the plan loop is taken */
    size_t max_stack;         /* native stack bytes copied per thread; 0: no native stacks */
    const char *capture_id;   /* shared by the snapshots of one --children/--count capture,
                                 stored as the "capture_id" string; NULL: none */
    int capture_index;        /* which round of a --count capture (stored when capture_id) */
    struct ps_walk_limits limits;
};

void ps_capture_opts_default(struct ps_capture_opts *o);

/* Freezes one capture may take: each but the last only copies; the last walks frozen. */
#define PS_CAPTURE_MAX_FREEZES 3

struct ps_capture_result {
    char path[PATH_MAX];
    size_t file_size;
    size_t nthreads;
    uint64_t pause_ns;
    uint64_t capture_ns;
    size_t bytes_captured, ranges;
    int partial;
    /* Where the last freeze's pause went: interrupting and collecting the stops (with each
     * thread's registers), listing the native stacks to copy (stacks), the one copy of the
     * planned memory and the stacks (copy), the walk (0 unless the last freeze had to walk
     * frozen), detaching (resume); the pages kept, the read calls made while frozen,
     * and the number of freezes (1 unless the memory changed under the plan); the pages of
     * the last freeze's plan and the bytes of them it copied. */
    uint64_t stop_ns, copy_ns, walk_ns, stacks_ns, resume_ns;
    size_t pages_read, read_calls, plan_pages, plan_bytes;
    unsigned freezes;
};

/* Freeze, walk, thaw, write. The target is resumed on every path, including errors and
 * SIGINT/SIGTERM/SIGHUP (blocked while frozen, acted on after the thaw); the file appears
 * under its final name only when complete (mode 0600). */
int ps_capture(const struct ps_capture_opts *o, struct ps_capture_result *r);

/* The same capture, kept in memory: *BUF (malloc'd, the encoded snapshot, compressed when
 * o->compress_level) and *LEN; o->output and o->force are ignored and r->path is "". Hand
 * the buffer to ps_snapshot_open_buffer() to analyze it. */
int ps_capture_to_memory(const struct ps_capture_opts *o, unsigned char **buf, size_t *len,
                         struct ps_capture_result *r);

/* A fresh capture id: "HOST-YYYYmmddTHHMMSSZ-XXXXXXXX" (X random hex), at most SIZE-1. */
void ps_capture_id_new(char *buf, size_t size);

/* The file name capture picks when -o is not given: pysnap-PID-HOST-TIME.snap. */
int ps_capture_default_name(pid_t pid, int64_t realtime_ns, char *out, size_t size);

/* ROOT and every descendant of it (children, grandchildren, ...), ROOT first, then in
 * breadth-first order, from the parent pid in every /proc/N/stat; at most MAX pids (the
 * scan of /proc is bounded too). *PIDS is malloc'd. PS_NOPROC when ROOT does not exist. */
int ps_proc_descendants(pid_t root, pid_t **pids, size_t *n, size_t max);

/* /proc/PID/cmdline with spaces between the arguments ("" when gone). */
void ps_proc_cmdline(pid_t pid, char *buf, size_t size);

#endif

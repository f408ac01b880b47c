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
    unsigned hold_ms;         /* test only: stay frozen this long (PYSNAP_TEST_HOLD_MS) */
    size_t max_stack;         /* native stack bytes copied per thread; 0: no native stacks */
    struct ps_walk_limits limits;
};

void ps_capture_opts_default(struct ps_capture_opts *o);

struct ps_capture_result {
    char path[PATH_MAX];
    size_t file_size;
    size_t nthreads;
    uint64_t pause_ns;
    uint64_t capture_ns;
    size_t bytes_captured, ranges;
    int partial;
    /* Where the pause went: interrupting and collecting the stops, then the walk. */
    uint64_t stop_ns, walk_ns;
    size_t pages_read;
};

/* Freeze, walk, thaw, write. The target is resumed on every path, including errors and
 * SIGINT/SIGTERM/SIGHUP (blocked while frozen, acted on after the thaw); the file appears
 * under its final name only when complete (mode 0600). */
int ps_capture(const struct ps_capture_opts *o, struct ps_capture_result *r);

#endif

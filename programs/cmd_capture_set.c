/* capture --children / --count: a set of snapshots that belong together. Processes are
 * captured one after another (never two frozen at once); a process that is not Python (a
 * shell wrapper, a helper binary) or that exits meanwhile is reported and skipped. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/textsafe.h"
#include "cli.h"

#define MAX_PROCESSES 1024

int parse_seconds(const char *s, double max, double *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !(v > 0) || v > max || isnan(v))
        return -1;
    *out = v;
    return 0;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return PS_OK;
        return ps_error_set(PS_USAGE, "%s exists and is not a directory", dir);
    }
    return ps_error_set(PS_IO, "cannot create directory %s: %s", dir, strerror(errno));
}

static void sleep_until(const struct timespec *t)
{
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
        ;
}

int capture_set(struct ps_capture_opts *o, int children, unsigned long count, double interval,
                const char *dir, int verbose)
{
    int rc = make_dir(dir);
    if (rc)
        return fail(rc);
    char id[128];
    ps_capture_id_new(id, sizeof id);
    o->capture_id = id;
    printf("capture id %s\n", id);
    pid_t root = o->pid;
    size_t captured = 0, skipped = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (unsigned long round = 0; round < count; round++) {
        if (round) { /* rounds start INTERVAL apart, however long a round took */
            double s = floor(interval);
            next.tv_sec += (time_t)s;
            next.tv_nsec += (long)((interval - s) * 1e9);
            if (next.tv_nsec >= 1000000000L) {
                next.tv_sec++;
                next.tv_nsec -= 1000000000L;
            }
            sleep_until(&next);
        }
        pid_t *pids = NULL;
        size_t npids = 1;
        if (children) {
            ps_error_clear();
            if ((rc = ps_proc_descendants(root, &pids, &npids, MAX_PROCESSES)))
                return fail(rc);
        } else {
            pids = malloc(sizeof *pids);
            if (!pids)
                return fail(PS_NOMEM);
            pids[0] = root;
        }
        for (size_t i = 0; i < npids; i++) {
            char cmd[256];
            ps_proc_cmdline(pids[i], cmd, sizeof cmd);
            o->pid = pids[i];
            o->capture_index = (int)round;
            char path[4096];
            snprintf(path, sizeof path, "%s/pysnap-%d-%s-%lu.snap", dir, (int)pids[i], id, round);
            o->output = path;
            struct ps_capture_result r;
            ps_error_clear();
            rc = ps_capture(o, &r);
            if (rc) {
                /* The tree may hold non-Python processes, and workers come and go. */
                const char *why = ps_error_detail();
                ps_tprintf(stderr, "pysnap: skipped %d (%s): %s\n", (int)pids[i],
                        cmd[0] ? cmd : "?", why ? why : ps_strerror(rc));
                skipped++;
                if (rc == PS_PERM || rc == PS_NOMEM || rc == PS_IO)
                    break; /* would fail the same way for every other process */
                continue;
            }
            captured++;
            printf("%s: pid %d, %zu bytes, %zu threads, pause %.3f ms%s\n", r.path, (int)pids[i],
                   r.file_size, r.nthreads, (double)r.pause_ns / 1e6,
                   r.partial ? " (PARTIAL: some threads did not stop)" : "");
            if (verbose)
                fprintf(stderr, "pysnap: %d: %s\n", (int)pids[i], cmd);
            fflush(stdout);
        }
        free(pids);
        if (rc == PS_PERM || rc == PS_NOMEM || rc == PS_IO)
            return fail(rc);
    }
    if (!captured) {
        fprintf(stderr, "pysnap: no process of %d could be captured (%zu skipped)\n", (int)root,
                skipped);
        return 1;
    }
    return 0;
}

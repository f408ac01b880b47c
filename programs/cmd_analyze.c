/* analyze with several snapshots (files, or directories of .snap files): one report per
 * process, or --summary over all of them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pysnap/error.h"
#include "pysnap/html.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"
#include "pysnap/summary.h"
#include "pysnap/textsafe.h"
#include "cli.h"

#define MAX_SNAPSHOTS 4096

struct loaded {
    char *path;
    struct ps_snapshot *snap;
    struct ps_report report;
    int built;
};

int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int name_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .snap files of DIR, sorted by name, appended to *V. */
static int list_dir(const char *dir, char ***v, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return ps_error_set(PS_IO, "cannot read directory %s", dir);
    struct dirent *de;
    size_t start = *n;
    int rc = PS_OK;
    while ((de = readdir(d)) && !rc) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".snap") || de->d_name[0] == '.')
            continue;
        if (*n >= MAX_SNAPSHOTS) {
            rc = ps_error_set(PS_USAGE, "more than %d snapshots", MAX_SNAPSHOTS);
            break;
        }
        char **nv = realloc(*v, (*n + 1) * sizeof *nv);
        size_t plen = strlen(dir) + len + 2;
        char *p = nv ? malloc(plen) : NULL;
        if (!p) {
            if (nv)
                *v = nv;
            rc = PS_NOMEM;
            break;
        }
        snprintf(p, plen, "%s/%s", dir, de->d_name);
        *v = nv;
        (*v)[(*n)++] = p;
    }
    closedir(d);
    if (!rc && *n == start)
        rc = ps_error_set(PS_USAGE, "no .snap file in %s", dir);
    if (!rc && *n - start > 1)
        qsort(*v + start, *n - start, sizeof **v, name_order);
    return rc;
}

/* Snapshots of a directory in capture order: round, then pid. */
static int capture_order(const void *a, const void *b)
{
    const struct loaded *x = a, *y = b;
    const struct ps_snap_meta *mx = ps_snapshot_meta(x->snap), *my = ps_snapshot_meta(y->snap);
    const char *ix = ps_snap_string(mx, "capture_index"), *iy = ps_snap_string(my, "capture_index");
    long rx = ix ? atol(ix) : 0, ry = iy ? atol(iy) : 0;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    if (mx->meta.captured_at_ns != my->meta.captured_at_ns && mx->meta.pid == my->meta.pid)
        return mx->meta.captured_at_ns < my->meta.captured_at_ns ? -1 : 1;
    return mx->meta.pid < my->meta.pid ? -1 : mx->meta.pid > my->meta.pid;
}

static int open_one(const char *path, struct loaded *l)
{
    ps_error_clear();
    int rc = ps_snapshot_open(path, &l->snap);
    if (rc) {
        const char *d = ps_error_detail();
        fprintf(stderr, "pysnap: %s: %s\n", path, d ? d : ps_strerror(rc));
        return rc;
    }
    rc = ps_report_build(l->snap, &l->report);
    l->built = 1;
    if (rc) {
        const char *d = ps_error_detail();
        fprintf(stderr, "pysnap: %s: %s\n", path, d ? d : ps_strerror(rc));
    }
    return rc;
}

static void close_one(struct loaded *l)
{
    if (l->built)
        ps_report_free(&l->report);
    if (l->snap)
        ps_snapshot_close(l->snap);
}

int analyze_set(char **paths, int npaths, enum analyze_format format, int locals, int native,
                int summary, const char *baseline)
{
    int json = format == OUT_JSON;
    char **files = NULL;
    size_t nfiles = 0;
    int rc = PS_OK, any_dir = 0;
    for (int i = 0; i < npaths && !rc; i++) {
        if (is_directory(paths[i])) {
            any_dir = 1;
            rc = list_dir(paths[i], &files, &nfiles);
            continue;
        }
        char **nv = realloc(files, (nfiles + 1) * sizeof *nv);
        if (!nv || !(nv[nfiles] = strdup(paths[i]))) {
            if (nv)
                files = nv;
            rc = PS_NOMEM;
            break;
        }
        files = nv;
        nfiles++;
    }
    struct loaded *l = rc ? NULL : calloc(nfiles, sizeof *l);
    if (!rc && !l)
        rc = PS_NOMEM;
    int first_err = 0;
    for (size_t i = 0; l && i < nfiles; i++) {
        l[i].path = files[i];
        int r = open_one(files[i], &l[i]);
        if (r && !first_err)
            first_err = r;
    }
    struct loaded base = {0};
    if (!rc && !first_err && baseline) {
        int r = open_one(baseline, &base);
        if (r)
            first_err = r;
    }
    /* Every bad file was named already; the worst decides the exit code. */
    int bad_files = !rc && first_err;
    if (bad_files)
        goto out;
    if (!rc && any_dir && nfiles > 1)
        qsort(l, nfiles, sizeof *l, capture_order);
    if (!rc && (summary || format == OUT_HTML)) {
        const struct ps_report **reps = malloc((nfiles ? nfiles : 1) * sizeof *reps);
        struct ps_summary s;
        if (!reps)
            rc = PS_NOMEM;
        for (size_t i = 0; reps && i < nfiles; i++)
            reps[i] = &l[i].report;
        if (!rc)
            rc = ps_summary_build(reps, nfiles, baseline ? &base.report : NULL, &s);
        struct ps_render_opts ro = {.locals = locals, .native = native};
        if (!rc) {
            rc = format == OUT_HTML ? ps_html_write_reports(stdout, reps, nfiles, &s, &ro)
                 : json             ? ps_summary_render_json(stdout, &s)
                                    : ps_summary_render_text(stdout, &s, 12);
            ps_summary_free(&s);
        }
        free(reps);
    } else if (!rc) {
        struct ps_render_opts ro = {.locals = locals, .native = native};
        if (json)
            fputs("{\"snapshots\": [\n", stdout);
        for (size_t i = 0; i < nfiles && !rc; i++) {
            const struct ps_snap_meta *m = ps_snapshot_meta(l[i].snap);
            if (json) {
                fputs(i ? ",\n" : "", stdout);
                rc = ps_render_json.render(stdout, &l[i].report, &ro);
                continue;
            }
            const char *cmd = ps_snap_string(m, "cmdline");
            if (i)
                putchar('\n');
            ps_tprintf(stdout, "======== %s: process %llu%s%s\n", l[i].path,
                   (unsigned long long)m->meta.pid, cmd && *cmd ? ": " : "",
                   cmd && *cmd ? cmd : "");
            rc = ps_render_text.render(stdout, &l[i].report, &ro);
        }
        if (json && !rc)
            fputs("]}\n", stdout);
    }
    if (!rc && fflush(stdout) != 0)
        rc = ps_error_set(PS_IO, "cannot write the output");
out:
    for (size_t i = 0; l && i < nfiles; i++)
        close_one(&l[i]);
    close_one(&base);
    free(l);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    if (bad_files)
        return ps_error_exit_class(first_err);
    return rc ? fail(rc) : 0;
}

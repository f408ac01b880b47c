/* pysnap analyze: one snapshot (or core), or several (files, or directories of .snap files):
 * one report per process, or --summary over all of them. Analysis only: no capture code, so
 * the same file builds into the WebAssembly command (wasm/). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

void usage_analyze(FILE *out)
{
    fprintf(out,
            "Usage: pysnap analyze FILE|DIR [FILE...] [options]\n"
            "       pysnap analyze CORE [--exe PYTHON] [--sysroot DIR] [options]\n\n"
            "Prints every thread of the snapshot with its Python stack (most recent call last).\n"
            "Needs nothing but the file: not the target's binaries, not its Python. Several\n"
            "files (or a directory of .snap files) are reported one process after another.\n"
            "An ordinary ELF core of a Python process (gdb's gcore, a kernel core dump) is read\n"
            "too, one at a time: what the core left out of its mapped files (code, read-only\n"
            "data: type names, Py_Version) is read from those files, which must be the same\n"
            "builds; no native frames.\n\n"
            "      --exe PYTHON     core: the executable the process ran (when it is not at the\n"
            "                       path the core names, or the core was made elsewhere)\n"
            "      --sysroot DIR    core: the other mapped files (libpython, libc) are looked up\n"
            "                       under DIR (a copy of the target's root file system)\n"
            "      --summary        over several snapshots: per thread, the frames that stayed\n"
            "                       the same (stuck); the hottest functions of the threads on CPU\n"
            "      --baseline FILE  with --summary or --html: a quiet-time snapshot; thread\n"
            "                       stacks it already had are set aside\n"
            "  -j, --json           print the JSON document (see README: JSON schema)\n"
            "      --html           print one self-contained HTML page (doc/html-report.md):\n"
            "                       the threads as cards, locals folded, a filter, the tasks;\n"
            "                       several snapshots: the summary and a flame graph too\n"
            "  -o, --output FILE    write to FILE (mode 0600) instead of standard output; the\n"
            "                       format follows its name: *.html, *.json, else text\n"
            "  -l, --locals         text: print each frame's local variables\n"
            "      --no-locals      json: leave local variables out\n"
            "  -t, --tasks          text: every asyncio task with its coroutine chain, what it\n"
            "                       awaits, which tasks wait for which, and deadlocks\n"
            "  -n, --native         text: native and Python frames merged, with the system call\n"
            "                       and the instruction each thread is at (json always has them)\n"
            "  -h, --help           this help\n\n%s",
            exit_codes_help);
}

enum { OPT_SUMMARY = 256, OPT_BASELINE, OPT_EXE, OPT_SYSROOT, OPT_HTML };

/* analyze -o FILE: standard output becomes a new file next to FILE (0600: a report holds the
 * target's locals), renamed to FILE once all is written (output_done): a failed analysis
 * leaves FILE as it was. TMP receives the new file's name. */
static int output_to(const char *path, char *tmp, size_t size)
{
    int fd = -1;
    if ((size_t)snprintf(tmp, size, "%s.XXXXXX", path) < size)
        fd = mkstemp(tmp);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        fprintf(stderr, "pysnap: cannot create %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return 1;
    }
    close(fd);
    return 0;
}

static int output_done(const char *path, const char *tmp, int exit_code)
{
    if (exit_code == 0 && rename(tmp, path) != 0) {
        fprintf(stderr, "pysnap: cannot write %s: %s\n", path, strerror(errno));
        exit_code = 1;
    }
    if (exit_code)
        unlink(tmp);
    return exit_code;
}

/* One snapshot (or ELF core) to standard output; RENDERER NULL: the HTML page. */
static int analyze_one(const char *path, const char *exe, const char *sysroot,
                       const struct ps_renderer *renderer, const struct ps_render_opts *ro)
{
    struct ps_snapshot *snap;
    int rc;
    if (exe || sysroot)
        rc = ps_core_open(path, exe, sysroot, &snap);
    else if (ps_is_plain_core(path))
        rc = ps_core_open(path, NULL, NULL, &snap); /* gcore's or the kernel's */
    else
        rc = ps_snapshot_open(path, &snap);
    if (rc)
        return fail(rc);
    struct ps_report report;
    rc = ps_report_build(snap, &report);
    if (!rc) {
        const struct ps_report *one = &report;
        rc = renderer ? renderer->render(stdout, &report, ro)
                      : ps_html_write_reports(stdout, &one, 1, NULL, ro);
        if (fflush(stdout) != 0 && !rc)
            rc = ps_error_set(PS_IO, "cannot write the output");
    }
    ps_report_free(&report);
    ps_snapshot_close(snap);
    return rc ? fail(rc) : 0;
}

int cmd_analyze(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"locals", no_argument, NULL, 'l'},
                                         {"no-locals", no_argument, NULL, 'L'},
                                         {"native", no_argument, NULL, 'n'},
                                         {"tasks", no_argument, NULL, 't'},
                                         {"html", no_argument, NULL, OPT_HTML},
                                         {"output", required_argument, NULL, 'o'},
                                         {"summary", no_argument, NULL, OPT_SUMMARY},
                                         {"baseline", required_argument, NULL, OPT_BASELINE},
                                         {"exe", required_argument, NULL, OPT_EXE},
                                         {"sysroot", required_argument, NULL, OPT_SYSROOT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const struct ps_renderer *renderer = &ps_render_text;
    int c, show_locals = -1, native = 0, summary = 0, html = 0, chosen = 0;
    const char *baseline = NULL, *exe = NULL, *sysroot = NULL, *output = NULL;
    opterr = 0;
    int tasks = 0;
    while ((c = getopt_long(argc, argv, "jlntho:", opts, NULL)) != -1) {
        switch (c) {
        case 'j': renderer = &ps_render_json; html = 0; chosen = 1; break;
        case OPT_HTML: html = chosen = 1; break;
        case 'o': output = optarg; break;
        case 'l': show_locals = 1; break;
        case 'L': show_locals = 0; break;
        case 'n': native = 1; break;
        case 't': tasks = 1; break;
        case OPT_SUMMARY: summary = 1; break;
        case OPT_BASELINE: baseline = optarg; break;
        case OPT_EXE: exe = optarg; break;
        case OPT_SYSROOT: sysroot = optarg; break;
        case 'h': usage_analyze(stdout); return 0;
        default:
            return usage_error("analyze: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("%s", "analyze needs a snapshot FILE (or several, or a DIR)");
    if (tasks && (summary || optind != argc - 1 || is_directory(argv[optind])))
        return usage_error("%s", "--tasks shows the tasks of one snapshot FILE (JSON always has them)");
    if (output && !chosen) { /* the format follows the name, as record -o does */
        html = ends_with(output, ".html") || ends_with(output, ".htm");
        if (ends_with(output, ".json"))
            renderer = &ps_render_json;
    }
    if (baseline && !summary && !html)
        return usage_error("%s", "--baseline goes with --summary (or an HTML report)");
    if (html && tasks)
        return usage_error("%s", "--tasks is for text: the HTML report always shows the tasks");
    if (show_locals < 0) /* JSON and HTML carry locals unless told not to; text on request */
        show_locals = html || renderer == &ps_render_json;
    const char *path = argv[optind];
    if ((exe || sysroot) && (summary || optind != argc - 1 || is_directory(path)))
        return usage_error("%s", "--exe and --sysroot go with one core FILE");
    if (exe && !is_regular_file(exe))
        return usage_error("--exe %s: not a readable file", exe);
    if (sysroot && !is_directory(sysroot))
        return usage_error("--sysroot %s: not a directory", sysroot);
    if ((exe || sysroot) && !ps_is_plain_core(path))
        return usage_error("%s is not an ELF core (a .snap needs no --exe, --sysroot)", path);
    struct ps_render_opts ro = {.locals = show_locals, .native = native, .tasks = tasks};
    char tmp[PATH_MAX];
    if (output && output_to(output, tmp, sizeof tmp))
        return 1;
    int r;
    if (summary || baseline || optind != argc - 1 || is_directory(path))
        r = analyze_set(argv + optind, argc - optind,
                        html ? OUT_HTML : renderer == &ps_render_json ? OUT_JSON : OUT_TEXT,
                        show_locals, native, summary, baseline);
    else
        r = analyze_one(path, exe, sysroot, html ? NULL : renderer, &ro);
    return output ? output_done(output, tmp, r) : r;
}

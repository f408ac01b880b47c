/* pysnap: the command line. Thin: parse, call the library, print, map errors to exit codes.
 *   0  success
 *   1  the target or the snapshot could not be captured or analyzed
 *   2  usage error, or the input is not a (valid) snapshot */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/html.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"
#include "cli.h"

#ifndef PYSNAP_VERSION
#define PYSNAP_VERSION "0.0.0"
#endif
#ifndef PYSNAP_BUILD_KIND
#define PYSNAP_BUILD_KIND "dynamic"
#endif

const char exit_codes_help[] =
    "Exit codes: 0 success; 1 the target or snapshot could not be captured or analyzed\n"
    "(no such process, not a Python process, permission denied, unsupported version);\n"
    "2 usage error, or the file is not a valid snapshot (truncated, corrupt, foreign).\n";

static void usage_main(FILE *out)
{
    fprintf(out,
            "pysnap %s: see inside a running Python process without a debugger\n\n"
            "Usage:\n"
            "  pysnap capture --pid PID [-o FILE]   freeze PID for milliseconds, write a snapshot\n"
            "  pysnap analyze FILE|DIR... [--json] [--summary] [-o REPORT.html]\n"
            "                                       print every thread's Python stack, offline\n"
            "                                       (or write a self-contained HTML report)\n"
            "  pysnap capture --pid PID --children [--count K --interval S] -o DIR\n"
            "                                       the process tree, K rounds, into DIR\n"
            "  pysnap dump --pid PID [--json]       capture in memory and print, no file\n"
            "  pysnap record --pid PID -o OUT.svg   sampling profile: flame graph, speedscope\n"
            "                                       (.speedscope.json) or folded stacks (.txt)\n"
            "  pysnap top --pid PID [--children]    live view of the hottest functions, like top\n"
            "  pysnap help | --help | --version\n"
            "  pysnap COMMAND --help                options of one command\n\n%s",
            PYSNAP_VERSION, exit_codes_help);
}

static void usage_capture(FILE *out)
{
    fprintf(out,
            "Usage: pysnap capture --pid PID [options]\n\n"
            "Freezes every thread of PID (ptrace, never SIGSTOP), copies the interpreter state\n"
            "it needs, resumes the process, then writes the snapshot (mode 0600).\n\n"
            "  -p, --pid PID        process to capture (required)\n"
            "  -o, --output FILE    snapshot file (default pysnap-PID-HOST-TIME.snap here)\n"
            "  -f, --force          replace FILE if it exists\n"
            "      --timeout MS     wait at most MS for the threads to stop (default 2000)\n"
            "      --max-frames N   Python frames kept per thread (default 4096)\n"
            "      --no-locals      leave local variables (and the HTTP request each thread\n"
            "                       serves) out of the snapshot entirely\n"
            "      --redact REGEX   never read values of locals/attributes/dict keys whose\n"
            "                       name matches (case-insensitive; default: password|passwd|\n"
            "                       secret|token|api_?key|apikey|authorization|cookie|session|\n"
            "                       private_?key|credential)\n"
            "      --no-redact      read every value\n"
            "      --max-str N      characters kept of a str/bytes value (default 256)\n"
            "      --max-items N    items kept per container (default 32)\n"
            "      --max-depth N    container nesting kept (default 3)\n"
            "      --max-locals N   locals kept per frame (default 64)\n"
            "      --budget BYTES   target memory read for values, whole capture (default 4 MiB)\n"
            "      --max-stack SIZE native stack copied per thread, for native frames (default\n"
            "                       256K; K and M suffixes; 0: no native stacks)\n"
            "      --no-compress    write a plain ELF core (readable by gdb, eu-stack)\n"
            "      --children       also every descendant process (gunicorn workers,\n"
            "                       multiprocessing children), one after another; -o is then a\n"
            "                       directory (created 0700), non-Python processes are skipped\n"
            "      --count K        K snapshots of each process (default 1); -o is a directory\n"
            "      --interval SECS  between the rounds of --count (default 1; 0.5 works)\n"
            "  -v, --verbose        say where the pause went (stderr)\n"
            "  -h, --help           this help\n\n%s",
            exit_codes_help);
}

static void usage_analyze(FILE *out)
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

int fail(int code)
{
    const char *detail = ps_error_detail();
    fprintf(stderr, "pysnap: %s\n", detail ? detail : ps_strerror(code));
    return ps_error_exit_class(code);
}

int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pysnap: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'pysnap help')\n");
    va_end(ap);
    return 2;
}

int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

int parse_pid_arg(const char *arg, pid_t *pid)
{
    unsigned long v;
    if (parse_uint(arg, INT_MAX, &v) || v == 0)
        return usage_error("--pid takes a process id, not '%s'", arg);
    *pid = (pid_t)v;
    return 0;
}

/* A byte count with an optional K or M suffix (binary units), at most MAX. */
static int parse_size(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long unit = !*end                              ? 1
                              : (*end == 'K' || *end == 'k') && !end[1] ? 1ull << 10
                              : (*end == 'M' || *end == 'm') && !end[1] ? 1ull << 20
                                                                        : 0;
    if (!unit || v > max / unit)
        return -1;
    *out = (unsigned long)(v * unit);
    return 0;
}

enum {
    OPT_TIMEOUT = 256, OPT_MAX_FRAMES, OPT_NO_COMPRESS, OPT_NO_LOCALS, OPT_REDACT, OPT_NO_REDACT,
    OPT_MAX_STR, OPT_MAX_ITEMS, OPT_MAX_DEPTH, OPT_MAX_LOCALS, OPT_BUDGET, OPT_MAX_STACK,
    OPT_CHILDREN, OPT_COUNT, OPT_INTERVAL, OPT_SUMMARY, OPT_BASELINE, OPT_EXE, OPT_SYSROOT,
    OPT_HTML
};

int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

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

/* Numeric capture limits: option, field, upper bound, what it counts. */
static const struct {
    int opt;
    size_t offset;
    unsigned long max;
    const char *what;
} limit_opts[] = {
    {OPT_MAX_FRAMES, offsetof(struct ps_walk_limits, max_frames), 1000000, "a frame count"},
    {OPT_MAX_STR, offsetof(struct ps_walk_limits, max_str), 1u << 20, "a character count"},
    {OPT_MAX_ITEMS, offsetof(struct ps_walk_limits, max_items), 1u << 16, "an item count"},
    {OPT_MAX_DEPTH, offsetof(struct ps_walk_limits, max_depth), 16, "a depth"},
    {OPT_MAX_LOCALS, offsetof(struct ps_walk_limits, max_locals), 1u << 16, "a count"},
};

static int cmd_capture(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pid", required_argument, NULL, 'p'},       {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},           {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
        {"no-compress", no_argument, NULL, OPT_NO_COMPRESS},
        {"verbose", no_argument, NULL, 'v'},
        {"no-locals", no_argument, NULL, OPT_NO_LOCALS},
        {"redact", required_argument, NULL, OPT_REDACT},
        {"no-redact", no_argument, NULL, OPT_NO_REDACT},
        {"max-str", required_argument, NULL, OPT_MAX_STR},
        {"max-items", required_argument, NULL, OPT_MAX_ITEMS},
        {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
        {"max-locals", required_argument, NULL, OPT_MAX_LOCALS},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"max-stack", required_argument, NULL, OPT_MAX_STACK},
        {"children", no_argument, NULL, OPT_CHILDREN},
        {"count", required_argument, NULL, OPT_COUNT},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    int children = 0;
    unsigned long count = 1;
    double interval = 1.0;
    struct ps_capture_opts o;
    ps_capture_opts_default(&o);
    unsigned long v;
    int c;
    opterr = 0;
    int verbose = 0;
    while ((c = getopt_long(argc, argv, "+p:o:fvh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_pid_arg(optarg, &o.pid))
                return 2;
            break;
        case 'o': o.output = optarg; break;
        case 'f': o.force = 1; break;
        case OPT_TIMEOUT:
            if (parse_uint(optarg, 600000, &v) || v == 0)
                return usage_error("--timeout takes milliseconds, not '%s'", optarg);
            o.timeout_ms = (unsigned)v;
            break;
        case OPT_NO_COMPRESS: o.compress_level = 0; break;
        case 'v': verbose = 1; break;
        case OPT_NO_LOCALS: o.limits.locals = o.limits.requests = 0; break;
        case OPT_REDACT: {
            regex_t re; /* checked now, not once the target is frozen */
            if (regcomp(&re, optarg, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
                return usage_error("invalid --redact pattern '%s' (a POSIX extended regex)",
                                   optarg);
            regfree(&re);
            o.limits.redact = optarg;
            break;
        }
        case OPT_NO_REDACT: o.limits.redact = ""; break;
        case OPT_BUDGET:
            if (parse_uint(optarg, 1ul << 32, &v) || v == 0)
                return usage_error("--budget takes a byte count, not '%s'", optarg);
            o.limits.budget = v;
            break;
        case OPT_MAX_STACK:
            if (parse_size(optarg, 64ul << 20, &v))
                return usage_error("--max-stack takes a size up to 64M (256K, 1M, 0), not '%s'",
                                   optarg);
            o.max_stack = v;
            break;
        case OPT_CHILDREN: children = 1; break;
        case OPT_COUNT:
            if (parse_uint(optarg, 10000, &count) || count == 0)
                return usage_error("--count takes a number of snapshots, not '%s'", optarg);
            break;
        case OPT_INTERVAL:
            if (parse_seconds(optarg, 86400, &interval))
                return usage_error("--interval takes seconds (0.5, 2), not '%s'", optarg);
            break;
        case 'h': usage_capture(stdout); return 0;
        default: {
            size_t i = 0;
            while (i < sizeof limit_opts / sizeof *limit_opts && limit_opts[i].opt != c)
                i++;
            if (i == sizeof limit_opts / sizeof *limit_opts)
                return usage_error("capture: unknown or incomplete option '%s'",
                                   argv[optind - 1]);
            if (parse_uint(optarg, limit_opts[i].max, &v) || v == 0)
                return usage_error("this option takes %s, not '%s'",
                                   limit_opts[i].what, optarg);
            *(unsigned *)((char *)&o.limits + limit_opts[i].offset) = (unsigned)v;
        }
        }
    }
    if (optind < argc)
        return usage_error("capture: unexpected argument '%s'", argv[optind]);
    if (!o.pid)
        return usage_error("%s", "capture needs --pid PID");
    if (children || count > 1) /* a set of snapshots: -o names their directory */
        return capture_set(&o, children, count, interval, o.output ? o.output : ".", verbose);
    struct ps_capture_result r;
    int rc = ps_capture(&o, &r);
    if (rc)
        return fail(rc);
    printf("%s: %zu bytes, %zu threads, pause %.3f ms%s\n", r.path, r.file_size, r.nthreads,
           (double)r.pause_ns / 1e6, r.partial ? " (PARTIAL: some threads did not stop)" : "");
    if (verbose)
        fprintf(stderr,
                "pysnap: pause %.3f ms = stop %.3f ms + copy %.3f ms + walk %.3f ms + stacks %.3f ms + "
                "resume %.3f ms; %u freeze%s; %zu pages read in %zu calls, %zu bytes in %zu ranges "
                "kept; capture %.3f ms\n",
                (double)r.pause_ns / 1e6, (double)r.stop_ns / 1e6, (double)r.copy_ns / 1e6,
                (double)r.walk_ns / 1e6, (double)r.stacks_ns / 1e6, (double)r.resume_ns / 1e6,
                r.freezes, r.freezes == 1 ? "" : "s", r.pages_read, r.read_calls, r.bytes_captured, r.ranges, (double)r.capture_ns / 1e6);
    return 0;
}

static int cmd_analyze(int argc, char **argv)
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

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "no command given");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && !strcmp(argv[2], "capture"))
            usage_capture(stdout);
        else if (argc > 2 && !strcmp(argv[2], "analyze"))
            usage_analyze(stdout);
        else if (argc > 2 && !strcmp(argv[2], "dump"))
            usage_dump(stdout);
        else if (argc > 2 && !strcmp(argv[2], "record"))
            usage_record(stdout);
        else if (argc > 2 && !strcmp(argv[2], "top"))
            usage_top(stdout);
        else
            usage_main(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        /* static: libelf, libdw, capstone, zstd and libc linked in (meson -Dstatic=true) */
        printf("pysnap %s (commit %s, %s build)\n", PYSNAP_VERSION, ps_build_commit,
               PYSNAP_BUILD_KIND);
        return 0;
    }
    if (!strcmp(cmd, "capture"))
        return cmd_capture(argc - 1, argv + 1);
    if (!strcmp(cmd, "analyze"))
        return cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(cmd, "dump"))
        return cmd_dump(argc - 1, argv + 1);
    if (!strcmp(cmd, "record"))
        return cmd_record(argc - 1, argv + 1);
    if (!strcmp(cmd, "top"))
        return cmd_top(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}

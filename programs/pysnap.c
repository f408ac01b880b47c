/* pysnap: the command line. Thin: parse, call the library, print, map errors to exit codes.
 *   0  success
 *   1  the target or the snapshot could not be captured or analyzed
 *   2  usage error, or the input is not a (valid) snapshot */
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"
#include "cli.h"

#ifndef PYSNAP_VERSION
#define PYSNAP_VERSION "0.0.0"
#endif
#ifndef PYSNAP_BUILD_KIND
#define PYSNAP_BUILD_KIND "dynamic"
#endif

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
            "  pysnap viewer -o FILE.html           write the viewer: a page that analyzes\n"
            "                                       dropped snapshots in any browser\n"
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
    OPT_CHILDREN, OPT_COUNT, OPT_INTERVAL
};

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
                "resume %.3f ms; %u freeze%s; %zu pages read in %zu calls (planned: %zu, %zu KiB "
                "of them copied), %zu bytes in %zu ranges kept; capture %.3f ms\n",
                (double)r.pause_ns / 1e6, (double)r.stop_ns / 1e6, (double)r.copy_ns / 1e6,
                (double)r.walk_ns / 1e6, (double)r.stacks_ns / 1e6, (double)r.resume_ns / 1e6,
                r.freezes, r.freezes == 1 ? "" : "s", r.pages_read, r.read_calls, r.plan_pages,
                r.plan_bytes / 1024, r.bytes_captured, r.ranges, (double)r.capture_ns / 1e6);
    return 0;
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
        else if (argc > 2 && !strcmp(argv[2], "viewer"))
            usage_viewer(stdout);
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
    if (!strcmp(cmd, "viewer"))
        return cmd_viewer(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}

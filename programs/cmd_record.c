/* record: a sampling profile of Python stacks, written as a flame graph SVG, speedscope JSON
 * or folded stacks (chosen by the output's extension). Ctrl-C stops early and writes. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "pysnap/html.h"
#include "pysnap/profile.h"
#include "pysnap/record.h"
#include "cli.h"

void usage_record(FILE *out)
{
    fprintf(out,
            "Usage: pysnap record --pid PID -o FILE [options]\n\n"
            "Samples PID's Python stacks RATE times a second for DURATION seconds without\n"
            "stopping it (unless --blocking) and writes a profile; the format follows FILE:\n"
            "  *.svg                flame graph (self-contained SVG, hover for counts)\n"
            "  *.html               flame graph page (click to zoom, hover for counts)\n"
            "  *.speedscope.json    speedscope (https://www.speedscope.app), one profile per thread\n"
            "  *.txt, *.folded      folded stacks (flamegraph.pl, inferno)\n\n"
            "  -p, --pid PID        process to sample (required)\n"
            "  -o, --output FILE    where to write (required)\n"
            "  -d, --duration SECS  how long (default 10; Ctrl-C stops early and writes)\n"
            "  -r, --rate HZ        samples per second (default 100, at most 10000)\n"
            "      --children       also every descendant process (gunicorn workers)\n"
            "      --blocking       freeze the process for each sample (exact, slower)\n"
            "      --gil            only the thread holding the GIL\n"
            "      --idle           also threads that are not on CPU (sleeping, waiting)\n"
            "      --native         native frames too, merged with the Python ones (each sample\n"
            "                       is a full capture: implies --blocking, slower)\n"
            "  -h, --help           this help\n\n%s",
            exit_codes_help);
}

enum { FMT_SVG = 1, FMT_SPEEDSCOPE, FMT_FOLDED, FMT_HTML };

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends pysnap at once */
}

/* record's own options: where to write, for how long. */
struct record_args {
    const char *output;
    double duration;
};

static int record_arg(int c, const char *arg, void *ctx)
{
    struct record_args *a = ctx;
    if (c == 'o') {
        a->output = arg;
    } else if (parse_seconds(arg, 86400, &a->duration)) { /* 'd' */
        return usage_error("--duration takes seconds, not '%s'", arg);
    }
    return 0;
}

int cmd_record(int argc, char **argv)
{
    static const struct option own[] = {{"output", required_argument, NULL, 'o'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    struct record_args a = {NULL, 10};
    const struct sampler_cmd cmd = {"record", "o:d:", own, record_arg, usage_record, &a};
    struct ps_record_opts o = {0};
    int rc = parse_sampler_args(&cmd, argc, argv, &o.sampler, &o.rate);
    if (rc >= 0)
        return rc;
    o.duration = a.duration;
    const char *output = a.output;
    if (!output)
        return usage_error("%s", "record needs -o FILE (.svg, .html, .speedscope.json, .txt)");
    int fmt = ends_with(output, ".svg")    ? FMT_SVG
              : ends_with(output, ".html") ? FMT_HTML
              : ends_with(output, ".json") ? FMT_SPEEDSCOPE
              : ends_with(output, ".txt") || ends_with(output, ".folded") ? FMT_FOLDED
                                                                         : 0;
    if (!fmt)
        return usage_error("cannot tell the format of '%s': name it .svg, .html, "
                           ".speedscope.json, .txt or .folded", output);
    /* Fail before sampling if the file cannot be created; written (truncated) at the end. */
    int created = 1;
    int fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = open(output, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        fprintf(stderr, "pysnap: cannot create %s: %s\n", output, strerror(errno));
        return 1;
    }
    o.progress = isatty(STDERR_FILENO);
    o.stop = &stop_flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: the sampler's sleep returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct ps_profile *prof;
    rc = ps_profile_new(&prof);
    struct ps_record_stats st;
    if (!rc)
        rc = ps_record(&o, prof, &st);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (rc) {
        close(fd);
        if (created) /* nothing was recorded: leave no empty file behind */
            unlink(output);
        ps_profile_free(prof);
        return fail(rc);
    }
    FILE *out = ftruncate(fd, 0) == 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        fprintf(stderr, "pysnap: cannot write %s: %s\n", output, strerror(errno));
        close(fd);
        ps_profile_free(prof);
        return 1;
    }
    char title[512], gil[160];
    ps_record_gil_text(&st, gil, sizeof gil);
    snprintf(title, sizeof title, "pysnap record --pid %d%s%s: %llu samples in %.1f s at %u Hz%s%s",
             (int)o.sampler.pid, o.sampler.children ? " --children" : "", o.sampler.gil_only ? " --gil" : "",
             (unsigned long long)st.thread_samples, st.elapsed, o.rate, *gil ? "; " : "", gil);
    rc = fmt == FMT_SVG          ? ps_profile_write_svg(out, prof, title)
         : fmt == FMT_HTML       ? ps_html_write_profile(out, prof, title)
         : fmt == FMT_SPEEDSCOPE ? ps_profile_write_speedscope(out, prof, title)
                                 : ps_profile_write_folded(out, prof);
    if (fclose(out) != 0 && !rc)
        rc = PS_IO;
    ps_profile_free(prof);
    if (rc) {
        fprintf(stderr, "pysnap: cannot write %s\n", output);
        return 1;
    }
    printf("%s: %llu samples (%llu rounds of %llu process%s, %llu torn%s, %llu late, %llu "
           "nominal) in %.1f s%s; sampler CPU %.2f s (%.1f%% of a core)\n",
           output, (unsigned long long)st.thread_samples, (unsigned long long)st.ticks,
           (unsigned long long)st.processes, st.processes == 1 ? "" : "es",
           (unsigned long long)st.torn, st.torn_shown ? " shown as <torn>" : "",
           (unsigned long long)st.late, (unsigned long long)st.nominal, st.elapsed,
           st.interrupted ? " (interrupted)" : "", st.cpu,
           st.elapsed > 0 ? 100 * st.cpu / st.elapsed : 0.0);
    if (*gil)
        printf("%s%s\n", gil,
               o.sampler.gil_only && st.no_gil && !st.gil_held ? ": --gil has no thread to record" : "");
    if (st.pauses)
        printf("blocking: the target stood still %.3f ms per sample on average (max %.3f ms, "
               "%llu samples, %.2f%% of its time)\n",
               1e3 * st.pause_total / (double)st.pauses, 1e3 * st.pause_max,
               (unsigned long long)st.pauses,
               st.elapsed > 0 ? 100 * st.pause_total / st.elapsed : 0.0);
    return 0;
}

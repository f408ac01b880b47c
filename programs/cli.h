/* What the pysnap command files share. Two sides, as in the libraries: the analysis side
 * (cli.c, cmd_analyze.c: also built into the WebAssembly command, wasm/) and the capture side
 * (pysnap.c, cmd_capture_set.c, cmd_dump.c, cmd_record.c: Linux only, linked with snap/). */
#ifndef PYSNAP_PROGRAMS_CLI_H
#define PYSNAP_PROGRAMS_CLI_H

#include <stdio.h>
#include <sys/types.h>

/* ---- analysis side ---- */

extern const char exit_codes_help[];
/* build_info.c (made at build time): the git commit of the source, or "unknown". */
extern const char ps_build_commit[];

/* Print the library's detail (or the code's message) as "pysnap: ..."; return the exit code. */
int fail(int code);
/* "pysnap: MESSAGE (see 'pysnap help')"; returns 2. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A decimal number no larger than MAX; -1 when S is not one. */
int parse_uint(const char *s, unsigned long max, unsigned long *out);

/* S ends with SUFFIX, ignoring case (file name extensions: -o report.HTML). */
int ends_with(const char *s, const char *suffix);
/* PATH names a regular file / a directory. */
int is_regular_file(const char *path);
int is_directory(const char *path);

/* cmd_analyze.c: `pysnap analyze ARGS` (ARGV[0] is the command's name); the exit code. */
int cmd_analyze(int argc, char **argv);
void usage_analyze(FILE *out);
/* What analyze writes: text, the JSON document(s), or the HTML page. */
enum analyze_format { OUT_TEXT, OUT_JSON, OUT_HTML };
/* Analyze several snapshots (or a directory of them) together. HTML: one page with the
 * summary, a flame graph and every snapshot (--summary or not). */
int analyze_set(char **paths, int npaths, enum analyze_format format, int locals, int native,
                int summary, const char *baseline);

/* ---- capture side ---- */

struct ps_capture_opts;

/* --pid's argument into *PID; a usage error (exit code 2) when it is not a process id. */
int parse_pid_arg(const char *arg, pid_t *pid);
/* Seconds with an optional fraction ("0.5"), > 0 and at most MAX; -1 when S is not one. */
int parse_seconds(const char *s, double max, double *out);

/* cmd_capture_set.c: --children and/or --count: every process of the tree, COUNT rounds
 * INTERVAL seconds apart, one snapshot each into DIR (created 0700), a shared capture id. */
int capture_set(struct ps_capture_opts *o, int children, unsigned long count, double interval,
                const char *dir, int verbose);

/* sampler_args.c: the options record and top share (-p/--pid, -r/--rate, --children,
 * --blocking, --gil, --idle, --native, -h/--help) into O (ps_sampler_opts_default first) and
 * *RATE (default 100), beside the command's own: SHORTOPTS ("o:d:") and LONGOPTS (NULL-ended,
 * at most 8), each handed to OWN(c, optarg, CTX), which returns 0 or an exit code. Returns -1
 * to go on, else the exit code (0 after --help, 2 on a usage error, with the message). */
struct option;
struct ps_sampler_opts;
struct sampler_cmd {
    const char *name; /* "record": the messages name it */
    const char *shortopts;
    const struct option *longopts;
    int (*own)(int c, const char *arg, void *ctx);
    void (*usage)(FILE *out);
    void *ctx;
};
int parse_sampler_args(const struct sampler_cmd *cmd, int argc, char **argv,
                       struct ps_sampler_opts *o, unsigned *rate);

/* cmd_dump.c, cmd_record.c, cmd_top.c, cmd_viewer.c */
int cmd_dump(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_viewer(int argc, char **argv);
void usage_dump(FILE *out);
void usage_record(FILE *out);
void usage_top(FILE *out);
void usage_viewer(FILE *out);

#endif

/* What the pysnap command files share: error and usage reporting, number parsing, and the
 * commands each file implements. */
#ifndef PYSNAP_PROGRAMS_CLI_H
#define PYSNAP_PROGRAMS_CLI_H

#include <stdio.h>

#include "pysnap/capture.h"

extern const char exit_codes_help[];
/* build_info.c (made at build time): the git commit of the source, or "unknown". */
extern const char ps_build_commit[];

/* Print the library's detail (or the code's message) as "pysnap: ..."; return the exit code. */
int fail(int code);
/* "pysnap: MESSAGE (see 'pysnap help')"; returns 2. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A decimal number no larger than MAX; -1 when S is not one. */
int parse_uint(const char *s, unsigned long max, unsigned long *out);
/* --pid's argument into *PID; a usage error (exit code 2) when it is not a process id. */
int parse_pid_arg(const char *arg, pid_t *pid);
/* Seconds with an optional fraction ("0.5"), > 0 and at most MAX; -1 when S is not one. */
int parse_seconds(const char *s, double max, double *out);

/* cmd_capture_set.c: --children and/or --count: every process of the tree, COUNT rounds
 * INTERVAL seconds apart, one snapshot each into DIR (created 0700), a shared capture id. */
int capture_set(struct ps_capture_opts *o, int children, unsigned long count, double interval,
                const char *dir, int verbose);

/* S ends with SUFFIX, ignoring case (file name extensions: -o report.HTML). */
int ends_with(const char *s, const char *suffix);

/* PATH names a directory. */
int is_regular_file(const char *path);
int is_directory(const char *path);

/* What analyze writes: text, the JSON document(s), or the HTML page. */
enum analyze_format { OUT_TEXT, OUT_JSON, OUT_HTML };

/* cmd_analyze.c: analyze several snapshots (or a directory of them) together. HTML: one page
 * with the summary, a flame graph and every snapshot (--summary or not). */
int analyze_set(char **paths, int npaths, enum analyze_format format, int locals, int native,
                int summary, const char *baseline);

/* cmd_dump.c, cmd_record.c, cmd_top.c */
int cmd_dump(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_top(int argc, char **argv);
void usage_dump(FILE *out);
void usage_record(FILE *out);
void usage_top(FILE *out);

#endif

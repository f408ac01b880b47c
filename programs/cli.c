/* What every pysnap command shares, capture or analysis: error and usage reporting, number
 * parsing, the exit codes. Part of the analyzer's side of the CLI (the wasm build has it too). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pysnap/error.h"
#include "cli.h"

const char exit_codes_help[] =
    "Exit codes: 0 success; 1 the target or snapshot could not be captured or analyzed\n"
    "(no such process, not a Python process, permission denied, unsupported version);\n"
    "2 usage error, or the file is not a valid snapshot (truncated, corrupt, foreign).\n";

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

int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

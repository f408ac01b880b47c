/* pysnap errors: one list, one place (after libdwfl's DWFL_ERRORS).
 *
 * Every function that can fail returns an int status: PS_OK (0) or one of the codes below.
 * A failing function may also record a detail line with ps_error_set(); the CLI prints
 * ps_error_detail() when it is set, else ps_strerror(code). Codes never change meaning. */
#ifndef PYSNAP_ERROR_H
#define PYSNAP_ERROR_H

#include <stdarg.h>

/* X(NAME, exit-class, default message). Exit class: 1 = could not analyze / capture,
 * 2 = usage error or input that is not a (valid) snapshot. */
#define PS_ERRORS(X)                                                                       \
    X(OK,          0, "success")                                                           \
    X(NOMEM,       1, "out of memory")                                                     \
    X(USAGE,       2, "invalid command line")                                              \
    X(NOPROC,      1, "no such process")                                                   \
    X(PERM,        1, "permission denied")                                                 \
    X(NOTPYTHON,   1, "process has no CPython runtime (_PyRuntime not found)")             \
    X(UNSUPPORTED, 1, "unsupported CPython version")                                       \
    X(ATTACH,      1, "cannot attach to the process")                                      \
    X(TIMEOUT,     1, "timed out")                                                         \
    X(READ,        1, "cannot read target memory")                                         \
    X(NOTCAPTURED, 1, "address was not captured in the snapshot")                          \
    X(CORRUPT,     1, "target memory is inconsistent")                                     \
    X(LIMIT,       1, "a walk limit was reached")                                          \
    X(IO,          1, "input/output error")                                                \
    X(NOTSNAP,     2, "not a pysnap snapshot")                                             \
    X(BADSNAP,     2, "snapshot is truncated or corrupt")                                  \
    X(NEWERSNAP,   2, "snapshot format is newer than this pysnap")                         \
    X(INTERRUPTED, 1, "interrupted")

enum ps_status {
#define PS_ERR_ENUM(name, cls, msg) PS_##name,
    PS_ERRORS(PS_ERR_ENUM)
#undef PS_ERR_ENUM
    PS_NUM_ERRORS
};
/* Aliases used where the code reads better with the E. */
#define PS_ENOTCAPTURED PS_NOTCAPTURED
#define PS_EREAD PS_READ

const char *ps_strerror(int code);
/* Exit code for a status: 0, 1 or 2 (see PS_ERRORS). */
int ps_error_exit_class(int code);

/* Record a detail message for CODE (printf-style) and return CODE, so callers can write
 * `return ps_error_set(PS_PERM, "cannot attach to %d: %s", pid, why);`. The first detail
 * set since the last ps_error_clear() wins: it is the closest to the cause. */
int ps_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *ps_error_detail(void); /* NULL when none */
void ps_error_clear(void);

#endif

/* The error list (include/pysnap/error.h) turned into messages, and the detail line. */
#include <stdio.h>
#include <string.h>

#include "pysnap/error.h"

static const struct {
    const char *message;
    int exit_class;
} error_table[] = {
#define PS_ERR_ROW(name, cls, msg) {msg, cls},
    PS_ERRORS(PS_ERR_ROW)
#undef PS_ERR_ROW
};

/* The tool is single-threaded; one detail line is enough. */
static char detail[512];
static int detail_set;

const char *ps_strerror(int code)
{
    if (code < 0 || code >= PS_NUM_ERRORS)
        return "unknown error";
    return error_table[code].message;
}

int ps_error_exit_class(int code)
{
    if (code < 0 || code >= PS_NUM_ERRORS)
        return 1;
    return error_table[code].exit_class;
}

int ps_error_set(int code, const char *fmt, ...)
{
    if (!detail_set) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        detail_set = 1;
    }
    return code;
}

const char *ps_error_detail(void)
{
    return detail_set ? detail : NULL;
}

void ps_error_clear(void)
{
    detail_set = 0;
    detail[0] = '\0';
}

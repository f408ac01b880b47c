/* What the fuzzers share: render a report as JSON and as text, check the JSON, and (the two
 * that open a file) check an open's result as the CLI would go on from it.
 *
 * Whatever the input, `--json` output must be one valid JSON value in valid UTF-8 (RFC 8259),
 * since other tools read it: json_check() is a strict syntax check, and fuzz_render() aborts
 * (a finding) when the JSON renderer's output fails it. Header-only (static functions). */
#ifndef PYSNAP_FUZZ_COMMON_H
#define PYSNAP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "pysnap/error.h"
#include "pysnap/report.h"
#include "pysnap/snapshot.h"

struct jc {
    const unsigned char *p, *end;
};

static void jc_ws(struct jc *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jc_lit(struct jc *j, const char *s)
{
    for (; *s; s++, j->p++)
        if (j->p >= j->end || *j->p != (unsigned char)*s)
            return 0;
    return 1;
}

static int jc_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int jc_string(struct jc *j)
{
    j->p++; /* the opening quote */
    while (j->p < j->end) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++j->p >= j->end)
                return 0;
            c = *j->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, j->p++)
                    if (j->p >= j->end || !jc_hex(*j->p))
                        return 0;
            } else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
                         c == 'n' || c == 'r' || c == 't')) {
                return 0;
            }
            continue;
        }
        if (c < 0x80) {
            j->p++;
            continue;
        }
        int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
              : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (!n || j->end - j->p < n)
            return 0;
        for (int i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
            if (j->p[i] < lo || j->p[i] > hi)
                return 0;
        j->p += n;
    }
    return 0;
}

static int jc_digits(struct jc *j)
{
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static int jc_number(struct jc *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!jc_digits(j))
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!jc_digits(j))
            return 0;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!jc_digits(j))
            return 0;
    }
    return 1;
}

static int jc_value(struct jc *j, int depth)
{
    jc_ws(j);
    if (j->p >= j->end || depth > 64)
        return 0;
    unsigned char c = *j->p;
    if (c == '"')
        return jc_string(j);
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        j->p++;
        jc_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                jc_ws(j);
                if (j->p >= j->end || *j->p != '"' || !jc_string(j))
                    return 0;
                jc_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return 0;
            }
            if (!jc_value(j, depth + 1))
                return 0;
            jc_ws(j);
            if (j->p >= j->end)
                return 0;
            if (*j->p == close) {
                j->p++;
                return 1;
            }
            if (*j->p++ != ',')
                return 0;
        }
    }
    if (c == 't')
        return jc_lit(j, "true");
    if (c == 'f')
        return jc_lit(j, "false");
    if (c == 'n')
        return jc_lit(j, "null");
    return jc_number(j);
}

static int json_check(const char *buf, size_t len)
{
    struct jc j = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    if (!jc_value(&j, 0))
        return 0;
    jc_ws(&j);
    return j.p == j.end;
}

/* Where the text renderer writes: /dev/null, or stdout when PYSNAP_FUZZ_PRINT is set (to look
 * at what one input renders to: PYSNAP_FUZZ_PRINT=1 ./fuzz_walker INPUT). */
static FILE *fuzz_out(void)
{
    static FILE *f;
    if (!f && !(f = getenv("PYSNAP_FUZZ_PRINT") ? stdout : fopen("/dev/null", "w")))
        abort();
    return f;
}

static void fuzz_render(const struct ps_report *report)
{
    struct ps_render_opts ro = {0};
    char *json = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&json, &len);
    if (!mem)
        abort();
    ps_render_json.render(mem, report, &ro);
    if (fclose(mem) != 0)
        abort();
    if (!json_check(json, len)) {
        fprintf(stderr, "fuzz: the JSON renderer wrote invalid JSON (%zu bytes):\n%.4000s\n",
                len, json);
        abort();
    }
    FILE *out = fuzz_out();
    fwrite(json, 1, len, out);
    free(json);
    ps_render_text.render(out, report, &ro);
    fflush(out);
    clearerr(out);
}

/* After an open of the fuzz input that returned RC (SNAP set when RC is 0), as the CLI goes
 * on: a failure must name a real error code whose exit class is 1 or 2; an opened snapshot
 * is reported and rendered (a report failure must name a real code too), then closed. */
static inline void fuzz_report_opened(int rc, struct ps_snapshot *snap)
{
    if (rc) {
        if (rc <= 0 || rc >= PS_NUM_ERRORS || ps_error_exit_class(rc) == 0)
            abort();
        return;
    }
    struct ps_report report;
    rc = ps_report_build(snap, &report);
    if (!rc)
        fuzz_render(&report);
    else if (rc < 0 || rc >= PS_NUM_ERRORS)
        abort();
    ps_report_free(&report);
    ps_snapshot_close(snap);
}

#endif

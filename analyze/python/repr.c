/* Rendering a Python value from target memory exactly as repr() would print it, within the
 * capture's limits. A cut repr is a prefix of the real one followed by "..." and is marked
 * truncated. Types are told apart by tp_name through one table; anything else gets
 * object.__repr__'s form <module.Class object at 0x...>. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pysnap/error.h"
#include "pysnap/model.h"
#include "unicode_printable.h"
#include "repr_internal.h"
#include "walker_internal.h"

#define TPFLAGS_HEAPTYPE (1ull << 9)
/* PyTypeObject, the same in every version 3.6-3.15 (Include/cpython/object.h): tp_repr is ten
 * pointers before tp_flags, tp_base the pointer before tp_dict. */
#define TP_REPR_BEFORE_TP_FLAGS 80
#define TP_BASE_BEFORE_TP_DICT 8
#define MAX_BASES 32
#define MAX_INT_DIGITS 1500 /* 30-bit digits: ~13500 decimal digits */
#define QUOTE_SCAN_MAX (64u << 10) /* bytes looked at past a cut string to choose its quote */

/* ---- a bounded string builder ---- */
void ps_sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->full)
        return;
    if (n > b->limit - b->len) {
        n = b->limit - b->len;
        b->full = 1;
    }
    if (b->len + n + 4 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (b->len + n + 4 > ncap)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->full = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void ps_sb_puts(struct sbuf *b, const char *s)
{
    ps_sb_put(b, s, strlen(s));
}

void ps_sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ps_sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        ps_sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void ps_sb_cut(struct sbuf *b)
{
    b->full = 1;
}

/* ---- reads charged to the walk's value budget ---- */
int ps_repr_read(struct ps_walker *w, uint64_t addr, void *buf, size_t len)
{
    if (len > w->lim.budget - w->budget_used) {
        w->budget_used = w->lim.budget;
        return PS_LIMIT;
    }
    w->budget_used += len;
    return ps_mem_read(w->mem, addr, buf, len);
}


/* ---- numbers ---- */

/* Python's float repr ('r' format): the shortest digits that round-trip; exponent form when
 * the exponent is < -4 or >= 16; ".0" added to integral values when ADD_DOT_0. */
void ps_format_float(double d, int add_dot_0, int force_sign, char *out, size_t size)
{
    const char *sign = signbit(d) ? "-" : force_sign ? "+" : "";
    if (isnan(d)) {
        snprintf(out, size, "%snan", force_sign ? "+" : "");
        return;
    }
    if (isinf(d)) {
        snprintf(out, size, "%sinf", sign);
        return;
    }
    if (d == 0) {
        snprintf(out, size, "%s0%s", sign, add_dot_0 ? ".0" : "");
        return;
    }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, fabs(d));
        if (strtod(tmp, NULL) == fabs(d))
            break;
    }
    char digits[32];
    size_t nd = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *p;
    digits[nd] = '\0';
    while (nd > 1 && digits[nd - 1] == '0') /* %.*e may pad with zeros */
        digits[--nd] = '\0';
    int e = atoi(p + 1);
    if (e < -4 || e >= 16) {
        snprintf(out, size, "%s%c%s%.*s%se%c%02d", sign, digits[0], nd > 1 ? "." : "",
                 (int)(nd - 1), digits + 1, "", e < 0 ? '-' : '+', abs(e));
        return;
    }
    int decpt = e + 1;
    char body[64];
    if (decpt <= 0)
        snprintf(body, sizeof body, "0.%0*d%s", -decpt, 0, digits), body[2 + -decpt] = '\0',
            strcat(body, digits);
    else if ((size_t)decpt >= nd)
        snprintf(body, sizeof body, "%s%0*d%s", digits, decpt - (int)nd, 0, add_dot_0 ? ".0" : ""),
            body[decpt] = '\0', strcat(body, add_dot_0 ? ".0" : "");
    else
        snprintf(body, sizeof body, "%.*s.%s", decpt, digits, digits + decpt);
    snprintf(out, size, "%s%s", sign, body);
}

static void repr_float(struct repr_ctx *c, uint64_t obj)
{
    double d;
    char out[64];
    if (ps_repr_read(c->w, obj + (uint64_t)c->w->off.floatobj.ob_fval, &d, sizeof d))
        return ps_sb_cut(c->sb);
    ps_format_float(d, 1, 0, out, sizeof out);
    ps_sb_puts(c->sb, out);
}

static void repr_complex(struct repr_ctx *c, uint64_t obj)
{
    double v[2];
    char re[64], im[64];
    if (c->w->off.more.complex_cval == PS_OFF_NONE ||
        ps_repr_read(c->w, obj + (uint64_t)c->w->off.more.complex_cval, v, sizeof v))
        return ps_sb_cut(c->sb);
    if (v[0] == 0 && !signbit(v[0])) {
        ps_format_float(v[1], 0, 0, im, sizeof im);
        ps_sb_printf(c->sb, "%sj", im);
    } else {
        ps_format_float(v[0], 0, 0, re, sizeof re);
        ps_format_float(v[1], 0, 1, im, sizeof im);
        ps_sb_printf(c->sb, "(%s%sj)", re, im);
    }
}

/* Sign and magnitude digits (base 2^30) of an int object. */
int ps_repr_read_int(struct repr_ctx *c, uint64_t obj, int *negative, uint32_t **digits,
                    size_t *n)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t tag;
    int64_t nd;
    int rc;
    const char *tn;
    if (o->intobj.ival != PS_OFF_NONE && ps_py_typename(c->w, obj, &tn) == PS_OK &&
        strcmp(tn, "long") != 0) { /* 2.7 int, bool: a C long, as base-2^30 digits */
        if ((rc = ps_w_field_u64(c->w, obj, o->intobj.ival, &tag)))
            return rc;
        *negative = (int64_t)tag < 0;
        uint64_t mag = *negative ? 0 - tag : tag;
        if (!(*digits = malloc(3 * 4)))
            return PS_NOMEM;
        for (*n = 0; mag; mag >>= 30)
            (*digits)[(*n)++] = (uint32_t)(mag & 0x3fffffff);
        return PS_OK;
    }
    if (o->longobj.lv_tag != PS_OFF_NONE) {
        if ((rc = ps_w_field_u64(c->w, obj, o->longobj.lv_tag, &tag)))
            return rc;
        nd = (int64_t)(tag >> 3);
        *negative = (tag & 3) == 2;
    } else {
        if ((rc = ps_w_field_u64(c->w, obj, o->object.ob_size, &tag)))
            return rc;
        nd = (int64_t)tag;
        *negative = nd < 0;
        if (nd < -(int64_t)MAX_INT_DIGITS)
            return PS_LIMIT; /* before negating: INT64_MIN has no negation */
        if (nd < 0)
            nd = -nd;
    }
    if (nd > MAX_INT_DIGITS)
        return PS_LIMIT;
    *n = (size_t)nd;
    *digits = malloc((size_t)nd * 4 + 4);
    if (!*digits)
        return PS_NOMEM;
    if ((rc = ps_repr_read(c->w, obj + (uint64_t)o->longobj.digits, *digits, (size_t)nd * 4))) {
        free(*digits);
        return rc;
    }
    return PS_OK;
}

void ps_repr_int(struct repr_ctx *c, uint64_t obj)
{
    int negative;
    uint32_t *d;
    size_t n;
    if (ps_repr_read_int(c, obj, &negative, &d, &n))
        return ps_sb_cut(c->sb);
    /* Repeated division by 10^9 of the base-2^30 magnitude; chunks come out least
     * significant first. */
    size_t cap = n * 10 / 9 + 2, nchunks = 0;
    uint32_t *chunks = malloc(cap * 4);
    if (!chunks) {
        free(d);
        return ps_sb_cut(c->sb);
    }
    for (size_t i = 0; i < n; i++)
        d[i] &= 0x3fffffff;
    size_t top = n;
    while (top > 0 && nchunks < cap) {
        uint64_t rem = 0;
        for (size_t i = top; i-- > 0;) {
            uint64_t cur = (rem << 30) | d[i];
            d[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunks[nchunks++] = (uint32_t)rem;
        while (top > 0 && d[top - 1] == 0)
            top--;
    }
    if (negative && nchunks)
        ps_sb_puts(c->sb, "-");
    if (nchunks == 0)
        ps_sb_puts(c->sb, "0");
    for (size_t i = nchunks; i-- > 0;)
        ps_sb_printf(c->sb, i == nchunks - 1 ? "%u" : "%09u", chunks[i]);
    free(chunks);
    free(d);
}

/* 2.7's long: the digits, then L. */
static void repr_long(struct repr_ctx *c, uint64_t obj)
{
    ps_repr_int(c, obj);
    ps_sb_puts(c->sb, c->w->off.reprs.long_suffix);
}

static void repr_bool(struct repr_ctx *c, uint64_t obj)
{
    int negative;
    uint32_t *d;
    size_t n;
    if (ps_repr_read_int(c, obj, &negative, &d, &n))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, n > 0 && d[0] ? "True" : "False");
    free(d);
}

/* ---- text ---- */

static void put_utf8(struct sbuf *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80)
        o[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
        o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    ps_sb_put(b, o, n);
}

static uint32_t code_point(const unsigned char *raw, unsigned kind, size_t i)
{
    uint32_t cp;
    if (kind == 1)
        return raw[i];
    if (kind == 2)
        return (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
    memcpy(&cp, raw + 4 * i, 4);
    return cp;
}

/* ---- redaction inside text ---- */

static int query_name_char(uint32_t ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.' || ch == '%' || ch == '[' || ch == ']';
}

size_t ps_query_secrets(struct ps_walker *w, const unsigned char *raw, unsigned kind, size_t n,
                        struct ps_span *spans, size_t max)
{
    size_t found = 0;
    if (!w->redact_on)
        return 0;
    for (size_t i = 0; i < n && found < max;) {
        /* a parameter starts the text or follows '?', '&' or ';' */
        size_t start = i, eq = i;
        while (eq < n && query_name_char(code_point(raw, kind, eq)) && eq - start < 128)
            eq++;
        size_t end = eq;
        while (end < n && code_point(raw, kind, end) != '&' && code_point(raw, kind, end) != ';' &&
               code_point(raw, kind, end) != '#')
            end++;
        if (eq > start && eq < n && code_point(raw, kind, eq) == '=') {
            char name[130];
            for (size_t k = start; k < eq; k++)
                name[k - start] = (char)code_point(raw, kind, k);
            name[eq - start] = '\0';
            if (ps_walk_redacts(w, name)) {
                spans[found++] = (struct ps_span){eq + 1, end};
                if (found == max) { /* no room to tell the rest apart: all of it is secret */
                    spans[found - 1].end = n;
                    return found;
                }
            }
        }
        /* on to the next parameter */
        i = eq;
        while (i < n) {
            uint32_t ch = code_point(raw, kind, i++);
            if (ch == '?' || ch == '&' || ch == ';')
                break;
            if (ch == '#')
                return found;
        }
    }
    return found;
}

/* Which span (index + 1) starts at unit I, 0 when none; *INSIDE when I is in one. */
static size_t span_at(const struct ps_span *spans, size_t nspans, size_t i, int *inside)
{
    *inside = 0;
    for (size_t k = 0; k < nspans; k++) {
        if (i == spans[k].start && spans[k].end > spans[k].start)
            return k + 1;
        if (i >= spans[k].start && i < spans[k].end)
            *inside = 1;
    }
    return 0;
}

/* Secret parameter values of a str or bytes value: withheld from the snapshot and shown as
 * <redacted>; quotes are chosen from what is shown, so that capture and analysis agree. */
static size_t find_secrets(struct repr_ctx *c, const unsigned char *raw, unsigned kind, size_t n,
                           uint64_t data, struct ps_span *spans, size_t max)
{
    size_t ns = ps_query_secrets(c->w, raw, kind, n, spans, max);
    for (size_t k = 0; k < ns; k++)
        ps_mem_withhold(c->w->mem, data + spans[k].start * kind,
                        (spans[k].end - spans[k].start) * kind);
    return ns;
}

#define MAX_SPANS 16

/* repr() quotes with " when the text has a ' and no ", else with '. A cut str or bytes whose
 * kept part has no " needs the rest to decide: look for quotes in the UNITS code units of
 * KIND bytes at ADDR, at most QUOTE_SCAN_MAX bytes (read like any value: charged to the
 * budget, and so in the snapshot). *SQUOTE is set when a ' is seen. 1: there is a ", 0: there
 * is none, -1: undecided. */
static int dquote_follows(struct repr_ctx *c, uint64_t addr, uint64_t units, unsigned kind,
                          int *squote)
{
    unsigned char buf[4096]; /* a multiple of every kind */
    int capped = units > QUOTE_SCAN_MAX / kind;
    uint64_t left = capped ? QUOTE_SCAN_MAX : units * kind;
    while (left) {
        size_t chunk = left < sizeof buf ? (size_t)left : sizeof buf;
        if (ps_repr_read(c->w, addr, buf, chunk))
            return -1;
        for (size_t i = 0; i < chunk / kind; i++) {
            uint32_t ch = code_point(buf, kind, i);
            if (ch == '"')
                return 1;
            *squote |= ch == '\'';
        }
        addr += chunk;
        left -= chunk;
    }
    return capped ? -1 : 0;
}

/* The quote repr() uses; -1 when it cannot be known within the limits. */
static int choose_quote(struct repr_ctx *c, int squote, int dquote, int cut, uint64_t rest_addr,
                        uint64_t rest_units, unsigned kind)
{
    if (dquote || (!squote && !cut))
        return '\'';
    if (!cut)
        return '"';
    int follows = dquote_follows(c, rest_addr, rest_units, kind, &squote);
    return follows < 0 ? -1 : follows || !squote ? '\'' : '"';
}

static void repr_str(struct repr_ctx *c, uint64_t obj)
{
    struct ps_str_hdr h;
    if (ps_py_str_header(c->w, obj, &h))
        return ps_sb_cut(c->sb);
    size_t n = (size_t)h.length, max = c->w->lim.max_str;
    int cut = n > max;
    if (cut)
        n = max;
    unsigned char *raw = malloc(n * h.kind + 1);
    if (!raw || ps_repr_read(c->w, h.data, raw, n * h.kind)) {
        free(raw);
        return ps_sb_cut(c->sb);
    }
    struct ps_span spans[MAX_SPANS];
    size_t nspans = find_secrets(c, raw, h.kind, n, h.data, spans, MAX_SPANS);
    int squote = 0, dquote = 0, inside;
    for (size_t i = 0; i < n; i++) {
        uint32_t ch = code_point(raw, h.kind, i);
        span_at(spans, nspans, i, &inside);
        squote |= ch == '\'' && !inside;
        dquote |= ch == '"' && !inside;
    }
    int q = choose_quote(c, squote, dquote, cut, h.data + n * h.kind, (uint64_t)h.length - n,
                         h.kind);
    if (q < 0) {
        free(raw);
        return ps_sb_cut(c->sb);
    }
    char quote = (char)q;
    int ucd = ps_unicode_version_bit(c->w->off.major, c->w->off.minor);
    int ascii = c->w->off.reprs.text_ascii; /* 2.7: every non-ASCII character escaped */
    ps_sb_puts(c->sb, c->w->off.reprs.text_prefix);
    ps_sb_put(c->sb, &quote, 1);
    for (size_t i = 0; i < n && !c->sb->full; i++) {
        uint32_t ch = code_point(raw, h.kind, i);
        size_t sp = span_at(spans, nspans, i, &inside);
        if (sp) {
            ps_sb_puts(c->sb, "<redacted>");
            i = spans[sp - 1].end - 1;
        } else if (ch == (uint32_t)quote || ch == '\\')
            ps_sb_printf(c->sb, "\\%c", (char)ch);
        else if (ch == '\t')
            ps_sb_puts(c->sb, "\\t");
        else if (ch == '\n')
            ps_sb_puts(c->sb, "\\n");
        else if (ch == '\r')
            ps_sb_puts(c->sb, "\\r");
        else if (ch < 0x7f && ch >= 0x20)
            ps_sb_put(c->sb, (const char *)&(char){(char)ch}, 1);
        else if (!ascii && ps_unicode_printable(ch, ucd))
            put_utf8(c->sb, ch);
        else if (ch <= 0xff)
            ps_sb_printf(c->sb, "\\x%02x", ch);
        else if (ch <= 0xffff)
            ps_sb_printf(c->sb, "\\u%04x", ch);
        else
            ps_sb_printf(c->sb, "\\U%08x", ch);
    }
    free(raw);
    if (cut)
        return ps_sb_cut(c->sb);
    ps_sb_put(c->sb, &quote, 1);
}

static void repr_byte_string(struct repr_ctx *c, uint64_t data, uint64_t size, const char *prefix)
{
    size_t n = size > c->w->lim.max_str ? c->w->lim.max_str : (size_t)size;
    unsigned char *raw = malloc(n + 1);
    if (!raw || ps_repr_read(c->w, data, raw, n)) {
        free(raw);
        return ps_sb_cut(c->sb);
    }
    struct ps_span spans[MAX_SPANS];
    size_t nspans = find_secrets(c, raw, 1, n, data, spans, MAX_SPANS);
    int squote = 0, dquote = 0, inside;
    for (size_t i = 0; i < n; i++) {
        span_at(spans, nspans, i, &inside);
        squote |= raw[i] == '\'' && !inside;
        dquote |= raw[i] == '"' && !inside;
    }
    ps_sb_puts(c->sb, prefix);
    int q = choose_quote(c, squote, dquote, n < size, data + n, size - n, 1);
    if (q < 0) {
        free(raw);
        return ps_sb_cut(c->sb);
    }
    char quote = (char)q;
    ps_sb_put(c->sb, &quote, 1);
    for (size_t i = 0; i < n && !c->sb->full; i++) {
        unsigned char ch = raw[i];
        size_t sp = span_at(spans, nspans, i, &inside);
        if (sp) {
            ps_sb_puts(c->sb, "<redacted>");
            i = spans[sp - 1].end - 1;
        } else if (ch == (unsigned char)quote || ch == '\\')
            ps_sb_printf(c->sb, "\\%c", ch);
        else if (ch == '\t')
            ps_sb_puts(c->sb, "\\t");
        else if (ch == '\n')
            ps_sb_puts(c->sb, "\\n");
        else if (ch == '\r')
            ps_sb_puts(c->sb, "\\r");
        else if (ch < 0x20 || ch >= 0x7f)
            ps_sb_printf(c->sb, "\\x%02x", ch);
        else
            ps_sb_put(c->sb, (const char *)&ch, 1);
    }
    free(raw);
    if (n < size)
        return ps_sb_cut(c->sb);
    ps_sb_put(c->sb, &quote, 1);
}

static void repr_bytes(struct repr_ctx *c, uint64_t obj)
{
    uint64_t size;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_size, &size) || (int64_t)size < 0)
        return ps_sb_cut(c->sb);
    repr_byte_string(c, obj + (uint64_t)c->w->off.bytes.ob_sval, size, c->w->off.reprs.bytes_prefix);
}

static void repr_bytearray(struct repr_ctx *c, uint64_t obj)
{
    uint64_t size, start;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_size, &size) || (int64_t)size < 0 ||
        ps_w_field_u64(c->w, obj, c->w->off.more.bytearray_start, &start))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "bytearray(");
    if (size == 0)
        ps_sb_puts(c->sb, "b''");
    else
        repr_byte_string(c, start, size, "b");
    ps_sb_puts(c->sb, ")");
}

/* ---- containers ---- */

/* Enter a container: 0 to go on, 1 when it is already being rendered (a cycle) or too deep. */
int ps_repr_enter(struct repr_ctx *c, uint64_t obj, const char *cycle_text)
{
    for (unsigned i = 0; i < c->depth; i++)
        if (c->stack[i] == obj) {
            ps_sb_puts(c->sb, cycle_text);
            return 1;
        }
    if (c->depth >= c->w->lim.max_depth || c->depth >= sizeof c->stack / sizeof c->stack[0]) {
        ps_sb_cut(c->sb);
        return 1;
    }
    c->stack[c->depth++] = obj;
    return 0;
}

static void repr_items(struct repr_ctx *c, uint64_t items, uint64_t n)
{
    uint64_t shown = n < c->w->lim.max_items ? n : c->w->lim.max_items;
    uint64_t *v = malloc(shown * 8 + 8);
    if (!v || ps_repr_read(c->w, items, v, shown * 8)) {
        free(v);
        return ps_sb_cut(c->sb);
    }
    for (uint64_t i = 0; i < shown && !c->sb->full; i++) {
        if (i)
            ps_sb_puts(c->sb, ", ");
        ps_repr_obj(c, v[i]);
    }
    free(v);
    if (shown < n)
        ps_sb_cut(c->sb);
}

/* HTTP headers that carry credentials, as WSGI environ keys and as header names: their
 * values are never read, whatever the redact pattern (even with redaction off). */
static const char *const credential_headers[] = {
    "HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION",
    "cookie", "authorization", "proxy-authorization", "set-cookie",
};

static int credential_header(const char *name)
{
    for (size_t i = 0; i < sizeof credential_headers / sizeof *credential_headers; i++)
        if (strcasecmp(name, credential_headers[i]) == 0)
            return 1;
    return 0;
}

/* Does the str or bytes OBJ name a secret (a dict key, a header's name)? */
static int names_secret(struct ps_walker *w, uint64_t obj)
{
    char *name = NULL;
    unsigned char *raw = NULL;
    size_t len = 0;
    int yes = 0;
    if (ps_py_is(w, obj, "str")) {
        if (ps_py_str(w, obj, 256, &name, NULL) != PS_OK)
            name = NULL;
    } else if (ps_py_is(w, obj, "bytes") && ps_py_bytes(w, obj, 256, &raw, &len) == PS_OK &&
               memchr(raw, '\0', len) == NULL && (name = malloc(len + 1))) {
        memcpy(name, raw, len);
        name[len] = '\0';
    }
    if (name)
        yes = credential_header(name) || ps_walk_redacts(w, name);
    free(name);
    free(raw);
    return yes;
}

/* A secret value: never read, withheld (a recording source will not fill a gap over it). */
static void repr_secret(struct repr_ctx *c, uint64_t value)
{
    ps_mem_withhold(c->w->mem, value, 1);
    ps_sb_puts(c->sb, "'<redacted>'");
}

/* The items of a 2- or 3-tuple or list: a header ("Cookie", "...") or a WSGI/ASGI header
 * pair whose first item names a secret has the items after it redacted. */
static void repr_pair(struct repr_ctx *c, uint64_t items, uint64_t n)
{
    uint64_t v[3];
    if (n > c->w->lim.max_items || ps_repr_read(c->w, items, v, n * 8))
        return repr_items(c, items, n);
    int secret = names_secret(c->w, v[0]);
    for (uint64_t i = 0; i < n && !c->sb->full; i++) {
        if (i)
            ps_sb_puts(c->sb, ", ");
        if (i && secret)
            repr_secret(c, v[i]);
        else
            ps_repr_obj(c, v[i]);
    }
}

static void repr_sequence(struct repr_ctx *c, uint64_t obj, int is_tuple)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t n, items;
    if (ps_w_field_u64(c->w, obj, o->object.ob_size, &n) || (int64_t)n < 0 || n > (1u << 28))
        return ps_sb_cut(c->sb);
    if (is_tuple)
        items = obj + (uint64_t)o->tuple.ob_item;
    else if (ps_w_field_u64(c->w, obj, o->list.ob_item, &items))
        return ps_sb_cut(c->sb);
    if (ps_repr_enter(c, obj, is_tuple ? "(...)" : "[...]"))
        return;
    ps_sb_puts(c->sb, is_tuple ? "(" : "[");
    if (n == 2 || n == 3)
        repr_pair(c, items, n);
    else
        repr_items(c, items, n);
    if (is_tuple && n == 1)
        ps_sb_puts(c->sb, ",");
    ps_sb_puts(c->sb, is_tuple ? ")" : "]");
    c->depth--;
}

struct dict_render {
    struct repr_ctx *c;
    unsigned count;
};

static int dict_item(void *arg, uint64_t key, uint64_t value)
{
    struct dict_render *d = arg;
    struct repr_ctx *c = d->c;
    if (c->sb->full)
        return PS_LIMIT;
    if (d->count >= c->w->lim.max_items) {
        ps_sb_cut(c->sb);
        return PS_LIMIT;
    }
    if (d->count++)
        ps_sb_puts(c->sb, ", ");
    ps_repr_obj(c, key);
    ps_sb_puts(c->sb, ": ");
    /* A key that looks like a secret: its value is not read. */
    if (names_secret(c->w, key))
        repr_secret(c, value);
    else
        ps_repr_obj(c, value);
    return PS_OK;
}

void ps_repr_dict(struct repr_ctx *c, uint64_t obj)
{
    if (ps_repr_enter(c, obj, "{...}"))
        return;
    ps_sb_puts(c->sb, "{");
    struct dict_render d = {c, 0};
    int rc = ps_py_dict_foreach(c->w, obj, dict_item, &d);
    if (rc && rc != PS_LIMIT)
        ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "}");
    c->depth--;
}

/* set_repr: {1, 2} for a set, TYPE({1, 2}) for a frozenset or a subclass, TYPE() empty. */
static void repr_set(struct repr_ctx *c, uint64_t obj)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t mask, table;
    const char *type;
    if (ps_py_typename(c->w, obj, &type))
        return ps_sb_cut(c->sb);
    int exact = strcmp(type, "set") == 0;
    if (ps_w_field_u64(c->w, obj, o->more.set_mask, &mask) ||
        ps_w_field_u64(c->w, obj, o->more.set_table, &table) || mask >= (1u << 26))
        return ps_sb_cut(c->sb);
    char cycle[32];
    snprintf(cycle, sizeof cycle, "%s(...)", type);
    if (ps_repr_enter(c, obj, cycle))
        return;
    /* Collect the live keys in table order (that is iteration order); skip the dummy. */
    size_t want = c->w->lim.max_items + 1, found = 0;
    uint64_t *keys = malloc(want * 8);
    uint64_t entry[2 * 64];
    for (uint64_t i = 0; keys && i <= mask && found < want; i += 64) {
        uint64_t chunk = mask + 1 - i < 64 ? mask + 1 - i : 64;
        if (ps_repr_read(c->w, table + i * 16, entry, chunk * 16)) {
            ps_sb_cut(c->sb);
            break;
        }
        for (uint64_t j = 0; j < chunk && found < want; j++) {
            const char *tn;
            uint64_t key = entry[2 * j + (o->more.set_key == 8)]; /* 2.7: {hash, key} */
            if (key && !(ps_py_typename(c->w, key, &tn) == PS_OK && strcmp(tn, "<dummy key> type") == 0))
                keys[found++] = key;
        }
    }
    if (found == 0 && !c->sb->full) {
        ps_sb_printf(c->sb, "%s()", type);
    } else {
        int literal = exact && o->reprs.set_literal; /* 2.7: set([1, 2]) */
        const char *open = o->reprs.set_literal ? "{" : "[", *close = o->reprs.set_literal ? "}" : "]";
        if (literal)
            ps_sb_puts(c->sb, open);
        else
            ps_sb_printf(c->sb, "%s(%s", type, open);
        size_t shown = found < c->w->lim.max_items ? found : c->w->lim.max_items;
        for (size_t i = 0; i < shown && !c->sb->full; i++) {
            if (i)
                ps_sb_puts(c->sb, ", ");
            ps_repr_obj(c, keys[i]);
        }
        if (found > shown)
            ps_sb_cut(c->sb);
        ps_sb_puts(c->sb, close);
        if (!literal)
            ps_sb_puts(c->sb, ")");
    }
    free(keys);
    c->depth--;
}

static void repr_range(struct repr_ctx *c, uint64_t obj)
{
    uint64_t v[3];
    if (c->w->off.more.range_start == PS_OFF_NONE ||
        ps_repr_read(c->w, obj + (uint64_t)c->w->off.more.range_start, v, sizeof v))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "range(");
    ps_repr_int(c, v[0]);
    ps_sb_puts(c->sb, ", ");
    ps_repr_int(c, v[1]);
    /* step 1 is left out, as range.__repr__ does */
    size_t mark = c->sb->len;
    ps_sb_puts(c->sb, ", ");
    ps_repr_int(c, v[2]);
    if (!c->sb->full && c->sb->len - mark == 3 && c->sb->p[mark + 2] == '1')
        c->sb->len = mark;
    ps_sb_puts(c->sb, ")");
}

/* ---- everything else ---- */

/* __module__ and __qualname__ of a type, as object.__repr__ and type.__repr__ find them. */
void ps_type_names(struct ps_walker *w, uint64_t type, char **module, char **qualname)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t flags = 0, tp_name, dict, mod, qn;
    char name[128] = "?";
    *module = *qualname = NULL;
    if (ps_w_field_u64(w, type, o->object.tp_flags, &flags) ||
        ps_w_field_u64(w, type, o->object.tp_name, &tp_name) ||
        ps_w_cstr(w, tp_name, name, sizeof name))
        return;
    if (flags & TPFLAGS_HEAPTYPE) {
        if (o->more.tp_dict != PS_OFF_NONE && !ps_w_field_u64(w, type, o->more.tp_dict, &dict) &&
            dict && !ps_py_dict_get(w, dict, "__module__", &mod) && mod && ps_py_is(w, mod, "str"))
            ps_py_str(w, mod, 256, module, NULL);
        if (o->more.ht_qualname != PS_OFF_NONE &&
            !ps_w_field_u64(w, type, o->more.ht_qualname, &qn) && qn && ps_py_is(w, qn, "str"))
            ps_py_str(w, qn, 256, qualname, NULL);
        if (!*qualname)
            *qualname = strdup(name);
        return;
    }
    char *dot = strrchr(name, '.');
    if (dot) {
        *dot = '\0';
        *module = strdup(name);
        *qualname = strdup(dot + 1);
    } else {
        *module = strdup(o->reprs.builtins);
        *qualname = strdup(name);
    }
}

void ps_repr_default(struct repr_ctx *c, uint64_t obj)
{
    uint64_t type;
    char *module, *qualname;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_type, &type))
        return ps_sb_cut(c->sb);
    ps_type_names(c->w, type, &module, &qualname);
    if (module && strcmp(module, c->w->off.reprs.builtins) != 0)
        ps_sb_printf(c->sb, "<%s.%s object at 0x%llx>", module, qualname ? qualname : "?",
                  (unsigned long long)obj);
    else
        ps_sb_printf(c->sb, "<%s object at 0x%llx>", qualname ? qualname : "?",
                  (unsigned long long)obj);
    free(module);
    free(qualname);
}

static void repr_type(struct repr_ctx *c, uint64_t obj)
{
    char *module, *qualname;
    uint64_t flags = 0;
    ps_type_names(c->w, obj, &module, &qualname);
    /* 2.7 says <type 'int'> for the types not made by a class statement */
    const char *word = ps_w_field_u64(c->w, obj, c->w->off.object.tp_flags, &flags) == PS_OK &&
                               !(flags & TPFLAGS_HEAPTYPE)
                           ? c->w->off.reprs.builtin_type_word
                           : "class";
    if (module && strcmp(module, c->w->off.reprs.builtins) != 0)
        ps_sb_printf(c->sb, "<%s '%s.%s'>", word, module, qualname ? qualname : "?");
    else
        ps_sb_printf(c->sb, "<%s '%s'>", word, qualname ? qualname : "?");
    free(module);
    free(qualname);
}

static void repr_function(struct repr_ctx *c, uint64_t obj)
{
    uint64_t qn;
    char *name = NULL;
    /* 2.7 functions have a name, no qualified name */
    ps_off at = c->w->off.more.func_qualname != PS_OFF_NONE ? c->w->off.more.func_qualname
                                                            : c->w->off.more.func_name;
    if (ps_w_field_u64(c->w, obj, at, &qn) || !ps_py_is(c->w, qn, "str") ||
        ps_py_str(c->w, qn, 256, &name, NULL))
        return ps_repr_default(c, obj);
    ps_sb_printf(c->sb, "<function %s at 0x%llx>", name, (unsigned long long)obj);
    free(name);
}

/* 2.7 old-style classes and instances: <class __main__.C at 0x...>, <__main__.C instance at
 * 0x...> (Objects/classobject.c: the class's __module__ and cl_name). */
static void classobj_names(struct repr_ctx *c, uint64_t cls, char **module, char **name)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t dict, mod, nm;
    *module = *name = NULL;
    if (!ps_w_field_u64(c->w, cls, o->more.cl_dict, &dict) && dict &&
        !ps_py_dict_get(c->w, dict, "__module__", &mod) && mod && ps_py_is(c->w, mod, "str"))
        ps_py_str(c->w, mod, 256, module, NULL);
    if (!ps_w_field_u64(c->w, cls, o->more.cl_name, &nm) && nm && ps_py_is(c->w, nm, "str"))
        ps_py_str(c->w, nm, 256, name, NULL);
}

static void repr_classobj(struct repr_ctx *c, uint64_t obj)
{
    char *module, *name;
    classobj_names(c, obj, &module, &name);
    if (module)
        ps_sb_printf(c->sb, "<class %s.%s at 0x%llx>", module, name ? name : "?", (unsigned long long)obj);
    else
        ps_sb_printf(c->sb, "<class ?.%s at 0x%llx>", name ? name : "?", (unsigned long long)obj);
    free(module);
    free(name);
}

static void repr_instance(struct repr_ctx *c, uint64_t obj)
{
    uint64_t cls;
    char *module, *name;
    if (ps_w_field_u64(c->w, obj, c->w->off.more.in_class, &cls))
        return ps_sb_cut(c->sb);
    classobj_names(c, cls, &module, &name);
    ps_sb_printf(c->sb, "<%s.%s instance at 0x%llx>", module ? module : "?", name ? name : "?",
              (unsigned long long)obj);
    free(module);
    free(name);
}

static void repr_none(struct repr_ctx *c, uint64_t obj) { (void)obj; ps_sb_puts(c->sb, "None"); }
static void repr_ellipsis(struct repr_ctx *c, uint64_t obj) { (void)obj; ps_sb_puts(c->sb, "Ellipsis"); }
static void repr_notimpl(struct repr_ctx *c, uint64_t obj) { (void)obj; ps_sb_puts(c->sb, "NotImplemented"); }
static void repr_tuple(struct repr_ctx *c, uint64_t obj) { repr_sequence(c, obj, 1); }
static void repr_list(struct repr_ctx *c, uint64_t obj) { repr_sequence(c, obj, 0); }

static const struct {
    const char *type;
    void (*render)(struct repr_ctx *c, uint64_t obj);
} renderers[] = {
    {"NoneType", repr_none},   {"bool", repr_bool},          {"int", ps_repr_int},
    {"float", repr_float},     {"complex", repr_complex},    {"str", repr_str},
    {"bytes", repr_bytes},     {"bytearray", repr_bytearray}, {"tuple", repr_tuple},
    {"list", repr_list},       {"dict", ps_repr_dict},          {"set", repr_set},
    {"frozenset", repr_set},   {"range", repr_range},        {"type", repr_type},
    {"function", repr_function}, {"ellipsis", repr_ellipsis}, {"NotImplementedType", repr_notimpl},
    {"long", repr_long},       {"instance", repr_instance},  {"classobj", repr_classobj},
};

typedef void (*renderer_fn)(struct repr_ctx *c, uint64_t obj);

static renderer_fn renderer_for(const struct ps_walker *w, const char *type_name)
{
    /* The text and byte-string types by this version's names (2.7: unicode and str). */
    if (strcmp(type_name, w->off.reprs.text_type) == 0)
        return repr_str;
    if (strcmp(type_name, w->off.reprs.bytes_type) == 0)
        return repr_bytes;
    if (strcmp(type_name, "str") == 0 || strcmp(type_name, "bytes") == 0)
        return NULL; /* the other dialect's name */
    for (size_t i = 0; i < sizeof renderers / sizeof renderers[0]; i++)
        if (strcmp(type_name, renderers[i].type) == 0)
            return renderers[i].render;
    return NULL;
}

/* A class that does not define __repr__ inherits its tp_repr: an int or list subclass, a
 * metaclass such as ABCMeta. When OBJ's type has the same tp_repr as its nearest built-in
 * base and that base is one we render, render it as that base (bytearray's repr names the
 * class, in a way that changed across versions: left to the generic form). */
static renderer_fn find_inherited(struct ps_walker *w, uint64_t type)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t flags, repr, base_repr;
    if (o->more.tp_dict == PS_OFF_NONE || o->object.tp_flags == PS_OFF_NONE ||
        ps_w_field_u64(w, type, o->object.tp_flags, &flags) || !(flags & TPFLAGS_HEAPTYPE) ||
        ps_w_field_u64(w, type, o->object.tp_flags - TP_REPR_BEFORE_TP_FLAGS, &repr))
        return NULL;
    for (unsigned n = 0; n < MAX_BASES; n++) {
        if (ps_w_field_u64(w, type, o->more.tp_dict - TP_BASE_BEFORE_TP_DICT, &type) || !type ||
            ps_w_field_u64(w, type, o->object.tp_flags, &flags))
            return NULL;
        if (flags & TPFLAGS_HEAPTYPE)
            continue;
        uint64_t tp_name;
        char name[64];
        if (ps_w_field_u64(w, type, o->object.tp_flags - TP_REPR_BEFORE_TP_FLAGS, &base_repr) ||
            base_repr != repr || ps_w_field_u64(w, type, o->object.tp_name, &tp_name) ||
            ps_w_cstr(w, tp_name, name, sizeof name) || strcmp(name, "bytearray") == 0)
            return NULL;
        return renderer_for(w, name);
    }
    return NULL;
}

/* find_inherited, once per type: the cache holds the renderer's index + 1, or NONE. */
static renderer_fn inherited_renderer(struct ps_walker *w, uint64_t obj)
{
    const size_t none = sizeof renderers / sizeof renderers[0] + 1;
    uint64_t type;
    if (ps_w_field_u64(w, obj, w->off.object.ob_type, &type) || !type)
        return NULL;
    uintptr_t cached = (uintptr_t)ps_u64map_get(&w->inherited, type);
    if (cached)
        return cached == none ? NULL : renderers[cached - 1].render;
    renderer_fn r = find_inherited(w, type);
    size_t i = 0;
    while (i < none - 1 && renderers[i].render != r)
        i++;
    ps_u64map_put(&w->inherited, type, (void *)(uintptr_t)(r ? i + 1 : none));
    return r;
}

void ps_repr_obj(struct repr_ctx *c, uint64_t obj)
{
    const char *tn;
    if (c->sb->full)
        return;
    if (!obj || ps_py_typename(c->w, obj, &tn))
        return ps_sb_cut(c->sb);
    renderer_fn render = renderer_for(c->w, tn);
    if (!render && ps_stdlib_render(c, obj))
        return;
    if (!render)
        render = inherited_renderer(c->w, obj);
    (render ? render : ps_repr_default)(c, obj);
}

static int is_plain_instance(struct ps_walker *w, uint64_t obj)
{
    const char *tn;
    if (ps_py_typename(w, obj, &tn))
        return 0;
    return renderer_for(w, tn) == NULL && strcmp(tn, w->off.reprs.text_type) != 0 &&
           strcmp(tn, w->off.reprs.bytes_type) != 0;
}

struct attrs_ctx {
    struct ps_walker *w;
    struct ps_value *v;
};

static int attr_cb(void *arg, uint64_t key, uint64_t value)
{
    struct attrs_ctx *a = arg;
    if (a->v->nattrs >= a->w->lim.max_attrs)
        return PS_LIMIT;
    char *name = NULL;
    if (!ps_py_is(a->w, key, "str") || ps_py_str(a->w, key, 256, &name, NULL))
        return PS_OK;
    struct ps_value *na = realloc(a->v->attrs, (a->v->nattrs + 1) * sizeof *na);
    if (!na) {
        free(name);
        return PS_NOMEM;
    }
    a->v->attrs = na;
    struct ps_value *attr = &na[a->v->nattrs++];
    memset(attr, 0, sizeof *attr);
    attr->name = name;
    return ps_value_render(a->w, value, 0, attr);
}

/* A name that looks like a secret: "<redacted>", the value unread. 1 when redacted, 0 when
 * not, -1 when out of memory. */
static int render_redacted(struct ps_walker *w, struct ps_value *out)
{
    if (!out->name || !ps_walk_redacts(w, out->name))
        return 0;
    out->redacted = 1;
    out->repr = strdup("<redacted>");
    return out->repr ? 1 : -1;
}

int ps_value_render_tagged_int(struct ps_walker *w, int64_t value, struct ps_value *out)
{
    int red = render_redacted(w, out);
    if (red)
        return red > 0 ? PS_OK : PS_NOMEM;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    out->type = strdup("int");
    out->repr = strdup(buf);
    return out->type && out->repr ? PS_OK : PS_NOMEM;
}

int ps_value_render(struct ps_walker *w, uint64_t obj, int with_attrs, struct ps_value *out)
{
    int red = render_redacted(w, out);
    if (red > 0)
        ps_mem_withhold(w->mem, obj, 1);
    if (red)
        return red > 0 ? PS_OK : PS_NOMEM;
    const char *tn;
    if (ps_py_typename(w, obj, &tn) == PS_OK && !(out->type = strdup(tn)))
        return PS_NOMEM;
    struct sbuf sb = {NULL, 0, 0, w->lim.max_repr, 0};
    struct repr_ctx c = {.w = w, .sb = &sb, .root = obj};
    ps_repr_obj(&c, obj);
    if (sb.full) {
        free(c.value); /* a structured value only for a whole repr */
        c.value = NULL;
    }
    out->value = c.value;
    if (sb.full) {
        sb.full = 0;
        sb.limit = sb.len + 3;
        ps_sb_puts(&sb, "...");
        out->truncated = 1;
    }
    ps_sb_put(&sb, "", 0);
    if (!sb.p && !(sb.p = strdup("")))
        return PS_NOMEM;
    sb.p[sb.len] = '\0';
    out->repr = sb.p;
    if (with_attrs && is_plain_instance(w, obj)) {
        struct ps_attrs a;
        if (ps_py_instance_attrs(w, obj, &a) == PS_OK) {
            struct attrs_ctx ac = {w, out};
            int rc = ps_py_attrs_foreach(w, &a, attr_cb, &ac);
            if (rc == PS_NOMEM)
                return rc;
        }
    }
    return PS_OK;
}

/* Rendering a Python value from target memory exactly as repr() would print it, within the
 * capture's limits. A cut repr is a prefix of the real one followed by "..." and is marked
 * truncated. Types are told apart by tp_name through one table; anything else gets
 * object.__repr__'s form <module.Class object at 0x...>. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/model.h"
#include "unicode_printable.h"
#include "walker_internal.h"

#define TPFLAGS_HEAPTYPE (1ull << 9)
/* PyTypeObject, the same in every version 3.8-3.15 (Include/cpython/object.h): tp_repr is ten
 * pointers before tp_flags, tp_base the pointer before tp_dict. */
#define TP_REPR_BEFORE_TP_FLAGS 80
#define TP_BASE_BEFORE_TP_DICT 8
#define MAX_BASES 32
#define MAX_INT_DIGITS 1500 /* 30-bit digits: ~13500 decimal digits */
#define QUOTE_SCAN_MAX (64u << 10) /* bytes looked at past a cut string to choose its quote */

/* ---- a bounded string builder ---- */
struct sbuf {
    char *p;
    size_t len, cap, limit;
    int full; /* something was cut: nothing more is appended, "..." ends the repr */
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
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

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_cut(struct sbuf *b)
{
    b->full = 1;
}

/* ---- reads charged to the walk's value budget ---- */
static int vread(struct ps_walker *w, uint64_t addr, void *buf, size_t len)
{
    if (len > w->lim.budget - w->budget_used) {
        w->budget_used = w->lim.budget;
        return PS_LIMIT;
    }
    w->budget_used += len;
    return ps_mem_read(w->mem, addr, buf, len);
}

struct repr_ctx {
    struct ps_walker *w;
    struct sbuf *sb;
    unsigned depth;
    uint64_t stack[16]; /* containers being rendered, for [...] on cycles */
};

static void repr_obj(struct repr_ctx *c, uint64_t obj);

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
    if (vread(c->w, obj + (uint64_t)c->w->off.floatobj.ob_fval, &d, sizeof d))
        return sb_cut(c->sb);
    ps_format_float(d, 1, 0, out, sizeof out);
    sb_puts(c->sb, out);
}

static void repr_complex(struct repr_ctx *c, uint64_t obj)
{
    double v[2];
    char re[64], im[64];
    if (c->w->off.more.complex_cval == PS_OFF_NONE ||
        vread(c->w, obj + (uint64_t)c->w->off.more.complex_cval, v, sizeof v))
        return sb_cut(c->sb);
    if (v[0] == 0 && !signbit(v[0])) {
        ps_format_float(v[1], 0, 0, im, sizeof im);
        sb_printf(c->sb, "%sj", im);
    } else {
        ps_format_float(v[0], 0, 0, re, sizeof re);
        ps_format_float(v[1], 0, 1, im, sizeof im);
        sb_printf(c->sb, "(%s%sj)", re, im);
    }
}

/* Sign and magnitude digits (base 2^30) of an int object. */
static int read_int(struct repr_ctx *c, uint64_t obj, int *negative, uint32_t **digits,
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
    if ((rc = vread(c->w, obj + (uint64_t)o->longobj.digits, *digits, (size_t)nd * 4))) {
        free(*digits);
        return rc;
    }
    return PS_OK;
}

static void repr_int(struct repr_ctx *c, uint64_t obj)
{
    int negative;
    uint32_t *d;
    size_t n;
    if (read_int(c, obj, &negative, &d, &n))
        return sb_cut(c->sb);
    /* Repeated division by 10^9 of the base-2^30 magnitude; chunks come out least
     * significant first. */
    size_t cap = n * 10 / 9 + 2, nchunks = 0;
    uint32_t *chunks = malloc(cap * 4);
    if (!chunks) {
        free(d);
        return sb_cut(c->sb);
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
        sb_puts(c->sb, "-");
    if (nchunks == 0)
        sb_puts(c->sb, "0");
    for (size_t i = nchunks; i-- > 0;)
        sb_printf(c->sb, i == nchunks - 1 ? "%u" : "%09u", chunks[i]);
    free(chunks);
    free(d);
}

/* 2.7's long: the digits, then L. */
static void repr_long(struct repr_ctx *c, uint64_t obj)
{
    repr_int(c, obj);
    sb_puts(c->sb, c->w->off.reprs.long_suffix);
}

static void repr_bool(struct repr_ctx *c, uint64_t obj)
{
    int negative;
    uint32_t *d;
    size_t n;
    if (read_int(c, obj, &negative, &d, &n))
        return sb_cut(c->sb);
    sb_puts(c->sb, n > 0 && d[0] ? "True" : "False");
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
    sb_put(b, o, n);
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

/* repr() quotes with " when the text has a ' and no ", else with '. A cut str or bytes whose
 * kept part has a ' but no " needs the rest to decide: look for a " in the UNITS code units
 * of KIND bytes at ADDR, at most QUOTE_SCAN_MAX bytes (read like any value: charged to the
 * budget, and so in the snapshot). 1: there is one, 0: there is none, -1: undecided. */
static int dquote_follows(struct repr_ctx *c, uint64_t addr, uint64_t units, unsigned kind)
{
    unsigned char buf[4096]; /* a multiple of every kind */
    int capped = units > QUOTE_SCAN_MAX / kind;
    uint64_t left = capped ? QUOTE_SCAN_MAX : units * kind;
    while (left) {
        size_t chunk = left < sizeof buf ? (size_t)left : sizeof buf;
        if (vread(c->w, addr, buf, chunk))
            return -1;
        for (size_t i = 0; i < chunk / kind; i++)
            if (code_point(buf, kind, i) == '"')
                return 1;
        addr += chunk;
        left -= chunk;
    }
    return capped ? -1 : 0;
}

/* The quote repr() uses; -1 when it cannot be known within the limits. */
static int choose_quote(struct repr_ctx *c, int squote, int dquote, int cut, uint64_t rest_addr,
                        uint64_t rest_units, unsigned kind)
{
    if (!squote || dquote)
        return '\'';
    if (!cut)
        return '"';
    int follows = dquote_follows(c, rest_addr, rest_units, kind);
    return follows < 0 ? -1 : follows ? '\'' : '"';
}

static void repr_str(struct repr_ctx *c, uint64_t obj)
{
    struct ps_str_hdr h;
    if (ps_py_str_header(c->w, obj, &h))
        return sb_cut(c->sb);
    size_t n = (size_t)h.length, max = c->w->lim.max_str;
    int cut = n > max;
    if (cut)
        n = max;
    unsigned char *raw = malloc(n * h.kind + 1);
    if (!raw || vread(c->w, h.data, raw, n * h.kind)) {
        free(raw);
        return sb_cut(c->sb);
    }
    int squote = 0, dquote = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ch = code_point(raw, h.kind, i);
        squote |= ch == '\'';
        dquote |= ch == '"';
    }
    int q = choose_quote(c, squote, dquote, cut, h.data + n * h.kind, (uint64_t)h.length - n,
                         h.kind);
    if (q < 0) {
        free(raw);
        return sb_cut(c->sb);
    }
    char quote = (char)q;
    int ucd = ps_unicode_version_bit(c->w->off.major, c->w->off.minor);
    int ascii = c->w->off.reprs.text_ascii; /* 2.7: every non-ASCII character escaped */
    sb_puts(c->sb, c->w->off.reprs.text_prefix);
    sb_put(c->sb, &quote, 1);
    for (size_t i = 0; i < n && !c->sb->full; i++) {
        uint32_t ch = code_point(raw, h.kind, i);
        if (ch == (uint32_t)quote || ch == '\\')
            sb_printf(c->sb, "\\%c", (char)ch);
        else if (ch == '\t')
            sb_puts(c->sb, "\\t");
        else if (ch == '\n')
            sb_puts(c->sb, "\\n");
        else if (ch == '\r')
            sb_puts(c->sb, "\\r");
        else if (ch < 0x7f && ch >= 0x20)
            sb_put(c->sb, (const char *)&(char){(char)ch}, 1);
        else if (!ascii && ps_unicode_printable(ch, ucd))
            put_utf8(c->sb, ch);
        else if (ch <= 0xff)
            sb_printf(c->sb, "\\x%02x", ch);
        else if (ch <= 0xffff)
            sb_printf(c->sb, "\\u%04x", ch);
        else
            sb_printf(c->sb, "\\U%08x", ch);
    }
    free(raw);
    if (cut)
        return sb_cut(c->sb);
    sb_put(c->sb, &quote, 1);
}

static void repr_byte_string(struct repr_ctx *c, uint64_t data, uint64_t size, const char *prefix)
{
    size_t n = size > c->w->lim.max_str ? c->w->lim.max_str : (size_t)size;
    unsigned char *raw = malloc(n + 1);
    if (!raw || vread(c->w, data, raw, n)) {
        free(raw);
        return sb_cut(c->sb);
    }
    int squote = memchr(raw, '\'', n) != NULL, dquote = memchr(raw, '"', n) != NULL;
    sb_puts(c->sb, prefix);
    int q = choose_quote(c, squote, dquote, n < size, data + n, size - n, 1);
    if (q < 0) {
        free(raw);
        return sb_cut(c->sb);
    }
    char quote = (char)q;
    sb_put(c->sb, &quote, 1);
    for (size_t i = 0; i < n && !c->sb->full; i++) {
        unsigned char ch = raw[i];
        if (ch == (unsigned char)quote || ch == '\\')
            sb_printf(c->sb, "\\%c", ch);
        else if (ch == '\t')
            sb_puts(c->sb, "\\t");
        else if (ch == '\n')
            sb_puts(c->sb, "\\n");
        else if (ch == '\r')
            sb_puts(c->sb, "\\r");
        else if (ch < 0x20 || ch >= 0x7f)
            sb_printf(c->sb, "\\x%02x", ch);
        else
            sb_put(c->sb, (const char *)&ch, 1);
    }
    free(raw);
    if (n < size)
        return sb_cut(c->sb);
    sb_put(c->sb, &quote, 1);
}

static void repr_bytes(struct repr_ctx *c, uint64_t obj)
{
    uint64_t size;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_size, &size) || (int64_t)size < 0)
        return sb_cut(c->sb);
    repr_byte_string(c, obj + (uint64_t)c->w->off.bytes.ob_sval, size, c->w->off.reprs.bytes_prefix);
}

static void repr_bytearray(struct repr_ctx *c, uint64_t obj)
{
    uint64_t size, start;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_size, &size) || (int64_t)size < 0 ||
        ps_w_field_u64(c->w, obj, c->w->off.more.bytearray_start, &start))
        return sb_cut(c->sb);
    sb_puts(c->sb, "bytearray(");
    if (size == 0)
        sb_puts(c->sb, "b''");
    else
        repr_byte_string(c, start, size, "b");
    sb_puts(c->sb, ")");
}

/* ---- containers ---- */

/* Enter a container: 0 to go on, 1 when it is already being rendered (a cycle) or too deep. */
static int enter(struct repr_ctx *c, uint64_t obj, const char *cycle_text)
{
    for (unsigned i = 0; i < c->depth; i++)
        if (c->stack[i] == obj) {
            sb_puts(c->sb, cycle_text);
            return 1;
        }
    if (c->depth >= c->w->lim.max_depth || c->depth >= sizeof c->stack / sizeof c->stack[0]) {
        sb_cut(c->sb);
        return 1;
    }
    c->stack[c->depth++] = obj;
    return 0;
}

static void repr_items(struct repr_ctx *c, uint64_t items, uint64_t n)
{
    uint64_t shown = n < c->w->lim.max_items ? n : c->w->lim.max_items;
    uint64_t *v = malloc(shown * 8 + 8);
    if (!v || vread(c->w, items, v, shown * 8)) {
        free(v);
        return sb_cut(c->sb);
    }
    for (uint64_t i = 0; i < shown && !c->sb->full; i++) {
        if (i)
            sb_puts(c->sb, ", ");
        repr_obj(c, v[i]);
    }
    free(v);
    if (shown < n)
        sb_cut(c->sb);
}

static void repr_sequence(struct repr_ctx *c, uint64_t obj, int is_tuple)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t n, items;
    if (ps_w_field_u64(c->w, obj, o->object.ob_size, &n) || (int64_t)n < 0 || n > (1u << 28))
        return sb_cut(c->sb);
    if (is_tuple)
        items = obj + (uint64_t)o->tuple.ob_item;
    else if (ps_w_field_u64(c->w, obj, o->list.ob_item, &items))
        return sb_cut(c->sb);
    if (enter(c, obj, is_tuple ? "(...)" : "[...]"))
        return;
    sb_puts(c->sb, is_tuple ? "(" : "[");
    repr_items(c, items, n);
    if (is_tuple && n == 1)
        sb_puts(c->sb, ",");
    sb_puts(c->sb, is_tuple ? ")" : "]");
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
        sb_cut(c->sb);
        return PS_LIMIT;
    }
    if (d->count++)
        sb_puts(c->sb, ", ");
    repr_obj(c, key);
    sb_puts(c->sb, ": ");
    int eq = 0;
    char *name = NULL;
    /* A str key that looks like a secret: its value is not read. */
    if (ps_py_is(c->w, key, "str") &&
        ps_py_str(c->w, key, 256, &name, NULL) == PS_OK && ps_walk_redacts(c->w, name))
        eq = 1;
    free(name);
    if (eq)
        sb_puts(c->sb, "'<redacted>'");
    else
        repr_obj(c, value);
    return PS_OK;
}

static void repr_dict(struct repr_ctx *c, uint64_t obj)
{
    if (enter(c, obj, "{...}"))
        return;
    sb_puts(c->sb, "{");
    struct dict_render d = {c, 0};
    int rc = ps_py_dict_foreach(c->w, obj, dict_item, &d);
    if (rc && rc != PS_LIMIT)
        sb_cut(c->sb);
    sb_puts(c->sb, "}");
    c->depth--;
}

/* set_repr: {1, 2} for a set, TYPE({1, 2}) for a frozenset or a subclass, TYPE() empty. */
static void repr_set(struct repr_ctx *c, uint64_t obj)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t mask, table;
    const char *type;
    if (ps_py_typename(c->w, obj, &type))
        return sb_cut(c->sb);
    int exact = strcmp(type, "set") == 0;
    if (ps_w_field_u64(c->w, obj, o->more.set_mask, &mask) ||
        ps_w_field_u64(c->w, obj, o->more.set_table, &table) || mask >= (1u << 26))
        return sb_cut(c->sb);
    char cycle[32];
    snprintf(cycle, sizeof cycle, "%s(...)", type);
    if (enter(c, obj, cycle))
        return;
    /* Collect the live keys in table order (that is iteration order); skip the dummy. */
    size_t want = c->w->lim.max_items + 1, found = 0;
    uint64_t *keys = malloc(want * 8);
    uint64_t entry[2 * 64];
    for (uint64_t i = 0; keys && i <= mask && found < want; i += 64) {
        uint64_t chunk = mask + 1 - i < 64 ? mask + 1 - i : 64;
        if (vread(c->w, table + i * 16, entry, chunk * 16)) {
            sb_cut(c->sb);
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
        sb_printf(c->sb, "%s()", type);
    } else {
        int literal = exact && o->reprs.set_literal; /* 2.7: set([1, 2]) */
        const char *open = o->reprs.set_literal ? "{" : "[", *close = o->reprs.set_literal ? "}" : "]";
        if (literal)
            sb_puts(c->sb, open);
        else
            sb_printf(c->sb, "%s(%s", type, open);
        size_t shown = found < c->w->lim.max_items ? found : c->w->lim.max_items;
        for (size_t i = 0; i < shown && !c->sb->full; i++) {
            if (i)
                sb_puts(c->sb, ", ");
            repr_obj(c, keys[i]);
        }
        if (found > shown)
            sb_cut(c->sb);
        sb_puts(c->sb, close);
        if (!literal)
            sb_puts(c->sb, ")");
    }
    free(keys);
    c->depth--;
}

static void repr_range(struct repr_ctx *c, uint64_t obj)
{
    uint64_t v[3];
    if (c->w->off.more.range_start == PS_OFF_NONE ||
        vread(c->w, obj + (uint64_t)c->w->off.more.range_start, v, sizeof v))
        return sb_cut(c->sb);
    sb_puts(c->sb, "range(");
    repr_int(c, v[0]);
    sb_puts(c->sb, ", ");
    repr_int(c, v[1]);
    /* step 1 is left out, as range.__repr__ does */
    size_t mark = c->sb->len;
    sb_puts(c->sb, ", ");
    repr_int(c, v[2]);
    if (!c->sb->full && c->sb->len - mark == 3 && c->sb->p[mark + 2] == '1')
        c->sb->len = mark;
    sb_puts(c->sb, ")");
}

/* ---- everything else ---- */

/* __module__ and __qualname__ of a type, as object.__repr__ and type.__repr__ find them. */
static void type_names(struct ps_walker *w, uint64_t type, char **module, char **qualname)
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

static void repr_default(struct repr_ctx *c, uint64_t obj)
{
    uint64_t type;
    char *module, *qualname;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_type, &type))
        return sb_cut(c->sb);
    type_names(c->w, type, &module, &qualname);
    if (module && strcmp(module, c->w->off.reprs.builtins) != 0)
        sb_printf(c->sb, "<%s.%s object at 0x%llx>", module, qualname ? qualname : "?",
                  (unsigned long long)obj);
    else
        sb_printf(c->sb, "<%s object at 0x%llx>", qualname ? qualname : "?",
                  (unsigned long long)obj);
    free(module);
    free(qualname);
}

static void repr_type(struct repr_ctx *c, uint64_t obj)
{
    char *module, *qualname;
    uint64_t flags = 0;
    type_names(c->w, obj, &module, &qualname);
    /* 2.7 says <type 'int'> for the types not made by a class statement */
    const char *word = ps_w_field_u64(c->w, obj, c->w->off.object.tp_flags, &flags) == PS_OK &&
                               !(flags & TPFLAGS_HEAPTYPE)
                           ? c->w->off.reprs.builtin_type_word
                           : "class";
    if (module && strcmp(module, c->w->off.reprs.builtins) != 0)
        sb_printf(c->sb, "<%s '%s.%s'>", word, module, qualname ? qualname : "?");
    else
        sb_printf(c->sb, "<%s '%s'>", word, qualname ? qualname : "?");
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
        return repr_default(c, obj);
    sb_printf(c->sb, "<function %s at 0x%llx>", name, (unsigned long long)obj);
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
        sb_printf(c->sb, "<class %s.%s at 0x%llx>", module, name ? name : "?", (unsigned long long)obj);
    else
        sb_printf(c->sb, "<class ?.%s at 0x%llx>", name ? name : "?", (unsigned long long)obj);
    free(module);
    free(name);
}

static void repr_instance(struct repr_ctx *c, uint64_t obj)
{
    uint64_t cls;
    char *module, *name;
    if (ps_w_field_u64(c->w, obj, c->w->off.more.in_class, &cls))
        return sb_cut(c->sb);
    classobj_names(c, cls, &module, &name);
    sb_printf(c->sb, "<%s.%s instance at 0x%llx>", module ? module : "?", name ? name : "?",
              (unsigned long long)obj);
    free(module);
    free(name);
}

static void repr_none(struct repr_ctx *c, uint64_t obj) { (void)obj; sb_puts(c->sb, "None"); }
static void repr_ellipsis(struct repr_ctx *c, uint64_t obj) { (void)obj; sb_puts(c->sb, "Ellipsis"); }
static void repr_notimpl(struct repr_ctx *c, uint64_t obj) { (void)obj; sb_puts(c->sb, "NotImplemented"); }
static void repr_tuple(struct repr_ctx *c, uint64_t obj) { repr_sequence(c, obj, 1); }
static void repr_list(struct repr_ctx *c, uint64_t obj) { repr_sequence(c, obj, 0); }

static const struct {
    const char *type;
    void (*render)(struct repr_ctx *c, uint64_t obj);
} renderers[] = {
    {"NoneType", repr_none},   {"bool", repr_bool},          {"int", repr_int},
    {"float", repr_float},     {"complex", repr_complex},    {"str", repr_str},
    {"bytes", repr_bytes},     {"bytearray", repr_bytearray}, {"tuple", repr_tuple},
    {"list", repr_list},       {"dict", repr_dict},          {"set", repr_set},
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

static void repr_obj(struct repr_ctx *c, uint64_t obj)
{
    const char *tn;
    if (c->sb->full)
        return;
    if (!obj || ps_py_typename(c->w, obj, &tn))
        return sb_cut(c->sb);
    renderer_fn render = renderer_for(c->w, tn);
    if (!render)
        render = inherited_renderer(c->w, obj);
    (render ? render : repr_default)(c, obj);
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
    if (red)
        return red > 0 ? PS_OK : PS_NOMEM;
    const char *tn;
    if (ps_py_typename(w, obj, &tn) == PS_OK && !(out->type = strdup(tn)))
        return PS_NOMEM;
    struct sbuf sb = {NULL, 0, 0, w->lim.max_repr, 0};
    struct repr_ctx c = {.w = w, .sb = &sb};
    repr_obj(&c, obj);
    if (sb.full) {
        sb.full = 0;
        sb.limit = sb.len + 3;
        sb_puts(&sb, "...");
        out->truncated = 1;
    }
    sb_put(&sb, "", 0);
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

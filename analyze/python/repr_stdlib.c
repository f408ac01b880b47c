/* The stdlib values a web app holds, rendered exactly as their repr() would print them:
 * datetime, Decimal, UUID, enum members, namedtuples, deque, OrderedDict, defaultdict,
 * Counter, Fraction, exceptions, bound methods, partial, re.Pattern, memoryview, slice,
 * SimpleNamespace, modules, locks, code objects, dataclasses.
 *
 * Two tables. C types are found by tp_name along the tp_base chain, checked by layout (the
 * type's tp_basicsize is the one measured with the offsets row, repr_offsets.c) and used only
 * when the object's type has that type's tp_repr (a subclass that defines __repr__ does not).
 * Classes written in Python are found by the function their MRO resolves __repr__ to (its
 * __module__ and __qualname__): a subclass that overrides __repr__ resolves to its own.
 * Anything else, or anything that does not read back consistently, falls back to the generic
 * form or is cut. The choice is cached per type. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "repr_internal.h"
#include "repr_offsets.h"
#include "walker_internal.h"

#define TPFLAGS_HEAPTYPE (1ull << 9)
#define TP_REPR_BEFORE_TP_FLAGS 80 /* as in repr.c: PyTypeObject is the same in 3.6-3.15 */
#define TP_BASE_BEFORE_TP_DICT 8
#define MAX_BASES 32
#define MAX_DEC_WORDS 4096        /* mpd_t coefficient words (19 digits each) read at most */
#define MAX_DEC_LEN (1LL << 40)   /* coefficient words of a sane mpd_t (no overflow below) */
#define MAX_EXP 1000000000000000000LL /* |exponent| of a sane mpd_t (MPD_MAX_EMAX is 10^18-1) */
#define PATTERN_REPR_CHARS 200   /* re.compile(%.200R): the pattern's repr is cut there */
#define MAX_DEQUE_BLOCKS 256      /* blocks followed per deque (16384 items) */

typedef void (*stdlib_fn)(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r);

/* ---- reading ---- */

/* The I-th offsets row of the target's version and build (GIL or free-threaded). */
static const struct ps_repr_offsets *rows(struct ps_walker *w, unsigned i)
{
    return ps_repr_offsets(w->off.major, w->off.minor, w->off.free_threaded, i);
}

/* How much longer the target's object header is than that of the build the rows were
 * measured on (a Py_TRACE_REFS build's; 0 otherwise: all rows of a version and build share
 * their header). */
static int64_t head_shift(struct ps_walker *w)
{
    const struct ps_repr_offsets *r = rows(w, 0);
    return r ? (int64_t)w->off.object.ob_type - r->ob_type : 0;
}

static uint64_t at(struct ps_walker *w, uint64_t obj, ps_off off)
{
    return obj + (uint64_t)(int64_t)off + (uint64_t)head_shift(w);
}

static int rd(struct repr_ctx *c, uint64_t obj, ps_off off, void *buf, size_t len)
{
    return ps_repr_read(c->w, at(c->w, obj, off), buf, len);
}

static int rd_u64(struct repr_ctx *c, uint64_t obj, ps_off off, uint64_t *v)
{
    return rd(c, obj, off, v, sizeof *v);
}

static int type_of(struct ps_walker *w, uint64_t obj, uint64_t *type)
{
    return ps_w_field_u64(w, obj, w->off.object.ob_type, type);
}

static int type_name(struct ps_walker *w, uint64_t type, char *buf, size_t size)
{
    uint64_t tp_name;
    int rc = ps_w_field_u64(w, type, w->off.object.tp_name, &tp_name);
    return rc ? rc : ps_w_cstr(w, tp_name, buf, size);
}

/* The type's tp_name, or after its last dot (_PyType_Name) when SHORT. */
static void put_type_name(struct repr_ctx *c, uint64_t obj, int short_name)
{
    uint64_t type;
    char name[128];
    if (type_of(c->w, obj, &type) || type_name(c->w, type, name, sizeof name))
        return ps_sb_cut(c->sb);
    const char *dot = short_name ? strrchr(name, '.') : NULL;
    ps_sb_puts(c->sb, dot ? dot + 1 : name);
}

static int tp_repr_of(struct ps_walker *w, uint64_t type, uint64_t *repr)
{
    return ps_w_field_u64(w, type, w->off.object.tp_flags - TP_REPR_BEFORE_TP_FLAGS, repr);
}

static int tp_base_of(struct ps_walker *w, uint64_t type, uint64_t *base)
{
    if (w->off.more.tp_dict == PS_OFF_NONE)
        return PS_CORRUPT;
    return ps_w_field_u64(w, type, w->off.more.tp_dict - TP_BASE_BEFORE_TP_DICT, base);
}

/* A str object as UTF-8 (malloc'd) when OBJ is a str, else NULL. */
static char *str_of(struct ps_walker *w, uint64_t obj, size_t max)
{
    char *s = NULL;
    if (obj && ps_py_is(w, obj, "str") && ps_py_str(w, obj, max, &s, NULL) != PS_OK)
        s = NULL;
    return s;
}

/* A small int object's value (|v| < 2^60), for counts, flags and field values. */
static int small_int(struct repr_ctx *c, uint64_t obj, int64_t *v)
{
    int neg;
    uint32_t *d;
    size_t n;
    if (!ps_py_is(c->w, obj, "int") && !ps_py_is(c->w, obj, "bool"))
        return PS_CORRUPT;
    int rc = ps_repr_read_int(c, obj, &neg, &d, &n);
    if (rc)
        return rc;
    if (n > 2) {
        free(d);
        return PS_LIMIT;
    }
    uint64_t m = 0;
    for (size_t i = n; i-- > 0;)
        m = m << 30 | (d[i] & 0x3fffffff);
    free(d);
    *v = neg ? -(int64_t)m : (int64_t)m;
    return PS_OK;
}

/* The first value of NAME in the class dicts along TYPE's MRO (a class attribute), *V = 0
 * when none has it. (Static types of 3.12+ keep no dict there: they are passed over.) */
static int mro_lookup(struct ps_walker *w, uint64_t type, const struct ps_repr_offsets *r,
                      const char *name, uint64_t *v)
{
    uint64_t mro, n, k, dict;
    *v = 0;
    if (w_u64(w, at(w, type, r->tp_mro), &mro) || !ps_py_is(w, mro, "tuple") ||
        ps_w_field_u64(w, mro, w->off.object.ob_size, &n))
        return PS_CORRUPT;
    for (uint64_t i = 0; i < n && i < MAX_BASES; i++) {
        if (w_u64(w, mro + (uint64_t)w->off.tuple.ob_item + i * 8, &k) || !k ||
            ps_w_field_u64(w, k, w->off.more.tp_dict, &dict))
            return PS_CORRUPT;
        if (dict && ps_py_dict_get(w, dict, name, v) == PS_OK && *v)
            return PS_OK;
    }
    *v = 0;
    return PS_OK;
}

/* The value of the attribute NAME of OBJ: from its instance dict, else from the __slots__
 * member of that name (the member descriptor in a class dict gives its offset). *V = 0
 * when there is none. */
static int attr(struct repr_ctx *c, uint64_t obj, const char *name, uint64_t *v,
                const struct ps_repr_offsets *r)
{
    struct ps_walker *w = c->w;
    uint64_t type, desc, def, size;
    int64_t off;
    *v = 0;
    if (ps_py_getattr(w, obj, name, v) == PS_OK && *v)
        return PS_OK;
    *v = 0;
    if (type_of(w, obj, &type) || mro_lookup(w, type, r, name, &desc))
        return PS_CORRUPT;
    if (!desc)
        return PS_OK;
    if (!ps_py_is(w, desc, "member_descriptor") ||
        ps_repr_read(w, at(w, desc, r->memberdescr_def), &def, 8) ||
        ps_repr_read(w, def + (uint64_t)r->memberdef_offset, &off, 8) ||
        ps_w_field_u64(w, type, w->off.object.tp_basicsize, &size) ||
        off < w->off.object.ob_type + 8 ||
        (uint64_t)off + 8 > size)
        return PS_CORRUPT;
    return ps_repr_read(w, obj + (uint64_t)off, v, 8);
}

/* The text of the str OBJ (not its repr), at most MAX characters: longer ones are cut. 0, or
 * -1 when OBJ is no readable str (nothing written). */
static int put_text(struct repr_ctx *c, uint64_t obj, size_t max)
{
    char *s = NULL;
    int cut = 0;
    if (!obj || !ps_py_is(c->w, obj, "str") || ps_py_str(c->w, obj, max, &s, &cut) != PS_OK)
        return -1;
    ps_sb_puts(c->sb, s);
    free(s);
    if (cut)
        ps_sb_cut(c->sb);
    return 0;
}

/* Does the str NAME look like a secret (the --redact pattern)? */
static int redacts(struct repr_ctx *c, uint64_t name)
{
    char *s = str_of(c->w, name, 256);
    int r = s && ps_walk_redacts(c->w, s);
    free(s);
    return r;
}

/* NAME=repr(VALUE), as keyword-style reprs print a field; a name that looks like a secret
 * gets '<redacted>' (VALUE is not read), as a dict's key does. */
static void put_keyword(struct repr_ctx *c, uint64_t name, uint64_t value)
{
    if (put_text(c, name, c->w->lim.max_name))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "=");
    if (redacts(c, name))
        ps_sb_puts(c->sb, "'<redacted>'");
    else if (value)
        ps_repr_obj(c, value);
    else
        ps_sb_cut(c->sb);
}

static void keep_value(struct repr_ctx *c, uint64_t obj, const char *s)
{
    if (obj == c->root && !c->value)
        c->value = strdup(s);
}

/* ---- datetime ---- */

static const char *const FOLD_KW = ", fold=1";

static void put_fold_tz(struct repr_ctx *c, int fold, int hastz, uint64_t obj, ps_off tz_off)
{
    uint64_t tz = 0;
    if (fold)
        ps_sb_puts(c->sb, FOLD_KW);
    if (hastz) {
        if (rd_u64(c, obj, tz_off, &tz))
            return ps_sb_cut(c->sb);
        if (!ps_py_is(c->w, tz, "NoneType")) {
            ps_sb_puts(c->sb, ", tzinfo=");
            ps_repr_obj(c, tz);
        }
    }
    ps_sb_puts(c->sb, ")");
}

/* "+05:30" for a datetime.timezone tzinfo (isoformat's), "" when none, NULL when unknown. */
static int iso_offset(struct repr_ctx *c, uint64_t tz, const struct ps_repr_offsets *r,
                      char *out, size_t size)
{
    uint64_t delta;
    int32_t v[3];
    *out = '\0';
    if (!tz || ps_py_is(c->w, tz, "NoneType"))
        return PS_OK;
    if (!ps_py_is(c->w, tz, "datetime.timezone") || rd_u64(c, tz, r->tz_offset, &delta) ||
        !ps_py_is(c->w, delta, "datetime.timedelta") || rd(c, delta, r->delta_days, v, sizeof v))
        return PS_CORRUPT;
    /* a timezone's offset is within a day; anything else is hostile memory */
    if (v[0] < -1 || v[0] > 0 || v[1] < 0 || v[1] >= 86400 || v[2] < 0 || v[2] >= 1000000)
        return PS_CORRUPT;
    int64_t us = ((int64_t)v[0] * 86400 + v[1]) * 1000000 + v[2];
    char sign = us < 0 ? '-' : '+';
    if (us < 0)
        us = -us;
    int64_t s = us / 1000000;
    int n = snprintf(out, size, "%c%02d:%02d", sign, (int)(s / 3600), (int)(s / 60 % 60));
    if (s % 60 || us % 1000000)
        n += snprintf(out + n, size - (size_t)n, ":%02d", (int)(s % 60));
    if (us % 1000000)
        snprintf(out + n, size - (size_t)n, ".%06d", (int)(us % 1000000));
    return PS_OK;
}

static void repr_date(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    unsigned char d[4];
    char iso[32];
    if (rd(c, obj, r->date_data, d, sizeof d))
        return ps_sb_cut(c->sb);
    int y = d[0] << 8 | d[1];
    put_type_name(c, obj, 0);
    ps_sb_printf(c->sb, "(%d, %d, %d)", y, d[2], d[3]);
    snprintf(iso, sizeof iso, "%04d-%02d-%02d", y, d[2], d[3]);
    keep_value(c, obj, iso);
}

/* "(13, 14)", "(13, 14, 15)" or "(13, 14, 15, 123)": trailing zeros left out. */
static void put_hms(struct repr_ctx *c, const unsigned char *t, int leading_comma)
{
    int us = t[3] << 16 | t[4] << 8 | t[5];
    ps_sb_printf(c->sb, "%s%d, %d", leading_comma ? ", " : "(", t[0], t[1]);
    if (t[2] || us)
        ps_sb_printf(c->sb, ", %d", t[2]);
    if (us)
        ps_sb_printf(c->sb, ", %d", us);
}

static void iso_time(char *out, size_t size, const unsigned char *t, const char *offset)
{
    int us = t[3] << 16 | t[4] << 8 | t[5];
    if (us)
        snprintf(out, size, "%02d:%02d:%02d.%06d%s", t[0], t[1], t[2], us, offset);
    else
        snprintf(out, size, "%02d:%02d:%02d%s", t[0], t[1], t[2], offset);
}

static void repr_time(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    unsigned char t[6], hastz, fold;
    uint64_t tz = 0;
    char off[32], iso[64];
    if (rd(c, obj, r->time_data, t, sizeof t) || rd(c, obj, r->time_hastz, &hastz, 1) ||
        rd(c, obj, r->time_fold, &fold, 1) || (hastz && rd_u64(c, obj, r->time_tzinfo, &tz)))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 0);
    put_hms(c, t, 0);
    put_fold_tz(c, fold, hastz, obj, r->time_tzinfo);
    if (iso_offset(c, tz, r, off, sizeof off) == PS_OK) {
        iso_time(iso, sizeof iso, t, off);
        keep_value(c, obj, iso);
    }
}

static void repr_datetime(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    unsigned char d[10], fold;
    uint64_t tz = 0;
    char off[32], tm[64], iso[96];
    /* hastzinfo is the byte before the data, as in time */
    if (rd(c, obj, r->datetime_data - 1, d, 1))
        return ps_sb_cut(c->sb);
    unsigned char hastz = d[0];
    if (rd(c, obj, r->datetime_data, d, sizeof d) || rd(c, obj, r->datetime_fold, &fold, 1) ||
        (hastz && rd_u64(c, obj, r->datetime_tzinfo, &tz)))
        return ps_sb_cut(c->sb);
    int y = d[0] << 8 | d[1];
    put_type_name(c, obj, 0);
    ps_sb_printf(c->sb, "(%d, %d, %d", y, d[2], d[3]);
    put_hms(c, d + 4, 1);
    put_fold_tz(c, fold, hastz, obj, r->datetime_tzinfo);
    if (iso_offset(c, tz, r, off, sizeof off) == PS_OK) {
        iso_time(tm, sizeof tm, d + 4, off);
        snprintf(iso, sizeof iso, "%04d-%02d-%02dT%s", y, d[2], d[3], tm);
        keep_value(c, obj, iso);
    }
}

static void repr_timedelta(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    int32_t v[3];
    static const char *const names[3] = {"days", "seconds", "microseconds"};
    if (rd(c, obj, r->delta_days, v, sizeof v))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 0);
    ps_sb_puts(c->sb, "(");
    if (r->delta_positional) {
        /* days, then seconds when they or microseconds are not 0, then microseconds */
        int shown = v[2] ? 3 : v[1] ? 2 : 1;
        for (int i = 0; i < shown; i++)
            ps_sb_printf(c->sb, "%s%d", i ? ", " : "", v[i]);
        return ps_sb_puts(c->sb, ")");
    }
    int any = 0;
    for (int i = 0; i < 3; i++)
        if (v[i]) {
            ps_sb_printf(c->sb, "%s%s=%d", any ? ", " : "", names[i], v[i]);
            any = 1;
        }
    ps_sb_puts(c->sb, any ? ")" : "0)");
}

static void repr_timezone(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t offset, name;
    int32_t v[3];
    if (rd_u64(c, obj, r->tz_offset, &offset) || rd_u64(c, obj, r->tz_name, &name) ||
        !ps_py_is(c->w, offset, "datetime.timedelta") || rd(c, offset, r->delta_days, v, sizeof v))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 0);
    /* new_timezone() returns the utc singleton for a zero offset without a name */
    if (!name && !v[0] && !v[1] && !v[2])
        return ps_sb_puts(c->sb, ".utc");
    ps_sb_puts(c->sb, "(");
    ps_repr_obj(c, offset);
    if (name) {
        ps_sb_puts(c->sb, ", ");
        ps_repr_obj(c, name);
    }
    ps_sb_puts(c->sb, ")");
}

/* zoneinfo.ZoneInfo(key='Europe/Paris'); one made from a file (no key) is cut. */
static void repr_zoneinfo(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t key;
    if (r->zoneinfo_key == PS_OFF_NONE || rd_u64(c, obj, r->zoneinfo_key, &key) ||
        !ps_py_is(c->w, key, "str"))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 0);
    ps_sb_puts(c->sb, "(key=");
    ps_repr_obj(c, key);
    ps_sb_puts(c->sb, ")");
}

/* ---- decimal ---- */

#define MPD_NEG 1
#define MPD_INF 2
#define MPD_NAN 4
#define MPD_SNAN 8
#define MPD_RDIGITS 19

/* The coefficient's digits, most significant first (malloc'd), at most MAX of them. */
static int dec_coefficient(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r,
                           size_t max, char **out, int64_t *ndigits)
{
    int64_t digits, len;
    uint64_t data;
    *out = NULL;
    if (rd(c, obj, r->dec_digits, &digits, 8) || rd(c, obj, r->dec_len, &len, 8) ||
        rd_u64(c, obj, r->dec_data, &data))
        return PS_CORRUPT;
    if (len < 1 || len > MAX_DEC_LEN || digits < 1 || digits > len * MPD_RDIGITS ||
        digits <= (len - 1) * MPD_RDIGITS)
        return PS_CORRUPT;
    *ndigits = digits;
    /* Only the top words hold the first MAX digits. */
    int64_t want = (int64_t)(max / MPD_RDIGITS) + 2;
    if (want > MAX_DEC_WORDS)
        want = MAX_DEC_WORDS;
    if (want > len)
        want = len;
    uint64_t *words = malloc((size_t)want * 8);
    char *s = malloc((size_t)want * MPD_RDIGITS + 1);
    if (!words || !s ||
        ps_repr_read(c->w, data + (uint64_t)(len - want) * 8, words, (size_t)want * 8)) {
        free(words);
        free(s);
        return PS_CORRUPT;
    }
    size_t n = 0;
    for (int64_t i = want; i-- > 0;) {
        if (words[i] >= 10000000000000000000ull) {
            free(words);
            free(s);
            return PS_CORRUPT;
        }
        n += (size_t)sprintf(s + n, i == want - 1 ? "%" PRIu64 : "%019" PRIu64, words[i]);
    }
    free(words);
    /* the top word's digit count must agree with DIGITS */
    if ((int64_t)n != digits - (len - want) * MPD_RDIGITS) {
        free(s);
        return PS_CORRUPT;
    }
    *out = s;
    return PS_OK;
}

/* Decimal's str (to_sci_string, capitals) into B: the whole of it, or a prefix and a cut. */
static void dec_string(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r,
                       struct sbuf *b)
{
    uint8_t flags;
    int64_t exp, nd;
    char *coef;
    if (rd(c, obj, r->dec_flags, &flags, 1) || rd(c, obj, r->dec_exp, &exp, 8))
        return ps_sb_cut(b);
    if (flags & MPD_NEG)
        ps_sb_puts(b, "-");
    if (flags & MPD_INF)
        return ps_sb_puts(b, "Infinity");
    int64_t len;
    if ((flags & (MPD_NAN | MPD_SNAN)) &&
        (rd(c, obj, r->dec_len, &len, 8) || len == 0)) /* no payload: no coefficient */
        return ps_sb_puts(b, flags & MPD_SNAN ? "sNaN" : "NaN");
    size_t max = c->w->lim.max_str;
    if (dec_coefficient(c, obj, r, max, &coef, &nd))
        return ps_sb_cut(b);
    size_t have = strlen(coef); /* a prefix when the coefficient has more than MAX digits */
    int whole = (int64_t)have == nd;
    if (flags & (MPD_NAN | MPD_SNAN)) {
        ps_sb_puts(b, flags & MPD_SNAN ? "sNaN" : "NaN");
        if (strcmp(coef, "0") != 0)
            ps_sb_puts(b, coef);
    } else if (exp < -MAX_EXP || exp > MAX_EXP) {
        ps_sb_cut(b);
    } else {
        int64_t left = exp + nd; /* digits left of the point */
        if (exp <= 0 && left > -6) {
            if (left <= 0) {
                ps_sb_puts(b, "0.");
                for (int64_t i = 0; i < -left; i++)
                    ps_sb_puts(b, "0");
                ps_sb_put(b, coef, have);
            } else if (left >= nd) {
                ps_sb_put(b, coef, have);
            } else if ((int64_t)have > left) {
                ps_sb_put(b, coef, (size_t)left);
                ps_sb_puts(b, ".");
                ps_sb_put(b, coef + left, have - (size_t)left);
            } else {
                ps_sb_put(b, coef, have);
            }
            if (!whole)
                ps_sb_cut(b);
        } else {
            ps_sb_put(b, coef, 1);
            if (nd > 1) {
                ps_sb_puts(b, ".");
                ps_sb_put(b, coef + 1, have - 1);
            }
            if (!whole)
                ps_sb_cut(b);
            ps_sb_printf(b, "E%+" PRId64, left - 1);
        }
    }
    free(coef);
}

static void repr_decimal(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    struct sbuf s = {NULL, 0, 0, c->sb->limit, 0};
    dec_string(c, obj, r, &s);
    ps_sb_puts(c->sb, "Decimal('");
    if (s.len)
        ps_sb_put(c->sb, s.p, s.len);
    if (s.full) {
        free(s.p);
        return ps_sb_cut(c->sb);
    }
    ps_sb_puts(c->sb, "')");
    ps_sb_put(&s, "", 0);
    if (s.p) {
        s.p[s.len] = '\0';
        keep_value(c, obj, s.p);
    }
    free(s.p);
}

/* ---- collections ---- */

static void repr_deque(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    int64_t n, index, maxlen;
    uint64_t block;
    if (ps_w_field_u64(c->w, obj, c->w->off.object.ob_size, (uint64_t *)&n) ||
        rd_u64(c, obj, r->deque_leftblock, &block) || rd(c, obj, r->deque_leftindex, &index, 8) ||
        rd(c, obj, r->deque_maxlen, &maxlen, 8) || n < 0 || index < 0 ||
        index >= r->deque_blocklen)
        return ps_sb_cut(c->sb);
    if (ps_repr_enter(c, obj, "[...]"))
        return;
    put_type_name(c, obj, 1);
    ps_sb_puts(c->sb, "([");
    uint64_t shown = (uint64_t)n < c->w->lim.max_items ? (uint64_t)n : c->w->lim.max_items;
    uint64_t items[64], seen[MAX_DEQUE_BLOCKS];
    size_t nseen = 0;
    /* a block seen before is a cycle (hostile memory): cut there */
    for (uint64_t i = 0; i < shown && !c->sb->full;) {
        for (size_t k = 0; k < nseen; k++)
            if (seen[k] == block)
                block = 0;
        if (!block || nseen == MAX_DEQUE_BLOCKS) {
            ps_sb_cut(c->sb);
            break;
        }
        seen[nseen++] = block;
        size_t take = (size_t)(r->deque_blocklen - index);
        if (take > shown - i)
            take = (size_t)(shown - i);
        if (take > 64 ||
            ps_repr_read(c->w, block + (uint64_t)r->deque_block_data + (uint64_t)index * 8, items,
                         take * 8)) {
            ps_sb_cut(c->sb);
            break;
        }
        for (size_t j = 0; j < take && !c->sb->full; j++, i++) {
            if (i)
                ps_sb_puts(c->sb, ", ");
            ps_repr_obj(c, items[j]);
        }
        if (i < shown && ps_repr_read(c->w, block + (uint64_t)r->deque_block_data +
                                                 (uint64_t)r->deque_blocklen * 8, &block, 8)) {
            ps_sb_cut(c->sb);
            break;
        }
        index = 0;
    }
    if (shown < (uint64_t)n)
        ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "]");
    if (maxlen >= 0)
        ps_sb_printf(c->sb, ", maxlen=%" PRId64, maxlen);
    ps_sb_puts(c->sb, ")");
    c->depth--;
}

/* A dict's first entries (key, value), at most MAX. */
struct entries {
    uint64_t *kv;
    size_t n, max;
};

static int entry_cb(void *arg, uint64_t key, uint64_t value)
{
    struct entries *e = arg;
    if (e->n >= e->max)
        return PS_LIMIT;
    e->kv[2 * e->n] = key;
    e->kv[2 * e->n + 1] = value;
    e->n++;
    return PS_OK;
}

/* E->kv is malloc'd on success only. */
static int dict_entries(struct repr_ctx *c, uint64_t dict, size_t max, struct entries *e)
{
    e->n = 0;
    e->max = max;
    e->kv = malloc(max * 16 + 16);
    if (!e->kv)
        return PS_NOMEM;
    int rc = ps_py_dict_foreach(c->w, dict, entry_cb, e);
    if (rc && rc != PS_LIMIT) {
        free(e->kv);
        e->kv = NULL;
        return rc;
    }
    return PS_OK;
}

static uint64_t dict_used(struct ps_walker *w, uint64_t dict)
{
    uint64_t used = 0;
    ps_w_field_u64(w, dict, w->off.dict.ma_used, &used);
    return used;
}

/* 3.12+ print an OrderedDict as TYPE({k: v}), before as TYPE([(k, v)]). */
static int odict_as_dict(const struct ps_walker *w)
{
    return w->off.major > 3 || w->off.minor >= 12;
}

static void repr_odict(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    char cyc[160];
    struct sbuf name = {NULL, 0, 0, 128, 0};
    struct repr_ctx nc = *c;
    nc.sb = &name;
    put_type_name(&nc, obj, 1);
    ps_sb_put(&name, "", 0);
    snprintf(cyc, sizeof cyc, "%.*s(...)", (int)name.len, name.p ? name.p : "?");
    if (ps_repr_enter(c, obj, cyc)) {
        free(name.p);
        return;
    }
    if (name.len)
        ps_sb_put(c->sb, name.p, name.len);
    free(name.p);
    uint64_t used = dict_used(c->w, obj), node;
    struct entries e = {NULL, 0, 0};
    /* the entries to match nodes against: as many as are shown, or all there are */
    size_t max = used < c->w->lim.max_dict ? (size_t)used : c->w->lim.max_dict;
    if (used == 0) {
        ps_sb_puts(c->sb, "()");
    } else if (rd_u64(c, obj, r->odict_first, &node) || dict_entries(c, obj, max, &e)) {
        ps_sb_cut(c->sb);
    } else {
        int as_dict = odict_as_dict(c->w);
        ps_sb_puts(c->sb, as_dict ? "({" : "([");
        /* the node list gives the order (move_to_end changes it, not the dict) */
        for (uint64_t i = 0; node && !c->sb->full; i++) {
            uint64_t nk[3], value = 0;
            if (i >= c->w->lim.max_items || i >= used ||
                ps_repr_read(c->w, node, nk, sizeof nk)) {
                ps_sb_cut(c->sb);
                break;
            }
            for (size_t j = 0; j < e.n && !value; j++)
                if (e.kv[2 * j] == nk[0])
                    value = e.kv[2 * j + 1];
            if (!value) {
                ps_sb_cut(c->sb);
                break;
            }
            ps_sb_puts(c->sb, i ? (as_dict ? ", " : "), (") : (as_dict ? "" : "("));
            ps_repr_obj(c, nk[0]);
            ps_sb_puts(c->sb, as_dict ? ": " : ", ");
            ps_repr_obj(c, value);
            node = nk[2];
        }
        ps_sb_puts(c->sb, as_dict ? "})" : ")])");
        free(e.kv);
    }
    c->depth--;
}

static void repr_defaultdict(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t factory;
    if (rd_u64(c, obj, r->defdict_factory, &factory))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 1);
    ps_sb_puts(c->sb, "(");
    if (!factory)
        ps_sb_puts(c->sb, "None");
    else if (!ps_repr_enter(c, obj, "...")) {
        ps_repr_obj(c, factory);
        c->depth--;
    }
    ps_sb_puts(c->sb, ", ");
    ps_repr_dict(c, obj);
    ps_sb_puts(c->sb, ")");
}

/* Counter: most_common() order (by count, largest first, stable), as a dict. */
static void repr_counter(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    (void)r;
    struct entries e;
    uint64_t used = dict_used(c->w, obj);
    put_type_name(c, obj, 0);
    if (used == 0)
        return ps_sb_puts(c->sb, "()");
    /* sorting needs every count */
    if (used > c->w->lim.max_dict || dict_entries(c, obj, (size_t)used, &e))
        return ps_sb_cut(c->sb);
    int64_t *counts = malloc(e.n * 8 + 8);
    size_t *order = malloc(e.n * sizeof *order + 8);
    int ok = counts && order && e.n == used;
    for (size_t i = 0; ok && i < e.n; i++) {
        ok = small_int(c, e.kv[2 * i + 1], &counts[i]) == PS_OK;
        order[i] = i;
    }
    for (size_t i = 1; ok && i < e.n; i++) /* insertion sort: stable */
        for (size_t j = i; j > 0 && counts[order[j - 1]] < counts[order[j]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (!ok || ps_repr_enter(c, obj, "...")) {
        if (!ok)
            ps_sb_cut(c->sb);
    } else {
        ps_sb_puts(c->sb, "({");
        for (size_t i = 0; i < e.n && !c->sb->full; i++) {
            if (i >= c->w->lim.max_items) {
                ps_sb_cut(c->sb);
                break;
            }
            if (i)
                ps_sb_puts(c->sb, ", ");
            ps_repr_obj(c, e.kv[2 * order[i]]);
            ps_sb_printf(c->sb, ": %" PRId64, counts[order[i]]);
        }
        ps_sb_puts(c->sb, "})");
        c->depth--;
    }
    free(counts);
    free(order);
    free(e.kv);
}

/* namedtuple: Class(f1=v1, f2=v2) from the class's _fields. */
static void repr_namedtuple(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    struct ps_walker *w = c->w;
    uint64_t type, fields = 0, nf, n;
    if (type_of(w, obj, &type) || mro_lookup(w, type, r, "_fields", &fields) || !fields ||
        !ps_py_is(w, fields, "tuple") || ps_w_field_u64(w, fields, w->off.object.ob_size, &nf) ||
        ps_w_field_u64(w, obj, w->off.object.ob_size, &n) || nf != n || n > (1u << 20))
        return ps_repr_default(c, obj); /* repr() itself would raise: a bogus _fields */
    uint64_t shown = n < w->lim.max_items ? n : w->lim.max_items;
    for (uint64_t i = 0; i < shown; i++) { /* every name must be a str, as % needs */
        uint64_t name;
        if (w_u64(w, fields + (uint64_t)w->off.tuple.ob_item + i * 8, &name) ||
            !ps_py_is(w, name, "str"))
            return ps_repr_default(c, obj);
    }
    put_type_name(c, obj, 0);
    ps_sb_puts(c->sb, "(");
    for (uint64_t i = 0; i < shown && !c->sb->full; i++) {
        uint64_t name, item;
        if (w_u64(w, fields + (uint64_t)w->off.tuple.ob_item + i * 8, &name) ||
            ps_repr_read(w, obj + (uint64_t)w->off.tuple.ob_item + i * 8, &item, 8))
            return ps_sb_cut(c->sb);
        ps_sb_puts(c->sb, i ? ", " : "");
        put_keyword(c, name, item);
    }
    if (shown < n)
        ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, ")");
}

/* ---- classes written in Python ---- */

static void repr_uuid(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t v;
    int neg;
    uint32_t *d;
    size_t n;
    if (attr(c, obj, "int", &v, r) || !v || ps_repr_read_int(c, v, &neg, &d, &n))
        return ps_sb_cut(c->sb);
    unsigned char b[16] = {0};
    int ok = !neg && n <= 5;
    /* base 2^30 digits -> 128 bits, big-endian */
    for (size_t i = 0; ok && i < n; i++)
        for (int bit = 0; bit < 30; bit++) {
            size_t pos = i * 30 + (size_t)bit;
            if ((d[i] >> bit) & 1) {
                if (pos >= 128)
                    ok = 0;
                else
                    b[15 - pos / 8] |= (unsigned char)(1u << (pos % 8));
            }
        }
    free(d);
    if (!ok)
        return ps_sb_cut(c->sb);
    char hex[40];
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            hex[k++] = '-';
        k += (size_t)sprintf(hex + k, "%02x", b[i]);
    }
    put_type_name(c, obj, 0);
    ps_sb_printf(c->sb, "('%s')", hex);
    keep_value(c, obj, hex);
}

static void repr_fraction(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t num, den;
    if (attr(c, obj, "_numerator", &num, r) || attr(c, obj, "_denominator", &den, r) ||
        !ps_py_is(c->w, num, "int") || !ps_py_is(c->w, den, "int"))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 0);
    ps_sb_puts(c->sb, "(");
    ps_repr_int(c, num);
    ps_sb_puts(c->sb, ", ");
    ps_repr_int(c, den);
    ps_sb_puts(c->sb, ")");
}

/* Enum.__repr__: <Class.NAME: repr(value)>. */
static void repr_enum(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t name, value;
    if (attr(c, obj, "_name_", &name, r) || attr(c, obj, "_value_", &value, r) || !value ||
        !name || !ps_py_is(c->w, name, "str"))
        return ps_repr_default(c, obj); /* a composite Flag of 3.8-3.10 (no _name_) */
    ps_sb_puts(c->sb, "<");
    put_type_name(c, obj, 0);
    ps_sb_puts(c->sb, ".");
    put_text(c, name, c->w->lim.max_name);
    ps_sb_puts(c->sb, ": ");
    ps_repr_obj(c, value);
    ps_sb_puts(c->sb, ">");
}

/* Append the printable-ASCII text of the str OBJ to B (bounded by B's limit); -1 when OBJ
 * is no str or has other characters (the path is then not rebuilt). A str longer than the
 * limit marks B full. */
static int path_piece(struct repr_ctx *c, uint64_t obj, struct sbuf *b)
{
    char *s = NULL;
    int cut = 0;
    if (!ps_py_is(c->w, obj, "str") || ps_py_str(c->w, obj, c->w->lim.max_str, &s, &cut)) {
        free(s);
        return -1;
    }
    if (cut)
        b->full = 1;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e) {
            free(s);
            return -1;
        }
    ps_sb_puts(b, s);
    free(s);
    return 0;
}

/* The items of a list of str (at most 64) into ITEMS; their count, or -1. */
static int str_list(struct repr_ctx *c, uint64_t list, uint64_t *items)
{
    uint64_t n, arr;
    if (!ps_py_is(c->w, list, "list") || ps_w_field_u64(c->w, list, c->w->off.object.ob_size, &n) ||
        n > 64 || ps_w_field_u64(c->w, list, c->w->off.list.ob_item, &arr) ||
        (n && ps_repr_read(c->w, arr, items, n * 8)))
        return -1;
    return (int)n;
}

/* A posix path's str that was never computed (str() caches it in _str), as PurePath builds
 * it: 3.8-3.11 from _drv + _root + the _parts; 3.12+ from _raw_paths, joined as posixpath.join
 * and parsed (root: one slash, or two kept; empty and '.' parts dropped). Into B: 0, 1 when
 * the limits cut it, -1 when the path cannot be rebuilt exactly here (a Windows path, text
 * that is not plain ASCII). */
static int path_text(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r,
                     struct sbuf *b)
{
    uint64_t parts, drv, root, raw, items[64];
    char name[64];
    uint64_t type;
    if (type_of(c->w, obj, &type) || type_name(c->w, type, name, sizeof name) ||
        strstr(name, "Windows"))
        return -1;
    if (!attr(c, obj, "_parts", &parts, r) && parts) {
        int n = str_list(c, parts, items);
        if (n < 0 || attr(c, obj, "_drv", &drv, r) || attr(c, obj, "_root", &root, r) ||
            path_piece(c, drv, b) || path_piece(c, root, b))
            return -1;
        int anchored = b->len > 0;
        for (int i = anchored ? 1 : 0; i < n; i++) {
            if (i > (anchored ? 1 : 0))
                ps_sb_puts(b, "/");
            if (path_piece(c, items[i], b))
                return -1;
        }
    } else if (!attr(c, obj, "_raw_paths", &raw, r) && raw) {
        struct sbuf joined = {NULL, 0, 0, b->limit, 0};
        int n = str_list(c, raw, items);
        for (int i = 0; n >= 0 && i < n; i++) {
            struct sbuf one = {NULL, 0, 0, b->limit, 0};
            if (path_piece(c, items[i], &one)) {
                n = -1;
            } else if (one.len && one.p[0] == '/') {
                joined.len = 0;
            } else if (joined.len && joined.p[joined.len - 1] != '/') {
                ps_sb_puts(&joined, "/");
            }
            if (one.len)
                ps_sb_put(&joined, one.p, one.len);
            joined.full |= one.full;
            free(one.p);
        }
        if (n < 0) {
            free(joined.p);
            return -1;
        }
        if (joined.full) {
            free(joined.p);
            b->full = 1;
            return 1;
        }
        size_t i = 0, slashes = 0;
        while (i < joined.len && joined.p[i] == '/')
            i++, slashes++;
        ps_sb_puts(b, slashes == 2 ? "//" : slashes ? "/" : "");
        int first = 1;
        while (i < joined.len) {
            size_t j = i;
            while (j < joined.len && joined.p[j] != '/')
                j++;
            if (j > i && !(j - i == 1 && joined.p[i] == '.')) {
                if (!first)
                    ps_sb_puts(b, "/");
                ps_sb_put(b, joined.p + i, j - i);
                first = 0;
            }
            i = j + 1;
        }
        free(joined.p);
    } else {
        return -1;
    }
    if (b->full)
        return 1;
    if (b->len == 0)
        ps_sb_puts(b, ".");
    return 0;
}

/* PurePath.__repr__: Class('as/posix'), from the cached str (_str) of the path, else rebuilt
 * from its parts. */
static void repr_path(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t s;
    if (!attr(c, obj, "_str", &s, r) && s && ps_py_is(c->w, s, "str")) {
        put_type_name(c, obj, 0);
        ps_sb_puts(c->sb, "(");
        ps_repr_obj(c, s);
        return ps_sb_puts(c->sb, ")");
    }
    struct sbuf b = {NULL, 0, 0, c->w->lim.max_str, 0};
    int rc = path_text(c, obj, r, &b);
    if (rc) {
        free(b.p);
        if (rc < 0)
            return ps_repr_default(c, obj);
        put_type_name(c, obj, 0); /* cut: the quote would depend on the rest */
        ps_sb_puts(c->sb, "(");
        return ps_sb_cut(c->sb);
    }
    /* plain ASCII: repr() quotes with " only when there is a ' and no " */
    ps_sb_put(&b, "", 0);
    b.p[b.len] = '\0';
    int dq = strchr(b.p, '"') != NULL, sq = strchr(b.p, '\'') != NULL;
    char q = sq && !dq ? '"' : '\'';
    put_type_name(c, obj, 0);
    ps_sb_printf(c->sb, "(%c", q);
    for (size_t i = 0; i < b.len; i++) {
        if (b.p[i] == q || b.p[i] == '\\')
            ps_sb_puts(c->sb, "\\");
        ps_sb_put(c->sb, b.p + i, 1);
    }
    ps_sb_printf(c->sb, "%c)", q);
    free(b.p);
}

static int bool_true(struct repr_ctx *c, uint64_t obj)
{
    int64_t v;
    return ps_py_is(c->w, obj, "bool") && small_int(c, obj, &v) == PS_OK && v;
}

struct dc_ctx {
    struct repr_ctx *c;
    const struct ps_repr_offsets *r;
    uint64_t obj;
    unsigned n;
    int bad;
};

static int dc_field(void *arg, uint64_t key, uint64_t field)
{
    struct dc_ctx *d = arg;
    struct repr_ctx *c = d->c;
    uint64_t ftype, fname, repr_flag, value;
    char *tag, *name;
    (void)key;
    if (c->sb->full)
        return PS_LIMIT;
    if (attr(c, field, "_field_type", &ftype, d->r) || !ftype ||
        attr(c, ftype, "name", &fname, d->r) || !(tag = str_of(c->w, fname, 32))) {
        d->bad = 1;
        return PS_CORRUPT;
    }
    int plain = strcmp(tag, "_FIELD") == 0;
    free(tag);
    if (!plain)
        return PS_OK; /* ClassVar, InitVar */
    if (attr(c, field, "repr", &repr_flag, d->r) || attr(c, field, "name", &fname, d->r) ||
        !(name = str_of(c->w, fname, 256))) {
        d->bad = 1;
        return PS_CORRUPT;
    }
    if (!bool_true(c, repr_flag)) {
        free(name);
        return PS_OK;
    }
    if (d->n >= c->w->lim.max_items) {
        free(name);
        ps_sb_cut(c->sb);
        return PS_LIMIT;
    }
    ps_sb_puts(c->sb, d->n++ ? ", " : "");
    if (redacts(c, fname) || attr(c, d->obj, name, &value, d->r))
        value = 0;
    put_keyword(c, fname, value);
    free(name);
    return PS_OK;
}

/* The dataclass-generated __repr__: Qualname(f=repr, ...) over __dataclass_fields__. */
static void repr_dataclass(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    struct ps_walker *w = c->w;
    uint64_t type, fields = 0, qn;
    if (type_of(w, obj, &type) || mro_lookup(w, type, r, "__dataclass_fields__", &fields) ||
        !fields || !ps_py_is(w, fields, "dict") || w->off.more.ht_qualname == PS_OFF_NONE ||
        ps_w_field_u64(w, type, w->off.more.ht_qualname, &qn) || !ps_py_is(w, qn, "str"))
        return ps_repr_default(c, obj);
    if (ps_repr_enter(c, obj, "..."))
        return;
    put_text(c, qn, w->lim.max_name);
    ps_sb_puts(c->sb, "(");
    struct dc_ctx d = {c, r, obj, 0, 0};
    int rc = ps_py_dict_foreach(w, fields, dc_field, &d);
    if (d.bad || (rc && rc != PS_LIMIT))
        ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, ")");
    c->depth--;
}

/* ---- other C types ---- */

/* BaseException.__repr__: Name(arg) for one argument (Name(arg,) before 3.7), Name(a, b) or
 * Name() otherwise. */
static void repr_exception(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t args, n, item;
    if (rd_u64(c, obj, r->exc_args, &args) || !ps_py_is(c->w, args, "tuple") ||
        ps_w_field_u64(c->w, args, c->w->off.object.ob_size, &n))
        return ps_sb_cut(c->sb);
    put_type_name(c, obj, 1);
    if (n != 1)
        return ps_repr_obj(c, args);
    if (ps_repr_read(c->w, args + (uint64_t)c->w->off.tuple.ob_item, &item, 8))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "(");
    ps_repr_obj(c, item);
    ps_sb_puts(c->sb, r->exc_one_comma ? ",)" : ")");
}

static void repr_method(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t func, self, qn;
    if (rd_u64(c, obj, r->method_func, &func) || rd_u64(c, obj, r->method_self, &self) ||
        !ps_py_is(c->w, func, "function") || c->w->off.more.func_qualname == PS_OFF_NONE ||
        ps_w_field_u64(c->w, func, c->w->off.more.func_qualname, &qn) || !ps_py_is(c->w, qn, "str"))
        return ps_repr_default(c, obj);
    ps_sb_puts(c->sb, "<bound method ");
    put_text(c, qn, c->w->lim.max_name);
    ps_sb_puts(c->sb, " of ");
    ps_repr_obj(c, self);
    ps_sb_puts(c->sb, ">");
}

/* meth_repr: <built-in function NAME>, or <built-in method NAME of TYPE object at 0x...>. */
static void repr_builtin(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t ml, name, self;
    char buf[128];
    if (rd_u64(c, obj, r->cfunc_ml, &ml) || rd_u64(c, obj, r->cfunc_self, &self) || !ml ||
        ps_repr_read(c->w, ml, &name, 8) || ps_w_cstr(c->w, name, buf, sizeof buf))
        return ps_sb_cut(c->sb);
    if (!self || ps_py_is(c->w, self, "module")) {
        ps_sb_puts(c->sb, "<built-in function ");
        ps_sb_puts(c->sb, buf);
        return ps_sb_puts(c->sb, ">");
    }
    ps_sb_puts(c->sb, "<built-in method ");
    ps_sb_puts(c->sb, buf);
    ps_sb_puts(c->sb, " of ");
    put_type_name(c, self, 0);
    ps_sb_printf(c->sb, " object at 0x%" PRIx64 ">", self);
}

struct kw_ctx {
    struct repr_ctx *c;
};

static int kw_item(void *arg, uint64_t key, uint64_t value)
{
    struct repr_ctx *c = ((struct kw_ctx *)arg)->c;
    if (c->sb->full)
        return PS_LIMIT;
    ps_sb_puts(c->sb, ", ");
    put_keyword(c, key, value);
    return PS_OK;
}

static void repr_partial(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t fn, args, kw, n, item;
    if (rd_u64(c, obj, r->partial_fn, &fn) || rd_u64(c, obj, r->partial_args, &args) ||
        rd_u64(c, obj, r->partial_kw, &kw) || !ps_py_is(c->w, args, "tuple") ||
        ps_w_field_u64(c->w, args, c->w->off.object.ob_size, &n))
        return ps_sb_cut(c->sb);
    if (ps_repr_enter(c, obj, "..."))
        return;
    ps_sb_puts(c->sb, "functools.partial(");
    ps_repr_obj(c, fn);
    for (uint64_t i = 0; i < n && !c->sb->full; i++) {
        if (i >= c->w->lim.max_items ||
            ps_repr_read(c->w, args + (uint64_t)c->w->off.tuple.ob_item + i * 8, &item, 8)) {
            ps_sb_cut(c->sb);
            break;
        }
        ps_sb_puts(c->sb, ", ");
        ps_repr_obj(c, item);
    }
    struct kw_ctx k = {c};
    if (kw && ps_py_is(c->w, kw, "dict"))
        ps_py_dict_foreach(c->w, kw, kw_item, &k);
    ps_sb_puts(c->sb, ")");
    c->depth--;
}

static void repr_pattern(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    static const struct { const char *name; int32_t value; } flag_names[] = {
        {"re.TEMPLATE", 1}, {"re.IGNORECASE", 2}, {"re.LOCALE", 4}, {"re.MULTILINE", 8},
        {"re.DOTALL", 16},  {"re.UNICODE", 32},   {"re.VERBOSE", 64}, {"re.DEBUG", 128},
        {"re.ASCII", 256},
    };
    uint64_t pattern;
    int32_t flags;
    if (rd_u64(c, obj, r->pattern_pattern, &pattern) || rd(c, obj, r->pattern_flags, &flags, 4))
        return ps_sb_cut(c->sb);
    /* %.200R: the pattern's repr, cut at 200 characters (unmarked: that is repr() itself) */
    struct sbuf p = {NULL, 0, 0, c->sb->limit, 0};
    struct sbuf *outer = c->sb;
    c->sb = &p;
    ps_repr_obj(c, pattern);
    c->sb = outer;
    size_t bytes = 0, chars = 0;
    while (bytes < p.len && chars < PATTERN_REPR_CHARS) {
        bytes++;
        while (bytes < p.len && ((unsigned char)p.p[bytes] & 0xc0) == 0x80)
            bytes++;
        chars++;
    }
    ps_sb_puts(c->sb, "re.compile(");
    if (bytes)
        ps_sb_put(c->sb, p.p, bytes);
    int cut = p.full && chars < PATTERN_REPR_CHARS;
    free(p.p);
    if (cut)
        return ps_sb_cut(c->sb);
    if (ps_py_is(c->w, pattern, "str") && (flags & (4 | 32 | 256)) == 32)
        flags &= ~32;
    if (flags) {
        ps_sb_puts(c->sb, ", ");
        int first = 1;
        for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
            if (flags & flag_names[i].value) {
                ps_sb_puts(c->sb, first ? "" : "|");
                ps_sb_puts(c->sb, flag_names[i].name);
                flags &= ~flag_names[i].value;
                first = 0;
            }
        if (flags)
            ps_sb_printf(c->sb, "%s0x%x", first ? "" : "|", (unsigned)flags);
    }
    ps_sb_puts(c->sb, ")");
}

static void repr_memoryview(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    int32_t flags;
    if (rd(c, obj, r->memory_flags, &flags, 4))
        return ps_sb_cut(c->sb);
    ps_sb_printf(c->sb, "<%smemory at 0x%" PRIx64 ">", flags & 1 ? "released " : "", obj);
}

static void repr_slice(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t v[3];
    if (rd(c, obj, r->slice_start, v, sizeof v))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "slice(");
    for (int i = 0; i < 3; i++) {
        ps_sb_puts(c->sb, i ? ", " : "");
        ps_repr_obj(c, v[i]);
    }
    ps_sb_puts(c->sb, ")");
}

static int ns_item(void *arg, uint64_t key, uint64_t value)
{
    struct dc_ctx *d = arg;
    struct repr_ctx *c = d->c;
    if (!ps_py_is(c->w, key, "str"))
        return PS_OK; /* namespace_repr skips keys that are not str */
    if (d->n >= c->w->lim.max_items || c->sb->full) {
        ps_sb_cut(c->sb);
        return PS_LIMIT;
    }
    ps_sb_puts(c->sb, d->n++ ? ", " : "");
    put_keyword(c, key, value);
    return PS_OK;
}

static void repr_namespace(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t dict;
    if (rd_u64(c, obj, r->namespace_dict, &dict) || !ps_py_is(c->w, dict, "dict"))
        return ps_sb_cut(c->sb);
    if (ps_repr_enter(c, obj, "namespace(...)"))
        return;
    ps_sb_puts(c->sb, "namespace(");
    struct dc_ctx d = {c, r, obj, 0, 0};
    ps_py_dict_foreach(c->w, dict, ns_item, &d);
    ps_sb_puts(c->sb, ")");
    c->depth--;
}

/* A str attribute of OBJ as its repr into the buffer ('name'), or "" when absent. */
static void put_str_repr(struct repr_ctx *c, uint64_t s)
{
    if (!s || !ps_py_is(c->w, s, "str"))
        return ps_sb_cut(c->sb);
    ps_repr_obj(c, s);
}

/* "built-in" or "frozen" when LOADER is importlib's BuiltinImporter or FrozenImporter (the
 * class itself), else NULL. Through 3.11 their module_repr() decides the repr even when the
 * spec has no origin (sys in 3.8); from 3.12 the spec's origin says the same. */
static const char *importer_origin(struct ps_walker *w, uint64_t loader)
{
    char name[64];
    if (!loader || !ps_py_is(w, loader, "type") || type_name(w, loader, name, sizeof name))
        return NULL;
    return strcmp(name, "BuiltinImporter") == 0 ? "built-in"
         : strcmp(name, "FrozenImporter") == 0 ? "frozen" : NULL;
}

/* importlib's module repr, from __spec__ (name, origin, has_location) or __file__. */
static void repr_module(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    struct ps_walker *w = c->w;
    uint64_t dict, spec = 0, name = 0, origin = 0, fileattr = 0, file = 0, loader = 0;
    if (rd_u64(c, obj, r->module_dict, &dict) || !ps_py_is(w, dict, "dict"))
        return ps_repr_default(c, obj);
    ps_py_dict_get(w, dict, "__spec__", &spec);
    if (spec && !ps_py_is(w, spec, "NoneType")) {
        if (ps_py_getattr(w, spec, "name", &name) || ps_py_getattr(w, spec, "origin", &origin) ||
            ps_py_getattr(w, spec, "_set_fileattr", &fileattr) ||
            ps_py_getattr(w, spec, "loader", &loader) || !name || !origin)
            return ps_repr_default(c, obj);
        ps_sb_puts(c->sb, "<module ");
        put_str_repr(c, name);
        const char *imp = importer_origin(w, loader);
        if (imp) {
            ps_sb_puts(c->sb, " (");
            ps_sb_puts(c->sb, imp);
            ps_sb_puts(c->sb, ")");
        } else if (ps_py_is(w, origin, "NoneType")) {
            if (loader && !ps_py_is(w, loader, "NoneType"))
                ps_sb_cut(c->sb); /* (loader repr), namespace packages: not rendered */
        } else if (bool_true(c, fileattr)) {
            ps_sb_puts(c->sb, " from ");
            put_str_repr(c, origin);
        } else {
            ps_sb_puts(c->sb, " (");
            if (put_text(c, origin, w->lim.max_str))
                return ps_sb_cut(c->sb);
            ps_sb_puts(c->sb, ")");
        }
        return ps_sb_puts(c->sb, ">");
    }
    ps_py_dict_get(w, dict, "__name__", &name);
    ps_py_dict_get(w, dict, "__file__", &file);
    ps_py_dict_get(w, dict, "__loader__", &loader);
    ps_sb_puts(c->sb, "<module ");
    if (name)
        put_str_repr(c, name);
    else
        ps_sb_puts(c->sb, "'?'");
    if (file) {
        ps_sb_puts(c->sb, " from ");
        put_str_repr(c, file);
    } else if (loader && !ps_py_is(w, loader, "NoneType")) {
        ps_sb_puts(c->sb, " (");
        ps_repr_obj(c, loader);
        ps_sb_puts(c->sb, ")");
    }
    ps_sb_puts(c->sb, ">");
}

static void repr_lock(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint8_t b;
    if (rd(c, obj, r->lock_locked, &b, 1))
        return ps_sb_cut(c->sb);
    ps_sb_printf(c->sb, "<%slocked ", b & r->lock_locked_bit ? "" : "un");
    put_type_name(c, obj, 0);
    ps_sb_printf(c->sb, " object at 0x%" PRIx64 ">", obj);
}

static void repr_rlock(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    uint64_t owner, count;
    if (rd_u64(c, obj, r->rlock_owner, &owner) || rd_u64(c, obj, r->rlock_count, &count))
        return ps_sb_cut(c->sb);
    if (r->rlock_count_bias)
        count = owner ? count + (uint64_t)r->rlock_count_bias : 0;
    ps_sb_printf(c->sb, "<%slocked ", count ? "" : "un");
    put_type_name(c, obj, 0);
    ps_sb_printf(c->sb, " object owner=%" PRIu64 " count=%" PRIu64 " at 0x%" PRIx64 ">", owner,
                 count, obj);
}

static void repr_code(struct repr_ctx *c, uint64_t obj, const struct ps_repr_offsets *r)
{
    const struct ps_pyoffsets *o = &c->w->off;
    uint64_t name, file;
    int32_t line;
    (void)r;
    if (ps_w_field_u64(c->w, obj, o->code.name, &name) ||
        ps_w_field_u64(c->w, obj, o->code.filename, &file) ||
        ps_w_field_i32(c->w, obj, o->code.firstlineno, &line) || !ps_py_is(c->w, name, "str"))
        return ps_sb_cut(c->sb);
    ps_sb_puts(c->sb, "<code object ");
    put_text(c, name, c->w->lim.max_name);
    ps_sb_printf(c->sb, " at 0x%" PRIx64 ", file ", obj);
    if (ps_py_is(c->w, file, "str")) {
        ps_sb_puts(c->sb, "\"");
        put_text(c, file, c->w->lim.max_str);
        ps_sb_puts(c->sb, "\"");
    } else {
        ps_sb_puts(c->sb, "???");
    }
    ps_sb_printf(c->sb, ", line %d>", line);
}

/* ---- the tables ---- */

#define SIZE(field) offsetof(struct ps_repr_offsets, field)
#define NO_SIZE ((size_t)-1)

/* C types by tp_name, with the size field their layout is checked against. */
static const struct {
    const char *tp_name;
    size_t size;
    stdlib_fn render;
} ctypes_table[] = {
    {"datetime.date", SIZE(size_date), repr_date},
    {"datetime.time", SIZE(size_time), repr_time},
    {"datetime.datetime", SIZE(size_datetime), repr_datetime},
    {"datetime.timedelta", SIZE(size_timedelta), repr_timedelta},
    {"datetime.timezone", SIZE(size_timezone), repr_timezone},
    {"zoneinfo.ZoneInfo", SIZE(size_zoneinfo), repr_zoneinfo},
    {"decimal.Decimal", SIZE(size_decimal), repr_decimal},
    {"collections.deque", SIZE(size_deque), repr_deque},
    {"collections.OrderedDict", SIZE(size_odict), repr_odict},
    {"collections.defaultdict", SIZE(size_defdict), repr_defaultdict},
    {"functools.partial", SIZE(size_partial), repr_partial},
    {"re.Pattern", SIZE(size_pattern), repr_pattern},
    {"_sre.SRE_Pattern", SIZE(size_pattern), repr_pattern}, /* its name before 3.7 */
    {"memoryview", SIZE(size_memory), repr_memoryview},
    {"_thread.lock", SIZE(size_lock), repr_lock},
    {"_thread.RLock", SIZE(size_rlock), repr_rlock},
    {"BaseException", NO_SIZE, repr_exception},
    {"method", NO_SIZE, repr_method},
    {"builtin_function_or_method", NO_SIZE, repr_builtin},
    {"slice", NO_SIZE, repr_slice},
    {"types.SimpleNamespace", NO_SIZE, repr_namespace},
    {"module", NO_SIZE, repr_module},
    {"code", NO_SIZE, repr_code},
};

/* C types whose repr names the class in a way that differs across versions for subclasses:
 * only the exact type is rendered. */
static const char *const exact_only[] = {"functools.partial", "types.SimpleNamespace",
                                         "method", "slice", "module", "code", "memoryview"};

/* Classes written in Python, by the __repr__ function their MRO resolves to. */
static const struct {
    const char *module, *qualname;
    stdlib_fn render;
} pyclass_table[] = {
    {"uuid", "UUID.__repr__", repr_uuid},
    {"fractions", "Fraction.__repr__", repr_fraction},
    {"enum", "Enum.__repr__", repr_enum},
    {"enum", "Flag.__repr__", repr_enum},
    {"collections", "Counter.__repr__", repr_counter},
    {"pathlib", "PurePath.__repr__", repr_path},
    {"pathlib._local", "PurePath.__repr__", repr_path},
};

/* What the cache holds per type: the renderer (tables above, then namedtuple, dataclass)
 * and the offsets row. */
enum { KIND_NONE = 0, KIND_C = 1, KIND_PY = 2, KIND_NAMEDTUPLE = 3, KIND_DATACLASS = 4 };
#define CACHE(kind, idx, row) ((void *)(uintptr_t)((kind) | (idx) << 4 | (row) << 12 | 1u << 20))

static int is_exact_only(const char *tp_name)
{
    for (size_t i = 0; i < sizeof exact_only / sizeof exact_only[0]; i++)
        if (strcmp(tp_name, exact_only[i]) == 0)
            return 1;
    return 0;
}

/* The row whose size field agrees with BASICSIZE, or -1. */
static int row_for(struct ps_walker *w, size_t size_field, uint64_t basicsize)
{
    const struct ps_repr_offsets *r;
    uint64_t shift = (uint64_t)head_shift(w);
    for (unsigned i = 0; (r = rows(w, i)); i++) {
        if (size_field == NO_SIZE)
            return (int)i;
        int32_t want;
        memcpy(&want, (const char *)r + size_field, sizeof want);
        if ((uint64_t)want + shift == basicsize)
            return (int)i;
    }
    return -1;
}

static void *find_ctype(struct ps_walker *w, uint64_t type)
{
    uint64_t t = type, flags, basicsize, repr, own_repr;
    char name[64];
    if (tp_repr_of(w, type, &own_repr))
        return NULL;
    for (unsigned n = 0; t && n < MAX_BASES; n++) {
        if (type_name(w, t, name, sizeof name))
            return NULL;
        for (size_t i = 0; i < sizeof ctypes_table / sizeof ctypes_table[0]; i++) {
            if (strcmp(name, ctypes_table[i].tp_name) != 0)
                continue;
            int row;
            if ((t != type && is_exact_only(name)) ||
                ps_w_field_u64(w, t, w->off.object.tp_basicsize, &basicsize) ||
                ps_w_field_u64(w, t, w->off.object.tp_flags, &flags) ||
                (row = row_for(w, ctypes_table[i].size, basicsize)) < 0 ||
                tp_repr_of(w, t, &repr) || repr != own_repr)
                return NULL;
            return CACHE(KIND_C, i, (unsigned)row);
        }
        if (tp_base_of(w, t, &t))
            return NULL;
    }
    return NULL;
}

static int str_ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The dataclass-generated __repr__ (wrapped by dataclasses' or reprlib's recursive_repr, or
 * 3.13+'s generated text): a function whose code lives in dataclasses.py or reprlib.py, or
 * whose __wrapped__ was made by dataclasses; the class has __dataclass_fields__. */
static int is_dataclass_repr(struct ps_walker *w, uint64_t fn, uint64_t class_dict,
                             const struct ps_repr_offsets *r)
{
    uint64_t fields = 0, code, file, qn;
    char *f, *q;
    if (ps_py_dict_get(w, class_dict, "__dataclass_fields__", &fields) || !fields ||
        w_u64(w, at(w, fn, r->func_code), &code) || !ps_py_is(w, code, "code") ||
        ps_w_field_u64(w, code, w->off.code.filename, &file) || !(f = str_of(w, file, 4096)))
        return 0;
    int ok = str_ends(f, "/dataclasses.py") || str_ends(f, "/reprlib.py");
    free(f);
    if (ok || w->off.more.func_qualname == PS_OFF_NONE ||
        ps_w_field_u64(w, fn, w->off.more.func_qualname, &qn) || !(q = str_of(w, qn, 512)))
        return ok;
    /* 3.13+ build the function from text: __create_fn__.<locals>.__repr__ or the class's */
    ok = strstr(q, "__create_fn__") != NULL;
    free(q);
    return ok;
}

static void *find_pyclass(struct ps_walker *w, uint64_t type)
{
    const struct ps_repr_offsets *r = rows(w, 0);
    uint64_t flags, mro, n, k, dict, fn = 0, mod, qn;
    if (!r || ps_w_field_u64(w, type, w->off.object.tp_flags, &flags) ||
        !(flags & TPFLAGS_HEAPTYPE) || w_u64(w, at(w, type, r->tp_mro), &mro) ||
        !ps_py_is(w, mro, "tuple") || ps_w_field_u64(w, mro, w->off.object.ob_size, &n))
        return NULL;
    for (uint64_t i = 0; i < n && i < MAX_BASES && !fn; i++) {
        if (w_u64(w, mro + (uint64_t)w->off.tuple.ob_item + i * 8, &k) ||
            ps_w_field_u64(w, k, w->off.object.tp_flags, &flags))
            return NULL;
        if (!(flags & TPFLAGS_HEAPTYPE))
            return NULL; /* a C type's __repr__ comes first (or object's): not ours */
        if (ps_w_field_u64(w, k, w->off.more.tp_dict, &dict) || !dict ||
            ps_py_dict_get(w, dict, "__repr__", &fn))
            return NULL;
    }
    if (!fn || !ps_py_is(w, fn, "function") || w->off.more.func_qualname == PS_OFF_NONE ||
        w_u64(w, at(w, fn, r->func_module), &mod) ||
        ps_w_field_u64(w, fn, w->off.more.func_qualname, &qn))
        return NULL;
    char *m = str_of(w, mod, 256), *q = str_of(w, qn, 512);
    void *hit = NULL;
    for (size_t i = 0; m && q && i < sizeof pyclass_table / sizeof pyclass_table[0]; i++)
        if (strcmp(m, pyclass_table[i].module) == 0 && strcmp(q, pyclass_table[i].qualname) == 0)
            hit = CACHE(KIND_PY, i, 0u);
    uint64_t fields = 0;
    /* namedtuple sets the methods' __qualname__ to Typename.__repr__; __module__ stays
     * "collections" (3.6 executes a class template in a namespace named namedtuple_Typename) */
    if (!hit && m && q && (strcmp(m, "collections") == 0 || strncmp(m, "namedtuple_", 11) == 0) &&
        str_ends(q, ".__repr__") &&
        ps_py_dict_get(w, dict, "_fields", &fields) == PS_OK && fields)
        hit = CACHE(KIND_NAMEDTUPLE, 0u, 0u);
    if (!hit && is_dataclass_repr(w, fn, dict, r))
        hit = CACHE(KIND_DATACLASS, 0u, 0u);
    free(m);
    free(q);
    return hit;
}

int ps_stdlib_render(struct repr_ctx *c, uint64_t obj)
{
    struct ps_walker *w = c->w;
    static char none_marker;
    uint64_t type;
    if (type_of(w, obj, &type) || !type)
        return 0;
    void *hit = ps_u64map_get(&w->stdlib, type);
    if (!hit) {
        hit = find_ctype(w, type);
        if (!hit)
            hit = find_pyclass(w, type);
        if (!hit)
            hit = &none_marker;
        if (ps_u64map_put(&w->stdlib, type, hit))
            return 0;
    }
    if (hit == &none_marker)
        return 0;
    uintptr_t v = (uintptr_t)hit;
    unsigned kind = v & 15, idx = (v >> 4) & 255, row = (v >> 12) & 255;
    const struct ps_repr_offsets *r = rows(w, row);
    if (!r)
        return 0;
    stdlib_fn fn = kind == KIND_C ? ctypes_table[idx].render
                 : kind == KIND_PY ? pyclass_table[idx].render
                 : kind == KIND_NAMEDTUPLE ? repr_namedtuple
                 : kind == KIND_DATACLASS ? repr_dataclass : NULL;
    if (!fn)
        return 0;
    fn(c, obj, r);
    return 1;
}

/* ---- the exception a thread is handling ---- */

int ps_walk_handled_exception(struct ps_walker *w, uint64_t tstate, uint64_t *exc)
{
    const struct ps_repr_offsets *r = rows(w, 0);
    uint64_t item, value;
    *exc = 0;
    if (!r)
        return PS_CORRUPT;
    if (r->tstate_exc_info == PS_OFF_NONE)
        item = tstate + (uint64_t)(int64_t)r->tstate_exc_state; /* 3.6: in the thread state */
    else if (ps_w_field_u64(w, tstate, r->tstate_exc_info, &item))
        return PS_CORRUPT;
    /* the innermost item that holds an exception (generators push empty ones) */
    for (unsigned n = 0; item && n < 64; n++) {
        if (w_u64(w, item + (uint64_t)r->excitem_value, &value))
            return PS_CORRUPT;
        if (value && !ps_py_is(w, value, "NoneType")) {
            *exc = value;
            return PS_OK;
        }
        if (r->excitem_previous == PS_OFF_NONE)
            break;
        if (w_u64(w, item + (uint64_t)r->excitem_previous, &item))
            return PS_CORRUPT;
    }
    return PS_OK;
}

int ps_exception_traceback(struct ps_walker *w, uint64_t exc, uint64_t *tb)
{
    const struct ps_repr_offsets *r = rows(w, 0);
    *tb = 0;
    if (!r)
        return PS_CORRUPT;
    return w_u64(w, at(w, exc, r->exc_traceback), tb);
}

int ps_traceback_entry(struct ps_walker *w, uint64_t tb, uint64_t *next, uint64_t *code,
                       int32_t *lasti, int32_t *lineno)
{
    const struct ps_repr_offsets *r = rows(w, 0);
    uint64_t frame, iframe;
    int rc;
    if (!r || !ps_py_is(w, tb, "traceback"))
        return PS_CORRUPT;
    if ((rc = w_u64(w, at(w, tb, r->tb_next), next)) ||
        (rc = w_u64(w, at(w, tb, r->tb_frame), &frame)) ||
        (rc = ps_mem_i32(w->mem, at(w, tb, r->tb_lasti), lasti)) ||
        (rc = ps_mem_i32(w->mem, at(w, tb, r->tb_lineno), lineno)))
        return rc;
    if (!ps_py_is(w, frame, "frame"))
        return PS_CORRUPT;
    if (r->frameobj_iframe == PS_OFF_NONE)
        return ps_w_field_u64(w, frame, w->off.frameobj.code, code);
    if ((rc = w_u64(w, at(w, frame, r->frameobj_iframe), &iframe)) ||
        (rc = ps_w_field_u64(w, iframe, w->off.iframe.code, code)))
        return rc;
    *code &= ~(uint64_t)(uint32_t)w->off.iframe.stackref_mask;
    return PS_OK;
}

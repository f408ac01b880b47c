/* Reading CPython objects out of target memory: type names, str, bytes, int, dict and
 * instance attributes. Every size read from the target is checked against a limit before it
 * sizes a read or an allocation. */
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "walker_internal.h"

#define PAGE 4096u
#define MAX_STR_BYTES (1u << 20)
#define MAX_DICT_SLOTS (1u << 26)
/* Type flags (Include/object.h), stable across 3.11-3.13. */
#define TPFLAGS_INLINE_VALUES (1ull << 2)
#define TPFLAGS_MANAGED_DICT (1ull << 4)
#define PREHEADER_VALUES_OFFSET (-4 * 8)

int ps_w_field_u64(struct ps_walker *w, uint64_t base, ps_off off, uint64_t *out)
{
    if (off == PS_OFF_NONE)
        return PS_CORRUPT;
    return w_u64(w, base + (uint64_t)(int64_t)off, out);
}

int ps_w_field_i32(struct ps_walker *w, uint64_t base, ps_off off, int32_t *out)
{
    if (off == PS_OFF_NONE)
        return PS_CORRUPT;
    return ps_mem_i32(w->mem, base + (uint64_t)(int64_t)off, out);
}

int ps_w_cstr(struct ps_walker *w, uint64_t addr, char *buf, size_t max)
{
    size_t got = 0;
    if (max == 0)
        return PS_LIMIT;
    while (got < max - 1) {
        size_t chunk = PAGE - (size_t)((addr + got) % PAGE);
        if (chunk > 64)
            chunk = 64;
        if (chunk > max - 1 - got)
            chunk = max - 1 - got;
        int rc = ps_mem_read(w->mem, addr + got, buf + got, chunk);
        if (rc)
            return rc;
        void *nul = memchr(buf + got, '\0', chunk);
        if (nul)
            return PS_OK;
        got += chunk;
    }
    buf[max - 1] = '\0';
    return PS_OK;
}

int ps_py_typename(struct ps_walker *w, uint64_t obj, const char **name)
{
    uint64_t type, tp_name;
    int rc = ps_w_field_u64(w, obj, w->off.object.ob_type, &type);
    if (rc)
        return rc;
    const char *cached = ps_u64map_get(&w->types, type);
    if (cached) {
        *name = cached;
        return PS_OK;
    }
    char buf[128];
    if ((rc = ps_w_field_u64(w, type, w->off.object.tp_name, &tp_name)) ||
        (rc = ps_w_cstr(w, tp_name, buf, sizeof buf)))
        return rc;
    char *copy = strdup(buf);
    if (!copy || ps_u64map_put(&w->types, type, copy)) {
        free(copy);
        return PS_NOMEM;
    }
    *name = copy;
    return PS_OK;
}

int ps_py_is(struct ps_walker *w, uint64_t obj, const char *name)
{
    const char *tn;
    return obj && ps_py_typename(w, obj, &tn) == PS_OK && strcmp(tn, name) == 0;
}

/* Append code point CP as UTF-8 (surrogates are written as-is, like surrogateescape would
 * not: they are rare in names; repr handles them separately). */
size_t ps_utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp > 0x10ffff)
        cp = 0xfffd;
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* 2.7: a `unicode` is a length and a pointer to Py_UNICODE; a `str` (anything else asked for
 * as a string: names, keys) is a byte string, read as Latin-1. */
static int str_header_27(struct ps_walker *w, uint64_t obj, struct ps_str_hdr *h)
{
    const struct ps_pyoffsets *o = &w->off;
    const char *tn;
    uint64_t len;
    int rc;
    if ((rc = ps_py_typename(w, obj, &tn)))
        return rc;
    if (strcmp(tn, "unicode") == 0) {
        if ((rc = ps_w_field_u64(w, obj, o->unicode.length, &len)) ||
            (rc = ps_w_field_u64(w, obj, o->unicode.data, &h->data)))
            return rc;
        h->kind = (unsigned)o->unicode.char_size;
    } else {
        if ((rc = ps_w_field_u64(w, obj, o->object.ob_size, &len)))
            return rc;
        h->data = obj + (uint64_t)o->bytes.ob_sval;
        h->kind = 1;
    }
    if ((h->kind != 1 && h->kind != 2 && h->kind != 4) || (int64_t)len < 0)
        return PS_CORRUPT;
    h->length = (int64_t)len;
    return PS_OK;
}

int ps_py_str_header(struct ps_walker *w, uint64_t obj, struct ps_str_hdr *h)
{
    const struct ps_pyoffsets *o = &w->off;
    uint32_t state;
    uint64_t len;
    int rc;
    if (o->unicode.data != PS_OFF_NONE)
        return str_header_27(w, obj, h);
    if ((rc = ps_w_field_u64(w, obj, o->unicode.length, &len)) ||
        (rc = ps_mem_u32(w->mem, obj + (uint64_t)o->unicode.state, &state)))
        return rc;
    /* state bits: interned:2, kind:3, compact:1, ascii:1 (all of 3.8-3.13). */
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    if ((kind != 1 && kind != 2 && kind != 4) || (int64_t)len < 0)
        return PS_CORRUPT;
    h->length = (int64_t)len;
    h->kind = kind;
    if (compact && ascii)
        h->data = obj + (uint64_t)o->unicode.ascii_size;
    else if (compact)
        h->data = obj + (uint64_t)o->unicode.compact_size;
    else if ((rc = w_u64(w, obj + (uint64_t)o->unicode.compact_size, &h->data)))
        return rc; /* legacy string: data.any pointer follows the compact header */
    return PS_OK;
}

int ps_py_str(struct ps_walker *w, uint64_t obj, size_t maxchars, char **out, int *truncated)
{
    struct ps_str_hdr h;
    int rc = ps_py_str_header(w, obj, &h);
    if (rc)
        return rc;
    size_t n = (size_t)h.length;
    if (truncated)
        *truncated = n > maxchars;
    if (n > maxchars)
        n = maxchars;
    if (n * h.kind > MAX_STR_BYTES)
        n = MAX_STR_BYTES / h.kind;
    unsigned char *raw = malloc(n * h.kind + 1);
    char *s = malloc(n * 4 + 1);
    if (!raw || !s) {
        free(raw);
        free(s);
        return PS_NOMEM;
    }
    if ((rc = ps_mem_read(w->mem, h.data, raw, n * h.kind))) {
        free(raw);
        free(s);
        return rc;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;
        if (h.kind == 1)
            cp = raw[i];
        else if (h.kind == 2)
            cp = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
        else
            memcpy(&cp, raw + 4 * i, 4);
        o += ps_utf8_put(s + o, cp);
    }
    s[o] = '\0';
    free(raw);
    *out = s;
    return PS_OK;
}

int ps_py_str_eq(struct ps_walker *w, uint64_t obj, const char *s, int *eq)
{
    struct ps_str_hdr h;
    size_t n = strlen(s);
    *eq = 0;
    int rc = ps_py_str_header(w, obj, &h);
    if (rc)
        return rc;
    if ((size_t)h.length != n || h.kind != 1)
        return PS_OK;
    char buf[256];
    if (n > sizeof buf)
        return PS_OK;
    if ((rc = ps_mem_read(w->mem, h.data, buf, n)))
        return rc;
    *eq = memcmp(buf, s, n) == 0;
    return PS_OK;
}

int ps_py_bytes(struct ps_walker *w, uint64_t obj, size_t max, unsigned char **out, size_t *len)
{
    uint64_t size;
    int rc = ps_w_field_u64(w, obj, w->off.object.ob_size, &size);
    if (rc)
        return rc;
    if ((int64_t)size < 0 || size > max)
        return PS_LIMIT;
    unsigned char *b = malloc(size + 1);
    if (!b)
        return PS_NOMEM;
    if ((rc = ps_mem_read(w->mem, obj + (uint64_t)w->off.bytes.ob_sval, b, size))) {
        free(b);
        return rc;
    }
    b[size] = 0;
    *out = b;
    *len = size;
    return PS_OK;
}

int ps_py_long_u64(struct ps_walker *w, uint64_t obj, uint64_t *out)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t tag;
    int64_t ndigits;
    int rc;
    /* 2.7's int (and bool) is a C long; its long has digits like 3.x's int. */
    if (o->intobj.ival != PS_OFF_NONE && (ps_py_is(w, obj, "int") || ps_py_is(w, obj, "bool"))) {
        if ((rc = ps_w_field_u64(w, obj, o->intobj.ival, &tag)))
            return rc;
        if ((int64_t)tag < 0)
            return PS_LIMIT;
        *out = tag;
        return PS_OK;
    }
    if (o->longobj.lv_tag != PS_OFF_NONE) {
        if ((rc = ps_w_field_u64(w, obj, o->longobj.lv_tag, &tag)))
            return rc;
        if ((tag & 3) == 2)
            return PS_LIMIT; /* negative */
        ndigits = (int64_t)(tag >> 3);
    } else {
        if ((rc = ps_w_field_u64(w, obj, o->object.ob_size, &tag)))
            return rc;
        ndigits = (int64_t)tag;
        if (ndigits < 0)
            return PS_LIMIT;
    }
    if (ndigits > 3)
        return PS_LIMIT;
    uint32_t digits[3] = {0};
    if ((rc = ps_mem_read(w->mem, obj + (uint64_t)o->longobj.digits, digits,
                          (size_t)ndigits * 4)))
        return rc;
    uint64_t v = 0;
    for (int64_t i = ndigits - 1; i >= 0; i--) {
        if (v >> 34)
            return PS_LIMIT;
        v = (v << 30) | (digits[i] & 0x3fffffff);
    }
    *out = v;
    return PS_OK;
}

/* The entries table of a dict keys object, whatever the version. */
struct dict_keys {
    uint64_t entries;  /* address of the first entry */
    uint64_t nentries;
    unsigned entry_size, key_at, value_at;
};

static int read_keys(struct ps_walker *w, uint64_t keys, struct dict_keys *k)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t size, index_bytes, nentries;
    int rc;
    unsigned general = 1;
    if (o->dict.dk_size != PS_OFF_NONE) { /* <= 3.10 */
        if ((rc = ps_w_field_u64(w, keys, o->dict.dk_size, &size)))
            return rc;
        if (size == 0 || size > MAX_DICT_SLOTS || (size & (size - 1)))
            return PS_CORRUPT;
        index_bytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : 4);
    } else {
        uint8_t log2, log2ib, kind;
        if ((rc = ps_mem_u8(w->mem, keys + (uint64_t)o->dict.dk_log2_size, &log2)) ||
            (rc = ps_mem_u8(w->mem, keys + (uint64_t)o->dict.dk_log2_index_bytes, &log2ib)) ||
            (rc = ps_mem_u8(w->mem, keys + (uint64_t)o->dict.dk_kind, &kind)))
            return rc;
        if (log2 > 26 || log2ib > 29 || kind > 2)
            return PS_CORRUPT;
        size = 1ull << log2;
        index_bytes = 1ull << log2ib;
        general = kind == 0;
    }
    if ((rc = ps_w_field_u64(w, keys, o->dict.dk_nentries, &nentries)))
        return rc;
    if (nentries > size)
        return PS_CORRUPT;
    k->entries = keys + (uint64_t)o->dict.dk_indices + index_bytes;
    k->nentries = nentries;
    if (general) {
        k->entry_size = (unsigned)o->dict.entry_size;
        k->key_at = 8;
        k->value_at = 16;
    } else {
        k->entry_size = (unsigned)o->dict.unicode_entry_size;
        k->key_at = 0;
        k->value_at = 8;
    }
    return PS_OK;
}

/* Walk a keys table with, for a split dict, its separate VALUES array (0 for combined). */
static int keys_foreach(struct ps_walker *w, uint64_t keys, uint64_t values, ps_dict_cb cb,
                        void *arg)
{
    struct dict_keys k;
    int rc = read_keys(w, keys, &k);
    if (rc)
        return rc;
    uint64_t n = k.nentries < w->lim.max_dict ? k.nentries : w->lim.max_dict;
    if (n == 0)
        return PS_OK;
    unsigned char *ents = malloc(n * k.entry_size);
    uint64_t *vals = values ? malloc(n * 8) : NULL;
    if (!ents || (values && !vals)) {
        free(ents);
        free(vals);
        return PS_NOMEM;
    }
    rc = ps_mem_read(w->mem, k.entries, ents, n * k.entry_size);
    if (!rc && values)
        rc = ps_mem_read(w->mem, values + (uint64_t)w->off.dict.values_values, vals, n * 8);
    for (uint64_t i = 0; i < n && !rc; i++) {
        uint64_t key, value;
        memcpy(&key, ents + i * k.entry_size + k.key_at, 8);
        if (values)
            value = vals[i];
        else
            memcpy(&value, ents + i * k.entry_size + k.value_at, 8);
        if (!key || !value)
            continue; /* deleted slot, or a split value not set */
        rc = cb(arg, key, value);
    }
    free(ents);
    free(vals);
    return rc;
}

/* 2.7: the dict is one table of ma_mask + 1 entries {hash, key, value}, iterated in slot
 * order (as the interpreter does); free and dummy slots have no value. */
static int table27_foreach(struct ps_walker *w, uint64_t dict, ps_dict_cb cb, void *arg)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t mask, table;
    int rc;
    if ((rc = ps_w_field_u64(w, dict, o->dict.ma_mask, &mask)) ||
        (rc = ps_w_field_u64(w, dict, o->dict.ma_table, &table)))
        return rc;
    if (mask >= MAX_DICT_SLOTS || ((mask + 1) & mask) || o->dict.entry_size != 24)
        return PS_CORRUPT;
    uint64_t n = mask + 1 < w->lim.max_dict ? mask + 1 : w->lim.max_dict;
    uint64_t *ents = malloc(n * 24 + 1);
    if (!ents)
        return PS_NOMEM;
    rc = ps_mem_read(w->mem, table, ents, n * 24);
    for (uint64_t i = 0; i < n && !rc; i++)
        if (ents[3 * i + 1] && ents[3 * i + 2])
            rc = cb(arg, ents[3 * i + 1], ents[3 * i + 2]);
    free(ents);
    return rc;
}

int ps_py_dict_foreach(struct ps_walker *w, uint64_t dict, ps_dict_cb cb, void *arg)
{
    uint64_t keys, values;
    int rc;
    if (w->off.dict.ma_table != PS_OFF_NONE)
        return table27_foreach(w, dict, cb, arg);
    if ((rc = ps_w_field_u64(w, dict, w->off.dict.ma_keys, &keys)) ||
        (rc = ps_w_field_u64(w, dict, w->off.dict.ma_values, &values)))
        return rc;
    return keys_foreach(w, keys, values, cb, arg);
}

struct lookup {
    struct ps_walker *w;
    const char *name;
    uint64_t value;
};

#define LOOKUP_FOUND 0x7fff

static int lookup_cb(void *arg, uint64_t key, uint64_t value)
{
    struct lookup *l = arg;
    int eq = 0;
    /* A key that is not a readable str is simply not the one we look for. */
    if (ps_py_str_eq(l->w, key, l->name, &eq) == PS_OK && eq) {
        l->value = value;
        return LOOKUP_FOUND;
    }
    return PS_OK;
}

static int finish_lookup(int rc, struct lookup *l, uint64_t *value)
{
    *value = rc == LOOKUP_FOUND ? l->value : 0;
    return rc == LOOKUP_FOUND ? PS_OK : rc;
}

/* Slot I of a keys object's index table (1, 2, 4 or 8 bytes wide, signed). */
static int read_index(struct ps_walker *w, uint64_t indices, uint64_t size, uint64_t i,
                      int64_t *ix)
{
    unsigned width = size <= 0x80 ? 1 : size <= 0x8000 ? 2 : size <= 0x80000000ull ? 4 : 8;
    unsigned char b[8];
    int rc = ps_mem_read(w->mem, indices + i * width, b, width);
    if (rc)
        return rc;
    *ix = width == 1 ? (int8_t)b[0] : width == 2 ? (int16_t)(b[0] | b[1] << 8)
        : width == 4 ? (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24)
                     : (int64_t)((uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
                                 (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 |
                                 (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56);
    return PS_OK;
}

/* The interpreter's own lookup (Objects/dictobject.c): start at hash & mask, perturb, stop at
 * an empty slot. Reads a few index slots and entries instead of every key. *FOUND is 0 when
 * the probe ended without a match (the caller may still scan: if our hash were wrong, an
 * empty slot proves nothing). */
static int probe_keys(struct ps_walker *w, uint64_t keys, uint64_t values, const char *name,
                      uint64_t *value, int *found)
{
    const struct ps_pyoffsets *o = &w->off;
    int64_t hash;
    *found = 0;
    if (!w->hash_known || ps_str_hash((uint8_t)o->more.str_hash, w->hash_k0, w->hash_k1, name, &hash))
        return PS_OK;
    struct dict_keys k;
    uint64_t size;
    int rc;
    if ((rc = read_keys(w, keys, &k)))
        return rc;
    /* The index table sits between dk_indices and the entries. */
    uint64_t indices = keys + (uint64_t)o->dict.dk_indices;
    uint64_t index_bytes = k.entries - indices;
    if (o->dict.dk_size != PS_OFF_NONE)
        size = index_bytes <= 0x100 ? index_bytes : index_bytes <= 0x20000 ? index_bytes / 2 : index_bytes / 4;
    else {
        uint8_t log2;
        if ((rc = ps_mem_u8(w->mem, keys + (uint64_t)o->dict.dk_log2_size, &log2)))
            return rc;
        size = 1ull << log2;
    }
    uint64_t mask = size - 1, perturb = (uint64_t)hash, i = (uint64_t)hash & mask;
    for (uint64_t n = 0; n < size; n++) {
        int64_t ix;
        if ((rc = read_index(w, indices, size, i, &ix)))
            return rc;
        if (ix == -1)
            return PS_OK; /* DKIX_EMPTY */
        if (ix >= 0 && (uint64_t)ix < k.nentries) {
            uint64_t e = k.entries + (uint64_t)ix * k.entry_size, key, key_hash = 0;
            if ((rc = w_u64(w, e + k.key_at, &key)))
                return rc;
            /* Compare hashes first (from the entry, or cached in the str), then the text. */
            if (k.key_at == 8)
                rc = w_u64(w, e, &key_hash);
            else if (key && o->more.str_hash_cache != PS_OFF_NONE)
                rc = ps_w_field_u64(w, key, o->more.str_hash_cache, &key_hash);
            if (rc)
                return rc;
            int eq = 0;
            if (key && (int64_t)key_hash == hash && ps_py_str_eq(w, key, name, &eq) == PS_OK && eq) {
                if (values)
                    rc = w_u64(w, values + (uint64_t)o->dict.values_values + (uint64_t)ix * 8, value);
                else
                    rc = w_u64(w, e + k.value_at, value);
                *found = !rc && *value;
                return rc;
            }
        }
        perturb >>= 5;
        i = (i * 5 + perturb + 1) & mask;
    }
    return PS_OK;
}

static int keys_get(struct ps_walker *w, uint64_t keys, uint64_t values, const char *name,
                    uint64_t *value)
{
    int found;
    int rc = probe_keys(w, keys, values, name, value, &found);
    if (rc || found)
        return rc;
    struct lookup l = {w, name, 0};
    return finish_lookup(keys_foreach(w, keys, values, lookup_cb, &l), &l, value);
}

int ps_py_dict_get(struct ps_walker *w, uint64_t dict, const char *name, uint64_t *value)
{
    uint64_t keys, values;
    int rc;
    *value = 0;
    if (w->off.dict.ma_table != PS_OFF_NONE) { /* 2.7: no hash of ours to probe with: scan */
        struct lookup l = {w, name, 0};
        return finish_lookup(table27_foreach(w, dict, lookup_cb, &l), &l, value);
    }
    if ((rc = ps_w_field_u64(w, dict, w->off.dict.ma_keys, &keys)) ||
        (rc = ps_w_field_u64(w, dict, w->off.dict.ma_values, &values)))
        return rc;
    return keys_get(w, keys, values, name, value);
}

int ps_py_instance_attrs(struct ps_walker *w, uint64_t obj, struct ps_attrs *a)
{
    const struct ps_pyoffsets *o = &w->off;
    uint64_t type, flags, word;
    int rc;
    a->dict = a->keys = a->values = 0;
    if ((rc = ps_w_field_u64(w, obj, o->object.ob_type, &type)) ||
        (rc = ps_w_field_u64(w, type, o->object.tp_flags, &flags)))
        return rc;
    /* Types without a managed dict (all before 3.11; later, C types with a __dict__ slot such
     * as _asyncio.Future, and their Python subclasses) keep it at tp_dictoffset. */
    switch (o->dict_model == PS_DICT_OFFSET || !(flags & TPFLAGS_MANAGED_DICT) ? PS_DICT_OFFSET
                                                                              : o->dict_model) {
    case PS_DICT_OFFSET: {
        uint64_t dictoffset;
        if ((rc = ps_w_field_u64(w, type, o->object.tp_dictoffset, &dictoffset)))
            return rc;
        if ((int64_t)dictoffset < 0 && (int64_t)dictoffset > -0x10000) {
            /* a var-sized object's (an int or tuple subclass instance, e.g. an IntEnum
             * member): counted from the end of its items, as _PyObject_GetDictPtr does */
            uint64_t basicsize, itemsize, size;
            if ((rc = ps_w_field_u64(w, type, o->object.tp_basicsize, &basicsize)) ||
                (rc = ps_w_field_u64(w, type, o->object.tp_basicsize + 8, &itemsize)) ||
                (rc = ps_w_field_u64(w, obj, o->object.ob_size, &size)))
                return rc;
            if ((int64_t)size < 0)
                size = (uint64_t)-(int64_t)size;
            if (o->longobj.lv_tag != PS_OFF_NONE || basicsize > 0x10000 || itemsize > 64 ||
                size > 0x100000)
                return PS_OK; /* 3.12+ ints keep no size there */
            size = (basicsize + size * itemsize + 7) & ~(uint64_t)7;
            rc = w_u64(w, obj + size + dictoffset, &a->dict);
            if (!rc && a->dict && !ps_py_is(w, a->dict, "dict"))
                a->dict = 0;
            break;
        }
        if ((int64_t)dictoffset <= 0 || dictoffset > 0x10000)
            return PS_OK; /* no dict */
        rc = w_u64(w, obj + dictoffset, &a->dict);
        break;
    }
    case PS_DICT_PREHEADER:
        if (!(flags & TPFLAGS_MANAGED_DICT))
            return PS_OK;
        rc = ps_w_field_u64(w, obj, o->object.managed_dict, &a->dict);
        if (!rc && !a->dict)
            rc = w_u64(w, obj + PREHEADER_VALUES_OFFSET, &a->values);
        break;
    case PS_DICT_TAGGED:
        if (!(flags & TPFLAGS_MANAGED_DICT))
            return PS_OK;
        rc = ps_w_field_u64(w, obj, o->object.managed_dict, &word);
        if (!rc && (word & 1))
            a->values = word + 1; /* stored as values - 1 */
        else if (!rc)
            a->dict = word;
        break;
    case PS_DICT_INLINE: {
        if (!(flags & TPFLAGS_MANAGED_DICT))
            return PS_OK;
        rc = ps_w_field_u64(w, obj, o->object.managed_dict, &a->dict);
        if (!rc && !a->dict && (flags & TPFLAGS_INLINE_VALUES)) {
            uint64_t basicsize;
            uint8_t valid;
            if ((rc = ps_w_field_u64(w, type, o->object.tp_basicsize, &basicsize)))
                return rc;
            if (basicsize > 0x10000)
                return PS_CORRUPT;
            /* PyDictValues: capacity, size, embedded, valid, then the values. */
            if ((rc = ps_mem_u8(w->mem, obj + basicsize + 3, &valid)))
                return rc;
            if (valid)
                a->values = obj + basicsize;
        }
        break;
    }
    default:
        return PS_CORRUPT;
    }
    if (rc || a->dict || !a->values)
        return rc;
    if ((rc = ps_w_field_u64(w, type, o->object.ht_cached_keys, &a->keys)))
        return rc;
    if (!a->keys)
        a->values = 0;
    return PS_OK;
}

int ps_py_attrs_foreach(struct ps_walker *w, const struct ps_attrs *a, ps_dict_cb cb, void *arg)
{
    if (a->dict)
        return ps_py_dict_foreach(w, a->dict, cb, arg);
    if (a->values)
        return keys_foreach(w, a->keys, a->values, cb, arg);
    return PS_OK;
}

int ps_py_getattr(struct ps_walker *w, uint64_t obj, const char *name, uint64_t *value)
{
    struct ps_attrs a;
    *value = 0;
    int rc = ps_py_instance_attrs(w, obj, &a);
    if (rc)
        return rc;
    if (a.dict)
        return ps_py_dict_get(w, a.dict, name, value);
    return a.values ? keys_get(w, a.keys, a.values, name, value) : PS_OK;
}

/* Which HTTP request a thread or asyncio task is serving, read from the frames the common
 * servers and frameworks leave on the stack: a WSGI environ dict, an ASGI scope dict, or
 * gunicorn's parsed request. One table says where each keeps it (function, file, local,
 * attributes to follow, how to read what is there): adding a framework is a row.
 *
 * It runs inside the walk, at capture and at analysis, so the snapshot keeps exactly what it
 * reads: a handful of dict probes (by hash, strhash.c) and a few short strings per thread,
 * even beyond the locals limits. It never reads a value whose name looks like a secret (the
 * Cookie and Authorization headers are never looked up), and the value of a query parameter
 * named like one is withheld from the snapshot and shown as <redacted>. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/model.h"
#include "walker_internal.h"

#define MAX_FIELD 2048    /* characters kept of a path or query string */
#define MAX_SHORT 256     /* of a method, protocol, address or host */
#define MAX_HEADERS 128   /* ASGI header pairs looked at for Host */
#define MAX_SPANS 16

enum req_format {
    REQ_WSGI,     /* a WSGI environ dict (PEP 3333) */
    REQ_ASGI,     /* an ASGI scope dict, type "http" or "websocket" */
    REQ_GUNICORN, /* gunicorn.http.message.Request, before its environ exists */
};

/* Where a server or framework keeps the request: in FUNCTION (whose file ends with FILE;
 * "*" for any), the local LOCAL, then the attributes ATTRS (NULL-ended), read as FORMAT.
 * Threads are searched innermost frame first, task chains outermost first. */
struct finder_row {
    const char *source, *function, *file, *local;
    const char *attrs[2];
    enum req_format format;
    const char *shown; /* the local and attributes, as the output names them */
};

static const struct finder_row finders[] = {
    /* source, function, file, local, attributes, format, as shown */
    {"django", "_get_response", "django/core/handlers/base.py",
     "request", {"environ"}, REQ_WSGI, "request.environ"},
    {"django", "get_response", "django/core/handlers/base.py",
     "request", {"environ"}, REQ_WSGI, "request.environ"},
    {"django", "__call__", "django/core/handlers/wsgi.py", "environ", {0}, REQ_WSGI, "environ"},
    {"flask", "wsgi_app", "flask/app.py", "environ", {0}, REQ_WSGI, "environ"},
    {"werkzeug", "run_wsgi", "werkzeug/serving.py", "environ", {0}, REQ_WSGI, "environ"},
    {"gunicorn", "handle_request", "gunicorn/workers/sync.py", "environ", {0}, REQ_WSGI, "environ"},
    {"gunicorn", "handle_request", "gunicorn/workers/gthread.py",
     "environ", {0}, REQ_WSGI, "environ"},
    {"gunicorn", "handle_request", "gunicorn/workers/sync.py", "req", {0}, REQ_GUNICORN, "req"},
    {"gunicorn", "handle_request", "gunicorn/workers/gthread.py", "req", {0}, REQ_GUNICORN, "req"},
    {"wsgiref", "run", "wsgiref/handlers.py", "self", {"environ"}, REQ_WSGI, "self.environ"},
    {"uvicorn", "run_asgi", "uvicorn/protocols/http/httptools_impl.py",
     "self", {"scope"}, REQ_ASGI, "self.scope"},
    {"uvicorn", "run_asgi", "uvicorn/protocols/http/h11_impl.py",
     "self", {"scope"}, REQ_ASGI, "self.scope"},
    /* any other server or framework that keeps to the specs' names */
    {"asgi", "*", "*", "scope", {0}, REQ_ASGI, "scope"},
    {"wsgi", "*", "*", "environ", {0}, REQ_WSGI, "environ"},
};

/* The request's fields, in the order of struct ps_request's char pointers. */
enum field { F_METHOD, F_PATH, F_QUERY, F_PROTOCOL, F_REMOTE, F_HOST, NFIELDS };

static char **field_ptr(struct ps_request *r, enum field f)
{
    char **const p[NFIELDS] = {&r->method, &r->path, &r->query, &r->protocol, &r->remote_addr,
                               &r->host};
    return p[f];
}

/* ---- reading text ---- */

static uint32_t unit(const unsigned char *raw, unsigned kind, size_t i)
{
    uint32_t cp = 0;
    memcpy(&cp, raw + i * kind, kind); /* little-endian target */
    return cp;
}

/* A str or bytes object as UTF-8 (a str's code points; a bytes object's bytes as they are),
 * at most MAX units, "..." appended when cut. When QUERY, parameters whose name looks like a
 * secret have their value withheld from the snapshot and shown as <redacted>. *OUT is NULL
 * when OBJ is neither. */
static int read_text(struct ps_walker *w, uint64_t obj, size_t max, int query, char **out,
                     uint8_t *redacted)
{
    uint64_t data, units;
    unsigned kind;
    *out = NULL;
    if (!obj)
        return PS_OK;
    if (ps_py_is(w, obj, "str")) {
        struct ps_str_hdr h;
        int rc = ps_py_str_header(w, obj, &h);
        if (rc)
            return rc;
        data = h.data, units = (uint64_t)h.length, kind = h.kind;
    } else if (ps_py_is(w, obj, "bytes")) {
        int rc = ps_w_field_u64(w, obj, w->off.object.ob_size, &units);
        if (rc)
            return rc;
        data = obj + (uint64_t)w->off.bytes.ob_sval, kind = 1;
    } else {
        return PS_OK;
    }
    if ((int64_t)units < 0)
        return PS_CORRUPT;
    size_t n = units > max ? max : (size_t)units;
    unsigned char *raw = malloc(n * kind + 1);
    if (!raw)
        return PS_NOMEM;
    int rc = ps_mem_read(w->mem, data, raw, n * kind);
    if (rc) {
        free(raw);
        return rc;
    }
    struct ps_span spans[MAX_SPANS];
    size_t nspans = query ? ps_query_secrets(w, raw, kind, n, spans, MAX_SPANS) : 0;
    /* each unit is at most 4 bytes of UTF-8; a redacted value is at most 10 ("<redacted>") */
    char *s = malloc(n * 4 + nspans * 10 + 4), *o = s;
    if (!s) {
        free(raw);
        return PS_NOMEM;
    }
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (next < nspans && i == spans[next].start) {
            ps_mem_withhold(w->mem, data + spans[next].start * kind,
                            (spans[next].end - spans[next].start) * kind);
            memcpy(o, "<redacted>", 10);
            o += 10;
            i = spans[next++].end - 1;
            if (redacted)
                *redacted = 1;
            continue;
        }
        o += ps_utf8_put(o, unit(raw, kind, i));
    }
    if (units > n) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o = '\0';
    free(raw);
    *out = s;
    return PS_OK;
}

/* A + B (either may be NULL), consumed. */
static char *join(char *a, char *b)
{
    if (!a || !*a) {
        free(a);
        return b;
    }
    if (!b)
        return a;
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    free(a);
    free(b);
    return s;
}

static char *prefixed(const char *prefix, char *s)
{
    char *p = strdup(prefix);
    if (!p) {
        free(s);
        return NULL;
    }
    return s ? join(p, s) : (free(p), NULL);
}

/* Item I of a tuple or list (at most 16 items), or 0. */
static uint64_t seq_item(struct ps_walker *w, uint64_t seq, uint64_t i, uint64_t *len)
{
    uint64_t n, items = 0, item = 0;
    int tuple = ps_py_is(w, seq, "tuple");
    if (!tuple && !ps_py_is(w, seq, "list"))
        return 0;
    if (ps_w_field_u64(w, seq, w->off.object.ob_size, &n) || (int64_t)n < 0)
        return 0;
    if (len)
        *len = n;
    if (i >= n)
        return 0;
    if (tuple)
        items = seq + (uint64_t)w->off.tuple.ob_item;
    else if (ps_w_field_u64(w, seq, w->off.list.ob_item, &items))
        return 0;
    if (w_u64(w, items + 8 * i, &item))
        return 0;
    return item;
}

/* ---- the three formats ---- */

/* WSGI environ keys, read by hash lookup; the path is SCRIPT_NAME + PATH_INFO. */
static const struct {
    const char *key;
    enum field field;
    size_t max;
    int query;
} wsgi_keys[] = {
    {"REQUEST_METHOD", F_METHOD, MAX_SHORT, 0}, {"PATH_INFO", F_PATH, MAX_FIELD, 0},
    {"QUERY_STRING", F_QUERY, MAX_FIELD, 1},    {"SERVER_PROTOCOL", F_PROTOCOL, MAX_SHORT, 0},
    {"REMOTE_ADDR", F_REMOTE, MAX_SHORT, 0},    {"HTTP_HOST", F_HOST, MAX_SHORT, 0},
};

static int read_wsgi(struct ps_walker *w, uint64_t env, struct ps_request *r)
{
    if (!ps_py_is(w, env, "dict"))
        return PS_OK;
    for (size_t i = 0; i < sizeof wsgi_keys / sizeof *wsgi_keys; i++) {
        uint64_t v;
        int rc = ps_py_dict_get(w, env, wsgi_keys[i].key, &v);
        if (!rc)
            rc = read_text(w, v, wsgi_keys[i].max, wsgi_keys[i].query,
                           field_ptr(r, wsgi_keys[i].field), &r->query_redacted);
        if (rc == PS_NOMEM)
            return rc;
        if (i == 0 && !r->method)
            return PS_OK; /* no REQUEST_METHOD: not an environ */
    }
    uint64_t script;
    char *prefix = NULL;
    if (ps_py_dict_get(w, env, "SCRIPT_NAME", &script) == PS_OK &&
        read_text(w, script, MAX_FIELD, 0, &prefix, NULL) == PS_NOMEM)
        return PS_NOMEM;
    if (prefix && *prefix && !(r->path = join(prefix, r->path)))
        return PS_NOMEM;
    if (!prefix || !*prefix)
        free(prefix);
    return PS_OK;
}

static int text_is(struct ps_walker *w, uint64_t obj, const char *s)
{
    int eq = 0;
    return obj && ps_py_str_eq(w, obj, s, &eq) == PS_OK && eq;
}

/* The value of the ASGI header NAME (lowercase, bytes) among HEADERS, or NULL. Only names
 * are read until it is found: other headers' values (a cookie) never are. */
static int asgi_header(struct ps_walker *w, uint64_t headers, const char *name, char **out)
{
    uint64_t n = 0;
    size_t want = strlen(name);
    seq_item(w, headers, 0, &n);
    for (uint64_t i = 0; i < n && i < MAX_HEADERS; i++) {
        uint64_t pair = seq_item(w, headers, i, NULL), key = pair ? seq_item(w, pair, 0, NULL) : 0;
        unsigned char *raw = NULL;
        size_t len = 0;
        if (!key || !ps_py_is(w, key, "bytes") || ps_py_bytes(w, key, 64, &raw, &len))
            continue;
        int match = len == want && memcmp(raw, name, len) == 0;
        free(raw);
        if (match)
            return read_text(w, seq_item(w, pair, 1, NULL), MAX_SHORT, 0, out, NULL);
    }
    return PS_OK;
}

static int read_asgi(struct ps_walker *w, uint64_t scope, struct ps_request *r)
{
    uint64_t type, v;
    int rc;
    if (!ps_py_is(w, scope, "dict") || ps_py_dict_get(w, scope, "type", &type) ||
        !(text_is(w, type, "http") || text_is(w, type, "websocket")))
        return PS_OK;
    if (!ps_py_dict_get(w, scope, "method", &v) && v &&
        (rc = read_text(w, v, MAX_SHORT, 0, &r->method, NULL)))
        return rc;
    if (!r->method && !(r->method = strdup(text_is(w, type, "http") ? "GET" : "WEBSOCKET")))
        return PS_NOMEM;
    char *root = NULL;
    if (!ps_py_dict_get(w, scope, "root_path", &v) &&
        (rc = read_text(w, v, MAX_FIELD, 0, &root, NULL)))
        return rc;
    if (!ps_py_dict_get(w, scope, "path", &v) &&
        (rc = read_text(w, v, MAX_FIELD, 0, &r->path, NULL))) {
        free(root);
        return rc;
    }
    if (root && *root)
        r->path = join(root, r->path);
    else
        free(root);
    if (!ps_py_dict_get(w, scope, "query_string", &v) &&
        (rc = read_text(w, v, MAX_FIELD, 1, &r->query, &r->query_redacted)))
        return rc;
    if (!ps_py_dict_get(w, scope, "http_version", &v) && v) {
        char *version = NULL;
        if ((rc = read_text(w, v, MAX_SHORT, 0, &version, NULL)))
            return rc;
        if (version && !(r->protocol = prefixed("HTTP/", version)))
            return PS_NOMEM;
    }
    if (!ps_py_dict_get(w, scope, "client", &v) && v &&
        (rc = read_text(w, seq_item(w, v, 0, NULL), MAX_SHORT, 0, &r->remote_addr, NULL)))
        return rc;
    if (!ps_py_dict_get(w, scope, "headers", &v) && v &&
        (rc = asgi_header(w, v, "host", &r->host)))
        return rc;
    return PS_OK;
}

/* gunicorn.http.message.Request: method, path, query, version (a tuple of ints), headers
 * as (NAME, value) tuples, peer_addr (host, port). */
static int read_gunicorn(struct ps_walker *w, uint64_t req, struct ps_request *r)
{
    static const struct {
        const char *attr;
        enum field field;
        size_t max;
        int query;
    } attrs[] = {{"method", F_METHOD, MAX_SHORT, 0}, {"path", F_PATH, MAX_FIELD, 0},
                 {"query", F_QUERY, MAX_FIELD, 1}};
    uint64_t v;
    int rc;
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
        if (ps_py_getattr(w, req, attrs[i].attr, &v))
            return PS_OK;
        if ((rc = read_text(w, v, attrs[i].max, attrs[i].query, field_ptr(r, attrs[i].field),
                            &r->query_redacted)))
            return rc;
        if (i == 0 && !r->method)
            return PS_OK;
    }
    uint64_t major, minor;
    if (!ps_py_getattr(w, req, "version", &v) && v &&
        !ps_py_long_u64(w, seq_item(w, v, 0, NULL), &major) &&
        !ps_py_long_u64(w, seq_item(w, v, 1, NULL), &minor) && major < 10 && minor < 10) {
        char buf[16] = "HTTP/x.y";
        buf[5] = (char)('0' + major);
        buf[7] = (char)('0' + minor);
        if (!(r->protocol = strdup(buf)))
            return PS_NOMEM;
    }
    if (!ps_py_getattr(w, req, "peer_addr", &v) && v &&
        (rc = read_text(w, seq_item(w, v, 0, NULL), MAX_SHORT, 0, &r->remote_addr, NULL)))
        return rc;
    uint64_t headers, n = 0;
    if (ps_py_getattr(w, req, "headers", &headers) || !headers)
        return PS_OK;
    seq_item(w, headers, 0, &n);
    for (uint64_t i = 0; i < n && i < MAX_HEADERS; i++) {
        uint64_t pair = seq_item(w, headers, i, NULL);
        if (pair && text_is(w, seq_item(w, pair, 0, NULL), "HOST"))
            return read_text(w, seq_item(w, pair, 1, NULL), MAX_SHORT, 0, &r->host, NULL);
    }
    return PS_OK;
}

typedef int (*reader_fn)(struct ps_walker *w, uint64_t obj, struct ps_request *r);
static const reader_fn readers[] = {
    [REQ_WSGI] = read_wsgi,
    [REQ_ASGI] = read_asgi,
    [REQ_GUNICORN] = read_gunicorn,
};

/* ---- matching frames ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0 && (ls == lx || s[ls - lx - 1] == '/');
}

static int row_matches(const struct finder_row *row, const struct ps_frame *f)
{
    if (strcmp(row->function, "*") != 0 &&
        (!f->function || strcmp(row->function, f->function) != 0))
        return 0;
    return strcmp(row->file, "*") == 0 || (f->file && ends_with(f->file, row->file));
}

static int try_row(struct ps_walker *w, size_t row, uint64_t frame, int frameobj,
                   const struct ps_frame *f, struct ps_request **out)
{
    const struct finder_row *fr = &finders[row];
    uint64_t obj;
    int rc = ps_w_frame_local(w, frame, frameobj, fr->local, &obj);
    for (size_t i = 0; !rc && obj && i < sizeof fr->attrs / sizeof *fr->attrs && fr->attrs[i]; i++)
        rc = ps_py_getattr(w, obj, fr->attrs[i], &obj);
    if (rc == PS_NOMEM)
        return rc;
    if (rc || !obj)
        return PS_OK;
    struct ps_request *r = calloc(1, sizeof *r);
    if (!r)
        return PS_NOMEM;
    r->source = fr->source;
    r->local = fr->shown;
    rc = readers[fr->format](w, obj, r);
    if (rc != PS_NOMEM && !r->method) { /* not a request after all */
        ps_request_free(r);
        return PS_OK;
    }
    if (rc == PS_NOMEM || !(r->function = strdup(f->function ? f->function : "?"))) {
        ps_request_free(r);
        return PS_NOMEM;
    }
    *out = r;
    return PS_OK;
}

int ps_request_frame(struct ps_walker *w, struct ps_request_find *rf, uint64_t frame,
                     int frameobj, const struct ps_frame *f)
{
    if (!rf || !w->lim.requests || (rf->found && !rf->last_wins) || f->kind != PS_FRAME_PYTHON)
        return PS_OK;
    for (size_t row = 0; row < sizeof finders / sizeof *finders; row++) {
        if (!row_matches(&finders[row], f))
            continue;
        struct ps_request *r = NULL;
        int rc = try_row(w, row, frame, frameobj, f, &r);
        if (rc)
            return rc;
        if (r) {
            ps_request_free(rf->found);
            rf->found = r;
            return PS_OK;
        }
    }
    return PS_OK;
}

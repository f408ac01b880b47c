/* The HTML report: the template of web/ (web_assets.c) with three slots filled per report.
 *   TITLE   the page title, HTML-escaped
 *   STATIC  what shows with scripts off: the text output (a traceback per thread and the
 *           tasks, without locals: they would double the page; the --summary text; folded
 *           stacks for a profile), HTML-escaped in <pre>
 *   DATA    the JSON documents, exactly as --json writes them, each in a
 *           <script type="application/json" data-pysnap="snapshot|summary|profile">, every
 *           '<' written \u003c so that no string of the target can close the element; a
 *           document over COMPRESS_OVER bytes is gzip in base64 instead (data-encoding=
 *           "gzip-base64", read by the browser's DecompressionStream): locals make a
 *           20-thread document some 400 KB of JSON, 30 KB compressed
 * The page's script (web/report.js) renders from DATA alone. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pysnap/error.h"
#include "pysnap/html.h"
#include "render_common.h"
#include "web_assets.h"

#define COMPRESS_OVER (64 * 1024)

struct page {
    char title[512];
    const struct ps_report *const *reports;
    size_t n;
    const struct ps_summary *summary;
    const struct ps_profile *profile;
    const char *profile_title;
    int native, locals;
};

/* One renderer's output, kept in memory to be escaped into the page. */
struct rendered {
    char *data;
    size_t len;
};

struct job {
    const struct page *p;
    size_t i;
};

typedef int (*render_into)(FILE *out, const struct job *j);

static int render_mem(render_into fn, const struct job *j, struct rendered *r)
{
    r->data = NULL;
    r->len = 0;
    FILE *m = open_memstream(&r->data, &r->len);
    if (!m)
        return PS_NOMEM;
    int rc = fn(m, j);
    if (fclose(m) != 0 && !rc)
        rc = PS_NOMEM;
    if (rc) {
        free(r->data);
        r->data = NULL;
    }
    return rc;
}

static int html_text(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\0': fputs("\xef\xbf\xbd", out); break;
        default: fputc(s[i], out);
        }
    }
    return PS_OK;
}

/* JSON inside a script element: '<' only occurs inside JSON strings, where \u003c means the
 * same character; so "</script>" or "<!--" in any value cannot end or change the element. */
static int script_json(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '<')
            fputs("\\u003c", out);
        else
            fputc(s[i], out);
    }
    return PS_OK;
}

/* gzip (RFC 1952) of S in base64, lines of 120 characters (whitespace the browser's base64
 * decoder skips). Base64 has no '<': nothing to escape. */
static int script_gzip_base64(FILE *out, const char *s, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len > 0x7fffffff)
        return PS_NOMEM;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return PS_NOMEM;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *buf = malloc(cap);
    int rc = buf ? PS_OK : PS_NOMEM;
    if (!rc) {
        z.next_in = (Bytef *)s;
        z.avail_in = (uInt)len;
        z.next_out = buf;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            rc = PS_NOMEM;
    }
    size_t n = z.total_out;
    deflateEnd(&z);
    for (size_t i = 0; !rc && i < n; i += 3) {
        unsigned v = (unsigned)buf[i] << 16 | (i + 1 < n ? (unsigned)buf[i + 1] << 8 : 0) |
                     (i + 2 < n ? buf[i + 2] : 0);
        char q[5] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '=', 0};
        fputs(q, out);
        if (i % 90 == 87) /* 30 groups of 4: a line of 120 */
            fputc('\n', out);
    }
    free(buf);
    return rc;
}

static int text_of_report(FILE *out, const struct job *j)
{
    struct ps_render_opts ro = {.locals = 0, .native = j->p->native, .tasks = 1};
    return ps_render_text.render(out, j->p->reports[j->i], &ro);
}

static int json_of_report(FILE *out, const struct job *j)
{
    struct ps_render_opts ro = {.locals = j->p->locals, .native = j->p->native};
    return ps_render_json.render(out, j->p->reports[j->i], &ro);
}

static int text_of_summary(FILE *out, const struct job *j)
{
    return ps_summary_render_text(out, j->p->summary, 50);
}

static int json_of_summary(FILE *out, const struct job *j)
{
    return ps_summary_render_json(out, j->p->summary);
}

static int text_of_profile(FILE *out, const struct job *j)
{
    return ps_profile_write_folded(out, j->p->profile);
}

static int json_of_profile(FILE *out, const struct job *j)
{
    return ps_profile_write_speedscope(out, j->p->profile, j->p->profile_title);
}

/* FN's output through ESCAPE, between OPEN and CLOSE. */
static int embed(FILE *out, render_into fn, const struct job *j,
                 int (*escape)(FILE *, const char *, size_t), const char *open, const char *close)
{
    struct rendered r;
    int rc = render_mem(fn, j, &r);
    if (rc)
        return rc;
    fputs(open, out);
    rc = escape(out, r.data, r.len);
    fputs(close, out);
    free(r.data);
    return rc;
}

/* A JSON document as a data element of kind KIND: as it is, or compressed when large. */
static int embed_json(FILE *out, render_into fn, const struct job *j, const char *kind)
{
    struct rendered r;
    int rc = render_mem(fn, j, &r);
    if (rc)
        return rc;
    int gz = r.len > COMPRESS_OVER;
    fprintf(out, "<script type=\"application/json\" data-pysnap=\"%s\"%s>", kind,
            gz ? " data-encoding=\"gzip-base64\"" : "");
    rc = (gz ? script_gzip_base64 : script_json)(out, r.data, r.len);
    fputs("</script>\n", out);
    free(r.data);
    return rc;
}

static int write_static(FILE *out, const struct page *p)
{
    int rc = PS_OK;
    if (p->summary)
        rc = embed(out, text_of_summary, &(struct job){p, 0}, html_text, "<h2>Summary</h2>\n<pre>",
                   "</pre>\n");
    if (!rc && p->profile && !p->n)
        rc = embed(out, text_of_profile, &(struct job){p, 0}, html_text,
                   "<p>Folded stacks (outermost frame first; the count of samples last):</p>\n<pre>",
                   "</pre>\n");
    for (size_t i = 0; i < p->n && !rc; i++) {
        if (p->n > 1)
            fprintf(out, "<h2>Snapshot %zu</h2>\n", i + 1);
        rc = embed(out, text_of_report, &(struct job){p, i}, html_text, "<pre>", "</pre>\n");
    }
    return rc;
}

static int write_data(FILE *out, const struct page *p)
{
    int rc = PS_OK;
    for (size_t i = 0; i < p->n && !rc; i++)
        rc = embed_json(out, json_of_report, &(struct job){p, i}, "snapshot");
    if (!rc && p->summary)
        rc = embed_json(out, json_of_summary, &(struct job){p, 0}, "summary");
    if (!rc && p->profile)
        rc = embed_json(out, json_of_profile, &(struct job){p, 0}, "profile");
    return rc;
}

static int write_page(FILE *out, const struct page *p)
{
    int rc = PS_OK;
    for (size_t i = 0; i <= ps_web_nslots && !rc; i++) {
        fputs(ps_web_pieces[i], out);
        if (i == ps_web_nslots)
            break;
        const char *slot = ps_web_slots[i];
        if (!strcmp(slot, "TITLE"))
            html_text(out, p->title, strlen(p->title));
        else if (!strcmp(slot, "STATIC"))
            rc = write_static(out, p);
        else if (!strcmp(slot, "DATA"))
            rc = write_data(out, p);
    }
    if (!rc && ferror(out))
        rc = PS_IO;
    return rc;
}

static int is_on_cpu(const struct ps_thread *t)
{
    return t->state == PS_TSTATE_RUNNING || t->state == PS_TSTATE_WAITING_FOR_GIL;
}

int ps_html_write_reports(FILE *out, const struct ps_report *const *reports, size_t n,
                          const struct ps_summary *summary, const struct ps_render_opts *o)
{
    struct page p = {.reports = reports, .n = n, .summary = summary, .native = o->native,
                     .locals = o->locals};
    struct ps_profile *prof = NULL;
    int rc = PS_OK;
    if (n == 1 && !summary) {
        const char *cmd = ps_snap_string(reports[0]->meta, "cmdline");
        snprintf(p.title, sizeof p.title, "pysnap: process %llu%s%s",
                 (unsigned long long)reports[0]->meta->meta.pid, cmd && *cmd ? ": " : "",
                 cmd && *cmd ? cmd : "");
    } else {
        /* The flame graph of a set: every thread on CPU in every snapshot, one sample each. */
        snprintf(p.title, sizeof p.title, "pysnap: %zu snapshot%s", n, n == 1 ? "" : "s");
        rc = ps_profile_new(&prof);
        for (size_t i = 0; i < n && !rc; i++) {
            const struct ps_model *m = &reports[i]->model;
            const char *cmd = ps_snap_string(reports[i]->meta, "cmdline");
            for (size_t k = 0; k < m->ninterps && !rc; k++)
                for (size_t t = 0; t < m->interps[k].nthreads && !rc; t++)
                    if (is_on_cpu(&m->interps[k].threads[t]))
                        rc = ps_profile_add_thread(prof, reports[i]->meta->meta.pid, cmd,
                                                   &m->interps[k].threads[t], 0);
        }
        p.profile = prof;
        p.profile_title = p.title;
    }
    if (!rc)
        rc = write_page(out, &p);
    ps_profile_free(prof);
    return rc;
}

int ps_html_write_profile(FILE *out, const struct ps_profile *prof, const char *title)
{
    struct page p = {.profile = prof, .profile_title = title};
    snprintf(p.title, sizeof p.title, "%s", title ? title : "pysnap profile");
    return write_page(out, &p);
}

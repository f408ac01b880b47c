/* --json: the documented schema (doc/schema.json). Names here are an interface: change
 * them only together with the schema and a format note in README. */
#include <stdio.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/native.h"
#include "pysnap/report.h"
#include "render_common.h"

#ifndef PYSNAP_VERSION
#define PYSNAP_VERSION "0.0.0"
#endif

/* Length of the well-formed UTF-8 sequence at P (RFC 3629), or 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
          : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    unsigned char lo = p[0] == 0xe0 ? 0xa0 : p[0] == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = p[0] == 0xed ? 0x9f : p[0] == 0xf4 ? 0x8f : 0xbf;
    for (int i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
        if (p[i] < lo || p[i] > hi)
            return 0; /* also stops at the NUL */
    return n;
}

static void json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20) {
                fprintf(out, "\\u%04x", *p);
            } else if (*p < 0x80) {
                fputc(*p, out);
            } else {
                /* Target memory and snapshot strings may hold any bytes: JSON must stay
                 * valid UTF-8, so a byte that starts no valid sequence becomes U+FFFD. */
                int n = utf8_len(p);
                if (n) {
                    fwrite(p, 1, (size_t)n, out);
                    p += n - 1;
                } else {
                    fputs("\\ufffd", out);
                }
            }
        }
    }
    fputc('"', out);
}

void ps_json_str(FILE *out, const char *s)
{
    json_str(out, s);
}

static const char *json_bool(int b)
{
    return b ? "true" : "false";
}

static const char *local_kind_name(uint8_t kind)
{
    static const char *const names[] = {[PS_LOCAL_ARG] = "arg", [PS_LOCAL_LOCAL] = "local",
                                        [PS_LOCAL_CELL] = "cell", [PS_LOCAL_FREE] = "free"};
    return kind < sizeof names / sizeof *names && names[kind] ? names[kind] : NULL;
}

static void print_values(FILE *out, const struct ps_value *v, size_t n);

/* A value's members, the object left open for more. */
static void print_value_open(FILE *out, const struct ps_value *v)
{
    fputs("{\"type\": ", out);
    json_str(out, v->type);
    fputs(", \"repr\": ", out);
    json_str(out, v->unbound ? "<unbound>" : v->repr);
    fprintf(out, ", \"truncated\": %s", json_bool(v->truncated));
    if (v->value) {
        fputs(", \"value\": ", out);
        json_str(out, v->value);
    }
    if (local_kind_name(v->kind)) {
        fputs(", \"kind\": ", out);
        json_str(out, local_kind_name(v->kind));
    }
    if (v->unbound)
        fputs(", \"unbound\": true", out);
    if (v->redacted)
        fputs(", \"redacted\": true", out);
    if (v->nattrs) {
        fputs(", \"attributes\": ", out);
        print_values(out, v->attrs, v->nattrs);
    }
}

static void print_value(FILE *out, const struct ps_value *v)
{
    print_value_open(out, v);
    fputs("}", out);
}

/* {name: value, ...}; a name seen twice keeps its first value (JSON objects have one). */
static void print_values(FILE *out, const struct ps_value *v, size_t n)
{
    fputs("{", out);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(v[i].name, v[j].name) == 0;
        if (dup)
            continue;
        fputs(first ? "" : ", ", out);
        first = 0;
        json_str(out, v[i].name);
        fputs(": ", out);
        print_value(out, &v[i]);
    }
    fputs("}", out);
}

static void print_frame(FILE *out, const struct ps_frame *f, int locals)
{
    if (f->kind == PS_FRAME_PYTHON) {
        fputs("{\"kind\": \"python\", \"function\": ", out);
        json_str(out, f->function);
        fputs(", \"qualname\": ", out);
        json_str(out, f->qualname);
        fputs(", \"file\": ", out);
        json_str(out, f->file);
        fprintf(out, ", \"line\": %d, \"locals\": ", f->line);
        print_values(out, f->locals, locals ? f->nlocals : 0);
        fprintf(out, ", \"locals_truncated\": %s}", json_bool(locals && f->locals_truncated));
    } else {
        fputs("{\"kind\": \"native\", \"function\": ", out);
        json_str(out, f->function);
        fputs(", \"module\": ", out);
        json_str(out, f->file);
        fprintf(out, ", \"offset\": %llu}", (unsigned long long)f->offset);
    }
}

static void print_thread(FILE *out, const struct ps_interp *in, const struct ps_thread *t,
                         int locals)
{
    fprintf(out, "{\"tid\": %u, ", t->tid);
    if (t->ns_tid)
        fprintf(out, "\"ns_tid\": %u, ", t->ns_tid);
    fputs("\"name\": ", out);
    json_str(out, t->name);
    fputs(", \"name_source\": ", out);
    json_str(out, !t->name ? NULL : t->name_from_os ? "os" : "threading");
    fprintf(out, ", \"daemon\": %s", t->daemon_known ? json_bool(t->daemon) : "null");
    char os_state[2] = {t->os_state, 0};
    fputs(", \"os_state\": ", out);
    json_str(out, t->os_state ? os_state : NULL);
    fprintf(out, ", \"state\": \"%s\", \"holds_gil\": %s, \"python\": %s",
            ps_thread_state_name(t->state), json_bool(t->holds_gil), json_bool(t->tstate != 0));
    static const char *const py_states[] = {"detached", "attached", "suspended"};
    if (t->py_state && in->free_threaded) /* without a GIL, what runs is what is attached */
        fprintf(out, ", \"thread_state\": \"%s\"", py_states[t->py_state - 1]);
    fprintf(out, ", \"frames_truncated\": %s, \"error\": ", json_bool(t->frames_truncated));
    json_str(out, t->walk_status && t->walk_status != PS_LIMIT ? ps_strerror(t->walk_status) : NULL);
    fputs(", \"syscall\": ", out);
    json_str(out, t->syscall[0] ? t->syscall : NULL);
    fputs(", \"pc_instruction\": ", out);
    json_str(out, t->pc_instruction[0] ? t->pc_instruction : NULL);
    fprintf(out, ", \"native_merged\": %s, \"native_cut\": %s",
            json_bool(t->native_flags & PS_NATIVE_MERGED), json_bool(t->native_flags & PS_NATIVE_CUT));
    fputs(", \"request\": ", out);
    ps_request_json(out, t->request);
    if (t->handling) {
        fputs(", \"handling\": ", out);
        print_value_open(out, t->handling);
        fputs(", \"traceback\": [", out);
        for (size_t i = 0; i < t->nhandling_tb; i++) {
            fputs(i ? ", " : "", out);
            print_frame(out, &t->handling_tb[i], 0);
        }
        fputs("]}", out);
    }
    fputs(", \"frames\": [", out);
    for (size_t i = 0; i < t->nframes; i++) {
        fputs(i ? ", " : "", out);
        print_frame(out, &t->frames[i], locals);
    }
    fputs("]}", out);
}

static const char *task_ref(const struct ps_interp *in, uint64_t addr, char *buf, size_t n)
{
    for (size_t i = 0; i < in->ntasks; i++)
        if (in->tasks[i].addr == addr) {
            snprintf(buf, n, "%zu", i);
            return buf;
        }
    return "null";
}

/* "tasks": the asyncio tasks (doc/schema.json); ids are indexes into this array. */
static void print_tasks(FILE *out, const struct ps_interp *in, int locals)
{
    char buf[32];
    fputs(", \"tasks_error\": ", out);
    json_str(out, in->tasks_status ? ps_strerror(in->tasks_status) : NULL);
    fprintf(out, ", \"tasks_debug_offsets\": %s", json_bool(in->tasks_debug_offsets));
    fputs(", \"tasks\": [", out);
    for (size_t i = 0; i < in->ntasks; i++) {
        const struct ps_task *t = &in->tasks[i];
        fprintf(out, "%s{\"id\": %zu, \"address\": \"0x%llx\", \"name\": ", i ? ",\n    " : "\n    ",
                i, (unsigned long long)t->addr);
        json_str(out, t->name);
        fputs(", \"type\": ", out);
        json_str(out, t->type);
        fprintf(out, ", \"kind\": %s, \"state\": \"%s\", \"running\": %s, \"thread_tid\": ",
                t->kind == PS_TASK_C ? "\"c\"" : t->kind == PS_TASK_PYTHON ? "\"python\"" : "null",
                ps_task_state_name(t->state), json_bool(t->running));
        if (t->tid)
            fprintf(out, "%u", t->tid);
        else
            fputs("null", out);
        if (t->loop)
            fprintf(out, ", \"loop\": \"0x%llx\"", (unsigned long long)t->loop);
        else
            fputs(", \"loop\": null", out);
        fputs(", \"coroutine_chain\": [", out);
        for (size_t j = 0; j < t->nframes; j++) {
            fputs(j ? ", " : "", out);
            print_frame(out, &t->frames[j], locals);
        }
        fprintf(out, "], \"chain_truncated\": %s, \"chain_cycle\": %s, \"awaiting\": ",
                json_bool(t->chain_truncated), json_bool(t->chain_cycle));
        if (t->awaited) {
            fputs("{\"type\": ", out);
            json_str(out, t->awaited_type);
            fprintf(out, ", \"address\": \"0x%llx\", \"task\": %s}", (unsigned long long)t->awaited,
                    task_ref(in, t->awaited, buf, sizeof buf));
        } else {
            fputs("null", out);
        }
        fputs(", \"waits_for\": [", out);
        for (size_t j = 0; j < t->nwaits_for; j++)
            fprintf(out, "%s%zu", j ? ", " : "", t->waits_for[j]);
        fputs("], \"awaited_by\": [", out);
        int first = 1;
        for (size_t j = 0; j < in->ntasks; j++)
            for (size_t l = 0; l < in->tasks[j].nwaits_for; l++)
                if (in->tasks[j].waits_for[l] == i) {
                    fprintf(out, "%s%zu", first ? "" : ", ", j);
                    first = 0;
                }
        fprintf(out, "], \"deadlock\": %s, \"request\": ", json_bool(t->deadlock));
        ps_request_json(out, t->request);
        fputs(", \"error\": ", out);
        json_str(out, t->walk_status ? ps_strerror(t->walk_status) : NULL);
        fputs("}", out);
    }
    fputs("]", out);
}

static void print_interp(FILE *out, const struct ps_interp *in, int locals)
{
    fprintf(out, "{\"id\": %lld, \"gil\": ", (long long)in->id);
    if (in->gil_known) {
        fprintf(out, "{\"locked\": %s, \"shared\": %s, \"holder_tid\": ",
                json_bool(in->gil_locked), json_bool(in->gil_shared));
        if (in->gil_locked && in->gil_holder_tid)
            fprintf(out, "%u}", in->gil_holder_tid);
        else
            fputs("null}", out);
    } else {
        fputs("null", out);
    }
    if (in->free_threaded)
        fputs(", \"gil_reason\": \"free-threaded build: no GIL\"", out);
    fputs(", \"gc\": ", out);
    if (in->gc_known) {
        fprintf(out, "{\"collecting\": %s, \"collector_tid\": ", json_bool(in->gc_collecting));
        if (in->gc_collecting && in->gc_collector_tid)
            fprintf(out, "%u}", in->gc_collector_tid);
        else
            fputs("null}", out);
    } else {
        fputs("null", out);
    }
    fputs(", \"threads\": [", out);
    for (size_t j = 0; j < in->nthreads; j++) {
        fputs(j ? ",\n    " : "\n    ", out);
        print_thread(out, in, &in->threads[j], locals);
    }
    fputs("]", out);
    print_tasks(out, in, locals);
    fputs("}", out);
}

static int render_json(FILE *out, const struct ps_report *r, const struct ps_render_opts *o)
{
    const struct ps_snap_meta *m = r->meta;
    char when[48], version[32];
    ps_format_time(m->meta.captured_at_ns, when, sizeof when);
    ps_format_version(ps_report_version(r), version, sizeof version);
    fputs("{\"pysnap\": {\"version\": ", out);
    json_str(out, PYSNAP_VERSION);
    fprintf(out, "},\n \"snapshot\": {\"format\": \"%u.%u\", \"tool_version\": ",
            m->meta.format_major, m->meta.format_minor);
    json_str(out, ps_snap_string(m, "tool_version"));
    fprintf(out, ", \"partial\": %s, \"locals\": %s, \"partial_reason\": ",
            json_bool(m->meta.flags & PS_META_PARTIAL), json_bool(!(m->meta.flags & PS_META_NO_LOCALS)));
    json_str(out, ps_snap_string(m, "partial_reason"));
    fputs(", \"capture_id\": ", out);
    json_str(out, ps_snap_string(m, "capture_id"));
    fputs(", \"source\": ", out);
    json_str(out, ps_snap_string(m, "source") ? ps_snap_string(m, "source") : "pysnap");
    fprintf(out, "},\n \"target\": {\"pid\": %llu, \"host\": ", (unsigned long long)m->meta.pid);
    json_str(out, ps_snap_string(m, "host"));
    fputs(", \"captured_at\": ", out);
    json_str(out, when);
    fprintf(out, ", \"pause_us\": %llu, \"exe\": ", (unsigned long long)(m->meta.pause_ns / 1000));
    json_str(out, ps_snap_string(m, "exe"));
    fputs(", \"cmdline\": ", out);
    json_str(out, ps_snap_string(m, "cmdline"));
    fputs(",\n  \"python\": {\"version\": ", out);
    json_str(out, version);
    fputs(", \"implementation\": \"cpython\", \"path\": ", out);
    json_str(out, ps_snap_string(m, "python_path"));
    fputs("}},\n \"interpreters\": [", out);
    for (size_t i = 0; i < r->model.ninterps; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        print_interp(out, &r->model.interps[i], o->locals);
    }
    fputs("],\n \"warnings\": [", out);
    if (r->model.walk_status) {
        fputs("\"the walk stopped early: ", out);
        fputs(ps_strerror(r->model.walk_status), out);
        fputs("\"", out);
    }
    fputs("]}\n", out);
    return ferror(out) ? PS_IO : PS_OK;
}

const struct ps_renderer ps_render_json = {"json", render_json};

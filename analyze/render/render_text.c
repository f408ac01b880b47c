/* The default output: a header, then every thread with its Python stack as a traceback
 * (most recent call last), like py-spy dump and pystack. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pysnap/error.h"
#include "pysnap/native.h"
#include "pysnap/report.h"
#include "render_common.h"

void ps_format_time(int64_t ns, char *buf, size_t size)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06dZ", base, (int)((ns % 1000000000) / 1000));
}

void ps_text_frame_locals(FILE *out, const struct ps_frame *f)
{
    for (size_t k = 0; k < f->nlocals; k++) {
        const struct ps_value *v = &f->locals[k];
        fprintf(out, "          %s = %s\n", v->name, v->unbound ? "<unbound>" : v->repr);
    }
    if (f->locals_truncated)
        fprintf(out, "          ... more locals not captured\n");
}

static void print_thread(FILE *out, const struct ps_thread *t, int locals, int native)
{
    fprintf(out, "\nThread %u", t->tid);
    if (t->name)
        fprintf(out, " \"%s\"", t->name);
    if (t->daemon_known && t->daemon)
        fputs(" daemon", out);
    fprintf(out, " (%s%s%s%s)\n", ps_thread_state_name(t->state),
            t->state == PS_TSTATE_SLEEPING && t->syscall[0] ? " in " : "",
            t->state == PS_TSTATE_SLEEPING ? t->syscall : "", t->holds_gil ? ", holds the GIL" : "");
    size_t npy = 0; /* frames may hold native ones too */
    for (size_t i = 0; i < t->nframes; i++)
        npy += t->frames[i].kind == PS_FRAME_PYTHON;
    if (native) {
        ps_native_render_text(out, t, locals);
    } else if (npy == 0) {
        fprintf(out, "    (no Python frames)\n");
    } else {
        fprintf(out, "    Traceback (most recent call last):\n");
        if (t->frames_truncated)
            fprintf(out, "      ... older frames not captured (frame limit)\n");
        for (size_t i = t->nframes; i-- > 0;) {
            const struct ps_frame *f = &t->frames[i];
            if (f->kind != PS_FRAME_PYTHON)
                continue;
            fprintf(out, "      File \"%s\", line %d, in %s\n", f->file, f->line, f->function);
            if (locals)
                ps_text_frame_locals(out, f);
        }
    }
    if (t->walk_status && t->walk_status != PS_LIMIT)
        fprintf(out, "    (stack incomplete: %s)\n", ps_strerror(t->walk_status));
}

static const char *task_name(const struct ps_interp *in, size_t i)
{
    return i < in->ntasks && in->tasks[i].name ? in->tasks[i].name : "?";
}

/* --tasks: each task with its coroutine chain (outermost first, like a traceback), what it
 * awaits, which tasks it waits for; then the deadlocks. */
static void print_tasks(FILE *out, const struct ps_interp *in, int locals)
{
    fprintf(out, "\nasyncio tasks: %zu\n", in->ntasks);
    if (in->tasks_status)
        fprintf(out, "    (task list incomplete: %s)\n", ps_strerror(in->tasks_status));
    for (size_t i = 0; i < in->ntasks; i++) {
        const struct ps_task *t = &in->tasks[i];
        fprintf(out, "\nTask \"%s\" (%s%s%s)", t->name ? t->name : "?", ps_task_state_name(t->state),
                t->running ? ", running" : "", t->deadlock ? ", DEADLOCK" : "");
        if (t->tid)
            fprintf(out, " on thread %u", t->tid);
        fputc('\n', out);
        for (size_t j = 0; j < t->nframes; j++) {
            const struct ps_frame *f = &t->frames[j];
            fprintf(out, "      File \"%s\", line %d, in %s\n", f->file, f->line, f->function);
            if (locals)
                ps_text_frame_locals(out, f);
        }
        if (t->chain_cycle)
            fprintf(out, "      ... the await chain loops back on itself\n");
        if (t->chain_truncated)
            fprintf(out, "      ... deeper awaits not followed (depth limit)\n");
        if (t->awaited)
            fprintf(out, "    awaiting %s\n", t->awaited_type ? t->awaited_type : "?");
        for (size_t j = 0; j < t->nwaits_for; j++)
            fprintf(out, "    waits for task \"%s\"\n", task_name(in, t->waits_for[j]));
        if (t->walk_status)
            fprintf(out, "    (task incomplete: %s)\n", ps_strerror(t->walk_status));
    }
    size_t ndead = 0;
    for (size_t i = 0; i < in->ntasks; i++)
        ndead += in->tasks[i].deadlock;
    if (ndead) {
        fprintf(out, "\nDEADLOCK: %zu tasks wait for each other in a cycle:", ndead);
        for (size_t i = 0; i < in->ntasks; i++)
            if (in->tasks[i].deadlock)
                fprintf(out, " \"%s\"", task_name(in, i));
        fputc('\n', out);
    }
}

static int render_text(FILE *out, const struct ps_report *r, const struct ps_render_opts *o)
{
    const struct ps_snap_meta *m = r->meta;
    char when[48], version[32];
    ps_format_time(m->meta.captured_at_ns, when, sizeof when);
    ps_format_version(ps_report_version(r), version, sizeof version);
    const char *host = ps_snap_string(m, "host"), *cmd = ps_snap_string(m, "cmdline");
    const char *source = ps_snap_string(m, "source");
    if (source && strcmp(source, "elf-core") == 0) /* no host, no pause: the core's file time */
        fprintf(out, "Process %llu, from an ELF core written %s\n",
                (unsigned long long)m->meta.pid, when);
    else
        fprintf(out, "Process %llu on %s, captured %s, paused %.3f ms\n",
                (unsigned long long)m->meta.pid, host ? host : "?", when,
                (double)m->meta.pause_ns / 1e6);
    if (cmd && *cmd)
        fprintf(out, "Command: %s\n", cmd);
    fprintf(out, "Python %s (cpython)\n", version);
    if (m->meta.flags & PS_META_PARTIAL) {
        const char *why = ps_snap_string(m, "partial_reason");
        fprintf(out, "PARTIAL snapshot: %s\n", why ? why : "capture ended early");
    }
    for (size_t i = 0; i < r->model.ninterps; i++) {
        const struct ps_interp *in = &r->model.interps[i];
        if (r->model.ninterps > 1)
            fprintf(out, "\nInterpreter %lld%s\n", (long long)in->id,
                    !in->gil_known ? "" : in->gil_shared ? " (shares its GIL)" : " (own GIL)");
        if (in->free_threaded) {
            fprintf(out, "free-threaded: no GIL\n");
        } else if (in->gil_known) {
            if (in->gil_locked && in->gil_holder_tid)
                fprintf(out, "GIL: held by thread %u\n", in->gil_holder_tid);
            else
                fprintf(out, "GIL: %s\n", in->gil_locked ? "locked" : "free");
        }
        if (in->gc_known && in->gc_collecting && in->gc_collector_tid)
            fprintf(out, "GC: collecting, in thread %u\n", in->gc_collector_tid);
        else if (in->gc_known && in->gc_collecting)
            fprintf(out, "GC: collecting\n");
        for (size_t j = 0; j < in->nthreads; j++)
            print_thread(out, &in->threads[j], o->locals, o->native);
        if (o->tasks)
            print_tasks(out, in, o->locals);
    }
    if (r->model.walk_status)
        fprintf(out, "\nwarning: the walk stopped early: %s\n", ps_strerror(r->model.walk_status));
    return ferror(out) ? PS_IO : PS_OK;
}

const struct ps_renderer ps_render_text = {"text", render_text};

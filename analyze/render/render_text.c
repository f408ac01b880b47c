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
        ps_tprintf(out, "          %s = %s\n", v->name, v->unbound ? "<unbound>" : v->repr);
    }
    if (f->locals_truncated)
        ps_tprintf(out, "          ... more locals not captured\n");
}

static void print_thread(FILE *out, const struct ps_thread *t, int locals, int native)
{
    ps_tprintf(out, "\nThread %u", t->tid);
    if (t->ns_tid)
        ps_tprintf(out, " (%u in the container)", t->ns_tid);
    if (t->name)
        ps_tprintf(out, " \"%s\"", t->name);
    if (t->daemon_known && t->daemon)
        fputs(" daemon", out);
    ps_tprintf(out, " (%s%s%s%s)\n", ps_thread_state_name(t->state),
            t->state == PS_TSTATE_SLEEPING && t->syscall[0] ? " in " : "",
            t->state == PS_TSTATE_SLEEPING ? t->syscall : "", t->holds_gil ? ", holds the GIL" : "");
    if (t->request)
        ps_request_text(out, t->request, "    ");
    if (t->handling) {
        /* one line: the exception and where it was raised, outermost frame first */
        ps_tprintf(out, "    Handling %s", t->handling->repr ? t->handling->repr : "?");
        for (size_t i = 0; i < t->nhandling_tb; i++)
            ps_tprintf(out, "%s%s (%s:%d)", i ? " > " : ", raised through ",
                    t->handling_tb[i].function, t->handling_tb[i].file, t->handling_tb[i].line);
        fputc('\n', out);
    }
    size_t npy = 0; /* frames may hold native ones too */
    for (size_t i = 0; i < t->nframes; i++)
        npy += t->frames[i].kind == PS_FRAME_PYTHON;
    if (native) {
        ps_native_render_text(out, t, locals);
    } else if (npy == 0) {
        ps_tprintf(out, "    (no Python frames)\n");
    } else {
        ps_tprintf(out, "    Traceback (most recent call last):\n");
        if (t->frames_truncated)
            ps_tprintf(out, "      ... older frames not captured (frame limit)\n");
        for (size_t i = t->nframes; i-- > 0;) {
            const struct ps_frame *f = &t->frames[i];
            if (f->kind != PS_FRAME_PYTHON)
                continue;
            ps_tprintf(out, "      File \"%s\", line %d, in %s\n", f->file, f->line, f->function);
            if (locals)
                ps_text_frame_locals(out, f);
        }
    }
    if (t->walk_status && t->walk_status != PS_LIMIT)
        ps_tprintf(out, "    (stack incomplete: %s)\n", ps_strerror(t->walk_status));
}

static const char *task_name(const struct ps_interp *in, size_t i)
{
    return i < in->ntasks && in->tasks[i].name ? in->tasks[i].name : "?";
}

/* --tasks: each task with its coroutine chain (outermost first, like a traceback), what it
 * awaits, which tasks it waits for; then the deadlocks. */
static void print_tasks(FILE *out, const struct ps_interp *in, int locals)
{
    ps_tprintf(out, "\nasyncio tasks: %zu\n", in->ntasks);
    if (in->tasks_status)
        ps_tprintf(out, "    (task list incomplete: %s)\n", ps_strerror(in->tasks_status));
    for (size_t i = 0; i < in->ntasks; i++) {
        const struct ps_task *t = &in->tasks[i];
        ps_tprintf(out, "\nTask \"%s\" (%s%s%s)", t->name ? t->name : "?", ps_task_state_name(t->state),
                t->running ? ", running" : "", t->deadlock ? ", DEADLOCK" : "");
        if (t->tid)
            ps_tprintf(out, " on thread %u", t->tid);
        fputc('\n', out);
        if (t->request)
            ps_request_text(out, t->request, "    ");
        for (size_t j = 0; j < t->nframes; j++) {
            const struct ps_frame *f = &t->frames[j];
            ps_tprintf(out, "      File \"%s\", line %d, in %s\n", f->file, f->line, f->function);
            if (locals)
                ps_text_frame_locals(out, f);
        }
        if (t->chain_cycle)
            ps_tprintf(out, "      ... the await chain loops back on itself\n");
        if (t->chain_truncated)
            ps_tprintf(out, "      ... deeper awaits not followed (depth limit)\n");
        if (t->awaited)
            ps_tprintf(out, "    awaiting %s\n", t->awaited_type ? t->awaited_type : "?");
        for (size_t j = 0; j < t->nwaits_for; j++)
            ps_tprintf(out, "    waits for task \"%s\"\n", task_name(in, t->waits_for[j]));
        if (t->walk_status)
            ps_tprintf(out, "    (task incomplete: %s)\n", ps_strerror(t->walk_status));
    }
    size_t ndead = 0;
    for (size_t i = 0; i < in->ntasks; i++)
        ndead += in->tasks[i].deadlock;
    if (ndead) {
        ps_tprintf(out, "\nDEADLOCK: %zu tasks wait for each other in a cycle:", ndead);
        for (size_t i = 0; i < in->ntasks; i++)
            if (in->tasks[i].deadlock)
                ps_tprintf(out, " \"%s\"", task_name(in, i));
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
        ps_tprintf(out, "Process %llu, from an ELF core written %s\n",
                (unsigned long long)m->meta.pid, when);
    else
        ps_tprintf(out, "Process %llu on %s, captured %s, paused %.3f ms\n",
                (unsigned long long)m->meta.pid, host ? host : "?", when,
                (double)m->meta.pause_ns / 1e6);
    if (cmd && *cmd)
        ps_tprintf(out, "Command: %s\n", cmd);
    ps_tprintf(out, "Python %s (cpython)\n", version);
    if (m->meta.flags & PS_META_PARTIAL) {
        const char *why = ps_snap_string(m, "partial_reason");
        ps_tprintf(out, "PARTIAL snapshot: %s\n", why ? why : "capture ended early");
    }
    for (size_t i = 0; i < r->model.ninterps; i++) {
        const struct ps_interp *in = &r->model.interps[i];
        if (r->model.ninterps > 1)
            ps_tprintf(out, "\nInterpreter %lld%s\n", (long long)in->id,
                    !in->gil_known ? "" : in->gil_shared ? " (shares its GIL)" : " (own GIL)");
        if (in->free_threaded) {
            fprintf(out, "free-threaded: no GIL\n");
        } else if (in->gil_known) {
            if (in->gil_locked && in->gil_holder_tid)
                ps_tprintf(out, "GIL: held by thread %u\n", in->gil_holder_tid);
            else
                ps_tprintf(out, "GIL: %s\n", in->gil_locked ? "locked" : "free");
        }
        if (in->gc_known && in->gc_collecting && in->gc_collector_tid)
            ps_tprintf(out, "GC: collecting, in thread %u\n", in->gc_collector_tid);
        else if (in->gc_known && in->gc_collecting)
            ps_tprintf(out, "GC: collecting\n");
        for (size_t j = 0; j < in->nthreads; j++)
            print_thread(out, &in->threads[j], o->locals, o->native);
        if (o->tasks)
            print_tasks(out, in, o->locals);
    }
    if (r->model.walk_status)
        ps_tprintf(out, "\nwarning: the walk stopped early: %s\n", ps_strerror(r->model.walk_status));
    return ferror(out) ? PS_IO : PS_OK;
}

const struct ps_renderer ps_render_text = {"text", render_text};

/* The native view of a thread (analyze --native), declared in pysnap/native.h. */

static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path;
}

void ps_native_render_text(FILE *out, const struct ps_thread *t, int locals)
{
    if (t->syscall[0] || t->pc_instruction[0]) {
        fputs("    ", out);
        if (t->syscall[0])
            ps_tprintf(out, "in system call %s%s", t->syscall, t->pc_instruction[0] ? "; " : "");
        if (t->pc_instruction[0])
            ps_tprintf(out, "at instruction: %s", t->pc_instruction);
        fputc('\n', out);
    }
    if (!(t->native_flags & PS_NATIVE_HAS)) {
        fputs("    (no native stack captured)\n", out);
    }
    if (t->nframes == 0)
        return;
    fputs("    Stack, native and Python (most recent call last):\n", out);
    if (t->native_flags & PS_NATIVE_CUT)
        fputs("      ... outer native frames not captured\n", out);
    if ((t->native_flags & PS_NATIVE_HAS) && !(t->native_flags & PS_NATIVE_MERGED))
        fputs("      (Python frames could not all be placed among the native ones)\n", out);
    for (size_t i = t->nframes; i-- > 0;) {
        const struct ps_frame *f = &t->frames[i];
        if (f->kind == PS_FRAME_PYTHON) {
            ps_tprintf(out, "      (Python) File \"%s\", line %d, in %s\n", f->file, f->line,
                    f->function);
            if (locals)
                ps_text_frame_locals(out, f);
            continue;
        }
        /* The native frame right outside Python frames is the eval-loop call that runs
         * them (that is where the merge put them): it is shown as those frames. */
        if (i > 0 && t->frames[i - 1].kind == PS_FRAME_PYTHON)
            continue;
        if (f->function)
            ps_tprintf(out, "      (C) %s+0x%llx", f->function, (unsigned long long)f->offset);
        else if (f->file)
            ps_tprintf(out, "      (C) ???");
        else
            ps_tprintf(out, "      (C) 0x%llx", (unsigned long long)f->offset);
        if (f->file && f->function)
            ps_tprintf(out, " (%s)", base_name(f->file));
        else if (f->file)
            ps_tprintf(out, " (%s+0x%llx)", base_name(f->file), (unsigned long long)f->offset);
        fputc('\n', out);
    }
}

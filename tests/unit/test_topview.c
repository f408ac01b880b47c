/* The aggregation behind `pysnap top` (include/pysnap/topview.h), without a terminal:
 * known stacks in, exact rows, shares, windows and escapes out. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pysnap/error.h"
#include "pysnap/topview.h"

#define S 1000000000LL

/* A thread whose stack is FRAMES ("function:file:line", innermost first, NULL-ended). */
static struct ps_thread thread(uint32_t tid, const char *name, int gil, char os_state,
                               const char *const *frames, struct ps_frame *store)
{
    struct ps_thread t;
    memset(&t, 0, sizeof t);
    t.tid = tid;
    t.name = (char *)name;
    t.holds_gil = (uint8_t)gil;
    t.os_state = os_state;
    t.state = gil || os_state == 'R' ? PS_TSTATE_RUNNING : PS_TSTATE_SLEEPING;
    size_t n = 0;
    for (; frames[n]; n++) {
        static char buf[64][128];
        char *b = buf[n];
        strcpy(b, frames[n]);
        char *file = strchr(b, ':');
        *file++ = 0;
        char *line = strchr(file, ':');
        *line++ = 0;
        store[n] = (struct ps_frame){.kind = PS_FRAME_PYTHON, .function = b, .file = file,
                                     .line = atoi(line)};
    }
    t.frames = store;
    t.nframes = n;
    return t;
}

static const struct ps_top_row *row(const struct ps_top_row *rows, size_t n, const char *fn,
                                    int line)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].function, fn) && (line < 0 || rows[i].line == line))
            return &rows[i];
    return NULL;
}

static void test_counts(void)
{
    struct ps_top *t;
    CHECK(ps_top_new(0, &t) == PS_OK);
    CHECK(ps_top_set_process(t, 100, "python app.py", "3.11.2") == PS_OK);
    CHECK(ps_top_set_process(t, 200, "python worker.py", "3.12.1") == PS_OK);
    static const char *const hot[] = {"leaf:a.py:10", "work:a.py:20", "main:a.py:30", NULL};
    static const char *const hot2[] = {"leaf:a.py:11", "work:a.py:21", "main:a.py:30", NULL};
    /* recursion: rec calls itself; total counts it once per sample */
    static const char *const rec[] = {"rec:b.py:5", "rec:b.py:6", "rec:b.py:6", "main:b.py:1",
                                      NULL};
    static const char *const idle[] = {"wait_for_lock:c.py:7", "main:c.py:1", NULL};
    struct ps_frame f1[8], f2[8], f3[8];
    /* 10 rounds of 1 s: pid 100 thread 1 in leaf (8 at line 10, 2 at line 11), pid 200 thread
     * 2 in rec in 5 of them; thread 3 of pid 200 idle, seen but never counted. */
    for (int i = 0; i < 10; i++) {
        struct ps_thread a = thread(1, "MainThread", 1, 0, i < 8 ? hot : hot2, f1);
        CHECK(ps_top_add_thread(t, 100, &a, 1, i * S) == PS_OK);
        ps_top_end_round(t, 100, 1);
        if (i % 2 == 0) {
            struct ps_thread b = thread(2, "T-2", 0, 'R', rec, f2);
            CHECK(ps_top_add_thread(t, 200, &b, 1, i * S) == PS_OK);
        }
        struct ps_thread c = thread(3, "stuck", 0, 'S', idle, f3);
        CHECK(ps_top_add_thread(t, 200, &c, 0, i * S) == PS_OK);
        ps_top_end_round(t, 200, 0);
        ps_top_tick(t);
    }
    ps_top_counters(t, 2, 3);
    ps_top_set_threads(t, 100, 1, 4);
    ps_top_set_threads(t, 200, 1, 2);
    ps_top_roll(t, 10 * S, 5 * S);

    const struct ps_top_row *rows;
    size_t n;
    CHECK(ps_top_rows(t, PS_TOP_FUNCTION, PS_TOP_WINDOW, PS_TOP_SORT_OWN, &rows, &n) == PS_OK);
    /* leaf, work, main (a.py), rec, main (b.py); wait_for_lock and main (c.py) never counted */
    CHECK(n == 5);
    CHECK(!strcmp(rows[0].function, "leaf") && rows[0].own == 10 && rows[0].total == 10);
    CHECK(rows[0].own_pct == 100.0 && rows[0].line == 10); /* its hottest line */
    CHECK(rows[0].own_time > 9.99 && rows[0].own_time < 10.01);
    CHECK(!strcmp(rows[1].function, "rec") && rows[1].own == 5 && rows[1].total == 5);
    CHECK(rows[1].own_pct == 50.0);
    CHECK(row(rows, n, "wait_for_lock", -1) == NULL);
    const struct ps_top_row *w = row(rows, n, "work", -1);
    CHECK(w && w->own == 0 && w->total == 10 && w->total_pct == 100.0 && w->line == 20);
    /* Line mode: leaf splits in two lines. */
    CHECK(ps_top_rows(t, PS_TOP_LINE, PS_TOP_WINDOW, PS_TOP_SORT_OWN, &rows, &n) == PS_OK);
    CHECK(row(rows, n, "leaf", 10) && row(rows, n, "leaf", 10)->own == 8);
    CHECK(row(rows, n, "leaf", 11) && row(rows, n, "leaf", 11)->own == 2);
    CHECK(row(rows, n, "rec", 6) && row(rows, n, "rec", 6)->total == 5 &&
          row(rows, n, "rec", 6)->own == 0);
    CHECK(!strcmp(rows[0].function, "leaf") && rows[0].line == 10);
    /* Sorting by %Total puts main (a.py, 10) and work and leaf first; by name: A-Z. */
    CHECK(ps_top_rows(t, PS_TOP_FUNCTION, PS_TOP_WINDOW, PS_TOP_SORT_TOTAL, &rows, &n) == PS_OK);
    CHECK(rows[0].total == 10 && rows[1].total == 10 && rows[2].total == 10 && rows[3].total == 5);
    CHECK(!strcmp(rows[0].function, "leaf")); /* ties: more own first */
    CHECK(ps_top_rows(t, PS_TOP_FUNCTION, PS_TOP_WINDOW, PS_TOP_SORT_FUNCTION, &rows, &n) ==
          PS_OK);
    CHECK(!strcmp(rows[0].function, "leaf") && !strcmp(rows[n - 1].function, "work"));

    struct ps_top_totals tot;
    ps_top_totals(t, PS_TOP_WINDOW, &tot);
    CHECK(tot.rounds == 10 && tot.samples == 15 && tot.torn == 3 && tot.late == 2);
    CHECK(tot.seconds == 10.0 && tot.rate == 1.0);
    CHECK(tot.gil_pct == 50.0); /* pid 100 in all its rounds, pid 200 in none */
    CHECK(tot.on_cpu == 2 && tot.threads == 6);
    CHECK(ps_top_nprocesses(t) == 2);
    struct ps_top_process p;
    ps_top_process_at(t, 0, PS_TOP_WINDOW, &p);
    CHECK(p.pid == 100 && p.samples == 10 && p.gil_pct == 100.0 && !strcmp(p.python, "3.11.2"));
    CHECK(p.share_pct > 66.6 && p.share_pct < 66.7);
    ps_top_process_at(t, 1, PS_TOP_WINDOW, &p);
    CHECK(p.pid == 200 && p.samples == 5 && p.gil_pct == 0.0);

    /* The thread view: every thread with its latest stack, the idle one too. */
    CHECK(ps_top_nthreads(t) == 3);
    struct ps_top_thread th;
    ps_top_thread_at(t, 0, PS_TOP_WINDOW, &th);
    CHECK(th.pid == 100 && th.tid == 1 && th.samples == 10 && th.holds_gil);
    CHECK(th.nframes == 3 && !strcmp(th.frames[0].function, "leaf") && th.frames[0].line == 11);
    ps_top_thread_at(t, 1, PS_TOP_WINDOW, &th);
    CHECK(th.pid == 200 && th.tid == 2 && th.samples == 5 && th.nframes == 4);
    ps_top_thread_at(t, 2, PS_TOP_WINDOW, &th);
    CHECK(th.tid == 3 && th.samples == 0 && th.os_state == 'S' && th.nframes == 2 &&
          !strcmp(th.frames[0].function, "wait_for_lock") && !strcmp(th.name, "stuck"));

    /* Next window: only pid 200's rec. The window shows it alone; since start keeps all. */
    for (int i = 0; i < 4; i++) {
        struct ps_thread b = thread(2, "T-2", 0, 'R', rec, f2);
        CHECK(ps_top_add_thread(t, 200, &b, 1, (11 + i) * S) == PS_OK);
        ps_top_end_round(t, 200, 1);
        ps_top_tick(t);
    }
    ps_top_counters(t, 2, 4);
    ps_top_roll(t, 15 * S, 3 * S); /* thread 1 (last seen at 9 s) and 3 leave the view */
    CHECK(ps_top_rows(t, PS_TOP_FUNCTION, PS_TOP_WINDOW, PS_TOP_SORT_OWN, &rows, &n) == PS_OK);
    CHECK(!strcmp(rows[0].function, "rec") && rows[0].own == 4 && rows[0].own_pct == 100.0);
    CHECK(row(rows, n, "leaf", -1)->own == 0); /* still listed (since start), at 0 */
    CHECK(ps_top_rows(t, PS_TOP_FUNCTION, PS_TOP_SINCE_START, PS_TOP_SORT_OWN, &rows, &n) ==
          PS_OK);
    CHECK(!strcmp(rows[0].function, "leaf") && rows[0].own == 10);
    CHECK(rows[0].own_pct > 71.4 && rows[0].own_pct < 71.5); /* 10 of 14 rounds */
    ps_top_totals(t, PS_TOP_WINDOW, &tot);
    CHECK(tot.rounds == 4 && tot.torn == 1 && tot.late == 0 && tot.seconds == 5.0);
    CHECK(ps_top_nthreads(t) == 1);
    ps_top_process_at(t, 1, PS_TOP_WINDOW, &p);
    CHECK(p.share_pct == 100.0);

    /* Exit, then reset. */
    ps_top_process_exited(t, 200);
    CHECK(ps_top_nthreads(t) == 0);
    ps_top_process_at(t, 1, PS_TOP_WINDOW, &p);
    CHECK(p.exited);
    ps_top_reset(t, 20 * S);
    CHECK(ps_top_rows(t, PS_TOP_FUNCTION, PS_TOP_SINCE_START, PS_TOP_SORT_OWN, &rows, &n) ==
          PS_OK);
    CHECK(n == 0);
    ps_top_totals(t, PS_TOP_SINCE_START, &tot);
    CHECK(tot.rounds == 0 && tot.samples == 0);
    ps_top_free(t);
}

static void test_text(void)
{
    struct ps_top *t;
    CHECK(ps_top_new(0, &t) == PS_OK);
    CHECK(ps_top_set_process(t, 7, "evil\x1b]0;title\x07", "3.12.1") == PS_OK);
    static const char *const st[] = {"f\x1b[1m:x.py:3", "main:x.py:9", NULL};
    struct ps_frame fr[4];
    for (int i = 0; i < 4; i++) {
        struct ps_thread a = thread(1, NULL, 1, 'R', st, fr);
        CHECK(ps_top_add_thread(t, 7, &a, 1, i * S / 2) == PS_OK);
        ps_top_end_round(t, 7, 1);
        ps_top_tick(t);
    }
    ps_top_set_threads(t, 7, 1, 1);
    ps_top_roll(t, 2 * S, 10 * S);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(ps_top_write_text(f, t, PS_TOP_FUNCTION, PS_TOP_WINDOW, PS_TOP_SORT_OWN, 0, 0) == PS_OK);
    fclose(f);
    const char *want =
        "pysnap top 1970-01-01T00:00:00.000000Z window 2.00 s, since start 2.0 s\n"
        "rounds 4 rate 2.0/s samples 4 torn 0 late 0 gil 100.0% threads 1/1 (window)\n"
        "process 7 share 100.0% gil 100.0% threads 1/1 python 3.12.1 cmd evil\\x1b]0;title\\x07\n"
        "  %Own  %Total  OwnTime  TotalTime  Function (file:line)\n"
        "100.0%  100.0%    2.00s      2.00s  f\\x1b[1m (x.py:3)\n"
        "  0.0%  100.0%    0.00s      2.00s  main (x.py:9)\n"
        "(end)\n";
    CHECK(text && !strcmp(text, want));
    if (text && strcmp(text, want))
        fprintf(stderr, "got:\n%s", text);
    free(text);
    ps_top_free(t);
}

/* A process without a GIL (free-threaded): "none", never 0%; the totals' share counts only
 * the processes that have one. */
static void test_no_gil(void)
{
    struct ps_top *t;
    CHECK(ps_top_new(0, &t) == PS_OK);
    CHECK(ps_top_set_process(t, 7, "ft", "3.13.5") == PS_OK);
    CHECK(ps_top_set_process(t, 8, "gil", "3.12.1") == PS_OK);
    static const char *const st[] = {"f:x.py:3", NULL};
    struct ps_frame fr[2];
    for (int i = 0; i < 4; i++) {
        struct ps_thread a = thread(1, NULL, 0, 'R', st, fr);
        CHECK(ps_top_add_thread(t, 7, &a, 1, i * S / 2) == PS_OK);
        ps_top_set_no_gil(t, 7, 1);
        ps_top_end_round(t, 7, 0);
        ps_top_end_round(t, 8, i < 3);
        ps_top_tick(t);
    }
    ps_top_roll(t, 2 * S, 10 * S);
    struct ps_top_totals tot;
    ps_top_totals(t, PS_TOP_WINDOW, &tot);
    CHECK(!tot.no_gil && tot.gil_pct == 75.0); /* pid 8's rounds only */
    struct ps_top_process p;
    ps_top_process_at(t, 0, PS_TOP_WINDOW, &p);
    CHECK(p.pid == 7 && p.no_gil);
    ps_top_process_at(t, 1, PS_TOP_WINDOW, &p);
    CHECK(p.pid == 8 && !p.no_gil && p.gil_pct == 75.0);
    ps_top_process_exited(t, 8);
    ps_top_set_no_gil(t, 8, 1); /* both without: the totals say none */
    ps_top_totals(t, PS_TOP_WINDOW, &tot);
    CHECK(tot.no_gil);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(ps_top_write_text(f, t, PS_TOP_FUNCTION, PS_TOP_WINDOW, PS_TOP_SORT_OWN, 0, 0) == PS_OK);
    fclose(f);
    CHECK(text && strstr(text, " late 0 gil none threads "));
    CHECK(text && strstr(text, "process 7 share 100.0% gil none threads "));
    CHECK(text && !strstr(text, "gil 0.0%"));
    free(text);
    ps_top_free(t);
}

int main(void)
{
    test_counts();
    test_text();
    test_no_gil();
    return CHECK_DONE();
}

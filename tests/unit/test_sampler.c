/* The sampler API (include/pysnap/sampler.h) over a live Python (/usr/bin/python3, or
 * $PYSNAP_TEST_PYTHON; skipped, exit 77, when there is none): open, tick with a sink, stats,
 * processes, close; every reported stack is the target's, innermost first, with the line
 * the target is at when opts.lines is set; --gil reports only the GIL holder. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pysnap/error.h"
#include "pysnap/sampler.h"

/* spin() loops on line 3 of the script (the while); main waits on line 7. */
static const char script[] =
    "import threading, time\n"
    "def spin():\n"
    "    while True: pass\n"
    "threading.Thread(target=spin, daemon=True).start()\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    time.sleep(1)\n";

struct seen {
    int stacks, torn, spin_at_3, main_at_7, bad, gil;
};

static int on_thread(void *arg, const struct ps_sample_thread *t)
{
    struct seen *s = arg;
    if (t->torn) {
        s->torn++;
        return 0;
    }
    s->stacks++;
    s->gil += t->holds_gil;
    const struct ps_thread *th = t->thread;
    if (!th->nframes || !th->frames[0].function)
        s->bad++;
    else if (!strcmp(th->frames[0].function, "spin"))
        s->spin_at_3 += th->frames[0].line == 3;
    else if (!strcmp(th->frames[0].function, "<module>"))
        s->main_at_7 += th->frames[0].line == 7;
    return 0;
}

int main(void)
{
    const char *py = getenv("PYSNAP_TEST_PYTHON");
    if (!py)
        py = "/usr/bin/python3";
    if (access(py, X_OK) != 0) {
        printf("skip: no %s\n", py);
        return 77;
    }
    int out[2];
    if (pipe(out) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(py, py, "-c", script, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[16] = {0};
    CHECK(read(out[0], buf, sizeof buf - 1) > 0 && !strncmp(buf, "ready", 5));

    struct ps_sampler_opts o;
    ps_sampler_opts_default(&o);
    o.pid = pid;
    o.idle = 1; /* main sleeps: seen only with --idle */
    o.lines = 1;
    struct ps_sampler *s;
    int rc = ps_sampler_open(&o, &s);
    CHECK(rc == PS_OK);
    if (rc == PS_OK) {
        struct seen seen = {0};
        struct ps_sampler_sink sink = {on_thread, NULL, &seen};
        for (int i = 0; i < 20; i++) {
            CHECK(ps_sampler_tick(s, &sink) == PS_OK);
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
        struct ps_sampler_stats st;
        ps_sampler_stats(s, &st);
        CHECK(st.ticks == 20 && st.processes == 1);
        CHECK(st.thread_samples == (uint64_t)seen.stacks && st.torn == (uint64_t)seen.torn);
        CHECK(seen.bad == 0);
        CHECK(seen.spin_at_3 + seen.torn >= 18); /* every round, its line */
        CHECK(seen.main_at_7 >= 18);
        struct ps_sampler_process p;
        CHECK(ps_sampler_nprocesses(s) == 1 && ps_sampler_process_at(s, 0, &p) == PS_OK &&
              p.pid == pid && p.state == PS_SAMPLER_SAMPLING &&
              p.thread_samples == st.thread_samples);
        CHECK(ps_sampler_process_at(s, 1, &p) != PS_OK);
        ps_sampler_close(s);
    }
    /* --gil: only the holder, which is spin (main sleeps without the GIL) */
    o.idle = 0;
    o.gil_only = 1;
    o.lines = 0;
    if (ps_sampler_open(&o, &s) == PS_OK) {
        struct seen seen = {0};
        struct ps_sampler_sink sink = {on_thread, NULL, &seen};
        struct ps_sampler_run run = {200, 0.2, NULL};
        CHECK(ps_sampler_run(s, &run, &sink) == PS_OK);
        CHECK(seen.stacks > 10 && seen.gil == seen.stacks && seen.main_at_7 == 0);
        ps_sampler_close(s);
    } else {
        CHECK(0);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return CHECK_DONE();
}

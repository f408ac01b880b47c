/* A sampling profile: how many times each stack was seen, per thread (a "track"), and the
 * writers that turn it into a flamegraph SVG, speedscope JSON or folded stacks. Filled by
 * ps_record() (record.h) or by anything else that has stacks. A frame is (function, file):
 * lines are left out so that one function is one box. */
#ifndef PYSNAP_PROFILE_H
#define PYSNAP_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pysnap/model.h"

struct ps_profile;

int ps_profile_new(struct ps_profile **out);
void ps_profile_free(struct ps_profile *p);

/* One sample of thread T of process PID (CMDLINE names the process): its Python frames (and
 * native ones when NATIVE and the thread has them). A thread with no frame to record adds
 * nothing. Returns PS_OK or PS_NOMEM. */
int ps_profile_add_thread(struct ps_profile *p, uint64_t pid, const char *cmdline,
                          const struct ps_thread *t, int native);

/* Samples added (thread-samples) and distinct processes seen. */
uint64_t ps_profile_samples(const struct ps_profile *p);
size_t ps_profile_processes(const struct ps_profile *p);

/* Writers; each returns PS_OK or PS_IO. TITLE heads the SVG and names the speedscope file.
 * Folded: "frame;frame;... COUNT" per distinct stack, outermost first, all threads merged;
 * with more than one process each stack starts with "process PID (CMDLINE)".
 * Speedscope (https://www.speedscope.app/file-format-schema.json): one "sampled" profile per
 * thread, stacks outermost first, weights = sample counts.
 * SVG: a self-contained flame graph (no script): one rectangle per frame, width by samples,
 * each with a <title> "function (file): N samples (P%), self M". */
int ps_profile_write_folded(FILE *out, const struct ps_profile *p);
int ps_profile_write_speedscope(FILE *out, const struct ps_profile *p, const char *title);
int ps_profile_write_svg(FILE *out, const struct ps_profile *p, const char *title);

/* For the writers (analyze/render/flamegraph.c): the stacks, merged over threads. */
struct ps_profile_stack {
    uint32_t track;      /* index into the tracks */
    uint32_t n;          /* frames, outermost first */
    const uint32_t *frames;
    uint64_t count;
};
struct ps_profile_frame {
    const char *function, *file; /* file NULL for a process frame */
    uint8_t kind;                /* PS_FRAME_PYTHON, PS_FRAME_NATIVE, 0 for a process frame */
};
struct ps_profile_track {
    uint64_t pid;
    uint32_t tid;
    char *name;         /* thread name, may be NULL */
    uint32_t process;   /* frame id of "process PID (CMDLINE)" */
};
size_t ps_profile_nstacks(const struct ps_profile *p);
const struct ps_profile_stack *ps_profile_stack_at(const struct ps_profile *p, size_t i);
const struct ps_profile_frame *ps_profile_frame_at(const struct ps_profile *p, uint32_t id);
size_t ps_profile_nframes(const struct ps_profile *p);
size_t ps_profile_ntracks(const struct ps_profile *p);
const struct ps_profile_track *ps_profile_track_at(const struct ps_profile *p, size_t i);
/* "function (file)", or "process PID (CMDLINE)", into BUF. */
void ps_profile_frame_label(const struct ps_profile *p, uint32_t id, char *buf, size_t size);

#endif

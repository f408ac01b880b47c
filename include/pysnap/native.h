/* Native frames at analysis: from the snapshot's PS_NT_NATIVE notes into the model.
 *
 * For every thread with a native stack, ps_native_attach():
 *  - merges native and Python frames into one list, innermost first: each evaluation-loop
 *    frame (_PyEval_EvalFrameDefault) comes right after (outside) the Python frames it runs,
 *    found from the interpreter frames' entry marks (3.11: is_entry; 3.12+: the C-stack shim
 *    before each entry frame; before 3.11 one Python frame per call);
 *  - decodes the system call the thread is in (orig_rax), and disassembles (capstone) the
 *    instruction at its PC from the captured code bytes;
 *  - refines the thread's state: waiting_for_gil when it is not the holder and take_gil is
 *    among its frames, or it sleeps on a futex inside the GIL's structure (stripped builds);
 *    sleeping when it is in a system call.
 * Reads only the snapshot; every index in the notes is checked. */
#ifndef PYSNAP_NATIVE_H
#define PYSNAP_NATIVE_H

#include <stdio.h>

#include "pysnap/model.h"
#include "pysnap/snapshot.h"

/* ps_thread.native_flags */
#define PS_NATIVE_HAS 0x1u        /* the thread has native frames */
#define PS_NATIVE_MERGED 0x2u     /* every eval-loop frame was matched with its Python frames */
#define PS_NATIVE_CUT 0x4u        /* the native stack is cut short (frame limit or unwinding
                                     stopped early) */

/* Attach native frames, syscall, instruction and refined states to every thread of M.
 * Returns PS_OK or PS_NOMEM; a snapshot without native notes leaves M as it is. */
int ps_native_attach(struct ps_snapshot *snap, struct ps_model *m);

/* Is FUNCTION (a native symbol) CPython's evaluation loop? */
int ps_native_is_eval(const char *function);

/* The text renderer's --native view of one thread: native and Python frames merged, most
 * recent call last, each evaluation-loop frame replaced by the Python frames it runs; LOCALS:
 * each Python frame's local variables under it, as without --native. */
void ps_native_render_text(FILE *out, const struct ps_thread *t, int locals);

#endif

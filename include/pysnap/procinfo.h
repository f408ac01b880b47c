/* What `pysnap top` shows about a live process beside its stacks: the Python version, and its
 * threads' states (the kernel's view). Linux only (snap/procinfo.c).
 * The sampler (sampler.h) does not report these yet; when it does, top takes them from it. */
#ifndef PYSNAP_PROCINFO_H
#define PYSNAP_PROCINFO_H

#include <stddef.h>
#include <sys/types.h>

/* PID's CPython version ("3.11.2"; "3.11" when only the library name tells) into BUF.
 * Returns PS_OK, or an error (PS_NOPROC, PS_NOTPYTHON, PS_PERM, ...) and BUF "?". */
int ps_procinfo_python(pid_t pid, char *buf, size_t size);
/* The /proc state letter of thread TID of PID (R, S, D, ...); 0 when gone. */
char ps_procinfo_thread_state(pid_t pid, pid_t tid);
/* PID's threads: how many, and how many are running (R) now. */
void ps_procinfo_threads(pid_t pid, unsigned *on_cpu, unsigned *total);
/* PID has exited: gone, or a zombie its parent has not reaped yet. */
int ps_procinfo_exited(pid_t pid);

#endif

/* /proc parsing for capture: mappings, threads, states, names, pid namespaces, and the
 * messages that say why a process cannot be seen or attached to. (Opening a mapped file,
 * whatever the mount setup, is mapped.h.) */
#ifndef PYSNAP_SNAP_PROC_H
#define PYSNAP_SNAP_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ps_mapping {
    uint64_t start, end, offset;
    uint64_t inode;               /* of the mapped file, 0 for anonymous mappings */
    uint32_t dev_major, dev_minor; /* its device, as maps shows it (hex "major:minor") */
    char perms[5];
    char *path; /* NULL for anonymous mappings */
};

struct ps_maps {
    struct ps_mapping *v;
    size_t n;
};

int ps_proc_read_maps(pid_t pid, struct ps_maps *out);
void ps_proc_maps_free(struct ps_maps *m);

/* The thread ids of PID (sorted ascending); *N at most MAX. */
int ps_proc_list_tasks(pid_t pid, pid_t **tids, size_t *n, size_t max);
/* State letter and comm of one thread; 0 / "" when gone. */
void ps_proc_task_info(pid_t pid, pid_t tid, char *state, char comm[16]);
/* The number of threads of PID (the Threads: line of /proc/PID/status: one small read, where
 * a listing of /proc/PID/task costs a directory entry per thread); -1 when unknown. */
long ps_proc_thread_count(pid_t pid);
/* The id of thread TID (as this /proc names it) in the innermost pid namespace of PID: the
 * last field of NSpid in /proc/PID/task/TID/status. Equal to TID when the target shares our
 * pid namespace; 0 when unknown (thread gone, a kernel before 4.1). */
pid_t ps_proc_ns_tid(pid_t pid, pid_t tid);
/* Read a small /proc file into BUF (NUL-terminated); returns bytes read or -1. */
ssize_t ps_proc_read_file(const char *path, char *buf, size_t size);
/* PS_PERM with the one message that says which permission is missing and how to get it
 * (CAP_SYS_PTRACE and the container flag that grants it, kernel.yama.ptrace_scope, a user
 * namespace that does not own the target, another uid). WHAT: "attach to". */
int ps_proc_perm_error(pid_t pid, const char *what, int err);
/* PS_NOPROC "no process PID", with how to share the target's pid namespace when pysnap runs
 * in a pid namespace of its own (a container: --pid=container:NAME, shareProcessNamespace). */
int ps_proc_noproc_error(pid_t pid);
/* PS_NOPROC with a clear message when PID has exited and waits to be reaped (a zombie)
 * or its main thread has exited (its memory is no longer readable through /proc/PID). */
int ps_proc_check_alive(pid_t pid);
/* TracerPid of PID, or 0. */
pid_t ps_proc_tracer(pid_t pid);

#endif

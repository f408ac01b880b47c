#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pysnap/capture.h"
#include "pysnap/error.h"
#include "proc.h"

#define MAX_MAPPINGS 65536

ssize_t ps_proc_read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < size - 1) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

int ps_proc_read_maps(pid_t pid, struct ps_maps *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? ps_proc_noproc_error(pid)
               : errno == EACCES || errno == EPERM
                   ? ps_proc_perm_error(pid, "read the memory map of", errno)
                   : ps_error_set(PS_IO, "cannot read %s: %s", path, strerror(errno));
    memset(out, 0, sizeof *out);
    char *line = NULL;
    size_t cap = 0, vcap = 0;
    int rc = PS_OK;
    while (getline(&line, &cap, f) > 0 && out->n < MAX_MAPPINGS) {
        unsigned long long start, end, offset, inode = 0;
        unsigned dmaj = 0, dmin = 0;
        char perms[5];
        int pathpos = 0;
        if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &offset, &dmaj,
                   &dmin, &inode, &pathpos) < 7)
            continue;
        if (out->n == vcap) {
            vcap = vcap ? vcap * 2 : 256;
            struct ps_mapping *nv = realloc(out->v, vcap * sizeof *nv);
            if (!nv) {
                rc = PS_NOMEM;
                break;
            }
            out->v = nv;
        }
        struct ps_mapping *m = &out->v[out->n++];
        m->start = start;
        m->end = end;
        m->offset = offset;
        m->inode = inode;
        m->dev_major = dmaj;
        m->dev_minor = dmin;
        memcpy(m->perms, perms, sizeof m->perms);
        m->path = NULL;
        char *p = line + pathpos;
        p[strcspn(p, "\n")] = '\0';
        if (*p == '/' && !(m->path = strdup(p))) {
            rc = PS_NOMEM;
            break;
        }
    }
    free(line);
    fclose(f);
    if (rc)
        ps_proc_maps_free(out);
    return rc;
}

void ps_proc_maps_free(struct ps_maps *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].path);
    free(m->v);
    memset(m, 0, sizeof *m);
}

static int tid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return x < y ? -1 : x > y;
}

int ps_proc_list_tasks(pid_t pid, pid_t **tids, size_t *n, size_t max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? ps_proc_noproc_error(pid)
                               : ps_proc_perm_error(pid, "list the threads of", errno);
    size_t cap = 64, cnt = 0;
    pid_t *v = malloc(cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d)) && cnt < max) {
        char *end;
        long t = strtol(de->d_name, &end, 10);
        if (*end || t <= 0)
            continue;
        if (cnt == cap) {
            pid_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = (pid_t)t;
    }
    closedir(d);
    if (!v)
        return PS_NOMEM;
    qsort(v, cnt, sizeof *v, tid_cmp);
    *tids = v;
    *n = cnt;
    return PS_OK;
}

void ps_proc_task_info(pid_t pid, pid_t tid, char *state, char comm[16])
{
    char path[96], buf[512];
    *state = 0;
    comm[0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    if (ps_proc_read_file(path, buf, sizeof buf) <= 0)
        return;
    /* "tid (comm) S ...": comm may hold spaces and parentheses; the last ')' ends it. */
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return;
    size_t len = (size_t)(close - open - 1);
    if (len > 15)
        len = 15;
    memcpy(comm, open + 1, len);
    comm[len] = '\0';
    *state = close[2];
}

#define STATUS_MAX 16384 /* a status file is ~1.5 KB; a long Groups: line makes it longer */

/* The value of "NAME:" in the status file PATH into OUT; 0 when found. */
static int status_field(const char *path, const char *name, char *out, size_t size)
{
    char buf[STATUS_MAX];
    if (ps_proc_read_file(path, buf, sizeof buf) <= 0)
        return -1;
    size_t nlen = strlen(name);
    for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, nlen) == 0 && l[nlen] == ':') {
            l += nlen + 1;
            l += strspn(l, " \t");
            size_t len = strcspn(l, "\n");
            if (len >= size)
                len = size - 1;
            memcpy(out, l, len);
            out[len] = '\0';
            return 0;
        }
    return -1;
}

/* The same from /proc/PID/status; PID 0: pysnap itself. */
static int pid_status_field(pid_t pid, const char *name, char *out, size_t size)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    return status_field(path, name, out, size);
}

long ps_proc_thread_count(pid_t pid)
{
    char v[32], *end;
    if (pid_status_field(pid, "Threads", v, sizeof v) != 0)
        return -1;
    long n = strtol(v, &end, 10);
    return end != v && n >= 0 ? n : -1;
}

pid_t ps_proc_ns_tid(pid_t pid, pid_t tid)
{
    char path[96], v[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    if (status_field(path, "NSpid", v, sizeof v) != 0)
        return 0;
    /* "7307\t8": ours first, the innermost namespace's last. */
    long last = 0;
    char *end;
    for (const char *p = v; *p; p = end) {
        long n = strtol(p, &end, 10);
        if (end == p)
            break;
        last = n;
    }
    return last > 0 && last <= INT32_MAX ? (pid_t)last : 0;
}

#define CAP_SYS_PTRACE_BIT 19
/* Inode numbers of the initial namespaces (the kernel's PROC_*_INIT_INO, fixed values). */
#define INIT_USER_NS_INO 0xEFFFFFFDu
#define INIT_PID_NS_INO 0xEFFFFFFCu

static uint64_t cap_set(pid_t pid, const char *name)
{
    char v[64];
    return pid_status_field(pid, name, v, sizeof v) == 0 ? strtoull(v, NULL, 16) : 0;
}

/* Is pysnap in a namespace of its own (a container), not the initial one? */
static int in_own_ns(const char *ns, unsigned long long init_ino)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/ns/%s", ns);
    return stat(path, &st) == 0 && (unsigned long long)st.st_ino != init_ino;
}

/* kernel.yama.ptrace_scope, -1 without Yama. */
static int yama_scope(void)
{
    char buf[16];
    if (ps_proc_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) <= 0)
        return -1;
    return atoi(buf);
}

/* The flags that grant a container CAP_SYS_PTRACE. */
#define CAP_FLAGS "docker/podman run --cap-add=SYS_PTRACE; Kubernetes " \
                  "securityContext.capabilities.add: [\"SYS_PTRACE\"]"

int ps_proc_perm_error(pid_t pid, const char *what, int err)
{
    /* The kernel's rules, in its order: Yama first, then a capability in the target's user
     * namespace, or the same uid and no capability the target has that we lack. */
    char yama[64], uid[64] = "", why[256], fix[320];
    int scope = yama_scope();
    if (scope < 0)
        snprintf(yama, sizeof yama, "kernel.yama.ptrace_scope: no Yama here");
    else
        snprintf(yama, sizeof yama, "kernel.yama.ptrace_scope is %d", scope);
    uint64_t eff = cap_set(0, "CapEff"), bnd = cap_set(0, "CapBnd");
    uint64_t prm = cap_set(0, "CapPrm"), target_prm = cap_set(pid, "CapPrm");
    int has_cap = eff >> CAP_SYS_PTRACE_BIT & 1, can_gain = bnd >> CAP_SYS_PTRACE_BIT & 1;
    unsigned long me = (unsigned long)geteuid();
    unsigned long owner =
        pid_status_field(pid, "Uid", uid, sizeof uid) == 0 ? strtoul(uid, NULL, 10) : me;
    if (can_gain)
        snprintf(fix, sizeof fix, "run pysnap as root (sudo)");
    else
        snprintf(fix, sizeof fix, "pysnap's container does not grant CAP_SYS_PTRACE: add it "
                 "(" CAP_FLAGS "; kubectl debug --profile=sysadmin) or capture from the host");
    if (scope == 3) {
        snprintf(why, sizeof why, "%s: no process may attach to another", yama);
        snprintf(fix, sizeof fix, "capture is impossible on this host until reboot");
    } else if (has_cap && in_own_ns("user", INIT_USER_NS_INO)) {
        snprintf(why, sizeof why, "pysnap runs in a user namespace (a rootless container) that "
                 "does not own process %d: its CAP_SYS_PTRACE does not reach outside", (int)pid);
        snprintf(fix, sizeof fix, "run pysnap in the target's own user namespace (podman exec, "
                 "nsenter --user --target %d) or as root on the host", (int)pid);
    } else if (has_cap) {
        snprintf(why, sizeof why, "pysnap has CAP_SYS_PTRACE, yet was refused: a security "
                 "module or a seccomp profile forbids ptrace");
        snprintf(fix, sizeof fix, "docker/podman run --security-opt seccomp=unconfined "
                 "--security-opt apparmor=unconfined, or capture from the host");
    } else if (scope == 2) {
        snprintf(why, sizeof why, "with %s, attaching needs CAP_SYS_PTRACE, which pysnap lacks",
                 yama);
    } else if (owner != me) {
        snprintf(why, sizeof why, "process %d runs as uid %lu and pysnap as uid %lu, without "
                 "CAP_SYS_PTRACE", (int)pid, owner, me);
        if (can_gain)
            snprintf(fix, sizeof fix, "run pysnap as uid %lu or as root (sudo)", owner);
        else
            snprintf(fix, sizeof fix, "run pysnap as uid %lu, or give its container "
                     "CAP_SYS_PTRACE (" CAP_FLAGS ")", owner);
    } else if (scope == 1) {
        snprintf(why, sizeof why, "with %s, only an ancestor of the process may attach without "
                 "CAP_SYS_PTRACE (or: sysctl kernel.yama.ptrace_scope=0 on the host)", yama);
    } else if (target_prm & ~prm) {
        snprintf(why, sizeof why, "process %d holds capabilities that pysnap lacks, so "
                 "attaching needs CAP_SYS_PTRACE", (int)pid);
    } else {
        snprintf(why, sizeof why, "attaching needs CAP_SYS_PTRACE, or the same uid and a "
                 "dumpable process");
    }
    if (strstr(why, "kernel.yama")) /* already said */
        return ps_error_set(PS_PERM, "cannot %s %d: %s (%s; %s)", what, (int)pid, strerror(err),
                            why, fix);
    return ps_error_set(PS_PERM, "cannot %s %d: %s (%s; %s; %s)", what, (int)pid, strerror(err),
                        why, fix, yama);
}

int ps_proc_noproc_error(pid_t pid)
{
    if (!in_own_ns("pid", INIT_PID_NS_INO))
        return ps_error_set(PS_NOPROC, "no process %d", (int)pid);
    return ps_error_set(PS_NOPROC, "no process %d in pysnap's pid namespace (pysnap runs in a "
                        "container: it sees only the processes that share its pid namespace; "
                        "give the target's pid as seen here, or share the target's namespace: "
                        "docker/podman run --pid=container:NAME, Kubernetes "
                        "shareProcessNamespace: true or kubectl debug --target=CONTAINER)",
                        (int)pid);
}

int ps_proc_check_alive(pid_t pid)
{
    char path[64], buf[1024], state = 0, comm[16];
    int ppid = -1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    const char *rp = ps_proc_read_file(path, buf, sizeof buf) > 0 ? strrchr(buf, ')') : NULL;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) < 1 || (state != 'Z' && state != 'X'))
        return PS_OK; /* gone or unreadable: the next step says which */
    pid_t *tids = NULL;
    size_t n = 0, live = 0;
    if (ps_proc_list_tasks(pid, &tids, &n, 4096) == PS_OK)
        for (size_t i = 0; i < n; i++) {
            char st;
            ps_proc_task_info(pid, tids[i], &st, comm);
            live += st != 0 && st != 'Z' && st != 'X';
        }
    free(tids);
    if (live)
        return ps_error_set(PS_NOPROC,
                            "process %d's main thread has exited (%zu threads still run); its "
                            "memory cannot be read through /proc/%d",
                            (int)pid, live, (int)pid);
    return ps_error_set(PS_NOPROC,
                        "process %d has exited (a zombie waiting for its parent %d to reap "
                        "it): nothing to capture",
                        (int)pid, (int)ppid);
}

pid_t ps_proc_tracer(pid_t pid)
{
    char v[32];
    return pid_status_field(pid, "TracerPid", v, sizeof v) == 0 ? (pid_t)atoi(v) : 0;
}

#define MAX_PROC_SCAN 65536 /* processes looked at in one /proc scan */

/* The parent pid in /proc/PID/stat: after the last ')' (comm may hold anything), "S PPID". */
static pid_t stat_ppid(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (ps_proc_read_file(path, buf, sizeof buf) <= 0)
        return -1;
    const char *rp = strrchr(buf, ')');
    char state;
    int ppid;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

int ps_proc_descendants(pid_t root, pid_t **pids, size_t *n, size_t max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)root);
    if (access(path, F_OK) != 0)
        return ps_proc_noproc_error(root);
    /* One pass over /proc: every (pid, ppid) pair. */
    DIR *d = opendir("/proc");
    if (!d)
        return ps_error_set(PS_IO, "cannot list /proc: %s", strerror(errno));
    size_t cap = 256, cnt = 0;
    pid_t (*pairs)[2] = malloc(cap * sizeof *pairs);
    struct dirent *de;
    size_t scanned = 0;
    while (pairs && (de = readdir(d)) && scanned++ < MAX_PROC_SCAN) {
        char *end;
        long p = strtol(de->d_name, &end, 10);
        if (*end || p <= 0)
            continue;
        pid_t pp = stat_ppid((pid_t)p);
        if (pp <= 0)
            continue;
        if (cnt == cap) {
            void *nv = realloc(pairs, cap * 2 * sizeof *pairs);
            if (!nv) {
                free(pairs);
                pairs = NULL;
                break;
            }
            pairs = nv;
            cap *= 2;
        }
        pairs[cnt][0] = (pid_t)p;
        pairs[cnt][1] = pp;
        cnt++;
    }
    closedir(d);
    pid_t *out = pairs ? malloc((max ? max : 1) * sizeof *out) : NULL;
    if (!out) {
        free(pairs);
        return PS_NOMEM;
    }
    /* Breadth first from ROOT; a pid is added once (a pid is never its own ancestor, but the
     * scan is not atomic, so guard anyway). */
    size_t nout = 0;
    out[nout++] = root;
    for (size_t head = 0; head < nout && nout < max; head++)
        for (size_t i = 0; i < cnt && nout < max; i++) {
            if (pairs[i][1] != out[head])
                continue;
            int seen = 0;
            for (size_t k = 0; k < nout && !seen; k++)
                seen = out[k] == pairs[i][0];
            if (!seen)
                out[nout++] = pairs[i][0];
        }
    free(pairs);
    *pids = out;
    *n = nout;
    return PS_OK;
}

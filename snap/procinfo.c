/* See include/pysnap/procinfo.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pysnap/error.h"
#include "pysnap/memsrc.h"
#include "pysnap/procinfo.h"
#include "memsrc_direct.h"
#include "proc.h"
#include "pyfind.h"

#define MAX_TASKS 16384

int ps_procinfo_python(pid_t pid, char *buf, size_t size)
{
    snprintf(buf, size, "?");
    struct ps_maps maps;
    struct ps_pyfind py;
    int rc = ps_proc_read_maps(pid, &maps);
    if (rc)
        return rc;
    rc = ps_pyfind(pid, &maps, &py);
    ps_proc_maps_free(&maps);
    if (rc)
        return rc;
    uint32_t v = 0;
    struct ps_direct *d;
    if (py.version_addr && ps_direct_open(pid, &d) == PS_OK) {
        struct ps_memsrc mem = ps_direct_memsrc(d);
        if (ps_mem_u32(&mem, py.version_addr, &v) != PS_OK || (v >> 24) != 3)
            v = 0;
        ps_direct_close(d);
    }
    if (v) /* PY_VERSION_HEX: major, minor, micro in the top three bytes */
        snprintf(buf, size, "%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
    else if (py.version_hex) /* from the library's name: no micro */
        snprintf(buf, size, "%u.%u", py.version_hex >> 24, (py.version_hex >> 16) & 0xff);
    return PS_OK;
}

char ps_procinfo_thread_state(pid_t pid, pid_t tid)
{
    char state = 0, comm[16];
    ps_proc_task_info(pid, tid, &state, comm);
    return state;
}

void ps_procinfo_threads(pid_t pid, unsigned *on_cpu, unsigned *total)
{
    *on_cpu = *total = 0;
    pid_t *tids;
    size_t n;
    if (ps_proc_list_tasks(pid, &tids, &n, MAX_TASKS) != PS_OK)
        return;
    for (size_t i = 0; i < n; i++)
        *on_cpu += ps_procinfo_thread_state(pid, tids[i]) == 'R';
    *total = (unsigned)n;
    free(tids);
}

int ps_procinfo_exited(pid_t pid)
{
    char path[64], buf[1024], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    const char *rp = ps_proc_read_file(path, buf, sizeof buf) > 0 ? strrchr(buf, ')') : NULL;
    if (!rp)
        return 1;
    return sscanf(rp + 1, " %c", &state) == 1 && (state == 'Z' || state == 'X');
}

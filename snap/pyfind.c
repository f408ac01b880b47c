#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysnap/elfsyms.h"
#include "pysnap/error.h"
#include "mapped.h"
#include "pyfind.h"

#define MAX_CANDIDATES 64

/* Is the file mapped at M (an executable mapping) the one with _PyRuntime? Fills OUT.
 * Returns 1 yes, 0 no, -1 no file could be opened that is the mapped one. */
static int try_candidate(pid_t pid, const struct ps_maps *maps, const struct ps_mapping *m,
                         struct ps_pyfind *out)
{
    struct ps_elf_pysyms s;
    int fd = ps_mapped_open(pid, maps, m);
    if (fd < 0)
        return -1;
    uint32_t version_hex = ps_version_from_name(m->path);
    int rc = ps_elf_pysyms_fd(fd, &s);
    if (rc == 0)
        rc = ps_elf_pyroots_fd(fd, version_hex, &s);
    close(fd);
    if (rc != 0 || !s.runtime)
        return 0;
    /* The load address of the file is its mapping at file offset 0. */
    const struct ps_mapping *first = ps_mapped_find(maps, m->path, 0);
    if (!first)
        return 0;
    snprintf(out->path, sizeof out->path, "%s", m->path);
    out->bias = first->start - s.first_load;
    out->runtime_addr = out->bias + s.runtime;
    out->version_addr = s.version ? out->bias + s.version : 0;
    out->version_hex = version_hex;
    out->hash_secret = s.hash_secret ? out->bias + s.hash_secret : 0;
    for (size_t k = 0; k < PS_ROOT_COUNT; k++)
        out->roots[k] = s.roots[k] ? out->bias + s.roots[k] : 0;
    return 1;
}

int ps_pyfind(pid_t pid, const struct ps_maps *maps, struct ps_pyfind *out)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return ps_error_set(PS_IO, "libelf: %s", elf_errmsg(-1));
    const char *tried[MAX_CANDIDATES], *first_unopened = NULL;
    size_t ntried = 0, unopened = 0;
    /* Pass 0: files named like python (libpython3.X.so, python3.X); pass 1: any other
     * executable mapping (a static python under another name, an embedding program). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < maps->n && ntried < MAX_CANDIDATES; i++) {
            const char *path = maps->v[i].path;
            if (!path || maps->v[i].perms[2] != 'x' || ps_looks_like_python(path) != (pass == 0))
                continue;
            int seen = 0;
            for (size_t j = 0; j < ntried && !seen; j++)
                seen = strcmp(tried[j], path) == 0;
            if (seen)
                continue;
            tried[ntried++] = path;
            int r = try_candidate(pid, maps, &maps->v[i], out);
            if (r == 1)
                return PS_OK;
            if (r < 0 && errno == EACCES) /* maps can be readable where the files are not */
                return ps_proc_perm_error(pid, "open the files mapped by", EACCES);
            if (r < 0 && !unopened++)
                first_unopened = path;
        }
    }
    if (unopened) /* say which file: the cause is the mount setup, not the process */
        return ps_error_set(PS_NOTPYTHON,
                            "process %d: no mapped file has _PyRuntime (looked at %zu files); "
                            "%zu could not be opened as the file the process maps, e.g. %s "
                            "(tried /proc/%d/map_files, /proc/%d/root%s and the path itself: "
                            "absent, closed, or another file by device, inode and build-id)",
                            (int)pid, ntried, unopened, first_unopened, (int)pid, (int)pid,
                            first_unopened);
    return ps_error_set(PS_NOTPYTHON,
                        "process %d is not a CPython process: no mapped file has _PyRuntime "
                        "(looked at %zu files)",
                        (int)pid, ntried);
}

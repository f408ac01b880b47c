#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysnap/elfsyms.h"
#include "pysnap/error.h"
#include "pyfind.h"

#define MAX_CANDIDATES 64

static int try_candidate(pid_t pid, const struct ps_maps *maps, const char *path,
                         struct ps_pyfind *out)
{
    char real[PATH_MAX + 64];
    struct ps_elf_pysyms s;
    snprintf(real, sizeof real, "/proc/%d/root%s", (int)pid, path);
    uint32_t version_hex = ps_version_from_name(path);
    if (ps_elf_pysyms(real, &s) != 0 || ps_elf_pyroots(real, version_hex, &s) != 0 || !s.runtime)
        return 0;
    /* The load address of the file is its mapping at file offset 0. */
    uint64_t base = 0;
    for (size_t i = 0; i < maps->n; i++)
        if (maps->v[i].path && strcmp(maps->v[i].path, path) == 0 && maps->v[i].offset == 0) {
            base = maps->v[i].start;
            break;
        }
    if (!base)
        return 0;
    snprintf(out->path, sizeof out->path, "%s", path);
    out->bias = base - s.first_load;
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
    const char *tried[MAX_CANDIDATES];
    size_t ntried = 0;
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
            if (try_candidate(pid, maps, path, out))
                return PS_OK;
        }
    }
    return ps_error_set(PS_NOTPYTHON,
                        "process %d is not a CPython process: no mapped file has _PyRuntime "
                        "(looked at %zu files)",
                        (int)pid, ntried);
}

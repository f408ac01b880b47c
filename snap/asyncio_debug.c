/* Finding the .AsyncioDebug section (3.14+) among the target's mapped files: its section
 * address plus the file's load bias. Runs before the freeze, so it costs no pause. */
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#include "asyncio_debug.h"
#include "mapped.h"
#include "pysnap/elfsyms.h"

#define MAX_CANDIDATES 16

/* The files that may hold it: _asyncio*.so, or the python binary / libpython. */
static int candidate(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "_asyncio", 8) == 0 || strncmp(base, "libpython", 9) == 0 ||
           strncmp(base, "python", 6) == 0;
}

/* Section address and lowest PT_LOAD page of the file FD; 0 when it has no section. */
static uint64_t section_addr(int fd, uint64_t *first_load)
{
    uint64_t addr = 0;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t nph = 0, shstrndx = 0;
    if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &nph) == 0 &&
        elf_getshdrstrndx(elf, &shstrndx) == 0) {
        int have_load = 0;
        for (size_t i = 0; i < nph; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD &&
                (!have_load || (ph.p_vaddr & ~0xfffull) < *first_load)) {
                *first_load = ph.p_vaddr & ~0xfffull;
                have_load = 1;
            }
        }
        Elf_Scn *scn = NULL;
        while (have_load && (scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            const char *name;
            if (gelf_getshdr(scn, &sh) && (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
                strcmp(name, ".AsyncioDebug") == 0 && sh.sh_addr) {
                addr = sh.sh_addr;
                break;
            }
        }
    }
    if (elf)
        elf_end(elf);
    return addr;
}

/* What to find in a candidate file, open as FD (its link address, 0 when absent; *FIRST_LOAD
 * set). */
typedef uint64_t (*finder)(int fd, const char *arg, uint64_t *first_load);

static uint64_t find_section(int fd, const char *arg, uint64_t *first_load)
{
    (void)arg;
    return section_addr(fd, first_load);
}

static uint64_t find_in_mapped(pid_t pid, const struct ps_maps *maps, finder find, const char *arg,
                               int (*is_candidate)(const char *path))
{
    const char *tried[MAX_CANDIDATES];
    size_t ntried = 0;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return 0;
    for (size_t i = 0; i < maps->n && ntried < MAX_CANDIDATES; i++) {
        const struct ps_mapping *m = &maps->v[i];
        if (!m->path || m->offset != 0 || !is_candidate(m->path))
            continue;
        int seen = 0;
        for (size_t j = 0; j < ntried && !seen; j++)
            seen = strcmp(tried[j], m->path) == 0;
        if (seen)
            continue;
        tried[ntried++] = m->path;
        uint64_t first_load = 0, addr;
        int fd = ps_mapped_open(pid, maps, m);
        if (fd < 0)
            continue;
        addr = find(fd, arg, &first_load);
        close(fd);
        if (addr)
            return m->start - first_load + addr; /* the mapping at offset 0 is the load base */
    }
    return 0;
}

uint64_t ps_find_asyncio_debug(pid_t pid, const struct ps_maps *maps)
{
    return find_in_mapped(pid, maps, find_section, NULL, candidate);
}

static int asyncio_module(const char *path)
{
    const char *base = strrchr(path, '/');
    return strncmp(base ? base + 1 : path, "_asyncio", 8) == 0;
}

uint64_t ps_find_asyncio_object(pid_t pid, const struct ps_maps *maps, const char *symbol)
{
    return symbol ? find_in_mapped(pid, maps, ps_elf_object_fd, symbol, asyncio_module) : 0;
}

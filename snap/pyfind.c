#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysnap/error.h"
#include "pyfind.h"

#define MAX_CANDIDATES 64

struct elf_syms {
    uint64_t runtime, version, hash_secret; /* symbol values (link-time), 0 if absent */
    uint64_t first_load;       /* lowest PT_LOAD p_vaddr, page-aligned down */
};

static void scan_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct elf_syms *s)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || sh->sh_entsize == 0)
        return;
    size_t n = sh->sh_size / sh->sh_entsize;
    for (size_t i = 0; i < n && (!s->runtime || !s->version || !s->hash_secret); i++) {
        GElf_Sym sym;
        if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
            continue;
        const char *name = elf_strptr(elf, sh->sh_link, sym.st_name);
        if (!name || (name[0] != '_' && name[0] != 'P'))
            continue;
        if (!s->runtime && strcmp(name, "_PyRuntime") == 0)
            s->runtime = sym.st_value;
        else if (!s->version && strcmp(name, "Py_Version") == 0)
            s->version = sym.st_value;
        else if (!s->hash_secret && strcmp(name, "_Py_HashSecret") == 0)
            s->hash_secret = sym.st_value;
    }
}

static int read_elf_syms(const char *path, struct elf_syms *s)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        if (elf)
            elf_end(elf);
        close(fd);
        return -1;
    }
    size_t nph = 0;
    int have_load = 0;
    if (elf_getphdrnum(elf, &nph) == 0)
        for (size_t i = 0; i < nph; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD &&
                (!have_load || (ph.p_vaddr & ~0xfffull) < s->first_load)) {
                s->first_load = ph.p_vaddr & ~0xfffull;
                have_load = 1;
            }
        }
    size_t shstrndx = 0;
    elf_getshdrstrndx(elf, &shstrndx);
    uint64_t pyruntime_section = 0;
    /* .symtab first (has static symbols), then .dynsym (all a stripped build keeps). */
    for (int pass = 0; pass < 2; pass++) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh))
                continue;
            if (sh.sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM))
                scan_symtab(elf, scn, &sh, s);
            const char *sname = elf_strptr(elf, shstrndx, sh.sh_name);
            if (sname && strcmp(sname, ".PyRuntime") == 0)
                pyruntime_section = sh.sh_addr; /* 3.13+: the runtime has its own section */
        }
    }
    if (!s->runtime)
        s->runtime = pyruntime_section;
    elf_end(elf);
    close(fd);
    return 0;
}

/* "libpython3.10.so.1.0" or "python3.10" -> 0x030a0000; 0 when the name says nothing. */
static uint32_t version_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *p = strstr(base, "python");
    unsigned major, minor;
    if (p && sscanf(p, "python%u.%u", &major, &minor) == 2 && major == 3 && minor < 100)
        return major << 24 | minor << 16;
    return 0;
}

static int looks_like_python(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libpython", 9) == 0 || strncmp(base, "python", 6) == 0;
}

static int try_candidate(pid_t pid, const struct ps_maps *maps, const char *path,
                         struct ps_pyfind *out)
{
    char real[PATH_MAX + 64];
    struct elf_syms s;
    snprintf(real, sizeof real, "/proc/%d/root%s", (int)pid, path);
    if (read_elf_syms(real, &s) != 0 || !s.runtime)
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
    out->version_hex = version_from_name(path);
    out->hash_secret = s.hash_secret ? out->bias + s.hash_secret : 0;
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
            if (!path || maps->v[i].perms[2] != 'x' || looks_like_python(path) != (pass == 0))
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

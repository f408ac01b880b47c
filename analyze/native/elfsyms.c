/* Finding the CPython runtime's symbols in an ELF file (see pysnap/elfsyms.h). */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pysnap/elfsyms.h"

static void scan_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct ps_elf_pysyms *s)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    size_t symsz = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
    if (!d || !d->d_buf || symsz == 0)
        return;
    /* As many symbols as the data holds (sh_size and sh_entsize are the file's word). */
    size_t n = d->d_size / symsz;
    if (n > INT_MAX)
        n = INT_MAX;
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

/* FD as an ELF file (libelf reads it with pread/mmap: the file offset does not matter, and the
 * caller keeps FD); NULL when it is not one. */
static Elf *elf_of(int fd)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return NULL;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        if (elf)
            elf_end(elf);
        return NULL;
    }
    return elf;
}

int ps_elf_pysyms(const char *path, struct ps_elf_pysyms *s)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = ps_elf_pysyms_fd(fd, s);
    close(fd);
    return rc;
}

int ps_elf_pysyms_fd(int fd, struct ps_elf_pysyms *s)
{
    memset(s, 0, sizeof *s);
    Elf *elf = elf_of(fd);
    if (!elf)
        return -1;
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
    return 0;
}

/* Symbols of TYPE (STT_OBJECT, STT_FUNC) named NAMES[i] (NULL: skipped) into ADDRS[i]:
 * .symtab first, then .dynsym. */
static void lookup_symbols(Elf *elf, int type, const char *const *names, uint64_t *addrs, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            Elf_Data *d;
            size_t symsz = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
            if (!gelf_getshdr(scn, &sh) || sh.sh_type != (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM) ||
                !(d = elf_getdata(scn, NULL)) || !d->d_buf || symsz == 0)
                continue;
            size_t nsyms = d->d_size / symsz;
            for (size_t i = 0; i < nsyms && i < INT_MAX; i++) {
                GElf_Sym sym;
                if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
                    GELF_ST_TYPE(sym.st_info) != type)
                    continue;
                const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
                for (size_t k = 0; name && k < n; k++)
                    if (names[k] && !addrs[k] && strcmp(name, names[k]) == 0)
                        addrs[k] = sym.st_value;
            }
        }
    }
}

/* LEN bytes of the file's contents at link address ADDR (inside one section with data). */
static int read_at(Elf *elf, uint64_t addr, unsigned char *buf, size_t len)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || addr < sh.sh_addr ||
            addr - sh.sh_addr > sh.sh_size || sh.sh_size - (addr - sh.sh_addr) < len ||
            !(d = elf_getdata(scn, NULL)) || !d->d_buf || d->d_size < sh.sh_size)
            continue;
        memcpy(buf, (const char *)d->d_buf + (addr - sh.sh_addr), len);
        return 0;
    }
    return -1;
}

/* The data address the function at FN loads first: its code begins (after an endbr64) with
 * mov rax, [rip + disp32] (48 8b 05 disp32). 0 when it does not. */
static uint64_t loaded_by(Elf *elf, uint64_t fn)
{
    unsigned char code[11];
    if (!fn || read_at(elf, fn, code, sizeof code))
        return 0;
    size_t at = memcmp(code, "\xf3\x0f\x1e\xfa", 4) == 0 ? 4 : 0;
    if (memcmp(code + at, "\x48\x8b\x05", 3) != 0)
        return 0;
    int32_t disp;
    memcpy(&disp, code + at + 3, 4);
    return fn + at + 7 + (uint64_t)(int64_t)disp;
}

int ps_elf_pyroots_fd(int fd, uint32_t version_hex, struct ps_elf_pysyms *s)
{
    const struct ps_pyoffsets *t =
        ps_pyoffsets_builtin((int)(version_hex >> 24), (int)((version_hex >> 16) & 0xff));
    if (!t || !t->roots.runtime)
        return 0;
    const char *names[1 + PS_ROOT_COUNT];
    uint64_t addrs[1 + PS_ROOT_COUNT] = {0};
    int any = strcmp(t->roots.runtime, "_PyRuntime") != 0;
    names[0] = any ? t->roots.runtime : NULL;
    for (size_t k = 0; k < PS_ROOT_COUNT; k++)
        any |= (names[1 + k] = t->roots.symbol[k]) != NULL;
    if (!any)
        return 0;
    Elf *elf = elf_of(fd);
    if (!elf)
        return -1;
    lookup_symbols(elf, STT_OBJECT, names, addrs, 1 + PS_ROOT_COUNT);
    if (names[0] && !addrs[0] && t->roots.runtime_getter) {
        /* Stripped of .symtab: the exported getter's code says where the static is. */
        uint64_t fn = 0;
        lookup_symbols(elf, STT_FUNC, &t->roots.runtime_getter, &fn, 1);
        addrs[0] = loaded_by(elf, fn);
    }
    elf_end(elf);
    if (names[0])
        s->runtime = addrs[0];
    memcpy(s->roots, addrs + 1, sizeof s->roots);
    return 0;
}

int ps_elf_pyroots(const char *path, uint32_t version_hex, struct ps_elf_pysyms *s)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = ps_elf_pyroots_fd(fd, version_hex, s);
    close(fd);
    return rc;
}

uint64_t ps_elf_object_fd(int fd, const char *name, uint64_t *first_load)
{
    struct ps_elf_pysyms s;
    uint64_t addr = 0;
    if (ps_elf_pysyms_fd(fd, &s) != 0) /* for first_load */
        return 0;
    *first_load = s.first_load;
    Elf *elf = elf_of(fd);
    if (!elf)
        return 0;
    lookup_symbols(elf, STT_OBJECT, &name, &addr, 1);
    elf_end(elf);
    return addr;
}

uint64_t ps_elf_object(const char *path, const char *name, uint64_t *first_load)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t addr = ps_elf_object_fd(fd, name, first_load);
    close(fd);
    return addr;
}

uint32_t ps_version_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *p = strstr(base, "python");
    unsigned major, minor;
    if (p && sscanf(p, "python%u.%u", &major, &minor) == 2 && (major == 3 || major == 2) &&
        minor < 100)
        return major << 24 | minor << 16;
    return 0;
}

int ps_looks_like_python(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libpython", 9) == 0 || strncmp(base, "python", 6) == 0;
}

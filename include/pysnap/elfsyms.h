/* What pysnap needs from a CPython binary's ELF file (libpython3.X.so, a static python, an
 * embedding program): where _PyRuntime, Py_Version and _Py_HashSecret are, relative to the
 * file's own link addresses. Shared by live capture (snap/pyfind.c) and core analysis. */
#ifndef PYSNAP_ELFSYMS_H
#define PYSNAP_ELFSYMS_H

#include <stdint.h>

#include "pysnap/pyoffsets.h"

struct ps_elf_pysyms {
    uint64_t runtime;     /* _PyRuntime (or the .PyRuntime section, 3.13+); 0 if absent */
    uint64_t version;     /* Py_Version, 0 if absent (before 3.11) */
    uint64_t hash_secret; /* _Py_HashSecret, 0 if absent */
    uint64_t roots[PS_ROOT_COUNT]; /* enum ps_root statics (3.6), 0 if absent: ps_elf_pyroots */
    uint64_t first_load;  /* lowest PT_LOAD p_vaddr, page-aligned down: load bias = the
                             file's mapping at offset 0 minus this */
};

/* Read PATH's symbols (.symtab first, then .dynsym, which is all a stripped build keeps).
 * Returns 0, or -1 when PATH cannot be opened or is not ELF (no error detail set). */
int ps_elf_pysyms(const char *path, struct ps_elf_pysyms *out);
/* The same from an open file (a live target's mapped file, opened by snap/mapped.c); FD
 * stays open. */
int ps_elf_pysyms_fd(int fd, struct ps_elf_pysyms *out);

/* Complete S (from ps_elf_pysyms of PATH) for a CPython VERSION_HEX whose table names other
 * roots than _PyRuntime (3.6: the static interp_head, gil_locked, gil_last_holder and
 * collecting, which only .symtab has): S->runtime and S->roots from those symbols. Does
 * nothing for versions that keep everything in _PyRuntime. Returns 0, or -1 when PATH
 * cannot be read. */
int ps_elf_pyroots(const char *path, uint32_t version_hex, struct ps_elf_pysyms *s);
int ps_elf_pyroots_fd(int fd, uint32_t version_hex, struct ps_elf_pysyms *s);

/* The link address of the data object NAME in PATH (.symtab, then .dynsym), 0 when absent;
 * *FIRST_LOAD as in struct ps_elf_pysyms. */
uint64_t ps_elf_object(const char *path, const char *name, uint64_t *first_load);
uint64_t ps_elf_object_fd(int fd, const char *name, uint64_t *first_load);

/* "libpython3.10.so.1.0" or "python3.10" -> 0x030a0000; 0 when the name says nothing. */
uint32_t ps_version_from_name(const char *path);

/* Is PATH's file name that of a python binary or library (python*, libpython*)? */
int ps_looks_like_python(const char *path);

#endif

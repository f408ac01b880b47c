/* What pysnap needs from a CPython binary's ELF file (libpython3.X.so, a static python, an
 * embedding program): where _PyRuntime, Py_Version and _Py_HashSecret are, relative to the
 * file's own link addresses. Shared by live capture (snap/pyfind.c) and core analysis. */
#ifndef PYSNAP_ELFSYMS_H
#define PYSNAP_ELFSYMS_H

#include <stdint.h>

struct ps_elf_pysyms {
    uint64_t runtime;     /* _PyRuntime (or the .PyRuntime section, 3.13+); 0 if absent */
    uint64_t version;     /* Py_Version, 0 if absent (before 3.11) */
    uint64_t hash_secret; /* _Py_HashSecret, 0 if absent */
    uint64_t first_load;  /* lowest PT_LOAD p_vaddr, page-aligned down: load bias = the
                             file's mapping at offset 0 minus this */
};

/* Read PATH's symbols (.symtab first, then .dynsym, which is all a stripped build keeps).
 * Returns 0, or -1 when PATH cannot be opened or is not ELF (no error detail set). */
int ps_elf_pysyms(const char *path, struct ps_elf_pysyms *out);
/* The same from an open file (a live target's mapped file, opened by snap/mapped.c); FD
 * stays open. */
int ps_elf_pysyms_fd(int fd, struct ps_elf_pysyms *out);

/* "libpython3.10.so.1.0" or "python3.10" -> 0x030a0000; 0 when the name says nothing. */
uint32_t ps_version_from_name(const char *path);

/* Is PATH's file name that of a python binary or library (python*, libpython*)? */
int ps_looks_like_python(const char *path);

#endif

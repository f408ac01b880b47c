/* A snapshot in memory: what capture writes and analyze reads. */
#ifndef PYSNAP_SNAPSHOT_H
#define PYSNAP_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "pysnap/memsrc.h"
#include "pysnap/pyoffsets.h"
#include "pysnap/snapfmt.h"

/* The largest snapshot file, and uncompressed image, the reader holds in memory: 4 GiB on a
 * 64-bit host; on a 32-bit one (the WebAssembly build: 2 GiB of memory in all, a browser tab)
 * 128 MiB of file and 1 GiB of image. Larger files are refused with a message. */
#if SIZE_MAX > 0xffffffffu
#define PS_MAX_SNAPSHOT_BYTES ((size_t)1 << 32)
#define PS_MAX_IMAGE_BYTES ((size_t)1 << 32)
#else
#define PS_MAX_SNAPSHOT_BYTES ((size_t)128 << 20)
#define PS_MAX_IMAGE_BYTES ((size_t)1 << 30)
#endif

/* Registers of a stopped thread, in the kernel's x86-64 user_regs_struct order
 * (27 words), as stored in NT_PRSTATUS. */
#define PS_NREGS 27

struct ps_snap_thread {
    struct ps_note_thread info;
    int has_regs;
    uint64_t regs[PS_NREGS];
    /* Native stack (PS_NT_NATIVE), innermost first; NULL when not unwound. */
    struct ps_note_native_frame *native;
    size_t nnative;
    int has_native;
    uint16_t native_flags;    /* PS_NATIVE_* */
};

/* key=value strings; keys used: tool_version, host, exe, cmdline, python_path, root_* (3.6),
 * partial_reason. Unknown keys are kept and ignored. */
struct ps_snap_string {
    char *key, *value;
};

struct ps_snap_meta {
    struct ps_note_meta meta;
    struct ps_snap_string *strings;
    size_t nstrings;
    struct ps_snap_thread *threads;
    size_t nthreads;
    /* PS_NT_MODULES: every index and offset in them is unchecked input; resolve them with
     * ps_snap_native_str() and ps_snap_module(). The string table ends with a NUL. */
    struct ps_note_module *modules;
    size_t nmodules;
    char *native_strtab;
    size_t native_strtab_len;
};

const char *ps_snap_string(const struct ps_snap_meta *m, const char *key);
/* Append the string KEY=VALUE to M (nothing when VALUE is NULL). PS_OK or PS_NOMEM. */
int ps_snap_add_string(struct ps_snap_meta *m, const char *key, const char *value);
/* The static roots of a version without _PyRuntime (enum ps_root, 3.6) as strings
 * root_gil_locked, root_gil_holder, root_gc (hex; only those that are non-zero), and back
 * (absent: 0). */
int ps_snap_add_roots(struct ps_snap_meta *m, const uint64_t *roots);
void ps_snap_roots(const struct ps_snap_meta *m, uint64_t *roots);
void ps_snap_meta_free(struct ps_snap_meta *m);
/* The NUL-terminated string at OFF of the native string table, or NULL when OFF is
 * PS_NO_INDEX or out of range. */
const char *ps_snap_native_str(const struct ps_snap_meta *m, uint32_t off);
/* Module INDEX, or NULL when out of range. */
const struct ps_note_module *ps_snap_module(const struct ps_snap_meta *m, uint32_t index);

/* One captured range (what a PT_LOAD segment holds). */
struct ps_range {
    uint64_t addr;
    uint64_t len;
    const unsigned char *data;
};

/* An opened snapshot: its metadata and a memory source over its ranges. */
struct ps_snapshot;

/* Open PATH (compressed or not). On failure returns PS_NOTSNAP, PS_BADSNAP, PS_NEWERSNAP,
 * PS_IO or PS_NOMEM with a detail set. */
int ps_snapshot_open(const char *path, struct ps_snapshot **out);
/* Same, from a buffer (the snapshot takes ownership of BUF, which must come from malloc). */
int ps_snapshot_open_buffer(unsigned char *buf, size_t len, struct ps_snapshot **out);
/* Open an ordinary ELF core of a Python process (gdb's gcore, a kernel core dump) as a
 * snapshot: its PT_LOAD segments plus, for what the core left out of its file-backed
 * mappings (NT_FILE note), the files themselves: EXE (may be NULL) for the executable, the
 * others at SYSROOT (may be NULL) + the path the process saw. Threads come from NT_PRSTATUS
 * notes. Errors: PS_NOTSNAP (not an ELF core, no NT_FILE), PS_BADSNAP, PS_NOTPYTHON (no mapped
 * file has _PyRuntime), PS_UNSUPPORTED, PS_IO, PS_NOMEM, with a detail. */
int ps_core_open(const char *core_path, const char *exe, const char *sysroot,
                 struct ps_snapshot **out);
/* Is PATH an uncompressed 64-bit little-endian ELF core without pysnap notes (a foreign core, not
 * a .snap written with --no-compress)? Reads the headers and notes only. */
int ps_is_plain_core(const char *path);
const struct ps_snap_meta *ps_snapshot_meta(const struct ps_snapshot *s);
/* A memory source over the snapshot's ranges; valid while S is open; close is a no-op. */
struct ps_memsrc ps_snapshot_memsrc(struct ps_snapshot *s);
void ps_snapshot_close(struct ps_snapshot *s);

/* Writing (capture side): serialize META and RANGES into an ELF core in memory, then
 * optionally zstd-compress it. *OUT is malloc'd. */
int ps_snapshot_encode(const struct ps_snap_meta *meta, const struct ps_range *ranges,
                       size_t nranges, int compress_level, unsigned char **out,
                       size_t *out_len);

#endif

/* The .snap file format: constants and on-disk note layouts. FORMAT.md is the specification;
 * this header must agree with it. All integers are little-endian (x86-64 targets).
 *
 * A snapshot is an ELF64 core file (ET_CORE, EM_X86_64), zstd-compressed as a whole by
 * default: one PT_NOTE segment, then one PT_LOAD per captured memory range. */
#ifndef PYSNAP_SNAPFMT_H
#define PYSNAP_SNAPFMT_H

#include <stdint.h>

#define PS_FORMAT_MAJOR 1 /* a reader refuses a newer major */
#define PS_FORMAT_MINOR 0 /* a reader accepts any minor of its major */

#define PS_NOTE_OWNER "PYSNAP"

/* Note types under owner "PYSNAP". Once published, a type id never changes meaning. */
enum ps_note_type {
    PS_NT_META = 0x5001,    /* struct ps_note_meta, exactly once */
    PS_NT_STRINGS = 0x5002, /* "key=value\0" records, see FORMAT.md */
    PS_NT_THREAD = 0x5003,  /* struct ps_note_thread, one per thread frozen */
};

/* Meta flags. */
#define PS_META_PARTIAL 0x1u    /* capture ended early; see the "partial_reason" string */
#define PS_META_NO_LOCALS 0x2u  /* captured with --no-locals */

struct ps_note_meta {
    uint16_t format_major;
    uint16_t format_minor;
    uint32_t flags;           /* PS_META_* */
    uint64_t pid;
    int64_t captured_at_ns;   /* CLOCK_REALTIME at freeze start, ns since the epoch */
    uint64_t pause_ns;        /* CLOCK_MONOTONIC, first thread stopped to last resumed */
    uint64_t runtime_addr;    /* address of _PyRuntime in the target */
    uint32_t py_version_hex;  /* PY_VERSION_HEX of the target */
    uint32_t nthreads;        /* threads frozen (PS_NT_THREAD notes) */
    uint64_t capture_ns;      /* wall time of the whole capture, before writing */
    uint64_t reserved[4];     /* zero; readers ignore */
};

struct ps_note_thread {
    uint32_t tid;
    uint8_t os_state;         /* /proc/PID/task/TID/stat state letter before the freeze */
    uint8_t flags;            /* reserved, zero */
    uint16_t reserved0;
    char comm[16];            /* OS thread name, NUL-padded */
    uint64_t reserved[4];     /* zero; readers ignore */
};

#endif

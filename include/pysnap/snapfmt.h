/* The .snap file format: constants and on-disk note layouts. FORMAT.md is the specification;
 * this header must agree with it. All integers are little-endian (x86-64 targets).
 *
 * A snapshot is an ELF64 core file (ET_CORE, EM_X86_64), zstd-compressed as a whole by
 * default: one PT_NOTE segment, then one PT_LOAD per captured memory range. */
#ifndef PYSNAP_SNAPFMT_H
#define PYSNAP_SNAPFMT_H

#include <stdint.h>

#define PS_FORMAT_MAJOR 1 /* a reader refuses a newer major */
#define PS_FORMAT_MINOR 2 /* a reader accepts any minor of its major */

#define PS_NOTE_OWNER "PYSNAP"

/* Note types under owner "PYSNAP". Once published, a type id never changes meaning. */
enum ps_note_type {
    PS_NT_META = 0x5001,    /* struct ps_note_meta, exactly once */
    PS_NT_STRINGS = 0x5002, /* "key=value\0" records, see FORMAT.md */
    PS_NT_THREAD = 0x5003,  /* struct ps_note_thread, one per thread frozen */
    PS_NT_NATIVE = 0x5004,  /* 1.1: ps_note_native + frames, one per thread unwound */
    PS_NT_MODULES = 0x5005, /* 1.1: ps_note_modules + modules + string table, at most once */
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
    uint32_t ns_tid;          /* 1.2: the tid in the target's own (innermost) pid namespace,
                                 0 when unknown (older files); TID is as pysnap saw it */
    uint32_t reserved1;       /* zero; readers ignore */
    uint64_t reserved[3];     /* zero; readers ignore */
};

/* PS_NT_NATIVE: the thread's native stack, innermost first, unwound at capture.
 * Descriptor: struct ps_note_native, then NFRAMES struct ps_note_native_frame. */
#define PS_NATIVE_TRUNCATED 0x1u  /* the frame limit cut the stack (outer frames missing) */
#define PS_NATIVE_INCOMPLETE 0x2u /* unwinding stopped early: no CFI, memory not captured */

struct ps_note_native {
    uint32_t tid;
    uint16_t nframes;
    uint16_t flags;           /* PS_NATIVE_* */
};

#define PS_NO_INDEX 0xffffffffu   /* no module / no symbol */
#define PS_FRAME_ACTIVATION 0x1u  /* PC is where the thread stands, not a return address */

struct ps_note_native_frame {
    uint64_t pc;
    uint64_t sp;              /* the stack pointer in this frame (its lowest address), 0 unknown */
    uint32_t offset;          /* from the symbol; from the module's load bias without one */
    uint32_t module;          /* index into the PS_NT_MODULES records, or PS_NO_INDEX */
    uint32_t symbol;          /* string table offset of the symbol name, or PS_NO_INDEX */
    uint16_t flags;           /* PS_FRAME_* */
    uint16_t reserved;        /* zero */
};

/* PS_NT_MODULES: the mapped files the native frames point into. Descriptor: struct
 * ps_note_modules, NMODULES struct ps_note_module, then STRTAB_SIZE bytes of string table
 * (NUL-terminated names, and build-ids as raw bytes). */
struct ps_note_modules {
    uint32_t nmodules;
    uint32_t strtab_size;
};

struct ps_note_module {
    uint64_t start, end;      /* address range of the module's mappings in the target */
    uint64_t bias;            /* load bias: target address - ELF virtual address */
    uint32_t path;            /* string table offset: the file as the target sees it */
    uint32_t build_id;        /* string table offset of BUILD_ID_LEN raw bytes */
    uint16_t build_id_len;    /* 0: the file has none */
    uint16_t flags;           /* reserved, zero */
    uint32_t reserved;        /* zero */
};

#endif

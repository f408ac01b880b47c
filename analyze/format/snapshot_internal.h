/* The inside of an opened snapshot, shared by its two readers: snapshot_read.c (a .snap) and
 * core.c (an ordinary ELF core plus the binaries it maps, presented as a snapshot). */
#ifndef PYSNAP_SNAPSHOT_INTERNAL_H
#define PYSNAP_SNAPSHOT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "pysnap/snapshot.h"

/* The x86-64 Linux core notes the readers take, by their layout in the file rather than the
 * host's <sys/procfs.h>: the analyzer runs on other hosts too (wasm32, arm64), where that
 * header describes other structures. Offsets of the kernel's struct elf_prstatus and
 * elf_prpsinfo on x86-64 (tests/unit/test_snapshot.c checks them against <sys/procfs.h>). */
#define PS_X86_64_PRSTATUS_SIZE 336
#define PS_X86_64_PRSTATUS_PID 32   /* int pr_pid */
#define PS_X86_64_PRSTATUS_REGS 112 /* user_regs_struct, PS_NREGS 8-byte words */
#define PS_X86_64_PRPSINFO_SIZE 136
#define PS_X86_64_PRPSINFO_PID 24    /* int pr_pid */
#define PS_X86_64_PRPSINFO_FNAME 40  /* char pr_fname[16] */
#define PS_X86_64_PRPSINFO_FNAME_LEN 16
#define PS_X86_64_PRPSINFO_PSARGS 56 /* char pr_psargs[80] */
#define PS_X86_64_PRPSINFO_PSARGS_LEN 80

static inline uint32_t ps_note_u32(const unsigned char *desc, size_t off)
{
    uint32_t v;
    memcpy(&v, desc + off, sizeof v); /* little-endian file on a little-endian host */
    return v;
}

struct ps_snapshot {
    unsigned char *image; /* the uncompressed ELF core */
    size_t image_len;
    int image_mapped;     /* image is an mmap of the file (an ELF core), not malloc'd */
    struct ps_snap_meta meta;
    struct ps_range *ranges; /* sorted by addr, not overlapping */
    size_t nranges;
    unsigned char **owned;   /* more buffers ranges point into (file contents), freed on close */
    size_t nowned;
};

#endif

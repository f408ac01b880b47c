/* The inside of an opened snapshot, shared by its two readers: snapshot_read.c (a .snap) and
 * core.c (an ordinary ELF core plus the binaries it maps, presented as a snapshot). */
#ifndef PYSNAP_SNAPSHOT_INTERNAL_H
#define PYSNAP_SNAPSHOT_INTERNAL_H

#include "pysnap/snapshot.h"

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

/* Opening the file behind a mapping of a live process, whatever the mount setup: the target
 * may be in a container (its own mount namespace, pivoted), in a chroot (maps then shows the
 * paths of the outside), run from a file since deleted or replaced, or be seen from a sidecar
 * whose own filesystem has other files under the same names. Every place that opens a
 * target's mapped file goes through here. */
#ifndef PYSNAP_SNAP_MAPPED_H
#define PYSNAP_SNAP_MAPPED_H

#include <sys/types.h>

#include "proc.h"

/* Open (read-only) the file mapped at M, one of MAPS of PID, trying in turn:
 *   /proc/PID/map_files/START-END  the kernel's own handle on the mapped file (any mount
 *                                  setup, even deleted; needs CAP_SYS_ADMIN or
 *                                  CAP_CHECKPOINT_RESTORE in the initial user namespace);
 *   /proc/PID/root + path          the file in the target's own mount namespace;
 *   path                           a chroot seen from outside, or a target already gone.
 * A candidate is used only if it is the mapped file: the device and inode maps shows, and the
 * same GNU build-id bytes as the target has mapped (where the file has one and the target's
 * memory can be read). overlayfs may show the layer's device and inode in maps and the
 * overlay's in stat (or the reverse, by kernel version): a matching build-id then decides.
 * Returns the descriptor, or -1 with errno EACCES when /proc/PID/root was refused (no ptrace
 * access to PID), ENOENT when no candidate is that file, else the errno of the last attempt.
 * Sets no error detail. */
int ps_mapped_open(pid_t pid, const struct ps_maps *maps, const struct ps_mapping *m);

/* The mapping of MAPS at file offset 0 whose path is PATH and which starts at START (START 0:
 * the first such), or NULL. */
const struct ps_mapping *ps_mapped_find(const struct ps_maps *maps, const char *path,
                                        uint64_t start);

#endif

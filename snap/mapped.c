/* A target's mapped files, opened whatever the mount setup (see mapped.h). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mapped.h"

#define MAX_BUILD_ID 64  /* bytes; GNU build-ids are 20 (sha1) or 16 (md5, uuid) */
#define MAX_PHDRS 4096   /* program headers looked at for PT_NOTE */

const struct ps_mapping *ps_mapped_find(const struct ps_maps *maps, const char *path,
                                        uint64_t start)
{
    for (size_t i = 0; i < maps->n; i++) {
        const struct ps_mapping *m = &maps->v[i];
        if (m->path && m->offset == 0 && (!start || m->start == start) &&
            strcmp(m->path, path) == 0)
            return m;
    }
    return NULL;
}

/* The GNU build-id of the ELF file FD: its bytes into ID, the file offset of those bytes
 * into *OFF. Returns its length, 0 when the file has none (or is not ELF). */
static size_t file_build_id(int fd, unsigned char id[MAX_BUILD_ID], uint64_t *off)
{
    size_t len = 0, nph = 0;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph) != 0)
        nph = 0;
    for (size_t i = 0; i < nph && i < MAX_PHDRS && !len; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
            continue;
        Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
                                           ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
        GElf_Nhdr nh;
        size_t pos = 0, next, name_off, desc_off;
        /* gelf_getnote advances by at least a note header: the walk ends within d_size. */
        while (d && !len && (next = gelf_getnote(d, pos, &nh, &name_off, &desc_off)) > 0) {
            const char *name = (const char *)d->d_buf + name_off;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                nh.n_descsz > 0 && nh.n_descsz <= MAX_BUILD_ID) {
                len = nh.n_descsz;
                memcpy(id, (const char *)d->d_buf + desc_off, len);
                *off = ph.p_offset + desc_off;
            }
            pos = next;
        }
    }
    if (elf)
        elf_end(elf);
    return len;
}

/* Does the target have the bytes of FD's build-id where M's file maps them? 1 yes, 0 no,
 * -1 cannot tell (no build-id, not mapped, memory unreadable). */
static int build_id_matches(pid_t pid, const struct ps_maps *maps, const struct ps_mapping *m,
                            int fd)
{
    unsigned char id[MAX_BUILD_ID], mem[MAX_BUILD_ID];
    uint64_t off = 0;
    size_t len = file_build_id(fd, id, &off);
    if (!len)
        return -1;
    /* The note lies in some mapping of the same file (usually the one at offset 0). */
    for (size_t i = 0; i < maps->n; i++) {
        const struct ps_mapping *o = &maps->v[i];
        if (o->inode != m->inode || o->dev_major != m->dev_major ||
            o->dev_minor != m->dev_minor || !o->path || !m->path || strcmp(o->path, m->path) ||
            off < o->offset || off + len > o->offset + (o->end - o->start))
            continue;
        uint64_t addr = o->start + (off - o->offset);
        struct iovec local = {mem, len}, remote = {(void *)(uintptr_t)addr, len};
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
            return -1;
        return memcmp(id, mem, len) == 0;
    }
    return -1;
}

/* Is FD the file mapped at M? The device and inode maps shows, unless the build-id says
 * otherwise; without them (overlayfs), the same build-id. */
static int is_mapped_file(pid_t pid, const struct ps_maps *maps, const struct ps_mapping *m,
                          int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    int same_inode = m->inode && st.st_ino == m->inode && major(st.st_dev) == m->dev_major &&
                     minor(st.st_dev) == m->dev_minor;
    int bid = build_id_matches(pid, maps, m, fd);
    return same_inode ? bid != 0 : bid == 1;
}

int ps_mapped_open(pid_t pid, const struct ps_maps *maps, const struct ps_mapping *m)
{
    if (!m->path || elf_version(EV_CURRENT) == EV_NONE) {
        errno = ENOENT;
        return -1;
    }
    char path[PATH_MAX + 64];
    int err = ENOENT, mismatch = 0, denied = 0;
    for (int how = 0; how < 3; how++) {
        int n = how == 0 ? snprintf(path, sizeof path, "/proc/%d/map_files/%llx-%llx", (int)pid,
                                    (unsigned long long)m->start, (unsigned long long)m->end)
                : how == 1 ? snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, m->path)
                           : snprintf(path, sizeof path, "%s", m->path);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            err = errno;
            /* /proc/PID/root needs only ptrace read access (map_files needs more): refused,
             * that access is what is missing. */
            denied |= how == 1 && (err == EACCES || err == EPERM);
            continue;
        }
        if (is_mapped_file(pid, maps, m, fd))
            return fd;
        close(fd);
        mismatch = 1;
    }
    errno = denied ? EACCES : mismatch ? ENOENT : err;
    return -1;
}

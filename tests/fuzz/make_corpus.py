#!/usr/bin/env python3
"""Make the fuzzers' seed corpus from real snapshots of small targets.

    tests/fuzz/make_corpus.py [--pysnap BIN] [--out DIR] [--walker-only | --core-only] [PYTHON ...]

For each interpreter (default: every /root/.pyenv/versions/[23].*/bin/python that pysnap can
capture; an argument is a python path or LABEL=COMMAND, the form of PYSNAP_EXTRA_PYTHONS from
tools/fetch-sid-pythons.sh --print-env, split at ';') it starts TARGET below, captures it twice (zstd and --no-compress) and writes:

  corpus/snapshot/<ver>-raw, <ver>-zstd   the snapshot files as captured (zstd: a few only)
  corpus/walker/<ver>-seg, <ver>-flat     the same memory as fuzz_walker inputs: its ranges
                                          as segments, and (a few) relocated into one flat
                                          image

  corpus/core/<ver>                       (a few) the same memory as a plain ELF core, with a
                                          small executable, as fuzz_core reads them (below)

Files have no .snap suffix: .gitignore ignores *.snap. The whole corpus stays well under
1 MB (tens of KB per file). Re-run it when the snapshot format changes.

Relocation (for the flat walker seeds, approximate by nature): a snapshot holds scattered ranges (heap, libpython's data,
...); fuzz_walker serves one contiguous buffer. The ranges are packed one after another
in clusters (ranges less than GAP apart are copied together, with the gap, keeping each
address's offset modulo 16), and every aligned word that points into a cluster, or within
MARGIN of one (glibc's tid sits at pthread_t + 0x2d0), is rewritten to point at the copy. The walk over the image then reproduces most of the snapshot's walk (a pointer to a large
struct whose fields lie beyond MARGIN, e.g. 3.13's interpreter, loses its way; the "seg"
seed of the same snapshot is exact). Look with
PYSNAP_FUZZ_PRINT=1 build-fuzz/tests/fuzz/fuzz_walker corpus/walker/<ver>-flat.

Core seeds (fuzz_core's input: u32 EXE_LEN, the executable, the core): a snapshot is already
an ELF core with the kernel's NT_PRSTATUS and NT_PRPSINFO notes; the seed keeps those and the
PT_LOADs, drops the PYSNAP notes, and adds what a kernel core has besides: NT_FILE (the
executable mapped at offset 0, one of its later pages, libpython and libc, both absent under
fuzz_core's empty sysroot) and NT_AUXV (AT_ENTRY inside the executable's first page). The
executable is a minimal ET_DYN ELF: one PT_LOAD at 0, a .symtab with _PyRuntime, Py_Version
(3.11+: its 4 bytes are in the file at EXE_VERSION_OFF, read through the mapping) and
_Py_HashSecret, relative to where NT_FILE maps it; the 3.13+ seed gives the runtime as a
.PyRuntime section instead of a symbol. Before 3.11 the version comes from the mapped file's
name (python3.X), as for a real core. `--core-only` remakes them from the committed
corpus/snapshot/*-raw. Look with
PYSNAP_FUZZ_PRINT=1 build-fuzz/tests/fuzz/fuzz_core corpus/core/<ver>.
"""

import argparse
import bisect
import glob
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FUZZ_WALKER_BASE = 0x7f0000000000  # must match fuzz_walker.c
ALIGN = 16
GAP = 256  # ranges closer than this are copied together, gap included
MARGIN = 1024
PS_NT_META = 0x5001
PS_NT_STRINGS = 0x5002
# The corpus stays under 1 MB: every interpreter gets a raw snapshot and a segmented walker
# seed (the threads' copied native stacks included: 3.11+ entry frames live there); these
# few also a compressed snapshot and a flat walker seed.
ZSTD_SEEDS = ("3.8.18", "3.12.1", "sid-3.15")
FLAT_SEEDS = ("3.10.13", "3.12.1")
# Core seeds: (snapshot, the NT_FILE path of the executable). fuzz_core names its --exe
# "python": the first matches it by file name, the others by AT_ENTRY.
CORE_SEEDS = {
    "3.8.18": "/root/.pyenv/versions/3.8.18/bin/python3.8",
    "3.11.7": "/usr/local/bin/python",
    "3.12.1": "/usr/bin/python3.12",
    "sid-3.15": "/usr/bin/python3.15",
}
EXE_VERSION_OFF = 0x100
PAGE = 0x1000

TARGET = r'''
import sys, threading, time

def worker(n, label):
    total = n * 2
    items = [1, "two", 3.0, None]
    time.sleep(1000)

def gen():
    for i in range(3): yield i  # 2.7 too (no yield from)
    time.sleep(1000)
    yield 4

class App:
    def handler(self, depth, name="req"):
        if depth:
            return self.handler(depth - 1, name)
        data = {"k": "v", "n": depth}
        sys.stdout.write("ready\n"); sys.stdout.flush()  # 2.7 too
        time.sleep(1000)

t = threading.Thread(target=worker, args=(3, "a"), name="worker-1"); t.daemon = True; t.start()
g = gen(); next(g)
t = threading.Thread(target=lambda: list(g), name="gen-thread"); t.daemon = True; t.start()
time.sleep(0.2)
App().handler(3)
'''


def pythons():
    return sorted(glob.glob("/root/.pyenv/versions/[23].*/bin/python"))


def interpreter(spec):
    """(label, env, argv prefix) of PYTHON or LABEL=COMMAND (PYSNAP_EXTRA_PYTHONS' form:
    leading NAME=VALUE words of COMMAND are environment)."""
    if "=" in spec.split()[0] and not os.path.exists(spec):
        label, command = spec.split("=", 1)
        words = command.split()
        env = dict(os.environ)
        while words and "=" in words[0] and not words[0].startswith("/"):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        return label, env, words
    if "/versions/" in spec:
        label = spec.split("/versions/")[1].split("/")[0]
    else:
        label = ("debian-" if spec.startswith("/usr/bin/") else "") + os.path.basename(spec)
    return label, dict(os.environ), [spec]


def capture(pysnap, python):
    """Snapshots (zstd bytes, raw bytes) of TARGET run by PYTHON, or None."""
    _, env, prefix = interpreter(python)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "target.py")
        with open(script, "w") as f:
            f.write(TARGET)
        proc = subprocess.Popen(prefix + [script], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env)
        try:
            line = proc.stdout.readline()
            if line.strip() != b"ready":
                return None
            time.sleep(0.2)
            snaps = []
            for extra in ([], ["--no-compress"]):
                path = os.path.join(tmp, "s%d" % len(snaps))
                res = subprocess.run([pysnap, "capture", "--pid", str(proc.pid), "-o", path]
                                     + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     timeout=60)
                if res.returncode != 0:
                    sys.stderr.write("%s: %s" % (python, res.stderr.decode()))
                    return None
                with open(path, "rb") as f:
                    snaps.append(f.read())
            return snaps
        finally:
            proc.kill()
            proc.wait()


def parse_core(data):
    """(ranges [(addr, bytes)], runtime_addr, py_version_hex, hash_secret or 0) of an
    uncompressed snapshot."""
    assert data[:4] == b"\x7fELF"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    ranges, runtime, version, secret = [], None, None, 0
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        seg = data[p_offset:p_offset + p_filesz]
        if p_type == 1 and p_filesz:
            ranges.append((p_vaddr, seg))
        elif p_type == 4:
            off = 0
            while off + 12 <= len(seg):
                namesz, descsz, ntype = struct.unpack_from("<III", seg, off)
                name = seg[off + 12:off + 12 + namesz]
                doff = off + 12 + ((namesz + 3) & ~3)
                desc = seg[doff:doff + descsz]
                if name == b"PYSNAP\0" and ntype == PS_NT_META:
                    runtime, = struct.unpack_from("<Q", desc, 32)
                    version, = struct.unpack_from("<I", desc, 40)
                if name == b"PYSNAP\0" and ntype == PS_NT_STRINGS:
                    for rec in desc.split(b"\0"):
                        if rec.startswith(b"hash_secret="):
                            secret = int(rec.split(b"=", 1)[1], 16)
                off = doff + ((descsz + 3) & ~3)
    return ranges, runtime, version, secret


def relocate(ranges):
    """Pack RANGES into one image at FUZZ_WALKER_BASE; returns (image, old->new function)."""
    clusters = []  # [start, end, [(addr, bytes)]]: ranges less than GAP apart, kept together
    for addr, seg in sorted(ranges):
        if clusters and addr - clusters[-1][1] <= GAP:
            clusters[-1][1] = max(clusters[-1][1], addr + len(seg))
            clusters[-1][2].append((addr, seg))
        else:
            clusters.append([addr, addr + len(seg), [(addr, seg)]])
    placed, off = [], 0  # (start, end, offset in image)
    for start, end, _ in clusters:
        off = (off + ALIGN - 1) // ALIGN * ALIGN + start % ALIGN
        placed.append((start, end, off))
        off += end - start + ALIGN  # a small gap between clusters
    starts = [p[0] for p in placed]

    def new_addr(v):
        """The cluster V points into, or nearest within MARGIN (a struct whose head or tail
        was not read, e.g. glibc's tid at pthread_t + 0x2d0)."""
        i = bisect.bisect_right(starts, v) - 1
        best = None
        for j in (i, i + 1):
            if 0 <= j < len(placed):
                start, end, o = placed[j]
                dist = start - v if v < start else max(0, v - end + 1)
                if dist <= MARGIN and (best is None or dist < best[0]):
                    best = (dist, FUZZ_WALKER_BASE + o + v - start)
        return best[1] if best and best[1] >= FUZZ_WALKER_BASE else None

    image = bytearray(off + 64)  # a string read may look up to 64 bytes ahead
    for (start, _, o), (_, _, segs) in zip(placed, clusters):
        for addr, seg in segs:
            image[o + addr - start:o + addr - start + len(seg)] = seg
    moved = {}
    for (start, end, o) in placed:
        for k in range(o + (-start) % 8, o + end - start - 7, 8):
            v, = struct.unpack_from("<Q", image, k)
            if v >= 0x10000:
                nv = new_addr(v)
                if nv is not None:
                    struct.pack_into("<Q", image, k, nv)
                    moved[v] = nv
    # An int that equals a moved pointer (threading._active's keys are pthread_t values,
    # which the walker compares with PyThreadState.thread_id) moves with it. Both sides are
    # two 30-bit digits (2**30 <= value < 2**60), so only the digits change.
    for v, nv in moved.items():
        if 1 << 30 <= v < 1 << 60 and 1 << 30 <= nv < 1 << 60:
            old = struct.pack("<II", v & 0x3fffffff, v >> 30)
            image = image.replace(old, struct.pack("<II", nv & 0x3fffffff, nv >> 30))
    return bytes(image), new_addr


def walker_seeds(raw, flat=True):
    """{suffix: fuzz_walker input} of an uncompressed snapshot: "seg" holds its ranges as
    they are (adjacent ones joined, so a read may span them as in the snapshot), "flat" the
    same memory relocated into one image."""
    ranges, runtime, version, secret = parse_core(raw)
    minor = (version >> 16) & 0xff
    if version >> 24 != 3 or not 6 <= minor <= 15:
        return {}  # fuzz_walker's version byte has no 2.7
    seeds = {}
    joined = []
    for addr, seg in sorted(ranges):
        if joined and addr == joined[-1][0] + len(joined[-1][1]):
            joined[-1] = (joined[-1][0], joined[-1][1] + seg)
        else:
            joined.append((addr, seg))
    table = struct.pack("<I", len(joined)) + b"".join(
        struct.pack("<QI", addr, len(seg)) for addr, seg in joined)
    def header(flags, rt, hs):
        return struct.pack("<BBBB4xQQ", minor - 8 if minor >= 8 else 0x80 | minor, flags,
                           (version >> 8) & 0xff,
                           version & 0xff, (rt - FUZZ_WALKER_BASE) % (1 << 64),
                           (hs - FUZZ_WALKER_BASE) % (1 << 64) if hs else 0)

    seeds["seg"] = (header(2, runtime, secret) + table +
                    b"".join(seg for _, seg in joined))
    if not flat:
        return seeds
    image, new_addr = relocate(ranges)
    rt = new_addr(runtime)
    if rt is not None:
        seeds["flat"] = header(0, rt, new_addr(secret) if secret else 0) + image
    return seeds


def elf_notes(seg):
    """[(name, type, desc)] of a PT_NOTE segment."""
    notes, off = [], 0
    while off + 12 <= len(seg):
        namesz, descsz, ntype = struct.unpack_from("<III", seg, off)
        name = seg[off + 12:off + 12 + namesz]
        doff = off + 12 + ((namesz + 3) & ~3)
        notes.append((name, ntype, seg[doff:doff + descsz]))
        off = doff + ((descsz + 3) & ~3)
    return notes


def note(name, ntype, desc):
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def synthetic_exe(symbols, version=None, pyruntime_section=None):
    """A minimal ET_DYN x86-64 ELF: one PT_LOAD of the whole file at 0, SYMBOLS {name: value}
    (SHN_ABS) in .symtab, VERSION (u32) at EXE_VERSION_OFF, and a .PyRuntime section at
    PYRUNTIME_SECTION when given."""
    body = bytearray(EXE_VERSION_OFF + 8)
    if version is not None:
        struct.pack_into("<I", body, EXE_VERSION_OFF, version)
    strtab = b"\0"
    syms = struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0)
    for name, value in symbols.items():
        syms += struct.pack("<IBBHQQ", len(strtab), 0x11, 0, 0xfff1, value % (1 << 64), 8)
        strtab += name.encode() + b"\0"
    names = [b"", b".symtab", b".strtab", b".shstrtab"] + (
        [b".PyRuntime"] if pyruntime_section is not None else [])
    shstrtab, name_off = b"", []
    for n in names:
        name_off.append(len(shstrtab))
        shstrtab += n + b"\0"
    symtab_off = len(body)
    body += syms
    strtab_off = len(body)
    body += strtab
    shstrtab_off = len(body)
    body += shstrtab
    body += b"\0" * (-len(body) % 8)
    shoff = len(body)
    sh = lambda i, typ, flags, addr, off, size, link, info, align, ent: struct.pack(
        "<IIQQQQIIQQ", name_off[i], typ, flags, addr, off, size, link, info, align, ent)
    shdrs = (sh(0, 0, 0, 0, 0, 0, 0, 0, 0, 0) +
             sh(1, 2, 0, 0, symtab_off, len(syms), 2, 1, 8, 24) +      # SHT_SYMTAB
             sh(2, 3, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0) +     # SHT_STRTAB
             sh(3, 3, 0, 0, shstrtab_off, len(shstrtab), 0, 0, 1, 0))
    if pyruntime_section is not None:                                  # SHT_NOBITS, WA
        shdrs += sh(4, 8, 3, pyruntime_section, shoff, 0x1000, 0, 0, 64, 0)
    body += shdrs
    size = len(body)
    ehdr = (b"\x7fELF\x02\x01\x01" + b"\0" * 9 +
            struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0x200, 64, shoff, 0, 64, 56, 1, 64,
                        len(names), 3))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, size, size, PAGE)
    body[0:len(ehdr) + len(phdr)] = ehdr + phdr
    return bytes(body)


def core_seed(raw, ver, exe_map_path):
    """fuzz_core's input (u32 exe length, executable, core) of an uncompressed snapshot: see
    the module's doc string."""
    ranges, runtime, version, secret = parse_core(raw)
    phoff, = struct.unpack_from("<Q", raw, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", raw, 0x36)
    notes = []
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", raw, phoff + i * phentsize)
        if p_type == 4:
            notes += [n for n in elf_notes(raw[p_offset:p_offset + p_filesz])
                      if n[0] == b"CORE\0"]
    minor = (version >> 16) & 0xff
    # The executable's first page: below every captured range, clear of them.
    base = (min(a for a, _ in ranges) & ~(PAGE - 1)) - 0x10 * PAGE
    symbols = {"_Py_HashSecret": secret - base} if secret else {}
    section = None
    if minor >= 13:
        section = runtime - base
    else:
        symbols["_PyRuntime"] = runtime - base
    if minor >= 11:
        symbols["Py_Version"] = EXE_VERSION_OFF
    exe = synthetic_exe(symbols, version if minor >= 11 else None, section)
    maps = [(base, base + PAGE, 0, exe_map_path),
            (base + PAGE, base + 3 * PAGE, 1, exe_map_path),       # past the file's end
            (base + 4 * PAGE, base + 5 * PAGE, 0, "/usr/lib/libpython3.%d.so.1.0" % minor),
            (base + 6 * PAGE, base + 8 * PAGE, 0, "/lib/x86_64-linux-gnu/libc.so.6")]
    nt_file = struct.pack("<QQ", len(maps), PAGE) + b"".join(
        struct.pack("<QQQ", s, e, o) for s, e, o, _ in maps) + b"".join(
        p.encode() + b"\0" for _, _, _, p in maps)
    auxv = struct.pack("<16Q", 3, base + 64, 4, 56, 5, 1, 6, PAGE, 7, 0, 9, base + 0x200,
                       0, 0, 0, 0)
    notes_blob = b"".join(note(n, t, d) for n, t, d in notes)
    notes_blob += note(b"CORE\0", 0x46494c45, nt_file) + note(b"CORE\0", 6, auxv)
    loads = sorted(ranges)
    off = 64 + 56 * (1 + len(loads))
    phdrs = struct.pack("<IIQQQQQQ", 4, 0, off, 0, 0, len(notes_blob), 0, 4)
    data = notes_blob
    for addr, seg in loads:
        data += b"\0" * (-(off + len(data)) % 8)
        phdrs += struct.pack("<IIQQQQQQ", 1, 6, off + len(data), addr, 0, len(seg), len(seg), 1)
        data += seg
    ehdr = (b"\x7fELF\x02\x01\x01" + b"\0" * 9 +
            struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, 1 + len(loads), 64,
                        0, 0))
    core = ehdr + phdrs + data
    return struct.pack("<I", len(exe)) + exe + core


def write_core_seeds(out, raws):
    """corpus/core/<ver> of the CORE_SEEDS among RAWS {ver: raw snapshot bytes}."""
    total = 0
    os.makedirs(os.path.join(out, "core"), exist_ok=True)
    for ver, path in sorted(CORE_SEEDS.items()):
        if ver not in raws:
            continue
        seed = core_seed(raws[ver], ver, path)
        with open(os.path.join(out, "core", ver), "wb") as f:
            f.write(seed)
        print("%-9s %-16s %6d bytes" % ("core", ver, len(seed)))
        total += len(seed)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--pysnap", default=os.path.join(REPO, "build", "programs", "pysnap"))
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--walker-only", action="store_true",
                    help="remake corpus/walker from the committed corpus/snapshot/*-raw")
    ap.add_argument("--core-only", action="store_true",
                    help="remake corpus/core from the committed corpus/snapshot/*-raw")
    ap.add_argument("python", nargs="*")
    args = ap.parse_args()
    for sub in ("snapshot", "walker", "core"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    total = 0
    if args.core_only:
        raws = {}
        for path in sorted(glob.glob(os.path.join(args.out, "snapshot", "*-raw"))):
            with open(path, "rb") as f:
                raws[os.path.basename(path)[:-len("-raw")]] = f.read()
        write_core_seeds(args.out, raws)
        return
    if args.walker_only:
        for path in sorted(glob.glob(os.path.join(args.out, "snapshot", "*-raw"))):
            with open(path, "rb") as f:
                raw = f.read()
            ver = os.path.basename(path)[:-len("-raw")]
            seeds = walker_seeds(raw, flat=ver in FLAT_SEEDS)
            for suffix, seed in sorted(seeds.items()):
                name = "%s-%s" % (ver, suffix)
                with open(os.path.join(args.out, "walker", name), "wb") as f:
                    f.write(seed)
                print("%-9s %-16s %6d bytes" % ("walker", name, len(seed)))
        return
    specs = []
    for a in args.python:
        specs += [x for x in a.split(";") if x.strip()] if "=" in a else [a]
    for python in specs or pythons():
        ver = interpreter(python)[0]
        snaps = capture(args.pysnap, python)
        if not snaps:
            print("skip %s (cannot capture)" % python)
            continue
        files = {("snapshot", ver + "-raw"): snaps[1]}
        if ver in CORE_SEEDS:
            files[("core", ver)] = core_seed(snaps[1], ver, CORE_SEEDS[ver])
        if ver in ZSTD_SEEDS:
            files[("snapshot", ver + "-zstd")] = snaps[0]
        for suffix, seed in walker_seeds(snaps[1], flat=ver in FLAT_SEEDS).items():
            files[("walker", "%s-%s" % (ver, suffix))] = seed
        for (sub, name), data in sorted(files.items()):
            with open(os.path.join(args.out, sub, name), "wb") as f:
                f.write(data)
            total += len(data)
            print("%-9s %-16s %6d bytes" % (sub, name, len(data)))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()

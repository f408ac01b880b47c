"""Make pysnap's wheel from the static binary, with the standard library only (no PyPI tool).

    python3 scripts/make-wheel.py BINARY VERSION OUTDIR

Writes OUTDIR/pysnap-VERSION-py3-none-PLATFORM.whl whose only installed file is BINARY as the
script `pysnap` (pysnap-VERSION.data/scripts/pysnap, as py-spy's and ruff's wheels carry their
binaries): pip puts it in the environment's bin/ and makes it executable. Prints the path.

Platform tags (doc/install.md says why): the binary is fully static, so it needs no libc from
the system at all, only an x86-64 Linux kernel >= 3.4 (PTRACE_SEIZE; glibc's own static start-up
asks 3.2). manylinux2014 (= manylinux_2_17) is the oldest manylinux whose reference system
(CentOS 7, kernel 3.10) has such a kernel; both spellings, so that pip 19.3 (manylinux2014
only) and pip >= 20.3 (PEP 600's manylinux_2_17) accept it. musllinux_1_1 lets pip >= 21.2
install it on musl systems (Alpine), where it runs just as well.

Every zip entry's external_attr carries the file type and mode (S_IFREG | 0644 or 0755): pip
20.3 (Debian bullseye) sets the executable bit only when the entry says it is a regular file
with an x bit. Entries are dated from SOURCE_DATE_EPOCH (default: 1980-01-01) so the same binary
makes the same wheel.
"""
import base64
import hashlib
import os
import stat
import sys
import time
import zipfile

TAGS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "musllinux_1_1_x86_64")
SUMMARY = ("Capture a running CPython process's state with a ~1 ms freeze into a file, "
           "analyze it offline anywhere")
DESCRIPTION = """\
pysnap freezes a running Python process for about a millisecond, copies what it needs (every
thread's Python and native stack, locals, the GIL and GC state, asyncio tasks) into a .snap
file, and lets it run on; `pysnap analyze` reads the file later, on any machine.

This wheel holds one statically linked x86-64 Linux executable (libelf, libdw, capstone, zstd
and libc linked in) installed as the `pysnap` command: it needs no compiler, no library and no
particular Python. `pysnap --help` lists the commands; `man pysnap` comes with the source build.
"""


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make-wheel.py BINARY VERSION OUTDIR")
    binary, version, outdir = sys.argv[1:]
    with open(binary, "rb") as f:
        exe = f.read()
    if exe[:4] != b"\x7fELF":
        sys.exit("make-wheel: %s is not an ELF executable" % binary)
    name = "pysnap-%s" % version
    platform = ".".join(TAGS)
    wheel_name = "%s-py3-none-%s.whl" % (name, platform)
    metadata = "".join([
        "Metadata-Version: 2.1\n",
        "Name: pysnap\n",
        "Version: %s\n" % version,
        "Summary: %s\n" % SUMMARY,
        "License: MIT\n",
        "Platform: Linux x86-64\n",
        "Classifier: Operating System :: POSIX :: Linux\n",
        "Classifier: Programming Language :: C\n",
        "Classifier: Topic :: Software Development :: Debuggers\n",
        "Description-Content-Type: text/markdown\n",
        "\n",
        DESCRIPTION,
    ]).encode()
    wheel = "".join(["Wheel-Version: 1.0\n",
                     "Generator: pysnap scripts/make-wheel.py\n",
                     "Root-Is-Purelib: false\n"]
                    + ["Tag: py3-none-%s\n" % t for t in TAGS]).encode()
    info = name + ".dist-info"
    # (path in the wheel, content, mode): the script first, the .dist-info last (as wheel does)
    files = [("%s.data/scripts/pysnap" % name, exe, 0o755),
             (info + "/METADATA", metadata, 0o644),
             (info + "/WHEEL", wheel, 0o644)]
    record = "".join("%s,%s,%d\n" % (p, digest(d), len(d)) for p, d, _ in files)
    record += info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode(), 0o644))

    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)
    date = time.gmtime(epoch)[:6]
    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, wheel_name)
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path, data, mode in files:
            zi = zipfile.ZipInfo(path, date_time=date)
            zi.create_system = 3  # Unix: external_attr's high 16 bits are st_mode
            zi.external_attr = (stat.S_IFREG | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    os.replace(tmp, out)
    print(out)


if __name__ == "__main__":
    main()

"""End to end: a CPython version pysnap has no layout for. Real snapshots (captured here with
--no-compress from the threads target) are rewritten to claim a version pysnap does not know,
and analyze must refuse them with "unsupported CPython X.Y (supported: ...)" and exit 1:

- a 3.12.1 snapshot (no _Py_DebugOffsets) whose PS_NT_META py_version_hex says 3.99;
- a 3.13.0 snapshot whose py_version_hex and _Py_DebugOffsets version word (at _PyRuntime,
  in the captured memory) both say 3.16: the debug offsets are there and agree with the
  version, but their layout is unknown, so they do not validate (the message says so too).

A known version whose objects do not have the expected layout (a 3.12.1 snapshot whose
sys.modules type name reads "dicx", as a Py_TRACE_REFS build would look through the release
table) is refused too (exit 1), not walked into garbage.

Not shown: a version with valid debug offsets but no table proceeding (over the nearest older
table). Every version whose _Py_DebugOffsets layout pysnap knows (3.13-3.15) also has a table,
so no real snapshot can reach that path.

The unmodified snapshot analyzes (exit 0), so the refusal comes from the version alone. The
supported list is the release tables of analyze/python/pyoffsets_table.c, in order.
"""

import json
import re
import struct

import pytest

from e2e_util import (PYENV_ROOT, REPO, THREADS_TARGET, Interpreter, describe, run_pysnap,
                      wait_for_tids)

PS_NT_META = 0x5001
META_VERSION_HEX = 40  # FORMAT.md: PS_NT_META py_version_hex
META_RUNTIME = 32      # runtime_addr


def supported_list():
    text = (REPO / "analyze" / "python" / "pyoffsets_table.c").read_text()
    out = []
    for entry in text.split("    { /* ")[1:]:
        m = re.search(r"\.major = (\d+), \.minor = (\d+),", entry)
        if m and ".debug_build = 0," in entry:
            out.append("%s.%s%s" % (m.groups() + ("t" if ".free_threaded = 1," in entry else "",)))
    return ", ".join(out)


def elf_notes(image):
    """(type, desc_offset, desc_size) of each PYSNAP note, and the PT_LOAD list."""
    phoff, = struct.unpack_from("<Q", image, 32)
    phentsize, phnum = struct.unpack_from("<HH", image, 54)
    notes, loads = [], []
    for i in range(phnum):
        p_type, _, off, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", image, phoff + i * phentsize)
        if p_type == 1:
            loads.append((vaddr, off, filesz))
        elif p_type == 4:
            pos, end = off, off + filesz
            while pos + 12 <= end:
                namesz, descsz, ntype = struct.unpack_from("<III", image, pos)
                name = bytes(image[pos + 12:pos + 12 + namesz]).rstrip(b"\0")
                desc = pos + 12 + ((namesz + 3) & ~3)
                if name == b"PYSNAP":
                    notes.append((ntype, desc, descsz))
                pos = desc + ((descsz + 3) & ~3)
    return notes, loads


def file_offset(loads, addr, size):
    for vaddr, off, filesz in loads:
        if vaddr <= addr and addr + size <= vaddr + filesz:
            return off + addr - vaddr
    raise AssertionError("address %#x not captured" % addr)


def capture_plain(pysnap_bin, run_target, version, path):
    python = Interpreter("pyenv-" + version, ["%s/versions/%s/bin/python" % (PYENV_ROOT, version)],
                         kind="pyenv")
    if python.missing():
        pytest.skip("interpreter not found: %s" % python.missing())
    proc, truth = run_target(python, THREADS_TARGET)
    wait_for_tids(proc.pid, set(truth["tids"]))
    cap = run_pysnap(pysnap_bin, "capture", "--pid", proc.pid, "--no-compress", "-o", path)
    assert cap.returncode == 0, describe(cap)
    ok = run_pysnap(pysnap_bin, "analyze", path, "--json")
    assert ok.returncode == 0, describe(ok)
    assert json.loads(ok.stdout.decode())["target"]["python"]["version"] == version
    return bytearray(path.read_bytes())


def assert_unsupported(pysnap_bin, image, path, major_minor):
    path.write_bytes(bytes(image))
    for args in ((), ("--json",)):
        res = run_pysnap(pysnap_bin, "analyze", path, *args)
        assert res.returncode == 1, describe(res)
        err = res.stderr.decode("utf-8", "replace")
        want = "unsupported CPython %s (supported: %s)" % (major_minor, supported_list())
        assert err.startswith("pysnap: ") and want in err and err.count("\n") == 1, \
            "want one line with %r, got %r" % (want, err)
        assert res.stdout == b"", res.stdout
    return err


def test_unknown_version_without_debug_offsets(pysnap_bin, run_target, tmp_path):
    image = capture_plain(pysnap_bin, run_target, "3.12.1", tmp_path / "ok.core")
    notes, _ = elf_notes(image)
    meta = [d for t, d, n in notes if t == PS_NT_META]
    assert len(meta) == 1
    hexv, = struct.unpack_from("<I", image, meta[0] + META_VERSION_HEX)
    assert hexv >> 16 == 0x030C, "%#x" % hexv
    struct.pack_into("<I", image, meta[0] + META_VERSION_HEX, (0x0363 << 16) | (hexv & 0xFFFF))
    assert_unsupported(pysnap_bin, image, tmp_path / "v399.core", "3.99")


def test_unknown_version_with_unknown_debug_offsets(pysnap_bin, run_target, tmp_path):
    image = capture_plain(pysnap_bin, run_target, "3.13.0", tmp_path / "ok.core")
    notes, loads = elf_notes(image)
    meta = [d for t, d, n in notes if t == PS_NT_META][0]
    hexv, = struct.unpack_from("<I", image, meta + META_VERSION_HEX)
    runtime, = struct.unpack_from("<Q", image, meta + META_RUNTIME)
    at = file_offset(loads, runtime, 16)
    assert bytes(image[at:at + 8]) == b"xdebugpy"
    dver, = struct.unpack_from("<Q", image, at + 8)
    assert dver >> 16 == hexv >> 16 == 0x030D, "%#x %#x" % (dver, hexv)
    struct.pack_into("<I", image, meta + META_VERSION_HEX, (0x0310 << 16) | (hexv & 0xFFFF))
    struct.pack_into("<Q", image, at + 8, (0x0310 << 16) | (dver & 0xFFFF))
    err = assert_unsupported(pysnap_bin, image, tmp_path / "v316.core", "3.16")
    assert "_Py_DebugOffsets do not validate: unknown _Py_DebugOffsets layout for 3.16" in err, err


def table_entry(major_minor):
    """The release entry of analyze/python/pyoffsets_table.c for MAJOR.MINOR, as text."""
    text = (REPO / "analyze" / "python" / "pyoffsets_table.c").read_text()
    major, minor = major_minor.split(".")
    for entry in text.split("    { /* ")[1:]:
        if (".major = %s, .minor = %s," % (major, minor)) in entry and ".debug_build = 0," in entry:
            return entry
    raise AssertionError("no table for " + major_minor)


def field(entry, group, name):
    m = re.search(r"\.%s = \{[^}]*?\.%s = (\d+)" % (group, name), entry)
    assert m, "%s.%s" % (group, name)
    return int(m.group(1))


def test_known_version_with_foreign_object_layout(pysnap_bin, run_target, tmp_path):
    image = capture_plain(pysnap_bin, run_target, "3.12.1", tmp_path / "ok.core")
    notes, loads = elf_notes(image)
    meta = [d for t, d, n in notes if t == PS_NT_META][0]
    runtime, = struct.unpack_from("<Q", image, meta + META_RUNTIME)
    entry = table_entry("3.12")

    def u64(addr):
        return struct.unpack_from("<Q", image, file_offset(loads, addr, 8))[0]

    interp = u64(runtime + field(entry, "runtime", "interpreters_head"))
    modules = u64(interp + field(entry, "interp", "modules"))
    dict_type = u64(modules + field(entry, "object", "ob_type"))
    name_at = file_offset(loads, u64(dict_type + field(entry, "object", "tp_name")), 5)
    assert bytes(image[name_at:name_at + 5]) == b"dict\0"
    image[name_at + 3] = ord("x")
    path = tmp_path / "dicx.core"
    path.write_bytes(bytes(image))
    res = run_pysnap(pysnap_bin, "analyze", path, "--json")
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 1 and res.stdout == b"", describe(res)
    assert err.startswith("pysnap: CPython 3.12: the target's objects do not have the layout") and \
        err.count("\n") == 1, err

"""Measure the layouts of the stdlib objects pysnap renders (analyze/python/repr_offsets.c) on
the running CPython (x86-64) and print them as one row of that table.

These structs (PyDecObject + mpd_t, dequeobject, partialobject, lockobject, PatternObject,
PyMemoryViewObject, the exception and traceback objects, the thread state's exc_info, ...)
live in no installed header, or in private ones, so instead of typing numbers off the struct
definitions this finds known values inside live objects with ctypes: the address of a known
object, a known integer, the byte that changes when a lock is taken. Every hit must be unique.
Offsets are absolute in the build it runs on: it first finds where that build's header keeps
ob_type (8, or 24 in a free-threaded build) and prints it in the row, with free_threaded. What
changed in how repr() prints rather than in a layout (3.6's positional timedelta and
one-argument exceptions) is measured too. Runs on 3.6+ (GIL or free-threaded).

usage: PYTHON tools/gen-repr-offsets.py
"""

import collections
import ctypes
import datetime
import decimal
import functools
import re
import sys
import threading
import types

WORD = 8


def measure_ob_type():
    """Where this build's object header keeps ob_type: 8 in a release build, 24 in a
    free-threaded one (ob_tid, ob_mutex, ob_gc_bits, ob_ref_local, ob_ref_shared first). Every
    offset below is absolute, from the start of an object of this build."""
    x = 1.5
    n = sys.getsizeof(x)
    b = ctypes.string_at(id(x), n)
    hits = [i for i in range(0, n - WORD + 1, WORD) if int.from_bytes(b[i:i + WORD], "little") == id(float)]
    if len(hits) != 1:
        sys.exit("ob_type: expected one hit, found %r" % hits)
    return hits[0]


OB_TYPE = measure_ob_type()
HEAD = OB_TYPE + WORD  # the first field after PyObject_HEAD


def raw(obj, n=None):
    return ctypes.string_at(id(obj), n or sys.getsizeof(obj))


def words_at(addr, n):
    b = ctypes.string_at(addr, n * WORD)
    return [int.from_bytes(b[i:i + WORD], "little") for i in range(0, len(b), WORD)]


def one(hits, what):
    if len(hits) != 1:
        sys.exit("%s: expected one hit, found %r" % (what, hits))
    return hits[0]


def word_hits(addr, nbytes, value, start=0):
    ws = words_at(addr, nbytes // WORD)
    return [i * WORD for i, w in enumerate(ws) if w == value and i * WORD >= start]


def find_word(obj, value, what, n=None, start=HEAD):
    return one(word_hits(id(obj), n or sys.getsizeof(obj), value, start), what)


def find_bytes(obj, pattern, what, n=None):
    b = raw(obj, n)
    hits = [i for i in range(HEAD, len(b) - len(pattern) + 1) if b[i:i + len(pattern)] == pattern]
    return one(hits, what)


def measure():
    out = {"ob_type": OB_TYPE}
    if hasattr(sys, "getobjects"):
        sys.exit("a Py_TRACE_REFS build: pysnap shifts the release offsets by its head")
    # datetime: the packed bytes follow the hash and hastzinfo.
    d = datetime.date(2024, 5, 17)
    out["date_data"] = find_bytes(d, bytes([0x07, 0xE8, 5, 17]), "date data")
    t = datetime.time(13, 14, 15, 0x0A0B0C, tzinfo=datetime.timezone.utc, fold=1)
    out["time_data"] = find_bytes(t, bytes([13, 14, 15, 0x0A, 0x0B, 0x0C]), "time data")
    out["time_hastz"] = out["time_data"] - 1
    out["time_fold"] = out["time_data"] + 6
    out["time_tzinfo"] = find_word(t, id(datetime.timezone.utc), "time tzinfo")
    dt = datetime.datetime(2024, 5, 17, 13, 14, 15, 0x0A0B0C, tzinfo=datetime.timezone.utc, fold=1)
    out["datetime_data"] = find_bytes(dt, bytes([0x07, 0xE8, 5, 17, 13, 14, 15, 0x0A, 0x0B, 0x0C]),
                                      "datetime data")
    out["datetime_fold"] = out["datetime_data"] + 10
    out["datetime_tzinfo"] = find_word(dt, id(datetime.timezone.utc), "datetime tzinfo")
    assert raw(dt)[out["datetime_fold"]] == 1 and raw(t)[out["time_fold"]] == 1
    assert raw(dt)[out["datetime_data"] - 1] == 1, "hastzinfo precedes the data"
    td = datetime.timedelta(days=-123456, seconds=7654, microseconds=321)
    b = raw(td)
    i = one([i for i in range(HEAD, len(b) - 11, 4) if b[i:i + 12] ==
             (-123456).to_bytes(4, "little", signed=True) + (7654).to_bytes(4, "little") +
             (321).to_bytes(4, "little")], "timedelta fields")
    out["delta_days"] = i
    # before 3.7: datetime.timedelta(-1, 5, 7) (positional), since: keywords
    out["delta_positional"] = int(repr(datetime.timedelta(1)) == "datetime.timedelta(1)")
    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30), "IST")
    out["tz_offset"] = find_word(tz, id(tz.utcoffset(None)), "timezone offset")
    out["tz_name"] = find_word(tz, id(tz.tzname(None)), "timezone name")
    # zoneinfo (3.9+, the C _zoneinfo): the key follows the tzinfo head; needs tzdata
    try:
        import zoneinfo
        z = zoneinfo.ZoneInfo("UTC")
        assert type(z).__module__ == "zoneinfo"
        out["zoneinfo_key"] = find_word(z, id(z.key), "ZoneInfo key")
        out["size_zoneinfo"] = type(z).__basicsize__
    except ImportError:
        out["zoneinfo_key"] = -1
        out["size_zoneinfo"] = -1
    # _decimal: PyDecObject { HEAD; hash; mpd_t dec { uint8 flags; exp; digits; len; alloc;
    # data } }: the exponent, digit count and data pointer are found by value.
    x = decimal.Decimal("-12345678901234567890123.45")
    try:
        import _decimal
    except ImportError:
        _decimal = None
    if _decimal is None or decimal.Decimal is not _decimal.Decimal:
        sys.exit("decimal is not the C _decimal module")
    n = sys.getsizeof(x)
    ws = words_at(id(x), n // WORD)
    out["dec_exp"] = one([i * 8 for i, w in enumerate(ws) if w == (-2) & (2 ** 64 - 1)], "dec exp")
    out["dec_digits"] = out["dec_exp"] + 8
    assert ws[out["dec_digits"] // 8] == 25, "digits follow exp"
    out["dec_len"] = out["dec_exp"] + 16
    assert ws[out["dec_len"] // 8] == 2, "len follows digits"
    out["dec_data"] = out["dec_exp"] + 32
    data = ws[out["dec_data"] // 8]
    assert words_at(data, 2) == [1234567890123456789012345 % 10 ** 19, 1234567890123456789012345 // 10 ** 19]
    out["dec_flags"] = out["dec_exp"] - 8  # uint8_t flags; MPD_NEG is bit 0
    assert raw(x)[out["dec_flags"]] & 1 and not raw(decimal.Decimal(1))[out["dec_flags"]] & 1
    # collections.deque: blocks of BLOCKLEN items between two links.
    dq = collections.deque(range(1000, 1003), maxlen=77)
    first = dq[0]
    out["deque_maxlen"] = find_word(dq, 77, "deque maxlen")
    n = out["deque_maxlen"]
    ws = words_at(id(dq), n // WORD)
    # a small deque has one block: leftblock == rightblock, two equal pointers side by side
    pair = one([i * 8 for i in range(HEAD // 8, len(ws) - 1) if ws[i] == ws[i + 1] and ws[i] > 4096],
               "deque leftblock, rightblock")
    out["deque_leftblock"], out["deque_rightblock"] = pair, pair + 8
    idx = words_at(ws[pair // 8], 80).index(id(first))
    out["deque_leftindex"] = one([i * 8 for i in range(len(ws)) if ws[i] == idx - 1 and i * 8 > out["deque_rightblock"]], "leftindex")
    out["deque_rightindex"] = out["deque_leftindex"] + 8
    assert ws[out["deque_rightindex"] // 8] == idx + 1
    big = collections.deque(range(1000, 1200))
    bws = words_at(id(big), n // WORD)
    b0, li = bws[out["deque_leftblock"] // 8], bws[out["deque_leftindex"] // 8]
    out["deque_block_data"] = 8  # after the leftlink
    out["deque_blocklen"] = 64
    bw = words_at(b0, 66)
    assert bw[1 + li] == id(big[0]) and words_at(bw[65], 2)[1] == id(big[64 - li]), "BLOCKLEN 64"
    # OrderedDict (C): its node list's head follows the dict; a node starts with its key.
    od = collections.OrderedDict([("k1", 1), ("k2", 2)])
    od.move_to_end("k1")
    out["odict_first"] = dict.__basicsize__
    assert words_at(words_at(id(od) + dict.__basicsize__, 1)[0], 1)[0] == id("k2"), "od_first"
    dd = collections.defaultdict(list)
    out["defdict_factory"] = find_word(dd, id(list), "default_factory")
    # functools.partial
    def f():
        pass
    p = functools.partial(f, 1, k=2)
    out["partial_fn"] = find_word(p, id(f), "partial fn")
    out["partial_args"] = find_word(p, id(p.args), "partial args")
    out["partial_kw"] = find_word(p, id(p.keywords), "partial kw")
    # re.Pattern
    pat = re.compile("a(b)c", re.I | re.M)
    out["pattern_pattern"] = find_word(pat, id(pat.pattern), "pattern source")
    b = raw(pat, 128)
    fl = int(pat.flags).to_bytes(4, "little")
    out["pattern_flags"] = one([i for i in range(HEAD, 120, 4) if b[i:i + 4] == fl], "pattern flags")
    # memoryview: flags has _Py_MEMORYVIEW_RELEASED (1) once released
    mv = memoryview(b"abc")
    before = raw(mv)
    mv.release()
    after = raw(mv)
    out["memory_flags"] = one([i for i in range(HEAD, len(before), 4) if
                               int.from_bytes(after[i:i + 4], "little") ==
                               int.from_bytes(before[i:i + 4], "little") | 1 and
                               before[i:i + 4] != after[i:i + 4]], "memoryview flags")
    # _thread.lock: the word whose bytes change when it is taken
    lk = threading.Lock()
    a = raw(lk, HEAD + 32)
    lk.acquire()
    b = raw(lk, HEAD + 32)
    lk.release()
    diff = [i for i in range(HEAD, HEAD + 32) if a[i] != b[i]]
    out["lock_locked"] = one(diff, "lock locked byte")
    out["lock_locked_bit"] = b[diff[0]] & ~a[diff[0]]
    rl = threading.RLock()
    fields = range(HEAD // 8, HEAD // 8 + 4)
    a = words_at(id(rl), fields[-1] + 1)
    rl.acquire()
    rl.acquire()
    b = words_at(id(rl), fields[-1] + 1)
    rl.release()
    rl.release()
    out["rlock_owner"] = one([i * 8 for i in fields if b[i] == threading.get_ident()], "rlock owner")
    # 3.14+ keep the recursion level (count - 1) in a _PyRecursiveMutex
    cnt = [i * 8 for i in fields if b[i] == 2] or \
        [i * 8 for i in fields if b[i] == 1 and a[i] == 0 and i * 8 > out["rlock_owner"]]
    out["rlock_count"] = one(cnt, "rlock count")
    out["rlock_count_bias"] = 2 - b[out["rlock_count"] // 8]
    # bound method, slice, SimpleNamespace, module
    class C(object):
        def m(self):
            pass
    c = C()
    m = c.m
    out["method_func"] = find_word(m, id(C.m), "im_func")
    out["method_self"] = find_word(m, id(c), "im_self")
    # builtin_function_or_method: its PyMethodDef (whose first word is the name) and m_self
    import builtins
    out["cfunc_self"] = find_word(len, id(builtins), "m_self")
    lst = []
    assert find_word(lst.append, id(lst), "m_self of a method") == out["cfunc_self"]
    out["cfunc_ml"] = one([i for i in range(HEAD, out["cfunc_self"], 8)
                           if ctypes.string_at(words_at(words_at(id(len) + i, 1)[0], 1)[0], 4) == b"len\0"],
                          "m_ml")
    s = slice(1000, 2000, 3000)
    out["slice_start"] = find_word(s, id(s.start), "slice start")
    ns = types.SimpleNamespace(a=1)
    out["namespace_dict"] = find_word(ns, id(ns.__dict__), "namespace dict")
    out["module_dict"] = find_word(sys, id(sys.__dict__), "module dict")
    # exceptions and tracebacks
    e = ValueError("x", 1)
    out["exc_args"] = find_word(e, id(e.args), "exception args")
    # before 3.7 one argument showed as a tuple's: ValueError('x',)
    out["exc_one_comma"] = int(repr(ValueError("x")) == "ValueError('x',)")
    try:
        raise KeyError("k")
    except KeyError as err:
        e = err
    tb = e.__traceback__
    out["exc_traceback"] = find_word(e, id(tb), "exception traceback")
    out["tb_frame"] = find_word(tb, id(tb.tb_frame), "tb_frame")
    b = raw(tb)
    out["tb_lasti"] = one([i for i in range(HEAD, len(b) - 3, 4) if
                           int.from_bytes(b[i:i + 4], "little", signed=True) == tb.tb_lasti and
                           int.from_bytes(b[i + 4:i + 8], "little", signed=True) in (tb.tb_lineno, -1)],
                          "tb_lasti")
    out["tb_lineno"] = out["tb_lasti"] + 4
    def raiser():
        raise KeyError("k")
    try:
        raiser()
    except KeyError as err:
        tb = err.__traceback__
    out["tb_next"] = find_word(tb, id(tb.tb_next), "tb_next")
    # the frame object's code: 3.11+ through f_frame (the _PyInterpreterFrame, right after
    # f_back), whose first words hold the code object (3.14+ as a tagged stack ref)
    fr = sys._getframe()
    if sys.version_info >= (3, 11):
        iframe = words_at(id(fr) + HEAD + 8, 1)[0]  # after f_back
        assert any(w & ~7 == id(fr.f_code) for w in words_at(iframe, 8)), "f_frame"
        out["frameobj_iframe"] = HEAD + 8
    else:
        out["frameobj_iframe"] = -1
    # thread state: exc_info -> _PyErr_StackItem { [type,] value, [traceback,] previous }
    # (3.7+); 3.6 keeps exc_type, exc_value, exc_traceback in the thread state itself
    get = ctypes.pythonapi.PyThreadState_Get
    get.restype = ctypes.c_void_p
    try:
        raise ValueError("handled")
    except ValueError as err:
        ts = get()
        vpos = one(word_hits(ts, 2048, id(err), 0), "tstate exc_state value")
        typed = words_at(ts + vpos - 8, 1)[0] == id(ValueError)  # the type before the value
        item_value = 8 if typed else 0
        item = vpos - item_value
        ptr = word_hits(ts, 2048, ts + item, 0)
    out["excitem_value"] = item_value
    if ptr:
        out["tstate_exc_info"] = one(ptr, "tstate exc_info")
        out["tstate_exc_state"] = -1
        out["excitem_previous"] = item_value + (16 if typed else 8)
    else:
        out["tstate_exc_info"] = -1
        out["tstate_exc_state"] = item
        out["excitem_previous"] = -1
    # types: tp_mro (after tp_bases); a member descriptor's PyMemberDef and its offset
    out["tp_mro"] = find_word(C, id(C.__mro__), "tp_mro", n=512, start=0)
    class S(object):
        __slots__ = ("a", "b")
    md = S.__dict__["b"]
    # PyDescr_COMMON (head, d_type, d_name, d_qualname), then the PyMemberDef pointer
    out["memberdescr_def"] = HEAD + 24
    mdef = words_at(id(md) + out["memberdescr_def"], 1)[0]
    assert ctypes.string_at(words_at(mdef, 1)[0], 2) == b"b\0", "PyMemberDef name"
    s = S()
    s.b = s
    out["memberdef_offset"] = 16  # name, int type, then Py_ssize_t offset
    assert words_at(id(s) + words_at(mdef + 16, 1)[0], 1)[0] == id(s), "PyMemberDef offset"
    # functions: __module__, __code__, __dict__ (dataclass and namedtuple detection)
    def g():
        pass
    g.attr = 1
    out["func_code"] = find_word(g, id(g.__code__), "func_code")
    out["func_module"] = find_word(g, id(g.__module__), "func_module")
    out["func_dict"] = find_word(g, id(g.__dict__), "func_dict")
    # basic sizes: checked against the target's type objects (layout check)
    out["sizes"] = dict(
        date=datetime.date.__basicsize__, time=datetime.time.__basicsize__,
        datetime=datetime.datetime.__basicsize__, timedelta=datetime.timedelta.__basicsize__,
        timezone=datetime.timezone.__basicsize__, decimal=decimal.Decimal.__basicsize__,
        deque=collections.deque.__basicsize__, odict=collections.OrderedDict.__basicsize__,
        defdict=collections.defaultdict.__basicsize__, partial=functools.partial.__basicsize__,
        pattern=type(pat).__basicsize__, memory=memoryview.__basicsize__,
        lock=type(lk).__basicsize__, rlock=type(rl).__basicsize__)
    return out


def main():
    out = measure()
    v = sys.version_info
    sizes = out.pop("sizes")
    sizes["zoneinfo"] = out.pop("size_zoneinfo")
    import sysconfig
    free_threaded = int(bool(sysconfig.get_config_var("Py_GIL_DISABLED")))
    print("    /* %d.%d.%d%s */" % (tuple(v[:3]) + ("t" if free_threaded else "",)))
    fields = ["{.major = %d, .minor = %d, .free_threaded = %d" % (v[0], v[1], free_threaded)]
    fields += [".%s = %d" % (k, out[k]) for k in sorted(out)]
    fields += [".size_%s = %d" % (k, sizes[k]) for k in sorted(sizes)]
    line, lines = "    ", []
    for f in fields:
        if len(line) + len(f) + 2 > 100:
            lines.append(line.rstrip())
            line = "     "
        line += f + ", "
    lines.append(line.rstrip().rstrip(",") + "},")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""e2e target for pysnap's locals: two threads parked in a frame holding one local of each kind.

usage: locals_target.py FIFO [--lifetime SECONDS]

A worker thread and the main thread each call hold_locals(), a closure (so it has a free
variable, and an argument that is a cell) that binds one local of every kind pysnap renders,
plus three locals whose names look like credentials, a dict with a "password" key and an
instance with a "secret" attribute, then goes through a generator's frame (gen_frame) to
more_locals(), which binds more values (edge cases; a frame has room for 64 locals by
default) and parks in time.sleep(). Before going on, each frame takes its own truth: for
every local, type(value).__name__ and repr(value), computed here by the interpreter itself.
A short-lived reporter thread waits until both are parked, writes the truth as JSON to
FIFO + ".json" (atomically), "ready\\n" to FIFO, and exits. On failure it writes
"error: <why>\\n" instead and the process exits 3. The process exits by itself after
--lifetime seconds (default 120).

The credential values are built at run time from a random token (so they are in no code
object's constants) and are in no object the walker reads except through those names; the
truth lists them under "markers" so that a test can grep a snapshot for them.

Truth JSON:
  {"pid": N, "python": {"version": ..., "version_info": [...]}, "main_tid": N,
   "markers": {"password": "...", "api_key": "...", "session_token": "...",
               "creds_password": "...", "widget_secret": "..."},
   "threads": [{"tid": N, "role": "main"|"worker", "function": "hold_locals",
                "file": co_filename, "line": N,
                "locals": {name: {"type": "...", "repr": "...", "kind": "arg|local|cell|free"}},
                "unbound": [name, ...],
                "attributes": {name: {"type": "...", "repr": "..."}},   # of `widget`
                "creds_redacted_repr": "...", "slots": [name, ...],
                "more": {"function": "more_locals", "file": ..., "line": N, "locals": {...},
                         "unbound": [], "slots": [...]},
                "gen": {the same for gen_frame}}]}
The top level of a thread describes hold_locals (the outermost of the three, parked at its
call of next(gen_frame())); "gen" describes the generator's frame, "more" more_locals, the
innermost frame.
"slots" are the frame's variables in slot order (co_varnames, co_cellvars, co_freevars).
"creds_redacted_repr" is repr(creds) with the password value replaced by '<redacted>', as
pysnap shows a dict entry whose key looks like a credential. Python 3.8+ syntax.
"""

import abc
import os
import sys
import threading
import time

sys.dont_write_bytecode = True

from target_util import fail_why, task_state, write_truth  # noqa: E402

PARK_TIMEOUT = 20.0
LIFETIME = [120.0]
TOKEN = os.urandom(6).hex()  # the credential markers' unique part
TRUTHS = {}                  # tid -> truth of that thread's parked frame
IDENTS = {}                  # tid -> threading ident of that thread
TRUTHS_LOCK = threading.Lock()


class Widget(object):
    """A plain user class: pysnap shows <__main__.Widget object at 0x...> and its attributes."""

    def __init__(self, name, count, secret):
        self.name = name
        self.count = count
        self.tags = ("a", "b")
        self.secret = secret


class Point(object):
    """A plain instance without secrets: its __dict__ is rendered as a local too."""

    def __init__(self, x, y):
        self.x = x
        self.y = y


# Subclasses that do not define __repr__: repr() is the built-in base's (set and frozenset
# subclasses name the class); a class whose metaclass is ABCMeta is shown as a class.
class MyInt(int):
    pass


class MyStr(str):
    pass


class MyList(list):
    pass


class MyDict(dict):
    pass


class MySet(set):
    pass


class MyFrozen(frozenset):
    pass


class MyTuple(tuple):
    pass


class MyFloat(float):
    pass


class Shape(abc.ABC):
    pass


def frame_truth(ns, kinds):
    """The truth of the caller's caller frame, from NS (its locals()) and KINDS."""
    out = {}
    for name, kind in kinds.items():
        if name in ns:
            v = ns[name]
            out[name] = {"type": type(v).__name__, "repr": repr(v), "kind": kind}
    f = sys._getframe(2)
    return {
        "function": f.f_code.co_name,
        "file": f.f_code.co_filename,
        "line": f.f_lineno + 1,  # the frame goes on on the line after record()
        "locals": out,
        "unbound": sorted(n for n in kinds if n not in ns),
        # the frame's slots in order: co_localsplusnames since 3.11, f_localsplus before
        # (an argument that is also a cell is one slot since 3.11: its first place counts)
        "slots": list(dict.fromkeys(f.f_code.co_varnames + f.f_code.co_cellvars +
                                    f.f_code.co_freevars)),
    }


def record(role, ns, kinds):
    """hold_locals' truth."""
    truth = frame_truth(ns, kinds)
    creds = dict(ns["creds"])
    creds["password"] = "<redacted>"
    truth.update({
        "tid": threading.get_native_id(),
        "role": role,
        "attributes": dict((k, {"type": type(v).__name__, "repr": repr(v)})
                           for k, v in vars(ns["widget"]).items()),
        "creds_redacted_repr": repr(creds),
    })
    with TRUTHS_LOCK:
        TRUTHS[truth["tid"]] = truth
        IDENTS[truth["tid"]] = threading.get_ident()  # Thread.native_id is 3.8+


def record_frame(key, ns, kinds):
    """The truth of another frame (KEY "gen" or "more"), once hold_locals' is recorded."""
    truth = frame_truth(ns, kinds)
    with TRUTHS_LOCK:
        TRUTHS[threading.get_native_id()][key] = truth


def gen_frame(tag):
    """A generator's frame between hold_locals and more_locals."""
    g_list = ["gen", tag]
    g_count = len(g_list)
    record_frame("gen", locals(), GEN_KINDS)
    yield more_locals(1, 2, 3, kw="k", extra=True)
    return g_count


def more_locals(pos, *rest, kw, **opts):
    ints = (-5, 2 ** 30, -(2 ** 30), 2 ** 60 - 1, 10 ** 9, 10 ** 18, -(10 ** 27))
    floats = (1e22, 123456789.123, 5e-324, -1.5e-10, 1e15, 0.0001, 2.5e-5)
    c_odd = (complex(-0.0, 1), complex(float("nan"), float("inf")), complex(0, -0.0))
    b_quotes = (b"'", b'"', b"'\"", b"")
    d_empty = {}
    d_nested = {"k": [1, {2}], "j": (frozenset({3}),)}
    set_str = {"x", "y", "z", "w"}
    d_deleted = {"a": 1, "b": 2, "c": 3, "d": 4}
    del d_deleted["b"]
    d_deleted["e"] = 5
    set_deleted = set(range(20))
    set_deleted -= {3, 5, 7}
    d_cyc = {"n": 1}
    d_cyc["self"] = d_cyc
    s_mixed = "\U0001f40d it's \"q\" \u65e5 \\ \x00"
    my_int = MyInt(-7)
    subs = (MyStr("s'q"), MyList([1]), MyDict(a=1), MySet({1}), MySet(), MyFrozen({2}),
            MyTuple((1,)), MyFloat(2.5))
    abc_cls = Shape
    s_4k = "\u00e9" * 2000 + "\u65e5" * 2000  # 10000 bytes of UTF-8: more than 2048
    squares = [q * q for q in range(4)]  # 3.12+ inlines it: q is a slot here, unbound now
    r_neg = range(10, -20, -3)
    ell = ...
    notimpl = NotImplemented
    cls = Widget
    cls_builtin = int
    lam = lambda: 0  # noqa: E731
    plain = Point(1, "two")
    pdict = plain.__dict__
    gone = "deleted before the park"
    del gone

    def uses_late():
        return late_cell

    record_frame("more", locals(), MORE_KINDS)
    time.sleep(LIFETIME[0])
    late_cell = "a cell, assigned after the park"
    return ints, floats, c_odd, b_quotes, d_empty, d_nested, set_str, r_neg, ell, notimpl, cls, \
        cls_builtin, lam, pdict, d_deleted, set_deleted, d_cyc, s_mixed, uses_late, my_int, subs, \
        abc_cls, s_4k, squares


def make_holder(outer):
    freev = outer * 2  # a cell here, a free variable of hold_locals

    def hold_locals(role, arg_int, arg_cell):
        none_v = None
        true_v = True
        false_v = False
        small_int = 42
        zero = 0
        neg_int = -7
        big_int = 2 ** 200
        big_neg = -(2 ** 100)
        f_half = 1.5
        f_tenth = 0.1
        f_huge = 1e300
        f_inf = float("inf")
        f_nan = float("nan")
        f_negzero = -0.0
        f_tiny = 1e-7
        f_int = 1e16
        c_mixed = complex(1.5, -2)
        c_imag = 3j
        s_ascii = "hello world"
        s_empty = ""
        s_latin1 = "h\u00e9llo"
        s_ucs2 = "\u65e5\u672c\u8a9e"
        s_ucs4 = "\U0001f40d"
        s_squote = "it's"
        s_dquote = 'a"b'
        s_both = "it's \"both\""
        s_apos = "it's a text with apostrophes' only"  # cut: the quote depends on the rest
        s_escapes = "\n\t\x00\\\r"
        s_ctrl = "\x7f\x85\xa0\xad \u2028\U000e0001"
        # format characters, unassigned and private-use code points, a lone surrogate, a
        # variation selector, and U+1CC00 (assigned in Unicode 16: printable from 3.14 on)
        s_unicode = "\u0890\u08e2\u0378\u200b\ue000\ud800\U00013430\U0001d173\U000e0100\U0001cc00\U0001f97a\u0560x"  # U+1F97A, U+0560: Unicode 11 (3.7)
        s_long = "".join("%d" % (i % 10) for i in range(2000))
        b_v = b"\x00\xff"
        b_text = b"it's \"x\"\n"
        ba_v = bytearray(b"ab\x00")
        ba_empty = bytearray()
        t_empty = ()
        t_one = (1,)
        t_mixed = (1, "two", 3.0, None)
        l_v = [1, [2, 3], "x"]
        d_v = {"a": 1, "b": [1, 2], 3: "c", (4, 5): None}
        set_v = {3, 1, 2}
        set_empty = set()
        fs_v = frozenset({1, frozenset({2})})
        fs_empty = frozenset()
        cyc = [1, 2]
        cyc.append(cyc)
        deep = [[[[["bottom"]]]]]
        many = list(range(40))
        r_v = range(0, 10, 2)
        r_one = range(5)
        widget = Widget("w", 3, "wsecret-" + TOKEN + "-\u0100")
        creds = {"user": "bob", "password": "credspw-" + TOKEN + "-\u00e9"}
        password = "pwmark-" + TOKEN
        api_key = "akmark-" + TOKEN + "-\u00e9"
        session_token = "stmark-" + TOKEN + "-\u65e5"
        cellv = ["cell", arg_int]

        def inner():
            return cellv, freev, arg_cell

        fn = inner
        record(role, locals(), KINDS)
        next(gen_frame(role))
        later = "assigned after the park"  # unbound while parked
        return later, fn, freev

    return hold_locals


# name -> kind, as co_varnames/co_cellvars/co_freevars (localsplus kinds) say.
KINDS = dict(
    [("role", "arg"), ("arg_int", "arg"), ("arg_cell", "arg"), ("freev", "free"), ("cellv", "cell"),
     ("later", "local")] +
    [(n, "local") for n in (
        "none_v true_v false_v small_int zero neg_int big_int big_neg f_half f_tenth f_huge "
        "f_inf f_nan f_negzero f_tiny f_int c_mixed c_imag s_ascii s_empty s_latin1 s_ucs2 "
        "s_ucs4 s_squote s_dquote s_both s_apos s_escapes s_ctrl s_unicode s_long b_v b_text ba_v ba_empty "
        "t_empty t_one t_mixed l_v d_v set_v set_empty fs_v fs_empty cyc deep many r_v r_one "
        "widget creds password api_key session_token fn").split()])
MORE_KINDS = dict((n, "local") for n in (
    "ints floats c_odd b_quotes d_empty d_nested set_str r_neg ell notimpl cls cls_builtin lam "
    "plain pdict gone d_deleted set_deleted d_cyc s_mixed uses_late my_int subs abc_cls s_4k squares").split())
GEN_KINDS = {"tag": "arg", "g_list": "local", "g_count": "local"}
MORE_KINDS.update(late_cell="cell", pos="arg", rest="arg", kw="arg", opts="arg")


def fail(fifo, why):
    fail_why(fifo, why, "locals_target")


def reporter(fifo, main_tid, deadline):
    try:
        while True:
            with TRUTHS_LOCK:
                tids = sorted(TRUTHS)
                idents = dict(IDENTS)
            frames = sys._current_frames()
            parked = [tid for tid in tids if task_state(tid) == "S" and tid in idents and
                      frames.get(idents[tid]) is not None and
                      frames[idents[tid]].f_code.co_name == "more_locals"]
            frames = None
            if len(parked) == 2:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("threads did not park in time: %s parked" % parked)
            time.sleep(0.02)
        with TRUTHS_LOCK:
            threads = [TRUTHS[tid] for tid in tids]
            if not all("more" in t and "gen" in t for t in threads):
                raise RuntimeError("a parked thread lacks the truth of a frame")
        truth = {
            "main_tid": main_tid,
            "markers": {
                "password": "pwmark-" + TOKEN,
                "api_key": "akmark-" + TOKEN + "-\u00e9",
                "session_token": "stmark-" + TOKEN + "-\u65e5",
                "creds_password": "credspw-" + TOKEN + "-\u00e9",
                "widget_secret": "wsecret-" + TOKEN + "-\u0100",
            },
            "threads": threads,
        }
        write_truth(fifo, truth)  # adds "pid" and "python"
    except BaseException as e:  # noqa: B902 - report anything, then die
        fail(fifo, "reporter: %s: %s" % (type(e).__name__, e))


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    fifo = os.path.abspath(argv[0])
    rest = list(argv[1:])
    while rest:
        opt = rest.pop(0)
        if opt == "--lifetime":
            LIFETIME[0] = float(rest.pop(0))
        else:
            sys.stderr.write("locals_target: unknown option %s\n" % opt)
            return 2
    deadline = time.monotonic() + PARK_TIMEOUT
    try:
        worker = threading.Thread(target=make_holder(10), args=("worker", 1, "w-cell"), name="locals-worker")
        worker.daemon = True
        worker.start()
        rep = threading.Thread(target=reporter, name="reporter",
                               args=(fifo, threading.get_native_id(), deadline))
        rep.daemon = True
        rep.start()
    except BaseException as e:  # noqa: B902
        fail(fifo, "main: %s: %s" % (type(e).__name__, e))
    make_holder(20)("main", 2, ("m", "cell"))
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

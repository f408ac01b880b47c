"""e2e target for pysnap's stdlib reprs: values a web app holds, in several frames, each with
the repr() the interpreter itself computes.

usage: reprs_target.py FIFO [--lifetime SECONDS]

The main thread parks three frames deep: request() holds datetime, Decimal, UUID, enum and
path values, then calls query() (collections, Fraction, exceptions, methods, partial, re,
memoryview, slice, SimpleNamespace, modules, locks, code, dataclasses), which calls hostile()
(subclasses that override __repr__, and values crafted to be hard: a Decimal with a huge
exponent, a namedtuple class whose _fields is bogus, a deque whose blocks form a cycle). A worker thread parks inside an
`except` block, in a function called from the handler, so that its thread state's handled
exception is a ValueError raised two frames down. Each frame records its truth, then the
innermost sleeps. The reporter writes the truth (FIFO + ".json") and "ready" on FIFO.

Truth JSON:
  {"pid": N, "python": {...},
   "frames": [{"function": ..., "file": ..., "line": N,
               "locals": {name: {"type": ..., "repr": ...}}}],   # innermost first
   "generic": {name: "<__main__.X object at 0x...>"},  # locals shown in the generic form
   "cut": [name, ...],              # hostile locals that must be shown cut (truncated)
   "redacted": {name: repr},        # locals whose credential fields pysnap redacts
   "markers": ["..."],              # their values: absent from the snapshot
   "values": {name: "..."},         # the structured "value" expected in JSON
   "main_tid": N,
   "handler": {"tid": N, "type": "ValueError", "repr": "ValueError('bad input 42')",
               "traceback": [{"function": ..., "line": N}, ...]}}   # outermost first
Python 3.6+ syntax. What a version lacks is left out: dataclasses (3.7+), ZoneInfo (3.9+, with
a tz database).
"""

import collections
import datetime
import decimal
import enum
import fractions
import functools
import gc
import json
import os
import pathlib
import re
import sys
import threading
import time
import types
import uuid

try:
    import dataclasses
except ImportError:  # 3.6
    dataclasses = None

try:
    import zoneinfo
    zoneinfo.ZoneInfo("Europe/Paris")
except Exception:  # noqa: B902 - before 3.9, or no tz database
    zoneinfo = None

sys.dont_write_bytecode = True

from target_util import fail_why, parse_args, publish_truth, task_state  # noqa: E402

LIFETIME = [120.0]
FRAMES = {}
HANDLER = {}
LOCK = threading.Lock()
GENERIC = {}  # local name -> the generic form it must be shown in
CUT = set()   # locals that must be shown cut (marked truncated)
MARKERS = []   # credential values that must not be in the snapshot
REDACTED = {}  # local name -> its repr with the credentials replaced by '<redacted>'


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 10


class Perm(enum.Flag):
    R = 4
    W = 2


Point = collections.namedtuple("Point", "x y")


if dataclasses is not None:
    @dataclasses.dataclass
    class Item:
        name: str
        price: decimal.Decimal
        tags: list = dataclasses.field(default_factory=list)
        secret: str = dataclasses.field(default="hidden", repr=False)

    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        ident: int


class Widget(object):
    def handle(self, x):
        return x


class LoudDeque(collections.deque):
    def __repr__(self):
        return "LoudDeque!"


class LoudDecimal(decimal.Decimal):
    def __repr__(self):
        return "LoudDecimal!"


class LoudPoint(Point):
    def __repr__(self):
        return "LoudPoint!"


class LoudError(ValueError):
    def __repr__(self):
        return "LoudError!"


class QuietDict(collections.OrderedDict):
    """A subclass without __repr__: OrderedDict's repr names it."""


class BadFields(tuple):
    """A namedtuple-like class whose _fields is no tuple of names: repr() would raise."""


def _bogus_namedtuple():
    cls = collections.namedtuple("Bogus", "a b")
    cls._fields = 12345  # repr() now raises TypeError: shown in the generic form
    return cls


Bogus = _bogus_namedtuple()


def ob_type_offset():
    """Where this build's object header keeps ob_type: 8, or 24 in a free-threaded build
    (ob_tid, ob_mutex, ob_gc_bits, ob_ref_local, ob_ref_shared come first)."""
    import ctypes
    x = 1.5
    words = [ctypes.c_size_t.from_address(id(x) + i).value for i in range(0, sys.getsizeof(x) - 7, 8)]
    hits = [i * 8 for i, w in enumerate(words) if w == id(float)]
    if len(hits) != 1:
        raise RuntimeError("ob_type of a float: %r" % hits)
    return hits[0]


def cyclic_deque():
    """A deque whose first block's link to the next points back to itself (made with ctypes):
    the items past its first two are out of reach. Returns it and its repr() from before.
    Layout (all of 3.6-3.15 and 3.13t, measured by tools/gen-repr-offsets.py): after the
    header's ob_type and ob_size, leftblock, rightblock, leftindex; a block's rightlink after
    its leftlink and 64 items. The header is 16 bytes longer in a free-threaded build: found
    here, not assumed (3.13t's first word is ob_tid, not the deque's leftblock)."""
    import ctypes
    dq = collections.deque(range(200))
    word = ctypes.c_ssize_t
    leftblock = ob_type_offset() + 16
    leftindex = leftblock + 16
    while word.from_address(id(dq) + leftindex).value < 62:
        dq.popleft()
    truth = repr(dq)
    block = word.from_address(id(dq) + leftblock).value
    index = word.from_address(id(dq) + leftindex).value
    if word.from_address(block + 8 + 8 * index).value != id(dq[0]):
        raise RuntimeError("deque layout: leftblock/leftindex not where expected")
    # the gc's traversal of a deque walks blocks until the right one: it must never see this
    # one again (gc.freeze: the permanent generation is not collected; 3.6 has no freeze: the
    # gc stays disabled for the target's short life)
    gc.disable()
    # the block's unused slots now come into reach (the gc's traversal, a stray repr()):
    # make them valid (an int the interpreter keeps alive forever), then close the cycle
    for i in range(index):
        word.from_address(block + 8 + 8 * i).value = id(0)
    word.from_address(block + 8 + 64 * 8).value = block
    if hasattr(gc, "freeze"):
        gc.freeze()
        gc.enable()
    return dq, truth


def generic(v):
    """object.__repr__'s form, which pysnap shows for what it does not render."""
    t = type(v)
    mod = "" if t.__module__ == "builtins" else t.__module__ + "."
    return "<%s%s object at %#x>" % (mod, t.__qualname__, id(v))


def frame_truth(ns, depth=1):
    """The truth of the frame DEPTH up, whose locals() is NS: it sleeps on the next line."""
    f = sys._getframe(depth)
    return {
        "function": f.f_code.co_name,
        "file": f.f_code.co_filename,
        "line": f.f_lineno + 1,
        "locals": dict((k, {"type": type(v).__name__, "repr": safe_repr(v)})
                       for k, v in ns.items()),
    }


def safe_repr(v):
    try:
        if isinstance(v, pathlib.PurePath):
            # repr() would cache the path's str in it: take a copy's, so that pysnap sees the
            # path as it was (raw_* below were never str()'d)
            return repr(type(v)(v))
        return repr(v)
    except Exception as e:  # noqa: B902 - the bogus namedtuple's repr raises
        return "<repr raised %s>" % type(e).__name__


def hostile_truth(ns):
    ns = dict(ns)
    del ns["dq_cycle"]  # its repr() now would show wrong items: the one from before
    truth = frame_truth(ns, 2)
    truth["locals"]["dq_cycle"] = {"type": "deque", "repr": ns["cycle_truth"]}
    for name in ("loud_deque", "loud_dec", "loud_point", "loud_error", "bogus"):
        GENERIC[name] = generic(ns[name])
    CUT.add("dq_cycle")
    return truth


def record(key, truth):
    with LOCK:
        FRAMES[key] = truth


def hostile():
    loud_deque = LoudDeque([1])
    loud_dec = LoudDecimal("1.5")
    loud_point = LoudPoint(1, 2)
    loud_error = LoudError("x")
    quiet = QuietDict(a=1)
    dec_huge = decimal.Decimal("1E+999999999")
    dec_tiny = decimal.Decimal("-7E-999999999")
    dec_long = decimal.Decimal("1." + "3" * 80)
    bogus = Bogus(1, 2)
    big_deque = collections.deque(range(100))
    dq_cycle, cycle_truth = cyclic_deque()
    record("hostile", hostile_truth(locals()))
    time.sleep(LIFETIME[0])
    return loud_deque, loud_dec, loud_point, loud_error, quiet, dec_huge, dec_tiny, dec_long, \
        bogus, big_deque, dq_cycle


def query(conn_lock):
    dq = collections.deque([1, "two", 3.0])
    dq_max = collections.deque(range(5), maxlen=3)
    dq_blocks = collections.deque(range(70))
    for _ in range(40):
        dq_blocks.rotate(1)
    dq_empty = collections.deque()
    od = collections.OrderedDict([("b", 1), ("a", [2])])
    od.move_to_end("b")
    od_empty = collections.OrderedDict()
    dd = collections.defaultdict(list, {"k": [1]})
    dd_none = collections.defaultdict(None)
    counter = collections.Counter("abracadabra")
    counter_empty = collections.Counter()
    frac = fractions.Fraction(-3, 9)
    exc_one = ValueError("bad input")
    exc_two = KeyError("k", 2)
    exc_none = RuntimeError()
    widget = Widget()
    bound = widget.handle
    builtin_fn = len
    builtin_meth = [].append
    part = functools.partial(int, "10", base=2)
    pat = re.compile(r"^(\d+)-'x'$")
    pat_flags = re.compile(b"ab+", re.I | re.M)
    mv = memoryview(b"abc")
    mv_released = memoryview(b"xyz")
    mv_released.release()
    sl = slice(1, None, -2)
    ns = types.SimpleNamespace(a=1, b="x")
    mod_builtin = sys
    mod_file = json
    mod_os = os
    lock_free = threading.Lock()
    lock_held = threading.Lock()
    lock_held.acquire()
    rlock = threading.RLock()
    rlock.acquire()
    rlock.acquire()
    code = hostile.__code__
    point = Point(1, y="b")
    # an attribute named like a credential (every version; dataclasses below are 3.7+)
    creds = types.SimpleNamespace(user="bob", password="ns-" + os.urandom(4).hex())
    MARKERS.append(creds.password)
    REDACTED["creds"] = "namespace(user='bob', password='<redacted>')"
    if dataclasses is not None:  # 3.7+
        item = Item("pen", decimal.Decimal("1.20"), ["a"])
        frozen = Frozen(7)
        # a field named like a credential: its value is never read (the default --redact)
        login = Login("bob", "pw-" + os.urandom(4).hex())
        MARKERS.append(login.password)
        REDACTED["login"] = "Login(user='bob', password='<redacted>')"
    record("query", frame_truth(locals()))
    return hostile(), conn_lock


def request(request_id):
    now = datetime.datetime(2024, 5, 17, 13, 14, 15, 123456)
    now_utc = datetime.datetime(2024, 5, 17, 13, 14, tzinfo=datetime.timezone.utc)
    ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30), "IST")
    now_ist = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=ist, fold=1)
    minus = datetime.timezone(-datetime.timedelta(hours=8))
    if zoneinfo is not None:  # 3.9+, with the system's tz database
        paris = zoneinfo.ZoneInfo("Europe/Paris")
        now_paris = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=paris)
    day = datetime.date(2024, 2, 29)
    at = datetime.time(9, 30)
    at_us = datetime.time(23, 59, 59, 999, tzinfo=minus)
    delta = datetime.timedelta(days=-1, seconds=5, microseconds=7)
    delta_zero = datetime.timedelta(0)
    price = decimal.Decimal("-1234.5600")
    small = decimal.Decimal("0.000001")
    sci = decimal.Decimal("1.5E+30")
    sci_neg = decimal.Decimal("1E-7")
    nan = decimal.Decimal("NaN")
    snan = decimal.Decimal("-sNaN12")
    inf = decimal.Decimal("-Infinity")
    zero = decimal.Decimal("0.00")
    big = decimal.Decimal(2 ** 100)
    ident = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    red = Color.RED
    green = Color.GREEN
    low = Level.LOW
    perm = Perm.R
    perm_both = Perm.R | Perm.W
    if sys.version_info < (3, 11):
        GENERIC["perm_both"] = generic(perm_both)  # no _name_ before 3.11
    path = pathlib.PurePosixPath("/srv/app", "static", "it's.css")
    str(path)  # PurePath caches its str; repr() reads it
    rel = pathlib.Path("rel/dir")
    str(rel)
    # never str()'d: rebuilt from the parts (3.8-3.11) or the raw paths joined (3.12+)
    raw = pathlib.PurePosixPath("/srv//x/", "./y", "z.txt")
    raw_rel = pathlib.PurePosixPath("a", "/b", "c")
    raw_dot = pathlib.PurePosixPath()
    conn_lock = threading.Lock()
    record("request", frame_truth(locals()))
    return query(conn_lock)


def failing(n):
    raise ValueError("bad input %d" % n)


def handler_inner():
    HANDLER["tid"] = threading.get_native_id()
    HANDLER["ready"] = True
    time.sleep(LIFETIME[0])


def worker():
    try:
        failing(42)
    except ValueError as e:
        tb = []
        t = e.__traceback__
        while t is not None:
            tb.append({"function": t.tb_frame.f_code.co_name, "line": t.tb_lineno})
            t = t.tb_next
        HANDLER.update({"type": type(e).__name__, "repr": repr(e), "traceback": tb})
        handler_inner()


def reporter(fifo, main_tid, deadline):
    try:
        while True:
            with LOCK:
                done = set(FRAMES) == {"request", "query", "hostile"} and HANDLER.get("ready")
            if done and task_state(main_tid) == "S" and task_state(HANDLER["tid"]) == "S":
                break
            if time.monotonic() > deadline:
                raise RuntimeError("threads did not park in time")
            time.sleep(0.02)
        import platform
        truth = {
            "pid": os.getpid(),
            "python": {"version": platform.python_version(), "version_info": list(sys.version_info)},
            "main_tid": main_tid,
            "frames": [FRAMES["hostile"], FRAMES["query"], FRAMES["request"]],
            "generic": GENERIC,
            "cut": sorted(CUT),
            "redacted": REDACTED,
            "markers": MARKERS,
            "values": expected_values(),
            "handler": dict((k, HANDLER[k]) for k in ("tid", "type", "repr", "traceback")),
        }
        publish_truth(fifo, truth)
    except BaseException as e:  # noqa: B902
        fail_why(fifo, "reporter: %s: %s" % (type(e).__name__, e), "reprs_target")


def expected_values():
    """The JSON "value" of some locals: isoformat() and str() as the interpreter prints them."""
    req = FRAMES["request"]["locals"]
    vals = {}
    for name, fn in (("now", lambda: datetime.datetime(2024, 5, 17, 13, 14, 15, 123456).isoformat()),
                     ("now_utc", lambda: datetime.datetime(2024, 5, 17, 13, 14,
                                                           tzinfo=datetime.timezone.utc).isoformat()),
                     ("day", lambda: datetime.date(2024, 2, 29).isoformat()),
                     ("price", lambda: str(decimal.Decimal("-1234.5600"))),
                     ("sci", lambda: str(decimal.Decimal("1.5E+30"))),
                     ("ident", lambda: str(uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")))):
        assert name in req
        vals[name] = fn()
    return vals


def main(argv):
    fifo, lifetime = parse_args(argv, __doc__)
    LIFETIME[0] = lifetime
    deadline = time.monotonic() + 20.0
    w = threading.Thread(target=worker, name="handler", daemon=True)
    w.start()
    rep = threading.Thread(target=reporter, name="reporter", daemon=True,
                           args=(fifo, threading.get_native_id(), deadline))
    rep.start()
    request(7)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The program behind the walker seeds corpus/walker/reprs-*-seg: one value of each stdlib type
pysnap renders (analyze/python/repr_stdlib.c) and the hostile variants (a Decimal with a huge
exponent, a deque whose blocks form a cycle, a namedtuple class with a bogus _fields), and a
thread inside an `except` block, so that fuzz_walker reaches every renderer and the handled
exception walk. Made by hand: run it, wait for "ready", then
    pysnap capture --pid PID --no-compress --max-stack 0 -o RAW
and write make_corpus.walker_seeds(open(RAW, "rb").read(), flat=False)["seg"].
3.6+ (no dataclass values on 3.6)."""
import collections, datetime, decimal, enum, fractions, functools, os, pathlib
import re, sys, threading, time, types, uuid
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e", "targets"))
from reprs_target import cyclic_deque  # noqa: E402  (the deque whose blocks form a cycle)
Color = enum.Enum("Color", "RED GREEN")
Bogus = collections.namedtuple("Bogus", "a b")
Bogus._fields = 12345
try:
    import dataclasses
    @dataclasses.dataclass
    class Item:
        name: str
        n: int = 0
except ImportError:  # 3.6
    Item = types.SimpleNamespace
def handler():
    try:
        raise ValueError("seed")
    except ValueError:
        time.sleep(1000)
def hold():
    tz = datetime.timezone(datetime.timedelta(hours=-3), "X")
    v00 = datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=tz)
    v01 = datetime.date(2024, 1, 2)
    v02 = datetime.time(1, 2, tzinfo=datetime.timezone.utc)
    v03 = datetime.timedelta(1, 2, 3)
    v04 = decimal.Decimal("-1.5E+999999999")
    v05 = decimal.Decimal("sNaN7")
    v06 = uuid.UUID(int=7)
    v07 = Color.RED
    v08 = Bogus(1, 2)
    v09 = collections.deque([1], maxlen=2)
    v10 = collections.OrderedDict(a=1)
    v11 = collections.defaultdict(list, b=[2])
    v12 = collections.Counter("aab")
    v13 = fractions.Fraction(1, 3)
    v14 = KeyError("k")
    v15 = functools.partial(max, 1, key=abs)
    v16 = re.compile("a+", re.I)
    v17 = memoryview(b"m")
    v18 = slice(1, 2)
    v19 = types.SimpleNamespace(x=1)
    v20 = sys
    v21 = re
    v22 = threading.Lock()
    v23 = threading.RLock()
    v24 = hold.__code__
    v25 = Item(name="i")
    v26 = pathlib.PurePosixPath("/p")
    v27 = Item(name="j").__repr__
    str(v26)
    dq_cycle, _ = cyclic_deque()
    print("ready", flush=True)
    time.sleep(1000)
    return locals()
threading.Thread(target=handler, daemon=True).start()
hold()

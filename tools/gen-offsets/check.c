/* tools/gen-offsets/check.c: look at the generated analyze/python/pyoffsets_table.c.
 *
 * Build ad hoc from the repository root (it includes the table source directly):
 *   gcc -Wall -I include tools/gen-offsets/check.c -o /tmp/pyoffsets-check
 *
 *   /tmp/pyoffsets-check            a few fields per version, then static sanity checks
 *                                   (exit 1 if one fails)
 *   /tmp/pyoffsets-check --all      every field of every table, one "X.Y name value" a line
 *   /tmp/pyoffsets-check --py X.Y   a Python program that checks table X.Y against a live
 *                                   interpreter of that version through ctypes reads:
 *       /tmp/pyoffsets-check --py 3.11 | /root/.pyenv/versions/3.11.7/bin/python -
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../analyze/python/pyoffsets_table.c"

/* Every field of struct ps_pyoffsets, in declaration order. */
#define PS_FIELDS(X)                                                                           \
    X(major) X(minor) X(frame_model) X(dict_model) X(linetable_model) X(debug_build)           \
    X(free_threaded)                                                                           \
    X(runtime.interpreters_head) X(runtime.gil) X(runtime.tstate_current) X(runtime.gc)       \
    X(interp.next) X(interp.id) X(interp.threads_head) X(interp.modules) X(interp.gil_ptr)    \
    X(interp.gc)                                                                               \
    X(gil.locked) X(gil.last_holder) X(gil.enabled)                                            \
    X(gc.collecting) X(gc.frame)                                                               \
    X(tstate.next) X(tstate.interp) X(tstate.thread_id) X(tstate.native_thread_id)            \
    X(tstate.frame) X(tstate.cframe_current) X(tstate.cframe) X(tstate.state)                  \
    X(iframe.previous) X(iframe.code) X(iframe.instr) X(iframe.owner) X(iframe.localsplus)    \
    X(iframe.stacktop) X(iframe.owner_generator) X(iframe.owner_cstack)                       \
    X(iframe.owner_interpreter) X(iframe.stackref_mask)                                        \
    X(frameobj.back) X(frameobj.code) X(frameobj.lasti) X(frameobj.lineno)                    \
    X(frameobj.localsplus)                                                                     \
    X(code.filename) X(code.name) X(code.qualname) X(code.linetable) X(code.firstlineno)      \
    X(code.code_adaptive) X(code.code) X(code.firsttraceable) X(code.argcount) X(code.flags)  \
    X(code.kwonlyargcount)                                                                     \
    X(code.nlocalsplus) X(code.localsplusnames) X(code.localspluskinds) X(code.nlocals)       \
    X(code.varnames) X(code.cellvars) X(code.freevars)                                         \
    X(object.ob_type) X(object.ob_size) X(object.tp_name) X(object.tp_flags)                  \
    X(object.tp_basicsize) X(object.tp_dictoffset) X(object.ht_cached_keys)                   \
    X(object.managed_dict)                                                                     \
    X(unicode.state) X(unicode.length) X(unicode.ascii_size) X(unicode.compact_size)          \
    X(unicode.data) X(unicode.char_size) X(intobj.ival)                                        \
    X(tuple.ob_item) X(list.ob_item) X(bytes.ob_sval) X(floatobj.ob_fval)                     \
    X(longobj.digits) X(longobj.lv_tag)                                                        \
    X(dict.ma_used) X(dict.ma_keys) X(dict.ma_values) X(dict.dk_size) X(dict.dk_log2_size)    \
    X(dict.dk_log2_index_bytes) X(dict.dk_kind) X(dict.dk_nentries) X(dict.dk_indices)        \
    X(dict.entry_size) X(dict.unicode_entry_size) X(dict.values_values) X(dict.ma_mask)       \
    X(dict.ma_table)                                                                           \
    X(more.tp_dict) X(more.ht_qualname) X(more.cell_ref) X(more.set_mask) X(more.set_table)   \
    X(more.range_start) X(more.bytearray_start) X(more.complex_cval) X(more.func_qualname)    \
    X(more.str_hash) X(more.str_hash_cache) X(more.set_key) X(more.func_name)                 \
    X(more.in_class) X(more.cl_name) X(more.cl_dict)

/* The field list above and the roots (symbol names, printed apart) must cover the struct:
 * their bytes, rounded up to the 8-byte alignment of the roots' pointers (which covers the
 * padding after the seven leading uint8_t fields and at the end), make sizeof. */
#define PS_FIELD_SIZE(f) +sizeof(((struct ps_pyoffsets *)0)->f)
/* The string groups (roots, threading, reprs: names, printed apart) are counted whole. */
#define PS_STRINGS_SIZE                                                                        \
    (sizeof(((struct ps_pyoffsets *)0)->roots) + sizeof(((struct ps_pyoffsets *)0)->threading) + \
     sizeof(((struct ps_pyoffsets *)0)->reprs))
_Static_assert(((0 PS_FIELDS(PS_FIELD_SIZE)) + PS_STRINGS_SIZE + 7) /
                       8 * 8 == sizeof(struct ps_pyoffsets),
               "PS_FIELDS does not list every field of struct ps_pyoffsets");

static void print_fields(const struct ps_pyoffsets *t, const char *fmt_prefix, const char *sep,
                         const char *kvfmt)
{
#define PS_PRINT(f) printf("%s", fmt_prefix), printf(kvfmt, #f, (long)t->f), printf("%s", sep);
    PS_FIELDS(PS_PRINT)
#undef PS_PRINT
}

static int failures;
#define CHECK(t, cond)                                                                         \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            printf("FAIL %d.%d: %s\n", (t)->major, (t)->minor, #cond);                         \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)
#define NONE PS_OFF_NONE
#define V(t) ((t)->major * 100 + (t)->minor)

/* Values known independently of the probe (CPython docs/headers, x86-64, release builds), and
 * consistency rules between fields. */
static void sanity(const struct ps_pyoffsets *t)
{
    int v = V(t);
    if (t->major == 2) { /* 2.7: its own objects; probe.c checks what it relies on */
        CHECK(t, t->minor == 7 && t->unicode.data != NONE && t->intobj.ival != NONE &&
                     t->dict.ma_table != NONE && t->more.set_key == 8);
        return;
    }
    CHECK(t, t->major == 3 && t->minor >= 6 && t->minor <= 15);
    CHECK(t, t->debug_build == 0);
    if (t->free_threaded) /* 3.13t: the object header is three words longer; see probe.c */
        return;
    CHECK(t, t->frame_model == (v <= 310 ? PS_FRAMES_FRAMEOBJECT : PS_FRAMES_INTERP));
    CHECK(t, t->dict_model == (v <= 310 ? PS_DICT_OFFSET : v == 311 ? PS_DICT_PREHEADER
                                : v == 312 ? PS_DICT_TAGGED : PS_DICT_INLINE));
    CHECK(t, t->linetable_model == (v <= 309 ? PS_LINES_LNOTAB : v == 310 ? PS_LINES_310
                                    : PS_LINES_LOCATION));
    /* PyObject / PyVarObject / PyTypeObject head: stable since 3.0 */
    CHECK(t, t->object.ob_type == 8 && t->object.ob_size == 16);
    CHECK(t, t->object.tp_name == 24 && t->object.tp_basicsize == 32);
    CHECK(t, t->object.tp_flags == 168 && t->object.tp_dictoffset == 288);
    CHECK(t, t->tuple.ob_item == 24 && t->list.ob_item == 24);
    CHECK(t, t->bytes.ob_sval == 32 && t->floatobj.ob_fval == 16);
    CHECK(t, t->longobj.digits == 24);
    CHECK(t, (t->longobj.lv_tag == 16) == (v >= 312) && (t->longobj.lv_tag == NONE) == (v < 312));
    CHECK(t, t->unicode.length == 16 && t->unicode.state == 32);
    /* wstr and wstr_length left PyASCIIObject / PyCompactUnicodeObject in 3.12 (PEP 623) */
    CHECK(t, t->unicode.ascii_size == (v >= 312 ? 40 : 48));
    CHECK(t, t->unicode.compact_size == (v >= 312 ? 56 : 72));
    CHECK(t, t->dict.ma_used == 16 && t->dict.ma_keys == 32 && t->dict.ma_values == 40);
    CHECK(t, t->dict.entry_size == 24);
    CHECK(t, t->dict.unicode_entry_size == (v >= 311 ? 16 : 0));
    CHECK(t, t->dict.values_values == (v >= 313 ? 8 : 0));
    if (v <= 310) {
        CHECK(t, t->dict.dk_size == 8 && t->dict.dk_nentries == 32 && t->dict.dk_indices == 40);
        CHECK(t, t->dict.dk_log2_size == NONE && t->dict.dk_log2_index_bytes == NONE &&
                     t->dict.dk_kind == NONE);
    } else {
        CHECK(t, t->dict.dk_size == NONE && t->dict.dk_log2_size == 8 &&
                     t->dict.dk_log2_index_bytes == 9 && t->dict.dk_kind == 10);
        CHECK(t, t->dict.dk_nentries == 24 && t->dict.dk_indices == 32);
    }
    /* threads and interpreters */
    CHECK(t, t->tstate.next == 8 && t->tstate.interp == 16);
    CHECK(t, (t->tstate.native_thread_id != NONE) == (v >= 311));
    CHECK(t, (t->runtime.tstate_current != NONE) == (v >= 307 && v <= 311));
    CHECK(t, (t->runtime.gil != NONE) == (v >= 307 && v <= 311) &&
                 (t->interp.gil_ptr != NONE) == (v >= 312));
    CHECK(t, (t->interp.gc != NONE) == (v >= 309) &&
                 (t->runtime.gc != NONE) == (v == 307 || v == 308));
    if (v <= 312)
        CHECK(t, t->interp.next == 0);
    /* 3.6: no _PyRuntime; the roots are statics, each the field itself */
    CHECK(t, (strcmp(t->roots.runtime, "_PyRuntime") != 0) == (v == 306));
    CHECK(t, (t->roots.symbol[PS_ROOT_GIL_LOCKED] != NULL) == (v == 306));
    CHECK(t, (t->interp.id == NONE) == (v == 306));
    if (v == 306) {
        CHECK(t, t->runtime.interpreters_head == 0 && t->gil.locked == 0 &&
                     t->gil.last_holder == 0 && t->gc.collecting == 0);
    } else {
        CHECK(t, t->gil.last_holder == 8 && t->gil.locked == 16);
        CHECK(t, t->gc.collecting > 0);
    }
    CHECK(t, t->code.kwonlyargcount == t->code.argcount + (v >= 308 ? 8 : 4));
    /* frames */
    CHECK(t, (t->tstate.cframe_current != NONE) == (v == 311 || v == 312));
    CHECK(t, (t->tstate.cframe != NONE) == (v >= 310 && v <= 312));
    if (t->frame_model == PS_FRAMES_FRAMEOBJECT) {
        CHECK(t, t->frameobj.back == 24 && t->frameobj.code == 32);
        CHECK(t, t->frameobj.lineno == t->frameobj.lasti + 4);
        CHECK(t, t->iframe.previous == NONE && t->iframe.code == NONE && t->iframe.instr == NONE &&
                     t->iframe.owner == NONE && t->iframe.localsplus == NONE &&
                     t->iframe.stacktop == NONE);
    } else {
        CHECK(t, t->iframe.previous != NONE && t->iframe.code != NONE && t->iframe.instr != NONE &&
                     t->iframe.owner != NONE && t->iframe.localsplus != NONE &&
                     t->iframe.stacktop != NONE);
        CHECK(t, t->iframe.owner_generator == 1);
        CHECK(t, t->iframe.owner_cstack == (v >= 312 ? 3 : -1));
        CHECK(t, t->frameobj.back == NONE && t->frameobj.code == NONE);
    }
    /* code objects */
    if (v <= 310) {
        CHECK(t, t->code.code != NONE && t->code.varnames != NONE && t->code.nlocals != NONE);
        CHECK(t, t->code.code_adaptive == NONE && t->code.nlocalsplus == NONE &&
                     t->code.qualname == NONE && t->code.firsttraceable == NONE);
    } else {
        CHECK(t, t->code.code == NONE && t->code.varnames == NONE);
        CHECK(t, t->code.code_adaptive != NONE && t->code.nlocalsplus != NONE &&
                     t->code.qualname != NONE && t->code.firsttraceable != NONE &&
                     t->code.localsplusnames != NONE && t->code.localspluskinds != NONE);
    }
    CHECK(t, t->code.filename > 16 && t->code.name > 16 && t->code.firstlineno > 16);
}

/* The live check, run by the interpreter under test. It expects MAJOR, MINOR and O (a dict
 * of every field, by the names of PS_FIELDS) to be defined before it. */
static const char live_check_py[] =
    "# Live check of one generated table against the running interpreter (ctypes reads).\n"
    "import ctypes, sys, gc, threading\n"
    "NONE = -1\n"
    "V = sys.version_info[:2]\n"
    "if V != (MAJOR, MINOR):\n"
    "    sys.exit('live check: table is for %d.%d, interpreter is %d.%d' % (MAJOR, MINOR, V[0], V[1]))\n"
    "ok = 0\n"
    "bad = []\n"
    "skipped = []\n"
    "\n"
    "def u64(a): return ctypes.c_uint64.from_address(a).value\n"
    "def i64(a): return ctypes.c_int64.from_address(a).value\n"
    "def i32(a): return ctypes.c_int32.from_address(a).value\n"
    "def u32(a): return ctypes.c_uint32.from_address(a).value\n"
    "def u8(a): return ctypes.c_uint8.from_address(a).value\n"
    "def f64(a): return ctypes.c_double.from_address(a).value\n"
    "\n"
    "def eq(name, got, want):\n"
    "    global ok\n"
    "    if got == want:\n"
    "        ok += 1\n"
    "    else:\n"
    "        bad.append('%s: table gives %r, interpreter has %r' % (name, got, want))\n"
    "\n"
    "def true(name, cond, detail=''):\n"
    "    eq(name, bool(cond), True) if cond else bad.append('%s: %s' % (name, detail or 'false'))\n"
    "\n"
    "def has(*names):\n"
    "    return all(O[n] != NONE for n in names)\n"
    "\n"
    "def none(name):\n"
    "    eq(name + ' is NONE', O[name], NONE)\n"
    "\n"
    "api = ctypes.pythonapi\n"
    "api.PyThreadState_Get.restype = ctypes.c_void_p\n"
    "api.PyInterpreterState_Main.restype = ctypes.c_void_p\n"
    "runtime = ctypes.addressof(ctypes.c_char.in_dll(api, '_PyRuntime'))\n"
    "tstate = api.PyThreadState_Get()\n"
    "interp = api.PyInterpreterState_Main()\n"
    "\n"
    "# ---- models -------------------------------------------------------------------------------\n"
    "eq('frame_model', O['frame_model'], 1 if V < (3, 11) else 2)\n"
    "eq('dict_model', O['dict_model'], {8: 1, 9: 1, 10: 1, 11: 2, 12: 3}.get(V[1], 4))\n"
    "eq('linetable_model', O['linetable_model'], 1 if V < (3, 10) else 2 if V < (3, 11) else 3)\n"
    "eq('debug_build', O['debug_build'], int(hasattr(sys, 'getobjects')))\n"
    "\n"
    "# ---- runtime / interpreter / thread ---------------------------------------------------------\n"
    "eq('runtime.interpreters_head', u64(runtime + O['runtime.interpreters_head']), interp)\n"
    "eq('interp.next', u64(interp + O['interp.next']), 0)\n"
    "eq('interp.id', i64(interp + O['interp.id']), 0)\n"
    "eq('interp.threads_head', u64(interp + O['interp.threads_head']), tstate)\n"
    "eq('interp.modules', u64(interp + O['interp.modules']), id(sys.modules))\n"
    "eq('tstate.interp', u64(tstate + O['tstate.interp']), interp)\n"
    "eq('tstate.next', u64(tstate + O['tstate.next']), 0)\n"
    "eq('tstate.thread_id', u64(tstate + O['tstate.thread_id']), threading.get_ident())\n"
    "if has('tstate.native_thread_id'):\n"
    "    eq('tstate.native_thread_id', u64(tstate + O['tstate.native_thread_id']),\n"
    "       threading.get_native_id())\n"
    "else:\n"
    "    true('native_thread_id NONE only before 3.11', V < (3, 11))\n"
    "if has('runtime.tstate_current'):\n"
    "    eq('runtime.tstate_current', u64(runtime + O['runtime.tstate_current']), tstate)\n"
    "else:\n"
    "    true('tstate_current NONE only from 3.12', V >= (3, 12))\n"
    "\n"
    "# A second thread: it becomes the head, and its next is the main thread state.\n"
    "def in_thread(res):\n"
    "    t2 = api.PyThreadState_Get()\n"
    "    res.append((t2, u64(interp + O['interp.threads_head']), u64(t2 + O['tstate.next']),\n"
    "                u64(t2 + O['tstate.thread_id']), threading.get_ident()))\n"
    "res = []\n"
    "th = threading.Thread(target=in_thread, args=(res,))\n"
    "th.start(); th.join()\n"
    "t2, head, nxt, tid, ident = res[0]\n"
    "eq('interp.threads_head (2 threads)', head, t2)\n"
    "eq('tstate.next (2 threads)', nxt, tstate)\n"
    "eq('tstate.thread_id (2nd thread)', tid, ident)\n"
    "\n"
    "# ---- GIL ------------------------------------------------------------------------------------\n"
    "if has('runtime.gil'):\n"
    "    none('interp.gil_ptr')\n"
    "    gil = runtime + O['runtime.gil']\n"
    "else:\n"
    "    gil = u64(interp + O['interp.gil_ptr'])\n"
    "eq('gil.locked', i32(gil + O['gil.locked']), 1)\n"
    "eq('gil.last_holder', u64(gil + O['gil.last_holder']), tstate)\n"
    "\n"
    "# ---- GC -------------------------------------------------------------------------------------\n"
    "if has('interp.gc') or has('runtime.gc'):\n"
    "    gcs = interp + O['interp.gc'] if has('interp.gc') else runtime + O['runtime.gc']\n"
    "    eq('gc.collecting (idle)', i32(gcs + O['gc.collecting']), 0)\n"
    "    seen = []\n"
    "    def cb(phase, info):\n"
    "        if phase == 'start':\n"
    "            seen.append(i32(gcs + O['gc.collecting']))\n"
    "    gc.callbacks.append(cb)\n"
    "    gc.collect()\n"
    "    gc.callbacks.remove(cb)\n"
    "    eq('gc.collecting (in a gc callback)', seen[:1], [1])\n"
    "else:\n"
    "    true('a gc state is described', False)\n"
    "\n"
    "# ---- objects --------------------------------------------------------------------------------\n"
    "eq('object.ob_type', u64(id(12345) + O['object.ob_type']), id(int))\n"
    "lst = [10, 20, 30]\n"
    "eq('object.ob_size', i64(id(lst) + O['object.ob_size']), 3)\n"
    "eq('object.tp_name', ctypes.string_at(u64(id(dict) + O['object.tp_name'])), b'dict')\n"
    "class C:\n"
    "    def __init__(self):\n"
    "        self.a = 'val_a'\n"
    "        self.b = 'val_b'\n"
    "eq('object.tp_flags', u64(id(C) + O['object.tp_flags']), C.__flags__)\n"
    "eq('object.tp_basicsize', i64(id(C) + O['object.tp_basicsize']), C.__basicsize__)\n"
    "eq('object.tp_dictoffset', i64(id(C) + O['object.tp_dictoffset']), C.__dictoffset__)\n"
    "objs = [C() for _ in range(3)]\n"
    "if has('object.ht_cached_keys'):\n"
    "    keys = u64(id(C) + O['object.ht_cached_keys'])\n"
    "    true('object.ht_cached_keys set', keys != 0)\n"
    "    if keys and has('dict.dk_kind'):\n"
    "        eq('ht_cached_keys dk_kind (split)', u8(keys + O['dict.dk_kind']), 2)\n"
    "    if keys:\n"
    "        eq('ht_cached_keys dk_nentries', i64(keys + O['dict.dk_nentries']), 2)\n"
    "\n"
    "# ---- str ------------------------------------------------------------------------------------\n"
    "def ustate(s): return u32(id(s) + O['unicode.state'])\n"
    "for s, kind, asc in (('hello' + str(len(lst)), 1, 1), ('h\\xe9llo' + str(len(lst)), 1, 0),\n"
    "                     ('h\\u20acllo' + str(len(lst)), 2, 0), ('h\\U0001f600llo' + str(len(lst)), 4, 0)):\n"
    "    st = ustate(s)\n"
    "    eq('unicode.length %r' % s, i64(id(s) + O['unicode.length']), len(s))\n"
    "    eq('unicode.state kind %r' % s, (st >> 2) & 7, kind)\n"
    "    eq('unicode.state compact %r' % s, (st >> 5) & 1, 1)\n"
    "    eq('unicode.state ascii %r' % s, (st >> 6) & 1, asc)\n"
    "    data = id(s) + (O['unicode.ascii_size'] if asc else O['unicode.compact_size'])\n"
    "    eq('unicode data %r' % s, ctypes.string_at(data, len(s) * kind),\n"
    "       s.encode({1: 'latin-1', 2: 'utf-16-le', 4: 'utf-32-le'}[kind]))\n"
    "\n"
    "# ---- tuple, list, bytes, float, int -----------------------------------------------------------\n"
    "tup = ('x', 'y', lst)\n"
    "eq('tuple.ob_item', u64(id(tup) + O['tuple.ob_item'] + 16), id(lst))\n"
    "eq('list.ob_item', u64(u64(id(lst) + O['list.ob_item']) + 8), id(lst[1]))\n"
    "bts = b'abc' + bytes(len(lst))\n"
    "eq('bytes.ob_sval', ctypes.string_at(id(bts) + O['bytes.ob_sval'], len(bts) + 1), bts + b'\\0')\n"
    "flt = 2.5 * len(lst)\n"
    "eq('floatobj.ob_fval', f64(id(flt) + O['floatobj.ob_fval']), flt)\n"
    "big = -((7 << 30) + 5 * len(lst))\n"
    "eq('longobj.digits[0]', u32(id(big) + O['longobj.digits']), 15)\n"
    "eq('longobj.digits[1]', u32(id(big) + O['longobj.digits'] + 4), 7)\n"
    "if has('longobj.lv_tag'):\n"
    "    eq('longobj.lv_tag', u64(id(big) + O['longobj.lv_tag']), (2 << 3) | 2)\n"
    "else:\n"
    "    eq('long size (ob_size)', i64(id(big) + O['object.ob_size']), -2)\n"
    "\n"
    "# ---- dict -----------------------------------------------------------------------------------\n"
    "def dict_check(label, d, unicode_keys):\n"
    "    eq(label + ' ma_used', i64(id(d) + O['dict.ma_used']), len(d))\n"
    "    eq(label + ' ma_values', u64(id(d) + O['dict.ma_values']), 0)\n"
    "    k = u64(id(d) + O['dict.ma_keys'])\n"
    "    eq(label + ' dk_nentries', i64(k + O['dict.dk_nentries']), len(d))\n"
    "    if has('dict.dk_size'):\n"
    "        size = i64(k + O['dict.dk_size'])\n"
    "        eq(label + ' dk_size', size, 8)\n"
    "        ents, esz, general = k + O['dict.dk_indices'] + size, O['dict.entry_size'], True\n"
    "    else:\n"
    "        eq(label + ' dk_log2_size', u8(k + O['dict.dk_log2_size']), 3)\n"
    "        eq(label + ' dk_log2_index_bytes', u8(k + O['dict.dk_log2_index_bytes']), 3)\n"
    "        eq(label + ' dk_kind', u8(k + O['dict.dk_kind']), 1 if unicode_keys else 0)\n"
    "        ents = k + O['dict.dk_indices'] + (1 << u8(k + O['dict.dk_log2_index_bytes']))\n"
    "        general = not unicode_keys\n"
    "        esz = O['dict.entry_size'] if general else O['dict.unicode_entry_size']\n"
    "    for i, (key, val) in enumerate(d.items()):\n"
    "        e = ents + i * esz + (8 if general else 0)\n"
    "        eq('%s entry %d key' % (label, i), u64(e), id(key))\n"
    "        eq('%s entry %d value' % (label, i), u64(e + 8), id(val))\n"
    "        eq('%s index %d' % (label, i), sum(1 for j in range(8) if u8(k + O['dict.dk_indices'] + j) == i), 1)\n"
    "    eq(label + ' entry_size', O['dict.entry_size'], 24)\n"
    "dict_check('str-keyed dict', {'k1': 'v1', 'k2': lst}, True)\n"
    "dict_check('int-keyed dict', {1001: 'v1', 1002: tup}, False)\n"
    "# Split (instance) dict: values[] is at ma_values + values_values.\n"
    "o = objs[0]\n"
    "d = o.__dict__\n"
    "mv = u64(id(d) + O['dict.ma_values'])\n"
    "if mv:\n"
    "    eq('split dict values[0]', u64(mv + O['dict.values_values']), id(o.a))\n"
    "    eq('split dict values[1]', u64(mv + O['dict.values_values'] + 8), id(o.b))\n"
    "else:\n"
    "    skipped.append('split dict (instance __dict__ is combined here)')\n"
    "\n"
    "# ---- code -----------------------------------------------------------------------------------\n"
    "def never_called(alpha, beta, *rest):\n"
    "    gamma = alpha + beta\n"
    "    return gamma\n"
    "co = never_called.__code__\n"
    "eq('code.filename', u64(id(co) + O['code.filename']), id(co.co_filename))\n"
    "eq('code.name', u64(id(co) + O['code.name']), id(co.co_name))\n"
    "eq('code.firstlineno', i32(id(co) + O['code.firstlineno']), co.co_firstlineno)\n"
    "eq('code.argcount', i32(id(co) + O['code.argcount']), co.co_argcount)\n"
    "eq('code.flags', i32(id(co) + O['code.flags']), co.co_flags)\n"
    "if V < (3, 10):\n"
    "    eq('code.linetable (co_lnotab)', u64(id(co) + O['code.linetable']), id(co.co_lnotab))\n"
    "else:\n"
    "    eq('code.linetable', u64(id(co) + O['code.linetable']), id(co.co_linetable))\n"
    "if V < (3, 11):\n"
    "    eq('code.code', u64(id(co) + O['code.code']), id(co.co_code))\n"
    "    eq('code.nlocals', i32(id(co) + O['code.nlocals']), co.co_nlocals)\n"
    "    eq('code.varnames', u64(id(co) + O['code.varnames']), id(co.co_varnames))\n"
    "    eq('code.cellvars', u64(id(co) + O['code.cellvars']), id(co.co_cellvars))\n"
    "    eq('code.freevars', u64(id(co) + O['code.freevars']), id(co.co_freevars))\n"
    "    for f in ('qualname', 'code_adaptive', 'firsttraceable', 'nlocalsplus', 'localsplusnames',\n"
    "              'localspluskinds'):\n"
    "        none('code.' + f)\n"
    "else:\n"
    "    import dis\n"
    "    eq('code.qualname', u64(id(co) + O['code.qualname']), id(co.co_qualname))\n"
    "    eq('code.nlocals', i32(id(co) + O['code.nlocals']), co.co_nlocals)\n"
    "    n = i32(id(co) + O['code.nlocalsplus'])\n"
    "    eq('code.nlocalsplus', n, len(co.co_varnames) + len(co.co_cellvars) + len(co.co_freevars))\n"
    "    names = u64(id(co) + O['code.localsplusnames'])\n"
    "    eq('code.localsplusnames type', u64(names + O['object.ob_type']), id(tuple))\n"
    "    eq('code.localsplusnames[1]', u64(names + O['tuple.ob_item'] + 8), id(co.co_varnames[1]))\n"
    "    kinds = u64(id(co) + O['code.localspluskinds'])\n"
    "    eq('code.localspluskinds type', u64(kinds + O['object.ob_type']), id(bytes))\n"
    "    eq('code.localspluskinds size', i64(kinds + O['object.ob_size']), n)\n"
    "    raw = ctypes.string_at(id(co) + O['code.code_adaptive'], len(co.co_code))\n"
    "    ops = [i for i in range(0, len(raw), 2) if co.co_code[i] != dis.opmap.get('CACHE', 0)]\n"
    "    eq('code.code_adaptive opcodes', [raw[i] for i in ops], [co.co_code[i] for i in ops])\n"
    "    def outer():\n"
    "        cellvar = len(lst)\n"
    "        def inner(): return cellvar\n"
    "        return inner\n"
    "    for fn in (never_called, outer, outer()):   # no prefix, MAKE_CELL, COPY_FREE_VARS\n"
    "        c = fn.__code__\n"
    "        ft = i32(id(c) + O['code.firsttraceable'])\n"
    "        want = [i // 2 for i in range(0, len(c.co_code), 2) if c.co_code[i] == dis.opmap['RESUME']][0]\n"
    "        eq('code.firsttraceable ' + c.co_name, ft, want)\n"
    "    for f in ('code', 'varnames', 'cellvars', 'freevars'):\n"
    "        none('code.' + f)\n"
    "\n"
    "# ---- frames ---------------------------------------------------------------------------------\n"
    "def cur_iframe(code):\n"
    "    # The thread's current frame, read through u64(), is u64's own (3.11+ runs a Python\n"
    "    # call in the same eval loop; the popped frame keeps its previous link): walk back\n"
    "    # (bounded) to the frame running CODE.\n"
    "    f = u64(tstate + O['tstate.frame'])\n"
    "    if O['tstate.cframe_current'] != NONE:\n"
    "        f = u64(f + O['tstate.cframe_current'])\n"
    "    mask = ~O['iframe.stackref_mask'] & 0xffffffffffffffff\n"
    "    for _ in range(16):\n"
    "        if not f or u64(f + O['iframe.code']) & mask == id(code):\n"
    "            return f\n"
    "        f = u64(f + O['iframe.previous'])\n"
    "    return 0\n"
    "\n"
    "def callee(first_local, second):\n"
    "    me = sys._getframe()\n"
    "    if V < (3, 11):\n"
    "        f = u64(tstate + O['tstate.frame'])   # u64's own frame object (see cur_iframe)\n"
    "        for _ in range(16):\n"
    "            if not f or f == id(me):\n"
    "                break\n"
    "            f = u64(f + O['frameobj.back'])\n"
    "        eq('tstate.frame (-> f_back chain)', f, id(me))\n"
    "        eq('frameobj.back', u64(f + O['frameobj.back']), id(me.f_back))\n"
    "        eq('frameobj.code', u64(f + O['frameobj.code']), id(me.f_code))\n"
    "        eq('frameobj.localsplus', u64(f + O['frameobj.localsplus']), id(first_local))\n"
    "        up = me.f_back\n"
    "        scale = 2 if V == (3, 10) else 1   # 3.10 keeps f_lasti in code units\n"
    "        eq('frameobj.lasti (caller)', i32(id(up) + O['frameobj.lasti']) * scale, up.f_lasti)\n"
    "        line = sys._getframe().f_lineno + 1\n"
    "        got = i32(f + O['frameobj.lineno'])   # kept current while tracing\n"
    "        eq('frameobj.lineno (traced)', got, line)\n"
    "        for fld in ('previous', 'code', 'instr', 'owner', 'localsplus', 'stacktop'):\n"
    "            none('iframe.' + fld)\n"
    "        return\n"
    "    f = cur_iframe(me.f_code)\n"
    "    true('iframe chain reaches the running frame', f != 0)\n"
    "    if not f:\n"
    "        return\n"
    "    eq('iframe.code', u64(f + O['iframe.code']) & ~O['iframe.stackref_mask'], id(me.f_code))\n"
    "    eq('iframe.owner', u8(f + O['iframe.owner']), 0)\n"
    "    eq('iframe.localsplus[0]', u64(f + O['iframe.localsplus']), id(first_local))\n"
    "    eq('iframe.localsplus[1]', u64(f + O['iframe.localsplus'] + 8), id(second))\n"
    "    co = me.f_code\n"
    "    base = id(co) + O['code.code_adaptive']\n"
    "    ip = u64(f + O['iframe.instr'])\n"
    "    true('iframe.instr inside co_code_adaptive', base - 2 <= ip < base + len(co.co_code),\n"
    "         'instr %#x, code %#x..%#x' % (ip, base, base + len(co.co_code)))\n"
    "    up = u64(f + O['iframe.previous'])\n"
    "    eq('iframe.previous -> caller code', u64(up + O['iframe.code']), id(me.f_back.f_code))\n"
    "    ucode = me.f_back.f_code\n"
    "    st = i32(up + O['iframe.stacktop'])\n"
    "    n = i32(id(ucode) + O['code.nlocalsplus'])\n"
    "    true('iframe.stacktop (caller) plausible', n <= st <= n + ucode.co_stacksize,\n"
    "         'stacktop %d, nlocalsplus %d, stacksize %d' % (st, n, ucode.co_stacksize))\n"
    "    owners = []\n"
    "    while up and len(owners) < 1000:\n"
    "        owners.append(u8(up + O['iframe.owner']))\n"
    "        up = u64(up + O['iframe.previous'])\n"
    "    true('iframe owners known', all(x in (0, 1, 2, 3) for x in owners), repr(owners))\n"
    "    if O['iframe.owner_cstack'] != -1:\n"
    "        true('a FRAME_OWNED_BY_CSTACK entry frame below', O['iframe.owner_cstack'] in owners,\n"
    "             repr(owners))\n"
    "    else:\n"
    "        true('owner_cstack -1 only in 3.11', V == (3, 11))\n"
    "    for fld in ('back', 'code', 'lasti', 'lineno', 'localsplus'):\n"
    "        none('frameobj.' + fld)\n"
    "\n"
    "def caller():\n"
    "    x = 'first-' + str(len(lst))\n"
    "    if V < (3, 11):\n"
    "        def tr(frame, event, arg): return tr\n"
    "        sys.settrace(tr)\n"
    "        try:\n"
    "            callee(x, tup)\n"
    "        finally:\n"
    "            sys.settrace(None)\n"
    "    else:\n"
    "        callee(x, tup)\n"
    "caller()\n"
    "\n"
    "def gen():\n"
    "    f = cur_iframe(gen.__code__)\n"
    "    yield (u8(f + O['iframe.owner']), u64(f + O['iframe.code']) & ~O['iframe.stackref_mask']) if f else (-1, 0)\n"
    "if V >= (3, 11):\n"
    "    g = gen()\n"
    "    owner, code = next(g)\n"
    "    eq('iframe.owner in a generator', owner, O['iframe.owner_generator'])\n"
    "    eq('iframe.code in a generator', code, id(gen.__code__))\n"
    "\n"
    "# ---- 3.13+: compare with the interpreter's own _Py_DebugOffsets -----------------------------\n"
    "if V >= (3, 13):\n"
    "    groups = [('runtime_state', 'size finalizing interpreters_head'),\n"
    "              ('interpreter_state', 'size id next threads_head gc imports_modules sysdict builtins '\n"
    "               'ceval_gil gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked '\n"
    "               'gil_runtime_state_holder'),\n"
    "              ('thread_state', 'size prev next interp current_frame thread_id native_thread_id '\n"
    "               'datastack_chunk status'),\n"
    "              ('interpreter_frame', 'size previous executable instr_ptr localsplus owner'),\n"
    "              ('code_object', 'size filename name qualname linetable firstlineno argcount '\n"
    "               'localsplusnames localspluskinds co_code_adaptive'),\n"
    "              ('pyobject', 'size ob_type'), ('type_object', 'size tp_name tp_repr tp_flags'),\n"
    "              ('tuple_object', 'size ob_item ob_size'), ('list_object', 'size ob_item ob_size'),\n"
    "              ('dict_object', 'size ma_keys ma_values'), ('float_object', 'size ob_fval'),\n"
    "              ('long_object', 'size lv_tag ob_digit'), ('bytes_object', 'size ob_size ob_sval'),\n"
    "              ('unicode_object', 'size state length asciiobject_size'),\n"
    "              ('gc', 'size collecting')]\n"
    "    eq('_Py_DebugOffsets cookie', ctypes.string_at(runtime, 8), b'xdebugpy')\n"
    "    D = {}\n"
    "    w = runtime + 8 + 16     # after cookie, version, free_threaded\n"
    "    for g, names in groups:\n"
    "        for nm in names.split():\n"
    "            D[g + '.' + nm] = u64(w); w += 8\n"
    "    dbg = [('runtime.interpreters_head', 'runtime_state.interpreters_head'),\n"
    "           ('interp.id', 'interpreter_state.id'), ('interp.next', 'interpreter_state.next'),\n"
    "           ('interp.threads_head', 'interpreter_state.threads_head'),\n"
    "           ('interp.gc', 'interpreter_state.gc'),\n"
    "           ('interp.modules', 'interpreter_state.imports_modules'),\n"
    "           ('interp.gil_ptr', 'interpreter_state.ceval_gil'),\n"
    "           ('tstate.next', 'thread_state.next'), ('tstate.interp', 'thread_state.interp'),\n"
    "           ('tstate.frame', 'thread_state.current_frame'),\n"
    "           ('tstate.thread_id', 'thread_state.thread_id'),\n"
    "           ('tstate.native_thread_id', 'thread_state.native_thread_id'),\n"
    "           ('iframe.previous', 'interpreter_frame.previous'),\n"
    "           ('iframe.code', 'interpreter_frame.executable'),\n"
    "           ('iframe.instr', 'interpreter_frame.instr_ptr'),\n"
    "           ('iframe.localsplus', 'interpreter_frame.localsplus'),\n"
    "           ('iframe.owner', 'interpreter_frame.owner'),\n"
    "           ('code.filename', 'code_object.filename'), ('code.name', 'code_object.name'),\n"
    "           ('code.qualname', 'code_object.qualname'), ('code.linetable', 'code_object.linetable'),\n"
    "           ('code.firstlineno', 'code_object.firstlineno'),\n"
    "           ('code.argcount', 'code_object.argcount'),\n"
    "           ('code.localsplusnames', 'code_object.localsplusnames'),\n"
    "           ('code.localspluskinds', 'code_object.localspluskinds'),\n"
    "           ('code.code_adaptive', 'code_object.co_code_adaptive'),\n"
    "           ('object.ob_type', 'pyobject.ob_type'), ('object.tp_name', 'type_object.tp_name'),\n"
    "           ('object.tp_flags', 'type_object.tp_flags'), ('tuple.ob_item', 'tuple_object.ob_item'),\n"
    "           ('object.ob_size', 'tuple_object.ob_size'), ('list.ob_item', 'list_object.ob_item'),\n"
    "           ('dict.ma_keys', 'dict_object.ma_keys'), ('dict.ma_values', 'dict_object.ma_values'),\n"
    "           ('floatobj.ob_fval', 'float_object.ob_fval'), ('longobj.lv_tag', 'long_object.lv_tag'),\n"
    "           ('longobj.digits', 'long_object.ob_digit'), ('bytes.ob_sval', 'bytes_object.ob_sval'),\n"
    "           ('unicode.state', 'unicode_object.state'), ('unicode.length', 'unicode_object.length'),\n"
    "           ('unicode.ascii_size', 'unicode_object.asciiobject_size'),\n"
    "           ('gc.collecting', 'gc.collecting')]\n"
    "    for ours, theirs in dbg:\n"
    "        eq('%s vs _Py_DebugOffsets %s' % (ours, theirs), O[ours], D[theirs])\n"
    "    g0 = D['interpreter_state.gil_runtime_state']\n"
    "    eq('gil.locked vs _Py_DebugOffsets', O['gil.locked'], D['interpreter_state.gil_runtime_state_locked'] - g0)\n"
    "    eq('gil.last_holder vs _Py_DebugOffsets', O['gil.last_holder'], D['interpreter_state.gil_runtime_state_holder'] - g0)\n"
    "\n"
    "print('live check %d.%d (%s): %d ok, %d failed%s' % (V[0], V[1], sys.version.split()[0], ok, len(bad),\n"
    "      ''.join('\\n  skipped: ' + s for s in skipped)))\n"
    "for b in bad:\n"
    "    print('  FAIL ' + b)\n"
    "sys.exit(1 if bad else 0)\n";

static const struct ps_pyoffsets *find(int major, int minor)
{
    for (unsigned i = 0; i < ps_pyoffsets_ntables; i++)
        if (ps_pyoffsets_tables[i].major == major && ps_pyoffsets_tables[i].minor == minor &&
            !ps_pyoffsets_tables[i].debug_build)
            return &ps_pyoffsets_tables[i];
    return NULL;
}

static const char *o(ps_off v, char *buf, size_t n)
{
    if (v == PS_OFF_NONE)
        return "-";
    snprintf(buf, n, "%d", (int)v);
    return buf;
}

static void summary(const struct ps_pyoffsets *t)
{
    char b[8][16];
    printf("%d.%d  frames=%s dict=%s lines=%s\n", t->major, t->minor,
           t->frame_model == PS_FRAMES_FRAMEOBJECT ? "frameobject" : "interp",
           t->dict_model == PS_DICT_OFFSET      ? "offset"
           : t->dict_model == PS_DICT_PREHEADER ? "preheader"
           : t->dict_model == PS_DICT_TAGGED    ? "tagged"
                                                : "inline",
           t->linetable_model == PS_LINES_LNOTAB ? "lnotab"
           : t->linetable_model == PS_LINES_310  ? "3.10"
                                                 : "location");
    printf("      runtime: interpreters_head=%s gil=%s tstate_current=%s\n",
           o(t->runtime.interpreters_head, b[0], 16), o(t->runtime.gil, b[1], 16),
           o(t->runtime.tstate_current, b[2], 16));
    printf("      interp:  threads_head=%s modules=%s gil_ptr=%s gc=%s (+collecting %s)\n",
           o(t->interp.threads_head, b[0], 16), o(t->interp.modules, b[1], 16),
           o(t->interp.gil_ptr, b[2], 16), o(t->interp.gc, b[3], 16),
           o(t->gc.collecting, b[4], 16));
    printf("      tstate:  frame=%s cframe_current=%s thread_id=%s native_thread_id=%s\n",
           o(t->tstate.frame, b[0], 16), o(t->tstate.cframe_current, b[1], 16),
           o(t->tstate.thread_id, b[2], 16), o(t->tstate.native_thread_id, b[3], 16));
    if (t->frame_model == PS_FRAMES_INTERP)
        printf("      iframe:  previous=%s code=%s instr=%s owner=%s localsplus=%s\n",
               o(t->iframe.previous, b[0], 16), o(t->iframe.code, b[1], 16),
               o(t->iframe.instr, b[2], 16), o(t->iframe.owner, b[3], 16),
               o(t->iframe.localsplus, b[4], 16));
    else
        printf("      frame:   back=%s code=%s lasti=%s localsplus=%s\n",
               o(t->frameobj.back, b[0], 16), o(t->frameobj.code, b[1], 16),
               o(t->frameobj.lasti, b[2], 16), o(t->frameobj.localsplus, b[3], 16));
    printf("      code:    firstlineno=%s linetable=%s adaptive=%s; str ascii/compact=%d/%d;"
           " long lv_tag=%s\n",
           o(t->code.firstlineno, b[0], 16), o(t->code.linetable, b[1], 16),
           o(t->code.code_adaptive, b[2], 16), t->unicode.ascii_size, t->unicode.compact_size,
           o(t->longobj.lv_tag, b[3], 16));
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--py") == 0) {
        int major, minor;
        const struct ps_pyoffsets *t;
        if (sscanf(argv[2], "%d.%d", &major, &minor) != 2 || !(t = find(major, minor))) {
            fprintf(stderr, "check: no table for %s\n", argv[2]);
            return 2;
        }
        printf("MAJOR = %d\nMINOR = %d\nO = {\n", major, minor);
        print_fields(t, "    ", ",\n", "'%s': %ld");
        printf("}\n%s", live_check_py);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--all") == 0) {
        for (unsigned i = 0; i < ps_pyoffsets_ntables; i++) {
            char pfx[32];
            snprintf(pfx, sizeof pfx, "%d.%d%s ", ps_pyoffsets_tables[i].major,
                     ps_pyoffsets_tables[i].minor,
                     ps_pyoffsets_tables[i].debug_build ? "d" : "");
            print_fields(&ps_pyoffsets_tables[i], pfx, "\n", "%s %ld");
        }
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--all | --py X.Y]\n", argv[0]);
        return 2;
    }
    printf("%u tables\n", ps_pyoffsets_ntables);
    for (unsigned i = 0; i < ps_pyoffsets_ntables; i++) {
        const struct ps_pyoffsets *t = &ps_pyoffsets_tables[i];
        summary(t);
        sanity(t);
        if (i > 0) {
            const struct ps_pyoffsets *p = &ps_pyoffsets_tables[i - 1];
            CHECK(t, V(p) < V(t) || (t->free_threaded && V(p) == V(t))); /* sorted, one release
                                                                   * table per version (+ its t) */
        }
    }
    printf(failures ? "%d sanity checks FAILED\n" : "sanity checks ok\n", failures);
    return failures ? 1 : 0;
}

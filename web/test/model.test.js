/* node --test web/test/: the page's logic (web/model.js) without a browser. */
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const M = require("../model.js");

function py(fn, line, locals) {
    return { kind: "python", function: fn, qualname: fn, file: "app.py", line: line, locals: locals || {}, locals_truncated: false };
}
function nat(fn) {
    return { kind: "native", function: fn, module: "/usr/lib/libc.so.6", offset: 16 };
}
function thread(tid, name, frames, extra) {
    return Object.assign({ tid: tid, name: name, state: "sleeping", syscall: "futex", holds_gil: false,
                           frames_truncated: false, error: null, frames: frames }, extra || {});
}

test("a traceback is outermost first; native frames merged only on request", () => {
    /* innermost first, as in the JSON: futex, then the eval loop running wait(), then main */
    const t = thread(1, "a", [nat("futex_wait"), py("wait", 9), nat("_PyEval_EvalFrameDefault"), py("main", 3), nat("_PyEval_EvalFrameDefault"), nat("_start")]);
    assert.deepEqual(M.displayFrames(t, false).map((f) => f.function), ["main", "wait"]);
    /* the native frame right outside Python frames is the eval loop: shown as those */
    assert.deepEqual(M.displayFrames(t, true).map((f) => f.function), ["_start", "main", "wait", "futex_wait"]);
    assert.equal(M.pythonFrameCount(t), 2);
});

test("threads with the same stack and state are one group, in first-seen order", () => {
    const idle = () => [py("get", 20), py("worker", 5)];
    const ts = [thread(10, "pool-0", idle()), thread(11, "main", [py("main", 1)]),
                thread(12, "pool-1", idle()), thread(13, "pool-2", idle(), { state: "running", syscall: null }),
                thread(14, "pool-3", idle())];
    const g = M.groupThreads(ts, false);
    assert.deepEqual(g.map((x) => x.threads.map((t) => t.tid)), [[10, 12, 14], [11], [13]]);
});

test("a GIL holder or a thread whose walk failed is never folded into a group", () => {
    const ts = [thread(1, "a", [py("f", 1)], { holds_gil: true }), thread(2, "b", [py("f", 1)]),
                thread(3, "c", [py("f", 1)], { error: "address was not captured" }), thread(4, "d", [py("f", 1)])];
    assert.deepEqual(M.groupThreads(ts, false).map((x) => x.threads.map((t) => t.tid)), [[1], [2, 4], [3]]);
});

test("locals that differ between grouped threads are kept apart, the same ones shown once", () => {
    const a = thread(1, "a", [py("get", 20, { item: { type: "int", repr: "1", truncated: false } })]);
    const b = thread(2, "b", [py("get", 20, { item: { type: "int", repr: "2", truncated: false } })]);
    const c = thread(3, "c", [py("get", 20, { item: { type: "int", repr: "1", truncated: false } })]);
    const [g] = M.groupThreads([a, b, c], false);
    const v = M.localsVariants(g, 0, false);
    assert.deepEqual(v.map((x) => x.threads.map((t) => t.tid)), [[1, 3], [2]]);
    assert.equal(v[1].locals.item.repr, "2");
});

test("the filter matches thread names, ids, functions and files; every term must match", () => {
    const g = { threads: [thread(4242, "Worker-7", [py("handle_request", 3)])] };
    assert.ok(M.groupMatches(g, ""));
    assert.ok(M.groupMatches(g, "worker-7"));
    assert.ok(M.groupMatches(g, "4242"));
    assert.ok(M.groupMatches(g, "HANDLE_req app.py"));
    assert.ok(!M.groupMatches(g, "handle_request nosuchfile"));
    assert.ok(!M.groupMatches(g, "<img"));
});

test("the task forest: children are awaited tasks, a deadlock cycle ends in a back reference", () => {
    const tasks = [
        { name: "main", waits_for: [1], awaited_by: [] },
        { name: "child", waits_for: [], awaited_by: [0] },
        { name: "a", waits_for: [3], awaited_by: [3], deadlock: true },
        { name: "b", waits_for: [2], awaited_by: [2], deadlock: true },
    ];
    const f = M.taskForest(tasks);
    assert.deepEqual(f.map((n) => n.task.name), ["main", "a"]);
    assert.deepEqual(f[0].children.map((n) => n.task.name), ["child"]);
    const b = f[1].children[0];
    assert.equal(b.task.name, "b");
    assert.equal(b.children[0].task.name, "a");
    assert.equal(b.children[0].cycle, true);
    assert.deepEqual(M.deadlockCycles(tasks), [[2, 3]]);
});

const speedscope = {
    shared: { frames: [{ name: "main", file: "app.py" }, { name: "hot", file: "app.py" }, { name: "cold", file: "app.py" },
                       { name: "leaf", file: "lib.py" }] },
    profiles: [
        { type: "sampled", samples: [[0, 1], [0, 2, 3]], weights: [6, 2] },
        { type: "sampled", samples: [[0, 1], [0]], weights: [1, 1] },
    ],
};

test("the flame tree merges every thread's samples; totals and self counts", () => {
    const root = M.flameTree(speedscope);
    assert.equal(root.total, 10);
    const main = root.children[0];
    assert.equal(main.name, "main");
    assert.equal(main.total, 10);
    assert.equal(main.self, 1);
    assert.deepEqual(main.children.map((c) => [c.name, c.total, c.self]), [["hot", 7, 7], ["cold", 2, 0]]);
    assert.equal(M.flameTitle(main.children[0], root.total), "hot (app.py): 7 samples (70.0%), self 7");
});

test("the flame layout: widths by samples; a zoomed node fills the width below its ancestors", () => {
    const root = M.flameTree(speedscope);
    const boxes = M.flameLayout(root, 1000, 0);
    const by = (n) => boxes.find((b) => b.node.name === n);
    assert.equal(by("main").width, 1000);
    assert.equal(by("hot").width, 700);
    assert.equal(by("cold").x, 700);
    assert.equal(by("leaf").depth, 3);
    const cold = root.children[0].children[1];
    const z = M.flameLayout(cold, 1000, 0);
    assert.deepEqual(z.map((b) => [b.node.name, b.depth, b.x, b.width]),
                     [["all", 0, 0, 1000], ["main", 1, 0, 1000], ["cold", 2, 0, 1000], ["leaf", 3, 0, 1000]]);
    /* boxes under MIN_WIDTH are left out */
    assert.ok(!M.flameLayout(root, 1000, 250).some((b) => b.node.name === "leaf"));
});

test("anchors: one per thread, prefixed by the snapshot in a set", () => {
    assert.equal(M.threadAnchor(null, 12), "thread-12");
    assert.equal(M.threadAnchor(3, 12), "s3-thread-12");
});

test("a request reads as the text output's line; none gives null", () => {
    const r = { method: "GET", path: "/hang", query: "id=42&token=<redacted>", protocol: "HTTP/1.1",
                remote_addr: "127.0.0.1", host: "example.com:8000", query_redacted: true,
                found_by: { source: "flask", local: "environ", function: "wsgi_app" } };
    assert.equal(M.requestLine(r), "serving GET /hang?id=42&token=<redacted> from 127.0.0.1, HTTP/1.1, Host: example.com:8000");
    assert.equal(M.requestLine({ method: "POST", path: "/x", query: null, protocol: null, remote_addr: null, host: null }),
                 "serving POST /x");
    assert.equal(M.requestLine(null), null);
    assert.equal(M.requestLine(undefined), null);
});

/* Two threads; "rec" recurses (rec -> rec -> leaf) in thread 1. */
const threaded = {
    shared: { frames: [{ name: "main", file: "app.py" }, { name: "rec", file: "app.py" }, { name: "leaf", file: "lib.py" },
                       { name: "other", file: "w.py" }, { name: "<img src=x onerror=alert(1)>", file: "evil.py" }] },
    profiles: [
        { type: "sampled", name: "pid 7 thread 70 main", samples: [[0, 1, 1, 2], [0, 1], [0]], weights: [5, 1, 2] },
        { type: "sampled", name: "pid 7 thread 71 worker", samples: [[3, 4], [3]], weights: [3, 9] },
    ],
};

test("the flame tree of one thread takes that profile's samples only", () => {
    const all = M.flameTree(threaded);
    assert.equal(all.total, 20);
    assert.deepEqual(all.children.map((c) => [c.name, c.total]), [["other", 12], ["main", 8]]);
    const one = M.flameTree(threaded, 1);
    assert.equal(one.total, 12);
    assert.deepEqual(one.children.map((c) => c.name), ["other"]);
    assert.deepEqual(one.children[0].children.map((c) => [c.name, c.total, c.self]), [["<img src=x onerror=alert(1)>", 3, 3]]);
    const zero = M.flameTree(threaded, 0);
    assert.equal(zero.total, 8);
    assert.deepEqual(zero.children.map((c) => c.name), ["main"]);
    /* index 0 is a thread, not "all": null and undefined are all */
    assert.equal(M.flameTree(threaded, null).total, 20);
});

test("the thread list: name and samples, most samples first", () => {
    assert.deepEqual(M.flameThreads(threaded), [{ index: 1, name: "pid 7 thread 71 worker", samples: 12 },
                                                { index: 0, name: "pid 7 thread 70 main", samples: 8 }]);
    assert.deepEqual(M.flameThreads({ profiles: [{ samples: [[0]], weights: [2] }] }), [{ index: 0, name: "profile 1", samples: 2 }]);
    assert.deepEqual(M.flameThreads(null), []);
});

test("search: case-insensitive substring of function or file; /regexp/; an invalid one says why", () => {
    const tree = M.flameTree(threaded);
    const names = (q) => [...M.flameMatch(tree, M.flameMatcher(q)).nodes].map((n) => n.name).sort();
    assert.deepEqual(names("LEA"), ["leaf"]);
    assert.deepEqual(names("lib.py"), ["leaf"]);
    assert.deepEqual(names(" leaf "), ["leaf"]);
    assert.deepEqual(names("/^(rec|other)$/"), ["other", "rec", "rec"]);
    assert.deepEqual(names("/^REC$/"), ["rec", "rec"]);
    assert.deepEqual(names("<img"), ["<img src=x onerror=alert(1)>"]);
    /* the root is no function: "all" matches nothing */
    assert.deepEqual(names("all"), []);
    assert.deepEqual(names("nosuch"), []);
    const bad = M.flameMatcher("/(unclosed/");
    assert.equal(bad.active, false);
    assert.match(bad.error, /^invalid regular expression/i);
    assert.equal(M.flameMatch(tree, bad).nodes.size, 0);
    for (const q of ["", "   ", null, undefined]) {
        const m = M.flameMatcher(q);
        assert.equal(m.active, false);
        assert.equal(m.error, null);
    }
    /* a lone slash or "//" is text, not an empty regexp matching everything */
    assert.deepEqual(names("//"), []);
});

test("the matched share counts each sample once, however deep a recursive function nests", () => {
    const tree = M.flameTree(threaded);
    /* rec: 5 samples rec->rec->leaf and 1 in rec: 6, not 5 + 6 = 11 */
    const r = M.flameMatch(tree, M.flameMatcher("rec"));
    assert.equal(r.matched, 6);
    assert.equal(r.total, 20);
    assert.equal(M.flameMatchLine(r), "matched: 6 of 20 samples (30.0%)");
    /* matches on separate paths add up: leaf (5) + other (12) */
    assert.equal(M.flameMatch(tree, M.flameMatcher("/leaf|other/")).matched, 17);
    /* a match inside another match counts once: app.py holds main, which holds everything of thread 70 */
    assert.equal(M.flameMatch(tree, M.flameMatcher("app.py")).matched, 8);
    /* in one thread's tree the share is of that thread's samples */
    const one = M.flameMatch(M.flameTree(threaded, 0), M.flameMatcher("rec"));
    assert.equal(M.flameMatchLine(one), "matched: 6 of 8 samples (75.0%)");
    assert.equal(M.flameMatchLine(M.flameMatch(M.flameTree(threaded), M.flameMatcher("nosuch"))), "matched: 0 of 20 samples (0.0%)");
    assert.equal(M.flameMatch(tree, M.flameMatcher("")).matched, 0);
});

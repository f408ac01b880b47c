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

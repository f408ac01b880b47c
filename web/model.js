/* The page's logic, without the DOM: which frames a thread shows, which threads have the same
 * stack (one card "x40"), what the filter keeps, the asyncio task tree, and the flame graph
 * (tree from a speedscope document, all threads or one, its search and the share it matches,
 * layout of a zoomed view). Plain functions over the --json
 * documents (doc/schema.json), so node's test runner checks them (web/test/) and any host
 * (the report page, a viewer that makes the JSON in the browser) uses them as they are. */
"use strict";

var pysnapModel = (function () {
    /* A thread's frames as a traceback shows them: outermost first (JSON lists innermost
     * first). NATIVE: the native frames too, merged as the text output shows them (the native
     * frame right outside Python frames is the eval loop running them: shown as those). */
    function displayFrames(thread, native) {
        var frames = thread.frames || [];
        var out = [];
        for (var i = frames.length - 1; i >= 0; i--) {
            var f = frames[i];
            if (f.kind === "python") {
                out.push(f);
            } else if (native && !(i > 0 && frames[i - 1].kind === "python")) {
                out.push(f);
            }
        }
        return out;
    }

    function pythonFrameCount(thread) {
        var n = 0;
        (thread.frames || []).forEach(function (f) { n += f.kind === "python"; });
        return n;
    }

    function frameKey(f) {
        return f.kind === "python" ? "p\u0000" + f.function + "\u0000" + f.file + "\u0000" + f.line
                                   : "n\u0000" + f.function + "\u0000" + f.module + "\u0000" + f.offset;
    }

    /* Threads worth one card: the same state (and system call), the same frames, the same
     * GIL role. Their locals may differ: the card shows each variant (see localsVariants). */
    function groupKey(thread, native) {
        if (thread.error)
            return null;
        return [thread.state, thread.syscall || "", !!thread.holds_gil, !!thread.frames_truncated,
                displayFrames(thread, native).map(frameKey).join("\u0001")].join("\u0002");
    }

    /* The locals of frame K (display order) in each thread of GROUP: [{threads, locals}], one
     * entry per distinct set of (name, type, repr), in the order of the threads. */
    function localsVariants(group, k, native) {
        var out = [], byKey = new Map();
        group.threads.forEach(function (t) {
            var f = displayFrames(t, native)[k];
            var locals = (f && f.locals) || {};
            var key = JSON.stringify(Object.keys(locals).map(function (n) {
                var v = locals[n];
                return [n, v.type, v.repr, !!v.truncated, !!v.redacted, v.attributes || null];
            })) + (f && f.locals_truncated ? "+" : "");
            var v = byKey.get(key);
            if (!v) {
                v = { threads: [], locals: locals, truncated: !!(f && f.locals_truncated) };
                byKey.set(key, v);
                out.push(v);
            }
            v.threads.push(t);
        });
        return out;
    }

    /* [{threads: [...], key}] in the order of each group's first thread. */
    function groupThreads(threads, native) {
        var groups = [], byKey = new Map();
        threads.forEach(function (t) {
            var key = groupKey(t, native);
            if (key !== null && byKey.has(key)) {
                byKey.get(key).threads.push(t);
                return;
            }
            var g = { key: key, threads: [t] };
            if (key !== null)
                byKey.set(key, g);
            groups.push(g);
        });
        return groups;
    }

    /* The words a filter query is matched against: thread names and ids, functions, files. */
    function threadWords(thread) {
        var words = [String(thread.tid)];
        if (thread.name)
            words.push(thread.name);
        (thread.frames || []).forEach(function (f) {
            if (f.function)
                words.push(f.function);
            if (f.qualname)
                words.push(f.qualname);
            if (f.file)
                words.push(f.file);
            if (f.module)
                words.push(f.module);
        });
        return words;
    }

    /* QUERY (case-insensitive, every space-separated term must appear) against a group. */
    function groupMatches(group, query) {
        var terms = String(query || "").toLowerCase().split(/\s+/).filter(Boolean);
        if (!terms.length)
            return true;
        var words = [];
        group.threads.forEach(function (t) { words = words.concat(threadWords(t)); });
        var hay = words.join("\n").toLowerCase();
        return terms.every(function (term) { return hay.indexOf(term) >= 0; });
    }

    /* The asyncio tasks as a forest: a task's children are the tasks it waits for. Roots:
     * tasks no one waits for, then any task not reached (a cycle: a deadlock). A task already
     * on the path is a reference back ("cycle"), so the tree is finite. */
    function taskForest(tasks) {
        tasks = tasks || [];
        var reached = new Set();
        function build(id, path) {
            var t = tasks[id];
            if (!t)
                return null;
            if (path.has(id))
                return { task: t, cycle: true, children: [] };
            var first = !reached.has(id);
            reached.add(id);
            path.add(id);
            var children = [];
            if (first && path.size <= 64)
                (t.waits_for || []).forEach(function (c) {
                    var n = build(c, path);
                    if (n)
                        children.push(n);
                });
            path.delete(id);
            return { task: t, cycle: false, again: !first, children: children };
        }
        var roots = [];
        tasks.forEach(function (t, i) {
            if (!(t.awaited_by || []).length)
                roots.push(build(i, new Set()));
        });
        tasks.forEach(function (t, i) {
            if (!reached.has(i))
                roots.push(build(i, new Set()));
        });
        return roots;
    }

    /* Deadlock cycles: the sets of tasks marked "deadlock" that wait for each other. */
    function deadlockCycles(tasks) {
        tasks = tasks || [];
        var seen = new Set(), cycles = [];
        tasks.forEach(function (t, i) {
            if (!t.deadlock || seen.has(i))
                return;
            var cycle = [], todo = [i];
            while (todo.length) {
                var j = todo.pop();
                if (seen.has(j) || !tasks[j] || !tasks[j].deadlock)
                    continue;
                seen.add(j);
                cycle.push(j);
                (tasks[j].waits_for || []).forEach(function (k) { todo.push(k); });
                (tasks[j].awaited_by || []).forEach(function (k) { todo.push(k); });
            }
            cycles.push(cycle.sort(function (a, b) { return a - b; }));
        });
        return cycles;
    }

    /* The flame graph tree of a speedscope document (what `record` writes: one profile per
     * thread, "pid P thread T NAME"). ONLY: the index of the one profile to take, or
     * null/undefined for every profile merged. A node: {name, file, total, self, children,
     * parent}. */
    function flameTree(speedscope, only) {
        var frames = (speedscope && speedscope.shared && speedscope.shared.frames) || [];
        var root = { name: "all", file: null, total: 0, self: 0, children: [], parent: null,
                     index: new Map() };
        ((speedscope && speedscope.profiles) || []).forEach(function (p, pi) {
            if (only !== null && only !== undefined && pi !== only)
                return;
            var samples = p.samples || [], weights = p.weights || [];
            for (var s = 0; s < samples.length; s++) {
                var w = Number(weights[s]) || 0, node = root;
                root.total += w;
                var stack = samples[s] || [];
                for (var k = 0; k < stack.length; k++) {
                    var fr = frames[stack[k]] || { name: "?" };
                    var key = fr.name + "\u0000" + (fr.file || "");
                    var child = node.index.get(key);
                    if (!child) {
                        child = { name: fr.name, file: fr.file || null, total: 0, self: 0,
                                  children: [], parent: node, index: new Map() };
                        node.index.set(key, child);
                        node.children.push(child);
                    }
                    child.total += w;
                    node = child;
                }
                node.self += w;
            }
        });
        (function sort(n) { /* widest first, then by name: a stable picture */
            n.children.sort(function (a, b) {
                return b.total - a.total || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
            });
            n.children.forEach(sort);
        })(root);
        return root;
    }

    /* The profiles (threads) of a speedscope document, for a selector: [{index, name,
     * samples}], most samples first (document order among equals). A profile without a name
     * is "profile N". */
    function flameThreads(speedscope) {
        var out = ((speedscope && speedscope.profiles) || []).map(function (p, i) {
            var n = 0;
            (p.weights || []).forEach(function (w) { n += Number(w) || 0; });
            return { index: i, name: p.name ? String(p.name) : "profile " + (i + 1), samples: n };
        });
        return out.sort(function (a, b) { return b.samples - a.samples || a.index - b.index; });
    }

    /* The search of a flame graph: QUERY as a case-insensitive substring of a frame's function
     * or file, or, written /like this/, a regular expression (case-insensitive too).
     * {test(node) -> bool, error: why a /regexp/ is invalid or null, active: a search is on}.
     * The root ("all") never matches. */
    function flameMatcher(query) {
        var q = String(query || "");
        var none = { active: false, error: null, test: function () { return false; } };
        if (!q.trim())
            return none;
        var re = null;
        var m = /^\/(.*)\/$/.exec(q.trim());
        if (m && m[1]) {
            try {
                re = new RegExp(m[1], "i");
            } catch (e) {
                var why = String(e.message);
                return { active: false, test: none.test,
                         error: /^invalid regular expression/i.test(why) ? why : "invalid regular expression: " + why };
            }
        }
        var needle = q.trim().toLowerCase();
        function hit(s) {
            if (s === null || s === undefined)
                return false;
            s = String(s);
            return re ? re.test(s) : s.toLowerCase().indexOf(needle) >= 0;
        }
        return { active: true, error: null,
                 test: function (node) { return !!node.parent && (hit(node.name) || hit(node.file)); } };
    }

    /* What MATCHER finds in TREE: {nodes: the Set of matching nodes, matched: the samples
     * under a matching frame, total: the root's samples}. A sample counts once however many
     * of its frames match (a recursive function: flamegraph.pl's rule): only the outermost
     * match on each path adds its samples. */
    function flameMatch(tree, matcher) {
        var nodes = new Set(), matched = 0;
        if (matcher && matcher.active)
            (function walk(n, inside) {
                var hit = matcher.test(n);
                if (hit) {
                    nodes.add(n);
                    if (!inside)
                        matched += n.total;
                }
                n.children.forEach(function (c) { walk(c, inside || hit); });
            })(tree, false);
        return { nodes: nodes, matched: matched, total: tree.total };
    }

    /* "matched: N of M samples (P%)". */
    function flameMatchLine(r) {
        var pct = r.total ? (100 * r.matched / r.total).toFixed(1) : "0.0";
        return "matched: " + r.matched + " of " + r.total + " sample" + (r.total === 1 ? "" : "s") +
               " (" + pct + "%)";
    }

    /* Boxes to draw with ZOOM (a node of the tree) filling WIDTH: its ancestors as full-width
     * rows above it, its descendants scaled to it; boxes narrower than MIN_WIDTH are left out
     * (their parent shows their time). Each box: {node, depth, x, width}. */
    function flameLayout(zoom, width, minWidth) {
        var boxes = [], chain = [];
        for (var a = zoom; a; a = a.parent)
            chain.unshift(a);
        chain.forEach(function (n, d) { boxes.push({ node: n, depth: d, x: 0, width: width }); });
        if (!zoom.total)
            return boxes;
        var scale = width / zoom.total;
        (function place(n, depth, x) {
            var cx = x;
            n.children.forEach(function (c) {
                var w = c.total * scale;
                if (w >= (minWidth || 0)) {
                    boxes.push({ node: c, depth: depth, x: cx, width: w });
                    place(c, depth + 1, cx);
                }
                cx += w;
            });
        })(zoom, chain.length, 0);
        return boxes;
    }

    function flameLabel(node) {
        return node.file ? node.name + " (" + node.file + ")" : node.name;
    }

    /* "function (file): N samples (P%), self M" as the SVG's titles say it. */
    function flameTitle(node, rootTotal) {
        var pct = rootTotal ? (100 * node.total / rootTotal).toFixed(1) : "0.0";
        return flameLabel(node) + ": " + node.total + " sample" + (node.total === 1 ? "" : "s") +
               " (" + pct + "%), self " + node.self;
    }

    /* The request a thread or task serves, as the text output's line says it:
     * "serving GET /hang?id=42 from 127.0.0.1, HTTP/1.1, Host: example.com"; null for none. */
    function requestLine(r) {
        if (!r || typeof r !== "object")
            return null;
        var s = "serving " + String(r.method || "?") + " " + String(r.path || "");
        if (r.query)
            s += "?" + r.query;
        if (r.remote_addr)
            s += " from " + r.remote_addr;
        if (r.protocol)
            s += ", " + r.protocol;
        if (r.host)
            s += ", Host: " + r.host;
        return s;
    }

    /* Where the page shows a thread: the anchor of snapshot SNAP (an index in a set, or null),
     * thread TID. */
    function threadAnchor(snap, tid) {
        return (snap === null || snap === undefined ? "" : "s" + snap + "-") + "thread-" + tid;
    }

    return {
        displayFrames: displayFrames, localsVariants: localsVariants, pythonFrameCount: pythonFrameCount, groupThreads: groupThreads,
        groupMatches: groupMatches, taskForest: taskForest, deadlockCycles: deadlockCycles,
        flameTree: flameTree, flameThreads: flameThreads, flameMatcher: flameMatcher,
        flameMatch: flameMatch, flameMatchLine: flameMatchLine, flameLayout: flameLayout, flameLabel: flameLabel,
        flameTitle: flameTitle, threadAnchor: threadAnchor, requestLine: requestLine
    };
})();

if (typeof module !== "undefined" && module.exports)
    module.exports = pysnapModel;

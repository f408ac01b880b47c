/* The page: builds the DOM of a report from the --json documents. Three entry points, each
 * independent of where the JSON came from (the data elements of a page pysnap wrote, or a
 * viewer that makes the documents in the browser):
 *   render(doc, root)                      one snapshot (analyze --json)
 *   renderSet(docs, summary, profile, root) several: the summary (analyze --summary --json),
 *                                          a flame graph (speedscope document) and each snapshot
 *   renderProfile(profile, title, root)    a sampling profile (record): the flame graph
 * Every string of the data goes in as text (textContent, text nodes, attribute values), never
 * as markup. The logic without DOM is pysnapModel (model.js). */
"use strict";

var pysnapReport = (function (M) {
    /* h("div", {className: "x", id: "y"}, child, "text", [more]): an element; strings become
     * text nodes, null and false are skipped. */
    function h(tag, props) {
        var e = document.createElement(tag);
        if (props)
            Object.keys(props).forEach(function (k) {
                var v = props[k];
                if (v === null || v === undefined || v === false)
                    return;
                if (k === "className" || k === "textContent" || k === "hidden" || k === "open" ||
                    k === "type" || k === "placeholder" || k === "checked" || k === "title" ||
                    k === "colSpan")
                    e[k] = v;
                else
                    e.setAttribute(k, String(v));
            });
        for (var i = 2; i < arguments.length; i++)
            append(e, arguments[i]);
        return e;
    }

    function append(e, c) {
        if (c === null || c === undefined || c === false)
            return;
        if (Array.isArray(c))
            c.forEach(function (x) { append(e, x); });
        else if (typeof c === "object")
            e.appendChild(c);
        else
            e.appendChild(document.createTextNode(String(c)));
    }

    function badge(text, cls, title) {
        return h("span", { className: "badge " + (cls || ""), title: title || null }, text);
    }

    function threadLink(snap, tid, label) {
        return h("a", { href: "#" + M.threadAnchor(snap, Number(tid) >>> 0) }, label);
    }

    function threadLabel(t) {
        return "thread " + t.tid + (t.name ? " \u201c" + t.name + "\u201d" : "");
    }

    function findThread(interp, tid) {
        var ts = (interp && interp.threads) || [];
        for (var i = 0; i < ts.length; i++)
            if (ts[i].tid === tid)
                return ts[i];
        return null;
    }

    /* ---- header ---- */

    function field(dl, name, value) {
        if (value === null || value === undefined || value === "")
            return;
        dl.appendChild(h("dt", null, name));
        dl.appendChild(h("dd", null, value));
    }

    function gilText(interp, snap) {
        var g = interp.gil;
        if (!g)
            return "unknown";
        if (g.locked && g.holder_tid !== null) {
            var t = findThread(interp, g.holder_tid);
            return ["held by ", threadLink(snap, g.holder_tid, t ? threadLabel(t) : "thread " + g.holder_tid)];
        }
        return g.locked ? "locked" : "free";
    }

    function gcText(interp, snap) {
        var g = interp.gc;
        if (!g)
            return "unknown";
        if (!g.collecting)
            return "not collecting";
        return g.collector_tid !== null ? ["collecting in ", threadLink(snap, g.collector_tid, "thread " + g.collector_tid)]
                                        : "collecting";
    }

    function renderHeader(doc, snap) {
        var t = doc.target || {}, s = doc.snapshot || {}, py = t.python || {};
        var dl = h("dl", { className: "meta" });
        field(dl, "Process", String(t.pid));
        field(dl, "Command", t.cmdline);
        field(dl, "Executable", t.exe);
        field(dl, "Host", t.host);
        field(dl, "Python", [py.version || "?", " (", py.implementation || "cpython", ")",
                             py.path ? " " + py.path : ""]);
        field(dl, s.source === "elf-core" ? "Core written" : "Captured", t.captured_at);
        if (s.source !== "elf-core")
            field(dl, "Pause", (t.pause_us / 1000).toFixed(3) + " ms");
        var interps = doc.interpreters || [];
        interps.forEach(function (interp) {
            var sfx = interps.length > 1 ? " (interpreter " + interp.id + ")" : "";
            field(dl, "GIL" + sfx, gilText(interp, snap));
            field(dl, "GC" + sfx, gcText(interp, snap));
        });
        field(dl, "Snapshot", ["format " + s.format + ", written by pysnap " + (s.tool_version || "?"),
                               s.source && s.source !== "pysnap" ? ", from " + s.source : "",
                               s.locals === false ? ", without locals" : ""]);
        field(dl, "Report", "pysnap " + ((doc.pysnap && doc.pysnap.version) || "?"));
        var out = [dl];
        if (s.partial)
            out.push(h("p", { className: "warning" }, "PARTIAL snapshot: ",
                       s.partial_reason || "capture ended early"));
        (doc.warnings || []).forEach(function (w) { out.push(h("p", { className: "warning" }, w)); });
        return out;
    }

    /* ---- stacks and locals ---- */

    function baseName(path) {
        var s = String(path || "");
        var i = s.lastIndexOf("/");
        return i >= 0 ? s.slice(i + 1) : s;
    }

    function hex(n) {
        return "0x" + Number(n || 0).toString(16);
    }

    function frameLine(f) {
        if (f.kind === "python")
            return h("span", { className: "frame py" },
                     "File \"", h("span", { className: "file" }, f.file || "?"),
                     "\", line ", h("span", { className: "line" }, String(f.line)),
                     ", in ", h("span", { className: "fn" }, f.function || "?"));
        var where = f.function ? f.function + "+" + hex(f.offset) : f.module ? "???" : hex(f.offset);
        return h("span", { className: "frame native" }, "(C) ",
                 h("span", { className: "fn" }, where),
                 f.module ? " (" + baseName(f.module) + (f.function ? "" : "+" + hex(f.offset)) + ")" : "");
    }

    function valueRows(tbody, name, v, depth) {
        var flags = [];
        if (v.truncated)
            flags.push(badge("cut", "cut", "the value was cut at capture (length, items or depth limit)"));
        if (v.redacted)
            flags.push(badge("redacted", "redacted", "the name matched --redact: the value was never read"));
        if (v.kind && v.kind !== "local")
            flags.push(badge(v.kind, "kind"));
        tbody.appendChild(h("tr", { className: depth ? "attr" : null },
                            h("td", { className: "name" }, name),
                            h("td", { className: "type" }, v.type || ""),
                            h("td", { className: "repr" }, h("code", null, v.unbound ? "<unbound>" : v.repr)),
                            h("td", { className: "flags" }, flags)));
        if (v.attributes && depth < 8)
            Object.keys(v.attributes).forEach(function (a) {
                valueRows(tbody, name + "." + a, v.attributes[a], depth + 1);
            });
    }

    function localsTable(locals, truncated) {
        var names = Object.keys(locals || {});
        var tbody = h("tbody");
        names.forEach(function (n) { valueRows(tbody, n, locals[n], 0); });
        var table = h("table", { className: "locals" },
                      h("thead", null, h("tr", null, h("th", null, "name"), h("th", null, "type"), h("th", null, "repr"), h("th", null, ""))),
                      tbody);
        return [names.length ? table : h("p", { className: "none" }, "(no locals)"),
                truncated ? h("p", { className: "note" }, "\u2026 more locals not captured (limit)") : null];
    }

    /* Frame K of GROUP, with its locals folded (built when first unfolded: a page of 200
     * threads does not build 200 tables it may never show). */
    function frameItem(group, k, f, opts) {
        var li = h("li", null);
        if (f.kind !== "python" || !opts.locals) {
            li.appendChild(frameLine(f));
            return li;
        }
        var variants = M.localsVariants(group, k, opts.native);
        var n = 0;
        variants.forEach(function (v) { n = Math.max(n, Object.keys(v.locals).length); });
        if (!n && !variants.some(function (v) { return v.truncated; })) {
            li.appendChild(frameLine(f));
            return li;
        }
        var body = h("div", { className: "locals-body" });
        var det = h("details", { className: "frame-locals" },
                    h("summary", null, frameLine(f), h("span", { className: "count" },
                      " " + n + " local" + (n === 1 ? "" : "s") + (variants.length > 1 ? ", " + variants.length + " variants" : ""))),
                    body);
        det.addEventListener("toggle", function () {
            if (!det.open || body.firstChild)
                return;
            variants.forEach(function (v) {
                if (variants.length > 1)
                    append(body, h("p", { className: "variant" }, v.threads.map(function (t) { return threadLabel(t); }).join(", ")));
                append(body, localsTable(v.locals, v.truncated));
            });
        });
        li.appendChild(det);
        return li;
    }

    function stateText(t) {
        var s = String(t.state || "unknown").replace(/_/g, " ");
        return t.syscall && t.state === "sleeping" ? s + " in " + t.syscall : s;
    }

    function threadCard(group, snap, opts) {
        var t = group.threads[0], n = group.threads.length;
        var names = [];
        group.threads.forEach(function (x) {
            if (x.name && names.indexOf(x.name) < 0)
                names.push(x.name);
        });
        var title = h("h3", null,
                      n > 1 ? h("span", { className: "times", title: n + " threads with this stack" }, "\u00d7" + n) : null,
                      h("span", { className: "tname" }, names.length ? (names.length > 3 ? names.slice(0, 3).join(", ") + ", \u2026" : names.join(", ")) : "(no name)"));
        var tids = h("div", { className: "tids" }, n > 1 ? "threads " : "thread ");
        group.threads.forEach(function (x, i) {
            if (i)
                tids.appendChild(document.createTextNode(", "));
            tids.appendChild(h("span", { className: "tid", id: M.threadAnchor(snap, x.tid >>> 0),
                                         title: x.name || null }, String(x.tid)));
            if (x.ns_tid !== undefined && x.ns_tid !== null && x.ns_tid !== x.tid)
                tids.appendChild(h("span", { className: "nstid", title: "its id in the target's pid namespace" },
                                   " (" + x.ns_tid + " in the container)"));
        });
        var badges = h("div", { className: "badges" },
                       badge(stateText(t), "state " + String(t.state || "")),
                       t.holds_gil ? badge("holds the GIL", "gil") : null,
                       t.daemon === true ? badge("daemon", "daemon") : null,
                       t.python === false ? badge("not a Python thread", "nopy") : null);
        var card = h("section", { className: "thread" + (t.holds_gil ? " holds-gil" : "") },
                     h("header", null, title, tids, badges));
        group.threads.forEach(function (x) {
            var line = M.requestLine(x.request);
            if (line)
                card.appendChild(h("p", { className: "request", title: "found by " + ((x.request.found_by || {}).source || "?") },
                                   n > 1 ? "thread " + x.tid + ": " + line : line));
        });
        if (opts.native && (t.pc_instruction || t.syscall))
            card.appendChild(h("p", { className: "note" },
                               t.syscall ? "in system call " + t.syscall : "",
                               t.syscall && t.pc_instruction ? "; " : "",
                               t.pc_instruction ? "at instruction: " + t.pc_instruction : ""));
        var frames = M.displayFrames(t, opts.native);
        if (!frames.length) {
            card.appendChild(h("p", { className: "none" }, opts.native ? "(no frames)" : "(no Python frames)"));
        } else {
            card.appendChild(h("p", { className: "tb-head" },
                               opts.native ? "Stack, native and Python (most recent call last):"
                                           : "Traceback (most recent call last):"));
            var ol = h("ol", { className: "stack" });
            if (t.frames_truncated || (opts.native && t.native_cut))
                ol.appendChild(h("li", { className: "note" }, "\u2026 older frames not captured (limit)"));
            frames.forEach(function (f, k) { ol.appendChild(frameItem(group, k, f, opts)); });
            card.appendChild(ol);
        }
        if (t.error)
            card.appendChild(h("p", { className: "warning" }, "stack incomplete: " + t.error));
        return card;
    }

    /* ---- asyncio tasks ---- */

    function taskNode(node, tasks, snap) {
        var t = node.task;
        var li = h("li", { className: "task" + (t.deadlock ? " deadlock" : "") },
                   h("span", { className: "task-name" }, t.name || "?"), " ",
                   badge(t.state + (t.running ? ", running" : ""), "state"),
                   t.deadlock ? badge("deadlock", "deadlock") : null,
                   t.thread_tid !== null && t.thread_tid !== undefined
                       ? [" on ", threadLink(snap, t.thread_tid, "thread " + t.thread_tid)] : null,
                   t.awaiting ? h("span", { className: "awaits" }, " awaits ", t.awaiting.type || "?",
                                  t.awaiting.task !== null && tasks[t.awaiting.task]
                                      ? " (task \u201c" + (tasks[t.awaiting.task].name || "?") + "\u201d)" : "") : null,
                   node.cycle ? h("span", { className: "cycle" }, " \u21ba waits for a task above: a cycle") : null,
                   node.again ? h("span", { className: "note" }, " (shown above)") : null);
        var req = M.requestLine(t.request);
        if (req)
            li.appendChild(h("p", { className: "request" }, req));
        if (!node.cycle && !node.again && (t.coroutine_chain || []).length) {
            var ol = h("ol", { className: "stack" });
            t.coroutine_chain.forEach(function (f) { ol.appendChild(h("li", null, frameLine(f))); });
            li.appendChild(h("details", { className: "chain" }, h("summary", null, "coroutine chain (" + t.coroutine_chain.length + ")"), ol));
        }
        if (t.error)
            li.appendChild(h("p", { className: "warning" }, "task incomplete: " + t.error));
        if (node.children.length) {
            var ul = h("ul", null);
            node.children.forEach(function (c) { ul.appendChild(taskNode(c, tasks, snap)); });
            li.appendChild(ul);
        }
        return li;
    }

    function renderTasks(interp, snap) {
        var tasks = interp.tasks || [];
        if (!tasks.length && !interp.tasks_error)
            return null;
        var sec = h("section", { className: "tasks" }, h("h2", null, "asyncio tasks (" + tasks.length + ")"));
        if (interp.tasks_error)
            sec.appendChild(h("p", { className: "warning" }, "task list incomplete: " + interp.tasks_error));
        M.deadlockCycles(tasks).forEach(function (c) {
            var names = c.map(function (i) { return "\u201c" + (tasks[i].name || "?") + "\u201d"; });
            sec.appendChild(h("p", { className: "deadlock-line" }, badge("DEADLOCK", "deadlock"),
                              " " + c.length + " tasks wait for each other in a cycle: " + names.join(" \u2192 ")));
        });
        var ul = h("ul", { className: "task-tree" });
        M.taskForest(tasks).forEach(function (n) { ul.appendChild(taskNode(n, tasks, snap)); });
        sec.appendChild(ul);
        return sec;
    }

    /* ---- one snapshot's threads, with the toolbar that filters them ---- */

    function threadList(interp, snap, opts) {
        var list = h("div", { className: "threads" });
        var views = M.groupThreads(interp.threads || [], opts.native).map(function (g) {
            var card = threadCard(g, snap, opts);
            list.appendChild(card);
            return { group: g, card: card };
        });
        return { element: list, views: views };
    }

    /* A snapshot's body, re-rendered when the native switch changes; FILTER() applies the
     * query. Returns {element, apply(query) -> [shown, total]}. */
    function snapshotBody(doc, snap, opts) {
        var box = h("div", { className: "snapshot-body" });
        var lists = [];
        function build() {
            box.textContent = "";
            lists = [];
            var interps = doc.interpreters || [];
            interps.forEach(function (interp) {
                if (interps.length > 1)
                    box.appendChild(h("h2", null, "Interpreter " + interp.id));
                var tl = threadList(interp, snap, opts);
                lists.push(tl);
                box.appendChild(h("h2", { className: "threads-head" }, "Threads (" + (interp.threads || []).length + ")"));
                box.appendChild(tl.element);
                var tasks = renderTasks(interp, snap);
                if (tasks)
                    box.appendChild(tasks);
            });
        }
        build();
        return {
            element: box,
            rebuild: build,
            apply: function (query) {
                var shown = 0, total = 0;
                lists.forEach(function (tl) {
                    tl.views.forEach(function (v) {
                        var ok = M.groupMatches(v.group, query);
                        v.card.hidden = !ok;
                        total += v.group.threads.length;
                        shown += ok ? v.group.threads.length : 0;
                    });
                });
                return [shown, total];
            }
        };
    }

    function toolbar(bodies, opts) {
        var input = h("input", { type: "search", className: "filter", placeholder: "filter: thread name, function, file",
                                 "aria-label": "filter threads" });
        var native = h("input", { type: "checkbox", className: "native-switch" });
        var count = h("span", { className: "shown" });
        var expand = h("button", { type: "button", className: "expand" }, "unfold all locals");
        function apply() {
            var shown = 0, total = 0;
            bodies.forEach(function (b) {
                var r = b.apply(input.value);
                shown += r[0];
                total += r[1];
            });
            count.textContent = shown === total ? total + (total === 1 ? " thread" : " threads")
                                                : shown + " of " + total + " threads";
        }
        input.addEventListener("input", apply);
        native.addEventListener("change", function () {
            opts.native = native.checked;
            bodies.forEach(function (b) { b.rebuild(); });
            apply();
        });
        expand.addEventListener("click", function () {
            var open = expand.textContent === "unfold all locals";
            document.querySelectorAll("details.frame-locals").forEach(function (d) {
                if (!d.closest("[hidden]"))
                    d.open = open;
            });
            expand.textContent = open ? "fold all locals" : "unfold all locals";
        });
        var bar = h("div", { className: "toolbar" }, input, " ",
                    h("label", null, native, " native frames"), " ", expand, " ", count);
        apply();
        return bar;
    }

    function rootOf(root) {
        root = root || document.getElementById("app") || document.body;
        root.textContent = "";
        return root;
    }

    /* "Process PID: COMMAND" with the command cut to a line (the header has all of it). */
    function snapshotTitle(doc) {
        var t = doc.target || {}, cmd = String(t.cmdline || "");
        if (cmd.length > 90)
            cmd = cmd.slice(0, 89) + "\u2026";
        return "Process " + t.pid + (cmd ? ": " + cmd : "");
    }

    function render(doc, root) {
        root = rootOf(root);
        var opts = { native: false, locals: true };
        var body = snapshotBody(doc, null, opts);
        append(root, [h("h1", null, "pysnap: ", snapshotTitle(doc)), renderHeader(doc, null), toolbar([body], opts), body.element]);
        document.title = "pysnap: " + snapshotTitle(doc);
        return root;
    }

    /* ---- flame graph ---- */

    var FLAME_WIDTH = 1200, ROW = 18, SVGNS = "http://www.w3.org/2000/svg";

    function svg(tag, attrs) {
        var e = document.createElementNS(SVGNS, tag);
        Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
        return e;
    }

    /* An interactive flame graph of a speedscope document: click a box to zoom into it (the
     * top rows go back out), hover for counts; a search box highlights the frames that match
     * and says the share of samples under them; with several threads, a selector draws one
     * thread's samples only. Escape in the search box clears it and resets the zoom. */
    function flameGraph(profile) {
        var trees = new Map(); /* by profile index ("all": every thread), built when chosen */
        function treeOf(which) {
            if (!trees.has(which))
                trees.set(which, M.flameTree(profile, which === "all" ? null : which));
            return trees.get(which);
        }
        var tree = treeOf("all"), zoom = tree;
        var wrap = h("div", { className: "flame" });
        var status = h("p", { className: "flame-status" }, "");
        var reset = h("button", { type: "button", className: "flame-reset" }, "reset zoom");
        var search = h("input", { type: "search", className: "flame-search", placeholder: "search: function or file, /regexp/",
                                  "aria-label": "search the flame graph" });
        var searchNote = h("span", { className: "flame-search-note" }, "");
        var matchedLine = h("p", { className: "flame-matched", hidden: true }, "");
        var threads = M.flameThreads(profile);
        var select = null;
        if (threads.length > 1) {
            select = h("select", { className: "flame-thread", "aria-label": "thread" },
                       h("option", { value: "all" }, "all threads (" + tree.total + " samples)"));
            threads.forEach(function (t) {
                select.appendChild(h("option", { value: String(t.index) },
                                     t.name + " (" + t.samples + " sample" + (t.samples === 1 ? "" : "s") + ")"));
            });
        }
        var picture = svg("svg", { width: "100%", preserveAspectRatio: "none", role: "img" });
        function draw(z) {
            zoom = z;
            picture.textContent = "";
            var matcher = M.flameMatcher(search.value);
            searchNote.textContent = matcher.error || "";
            searchNote.className = "flame-search-note" + (matcher.error ? " warning" : "");
            var found = M.flameMatch(tree, matcher);
            matchedLine.hidden = !matcher.active;
            matchedLine.textContent = matcher.active ? M.flameMatchLine(found) : "";
            var boxes = M.flameLayout(zoom, FLAME_WIDTH, 0.5);
            var depth = 0;
            boxes.forEach(function (b) { depth = Math.max(depth, b.depth + 1); });
            picture.setAttribute("viewBox", "0 0 " + FLAME_WIDTH + " " + Math.max(depth, 1) * ROW);
            picture.setAttribute("height", String(Math.max(depth, 1) * ROW));
            boxes.forEach(function (b) {
                var hit = found.nodes.has(b.node);
                var g = svg("g", { "class": "box" + (b.node === zoom ? " zoomed" : "") + (b.node.parent ? "" : " root") +
                                            (matcher.active ? (hit ? " match" : " dim") : "") });
                var hue = b.node.parent ? 20 + (hash(b.node.name) % 40) : 0;
                var r = svg("rect", { x: b.x.toFixed(2), y: b.depth * ROW, width: Math.max(b.width - 0.5, 0.3).toFixed(2),
                                      height: ROW - 1,
                                      fill: hit ? "hsl(300,80%,55%)" : b.node.parent ? "hsl(" + hue + ",85%,62%)" : "#bbb" });
                var tip = svg("title");
                tip.textContent = M.flameTitle(b.node, tree.total);
                g.appendChild(tip);
                g.appendChild(r);
                var chars = Math.floor((b.width - 6) / 7);
                if (chars >= 3) {
                    var label = M.flameLabel(b.node);
                    var t = svg("text", { x: (b.x + 3).toFixed(2), y: b.depth * ROW + ROW - 5 });
                    t.textContent = label.length > chars ? label.slice(0, chars - 1) + "\u2026" : label;
                    g.appendChild(t);
                }
                g.addEventListener("click", function () { draw(b.node); });
                g.addEventListener("mouseenter", function () { status.textContent = M.flameTitle(b.node, tree.total); });
                picture.appendChild(g);
            });
            status.textContent = zoom.parent ? "zoomed: " + M.flameTitle(zoom, tree.total)
                                             : tree.total + " thread-samples; click a box to zoom, hover for counts";
        }
        reset.addEventListener("click", function () { draw(tree); });
        search.addEventListener("input", function () { draw(zoom); });
        search.addEventListener("keydown", function (e) {
            if (e.key !== "Escape")
                return;
            e.preventDefault(); /* ours, not the search field's own clearing: one redraw */
            search.value = "";
            draw(tree);
        });
        if (select)
            select.addEventListener("change", function () {
                tree = treeOf(select.value === "all" ? "all" : Number(select.value));
                draw(tree); /* a zoomed node belongs to the tree drawn before */
            });
        if (!tree.total) {
            wrap.appendChild(h("p", { className: "none" }, "(no thread-samples on CPU)"));
            return wrap;
        }
        draw(tree);
        append(wrap, [h("div", { className: "flame-bar" }, select, select ? " " : null, search, " ", searchNote, " ", reset, " ", status),
                      matchedLine, picture]);
        return wrap;
    }

    function hash(s) {
        var x = 0;
        s = String(s);
        for (var i = 0; i < s.length; i++)
            x = (x * 31 + s.charCodeAt(i)) >>> 0;
        return x;
    }

    function renderProfile(profile, title, root) {
        root = rootOf(root);
        var name = title || (profile && profile.name) || "profile";
        append(root, [h("h1", null, "pysnap: ", name), h("section", { className: "flame-section" }, flameGraph(profile))]);
        document.title = "pysnap: " + name;
        return root;
    }

    /* ---- several snapshots ---- */

    function snapshotFor(docs, pid, tid) {
        for (var i = 0; i < docs.length; i++) {
            var d = docs[i];
            if (!d.target || d.target.pid !== pid)
                continue;
            var found = (d.interpreters || []).some(function (it) { return findThread(it, tid); });
            if (found)
                return i;
        }
        return null;
    }

    function renderSummary(summary, docs) {
        var s = summary.summary || summary;
        var sec = h("section", { className: "summary" }, h("h2", null, "Summary"));
        sec.appendChild(h("p", null, s.snapshots + " snapshot" + (s.snapshots === 1 ? "" : "s") + " of " +
                          s.processes + " process" + (s.processes === 1 ? "" : "es") + ": " + s.thread_samples +
                          " thread-samples with Python frames, " + s.on_cpu + " on CPU" +
                          (s.baseline ? " (" + s.set_aside + " set aside: the same stack as at baseline)" : "")));
        sec.appendChild(h("h3", null, "Hottest functions (thread-samples on CPU)"));
        var hot = s.hot || [];
        if (!hot.length) {
            sec.appendChild(h("p", { className: "none" }, "(no thread was on CPU)"));
        } else {
            var tb = h("tbody");
            hot.slice(0, 50).forEach(function (x) {
                tb.appendChild(h("tr", null, h("td", { className: "num" }, String(x.self)), h("td", { className: "num" }, String(x.inclusive)),
                                 h("td", { className: "fn" }, x.function || "?"), h("td", { className: "file" }, x.file || "?")));
            });
            sec.appendChild(h("table", { className: "hot" }, h("thead", null, h("tr", null, h("th", null, "self"), h("th", null, "total"),
                                                                 h("th", null, "function"), h("th", null, "file"))), tb));
        }
        return sec;
    }

    /* The threads of the summary: which frames stayed the same over the snapshots. */
    function renderSummaryThreads(summary, docs) {
        var s = summary.summary || summary;
        var sec = h("section", { className: "summary", id: "stuck" }, h("h2", null, "Threads: the frames that stayed the same"));
        var tt = h("tbody");
        (s.threads || []).forEach(function (t) {
            var snap = snapshotFor(docs, t.pid, t.tid);
            var innermost = (t.same || [])[0];
            var verdict = t.stuck ? badge("STUCK", "stuck", "the whole stack never changed") :
                          t.samples < 2 ? "one sample" : t.same_frames + " of " + t.min_depth + "\u2013" + t.max_depth + " frames the same";
            tt.appendChild(h("tr", null,
                             h("td", { className: "num" }, String(t.pid)),
                             h("td", null, snap === null ? String(t.tid) : threadLink(snap, t.tid, String(t.tid))),
                             h("td", null, t.name || ""),
                             h("td", { className: "num samples" }, t.samples + " (" + t.on_cpu + " on CPU)"),
                             h("td", null, verdict, t.unchanged_since_baseline ? badge("as at baseline", "base") : null),
                             h("td", null, innermost && t.samples > 1 ? frameLine(Object.assign({ kind: "python" }, innermost)) : "")));
        });
        sec.appendChild(h("table", { className: "summary-threads" },
                          h("thead", null, h("tr", null, h("th", null, "pid"), h("th", null, "tid"), h("th", null, "name"),
                                               h("th", null, "samples"), h("th", null, "same"), h("th", null, "innermost frame that stayed"))),
                          tt));
        return sec;
    }

    function renderSet(docs, summary, profile, root) {
        root = rootOf(root);
        docs = docs || [];
        var opts = { native: false, locals: true };
        var pids = new Set(docs.map(function (d) { return d.target && d.target.pid; }));
        var title = docs.length + " snapshot" + (docs.length === 1 ? "" : "s") + " of " + pids.size + " process" + (pids.size === 1 ? "" : "es");
        append(root, h("h1", null, "pysnap: ", title));
        var nav = h("nav", { className: "toc" }, h("a", { href: "#summary" }, "summary"), " \u00b7 ",
                    h("a", { href: "#flame" }, "flame graph"), " \u00b7 ", h("a", { href: "#stuck" }, "stuck threads"));
        append(root, nav);
        if (summary) {
            var sum = renderSummary(summary, docs);
            sum.id = "summary";
            append(root, sum);
        }
        if (profile)
            append(root, h("section", { className: "flame-section", id: "flame" },
                           h("h2", null, "Flame graph: the threads on CPU, all snapshots"), flameGraph(profile)));
        if (summary)
            append(root, renderSummaryThreads(summary, docs));
        var bodies = docs.map(function (d, i) { return snapshotBody(d, i, opts); });
        var snaps = docs.map(function (d, i) {
            nav.appendChild(document.createTextNode(" \u00b7 "));
            nav.appendChild(h("a", { href: "#snapshot-" + i }, "#" + (i + 1)));
            return h("section", { className: "snapshot", id: "snapshot-" + i },
                     h("h2", null, "Snapshot " + (i + 1) + ": ", snapshotTitle(d),
                       d.target && d.target.captured_at ? " at " + d.target.captured_at : ""),
                     h("details", { className: "snap-meta" }, h("summary", null, "details"), renderHeader(d, i)),
                     bodies[i].element);
        });
        append(root, [h("h2", null, "Snapshots"), toolbar(bodies, opts), snaps]);
        document.title = "pysnap: " + title;
        return root;
    }

    /* One data element's document: its JSON, or (data-encoding="gzip-base64") gzip in
     * base64, decompressed by the browser (DecompressionStream). A promise. */
    function readData(node) {
        var text = node.textContent;
        if (node.getAttribute("data-encoding") !== "gzip-base64")
            return Promise.resolve().then(function () { return JSON.parse(text); });
        if (typeof DecompressionStream === "undefined")
            return Promise.reject(new Error("this browser has no DecompressionStream (a browser of 2023 or later has)"));
        var bin = atob(text), bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++)
            bytes[i] = bin.charCodeAt(i);
        var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
        return new Response(stream).text().then(function (t) { return JSON.parse(t); });
    }

    /* The data elements pysnap writes into a page: script elements of type
     * application/json with data-pysnap="snapshot", "summary" or "profile". */
    function boot() {
        var nodes = Array.prototype.slice.call(document.querySelectorAll('script[type="application/json"][data-pysnap]'));
        if (!nodes.length)
            return Promise.resolve();
        return Promise.all(nodes.map(readData)).then(function (all) {
            var docs = [], summary = null, profile = null;
            nodes.forEach(function (n, i) {
                var kind = n.getAttribute("data-pysnap");
                if (kind === "snapshot")
                    docs.push(all[i]);
                else if (kind === "summary")
                    summary = all[i];
                else if (kind === "profile")
                    profile = all[i];
            });
            if (!docs.length && profile)
                renderProfile(profile, null);
            else if (docs.length === 1 && !summary && !profile)
                render(docs[0]);
            else
                renderSet(docs, summary, profile);
        }, function (e) {
            rootOf().appendChild(h("p", { className: "warning" }, "cannot read the report's data: " + e.message));
        });
    }

    return { render: render, renderSet: renderSet, renderProfile: renderProfile, boot: boot };
})(pysnapModel);

if (typeof document !== "undefined" && document.getElementById("app"))
    pysnapReport.boot();

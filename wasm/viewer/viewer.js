/* The viewer: .snap files picked or dropped -> pysnap's analyzer compiled to WebAssembly
 * (createPysnapAnalyzer, wasm/main.c over programs/cmd_analyze.c) runs `analyze -o
 * report.html FILES` over an in-memory file system -> the data elements of that page (the
 * --json documents, the summary, the profile) are moved into this page -> the report's own
 * code (report.js, pysnapReport.boot) draws them. The same C code and the same page code as
 * `pysnap analyze -o report.html`; errors are pysnap's own messages. Each analysis gets a
 * fresh module, so a failure (even an abort) leaves nothing behind and the page stays usable. */
"use strict";

(function () {
    var wasmBinary = null;

    function $(id) { return document.getElementById(id); }

    function wasmBytes() {
        if (!wasmBinary) {
            var bin = atob($("pysnap-wasm").textContent.trim());
            wasmBinary = new Uint8Array(bin.length);
            for (var i = 0; i < bin.length; i++)
                wasmBinary[i] = bin.charCodeAt(i);
        }
        return wasmBinary;
    }

    function showErrors(lines) {
        var e = $("errors");
        e.textContent = lines.join("\n");
        e.hidden = !lines.length;
    }

    function status(text) { $("status").textContent = text; }

    /* The names as pysnap sees them: the file's own name, in a directory of its own when two
     * files have the same name. */
    function placeFiles(FS, files) {
        FS.mkdir("/work");
        FS.chdir("/work");
        var seen = new Set();
        return files.map(function (f, i) {
            var name = f.name;
            if (seen.has(name)) {
                FS.mkdir("/work/" + i);
                name = i + "/" + name;
            }
            seen.add(f.name);
            return name;
        });
    }

    function readAll(files) {
        return Promise.all(files.map(function (f) {
            return f.arrayBuffer().then(function (b) { return new Uint8Array(b); });
        }));
    }

    /* Runs the analyzer over FILES; resolves to {html, errors}. */
    function analyze(files) {
        var errors = [];
        return createPysnapAnalyzer({
            wasmBinary: wasmBytes(),
            noInitialRun: true,
            print: function () {},
            printErr: function (line) { errors.push(line); },
        }).then(function (mod) {
            var limit = mod._pysnap_max_snapshot_bytes();
            var big = files.filter(function (f) { return f.size > limit; });
            if (big.length) /* refused before copying it in, as the analyzer would refuse it */
                return { html: null, errors: big.map(function (f) {
                    return "pysnap: " + f.name + " is too large to be a snapshot (" + Math.floor(f.size / 1048576) +
                           " MiB; this build reads at most " + Math.floor(limit / 1048576) + " MiB)";
                }) };
            return readAll(files).then(function (datas) {
                var names = placeFiles(mod.FS, files);
                names.forEach(function (n, i) { mod.FS.writeFile(n, datas[i]); });
                datas = null;
                var code;
                try {
                    code = mod.callMain(["-o", "/report.html"].concat(names));
                } catch (e) {
                    errors.push("pysnap: the analyzer stopped: " + (e && e.message ? e.message : e));
                    code = 1;
                }
                var html = null;
                if (code === 0)
                    html = mod.FS.readFile("/report.html", { encoding: "utf8" });
                else if (!errors.length)
                    errors.push("pysnap: analysis failed (exit code " + code + ")");
                return { html: html, errors: errors };
            });
        });
    }

    /* The data elements of the page the analyzer wrote (render_html.c: one line each, their
     * JSON with every '<' as \u003c), into this page as the same inert elements; then the
     * report's own boot draws them. Taken by their exact form rather than by parsing the page:
     * a parsed page's <style> would count against this page's Content-Security-Policy. */
    var DATA = /\x3cscript type="application\/json" data-pysnap="(snapshot|summary|profile)"( data-encoding="gzip-base64")?>([^<]*)\x3c\/script>/g; /* \x3c: "<", which may not be written here */

    function show(html) {
        var holder = $("pysnap-data"), m, n = 0;
        holder.textContent = "";
        DATA.lastIndex = 0;
        while ((m = DATA.exec(html))) {
            var e = document.createElement("script");
            e.setAttribute("type", "application/json");
            e.setAttribute("data-pysnap", m[1]);
            if (m[2])
                e.setAttribute("data-encoding", "gzip-base64");
            e.textContent = m[3];
            holder.appendChild(e);
            n++;
        }
        if (!n)
            return Promise.reject(new Error("the analyzer's page holds no report data"));
        return pysnapReport.boot();
    }

    function open(fileList) {
        var files = Array.prototype.slice.call(fileList || []);
        if (!files.length)
            return Promise.resolve();
        status("analyzing " + files.length + " file" + (files.length === 1 ? "" : "s") + "\u2026");
        showErrors([]);
        var t0 = performance.now();
        return analyze(files).then(function (r) {
            showErrors(r.errors);
            if (!r.html) { /* the last report would read as this one's: gone */
                $("app").textContent = "";
                $("pysnap-data").textContent = "";
                status("nothing to show: see the message below");
                return;
            }
            return show(r.html).then(function () {
                status(files.map(function (f) { return f.name; }).join(", ") + ": analyzed in " +
                       Math.round(performance.now() - t0) + " ms");
                document.body.setAttribute("data-analyzed", String(Number(document.body.getAttribute("data-analyzed") || 0) + 1));
            });
        }).catch(function (e) {
            $("app").textContent = "";
            showErrors(["pysnap viewer: " + (e && e.message ? e.message : e)]);
            status("failed");
        }).then(function () {
            document.body.setAttribute("data-done", String(Number(document.body.getAttribute("data-done") || 0) + 1));
        });
    }

    function boot() {
        var input = $("files"), drop = $("drop");
        input.addEventListener("change", function () {
            open(input.files).then(function () { input.value = ""; });
        });
        ["dragenter", "dragover"].forEach(function (ev) {
            drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
        });
        ["dragleave", "drop"].forEach(function (ev) {
            drop.addEventListener(ev, function () { drop.classList.remove("over"); });
        });
        drop.addEventListener("drop", function (e) {
            e.preventDefault();
            open(e.dataTransfer.files);
        });
        /* a file dropped anywhere else must not make the browser navigate away to it */
        window.addEventListener("dragover", function (e) { e.preventDefault(); });
        window.addEventListener("drop", function (e) { e.preventDefault(); });
        document.body.setAttribute("data-ready", "1");
    }

    boot();
})();

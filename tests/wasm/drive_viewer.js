/* Opens the viewer page (pysnap-viewer.html, from file://) in headless Chromium (Debian's,
 * through playwright-core: tests/browser's package, which downloads no browser), gives it
 * snapshots through its file input as a person would, and prints what the page then shows as
 * JSON for test_wasm.py to check against the native pysnap's --json documents.
 *
 *   node drive_viewer.js VIEWER.html ROUND [ROUND...]
 *
 * A ROUND is a comma-separated list of files picked at once. Output: {console, pageErrors,
 * requests (any URL but the page's own), rounds: [{ms, status, errors, cards: [{tids, names,
 * functions}], text}]} */
"use strict";
const path = require("path");
const { chromium } = require("playwright-core");

async function until(page, fn, arg) {
    for (let i = 0; i < 3000; i++) {
        if (await page.evaluate(fn, arg))
            return;
        await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("timed out waiting for " + fn);
}

async function main() {
    const url = "file://" + path.resolve(process.argv[2]);
    const rounds = process.argv.slice(3).map((r) => r.split(",").map((f) => path.resolve(f)));
    const browser = await chromium.launch({
        executablePath: process.env.PYSNAP_CHROMIUM || "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    const out = { console: [], pageErrors: [], requests: [], rounds: [] };
    try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") out.console.push(m.type() + ": " + m.text()); });
        page.on("pageerror", (e) => out.pageErrors.push(String(e)));
        page.on("request", (r) => { if (r.url() !== url) out.requests.push(r.url()); });
        await context.route("**/*", (route) => {
            if (route.request().url() !== url)
                out.requests.push("routed: " + route.request().url());
            return route.request().url() === url ? route.continue() : route.abort();
        });
        await page.goto(url);
        await until(page, () => document.body.getAttribute("data-ready") === "1");
        for (let i = 0; i < rounds.length; i++) {
            const t0 = Date.now();
            await page.setInputFiles("#files", rounds[i]);
            await until(page, (n) => Number(document.body.getAttribute("data-done") || 0) >= n, i + 1);
            const ms = Date.now() - t0;
            const seen = await page.evaluate(() => ({
                status: document.getElementById("status").textContent,
                errors: document.getElementById("errors").hidden ? "" : document.getElementById("errors").textContent,
                cards: Array.from(document.querySelectorAll("#app section.thread")).map((c) => ({
                    tids: Array.from(c.querySelectorAll(".tid")).map((t) => Number(t.textContent)),
                    names: Array.from(c.querySelectorAll(".tname")).map((t) => t.textContent),
                    functions: Array.from(c.querySelectorAll(".frame .fn")).map((f) => f.textContent),
                })),
                text: document.getElementById("app").innerText,
            }));
            seen.ms = ms;
            out.rounds.push(seen);
        }
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });

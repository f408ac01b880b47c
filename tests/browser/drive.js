/* Opens a pysnap HTML report in headless Chromium (Debian's, through playwright-core, which
 * downloads no browser), does what a person would, and prints what it saw as JSON for the
 * test (test_html_report.py) to check against the truth.
 *
 *   node drive.js PAGE.html [--filter QUERY] [--width W] [--height H]
 *                 [--flame-search QUERY] [--flame-thread TEXT]
 *                 [--screenshot PNG [--unfold FUNCTION] [--scroll SELECTOR]]
 *
 * Output: {console: [...errors], pageErrors, requests (every URL but the page's own),
 * dialogs, imgs, text (innerText with scripts), noscriptText (scripts off), timing
 * {domContentLoaded, firstContentfulPaint, render}, cards [{tids, names, functions, requests}],
 * locals {frame, rows}, filter {query, shownThreads, cardsShown, cardsTotal, count},
 * flame {boxes, zoomedBoxes, status, zoomedLabel}, flameSearch {all, zoomed, escaped, invalid,
 * cleared}, flameThreads [option labels], flameThread {label, shown, search, back}: each a
 * state of the flame graph {boxes, titles, matches, dimmed, matched, note, search, zoomed,
 * status}} */
"use strict";
const path = require("path");
const { chromium } = require("playwright-core");

function arg(name, def) {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
}

/* FN true in the page, polled (page.waitForFunction evaluates a string there, which the
 * page's Content-Security-Policy forbids, as it should). */
async function until(page, fn) {
    for (let i = 0; i < 500; i++) {
        if (await page.evaluate(fn))
            return;
        await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("timed out waiting for " + fn);
}

async function main() {
    const page_path = path.resolve(process.argv[2]);
    const url = "file://" + page_path;
    const browser = await chromium.launch({
        executablePath: process.env.PYSNAP_CHROMIUM || "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    const out = { console: [], pageErrors: [], requests: [], dialogs: [] };
    try {
        const context = await browser.newContext({ viewport: { width: Number(arg("--width", 1280)), height: Number(arg("--height", 900)) } });
        const page = await context.newPage();
        page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") out.console.push(m.type() + ": " + m.text()); });
        page.on("pageerror", (e) => out.pageErrors.push(String(e)));
        page.on("request", (r) => { if (r.url() !== url) out.requests.push(r.url()); });
        page.on("dialog", async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
        await context.route("**/*", (route) => {
            if (route.request().url() !== url)
                out.requests.push("routed: " + route.request().url());
            return route.request().url() === url ? route.continue() : route.abort();
        });
        /* when the page's script first puts something into #app (its render), from the
         * start of navigation: an observer set up before any of the page runs */
        await page.addInitScript(() => {
            new MutationObserver((_, obs) => {
                const app = document.getElementById("app");
                if (app && app.firstChild) {
                    window.__pysnapRendered = performance.now();
                    obs.disconnect();
                }
            }).observe(document, { childList: true, subtree: true });
        });
        const t0 = Date.now();
        await page.goto(url, { waitUntil: "load" });
        await until(page, () => document.querySelector("#app > *") !== null &&
                                 performance.getEntriesByName("first-contentful-paint").length > 0);
        out.timing = await page.evaluate(() => {
            const nav = performance.getEntriesByType("navigation")[0];
            const fcp = performance.getEntriesByName("first-contentful-paint")[0];
            return { domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
                     firstContentfulPaint: fcp ? fcp.startTime : null,
                     rendered: window.__pysnapRendered || null };
        });
        out.timing.wall = Date.now() - t0;
        /* every link within the page leads somewhere: GIL holder, task threads, summary rows */
        out.links = await page.evaluate(() => Array.from(document.querySelectorAll('a[href^="#"]')).map((a) => a.getAttribute("href")));
        out.brokenLinks = await page.evaluate(() => Array.from(document.querySelectorAll('a[href^="#"]'))
            .map((a) => a.getAttribute("href")).filter((h) => !document.getElementById(decodeURIComponent(h.slice(1)))));
        out.imgs = await page.evaluate(() => document.querySelectorAll("img, iframe, object, embed").length);
        out.scripts = await page.evaluate(() => document.querySelectorAll("script").length);
        out.text = await page.evaluate(() => document.body.innerText);
        out.cards = await page.evaluate(() => Array.from(document.querySelectorAll("section.thread")).map((c) => ({
            tids: Array.from(c.querySelectorAll(".tid")).map((t) => Number(t.textContent)),
            names: c.querySelector(".tname").textContent,
            functions: Array.from(c.querySelectorAll(".frame .fn")).map((f) => f.textContent),
            requests: Array.from(c.querySelectorAll("p.request")).map((r) => r.textContent),
        })));
        out.taskNames = await page.evaluate(() => Array.from(document.querySelectorAll(".task-name")).map((t) => t.textContent));
        out.deadlockTasks = await page.evaluate(() => Array.from(document.querySelectorAll("li.task.deadlock > .task-name")).map((t) => t.textContent));
        out.deadlockLines = await page.evaluate(() => Array.from(document.querySelectorAll(".deadlock-line")).map((t) => t.textContent));
        out.hot = await page.evaluate(() => Array.from(document.querySelectorAll("table.hot tbody tr")).map((r) =>
            Array.from(r.children).map((td) => td.textContent)));
        out.summaryThreads = await page.evaluate(() => Array.from(document.querySelectorAll("table.summary-threads tbody tr")).map((r) =>
            Array.from(r.children).map((td) => td.textContent)));
        /* Locals: unfold the first frame that has some. */
        const summary = await page.$("details.frame-locals > summary");
        if (summary) {
            await summary.click();
            /* the table is built on the details' toggle event, which comes as a task of its own */
            await until(page, () => document.querySelector("details.frame-locals .locals-body").firstChild);
            out.locals = await page.evaluate(() => {
                const d = document.querySelector("details.frame-locals");
                return { open: d.open, frame: d.querySelector("summary .frame").textContent,
                         rows: Array.from(d.querySelectorAll("table.locals tbody tr")).map((r) =>
                             Array.from(r.children).map((td) => td.textContent)) };
            });
        }
        const query = arg("--filter", null);
        if (query !== null) {
            /* as typing does: the value changes, an input event; timed in the page, layout included */
            const ms = await page.evaluate((q) => {
                const input = document.querySelector("input.filter");
                const t0 = performance.now();
                input.value = q;
                input.dispatchEvent(new Event("input", { bubbles: true }));
                void document.body.offsetHeight;
                return performance.now() - t0;
            }, query);
            out.filter = await page.evaluate((q) => {
                const cards = Array.from(document.querySelectorAll("section.thread"));
                const shown = cards.filter((c) => !c.hidden && !c.closest("[hidden]"));
                return { query: q, cardsShown: shown.length, cardsTotal: cards.length,
                         shownTids: shown.flatMap((c) => Array.from(c.querySelectorAll(".tid")).map((t) => Number(t.textContent))),
                         count: document.querySelector(".shown").textContent };
            }, query);
            out.filter.ms = ms;
            await page.fill("input.filter", "");
        }
        /* The native switch: every card's stack merged with its native frames, and back. */
        const native = await page.$("input.native-switch");
        if (native) {
            await native.check();
            out.native = await page.evaluate(() => Array.from(document.querySelectorAll("section.thread")).map((c) => ({
                tids: Array.from(c.querySelectorAll(".tid")).map((t) => Number(t.textContent)),
                frames: Array.from(c.querySelectorAll(".frame")).map((f) => f.textContent),
            })));
            await native.uncheck();
        }
        /* Every local of every frame, unfolded at once. */
        const expand = await page.$("button.expand");
        if (expand) {
            await expand.click();
            await until(page, () => Array.from(document.querySelectorAll("details.frame-locals[open] .locals-body"))
                .every((b) => b.firstChild));
            out.allLocals = await page.evaluate(() => Array.from(document.querySelectorAll("table.locals tbody tr")).map((r) =>
                Array.from(r.children).map((td) => td.textContent)));
        }
        if (await page.$(".flame g.box")) {
            const before = await page.evaluate(() => document.querySelectorAll(".flame g.box").length);
            out.flameTitles = await page.evaluate(() => Array.from(document.querySelectorAll(".flame g.box title")).map((t) => t.textContent));
            /* a box below the root, narrower than the graph when there is one: zoom into it */
            const target = await page.evaluate(() => {
                const gs = Array.from(document.querySelectorAll(".flame g.box")).filter((g) => !g.classList.contains("root"));
                let best = gs.length ? 0 : -1, bw = -1;
                gs.forEach((g, i) => {
                    const w = Number(g.querySelector("rect").getAttribute("width"));
                    if (w > bw && w < 1199) { bw = w; best = i; }
                });
                return best < 0 ? null : { i: best, title: gs[best].querySelector("title").textContent, width: Math.max(bw, 0) };
            });
            out.flameTarget = target;
            const status0 = await page.textContent(".flame-status");
            await page.hover(".flame g.box:not(.root)");
            const hover = await page.textContent(".flame-status");
            await page.mouse.move(0, 0); /* off the graph: no hover rewrites the status */
            if (target) {
                await page.evaluate((i) => {
                    const gs = Array.from(document.querySelectorAll(".flame g.box")).filter((g) => !g.classList.contains("root"));
                    gs[i].dispatchEvent(new MouseEvent("click", { bubbles: true }));
                }, target.i);
            }
            out.flame = await page.evaluate(() => ({
                zoomedBoxes: document.querySelectorAll(".flame g.box").length,
                zoomed: document.querySelector(".flame g.box.zoomed title").textContent,
                zoomedWidth: Number(document.querySelector(".flame g.box.zoomed rect").getAttribute("width")),
                status: document.querySelector(".flame-status").textContent,
            }));
            out.flame.boxes = before;
            out.flame.initialStatus = status0;
            out.flame.hover = hover;
            await page.click("button.flame-reset");
            out.flame.resetBoxes = await page.evaluate(() => document.querySelectorAll(".flame g.box").length);
        }
        /* The flame graph's search and thread selector, as a person uses them: type into the
         * search box, zoom while it is on, Escape in it; pick one thread (and search there). */
        if (await page.$(".flame g.box")) {
            const flameState = () => page.evaluate(() => {
                const gs = Array.from(document.querySelectorAll(".flame g.box"));
                const title = (g) => g.querySelector("title").textContent;
                const matched = document.querySelector(".flame-matched");
                return { boxes: gs.length, titles: gs.map(title),
                         matches: gs.filter((g) => g.classList.contains("match")).map(title),
                         dimmed: gs.filter((g) => g.classList.contains("dim")).length,
                         matchFills: gs.filter((g) => g.classList.contains("match")).map((g) => g.querySelector("rect").getAttribute("fill")),
                         matched: matched && !matched.hidden ? matched.textContent : null,
                         note: document.querySelector(".flame-search-note").textContent,
                         search: document.querySelector(".flame-search").value,
                         zoomed: document.querySelector(".flame g.box.zoomed title").textContent,
                         status: document.querySelector(".flame-status").textContent };
            });
            const q = arg("--flame-search", null);
            out.flameSearch = {};
            if (q !== null) {
                await page.fill(".flame-search", q);
                out.flameSearch.all = await flameState();
                /* zoom into the first matching box that is not the widest: the search stays */
                await page.evaluate(() => {
                    const g = document.querySelector(".flame g.box.match");
                    if (g)
                        g.dispatchEvent(new MouseEvent("click", { bubbles: true }));
                });
                out.flameSearch.zoomed = await flameState();
                await page.focus(".flame-search");
                await page.keyboard.press("Escape");
                out.flameSearch.escaped = await flameState();
                await page.fill(".flame-search", "/(unclosed/");
                out.flameSearch.invalid = await flameState();
                await page.fill(".flame-search", "");
                out.flameSearch.cleared = await flameState();
            }
            const sel = await page.$("select.flame-thread");
            out.flameThreads = sel ? await page.evaluate(() => Array.from(document.querySelectorAll("select.flame-thread option")).map((o) => o.textContent)) : null;
            const which = arg("--flame-thread", null);
            if (sel && which !== null) {
                const label = out.flameThreads.find((t) => t.includes(which));
                await page.selectOption("select.flame-thread", { label: label });
                out.flameThread = { label: label, shown: await flameState() };
                if (q !== null) {
                    await page.fill(".flame-search", q);
                    out.flameThread.search = await flameState();
                    await page.fill(".flame-search", "");
                }
                await page.selectOption("select.flame-thread", { index: 0 });
                out.flameThread.back = await flameState();
            }
        }
        const shot = arg("--screenshot", null);
        if (shot) {
            /* everything folded, then the locals of the first frame of --unfold FUNCTION open,
             * the view at --scroll SELECTOR (default the top) */
            const fold = await page.$("button.expand");
            if (fold && (await fold.textContent()) === "fold all locals")
                await fold.click();
            await page.evaluate(() => { document.querySelectorAll("details").forEach((d) => { d.open = false; }); });
            await page.evaluate((fn) => {
                const d = Array.from(document.querySelectorAll("details.frame-locals"))
                    .find((x) => x.querySelector("summary .fn").textContent === fn);
                if (d)
                    d.open = true;
            }, arg("--unfold", ""));
            await page.mouse.move(0, 0);
            await new Promise((r) => setTimeout(r, 100));
            await page.evaluate((sel) => {
                const e = sel && document.querySelector(sel);
                window.scrollTo(0, e ? e.getBoundingClientRect().top + window.scrollY - 8 : 0);
            }, arg("--scroll", ""));
            await page.screenshot({ path: shot, fullPage: false });
        }
        /* Scripts off: what the page shows is pysnap's own text rendering. */
        const ctx2 = await browser.newContext({ javaScriptEnabled: false });
        const p2 = await ctx2.newPage();
        p2.on("request", (r) => { if (r.url() !== url) out.requests.push("nojs: " + r.url()); });
        await p2.goto(url, { waitUntil: "load" });
        out.noscriptText = await p2.evaluate(() => document.body.innerText);
        await ctx2.close();
        await context.close();
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });

"""scripts/build-wasm.sh: the viewer page, one self-contained HTML file.

make-viewer.py OUT.html VERSION viewer.html MODULE.js CSS... -- JS...   (MODULE.wasm beside MODULE.js)

Fills viewer.html's slots: @STYLE@ (web/report.css, then viewer.css), @SCRIPT@ (web/model.js,
web/report.js, the emscripten module's JavaScript, viewer.js: one script), @WASM@ (the
module's WebAssembly, base64, in an inert data element: the page hands the bytes to the module,
which then fetches nothing), @CSP@ (only that script and that style run, by their SHA-256;
WebAssembly may compile ('wasm-unsafe-eval'); nothing is fetched, connect-src included).
"""
import base64
import hashlib
import os
import re
import sys


def sha256(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def main():
    out, version, template, module_js, *rest = sys.argv[1:]
    module_wasm = module_js[:-len(".js")] + ".wasm"
    sep = rest.index("--")
    css_files, js_files = rest[:sep], rest[sep + 1:]
    read = lambda p: open(p, encoding="utf-8").read()
    style = "".join(read(p) for p in css_files)
    js = [read(p) for p in js_files]
    # the module goes before viewer.js (the last one), after the report's code
    script = "".join(js[:-1]) + read(module_js) + "\n" + js[-1]
    for name, text in (("style", style), ("script", script)):
        if re.search(r"</(style|script)|<!--|<script", text, re.I):
            sys.exit("make-viewer.py: the %s contains '</%s', '<script' or '<!--'" % (name, name))
    wasm = base64.b64encode(open(module_wasm, "rb").read()).decode()
    csp = ("default-src 'none'; script-src %s 'wasm-unsafe-eval'; style-src %s; img-src 'none'; "
           "connect-src 'none'; base-uri 'none'; form-action 'none'" % (sha256(script), sha256(style)))
    values = {"CSP": csp, "VERSION": version, "STYLE": style, "WASM": wasm, "SCRIPT": script}
    page = read(template)
    missing = [k for k in values if "@%s@" % k not in page]
    if missing:
        sys.exit("make-viewer.py: viewer.html has no @%s@" % "@, @".join(missing))
    # one pass: a slot's value is never searched for slots again
    page = re.sub(r"@(%s)@" % "|".join(values), lambda m: values[m.group(1)], page)
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(out + ".tmp", out)


main()

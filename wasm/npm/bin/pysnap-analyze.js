#!/usr/bin/env node
// pysnap-analyze FILE.snap [--json | --summary | -o report.html ...]: `pysnap analyze`, the same
// C code compiled to WebAssembly (lib/pysnap-analyze.js and .wasm). It reads and
// writes the real file system through Node; its arguments are process.argv after this script.
'use strict';
const major = Number(process.versions.node.split('.')[0]);
if (major < 18) {
  process.stderr.write(`pysnap-analyze: needs Node 18 or newer (this is ${process.version})\n`);
  process.exit(2);
}
if (process.platform === 'win32') {
  // The module joins a path that does not start with '/' to the current directory: an
  // absolute Windows path (C:\x\app.snap) goes in relative to it (same drive), with '/'.
  // Not tested on Windows here (the tests run on Linux).
  const path = require('path');
  process.argv = process.argv.map((a, i) => {
    if (i < 2 || !/^[A-Za-z]:[\\/]/.test(a)) return a;
    const rel = path.relative(process.cwd(), a);
    return path.isAbsolute(rel) ? a : rel.split(path.sep).join('/');
  });
}
require('../lib/pysnap-analyze.js');

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
require('../lib/pysnap-analyze.js');

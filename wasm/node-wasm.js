// --pre-js of the Node build: the module's WebAssembly is the file beside this script
// (pysnap-analyze.wasm), read here and handed over, because emscripten 3.1.6's loader would
// fetch() it, which fails under Node 18+ for a file path. A separate file, rather than the
// .wasm inlined as base64 (SINGLE_FILE), spares every start the decoding of 1.3 MB of text.
Module['wasmBinary'] = require('fs').readFileSync(require('path').join(__dirname, 'pysnap-analyze.wasm'));

// Baseline (Liftoff) code only: V8 would also compile the 1 MB module a second time with its
// optimizing tier in the background, which for a command that runs a fraction of a second
// costs more than it gains (measured: 30 snapshots in 250 ms instead of 630 ms, bench/wasm.sh).
require('v8').setFlagsFromString('--liftoff-only');

// --pre-js of the Node build: two fixes of emscripten 3.1.6 for the real file system.
// dup2: Emscripten 3.1.6 implements dup2()/dup3() by opening the file's
// path again with the original open flags (SYSCALLS.doDup); for a file made by mkstemp() those
// flags hold O_CREAT|O_EXCL, so the reopen fails with EEXIST and `analyze -o FILE` (which
// points standard output at a temporary file with dup2) could not write. Reopening an existing
// file must neither create, exclusively, nor truncate it: drop those three flags.
Module['preRun'] = (Module['preRun'] || []).concat(function () {
  var reopen = SYSCALLS.doDup;
  var O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200; // musl's values, emscripten's ABI
  SYSCALLS.doDup = function (path, flags, suggestFD) {
    return reopen(path, flags & ~(O_CREAT | O_EXCL | O_TRUNC), suggestFD);
  };
});

// And stat(): emscripten 3.1.6 stores whole seconds only (tv_nsec 0), so an ELF core's time
// (its file's mtime, which analyze shows) read 13:04:09.000000 where the native pysnap says
// 13:04:09.511343. Fill in the nanoseconds from Node's own stat. Offsets of struct stat's
// st_atim, st_mtim, st_ctim tv_nsec in emscripten's wasm32 ABI (time_t 32-bit).
Module['preRun'] = Module['preRun'].concat(function () {
  var stat = SYSCALLS.doStat, fs = require("fs"), G = BigInt(1000000000); // no 1e9n: emcc 3.1.6 parses ES2019
  SYSCALLS.doStat = function (func, path, buf) {
    var rc = stat(func, path, buf);
    if (rc === 0) {
      try {
        var st = (func === FS.lstat ? fs.lstatSync : fs.statSync)(path, { bigint: true });
        HEAP32[(buf + 60) >> 2] = Number(st.atimeNs % G);
        HEAP32[(buf + 68) >> 2] = Number(st.mtimeNs % G);
        HEAP32[(buf + 76) >> 2] = Number(st.ctimeNs % G);
      } catch (e) { /* the whole seconds stay */ }
    }
    return rc;
  };
});

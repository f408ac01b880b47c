// --pre-js of the Node build. Emscripten 3.1.6 implements dup2()/dup3() by opening the file's
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

#!/usr/bin/env bash
# Command two of the README (and what CI runs): install what is needed, build, run every
# test (C unit tests, CLI tests, end-to-end tests on every interpreter found, safety tests),
# then all of them again (but tests/install: the static release binary in other Debian
# releases) against an ASan + UBSan build (build-asan/), and end with one line
# "N passed, N failed, N skipped" (both passes counted). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
scripts/install-deps.sh --tests || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }
scripts/build.sh || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
# the static binary (build-static/, kept between runs) for tests/install
scripts/build-static.sh || { echo "static build failed"; echo "0 passed, 1 failed"; exit 1; }
export PYSNAP_BIN="$top/build/programs/pysnap"
results="$top/build/test-results"
rm -rf "$results"; mkdir -p "$results"

# the analyzer compiled to WebAssembly (build-wasm/, dist/: cached, seconds when nothing
# changed) for tests/wasm; a failure here shows there as failed tests
echo "== WebAssembly build (scripts/build-wasm.sh)"
scripts/build-wasm.sh >/dev/null 2>"$results/build-wasm.log" ||
  { tail -20 "$results/build-wasm.log"; echo "wasm build failed" >&2; }

echo "== C unit tests"
meson test -C build --print-errorlogs --no-rebuild
cp build/meson-logs/testlog.junit.xml "$results/unit.xml" 2>/dev/null || true

# Interpreters from Debian unstable (3.13-3.15), fetched once and cached outside the repo.
if [ -x tools/fetch-sid-pythons.sh ]; then
  echo "== fetching Debian unstable interpreters (cached)"
  # --dev: their headers too, for tests/e2e/test_offsets_table.py (the 3.14/3.15 tables)
  extra=$(tools/fetch-sid-pythons.sh --dev --print-env 2>"$results/fetch-sid.log") || true
  cat "$results/fetch-sid.log" >&2
  if [ -n "$extra" ]; then export PYSNAP_EXTRA_PYTHONS="$extra"; fi
fi
# The free-threaded 3.13t (--disable-gil), built once from Debian's python3.13 source package
# and cached (minutes the first time); its tests say so when it is absent.
if [ -x tools/build-freethreaded.sh ]; then
  echo "== free-threaded CPython 3.13t (built once, cached)"
  if ft=$(tools/build-freethreaded.sh --print-env 2>"$results/build-freethreaded.log"); then
    export PYSNAP_EXTRA_PYTHONS="${PYSNAP_EXTRA_PYTHONS:+$PYSNAP_EXTRA_PYTHONS;}$ft"
  else
    echo "free-threaded 3.13t absent (its tests are not run): $(tail -n 1 "$results/build-freethreaded.log")" >&2
  fi
fi
# Debian bullseye's python2.7 (static, stripped), fetched once and cached: tests/e2e/test_py27.py
# finds it in the cache and says so when it is absent.
if [ -x tools/fetch-bullseye-python27.sh ]; then
  echo "== Debian bullseye python2.7 (cached)"
  tools/fetch-bullseye-python27.sh >/dev/null 2>"$results/fetch-bullseye27.log" ||
    echo "Debian bullseye python2.7 absent (its tests skip): $(tail -n 1 "$results/fetch-bullseye27.log")" >&2
fi
echo "== interpreters: pyenv $(ls /root/.pyenv/versions 2>/dev/null | tr '\n' ' ' || echo none);" \
     "extra: ${PYSNAP_EXTRA_PYTHONS:-none}"

echo "== pytest (cli, e2e, safety, install, browser, wasm)"
suites=()
# the ASan pass leaves out tests/install (it tests the static release build, not this one),
# tests/browser (the HTML report in headless chromium, its npm packages installed into the cache
# by tests/browser/setup.sh on first use, and the page's node tests: the ASan pass checks the
# pages pysnap writes through tests/cli/test_html.py) and tests/wasm (the Node command and the
# viewer, against this pass's native binary)
asan_suites=()
for d in tests/cli tests/e2e tests/safety tests/install tests/browser tests/wasm; do [ -d "$d" ] && suites+=("$d"); done
for d in "${suites[@]}"; do case $d in tests/install|tests/browser|tests/wasm) ;; *) asan_suites+=("$d") ;; esac; done
/usr/bin/python3 -m pytest -p no:cacheprovider -rs -q --junitxml="$results/pytest.xml" "${suites[@]}"
pytest_rc=$?

# The same tests once more against an ASan + UBSan build (meson -Dsanitize=true, build-asan/):
# C unit tests and fuzz replays, then cli, e2e and safety with PYSNAP_BIN pointing at the
# instrumented binary. Any sanitizer report aborts pysnap, which the tests see as a crash.
# valgrind cannot run an ASan binary: test_valgrind.py runs in the pass above only.
echo "== ASan + UBSan build (build-asan)"
asan_start=$SECONDS
if { [ -f build-asan/build.ninja ] || meson setup build-asan -Dsanitize=true >/dev/null; } &&
   ninja -C build-asan >/dev/null; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export PYSNAP_TEST_SLOWDOWN=3 # timing limits of the tests (e.g. the 200-thread pause) scale
  meson test -C build-asan --print-errorlogs --no-rebuild
  cp build-asan/meson-logs/testlog.junit.xml "$results/unit-asan.xml" 2>/dev/null || true
  echo "== pytest under ASan + UBSan (cli, e2e, safety)"
  PYSNAP_BIN="$top/build-asan/programs/pysnap" /usr/bin/python3 -m pytest -p no:cacheprovider \
    -rs -q --junitxml="$results/pytest-asan.xml" --ignore=tests/safety/test_valgrind.py \
    "${asan_suites[@]}"
  asan_rc=$?
  unset ASAN_OPTIONS UBSAN_OPTIONS PYSNAP_TEST_SLOWDOWN
  if [ "$asan_rc" -ne 0 ] && [ "$asan_rc" -ne 5 ]; then pytest_rc=$asan_rc; fi
else
  echo "ASan build failed" >&2
  pytest_rc=1
fi
echo "== ASan + UBSan pass took $((SECONDS - asan_start)) s"

/usr/bin/python3 - "$results" "$pytest_rc" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.xml"):
    root = ET.parse(f).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for s in suites:
        t = int(s.get("tests", 0)); fl = int(s.get("failures", 0)) + int(s.get("errors", 0))
        sk = int(s.get("skipped", 0))
        passed += t - fl - sk; failed += fl; skipped += sk
rc = int(sys.argv[2])
if rc not in (0, 5) and failed == 0:  # pytest itself failed (collection error, crash)
    failed = 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY

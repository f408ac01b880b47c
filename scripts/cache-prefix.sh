# A build kept under a cache directory as prefix-KEY/, for scripts/build-capstone.sh and
# scripts/build-wasm-deps.sh (sourced, not run). KEY names what went into the build (the
# script, the sources' versions, the compiler's); a second run with the same KEY costs nothing,
# another KEY builds anew and, once done, replaces the earlier keys' prefixes.

# cache_enter CACHE KEY: sets $cache and $prefix (CACHE/prefix-KEY). If that is built already,
# prints it and exits the script (0). Else takes the cache's lock (several builds at once wait
# for one another; the one that waited may find it built), makes $work (a directory removed on
# exit) and names $P ($prefix.tmp, removed): the build fills $P, cache_publish makes it $prefix.
cache_enter() {
  cache=$1
  prefix=$cache/prefix-$2
  if [ -f "$prefix/.done" ]; then echo "$prefix"; exit 0; fi
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if [ -f "$prefix/.done" ]; then echo "$prefix"; exit 0; fi
  work=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  P=$prefix.tmp
  rm -rf "$P"
}

# cache_publish: $P becomes $prefix, marked built; the earlier keys' prefixes go. Prints it.
cache_publish() {
  rm -rf "$prefix"
  mv "$P" "$prefix"
  touch "$prefix/.done"
  local old
  for old in "$cache"/prefix-*; do
    [ "$old" = "$prefix" ] || [ "${old%.tmp}" != "$old" ] || rm -rf "$old"
  done
  echo "$prefix"
}

#!/usr/bin/env bash
# `npm run test:asan`: builds the whole addon with AddressSanitizer and
# UndefinedBehaviorSanitizer (cmake-js over scripts/sanitize/CMakeLists.txt,
# which compiles native/sources.json like binding.gyp) and runs the unit tests
# of the native image and block-device code against that build.
#
#   scripts/asan.sh [--no-build] [vitest filters...]
#
# node itself is not instrumented, so gcc's libasan is preloaded (LD_PRELOAD,
# into node processes only) and leak detection is off (node frees little at exit; leaks are
# the valgrind check's job, scripts/leak-check.sh). IMAGEBACKEND_PREBUILD
# points node-gyp-build at build-sanitize/, and the script checks that this
# is the binary the tests load. Every sanitizer report is written under a
# temporary log_path as well as stderr: any report fails the run, even one
# from a child process that a test expected to fail.
# Needs g++, cmake (scripts/setup.sh installs them); ninja is used if present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
build=1
if [[ ${1:-} == --no-build ]]; then build=0; shift; fi
filters=("$@")
((${#filters[@]})) || filters=(test/unit/image/ test/unit/blockdev-)

for tool in g++ cmake; do
  command -v "$tool" >/dev/null || { echo "asan: $tool not found (bash scripts/setup.sh)" >&2; exit 1; }
done
libasan="$(g++ -print-file-name=libasan.so)"
[[ -f $libasan ]] || { echo "asan: gcc's libasan.so not found (apt-get install libasan8 / g++)" >&2; exit 1; }

out="$root/build-sanitize"
if ((build)); then
  mkdir -p "$out"
  npx --no-install cmake-js build --directory scripts/sanitize --out "$out/build" \
    --CDCMAKE_CXX_COMPILER=g++ --parallel "$(nproc)" --log-level warn >"$out/build.log" 2>&1 || {
    tail -50 "$out/build.log" >&2
    echo "asan: the sanitizer build failed (full log: $out/build.log)" >&2
    exit 1
  }
  echo "asan: built in $((SECONDS - start)) s"
fi
[[ -f dist/index.js ]] || npm run build:ts

logs="$(mktemp -d -t imagebackend-asan.XXXXXX)"
trap 'rm -rf "$logs"' EXIT
export IMAGEBACKEND_PREBUILD="$out"
export LD_PRELOAD="$libasan"
# Only node processes keep the preload (see scripts/sanitize/preload-node-only.cjs).
export IMAGEBACKEND_ASAN_PRELOAD="$libasan"
export NODE_OPTIONS="--require $root/scripts/sanitize/preload-node-only.cjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$logs/asan:log_exe_name=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan:log_exe_name=1"

loaded="$(node -p "require('node-gyp-build').path('.')")"
if [[ $loaded != "$out/build/Release/imagebackend.node" ]]; then
  echo "asan: node-gyp-build resolves $loaded, not the sanitizer build" >&2
  exit 1
fi
node -e "require('./build-sanitize/build/Release/imagebackend.node')" # loads with the runtime preloaded

status=0
node node_modules/vitest/vitest.mjs run --project unit "${filters[@]}" || status=$?
reports=("$logs"/*)
if [[ -e ${reports[0]} ]]; then
  for r in "${reports[@]}"; do
    echo "asan: report $r:" >&2
    cat "$r" >&2
  done
  status=1
fi
if ((status)); then
  echo "asan: FAILED after $((SECONDS - start)) s" >&2
  exit 1
fi
echo "asan: ok in $((SECONDS - start)) s (no sanitizer reports)"

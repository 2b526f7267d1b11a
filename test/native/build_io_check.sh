#!/bin/sh
# Builds and runs the checks of native/io against the system's libtorch
# (Debian's libtorch-dev 1.13: headers in /usr/include, libraries in the
# default path), without Node.
#
#   test/native/build_io_check.sh          build build/native-test/io_check
#   test/native/build_io_check.sh --run    build, write the cases with
#                                          make_bad_checkpoints.py, run io_check,
#                                          then verify_written.py in Python
#   test/native/build_io_check.sh --asan   the same with io_check built with
#                                          AddressSanitizer and UBSan in
#                                          build/native-test/asan (CI runs this:
#                                          .ci/in-root)
#
# Mutation fuzzing of the same readers is fuzz/run.sh's (libFuzzer, also in
# CI). FIXTURES (default test/fixtures) and PYTHON (default /usr/bin/python3,
# which must have torch: Debian's python3-torch) can be overridden.
# LIBTORCH=/path/to/libtorch (an unpacked libtorch, or site-packages/torch of
# a pip install) builds against that one instead, with C++20, into
# build/native-test/<path>.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
FIXTURES=${FIXTURES:-$ROOT/test/fixtures}
CXX=${CXX:-g++}
if [ -n "${LIBTORCH:-}" ]; then
  TORCH_FLAGS="-std=c++20 -I$LIBTORCH/include -I$LIBTORCH/include/torch/csrc/api/include"
  TORCH_LIBS="-L$LIBTORCH/lib -Wl,-rpath,$LIBTORCH/lib"
  OUT_BASE="$ROOT/build/native-test/$(printf %s "$LIBTORCH" | tr -c 'a-zA-Z0-9.' _)"
else
  TORCH_FLAGS="-std=c++17 -I/usr/include/torch/csrc/api/include"
  TORCH_LIBS=""
  OUT_BASE="$ROOT/build/native-test"
fi
IO_SOURCES=$(ls native/io/*.cc)

# build OUT_DIR "FLAGS" PROGRAM...: one object per source, rebuilt only when
# older than its source or any header under native/io, native/common;
# compiled in parallel; each PROGRAM is test/native/PROGRAM.cc plus native/io.
build() {
  out=$1
  flags="$TORCH_FLAGS -Wall -Wextra -Wno-unused-parameter -I$ROOT/native $2"
  shift 2
  mkdir -p "$out"
  sources=$IO_SOURCES
  for program in "$@"; do sources="$sources test/native/$program.cc"; done
  pids=""
  for src in $sources; do
    obj="$out/$(echo "$src" | tr / _ | sed 's/\.cc$/.o/')"
    stale=no
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then stale=yes; fi
    for h in native/io/*.h native/common/*.h; do
      if [ "$h" -nt "$obj" ]; then stale=yes; fi
    done
    if [ $stale = yes ]; then
      $CXX $flags -c "$src" -o "$obj" &
      pids="$pids $!"
    fi
  done
  status=0
  for pid in $pids; do wait "$pid" || status=1; done
  [ $status = 0 ] || { echo "build failed" >&2; exit 1; }
  io_objects=""
  for src in $IO_SOURCES; do io_objects="$io_objects $out/$(echo "$src" | tr / _ | sed 's/\.cc$/.o/')"; done
  for program in "$@"; do
    $CXX $flags -o "$out/$program" $io_objects "$out/test_native_$program.o" \
      $TORCH_LIBS -ltorch -ltorch_cpu -lc10 -pthread
  done
}

# make_cases: temporary folders with the generated cases and for writing.
make_cases() {
  CASES=$(mktemp -d)
  WORK=$(mktemp -d)
  trap 'rm -rf "$CASES" "$WORK"' EXIT
  "$PYTHON" test/native/make_bad_checkpoints.py "$CASES"
}

# check: writes the cases, runs io_check and verify_written.py.
check() {
  make_cases
  "$1/io_check" "$FIXTURES" "$CASES" "$WORK"
  "$PYTHON" test/native/verify_written.py "$WORK" "$FIXTURES"
  echo "verify_written.py: Python reads the written files"
}

case "${1:-}" in
  --asan)
    out="$OUT_BASE/asan"
    build "$out" "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" io_check
    # libtorch is not instrumented; its one-time allocations are not ours.
    export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    check "$out"
    ;;
  --run)
    build "$OUT_BASE" "-O1" io_check
    check "$OUT_BASE"
    ;;
  "")
    build "$OUT_BASE" "-O1" io_check
    ;;
  *)
    echo "build_io_check.sh: --run, --asan or nothing" >&2
    exit 2
    ;;
esac

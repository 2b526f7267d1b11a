#!/bin/sh
# Builds test/native/io_check against the system's libtorch (Debian's
# libtorch-dev 1.13: headers in /usr/include, libraries in the default path).
#
#   test/native/build_io_check.sh          build build/native-test/io_check
#   test/native/build_io_check.sh --run    build, write the cases with
#                                          make_bad_checkpoints.py, run io_check,
#                                          then verify_written.py in Python
#
# FIXTURES (default ../shared/fixtures beside the repo, else
# /work/shared/fixtures) and PYTHON (default /usr/bin/python3, which must have
# torch) can be overridden.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT="$ROOT/build/native-test"
PYTHON=${PYTHON:-/usr/bin/python3}
if [ -z "${FIXTURES:-}" ]; then
  if [ -d "$ROOT/../shared/fixtures" ]; then FIXTURES="$ROOT/../shared/fixtures"; else FIXTURES=/work/shared/fixtures; fi
fi
mkdir -p "$OUT"

CXX=${CXX:-g++}
CXXFLAGS="-O1 -std=c++17 -Wall -Wextra -Wno-unused-parameter -I$ROOT/native -I/usr/include/torch/csrc/api/include"
SOURCES="native/io/files.cc native/io/unpickler.cc native/io/checkpoint.cc native/io/safetensors.cc native/io/torch_archive.cc test/native/io_check.cc"

# One object per source, rebuilt only when it is older than its source or
# any header under native/io, native/common; compiled in parallel.
objects=""
pids=""
for src in $SOURCES; do
  obj="$OUT/$(echo "$src" | tr / _ | sed 's/\.cc$/.o/')"
  objects="$objects $obj"
  stale=no
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then stale=yes; fi
  for h in native/io/*.h native/common/*.h; do
    if [ "$h" -nt "$obj" ]; then stale=yes; fi
  done
  if [ $stale = yes ]; then
    $CXX $CXXFLAGS -c "$src" -o "$obj" &
    pids="$pids $!"
  fi
done
status=0
for pid in $pids; do wait "$pid" || status=1; done
[ $status = 0 ] || { echo "build failed" >&2; exit 1; }
$CXX -o "$OUT/io_check" $objects -ltorch -ltorch_cpu -lc10 -pthread

if [ "${1:-}" = "--run" ]; then
  CASES=$(mktemp -d)
  WORK=$(mktemp -d)
  trap 'rm -rf "$CASES" "$WORK"' EXIT
  "$PYTHON" test/native/make_bad_checkpoints.py "$CASES"
  "$OUT/io_check" "$FIXTURES" "$CASES" "$WORK"
  "$PYTHON" test/native/verify_written.py "$WORK" "$FIXTURES"
  echo "verify_written.py: Python reads the written files"
fi

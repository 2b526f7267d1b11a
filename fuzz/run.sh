#!/usr/bin/env bash
# Builds the readers' fuzzer (fuzz/readers.cc, ASan + UBSan, libFuzzer) with
# clang and runs it on a seed corpus of real files from test/fixtures.
#
#   bash fuzz/run.sh --seconds 120     run for a bounded time (CI)
#   bash fuzz/run.sh --runs 1000000    run a number of inputs
#
# Needs clang and libFuzzer (Debian: clang-14 libclang-rt-14-dev), libtorch
# (scripts/find-libtorch.mjs) and python3 (to lift data.pkl out of a zip).
# A finding leaves crash-*/oom-*/timeout-* files in build/fuzz/ and exits
# non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-max_total_time=120)
case "${1:-}" in
  --seconds) limit=(-max_total_time="$2") ;;
  --runs) limit=(-runs="$2") ;;
  "") ;;
  *) echo "fuzz/run.sh: --seconds N or --runs N" >&2; exit 2 ;;
esac
cxx=$(command -v clang++ || command -v clang++-14 || true)
[ -n "$cxx" ] || { echo "fuzz/run.sh: no clang++ (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }

out=build/fuzz
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S fuzz -B "$out" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTorch_DIR="$(node scripts/find-libtorch.mjs --cmake)" >"$out.configure.log" 2>&1 ||
  { cat "$out.configure.log"; exit 1; }
cmake --build "$out" --parallel "$(nproc)" >"$out.build.log" 2>&1 || { tail -40 "$out.build.log"; exit 1; }

# Seeds: the fixtures' files, each behind the byte that picks its reader.
seeds="$out/seeds"
rm -rf "$seeds" && mkdir -p "$seeds" "$out/corpus"
seed() { { printf "\\x$(printf %02x "$1")"; cat "$2"; } >"$seeds/$3"; }
n=0
for f in test/fixtures/ltgbert-*/*.safetensors test/fixtures/ltgbert-*/*/model.safetensors; do
  seed 0 "$f" "safetensors-$((n += 1))"
done
for f in test/fixtures/ltgbert-*/*/pytorch_model.bin; do
  seed 1 "$f" "zip-$((n += 1))"
  python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read(next(n for n in z.namelist() if n.endswith("/data.pkl"))))' "$f" >"$out/data.pkl"
  seed 2 "$out/data.pkl" "pickle-$((n += 1))"
done
for f in test/fixtures/ltgbert-*/config.json test/fixtures/ltgbert-*/*/config.json; do
  seed 3 "$f" "config-$((n += 1))"
done
printf '{"metadata": {"total_size": 16}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}' >"$out/index.json"
seed 4 "$out/index.json" "index-$((n += 1))"

echo "fuzz: $(ls "$seeds" | wc -l) seed files; ${limit[*]}"
cd "$out"
ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ./fuzz_readers "${limit[@]}" -rss_limit_mb=3072 -malloc_limit_mb=2048 -timeout=20 -max_len=524288 \
  -print_final_stats=1 corpus seeds 2>&1 | tee fuzz.log | grep -E "^#[0-9]+ +(INITED|DONE)|^stat::|ERROR|SUMMARY|LTGBERT_INTERNAL|not an LtgBertError|Test unit written"

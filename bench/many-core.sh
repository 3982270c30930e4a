#!/usr/bin/env bash
# The many-core benchmark (issue 20) on a machine that cannot install
# packages, from a bundle of the Release build and the programs the bench
# drives (bench/bundle.sh or shared tooling of the same shape):
#
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build
#   bench/bundle.sh build .bundle && cp build/lua_scripts.c .bundle/bin/
#   # there, from the repository root:
#   bench/many-core.sh OUT_DIR          (BENCH_ONLY, default cores,cluster)
#
# Writes OUT_DIR/latest.json and latest.md (bench/bench.py's table).
set -eu
cd "$(dirname "$0")/.."
out=${1:-bench/results}
bundle=${BUNDLE:-$PWD/.bundle}
export PATH="$bundle/bin:$PATH" LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export BENCH_BUILD="$bundle/bin" BENCH_ONLY="${BENCH_ONLY:-cores,cluster}"
mkdir -p "$out"
python3 bench/bench.py none > "$out/bench.log" 2>&1 || { tail -n 40 "$out/bench.log"; exit 1; }
cp bench/results/latest.json bench/results/latest.md "$out/"
grep -E '^\| (10|11|12) ' "$out/latest.md" || true

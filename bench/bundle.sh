#!/usr/bin/env bash
# Copies hookd's binaries and the programs the benchmark drives (redis-server,
# redis-cli, redis-benchmark, wrk, nginx), with every shared library they load
# but the C library itself, into one folder, so that bench/bench.py can run on
# another x86-64 Linux machine (glibc 2.36 or newer) that cannot install
# packages:
#
#   bench/bundle.sh [BUILD_DIR] [DEST]        (defaults: build, .bundle)
#   # there:
#   PATH=$PWD/.bundle/bin:$PATH LD_LIBRARY_PATH=$PWD/.bundle/lib \
#     BENCH_BUILD=$PWD/.bundle/bin BENCH_ONLY=cores python3 bench/bench.py none
set -eu
build=${1:-build}
dest=${2:-.bundle}
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
progs=()
for p in "$build"/hookd "$build"/hookd-*; do [ -x "$p" ] && [ -f "$p" ] && progs+=("$p"); done
for name in redis-server redis-cli redis-benchmark wrk nginx; do
  p=$(command -v "$name" || true)
  if [ -n "$p" ]; then progs+=("$p"); else echo "bundle: $name not installed, skipped" >&2; fi
done
[ ${#progs[@]} -gt 0 ] || { echo "bundle: nothing to copy (build first?)" >&2; exit 1; }
cp "${progs[@]}" "$dest/bin/"
for p in "${progs[@]}"; do ldd "$p" | awk '$3 ~ /^\// {print $3}'; done | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$dest/lib/"; done
du -sh "$dest"

#!/usr/bin/env bash
# Instructions and cycles per op of Go benchmarks, from the hardware counters:
# the difference of a 2,500,000x and a 500,000x run divided by 2,000,000, so
# set-up and the b.N=1 probe run cancel out. Instruction counts are stable on
# a shared VM where ns/op moves 2x with the neighbours' load.
#
#   scripts/perf-instructions.sh ./internal/event MatchView100 MatchView100IPv6
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PACKAGE_DIR BENCHMARK..." >&2
  exit 2
fi
command -v perf >/dev/null || { echo "$0: needs perf (apt-get install linux-perf)" >&2; exit 1; }
pkg=$1; shift
bin=$(mktemp /tmp/perfinstr.XXXXXX)
trap 'rm -f "$bin"' EXIT
go test -c -o "$bin" "$pkg"
cd "$pkg"
for b in "$@"; do
  counts=()
  for n in 500000x 2500000x; do
    out=$(perf stat -x, -e instructions:u,cycles:u "$bin" -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime "$n" -test.cpu 1 2>&1 >/dev/null)
    counts+=($(grep -E '^[0-9]+,,(instructions|cycles)' <<<"$out" | cut -d, -f1))
  done
  [ ${#counts[@]} -eq 4 ] || { echo "$b: perf gave no counts" >&2; exit 1; }
  awk -v b="$b" -v i0="${counts[0]}" -v c0="${counts[1]}" -v i1="${counts[2]}" -v c1="${counts[3]}" \
    'BEGIN { printf "%s\t%.0f instructions/op\t%.0f cycles/op\n", b, (i1-i0)/2000000, (c1-c0)/2000000 }'
done

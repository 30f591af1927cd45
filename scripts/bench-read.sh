#!/usr/bin/env bash
# Measures `wirebridge read` (pcap -> NDJSON) against `tshark -T ek` on the same
# 200,000-packet capture, in the same run. Needs tshark and hyperfine
# (apt-get install tshark hyperfine). Prints hyperfine's table; the ratio of the
# means is the figure recorded in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-200000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/wirebridge" ./cmd/wirebridge
go run ./scripts/mkcapture -n "$n" -o "$tmp/big.pcap" testdata/pcaps/*.pcap
ls -l "$tmp/big.pcap"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-markdown "$tmp/read.md" \
  "$tmp/wirebridge read -q -o /dev/null $tmp/big.pcap"
hyperfine --runs "${TSHARK_RUNS:-2}" --export-markdown "$tmp/tshark.md" \
  "tshark -n -T ek -r $tmp/big.pcap > /dev/null"
cat "$tmp/read.md" "$tmp/tshark.md"

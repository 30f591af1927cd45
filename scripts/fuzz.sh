#!/usr/bin/env bash
# Runs every fuzz target in the module for a short budget each (default 10s).
set -euo pipefail
budget=${1:-10s}
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  dir=./$(dirname "$file")
  tags=""
  grep -q '^//go:build integration' "$file" && tags="-tags integration"
  echo "fuzz: $dir $name ($budget)"
  if ! go test $tags -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" "$dir" >/tmp/fuzz.$$.log 2>&1; then
    cat /tmp/fuzz.$$.log
    status=1
  fi
done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]*\(' -- '*_test.go' | sed -E 's/^([^:]*):[0-9]+:/\1:/')
rm -f /tmp/fuzz.$$.log
exit $status

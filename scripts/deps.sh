#!/usr/bin/env bash
# Installs what `make test` needs on Debian when it is missing. Idempotent and quiet when all is there.
set -euo pipefail

need=()
command -v tshark  >/dev/null 2>&1 || need+=(tshark)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v dig     >/dev/null 2>&1 || need+=(dnsutils)
command -v nc      >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v ip      >/dev/null 2>&1 || need+=(iproute2)
command -v logger  >/dev/null 2>&1 || need+=(bsdutils)
command -v gcc     >/dev/null 2>&1 || need+=(gcc) # go test -race needs cgo
command -v ping    >/dev/null 2>&1 || need+=(iputils-ping)
command -v gzip    >/dev/null 2>&1 || need+=(gzip)
command -v zstd    >/dev/null 2>&1 || need+=(zstd)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine) # scripts/bench-*.sh
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # web/e2e browser tests
command -v node    >/dev/null 2>&1 || need+=(nodejs)
command -v npm     >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing ${need[*]} and no apt-get to install them" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "deps: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# web/e2e: playwright-core (drives the chromium above), pinned by package-lock.json.
e2e="$(cd "$(dirname "$0")/.." && pwd)/web/e2e"
if [ -f "$e2e/package-lock.json" ] && [ ! -d "$e2e/node_modules/playwright-core" ]; then
  echo "deps: npm ci in web/e2e"
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

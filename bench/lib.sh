# bench/lib.sh - shared by the bench/*.sh scripts (sourced, not run).
#
# Everything runs inside a network namespace the script creates (only its
# loopback is up), so the ports are free, no traffic leaves it, and
# /proc/net/snmp's Udp counters belong to the benchmark alone. Needs root
# (ip netns), go, gcc, curl and taskset.
#
# Environment:
#   PIN=1      pin the sender to CPU 0 and the receiver (C or wirebridge) to
#              CPU 1 with taskset (default); PIN=0 lets the scheduler decide.
#   NICE=N     run the sender, the receivers and the sink under `nice -n N`
#              (default 0). A negative N shields the measurement from other
#              load on the machine; the report says which was used.
#   REV=HEAD   build wirebridge from a commit (git archive into the temp
#              directory) instead of the work tree, e.g. while the tree is
#              mid-edit; REV= (default) builds the work tree.
#   KEEP=1     keep the temporary directory (configs, logs, outputs).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PIN=${PIN:-1}
NICE=${NICE:-0}
NS=wbbench-$$
TMP=$(mktemp -d /tmp/wbbench.XXXXXX)
WB_PID=
WB_HTTP=127.0.0.1:8080
WB_PIDS=()
BG_PIDS=()

# cleanup stops what this script started (by pid), removes the namespace
# and the temporary directory.
cleanup() {
	set +e
	for p in "${WB_PIDS[@]}" "${BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in go gcc curl taskset ip; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required (scripts/deps.sh)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root for ip netns" >&2; exit 1; }

# Build the binaries (CGO_ENABLED=0 like the release build) and the C receiver.
build() {
	if [ -n "${REV:-}" ]; then
		mkdir "$TMP/src"
		git archive "$REV" | tar -x -C "$TMP/src"
		(cd "$TMP/src" && CGO_ENABLED=0 go build -o "$TMP/wirebridge" ./cmd/wirebridge)
		echo "wirebridge built from $(git rev-parse --short "$REV")"
	else
		CGO_ENABLED=0 go build -o "$TMP/wirebridge" ./cmd/wirebridge
		echo "wirebridge built from the work tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo ' (with uncommitted changes)')"
	fi
	CGO_ENABLED=0 go build -o "$TMP/wbbench" ./bench/cmd/wbbench
	gcc -O2 -Wall -o "$TMP/recvmmsg" bench/recvmmsg.c
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}

# in_ns CMD...: run CMD inside the namespace.
in_ns() { ip netns exec "$NS" "$@"; }

# prefix CPU: the command prefix that runs a program in the namespace, under
# nice when NICE != 0, pinned to CPU when PIN=1 (ip netns exec, nice and
# taskset all exec, so $! of a background command is the program's pid).
prefix() {
	local p="ip netns exec $NS"
	[ "$NICE" != 0 ] && p="$p nice -n $NICE"
	[ "$PIN" = 1 ] && p="$p taskset -c $1"
	echo "$p"
}

# send_cmd ARGS...: run wbbench ARGS in the namespace (on CPU 0 when PIN=1),
# printing the exact command first.
send_cmd() {
	local cmd
	cmd="$(prefix 0) $TMP/wbbench $*"
	echo "+ $cmd" >&2
	$cmd
}

# start_wb CONFIG [HTTP]: run `wirebridge serve -c CONFIG` inside the
# namespace (on CPU 1 when PIN=1) and wait for /readyz on HTTP (host:port,
# default 127.0.0.1:8080, which must match the config); WB_BIN names another
# build to run instead of the work tree's. Sets WB_PID (the
# wirebridge process itself: ip netns exec and taskset exec) and WB_HTTP.
start_wb() {
	local cfg=$1
	WB_HTTP=${2:-127.0.0.1:8080}
	local cmd
	cmd="$(prefix 1) ${WB_BIN:-$TMP/wirebridge} serve -c $cfg"
	echo "+ $cmd" >&2
	$cmd >"$cfg.out" 2>"$cfg.log" &
	WB_PID=$!
	WB_PIDS+=("$WB_PID")
	for _ in $(seq 1 200); do
		if in_ns curl -sf -o /dev/null "http://$WB_HTTP/readyz"; then return 0; fi
		kill -0 "$WB_PID" 2>/dev/null || { echo "wirebridge exited:" >&2; cat "$cfg.log" >&2; exit 1; }
		sleep 0.05
	done
	echo "wirebridge not ready after 10s" >&2
	cat "$cfg.log" >&2
	exit 1
}

# stop_wb [PID]: SIGTERM and wait (default: WB_PID).
stop_wb() {
	local pid=${1:-$WB_PID} keep=() p
	kill -TERM "$pid"
	wait "$pid" || true
	for p in "${WB_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	WB_PIDS=("${keep[@]}")
}

# metric SERIES [HTTP]: one value from wirebridge's /metrics (0 when absent).
metric() { in_ns "$TMP/wbbench" metrics "http://${2:-$WB_HTTP}/metrics" "$1" | awk '{print $NF}'; }

# wait_settled SERIES [HTTP]: wait until SERIES stops moving (the socket
# queue and the pipeline have drained) and the pipeline queue is empty; print it.
wait_settled() {
	local last=-1 cur q
	while :; do
		sleep 0.3
		cur=$(metric "$1" "${2:-}")
		q=$(metric wirebridge_pipeline_queued_packets "${2:-}")
		if [ "$cur" = "$last" ] && [ "$q" = 0 ]; then break; fi
		last=$cur
	done
	echo "$cur"
}

# snmp FIELD: the namespace's Udp: FIELD counter from /proc/net/snmp.
snmp() {
	in_ns cat /proc/net/snmp | awk -v f="$1" '
		$1 == "Udp:" && !seen { for (i = 2; i <= NF; i++) name[i] = $i; seen = 1; next }
		$1 == "Udp:" && seen  { for (i = 2; i <= NF; i++) if (name[i] == f) print $i }'
}

# vm FIELD [PID]: a field of /proc/PID/status in kB (VmRSS, VmHWM); default WB_PID.
vm() { awk -v f="$1:" '$1 == f {print $2}' "/proc/${2:-$WB_PID}/status"; }

machine() {
	echo "machine: $(nproc) cores, $(uname -r), $(go version | awk '{print $3}'), PIN=$PIN NICE=$NICE"
	echo "load at start: $(uptime)"
}

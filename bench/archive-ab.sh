#!/usr/bin/env bash
# UDP -> NDJSON archive, two wirebridge builds (or two configurations) side
# by side, for A/B comparisons on a busy machine, where throughput figures
# are noise: measures what contention moves little.
#
#   bench/archive-ab.sh                          A = REV_A (default main), B = the work tree
#   REV_A=HEAD SRC_B='    batch: 64' bench/archive-ab.sh   one build, two configurations
#   RATES="150000 250000" SECS=3 ROUNDS=3 bench/archive-ab.sh
#
# Both run in the benchmark's namespace at once, each with the archive
# configuration of bench/archive.sh (udp source, catch-all rule, file
# target with rotation on; http.pprof on) plus the YAML lines in SRC_A /
# SRC_B (appended to the source, indented 4 spaces) and TGT_A / TGT_B (to
# the target). For each round and rate the wbbench sender (one flow,
# 100-byte lines) sends RATE*SECS datagrams to one, then to the other (which
# goes first alternates by round); after each send, once the output stops
# growing, one line per build:
#   archived      lines written / datagrams sent
#   allocs/ev     go_memstats_mallocs_total delta per archived line
#   gcs           go_gc_duration_seconds_count delta
#   cs/kev        context switches per 1000 lines (perf stat -p)
#   ev/recvmmsg   lines per recvmmsg system call (perf stat -p)
#   cpu_s/M       user+system CPU seconds per million lines (/proc/PID/stat)
#   the drop counters so far (cumulative) and the sender's figures.
# Needs perf (Debian: linux-perf) besides what lib.sh needs.
PIN=${PIN:-0}
source "$(dirname "$0")/lib.sh"

RATES=${RATES:-"150000 250000"}
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
REV_A=${REV_A:-main}
command -v perf >/dev/null || { echo "bench: perf is required (apt-get install linux-perf)" >&2; exit 1; }

mkdir -p "$TMP/srcA"
git archive "$REV_A" | tar -x -C "$TMP/srcA"
(cd "$TMP/srcA" && CGO_ENABLED=0 go build -o "$TMP/wbA" ./cmd/wirebridge)
echo "A: wirebridge built from $(git rev-parse --short "$REV_A")${SRC_A:+, source +$SRC_A}${TGT_A:+, target +$TGT_A}"
CGO_ENABLED=0 go build -o "$TMP/wbB" ./cmd/wirebridge
echo "B: wirebridge built from the work tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo ' (with uncommitted changes)')${SRC_B:+, source +$SRC_B}${TGT_B:+, target +$TGT_B}"
CGO_ENABLED=0 go build -o "$TMP/wbbench" ./bench/cmd/wbbench
ip netns add "$NS"
ip -n "$NS" link set lo up
machine

HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A PID PORT HTTP LINES
i=0
for v in A B; do
	d=$TMP/$v
	mkdir -p "$d"
	PORT[$v]=$((6000 + i))
	HTTP[$v]=127.0.0.1:$((8080 + i))
	i=$((i + 1))
	sv=SRC_$v
	tv=TGT_$v
	cat >"$d/wirebridge.yaml" <<EOC
data_dir: $d/data
log: {level: warn, format: text}
http: {listen: ${HTTP[$v]}, pprof: true}
sources:
  - name: bench
    type: udp
    listen: ["127.0.0.1:${PORT[$v]}"]
${!sv:-}
rules:
  - name: archive-everything
    pattern: {"version": ["0"]}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: events/%Y-%m-%d/events-%H.ndjson
    rotate: {size: 128MiB, interval: 1h}
${!tv:-}
EOC
	cmd="$(prefix 1) $TMP/wb$v serve -c $d/wirebridge.yaml"
	echo "+ $cmd" >&2
	$cmd >"$d/out" 2>"$d/log" &
	PID[$v]=$!
	WB_PIDS+=("${PID[$v]}")
	for _ in $(seq 1 200); do
		in_ns curl -sf -o /dev/null "http://${HTTP[$v]}/readyz" && break
		kill -0 "${PID[$v]}" 2>/dev/null || { echo "wirebridge $v exited:" >&2; cat "$d/log" >&2; exit 1; }
		sleep 0.05
	done
	LINES[$v]=0
done

bytes() { find "$TMP/$1/data/events" -name '*.ndjson' 2>/dev/null | xargs -r stat -c %s | awk '{s += $1} END {print s + 0}'; }
lines() { find "$TMP/$1/data/events" -name '*.ndjson' 2>/dev/null | xargs -r cat | wc -l; }
settle() {
	local last=-1 cur
	while :; do
		sleep 0.5
		cur=$(bytes "$1")
		[ "$cur" = "$last" ] && break
		last=$cur
	done
}

# run V RATE: one measurement of build V.
run() {
	local v=$1 r=$2 h=${HTTP[$1]} c0 m0 g0 ps out c m1 g1 l n cs rm
	c0=$(cpu "${PID[$v]}")
	m0=$(metric go_memstats_mallocs_total "$h")
	g0=$(metric go_gc_duration_seconds_count "$h")
	perf stat -x, -e syscalls:sys_enter_recvmmsg,context-switches -p "${PID[$v]}" -o "$TMP/perf.$v" 2>/dev/null &
	ps=$!
	out=$(in_ns "$TMP/wbbench" send -to "127.0.0.1:${PORT[$v]}" -rate "$r" -count $((r * SECS)) -size 100 -flows 1)
	settle "$v"
	c=$(($(cpu "${PID[$v]}") - c0))
	kill -INT "$ps"
	wait "$ps" 2>/dev/null || true
	m1=$(metric go_memstats_mallocs_total "$h")
	g1=$(metric go_gc_duration_seconds_count "$h")
	cs=$(awk -F, '$3 == "context-switches" {print $1}' "$TMP/perf.$v")
	rm=$(awk -F, '$3 == "syscalls:sys_enter_recvmmsg" {print $1}' "$TMP/perf.$v")
	l=$(lines "$v")
	n=$((l - LINES[$v]))
	LINES[$v]=$l
	awk -v v="$v" -v r="$r" -v n="$n" -v s=$((r * SECS)) -v c="$c" -v hz="$HZ" -v m0="$m0" -v m1="$m1" \
		-v g0="$g0" -v g1="$g1" -v cs="$cs" -v rm="$rm" -v o="$out" \
		-v sq="$(metric 'wirebridge_source_dropped_total{reason="queue_full",source="bench"}' "$h")" \
		-v kd="$(metric 'wirebridge_source_dropped_total{reason="kernel",source="bench"}' "$h")" \
		-v dq="$(metric 'wirebridge_deliver_dropped_total{reason="queue_full",target="archive"}' "$h")" \
		'BEGIN {
			n = (n > 0) ? n : 1
			printf "%s rate=%s archived=%.2f%% allocs/ev=%.2f gcs=%d cs/kev=%.1f ev/recvmmsg=%.1f cpu_s/M=%.3f source_queue_full=%s kernel=%s deliver_queue_full=%s | %s\n",
				v, r, 100 * n / s, (m1 - m0) / n, g1 - g0, 1000 * cs / n, n / (rm + 0.001), (c / hz) / (n / 1e6), sq, kd, dq, o
		}'
}

for round in $(seq 1 "$ROUNDS"); do
	for r in $RATES; do
		if [ $((round % 2)) = 1 ]; then
			run A "$r"
			run B "$r"
		else
			run B "$r"
			run A "$r"
		fi
	done
done
echo "peak RSS (VmHWM): A $(vm VmHWM "${PID[A]}") kB, B $(vm VmHWM "${PID[B]}") kB"
echo "load at end: $(uptime)"

#!/usr/bin/env bash
# The Geneve appliance against a minimal C echo program, on the same rig, in
# one run (docs/performance.md, "Geneve appliance"): wbbench geneve plays
# the load balancer (Geneve with the three AWS options from 127.0.0.1, FLOWS
# flows, replies received on 127.0.0.1:6081 as GWLB receives them: addresses
# swapped, ports kept) and sends to an appliance on 127.0.0.2:6081 at each
# rate of RATES for SECS seconds; for each rate it prints the share returned
# and the round-trip latency (p50, p99) of the returned datagrams. The sender
# paces by spinning (PACE=spin: one datagram per 1/rate slot, its CPU never
# idle; PACE=sleep: bursts every ~200 µs).
#
# Appliances, one after the other, ROUNDS times (interleaved: the machine's
# load changes between rounds, so compare within a round):
#   c-echo      bench/appliance-echo.c: recvmmsg, swap, sendmmsg on a raw socket, nothing else;
#               run with -w: it asks for the kernel's receive timestamps as the appliance does
#               (for its latency histogram), and prints where its side of the round trip went
#               (kernel receive timestamp to recvmmsg's return: "wake"; to sendmmsg's: "work")
#   wirebridge  `wirebridge serve` with a pass-all appliance: section (no rules)
#   wirebridge-poll  the same with busy_poll: BUSY_POLL (skipped when BUSY_POLL is empty)
#   wirebridge-base  the same as wirebridge, run from the build WB_BASE names (e.g. of main:
#               an A/B of a change in the same run; skipped when WB_BASE is unset)
#   wirebridge-gmpN  the same as wirebridge with GOMAXPROCS=N in its environment, for each N of
#               GMP (e.g. GMP=3; none by default): pinned to one CPU, the Go runtime otherwise
#               runs every goroutine on one P (GOMAXPROCS follows the affinity mask)
#   censor      the blog post's reference censor, when WB_CENSOR names a build of it (built
#               outside the repository; it reads every UDP datagram of the namespace on a
#               raw socket, so it is given the namespace to itself)
# Each appliance gets READERS sockets/threads (default 2) and, with PIN=1, CPU 1
# to itself against the sender's CPU 0. After each appliance the script prints
# its CPU time (user + system, /proc/PID/stat) per datagram returned: the
# kernel's work for the reply is charged to the appliance, the forward leg's to
# the sender, so the two appliances' figures compare the work each does per
# datagram, which decides the rate one CPU sustains, much less moved by the
# machine's other load than the highest rate reached. A summary per round
# ends the output.
#
#   bench/appliance.sh
#   RATES=10000 ROUNDS=5 SECS=3 bench/appliance.sh      # latency only
#   WB_CENSOR=/path/to/censor bench/appliance.sh
#
# The budget: the highest rate with >= 99% returned for wirebridge at least
# 0.9x the C echo's, and p99 < 100 µs at 10,000 packets/s. The machine is
# shared: read the figures of one round together, not against another's.
source "$(dirname "$0")/lib.sh"

# Every program of the run (the sender, each appliance) gets a session of its
# own, so a scheduler autogroup of its own (sched_autogroup_enabled): in one
# group, the sender spinning on CPU 0 takes most of the group's weight, and
# the appliance on CPU 1 gets a sliver of that CPU against the machine's
# other sessions (the C echo returned 55-61% at 100,000/s that way, 100% in a
# session of its own, same moment). setsid execs (the caller is no process
# group leader), so $! is still the program.
eval "lib_$(declare -f prefix)"
prefix() { echo "setsid $(lib_prefix "$1")"; }

SECS=${SECS:-2}
FLOWS=${FLOWS:-64}
SIZE=${SIZE:-64}
RATES=${RATES:-10000,25000,50000,100000,150000,200000,250000,300000}
ROUNDS=${ROUNDS:-3}
READERS=${READERS:-2}
PACE=${PACE:-spin}
BUSY_POLL=${BUSY_POLL-50us}
GMP=${GMP:-}
build
gcc -O2 -Wall -pthread -o "$TMP/appliance-echo" bench/appliance-echo.c
machine
echo "rounds=$ROUNDS readers=$READERS pace=$PACE busy_poll=${BUSY_POLL:-none} gomaxprocs=${GMP:-default} secs=$SECS flows=$FLOWS size=$SIZE"
HZ=$(getconf CLK_TCK)
RESULTS=$TMP/results

# run_rates ROUND LABEL PID: the sender at every rate against the appliance
# PID; each line ends with that process's CPU time per datagram returned at
# that rate.
run_rates() {
	local c0 c1 rate line
	for rate in ${RATES//,/ }; do
		c0=$(cpu_ticks "$3")
		line=$(send_cmd geneve -to 127.0.0.2:6081 -from 127.0.0.1 -rates "$rate" -duration "${SECS}s" \
			-flows "$FLOWS" -size "$SIZE" -pace "$PACE" -label "$2")
		c1=$(cpu_ticks "$3")
		line=$(echo "$line" | awk -v t=$((c1 - c0)) -v hz="$HZ" '{ for (i = 1; i <= NF; i++) if ($i ~ /^returned=/) { n = substr($i, 10) }
			printf "%s cpu=%.2fµs\n", $0, n ? t / hz * 1e6 / n : 0 }')
		echo "$line"
		echo "round=$1 $line" >>"$RESULTS"
	done
}

# cpu_ticks PID: user + system time of PID (all its threads) in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wait_udp PORT: until something listens on 127.0.0.2:PORT (or on every address).
wait_udp() {
	for _ in $(seq 1 200); do
		if in_ns ss -Hlun | awk '{print $4}' | grep -Eq "^(127\.0\.0\.2|0\.0\.0\.0|\*):$1\$"; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on udp $1" >&2
	exit 1
}

# wirebridge ROUND LABEL [BUSY_POLL [GOMAXPROCS]]: serve with a pass-all appliance.
wirebridge() {
	local cfg=$TMP/appliance.yaml
	cat >"$cfg" <<-EOF2
		data_dir: $TMP/data
		http: {listen: "127.0.0.1:8081"}
		appliance:
		  listen: "127.0.0.2:6081"
		  readers: $READERS
		  busy_poll: ${3:-0s}
		  health: {listen: "127.0.0.2:8080"}
		  drain_time: 0s
	EOF2
	echo "== $2 (serve, appliance: pass all, $READERS readers, busy_poll ${3:-0s}${4:+, GOMAXPROCS=$4})"
	if [ -n "${4:-}" ]; then GOMAXPROCS=$4 start_wb "$cfg" 127.0.0.1:8081; else start_wb "$cfg" 127.0.0.1:8081; fi
	run_rates "$1" "$2" "$WB_PID"
	local m r
	for r in $(seq 0 $((READERS - 1))); do
		for m in "wirebridge_appliance_reader_packets_total{direction=\"received\",reader=\"$r\"}" \
			"wirebridge_appliance_kernel_drops_total{reader=\"$r\"}"; do
			echo "  $m $(metric "$m")"
		done
	done
	echo "  wirebridge_appliance_overload_total{policy=\"fail-open\"} $(metric 'wirebridge_appliance_overload_total{policy="fail-open"}')"
	# Its own side of the round trip, every rate together (as the C echo's
	# -w wake + work): the latency histogram, kernel receive to sendmmsg's return.
	local le counts=
	for le in 5e-06 1e-05 2e-05 5e-05 0.0001 0.0002 0.0005 0.001 0.002 0.005 0.01 0.05 0.1 1 +Inf; do
		counts="$counts $le=$(metric "wirebridge_appliance_latency_seconds_bucket{le=\"$le\"}")"
	done
	echo "$counts" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); le[i] = kv[1]; c[i] = kv[2] } n = c[NF]
		for (i = 1; i <= NF; i++) { if (!p50 && c[i] >= 0.5 * n) p50 = le[i]; if (!p99 && c[i] >= 0.99 * n) p99 = le[i] }
		printf "  in the appliance (kernel receive to sendmmsg returned): p50<=%ss p99<=%ss of %d\n", p50, p99, n }'
	stop_wb
}

for round in $(seq 1 "$ROUNDS"); do
	echo "==== round $round: $(uptime)"
	echo "== c-echo (bench/appliance-echo.c, $READERS readers)"
	cmd="$(prefix 1) $TMP/appliance-echo -a 127.0.0.2 -p 6081 -n $READERS -w"
	echo "+ $cmd" >&2
	$cmd >"$TMP/echo.out" 2>"$TMP/echo.log" &
	ECHO=$!
	BG_PIDS+=("$ECHO")
	wait_udp 6081
	run_rates "$round" c-echo "$ECHO"
	kill -TERM "$ECHO"; wait "$ECHO" || true
	cat "$TMP/echo.out"

	wirebridge "$round" wirebridge
	if [ -n "$BUSY_POLL" ]; then
		wirebridge "$round" wirebridge-poll "$BUSY_POLL"
	fi
	if [ -n "${WB_BASE:-}" ]; then
		WB_BIN=$WB_BASE wirebridge "$round" wirebridge-base
	fi
	for n in ${GMP//,/ }; do
		wirebridge "$round" "wirebridge-gmp$n" "" "$n"
	done

	if [ -n "${WB_CENSOR:-}" ]; then
		echo "== censor ($WB_CENSOR)"
		cmd="$(prefix 1) $WB_CENSOR"
		echo "+ $cmd" >&2
		$cmd >"$TMP/censor.out" 2>&1 &
		CENSOR=$!
		BG_PIDS+=("$CENSOR")
		sleep 1 # it binds a raw socket: nothing to wait for in ss
		run_rates "$round" censor "$CENSOR"
		kill -TERM "$CENSOR" 2>/dev/null; sleep 1; kill -KILL "$CENSOR" 2>/dev/null; wait "$CENSOR" || true
	fi
done
echo "load at end: $(uptime)"

# The summary: per round and appliance, the highest rate reached with >= 99%
# returned, the p99 at the first rate, the CPU per datagram at the highest
# rate every appliance of the round sustained; and wirebridge's ratios to
# the C echo of the same round.
echo "==== summary (sustained: the highest rate reached with >= 99% returned; p99 at the first rate; cpu per datagram at the highest rate all sustained)"
awk '
	{
		r = substr($1, 7); l = $2; rate = substr($3, 6) + 0; reached = substr($4, 9) + 0
		pc = $7; gsub(/[()%]/, "", pc)
		if (!((r, l) in first)) { first[r, l] = substr($9, 5) }
		ok[r, l, rate] = pc + 0 >= 99; cpu[r, l, rate] = substr($10, 5)
		if (pc + 0 >= 99 && reached > best[r, l]) best[r, l] = reached
		if (!(l in seen)) { seen[l] = 1; labels[++nl] = l }
		if (!(rate in rs)) { rs[rate] = 1; rates[++nrates] = rate }
		if (r + 0 > nr) nr = r + 0
	}
	END {
		for (r = 1; r <= nr; r++) {
			common = 0
			for (i = 1; i <= nrates; i++) {
				all = 1
				for (j = 1; j <= nl; j++) if (((r, labels[j]) in first) && !ok[r, labels[j], rates[i]]) all = 0
				if (all && rates[i] > common) common = rates[i]
			}
			for (j = 1; j <= nl; j++) {
				l = labels[j]; if (!((r, l) in first)) continue
				ratio = (l != "c-echo" && best[r, "c-echo"] > 0) ? sprintf(" (%.2fx)", best[r, l] / best[r, "c-echo"]) : ""
				c = cpu[r, l, common]; ce = cpu[r, "c-echo", common]; sub("µs", "", c); sub("µs", "", ce)
				cr = (l != "c-echo" && ce > 0) ? sprintf(" (%.2fx)", c / ce) : ""
				printf "round %d %-16s sustained %7d/s%-8s p99@first %-9s cpu@%d/s %sµs%s\n", r, l, best[r, l], ratio, first[r, l], common, c, cr
			}
		}
	}' "$RESULTS"

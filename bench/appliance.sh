#!/usr/bin/env bash
# The Geneve appliance against a minimal C echo program, on the same rig, in
# one run (docs/performance.md, "Geneve appliance"): wbbench geneve plays
# the load balancer (Geneve with the three AWS options from 127.0.0.1, FLOWS
# flows, replies received on 127.0.0.1:6081 as GWLB receives them: addresses
# swapped, ports kept) and sends to an appliance on 127.0.0.2:6081 at each
# rate of RATES for SECS seconds; for each rate it prints the share returned
# and the round-trip latency (p50, p99) of the returned datagrams.
#
# Appliances, one after the other:
#   c-echo      bench/appliance-echo.c: recvmmsg, swap, sendmmsg on a raw socket, nothing else
#   wirebridge  `wirebridge serve` with a pass-all appliance: section (no rules)
#   censor      the blog post's reference censor, when WB_CENSOR names a build of it (built
#               outside the repository; it reads every UDP datagram of the namespace on a
#               raw socket, so it is given the namespace to itself)
#
#   bench/appliance.sh
#   RATES=10000,100000,200000 SECS=3 bench/appliance.sh
#   WB_CENSOR=/path/to/censor bench/appliance.sh
#
# The budget: the highest rate with >= 99% returned for wirebridge at least
# 0.9x the C echo's, and p99 < 100 µs at 10,000 packets/s. The machine is
# shared: read the figures of one run together, not against another run's.
source "$(dirname "$0")/lib.sh"

SECS=${SECS:-2}
FLOWS=${FLOWS:-64}
SIZE=${SIZE:-64}
RATES=${RATES:-10000,25000,50000,100000,150000,200000,300000}
build
gcc -O2 -Wall -pthread -o "$TMP/appliance-echo" bench/appliance-echo.c
machine

run_rates() {
	send_cmd geneve -to 127.0.0.2:6081 -from 127.0.0.1 -rates "$RATES" -duration "${SECS}s" \
		-flows "$FLOWS" -size "$SIZE" -label "$1"
}

# wait_udp PORT: until something listens on 127.0.0.2:PORT (or on every address).
wait_udp() {
	for _ in $(seq 1 200); do
		if in_ns ss -Hlun | awk '{print $4}' | grep -Eq "^(127\.0\.0\.2|0\.0\.0\.0|\*):$1\$"; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on udp $1" >&2
	exit 1
}

echo "== c-echo (bench/appliance-echo.c, 2 readers)"
cmd="$(prefix 1) $TMP/appliance-echo -a 127.0.0.2 -p 6081"
echo "+ $cmd" >&2
$cmd >"$TMP/echo.out" 2>"$TMP/echo.log" &
ECHO=$!
BG_PIDS+=("$ECHO")
wait_udp 6081
run_rates c-echo
kill -TERM "$ECHO"; wait "$ECHO" || true
cat "$TMP/echo.out"

echo "== wirebridge (serve, appliance: pass all, 2 readers)"
cfg=$TMP/appliance.yaml
cat >"$cfg" <<-EOF2
	data_dir: $TMP/data
	http: {listen: "127.0.0.1:8081"}
	appliance:
	  listen: "127.0.0.2:6081"
	  health: {listen: "127.0.0.2:8080"}
	  drain_time: 0s
EOF2
start_wb "$cfg" 127.0.0.1:8081
run_rates wirebridge
for m in 'wirebridge_appliance_reader_packets_total{direction="received",reader="0"}' \
	'wirebridge_appliance_reader_packets_total{direction="received",reader="1"}' \
	'wirebridge_appliance_overload_total{policy="fail-open"}' \
	'wirebridge_appliance_kernel_drops_total{reader="0"}' 'wirebridge_appliance_kernel_drops_total{reader="1"}'; do
	echo "  $m $(metric "$m")"
done
stop_wb

if [ -n "${WB_CENSOR:-}" ]; then
	echo "== censor ($WB_CENSOR)"
	cmd="$(prefix 1) $WB_CENSOR"
	echo "+ $cmd" >&2
	$cmd >"$TMP/censor.out" 2>&1 &
	CENSOR=$!
	BG_PIDS+=("$CENSOR")
	sleep 1 # it binds a raw socket: nothing to wait for in ss
	run_rates censor
	kill -TERM "$CENSOR" 2>/dev/null; sleep 1; kill -KILL "$CENSOR" 2>/dev/null; wait "$CENSOR" || true
fi
echo "load at end: $(uptime)"

#!/usr/bin/env bash
# End-to-end events/s through the real binary: UDP datagrams in, events out of
# a target, timed from the first datagram sent to the last event seen there.
#
#   bench/e2e.sh                 file and http targets (direct delivery)
#   bench/e2e.sh durable         http target in durable mode (embedded JetStream)
#   RATES="50000 max" SECS=3 bench/e2e.sh file
#
# Kinds:
#   file     catch-all rule -> file target (NDJSON, no rotation); arrivals
#            are the lines in the file.
#   http     catch-all rule -> http target, delivery direct, batches of BATCH
#            events as NDJSON -> `wbbench sink` (a Go HTTP server counting
#            events); arrivals are the sink's count.
#   durable  the same http target with delivery durable: every event is
#            stored in the embedded JetStream and delivered from its durable
#            consumer, BATCH events per fetch and per request.
# For each rate the wbbench sender (sendmmsg, token bucket) sends RATE*SECS
# datagrams (MAXCOUNT at max) to a udp source; `wbbench e2e` polls the
# target every 10 ms until all arrived, or nothing moved for 3 s after the
# last send. Lost events are accounted for by wirebridge's counters (kernel,
# pipeline queue_full, delivery drops). The figure: events/s at the highest
# rate with every event delivered, and at the sender's maximum.
# Not pinned by default (PIN=0): wirebridge, the sink and the sender all
# need CPU; PIN=1 puts the sender (and sink) on CPU 0 and wirebridge on CPU 1.
PIN=${PIN:-0}
source "$(dirname "$0")/lib.sh"

KINDS=${*:-file http}
RATES=${RATES:-"20000 50000 100000 max"}
SECS=${SECS:-3}
MAXCOUNT=${MAXCOUNT:-300000}
SIZE=${SIZE:-64}
BATCH=${BATCH:-100}
build
machine

count_for() { if [ "$1" = max ]; then echo "$MAXCOUNT"; else echo $(($1 * SECS)); fi; }
rate_for() { if [ "$1" = max ]; then echo 0; else echo "$1"; fi; }

start_sink() {
	local cmd
	cmd="$(prefix 0) $TMP/wbbench sink -listen 127.0.0.1:9000"
	echo "+ $cmd" >&2
	$cmd >"$TMP/sink.out" 2>"$TMP/sink.err" &
	SINK_PID=$!
	BG_PIDS=("$SINK_PID")
	until grep -q listening "$TMP/sink.err" 2>/dev/null; do sleep 0.02; done
}

target_yaml() { # kind
	case $1 in
	file) cat <<-EOF ;;
		  - name: out
		    type: file
		    path: out.ndjson
		    rotate: {size: 0, interval: 0}
	EOF
	http | durable) cat <<-EOF ;;
		  - name: out
		    type: http
		    url: http://127.0.0.1:9000/
		    batch: {max_events: $BATCH, format: ndjson}
		    delivery: {mode: $([ "$1" = http ] && echo direct || echo durable), batch_size: $BATCH}
	EOF
	esac
}

RES=$TMP/results
: >"$RES"
for kind in $KINDS; do
	cfg=$TMP/$kind.yaml
	cat >"$cfg" <<-EOF
		data_dir: $TMP/data-$kind
		log: {level: warn, format: text}
		http: {listen: 127.0.0.1:8080}
		sources:
		  - name: bench
		    type: udp
		    listen: ["127.0.0.1:6000"]
		rules:
		  - name: all
		    pattern: {"version": ["0"]}
		    targets: [out]
		targets:
	EOF
	target_yaml "$kind" >>"$cfg"
	[ "$kind" = file ] || start_sink
	start_wb "$cfg"
	echo "--- $kind: config $cfg" >&2
	sed 's/^/    /' "$cfg" >&2
	case $kind in
	file) watch="file:$TMP/data-$kind/out.ndjson" ;;
	*) watch="url:http://127.0.0.1:9000/count" ;;
	esac
	for r in $RATES; do
		k0=$(snmp RcvbufErrors)
		q0=$(metric 'wirebridge_source_dropped_total{reason="queue_full",source="bench"}')
		x0=$(metric 'wirebridge_deliver_dropped_total{reason="queue_full",target="out"}')
		f0=$(metric 'wirebridge_pipeline_refused_total{target="out"}')
		out=$(send_cmd e2e -to 127.0.0.1:6000 -rate "$(rate_for "$r")" -count "$(count_for "$r")" -size "$SIZE" -watch "$watch")
		k=$(($(snmp RcvbufErrors) - k0))
		q=$(($(metric 'wirebridge_source_dropped_total{reason="queue_full",source="bench"}') - q0))
		x=$(($(metric 'wirebridge_deliver_dropped_total{reason="queue_full",target="out"}') - x0))
		f=$(($(metric 'wirebridge_pipeline_refused_total{target="out"}') - f0))
		echo "$kind $r $out kernel_drops=$k queue_full=$q deliver_dropped=$x refused=$f" | tee -a "$RES" >&2
	done
	echo "$kind VmHWM $(vm VmHWM) kB" >>"$RES"
	stop_wb
	if [ "$kind" != file ]; then
		kill -TERM "$SINK_PID"
		wait "$SINK_PID" || true
		BG_PIDS=()
	fi
done

echo
echo "End to end: $SIZE-byte datagrams -> udp source -> catch-all rule -> target; http batches of $BATCH as NDJSON."
echo "| target | rate asked | sender reached (pps) | arrived | events/s (first send -> last arrival) | lost: kernel / source queue_full / deliverer refused |"
echo "|---|---|---|---|---|---|"
awk '$2 != "VmHWM" {
	for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "| %s | %s | %s | %s of %s %s | **%s** | %s / %s / %s |\n", $1, $2, v["send_pps"], v["arrived"], v["sent"], $(NF-6), v["events_per_s"], v["kernel_drops"], v["queue_full"], v["refused"]
}' "$RES"
grep VmHWM "$RES" | sed 's/^/wirebridge /'
echo "load at end: $(uptime)"
echo "command: RATES=\"$RATES\" SECS=$SECS MAXCOUNT=$MAXCOUNT SIZE=$SIZE BATCH=$BATCH PIN=$PIN NICE=$NICE${REV:+ REV=$REV} bench/e2e.sh $KINDS"

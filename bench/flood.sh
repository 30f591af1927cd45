#!/usr/bin/env bash
# Memory under a UDP flood: wirebridge with default queue sizes (source
# queue_size 4096, direct delivery queue_size 1024, readers 2, recv_buffer
# 4MiB) flooded over loopback as fast as the sender goes, for SECS seconds
# (default 30; the budget is about 1M packets/s, which 2 cores may not reach:
# the rate reached is printed). Reports RSS every second, the peak (VmHWM),
# /healthz during the flood, and that every datagram the kernel's UDP layer
# took is accounted for by wirebridge's counters.
#
#   bench/flood.sh                 default config shape: catch-all rule -> NDJSON file + pcap archive
#   RULE=none bench/flood.sh       a rule matching nothing (decode + match only)
#   DURABLE=1 bench/flood.sh       and an http target in durable mode (embedded
#                                  JetStream) delivering to a wbbench sink
#   SIZE=1400 bench/flood.sh       larger datagrams
#   PPROF=1 bench/flood.sh         enable http.pprof and save the Go heap profile
#                                  at the end of the flood (heap.pb.gz, and
#                                  the top of it, in the report; needs KEEP=1
#                                  to keep the file)
#   SECS=10 FLOWS=2 bench/flood.sh
#
# The sender is one wbbench process with FLOWS sockets (distinct source ports);
# the two readers take turns on the source's one socket. Not pinned (PIN=0).
PIN=${PIN:-0}
source "$(dirname "$0")/lib.sh"

SECS=${SECS:-30}
FLOWS=${FLOWS:-4}
SIZE=${SIZE:-64}
RULE=${RULE:-all}
DURABLE=${DURABLE:-0}
build
machine

case $RULE in
all) pattern='{"version": ["0"]}' ;;
none) pattern='{"detail": {"Destination": {"Port": [9]}}}' ;;
*) echo "RULE=all or RULE=none" >&2; exit 2 ;;
esac
cfg=$TMP/flood.yaml
cat >"$cfg" <<-EOF
	data_dir: $TMP/data
	log: {level: warn, format: text}
	http: {listen: 127.0.0.1:8080$([ "${PPROF:-0}" = 1 ] && echo ", pprof: true")}
	sources:
	  - name: flood
	    type: udp
	    listen: ["127.0.0.1:6000"]
	rules:
	  - name: r
	    pattern: $pattern
	    targets: [archive, pcap-archive$([ "$DURABLE" = 1 ] && echo ", webhook")]
	targets:
	  - name: archive
	    type: file
	    path: events/events-%H.ndjson
	  - name: pcap-archive
	    type: pcap
	    path: pcap/packets-%H.pcap
EOF
if [ "$DURABLE" = 1 ]; then
	cat >>"$cfg" <<-EOF
		  - name: webhook
		    type: http
		    url: http://127.0.0.1:9000/
		    batch: {max_events: 100, format: ndjson}
		    delivery: {mode: durable}
	EOF
	in_ns "$TMP/wbbench" sink -listen 127.0.0.1:9000 >"$TMP/sink.out" 2>"$TMP/sink.err" &
	BG_PIDS=($!)
	until grep -q listening "$TMP/sink.err" 2>/dev/null; do sleep 0.02; done
fi
start_wb "$cfg"
sed 's/^/    /' "$cfg"

S() { metric "wirebridge_source_$1"; }
in0=$(snmp InDatagrams) ie0=$(snmp InErrors)
rss0=$(vm VmRSS)
send_cmd send -to 127.0.0.1:6000 -duration "${SECS}s" -flows "$FLOWS" -size "$SIZE" >"$TMP/send.out" &
spid=$!
BG_PIDS+=("$spid")
healthy=0 probes=0 maxrss=0 start=$(date +%s.%N)
echo "t(s)  VmRSS(MB)  Go heap in use(MB)  received  queue_full  kernel_drops"
while kill -0 "$spid" 2>/dev/null; do
	sleep 1
	t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	probes=$((probes + 1))
	in_ns curl -sf -m 2 -o /dev/null http://127.0.0.1:8080/healthz && healthy=$((healthy + 1))
	r=$(vm VmRSS)
	[ "$r" -gt "$maxrss" ] && maxrss=$r
	printf "%4s  %9d  %18d  %8s  %10s  %12s\n" "$t" $((r / 1024)) $(($(metric go_memstats_heap_inuse_bytes) >> 20)) "$(S 'received_total{source="flood"}')" \
		"$(S 'dropped_total{reason="queue_full",source="flood"}')" "$(S 'dropped_total{reason="kernel",source="flood"}')"
done
wait "$spid"
BG_PIDS=("${BG_PIDS[@]:0:${#BG_PIDS[@]}-1}")
[ "${PPROF:-0}" = 1 ] && in_ns curl -sf -o "$TMP/heap.pb.gz" http://127.0.0.1:8080/debug/pprof/heap
sendout=$(cat "$TMP/send.out")
wait_settled 'wirebridge_source_received_total{source="flood"}' >/dev/null
# A reader adds its socket's kernel drops (SO_MEMINFO) to the metrics at most
# every 250 ms while it reads, and 1 s after its last poll when idle (older
# revisions: only after a read). 16 probe datagrams from 16 source ports (so
# that, on older revisions, both SO_REUSEPORT sockets got some) make the
# readers poll once more either way; the pause lets the idle poll happen first.
sleep 1.2
send_cmd send -to 127.0.0.1:6000 -count 16 -flows 16 -size "$SIZE" >/dev/null
received=$(wait_settled 'wirebridge_source_received_total{source="flood"}')
hwm=$(vm VmHWM)
kd=$(S 'dropped_total{reason="kernel",source="flood"}')
qf=$(S 'dropped_total{reason="queue_full",source="flood"}')
emitted=$(S 'emitted_total{source="flood"}')
processed=$(metric 'wirebridge_pipeline_processed_total{source="flood"}')
matched=$(metric 'wirebridge_pipeline_matched_total{source="flood"}')
dd=$(in_ns "$TMP/wbbench" metrics http://127.0.0.1:8080/metrics \
	'wirebridge_deliver_dropped_total{reason="queue_full",target="archive"}' \
	'wirebridge_deliver_dropped_total{reason="queue_full",target="pcap-archive"}' \
	'wirebridge_deliver_dropped_total{reason="queue_full",target="webhook"}' | awk '{s += $NF} END {print s + 0}')
kernel=$(($(snmp InDatagrams) - in0 + $(snmp InErrors) - ie0))
enq=$(metric 'wirebridge_deliver_enqueued_total{target="webhook"}')
wqf=$(metric 'wirebridge_deliver_dropped_total{reason="queue_full",target="webhook"}')
wref=$(metric 'wirebridge_deliver_dropped_total{reason="refused",target="webhook"}')
sunk=$( [ "$DURABLE" = 1 ] && in_ns curl -s http://127.0.0.1:9000/count | awk '{print $1}' || echo 0)
stop_wb

sent=$(($(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$sendout") + 16))
echo
echo "Flood: $SECS s, $SIZE-byte datagrams, $FLOWS flows, rule=$RULE, default queue sizes$([ "$DURABLE" = 1 ] && echo ", plus a durable http target")"
echo "| figure | value |"
echo "|---|---|"
echo "| sender | $sendout |"
echo "| reached | $(awk -v s="$sent" -v t="$SECS" 'BEGIN { printf "%.0f", s / t }') packets/s sent, $(awk -v s="$kernel" -v t="$SECS" 'BEGIN { printf "%.0f", s / t }') packets/s taken by the kernel's UDP layer |"
echo "| wirebridge received | $received ($(awk -v s="$received" -v t="$SECS" 'BEGIN { printf "%.0f", s / t }')/s) |"
echo "| drops | kernel (socket buffer) $kd, source queue_full $qf, delivery queue_full $dd |"
echo "| accounted (16 probes included) | received $received + kernel drops $kd = $((received + kd)); the kernel's UDP layer took $kernel (InDatagrams + InErrors) |"
echo "| pipeline | emitted $emitted = processed $processed + queue_full $qf; matched $matched |"
echo "| **RSS** | start $((rss0 / 1024)) MB, max sampled $((maxrss / 1024)) MB, **peak VmHWM $((hwm / 1024)) MB** (budget 256 MB) |"
[ "$DURABLE" = 1 ] && echo "| durable target | accepted (stored in JetStream) $enq ($(awk -v s="$enq" -v t="$SECS" 'BEGIN { printf "%.0f", s / t }')/s), dropped queue_full $wqf, refused $wref; at the sink when the flood ended $sunk |"
if [ "${PPROF:-0}" = 1 ] && [ -s "$TMP/heap.pb.gz" ]; then
	echo "Go heap in use at the end of the flood (go tool pprof -top):"
	go tool pprof -sample_index=inuse_space -top -nodecount=12 "$TMP/wirebridge" "$TMP/heap.pb.gz" 2>/dev/null | sed -n '/^Showing nodes/,$p'
fi
echo "| /healthz | $healthy of $probes probes answered 200 |"
echo "load at end: $(uptime)"
echo "command: SECS=$SECS FLOWS=$FLOWS SIZE=$SIZE RULE=$RULE DURABLE=$DURABLE PIN=$PIN NICE=$NICE${REV:+ REV=$REV} bench/flood.sh"

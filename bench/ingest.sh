#!/usr/bin/env bash
# UDP ingest over loopback: wirebridge's udp source against bench/recvmmsg.c
# (one socket, recvmmsg in batches of 64, counting only) at the same send rates.
#
#   bench/ingest.sh                       rates 50000 100000 200000 max, 1 s each, 3 rounds
#   RATES="100000 max" SECS=5 REPS=5 bench/ingest.sh
#
# The same wbbench sender (sendmmsg, token bucket, one flow, SIZE-byte
# datagrams) sends RATE*SECS datagrams (MAXCOUNT at max) to each receiver in
# turn, REPS rounds, the receivers interleaved so that a change in the
# machine's load hits all of them:
#   C        bench/recvmmsg.c                                   port 6000
#   wb       `wirebridge serve`, udp source, a rule matching nothing   port 6001
#   wb+file  the same with a catch-all rule to a file target          port 6002
# A receiver's figure is received/sent (median over the rounds); wb/C is the
# budget's ratio (>= 95%). queue_full (wirebridge's source dropped a batch
# because the pipeline queue was full) must stay 0. Kernel drops are the
# namespace's /proc/net/snmp Udp RcvbufErrors.
source "$(dirname "$0")/lib.sh"

RATES=${RATES:-"50000 100000 200000 max"}
SECS=${SECS:-1}
REPS=${REPS:-3}
MAXCOUNT=${MAXCOUNT:-300000}
SIZE=${SIZE:-64}
build
machine

count_for() { if [ "$1" = max ]; then echo "$MAXCOUNT"; else echo $(($1 * SECS)); fi; }
rate_for() { if [ "$1" = max ]; then echo 0; else echo "$1"; fi; }
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }

wb_config() { # label port http pattern
	cat >"$TMP/$1.yaml" <<-EOF
		data_dir: $TMP/data-$1
		log: {level: warn, format: text}
		http: {listen: "$3"}
		sources:
		  - name: bench
		    type: udp
		    listen: ["127.0.0.1:$2"]
		rules:
		  - name: r
		    pattern: $4
		    targets: [archive]
		targets:
		  - name: archive
		    type: file
		    path: out.ndjson
		    rotate: {size: 0, interval: 0}
	EOF
}
wb_config wb 6001 127.0.0.1:8081 '{"detail": {"Destination": {"Port": [9]}}}'
wb_config wbfile 6002 127.0.0.1:8082 '{"version": ["0"]}'
start_wb "$TMP/wb.yaml" 127.0.0.1:8081
WB1=$WB_PID
start_wb "$TMP/wbfile.yaml" 127.0.0.1:8082
WB2=$WB_PID

RCV='wirebridge_source_received_total{source="bench"}'
QF='wirebridge_source_dropped_total{reason="queue_full",source="bench"}'
DEL='wirebridge_deliver_delivered_total{target="archive"}'

# results: lines "rate receiver sent pps received kernel_drops queue_full delivered"
RES=$TMP/results
: >"$RES"

run_c() { # rate
	local bg out cpid d0
	bg=$(prefix 1)
	echo "+ $bg $TMP/recvmmsg -p 6000" >&2
	$bg "$TMP/recvmmsg" -p 6000 >"$TMP/c.out" 2>"$TMP/c.err" &
	cpid=$!
	BG_PIDS=("$cpid")
	until grep -q ready "$TMP/c.err" 2>/dev/null; do sleep 0.02; done
	d0=$(snmp RcvbufErrors)
	out=$(send_cmd send -to 127.0.0.1:6000 -rate "$(rate_for "$1")" -count "$(count_for "$1")" -size "$SIZE")
	sleep 0.5
	kill -INT "$cpid"
	wait "$cpid"
	BG_PIDS=()
	echo "$1 C $(field sent <<<"$out") $(field send_pps <<<"$out") $(field received <"$TMP/c.out") $(($(snmp RcvbufErrors) - d0)) 0 0" >>"$RES"
	tail -1 "$RES" >&2
}

run_wb() { # rate label port http
	local r0 q0 e0 d0 out r1
	r0=$(metric "$RCV" "$4") q0=$(metric "$QF" "$4") e0=$(metric "$DEL" "$4") d0=$(snmp RcvbufErrors)
	out=$(send_cmd send -to "127.0.0.1:$3" -rate "$(rate_for "$1")" -count "$(count_for "$1")" -size "$SIZE")
	r1=$(wait_settled "$RCV" "$4")
	[ "$2" = wb+file ] && wait_settled "$DEL" "$4" >/dev/null
	echo "$1 $2 $(field sent <<<"$out") $(field send_pps <<<"$out") $((r1 - r0)) $(($(snmp RcvbufErrors) - d0)) $(($(metric "$QF" "$4") - q0)) $(($(metric "$DEL" "$4") - e0))" >>"$RES"
	tail -1 "$RES" >&2
}

for rep in $(seq 1 "$REPS"); do
	for r in $RATES; do
		echo "round $rep, rate $r" >&2
		run_c "$r"
		run_wb "$r" wb 6001 127.0.0.1:8081
		run_wb "$r" wb+file 6002 127.0.0.1:8082
	done
done
HWM1=$(vm VmHWM "$WB1") HWM2=$(vm VmHWM "$WB2")
stop_wb "$WB1"
stop_wb "$WB2"

echo
echo "UDP ingest: $SIZE-byte datagrams, one flow, loopback in a private netns; $REPS rounds, medians."
[ "$PIN" = 1 ] && echo "Pinned: sender on CPU 0, receiver (C, or the wirebridge process) on CPU 1 (taskset)."
awk -v reps="$REPS" '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		k = $1 SUBSEP $2; n[k]++
		frac[k, n[k]] = $5 / $3; pps[k, n[k]] = $4
		kd[k] += $6; qf[k] += $7; del[k] += $8; rcv[k] += $5
		if (!($1 in seen)) { seen[$1] = 1; order[++nr] = $1 }
	}
	END {
		print "| rate (pps) | sender reached (pps) | C recv/sent | wb recv/sent | **wb / C** | wb queue_full | wb+file recv/sent | **wb+file / C** | wb+file queue_full | wb+file delivered/received |"
		print "|---|---|---|---|---|---|---|---|---|---|"
		for (i = 1; i <= nr; i++) {
			r = order[i]
			for (rc = 1; rc <= 3; rc++) {
				name = rc == 1 ? "C" : rc == 2 ? "wb" : "wb+file"; k = r SUBSEP name
				delete a; delete b
				for (j = 1; j <= n[k]; j++) { a[j] = frac[k, j]; b[j] = pps[k, j] }
				f[name] = median(a, n[k]); p[name] = median(b, n[k])
			}
			kf = r SUBSEP "wb+file"
			printf "| %s | %.0f / %.0f / %.0f | %.1f%% | %.1f%% | **%.1f%%** | %d | %.1f%% | **%.1f%%** | %d | %.1f%% |\n", r,
				p["C"], p["wb"], p["wb+file"], 100 * f["C"], 100 * f["wb"], 100 * f["wb"] / f["C"],
				qf[r SUBSEP "wb"], 100 * f["wb+file"], 100 * f["wb+file"] / f["C"], qf[kf],
				rcv[kf] ? 100 * del[kf] / rcv[kf] : 0
		}
	}' "$RES"
echo
echo "sender reached: median achieved send rate towards C / wb / wb+file. queue_full and delivered: sums over the rounds."
echo "per run (rate receiver sent send_pps received kernel_drops queue_full delivered):"
sed 's/^/  /' "$RES"
echo "wirebridge VmHWM: wb $HWM1 kB, wb+file $HWM2 kB"
echo "load at end: $(uptime)"
echo "command: RATES=\"$RATES\" SECS=$SECS REPS=$REPS MAXCOUNT=$MAXCOUNT SIZE=$SIZE PIN=$PIN NICE=$NICE${REV:+ REV=$REV} bench/ingest.sh"

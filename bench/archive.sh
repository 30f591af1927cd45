#!/usr/bin/env bash
# UDP -> NDJSON archive, wirebridge beside rsyslog (imudp -> omfile), same
# sender, same run.
#
#   bench/archive.sh
#   RATES="100000 200000 400000 max" SECS=3 ROUNDS=3 bench/archive.sh
#
# Both receivers run in the benchmark's namespace on their own ports, one
# at a time (the other idles): rsyslog with a JSON template (one object per
# line: time, host, fromhost-ip, tag, msg) and the same 4 MiB socket receive
# buffer as wirebridge's udp source (rcvBufSize; rsyslog's own default is
# the kernel's, about 208 KiB), wirebridge with a udp source, one
# catch-all rule and a file target configured like the default
# configuration's archive (NDJSON, rotate size 128MiB / interval 1h, no
# tuning). For each rate and round the wbbench sender (one flow, sendmmsg,
# token bucket) sends RATE*SECS syslog lines of SIZE=100 bytes (MAXCOUNT at
# max) to one receiver, then to the other (which goes first alternates by
# round); the script waits until the receiver's output stops growing, and
# reports:
#   archived   lines in the output files / datagrams sent (median of ROUNDS)
#   cpu/M      the receiver's CPU seconds (user+system, /proc/PID/stat)
#              per million archived lines (median)
#   wirebridge's own drops by reason and garbage collections so far
#   (gc_cycles), from /metrics, and, at the end, its peak RSS (VmHWM).
# Not pinned by default (PIN=0): rsyslog runs several threads (imudp, the
# main queue's workers) and wirebridge uses both cores.
# Needs rsyslogd (Debian package rsyslog; installed here with apt-get when
# missing).
PIN=${PIN:-0}
source "$(dirname "$0")/lib.sh"

RATES=${RATES:-"100000 200000 400000 max"}
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
MAXCOUNT=${MAXCOUNT:-1500000}
SIZE=${SIZE:-100}

if ! command -v rsyslogd >/dev/null; then
	echo "bench: installing rsyslog (apt-get)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsyslog >/dev/null
fi
build
machine
echo "rsyslog: $(rsyslogd -v | head -1)"

count_for() { if [ "$1" = max ]; then echo "$MAXCOUNT"; else echo $(($1 * SECS)); fi; }
rate_for() { if [ "$1" = max ]; then echo 0; else echo "$1"; fi; }

# cpu PID: the process's user+system CPU time in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# --- rsyslog ---
RS_DIR=$TMP/rsyslog
mkdir -p "$RS_DIR/work"
cat >"$RS_DIR/rsyslog.conf" <<EOF
global(workDirectory="$RS_DIR/work")
module(load="imudp")
template(name="json" type="list" option.jsonf="on") {
  property(outname="time" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="fromhost-ip" name="fromhost-ip" format="jsonf")
  property(outname="tag" name="syslogtag" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="bench") {
  action(type="omfile" file="$RS_DIR/out.ndjson" template="json")
}
input(type="imudp" address="127.0.0.1" port="6100" ruleset="bench" rcvBufSize="4m")
EOF
cmd="$(prefix 1) rsyslogd -n -f $RS_DIR/rsyslog.conf -i $RS_DIR/rsyslogd.pid"
echo "+ $cmd" >&2
$cmd >"$RS_DIR/out.log" 2>&1 &
RS_PID=$!
BG_PIDS+=("$RS_PID")
for _ in $(seq 1 100); do
	in_ns ss -lun | grep -q ':6100 ' && break
	kill -0 "$RS_PID" 2>/dev/null || { echo "rsyslogd exited:" >&2; cat "$RS_DIR/out.log" >&2; exit 1; }
	sleep 0.05
done
echo "--- rsyslog config $RS_DIR/rsyslog.conf" >&2
sed 's/^/    /' "$RS_DIR/rsyslog.conf" >&2

# --- wirebridge ---
WB_DIR=$TMP/wb
mkdir -p "$WB_DIR"
cat >"$WB_DIR/wirebridge.yaml" <<EOF
data_dir: $WB_DIR/data
log: {level: warn, format: text}
http: {listen: 127.0.0.1:8080}
sources:
  - name: bench
    type: udp
    listen: ["127.0.0.1:6000"]
rules:
  - name: archive-everything
    pattern: {"version": ["0"]}
    targets: [archive]
targets:
  - name: archive
    type: file
    path: events/%Y-%m-%d/events-%H.ndjson
    rotate: {size: 128MiB, interval: 1h}
EOF
start_wb "$WB_DIR/wirebridge.yaml"
echo "--- wirebridge config $WB_DIR/wirebridge.yaml" >&2
sed 's/^/    /' "$WB_DIR/wirebridge.yaml" >&2

# files WHO: the output files.
files() {
	case $1 in
	rsyslog) ls "$RS_DIR"/out.ndjson 2>/dev/null || true ;;
	wb) find "$WB_DIR/data/events" -name '*.ndjson' 2>/dev/null || true ;;
	esac
}

# bytes WHO: the output files' total size.
bytes() { files "$1" | xargs -r stat -c %s | awk '{s += $1} END {print s + 0}'; }

# count_new WHO: sets NEW to the lines written since the last call (files
# only grow: each is read from where the last call stopped).
declare -A OFF
count_new() {
	local f size
	NEW=0
	for f in $(files "$1"); do
		size=$(stat -c %s "$f")
		NEW=$((NEW + $(tail -c +$((${OFF[$f]:-0} + 1)) "$f" | head -c $((size - ${OFF[$f]:-0})) | wc -l)))
		OFF[$f]=$size
	done
}

# settle WHO: wait until the output has not grown for 1 s.
settle() {
	local last=-1 cur same=0
	while :; do
		sleep 0.25
		cur=$(bytes "$1")
		if [ "$cur" = "$last" ]; then
			same=$((same + 1))
			[ $same -ge 4 ] && break
		else
			same=0
		fi
		last=$cur
	done
}

wbdrops() {
	echo "source_queue_full=$(metric 'wirebridge_source_dropped_total{reason="queue_full",source="bench"}') deliver_queue_full=$(metric 'wirebridge_deliver_dropped_total{reason="queue_full",target="archive"}') refused=$(metric 'wirebridge_pipeline_refused_total{target="archive"}') gc_cycles=$(metric go_gc_duration_seconds_count)"
}

# run WHO PORT PID RATE: one measurement; appends a result line.
RES=$TMP/results
: >"$RES"
run() {
	local who=$1 port=$2 pid=$3 r=$4 c0 k0 out l c extra=""
	k0=$(snmp RcvbufErrors)
	[ "$who" = wb ] && extra="before: $(wbdrops)"
	c0=$(cpu "$pid")
	out=$(send_cmd send -to "127.0.0.1:$port" -rate "$(rate_for "$r")" -count "$(count_for "$r")" -size "$SIZE" -flows 1)
	settle "$who"
	c=$(($(cpu "$pid") - c0))
	count_new "$who"
	l=$NEW
	extra="kernel_drops=$(($(snmp RcvbufErrors) - k0)) $extra"
	[ "$who" = wb ] && extra="$extra after: $(wbdrops)"
	echo "$who $r $out archived=$l cpu_ticks=$c $extra" | tee -a "$RES" >&2
}

count_new rsyslog
count_new wb
for round in $(seq 1 "$ROUNDS"); do
	for r in $RATES; do
		if [ $((round % 2)) = 1 ]; then
			run rsyslog 6100 "$RS_PID" "$r"
			run wb 6000 "$WB_PID" "$r"
		else
			run wb 6000 "$WB_PID" "$r"
			run rsyslog 6100 "$RS_PID" "$r"
		fi
	done
done
HWM=$(vm VmHWM)

echo
echo "UDP -> NDJSON archive: $SIZE-byte syslog lines, one flow, $ROUNDS rounds (median), $SECS s per rate (max: $MAXCOUNT datagrams)."
echo "| rate asked | sender reached (pps, median) | rsyslog archived | wirebridge archived | rsyslog CPU s / M lines | wirebridge CPU s / M lines | wirebridge / rsyslog CPU |"
echo "|---|---|---|---|---|---|---|"
for r in $RATES; do
	awk -v r="$r" -v hz="$HZ" '
		function median(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		$2 == r {
			delete v
			for (i = 3; i <= NF; i++) if (split($i, kv, "=") == 2) v[kv[1]] = kv[2]
			w = $1; n[w]++
			pct[w, n[w]] = 100 * v["archived"] / v["sent"]
			cpum[w, n[w]] = (v["archived"] > 0) ? (v["cpu_ticks"] / hz) / (v["archived"] / 1e6) : 0
			pps[n["rsyslog"] + n["wb"]] = v["send_pps"]
		}
		END {
			for (k in n) { for (i = 1; i <= n[k]; i++) { p[i] = pct[k, i]; c[i] = cpum[k, i] }; mp[k] = median(p, n[k]); mc[k] = median(c, n[k]) }
			m = n["rsyslog"] + n["wb"]; for (i = 1; i <= m; i++) s[i] = pps[i]
			printf "| %s | %.0f | %.2f%% | **%.2f%%** | %.2f | %.2f | %.2fx |\n", r, median(s, m), mp["rsyslog"], mp["wb"], mc["rsyslog"], mc["wb"], (mc["rsyslog"] > 0 ? mc["wb"] / mc["rsyslog"] : 0)
		}' "$RES"
done
echo "wirebridge peak RSS (VmHWM): $HWM kB; drops at the end: $(wbdrops)"
echo "load at end: $(uptime)"
echo "command: RATES=\"$RATES\" SECS=$SECS ROUNDS=$ROUNDS MAXCOUNT=$MAXCOUNT SIZE=$SIZE PIN=$PIN NICE=$NICE${REV:+ REV=$REV} bench/archive.sh"

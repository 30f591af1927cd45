// wirebridge live UI, worker side: everything that grows with the event rate
// runs here, off the page's main thread. The worker owns the WebSocket, parses
// the JSON, deduplicates, keeps the bounded ring of rows, applies the filter,
// counts, and builds pcap files. The page (app.js) only renders: the worker
// hands it at most one snapshot per animation frame (the rows in its viewport
// and the counters), and sends the next one only after the page has rendered
// the previous one, so a busy page is never flooded.
//
// page → worker: init/connect {cred, channel, claims}, view {start, h, follow, ack},
//   filter {text}, pause {paused}, clear, select {no}, move {key, page, from},
//   pcap, reconnect, time {mode}, sort {col, dir}, stats, follow {no}
// worker → page: snap {...}, filter {kind, error, translated}, row {no, index, item},
//   pcap {buf, name, count, skipped} | message {text}, stats {...}, follow {...}
//
// Each row's frame is decoded once on arrival (decode.js, the first 4 KiB):
// Protocol, Info and colour, relative TCP sequence numbers and the statistics
// (conversations, protocol hierarchy, packets per second) are counted then,
// so opening the statistics costs nothing that grows with the ring.
"use strict";
importScripts("pattern.js", "decode.js");

const CAP = 20000;          // rows kept (a ring): memory stays bounded
const ROW_H = 20;           // px, as in style.css and app.js
const MAX_PENDING = 256;    // WebSocket messages waiting to be parsed (each up to 256 events)
const SLICE_MS = 12;        // parsing per slice, so control messages are answered quickly
const FRAME_MS = 16;        // at most one snapshot per frame, after a user action (scroll, select, filter)
const DATA_MS = 100;        // and at most 10 per second when only new events changed the view:
                            // repainting the rows costs the page layout and paint, and nobody
                            // reads rows that scroll past faster than that

// ---- rows ----
const rows = new Array(CAP);
let first = 1, next = 1;           // row numbers in the ring: [first, next)
let view = [], viewStart = 0;      // row numbers passing the filter: view[viewStart..]
const seen = new Map();            // event id -> row number (replays after a reconnect are not shown twice)
let filterFn = null;
let paused = false;
const counters = { received: 0, serverDropped: 0, droppedBase: 0, clientDropped: 0, skipped: 0 };

function rowAt(no) { return no >= first && no < next ? rows[no % CAP] : null; }
function viewLen() { return view.length - viewStart; }

// ---- sorting: the view in another order, rebuilt (in the worker) when it changed ----
let sortCol = "", sortDir = 1, sorted = [], sortDirty = false;
const SORT_KEYS = {
  no: (r) => r.no, time: (r) => r.ts, length: (r) => r.len,
  src: (r) => summary(r).src, dst: (r) => summary(r).dst, proto: (r) => summary(r).proto, info: (r) => summary(r).info,
};
function ensureSorted() {
  if (!sortCol || !sortDirty) return;
  const key = SORT_KEYS[sortCol];
  const rs = [];
  for (let i = viewStart; i < view.length; i++) { const r = rowAt(view[i]); if (r) rs.push(r); }
  const ks = new Map(rs.map((r) => [r.no, key(r)]));
  rs.sort((a, b) => { const x = ks.get(a.no), y = ks.get(b.no); return (x < y ? -1 : x > y ? 1 : a.no - b.no) * sortDir; });
  sorted = rs.map((r) => r.no);
  sortDirty = false;
}
function orderLen() { if (!sortCol) return viewLen(); ensureSorted(); return sorted.length; }
function orderAt(i) { return sortCol ? sorted[i] : view[viewStart + i]; }
function setSort(col, dir) {
  sortCol = SORT_KEYS[col] && !(col === "no" && dir > 0) ? col : ""; // No. ascending is arrival order
  sortDir = dir < 0 ? -1 : 1;
  sortDirty = true; sorted = [];
  changed(true);
}

// App blocks in the event's detail, by the decoder's protocol name.
const APP_KEYS = { DNS: "DNS", MDNS: "DNS", LLMNR: "DNS", HTTP: "HTTP", Syslog: "Syslog", TLS: "TLS", DHCP: "DHCP", NTP: "NTP", ARP: "ARP" };
const META_BYTES = 4096;    // frame bytes decoded per row for its columns and statistics
const MAX_FLOWS = 20000;    // TCP directions remembered for relative sequence numbers
const MAX_CONVS = 5000;     // conversations counted (more go to "other")

// meta decodes the start of a row's frame once, when it arrives: Protocol,
// Info, colour and the statistics need every row, not only the ones shown.
function meta(item) {
  const d = (item.event && item.event.detail) || {};
  let m = null;
  const block = appBlock(d);
  if (block && d.Protocol === "udp" && !d.Tunnel && d.Source && d.Destination) {
    // A UDP event the server dissected says all the columns need: no frame decoding (the
    // costliest part of a row's arrival at high rates). TCP rows are decoded for their options.
    m = fromEvent(d);
    const link = item.link | 0;
    if (link === 1) m.chain.unshift("Ethernet");
    else if (link === 113 || link === 276) m.chain.unshift("Linux cooked capture");
    if (block === "DNS" && d.DNS.Response && d.DNS.RCode && d.DNS.RCode !== "NOERROR") m.color = "error";
    if (block === "DNS" && (m.sport === 5353 || m.dport === 5353)) m.mdns = "MDNS";
    else if (block === "DNS" && (m.sport === 5355 || m.dport === 5355)) m.mdns = "LLMNR";
    if (block === "Syslog" && d.Syslog.SeverityCode <= 3) m.color = "error";
    if (block === "DHCP" && d.DHCP.MessageType === "NAK") m.color = "error";
  } else if (typeof item.frame === "string" && item.frame) {
    try { m = WBDecode.layers(WBDecode.b64(item.frame.slice(0, Math.ceil(META_BYTES / 3) * 4)), item.link || 0).meta; } catch (e) { m = null; }
  }
  if (!m) m = fromEvent(d);
  // Application fields the server put in the event win over the browser's decoding.
  for (const k of ["DNS", "HTTP", "Syslog", "TLS", "DHCP", "NTP", "ARP"]) {
    if (d[k] && typeof d[k] === "object" && APP_KEYS[m.proto] !== k) {
      m.proto = m.mdns || k; m.app = d[k];
      if (!m.chain.includes(k)) m.chain.push(k);
      m.info = eventInfo(k, d[k], d) || m.info;
    }
  }
  return m;
}
function appBlock(d) {
  for (const k of ["DNS", "HTTP", "Syslog", "TLS", "DHCP", "NTP", "ARP"]) if (d[k] && typeof d[k] === "object") return k;
  return "";
}
// fromEvent is the meta of an event from its fields (no frame bytes, or no need to decode them).
function fromEvent(d) {
  const m = { proto: String(d.Protocol || "").toUpperCase(), info: "", src: (d.Source && d.Source.IP) || "", dst: (d.Destination && d.Destination.IP) || "",
    sport: d.Source && typeof d.Source.Port === "number" ? d.Source.Port : -1, dport: d.Destination && typeof d.Destination.Port === "number" ? d.Destination.Port : -1,
    l4: String(d.Protocol || "").toLowerCase(), tcp: null, pay: -1, payEnd: -1, app: null, color: "", chain: [], err: "" };
  if (m.l4 === "icmp" || m.l4 === "icmpv6") m.proto = m.l4 === "icmp" ? "ICMP" : "ICMPv6";
  if (d.IP) m.chain.push("IPv" + (d.IP.Version || 4));
  if (m.proto) m.chain.push(m.proto);
  if (d.TCP) {
    const names = (Array.isArray(d.TCP.Flags) ? d.TCP.Flags : []).map((f) => String(f).toUpperCase());
    const bit = (n) => names.includes(n);
    m.tcp = { flags: (bit("FIN") ? 1 : 0) | (bit("SYN") ? 2 : 0) | (bit("RST") ? 4 : 0) | (bit("PSH") ? 8 : 0) | (bit("ACK") ? 16 : 0),
      seq: Number(d.TCP.Seq) || 0, ack: Number(d.TCP.Ack) || 0, win: Number(d.TCP.Window) || 0, len: Number(d.Length) || 0,
      names: ["SYN", "FIN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"].filter(bit) };
    m.color = bit("RST") ? "rst" : bit("SYN") || bit("FIN") ? "synfin" : "tcp";
  } else if (d.ICMP) {
    const t = d.ICMP.Type;
    m.info = `type ${t} code ${d.ICMP.Code}`;
    m.color = (m.l4 === "icmp" ? [3, 4, 5, 11, 12].includes(t) : t < 128) ? "icmperr" : "icmp";
  } else if (m.l4 === "udp") {
    m.color = "udp";
    m.info = m.sport + " → " + m.dport + " Len=" + (Number(d.Length) || 0);
  }
  return m;
}
const RCODE_TEXT = { FORMERR: "Format error", SERVFAIL: "Server failure", NXDOMAIN: "No such name", NOTIMP: "Not implemented", REFUSED: "Refused" };
function eventInfo(k, a, d) {
  try {
    switch (k) {
      case "DNS": { // as decode.js writes it from the frame
        const id = "0x" + Number(a.ID || 0).toString(16).padStart(4, "0");
        let s = (a.Opcode && a.Opcode !== "QUERY" ? a.Opcode : "Standard query") + (a.Response ? " response " : " ") + id;
        if (a.Response && a.RCode && a.RCode !== "NOERROR") s += " " + (RCODE_TEXT[a.RCode] || a.RCode);
        for (const q of a.Questions || []) s += " " + q.Type + " " + q.Name;
        for (const x of (a.Answers || []).slice(0, 8)) s += " " + x.Type + " " + x.Data;
        return s;
      }
      case "HTTP": return a.Method ? `${a.Method} ${a.Path} ${a.Version}` : `${a.Version} ${a.Status} ${a.Reason || ""}`.trim();
      case "TLS": return a.HandshakeType === "server_hello" ? "Server Hello" : "Client Hello" + (a.SNI ? " (SNI=" + a.SNI + ")" : "");
      case "DHCP": return "DHCP " + (a.MessageType ? a.MessageType[0] + a.MessageType.slice(1).toLowerCase() : a.Op === "reply" ? "Boot Reply" : "Boot Request") + " - Transaction ID 0x" + Number(a.XID || 0).toString(16).padStart(8, "0");
      case "NTP": return `NTP Version ${a.Version}, ${a.Mode}`;
      case "ARP": return a.Operation === "reply" ? `${a.SenderIP} is at ${a.SenderMAC}` : `Who has ${a.TargetIP}? Tell ${a.SenderIP}`;
      case "Syslog": { // Wireshark's: the message after <PRI>, from the payload's text when the event has it
        const t = typeof d.PayloadText === "string" ? d.PayloadText.replace(/^(\d+ )?<\d{1,3}>/, "").slice(0, 200) : a.Message || "";
        return `${String(a.Facility).toUpperCase()}.${String(a.Severity).toUpperCase()}: ${t}`;
      }
    }
  } catch (e) { /* odd shapes: the decoder's text stays */ }
  return "";
}

// ---- TCP relative sequence numbers and scaled windows, per direction, in arrival order ----
const flows = new Map();    // "src sport dst dport" -> {base: first sequence number, ws: window shift from the SYN (-1: none)}
function relSeq(m) {
  if (!m.tcp || m.relSeq !== undefined) return;
  const t = m.tcp;
  const k = m.src + " " + m.sport + " " + m.dst + " " + m.dport, rk = m.dst + " " + m.dport + " " + m.src + " " + m.sport;
  let f = flows.get(k);
  if ((t.flags & 2) || !f) {
    if (flows.size >= MAX_FLOWS) flows.clear();
    f = { base: t.seq, ws: t.flags & 2 ? (t.ws === undefined ? -1 : t.ws) : -2 };
    flows.set(k, f);
  }
  const r = flows.get(rk);
  m.relSeq = (t.seq - f.base) >>> 0;
  m.relAck = r === undefined ? t.ack : (t.ack - r.base) >>> 0;
  // Windows are scaled (RFC 7323) when both SYNs carried the option, as Wireshark calculates them.
  const win = !(t.flags & 2) && f.ws >= 0 && r && r.ws >= 0 ? t.win * (1 << f.ws) : t.win;
  const tcpInfo = `${m.sport} → ${m.dport} [${t.names.join(", ")}] Seq=${m.relSeq}` + (t.flags & 16 ? ` Ack=${m.relAck}` : "") + ` Win=${win} Len=${t.len}` + (t.opts ? " " + t.opts : "");
  if (m.proto === "TCP") m.info = tcpInfo; // an application layer's Info wins, as in Wireshark
}

// ---- statistics, counted as rows arrive (since the last Clear) ----
let stats0 = 0;             // ts of the first row since Clear: time 0 of the Time column and the I/O graph
const convs = new Map(), hier = new Map(), io = new Map(), hierOf = new Map();
let convOther = 0, statRows = 0, statBytes = 0;
function count(r) {
  const m = r.m, len = r.len;
  statRows++; statBytes += len;
  const ck = m.chain.length ? m.chain.join(" / ") : m.proto || "Other";
  let hs = hierOf.get(ck);
  if (!hs) { // the counters of each prefix of this chain, found once per distinct chain
    const chain = ck.split(" / ");
    hs = chain.map((_, i) => { const k = chain.slice(0, i + 1).join(" / "); let h = hier.get(k); if (!h) hier.set(k, (h = { packets: 0, bytes: 0 })); return h; });
    if (hierOf.size < 1000) hierOf.set(ck, hs);
  }
  for (const h of hs) { h.packets++; h.bytes += len; }
  const sec = Math.floor((r.ts - stats0) / 1e6);
  if (sec >= 0) io.set(sec, (io.get(sec) || 0) + 1);
  if (!m.src) return;
  const hasPorts = m.sport >= 0 && (m.l4 === "tcp" || m.l4 === "udp");
  const a = m.src + (hasPorts ? ":" + m.sport : ""), b = m.dst + (hasPorts ? ":" + m.dport : "");
  const fwd = a <= b, key = (m.l4 || m.proto) + " " + (fwd ? a + " " + b : b + " " + a);
  let c = convs.get(key);
  if (!c) {
    if (convs.size >= MAX_CONVS) { convOther++; return; }
    c = { proto: (m.l4 || m.proto).toUpperCase(), a: fwd ? a : b, b: fwd ? b : a, pAB: 0, pBA: 0, bAB: 0, bBA: 0, start: r.ts, end: r.ts };
    convs.set(key, c);
  }
  if (fwd) { c.pAB++; c.bAB += len; } else { c.pBA++; c.bBA += len; }
  c.end = r.ts;
}
function resetStats() { convs.clear(); hier.clear(); hierOf.clear(); io.clear(); flows.clear(); convOther = 0; statRows = 0; statBytes = 0; stats0 = 0; }
function sendStats() {
  const list = Array.from(convs.values()).sort((x, y) => (y.pAB + y.pBA) - (x.pAB + x.pBA)).slice(0, 500);
  const secs = Array.from(io.keys());
  const last = secs.length ? Math.max(...secs) : -1;
  const from = Math.max(0, last - 599);   // the last 10 minutes
  const series = [];
  for (let s = from; s <= last; s++) series.push(io.get(s) || 0);
  postMessage({ t: "stats", rows: statRows, bytes: statBytes, convs: list, convCount: convs.size, convOther,
    hier: Array.from(hier.entries()).map(([k, v]) => ({ path: k, packets: v.packets, bytes: v.bytes })), io: { from, series } });
}

// summary is the row's columns but Time (computed per snapshot, it depends on
// the time format and the rows around it); computed once per row.
function summary(r) {
  if (r.s) return r.s;
  const item = r.item, m = r.m;
  const ev = item.event || {};
  const d = ev.detail || {};
  const ep = (x) => x ? (x.IP || "") + (x.Port !== undefined && x.Port !== null ? ":" + x.Port : "") : "";
  let info = "";
  if (d.Tunnel) info += String(d.Tunnel.Type || "tunnel").toUpperCase() + (d.Tunnel.VNI !== undefined ? " VNI " + d.Tunnel.VNI : "") + " | ";
  if (Array.isArray(d.VLAN)) info += `VLAN ${d.VLAN.join(",")} | `;
  relSeq(m);
  if (m.info) info += m.info;
  else {
    let text = "";
    if (typeof d.Payload === "string" && d.Payload) {
      try { const bin = atob(d.Payload.slice(0, 216)); for (let i = 0; i < Math.min(bin.length, 160); i++) { const c = bin.charCodeAt(i); text += c >= 32 && c < 127 ? bin[i] : "."; } } catch (e) { /* not base64 */ }
    }
    info += text || (d.Info !== undefined ? String(d.Info) : "");
  }
  let proto = m.proto || String(d.Protocol || ev["detail-type"] || "").toUpperCase() || String(ev.source || "");
  r.s = {
    no: r.no, src: ep(d.Source) || m.src, dst: ep(d.Destination) || m.dst, proto,
    length: r.len, info: info.trim(), color: m.color || "",
  };
  return r.s;
}
// rowTime formats a row's Time column: seconds since the first row (default,
// microseconds as Wireshark shows them), since the previous row in view
// (delta), or the absolute time with the event's full precision.
let timeMode = "relative";
function rowTime(r, prev) {
  if (timeMode === "absolute") {
    const d = (r.item.event && r.item.event.detail) || {};
    if (typeof d.Timestamp === "string" && d.Timestamp) { // RFC 3339 with its trailing zeros trimmed: nine digits, aligned
      const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(d.Timestamp);
      return m ? m[1] + "." + (m[2] || "").padEnd(9, "0") + "Z" : d.Timestamp;
    }
    return new Date(Math.floor(r.ts / 1000)).toISOString().slice(0, 19) + "." + String(Math.floor(r.ts % 1e6)).padStart(6, "0") + "Z";
  }
  const base = timeMode === "delta" ? (prev ? prev.ts : r.ts) : stats0;
  return ((r.ts - base) / 1e6).toFixed(6);
}
function searchText(r) {
  if (r.search === undefined) {
    const s = summary(r), ev = r.item.event || {}, d = ev.detail || {};
    // The payload's text too (the event's PayloadText, else its first 160 bytes), whatever Info shows.
    let text = typeof d.PayloadText === "string" ? d.PayloadText : "";
    if (!text && typeof d.Payload === "string" && d.Payload) {
      try { const bin = atob(d.Payload.slice(0, 216)); for (let i = 0; i < Math.min(bin.length, 160); i++) { const c = bin.charCodeAt(i); text += c >= 32 && c < 127 ? bin[i] : "."; } } catch (e) { /* not base64 */ }
    }
    r.search = (s.src + " " + s.dst + " " + s.proto + " " + s.info + " " + (ev.source || "") + " " + (ev["detail-type"] || "") + " " + text).toLowerCase();
  }
  return r.search;
}
function passes(r) {
  if (!filterFn) return true;
  try { return filterFn(r); } catch (e) { return false; }
}

function addItem(item) {
  counters.received++;
  if (paused) { counters.skipped++; return; }
  if (!item || typeof item !== "object") return;
  const id = item.event && typeof item.event.id === "string" ? item.event.id : "";
  if (id && seen.has(id)) return;
  const d = (item.event && item.event.detail) || {};
  const ts = typeof item.ts === "number" ? item.ts : (d.Timestamp ? Date.parse(d.Timestamp) * 1000 : Date.now() * 1000);
  let m;
  try { m = meta(item); } catch (e) { m = fromEvent({}); m.err = "odd event: " + e.message; } // an event of an unexpected shape still gets a row
  // Length is the frame's length on the wire (as Wireshark's), not the payload's.
  const len = Number(item.len) || (typeof item.frame === "string" ? Math.floor(item.frame.length * 3 / 4) - (item.frame.endsWith("==") ? 2 : item.frame.endsWith("=") ? 1 : 0) : 0) || Number(d.Length) || 0;
  const r = { no: next++, id, ts, item, m, len, s: null, search: undefined, mx: null };
  if (next - first > CAP) evict();
  rows[r.no % CAP] = r;
  if (id) seen.set(id, r.no);
  if (!statRows) stats0 = ts;
  relSeq(m);
  count(r);
  if (passes(r)) { view.push(r.no); if (sortCol) sortDirty = true; }
}
function evict() {
  const old = rows[first % CAP];
  if (old && old.id) seen.delete(old.id);
  rows[first % CAP] = undefined;
  first++;
  if (sortCol) sortDirty = true;
  while (viewStart < view.length && view[viewStart] < first) viewStart++;
  if (viewStart > 4096 && viewStart > view.length / 2) { view = view.slice(viewStart); viewStart = 0; }
}
function refilter() {
  view = []; viewStart = 0; sortDirty = true;
  for (let no = first; no < next; no++) { const r = rows[no % CAP]; if (r && passes(r)) view.push(no); }
  changed(true);
}
function clear() {
  for (let no = first; no < next; no++) rows[no % CAP] = undefined;
  first = next; view = []; viewStart = 0; seen.clear(); sorted = []; sortDirty = false;
  resetStats();
  changed(true);
}

// ---- parsing, in bounded slices ----
let pending = [], pendingHead = 0, pumping = false;
function enqueue(data) {
  pending.push(data);
  if (pending.length - pendingHead > MAX_PENDING) {
    // Parsing fell behind: the oldest message is dropped and its events counted.
    const lost = pending[pendingHead];
    pending[pendingHead++] = undefined;
    let n = 0, i = -1;
    while ((i = lost.indexOf('"event":', i + 1)) >= 0) n++;
    counters.clientDropped += n;
  }
  if (!pumping) { pumping = true; setTimeout(pump, 0); }
}
function pump() {
  const t0 = performance.now();
  while (pendingHead < pending.length && performance.now() - t0 < SLICE_MS) {
    const text = pending[pendingHead];
    pending[pendingHead++] = undefined;
    handle(text);
  }
  if (pendingHead === pending.length) { pending = []; pendingHead = 0; }
  else if (pendingHead > 1024) { pending = pending.slice(pendingHead); pendingHead = 0; }
  pumping = pendingHead < pending.length;
  if (pumping) setTimeout(pump, 0);
  changed();
}
function handle(text) {
  let m;
  try { m = JSON.parse(text); } catch (e) { return; }
  if (!m || typeof m !== "object") return;
  switch (m.type) {
    case "data":
      if (m.id !== subID || !Array.isArray(m.items)) return;
      counters.serverDropped = counters.droppedBase + (Number(m.dropped) || 0);
      for (const it of m.items) addItem(it);
      break;
    case "connection_ack":
      attempt = 0;
      subscribe();
      break;
    case "subscribe_success":
      setState(paused ? "paused" : "live");
      break;
    case "subscribe_error":
      setState(m.status === 403 ? "forbidden" : "error", m.error);
      break;
  }
}

// ---- snapshots for the page: at most one per frame, one in flight ----
let want = { start: 0, h: 0, follow: true };
let credit = true, dirty = true, urgent = true, sendTimer = 0, sendAt = 0, lastSent = 0;
// changed marks the page's view as stale; user says a user action caused it,
// so the page should see it at the next frame rather than within DATA_MS.
function changed(user) {
  dirty = true;
  if (user) urgent = true;
  if (!credit) return;
  const at = lastSent + (urgent ? FRAME_MS : DATA_MS);
  if (sendTimer && sendAt <= at) return;
  clearTimeout(sendTimer);
  sendAt = at;
  sendTimer = setTimeout(sendSnap, Math.max(0, at - performance.now()));
}
function sendSnap() {
  sendTimer = 0;
  if (!credit || !dirty) return;
  credit = false; dirty = false; urgent = false; lastSent = performance.now();
  const total = orderLen();
  const count = Math.ceil(want.h / ROW_H) + 2;
  let start = want.follow ? Math.floor((total * ROW_H - want.h) / ROW_H) : want.start;
  start = Math.max(0, Math.min(start, total - 1));
  const out = [];
  for (let i = start; i < Math.min(total, start + count); i++) {
    const r = rowAt(orderAt(i));
    if (r) out.push(Object.assign({ time: rowTime(r, i > 0 ? rowAt(orderAt(i - 1)) : null) }, summary(r)));
  }
  postMessage({
    t: "snap", total, start, rows: out, state: stateName, detail: stateDetail, login: showLogin,
    stats: {
      received: counters.received, shown: total, dropped: counters.serverDropped + counters.clientDropped,
      serverDropped: counters.serverDropped, clientDropped: counters.clientDropped, rows: next - first,
      state: stateName, pending: pending.length - pendingHead,
    },
  });
}

// ---- connection with exponential backoff ----
let cred = "", channel = "/packets/all", claims = null;
let ws = null, attempt = 0, subSeq = 0, subID = "", stateName = "idle", stateDetail = "", showLogin = false, retryTimer = 0;
function setState(s, detail) {
  stateName = s; stateDetail = detail || "";
  changed(true);
}
function subscribe() {
  subID = "ui-" + (++subSeq);
  ws.send(JSON.stringify({ type: "subscribe", id: subID, channel }));
}
async function connect() {
  clearTimeout(retryTimer);
  if (ws) { const old = ws; ws = null; old.close(); }
  showLogin = false;
  if (!cred) { showLogin = true; setState("unauthorized", "no share link or key"); return; }
  setState(attempt ? "reconnecting" : "connecting");
  let status = 0;
  try {
    const r = await fetch("/api/channels?channel=" + encodeURIComponent(channel), { headers: { "Authorization": "Bearer " + cred }, cache: "no-store" });
    status = r.status;
  } catch (e) { return retry(); }
  if (status === 401) {
    const expired = claims && claims.exp * 1000 <= Date.now();
    showLogin = !claims;
    setState(expired ? "expired" : "unauthorized", expired ? "share link expired" : "invalid link or key");
    return;
  }
  if (status === 403) { setState("forbidden", "not allowed to read " + channel); return; }
  if (status !== 200) return retry();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const sock = new WebSocket(`${proto}//${location.host}/ws?channel=${encodeURIComponent(channel)}&token=${encodeURIComponent(cred)}`);
  ws = sock;
  sock.onmessage = (e) => { if (ws === sock) enqueue(e.data); };
  sock.onclose = (e) => {
    if (ws !== sock) return;
    counters.droppedBase = counters.serverDropped;
    if (e.code === 1008) { setState("expired", e.reason || "share link expired"); return; }
    retry();
  };
}
function retry() {
  const delay = Math.min(30000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
  attempt = Math.min(attempt + 1, 10);
  setState("reconnecting", "in " + (delay / 1000).toFixed(1) + " s");
  retryTimer = setTimeout(connect, delay);
}

// ---- selection, filter, pcap ----
function indexInView(no) {
  if (sortCol) { ensureSorted(); return sorted.indexOf(no); }
  let lo = viewStart, hi = view.length - 1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (view[mid] === no) return mid - viewStart; if (view[mid] < no) lo = mid + 1; else hi = mid - 1; }
  return -1;
}
function sendRow(no) {
  const r = rowAt(no);
  if (!r) return;
  const it = r.item;
  postMessage({ t: "row", no, index: indexInView(no), item: { event: it.event || {}, frame: it.frame || null, link: it.link || 0, len: it.len || 0, ts: r.ts, time: rowTime(r, null), m: r.m } });
}
function move(key, page, from) {
  const n = orderLen();
  if (!n) return;
  let i = indexInView(from);
  if (i < 0) i = key === "ArrowUp" ? n : -1;
  i += { ArrowUp: -1, ArrowDown: 1, PageUp: -page, PageDown: page, Home: -n, End: n }[key] || 0;
  i = Math.max(0, Math.min(n - 1, i));
  sendRow(orderAt(i));
}
// matchable is the event a pattern filter sees: the event itself, plus the
// application blocks decoded in the browser from the frame when the event
// has none (a server without application fields, or another port mapping),
// so "Apply as filter" on a DNS name works on every row showing one.
function matchable(r) {
  if (r.mx) return r.mx;
  const ev = r.item.event || {};
  const k = APP_KEYS[r.m.proto];
  if (!k || !r.m.app || (ev.detail && ev.detail[k])) return (r.mx = ev);
  return (r.mx = Object.assign({}, ev, { detail: Object.assign({}, ev.detail, { [k]: r.m.app }) }));
}
function setFilter(text) {
  if (!text) { filterFn = null; postMessage({ t: "filter", kind: "" }); }
  else if (text.startsWith("{")) {
    let m;
    try { m = WBPattern.compile(text); } catch (e) { postMessage({ t: "filter", kind: "", error: "invalid pattern: " + e.message }); return; }
    filterFn = (r) => m(matchable(r));
    postMessage({ t: "filter", kind: "pattern" });
  } else if (WBPattern.isDisplayFilter(text)) {
    // Wireshark's display-filter syntax: the simple forms are translated to
    // an event pattern (shown to the user); anything else is refused with a
    // message rather than searched for as text (which would show nothing).
    let p, m;
    try { p = WBPattern.fromDisplayFilter(text); m = WBPattern.compile(p); } catch (e) {
      postMessage({ t: "filter", kind: "", error: e.message }); return;
    }
    filterFn = (r) => m(matchable(r));
    postMessage({ t: "filter", kind: "display filter", translated: JSON.stringify(p) });
  } else {
    const needle = text.toLowerCase();
    filterFn = (r) => searchText(r).includes(needle);
    postMessage({ t: "filter", kind: "text" });
  }
  refilter();
}
// follow gathers the payloads of the TCP or UDP conversation of row no from
// the rows in the ring, both directions in arrival order; for TCP, bytes
// already seen in a direction (retransmissions) are left out. At most
// FOLLOW_MAX bytes.
const FOLLOW_MAX = 1 << 20;
function follow(no) {
  const r0 = rowAt(no);
  if (!r0 || (r0.m.l4 !== "tcp" && r0.m.l4 !== "udp") || !r0.m.src) { postMessage({ t: "follow", error: "not a TCP or UDP packet" }); return; }
  const a = r0.m.src + "|" + r0.m.sport, b = r0.m.dst + "|" + r0.m.dport, l4 = r0.m.l4;
  const chunks = [], nextSeq = [undefined, undefined], bytes = [0, 0];
  let packets = 0, total = 0, truncated = false;
  for (let n = first; n < next; n++) {
    const r = rows[n % CAP];
    if (!r || r.m.l4 !== l4) continue;
    const x = r.m.src + "|" + r.m.sport, y = r.m.dst + "|" + r.m.dport;
    const dir = x === a && y === b ? 0 : x === b && y === a ? 1 : -1;
    if (dir < 0) continue;
    packets++;
    let data = null;
    try {
      if (typeof r.item.frame === "string" && r.item.frame) {
        const f = WBDecode.b64(r.item.frame), m = WBDecode.layers(f, r.item.link || 0).meta;
        if (m.pay >= 0) data = f.subarray(m.pay, m.payEnd);
      } else if (typeof r.item.event.detail.Payload === "string") data = WBDecode.b64(r.item.event.detail.Payload);
    } catch (e) { data = null; }
    if (!data || !data.length) continue;
    if (l4 === "tcp" && r.m.tcp) {
      const seq = r.m.tcp.seq, ns = nextSeq[dir];
      if (ns !== undefined) {
        const skip = (ns - seq) >>> 0;
        if (skip > 0 && skip < 0x80000000) { if (skip >= data.length) continue; data = data.subarray(skip); }
      }
      nextSeq[dir] = (seq + r.m.tcp.len) >>> 0;
    }
    if (total + data.length > FOLLOW_MAX) { data = data.subarray(0, FOLLOW_MAX - total); truncated = true; }
    chunks.push({ dir, bytes: data.slice() });
    bytes[dir] += data.length; total += data.length;
    if (truncated) break;
  }
  const [ai, ap] = a.split("|"), [bi, bp] = b.split("|");
  const side = (i, p) => ({ IP: [i], Port: [Number(p)] });
  const pattern = { detail: { Protocol: [l4], $or: [{ Source: side(ai, ap), Destination: side(bi, bp) }, { Source: side(bi, bp), Destination: side(ai, ap) }] } };
  postMessage({ t: "follow", l4, a: ai + ":" + ap, b: bi + ":" + bp, packets, bytes, chunks, truncated, pattern: JSON.stringify(pattern) });
}
function pcap() {
  const pkts = [];
  let link = -1, skipped = 0;
  for (let i = viewStart; i < view.length; i++) {
    const r = rowAt(view[i]);
    const f = r && r.item.frame;
    if (typeof f !== "string" || !f) { skipped++; continue; }
    const l = r.item.link || 0;
    if (link < 0) link = l;
    if (l !== link) { skipped++; continue; }
    let frame;
    try { frame = WBDecode.b64(f); } catch (e) { skipped++; continue; }
    pkts.push({ frame, ts: r.ts, len: r.item.len || 0 });
  }
  if (!pkts.length) { postMessage({ t: "message", text: "no packets with frame bytes in view" }); return; }
  const buf = WBDecode.pcap(pkts, link);
  postMessage({ t: "pcap", buf, count: pkts.length, skipped }, [buf]);
}

onmessage = (e) => {
  const m = e.data;
  switch (m.t) {
    case "connect":
      cred = m.cred || ""; channel = m.channel || channel; claims = m.claims || null;
      attempt = 0; connect();
      break;
    case "view": {
      const w = { start: Math.max(0, m.start | 0), h: Math.max(0, m.h | 0), follow: !!m.follow };
      const moved = w.start !== want.start || w.h !== want.h || w.follow !== want.follow;
      want = w;
      if (m.ack) credit = true;
      if (moved || dirty) changed(moved);
      break;
    }
    case "filter": setFilter(String(m.text || "")); break;
    case "pause": paused = !!m.paused; setState(paused ? "paused" : (ws && ws.readyState === 1 ? "live" : stateName)); break;
    case "clear": clear(); break;
    case "select": sendRow(m.no); break;
    case "move": move(m.key, Math.max(1, m.page | 0), m.from); break;
    case "pcap": pcap(); break;
    case "reconnect": if (ws) ws.close(); break;
    case "time": timeMode = ["relative", "absolute", "delta"].includes(m.mode) ? m.mode : "relative"; changed(true); break;
    case "sort": setSort(String(m.col || ""), m.dir | 0); break;
    case "stats": sendStats(); break;
    case "follow": follow(m.no); break;
  }
};

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
//   pcap, reconnect
// worker → page: snap {...}, filter {kind, error}, row {no, index, item},
//   pcap {buf, name, count, skipped} | message {text}
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

// summary is computed lazily: only for rows that are shown or text-filtered.
function summary(r) {
  if (r.s) return r.s;
  const item = r.item;
  const ev = item.event || {};
  const d = ev.detail || {};
  const proto = String(d.Protocol || ev["detail-type"] || "").toUpperCase();
  const ep = (x) => x ? (x.IP || "") + (x.Port !== undefined && x.Port !== null ? ":" + x.Port : "") : "";
  let info = "";
  if (d.Tunnel) info += String(d.Tunnel.Type || "tunnel").toUpperCase() + (d.Tunnel.VNI !== undefined ? " VNI " + d.Tunnel.VNI : "") + " | ";
  if (d.TCP) info += `${(d.TCP.Flags || []).join(",")} Seq=${d.TCP.Seq} Ack=${d.TCP.Ack} Win=${d.TCP.Window} `;
  if (d.ICMP) info += `type ${d.ICMP.Type} code ${d.ICMP.Code} `;
  if (Array.isArray(d.VLAN)) info += `VLAN ${d.VLAN.join(",")} `;
  let text = "";
  if (typeof d.Payload === "string" && d.Payload) {
    try { const bin = atob(d.Payload.slice(0, 216)); for (let i = 0; i < Math.min(bin.length, 160); i++) { const c = bin.charCodeAt(i); text += c >= 32 && c < 127 ? bin[i] : "."; } } catch (e) { /* not base64 */ }
  }
  info += text;
  r.s = {
    no: r.no, time: fmtTime(r.ts), src: ep(d.Source), dst: ep(d.Destination), proto: proto || String(ev.source || ""),
    length: String(d.Length !== undefined ? d.Length : (item.len || "")), info: info.trim(),
  };
  return r.s;
}
function fmtTime(us) {
  const d = new Date(Math.floor(us / 1000));
  return d.toTimeString().slice(0, 8) + "." + String(Math.floor(us % 1e6)).padStart(6, "0");
}
function searchText(r) {
  if (r.search === undefined) {
    const s = summary(r), ev = r.item.event || {};
    r.search = (s.src + " " + s.dst + " " + s.proto + " " + s.info + " " + (ev.source || "") + " " + (ev["detail-type"] || "")).toLowerCase();
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
  const r = { no: next++, id, ts, item, s: null, search: undefined };
  if (next - first > CAP) evict();
  rows[r.no % CAP] = r;
  if (id) seen.set(id, r.no);
  if (passes(r)) view.push(r.no);
}
function evict() {
  const old = rows[first % CAP];
  if (old && old.id) seen.delete(old.id);
  rows[first % CAP] = undefined;
  first++;
  while (viewStart < view.length && view[viewStart] < first) viewStart++;
  if (viewStart > 4096 && viewStart > view.length / 2) { view = view.slice(viewStart); viewStart = 0; }
}
function refilter() {
  view = []; viewStart = 0;
  for (let no = first; no < next; no++) { const r = rows[no % CAP]; if (r && passes(r)) view.push(no); }
  changed(true);
}
function clear() {
  for (let no = first; no < next; no++) rows[no % CAP] = undefined;
  first = next; view = []; viewStart = 0; seen.clear();
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
  const total = viewLen();
  const count = Math.ceil(want.h / ROW_H) + 2;
  let start = want.follow ? Math.floor((total * ROW_H - want.h) / ROW_H) : want.start;
  start = Math.max(0, Math.min(start, total - 1));
  const out = [];
  for (let i = start; i < Math.min(total, start + count); i++) {
    const r = rowAt(view[viewStart + i]);
    if (r) out.push(summary(r));
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
  let lo = viewStart, hi = view.length - 1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (view[mid] === no) return mid - viewStart; if (view[mid] < no) lo = mid + 1; else hi = mid - 1; }
  return -1;
}
function sendRow(no) {
  const r = rowAt(no);
  if (!r) return;
  const it = r.item;
  postMessage({ t: "row", no, index: indexInView(no), item: { event: it.event || {}, frame: it.frame || null, link: it.link || 0, len: it.len || 0, ts: r.ts, time: summary(r).time } });
}
function move(key, page, from) {
  const n = viewLen();
  if (!n) return;
  let i = indexInView(from);
  if (i < 0) i = key === "ArrowUp" ? n : -1;
  i += { ArrowUp: -1, ArrowDown: 1, PageUp: -page, PageDown: page, Home: -n, End: n }[key] || 0;
  i = Math.max(0, Math.min(n - 1, i));
  sendRow(view[viewStart + i]);
}
function setFilter(text) {
  if (!text) { filterFn = null; postMessage({ t: "filter", kind: "" }); }
  else if (text.startsWith("{")) {
    let m;
    try { m = WBPattern.compile(text); } catch (e) { postMessage({ t: "filter", kind: "", error: "invalid pattern: " + e.message }); return; }
    filterFn = (r) => m(r.item.event || {});
    postMessage({ t: "filter", kind: "pattern" });
  } else {
    const needle = text.toLowerCase();
    filterFn = (r) => searchText(r).includes(needle);
    postMessage({ t: "filter", kind: "text" });
  }
  refilter();
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
  }
};

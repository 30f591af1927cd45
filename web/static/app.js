// wirebridge live UI: a bounded, virtualised packet table fed by /ws.
"use strict";
(() => {
  const CAP = 20000;          // rows kept (a ring): memory stays bounded
  const ROW_H = 20;           // px, as in style.css
  const MAX_PENDING = 400;    // WebSocket messages waiting to be parsed
  const BUDGET_MS = 8;        // parsing per slice, so the page stays responsive
  const $ = (id) => document.getElementById(id);

  // ---- credentials and channel ----
  const hash = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  let cred = hash.get("token") || hash.get("key") || sessionStorage.getItem("wb-key") || "";
  let claims = decodeToken(cred);
  let channel = query.get("channel") || (claims && claims.ch) || "/packets/all";

  function decodeToken(t) {
    if (!t || !t.startsWith("wbs1.")) return null;
    try {
      const p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(p + "===".slice((p.length + 3) % 4)));
    } catch (e) { return null; }
  }

  // ---- rows ----
  const rows = new Array(CAP);
  let first = 1, next = 1;           // row numbers in the ring: [first, next)
  let view = [], viewStart = 0;      // row numbers passing the filter: view[viewStart..]
  const seen = new Map();            // event id -> row number (replays after a reconnect are not shown twice)
  let filterFn = null;
  let selected = 0;
  let paused = false;
  const counters = { received: 0, serverDropped: 0, droppedBase: 0, clientDropped: 0, skipped: 0 };

  function rowAt(no) { return no >= first && no < next ? rows[no % CAP] : null; }
  function viewLen() { return view.length - viewStart; }

  function summarise(item) {
    const ev = item.event || {};
    const d = ev.detail || {};
    const proto = (d.Protocol || ev["detail-type"] || "").toString().toUpperCase();
    const ep = (x) => x ? (x.IP || "") + (x.Port !== undefined && x.Port !== null ? ":" + x.Port : "") : "";
    let info = "";
    if (d.Tunnel) info += (d.Tunnel.Type || "tunnel").toUpperCase() + (d.Tunnel.VNI !== undefined ? " VNI " + d.Tunnel.VNI : "") + " | ";
    if (d.TCP) info += `${(d.TCP.Flags || []).join(",")} Seq=${d.TCP.Seq} Ack=${d.TCP.Ack} Win=${d.TCP.Window} `;
    if (d.ICMP) info += `type ${d.ICMP.Type} code ${d.ICMP.Code} `;
    if (d.VLAN) info += `VLAN ${d.VLAN.join(",")} `;
    let text = "";
    if (typeof d.Payload === "string" && d.Payload) {
      try { const bin = atob(d.Payload); for (let i = 0; i < Math.min(bin.length, 160); i++) { const c = bin.charCodeAt(i); text += c >= 32 && c < 127 ? bin[i] : "."; } } catch (e) { /* not base64 */ }
    }
    info += text;
    const ts = item.ts !== undefined ? item.ts : (d.Timestamp ? Date.parse(d.Timestamp) * 1000 : Date.now() * 1000);
    return {
      ts, ev, frame: item.frame || null, link: item.link || 0, len: item.len || 0,
      src: ep(d.Source), dst: ep(d.Destination), proto: proto || (ev.source || ""),
      length: d.Length !== undefined ? d.Length : (item.len || ""), info: info.trim(),
    };
  }
  function searchText(r) {
    if (r.search === undefined) r.search = (r.src + " " + r.dst + " " + r.proto + " " + r.info + " " + (r.ev.source || "") + " " + (r.ev["detail-type"] || "")).toLowerCase();
    return r.search;
  }
  function passes(r) {
    if (!filterFn) return true;
    try { return filterFn(r); } catch (e) { return false; }
  }

  function addItem(item) {
    counters.received++;
    if (paused) { counters.skipped++; return; }
    const id = item.event && item.event.id;
    if (id && seen.has(id)) return;
    const r = summarise(item);
    r.no = next++;
    if (next - first > CAP) evict();
    rows[r.no % CAP] = r;
    if (id) { r.id = id; seen.set(id, r.no); }
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
    dirty = true; schedule();
  }

  // ---- parsing, in bounded slices ----
  let pending = [], pendingHead = 0, pumping = false, dirty = false;
  function enqueue(data) {
    pending.push(data);
    if (pending.length - pendingHead > MAX_PENDING) {
      const lost = pending[pendingHead++];
      let n = 0, i = -1;
      while ((i = lost.indexOf('"event":', i + 1)) >= 0) n++;
      counters.clientDropped += n;
    }
    schedule();
  }
  function schedule() {
    if (pumping) return;
    pumping = true;
    setTimeout(pump, 0);
  }
  function pump() {
    const t0 = performance.now();
    while (pendingHead < pending.length && performance.now() - t0 < BUDGET_MS) {
      handle(pending[pendingHead]);
      pending[pendingHead++] = undefined;
      dirty = true;
    }
    if (pendingHead === pending.length) { pending = []; pendingHead = 0; }
    pumping = false;
    if (dirty) requestAnimationFrame(render);
    if (pendingHead < pending.length) schedule();
  }
  function handle(text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { return; }
    switch (m.type) {
      case "data":
        if (m.id !== subID) return;
        counters.serverDropped = counters.droppedBase + (m.dropped || 0);
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

  // ---- rendering (virtualised) ----
  const vp = $("viewport"), spacer = $("spacer"), rowsEl = $("rows");
  const pool = [];
  let programmaticScroll = false, rafPending = false;
  function render() {
    rafPending = false;
    dirty = false;
    const n = viewLen();
    spacer.style.height = n * ROW_H + "px";
    if ($("autoscroll").checked) {
      const target = Math.max(0, n * ROW_H - vp.clientHeight);
      if (Math.abs(vp.scrollTop - target) > 1) { programmaticScroll = true; vp.scrollTop = target; }
    }
    const start = Math.max(0, Math.floor(vp.scrollTop / ROW_H));
    const count = Math.min(n - start, Math.ceil(vp.clientHeight / ROW_H) + 2);
    while (pool.length < count) {
      const el = document.createElement("div");
      el.className = "row";
      for (let i = 0; i < 7; i++) el.appendChild(document.createElement("span"));
      rowsEl.appendChild(el);
      pool.push(el);
    }
    for (let i = 0; i < pool.length; i++) {
      const el = pool[i];
      if (i >= count) { if (!el.hidden) el.hidden = true; continue; }
      el.hidden = false;
      const no = view[viewStart + start + i];
      const r = rowAt(no);
      el.style.transform = `translateY(${(start + i) * ROW_H}px)`;
      if (el.dataset.no !== String(no)) {
        el.dataset.no = no;
        const c = el.children;
        c[0].textContent = no;
        c[1].textContent = fmtTime(r.ts);
        c[2].textContent = r.src; c[3].textContent = r.dst; c[4].textContent = r.proto;
        c[5].textContent = r.length; c[6].textContent = r.info;
        el.className = "row p-" + r.proto.toLowerCase();
      }
      el.classList.toggle("sel", no === selected);
    }
    $("c-received").textContent = counters.received;
    $("c-shown").textContent = n;
    $("c-dropped").textContent = counters.serverDropped + counters.clientDropped;
  }
  function requestRender() { if (!rafPending) { rafPending = true; requestAnimationFrame(render); } }
  function fmtTime(us) {
    const d = new Date(Math.floor(us / 1000));
    return d.toTimeString().slice(0, 8) + "." + String(Math.floor(us % 1e6)).padStart(6, "0");
  }
  vp.addEventListener("scroll", () => {
    if (programmaticScroll) { programmaticScroll = false; requestRender(); return; }
    const atBottom = vp.scrollTop + vp.clientHeight >= vp.scrollHeight - ROW_H * 1.5;
    $("autoscroll").checked = atBottom;
    requestRender();
  });
  window.addEventListener("resize", requestRender);

  // ---- selection and details ----
  rowsEl.addEventListener("click", (e) => {
    const el = e.target.closest(".row");
    if (!el) return;
    select(Number(el.dataset.no));
    vp.focus();
  });
  vp.addEventListener("keydown", (e) => {
    if (!["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"].includes(e.key)) return;
    e.preventDefault();
    const n = viewLen();
    if (!n) return;
    let i = indexInView(selected);
    const page = Math.max(1, Math.floor(vp.clientHeight / ROW_H) - 1);
    if (i < 0) i = e.key === "ArrowUp" ? n : -1;
    i += { ArrowUp: -1, ArrowDown: 1, PageUp: -page, PageDown: page, Home: -n, End: n }[e.key];
    i = Math.max(0, Math.min(n - 1, i));
    select(view[viewStart + i]);
    const top = i * ROW_H;
    if (top < vp.scrollTop) vp.scrollTop = top;
    else if (top + ROW_H > vp.scrollTop + vp.clientHeight) vp.scrollTop = top + ROW_H - vp.clientHeight;
  });
  function indexInView(no) {
    let lo = viewStart, hi = view.length - 1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (view[mid] === no) return mid - viewStart; if (view[mid] < no) lo = mid + 1; else hi = mid - 1; }
    return -1;
  }
  function select(no) {
    const r = rowAt(no);
    if (!r) return;
    selected = no;
    $("autoscroll").checked = false;
    showDetails(r);
    requestRender();
  }
  function showDetails(r) {
    const tree = $("tree");
    tree.textContent = "";
    const add = (name, fields, open) => {
      const d = document.createElement("details");
      d.open = open;
      const s = document.createElement("summary");
      s.textContent = name;
      d.appendChild(s);
      for (const [k, v] of fields) {
        const f = document.createElement("div");
        f.className = "f";
        f.textContent = k + ": " + v;
        d.appendChild(f);
      }
      tree.appendChild(d);
    };
    const ev = r.ev, det = ev.detail || {};
    add(`Frame ${r.no}: ${r.len || det.Length || 0} bytes${r.frame ? "" : " (no frame bytes)"}`,
      [["Time", det.Timestamp || fmtTime(r.ts)], ["Event id", ev.id || ""], ["Source", ev.source || ""], ["Detail type", ev["detail-type"] || ""], ["Channel", channel]], false);
    let bytes = null;
    if (r.frame) {
      bytes = WBDecode.b64(r.frame);
      for (const l of WBDecode.layers(bytes, r.link)) add(l.name, l.fields, true);
    } else {
      if (det.IP) add("Internet Protocol Version " + det.IP.Version, [["Source", det.Source && det.Source.IP], ["Destination", det.Destination && det.Destination.IP], ["TTL", det.IP.TTL]], true);
      if (det.Tunnel) add("Tunnel " + det.Tunnel.Type, Object.entries(det.Tunnel).map(([k, v]) => [k, JSON.stringify(v)]), true);
      const l4 = det.TCP || det.ICMP;
      add(det.Protocol ? det.Protocol.toUpperCase() : "Transport", [["Source port", det.Source && det.Source.Port], ["Destination port", det.Destination && det.Destination.Port]].concat(l4 ? Object.entries(l4).map(([k, v]) => [k, JSON.stringify(v)]) : []), true);
      if (det.Payload) { try { bytes = WBDecode.b64(det.Payload); } catch (e) { /* not base64 */ } add("Payload", [["Length", det.Length]], true); }
    }
    if (det.Tunnel && det.Tunnel.Options) add("Tunnel options (event)", det.Tunnel.Options.map((o, i) => ["Option " + i, JSON.stringify(o)]), false);
    add("Event JSON", [["", JSON.stringify(ev, null, 2)]], false);
    $("hex").textContent = bytes ? WBDecode.hexdump(bytes) : "no bytes";
  }

  // ---- filter ----
  let filterTimer = 0;
  $("filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(applyFilter, 150); });
  function applyFilter() {
    const text = $("filter").value.trim();
    const st = $("filter-state");
    st.classList.remove("bad");
    if (!text) { filterFn = null; st.textContent = ""; }
    else if (text.startsWith("{")) {
      try { const m = WBPattern.compile(text); filterFn = (r) => m(r.ev); st.textContent = "pattern"; }
      catch (e) { st.textContent = "invalid pattern: " + e.message; st.classList.add("bad"); return; }
    } else {
      const needle = text.toLowerCase();
      filterFn = (r) => searchText(r).includes(needle);
      st.textContent = "text";
    }
    refilter();
  }

  // ---- buttons ----
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume" : "Pause";
    setState(paused ? "paused" : (ws && ws.readyState === 1 ? "live" : stateName));
  });
  $("clear").addEventListener("click", () => {
    for (let no = first; no < next; no++) rows[no % CAP] = undefined;
    first = next; view = []; viewStart = 0; seen.clear(); selected = 0;
    $("tree").textContent = ""; $("hex").textContent = "";
    requestRender();
  });
  $("autoscroll").addEventListener("change", requestRender);
  $("pcap").addEventListener("click", () => {
    const pkts = [];
    let link = -1, skipped = 0;
    for (let i = viewStart; i < view.length; i++) {
      const r = rowAt(view[i]);
      if (!r || !r.frame) { skipped++; continue; }
      if (link < 0) link = r.link;
      if (r.link !== link) { skipped++; continue; }
      pkts.push({ frame: WBDecode.b64(r.frame), ts: r.ts, len: r.len });
    }
    if (!pkts.length) { message("no packets with frame bytes in view"); return; }
    const blob = new Blob([WBDecode.pcap(pkts, link)], { type: "application/vnd.tcpdump.pcap" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "wirebridge" + channel.replace(/[^A-Za-z0-9_-]+/g, "-") + "-" + new Date().toISOString().replace(/[:.]/g, "") + ".pcap";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    message(`pcap: ${pkts.length} packets` + (skipped ? `, ${skipped} without frame bytes or of another link type left out` : ""));
  });
  $("share").addEventListener("click", async () => {
    try {
      const resp = await fetch("/api/share", { method: "POST", headers: { "Authorization": "Bearer " + cred, "Content-Type": "application/json" },
        body: JSON.stringify({ channel }) });
      if (!resp.ok) { message("share: " + resp.status + " " + (await resp.text()).trim()); return; }
      const s = await resp.json();
      const out = $("share-url");
      out.hidden = false; out.value = s.url;
      try { await navigator.clipboard.writeText(s.url); message("share link copied, valid until " + new Date(s.expires).toLocaleString()); }
      catch (e) { out.select(); message("share link (copy it), valid until " + new Date(s.expires).toLocaleString()); }
    } catch (e) { message("share: " + e.message); }
  });
  $("connect").addEventListener("click", () => {
    cred = $("key").value.trim();
    channel = $("login-channel").value.trim() || channel;
    sessionStorage.setItem("wb-key", cred);
    claims = decodeToken(cred);
    $("login").hidden = true;
    attempt = 0; connect();
  });
  function message(s) { $("message").textContent = s; }

  // ---- connection with exponential backoff ----
  let ws = null, attempt = 0, subSeq = 0, subID = "", stateName = "idle", retryTimer = 0;
  function setState(s, detail) {
    stateName = s;
    const el = $("state");
    el.dataset.state = s;
    el.textContent = detail ? s + ": " + detail : s;
  }
  function subscribe() {
    subID = "ui-" + (++subSeq);
    ws.send(JSON.stringify({ type: "subscribe", id: subID, channel }));
  }
  async function connect() {
    clearTimeout(retryTimer);
    $("channel").textContent = channel;
    if (!cred) { $("login").hidden = false; setState("unauthorized", "no share link or key"); return; }
    setState(attempt ? "reconnecting" : "connecting");
    let status = 0;
    try {
      const r = await fetch("/api/channels?channel=" + encodeURIComponent(channel), { headers: { "Authorization": "Bearer " + cred }, cache: "no-store" });
      status = r.status;
    } catch (e) { return retry(); }
    if (status === 401) {
      const expired = claims && claims.exp * 1000 <= Date.now();
      setState(expired ? "expired" : "unauthorized", expired ? "share link expired" : "invalid link or key");
      $("login").hidden = !!claims;
      return;
    }
    if (status === 403) { setState("forbidden", "not allowed to read " + channel); return; }
    if (status !== 200) return retry();
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/ws?channel=${encodeURIComponent(channel)}&token=${encodeURIComponent(cred)}`;
    const sock = new WebSocket(url);
    ws = sock;
    sock.onmessage = (e) => enqueue(e.data);
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

  // For the browser tests and the curious: counters and row access.
  window.wirebridge = {
    stats: () => ({ received: counters.received, shown: viewLen(), dropped: counters.serverDropped + counters.clientDropped,
      serverDropped: counters.serverDropped, clientDropped: counters.clientDropped, rows: next - first, state: stateName, pending: pending.length - pendingHead }),
    reconnect: () => { if (ws) ws.close(); },
  };
  connect();
})();

// wirebridge live UI, page side: renders what the worker (worker.js) hands it.
// The WebSocket, JSON parsing, the ring of rows, the filter, the counters and
// pcap assembly all run in the worker, so the page's main thread only touches
// the rows in view, once per animation frame at most, whatever the event rate.
"use strict";
(() => {
  const ROW_H = 20;           // px, as in style.css and worker.js
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

  const worker = new Worker("worker.js");
  const post = (m) => worker.postMessage(m);

  // ---- rendering (virtualised): only the rows in view, once per frame ----
  const vp = $("viewport"), spacer = $("spacer"), rowsEl = $("rows"), auto = $("autoscroll");
  const loginEl = $("login"), cReceived = $("c-received"), cShown = $("c-shown"), cDropped = $("c-dropped"), stateEl = $("state");
  const pool = [];
  let snap = null;            // the latest snapshot, not yet rendered
  let stats = { received: 0, shown: 0, dropped: 0, serverDropped: 0, clientDropped: 0, rows: 0, state: "idle", pending: 0 };
  let selected = 0, total = 0, spacerH = -1, vpH = vp.clientHeight, scrollTop = 0, ownScroll = -1;
  let frameReq = 0, fallback = 0;

  worker.onmessage = (e) => {
    const m = e.data;
    switch (m.t) {
      case "snap": snap = m; stats = m.stats; requestFrame(); break;
      case "row": showRow(m); break;
      case "filter": {
        const st = $("filter-state");
        st.classList.toggle("bad", !!m.error);
        st.textContent = m.error || m.kind;
        break;
      }
      case "pcap": download(m); break;
      case "message": message(m.text); break;
    }
  };
  worker.onerror = (e) => { message("worker: " + (e.message || "failed")); };

  // requestFrame renders at the next animation frame; a page whose frames are
  // throttled (in the background) still renders, at 5 per second.
  function requestFrame() {
    if (frameReq) return;
    frameReq = requestAnimationFrame(render);
    fallback = setTimeout(render, 200);
  }
  function viewMsg(ack) {
    return { t: "view", ack, start: Math.floor(scrollTop / ROW_H), h: vpH, follow: auto.checked };
  }
  function render() {
    cancelAnimationFrame(frameReq); clearTimeout(fallback);
    frameReq = 0; fallback = 0;
    const m = snap;
    snap = null;
    if (m) paint(m);
    post(viewMsg(!!m)); // ask for the next snapshot, for what is in view now
  }
  function paint(m) {
    // Reads first (scrollTop is tracked by the scroll handler, the height by resize), then writes.
    total = m.total;
    const h = total * ROW_H;
    if (h !== spacerH) { spacer.style.height = h + "px"; spacerH = h; }
    if (auto.checked) {
      const target = Math.max(0, h - vpH);
      if (Math.abs(scrollTop - target) > 1) { ownScroll = target; scrollTop = target; vp.scrollTop = target; }
    }
    const rs = m.rows;
    while (pool.length < rs.length) {
      const el = document.createElement("div");
      el.className = "row";
      for (let i = 0; i < 7; i++) el.appendChild(document.createElement("span"));
      el.hidden = true;
      rowsEl.appendChild(el);
      pool.push(el);
    }
    for (let i = 0; i < pool.length; i++) {
      const el = pool[i];
      if (i >= rs.length) { if (!el.hidden) { el.hidden = true; el._no = 0; el.dataset.no = ""; } continue; }
      const r = rs[i];
      if (el.hidden) el.hidden = false;
      const y = (m.start + i) * ROW_H;
      if (el._y !== y) { el.style.transform = `translateY(${y}px)`; el._y = y; }
      if (el._no !== r.no) {
        el._no = r.no;
        el.dataset.no = r.no;
        const c = el.children;
        c[0].textContent = r.no; c[1].textContent = r.time;
        c[2].textContent = r.src; c[3].textContent = r.dst; c[4].textContent = r.proto;
        c[5].textContent = r.length; c[6].textContent = r.info;
        el.className = "row p-" + r.proto.toLowerCase() + (r.no === selected ? " sel" : "");
      } else if ((r.no === selected) !== el.classList.contains("sel")) {
        el.classList.toggle("sel", r.no === selected);
      }
    }
    setText(cReceived, stats.received);
    setText(cShown, stats.shown);
    setText(cDropped, stats.dropped);
    const label = m.detail ? m.state + ": " + m.detail : m.state;
    if (stateEl.dataset.state !== m.state) stateEl.dataset.state = m.state;
    setText(stateEl, label);
    if (loginEl.hidden !== !m.login) loginEl.hidden = !m.login;
  }
  function setText(el, v) { const s = String(v); if (el.textContent !== s) el.textContent = s; }
  function markSelected() {
    for (const el of pool) if (!el.hidden) el.classList.toggle("sel", el._no === selected);
  }

  vp.addEventListener("scroll", () => {
    scrollTop = vp.scrollTop;
    if (ownScroll >= 0 && Math.abs(scrollTop - ownScroll) <= 1) { ownScroll = -1; return; }
    ownScroll = -1;
    auto.checked = scrollTop + vpH >= total * ROW_H - ROW_H * 1.5;
    post(viewMsg(false));
  }, { passive: true });
  new ResizeObserver(() => { vpH = vp.clientHeight; post(viewMsg(false)); }).observe(vp);

  // ---- selection and details ----
  rowsEl.addEventListener("click", (e) => {
    const el = e.target.closest(".row");
    if (!el || !el._no) return;
    select(el._no);
    vp.focus();
  });
  vp.addEventListener("keydown", (e) => {
    if (!["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"].includes(e.key)) return;
    e.preventDefault();
    post({ t: "move", key: e.key, page: Math.max(1, Math.floor(vpH / ROW_H) - 1), from: selected });
  });
  function select(no) {
    selected = no;
    auto.checked = false;
    markSelected();
    post({ t: "select", no });
    post(viewMsg(false));
  }
  function showRow(m) {
    if (m.no !== selected) { // moved by the keyboard: select and bring into view
      selected = m.no;
      auto.checked = false;
      markSelected();
      if (m.index >= 0) {
        const top = m.index * ROW_H;
        if (top < scrollTop) vp.scrollTop = scrollTop = top;
        else if (top + ROW_H > scrollTop + vpH) vp.scrollTop = scrollTop = top + ROW_H - vpH;
      }
      post(viewMsg(false));
    }
    showDetails(m.no, m.item);
  }
  function showDetails(no, r) {
    const tree = $("tree");
    const frag = document.createDocumentFragment();
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
      frag.appendChild(d);
    };
    const ev = r.event, det = ev.detail || {};
    add(`Frame ${no}: ${r.len || det.Length || 0} bytes${r.frame ? "" : " (no frame bytes)"}`,
      [["Time", det.Timestamp || r.time], ["Event id", ev.id || ""], ["Source", ev.source || ""], ["Detail type", ev["detail-type"] || ""], ["Channel", channel]], false);
    let bytes = null;
    if (r.frame) {
      try {
        bytes = WBDecode.b64(r.frame);
        for (const l of WBDecode.layers(bytes, r.link)) add(l.name, l.fields, true);
      } catch (e) { add("Frame bytes", [["", "not base64"]], true); bytes = null; }
    } else {
      if (det.IP) add("Internet Protocol Version " + det.IP.Version, [["Source", det.Source && det.Source.IP], ["Destination", det.Destination && det.Destination.IP], ["TTL", det.IP.TTL]], true);
      if (det.Tunnel) add("Tunnel " + det.Tunnel.Type, Object.entries(det.Tunnel).map(([k, v]) => [k, JSON.stringify(v)]), true);
      const l4 = det.TCP || det.ICMP;
      add(det.Protocol ? String(det.Protocol).toUpperCase() : "Transport", [["Source port", det.Source && det.Source.Port], ["Destination port", det.Destination && det.Destination.Port]].concat(l4 ? Object.entries(l4).map(([k, v]) => [k, JSON.stringify(v)]) : []), true);
      if (det.Payload) { try { bytes = WBDecode.b64(det.Payload); } catch (e) { /* not base64 */ } add("Payload", [["Length", det.Length]], true); }
    }
    if (det.Tunnel && Array.isArray(det.Tunnel.Options)) add("Tunnel options (event)", det.Tunnel.Options.map((o, i) => ["Option " + i, JSON.stringify(o)]), false);
    add("Event JSON", [["", JSON.stringify(ev, null, 2)]], false);
    tree.replaceChildren(frag);
    tree.dataset.no = no;
    $("hex").textContent = bytes ? WBDecode.hexdump(bytes) : "no bytes";
  }

  // ---- filter (evaluated in the worker) ----
  let filterTimer = 0;
  $("filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(applyFilter, 150); });
  function applyFilter() { post({ t: "filter", text: $("filter").value.trim() }); }

  // ---- buttons ----
  let paused = false;
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume" : "Pause";
    post({ t: "pause", paused });
  });
  $("clear").addEventListener("click", () => {
    selected = 0;
    $("tree").textContent = ""; $("tree").dataset.no = ""; $("hex").textContent = "";
    post({ t: "clear" });
  });
  auto.addEventListener("change", () => post(viewMsg(false)));
  $("pcap").addEventListener("click", () => post({ t: "pcap" }));
  function download(m) {
    const blob = new Blob([m.buf], { type: "application/vnd.tcpdump.pcap" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "wirebridge" + channel.replace(/[^A-Za-z0-9_-]+/g, "-") + "-" + new Date().toISOString().replace(/[:.]/g, "") + ".pcap";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    message(`pcap: ${m.count} packets` + (m.skipped ? `, ${m.skipped} without frame bytes or of another link type left out` : ""));
  }
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
    connect();
  });
  function message(s) { $("message").textContent = s; }
  function connect() {
    $("channel").textContent = channel;
    post({ t: "connect", cred, channel, claims });
  }

  // For the browser tests and the curious: the counters of the latest snapshot.
  window.wirebridge = {
    stats: () => Object.assign({}, stats),
    reconnect: () => post({ t: "reconnect" }),
  };
  post(viewMsg(false));
  connect();
})();

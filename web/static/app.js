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
        const st = $("filter-state"), note = $("filter-note");
        st.classList.toggle("bad", !!m.error);
        st.textContent = m.error ? "not applied" : m.kind;
        note.hidden = !m.error && !m.translated;
        note.classList.toggle("bad", !!m.error);
        note.textContent = m.error || (m.translated ? "display filter translated to the event pattern " + m.translated : "");
        break;
      }
      case "follow": showFollow(m); break;
      case "stats": showStats(m); break;
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
        el._time = r.time;
        el.className = "row" + (r.color ? " c-" + r.color : "") + (r.no === selected ? " sel" : "");
      } else {
        if (el._time !== r.time) { el._time = r.time; el.children[1].textContent = r.time; }
        if ((r.no === selected) !== el.classList.contains("sel")) el.classList.toggle("sel", r.no === selected);
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
  let curBytes = null, curEvent = null;
  function showDetails(no, r) {
    const tree = $("tree");
    const frag = document.createDocumentFragment();
    curEvent = r.event;
    const add = (name, fields, open, start, end) => {
      const d = document.createElement("details");
      d.open = open;
      const s = document.createElement("summary");
      s.textContent = name;
      if (start !== undefined) { s._off = start; s._len = end - start; }
      d.appendChild(s);
      for (const fl of fields) {
        const [k, v, off, len, path, val] = fl;
        const f = document.createElement("div");
        f.className = "f";
        f.textContent = k + ": " + v;
        if (typeof off === "number" && typeof len === "number") { f._off = off; f._len = len; }
        if (path) { f._path = path; f._val = val !== undefined ? val : v; f.classList.add("ef"); }
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
        for (const l of WBDecode.layers(bytes, r.link)) add(l.name, l.fields, true, l.start, l.end);
      } catch (e) { add("Frame bytes", [["", "not base64"]], true); bytes = null; }
    } else {
      if (det.IP) add("Internet Protocol Version " + det.IP.Version, [["Source", det.Source && det.Source.IP, null, null, "Source.IP"], ["Destination", det.Destination && det.Destination.IP, null, null, "Destination.IP"], ["TTL", det.IP.TTL, null, null, "IP.TTL"]], true);
      if (det.Tunnel) add("Tunnel " + det.Tunnel.Type, Object.entries(det.Tunnel).map(([k, v]) => [k, JSON.stringify(v)]), true);
      const l4 = det.TCP || det.ICMP;
      add(det.Protocol ? String(det.Protocol).toUpperCase() : "Transport", [["Source port", det.Source && det.Source.Port], ["Destination port", det.Destination && det.Destination.Port]].concat(l4 ? Object.entries(l4).map(([k, v]) => [k, JSON.stringify(v)]) : []), true);
      for (const k of ["DNS", "HTTP", "Syslog", "TLS", "DHCP", "NTP", "ARP"]) {
        if (det[k] && typeof det[k] === "object") add(k + " (event fields)", flat(det[k], k), true);
      }
      if (det.Payload) { try { bytes = WBDecode.b64(det.Payload); } catch (e) { /* not base64 */ } add("Payload", [["Length", det.Length]], true); }
    }
    if (det.Tunnel && Array.isArray(det.Tunnel.Options)) add("Tunnel options (event)", det.Tunnel.Options.map((o, i) => ["Option " + i, JSON.stringify(o)]), false);
    add("Event JSON", [["", JSON.stringify(ev, null, 2)]], false);
    tree.replaceChildren(frag);
    tree.dataset.no = no;
    curBytes = bytes;
    renderHex(-1, 0);
  }
  // flat lists an application block of the event as tree fields with their paths.
  function flat(o, path, out = []) {
    for (const [k, v] of Object.entries(o)) {
      if (out.length > 200) break;
      if (Array.isArray(v)) v.forEach((x, i) => x !== null && typeof x === "object" ? flat(x, path + "." + k, out) : out.push([k + "[" + i + "]", x, null, null, path + "." + k, x]));
      else if (v !== null && typeof v === "object") flat(v, path + "." + k, out);
      else out.push([k, v, null, null, path + "." + k, v]);
    }
    return out;
  }

  // ---- hex dump, with the selected field's bytes highlighted ----
  function renderHex(off, len) {
    const hex = $("hex"), b = curBytes;
    if (!b) { hex.textContent = "no bytes"; return; }
    if (off < 0 || !len) { hex.textContent = WBDecode.hexdump(b); hex.dataset.mark = ""; return; }
    const end = Math.min(b.length, off + len);
    const frag = document.createDocumentFragment();
    const hx = (x) => x.toString(16).padStart(2, "0");
    const text = (t) => frag.appendChild(document.createTextNode(t));
    const mark = (t) => { const m = document.createElement("mark"); m.textContent = t; frag.appendChild(m); };
    for (let o = 0; o < b.length; o += 16) {
      text(o.toString(16).padStart(4, "0") + "  ");
      const row = [];
      for (let i = 0; i < 16; i++) row.push(o + i);
      // hex: runs of marked and unmarked bytes
      let run = "", inRun = false;
      const flush = () => { if (run) (inRun ? mark : text)(run); run = ""; };
      for (const i of row) {
        const m = i >= off && i < end && i < b.length;
        if (m !== inRun) { flush(); inRun = m; }
        run += i < b.length ? hx(b[i]) : "  ";
        const sep = (i - o === 7 ? "  " : " ");
        const nm = i + 1 >= off && i + 1 < end && i + 1 < b.length && i - o !== 15;
        if (m && nm) run += sep; else { flush(); inRun = false; run += sep; }
      }
      flush();
      text(" ");
      inRun = false;
      for (const i of row) {
        if (i >= b.length) break;
        const m = i >= off && i < end;
        if (m !== inRun) { flush(); inRun = m; }
        run += b[i] >= 32 && b[i] < 127 ? String.fromCharCode(b[i]) : ".";
      }
      flush();
      if (o + 16 < b.length) text("\n");
    }
    hex.replaceChildren(frag);
    hex.dataset.mark = off + ":" + (end - off);
    const first = hex.querySelector("mark");
    if (first) first.scrollIntoView({ block: "nearest" });
  }
  let selField = null;
  $("tree").addEventListener("click", (e) => {
    const f = e.target.closest(".f, summary");
    if (!f || f._off === undefined) return;
    if (selField) selField.classList.remove("fsel");
    selField = f; f.classList.add("fsel");
    renderHex(f._off, f._len);
  });

  // ---- context menus: a tree field → filter; a row → follow its stream ----
  const ctx = $("ctx");
  function menu(x, y, items) {
    ctx.replaceChildren(...items.map(([label, fn, title]) => {
      const bt = document.createElement("button");
      bt.type = "button"; bt.textContent = label;
      if (title) bt.title = title;
      if (fn) bt.addEventListener("click", () => { ctx.hidden = true; fn(); }); else bt.disabled = true;
      return bt;
    }));
    ctx.hidden = false;
    ctx.style.left = Math.min(x, innerWidth - 260) + "px"; ctx.style.top = Math.min(y, innerHeight - 80) + "px";
  }
  document.addEventListener("click", (e) => { if (!ctx.contains(e.target)) ctx.hidden = true; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") ctx.hidden = true; });
  // fieldPattern is the event pattern matching the field's value: the
  // value as the event has it when it has the field (its JSON type), else
  // as decoded here.
  function fieldPattern(path, val) {
    const keys = path.split(".");
    let cur = [curEvent && curEvent.detail];
    for (const k of keys) cur = cur.flatMap((x) => x === null || typeof x !== "object" ? [] : Array.isArray(x[k]) ? x[k] : x[k] === undefined ? [] : [x[k]]);
    let v = val;
    const leaves = cur.filter((x) => x === null || typeof x !== "object");
    if (leaves.length && !leaves.some((x) => x === val)) v = leaves.find((x) => String(x) === String(val)) ?? (leaves.length === 1 ? leaves[0] : val);
    let o = [v];
    for (let i = keys.length - 1; i >= 0; i--) o = { [keys[i]]: o };
    return JSON.stringify({ detail: o });
  }
  $("tree").addEventListener("contextmenu", (e) => {
    const f = e.target.closest(".f");
    if (!f) return;
    e.preventDefault();
    if (!f._path) { menu(e.clientX, e.clientY, [["Apply as filter", null, "this field is not in the event"], ["Prepare filter", null]]); return; }
    const pat = fieldPattern(f._path, f._val);
    menu(e.clientX, e.clientY, [
      ["Apply as filter", () => { $("filter").value = pat; applyFilter(); }, pat],
      ["Prepare filter", () => { $("filter").value = pat; $("filter").focus(); message("filter prepared: press Enter to apply"); }, pat],
    ]);
  });
  rowsEl.addEventListener("contextmenu", (e) => {
    const el = e.target.closest(".row");
    if (!el || !el._no) return;
    e.preventDefault();
    select(el._no);
    menu(e.clientX, e.clientY, [["Follow TCP/UDP stream", () => post({ t: "follow", no: el._no })]]);
  });

  // ---- follow stream ----
  let followPattern = "", followData = null;
  $("follow").addEventListener("click", () => { if (selected) post({ t: "follow", no: selected }); else message("select a TCP or UDP row first"); });
  function showFollow(m) {
    if (m.error) { message("follow: " + m.error); return; }
    followData = m; followPattern = m.pattern;
    $("follow-title").textContent = `Follow ${m.l4.toUpperCase()} stream: ${m.a} ↔ ${m.b}`;
    $("follow-sum").innerHTML = "";
    const sum = $("follow-sum");
    const a = document.createElement("span"); a.className = "dir0"; a.textContent = `${m.a} → ${m.b}: ${m.bytes[0]} bytes`;
    const b = document.createElement("span"); b.className = "dir1"; b.textContent = `${m.b} → ${m.a}: ${m.bytes[1]} bytes`;
    sum.append(a, " ", b, ` · ${m.packets} packets in the ring` + (m.truncated ? " · cut at 1 MiB" : ""));
    renderFollow();
    if (!$("follow-dlg").open) $("follow-dlg").showModal();
  }
  function renderFollow() {
    const m = followData;
    if (!m) return;
    const hexMode = document.querySelector("input[name=follow-as]:checked").value === "hex";
    const frag = document.createDocumentFragment();
    const off = [0, 0];
    for (const c of m.chunks) {
      const sp = document.createElement("span");
      sp.className = "dir" + c.dir;
      if (hexMode) {
        const lines = WBDecode.hexdump(c.bytes).split("\n").map((l) => (c.dir ? "    " : "") + (parseInt(l.slice(0, 4), 16) + off[c.dir]).toString(16).padStart(8, "0") + l.slice(4));
        sp.textContent = lines.join("\n") + "\n";
      } else {
        let t = "";
        for (const x of c.bytes) t += (x >= 32 && x < 127) || x === 10 || x === 13 || x === 9 ? String.fromCharCode(x) : ".";
        sp.textContent = t;
      }
      off[c.dir] += c.bytes.length;
      frag.appendChild(sp);
    }
    $("follow-out").replaceChildren(frag);
  }
  for (const r of document.querySelectorAll("input[name=follow-as]")) r.addEventListener("change", renderFollow);
  $("follow-close").addEventListener("click", () => $("follow-dlg").close());
  $("follow-filter").addEventListener("click", () => { $("filter").value = followPattern; applyFilter(); $("follow-dlg").close(); });

  // ---- statistics (counted in the worker; refreshed each second while open) ----
  let statsTimer = 0, statsTab = "convs", lastStats = null;
  $("stats").addEventListener("click", () => { $("stats-dlg").showModal(); post({ t: "stats" }); statsTimer = setInterval(() => post({ t: "stats" }), 1000); });
  $("stats-close").addEventListener("click", () => $("stats-dlg").close());
  $("stats-dlg").addEventListener("close", () => { clearInterval(statsTimer); statsTimer = 0; });
  for (const bt of document.querySelectorAll("#stats-dlg .tab")) bt.addEventListener("click", () => {
    statsTab = bt.dataset.tab;
    for (const x of document.querySelectorAll("#stats-dlg .tab")) x.classList.toggle("on", x === bt);
    for (const t of ["convs", "hier", "io"]) $("tab-" + t).hidden = t !== statsTab;
    if (lastStats) showStats(lastStats);
  });
  const cell = (tr, v) => { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); };
  function showStats(m) {
    lastStats = m;
    $("stats-sum").textContent = `${m.rows} packets, ${m.bytes} bytes since the last Clear · ${m.convCount} conversations` + (m.convOther ? ` (+${m.convOther} packets of conversations beyond ${m.convCount})` : "");
    if (statsTab === "convs") {
      const body = document.createDocumentFragment();
      for (const c of m.convs) {
        const tr = document.createElement("tr");
        for (const v of [c.proto, c.a, c.b, c.pAB, c.bAB, c.pBA, c.bBA, ((c.end - c.start) / 1e6).toFixed(3)]) cell(tr, v);
        body.appendChild(tr);
      }
      $("convs").tBodies[0].replaceChildren(body);
    } else if (statsTab === "hier") {
      const body = document.createDocumentFragment();
      const rowsH = m.hier.slice().sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
      for (const h of rowsH) {
        const parts = h.path.split(" / ");
        const tr = document.createElement("tr");
        cell(tr, "\u00a0\u00a0".repeat(parts.length - 1) + parts[parts.length - 1]);
        cell(tr, h.packets); cell(tr, m.rows ? (100 * h.packets / m.rows).toFixed(1) : "0"); cell(tr, h.bytes);
        tr.dataset.path = h.path;
        body.appendChild(tr);
      }
      $("hier").tBodies[0].replaceChildren(body);
    } else drawIO(m.io);
  }
  // drawIO draws packets per second as bars, with the axes labelled.
  function drawIO(io) {
    const cv = $("io"), g = cv.getContext("2d"), W = cv.width, H = cv.height, L = 56, B = 28, T = 12, R = 12;
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    const s = io.series, max = Math.max(1, ...s);
    const top = Math.pow(10, Math.ceil(Math.log10(max))) / (max <= Math.pow(10, Math.ceil(Math.log10(max))) / 2 ? 2 : 1);
    g.strokeStyle = "#9ca3af"; g.fillStyle = "#374151"; g.font = "11px sans-serif";
    g.beginPath(); g.moveTo(L, T); g.lineTo(L, H - B); g.lineTo(W - R, H - B); g.stroke();
    for (let i = 0; i <= 4; i++) {
      const y = H - B - (H - B - T) * i / 4;
      g.fillText(String(Math.round(top * i / 4)), 4, y + 4);
      g.strokeStyle = "#e5e7eb"; g.beginPath(); g.moveTo(L + 1, y); g.lineTo(W - R, y); g.stroke();
    }
    const n = Math.max(s.length, 10), bw = (W - L - R) / n;
    g.fillStyle = "#2563eb";
    s.forEach((v, i) => { const h = (H - B - T) * v / top; g.fillRect(L + i * bw + 1, H - B - h, Math.max(1, bw - 2), h); });
    g.fillStyle = "#374151";
    const step = Math.max(1, Math.ceil(n / 10));
    for (let i = 0; i < n; i += step) g.fillText(String(io.from + i) + "s", L + i * bw, H - B + 14);
    g.fillText("packets/s (seconds since the first packet)", L, H - 2);
    cv.dataset.series = s.join(",");
  }

  // ---- columns: click a header to sort (again: reverse, third: arrival order), drag its edge to resize ----
  const widths = [70, 120, 170, 170, 80, 70];
  const listEl = document.querySelector(".list");
  const setCols = () => listEl.style.setProperty("--cols", widths.map((w) => w + "px").join(" ") + " minmax(200px, 1fr)");
  setCols();
  let sortCol = "", sortDir = 0;
  const thead = $("thead");
  for (const [i, h] of Array.from(thead.children).entries()) {
    if (i < widths.length) {
      const rz = document.createElement("i");
      rz.className = "rz";
      h.appendChild(rz);
      rz.addEventListener("mousedown", (e) => {
        e.preventDefault(); e.stopPropagation();
        const x0 = e.clientX, w0 = widths[i];
        const mv = (ev) => { widths[i] = Math.max(30, w0 + ev.clientX - x0); setCols(); };
        const up = () => { removeEventListener("mousemove", mv); removeEventListener("mouseup", up); };
        addEventListener("mousemove", mv); addEventListener("mouseup", up);
      });
      rz.addEventListener("click", (e) => e.stopPropagation());
    }
    h.addEventListener("click", () => {
      const col = h.dataset.col;
      if (sortCol !== col) { sortCol = col; sortDir = 1; } else if (sortDir === 1) sortDir = -1; else { sortCol = ""; sortDir = 0; }
      for (const x of thead.children) x.dataset.sort = x.dataset.col === sortCol ? (sortDir > 0 ? "asc" : "desc") : "";
      if (sortCol) auto.checked = false;
      post({ t: "sort", col: sortCol, dir: sortDir });
      post(viewMsg(false));
    });
  }
  $("time-format").addEventListener("change", () => {
    const mode = $("time-format").value;
    if (mode === "absolute" && widths[1] < 250) { widths[1] = 250; setCols(); }
    post({ t: "time", mode });
  });

  // ---- filter (evaluated in the worker) ----
  let filterTimer = 0;
  $("filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(applyFilter, 150); });
  $("filter").addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(filterTimer); applyFilter(); } });
  function applyFilter() { message(""); post({ t: "filter", text: $("filter").value.trim() }); }

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

// A subset of the EventBridge event-pattern language, evaluated in the
// browser so that the filter hides and shows rows already received:
// exact strings, numbers, booleans and null; prefix, suffix,
// equals-ignore-case, wildcard, anything-but (values, prefix, suffix),
// numeric, exists, cidr (IPv4 and IPv6 prefixes on the text), $or.
// Arrays in the event match when any element matches. The server's
// pattern package is the reference; this mirrors it for common patterns.
//
// fromDisplayFilter translates the simple forms of Wireshark's display-filter
// language to an event pattern: ip.addr/ip.src/ip.dst == X (an address or a
// prefix), tcp.port/udp.port (and srcport/dstport) == N, a protocol name
// (udp, tcp, icmp, icmpv6, dns, http, tls, arp, syslog, dhcp, ntp), a few
// application fields (dns.qry.name, http.host, http.request.method,
// http.request.uri, http.response.code, tls.handshake.extensions_server_name),
// joined by && or "and". Anything else is an error that says so.
"use strict";
const WBPattern = (() => {
  function compile(src) {
    const p = typeof src === "string" ? JSON.parse(src) : src;
    if (p === null || typeof p !== "object" || Array.isArray(p)) throw new Error("a pattern is a JSON object");
    check(p, "$");
    return (ev) => matchObj(p, ev);
  }
  function check(p, path) {
    for (const [k, v] of Object.entries(p)) {
      if (k === "$or") {
        if (!Array.isArray(v) || v.length < 2) throw new Error(path + ".$or: want an array of at least two patterns");
        v.forEach((q, i) => check(q, path + ".$or[" + i + "]"));
      } else if (Array.isArray(v)) {
        if (v.length === 0) throw new Error(path + "." + k + ": empty array");
        for (const m of v) if (m !== null && typeof m === "object" && !Array.isArray(m)) checkOp(m, path + "." + k);
      } else if (v !== null && typeof v === "object") {
        check(v, path + "." + k);
      } else {
        throw new Error(path + "." + k + ": values must be in an array, such as [\"udp\"]");
      }
    }
  }
  const ops = ["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"];
  function checkOp(m, path) {
    const keys = Object.keys(m);
    if (keys.length !== 1 || !ops.includes(keys[0])) throw new Error(path + ": unknown operator " + JSON.stringify(keys[0] || ""));
    if (keys[0] === "numeric" && (!Array.isArray(m.numeric) || m.numeric.length % 2)) throw new Error(path + ": numeric wants [op, value, ...]");
  }
  function matchObj(p, ev) {
    for (const [k, v] of Object.entries(p)) {
      if (k === "$or") { if (!v.some((q) => matchObj(q, ev))) return false; continue; }
      const val = ev === null || typeof ev !== "object" ? undefined : (Array.isArray(ev) ? ev.map((e) => e && e[k]) : ev[k]);
      if (Array.isArray(v)) { if (!matchLeaf(v, val)) return false; }
      else {
        const items = Array.isArray(val) ? val : [val];
        if (!items.some((x) => x !== null && typeof x === "object" && matchObj(v, x))) return false;
      }
    }
    return true;
  }
  function leaves(val) {
    if (val === undefined) return [];
    if (Array.isArray(val)) return val.flatMap(leaves);
    return [val];
  }
  function matchLeaf(conds, val) {
    const vals = leaves(val);
    return conds.some((c) => {
      if (c !== null && typeof c === "object") {
        const [op, arg] = Object.entries(c)[0];
        if (op === "exists") return arg ? vals.length > 0 : vals.length === 0;
        if (op === "anything-but") return vals.length > 0 && vals.every((x) => !butMatches(arg, x));
        return vals.some((x) => opMatch(op, arg, x));
      }
      return vals.some((x) => eq(c, x));
    });
  }
  function eq(c, x) {
    if (typeof c === "number" && typeof x === "number") return c === x;
    return c === x;
  }
  function butMatches(arg, x) {
    if (Array.isArray(arg)) return arg.some((a) => eq(a, x));
    if (arg !== null && typeof arg === "object") {
      const [op, a] = Object.entries(arg)[0];
      return opMatch(op, a, x);
    }
    return eq(arg, x);
  }
  function wildcard(pat, s) {
    const re = new RegExp("^" + pat.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$", "s");
    return re.test(s);
  }
  function opMatch(op, arg, x) {
    switch (op) {
      case "prefix": return typeof x === "string" && (typeof arg === "string" ? x.startsWith(arg) : x.toLowerCase().startsWith(String(arg["equals-ignore-case"]).toLowerCase()));
      case "suffix": return typeof x === "string" && (typeof arg === "string" ? x.endsWith(arg) : x.toLowerCase().endsWith(String(arg["equals-ignore-case"]).toLowerCase()));
      case "equals-ignore-case": return typeof x === "string" && x.toLowerCase() === String(arg).toLowerCase();
      case "wildcard": return typeof x === "string" && wildcard(arg, x);
      case "numeric": {
        if (typeof x !== "number") return false;
        for (let i = 0; i < arg.length; i += 2) {
          const o = arg[i], n = arg[i + 1];
          if (!((o === "<" && x < n) || (o === "<=" && x <= n) || (o === "=" && x === n) || (o === ">" && x > n) || (o === ">=" && x >= n))) return false;
        }
        return true;
      }
      case "cidr": return typeof x === "string" && inCIDR(arg, x);
    }
    return false;
  }
  function v4(s) {
    const p = s.split(".");
    if (p.length !== 4) return null;
    let n = 0;
    for (const q of p) { const v = Number(q); if (!/^\d+$/.test(q) || v > 255) return null; n = n * 256 + v; }
    return n;
  }
  function inCIDR(c, ip) {
    const [net, bitsS] = c.split("/");
    const bits = bitsS === undefined ? 32 : Number(bitsS);
    const a = v4(net), b = v4(ip);
    if (a === null || b === null) return ip.toLowerCase().startsWith(net.toLowerCase().replace(/::$/, ":"));
    if (bits === 0) return true;
    const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    return ((a & mask) >>> 0) === ((b & mask) >>> 0);
  }
  const DF_PROTOS = ["ip", "ipv6", "tcp", "udp", "icmp", "icmpv6", "dns", "mdns", "http", "tls", "ssl", "arp", "eth", "frame", "syslog", "dhcp", "bootp", "ntp", "vlan", "vxlan", "geneve", "data"];
  const DF_START = new RegExp("^\\s*[!(]*\\s*(" + DF_PROTOS.join("|") + ")(\\.[a-z0-9_.]+)?\\s*(==|!=|>=|<=|>|<|~|\\b(eq|ne|gt|lt|ge|le|contains|matches|in|and|or|not)\\b|&&|\\|\\||$)");
  // isDisplayFilter tells Wireshark's display-filter syntax from a text search.
  function isDisplayFilter(text) { return DF_START.test(text); }
  const DF_APP = { "dns": ["DNS", "ID"], "mdns": ["DNS", "ID"], "http": ["HTTP", "Version"], "tls": ["TLS", "Versions"], "ssl": ["TLS", "Versions"], "arp": ["ARP", "Operation"],
    "syslog": ["Syslog", "Severity"], "dhcp": ["DHCP", "XID"], "bootp": ["DHCP", "XID"], "ntp": ["NTP", "Mode"] };
  const DF_FIELDS = { "dns.qry.name": ["DNS", "Questions", "Name"], "dns.qry.type": ["DNS", "Questions", "Type"], "http.host": ["HTTP", "Host"], "http.request.method": ["HTTP", "Method"],
    "http.request.uri": ["HTTP", "Path"], "http.response.code": ["HTTP", "Status"], "tls.handshake.extensions_server_name": ["TLS", "SNI"], "syslog.msg": ["Syslog", "Message"],
    "ip.ttl": ["IP", "TTL"], "tcp.seq_raw": ["TCP", "Seq"], "tcp.window_size_value": ["TCP", "Window"], "icmp.type": ["ICMP", "Type"], "icmp.code": ["ICMP", "Code"] };
  const EXAMPLES = "ip.addr == 10.0.0.1, ip.src/ip.dst == X, tcp.port == 80, udp.port == 53, udp, tcp, icmp, dns, http, tls, arp, dns.qry.name == \"example.com\", joined by && or and";
  function nest(path, leaf) { let o = leaf; for (let i = path.length - 1; i >= 0; i--) o = { [path[i]]: o }; return { detail: o }; }
  function dfValue(v) {
    if (/^".*"$/.test(v)) return v.slice(1, -1);
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    if (/^0x[0-9a-f]+$/i.test(v)) return parseInt(v, 16);
    return v;
  }
  function dfTerm(t) {
    let m;
    if ((m = /^(ip|ipv6)\.(addr|src|dst)\s*(==|eq)\s*([0-9a-fA-F:.]+(\/\d{1,3})?)$/.exec(t))) {
      const val = m[5] ? [{ cidr: m[4] }] : [m[4]];
      if (m[2] === "src") return { detail: { Source: { IP: val } } };
      if (m[2] === "dst") return { detail: { Destination: { IP: val } } };
      return { $or: [{ detail: { Source: { IP: val } } }, { detail: { Destination: { IP: val } } }] };
    }
    if ((m = /^(tcp|udp)\.(port|srcport|dstport)\s*(==|eq)\s*(\d{1,5})$/.exec(t))) {
      const n = Number(m[4]);
      if (n > 65535) throw new Error("display filter: port " + n + " is out of range");
      if (m[2] === "srcport") return { detail: { Protocol: [m[1]], Source: { Port: [n] } } };
      if (m[2] === "dstport") return { detail: { Protocol: [m[1]], Destination: { Port: [n] } } };
      return { detail: { Protocol: [m[1]], $or: [{ Source: { Port: [n] } }, { Destination: { Port: [n] } }] } };
    }
    if (["udp", "tcp", "icmp", "icmpv6"].includes(t)) return { detail: { Protocol: [t] } };
    if (DF_APP[t]) return nest(DF_APP[t], [{ exists: true }]);
    if ((m = /^([a-z0-9_.]+)\s*(==|eq)\s*("[^"]*"|\S+)$/.exec(t)) && DF_FIELDS[m[1]]) return nest(DF_FIELDS[m[1]], [dfValue(m[3])]);
    return null;
  }
  function merge(a, b) {
    const out = Object.assign({}, a);
    for (const [k, v] of Object.entries(b)) {
      if (!(k in out)) { out[k] = v; continue; }
      const u = out[k];
      if (k === "$or" || Array.isArray(u) || Array.isArray(v)) {
        if (JSON.stringify(u) === JSON.stringify(v)) continue;
        throw new Error("display filter: the terms conflict or are too complex to translate to one event pattern; write the pattern (JSON) instead");
      }
      out[k] = merge(u, v);
    }
    return out;
  }
  // fromDisplayFilter returns the event pattern (an object) for a simple
  // display filter, or throws an Error whose message tells the user what is
  // understood.
  function fromDisplayFilter(text) {
    const src = text.trim();
    if (/\|\||\bor\b|\bnot\b|!|\(|\)|\bcontains\b|\bmatches\b|\bin\b|[<>~]/i.test(src.replace(/"[^"]*"/g, ""))) {
      throw new Error("Wireshark display filter: only == and &&/and of simple terms are translated (" + EXAMPLES + "); for more, write an event pattern such as {\"detail\":{\"Protocol\":[\"udp\"]}}");
    }
    let p = {};
    for (const term of src.split(/\s*(?:&&|\band\b)\s*/i)) {
      const q = dfTerm(term.trim());
      if (!q) throw new Error("Wireshark display filter: \"" + term.trim() + "\" is not translated (understood: " + EXAMPLES + ")");
      p = merge(p, q);
    }
    return p;
  }
  return { compile, isDisplayFilter, fromDisplayFilter };
})();

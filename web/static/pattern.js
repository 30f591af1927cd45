// A subset of the EventBridge event-pattern language, evaluated in the
// browser so that the filter hides and shows rows already received:
// exact strings, numbers, booleans and null; prefix, suffix,
// equals-ignore-case, wildcard, anything-but (values, prefix, suffix),
// numeric, exists, cidr (IPv4 and IPv6 prefixes on the text), $or.
// Arrays in the event match when any element matches. The server's
// pattern package is the reference; this mirrors it for common patterns.
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
  return { compile };
})();

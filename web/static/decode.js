// Frame decoding for the layer tree and hex dump, and pcap export, in the
// browser. The server's decoder is the reference (internal/packet); this
// shows the common layers: Ethernet (802.1Q/QinQ), PPPoE sessions, Linux
// SLL/SLL2, IPv4, IPv6, IP in IP, UDP, TCP, ICMP/ICMPv6, GRE, VXLAN, Geneve
// (with options), GTP-U, MPLS (with a pseudowire control word), payload. What a
// first IPv4 fragment carries is shown as far as its bytes go.
"use strict";
const WBDecode = (() => {
  const hex2 = (n) => n.toString(16).padStart(2, "0");
  const mac = (b, o) => Array.from(b.subarray(o, o + 6), hex2).join(":");
  const u16 = (b, o) => (b[o] << 8) | b[o + 1];
  const u32 = (b, o) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
  const ip4 = (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  function ip6(b, o) {
    const g = [];
    for (let i = 0; i < 16; i += 2) g.push(u16(b, o + i).toString(16));
    return g.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:{3,}/, "::");
  }
  function b64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const TCPF = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];

  let firstFrag = false; // inside the first fragment of an IPv4 packet

  // layers returns [{name, fields: [[k, v], ...], start, end}], outer first.
  function layers(b, link) {
    const out = [];
    firstFrag = false;
    try {
      if (link === 1) ether(b, 0, out);
      else if (link === 101 || link === 12 || link === 14) ip(b, 0, out);
      else if (link === 113) { out.push({ name: "Linux cooked capture (SLL)", fields: [["Protocol", "0x" + u16(b, 14).toString(16)]], start: 0, end: 16 }); l3(u16(b, 14), b, 16, out); }
      else if (link === 276) { out.push({ name: "Linux cooked capture v2 (SLL2)", fields: [["Protocol", "0x" + u16(b, 0).toString(16)], ["Interface", u32(b, 4)]], start: 0, end: 20 }); l3(u16(b, 0), b, 20, out); }
      else out.push({ name: "Frame (link type " + link + ")", fields: [], start: 0, end: b.length });
    } catch (e) {
      const at = out.length ? out[out.length - 1].end : 0;
      if (firstFrag) out.push({ name: "Fragment data", fields: [["Length", b.length - at], ["Note", "continues in the next fragment"]], start: at, end: b.length });
      else out.push({ name: "Malformed", fields: [["error", String(e.message || e)]], start: 0, end: b.length });
    }
    return out;
  }
  function need(b, end) { if (end > b.length) throw new Error("truncated at byte " + b.length); }
  function ether(b, o, out) {
    need(b, o + 14);
    let t = u16(b, o + 12), p = o + 14;
    const f = [["Destination", mac(b, o)], ["Source", mac(b, o + 6)]];
    while (t === 0x8100 || t === 0x88a8 || t === 0x9100) {
      need(b, p + 4);
      f.push(["VLAN", (u16(b, p) & 0xfff) + " (priority " + (b[p] >> 5) + ")"]);
      t = u16(b, p + 2); p += 4;
    }
    f.push(["Type", "0x" + t.toString(16).padStart(4, "0")]);
    out.push({ name: "Ethernet II", fields: f, start: o, end: p });
    l3(t, b, p, out);
  }
  function l3(t, b, o, out) {
    if (t === 0x0800 || t === 0x86dd) ip(b, o, out);
    else if (t === 0x8864) pppoe(b, o, out);
    else if (t === 0x8847 || t === 0x8848) mpls(b, o, out);
    else if (o < b.length) out.push({ name: "Data", fields: [["Length", b.length - o]], start: o, end: b.length });
  }
  // pppoe: a PPPoE session header and PPP protocol field (RFC 2516), then the
  // IPv4 or IPv6 packet it carries (PPP 0x0021, 0x0057) or the PPP data.
  function pppoe(b, o, out) {
    need(b, o + 8);
    const len = u16(b, o + 4), proto = u16(b, o + 6);
    out.push({ name: "PPP-over-Ethernet Session", fields: [["Version", b[o] >> 4], ["Type", b[o] & 15], ["Code", b[o + 1]],
      ["Session ID", "0x" + u16(b, o + 2).toString(16).padStart(4, "0")], ["Payload length", len],
      ["PPP protocol", "0x" + proto.toString(16).padStart(4, "0")]], start: o, end: o + 8 });
    const inner = b.subarray(0, Math.min(b.length, o + 6 + len));
    if (proto === 0x0021 || proto === 0x0057) return ip(inner, o + 8, out);
    payload(inner, o + 8, out);
  }
  function ip(b, o, out) {
    need(b, o + 1);
    const v = b[o] >> 4;
    if (v === 4) {
      need(b, o + 20);
      const ihl = (b[o] & 15) * 4, proto = b[o + 9], flags = b[o + 6] >> 5, frag = u16(b, o + 6) & 0x1fff;
      let total = u16(b, o + 2), totalText = total;
      if (total === 0) { total = b.length - o; totalText = "0 (TSO/GSO: " + total + " from the capture)"; }
      if (frag === 0 && (flags & 1)) firstFrag = true;
      out.push({ name: "Internet Protocol Version 4", fields: [["Source", ip4(b, o + 12)], ["Destination", ip4(b, o + 16)],
        ["Header length", ihl], ["DSCP/ECN", "0x" + hex2(b[o + 1])], ["Total length", totalText], ["Identification", "0x" + u16(b, o + 4).toString(16)],
        ["Flags", (flags & 2 ? "DF " : "") + (flags & 1 ? "MF" : "") || "none"], ["Fragment offset", frag * 8], ["TTL", b[o + 8]],
        ["Protocol", proto], ["Checksum", "0x" + u16(b, o + 10).toString(16).padStart(4, "0")]], start: o, end: o + ihl });
      const end = Math.min(b.length, o + Math.max(total, ihl));
      if (frag === 0) l4(proto, b.subarray(0, end), o + ihl, out);
      return;
    }
    if (v === 6) {
      need(b, o + 40);
      let nh = b[o + 6], p = o + 40;
      const f = [["Source", ip6(b, o + 8)], ["Destination", ip6(b, o + 24)], ["Payload length", u16(b, o + 4)], ["Next header", nh], ["Hop limit", b[o + 7]],
        ["Flow label", "0x" + (u32(b, o) & 0xfffff).toString(16)]];
      while ([0, 43, 60].includes(nh) && p + 8 <= b.length) { const len = (b[p + 1] + 1) * 8; f.push(["Extension header", nh + " (" + len + " bytes)"]); nh = b[p]; p += len; }
      out.push({ name: "Internet Protocol Version 6", fields: f, start: o, end: p });
      l4(nh, b.subarray(0, Math.min(b.length, o + 40 + u16(b, o + 4))), p, out);
      return;
    }
    out.push({ name: "Data", fields: [["Length", b.length - o]], start: o, end: b.length });
  }
  function l4(proto, b, o, out) {
    if (proto === 17) {
      need(b, o + 8);
      const sp = u16(b, o), dp = u16(b, o + 2);
      out.push({ name: "User Datagram Protocol", fields: [["Source port", sp], ["Destination port", dp], ["Length", u16(b, o + 4)], ["Checksum", "0x" + u16(b, o + 6).toString(16).padStart(4, "0")]], start: o, end: o + 8 });
      if ((dp === 4789 || sp === 4789) && b.length >= o + 16 && (b[o + 8] & 0x08)) {
        out.push({ name: "Virtual eXtensible Local Area Network", fields: [["Flags", "0x" + hex2(b[o + 8])], ["VNI", (u32(b, o + 12) >>> 8)]], start: o + 8, end: o + 16 });
        return ether(b, o + 16, out);
      }
      if ((dp === 6081 || sp === 6081) && b.length >= o + 16) return geneve(b, o + 8, out);
      if (dp === 2152 && b.length >= o + 16) return gtpu(b, o + 8, out);
      if (dp === 6635 && b.length >= o + 12) return mpls(b, o + 8, out);
      return payload(b, o + 8, out);
    }
    if (proto === 6) {
      need(b, o + 20);
      const hl = (b[o + 12] >> 4) * 4, fl = b[o + 13];
      out.push({ name: "Transmission Control Protocol", fields: [["Source port", u16(b, o)], ["Destination port", u16(b, o + 2)], ["Sequence number", u32(b, o + 4)],
        ["Acknowledgment number", u32(b, o + 8)], ["Header length", hl], ["Flags", TCPF.filter((_, i) => fl & (1 << i)).join(", ") || "none"], ["Window", u16(b, o + 14)],
        ["Checksum", "0x" + u16(b, o + 16).toString(16).padStart(4, "0")]], start: o, end: o + hl });
      return payload(b, o + hl, out);
    }
    if (proto === 1 || proto === 58) {
      need(b, o + 4);
      const f = [["Type", b[o]], ["Code", b[o + 1]], ["Checksum", "0x" + u16(b, o + 2).toString(16).padStart(4, "0")]];
      if (b.length >= o + 8) f.push(["Identifier", u16(b, o + 4)], ["Sequence", u16(b, o + 6)]);
      out.push({ name: proto === 1 ? "Internet Control Message Protocol" : "Internet Control Message Protocol v6", fields: f, start: o, end: Math.min(b.length, o + 8) });
      return payload(b, o + 8, out);
    }
    if (proto === 4 || proto === 41) return ip(b, o, out); // IP in IP, 6in4
    if (proto === 47 && b.length >= o + 4) {
      const t = u16(b, o + 2);
      out.push({ name: "Generic Routing Encapsulation", fields: [["Protocol", "0x" + t.toString(16)]], start: o, end: o + 4 });
      if (t === 0x6558) return ether(b, o + 4, out);
      return l3(t, b, o + 4, out);
    }
    payload(b, o, out);
  }
  function geneve(b, o, out) {
    const optLen = (b[o] & 63) * 4, proto = u16(b, o + 2);
    const f = [["Version", b[o] >> 6], ["Options length", optLen], ["Protocol", "0x" + proto.toString(16)], ["VNI", u32(b, o + 4) >>> 8]];
    for (let p = o + 8; p + 4 <= o + 8 + optLen && p + 4 <= b.length;) {
      const cls = u16(b, p), typ = b[p + 2], len = (b[p + 3] & 31) * 4;
      f.push(["Option", "class 0x" + cls.toString(16).padStart(4, "0") + " type " + typ + " data " + Array.from(b.subarray(p + 4, p + 4 + len), hex2).join("")]);
      p += 4 + len;
    }
    out.push({ name: "Generic Network Virtualization Encapsulation", fields: f, start: o, end: o + 8 + optLen });
    if (proto === 0x6558) return ether(b, o + 8 + optLen, out);
    return l3(proto, b, o + 8 + optLen, out);
  }
  // gtpu: a GTPv1-U header (3GPP TS 29.281) with its optional sequence
  // number, N-PDU number and extension headers; a G-PDU (0xff) carries IPv4
  // or IPv6.
  function gtpu(b, o, out) {
    need(b, o + 8);
    const fl = b[o], msg = b[o + 1], len = u16(b, o + 2);
    const f = [["Version", fl >> 5], ["Flags", "0x" + hex2(fl)], ["Message type", "0x" + hex2(msg)], ["Length", len], ["TEID", u32(b, o + 4)]];
    let p = o + 8;
    if (fl & 7) {
      need(b, p + 4);
      if (fl & 2) f.push(["Sequence number", u16(b, p)]);
      let ext = fl & 4 ? b[p + 3] : 0;
      p += 4;
      while (ext !== 0) {
        need(b, p + 1);
        const l = b[p] * 4;
        if (l === 0) throw new Error("GTP-U extension header of length 0");
        need(b, p + l);
        f.push(["Extension header", "type 0x" + hex2(ext) + " (" + l + " bytes)"]);
        ext = b[p + l - 1]; p += l;
      }
    }
    out.push({ name: "GPRS Tunneling Protocol (GTP-U)", fields: f, start: o, end: p });
    const inner = b.subarray(0, Math.min(b.length, o + 8 + len));
    if (msg === 0xff && p < inner.length && [4, 6].includes(inner[p] >> 4)) return ip(inner, p, out);
    payload(inner, p, out);
  }
  // mpls: the label stack to the bottom of stack, then IPv4/IPv6 by the first
  // nibble or a pseudowire control word (nibble 0) and an Ethernet frame.
  function mpls(b, o, out) {
    const f = [];
    let p = o;
    for (;;) {
      need(b, p + 4);
      const e = u32(b, p);
      f.push(["Label", (e >>> 12) + " (tc " + ((e >>> 9) & 7) + ", ttl " + (e & 255) + (e & 256 ? ", bottom" : "") + ")"]);
      p += 4;
      if (e & 256) break;
    }
    out.push({ name: "MultiProtocol Label Switching", fields: f, start: o, end: p });
    if (p >= b.length) return;
    const n = b[p] >> 4;
    if (n === 4 || n === 6) return ip(b, p, out);
    if (n === 0) {
      need(b, p + 4);
      out.push({ name: "PW Ethernet Control Word", fields: [["Sequence number", u16(b, p + 2)]], start: p, end: p + 4 });
      return ether(b, p + 4, out);
    }
    payload(b, p, out);
  }
  function payload(b, o, out) {
    if (o >= b.length) return;
    const p = b.subarray(o);
    let text = "";
    for (let i = 0; i < Math.min(p.length, 120); i++) text += p[i] >= 32 && p[i] < 127 ? String.fromCharCode(p[i]) : ".";
    out.push({ name: "Payload", fields: [["Length", p.length], ["Text", text]], start: o, end: b.length });
  }
  function hexdump(b) {
    const lines = [];
    for (let o = 0; o < b.length; o += 16) {
      const row = b.subarray(o, o + 16);
      let h = "", a = "";
      for (let i = 0; i < 16; i++) {
        h += i < row.length ? hex2(row[i]) + " " : "   ";
        if (i === 7) h += " ";
        if (i < row.length) a += row[i] >= 32 && row[i] < 127 ? String.fromCharCode(row[i]) : ".";
      }
      lines.push(o.toString(16).padStart(4, "0") + "  " + h + " " + a);
    }
    return lines.join("\n");
  }
  // pcap builds a classic pcap file (microsecond timestamps) from
  // [{frame: Uint8Array, ts: microseconds, len, link}], all of one link type.
  function pcap(pkts, link) {
    let size = 24;
    for (const p of pkts) size += 16 + p.frame.length;
    const buf = new ArrayBuffer(size), dv = new DataView(buf), u8 = new Uint8Array(buf);
    dv.setUint32(0, 0xa1b2c3d4, true); dv.setUint16(4, 2, true); dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); dv.setUint32(12, 0, true); dv.setUint32(16, 262144, true); dv.setUint32(20, link, true);
    let o = 24;
    for (const p of pkts) {
      const ts = p.ts || 0;
      dv.setUint32(o, Math.floor(ts / 1e6), true); dv.setUint32(o + 4, ts % 1e6, true);
      dv.setUint32(o + 8, p.frame.length, true); dv.setUint32(o + 12, Math.max(p.len || 0, p.frame.length), true);
      u8.set(p.frame, o + 16);
      o += 16 + p.frame.length;
    }
    return buf;
  }
  return { layers, hexdump, pcap, b64 };
})();

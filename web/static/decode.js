// Frame decoding for the layer tree and hex dump, and pcap export, in the
// browser. The server's decoder is the reference (internal/packet); this
// shows the common layers: Ethernet (802.1Q/QinQ), PPPoE sessions, Linux
// SLL/SLL2, IPv4, IPv6, IP in IP, UDP, TCP, ICMP/ICMPv6, GRE, VXLAN, Geneve
// (with options), GTP-U, MPLS (with a pseudowire control word), payload. What a
// first IPv4 fragment carries is shown as far as its bytes go. Above the
// transport it shows the application layers the server's dissectors decode
// (internal/dissect): DNS, HTTP/1.x, syslog, TLS handshakes (SNI, ALPN,
// versions), DHCPv4, NTP and ARP, by their default ports (HTTP and syslog also
// by their first bytes), from the frame bytes, so rows of events without
// application fields show them too. Every decoder is bounded (at most a few
// hundred names, records, options or header lines) and throws on truncation;
// layers() turns that into a "Malformed" layer and never throws itself.
//
// layers() also returns, as .meta, what the packet list needs: the Protocol
// column (highest decoded layer), a Wireshark-like Info text, addresses,
// ports, TCP numbers, the application block in the event's shape (detail.DNS
// ...), a colouring class and the protocol chain (for the statistics).
// Fields are [name, value, offset, length, eventPath, patternValue]: offset and
// length locate the field in the frame (highlighted in the hex dump), and
// eventPath is the field's place in the event's detail, for "Apply as filter".
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

  let M = null; // the meta of the packet being decoded

  // layers returns [{name, fields: [[k, v, off, len, path, value], ...], start, end}],
  // outer first, with .meta (see the top of this file).
  function layers(b, link) {
    const out = [];
    firstFrag = false;
    M = { proto: "", info: "", src: "", dst: "", sport: -1, dport: -1, l4: "", tcp: null, pay: -1, payEnd: -1, app: null, color: "", chain: [], err: "" };
    out.meta = M;
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
      M.err = String(e.message || e);
    }
    finish(out);
    return out;
  }
  function need(b, end) { if (end > b.length) throw new Error("truncated at byte " + b.length); }
  function ether(b, o, out) {
    need(b, o + 14);
    let t = u16(b, o + 12), p = o + 14;
    const f = [["Destination", mac(b, o), o, 6], ["Source", mac(b, o + 6), o + 6, 6]];
    if (!M.src) { M.src = mac(b, o + 6); M.dst = mac(b, o); }
    M.chain.push("Ethernet");
    while (t === 0x8100 || t === 0x88a8 || t === 0x9100) {
      need(b, p + 4);
      f.push(["VLAN", (u16(b, p) & 0xfff) + " (priority " + (b[p] >> 5) + ")", p, 2, "VLAN", u16(b, p) & 0xfff]);
      t = u16(b, p + 2); p += 4;
    }
    f.push(["Type", "0x" + t.toString(16).padStart(4, "0"), p - 2, 2]);
    out.push({ name: "Ethernet II", fields: f, start: o, end: p });
    l3(t, b, p, out);
  }
  function l3(t, b, o, out) {
    if (t === 0x0800 || t === 0x86dd) ip(b, o, out);
    else if (t === 0x8864) pppoe(b, o, out);
    else if (t === 0x8847 || t === 0x8848) mpls(b, o, out);
    else if (t === 0x0806) arp(b, o, out);
    else if (o < b.length) out.push({ name: "Data", fields: [["Length", b.length - o]], start: o, end: b.length });
  }
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
      M.src = ip4(b, o + 12); M.dst = ip4(b, o + 16); M.proto = "IPv4"; M.chain.push("IPv4");
      out.push({ name: "Internet Protocol Version 4", kind: "ip", fields: [["Source", M.src, o + 12, 4, "Source.IP"], ["Destination", M.dst, o + 16, 4, "Destination.IP"],
        ["Header length", ihl, o, 1], ["DSCP/ECN", "0x" + hex2(b[o + 1]), o + 1, 1], ["Total length", totalText, o + 2, 2], ["Identification", "0x" + u16(b, o + 4).toString(16), o + 4, 2],
        ["Flags", (flags & 2 ? "DF " : "") + (flags & 1 ? "MF" : "") || "none", o + 6, 1], ["Fragment offset", frag * 8, o + 6, 2], ["TTL", b[o + 8], o + 8, 1, "IP.TTL"],
        ["Protocol", proto, o + 9, 1], ["Checksum", "0x" + u16(b, o + 10).toString(16).padStart(4, "0"), o + 10, 2]], start: o, end: o + ihl });
      const end = Math.min(b.length, o + Math.max(total, ihl));
      if (frag === 0) l4(proto, b.subarray(0, end), o + ihl, out);
      else M.info = "Fragmented IP protocol (proto=" + proto + ", off=" + frag * 8 + ")";
      return;
    }
    if (v === 6) {
      need(b, o + 40);
      let nh = b[o + 6], p = o + 40;
      M.src = ip6(b, o + 8); M.dst = ip6(b, o + 24); M.proto = "IPv6"; M.chain.push("IPv6");
      const f = [["Source", M.src, o + 8, 16, "Source.IP"], ["Destination", M.dst, o + 24, 16, "Destination.IP"], ["Payload length", u16(b, o + 4), o + 4, 2], ["Next header", nh, o + 6, 1],
        ["Hop limit", b[o + 7], o + 7, 1, "IP.TTL"], ["Flow label", "0x" + (u32(b, o) & 0xfffff).toString(16), o + 1, 3]];
      while ([0, 43, 60].includes(nh) && p + 8 <= b.length) { const len = (b[p + 1] + 1) * 8; f.push(["Extension header", nh + " (" + len + " bytes)", p, len]); nh = b[p]; p += len; }
      out.push({ name: "Internet Protocol Version 6", kind: "ip", fields: f, start: o, end: p });
      l4(nh, b.subarray(0, Math.min(b.length, o + 40 + u16(b, o + 4))), p, out);
      return;
    }
    out.push({ name: "Data", fields: [["Length", b.length - o]], start: o, end: b.length });
  }
  const ICMP_TYPES = { 0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench", 5: "Redirect", 8: "Echo (ping) request", 11: "Time-to-live exceeded", 12: "Parameter problem", 13: "Timestamp request", 14: "Timestamp reply" };
  const ICMP_UNREACH = ["Network unreachable", "Host unreachable", "Protocol unreachable", "Port unreachable", "Fragmentation needed", "Source route failed", "Destination network unknown", "Destination host unknown", "Source host isolated", "Network administratively prohibited", "Host administratively prohibited", "Network unreachable for TOS", "Host unreachable for TOS", "Communication administratively filtered"];
  const ICMP6_TYPES = { 1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem", 128: "Echo (ping) request", 129: "Echo (ping) reply", 133: "Router Solicitation", 134: "Router Advertisement", 135: "Neighbor Solicitation", 136: "Neighbor Advertisement", 137: "Redirect" };
  function l4(proto, b, o, out) {
    if (proto === 17) {
      need(b, o + 8);
      const sp = u16(b, o), dp = u16(b, o + 2);
      M.l4 = "udp"; M.proto = "UDP"; M.sport = sp; M.dport = dp; M.pay = o + 8; M.payEnd = b.length; M.chain.push("UDP"); M.tcp = null;
      M.info = sp + " → " + dp + " Len=" + Math.max(0, b.length - o - 8); M.color = "udp";
      out.push({ name: "User Datagram Protocol", kind: "l4", fields: [["Source port", sp, o, 2, "Source.Port"], ["Destination port", dp, o + 2, 2, "Destination.Port"], ["Length", u16(b, o + 4), o + 4, 2], ["Checksum", "0x" + u16(b, o + 6).toString(16).padStart(4, "0"), o + 6, 2]], start: o, end: o + 8 });
      if ((dp === 4789 || sp === 4789) && b.length >= o + 16 && (b[o + 8] & 0x08)) {
        M.chain.push("VXLAN");
        out.push({ name: "Virtual eXtensible Local Area Network", fields: [["Flags", "0x" + hex2(b[o + 8]), o + 8, 1], ["VNI", (u32(b, o + 12) >>> 8), o + 12, 3, "Tunnel.VNI"]], start: o + 8, end: o + 16 });
        return ether(b, o + 16, out);
      }
      if ((dp === 6081 || sp === 6081) && b.length >= o + 16) return geneve(b, o + 8, out);
      if (dp === 2152 && b.length >= o + 16) return gtpu(b, o + 8, out);
      if (dp === 6635 && b.length >= o + 12) return mpls(b, o + 8, out);
      if (app(b, o + 8, out, false, sp, dp)) return;
      return payload(b, o + 8, out);
    }
    if (proto === 6) {
      need(b, o + 20);
      const hl = (b[o + 12] >> 4) * 4, fl = b[o + 13], sp = u16(b, o), dp = u16(b, o + 2);
      const flags = TCPF.filter((_, i) => fl & (1 << i));
      M.l4 = "tcp"; M.proto = "TCP"; M.sport = sp; M.dport = dp; M.chain.push("TCP");
      M.pay = Math.min(b.length, o + hl); M.payEnd = b.length;
      M.tcp = { flags: fl, seq: u32(b, o + 4), ack: u32(b, o + 8), win: u16(b, o + 14), len: Math.max(0, b.length - o - hl) };
      M.color = fl & 4 ? "rst" : fl & 3 ? "synfin" : "tcp";
      const wsOrder = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
      M.tcp.names = ["SYN", "FIN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"].filter((n) => fl & (1 << wsOrder.indexOf(n)));
      M.tcp.ws = -1; M.tcp.opts = "";
      const opts = [];
      for (let q = o + 20, n = 0; q < Math.min(b.length, o + hl) && n < 40; n++) { // options, as Wireshark's Info shows them
        const k = b[q];
        if (k === 0) break;
        if (k === 1) { q++; continue; }
        if (q + 1 >= b.length || b[q + 1] < 2) break;
        const l = b[q + 1];
        if (k === 2 && l === 4 && q + 4 <= b.length) opts.push("MSS=" + u16(b, q + 2));
        else if (k === 4) opts.push("SACK_PERM");
        else if (k === 8 && l === 10 && q + 10 <= b.length) opts.push("TSval=" + u32(b, q + 2), "TSecr=" + u32(b, q + 6));
        else if (k === 3 && l === 3 && q + 3 <= b.length) { M.tcp.ws = Math.min(14, b[q + 2]); opts.push("WS=" + (1 << M.tcp.ws)); }
        q += l;
      }
      M.tcp.opts = opts.join(" ");
      out.push({ name: "Transmission Control Protocol", kind: "l4", fields: [["Source port", sp, o, 2, "Source.Port"], ["Destination port", dp, o + 2, 2, "Destination.Port"], ["Sequence number", M.tcp.seq, o + 4, 4, "TCP.Seq"],
        ["Acknowledgment number", M.tcp.ack, o + 8, 4, "TCP.Ack"], ["Header length", hl, o + 12, 1], ["Flags", flags.join(", ") || "none", o + 13, 1], ["Window", M.tcp.win, o + 14, 2, "TCP.Window"],
        ["Checksum", "0x" + u16(b, o + 16).toString(16).padStart(4, "0"), o + 16, 2]].concat(flags.map((n) => ["Flag", n, o + 13, 1, "TCP.Flags", n])), start: o, end: o + hl });
      if (o + hl < b.length && app(b, o + hl, out, true, sp, dp)) return;
      return payload(b, o + hl, out);
    }
    if (proto === 1 || proto === 58) {
      need(b, o + 4);
      const t = b[o], c = b[o + 1];
      const f = [["Type", t, o, 1, "ICMP.Type"], ["Code", c, o + 1, 1, "ICMP.Code"], ["Checksum", "0x" + u16(b, o + 2).toString(16).padStart(4, "0"), o + 2, 2]];
      if (b.length >= o + 8) f.push(["Identifier", u16(b, o + 4), o + 4, 2], ["Sequence", u16(b, o + 6), o + 6, 2]);
      M.l4 = proto === 1 ? "icmp" : "icmpv6"; M.proto = proto === 1 ? "ICMP" : "ICMPv6"; M.chain.push(M.proto);
      const err = proto === 1 ? [3, 4, 5, 11, 12].includes(t) : t < 128;
      let info = (proto === 1 ? ICMP_TYPES[t] : ICMP6_TYPES[t]) || "Type " + t;
      if (proto === 1 && t === 3) info += " (" + (ICMP_UNREACH[c] || "code " + c) + ")";
      if ((t === 8 || t === 0 || t === 128 || t === 129) && b.length >= o + 8) info += "  id=0x" + u16(b, o + 4).toString(16).padStart(4, "0") + ", seq=" + u16(b, o + 6);
      M.info = info; M.color = err ? "icmperr" : "icmp";
      out.push({ name: proto === 1 ? "Internet Control Message Protocol" : "Internet Control Message Protocol v6", kind: "l4", fields: f, start: o, end: Math.min(b.length, o + 8) });
      return payload(b, o + 8, out);
    }
    if (proto === 4 || proto === 41) return ip(b, o, out); // IP in IP, 6in4
    if (proto === 47 && b.length >= o + 4) {
      const t = u16(b, o + 2);
      M.chain.push("GRE");
      out.push({ name: "Generic Routing Encapsulation", fields: [["Protocol", "0x" + t.toString(16), o + 2, 2]], start: o, end: o + 4 });
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
    M.chain.push("Geneve");
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
    M.chain.push("GTP-U");
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
    M.chain.push("MPLS");
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
  // ---- application layers ----
  const DNS_TYPES = { 1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 64: "SVCB", 65: "HTTPS", 99: "SPF", 252: "AXFR", 255: "ANY", 257: "CAA" };
  const DNS_RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];
  const DNS_RCODE_TEXT = ["No error", "Format error", "Server failure", "No such name", "Not implemented", "Refused", "Name exists", "RRset exists", "RRset does not exist", "Not authoritative", "Name out of zone"];
  const DNS_OPCODES = ["QUERY", "IQUERY", "STATUS", "", "NOTIFY", "UPDATE"];
  const dnsType = (t) => DNS_TYPES[t] || "TYPE" + t;
  const MAX_RECORDS = 64;      // questions + answers shown per DNS message
  // app decodes the application layer of a UDP/TCP payload at b[o:] by port
  // (and, for HTTP and syslog, by the first bytes); false when none applies.
  function app(b, o, out, tcp, sp, dp) {
    const port = (...ps) => ps.includes(sp) || ps.includes(dp);
    if (o >= b.length) return false;
    if (port(53, 5353, 5355)) return dns(b, o, out, tcp, port(5353) ? "MDNS" : port(5355) ? "LLMNR" : "DNS"), true;
    if (!tcp && port(67, 68) && b.length - o >= 240) return dhcp(b, o, out), true;
    if (!tcp && port(123) && b.length - o >= 48) return ntp(b, o, out), true;
    if (tcp && b[o] === 0x16 && b.length - o >= 6 && b[o + 1] === 3) return tls(b, o, out), true;
    if (tcp && port(443, 8443, 853, 993, 995, 465, 636) && [20, 21, 23].includes(b[o]) && b.length - o >= 5 && b[o + 1] === 3) return tls(b, o, out), true;
    if (tcp && looksHTTP(b, o)) return http(b, o, out), true;
    if (b[o] === 0x3c && (port(514, 601) || /^<\d{1,3}>/.test(ascii(b, o, 6)))) return syslog(b, o, out, tcp && port(601)), true;
    return false;
  }
  function ascii(b, o, n) {
    let s = "";
    for (let i = o; i < Math.min(b.length, o + n); i++) s += String.fromCharCode(b[i]);
    return s;
  }
  function text(b, o, end) { // printable ASCII, others as "."
    let s = "";
    for (let i = o; i < end; i++) s += b[i] >= 32 && b[i] < 127 ? String.fromCharCode(b[i]) : ".";
    return s;
  }
  function setApp(proto, block, info, color) {
    M.proto = proto; M.chain.push(proto); M.info = info; M.app = block;
    if (color && M.color !== "rst") M.color = color; // Wireshark's order: TCP RST, then errors and HTTP, then SYN/FIN
  }
  // dnsName reads a possibly compressed name at p (message starting at base);
  // returns [name, end of the name in place]. At most 32 pointers, 255 bytes.
  function dnsName(b, base, p) {
    let name = "", end = -1, jumps = 0;
    for (;;) {
      need(b, p + 1);
      const l = b[p];
      if (l === 0) { if (end < 0) end = p + 1; break; }
      if ((l & 0xc0) === 0xc0) {
        need(b, p + 2);
        if (end < 0) end = p + 2;
        if (++jumps > 32) throw new Error("DNS name: too many pointers");
        p = base + (((l & 0x3f) << 8) | b[p + 1]);
        continue;
      }
      if (l & 0xc0) throw new Error("DNS name: bad label type");
      need(b, p + 1 + l);
      name += (name ? "." : "") + text(b, p + 1, p + 1 + l);
      if (name.length > 255) throw new Error("DNS name: longer than 255 bytes");
      p += 1 + l;
    }
    return [name, end];
  }
  function dns(b, o, out, tcp, proto) {
    const base = tcp ? o + 2 : o;
    need(b, base + 12);
    const id = u16(b, base), fl = u16(b, base + 2), qd = u16(b, base + 4), an = u16(b, base + 6);
    const resp = !!(fl & 0x8000), opcode = (fl >> 11) & 15, rcode = fl & 15;
    const idHex = "0x" + id.toString(16).padStart(4, "0");
    const f = [["Transaction ID", idHex, base, 2, "DNS.ID", id], ["Response", resp ? "response" : "query", base + 2, 2, "DNS.Response", resp],
      ["Opcode", (DNS_OPCODES[opcode] || opcode) + " (" + opcode + ")", base + 2, 1, "DNS.Opcode", DNS_OPCODES[opcode] || opcode]];
    if (resp) f.push(["Reply code", (DNS_RCODES[rcode] || rcode) + " (" + rcode + ")", base + 3, 1, "DNS.RCode", DNS_RCODES[rcode] || rcode]);
    f.push(["Questions", qd, base + 4, 2], ["Answer RRs", an, base + 6, 2], ["Authority RRs", u16(b, base + 8), base + 8, 2], ["Additional RRs", u16(b, base + 10), base + 10, 2]);
    const block = { ID: id, Response: resp, Opcode: DNS_OPCODES[opcode] || String(opcode), RCode: DNS_RCODES[rcode] || String(rcode), Questions: [], Answers: [] };
    let p = base + 12, n = 0;
    const layer = { name: proto === "DNS" ? "Domain Name System" : proto === "MDNS" ? "Multicast Domain Name System" : "Link-local Multicast Name Resolution", fields: f, start: o, end: b.length };
    out.push(layer);
    let err = "";
    try {
      for (let i = 0; i < qd && n < MAX_RECORDS; i++, n++) {
        const [name, e] = dnsName(b, base, p);
        need(b, e + 4);
        const t = u16(b, e), c = u16(b, e + 2) & 0x7fff;
        block.Questions.push({ Name: name, Type: dnsType(t), Class: c === 1 ? "IN" : "CLASS" + c });
        f.push(["Query", name + ": type " + dnsType(t) + ", class " + (c === 1 ? "IN" : c), p, e + 4 - p],
          ["  Name", name, p, e - p, "DNS.Questions.Name", name], ["  Type", dnsType(t) + " (" + t + ")", e, 2, "DNS.Questions.Type", dnsType(t)]);
        p = e + 4;
      }
      for (let i = 0; i < an && n < MAX_RECORDS; i++, n++) {
        const [name, e] = dnsName(b, base, p);
        need(b, e + 10);
        const t = u16(b, e), ttl = u32(b, e + 4), rl = u16(b, e + 8), d = e + 10;
        need(b, d + rl);
        let data = "";
        if (t === 1 && rl === 4) data = ip4(b, d);
        else if (t === 28 && rl === 16) data = ip6(b, d);
        else if (t === 5 || t === 2 || t === 12) data = dnsName(b, base, d)[0];
        else if (t === 15 && rl > 2) data = u16(b, d) + " " + dnsName(b, base, d + 2)[0];
        else if (t === 16 && rl > 0) data = text(b, d + 1, Math.min(d + 1 + b[d], d + rl));
        else data = rl + " bytes";
        block.Answers.push({ Name: name, Type: dnsType(t), TTL: ttl, Data: data });
        f.push(["Answer", name + ": type " + dnsType(t) + ", TTL " + ttl + ", " + data, p, d + rl - p, "DNS.Answers.Data", data]);
        p = d + rl;
      }
    } catch (e) { err = String(e.message || e); f.push(["Malformed", err]); }
    layer.end = Math.min(b.length, p);
    let info = "Standard query" + (resp ? " response" : "") + " " + idHex;
    if (opcode !== 0) info = (DNS_OPCODES[opcode] || "Opcode " + opcode) + (resp ? " response " : " ") + idHex;
    if (resp && rcode) info += " " + (DNS_RCODE_TEXT[rcode] || "RCode " + rcode);
    for (const q of block.Questions) info += " " + q.Type + " " + q.Name;
    for (const a of block.Answers.slice(0, 8)) info += " " + a.Type + " " + a.Data;
    setApp(proto, block, info, resp && rcode ? "error" : "");
  }
  const METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND"];
  function looksHTTP(b, o) {
    const s = ascii(b, o, 9);
    if (s.startsWith("HTTP/1.")) return true;
    const sp = s.indexOf(" ");
    return sp > 2 && METHODS.includes(s.slice(0, sp));
  }
  function http(b, o, out) {
    const end = Math.min(b.length, o + 8192);   // the header block is read up to 8 KiB
    const f = [], block = {};
    let p = o, first = true, info = "", color = "http";
    for (let n = 0; p < end && n < 100; n++) {
      let e = p;
      while (e < end && b[e] !== 10) e++;
      const line = text(b, p, e > p && b[e - 1] === 13 ? e - 1 : e);
      const ln = Math.min(e + 1, end) - p;
      if (line === "") { p = Math.min(e + 1, end); break; }
      if (first) {
        first = false; info = line;
        const parts = line.split(" ");
        if (line.startsWith("HTTP/")) {
          block.Version = parts[0]; block.Status = Number(parts[1]) || 0; block.Reason = parts.slice(2).join(" ");
          f.push(["Response version", block.Version, p, parts[0].length, "HTTP.Version"], ["Status code", block.Status, p + parts[0].length + 1, (parts[1] || "").length, "HTTP.Status"], ["Reason", block.Reason, p, ln, "HTTP.Reason"]);
          if (block.Status >= 400) color = "error";
        } else {
          block.Method = parts[0]; block.Path = parts[1] || ""; block.Version = parts[2] || "";
          f.push(["Request method", block.Method, p, parts[0].length, "HTTP.Method"], ["Request URI", block.Path, p + parts[0].length + 1, block.Path.length, "HTTP.Path"], ["Request version", block.Version, e - block.Version.length - 1, block.Version.length, "HTTP.Version"]);
        }
      } else {
        const c = line.indexOf(":");
        const k = c > 0 ? line.slice(0, c).toLowerCase() : "", v = c > 0 ? line.slice(c + 1).trim() : line;
        const key = { host: "Host", "content-type": "ContentType", "content-length": "ContentLength", "user-agent": "UserAgent" }[k];
        if (key) block[key] = key === "ContentLength" ? Number(v) || 0 : v;
        f.push([c > 0 ? line.slice(0, c) : "Header", v, p, ln].concat(key ? ["HTTP." + key, block[key]] : []));
      }
      p = e + 1;
    }
    if (p < b.length) f.push(["Body", (b.length - p) + " bytes", p, b.length - p]);
    out.push({ name: "Hypertext Transfer Protocol", fields: f, start: o, end: b.length });
    setApp("HTTP", block, info, color);
  }
  const FACILITIES = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"];
  const SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
  function syslog(b, o, out, octetCounted) {
    const end = Math.min(b.length, o + 2048);
    let s = text(b, o, end);
    if (octetCounted) s = s.replace(/^\d+ /, "");
    const m = /^<(\d{1,3})>/.exec(s);
    if (!m || Number(m[1]) > 191) { payload(b, o, out); return; }
    const pri = Number(m[1]), fac = pri >> 3, sev = pri & 7;
    const block = { Facility: FACILITIES[fac], FacilityCode: fac, Severity: SEVERITIES[sev], SeverityCode: sev };
    let rest = s.slice(m[0].length);
    const r5 = /^1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[[^\]]*\])+) ?(.*)$/s.exec(rest);
    if (r5) {
      const nil = (x) => x === "-" ? "" : x;
      Object.assign(block, { Timestamp: nil(r5[1]), Hostname: nil(r5[2]), AppName: nil(r5[3]), ProcID: nil(r5[4]), MsgID: nil(r5[5]), Message: r5[7].replace(/^\.\.\./, "") });
    } else {
      const r3 = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^:\[\s]+)(?:\[([^\]]*)\])?: ?(.*)$/s.exec(rest);
      if (r3) Object.assign(block, { Timestamp: r3[1], Hostname: r3[2], AppName: r3[3], ProcID: r3[4] || "", Message: r3[5] });
      else block.Message = rest;
    }
    const f = [["Facility", block.Facility + " (" + fac + ")", o, m[0].length, "Syslog.Facility", block.Facility], ["Severity", block.Severity + " (" + sev + ")", o, m[0].length, "Syslog.Severity", block.Severity]];
    for (const k of ["Timestamp", "Hostname", "AppName", "ProcID", "MsgID", "Message"]) if (block[k]) f.push([k, block[k], undefined, undefined, "Syslog." + k]);
    out.push({ name: "Syslog message", fields: f, start: o, end: b.length });
    setApp("Syslog", block, (block.Facility || "").toUpperCase() + "." + (block.Severity || "").toUpperCase() + ": " + rest.slice(0, 200), sev <= 3 ? "error" : "");
  }
  const TLS_VERSIONS = { 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3" };
  const tlsVersion = (v) => TLS_VERSIONS[v] || ((v & 0x0f0f) === 0x0a0a ? "GREASE" : "0x" + v.toString(16).padStart(4, "0"));
  const TLS_CONTENT = { 20: "Change Cipher Spec", 21: "Alert", 22: "Handshake", 23: "Application Data" };
  const TLS_HS = { 1: "Client Hello", 2: "Server Hello", 4: "New Session Ticket", 8: "Encrypted Extensions", 11: "Certificate", 12: "Server Key Exchange", 13: "Certificate Request", 14: "Server Hello Done", 15: "Certificate Verify", 16: "Client Key Exchange", 20: "Finished" };
  function tls(b, o, out) {
    const infos = [];
    let p = o, block = null;
    for (let n = 0; p + 5 <= b.length && n < 16; n++) { // records in this segment
      const ct = b[p], ver = u16(b, p + 1), len = u16(b, p + 3);
      if (!TLS_CONTENT[ct] || (ver >> 8) !== 3) break;
      const f = [["Content type", TLS_CONTENT[ct] + " (" + ct + ")", p, 1], ["Version", tlsVersion(ver), p + 1, 2], ["Length", len, p + 3, 2]];
      const rec = { name: "Transport Layer Security: " + TLS_CONTENT[ct], fields: f, start: p, end: Math.min(b.length, p + 5 + len) };
      out.push(rec);
      if (ct === 22 && p + 9 <= b.length) {
        const ht = b[p + 5], h = p + 9;
        f.push(["Handshake type", (TLS_HS[ht] || ht) + " (" + ht + ")", p + 5, 1]);
        if ((ht === 1 || ht === 2) && !block) { block = hello(b, h, Math.min(b.length, p + 5 + len), ht === 1, f); }
        let i = TLS_HS[ht] || "Handshake";
        if (ht === 1 && block && block.SNI) i += " (SNI=" + block.SNI + ")";
        infos.push(i);
      } else infos.push(TLS_CONTENT[ct]);
      p += 5 + len;
    }
    if (!infos.length) return payload(b, o, out);
    setApp("TLS", block, infos.join(", "), "");
  }
  function hello(b, h, end, client, f) {
    const block = { SNI: "", ALPN: [], Versions: [] };
    try {
      need(b, h + 34);
      const legacy = u16(b, h);
      let p = h + 34;
      need(b, p + 1); p += 1 + b[p];                                  // session id
      if (client) { need(b, p + 2); p += 2 + u16(b, p); need(b, p + 1); p += 1 + b[p]; } // cipher suites, compression
      else p += 3;                                                     // cipher suite, compression
      const versions = [];
      if (p + 2 <= end) {
        const extEnd = Math.min(end, p + 2 + u16(b, p));
        p += 2;
        for (let n = 0; p + 4 <= extEnd && n < 64; n++) {
          const t = u16(b, p), l = u16(b, p + 2), d = p + 4;
          need(b, d + l);
          if (t === 0 && client && l >= 5) {
            const nl = u16(b, d + 3);
            need(b, d + 5 + nl);
            block.SNI = text(b, d + 5, d + 5 + nl);
            f.push(["Server Name", block.SNI, d + 5, nl, "TLS.SNI"]);
          } else if (t === 16 && l >= 2) {
            for (let q = d + 2; q < d + l && block.ALPN.length < 16;) { const al = b[q]; block.ALPN.push(text(b, q + 1, Math.min(d + l, q + 1 + al))); q += 1 + al; }
            f.push(["ALPN", block.ALPN.join(", "), d, l, "TLS.ALPN", block.ALPN[0]]);
          } else if (t === 43) {
            if (client) for (let q = d + 1; q + 1 < d + l && versions.length < 16; q += 2) versions.push(u16(b, q));
            else if (l >= 2) versions.push(u16(b, d));
          }
          p = d + l;
        }
      }
      if (!versions.length) versions.push(legacy);
      block.Versions = versions.map(tlsVersion).filter((v) => v !== "GREASE");
      f.push(["Versions", block.Versions.join(", "), h, 2, "TLS.Versions", block.Versions[0]]);
    } catch (e) { f.push(["Malformed", String(e.message || e)]); }
    return block;
  }
  const DHCP_TYPES = ["", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"];
  function dhcp(b, o, out) {
    const op = b[o], xid = u32(b, o + 4);
    const xidHex = "0x" + xid.toString(16).padStart(8, "0");
    const block = { Op: op === 1 ? "request" : "reply", XID: xid, ClientMAC: mac(b, o + 28) };
    for (const [k, at] of [["ClientIP", 12], ["YourIP", 16], ["ServerIP", 20], ["GatewayIP", 24]]) if (u32(b, o + at)) block[k] = ip4(b, o + at); // absent when 0.0.0.0, as in the event
    const f = [["Message type", op === 1 ? "Boot Request (1)" : "Boot Reply (2)", o, 1, "DHCP.Op", block.Op], ["Transaction ID", xidHex, o + 4, 4, "DHCP.XID", xid],
      ["Client IP address", ip4(b, o + 12), o + 12, 4, "DHCP.ClientIP"], ["Your (client) IP address", ip4(b, o + 16), o + 16, 4, "DHCP.YourIP"], ["Next server IP address", ip4(b, o + 20), o + 20, 4, "DHCP.ServerIP"],
      ["Relay agent IP address", ip4(b, o + 24), o + 24, 4, "DHCP.GatewayIP"],
      ["Client MAC address", block.ClientMAC, o + 28, 6, "DHCP.ClientMAC"]];
    if (u32(b, o + 236) === 0x63825363) {
      for (let p = o + 240, n = 0; p < b.length && n < 128; n++) {
        const t = b[p];
        if (t === 255) break;
        if (t === 0) { p++; continue; }
        need(b, p + 2);
        const l = b[p + 1], d = p + 2;
        need(b, d + l);
        if (t === 53 && l >= 1) { block.MessageType = DHCP_TYPES[b[d]] || "UNKNOWN"; block.MessageTypeCode = b[d]; f.push(["DHCP Message Type", block.MessageType + " (" + b[d] + ")", p, 2 + l, "DHCP.MessageType"]); }
        else if (t === 50 && l === 4) { block.RequestedIP = ip4(b, d); f.push(["Requested IP Address", block.RequestedIP, p, 6, "DHCP.RequestedIP"]); }
        else if (t === 12) { block.Hostname = text(b, d, d + l); f.push(["Host Name", block.Hostname, p, 2 + l, "DHCP.Hostname"]); }
        else if (t === 54 && l === 4) f.push(["DHCP Server Identifier", ip4(b, d), p, 6]);
        else if (t === 55) f.push(["Parameter Request List", Array.from(b.subarray(d, d + l)).join(", "), p, 2 + l]);
        else f.push(["Option " + t, l + " bytes", p, 2 + l]);
        p = d + l;
      }
    }
    out.push({ name: "Dynamic Host Configuration Protocol" + (block.MessageType ? " (" + block.MessageType[0] + block.MessageType.slice(1).toLowerCase() + ")" : ""), fields: f, start: o, end: b.length });
    const mt = block.MessageType ? block.MessageType[0] + block.MessageType.slice(1).toLowerCase() : (op === 1 ? "Boot Request" : "Boot Reply");
    setApp("DHCP", block, "DHCP " + mt + " - Transaction ID " + xidHex, block.MessageType === "NAK" ? "error" : "");
  }
  const NTP_MODES = ["reserved", "symmetric active", "symmetric passive", "client", "server", "broadcast", "control", "private"];
  function ntp(b, o, out) {
    const li = b[o] >> 6, vn = (b[o] >> 3) & 7, mode = b[o] & 7, stratum = b[o + 1];
    const ts = (q) => { const s = u32(b, q), fr = u32(b, q + 4); if (!s && !fr) return "0"; return new Date((s - 2208988800) * 1000 + fr / 4294967.296).toISOString(); };
    const refid = stratum <= 1 ? text(b, o + 12, o + 16).replace(/\.+$/, "") : ip4(b, o + 12);
    const block = { Version: vn, Mode: NTP_MODES[mode], Stratum: stratum, Poll: b[o + 2], Precision: (b[o + 3] << 24) >> 24, ReferenceID: refid, TransmitTime: ts(o + 40) };
    out.push({ name: "Network Time Protocol (NTP Version " + vn + ", " + NTP_MODES[mode] + ")", fields: [["Leap indicator", li, o, 1], ["Version", vn, o, 1, "NTP.Version"], ["Mode", NTP_MODES[mode] + " (" + mode + ")", o, 1, "NTP.Mode", NTP_MODES[mode]],
      ["Stratum", stratum, o + 1, 1, "NTP.Stratum"], ["Poll", b[o + 2], o + 2, 1], ["Precision", block.Precision, o + 3, 1], ["Reference ID", refid, o + 12, 4, "NTP.ReferenceID"],
      ["Reference timestamp", ts(o + 16), o + 16, 8], ["Origin timestamp", ts(o + 24), o + 24, 8], ["Receive timestamp", ts(o + 32), o + 32, 8], ["Transmit timestamp", block.TransmitTime, o + 40, 8]], start: o, end: Math.min(b.length, o + 48) });
    setApp("NTP", block, "NTP Version " + vn + ", " + NTP_MODES[mode], "");
  }
  function arp(b, o, out) {
    need(b, o + 8);
    const htype = u16(b, o), ptype = u16(b, o + 2), hl = b[o + 4], pl = b[o + 5], op = u16(b, o + 6);
    const f = [["Hardware type", htype, o, 2], ["Protocol type", "0x" + ptype.toString(16).padStart(4, "0"), o + 2, 2], ["Hardware size", hl, o + 4, 1], ["Protocol size", pl, o + 5, 1]];
    const opName = op === 1 ? "request" : op === 2 ? "reply" : String(op);
    f.push(["Opcode", opName + " (" + op + ")", o + 6, 2, "ARP.Operation", opName]);
    M.chain.push("ARP"); M.proto = "ARP"; M.color = "arp";
    if (hl !== 6 || pl !== 4) { out.push({ name: "Address Resolution Protocol", fields: f, start: o, end: o + 8 }); M.info = "ARP " + opName; return; }
    need(b, o + 28);
    const block = { Operation: opName, SenderMAC: mac(b, o + 8), SenderIP: ip4(b, o + 14), TargetMAC: mac(b, o + 18), TargetIP: ip4(b, o + 24) };
    f.push(["Sender MAC address", block.SenderMAC, o + 8, 6, "ARP.SenderMAC"], ["Sender IP address", block.SenderIP, o + 14, 4, "ARP.SenderIP"],
      ["Target MAC address", block.TargetMAC, o + 18, 6, "ARP.TargetMAC"], ["Target IP address", block.TargetIP, o + 24, 4, "ARP.TargetIP"]);
    out.push({ name: "Address Resolution Protocol (" + opName + ")", fields: f, start: o, end: o + 28 });
    let info = op === 1 ? "Who has " + block.TargetIP + "? Tell " + block.SenderIP : op === 2 ? block.SenderIP + " is at " + block.SenderMAC : "ARP opcode " + op;
    if (op === 1 && block.SenderIP === block.TargetIP) info = "ARP Announcement for " + block.SenderIP;
    M.info = info; M.app = block;
  }
  // finish keeps the event paths only on the innermost IP and transport
  // layers (the event's Source, Destination, IP, TCP, ICMP describe those; a
  // tunnel's outer headers are in detail.Tunnel) and marks truncated packets.
  function finish(out) {
    let lastIP = -1, lastL4 = -1;
    out.forEach((l, i) => { if (l.kind === "ip") lastIP = i; if (l.kind === "l4") lastL4 = i; });
    out.forEach((l, i) => {
      if ((l.kind === "ip" && i !== lastIP) || (l.kind === "l4" && i !== lastL4)) l.fields = l.fields.map((f) => f.slice(0, 4));
    });
    if (M.err && !M.color) M.color = "error";
    if (!M.proto && out.length) M.proto = out[out.length - 1].name;
  }
  function payload(b, o, out) {
    if (o >= b.length) return;
    const p = b.subarray(o);
    let text = "";
    for (let i = 0; i < Math.min(p.length, 120); i++) text += p[i] >= 32 && p[i] < 127 ? String.fromCharCode(p[i]) : ".";
    out.push({ name: "Payload", fields: [["Length", p.length, o, p.length], ["Text", text, o, Math.min(p.length, 120)]], start: o, end: b.length });
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
  return { layers, hexdump, pcap, b64, ip4, ip6 };
})();

// The live UI worker's CPU cost per event: node workerbench.cjs [STATIC_DIR]
// feeds worker.js 400 WebSocket messages of 256 events each (the load test's
// syslog line over UDP, with the frame and the event's detail.Syslog, as a
// wirebridge that dissects the port sends them) through the same code path as
// in the browser (JSON parsing, the ring, each row's columns, the statistics),
// five times, and prints the least CPU time per event. STATIC_DIR defaults to
// web/static; give another checkout's to compare (docs/performance.md).
"use strict";
const fs = require("fs"), vm = require("vm"), path = require("path");
const dir = process.argv[2] || path.join(__dirname, "..", "static");
// The worker's scripts run in this context (a vm context's global lookups are far slower than a worker's).
const ctx = globalThis;
Object.assign(ctx, { atob: (s) => Buffer.from(s, "base64").toString("binary"), postMessage: () => {}, fetch: async () => ({ status: 200 }), location: { protocol: "http:", host: "x" }, WebSocket: function () {} });
ctx.importScripts = (...f) => { for (const x of f) vm.runInThisContext(fs.readFileSync(path.join(dir, x), "utf8").replace(/^const (WBDecode|WBPattern)/m, "globalThis.$1")); };
vm.runInThisContext(fs.readFileSync(path.join(dir, "worker.js"), "utf8").replace(/^onmessage = /m, "globalThis.onmessage = ") + "\nglobalThis.handle = handle; globalThis.setSub = (s) => { subID = s; };");
ctx.setSub("ui-1");
// A UDP syslog event as the load test's: raw IPv4 frame (link 101) + event JSON with detail.Syslog.
const payload = Buffer.from("<13>Nov 21 20:40:15 host e2e: load test line of a plausible syslog size");
const ip = Buffer.alloc(28); ip[0] = 0x45; ip.writeUInt16BE(28 + payload.length, 2); ip[8] = 64; ip[9] = 17; [127,0,0,1].forEach((v,i)=>{ip[12+i]=v; ip[16+i]=v;}); ip.writeUInt16BE(40000, 20); ip.writeUInt16BE(5514, 22); ip.writeUInt16BE(8 + payload.length, 24);
const frame = Buffer.concat([ip, payload]).toString("base64");
let n = 0;
const item = () => ({ ts: 1795299237123456 + n, link: 101, len: 28 + payload.length, frame, event: { version: "0", id: "id-" + (n++), source: "wirebridge.udp", "detail-type": "UdpPacket", time: "2026-12-07T17:00:00Z", resources: ["udp"],
  detail: { Timestamp: "2026-12-07T17:00:00.123456789Z", Listener: "udp", Source: { IP: "127.0.0.1", Port: 40000 }, Destination: { IP: "127.0.0.1", Port: 5514 }, Protocol: "udp", Length: payload.length, Payload: payload.toString("base64"), PayloadText: payload.toString(),
    IP: { Version: 4, TTL: 64 }, Syslog: { Facility: "user", FacilityCode: 1, Severity: "notice", SeverityCode: 5, Timestamp: "Nov 21 20:40:15", Hostname: "host", AppName: "e2e", Message: "load test line of a plausible syslog size" } } } });
const msgs = [];
for (let m = 0; m < 400; m++) msgs.push(JSON.stringify({ type: "data", id: "ui-1", channel: "/packets/all", dropped: 0, items: Array.from({ length: 256 }, item) }));
let best = Infinity;
for (let r = 0; r < 5; r++) {
  const c0 = process.cpuUsage();
  for (const m of msgs) ctx.handle(m);
  const c = process.cpuUsage(c0);
  best = Math.min(best, (c.user + c.system) / (msgs.length * 256));
}
console.log(`${dir}: best of 5, ${best.toFixed(2)} µs CPU/event`);

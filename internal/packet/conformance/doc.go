// Package conformance checks the packet decoder (and the event built from a
// decoded packet) against an independent oracle: tshark, Wireshark's
// command-line dissector. It sits beside the data path, not in it:
//
//	pcap file ──► capfile ──► packet.Decode ──► event ──► compared with `tshark -T json`
//
// For every capture in testdata/pcaps the integration test (build tag
// integration, it needs /usr/bin/tshark) decodes each packet with wirebridge
// and with tshark and compares, frame by frame (outer and tunnelled inner
// frames), the fields wirebridge reports: IP version, addresses, protocol,
// ports, VLAN ids, TCP flags/seq/ack, ICMP type/code, tunnel type, VXLAN VNI,
// Geneve options, GRE key, ERSPAN session and version, and lengths.
// Disagreements that remain are listed with a reason in
// testdata/known-differences.json; the test fails on any unlisted
// disagreement and on any listed one that no longer occurs.
//
// The package holds only tests and test data.
package conformance

// Package schema is the one definition of the event's fields, beside the
// event stage of the wirebridge data path:
//
//	source ──► packet ──► event ──► rule match ──► deliver ──► target
//	                        ▲
//	                   event/schema (build time)
//
// Fields below lists every field of a packet event once: its JSON path, type,
// when it appears, its description, its JSON Schema, its Go type and what the
// packet View (rule matching) calls it; DetailTypes lists the packet
// detail-types. `go generate ./internal/event/...` runs internal/event/gen,
// which writes from them the key and detail-type constants, the detail
// structs, Leaves and the View's field codes and path table
// (internal/event/fields_gen.go), the JSON Schema (docs/event.schema.json)
// and the field tables of docs/events.md (between its "generated" marker
// comments). A test fails when any of them is stale. The package is read at
// build time only; nothing imports it at run time.
//
// Adding a block (for example detail.DNS):
//
//  1. Add an Object field for the block (Path "detail.DNS", its Key
//     constant name, Go struct type and GoDoc, Def and Table to give it a
//     $defs entry and its own docs table), then its fields in the order the
//     encoder writes them, each with Key, Type, Required, Present, Doc,
//     Schema, View and Go. Fields must follow their parent.
//  2. Add a marker pair for the new table to docs/events.md, the lines
//     "<!-- generated: fields dns (go generate ./internal/event/...) -->" and
//     "<!-- end generated: fields dns -->", with the prose around it, and run
//     `go generate ./internal/event/...`.
//  3. Write the value accessors in internal/event: Build (build.go) fills
//     the generated struct, the encoder (encode.go, with the generated Key
//     constants) writes the JSON, and the View's cases for the new vf<View>
//     codes (view.go: Scalar for single values, VisitField for the rest)
//     report the values to the matcher. The tests in internal/event check
//     that the encoder writes exactly the defined fields, with their types,
//     in the defined order, that some test event has each of them, that the
//     View answers for every field as the JSON does, and that events
//     validate against the generated schema.
//
// An application block (detail.DNS, detail.HTTP, ... filled by a dissector
// of internal/dissect) needs less in step 3: the encoder, the View and Build
// walk its leaves generically (internal/event/appfields.go), so it takes the
// block's key in appBlockKeys, one case per leaf in appLayer.value, and, for
// arrays, one in appLayer.count.
package schema

// Type is the JSON type of a field.
type Type uint8

// Field types. Leaves are String, Number, Bool, StringArray and NumberArray;
// Object and ObjectArray hold the fields whose path extends theirs (EventBridge
// patterns address the members of an ObjectArray with the array's path as
// prefix, as if it were an object).
const (
	String Type = iota + 1
	Number
	Bool
	StringArray
	NumberArray
	Object
	ObjectArray
)

// Leaf reports whether fields of type t hold values (rather than fields).
func (t Type) Leaf() bool { return t != Object && t != ObjectArray }

// Field is one field of a packet event.
type Field struct {
	// Path is the dotted JSON path from the event root. A field's parent
	// (the path without its last element) is listed before it.
	Path string
	// Key is the name of the Go constant (in package event) for the last
	// element of Path. Fields with the same last element may share one.
	Key string
	// Type is the field's JSON type.
	Type Type
	// Required: the field is always present when its parent object is (the
	// parent's JSON Schema "required").
	Required bool
	// Present is the docs' "Present" column: when the field appears.
	Present string
	// Doc is the description: the docs table row and, for leaves, the JSON
	// Schema "description". A field without Doc has no docs row.
	Doc string
	// Schema is, for a leaf, its value's JSON Schema (an object); for an
	// Object or ObjectArray, extra keywords merged into the schema generated
	// from its fields.
	Schema string
	// PropertySchema, when set, replaces the $ref to Def in the parent's
	// properties (the envelope's "detail", which is a packet detail only for
	// packet detail-types).
	PropertySchema string
	// Def, for an Object, names its entry in the schema's $defs; without it
	// the object's schema is written inline.
	Def string
	// Table, for an Object, names the docs table (marker) its fields' rows go
	// in; without it they go in the parent's table. Top-level fields go in
	// table "envelope".
	Table string
	// View names the field for the packet View: leaves get the field code
	// vf<View>, arrays (leaf or ObjectArray) the array id arr<View>.
	View string
	// Go is the field's type in the Go structs of package event (the
	// field's name there is its key): for an Object or ObjectArray, a
	// pointer to or slice of the struct generated from its fields, named
	// after it. Objects of the same struct must have the same fields. Fields
	// of the envelope have none: Event is written by hand.
	Go string
	// GoDoc, for the first Object or ObjectArray of a Go struct, is the
	// struct's doc comment. The struct's leaf fields have their Doc as
	// comment when only one object uses the struct.
	GoDoc string
}

// Shared is the $defs entries that fields refer to by "$ref".
var Shared = []struct{ Name, Schema string }{
	{"uint8", `{"type": "integer", "minimum": 0, "maximum": 255}`},
	{"uint16", `{"type": "integer", "minimum": 0, "maximum": 65535}`},
	{"uint32", `{"type": "integer", "minimum": 0, "maximum": 4294967295}`},
	{"base64", `{
		"type": "string",
		"contentEncoding": "base64",
		"pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
	}`},
	{"vlans", `{"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "integer", "minimum": 0, "maximum": 4095}}`},
}

// ID, Title and Description head the JSON Schema.
const (
	ID          = "https://github.com/wirebridge/wirebridge/docs/event.schema.json"
	Title       = "wirebridge event"
	Description = "An event in Amazon EventBridge shape. Events built from packets (detail-type UdpPacket, TcpSegment, IcmpMessage, IpPacket, Frame) have the detail described by $defs/detail; other detail-types carry their own detail. See docs/events.md."
)

// DetailType is one detail-type of events built from packets, with what the
// JSON Schema requires of the detail of such an event.
type DetailType struct {
	Const   string // name of the Go constant in package event
	Value   string // the detail-type
	Comment string // the constant's comment
	When    string // docs: when an event has it
	// Detail is the JSON Schema the detail of such an event must also meet,
	// beyond $defs/detail.
	Detail string
}

// DetailTypes lists the detail-types of events built from packets.
var DetailTypes = []DetailType{
	{
		Const: "TypeUDP", Value: "UdpPacket", Comment: "innermost frame has a decoded UDP header",
		When: "The innermost frame has a UDP header.",
		Detail: `{
			"required": ["Source", "Destination", "Protocol", "IP"],
			"properties": {
				"Source": {"required": ["Port"]},
				"Destination": {"required": ["Port"]},
				"Protocol": {"const": "udp"},
				"TCP": false, "ICMP": false, "Ethernet": false
			}
		}`,
	},
	{
		Const: "TypeTCP", Value: "TcpSegment", Comment: "innermost frame has a decoded TCP header",
		When: "The innermost frame has a TCP header.",
		Detail: `{
			"required": ["Source", "Destination", "Protocol", "IP"],
			"properties": {
				"Source": {"required": ["Port"]},
				"Destination": {"required": ["Port"]},
				"Protocol": {"const": "tcp"},
				"ICMP": false, "Ethernet": false
			}
		}`,
	},
	{
		Const: "TypeICMP", Value: "IcmpMessage", Comment: "innermost frame has a decoded ICMPv4 or ICMPv6 header",
		When: "The innermost frame has an ICMP (IPv4) or ICMPv6 header.",
		Detail: `{
			"required": ["Source", "Destination", "Protocol", "IP", "ICMP"],
			"properties": {
				"Source": {"properties": {"Port": false}},
				"Destination": {"properties": {"Port": false}},
				"Protocol": {"enum": ["icmp", "icmpv6"]},
				"TCP": false, "Ethernet": false
			}
		}`,
	},
	{
		Const: "TypeIP", Value: "IpPacket", Comment: "IP without a decoded transport header (other protocols, non-first fragments)",
		When: "IPv4 or IPv6 without a decoded transport header: other protocols (ESP, GRE that is not decoded as a tunnel, SCTP, ...), and non-first fragments (see [Fragments](#fragments)).",
		Detail: `{
			"required": ["Source", "Destination", "Protocol", "IP"],
			"properties": {
				"Source": {"properties": {"Port": false}},
				"Destination": {"properties": {"Port": false}},
				"TCP": false, "ICMP": false, "Ethernet": false
			}
		}`,
	},
	{
		Const: "TypeFrame", Value: "Frame", Comment: "no IP layer (ARP, STP, CDP, ...)",
		When: "No IP layer: ARP, LLDP, STP, CDP, and frames whose IP header could not be decoded.",
		Detail: `{
			"properties": {
				"Source": false, "Destination": false, "Protocol": false, "IP": false, "TCP": false, "ICMP": false
			}
		}`,
	},
}

// Fields lists every field of a packet event in the order the encoder writes
// them, each object before its fields.
var Fields = []Field{
	{
		Path: "version", Key: "KeyVersion", Type: String, Required: true,
		Doc:    "Always `\"0\"` (as in EventBridge).",
		Schema: `{"const": "0"}`,
		View:   "Version",
	},
	{
		Path: "id", Key: "KeyID", Type: String, Required: true,
		Doc:    "A [UUID version 7](https://www.rfc-editor.org/rfc/rfc9562#name-uuid-version-7): a 48-bit Unix millisecond timestamp of when the event was built, a 26-bit counter and 48 random bits. Ids are unique within a wirebridge process and sort by creation time (lexically and as bytes); ids made in the same millisecond sort in creation order.",
		Schema: `{"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"}`,
		View:   "ID",
	},
	{
		Path: "source", Key: "KeySource", Type: String, Required: true,
		Doc:    "`wirebridge.<source type>` (`wirebridge.udp`, `wirebridge.raw`, `wirebridge.afpacket`, `wirebridge.pcap`, `wirebridge.vxlan`, `wirebridge.geneve`), or the source's `event_source` setting when set (for example `udp.raw`).",
		Schema: `{"type": "string", "minLength": 1}`,
		View:   "Source",
	},
	{
		Path: "detail-type", Key: "KeyDetailType", Type: String, Required: true,
		Doc:    "What the innermost frame is, see [below](#detail-type).",
		Schema: `{"type": "string", "minLength": 1}`,
		View:   "DetailType",
	},
	{
		Path: "time", Key: "KeyTime", Type: String, Required: true,
		Doc:    "The capture time in RFC 3339 with whole seconds, e.g. `2026-11-21T20:40:15Z`. `detail.Timestamp` has the full precision.",
		Schema: `{"type": "string", "format": "date-time", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"}`,
		View:   "Time",
	},
	{
		Path: "resources", Key: "KeyResources", Type: StringArray, Required: true,
		Doc:    "`[listener name]`: the name of the configured source that captured the packet; `[]` when the source has no name.",
		Schema: `{"type": "array", "items": {"type": "string"}}`,
		View:   "Resources",
	},
	{
		Path: "detail", Key: "KeyDetail", Type: Object, Required: true, Go: "*PacketDetail",
		GoDoc: "PacketDetail is the detail of an event built from a packet. Fields describe the innermost frame; Tunnel describes the outermost tunnel.",
		Doc:   "The packet, see below.",
		Schema: `{
			"description": "Detail of a packet event. Fields describe the innermost frame; Tunnel the outermost tunnel.",
			"dependentRequired": {
				"Source": ["Destination", "Protocol", "IP"],
				"Destination": ["Source"],
				"IP": ["Source"],
				"TCP": ["IP"],
				"ICMP": ["IP"],
				"PayloadTextTruncated": ["PayloadText"]
			},
			"dependentSchemas": {"IP": {"properties": {"Ethernet": false}}}
		}`,
		PropertySchema: `{"type": "object"}`,
		Def:            "detail", Table: "detail",
	},
	{
		Path: "detail.Timestamp", Key: "KeyTimestamp", Type: String, Required: true, Go: "time.Time",
		Present: "always",
		Doc:     "Capture time, RFC 3339 in UTC with the fraction of a second as captured (up to 9 digits, trailing zeros dropped, no fraction when zero): `2026-11-21T20:40:15.123456789Z`. Each packet's own time: where it comes from is in [Capture time and order](#capture-time-and-order). A packet without a capture timestamp (pcapng Simple Packet Block) gets the time it was processed.",
		Schema:  `{"type": "string", "format": "date-time", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,8}[1-9])?Z$"}`,
		View:    "Timestamp",
	},
	{
		Path: "detail.Listener", Key: "KeyListener", Type: String, Go: "string",
		Present: "when the source has a name",
		Doc:     "The configured source's name (same as `resources[0]`).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "Listener",
	},
	{
		Path: "detail.Source", Key: "KeySrc", Type: Object, Go: "*Endpoint",
		GoDoc: "Endpoint is an IP address with its port when the transport has ports.",
	},
	{
		Path: "detail.Source.IP", Key: "KeyIP", Type: String, Required: true, Go: "string",
		Present: "IP frames",
		Doc:     "Source address, IPv4 dotted or IPv6 in RFC 5952 form (`2001:db8::7`).",
		Schema:  `{"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}`,
		View:    "SrcIP",
	},
	{
		Path: "detail.Source.Port", Key: "KeyPort", Type: Number, Go: "*uint16",
		Present: "UDP, TCP",
		Doc:     "Source port. Absent for ICMP, other protocols and non-first fragments.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "SrcPort",
	},
	{
		Path: "detail.Destination", Key: "KeyDst", Type: Object, Go: "*Endpoint",
	},
	{
		Path: "detail.Destination.IP", Key: "KeyIP", Type: String, Required: true, Go: "string",
		Present: "IP frames",
		Doc:     "Destination address.",
		Schema:  `{"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}`,
		View:    "DstIP",
	},
	{
		Path: "detail.Destination.Port", Key: "KeyPort", Type: Number, Go: "*uint16",
		Present: "UDP, TCP",
		Doc:     "Destination port.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "DstPort",
	},
	{
		Path: "detail.Protocol", Key: "KeyProtocol", Type: String, Go: "string",
		Present: "IP frames",
		Doc:     "The IP protocol (after IPv6 extension headers): `udp`, `tcp`, `icmp`, `icmpv6`; otherwise the IANA keyword in lower case (`gre`, `esp`, `ah`, `sctp`, `ospfigp`, `vrrp`, `pim`, ...; spaces replaced by hyphens, e.g. `isis-over-ipv4`), or the number as a string (`\"253\"`) when IANA assigns no keyword.",
		Schema:  `{"type": "string", "pattern": "^[a-z0-9][a-z0-9.+/-]*$"}`,
		View:    "Protocol",
	},
	{
		Path: "detail.Length", Key: "KeyLength", Type: Number, Required: true, Go: "int",
		Present: "always",
		Doc:     "Length in bytes of the payload (below) **on the wire**. Equal to the number of bytes in `Payload` unless the capture was cut short (`Truncated`).",
		Schema:  `{"type": "integer", "minimum": 0}`,
		View:    "Length",
	},
	{
		Path: "detail.Payload", Key: "KeyPayload", Type: String, Required: true, Go: "[]byte",
		Present: "always",
		Doc:     "The payload in standard base64 (RFC 4648, with padding); `\"\"` when empty. UDP/TCP: the data after the transport header. ICMP/ICMPv6: the message body after the first 8 bytes (type, code, checksum and the 4-byte rest of header). `IpPacket`: the IP payload after all extension headers. `Frame`: the bytes after the link header (Ethernet + VLAN tags, or SLL; for a PPPoE session frame that carries neither IPv4 nor IPv6, such as LCP, the PPP data after the PPPoE header and PPP protocol field).",
		Schema:  `{"$ref": "#/$defs/base64"}`,
		View:    "Payload",
	},
	{
		Path: "detail.PayloadText", Key: "KeyPayloadText", Type: String, Go: "string",
		Present: "printable payloads",
		Doc:     "The payload as text, so `prefix`, `wildcard` and the other string patterns can match content: present when the payload's first bytes, up to `dissect.payload_text_max` (default 256; see [configuration](config.md#dissect)), are printable UTF-8 (letters, marks, numbers, punctuation, symbols, spaces, and tab, CR and LF; no other control character, no invalid UTF-8) and there is at least one. A longer payload gives its first bytes (cut back to a whole character) and `PayloadTextTruncated`; it is checked only as far as it is kept.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "PayloadText",
	},
	{
		Path: "detail.PayloadTextTruncated", Key: "KeyPayloadTextCut", Type: Bool, Go: "bool",
		Present: "when true",
		Doc:     "`true` when `PayloadText` holds fewer bytes than the payload has on the wire (`Length`): it was longer than `payload_text_max`, or the capture cut it. Never `false`: absent instead.",
		Schema:  `{"const": true}`,
		View:    "PayloadTextCut",
	},
	{
		Path: "detail.IP", Key: "KeyIP", Type: Object, Go: "*IPInfo",
		GoDoc:   "IPInfo is detail.IP.",
		Present: "IP frames",
		Doc:     "See [IP](#ip).",
		Schema: `{
			"allOf": [
				{
					"if": {"properties": {"Version": {"const": 4}}},
					"then": {
						"required": ["ID"],
						"properties": {"ID": {"$ref": "#/$defs/uint16"}, "FlowLabel": false, "Extensions": false}
					}
				},
				{
					"if": {"properties": {"Version": {"const": 6}}},
					"then": {"required": ["FlowLabel"], "properties": {"DontFragment": false, "LengthFromCapture": false}}
				}
			]
		}`,
		Def: "ip", Table: "ip",
	},
	{
		Path: "detail.IP.Version", Key: "KeyIPVersion", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "4 or 6.",
		Schema:  `{"enum": [4, 6]}`,
		View:    "IPVersion",
	},
	{
		Path: "detail.IP.TTL", Key: "KeyTTL", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "IPv4 time to live, or IPv6 hop limit.",
		Schema:  `{"$ref": "#/$defs/uint8"}`,
		View:    "TTL",
	},
	{
		Path: "detail.IP.DSCP", Key: "KeyDSCP", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "Differentiated services code point (the upper 6 bits of the IPv4 TOS / IPv6 traffic class), 0..63.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 63}`,
		View:    "DSCP",
	},
	{
		Path: "detail.IP.FlowLabel", Key: "KeyFlowLabel", Type: Number, Go: "*uint32",
		Present: "IPv6",
		Doc:     "The 20-bit flow label.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 1048575}`,
		View:    "FlowLabel",
	},
	{
		Path: "detail.IP.ID", Key: "KeyIPID", Type: Number, Go: "*uint32",
		Present: "IPv4; IPv6 with a fragment header",
		Doc:     "IPv4 identification (16 bits), or the 32-bit identification of the IPv6 fragment header.",
		Schema:  `{"$ref": "#/$defs/uint32"}`,
		View:    "IPID",
	},
	{
		Path: "detail.IP.DontFragment", Key: "KeyDontFragment", Type: Bool, Go: "bool",
		Present: "IPv4, when set",
		Doc:     "`true` when the DF bit is set.",
		Schema:  `{"const": true}`,
		View:    "DontFragment",
	},
	{
		Path: "detail.IP.Fragment", Key: "KeyFragment", Type: Object, Go: "*Fragment",
		GoDoc: "Fragment is detail.IP.Fragment, present only for fragments.",
	},
	{
		Path: "detail.IP.Fragment.Offset", Key: "KeyFragOffset", Type: Number, Required: true, Go: "uint16",
		Present: "fragments",
		Doc:     "Fragment offset in bytes (the header field times 8). `0` for a first fragment.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 65528, "multipleOf": 8}`,
		View:    "FragOffset",
	},
	{
		Path: "detail.IP.Fragment.MoreFragments", Key: "KeyMoreFragments", Type: Bool, Required: true, Go: "bool",
		Present: "fragments",
		Doc:     "The MF flag (IPv4) or M flag (IPv6).",
		Schema:  `{"type": "boolean"}`,
		View:    "MoreFragments",
	},
	{
		Path: "detail.IP.Extensions", Key: "KeyExtensions", Type: StringArray, Go: "[]string",
		Present: "IPv6 with extension headers",
		Doc:     "The extension headers present, in this fixed order (not wire order): `hop-by-hop`, `routing`, `fragment`, `destination-options`, `ah`.",
		Schema: `{
			"type": "array",
			"minItems": 1,
			"uniqueItems": true,
			"items": {"enum": ["hop-by-hop", "routing", "fragment", "destination-options", "ah"]}
		}`,
		View: "Extensions",
	},
	{
		Path: "detail.IP.LengthFromCapture", Key: "KeyLenFromCap", Type: Bool, Go: "bool",
		Present: "IPv4, when true",
		Doc:     "`true` when the IPv4 total length field is 0, as in Linux captures of packets the kernel segments later (TSO/GSO, BIG TCP): the length is then taken from the captured frame (the bytes after the IP header's start, or the wire length when the capture was cut), as tshark and tcpdump do, and `Length` and `Payload` follow from it. Only the innermost IP header's is reported. Never `false`: absent instead.",
		Schema:  `{"const": true}`,
		View:    "LenFromCap",
	},
	{
		Path: "detail.TCP", Key: "KeyTCP", Type: Object, Go: "*TCPInfo",
		GoDoc:   "TCPInfo is detail.TCP.",
		Present: "TCP",
		Doc:     "See [TCP](#tcp).",
		Def:     "tcp", Table: "tcp",
	},
	{
		Path: "detail.TCP.Flags", Key: "KeyFlags", Type: StringArray, Required: true, Go: "[]string",
		Doc: "Flags set, in bit order: `FIN`, `SYN`, `RST`, `PSH`, `ACK`, `URG`, `ECE`, `CWR`, `NS`. `[]` when none. Patterns match arrays element-wise: `{\"TCP\": {\"Flags\": [\"SYN\"]}}` matches every segment with SYN set, SYN-ACK included.",
		Schema: `{
			"type": "array",
			"uniqueItems": true,
			"items": {"enum": ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"]}
		}`,
		View: "TCPFlags",
	},
	{
		Path: "detail.TCP.Seq", Key: "KeySeq", Type: Number, Required: true, Go: "uint32",
		Doc:    "Sequence number (raw, not relative).",
		Schema: `{"$ref": "#/$defs/uint32"}`,
		View:   "TCPSeq",
	},
	{
		Path: "detail.TCP.Ack", Key: "KeyAck", Type: Number, Required: true, Go: "uint32",
		Doc:    "Acknowledgment number field, present even when the ACK flag is clear.",
		Schema: `{"$ref": "#/$defs/uint32"}`,
		View:   "TCPAck",
	},
	{
		Path: "detail.TCP.Window", Key: "KeyWindow", Type: Number, Required: true, Go: "uint16",
		Doc:    "Window field (not scaled).",
		Schema: `{"$ref": "#/$defs/uint16"}`,
		View:   "TCPWindow",
	},
	{
		Path: "detail.ICMP", Key: "KeyICMP", Type: Object, Go: "*ICMPInfo",
		GoDoc:   "ICMPInfo is detail.ICMP. ID and Seq are present for echo request/reply only.",
		Present: "ICMP, ICMPv6",
		Doc:     "See [ICMP](#icmp).",
		Schema:  `{"dependentRequired": {"ID": ["Seq"], "Seq": ["ID"]}}`,
		Def:     "icmp", Table: "icmp",
	},
	{
		Path: "detail.ICMP.Type", Key: "KeyType", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "Message type (ICMP 8 echo request, 3 destination unreachable, ...; ICMPv6 128 echo request, 134 router advertisement, ...).",
		Schema:  `{"$ref": "#/$defs/uint8"}`,
		View:    "ICMPType",
	},
	{
		Path: "detail.ICMP.Code", Key: "KeyCode", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "Message code.",
		Schema:  `{"$ref": "#/$defs/uint8"}`,
		View:    "ICMPCode",
	},
	{
		Path: "detail.ICMP.ID", Key: "KeyICMPID", Type: Number, Go: "*uint16",
		Present: "echo-style messages",
		Doc:     "Identifier: ICMP echo, timestamp, information and address mask requests/replies; ICMPv6 echo request/reply.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "ICMPID",
	},
	{
		Path: "detail.ICMP.Seq", Key: "KeyICMPSeq", Type: Number, Go: "*uint16",
		Present: "echo-style messages",
		Doc:     "Sequence number, same messages.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "ICMPSeq",
	},
	{
		Path: "detail.Ethernet", Key: "KeyEthernet", Type: Object, Go: "*EthernetInfo",
		GoDoc:   "EthernetInfo is detail.Ethernet, present for non-IP frames.",
		Present: "non-IP frames with a link header",
		Doc:     "See [Ethernet](#ethernet).",
		Def:     "ethernet", Table: "ethernet",
	},
	{
		Path: "detail.Ethernet.Source", Key: "KeySrc", Type: String, Go: "string",
		Present: "Ethernet; SLL with a 6-byte address",
		Doc:     "Source MAC, lower case, colon-separated (`02:00:00:00:00:0a`).",
		Schema:  `{"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"}`,
		View:    "EthSrc",
	},
	{
		Path: "detail.Ethernet.Destination", Key: "KeyDst", Type: String, Go: "string",
		Present: "Ethernet",
		Doc:     "Destination MAC.",
		Schema:  `{"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"}`,
		View:    "EthDst",
	},
	{
		Path: "detail.Ethernet.EtherType", Key: "KeyEthType", Type: Number, Required: true, Go: "uint16",
		Present: "always",
		Doc:     "The EtherType after any VLAN tags (or the SLL protocol), e.g. 2054 (0x0806) for ARP, 35020 (0x88cc) for LLDP, 34916 (0x8864) for a PPPoE session frame that carries neither IPv4 nor IPv6. Values below 1536 are 802.3 lengths.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "EthType",
	},
	{
		Path: "detail.VLAN", Key: "KeyVLAN", Type: NumberArray, Go: "[]uint16",
		Present: "tagged frames",
		Doc:     "VLAN ids of the innermost frame's 802.1Q / 802.1ad tags, outermost first (QinQ: `[S-tag, C-tag]`), at most 4.",
		Schema:  `{"$ref": "#/$defs/vlans"}`,
		View:    "VLAN",
	},
	{
		Path: "detail.Tunnel", Key: "KeyTunnel", Type: Object, Go: "*TunnelInfo",
		GoDoc:   "TunnelInfo is detail.Tunnel: the outermost tunnel and its outer addresses.",
		Present: "tunnelled packets",
		Doc:     "See [Tunnel](#tunnel).",
		Schema: `{
			"dependentRequired": {"Source": ["Destination"], "Destination": ["Source"]},
			"allOf": [
				{
					"if": {"properties": {"Type": {"enum": ["vxlan", "geneve"]}}},
					"then": {"required": ["VNI", "FlowHash"]},
					"else": {"properties": {"VNI": false, "FlowHash": false}}
				},
				{
					"if": {"properties": {"Type": {"const": "geneve"}}},
					"else": {"properties": {"Options": false, "GWLB": false}}
				},
				{
					"if": {"properties": {"Type": {"const": "erspan"}}},
					"then": {"required": ["Version"]},
					"else": {"properties": {"SessionID": false, "Version": false}}
				},
				{
					"if": {"properties": {"Type": {"const": "gtpu"}}},
					"then": {"required": ["TEID"]},
					"else": {"properties": {"TEID": false}}
				},
				{
					"if": {"properties": {"Type": {"const": "mpls"}}},
					"then": {"required": ["Labels"]},
					"else": {"properties": {"Labels": false}}
				}
			]
		}`,
		Def: "tunnel", Table: "tunnel",
	},
	{
		Path: "detail.Tunnel.Type", Key: "KeyType", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`vxlan`, `geneve`, `gre`, `erspan` (ERSPAN is carried in GRE; its GRE fields are reported too), `ipip`, `gtpu` or `mpls` (MPLS in GRE is `mpls` with the GRE fields).",
		Schema:  `{"enum": ["vxlan", "geneve", "gre", "erspan", "ipip", "gtpu", "mpls"]}`,
		View:    "TunType",
	},
	{
		Path: "detail.Tunnel.VNI", Key: "KeyVNI", Type: Number, Go: "*uint32",
		Present: "vxlan, geneve",
		Doc:     "The 24-bit virtual network identifier. AWS Traffic Mirroring puts the session's VNI here.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 16777215}`,
		View:    "TunVNI",
	},
	{
		Path: "detail.Tunnel.FlowHash", Key: "KeyFlowHash", Type: Number, Go: "*uint16",
		Present: "vxlan, geneve",
		Doc:     "The outer UDP source port. Senders (AWS included) set it to a hash of the inner flow, so it identifies the inner 5-tuple.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "TunFlowHash",
	},
	{
		Path: "detail.Tunnel.Source", Key: "KeySrc", Type: Object, Go: "*Endpoint",
	},
	{
		Path: "detail.Tunnel.Source.IP", Key: "KeyIP", Type: String, Required: true, Go: "string",
		Present: "outer IP (all but MPLS directly over Ethernet)",
		Doc:     "Outer source address (the mirror source, the GWLB, the GRE peer).",
		Schema:  `{"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}`,
		View:    "TunSrcIP",
	},
	{
		Path: "detail.Tunnel.Source.Port", Key: "KeyPort", Type: Number, Go: "*uint16",
		Present: "tunnels in UDP: vxlan, geneve, gtpu, mpls in UDP",
		Doc:     "Outer UDP source port.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "TunSrcPort",
	},
	{
		Path: "detail.Tunnel.Destination", Key: "KeyDst", Type: Object, Go: "*Endpoint",
	},
	{
		Path: "detail.Tunnel.Destination.IP", Key: "KeyIP", Type: String, Required: true, Go: "string",
		Present: "outer IP",
		Doc:     "Outer destination address.",
		Schema:  `{"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}`,
		View:    "TunDstIP",
	},
	{
		Path: "detail.Tunnel.Destination.Port", Key: "KeyPort", Type: Number, Go: "*uint16",
		Present: "tunnels in UDP",
		Doc:     "Outer UDP destination port (4789, 6081, 2152, 6635 or the configured port).",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "TunDstPort",
	},
	{
		Path: "detail.Tunnel.VLAN", Key: "KeyVLAN", Type: NumberArray, Go: "[]uint16",
		Present: "outer frame tagged",
		Doc:     "VLAN ids of the outer frame.",
		Schema:  `{"$ref": "#/$defs/vlans"}`,
		View:    "TunVLAN",
	},
	{
		Path: "detail.Tunnel.Key", Key: "KeyGREKey", Type: Number, Go: "*uint32",
		Present: "GRE with the K bit",
		Doc:     "GRE key.",
		Schema:  `{"$ref": "#/$defs/uint32"}`,
		View:    "TunKey",
	},
	{
		Path: "detail.Tunnel.Sequence", Key: "KeyGRESequence", Type: Number, Go: "*uint32",
		Present: "GRE with the S bit",
		Doc:     "GRE sequence number (ERSPAN types II and III always have one).",
		Schema:  `{"$ref": "#/$defs/uint32"}`,
		View:    "TunSequence",
	},
	{
		Path: "detail.Tunnel.SessionID", Key: "KeySessionID", Type: Number, Go: "*uint16",
		Present: "erspan types II, III",
		Doc:     "The 10-bit ERSPAN session id.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 1023}`,
		View:    "TunSessionID",
	},
	{
		Path: "detail.Tunnel.Version", Key: "KeyERSPANVersion", Type: Number, Go: "*uint8",
		Present: "erspan",
		Doc:     "ERSPAN type: 1, 2 or 3.",
		Schema:  `{"enum": [1, 2, 3]}`,
		View:    "TunVersion",
	},
	{
		Path: "detail.Tunnel.TEID", Key: "KeyTEID", Type: Number, Go: "*uint32",
		Present: "gtpu",
		Doc:     "The 32-bit GTP-U tunnel endpoint identifier.",
		Schema:  `{"$ref": "#/$defs/uint32"}`,
		View:    "TunTEID",
	},
	{
		Path: "detail.Tunnel.Labels", Key: "KeyLabels", Type: NumberArray, Go: "[]uint32",
		Present: "mpls",
		Doc:     "The 20-bit MPLS labels of the stack, outermost first, at most 8 (deeper entries are skipped).",
		Schema:  `{"type": "array", "minItems": 1, "maxItems": 8, "items": {"type": "integer", "minimum": 0, "maximum": 1048575}}`,
		View:    "TunLabels",
	},
	{
		Path: "detail.Tunnel.Fragment", Key: "KeyFragment", Type: Bool, Go: "bool",
		Present: "when true",
		Doc:     "`true` when an IP packet carrying the tunnel (the outer one, or one between nested tunnels) is a first fragment: the inner packet may continue in later fragments, which are not decoded (see [Fragments](#fragments)). Never `false`: absent instead.",
		Schema:  `{"const": true}`,
		View:    "TunFragment",
	},
	{
		Path: "detail.Tunnel.Options", Key: "KeyOptions", Type: ObjectArray, Go: "[]GeneveOption",
		GoDoc:   "GeneveOption is one entry of detail.Tunnel.Options.",
		Present: "geneve with options",
		Doc:     "Every Geneve option TLV, in wire order.",
		Schema:  `{"minItems": 1}`,
		View:    "Options",
	},
	{
		Path: "detail.Tunnel.Options.Class", Key: "KeyOptClass", Type: Number, Required: true, Go: "uint16",
		Doc:    "Option class (264 = 0x0108 for AWS GWLB).",
		Schema: `{"$ref": "#/$defs/uint16"}`,
		View:   "OptClass",
	},
	{
		Path: "detail.Tunnel.Options.Type", Key: "KeyOptType", Type: Number, Required: true, Go: "uint8",
		Doc:    "Option type including the critical bit (0x80): type 1 critical is 129.",
		Schema: `{"$ref": "#/$defs/uint8"}`,
		View:   "OptType",
	},
	{
		Path: "detail.Tunnel.Options.Data", Key: "KeyOptData", Type: String, Required: true, Go: "[]byte",
		Doc:    "Option data, standard base64.",
		Schema: `{"$ref": "#/$defs/base64"}`,
		View:   "OptData",
	},
	{
		Path: "detail.Tunnel.GWLB", Key: "KeyGWLB", Type: Object, Go: "*GWLBInfo",
		GoDoc:   "GWLBInfo is detail.Tunnel.GWLB: the AWS Gateway Load Balancer Geneve options, as \"0x\"-prefixed fixed-width lower-case hex strings (64-bit ids do not survive a trip through a JSON number in most languages).",
		Present: "geneve with AWS GWLB options",
		Doc:     "Decoded class 0x0108 options; each member is present when its option is.",
		Schema:  `{"minProperties": 1}`,
	},
	{
		Path: "detail.Tunnel.GWLB.EndpointID", Key: "KeyEndpointID", Type: String, Go: "string",
		Present: "type 1",
		Doc:     "GWLB endpoint id (64 bits) as `0x` and 16 lower-case hex digits.",
		Schema:  `{"type": "string", "pattern": "^0x[0-9a-f]{16}$"}`,
		View:    "GWLBEndpoint",
	},
	{
		Path: "detail.Tunnel.GWLB.AttachmentID", Key: "KeyAttachmentID", Type: String, Go: "string",
		Present: "type 2",
		Doc:     "Attachment id (64 bits) as `0x` and 16 lower-case hex digits.",
		Schema:  `{"type": "string", "pattern": "^0x[0-9a-f]{16}$"}`,
		View:    "GWLBAttachment",
	},
	{
		Path: "detail.Tunnel.GWLB.FlowCookie", Key: "KeyFlowCookie", Type: String, Go: "string",
		Present: "type 3",
		Doc:     "Flow cookie (32 bits) as `0x` and 8 lower-case hex digits.",
		Schema:  `{"type": "string", "pattern": "^0x[0-9a-f]{8}$"}`,
		View:    "GWLBCookie",
	},
	{
		Path: "detail.DNS", Key: "KeyDNS", Type: Object, Go: "*DNSInfo",
		GoDoc:   "DNSInfo is detail.DNS: the header, questions and answers of a DNS, mDNS or LLMNR message.",
		Present: "DNS",
		Doc:     "See [DNS](#dns).",
		Def:     "dns", Table: "dns",
	},
	{
		Path: "detail.DNS.ID", Key: "KeyDNSID", Type: Number, Required: true, Go: "uint16",
		Present: "always",
		Doc:     "Transaction id.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "DNSID",
	},
	{
		Path: "detail.DNS.Response", Key: "KeyResponse", Type: Bool, Required: true, Go: "bool",
		Present: "always",
		Doc:     "The QR bit: `false` for a query, `true` for a response.",
		Schema:  `{"type": "boolean"}`,
		View:    "DNSResponse",
	},
	{
		Path: "detail.DNS.Opcode", Key: "KeyOpcode", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`QUERY`, `IQUERY`, `STATUS`, `NOTIFY`, `UPDATE`, `DSO`; unassigned values as `OPCODE` and the number (`OPCODE3`).",
		Schema:  `{"type": "string", "pattern": "^[A-Z]+[0-9]*$"}`,
		View:    "DNSOpcode",
	},
	{
		Path: "detail.DNS.RCode", Key: "KeyRCode", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "The header's response code: `NOERROR`, `FORMERR`, `SERVFAIL`, `NXDOMAIN`, `NOTIMP`, `REFUSED`, `YXDOMAIN`, `YXRRSET`, `NXRRSET`, `NOTAUTH`, `NOTZONE`, `DSOTYPENI`; unassigned values as `RCODE` and the number. Queries carry `NOERROR`.",
		Schema:  `{"type": "string", "pattern": "^[A-Z]+[0-9]*$"}`,
		View:    "DNSRCode",
	},
	{
		Path: "detail.DNS.Questions", Key: "KeyQuestions", Type: ObjectArray, Go: "[]DNSQuestion",
		GoDoc:   "DNSQuestion is one entry of detail.DNS.Questions.",
		Present: "at least one question",
		Doc:     "The question section in message order, at most 4 (see `More`).",
		Schema:  `{"minItems": 1, "maxItems": 4}`,
		View:    "Questions",
	},
	{
		Path: "detail.DNS.Questions.Name", Key: "KeyName", Type: String, Required: true, Go: "string",
		Doc:    "The name in presentation form without the trailing dot (`www.example.org`; `\"\"` for the root); bytes outside printable ASCII, and `.` or `\\` inside a label, escaped as in zone files (`\\DDD`, `\\.`). Patterns such as `{\"wildcard\": \"*.example.org\"}` match it.",
		Schema: `{"type": "string"}`,
		View:   "QName",
	},
	{
		Path: "detail.DNS.Questions.Type", Key: "KeyType", Type: String, Required: true, Go: "string",
		Doc:    "The QTYPE's mnemonic (`A`, `AAAA`, `CNAME`, `MX`, `TXT`, `PTR`, `SRV`, `HTTPS`, `ANY`, ...), or `TYPE` and the number (RFC 3597) when it has none.",
		Schema: `{"type": "string", "pattern": "^[A-Z0-9-]+$"}`,
		View:   "QType",
	},
	{
		Path: "detail.DNS.Questions.Class", Key: "KeyClass", Type: String, Required: true, Go: "string",
		Doc:    "`IN`, `CH`, `HS`, `NONE`, `ANY`, or `CLASS` and the number; for mDNS without the top bit (the unicast-response flag).",
		Schema: `{"type": "string", "pattern": "^[A-Z]+[0-9]*$"}`,
		View:   "QClass",
	},
	{
		Path: "detail.DNS.Answers", Key: "KeyAnswers", Type: ObjectArray, Go: "[]DNSAnswer",
		GoDoc:   "DNSAnswer is one entry of detail.DNS.Answers.",
		Present: "at least one answer",
		Doc:     "The answer section's records in message order, at most 16 (see `More`). Authority and additional records are not reported.",
		Schema:  `{"minItems": 1, "maxItems": 16}`,
		View:    "Answers",
	},
	{
		Path: "detail.DNS.Answers.Name", Key: "KeyName", Type: String, Required: true, Go: "string",
		Doc:    "The owner name, as `Questions.Name`.",
		Schema: `{"type": "string"}`,
		View:   "AName",
	},
	{
		Path: "detail.DNS.Answers.Type", Key: "KeyType", Type: String, Required: true, Go: "string",
		Doc:    "The record type, as `Questions.Type`.",
		Schema: `{"type": "string", "pattern": "^[A-Z0-9-]+$"}`,
		View:   "AType",
	},
	{
		Path: "detail.DNS.Answers.TTL", Key: "KeyTTL", Type: Number, Required: true, Go: "uint32",
		Doc:    "Time to live in seconds.",
		Schema: `{"$ref": "#/$defs/uint32"}`,
		View:   "ATTL",
	},
	{
		Path: "detail.DNS.Answers.Data", Key: "KeyData", Type: String, Required: true, Go: "string",
		Doc:    "The record data as text: the address of an `A` or `AAAA` record (`192.0.2.1`, `2001:db8::1`); the target name of `CNAME`, `NS`, `PTR`; `MX` as `preference exchange`; `TXT` the strings concatenated; `SRV` as `priority weight port target`; `SOA` the primary server name; other types lower-case hex of data up to 64 bytes, else `\"\"`.",
		Schema: `{"type": "string"}`,
		View:   "AData",
	},
	{
		Path: "detail.DNS.More", Key: "KeyMore", Type: Bool, Go: "bool",
		Present: "when true",
		Doc:     "`true` when the message held more questions or answers than are listed (beyond the capacities above, or their text beyond 4 KiB). Never `false`: absent instead.",
		Schema:  `{"const": true}`,
		View:    "DNSMore",
	},
	{
		Path: "detail.HTTP", Key: "KeyHTTP", Type: Object, Go: "*HTTPInfo",
		GoDoc:   "HTTPInfo is detail.HTTP: the start of an HTTP/1.x request or response found in one packet.",
		Present: "HTTP",
		Doc:     "See [HTTP](#http).",
		Schema:  `{"oneOf": [{"required": ["Method", "Path"], "properties": {"Status": false, "Reason": false}}, {"required": ["Status"], "properties": {"Method": false, "Path": false}}]}`,
		Def:     "http", Table: "http",
	},
	{
		Path: "detail.HTTP.Method", Key: "KeyMethod", Type: String, Go: "string",
		Present: "requests",
		Doc:     "The request method (`GET`, `POST`, ...).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "HTTPMethod",
	},
	{
		Path: "detail.HTTP.Path", Key: "KeyPath", Type: String, Go: "string",
		Present: "requests",
		Doc:     "The request target as written (`/item/2?x=1`, or an absolute URI to a proxy).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "HTTPPath",
	},
	{
		Path: "detail.HTTP.Version", Key: "KeyHTTPVersion", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "The protocol version of the request or status line (`HTTP/1.1`).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "HTTPVersion",
	},
	{
		Path: "detail.HTTP.Host", Key: "KeyHost", Type: String, Go: "string",
		Present: "a Host header in the packet",
		Doc:     "The `Host` header's value.",
		Schema:  `{"type": "string"}`,
		View:    "HTTPHost",
	},
	{
		Path: "detail.HTTP.Status", Key: "KeyStatus", Type: Number, Go: "uint16",
		Present: "responses",
		Doc:     "The status code (`200`, `404`, ...).",
		Schema:  `{"type": "integer", "minimum": 100, "maximum": 999}`,
		View:    "HTTPStatus",
	},
	{
		Path: "detail.HTTP.Reason", Key: "KeyReason", Type: String, Go: "string",
		Present: "responses",
		Doc:     "The reason phrase (`OK`; `\"\"` when the status line has none).",
		Schema:  `{"type": "string"}`,
		View:    "HTTPReason",
	},
	{
		Path: "detail.HTTP.ContentType", Key: "KeyContentType", Type: String, Go: "string",
		Present: "a Content-Type header in the packet",
		Doc:     "The `Content-Type` header's value.",
		Schema:  `{"type": "string"}`,
		View:    "HTTPContentType",
	},
	{
		Path: "detail.HTTP.ContentLength", Key: "KeyContentLength", Type: Number, Go: "*int64",
		Present: "a valid Content-Length header in the packet",
		Doc:     "The `Content-Length` header's value.",
		Schema:  `{"type": "integer", "minimum": 0}`,
		View:    "HTTPContentLength",
	},
	{
		Path: "detail.HTTP.UserAgent", Key: "KeyUserAgent", Type: String, Go: "string",
		Present: "a User-Agent header in the packet",
		Doc:     "The `User-Agent` header's value.",
		Schema:  `{"type": "string"}`,
		View:    "HTTPUserAgent",
	},
	{
		Path: "detail.Syslog", Key: "KeySyslog", Type: Object, Go: "*SyslogInfo",
		GoDoc:   "SyslogInfo is detail.Syslog: one RFC 3164 or RFC 5424 syslog message.",
		Present: "syslog",
		Doc:     "See [Syslog](#syslog).",
		Def:     "syslog", Table: "syslog",
	},
	{
		Path: "detail.Syslog.Facility", Key: "KeyFacility", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "The facility's name as rsyslog and tcpdump write it: `kern`, `user`, `mail`, `daemon`, `auth`, `syslog`, `lpr`, `news`, `uucp`, `cron`, `authpriv`, `ftp`, `ntp`, `security`, `console`, `solaris-cron`, `local0` ... `local7`. A message without a valid `<PRI>` is `user`.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogFacility",
	},
	{
		Path: "detail.Syslog.FacilityCode", Key: "KeyFacilityCode", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "The facility's number, 0 to 23.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 23}`,
		View:    "SyslogFacilityCode",
	},
	{
		Path: "detail.Syslog.Severity", Key: "KeySeverity", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`emerg`, `alert`, `crit`, `err`, `warning`, `notice`, `info` or `debug`. A message without a valid `<PRI>` is `notice`.",
		Schema:  `{"enum": ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]}`,
		View:    "SyslogSeverity",
	},
	{
		Path: "detail.Syslog.SeverityCode", Key: "KeySeverityCode", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "The severity's number, 0 (emerg) to 7 (debug): `{\"SeverityCode\": [{\"numeric\": [\"<=\", 3]}]}` matches errors and worse.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 7}`,
		View:    "SyslogSeverityCode",
	},
	{
		Path: "detail.Syslog.Timestamp", Key: "KeyTimestamp", Type: String, Go: "string",
		Present: "when the message has one",
		Doc:     "The timestamp as written in the message (`Sep 12 19:16:12`, `2003-10-11T22:14:15.003Z`).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogTimestamp",
	},
	{
		Path: "detail.Syslog.Hostname", Key: "KeyHostname", Type: String, Go: "string",
		Present: "when the message has one",
		Doc:     "The HOSTNAME field.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogHostname",
	},
	{
		Path: "detail.Syslog.AppName", Key: "KeyAppName", Type: String, Go: "string",
		Present: "when the message has one",
		Doc:     "RFC 5424 APP-NAME, or the RFC 3164 tag before `[pid]` or `:`.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogAppName",
	},
	{
		Path: "detail.Syslog.ProcID", Key: "KeyProcID", Type: String, Go: "string",
		Present: "when the message has one",
		Doc:     "RFC 5424 PROCID, or the RFC 3164 `[pid]`.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogProcID",
	},
	{
		Path: "detail.Syslog.MsgID", Key: "KeyMsgID", Type: String, Go: "string",
		Present: "RFC 5424, when not `-`",
		Doc:     "RFC 5424 MSGID.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogMsgID",
	},
	{
		Path: "detail.Syslog.StructuredData", Key: "KeyStructuredData", Type: String, Go: "string",
		Present: "RFC 5424, when not `-`",
		Doc:     "RFC 5424 STRUCTURED-DATA as written (`[exampleSDID@32473 iut=\"3\"]`).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "SyslogSD",
	},
	{
		Path: "detail.Syslog.Message", Key: "KeyMessage", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "The free-form message, without a UTF-8 byte order mark and trailing NUL, CR or LF.",
		Schema:  `{"type": "string"}`,
		View:    "SyslogMessage",
	},
	{
		Path: "detail.TLS", Key: "KeyTLS", Type: Object, Go: "*TLSInfo",
		GoDoc:   "TLSInfo is detail.TLS: a TLS ClientHello (or ServerHello) at the start of a segment.",
		Present: "TLS hello",
		Doc:     "See [TLS](#tls).",
		Def:     "tls", Table: "tls",
	},
	{
		Path: "detail.TLS.HandshakeType", Key: "KeyHandshakeType", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`client_hello` or `server_hello`.",
		Schema:  `{"enum": ["client_hello", "server_hello"]}`,
		View:    "TLSHandshake",
	},
	{
		Path: "detail.TLS.SNI", Key: "KeySNI", Type: String, Go: "string",
		Present: "ClientHello with a server name",
		Doc:     "The server name the client asks for (the first `host_name` of the server_name extension).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "TLSSNI",
	},
	{
		Path: "detail.TLS.ALPN", Key: "KeyALPN", Type: StringArray, Go: "[]string",
		Present: "ClientHello with ALPN",
		Doc:     "The application protocols offered, in order (`h2`, `http/1.1`), at most 16.",
		Schema:  `{"type": "array", "minItems": 1, "items": {"type": "string"}}`,
		View:    "TLSALPN",
	},
	{
		Path: "detail.TLS.Versions", Key: "KeyVersions", Type: StringArray, Go: "[]string",
		Present: "when known",
		Doc:     "ClientHello: the versions offered (supported_versions without GREASE values, or the legacy version when the extension is absent), in order; ServerHello: the selected one. Names: `TLS 1.3`, `TLS 1.2`, `TLS 1.1`, `TLS 1.0`, `SSL 3.0`, `DTLS 1.2`, ..., `unknown`.",
		Schema:  `{"type": "array", "minItems": 1, "items": {"type": "string"}}`,
		View:    "TLSVersions",
	},
	{
		Path: "detail.TLS.VersionCodes", Key: "KeyVersionCodes", Type: NumberArray, Go: "[]uint16",
		Present: "when known",
		Doc:     "The same versions as numbers (772 = 0x0304 for TLS 1.3).",
		Schema:  `{"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/uint16"}}`,
		View:    "TLSVersionCodes",
	},
	{
		Path: "detail.TLS.CipherSuite", Key: "KeyCipherSuite", Type: Number, Go: "*uint16",
		Present: "ServerHello",
		Doc:     "The selected cipher suite (4865 = 0x1301 TLS_AES_128_GCM_SHA256).",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "TLSCipher",
	},
	{
		Path: "detail.TLS.JA4", Key: "KeyJA4", Type: String, Go: "string",
		Present: "complete ClientHello",
		Doc:     "The [JA4](https://github.com/FoxIO-LLC/ja4) fingerprint of the ClientHello (`t13d1516h2_8daaf6152771_e5627efa2ab1`); absent when the hello is not wholly in the segment.",
		Schema:  `{"type": "string", "pattern": "^[tqd][0-9s][0-9a-z][di][0-9]{2}[0-9]{2}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$"}`,
		View:    "TLSJA4",
	},
	{
		Path: "detail.DHCP", Key: "KeyDHCP", Type: Object, Go: "*DHCPInfo",
		GoDoc:   "DHCPInfo is detail.DHCP: a DHCPv4 or BOOTP message.",
		Present: "DHCP",
		Doc:     "See [DHCP](#dhcp).",
		Def:     "dhcp", Table: "dhcp",
	},
	{
		Path: "detail.DHCP.Op", Key: "KeyOp", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`request` (BOOTREQUEST, from a client) or `reply`.",
		Schema:  `{"enum": ["request", "reply"]}`,
		View:    "DHCPOp",
	},
	{
		Path: "detail.DHCP.MessageType", Key: "KeyMessageType", Type: String, Go: "string",
		Present: "DHCP (option 53)",
		Doc:     "`DISCOVER`, `OFFER`, `REQUEST`, `DECLINE`, `ACK`, `NAK`, `RELEASE`, `INFORM`, ... (`UNKNOWN` when unassigned). Absent for plain BOOTP.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "DHCPType",
	},
	{
		Path: "detail.DHCP.MessageTypeCode", Key: "KeyMessageTypeCode", Type: Number, Go: "*uint8",
		Present: "DHCP (option 53)",
		Doc:     "Option 53 as a number (1 DISCOVER ... 8 INFORM).",
		Schema:  `{"$ref": "#/$defs/uint8"}`,
		View:    "DHCPTypeCode",
	},
	{
		Path: "detail.DHCP.XID", Key: "KeyXID", Type: Number, Required: true, Go: "uint32",
		Present: "always",
		Doc:     "Transaction id.",
		Schema:  `{"$ref": "#/$defs/uint32"}`,
		View:    "DHCPXID",
	},
	{
		Path: "detail.DHCP.ClientMAC", Key: "KeyClientMAC", Type: String, Go: "string",
		Present: "a hardware address",
		Doc:     "chaddr (its first `hlen` bytes), lower-case hex, colon-separated.",
		Schema:  `{"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2})*$"}`,
		View:    "DHCPClientMAC",
	},
	{
		Path: "detail.DHCP.ClientIP", Key: "KeyClientIP", Type: String, Go: "string",
		Present: "when not 0.0.0.0",
		Doc:     "ciaddr: the client's address when it has one.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPClientIP",
	},
	{
		Path: "detail.DHCP.YourIP", Key: "KeyYourIP", Type: String, Go: "string",
		Present: "when not 0.0.0.0",
		Doc:     "yiaddr: the address offered or assigned.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPYourIP",
	},
	{
		Path: "detail.DHCP.ServerIP", Key: "KeyServerIP", Type: String, Go: "string",
		Present: "when not 0.0.0.0",
		Doc:     "siaddr: the next server (boot server).",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPServerIP",
	},
	{
		Path: "detail.DHCP.GatewayIP", Key: "KeyGatewayIP", Type: String, Go: "string",
		Present: "when not 0.0.0.0",
		Doc:     "giaddr: the relay agent.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPGatewayIP",
	},
	{
		Path: "detail.DHCP.RequestedIP", Key: "KeyRequestedIP", Type: String, Go: "string",
		Present: "option 50",
		Doc:     "The address the client asks for.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPRequestedIP",
	},
	{
		Path: "detail.DHCP.ServerID", Key: "KeyServerID", Type: String, Go: "string",
		Present: "option 54",
		Doc:     "The DHCP server identifier.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPServerID",
	},
	{
		Path: "detail.DHCP.Hostname", Key: "KeyHostname", Type: String, Go: "string",
		Present: "option 12",
		Doc:     "The client's host name.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "DHCPHostname",
	},
	{
		Path: "detail.DHCP.VendorClass", Key: "KeyVendorClass", Type: String, Go: "string",
		Present: "option 60",
		Doc:     "The vendor class identifier (`MSFT 5.0`, `udhcp 1.36.1`, `android-dhcp-13`).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "DHCPVendorClass",
	},
	{
		Path: "detail.DHCP.ParameterRequestList", Key: "KeyParamRequest", Type: NumberArray, Go: "[]uint16",
		Present: "option 55",
		Doc:     "The option codes the client asks for, in order.",
		Schema:  `{"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/uint8"}}`,
		View:    "DHCPParams",
	},
	{
		Path: "detail.DHCP.LeaseTime", Key: "KeyLeaseTime", Type: Number, Go: "*uint32",
		Present: "option 51",
		Doc:     "Lease time in seconds.",
		Schema:  `{"$ref": "#/$defs/uint32"}`,
		View:    "DHCPLeaseTime",
	},
	{
		Path: "detail.DHCP.SubnetMask", Key: "KeySubnetMask", Type: String, Go: "string",
		Present: "option 1",
		Doc:     "Subnet mask.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPSubnetMask",
	},
	{
		Path: "detail.DHCP.Router", Key: "KeyRouter", Type: String, Go: "string",
		Present: "option 3",
		Doc:     "The first router (default gateway).",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "DHCPRouter",
	},
	{
		Path: "detail.DHCP.DNS", Key: "KeyDNS", Type: StringArray, Go: "[]string",
		Present: "option 6",
		Doc:     "DNS server addresses, in order.",
		Schema:  `{"type": "array", "minItems": 1, "items": {"type": "string", "format": "ipv4"}}`,
		View:    "DHCPDNS",
	},
	{
		Path: "detail.NTP", Key: "KeyNTP", Type: Object, Go: "*NTPInfo",
		GoDoc:   "NTPInfo is detail.NTP: an NTP message.",
		Present: "NTP",
		Doc:     "See [NTP](#ntp).",
		Def:     "ntp", Table: "ntp",
	},
	{
		Path: "detail.NTP.Version", Key: "KeyNTPVersion", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "NTP version, 1 to 4.",
		Schema:  `{"type": "integer", "minimum": 1, "maximum": 4}`,
		View:    "NTPVersion",
	},
	{
		Path: "detail.NTP.Mode", Key: "KeyMode", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`client`, `server`, `symmetric active`, `symmetric passive`, `broadcast`, `control`, `private` or `reserved`.",
		Schema:  `{"enum": ["reserved", "symmetric active", "symmetric passive", "client", "server", "broadcast", "control", "private"]}`,
		View:    "NTPMode",
	},
	{
		Path: "detail.NTP.ModeCode", Key: "KeyModeCode", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "The mode as a number, 0 to 7 (3 client, 4 server).",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 7}`,
		View:    "NTPModeCode",
	},
	{
		Path: "detail.NTP.LeapIndicator", Key: "KeyLeapIndicator", Type: Number, Required: true, Go: "uint8",
		Present: "always",
		Doc:     "0 no warning, 1 last minute has 61 seconds, 2 last minute has 59 seconds, 3 unsynchronized.",
		Schema:  `{"type": "integer", "minimum": 0, "maximum": 3}`,
		View:    "NTPLeap",
	},
	{
		Path: "detail.NTP.Stratum", Key: "KeyStratum", Type: Number, Go: "*uint8",
		Present: "modes 0 to 5",
		Doc:     "0 unspecified or kiss-o'-death, 1 primary, 2 to 15 secondary, 16 unsynchronized.",
		Schema:  `{"$ref": "#/$defs/uint8"}`,
		View:    "NTPStratum",
	},
	{
		Path: "detail.NTP.Poll", Key: "KeyPoll", Type: Number, Go: "*int8",
		Present: "modes 0 to 5",
		Doc:     "Poll interval, log2 seconds.",
		Schema:  `{"type": "integer", "minimum": -128, "maximum": 127}`,
		View:    "NTPPoll",
	},
	{
		Path: "detail.NTP.Precision", Key: "KeyPrecision", Type: Number, Go: "*int8",
		Present: "modes 0 to 5",
		Doc:     "Clock precision, log2 seconds (`-20` is about a microsecond).",
		Schema:  `{"type": "integer", "minimum": -128, "maximum": 127}`,
		View:    "NTPPrecision",
	},
	{
		Path: "detail.NTP.ReferenceID", Key: "KeyReferenceID", Type: String, Go: "string",
		Present: "modes 0 to 5, when not empty",
		Doc:     "Stratum 2 and above: the upstream server's IPv4 address (dotted); stratum 0 and 1: the ASCII code (`GPS`, `PPS`, a kiss code such as `RATE`).",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "NTPRefID",
	},
	{
		Path: "detail.NTP.TransmitTime", Key: "KeyTransmitTime", Type: String, Go: "string",
		Present: "modes 0 to 5, when not zero",
		Doc:     "The transmit timestamp in RFC 3339, UTC, to the nanosecond (NTP era 0: 1900 to 2036).",
		Schema:  `{"type": "string", "format": "date-time"}`,
		View:    "NTPTransmit",
	},
	{
		Path: "detail.ARP", Key: "KeyARP", Type: Object, Go: "*ARPInfo",
		GoDoc:   "ARPInfo is detail.ARP: an ARP or RARP message.",
		Present: "ARP",
		Doc:     "See [ARP](#arp).",
		Def:     "arp", Table: "arp",
	},
	{
		Path: "detail.ARP.Operation", Key: "KeyOperation", Type: String, Required: true, Go: "string",
		Present: "always",
		Doc:     "`request`, `reply`, `reverse-request`, `reverse-reply` (RARP), `inarp-request`, `inarp-reply`, ... or `unknown`.",
		Schema:  `{"type": "string", "minLength": 1}`,
		View:    "ARPOp",
	},
	{
		Path: "detail.ARP.OperationCode", Key: "KeyOperationCode", Type: Number, Required: true, Go: "uint16",
		Present: "always",
		Doc:     "The operation as a number (1 request, 2 reply).",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "ARPOpCode",
	},
	{
		Path: "detail.ARP.HardwareType", Key: "KeyHardwareType", Type: Number, Required: true, Go: "uint16",
		Present: "always",
		Doc:     "1 for Ethernet.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "ARPHWType",
	},
	{
		Path: "detail.ARP.ProtocolType", Key: "KeyProtocolType", Type: Number, Required: true, Go: "uint16",
		Present: "always",
		Doc:     "2048 (0x0800) for IPv4.",
		Schema:  `{"$ref": "#/$defs/uint16"}`,
		View:    "ARPProtoType",
	},
	{
		Path: "detail.ARP.SenderMAC", Key: "KeySenderMAC", Type: String, Go: "string",
		Present: "Ethernet/IPv4",
		Doc:     "Sender hardware address.",
		Schema:  `{"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2})*$"}`,
		View:    "ARPSenderMAC",
	},
	{
		Path: "detail.ARP.SenderIP", Key: "KeySenderIP", Type: String, Go: "string",
		Present: "Ethernet/IPv4",
		Doc:     "Sender protocol address.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "ARPSenderIP",
	},
	{
		Path: "detail.ARP.TargetMAC", Key: "KeyTargetMAC", Type: String, Go: "string",
		Present: "Ethernet/IPv4",
		Doc:     "Target hardware address (`00:00:00:00:00:00` in a request).",
		Schema:  `{"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2})*$"}`,
		View:    "ARPTargetMAC",
	},
	{
		Path: "detail.ARP.TargetIP", Key: "KeyTargetIP", Type: String, Go: "string",
		Present: "Ethernet/IPv4",
		Doc:     "Target protocol address: the address asked for in a request.",
		Schema:  `{"type": "string", "format": "ipv4"}`,
		View:    "ARPTargetIP",
	},
	{
		Path: "detail.Truncated", Key: "KeyTruncated", Type: Bool, Go: "bool",
		Present: "when true",
		Doc:     "`true` when the capture holds fewer bytes than were on the wire (snaplen) or than the innermost headers claim. Never `false`: absent instead.",
		Schema:  `{"const": true}`,
		View:    "Truncated",
	},
	{
		Path: "detail.DecodeError", Key: "KeyDecodeError", Type: String, Go: "string",
		Present: "when decoding stopped early",
		Doc:     "Why: `truncated` (the buffer ends inside a header), `bad_length` (a length field disagrees with the packet), `bad_version`, `unsupported`. The fields before the problem are still filled in.",
		Schema:  `{"enum": ["truncated", "bad_length", "bad_version", "unsupported"]}`,
		View:    "DecodeError",
	},
}

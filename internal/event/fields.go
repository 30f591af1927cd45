package event

// The field names of the event JSON are a public contract (docs/events.md,
// docs/event.schema.json). They are defined once, with their types, docs and
// JSON Schema, in internal/event/schema; `go generate ./internal/event/...`
// writes the Key constants, Leaves and the View's field table from there into
// fields_gen.go.

//go:generate go run ./gen

// Version is the value of the envelope "version" key.
const Version = "0"

// Kind is the JSON type of a leaf field.
type Kind uint8

// Leaf kinds.
const (
	KindString Kind = iota
	KindNumber
	KindBool
	KindStringArray // array of strings
	KindNumberArray // array of numbers
)

// Leaf is one leaf field of a packet event, as a path from the event root.
// Array-of-object fields (detail.Tunnel.Options) list their members with the
// array's path as prefix, as EventBridge patterns address them.
type Leaf struct {
	Path []string
	Kind Kind
}

// Package namestest holds the named cases of each rule in internal/names, so
// that internal/config and the component that owns the concept test the same
// inputs against the same reasons: one table, both sides.
package namestest

import "strings"

// Case is one input and what the rule says of it: Err is "" when the input
// is valid, else the whole reason (the error text of the names function).
type Case struct {
	Name string
	In   string
	Err  string
}

// Names are cases of names.Name (sources, targets, rules, API keys).
var Names = []Case{
	{"letters", "archive", ""},
	{"digits dash underscore", "a-1_b", ""},
	{"starts with digit", "1st", ""},
	{"longest", strings.Repeat("n", 64), ""},
	{"too long", strings.Repeat("n", 65), `invalid name "` + strings.Repeat("n", 65) + `": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
	{"starts with dash", "-a", `invalid name "-a": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
	{"starts with underscore", "_a", `invalid name "_a": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
	{"space", "bad name", `invalid name "bad name": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
	{"dot", "a.b", `invalid name "a.b": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
	{"wildcard", "a*", `invalid name "a*": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
	{"non-ASCII letter", "café", `invalid name "café": use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)`},
}

// Channels are cases of names.Channel (a live target's channel, a publish).
// Every In starts with '/': config adds a missing one before checking.
var Channels = []Case{
	{"one segment", "/all", ""},
	{"two segments", "/packets/all", ""},
	{"eight segments", "/a/b/c/d/e/f/g/h", ""},
	{"longest segment", "/" + strings.Repeat("s", 64), ""},
	{"nine segments", "/a/b/c/d/e/f/g/h/i", `invalid channel "/a/b/c/d/e/f/g/h/i": more than 8 segments`},
	{"segment too long", "/" + strings.Repeat("s", 65), `invalid channel "/` + strings.Repeat("s", 65) + `": segment "` + strings.Repeat("s", 65) + `" (1 to 64 letters, digits, '-' and '_')`},
	{"root only", "/", `invalid channel "/": segment "" (1 to 64 letters, digits, '-' and '_')`},
	{"empty segment", "/a//b", `invalid channel "/a//b": segment "" (1 to 64 letters, digits, '-' and '_')`},
	{"trailing slash", "/a/", `invalid channel "/a/": segment "" (1 to 64 letters, digits, '-' and '_')`},
	{"space", "/a b", `invalid channel "/a b": segment "a b" (1 to 64 letters, digits, '-' and '_')`},
	{"wildcard", "/packets/*", `invalid channel "/packets/*": segment "*" (1 to 64 letters, digits, '-' and '_')`},
}

// Subjects are cases of names.Subject (a nats target's subject).
var Subjects = []Case{
	{"one token", "events", ""},
	{"tokens", "events.udp.syslog", ""},
	{"dash and underscore", "a-b.c_d", ""},
	{"empty", "", "required: the subject to publish to"},
	{"empty token", "a..b", `invalid subject "a..b": empty token`},
	{"trailing dot", "a.", `invalid subject "a.": empty token`},
	{"star token", "a.*", `invalid subject "a.*": wildcards cannot be published to`},
	{"full wildcard", "a.>", `invalid subject "a.>": wildcards cannot be published to`},
	{"star inside token", "a.b*c", `invalid subject "a.b*c": whitespace or wildcard characters`},
	{"space", "a b", `invalid subject "a b": whitespace or wildcard characters`},
	{"tab", "a\tb", `invalid subject "a\tb": whitespace or wildcard characters`},
}

// Paths are cases of names.ParsePath (input_path and input_paths values).
var Paths = []Case{
	{"root", "$", ""},
	{"key", "$.detail", ""},
	{"keys", "$.detail.Source.IP", ""},
	{"index", "$.resources[0]", ""},
	{"index after index", "$.a[1][2]", ""},
	{"at and dash", "$.detail.@x-y_z", ""},
	{"huge index", "$.resources[99999999999999999999999]", ""},
	{"many steps", "$" + strings.Repeat(".a", 100), ""},
	{"no dollar", "detail", `invalid path "detail": must start with $ (a JSON path such as $.detail.Source.IP)`},
	{"empty", "", `invalid path "": must start with $ (a JSON path such as $.detail.Source.IP)`},
	{"double dot", "$.detail..x", `invalid path "$.detail..x": empty or invalid key at offset 9 (keys are letters, digits, '_', '@' and '-')`},
	{"wildcard", "$.detail.*", `invalid path "$.detail.*": empty or invalid key at offset 9 (keys are letters, digits, '_', '@' and '-')`},
	{"unclosed index", "$.resources[0", `invalid path "$.resources[0": want [index] at offset 11`},
	{"negative index", "$.a[-1]", `invalid path "$.a[-1]": want [index] at offset 3`},
	{"quoted key", "$['a']", `invalid path "$['a']": want [index] at offset 1`},
	{"space", "$.a b", `invalid path "$.a b": unexpected ' ' at offset 3 (want .key or [index])`},
}

// Patterns are invalid event patterns and the reason both internal/config
// (at rules[i].pattern) and internal/rule (rule.Error.Reason) give for them:
// pattern.CompileError.Detail. Every In is a JSON object.
var Patterns = []Case{
	{"whole document", `{}`, "empty object"},
	{"not an array", `{"a":"b"}`, "a: a field's value must be an array of values or an object"},
	{"unknown operator", `{"a":[{"nope":1}]}`, `a[0].nope: unknown operator "nope"`},
	{"numeric bound", `{"detail":{"Port":[{"numeric":[">","x"]}]}}`, "detail.Port[0].numeric: numeric bound must be a number"},
}

// Listens are cases of names.Listen (http.listen, nats.listen, a source's
// listen addresses).
var Listens = []Case{
	{"IPv4", "127.0.0.1:8080", ""},
	{"IPv6", "[::1]:8080", ""},
	{"localhost", "localhost:8080", ""},
	{"all interfaces", ":8080", ""},
	{"any free port", "127.0.0.1:0", ""},
	{"highest port", "127.0.0.1:65535", ""},
	{"empty", "", "required: an address such as 127.0.0.1:8080"},
	{"no port", "127.0.0.1", `invalid address "127.0.0.1": want host:port, such as 127.0.0.1:5514 or [::1]:5514`},
	{"unbracketed IPv6", "::1:80", `invalid address "::1:80": want host:port, such as 127.0.0.1:5514 or [::1]:5514`},
	{"host name", "example.com:80", `invalid address "example.com:80": host must be an IP address, localhost or empty`},
	{"port too large", "127.0.0.1:65536", `invalid address "127.0.0.1:65536": port must be a number from 0 to 65535`},
	{"negative port", "127.0.0.1:-1", `invalid address "127.0.0.1:-1": port must be a number from 0 to 65535`},
	{"service name", "127.0.0.1:http", `invalid address "127.0.0.1:http": port must be a number from 0 to 65535`},
}

// Scopes are cases of names.Scope (a live API key's scopes).
var Scopes = []Case{
	{"publish", "publish", ""},
	{"subscribe", "subscribe", ""},
	{"admin", "admin", ""},
	{"unknown", "write", `invalid value "write" (want one of publish, subscribe, admin)`},
	{"capitalised", "Admin", `invalid value "Admin" (want one of publish, subscribe, admin)`},
	{"empty", "", `invalid value "" (want one of publish, subscribe, admin)`},
}

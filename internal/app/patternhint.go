package app

import (
	"bytes"
	"fmt"

	"github.com/wirebridge/wirebridge/pattern"
)

// patternExample is the pattern the hint for a non-JSON pattern shows: what
// `tcp port 80` means, written as an EventBridge event pattern.
const patternExample = `{"detail":{"Protocol":["tcp"],"Destination":{"Port":[80]}}}`

// compilePatternArg compiles the pattern given to a flag (--pattern,
// --filter). Text that is not a JSON object — a tcpdump/BPF filter such as
// `tcp port 80`, most often — gets an error saying what patterns are, with an
// example, instead of the JSON parser's complaint alone.
func compilePatternArg(flagName string, src []byte) (*pattern.Pattern, error) {
	p, err := pattern.Compile(src)
	if err != nil {
		return nil, patternArgError(flagName, src, err)
	}
	return p, nil
}

// patternArgError adds the hint to err when src is not a JSON object.
func patternArgError(flagName string, src []byte, err error) error {
	if t := bytes.TrimSpace(src); len(t) > 0 && t[0] == '{' {
		return err
	}
	return fmt.Errorf("%w\n%s takes an EventBridge event pattern (JSON), not a tcpdump/BPF filter; for example:\n  %s '%s'\n(docs/patterns.md lists what a pattern can say)",
		err, flagName, flagName, patternExample)
}

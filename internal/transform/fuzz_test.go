package transform

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzNewTransformer: any input_path, one input_paths entry and any template
// are either refused with TransformErrors or give a transformer that
// transforms the example event without panicking, into valid JSON when the
// template is a JSON object or array (internal/config relies on
// NewTransformer to refuse everything that cannot run).
func FuzzNewTransformer(f *testing.F) {
	f.Add("", "v", "$.detail.state", `{"s": <v>, "r": "<aws.events.rule-name>"}`)
	f.Add("$.detail", "", "", "")
	f.Add("", "v", "$.resources[0]", `<v> is <aws.events.event.ingestion-time>`)
	f.Add("", "e", "$", `[<aws.events.event>, <e>, "<e>"]`)
	f.Fuzz(func(t *testing.T, inputPath, name, path, template string) {
		var paths map[string]string
		if name != "" {
			paths = map[string]string{name: path}
		}
		tr, err := NewTransformer(inputPath, paths, template)
		if err != nil {
			if len(Errors(err)) == 0 {
				t.Fatalf("error %v holds no TransformError", err)
			}
			return
		}
		if tr == nil {
			return
		}
		out := tr.Append(nil, &Input{Event: []byte(ec2Event), Rule: "r", IngestionTime: time.Unix(0, 0)})
		if i := firstNonBlank(template); inputPath == "" && i < len(template) && (template[i] == '{' || template[i] == '[') && !json.Valid(out) {
			t.Fatalf("template %q gave invalid JSON %q", template, out)
		}
	})
}

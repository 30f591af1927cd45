package rule

import "github.com/wirebridge/wirebridge/internal/transform"

// The input transformer lives in internal/transform, a leaf package that
// internal/config checks rules with too; these names keep the rule
// package's API for the pipeline.

// Transformer is a rule's input transformer (transform.Transformer).
type Transformer = transform.Transformer

// TransformError is an input-transformer error at load (transform.TransformError).
type TransformError = transform.TransformError

// Input is what a transformer reads besides the event (transform.Input).
type Input = transform.Input

// NewTransformer is transform.NewTransformer.
func NewTransformer(inputPath string, inputPaths map[string]string, template string) (*Transformer, error) {
	return transform.NewTransformer(inputPath, inputPaths, template)
}

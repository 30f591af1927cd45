package config

import (
	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/kinds"
)

// testKinds is the registry the tests parse with: every kind of the binary.
var testKinds = kinds.Default()

// specOf returns a target's spec as a T, or the zero T when it is another kind's.
func specOf[T component.TargetSpec](t Target) T {
	s, _ := t.Spec.(T)
	return s
}

// srcSpec returns a source's spec as a T, or the zero T when it is another kind's.
func srcSpec[T component.SourceSpec](s Source) T {
	sp, _ := s.Spec.(T)
	return sp
}

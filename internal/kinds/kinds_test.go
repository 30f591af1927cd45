package kinds

import (
	"reflect"
	"testing"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// TestKindsComplete: every kind has a description, a spec of its own type,
// a constructor (and, for a target, its capabilities); type names are unique
// and each names its own kind.
func TestKindsComplete(t *testing.T) {
	r := Default()
	specTypes := map[reflect.Type]string{}
	seen := map[string]bool{}
	check := func(role, typ, desc string, s any, hasNew bool) {
		t.Helper()
		switch {
		case typ == "" || seen[role+typ]:
			t.Errorf("%s type %q is empty or listed twice", role, typ)
		case desc == "":
			t.Errorf("%s %s has no description", role, typ)
		case !hasNew:
			t.Errorf("%s %s has no constructor", role, typ)
		case s == nil || reflect.TypeOf(s).Kind() != reflect.Pointer:
			t.Errorf("%s %s: NewSpec returns %T, want a pointer to a struct", role, typ, s)
		case specTypes[reflect.TypeOf(s)] != "":
			t.Errorf("%s %s shares its spec type with %s", role, typ, specTypes[reflect.TypeOf(s)])
		}
		seen[role+typ] = true
		specTypes[reflect.TypeOf(s)] = typ
	}
	for _, e := range r.Sources {
		check("source", e.Type, e.Kind.Description, e.Kind.NewSpec(), e.Kind.New != nil)
		if got := r.SourceType(e.Kind.NewSpec()); got != e.Type {
			t.Errorf("SourceType of the %s spec = %q", e.Type, got)
		}
		if k, ok := r.Source(e.Type); !ok || k != e.Kind {
			t.Errorf("Source(%q) does not return its kind", e.Type)
		}
	}
	for _, e := range r.Targets {
		check("target", e.Type, e.Kind.Description, e.Kind.NewSpec(), e.Kind.New != nil && e.Kind.Caps != nil)
		if got := r.TargetType(e.Kind.NewSpec()); got != e.Type {
			t.Errorf("TargetType of the %s spec = %q", e.Type, got)
		}
		if k, ok := r.Target(e.Type); !ok || k != e.Kind {
			t.Errorf("Target(%q) does not return its kind", e.Type)
		}
	}
	for _, e := range r.Mirrors {
		check("mirror", e.Provider, e.Kind.Description, e.Kind.NewSpec(), e.Kind.New != nil)
		if got := r.MirrorProvider(e.Kind.NewSpec()); got != e.Provider {
			t.Errorf("MirrorProvider of the %s spec = %q", e.Provider, got)
		}
		if k, ok := r.Mirror(e.Provider); !ok || k != e.Kind {
			t.Errorf("Mirror(%q) does not return its kind", e.Provider)
		}
	}
	if _, ok := r.Mirror("nope"); ok {
		t.Error("Mirror(nope) found a kind")
	}
	if _, ok := r.Target("nope"); ok {
		t.Error("Target(nope) found a kind")
	}
	var none *component.Registry
	if _, ok := none.Source("udp"); ok {
		t.Error("a nil registry has a kind")
	}
}

// TestDefaultsAreStable: SetDefaults sets the same spec whatever was there
// before (the decoder calls it on a new spec, code may call it again), and
// validating defaults never panics.
func TestDefaultsAreStable(t *testing.T) {
	r := Default()
	var specs []interface {
		SetDefaults()
		Validate(*spec.Checker)
	}
	for _, e := range r.Sources {
		specs = append(specs, e.Kind.NewSpec())
	}
	for _, e := range r.Targets {
		specs = append(specs, e.Kind.NewSpec())
	}
	for _, e := range r.Mirrors {
		specs = append(specs, e.Kind.NewSpec())
	}
	for _, s := range specs {
		t.Run(reflect.TypeOf(s).String(), func(t *testing.T) {
			s.SetDefaults()
			first := reflect.ValueOf(s).Elem().Interface()
			s.SetDefaults()
			if !reflect.DeepEqual(first, reflect.ValueOf(s).Elem().Interface()) {
				t.Errorf("SetDefaults twice differs: %+v then %+v", first, s)
			}
			s.Validate(&spec.Checker{})
		})
	}
}

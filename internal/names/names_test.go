package names_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/wirebridge/wirebridge/internal/names"
	"github.com/wirebridge/wirebridge/internal/names/namestest"
)

func run(t *testing.T, cases []namestest.Case, check func(string) error) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			err := check(c.In)
			switch {
			case c.Err == "" && err != nil:
				t.Fatalf("%q: unexpected error %v", c.In, err)
			case c.Err != "" && err == nil:
				t.Fatalf("%q: accepted, want %q", c.In, c.Err)
			case c.Err != "" && err.Error() != c.Err:
				t.Fatalf("%q:\n got %s\nwant %s", c.In, err, c.Err)
			}
		})
	}
}

func TestName(t *testing.T)    { run(t, namestest.Names, names.Name) }
func TestChannel(t *testing.T) { run(t, namestest.Channels, names.Channel) }
func TestSubject(t *testing.T) { run(t, namestest.Subjects, names.Subject) }
func TestListen(t *testing.T)  { run(t, namestest.Listens, names.Listen) }
func TestScope(t *testing.T)   { run(t, namestest.Scopes, names.Scope) }

func TestParsePath(t *testing.T) {
	run(t, namestest.Paths, func(s string) error { _, err := names.ParsePath(s); return err })
}

func TestParsePathSteps(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []names.PathStep
	}{
		{"root", "$", nil},
		{"keys", "$.detail.Source", []names.PathStep{{Key: "detail"}, {Key: "Source"}}},
		{"index", "$.resources[3]", []names.PathStep{{Key: "resources"}, {Index: 3}}},
		{"huge index selects nothing", "$[99999999999999999999]", []names.PathStep{{Index: int(^uint(0) >> 1)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := names.ParsePath(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("steps %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("steps %+v, want %+v", got, c.want)
				}
			}
		})
	}
}

func TestSubscription(t *testing.T) {
	cases := []namestest.Case{
		{Name: "channel", In: "/packets/all"},
		{Name: "wildcard last", In: "/packets/*"},
		{Name: "wildcard alone", In: "/*"},
		{Name: "wildcard not last", In: "/*/a", Err: `invalid channel "/*/a": segment "*" (1 to 64 letters, digits, '-' and '_'; '*' only last)`},
		{Name: "no slash", In: "packets", Err: `invalid channel "packets": must start with / (a path such as /packets/all)`},
	}
	run(t, cases, names.Subscription)
	if err := names.Subscription("x"); !errors.Is(err, names.ErrBadChannel) {
		t.Fatalf("error %v does not wrap ErrBadChannel", err)
	}
}

// The regular expressions internal/config used before these rules had one
// implementation: the fuzz targets check that the rules accept exactly what
// they accepted, so that no configuration that validated stops validating.
var (
	oldName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	oldPath    = regexp.MustCompile(`^\$(\.[A-Za-z0-9_@\-]+|\[[0-9]+\])*$`)
	oldChannel = regexp.MustCompile(`^(/[A-Za-z0-9_-]{1,64}){1,8}$`)
)

func FuzzName(f *testing.F) {
	for _, c := range namestest.Names {
		f.Add(c.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := names.Name(s); (err == nil) != oldName.MatchString(s) {
			t.Fatalf("%q: Name says %v, the old rule %v", s, err, oldName.MatchString(s))
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, c := range namestest.Paths {
		f.Add(c.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := names.ParsePath(s)
		if (err == nil) != oldPath.MatchString(s) {
			t.Fatalf("%q: ParsePath says %v, the old rule %v", s, err, oldPath.MatchString(s))
		}
		for _, st := range steps {
			if st.Key == "" && st.Index < 0 {
				t.Fatalf("%q: negative index in %+v", s, steps)
			}
		}
	})
}

func FuzzChannel(f *testing.F) {
	for _, c := range namestest.Channels {
		f.Add(c.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := names.Channel(s); (err == nil) != oldChannel.MatchString(s) {
			t.Fatalf("%q: Channel says %v, the old rule %v", s, err, oldChannel.MatchString(s))
		}
		if names.Channel(s) == nil && names.Subscription(s) != nil {
			t.Fatalf("%q: a channel one cannot subscribe to", s)
		}
	})
}

func FuzzListen(f *testing.F) {
	for _, c := range namestest.Listens {
		f.Add(c.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = names.Listen(s) // never panics
	})
}

func FuzzSubject(f *testing.F) {
	for _, c := range namestest.Subjects {
		f.Add(c.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = names.Subject(s) // never panics
	})
}

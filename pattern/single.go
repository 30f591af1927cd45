package pattern

import "sync"

type singleCache struct {
	once sync.Once
	m    *Matcher
}

func (p *Pattern) matcher() *Matcher {
	p.single.once.Do(func() {
		p.single.m = NewMatcher()
		p.single.m.Add("", p)
	})
	return p.single.m
}

// MatchJSON reports whether the pattern matches the JSON event.
func (p *Pattern) MatchJSON(event []byte) (bool, error) {
	var buf [1]string
	r, err := p.matcher().MatchJSON(event, buf[:0])
	return len(r) > 0, err
}

// Match reports whether the pattern matches the in-memory event e.
func (p *Pattern) Match(e Event) bool {
	var buf [1]string
	return len(p.matcher().Match(e, buf[:0])) > 0
}

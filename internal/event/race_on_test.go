//go:build race

package event

// raceEnabled: the race detector changes allocation counts.
const raceEnabled = true

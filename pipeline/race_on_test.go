//go:build race

package pipeline

// raceEnabled: the test binary runs with the race detector.
const raceEnabled = true

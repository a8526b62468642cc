//go:build race

package wsjson

// raceEnabled is set when the race detector is on: it makes sync.Pool drop
// items at random and so adds allocations the allocation tests must not see.
const raceEnabled = true

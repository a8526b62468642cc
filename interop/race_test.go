//go:build race

package interop

// raceEnabled: the race detector slows compression down several times, so
// the deflate tests run their 16 MiB scenario once per group of cases.
const raceEnabled = true

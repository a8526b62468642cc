package bufpool

import (
	"sync"
	"testing"
)

// For hands back the one pool per size, from its cache or past it,
// and allocates nothing once a size has been seen.
func TestForAllocs(t *testing.T) {
	sizes := []int{4 << 10, 1000, 1001, 1002, 1003, 1004, 1005}
	first := make(map[int]*sync.Pool)
	for _, n := range sizes {
		first[n] = For(n)
	}
	for _, n := range sizes {
		if p := For(n); p != first[n] {
			t.Fatalf("For(%d) gave a second pool", n)
		}
		if b := For(n).Get().(*[]byte); len(*b) != n {
			t.Fatalf("For(%d) gave a %d-byte buffer", n, len(*b))
		}
	}
	if raceEnabled {
		return // the race detector adds allocations
	}
	for _, n := range sizes {
		if a := testing.AllocsPerRun(100, func() { For(n) }); a != 0 {
			t.Fatalf("For(%d): %v allocations", n, a)
		}
	}
}

package inflate

import (
	"math/rand/v2"
	"testing"

	"github.com/wspipe/wspipe/internal/inflate/inflatetest"
)

// randomCode returns code lengths of a random complete code over n
// symbols, with lengths up to 15, by splitting leaves of a tree.
func randomCode(r *rand.Rand, n int) []uint8 {
	lens := []uint8{1, 1}
	for len(lens) < n {
		i := r.IntN(len(lens))
		if lens[i] == maxCodeLen {
			continue
		}
		lens[i]++
		lens = append(lens, lens[i])
	}
	r.Shuffle(len(lens), func(i, j int) { lens[i], lens[j] = lens[j], lens[i] })
	return lens
}

const sentinel = entry(0xdeadbeef)

// checkTable walks every bit pattern of up to 15 bits through t and
// checks that it decodes as the canonical code of lens says, and that no
// reachable slot is left from before.
func checkTable(t *testing.T, tab []entry, lens []uint8, syms []entry, primary uint) {
	t.Helper()
	code := inflatetest.Canonical(lens)
	for s, l := range lens {
		if l == 0 {
			continue
		}
		c := code.Codes[s]
		// Every 15-bit pattern starting with the reversed code.
		rc := reverse(uint(c), uint(l))
		for hi := uint(0); hi < 1<<(15-l); hi++ {
			bits := rc | hi<<l
			e := tab[bits&(1<<primary-1)]
			if e == sentinel {
				t.Fatalf("symbol %d: primary slot not written", s)
			}
			if e&flagSub != 0 {
				e = tab[e.value()+(bits>>primary)&(1<<e.extra()-1)]
			}
			if e == sentinel || e != syms[s]|entry(l) {
				t.Fatalf("symbol %d (length %d): entry %#x, want %#x", s, l, e, syms[s]|entry(l))
			}
		}
	}
}

func TestBuildComplete(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var lit litTable
	var dist distTable
	for range 3000 {
		buildAndCheck(t, lit[:], randomCode(r, 2+r.IntN(maxLit-1)), litSyms[:], litBits)
		buildAndCheck(t, dist[:], randomCode(r, 2+r.IntN(maxDist-1)), distSyms[:], distBits)
	}
}

// buildAndCheck builds a table over sentinels and checks it.
func buildAndCheck(t *testing.T, tab []entry, lens []uint8, syms []entry, primary uint) {
	t.Helper()
	for j := range tab {
		tab[j] = sentinel
	}
	if err := build(tab, lens, syms, primary); err != nil {
		t.Fatalf("%v for %v", err, lens)
	}
	checkTable(t, tab, lens, syms, primary)
}

// deepCode returns the lengths of a complete code with as many deep
// subtables as n symbols allow: subtables of the given depths below a
// primary index of primary bits (each a chain of codes, one of each length
// and two of the longest), and the fewest short codes to fill the rest.
func deepCode(primary int, depths []int) []uint8 {
	var lens []uint8
	for _, d := range depths {
		for l := primary + 1; l <= primary+d; l++ {
			lens = append(lens, uint8(l))
		}
		lens = append(lens, uint8(primary+d))
	}
	rest := 1<<primary - len(depths)
	for b := 0; b < primary; b++ {
		if rest&(1<<b) != 0 {
			lens = append(lens, uint8(primary-b))
		}
	}
	return lens
}

// The tables hold the largest subtables valid codes can need: 46 of 32
// slots and one of 8 for 286 literal/length codes, two of 128 and one of
// 64 for 30 distance codes.
func TestBuildDeepest(t *testing.T) {
	var litDepths []int
	for range 46 {
		litDepths = append(litDepths, 5)
	}
	lens := deepCode(litBits, append(litDepths, 3))
	if len(lens) != maxLit {
		t.Fatalf("%d literal/length codes", len(lens))
	}
	var lit litTable
	buildAndCheck(t, lit[:], lens, litSyms[:], litBits)
	lens = deepCode(distBits, []int{7, 7, 6})
	if len(lens) != maxDist {
		t.Fatalf("%d distance codes", len(lens))
	}
	var dist distTable
	buildAndCheck(t, dist[:], lens, distSyms[:], distBits)
}

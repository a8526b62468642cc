package pipeline

import (
	"context"
	"runtime/debug"
	"testing"
	"unsafe"
)

// raceBuild reports whether the test binary was built with -race, which
// makes sync.Pool drop items at random and so adds allocations. (A build
// tag would need a second file; this package's tests keep to one.)
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestRoundTripAllocs checks that a steady-state round trip of a 1 KiB
// message allocates nothing. Client and server run in this process and
// testing.AllocsPerRun counts the whole process, so both ends are covered.
func TestRoundTripAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count needs a quiet process")
	}
	if raceBuild() {
		t.Skip("the race detector adds allocations (sync.Pool drops items at random)")
	}
	for _, tc := range []struct {
		name  string
		serve func(*Conn)
	}{
		{"ReadMessage", serveMessages},
		{"NextReader", serveStream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loopbackPair(t, tc.serve)
			rt := newRoundTripper(c, 1<<10)
			ctx := context.Background()
			var err error
			for range 2 * warmUp {
				if err = rt.do(ctx); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if e := rt.do(ctx); e != nil && err == nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per 1 KiB round trip, want 0", allocs)
			}
		})
	}
}

// An idle connection's heap is mostly its Conn: keep it in the 576-byte
// size class (objects this large with pointers carry an 8-byte header), a
// step below 640: the net.Conn is the reader socket's alone, the
// compression hold-back is the deflate state's, and the writer's payload
// offset and the read buffer's size are small ints beside flags. The reader's state (readState), the frame writer and
// the options (shared, see resolveOptions) are not in it: a parked
// connection holds none of them.
func TestConnSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(Conn{}) + 8; n > 576 {
		t.Fatalf("Conn is %d bytes with its malloc header, past the 576-byte size class", n)
	}
}

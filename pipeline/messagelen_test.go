package pipeline

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unsafe"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// passLayer is a custom layer that changes nothing; MessageLen cannot know
// that, so it reports -1 while one is installed.
type passLayer struct{}

func (passLayer) WrapReader(_ MessageType, r io.Reader) io.Reader           { return r }
func (passLayer) WrapWriter(_ MessageType, w io.WriteCloser) io.WriteCloser { return w }

// lenServer reports, for each message, MessageLen before and after reading
// it, in pull mode or push mode.
func lenServer(t *testing.T, opts *Options, push bool) (string, chan [2]int64) {
	got := make(chan [2]int64, 16)
	note := func(c *Conn, r io.Reader) {
		before := c.MessageLen()
		io.Copy(io.Discard, r)
		got <- [2]int64{before, c.MessageLen()}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := *opts
		if push {
			o.OnMessage = func(c *Conn, _ MessageType, r io.Reader) error {
				note(c, r)
				return nil
			}
		}
		c, err := Accept(w, r, &handshake.Server{}, &o)
		if err != nil || push {
			return
		}
		for {
			_, rd, err := c.NextReader(context.Background())
			if err != nil {
				return
			}
			note(c, rd)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), got
}

func TestMessageLen(t *testing.T) {
	payload := make([]byte, 70000)
	for _, tc := range []struct {
		name   string
		push   bool
		layers bool
		want   []int64 // before reading, per message
	}{
		{"pull", false, false, []int64{0, 5, 70000, -1}},
		{"push", true, false, []int64{0, 5, 70000, -1}},
		{"layer", false, true, []int64{-1, -1, -1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &Options{}
			if tc.layers {
				opts.Layers = func() []Layer { return []Layer{passLayer{}} }
			}
			addr, got := lenServer(t, opts, tc.push)
			nc, _ := rawClient(t, addr)
			var wire []byte
			wire = append(wire, maskedFrame(true, layers.OpBinary, nil)...)
			wire = append(wire, maskedFrame(true, layers.OpText, []byte("hello"))...)
			wire = append(wire, maskedFrame(true, layers.OpBinary, payload)...)
			// Fragmented: the first frame cannot tell the length.
			wire = append(wire, maskedFrame(false, layers.OpBinary, payload[:100])...)
			wire = append(wire, maskedFrame(true, layers.OpContinuation, payload[:50])...)
			if _, err := nc.Write(wire); err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.want {
				select {
				case g := <-got:
					if g[0] != want || g[1] != -1 {
						t.Errorf("message %d: MessageLen %d before reading and %d after, want %d and -1", i, g[0], g[1], want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("message %d: not delivered", i)
				}
			}
		})
	}
}

func TestPayloadOffset(t *testing.T) {
	backing := make([]byte, 4096)
	for start := range 64 {
		buf := backing[start:]
		for _, n := range []int{0, 125, 126, 65535, 65536, 1 << 20} {
			off := PayloadOffset(buf, n)
			hs := layers.HeaderSize(layers.Header{Length: int64(n)})
			addr := uintptr(unsafe.Pointer(&buf[off])) - uintptr(hs)
			if off < hs || off > layers.MaxHeaderSize+63 || addr%64 != 0 {
				t.Fatalf("start %d, n %d: offset %d (header %d) puts the frame at %d mod 64", start, n, off, hs, addr%64)
			}
		}
	}
}

package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// streamEchoHandler echoes every message as it streams in, never holding
// a whole one, and waits for the connection as Accept asks over HTTP/2;
// ended receives how each connection ended.
func streamEchoHandler(ended chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil, &Options{MaxMessageSize: -1})
		if err != nil {
			return
		}
		ctx := context.Background()
		for {
			typ, mr, err := c.NextReader(ctx)
			if err != nil {
				break
			}
			mw, err := c.NextWriter(ctx, typ)
			if err != nil {
				break
			}
			if _, err := io.Copy(mw, mr); err != nil {
				break
			}
			if mw.Close() != nil {
				break
			}
		}
		err = c.Wait()
		if ended != nil {
			ended <- err
		}
	})
}

// pattern is the byte at offset i of the big message.
func pattern(i int64) byte { return byte(i*7 + i>>16) }

// patternReader yields n bytes of pattern.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = pattern(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

// checkPattern fails t unless b is the big message's bytes from offset
// off on.
func checkPattern(t *testing.T, b []byte, off int64) {
	t.Helper()
	for i := range b {
		if b[i] != pattern(off+int64(i)) {
			t.Fatalf("byte %d of the big echo is wrong", off+int64(i))
		}
	}
}

// h2Streams starts a streaming echo over HTTP/2 and returns a hang guard
// (3 minutes) and a dialler of WebSockets that share one HTTP/2
// connection to it, each closed when t ends.
func h2Streams(t *testing.T) (context.Context, func(*Options) *Conn) {
	s := newH2Server(t, streamEchoHandler(nil))
	hc := h2Client(s, handshake.HTTP2Require)
	t.Cleanup(hc.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx, func(opts *Options) *Conn {
		t.Helper()
		c, _, err := Dial(ctx, s.wss("/"), hc, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
}

// A 64 MiB message on one stream while four other streams of the same
// HTTP/2 connection keep echoing small messages. The big echo is read in
// 64 KiB steps and each step waits for one round trip on every small
// stream, so the test can only finish if the small streams make progress
// while the big message is in flight, at every step of it (ordering, not
// wall-clock time); the heap stays far below the message's size.
func TestHTTP2BigMessageAndSmallStreams(t *testing.T) {
	const size = 64 << 20
	ctx, dial := h2Streams(t)
	big := dial(&Options{MaxMessageSize: -1})
	small := make([]*Conn, 4)
	for i := range small {
		small[i] = dial(nil)
		if small[i].LocalAddr().String() != big.LocalAddr().String() {
			t.Fatal("not one shared connection")
		}
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	writeErr := make(chan error, 1)
	go func() {
		w, err := big.NextWriter(ctx, Binary)
		if err != nil {
			writeErr <- err
			return
		}
		_, err = io.Copy(w, &patternReader{n: size})
		if err == nil {
			err = w.Close()
		}
		writeErr <- err
	}()
	_, r, err := big.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	var got int64
	rounds := 0
	var peak uint64
	for got < size {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-got)])
		checkPattern(t, buf[:n], got)
		got += int64(n)
		if err != nil {
			t.Fatalf("big echo after %d bytes: %v", got, err)
		}
		if got == size {
			break
		}
		// Mid-transfer: every small stream answers now.
		for i, c := range small {
			msg := fmt.Appendf(nil, "small %d round %d", i, rounds)
			if err := c.WriteMessage(ctx, Text, msg); err != nil {
				t.Fatal(err)
			}
			_, echo, err := c.ReadMessage(ctx, nil)
			if err != nil || !bytes.Equal(echo, msg) {
				t.Fatalf("small stream %d at %d bytes of the big echo: %q, %v", i, got, echo, err)
			}
		}
		rounds++
		if rounds%64 == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if rest, err := io.Copy(io.Discard, r); rest != 0 || err != nil {
		t.Fatalf("%d bytes past the end, %v", rest, err)
	}
	t.Logf("%d small round trips on each of %d streams during the %d MiB echo; heap peak %d MiB above the start",
		rounds, len(small), size>>20, (int64(peak)-int64(base.HeapAlloc))>>20)
	if peak > base.HeapAlloc+size/2 {
		t.Errorf("heap grew by %d MiB during a %d MiB echo: the message was held whole", (peak-base.HeapAlloc)>>20, size>>20)
	}
}

// A stream whose client never reads stalls only itself: its writes stop
// after a bounded amount (the flow-control windows and the server's
// buffers), the other streams on the connection keep echoing, and once it
// reads again its echo completes intact.
func TestHTTP2StalledStream(t *testing.T) {
	const size = 64 << 20
	ctx, dial := h2Streams(t)
	stalled := dial(&Options{MaxMessageSize: -1})
	other := dial(nil)

	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		w, err := stalled.NextWriter(ctx, Binary)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(w, io.TeeReader(&patternReader{n: size}, writerFunc(func(p []byte) (int, error) {
			written.Add(int64(len(p)))
			return len(p), nil
		})))
		if err == nil {
			err = w.Close()
		}
		done <- err
	}()
	// While the stalled stream's writer is stuck on flow control, the
	// other stream echoes on.
	for i := range 200 {
		msg := fmt.Appendf(nil, "other %d", i)
		if err := other.WriteMessage(ctx, Text, msg); err != nil {
			t.Fatal(err)
		}
		if _, echo, err := other.ReadMessage(ctx, nil); err != nil || !bytes.Equal(echo, msg) {
			t.Fatalf("round %d: %q, %v (stalled stream has written %d bytes)", i, echo, err, written.Load())
		}
	}
	// The stalled stream took a bounded amount: the windows (server 256
	// KiB, client 4 MiB), the pipeline's buffers and a pooled frame or two
	// on each side, nowhere near the message.
	w := written.Load()
	t.Logf("the stalled stream's writer took %d KiB before stopping", w>>10)
	if w >= 24<<20 {
		t.Fatalf("a stream whose reader stalled took %d MiB of a %d MiB message: not bounded", w>>20, size>>20)
	}
	select {
	case err := <-done:
		t.Fatalf("the stalled stream's message was fully written (%v): nothing stalled", err)
	default:
	}
	// Now read: the whole echo arrives, intact.
	_, r, err := stalled.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		checkPattern(t, buf[:n], got)
		got += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got != size {
		t.Fatalf("echo of %d bytes, want %d", got, size)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

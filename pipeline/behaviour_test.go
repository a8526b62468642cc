package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

func TestConcurrentWritersNeverInterleave(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testConcurrentWriters(t, nil) })
	// A non-blocking policy always queues, so the writer goroutine
	// coalesces frames into writev batches.
	t.Run("queued", func(t *testing.T) {
		testConcurrentWriters(t, &Options{Overflow: OverflowError, SendQueue: 1 << 16})
	})
}

func testConcurrentWriters(t *testing.T, opts *Options) {
	addr, _ := echoServer(t, nil)
	c := dialRaw(t, addr, opts)
	defer c.Close(CloseNormal, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Sizes straddle the frame buffer so some messages are
				// several frames, written in several pieces.
				size := 8 + (w*each+i)*331%(3*DefaultWriteBufferSize)
				msg := bytes.Repeat([]byte{byte(w)}, size)
				binary.BigEndian.PutUint32(msg, uint32(w))
				binary.BigEndian.PutUint32(msg[4:], uint32(i))
				if i%2 == 0 {
					if err := c.WriteMessage(ctx, Binary, msg); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				mw, err := c.NextWriter(ctx, Binary)
				if err != nil {
					t.Error(err)
					return
				}
				for len(msg) > 0 {
					k := min(len(msg), 1000)
					mw.Write(msg[:k])
					msg = msg[k:]
				}
				if err := mw.Close(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]uint32, writers)
	buf := make([]byte, 0, 1<<16)
	for range writers * each {
		_, msg, err := c.ReadMessage(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		w, i := binary.BigEndian.Uint32(msg), binary.BigEndian.Uint32(msg[4:])
		if w >= writers || i != next[w] {
			t.Fatalf("message from writer %d seq %d, want seq %d", w, i, next[w])
		}
		next[w]++
		for _, b := range msg[8:] {
			if b != byte(w) {
				t.Fatalf("writer %d message %d corrupted", w, i)
			}
		}
	}
	wg.Wait()
}

func TestCloseCodeAndReasonReachPeer(t *testing.T) {
	addr, conns := echoServer(t, nil)
	c := dialRaw(t, addr, nil)
	srv := <-conns
	if err := c.Close(4000, "done here"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	<-srv.Done()
	_, _, err := srv.NextReader(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "done here" {
		t.Fatalf("server read: %v", err)
	}
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("CloseError should match ErrClosed")
	}
}

// expectClose reads frames from a raw client until a close frame and
// returns its code; the server must then close the TCP connection.
func expectClose(t *testing.T, nc net.Conn, br io.Reader) layers.CloseCode {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := layers.NewFrameReader(br, layers.RoleClient)
	for {
		h, err := fr.Next()
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		p, _ := io.ReadAll(fr)
		if h.Opcode == layers.OpClose {
			code, _, err := layers.ParseClose(p)
			if err != nil {
				t.Fatal(err)
			}
			nc.Write(maskedFrame(true, layers.OpClose, p))
			var one [1]byte
			if _, err := br.Read(one[:]); err != io.EOF {
				t.Fatalf("server did not close TCP after close: %v", err)
			}
			nc.Close() // as a real peer does once the server has closed
			return code
		}
	}
}

func TestBadInputCloseCodes(t *testing.T) {
	cases := []struct {
		name  string
		bytes []byte
		code  layers.CloseCode
		err   error
		opts  *Options
	}{
		{"reserved opcode", maskedFrame(true, 3, nil), 1002, ErrProtocol, nil},
		{"unmasked frame", []byte{0x81, 0x00}, 1002, ErrProtocol, nil},
		{"bad utf8", maskedFrame(true, layers.OpText, []byte{0xce, 0xba, 0xff}), 1007, ErrInvalidUTF8, nil},
		{"too big", maskedFrame(true, layers.OpBinary, make([]byte, 2000)), 1009, ErrTooBig, &Options{MaxMessageSize: 1000}},
		{"bad close code", maskedFrame(true, layers.OpClose, []byte{0x03, 0xe8 + 4}), 1002, ErrProtocol, nil},
		{"huge length", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, 1009, ErrTooBig, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, conns := echoServer(t, tc.opts)
			nc, br := rawClient(t, addr)
			srv := <-conns
			nc.Write(tc.bytes)
			if code := expectClose(t, nc, br); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			<-srv.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, _, err := srv.NextReader(ctx); !errors.Is(err, tc.err) {
				t.Fatalf("server error %v, want %v", err, tc.err)
			}
		})
	}
}

// stalledServer accepts one connection whose peer never reads.
func stalledPair(t *testing.T, opts *Options) (*Conn, net.Conn) {
	addr, conns := echoServer(t, opts)
	nc, _ := rawClient(t, addr)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	srv := <-conns
	// A fixed send buffer too: the kernel would otherwise grow it while
	// the test looks at what the queue holds, and take more from it.
	if tc, ok := srv.UnderlyingConn().(*net.TCPConn); ok {
		tc.SetWriteBuffer(64 << 10)
	}
	return srv, nc
}

func TestOverflowError(t *testing.T) {
	srv, _ := stalledPair(t, &Options{Overflow: OverflowError, SendQueue: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := make([]byte, 64<<10)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = srv.WriteMessage(ctx, Binary, msg)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	select {
	case <-srv.Done():
		t.Fatal("OverflowError must keep the connection")
	default:
	}
}

func TestOverflowClose(t *testing.T) {
	srv, _ := stalledPair(t, &Options{Overflow: OverflowTryAgainLater, SendQueue: 4, CloseTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := make([]byte, 64<<10)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = srv.WriteMessage(ctx, Binary, msg)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("got %v", err)
	}
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatal("connection not closed after overflow")
	}
}

func TestOverflowBlockHonoursContext(t *testing.T) {
	srv, _ := stalledPair(t, &Options{SendQueue: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	msg := make([]byte, 64<<10)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = srv.WriteMessage(ctx, Binary, msg)
	}
	// A write that waits for room in the queue, or sits in the socket,
	// gives up when its context ends.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	srv.Close(CloseNormal, "")
}

func TestHeartbeatDropsDeadPeer(t *testing.T) {
	addr, conns := echoServer(t, &Options{PingInterval: 50 * time.Millisecond, PongTimeout: 100 * time.Millisecond})
	_, _ = rawClient(t, addr) // never answers pings
	srv := <-conns
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatal("dead peer not dropped")
	}
	if _, _, err := srv.NextReader(ctx); !errors.Is(err, ErrPeerTimeout) {
		t.Fatalf("got %v, want ErrPeerTimeout", err)
	}
}

func TestHeartbeatKeepsLivePeer(t *testing.T) {
	addr, conns := echoServer(t, &Options{PingInterval: 20 * time.Millisecond, PongTimeout: 500 * time.Millisecond})
	c := dialRaw(t, addr, nil) // a Conn answers pings while it reads
	defer c.Close(CloseNormal, "")
	srv := <-conns
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		c.NextReader(ctx)
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-srv.Done():
		t.Fatal("live peer dropped")
	default:
	}
}

func TestPingsBetweenFragmentsAnswered(t *testing.T) {
	addr, _ := echoServer(t, nil)
	nc, br := rawClient(t, addr)
	var b []byte
	b = append(b, maskedFrame(false, layers.OpText, []byte("Hel"))...)
	b = append(b, maskedFrame(true, layers.OpPing, []byte("p1"))...)
	b = append(b, maskedFrame(true, layers.OpContinuation, []byte("lo"))...)
	nc.Write(b)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := layers.NewFrameReader(br, layers.RoleClient)
	var got []string
	for len(got) < 2 {
		h, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		p, _ := io.ReadAll(fr)
		got = append(got, fmt.Sprintf("%v:%s", h.Opcode, p))
	}
	if got[0] != "pong:p1" || got[1] != "text:Hello" {
		t.Fatalf("got %v", got)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	addr, _ := echoServer(t, nil)
	before := runtime.NumGoroutine()
	ctx := context.Background()
	for range 50 {
		c := dialRaw(t, addr, nil)
		c.WriteMessage(ctx, Text, []byte("x"))
		c.ReadMessage(ctx, nil)
		c.Close(CloseNormal, "")
		c.Wait()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left, started with %d\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestStreamLargeMessage(t *testing.T) {
	addr, _ := echoServer(t, &Options{MaxMessageSize: -1})
	c := dialRaw(t, addr, &Options{MaxMessageSize: -1})
	defer c.Close(CloseNormal, "")
	ctx := context.Background()
	const size = 48 << 20
	go func() {
		w, _ := c.NextWriter(ctx, Binary)
		io.Copy(w, io.LimitReader(zeros{}, size))
		w.Close()
	}()
	_, r, err := c.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != size {
		t.Fatalf("got %d bytes, %v", n, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestPushMode(t *testing.T) {
	closed := make(chan error, 1)
	opts := pushEcho()
	opts.OnClose = func(c *Conn, err error) { closed <- err }
	addr, conns := echoServer(t, opts)
	c := dialRaw(t, addr, nil)
	srv := <-conns
	if _, _, err := srv.NextReader(context.Background()); !errors.Is(err, ErrPushMode) {
		t.Fatalf("NextReader in push mode: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, msg := range []string{"one", "two", string(bytes.Repeat([]byte("3"), 100000))} {
		if err := c.WriteMessage(ctx, Text, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage(ctx, nil)
		if err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %d bytes, %v", len(msg), len(got), err)
		}
	}
	c.Close(4001, "push done")
	select {
	case err := <-closed:
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 {
			t.Fatalf("OnClose got %v", err)
		}
	case <-ctx.Done():
		t.Fatal("OnClose not called")
	}
}

func TestCloseSendKeepsReading(t *testing.T) {
	addr, _ := echoServer(t, nil)
	c := dialRaw(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 50
	for i := range n {
		if err := c.WriteMessage(ctx, Text, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Close right away: the echoes are still in flight.
	if err := c.CloseSend(CloseNormal, "done"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(ctx, Text, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after CloseSend: %v", err)
	}
	for i := range n {
		_, msg, err := c.ReadMessage(ctx, nil)
		if err != nil || string(msg) != fmt.Sprint(i) {
			t.Fatalf("echo %d: %q %v", i, msg, err)
		}
	}
	_, _, err := c.ReadMessage(ctx, nil)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != CloseNormal {
		t.Fatalf("after the echoes: %v, want the peer's close", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("connection not torn down after the closing handshake")
	}
}

// A large WriteMessage leaves as one final frame, not as a frame followed
// by an empty final one.
func TestLargeWriteMessageOneFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 3*DefaultWriteBufferSize)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		c.WriteMessage(context.Background(), Binary, payload)
		c.WriteMessage(context.Background(), Text, []byte("end"))
	}))
	t.Cleanup(srv.Close)
	nc, br := rawClient(t, srv.Listener.Addr().String())
	rc := &rawConn{nc, br}
	h, p := rc.recv(t)
	if !h.Fin || h.Opcode != layers.OpBinary || !bytes.Equal(p, payload) {
		t.Fatalf("first frame: fin %v op %v len %d", h.Fin, h.Opcode, len(p))
	}
	if h, p := rc.recv(t); h.Opcode != layers.OpText || string(p) != "end" {
		t.Fatalf("second frame: %v %q", h.Opcode, p)
	}
}

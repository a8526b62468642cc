package pipeline_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// connPair returns a connected client and server Conn over loopback TCP,
// with opts for both. Cleanup closes them, both at once (a side that is
// not reading holds the peer's close for up to CloseTimeout unless it is
// closing itself), and waits for their goroutines.
func connPair(t testing.TB, opts *pipeline.Options) (client, server *pipeline.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   *pipeline.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			accepted <- result{nil, err}
			return
		}
		c, err := pipeline.AcceptConn(raw, nil, opts)
		if err != nil {
			raw.Close()
		}
		accepted <- result{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err = pipeline.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatal(r.err)
	}
	server = r.c
	t.Cleanup(func() {
		closeBoth(closer{client}, closer{server})
		client.Wait()
		server.Wait()
	})
	return client, server
}

// closeBoth closes a and b at once.
func closeBoth(a, b interface{ Close() error }) {
	done := make(chan struct{})
	go func() {
		a.Close()
		close(done)
	}()
	b.Close()
	<-done
}

// closer is a Conn with the Close closeBoth calls.
type closer struct{ c *pipeline.Conn }

func (c closer) Close() error { return c.c.Close(pipeline.CloseNormal, "") }

// netPair returns the two ends of a WebSocket connection as NetConns.
func netPair(t *testing.T, opts *pipeline.Options) (a, b net.Conn, ca, cb *pipeline.Conn) {
	ca, cb = connPair(t, opts)
	a = pipeline.NetConn(context.Background(), ca, pipeline.Binary)
	b = pipeline.NetConn(context.Background(), cb, pipeline.Binary)
	t.Cleanup(func() { closeBoth(a, b) })
	return a, b, ca, cb
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// wantTimeout fails unless err is a deadline's timeout, as net.Conn's are.
func wantTimeout(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%s: got %v, want a timeout matching os.ErrDeadlineExceeded", what, err)
	}
	if _, ok := err.(net.Error); !ok {
		// net/http's server asserts the type itself (no errors.As).
		t.Fatalf("%s: %T is not a net.Error", what, err)
	}
}

// connListener is a net.Listener whose connections are NetConns of
// WebSocket connections accepted by an HTTP handler.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// push hands c to Accept, or closes it once the listener is closed.
func (l *connListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// timeoutCounter counts the Reads that end by a deadline.
type timeoutCounter struct {
	net.Conn
	n *atomic.Int32
}

func (c timeoutCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.n.Add(1)
	}
	return n, err
}

// An HTTP/1.1 server and client talk through WebSocket connections: the
// server Serves a listener of NetConns, the client's transport dials a
// NetConn. Keep-alive must survive net/http's own use of read deadlines
// (it aborts a pending background read with a deadline in the past after
// each request), so every request of a sequence shares one connection.
func TestNetConnHTTP(t *testing.T) {
	ln := &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
	var timeouts atomic.Int32 // the server's Reads ended by a deadline
	var idle sync.Map         // connections between requests
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		ln.push(timeoutCounter{pipeline.NetConn(context.Background(), c, pipeline.Binary), &timeouts})
	}))
	defer ws.Close()
	ln.addr = ws.Listener.Addr()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		// The whole body first: an HTTP/1.1 handler's response may end
		// the request body once it is flushed.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	})
	mux.HandleFunc("POST /sum", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	// A connection that goes from idle to active again serves a second
	// request: keep-alive works across the deadlines net/http sets.
	var reuses atomic.Int32
	hs := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateActive {
			if _, seen := idle.LoadAndDelete(c); seen {
				reuses.Add(1)
			}
		} else if s == http.StateIdle {
			idle.Store(c, true)
		}
	}}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	var dials atomic.Int32
	wsURL := "ws" + strings.TrimPrefix(ws.URL, "http")
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			c, _, err := pipeline.Dial(ctx, wsURL, nil, nil)
			if err != nil {
				return nil, err
			}
			return pipeline.NetConn(context.Background(), c, pipeline.Binary), nil
		},
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer func() {
		tr.CloseIdleConnections()
		hs.Close()
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	}()

	do := func(method, path string, body []byte) []byte {
		t.Helper()
		req, err := http.NewRequest(method, "http://tunnel"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", method, path, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, got)
		}
		return got
	}

	if got := do("GET", "/hello?name=tunnel", nil); string(got) != "hello, tunnel" {
		t.Errorf("GET /hello: %q", got)
	}
	for _, n := range []int{0, 100, 4096, 65537, 1 << 20} {
		body := randomBytes(n)
		if got := do("POST", "/echo", body); !bytes.Equal(got, body) {
			t.Errorf("POST /echo of %d bytes: got %d bytes back, not the same", n, len(got))
		}
	}
	body := randomBytes(300 << 10)
	want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body))
	if got := do("POST", "/sum", body); string(got) != want {
		t.Errorf("POST /sum: got %q, want %q", got, want)
	}
	// One request at a time: the transport reuses its connection, unless
	// its own check that the request was written takes over 50 ms, which a
	// busy machine may make it, so a reuse or two is the test, not one
	// connection for all.
	if reuses.Load() == 0 {
		t.Errorf("%d connections for 7 requests one at a time, none served twice: keep-alive failed", dials.Load())
	}
	if timeouts.Load() == 0 {
		t.Error("no Read of the server's ended by a deadline: the test did not exercise them")
	}

	// Several at once, each on a tunnel of its own.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			body := randomBytes(100<<10 + i)
			req, _ := http.NewRequest("POST", "http://tunnel/echo", bytes.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("concurrent POST %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("concurrent POST %d: %d bytes, %v", i, len(got), err)
			}
		})
	}
	wg.Wait()
}

func TestNetConnReadDeadline(t *testing.T) {
	a, b, _, cb := netPair(t, nil)
	buf := make([]byte, 64)

	// A deadline in the past fails a Read even with data waiting; the data
	// is not lost.
	if _, err := b.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	a.SetReadDeadline(time.Now().Add(-time.Second))
	_, err := a.Read(buf)
	wantTimeout(t, "past deadline", err)
	a.SetReadDeadline(time.Time{})
	if n, err := io.ReadFull(a, buf[:5]); err != nil || string(buf[:n]) != "first" {
		t.Fatalf("after clearing the deadline: %q %v", buf[:n], err)
	}

	// A future deadline ends a Read that gets nothing.
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = a.Read(buf)
	wantTimeout(t, "future deadline", err)

	// A deadline moved into the past wakes a waiting Read.
	a.SetReadDeadline(time.Now().Add(time.Hour))
	got := make(chan error, 1)
	go func() {
		_, err := a.Read(buf)
		got <- err
	}()
	a.SetReadDeadline(time.Now())
	wantTimeout(t, "deadline moved to now", <-got)

	// A deadline moved later does not fire at the earlier time: wait past
	// it, then the data arrives and the Read gets it.
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	a.SetReadDeadline(time.Now().Add(time.Hour))
	<-time.After(60 * time.Millisecond)
	if _, err := b.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(a, buf[:6]); err != nil || string(buf[:n]) != "second" {
		t.Fatalf("after moving the deadline later: %q %v", buf[:n], err)
	}
	a.SetReadDeadline(time.Time{})

	// In the middle of a message: the peer has sent part of a message and
	// no more. A Read that times out there leaves the stream intact.
	ctx := context.Background()
	w, err := cb.NextWriter(ctx, pipeline.Binary)
	if err != nil {
		t.Fatal(err)
	}
	part1, part2 := randomBytes(20000), randomBytes(5000)
	w.Write(part1) // at least its first 8 KiB (one write buffer) goes out now
	var stream bytes.Buffer
	if _, err := io.CopyN(&stream, a, 8<<10); err != nil {
		t.Fatal(err)
	}
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for err == nil {
		var n int
		n, err = a.Read(buf)
		stream.Write(buf[:n])
	}
	wantTimeout(t, "mid-message", err)
	a.SetReadDeadline(time.Time{})
	w.Write(part2)
	w.Close()
	if _, err := b.Write([]byte("third")); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte(nil), part1...), part2...), "third"...)
	if _, err := io.CopyN(&stream, a, int64(len(want)-stream.Len())); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stream.Bytes(), want) {
		t.Fatal("the stream read around a mid-message timeout is not what was sent")
	}
}

func TestNetConnWriteDeadline(t *testing.T) {
	a, b, ca, _ := netPair(t, nil)
	buf := make([]byte, 64)

	// A deadline in the past fails a Write before anything is sent, and
	// the connection goes on.
	a.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err := a.Write([]byte("lost"))
	wantTimeout(t, "past deadline", err)
	if n != 0 {
		t.Fatalf("timed-out Write reports %d bytes", n)
	}
	a.SetWriteDeadline(time.Now().Add(time.Hour))
	a.SetWriteDeadline(time.Time{})
	if _, err := a.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(b, buf[:4]); err != nil || string(buf[:n]) != "kept" {
		t.Fatalf("after clearing the deadline: %q %v", buf[:n], err)
	}

	// A Write blocked on a peer that does not read times out, and the
	// message, cut short, ends the connection. (Each Write gets a fresh
	// deadline: one that passed between two Writes would fail the second
	// before it starts, harmlessly.)
	big := randomBytes(1 << 20)
	timedOut := false
	for i := 0; ca.Err() == nil; i++ {
		if i == 256 {
			t.Fatal("256 MiB written to a peer that does not read")
		}
		a.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := a.Write(big)
		if err != nil && errors.Is(err, pipeline.ErrClosed) && timedOut {
			break // the cut message's end, reported before ca.Err was seen
		}
		if err != nil {
			wantTimeout(t, "blocked write", err)
			timedOut = true
		}
	}
	<-ca.Done()
	a.SetWriteDeadline(time.Time{})
	if _, err := a.Write([]byte("x")); err == nil || errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, pipeline.ErrClosed) {
		t.Fatalf("Write after a cut message: %v, want the connection's end", err)
	}
}

// The peer's normal close is io.EOF, after the data sent before it; any
// other close is the Conn's error.
func TestNetConnEOF(t *testing.T) {
	for _, tc := range []struct {
		code pipeline.CloseCode
		eof  bool
	}{
		{pipeline.CloseNormal, true},
		{pipeline.CloseGoingAway, true},
		{pipeline.CloseInternalError, false},
		{4001, false},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			ca, cb := connPair(t, nil)
			a := pipeline.NetConn(context.Background(), ca, pipeline.Binary)
			defer a.Close()
			ctx := context.Background()
			cb.WriteMessage(ctx, pipeline.Binary, []byte("last "))
			cb.WriteMessage(ctx, pipeline.Text, []byte("words"))
			closed := make(chan struct{})
			go func() {
				cb.Close(tc.code, "bye")
				close(closed)
			}()
			got, err := io.ReadAll(a)
			if string(got) != "last words" {
				t.Errorf("read %q before the close", got)
			}
			if tc.eof {
				if err != nil { // ReadAll's nil is Read's io.EOF
					t.Errorf("got %v, want io.EOF", err)
				}
			} else {
				var ce *pipeline.CloseError
				if !errors.As(err, &ce) || ce.Code != tc.code || !errors.Is(err, pipeline.ErrClosed) {
					t.Errorf("got %v, want the close error with %v", err, tc.code)
				}
			}
			if _, err2 := a.Read(make([]byte, 1)); tc.eof && err2 != io.EOF {
				t.Errorf("second Read: %v, want io.EOF again", err2)
			}
			<-closed
		})
	}
}

// Close sends CloseNormal, interrupts blocked calls and fails later ones
// with net.ErrClosed.
func TestNetConnClose(t *testing.T) {
	ca, cb := connPair(t, nil)
	a := pipeline.NetConn(context.Background(), ca, pipeline.Binary)

	blocked := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 10))
		blocked <- err
	}()
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()

	_, _, err := cb.ReadMessage(context.Background(), nil)
	var ce *pipeline.CloseError
	if !errors.As(err, &ce) || ce.Code != pipeline.CloseNormal {
		t.Fatalf("peer got %v, want a close with 1000", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-blocked; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read interrupted by Close: %v, want net.ErrClosed", err)
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) || !errors.Is(err, pipeline.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := a.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetDeadline after Close: %v", err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	raw := ca.UnderlyingConn()
	if a.LocalAddr() != raw.LocalAddr() || a.RemoteAddr() != raw.RemoteAddr() {
		t.Errorf("addresses %v %v, want the underlying connection's %v %v",
			a.LocalAddr(), a.RemoteAddr(), raw.LocalAddr(), raw.RemoteAddr())
	}
}

// Close from another goroutine ends a Write blocked on a peer that does
// not read. (The peer, not reading, does not answer the close either: a
// short CloseTimeout bounds the wait for it.)
func TestNetConnCloseUnblocksWrite(t *testing.T) {
	ca, _ := connPair(t, &pipeline.Options{CloseTimeout: 100 * time.Millisecond})
	a := pipeline.NetConn(context.Background(), ca, pipeline.Binary)
	big := randomBytes(1 << 20)
	wrote := make(chan error, 1)
	some := make(chan struct{})
	go func() {
		for i := 0; i < 256; i++ {
			if i == 4 {
				close(some)
			}
			if _, err := a.Write(big); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- errors.New("256 MiB written to a peer that does not read")
	}()
	// Close once the socket's buffers are filling, or a little later if
	// they are small and a Write blocks sooner. Whenever it comes, the
	// Write it interrupts, or the next, fails as closed.
	select {
	case <-some:
	case <-time.After(200 * time.Millisecond):
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write: %v, want net.ErrClosed", err)
	}
}

// When NetConn's context ends, the net.Conn closes as by Close.
func TestNetConnContext(t *testing.T) {
	ca, cb := connPair(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	a := pipeline.NetConn(ctx, ca, pipeline.Binary)
	cancel()
	_, _, err := cb.ReadMessage(context.Background(), nil)
	var ce *pipeline.CloseError
	if !errors.As(err, &ce) || ce.Code != pipeline.CloseNormal {
		t.Fatalf("peer got %v, want a close with 1000", err)
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after the context ended: %v", err)
	}
	<-ca.Done()
}

// One goroutine writes while another reads, through a peer that echoes
// with io.Copy on its own NetConn; a third moves the deadlines around.
func TestNetConnConcurrent(t *testing.T) {
	a, b, _, _ := netPair(t, nil)
	echoed := make(chan error, 1)
	go func() {
		_, err := io.Copy(b, b)
		echoed <- err
	}()

	var sent bytes.Buffer
	for i := range 300 {
		sent.Write(randomBytes(1 + i*97%40000))
	}
	wrote := make(chan error, 1)
	go func() {
		p := sent.Bytes()
		for i := 0; len(p) > 0; i++ {
			n := min(len(p), 1+i*131%50000)
			if _, err := a.Write(p[:n]); err != nil {
				wrote <- err
				return
			}
			p = p[n:]
		}
		wrote <- nil
	}()
	stop := make(chan struct{})
	fiddled := make(chan struct{})
	go func() {
		defer close(fiddled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			a.SetDeadline(time.Now().Add(time.Hour))
			a.SetReadDeadline(time.Time{})
			runtime.Gosched()
		}
	}()

	got := make([]byte, sent.Len())
	_, err := io.ReadFull(a, got)
	close(stop)
	<-fiddled
	if err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatal("echoed stream differs")
	}
	a.SetDeadline(time.Time{})
	closed := make(chan struct{})
	go func() {
		a.Close()
		close(closed)
	}()
	if err := <-echoed; err != nil { // io.Copy saw io.EOF: a's close was normal
		t.Fatalf("echo: %v", err)
	}
	<-closed
}

// A NetConn's goroutines end with it: after both ends are closed and the
// Conns' goroutines done, the count of goroutines comes back down.
func TestNetConnNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		srv := make(chan *pipeline.Conn, 1)
		go func() {
			raw, err := ln.Accept()
			if err != nil {
				srv <- nil
				return
			}
			c, err := pipeline.AcceptConn(raw, nil, nil)
			if err != nil {
				raw.Close()
			}
			srv <- c
		}()
		ca, _, err := pipeline.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cb := <-srv
		if cb == nil {
			t.Fatal("accept failed")
		}
		a := pipeline.NetConn(context.Background(), ca, pipeline.Binary)
		b := pipeline.NetConn(context.Background(), cb, pipeline.Binary)
		a.Write(randomBytes(100000))
		if _, err := io.ReadFull(b, make([]byte, 50000)); err != nil { // half: b's pump holds the rest
			t.Fatal(err)
		}
		a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		a.Read(make([]byte, 1)) // times out; a's pump waits on
		closeBoth(a, b)
		ca.Wait()
		cb.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reads concatenate text and binary messages alike.
func TestNetConnMessageTypes(t *testing.T) {
	ca, cb := connPair(t, nil)
	a := pipeline.NetConn(context.Background(), ca, pipeline.Text)
	defer closeBoth(a, closer{cb})
	ctx := context.Background()
	cb.WriteMessage(ctx, pipeline.Text, []byte("text,"))
	cb.WriteMessage(ctx, pipeline.Binary, []byte{0xff, ','})
	cb.WriteMessage(ctx, pipeline.Text, []byte(""))
	cb.WriteMessage(ctx, pipeline.Text, []byte("end"))
	got := make([]byte, 10)
	if _, err := io.ReadFull(a, got); err != nil || string(got) != "text,\xff,end" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := a.Write([]byte("héllo")); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := cb.ReadMessage(ctx, nil)
	if err != nil || typ != pipeline.Text || string(msg) != "héllo" {
		t.Fatalf("peer got %v %q %v, want one text message", typ, msg, err)
	}
}

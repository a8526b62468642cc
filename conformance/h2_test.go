package conformance

// Both directions over HTTP/2 (RFC 8441): the same cases, with the
// WebSocket on a stream of an HTTP/2 connection (cleartext, prior
// knowledge) instead of its own TCP connection. The end of the stream
// (END_STREAM) stands for the TCP close; a reset stream for a reset.
//
// The suite speaks HTTP/2 through golang.org/x/net/http2 (as the client)
// and net/http (as the server), not through wspipe.
//
//	go test -run 'HTTP2' ./conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestMain restarts the test binary with GODEBUG=http2xconnect=1 when it
// is missing: net/http's HTTP/2 server (the server under test, and the
// suite's fuzzing server) advertises extended CONNECT only then, and
// reads the variable once, at start.
func TestMain(m *testing.M) {
	const setting = "http2xconnect=1"
	if gd := os.Getenv("GODEBUG"); !strings.Contains(gd, setting) && os.Getenv("CONFORMANCE_REEXEC") == "" {
		if gd != "" {
			gd += ","
		}
		exe, err := os.Executable()
		if err == nil {
			env := append(os.Environ(), "GODEBUG="+gd+setting, "CONFORMANCE_REEXEC=1")
			err = syscall.Exec(exe, os.Args, env)
		}
		fmt.Fprintln(os.Stderr, "conformance: cannot restart with GODEBUG="+setting+"; the HTTP/2 tests will fail:", err)
	}
	os.Exit(m.Run())
}

// h2Categories are the categories of the server direction, by name.
var h2Categories = []struct {
	name  string
	cases func() []testCase
}{
	{"1", category1}, {"2", category2}, {"3", category3}, {"4", category4}, {"5", category5},
	{"6", category6}, {"7", category7}, {"9", category9}, {"10", category10},
}

// TestHTTP2Categories runs every server-direction case (categories 1 to
// 7, 9, 10, and 12 and 13 with permessage-deflate) on HTTP/2 streams of
// wspipe's echo server, all cases of a category sharing one HTTP/2
// connection.
func TestHTTP2Categories(t *testing.T) {
	if os.Getenv(urlEnv) != "" {
		t.Skip("an external server: HTTP/2 runs only against wspipe's")
	}
	u := startEchoServerH2(t)
	for _, cat := range h2Categories {
		t.Run(cat.name, func(t *testing.T) {
			d := newH2Dialer(t, u)
			runCasesWith(t, u, d.dial, cat.cases())
		})
	}
	ud := startDeflateEchoServerH2(t)
	for _, cat := range []struct {
		name  string
		specs func() []pmdCaseSpec
	}{{"12", category12Specs}, {"13", category13Specs}} {
		t.Run(cat.name, func(t *testing.T) {
			d := newH2Dialer(t, ud)
			runDeflateCasesWith(t, ud, d.dial, cat.specs())
		})
	}
}

// TestHTTP2ClientCategories runs every client-direction case with
// wspipe's client opening its WebSocket over HTTP/2 (h2c) to the suite's
// fuzzing server, an HTTP/2 server that advertises extended CONNECT.
func TestHTTP2ClientCategories(t *testing.T) {
	for _, cat := range h2Categories {
		t.Run(cat.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			forEachCase(t, clientCases(cat.cases()), func(tc clientCase) string { return tc.id }, func(t *testing.T, tc clientCase) {
				t.Log(tc.desc)
				runClientCase(t, wspipeH2Client, tc)
			})
			checkGoroutines(t, before)
		})
	}
	for _, cat := range []struct {
		name  string
		specs func() []pmdCaseSpec
	}{{"12", category12Specs}, {"13", category13Specs}} {
		t.Run(cat.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			forEachCase(t, cat.specs(), func(s pmdCaseSpec) string { return s.id }, func(t *testing.T, s pmdCaseSpec) {
				runClientDeflateCaseWith(t, s, deflateClient(s.offers, true))
			})
			checkGoroutines(t, before)
		})
	}
	t.Run("closing", func(t *testing.T) {
		forEachCase(t, clientClosingCases(), func(tc clientCase) string { return tc.id }, func(t *testing.T, tc clientCase) {
			runClientCase(t, wspipeH2Client, tc)
		})
	})
}

// h2Dialer opens WebSockets as extended CONNECTs on one HTTP/2
// connection (h2c) to the server under test.
type h2Dialer struct {
	cc *http2.ClientConn
}

// newH2Dialer connects to the server at rawURL (ws://) and waits for its
// SETTINGS; the connection is closed at the end of t.
func newH2Dialer(t testing.TB, rawURL string) *h2Dialer {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout("tcp", u.Host, handshakeTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cc, err := (&http2.Transport{}).NewClientConn(nc)
	if err != nil {
		nc.Close()
		t.Fatalf("HTTP/2: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := cc.Ping(ctx); err != nil { // its answer comes after the SETTINGS
		t.Fatalf("HTTP/2 ping: %v", err)
	}
	return &h2Dialer{cc: cc}
}

// dial is the dialer of h2Dialer: it opens a stream with an extended
// CONNECT (RFC 8441 section 4) and returns it as a net.Conn, with the
// server's answer (the key is "": there is none over HTTP/2).
func (d *h2Dialer) dial(t testing.TB, rawURL, exts string, deadline time.Time) (net.Conn, *bufio.Reader, *http.Response, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{
		":protocol":             {"websocket"},
		"Sec-WebSocket-Version": {"13"},
	}
	if exts != "" {
		h.Set("Sec-WebSocket-Extensions", exts)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	req := (&http.Request{
		Method:        http.MethodConnect,
		URL:           &url.URL{Scheme: "http", Host: u.Host, Path: u.Path},
		Host:          u.Host,
		Header:        h,
		Body:          pr,
		ContentLength: -1,
	}).WithContext(ctx)
	timer := time.AfterFunc(handshakeTimeout, cancel)
	resp, err := d.cc.RoundTrip(req)
	timer.Stop()
	if err != nil {
		cancel()
		t.Fatalf("extended CONNECT: %v", err)
	}
	c := &h2ClientConn{pw: pw, body: resp.Body, cancel: cancel}
	c.SetDeadline(deadline)
	return c, bufio.NewReaderSize(c, 64<<10), resp, ""
}

// streamDeadline is a deadline for an HTTP/2 stream adapter: when it
// passes, expire runs (it ends the stream) and calls fail with a timeout.
type streamDeadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	expired bool
}

func (d *streamDeadline) set(t time.Time, expire func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if t.IsZero() {
		return
	}
	d.timer = time.AfterFunc(time.Until(t), func() {
		d.mu.Lock()
		d.expired = true
		d.mu.Unlock()
		expire()
	})
}

// wrap says what a read or write error err means for the harness: EOF
// is the peer's END_STREAM (its "TCP close"), a passed deadline a
// timeout, anything else a reset.
func (d *streamDeadline) wrap(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	d.mu.Lock()
	expired := d.expired
	d.mu.Unlock()
	if expired {
		return os.ErrDeadlineExceeded
	}
	return fmt.Errorf("%w (the stream ended: %v)", syscall.ECONNRESET, err)
}

// h2Addr is an address for the stream adapters.
type h2Addr struct{}

func (h2Addr) Network() string { return "h2" }
func (h2Addr) String() string  { return "http2-stream" }

// h2ClientConn is the suite's client end of a WebSocket stream.
type h2ClientConn struct {
	pw     *io.PipeWriter
	body   io.ReadCloser
	cancel context.CancelFunc
	dl     streamDeadline
	once   sync.Once
}

func (c *h2ClientConn) Read(p []byte) (int, error) {
	n, err := c.body.Read(p)
	return n, c.dl.wrap(err)
}

func (c *h2ClientConn) Write(p []byte) (int, error) {
	n, err := c.pw.Write(p)
	return n, c.dl.wrap(err)
}

func (c *h2ClientConn) Close() error {
	c.once.Do(func() {
		c.pw.Close()
		c.body.Close()
		c.cancel()
	})
	return nil
}

func (c *h2ClientConn) SetDeadline(t time.Time) error {
	c.dl.set(t, func() {
		c.pw.CloseWithError(os.ErrDeadlineExceeded)
		c.body.Close()
	})
	return nil
}
func (c *h2ClientConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *h2ClientConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }
func (c *h2ClientConn) LocalAddr() net.Addr                { return h2Addr{} }
func (c *h2ClientConn) RemoteAddr() net.Addr               { return h2Addr{} }

// h2Request is an extended CONNECT the fuzzing server's handler hands to
// the case; the handler returns, ending the stream, once done is closed.
type h2Request struct {
	w    http.ResponseWriter
	r    *http.Request
	done chan struct{}
}

// startH2Server serves HTTP/2 with prior knowledge on ln, handing each
// request to the case through the returned channel.
func startH2Server(ln net.Listener) (*http.Server, chan *h2Request) {
	reqs := make(chan *h2Request)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &h2Request{w: w, r: r, done: make(chan struct{})}
		select {
		case reqs <- req:
		case <-r.Context().Done():
			return
		case <-time.After(handshakeTimeout):
			http.Error(w, "no case is waiting", http.StatusServiceUnavailable)
			return
		}
		<-req.done
	})}
	// net/http's HTTP/2 server queues a stream's WINDOW_UPDATE behind
	// that stream's DATA frames, so while it waits to send DATA (here up
	// to 16 MiB of category 9) for a client whose window is full, its
	// WINDOW_UPDATEs do not go out either; a client that reads only
	// between its own writes, as an echo loop does, then waits for one
	// forever. A stream window larger than the largest message the client
	// echoes keeps the cases off that limitation of the server (see
	// docs/http2.md), which is not the client's doing.
	srv.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 32 << 20, MaxReceiveBufferPerConnection: 64 << 20}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.Protocols.SetHTTP1(true)
	go srv.Serve(ln)
	return srv, reqs
}

// acceptH2 is accept for a client that comes over HTTP/2: it takes the
// client's extended CONNECT, judges it and answers 200.
func (s *fuzzConn) acceptH2(deadline time.Time, extensions func(req *http.Request) (answer, problem string)) bool {
	s.r.Helper()
	var req *h2Request
	select {
	case req = <-s.h2reqs:
	case cerr := <-s.end:
		s.seenEnd, s.endErr = true, cerr
		s.errorf("the client did not connect: it ended with %v", cerr)
		return false
	case <-time.After(handshakeTimeout):
		s.errorf("the client did not connect within %v", handshakeTimeout)
		return false
	}
	refuse := func(format string, a ...any) bool {
		s.r.Helper()
		s.errorf("handshake: "+format, a...)
		http.Error(req.w, "refused", http.StatusBadRequest)
		close(req.done)
		return false
	}
	if msg := checkClientRequestH2(req.r, s.ln.Addr().String()); msg != "" {
		return refuse("%s", msg)
	}
	if extensions != nil {
		answer, problem := extensions(req.r)
		if problem != "" {
			return refuse("%s", problem)
		}
		req.w.Header().Set("Sec-WebSocket-Extensions", answer)
	}
	rc := http.NewResponseController(req.w)
	req.w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		close(req.done)
		s.errorf("handshake: writing the 200 response: %v", err)
		return false
	}
	c := &h2ServerConn{req: req, rc: rc}
	s.nc = c
	s.br = bufio.NewReaderSize(c, 64<<10)
	c.SetDeadline(deadline)
	return true
}

// checkClientRequestH2 judges the client's extended CONNECT (RFC 8441
// section 4 and 5). host is the address the client was given, which
// :authority must name.
func checkClientRequestH2(req *http.Request, host string) string {
	switch {
	case req.ProtoMajor != 2:
		return fmt.Sprintf("protocol %q, want HTTP/2", req.Proto)
	case req.Method != http.MethodConnect:
		return fmt.Sprintf("method %q, want CONNECT", req.Method)
	case req.Header.Get(":protocol") != "websocket":
		return fmt.Sprintf(":protocol %q, want websocket", req.Header.Get(":protocol"))
	case req.URL.RequestURI() != "/":
		return fmt.Sprintf(":path %q, want /", req.URL.RequestURI())
	case req.Host != host:
		return fmt.Sprintf(":authority %q, want %q", req.Host, host)
	case len(req.Header.Values("Sec-WebSocket-Version")) != 1 || req.Header.Get("Sec-WebSocket-Version") != "13":
		return fmt.Sprintf("Sec-WebSocket-Version: %q, want exactly 13", req.Header.Values("Sec-WebSocket-Version"))
	case len(req.Header.Values("Sec-WebSocket-Key")) > 0:
		return "a Sec-WebSocket-Key over HTTP/2, where there is no key (RFC 8441 section 5)"
	case len(req.Header.Values("Upgrade")) > 0 || len(req.Header.Values("Connection")) > 0:
		return "Upgrade or Connection headers over HTTP/2"
	}
	return ""
}

// h2ServerConn is the fuzzing server's end of a WebSocket stream.
type h2ServerConn struct {
	req    *h2Request
	rc     *http.ResponseController
	dl     streamDeadline
	mu     sync.Mutex   // held by writes; Close takes it so none runs after
	alive  sync.RWMutex // read-held by a deadline's use of the stream
	closed atomic.Bool
}

func (c *h2ServerConn) Read(p []byte) (int, error) {
	n, err := c.req.r.Body.Read(p)
	return n, c.dl.wrap(err)
}

func (c *h2ServerConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := c.req.w.Write(p)
	if err == nil {
		err = c.rc.Flush()
	}
	return n, c.dl.wrap(err)
}

// Close ends the stream: the handler returns, which sends END_STREAM.
func (c *h2ServerConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.dl.set(time.Time{}, nil)
	c.rc.SetWriteDeadline(time.Unix(1, 0)) // a write stuck on flow control gives up
	c.req.r.Body.Close()
	c.mu.Lock() // no write runs
	c.alive.Lock()
	close(c.req.done) // the handler returns: the ResponseWriter is gone
	c.alive.Unlock()
	c.mu.Unlock()
	return nil
}

func (c *h2ServerConn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return nil
	}
	c.dl.set(t, func() {
		c.alive.RLock() // not after Close: the handler may have returned
		defer c.alive.RUnlock()
		if !c.closed.Load() {
			c.req.r.Body.Close()
			c.rc.SetWriteDeadline(time.Unix(1, 0))
		}
	})
	return nil
}
func (c *h2ServerConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *h2ServerConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }
func (c *h2ServerConn) LocalAddr() net.Addr                { return h2Addr{} }
func (c *h2ServerConn) RemoteAddr() net.Addr               { return h2Addr{} }

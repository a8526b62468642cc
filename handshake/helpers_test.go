package handshake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// baseHeaders are the header lines of a minimal valid upgrade request.
var baseHeaders = []string{
	"Host: server.example.com",
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Sec-WebSocket-Version: 13",
}

// headersExcept returns baseHeaders without the lines for the given names,
// followed by extra.
func headersExcept(names []string, extra ...string) []string {
	var out []string
next:
	for _, h := range baseHeaders {
		for _, n := range names {
			if strings.HasPrefix(h, n+":") {
				continue next
			}
		}
		out = append(out, h)
	}
	return append(out, extra...)
}

// buildRequest joins a request line and header lines into a request head.
func buildRequest(line string, headers ...string) string {
	var b strings.Builder
	b.WriteString(line + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// validRequest is a minimal valid upgrade request plus extra header lines.
func validRequest(extra ...string) string {
	return buildRequest("GET /chat HTTP/1.1", append(append([]string{}, baseHeaders...), extra...)...)
}

// response is what a client received.
type response struct {
	head []byte // raw status line and headers, including the blank line
	resp *http.Response
	body string
}

// readResponse reads one response from r without reading past its body.
func readResponse(r io.Reader) (*response, error) {
	var head []byte
	var b [1]byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("reading response head %q: %w", head, err)
		}
		head = append(head, b[0])
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		return nil, fmt.Errorf("parsing response head %q: %w", head, err)
	}
	var body []byte
	if resp.ContentLength > 0 {
		body = make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("reading response body: %w", err)
		}
	}
	return &response{head: head, resp: resp, body: string(body)}, nil
}

// outcome is the result of one handshake seen from both sides.
type outcome struct {
	status int
	header http.Header
	head   []byte // raw head, only for a 101
	body   string
	close  bool // the response asked to close the connection
	res    *Result
	err    error
	client net.Conn // client end, still open after a 101
}

// hijackRecorder is a ResponseRecorder that can be hijacked: it hands out
// conn, with pre already sitting in the bufio.Reader as net/http would have
// it when the client pipelined data with its request.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	conn net.Conn
	pre  []byte
	// deadline, if set, is left on conn by Hijack, as a server that does
	// not clear its timeouts would.
	deadline time.Duration
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h.deadline > 0 {
		h.conn.SetDeadline(time.Now().Add(h.deadline))
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(h.pre), h.conn))
	if len(h.pre) > 0 {
		if _, err := br.Peek(len(h.pre)); err != nil {
			return nil, nil, err
		}
	}
	return h.conn, bufio.NewReadWriter(br, bufio.NewWriter(h.conn)), nil
}

type serverResult struct {
	res *Result
	err error
}

// viaHTTP runs Server.Upgrade on raw (parsed with http.ReadRequest) with a
// hijackable recorder over net.Pipe, pre being bytes net/http had buffered.
func viaHTTP(t *testing.T, s *Server, raw string, pre []byte) outcome {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("test request does not parse: %v", err)
	}
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), conn: srv, pre: pre}
	done := make(chan serverResult, 1)
	go func() {
		res, err := s.Upgrade(w, req)
		done <- serverResult{res, err}
	}()
	got := make(chan *response, 1)
	go func() {
		r, _ := readResponse(cli)
		got <- r
	}()
	sr := <-done
	if sr.err != nil {
		return outcome{status: w.Code, header: w.Header(), body: w.Body.String(), err: sr.err,
			close: w.Header().Get("Connection") == "close"}
	}
	r := <-got
	if r == nil {
		t.Fatal("Upgrade succeeded but the client got no response")
	}
	return outcome{status: r.resp.StatusCode, header: r.resp.Header, head: r.head, res: sr.res, client: cli}
}

// viaConn runs Server.UpgradeConn on raw sent over net.Pipe.
func viaConn(t *testing.T, s *Server, raw string) outcome {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	go cli.Write([]byte(raw))
	done := make(chan serverResult, 1)
	go func() {
		res, err := s.UpgradeConn(srv)
		done <- serverResult{res, err}
	}()
	r, rerr := readResponse(cli)
	sr := <-done
	if rerr != nil {
		t.Fatalf("client: %v (server error: %v)", rerr, sr.err)
	}
	// http.ReadResponse moves "Connection: close" into resp.Close.
	o := outcome{status: r.resp.StatusCode, header: r.resp.Header, body: r.body, res: sr.res, err: sr.err,
		close: r.resp.Close}
	if o.status == http.StatusSwitchingProtocols {
		o.head, o.client = r.head, cli
	}
	return o
}

// viaRaw runs Server.UpgradeRaw on raw sent over net.Pipe; its result is
// shown as a *Result without a Request.
func viaRaw(t *testing.T, s *Server, raw string) outcome {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	go cli.Write([]byte(raw))
	done := make(chan serverResult, 1)
	go func() {
		rr, err := s.UpgradeRaw(srv, nil)
		var res *Result
		if err == nil {
			res = &Result{Conn: srv, Buffered: rr.Buffered, Subprotocol: rr.Subprotocol, Extensions: rr.Extensions}
		}
		done <- serverResult{res, err}
	}()
	r, rerr := readResponse(cli)
	sr := <-done
	if rerr != nil {
		t.Fatalf("client: %v (server error: %v)", rerr, sr.err)
	}
	o := outcome{status: r.resp.StatusCode, header: r.resp.Header, body: r.body, res: sr.res, err: sr.err,
		close: r.resp.Close}
	if o.status == http.StatusSwitchingProtocols {
		o.head, o.client = r.head, cli
	}
	return o
}

// paths runs f for every entry point.
func paths(t *testing.T, f func(t *testing.T, run func(s *Server, raw string) outcome)) {
	t.Run("Upgrade", func(t *testing.T) {
		f(t, func(s *Server, raw string) outcome { return viaHTTP(t, s, raw, nil) })
	})
	t.Run("UpgradeConn", func(t *testing.T) {
		f(t, func(s *Server, raw string) outcome { return viaConn(t, s, raw) })
	})
	t.Run("UpgradeRaw", func(t *testing.T) {
		f(t, func(s *Server, raw string) outcome { return viaRaw(t, s, raw) })
	})
}

// requestError extracts the *RequestError from err or fails.
func requestError(t *testing.T, err error) *RequestError {
	t.Helper()
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RequestError", err, err)
	}
	return re
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// wscatBin is the binary built by TestMain.
var wscatBin string

func TestMain(m *testing.M) {
	// The in-process servers of the HTTP/2 tests need net/http to
	// advertise extended CONNECT: restart with GODEBUG=http2xconnect=1.
	if err := handshake.EnableExtendedConnect(); err != nil {
		fmt.Fprintln(os.Stderr, "HTTP/2 tests will fail:", err)
	}
	dir, err := os.MkdirTemp("", "wscat-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wscatBin = filepath.Join(dir, "wscat")
	args := []string{"build", "-o", wscatBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(args, " "), err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// echoServer starts the echo service on loopback and returns its ws URL.
func echoServer(t *testing.T) (string, *echo.Handler) {
	t.Helper()
	h := &echo.Handler{}
	h.Handshake.DangerouslyAllowAnyOrigin = true
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		ts.Close()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http"), h
}

// result is a finished wscat run.
type result struct {
	stdout, stderr string
	code           int
}

// runWscat runs the binary with stdin and args and waits for it to exit.
func runWscat(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wscatBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("wscat %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("wscat %q did not exit; stdout %q, stderr %q", args, r.stdout, r.stderr)
	}
	return r
}

// oneLineContaining checks that s is exactly one line containing all of
// want.
func oneLineContaining(t *testing.T, what, s string, want ...string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s is not one line: %q", what, s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s %q lacks %q", what, s, w)
		}
	}
}

func TestOnce(t *testing.T) {
	url, _ := echoServer(t)
	r := runWscat(t, "", "-once", "hello, echo", url)
	if r.code != 0 || r.stdout != "hello, echo\n" || r.stderr != "" {
		t.Errorf("got %+v", r)
	}
	// Flags after the URL, and binary.
	r = runWscat(t, "", url, "-binary", "-once", "hi\x01")
	if r.code != 0 || r.stdout != "[binary 3 bytes] 686901\n" || r.stderr != "" {
		t.Errorf("binary: got %+v", r)
	}
}

func TestStdinLines(t *testing.T) {
	url, _ := echoServer(t)
	// All of stdin at once, with a CRLF line, an empty line and a last line
	// without a newline.
	r := runWscat(t, "one\ntwo\r\n\nthree", url)
	if r.code != 0 || r.stdout != "one\ntwo\n\nthree\n" || r.stderr != "" {
		t.Errorf("got %+v", r)
	}
	r = runWscat(t, "caf\xe9\nok\n", url)
	if r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("invalid UTF-8: got %+v", r)
	}
	oneLineContaining(t, "stderr", r.stderr, "line 1", "UTF-8", "-binary")
	r = runWscat(t, "a\x00b\n", "-binary", url)
	if r.code != 0 || r.stdout != "[binary 3 bytes] 610062\n" {
		t.Errorf("binary lines: got %+v", r)
	}
}

func TestInteractive(t *testing.T) {
	url, _ := echoServer(t)
	cmd := exec.Command(wscatBin, url)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Each line is answered before the next is typed.
	for _, msg := range []string{"first", "second line", "third"} {
		io.WriteString(stdin, msg+"\n")
		select {
		case got := <-lines:
			if got != msg {
				t.Fatalf("got %q, want %q", got, msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no echo of %q", msg)
		}
	}
	stdin.Close()
	for extra := range lines {
		t.Errorf("unexpected output %q", extra)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || stderr.Len() != 0 {
			t.Errorf("exit: %v, stderr %q", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wscat did not exit after stdin ended")
	}
}

func TestRefusedHandshake(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	r := runWscat(t, "", "-once", "x", "ws"+strings.TrimPrefix(ts.URL, "http")+"/nothing")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("got %+v", r)
	}
	oneLineContaining(t, "stderr", r.stderr, "wscat: ", "404", "404 page not found")
	if n := strings.Count(r.stderr, "404 page not found"); n != 1 {
		t.Errorf("the server's reason appears %d times in %q, want once", n, r.stderr)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := runWscat(t, "hello\n", "ws://"+addr+"/")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("got %+v", r)
	}
	oneLineContaining(t, "stderr", r.stderr, "wscat: ", addr, "refused")
}

func TestHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		// Accept and say nothing.
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	start := time.Now()
	r := runWscat(t, "", "-timeout", "300ms", "-once", "x", "ws://"+ln.Addr().String()+"/")
	if r.code != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("got %+v after %v", r, time.Since(start))
	}
	oneLineContaining(t, "stderr", r.stderr, "timeout")
}

// closingServer accepts WebSocket connections, records the request and
// closes each with code and reason after echoing one message.
func closingServer(t *testing.T, code pipeline.CloseCode, reason string, hs *handshake.Server) (string, <-chan *http.Request) {
	t.Helper()
	reqs := make(chan *http.Request, 4)
	var wg sync.WaitGroup
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := pipeline.Accept(w, r, hs, nil)
		if err != nil {
			return
		}
		reqs <- r
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if typ, msg, err := c.ReadMessage(ctx, nil); err == nil {
			c.WriteMessage(ctx, typ, msg)
		}
		c.Close(code, reason)
	}))
	t.Cleanup(func() {
		ts.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http"), reqs
}

func TestServerCloses(t *testing.T) {
	tests := []struct {
		code     pipeline.CloseCode
		reason   string
		wantExit int
	}{
		{pipeline.CloseNormal, "done", 0},
		{pipeline.CloseGoingAway, "", 0},
		{4000, "custom \"bye\"", 1},
		{pipeline.ClosePolicyViolation, "no", 1},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			url, _ := closingServer(t, tt.code, tt.reason, &handshake.Server{})
			// Stdin stays open (the test holds it), so the close comes
			// from the server.
			cmd := exec.Command(wscatBin, url)
			pw, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			io.WriteString(pw, "ping\n")
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("wscat did not exit after the server closed")
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tt.wantExit || stdout.String() != "ping\n" {
				t.Errorf("exit %d (want %d), stdout %q", code, tt.wantExit, stdout.String())
			}
			oneLineContaining(t, "stderr", stderr.String(), "server closed", fmt.Sprint(int(tt.code)))
			if tt.reason != "" && !strings.Contains(stderr.String(), fmt.Sprintf("%q", tt.reason)) {
				t.Errorf("stderr %q lacks the reason", stderr.String())
			}
		})
	}
	t.Run("going away in -once mode", func(t *testing.T) {
		// The echo service shutting down closes with 1001 before a reply.
		url, h := echoServer(t)
		h.Shutdown(context.Background())
		r := runWscat(t, "", "-once", "x", url)
		if r.code != 1 {
			t.Errorf("got %+v", r)
		}
	})
}

func TestRequestFlags(t *testing.T) {
	url, reqs := closingServer(t, pipeline.CloseNormal, "", &handshake.Server{
		Subprotocols:   []string{"c"},
		OriginPatterns: []string{"app.example"},
	})
	r := runWscat(t, "", "-H", "Authorization: Bearer xyz", "-H", "X-Multi: 1", "-H", "X-Multi:2",
		"-subprotocol", "a, b", "-subprotocol", "c", "-origin", "https://app.example", "-once", "hi", url)
	if r.code != 0 || r.stdout != "hi\n" {
		t.Errorf("got %+v", r)
	}
	req := <-reqs
	if got := req.Header.Get("Authorization"); got != "Bearer xyz" {
		t.Errorf("Authorization %q", got)
	}
	if got := req.Header.Values("X-Multi"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("X-Multi %q", got)
	}
	if got := req.Header.Get("Sec-WebSocket-Protocol"); got != "a, b, c" {
		t.Errorf("Sec-WebSocket-Protocol %q", got)
	}
	if got := req.Header.Get("Origin"); got != "https://app.example" {
		t.Errorf("Origin %q", got)
	}
	// The server refuses another origin with 403.
	r = runWscat(t, "", "-origin", "https://evil.example", "-once", "hi", url)
	if r.code != 1 {
		t.Errorf("got %+v", r)
	}
	oneLineContaining(t, "stderr", r.stderr, "403", "origin not allowed")
}

func TestProxyFlag(t *testing.T) {
	url, _ := echoServer(t)
	var tunnels atomic.Int32
	var wg sync.WaitGroup
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
		if r.Method != http.MethodConnect || r.Header.Get("Proxy-Authorization") != want {
			http.Error(w, "no", http.StatusProxyAuthRequired)
			return
		}
		target, err := net.Dial("tcp", r.Host) // the test only names loopback targets
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		client, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			target.Close()
			return
		}
		tunnels.Add(1)
		io.WriteString(client, "HTTP/1.1 200 OK\r\n\r\n")
		wg.Add(2)
		for _, pair := range [][2]net.Conn{{client, target}, {target, client}} {
			go func() {
				defer wg.Done()
				io.Copy(pair[0], pair[1])
				pair[0].Close()
				pair[1].Close()
			}()
		}
	}))
	defer func() { proxy.Close(); wg.Wait() }()
	host := strings.TrimPrefix(proxy.URL, "http://")

	r := runWscat(t, "", "-proxy", "http://u:p@"+host, "-once", "via proxy", url)
	if r.code != 0 || r.stdout != "via proxy\n" || tunnels.Load() != 1 {
		t.Errorf("got %+v with %d tunnels", r, tunnels.Load())
	}
	r = runWscat(t, "", "-proxy", "u:wrong@"+host, "-once", "x", url)
	if r.code != 1 || tunnels.Load() != 1 {
		t.Errorf("got %+v with %d tunnels", r, tunnels.Load())
	}
	oneLineContaining(t, "stderr", r.stderr, "proxy", "407")
	if strings.Contains(r.stderr, "wrong") {
		t.Errorf("stderr %q shows the password", r.stderr)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"ws://a/", "ws://b/"},
		{"-H", "no colon", "ws://a/"},
		{"-timeout", "0", "ws://a/"},
		{"-proxy", "socks5://p:1080", "ws://a/"},
		{"-nosuchflag", "ws://a/"},
	} {
		r := runWscat(t, "", args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "wscat: ") {
			t.Errorf("%q: got %+v", args, r)
		}
	}
	if r := runWscat(t, "", "-h"); r.code != 0 || !strings.Contains(r.stderr, "Usage: wscat") {
		t.Errorf("-h: got %+v", r)
	}
	if r := runWscat(t, "", "-once", "x", "ftp://example.com/"); r.code != 1 || !strings.Contains(r.stderr, "scheme") {
		t.Errorf("bad scheme: got %+v", r)
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-H", "A: 1", "ws://h/p", "-subprotocol", "x,,y ", "-H", "b:two words", "-proxy", "p:8080"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.url != "ws://h/p" || c.header.Get("A") != "1" || c.header.Get("B") != "two words" ||
		!slices.Equal(c.subprotocols, []string{"x", "y"}) || c.proxy.String() != "http://p:8080" || c.onceSet {
		t.Errorf("config %+v", c)
	}
	c, err = parseFlags([]string{"-once", "", "-insecure", "wss://h/"}, io.Discard)
	if err != nil || !c.onceSet || c.once != "" || c.client().TLSConfig == nil || !c.client().TLSConfig.InsecureSkipVerify {
		t.Errorf("config %+v, %v", c, err)
	}
}

// -http2 require opens the WebSocket over HTTP/2 (h2c here) and says so;
// against a server without HTTP/2 it fails with one line, and -http2
// prefer falls back to HTTP/1.1.
func TestHTTP2Flag(t *testing.T) {
	h := &echo.Handler{}
	ts := httptest.NewUnstartedServer(h)
	if err := handshake.ConfigureHTTP2(ts.Config, true); err != nil {
		t.Fatal(err)
	}
	ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		ts.Close()
	})
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	r := runWscat(t, "", "-http2", "require", "-once", "over h2", url)
	if r.code != 0 || r.stdout != "over h2\n" || r.stderr != "wscat: over HTTP/2\n" {
		t.Errorf("require, h2c server: %+v", r)
	}
	plain, _ := echoServer(t)
	r = runWscat(t, "", "-http2", "require", "-once", "x", plain)
	if r.code != 1 {
		t.Errorf("require, HTTP/1.1 server: %+v", r)
	}
	oneLineContaining(t, "stderr", r.stderr, "HTTP/2", "h2c")
	r = runWscat(t, "", "-http2", "prefer", "-once", "fallback", plain)
	if r.code != 0 || r.stdout != "fallback\n" || r.stderr != "wscat: over HTTP/1\n" {
		t.Errorf("prefer, HTTP/1.1 server: %+v", r)
	}
	if r := runWscat(t, "", "-http2", "maybe", plain); r.code != 2 {
		t.Errorf("-http2 maybe: %+v", r)
	}
}

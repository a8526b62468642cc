package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

func TestDefaults(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		addr:            "localhost:4567",
		path:            "/",
		maxMessage:      0, // no limit
		shutdownTimeout: 5 * time.Second,
		ping:            30 * time.Second,
		compress:        true,
		tidy:            time.Second,
		http2:           true, // with TLS
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
}

func TestParseFlags(t *testing.T) {
	ok := []struct {
		args  []string
		check func(config) bool
	}{
		{[]string{"-addr", "127.0.0.1:0"}, func(c config) bool { return c.addr == "127.0.0.1:0" }},
		{[]string{"-addr", ":4567"}, func(c config) bool { return c.addr == ":4567" }},
		{[]string{"-path", "/chat"}, func(c config) bool { return c.path == "/chat" }},
		{[]string{"-path", "/a/b/"}, func(c config) bool { return c.path == "/a/b/" }},
		{[]string{"-reply"}, func(c config) bool { return c.reply }},
		{[]string{"-v"}, func(c config) bool { return c.verbose }},
		{[]string{"-max-message", "0"}, func(c config) bool { return c.maxMessage == 0 }},
		{[]string{"-max-message", "-1"}, func(c config) bool { return c.maxMessage == -1 }},
		{[]string{"-max-message", "1024"}, func(c config) bool { return c.maxMessage == 1024 }},
		{[]string{"-shutdown-timeout", "250ms"}, func(c config) bool { return c.shutdownTimeout == 250*time.Millisecond }},
		{[]string{"-tidy", "0"}, func(c config) bool { return c.tidy == 0 }},
		{[]string{"-tidy", "5s"}, func(c config) bool { return c.tidy == 5*time.Second }},
		{[]string{"-origin", ""}, func(c config) bool { return c.origins == nil }},
		{[]string{"-origin", "example.com, *.example.net ,localhost:*"}, func(c config) bool {
			return reflect.DeepEqual(c.origins, []string{"example.com", "*.example.net", "localhost:*"})
		}},
		{[]string{"-origin", "https://example.com,http://localhost:8080"}, func(c config) bool {
			return reflect.DeepEqual(c.origins, []string{"example.com", "localhost:8080"})
		}},
	}
	for _, tc := range ok {
		c, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Errorf("parseFlags(%q): %v", tc.args, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("parseFlags(%q) = %+v", tc.args, c)
		}
	}

	bad := [][]string{
		{"-addr", "4567"},
		{"-addr", "localhost"},
		{"-path", "chat"},
		{"-path", ""},
		{"-path", "/a//b"},
		{"-path", "/a/../b"},
		{"-tidy", "-1s"},
		{"-path", "/{x}"},
		{"-path", "/a b"},
		{"-origin", "[bad"},
		{"-shutdown-timeout", "0s"},
		{"-max-message", "lots"},
		{"-nosuchflag"},
		{"extra"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded, want an error", args)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-path", "nope"}, io.Discard, &stderr); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-path") {
		t.Errorf("bad flag: stderr %q does not name the flag", stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-h"}, io.Discard, &stderr); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	for _, f := range []string{"-addr", "-path", "-reply", "-max-message", "-origin", "-v"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("-h output does not mention %s:\n%s", f, stderr.String())
		}
	}
}

func TestPublicURL(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		requested, bound, path, want string
	}{
		{"localhost:4567", "127.0.0.1:4567", "/", "ws://localhost:4567/"},
		{"127.0.0.1:0", "127.0.0.1:38211", "/", "ws://127.0.0.1:38211/"},
		{":4567", "[::]:4567", "/chat", "ws://localhost:4567/chat"},
		{"0.0.0.0:0", "0.0.0.0:5000", "/", "ws://localhost:5000/"},
		{"[::1]:0", "[::1]:6000", "/ws/", "ws://[::1]:6000/ws/"},
	}
	for _, tc := range tests {
		if got := publicURL("ws", tc.requested, tcp(tc.bound), tc.path); got != tc.want {
			t.Errorf("publicURL(%q, %s, %q) = %q, want %q", tc.requested, tc.bound, tc.path, got, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a run() started in this process.
type server struct {
	url    string // as printed on stdout
	stdout []string
	stderr *syncBuffer
	stop   func() int // cancels run's context and returns its exit status
}

// httpURL is the server's URL with http instead of ws.
func (s *server) httpURL() string { return "http" + strings.TrimPrefix(s.url, "ws") }

// startRun runs the command in this process with args and waits for it to
// print its URL. The server is stopped at the end of the test.
func startRun(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{stderr: &syncBuffer{}}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, args, pw, s.stderr)
		pw.Close()
		done <- code
	}()
	lines := make(chan string, 1)
	var rest []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			} else {
				rest = append(rest, sc.Text())
			}
		}
		if first {
			close(lines)
		}
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("run(%q) exited with %d before printing its URL; stderr:\n%s", args, <-done, s.stderr)
		}
		s.url = line
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("run(%q) printed no URL within 10s; stderr:\n%s", args, s.stderr)
	}
	var once sync.Once
	var code int
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(15 * time.Second):
				// Errorf, not Fatalf: stop may run on another goroutine.
				t.Errorf("run(%q) did not return within 15s of its shutdown; stderr:\n%s", args, s.stderr)
				code = -1
				return
			}
			<-readDone
			s.stdout = append([]string{s.url}, rest...)
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func TestListenOnFreePortPrintsURL(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0")
	if !regexp.MustCompile(`^ws://127\.0\.0\.1:[1-9][0-9]*/$`).MatchString(s.url) {
		t.Errorf("printed URL %q, want ws://127.0.0.1:PORT/", s.url)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, "msg=listening") || !strings.Contains(logs, "addr="+strings.TrimSuffix(strings.TrimPrefix(s.url, "ws://"), "/")) {
		t.Errorf("no 'listening' log line with the bound address:\n%s", logs)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit status %d after shutdown, want 0", code)
	}
	if len(s.stdout) != 1 {
		t.Errorf("stdout has %d lines, want exactly 1: %q", len(s.stdout), s.stdout)
	}
}

func TestPlainGETServesConsolePage(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0")
	resp, err := http.Get(s.httpURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	for _, want := range []string{`<ul id="log"`, "new WebSocket(", `params.get("send")`, `params.get("url")`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No external resources: nothing is loaded from another host.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Find(body); m != nil {
		t.Errorf("page loads an external resource: %s", m)
	}

	resp, err = http.Head(s.httpURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD /: %s", resp.Status)
	}

	resp, err = http.Get(s.httpURL() + "other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %s, want 404 (the path matches exactly)", resp.Status)
	}
}

func TestCustomPath(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0", "-path", "/chat")
	if !strings.HasSuffix(s.url, "/chat") {
		t.Fatalf("URL %q does not end in /chat", s.url)
	}
	base := strings.TrimSuffix(s.httpURL(), "chat")
	for path, want := range map[string]int{"chat": 200, "": 404, "chat/x": 404, "chatter": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /%s: %s, want %d", path, resp.Status, want)
		}
	}
	c, _ := dialRaw(t, s.url)
	if c == nil {
		t.Fatalf("no WebSocket on %s", s.url)
	}
	c.writeFrame(opText, []byte("Hello"))
	if f := c.readMessage(t); string(f.payload) != "Hello" {
		t.Errorf("echo on /chat = %q", f.payload)
	}
}

func TestEcho(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0")
	c, resp := dialRaw(t, s.url)
	if c == nil {
		t.Fatalf("handshake: %s", resp.Status)
	}
	for _, msg := range []string{"Hello", "", "héllo wörld", strings.Repeat("x", 70000)} {
		if err := c.writeFrame(opText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		f := c.readMessage(t)
		if f.opcode != opText || string(f.payload) != msg {
			t.Errorf("sent text %.20q (%d bytes), got opcode %d %.20q (%d bytes)", msg, len(msg), f.opcode, f.payload, len(f.payload))
		}
	}
	bin := []byte{0, 1, 2, 0xFF}
	c.writeFrame(opBinary, bin)
	if f := c.readMessage(t); f.opcode != opBinary || !bytes.Equal(f.payload, bin) {
		t.Errorf("sent binary %x, got opcode %d %x", bin, f.opcode, f.payload)
	}

	// A clean close from the client is answered and logged.
	c.writeFrame(opClose, closeBody(1000, "bye"))
	if code, _ := c.readClose(t, 5*time.Second); code != 1000 {
		t.Errorf("close reply code %d, want 1000", code)
	}
}

func TestReplyMode(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0", "-reply")
	c, resp := dialRaw(t, s.url)
	if c == nil {
		t.Fatalf("handshake: %s", resp.Status)
	}
	c.writeFrame(opText, []byte("Hello"))
	if f := c.readMessage(t); string(f.payload) != "Received Hello. Thanks!" {
		t.Errorf("reply = %q, want %q", f.payload, "Received Hello. Thanks!")
	}
}

func TestOriginFlag(t *testing.T) {
	open := startRun(t, "-addr", "127.0.0.1:0")
	if c, resp := dialRaw(t, open.url, "Origin: http://anywhere.example"); c == nil {
		t.Errorf("default: cross-origin handshake refused with %s, want it accepted", resp.Status)
	}

	strict := startRun(t, "-addr", "127.0.0.1:0", "-origin", "allowed.example,*.friends.example")
	host := strings.TrimSuffix(strings.TrimPrefix(strict.url, "ws://"), "/")
	tests := []struct {
		origin string // "" sends none
		ok     bool
	}{
		{"", true}, // not a browser
		{"http://allowed.example", true},
		{"https://a.friends.example", true},
		{"http://" + host, true}, // the server's own page
		{"http://evil.example", false},
		{"http://allowed.example.evil", false},
	}
	for _, tc := range tests {
		var extra []string
		if tc.origin != "" {
			extra = append(extra, "Origin: "+tc.origin)
		}
		c, resp := dialRaw(t, strict.url, extra...)
		switch {
		case tc.ok && c == nil:
			t.Errorf("Origin %q: refused with %s, want accepted", tc.origin, resp.Status)
		case !tc.ok && c != nil:
			t.Errorf("Origin %q: accepted, want refused", tc.origin)
		case !tc.ok && resp.StatusCode != http.StatusForbidden:
			t.Errorf("Origin %q: %s, want 403", tc.origin, resp.Status)
		}
	}
}

func TestMaxMessage(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0", "-max-message", "16")
	c, resp := dialRaw(t, s.url)
	if c == nil {
		t.Fatalf("handshake: %s", resp.Status)
	}
	c.writeFrame(opText, []byte("sixteen bytes ok"))
	if f := c.readMessage(t); string(f.payload) != "sixteen bytes ok" {
		t.Errorf("16-byte message echoed as %q", f.payload)
	}
	c.writeFrame(opText, []byte("seventeen bytes!!"))
	if code, _ := c.readClose(t, 5*time.Second); code != 1009 {
		t.Errorf("17-byte message: close code %d, want 1009 (message too big)", code)
	}
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0")
	c, resp := dialRaw(t, s.url)
	if c == nil {
		t.Fatalf("handshake: %s", resp.Status)
	}
	c.writeFrame(opText, []byte("Hello"))
	c.readMessage(t)

	done := make(chan int, 1)
	go func() { done <- s.stop() }()
	code, _ := c.readClose(t, 10*time.Second)
	if code != 1001 {
		t.Errorf("close code %d on shutdown, want 1001 (going away)", code)
	}
	c.writeFrame(opClose, closeBody(1001, ""))
	if status := <-done; status != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", status, s.stderr)
	}
}

func TestProxyDroppedUpgradeGets400(t *testing.T) {
	// A WebSocket client's request after a proxy that drops hop-by-hop
	// headers: it must learn why, not get the console page.
	s := startRun(t, "-addr", "127.0.0.1:0")
	host := strings.TrimSuffix(strings.TrimPrefix(s.url, "ws://"), "/")
	for name, req := range map[string]string{
		"Upgrade and Connection dropped": "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"Connection dropped": "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("proxy")) ||
				!bytes.Contains(body, []byte("Upgrade")) {
				t.Errorf("got %s %q, want 400 naming the header and a proxy", resp.Status, body)
			}
		})
	}
}

func TestMessageLimit(t *testing.T) {
	for n, want := range map[int64]int64{0: -1, -1: -1, -5: -1, 1: 1, 1 << 20: 1 << 20} {
		if got := messageLimit(n); got != want {
			t.Errorf("messageLimit(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestEchoesMessageBeyondOldLimit(t *testing.T) {
	// 40 MiB, past the 32 MiB limit the server had by default, streamed
	// both ways in 64 KiB pieces: neither side holds the message.
	const chunk, chunks = 64 << 10, 640
	s := startRun(t, "-addr", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, _, err := pipeline.Dial(ctx, s.url, nil, &pipeline.Options{MaxMessageSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(pipeline.CloseNormal, "")

	// Piece k is base with k in its first 8 bytes.
	base := make([]byte, chunk)
	for i := range base {
		base[i] = byte(i*7 + i>>8)
	}
	piece := func(buf []byte, k int) {
		copy(buf, base)
		binary.LittleEndian.PutUint64(buf, uint64(k))
	}
	sent := make(chan error, 1)
	go func() {
		w, err := c.NextWriter(ctx, pipeline.Binary)
		if err != nil {
			sent <- err
			return
		}
		buf := make([]byte, chunk)
		for k := range chunks {
			piece(buf, k)
			if _, err := w.Write(buf); err != nil {
				sent <- err
				return
			}
		}
		sent <- w.Close()
	}()

	typ, r, err := c.NextReader(ctx)
	if err != nil {
		t.Fatalf("no echo: %v (sender: %v)", err, <-sent)
	}
	if typ != pipeline.Binary {
		t.Errorf("echo is %v, want binary", typ)
	}
	got, want := make([]byte, chunk), make([]byte, chunk)
	for k := range chunks {
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("echo ended after %d bytes: %v (sender: %v)", k*chunk, err, <-sent)
		}
		piece(want, k)
		if !bytes.Equal(got, want) {
			t.Fatalf("piece %d of the echo differs", k)
		}
	}
	if n, err := r.Read(got); n != 0 || err != io.EOF {
		t.Fatalf("echo goes on past %d bytes: %d more, %v", chunks*chunk, n, err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("sending: %v", err)
	}
}

package handshake

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

var requestSeeds = []string{
	validRequest(),
	validRequest() + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
	"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
	validRequest("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; a=\"1\""),
	validRequest("Sec-WebSocket-Protocol: superchat", "Sec-WebSocket-Protocol: chat", "Origin: http://server.example.com"),
	buildRequest("GET http://server.example.com/x HTTP/1.1", headersExcept([]string{"Host"})...),
	buildRequest("GET / HTTP/1.1", headersExcept([]string{"Connection"}, "connection: keep-alive,\tupgrade")...),
	"GET / HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: upgrade\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\nSec-WebSocket-Version: 13\n\n",
	buildRequest("POST /chat HTTP/1.1", baseHeaders...),
	buildRequest("GET /chat HTTP/1.0", baseHeaders...),
	buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: short")...),
	validRequest("Origin: null"),
	validRequest("Sec-WebSocket-Extensions: foo; =1"),
	validRequest("Content-Length: 3") + "abc",
	validRequest("Transfer-Encoding: chunked") + "0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	"\r\n\r\n",
	"",
	"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03", // a TLS ClientHello's start
	"GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n\r\n",
}

var fuzzServers = []*Server{
	{},
	{
		Subprotocols:   []string{"chat", "superchat", "a"},
		OriginPatterns: []string{"*.example.com", "example.com", "localhost:*"},
		Extensions:     func(offers []Extension) []Extension { return offers[:1] },
		Header:         http.Header{"X-Test": {"1"}},
	},
	{DangerouslyAllowAnyOrigin: true, Extensions: func(o []Extension) []Extension { return o }},
}

// FuzzParseRequest feeds arbitrary bytes to the raw-connection request
// reader and the validation behind UpgradeConn. It must not panic; refusals
// must be well-formed responses; and every accepted request must yield a
// well-formed 101 whose Sec-WebSocket-Accept matches its key.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 4096
		r := bytes.NewReader(data)
		req, buffered, rerr := readRequest(r, max)
		if rerr != nil {
			checkRefusal(t, rerr)
			return
		}
		// Buffered is exactly what was read past the header block: at most
		// max bytes are read, and the rest stays in the reader, as it stays
		// in a connection.
		read := len(data) - r.Len()
		head := read - len(buffered)
		if read > max || head < 0 || !bytes.Equal(data[head:read], buffered) || !bytes.HasSuffix(data[:head], []byte("\n")) {
			t.Fatalf("read %d bytes, buffered %q is not what follows the header block", read, buffered)
		}
		for _, s := range fuzzServers {
			n, rerr := s.negotiate(req)
			if rerr != nil {
				checkRefusal(t, rerr)
				continue
			}
			checkAccepted(t, s, req, n)
		}
	})
}

func checkRefusal(t *testing.T, rerr *RequestError) {
	t.Helper()
	known := []error{ErrBadMethod, ErrBadProtocol, ErrBadUpgrade, ErrBadConnection, ErrBadVersion, ErrBadKey,
		ErrForbiddenOrigin, ErrBadExtensions, ErrExtensionsHook, ErrMalformedRequest, ErrRequestTooLarge, ErrTimeout}
	found := false
	for _, e := range known {
		found = found || errors.Is(rerr, e)
	}
	if !found || rerr.Reason == "" {
		t.Fatalf("unknown refusal %#v", rerr)
	}
	if rerr.Status == 0 {
		return
	}
	if rerr.Err == ErrExtensionsHook {
		t.Fatalf("Extensions hook output rejected: %v", rerr)
	}
	raw := rawRefusal(rerr)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("refusal %q does not parse: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != rerr.Status || string(body) != rerr.Reason+"\n" {
		t.Fatalf("refusal %q parsed as %d %q (%v)", raw, resp.StatusCode, body, err)
	}
}

func checkAccepted(t *testing.T, s *Server, req *http.Request, n *negotiation) {
	t.Helper()
	keys := req.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		t.Fatalf("accepted with keys %q", keys)
	}
	key := strings.Trim(keys[0], " \t")
	if dec, err := base64.StdEncoding.DecodeString(key); err != nil || len(dec) != 16 {
		t.Fatalf("accepted key %q decodes to %d bytes (%v)", key, len(dec), err)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	wantAccept := base64.StdEncoding.EncodeToString(sum[:])

	raw := s.response(n)
	br := bufio.NewReader(bytes.NewReader(raw))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("101 %q does not parse: %v", raw, err)
	}
	if br.Buffered() != 0 || !bytes.HasSuffix(raw, []byte("\r\n\r\n")) {
		t.Fatalf("101 %q has bytes after its head", raw)
	}
	h := resp.Header
	if resp.StatusCode != 101 || h.Get("Upgrade") != "websocket" || h.Get("Sec-WebSocket-Accept") != wantAccept {
		t.Fatalf("101 %q: wrong status or accept (want %s)", raw, wantAccept)
	}
	if p := h.Values("Sec-WebSocket-Protocol"); n.subprotocol == "" && len(p) != 0 ||
		n.subprotocol != "" && (len(p) != 1 || p[0] != n.subprotocol) {
		t.Fatalf("Sec-WebSocket-Protocol %q for %q", p, n.subprotocol)
	}
	if n.subprotocol != "" && !listElements(req.Header.Values("Sec-WebSocket-Protocol"),
		func(e string) bool { return e == n.subprotocol }) {
		t.Fatalf("subprotocol %q was not offered", n.subprotocol)
	}
	got, err := ParseExtensions(h.Values("Sec-WebSocket-Extensions"))
	if err != nil || !reflect.DeepEqual(got, n.extensions) && !(len(got) == 0 && len(n.extensions) == 0) {
		t.Fatalf("Sec-WebSocket-Extensions %q parses to %+v (%v), want %+v", h.Values("Sec-WebSocket-Extensions"), got, err, n.extensions)
	}
}

// FuzzParseExtensions checks that ParseExtensions never panics, that what it
// accepts is made of tokens, and that FormatExtensions writes it back in a
// form that parses to the same value.
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"", "permessage-deflate", "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
		`foo; bar="baz"`, `foo; bar="b\az"`, "foo,,bar,", " foo ;a = 1 ,\tbar", "foo, foo; a=1; a=2",
		"foo;", "foo; =1", `foo; a="b c"`, `foo; a="x\"`, "foo bar", "\x00", `x; a="`, "x;a=\"\\\x7f\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exts, err := ParseExtensions([]string{s})
		if err != nil {
			return
		}
		for _, e := range exts {
			if !isToken(e.Name) {
				t.Fatalf("name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !isToken(p.Name) || p.HasValue != (p.Value != "") || p.HasValue && !isToken(p.Value) {
					t.Fatalf("bad param %+v", p)
				}
			}
		}
		formatted := FormatExtensions(exts)
		again, err := ParseExtensions([]string{formatted})
		if err != nil || !reflect.DeepEqual(again, exts) {
			t.Fatalf("%q -> %+v -> %q -> %+v (%v)", s, exts, formatted, again, err)
		}
		// Splitting the list over two header lines at a top-level comma
		// changes nothing.
		if i := strings.IndexByte(formatted, ','); i >= 0 {
			split, err := ParseExtensions([]string{formatted[:i], formatted[i+1:]})
			if err != nil || !reflect.DeepEqual(split, exts) {
				t.Fatalf("split %q: %+v (%v)", formatted, split, err)
			}
		}
	})
}

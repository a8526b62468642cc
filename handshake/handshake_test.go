package handshake

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 section 1.3.
	if got, want := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("AcceptKey = %q, want %q", got, want)
	}
	if strings.ContainsAny(AcceptKey("x"), "\r\n") {
		t.Fatal("AcceptKey output contains a newline")
	}
}

// The complete example of RFC 6455 section 1.3, byte for byte. Origin
// http://example.com differs from Host server.example.com, so the server
// must allow it explicitly.
func TestRFCExample(t *testing.T) {
	const req = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Origin: http://example.com\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	const want = "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: chat\r\n" +
		"\r\n"
	s := &Server{Subprotocols: []string{"chat"}, OriginPatterns: []string{"example.com"}}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		o := run(s, req)
		if o.err != nil {
			t.Fatalf("handshake failed: %v", o.err)
		}
		if string(o.head) != want {
			t.Fatalf("response\n%q\nwant\n%q", o.head, want)
		}
		if o.res.Subprotocol != "chat" || o.res.Extensions != nil || o.res.Buffered != nil {
			t.Fatalf("result %+v", o.res)
		}
		// UpgradeRaw builds no *http.Request, by design.
		if !strings.HasSuffix(t.Name(), "/UpgradeRaw") &&
			(o.res.Request == nil || o.res.Request.URL.Path != "/chat" || o.res.Request.Host != "server.example.com") {
			t.Fatalf("result request %+v", o.res.Request)
		}
		if o.res.Conn == nil {
			t.Fatal("nil Conn")
		}
	})
}

func TestRefusals(t *testing.T) {
	const key = "Sec-WebSocket-Key"
	cases := []struct {
		name     string
		raw      string
		status   int
		sentinel error
		header   [2]string // extra header the refusal must carry
	}{
		{"POST", buildRequest("POST /chat HTTP/1.1", baseHeaders...), 405, ErrBadMethod, [2]string{"Allow", "GET"}},
		{"HEAD", buildRequest("HEAD /chat HTTP/1.1", baseHeaders...), 405, ErrBadMethod, [2]string{"Allow", "GET"}},
		{"HTTP/1.0", buildRequest("GET /chat HTTP/1.0", baseHeaders...), 400, ErrBadProtocol, [2]string{}},
		{"no Host", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Host"})...), 400, ErrMalformedRequest, [2]string{}},
		{"body", buildRequest("GET /chat HTTP/1.1", append(baseHeaders[:len(baseHeaders):len(baseHeaders)], "Content-Length: 5")...) + "hello", 400, ErrMalformedRequest, [2]string{}},
		{"no Upgrade", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade"})...), 400, ErrBadUpgrade, [2]string{}},
		{"Upgrade h2c", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade"}, "Upgrade: h2c")...), 400, ErrBadUpgrade, [2]string{}},
		{"Upgrade websocketx", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade"}, "Upgrade: websocketx")...), 400, ErrBadUpgrade, [2]string{}},
		{"Upgrade websocket/13", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade"}, "Upgrade: websocket/13")...), 400, ErrBadUpgrade, [2]string{}},
		{"no Connection", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Connection"})...), 400, ErrBadConnection, [2]string{}},
		{"Connection keep-alive", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Connection"}, "Connection: keep-alive")...), 400, ErrBadConnection, [2]string{}},
		{"Connection upgraded", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Connection"}, "Connection: upgraded")...), 400, ErrBadConnection, [2]string{}},
		{"no version", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Sec-WebSocket-Version"})...), 426, ErrBadVersion, [2]string{"Sec-WebSocket-Version", "13"}},
		{"version 8", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8")...), 426, ErrBadVersion, [2]string{"Sec-WebSocket-Version", "13"}},
		{"version list", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 13, 8")...), 426, ErrBadVersion, [2]string{"Sec-WebSocket-Version", "13"}},
		{"version twice", validRequest("Sec-WebSocket-Version: 13"), 426, ErrBadVersion, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no key", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key})...), 400, ErrBadKey, [2]string{}},
		{"empty key", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key}, key+":")...), 400, ErrBadKey, [2]string{}},
		{"key twice", validRequest(key + ": AAAAAAAAAAAAAAAAAAAAAA=="), 400, ErrBadKey, [2]string{}},
		{"key not base64", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key}, key+": !!!!!!!!!!!!!!!!!!!!!!==")...), 400, ErrBadKey, [2]string{}},
		{"key 15 bytes", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key}, key+": AAAAAAAAAAAAAAAAAAAA")...), 400, ErrBadKey, [2]string{}},
		{"key 17 bytes", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key}, key+": AAAAAAAAAAAAAAAAAAAAAAA=")...), 400, ErrBadKey, [2]string{}},
		{"key unpadded", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key}, key+": AAAAAAAAAAAAAAAAAAAAAA")...), 400, ErrBadKey, [2]string{}},
		{"key url encoding", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{key}, key+": ____AAAAAAAAAAAAAAAAAA==")...), 400, ErrBadKey, [2]string{}},
		{"cross origin", validRequest("Origin: http://evil.example"), 403, ErrForbiddenOrigin, [2]string{}},
		{"origin null", validRequest("Origin: null"), 403, ErrForbiddenOrigin, [2]string{}},
		{"two origins", validRequest("Origin: http://server.example.com", "Origin: http://server.example.com"), 403, ErrForbiddenOrigin, [2]string{}},
		{"bad extensions", validRequest("Sec-WebSocket-Extensions: permessage-deflate; =1"), 400, ErrBadExtensions, [2]string{}},
		{"bad extensions second line", validRequest("Sec-WebSocket-Extensions: foo", "Sec-WebSocket-Extensions: bar baz"), 400, ErrBadExtensions, [2]string{}},
	}
	all := []error{ErrBadMethod, ErrBadProtocol, ErrBadUpgrade, ErrBadConnection, ErrBadVersion, ErrBadKey,
		ErrForbiddenOrigin, ErrBadExtensions, ErrExtensionsHook, ErrMalformedRequest, ErrRequestTooLarge, ErrTimeout, ErrHijack}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				o := run(&Server{}, c.raw)
				if o.err == nil {
					t.Fatalf("accepted with status %d", o.status)
				}
				if !errors.Is(o.err, c.sentinel) {
					t.Fatalf("error %v does not match %v", o.err, c.sentinel)
				}
				for _, e := range all {
					if e != c.sentinel && errors.Is(o.err, e) {
						t.Fatalf("error %v also matches %v", o.err, e)
					}
				}
				re := requestError(t, o.err)
				if re.Status != c.status || o.status != c.status {
					t.Fatalf("status: error says %d, client got %d, want %d", re.Status, o.status, c.status)
				}
				if o.body != re.Reason+"\n" || re.Reason == "" {
					t.Fatalf("body %q, reason %q", o.body, re.Reason)
				}
				if got := o.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
					t.Fatalf("Content-Type %q", got)
				}
				if !o.close {
					t.Fatal("refusal does not ask to close the connection")
				}
				if c.header[0] != "" && o.header.Get(c.header[0]) != c.header[1] {
					t.Fatalf("header %s = %q, want %q", c.header[0], o.header.Get(c.header[0]), c.header[1])
				}
				if o.header.Get("Sec-WebSocket-Accept") != "" {
					t.Fatal("refusal carries Sec-WebSocket-Accept")
				}
			})
		}
	})
}

// Upgrade on a ResponseWriter that cannot be hijacked refuses with 500.
func TestUpgradeNotHijackable(t *testing.T) {
	req := httptest.NewRequest("GET", "http://server.example.com/chat", nil)
	for _, h := range baseHeaders[1:] {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	res, err := (&Server{}).Upgrade(w, req)
	if res != nil || !errors.Is(err, ErrHijack) {
		t.Fatalf("got %v, %v; want ErrHijack", res, err)
	}
	if w.Code != 500 || requestError(t, err).Status != 500 {
		t.Fatalf("status %d", w.Code)
	}
}

// Token lists: case-insensitive, comma-separated, across header lines.
func TestTokenLists(t *testing.T) {
	ok := []struct {
		name    string
		headers []string
	}{
		{"keep-alive, Upgrade", headersExcept([]string{"Connection"}, "Connection: keep-alive, Upgrade")},
		{"lower-case upgrade", headersExcept([]string{"Connection"}, "Connection: upgrade")},
		{"upper-case UPGRADE", headersExcept([]string{"Connection"}, "Connection: UPGRADE")},
		{"lower-case header names", headersExcept([]string{"Connection", "Upgrade"}, "connection: upgrade", "upgrade: websocket")},
		{"WebSocket", headersExcept([]string{"Upgrade"}, "Upgrade: WebSocket")},
		{"Upgrade list", headersExcept([]string{"Upgrade"}, "Upgrade: h2c, websocket")},
		{"two Connection lines", headersExcept([]string{"Connection"}, "Connection: keep-alive", "Connection: Upgrade")},
		{"two Upgrade lines", headersExcept([]string{"Upgrade"}, "Upgrade: foo", "Upgrade: websocket")},
		{"whitespace and empty elements", headersExcept([]string{"Connection"}, "Connection: ,keep-alive ,\t Upgrade\t,")},
		{"key with trailing space", headersExcept([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==  ")},
	}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		for _, c := range ok {
			t.Run(c.name, func(t *testing.T) {
				o := run(&Server{}, buildRequest("GET /x HTTP/1.1", c.headers...))
				if o.err != nil || o.status != 101 {
					t.Fatalf("refused: %d %v", o.status, o.err)
				}
				if got := o.header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
					t.Fatalf("accept %q", got)
				}
			})
		}
	})
}

func TestHasToken(t *testing.T) {
	cases := []struct {
		values []string
		token  string
		want   bool
	}{
		{nil, "upgrade", false},
		{[]string{""}, "upgrade", false},
		{[]string{"Upgrade"}, "upgrade", true},
		{[]string{"keep-alive, Upgrade"}, "upgrade", true},
		{[]string{"keep-alive,upgrade"}, "upgrade", true},
		{[]string{"keep-alive", "UPGRADE"}, "upgrade", true},
		{[]string{"upgrade-insecure"}, "upgrade", false},
		{[]string{"x upgrade"}, "upgrade", false},
		{[]string{"\tupgrade "}, "upgrade", true},
		{[]string{",,,"}, "upgrade", false},
	}
	for _, c := range cases {
		if got := hasToken(c.values, c.token); got != c.want {
			t.Errorf("hasToken(%q, %q) = %v, want %v", c.values, c.token, got, c.want)
		}
	}
}

func TestIsUpgradeRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if IsUpgradeRequest(r) {
		t.Fatal("plain GET reported as upgrade")
	}
	r.Header.Add("Upgrade", "h2c")
	if IsUpgradeRequest(r) {
		t.Fatal("h2c reported as websocket upgrade")
	}
	r.Header.Add("Upgrade", "WebSocket")
	if !IsUpgradeRequest(r) {
		t.Fatal("Upgrade: WebSocket not detected")
	}
}

func TestSubprotocols(t *testing.T) {
	cases := []struct {
		name   string
		server []string
		lines  []string // Sec-WebSocket-Protocol header lines
		want   string
	}{
		{"server preference wins", []string{"chat", "superchat"}, []string{"superchat, chat"}, "chat"},
		{"second server choice", []string{"v2", "v1"}, []string{"v1, v0"}, "v1"},
		{"no offer", []string{"chat"}, nil, ""},
		{"server has none", nil, []string{"chat"}, ""},
		{"no match", []string{"chat"}, []string{"superchat"}, ""},
		{"multiple lines", []string{"b"}, []string{"a", "b"}, "b"},
		{"case-sensitive", []string{"Chat"}, []string{"chat"}, ""},
		{"whitespace", []string{"b"}, []string{" a ,\tb "}, "b"},
		{"no prefix match", []string{"chat"}, []string{"chatty"}, ""},
		{"non-token server entry never chosen", []string{"a b", "c"}, []string{"a b, c"}, "c"},
	}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var extra []string
				for _, l := range c.lines {
					extra = append(extra, "Sec-WebSocket-Protocol: "+l)
				}
				o := run(&Server{Subprotocols: c.server}, validRequest(extra...))
				if o.err != nil {
					t.Fatalf("refused: %v", o.err)
				}
				if o.res.Subprotocol != c.want {
					t.Fatalf("Subprotocol %q, want %q", o.res.Subprotocol, c.want)
				}
				got, present := o.header["Sec-Websocket-Protocol"]
				if c.want == "" && present {
					t.Fatalf("unexpected Sec-WebSocket-Protocol %q", got)
				}
				if c.want != "" && !slices.Equal(got, []string{c.want}) {
					t.Fatalf("Sec-WebSocket-Protocol %q, want %q", got, c.want)
				}
			})
		}
	})
}

func TestOrigin(t *testing.T) {
	cases := []struct {
		name   string
		s      Server
		host   string
		origin []string
		ok     bool
	}{
		{"no origin", Server{}, "server.example.com", nil, true},
		{"same host", Server{}, "server.example.com", []string{"http://server.example.com"}, true},
		{"same host https", Server{}, "server.example.com", []string{"https://server.example.com"}, true},
		{"same host other case", Server{}, "server.example.com", []string{"http://SERVER.Example.COM"}, true},
		{"same host and port", Server{}, "localhost:8080", []string{"http://localhost:8080"}, true},
		{"different port", Server{}, "localhost:8080", []string{"http://localhost:9090"}, false},
		{"port vs no port", Server{}, "server.example.com", []string{"http://server.example.com:8080"}, false},
		{"different host", Server{}, "server.example.com", []string{"http://evil.example.com"}, false},
		{"suffix trick", Server{}, "example.com", []string{"http://evilexample.com"}, false},
		{"pattern subdomain", Server{OriginPatterns: []string{"*.example.com"}}, "api.other.net", []string{"https://app.example.com"}, true},
		{"pattern needs a subdomain", Server{OriginPatterns: []string{"*.example.com"}}, "api.other.net", []string{"https://example.com"}, false},
		{"pattern case-insensitive", Server{OriginPatterns: []string{"*.EXAMPLE.com"}}, "api.other.net", []string{"https://App.Example.com"}, true},
		{"pattern any port", Server{OriginPatterns: []string{"localhost:*"}}, "api.other.net", []string{"http://localhost:3000"}, true},
		{"port pattern needs a port", Server{OriginPatterns: []string{"localhost:*"}}, "api.other.net", []string{"http://localhost"}, false},
		{"pattern without port", Server{OriginPatterns: []string{"localhost"}}, "api.other.net", []string{"http://localhost:3000"}, false},
		{"second pattern", Server{OriginPatterns: []string{"a.test", "b.test"}}, "api.other.net", []string{"http://b.test"}, true},
		{"malformed pattern never matches", Server{OriginPatterns: []string{"[", "*"}}, "api.other.net", []string{"http://x"}, true},
		{"only malformed pattern", Server{OriginPatterns: []string{"["}}, "api.other.net", []string{"http://["}, false},
		{"opt-out", Server{DangerouslyAllowAnyOrigin: true}, "server.example.com", []string{"http://evil.example.com"}, true},
		{"opt-out malformed", Server{DangerouslyAllowAnyOrigin: true}, "server.example.com", []string{"null"}, true},
		{"null", Server{}, "server.example.com", []string{"null"}, false},
		{"no scheme", Server{}, "server.example.com", []string{"server.example.com"}, false},
		{"empty host", Server{}, "server.example.com", []string{"http://"}, false},
		{"userinfo", Server{}, "server.example.com", []string{"http://u@server.example.com"}, false},
		{"unparsable", Server{}, "server.example.com", []string{"http://server.example.com:port"}, false},
		{"empty", Server{}, "server.example.com", []string{""}, false},
		{"two same-origin headers", Server{}, "server.example.com", []string{"http://server.example.com", "http://server.example.com"}, false},
	}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := headersExcept([]string{"Host"}, "Host: "+c.host)
				for _, o := range c.origin {
					h = append(h, "Origin: "+o)
				}
				o := run(&c.s, buildRequest("GET / HTTP/1.1", h...))
				if c.ok && o.err != nil {
					t.Fatalf("refused: %v", o.err)
				}
				if !c.ok && (!errors.Is(o.err, ErrForbiddenOrigin) || o.status != 403) {
					t.Fatalf("got status %d, error %v; want 403 ErrForbiddenOrigin", o.status, o.err)
				}
			})
		}
	})
}

func TestExtensionsHook(t *testing.T) {
	pmd := func(offers []Extension) []Extension {
		for _, o := range offers {
			if o.Name == "permessage-deflate" {
				return []Extension{{Name: o.Name, Params: []Param{{Name: "client_max_window_bits", Value: "10", HasValue: true}}}}
			}
		}
		return nil
	}
	cases := []struct {
		name    string
		hook    func([]Extension) []Extension
		lines   []string
		header  string // expected Sec-WebSocket-Extensions, "" for none
		wantErr error
	}{
		{"accept one", pmd, []string{`x-foo, permessage-deflate; client_max_window_bits; server_no_context_takeover`}, "permessage-deflate; client_max_window_bits=10", nil},
		{"accept from second line", pmd, []string{"x-foo", "permessage-deflate"}, "permessage-deflate; client_max_window_bits=10", nil},
		{"nothing acceptable", pmd, []string{"x-foo"}, "", nil},
		{"nil hook", nil, []string{"permessage-deflate"}, "", nil},
		{"echo all in order", func(o []Extension) []Extension { return o }, []string{`b; q="1", a`}, "b; q=1, a", nil},
		{"not offered", func([]Extension) []Extension { return []Extension{{Name: "x-evil"}} }, []string{"x-foo"}, "", ErrExtensionsHook},
		{"header injection", func([]Extension) []Extension { return []Extension{{Name: "x-foo\r\nEvil: 1"}} }, []string{"x-foo"}, "", ErrExtensionsHook},
		{"non-token value", func(o []Extension) []Extension {
			return []Extension{{Name: "x-foo", Params: []Param{{Name: "a", Value: "b c", HasValue: true}}}}
		}, []string{"x-foo"}, "", ErrExtensionsHook},
	}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var extra []string
				for _, l := range c.lines {
					extra = append(extra, "Sec-WebSocket-Extensions: "+l)
				}
				o := run(&Server{Extensions: c.hook}, validRequest(extra...))
				if c.wantErr != nil {
					if !errors.Is(o.err, c.wantErr) || o.status != 500 {
						t.Fatalf("got %d %v, want 500 %v", o.status, o.err, c.wantErr)
					}
					return
				}
				if o.err != nil {
					t.Fatalf("refused: %v", o.err)
				}
				got, present := o.header["Sec-Websocket-Extensions"]
				if c.header == "" {
					if present || o.res.Extensions != nil {
						t.Fatalf("unexpected extensions %q / %+v", got, o.res.Extensions)
					}
					return
				}
				if !slices.Equal(got, []string{c.header}) {
					t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, c.header)
				}
				if FormatExtensions(o.res.Extensions) != c.header {
					t.Fatalf("Result.Extensions %+v do not match the header", o.res.Extensions)
				}
			})
		}
	})
}

func TestExtensionsHookNotCalledWithoutOffers(t *testing.T) {
	called := false
	s := &Server{Extensions: func(o []Extension) []Extension { called = true; return o }}
	o := viaConn(t, s, validRequest())
	if o.err != nil || called {
		t.Fatalf("err %v, hook called %v", o.err, called)
	}
}

func TestServerHeader(t *testing.T) {
	s := &Server{Header: http.Header{
		"X-Foo":        {"a", "b"},
		"x-lower":      {"c"},
		"Upgrade":      {"evil"},
		"connection":   {"keep-alive"},
		"Bad Name":     {"x"},
		"X-Inject":     {"a\r\nEvil: 1"},
		"Set-Cookie":   {"s=1"},
		"Content-Type": {"text/plain"},
	}}
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		o := run(s, validRequest())
		if o.err != nil {
			t.Fatalf("refused: %v", o.err)
		}
		h := o.header
		check := func(name string, want []string) {
			t.Helper()
			if got := h.Values(name); !slices.Equal(got, want) {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		check("X-Foo", []string{"a", "b"})
		check("X-Lower", []string{"c"})
		check("Upgrade", []string{"websocket"})
		check("Connection", []string{"Upgrade"})
		check("X-Inject", []string{"a  Evil: 1"})
		check("Evil", nil)
		check("Set-Cookie", []string{"s=1"})
		if strings.Contains(string(o.head), "Bad Name") {
			t.Error("invalid header name written")
		}
		if !strings.HasSuffix(string(o.head), "\r\n\r\n") || strings.Count(string(o.head), "\r\n\r\n") != 1 {
			t.Errorf("head %q", o.head)
		}
	})
}

func TestRequestErrorMessage(t *testing.T) {
	e := &RequestError{Status: 400, Reason: "invalid Sec-WebSocket-Key", Err: ErrBadKey, Cause: errors.New("detail")}
	if got, want := e.Error(), "handshake: invalid Sec-WebSocket-Key (Bad Request): detail"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, ErrBadKey) || !errors.Is(e, e.Cause) {
		t.Fatal("Unwrap does not expose the sentinel and the cause")
	}
}

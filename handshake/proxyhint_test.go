package handshake

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// What a reverse proxy that is not set up for WebSocket passes on from a
// client's upgrade request: the hop-by-hop Upgrade and Connection dropped
// (or Connection replaced), and perhaps HTTP/1.0 upstream.
var proxiedRequests = []struct {
	name     string
	raw      string
	sentinel error
	header   string // the header the reason must name
}{
	{"Upgrade and Connection dropped", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade", "Connection"})...),
		ErrBadUpgrade, "Upgrade: websocket"},
	{"Upgrade dropped, Connection: close", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade", "Connection"}, "Connection: close")...),
		ErrBadUpgrade, "Upgrade: websocket"},
	{"Connection dropped", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Connection"})...),
		ErrBadConnection, "Connection: Upgrade"},
	{"Connection: keep-alive", buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Connection"}, "Connection: keep-alive")...),
		ErrBadConnection, "Connection: Upgrade"},
	{"HTTP/1.0 upstream", buildRequest("GET /chat HTTP/1.0", headersExcept([]string{"Upgrade", "Connection"}, "Connection: close")...),
		ErrBadProtocol, "HTTP/1.1"},
}

func TestRefusalSaysProxyMayHaveDroppedHeader(t *testing.T) {
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		for _, c := range proxiedRequests {
			t.Run(c.name, func(t *testing.T) {
				o := run(&Server{}, c.raw)
				if o.status != 400 || !errors.Is(o.err, c.sentinel) {
					t.Fatalf("status %d, err %v; want 400 and %v", o.status, o.err, c.sentinel)
				}
				re := requestError(t, o.err)
				if !strings.Contains(re.Reason, c.header) || !strings.Contains(re.Reason, "proxy") {
					t.Errorf("reason %q does not name %q and a proxy", re.Reason, c.header)
				}
				if o.body != re.Reason+"\n" {
					t.Errorf("body %q, want the reason %q", o.body, re.Reason)
				}
			})
		}
	})
}

func TestRefusalWithoutKeyDoesNotBlameProxy(t *testing.T) {
	// Not a WebSocket client's request: no hint about proxies.
	raw := buildRequest("GET /chat HTTP/1.1", headersExcept([]string{"Upgrade", "Connection", "Sec-WebSocket-Key"})...)
	paths(t, func(t *testing.T, run func(*Server, string) outcome) {
		o := run(&Server{}, raw)
		re := requestError(t, o.err)
		if !errors.Is(o.err, ErrBadUpgrade) || strings.Contains(re.Reason, "proxy") || !strings.Contains(re.Reason, "Upgrade") {
			t.Errorf("err %v, reason %q", o.err, re.Reason)
		}
	})
}

func TestIsWebSocketRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if IsWebSocketRequest(r) {
		t.Fatal("plain GET reported as a WebSocket request")
	}
	r.Header.Set("Upgrade", "h2c")
	if IsWebSocketRequest(r) {
		t.Fatal("Upgrade: h2c reported as a WebSocket request")
	}
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if !IsWebSocketRequest(r) {
		t.Fatal("a request with Sec-WebSocket-Key (upgrade headers dropped) not reported")
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Upgrade", "WebSocket")
	if !IsWebSocketRequest(r) {
		t.Fatal("Upgrade: WebSocket not reported")
	}
}

func TestUpgradeOrHandOffRefusesProxiedRequest(t *testing.T) {
	// The raw path decides as IsWebSocketRequest does: a client's request
	// without Upgrade is refused with the reason, not handed off to be
	// served a page.
	for _, c := range proxiedRequests {
		t.Run(c.name, func(t *testing.T) {
			conn := &memConn{req: []byte(c.raw)}
			_, err := (&Server{}).UpgradeOrHandOff(conn, "/chat", nil)
			var ho *HandOffError
			if errors.As(err, &ho) || !errors.Is(err, c.sentinel) {
				t.Fatalf("err = %v, want a refusal matching %v", err, c.sentinel)
			}
			if re := requestError(t, err); re.Status != 400 || !strings.Contains(re.Reason, "proxy") {
				t.Errorf("status %d, reason %q", re.Status, re.Reason)
			}
		})
	}
	// Without a key and without Upgrade it is still handed off.
	plain := buildRequest("GET /chat HTTP/1.1", "Host: a", "Connection: keep-alive")
	if _, err := (&Server{}).UpgradeOrHandOff(&memConn{req: []byte(plain)}, "/chat", nil); !errors.As(err, new(*HandOffError)) {
		t.Errorf("plain GET: %v, want a hand-off", err)
	}
}

func TestProxyReasonsFitClientQuote(t *testing.T) {
	// HandshakeError quotes at most maxReasonLen bytes of a refusal's body.
	for _, r := range []string{reasonProxyUpgrade, reasonProxyConnection, reasonProxyProtocol, tlsRefusal().Reason} {
		if len(r) > maxReasonLen {
			t.Errorf("reason %q is %d bytes, more than the %d a client quotes", r, len(r), maxReasonLen)
		}
	}
}

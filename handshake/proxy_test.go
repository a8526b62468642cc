package handshake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// connectProxy is an HTTP CONNECT proxy for tests. It requires Basic
// credentials if user is set, only tunnels to loopback addresses, and
// counts the tunnels it opened.
type connectProxy struct {
	user, pass string
	tunnels    atomic.Int32

	mu      sync.Mutex
	targets []string
	conns   []net.Conn
	wg      sync.WaitGroup
	url     *url.URL // without credentials
}

func startProxy(t *testing.T, user, pass string) *connectProxy {
	t.Helper()
	p := &connectProxy{user: user, pass: pass}
	ts := httptest.NewServer(p)
	t.Cleanup(func() {
		ts.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.url, _ = url.Parse(ts.URL)
	return p
}

// proxyURL returns the proxy's URL with the given credentials.
func (p *connectProxy) proxyURL(user, pass string) *url.URL {
	u := *p.url
	if user != "" {
		u.User = url.UserPassword(user, pass)
	}
	return &u
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			http.Error(w, "proxy credentials required", http.StatusProxyAuthRequired)
			return
		}
	}
	host, _, err := net.SplitHostPort(r.Host)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "loopback targets only", http.StatusForbidden)
		return
	}
	target, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		target.Close()
		return
	}
	p.tunnels.Add(1)
	p.mu.Lock()
	p.targets = append(p.targets, r.Host)
	p.conns = append(p.conns, client, target)
	p.mu.Unlock()
	io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n")
	early := make([]byte, brw.Reader.Buffered())
	brw.Reader.Read(early)
	// Splice both ways; when either side ends, close both.
	p.wg.Add(2)
	splice := func(dst, src net.Conn, prefix []byte) {
		defer p.wg.Done()
		io.Copy(dst, io.MultiReader(bytes.NewReader(prefix), src))
		dst.Close()
		src.Close()
	}
	go splice(target, client, early)
	go splice(client, target, nil)
}

func TestDialThroughProxy(t *testing.T) {
	p := startProxy(t, "alice", "s3cr:et")
	for _, secure := range []bool{false, true} {
		ts, reqs := upgradeEchoServer(t, &handshake.Server{Subprotocols: []string{"chat"}}, secure)
		name := "ws"
		if secure {
			name = "wss"
		}
		t.Run(name, func(t *testing.T) {
			before := p.tunnels.Load()
			var schemes []string
			c := &handshake.Client{
				Subprotocols: []string{"chat"},
				Proxy: func(r *http.Request) (*url.URL, error) {
					schemes = append(schemes, r.URL.Scheme)
					return p.proxyURL("alice", "s3cr:et"), nil
				},
			}
			if secure {
				c.TLSConfig = rootsFor(ts)
			}
			res, resp, err := c.Dial(context.Background(), wsURL(ts, "/via-proxy"))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Conn.Close()
			if got := p.tunnels.Load() - before; got != 1 {
				t.Fatalf("%d tunnels opened, want 1", got)
			}
			p.mu.Lock()
			target := p.targets[len(p.targets)-1]
			p.mu.Unlock()
			if target != ts.Listener.Addr().String() {
				t.Errorf("tunnel to %q, want %q", target, ts.Listener.Addr())
			}
			wantScheme := "http"
			if secure {
				wantScheme = "https"
			}
			if len(schemes) != 1 || schemes[0] != wantScheme {
				t.Errorf("Proxy saw schemes %q, want %q", schemes, wantScheme)
			}
			r := <-reqs
			if r.URL.Path != "/via-proxy" || (r.TLS != nil) != secure || r.Header.Get("Proxy-Authorization") != "" {
				t.Errorf("server saw %s TLS %v headers %v", r.URL, r.TLS != nil, r.Header)
			}
			if resp.StatusCode != 101 || res.Subprotocol != "chat" {
				t.Errorf("%s, subprotocol %q", resp.Status, res.Subprotocol)
			}
			roundTrip(t, res.Conn, "through the tunnel")
		})
	}
}

func TestDialProxyRefusals(t *testing.T) {
	p := startProxy(t, "alice", "right")
	ts, _ := upgradeEchoServer(t, &handshake.Server{}, false)
	for _, creds := range [][2]string{{"alice", "wrong"}, {"", ""}} {
		c := &handshake.Client{Proxy: http.ProxyURL(p.proxyURL(creds[0], creds[1]))}
		res, resp, err := c.Dial(context.Background(), wsURL(ts, "/"))
		if res != nil || resp != nil {
			t.Fatalf("creds %q: result %v, response %v", creds, res, resp)
		}
		he := handshakeError(t, err, handshake.ErrProxy, http.StatusProxyAuthRequired)
		if errors.Is(err, handshake.ErrBadStatus) {
			t.Error("a proxy refusal matches ErrBadStatus")
		}
		if he.Header.Get("Proxy-Authenticate") == "" || !strings.Contains(string(he.Body), "proxy credentials required") {
			t.Errorf("header %v, body %q", he.Header, he.Body)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("message %q shows the password", err)
		}
	}
	if n := p.tunnels.Load(); n != 0 {
		t.Errorf("%d tunnels opened", n)
	}

	t.Run("target refused by proxy", func(t *testing.T) {
		var asked []string
		c := &handshake.Client{
			Proxy: http.ProxyURL(p.proxyURL("alice", "right")),
			// The proxy is reached on loopback whatever its name.
			NetDialContext: redirectDial(p.url.Host, &asked),
		}
		_, _, err := c.Dial(context.Background(), "ws://example.com/")
		handshakeError(t, err, handshake.ErrProxy, http.StatusForbidden)
		if len(asked) != 1 || asked[0] != p.url.Host {
			t.Errorf("dialed %q, want only the proxy", asked)
		}
	})
	t.Run("proxy unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		c := &handshake.Client{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: dead})}
		_, _, err = c.Dial(context.Background(), wsURL(ts, "/"))
		var oe *net.OpError
		if !errors.Is(err, handshake.ErrProxy) || !errors.As(err, &oe) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Proxy function fails", func(t *testing.T) {
		boom := errors.New("boom")
		c := &handshake.Client{Proxy: func(*http.Request) (*url.URL, error) { return nil, boom }}
		_, _, err := c.Dial(context.Background(), wsURL(ts, "/"))
		if !errors.Is(err, handshake.ErrProxy) || !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unsupported scheme", func(t *testing.T) {
		c := &handshake.Client{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: p.url.Host, User: url.UserPassword("u", "hidden")})}
		_, _, err := c.Dial(context.Background(), wsURL(ts, "/"))
		if !errors.Is(err, handshake.ErrProxy) || strings.Contains(err.Error(), "hidden") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("proxy that never answers", func(t *testing.T) {
		addr := silentServer(t)
		c := &handshake.Client{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr}), HandshakeTimeout: 200 * time.Millisecond}
		_, _, err := c.Dial(context.Background(), wsURL(ts, "/"))
		if !errors.Is(err, handshake.ErrProxy) || !errors.Is(err, handshake.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("proxy speaks garbage", func(t *testing.T) {
		f := startFake(t, func(*http.Request, string) string { return "nonsense\r\n\r\n" })
		c := &handshake.Client{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: f.addr})}
		_, _, err := c.Dial(context.Background(), wsURL(ts, "/"))
		if !errors.Is(err, handshake.ErrProxy) || errors.Is(err, handshake.ErrBadUpgradeResponse) {
			t.Fatalf("err = %v", err)
		}
	})
}

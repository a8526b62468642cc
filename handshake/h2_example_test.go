package handshake_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wspipe/wspipe/handshake"
)

// TestMain restarts the test binary with GODEBUG=http2xconnect=1 when it
// is missing, as a server's main does, so the examples below see
// extended CONNECT on.
func TestMain(m *testing.M) {
	if err := handshake.EnableExtendedConnect(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(m.Run())
}

// A server program turns extended CONNECT on first thing in main: the
// process restarts itself with GODEBUG=http2xconnect=1 if it lacks it.
func ExampleEnableExtendedConnect() {
	if err := handshake.EnableExtendedConnect(); err != nil {
		// Not restarted (no execve here, say): WebSockets use HTTP/1.1.
		log.Print(err)
	}
	fmt.Println(handshake.ExtendedConnectEnabled())
	// Output: true
}

// One server, one handler, WebSockets over HTTP/1.1 and HTTP/2 (here
// cleartext, h2c); a client asks for HTTP/2 with Client.HTTP2.
func ExampleConfigureHTTP2() {
	hs := &handshake.Server{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := hs.Upgrade(w, r)
		if err != nil {
			return
		}
		// Over HTTP/2 the stream lives as long as this handler: serve the
		// connection here, then close it.
		defer res.Conn.Close()
		buf := make([]byte, 64)
		n, _ := res.Conn.Read(buf) // a frame, as sent
		fmt.Printf("server: HTTP/%d, %d bytes\n", r.ProtoMajor, n)
	}))
	if err := handshake.ConfigureHTTP2(srv.Config, true); err != nil {
		log.Print(err) // handshake.ErrExtendedConnectDisabled: HTTP/1.1 only
	}
	srv.Start()
	defer srv.Close()

	c := &handshake.Client{HTTP2: handshake.HTTP2Require}
	defer c.CloseIdleConnections()
	res, resp, err := c.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client:", resp.Proto, resp.StatusCode)
	res.Conn.Write([]byte{0x82, 0x80, 0, 0, 0, 0}) // an empty binary frame, masked
	res.Conn.Read(make([]byte, 1))                 // the stream's end
	res.Conn.Close()
	// Output:
	// client: HTTP/2.0 200
	// server: HTTP/2, 6 bytes
}

// Server.Header reaches the 200 that accepts an extended CONNECT as it
// reaches a 101, scrubbed alike, less the headers HTTP/2 forbids and
// those the handshake sets itself.
func TestServerHeaderH2(t *testing.T) {
	hs := &handshake.Server{Header: http.Header{
		"X-Foo":                  {"a", "b"},
		"x-lower":                {"c"},
		"Upgrade":                {"evil"},
		"connection":             {"keep-alive"},
		"Keep-Alive":             {"timeout=5"},
		"Transfer-Encoding":      {"chunked"},
		"Content-Length":         {"12"},
		"Proxy-Connection":       {"close"},
		"Sec-Websocket-Protocol": {"forged"},
		"Bad Name":               {"x"},
		"X-Inject":               {"a\r\nEvil: 1"},
		"Set-Cookie":             {"s=1"},
	}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := hs.Upgrade(w, r)
		if err != nil {
			return
		}
		res.Conn.Close()
	}))
	if err := handshake.ConfigureHTTP2(srv.Config, true); err != nil {
		t.Skip(err) // extended CONNECT is off in this process
	}
	srv.Start()
	defer srv.Close()
	c := &handshake.Client{HTTP2: handshake.HTTP2Require}
	defer c.CloseIdleConnections()
	res, resp, err := c.Dial(context.Background(), wsURL(srv, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Conn.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("answer %s %d", resp.Proto, resp.StatusCode)
	}
	for name, want := range map[string][]string{
		"X-Foo":                  {"a", "b"},
		"X-Lower":                {"c"},
		"X-Inject":               {"a  Evil: 1"},
		"Set-Cookie":             {"s=1"},
		"Evil":                   nil,
		"Upgrade":                nil,
		"Connection":             nil,
		"Keep-Alive":             nil,
		"Transfer-Encoding":      nil,
		"Proxy-Connection":       nil,
		"Sec-Websocket-Protocol": nil,
		"Bad Name":               nil,
	} {
		if got := resp.Header.Values(name); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if resp.ContentLength > 0 {
		t.Errorf("Content-Length %d in a 200 to CONNECT", resp.ContentLength)
	}
}

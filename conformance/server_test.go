package conformance

import (
	"net/http/httptest"
	"testing"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// startEchoServer starts wspipe's echo service, with its zero-value
// options, on a loopback port for the life of t and returns its URL. It is
// the suite's only use of wspipe.
func startEchoServer(t testing.TB) (url string) {
	h := &echo.Handler{}
	h.Handshake.DangerouslyAllowAnyOrigin = true
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws://" + srv.Listener.Addr().String() + "/"
}

// startEchoServerH2 is startEchoServer serving HTTP/2 with prior
// knowledge (h2c) too, set up by handshake.ConfigureHTTP2, so that
// WebSockets come as extended CONNECTs (RFC 8441) on HTTP/2 streams.
func startEchoServerH2(t testing.TB) (url string) {
	return startH2Echo(t, &echo.Handler{})
}

// startDeflateEchoServerH2 is startDeflateEchoServer over HTTP/2 too.
func startDeflateEchoServerH2(t testing.TB) (url string) {
	h := &echo.Handler{}
	h.Options.Compression = &pipeline.Compression{}
	return startH2Echo(t, h)
}

func startH2Echo(t testing.TB, h *echo.Handler) string {
	h.Handshake.DangerouslyAllowAnyOrigin = true
	srv := httptest.NewUnstartedServer(h)
	if err := handshake.ConfigureHTTP2(srv.Config, true); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws://" + srv.Listener.Addr().String() + "/"
}

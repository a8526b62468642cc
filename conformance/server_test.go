package conformance

import (
	"net/http/httptest"
	"testing"

	"github.com/wspipe/wspipe/echo"
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

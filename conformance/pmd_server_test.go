package conformance

// The server direction of categories 12 and 13: the suite is the client,
// offers permessage-deflate, judges the server's answer and then sends
// compressed messages to wspipe's echo server with compression on.

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/pipeline"
)

// startDeflateEchoServer starts wspipe's echo service with
// permessage-deflate on, its server policy left at the default, on a
// loopback port for the life of t and returns its URL.
func startDeflateEchoServer(t testing.TB) string {
	h := &echo.Handler{}
	h.Handshake.DangerouslyAllowAnyOrigin = true
	h.Options.Compression = &pipeline.Compression{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws://" + srv.Listener.Addr().String() + "/"
}

// runDeflateCases runs each case as a subtest named by its number, on a
// fresh connection to the server under test (WSPIPE_CONFORMANCE_URL, or
// wspipe's echo server with compression).
func runDeflateCases(t *testing.T, specs []pmdCaseSpec) {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u == "" {
		u = startDeflateEchoServer(t)
	}
	runDeflateCasesWith(t, u, dialWith, specs)
}

// runDeflateCasesWith is runDeflateCases against the server at u,
// connecting with dial.
func runDeflateCasesWith(t *testing.T, u string, dial dialer, specs []pmdCaseSpec) {
	t.Helper()
	forEachCase(t, specs, func(s pmdCaseSpec) string { return s.id }, func(t *testing.T, s pmdCaseSpec) {
		t.Log(s.desc("the client offers " + formatExts(offerExts(s.offers)) + " (Autobahn's client offers " + s.set + "); the server answers with its default policy"))
		runDeflateCase(t, u, dial, s)
	})
}

// runDeflateCase runs one case: the handshake with the case's offers, the
// messages, and the closing handshake.
func runDeflateCase(t *testing.T, rawURL string, dial dialer, s pmdCaseSpec) {
	deadline := time.Now().Add(pmdCaseTimeout)
	nc, br, resp, key := dial(t, rawURL, formatExts(offerExts(s.offers)), deadline)
	// The response is judged as dial judges it, except for
	// Sec-WebSocket-Extensions, which is left to judgeAnswer.
	rest := &http.Response{Status: resp.Status, StatusCode: resp.StatusCode, ProtoMajor: resp.ProtoMajor, Header: resp.Header.Clone()}
	rest.Header.Del("Sec-WebSocket-Extensions")
	if msg := checkHandshake(rest, key); msg != "" {
		nc.Close()
		t.Fatalf("handshake: %s", msg)
	}
	params, problem := judgeAnswer(s.offers, resp.Header.Values("Sec-WebSocket-Extensions"))
	if problem != "" {
		nc.Close()
		t.Fatalf("handshake: %s", problem)
	}
	t.Logf("the server answered %q", resp.Header.Values("Sec-WebSocket-Extensions"))
	pc, err := newPMDConn(nc, br, false, params)
	if err != nil {
		nc.Close()
		t.Fatalf("the suite's compressor: %v", err)
	}
	ok := pc.exchange(s.data, s.size.size, pmdCount(s.size.size), s.size.frag, t.Errorf)
	t.Log(pc.summary())
	if !ok {
		nc.Close()
		return
	}
	// The closing handshake has nothing of compression: the harness's
	// client judges it, RSV bits included.
	c := asClient(t, nc, br)
	defer c.shutdown()
	c.closeNormally()
	if !t.Failed() && !c.tcpClosed {
		t.Errorf("the case ended without the server closing the TCP connection")
	}
}

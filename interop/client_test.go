package interop

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// The tests in this file run wspipe's client against other servers.

// dialer makes links by dialing sp with pipeline.Dial.
func dialer(sp serverPeer, pki *testPKI) func(t *testing.T, ctx context.Context, cfg connCfg) *link {
	return func(t *testing.T, ctx context.Context, cfg connCfg) *link {
		t.Helper()
		l := &link{id: newID("c"), h: sp.h}
		addr, scheme := sp.ws, "ws"
		if cfg.tls {
			addr, scheme = sp.wss, "wss"
		}
		if cfg.relay {
			l.relay = newRelay(t, addr)
			addr = l.relay.addr()
		}
		u := scheme + "://" + addr + "/?id=" + l.id
		hc := &handshake.Client{Subprotocols: cfg.protocols, HandshakeTimeout: 10 * time.Second}
		if cfg.tls {
			hc.TLSConfig = pki.clientTLS()
		}
		c, resp, err := pipeline.Dial(ctx, u, hc, &pipeline.Options{WriteBufferSize: cfg.writeBuf, Compression: cfg.compression, MaxMessageSize: cfg.maxMessage})
		if err != nil {
			status := "no response"
			if resp != nil {
				status = resp.Status
			}
			t.Fatalf("Dial %s: %v (%s)", u, err, status)
		}
		if resp.StatusCode != 101 {
			t.Errorf("Dial %s: status %s", u, resp.Status)
		}
		t.Cleanup(func() { c.UnderlyingConn().Close() }) // if the test failed halfway
		l.c = c
		l.answer = strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
		return l
	}
}

// TestClient_NodeWS runs the scenarios between wspipe's client and Node's
// ws server.
func TestClient_NodeWS(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Node ws")
	node := nodePath(t, "ws")
	pki := newPKI(t)
	sp := startServerProc(t, "node ws server", []string{node, filepath.Join("node", "peer.mjs"), "server", "--cert", pki.crtFile, "--key", pki.keyFile})
	runScenarios(t, pairing{peer: "Node ws", connect: dialer(sp, pki), fragPerWrite: true})
}

// TestClient_PythonWebsockets runs the scenarios between wspipe's client
// and Python's websockets server.
func TestClient_PythonWebsockets(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Python websockets")
	py := pythonPath(t)
	pki := newPKI(t)
	sp := startServerProc(t, "python websockets server", []string{py, filepath.Join("python", "peer.py"), "server", "--cert", pki.crtFile, "--key", pki.keyFile})
	runScenarios(t, pairing{peer: "Python websockets", connect: dialer(sp, pki), fragPerWrite: true})
}

// TestClient_Gorilla runs the scenarios between wspipe's client and
// gorilla/websocket's server.
func TestClient_Gorilla(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	runScenarios(t, pairing{peer: "gorilla/websocket", connect: dialer(gorillaServer(t, pki, false), pki)})
}

// TestClient_Coder runs the scenarios between wspipe's client and
// coder/websocket's server.
func TestClient_Coder(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	runScenarios(t, pairing{peer: "coder/websocket", connect: dialer(coderServer(t, pki, coder.CompressionDisabled), pki), fragPerWrite: true})
}

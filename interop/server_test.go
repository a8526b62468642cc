package interop

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// The tests in this file run wspipe's server against other clients.

// ourServer is wspipe's server under test: pipeline.Accept in httptest
// servers on 127.0.0.1, over ws:// and wss://. Each accepted Conn goes to
// the test by the "id" query parameter of its URL, with the Options the
// test registered for that id (the defaults if none). With
// connCfg.acceptConn a connection goes instead to a listener of its own
// that runs pipeline.AcceptConn, without net/http.
type ourServer struct {
	plain, secure *httptest.Server
	hs            *handshake.Server

	mu       sync.Mutex
	accepted map[string]chan acceptResult
	opts     map[string]*pipeline.Options
}

type acceptResult struct {
	c     *pipeline.Conn
	err   error
	offer string // the request's Sec-WebSocket-Extensions, unless raw
	raw   bool   // AcceptConn, which does not show the request
}

func startOurServer(t *testing.T, hs *handshake.Server, pki *testPKI) *ourServer {
	s := &ourServer{hs: hs, accepted: make(map[string]chan acceptResult), opts: make(map[string]*pipeline.Options)}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		offer := strings.Join(r.Header.Values("Sec-WebSocket-Extensions"), ", ")
		c, err := pipeline.Accept(w, r, hs, s.options(id))
		s.ch(id) <- acceptResult{c: c, err: err, offer: offer}
	})
	s.plain = httptest.NewServer(handler)
	s.secure = httptest.NewUnstartedServer(handler)
	s.secure.TLS = pki.serverTLS()
	s.secure.StartTLS()
	t.Cleanup(s.plain.Close)
	t.Cleanup(s.secure.Close)
	return s
}

func (s *ourServer) ch(id string) chan acceptResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.accepted[id]
	if !ok {
		c = make(chan acceptResult, 1)
		s.accepted[id] = c
	}
	return c
}

// options returns the Options registered for connection id, or new
// defaults.
func (s *ourServer) options(id string) *pipeline.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.opts[id]; o != nil {
		return o
	}
	return &pipeline.Options{}
}

// wsURL is the URL of the server for connection id, which gets cfg's
// options.
func (s *ourServer) wsURL(id string, cfg connCfg, t *testing.T) (string, *relay) {
	addr, scheme := s.plain.Listener.Addr().String(), "ws"
	switch {
	case cfg.tls:
		addr, scheme = s.secure.Listener.Addr().String(), "wss"
	case cfg.acceptConn:
		addr = s.acceptConnOnce(t, id, &pipeline.Options{WriteBufferSize: cfg.writeBuf, Compression: cfg.compression, MaxMessageSize: cfg.maxMessage})
	}
	var r *relay
	if cfg.relay {
		r = newRelay(t, addr)
		addr = r.addr()
	}
	s.mu.Lock()
	s.opts[id] = &pipeline.Options{WriteBufferSize: cfg.writeBuf, Compression: cfg.compression, MaxMessageSize: cfg.maxMessage}
	s.mu.Unlock()
	return scheme + "://" + addr + "/?" + url.Values{"id": {id}}.Encode(), r
}

// acceptConnOnce listens for connection id and runs pipeline.AcceptConn
// on it with opts; it returns the listener's address.
func (s *ourServer) acceptConnOnce(t *testing.T, id string, opts *pipeline.Options) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		raw, err := ln.Accept()
		ln.Close()
		if err != nil {
			s.ch(id) <- acceptResult{err: err, raw: true}
			return
		}
		c, err := pipeline.AcceptConn(raw, s.hs, opts)
		if err != nil {
			raw.Close()
		}
		s.ch(id) <- acceptResult{c: c, err: err, raw: true}
	}()
	return ln.Addr().String()
}

// connector makes links by having peer connect to s.
func (s *ourServer) connector(peer clientPeer) func(t *testing.T, ctx context.Context, cfg connCfg) *link {
	return func(t *testing.T, ctx context.Context, cfg connCfg) *link {
		t.Helper()
		l := &link{id: newID("s"), h: peer.hub(), server: true}
		u, r := s.wsURL(l.id, cfg, t)
		l.relay = r
		if err := peer.connect(l.id, u, cfg.protocols, cfg.peerDeflate); err != nil {
			t.Fatalf("asking the peer to connect: %v", err)
		}
		wait, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		select {
		case res := <-s.ch(l.id):
			if res.err != nil {
				t.Fatalf("Accept: %v", res.err)
			}
			l.c, l.offer, l.offerUnseen = res.c, res.offer, res.raw
		case r := <-l.h.ch(l.id):
			t.Fatalf("the peer did not connect to %s: %+v", u, r)
		case <-wait.Done():
			t.Fatalf("no connection from the peer to %s: %v", u, wait.Err())
		}
		t.Cleanup(func() { l.c.UnderlyingConn().Close() }) // if the test failed halfway
		return l
	}
}

// TestServer_Chromium runs the scenarios between wspipe's server and
// headless Chromium, whose page comes from another origin (another port)
// than the WebSocket server, allowed by OriginPatterns.
func TestServer_Chromium(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Chromium")
	chromium := chromiumPath(t)
	node := nodePath(t, "playwright-core")
	page, err := os.ReadFile(filepath.Join("node", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	pageSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(pageSrv.Close)
	pageHost := pageSrv.Listener.Addr().String()

	pki := newPKI(t)
	hs := &handshake.Server{Subprotocols: serverProtocols, OriginPatterns: []string{pageHost}}
	s := startOurServer(t, hs, pki)
	strict := startOurServer(t, &handshake.Server{}, pki) // same-origin only

	browser := startProc(t, "chromium", []string{node, filepath.Join("node", "browser.mjs"), "--spki", pki.spki, pageSrv.URL + "/"},
		"WSPIPE_CHROMIUM="+chromium, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	ready, err := browser.h.first(ctx)
	cancel()
	if err != nil || ready.Event != "ready" {
		t.Fatalf("the browser did not open the page: %+v %v", ready, err)
	}
	t.Logf("Chromium %s, page origin %s, WebSocket server %s", ready.Browser, ready.Origin, s.plain.URL)
	if ready.Origin != pageSrv.URL || ready.Origin == s.plain.URL {
		t.Fatalf("page origin %s: want %s, which is not the WebSocket server's %s", ready.Origin, pageSrv.URL, s.plain.URL)
	}

	runScenarios(t, pairing{peer: "Chromium", connect: s.connector(browser), noPing: true, noFrag: true})
	t.Run("deflate", func(t *testing.T) {
		p := deflatePairing{peer: "Chromium", connect: s.connector(browser), rule: alwaysRule, noPing: true, noFrag: true}
		runDeflateCases(t, p, chromiumDeflateCases)
	})

	t.Run("origin/refused", func(t *testing.T) {
		// A server without the page's origin in OriginPatterns refuses it.
		id := newID("s")
		u, _ := strict.wsURL(id, connCfg{}, t)
		if err := browser.connect(id, u, nil, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := browser.h.closed(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Opened == nil || *r.Opened || r.Code != 1006 {
			t.Errorf("the cross-origin socket to a same-origin server: %+v; want it never opened, code 1006", r)
		}
		select {
		case res := <-strict.ch(id):
			if !errors.Is(res.err, handshake.ErrForbiddenOrigin) {
				t.Errorf("Accept: %v, %v; want an error matching handshake.ErrForbiddenOrigin", res.c, res.err)
			}
		case <-ctx.Done():
			t.Errorf("the request never reached the server")
		}
	})
}

// TestServer_NodeWS runs the scenarios between wspipe's server and Node's
// ws client.
func TestServer_NodeWS(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Node ws")
	node := nodePath(t, "ws")
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{Subprotocols: serverProtocols}, pki)
	peer := startProc(t, "node ws client", []string{node, filepath.Join("node", "peer.mjs"), "client", "--ca", pki.caFile})
	runScenarios(t, pairing{peer: "Node ws", connect: s.connector(peer), fragPerWrite: true})
}

// TestServer_PythonWebsockets runs the scenarios between wspipe's server
// and Python's websockets client.
func TestServer_PythonWebsockets(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Python websockets")
	py := pythonPath(t)
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{Subprotocols: serverProtocols}, pki)
	peer := startProc(t, "python websockets client", []string{py, filepath.Join("python", "peer.py"), "client", "--ca", pki.caFile})
	runScenarios(t, pairing{peer: "Python websockets", connect: s.connector(peer), fragPerWrite: true})
}

// TestServer_Gorilla runs the scenarios between wspipe's server and
// gorilla/websocket's client.
func TestServer_Gorilla(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{Subprotocols: serverProtocols}, pki)
	runScenarios(t, pairing{peer: "gorilla/websocket", connect: s.connector(gorillaClient(pki))})
}

// TestServer_Coder runs the scenarios between wspipe's server and
// coder/websocket's client.
func TestServer_Coder(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{Subprotocols: serverProtocols}, pki)
	runScenarios(t, pairing{peer: "coder/websocket", connect: s.connector(coderClient(pki)), fragPerWrite: true})
}

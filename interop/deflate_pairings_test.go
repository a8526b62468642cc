package interop

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
	"github.com/wspipe/wspipe/pipeline"
)

// The permessage-deflate configurations of each pairing. The parameters
// each case wants in effect are worked out by hand from RFC 7692 and the
// peer's documented behaviour, not computed with wspipe's negotiation.

// Server policies. The zero policy, in pipeline.Compression, limits both
// windows to pipeline.DefaultWindowBits (12), the client's only if it
// offered client_max_window_bits.
var (
	// policy15 allows the largest windows.
	policy15 = handshake.DeflatePolicy{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	// policyLimited limits both windows and turns context takeover off
	// both ways.
	policyLimited = handshake.DeflatePolicy{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
		ServerMaxWindowBits:     10,
		ClientMaxWindowBits:     9,
	}
	// policyBits limits both windows, keeping context takeover.
	policyBits = handshake.DeflatePolicy{ServerMaxWindowBits: 11, ClientMaxWindowBits: 12}
)

// What the peers compress once permessage-deflate is in effect.
var (
	// ws compresses every message (empty ones too) while it keeps its
	// context, and those of at least its threshold (1024 by default)
	// when it does not.
	nodeRule = sendRule{min: 0, minNoCtx: 1024}
	// websockets, gorilla and Chromium compress every message, empty and
	// incompressible ones too.
	alwaysRule = sendRule{}
	// coder compresses messages of at least 128 bytes with context
	// takeover, 512 without.
	coderRule = sendRule{min: 128, minNoCtx: 512}
)

func params(serverBits, clientBits int, serverNoCtx, clientNoCtx bool) *deflateParams {
	return &deflateParams{ServerNoCtx: serverNoCtx, ClientNoCtx: clientNoCtx, ServerBits: serverBits, ClientBits: clientBits}
}

// ---------------------------------------------------------------------------
// wspipe's server.

// chromiumDeflateCases: Chromium offers "permessage-deflate;
// client_max_window_bits" and nothing else can be set.
var chromiumDeflateCases = []deflateCase{
	{name: "default", ours: &pipeline.Compression{}, want: params(12, 12, false, false), big: true},
	{name: "default/accept-conn", ours: &pipeline.Compression{}, want: params(12, 12, false, false), acceptConn: true},
	{name: "policy-15", ours: &pipeline.Compression{Policy: policy15}, want: params(15, 15, false, false), big: true},
	{name: "policy-limited", ours: &pipeline.Compression{Policy: policyLimited}, want: params(10, 9, true, true), big: true},
	{name: "policy-bits/threshold-1", ours: &pipeline.Compression{Policy: policyBits, Threshold: -1}, want: params(11, 12, false, false)},
	{name: "wspipe-off", want: nil},
}

// TestServerDeflate_NodeWS runs the deflate scenarios between wspipe's
// server and Node's ws client, whose perMessageDeflate option is set per
// connection (by default it offers "permessage-deflate;
// client_max_window_bits").
func TestServerDeflate_NodeWS(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Node ws")
	node := nodePath(t, "ws")
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{}, pki)
	peer := startProc(t, "node ws client", []string{node, filepath.Join("node", "peer.mjs"), "client", "--ca", pki.caFile})
	p := deflatePairing{peer: "Node ws", connect: s.connector(peer), rule: nodeRule, fragPerWrite: true}
	type obj = map[string]any
	runDeflateCases(t, p, []deflateCase{
		{name: "default", ours: &pipeline.Compression{}, want: params(12, 12, false, false), big: true},
		{name: "default/accept-conn", ours: &pipeline.Compression{}, want: params(12, 12, false, false), acceptConn: true},
		{name: "policy-15", ours: &pipeline.Compression{Policy: policy15}, want: params(15, 15, false, false), big: true},
		{name: "policy-limited", ours: &pipeline.Compression{Policy: policyLimited}, want: params(10, 9, true, true), big: true},
		{name: "policy-limited/accept-conn", ours: &pipeline.Compression{Policy: policyLimited}, want: params(10, 9, true, true), acceptConn: true},
		{name: "policy-bits", ours: &pipeline.Compression{Policy: policyBits}, want: params(11, 12, false, false)},
		{name: "ws-bits-9-9/level-9", ours: &pipeline.Compression{Level: 9},
			peer: obj{"serverMaxWindowBits": 9, "clientMaxWindowBits": 9}, want: params(9, 9, false, false)},
		{name: "ws-bits-11-13", ours: &pipeline.Compression{},
			peer: obj{"serverMaxWindowBits": 11, "clientMaxWindowBits": 13}, want: params(11, 12, false, false)},
		{name: "ws-bits-14-10/huffman-only", ours: &pipeline.Compression{Level: layers.DeflateHuffmanOnly},
			peer: obj{"serverMaxWindowBits": 14, "clientMaxWindowBits": 10}, want: params(12, 10, false, false)},
		{name: "ws-bits-13-14/policy-15", ours: &pipeline.Compression{Policy: policy15},
			peer: obj{"serverMaxWindowBits": 13, "clientMaxWindowBits": 14}, want: params(13, 14, false, false)},
		{name: "ws-bits-15-15/policy-15", ours: &pipeline.Compression{Policy: policy15},
			peer: obj{"serverMaxWindowBits": 15, "clientMaxWindowBits": 15}, want: params(15, 15, false, false)},
		{name: "ws-bits-12-12/policy-limited", ours: &pipeline.Compression{Policy: policyLimited},
			peer: obj{"serverMaxWindowBits": 12, "clientMaxWindowBits": 12}, want: params(10, 9, true, true)},
		// 8-bit windows both ways: wspipe compresses with 256 bytes
		// exactly; Node's zlib compresses with 9 bits when asked for 8,
		// which wspipe's inflater tolerates.
		{name: "ws-bits-8-8", ours: &pipeline.Compression{},
			peer: obj{"serverMaxWindowBits": 8, "clientMaxWindowBits": 8}, want: params(8, 8, false, false)},
		{name: "ws-no-context-takeover", ours: &pipeline.Compression{},
			peer: obj{"serverNoContextTakeover": true, "clientNoContextTakeover": true}, want: params(12, 12, true, true)},
		{name: "ws-threshold-0/threshold-1", ours: &pipeline.Compression{Threshold: -1},
			peer: obj{"clientNoContextTakeover": true, "threshold": 0}, want: params(12, 12, false, true),
			rule: &sendRule{}},
		{name: "ws-off", ours: &pipeline.Compression{}, peer: false, want: nil},
	})
}

// TestServerDeflate_PythonWebsockets runs the deflate scenarios between
// wspipe's server and Python's websockets client, which offers
// "permessage-deflate; client_max_window_bits" by default.
func TestServerDeflate_PythonWebsockets(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Python websockets")
	py := pythonPath(t)
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{}, pki)
	peer := startProc(t, "python websockets client", []string{py, filepath.Join("python", "peer.py"), "client", "--ca", pki.caFile})
	p := deflatePairing{peer: "Python websockets", connect: s.connector(peer), rule: alwaysRule, fragPerWrite: true}
	type obj = map[string]any
	runDeflateCases(t, p, []deflateCase{
		{name: "default", ours: &pipeline.Compression{}, want: params(12, 12, false, false), big: true},
		{name: "default/accept-conn", ours: &pipeline.Compression{}, want: params(12, 12, false, false), acceptConn: true},
		{name: "policy-15", ours: &pipeline.Compression{Policy: policy15}, want: params(15, 15, false, false)},
		{name: "policy-limited", ours: &pipeline.Compression{Policy: policyLimited}, want: params(10, 9, true, true)},
		{name: "policy-bits/threshold-1", ours: &pipeline.Compression{Policy: policyBits, Threshold: -1}, want: params(11, 12, false, false)},
		// An 8-bit window for wspipe: it compresses with 256 bytes exactly,
		// which zlib's raw inflater enforces. (The client cannot take 8
		// bits itself: Python's zlib refuses a raw 8-bit compressor.)
		{name: "py-bits-8-9", ours: &pipeline.Compression{},
			peer: obj{"server_max_window_bits": 8, "client_max_window_bits": 9}, want: params(8, 9, false, false)},
		{name: "py-bits-10-10-no-context-takeover", ours: &pipeline.Compression{},
			peer: obj{"server_max_window_bits": 10, "client_max_window_bits": 10, "server_no_context_takeover": true, "client_no_context_takeover": true},
			want: params(10, 10, true, true)},
		{name: "py-compression-none", ours: &pipeline.Compression{}, peer: false, want: nil},
	})
}

// TestServerDeflate_Gorilla runs the deflate scenarios between wspipe's
// server and gorilla's client with EnableCompression, which offers
// "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover" and insists on both in the answer.
func TestServerDeflate_Gorilla(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{}, pki)
	p := deflatePairing{peer: "gorilla/websocket", connect: s.connector(gorillaClient(pki)), rule: alwaysRule}
	runDeflateCases(t, p, []deflateCase{
		{name: "default", ours: &pipeline.Compression{}, peer: true, want: params(12, 15, true, true), big: true},
		{name: "default/accept-conn", ours: &pipeline.Compression{}, peer: true, want: params(12, 15, true, true), acceptConn: true},
		{name: "policy-15", ours: &pipeline.Compression{Policy: policy15}, peer: true, want: params(15, 15, true, true)},
		{name: "policy-limited", ours: &pipeline.Compression{Policy: policyLimited}, peer: true, want: params(10, 15, true, true)},
	})
}

// TestServerDeflate_Coder runs the deflate scenarios between wspipe's
// server and coder's client, in both its compression modes.
func TestServerDeflate_Coder(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	s := startOurServer(t, &handshake.Server{}, pki)
	p := deflatePairing{peer: "coder/websocket", connect: s.connector(coderClient(pki)), rule: coderRule}
	runDeflateCases(t, p, []deflateCase{
		{name: "context-takeover", ours: &pipeline.Compression{}, peer: coder.CompressionContextTakeover, want: params(12, 15, false, false), big: true},
		{name: "context-takeover/accept-conn", ours: &pipeline.Compression{}, peer: coder.CompressionContextTakeover, want: params(12, 15, false, false), acceptConn: true},
		{name: "context-takeover/policy-15", ours: &pipeline.Compression{Policy: policy15}, peer: coder.CompressionContextTakeover, want: params(15, 15, false, false)},
		{name: "no-context-takeover", ours: &pipeline.Compression{}, peer: coder.CompressionNoContextTakeover, want: params(12, 15, true, true)},
		{name: "context-takeover/policy-limited", ours: &pipeline.Compression{Policy: policyLimited}, peer: coder.CompressionContextTakeover, want: params(10, 15, true, true)},
	})
}

// ---------------------------------------------------------------------------
// wspipe's client.

// deflateServer is a server peer set up one way, and the cases run
// against it.
type deflateServer struct {
	name  string
	sp    serverPeer
	rule  sendRule
	cases []deflateCase
}

func runDeflateServers(t *testing.T, peer string, pki *testPKI, frag bool, servers []deflateServer) {
	for _, ds := range servers {
		t.Run(ds.name, func(t *testing.T) {
			p := deflatePairing{peer: peer, connect: dialer(ds.sp, pki), rule: ds.rule, fragPerWrite: frag}
			runDeflateCases(t, p, ds.cases)
		})
	}
}

// TestClientDeflate_NodeWS runs the deflate scenarios between wspipe's
// client and Node's ws server, with several perMessageDeflate settings.
func TestClientDeflate_NodeWS(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Node ws")
	node := nodePath(t, "ws")
	pki := newPKI(t)
	start := func(deflate any) serverPeer {
		argv := []string{node, filepath.Join("node", "peer.mjs"), "server", "--cert", pki.crtFile, "--key", pki.keyFile}
		if deflate != nil {
			js, err := json.Marshal(deflate)
			if err != nil {
				t.Fatal(err)
			}
			argv = append(argv, "--deflate", string(js))
		}
		return startServerProc(t, "node ws server", argv)
	}
	type obj = map[string]any
	offer := func(o handshake.DeflateOffer) *pipeline.Compression { return &pipeline.Compression{Offer: o} }
	runDeflateServers(t, "Node ws", pki, true, []deflateServer{
		{"ws-default", start(true), nodeRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: params(15, 15, false, false), big: true},
			{name: "offer-server-bits-10", ours: offer(handshake.DeflateOffer{ServerMaxWindowBits: 10, ClientMaxWindowBits: -1}),
				want: params(10, 15, false, false)},
			{name: "offer-bits-9-9-no-context-takeover", ours: offer(handshake.DeflateOffer{ServerMaxWindowBits: 9, ClientMaxWindowBits: 9,
				ServerNoContextTakeover: true, ClientNoContextTakeover: true}), want: params(9, 9, true, true), big: true},
		}},
		{"ws-bits-9-9", start(obj{"serverMaxWindowBits": 9, "clientMaxWindowBits": 9}), nodeRule, []deflateCase{
			{name: "offer-client-bits/level-9", ours: &pipeline.Compression{Level: 9, Offer: handshake.DeflateOffer{ClientMaxWindowBits: -1}},
				want: params(9, 9, false, false)},
		}},
		{"ws-bits-12-11", start(obj{"serverMaxWindowBits": 12, "clientMaxWindowBits": 11}), nodeRule, []deflateCase{
			{name: "offer-bits-14-13", ours: offer(handshake.DeflateOffer{ServerMaxWindowBits: 14, ClientMaxWindowBits: 13}),
				want: params(12, 11, false, false)},
		}},
		{"ws-no-context-takeover", start(obj{"serverNoContextTakeover": true, "clientNoContextTakeover": true}), nodeRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: params(15, 15, true, true)},
		}},
		{"ws-server-no-context-takeover-threshold-0", start(obj{"serverNoContextTakeover": true, "threshold": 0}), sendRule{}, []deflateCase{
			{name: "offer-client-no-context-takeover/threshold-1",
				ours: &pipeline.Compression{Threshold: -1, Offer: handshake.DeflateOffer{ClientNoContextTakeover: true}},
				want: params(15, 15, true, true)},
		}},
		{"ws-off", start(nil), nodeRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: nil},
		}},
	})
}

// TestClientDeflate_PythonWebsockets runs the deflate scenarios between
// wspipe's client and Python's websockets server, whose default
// permessage-deflate limits both windows to 12 bits.
func TestClientDeflate_PythonWebsockets(t *testing.T) {
	t.Parallel()
	requireExternal(t, "Python websockets")
	py := pythonPath(t)
	pki := newPKI(t)
	start := func(deflate any) serverPeer {
		argv := []string{py, filepath.Join("python", "peer.py"), "server", "--cert", pki.crtFile, "--key", pki.keyFile}
		if deflate != nil {
			js, err := json.Marshal(deflate)
			if err != nil {
				t.Fatal(err)
			}
			argv = append(argv, "--deflate", string(js))
		}
		return startServerProc(t, "python websockets server", argv)
	}
	offer := func(o handshake.DeflateOffer) *pipeline.Compression { return &pipeline.Compression{Offer: o} }
	runDeflateServers(t, "Python websockets", pki, true, []deflateServer{
		{"py-default", start(nil), alwaysRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: params(12, 15, false, false), big: true},
			{name: "offer-client-bits", ours: offer(handshake.DeflateOffer{ClientMaxWindowBits: -1}), want: params(12, 12, false, false)},
			// wspipe compresses with an 8-bit window exactly, which
			// zlib's raw inflater enforces.
			{name: "offer-client-bits-8", ours: offer(handshake.DeflateOffer{ClientMaxWindowBits: 8}), want: params(12, 8, false, false)},
			{name: "offer-bits-10-9-no-context-takeover", ours: offer(handshake.DeflateOffer{ServerMaxWindowBits: 10, ClientMaxWindowBits: 9,
				ServerNoContextTakeover: true, ClientNoContextTakeover: true}), want: params(10, 9, true, true)},
		}},
		{"py-compression-none", start(false), alwaysRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: nil},
		}},
	})
}

// TestClientDeflate_Gorilla runs the deflate scenarios between wspipe's
// client and gorilla's server with EnableCompression, which accepts any
// permessage-deflate offer, ignoring its parameters, with
// "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover".
func TestClientDeflate_Gorilla(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	offer := func(o handshake.DeflateOffer) *pipeline.Compression { return &pipeline.Compression{Offer: o} }
	runDeflateServers(t, "gorilla/websocket", pki, false, []deflateServer{
		{"enable-compression", gorillaServer(t, pki, true), alwaysRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: params(15, 15, true, true), big: true},
			{name: "offer-client-bits-client-no-context-takeover", ours: offer(handshake.DeflateOffer{ClientMaxWindowBits: -1, ClientNoContextTakeover: true}),
				want: params(15, 15, true, true)},
		}},
	})
	// gorilla accepts an offer of server_max_window_bits without
	// answering it, which RFC 7692 7.1.2.1 does not allow: wspipe must
	// fail the connection.
	dialRefused(t, "offer-server-bits-10-unanswered", gorillaServer(t, pki, true), handshake.DeflateOffer{ServerMaxWindowBits: 10})
}

// dialRefused checks that wspipe's client, offering o to sp, fails the
// connection because the answer does not honour the offer, and closes it.
func dialRefused(t *testing.T, name string, sp serverPeer, o handshake.DeflateOffer) {
	t.Run(name, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		id := newID("c")
		c, resp, err := pipeline.Dial(ctx, "ws://"+sp.ws+"/?id="+id, &handshake.Client{HandshakeTimeout: 10 * time.Second},
			&pipeline.Options{Compression: &pipeline.Compression{Offer: o}})
		if err == nil {
			c.UnderlyingConn().Close()
			t.Fatalf("Dial offering %q: answer %q accepted; want an error matching handshake.ErrBadDeflateResponse",
				o.Extension().Name, resp.Header.Get("Sec-WebSocket-Extensions"))
		}
		if !errors.Is(err, handshake.ErrBadDeflateResponse) {
			t.Fatalf("Dial: %v; want an error matching handshake.ErrBadDeflateResponse", err)
		}
		t.Logf("Dial: %v (answer %q)", err, resp.Header.Get("Sec-WebSocket-Extensions"))
		// The server's connection ends: wspipe closed it.
		r, err := sp.h.closed(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the peer saw close %d (errors %q)", r.Code, r.Error)
	})
}

// TestClientDeflate_Coder runs the deflate scenarios between wspipe's
// client and coder's server in both its compression modes. coder accepts
// client_max_window_bits (answering nothing: it inflates with any window)
// and declines an offer of server_max_window_bits below 15.
func TestClientDeflate_Coder(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	offer := func(o handshake.DeflateOffer) *pipeline.Compression { return &pipeline.Compression{Offer: o} }
	runDeflateServers(t, "coder/websocket", pki, false, []deflateServer{
		{"context-takeover", coderServer(t, pki, coder.CompressionContextTakeover), coderRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: params(15, 15, false, false), big: true},
			{name: "offer-client-bits-10", ours: offer(handshake.DeflateOffer{ClientMaxWindowBits: 10}), want: params(15, 10, false, false)},
			{name: "offer-server-bits-10-declined", ours: offer(handshake.DeflateOffer{ServerMaxWindowBits: 10}), want: nil},
		}},
		{"no-context-takeover", coderServer(t, pki, coder.CompressionNoContextTakeover), coderRule, []deflateCase{
			{name: "offer-plain", ours: offer(handshake.DeflateOffer{}), want: params(15, 15, true, true)},
		}},
	})
	// coder accepts server_max_window_bits=15 without answering it, which
	// RFC 7692 7.1.2.1 does not allow: wspipe must fail the connection.
	dialRefused(t, "offer-server-bits-15-unanswered", coderServer(t, pki, coder.CompressionContextTakeover), handshake.DeflateOffer{ServerMaxWindowBits: 15})
}

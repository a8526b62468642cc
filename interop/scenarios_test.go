package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wspipe/wspipe/pipeline"
)

// link is one connection between wspipe and a peer.
type link struct {
	c      *pipeline.Conn
	id     string
	h      *hub
	relay  *relay // nil unless connCfg.relay
	server bool   // wspipe is the server
	// answer is the Sec-WebSocket-Extensions of the server's 101 as
	// wspipe's client received it (Dial's *http.Response); offer that of
	// the client's request as wspipe's server received it.
	answer, offer string
	offerUnseen   bool // wspipe's server used AcceptConn, which does not show the request
	// sent and recv are the data messages wspipe sent and received, in
	// order, as the helpers below saw them.
	sent, recv [][]byte
}

// peerFrames are the frame headers the peer sent, seen by the relay.
func (l *link) peerFrames() []frameInfo {
	if l.server {
		return l.relay.fromClient.snapshot()
	}
	return l.relay.fromServer.snapshot()
}

// ourFrames are the frame headers wspipe sent, seen by the relay.
func (l *link) ourFrames() []frameInfo {
	if l.server {
		return l.relay.fromServer.snapshot()
	}
	return l.relay.fromClient.snapshot()
}

// connCfg says how to make a link.
type connCfg struct {
	protocols []string // offered by the client, whichever side it is
	tls       bool     // wss://
	relay     bool     // through a frame-recording relay (not with tls)
	writeBuf  int      // wspipe's Options.WriteBufferSize, 0 for the default
	// compression is wspipe's Options.Compression.
	compression *pipeline.Compression
	// peerDeflate is a client peer's own permessage-deflate setting for
	// the connection, nil for its default: for the programs, a JSON value
	// they interpret (see node/peer.mjs, python/peer.py); for the Go
	// peers, a value of their library's type.
	peerDeflate any
	// acceptConn: wspipe's server runs pipeline.AcceptConn on a listener
	// of its own instead of pipeline.Accept (not with tls).
	acceptConn bool
	// maxMessage is wspipe's Options.MaxMessageSize, 0 for the default.
	maxMessage int64
}

// pairing is wspipe and one peer, in one role.
type pairing struct {
	peer    string
	connect func(t *testing.T, ctx context.Context, cfg connCfg) *link
	// noPing: the peer's API cannot send pings; noFrag: nor fragments.
	noPing, noFrag bool
	// fragPerWrite: every piece the peer writes becomes a frame of its own
	// (otherwise its buffering decides, and only "more than one frame" is
	// checked).
	fragPerWrite bool
}

// Subprotocol negotiation: the client offers these, in this order, and the
// server prefers chat.v1.
var (
	offeredProtocols = []string{"chat.v2", "chat.v1"}
	serverProtocols  = []string{"chat.v1", "chat.v2"}
)

const wantProtocol = "chat.v1"

// The close codes and reasons carried each way.
const (
	peerCloseCode   = 4001
	peerCloseReason = "bye-peer"
	ourCloseCode    = 4002
	ourCloseReason  = "bye-wspipe"
)

// runScenarios runs every scenario between wspipe and p's peer, each on a
// fresh connection, as subtests.
func runScenarios(t *testing.T, p pairing) {
	scenario := func(name string, timeout time.Duration, cfg connCfg, f func(t *testing.T, ctx context.Context, l *link)) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			l := p.connect(t, ctx, cfg)
			f(t, ctx, l)
		})
	}
	const short = 20 * time.Second

	scenario("text", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		for _, m := range []string{"Hello", "héllo wörld ✓ 🙂", strings.Repeat("wspipe ", 100), "cmd"} {
			exchange(t, ctx, l, pipeline.Text, []byte(m))
		}
		finish(t, ctx, l)
	})
	scenario("binary", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		exchange(t, ctx, l, pipeline.Binary, all)
		exchange(t, ctx, l, pipeline.Binary, []byte("cmd:close:4001:not-a-command-in-binary"))
		exchange(t, ctx, l, pipeline.Binary, randomBytes(1000, 1))
		finish(t, ctx, l)
	})
	scenario("empty", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		exchange(t, ctx, l, pipeline.Text, nil)
		exchange(t, ctx, l, pipeline.Binary, nil)
		exchange(t, ctx, l, pipeline.Text, []byte("after empty"))
		finish(t, ctx, l)
	})
	for _, n := range []int{125, 126, 65535, 65536} {
		scenario(fmt.Sprintf("size/%d", n), short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
			exchange(t, ctx, l, pipeline.Binary, randomBytes(n, uint64(n)))
			exchange(t, ctx, l, pipeline.Text, textOfLen(n))
			finish(t, ctx, l)
		})
	}
	scenario("size/16MiB", 90*time.Second, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		exchange(t, ctx, l, pipeline.Binary, randomBytes(16<<20, 16))
		exchange(t, ctx, l, pipeline.Text, textOfLen(16<<20))
		finish(t, ctx, l)
	})

	scenario("fragmented/peer-sends", short, connCfg{relay: true}, func(t *testing.T, ctx context.Context, l *link) {
		if p.noFrag {
			expectText(t, ctx, l, "cmd:frag:text:3:1000", "unsupported:frag")
			finish(t, ctx, l)
			t.Skipf("%s cannot send a fragmented message", p.peer)
		}
		cases := []struct {
			typ     pipeline.MessageType
			n, size int
		}{{pipeline.Text, 3, 1000}, {pipeline.Binary, 4, 300}}
		for _, tc := range cases {
			send(t, ctx, l, pipeline.Text, []byte(fmt.Sprintf("cmd:frag:%s:%d:%d", tc.typ, tc.n, tc.size)))
			var want []byte
			for k := range tc.n {
				want = append(want, bytes.Repeat([]byte{byte('a' + k)}, tc.size)...)
			}
			receive(t, ctx, l, tc.typ, want)
		}
		msgs := dataMessages(l.peerFrames())
		if len(msgs) != len(cases) {
			t.Fatalf("the relay saw %d data messages from %s, want %d: %s", len(msgs), p.peer, len(cases), framesString(l.peerFrames()))
		}
		for i, tc := range cases {
			t.Logf("%s %s message: %s", p.peer, tc.typ, framesString(msgs[i]))
			checkFragments(t, msgs[i], tc.typ)
			if p.fragPerWrite && len(msgs[i]) < tc.n {
				t.Errorf("%s sent %d pieces in %d frames, want a frame per piece", p.peer, tc.n, len(msgs[i]))
			}
		}
		finish(t, ctx, l)
	})
	scenario("fragmented/wspipe-sends", short, connCfg{relay: true, writeBuf: 512}, func(t *testing.T, ctx context.Context, l *link) {
		for _, typ := range []pipeline.MessageType{pipeline.Text, pipeline.Binary} {
			pieces := [][]byte{textOfLen(1000), textOfLen(700), []byte("end")}
			done := make(chan error, 1)
			go func() {
				w, err := l.c.NextWriter(ctx, typ)
				if err != nil {
					done <- err
					return
				}
				for _, piece := range pieces {
					if _, err := w.Write(piece); err != nil {
						done <- err
						return
					}
				}
				done <- w.Close()
			}()
			receive(t, ctx, l, typ, bytes.Join(pieces, nil))
			if err := <-done; err != nil {
				t.Fatalf("writing the %s message: %v", typ, err)
			}
		}
		msgs := dataMessages(l.ourFrames())
		if len(msgs) != 2 {
			t.Fatalf("the relay saw %d data messages from wspipe, want 2: %s", len(msgs), framesString(l.ourFrames()))
		}
		for i, typ := range []pipeline.MessageType{pipeline.Text, pipeline.Binary} {
			t.Logf("wspipe %s message: %s", typ, framesString(msgs[i]))
			checkFragments(t, msgs[i], typ)
		}
		finish(t, ctx, l)
	})

	scenario("ping/wspipe-pings", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		for range 3 {
			rtt, err := l.c.Ping(ctx)
			if err != nil {
				t.Fatalf("Ping: %v", err)
			}
			t.Logf("pong from %s after %v", p.peer, rtt)
		}
		exchange(t, ctx, l, pipeline.Text, []byte("after pings"))
		finish(t, ctx, l)
	})
	scenario("ping/peer-pings", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		if p.noPing {
			expectText(t, ctx, l, "cmd:ping:x", "unsupported:ping")
			finish(t, ctx, l)
			t.Skipf("%s cannot send pings", p.peer)
		}
		for _, payload := range []string{"peer-ping-1", "", strings.Repeat("p", 125)} {
			expectText(t, ctx, l, "cmd:ping:"+payload, "pong:"+payload)
		}
		finish(t, ctx, l)
	})

	scenario("close/peer-closes", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		exchange(t, ctx, l, pipeline.Text, []byte("before close"))
		send(t, ctx, l, pipeline.Text, []byte(fmt.Sprintf("cmd:close:%d:%s", peerCloseCode, peerCloseReason)))
		_, msg, err := l.c.ReadMessage(ctx, nil)
		var ce *pipeline.CloseError
		if !errors.As(err, &ce) || ce.Code != peerCloseCode || ce.Reason != peerCloseReason {
			t.Fatalf("ReadMessage after the peer's close: %q, %v (%T); want *pipeline.CloseError{%d, %q}", msg, err, err, peerCloseCode, peerCloseReason)
		}
		if !errors.Is(err, pipeline.ErrClosed) {
			t.Errorf("the CloseError does not match ErrClosed")
		}
		// wspipe echoes the code (RFC 6455 section 5.5.1).
		r := peerReport(t, ctx, l)
		if r.Code != peerCloseCode {
			t.Errorf("%s got close code %d back, want the echoed %d", p.peer, r.Code, peerCloseCode)
		}
		waitDone(t, l)
	})
	scenario("close/wspipe-closes", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		exchange(t, ctx, l, pipeline.Text, []byte("before close"))
		if err := l.c.Close(ourCloseCode, ourCloseReason); err != nil {
			t.Fatalf("Close: %v", err)
		}
		r := peerReport(t, ctx, l)
		if r.Code != ourCloseCode || r.Reason != ourCloseReason {
			t.Errorf("%s saw close %d %q, want %d %q", p.peer, r.Code, r.Reason, ourCloseCode, ourCloseReason)
		}
		if r.Clean != nil && !*r.Clean {
			t.Errorf("%s says the close was not clean", p.peer)
		}
		if _, _, err := l.c.ReadMessage(ctx, nil); !errors.Is(err, pipeline.ErrClosed) {
			t.Errorf("ReadMessage after Close: %v, want an error matching ErrClosed", err)
		}
		waitDone(t, l)
	})

	scenario("close/peer-closes-without-status", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		send(t, ctx, l, pipeline.Text, []byte("cmd:close::"))
		_, msg, err := l.c.ReadMessage(ctx, nil)
		if string(msg) == "unsupported:close" {
			finish(t, ctx, l)
			t.Skipf("%s cannot send a close frame without a status code", p.peer)
		}
		var ce *pipeline.CloseError
		if !errors.As(err, &ce) || ce.Code != pipeline.CloseCode(1005) || ce.Reason != "" {
			t.Fatalf("ReadMessage after the peer's close: %q, %v; want *pipeline.CloseError{1005, \"\"}", msg, err)
		}
		// wspipe answers with no status code either, which the peer
		// reports as 1005.
		if r := peerReport(t, ctx, l); r.Code != 1005 {
			t.Errorf("%s got close code %d back, want 1005 (no status)", p.peer, r.Code)
		}
		waitDone(t, l)
	})
	// The longest reason a close frame can carry: 123 bytes, multi-byte
	// characters included.
	longReason := strings.Repeat("é", 60) + "✓"
	scenario("close/peer-closes-long-reason", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		send(t, ctx, l, pipeline.Text, []byte(fmt.Sprintf("cmd:close:%d:%s", peerCloseCode, longReason)))
		_, msg, err := l.c.ReadMessage(ctx, nil)
		var ce *pipeline.CloseError
		if !errors.As(err, &ce) || ce.Code != peerCloseCode || ce.Reason != longReason {
			t.Fatalf("ReadMessage after the peer's close: %q, %v; want *pipeline.CloseError{%d, %q}", msg, err, peerCloseCode, longReason)
		}
		peerReport(t, ctx, l)
		waitDone(t, l)
	})
	scenario("close/wspipe-closes-long-reason", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		if err := l.c.Close(ourCloseCode, longReason); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if r := peerReport(t, ctx, l); r.Code != ourCloseCode || r.Reason != longReason {
			t.Errorf("%s saw close %d %q, want %d %q", p.peer, r.Code, r.Reason, ourCloseCode, longReason)
		}
		waitDone(t, l)
	})

	scenario("subprotocol", short, connCfg{protocols: offeredProtocols}, func(t *testing.T, ctx context.Context, l *link) {
		if got := l.c.Subprotocol(); got != wantProtocol {
			t.Errorf("wspipe's Subprotocol() = %q, want %q", got, wantProtocol)
		}
		expectText(t, ctx, l, "cmd:protocol", "protocol:"+wantProtocol)
		finish(t, ctx, l)
	})
	scenario("subprotocol/none-offered", short, connCfg{}, func(t *testing.T, ctx context.Context, l *link) {
		if got := l.c.Subprotocol(); got != "" {
			t.Errorf("wspipe's Subprotocol() = %q, want none", got)
		}
		expectText(t, ctx, l, "cmd:protocol", "protocol:")
		finish(t, ctx, l)
	})

	scenario("wss", 30*time.Second, connCfg{tls: true, protocols: offeredProtocols}, func(t *testing.T, ctx context.Context, l *link) {
		if _, ok := l.c.UnderlyingConn().(interface{ ConnectionState() tls.ConnectionState }); !ok {
			t.Errorf("the connection is a %T, not TLS", l.c.UnderlyingConn())
		}
		if got := l.c.Subprotocol(); got != wantProtocol {
			t.Errorf("wspipe's Subprotocol() = %q, want %q", got, wantProtocol)
		}
		exchange(t, ctx, l, pipeline.Text, []byte("héllo over TLS"))
		exchange(t, ctx, l, pipeline.Binary, randomBytes(65536, 7))
		exchange(t, ctx, l, pipeline.Text, textOfLen(1<<20))
		if _, err := l.c.Ping(ctx); err != nil {
			t.Fatalf("Ping over TLS: %v", err)
		}
		if err := l.c.Close(ourCloseCode, ourCloseReason); err != nil {
			t.Fatalf("Close: %v", err)
		}
		r := peerReport(t, ctx, l)
		if r.Code != ourCloseCode || r.Reason != ourCloseReason {
			t.Errorf("%s saw close %d %q over TLS, want %d %q", p.peer, r.Code, r.Reason, ourCloseCode, ourCloseReason)
		}
		waitDone(t, l)
	})
}

// send writes one message.
func send(t *testing.T, ctx context.Context, l *link, typ pipeline.MessageType, p []byte) {
	t.Helper()
	l.sent = append(l.sent, p)
	if err := l.c.WriteMessage(ctx, typ, p); err != nil {
		t.Fatalf("WriteMessage(%s, %d bytes): %v", typ, len(p), err)
	}
}

// receive reads one message and checks it is want, of type typ.
func receive(t *testing.T, ctx context.Context, l *link, typ pipeline.MessageType, want []byte) {
	t.Helper()
	gotTyp, got, err := l.c.ReadMessage(ctx, nil)
	if err != nil {
		t.Fatalf("ReadMessage, waiting for a %s message of %d bytes: %v", typ, len(want), err)
	}
	if gotTyp != typ || !bytes.Equal(got, want) {
		t.Fatalf("received %s message of %d bytes %s, want %s of %d bytes %s",
			gotTyp, len(got), describe(got, want), typ, len(want), summary(want))
	}
	l.recv = append(l.recv, want)
}

// exchange sends a message and checks that the peer's echo is the same,
// writing while reading so that a peer echoing as it reads never waits on
// us.
func exchange(t *testing.T, ctx context.Context, l *link, typ pipeline.MessageType, p []byte) {
	t.Helper()
	werr := make(chan error, 1)
	l.sent = append(l.sent, p)
	go func() { werr <- l.c.WriteMessage(ctx, typ, p) }()
	receive(t, ctx, l, typ, p)
	if err := <-werr; err != nil {
		t.Fatalf("WriteMessage(%s, %d bytes): %v", typ, len(p), err)
	}
}

// expectText sends a text command and checks the text answer.
func expectText(t *testing.T, ctx context.Context, l *link, cmd, want string) {
	t.Helper()
	send(t, ctx, l, pipeline.Text, []byte(cmd))
	receive(t, ctx, l, pipeline.Text, []byte(want))
}

// peerReport waits for the peer's report of the connection's end.
func peerReport(t *testing.T, ctx context.Context, l *link) report {
	t.Helper()
	r, err := l.h.closed(ctx, l.id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" {
		t.Logf("the peer reported errors: %s", r.Error)
	}
	t.Logf("the peer saw close %d %q", r.Code, r.Reason)
	return r
}

// finish closes normally and checks that the peer saw 1000.
func finish(t *testing.T, ctx context.Context, l *link) {
	t.Helper()
	if err := l.c.Close(pipeline.CloseNormal, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r, err := l.h.closed(ctx, l.id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != int(pipeline.CloseNormal) || r.Reason != "" {
		t.Errorf("the peer saw close %d %q (errors %q), want 1000 and no reason", r.Code, r.Reason, r.Error)
	}
	waitDone(t, l)
}

// waitDone waits for the connection to be torn down.
func waitDone(t *testing.T, l *link) {
	t.Helper()
	select {
	case <-l.c.Done():
	case <-time.After(10 * time.Second):
		t.Errorf("the connection was not torn down within 10s of closing")
	}
}

// checkFragments checks that frames are one message of type typ in more
// than one frame.
func checkFragments(t *testing.T, frames []frameInfo, typ pipeline.MessageType) {
	t.Helper()
	if len(frames) < 2 {
		t.Errorf("the %s message was not fragmented: %s", typ, framesString(frames))
		return
	}
	if frames[0].Opcode != byte(typ) {
		t.Errorf("the first frame is %s, want %s: %s", frames[0], typ, framesString(frames))
	}
	for i, f := range frames[1:] {
		if f.Opcode != 0 {
			t.Errorf("frame %d is %s, want a continuation", i+1, f)
		}
		if f.Fin != (i == len(frames)-2) {
			t.Errorf("frame %d has fin %v: %s", i+1, f.Fin, framesString(frames))
		}
	}
}

// randomBytes returns n reproducible random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 0x77737069706521))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// textOfLen returns valid UTF-8 text of exactly n bytes, with 2-, 3- and
// 4-byte characters in it.
func textOfLen(n int) []byte {
	const pattern = "wspipé ✓ 🙂 interop "
	b := make([]byte, 0, n)
	for len(b) < n {
		for _, r := range pattern {
			if len(b)+utf8.RuneLen(r) > n {
				break
			}
			b = utf8.AppendRune(b, r)
		}
		if len(b)+utf8.UTFMax > n {
			for len(b) < n {
				b = append(b, 'x')
			}
		}
	}
	return b
}

// summary describes a payload briefly.
func summary(p []byte) string {
	if len(p) <= 40 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%q...", p[:40])
}

// describe says how got differs from want.
func describe(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%s (first difference at byte %d)", summary(got), i)
		}
	}
	return summary(got)
}

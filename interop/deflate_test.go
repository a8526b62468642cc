package interop

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/layers"
	"github.com/wspipe/wspipe/pipeline"
)

// permessage-deflate (RFC 7692) between wspipe and the peers: what was
// negotiated, seen on the wire (the relay keeps the HTTP heads), by wspipe
// and by the peer; messages of every size and kind round trip; the relay's
// frame headers show RSV1 exactly on the first frames of compressed
// messages; fragments, pings and closes still work.
//
// The test reads extension headers with its own small parser, not
// wspipe's, so that a misreading in wspipe cannot hide itself.

// deflateParams are the permessage-deflate parameters in effect on a
// connection, absent window bits being 15.
type deflateParams struct {
	ServerNoCtx, ClientNoCtx bool
	ServerBits, ClientBits   int
}

func (p deflateParams) String() string {
	s := fmt.Sprintf("server %d bits", p.ServerBits)
	if p.ServerNoCtx {
		s += " no takeover"
	}
	s += fmt.Sprintf(", client %d bits", p.ClientBits)
	if p.ClientNoCtx {
		s += " no takeover"
	}
	return s
}

// noCtx and bits are the parameters of the direction a side sends.
func (p deflateParams) noCtx(server bool) bool {
	if server {
		return p.ServerNoCtx
	}
	return p.ClientNoCtx
}

func (p deflateParams) bits(server bool) int {
	if server {
		return p.ServerBits
	}
	return p.ClientBits
}

// pmdHeader is one permessage-deflate element of a Sec-WebSocket-Extensions
// value as written: bits are 0 when absent and -1 without a value.
type pmdHeader struct {
	serverNoCtx, clientNoCtx bool
	serverBits, clientBits   int
}

// findPMD returns the first permessage-deflate element of a
// Sec-WebSocket-Extensions value, false if there is none.
func findPMD(v string) (pmdHeader, bool, error) {
	for _, ext := range strings.Split(v, ",") {
		parts := strings.Split(ext, ";")
		if !strings.EqualFold(strings.TrimSpace(parts[0]), "permessage-deflate") {
			continue
		}
		var h pmdHeader
		for _, p := range parts[1:] {
			name, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
			name = strings.TrimSpace(name)
			val = strings.Trim(strings.TrimSpace(val), `"`)
			bits := -1
			if hasVal {
				n, err := strconv.Atoi(val)
				if err != nil || n < 8 || n > 15 {
					return h, true, fmt.Errorf("%s=%q in %q", name, val, v)
				}
				bits = n
			}
			switch name {
			case "server_no_context_takeover":
				h.serverNoCtx = true
			case "client_no_context_takeover":
				h.clientNoCtx = true
			case "server_max_window_bits":
				h.serverBits = bits
			case "client_max_window_bits":
				h.clientBits = bits
			default:
				return h, true, fmt.Errorf("unknown parameter %q in %q", name, v)
			}
		}
		return h, true, nil
	}
	return pmdHeader{}, false, nil
}

// effective is what an answer to an offer puts in effect (RFC 7692
// 7.1.1-7.1.2): the answer's parameters, and the client's own promises in
// the offer (client_no_context_takeover, client_max_window_bits=N), which
// bind it even when the answer leaves them out.
func effective(offer, answer pmdHeader) deflateParams {
	p := deflateParams{
		ServerNoCtx: answer.serverNoCtx,
		ClientNoCtx: answer.clientNoCtx || offer.clientNoCtx,
		ServerBits:  15,
		ClientBits:  15,
	}
	if answer.serverBits > 0 {
		p.ServerBits = answer.serverBits
	}
	switch {
	case answer.clientBits > 0:
		p.ClientBits = answer.clientBits
	case offer.clientBits > 0:
		p.ClientBits = offer.clientBits
	}
	return p
}

// expectation says whether a message must go compressed.
type expectation int

const (
	mayCompress expectation = iota
	mustCompress
	mustNotCompress
)

// sendRule says which messages a side compresses once permessage-deflate
// is in effect.
type sendRule struct {
	// min and minNoCtx: the smallest message compressed when the sender
	// keeps its context (takeover), and when it does not.
	min, minNoCtx int
}

func (r sendRule) expect(noCtx bool, msg []byte) expectation {
	m := r.min
	if noCtx {
		m = r.minNoCtx
	}
	if len(msg) < m {
		return mustNotCompress
	}
	return mustCompress
}

// wspipeRule is how wspipe decides, from its Compression settings.
func wspipeRule(c *pipeline.Compression) sendRule {
	m := c.Threshold
	switch {
	case m == 0:
		m = pipeline.DefaultCompressThreshold
	case m < 0:
		m = 1 // every non-empty message
	}
	return sendRule{min: m, minNoCtx: m}
}

// deflatedSize is the size of the start of p (up to 1 MiB) compressed by
// compress/flate at BestSpeed, and the size of that start.
func deflatedSize(p []byte) (int, int) {
	p = p[:min(len(p), 1<<20)]
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Close()
	return b.Len(), len(p)
}

// compressible reports whether deflate at least halves msg.
func compressible(msg []byte) bool {
	d, n := deflatedSize(msg)
	return d < n/2
}

// deflatePairing is wspipe and one peer, in one role, for the deflate
// scenarios.
type deflatePairing struct {
	peer    string
	connect func(t *testing.T, ctx context.Context, cfg connCfg) *link
	// rule is how the peer decides what to compress.
	rule sendRule
	// noPing, noFrag, fragPerWrite: as in pairing.
	noPing, noFrag, fragPerWrite bool
}

// deflateCase is one configuration of both sides.
type deflateCase struct {
	name string
	// ours is wspipe's Compression: its Policy when wspipe is the server,
	// its Offer when it is the client. Nil: no compression on wspipe's side.
	ours *pipeline.Compression
	// peer is a client peer's own setting (connCfg.peerDeflate); a server
	// peer is set up by the test before the cases run.
	peer any
	// want is what must be in effect, nil for no permessage-deflate.
	want *deflateParams
	// rule, if set, replaces the pairing's rule for this configuration.
	rule *sendRule
	// big adds the 16 MiB scenario.
	big bool
	// acceptConn: wspipe's server uses pipeline.AcceptConn.
	acceptConn bool
}

// runDeflateCases runs the deflate scenarios for each case, as subtests.
// Under the race detector only the first big case runs the 16 MiB
// scenario.
func runDeflateCases(t *testing.T, p deflatePairing, cases []deflateCase) {
	ranBig := false
	for _, dc := range cases {
		if dc.big && raceEnabled && ranBig {
			dc.big = false
		}
		ranBig = ranBig || dc.big
		t.Run(dc.name, func(t *testing.T) { runDeflateCase(t, p, dc) })
	}
}

func runDeflateCase(t *testing.T, p deflatePairing, dc deflateCase) {
	peerRule := p.rule
	if dc.rule != nil {
		peerRule = *dc.rule
	}
	ourRule := sendRule{}
	if dc.ours != nil {
		ourRule = wspipeRule(dc.ours)
	}
	scenario := func(name string, timeout time.Duration, cfg connCfg, f func(t *testing.T, ctx context.Context, l *link, s *deflateSides)) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			l := p.connect(t, ctx, cfg)
			s := checkNegotiation(t, ctx, l, dc.want)
			s.ourRule, s.peerRule = ourRule, peerRule
			s.huffmanOnly = dc.ours != nil && dc.ours.Level == layers.DeflateHuffmanOnly
			f(t, ctx, l, s)
			s.checkWire(t, l)
		})
	}
	cfg := connCfg{relay: true, compression: dc.ours, peerDeflate: dc.peer, acceptConn: dc.acceptConn}

	scenario("messages", 90*time.Second, cfg, func(t *testing.T, ctx context.Context, l *link, s *deflateSides) {
		// The same 2000 random bytes twice: with context takeover and a
		// window that holds them, the second goes out as a back-reference.
		s.takeoverOurs, s.takeoverPeer = len(l.sent), len(l.recv)
		twice := randomBytes(2000, 2000)
		exchange(t, ctx, l, pipeline.Binary, twice)
		exchange(t, ctx, l, pipeline.Binary, twice)

		for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
			exchange(t, ctx, l, pipeline.Text, jsonOfLen(n, n))
			exchange(t, ctx, l, pipeline.Binary, randomBytes(n, uint64(n)))
			exchange(t, ctx, l, pipeline.Binary, jsonOfLen(n, n+1))
			exchange(t, ctx, l, pipeline.Text, noiseText(n, uint64(n)))
		}

		// Back-references over every distance a window allows, inside a
		// message and into the messages before it: a compressor using a
		// larger window than agreed, or history it agreed not to keep,
		// makes the other side's inflater fail.
		exchange(t, ctx, l, pipeline.Binary, windowProbe(7))
		var history [][]byte
		for i := range 12 {
			m := randomBytes(300, uint64(100+i))
			history = append(history, m)
			exchange(t, ctx, l, pipeline.Binary, m)
		}
		var back []byte
		for i := len(history) - 1; i >= 0; i-- {
			back = append(back, history[i]...)
		}
		exchange(t, ctx, l, pipeline.Binary, back)

		// Control frames between compressed messages.
		for range 2 {
			if _, err := l.c.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			exchange(t, ctx, l, pipeline.Text, jsonOfLen(3000, 3))
		}
		if p.noPing {
			expectText(t, ctx, l, "cmd:ping:x", "unsupported:ping")
		} else {
			expectText(t, ctx, l, "cmd:ping:deflate-on", "pong:deflate-on")
		}
		exchange(t, ctx, l, pipeline.Text, jsonOfLen(3000, 4))

		if err := l.c.Close(ourCloseCode, ourCloseReason); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if r := peerReport(t, ctx, l); r.Code != ourCloseCode || r.Reason != ourCloseReason {
			t.Errorf("%s saw close %d %q, want %d %q", p.peer, r.Code, r.Reason, ourCloseCode, ourCloseReason)
		}
		waitDone(t, l)
	})

	fragCfg := cfg
	fragCfg.writeBuf = 512
	scenario("fragments", 60*time.Second, fragCfg, func(t *testing.T, ctx context.Context, l *link, s *deflateSides) {
		// The peer sends fragmented messages: repetitive pieces, and
		// pieces of noise that stay large when compressed.
		frags := []struct {
			typ     pipeline.MessageType
			n, size int
			noise   bool
		}{{pipeline.Text, 4, 3000, false}, {pipeline.Binary, 3, 2000, true}, {pipeline.Text, 3, 1500, true}}
		s.peerFragAt = len(l.recv)
		if p.noFrag {
			expectText(t, ctx, l, "cmd:frag:text:3:1000", "unsupported:frag")
		} else {
			for _, f := range frags {
				cmd := fmt.Sprintf("cmd:frag:%s:%d:%d", f.typ, f.n, f.size)
				var want []byte
				for k := range f.n {
					if f.noise {
						want = append(want, noisePiece(k, f.size)...)
					} else {
						want = append(want, bytes.Repeat([]byte{byte('a' + k)}, f.size)...)
					}
				}
				if f.noise {
					cmd += ":noise"
				}
				send(t, ctx, l, pipeline.Text, []byte(cmd))
				receive(t, ctx, l, f.typ, want)
				// The peer's decision to compress goes by its first piece.
				s.peerFirst = append(s.peerFirst, want[:f.size])
			}
		}
		if !p.noFrag {
			s.peerFragN = []int{frags[0].n, frags[1].n, frags[2].n}
			s.fragPerWrite = p.fragPerWrite
		}

		// wspipe sends fragmented messages (frames of 512 bytes at most):
		// noise, random bytes, and JSON that compresses into one frame.
		s.ourFragAt = len(l.sent)
		// In the middle of the second, wspipe pings and waits for the pong.
		pieces := []struct {
			typ       pipeline.MessageType
			pieces    [][]byte
			pingAfter int // ping after this piece, -1 for none
		}{
			{pipeline.Text, [][]byte{noiseText(1000, 1), noiseText(700, 2), []byte("end")}, -1},
			{pipeline.Binary, [][]byte{randomBytes(50000, 3), randomBytes(50000, 4), randomBytes(2000, 5)}, 1},
			{pipeline.Text, [][]byte{jsonOfLen(3000, 6), jsonOfLen(3000, 7)}, -1},
		}
		for _, m := range pieces {
			whole := bytes.Join(m.pieces, nil)
			l.sent = append(l.sent, whole)
			done := make(chan error, 1)
			go func() {
				w, err := l.c.NextWriter(ctx, m.typ)
				if err != nil {
					done <- err
					return
				}
				for i, piece := range m.pieces {
					if _, err := w.Write(piece); err != nil {
						done <- err
						return
					}
					if i == m.pingAfter {
						if _, err := l.c.Ping(ctx); err != nil {
							done <- fmt.Errorf("Ping in the middle of a message: %w", err)
							return
						}
					}
				}
				done <- w.Close()
			}()
			receive(t, ctx, l, m.typ, whole)
			if err := <-done; err != nil {
				t.Fatalf("writing the %s message: %v", m.typ, err)
			}
		}

		// Other ways of writing: ReadFrom (through io.Copy, from a reader
		// that is not an io.WriterTo), a per-message opt-out, and a
		// prepared message.
		big := append(jsonOfLen(150<<10, 8), randomBytes(150<<10, 8)...)
		l.sent = append(l.sent, big)
		done := make(chan error, 1)
		go func() {
			w, err := l.c.NextWriter(ctx, pipeline.Binary)
			if err != nil {
				done <- err
				return
			}
			if _, ok := w.(io.ReaderFrom); !ok {
				t.Errorf("the writer, a %T, is not an io.ReaderFrom", w)
			}
			if _, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(big)}); err != nil {
				done <- err
				return
			}
			done <- w.Close()
		}()
		receive(t, ctx, l, pipeline.Binary, big)
		if err := <-done; err != nil {
			t.Fatalf("writing with io.Copy: %v", err)
		}

		optOut := jsonOfLen(5000, 9)
		s.ourExpect = map[int]expectation{len(l.sent): mustNotCompress}
		l.sent = append(l.sent, optOut)
		go func() { done <- l.c.WriteMessage(ctx, pipeline.Text|pipeline.Uncompressed, optOut) }()
		receive(t, ctx, l, pipeline.Text, optOut)
		if err := <-done; err != nil {
			t.Fatalf("WriteMessage(Text|Uncompressed): %v", err)
		}

		prepared := jsonOfLen(5000, 10)
		if l.server {
			// A prepared message's frame is made once for many
			// connections; it may go uncompressed.
			s.ourExpect[len(l.sent)] = mayCompress
		}
		l.sent = append(l.sent, prepared)
		go func() { done <- l.c.WritePrepared(ctx, pipeline.NewPreparedMessage(pipeline.Binary, prepared)) }()
		receive(t, ctx, l, pipeline.Binary, prepared)
		if err := <-done; err != nil {
			t.Fatalf("WritePrepared: %v", err)
		}

		// The peer closes.
		send(t, ctx, l, pipeline.Text, []byte(fmt.Sprintf("cmd:close:%d:%s", peerCloseCode, peerCloseReason)))
		_, msg, err := l.c.ReadMessage(ctx, nil)
		var ce *pipeline.CloseError
		if !errors.As(err, &ce) || ce.Code != peerCloseCode || ce.Reason != peerCloseReason {
			t.Fatalf("ReadMessage after the peer's close: %q, %v; want *pipeline.CloseError{%d, %q}", msg, err, peerCloseCode, peerCloseReason)
		}
		if r := peerReport(t, ctx, l); r.Code != peerCloseCode {
			t.Errorf("%s got close code %d back, want the echoed %d", p.peer, r.Code, peerCloseCode)
		}
		waitDone(t, l)
	})

	if dc.want != nil {
		limCfg := cfg
		limCfg.maxMessage = 64 << 10
		scenario("limit", 30*time.Second, limCfg, func(t *testing.T, ctx context.Context, l *link, s *deflateSides) {
			// The limit applies to the inflated size, exactly: a message
			// of MaxMessageSize passes, compressible or not, one byte more
			// fails with 1009 however small it is on the wire.
			limit := int(limCfg.maxMessage)
			exchange(t, ctx, l, pipeline.Text, jsonOfLen(limit, 11))
			exchange(t, ctx, l, pipeline.Binary, randomBytes(limit, 11))
			over := jsonOfLen(limit+1, 12)
			send(t, ctx, l, pipeline.Text, over)
			l.recv = append(l.recv, over) // on the wire, if not delivered
			typ, msg, err := l.c.ReadMessage(ctx, nil)
			if !errors.Is(err, pipeline.ErrTooBig) {
				t.Fatalf("ReadMessage of %d bytes with MaxMessageSize %d: %s message of %d bytes, %v; want an error matching ErrTooBig",
					len(over), limit, typ, len(msg), err)
			}
			if r := peerReport(t, ctx, l); r.Code != int(pipeline.CloseMessageTooBig) {
				t.Errorf("%s saw close %d %q, want 1009", p.peer, r.Code, r.Reason)
			}
			waitDone(t, l)
		})
	}

	if dc.big {
		scenario("16MiB", 180*time.Second, cfg, func(t *testing.T, ctx context.Context, l *link, s *deflateSides) {
			exchange(t, ctx, l, pipeline.Text, jsonOfLen(16<<20, 16))
			exchange(t, ctx, l, pipeline.Binary, randomBytes(16<<20, 16))
			finish(t, ctx, l)
		})
	}
}

// deflateSides is what a deflate scenario checks on the wire at its end.
type deflateSides struct {
	params            *deflateParams // in effect; nil for none
	ourRule, peerRule sendRule
	// takeoverOurs and takeoverPeer: indexes in link.sent and link.recv of
	// the first of two identical messages, if > 0.
	takeoverOurs, takeoverPeer int
	// huffmanOnly: wspipe's level makes no back-references at all.
	huffmanOnly bool
	// ourExpect overrides wspipe's rule for the messages at these
	// indexes in link.sent.
	ourExpect map[int]expectation
	// ourFragAt: index in link.sent of wspipe's first fragmented message,
	// if > 0.
	ourFragAt int
	// peerFragAt: index in link.recv of the peer's first fragmented
	// message, of which there are len(peerFragN), of peerFragN[i] pieces,
	// the first being peerFirst[i].
	peerFragAt   int
	peerFragN    []int
	peerFirst    [][]byte
	fragPerWrite bool
}

// checkNegotiation checks what was agreed: the answer on the wire read
// against the offer on the wire, as wspipe received it, and as the peer
// reports it. want nil means that permessage-deflate must not be in
// effect.
func checkNegotiation(t *testing.T, ctx context.Context, l *link, want *deflateParams) *deflateSides {
	t.Helper()
	// The peer's view comes first: once the peer answers, the relay has
	// passed both handshake heads on.
	send(t, ctx, l, pipeline.Text, []byte("cmd:extensions"))
	_, msg, err := l.c.ReadMessage(ctx, nil)
	if err != nil {
		t.Fatalf("ReadMessage, waiting for the peer's extensions: %v", err)
	}
	l.recv = append(l.recv, msg)

	offerWire := strings.Join(l.relay.fromClient.headerValues("Sec-WebSocket-Extensions"), ", ")
	answerWire := strings.Join(l.relay.fromServer.headerValues("Sec-WebSocket-Extensions"), ", ")
	t.Logf("offer %q, answer %q", offerWire, answerWire)
	// wspipe's view: the offer its server received, the answer its
	// client received.
	if l.server && !l.offerUnseen && l.offer != offerWire {
		t.Errorf("wspipe's server saw the offer %q, the wire %q", l.offer, offerWire)
	}
	if !l.server && l.answer != answerWire {
		t.Errorf("wspipe's client saw the answer %q, the wire %q", l.answer, answerWire)
	}
	offer, _, err := findPMD(offerWire)
	if err != nil {
		t.Errorf("the offer: %v", err)
	}
	answer, ok, err := findPMD(answerWire)
	if err != nil {
		t.Errorf("the answer: %v", err)
	}
	s := &deflateSides{}
	switch {
	case !ok && want != nil:
		t.Fatalf("permessage-deflate was not negotiated (offer %q, answer %q), want %v", offerWire, answerWire, *want)
	case ok && want == nil:
		t.Fatalf("permessage-deflate was negotiated (offer %q, answer %q), want none", offerWire, answerWire)
	case ok:
		got := effective(offer, answer)
		s.params = &got
		if got != *want {
			t.Errorf("in effect: %v; want %v", got, *want)
		}
	}

	view, known := strings.CutPrefix(string(msg), "extensions:")
	switch {
	case string(msg) == "unsupported:extensions":
		t.Logf("the peer cannot say what it negotiated; the wire is its view")
	case !known:
		t.Fatalf("the peer answered %q to cmd:extensions", msg)
	default:
		t.Logf("the peer's view: %q", view)
		pv, ok, err := findPMD(view)
		switch {
		case err != nil:
			t.Errorf("the peer's view: %v", err)
		case ok != (want != nil):
			t.Errorf("the peer's view %q, want permessage-deflate %v", view, want != nil)
		case ok:
			if got := effective(offer, pv); got != *want {
				t.Errorf("in effect according to the peer: %v; want %v", got, *want)
			}
		}
	}
	return s
}

// checkWire checks the frames each side sent, seen by the relay.
func (s *deflateSides) checkWire(t *testing.T, l *link) {
	t.Helper()
	if t.Failed() {
		return // the transcript may not match the wire
	}
	var ourNoCtx, peerNoCtx bool
	var ourBits, peerBits int
	if s.params != nil {
		ourNoCtx, peerNoCtx = s.params.noCtx(l.server), s.params.noCtx(!l.server)
		ourBits, peerBits = s.params.bits(l.server), s.params.bits(!l.server)
	}
	ours, theirs := dataMessages(l.ourFrames()), dataMessages(l.peerFrames())
	ourWire := checkFrames(t, "wspipe", l.ourFrames(), l.sent, s.params != nil, func(i int) expectation {
		if e, ok := s.ourExpect[i]; ok {
			return e
		}
		return s.ourRule.expect(ourNoCtx, l.sent[i])
	})
	peerWire := checkFrames(t, "the peer", l.peerFrames(), l.recv, s.params != nil, func(i int) expectation {
		// The peer's decision about a fragmented message goes by its
		// first piece.
		if k := i - s.peerFragAt; k >= 0 && k < len(s.peerFirst) {
			return s.peerRule.expect(peerNoCtx, s.peerFirst[k])
		}
		return s.peerRule.expect(peerNoCtx, l.recv[i])
	})
	if s.takeoverOurs > 0 {
		checkTakeover(t, "wspipe", ourWire, s.takeoverOurs, s.params, ourNoCtx, ourBits, !s.huffmanOnly)
		checkTakeover(t, "the peer", peerWire, s.takeoverPeer, s.params, peerNoCtx, peerBits, false)
	}
	for k, n := range s.peerFragN {
		i := s.peerFragAt + k
		if len(theirs) <= i {
			break
		}
		t.Logf("the peer's fragmented message %d: %s", k, framesString(theirs[i]))
		if s.fragPerWrite && len(theirs[i]) < n {
			t.Errorf("the peer sent %d pieces in %d frames, want a frame per piece: %s", n, len(theirs[i]), framesString(theirs[i]))
		}
	}
	if s.ourFragAt > 0 {
		// Where wspipe's ping went: the writer may send it between the
		// fragments of the message being written, or before them.
		inMsg, amid := false, 0
		for _, f := range l.ourFrames() {
			switch {
			case f.Opcode == 9 && inMsg:
				amid++
			case f.Opcode < 8:
				inMsg = !f.Fin
			}
		}
		t.Logf("wspipe sent %d pings between the fragments of a message", amid)
	}
	if s.ourFragAt > 0 && len(ours) >= s.ourFragAt+2 {
		for i := s.ourFragAt; i < min(len(ours), s.ourFragAt+3); i++ {
			t.Logf("wspipe's fragmented message: %s", framesString(ours[i]))
		}
		// Noise and random bytes do not shrink below a frame.
		for i := s.ourFragAt; i < s.ourFragAt+2; i++ {
			if len(ours[i]) < 2 {
				t.Errorf("wspipe sent %d bytes with a 512-byte write buffer in one frame: %s", len(l.sent[i]), framesString(ours[i]))
			}
		}
	}
}

// reporter is the part of *testing.T that checkFrames uses, so that its
// own test can catch what it reports.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// checkFrames checks the frames one side sent against the data messages
// it sent (msgs) and whether each must go compressed, and returns each
// message's payload size on the wire.
func checkFrames(t reporter, who string, frames []frameInfo, msgs [][]byte, negotiated bool, expect func(i int) expectation) []int64 {
	t.Helper()
	dm := dataMessages(frames)
	for i, f := range frames {
		switch {
		case f.Rsv&3 != 0:
			t.Errorf("%s's frame %d %s has RSV2 or RSV3", who, i, f)
		case !f.Rsv1():
		case !negotiated:
			t.Errorf("%s's frame %d %s has RSV1 without permessage-deflate", who, i, f)
		case f.Opcode >= 8:
			t.Errorf("%s's control frame %d %s has RSV1", who, i, f)
		case f.Opcode == 0:
			t.Errorf("%s's continuation frame %d %s has RSV1", who, i, f)
		}
	}
	if len(dm) != len(msgs) {
		t.Errorf("the relay saw %d data messages from %s, the test %d", len(dm), who, len(msgs))
		return nil
	}
	wire := make([]int64, len(dm))
	var compressed, total int
	for i, m := range dm {
		for _, f := range m {
			wire[i] += f.Length
		}
		if !negotiated {
			continue
		}
		msg := msgs[i]
		got := m[0].Rsv1()
		if got {
			compressed++
		}
		total++
		switch expect(i) {
		case mustCompress:
			if !got {
				t.Errorf("%s sent message %d (%d bytes) uncompressed: %s", who, i, len(msg), framesString(m))
			}
		case mustNotCompress:
			if got {
				t.Errorf("%s compressed message %d (%d bytes) below its threshold: %s", who, i, len(msg), framesString(m))
			}
		}
		if got && len(msg) >= 4096 && compressible(msg) && wire[i] > int64(len(msg))*3/4 {
			t.Errorf("%s's compressed message %d takes %d bytes on the wire for %d compressible bytes", who, i, wire[i], len(msg))
		}
	}
	if negotiated {
		t.Logf("%s compressed %d of %d data messages", who, compressed, total)
	}
	return wire
}

// checkTakeover checks the two identical messages at i: with context
// takeover and a window of 4 KiB or more the second should cost a few
// bytes (only wspipe is held to that; a peer may choose not to); without,
// it must cost as much as the first.
func checkTakeover(t *testing.T, who string, wire []int64, i int, p *deflateParams, noCtx bool, bits int, strict bool) {
	t.Helper()
	if p == nil || len(wire) < i+2 {
		return
	}
	first, second := wire[i], wire[i+1]
	t.Logf("%s: 2000 random bytes twice: %d then %d bytes on the wire", who, first, second)
	switch {
	case noCtx && second < first*9/10:
		t.Errorf("%s has no context takeover but sent the repeat in %d bytes, the first in %d", who, second, first)
	case !noCtx && bits >= 12 && second > first/4:
		if strict {
			t.Errorf("%s has context takeover with %d-bit windows but sent the repeat in %d bytes, the first in %d", who, bits, second, first)
		} else {
			t.Logf("%s does not use its context takeover", who)
		}
	}
}

// jsonOfLen returns n bytes of repetitive JSON-like ASCII text, which
// deflate compresses well.
func jsonOfLen(n, seed int) []byte {
	b := make([]byte, 0, n+128)
	for i := 0; len(b) < n; i++ {
		k := seed*7919 + i
		b = fmt.Appendf(b, `{"id":%d,"user":"user-%d","active":%t,"tags":["alpha","beta"],"score":%d.5},`, k, k%97, k%3 == 0, k%1000)
	}
	return b[:n]
}

// noiseText returns n bytes of random printable ASCII, which deflate
// compresses little.
func noiseText(n int, seed uint64) []byte {
	b := randomBytes(n, seed^0x6e6f697365)
	for i := range b {
		b[i] = 33 + b[i]%94
	}
	return b
}

// windowProbe returns 64 KiB of random bytes in which 128-byte runs repeat
// at distances from 300 bytes to 32000, so that a compressor finds
// matches at every distance its window allows.
func windowProbe(seed uint64) []byte {
	b := randomBytes(64<<10, seed)
	pos := 500
	for _, d := range []int{300, 600, 1200, 2500, 5000, 10000, 20000, 32000} {
		copy(b[pos+d:pos+d+128], b[pos:pos+128])
		pos += 1000
	}
	return b
}

package conformance

// The client direction of categories 12 and 13: the suite is the server.
// wspipe's client, set to offer each case's permessage-deflate offers,
// dials it and echoes; the suite checks the offers on the wire, answers as
// Autobahn's server does, sends compressed messages and judges the
// client's compressed echoes.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// deflateOffer is the wspipe offer that writes n.
func deflateOffer(n pmdNeg) handshake.DeflateOffer {
	return handshake.DeflateOffer{
		ServerNoContextTakeover: n.serverNoCtx,
		ClientNoContextTakeover: n.clientNoCtx,
		ServerMaxWindowBits:     n.serverBits,
		ClientMaxWindowBits:     n.clientBits,
	}
}

// deflateClient is wspipe's client as an echo client, as runClientEcho,
// with compression on and offering offers: the last through
// Compression.Offer, any before it (13.7 makes three) as extension offers
// of the handshake.Client, which Dial sends first.
func deflateClient(offers []pmdNeg) clientUnderTest {
	last := offers[len(offers)-1]
	var extra []handshake.Extension
	for _, o := range offers[:len(offers)-1] {
		extra = append(extra, deflateOffer(o).Extension())
	}
	run := func(ctx context.Context, url string) error {
		opts := &pipeline.Options{Compression: &pipeline.Compression{Offer: deflateOffer(last)}}
		c, _, err := pipeline.Dial(ctx, url, &handshake.Client{Extensions: extra}, opts)
		if err != nil {
			return err
		}
		defer func() {
			select {
			case <-c.Done():
			case <-ctx.Done():
				c.NetConn().Close()
			}
			c.Wait()
		}()
		for {
			typ, r, err := c.NextReader(ctx)
			if err != nil {
				return err
			}
			w, err := c.NextWriter(ctx, typ)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, r); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		}
	}
	return clientUnderTest{name: "wspipe", run: run, apiErrors: true}
}

// runClientDeflateCases runs each case against wspipe's client as a
// subtest named by its number, then checks that no goroutine outlived
// them.
func runClientDeflateCases(t *testing.T, specs []pmdCaseSpec) {
	t.Helper()
	before := runtime.NumGoroutine()
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.id] {
			t.Fatalf("case %s is listed twice", s.id)
		}
		seen[s.id] = true
		t.Run(s.id, func(t *testing.T) {
			t.Log(s.desc("the client is set to offer " + formatExts(offerExts(s.offers)) + "; the server answers as Autobahn's server accept " + s.set + " does"))
			runClientDeflateCase(t, s)
		})
	}
	checkGoroutines(t, before)
}

// runClientDeflateCase runs one case as runClientCase does, with the
// suite's permessage-deflate handshake and messages; the closing
// handshake and the end of the client are judged by the harness.
func runClientDeflateCase(t *testing.T, spec pmdCaseSpec) {
	deadline := time.Now().Add(pmdCaseTimeout)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(2*closeTimeout))
	defer cancel()
	sut := deflateClient(spec.offers)
	end := make(chan error, 1)
	go func() { end <- sut.run(ctx, "ws://"+ln.Addr().String()+"/") }()
	s := &fuzzConn{
		r:      t,
		sut:    sut,
		end:    end,
		cancel: cancel,
		events: make(chan clientEvent, 64),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if params, ok := acceptDeflate(s, ln, deadline, spec); ok {
		pc, err := newPMDConn(s.nc, s.br, true, params)
		if err != nil {
			s.errorf("the suite's compressor: %v", err)
		} else if pc.exchange(spec.data, spec.size.size, pmdCount(spec.size.size), spec.size.frag, s.errorf) {
			t.Log(pc.summary())
			s.reading = true
			go s.readLoop()
			s.closeNormally()
		} else {
			t.Log(pc.summary())
			select {
			case err := <-s.end:
				s.seenEnd, s.endErr = true, err
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	s.finish()
}

// acceptDeflate takes the client's connection as fuzzConn.accept does,
// requires its Sec-WebSocket-Extensions to be exactly the case's offers
// and answers as Autobahn's accept rules say. It returns the negotiated
// parameters and whether the connection is open.
func acceptDeflate(s *fuzzConn, ln *net.TCPListener, deadline time.Time, spec pmdCaseSpec) (pmdParams, bool) {
	s.r.Helper()
	ln.SetDeadline(time.Now().Add(handshakeTimeout))
	nc, err := ln.Accept()
	if err != nil {
		select {
		case cerr := <-s.end:
			s.seenEnd, s.endErr = true, cerr
			s.errorf("the client did not connect: it ended with %v", cerr)
		default:
			s.errorf("the client did not connect within %v: %v", handshakeTimeout, err)
		}
		return pmdParams{}, false
	}
	s.nc = nc
	s.br = bufio.NewReaderSize(nc, 64<<10)
	refuse := func(format string, a ...any) (pmdParams, bool) {
		s.r.Helper()
		s.errorf("handshake: "+format, a...)
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		return pmdParams{}, false
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	req, err := http.ReadRequest(s.br)
	if err != nil {
		return refuse("reading the client's request: %v", err)
	}
	key, msg := checkClientRequest(req, ln.Addr().String())
	if msg == "" && s.br.Buffered() > 0 {
		msg = fmt.Sprintf("the client sent %d bytes after its request, before the server's response", s.br.Buffered())
	}
	if msg != "" {
		return refuse("%s", msg)
	}
	header := req.Header.Values("Sec-WebSocket-Extensions")
	exts, err := parseExtHeader(header)
	if err != nil {
		return refuse("Sec-WebSocket-Extensions %q does not parse: %v", header, err)
	}
	want := formatExts(offerExts(spec.offers))
	if len(exts) != len(spec.offers) {
		return refuse("Sec-WebSocket-Extensions %q: %d offers, want %q", header, len(exts), want)
	}
	var offers []pmdNeg
	for i, e := range exts {
		o, err := parsePMD(e, false)
		if err != nil {
			return refuse("Sec-WebSocket-Extensions %q: offer %d: %v", header, i+1, err)
		}
		if o != spec.offers[i] {
			return refuse("Sec-WebSocket-Extensions %q: offer %d is %q, want %q", header, i+1, e, spec.offers[i].ext())
		}
		offers = append(offers, o)
	}
	answer, i, ok := accept(spec.rules, offers)
	if !ok {
		return refuse("the suite's accept rules %s take none of the offers %q", spec.set, header)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptFor(key) + "\r\n" +
		"Sec-WebSocket-Extensions: " + answerExt(answer).String() + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		s.errorf("handshake: writing the 101 response: %v", err)
		return pmdParams{}, false
	}
	s.r.Logf("the server answered %q to offer %d", answerExt(answer), i+1)
	nc.SetDeadline(deadline)
	return negotiated(offers[i], answer), true
}

package conformance

// The client direction of categories 12 and 13: the suite is the server.
// wspipe's client, set to offer each case's permessage-deflate offers,
// dials it and echoes; the suite checks the offers on the wire, answers as
// Autobahn's server does, sends compressed messages and judges the
// client's compressed echoes.

import (
	"context"
	"fmt"
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
// of the handshake.Client, which Dial sends first; with h2, over HTTP/2.
func deflateClient(offers []pmdNeg, h2 bool) clientUnderTest {
	last := offers[len(offers)-1]
	var extra []handshake.Extension
	for _, o := range offers[:len(offers)-1] {
		extra = append(extra, deflateOffer(o).Extension())
	}
	run := func(ctx context.Context, url string) error {
		opts := &pipeline.Options{Compression: &pipeline.Compression{Offer: deflateOffer(last)}}
		hc := &handshake.Client{Extensions: extra}
		if h2 {
			hc.HTTP2 = handshake.HTTP2Require
			defer hc.CloseIdleConnections()
		}
		c, _, err := pipeline.Dial(ctx, url, hc, opts)
		if err != nil {
			return err
		}
		return echoLoop(ctx, c)
	}
	return clientUnderTest{name: "wspipe", run: run, apiErrors: true, h2: h2}
}

// runClientDeflateCases runs each case against wspipe's client as a
// subtest named by its number, then checks that no goroutine outlived
// them.
func runClientDeflateCases(t *testing.T, specs []pmdCaseSpec) {
	t.Helper()
	before := runtime.NumGoroutine()
	forEachCase(t, specs, func(s pmdCaseSpec) string { return s.id }, func(t *testing.T, s pmdCaseSpec) {
		t.Log(s.desc("the client is set to offer " + formatExts(offerExts(s.offers)) + "; the server answers as Autobahn's server accept " + s.set + " does"))
		runClientDeflateCase(t, s)
	})
	checkGoroutines(t, before)
}

// runClientDeflateCase runs one case as runClientCase does, with the
// suite's permessage-deflate handshake and messages; the closing
// handshake and the end of the client are judged by the harness.
func runClientDeflateCase(t *testing.T, spec pmdCaseSpec) {
	runClientDeflateCaseWith(t, spec, deflateClient(spec.offers, false))
}

// runClientDeflateCaseWith is runClientDeflateCase with sut as the client.
func runClientDeflateCaseWith(t *testing.T, spec pmdCaseSpec, sut clientUnderTest) {
	deadline := time.Now().Add(pmdCaseTimeout)
	s := startClient(t, sut, deadline)
	if s == nil {
		t.FailNow()
	}
	defer s.release()
	var params pmdParams
	if s.accept(deadline, func(req *http.Request) (string, string) {
		p, answer, offer, problem := answerDeflate(req, spec)
		if problem == "" {
			params = p
			s.r.Logf("the server answers %q to offer %d", answer, offer)
		}
		return answer, problem
	}) {
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

// answerDeflate requires the request's Sec-WebSocket-Extensions to be
// exactly the case's offers and answers as Autobahn's accept rules say.
// It returns the negotiated parameters, the answer and the number of the
// offer it takes, or what is wrong with the offers.
func answerDeflate(req *http.Request, spec pmdCaseSpec) (params pmdParams, answer string, offer int, problem string) {
	refuse := func(format string, a ...any) (pmdParams, string, int, string) {
		return pmdParams{}, "", 0, fmt.Sprintf(format, a...)
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
	a, i, ok := accept(spec.rules, offers)
	if !ok {
		return refuse("the suite's accept rules %s take none of the offers %q", spec.set, header)
	}
	return negotiated(offers[i], a), answerExt(a).String(), i + 1, ""
}

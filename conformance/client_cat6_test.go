package conformance

import (
	"fmt"
	"testing"
	"time"
	"unicode/utf8"
)

// Client category 6: UTF-8 handling. The client echoes valid text however
// it is fragmented, and fails the connection with 1007 on invalid text,
// fast: as soon as the first invalid byte arrives, not at the end of the
// frame or message. The payload tables are the server direction's
// (utf8Groups).
func TestClientCategory6(t *testing.T) { runClientCases(t, clientCategory6()) }

func clientCategory6() []clientCase {
	hello := "Hello-µ@ßöäüàá-UTF-8!!"
	// chopAt writes the frame of p as three chops: up to at, the octets
	// [at, upto), and the rest once the client had its chance to fail.
	chopAt := func(s *fuzzConn, p []byte, at, upto int) {
		w := encodeServer(text(p))
		h := len(w) - len(p)
		s.write(w[:h+at])
		if !s.expectNothing(time.Second) {
			return
		}
		s.write(w[h+at : h+upto])
		s.failFast("the chop with the invalid octet", func() { s.write(w[h+upto:]) })
	}
	// fragmentAt sends p as three fragments split the same way.
	fragmentAt := func(s *fuzzConn, p []byte, at, upto int) {
		s.send(data(opText, false, p[:at]))
		if !s.expectNothing(time.Second) {
			return
		}
		s.send(cont(false, p[at:upto]))
		s.failFast("the frame with the invalid octet", func() { s.send(cont(true, p[upto:])) })
	}
	cases := []clientCase{
		{id: "6.1.1", desc: "The server sends a text message with an empty payload; the client echoes it.", run: func(s *fuzzConn) {
			s.send(text(nil))
			s.echoThenClose(textMsg(nil))
		}},
		{id: "6.1.2", desc: "The server sends a text message in 3 empty fragments; the client echoes an empty message.", run: func(s *fuzzConn) {
			s.send(data(opText, false, nil), cont(false, nil), cont(true, nil))
			s.echoThenClose(textMsg(nil))
		}},
		{id: "6.1.3", desc: "The server sends a text message in 3 fragments, the first and last empty; the client echoes the middle payload.", run: func(s *fuzzConn) {
			p := b("middle frame payload")
			s.send(data(opText, false, nil), cont(false, p), cont(true, nil))
			s.echoThenClose(textMsg(p))
		}},
		{id: "6.2.1", desc: "The server sends valid UTF-8 text in one frame; the client echoes it.", run: func(s *fuzzConn) {
			s.send(text(b(hello)))
			s.echoThenClose(textMsg(b(hello)))
		}},
		{id: "6.2.2", desc: "The server sends valid UTF-8 text in 2 fragments split on a code point boundary; the client echoes it.", run: func(s *fuzzConn) {
			s.send(data(opText, false, b("Hello-µ@ßöä")), cont(true, b("üàá-UTF-8!!")))
			s.echoThenClose(textMsg(b(hello)))
		}},
		{id: "6.2.3", desc: "The server sends valid UTF-8 text in 1-octet fragments, splitting code points; the client echoes it.", run: func(s *fuzzConn) {
			s.send(fragments(opText, b(hello), 1)...)
			s.echoThenClose(textMsg(b(hello)))
		}},
		{id: "6.2.4", desc: "The server sends valid UTF-8 text (κόσμε) in 1-octet fragments, splitting code points; the client echoes it.", run: func(s *fuzzConn) {
			s.send(fragments(opText, b(kosme), 1)...)
			s.echoThenClose(textMsg(b(kosme)))
		}},
		{id: "6.3.1", desc: "The server sends invalid UTF-8 text in one frame; the client fails the connection with 1007.", run: func(s *fuzzConn) {
			s.send(text(b(surrogateText)))
			s.expectFailure(failTimeout, 1007)
		}},
		// Autobahn sends all the frames of 6.3.2 at once. Here the frames
		// after the one holding the invalid octet wait until the client has
		// failed the connection, which a fail-fast client does at once.
		{id: "6.3.2", desc: "The server sends invalid UTF-8 text in 1-octet fragments; the client fails the connection with 1007 once the fragment with the invalid octet (index 12) arrives, before the rest is sent.", run: func(s *fuzzConn) {
			fs := fragments(opText, b(surrogateText), 1)
			s.send(fs[:13]...)
			s.failFast("the 1-octet fragment with the invalid octet", func() { s.send(fs[13:]...) })
		}},
		{id: "6.4.1", desc: "The server sends invalid UTF-8 text in 3 frames: a valid first frame, a 1 s pause, the frame that makes it invalid, a 1 s pause, the rest. The client accepts the first frame and fails the connection with 1007 on the second at once, before the third is sent.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			fragmentAt(s, b(invalidAt12), 11, 15)
		}},
		{id: "6.4.2", desc: "As 6.4.1, but the second frame holds only the invalid octet; the client fails the connection with 1007 at once.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			fragmentAt(s, b(invalidAt12), 12, 13)
		}},
		{id: "6.4.3", desc: "As 6.4.1, but as 3 chops of one frame: on the chop with the invalid octet the client fails the connection with 1007 at once, in the middle of the frame.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			chopAt(s, b(invalidAt12), 11, 15)
		}},
		{id: "6.4.4", desc: "As 6.4.3, but the second chop holds only the invalid octet; the client fails the connection with 1007 at once, in the middle of the frame.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			chopAt(s, b(invalidAt12), 12, 13)
		}},
	}
	for gi, g := range utf8Groups() {
		for i, str := range g.payloads {
			p := b(str)
			tc := clientCase{id: fmt.Sprintf("6.%d.%d", gi+5, i+1)}
			if utf8.Valid(p) {
				tc.desc = fmt.Sprintf("%s: the server sends valid UTF-8 text %x in one frame; the client echoes it.", g.name, p)
				tc.run = func(s *fuzzConn) {
					s.send(text(p))
					s.echoThenClose(textMsg(p))
				}
			} else {
				tc.desc = fmt.Sprintf("%s: the server sends invalid UTF-8 text %x in one frame; the client fails the connection with 1007.", g.name, p)
				tc.run = func(s *fuzzConn) {
					s.send(text(p))
					s.expectFailure(failTimeout, 1007)
				}
			}
			cases = append(cases, tc)
		}
	}
	return cases
}

package conformance

import (
	"testing"
	"time"
)

// Client category 5: fragmentation. The client reassembles fragmented
// messages and echoes them, answers control frames interleaved in a
// message at once, and fails the connection with 1002 on fragmented
// control frames and continuations out of place.
func TestClientCategory5(t *testing.T) { runClientCases(t, clientCategory5()) }

func clientCategory5() []clientCase {
	f1, f2, f3, f4, f5 := b("fragment1"), b("fragment2"), b("fragment3"), b("fragment4"), b("fragment5")
	hello := b("Hello, world!")
	pingPayload := b("ping payload")
	cat := func(ps ...[]byte) []byte {
		var out []byte
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}

	twoFragments := func(id, how string, m writeMode) clientCase {
		return clientCase{id: id, desc: "The server sends a text message in 2 fragments" + how + "; the client echoes it.", run: func(s *fuzzConn) {
			s.sendAs(m, data(opText, false, f1), cont(true, f2))
			s.echoThenClose(textMsg(cat(f1, f2)))
		}}
	}
	pingBetween := func(id, how string, m writeMode) clientCase {
		return clientCase{id: id, desc: "The server sends a text message in 2 fragments with a ping in between" + how + "; the client sends the pong, then the echo.", run: func(s *fuzzConn) {
			s.sendAs(m, data(opText, false, f1), ping(pingPayload), cont(true, f2))
			s.echoThenClose(pongEv(pingPayload), textMsg(cat(f1, f2)))
		}}
	}
	nothingToContinue := func(id string, fin bool, how string, m writeMode) clientCase {
		desc := "The server sends a continuation frame with FIN = false"
		if fin {
			desc = "The server sends a continuation frame with FIN = true"
		}
		return clientCase{id: id, desc: desc + " where there is nothing to continue, then a text message" + how + "; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.sendAs(m, cont(fin, b("non-continuation payload")), text(hello))
			s.expectFailure(failTimeout, 1002)
		}}
	}
	repeated := func(id string, fin bool) clientCase {
		desc := "The server sends, twice, a continuation frame with FIN = false"
		if fin {
			desc = "The server sends, twice, a continuation frame with FIN = true"
		}
		return clientCase{id: id, desc: desc + " where there is nothing to continue, then a text message in 2 fragments; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			var fs []frame
			for range 2 {
				fs = append(fs, cont(fin, f1), data(opText, false, f2), cont(true, f3))
			}
			s.send(fs...)
			s.expectFailure(failTimeout, 1002)
		}}
	}
	// 5.19 and 5.20: the first ping must be answered while the message is
	// still open, within the 1 s pause, before the rest is sent.
	pongsMidMessage := func(id, how string, m writeMode) clientCase {
		return clientCase{id: id, desc: "The server sends 2 text fragments and a ping, pauses 1 s, then sends 2 more fragments, a ping and the final fragment" + how + "; the client sends the first pong during the pause, then the second pong and the whole message.", run: func(s *fuzzConn) {
			p1, p2 := b("pongme 1!"), b("pongme 2!")
			start := time.Now()
			s.sendAs(m, data(opText, false, f1), cont(false, f2), ping(p1))
			if !s.expect(time.Second, pongEv(p1)) {
				return
			}
			if !s.expectNothing(time.Until(start.Add(time.Second))) {
				return
			}
			s.sendAs(m, cont(false, f3), cont(false, f4), ping(p2), cont(true, f5))
			s.echoThenClose(pongEv(p2), textMsg(cat(f1, f2, f3, f4, f5)))
		}}
	}

	return []clientCase{
		{id: "5.1", desc: "The server sends a ping in 2 fragments; control frames must not be fragmented, so the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(data(opPing, false, f1), cont(true, f2))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "5.2", desc: "The server sends a pong in 2 fragments; control frames must not be fragmented, so the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(data(opPong, false, f1), cont(true, f2))
			s.expectFailure(failTimeout, 1002)
		}},
		twoFragments("5.3", "", oneWrite),
		twoFragments("5.4", ", each frame written on its own", frameWise),
		twoFragments("5.5", ", in octet-wise chops", octetWise),
		pingBetween("5.6", "", oneWrite),
		pingBetween("5.7", ", each frame written on its own", frameWise),
		pingBetween("5.8", ", in octet-wise chops", octetWise),
		nothingToContinue("5.9", true, "", oneWrite),
		nothingToContinue("5.10", true, ", each frame written on its own", frameWise),
		nothingToContinue("5.11", true, ", in octet-wise chops", octetWise),
		nothingToContinue("5.12", false, "", oneWrite),
		nothingToContinue("5.13", false, ", each frame written on its own", frameWise),
		nothingToContinue("5.14", false, ", in octet-wise chops", octetWise),
		{id: "5.15", desc: "The server sends a text message in 2 fragments, then a continuation with FIN = false where there is nothing to continue, then a text message; the client echoes the first message, then fails with 1002.", run: func(s *fuzzConn) {
			s.send(data(opText, false, f1), cont(true, f2), cont(false, f3), text(f4))
			s.expectFailure(failTimeout, 1002, textMsg(cat(f1, f2)))
		}},
		repeated("5.16", false),
		repeated("5.17", true),
		{id: "5.18", desc: "The server sends a text message in 2 fragments, both with the text opcode; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(data(opText, false, f1), data(opText, true, f2))
			s.expectFailure(failTimeout, 1002)
		}},
		pongsMidMessage("5.19", "", oneWrite),
		pongsMidMessage("5.20", ", each frame written on its own", frameWise),
	}
}

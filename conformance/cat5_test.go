package conformance

import (
	"testing"
	"time"
)

// Category 5: fragmentation. Fragmented messages are reassembled and
// echoed, control frames may be interleaved and are answered at once, and
// fragmented control frames or continuations out of place fail the
// connection with 1002.
func TestCategory5(t *testing.T)       { runCases(t, category5()) }
func TestClientCategory5(t *testing.T) { runClientCases(t, clientCases(category5())) }

func category5() []testCase {
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

	twoFragments := func(id, how string, m writeMode) testCase {
		return testCase{id: id, desc: "Send a text message in 2 fragments" + how + "; expect it echoed.", run: func(c *endpoint) {
			c.sendAs(m, data(opText, false, f1), cont(true, f2))
			c.echoThenClose(textMsg(cat(f1, f2)))
		}}
	}
	pingBetween := func(id, how string, m writeMode) testCase {
		return testCase{id: id, desc: "Send a text message in 2 fragments with a ping in between" + how + "; expect the pong, then the message.", run: func(c *endpoint) {
			c.sendAs(m, data(opText, false, f1), ping(pingPayload), cont(true, f2))
			c.echoThenClose(pongEv(pingPayload), textMsg(cat(f1, f2)))
		}}
	}
	nothingToContinue := func(id string, fin bool, how string, m writeMode) testCase {
		desc := "Send a continuation frame with FIN = false"
		if fin {
			desc = "Send a continuation frame with FIN = true"
		}
		return testCase{id: id, desc: desc + " where there is nothing to continue, then a text message" + how + "; the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.sendAs(m, cont(fin, b("non-continuation payload")), text(hello))
			c.expectFailure(failTimeout, 1002)
		}}
	}
	repeated := func(id string, fin bool) testCase {
		desc := "Twice: a continuation frame with FIN = false"
		if fin {
			desc = "Twice: a continuation frame with FIN = true"
		}
		return testCase{id: id, desc: desc + " where there is nothing to continue, then a text message in 2 fragments; the peer fails the connection with 1002.", run: func(c *endpoint) {
			var fs []frame
			for range 2 {
				fs = append(fs, cont(fin, f1), data(opText, false, f2), cont(true, f3))
			}
			c.send(fs...)
			c.expectFailure(failTimeout, 1002)
		}}
	}
	// 5.19 and 5.20: the first ping must be answered while the message is
	// still open, within the 1 s pause, before the rest is sent.
	pongsMidMessage := func(id, how string, m writeMode) testCase {
		return testCase{id: id, desc: "Send 2 text fragments and a ping, pause 1 s, then 2 more fragments, a ping and the final fragment" + how + "; expect the first pong during the pause, then the second pong and the whole message.", run: func(c *endpoint) {
			p1, p2 := b("pongme 1!"), b("pongme 2!")
			start := time.Now()
			c.sendAs(m, data(opText, false, f1), cont(false, f2), ping(p1))
			if !c.expect(time.Second, pongEv(p1)) {
				return
			}
			if !c.expectNothing(time.Until(start.Add(time.Second))) {
				return
			}
			c.sendAs(m, cont(false, f3), cont(false, f4), ping(p2), cont(true, f5))
			c.echoThenClose(pongEv(p2), textMsg(cat(f1, f2, f3, f4, f5)))
		}}
	}

	return []testCase{
		{id: "5.1", desc: "Send a ping in 2 fragments; control frames must not be fragmented, so the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(data(opPing, false, f1), cont(true, f2))
			c.expectFailure(failTimeout, 1002)
		}},
		{id: "5.2", desc: "Send a pong in 2 fragments; control frames must not be fragmented, so the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(data(opPong, false, f1), cont(true, f2))
			c.expectFailure(failTimeout, 1002)
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
		{id: "5.15", desc: "Send a text message in 2 fragments, then a continuation with FIN = false where there is nothing to continue, then a text message; expect the first message echoed, then failure with 1002.", run: func(c *endpoint) {
			c.send(data(opText, false, f1), cont(true, f2), cont(false, f3), text(f4))
			c.expectFailure(failTimeout, 1002, textMsg(cat(f1, f2)))
		}},
		repeated("5.16", false),
		repeated("5.17", true),
		{id: "5.18", desc: "Send a text message in 2 fragments, both with the text opcode; the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(data(opText, false, f1), data(opText, true, f2))
			c.expectFailure(failTimeout, 1002)
		}},
		pongsMidMessage("5.19", "", oneWrite),
		pongsMidMessage("5.20", ", each frame written on its own", frameWise),
	}
}

package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wspipe/wspipe/pipeline"
)

// resumeFrom joins room as nick with after set, and returns the events
// up to and including its own joined event, checking that their seq
// numbers follow after one by one (a gap event first accounting for any
// that were lost).
func (cl *client) resumeFrom(room, nick string, after uint64) (gap Event, replay []Event) {
	cl.t.Helper()
	cl.send(request{Type: typeJoin, Room: room, Nick: nick, After: &after})
	next := after + 1
	for range 10000 {
		ev := cl.next()
		switch {
		case ev.Type == typeGap:
			if len(replay) > 0 || gap.Type != "" || ev.From != next || ev.To < ev.From {
				cl.t.Fatalf("%s: unexpected %+v after seq %d", cl.name, ev, next-1)
			}
			gap, next = ev, ev.To+1
			continue
		case ev.Type == typeError:
			cl.t.Fatalf("%s: resume after %d: %s", cl.name, after, ev.Error)
		case ev.Seq != next || ev.Room != room:
			cl.t.Fatalf("%s: got %+v, want seq %d of room %s", cl.name, ev, next, room)
		}
		next++
		if ev.Type == typeJoined && ev.Nick == nick {
			return gap, replay
		}
		replay = append(replay, ev)
	}
	cl.t.Fatalf("%s: no joined event", cl.name)
	return
}

// TestResume: a member that reconnects with the last seq it saw gets
// exactly the events it missed, in order, then its own joined event and
// live events, none twice.
func TestResume(t *testing.T) {
	_, addr := startServer(t, options{})
	a := dial(t, addr, "a")
	a.join("room", "ann")
	c := dial(t, addr, "c")
	c.join("room", "cy")
	a.expect(typeJoined, "cy", "")
	a.say("before")
	a.expect(typeMessage, "ann", "before")
	last := c.expect(typeMessage, "ann", "before").Seq
	c.c.Close(pipeline.CloseNormal, "")
	c.closed()
	a.expect(typeLeft, "cy", "")
	for i := range 3 {
		a.say(fmt.Sprint("missed ", i))
		a.expect(typeMessage, "ann", "")
	}

	c = dial(t, addr, "c again")
	gap, replay := c.resumeFrom("room", "cy", last)
	if gap.Type != "" || len(replay) != 4 || replay[0].Type != typeLeft || replay[3].Text != "missed 2" {
		t.Fatalf("replay %+v, gap %+v; want cy's left event and the three missed messages", replay, gap)
	}
	a.expect(typeJoined, "cy", "")
	a.say("live")
	ev := c.expect(typeMessage, "ann", "live")
	if ev.Seq != replay[3].Seq+2 { // after cy's own joined event
		t.Fatalf("live message seq %d after replay up to %d", ev.Seq, replay[3].Seq)
	}

	// On a second connection, resuming in the same room under another nick
	// from an older point replays the same events.
	d := dial(t, addr, "d")
	_, replay2 := d.resumeFrom("room", "dee", last)
	if len(replay2) != len(replay)+2 || replay2[3].Text != "missed 2" || replay2[5].Text != "live" {
		t.Fatalf("second replay %+v", replay2)
	}
}

// TestResumeGap: a member that was away longer than the room's retained
// history is told which events are lost, then gets the retained ones.
func TestResumeGap(t *testing.T) {
	const history = 5
	_, addr := startServer(t, options{History: history})
	a := dial(t, addr, "a")
	first := a.join("room", "ann").Seq
	for i := range 12 {
		a.say(fmt.Sprint("m", i))
		a.expect(typeMessage, "ann", "")
	}
	b := dial(t, addr, "b")
	gap, replay := b.resumeFrom("room", "bob", first)
	// Events 2..13 were said; 9..13 are retained.
	if gap.From != 2 || gap.To != 8 || len(replay) != history || replay[0].Text != "m7" {
		t.Fatalf("gap %+v, replay %+v", gap, replay)
	}
}

// TestResumeOutOfRange: a resume point past the room's last event is
// answered with an error, and the client is not in the room.
func TestResumeOutOfRange(t *testing.T) {
	_, addr := startServer(t, options{})
	a := dial(t, addr, "a")
	a.join("room", "ann")
	b := dial(t, addr, "b")
	after := uint64(1000)
	b.send(request{Type: typeJoin, Room: "room", Nick: "bob", After: &after})
	b.expectError("cannot resume room room after 1000: its last event is 1")
	b.say("hello")
	b.expectError(errNotJoined.Error())
	// A resume in a room that has no events yet is refused too.
	b.send(request{Type: typeJoin, Room: "empty", Nick: "bob", After: &after})
	b.expectError("its last event is 0")
	// Resuming after 0 is joining from the start of the retained history.
	_, replay := b.resumeFrom("room", "bob", 0)
	if len(replay) != 1 || replay[0].Nick != "ann" {
		t.Fatalf("replay from 0: %+v", replay)
	}
}

// TestIdempotentSay: a say repeated with the same id reaches the room
// once.
func TestIdempotentSay(t *testing.T) {
	_, addr := startServer(t, options{})
	a := dial(t, addr, "a")
	a.join("room", "ann")
	for range 3 {
		a.send(request{Type: typeSay, Text: "once", ID: "m1"})
	}
	a.send(request{Type: typeSay, Text: "twice", ID: "m2"})
	if ev := a.expect(typeMessage, "ann", "once"); ev.ID != "m1" {
		t.Fatalf("got %+v", ev)
	}
	a.expect(typeMessage, "ann", "twice")
	a.send(request{Type: typeSay, Text: "x", ID: strings.Repeat("i", maxIDLen+1)})
	a.expectError("id: at most")
	a.send(request{Type: typeSay, Text: "x", ID: "a b"})
	a.expectError("id: no spaces")
}

// TestRateLimit: a member over its rate limit gets an error per refused
// message, which reaches nobody; one that goes on regardless is closed
// with 1008, and the room carries on.
func TestRateLimit(t *testing.T) {
	_, addr := startServer(t, options{Rate: 0.001, Burst: 3})
	a, b := dial(t, addr, "a"), dial(t, addr, "b")
	a.join("room", "ann") // the first of a's three
	b.join("room", "bob")
	a.expect(typeJoined, "bob", "")
	a.say("1")
	a.say("2")
	a.expect(typeMessage, "ann", "1")
	a.expect(typeMessage, "ann", "2")
	b.expect(typeMessage, "ann", "1")
	b.expect(typeMessage, "ann", "2")
	for range 3 {
		a.say("too many")
		a.expectError("rate limit")
	}
	a.say("one more")
	var ce *pipeline.CloseError
	if err := a.closed(); !errors.As(err, &ce) || ce.Code != pipeline.ClosePolicyViolation || ce.Reason != "rate limit exceeded" {
		t.Fatalf("flooder's connection ended with %v, want 1008 rate limit exceeded", err)
	}
	ev := b.expect(typeLeft, "ann", "")
	if ev.Reason != reasonClosed {
		t.Errorf("left %+v", ev)
	}
	b.say("still here")
	b.expect(typeMessage, "bob", "still here")
}

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/layers"
	"github.com/wspipe/wspipe/pipeline"
)

// TestMembersRemovedOnClose: however a member's connection ends, it
// leaves its room, and the room is told why.
func TestMembersRemovedOnClose(t *testing.T) {
	// joinAnn starts a server, joins ann with a Go client, and returns
	// ann and the address.
	joinAnn := func(t *testing.T, opts options) (*client, string) {
		_, addr := startServer(t, opts)
		a := dial(t, addr, "a")
		a.join("room", "ann")
		return a, addr
	}
	// left waits for ann to see nick leave, and checks the reason.
	left := func(t *testing.T, a *client, nick, reason string) {
		t.Helper()
		ev := a.expect(typeLeft, nick, "")
		if ev.Reason != reason || !slices.Equal(ev.Members, []string{"ann"}) {
			t.Fatalf("ann saw %+v, want %s to leave with reason %q", ev, nick, reason)
		}
		// And ann is alone: what she says now is her next event.
		a.say("alone")
		a.expect(typeMessage, "ann", "alone")
	}

	t.Run("close frame", func(t *testing.T) {
		a, addr := joinAnn(t, options{})
		b := dial(t, addr, "b")
		b.join("room", "bob")
		a.expect(typeJoined, "bob", "")
		b.c.Close(pipeline.CloseNormal, "bye")
		left(t, a, "bob", reasonClosed)
	})

	t.Run("TCP drop", func(t *testing.T) {
		a, addr := joinAnn(t, options{})
		r := dialRaw(t, addr)
		r.send(request{Type: typeJoin, Room: "room", Nick: "raw"})
		if ev := r.readEvent(); ev.Type != typeJoined || ev.Nick != "raw" {
			t.Fatalf("raw client got %+v", ev)
		}
		a.expect(typeJoined, "raw", "")
		r.conn.Close() // no close frame
		left(t, a, "raw", reasonDropped)
	})

	t.Run("TCP reset", func(t *testing.T) {
		a, addr := joinAnn(t, options{})
		r := dialRaw(t, addr)
		r.send(request{Type: typeJoin, Room: "room", Nick: "raw"})
		r.readEvent()
		a.expect(typeJoined, "raw", "")
		r.conn.(*net.TCPConn).SetLinger(0) // close sends RST
		r.conn.Close()
		left(t, a, "raw", reasonDropped)
	})

	t.Run("no pong", func(t *testing.T) {
		// A peer that is there but answers nothing (a half-open
		// connection, as after a network partition) is found by the
		// heartbeat.
		a, addr := joinAnn(t, options{Conn: pipeline.Options{PingInterval: 50 * time.Millisecond}})
		r := dialRaw(t, addr)
		r.send(request{Type: typeJoin, Room: "room", Nick: "mute"})
		r.readEvent()
		a.expect(typeJoined, "mute", "")
		left(t, a, "mute", reasonDropped) // r never reads again, so never pongs
	})
}

// flood sets up a room with a member that never reads ("slow", on a raw
// TCP connection) and two that do ("talker"
// and "watcher"), then has talker send large messages, one at a time
// (each waits until both readers have it, so their own queues never
// fill), until the room is told that slow left. It checks that talker
// and watcher received every message once, in order, and returns the
// left event, the raw client and how many messages were sent.
func flood(t *testing.T, opts options) (talker, watcher *client, slow *rawClient, leftEv Event, sent int) {
	t.Helper()
	_, addr := startServer(t, opts)

	// slow's receive buffer is the kernel's default: one that does not
	// read does not grow, and a smaller one than loopback's 64 KiB segment
	// would leave the server's unsent bytes to trickle through zero-window
	// probes once slow does read.
	slow = dialRaw(t, addr)
	slow.send(request{Type: typeJoin, Room: "flood", Nick: "slow"})
	if ev := slow.readEvent(); ev.Type != typeJoined || ev.Nick != "slow" {
		t.Fatalf("slow got %+v", ev)
	}
	// From here on slow reads nothing.
	talker, watcher = dial(t, addr, "talker"), dial(t, addr, "watcher")
	talker.join("flood", "talker")
	watcher.join("flood", "watcher")
	talker.expect(typeJoined, "watcher", "")

	pad := strings.Repeat("x", 32<<10)
	const limit = 20000 // 640 MiB: far more than any socket buffers
	kicked := false
	start := time.Now()
	for sent = 0; !kicked; sent++ {
		if sent == limit {
			t.Fatalf("slow was not kicked after %d messages of %d KiB", sent, len(pad)>>10)
		}
		text := fmt.Sprintf("%06d %s", sent, pad)
		talker.say(text)
		for _, cl := range []*client{talker, watcher} {
			for {
				ev := cl.next()
				if ev.Type == typeLeft && ev.Nick == "slow" {
					if cl == watcher {
						kicked, leftEv = true, ev
					}
					continue
				}
				if ev.Type != typeMessage || ev.Nick != "talker" || ev.Text != text {
					t.Fatalf("%s: message %d: got %+v (text %.10q)", cl.name, sent, ev.Type, ev.Text)
				}
				break
			}
		}
	}
	t.Logf("slow was removed after %d messages of %d KiB, %v", sent, len(pad)>>10, time.Since(start).Round(time.Millisecond))
	return talker, watcher, slow, leftEv, sent
}

// floodOptions are the server options of the slow-member tests: a small
// send queue (8 frames, or 128 KiB with bytes set) and room for large
// messages, so that little traffic fills a non-reader's queue; and a
// history of 3 events, which a resuming member's queue holds.
func floodOptions(bytes bool) options {
	o := options{
		Conn:    pipeline.Options{SendQueue: 8, SendQueueBytes: -1, MaxMessageSize: 64 << 10},
		MaxText: 40 << 10,
		History: 3,
	}
	if bytes {
		o.Conn.SendQueue, o.Conn.SendQueueBytes = 10000, 128<<10
	}
	return o
}

// TestSlowMemberKicked: a member that does not read is kicked once its
// send queue overflows, in frames or in bytes (OverflowClose: close
// 1008), and removed from the room at once, while the others go on
// receiving everything. When it comes back it resumes from the last
// event it read: a gap event for those the room no longer keeps, then the
// kept ones.
func TestSlowMemberKicked(t *testing.T) {
	t.Run("frames", func(t *testing.T) { testSlowMemberKicked(t, floodOptions(false)) })
	t.Run("bytes", func(t *testing.T) { testSlowMemberKicked(t, floodOptions(true)) })
}

func testSlowMemberKicked(t *testing.T, opts options) {
	talker, watcher, slow, ev, _ := flood(t, opts)
	if ev.Reason != reasonKicked || !slices.Equal(ev.Members, []string{"talker", "watcher"}) {
		t.Fatalf("the room saw %+v, want slow to leave with reason %q", ev, reasonKicked)
	}
	// The room goes on.
	for i := range 5 {
		text := fmt.Sprintf("after %d", i)
		talker.say(text)
		talker.expect(typeMessage, "talker", text)
		watcher.expect(typeMessage, "talker", text)
	}

	// It comes back on a new connection and resumes after its own joined
	// event, the only one it read (seq 1: the room's first event).
	again := dial(t, talker.c.RemoteAddr().String(), "slow again")
	gap, replay := again.resumeFrom("flood", "slow", 1)
	if gap.From != 2 || len(replay) != 3 || replay[2].Text != "after 4" || gap.To+1 != replay[0].Seq {
		t.Fatalf("slow resumed with gap %+v and replay of %d events ending %.10q", gap, len(replay), replay[len(replay)-1].Text)
	}

	// What reaches the kicked member: the messages that fit its buffers,
	// then the 1008 close frame; or, if the server gave up writing to a
	// full socket (RFC 6455 7.1.7: fail the connection), the stream just
	// ends, possibly mid-frame.
	slow.conn.SetReadDeadline(time.Now().Add(wait))
	frames := 0
	for {
		op, p, err := slow.readFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				t.Logf("slow's connection ended without a close frame after %d frames: %v", frames, err)
				return
			}
			t.Fatalf("slow: after %d frames: %v", frames, err)
		}
		if op == 0x8 {
			code, reason, err := layers.ParseClose(p)
			if err != nil || code != pipeline.ClosePolicyViolation {
				t.Fatalf("slow's close frame: code %d, reason %q, %v; want 1008", code, reason, err)
			}
			t.Logf("slow got close %d %q after %d frames", code, reason, frames)
			return
		}
		frames++
	}
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestKickedMemberClosedPromptly: the kicked member's connection ends
// (OnClose runs) right after the overflow, without waiting for a closing
// handshake that a peer which does not read cannot answer. The close
// timeout is set far beyond the test's wait, so only a prompt end passes.
func TestKickedMemberClosedPromptly(t *testing.T) {
	hooks := newCloseHooks()
	opts := floodOptions(false)
	opts.Conn.CloseTimeout = time.Minute
	opts.onClosed = hooks.hook
	_, _, _, ev, _ := flood(t, opts)
	if ev.Reason != reasonKicked {
		t.Fatalf("the room saw %+v", ev)
	}
	start := time.Now()
	select {
	case err := <-hooks.ch("slow"):
		var ce *pipeline.CloseError
		if !errors.Is(err, pipeline.ErrQueueFull) && !(errors.As(err, &ce) && ce.Code == pipeline.ClosePolicyViolation) {
			t.Errorf("OnClose got %v, want the send queue overflow (close 1008)", err)
		}
		t.Logf("OnClose ran %v after the room saw slow leave: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(wait):
		t.Fatalf("OnClose has not run %v after the overflow (CloseTimeout %v)", wait, opts.Conn.CloseTimeout)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// TestRoomBroadcast: three members of a room talk at once; each of them
// receives every message once, each sender's in its order, all in the
// same order with consecutive seq numbers; a member of another room
// receives none of it.
func TestRoomBroadcast(t *testing.T) {
	_, addr := startServer(t, options{})
	a, b, c := dial(t, addr, "a"), dial(t, addr, "b"), dial(t, addr, "c")
	d := dial(t, addr, "d")

	if ev := a.join("red", "ann"); !slices.Equal(ev.Members, []string{"ann"}) || ev.Seq != 1 {
		t.Fatalf("first join: %+v", ev)
	}
	b.join("red", "bob")
	if ev := a.expect(typeJoined, "bob", ""); !slices.Equal(ev.Members, []string{"ann", "bob"}) || ev.Seq != 2 {
		t.Fatalf("ann saw bob join as %+v", ev)
	}
	c.join("red", "cy")
	a.expect(typeJoined, "cy", "")
	b.expect(typeJoined, "cy", "")
	if ev := d.join("blue", "dee"); ev.Seq != 1 || !slices.Equal(ev.Members, []string{"dee"}) {
		t.Fatalf("blue room: %+v", ev)
	}

	const n = 40
	senders := []*client{a, b, c}
	nicks := []string{"ann", "bob", "cy"}
	var wg sync.WaitGroup
	errs := make(chan error, len(senders))
	for i, cl := range senders {
		wg.Go(func() {
			for k := range n {
				msg := fmt.Sprintf(`{"type":"say","text":"%s-%d"}`, nicks[i], k)
				if err := cl.c.WriteMessage(context.Background(), pipeline.Text, []byte(msg)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var orders [][]string
	for _, cl := range senders {
		next := map[string]int{}
		var order []string
		lastSeq := uint64(3) // the three joins
		for range len(senders) * n {
			ev := cl.expect(typeMessage, "", "")
			if ev.Room != "red" || ev.Seq != lastSeq+1 {
				t.Fatalf("%s: %+v after seq %d", cl.name, ev, lastSeq)
			}
			lastSeq = ev.Seq
			if want := fmt.Sprintf("%s-%d", ev.Nick, next[ev.Nick]); ev.Text != want {
				t.Fatalf("%s: got %q from %s, want %q", cl.name, ev.Text, ev.Nick, want)
			}
			next[ev.Nick]++
			order = append(order, ev.Text)
		}
		orders = append(orders, order)
	}
	for i := 1; i < len(orders); i++ {
		if !slices.Equal(orders[0], orders[i]) {
			t.Fatalf("%s and %s saw different orders", senders[0].name, senders[i].name)
		}
	}

	// Nothing else arrived in either room: the next event of each is the
	// one said now, in its own room.
	d.say("blue only")
	d.expect(typeMessage, "dee", "blue only")
	a.say("end")
	for _, cl := range senders {
		cl.expect(typeMessage, "ann", "end")
	}
}

// TestBadInput: a malformed, unknown or out-of-bounds message gets an
// error reply to its sender only and reaches nobody else; the sender
// stays in its room.
func TestBadInput(t *testing.T) {
	_, addr := startServer(t, options{})
	a, b := dial(t, addr, "a"), dial(t, addr, "b")
	a.join("room1", "ann")
	b.join("room1", "bob")
	a.expect(typeJoined, "bob", "")

	tests := []struct {
		name string
		typ  pipeline.MessageType
		msg  string
		want string // in the error
	}{
		{"not JSON", pipeline.Text, `hello`, "malformed"},
		{"truncated JSON", pipeline.Text, `{"type":"say","text":"hi"`, "malformed"},
		{"JSON array", pipeline.Text, `[{"type":"say","text":"hi"}]`, "malformed"},
		{"trailing data", pipeline.Text, `{"type":"say","text":"hi"} {}`, "malformed"},
		{"wrong field type", pipeline.Text, `{"type":"say","text":42}`, "malformed"},
		{"binary", pipeline.Binary, `{"type":"say","text":"hi"}`, "text messages"},
		{"no type", pipeline.Text, `{"text":"hi"}`, `unknown message type ""`},
		{"null", pipeline.Text, `null`, `unknown message type ""`},
		{"unknown type", pipeline.Text, `{"type":"shout","text":"hi"}`, `unknown message type "shout"`},
		{"long unknown type", pipeline.Text, `{"type":"` + strings.Repeat("x", 500) + `"}`, `"` + strings.Repeat("x", 32) + `…"`},
		{"empty text", pipeline.Text, `{"type":"say","text":""}`, "text: required"},
		{"text too long", pipeline.Text, `{"type":"say","text":"` + strings.Repeat("é", 1001) + `"}`, "at most 2000 bytes"},
		{"control character", pipeline.Text, `{"type":"say","text":"a\u001b[2Jb"}`, "control characters"},
		{"join: no nick", pipeline.Text, `{"type":"join","room":"room2"}`, "nick: required"},
		{"join: nick too long", pipeline.Text, `{"type":"join","nick":"` + strings.Repeat("n", 25) + `"}`, "at most 24"},
		{"join: nick with space", pipeline.Text, `{"type":"join","nick":"ann smith"}`, "nick: only"},
		{"join: nick with markup", pipeline.Text, `{"type":"join","nick":"<b>ann</b>"}`, "nick: only"},
		{"join: room too long", pipeline.Text, `{"type":"join","room":"` + strings.Repeat("r", 33) + `","nick":"ann"}`, "room: at most 32"},
		{"join: room with slash", pipeline.Text, `{"type":"join","room":"a/b","nick":"ann"}`, "room: only"},
		{"join: non-ASCII room", pipeline.Text, `{"type":"join","room":"café","nick":"ann"}`, "room: only"},
		{"join: nick taken", pipeline.Text, `{"type":"join","room":"room1","nick":"bob"}`, "taken"},
		{"join: already in", pipeline.Text, `{"type":"join","room":"room1","nick":"ann"}`, "already in this room"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t, b.t = t, t
			a.sendRaw(tc.typ, []byte(tc.msg))
			a.expectError(tc.want)
			// ann is still in room1 and said nothing else: bob's next
			// event is this message.
			text := "after " + tc.name
			a.say(text)
			a.expect(typeMessage, "ann", text)
			b.expect(typeMessage, "ann", text)
		})
	}

	t.Run("say before join", func(t *testing.T) {
		c := dial(t, addr, "c")
		c.say("hi")
		c.expectError("join a room first")
		c.send(request{Type: typeLeave})
		c.say("still no")
		c.expectError("join a room first")
	})
}

// TestNameBounds: the largest room name and nick are accepted, letters of
// other scripts in nicks too, and one character more is refused.
func TestNameBounds(t *testing.T) {
	for _, tc := range []struct {
		nick string
		ok   bool
	}{
		{"a", true},
		{strings.Repeat("n", 24), true},
		{strings.Repeat("é", 24), true}, // 24 characters, 48 bytes
		{strings.Repeat("n", 25), false},
		{strings.Repeat("é", 25), false},
		{"Zoë_2.0-x", true},
		{"Сергей", true},
		{"", false},
		{"a b", false},
		{"a\u200bb", false}, // zero-width space
		{"a\u0301", false},  // combining mark
		{"😀", false},
	} {
		if err := checkNick(tc.nick); (err == nil) != tc.ok {
			t.Errorf("checkNick(%q) = %v, want ok=%v", tc.nick, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		room string
		ok   bool
	}{
		{"lobby", true},
		{"Room_1-b", true},
		{strings.Repeat("r", 32), true},
		{strings.Repeat("r", 33), false},
		{"a.b", false},
		{"a b", false},
		{"ünï", false},
	} {
		if err := checkRoom(tc.room); (err == nil) != tc.ok {
			t.Errorf("checkRoom(%q) = %v, want ok=%v", tc.room, err, tc.ok)
		}
	}

	_, addr := startServer(t, options{})
	a := dial(t, addr, "a")
	room, nick := strings.Repeat("r", 32), strings.Repeat("é", 24)
	a.join(room, nick)
	a.say("fits")
	a.expect(typeMessage, nick, "fits")

	// Without a room, the default one.
	b := dial(t, addr, "b")
	b.send(request{Type: typeJoin, Nick: "bob"})
	if ev := b.expect(typeJoined, "bob", ""); ev.Room != defaultRoom {
		t.Errorf("joined %q, want %q", ev.Room, defaultRoom)
	}
}

// TestSwitchRooms: joining another room leaves the first (its members see
// "left"), and messages follow the member.
func TestSwitchRooms(t *testing.T) {
	_, addr := startServer(t, options{})
	a, b, c := dial(t, addr, "a"), dial(t, addr, "b"), dial(t, addr, "c")
	a.join("one", "ann")
	b.join("one", "bob")
	a.expect(typeJoined, "bob", "")
	c.join("two", "cy")

	b.join("two", "bob")
	if ev := a.expect(typeLeft, "bob", ""); ev.Reason != reasonLeft || !slices.Equal(ev.Members, []string{"ann"}) {
		t.Fatalf("ann saw %+v", ev)
	}
	if ev := c.expect(typeJoined, "bob", ""); !slices.Equal(ev.Members, []string{"bob", "cy"}) {
		t.Fatalf("cy saw %+v", ev)
	}
	b.say("moved")
	b.expect(typeMessage, "bob", "moved")
	c.expect(typeMessage, "bob", "moved")

	b.send(request{Type: typeLeave})
	c.expect(typeLeft, "bob", "")
	a.say("only ann")
	a.expect(typeMessage, "ann", "only ann")
	b.say("nowhere")
	b.expectError("join a room first")
	c.say("only cy")
	c.expect(typeMessage, "cy", "only cy")
}

// TestOversizedMessage: a message over the size limit closes its sender's
// connection (1009) and removes it from the room.
func TestOversizedMessage(t *testing.T) {
	_, addr := startServer(t, options{})
	a, b := dial(t, addr, "a"), dial(t, addr, "b")
	a.join("room", "ann")
	b.join("room", "bob")
	a.expect(typeJoined, "bob", "")

	b.sendRaw(pipeline.Text, []byte(`{"type":"say","text":"`+strings.Repeat("x", defaultMaxMessage)+`"}`))
	var ce *pipeline.CloseError
	if err := b.closed(); !errors.As(err, &ce) || ce.Code != pipeline.CloseMessageTooBig {
		t.Fatalf("bob's connection ended with %v, want close 1009", err)
	}
	if ev := a.expect(typeLeft, "bob", ""); ev.Reason != reasonDropped || !slices.Equal(ev.Members, []string{"ann"}) {
		t.Fatalf("ann saw %+v", ev)
	}
}

// TestOrigin: browsers' pages may connect only from the server's own
// origin, or from those the -origin patterns allow; clients without an
// Origin header (not browsers) always may.
func TestOrigin(t *testing.T) {
	_, addr := startServer(t, options{})
	_, addr2 := startServer(t, options{Origins: []string{"*.example.com"}})

	try := func(addr, origin string) error {
		hc := &handshake.Client{Header: http.Header{}}
		if origin != "" {
			hc.Header.Set("Origin", origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, _, err := pipeline.Dial(ctx, "ws://"+addr+"/ws", hc, nil)
		if err == nil {
			c.Close(pipeline.CloseNormal, "")
		}
		return err
	}
	for _, tc := range []struct {
		addr, origin string
		ok           bool
	}{
		{addr, "", true},
		{addr, "http://" + addr, true},
		{addr, "http://chat.example.com", false},
		{addr, "http://localhost:1", false},
		{addr2, "http://" + addr2, true},
		{addr2, "https://chat.example.com", true},
		{addr2, "https://example.org", false},
	} {
		err := try(tc.addr, tc.origin)
		var he *handshake.HandshakeError
		switch {
		case tc.ok && err != nil:
			t.Errorf("Origin %q to %s: %v", tc.origin, tc.addr, err)
		case !tc.ok && (!errors.As(err, &he) || he.StatusCode != http.StatusForbidden):
			t.Errorf("Origin %q to %s: %v, want a 403 refusal", tc.origin, tc.addr, err)
		}
	}
}

// TestPage: the page is served at "/", and nothing else but /ws.
func TestPage(t *testing.T) {
	_, addr := startServer(t, options{})
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get("/?room=x")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `id="nick"`) {
		t.Errorf("GET /: %s, %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	if resp, _ := get("/other"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %s", resp.Status)
	}
	// A plain GET of the endpoint is no upgrade.
	if resp, _ := get("/ws"); resp.StatusCode/100 != 4 {
		t.Errorf("GET /ws without upgrade: %s", resp.Status)
	}
}

// TestShutdown: Shutdown closes every member with 1001 and its resume
// point, and refuses new connections.
func TestShutdown(t *testing.T) {
	s, addr := startServer(t, options{})
	a, b := dial(t, addr, "a"), dial(t, addr, "b")
	a.join("room", "ann")
	b.join("other", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*client{a, b} {
		var ce *pipeline.CloseError
		if err := cl.closed(); !errors.As(err, &ce) || ce.Code != pipeline.CloseGoingAway {
			t.Errorf("%s: connection ended with %v, want close 1001", cl.name, err)
		}
	}
	for cl, want := range map[*client]string{a: "resume room after 1", b: "resume other after 1"} {
		var ce *pipeline.CloseError
		if errors.As(cl.err, &ce) && !strings.HasSuffix(ce.Reason, want) {
			t.Errorf("%s: close reason %q, want one ending in %q", cl.name, ce.Reason, want)
		}
	}
	_, _, err := pipeline.Dial(ctx, "ws://"+addr+"/ws", nil, nil)
	var he *handshake.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Shutdown: %v, want 503", err)
	}
}

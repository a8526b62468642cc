package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// wait is the safety net of every wait in these tests: far longer than
// anything should take, even on a busy two-core CI machine under -race.
const wait = 20 * time.Second

// startServer runs a chat server on a loopback port for the test and
// returns it with its host:port. It is shut down at the end of the test.
func startServer(t *testing.T, opts options) (*server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rate == 0 {
		opts.Rate = -1 // the tests of the rate limit set one
	}
	if opts.Broker == nil {
		// Each test its own embedded NATS server, so rooms start at seq 1.
		b, err := newNATSBroker(natsConfig{Dir: t.TempDir(), Logger: opts.Logger, History: opts.History})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() }) // after the server's Shutdown
		opts.Broker = b
	}
	s, err := newServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.Handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Shutdown(ctx)
		<-served
	})
	return s, ln.Addr().String()
}

// client is a Go chat client: a pipeline.Conn whose incoming events a
// goroutine decodes into a channel.
type client struct {
	t      *testing.T
	name   string
	c      *pipeline.Conn
	events chan Event
	done   chan struct{} // closed when reading ends; err says why
	err    error
}

// dial connects a client to the server at addr. It is closed at the end
// of the test.
func dial(t *testing.T, addr, name string) *client {
	t.Helper()
	return dialWith(t, addr, name, nil)
}

func dialWith(t *testing.T, addr, name string, hc *handshake.Client) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := pipeline.Dial(ctx, "ws://"+addr+"/ws", hc, &pipeline.Options{CloseTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	cl := &client{t: t, name: name, c: c, events: make(chan Event, 1<<14), done: make(chan struct{})}
	go cl.read()
	t.Cleanup(func() {
		c.Close(pipeline.CloseNormal, "")
		<-cl.done
	})
	return cl
}

func (cl *client) read() {
	defer close(cl.done)
	var buf []byte
	for {
		typ, msg, err := cl.c.ReadMessage(context.Background(), buf[:0])
		if err != nil {
			cl.err = err
			return
		}
		buf = msg
		var ev Event
		if typ != pipeline.Text {
			ev = Event{Type: "test: unexpected binary message"}
		} else if err := json.Unmarshal(msg, &ev); err != nil {
			ev = Event{Type: "test: undecodable", Text: string(msg)}
		}
		select {
		case cl.events <- ev:
		default:
			cl.err = errors.New("test client's event buffer overflowed")
			return
		}
	}
}

// send sends v as JSON.
func (cl *client) send(v any) {
	cl.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.sendRaw(pipeline.Text, data)
}

func (cl *client) sendRaw(typ pipeline.MessageType, data []byte) {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := cl.c.WriteMessage(ctx, typ, data); err != nil {
		cl.t.Fatalf("%s: write: %v", cl.name, err)
	}
}

func (cl *client) say(text string) { cl.t.Helper(); cl.send(request{Type: typeSay, Text: text}) }

// next returns the next event, failing the test if none comes.
func (cl *client) next() Event {
	cl.t.Helper()
	select {
	case ev := <-cl.events:
		return ev
	case <-cl.done:
		select {
		case ev := <-cl.events:
			return ev
		default:
		}
		cl.t.Fatalf("%s: connection ended while waiting for an event: %v", cl.name, cl.err)
	case <-time.After(wait):
		cl.t.Fatalf("%s: no event within %v", cl.name, wait)
	}
	return Event{}
}

// expect returns the next event after checking its type (and, if given,
// nick and text).
func (cl *client) expect(typ, nick, text string) Event {
	cl.t.Helper()
	ev := cl.next()
	if ev.Type != typ || (nick != "" && ev.Nick != nick) || (text != "" && ev.Text != text) {
		cl.t.Fatalf("%s: got %+v, want a %q event from %q with text %q", cl.name, ev, typ, nick, text)
	}
	return ev
}

// expectError returns the next event after checking that it is an error
// whose text contains want.
func (cl *client) expectError(want string) {
	cl.t.Helper()
	ev := cl.next()
	if ev.Type != typeError || !strings.Contains(ev.Error, want) {
		cl.t.Fatalf("%s: got %+v, want an error containing %q", cl.name, ev, want)
	}
}

// join joins room as nick and returns the joined event.
func (cl *client) join(room, nick string) Event {
	cl.t.Helper()
	cl.send(request{Type: typeJoin, Room: room, Nick: nick})
	ev := cl.expect(typeJoined, nick, "")
	if ev.Room != room {
		cl.t.Fatalf("%s: joined %q, want %q", cl.name, ev.Room, room)
	}
	return ev
}

// closed waits for the connection to end and returns why.
func (cl *client) closed() error {
	cl.t.Helper()
	select {
	case <-cl.done:
		return cl.err
	case <-time.After(wait):
		cl.t.Fatalf("%s: connection still open after %v", cl.name, wait)
		return nil
	}
}

// rawClient is a WebSocket client written by hand over TCP, for what a
// well-behaved client never does: stop reading, or vanish without a
// close frame.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dialRaw connects and completes the opening handshake.
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(wait))
	var key [16]byte
	rand.Read(key[:])
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, base64.StdEncoding.EncodeToString(key[:]))
	rc := &rawClient{t: t, conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("raw handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw handshake: %s", resp.Status)
	}
	conn.SetDeadline(time.Time{})
	return rc
}

// writeFrame writes one final, masked frame.
func (rc *rawClient) writeFrame(op byte, payload []byte) {
	rc.t.Helper()
	var hdr []byte
	hdr = append(hdr, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	rc.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := rc.conn.Write(append(hdr, masked...)); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

func (rc *rawClient) send(v any) {
	rc.t.Helper()
	data, _ := json.Marshal(v)
	rc.writeFrame(0x1, data)
}

// readFrame reads one frame of the server's (unmasked, and unfragmented
// in this server's output).
func (rc *rawClient) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(rc.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(rc.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<24 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(rc.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// readEvent reads the next text frame as an event.
func (rc *rawClient) readEvent() Event {
	rc.t.Helper()
	rc.conn.SetReadDeadline(time.Now().Add(wait))
	defer rc.conn.SetReadDeadline(time.Time{})
	op, p, err := rc.readFrame()
	if err != nil || op != 0x1 {
		rc.t.Fatalf("raw read: opcode %#x, %v", op, err)
	}
	var ev Event
	if err := json.Unmarshal(p, &ev); err != nil {
		rc.t.Fatalf("raw read: %v: %q", err, p)
	}
	return ev
}

// closeHooks records, per nick, the error each member's OnClose saw.
type closeHooks struct {
	mu   sync.Mutex
	errs map[string]chan error
}

func newCloseHooks() *closeHooks { return &closeHooks{errs: make(map[string]chan error)} }

func (h *closeHooks) ch(nick string) chan error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.errs[nick]
	if c == nil {
		c = make(chan error, 1)
		h.errs[nick] = c
	}
	return c
}

// hook is an options.onClosed.
func (h *closeHooks) hook(nick string, err error) {
	select {
	case h.ch(nick) <- err:
	default:
	}
}

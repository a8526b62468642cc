package main

// The protocol: every WebSocket message is one JSON object, sent as a
// text message. Unknown fields are ignored.
//
// Client to server:
//
//	{"type":"join","room":"lobby","nick":"ann"}  enter a room (leaving the current one);
//	                                             room may be omitted: "lobby"
//	{"type":"say","text":"hello"}                speak in the current room
//	{"type":"leave"}                             leave the current room
//
// Server to client:
//
//	{"type":"joined","room":"lobby","nick":"ann","members":["ann","bob"],"seq":1}
//	{"type":"message","room":"lobby","nick":"ann","text":"hello","seq":2}
//	{"type":"left","room":"lobby","nick":"bob","members":["ann"],"reason":"closed","seq":3}
//	{"type":"error","error":"nick: at most 24 characters"}
//
// joined, message and left go to every member of the room, the joiner
// and the sender included; seq counts a room's events from 1, so a gap
// would show a lost event. members is the room's member list after the
// change. A left event's reason is "left" (leave, or a join elsewhere),
// "closed" (a close frame), "dropped" (the connection ended without one:
// TCP drop, missed heartbeat, bad input) or "kicked" (too slow a reader).
// An error goes to the offending client only; the message that caused it
// reaches nobody.
//
// Bounds: room names are 1-32 ASCII letters, digits, '-' or '_'; nicks
// 1-24 letters, digits, '-', '_' or '.', unique within a room; text 1-2000
// bytes without control characters other than newline and tab. A message
// over 16 KiB closes the connection (1009); one that is not text, not
// JSON or breaks a bound gets an error.

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// Message types.
const (
	typeJoin    = "join"
	typeSay     = "say"
	typeLeave   = "leave"
	typeJoined  = "joined"
	typeMessage = "message"
	typeLeft    = "left"
	typeError   = "error"
)

// Bounds and defaults.
const (
	defaultRoom       = "lobby"
	maxRoomLen        = 32 // bytes (ASCII only)
	maxNickLen        = 24 // characters
	defaultMaxText    = 2000
	defaultMaxMessage = 16 << 10
	// defaultSendQueue and defaultSendQueueBytes bound what a member may
	// have waiting, in frames and in bytes, before it counts as too slow
	// and is kicked: a few seconds of a busy room's traffic.
	defaultSendQueue      = 256
	defaultSendQueueBytes = 1 << 20
)

// Event is a message from the server: a room's event (joined, message,
// left), which the Broker carries and every member receives, or an
// error for one client.
type Event struct {
	Type    string   `json:"type"`              // joined, message, left or error
	Room    string   `json:"room,omitempty"`    // the room it happened in
	Nick    string   `json:"nick,omitempty"`    // who joined, spoke or left
	Text    string   `json:"text,omitempty"`    // what a message says
	Members []string `json:"members,omitempty"` // joined, left: the room's nicks after it, sorted
	Reason  string   `json:"reason,omitempty"`  // left: why (reasonLeft etc.)
	Error   string   `json:"error,omitempty"`   // error: what was wrong
	Seq     uint64   `json:"seq,omitempty"`     // the room's event number, set by the Broker
}

// request is a message from a client.
type request struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Nick string `json:"nick"`
	Text string `json:"text"`
}

// options configures a server. The zero value serves same-origin pages
// and non-browser clients with the defaults above.
type options struct {
	// Origins are extra Origin patterns allowed to connect
	// (handshake.Server.OriginPatterns); the page's own origin always is.
	Origins []string
	// Conn is the base of every connection's options. The server sets
	// OnMessage, OnClose and Overflow (OverflowClose) itself, and
	// MaxMessageSize, SendQueue and SendQueueBytes when left zero.
	Conn pipeline.Options
	// MaxText bounds a "say" text in bytes; zero means defaultMaxText.
	MaxText int
	// Broker carries room events; nil means an in-process memBroker.
	Broker Broker
	// Logger gets connection events; nil means slog.Default().
	Logger *slog.Logger

	// onClosed, if set, is called after OnClose has removed a member: a
	// hook for tests.
	onClosed func(nick string, err error)
}

// server is the chat service: the page, the WebSocket endpoint and the
// hub of rooms behind it.
type server struct {
	opts  options
	hs    handshake.Server
	conn  pipeline.Options
	hub   *hub
	log   *slog.Logger
	stop  context.CancelFunc // ends hub.ctx
	mux   *http.ServeMux
	mu    sync.Mutex // guards conns, down and every member's ended
	conns map[*member]*pipeline.Conn
	down  bool // Shutdown has begun
}

//go:embed page.html
var pageHTML []byte

func newServer(opts options) *server {
	s := &server{opts: opts, conns: make(map[*member]*pipeline.Conn)}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.opts.MaxText <= 0 {
		s.opts.MaxText = defaultMaxText
	}
	b := opts.Broker
	if b == nil {
		b = newMemBroker()
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.hub = newHub(ctx, b, s.log)

	// The zero handshake.Server accepts same-origin pages and clients
	// that send no Origin (not browsers); Origins adds more.
	s.hs = handshake.Server{OriginPatterns: opts.Origins}

	s.conn = opts.Conn
	if s.conn.MaxMessageSize == 0 {
		s.conn.MaxMessageSize = defaultMaxMessage
	}
	if s.conn.SendQueue == 0 {
		s.conn.SendQueue = defaultSendQueue
	}
	if s.conn.SendQueueBytes == 0 {
		s.conn.SendQueueBytes = defaultSendQueueBytes
	}
	// A member whose queue overflows is closed with 1008 and removed
	// (hub.deliver): a broadcast never waits for, nor buffers without
	// bound for, one slow reader.
	s.conn.Overflow = pipeline.OverflowClose

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.servePage)
	s.mux.HandleFunc("GET /ws", s.serveWS)
	return s
}

// Handler returns the server's HTTP handler: the page at "/" and the
// WebSocket endpoint at "/ws".
func (s *server) Handler() http.Handler { return s.mux }

func (s *server) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(pageHTML)
}

// serveWS upgrades the request and returns: the connection then runs in
// push mode on its own reader goroutine, so an idle member costs no
// goroutine of ours.
func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	// The member exists before its connection does: OnMessage and OnClose
	// may run before Accept returns.
	m := &member{}
	opts := s.conn
	opts.OnMessage = func(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
		return s.onMessage(m, c, typ, r)
	}
	opts.OnClose = func(c *pipeline.Conn, err error) { s.onClose(m, err) }
	c, err := pipeline.Accept(w, r, &s.hs, &opts)
	if err != nil {
		s.log.Debug("handshake refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	s.mu.Lock()
	switch {
	case s.down:
		s.mu.Unlock()
		go c.Close(pipeline.CloseGoingAway, "server shutting down")
		return
	case !m.ended:
		// One whose onClose has run already is left out.
		s.conns[m] = c
	}
	s.mu.Unlock()
}

// onMessage handles one client message. A bad one gets an error reply;
// nothing of it reaches the room.
func (s *server) onMessage(m *member, c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
	if typ != pipeline.Text {
		return s.reply(c, errors.New("send JSON in text messages"))
	}
	// Bounded: the connection ends a message over MaxMessageSize (1009)
	// before handing its reader over.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil // the connection is failing; OnClose says why
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		return s.reply(c, errors.New("malformed message: want a JSON object"))
	}
	switch req.Type {
	case typeJoin:
		if req.Room == "" {
			req.Room = defaultRoom
		}
		if err := checkRoom(req.Room); err != nil {
			return s.reply(c, err)
		}
		if err := checkNick(req.Nick); err != nil {
			return s.reply(c, err)
		}
		if err := s.hub.join(m, c, req.Room, req.Nick); err != nil {
			return s.reply(c, err)
		}
		s.log.Debug("joined", "room", req.Room, "nick", req.Nick)
	case typeSay:
		if err := checkText(req.Text, s.opts.MaxText); err != nil {
			return s.reply(c, err)
		}
		if err := s.hub.say(m, req.Text); err != nil {
			return s.reply(c, err)
		}
	case typeLeave:
		s.hub.leave(m, reasonLeft, false)
	default:
		return s.reply(c, fmt.Errorf("unknown message type %q", clip(req.Type, 32)))
	}
	return nil
}

// reply sends an error to one client. Like a broadcast, it only queues
// (OverflowClose never waits for the peer), so a client flooding bad
// messages without reading overflows its own queue and is kicked. Its
// error is not returned: OnMessage's error would close the connection.
func (s *server) reply(c *pipeline.Conn, err error) error {
	data, _ := json.Marshal(Event{Type: typeError, Error: err.Error()})
	c.WriteMessage(s.hub.ctx, pipeline.Text, data)
	return nil
}

// onClose removes the member whose connection ended, however it ended.
func (s *server) onClose(m *member, err error) {
	s.mu.Lock()
	m.ended = true
	delete(s.conns, m)
	s.mu.Unlock()
	s.hub.mu.Lock()
	nick := m.last
	s.hub.mu.Unlock()
	s.hub.leave(m, leaveReason(err), true)
	s.log.Debug("connection ended", "nick", nick, "err", err)
	if s.opts.onClosed != nil {
		s.opts.onClosed(nick, err)
	}
}

// leaveReason is the "left" reason for a connection that ended with err.
func leaveReason(err error) string {
	switch {
	case errors.Is(err, pipeline.ErrQueueFull):
		return reasonKicked
	case errors.Is(err, pipeline.ErrProtocol), errors.Is(err, pipeline.ErrInvalidUTF8),
		errors.Is(err, pipeline.ErrTooBig), errors.Is(err, pipeline.ErrPeerTimeout):
		return reasonDropped
	}
	if code := pipeline.CloseStatus(err); code != pipeline.CloseNone && code != pipeline.CloseAbnormal {
		return reasonClosed // a close frame, the peer's or ours (Shutdown)
	}
	return reasonDropped // CloseAbnormal: the transport ended without one
}

// Shutdown refuses new connections and closes every open one with 1001
// (going away), waiting for their closing handshakes until ctx ends.
func (s *server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.down = true
	conns := make([]*pipeline.Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close(pipeline.CloseGoingAway, "server shutting down") })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	defer s.stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkRoom checks a room name's bounds.
func checkRoom(name string) error {
	if len(name) > maxRoomLen {
		return fmt.Errorf("room: at most %d characters", maxRoomLen)
	}
	for _, r := range name {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_')) {
			return errors.New("room: only ASCII letters, digits, '-' and '_'")
		}
	}
	return nil
}

// checkNick checks a nickname's bounds. Letters of any script are
// allowed, but no spaces, symbols or marks, so that a nick reads as one
// word and cannot pose as another line of the chat.
func checkNick(nick string) error {
	n := utf8.RuneCountInString(nick)
	switch {
	case n == 0:
		return errors.New("nick: required")
	case n > maxNickLen:
		return fmt.Errorf("nick: at most %d characters", maxNickLen)
	}
	for _, r := range nick {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return errors.New("nick: only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// checkText checks a message text's bounds.
func checkText(text string, max int) error {
	switch {
	case text == "":
		return errors.New("text: required")
	case len(text) > max:
		return fmt.Errorf("text: at most %d bytes", max)
	}
	for _, r := range text {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return errors.New("text: no control characters but newline and tab")
		}
	}
	return nil
}

// clip shortens s to at most n bytes, on a character boundary, for
// echoing client input in an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

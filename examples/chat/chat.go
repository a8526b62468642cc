package main

// The protocol: every WebSocket message is one JSON object, sent as a
// text message. Unknown fields are ignored.
//
// Client to server:
//
//	{"type":"join","room":"lobby","nick":"ann"}  enter a room (leaving the current one);
//	                                             room may be omitted: "lobby"
//	{"type":"join","room":"lobby","nick":"ann","after":41}
//	                                             resume: first the room's events after 41
//	{"type":"say","text":"hello","id":"m7"}      speak in the current room; id (optional)
//	                                             makes a repeat of the same say harmless
//	{"type":"leave"}                             leave the current room
//
// Server to client:
//
//	{"seq":1,"type":"joined","room":"lobby","nick":"ann","members":["ann","bob"]}
//	{"seq":2,"type":"message","room":"lobby","nick":"ann","text":"hello","id":"m7"}
//	{"seq":3,"type":"left","room":"lobby","nick":"bob","members":["ann"],"reason":"closed"}
//	{"type":"gap","room":"lobby","from":12,"to":40}
//	{"type":"error","error":"nick: at most 24 characters"}
//
// joined, message and left go to every member of the room, on every
// node, the joiner and the sender included; seq is the room's event
// number (its JetStream stream sequence), consecutive, the same for
// everyone, so a gap would show a lost event. members is the room's
// member list on the node that published the change. A left event's
// reason is "left" (leave, or a join elsewhere), "closed" (a close frame),
// "dropped" (the connection ended without one: TCP drop, missed
// heartbeat, bad input) or "kicked" (too slow a reader).
//
// A client that reconnects, to the same node or another, joins with
// "after" set to the last seq it received: it gets exactly the events it
// missed, then live ones, none twice. Events older than the room's
// retained history (200 events by default) are gone: a gap event says
// which, before the replay. An after past the room's last event is
// answered with an error. An error goes to the offending client only;
// the message that caused it reaches nobody.
//
// Bounds: room names are 1-32 ASCII letters, digits, '-' or '_'; nicks
// 1-24 letters, digits, '-', '_' or '.', unique within a room on a node;
// text 1-2000 bytes without control characters other than newline and
// tab; ids at most 64 bytes. A message over 16 KiB closes the connection
// (1009); one that is not text, not JSON or breaks a bound gets an error.
// A member sending faster than its rate limit (5 messages a second,
// bursts of 20) gets an error per message refused, and is closed with
// 1008 if it goes on regardless.

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
	"time"
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
	typeGap     = "gap"
	typeError   = "error"
)

// Bounds and defaults.
const (
	defaultRoom       = "lobby"
	maxRoomLen        = 32 // bytes (ASCII only)
	maxNickLen        = 24 // characters
	maxIDLen          = 64 // bytes
	defaultMaxText    = 2000
	defaultMaxMessage = 16 << 10
	// defaultSendQueue and defaultSendQueueBytes bound what a member may
	// have waiting, in frames and in bytes, before it counts as too slow
	// and is kicked: a few seconds of a busy room's traffic, and room for
	// a whole history replay.
	defaultSendQueue      = 256
	defaultSendQueueBytes = 1 << 20
	// defaultRate and defaultBurst are a member's rate limit: messages
	// per second, and how many may come at once.
	defaultRate  = 5
	defaultBurst = 20
)

// Event is a message from the server: a room's event (joined, message,
// left), which the Broker carries and every member receives, or a gap or
// an error for one client.
type Event struct {
	Seq     uint64   `json:"seq,omitempty"`     // the room's event number, set by the Broker
	Type    string   `json:"type"`              // joined, message, left, gap or error
	Room    string   `json:"room,omitempty"`    // the room it happened in
	Nick    string   `json:"nick,omitempty"`    // who joined, spoke or left
	Text    string   `json:"text,omitempty"`    // what a message says
	ID      string   `json:"id,omitempty"`      // message: the id its sender gave it
	Members []string `json:"members,omitempty"` // joined, left: the room's nicks after it, sorted
	Reason  string   `json:"reason,omitempty"`  // left: why (reasonLeft etc.)
	From    uint64   `json:"from,omitempty"`    // gap: the first event lost
	To      uint64   `json:"to,omitempty"`      // gap: the last event lost
	Error   string   `json:"error,omitempty"`   // error: what was wrong
}

// request is a message from a client.
type request struct {
	Type  string  `json:"type"`
	Room  string  `json:"room,omitempty"`
	Nick  string  `json:"nick,omitempty"`
	Text  string  `json:"text,omitempty"`
	ID    string  `json:"id,omitempty"`
	After *uint64 `json:"after,omitempty"` // join: resume after this seq
}

// options configures a server. The zero value serves same-origin pages
// and non-browser clients with the defaults above, over an embedded NATS
// server.
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
	// Rate and Burst are each member's rate limit, in messages per second
	// and messages at once; zero means defaultRate and defaultBurst,
	// a negative Rate no limit.
	Rate  float64
	Burst int
	// Broker carries room events; nil means a natsBroker over an
	// embedded NATS server, which Shutdown closes.
	Broker Broker
	// History bounds the events a node keeps per room for replays; zero
	// means defaultHistory. It should be the broker's retained history.
	History int
	// Logger gets connection events; nil means slog.Default().
	Logger *slog.Logger

	// onClosed, if set, is called after OnClose has removed a member: a
	// hook for tests.
	onClosed func(nick string, err error)
}

// server is the chat service: the page, the WebSocket endpoint and the
// hub of rooms behind it.
type server struct {
	opts   options
	hs     handshake.Server
	conn   pipeline.Options
	hub    *hub
	log    *slog.Logger
	stop   context.CancelFunc // ends hub.ctx
	mux    *http.ServeMux
	owned  *natsBroker // the broker newServer started, closed by Shutdown
	mu     sync.Mutex  // guards conns, down and every member's ended
	conns  map[*member]*pipeline.Conn
	closes sync.WaitGroup // members whose OnClose has not finished
	down   bool           // Shutdown has begun
}

//go:embed page.html
var pageHTML []byte

func newServer(opts options) (*server, error) {
	s := &server{opts: opts, conns: make(map[*member]*pipeline.Conn)}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.opts.MaxText <= 0 {
		s.opts.MaxText = defaultMaxText
	}
	if s.opts.Rate == 0 {
		s.opts.Rate = defaultRate
	}
	if s.opts.Burst <= 0 {
		s.opts.Burst = defaultBurst
	}
	if s.opts.History <= 0 {
		s.opts.History = defaultHistory
	}
	b := opts.Broker
	if b == nil {
		nb, err := newNATSBroker(natsConfig{Logger: s.log, History: s.opts.History})
		if err != nil {
			return nil, err
		}
		s.owned, b = nb, nb
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.hub = newHub(ctx, b, s.opts.History, s.log)

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
	return s, nil
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

// limiter is a member's rate limit: a token bucket, and the count of
// messages refused in a row. It is used only from the connection's
// reader goroutine.
type limiter struct {
	tokens  float64
	last    time.Time
	refused int
}

// allow takes a token if there is one.
func (l *limiter) allow(rate float64, burst int) bool {
	if rate < 0 {
		return true
	}
	now := time.Now()
	if l.last.IsZero() {
		l.tokens = float64(burst)
	} else {
		l.tokens = min(float64(burst), l.tokens+now.Sub(l.last).Seconds()*rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// serveWS upgrades the request and returns: the connection then runs in
// push mode on its own reader goroutine, so an idle member costs no
// goroutine of ours.
func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	if !down {
		s.closes.Add(1)
	}
	s.mu.Unlock()
	if down {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	// The member exists before its connection does: OnMessage and OnClose
	// may run before Accept returns.
	m := &member{}
	lim := &limiter{}
	opts := s.conn
	opts.OnMessage = func(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
		return s.onMessage(m, lim, c, typ, r)
	}
	opts.OnClose = func(c *pipeline.Conn, err error) { s.onClose(m, err) }
	c, err := pipeline.Accept(w, r, &s.hs, &opts)
	if err != nil {
		s.closes.Done()
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
func (s *server) onMessage(m *member, lim *limiter, c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
	if !lim.allow(s.opts.Rate, s.opts.Burst) {
		lim.refused++
		if lim.refused > s.opts.Burst {
			// Refusals did not slow it down: it is flooding.
			go c.Close(pipeline.ClosePolicyViolation, "rate limit exceeded")
			return nil
		}
		return s.reply(c, errors.New("rate limit: slow down; this message was dropped"))
	}
	lim.refused = 0
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
		var after uint64
		if req.After != nil {
			after = *req.After
		}
		if err := s.hub.join(m, c, req.Room, req.Nick, req.After != nil, after); err != nil {
			return s.reply(c, err)
		}
		s.log.Debug("joined", "room", req.Room, "nick", req.Nick, "resume", req.After != nil, "after", after)
	case typeSay:
		if err := checkText(req.Text, s.opts.MaxText); err != nil {
			return s.reply(c, err)
		}
		if err := checkID(req.ID); err != nil {
			return s.reply(c, err)
		}
		if err := s.hub.say(m, req.Text, req.ID); err != nil {
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
	defer s.closes.Done()
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

// Shutdown drains the server: it refuses new connections and messages,
// waits for the messages in flight to be acknowledged by the broker (a
// sender whose message failed is told), then closes every connection
// with 1001 (going away) and a reason that names the member's resume
// point ("server shutting down; resume lobby after 42"), and waits for
// their closing handshakes and their "left" events, until ctx ends.
// Last it closes the broker it started, if it started one.
func (s *server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.down = true
	s.mu.Unlock()
	drainErr := s.hub.drain(ctx)

	s.mu.Lock()
	members := make([]*member, 0, len(s.conns))
	conns := make([]*pipeline.Conn, 0, len(s.conns))
	for m, c := range s.conns {
		members = append(members, m)
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for i, c := range conns {
		reason := "server shutting down"
		if room, seq := s.hub.resumePoint(members[i]); room != "" {
			reason = fmt.Sprintf("server shutting down; resume %s after %d", room, seq)
		}
		wg.Go(func() { c.Close(pipeline.CloseGoingAway, reason) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); s.closes.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stop()
	if s.owned != nil {
		s.owned.Close()
	}
	return errors.Join(drainErr, err)
}

// checkID checks a message id's bounds.
func checkID(id string) error {
	if len(id) > maxIDLen {
		return fmt.Errorf("id: at most %d bytes", maxIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return errors.New("id: no spaces or control characters")
		}
	}
	return nil
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

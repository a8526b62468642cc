package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

// Reasons a "left" event gives.
const (
	reasonLeft    = "left"    // the member sent {"type":"leave"} or joined another room
	reasonClosed  = "closed"  // the member's connection closed with a close frame
	reasonDropped = "dropped" // the connection ended without one (TCP drop, heartbeat, bad input)
	reasonKicked  = "kicked"  // the member's send queue overflowed: too slow a reader
)

var (
	errNickTaken = errors.New("nick is taken in this room")
	errAlreadyIn = errors.New("already in this room with this nick")
	errNotJoined = errors.New("join a room first")
	errGone      = errors.New("connection is closing")
	errDraining  = errors.New("server shutting down: not sent; reconnect and resume")
)

// roomWait bounds how long a join waits for a room this node has just
// subscribed to to catch up with the room's retained history.
const roomWait = 20 * time.Second

// member is one connection's place in the hub. Its fields are guarded by
// hub.mu, but ended, which server.mu guards.
type member struct {
	ended bool // OnClose has run (server.mu)

	conn *pipeline.Conn
	room *room  // nil while in no room
	nick string // valid while room is set
	last string // the nick it last joined as, kept for logs after it left
	// seq is the last sequence number of room queued to the member (or
	// that it said it had when it resumed): deliveries at or below it are
	// skipped, so a resumed member gets no event twice.
	seq  uint64
	gone bool // the connection has ended: never join again
	// dropping is set once a failed write has scheduled the member's
	// removal, so a broadcast storm schedules it only once.
	dropping bool
}

// recent is one event in a room's replay buffer.
type recent struct {
	seq uint64
	pm  *pipeline.PreparedMessage
}

// room is the members of one room on this node, and the room's recent
// events, which resuming members are replayed from.
type room struct {
	name    string
	members map[string]*member // by nick
	cancel  func()             // the room's Broker subscription

	seq    uint64        // the last sequence number delivered here
	upto   uint64        // the broker's last sequence when subscribing
	ready  chan struct{} // closed once seq >= upto
	recent []recent      // the last history events, oldest first
	max    int           // recent's bound
}

// nicks returns the room's nicknames, sorted.
func (r *room) nicks() []string {
	out := make([]string, 0, len(r.members))
	for n := range r.members {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// first returns the sequence number of the oldest event the room can
// replay: every event from it on is in recent.
func (r *room) first() uint64 {
	if len(r.recent) > 0 {
		return r.recent[0].seq
	}
	return r.seq + 1
}

// hub keeps the rooms of this node and fans their events out to the
// members' connections.
type hub struct {
	broker  Broker
	log     *slog.Logger
	ctx     context.Context // bounds writes; ended by the server's Shutdown
	history int             // events kept per room for replay

	// change serializes membership changes together with the publication
	// of their events, so that the member lists in a room's joined/left
	// events follow each other in sequence order. It is taken before mu,
	// and never while a delivery runs.
	change sync.Mutex
	mu     sync.Mutex // guards rooms, draining and every member's fields
	rooms  map[string]*room
	// draining is set by Shutdown: no new message is published. says
	// counts the publications of messages in flight.
	draining bool
	says     sync.WaitGroup
}

func newHub(ctx context.Context, b Broker, history int, log *slog.Logger) *hub {
	return &hub{broker: b, log: log, ctx: ctx, history: history, rooms: make(map[string]*room)}
}

// join puts m into the room name as nick, leaving the room it is in first.
// If the nick is taken there, m stays where it was. With resume set, m
// first gets the room's events after seq after that this node still has
// (a gap event says which older ones are lost), then the live ones;
// without it, only events from its own joined event on.
func (h *hub) join(m *member, c *pipeline.Conn, name, nick string, resume bool, after uint64) error {
	h.change.Lock()
	defer h.change.Unlock()

	h.mu.Lock()
	if m.gone {
		h.mu.Unlock()
		return errGone
	}
	if r := h.rooms[name]; r != nil && r.members[nick] != nil {
		same := r.members[nick] == m
		h.mu.Unlock()
		if same {
			return errAlreadyIn
		}
		return errNickTaken
	}
	h.mu.Unlock()

	if resume {
		// A resume point past the room's end is a client's mistake (or a
		// room that was deleted and begun again): say so rather than wait
		// for events that may never come.
		if err := h.checkResume(name, after); err != nil {
			return err
		}
	}

	h.leaveLocked(m, reasonLeft, false)

	r, err := h.room(name)
	if err != nil {
		return err
	}
	select {
	case <-r.ready:
	case <-time.After(roomWait):
		h.endIfEmpty(r)
		return fmt.Errorf("room %s is not available now; try again", name)
	case <-h.ctx.Done():
		h.endIfEmpty(r)
		return errDraining
	}

	h.mu.Lock()
	if h.rooms[name] != r {
		h.mu.Unlock()
		return fmt.Errorf("room %s is not available now; try again", name)
	}
	m.conn, m.room, m.nick, m.last = c, r, nick, nick
	r.members[nick] = m
	members := r.nicks()
	m.seq = r.seq
	if resume {
		// Queued under mu, so no delivery comes in between: the replay
		// and the live events that follow it are in sequence order.
		m.seq = max(after, r.seq)
		if first := r.first(); after+1 < first {
			h.send(m, Event{Type: typeGap, Room: name, From: after + 1, To: first - 1})
		}
		for _, e := range r.recent {
			if e.seq > after {
				if err := c.WritePrepared(h.ctx, e.pm); err != nil {
					break // the connection is closing; OnClose removes m
				}
			}
		}
	}
	h.mu.Unlock()
	_, err = h.broker.Publish(h.ctx, Event{Type: typeJoined, Room: name, Nick: nick, Members: members}, "")
	return err
}

// checkResume refuses a resume point past the room's last event.
func (h *hub) checkResume(name string, after uint64) error {
	h.mu.Lock()
	r := h.rooms[name]
	known := r != nil && after <= r.seq
	h.mu.Unlock()
	if known || after == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(h.ctx, roomWait)
	defer cancel()
	last, err := h.broker.Last(ctx, name)
	if err != nil {
		return fmt.Errorf("room %s is not available now; try again", name)
	}
	if after > last {
		return fmt.Errorf("cannot resume room %s after %d: its last event is %d", name, after, last)
	}
	return nil
}

// room returns the room name, subscribing to it first if this node has
// no members there. Called with h.change held, so no other join or leave
// creates or ends a room meanwhile.
func (h *hub) room(name string) (*room, error) {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r != nil {
		return r, nil
	}
	r = &room{name: name, members: make(map[string]*member), ready: make(chan struct{}), max: h.history}
	// Registered before subscribing, so that the first deliveries find
	// it; subscribing happens outside mu, as deliveries take mu.
	h.mu.Lock()
	h.rooms[name] = r
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, roomWait)
	defer cancel()
	stop, upto, err := h.broker.Subscribe(ctx, name, func(seq uint64, data []byte) { h.deliver(r, seq, data) })
	h.mu.Lock()
	if err != nil {
		delete(h.rooms, name)
		h.mu.Unlock()
		h.log.Warn("cannot subscribe", "room", name, "err", err)
		return nil, fmt.Errorf("room %s is not available now; try again", name)
	}
	r.cancel = stop
	r.upto = upto
	if r.seq >= r.upto {
		closeOnce(r.ready)
	}
	h.mu.Unlock()
	return r, nil
}

// closeOnce closes ch unless it is closed. Called with h.mu held.
func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// endIfEmpty ends r's subscription if it has no members. Called with
// h.change held.
func (h *hub) endIfEmpty(r *room) {
	h.mu.Lock()
	end := len(r.members) == 0 && h.rooms[r.name] == r
	if end {
		delete(h.rooms, r.name)
	}
	h.mu.Unlock()
	if end && r.cancel != nil {
		r.cancel()
	}
}

// leave takes m out of its room, if it is in one, and tells the room why.
// final marks the connection as ended, so that a join racing with it
// cannot bring the member back.
func (h *hub) leave(m *member, reason string, final bool) {
	h.change.Lock()
	defer h.change.Unlock()
	h.leaveLocked(m, reason, final)
}

// leaveLocked is leave with h.change held.
func (h *hub) leaveLocked(m *member, reason string, final bool) {
	h.mu.Lock()
	if final {
		m.gone = true
	}
	r := m.room
	if r == nil {
		h.mu.Unlock()
		return
	}
	nick := m.nick
	delete(r.members, nick)
	m.room, m.nick = nil, ""
	members := r.nicks()
	h.mu.Unlock()

	// Members on other nodes are told even when none is left here.
	ctx, cancel := context.WithTimeout(context.Background(), roomWait)
	defer cancel()
	if _, err := h.broker.Publish(ctx, Event{Type: typeLeft, Room: r.name, Nick: nick, Members: members, Reason: reason}, ""); err != nil {
		h.log.Warn("cannot publish", "room", r.name, "err", err)
	}
	h.endIfEmpty(r)
}

// say publishes text to m's room as m's nick. A non-empty id makes it
// idempotent: the client may send it again after an error or a
// reconnection, and the room gets it once.
func (h *hub) say(m *member, text, id string) error {
	h.mu.Lock()
	r, nick := m.room, m.nick
	if h.draining {
		h.mu.Unlock()
		return errDraining
	}
	if r == nil {
		h.mu.Unlock()
		return errNotJoined
	}
	h.says.Add(1)
	h.mu.Unlock()
	defer h.says.Done()
	msgID := ""
	if id != "" {
		msgID = nick + ":" + id // ':' is in no nick
	}
	_, err := h.broker.Publish(context.Background(), Event{Type: typeMessage, Room: r.name, Nick: nick, Text: text, ID: id}, msgID)
	if err != nil {
		h.log.Warn("cannot publish", "room", r.name, "err", err)
		return fmt.Errorf("not sent (%v); send it again", err)
	}
	return nil
}

// drain stops new messages and waits for those in flight to be
// acknowledged by the broker (or to fail, which their senders are told),
// until ctx ends.
func (h *hub) drain(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.says.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resumePoint returns m's room and the last sequence number queued to
// it, for the close reason that tells it where to resume.
func (h *hub) resumePoint(m *member) (string, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.room == nil {
		return "", 0
	}
	return m.room.name, m.seq
}

// deliver is the node's subscription to room r: it gives the event its
// sequence number, keeps it for replays, and queues the same frame on
// every member's connection here that has not had it. Queueing never
// waits for a peer, so one slow member cannot hold the room up; a member
// whose queue overflowed has been closed by its connection (1008,
// Options.Overflow = OverflowClose) and is removed from the room at once,
// without waiting for its connection to finish closing.
func (h *hub) deliver(r *room, seq uint64, data []byte) {
	// data is the event's JSON object without seq: {"type":...}.
	if len(data) < 3 || data[0] != '{' || data[1] == '}' {
		h.log.Warn("skipping a malformed event", "room", r.name, "seq", seq)
		return
	}
	payload := make([]byte, 0, len(data)+28)
	payload = append(payload, `{"seq":`...)
	payload = strconv.AppendUint(payload, seq, 10)
	payload = append(payload, ',')
	payload = append(payload, data[1:]...)
	pm := pipeline.NewPreparedMessage(pipeline.Text, payload)

	h.mu.Lock()
	if h.rooms[r.name] != r || seq <= r.seq {
		h.mu.Unlock()
		return // an ended room, or a repeat after the broker reconnected
	}
	r.seq = seq
	if len(r.recent) == r.max {
		copy(r.recent, r.recent[1:])
		r.recent = r.recent[:len(r.recent)-1]
	}
	r.recent = append(r.recent, recent{seq, pm})
	if seq >= r.upto && r.cancel != nil {
		closeOnce(r.ready)
	}
	members := make([]*member, 0, len(r.members))
	for _, m := range r.members {
		if m.seq < seq {
			m.seq = seq
			members = append(members, m)
		}
	}
	h.mu.Unlock()

	for _, m := range members {
		if err := m.conn.WritePrepared(h.ctx, pm); err != nil {
			h.drop(m, err)
		}
	}
}

// send queues ev for m alone. Called with h.mu held.
func (h *hub) send(m *member, ev Event) {
	data, _ := json.Marshal(ev)
	if err := m.conn.WriteMessage(h.ctx, pipeline.Text, data); err != nil {
		h.log.Debug("cannot send", "nick", m.last, "err", err)
	}
}

// drop removes a member whose write failed. It runs the removal on a
// goroutine of its own because deliver runs inside the room's
// subscription, and the removal publishes the member's "left" event.
func (h *hub) drop(m *member, err error) {
	h.mu.Lock()
	already := m.dropping
	m.dropping = true
	nick := m.last
	h.mu.Unlock()
	if already {
		return
	}
	reason := reasonDropped
	if errors.Is(err, pipeline.ErrQueueFull) {
		reason = reasonKicked
		h.log.Info("kicked a slow member", "nick", nick, "err", err)
	}
	go h.leave(m, reason, true)
}

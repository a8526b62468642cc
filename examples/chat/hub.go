package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"

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
)

// member is one connection's place in the hub. Its fields are guarded by
// hub.mu, but ended, which server.mu guards.
type member struct {
	ended bool // OnClose has run (server.mu)

	conn *pipeline.Conn
	room *room  // nil while in no room
	nick string // valid while room is set
	last string // the nick it last joined as, kept for logs after it left
	gone bool   // the connection has ended: never join again
	// dropping is set once a failed write has scheduled the member's
	// removal, so a broadcast storm schedules it only once.
	dropping bool
}

// room is the members of one room on this node.
type room struct {
	name    string
	members map[string]*member // by nick
	cancel  func()             // the room's Broker subscription
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

// hub keeps the rooms of this node and fans their events out to the
// members' connections.
type hub struct {
	broker Broker
	log    *slog.Logger
	ctx    context.Context // bounds writes; ended by the server's Shutdown

	// change serializes membership changes together with the publication
	// of their events, so that the member lists in a room's joined/left
	// events follow each other in sequence order. It is taken before mu,
	// and never while a delivery runs.
	change sync.Mutex
	mu     sync.Mutex // guards rooms and every member's fields
	rooms  map[string]*room
}

func newHub(ctx context.Context, b Broker, log *slog.Logger) *hub {
	return &hub{broker: b, log: log, ctx: ctx, rooms: make(map[string]*room)}
}

// join puts m into the room name as nick, leaving the room it is in first.
// If the nick is taken there, m stays where it was.
func (h *hub) join(m *member, c *pipeline.Conn, name, nick string) error {
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

	h.leaveLocked(m, reasonLeft, false)

	// Looked up again: leaving may have ended the room (m was its last
	// member). Nothing else changes rooms while h.change is held.
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r == nil {
		// Subscribe outside mu: the broker delivers under its own locks,
		// and deliveries take mu.
		r = &room{name: name, members: make(map[string]*member)}
		cancel, err := h.broker.Subscribe(name, func(ev Event) { h.deliver(name, ev) })
		if err != nil {
			return err
		}
		r.cancel = cancel
		h.mu.Lock()
		h.rooms[name] = r
		h.mu.Unlock()
	}

	h.mu.Lock()
	m.conn, m.room, m.nick, m.last = c, r, nick, nick
	r.members[nick] = m
	members := r.nicks()
	h.mu.Unlock()
	return h.broker.Publish(Event{Type: typeJoined, Room: name, Nick: nick, Members: members})
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
	var cancel func()
	if len(r.members) == 0 {
		// Nobody is left to tell: end the room.
		delete(h.rooms, r.name)
		cancel = r.cancel
	}
	h.mu.Unlock()

	if cancel != nil {
		cancel()
		return
	}
	if err := h.broker.Publish(Event{Type: typeLeft, Room: r.name, Nick: nick, Members: members, Reason: reason}); err != nil {
		h.log.Warn("cannot publish", "room", r.name, "err", err)
	}
}

// say publishes text to m's room as m's nick.
func (h *hub) say(m *member, text string) error {
	h.mu.Lock()
	r, nick := m.room, m.nick
	h.mu.Unlock()
	if r == nil {
		return errNotJoined
	}
	return h.broker.Publish(Event{Type: typeMessage, Room: r.name, Nick: nick, Text: text})
}

// deliver is the node's subscription to a room: it encodes ev once and
// queues the same frame on every member's connection here. Queueing
// never waits for a peer, so one slow member cannot hold the room up; a
// member whose queue overflowed has been closed by its connection (1008,
// Options.Overflow = OverflowClose) and is removed from the room at once,
// without waiting for its connection to finish closing.
func (h *hub) deliver(name string, ev Event) {
	payload, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("cannot encode event", "err", err)
		return
	}
	pm := pipeline.NewPreparedMessage(pipeline.Text, payload)

	h.mu.Lock()
	r := h.rooms[name]
	if r == nil {
		h.mu.Unlock()
		return
	}
	members := make([]*member, 0, len(r.members))
	conns := make([]*pipeline.Conn, 0, len(r.members))
	for _, m := range r.members {
		members = append(members, m)
		conns = append(conns, m.conn)
	}
	h.mu.Unlock()

	for i, c := range conns {
		if err := c.WritePrepared(h.ctx, pm); err != nil {
			h.drop(members[i], err)
		}
	}
}

// drop removes a member whose write failed. It runs the removal on a
// goroutine of its own because deliver runs inside a publication, and the
// removal publishes the member's "left" event.
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

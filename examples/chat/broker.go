package main

import "context"

// Broker carries rooms' events between chat nodes and keeps each room's
// recent history. Every event of a room gets the room's next sequence
// number, and every subscriber, on any node, sees a room's events in
// that order. The hub talks to rooms only through it; natsBroker, over
// NATS JetStream, is the one this example runs with, whether its NATS
// server is embedded (one process) or a cluster (many chat nodes).
//
// A node subscribes once per room it has members in and fans each event
// out to its own members itself, so an event is encoded once per node,
// not once per member.
type Broker interface {
	// Publish appends ev (whose Seq is ignored) to ev.Room's log and
	// returns the sequence number it got. A non-empty id makes the
	// publication idempotent: publishing an id the room has already seen
	// within the broker's deduplication window stores nothing new and
	// returns the first publication's number. An error means the event may
	// or may not have been stored; publishing it again with the same id
	// settles it.
	Publish(ctx context.Context, ev Event, id string) (seq uint64, err error)
	// Subscribe calls deliver, one call at a time, with each of room's
	// events in sequence order: first those the broker still retains
	// (at most its history bound), then every new one, until cancel is
	// called. data is the event's JSON object without its seq. upto is
	// the room's last sequence number when Subscribe was called (0 for a
	// room without retained events): once deliver has seen it, the
	// subscriber has caught up with the retained history. A delivery may
	// repeat a sequence number already delivered (after a reconnection to
	// the broker): the subscriber skips those.
	Subscribe(ctx context.Context, room string, deliver func(seq uint64, data []byte)) (cancel func(), upto uint64, err error)
	// Last returns room's last sequence number, 0 if it has none.
	Last(ctx context.Context, room string) (uint64, error)
}

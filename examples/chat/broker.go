package main

import "sync"

// Broker carries a room's events to every node that has members in the
// room. The hub talks to rooms only through it, so that a broker over a
// message bus (NATS, say) can later spread a room over several servers;
// memBroker is the in-process one this example runs with.
//
// A node subscribes once per room it has members in and fans each event
// out to its own members itself, so an event is encoded once per node, not
// once per member.
type Broker interface {
	// Publish stamps ev with the next sequence number of ev.Room and
	// delivers it to every current subscriber of that room. All
	// subscribers see a room's events in the same order, the order of
	// their sequence numbers.
	Publish(ev Event) error
	// Subscribe calls deliver for every event published to room from now
	// on, one at a time, until cancel is called; cancel returns once no
	// delivery to it is running. deliver must not call Publish.
	Subscribe(room string, deliver func(Event)) (cancel func(), err error)
}

// memBroker is a Broker within one process. Publish delivers to the
// subscribers synchronously, under the room's lock, which is what orders
// a room's events; a subscriber must therefore not block (the hub only
// queues frames, which never waits for a peer).
type memBroker struct {
	mu     sync.Mutex // guards topics; taken before a topic's mu
	topics map[string]*topic
}

// topic is one room's subscribers and sequence counter.
type topic struct {
	mu   sync.Mutex // held for a whole publication
	seq  uint64
	subs map[*subscription]struct{}
}

type subscription struct{ deliver func(Event) }

func newMemBroker() *memBroker {
	return &memBroker{topics: make(map[string]*topic)}
}

// Publish implements Broker. An event for a room nobody subscribes to is
// dropped.
func (b *memBroker) Publish(ev Event) error {
	b.mu.Lock()
	t := b.topics[ev.Room]
	b.mu.Unlock()
	if t == nil {
		return nil
	}
	// The topic may have lost its last subscriber meanwhile; publishing to
	// it then reaches nobody, as it should.
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	ev.Seq = t.seq
	for s := range t.subs {
		s.deliver(ev)
	}
	return nil
}

// Subscribe implements Broker. A room's topic, with its sequence numbers,
// lives while it has subscribers; a room that empties starts again at 1.
func (b *memBroker) Subscribe(room string, deliver func(Event)) (func(), error) {
	s := &subscription{deliver: deliver}
	b.mu.Lock()
	t := b.topics[room]
	if t == nil {
		t = &topic{subs: make(map[*subscription]struct{})}
		b.topics[room] = t
	}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	b.mu.Unlock()

	var once sync.Once
	cancel := func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			t.mu.Lock() // waits for a publication in progress
			defer t.mu.Unlock()
			delete(t.subs, s)
			if len(t.subs) == 0 && b.topics[room] == t {
				delete(b.topics, room)
			}
		})
	}
	return cancel, nil
}

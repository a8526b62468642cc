package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of a room's retained history. They stay within a member's
// default send queue (256 frames, 1 MiB), so that replaying the whole
// history to a resuming member never overflows it.
const (
	defaultHistory      = 200
	defaultHistoryBytes = 512 << 10
)

// natsConfig configures a natsBroker.
type natsConfig struct {
	// URLs is a comma-separated list of NATS server URLs to connect to;
	// empty means an embedded server in this process.
	URLs string
	// Dir is where the embedded server keeps its JetStream files; empty
	// means a temporary directory, removed by Close.
	Dir string
	// Replicas is how many copies of each room's stream the cluster
	// keeps; zero means 3 when the server is part of a cluster of three
	// or more, 1 otherwise.
	Replicas int
	// History and HistoryBytes bound the events a room retains (and so
	// how far back a member can resume); zero means the defaults.
	History      int
	HistoryBytes int64
	// PublishTimeout bounds one Publish, retries included; zero means 15s,
	// enough for a three-node cluster to elect a new stream leader after
	// losing a server.
	PublishTimeout time.Duration
	// Logger gets connection events; nil means slog.Default().
	Logger *slog.Logger
}

// natsBroker is a Broker over NATS JetStream. Each room is a stream of
// its own, named "CHAT_<room>" on the subject "chat.room.<room>", so a
// room's stream sequence is the room's event number: consecutive, in one
// order for every node. The stream keeps the room's last History events
// (and HistoryBytes), which is the history members resume from, and
// deduplicates publications by message id. A node reads a room through an
// ordered consumer, which the client library recreates from the last
// sequence it delivered when the NATS server it used goes away.
type natsBroker struct {
	cfg  natsConfig
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	ns   *natsserver.Server // the embedded server, or nil
	temp string             // the embedded server's temporary directory, or ""
	node string             // a random id of this broker, for message ids
	ids  atomic.Uint64      // the last generated message id's counter

	mu      sync.Mutex
	streams map[string]bool // rooms whose stream is known to exist
}

// newNATSBroker connects to the NATS servers in cfg.URLs, or starts an
// embedded one if there are none.
func newNATSBroker(cfg natsConfig) (*natsBroker, error) {
	if cfg.History <= 0 {
		cfg.History = defaultHistory
	}
	if cfg.HistoryBytes <= 0 {
		cfg.HistoryBytes = defaultHistoryBytes
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 15 * time.Second
	}
	b := &natsBroker{cfg: cfg, log: cfg.Logger, streams: make(map[string]bool)}
	if b.log == nil {
		b.log = slog.Default()
	}
	var id [6]byte
	rand.Read(id[:])
	b.node = hex.EncodeToString(id[:])

	opts := []nats.Option{
		nats.Name("wspipe-chat-" + b.node),
		nats.MaxReconnects(-1), // a cluster that loses a server is reconnected to, however long it takes
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("NATS disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	}
	url := cfg.URLs
	if url == "" {
		ns, err := b.startEmbedded()
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connecting to NATS: %w", err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		b.Close()
		return nil, err
	}
	if b.cfg.Replicas <= 0 {
		b.cfg.Replicas = 1
		if nc.ConnectedClusterName() != "" && len(nc.Servers()) >= 3 {
			b.cfg.Replicas = 3
		}
	}
	return b, nil
}

// startEmbedded starts a NATS server with JetStream in this process. It
// listens on no port: the broker reaches it in process.
func (b *natsBroker) startEmbedded() (*natsserver.Server, error) {
	dir := b.cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "wspipe-chat-nats-"); err != nil {
			return nil, err
		}
		b.temp = dir
	}
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "chat-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	b.ns = ns
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		return nil, errors.New("embedded NATS server: not ready after 30s")
	}
	return ns, nil
}

// Replicas returns how many copies of each room's stream are kept.
func (b *natsBroker) Replicas() int { return b.cfg.Replicas }

// Close drains the NATS connection and stops the embedded server.
func (b *natsBroker) Close() error {
	var err error
	if b.nc != nil {
		closed := make(chan struct{})
		b.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if err = b.nc.Drain(); err == nil {
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				b.nc.Close()
			}
		} else {
			b.nc.Close()
		}
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
	if b.temp != "" {
		os.RemoveAll(b.temp)
	}
	return err
}

func streamName(room string) string { return "CHAT_" + room }
func subject(room string) string    { return "chat.room." + room }

// ensureStream creates room's stream unless it is known to exist. Two
// nodes creating it at once both succeed, and one created with another
// configuration (another node's flags) is used as it is.
func (b *natsBroker) ensureStream(ctx context.Context, room string) error {
	b.mu.Lock()
	known := b.streams[room]
	b.mu.Unlock()
	if known {
		return nil
	}
	_, err := b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        streamName(room),
		Description: "wspipe chat room " + room,
		Subjects:    []string{subject(room)},
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     int64(b.cfg.History),
		MaxBytes:    b.cfg.HistoryBytes,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		// Another node may have created it a moment before: the server
		// then answers "name already in use" or, racing, "subjects
		// overlap". Whichever, a stream that exists will do.
		if _, serr := b.js.Stream(ctx, streamName(room)); serr == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("room %s: stream: %w", room, err)
	}
	b.mu.Lock()
	b.streams[room] = true
	b.mu.Unlock()
	return nil
}

// Publish implements Broker. It retries until the room's stream
// acknowledges or PublishTimeout passes, with the same message id each
// time, so a publication whose acknowledgment was lost (a server died, a
// leader moved) is stored once.
func (b *natsBroker) Publish(ctx context.Context, ev Event, id string) (uint64, error) {
	ev.Seq = 0
	data, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	if id == "" {
		id = b.node + "-" + strconv.FormatUint(b.ids.Add(1), 36)
	}
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = b.ensureStream(ctx, ev.Room)
		if err == nil {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			var ack *jetstream.PubAck
			ack, err = b.js.Publish(actx, subject(ev.Room), data,
				jetstream.WithMsgID(id), jetstream.WithExpectStream(streamName(ev.Room)))
			acancel()
			if err == nil {
				return ack.Sequence, nil
			}
			if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
				// Deleted behind our back, or not there yet.
				b.mu.Lock()
				delete(b.streams, ev.Room)
				b.mu.Unlock()
			}
			if errors.Is(err, nats.ErrMaxPayload) {
				return 0, err
			}
		}
		b.log.Debug("publish failed; retrying", "room", ev.Room, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("publish to room %s: %w (after %d attempts)", ev.Room, err, attempt)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// Subscribe implements Broker with an ordered consumer that starts at the
// first retained event. A watchdog makes sure it never stays stuck: when
// nothing has been delivered for a few seconds and the stream holds
// events past the last one delivered (an ordered consumer that the client
// library failed to recreate after a NATS server was lost), it replaces
// the consumer with one starting after the last delivered event.
func (b *natsBroker) Subscribe(ctx context.Context, room string, deliver func(uint64, []byte)) (func(), uint64, error) {
	if err := b.ensureStream(ctx, room); err != nil {
		return nil, 0, err
	}
	s, err := b.js.Stream(ctx, streamName(room))
	if err != nil {
		return nil, 0, fmt.Errorf("room %s: %w", room, err)
	}
	st := s.CachedInfo().State
	start, upto := st.FirstSeq, st.LastSeq
	if st.Msgs == 0 {
		start, upto = st.LastSeq+1, 0
	}
	if start == 0 {
		start = 1
	}
	var (
		mu     sync.Mutex // serializes deliveries; guards last and when
		last   = start - 1
		when   = time.Now()
		serial int // the current consumer's; deliveries of older ones are dropped
	)
	consume := func(ctx context.Context, from uint64) (jetstream.ConsumeContext, error) {
		mu.Lock()
		serial++
		mine := serial
		mu.Unlock()
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:   from,
		})
		if err != nil {
			return nil, fmt.Errorf("room %s: consumer: %w", room, err)
		}
		return cons.Consume(func(msg jetstream.Msg) {
			md, err := msg.Metadata()
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if mine != serial || md.Sequence.Stream <= last {
				return
			}
			last, when = md.Sequence.Stream, time.Now()
			deliver(md.Sequence.Stream, msg.Data())
		},
			// Heartbeats every second: a consumer lost with a NATS
			// server is noticed, and recreated elsewhere, within seconds.
			jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				b.log.Debug("room consumer", "room", room, "err", err)
			}))
	}
	cc, err := consume(ctx, start)
	if err != nil {
		return nil, 0, fmt.Errorf("room %s: consume: %w", room, err)
	}

	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // the watchdog
		defer close(watched)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				cc.Stop()
				return
			case <-tick.C:
			}
			mu.Lock()
			idle, from := time.Since(when) > 3*time.Second, last+1
			mu.Unlock()
			if !idle {
				continue
			}
			lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			end, err := b.Last(lctx, room)
			if err != nil || end < from {
				cancel()
				continue
			}
			b.log.Warn("room consumer stuck; replacing it", "room", room, "from", from, "last", end)
			cc.Stop()
			if ncc, err := consume(lctx, from); err == nil {
				cc = ncc
			} else {
				b.log.Warn("cannot replace the room consumer", "room", room, "err", err)
			}
			cancel()
			mu.Lock()
			when = time.Now() // give the new one time
			mu.Unlock()
		}
	}()
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			close(stop)
			<-watched
		})
	}
	return cancel, upto, nil
}

// Last implements Broker.
func (b *natsBroker) Last(ctx context.Context, room string) (uint64, error) {
	s, err := b.js.Stream(ctx, streamName(room))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.LastSeq, nil
}

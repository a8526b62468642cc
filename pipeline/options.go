package pipeline

import (
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wspipe/wspipe/layers"
)

// MessageType is a data message's type.
type MessageType int

// The two data message types.
const (
	Text   = MessageType(layers.OpText)
	Binary = MessageType(layers.OpBinary)
)

// String returns "text" or "binary".
func (t MessageType) String() string { return layers.Opcode(t).String() }

// OverflowPolicy says what a write does when the send queue is full.
type OverflowPolicy int

// The overflow policies.
const (
	// OverflowBlock waits for room, or for the write's context to end.
	OverflowBlock OverflowPolicy = iota
	// OverflowError fails the write with ErrQueueFull; the connection stays up.
	OverflowError
	// OverflowClose fails the connection with 1008 (policy violation,
	// "send queue full"): the close frame goes ahead of the queue if the
	// socket takes it within 100 ms, and the connection is torn down then,
	// without waiting for the peer. The write that overflowed returns the
	// connection's *CloseError, which matches ErrQueueFull and ErrClosed.
	OverflowClose
	// OverflowTryAgainLater is OverflowClose with 1013 (try again later).
	OverflowTryAgainLater
)

// Defaults for the zero Options.
const (
	DefaultMaxMessageSize  = 32 << 20
	DefaultSendQueue       = 64
	DefaultSendQueueBytes  = 4 << 20
	DefaultCloseTimeout    = 5 * time.Second
	DefaultWriteBufferSize = 8 << 10
	DefaultReadBufferSize  = 4 << 10
)

// Options configures a Conn. The zero value gives the defaults.
type Options struct {
	// MaxMessageSize bounds a received message's payload. Zero means
	// DefaultMaxMessageSize, negative means no limit (for streaming). A
	// bigger message closes the connection with 1009.
	MaxMessageSize int64
	// MaxFrameSize, if positive, bounds a single received frame's payload.
	MaxFrameSize int64
	// SendQueue is how many data frames may wait to be written; zero means
	// DefaultSendQueue. Overflow says what happens beyond it.
	SendQueue int
	// SendQueueBytes bounds the bytes of the data frames waiting to be
	// written; zero means DefaultSendQueueBytes, negative no bound. A
	// frame larger than the bound is still queued when the queue is empty.
	// Overflow says what happens beyond it, as for SendQueue.
	SendQueueBytes int
	// Overflow is the policy for a full send queue.
	Overflow OverflowPolicy
	// CloseTimeout bounds how long the closing handshake waits for the
	// peer; zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// PingInterval, if positive, turns on the heartbeat: a ping after each
	// interval without one, and the connection fails (1008 "ping timeout",
	// with ErrPeerTimeout as the cause) if no pong comes within PongTimeout
	// (PingInterval if zero). Pongs are read with the messages, so while
	// the application holds a message outside a read of it, or does not
	// take the next one, the peer is not judged (a write-only application
	// uses CloseRead); a peer that stalls mid-message, while the
	// application waits in a read, is.
	PingInterval time.Duration
	// PongTimeout is how long the heartbeat waits for a pong.
	PongTimeout time.Duration
	// WriteBufferSize is the payload size of an outgoing frame built from
	// small writes; zero means DefaultWriteBufferSize.
	WriteBufferSize int
	// ReadBufferSize is the size of the read buffer; zero means
	// DefaultReadBufferSize, and sizes above 1 GiB are taken as 1 GiB.
	ReadBufferSize int
	// Layers, if set, is called once per connection for the custom layers
	// its messages pass through, innermost first.
	Layers func() []Layer
	// OnMessage, if set, puts the connection in push mode: the reader
	// goroutine calls it for each message, in order, instead of handing
	// messages to NextReader (which then fails with ErrPushMode). The
	// message is r, valid until OnMessage returns; what it leaves unread is
	// skipped. No goroutine of the application waits on the connection, so
	// an upgrading HTTP handler can return at once: the lightest way to hold
	// many connections. A non-nil error closes the connection with 1011.
	// Work the handler starts on the connection's behalf can use
	// c.Context(), cancelled when the connection ends. While the handler
	// runs, nothing else reads the socket, so the heartbeat waits for it.
	OnMessage func(c *Conn, typ MessageType, r io.Reader) error
	// Compression, if set, offers (Dial) or accepts (Accept) the
	// permessage-deflate extension.
	Compression *Compression
	// OnClose, if set, is called once, from the reader goroutine, when the
	// connection's reading ends, with the *CloseError that says how it
	// ended (the one Err returns). After a send queue overflow or a
	// heartbeat timeout that is within about 100 ms, not when the peer next
	// reads.
	OnClose func(c *Conn, err error)
}

// setDefaults sets v to o (or the zero Options) with defaults filled in,
// in place: resolveOptions uses it on the shared copy it makes.
func (v *Options) setDefaults(o *Options) {
	if o != nil {
		*v = *o
	}
	if v.MaxMessageSize == 0 {
		v.MaxMessageSize = DefaultMaxMessageSize
	}
	if v.SendQueue <= 0 {
		v.SendQueue = DefaultSendQueue
	}
	if v.SendQueueBytes == 0 {
		v.SendQueueBytes = DefaultSendQueueBytes
	}
	if v.CloseTimeout <= 0 {
		v.CloseTimeout = DefaultCloseTimeout
	}
	if v.PingInterval > 0 && v.PongTimeout <= 0 {
		v.PongTimeout = v.PingInterval
	}
	if v.WriteBufferSize <= 0 {
		v.WriteBufferSize = DefaultWriteBufferSize
	}
	if v.ReadBufferSize < 64 {
		v.ReadBufferSize = DefaultReadBufferSize
	}
	v.ReadBufferSize = min(v.ReadBufferSize, 1<<30) // connReader keeps it in an int32
}

// resolved is the last Options a connection was made with and its copy
// with defaults filled in, which connections made with equal Options
// share: a server passes the same Options for every connection, and a
// copy in each Conn would be 112 bytes of every idle connection. One
// entry, so it holds on to at most one set of the application's
// callbacks.
var resolved atomic.Pointer[resolvedOptions]

type resolvedOptions struct {
	src Options  // as given
	res *Options // with defaults; never changed once made
}

// defaultOptions are the defaults, for a nil *Options.
var defaultOptions = func() *Options {
	o := new(Options)
	o.setDefaults(nil)
	return o
}()

// resolveOptions returns o with defaults filled in, shared with earlier
// connections whose Options were equal.
func resolveOptions(o *Options) *Options {
	if o == nil {
		return defaultOptions
	}
	if r := resolved.Load(); r != nil && r.src.equal(o) {
		return r.res
	}
	res := new(Options)
	res.setDefaults(o)
	resolved.Store(&resolvedOptions{src: *o, res: res})
	return res
}

// equal reports whether v and o are the same Options: every field equal,
// the callbacks the very same func values (not only the same code).
func (v *Options) equal(o *Options) bool {
	return v.MaxMessageSize == o.MaxMessageSize &&
		v.MaxFrameSize == o.MaxFrameSize &&
		v.SendQueue == o.SendQueue &&
		v.SendQueueBytes == o.SendQueueBytes &&
		v.Overflow == o.Overflow &&
		v.CloseTimeout == o.CloseTimeout &&
		v.PingInterval == o.PingInterval &&
		v.PongTimeout == o.PongTimeout &&
		v.WriteBufferSize == o.WriteBufferSize &&
		v.ReadBufferSize == o.ReadBufferSize &&
		sameFunc(v.Layers, o.Layers) &&
		sameFunc(v.OnMessage, o.OnMessage) &&
		v.Compression == o.Compression &&
		sameFunc(v.OnClose, o.OnClose)
}

// sameFunc reports whether a and b are the same func value: both nil, or
// the same closure (a func value is a pointer to its closure record).
func sameFunc[F any](a, b F) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

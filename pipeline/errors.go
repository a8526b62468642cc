package pipeline

import (
	"errors"
	"strings"

	"github.com/wspipe/wspipe/layers"
)

// CloseCode is a close frame's status code.
type CloseCode = layers.CloseCode

// Common close codes, for Close.
const (
	CloseNormal          = layers.CloseNormal
	CloseGoingAway       = layers.CloseGoingAway
	CloseProtocolError   = layers.CloseProtocolError
	CloseUnsupportedData = layers.CloseUnsupportedData
	CloseInvalidPayload  = layers.CloseInvalidPayload
	ClosePolicyViolation = layers.ClosePolicyViolation
	CloseMessageTooBig   = layers.CloseMessageTooBig
	CloseInternalError   = layers.CloseInternalError
	CloseTryAgainLater   = layers.CloseTryAgainLater
)

// Errors a Conn returns. Errors from the peer's bad input also match
// layers.ErrProtocol, layers.ErrInvalidUTF8 or layers.ErrTooBig, which are
// re-exported here.
var (
	// ErrClosed is returned for use of a connection after it closed.
	ErrClosed = errors.New("websocket: connection closed")
	// ErrQueueFull is returned by writes under OverflowError when the send
	// queue is full.
	ErrQueueFull = errors.New("websocket: send queue full")
	// ErrPushMode is returned by NextReader and ReadMessage on a connection
	// whose messages go to Options.OnMessage.
	ErrPushMode = errors.New("websocket: connection is in push mode (Options.OnMessage)")
	// ErrPeerTimeout is the error of a connection dropped by the heartbeat.
	ErrPeerTimeout = errors.New("websocket: no pong from peer")
	// ErrProtocol matches protocol violations by the peer (close 1002).
	ErrProtocol = layers.ErrProtocol
	// ErrInvalidUTF8 matches invalid text from the peer (close 1007).
	ErrInvalidUTF8 = layers.ErrInvalidUTF8
	// ErrTooBig matches messages over MaxMessageSize (close 1009).
	ErrTooBig = layers.ErrTooBig
)

// CloseError is the error a read returns after the peer closed the
// connection: the code and reason of its close frame. It matches ErrClosed.
type CloseError struct {
	Code   CloseCode
	Reason string
}

// Error describes the close.
func (e *CloseError) Error() string {
	var b strings.Builder
	b.WriteString("websocket: closed by peer: ")
	b.WriteString(e.Code.String())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrClosed) true for a CloseError.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

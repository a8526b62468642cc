package pipeline

import (
	"errors"
	"strings"

	"github.com/wspipe/wspipe/layers"
)

// CloseCode is a close frame's status code (RFC 6455 section 7.4).
type CloseCode = layers.CloseCode

// Close codes, for Close and for reading a CloseError. CloseNoStatus,
// CloseAbnormal and CloseTLSHandshake are never sent: they describe a
// close frame without a code, a connection that ended without a close
// frame, and a failed TLS handshake.
const (
	CloseNormal          = layers.CloseNormal
	CloseGoingAway       = layers.CloseGoingAway
	CloseProtocolError   = layers.CloseProtocolError
	CloseUnsupportedData = layers.CloseUnsupportedData
	CloseNoStatus        = layers.CloseNoStatus
	CloseAbnormal        = layers.CloseAbnormal
	CloseInvalidPayload  = layers.CloseInvalidPayload
	ClosePolicyViolation = layers.ClosePolicyViolation
	CloseMessageTooBig   = layers.CloseMessageTooBig
	CloseMandatoryExt    = layers.CloseMandatoryExt
	CloseInternalError   = layers.CloseInternalError
	CloseServiceRestart  = layers.CloseServiceRestart
	CloseTryAgainLater   = layers.CloseTryAgainLater
	CloseBadGateway      = layers.CloseBadGateway
	CloseTLSHandshake    = layers.CloseTLSHandshake
)

// CloseNone is what CloseStatus returns for an error that does not come
// from a connection's end. No close frame carries it.
const CloseNone CloseCode = 0

// Errors a Conn returns. Errors from the peer's bad input also match
// layers.ErrProtocol, layers.ErrInvalidUTF8 or layers.ErrTooBig, which are
// re-exported here.
var (
	// ErrClosed matches every error that reports a connection's end: each
	// is a *CloseError, which says how it ended.
	ErrClosed = errors.New("websocket: connection closed")
	// ErrQueueFull is returned by writes under OverflowError when the send
	// queue is full; under OverflowClose and OverflowTryAgainLater it is
	// the cause (CloseError.Err) of the connection's end.
	ErrQueueFull = errors.New("websocket: send queue full")
	// ErrPushMode is returned by NextReader and ReadMessage on a connection
	// whose messages go to Options.OnMessage.
	ErrPushMode = errors.New("websocket: connection is in push mode (Options.OnMessage)")
	// ErrPeerTimeout is the cause (CloseError.Err) of a connection dropped
	// by the heartbeat: no pong came within PongTimeout.
	ErrPeerTimeout = errors.New("websocket: no pong from peer")
	// ErrClosedNow is the cause (CloseError.Err) of a connection ended by
	// CloseNow.
	ErrClosedNow = errors.New("websocket: closed by CloseNow, without a closing handshake")
	// ErrProtocol matches protocol violations by the peer (close 1002).
	ErrProtocol = layers.ErrProtocol
	// ErrInvalidUTF8 matches invalid text from the peer (close 1007).
	ErrInvalidUTF8 = layers.ErrInvalidUTF8
	// ErrTooBig matches messages over MaxMessageSize (close 1009).
	ErrTooBig = layers.ErrTooBig
)

// CloseError says how a connection ended. Every call that fails because
// the connection has ended (ReadMessage, NextReader, NextWriter,
// WriteMessage, WritePrepared, Ping, Wait, Err, and OnClose's argument)
// reports the same *CloseError, and it matches ErrClosed. The first end
// wins: after our Close, the peer's answering close frame does not
// replace it.
//
//   - The peer closed: Remote is true, Code and Reason are its close
//     frame's (CloseNoStatus if it had no code).
//   - We closed: Remote is false, Code and Reason are those of the close
//     frame we sent. Err is nil after Close or CloseSend, and otherwise
//     the cause: the peer's bad input (matching ErrProtocol,
//     ErrInvalidUTF8 or ErrTooBig), ErrQueueFull for a send queue
//     overflow, ErrPeerTimeout for the heartbeat, or OnMessage's error.
//   - The transport ended without a close frame: Code is CloseAbnormal
//     (1006) and Err is the I/O error (io.ErrUnexpectedEOF when the peer
//     just went away).
type CloseError struct {
	Code   CloseCode
	Reason string
	// Remote reports that the peer's close frame ended the connection.
	Remote bool
	// Err is the cause underneath, if any; Unwrap returns it.
	Err error
}

// Error describes the close: who closed, the code and the reason.
func (e *CloseError) Error() string {
	var b strings.Builder
	switch {
	case e.Remote:
		b.WriteString("websocket: closed by peer: ")
	case e.Code == CloseAbnormal:
		b.WriteString("websocket: connection ended without a close frame: ")
	default:
		b.WriteString("websocket: closed by us: ")
	}
	b.WriteString(e.Code.String())
	cause := ""
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "websocket: ")
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if cause != "" && cause != e.Reason {
		b.WriteString(": ")
		b.WriteString(cause)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrClosed) true for a CloseError.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the cause underneath the close, if any.
func (e *CloseError) Unwrap() error { return e.Err }

// CloseStatus returns the close code of the connection's end behind err
// (the Code of the *CloseError in its chain), or CloseNone if err is not
// about a connection's end. As with coder/websocket's CloseStatus, a
// switch on it tells a normal end from the rest:
//
//	switch pipeline.CloseStatus(err) {
//	case pipeline.CloseNormal, pipeline.CloseGoingAway: // expected
//	case pipeline.CloseNone: // not a close: a context, a bad argument, ...
//	default: // log it
//	}
func CloseStatus(err error) CloseCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return CloseNone
}

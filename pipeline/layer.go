package pipeline

import "io"

// Layer is a custom layer a Conn plugs into every message, on top of its
// own layers: incoming messages reach the application through WrapReader,
// outgoing ones leave through WrapWriter. A layer may transform, observe or
// limit the bytes. Like the layers package's types, it should keep its
// state in fields it re-arms per message instead of allocating per message.
type Layer interface {
	// WrapReader returns the reader the application gets for an incoming
	// message of type typ whose payload (already unmasked, reassembled and
	// validated) is read from r. Returning r leaves the message untouched.
	// An error the reader returns that wraps ErrProtocol, ErrInvalidUTF8
	// or ErrTooBig fails the connection with 1002, 1007 or 1009; any other
	// error of the layer's own fails it with 1011 (internal error). Either
	// way the application, and OnClose, get the connection's *CloseError,
	// whose Err is the layer's error.
	WrapReader(typ MessageType, r io.Reader) io.Reader
	// WrapWriter returns the writer the application gets for an outgoing
	// message of type typ; what it writes to w is sent, and its Close must
	// close w, which sends the final frame.
	WrapWriter(typ MessageType, w io.WriteCloser) io.WriteCloser
}

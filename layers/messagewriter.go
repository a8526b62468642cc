package layers

import "errors"

var errMessageClosed = errors.New("layers: write to a closed MessageWriter")

// MessageWriter is an io.WriteCloser that sends one message through a
// FrameWriter: each non-empty Write goes out as one frame (the first with
// the message's opcode and RSV bits, the rest as continuations), and Close
// sends the final frame, empty, or the whole message's one frame if nothing
// was written. It holds nothing back, so a bufio.Writer above it sets the
// frame size; a Deflater above it with RSV1 set sends a compressed message
// (RFC 7692).
//
// The zero value is ready for Reset.
type MessageWriter struct {
	fw *FrameWriter
	h  Header // the next frame's header; Fin once closed
}

// NewMessageWriter returns a MessageWriter for a message with opcode op and
// RSV bits rsv (on its first frame) sent through fw.
func NewMessageWriter(fw *FrameWriter, op Opcode, rsv byte) *MessageWriter {
	m := &MessageWriter{}
	m.Reset(fw, op, rsv)
	return m
}

// Reset starts a new message with opcode op and RSV bits rsv through fw,
// abandoning any unfinished one.
func (m *MessageWriter) Reset(fw *FrameWriter, op Opcode, rsv byte) {
	m.fw, m.h = fw, Header{Opcode: op, Rsv: rsv}
}

// Write sends p as one frame that is not the message's last. An empty p
// sends nothing.
func (m *MessageWriter) Write(p []byte) (int, error) {
	if m.h.Fin {
		return 0, errMessageClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := m.next(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends the message's final frame. Closing again does nothing.
func (m *MessageWriter) Close() error {
	if m.h.Fin {
		return nil
	}
	m.h.Fin = true
	return m.next(nil)
}

// next sends a frame of p with the current header and moves on to
// continuations.
func (m *MessageWriter) next(p []byte) error {
	err := m.fw.WriteFrame(m.h, p)
	m.h.Opcode, m.h.Rsv = OpContinuation, 0
	return err
}

package layers

import (
	"errors"
	"io"
)

// ControlHandler is called for each control frame a MessageReader meets,
// before, between or inside data messages, with the frame's whole payload
// (valid only during the call). A non-nil error stops the reader and is
// returned from Next or Read.
type ControlHandler func(h Header, payload []byte) error

// MessageReader assembles data messages from a FrameReader: Next returns
// the type of the next message, Read yields its payload across all its
// fragments and io.EOF at the end of the final one. Control frames found on
// the way go to OnControl. It does not validate UTF-8; compose a UTF8Reader
// on top for text.
type MessageReader struct {
	FR *FrameReader
	// OnControl receives control frames; nil discards them.
	OnControl ControlHandler
	// MaxMessageSize, if positive, bounds the payload bytes of a message;
	// a frame header that would pass it fails with ErrTooBig before its
	// payload is read.
	MaxMessageSize int64

	h    Header // current data frame
	size int64  // payload bytes declared so far in this message
	more bool   // the current message has frames left to read
	nctl uint8  // payload bytes of the last control frame, in ctrl
	ctrl [MaxControlPayload]byte
}

// NewMessageReader returns a MessageReader over fr.
func NewMessageReader(fr *FrameReader, onControl ControlHandler) *MessageReader {
	return &MessageReader{FR: fr, OnControl: onControl}
}

// Reset re-arms m over fr, forgetting any message in progress.
func (m *MessageReader) Reset(fr *FrameReader) {
	m.FR, m.h, m.size, m.more, m.nctl = fr, Header{}, 0, false, 0
}

// LastControl returns the payload of the last control frame read, the
// one OnControl was given; it stays valid until the next control frame is
// read. A handler that stops reading at a close frame can take the code
// and reason from it later, off the read path.
func (m *MessageReader) LastControl() []byte { return m.ctrl[:m.nctl] }

// Header returns the header of the first frame of the current message; its
// Rsv bits tell an extension such as permessage-deflate that it applies.
func (m *MessageReader) Header() Header { return m.h }

// Next skips what is left of the current message and returns the opcode
// (OpText or OpBinary) of the next one.
func (m *MessageReader) Next() (Opcode, error) {
	if m.more || m.FR.Remaining() > 0 {
		if err := m.skip(); err != nil {
			return 0, err
		}
	}
	// nextFrame's loop, written out for the stack budget
	// (docs/architecture.md): pipeline's TestReaderFitsStartingStack
	// fails with a call here.
	var h Header
	for {
		var err error
		if h, err = m.FR.Next(); err != nil {
			return 0, err
		}
		if !h.Opcode.IsControl() {
			break
		}
		if err := m.control(h); err != nil {
			return 0, err
		}
	}
	if h.Opcode == OpContinuation {
		// The FrameReader rejects these with no message open; a message
		// skipped above was read to its end.
		return 0, errNoMessageOpen
	}
	m.h, m.size, m.more = h, h.Length, true
	if err := m.checkSize(); err != nil {
		return 0, err
	}
	return h.Opcode, nil
}

// skip reads and drops the rest of the current message.
func (m *MessageReader) skip() error {
	_, err := io.Copy(io.Discard, m)
	return err
}

// nextFrame reads frame headers, handling control frames, until a data frame.
func (m *MessageReader) nextFrame() (Header, error) {
	for {
		h, err := m.FR.Next()
		if err != nil {
			return h, err
		}
		if !h.Opcode.IsControl() {
			return h, nil
		}
		if err := m.control(h); err != nil {
			return h, err
		}
	}
}

// control reads the payload of the control frame h and hands it to
// OnControl.
func (m *MessageReader) control(h Header) error {
	m.nctl = uint8(h.Length)
	p := m.ctrl[:m.nctl]
	// io.ReadFull's loop, written out for the same stack budget.
	for n := 0; n < len(p); {
		k, err := m.FR.Read(p[n:])
		n += k
		if err != nil && n < len(p) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	if m.OnControl != nil {
		return m.OnControl(h, p)
	}
	return nil
}

func (m *MessageReader) checkSize() error {
	if m.MaxMessageSize > 0 && m.size > m.MaxMessageSize {
		return errLimit
	}
	return nil
}

// Read reads the current message's payload. It returns io.EOF after the
// final fragment.
func (m *MessageReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if !m.more {
			return 0, io.EOF
		}
		if m.FR.Remaining() > 0 {
			n, err := m.FR.Read(p)
			if err == io.EOF {
				err = nil
				if m.FR.Header().Fin {
					m.more = false
					err = io.EOF
				}
			}
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if m.FR.Header().Fin {
			m.more = false
			return 0, io.EOF
		}
		h, err := m.nextFrame()
		if err != nil {
			// The stream ended after a non-final fragment: the message
			// is cut short, and io.EOF would make it read as complete.
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if h.Opcode != OpContinuation {
			return 0, errMessageOpen
		}
		m.size += h.Length
		if err := m.checkSize(); err != nil {
			return 0, err
		}
	}
}

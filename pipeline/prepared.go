package pipeline

import (
	"context"
	"sync"

	"github.com/wspipe/wspipe/layers"
)

// PreparedMessage is a message encoded once and sent to many connections,
// for broadcast: each server connection queues the same immutable frame
// bytes instead of copying and framing the payload again.
type PreparedMessage struct {
	typ     MessageType
	payload []byte

	once  sync.Once
	frame []byte // header and payload, unmasked, as a server sends it
}

// NewPreparedMessage prepares payload as one message of type typ. The
// payload must not be modified afterwards.
func NewPreparedMessage(typ MessageType, payload []byte) *PreparedMessage {
	return &PreparedMessage{typ: typ, payload: payload}
}

func (pm *PreparedMessage) serverFrame() []byte {
	pm.once.Do(func() {
		h := layers.Header{Fin: true, Opcode: layers.Opcode(pm.typ), Length: int64(len(pm.payload))}
		hs := layers.HeaderSize(h)
		pm.frame = layers.EncodeFrame(make([]byte, hs+len(pm.payload)), hs, h, pm.payload)
	})
	return pm.frame
}

// WritePrepared sends pm. On a server connection it never waits for the
// peer: the frame joins the send queue and the writer goroutine sends it,
// so one stalled reader cannot slow a broadcast down. When the queue is
// full (SendQueue frames or SendQueueBytes bytes), what happens is the
// Overflow policy's, except that OverflowBlock acts as OverflowError:
//   - OverflowBlock, OverflowError: it returns ErrQueueFull, drops pm for
//     this connection only, and the connection stays up;
//   - OverflowClose, OverflowTryAgainLater: the connection fails at once
//     (1008 or 1013, see OverflowClose), OnClose runs within about 100 ms,
//     and this and every later call return its *CloseError, which
//     matches ErrQueueFull and ErrClosed.
//
// It still waits, within ctx, for a message being streamed on this
// connection to finish, since messages never interleave.
//
// The roles differ in one way, by design: a server sends the bytes as they
// were prepared, once encoded for every connection, so its custom Layers
// (Options.Layers) do not see them and they go uncompressed even where
// permessage-deflate was negotiated (an uncompressed message is always
// allowed, RFC 7692 section 6). A client, which must mask every frame with
// a key of its own, cannot share encoded bytes: it sends pm like
// WriteMessage, through its Layers and compression.
func (c *Conn) WritePrepared(ctx context.Context, pm *PreparedMessage) error {
	if pm.typ != Text && pm.typ != Binary {
		return errBadType
	}
	if c.role == layers.RoleClient {
		return c.WriteMessage(ctx, pm.typ, pm.payload)
	}
	if err := c.acquire(ctx); err != nil {
		return err
	}
	err := c.submit(ctx, outFrame{data: pm.serverFrame(), shared: true})
	c.msgTok.release()
	return err
}

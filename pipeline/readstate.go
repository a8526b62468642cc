package pipeline

import (
	"sync"

	"github.com/wspipe/wspipe/layers"
)

// readState is what the reader goroutine parses frames with: the frame
// and message readers (with the message reader's room for a control
// payload) and the UTF-8 check of text messages. A connection holds one
// while it has a reader goroutine; a push-mode connection whose socket
// waits in the idle poller holds none: the reader gives it back to a pool
// when it parks the socket (between messages, where it holds nothing of
// the connection's) and the next reader takes one. That is a third of a
// Conn an idle connection does not keep.
//
// The application never gets a pointer into it that outlives a message:
// NextReader and OnMessage hand out the Conn's msgReader, which reaches
// the readers here only while its message is active.
type readState struct {
	fr layers.FrameReader
	mr layers.MessageReader
	ur layers.UTF8Reader
	c  *Conn
	// err is the fast path's error that ends reading (see pump).
	err error
	// onControl is rs.control, made once per readState: the message
	// reader's handler, with no allocation per attach.
	onControl layers.ControlHandler
}

var readStates sync.Pool

// control passes a control frame to the connection that holds rs.
func (rs *readState) control(h layers.Header, payload []byte) error {
	return rs.c.onControl(h, payload)
}

// attachRead gives c a readState set up for it.
func (c *Conn) attachRead() {
	rs, _ := readStates.Get().(*readState)
	if rs == nil {
		rs = new(readState)
		rs.onControl = rs.control
	}
	rs.c = c
	rs.fr.Reset(&c.cr, c.role)
	rs.fr.AllowRSV, rs.fr.MessageRSV, rs.fr.MaxFrameSize = 0, 0, max(c.opts.MaxFrameSize, 0)
	if c.pmd != nil {
		rs.fr.MessageRSV = layers.RSV1
	}
	rs.mr.Reset(&rs.fr)
	rs.mr.OnControl = rs.onControl
	c.rs = rs
	c.syncLimit()
}

// detachRead gives c's readState back to the pool. Only the reader
// goroutine calls it, between messages, before it parks the socket.
func (c *Conn) detachRead() {
	rs := c.rs
	c.rs = nil
	// The message readers that read from rs let go of it, or it would
	// stay with the connection after the pool has dropped it (and be
	// reachable from it when another connection holds it).
	c.in.r = nil
	if d := c.pmd; d != nil {
		d.inf.Reset(nil, nil)
		d.lim.Reset(nil, 0)
	}
	rs.fr.Reset(nil, 0)
	rs.mr.Reset(nil)
	rs.ur.Reset(nil)
	rs.c, rs.err = nil, nil
	readStates.Put(rs)
}

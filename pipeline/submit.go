package pipeline

import (
	"context"
	"errors"
	"time"
)

var (
	errBadType = errors.New("websocket: message type must be Text or Binary")
	// errBusy refuses a zero-copy frame when the connection is not idle.
	errBusy = errors.New("websocket: connection busy")
)

// submit sends a data frame: at once from the calling goroutine if the
// connection is idle, else through the queue, applying the overflow policy
// when the queue is full. A direct frame (a caller's slice, not copied) is
// only ever written at once; when that is not possible submit returns
// errBusy and the caller copies it instead.
func (c *Conn) submit(ctx context.Context, f outFrame) error {
	c.mu.Lock()
	for {
		if c.writeErr != nil || c.closeFrame != nil {
			c.mu.Unlock()
			c.release(&f)
			return c.closeError(ErrClosed)
		}
		if c.hasRoomLocked(len(f.data)) {
			break
		}
		policy := c.opts.Overflow
		if f.shared && policy == OverflowBlock {
			policy = OverflowError // a broadcast never waits for one slow peer
		}
		if c.corked && !f.shared {
			// Full of replies that cork holds back (a burst of pipelined
			// messages, answered on the reader goroutine): it is not the
			// peer that is slow, so no policy calls this an overflow. The
			// replies go now, as uncork would send them, and the queue
			// stays corked for the rest of the burst; if a writer runs
			// already, wait for it to make room.
			if !c.writing {
				c.writing = true
				c.mu.Unlock()
				c.writeLoop() // a failed write tears the connection down itself
				c.mu.Lock()
				continue
			}
			policy = OverflowBlock
		}
		switch policy {
		case OverflowError:
			c.mu.Unlock()
			c.release(&f)
			return ErrQueueFull
		case OverflowClose, OverflowTryAgainLater:
			c.mu.Unlock()
			c.release(&f)
			code := ClosePolicyViolation
			if c.opts.Overflow == OverflowTryAgainLater {
				code = CloseTryAgainLater
			}
			c.fail(code, "send queue full", ErrQueueFull)
			return c.closeError(ErrQueueFull)
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-c.dead.C(): // the loop's first check reports it
		case <-ctx.Done():
			c.release(&f)
			return ctx.Err()
		}
		c.mu.Lock()
	}
	if !c.writing && !c.corked && len(c.ctrlQ) == 0 && c.dataHead == len(c.dataQ) && c.opts.Overflow == OverflowBlock && !f.shared {
		// Idle: write straight to the socket, no goroutine hand-off. Only
		// under OverflowBlock: the other policies promise writes that do
		// not wait for the socket.
		c.writing = true
		c.mu.Unlock()
		return c.writeDirect(ctx, &f)
	}
	if f.direct {
		c.mu.Unlock()
		return errBusy
	}
	c.dataQ = append(c.dataQ, f)
	c.queued += len(f.data)
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// hasRoomLocked reports whether a data frame of n bytes fits in the send
// queue: under SendQueue frames and, unless the queue is empty (a frame
// larger than the bound still goes, alone), under SendQueueBytes bytes.
func (c *Conn) hasRoomLocked(n int) bool {
	if len(c.dataQ)-c.dataHead >= c.opts.SendQueue {
		return false
	}
	max := c.opts.SendQueueBytes
	return max < 0 || c.queued == 0 || c.queued+n <= max
}

// writeDirect writes f from the calling goroutine, which holds c.writing.
// If ctx ends during the write, the write is cut short by a deadline; a
// frame cut in half leaves the stream unusable, so the connection fails.
func (c *Conn) writeDirect(ctx context.Context, f *outFrame) error {
	var stop func() bool
	if ctx.Done() != nil { // a Background context costs nothing
		stop = context.AfterFunc(ctx, func() {
			c.mu.Lock()
			if c.writing {
				c.netConn().SetWriteDeadline(time.Unix(1, 0))
				c.cutWrite = true
			}
			c.mu.Unlock()
		})
	}
	err := c.writeData(f)
	if stop != nil {
		stop()
	}
	c.mu.Lock()
	if c.cutWrite {
		c.cutWrite = false
		if err == nil {
			c.netConn().SetWriteDeadline(time.Time{})
		} else {
			err = ctx.Err()
		}
	} else if err != nil {
		// The connection is failing or its transport failed: say how.
		err = c.closeError(err)
	}
	c.afterWriteLocked(err)
	c.writing = false
	c.kickLocked()
	c.mu.Unlock()
	return err
}

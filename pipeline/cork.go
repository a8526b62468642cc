package pipeline

// cork holds data frames back in the queue while the reader goroutine has
// more input buffered: the replies to a burst of pipelined messages then
// leave in one writev instead of one write each. uncork sends them before
// the reader waits for the peer again.
func (c *Conn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork sends what cork held back, from the calling goroutine when no
// writer runs.
func (c *Conn) uncork() {
	c.mu.Lock()
	if !c.corked {
		c.mu.Unlock()
		return
	}
	c.corked = false
	if c.writing || c.writeErr != nil || c.dataHead == len(c.dataQ) {
		c.kickLocked()
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	c.writeLoop() // a failed write tears the connection down itself
}

// Package pipeline composes wspipe's io layers over the raw stream a
// handshake yields into a WebSocket connection, Conn: Accept and
// AcceptConn for servers, Dial for clients.
//
// Each Conn runs one reader goroutine, which parses frames, answers pings
// and runs the closing handshake, and at most one writer goroutine, started
// when frames are queued and finished when the queue drains, both under an
// errgroup. Messages are streams: NextReader returns the next message as an
// io.Reader and NextWriter a new outgoing one as an io.WriteCloser, so
// io.Copy works both ways and a message of any size passes through without
// being held in memory. ReadMessage and WriteMessage handle whole messages
// in caller-owned buffers, and Fill fills a buffer from a message,
// waiting for a large one in big pieces rather than in every piece the
// network delivers.
//
// With Options.OnMessage the connection runs in push mode instead: the
// reader goroutine hands each message to OnMessage, and nothing else waits
// on the connection (the lightest way to hold many connections). Options
// also set the limits and their close codes, the send queue and its
// overflow policy, the heartbeat, permessage-deflate (Compression) and
// custom layers (Layers). NewPreparedMessage and WritePrepared broadcast a
// message encoded once. See docs/architecture.md for the whole picture.
//
// # How a connection ends
//
// However a connection ends, every call reports the same *CloseError once
// it has (ReadMessage, NextReader, NextWriter, WriteMessage, WritePrepared,
// Ping, Wait, Err and OnClose's argument), and errors.Is(err, ErrClosed)
// holds for it. It says who ended the connection and why:
//
//	_, _, err := c.ReadMessage(ctx, buf)
//	var ce *pipeline.CloseError
//	switch {
//	case errors.As(err, &ce) && ce.Remote: // the peer's close frame: ce.Code, ce.Reason
//	case errors.As(err, &ce) && ce.Code == pipeline.CloseAbnormal: // the transport died: ce.Err
//	case errors.As(err, &ce): // our own close: Close, or ce.Err (ErrQueueFull, ErrPeerTimeout, ErrTooBig, ...)
//	case err != nil: // not an end: ctx.Err(), say
//	}
//
// CloseStatus(err) gives just the code. Err is set before any call returns
// the error, so c.Err() != nil right after a read failed with it.
//
// # Helpers
//
// CloseRead serves a connection the application only writes to. NetConn
// turns a connection into a net.Conn byte stream for tunnelling, and
// package wsjson reads and writes one JSON value per message.
package pipeline

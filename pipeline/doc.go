// Package pipeline composes wspipe's io layers over the raw stream a
// handshake yields into a WebSocket connection, Conn.
//
// Each Conn runs one reader goroutine, which parses frames, answers pings
// and runs the closing handshake, and at most one writer goroutine, started
// when frames are queued and finished when the queue drains, both under an
// errgroup. Messages are streams: NextReader returns the next message as an
// io.Reader and NextWriter a new outgoing one as an io.WriteCloser, so
// io.Copy works both ways and a message of any size passes through without
// being held in memory. ReadMessage and WriteMessage handle whole messages
// in caller-owned buffers.
package pipeline

// Package layers holds the small io layers that make up a WebSocket
// connection: frame parsing, unmasking, frame and message writing, UTF-8 validation
// and size limits. Each layer does one job, is usable on its own and has a
// Reset method so a connection can reuse it for every frame.
package layers

// Package layers holds the small io layers that make up a WebSocket
// connection: frame parsing and writing (one encoder, EncodeFrame, and one
// header parser, FrameSize), unmasking and masking, message assembly and
// message writing, UTF-8 validation, size limits and permessage-deflate,
// and besides them close frame payloads and mask keys. Each layer does one
// job and is usable on its own; layers compose by wrapping, as the io
// package's readers and writers do. Each has a Reset method, so a
// connection builds its layers once and re-arms them for every frame or
// message.
package layers

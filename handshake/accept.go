package handshake

import (
	"crypto/sha1"
	"encoding/base64"
)

// websocketGUID is the fixed GUID of RFC 6455 section 1.3 that the server
// appends to the client's key before hashing.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key:
// the standard base64 encoding of the SHA-1 of key followed by the RFC 6455
// GUID. The result has no trailing newline. The key is used as given; it is
// not trimmed or decoded.
func AcceptKey(key string) string {
	var b [28]byte
	return string(appendAcceptKey(b[:0], key))
}

// appendAcceptKey appends AcceptKey(key) to dst without allocating for
// keys of the standard 24 bytes.
func appendAcceptKey[T string | []byte](dst []byte, key T) []byte {
	var in [24 + len(websocketGUID)]byte
	buf := in[:0]
	if len(key) > 24 {
		buf = make([]byte, 0, len(key)+len(websocketGUID))
	}
	buf = append(append(buf, key...), websocketGUID...)
	sum := sha1.Sum(buf)
	var out [28]byte
	base64.StdEncoding.Encode(out[:], sum[:])
	return append(dst, out[:]...)
}

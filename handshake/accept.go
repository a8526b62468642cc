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
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(websocketGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

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
	var b [acceptRoom]byte
	return string(appendAcceptKey(b[:0], key))
}

// acceptRoom is the room appendAcceptKey hashes in for a key of the
// standard 24 bytes: the key and the GUID. The accept value (28 bytes)
// then takes the first part of it.
const acceptRoom = 24 + len(websocketGUID)

// appendAcceptKey appends AcceptKey(key) to dst. Key and GUID are hashed
// in dst's spare capacity, then overwritten by the accept value: with
// acceptRoom bytes to spare (every caller here has them, the raw upgrade
// in its request buffer) it allocates nothing and puts no array on the
// stack, which the raw upgrade's 2 KiB goroutine stack has no room for.
func appendAcceptKey[T string | []byte](dst []byte, key T) []byte {
	n := len(dst)
	dst = append(append(dst, key...), websocketGUID...)
	sum := sha1.Sum(dst[n:])
	dst = dst[:n+28]
	base64.StdEncoding.Encode(dst[n:], sum[:])
	return dst
}

package handshake

import (
	"errors"
	"net/http"
)

// Sentinel errors. Every handshake refusal is reported as a *RequestError
// whose Unwrap yields one of these, so callers test the cause with
// errors.Is(err, handshake.ErrBadKey) and get the status with errors.As.
// The one exception is a refusal by UpgradeRaw's callback: its error is
// what the callback returned.
var (
	// ErrBadMethod: the request method is not GET (405, with Allow: GET).
	ErrBadMethod = errors.New("handshake: method is not GET")
	// ErrBadProtocol: the request is older than HTTP/1.1 (400).
	ErrBadProtocol = errors.New("handshake: HTTP/1.1 or later required")
	// ErrBadUpgrade: no "websocket" token in the Upgrade header (400).
	ErrBadUpgrade = errors.New("handshake: Upgrade header lacks websocket")
	// ErrBadConnection: no "upgrade" token in the Connection header (400).
	ErrBadConnection = errors.New("handshake: Connection header lacks upgrade")
	// ErrBadVersion: Sec-WebSocket-Version is missing or not 13 (426, with
	// Sec-WebSocket-Version: 13).
	ErrBadVersion = errors.New("handshake: unsupported Sec-WebSocket-Version")
	// ErrBadKey: Sec-WebSocket-Key is missing, repeated, or not the base64
	// encoding of 16 bytes (400).
	ErrBadKey = errors.New("handshake: invalid Sec-WebSocket-Key")
	// ErrForbiddenOrigin: the Origin header is malformed or names a host
	// the Server does not allow (403).
	ErrForbiddenOrigin = errors.New("handshake: origin not allowed")
	// ErrBadExtensions: Sec-WebSocket-Extensions does not follow the
	// RFC 6455 section 9.1 grammar (400).
	ErrBadExtensions = errors.New("handshake: malformed Sec-WebSocket-Extensions")
	// ErrExtensionsHook: Server.Extensions returned an extension the client
	// did not offer, or one that is not made of valid tokens (500). This is
	// a bug in the server, not in the client.
	ErrExtensionsHook = errors.New("handshake: Extensions hook returned an invalid extension")
	// ErrMalformedRequest: the request cannot be parsed, has no Host, or
	// carries a body (400); or, on a raw connection (UpgradeConn,
	// UpgradeRaw, UpgradeOrHandOff), the connection failed or was closed
	// before the request was complete (Status 0, no response).
	ErrMalformedRequest = errors.New("handshake: malformed request")
	// ErrRequestTooLarge: a raw upgrade (UpgradeConn, UpgradeRaw,
	// UpgradeOrHandOff) read MaxRequestBytes without reaching the end of
	// the header block (431).
	ErrRequestTooLarge = errors.New("handshake: request header too large")
	// ErrTimeout: a deadline expired while reading the request or writing the
	// response (server), or during Client.Dial (client). No response is
	// written after a server's read timeout (Status 0).
	ErrTimeout = errors.New("handshake: timeout")
	// ErrHijack: the http.ResponseWriter cannot be hijacked, for example on
	// HTTP/2 (500).
	ErrHijack = errors.New("handshake: connection cannot be hijacked")
)

// RequestError describes a refused handshake.
type RequestError struct {
	// Status is the HTTP status code sent to the client, or 0 if no
	// response was sent (the raw upgrades only: reading the request timed
	// out or the connection failed before the request was complete).
	Status int
	// Reason is the short plain-text reason sent in the response body. It
	// never contains data taken from the request.
	Reason string
	// Err is one of the package's sentinel errors (ErrBadKey, ...).
	Err error
	// Cause is the underlying error or detail, if any (for example the
	// parse error or the rejected origin). It is not sent to the client.
	Cause error
}

// Error returns the reason, the status and the cause in one line.
func (e *RequestError) Error() string {
	s := "handshake: " + e.Reason
	if e.Status != 0 {
		s += " (" + http.StatusText(e.Status) + ")"
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel error and, if set, the cause, so that
// errors.Is matches either.
func (e *RequestError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// refuse builds a *RequestError. Out of line for the stack budget
// (docs/architecture.md): each inlined copy would add to its caller's
// frame.
//
//go:noinline
func refuse(status int, sentinel error, reason string, cause error) *RequestError {
	return &RequestError{Status: status, Reason: reason, Err: sentinel, Cause: cause}
}

// recordTypeHandshake is the first byte of a TLS ClientHello (the type of
// its record); no HTTP request starts with it.
const recordTypeHandshake = 0x16

// errTLSRequest is the cause of the refusal of a TLS ClientHello.
var errTLSRequest = errors.New("the request is a TLS ClientHello")

// tlsRefusal is the refusal of a TLS ClientHello sent to a server without
// TLS: a wss:// URL for a ws:// endpoint.
func tlsRefusal() *RequestError {
	return refuse(http.StatusBadRequest, ErrMalformedRequest,
		"TLS handshake on a port without TLS: use ws://, not wss://", errTLSRequest)
}

// refusalHeaders returns the extra header lines a refusal carries.
func (e *RequestError) refusalHeaders() [][2]string {
	switch e.Err {
	case ErrBadMethod:
		return [][2]string{{"Allow", "GET"}}
	case ErrBadVersion:
		return [][2]string{{"Sec-WebSocket-Version", "13"}}
	}
	return nil
}

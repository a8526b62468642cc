package layers

import (
	"encoding/binary"
	"strconv"
)

// CloseCode is a close frame's status code (RFC 6455 section 7.4).
type CloseCode uint16

// Close codes defined by RFC 6455 and the IANA registry.
const (
	CloseNormal          CloseCode = 1000
	CloseGoingAway       CloseCode = 1001
	CloseProtocolError   CloseCode = 1002
	CloseUnsupportedData CloseCode = 1003
	CloseNoStatus        CloseCode = 1005 // never sent: no code in the close frame
	CloseAbnormal        CloseCode = 1006 // never sent: no close frame at all
	CloseInvalidPayload  CloseCode = 1007
	ClosePolicyViolation CloseCode = 1008
	CloseMessageTooBig   CloseCode = 1009
	CloseMandatoryExt    CloseCode = 1010
	CloseInternalError   CloseCode = 1011
	CloseServiceRestart  CloseCode = 1012
	CloseTryAgainLater   CloseCode = 1013
	CloseBadGateway      CloseCode = 1014
	CloseTLSHandshake    CloseCode = 1015 // never sent
)

// String returns the code's number and, for known codes, its name.
func (c CloseCode) String() string {
	name := ""
	switch c {
	case CloseNormal:
		name = " normal closure"
	case CloseGoingAway:
		name = " going away"
	case CloseProtocolError:
		name = " protocol error"
	case CloseUnsupportedData:
		name = " unsupported data"
	case CloseNoStatus:
		name = " no status"
	case CloseAbnormal:
		name = " abnormal closure"
	case CloseInvalidPayload:
		name = " invalid payload"
	case ClosePolicyViolation:
		name = " policy violation"
	case CloseMessageTooBig:
		name = " message too big"
	case CloseMandatoryExt:
		name = " mandatory extension"
	case CloseInternalError:
		name = " internal error"
	case CloseServiceRestart:
		name = " service restart"
	case CloseTryAgainLater:
		name = " try again later"
	case CloseBadGateway:
		name = " bad gateway"
	case CloseTLSHandshake:
		name = " TLS handshake"
	}
	return strconv.Itoa(int(c)) + name
}

// ValidOnWire reports whether c may appear in a close frame: the codes RFC
// 6455 and IANA assign for use on the wire (1000-1003, 1007-1014) and the
// ranges for libraries and applications (3000-4999).
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// ParseClose parses a close frame payload. An empty payload gives
// CloseNoStatus. A 1-byte payload or a code not valid on the wire is
// ErrProtocol; a reason that is not UTF-8 is ErrInvalidUTF8. The reason
// aliases payload.
func ParseClose(payload []byte) (code CloseCode, reason []byte, err error) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, nil, nil
	case 1:
		return 0, nil, errBadClosePayload
	}
	code = CloseCode(binary.BigEndian.Uint16(payload))
	if !code.ValidOnWire() {
		return code, nil, errInvalidCloseCode
	}
	reason = payload[2:]
	if !ValidUTF8(reason) {
		return code, nil, utf8Error("close reason")
	}
	return code, reason, nil
}

// AppendClose appends a close frame payload for code and reason to dst.
// CloseNoStatus gives an empty payload. The reason is cut as CloseReason
// cuts it.
func AppendClose(dst []byte, code CloseCode, reason string) []byte {
	if code == CloseNoStatus {
		return dst
	}
	reason = CloseReason(code, reason)
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// CloseReason returns the part of reason that a close frame with code
// carries: none for CloseNoStatus (no payload), else reason cut so the
// payload fits a control frame, without splitting a UTF-8 sequence.
func CloseReason(code CloseCode, reason string) string {
	if code == CloseNoStatus {
		return ""
	}
	if len(reason) > MaxControlPayload-2 {
		reason = reason[:MaxControlPayload-2]
		for len(reason) > 0 && !ValidUTF8([]byte(reason)) {
			reason = reason[:len(reason)-1]
		}
	}
	return reason
}

package handshake

import "strings"

// isTokenByte reports whether c is a tchar of RFC 7230 section 3.2.6.
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken reports whether s is a non-empty HTTP token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

// isOWS reports whether c is optional whitespace (SP or HTAB).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(s string) string {
	for s != "" && isOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// listElements calls f for every non-empty element of the comma-separated
// lists in values (one entry per header line), trimmed of whitespace. It
// stops early and returns true when f returns true.
func listElements(values []string, f func(elem string) bool) bool {
	for _, v := range values {
		for v != "" {
			elem := v
			if i := strings.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				v = ""
			}
			if elem = trimOWS(elem); elem != "" && f(elem) {
				return true
			}
		}
	}
	return false
}

// hasToken reports whether the comma-separated lists in values contain
// token, compared ASCII case-insensitively.
func hasToken(values []string, token string) bool {
	return listElements(values, func(elem string) bool {
		return strings.EqualFold(elem, token)
	})
}

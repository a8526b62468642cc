package handshake

import (
	"fmt"
	"strings"
)

// Extension is one entry of a Sec-WebSocket-Extensions header: an
// extension name followed by its parameters in the order they were written.
type Extension struct {
	// Name is the extension token, e.g. "permessage-deflate".
	Name string
	// Params are the extension parameters in order. Duplicates are kept.
	Params []Param
}

// Param is one extension parameter. A parameter written without "=value"
// has Value "" and HasValue false.
type Param struct {
	// Name is the parameter token.
	Name string
	// Value is the parameter value, with quoted-string quoting removed.
	Value string
	// HasValue reports whether the parameter was written with a value.
	HasValue bool
}

// ParseExtensions parses the values of the Sec-WebSocket-Extensions header
// lines of a request (pass r.Header.Values("Sec-WebSocket-Extensions")),
// following the grammar of RFC 6455 section 9.1:
//
//	extension-list  = 1#extension
//	extension       = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// Several header lines are equivalent to one line joined with commas. As
// HTTP list rules require, empty list elements ("a, , b") are skipped.
// Whitespace is allowed around separators. A quoted value is unescaped and
// must then be a token, as section 9.1 requires. Order and duplicates are
// preserved. It returns nil and no error when there are no extensions, and
// an error describing the first violation when the input is malformed.
func ParseExtensions(headers []string) ([]Extension, error) {
	var out []Extension
	for _, h := range headers {
		var err error
		if out, err = parseExtensionLine(h, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// extensionSyntaxError builds the error returned for malformed input.
func extensionSyntaxError(line string, pos int, what string) error {
	return fmt.Errorf("handshake: Sec-WebSocket-Extensions %q: %s at offset %d", line, what, pos)
}

// parseExtensionLine parses one header line, appending to out.
func parseExtensionLine(s string, out []Extension) ([]Extension, error) {
	i := 0
	skipOWS := func() {
		for i < len(s) && isOWS(s[i]) {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(s) && isTokenByte(s[i]) {
			i++
		}
		return s[start:i]
	}
	for {
		skipOWS()
		if i == len(s) {
			return out, nil
		}
		if s[i] == ',' { // empty list element
			i++
			continue
		}
		name := token()
		if name == "" {
			return nil, extensionSyntaxError(s, i, "expected extension name")
		}
		ext := Extension{Name: name}
		skipOWS()
		for i < len(s) && s[i] == ';' {
			i++
			skipOWS()
			p := Param{Name: token()}
			if p.Name == "" {
				return nil, extensionSyntaxError(s, i, "expected parameter name")
			}
			skipOWS()
			if i < len(s) && s[i] == '=' {
				i++
				skipOWS()
				if i < len(s) && s[i] == '"' {
					v, n, err := unquote(s[i:])
					if err != nil {
						return nil, extensionSyntaxError(s, i, err.Error())
					}
					if !isToken(v) {
						return nil, extensionSyntaxError(s, i, "quoted value is not a token")
					}
					p.Value = v
					i += n
				} else if p.Value = token(); p.Value == "" {
					return nil, extensionSyntaxError(s, i, "expected parameter value")
				}
				p.HasValue = true
				skipOWS()
			}
			ext.Params = append(ext.Params, p)
		}
		out = append(out, ext)
		if i < len(s) {
			if s[i] != ',' {
				return nil, extensionSyntaxError(s, i, fmt.Sprintf("unexpected %q", s[i]))
			}
			i++
		}
	}
}

// unquote decodes the quoted-string at the start of s (s[0] == '"') and
// returns its value and the number of bytes consumed.
func unquote(s string) (string, int, error) {
	var b strings.Builder
	escaped := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if !escaped {
				return s[1:i], i + 1, nil
			}
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 == len(s) || isValueCTL(s[i+1]) {
				return "", 0, fmt.Errorf("bad quoted-pair")
			}
			if !escaped {
				escaped = true
				b.WriteString(s[1:i])
			}
			i++
			b.WriteByte(s[i])
		case isValueCTL(c):
			return "", 0, fmt.Errorf("control character in quoted-string")
		default:
			if escaped {
				b.WriteByte(c)
			}
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted-string")
}

// isCTL reports whether c is an ASCII control character.
func isCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// isValueCTL reports whether c is a control character a header value may
// not hold: any but tab.
func isValueCTL(c byte) bool { return isCTL(c) && c != '\t' }

// FormatExtensions renders extensions as a Sec-WebSocket-Extensions header
// value, e.g. "permessage-deflate; client_max_window_bits=10, x-foo".
// Names are written as given and should be tokens. A value that is not a
// token is written as a quoted-string (note that RFC 6455 requires values to
// be tokens even when quoted, so ParseExtensions rejects such output).
// A nil or empty slice gives "".
func FormatExtensions(exts []Extension) string {
	var b strings.Builder
	for i, e := range exts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
		for _, p := range e.Params {
			b.WriteString("; ")
			b.WriteString(p.Name)
			if !p.HasValue {
				continue
			}
			b.WriteByte('=')
			if isToken(p.Value) {
				b.WriteString(p.Value)
				continue
			}
			b.WriteByte('"')
			for j := 0; j < len(p.Value); j++ {
				if c := p.Value[j]; c == '"' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(p.Value[j])
			}
			b.WriteByte('"')
		}
	}
	return b.String()
}

// validAccepted reports why the extensions returned by the Server's
// Extensions hook cannot be written, or nil if they can: every name must be
// a token offered by the client and every parameter must be a token with a
// token value.
func validAccepted(accepted, offers []Extension) error {
	for _, a := range accepted {
		if !isToken(a.Name) {
			return fmt.Errorf("extension name %q is not a token", a.Name)
		}
		offered := false
		for _, o := range offers {
			if strings.EqualFold(o.Name, a.Name) {
				offered = true
				break
			}
		}
		if !offered {
			return fmt.Errorf("extension %q was not offered by the client", a.Name)
		}
		for _, p := range a.Params {
			if !isToken(p.Name) || p.HasValue && !isToken(p.Value) {
				return fmt.Errorf("extension %q has an invalid parameter %q", a.Name, p.Name)
			}
		}
	}
	return nil
}

package handshake

import (
	"bytes"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on the server's text quoted in a HandshakeError's message: enough
// for a one-line reason, short enough for a log line.
const (
	maxReasonLen   = 120
	maxStatusLen   = 80
	maxLocationLen = 200
)

// serverReason returns what a refusal's body says, for an error message:
// its first non-blank line, or for an HTML page the text of its title, made
// safe by oneLine and cut to maxReasonLen bytes. It returns "" for an empty
// or binary body (a NUL or invalid UTF-8 in the line), for an HTML page
// without a title, and for a title that only repeats status.
func serverReason(body []byte, contentType, status string) string {
	if isHTML(body, contentType) {
		t := htmlTitle(body)
		if t == "" {
			return ""
		}
		t = oneLine(html.UnescapeString(t), maxReasonLen)
		if strings.EqualFold(t, status) {
			return ""
		}
		return t
	}
	line := bytes.TrimLeft(body, " \t\r\n")
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	// A body cut at maxRefusalBody may end inside a character.
	for n := 1; n <= 3 && n <= len(line); n++ {
		if utf8.RuneStart(line[len(line)-n]) {
			if !utf8.FullRune(line[len(line)-n:]) {
				line = line[:len(line)-n]
			}
			break
		}
	}
	if bytes.IndexByte(line, 0) >= 0 || !utf8.Valid(line) {
		return ""
	}
	return oneLine(string(line), maxReasonLen)
}

// isHTML reports whether a body is an HTML page, by its Content-Type or,
// lacking one, its first character.
func isHTML(body []byte, contentType string) bool {
	if contentType != "" {
		return strings.Contains(strings.ToLower(contentType), "html")
	}
	return bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("<"))
}

// htmlTitle returns the raw text between <title> and </title>, or "".
func htmlTitle(body []byte) string {
	lower := bytes.ToLower(body)
	i := bytes.Index(lower, []byte("<title"))
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(lower[i:], '>')
	if j < 0 {
		return ""
	}
	start := i + j + 1
	end := bytes.Index(lower[start:], []byte("</title"))
	if end < 0 {
		return "" // cut off: a partial title could mislead
	}
	return string(body[start : start+end])
}

// oneLine makes s, text from the network, safe to show on one line of a
// terminal or log, at most max bytes long: terminal escape sequences and
// every other non-printable character are removed, runs of white space
// (line breaks included) become one space, and the ends are trimmed. A
// longer result is cut at a character boundary and ends in "...".
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == 0x1b: // ESC: skip the whole sequence
			i = skipEscape(s, i)
			continue
		case r == 0x9b: // the one-character CSI
			i = skipCSI(s, i)
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r == utf8.RuneError && size == 1, !unicode.IsPrint(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		if b.Len() > max {
			break
		}
	}
	out := b.String()
	if len(out) > max {
		cut := max - len("...")
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = strings.TrimRight(out[:cut], " ") + "..."
	}
	return out
}

// skipEscape returns the index in s past the escape sequence whose ESC
// ends before i: a CSI ("ESC ["), an OSC, DCS or similar string ("ESC ]",
// "ESC P", ... up to BEL or "ESC \"), or an ESC and one character.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		for j := i + 1; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	_, size := utf8.DecodeRuneInString(s[i:])
	return i + size
}

// skipCSI returns the index in s past a control sequence's parameters and
// final byte (0x40 to 0x7e), which start at i.
func skipCSI(s string, i int) int {
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x40 && c <= 0x7e {
			return i + 1
		}
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return i // not a valid sequence: stop before it
		}
	}
	return i
}

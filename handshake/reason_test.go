package handshake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/wspipe/wspipe/handshake"
)

// checkOneLine fails unless msg is valid UTF-8 with printable characters
// only and at most max bytes long.
func checkOneLine(t *testing.T, msg string, max int) {
	t.Helper()
	if !utf8.ValidString(msg) {
		t.Errorf("message is not valid UTF-8: %q", msg)
	}
	if i := strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		t.Errorf("message has a non-printable character at %d: %q", i, msg)
	}
	if len(msg) > max {
		t.Errorf("message is %d bytes long, want at most %d: %q", len(msg), max, msg)
	}
}

// withLength builds a response with status line status, extra header
// lines and body.
func withLength(status, headers, body string) string {
	return fmt.Sprintf("HTTP/1.1 %s\r\n%sContent-Length: %d\r\n\r\n%s", status, headers, len(body), body)
}

func TestRefusalMessageQuotesServer(t *testing.T) {
	const refused = "handshake: server refused the upgrade: "
	hugeLine := strings.Repeat("A", 4<<20)
	hugeUTF8 := "a" + strings.Repeat("é", 1<<10) // Body, 1 KiB, ends inside a character
	tests := []struct {
		name     string
		response string
		want     string // the whole message; "" to check only prefix and bounds
		prefix   string
	}{
		{"first line", withLength("403 Forbidden", "", "origin not allowed\n"),
			refused + "403 Forbidden: origin not allowed", ""},
		{"no newline", withLength("401 Unauthorized", "", "token expired"),
			refused + "401 Unauthorized: token expired", ""},
		{"first non-blank line only", withLength("400 Bad Request", "", "\r\n \r\n  missing header  \r\nsecond line\n"),
			refused + "400 Bad Request: missing header", ""},
		{"no body", withLength("404 Not Found", "", ""),
			refused + "404 Not Found", ""},
		{"escape sequences", withLength("403 Forbidden", "", "\x1b[2J\x1b[31mred\x1b[0m alert\x07\x1b]0;owned\x07 done\x1b[1;31"),
			refused + "403 Forbidden: red alert done", ""},
		{"C1 and bidi controls", withLength("403 Forbidden", "", "abc\u202edef\u009b31mghi\u0085jkl"),
			refused + "403 Forbidden: abcdefghi jkl", ""},
		{"tabs and runs of spaces", withLength("429 Too Many Requests", "", "slow\t\t down   please"),
			refused + "429 Too Many Requests: slow down please", ""},
		{"binary body", withLength("503 Service Unavailable", "Content-Type: application/octet-stream\r\n", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"),
			refused + "503 Service Unavailable", ""},
		{"NUL in the line", withLength("500 Internal Server Error", "", "ab\x00cd"),
			refused + "500 Internal Server Error", ""},
		{"HTML page whose title is the status", withLength("403 Forbidden", "Content-Type: text/html\r\n",
			"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body><center><h1>403 Forbidden</h1></center></body></html>\r\n"),
			refused + "403 Forbidden", ""},
		{"HTML page with a title", withLength("403 Forbidden", "Content-Type: text/html; charset=UTF-8\r\n",
			"<!DOCTYPE html>\n<html><head>\n<TITLE>Attention Required! &amp; \x1b[31m more</TITLE>"),
			refused + "403 Forbidden: Attention Required! & more", ""},
		{"huge line", withLength("413 Content Too Large", "", hugeLine), "", refused + "413 Content Too Large: AAAA"},
		{"huge line of two-byte characters", withLength("413 Content Too Large", "", hugeUTF8+"x"), "", refused + "413 Content Too Large: aéé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(*http.Request, string) string { return tt.response })
			_, _, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
			var he *handshake.HandshakeError
			if !errors.As(err, &he) || !errors.Is(err, handshake.ErrBadStatus) {
				t.Fatalf("err = %v, want a *HandshakeError matching ErrBadStatus", err)
			}
			msg := err.Error()
			checkOneLine(t, msg, 300)
			if tt.want != "" && msg != tt.want {
				t.Errorf("message\n%q, want\n%q", msg, tt.want)
			}
			if !strings.HasPrefix(msg, tt.prefix) {
				t.Errorf("message %q does not start with %q", msg, tt.prefix)
			}
			// The fields keep the raw answer.
			_, rawBody, _ := strings.Cut(tt.response, "\r\n\r\n")
			if want := rawBody[:min(len(rawBody), 1024)]; string(he.Body) != want {
				t.Errorf("Body = %.40q (%d bytes), want the raw %.40q (%d bytes)", he.Body, len(he.Body), want, len(want))
			}
			if !strings.HasPrefix(tt.response, "HTTP/1.1 "+he.Status+"\r\n") {
				t.Errorf("Status = %q", he.Status)
			}
		})
	}
}

func TestRefusalMessageCutsLongReason(t *testing.T) {
	f := startFake(t, func(*http.Request, string) string {
		return withLength("403 Forbidden", "", strings.Repeat("é", 200)+"\n")
	})
	_, _, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
	if err == nil {
		t.Fatal("dial succeeded")
	}
	_, reason, _ := strings.Cut(err.Error(), "403 Forbidden: ")
	if !strings.HasSuffix(reason, "...") || len(reason) > 120 || len(reason) < 100 || !utf8.ValidString(reason) {
		t.Errorf("reason %q (%d bytes), want about 120 bytes of whole characters ending in ...", reason, len(reason))
	}
}

func TestNotAWebSocketEndpoint(t *testing.T) {
	tests := []struct {
		name, response, path string
		want                 string // ADDR stands for the server's address
	}{
		{"a web page", withLength("200 OK", "Content-Type: text/html; charset=utf-8\r\n", "<!doctype html><title>Home</title>"), "/chat?token=secret",
			"handshake: ws://ADDR/chat is not a WebSocket endpoint: the server answered 200 OK (text/html; charset=utf-8) instead of 101 Switching Protocols"},
		{"204 without a type", withLength("204 No Content", "", ""), "/",
			"handshake: ws://ADDR/ is not a WebSocket endpoint: the server answered 204 No Content instead of 101 Switching Protocols"},
		{"a redirect", withLength("301 Moved Permanently", "Location: wss://elsewhere.example/ws\r\n", "moved"), "/ws",
			"handshake: ws://ADDR/ws is not a WebSocket endpoint: the server answered 301 Moved Permanently, a redirect to wss://elsewhere.example/ws (Dial does not follow redirects)"},
		{"a hostile redirect", withLength("302 Found", "Location: /x\u202e"+strings.Repeat("y", 500)+"\r\n", ""), "/",
			"handshake: ws://ADDR/ is not a WebSocket endpoint: the server answered 302 Found, a redirect to /x" + strings.Repeat("y", 195) + "... (Dial does not follow redirects)"},
		{"a redirect without Location", withLength("304 Not Modified", "", ""), "/",
			"handshake: ws://ADDR/ is not a WebSocket endpoint: the server answered 304 Not Modified (Dial does not follow redirects)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(*http.Request, string) string { return tt.response })
			_, resp, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+tt.path)
			var he *handshake.HandshakeError
			if !errors.As(err, &he) || !errors.Is(err, handshake.ErrBadStatus) || resp == nil || he.StatusCode != resp.StatusCode {
				t.Fatalf("err = %v, want a *HandshakeError matching ErrBadStatus", err)
			}
			checkOneLine(t, err.Error(), 400)
			if want := strings.ReplaceAll(tt.want, "ADDR", f.addr); err.Error() != want {
				t.Errorf("message\n%q, want\n%q", err, want)
			}
		})
	}
}

func TestHandshakeErrorMessage(t *testing.T) {
	tests := []struct {
		e    *handshake.HandshakeError
		want string
	}{
		{&handshake.HandshakeError{StatusCode: 404, Status: "404 Not\x1b[31mFound\r\n", Err: handshake.ErrBadStatus, Body: []byte("no such\x1b[0m room\n")},
			"handshake: server refused the upgrade: 404 NotFound: no such room"},
		{&handshake.HandshakeError{StatusCode: 403, Err: handshake.ErrBadStatus},
			"handshake: server refused the upgrade: 403"},
		{&handshake.HandshakeError{StatusCode: 200, Status: "200 OK", Err: handshake.ErrBadStatus},
			"handshake: the URL is not a WebSocket endpoint: the server answered 200 OK instead of 101 Switching Protocols"},
		{&handshake.HandshakeError{StatusCode: 101, Status: "101 Switching Protocols", Err: handshake.ErrBadAccept},
			"handshake: bad Sec-WebSocket-Accept (status 101 Switching Protocols)"},
		{&handshake.HandshakeError{StatusCode: 407, Status: "407 Proxy Authentication Required", Err: fmt.Errorf("%w: CONNECT x:80 refused", handshake.ErrProxy), Body: []byte("credentials required")},
			"handshake: proxy failed: CONNECT x:80 refused: 407 Proxy Authentication Required: credentials required"},
		{&handshake.HandshakeError{}, "handshake: failed"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	e := tests[0].e
	if !errors.Is(e, handshake.ErrBadStatus) || errors.Is(e, handshake.ErrProxy) {
		t.Error("errors.Is does not follow Err")
	}
	if !bytes.Equal(e.Body, []byte("no such\x1b[0m room\n")) {
		t.Error("Error changed Body")
	}
}

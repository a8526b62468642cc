package handshake

import (
	"bytes"
	"errors"
	"testing"
)

func TestUpgradeOrHandOff(t *testing.T) {
	upgrade := "GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	cases := []struct {
		name, req string
		handOff   bool
	}{
		{"upgrade for the path", upgrade, false},
		{"plain GET", "GET /ws HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"upgrade for another path", "GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", true},
		{"another protocol", "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n", true},
		{"POST", "POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", true},
	}
	for _, tc := range cases {
		c := &memConn{req: []byte(tc.req)}
		_, err := (&Server{}).UpgradeOrHandOff(c, "/ws", nil)
		var ho *HandOffError
		switch {
		case tc.handOff && !errors.As(err, &ho):
			t.Errorf("%s: got %v, want a hand-off", tc.name, err)
		case tc.handOff && !bytes.Equal(ho.Head, []byte(tc.req)):
			t.Errorf("%s: handed off %q, want every byte read: %q", tc.name, ho.Head, tc.req)
		case !tc.handOff && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// A bad upgrade for the path is refused, not handed off.
	bad := bytes.Replace([]byte(upgrade), []byte("13"), []byte("8"), 1)
	if _, err := (&Server{}).UpgradeOrHandOff(&memConn{req: bad}, "/ws", nil); !errors.Is(err, ErrBadVersion) {
		t.Errorf("bad version: %v", err)
	}
}

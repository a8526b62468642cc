package layers

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseClose(t *testing.T) {
	code := func(c uint16, reason string) []byte { return append([]byte{byte(c >> 8), byte(c)}, reason...) }
	t.Run("empty", func(t *testing.T) {
		c, r, err := ParseClose(nil)
		if c != 1005 || r != nil || err != nil {
			t.Fatalf("ParseClose(nil) = %d, %q, %v", c, r, err)
		}
	})
	t.Run("one byte", func(t *testing.T) {
		_, _, err := ParseClose([]byte{0x03})
		if !errors.Is(err, ErrProtocol) || CloseCodeFor(err) != 1002 {
			t.Fatalf("err %v", err)
		}
	})
	for _, c := range []uint16{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		_, _, err := ParseClose(code(c, "x"))
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("code %d: err %v, want ErrProtocol", c, err)
		}
		if CloseCode(c).ValidOnWire() {
			t.Errorf("code %d ValidOnWire", c)
		}
	}
	valid := []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	for _, c := range valid {
		for _, reason := range []string{"", "bye", "κόσμε", strings.Repeat("r", 123)} {
			p := code(c, reason)
			got, r, err := ParseClose(p)
			if err != nil || uint16(got) != c || string(r) != reason {
				t.Errorf("code %d reason %q: %d, %q, %v", c, reason, got, r, err)
			}
			if len(r) > 0 && &r[0] != &p[2] {
				t.Errorf("reason does not alias the payload")
			}
		}
		if !CloseCode(c).ValidOnWire() {
			t.Errorf("code %d not ValidOnWire", c)
		}
	}
	// Every code: ParseClose accepts exactly those ValidOnWire reports.
	for c := 0; c < 1<<16; c++ {
		want := c >= 1000 && c <= 1003 || c >= 1007 && c <= 1014 || c >= 3000 && c <= 4999
		_, _, err := ParseClose(code(uint16(c), ""))
		if (err == nil) != want || CloseCode(c).ValidOnWire() != want {
			t.Fatalf("code %d: err %v, ValidOnWire %v, want valid %v", c, err, CloseCode(c).ValidOnWire(), want)
		}
	}
	for _, reason := range []string{"\xff", "ok\xed\xa0\x80", "\xc0\x80", "trunc\xe2\x82"} {
		_, _, err := ParseClose(code(1000, reason))
		if !errors.Is(err, ErrInvalidUTF8) || CloseCodeFor(err) != 1007 {
			t.Errorf("reason %q: err %v, want ErrInvalidUTF8", reason, err)
		}
	}
}

func TestAppendClose(t *testing.T) {
	tests := []struct {
		code   CloseCode
		reason string
		want   []byte
	}{
		{CloseNormal, "", []byte{0x03, 0xe8}},
		{CloseGoingAway, "bye", []byte{0x03, 0xe9, 'b', 'y', 'e'}},
		{4999, "", []byte{0x13, 0x87}},
		{CloseNoStatus, "ignored", nil},
	}
	for _, tc := range tests {
		got := AppendClose([]byte("pre"), tc.code, tc.reason)
		if !bytes.Equal(got, append([]byte("pre"), tc.want...)) {
			t.Errorf("AppendClose(%d, %q) = % x", tc.code, tc.reason, got)
		}
	}
	// Round trip through ParseClose.
	c, r, err := ParseClose(AppendClose(nil, CloseMessageTooBig, "too big"))
	if err != nil || c != CloseMessageTooBig || string(r) != "too big" {
		t.Fatalf("round trip: %d %q %v", c, r, err)
	}
}

// A long reason is cut to fit a control frame, at a code point boundary,
// keeping as much as fits.
func TestAppendCloseTruncation(t *testing.T) {
	units := []string{"a", "é", "€", "𝄞"}
	for _, u1 := range units {
		for _, u2 := range units {
			for pre := 0; pre < 8; pre++ {
				reason := strings.Repeat("x", pre) + strings.Repeat(u1+u2, 80)
				p := AppendClose(nil, CloseNormal, reason)
				if len(p) > MaxControlPayload {
					t.Fatalf("payload %d bytes", len(p))
				}
				r := p[2:]
				if !utf8.Valid(r) {
					t.Fatalf("reason cut inside a code point: % x", r[len(r)-4:])
				}
				if !strings.HasPrefix(reason, string(r)) {
					t.Fatal("reason is not a prefix of the input")
				}
				// Nothing more would have fitted.
				next, _ := utf8.DecodeRuneInString(reason[len(r):])
				if len(r)+utf8.RuneLen(next) <= MaxControlPayload-2 {
					t.Fatalf("cut at %d, but the next rune (%d bytes) fits", len(r), utf8.RuneLen(next))
				}
				if _, _, err := ParseClose(p); err != nil {
					t.Fatalf("truncated payload does not parse: %v", err)
				}
			}
		}
	}
	// Exactly 123 bytes is kept whole.
	reason := strings.Repeat("€", 41) // 123 bytes
	if p := AppendClose(nil, CloseNormal, reason); string(p[2:]) != reason {
		t.Fatalf("123-byte reason changed to %d bytes", len(p)-2)
	}
}

func TestCloseCodeString(t *testing.T) {
	tests := map[CloseCode]string{
		1000: "1000 normal closure", 1002: "1002 protocol error", 1005: "1005 no status",
		1009: "1009 message too big", 1015: "1015 TLS handshake", 4000: "4000", 0: "0",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint16(c), got, want)
		}
	}
}

// CloseReason is what AppendClose sends: the whole reason when it fits,
// else cut at a UTF-8 boundary to fit a control frame; nothing without a
// code.
func TestCloseReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	cases := []struct {
		code   CloseCode
		reason string
		want   string
	}{
		{CloseNormal, "bye", "bye"},
		{CloseNormal, strings.Repeat("x", 123), strings.Repeat("x", 123)},
		{CloseNormal, strings.Repeat("x", 124), strings.Repeat("x", 123)},
		{CloseGoingAway, long, strings.Repeat("é", 61)}, // 122 bytes: 123 would split one
		{CloseNoStatus, "ignored", ""},
	}
	for _, tc := range cases {
		got := CloseReason(tc.code, tc.reason)
		if got != tc.want {
			t.Errorf("CloseReason(%d, %d bytes) = %d bytes, want %d", tc.code, len(tc.reason), len(got), len(tc.want))
		}
		p := AppendClose(nil, tc.code, tc.reason)
		if tc.code == CloseNoStatus {
			if len(p) != 0 {
				t.Errorf("AppendClose(CloseNoStatus) = %d bytes", len(p))
			}
			continue
		}
		if string(p[2:]) != got {
			t.Errorf("AppendClose sends %q..., CloseReason says %q...", p[2:min(len(p), 12)], got[:min(len(got), 10)])
		}
	}
}

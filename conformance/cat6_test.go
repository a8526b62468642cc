package conformance

import (
	"fmt"
	"testing"
	"time"
	"unicode/utf8"
)

// Category 6: UTF-8 handling. Valid text is echoed however it is
// fragmented; invalid text fails the connection with 1007, and fails it
// fast: as soon as the first invalid byte arrives, not at the end of the
// frame or message.
func TestCategory6(t *testing.T)       { runCases(t, category6()) }
func TestClientCategory6(t *testing.T) { runClientCases(t, clientCases(category6())) }

// kosme is "κόσμε", the sample text of Markus Kuhn's UTF-8 decoder test,
// which the 6.x tables are drawn from.
const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

// invalidAt12 is kosme followed by the UTF-8 integer encoding of 0x110000,
// which is out of range: the octet at index 12 (0x90) makes it invalid.
const invalidAt12 = kosme + "\xf4\x90\x80\x80" + "edited"

// surrogateText is kosme, a UTF-16 surrogate (invalid at its second octet,
// index 12), then ASCII.
const surrogateText = kosme + "\xed\xa0\x80" + "edited"

func category6() []testCase {
	hello := "Hello-µ@ßöäüàá-UTF-8!!"
	// chopAt writes the frame of p as three chops: up to at, the octets
	// [at, upto), and the rest once the peer had its chance to fail.
	chopAt := func(c *endpoint, p []byte, at, upto int) {
		w := c.encode(text(p))
		h := len(w) - len(p)
		c.write(w[:h+at])
		if !c.expectNothing(time.Second) {
			return
		}
		c.write(w[h+at : h+upto])
		c.failFast("the chop with the invalid octet", func() { c.write(w[h+upto:]) })
	}
	// fragmentAt sends p as three fragments split the same way.
	fragmentAt := func(c *endpoint, p []byte, at, upto int) {
		c.send(data(opText, false, p[:at]))
		if !c.expectNothing(time.Second) {
			return
		}
		c.send(cont(false, p[at:upto]))
		c.failFast("the frame with the invalid octet", func() { c.send(cont(true, p[upto:])) })
	}
	cases := []testCase{
		{id: "6.1.1", desc: "Send a text message with an empty payload; expect it echoed.", run: func(c *endpoint) {
			c.send(text(nil))
			c.echoThenClose(textMsg(nil))
		}},
		{id: "6.1.2", desc: "Send a text message in 3 empty fragments; expect an empty message echoed.", run: func(c *endpoint) {
			c.send(data(opText, false, nil), cont(false, nil), cont(true, nil))
			c.echoThenClose(textMsg(nil))
		}},
		{id: "6.1.3", desc: "Send a text message in 3 fragments, the first and last empty; expect the middle payload echoed.", run: func(c *endpoint) {
			p := b("middle frame payload")
			c.send(data(opText, false, nil), cont(false, p), cont(true, nil))
			c.echoThenClose(textMsg(p))
		}},
		{id: "6.2.1", desc: "Send valid UTF-8 text in one frame; expect it echoed.", run: func(c *endpoint) {
			c.send(text(b(hello)))
			c.echoThenClose(textMsg(b(hello)))
		}},
		{id: "6.2.2", desc: "Send valid UTF-8 text in 2 fragments split on a code point boundary; expect it echoed.", run: func(c *endpoint) {
			c.send(data(opText, false, b("Hello-µ@ßöä")), cont(true, b("üàá-UTF-8!!")))
			c.echoThenClose(textMsg(b(hello)))
		}},
		{id: "6.2.3", desc: "Send valid UTF-8 text in 1-octet fragments, splitting code points; expect it echoed.", run: func(c *endpoint) {
			c.send(fragments(opText, b(hello), 1)...)
			c.echoThenClose(textMsg(b(hello)))
		}},
		{id: "6.2.4", desc: "Send valid UTF-8 text (κόσμε) in 1-octet fragments, splitting code points; expect it echoed.", run: func(c *endpoint) {
			c.send(fragments(opText, b(kosme), 1)...)
			c.echoThenClose(textMsg(b(kosme)))
		}},
		{id: "6.3.1", desc: "Send invalid UTF-8 text in one frame; the peer fails the connection with 1007.", run: func(c *endpoint) {
			c.send(text(b(surrogateText)))
			c.expectFailure(failTimeout, 1007)
		}},
		// Autobahn sends all the frames of 6.3.2 at once. Here the frames
		// after the one holding the invalid octet wait until the peer has
		// failed the connection, which a fail-fast peer does at once.
		{id: "6.3.2", desc: "Send invalid UTF-8 text in 1-octet fragments; the peer fails the connection with 1007 once the fragment with the invalid octet (index 12) arrives, before the rest is sent.", run: func(c *endpoint) {
			fs := fragments(opText, b(surrogateText), 1)
			c.send(fs[:13]...)
			c.failFast("the 1-octet fragment with the invalid octet", func() { c.send(fs[13:]...) })
		}},
		{id: "6.4.1", desc: "Send invalid UTF-8 text in 3 frames: a valid first frame, a 1 s pause, the frame that makes it invalid, a 1 s pause, the rest. The first frame must be accepted; the second must fail the connection with 1007 at once, before the third is sent.", timeout: 30 * time.Second, run: func(c *endpoint) {
			fragmentAt(c, b(invalidAt12), 11, 15)
		}},
		{id: "6.4.2", desc: "As 6.4.1, but the second frame holds only the invalid octet; it must fail the connection with 1007 at once.", timeout: 30 * time.Second, run: func(c *endpoint) {
			fragmentAt(c, b(invalidAt12), 12, 13)
		}},
		{id: "6.4.3", desc: "As 6.4.1, but as 3 chops of one frame: the chop with the invalid octet must fail the connection with 1007 at once, in the middle of the frame.", timeout: 30 * time.Second, run: func(c *endpoint) {
			chopAt(c, b(invalidAt12), 11, 15)
		}},
		{id: "6.4.4", desc: "As 6.4.3, but the second chop holds only the invalid octet; it must fail the connection with 1007 at once, in the middle of the frame.", timeout: 30 * time.Second, run: func(c *endpoint) {
			chopAt(c, b(invalidAt12), 12, 13)
		}},
	}
	for gi, g := range utf8Groups() {
		for i, s := range g.payloads {
			p := b(s)
			tc := testCase{id: fmt.Sprintf("6.%d.%d", gi+5, i+1)}
			if utf8.Valid(p) {
				tc.desc = fmt.Sprintf("%s: send valid UTF-8 text %x in one frame; expect it echoed.", g.name, p)
				tc.run = func(c *endpoint) {
					c.send(text(p))
					c.echoThenClose(textMsg(p))
				}
			} else {
				tc.desc = fmt.Sprintf("%s: send invalid UTF-8 text %x in one frame; the peer fails the connection with 1007.", g.name, p)
				tc.run = func(c *endpoint) {
					c.send(text(p))
					c.expectFailure(failTimeout, 1007)
				}
			}
			cases = append(cases, tc)
		}
	}
	return cases
}

// utf8Group is one of the sub-categories 6.5 to 6.23: payloads sent as one
// text frame each. Whether a payload is valid is decided by RFC 3629 as
// unicode/utf8 implements it, which is how Autobahn classifies them too:
// overlong forms, surrogates, code points past U+10FFFF, 5- and 6-octet
// forms and truncated sequences are invalid; noncharacters and specials
// are valid.
type utf8Group struct {
	name     string
	payloads []string
}

// utf8Groups builds the tables of 6.5 to 6.23, in Autobahn's order, from
// the sections of Markus Kuhn's UTF-8 decoder test.
func utf8Groups() []utf8Group {
	var prefixes []string
	for n := 1; n <= len(kosme); n++ {
		prefixes = append(prefixes, kosme[:n])
	}

	// Every continuation octet from 0x80 up to, not including, 0xbf.
	var continuations []byte
	for c := byte(0x80); c < 0xbf; c++ {
		continuations = append(continuations, c)
	}

	// Each start octet of a range followed by a space.
	lonely := func(lo, hi byte) string {
		var s []byte
		for c := lo; c < hi; c++ {
			s = append(s, c, ' ')
		}
		return string(s)
	}

	lastMissing := []string{
		"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf",
	}
	var concatenated string
	for _, s := range lastMissing {
		concatenated += s
	}

	// Noncharacters: U+FFFE, U+FFFF, and the last two code points of
	// planes 1 to 16 (F[0-4] [89AB]F BF BE/BF, skipping F0 8F, which is
	// overlong, and F4 above 8F, which is past U+10FFFF).
	nonchars := []string{"\xef\xbf\xbe", "\xef\xbf\xbf"}
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f || z1 == 0xf0 && z2 == 0x8f {
				continue
			}
			for _, z3 := range []byte{0xbe, 0xbf} {
				nonchars = append(nonchars, string([]byte{z1, z2, 0xbf, z3}))
			}
		}
	}

	return []utf8Group{
		{"6.5 some valid UTF-8 sequences", []string{
			"hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld", "hello\xf0\xa4\xad\xa2world", kosme,
		}},
		{"6.6 all prefixes of a valid UTF-8 string with multi-octet code points", prefixes},
		{"6.7 first possible sequence of each length", []string{
			"\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
		}},
		{"6.8 first possible sequence of length 5 and 6 (invalid code points)", []string{
			"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80",
		}},
		{"6.9 last possible sequence of each length", []string{
			"\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
		}},
		{"6.10 last possible sequence of length 4, 5 and 6 (invalid code points)", []string{
			"\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf",
		}},
		{"6.11 other boundary conditions", []string{
			"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		}},
		{"6.12 unexpected continuation octets", []string{
			"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf", "\x80\xbf\x80\xbf\x80",
			"\x80\xbf\x80\xbf\x80\xbf", string(continuations),
		}},
		{"6.13 lonely start octets", []string{
			lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd),
		}},
		{"6.14 sequences with the last continuation octet missing", lastMissing},
		{"6.15 concatenation of incomplete sequences", []string{concatenated}},
		{"6.16 impossible octets", []string{"\xfe", "\xff", "\xfe\xfe\xff\xff"}},
		{"6.17 overlong ASCII character", []string{
			"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf",
		}},
		{"6.18 maximum overlong sequences", []string{
			"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf",
		}},
		{"6.19 overlong NUL character", []string{
			"\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80",
		}},
		{"6.20 single UTF-16 surrogates", []string{
			"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf",
		}},
		{"6.21 paired UTF-16 surrogates", []string{
			"\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf", "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
			"\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf", "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf",
		}},
		{"6.22 noncharacters (valid UTF-8)", nonchars},
		{"6.23 Unicode specials (valid UTF-8)", []string{
			"\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf",
		}},
	}
}

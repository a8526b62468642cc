package conformance

// permessage-deflate (RFC 7692) for categories 12 and 13, both directions:
// the suite's own extension header parser, its judge of negotiation offers
// and answers, its compressor and decompressor, and a DEFLATE scanner that
// checks every back-reference against the negotiated window. None of it
// uses wspipe: compression is compress/flate from the standard library
// (and klauspost/compress/flate's window-limited encoder for windows below
// 15 bits), decompression is compress/flate, and the scanner is written
// here from RFC 1951, so the suite stays an independent judge.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"compress/flate"

	kflate "github.com/klauspost/compress/flate"
)

// ---------------------------------------------------------------------
// Sec-WebSocket-Extensions (RFC 6455 section 9.1).

// pmdParam is one extension parameter as written.
type pmdParam struct {
	name, value string
	hasValue    bool
}

// pmdExt is one element of an extension list: a name and its parameters.
type pmdExt struct {
	name   string
	params []pmdParam
}

func (e pmdExt) String() string {
	var sb strings.Builder
	sb.WriteString(e.name)
	for _, p := range e.params {
		sb.WriteString("; ")
		sb.WriteString(p.name)
		if p.hasValue {
			sb.WriteString("=")
			sb.WriteString(p.value)
		}
	}
	return sb.String()
}

// formatExts renders an extension list as one header value.
func formatExts(exts []pmdExt) string {
	s := make([]string, len(exts))
	for i, e := range exts {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

func isTChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseExtHeader parses the values of Sec-WebSocket-Extensions header
// lines: extension = token *( OWS ";" OWS param ), param = token [ "="
// (token / quoted-string) ], elements separated by commas. Empty list
// elements are skipped, as RFC 7230 section 7 asks of recipients. A
// quoted value is returned unquoted.
func parseExtHeader(values []string) ([]pmdExt, error) {
	var out []pmdExt
	for _, v := range values {
		i := 0
		ows := func() {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
		}
		token := func() string {
			j := i
			for i < len(v) && isTChar(v[i]) {
				i++
			}
			return v[j:i]
		}
		bad := func(what string) error {
			return fmt.Errorf("%q: %s at offset %d", v, what, i)
		}
		for {
			ows()
			if i == len(v) {
				break
			}
			if v[i] == ',' {
				i++
				continue
			}
			var e pmdExt
			if e.name = token(); e.name == "" {
				return nil, bad("an extension name expected")
			}
			for {
				ows()
				if i == len(v) || v[i] == ',' {
					break
				}
				if v[i] != ';' {
					return nil, bad("';' or ',' expected")
				}
				i++
				ows()
				var p pmdParam
				if p.name = token(); p.name == "" {
					return nil, bad("a parameter name expected")
				}
				ows()
				if i < len(v) && v[i] == '=' {
					i++
					ows()
					p.hasValue = true
					if i < len(v) && v[i] == '"' {
						i++
						var sb strings.Builder
						for {
							if i == len(v) {
								return nil, bad("unterminated quoted string")
							}
							c := v[i]
							i++
							if c == '"' {
								break
							}
							if c == '\\' {
								if i == len(v) {
									return nil, bad("unterminated quoted pair")
								}
								c = v[i]
								i++
							}
							sb.WriteByte(c)
						}
						p.value = sb.String()
					} else if p.value = token(); p.value == "" {
						return nil, bad("a parameter value expected")
					}
				}
				e.params = append(e.params, p)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------
// Negotiation (RFC 7692 section 7.1).

const pmdName = "permessage-deflate"

// pmdNeg is one permessage-deflate offer or answer as written: which
// parameters it holds. serverBits and clientBits are 0 when absent;
// clientBits is -1 for client_max_window_bits without a value (offers only).
type pmdNeg struct {
	serverNoCtx, clientNoCtx bool
	serverBits, clientBits   int
}

// ext writes n as an extension, parameters in the order Autobahn writes
// an offer's, then an answer's.
func (n pmdNeg) ext() pmdExt {
	e := pmdExt{name: pmdName}
	if n.clientNoCtx {
		e.params = append(e.params, pmdParam{name: "client_no_context_takeover"})
	}
	if n.clientBits < 0 {
		e.params = append(e.params, pmdParam{name: "client_max_window_bits"})
	}
	if n.serverNoCtx {
		e.params = append(e.params, pmdParam{name: "server_no_context_takeover"})
	}
	if n.serverBits > 0 {
		e.params = append(e.params, pmdParam{name: "server_max_window_bits", value: strconv.Itoa(n.serverBits), hasValue: true})
	}
	if n.clientBits > 0 {
		e.params = append(e.params, pmdParam{name: "client_max_window_bits", value: strconv.Itoa(n.clientBits), hasValue: true})
	}
	return e
}

// autobahnOffer is the offer Autobahn's client writes for
// PerMessageDeflateOffer(requestNoContextTakeover, requestMaxWindowBits)
// with its other arguments left at their defaults (acceptNoContextTakeover
// and acceptMaxWindowBits true): "permessage-deflate;
// client_no_context_takeover; client_max_window_bits" and then
// server_no_context_takeover and server_max_window_bits=N as requested.
// Under RFC 7692 the offered client_no_context_takeover is the client's
// word that it compresses each message on its own, and the suite keeps it.
func autobahnOffer(requestNoCtx bool, requestBits int) pmdNeg {
	return pmdNeg{clientNoCtx: true, clientBits: -1, serverNoCtx: requestNoCtx, serverBits: requestBits}
}

// plainOffer is "permessage-deflate" with no parameter: RFC 7692's
// defaults, context takeover both ways and 15-bit windows unless the
// server limits its own.
var plainOffer = pmdNeg{}

// windowBitsValue parses a window-bits value: 8 to 15 in decimal, without
// leading zeroes (RFC 7692 section 7.1.2).
func windowBitsValue(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// parsePMD checks one permessage-deflate element strictly: known
// parameters, each at most once, no value on the no_context_takeover ones,
// a valid value on the max_window_bits ones (client_max_window_bits may
// go without one in an offer only).
func parsePMD(e pmdExt, answer bool) (pmdNeg, error) {
	var n pmdNeg
	if e.name != pmdName {
		return n, fmt.Errorf("extension %q is not %s", e.name, pmdName)
	}
	seen := map[string]bool{}
	for _, p := range e.params {
		if seen[p.name] {
			return n, fmt.Errorf("parameter %s appears twice", p.name)
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return n, fmt.Errorf("parameter %s has the value %q but takes none", p.name, p.value)
			}
			if p.name[0] == 's' {
				n.serverNoCtx = true
			} else {
				n.clientNoCtx = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			if !p.hasValue {
				if p.name[0] == 's' || answer {
					return n, fmt.Errorf("parameter %s needs a value", p.name)
				}
				n.clientBits = -1
				continue
			}
			b, ok := windowBitsValue(p.value)
			if !ok {
				return n, fmt.Errorf("parameter %s has the invalid value %q (8 to 15 without leading zeroes)", p.name, p.value)
			}
			if p.name[0] == 's' {
				n.serverBits = b
			} else {
				n.clientBits = b
			}
		default:
			return n, fmt.Errorf("unknown parameter %q", p.name)
		}
	}
	return n, nil
}

// answerProblem says why answer is not a valid answer to offer (RFC 7692
// sections 7.1.1 and 7.1.2), or "".
func answerProblem(offer, answer pmdNeg) string {
	switch {
	case offer.serverNoCtx && !answer.serverNoCtx:
		return "server_no_context_takeover was offered but not answered (accepting the offer means including it, 7.1.1.1)"
	case offer.serverBits > 0 && answer.serverBits == 0:
		return fmt.Sprintf("server_max_window_bits=%d was offered but not answered (7.1.2.1)", offer.serverBits)
	case offer.serverBits > 0 && answer.serverBits > offer.serverBits:
		return fmt.Sprintf("server_max_window_bits=%d is above the offered %d (7.1.2.1)", answer.serverBits, offer.serverBits)
	case answer.clientBits > 0 && offer.clientBits == 0:
		return "client_max_window_bits is answered but was not offered (7.1.2.2)"
	case answer.clientBits > 0 && offer.clientBits > 0 && answer.clientBits > offer.clientBits:
		return fmt.Sprintf("client_max_window_bits=%d is above the offered %d (7.1.2.2)", answer.clientBits, offer.clientBits)
	}
	return ""
}

// pmdParams are the parameters both ends use once negotiated.
type pmdParams struct {
	serverNoCtx, clientNoCtx bool
	serverBits, clientBits   int
}

// negotiated derives the parameters from a valid answer to offer: the
// answer's, plus what the offer binds the client to (an offered
// client_no_context_takeover, an offered client_max_window_bits value).
func negotiated(offer, answer pmdNeg) pmdParams {
	p := pmdParams{serverNoCtx: answer.serverNoCtx, clientNoCtx: answer.clientNoCtx || offer.clientNoCtx, serverBits: 15, clientBits: 15}
	if answer.serverBits > 0 {
		p.serverBits = answer.serverBits
	}
	switch {
	case answer.clientBits > 0:
		p.clientBits = answer.clientBits
	case offer.clientBits > 0:
		p.clientBits = offer.clientBits
	}
	return p
}

func (p pmdParams) String() string {
	way := func(bits int, noCtx bool) string {
		if noCtx {
			return fmt.Sprintf("%d-bit window, no context takeover", bits)
		}
		return fmt.Sprintf("%d-bit window, context takeover", bits)
	}
	return "server to client: " + way(p.serverBits, p.serverNoCtx) + "; client to server: " + way(p.clientBits, p.clientNoCtx)
}

// judgeAnswer checks the server's Sec-WebSocket-Extensions against the
// offers: exactly one permessage-deflate element and nothing else, valid on
// its own and a valid answer to one of the offers (the first it answers
// validly is taken as the accepted one). It returns the parameters, or
// what is wrong.
func judgeAnswer(offers []pmdNeg, header []string) (pmdParams, string) {
	exts, err := parseExtHeader(header)
	if err != nil {
		return pmdParams{}, fmt.Sprintf("Sec-WebSocket-Extensions %q does not parse: %v", header, err)
	}
	switch {
	case len(exts) == 0:
		return pmdParams{}, fmt.Sprintf("no Sec-WebSocket-Extensions in the response: the server declined %s (offered: %s)", pmdName, formatExts(offerExts(offers)))
	case len(exts) > 1:
		return pmdParams{}, fmt.Sprintf("Sec-WebSocket-Extensions %q: %d extensions accepted, but only one %s was offered", header, len(exts), pmdName)
	}
	answer, err := parsePMD(exts[0], true)
	if err != nil {
		return pmdParams{}, fmt.Sprintf("Sec-WebSocket-Extensions %q: %v", header, err)
	}
	var problems []string
	for i, o := range offers {
		p := answerProblem(o, answer)
		if p == "" {
			return negotiated(o, answer), ""
		}
		problems = append(problems, fmt.Sprintf("to offer %d (%s): %s", i+1, o.ext(), p))
	}
	return pmdParams{}, fmt.Sprintf("Sec-WebSocket-Extensions %q is not a valid answer %s", header, strings.Join(problems, "; "))
}

func offerExts(offers []pmdNeg) []pmdExt {
	exts := make([]pmdExt, len(offers))
	for i, o := range offers {
		exts[i] = o.ext()
	}
	return exts
}

// acceptRule is one of Autobahn's server accept functions for category
// 13: accept the first offer that allows what the server requests of the
// client, answering the offer's server parameters as offered and adding
// client_no_context_takeover and client_max_window_bits=N as requested.
// Autobahn takes every offer as allowing client_no_context_takeover; a
// requested client_max_window_bits needs one in the offer.
type acceptRule struct {
	requestNoCtx bool
	requestBits  int // 0: not requested
}

// accept applies the rules in order (accept7 tries three) and returns the
// answer and the index of the accepted offer.
func accept(rules []acceptRule, offers []pmdNeg) (pmdNeg, int, bool) {
	for _, r := range rules {
		for i, o := range offers {
			if r.requestBits > 0 && o.clientBits == 0 {
				continue
			}
			return pmdNeg{serverNoCtx: o.serverNoCtx, serverBits: o.serverBits, clientNoCtx: r.requestNoCtx, clientBits: r.requestBits}, i, true
		}
	}
	return pmdNeg{}, 0, false
}

// answerExt writes an answer as Autobahn's server does: the server
// parameters first, then the client ones.
func answerExt(a pmdNeg) pmdExt {
	e := pmdExt{name: pmdName}
	if a.serverNoCtx {
		e.params = append(e.params, pmdParam{name: "server_no_context_takeover"})
	}
	if a.serverBits > 0 {
		e.params = append(e.params, pmdParam{name: "server_max_window_bits", value: strconv.Itoa(a.serverBits), hasValue: true})
	}
	if a.clientNoCtx {
		e.params = append(e.params, pmdParam{name: "client_no_context_takeover"})
	}
	if a.clientBits > 0 {
		e.params = append(e.params, pmdParam{name: "client_max_window_bits", value: strconv.Itoa(a.clientBits), hasValue: true})
	}
	return e
}

// ---------------------------------------------------------------------
// DEFLATE scanner (RFC 1951). It decodes the block structure and every
// Huffman code but produces no output: it counts the bytes the stream
// stands for and checks each back-reference, which is what the window
// parameters are about and what a decompressor with a 32 KiB history
// cannot tell.

// deflateError is malformed DEFLATE data or a back-reference the
// negotiated parameters do not allow.
type deflateError string

func (e deflateError) Error() string { return string(e) }

func deflateErrorf(format string, a ...any) error { return deflateError(fmt.Sprintf(format, a...)) }

var errDeflateTruncated = deflateError("the data ends inside a DEFLATE block (a message must end with the empty stored block of a sync flush, its 00 00 ff ff removed)")

type bitReader struct {
	p    []byte
	pos  int    // next byte of p to load
	bits uint64 // loaded bits, least significant first
	n    uint   // number of loaded bits
}

func (b *bitReader) fill(k uint) {
	for b.n < k && b.pos < len(b.p) {
		b.bits |= uint64(b.p[b.pos]) << b.n
		b.pos++
		b.n += 8
	}
}

func (b *bitReader) take(k uint) (int, error) {
	b.fill(k)
	if b.n < k {
		return 0, errDeflateTruncated
	}
	v := int(b.bits & (1<<k - 1))
	b.bits >>= k
	b.n -= k
	return v, nil
}

// align drops the bits up to the next byte boundary and gives back the
// whole bytes still loaded, so that reading goes on from p[pos].
func (b *bitReader) align() {
	b.pos -= int(b.n / 8)
	b.bits, b.n = 0, 0
}

// huffTable decodes one canonical Huffman code by a lookup of maxLen bits
// (bit-reversed, as DEFLATE packs codes): each entry is symbol<<4 | length,
// 0 where no code matches.
type huffTable struct {
	maxLen  uint
	entries []uint16
}

func buildHuff(lengths []uint8) (huffTable, error) {
	var count [16]int
	var maxLen uint
	for _, l := range lengths {
		if l > 15 {
			return huffTable{}, deflateErrorf("code length %d", l)
		}
		count[l]++
		maxLen = max(maxLen, uint(l))
	}
	count[0] = 0
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return huffTable{}, deflateError("an over-subscribed Huffman code")
		}
	}
	var next [16]int
	code := 0
	for l := 1; l <= 15; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	h := huffTable{maxLen: maxLen, entries: make([]uint16, 1<<maxLen)}
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		rev := int(bits.Reverse16(uint16(next[l])) >> (16 - l))
		next[l]++
		for j := rev; j < len(h.entries); j += 1 << l {
			h.entries[j] = uint16(sym)<<4 | uint16(l)
		}
	}
	return h, nil
}

func (b *bitReader) decode(h *huffTable) (int, error) {
	if h.maxLen == 0 {
		return 0, deflateError("a symbol of an empty Huffman code")
	}
	b.fill(h.maxLen)
	e := h.entries[b.bits&(1<<h.maxLen-1)]
	l := uint(e & 15)
	switch {
	case l == 0 && b.n < h.maxLen:
		return 0, errDeflateTruncated
	case l == 0:
		return 0, deflateError("a bit sequence that is no code of an incomplete Huffman code")
	case l > b.n:
		return 0, errDeflateTruncated
	}
	b.bits >>= l
	b.n -= l
	return int(e >> 4), nil
}

// Length and distance codes (RFC 1951 section 3.2.5).
var (
	lenBase, lenExtra   [29]int
	distBase, distExtra [30]int
	fixedLit, fixedDist huffTable
	clOrder             = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

func init() {
	base := 3
	for i := range 28 {
		if i >= 8 {
			lenExtra[i] = (i - 4) / 4
		}
		lenBase[i] = base
		base += 1 << lenExtra[i]
	}
	lenBase[28], lenExtra[28] = 258, 0
	base = 1
	for i := range 30 {
		if i >= 4 {
			distExtra[i] = (i - 2) / 2
		}
		distBase[i] = base
		base += 1 << distExtra[i]
	}
	var lit [288]uint8
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	var dist [30]uint8
	for i := range dist {
		dist[i] = 5
	}
	fixedLit, _ = buildHuff(lit[:])
	fixedDist, _ = buildHuff(dist[:])
}

// deflateScan is what scanDeflate found in one message.
type deflateScan struct {
	n       int   // bytes the data decompresses to
	maxDist int   // the longest back-reference
	blocks  int   // DEFLATE blocks
	ends    []int // byte offsets just past each block with BFINAL set
}

// scanDeflate walks the DEFLATE data p (a message's payload with 00 00 ff
// ff appended) to its end, which must be the end of a stored block. hist
// is how many bytes of history the message may refer to (0 without
// context takeover) and window the largest distance allowed (1<<bits):
// every back-reference must stay within both.
func scanDeflate(p []byte, hist, window int) (deflateScan, error) {
	var s deflateScan
	b := bitReader{p: p}
	for b.pos < len(p) || b.n > 0 {
		final, err := b.take(1)
		if err != nil {
			return s, err
		}
		typ, err := b.take(2)
		if err != nil {
			return s, err
		}
		s.blocks++
		switch typ {
		case 0:
			b.align()
			if len(p)-b.pos < 4 {
				return s, errDeflateTruncated
			}
			ln := int(p[b.pos]) | int(p[b.pos+1])<<8
			nln := int(p[b.pos+2]) | int(p[b.pos+3])<<8
			if ln != ^nln&0xffff {
				return s, deflateErrorf("a stored block with LEN %#04x and NLEN %#04x, which is not its complement", ln, nln)
			}
			b.pos += 4
			if len(p)-b.pos < ln {
				return s, errDeflateTruncated
			}
			b.pos += ln
			s.n += ln
		case 1:
			if err := scanCodes(&b, &s, &fixedLit, &fixedDist, hist, window); err != nil {
				return s, err
			}
		case 2:
			lit, dist, err := readDynamic(&b)
			if err != nil {
				return s, err
			}
			if err := scanCodes(&b, &s, &lit, &dist, hist, window); err != nil {
				return s, err
			}
		default:
			return s, deflateError("a block of the reserved type 3")
		}
		if final == 1 {
			b.align()
			s.ends = append(s.ends, b.pos)
		}
	}
	return s, nil
}

// readDynamic reads the code tables of a dynamic Huffman block.
func readDynamic(b *bitReader) (lit, dist huffTable, err error) {
	var v [3]int
	for i, k := range []uint{5, 5, 4} {
		if v[i], err = b.take(k); err != nil {
			return
		}
	}
	hlit, hdist, hclen := v[0]+257, v[1]+1, v[2]+4
	if hlit > 286 || hdist > 30 {
		err = deflateErrorf("a dynamic block with %d literal/length and %d distance codes", hlit, hdist)
		return
	}
	var cl [19]uint8
	for i := range hclen {
		x, e := b.take(3)
		if e != nil {
			return lit, dist, e
		}
		cl[clOrder[i]] = uint8(x)
	}
	clTable, err := buildHuff(cl[:])
	if err != nil {
		return
	}
	lengths := make([]uint8, hlit+hdist)
	for i := 0; i < len(lengths); {
		sym, e := b.decode(&clTable)
		if e != nil {
			return lit, dist, e
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var val uint8
		var rep int
		switch sym {
		case 16:
			if i == 0 {
				return lit, dist, deflateError("code length 16 (repeat) with nothing to repeat")
			}
			val = lengths[i-1]
			rep, e = b.take(2)
			rep += 3
		case 17:
			rep, e = b.take(3)
			rep += 3
		default:
			rep, e = b.take(7)
			rep += 11
		}
		if e != nil {
			return lit, dist, e
		}
		if i+rep > len(lengths) {
			return lit, dist, deflateError("code lengths repeated past the end of the tables")
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		err = deflateError("a dynamic block without an end-of-block code")
		return
	}
	if lit, err = buildHuff(lengths[:hlit]); err != nil {
		return
	}
	dist, err = buildHuff(lengths[hlit:])
	return
}

// scanCodes walks the codes of one Huffman block to its end-of-block code.
func scanCodes(b *bitReader, s *deflateScan, lit, dist *huffTable, hist, window int) error {
	for {
		sym, err := b.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
			s.n++
			continue
		case sym == 256:
			return nil
		case sym > 285:
			return deflateErrorf("the invalid length code %d", sym)
		}
		extra, err := b.take(uint(lenExtra[sym-257]))
		if err != nil {
			return err
		}
		length := lenBase[sym-257] + extra
		dsym, err := b.decode(dist)
		if err != nil {
			return err
		}
		if dsym > 29 {
			return deflateErrorf("the invalid distance code %d", dsym)
		}
		if extra, err = b.take(uint(distExtra[dsym])); err != nil {
			return err
		}
		d := distBase[dsym] + extra
		switch {
		case d > window:
			return deflateErrorf("a back-reference %d bytes back at byte %d of the message, beyond the negotiated window of %d bytes", d, s.n, window)
		case d > s.n+hist:
			if hist == 0 && s.n+hist < window {
				return deflateErrorf("a back-reference %d bytes back at byte %d of the message, before its start, with no history to refer to (no context takeover, or none sent yet)", d, s.n)
			}
			return deflateErrorf("a back-reference %d bytes back at byte %d of the message, before the %d bytes of history it may refer to", d, s.n, hist)
		}
		s.maxDist = max(s.maxDist, d)
		s.n += length
	}
}

// ---------------------------------------------------------------------
// The suite's compressor and decompressor.

// tail is what RFC 7692 section 7.2.1 removes from each compressed message
// and section 7.2.2 appends before decompressing.
var tail = []byte{0x00, 0x00, 0xff, 0xff}

// finalBlock is an empty final stored block: appended after the tail, it
// ends the stream for compress/flate's reader.
var finalBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

// flateWriter is what both compress/flate and klauspost's writers offer.
type flateWriter interface {
	io.Writer
	Flush() error
	Reset(io.Writer)
}

// pmdDeflater is the suite's sending side: a DEFLATE stream that lives as
// long as the connection with context takeover, or restarts with every
// message without it. 15-bit windows use compress/flate at its fastest
// level (Autobahn uses zlib's default; the level changes nothing the peer
// must do, and the fastest keeps -race runs short); smaller ones use
// klauspost's window-limited encoder.
type pmdDeflater struct {
	bits     int
	takeover bool
	w        flateWriter
	out      bytes.Buffer
	sent     int // bytes compressed into the current stream
}

func newPMDDeflater(bits int, takeover bool) (*pmdDeflater, error) {
	d := &pmdDeflater{bits: bits, takeover: takeover}
	var err error
	if bits == 15 {
		d.w, err = flate.NewWriter(&d.out, flate.BestSpeed)
	} else {
		d.w, err = kflate.NewWriterWindow(&d.out, 1<<bits)
	}
	return d, err
}

// compress returns msg compressed as the payload of one message. It
// checks its own output with scanDeflate, so a window overrun found later
// is the peer's, not the suite's.
func (d *pmdDeflater) compress(msg []byte) ([]byte, error) {
	d.out.Reset()
	if !d.takeover {
		d.w.Reset(&d.out)
		d.sent = 0
	}
	if _, err := d.w.Write(msg); err != nil {
		return nil, err
	}
	if err := d.w.Flush(); err != nil {
		return nil, err
	}
	z := d.out.Bytes()
	if !bytes.HasSuffix(z, tail) {
		return nil, fmt.Errorf("the suite's compressor: the flushed data does not end with 00 00 ff ff")
	}
	z = bytes.Clone(z[:len(z)-len(tail)])
	s, err := scanDeflate(append(bytes.Clone(z), tail...), min(d.sent, 1<<d.bits), 1<<d.bits)
	if err == nil && s.n != len(msg) {
		err = fmt.Errorf("it stands for %d bytes, not %d", s.n, len(msg))
	}
	if err != nil {
		return nil, fmt.Errorf("the suite's compressor broke its own window of %d bits: %w", d.bits, err)
	}
	d.sent += len(msg)
	return z, nil
}

// pmdInflater is the suite's receiving side: it judges each compressed
// message of the peer against the negotiated window and context takeover
// and decompresses it with compress/flate, given as dictionary only the
// last 1<<bits bytes of the peer's earlier messages, or nothing without
// context takeover.
type pmdInflater struct {
	bits     int
	takeover bool
	hist     []byte // the last 1<<bits bytes of the peer's compressed messages, inflated
	maxDist  int    // the longest back-reference seen
}

// inflate decompresses one message's payload, at most limit bytes.
func (z *pmdInflater) inflate(payload []byte, limit int) ([]byte, error) {
	window := 1 << z.bits
	var dict []byte
	if z.takeover {
		dict = z.hist
	}
	full := append(append(make([]byte, 0, len(payload)+len(tail)+len(finalBlock)), payload...), tail...)
	s, err := scanDeflate(full, len(dict), window)
	if err != nil {
		return nil, err
	}
	if s.n > limit {
		return nil, fmt.Errorf("the message inflates to %d bytes, over this suite's limit of %d", s.n, limit)
	}
	z.maxDist = max(z.maxDist, s.maxDist)
	// compress/flate's reader stops at a block with BFINAL set; RFC 7692
	// lets a message go on after one, with the same history.
	full = append(full, finalBlock...)
	out := make([]byte, 0, s.n)
	start := 0
	for i := 0; i <= len(s.ends); i++ {
		end := len(full)
		if i < len(s.ends) {
			end = s.ends[i]
		}
		d := append(bytes.Clone(dict), out...)
		if len(d) > window {
			d = d[len(d)-window:]
		}
		r := flate.NewReaderDict(bytes.NewReader(full[start:end]), d)
		part, err := io.ReadAll(io.LimitReader(r, int64(limit-len(out)+1)))
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("compress/flate: %v", err)
		}
		out = append(out, part...)
		start = end
	}
	if len(out) != s.n {
		return nil, fmt.Errorf("compress/flate inflated %d bytes where the suite's scanner counted %d (a judge disagreement)", len(out), s.n)
	}
	if z.takeover {
		z.hist = append(z.hist, out...)
		if len(z.hist) > window {
			z.hist = append(z.hist[:0], z.hist[len(z.hist)-window:]...)
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------
// One connection with permessage-deflate, from either end.

// pmdConn is the suite's end of a connection with permessage-deflate
// negotiated: the client in the server direction, the server in the
// client direction. It sends compressed messages and reads and judges the
// peer's: RSV1 on the first frame of a compressed message only (never on
// continuation or control frames, never RSV2 or RSV3), each compressed
// message within the peer's window and context takeover, masking as the
// peer's role requires.
type pmdConn struct {
	nc       net.Conn
	br       *bufio.Reader
	isServer bool   // this end is the server
	peer     string // "server" or "client"
	params   pmdParams
	tx       *pmdDeflater
	rx       *pmdInflater

	keys       maskKeys // the client's mask keys, in the client direction
	compressed int      // the peer's compressed messages
	plain      int      // the peer's uncompressed messages
	dataFrames int      // the frames of the peer's messages
}

func newPMDConn(nc net.Conn, br *bufio.Reader, isServer bool, p pmdParams) (*pmdConn, error) {
	c := &pmdConn{nc: nc, br: br, isServer: isServer, params: p, peer: "server"}
	txBits, txNoCtx, rxBits, rxNoCtx := p.clientBits, p.clientNoCtx, p.serverBits, p.serverNoCtx
	if isServer {
		c.peer = "client"
		txBits, txNoCtx, rxBits, rxNoCtx = rxBits, rxNoCtx, txBits, txNoCtx
	}
	var err error
	c.tx, err = newPMDDeflater(txBits, !txNoCtx)
	c.rx = &pmdInflater{bits: rxBits, takeover: !rxNoCtx}
	return c, err
}

func (c *pmdConn) violationf(format string, a ...any) error {
	return violation{c.peer, fmt.Sprintf(format, a...)}
}

// encode returns f's wire form as this end sends it.
func (c *pmdConn) encode(f frame) []byte {
	if c.isServer {
		return encodeServer(f)
	}
	return f.encode()
}

// sendAsync compresses msg and writes it as one message of opcode op, in
// frames of at most frag payload bytes (0: one frame), RSV1 on the first.
// The write runs on its own goroutine, so that the peer's echo can be read
// while a large message is still being written; the channel yields its
// result.
func (c *pmdConn) sendAsync(op byte, msg []byte, frag int) (<-chan error, error) {
	z, err := c.tx.compress(msg)
	if err != nil {
		return nil, err
	}
	fs := []frame{data(op, true, z)}
	if frag > 0 {
		fs = fragments(op, z, frag)
	}
	fs[0].rsv = 4
	var wire []byte
	for _, f := range fs {
		wire = append(wire, c.encode(f)...)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.nc.Write(wire)
		done <- err
	}()
	return done, nil
}

// readFrame reads one frame of the peer, checking the masking its role
// requires: a client's frames masked with fresh non-zero keys, a server's
// unmasked.
func (c *pmdConn) readFrame() (fin bool, rsv, op byte, p []byte, err error) {
	if !c.isServer {
		h, p, err := readServerFrame(c.br, maxMessage)
		return h.fin, h.rsv, h.opcode, p, err
	}
	h, p, err := readClientFrame(c.br, maxMessage)
	if err != nil {
		return false, 0, 0, nil, err
	}
	if problem := c.keys.check(h); problem != "" {
		return false, 0, 0, nil, c.violationf("%s", problem)
	}
	return h.fin, h.rsv, h.opcode, p, nil
}

// readMessage reads the peer's next data message, answering pings on the
// way, and returns it decompressed.
func (c *pmdConn) readMessage() (op byte, msg []byte, err error) {
	var (
		open       bool
		compressed bool
		buf        []byte
		nframes    int
	)
	for {
		fin, rsv, opcode, p, err := c.readFrame()
		if err != nil {
			return 0, nil, c.readError(err)
		}
		if rsv&3 != 0 {
			return 0, nil, c.violationf("RSV bits %03b on a %s frame: only RSV1 belongs to permessage-deflate", rsv, opName(opcode))
		}
		if opcode >= opClose {
			if rsv != 0 {
				return 0, nil, c.violationf("RSV1 set on a %s frame; permessage-deflate never compresses control frames (RFC 7692 section 6.1)", opName(opcode))
			}
			if !fin || len(p) > 125 {
				return 0, nil, c.violationf("a %s frame with FIN=%v and %d bytes of payload", opName(opcode), fin, len(p))
			}
			switch opcode {
			case opPing:
				if _, err := c.nc.Write(c.encode(pong(p))); err != nil {
					return 0, nil, fmt.Errorf("answering a ping: %w", err)
				}
				continue
			case opPong:
				continue
			case opClose:
				ev, problem := parseClose(p)
				if problem != "" {
					return 0, nil, c.violationf("%s", problem)
				}
				return 0, nil, fmt.Errorf("the %s sent a close frame (%s) instead of the echo", c.peer, ev)
			}
			return 0, nil, c.violationf("a frame with reserved opcode %#x", opcode)
		}
		nframes++
		c.dataFrames++
		switch opcode {
		case opText, opBinary:
			if open {
				return 0, nil, c.violationf("a new %s frame while a fragmented message is open", opName(opcode))
			}
			open, op, compressed, buf = true, opcode, rsv&4 != 0, p
		case opCont:
			if !open {
				return 0, nil, c.violationf("a continuation frame with no message open")
			}
			if rsv != 0 {
				return 0, nil, c.violationf("RSV1 set on continuation frame %d of a message; it belongs on the first frame only (RFC 7692 section 6.1)", nframes)
			}
			if len(buf)+len(p) > maxMessage {
				return 0, nil, c.violationf("a message over this suite's %d-byte limit", maxMessage)
			}
			buf = append(buf, p...)
		default:
			return 0, nil, c.violationf("a frame with reserved opcode %#x", opcode)
		}
		if !fin {
			continue
		}
		msg = buf
		if compressed {
			c.compressed++
			if msg, err = c.rx.inflate(buf, maxMessage); err != nil {
				var de deflateError
				if errors.As(err, &de) {
					return 0, nil, c.violationf("compressed %s message (%d bytes of payload in %d frames; %s): %v", opName(op), len(buf), nframes, c.rxDesc(), err)
				}
				return 0, nil, err
			}
		} else {
			c.plain++
		}
		if op == opText && !utf8.Valid(msg) {
			return 0, nil, c.violationf("a text message that is not valid UTF-8: %s", preview(msg))
		}
		return op, msg, nil
	}
}

// rxDesc describes what the peer's compressed messages may do.
func (c *pmdConn) rxDesc() string {
	if c.rx.takeover {
		return fmt.Sprintf("the peer's window is %d bits, with context takeover", c.rx.bits)
	}
	return fmt.Sprintf("the peer's window is %d bits, without context takeover", c.rx.bits)
}

// readError names what ended a read.
func (c *pmdConn) readError(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("the %s closed the TCP connection", c.peer)
	case errors.Is(err, errTruncated):
		return fmt.Errorf("the %s closed the TCP connection in the middle of a frame", c.peer)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("the case's deadline passed while waiting for the echo")
	}
	var v violation
	if errors.As(err, &v) {
		return err
	}
	return fmt.Errorf("read: %w", err)
}

// pmdData is a payload source as Autobahn's cases have it: each message
// is the next size bytes of the data, wrapping around at its end.
type pmdData struct {
	name   string
	desc   string
	binary bool
	bytes  func() []byte
}

// exchange sends count messages of size bytes taken one after the other
// from d, each in frames of frag bytes of compressed payload (0: one frame)
// once the previous one has come back, and requires each echo exact. It
// reports through fail and returns false at the first failure.
func (c *pmdConn) exchange(d *pmdData, size, count, frag int, fail func(format string, a ...any)) bool {
	src := d.bytes()
	op := opText
	if d.binary {
		op = opBinary
	}
	ptr := 0
	for i := range count {
		msg := make([]byte, 0, size)
		for len(msg) < size {
			n := min(size-len(msg), len(src)-ptr)
			msg = append(msg, src[ptr:ptr+n]...)
			ptr = (ptr + n) % len(src)
		}
		done, err := c.sendAsync(op, msg, frag)
		if err != nil {
			fail("message %d of %d: %v", i+1, count, err)
			return false
		}
		gotOp, got, err := c.readMessage()
		if err != nil {
			c.nc.SetWriteDeadline(time.Now())
		}
		if werr := <-done; werr != nil && err == nil {
			err = fmt.Errorf("writing the message: %w", werr)
		}
		switch {
		case err != nil:
			fail("message %d of %d (%d bytes): %v", i+1, count, size, err)
			return false
		case gotOp != op:
			fail("message %d of %d: the echo is a %s message, want %s", i+1, count, opName(gotOp), opName(op))
			return false
		case !bytes.Equal(got, msg):
			at := 0
			for at < min(len(got), len(msg)) && got[at] == msg[at] {
				at++
			}
			fail("message %d of %d: the echo differs from what was sent: got %d bytes, want %d, first difference at byte %d", i+1, count, len(got), len(msg), at)
			return false
		}
	}
	return true
}

// summary says how the peer's echoes came.
func (c *pmdConn) summary() string {
	s := fmt.Sprintf("%s; the %s's echoes: %d compressed, %d uncompressed, in %d frames", c.params, c.peer, c.compressed, c.plain, c.dataFrames)
	if c.compressed > 0 {
		s += fmt.Sprintf("; its longest back-reference: %d bytes (window %d)", c.rx.maxDist, 1<<c.rx.bits)
	}
	return s
}

// ---------------------------------------------------------------------
// The cases of categories 12 and 13.

// pmdSize is one row of Autobahn's MSG_SIZES table for categories 12 and
// 13: the payload length of each message and the auto-fragment size (0:
// one frame). Autobahn sends 1000 messages in every case; pmdCount scales
// that down.
type pmdSize struct{ size, frag int }

var pmdSizes = []pmdSize{
	{16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {8192, 0}, {16384, 0}, {32768, 0}, {65536, 0}, {131072, 0},
	{8192, 256}, {16384, 256}, {32768, 256}, {65536, 256}, {131072, 256}, {131072, 1024}, {131072, 4096}, {131072, 32768},
}

// pmdCount is how many messages a case sends. Autobahn sends 1000 in each
// of its 432 compression cases (both directions), over a gigabyte in all;
// to keep categories 12 and 13 within about a minute under -race the suite
// scales that down to 64 KiB of payload per case, at most 50 messages and
// at least 2, so that every case has a message that may refer back to an
// earlier one.
func pmdCount(size int) int { return min(max(64<<10/size, 2), 50) }

// pmdCaseTimeout bounds each case of categories 12 and 13.
const pmdCaseTimeout = 30 * time.Second

// pmdCaseSpec is one case of category 12 or 13: a data set, a size row,
// the client's offers and the server's accept rules (those apply in the
// client direction, where the suite is the server).
type pmdCaseSpec struct {
	id     string
	data   *pmdData
	size   pmdSize
	offers []pmdNeg
	rules  []acceptRule
	set    string // the parameter set, as Autobahn's tables write it
}

// desc describes the case as Autobahn does; negotiation says who offers
// and who answers in this direction.
func (s pmdCaseSpec) desc(negotiation string) string {
	frag := "one frame each"
	if s.size.frag > 0 {
		frag = fmt.Sprintf("auto-fragmented to %d octets", s.size.frag)
	}
	kind := "text"
	if s.data.binary {
		kind = "binary"
	}
	return fmt.Sprintf("Send %d compressed %s messages of %d bytes of %s, %s; %s. Expect each echoed exactly, the peer's compressed messages within the negotiated window and context takeover, RSV1 only on first frames; then a clean close.",
		pmdCount(s.size.size), kind, s.size.size, s.data.desc, frag, negotiation)
}

// pmdSubcategory lists the 18 cases of one subcategory.
func pmdSubcategory(prefix string, d *pmdData, offers []pmdNeg, rules []acceptRule, set string) []pmdCaseSpec {
	var specs []pmdCaseSpec
	for i, s := range pmdSizes {
		specs = append(specs, pmdCaseSpec{id: fmt.Sprintf("%s.%d", prefix, i+1), data: d, size: s, offers: offers, rules: rules, set: set})
	}
	return specs
}

// category12Specs are Autobahn's cases 12.1.1 to 12.5.18: five kinds of
// data, in Autobahn's order, each at the 18 sizes, with the default
// offer. The suite offers RFC 7692's defaults, a bare
// "permessage-deflate": Autobahn's own default offer adds
// client_no_context_takeover, which under RFC 7692 binds the client to
// compress each message on its own and would leave context takeover from
// client to server untested (category 13 has that offer, as 13.1). In the
// client direction the server accepts it as offered (Autobahn's
// accept_deflate).
func category12Specs() []pmdCaseSpec {
	var specs []pmdCaseSpec
	for i, d := range pmdDataSets() {
		specs = append(specs, pmdSubcategory(fmt.Sprintf("12.%d", i+1), d, []pmdNeg{plainOffer}, []acceptRule{{}}, "[(False, 0)]")...)
	}
	return specs
}

// category13Specs are Autobahn's cases 13.1.1 to 13.7.18: the JSON data at
// the 18 sizes with each of Autobahn's seven parameter sets, client offers
// (requestNoContextTakeover, requestMaxWindowBits) and server accepts
// (requestNoContextTakeover, requestMaxWindowBits), as in Autobahn's
// current tables (which ask for 9-bit windows, not 8):
//
//	13.1 [(False, 0)]                       / [(False, 0)]
//	13.2 [(True, 0)]                        / [(True, 0)]
//	13.3 [(False, 9)]                       / [(False, 9)]
//	13.4 [(False, 15)]                      / [(False, 15)]
//	13.5 [(True, 9)]                        / [(True, 9)]
//	13.6 [(True, 15)]                       / [(True, 15)]
//	13.7 [(True, 9), (True, 0), (False, 0)] / [(True, 9), (True, 0), (False, 0)]
//
// An offer's pair asks the server for server_no_context_takeover and
// server_max_window_bits; an accept's pair asks the client for
// client_no_context_takeover and client_max_window_bits.
func category13Specs() []pmdCaseSpec {
	type pair struct {
		noCtx bool
		bits  int
	}
	sets := [][]pair{
		{{false, 0}},
		{{true, 0}},
		{{false, 9}},
		{{false, 15}},
		{{true, 9}},
		{{true, 15}},
		{{true, 9}, {true, 0}, {false, 0}},
	}
	var specs []pmdCaseSpec
	for i, set := range sets {
		var offers []pmdNeg
		var rules []acceptRule
		var names []string
		for _, p := range set {
			offers = append(offers, autobahnOffer(p.noCtx, p.bits))
			rules = append(rules, acceptRule{requestNoCtx: p.noCtx, requestBits: p.bits})
			names = append(names, fmt.Sprintf("(%s, %d)", map[bool]string{false: "False", true: "True"}[p.noCtx], p.bits))
		}
		specs = append(specs, pmdSubcategory(fmt.Sprintf("13.%d", i+1), pmdJSON(), offers, rules, "["+strings.Join(names, ", ")+"]")...)
	}
	return specs
}

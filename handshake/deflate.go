package handshake

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The permessage-deflate extension (RFC 7692) and its parameters.
const (
	deflateName         = "permessage-deflate"
	paramServerNoCtx    = "server_no_context_takeover"
	paramClientNoCtx    = "client_no_context_takeover"
	paramServerMaxWBits = "server_max_window_bits"
	paramClientMaxWBits = "client_max_window_bits"
)

// ErrBadDeflateResponse: the server's permessage-deflate answer does not
// follow RFC 7692 section 7.1 or does not accept the client's offer. RFC 7692
// says the client must then fail the connection.
var ErrBadDeflateResponse = errors.New("handshake: invalid permessage-deflate response")

// DeflateParams are the negotiated permessage-deflate parameters.
//
// The "server" fields describe what the server compresses and the client
// inflates; the "client" fields the other direction. A side compresses with
// a window of at most 1<<XMaxWindowBits bytes and, unless
// XNoContextTakeover, keeps that much history from one message to the next.
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int // 8..15 (15 when absent)
	ClientMaxWindowBits     int // 8..15 (15 when absent)
}

// DeflatePolicy is the server's policy for accepting permessage-deflate
// offers. The zero value accepts the first acceptable offer, allows context
// takeover both ways and uses 15-bit windows unless the client limits them.
//
// About 8-bit windows: zlib, which most peers use, cannot compress with a
// raw 8-bit window (since 1.2.9 it refuses; before, it silently used 9 bits).
// So a policy never asks a client for 8 bits: ClientMaxWindowBits below 9 is
// taken as 9, and 8 is answered only to a client that offered 8 itself. Our
// own compressor honours 8 exactly, so ServerMaxWindowBits may be 8.
type DeflatePolicy struct {
	// ServerNoContextTakeover makes the server always answer
	// server_no_context_takeover: it then compresses each message on its
	// own and keeps no history between messages.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover makes the server always answer
	// client_no_context_takeover, so the client compresses each message on
	// its own and the server need not keep the client's history (RFC 7692
	// lets a server include it whether or not it was offered).
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is the largest window the server's compressor
	// uses, 8..15 (0 means 15). It is announced when below 15; when the
	// client offered server_max_window_bits the answer is the smaller of
	// the two.
	ServerMaxWindowBits int
	// ClientMaxWindowBits limits the client's window, 9..15 (0 means 15),
	// so the server's inflater keeps less history. It can only be asked of
	// a client that offered client_max_window_bits: the answer is the
	// smaller of this and the offered value. A client that did not offer
	// the parameter is still accepted and may use 15 bits.
	ClientMaxWindowBits int
}

// deflateParams is one permessage-deflate parameter list as written: bits
// are 0 when the parameter is absent and -1 for client_max_window_bits
// without a value.
type deflateParams struct {
	serverNoCtx, clientNoCtx bool
	serverBits, clientBits   int
}

// parseWindowBits parses a window-bits value: a decimal integer from 8 to
// 15 without leading zeroes or sign (RFC 7692 section 7.1.2).
func parseWindowBits(v string) (int, bool) {
	switch {
	case len(v) == 1 && (v[0] == '8' || v[0] == '9'):
		return int(v[0] - '0'), true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0'), true
	}
	return 0, false
}

// parseDeflate checks the syntax of a permessage-deflate parameter list.
// Every parameter must be known and appear at most once; the
// no_context_takeover ones take no value; server_max_window_bits needs a
// value; client_max_window_bits needs one in a response (answer) and may
// omit it in an offer. A quoted value counts as the value it unquotes to,
// as RFC 6455 section 9.1 says.
func parseDeflate(e Extension, answer bool) (deflateParams, error) {
	var d deflateParams
	if !strings.EqualFold(e.Name, deflateName) {
		return d, fmt.Errorf("extension %q is not %s", e.Name, deflateName)
	}
	var seen [4]bool
	for _, p := range e.Params {
		i := -1
		switch p.Name {
		case paramServerNoCtx:
			i = 0
		case paramClientNoCtx:
			i = 1
		case paramServerMaxWBits:
			i = 2
		case paramClientMaxWBits:
			i = 3
		default:
			return d, fmt.Errorf("unknown parameter %q", p.Name)
		}
		if seen[i] {
			return d, fmt.Errorf("duplicate parameter %q", p.Name)
		}
		seen[i] = true
		if i < 2 {
			if p.HasValue {
				return d, fmt.Errorf("parameter %q takes no value", p.Name)
			}
			if i == 0 {
				d.serverNoCtx = true
			} else {
				d.clientNoCtx = true
			}
			continue
		}
		if !p.HasValue {
			if i == 2 || answer {
				return d, fmt.Errorf("parameter %q needs a value", p.Name)
			}
			d.clientBits = -1
			continue
		}
		bits, ok := parseWindowBits(p.Value)
		if !ok {
			return d, fmt.Errorf("parameter %q has invalid value %q", p.Name, p.Value)
		}
		if i == 2 {
			d.serverBits = bits
		} else {
			d.clientBits = bits
		}
	}
	return d, nil
}

// policyBits turns a policy's window bits into the 'lo'..15 range, 0 meaning 15.
func policyBits(v, lo int) int {
	switch {
	case v == 0 || v > 15:
		return 15
	case v < lo:
		return lo
	}
	return v
}

// Negotiate picks the first acceptable permessage-deflate offer among
// offers (a client may send several, in order of preference; other
// extensions are ignored) and returns the answer to write, the parameters
// both sides then use, and true. Malformed offers (unknown or duplicate
// parameters, values out of range or not canonical such as "7", "16" or
// "010", a value on a parameter that takes none, server_max_window_bits
// without one) are skipped, not fatal. It returns false when no offer is
// acceptable.
//
// The answer is complete: it echoes client_no_context_takeover and
// includes client_max_window_bits whenever the client's window is below
// 15, so ParseDeflateParams of the answer alone gives the same parameters.
func (p *DeflatePolicy) Negotiate(offers []Extension) (Extension, DeflateParams, bool) {
	for _, o := range offers {
		if !strings.EqualFold(o.Name, deflateName) {
			continue
		}
		d, err := parseDeflate(o, false)
		if err != nil {
			continue
		}
		ext, params := p.answer(d)
		return ext, params, true
	}
	return Extension{}, DeflateParams{}, false
}

// answer builds the response to a well-formed offer d.
func (p *DeflatePolicy) answer(d deflateParams) (Extension, DeflateParams) {
	ext := Extension{Name: deflateName, Params: make([]Param, 0, 4)}
	params := DeflateParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	// RFC 7692 7.1.1.1: accepting an offer with server_no_context_takeover
	// means answering it; the server may also answer it unasked.
	if p.ServerNoContextTakeover || d.serverNoCtx {
		ext.Params = append(ext.Params, Param{Name: paramServerNoCtx})
		params.ServerNoContextTakeover = true
	}
	// 7.1.1.2: the server may always include client_no_context_takeover;
	// an offered one is a promise from the client, echoed to keep the
	// answer self-describing.
	if p.ClientNoContextTakeover || d.clientNoCtx {
		ext.Params = append(ext.Params, Param{Name: paramClientNoCtx})
		params.ClientNoContextTakeover = true
	}
	// 7.1.2.1: an offered server_max_window_bits must be answered with the
	// same or a smaller value; the server may announce one unasked.
	sb := policyBits(p.ServerMaxWindowBits, 8)
	if d.serverBits > 0 {
		sb = min(sb, d.serverBits)
	}
	if d.serverBits > 0 || sb < 15 {
		ext.Params = append(ext.Params, Param{Name: paramServerMaxWBits, Value: strconv.Itoa(sb), HasValue: true})
	}
	params.ServerMaxWindowBits = sb
	// 7.1.2.2: client_max_window_bits may be answered only if offered, with
	// a value no larger than the offered one. An offered value is also the
	// client's promise not to use more.
	if d.clientBits != 0 {
		cb := policyBits(p.ClientMaxWindowBits, 9)
		if d.clientBits > 0 {
			cb = min(cb, d.clientBits)
		}
		if cb < 15 {
			ext.Params = append(ext.Params, Param{Name: paramClientMaxWBits, Value: strconv.Itoa(cb), HasValue: true})
		}
		params.ClientMaxWindowBits = cb
	}
	return ext, params
}

// Extensions returns a Server.Extensions hook that accepts permessage-deflate
// as Negotiate does and no other extension. It uses a copy of p: later
// changes to p do not affect it. Read the parameters back on the accepted
// connection with ParseDeflateParams(Result.Extensions[0]).
func (p *DeflatePolicy) Extensions() func(offers []Extension) []Extension {
	policy := *p
	return func(offers []Extension) []Extension {
		ext, _, ok := policy.Negotiate(offers)
		if !ok {
			return nil
		}
		return []Extension{ext}
	}
}

// ParseDeflateParams reads the parameters back from an accepted
// permessage-deflate extension as the server wrote it (Result.Extensions on
// the server side). Absent window bits are 15. It fails on anything a
// client would reject in an answer.
func ParseDeflateParams(accepted Extension) (DeflateParams, error) {
	d, err := parseDeflate(accepted, true)
	if err != nil {
		return DeflateParams{}, badResponse("%v", err)
	}
	params := DeflateParams{
		ServerNoContextTakeover: d.serverNoCtx,
		ClientNoContextTakeover: d.clientNoCtx,
		ServerMaxWindowBits:     15,
		ClientMaxWindowBits:     15,
	}
	if d.serverBits > 0 {
		params.ServerMaxWindowBits = d.serverBits
	}
	if d.clientBits > 0 {
		params.ClientMaxWindowBits = d.clientBits
	}
	return params, nil
}

// DeflateOffer is a client's permessage-deflate offer.
type DeflateOffer struct {
	// ServerNoContextTakeover asks the server to compress each message on
	// its own, so the client keeps no history for inflating.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover promises that the client compresses each
	// message on its own.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits asks the server to use a window of at most
	// 1<<ServerMaxWindowBits bytes: 8..15, or 0 to omit the parameter.
	ServerMaxWindowBits int
	// ClientMaxWindowBits says the client can limit its window when the
	// server asks: 0 omits the parameter, -1 sends it without a value, and
	// 8..15 sends that value, a promise to use no larger window.
	ClientMaxWindowBits int
}

// normal returns o with window bits out of range moved into 8..15 and any
// negative ClientMaxWindowBits as -1.
func (o DeflateOffer) normal() DeflateOffer {
	clamp := func(v int) int { return min(max(v, 8), 15) }
	if o.ServerMaxWindowBits != 0 {
		o.ServerMaxWindowBits = clamp(o.ServerMaxWindowBits)
	}
	switch {
	case o.ClientMaxWindowBits < 0:
		o.ClientMaxWindowBits = -1
	case o.ClientMaxWindowBits > 0:
		o.ClientMaxWindowBits = clamp(o.ClientMaxWindowBits)
	}
	return o
}

// Extension returns the offer as an extension for Client.Extensions.
// Window bits out of 8..15 are moved into that range, and
// ParseDeflateResponse reads the answer against the offer as sent.
func (o DeflateOffer) Extension() Extension {
	o = o.normal()
	ext := Extension{Name: deflateName}
	if o.ServerNoContextTakeover {
		ext.Params = append(ext.Params, Param{Name: paramServerNoCtx})
	}
	if o.ClientNoContextTakeover {
		ext.Params = append(ext.Params, Param{Name: paramClientNoCtx})
	}
	if o.ServerMaxWindowBits != 0 {
		ext.Params = append(ext.Params, Param{Name: paramServerMaxWBits, Value: strconv.Itoa(o.ServerMaxWindowBits), HasValue: true})
	}
	switch {
	case o.ClientMaxWindowBits < 0:
		ext.Params = append(ext.Params, Param{Name: paramClientMaxWBits})
	case o.ClientMaxWindowBits > 0:
		ext.Params = append(ext.Params, Param{Name: paramClientMaxWBits, Value: strconv.Itoa(o.ClientMaxWindowBits), HasValue: true})
	}
	return ext
}

// badResponse builds an error wrapping ErrBadDeflateResponse.
func badResponse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadDeflateResponse, fmt.Sprintf(format, args...))
}

// ParseDeflateResponse validates the server's permessage-deflate answer to
// the client's offer strictly (RFC 7692 section 7.1) and returns the
// parameters both sides then use. Errors wrap ErrBadDeflateResponse:
//   - unknown or duplicate parameters, values out of 8..15 or not canonical,
//     a value on a no_context_takeover parameter, a window-bits parameter
//     without a value;
//   - client_max_window_bits when the offer did not include it, or larger
//     than the offered value;
//   - server_max_window_bits missing although offered, or larger than the
//     offered value;
//   - server_no_context_takeover missing although offered (the server did
//     not accept the offer as made).
//
// The server may add server_no_context_takeover, client_no_context_takeover
// and server_max_window_bits unasked. An offered client_no_context_takeover
// or client_max_window_bits value binds the client even when the answer
// leaves it out.
func ParseDeflateResponse(accepted Extension, offered DeflateOffer) (DeflateParams, error) {
	d, err := parseDeflate(accepted, true)
	if err != nil {
		return DeflateParams{}, badResponse("%v", err)
	}
	o := offered.normal()
	params := DeflateParams{
		ServerNoContextTakeover: d.serverNoCtx,
		ClientNoContextTakeover: d.clientNoCtx || o.ClientNoContextTakeover,
		ServerMaxWindowBits:     15,
		ClientMaxWindowBits:     15,
	}
	if o.ServerNoContextTakeover && !d.serverNoCtx {
		return DeflateParams{}, badResponse("%s offered but not answered", paramServerNoCtx)
	}
	switch {
	case d.serverBits > 0 && o.ServerMaxWindowBits > 0 && d.serverBits > o.ServerMaxWindowBits:
		return DeflateParams{}, badResponse("%s=%d above the offered %d", paramServerMaxWBits, d.serverBits, o.ServerMaxWindowBits)
	case d.serverBits == 0 && o.ServerMaxWindowBits > 0:
		return DeflateParams{}, badResponse("%s offered but not answered", paramServerMaxWBits)
	case d.serverBits > 0:
		params.ServerMaxWindowBits = d.serverBits
	}
	switch {
	case d.clientBits > 0 && o.ClientMaxWindowBits == 0:
		return DeflateParams{}, badResponse("%s answered but not offered", paramClientMaxWBits)
	case d.clientBits > 0 && o.ClientMaxWindowBits > 0 && d.clientBits > o.ClientMaxWindowBits:
		return DeflateParams{}, badResponse("%s=%d above the offered %d", paramClientMaxWBits, d.clientBits, o.ClientMaxWindowBits)
	case d.clientBits > 0:
		params.ClientMaxWindowBits = d.clientBits
	case o.ClientMaxWindowBits > 0:
		params.ClientMaxWindowBits = o.ClientMaxWindowBits
	}
	return params, nil
}

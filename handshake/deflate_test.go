package handshake

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

const pmd = "permessage-deflate"

// params builds DeflateParams compactly: s, c are the no-takeover flags.
func params(s, c bool, sb, cb int) DeflateParams {
	return DeflateParams{ServerNoContextTakeover: s, ClientNoContextTakeover: c, ServerMaxWindowBits: sb, ClientMaxWindowBits: cb}
}

func mustParse(t *testing.T, header string) []Extension {
	t.Helper()
	exts, err := ParseExtensions([]string{header})
	if err != nil {
		t.Fatalf("ParseExtensions(%q): %v", header, err)
	}
	return exts
}

func TestDeflateNegotiate(t *testing.T) {
	cases := []struct {
		name   string
		policy DeflatePolicy
		offers string // a Sec-WebSocket-Extensions value
		ok     bool
		answer string // FormatExtensions of the answer
		want   DeflateParams
	}{
		{"bare", DeflatePolicy{}, pmd, true, pmd, params(false, false, 15, 15)},
		{"name case-insensitive", DeflatePolicy{}, "PerMessage-Deflate", true, pmd, params(false, false, 15, 15)},
		{"other extensions ignored", DeflatePolicy{}, "x-foo, " + pmd + ", x-bar", true, pmd, params(false, false, 15, 15)},
		{"no deflate offer", DeflatePolicy{}, "x-foo; server_max_window_bits=10", false, "", DeflateParams{}},
		{"server_no_context_takeover offered", DeflatePolicy{}, pmd + "; server_no_context_takeover", true,
			pmd + "; server_no_context_takeover", params(true, false, 15, 15)},
		{"client_no_context_takeover offered is echoed", DeflatePolicy{}, pmd + "; client_no_context_takeover", true,
			pmd + "; client_no_context_takeover", params(false, true, 15, 15)},
		{"both no_context_takeover", DeflatePolicy{}, pmd + "; client_no_context_takeover; server_no_context_takeover", true,
			pmd + "; server_no_context_takeover; client_no_context_takeover", params(true, true, 15, 15)},
		{"server_max_window_bits=10", DeflatePolicy{}, pmd + "; server_max_window_bits=10", true,
			pmd + "; server_max_window_bits=10", params(false, false, 10, 15)},
		{"server_max_window_bits=15 still answered", DeflatePolicy{}, pmd + "; server_max_window_bits=15", true,
			pmd + "; server_max_window_bits=15", params(false, false, 15, 15)},
		{"server_max_window_bits=8 honoured", DeflatePolicy{}, pmd + "; server_max_window_bits=8", true,
			pmd + "; server_max_window_bits=8", params(false, false, 8, 15)},
		{"quoted value", DeflatePolicy{}, pmd + `; server_max_window_bits="9"`, true,
			pmd + "; server_max_window_bits=9", params(false, false, 9, 15)},
		{"client_max_window_bits without value", DeflatePolicy{}, pmd + "; client_max_window_bits", true,
			pmd, params(false, false, 15, 15)},
		{"client_max_window_bits=11 is the client's limit", DeflatePolicy{}, pmd + "; client_max_window_bits=11", true,
			pmd + "; client_max_window_bits=11", params(false, false, 15, 11)},
		{"client_max_window_bits=15", DeflatePolicy{}, pmd + "; client_max_window_bits=15", true,
			pmd, params(false, false, 15, 15)},
		{"client offers 8 itself", DeflatePolicy{}, pmd + "; client_max_window_bits=8", true,
			pmd + "; client_max_window_bits=8", params(false, false, 15, 8)},

		// Policies.
		{"policy server no takeover", DeflatePolicy{ServerNoContextTakeover: true}, pmd, true,
			pmd + "; server_no_context_takeover", params(true, false, 15, 15)},
		{"policy client no takeover", DeflatePolicy{ClientNoContextTakeover: true}, pmd, true,
			pmd + "; client_no_context_takeover", params(false, true, 15, 15)},
		{"policy server window announced", DeflatePolicy{ServerMaxWindowBits: 12}, pmd, true,
			pmd + "; server_max_window_bits=12", params(false, false, 12, 15)},
		{"policy server window vs smaller offer", DeflatePolicy{ServerMaxWindowBits: 12}, pmd + "; server_max_window_bits=10", true,
			pmd + "; server_max_window_bits=10", params(false, false, 10, 15)},
		{"policy server window vs larger offer", DeflatePolicy{ServerMaxWindowBits: 12}, pmd + "; server_max_window_bits=14", true,
			pmd + "; server_max_window_bits=12", params(false, false, 12, 15)},
		{"policy server window 8", DeflatePolicy{ServerMaxWindowBits: 8}, pmd, true,
			pmd + "; server_max_window_bits=8", params(false, false, 8, 15)},
		{"policy server window 3 taken as 8", DeflatePolicy{ServerMaxWindowBits: 3}, pmd, true,
			pmd + "; server_max_window_bits=8", params(false, false, 8, 15)},
		{"policy server window 99 taken as 15", DeflatePolicy{ServerMaxWindowBits: 99}, pmd, true,
			pmd, params(false, false, 15, 15)},
		{"policy client window, client can limit", DeflatePolicy{ClientMaxWindowBits: 10}, pmd + "; client_max_window_bits", true,
			pmd + "; client_max_window_bits=10", params(false, false, 15, 10)},
		{"policy client window vs smaller offer", DeflatePolicy{ClientMaxWindowBits: 10}, pmd + "; client_max_window_bits=9", true,
			pmd + "; client_max_window_bits=9", params(false, false, 15, 9)},
		{"policy client window vs larger offer", DeflatePolicy{ClientMaxWindowBits: 10}, pmd + "; client_max_window_bits=12", true,
			pmd + "; client_max_window_bits=10", params(false, false, 15, 10)},
		{"policy client window, client cannot limit", DeflatePolicy{ClientMaxWindowBits: 10}, pmd, true,
			pmd, params(false, false, 15, 15)},
		{"policy client window 8 taken as 9", DeflatePolicy{ClientMaxWindowBits: 8}, pmd + "; client_max_window_bits", true,
			pmd + "; client_max_window_bits=9", params(false, false, 15, 9)},
		{"everything", DeflatePolicy{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 11, ClientMaxWindowBits: 12},
			pmd + "; client_max_window_bits; server_max_window_bits=13", true,
			pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12",
			params(true, true, 11, 12)},

		// Several offers: malformed ones are skipped, the first good one wins.
		{"first good offer wins", DeflatePolicy{}, pmd + "; server_max_window_bits=10, " + pmd, true,
			pmd + "; server_max_window_bits=10", params(false, false, 10, 15)},
		{"skip malformed", DeflatePolicy{}, pmd + "; server_max_window_bits=16, " + pmd + "; client_max_window_bits", true,
			pmd, params(false, false, 15, 15)},
		{"skip several", DeflatePolicy{}, pmd + "; x=1, " + pmd + "; server_max_window_bits, " + pmd + "; client_no_context_takeover", true,
			pmd + "; client_no_context_takeover", params(false, true, 15, 15)},
		{"all malformed", DeflatePolicy{}, pmd + "; x, " + pmd + "; server_max_window_bits=7", false, "", DeflateParams{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ext, got, ok := c.policy.Negotiate(mustParse(t, c.offers))
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if s := FormatExtensions([]Extension{ext}); s != c.answer {
				t.Errorf("answer %q, want %q", s, c.answer)
			}
			if got != c.want {
				t.Errorf("params %+v, want %+v", got, c.want)
			}
			// The server reads the same back from its answer.
			back, err := ParseDeflateParams(ext)
			if err != nil || back != got {
				t.Errorf("ParseDeflateParams = %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

// Each malformed offer is skipped on its own.
func TestDeflateNegotiateMalformed(t *testing.T) {
	bad := []Extension{
		ext(pmd, flag("x")),
		ext(pmd, flag("Server_No_Context_Takeover")), // parameter names are case-sensitive
		ext(pmd, flag(paramServerNoCtx), flag(paramServerNoCtx)),
		ext(pmd, flag(paramClientNoCtx), flag(paramClientNoCtx)),
		ext(pmd, kv(paramServerMaxWBits, "10"), kv(paramServerMaxWBits, "10")),
		ext(pmd, flag(paramClientMaxWBits), kv(paramClientMaxWBits, "10")),
		ext(pmd, kv(paramServerNoCtx, "1")),
		ext(pmd, kv(paramClientNoCtx, "")),
		ext(pmd, flag(paramServerMaxWBits)),
		ext(pmd, kv(paramServerMaxWBits, "")),
		ext(pmd, kv(paramClientMaxWBits, "")),
	}
	for _, v := range []string{"7", "16", "0", "010", "08", "+9", "-9", "9.0", "1e1", " 9", "9 ", "0x9", "１０", "99999999999999999999", "a"} {
		bad = append(bad, ext(pmd, kv(paramServerMaxWBits, v)), ext(pmd, kv(paramClientMaxWBits, v)))
	}
	var p DeflatePolicy
	for _, e := range bad {
		if _, _, ok := p.Negotiate([]Extension{e}); ok {
			t.Errorf("accepted %q", FormatExtensions([]Extension{e}))
		}
		// And a good offer after it is still taken.
		ans, _, ok := p.Negotiate([]Extension{e, ext(pmd, flag(paramServerNoCtx))})
		if !ok || FormatExtensions([]Extension{ans}) != pmd+"; "+paramServerNoCtx {
			t.Errorf("after %q: answer %+v, %v", FormatExtensions([]Extension{e}), ans, ok)
		}
		if _, err := ParseDeflateParams(e); !errors.Is(err, ErrBadDeflateResponse) {
			t.Errorf("ParseDeflateParams(%q) = %v", FormatExtensions([]Extension{e}), err)
		}
	}
	// Every value from 8 to 15 is fine.
	for _, v := range []string{"8", "9", "10", "11", "12", "13", "14", "15"} {
		for _, name := range []string{paramServerMaxWBits, paramClientMaxWBits} {
			if _, _, ok := p.Negotiate([]Extension{ext(pmd, kv(name, v))}); !ok {
				t.Errorf("%s=%s refused", name, v)
			}
		}
	}
}

func TestDeflatePolicyExtensionsHook(t *testing.T) {
	p := &DeflatePolicy{ServerMaxWindowBits: 10}
	hook := p.Extensions()
	p.ServerMaxWindowBits = 12 // the hook keeps its copy
	got := hook(mustParse(t, "x-foo, "+pmd+"; client_max_window_bits"))
	if s := FormatExtensions(got); s != pmd+"; server_max_window_bits=10" {
		t.Errorf("hook answered %q", s)
	}
	if got := hook(mustParse(t, "x-foo")); got != nil {
		t.Errorf("hook answered %+v to no deflate offer", got)
	}
	if err := validAccepted(hook(mustParse(t, "PERMESSAGE-DEFLATE")), mustParse(t, "PERMESSAGE-DEFLATE")); err != nil {
		t.Errorf("answer to an upper-case offer rejected by the server: %v", err)
	}
}

func TestDeflateOfferExtension(t *testing.T) {
	cases := []struct {
		o    DeflateOffer
		want string
	}{
		{DeflateOffer{}, pmd},
		{DeflateOffer{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{DeflateOffer{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=10"},
		{DeflateOffer{ClientMaxWindowBits: -1}, pmd + "; client_max_window_bits"},
		{DeflateOffer{ClientMaxWindowBits: 12}, pmd + "; client_max_window_bits=12"},
		{DeflateOffer{ServerMaxWindowBits: 3, ClientMaxWindowBits: 40}, pmd + "; server_max_window_bits=8; client_max_window_bits=15"},
		{DeflateOffer{ClientMaxWindowBits: -7}, pmd + "; client_max_window_bits"},
	}
	for _, c := range cases {
		e := c.o.Extension()
		if s := FormatExtensions([]Extension{e}); s != c.want {
			t.Errorf("%+v: %q, want %q", c.o, s, c.want)
		}
		if _, err := parseDeflate(e, false); err != nil {
			t.Errorf("%+v: own offer malformed: %v", c.o, err)
		}
	}
}

func TestParseDeflateResponse(t *testing.T) {
	cases := []struct {
		name   string
		offer  DeflateOffer
		answer string
		want   DeflateParams // zero: an error is expected
	}{
		{"bare", DeflateOffer{}, pmd, params(false, false, 15, 15)},
		{"server adds server_no_context_takeover", DeflateOffer{}, pmd + "; server_no_context_takeover", params(true, false, 15, 15)},
		{"server adds client_no_context_takeover", DeflateOffer{}, pmd + "; client_no_context_takeover", params(false, true, 15, 15)},
		{"offered client_no_context_takeover binds without echo", DeflateOffer{ClientNoContextTakeover: true}, pmd, params(false, true, 15, 15)},
		{"offered server_no_context_takeover answered", DeflateOffer{ServerNoContextTakeover: true}, pmd + "; server_no_context_takeover", params(true, false, 15, 15)},
		{"offered server_no_context_takeover not answered", DeflateOffer{ServerNoContextTakeover: true}, pmd, DeflateParams{}},
		{"server adds server_max_window_bits", DeflateOffer{}, pmd + "; server_max_window_bits=9", params(false, false, 9, 15)},
		{"server_max_window_bits as offered", DeflateOffer{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=10", params(false, false, 10, 15)},
		{"server_max_window_bits below offered", DeflateOffer{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=8", params(false, false, 8, 15)},
		{"server_max_window_bits above offered", DeflateOffer{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=11", DeflateParams{}},
		{"server_max_window_bits offered, not answered", DeflateOffer{ServerMaxWindowBits: 10}, pmd, DeflateParams{}},
		{"client_max_window_bits not offered", DeflateOffer{}, pmd + "; client_max_window_bits=10", DeflateParams{}},
		{"client_max_window_bits offered without value", DeflateOffer{ClientMaxWindowBits: -1}, pmd + "; client_max_window_bits=10", params(false, false, 15, 10)},
		{"client_max_window_bits offered, not answered", DeflateOffer{ClientMaxWindowBits: -1}, pmd, params(false, false, 15, 15)},
		{"client_max_window_bits value binds without answer", DeflateOffer{ClientMaxWindowBits: 11}, pmd, params(false, false, 15, 11)},
		{"client_max_window_bits below offered", DeflateOffer{ClientMaxWindowBits: 11}, pmd + "; client_max_window_bits=9", params(false, false, 15, 9)},
		{"client_max_window_bits above offered", DeflateOffer{ClientMaxWindowBits: 11}, pmd + "; client_max_window_bits=12", DeflateParams{}},
		{"client_max_window_bits without value in answer", DeflateOffer{ClientMaxWindowBits: -1}, pmd + "; client_max_window_bits", DeflateParams{}},
		{"server_max_window_bits without value", DeflateOffer{}, pmd + "; server_max_window_bits", DeflateParams{}},
		{"bad value", DeflateOffer{}, pmd + "; server_max_window_bits=16", DeflateParams{}},
		{"leading zero", DeflateOffer{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=09", DeflateParams{}},
		{"duplicate", DeflateOffer{}, pmd + "; server_no_context_takeover; server_no_context_takeover", DeflateParams{}},
		{"duplicate bits", DeflateOffer{}, pmd + "; server_max_window_bits=9; server_max_window_bits=9", DeflateParams{}},
		{"unknown", DeflateOffer{}, pmd + "; x-foo", DeflateParams{}},
		{"value on flag", DeflateOffer{}, pmd + "; client_no_context_takeover=1", DeflateParams{}},
		{"other extension", DeflateOffer{}, "x-deflate", DeflateParams{}},
		{"everything", DeflateOffer{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: -1},
			pmd + "; client_max_window_bits=9; server_max_window_bits=12; server_no_context_takeover", params(true, true, 12, 9)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDeflateResponse(mustParse(t, c.answer)[0], c.offer)
			if c.want == (DeflateParams{}) {
				if !errors.Is(err, ErrBadDeflateResponse) {
					t.Fatalf("got %+v, %v; want ErrBadDeflateResponse", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// offerOf reads a well-formed offer back into a DeflateOffer.
func offerOf(t testing.TB, e Extension) DeflateOffer {
	d, err := parseDeflate(e, false)
	if err != nil {
		t.Fatalf("offerOf(%+v): %v", e, err)
	}
	return DeflateOffer{ServerNoContextTakeover: d.serverNoCtx, ClientNoContextTakeover: d.clientNoCtx,
		ServerMaxWindowBits: d.serverBits, ClientMaxWindowBits: d.clientBits}
}

// checkAgreement runs a whole negotiation: the policy answers offers, the
// answer goes through the header syntax, and both sides must agree on the
// parameters.
func checkAgreement(t testing.TB, p DeflatePolicy, offers []Extension) {
	ans, got, ok := p.Negotiate(offers)
	if !ok {
		return
	}
	// The chosen offer: the first one the policy accepts on its own.
	chosen := -1
	for i, o := range offers {
		if a, _, ok := p.Negotiate([]Extension{o}); ok {
			if !reflect.DeepEqual(a, ans) {
				t.Fatalf("first acceptable offer %+v answered %+v, the list %+v", o, a, ans)
			}
			chosen = i
			break
		}
	}
	if chosen < 0 {
		t.Fatalf("answer %+v but no offer acceptable alone", ans)
	}
	wire := FormatExtensions([]Extension{ans})
	back, err := ParseExtensions([]string{wire})
	if err != nil || len(back) != 1 {
		t.Fatalf("answer %q does not parse: %v", wire, err)
	}
	if err := validAccepted(back, offers); err != nil {
		t.Fatalf("server would refuse its own answer %q: %v", wire, err)
	}
	offer := offerOf(t, offers[chosen])
	if e := offer.Extension(); !sameParams(e, offers[chosen]) {
		t.Fatalf("offer %+v does not round-trip: %+v", offers[chosen], e)
	}
	client, err := ParseDeflateResponse(back[0], offer)
	if err != nil {
		t.Fatalf("client rejects answer %q to %q: %v", wire, FormatExtensions(offers[chosen:chosen+1]), err)
	}
	server, err := ParseDeflateParams(back[0])
	if err != nil {
		t.Fatalf("server cannot read back %q: %v", wire, err)
	}
	if client != got || server != got {
		t.Fatalf("offer %q answer %q: negotiated %+v, client %+v, server %+v",
			FormatExtensions(offers[chosen:chosen+1]), wire, got, client, server)
	}
	for _, b := range []int{got.ServerMaxWindowBits, got.ClientMaxWindowBits} {
		if b < 8 || b > 15 {
			t.Fatalf("window bits %d out of range", b)
		}
	}
}

// sameParams compares two permessage-deflate parameter lists as sets.
func sameParams(a, b Extension) bool {
	if len(a.Params) != len(b.Params) {
		return false
	}
	for _, p := range a.Params {
		found := false
		for _, q := range b.Params {
			if p == q {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestDeflateAgreement(t *testing.T) {
	flags := []Param{flag(paramServerNoCtx), flag(paramClientNoCtx), flag(paramClientMaxWBits)}
	for _, v := range []string{"8", "9", "12", "15"} {
		flags = append(flags, kv(paramServerMaxWBits, v), kv(paramClientMaxWBits, v))
	}
	policies := []DeflatePolicy{{}, {true, true, 9, 9}, {false, true, 12, 0}, {true, false, 0, 10}, {false, false, 8, 8}}
	// Every subset of up to three parameters, under every policy.
	for _, p := range policies {
		for i := range flags {
			for j := i; j < len(flags); j++ {
				for k := j; k < len(flags); k++ {
					e := ext(pmd, flags[i])
					if j > i {
						e.Params = append(e.Params, flags[j])
					}
					if k > j {
						e.Params = append(e.Params, flags[k])
					}
					checkAgreement(t, p, []Extension{e})
				}
			}
		}
	}
}

// A real handshake: the client offers, the server's hook answers, and both
// read the same parameters.
func TestDeflateHandshake(t *testing.T) {
	policy := DeflatePolicy{ServerMaxWindowBits: 12, ClientMaxWindowBits: 10}
	s := &Server{Extensions: policy.Extensions()}
	serverSide := make(chan DeflateParams, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := s.Upgrade(w, r)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Conn.Close()
		if len(res.Extensions) != 1 {
			t.Errorf("server accepted %+v", res.Extensions)
			return
		}
		p, err := ParseDeflateParams(res.Extensions[0])
		if err != nil {
			t.Error(err)
		}
		serverSide <- p
	}))
	defer ts.Close()

	offer := DeflateOffer{ClientNoContextTakeover: true, ClientMaxWindowBits: -1}
	c := &Client{Extensions: []Extension{offer.Extension()}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, _, err := c.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Conn.Close()
	if len(res.Extensions) != 1 {
		t.Fatalf("client got %+v", res.Extensions)
	}
	got, err := ParseDeflateResponse(res.Extensions[0], offer)
	if err != nil {
		t.Fatal(err)
	}
	want := params(false, true, 12, 10)
	if got != want {
		t.Errorf("client: %+v, want %+v", got, want)
	}
	if sp := <-serverSide; sp != want {
		t.Errorf("server: %+v, want %+v", sp, want)
	}
}

func FuzzDeflateNegotiate(f *testing.F) {
	for _, s := range []string{
		pmd,
		pmd + "; client_max_window_bits",
		pmd + "; server_max_window_bits=10; client_max_window_bits=8, " + pmd,
		pmd + "; server_no_context_takeover; client_no_context_takeover",
		pmd + "; server_max_window_bits=16, " + pmd + "; x, " + pmd + "; client_max_window_bits=9",
		pmd + `; server_max_window_bits="12"`,
		"x-foo, PERMESSAGE-DEFLATE; server_max_window_bits=010",
	} {
		f.Add(s, false, false, 0, 0)
		f.Add(s, true, true, 9, 12)
	}
	f.Fuzz(func(t *testing.T, header string, sNoCtx, cNoCtx bool, sBits, cBits int) {
		offers, err := ParseExtensions([]string{header})
		if err != nil {
			return
		}
		p := DeflatePolicy{ServerNoContextTakeover: sNoCtx, ClientNoContextTakeover: cNoCtx, ServerMaxWindowBits: sBits, ClientMaxWindowBits: cBits}
		checkAgreement(t, p, offers)
		if _, err := ParseDeflateParams(ext(pmd)); err != nil {
			t.Fatal(err)
		}
		for _, o := range offers {
			ParseDeflateParams(o)
			ParseDeflateResponse(o, DeflateOffer{})
		}
	})
}

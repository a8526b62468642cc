package handshake

import (
	"reflect"
	"testing"
)

func ext(name string, params ...Param) Extension { return Extension{Name: name, Params: params} }
func flag(name string) Param                     { return Param{Name: name} }
func kv(name, value string) Param                { return Param{Name: name, Value: value, HasValue: true} }

func TestParseExtensions(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []Extension
	}{
		{"none", nil, nil},
		{"empty line", []string{""}, nil},
		{"only commas", []string{" , ,"}, nil},
		{"one", []string{"permessage-deflate"}, []Extension{ext("permessage-deflate")}},
		{"params", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10"},
			[]Extension{ext("permessage-deflate", flag("client_max_window_bits"), kv("server_max_window_bits", "10"))}},
		{"quoted value", []string{`foo; bar="baz"`}, []Extension{ext("foo", kv("bar", "baz"))}},
		{"quoted number", []string{`permessage-deflate; client_max_window_bits="10"`},
			[]Extension{ext("permessage-deflate", kv("client_max_window_bits", "10"))}},
		{"quoted-pair token", []string{`foo; bar="b\a\z"`}, []Extension{ext("foo", kv("bar", "baz"))}},
		{"list", []string{"foo, bar; baz=2"}, []Extension{ext("foo"), ext("bar", kv("baz", "2"))}},
		{"lines equal list", []string{"foo", "bar; baz=2"}, []Extension{ext("foo"), ext("bar", kv("baz", "2"))}},
		{"duplicates kept", []string{"foo, foo; a=1", "foo"}, []Extension{ext("foo"), ext("foo", kv("a", "1")), ext("foo")}},
		{"duplicate params kept", []string{"foo; a=1; a=2; a"}, []Extension{ext("foo", kv("a", "1"), kv("a", "2"), flag("a"))}},
		{"whitespace", []string{" foo ;a = 1 ,\tbar\t; b ; c=\"x\" "},
			[]Extension{ext("foo", kv("a", "1")), ext("bar", flag("b"), kv("c", "x"))}},
		{"empty elements", []string{"foo,,bar,"}, []Extension{ext("foo"), ext("bar")}},
		{"token chars", []string{"x!#$%&'*+-.^_`|~9; Z=a.b"}, []Extension{ext("x!#$%&'*+-.^_`|~9", kv("Z", "a.b"))}},
	}
	for _, c := range cases {
		got, err := ParseExtensions(c.lines)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestParseExtensionsMalformed(t *testing.T) {
	bad := [][]string{
		{"foo;"},
		{"foo; "},
		{"foo; =1"},
		{"foo; a="},
		{"foo; a= ,bar"},
		{`foo; a="b c"`},
		{`foo; a="a,b"`},
		{`foo; a=""`},
		{`foo; a="unterminated`},
		{`foo; a="x\"`},
		{`foo; bar="b\az\\"`}, // unescapes to baz\, not a token
		{`foo; a="x\`},
		{"foo; a=\"x\x01\""},
		{"foo bar"},
		{"foo; a=1 b"},
		{"foo; a=b=c"},
		{"foo; a b"},
		{"=foo"},
		{";foo"},
		{"foo;;a"},
		{"fo\"o\""},
		{"foo\x00"},
		{"foo, bar baz"},
		{"foo/1"},
		{"ok", "bad one"},
		{"é"},
	}
	for _, lines := range bad {
		if got, err := ParseExtensions(lines); err == nil {
			t.Errorf("ParseExtensions(%q) = %+v, want error", lines, got)
		}
	}
}

func TestFormatExtensions(t *testing.T) {
	cases := []struct {
		in   []Extension
		want string
	}{
		{nil, ""},
		{[]Extension{ext("permessage-deflate")}, "permessage-deflate"},
		{[]Extension{ext("permessage-deflate", flag("client_no_context_takeover"), kv("server_max_window_bits", "10")), ext("x")},
			"permessage-deflate; client_no_context_takeover; server_max_window_bits=10, x"},
		{[]Extension{ext("x", kv("a", "b c"), kv("q", `"\`), kv("e", ""))}, `x; a="b c"; q="\"\\"; e=""`},
	}
	for _, c := range cases {
		if got := FormatExtensions(c.in); got != c.want {
			t.Errorf("FormatExtensions(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
	// Token-only extensions survive a round trip.
	in := []Extension{ext("a", kv("b", "1"), flag("c")), ext("a"), ext("d", kv("e", "f"))}
	out, err := ParseExtensions([]string{FormatExtensions(in)})
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	// Quoted output of FormatExtensions is valid quoted-string syntax.
	if v, n, err := unquote(`"\"\\"`); err != nil || v != `"\` || n != 6 {
		t.Fatalf("unquote: %q %d %v", v, n, err)
	}
}

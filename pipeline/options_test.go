package pipeline

import (
	"io"
	"math"
	"reflect"
	"sync"
	"testing"
)

// Connections made with equal Options share one resolved copy, and any
// difference, in any field, callbacks included, gives a copy of its own.
func TestResolveOptionsShares(t *testing.T) {
	onMsg := func(*Conn, MessageType, io.Reader) error { return nil }
	base := Options{OnMessage: onMsg, SendQueue: 7}
	a := base
	b := base // another pointer, equal contents
	ra, rb := resolveOptions(&a), resolveOptions(&b)
	if ra != rb {
		t.Fatal("equal Options resolved to different copies")
	}
	if ra.SendQueue != 7 || ra.CloseTimeout != DefaultCloseTimeout {
		t.Fatalf("resolved %+v", *ra)
	}
	if resolveOptions(nil) != defaultOptions {
		t.Fatal("nil Options not the shared defaults")
	}
	// Every field, set to something else, must tell the Options apart:
	// equal must not miss a field added later.
	typ := reflect.TypeOf(Options{})
	for i := range typ.NumField() {
		c := base
		f := reflect.ValueOf(&c).Elem().Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 12345)
		case reflect.Ptr:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Func:
			// A func value of its own, even with the same code.
			x := i
			f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value {
				_ = x
				return zeroResults(f.Type())
			}))
		default:
			t.Fatalf("field %s of kind %v: teach this test and Options.equal", typ.Field(i).Name, f.Kind())
		}
		if base.equal(&c) {
			t.Errorf("Options differing in %s compare equal", typ.Field(i).Name)
		}
		if resolveOptions(&c) == resolveOptions(&base) {
			t.Errorf("Options differing in %s share a resolved copy", typ.Field(i).Name)
		}
	}
	// A closure made twice from the same code is two callbacks.
	mk := func(n int) func(*Conn, error) { return func(*Conn, error) { _ = n } }
	x, y := base, base
	x.OnClose, y.OnClose = mk(1), mk(2)
	if x.equal(&y) {
		t.Error("two closures of the same code compare equal")
	}
}

func zeroResults(ft reflect.Type) []reflect.Value {
	out := make([]reflect.Value, ft.NumOut())
	for i := range out {
		out[i] = reflect.Zero(ft.Out(i))
	}
	return out
}

// Connections made at once with different Options each get their own
// settings, whatever the shared entry holds meanwhile.
func TestResolveOptionsConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				o := &Options{SendQueue: 1 + g, MaxMessageSize: int64(1000 + i%3)}
				r := resolveOptions(o)
				if r.SendQueue != o.SendQueue || r.MaxMessageSize != o.MaxMessageSize {
					t.Errorf("resolved %d/%d for %d/%d", r.SendQueue, r.MaxMessageSize, o.SendQueue, o.MaxMessageSize)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// ReadBufferSize's defaults and bounds: small sizes take the default, and
// a size past 1 GiB is taken as 1 GiB (the reader keeps it in an int32).
func TestReadBufferSizeBounds(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, DefaultReadBufferSize},
		{63, DefaultReadBufferSize},
		{64, 64},
		{1 << 30, 1 << 30},
		{1<<30 + 1, 1 << 30},
		{math.MaxInt, 1 << 30},
	} {
		var v Options
		v.setDefaults(&Options{ReadBufferSize: tc.in})
		if v.ReadBufferSize != tc.want {
			t.Errorf("ReadBufferSize %d: resolved to %d, want %d", tc.in, v.ReadBufferSize, tc.want)
		}
	}
}

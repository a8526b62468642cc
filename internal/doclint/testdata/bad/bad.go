// Package bad holds doc links for doclint's test: each line of the lists
// below has one, good or broken. Good: [T], [*T], [T.M], [T.F],
// [V.Hidden] (go doc promotes it from an unexported type), [bad.T],
// [io], [io.Reader], [io.Reader.Read], [net/http.Client.Do],
// [github.com/wspipe/wspipe/layers.FrameReader], [context.Context],
// [golang.org/x/sync/errgroup.Group.Go], [errors.Is], [*strings.Builder].
// Not links at all, and fine: a[i], p[0:n], [0, n), []byte, [RFC 6455],
// and the [Go spec].
//
// Broken, one per line:
//   - [Missing] is declared nowhere.
//   - [*Missing2] neither.
//   - [T.Nope] is no method or field of T.
//   - [io.Nope] is not in package io.
//   - [io.Reader.Nope] is no method of io.Reader.
//   - [pipeline.Conn] names a package this one does not import.
//   - [github.com/wspipe/wspipe/layers.Nope] is not in layers.
//   - [github.com/wspipe/wspipe/nosuchpkg.X] is no package.
//   - [bad.Gone] uses this package's own name for a name it lacks.
//   - [nosuchpkg] is no package.
//   - [U.M] is promoted from T, an exported type: go doc links no such name.
//   - [U.T] is an embedded field: go doc links no such name either.
//   - [io.ReadWriter.Read] is promoted from io.Reader.
//
// [Go spec]: https://go.dev/ref/spec
package bad

import "io"

// T is a type; its doc links to [T.M] (good) and [T.Absent] (broken).
type T struct {
	// F is a field; [Undeclared] is broken.
	F int
}

// M is a method; [W.Nope] is broken.
func (T) M() {}

// U embeds T.
type U struct{ T }

// V embeds inner, whose methods go doc shows as V's.
type V struct{ inner }

type inner struct{}

// Hidden is promoted to V.
func (inner) Hidden() {}

// W embeds io.Reader.
type W struct{ io.Reader }

// unexported's comment is checked too: [AlsoMissing] is broken.
func unexported() {}

// The constants; [C2] is broken.
const (
	// C is a constant: [C] is good, [io.EOF.Nope] is broken.
	C = 1
)

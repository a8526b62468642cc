// Package stackcheck lets tests check that a path fits in the stack a
// goroutine starts with (2 KiB), as docs/architecture.md's stack budget
// asks of the raw upgrade and of a short connection's reader goroutine.
package stackcheck

import (
	"runtime"
	"runtime/debug"
	"testing"
	"unsafe"
)

// Moved runs f on the calling goroutine and reports whether the
// goroutine's stack was copied meanwhile, which is how the runtime grows a
// stack: the address of a local changes. A stack at its starting size is
// never shrunk, so on a fresh goroutine a move means f needed more room.
func Moved(f func()) bool {
	var mark byte
	before := uintptr(unsafe.Pointer(&mark))
	f()
	return uintptr(unsafe.Pointer(&mark)) != before
}

// OnFresh runs f on a new goroutine and reports whether its stack moved.
func OnFresh(f func()) bool {
	done := make(chan bool)
	go func() { done <- Moved(f) }()
	return <-done
}

// SkipUnlessChecked skips t where frame sizes differ from what the budget
// was measured on: other than amd64, or instrumented by -race or -cover.
func SkipUnlessChecked(t testing.TB) {
	t.Helper()
	if runtime.GOARCH != "amd64" || instrumented() || testing.CoverMode() != "" {
		t.Skip("the stack budget is checked on amd64 without -race or -cover")
	}
}

func instrumented() bool {
	bi, _ := debug.ReadBuildInfo()
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

//go:build !unix

package sockio

import (
	"io"
	"net"
)

// rawSock is the Unix systems' (sockio_unix.go): here every connection is
// read with its own Read.
type rawSock struct{}

func newRawSock(*Socket, net.Conn, Host) *rawSock { return nil }

// lowatOK is false: only Linux's SO_RCVLOWAT is known to wake a waiter
// whatever the socket's buffer and window (see sockio_linux.go).
const lowatOK = false

func (s *Socket) fillRaw() error                                     { panic("sockio: no raw socket") }
func (w *rawSock) read(s *Socket, p []byte, whole bool) (int, error) { panic("sockio: no raw socket") }

// Pump is for a raw socket only, which there is none of here.
func (s *Socket) Pump() error { panic("sockio: Pump without a raw socket") }

// InPump reports false: Pump never runs here.
func (s *Socket) InPump() bool { return false }

// Writer returns nil: the writer side writes to the net.Conn.
func (s *Socket) Writer() io.Writer { return nil }

// IdleFromStart does nothing: Pump never runs here.
func (s *Socket) IdleFromStart() {}

// Forget does nothing: Pump never runs here.
func (s *Socket) Forget() {}

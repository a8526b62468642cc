//go:build !unix

package pipeline

import "net"

func newRawWaiter(net.Conn) rawWaiter { return nil }

//go:build !linux

package servers

import (
	"errors"
	"net"
)

// serveGoEpoll is Linux's (goepoll_linux.go).
func serveGoEpoll(net.Listener) (Running, error) {
	return nil, errors.New("go-epoll: Linux only")
}

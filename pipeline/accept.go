package pipeline

import (
	"net"
	"net/http"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// Accept upgrades an HTTP request with hs's policy (nil means the zero
// handshake.Server) and starts a server Conn on it. On a refused handshake
// the HTTP error has already been written and the error is returned.
func Accept(w http.ResponseWriter, r *http.Request, hs *handshake.Server, opts *Options) (*Conn, error) {
	if hs == nil {
		hs = &handshake.Server{}
	}
	res, err := hs.Upgrade(w, r)
	if err != nil {
		return nil, err
	}
	return NewServerConn(res, opts), nil
}

// AcceptConn runs the server handshake on a raw net.Conn, without net/http,
// and starts a server Conn on it. On failure the caller closes raw.
func AcceptConn(raw net.Conn, hs *handshake.Server, opts *Options) (*Conn, error) {
	if hs == nil {
		hs = &handshake.Server{}
	}
	res, err := hs.UpgradeConn(raw)
	if err != nil {
		return nil, err
	}
	return NewServerConn(res, opts), nil
}

// NewServerConn starts a server Conn on the stream a handshake yielded.
func NewServerConn(res *handshake.Result, opts *Options) *Conn {
	c := NewConn(res.Conn, res.Buffered, layers.RoleServer, opts)
	c.subprotocol = res.Subprotocol
	return c
}

// Subprotocol returns the subprotocol the handshake selected, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

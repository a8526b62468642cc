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
	res, err := withDeflate(hs, opts).Upgrade(w, r)
	if err != nil {
		return nil, err
	}
	return NewServerConn(res, opts), nil
}

// withDeflate returns hs (or the zero Server) with the permessage-deflate
// policy of opts plugged in, unless hs negotiates extensions itself.
func withDeflate(hs *handshake.Server, opts *Options) *handshake.Server {
	if hs == nil {
		hs = &handshake.Server{}
	}
	if opts != nil && opts.Compression != nil && hs.Extensions == nil {
		h := *hs
		h.Extensions = DeflateExtensions(opts.Compression)
		return &h
	}
	return hs
}

// AcceptConn runs the server handshake on a raw net.Conn, without net/http,
// and starts a server Conn on it. On failure the caller closes raw.
func AcceptConn(raw net.Conn, hs *handshake.Server, opts *Options) (*Conn, error) {
	// The raw upgrade parses in a pooled buffer and allocates nothing.
	res, err := withDeflate(hs, opts).UpgradeRaw(raw, nil)
	if err != nil {
		return nil, err
	}
	return NewServerConn(&handshake.Result{Conn: raw, Buffered: res.Buffered,
		Subprotocol: res.Subprotocol, Extensions: res.Extensions}, opts), nil
}

// NewServerConn starts a server Conn on the stream a handshake yielded.
//
// If opts.Compression is set and the handshake accepted permessage-deflate,
// messages are compressed with the negotiated parameters.
func NewServerConn(res *handshake.Result, opts *Options) *Conn {
	var pmd *deflateState
	if opts != nil && opts.Compression != nil {
		if ext, ok := findDeflate(res.Extensions); ok {
			if p, err := handshake.ParseDeflateParams(ext); err == nil {
				pmd = newDeflateState(layers.RoleServer, p, opts.Compression)
			}
		}
	}
	c := newConn(res.Conn, res.Buffered, layers.RoleServer, opts, pmd)
	c.subprotocol = res.Subprotocol
	return c
}

// Subprotocol returns the subprotocol the handshake selected, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

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
//
// Over HTTP/2 (an RFC 8441 extended CONNECT, r.ProtoMajor == 2) the Conn
// rides the request's stream, which ends when the handler returns: the
// handler must not return before the Conn has ended, so it calls c.Wait()
// (as it does anyway when it reads in a loop; in push mode, with
// Options.OnMessage, it must too, unlike over HTTP/1.1 where it may
// return at once). The Conn is otherwise the same: limits, heartbeat,
// closing handshake, compression and layers all work as over HTTP/1.1,
// and a reset stream or a lost connection ends it as an abnormal closure
// (1006). See handshake.ConfigureHTTP2 for serving both on one port.
func Accept(w http.ResponseWriter, r *http.Request, hs *handshake.Server, opts *Options) (*Conn, error) {
	res, err := WithCompression(hs, opts).Upgrade(w, r)
	if err != nil {
		return nil, err
	}
	return NewServerConn(res, opts), nil
}

// WithCompression returns hs (or the zero Server) with the
// permessage-deflate policy of opts.Compression plugged in as its
// Extensions hook, unless hs negotiates extensions itself. Accept and
// AcceptConn use it; a server that runs the handshake itself (with
// UpgradeOrHandOff, say) uses it too and then calls NewRawServerConn.
func WithCompression(hs *handshake.Server, opts *Options) *handshake.Server {
	if hs == nil {
		hs = &handshake.Server{}
	}
	if opts != nil && opts.Compression != nil && hs.Extensions == nil {
		h := *hs
		p := opts.Compression.policy()
		h.Extensions = p.Extensions()
		return &h
	}
	return hs
}

// AcceptConn runs the server handshake on a raw net.Conn, without net/http,
// and starts a server Conn on it. On failure the caller closes raw.
func AcceptConn(raw net.Conn, hs *handshake.Server, opts *Options) (*Conn, error) {
	// The raw upgrade parses in a pooled buffer and allocates nothing.
	res, err := WithCompression(hs, opts).UpgradeRaw(raw, nil)
	if err != nil {
		return nil, err
	}
	return NewRawServerConn(raw, res, opts), nil
}

// NewServerConn starts a server Conn on the stream a handshake yielded.
//
// If opts.Compression is set and the handshake accepted permessage-deflate,
// messages are compressed with the negotiated parameters.
func NewServerConn(res *handshake.Result, opts *Options) *Conn {
	return newServerConn(res.Conn, &handshake.RawResult{Buffered: res.Buffered,
		Subprotocol: res.Subprotocol, Extensions: res.Extensions}, opts)
}

// newServerConn is NewServerConn and NewRawServerConn. It runs on the
// goroutine that did the handshake, often a fresh one, within the stack
// budget (docs/architecture.md).
func newServerConn(conn net.Conn, res *handshake.RawResult, opts *Options) *Conn {
	var pmd *deflateState
	if opts != nil && opts.Compression != nil {
		pmd = acceptedDeflate(res.Extensions, opts.Compression)
	}
	// newConn's steps, without its frame: the stack budget has no room.
	c := prepareConn(conn, res.Buffered, layers.RoleServer, opts, pmd)
	c.setSubprotocol(res.Subprotocol)
	c.start()
	return c
}

// acceptedDeflate returns the permessage-deflate state for the extensions a
// server accepted, or nil if permessage-deflate is not among them.
func acceptedDeflate(exts []handshake.Extension, cfg *Compression) *deflateState {
	if ext, ok := findDeflate(exts); ok {
		if p, err := handshake.ParseDeflateParams(ext); err == nil {
			return newDeflateState(layers.RoleServer, p, cfg)
		}
	}
	return nil
}

// Subprotocol returns the subprotocol the handshake selected, or "".
func (c *Conn) Subprotocol() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.subprotocol
}

// NewRawServerConn starts a server Conn on conn after a raw handshake
// (handshake.Server.UpgradeRaw or UpgradeOrHandOff) that yielded res.
func NewRawServerConn(conn net.Conn, res handshake.RawResult, opts *Options) *Conn {
	return newServerConn(conn, &res, opts)
}

package pipeline

import (
	"context"
	"net/http"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// Dial opens a WebSocket connection to url (ws://, wss://, or http:// and
// https:// as aliases) with hc's settings (nil means the zero
// handshake.Client: no subprotocol, proxy from the environment, default
// TLS and timeouts) and starts a client Conn on it with opts (nil for the
// defaults). Conn.Subprotocol reports the subprotocol the server selected.
//
// The *http.Response is the server's answer: the 101 on success, or a
// refusal, returned together with a *handshake.HandshakeError (its Body
// holds the start of the refusal's body). See handshake.Client.Dial for the
// errors.
//
// With opts.Compression set, the permessage-deflate offer it holds is
// added to hc's extension offers; a malformed answer fails the dial.
//
// With hc.HTTP2 set, the WebSocket may ride a stream of an HTTP/2
// connection that other WebSockets to the same origin share (RFC 8441);
// the Conn behaves the same, and closing it ends the stream only.
func Dial(ctx context.Context, url string, hc *handshake.Client, opts *Options) (*Conn, *http.Response, error) {
	if hc == nil {
		hc = &handshake.Client{}
	}
	var cfg *Compression
	var res *handshake.Result
	var resp *http.Response
	var err error
	if opts != nil && opts.Compression != nil {
		cfg = opts.Compression
		res, resp, err = hc.DialExtensions(ctx, url, cfg.Offer.Extension())
	} else {
		res, resp, err = hc.Dial(ctx, url)
	}
	if err != nil {
		return nil, resp, err
	}
	var pmd *deflateState
	if cfg != nil {
		if ext, ok := findDeflate(res.Extensions); ok {
			p, err := handshake.ParseDeflateResponse(ext, cfg.Offer)
			if err != nil {
				// RFC 7692 section 5: fail the connection on a bad answer.
				res.Conn.Close()
				return nil, resp, err
			}
			pmd = newDeflateState(layers.RoleClient, p, cfg)
		}
	}
	return newConn(res.Conn, res.Buffered, layers.RoleClient, opts, pmd, res.Subprotocol), resp, nil
}

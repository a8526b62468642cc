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
// A Conn does not implement extensions yet (frames with RSV bits set are
// a protocol error), so hc should not offer any the server might accept.
func Dial(ctx context.Context, url string, hc *handshake.Client, opts *Options) (*Conn, *http.Response, error) {
	if hc == nil {
		hc = &handshake.Client{}
	}
	res, resp, err := hc.Dial(ctx, url)
	if err != nil {
		return nil, resp, err
	}
	c := NewConn(res.Conn, res.Buffered, layers.RoleClient, opts)
	c.subprotocol = res.Subprotocol
	return c, resp, nil
}

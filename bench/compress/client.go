package compress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// ClientOptions are the one client's options for every server: wspipe's
// pipeline.Dial offering permessage-deflate with context takeover and
// client_max_window_bits without a value (the server may shrink the
// client's window, as browsers allow), compression level 1 and the default
// 128-byte threshold.
func ClientOptions() *pipeline.Options {
	return &pipeline.Options{
		MaxMessageSize: maxMessage,
		Compression: &pipeline.Compression{
			Offer: handshake.DeflateOffer{ClientMaxWindowBits: -1},
		},
	}
}

// Client is a connection of the one client to a server under test.
type Client struct {
	*pipeline.Conn
	// Extensions is the server's Sec-WebSocket-Extensions answer.
	Extensions string
	buf        []byte
}

// Dial connects to url and checks that srv negotiated permessage-deflate
// as it is configured to: an answer naming the extension, with context
// takeover both ways exactly when srv.Takeover, and srv.ServerBits as the
// server's window. Anything else fails: a server that does not compress
// must not be measured as if it did.
func Dial(ctx context.Context, url string, srv Server) (*Client, error) {
	c, resp, err := pipeline.Dial(ctx, url, nil, ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", srv.Name, err)
	}
	hdr := resp.Header.Values("Sec-WebSocket-Extensions")
	ext := strings.Join(hdr, ", ")
	if err := checkAnswer(hdr, srv); err != nil {
		c.UnderlyingConn().Close()
		return nil, fmt.Errorf("%s: %w", srv.Name, err)
	}
	return &Client{Conn: c, Extensions: ext}, nil
}

// checkAnswer checks a Sec-WebSocket-Extensions answer against srv.
func checkAnswer(hdr []string, srv Server) error {
	ext := strings.Join(hdr, ", ")
	exts, err := handshake.ParseExtensions(hdr)
	if err != nil || len(exts) != 1 || exts[0].Name != "permessage-deflate" {
		return fmt.Errorf("permessage-deflate not negotiated (Sec-WebSocket-Extensions: %q)", ext)
	}
	p, err := handshake.ParseDeflateParams(exts[0])
	if err != nil {
		return fmt.Errorf("answer %q: %w", ext, err)
	}
	if takeover := !p.ServerNoContextTakeover && !p.ClientNoContextTakeover; takeover != srv.Takeover {
		return fmt.Errorf("answer %q: context takeover %v, want %v", ext, takeover, srv.Takeover)
	}
	if p.ServerMaxWindowBits != srv.ServerBits {
		return fmt.Errorf("answer %q: server window %d bits, want %d", ext, p.ServerMaxWindowBits, srv.ServerBits)
	}
	return nil
}

// ErrMismatch: an echo differs from the message sent.
var ErrMismatch = errors.New("compress: echo differs from the message sent")

// RoundTrip sends msg as a text message and reads the echo, which must be
// the same bytes.
func (c *Client) RoundTrip(ctx context.Context, msg []byte) error {
	if err := c.WriteMessage(ctx, pipeline.Text, msg); err != nil {
		return err
	}
	typ, got, err := c.ReadMessage(ctx, c.buf[:0])
	c.buf = got
	if err != nil {
		return err
	}
	if typ != pipeline.Text || !bytes.Equal(got, msg) {
		return fmt.Errorf("%w (%d bytes sent, %d received)", ErrMismatch, len(msg), len(got))
	}
	return nil
}

// Close ends the connection with a closing handshake (bounded by
// pipeline's CloseTimeout).
func (c *Client) Close() error {
	c.Conn.Close(pipeline.CloseNormal, "")
	return c.UnderlyingConn().Close()
}

// Abort drops the connection without a closing handshake.
func (c *Client) Abort() error { return c.UnderlyingConn().Close() }

// WireBytes returns the TCP payload bytes this connection has received and
// sent so far (tcpi_bytes_received and tcpi_bytes_sent): what the server's
// compression put on the wire, frame headers included.
func (c *Client) WireBytes() (received, sent uint64, err error) {
	tc, ok := c.UnderlyingConn().(*net.TCPConn)
	if !ok {
		return 0, 0, errors.New("compress: not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return 0, 0, err
	}
	if gerr != nil {
		return 0, 0, gerr
	}
	return info.Bytes_received, info.Bytes_sent, nil
}

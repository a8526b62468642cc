package interop

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// The Go peers follow the peer protocol of doc.go in-process, reporting to
// a hub directly.

// peerLifetime bounds a Go peer's connection.
const peerLifetime = 2 * time.Minute

// gorillaBufferSize is the gorilla peer's buffer size: its messages go out
// in frames of about this size, so a fragmented message of a few KiB does
// come out in several frames.
const gorillaBufferSize = 1024

// extView is what a Go peer answers to "cmd:extensions": the
// Sec-WebSocket-Extensions of the server's 101 as its client received it.
// A server's library does not say what it answered, so known is false for
// them and they answer "unsupported:extensions".
type extView struct {
	value string
	known bool
}

func (v extView) answer() string {
	if !v.known {
		return "unsupported:extensions"
	}
	return "extensions:" + v.value
}

// gorillaPeer runs the peer protocol on a gorilla connection.
func gorillaPeer(c *gorilla.Conn, id string, h *hub, exts extView) {
	defer c.Close()
	deadline := func() time.Time { return time.Now().Add(5 * time.Second) }
	c.SetReadDeadline(time.Now().Add(peerLifetime))
	// All writes happen in this goroutine (the handlers run inside
	// ReadMessage), as gorilla requires.
	closeSent := false
	c.SetCloseHandler(func(code int, text string) error {
		if !closeSent { // echo the code, as gorilla's default handler does
			c.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(code, ""), deadline())
		}
		return nil
	})
	pinging, pinged := false, ""
	c.SetPongHandler(func(data string) error {
		if pinging && data == pinged {
			pinging = false
			return c.WriteMessage(gorilla.TextMessage, []byte("pong:"+data))
		}
		return nil
	})
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			var ce *gorilla.CloseError
			if errors.As(err, &ce) {
				h.post(report{ID: id, Event: "close", Code: ce.Code, Reason: ce.Text})
			} else {
				h.post(report{ID: id, Event: "error", Error: err.Error()})
				h.post(report{ID: id, Event: "close", Code: 1006})
			}
			return
		}
		cmd, isCmd := strings.CutPrefix(string(msg), "cmd:")
		if typ != gorilla.TextMessage || !isCmd {
			err = c.WriteMessage(typ, msg)
		} else {
			name, arg, _ := strings.Cut(cmd, ":")
			switch name {
			case "close":
				code, reason := closeArgs(arg)
				closeSent = true
				err = c.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(code, reason), deadline())
			case "ping":
				pinging, pinged = true, arg
				err = c.WriteControl(gorilla.PingMessage, []byte(arg), deadline())
			case "protocol":
				err = c.WriteMessage(gorilla.TextMessage, []byte("protocol:"+c.Subprotocol()))
			case "extensions":
				err = c.WriteMessage(gorilla.TextMessage, []byte(exts.answer()))
			case "frag":
				err = writePieces(arg, func(typ int, pieces [][]byte) error {
					w, err := c.NextWriter(typ)
					if err != nil {
						return err
					}
					for _, p := range pieces {
						if _, err := w.Write(p); err != nil {
							return err
						}
					}
					return w.Close()
				}, gorilla.TextMessage, gorilla.BinaryMessage)
			default:
				err = c.WriteMessage(gorilla.TextMessage, []byte("unsupported:"+name))
			}
		}
		if err != nil {
			h.post(report{ID: id, Event: "error", Error: err.Error()})
		}
	}
}

// closeArgs parses a close command's "CODE:REASON"; an empty CODE is
// 1005, which both libraries send as a close frame without a status code.
func closeArgs(arg string) (int, string) {
	codeStr, reason, _ := strings.Cut(arg, ":")
	if codeStr == "" {
		return 1005, reason
	}
	code, _ := strconv.Atoi(codeStr)
	return code, reason
}

// writePieces parses a frag command's "TYPE:N:SIZE[:noise]" and writes
// the pieces with write, as the text or binary message type of the
// library.
func writePieces[T any](arg string, write func(typ T, pieces [][]byte) error, text, binary T) error {
	f := strings.Split(arg, ":")
	if len(f) != 3 && (len(f) != 4 || f[3] != "noise") {
		return errors.New("bad frag command " + arg)
	}
	n, _ := strconv.Atoi(f[1])
	size, _ := strconv.Atoi(f[2])
	pieces := make([][]byte, n)
	for k := range pieces {
		if len(f) == 4 {
			pieces[k] = noisePiece(k, size)
		} else {
			pieces[k] = bytes.Repeat([]byte{byte('a' + k%26)}, size)
		}
	}
	typ := text
	if f[0] == "binary" {
		typ = binary
	}
	return write(typ, pieces)
}

// noisePiece is the k-th piece of a "noise" frag command (doc.go): size
// printable ASCII bytes that deflate can hardly compress.
func noisePiece(k, size int) []byte {
	b := make([]byte, size)
	x := uint32(k + 1)
	for i := range b {
		x = (x*1103515245 + 12345) & 0x7fffffff
		b[i] = byte(33 + (x>>16)%94)
	}
	return b
}

// coderPeer runs the peer protocol on a coder connection.
func coderPeer(c *coder.Conn, id string, h *hub, exts extView) {
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), peerLifetime)
	defer cancel()
	c.SetReadLimit(64 << 20)
	fail := func(err error) { h.post(report{ID: id, Event: "error", Error: err.Error()}) }
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			var ce coder.CloseError
			if errors.As(err, &ce) {
				h.post(report{ID: id, Event: "close", Code: int(ce.Code), Reason: ce.Reason})
			} else {
				fail(err)
				h.post(report{ID: id, Event: "close", Code: 1006})
			}
			return
		}
		cmd, isCmd := strings.CutPrefix(string(msg), "cmd:")
		if typ != coder.MessageText || !isCmd {
			err = c.Write(ctx, typ, msg)
		} else {
			name, arg, _ := strings.Cut(cmd, ":")
			switch name {
			case "close":
				code, reason := closeArgs(arg)
				// Close runs the whole handshake and returns nil only if
				// the peer's close frame carried the same code.
				if err := c.Close(coder.StatusCode(code), reason); err != nil {
					fail(err)
					code = int(coder.CloseStatus(err))
				}
				h.post(report{ID: id, Event: "close", Code: code})
				return
			case "ping":
				// Ping needs this goroutine to go on reading, for the pong.
				go func() {
					pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					if err := c.Ping(pctx); err != nil {
						fail(err)
						return
					}
					if err := c.Write(ctx, coder.MessageText, []byte("pong:"+arg)); err != nil {
						fail(err)
					}
				}()
			case "protocol":
				err = c.Write(ctx, coder.MessageText, []byte("protocol:"+c.Subprotocol()))
			case "extensions":
				err = c.Write(ctx, coder.MessageText, []byte(exts.answer()))
			case "frag":
				err = writePieces(arg, func(typ coder.MessageType, pieces [][]byte) error {
					w, err := c.Writer(ctx, typ)
					if err != nil {
						return err
					}
					for _, p := range pieces {
						if _, err := w.Write(p); err != nil {
							return err
						}
					}
					return w.Close()
				}, coder.MessageText, coder.MessageBinary)
			default:
				err = c.Write(ctx, coder.MessageText, []byte("unsupported:"+name))
			}
		}
		if err != nil {
			fail(err)
		}
	}
}

// goClientPeer is a Go library's client as a clientPeer.
type goClientPeer struct {
	h *hub
	// run dials, then serves the connection. deflate is connCfg.peerDeflate.
	run func(ctx context.Context, id, url string, protocols []string, deflate any) error
}

func (p *goClientPeer) hub() *hub { return p.h }

func (p *goClientPeer) connect(id, url string, protocols []string, deflate any) error {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), peerLifetime)
		defer cancel()
		if err := p.run(ctx, id, url, protocols, deflate); err != nil {
			p.h.post(report{ID: id, Event: "error", Error: err.Error()})
			p.h.post(report{ID: id, Event: "close", Code: 1006})
		}
	}()
	return nil
}

// gorillaClient is gorilla's Dialer; a peerDeflate of true sets its
// EnableCompression.
func gorillaClient(pki *testPKI) clientPeer {
	p := &goClientPeer{h: newHub()}
	p.run = func(ctx context.Context, id, url string, protocols []string, deflate any) error {
		d := gorilla.Dialer{
			Subprotocols:      protocols,
			TLSClientConfig:   pki.clientTLS(),
			HandshakeTimeout:  10 * time.Second,
			WriteBufferSize:   gorillaBufferSize,
			EnableCompression: deflate == true,
		}
		c, resp, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return err
		}
		gorillaPeer(c, id, p.h, extView{resp.Header.Get("Sec-WebSocket-Extensions"), true})
		return nil
	}
	return p
}

// coderClient is coder's Dial; a peerDeflate of type coder.CompressionMode
// sets DialOptions.CompressionMode.
func coderClient(pki *testPKI) clientPeer {
	p := &goClientPeer{h: newHub()}
	p.run = func(ctx context.Context, id, url string, protocols []string, deflate any) error {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.clientTLS()}}
		opts := &coder.DialOptions{Subprotocols: protocols, HTTPClient: hc}
		if mode, ok := deflate.(coder.CompressionMode); ok {
			opts.CompressionMode = mode
		}
		c, resp, err := coder.Dial(ctx, url, opts)
		if err != nil {
			return err
		}
		coderPeer(c, id, p.h, extView{resp.Header.Get("Sec-WebSocket-Extensions"), true})
		return nil
	}
	return p
}

// startGoServer serves handler on loopback over ws:// and wss://.
func startGoServer(t *testing.T, pki *testPKI, h *hub, handler http.Handler) serverPeer {
	plain := httptest.NewServer(handler)
	secure := httptest.NewUnstartedServer(handler)
	secure.TLS = pki.serverTLS()
	secure.StartTLS()
	t.Cleanup(plain.Close)
	t.Cleanup(secure.Close)
	return serverPeer{ws: plain.Listener.Addr().String(), wss: secure.Listener.Addr().String(), h: h}
}

// gorillaServer is gorilla's Upgrader, with EnableCompression if compress.
func gorillaServer(t *testing.T, pki *testPKI, compress bool) serverPeer {
	h := newHub()
	up := gorilla.Upgrader{Subprotocols: serverProtocols, WriteBufferSize: gorillaBufferSize, EnableCompression: compress}
	return startGoServer(t, pki, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered
		}
		gorillaPeer(c, r.URL.Query().Get("id"), h, extView{})
	}))
}

// coderServer is coder's Accept with CompressionMode mode.
func coderServer(t *testing.T, pki *testPKI, mode coder.CompressionMode) serverPeer {
	h := newHub()
	return startGoServer(t, pki, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{Subprotocols: serverProtocols, CompressionMode: mode})
		if err != nil {
			return // Accept has answered
		}
		coderPeer(c, r.URL.Query().Get("id"), h, extView{})
	}))
}

package pipeline

import (
	"bytes"
	"compress/flate"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// deflateEchoServer echoes with compression enabled on the server.
func deflateEchoServer(t testing.TB, cfg *Compression, max int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts := &Options{Compression: cfg, MaxMessageSize: max}
		opts.OnMessage = func(c *Conn, typ MessageType, r io.Reader) error {
			wr, err := c.NextWriter(context.Background(), typ)
			if err != nil {
				return err
			}
			if _, err := io.Copy(wr, r); err != nil {
				return nil
			}
			return wr.Close()
		}
		Accept(w, r, &handshake.Server{}, opts)
	}))
	t.Cleanup(srv.Close)
	return "ws://" + srv.Listener.Addr().String() + "/"
}

func TestCompressionRoundTrip(t *testing.T) {
	text := []byte(strings.Repeat(`{"user":"ada","action":"typing","room":42} `, 400))
	cases := []struct {
		name   string
		policy handshake.DeflatePolicy
		offer  handshake.DeflateOffer
	}{
		{"defaults", handshake.DeflatePolicy{}, handshake.DeflateOffer{ClientMaxWindowBits: -1}},
		{"no takeover", handshake.DeflatePolicy{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, handshake.DeflateOffer{}},
		{"small windows", handshake.DeflatePolicy{ServerMaxWindowBits: 9, ClientMaxWindowBits: 10}, handshake.DeflateOffer{ClientMaxWindowBits: -1}},
		{"client asks 8 bits", handshake.DeflatePolicy{}, handshake.DeflateOffer{ServerMaxWindowBits: 8, ClientMaxWindowBits: 8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := deflateEchoServer(t, &Compression{Policy: tc.policy}, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, resp, err := Dial(ctx, url, nil, &Options{Compression: &Compression{Offer: tc.offer}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(CloseNormal, "")
			if c.pmd == nil {
				t.Fatalf("permessage-deflate not negotiated: %v", resp.Header["Sec-Websocket-Extensions"])
			}
			msgs := [][]byte{text, []byte("short"), nil, text[:1000], bytes.Repeat([]byte{0xff}, 100000), text}
			for i, m := range msgs {
				typ := Binary
				if i%2 == 0 && utf8.Valid(m) {
					typ = Text
				}
				if err := c.WriteMessage(ctx, typ, m); err != nil {
					t.Fatal(err)
				}
				gt, got, err := c.ReadMessage(ctx, nil)
				if err != nil || gt != typ || !bytes.Equal(got, m) {
					t.Fatalf("message %d (%d bytes): got %v %d bytes, %v", i, len(m), gt, len(got), err)
				}
			}
			// Uncompressed on request.
			if err := c.WriteMessage(ctx, Text|Uncompressed, text); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.ReadMessage(ctx, nil); err != nil || !bytes.Equal(got, text) {
				t.Fatalf("uncompressed message: %v", err)
			}
		})
	}
}

// rawDeflateClient connects by hand, offering permessage-deflate without
// context takeover, so the test can build and inspect compressed frames.
func rawDeflateClient(t *testing.T, url string) (*rawConn, string) {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	nc, br := rawClientExt(t, addr, "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	return &rawConn{nc: nc, br: br}, addr
}

func compress(t *testing.T, p []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write(p)
	fw.Flush()
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatal("flush did not end with the sync marker")
	}
	return out[:len(out)-4]
}

func TestCompressedFramesOnTheWire(t *testing.T) {
	url := deflateEchoServer(t, &Compression{}, 0)
	rc, _ := rawDeflateClient(t, url)
	msg := bytes.Repeat([]byte("compress me please "), 500)
	h := layers.Header{Fin: true, Rsv: layers.RSV1, Opcode: layers.OpText}
	rc.send(t, h, compress(t, msg))
	got, payload := rc.recv(t)
	if got.Rsv&layers.RSV1 == 0 {
		t.Fatal("the echo of a large repetitive message was not compressed")
	}
	if len(payload) >= len(msg)/4 {
		t.Fatalf("compressed echo is %d bytes for %d", len(payload), len(msg))
	}
	out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))))
	if err != nil || !bytes.Equal(out, msg) {
		t.Fatalf("inflating the echo: %v", err)
	}
}

func TestCompressionBombClosesWith1009(t *testing.T) {
	url := deflateEchoServer(t, &Compression{}, 1<<20)
	rc, _ := rawDeflateClient(t, url)
	// 64 MiB of zeros compress to a few tens of KiB.
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 64 {
		fw.Write(zeros)
	}
	fw.Flush()
	payload := b.Bytes()[:b.Len()-4]
	if len(payload) > 1<<20 {
		t.Fatalf("bomb payload %d bytes is not small", len(payload))
	}
	rc.send(t, layers.Header{Fin: true, Rsv: layers.RSV1, Opcode: layers.OpBinary}, payload)
	if code := expectClose(t, rc.nc, rc.br); code != CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestRSV1OnContinuationIsProtocolError(t *testing.T) {
	url := deflateEchoServer(t, &Compression{}, 0)
	rc, _ := rawDeflateClient(t, url)
	rc.send(t, layers.Header{Rsv: layers.RSV1, Opcode: layers.OpText}, compress(t, []byte("a")))
	rc.send(t, layers.Header{Fin: true, Rsv: layers.RSV1, Opcode: layers.OpContinuation}, nil)
	if code := expectClose(t, rc.nc, rc.br); code != CloseProtocolError {
		t.Fatalf("close code %d, want 1002", code)
	}
}

func TestCorruptDeflateClosesWith1007(t *testing.T) {
	url := deflateEchoServer(t, &Compression{}, 0)
	rc, _ := rawDeflateClient(t, url)
	rc.send(t, layers.Header{Fin: true, Rsv: layers.RSV1, Opcode: layers.OpBinary}, []byte{0xff, 0xff, 0xff, 0xff})
	if code := expectClose(t, rc.nc, rc.br); code != CloseInvalidPayload {
		t.Fatalf("close code %d, want 1007", code)
	}
}

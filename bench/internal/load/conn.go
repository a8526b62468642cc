package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Target is the server under load.
type Target struct {
	// Addr is host:port on the loopback.
	Addr string
	// Path is the WebSocket endpoint, "/" if empty.
	Path string
	// TCP means a plain TCP echo: no handshake and no framing, the
	// request's bytes come back as they are.
	TCP bool
	// PID is the server's process id, for its CPU time and RSS.
	PID int
}

func (t Target) path() string {
	if t.Path == "" {
		return "/"
	}
	return t.Path
}

// upgradeRequest builds the handshake request and the
// Sec-WebSocket-Accept value the server must answer with.
func (t Target) upgradeRequest() (req []byte, accept string) {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	req = []byte("GET " + t.path() + " HTTP/1.1\r\nHost: " + t.Addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	return req, base64.StdEncoding.EncodeToString(sum[:])
}

// client is one connection of the load generator.
type client struct {
	c   net.Conn
	br  *bufio.Reader
	key [4]byte
	out []byte // frame being written
	tcp bool
}

// dial connects to t and, unless t.TCP, performs the opening handshake,
// checking the 101 status and Sec-WebSocket-Accept. readBuf sizes the
// connection's read buffer.
func dial(ctx context.Context, d *net.Dialer, t Target, readBuf int) (*client, error) {
	c, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, err
	}
	cl := &client{c: c, br: bufio.NewReaderSize(c, readBuf), tcp: t.TCP}
	rand.Read(cl.key[:])
	if t.TCP {
		return cl, nil
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := cl.handshake(t); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return cl, nil
}

func (cl *client) handshake(t Target) error {
	req, accept := t.upgradeRequest()
	if _, err := cl.c.Write(req); err != nil {
		return err
	}
	status, err := cl.br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("reading handshake response: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("handshake refused: %q", bytes.TrimSpace(status))
	}
	gotAccept := false
	for range 64 {
		line, err := cl.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("reading handshake response: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if !gotAccept {
				return errors.New("handshake response without Sec-WebSocket-Accept")
			}
			return nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(name), "Sec-WebSocket-Accept") {
			if string(bytes.TrimSpace(value)) != accept {
				return fmt.Errorf("Sec-WebSocket-Accept %q, want %q", value, accept)
			}
			gotAccept = true
		}
	}
	return errors.New("handshake response has too many header lines")
}

// send writes one message carrying payload.
func (cl *client) send(payload []byte) error {
	if cl.tcp {
		_, err := cl.c.Write(payload)
		return err
	}
	cl.out = appendFrame(cl.out[:0], opBinary, cl.key, payload)
	_, err := cl.c.Write(cl.out)
	return err
}

// receive reads the reply to want into buf and checks it byte for byte.
func (cl *client) receive(buf, want []byte) error {
	if cl.tcp {
		if _, err := io.ReadFull(cl.br, buf[:len(want)]); err != nil {
			return err
		}
		return compare(buf[:len(want)], want)
	}
	return readBinaryMessage(cl.br, buf, want, cl.pong)
}

func (cl *client) pong(p []byte) error {
	cl.out = appendFrame(cl.out[:0], opPong, cl.key, p)
	_, err := cl.c.Write(cl.out)
	return err
}

// closeHandshake sends a close frame (1000) and waits, until the
// connection's deadline, for the server's close frame or the end of the
// connection; then it closes the socket.
func (cl *client) closeHandshake() error {
	defer cl.c.Close()
	if cl.tcp {
		return nil
	}
	var code [2]byte
	binary.BigEndian.PutUint16(code[:], 1000)
	cl.out = appendFrame(cl.out[:0], opClose, cl.key, code[:])
	if _, err := cl.c.Write(cl.out); err != nil {
		return err
	}
	for range 1024 {
		h, err := readHeader(cl.br)
		if errors.Is(err, io.EOF) {
			return nil // closed without a close frame: tolerated
		}
		if err != nil {
			return err
		}
		if _, err := cl.br.Discard(int(min(h.length, 1<<30))); err != nil {
			return err
		}
		if h.op == opClose {
			return nil
		}
	}
	return errors.New("no close frame after 1024 frames")
}

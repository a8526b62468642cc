package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/layers"
)

func TestCloseStatus(t *testing.T) {
	ce := &CloseError{Code: CloseGoingAway, Remote: true}
	for _, c := range []struct {
		err  error
		want CloseCode
	}{
		{nil, CloseNone},
		{context.Canceled, CloseNone},
		{ErrQueueFull, CloseNone},
		{ce, CloseGoingAway},
		{fmt.Errorf("read: %w", ce), CloseGoingAway},
		{&CloseError{Code: CloseAbnormal, Err: io.ErrUnexpectedEOF}, CloseAbnormal},
	} {
		if got := CloseStatus(c.err); got != c.want {
			t.Errorf("CloseStatus(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// The message says who ended the connection: the peer, us, or nobody.
func TestCloseErrorMessage(t *testing.T) {
	for _, c := range []struct {
		err  *CloseError
		want string
	}{
		{&CloseError{Code: 4000, Reason: "bye", Remote: true}, "websocket: closed by peer: 4000: bye"},
		{&CloseError{Code: 4000, Reason: "kicked"}, "websocket: closed by us: 4000: kicked"},
		{&CloseError{Code: ClosePolicyViolation, Reason: "send queue full", Err: ErrQueueFull}, "websocket: closed by us: 1008 policy violation: send queue full"},
		{&CloseError{Code: ClosePolicyViolation, Reason: "ping timeout", Err: ErrPeerTimeout}, "websocket: closed by us: 1008 policy violation: ping timeout: no pong from peer"},
		{&CloseError{Code: CloseAbnormal, Err: io.ErrUnexpectedEOF}, "websocket: connection ended without a close frame: 1006 abnormal closure: unexpected EOF"},
		{&CloseError{Code: CloseAbnormal, Err: ErrClosedNow}, "websocket: connection ended without a close frame: 1006 abnormal closure: closed by CloseNow, without a closing handshake"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// A client reading when the server goes away sees the server's code and
// reason, and Err says the same at once (it was nil there before).
func TestClientSeesServerClose(t *testing.T) {
	addr, conns := acceptServer(t, nil)
	c := dialRaw(t, addr, nil)
	defer c.UnderlyingConn().Close()
	srv := <-conns
	go srv.Close(CloseGoingAway, "restart")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.ReadMessage(ctx, nil)
	errNow := c.Err()
	var ce *CloseError
	if !errors.As(err, &ce) || !ce.Remote || ce.Code != CloseGoingAway || ce.Reason != "restart" {
		t.Fatalf("client read %v, want the peer's 1001 restart", err)
	}
	if errNow != error(ce) {
		t.Errorf("Err right after the read: %v, want the same %v", errNow, ce)
	}
	// And the writer learns the same code and reason.
	if err := c.WriteMessage(ctx, Text, []byte("x")); !errors.As(err, &ce) || ce.Code != CloseGoingAway || ce.Reason != "restart" {
		t.Errorf("write after the close: %v", err)
	}
	// The server's own view: ours, not the peer's echo.
	<-srv.Done()
	if err := srv.Err(); !errors.As(err, &ce) || ce.Remote || ce.Code != CloseGoingAway {
		t.Errorf("server's Err: %v, want our own 1001", err)
	}
}

// An OnMessage error fails the connection with 1011; the error is the
// cause the connection reports.
func TestOnMessageErrorCloses(t *testing.T) {
	boom := errors.New("handler failed")
	onClose := make(chan error, 1)
	addr, _ := acceptServer(t, &Options{
		OnMessage: func(*Conn, MessageType, io.Reader) error { return boom },
		OnClose:   func(c *Conn, err error) { onClose <- err },
	})
	nc, br := rawClient(t, addr)
	peer := &rawConn{nc: nc, br: br}
	peer.send(t, layers.Header{Fin: true, Opcode: layers.OpText}, []byte("hi"))
	h, p := peer.recv(t)
	if code, _, _ := layers.ParseClose(p); h.Opcode != layers.OpClose || code != CloseInternalError {
		t.Fatalf("peer got %v %v, want close 1011", h.Opcode, code)
	}
	peer.send(t, layers.Header{Fin: true, Opcode: layers.OpClose}, p)
	select {
	case err := <-onClose:
		if !errors.Is(err, boom) || CloseStatus(err) != CloseInternalError {
			t.Errorf("OnClose got %v, want 1011 caused by the handler's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called")
	}
}

// A server that only writes calls CloseRead: the peer's messages are
// discarded, the closing handshake runs when the peer closes, and the
// context ends with the peer's close as its cause, although the close
// timeout is a minute.
func TestCloseRead(t *testing.T) {
	addr, conns := acceptServer(t, &Options{CloseTimeout: time.Minute})
	c := dialRaw(t, addr, &Options{CloseTimeout: time.Minute})
	defer c.UnderlyingConn().Close()
	srv := <-conns
	ctx := srv.CloseRead(context.Background())
	bg, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ { // unread, these would hold the reader goroutine up
		if err := c.WriteMessage(bg, Text, []byte("ignored")); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.WriteMessage(bg, Text, []byte("news")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(bg, nil); err != nil || string(msg) != "news" {
		t.Fatalf("client read %q, %v", msg, err)
	}
	if ctx.Err() != nil {
		t.Fatal("CloseRead's context ended while the connection is open")
	}
	go c.Close(4001, "done")
	select {
	case <-ctx.Done():
	case <-bg.Done():
		t.Fatal("CloseRead's context not cancelled after the peer's close")
	}
	var ce *CloseError
	if cause := context.Cause(ctx); !errors.As(cause, &ce) || !ce.Remote || ce.Code != 4001 {
		t.Errorf("cause %v, want the peer's 4001", cause)
	}
	if err := srv.WriteMessage(bg, Text, []byte("late")); CloseStatus(err) != 4001 {
		t.Errorf("write after the close: %v", err)
	}
}

// In push mode CloseRead only returns the connection's context.
func TestCloseReadPushMode(t *testing.T) {
	addr, conns := acceptServer(t, &Options{OnMessage: func(*Conn, MessageType, io.Reader) error { return nil }})
	c := dialRaw(t, addr, nil)
	defer c.UnderlyingConn().Close()
	srv := <-conns
	ctx := srv.CloseRead(context.Background())
	go c.Close(CloseNormal, "")
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("not cancelled")
	}
	if CloseStatus(context.Cause(ctx)) != CloseNormal {
		t.Errorf("cause %v", context.Cause(ctx))
	}
}

// The heartbeat does not drop a live peer while the application holds a
// message: nothing reads the socket then, so its pongs wait unread. The
// peer answers every ping; the application holds a message for many
// pong timeouts.
func TestHeartbeatWaitsWhileMessageHeld(t *testing.T) {
	hb := Options{PingInterval: 20 * time.Millisecond, PongTimeout: 60 * time.Millisecond}
	const hold = 600 * time.Millisecond
	t.Run("pull", func(t *testing.T) {
		addr, conns := acceptServer(t, &hb)
		c := dialRaw(t, addr, nil) // its reader goroutine answers pings
		defer c.UnderlyingConn().Close()
		srv := <-conns
		defer srv.UnderlyingConn().Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.WriteMessage(ctx, Text, []byte("slow to handle")); err != nil {
			t.Fatal(err)
		}
		_, r, err := srv.NextReader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(hold) // the application is busy with the message
		if b, err := io.ReadAll(r); err != nil || string(b) != "slow to handle" {
			t.Fatalf("read %q, %v after holding the message", b, err)
		}
		if err := srv.Err(); err != nil {
			t.Fatalf("dropped while the message was held: %v", err)
		}
		if _, err := srv.Ping(ctx); err != nil {
			t.Fatalf("ping after: %v", err)
		}
	})
	t.Run("push", func(t *testing.T) {
		opts := hb
		handled := make(chan error, 1)
		opts.OnMessage = func(c *Conn, _ MessageType, r io.Reader) error {
			time.Sleep(hold) // a slow handler
			_, err := io.ReadAll(r)
			handled <- err
			return nil
		}
		addr, conns := acceptServer(t, &opts)
		c := dialRaw(t, addr, nil)
		defer c.UnderlyingConn().Close()
		srv := <-conns
		defer srv.UnderlyingConn().Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.WriteMessage(ctx, Text, []byte("slow to handle")); err != nil {
			t.Fatal(err)
		}
		if err := <-handled; err != nil {
			t.Fatal(err)
		}
		if err := srv.Err(); err != nil {
			t.Fatalf("dropped while the handler ran: %v", err)
		}
		if _, err := srv.Ping(ctx); err != nil {
			t.Fatalf("ping after: %v", err)
		}
	})
}

// SendQueueBytes bounds the queue in bytes, whatever SendQueue allows.
func TestSendQueueBytes(t *testing.T) {
	const bound = 256 << 10
	srv, _ := stalledPair(t, &Options{Overflow: OverflowError, SendQueue: 1 << 20, SendQueueBytes: bound})
	defer srv.UnderlyingConn().Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := make([]byte, 64<<10)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = srv.WriteMessage(ctx, Binary, msg)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	srv.mu.Lock()
	queued, frames := srv.queued, len(srv.dataQ)-srv.dataHead
	srv.mu.Unlock()
	if queued > bound || queued+len(msg) <= bound {
		t.Errorf("%d bytes queued at overflow, want at most %d and no room for one more message", queued, bound)
	}
	t.Logf("%d frames, %d bytes queued", frames, queued)
	// A prepared message meets the same bound (the writer may have made
	// room meanwhile, if the socket took a little more).
	pm := NewPreparedMessage(Binary, msg)
	err = nil
	for i := 0; i < 10000 && err == nil; i++ {
		err = srv.WritePrepared(ctx, pm)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Errorf("WritePrepared: %v, want ErrQueueFull", err)
	}
	srv.mu.Lock()
	queued = srv.queued
	srv.mu.Unlock()
	if queued > bound {
		t.Errorf("%d bytes queued after WritePrepared's overflow, want at most %d", queued, bound)
	}
}

// SetReadLimit changes the limit for the messages that follow, lower or
// higher than Options.MaxMessageSize.
func TestSetReadLimit(t *testing.T) {
	for _, c := range []struct {
		name      string
		opt, set  int64
		size      int
		wantError bool
	}{
		{"lower", 0, 10, 100, true},
		{"higher", 16, 1 << 20, 1000, false},
		{"none", 16, 0, 1000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, conns := acceptServer(t, &Options{MaxMessageSize: c.opt, CloseTimeout: 200 * time.Millisecond})
			cl := dialRaw(t, addr, nil)
			defer cl.UnderlyingConn().Close()
			srv := <-conns
			defer srv.UnderlyingConn().Close()
			srv.SetReadLimit(c.set)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.WriteMessage(ctx, Binary, make([]byte, c.size)); err != nil {
				t.Fatal(err)
			}
			_, msg, err := srv.ReadMessage(ctx, nil)
			if c.wantError {
				if !errors.Is(err, ErrTooBig) || CloseStatus(err) != CloseMessageTooBig {
					t.Fatalf("got %v, want a 1009 close", err)
				}
				return
			}
			if err != nil || len(msg) != c.size {
				t.Fatalf("got %d bytes, %v", len(msg), err)
			}
		})
	}
}

func TestAddrsAndContext(t *testing.T) {
	addr, conns := acceptServer(t, &Options{CloseTimeout: 50 * time.Millisecond})
	c := dialRaw(t, addr, nil)
	defer c.UnderlyingConn().Close()
	srv := <-conns
	if srv.RemoteAddr().String() != c.LocalAddr().String() || srv.LocalAddr().String() != c.RemoteAddr().String() {
		t.Errorf("server %v<-%v, client %v->%v", srv.LocalAddr(), srv.RemoteAddr(), c.LocalAddr(), c.RemoteAddr())
	}
	ctx := srv.Context()
	if ctx.Err() != nil {
		t.Fatal("Context done while open")
	}
	if _, ok := ctx.Deadline(); ok {
		t.Error("Context has a deadline")
	}
	if !strings.Contains(fmt.Sprint(ctx), "Conn") {
		t.Errorf("Context prints as %v", ctx)
	}
	// A context derived from it ends with the connection.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Close(CloseNormal, "") // the client does not read: after the close timeout
	select {
	case <-child.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("derived context not cancelled")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err %v", ctx.Err())
	}
}

// CloseNow ends the connection without a close frame; the peer sees the
// transport go, and every call here reports the CloseNow.
func TestCloseNow(t *testing.T) {
	addr, conns := acceptServer(t, nil)
	c := dialRaw(t, addr, nil)
	defer c.UnderlyingConn().Close()
	srv := <-conns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	read := make(chan error, 1)
	go func() { _, _, err := srv.ReadMessage(ctx, nil); read <- err }()
	if err := srv.CloseNow(); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{<-read, srv.Err(), srv.Wait(), srv.CloseNow()} {
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Remote || ce.Code != CloseAbnormal || !errors.Is(err, ErrClosedNow) {
			t.Errorf("got %v, want our CloseNow", err)
		}
	}
	_, _, err := c.ReadMessage(ctx, nil)
	if CloseStatus(err) != CloseAbnormal {
		t.Errorf("peer read %v, want 1006", err)
	}
}

// A peer that stalls in the middle of a message is still dropped by the
// heartbeat while the application waits inside a read of that message:
// only a message held outside a read pauses the heartbeat.
func TestHeartbeatDropsPeerStalledMidMessage(t *testing.T) {
	for _, push := range []bool{false, true} {
		t.Run(fmt.Sprint("push=", push), func(t *testing.T) {
			opts := Options{PingInterval: 30 * time.Millisecond, PongTimeout: 60 * time.Millisecond, CloseTimeout: time.Minute}
			got := make(chan error, 1)
			if push {
				opts.OnMessage = func(c *Conn, _ MessageType, r io.Reader) error {
					_, err := io.ReadAll(r)
					got <- err
					return nil
				}
			}
			addr, conns := acceptServer(t, &opts)
			nc, br := rawClient(t, addr)
			srv := <-conns
			defer srv.UnderlyingConn().Close()
			if !push {
				go func() { _, _, err := srv.ReadMessage(context.Background(), nil); got <- err }()
			}
			// A frame header for 1000 bytes, then 10 of them, then nothing.
			frame := maskedFrame(true, layers.OpBinary, make([]byte, 1000))
			if _, err := nc.Write(frame[:len(frame)-990]); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, br) // reads our pings, answers none
			select {
			case err := <-got:
				if !errors.Is(err, ErrPeerTimeout) {
					t.Fatalf("read ended with %v, want the heartbeat's timeout", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a peer stalled mid-message was never dropped")
			}
		})
	}
}

// A burst of pipelined messages, each answered at once, fills a small send
// queue with replies that cork holds back; that is no overflow, under any
// policy: the replies go out and the connection stays up.
func TestBurstIsNoOverflow(t *testing.T) {
	for _, policy := range []OverflowPolicy{OverflowBlock, OverflowError, OverflowClose} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			var failed error
			opts := Options{SendQueue: 4, Overflow: policy, OnMessage: func(c *Conn, typ MessageType, r io.Reader) error {
				b, _ := io.ReadAll(r)
				if err := c.WriteMessage(context.Background(), typ, b); err != nil && failed == nil {
					failed = err
				}
				return nil
			}}
			addr, _ := acceptServer(t, &opts)
			nc, br := rawClient(t, addr)
			const n = 40
			var burst []byte
			for i := range n {
				burst = append(burst, maskedFrame(true, layers.OpText, []byte(fmt.Sprint("m", i)))...)
			}
			if _, err := nc.Write(burst); err != nil { // one write: one read on the server
				t.Fatal(err)
			}
			peer := &rawConn{nc: nc, br: br}
			for i := range n {
				h, p := peer.recv(t)
				if h.Opcode != layers.OpText || string(p) != fmt.Sprint("m", i) {
					t.Fatalf("reply %d: %v %q", i, h.Opcode, p)
				}
			}
			if failed != nil {
				t.Fatalf("a reply failed: %v", failed)
			}
		})
	}
}

// failingLayer's reader fails every message with its own error.
type failingLayer struct{ err error }

func (l failingLayer) WrapReader(_ MessageType, r io.Reader) io.Reader { return failingReader{l.err} }
func (l failingLayer) WrapWriter(_ MessageType, w io.WriteCloser) io.WriteCloser {
	return w
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// A custom layer's own failure (an error that is neither bad input nor
// the transport's) fails the connection with 1011, its error the cause:
// the peer gets the close frame, and every call reports the same end.
func TestLayerFailureCloses(t *testing.T) {
	boom := errors.New("cannot decrypt")
	for _, push := range []bool{false, true} {
		t.Run(fmt.Sprint("push=", push), func(t *testing.T) {
			onClose := make(chan error, 1)
			opts := Options{
				CloseTimeout: 200 * time.Millisecond,
				Layers:       func() []Layer { return []Layer{failingLayer{boom}} },
				OnClose:      func(c *Conn, err error) { onClose <- err },
			}
			if push {
				opts.OnMessage = func(c *Conn, _ MessageType, r io.Reader) error {
					_, err := io.ReadAll(r)
					return err
				}
			}
			addr, conns := acceptServer(t, &opts)
			nc, br := rawClient(t, addr)
			srv := <-conns
			defer srv.UnderlyingConn().Close()
			read := make(chan error, 1)
			if !push {
				go func() { _, _, err := srv.ReadMessage(context.Background(), nil); read <- err }()
			}
			peer := &rawConn{nc: nc, br: br}
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpBinary}, []byte("secret"))
			h, p := peer.recv(t)
			if code, _, _ := layers.ParseClose(p); h.Opcode != layers.OpClose || code != CloseInternalError {
				t.Fatalf("peer got %v %v, want close 1011", h.Opcode, code)
			}
			var errs []error
			if !push {
				errs = append(errs, <-read)
			}
			select {
			case err := <-onClose:
				errs = append(errs, err)
			case <-time.After(10 * time.Second):
				t.Fatal("OnClose not called")
			}
			errs = append(errs, srv.Err(), srv.WriteMessage(context.Background(), Text, []byte("late")))
			for _, err := range errs {
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Remote || ce.Code != CloseInternalError || !errors.Is(err, boom) {
					t.Errorf("got %v, want our 1011 caused by the layer's error", err)
				}
			}
		})
	}
}

// Close from inside OnMessage does not wait for the peer's answer, which
// the reader goroutine (the caller) reads only once the handler returns;
// the handshake still completes.
func TestCloseInsideOnMessage(t *testing.T) {
	closed := make(chan error, 1)
	addr, conns := acceptServer(t, &Options{
		CloseTimeout: time.Minute, // waiting for it would fail the test
		OnMessage: func(c *Conn, _ MessageType, r io.Reader) error {
			closed <- c.Close(4000, "bye")
			return nil
		},
	})
	c := dialRaw(t, addr, nil)
	defer c.UnderlyingConn().Close()
	srv := <-conns
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WriteMessage(ctx, Text, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close inside OnMessage waited for the close timeout")
	}
	if _, _, err := c.ReadMessage(ctx, nil); CloseStatus(err) != 4000 {
		t.Fatalf("client read %v, want the server's 4000", err)
	}
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatal("the handshake did not complete")
	}
	if err := srv.Err(); CloseStatus(err) != 4000 {
		t.Errorf("server's end %v", err)
	}
}

package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// acceptServer starts a server whose upgraded Conns go to the channel;
// the test does all their reading and writing.
func acceptServer(t testing.TB, opts *Options) (addr string, conns chan *Conn) {
	conns = make(chan *Conn, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Accept(w, r, &handshake.Server{}, opts); err == nil {
			conns <- c
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), conns
}

// closeEnding is one way a connection can end, and how it must be told.
type closeEnding struct {
	name string
	opts Options
	// end makes srv's connection end; peer is the raw client on the other
	// side.
	end func(t *testing.T, srv *Conn, peer *rawConn)
	// want is the *CloseError every call must report.
	want CloseError
	// cause, if set, must match the error (errors.Is).
	cause error
}

func closeEndings() []closeEnding {
	return []closeEnding{{
		name: "peer close",
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpClose}, layers.AppendClose(nil, 4001, "bye"))
		},
		want: CloseError{Code: 4001, Reason: "bye", Remote: true},
	}, {
		name: "peer close without code",
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpClose}, nil)
		},
		want: CloseError{Code: CloseNoStatus, Remote: true},
	}, {
		name: "our Close, answered with another code",
		opts: Options{CloseTimeout: 5 * time.Second},
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			go srv.Close(4000, "kicked")
			h, p := peer.recv(t)
			if h.Opcode != layers.OpClose {
				t.Fatalf("peer got %v, want a close", h.Opcode)
			}
			if code, reason, _ := layers.ParseClose(p); code != 4000 || string(reason) != "kicked" {
				t.Errorf("peer got close %v %q", code, reason)
			}
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpClose}, layers.AppendClose(nil, CloseNormal, ""))
		},
		want: CloseError{Code: 4000, Reason: "kicked"},
	}, {
		name: "our Close, never answered (close timeout)",
		opts: Options{CloseTimeout: 100 * time.Millisecond},
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			go srv.Close(CloseGoingAway, "shutting down")
		},
		want: CloseError{Code: CloseGoingAway, Reason: "shutting down"},
	}, {
		name: "send queue overflow",
		// A close timeout far beyond the test's patience: the kick must
		// not wait for it.
		opts: Options{Overflow: OverflowClose, SendQueue: 2, CloseTimeout: time.Minute},
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			msg := make([]byte, 64<<10)
			for i := 0; i < 10000; i++ {
				if err := srv.WriteMessage(ctx, Binary, msg); err != nil {
					return
				}
			}
			t.Error("the send queue never overflowed")
		},
		want:  CloseError{Code: ClosePolicyViolation, Reason: "send queue full"},
		cause: ErrQueueFull,
	}, {
		name: "heartbeat timeout",
		opts: Options{PingInterval: 30 * time.Millisecond, PongTimeout: 60 * time.Millisecond, CloseTimeout: time.Minute},
		end:  func(t *testing.T, srv *Conn, peer *rawConn) {}, // the peer answers no ping
		want: CloseError{Code: ClosePolicyViolation, Reason: "ping timeout"}, cause: ErrPeerTimeout,
	}, {
		name: "protocol error",
		opts: Options{CloseTimeout: 200 * time.Millisecond}, // the peer does not close
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpBinary, Rsv: layers.RSV2}, []byte("x"))
		},
		want: CloseError{Code: CloseProtocolError}, cause: ErrProtocol,
	}, {
		name: "invalid UTF-8",
		opts: Options{CloseTimeout: 200 * time.Millisecond}, // the peer does not close
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpText}, []byte{0xff, 0xfe})
		},
		want: CloseError{Code: CloseInvalidPayload}, cause: ErrInvalidUTF8,
	}, {
		name: "message too big",
		opts: Options{MaxMessageSize: 16, CloseTimeout: 200 * time.Millisecond},
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.send(t, layers.Header{Fin: true, Opcode: layers.OpBinary}, make([]byte, 100))
		},
		want: CloseError{Code: CloseMessageTooBig}, cause: ErrTooBig,
	}, {
		name: "TCP reset",
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.nc.(*net.TCPConn).SetLinger(0)
			peer.nc.Close()
		},
		want: CloseError{Code: CloseAbnormal},
	}, {
		name: "half-close without a close frame",
		end: func(t *testing.T, srv *Conn, peer *rawConn) {
			peer.nc.(*net.TCPConn).CloseWrite()
		},
		want: CloseError{Code: CloseAbnormal}, cause: io.ErrUnexpectedEOF,
	}}
}

// TestCloseModel ends a connection in each way there is and checks that
// every call reports the same *CloseError, matching ErrClosed, with the
// code, reason, side and cause of that end; that Err is set before a read
// returns it; and that OnClose gets it. In pull mode and in push mode.
func TestCloseModel(t *testing.T) {
	for _, push := range []bool{false, true} {
		mode := "pull"
		if push {
			mode = "push"
		}
		t.Run(mode, func(t *testing.T) {
			for _, e := range closeEndings() {
				t.Run(e.name, func(t *testing.T) { testCloseModel(t, e, push) })
			}
		})
	}
}

func testCloseModel(t *testing.T, e closeEnding, push bool) {
	onClose := make(chan error, 1)
	opts := e.opts
	opts.OnClose = func(c *Conn, err error) { onClose <- err }
	if push {
		opts.OnMessage = func(*Conn, MessageType, io.Reader) error { return nil }
	}
	addr, conns := acceptServer(t, &opts)
	nc, br := rawClient(t, addr)
	if e.name == "send queue overflow" {
		nc.(*net.TCPConn).SetReadBuffer(4096)
	}
	peer := &rawConn{nc: nc, br: br}
	srv := <-conns
	defer srv.UnderlyingConn().Close()

	// The application reads, as a server does.
	readErr := make(chan error, 1)
	errAtRead := make(chan error, 1)
	if !push {
		go func() {
			for {
				_, _, err := srv.ReadMessage(context.Background(), nil)
				if err != nil {
					errAtRead <- srv.Err() // before anything else can set it
					readErr <- err
					return
				}
			}
		}()
	}
	e.end(t, srv, peer)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatal("the connection did not end")
	}
	ce := checkCloseErr(t, "Err", srv.Err(), e.want, e.cause)
	same := func(api string, err error) {
		t.Helper()
		if got := checkCloseErr(t, api, err, e.want, e.cause); got != ce {
			t.Errorf("%s reported %p (%v), Err %p (%v): not the same end", api, got, got, ce, ce)
		}
	}
	if !push {
		select {
		case err := <-readErr:
			same("ReadMessage (the pending one)", err)
			if at := <-errAtRead; at == nil {
				t.Error("Err was nil when ReadMessage returned the close")
			}
		case <-ctx.Done():
			t.Fatal("the pending ReadMessage did not return")
		}
	}
	select {
	case err := <-onClose:
		same("OnClose", err)
	case <-ctx.Done():
		t.Fatal("OnClose was not called")
	}
	var err error
	if !push {
		_, _, err = srv.ReadMessage(ctx, nil)
		same("ReadMessage", err)
		_, _, err = srv.NextReader(ctx)
		same("NextReader", err)
	}
	_, err = srv.NextWriter(ctx, Text)
	same("NextWriter", err)
	same("WriteMessage", srv.WriteMessage(ctx, Text, []byte("late")))
	same("WritePrepared", srv.WritePrepared(ctx, NewPreparedMessage(Text, []byte("late"))))
	_, err = srv.Ping(ctx)
	same("Ping", err)
	same("Wait", srv.Wait())
	same("Close", srv.Close(CloseNormal, ""))
	if got := CloseStatus(err); got != e.want.Code {
		t.Errorf("CloseStatus = %v, want %v", got, e.want.Code)
	}
	if srv.Context().Err() == nil {
		t.Error("Context not cancelled after the end")
	}
}

// checkCloseErr checks that err reports the end want (and cause) and
// returns its *CloseError.
func checkCloseErr(t *testing.T, api string, err error, want CloseError, cause error) *CloseError {
	t.Helper()
	if !errors.Is(err, ErrClosed) {
		t.Errorf("%s: %v does not match ErrClosed", api, err)
	}
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Errorf("%s: %v (%T) is not a *CloseError", api, err, err)
		return nil
	}
	if ce.Code != want.Code || ce.Reason != want.Reason || ce.Remote != want.Remote {
		t.Errorf("%s: got code %v reason %q remote %v, want %v %q %v", api, ce.Code, ce.Reason, ce.Remote, want.Code, want.Reason, want.Remote)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Errorf("%s: %v does not match %v", api, err, cause)
	}
	if want.Code == CloseAbnormal && ce.Err == nil {
		t.Errorf("%s: an abnormal end without the I/O error under it", api)
	}
	return ce
}

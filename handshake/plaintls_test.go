package handshake_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// plainServer serves each connection accepted on a loopback listener with
// serve, which must return when the connection fails; the connection is
// closed after it. It returns the address and a channel with serve's
// results.
func plainServer(t *testing.T, serve func(net.Conn) error) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net for serve
				errs <- serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), errs
}

// dialWSS dials wss:// to addr with a 5 s context, a safety net only: every
// server here answers at once, and the handshake timeout is longer, so a
// server that keeps the client waiting shows as a context error.
func dialWSS(t *testing.T, addr string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, _, err := (&handshake.Client{HandshakeTimeout: time.Minute}).Dial(ctx, "wss://"+addr+"/")
	if err == nil {
		res.Conn.Close()
		t.Fatal("wss:// to a server without TLS succeeded")
	}
	return err
}

// checkPlainHTTPAnswer fails unless err is crypto/tls's error for an
// answer in plain HTTP, explained.
func checkPlainHTTPAnswer(t *testing.T, err error) {
	t.Helper()
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || string(rh.RecordHeader[:]) != "HTTP/" {
		t.Fatalf("err = %v, want a tls.RecordHeaderError for an HTTP answer", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "plain HTTP, not TLS") || !strings.Contains(msg, "ws://") {
		t.Errorf("message %q does not explain that the server has no TLS", msg)
	}
}

// checkTLSRefusal fails unless err is the server's refusal of a TLS
// ClientHello.
func checkTLSRefusal(t *testing.T, err error) {
	t.Helper()
	var re *handshake.RequestError
	if !errors.As(err, &re) || !errors.Is(err, handshake.ErrMalformedRequest) || re.Status != http.StatusBadRequest {
		t.Fatalf("server: err = %v, want a 400 refusal", err)
	}
	if !strings.Contains(re.Reason, "TLS") || !strings.Contains(re.Reason, "ws://") {
		t.Errorf("server: reason %q does not say TLS was sent to a port without it", re.Reason)
	}
}

func TestWSSToPlainServer(t *testing.T) {
	t.Run("net/http server", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		defer ts.Close()
		checkPlainHTTPAnswer(t, dialWSS(t, ts.Listener.Addr().String()))
	})
	t.Run("UpgradeRaw", func(t *testing.T) {
		// pipeline.AcceptConn's and cmd/echo's handshake: before, it waited
		// for the end of a request head that never came.
		addr, errs := plainServer(t, func(c net.Conn) error {
			_, err := (&handshake.Server{}).UpgradeRaw(c, nil)
			return err
		})
		checkPlainHTTPAnswer(t, dialWSS(t, addr))
		checkTLSRefusal(t, <-errs)
	})
	t.Run("UpgradeOrHandOff", func(t *testing.T) {
		addr, errs := plainServer(t, func(c net.Conn) error {
			_, err := (&handshake.Server{}).UpgradeOrHandOff(c, "/", nil)
			return err
		})
		checkPlainHTTPAnswer(t, dialWSS(t, addr))
		checkTLSRefusal(t, <-errs)
	})
	t.Run("UpgradeConn", func(t *testing.T) {
		addr, errs := plainServer(t, func(c net.Conn) error {
			_, err := (&handshake.Server{}).UpgradeConn(c)
			return err
		})
		checkPlainHTTPAnswer(t, dialWSS(t, addr))
		checkTLSRefusal(t, <-errs)
	})
	t.Run("server closes without answering", func(t *testing.T) {
		addr, _ := plainServer(t, func(c net.Conn) error {
			// Read the ClientHello's record whole, so that the close is a
			// clean end of stream, not a reset.
			var h [5]byte
			if _, err := io.ReadFull(c, h[:]); err != nil {
				return err
			}
			_, err := io.CopyN(io.Discard, c, int64(h[3])<<8|int64(h[4]))
			return err
		})
		err := dialWSS(t, addr)
		if !errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "without a TLS answer") {
			t.Fatalf("err = %v, want io.EOF, explained", err)
		}
	})
}

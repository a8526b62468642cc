package handshake

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// errLimit is returned by limitedReader once the limit is used up.
var errLimit = errors.New("handshake: request size limit reached")

// limitedReader reads at most n bytes from r, then fails with errLimit. It
// remembers the first error of r so the caller can tell a timeout from a
// closed connection after http.ReadRequest has reworded it.
type limitedReader struct {
	r        io.Reader
	n        int
	err      error // first error returned by r
	exceeded bool  // a read was attempted past the limit
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.exceeded = true
		return 0, errLimit
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	if err != nil && l.err == nil {
		l.err = err
	}
	return n, err
}

// readRequest reads one HTTP request head from r, reading at most max bytes
// from it. It returns the request and a copy of the bytes read past the end
// of the header block (nil if none). The returned request has no body.
//
// Errors: a deadline expiry gives ErrTimeout and any other read error
// ErrMalformedRequest, both with Status 0 (no response should be sent); a
// header block longer than max gives ErrRequestTooLarge (431) and a parse
// error ErrMalformedRequest (400).
func readRequest(r io.Reader, max int) (*http.Request, []byte, *RequestError) {
	lr := &limitedReader{r: r, n: max}
	br := bufio.NewReaderSize(lr, min(max, 4096))
	if p, err := br.Peek(1); err == nil && p[0] == recordTypeHandshake {
		// A TLS ClientHello: answer it at once, as the raw upgrade does,
		// after reading its record (see Server.refuseTLS).
		if h, err := br.Peek(5); err == nil {
			br.Discard(5 + (int(h[3])<<8 | int(h[4])))
		}
		return nil, nil, tlsRefusal()
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		switch {
		case lr.err != nil && isTimeout(lr.err):
			return nil, nil, refuse(0, ErrTimeout, "timeout reading request", lr.err)
		case lr.exceeded:
			return nil, nil, refuse(http.StatusRequestHeaderFieldsTooLarge, ErrRequestTooLarge,
				"request header too large", nil)
		case lr.err != nil:
			return nil, nil, refuse(0, ErrMalformedRequest, "connection failed before end of request", lr.err)
		default:
			return nil, nil, refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", err)
		}
	}
	buffered := takeBuffered(br)
	// The body, if any, is refused by negotiate; never let it read the
	// connection.
	req.Body = http.NoBody
	return req, buffered, nil
}

// UpgradeConn performs the handshake on a raw connection, for programs that
// do not use net/http. It reads the request (at most MaxRequestBytes of
// request line and headers, all within HandshakeTimeout, which also covers
// writing the response), validates it and writes the 101 response.
//
// On refusal it writes an HTTP error response (status and a short plain-text
// reason, "Connection: close") and returns a *RequestError; the caller
// should then close conn. No response is written when reading timed out
// (ErrTimeout) or failed, because the client is not listening. Deadlines
// are cleared before UpgradeConn returns, in every case.
//
// A TLS ClientHello (a wss:// client at a port without TLS) is refused
// with 400 as soon as its first byte arrives, rather than waiting for a
// request that never comes: the client's TLS then fails at once, seeing
// an answer that is not TLS.
func (s *Server) UpgradeConn(conn net.Conn) (*Result, error) {
	conn.SetDeadline(time.Now().Add(s.handshakeTimeout()))
	defer conn.SetDeadline(time.Time{})

	req, buffered, rerr := readRequest(conn, s.maxRequestBytes())
	if rerr == nil {
		if a := conn.RemoteAddr(); a != nil {
			req.RemoteAddr = a.String()
		}
		if tc, ok := conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			req.TLS = &st
		}
		var n *negotiation
		if n, rerr = s.negotiate(req); rerr == nil {
			if _, err := conn.Write(s.response(n)); err != nil {
				return nil, writeError(err)
			}
			return &Result{
				Conn:        conn,
				Buffered:    buffered,
				Subprotocol: n.subprotocol,
				Extensions:  n.extensions,
				Request:     req,
			}, nil
		}
	}
	if rerr.Status != 0 {
		conn.Write(rawRefusal(rerr)) // best effort; the caller closes conn
	}
	return nil, rerr
}

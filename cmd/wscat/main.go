// Command wscat is an interactive WebSocket client, in the manner of the
// well-known wscat: it connects to a URL, sends every line read from
// standard input as a message and prints every message it receives.
//
// Usage:
//
//	wscat [flags] URL
//
// URL is a ws:// or wss:// URL (http:// and https:// are accepted too).
// Flags may come before or after it.
//
// Flags:
//
//	-H 'Name: value'
//	    an extra request header; repeatable
//	-subprotocol name[,name...]
//	    subprotocols to offer, in order of preference; repeatable or
//	    comma-separated
//	-origin URL
//	    the Origin header to send, e.g. https://example.com
//	-binary
//	    send stdin lines (and the -once message) as binary messages instead
//	    of text
//	-once MSG
//	    one-shot mode: send MSG, print the first message received, close
//	    with 1000 and exit 0
//	-timeout d
//	    the handshake timeout, covering connecting, the proxy, TLS and the
//	    HTTP upgrade; with -once also the wait for the reply (default 10s)
//	-proxy URL
//	    an HTTP proxy to tunnel through with CONNECT, such as
//	    http://user:password@proxy:3128. Without it, HTTP_PROXY,
//	    HTTPS_PROXY and NO_PROXY are honoured, except for localhost and
//	    loopback addresses, which are never proxied from the environment.
//	-http2 mode
//	    open the WebSocket over HTTP/2 (RFC 8441): "off" (the default),
//	    "prefer" (HTTP/2 when the server offers it, else HTTP/1.1) or
//	    "require" (fail if the server does not offer it). For wss:// URLs
//	    TLS offers h2; for ws:// URLs HTTP/2 is spoken in cleartext with
//	    prior knowledge (h2c). With a mode other than off, the protocol
//	    used is printed on standard error ("wscat: over HTTP/2").
//	-insecure
//	    DANGEROUS: do not verify the server's TLS certificate or name. The
//	    connection is still encrypted, but to whoever answers: anyone on
//	    the network path can impersonate the server, read and change
//	    everything, including credentials in -H headers. Use it only
//	    against a test server you control, never with real credentials.
//
// Each line of standard input, without its line ending, is sent as one
// text message (lines that are not valid UTF-8 are skipped with a warning;
// use -binary for them). Each text message received is printed on
// standard output followed by a newline; a binary message is printed as
// one line "[binary N bytes] " followed by its bytes in hex.
//
// When standard input ends, wscat sends a close with status 1000 (normal
// closure), goes on printing the messages still arriving until the
// server's close, and exits 0. When the server closes the connection first, its
// close status and reason are printed on standard error and wscat exits 0
// for 1000 (normal closure) and 1001 (going away), 1 for any other status.
// On SIGINT or SIGTERM it closes with 1001 and exits 130.
//
// If the connection cannot be opened, or is lost, wscat prints one line
// on standard error saying why (for a refused handshake, with the HTTP
// status and the start of the server's answer) and exits 1. Usage errors
// exit 2.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// config is what the command line asks for.
type config struct {
	url          string
	header       http.Header
	subprotocols []string
	origin       string
	binary       bool
	once         string
	onceSet      bool
	timeout      time.Duration
	proxy        *url.URL
	insecure     bool
	http2        handshake.HTTP2Mode
}

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// parseFlags parses the command line. It returns flag.ErrHelp for -h.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{header: make(http.Header)}
	fs := flag.NewFlagSet("wscat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("H", "extra request header `'Name: value'` (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("want 'Name: value', not %q", s)
		}
		c.header.Add(name, strings.TrimSpace(value))
		return nil
	})
	fs.Func("subprotocol", "subprotocol `names` to offer, comma-separated (repeatable)", func(s string) error {
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.subprotocols = append(c.subprotocols, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.origin, "origin", "", "Origin header to send (an `URL` such as https://example.com)")
	fs.BoolVar(&c.binary, "binary", false, "send lines and the -once message as binary messages")
	fs.Func("once", "send `MSG`, print the first reply, close and exit", func(s string) error {
		c.once, c.onceSet = s, true
		return nil
	})
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "handshake timeout; with -once also the wait for the reply")
	fs.Func("proxy", "HTTP proxy `URL` for CONNECT, e.g. http://user:pass@host:3128 (default: from the environment)", func(s string) error {
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		if u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("want an http://host:port URL, not %q", u.Redacted())
		}
		c.proxy = u
		return nil
	})
	fs.Func("http2", "open the WebSocket over HTTP/2 (RFC 8441): off, prefer or require (default off)", func(s string) error {
		switch s {
		case "off":
			c.http2 = handshake.HTTP2Off
		case "prefer":
			c.http2 = handshake.HTTP2Prefer
		case "require":
			c.http2 = handshake.HTTP2Require
		default:
			return fmt.Errorf("want off, prefer or require, not %q", s)
		}
		return nil
	})
	fs.BoolVar(&c.insecure, "insecure", false, "DANGEROUS: skip TLS certificate verification (anyone on the path can impersonate the server)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wscat [flags] URL\n\n"+
			"Sends each line of standard input as a WebSocket message and prints each message received.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// Flags may follow the URL.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(positional) {
	case 0:
		fs.Usage()
		return c, errors.New("missing URL")
	case 1:
		c.url = positional[0]
	default:
		return c, fmt.Errorf("unexpected argument %q after the URL", positional[1])
	}
	if c.timeout <= 0 {
		return c, fmt.Errorf("-timeout must be positive, not %v", c.timeout)
	}
	if c.origin != "" {
		c.header.Set("Origin", c.origin)
	}
	return c, nil
}

// client builds the handshake settings.
func (c *config) client() *handshake.Client {
	hc := &handshake.Client{
		Header:           c.header,
		Subprotocols:     c.subprotocols,
		HandshakeTimeout: c.timeout,
		HTTP2:            c.http2,
	}
	if c.proxy != nil {
		hc.Proxy = http.ProxyURL(c.proxy)
	}
	if c.insecure {
		hc.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return hc
}

func (c *config) messageType() pipeline.MessageType {
	if c.binary {
		return pipeline.Binary
	}
	return pipeline.Text
}

// run is the command; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "wscat: %v\n", err)
		return exitUsage
	}
	if cfg.insecure {
		fmt.Fprintln(stderr, "wscat: WARNING: -insecure: the server's certificate is not checked; anyone on the path can impersonate it")
	}
	c, resp, err := pipeline.Dial(ctx, cfg.url, cfg.client(), nil)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "wscat: interrupted")
			return exitInterrupted
		}
		// A refusal's message carries the status and the server's reason
		// (handshake.HandshakeError).
		fmt.Fprintf(stderr, "wscat: %s\n", oneLine(err.Error()))
		return exitFailure
	}
	if cfg.http2 != handshake.HTTP2Off {
		fmt.Fprintf(stderr, "wscat: over HTTP/%d\n", resp.ProtoMajor)
	}
	if !cfg.onceSet && isTerminal(stdin) {
		msg := "wscat: connected to " + cfg.url
		if p := c.Subprotocol(); p != "" {
			msg += " (subprotocol " + p + ")"
		}
		fmt.Fprintln(stderr, msg+"; end with Ctrl-D")
	}
	if cfg.onceSet {
		return runOnce(ctx, c, &cfg, stdout, stderr)
	}
	return runInteractive(ctx, c, &cfg, stdin, stdout, stderr)
}

// runOnce sends the -once message and prints the first reply.
func runOnce(ctx context.Context, c *pipeline.Conn, cfg *config, stdout, stderr io.Writer) int {
	rctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if cfg.messageType() == pipeline.Text && !utf8.ValidString(cfg.once) {
		fmt.Fprintln(stderr, "wscat: the -once message is not valid UTF-8; use -binary")
		c.Close(pipeline.CloseNormal, "")
		return exitUsage
	}
	if err := c.WriteMessage(rctx, cfg.messageType(), []byte(cfg.once)); err != nil {
		return connectionEnded(c, err, stderr, true)
	}
	typ, msg, err := c.ReadMessage(rctx, nil)
	switch {
	case err == nil:
		printMessage(stdout, typ, msg)
		c.Close(pipeline.CloseNormal, "")
		return exitOK
	case ctx.Err() != nil:
		c.Close(pipeline.CloseGoingAway, "")
		return exitInterrupted
	case rctx.Err() != nil:
		fmt.Fprintf(stderr, "wscat: no reply within %v\n", cfg.timeout)
		c.Close(pipeline.CloseNormal, "")
		return exitFailure
	}
	return connectionEnded(c, err, stderr, true)
}

// runInteractive sends stdin lines and prints messages until stdin ends
// or the connection closes.
func runInteractive(ctx context.Context, c *pipeline.Conn, cfg *config, stdin io.Reader, stdout, stderr io.Writer) int {
	readDone := make(chan error, 1)
	go func() {
		var buf []byte
		for {
			typ, msg, err := c.ReadMessage(context.Background(), buf)
			if err != nil {
				readDone <- err
				return
			}
			buf = msg
			printMessage(stdout, typ, msg)
		}
	}()
	sendDone := make(chan error, 1)
	go func() { sendDone <- sendLines(c, stdin, cfg.messageType(), stderr) }()

	select {
	case err := <-readDone:
		return connectionEnded(c, err, stderr, false)
	case <-ctx.Done():
		return interrupted(c, readDone)
	case err := <-sendDone:
		if err != nil {
			// A failed write means the connection is gone; the read side
			// knows why.
			select {
			case rerr := <-readDone:
				return connectionEnded(c, rerr, stderr, false)
			case <-time.After(pipeline.DefaultCloseTimeout):
				fmt.Fprintf(stderr, "wscat: %v\n", err)
				c.Close(pipeline.CloseNormal, "")
				return exitFailure
			}
		}
	}

	// Standard input ended: send our close but keep reading, so replies
	// still in flight are printed; the server's close ends the read loop.
	c.CloseSend(pipeline.CloseNormal, "")
	var err error
	select {
	case err = <-readDone:
	case <-ctx.Done():
		return interrupted(c, readDone)
	}
	var ce *pipeline.CloseError
	if errors.As(err, &ce) && ce.Code != pipeline.CloseAbnormal {
		return exitOK // the closing handshake ran (our close, then the server's)
	}
	fmt.Fprintf(stderr, "wscat: closing: the server did not complete the close handshake: %v\n", err)
	return exitFailure
}

// interrupted closes the connection after a signal.
func interrupted(c *pipeline.Conn, readDone <-chan error) int {
	c.Close(pipeline.CloseGoingAway, "")
	<-readDone
	return exitInterrupted
}

// sendLines sends each line of r as a message of type typ. It returns nil
// at the end of r.
func sendLines(c *pipeline.Conn, r io.Reader, typ pipeline.MessageType, stderr io.Writer) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading standard input: %w", err)
		}
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		line = trimEOL(line)
		if typ == pipeline.Text && !utf8.Valid(line) {
			fmt.Fprintf(stderr, "wscat: line %d is not valid UTF-8, not sent (use -binary)\n", n)
		} else if werr := c.WriteMessage(context.Background(), typ, line); werr != nil {
			return fmt.Errorf("sending: %w", werr)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}

// printMessage writes one received message to w as one line (a text
// message's own newlines included).
func printMessage(w io.Writer, typ pipeline.MessageType, msg []byte) {
	var b []byte
	if typ == pipeline.Binary {
		b = fmt.Appendf(nil, "[binary %d bytes] %x\n", len(msg), msg)
	} else {
		b = append(append(make([]byte, 0, len(msg)+1), msg...), '\n')
	}
	w.Write(b)
}

// connectionEnded reports why the connection ended (err from a read or
// write) and returns the exit status: for a close by the server, 0 for
// 1000 and 1001 unless failNormal, else 1.
func connectionEnded(c *pipeline.Conn, err error, stderr io.Writer, failNormal bool) int {
	c.Close(pipeline.CloseNormal, "")
	var ce *pipeline.CloseError
	if !errors.As(err, &ce) || ce.Code == pipeline.CloseAbnormal {
		fmt.Fprintf(stderr, "wscat: connection lost: %s\n", oneLine(err.Error()))
		return exitFailure
	}
	msg := "wscat: server closed the connection: " + ce.Code.String()
	if !ce.Remote {
		msg = "wscat: connection closed: " + ce.Code.String()
	}
	if ce.Reason != "" {
		msg += fmt.Sprintf(" %q", ce.Reason)
	}
	fmt.Fprintln(stderr, msg)
	if !failNormal && (ce.Code == pipeline.CloseNormal || ce.Code == pipeline.CloseGoingAway) {
		return exitOK
	}
	return exitFailure
}

// oneLine replaces line breaks and other control characters.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// isTerminal reports whether r is a character device, such as a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

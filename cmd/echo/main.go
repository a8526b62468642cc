// Command echo is a WebSocket echo server: the server of the "WebSockets
// from scratch" tutorial, built on wspipe.
//
// By default it listens on localhost:4567 and accepts WebSocket connections
// on the path "/", sending every message back unchanged. With -reply it
// answers the way the tutorial's server does: "Received <msg>. Thanks!".
// A plain GET of the path (a browser opening the URL) returns a small HTML
// console page that connects back to the server. A WebSocket client's
// request (one with a Sec-WebSocket-Key) that lacks "Upgrade: websocket"
// or "Connection: Upgrade", as after a proxy that drops them, gets a 400
// naming the missing header instead.
//
// Usage:
//
//	echo [flags]
//
// Flags:
//
//	-addr host:port
//	    address to listen on (default "localhost:4567"); a port of 0 picks a
//	    free port, and the address actually used is logged and printed
//	-path /p
//	    the path of the WebSocket endpoint and console page (default "/");
//	    matched exactly
//	-reply
//	    tutorial mode: answer "Received <msg>. Thanks!" instead of echoing
//	-max-message n
//	    largest message accepted, in bytes; a larger message closes the
//	    connection with status 1009. By default (0, or any value <= 0)
//	    there is no limit: messages stream through the server, which holds
//	    at most about 1 MiB of each whatever its size.
//	-origin patterns
//	    comma-separated Origin patterns allowed to connect, such as
//	    "example.com,*.example.net,localhost:*" (host[:port] globs as in
//	    path.Match; a leading "http://" or "https://" is ignored). When set,
//	    browsers on other origins are refused with 403; the server's own page
//	    is always allowed. By default any Origin is accepted: the server holds
//	    no credentials, and the tutorial's browser-console scenario connects
//	    from whatever page the console belongs to.
//	-tls-cert file, -tls-key file
//	    serve https:// and wss:// with this PEM certificate and key
//	-tls-dev
//	    serve https:// and wss:// with a self-signed development
//	    certificate made at start (for localhost; browsers warn)
//	-http2
//	    with TLS, serve HTTP/2 too, WebSockets included (RFC 8441), on the
//	    same port as HTTP/1.1 (default true; -http2=false for HTTP/1.1 only)
//	-h2c
//	    without TLS, serve HTTP/2 with prior knowledge (h2c) too
//	-shutdown-timeout d
//	    how long a graceful shutdown may take (default 5s)
//	-ping d
//	    heartbeat: ping each connection this often and drop one whose pong
//	    does not come within the same time (default 30s; 0 turns it off)
//	-compress
//	    accept permessage-deflate (RFC 7692) from clients that offer it
//	    (default true; -compress=false turns it off)
//	-idle-readers n
//	    Linux: an idle connection waits in the idle poller with no
//	    goroutine; n bounds the reader goroutines it runs at once (0, the
//	    default, means 1024), and -1 turns it off, for a reader goroutine
//	    per connection
//	-tidy d
//	    how often to look whether a burst of traffic has ended and left
//	    free pages and garbage worth returning to the system (2 MiB and a
//	    sixteenth of what the runtime holds, or more), which echo then
//	    collects and returns (default 1s; 0 turns it off): see tidy.go
//	-v
//	    log at debug level
//
// WebSockets over HTTP/2 need net/http to advertise extended CONNECT,
// which Go 1.26 does only in a process started with
// GODEBUG=http2xconnect=1: when HTTP/2 is on and the variable is missing,
// echo restarts itself with it (handshake.EnableExtendedConnect), and if
// it cannot, says so in a warning and serves WebSockets over HTTP/1.1
// only.
//
// On start it writes exactly one line to standard output, the URL to
// connect to (for example "ws://localhost:4567/"); logs go to standard
// error. On SIGINT or SIGTERM it closes every WebSocket with status 1001
// (going away), shuts the HTTP server down and exits with status 0, or 1 if
// the shutdown did not finish within -shutdown-timeout. A second signal
// kills it at once.
package main

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// consoleHTML is the page served for a plain GET of the endpoint's path.
//
//go:embed console.html
var consoleHTML []byte

// config is what the command line asks for.
type config struct {
	addr            string
	path            string
	reply           bool
	maxMessage      int64    // <= 0: no limit
	origins         []string // nil: accept any Origin
	shutdownTimeout time.Duration
	verbose         bool
	tlsCert         string // with tlsKey: serve wss:// and https://
	tlsKey          string
	ping            time.Duration // heartbeat interval; 0 turns it off
	compress        bool          // accept permessage-deflate
	idleReaders     int           // pipeline.SetIdleReaders; -1: no idle poller
	tidy            time.Duration // how often to look whether to return memory; 0: never
	tlsDev          bool          // a self-signed development certificate
	http2           bool          // with TLS, HTTP/2 too
	h2c             bool          // without TLS, h2c too
}

func main() {
	if cfg, err := parseFlags(os.Args[1:], io.Discard); err == nil && cfg.wantsHTTP2() {
		// Restarts the process with GODEBUG=http2xconnect=1 if needed;
		// run logs it if that failed.
		handshake.EnableExtendedConnect()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second one ends a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// wantsHTTP2 reports whether the server will speak HTTP/2.
func (c *config) wantsHTTP2() bool {
	return c.http2 && (c.tlsCert != "" || c.tlsDev) || c.h2c
}

// parseFlags parses the command line. It returns flag.ErrHelp for -h.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var origins string
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "localhost:4567", "`host:port` to listen on; port 0 picks a free port")
	fs.StringVar(&c.path, "path", "/", "`path` of the WebSocket endpoint and console page (exact match)")
	fs.BoolVar(&c.reply, "reply", false, `tutorial mode: answer "Received <msg>. Thanks!" instead of echoing`)
	fs.Int64Var(&c.maxMessage, "max-message", 0, "largest message accepted, in `bytes` (1009 beyond); 0, the default, means no limit: messages stream through")
	fs.StringVar(&origins, "origin", "", "comma-separated Origin `patterns` allowed to connect (host[:port] globs); empty accepts any Origin")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 5*time.Second, "how long a graceful shutdown may take")
	fs.BoolVar(&c.verbose, "v", false, "log at debug level")
	fs.DurationVar(&c.ping, "ping", 30*time.Second, "heartbeat: ping each connection this often and drop it if no pong comes within the same time; 0 turns it off")
	fs.BoolVar(&c.compress, "compress", true, "accept permessage-deflate (RFC 7692) from clients that offer it")
	fs.IntVar(&c.idleReaders, "idle-readers", 0, "Linux: how many reader goroutines the idle poller, which holds idle connections with no goroutine, runs at once; 0 means the default ("+strconv.Itoa(pipeline.DefaultIdleReaders)+"), -1 turns the poller off (a reader goroutine per connection)")
	fs.DurationVar(&c.tidy, "tidy", time.Second, "how often to look whether a burst of traffic has ended and left free memory worth returning to the system (a sixteenth of what the runtime holds, and 2 MiB, or more); 0 turns it off")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `file`; with -tls-key, serve wss:// (TLS)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` for -tls-cert")
	fs.BoolVar(&c.tlsDev, "tls-dev", false, "serve wss:// with a self-signed development certificate made at start (for local testing)")
	fs.BoolVar(&c.http2, "http2", true, "with TLS, serve HTTP/2 too, WebSockets over it included (RFC 8441)")
	fs.BoolVar(&c.h2c, "h2c", false, "without TLS, serve HTTP/2 with prior knowledge (h2c) too, WebSockets included")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: echo [flags]\n\nA WebSocket echo server. Open the printed URL's http:// form in a browser for a console.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, fmt.Errorf("-addr %q: %v", c.addr, err)
	}
	if err := checkPath(c.path); err != nil {
		return c, err
	}
	if c.idleReaders < -1 {
		return c, fmt.Errorf("-idle-readers must be -1 (off), 0 (default) or a bound, not %d", c.idleReaders)
	}
	if c.ping < 0 {
		return c, fmt.Errorf("-ping must not be negative, not %v", c.ping)
	}
	if c.tidy < 0 {
		return c, fmt.Errorf("-tidy must not be negative, not %v", c.tidy)
	}
	if c.shutdownTimeout <= 0 {
		return c, fmt.Errorf("-shutdown-timeout must be positive, not %v", c.shutdownTimeout)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("-tls-cert and -tls-key go together")
	}
	if c.tlsDev && c.tlsCert != "" {
		return c, errors.New("-tls-dev and -tls-cert exclude each other")
	}
	if c.h2c && (c.tlsDev || c.tlsCert != "") {
		return c, errors.New("-h2c is for a server without TLS (with TLS, -http2 serves HTTP/2)")
	}
	var err error
	if c.origins, err = parseOrigins(origins); err != nil {
		return c, err
	}
	return c, nil
}

// checkPath accepts absolute, clean URL paths that can also be written as
// an http.ServeMux pattern.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("-path %q must start with /", p)
	}
	if strings.ContainsAny(p, "{}?#% \t\r\n") {
		return fmt.Errorf("-path %q: only plain path characters are allowed", p)
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return fmt.Errorf("-path %q is not clean (did you mean %q?)", p, clean)
	}
	return nil
}

// parseOrigins splits the -origin value into patterns. An empty value
// yields nil, meaning any Origin is accepted.
func parseOrigins(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.Contains(p, "://") {
			u, err := url.Parse(p)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("-origin %q: not a host[:port] pattern", p)
			}
			p = u.Host
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("-origin %q: %v", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// messageLimit is pipeline.Options.MaxMessageSize for -max-message n: n,
// or for n <= 0 a negative value, pipeline's "no limit" (its 0 means its
// own 32 MiB default). The echo streams what it cannot hold, and -reply
// too, so a message's size costs the server no memory.
func messageLimit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// muxPattern is the http.ServeMux pattern that matches exactly p.
func muxPattern(p string) string {
	if strings.HasSuffix(p, "/") {
		return p + "{$}"
	}
	return p
}

// publicURL is the ws:// URL clients should use, given the -addr the user
// asked for and the address actually bound. An unspecified host (":4567",
// "0.0.0.0:4567") becomes "localhost", which reaches the server from this
// machine; a named or literal host is kept.
func publicURL(scheme, requested string, bound net.Addr, p string) string {
	host, _, _ := net.SplitHostPort(requested)
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return scheme + "://" + bound.String() + p
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + p
}

// pageHandler serves the console page.
func pageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ws: wss:")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(consoleHTML)
	})
}

// run is the whole program: it serves until ctx is done, then shuts down.
// It returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "echo: %v\n", err)
		return 2
	}

	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	pipeline.SetIdleReaders(cfg.idleReaders)

	h := &echo.Handler{
		Handshake: handshake.Server{
			OriginPatterns:            cfg.origins,
			DangerouslyAllowAnyOrigin: cfg.origins == nil,
			// Every request's head is read by the raw handshake first,
			// page requests too: leave room for large cookies.
			MaxRequestBytes: 32 << 10,
		},
		Options: pipeline.Options{MaxMessageSize: messageLimit(cfg.maxMessage), PingInterval: cfg.ping},
		Reply:   cfg.reply,
		Page:    pageHandler(),
		Logger:  logger,
	}
	if cfg.compress {
		h.Options.Compression = &pipeline.Compression{}
	}
	mux := http.NewServeMux()
	mux.Handle(muxPattern(cfg.path), h)

	// With the WebSocket heartbeat on, TCP keepalive adds nothing but four
	// system calls per accepted connection; without it, keep the OS's.
	lc := net.ListenConfig{}
	if cfg.ping > 0 {
		lc.KeepAlive = -1
	}
	ln, err := lc.Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		logger.Error("cannot listen", "addr", cfg.addr, "err", err)
		return 1
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "ws"
	secure := cfg.tlsCert != "" || cfg.tlsDev
	if secure {
		var cert tls.Certificate
		if cfg.tlsDev {
			host, _, _ := net.SplitHostPort(cfg.addr)
			cert, err = devCertificate(host)
		} else {
			cert, err = tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		}
		if err != nil {
			logger.Error("cannot load TLS certificate", "err", err)
			return 1
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
		if cfg.http2 {
			srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		} else {
			srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "wss"
	}
	h2 := cfg.http2 && secure || cfg.h2c
	if h2 {
		// The same handler serves WebSockets over HTTP/1.1 and HTTP/2.
		if err := handshake.ConfigureHTTP2(srv, cfg.h2c); err != nil {
			logger.Warn("WebSockets over HTTP/2 are off: browsers and clients will use HTTP/1.1 for them",
				"err", err, "fix", "start echo with GODEBUG=http2xconnect=1 in its environment")
		}
	}

	var maxMessage any = "none"
	if cfg.maxMessage > 0 {
		maxMessage = cfg.maxMessage
	}
	origins := "any"
	if cfg.origins != nil {
		origins = strings.Join(cfg.origins, ",")
	}
	logger.Info("listening", "addr", ln.Addr().String(), "path", cfg.path,
		"reply", cfg.reply, "max_message", maxMessage, "origins", origins, "compress", cfg.compress,
		"http2", h2, "h2c", cfg.h2c, "extended_connect", h2 && handshake.ExtendedConnectEnabled())
	fmt.Fprintln(stdout, publicURL(scheme, cfg.addr, ln.Addr(), cfg.path))

	startTidy(ctx, cfg.tidy)

	hl := newHandOffListener(ln.Addr())
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(hl) }()
	go func() { serveErr <- acceptLoop(ln, h, cfg.path, hl) }()

	select {
	case err := <-serveErr:
		logger.Error("server failed", "err", err)
		return 1
	case <-ctx.Done():
	}
	ln.Close() // no new connections

	logger.Info("shutting down", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	status := 0
	if err := h.Shutdown(sctx); err != nil {
		logger.Warn("closing WebSocket connections", "err", err)
		status = 1
	}
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutting down HTTP server", "err", err)
		srv.Close()
		status = 1
	}
	for range 2 {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("server", "err", err)
		}
	}
	logger.Info("stopped")
	return status
}

// Command chat is a chat room server on wspipe: a small page at "/" and a
// WebSocket endpoint at "/ws" speaking the JSON protocol described in
// chat.go and README.md.
//
//	go run ./examples/chat -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/ (or /?room=name) in a few browser tabs.
// Connections run in push mode, broadcasts are encoded once per event,
// and a member too slow to keep up is kicked (1008) rather than buffered
// for. SIGINT or SIGTERM closes every connection with 1001 and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills a hanging shutdown.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run serves until ctx ends, then shuts down, and returns the exit
// status. On start it prints the page's URL as the only line on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "localhost:8080", "`host:port` to listen on; port 0 picks a free one")
	origins := fs.String("origin", "", "comma-separated Origin `patterns` (host[:port] globs, e.g. \"*.example.com\") allowed besides the page's own origin")
	ping := fs.Duration("ping", 30*time.Second, "heartbeat interval: a member that answers no ping within it is dropped; 0 turns it off")
	queue := fs.Int("send-queue", defaultSendQueue, "`frames` a member may have waiting before it is kicked as too slow")
	queueBytes := fs.Int("send-queue-bytes", defaultSendQueueBytes, "`bytes` a member may have waiting before it is kicked as too slow")
	grace := fs.Duration("shutdown-timeout", 10*time.Second, "how long closing every connection on SIGINT/SIGTERM may take")
	verbose := fs.Bool("v", false, "log joins and closes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *queue <= 0 || *queueBytes <= 0 || *ping < 0 || *grace <= 0 {
		fmt.Fprintln(stderr, "chat: bad arguments; see -h")
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var patterns []string
	for p := range strings.SplitSeq(*origins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, p)
		}
	}
	s := newServer(options{
		Origins: patterns,
		Conn:    pipeline.Options{PingInterval: *ping, SendQueue: *queue, SendQueueBytes: *queueBytes},
		Logger:  log,
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("cannot listen", "err", err)
		return 1
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "origins", patterns)
	fmt.Fprintf(stdout, "http://%s/\n", ln.Addr())

	select {
	case err := <-served:
		log.Error("serve", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	// The WebSockets first: http.Server.Shutdown does not know about
	// hijacked connections, and closing the listener first would leave
	// them open while it waits.
	wsErr := s.Shutdown(sctx)
	httpErr := hs.Shutdown(sctx)
	if err := errors.Join(wsErr, httpErr); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

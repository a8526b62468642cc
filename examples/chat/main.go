// Command chat is a chat room server on wspipe: a small page at "/" and a
// WebSocket endpoint at "/ws" speaking the JSON protocol described in
// chat.go and README.md. Rooms live in NATS JetStream: by default on a
// NATS server embedded in the process, or, with -nats, on a NATS cluster
// that any number of chat nodes share.
//
//	cd examples/chat && go run . -addr 127.0.0.1:8080
//	go run . -addr :8081 -nats nats://n1:4222,nats://n2:4222,nats://n3:4222
//
// then open http://127.0.0.1:8080/ (or /?room=name) in a few browser tabs.
// Connections run in push mode, broadcasts are encoded once per event and
// node, a member too slow to keep up is kicked (1008) rather than
// buffered for, and a member that reconnects resumes where it left off.
// SIGINT or SIGTERM drains: every connection is closed with 1001 and its
// resume point, then the process exits.
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
	natsURLs := fs.String("nats", "", "comma-separated NATS server `URLs` to join (nats://host:port,...); empty starts an embedded NATS server")
	natsDir := fs.String("nats-dir", "", "`directory` for the embedded NATS server's JetStream files; empty means a temporary one, removed on exit")
	replicas := fs.Int("replicas", 0, "copies of each room's stream in the NATS cluster; 0 means 3 in a cluster of three or more servers, else 1")
	history := fs.Int("history", defaultHistory, "`events` each room keeps for members that resume")
	historyBytes := fs.Int64("history-bytes", defaultHistoryBytes, "`bytes` each room keeps for members that resume")
	rate := fs.Float64("rate", defaultRate, "messages per second a member may send (on average; negative: no limit)")
	burst := fs.Int("burst", defaultBurst, "messages a member may send at once before the rate applies")
	grace := fs.Duration("shutdown-timeout", 10*time.Second, "how long closing every connection on SIGINT/SIGTERM may take")
	verbose := fs.Bool("v", false, "log joins and closes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *queue <= 0 || *queueBytes <= 0 || *ping < 0 || *grace <= 0 ||
		*history <= 0 || *historyBytes <= 0 || *replicas < 0 || *replicas > 5 || *rate == 0 || *burst <= 0 {
		fmt.Fprintln(stderr, "chat: bad arguments; see -h")
		return 2
	}
	// A resuming member is replayed the whole retained history at once:
	// it has to fit in its send queue, with room to spare for live events.
	if *history > *queue-*queue/8 || *historyBytes > int64(*queueBytes)/2 {
		fmt.Fprintln(stderr, "chat: -history must be at most 7/8 of -send-queue, -history-bytes at most half of -send-queue-bytes")
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	patterns := splitList(*origins)
	natsList := strings.Join(splitList(*natsURLs), ",") // nats.Connect's form
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("cannot listen", "err", err)
		return 1
	}
	broker, err := newNATSBroker(natsConfig{
		URLs:         natsList,
		Dir:          *natsDir,
		Replicas:     *replicas,
		History:      *history,
		HistoryBytes: *historyBytes,
		Logger:       log,
	})
	if err != nil {
		ln.Close()
		log.Error("cannot start the broker", "err", err)
		return 1
	}
	defer broker.Close()
	s, err := newServer(options{
		Origins: patterns,
		Conn:    pipeline.Options{PingInterval: *ping, SendQueue: *queue, SendQueueBytes: *queueBytes},
		Rate:    *rate,
		Burst:   *burst,
		Broker:  broker,
		History: *history,
		Logger:  log,
	})
	if err != nil {
		ln.Close()
		log.Error("cannot start", "err", err)
		return 1
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	nats := "embedded"
	if natsList != "" {
		nats = natsList
	}
	log.Info("listening", "addr", ln.Addr().String(), "origins", patterns, "nats", nats, "replicas", broker.Replicas())
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

// splitList splits a flag's comma-separated list, trimming spaces and
// dropping empty items.
func splitList(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

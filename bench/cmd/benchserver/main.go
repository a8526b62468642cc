//go:build linux

// Command benchserver runs one library's WebSocket echo server, for
// cmd/compare and cmd/wsload to measure from outside the process.
//
//	benchserver -lib gorilla [-addr 127.0.0.1:0] [-stats 127.0.0.1:0]
//
// -lib is one of wspipe, gorilla, coder, gobwas, gws, nbio, tcp, go-epoll
// (see internal/servers: each written the way its library's documentation
// shows; tcp is a plain TCP echo, go-epoll the C epoll loop in Go). For wspipe it serves echo.Handler
// configured as wspipe's cmd/echo configures it; cmd/compare runs the real
// cmd/echo binary for every measurement except the idle one, which needs
// the runtime statistics that only this in-process copy can report.
//
// It prints the endpoint's URL on the first line of standard output, like
// cmd/echo ("ws://127.0.0.1:PORT/"), then, with -stats, a line
// "stats http://127.0.0.1:PORT": an HTTP server on its own port with
// /stats (JSON: heap_inuse, stack_inuse, heap_alloc, goroutines, rss,
// read after a GC and debug.FreeOSMemory) and /debug/pprof/. It stops on
// SIGINT or SIGTERM, or when standard input ends if -stdin is set.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
	"github.com/wspipe/wspipe/bench/internal/servers"
)

func main() {
	lib := flag.String("lib", "", "library: one of "+strings.Join(servers.AllLibs, ", ")+", "+servers.GoEpoll)
	addr := flag.String("addr", "127.0.0.1:0", "`host:port` of the echo server")
	stats := flag.String("stats", "", "`host:port` for /stats and /debug/pprof (empty: none)")
	stdin := flag.Bool("stdin", false, "also stop when standard input ends")
	nofile := flag.Uint64("nofile", 10064, "open files to make room for (RLIMIT_NOFILE)")
	flag.Parse()
	if err := run(*lib, *addr, *stats, *stdin, *nofile); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

func run(lib, addr, stats string, stdin bool, nofile uint64) error {
	if err := load.RaiseNoFile(nofile, os.Stderr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv, err := servers.Start(lib, ln, os.Stderr)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Printf("ws://%s/\n", ln.Addr())
	if stats != "" {
		sln, err := net.Listen("tcp", stats)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/stats", serveStats)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		go (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(sln)
		fmt.Printf("stats http://%s\n", sln.Addr())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if stdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return srv.Stop(sctx)
}

// serveStats reports the runtime's and the kernel's view of this process,
// after a GC that returns free memory to the OS.
func serveStats(w http.ResponseWriter, r *http.Request) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := load.RuntimeStats{
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
		HeapAlloc:  ms.HeapAlloc,
		Goroutines: runtime.NumGoroutine(),
	}
	rss, err := load.RSSBytes(0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.RSS = rss
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s)
}

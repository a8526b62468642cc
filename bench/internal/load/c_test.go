//go:build linux

package load

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/bench/internal/servers"
)

// startC builds and starts one of the C servers and returns its target;
// it skips the test without gcc, or when the server reports that it
// cannot run here (io_uring unavailable).
func startC(t *testing.T, lib string) Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin, err := servers.BuildC(ctx, lib, "../..", t.TempDir())
	if errors.Is(err, servers.ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-t", "120")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The first line is the URL; the server exits instead when it cannot
	// run (and its self-test is bounded by an alarm), so this ends.
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == servers.ExitSkip {
			t.Skipf("%s cannot run here: %s", lib, strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("%s printed no URL (%v): %s", lib, err, stderr.String())
	}
	addr, ok := strings.CutPrefix(sc.Text(), "ws://")
	if !ok {
		t.Fatalf("%s printed %q", lib, sc.Text())
	}
	return Target{Addr: strings.TrimSuffix(addr, "/"), TCP: true, PID: cmd.Process.Pid}
}

// TestCServersExact drives the C ceiling servers as compare does, small:
// see exerciseRawEcho.
func TestCServersExact(t *testing.T) {
	for _, lib := range servers.CLibs {
		t.Run(lib, func(t *testing.T) { exerciseRawEcho(t, startC(t, lib)) })
	}
}

// TestGoEpollExact drives the Go epoll ceiling (servers.GoEpoll), served
// in this process, as the C servers are, and stops it.
func TestGoEpollExact(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := servers.Start(servers.GoEpoll, ln, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exerciseRawEcho(t, Target{Addr: ln.Addr().String(), TCP: true, PID: os.Getpid()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// exerciseRawEcho drives a raw TCP echo as compare does, small:
// request/response and pipelined echoes of sizes from 32 bytes to past
// its buffers (every reply checked byte for byte, short writes included),
// idle connections and connection lifecycles.
func exerciseRawEcho(t *testing.T, target Target) {
	t.Helper()
	for _, sc := range []Scenario{
		{Conns: 4, Size: 32, InFlight: 1},
		{Conns: 4, Size: 1024, InFlight: 16},
		{Conns: 2, Size: 200 << 10, InFlight: 2},
	} {
		sc.Warmup, sc.Duration = 20*time.Millisecond, 300*time.Millisecond
		res, err := Throughput(context.Background(), target, sc)
		if err != nil {
			t.Fatalf("%d bytes × %d in flight: %v", sc.Size, sc.InFlight, err)
		}
		if res.Verified < res.Messages || res.Verified == 0 {
			t.Fatalf("%d bytes: %d messages measured, %d verified", sc.Size, res.Messages, res.Verified)
		}
	}
	if _, err := Idle(context.Background(), target, 100, 8, ""); err != nil {
		t.Fatal(err)
	}
	res, err := Handshakes(context.Background(), target, 50, 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	if res.Handshakes != 50 {
		t.Fatalf("%d handshakes", res.Handshakes)
	}
}

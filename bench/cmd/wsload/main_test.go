//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
)

// TestAgainstBenchserver builds benchserver and wsload and runs them as
// cmd/compare does, as separate processes: a short echo load, whose
// server CPU time must come from the server's /proc entry, and a few idle
// connections measured through the stats endpoint.
func TestAgainstBenchserver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	dir := t.TempDir()
	for _, pkg := range []string{"../benchserver", "."} {
		out, err := exec.Command("go", "build", "-o", dir, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	srv := exec.Command(filepath.Join(dir, "benchserver"), "-lib", "gws", "-stats", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	sc := bufio.NewScanner(stdout)
	var url, stats string
	for (url == "" || stats == "") && sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "stats "); ok {
			stats = s
		} else {
			url = sc.Text()
		}
	}
	if !strings.HasPrefix(url, "ws://") || stats == "" {
		t.Fatalf("benchserver printed %q, %q", url, stats)
	}
	pid := itoa(srv.Process.Pid)

	wsload := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "wsload"), append([]string{"-url", url, "-pid", pid, "-json"}, args...)...)
		cmd.WaitDelay = 30 * time.Second
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("wsload %v: %v", args, err)
		}
		return out
	}
	var echo load.Result
	if err := json.Unmarshal(wsload("-mode", "echo", "-conns", "8", "-inflight", "2", "-warmup", "200ms", "-duration", "1s"), &echo); err != nil {
		t.Fatal(err)
	}
	if echo.Messages == 0 || echo.ServerCPU <= 0 || echo.MsgsPerCPUSec <= 0 || echo.P99us < echo.P50us {
		t.Fatalf("implausible echo result %+v", echo)
	}
	var idle load.IdleResult
	if err := json.Unmarshal(wsload("-mode", "idle", "-conns", "200", "-stats", stats), &idle); err != nil {
		t.Fatal(err)
	}
	if !idle.HasRuntime || idle.GoroutinesPer < 0.9 || idle.HeapKiBPerConn <= 0 {
		t.Fatalf("implausible idle result %+v", idle)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

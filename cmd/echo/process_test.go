package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildEcho builds this command into a temporary directory and returns the
// binary's path. Under -race the binary is built with -race too, so the
// race detector also watches the server while a browser drives it.
func buildEcho(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build cmd/echo: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "echo")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// process is a running echo binary.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	waited chan struct{}
	err    error // from Wait, once waited is closed
}

// httpURL is the process's URL with http instead of ws.
func (p *process) httpURL() string { return "http" + strings.TrimPrefix(p.url, "ws") }

// startEcho starts the binary with args and waits for the URL it prints.
// At the end of the test it is sent SIGTERM and must exit with status 0.
func startEcho(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{t: t, cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, waited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	var extra sync.WaitGroup
	extra.Add(1)
	go func() {
		defer extra.Done()
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	go func() {
		extra.Wait() // Wait must not run before stdout is drained
		p.err = p.cmd.Wait()
		close(p.waited)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			<-p.waited
			t.Fatalf("%s exited (%v) before printing its URL; stderr:\n%s", bin, p.err, p.stderr)
		}
		p.url = line
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("%s printed no URL within 15s; stderr:\n%s", bin, p.stderr)
	}
	if !regexp.MustCompile(`^wss?://127\.0\.0\.1:[0-9]+/`).MatchString(p.url) {
		t.Errorf("printed %q, want a ws:// or wss://127.0.0.1:PORT/ URL", p.url)
	}
	t.Cleanup(func() {
		if err := p.terminate(15 * time.Second); err != nil {
			t.Errorf("%s %q: %v; stderr:\n%s", filepath.Base(bin), args, err, p.stderr)
		}
		for l := range lines {
			t.Errorf("%s wrote more than one line to stdout: %q", filepath.Base(bin), l)
		}
	})
	return p
}

// terminate sends SIGTERM, waits up to d and returns an error unless the
// process exited with status 0. It may be called more than once.
func (p *process) terminate(d time.Duration) error {
	select {
	case <-p.waited:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.waited:
		return p.err
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.waited
		return errors.New("did not exit within " + d.String() + " of SIGTERM")
	}
}

func TestSIGTERMClosesConnectionsWithGoingAway(t *testing.T) {
	bin := buildEcho(t)
	p := startEcho(t, bin, "-addr", "127.0.0.1:0")

	// Two live connections, each proven alive by an echo.
	var clients []*rawClient
	for range 2 {
		c, resp := dialRaw(t, p.url)
		if c == nil {
			t.Fatalf("handshake: %s", resp.Status)
		}
		c.writeFrame(opText, []byte("Hello"))
		if f := c.readMessage(t); string(f.payload) != "Hello" {
			t.Fatalf("echo = %q", f.payload)
		}
		clients = append(clients, c)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		code, reason := c.readClose(t, 10*time.Second)
		if code != 1001 {
			t.Errorf("client %d: close code %d %q after SIGTERM, want 1001 (going away)", i, code, reason)
		}
		// Answer like a browser does, completing the closing handshake.
		c.writeFrame(opClose, closeBody(1001, ""))
	}
	select {
	case <-p.waited:
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after SIGTERM; stderr:\n%s", p.stderr)
	}
	if p.err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0; stderr:\n%s", p.err, p.stderr)
	}
	logs := p.stderr.String()
	for _, want := range []string{"msg=listening", `msg="shutting down"`, "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

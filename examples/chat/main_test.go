package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

// TestMain runs the command itself instead of the tests when asked to,
// so that TestSignals can start the real program as a process without
// building it first.
func TestMain(m *testing.M) {
	if os.Getenv("WSPIPE_CHAT_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSignals: on SIGINT or SIGTERM the program closes every member with
// 1001 (going away) and exits with status 0.
func TestSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), "WSPIPE_CHAT_RUN_MAIN=1")
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{}) // closed once waitErr is set
			var waitErr error
			t.Cleanup(func() {
				cmd.Process.Kill() // if still running: a test failed
				<-exited
			})

			lines := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				lines <- strings.TrimSpace(line)
				io.Copy(io.Discard, stdout)
				waitErr = cmd.Wait()
				close(exited)
			}()
			var pageURL string
			select {
			case pageURL = <-lines:
			case <-time.After(wait):
				t.Fatalf("no URL printed within %v; stderr:\n%s", wait, stderr.String())
			}
			u, err := url.Parse(pageURL)
			if err != nil || u.Host == "" {
				t.Fatalf("printed %q; stderr:\n%s", pageURL, stderr.String())
			}

			a, b := dial(t, u.Host, "a"), dial(t, u.Host, "b")
			a.join("room", "ann")
			b.join("room", "bob")
			a.expect(typeJoined, "bob", "")

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for _, cl := range []*client{a, b} {
				var ce *pipeline.CloseError
				if err := cl.closed(); !errors.As(err, &ce) || ce.Code != pipeline.CloseGoingAway {
					t.Errorf("%s: connection ended with %v, want close 1001", cl.name, err)
				}
			}
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("exit: %v; stderr:\n%s", waitErr, stderr.String())
				}
			case <-time.After(wait):
				t.Fatalf("still running %v after %v; stderr:\n%s", wait, sig, stderr.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output copier and
// the test reading it at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestFlags: bad flags are refused with status 2 before anything listens.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-bogus"},
		{"extra"},
		{"-send-queue", "0"},
		{"-send-queue-bytes", "-1"},
		{"-ping", "-1s"},
		{"-addr", "no-port"},
	} {
		var stderr strings.Builder
		want := 2
		if args[0] == "-addr" {
			want = 1 // found when listening
		}
		if got := run(context.Background(), args, io.Discard, &stderr); got != want {
			t.Errorf("run %q = %d, want %d; stderr:\n%s", args, got, want, stderr.String())
		}
	}
	if got := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); got != 0 {
		t.Errorf("run -h = %d, want 0", got)
	}
}

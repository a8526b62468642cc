//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
)

// server is a server under measurement: its address, how to read its
// stats and write its heap profile, and how to stop it.
type server struct {
	addr        string
	stats       func() (stats, error)
	heapProfile func(path string) error
	stop        func()
}

// startChild starts lib's server in a child process of ours, which
// answers "addr", "stats" and "heapprofile PATH" on its standard input
// (see child): it reads its own stats, after collecting garbage.
func startChild(ctx context.Context, lib string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+lib)
	cmd.Stderr = os.Stderr
	// The child dies with us, whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	toChild, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	fromChild, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &server{stop: func() {
		toChild.Close() // the child exits when its stdin ends
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "idlemem: %s server: %v\n", lib, err)
		}
	}}
	lines := bufio.NewScanner(fromChild)
	ask := func(cmd string) (string, error) {
		if _, err := io.WriteString(toChild, cmd+"\n"); err != nil {
			return "", err
		}
		if !lines.Scan() {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("server child ended: %v", lines.Err())
		}
		return lines.Text(), nil
	}
	srv.stats = func() (stats, error) {
		var s stats
		line, err := ask("stats")
		if err != nil {
			return s, err
		}
		return s, json.Unmarshal([]byte(line), &s)
	}
	srv.heapProfile = func(path string) error {
		_, err := ask("heapprofile " + path)
		return err
	}
	if srv.addr, err = ask("addr"); err != nil {
		srv.stop()
		return nil, err
	}
	return srv, nil
}

// cmdArgs is -cmd's command line, split at spaces.
var cmdArgs []string

// startCommand starts a server program the way a user runs it: args, then
// -addr 127.0.0.1:0. The address it listens on is the URL it prints first
// on its standard output (as cmd/echo does). Its stats are read from
// outside, as a user would: its RSS from /proc/<pid>/status, with no
// collection forced; it has no heap or goroutine figures, and no heap
// profile. It is stopped with SIGTERM.
func startCommand(ctx context.Context, args []string) (*server, error) {
	if len(args) == 0 {
		return nil, errors.New("-cmd: no program")
	}
	cmd := exec.CommandContext(ctx, args[0], append(args[1:], "-addr", "127.0.0.1:0")...)
	cmd.Stderr = io.Discard // its logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			io.Copy(io.Discard, out)
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("-cmd %s: no URL on its standard output: %v", args[0], err)
	}
	u, err := url.Parse(strings.TrimSpace(line))
	if err != nil || u.Host == "" {
		stop()
		return nil, fmt.Errorf("-cmd %s: its first line %q is not a URL", args[0], line)
	}
	pid := cmd.Process.Pid
	return &server{
		addr: u.Host,
		stats: func() (stats, error) {
			rss, err := load.RSSBytes(pid)
			return stats{RSS: rss}, err
		},
		heapProfile: func(string) error { return errors.New("-heapprofile: not for a -cmd program") },
		stop:        stop,
	}, nil
}

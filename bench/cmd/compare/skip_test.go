//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestProbeCSkips checks that a C server reporting it cannot run here
// (exit status 77 before printing its URL, as c-uring does without
// io_uring) is left out of the run with its reason in the notes, at once
// rather than after startServer's 15 s, while one that starts stays in.
func TestProbeCSkips(t *testing.T) {
	dir := t.TempDir()
	scripts := map[string]string{
		"c-uring": "#!/bin/sh\necho 'skip: io_uring setup: Operation not permitted' >&2\nexit 77\n",
		"c-epoll": "#!/bin/sh\necho ws://127.0.0.1:1/\nexec sleep 60\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{cfg: config{libs: []string{"wspipe", "c-epoll", "c-uring"}, serverProcs: 1}, dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.probeC(ctx)
	if !slices.Equal(e.cfg.libs, []string{"wspipe", "c-epoll"}) {
		t.Fatalf("libs after the probe: %v", e.cfg.libs)
	}
	if len(e.notes) != 1 || !strings.Contains(e.notes[0], "c-uring skipped: io_uring setup: Operation not permitted") {
		t.Fatalf("notes: %q", e.notes)
	}
}

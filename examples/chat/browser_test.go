package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const browserHowTo = "it needs Debian's chromium at /usr/bin/chromium (apt-get install chromium), " +
	"node, and test/browser/node_modules (cd test/browser && npm ci); " +
	"WSPIPE_BROWSER=1 (as bash scripts/test.sh sets) makes a missing piece a failure"

// TestBrowser opens the chat page in headless Chromium, which joins a
// room and talks with a Go client there: the browser's message reaches
// the Go client, and the Go client's reaches the page. It runs when
// WSPIPE_BROWSER=1 or Chromium is installed.
func TestBrowser(t *testing.T) {
	required := os.Getenv("WSPIPE_BROWSER") == "1"
	missing := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf("WSPIPE_BROWSER=1 but "+format+"; "+browserHowTo, args...)
		}
		t.Skipf("browser test: "+format+"; "+browserHowTo, args...)
	}
	chromium := os.Getenv("WSPIPE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("no browser: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node: %v", err)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "test", "browser", "chat.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core", "package.json")); err != nil {
		missing("playwright-core is not installed: %v", err)
	}

	_, addr := startServer(t, options{})
	gopher := dial(t, addr, "gopher")
	gopher.join("browser", "gopher")

	const fromPage, fromGo = "Hello from Chromium, ünïcode & <b>markup</b>", "Hello from Go"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "--timeout", "30000",
		"--room", "browser", "--nick", "chromium", "--send", fromPage,
		"--expect-from", "gopher", "--expect", fromGo,
		"http://"+addr+"/?room=browser")
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "WSPIPE_CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- cmd.Wait() }()

	// The Go side of the conversation: see Chromium join and speak, then
	// answer. A browser that fails early ends the wait.
	events := make(chan Event)
	go func() {
		for {
			select {
			case ev := <-gopher.events:
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	var runErr error
	finished := false
	next := func() (Event, bool) {
		select {
		case ev := <-events:
			return ev, true
		case runErr = <-ran:
			finished = true
			return Event{}, false
		case <-ctx.Done():
			return Event{}, false
		}
	}
	step := "waiting for Chromium to join"
	for ok := true; ok; {
		var ev Event
		if ev, ok = next(); !ok {
			break
		}
		switch {
		case ev.Type == typeJoined && ev.Nick == "chromium":
			step = "waiting for Chromium's message"
		case ev.Type == typeMessage && ev.Nick == "chromium":
			if ev.Text != fromPage {
				t.Errorf("Chromium said %q, want %q", ev.Text, fromPage)
			}
			gopher.say(fromGo)
			step = "answered"
			ok = false
		}
	}
	if !finished {
		select {
		case runErr = <-ran:
		case <-ctx.Done():
			runErr = ctx.Err()
		}
	}
	if stderr.Len() > 0 {
		t.Logf("chat.mjs stderr:\n%s", stderr.String())
	}
	var r struct {
		OK          bool     `json:"ok"`
		Status      int      `json:"status"`
		ContentType string   `json:"contentType"`
		Browser     string   `json:"browser"`
		State       string   `json:"state"`
		Members     string   `json:"members"`
		Log         []string `json:"log"`
		Problems    []string `json:"problems"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
		t.Fatalf("node chat.mjs: %v (%v), Go side %s; stdout:\n%s", runErr, err, step, stdout.String())
	}
	t.Logf("chromium %s: state %s, %s, log %q", r.Browser, r.State, r.Members, r.Log)
	if runErr != nil || !r.OK || step != "answered" {
		t.Fatalf("browser run failed (%v), Go side %s: %s", runErr, step, strings.Join(r.Problems, "; "))
	}
	if r.Status != 200 || !strings.HasPrefix(r.ContentType, "text/html") {
		t.Errorf("page: status %d, Content-Type %q", r.Status, r.ContentType)
	}
	if r.Members != "in browser: chromium, gopher" {
		t.Errorf("the page showed members %q", r.Members)
	}
	// The markup in the text shows as text: the page never parses user
	// input as HTML.
	if !slices.Contains(r.Log, "chromium: "+fromPage) {
		t.Errorf("the page's log %q lacks %q", r.Log, "chromium: "+fromPage)
	}
}

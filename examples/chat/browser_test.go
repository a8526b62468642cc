package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
// browserTools returns Chromium, node and the path of the test/browser
// script name, skipping the test if one is missing (failing it with
// WSPIPE_BROWSER=1).
func browserTools(t *testing.T, name string) (chromium, node, script string) {
	t.Helper()
	required := os.Getenv("WSPIPE_BROWSER") == "1"
	missing := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf("WSPIPE_BROWSER=1 but "+format+"; "+browserHowTo, args...)
		}
		t.Skipf("browser test: "+format+"; "+browserHowTo, args...)
	}
	chromium = os.Getenv("WSPIPE_CHROMIUM")
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
	script, err = filepath.Abs(filepath.Join("..", "..", "test", "browser", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core", "package.json")); err != nil {
		missing("playwright-core is not installed: %v", err)
	}
	return chromium, node, script
}

func TestBrowser(t *testing.T) {
	chromium, node, script := browserTools(t, "chat.mjs")
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

// TestBrowserCluster: two Chromium pages on two chat nodes of a cluster
// (three nodes over a three-server NATS cluster) talk; the first page's
// node is killed (SIGKILL), and the page reconnects by itself, through
// the same address, to another node, and resumes: it gets the message
// said while it was away once, and what it says next reaches the other
// page. Each page reaches its nodes through a TCP proxy standing for a
// load balancer: page 1's sends to node 0, or node 2 once node 0 is
// gone; page 2's to node 1.
func TestBrowserCluster(t *testing.T) {
	chromium, node, script := browserTools(t, "chat-cluster.mjs")
	if testing.Short() {
		t.Skip("-short")
	}
	nodes, _ := startChatCluster(t)
	lb1 := startProxy(t, nodes[0].addr, nodes[2].addr)
	lb2 := startProxy(t, nodes[1].addr)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "--timeout", "30000", "--room", "cluster",
		"http://"+lb1+"/?room=cluster", "http://"+lb2+"/?room=cluster")
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "WSPIPE_CHROMIUM="+chromium)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if stderr.String() != "" {
			t.Logf("chat-cluster.mjs stderr:\n%s", stderr.String())
		}
	}()
	var last string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		last = sc.Text()
		if last == `{"step":"kill"}` {
			t.Log("SIGKILL chat node 0, page 1's")
			nodes[0].kill()
			io.WriteString(stdin, "killed\n")
		}
	}
	stdin.Close()
	runErr := cmd.Wait()
	var r struct {
		OK          bool     `json:"ok"`
		Browser     string   `json:"browser"`
		AliceClosed string   `json:"aliceClosed"`
		Alice       []string `json:"alice"`
		Bob         []string `json:"bob"`
		Problems    []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		t.Fatalf("node chat-cluster.mjs: %v (%v); last line %q", runErr, err, last)
	}
	t.Logf("chromium %s: alice's page after the kill: %q; alice's log %q; bob's log %q", r.Browser, r.AliceClosed, r.Alice, r.Bob)
	if runErr != nil || !r.OK {
		t.Fatalf("browser run failed (%v): %s", runErr, strings.Join(r.Problems, "; "))
	}
}

// startProxy is a TCP proxy on loopback standing for a load balancer: it
// sends each connection to the first of backends that accepts it. It
// stops at the end of the test.
func startProxy(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add && conns == nil {
			return false // stopped
		}
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
		return true
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var b net.Conn
				for _, addr := range backends {
					if b, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
						break
					}
				}
				if b == nil {
					return
				}
				defer b.Close()
				if !track(c, true) || !track(b, true) {
					return
				}
				defer track(c, false)
				defer track(b, false)
				done := make(chan struct{}, 2)
				go func() { io.Copy(b, c); done <- struct{}{} }()
				go func() { io.Copy(c, b); done <- struct{}{} }()
				<-done // either side ended: end both
				c.Close()
				b.Close()
				<-done
			})
		}
	})
	return ln.Addr().String()
}

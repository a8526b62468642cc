package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// browserResult is the JSON line test/browser/run.mjs prints.
type browserResult struct {
	OK          bool     `json:"ok"`
	Page        string   `json:"page"`
	Status      int      `json:"status"`
	ContentType string   `json:"contentType"`
	Origin      string   `json:"origin"`
	Target      string   `json:"target"`
	Browser     string   `json:"browser"`
	State       string   `json:"state"`
	Received    []string `json:"received"`
	Console     string   `json:"console"`
	Log         []string `json:"log"`
	Problems    []string `json:"problems"`
}

const browserHowTo = "set WSPIPE_BROWSER=1 to run it (bash scripts/test.sh does); " +
	"it needs Debian's chromium at /usr/bin/chromium (apt-get install chromium), " +
	"node, and test/browser/node_modules (cd test/browser && npm ci)"

// TestBrowser replays the tutorial's browser scenario in headless Chromium:
// open the console page, connect, send "Hello" and see the answer in the
// page's log, in echo mode, in -reply mode and from a page of another
// origin.
func TestBrowser(t *testing.T) {
	node, chromium, script := browserTools(t)
	bin := buildEcho(t)
	echoSrv := startEcho(t, bin, "-addr", "127.0.0.1:0")
	replySrv := startEcho(t, bin, "-addr", "127.0.0.1:0", "-reply")
	strictSrv := startEcho(t, bin, "-addr", "127.0.0.1:0", "-origin", "allowed.example")

	withQuery := func(page string, kv ...string) string {
		q := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return page + "?" + q.Encode()
	}

	tests := []browserCase{{

		// Type "Hello" into the page and click Send; then the tutorial's
		// console snippet, new WebSocket(...).send("Hello"), in the page.
		name: "echo",
		page: echoSrv.httpURL(),
		args: []string{"--send", "Hello", "--console"},
		want: "Hello",
	}, {
		name: "echo/send-param",
		page: withQuery(echoSrv.httpURL(), "send", "Hello"),
		want: "Hello",
	}, {
		name: "echo/binary",
		page: echoSrv.httpURL(),
		args: []string{"--binary", "--send", "héllo wörld"},
		want: "héllo wörld",
	}, {
		name: "reply",
		page: replySrv.httpURL(),
		args: []string{"--send", "Hello", "--console"},
		want: "Received Hello. Thanks!",
	}, {
		// The page comes from the reply server, the socket goes to the echo
		// server: a cross-origin connection, accepted by default. The exact
		// echo proves the answer came from the echo server.
		name: "cross-origin",
		page: withQuery(replySrv.httpURL(), "url", echoSrv.url, "send", "Hello"),
		want: "Hello",
		check: func(t *testing.T, r browserResult) {
			pageOrigin, _ := url.Parse(r.Origin)
			target, _ := url.Parse(r.Target)
			if pageOrigin.Host == target.Host {
				t.Errorf("page origin %s and socket %s are not cross-origin", r.Origin, r.Target)
			}
		},
	}, {
		// A server started with -origin refuses the same cross-origin page.
		name:    "cross-origin/refused",
		page:    withQuery(replySrv.httpURL(), "url", strictSrv.url),
		refused: true,
	}, {
		// But it still accepts its own page.
		name: "origin/own-page",
		page: withQuery(strictSrv.httpURL(), "send", "Hello"),
		want: "Hello",
	}}

	runBrowserCases(t, node, chromium, script, tests)
}

// runBrowserCases runs each case as a subtest.
func runBrowserCases(t *testing.T, node, chromium, script string, tests []browserCase) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{script, "--timeout", "30000"}, tc.args...)
			if tc.refused {
				args = append(args, "--expect-refused")
			} else {
				args = append(args, "--expect", tc.want)
			}
			args = append(args, tc.page)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, args...)
			cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "WSPIPE_CHROMIUM="+chromium)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			if stderr.Len() > 0 {
				t.Logf("run.mjs stderr:\n%s", stderr.String())
			}
			var r browserResult
			if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
				t.Fatalf("node run.mjs: %v (%v); stdout:\n%s", runErr, err, stdout.String())
			}
			t.Logf("chromium %s: page %s (origin %s) -> %s: state %s, received %q", r.Browser, r.Page, r.Origin, r.Target, r.State, r.Received)
			if runErr != nil || !r.OK {
				t.Fatalf("browser run failed (%v): %s; page log %q", runErr, strings.Join(r.Problems, "; "), r.Log)
			}
			if r.Status != 200 || !strings.HasPrefix(r.ContentType, "text/html") {
				t.Errorf("page: status %d, Content-Type %q", r.Status, r.ContentType)
			}
			if tc.refused {
				if r.State != "closed" || len(r.Received) != 0 {
					t.Errorf("refused connection: state %q, received %q", r.State, r.Received)
				}
			} else {
				if r.State != "open" || !slices.Contains(r.Received, tc.want) {
					t.Errorf("state %q, received %q; want open and %q", r.State, r.Received, tc.want)
				}
				if slices.Contains(tc.args, "--console") && r.Console != tc.want {
					t.Errorf("console snippet received %q, want %q", r.Console, tc.want)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// browserCase is one run of test/browser/run.mjs.
type browserCase struct {
	name    string
	page    string
	args    []string
	want    string // the message that must arrive; "" with refused
	refused bool
	check   func(t *testing.T, r browserResult)
}

// TestBrowserHTTP2 loads the console page from cmd/echo over HTTPS (a
// development certificate Chromium is told to accept), where Chromium
// speaks HTTP/2 and, as cmd/echo advertises extended CONNECT, opens the
// page's same-origin WebSocket as an RFC 8441 stream of that connection:
// text and binary echo, and the server's log proves each WebSocket came
// over HTTP/2.
func TestBrowserHTTP2(t *testing.T) {
	node, chromium, script := browserTools(t)
	bin := buildEcho(t)
	srv := startEcho(t, bin, "-addr", "127.0.0.1:0", "-tls-dev", "-v")
	page := srv.httpURL()
	if !strings.HasPrefix(page, "https://") {
		t.Fatalf("page URL %q, want https://", page)
	}
	runBrowserCases(t, node, chromium, script, []browserCase{{
		name: "text",
		page: page,
		args: []string{"--ignore-cert", "--send", "Hello over HTTP/2", "--console"},
		want: "Hello over HTTP/2",
	}, {
		name: "binary",
		page: page,
		args: []string{"--ignore-cert", "--binary", "--send", "héllo wörld"},
		want: "héllo wörld",
	}})
	// Every WebSocket the server accepted (three: text, console snippet,
	// binary) came as an extended CONNECT over HTTP/2, none over HTTP/1.1.
	log := srv.stderr.String()
	h2 := strings.Count(log, "msg=connected") - strings.Count(log, "proto=HTTP/1.1")
	if n := strings.Count(log, "proto=HTTP/2.0"); n < 3 || h2 != n {
		t.Fatalf("server log: %d WebSockets over HTTP/2 (want 3, and none over HTTP/1.1):\n%s", n, log)
	}
	if !strings.Contains(log, "extended_connect=true") {
		t.Fatalf("server did not enable extended CONNECT:\n%s", log)
	}
}

// browserTools finds node, Chromium and test/browser/run.mjs, or skips
// the test without WSPIPE_BROWSER=1.
func browserTools(t *testing.T) (node, chromium, script string) {
	t.Helper()
	if os.Getenv("WSPIPE_BROWSER") != "1" {
		t.Skip("browser test: " + browserHowTo)
	}
	// From here on a missing piece is a failure, never a skip.
	chromium = os.Getenv("WSPIPE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("WSPIPE_BROWSER=1 but no browser: %v; %s", err, browserHowTo)
	}
	var err error
	node, err = exec.LookPath("node")
	if err != nil {
		t.Fatalf("WSPIPE_BROWSER=1 but no node: %v; %s", err, browserHowTo)
	}
	script, err = filepath.Abs(filepath.Join("..", "..", "test", "browser", "run.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	pwPkg := filepath.Join(filepath.Dir(script), "node_modules", "playwright-core", "package.json")
	if _, err := os.Stat(pwPkg); err != nil {
		t.Fatalf("WSPIPE_BROWSER=1 but playwright-core is not installed: %v; %s", err, browserHowTo)
	}
	return node, chromium, script
}

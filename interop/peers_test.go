package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// report is one JSON line of a peer's: a connection's end ("close"), a
// problem ("error"), or, without an id, a program's start ("listening",
// "ready").
type report struct {
	ID     string `json:"id,omitempty"`
	Event  string `json:"event"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Browser only: whether the socket opened, and CloseEvent.wasClean.
	Opened *bool `json:"opened,omitempty"`
	Clean  *bool `json:"clean,omitempty"`
	// "listening": the ports of a peer server.
	WS  int `json:"ws,omitempty"`
	WSS int `json:"wss,omitempty"`
	// "ready": the browser's version and the page's origin.
	Browser string `json:"browser,omitempty"`
	Origin  string `json:"origin,omitempty"`
}

// hub collects a peer's reports by connection id.
type hub struct {
	mu     sync.Mutex
	byID   map[string]chan report
	global chan report // reports without an id
}

func newHub() *hub {
	return &hub{byID: make(map[string]chan report), global: make(chan report, 16)}
}

func (h *hub) ch(id string) chan report {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.byID[id]
	if !ok {
		c = make(chan report, 16)
		h.byID[id] = c
	}
	return c
}

func (h *hub) post(r report) {
	if r.ID == "" {
		select {
		case h.global <- r:
		default:
		}
		return
	}
	select {
	case h.ch(r.ID) <- r:
	default: // a peer gone mad; the waiting test times out and says so
	}
}

// closed waits for connection id's "close" report. Errors reported before
// it are joined into its Error.
func (h *hub) closed(ctx context.Context, id string) (report, error) {
	var errs []string
	c := h.ch(id)
	for {
		select {
		case r := <-c:
			if r.Event == "error" {
				errs = append(errs, r.Error)
				continue
			}
			if r.Event == "close" {
				r.Error = strings.Join(errs, "; ")
				return r, nil
			}
		case <-ctx.Done():
			return report{}, fmt.Errorf("no close report from the peer for connection %s: %w (errors reported: %q)", id, ctx.Err(), errs)
		}
	}
}

// first waits for a report without an id, such as "listening".
func (h *hub) first(ctx context.Context) (report, error) {
	select {
	case r := <-h.global:
		return r, nil
	case <-ctx.Done():
		return report{}, ctx.Err()
	}
}

var connSeq atomic.Int64

// newID returns a connection id unique in the test binary.
func newID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, connSeq.Add(1))
}

// clientPeer opens connections to a wspipe server on request.
type clientPeer interface {
	// connect has the peer open a connection to url, offering protocols,
	// and follow the peer protocol on it; it reports to the hub under id.
	// deflate, if not nil, is the peer's own permessage-deflate setting
	// for this connection (see connCfg.peerDeflate).
	connect(id, url string, protocols []string, deflate any) error
	hub() *hub
}

// serverPeer is a peer's server, listening on loopback.
type serverPeer struct {
	ws, wss string // host:port of its ws:// and wss:// listeners
	h       *hub
}

// ---------------------------------------------------------------------------
// External peers: the programs in node/ and python/.

const interopHowTo = "the peers come from apt-get install chromium python3-websockets nodejs npm " +
	"and cd interop/node && npm ci (bash scripts/test.sh does both and sets WSPIPE_INTEROP=1)"

// requireExternal skips the test unless WSPIPE_INTEROP=1. With it, a
// missing peer is a failure.
func requireExternal(t *testing.T, peer string) {
	t.Helper()
	if os.Getenv("WSPIPE_INTEROP") != "1" {
		t.Skipf("interop test against %s: set WSPIPE_INTEROP=1 to run it; %s", peer, interopHowTo)
	}
}

// nodePath returns node and checks that interop/node's packages are
// installed.
func nodePath(t *testing.T, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("WSPIPE_INTEROP=1 but no node: %v; %s", err, interopHowTo)
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join("node", "node_modules", p, "package.json")); err != nil {
			t.Fatalf("WSPIPE_INTEROP=1 but interop/node has no %s: %v; %s", p, err, interopHowTo)
		}
	}
	return node
}

// pythonPath returns Debian's python3, which must import websockets. It is
// /usr/bin/python3, not the first python3 on PATH, which may be another
// installation without Debian's packages.
func pythonPath(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", "import websockets; print(websockets.__version__)").CombinedOutput()
	if err != nil {
		t.Fatalf("WSPIPE_INTEROP=1 but %s cannot import websockets: %v: %s; %s", py, err, out, interopHowTo)
	}
	t.Logf("python websockets %s", bytes.TrimSpace(out))
	return py
}

// chromiumPath returns the browser for browser.mjs.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("WSPIPE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("WSPIPE_INTEROP=1 but no browser: %v; %s", err, interopHowTo)
	}
	return p
}

// procPeer is a peer program: reports come from its stdout, connect
// requests go to its stdin.
type procPeer struct {
	name  string
	h     *hub
	mu    sync.Mutex
	stdin io.WriteCloser
}

// lockedBuffer collects a program's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startProc starts a peer program for the rest of the test. It ends when
// the test does: its stdin is closed, and it is killed if it lingers.
func startProc(t *testing.T, name string, argv []string, env ...string) *procPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &procPeer{name: name, h: newHub(), stdin: stdin}
	var other lockedBuffer // stdout lines that are not reports
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Event == "" {
				fmt.Fprintf(&other, "%s\n", sc.Bytes())
				continue
			}
			p.h.post(r)
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { <-readDone; done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			cancel() // kills it
			err = <-done
		}
		cancel()
		if err != nil || t.Failed() {
			t.Logf("%s exited: %v\nstderr:\n%s\nother stdout:\n%s", name, err, stderr.String(), other.String())
		}
	})
	return p
}

func (p *procPeer) hub() *hub { return p.h }

func (p *procPeer) connect(id, url string, protocols []string, deflate any) error {
	req := map[string]any{"id": id, "url": url, "protocols": protocols}
	if deflate != nil {
		req["deflate"] = deflate
	}
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err = p.stdin.Write(append(line, '\n'))
	return err
}

// startServerProc starts a peer program in server mode and waits for its
// ports.
func startServerProc(t *testing.T, name string, argv []string, env ...string) serverPeer {
	t.Helper()
	p := startProc(t, name, argv, env...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := p.h.first(ctx)
	if err != nil || r.Event != "listening" || r.WS == 0 || r.WSS == 0 {
		t.Fatalf("%s did not start listening: %+v, %v", name, r, err)
	}
	return serverPeer{
		ws:  net.JoinHostPort("127.0.0.1", fmt.Sprint(r.WS)),
		wss: net.JoinHostPort("127.0.0.1", fmt.Sprint(r.WSS)),
		h:   p.h,
	}
}

// ---------------------------------------------------------------------------
// A throwaway certificate authority and a server certificate for 127.0.0.1.

type testPKI struct {
	pool    *x509.CertPool
	cert    tls.Certificate // the server's, for 127.0.0.1 and localhost
	caFile  string          // PEM of the CA, for peers
	crtFile string          // PEM of the server certificate and the CA
	keyFile string          // PEM of the server's key
	spki    string          // base64 SHA-256 of the server's public key, for Chromium
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wspipe interop test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	spkiDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spkiDER)

	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	crtPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caPEM...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	dir := t.TempDir()
	p := &testPKI{
		pool:    x509.NewCertPool(),
		caFile:  filepath.Join(dir, "ca.pem"),
		crtFile: filepath.Join(dir, "server.pem"),
		keyFile: filepath.Join(dir, "server-key.pem"),
		spki:    base64.StdEncoding.EncodeToString(sum[:]),
	}
	p.pool.AddCert(ca)
	for file, data := range map[string][]byte{p.caFile: caPEM, p.crtFile: crtPEM, p.keyFile: keyPEM} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.cert, err = tls.X509KeyPair(crtPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clientTLS is a client configuration trusting the test CA.
func (p *testPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool}
}

// serverTLS is a server configuration with the test certificate.
func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.cert}, NextProtos: []string{"http/1.1"}}
}

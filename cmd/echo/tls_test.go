package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// writeTestCert writes a throwaway self-signed certificate for 127.0.0.1
// and returns the file names and a pool that trusts it.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wspipe test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	s := startRun(t, "-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.HasPrefix(s.url, "wss://127.0.0.1:") {
		t.Fatalf("printed URL %q, want wss://", s.url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := pipeline.Dial(ctx, s.url, &handshake.Client{TLSConfig: &tls.Config{RootCAs: pool}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(pipeline.CloseNormal, "")
	for _, msg := range []string{"over TLS", strings.Repeat("z", 100000)} {
		if err := c.WriteMessage(ctx, pipeline.Text, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage(ctx, nil)
		if err != nil || string(got) != msg {
			t.Fatalf("echo over TLS: %d bytes, %v", len(got), err)
		}
	}
}

func TestTLSFlagsGoTogether(t *testing.T) {
	if _, err := parseFlags([]string{"-tls-cert", "x.pem"}, &syncBuffer{}); err == nil {
		t.Fatal("-tls-cert without -tls-key accepted")
	}
}

func TestWSSToPlainServerFailsAtOnce(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0")
	// The context is a safety net: the handshake timeout is longer, so a
	// wait for a ServerHello (what happened before) shows as a context error.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wss := "wss" + strings.TrimPrefix(s.url, "ws")
	c, _, err := pipeline.Dial(ctx, wss, &handshake.Client{HandshakeTimeout: time.Minute}, nil)
	if err == nil {
		c.Close(pipeline.CloseNormal, "")
		t.Fatal("wss:// to the plain server succeeded")
	}
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || !strings.Contains(err.Error(), "use ws://") {
		t.Fatalf("err = %v, want crypto/tls's RecordHeaderError, explained", err)
	}
	// The server is unharmed.
	c, _, err = pipeline.Dial(ctx, s.url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(pipeline.CloseNormal, "")
}

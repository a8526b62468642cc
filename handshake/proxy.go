package handshake

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
)

// proxyFor returns the proxy to use for t, or nil for a direct connection.
func (c *Client) proxyFor(t *dialTarget) (*url.URL, error) {
	proxy := c.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	u := *t.u
	u.Scheme = "http"
	if t.secure {
		u.Scheme = "https"
	}
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       t.host,
	}
	pu, err := proxy(req)
	if err != nil {
		return nil, fmt.Errorf("%w: choosing a proxy: %w", ErrProxy, err)
	}
	if pu == nil {
		return nil, nil
	}
	if pu.Scheme != "http" && pu.Scheme != "" {
		return nil, fmt.Errorf("%w: %s: only http proxies are supported", ErrProxy, pu.Redacted())
	}
	return pu, nil
}

// proxyAddr returns the host:port to dial for an http proxy URL.
func proxyAddr(pu *url.URL) (string, error) {
	host := pu.Hostname()
	if host == "" {
		return "", fmt.Errorf("%w: %s: no host in proxy URL", ErrProxy, pu.Redacted())
	}
	port := pu.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port), nil
}

// connectTunnel asks the http proxy on conn to open a tunnel to target
// (host:port) with CONNECT, sending the proxy URL's user information as
// Basic credentials. It succeeds on a 200 answer; any other answer gives a
// *HandshakeError matching ErrProxy, with the proxy's status, headers and
// the start of its body. Every failure matches ErrProxy.
func connectTunnel(d *dialState, conn net.Conn, pu *url.URL, target string) error {
	b := make([]byte, 0, 256)
	b = append(b, "CONNECT "...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, target...)
	b = append(b, "\r\n"...)
	if pu.User != nil {
		pass, _ := pu.User.Password()
		b = append(b, "Proxy-Authorization: Basic "...)
		b = append(b, base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass))...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	proxyFail := func(err error) error {
		return &chainedError{msg: err.Error(), errs: []error{ErrProxy, err}}
	}
	if _, err := conn.Write(b); err != nil {
		return proxyFail(d.fail("writing CONNECT to proxy", err))
	}
	req := &http.Request{
		Method:     http.MethodConnect,
		URL:        &url.URL{Host: target},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       target,
	}
	resp, br, lr, ioFailure, err := readResponseHead(conn, req, d.max, ErrProxy)
	if ioFailure {
		return proxyFail(d.fail("reading the proxy's answer to CONNECT", err))
	}
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &HandshakeError{
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Header:     resp.Header,
			Body:       readRefusalBody(d, conn, resp, lr),
			Err:        fmt.Errorf("%w: CONNECT %s refused", ErrProxy, target),
		}
	}
	if n := br.Buffered(); n > 0 {
		return fmt.Errorf("%w: proxy sent %d bytes after its answer to CONNECT", ErrProxy, n)
	}
	return nil
}

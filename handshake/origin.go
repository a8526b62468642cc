package handshake

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// checkOrigin applies the Server's origin policy to the Origin header values
// of a request for host. It returns nil if the request may proceed.
func (s *Server) checkOrigin(origins []string, host string) *RequestError {
	if len(origins) == 0 || s.DangerouslyAllowAnyOrigin {
		return nil
	}
	if len(origins) > 1 {
		return refuse(403, ErrForbiddenOrigin, "malformed Origin header",
			errors.New("more than one Origin header"))
	}
	origin := origins[0]
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil {
		return refuse(403, ErrForbiddenOrigin, "malformed Origin header",
			fmt.Errorf("cannot parse origin %q", origin))
	}
	if strings.EqualFold(u.Host, host) || s.originPatternMatch(u.Host) {
		return nil
	}
	return refuse(403, ErrForbiddenOrigin, "origin not allowed",
		fmt.Errorf("origin %q does not match host %q or any OriginPatterns", origin, host))
}

// originPatternMatch reports whether originHost (host[:port]) matches one
// of the OriginPatterns, case-insensitively. Malformed patterns never match.
func (s *Server) originPatternMatch(originHost string) bool {
	if len(s.OriginPatterns) == 0 {
		return false
	}
	h := strings.ToLower(originHost)
	for _, p := range s.OriginPatterns {
		if ok, err := path.Match(strings.ToLower(p), h); ok && err == nil {
			return true
		}
	}
	return false
}

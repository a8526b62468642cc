package conformance

import "testing"

// Client category 13: compression with different parameters. wspipe's
// client offers each of Autobahn's seven parameter sets (three offers in
// 13.7), the server answers as Autobahn's accept functions do (asking the
// client for no context takeover and 9- or 15-bit windows), and the
// client's compressed echoes must honour the answer. See
// deflate_helpers_test.go.
func TestClientCategory13(t *testing.T) { runClientDeflateCases(t, category13Specs()) }

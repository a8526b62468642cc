package conformance

import "testing"

// Category 13: WebSocket compression with different parameters. Autobahn's
// cases 13.1.1 to 13.7.18: the JSON data at the 18 sizes of category 12,
// with each of Autobahn's seven permessage-deflate offers (context
// takeover and window bits asked of the server, several offers at once).
// The server's answer must be a valid RFC 7692 answer to one of the
// offers, and its compressed echoes must honour it. See
// deflate_helpers_test.go.
func TestCategory13(t *testing.T) { runDeflateCases(t, category13Specs()) }

package conformance

import "testing"

// Client category 12: compression with different payloads. The server
// accepts the client's permessage-deflate offer as made and sends the
// messages of category 12 compressed; the client must echo each exactly,
// its compressed echoes masked, within its negotiated window and context
// takeover, RSV1 on first frames only. See deflate_helpers_test.go.
func TestClientCategory12(t *testing.T) { runClientDeflateCases(t, category12Specs()) }

package conformance

import "testing"

// Category 12: WebSocket compression with different payloads. Autobahn's
// cases 12.1.1 to 12.5.18: JSON, a bitmap, German text, HTML and a PDF,
// messages of 16 bytes to 128 KiB, whole or auto-fragmented, compressed
// with permessage-deflate (RFC 7692) at its default parameters. Each echo
// must match exactly, and each compressed echo must stay within the
// server's negotiated window, use context takeover only as negotiated,
// and carry RSV1 on its first frame only. See deflate_helpers_test.go.
func TestCategory12(t *testing.T) { runDeflateCases(t, category12Specs()) }

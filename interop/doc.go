// Package interop runs wspipe against other WebSocket implementations: its
// server (pipeline.Accept) against headless Chromium, Node's ws, Python's
// websockets, gorilla/websocket and coder/websocket as clients, and its
// client (pipeline.Dial) against the servers of Node's ws, Python's
// websockets, gorilla/websocket and coder/websocket. Everything is in the
// tests; this file only documents them.
//
// The Go peers always run. The others need programs installed on the
// machine (Chromium and python3-websockets from Debian, and `npm ci` in
// interop/node for ws and playwright-core); their tests skip with a hint
// unless WSPIPE_INTEROP=1, and fail when a peer is missing if it is set.
// scripts/test.sh installs them and sets it.
//
// # The peer protocol
//
// The Go test drives every scenario from wspipe's side; the peer, whichever
// side opened the connection, follows a fixed protocol:
//
//   - it echoes every data message unchanged, text as text and binary as
//     binary, except text messages starting with "cmd:", which are commands:
//   - "cmd:close:CODE:REASON": close the connection with CODE and REASON,
//     or, if CODE is empty, with a close frame without a status code;
//   - "cmd:ping:PAYLOAD": send a ping carrying PAYLOAD and, once its pong
//     has arrived, the text message "pong:PAYLOAD";
//   - "cmd:protocol": send the text message "protocol:" followed by the
//     negotiated subprotocol (empty if none);
//   - "cmd:frag:TYPE:N:SIZE": send one message of TYPE ("text" or
//     "binary") in N fragments, the k-th (from 0) being SIZE bytes of the
//     letter 'a'+k; with ":noise" after SIZE, the k-th fragment is instead
//     SIZE bytes of printable noise that deflate hardly shrinks: starting
//     from x = k+1, each byte is 33 + (x>>16)%94 after
//     x = (x*1103515245 + 12345) mod 2^31;
//   - "cmd:extensions": send the text message "extensions:" followed by
//     the permessage-deflate parameters the peer uses, written as a
//     Sec-WebSocket-Extensions value (empty without the extension);
//   - a command the peer cannot carry out (a browser cannot ping or
//     fragment, Python's websockets cannot close without a status code) is
//     answered with the text message "unsupported:NAME".
//
// When a connection ends the peer reports, as a JSON line on its standard
// output for the programs (interop/node/peer.mjs, interop/node/browser.mjs,
// interop/python/peer.py), {"id": ID, "event": "close", "code": CODE,
// "reason": REASON}: the close code and reason it received (1006 if none).
// ID is the "id" query parameter of the connection's URL. Problems are
// reported as {"id": ID, "event": "error", "error": TEXT} before that.
//
// Peer servers prefer the subprotocol chat.v1, then chat.v2; the tests
// offer "chat.v2, chat.v1" and expect chat.v1 on both sides.
//
// # permessage-deflate
//
// The deflate tests (deflate_test.go, deflate_pairings_test.go) run each
// pairing in several configurations of both sides: wspipe's
// pipeline.Compression (server policy or client offer, level, threshold)
// and the peer's own settings, passed to a client peer with each
// connection ("deflate" in the program's request line, see
// node/peer.mjs and python/peer.py) and to a server peer when it starts.
// Every connection goes through the relay, which keeps both handshake
// heads and every frame header with its RSV bits, so that what was agreed
// and which messages went compressed are read off the wire and compared
// with wspipe's view, the peer's ("cmd:extensions"), and parameters
// worked out by hand for each configuration.
package interop

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
//     letter 'a'+k;
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
package interop

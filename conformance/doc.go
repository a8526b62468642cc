// Package conformance is an independent, strict WebSocket conformance suite
// for both roles. It replays the Autobahn testsuite's cases for categories
// 1 to 7, 9, 10, 12 and 13 (permessage-deflate, every parameter set of 13.1
// to 13.7) as Go tests, one subtest per case, named by its Autobahn number
// ("1.1.1", "5.15", "6.4.1", "7.7.3", "13.3.2", ...):
//
//   - server direction (TestCategoryN): the test is Autobahn's
//     "fuzzingclient" and the server under test is an echo server;
//   - client direction (TestClientCategoryN): the test is a strict
//     "fuzzingserver" and wspipe's client runs an echo loop against it.
//
// Each case is defined once (cat1_test.go ... cat10_test.go), as steps
// of the suite's end of the connection (endpoint_test.go); each
// direction's driver (harness_test.go, client_harness_test.go) runs the
// same tables with its role's rules: masking, the close reply, and who
// closes the TCP connection.
//
// The suite has its own frame codec, handshakes and DEFLATE judge (a
// scanner that checks every back-reference against the negotiated window),
// built on the standard library, klauspost/compress and, for HTTP/2,
// golang.org/x/net/http2 only, so it judges wspipe without sharing code
// with it.
//
// Both directions also run over HTTP/2 (RFC 8441, cleartext with prior
// knowledge): TestHTTP2Categories runs every server-direction case on
// streams of wspipe's echo server, TestHTTP2ClientCategories every
// client-direction case with wspipe's client opening its WebSocket over
// HTTP/2 to the suite's HTTP/2 fuzzing server. The end of a stream stands
// for the TCP close. TestMain restarts the test binary with
// GODEBUG=http2xconnect=1, which net/http needs for extended CONNECT.
//
// Judging is strict: what Autobahn would report as NON-STRICT (a late
// fail-fast on invalid UTF-8, a connection failed before the preceding valid
// message was echoed, ...) is a failure here. Every case must end with a
// close frame carrying the expected code and with the server closing the TCP
// connection within a bounded time.
//
// Run it against wspipe's own echo server, started in-process:
//
//	go test ./conformance
//	go test -race ./conformance
//
// or against any echo server on the loopback interface:
//
//	WSPIPE_CONFORMANCE_URL=ws://127.0.0.1:9001/ go test ./conformance
//
// Single cases run with -run, e.g. -run 'TestCategory6/6.4.' .
package conformance

package conformance

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// TestClientHarnessCatchesBrokenClients checks that the client direction
// can fail: it runs cases against a small hand-written client with one
// flaw at a time and requires the harness to report the flaw, and runs the
// same cases against wspipe's client, and against the hand-written client
// without a flaw where it is correct enough, requiring no report.
func TestClientHarnessCatchesBrokenClients(t *testing.T) {
	defer checkGoroutines(t, runtime.NumGoroutine())
	all := map[string]clientCase{}
	for _, cases := range [][]clientCase{
		clientCases(category1()), clientCases(category2()), clientCases(category3()), clientCases(category4()), clientCases(category5()),
		clientCases(category6()), clientCases(category7()), clientCases(category9()), clientCases(category10()), clientMaskedCases(),
	} {
		for _, tc := range cases {
			all[tc.id] = tc
		}
	}
	lookup := func(t *testing.T, id string) clientCase {
		tc, ok := all[id]
		if !ok {
			t.Fatalf("no client case %s", id)
		}
		return tc
	}

	for _, tt := range []struct {
		flaw   string
		client rawClient
		ids    []string
		report string // what the harness must say, in one of its reports
	}{
		{"sends unmasked frames", rawClient{noMask: true}, []string{"1.1.2", "2.2"}, "is not masked"},
		{"masks every frame with the same key", rawClient{constKey: true}, []string{"2.10", "5.6"}, "mask key"},
		{"echoes the last byte wrong", rawClient{wrongEcho: true}, []string{"1.2.3", "9.7.3"}, "event 1 of 1: got"},
		{"closes the TCP connection right after its close reply", rawClient{closesFirst: true}, []string{"7.7.1", "7.3.1"}, "closed the TCP connection first"},
		{"does not check RSV bits", rawClient{}, []string{"3.1"}, "did not fail the connection"},
		{"does not check reserved opcodes", rawClient{}, []string{"4.2.1"}, "dropped the connection without a close frame"},
		{"checks UTF-8 only at the end of a message", rawClient{checkUTF8: true}, []string{"6.4.1"}, "not fail-fast"},
		{"does not check UTF-8", rawClient{}, []string{"6.3.1"}, "not valid UTF-8"},
		{"sends Sec-WebSocket-Version 8", rawClient{version: "8"}, []string{"1.1.1"}, "Sec-WebSocket-Version"},
		{"sends no Host header", rawClient{noHost: true}, []string{"1.1.1"}, "Host"},
		{"reuses its Sec-WebSocket-Key", rawClient{fixedKey: true}, []string{"1.1.1", "1.1.1"}, "was sent before"},
	} {
		t.Run(strings.ReplaceAll(tt.flaw, " ", "_"), func(t *testing.T) {
			broken := clientUnderTest{name: "a client that " + tt.flaw, run: tt.client.run}
			var all []string
			for _, id := range tt.ids {
				rec := &recorder{}
				failed := runClientCase(rec, broken, lookup(t, id))
				all = append(all, rec.errors...)
				if !failed {
					if tt.client.fixedKey && id == tt.ids[0] {
						continue // the first use of the key is fine
					}
					t.Errorf("case %s passed for %s; logs:\n%s", id, broken.name, strings.Join(rec.logs, "\n"))
				}
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.report) {
				t.Errorf("the reports for %s do not say %q:\n%s", broken.name, tt.report, strings.Join(all, "\n"))
			}
			t.Logf("reported for %s:\n%s", broken.name, strings.Join(all, "\n"))
		})
	}

	// The controls: the same cases pass for wspipe's client, and for the
	// hand-written client without a flaw where it needs none of the
	// checks it lacks.
	for _, id := range []string{"1.1.2", "2.2", "2.10", "5.6", "1.2.3", "9.7.3", "7.7.1", "7.3.1", "3.1", "4.2.1", "6.4.1", "6.3.1", "1.1.1"} {
		t.Run("control_wspipe_"+id, func(t *testing.T) {
			rec := &recorder{}
			if runClientCase(rec, wspipeClient, lookup(t, id)) {
				t.Errorf("case %s failed for wspipe's client under the recorder:\n%s", id, strings.Join(rec.errors, "\n"))
			}
		})
	}
	for _, id := range []string{"1.1.1", "1.1.2", "2.2", "2.10", "5.6", "1.2.3", "9.7.3", "7.7.1", "7.3.1"} {
		t.Run("control_rawclient_"+id, func(t *testing.T) {
			rec := &recorder{}
			if runClientCase(rec, clientUnderTest{name: "the hand-written client", run: rawClient{}.run}, lookup(t, id)) {
				t.Errorf("case %s failed for the hand-written client without a flaw:\n%s", id, strings.Join(rec.errors, "\n"))
			}
		})
	}
}

// recorder is a reporter that keeps what the harness reports.
type recorder struct {
	mu     sync.Mutex
	errors []string
	logs   []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// rawClient is a small echo client written for the sanity test, on the
// standard library and the suite's codec. Without a flaw it reassembles
// each message and echoes it in one masked frame, answers pings, echoes
// the server's close frame and waits for the server to close the TCP
// connection; it checks nothing the server sends beyond the mask bit and
// the length encoding. Each field gives it a flaw.
type rawClient struct {
	noMask      bool   // sends its frames unmasked
	constKey    bool   // masks every frame with the same key
	wrongEcho   bool   // flips a bit of the last byte of each echo
	closesFirst bool   // closes the TCP connection right after its close reply
	checkUTF8   bool   // fails text messages with 1007, but only once they are complete
	version     string // Sec-WebSocket-Version, if not 13
	noHost      bool   // sends no Host header
	fixedKey    bool   // sends the same Sec-WebSocket-Key every time
}

func (rc rawClient) run(ctx context.Context, url string) error {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	if rc.fixedKey {
		copy(raw[:], "wspipe-sanity-16")
	}
	version := rc.version
	if version == "" {
		version = "13"
	}
	req := "GET / HTTP/1.1\r\n"
	if !rc.noHost {
		req += "Host: " + addr + "\r\n"
	}
	req += "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(raw[:]) + "\r\n" +
		"Sec-WebSocket-Version: " + version + "\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake refused: %s", resp.Status)
	}

	constKey := [4]byte{0x12, 0x34, 0x56, 0x78}
	send := func(f frame) error {
		var key *[4]byte
		switch {
		case rc.constKey:
			key = &constKey
		case !rc.noMask:
			var k [4]byte
			binary.LittleEndian.PutUint32(k[:], rand.Uint32()|1)
			key = &k
		}
		_, err := nc.Write(encodeWithKey(f, key))
		return err
	}
	// closeAndWait sends a close frame with payload p and waits for the
	// server to close the TCP connection (or closes it at once).
	closeAndWait := func(p []byte) error {
		if err := send(closeRaw(p)); err != nil || rc.closesFirst {
			return err
		}
		io.Copy(io.Discard, br)
		return nil
	}
	var msgOp byte
	var msg []byte
	for {
		h, p, err := readServerFrame(br, 32<<20)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		switch h.opcode {
		case opText, opBinary, opCont:
			if h.opcode != opCont {
				msgOp, msg = h.opcode, nil
			}
			msg = append(msg, p...)
			if !h.fin {
				continue
			}
			if rc.checkUTF8 && msgOp == opText && !utf8.Valid(msg) {
				return closeAndWait(closeBody(1007, nil))
			}
			if rc.wrongEcho {
				if len(msg) == 0 {
					msg = []byte{0}
				}
				msg[len(msg)-1] ^= 1
			}
			if err := send(data(msgOp, true, msg)); err != nil {
				return err
			}
		case opPing:
			if err := send(pong(p)); err != nil {
				return err
			}
		case opClose:
			return closeAndWait(p)
		case opPong:
		default:
			return fmt.Errorf("reserved opcode %#x", h.opcode)
		}
	}
}

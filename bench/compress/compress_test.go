package compress

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	RunChildIfRequested()
	code := m.Run()
	stopBenchChildren()
	os.Exit(code)
}

// TestServersNegotiateAndEcho checks, for every server, that the client's
// offer is answered with permessage-deflate as configured (context
// takeover, server window), that 1 KiB and 64 KiB messages come back
// exactly, and that they come back compressed: fewer bytes on the wire
// than the messages hold.
func TestServersNegotiateAndEcho(t *testing.T) {
	for _, srv := range Servers {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			hs := httptest.NewServer(srv.New())
			defer hs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := Dial(ctx, "ws://"+hs.Listener.Addr().String()+"/", srv)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			t.Logf("Sec-WebSocket-Extensions: %s", c.Extensions)
			for _, size := range []int{1 << 10, 64 << 10} {
				msgs := Messages(size)
				down0, _, err := c.WireBytes()
				if err != nil {
					t.Fatal(err)
				}
				const n = 8
				for i := range n {
					if err := c.RoundTrip(ctx, msgs[i%len(msgs)]); err != nil {
						t.Fatalf("%d bytes, message %d: %v", size, i, err)
					}
				}
				down1, _, _ := c.WireBytes()
				perMsg := float64(down1-down0) / n
				t.Logf("%d bytes: %.0f bytes per echo on the wire", size, perMsg)
				if perMsg > 0.6*float64(size) {
					t.Errorf("%d-byte echoes took %.0f bytes on the wire: not compressed", size, perMsg)
				}
			}
		})
	}
}

// TestCheckAnswerRejects checks that the negotiation check fails servers
// that do not compress or compress otherwise than configured.
func TestCheckAnswerRejects(t *testing.T) {
	wspipe, _ := Lookup("wspipe")
	gorilla, _ := Lookup("gorilla")
	for _, tc := range []struct {
		hdr []string
		srv Server
	}{
		{nil, wspipe},
		{[]string{"x-webkit-deflate-frame"}, wspipe},
		{[]string{"permessage-deflate"}, wspipe}, // 15-bit window, want 12
		{[]string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=12"}, wspipe},
		{[]string{"permessage-deflate"}, gorilla}, // takeover, want none
	} {
		if err := checkAnswer(tc.hdr, tc.srv); err == nil {
			t.Errorf("%s: answer %q accepted", tc.srv.Name, tc.hdr)
		}
	}
	if err := checkAnswer([]string{"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"}, wspipe); err != nil {
		t.Errorf("wspipe's own answer refused: %v", err)
	}
}

// TestChildReportsItsOwnAllocations runs one server in a child process and
// checks that its /stats counters move with the traffic it serves.
func TestChildReportsItsOwnAllocations(t *testing.T) {
	srv, _ := Lookup("wspipe")
	ch, err := StartChild(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := RunEcho(ctx, ch, 1<<10, 200*time.Millisecond, 2000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.N < 16 || res.SrvCPUNs <= 0 || res.WireDown <= 0 || res.WireDown >= 1024 {
		t.Errorf("implausible result %+v", res)
	}
	if !strings.Contains(res.Extensions, "permessage-deflate") {
		t.Errorf("answer %q", res.Extensions)
	}
	st, err := ch.Stats(true)
	if err != nil {
		t.Fatal(err)
	}
	if st.RSS == 0 || st.HeapInuse == 0 || st.Mallocs == 0 {
		t.Errorf("stats %+v", st)
	}
}

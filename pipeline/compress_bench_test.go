package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/wspipe/wspipe/handshake"
)

var jsonish = []byte(strings.Repeat(`{"id":12345,"user":"ada","event":"message","text":"hello there, how are you today?","tags":["a","b"]},`, 700))

// BenchmarkCompressedRoundTrip measures a compressed echo round trip with
// context takeover (client and server in one process, over loopback).
func BenchmarkCompressedRoundTrip(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, noCtx := range []bool{false, true} {
			name := fmt.Sprintf("%dKiB/takeover", size>>10)
			if noCtx {
				name = fmt.Sprintf("%dKiB/no-takeover", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				cfg := &Compression{Policy: handshake.DeflatePolicy{ServerNoContextTakeover: noCtx, ClientNoContextTakeover: noCtx}}
				url := deflateEchoServer(b, cfg, 0)
				ctx := context.Background()
				c, _, err := Dial(ctx, url, nil, &Options{Compression: &Compression{}})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(CloseNormal, "")
				msg := jsonish[:size]
				buf := make([]byte, 0, size)
				for range 10 { // warm the pools and windows
					c.WriteMessage(ctx, Text, msg)
					c.ReadMessage(ctx, buf)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if err := c.WriteMessage(ctx, Text, msg); err != nil {
						b.Fatal(err)
					}
					if _, buf, err = c.ReadMessage(ctx, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCompressedIdleMemory measures what an idle connection with
// permessage-deflate and context takeover keeps, per window size, after a
// burst of traffic has filled its windows: heap bytes per connection (both
// ends live in this process and hold the same state, so the figure is half
// of the heap growth per pair).
func BenchmarkCompressedIdleMemory(b *testing.B) {
	for _, bits := range []int{9, 10, 12, 15} {
		b.Run(fmt.Sprintf("window%d", bits), func(b *testing.B) {
			const pairs = 100
			cfg := &Compression{Policy: handshake.DeflatePolicy{ServerMaxWindowBits: bits, ClientMaxWindowBits: bits}}
			var servers []*Conn
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				opts := &Options{Compression: cfg}
				c, err := Accept(w, r, nil, opts)
				if err == nil {
					servers = append(servers, c)
					go serveMessages(c)
				}
			}))
			defer srv.Close()
			url := "ws://" + srv.Listener.Addr().String() + "/"
			ctx := context.Background()
			measure := func() uint64 {
				runtime.GC()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			for b.Loop() {
				before := measure()
				var clients []*Conn
				for range pairs {
					c, _, err := Dial(ctx, url, nil, &Options{Compression: &Compression{Offer: handshake.DeflateOffer{ClientMaxWindowBits: -1}}})
					if err != nil {
						b.Fatal(err)
					}
					for i := 0; i < 40000; i += 4000 { // 40 KB of traffic each way
						c.WriteMessage(ctx, Text, jsonish[i:i+4000])
						c.ReadMessage(ctx, nil)
					}
					clients = append(clients, c)
				}
				after := measure()
				b.ReportMetric(float64(after-before)/(2*pairs), "B/conn")
				for _, c := range clients {
					c.Close(CloseNormal, "")
				}
			}
		})
	}
}

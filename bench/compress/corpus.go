// Package compress compares permessage-deflate (RFC 7692) servers: wspipe's
// echo server against gorilla/websocket, coder/websocket and lxzan/gws, each
// with compression on as its documentation describes, all driven by the same
// client (wspipe's pipeline.Dial offering permessage-deflate with
// client_max_window_bits).
//
// Each server runs in a child process (the test binary or the compare
// command re-executed with an environment variable) that reports its own
// allocation counters, CPU time, heap and RSS over a loopback /stats
// endpoint, so the client's work never counts as the server's.
package compress

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// corpusSize is the amount of JSON-like text messages are cut from.
const corpusSize = 1 << 20

var (
	corpusOnce sync.Once
	corpus     []byte
)

// Corpus returns 1 MiB of JSON-like text: records of an imaginary event
// stream with repeated keys, a few enumerations, numbers, timestamps and
// short free text from a small vocabulary, generated from a fixed seed so
// every run and every server sees the same bytes. It compresses about as
// much as typical API traffic (around 4:1 with DEFLATE level 1).
func Corpus() []byte {
	corpusOnce.Do(func() {
		r := rand.New(rand.NewPCG(7692, 6455))
		words := strings.Fields(`the a an order trade update price quantity account user
			session market limit stop filled partial cancel new open close buy sell
			confirmed pending rejected settled review queue retry latency window
			stream message batch event region primary replica timeout ok warning
			error checksum payload cursor offset page next previous`)
		types := []string{"trade", "quote", "order", "cancel", "heartbeat", "fill"}
		symbols := []string{"ACME", "GLOBX", "INITECH", "UMBRL", "HOOLI", "VANDL", "STARK", "WAYNE"}
		regions := []string{"eu-west", "us-east", "ap-south", "sa-east"}
		var b strings.Builder
		b.Grow(corpusSize + 1024)
		id := 1_000_000
		ts := int64(1_714_521_600_000)
		for b.Len() < corpusSize {
			id += 1 + r.IntN(7)
			ts += int64(r.IntN(250))
			uid := r.IntN(5000)
			fmt.Fprintf(&b, `{"id":%d,"type":%q,"symbol":%q,"price":%d.%02d,"qty":%d,"side":%q,`,
				id, types[r.IntN(len(types))], symbols[r.IntN(len(symbols))],
				10+r.IntN(990), r.IntN(100), 1+r.IntN(500), []string{"buy", "sell"}[r.IntN(2)])
			fmt.Fprintf(&b, `"user":{"id":%d,"name":"user_%d","verified":%t,"region":%q},"ts":%d,`,
				uid, uid, r.IntN(4) != 0, regions[r.IntN(len(regions))], ts)
			b.WriteString(`"note":"`)
			for i := range 3 + r.IntN(8) {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[r.IntN(len(words))])
			}
			fmt.Fprintf(&b, `","tags":["%s","%s"],"seq":%d}`+"\n",
				words[r.IntN(len(words))], regions[r.IntN(len(regions))], r.IntN(1<<20))
		}
		corpus = []byte(b.String()[:corpusSize])
	})
	return corpus
}

// Messages returns the messages of size bytes a client sends, in order and
// cycled: consecutive slices of the corpus (at most 64 of them), so that
// successive messages differ as a stream's would and context takeover
// helps only as much as real history does.
func Messages(size int) [][]byte {
	c := Corpus()
	if size <= 0 || size > len(c) {
		panic(fmt.Sprintf("compress: message size %d out of range", size))
	}
	n := min(64, len(c)/size)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = c[i*size : (i+1)*size : (i+1)*size]
	}
	return msgs
}

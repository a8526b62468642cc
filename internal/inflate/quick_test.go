package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"testing"
)

func TestQuickRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		n := r.IntN(200000)
		data := make([]byte, n)
		alpha := 1 + r.IntN(255)
		for j := range data {
			if j > 10 && r.IntN(3) == 0 {
				data[j] = data[j-1-r.IntN(10)]
			} else {
				data[j] = byte(r.IntN(alpha))
			}
		}
		var dict []byte
		if i%3 == 0 {
			dict = data[:min(len(data), r.IntN(40000))]
		}
		var buf bytes.Buffer
		fw, _ := flate.NewWriterDict(&buf, r.IntN(11)-1, dict)
		fw.Write(data)
		fw.Close()
		var d Decoder
		d.Reset(bytes.NewReader(buf.Bytes()), dict)
		got, err := io.ReadAll(&d)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("case %d: %v, %d vs %d bytes", i, err, len(got), len(data))
		}
		if d.Unused() != 0 {
			t.Fatalf("unused %d", d.Unused())
		}
	}
}

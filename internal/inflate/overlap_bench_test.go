package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"
)

// BenchmarkOverlap decodes streams made mostly of matches that overlap
// their own output (dist < length): runs of one byte and short repeated
// patterns, as in padded or repetitive text.
func BenchmarkOverlap(b *testing.B) {
	for _, c := range []struct{ name, unit string }{
		{"run1", "a"},
		{"period3", "abc"},
		{"period17", "0123456789abcdefg"},
	} {
		var plain bytes.Buffer
		for i := 0; plain.Len() < 64<<10; i++ {
			plain.WriteString(strings.Repeat(c.unit, 1+i%200))
			plain.WriteByte(byte('A' + i%26))
		}
		comp := compress(b, plain.Bytes(), nil, flate.BestSpeed)
		b.Run(c.name, func(b *testing.B) {
			var d Decoder
			src := bytes.NewReader(nil)
			b.SetBytes(int64(plain.Len()))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(comp)
				d.Reset(src, nil)
				if n, err := io.Copy(io.Discard, &d); err != nil || n != int64(plain.Len()) {
					b.Fatal(n, err)
				}
			}
		})
	}
}

package layers

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
)

var benchSizes = []int{128, 4 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkCopy is the baseline for BenchmarkMask: a plain copy moves the
// same bytes without the XOR.
func BenchmarkCopy(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			src, dst := pattern(n), make([]byte, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkMask measures MaskCopy into a separate buffer (what a client
// writer does) at an unaligned key position.
func BenchmarkMask(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			src, dst := pattern(n), make([]byte, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				MaskCopy(dst, src, rfcKey, 1)
			}
		})
	}
}

// BenchmarkMaskInPlace measures Mask on one buffer (what an Unmasker does).
func BenchmarkMaskInPlace(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			buf := pattern(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				Mask(rfcKey, 1, buf)
			}
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"ASCII", bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 4096/45+1)[:4096]},
		{"Multibyte", []byte(strings.Repeat("κόσμε €𝄞 ", 4096/20+1))},
		{"Mixed", []byte(strings.Repeat("plain ascii text with one é ", 4096/29+1))},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			var v UTF8Validator
			for b.Loop() {
				v.Reset()
				if !v.Valid(in.data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkFrameReader reads 1 KiB masked frames, as a server does.
func BenchmarkFrameReader(b *testing.B) {
	const frames = 64
	payload := pattern(1024)
	var wire []byte
	for range frames {
		wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey}, payload)...)
	}
	src := bytes.NewReader(wire)
	fr := NewFrameReader(src, RoleServer)
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == frames {
			src.Reset(wire)
			i = 0
		}
		i++
		if _, err := fr.Next(); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := fr.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkFrameWriter(b *testing.B) {
	cases := []struct {
		name string
		role Role
		size int
	}{
		{"Server1KiB", RoleServer, 1 << 10},
		{"Client1KiB", RoleClient, 1 << 10},
		{"Server64KiB", RoleServer, 64 << 10},
		{"Client64KiB", RoleClient, 64 << 10},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			fw := NewFrameWriter(io.Discard, c.role, nil)
			p := pattern(c.size)
			h := Header{Fin: true, Opcode: OpBinary}
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			for b.Loop() {
				if err := fw.WriteFrame(h, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

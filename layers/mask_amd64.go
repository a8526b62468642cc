//go:build amd64 && !purego

package layers

// maskAVX2 writes src XOR key (an 8-byte key word, repeated) into dst for
// n bytes, 32 at a time; n must be a multiple of 32. dst and src may be the
// same memory. See mask_amd64.s.
//
//go:noescape
func maskAVX2(dst, src *byte, n int, key uint64)

// cpuHasAVX2 reports whether the CPU and the OS support AVX2.
func cpuHasAVX2() bool

// useAVX2 enables MaskCopy's vector path: 32-byte words instead of 8.
var useAVX2 = cpuHasAVX2()

//go:build amd64 && !purego

package layers

// maskBytes writes n bytes of src XOR key (the little-endian word of its
// four bytes) into dst, from key position pos, and returns the position
// after them; dst and src may be the same memory. It is all assembly
// (mask_amd64.s): AVX2 where the CPU has it, SSE2 (every amd64 has it)
// where not.
//
//go:noescape
func maskBytes(dst, src *byte, n int, key uint32, pos int) int

// cpuHasAVX2 reports whether the CPU and the OS support AVX2.
func cpuHasAVX2() bool

// useAVX2 picks maskBytes's vector width: 32-byte AVX2 words when true,
// 16-byte SSE2 words when false. Tests turn it off to check the SSE2 path.
var useAVX2 = cpuHasAVX2()

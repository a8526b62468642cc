//go:build !amd64 || purego

package layers

// useAVX2 is false where there is no assembly: MaskCopy uses words of 8.
const useAVX2 = false

func maskAVX2(dst, src *byte, n int, key uint64) { panic("layers: no maskAVX2 here") }

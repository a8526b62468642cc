//go:build !amd64 || purego

package layers

import "unsafe"

// maskBytes is MaskCopy's work where there is no assembly: 8-byte words in
// Go.
func maskBytes(dst, src *byte, n int, key uint32, pos int) int {
	return maskWords(unsafe.Slice(dst, n), unsafe.Slice(src, n), key, pos)
}

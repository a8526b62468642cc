//go:build amd64 && !purego

package layers

import "testing"

// The SSE2 path, which CPUs without AVX2 take, checked on any amd64.
func TestMaskSSE2(t *testing.T) {
	defer func(was bool) { useAVX2 = was }(useAVX2)
	useAVX2 = false
	checkMaskAgainstReference(t)
	checkMaskRandomLong(t)
}

package load

import (
	"math/bits"
	"time"
)

// hist is a latency histogram with about 3% resolution: values below 64 ns
// have a bucket each, larger ones 32 buckets per power of two.
type hist struct {
	counts [64 * 32]uint64
	n      uint64
}

const subBits = 5

func bucket(v uint64) int {
	if v < 1<<(subBits+1) {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1))
	sub := (v >> (e - subBits)) & (1<<subBits - 1)
	return (e-subBits)<<subBits + int(sub) + 1<<subBits
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < 1<<(subBits+1) {
		return uint64(i)
	}
	i -= 1 << subBits
	e := i>>subBits + subBits
	sub := uint64(i & (1<<subBits - 1))
	lo := uint64(1)<<e | sub<<(e-subBits)
	return lo + uint64(1)<<(e-subBits)/2
}

func (h *hist) add(d time.Duration) {
	v := uint64(max(d, 0))
	i := bucket(v)
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the value below which a fraction q of the samples lie.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(bucketValue(i))
		}
	}
	return 0
}

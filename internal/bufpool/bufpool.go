// Package bufpool holds pools of byte buffers, one pool per size, shared
// by every connection in the process.
package bufpool

import (
	"sync"
	"sync/atomic"
)

var pools sync.Map // frame buffer size -> *sync.Pool

// sizedPool is a buffer pool with its size, for For's cache.
type sizedPool struct {
	size int
	pool *sync.Pool
}

// poolCache holds the first few sizes asked for, set once each and never
// replaced: a process uses a handful (the read buffer and the frame
// buffers of its Options), and a message takes and gives back buffers
// several times, where a sync.Map lookup hashes its key each time.
var poolCache [4]atomic.Pointer[sizedPool]

// For returns the pool of *[]byte buffers of size bytes. It allocates
// nothing once size has been seen.
func For(size int) *sync.Pool {
	for i := range poolCache {
		sp := poolCache[i].Load()
		if sp == nil {
			break
		}
		if sp.size == size {
			return sp.pool
		}
	}
	return forSlow(size)
}

func forSlow(size int) *sync.Pool {
	v, ok := pools.Load(size)
	if !ok {
		v, _ = pools.LoadOrStore(size, &sync.Pool{New: func() any {
			b := make([]byte, size)
			return &b
		}})
	}
	p := v.(*sync.Pool)
	for i := range poolCache {
		sp := poolCache[i].Load()
		if sp == nil {
			if poolCache[i].CompareAndSwap(nil, &sizedPool{size, p}) {
				break
			}
			sp = poolCache[i].Load() // another goroutine filled the slot
		}
		if sp.size == size {
			break
		}
	}
	// With the cache full, later sizes stay with the sync.Map.
	return p
}

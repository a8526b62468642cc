//go:build !linux

package sockio

// The idle poller is Linux's (idle_linux.go): elsewhere a push-mode
// connection keeps its reader goroutine.

// ParkOK reports false: there is no idle poller here.
func (s *Socket) ParkOK() bool { return false }

// Park reports false: the caller goes on reading s.
func (s *Socket) Park(maxReaders int) bool { return false }

// Unpark reports false: nothing is ever parked.
func (s *Socket) Unpark() bool { return false }

// Leave does nothing: no reader is ever woken.
func (s *Socket) Leave() {}

// ReadersWaiting reports false.
func ReadersWaiting() bool { return false }

// IdleStats reports no sockets: there is no idle poller here.
func IdleStats() (parked, running, pending int) { return 0, 0, 0 }

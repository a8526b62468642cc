package pipeline

import "syscall"

// lowatOK reports whether the kernel honours SO_RCVLOWAT in the way
// sockReader relies on: a TCP socket reported readable only once that many
// bytes are queued, or sooner when its receive buffer or window could not
// take them, on memory pressure, at the peer's FIN or on an error, so that
// waiting for bytes the peer must send anyway can never hang. The last
// fixes to that (hangs under memory pressure, 2020, and with large skbs,
// late 2020) are in every release from 5.11 on.
var lowatOK = kernelAtLeast(5, 11)

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return false
	}
	var rel [2]int // major, minor
	i := 0
	for _, c := range u.Release {
		if c >= '0' && c <= '9' {
			rel[i] = rel[i]*10 + int(c-'0')
			continue
		}
		if c != '.' || i == len(rel)-1 {
			break
		}
		i++
	}
	return rel[0] > major || rel[0] == major && rel[1] >= minor
}

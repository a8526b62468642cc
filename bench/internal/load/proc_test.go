package load

import (
	"os"
	"testing"
)

// RSSBytes reads a process's resident size, this one's by pid or as 0:
// more than a megabyte, less than a terabyte.
func TestRSSBytes(t *testing.T) {
	for _, pid := range []int{0, os.Getpid()} {
		rss, err := RSSBytes(pid)
		if err != nil {
			t.Fatal(err)
		}
		if rss < 1<<20 || rss > 1<<40 {
			t.Fatalf("pid %d: RSS %d bytes", pid, rss)
		}
	}
}

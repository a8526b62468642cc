package main

import (
	"os"
	"testing"
)

// readRSS reads this process's resident size: more than its heap's
// smallest possible start, less than a terabyte.
func TestReadRSS(t *testing.T) {
	rss, err := readRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 || rss > 1<<40 {
		t.Fatalf("RSS %d bytes", rss)
	}
	if _, err := readRSS(-1); err == nil {
		t.Fatal("no error for pid -1")
	}
}

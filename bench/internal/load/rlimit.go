package load

import (
	"fmt"
	"io"
	"syscall"
)

// RaiseNoFile makes sure this process may hold need open files: it raises
// the soft RLIMIT_NOFILE towards the hard limit (saying so on w) and fails
// with the reason when the hard limit is lower than need. (The Go runtime
// already raises the soft limit at start-up; this checks and explains.)
func RaiseNoFile(need uint64, w io.Writer) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < need {
		old := lim.Cur
		lim.Cur = min(need, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("setrlimit(RLIMIT_NOFILE, %d): %w", lim.Cur, err)
		}
		fmt.Fprintf(w, "raised RLIMIT_NOFILE from %d to %d\n", old, lim.Cur)
	}
	if lim.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE hard limit is %d, need %d open files: "+
			"use fewer connections or raise the hard limit (ulimit -Hn, as root)", lim.Max, need)
	}
	return nil
}

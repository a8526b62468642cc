//go:build !unix

package handshake

import "errors"

// reexec cannot replace the process on this system.
func reexec(string, []string, []string) error {
	return errors.New("restarting the process is not supported on this system")
}

//go:build unix

package handshake

import "syscall"

// reexec replaces the process with exe run with args and env.
func reexec(exe string, args, env []string) error {
	return syscall.Exec(exe, args, env)
}

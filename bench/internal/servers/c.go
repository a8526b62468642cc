package servers

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// CLibs are the ceiling baselines written in C (sources in
// internal/servers/c, built with gcc at run time by BuildC): raw TCP echo
// servers like "tcp", single-threaded, c-epoll on level-triggered epoll
// and c-uring on io_uring (multishot accept, multishot recv into provided
// buffers, sends and completions batched per io_uring_enter). They run as
// their own processes, never through Start, and print their URL as
// benchserver does.
var CLibs = []string{"c-epoll", "c-uring"}

// CSourceDir is where the C sources are, relative to the bench module.
const CSourceDir = "internal/servers/c"

// ExitSkip is the exit status of a C server that cannot run on this
// system (io_uring unavailable or forbidden); its standard error says why,
// on a line starting with "skip: ".
const ExitSkip = 77

// IsC reports whether lib is one of CLibs.
func IsC(lib string) bool { return slices.Contains(CLibs, lib) }

// ErrNoCompiler means gcc is not installed.
var ErrNoCompiler = errors.New("gcc not found (apt-get install gcc)")

// BuildC compiles lib's C server from modDir/CSourceDir into outDir and
// returns the path of the binary.
func BuildC(ctx context.Context, lib, modDir, outDir string) (string, error) {
	if !IsC(lib) {
		return "", fmt.Errorf("%q is not a C server (want one of %v)", lib, CLibs)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", ErrNoCompiler
	}
	src := filepath.Join(modDir, CSourceDir, strings.TrimPrefix(lib, "c-")+".c")
	out := filepath.Join(outDir, lib)
	cmd := exec.CommandContext(ctx, gcc, "-O2", "-Wall", "-Wextra", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", src, err, b)
	}
	return out, nil
}

// GCCVersion is gcc's first line of --version, or "" without gcc.
func GCCVersion(ctx context.Context) string {
	b, err := exec.CommandContext(ctx, "gcc", "--version").Output()
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first)
}

//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"strings"

	"github.com/wspipe/wspipe/bench/internal/report"
	"github.com/wspipe/wspipe/bench/internal/servers"
)

// nproc counts the CPUs in /proc/cpuinfo (1 if unreadable).
func nproc() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 1
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	return max(n, 1)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func loadAvg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func machine(cfg config, e *env) report.Machine {
	commit := output("git", "rev-parse", "--short", "HEAD")
	if output("git", "status", "--porcelain", "--untracked-files=no") != "" {
		commit += " (working tree with uncommitted changes)"
	}
	return report.Machine{
		NProc:            nproc(),
		CPUModel:         cpuModel(),
		Kernel:           readTrim("/proc/sys/kernel/osrelease"),
		GoVersion:        output("go", "version"),
		Commit:           commit,
		Pinning:          e.pinning(),
		ServerGOMAXPROCS: cfg.serverProcs,
		ClientGOMAXPROCS: cfg.clientProcs,
		LoadAvgStart:     loadAvg(),
	}
}

// versions are the module versions of the libraries compared.
func versions(ctx context.Context) map[string]string {
	mods := map[string]string{
		"gorilla": "github.com/gorilla/websocket",
		"coder":   "github.com/coder/websocket",
		"gobwas":  "github.com/gobwas/ws",
		"gws":     "github.com/lxzan/gws",
		"nbio":    "github.com/lesismal/nbio",
	}
	v := map[string]string{"wspipe": "working tree (replace => ../)", "tcp": "standard library",
		servers.GoEpoll: "internal/servers/goepoll_linux.go, standard library syscall"}
	if gcc := servers.GCCVersion(ctx); gcc != "" {
		for _, l := range servers.CLibs {
			v[l] = servers.CSourceDir + "/" + strings.TrimPrefix(l, "c-") + ".c, " + gcc + " -O2"
		}
	}
	for lib, mod := range mods {
		out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", mod).Output()
		if err != nil {
			v[lib] = "not available"
			continue
		}
		v[lib] = mod + " " + strings.TrimSpace(string(out))
	}
	return v
}

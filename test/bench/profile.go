package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// gowhisk has no pprof endpoint (no net/http/pprof import, no GOWHISK_
// setting for one), so the server's CPU profile is taken from outside with
// Linux perf when -perf DIR is given and perf is installed: perf samples
// the server process (Go symbols resolve from the binary's symbol table)
// while a scenario is measured and writes DIR/<row>.txt, a flat report.
// Without perf the flag only reports that it cannot profile.

// profiler records the server's CPU profile during a measurement.
type profiler struct {
	dir  string
	perf string // path of perf, "" if unavailable
}

func newProfiler(dir string) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := exec.LookPath("perf")
	if err != nil {
		return nil, fmt.Errorf("-perf needs Linux perf on PATH (gowhisk has no pprof endpoint): %w", err)
	}
	return &profiler{dir: dir, perf: p}, nil
}

// start samples pid until the returned function is called; that function
// writes the report and returns its path.
func (p *profiler) start(pid int, id string) func() string {
	if p == nil {
		return func() string { return "" }
	}
	data := filepath.Join(p.dir, id+".perf.data")
	cmd := exec.Command(p.perf, "record", "-F", "1999", "-g", "-p", fmt.Sprint(pid), "-o", data)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return func() string { return "" }
	}
	time.Sleep(100 * time.Millisecond) // perf attaches
	return func() string {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		out := filepath.Join(p.dir, id+".txt")
		f, err := os.Create(out)
		if err != nil {
			return ""
		}
		defer f.Close()
		// By process name (the server and the action processes it
		// started), then the server's own symbols: self, and cumulative.
		for _, args := range [][]string{
			{"report", "-i", data, "--stdio", "--no-children", "--sort", "comm,dso", "-g", "none", "--percent-limit", "1"},
			{"report", "-i", data, "--stdio", "--no-children", "--comms", "gowhisk", "--sort", "symbol", "-g", "none", "--percent-limit", "0.5"},
			{"report", "-i", data, "--stdio", "--children", "--comms", "gowhisk", "--sort", "symbol", "-g", "none", "--percent-limit", "2"},
		} {
			rep := exec.Command(p.perf, args...)
			rep.Stdout, rep.Stderr = f, f
			_ = rep.Run()
		}
		return out
	}
}

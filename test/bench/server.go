package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var wskLine = regexp.MustCompile(`^wsk property set --apihost (http://127\.0\.0\.1:[0-9]+) --auth (\S+)$`)

// gowhisk is a running `gowhisk standalone`.
type gowhisk struct {
	cmd     *exec.Cmd
	apihost string
	auth    string
	errPath string
	done    chan error
}

// goBuild builds package pkg (relative to the module root) into out.
func goBuild(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the gowhisk repository")
		}
		dir = parent
	}
}

// startGowhisk starts `bin standalone` with the process sandbox on a free
// loopback port and a fresh data directory under work, with throttles
// high enough that the benchmark measures the path, not the limits. extra
// adds flags (e.g. --user-memory; the default pool is 2048 MB).
func startGowhisk(ctx context.Context, bin, work, name string, extra ...string) (*gowhisk, error) {
	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"standalone", "--sandbox", "process", "--port", "0",
		"--data-dir", filepath.Join(dir, "data"),
		"--sandbox-dir", filepath.Join(dir, "sandbox"),
		"--cgroup-parent", "gowhisk-bench-" + name,
		"--invocations-per-minute", "100000000", "--concurrent-invocations", "100000",
		"--fires-per-minute", "100000000",
		"--log-level", "warn", "--shutdown-timeout", "10s"}, extra...)
	cmd := exec.Command(bin, args...)
	errPath := filepath.Join(dir, "server.log")
	errf, err := os.Create(errPath)
	if err != nil {
		return nil, err
	}
	defer errf.Close()
	cmd.Stderr = errf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	g := &gowhisk{cmd: cmd, errPath: errPath, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { g.done <- cmd.Wait() }()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for g.apihost == "" {
		select {
		case l := <-lines:
			if m := wskLine.FindStringSubmatch(l); m != nil {
				g.apihost, g.auth = m[1], m[2]
			}
		case err := <-g.done:
			return nil, fmt.Errorf("gowhisk standalone exited early (%v): %s", err, tail(errPath))
		case <-timeout.C:
			g.kill()
			return nil, fmt.Errorf("gowhisk standalone printed no wsk line within 60s: %s", tail(errPath))
		case <-ctx.Done():
			g.kill()
			return nil, ctx.Err()
		}
	}
	c := newClient(g.apihost, "", 1)
	defer c.close()
	for i := 0; ; i++ {
		code, _, err := c.do(ctx, "GET", "/ping", nil)
		if err == nil && code == 200 {
			return g, nil
		}
		if i > 600 {
			g.kill()
			return nil, fmt.Errorf("gowhisk standalone does not answer /ping: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (g *gowhisk) pid() int { return g.cmd.Process.Pid }

// stop sends SIGTERM and waits for the server (bounded; then SIGKILL).
func (g *gowhisk) stop() error {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		return err
	case <-time.After(30 * time.Second):
		g.kill()
		return errors.New("gowhisk standalone did not stop within 30s of SIGTERM; killed")
	}
}

func (g *gowhisk) kill() {
	_ = g.cmd.Process.Kill()
	<-g.done
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// procCPU is the CPU time (user + system) process pid has used, from
// /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f, err := statFields(string(b))
	if err != nil {
		return 0, err
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statFields splits /proc/<pid>/stat after the command name (which may
// hold spaces): field 0 is the state (stat's third field), 1 the ppid, 11
// utime, 12 stime.
func statFields(s string) ([]string, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return nil, errors.New("short /proc stat")
	}
	return f, nil
}

// descendantsCPU is the summed CPU time of every live descendant of pid
// (the action processes of the process sandbox), keyed by pid so that a
// difference can be taken over the processes alive at both readings.
func descendantsCPU(pid int) map[int]time.Duration {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f, err := statFields(string(b))
		if err != nil {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[p] = pp
		}
	}
	out := map[int]time.Duration{}
	for p := range parent {
		for q, n := parent[p], 0; q > 1 && n < 64; q, n = parent[q], n+1 {
			if q == pid {
				if c, err := procCPU(p); err == nil {
					out[p] = c
				}
				break
			}
		}
	}
	return out
}

// cpuMeter measures the CPU that servers (pids) and their descendants
// use between start and stop, in cores (CPU seconds per wall second).
type cpuMeter struct {
	pids       []int
	t0         time.Time
	server0    time.Duration
	children0  map[int]time.Duration
	self0      time.Duration
	Server     float64 `json:"server_cores"`
	Actions    float64 `json:"actions_cores"`
	LoadClient float64 `json:"client_cores"`
}

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, t0: time.Now(), children0: map[int]time.Duration{}}
	for _, p := range pids {
		c, _ := procCPU(p)
		m.server0 += c
		for q, d := range descendantsCPU(p) {
			m.children0[q] = d
		}
	}
	m.self0, _ = procCPU(os.Getpid())
	return m
}

func (m *cpuMeter) stop() *cpuMeter {
	wall := time.Since(m.t0).Seconds()
	if wall <= 0 {
		return nil
	}
	var srv, act time.Duration
	for _, p := range m.pids {
		c, err := procCPU(p)
		if err != nil {
			return nil
		}
		srv += c
		for q, d := range descendantsCPU(p) {
			act += d - m.children0[q] // a process born during the run counts from 0
		}
	}
	m.Server = (srv - m.server0).Seconds() / wall
	m.Actions = act.Seconds() / wall
	if self, err := procCPU(os.Getpid()); err == nil {
		m.LoadClient = (self - m.self0).Seconds() / wall
	}
	return m
}

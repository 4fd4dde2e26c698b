package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

var specSeq atomic.Int64

// workRoot is a temporary directory the run-as user can traverse.
func workRoot(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// testLogger writes the factory's logs to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newFactory creates a factory for a test with a unique invoker name and
// cleans up after it.
func newFactory(t testing.TB, mod func(*Config)) *Factory {
	t.Helper()
	cfg := Config{
		WorkRoot:     workRoot(t),
		Name:         "test" + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(specSeq.Add(1), 10),
		CgroupParent: "gowhisk-test",
		Logger:       testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	f, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := f.Cleanup(ctx); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, d := range f.parentDirs() {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup directory %s left after Cleanup (%v)", d, err)
			}
		}
	})
	return f
}

// parentDirs lists the invoker's cgroup directories <mount>/<CgroupParent>/
// <Name>.
func (f *Factory) parentDirs() []string {
	if f.cg == nil {
		return nil
	}
	var out []string
	for _, d := range f.cg.parents {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// create creates a container of kind and fails the test on error.
func create(t testing.TB, f *Factory, kind string, memMB int) *Container {
	t.Helper()
	spec := container.Spec{
		Name:     "c" + strconv.FormatInt(specSeq.Add(1), 10),
		Kind:     kind,
		MemoryMB: memMB,
		Env:      map[string]string{"__OW_API_HOST": "http://127.0.0.1:1"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := f.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create %s: %v", kind, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = c.Destroy(ctx)
	})
	return c.(*Container)
}

// initCode initializes c with source code and fails the test on error.
func initCode(t testing.TB, c *Container, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Init(ctx, container.InitRequest{Name: "act", Main: "main", Code: code,
		Env: map[string]string{"__OW_NAMESPACE": "guest", "INIT_PARAM": "p"}})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	if res.Status != 200 {
		t.Fatalf("Init: status %d %s", res.Status, res.Body)
	}
}

// run runs one activation with value args and a timeout.
func run(c *Container, args string, timeout time.Duration) (container.RunResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Run(ctx, container.RunRequest{
		Value: json.RawMessage(args), Namespace: "guest", ActionName: "/guest/act",
		ActivationID: "0123456789abcdef0123456789abcdef", Deadline: "1700000060000",
	})
}

// decode parses a result body into a map.
func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("result %q: %v", b, err)
	}
	return m
}

// logs collects the logs of the last activation (waiting for the
// sentinels) as "stream: text" strings.
func logs(t testing.TB, c *Container, limit int64) ([]string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lines, truncated, err := c.Logs(ctx, limit, true)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Stream + ": " + l.Text
	}
	return out, truncated
}

// alive reports whether any process is a member of process group pgid or
// is one of pids.
func alive(pgid int, pids []int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		g, _ := strconv.Atoi(f[2])
		if (g == pgid || want[pid]) && f[0] != "Z" && f[0] != "X" {
			// (a zombie not yet reaped by init is not running)
			out = append(out, pid)
		}
	}
	return out
}

// describeProcs describes processes for a failure message: /proc/<pid>/stat
// up to the process group, and the cgroups.
func describeProcs(pids []int) string {
	var out []string
	for _, p := range pids {
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		cg, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cgroup")
		f := strings.Fields(string(stat))
		out = append(out, strings.Join(f[:min(len(f), 5)], " ")+" cgroups "+strings.Join(strings.Fields(string(cg)), ","))
	}
	return strings.Join(out, "; ")
}

// procState returns the state letter of a process ("R", "S", "T", ...).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	return f[0]
}

// requireCgroup skips the test unless the factory enforces ctrl.
func requireCgroup(t testing.TB, f *Factory, ctrl string) {
	t.Helper()
	if !f.cg.has(ctrl) {
		t.Skipf("cgroup %s controller not writable here (cgroups: %s): not enforced", ctrl, f.cg.describe())
	}
}

// startSleepersIn starts, in cgroup c (v2, entered at clone), a shell in
// its own process group running two sleeps, and waits until the three
// are in the cgroup; waited is closed when the shell has been reaped.
func startSleepersIn(ctx context.Context, t *testing.T, c *cgroup) (cmd *exec.Cmd, waited <-chan struct{}) {
	t.Helper()
	fd, err := c.openFD()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("/bin/sh", "-c", "sleep 3600 & sleep 3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	if err := cmd.Start(); err != nil {
		fd.Close()
		t.Fatal(err)
	}
	fd.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	if err := pollUntil(ctx, func() (bool, error) { return len(c.procs()) >= 3, nil }); err != nil {
		t.Fatalf("processes in the cgroup: %v", c.procs())
	}
	return cmd, done
}

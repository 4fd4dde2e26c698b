package process

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

func TestLogBuffer(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1700000000, int64(s)) }
	type add struct {
		stream int
		t      int
		text   string
	}
	S := container.Sentinel
	for _, tc := range []struct {
		name      string
		max       int64
		adds      []add
		eof       [2]bool
		limit     int64
		wait      bool
		want      []string // "stream:text" per collect, joined by "|"
		truncated bool
		again     []string // a second collect
		// incomplete: collect reports container.ErrLogsIncomplete (a
		// stream ended without its sentinel)
		incomplete bool
	}{
		{name: "merged by time up to each sentinel",
			max: 1 << 20, limit: -1, wait: true,
			adds: []add{{0, 1, "a"}, {1, 2, "b"}, {0, 3, "c"}, {0, 4, S}, {1, 5, S}, {0, 6, "next"}},
			want: []string{"stdout:a", "stderr:b", "stdout:c"}, again: []string{"stdout:next"}},
		{name: "limit cuts at whole lines",
			max: 1 << 20, limit: 4, wait: true,
			adds: []add{{0, 1, "aa"}, {0, 2, "bb"}, {0, 3, "cc"}, {0, 4, S}, {1, 5, S}},
			want: []string{"stdout:aa", "stdout:bb"}, truncated: true},
		{name: "buffer cap drops lines but keeps sentinels",
			max: 5, limit: -1, wait: true,
			adds: []add{{0, 1, "aaa"}, {0, 2, "bbb"}, {0, 3, "cc"}, {0, 4, S}, {1, 5, S}},
			want: []string{"stdout:aaa", "stdout:cc"}, truncated: true},
		{name: "ended streams need no sentinel",
			max: 1 << 20, limit: -1, wait: true, eof: [2]bool{true, true},
			adds: []add{{0, 1, "a"}, {1, 2, "b"}},
			want: []string{"stdout:a", "stderr:b"}, incomplete: true},
		{name: "one sentinel, the other stream ended",
			max: 1 << 20, limit: -1, wait: true, eof: [2]bool{false, true},
			adds: []add{{0, 1, "a"}, {1, 2, "trace"}, {0, 3, S}, {0, 4, "next"}},
			want: []string{"stdout:a", "stderr:trace"}, again: []string{"stdout:next"}, incomplete: true},
		{name: "both sentinels, then the streams ended",
			max: 1 << 20, limit: -1, wait: true, eof: [2]bool{true, true},
			adds: []add{{1, 1, "trace"}, {0, 2, S}, {1, 3, S}},
			want: []string{"stderr:trace"}},
		{name: "no wait returns what is there",
			max: 1 << 20, limit: -1,
			adds: []add{{0, 1, "a"}},
			want: []string{"stdout:a"}},
		{name: "zero limit truncates everything",
			max: 1 << 20, limit: 0,
			adds: []add{{1, 1, "a"}},
			want: nil, truncated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newLogBuffer(tc.max, time.Now)
			for _, a := range tc.adds {
				b.add(a.stream, at(a.t), a.text, false)
			}
			for s, e := range tc.eof {
				if e {
					b.closeStream(s)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			lines, truncated, err := b.collect(ctx, tc.limit, tc.wait, nil)
			if errors.Is(err, container.ErrLogsIncomplete) != tc.incomplete || (err != nil && !tc.incomplete) {
				t.Fatalf("collect error %v, want incomplete %v", err, tc.incomplete)
			}
			if got := fmtLines(lines); got != strings.Join(tc.want, "|") || truncated != tc.truncated {
				t.Fatalf("collect = %q, %v; want %q, %v", got, truncated, strings.Join(tc.want, "|"), tc.truncated)
			}
			lines, truncated, _ = b.collect(ctx, -1, false, nil)
			if got := fmtLines(lines); got != strings.Join(tc.again, "|") || truncated {
				t.Fatalf("second collect = %q, %v; want %q", got, truncated, strings.Join(tc.again, "|"))
			}
		})
	}
}

func fmtLines(lines []container.LogLine) string {
	var s []string
	for _, l := range lines {
		s = append(s, l.Stream+":"+l.Text)
	}
	return strings.Join(s, "|")
}

func TestLogBufferWaits(t *testing.T) {
	b := newLogBuffer(1<<20, time.Now)
	got := make(chan string, 1)
	go func() {
		lines, _, err := b.collect(context.Background(), -1, true, nil)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- fmtLines(lines)
	}()
	b.add(stdout, time.Now(), "one", false)
	b.add(stdout, time.Now(), container.Sentinel, false)
	select {
	case s := <-got:
		t.Fatalf("collect returned %q before the stderr sentinel", s)
	case <-time.After(50 * time.Millisecond):
	}
	b.add(stderr, time.Now(), container.Sentinel, false)
	if s := <-got; s != "stdout:one" {
		t.Fatalf("collect = %q", s)
	}
	// The exit of the process ends the wait after the drain (a grandchild
	// may hold the pipes): the sentinels are missing.
	exited := make(chan struct{})
	close(exited)
	b.add(stdout, time.Now(), "partial", false)
	lines, _, err := b.collect(context.Background(), -1, true, exited)
	if !errors.Is(err, container.ErrLogsIncomplete) || fmtLines(lines) != "stdout:partial" {
		t.Fatalf("collect after exit = %v, %v", lines, err)
	}
	// A wait cut short by the context says so too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.add(stderr, time.Now(), "more", false)
	lines, _, err = b.collect(ctx, -1, true, nil)
	if !errors.Is(err, container.ErrLogsIncomplete) || !errors.Is(err, context.Canceled) || fmtLines(lines) != "stderr:more" {
		t.Fatalf("collect with a cancelled context = %v, %v", lines, err)
	}
}

func TestLogPump(t *testing.T) {
	b := newLogBuffer(1<<20, time.Now)
	b.maxLine = len(container.Sentinel) + 3
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() { b.pump(stdout, r); close(done) }()
	long := strings.Repeat("0123456789", 10)
	io.WriteString(w, "short\n"+long+"\n"+container.Sentinel+"\nno newline at end")
	w.Close()
	<-done
	b.closeStream(stderr)
	lines, truncated, err := b.collect(context.Background(), -1, true, nil)
	if !errors.Is(err, container.ErrLogsIncomplete) || fmtLines(lines) != "stdout:short|stdout:"+long[:b.maxLine] || !truncated {
		t.Fatalf("collect = %q, %v, %v (stderr ended without its sentinel)", fmtLines(lines), truncated, err)
	}
	lines, _, err = b.collect(context.Background(), -1, true, nil)
	if !errors.Is(err, container.ErrLogsIncomplete) || fmtLines(lines) != "stdout:no newline at end" {
		t.Fatalf("second collect = %q, %v", fmtLines(lines), err)
	}
}

func TestSharesToWeight(t *testing.T) {
	for _, tc := range []struct{ shares, weight int }{
		{2, 1}, {1024, 39}, {262144, 10000}, {0, 1}, {1 << 30, 10000},
	} {
		if got := sharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"wsk0_12_nodejs", true}, {"a-b.c", true}, {"", false}, {".hidden", false}, {"..", false},
		{"a/b", false}, {"a b", false}, {strings.Repeat("a", 201), false}, {"é", false},
	} {
		if got := validName(tc.name); got != tc.ok {
			t.Errorf("validName(%q) = %v", tc.name, got)
		}
	}
}

func TestSandboxEnv(t *testing.T) {
	env, err := sandboxEnv(map[string]string{"__OW_API_HOST": "h", "PATH": "/opt/bin", "Z": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(env, " "); got != "LANG=C.UTF-8 PATH=/opt/bin Z=1 __OW_API_HOST=h" {
		t.Fatalf("env %q", got)
	}
	for _, bad := range []map[string]string{{"": "x"}, {"A=B": "x"}, {"A": "x\x00y"}} {
		if _, err := sandboxEnv(bad); err == nil {
			t.Errorf("sandboxEnv(%q) accepted", bad)
		}
	}
}

// TestCgroupV2FreezeAndKill exercises the cgroup v2 code paths (clone into
// the cgroup, freeze, thaw, kill, remove) on a cgroup2 mount even when its
// memory and pids controllers are not available (a hybrid host).
func TestCgroupV2FreezeAndKill(t *testing.T) {
	mount := ""
	for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if exists(filepath.Join(m, "cgroup.controllers")) {
			mount = m
			break
		}
	}
	if mount == "" {
		t.Skip("no cgroup2 mount")
	}
	rel := filepath.Join("gowhisk-test", "v2_"+strconv.Itoa(os.Getpid()))
	g, err := setupV2(mount, rel, nil)
	if err != nil {
		t.Skipf("cgroup v2 not writable here: %v", err)
	}
	defer os.Remove(filepath.Dir(g.v2dir)) // runs last
	defer os.Remove(g.v2dir)
	if !g.freeze {
		t.Skip("no cgroup.freeze")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := g.create(ctx, "c1", limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.remove(ctx)
	cmd, waited := startSleepersIn(ctx, t, c)
	if err := c.setFrozen(ctx, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(c.v2, "cgroup.events"))
	if !strings.Contains(string(b), "frozen 1") {
		t.Fatalf("cgroup.events after freeze: %q", b)
	}
	// Killing a frozen cgroup works (cgroup.kill, or thaw then kill).
	pids := c.procs()
	if err := c.killAll(ctx); err != nil {
		t.Fatal(err)
	}
	<-waited
	if left := alive(cmd.Process.Pid, pids); len(left) > 0 {
		t.Fatalf("processes left: %v", left)
	}
	if err := c.remove(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(c.v2) {
		t.Fatalf("%s left", c.v2)
	}
}

// TestLauncherInCgroupInvokerNot checks that the launcher is a member of
// every controller's cgroup and that the invoker's forker thread went back
// to its own.
func TestLauncherInCgroupInvokerNot(t *testing.T) {
	f := newFactory(t, nil)
	if f.cg == nil {
		t.Skip("no writable cgroup here")
	}
	c := create(t, f, "nodejs:20", 128)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.pgid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for ctrl := range f.cg.parents {
		if !f.cg.has(ctrl) {
			continue
		}
		rel := strings.TrimPrefix(c.cg.dirs[ctrl], f.cg.mounts[ctrl])
		if f.cg.v2 {
			rel = strings.TrimPrefix(c.cg.v2, f.cg.v2mount)
		}
		if !strings.Contains(string(b), rel+"\n") {
			t.Errorf("launcher not in %s cgroup %s:\n%s", ctrl, rel, b)
		}
	}
	self := strconv.Itoa(os.Getpid())
	for _, d := range c.cg.allDirs() {
		for _, file := range []string{"cgroup.procs", "tasks"} {
			b, err := os.ReadFile(filepath.Join(d, file))
			if err != nil {
				continue
			}
			tasks := strings.Fields(string(b))
			for _, p := range tasks {
				if p == self {
					t.Errorf("the invoker is in %s/%s", d, file)
				}
				if _, err := os.Stat("/proc/self/task/" + p); err == nil {
					t.Errorf("an invoker thread (%s) is in %s/%s", p, d, file)
				}
			}
		}
	}
}

// BenchmarkPauseResume measures a Pause followed by a Resume of an idle
// nodejs container (the freezer when available, else SIGSTOP/SIGCONT).
func BenchmarkPauseResume(b *testing.B) {
	for _, mode := range []string{"cgroups", "signals"} {
		b.Run(mode, func(b *testing.B) {
			f := newFactory(b, func(c *Config) { c.NoCgroups = mode == "signals" })
			if mode == "cgroups" && !f.cg.has(ctrlFreezer) {
				b.Skip("no cgroup freezer here")
			}
			c := create(b, f, "nodejs:20", 128)
			ctx := context.Background()
			var pause, resume time.Duration
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if err := c.Pause(ctx); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := c.Resume(ctx); err != nil {
					b.Fatal(err)
				}
				pause += t1.Sub(t0)
				resume += time.Since(t1)
			}
			b.ReportMetric(float64(pause.Microseconds())/float64(b.N), "pause-µs/op")
			b.ReportMetric(float64(resume.Microseconds())/float64(b.N), "resume-µs/op")
		})
	}
}

// BenchmarkCreate measures a cold Create (cgroup, working directory,
// launcher start up to its ready ack) plus Destroy, per kind.
func BenchmarkCreate(b *testing.B) {
	f := newFactory(b, nil)
	for _, kind := range []string{"nodejs:20", "python:3.11"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			var create, destroy time.Duration
			for b.Loop() {
				t0 := time.Now()
				c, err := f.Create(ctx, container.Spec{Name: "b" + strconv.FormatInt(specSeq.Add(1), 10), Kind: kind, MemoryMB: 256})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := c.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
				create += t1.Sub(t0)
				destroy += time.Since(t1)
			}
			b.ReportMetric(float64(create.Microseconds())/float64(b.N)/1000, "create-ms/op")
			b.ReportMetric(float64(destroy.Microseconds())/float64(b.N)/1000, "destroy-ms/op")
		})
	}
}

// BenchmarkWarmRun measures a warm activation (one line in, one line out,
// logs collected up to the sentinels).
func BenchmarkWarmRun(b *testing.B) {
	f := newFactory(b, nil)
	for _, kind := range []string{"nodejs:20", "python:3.11"} {
		b.Run(kind, func(b *testing.B) {
			c := create(b, f, kind, 256)
			code := `function main(a) { return {x: a.x}; }`
			if kind != "nodejs:20" {
				code = "def main(a):\n    return {'x': a.get('x')}\n"
			}
			initCode(b, c, code)
			for b.Loop() {
				if _, err := run(c, `{"x":1}`, 10*time.Second); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Logs(context.Background(), 1<<20, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A process counts as finished once gone, a zombie, or its pid taken by
// another process; killAll waits for that, not just for an empty cgroup.
func TestProcFinished(t *testing.T) {
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id := identify(cmd.Process.Pid)
	if id.start == 0 || id.finished() {
		t.Fatalf("running process %+v: finished", id)
	}
	if (procID{id.pid, id.start + 1}).finished() != true {
		t.Fatal("another start time: not finished")
	}
	done, stop := context.WithCancel(context.Background())
	stop() // one look
	if left, err := waitFinished(done, []procID{id}); !errors.Is(err, context.Canceled) || len(left) != 1 || left[0] != id.pid {
		t.Fatalf("waitFinished of a running process: %v, %v", left, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = cmd.Process.Kill()
	// Not reaped yet: a zombie.
	if left, err := waitFinished(ctx, []procID{id}); err != nil {
		t.Fatalf("waitFinished after the kill: %v %v", left, err)
	}
	_ = cmd.Wait()
	if !id.finished() {
		t.Fatal("reaped process: not finished")
	}
}

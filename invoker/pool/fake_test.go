package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// fakeFactory is a scripted container.Factory: hooks decide what Create,
// Init, Run, Pause and Logs do; every container records its calls.
type fakeFactory struct {
	mu         sync.Mutex
	containers []*fakeContainer
	createErr  error
	quiet      bool // record no events (benchmarks)
	// hooks (nil: defaults)
	init   func(c *fakeContainer, req container.InitRequest) (container.RunResult, error)
	run    func(ctx context.Context, c *fakeContainer, req container.RunRequest) (container.RunResult, error)
	pause  func(c *fakeContainer) error
	resume func(c *fakeContainer) error
	// logErr makes Logs fail; logsTruncated marks its lines truncated.
	logErr        error
	logsTruncated bool
	logs          func(c *fakeContainer) []container.LogLine
	// readLogs, when set, replaces logs, logErr and logsTruncated: a
	// scripted runtime's output as Logs would return it.
	readLogs func(ctx context.Context, c *fakeContainer, wait bool) ([]container.LogLine, error)
	// onCreate is called after each successful Create.
	onCreate func(c *fakeContainer)
}

func (f *fakeFactory) Create(ctx context.Context, spec container.Spec) (container.Container, error) {
	f.mu.Lock()
	if f.createErr != nil {
		err := f.createErr
		f.mu.Unlock()
		return nil, err
	}
	c := &fakeContainer{f: f, id: fmt.Sprintf("c%d", len(f.containers)+1), spec: spec}
	f.containers = append(f.containers, c)
	hook := f.onCreate
	f.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	return c, nil
}

func (f *fakeFactory) Cleanup(context.Context) error { return nil }

func (f *fakeFactory) created() []*fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.containers)
}

func (f *fakeFactory) byID(id string) *fakeContainer {
	for _, c := range f.created() {
		if c.id == id {
			return c
		}
	}
	return nil
}

type fakeContainer struct {
	f    *fakeFactory
	id   string
	spec container.Spec

	mu         sync.Mutex
	events     []string // "init", "run", "pause", "resume", "destroy", "logs"
	violations []string // calls that must not happen
	paused     bool
	destroyed  bool
	inited     bool
	running    int
	maxRunning int
	waitFlags  []bool // waitSentinels of each Logs call
}

func (c *fakeContainer) record(ev string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.f.quiet {
		c.events = append(c.events, ev)
	}
	if c.destroyed && ev != "destroy" {
		c.violations = append(c.violations, ev+" after destroy")
	}
	if c.paused && (ev == "init" || ev == "run" || ev == "logs") {
		c.violations = append(c.violations, ev+" while paused")
	}
}

func (c *fakeContainer) ID() string { return c.id }

func (c *fakeContainer) Init(ctx context.Context, req container.InitRequest) (container.RunResult, error) {
	c.record("init")
	c.mu.Lock()
	if c.inited {
		c.violations = append(c.violations, "second init")
	}
	c.inited = true
	c.mu.Unlock()
	if c.f.init != nil {
		return c.f.init(c, req)
	}
	return container.RunResult{Status: 200, Body: []byte(`{"OK":true}`)}, nil
}

func (c *fakeContainer) Run(ctx context.Context, req container.RunRequest) (container.RunResult, error) {
	c.record("run")
	c.mu.Lock()
	if !c.inited {
		c.violations = append(c.violations, "run before init")
	}
	c.running++
	c.maxRunning = max(c.maxRunning, c.running)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
	}()
	if c.f.run != nil {
		return c.f.run(ctx, c, req)
	}
	return container.RunResult{Status: 200, Body: []byte(`{"container":"` + c.id + `"}`)}, nil
}

func (c *fakeContainer) Pause(ctx context.Context) error {
	c.record("pause")
	if c.f.pause != nil {
		if err := c.f.pause(c); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running > 0 {
		c.violations = append(c.violations, "pause while running")
	}
	c.paused = true
	return nil
}

func (c *fakeContainer) Resume(ctx context.Context) error {
	c.record("resume")
	if c.f.resume != nil {
		if err := c.f.resume(c); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
	return nil
}

func (c *fakeContainer) Logs(ctx context.Context, limit int64, waitSentinels bool) ([]container.LogLine, bool, error) {
	c.record("logs")
	c.mu.Lock()
	if !c.f.quiet {
		c.waitFlags = append(c.waitFlags, waitSentinels)
	}
	c.mu.Unlock()
	if c.f.readLogs != nil {
		lines, err := c.f.readLogs(ctx, c, waitSentinels)
		return lines, false, err
	}
	var lines []container.LogLine
	if c.f.logs != nil {
		lines = c.f.logs(c)
	}
	return lines, c.f.logsTruncated, c.f.logErr
}

func (c *fakeContainer) Destroy(ctx context.Context) error {
	c.record("destroy")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.destroyed = true
	return nil
}

func (c *fakeContainer) snapshot() (events []string, violations []string, destroyed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events), slices.Clone(c.violations), c.destroyed
}

func (c *fakeContainer) isDestroyed() bool {
	_, _, d := c.snapshot()
	return d
}

func (c *fakeContainer) isPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// count returns how many times ev was recorded.
func (c *fakeContainer) count(ev string) int {
	evs, _, _ := c.snapshot()
	n := 0
	for _, e := range evs {
		if e == ev {
			n++
		}
	}
	return n
}

// fakeClock is a manual clock: Advance fires the due timers synchronously.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	f      func()
	at     time.Time
	active bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.at, t.active = t.c.now.Add(d), true
}

func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.active = false
}

// Advance moves the clock and runs the timers that became due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// waitFor polls cond until it holds; it fails the test after a generous
// bound (a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func checkNoViolations(t *testing.T, f *fakeFactory) {
	t.Helper()
	for _, c := range f.created() {
		if _, v, _ := c.snapshot(); len(v) > 0 {
			t.Errorf("container %s: %v", c.id, v)
		}
	}
}

// testJob is a nodejs:20 job of 256 MB for ns/action at revision rev.
func testJob(ns, action, rev string) Job {
	return Job{
		Key:     Key{Namespace: ns, Action: ns + "/" + action, Revision: rev},
		Spec:    container.Spec{Name: action, Kind: "nodejs:20", MemoryMB: 256},
		Init:    container.InitRequest{Name: action, Main: "main", Code: "function main(){}"},
		Run:     container.RunRequest{Value: json.RawMessage(`{}`)},
		Timeout: 5 * time.Second, LogLimit: 10 << 20,
	}
}

// errorLogger is a slog handler failing the test on any Error record (the
// pool logs an event its state table rejects as an error).
type errorLogger struct{ t testing.TB }

func (h errorLogger) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h errorLogger) Handle(_ context.Context, r slog.Record) error {
	var attrs []string
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
	h.t.Errorf("pool logged an error: %s %v", r.Message, attrs)
	return nil
}
func (h errorLogger) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h errorLogger) WithGroup(string) slog.Handler      { return h }

func failOnErrors(t testing.TB) *slog.Logger { return slog.New(errorLogger{t}) }

package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

func newTestPool(t testing.TB, cfg Config, f *fakeFactory) (*Pool, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	cfg.Now = clk.Now
	if cfg.Logger == nil {
		cfg.Logger = failOnErrors(t)
	}
	p, err := newPool(context.Background(), cfg.withDefaults(), f, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p, clk
}

func (p *Pool) used() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.usedMB
}

func (p *Pool) prewarmed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prewarm.len()
}

func (p *Pool) entries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

func (p *Pool) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buffer.Len()
}

func (p *Pool) stateOf(id string) (state, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for e := range p.all {
		if e.c != nil && e.c.ID() == id {
			return e.state, true
		}
	}
	return 0, false
}

func mustSucceed(t *testing.T, out Outcome) {
	t.Helper()
	if out.Response.StatusCode != entity.StatusSuccess {
		t.Fatalf("status %d: %s", out.Response.StatusCode, out.Response.Result)
	}
}

func TestColdThenWarmReuse(t *testing.T) {
	f := &fakeFactory{}
	p, clk := newTestPool(t, Config{PauseGrace: -1}, f)
	f.init = func(*fakeContainer, container.InitRequest) (container.RunResult, error) {
		clk.Advance(7 * time.Millisecond)
		return container.RunResult{Status: 200}, nil
	}
	job := testJob("guest", "hello", "1-a")
	first := p.Run(context.Background(), job)
	mustSucceed(t, first)
	if !first.Cold || first.InitTime != 7*time.Millisecond {
		t.Fatalf("first run: cold %v initTime %v, want cold with 7ms", first.Cold, first.InitTime)
	}
	second := p.Run(context.Background(), job)
	mustSucceed(t, second)
	if second.Cold || second.InitTime != 0 || second.ContainerID != first.ContainerID {
		t.Fatalf("second run: cold %v initTime %v container %s (first %s)", second.Cold, second.InitTime, second.ContainerID, first.ContainerID)
	}
	if string(second.Response.Result) != `{"container":"`+first.ContainerID+`"}` {
		t.Fatalf("result %s", second.Response.Result)
	}
	cs := f.created()
	if len(cs) != 1 || cs[0].count("init") != 1 || cs[0].count("run") != 2 {
		t.Fatalf("containers %d, inits/runs %d/%d", len(cs), cs[0].count("init"), cs[0].count("run"))
	}
	if !strings.HasPrefix(cs[0].spec.Name, "wsk_1_hello") {
		t.Fatalf("container name %q", cs[0].spec.Name)
	}
	if first.Logs == nil || second.Logs == nil {
		t.Fatal("nil logs")
	}
	checkNoViolations(t, f)
}

func TestReuseKeyedExactly(t *testing.T) {
	base := testJob("guest", "hello", "1-a")
	tests := []struct {
		name string
		next Job
		same bool
	}{
		{"same key", base, true},
		{"new revision", testJob("guest", "hello", "2-b"), false},
		{"other invocation namespace", func() Job { j := base; j.Key.Namespace = "other"; return j }(), false},
		{"other action", testJob("guest", "bye", "1-a"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFactory{}
			p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
			a := p.Run(context.Background(), base)
			b := p.Run(context.Background(), tc.next)
			mustSucceed(t, a)
			mustSucceed(t, b)
			if (a.ContainerID == b.ContainerID) != tc.same || b.Cold == tc.same {
				t.Fatalf("containers %s %s (cold %v), want same=%v", a.ContainerID, b.ContainerID, b.Cold, tc.same)
			}
		})
	}
}

func TestStemCellTakenAndReplaced(t *testing.T) {
	f := &fakeFactory{}
	p, _ := newTestPool(t, Config{PauseGrace: -1, Name: "wsk0",
		StemCells: []StemCell{{Kind: "nodejs:20", Image: "img", MemoryMB: 256, Count: 1}}}, f)
	waitFor(t, "the stem cell", func() bool { return p.prewarmed() == 1 && len(f.created()) == 1 })
	stem := f.created()[0]
	if stem.spec.Kind != "nodejs:20" || stem.spec.MemoryMB != 256 || !strings.Contains(stem.spec.Name, "prewarm_nodejs20") {
		t.Fatalf("stem spec %+v", stem.spec)
	}

	// Other memory and blackbox never take it.
	other := testJob("guest", "big", "1")
	other.Spec.MemoryMB = 512
	bb := testJob("guest", "bb", "1")
	bb.Spec.Kind = "blackbox"
	for _, j := range []Job{other, bb} {
		out := p.Run(context.Background(), j)
		mustSucceed(t, out)
		if out.ContainerID == stem.id {
			t.Fatalf("%s took the stem cell", j.Key.Action)
		}
	}

	out := p.Run(context.Background(), testJob("guest", "hello", "1"))
	mustSucceed(t, out)
	if out.ContainerID != stem.id || !out.Cold {
		t.Fatalf("ran on %s (cold %v), want the stem cell %s", out.ContainerID, out.Cold, stem.id)
	}
	waitFor(t, "the replacement stem cell", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		r := p.prewarm.front()
		return r != nil && r.c != nil && r.c.ID() != stem.id
	})
	// The claimed stem cell is now a warm container of its action.
	again := p.Run(context.Background(), testJob("guest", "hello", "1"))
	if again.ContainerID != stem.id || again.Cold {
		t.Fatalf("warm run on %s (cold %v)", again.ContainerID, again.Cold)
	}
	checkNoViolations(t, f)
}

func TestEvictLeastRecentlyUsedIdle(t *testing.T) {
	f := &fakeFactory{}
	p, clk := newTestPool(t, Config{UserMemoryMB: 512, PauseGrace: -1}, f)
	a := p.Run(context.Background(), testJob("guest", "a", "1"))
	clk.Advance(time.Millisecond)
	b := p.Run(context.Background(), testJob("guest", "b", "1"))
	clk.Advance(time.Millisecond)
	a2 := p.Run(context.Background(), testJob("guest", "a", "1")) // a is now the most recently used
	if a2.ContainerID != a.ContainerID {
		t.Fatal("a not reused")
	}
	c := p.Run(context.Background(), testJob("guest", "c", "1"))
	mustSucceed(t, c)
	waitFor(t, "b destroyed", func() bool { return f.byID(b.ContainerID).isDestroyed() })
	if f.byID(a.ContainerID).isDestroyed() {
		t.Fatal("a (recently used) was evicted")
	}
	if p.used() != 512 {
		t.Fatalf("used %d MB", p.used())
	}
	checkNoViolations(t, f)
}

func TestRunBufferFIFO(t *testing.T) {
	f := &fakeFactory{}
	release := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{}), "c": make(chan struct{})}
	var mu sync.Mutex
	var order []string
	f.run = func(ctx context.Context, c *fakeContainer, req container.RunRequest) (container.RunResult, error) {
		name := c.spec.Name[strings.LastIndex(c.spec.Name, "_")+1:]
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		<-release[name]
		return container.RunResult{Status: 200, Body: []byte(`{}`)}, nil
	}
	p, _ := newTestPool(t, Config{UserMemoryMB: 256, PauseGrace: -1}, f)
	var wg sync.WaitGroup
	outs := make(map[string]Outcome)
	start := func(name string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := p.Run(context.Background(), testJob("guest", name, "1"))
			mu.Lock()
			outs[name] = out
			mu.Unlock()
		}()
	}
	start("a")
	waitFor(t, "a running", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	start("b")
	waitFor(t, "b buffered", func() bool { return p.buffered() == 1 })
	start("c")
	waitFor(t, "c buffered", func() bool { return p.buffered() == 2 })

	// A job that gives up while buffered leaves the queue.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan Outcome)
	go func() { gaveUp <- p.Run(ctx, testJob("guest", "d", "1")) }()
	waitFor(t, "d buffered", func() bool { return p.buffered() == 3 })
	cancel()
	if out := <-gaveUp; out.Response.StatusCode != entity.StatusWhiskError {
		t.Fatalf("cancelled buffered job: %+v", out.Response)
	}

	close(release["a"])
	waitFor(t, "b running", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 2 })
	close(release["b"])
	waitFor(t, "c running", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 3 })
	close(release["c"])
	wg.Wait()
	if strings.Join(order, ",") != "a,b,c" {
		t.Fatalf("order %v", order)
	}
	for name, out := range outs {
		if out.Response.StatusCode != entity.StatusSuccess {
			t.Fatalf("%s: %s", name, out.Response.Result)
		}
	}
	if p.buffered() != 0 || p.used() != 256 {
		t.Fatalf("buffered %d used %d", p.buffered(), p.used())
	}
	checkNoViolations(t, f)
}

func TestContainerFate(t *testing.T) {
	tests := []struct {
		name     string
		run      func(ctx context.Context) (container.RunResult, error)
		wantCode int
		destroy  bool
		timedOut bool
		wantWait bool // Logs waited for sentinels
		notice   bool // the developer-error notice is appended (Logs reports no error)
	}{
		{"success keeps", func(context.Context) (container.RunResult, error) {
			return container.RunResult{Status: 200, Body: []byte(`{"ok":1}`)}, nil
		}, entity.StatusSuccess, false, false, true, false},
		{"application error keeps", func(context.Context) (container.RunResult, error) {
			return container.RunResult{Status: 200, Body: []byte(`{"error":"handled"}`)}, nil
		}, entity.StatusApplicationError, false, false, true, false},
		{"developer error destroys", func(context.Context) (container.RunResult, error) {
			return container.RunResult{Status: 502, Body: []byte(`{"error":"An error has occurred: x"}`)}, nil
		}, entity.StatusDeveloperError, true, false, true, false},
		{"scalar destroys", func(context.Context) (container.RunResult, error) {
			return container.RunResult{Status: 200, Body: []byte(`42`)}, nil
		}, entity.StatusDeveloperError, true, false, true, false},
		{"exit destroys", func(context.Context) (container.RunResult, error) {
			return container.RunResult{}, container.ErrExited
		}, entity.StatusDeveloperError, true, false, true, true},
		{"timeout destroys", func(ctx context.Context) (container.RunResult, error) {
			<-ctx.Done()
			return container.RunResult{}, container.ErrTimeout
		}, entity.StatusDeveloperError, true, true, false, true},
		{"whisk error destroys", func(context.Context) (container.RunResult, error) {
			return container.RunResult{}, container.ErrProvision
		}, entity.StatusWhiskError, true, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFactory{}
			f.run = func(ctx context.Context, _ *fakeContainer, _ container.RunRequest) (container.RunResult, error) {
				return tc.run(ctx)
			}
			f.logs = func(*fakeContainer) []container.LogLine {
				return []container.LogLine{{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Stream: "stdout", Text: "hi"}}
			}
			p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
			job := testJob("guest", "hello", "1")
			job.Timeout = 20 * time.Millisecond
			out := p.Run(context.Background(), job)
			if out.Response.StatusCode != tc.wantCode || out.TimedOut != tc.timedOut {
				t.Fatalf("status %d timedOut %v: %s", out.Response.StatusCode, out.TimedOut, out.Response.Result)
			}
			c := f.byID(out.ContainerID)
			if tc.destroy {
				waitFor(t, "destroyed", c.isDestroyed)
				if p.used() != 0 {
					t.Fatalf("used %d", p.used())
				}
			} else if c.isDestroyed() {
				t.Fatal("destroyed")
			}
			if out.Logs[0] != "2024-01-01T00:00:00Z           stdout: hi" {
				t.Fatalf("logs %q", out.Logs)
			}
			last := out.Logs[len(out.Logs)-1]
			if hasDev := strings.HasSuffix(last, "stderr: "+container.LogsDeveloperError); hasDev != tc.notice {
				t.Fatalf("logs %q", out.Logs)
			}
			c.mu.Lock()
			waited := c.waitFlags[0]
			c.mu.Unlock()
			if waited != tc.wantWait {
				t.Fatalf("waitSentinels %v", waited)
			}
			again := p.Run(context.Background(), job)
			if (again.ContainerID == c.id) == tc.destroy {
				t.Fatalf("next run on %s after %s", again.ContainerID, c.id)
			}
			checkNoViolations(t, f)
		})
	}
}

func TestInitFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   string
		notice bool // Logs reports no error: the notice only where output may be missing
	}{
		{"error field", &container.InitError{Status: 502, Body: []byte(`{"error":"SyntaxError: Unexpected token"}`)}, `{"error":"SyntaxError: Unexpected token"}`, false},
		{"timeout", container.ErrTimeout, `{"error":"The action exceeded its time limits of 5000 milliseconds during initialization."}`, true},
		{"exited", container.ErrExited, `{"error":"The action did not initialize and exited unexpectedly."}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFactory{}
			f.init = func(*fakeContainer, container.InitRequest) (container.RunResult, error) {
				return container.RunResult{}, tc.err
			}
			p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
			out := p.Run(context.Background(), testJob("guest", "hello", "1"))
			if out.Response.StatusCode != entity.StatusDeveloperError || string(out.Response.Result) != tc.want {
				t.Fatalf("got %d %s", out.Response.StatusCode, out.Response.Result)
			}
			if !out.Cold || out.Start.IsZero() || out.End.Before(out.Start) {
				t.Fatalf("outcome %+v", out)
			}
			if hasDev := len(out.Logs) == 1 && strings.HasSuffix(out.Logs[0], container.LogsDeveloperError); hasDev != tc.notice || len(out.Logs) > 1 {
				t.Fatalf("logs %q", out.Logs)
			}
			c := f.byID(out.ContainerID)
			waitFor(t, "destroyed", c.isDestroyed)
			if c.count("run") != 0 || p.used() != 0 {
				t.Fatal("ran after a failed init, or memory kept")
			}
			checkNoViolations(t, f)
		})
	}
}

func TestCreateFailure(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		kind     string
		wantCode int
	}{
		{"provision", fmt.Errorf("cgroup: %w", container.ErrProvision), "nodejs:20", entity.StatusWhiskError},
		{"bad blackbox image", errors.New("Failed to pull container image 'nope'."), "blackbox", entity.StatusDeveloperError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFactory{createErr: tc.err}
			p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
			job := testJob("guest", "hello", "1")
			job.Spec.Kind = tc.kind
			out := p.Run(context.Background(), job)
			if out.Response.StatusCode != tc.wantCode || out.Logs == nil {
				t.Fatalf("got %d %s", out.Response.StatusCode, out.Response.Result)
			}
			if p.used() != 0 {
				t.Fatalf("used %d", p.used())
			}
		})
	}
}

func TestJobLargerThanPool(t *testing.T) {
	p, _ := newTestPool(t, Config{UserMemoryMB: 128}, &fakeFactory{})
	out := p.Run(context.Background(), testJob("guest", "hello", "1"))
	if out.Response.StatusCode != entity.StatusWhiskError {
		t.Fatalf("got %d", out.Response.StatusCode)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(context.Background(), Config{StemCells: []StemCell{{Kind: "nodejs:20"}}}, &fakeFactory{}); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("bad stem cell: %v", err)
	}
	if _, err := New(context.Background(), Config{}, nil); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("nil factory: %v", err)
	}
}

// TestRealTimers runs the shell with real timers and tiny graces: a warm
// container is paused and removed, and reused in between.
func TestCancelledContextRunsNothing(t *testing.T) {
	f := &fakeFactory{}
	p, _ := newTestPool(t, Config{}, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := p.Run(ctx, testJob("guest", "hello", "1"))
	if out.Response.StatusCode != entity.StatusWhiskError || len(f.created()) != 0 {
		t.Fatalf("status %d, %d containers", out.Response.StatusCode, len(f.created()))
	}
}

func TestLogNotices(t *testing.T) {
	line := container.LogLine{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Stream: "stdout", Text: "x"}
	tests := []struct {
		name      string
		truncated bool
		err       error
		want      []string
	}{
		{"plain", false, nil, []string{"2024-01-01T00:00:00Z           stdout: x"}},
		{"truncated", true, nil, []string{"2024-01-01T00:00:00Z           stdout: x",
			"2024-01-01T00:00:00Z           stderr: Logs were truncated because the total bytes size exceeds the limit of 1024 bytes."}},
		{"collection failed", false, errors.New("no sentinel"), []string{"2024-01-01T00:00:00Z           stdout: x",
			"2024-01-01T00:00:00Z           stderr: There was an issue while collecting your logs. Data might be missing."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFactory{logErr: tc.err, logsTruncated: tc.truncated}
			f.logs = func(*fakeContainer) []container.LogLine { return []container.LogLine{line} }
			p, _ := newTestPool(t, Config{}, f)
			job := testJob("guest", "hello", "1")
			job.LogLimit = 1024
			out := p.Run(context.Background(), job)
			mustSucceed(t, out)
			if strings.Join(out.Logs, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("logs %q", out.Logs)
			}
		})
	}
}

// A job too large for the pool that arrives while others wait does not
// block the run buffer.
func TestTooLargeJobInBufferFails(t *testing.T) {
	f := &fakeFactory{}
	unblock := make(chan struct{})
	f.run = func(ctx context.Context, c *fakeContainer, _ container.RunRequest) (container.RunResult, error) {
		if c.spec.MemoryMB == 256 && strings.HasSuffix(c.spec.Name, "_a") {
			<-unblock
		}
		return container.RunResult{Status: 200, Body: []byte(`{}`)}, nil
	}
	p, _ := newTestPool(t, Config{UserMemoryMB: 256, PauseGrace: -1}, f)
	a := make(chan Outcome)
	go func() { a <- p.Run(context.Background(), testJob("guest", "a", "1")) }()
	waitFor(t, "a running", func() bool { return len(f.created()) == 1 && f.created()[0].count("run") == 1 })
	b := make(chan Outcome)
	go func() { b <- p.Run(context.Background(), testJob("guest", "b", "1")) }()
	waitFor(t, "b buffered", func() bool { return p.buffered() == 1 })
	huge := make(chan Outcome)
	go func() {
		j := testJob("guest", "huge", "1")
		j.Spec.MemoryMB = 512
		huge <- p.Run(context.Background(), j)
	}()
	waitFor(t, "huge buffered", func() bool { return p.buffered() == 2 })
	close(unblock)
	mustSucceed(t, <-a)
	mustSucceed(t, <-b)
	if out := <-huge; out.Response.StatusCode != entity.StatusWhiskError {
		t.Fatalf("huge: %d", out.Response.StatusCode)
	}
	if p.buffered() != 0 {
		t.Fatal("buffer not empty")
	}
}

package pool

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

func TestConcurrencySharesContainer(t *testing.T) {
	f := &fakeFactory{}
	gate := make(chan struct{})
	f.run = func(ctx context.Context, c *fakeContainer, _ container.RunRequest) (container.RunResult, error) {
		<-gate
		return container.RunResult{Status: 200, Body: []byte(`{}`)}, nil
	}
	p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
	job := testJob("guest", "hello", "1")
	job.Concurrency = 3
	var wg sync.WaitGroup
	outs := make([]Outcome, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = p.Run(context.Background(), job)
		}()
	}
	waitFor(t, "4 runs in progress", func() bool {
		n := 0
		for _, c := range f.created() {
			c.mu.Lock()
			n += c.running
			c.mu.Unlock()
		}
		return n == 4
	})
	close(gate)
	wg.Wait()
	cs := f.created()
	if len(cs) != 2 {
		t.Fatalf("%d containers for 4 runs with concurrency 3", len(cs))
	}
	maxRunning := max(cs[0].maxRunning, cs[1].maxRunning)
	if maxRunning != 3 {
		t.Fatalf("max concurrent runs in a container %d", maxRunning)
	}
	cold := 0
	for _, o := range outs {
		mustSucceed(t, o)
		if o.Cold {
			cold++
		}
	}
	if cold != 2 {
		t.Fatalf("%d cold starts", cold)
	}
	checkNoViolations(t, f)
}

func TestConcurrentRunsWaitForInit(t *testing.T) {
	f := &fakeFactory{}
	initStarted := make(chan struct{})
	unblock := make(chan struct{})
	var once sync.Once
	f.init = func(*fakeContainer, container.InitRequest) (container.RunResult, error) {
		once.Do(func() { close(initStarted) })
		<-unblock
		return container.RunResult{Status: 200}, nil
	}
	p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
	job := testJob("guest", "hello", "1")
	job.Concurrency = 2
	results := make(chan Outcome, 2)
	go func() { results <- p.Run(context.Background(), job) }()
	<-initStarted
	go func() { results <- p.Run(context.Background(), job) }()
	waitFor(t, "second claim", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for e := range p.all {
			if e.active == 2 {
				return true
			}
		}
		return false
	})
	close(unblock)
	a, b := <-results, <-results
	mustSucceed(t, a)
	mustSucceed(t, b)
	if len(f.created()) != 1 || a.Cold == b.Cold {
		t.Fatalf("containers %d, cold %v %v", len(f.created()), a.Cold, b.Cold)
	}
	checkNoViolations(t, f)
}

func TestRace(t *testing.T) {
	f := &fakeFactory{}
	f.run = func(ctx context.Context, c *fakeContainer, req container.RunRequest) (container.RunResult, error) {
		switch string(req.Value) {
		case `"dev"`:
			return container.RunResult{Status: 502, Body: []byte(`{"error":"x"}`)}, nil
		case `"app"`:
			return container.RunResult{Status: 200, Body: []byte(`{"error":"x"}`)}, nil
		}
		return container.RunResult{Status: 200, Body: []byte(`{}`)}, nil
	}
	p, err := New(context.Background(), Config{Logger: failOnErrors(t), UserMemoryMB: 1024, PauseGrace: 100 * time.Microsecond, IdleTimeout: 5 * time.Millisecond,
		StemCells: []StemCell{{Kind: "nodejs:20", MemoryMB: 256, Count: 1}}}, f)
	if err != nil {
		t.Fatal(err)
	}
	values := []string{`{}`, `{}`, `{}`, `"dev"`, `"app"`}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				job := testJob(fmt.Sprintf("ns%d", (g+i)%3), fmt.Sprintf("a%d", i%4), "1")
				job.Concurrency = 1 + g%2
				job.Run.Value = []byte(values[(g*7+i)%len(values)])
				out := p.Run(context.Background(), job)
				want := map[string]int{`{}`: 0, `"app"`: 1, `"dev"`: 2}[string(job.Run.Value)]
				if out.Response.StatusCode != want {
					t.Errorf("value %s: status %d %s", job.Run.Value, out.Response.StatusCode, out.Response.Result)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.used() != 0 || p.entries() != 0 {
		t.Fatalf("used %d, %d entries after close", p.used(), p.entries())
	}
	for _, c := range f.created() {
		if !c.isDestroyed() {
			t.Fatalf("container %s not destroyed", c.id)
		}
	}
	pauses, resumes := 0, 0
	for _, c := range f.created() {
		pauses += c.count("pause")
		resumes += c.count("resume")
	}
	t.Logf("%d containers, %d pauses, %d resumes", len(f.created()), pauses, resumes)
	checkNoViolations(t, f)
}

func TestConcurrentFailureDestroysAfterOtherRuns(t *testing.T) {
	f := &fakeFactory{}
	unblock := make(chan struct{})
	f.run = func(ctx context.Context, c *fakeContainer, req container.RunRequest) (container.RunResult, error) {
		switch string(req.Value) {
		case `"fail"`:
			return container.RunResult{}, container.ErrExited
		case `"slow"`:
			<-unblock
		}
		return container.RunResult{Status: 200, Body: []byte(`{}`)}, nil
	}
	p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
	job := testJob("guest", "hello", "1")
	job.Concurrency = 2
	slowJob := job
	slowJob.Run.Value = []byte(`"slow"`)
	slow := make(chan Outcome)
	go func() { slow <- p.Run(context.Background(), slowJob) }()
	waitFor(t, "slow run", func() bool { c := f.created(); return len(c) == 1 && c[0].count("run") == 1 })
	defer func() {
		select {
		case <-unblock:
		default:
			close(unblock) // a failed check must not leave the slow run behind
		}
	}()
	failing := job
	failing.Run.Value = []byte(`"fail"`)
	out := runBounded(t, p, failing)
	if out.Response.StatusCode != entity.StatusDeveloperError || out.ContainerID != f.created()[0].id {
		t.Fatalf("failing run: %d on %s", out.Response.StatusCode, out.ContainerID)
	}
	c := f.created()[0]
	if c.isDestroyed() {
		t.Fatal("destroyed under a run in progress")
	}
	// The doomed container takes no new runs.
	other := runBounded(t, p, testJob("guest", "other", "1"))
	mustSucceed(t, other)
	close(unblock)
	mustSucceed(t, receiveBounded(t, "the slow run", slow))
	waitFor(t, "destroyed after the last run", c.isDestroyed)
	next := runBounded(t, p, job)
	if next.ContainerID == c.id {
		t.Fatal("doomed container reused")
	}
	checkNoViolations(t, f)
}

// runBounded runs job and fails the test with every goroutine's stack if
// it does not return within a generous bound (a hang, not a timing
// assertion).
func runBounded(t *testing.T, p *Pool, job Job) Outcome {
	t.Helper()
	ch := make(chan Outcome, 1)
	go func() { ch <- p.Run(context.Background(), job) }()
	return receiveBounded(t, "run of "+job.Key.Action, ch)
}

// receiveBounded receives an outcome, failing the test with every
// goroutine's stack after a generous bound.
func receiveBounded(t *testing.T, what string, ch <-chan Outcome) Outcome {
	t.Helper()
	select {
	case out := <-ch:
		return out
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("%s hangs; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
		return Outcome{}
	}
}

package pool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

func TestPauseAfterGraceThenResumeOnClaim(t *testing.T) {
	f := &fakeFactory{}
	p, clk := newTestPool(t, Config{PauseGrace: 50 * time.Millisecond, IdleTimeout: time.Minute}, f)
	job := testJob("guest", "hello", "1")
	first := p.Run(context.Background(), job)
	c := f.byID(first.ContainerID)
	clk.Advance(49 * time.Millisecond)
	if c.count("pause") != 0 {
		t.Fatal("paused before the grace")
	}
	clk.Advance(time.Millisecond)
	waitFor(t, "paused", func() bool { s, _ := p.stateOf(c.id); return s == stPaused })
	if !c.isPaused() {
		t.Fatal("container not paused")
	}
	second := p.Run(context.Background(), job)
	mustSucceed(t, second)
	if second.ContainerID != c.id || second.Cold {
		t.Fatal("paused container not reused warm")
	}
	evs, _, _ := c.snapshot()
	if got := strings.Join(evs, ","); got != "init,run,logs,pause,resume,run,logs" {
		t.Fatalf("events %s", got)
	}
	checkNoViolations(t, f)
}

func TestClaimWhilePausingWaitsThenResumes(t *testing.T) {
	f := &fakeFactory{}
	pauseStarted := make(chan struct{})
	unblock := make(chan struct{})
	f.pause = func(*fakeContainer) error {
		close(pauseStarted)
		<-unblock
		return nil
	}
	p, clk := newTestPool(t, Config{PauseGrace: 10 * time.Millisecond}, f)
	job := testJob("guest", "hello", "1")
	first := p.Run(context.Background(), job)
	clk.Advance(10 * time.Millisecond)
	<-pauseStarted
	done := make(chan Outcome)
	go func() { done <- p.Run(context.Background(), job) }()
	c := f.byID(first.ContainerID)
	waitFor(t, "claimed while pausing", func() bool { s, _ := p.stateOf(c.id); return s == stRunning })
	if c.count("run") != 1 {
		t.Fatal("ran while the pause was in progress")
	}
	close(unblock)
	out := <-done
	mustSucceed(t, out)
	evs, _, _ := c.snapshot()
	if got := strings.Join(evs, ","); got != "init,run,logs,pause,resume,run,logs" {
		t.Fatalf("events %s", got)
	}
	checkNoViolations(t, f)
}

func TestIdleTimeoutRemoves(t *testing.T) {
	f := &fakeFactory{}
	p, clk := newTestPool(t, Config{PauseGrace: 10 * time.Millisecond, IdleTimeout: time.Minute}, f)
	out := p.Run(context.Background(), testJob("guest", "hello", "1"))
	c := f.byID(out.ContainerID)
	clk.Advance(10 * time.Millisecond)
	waitFor(t, "paused", func() bool { s, _ := p.stateOf(c.id); return s == stPaused })
	clk.Advance(time.Minute - 11*time.Millisecond)
	if c.isDestroyed() {
		t.Fatal("removed before the idle timeout")
	}
	clk.Advance(time.Millisecond)
	waitFor(t, "destroyed", c.isDestroyed)
	if p.used() != 0 {
		t.Fatalf("used %d MB after removal", p.used())
	}
	again := p.Run(context.Background(), testJob("guest", "hello", "1"))
	if !again.Cold || again.ContainerID == c.id {
		t.Fatal("removed container reused")
	}
	checkNoViolations(t, f)
}

func TestIdleTimeoutWithoutPause(t *testing.T) {
	f := &fakeFactory{}
	p, clk := newTestPool(t, Config{PauseGrace: -1, IdleTimeout: time.Second}, f)
	out := p.Run(context.Background(), testJob("guest", "hello", "1"))
	c := f.byID(out.ContainerID)
	clk.Advance(time.Second)
	waitFor(t, "destroyed", c.isDestroyed)
	if c.count("pause") != 0 {
		t.Fatal("paused with pausing disabled")
	}
}

func TestCloseDestroysEverything(t *testing.T) {
	f := &fakeFactory{}
	clk := newFakeClock()
	cfg := Config{PauseGrace: 10 * time.Millisecond, Now: clk.Now, Logger: failOnErrors(t),
		StemCells: []StemCell{{Kind: "python:3.11", MemoryMB: 256, Count: 2}}}
	p, err := newPool(context.Background(), cfg.withDefaults(), f, clk)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stem cells", func() bool { return p.prewarmed() == 2 })
	p.Run(context.Background(), testJob("guest", "a", "1"))
	p.Run(context.Background(), testJob("guest", "b", "1"))
	clk.Advance(10 * time.Millisecond) // pauses
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.created() {
		if !c.isDestroyed() {
			t.Fatalf("container %s survived Close", c.id)
		}
	}
	if p.entries() != 0 || p.used() != 0 {
		t.Fatalf("%d entries, %d MB left", p.entries(), p.used())
	}
	if out := p.Run(context.Background(), testJob("guest", "a", "1")); out.Response.StatusCode != entity.StatusWhiskError {
		t.Fatalf("run after close: %d", out.Response.StatusCode)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal("second close:", err)
	}
}

func TestCloseWaitsForRunsAndFailsBuffered(t *testing.T) {
	f := &fakeFactory{}
	unblock := make(chan struct{})
	f.run = func(ctx context.Context, c *fakeContainer, _ container.RunRequest) (container.RunResult, error) {
		<-unblock
		return container.RunResult{Status: 200, Body: []byte(`{}`)}, nil
	}
	clk := newFakeClock()
	p, err := newPool(context.Background(), Config{UserMemoryMB: 256, Now: clk.Now, Logger: failOnErrors(t)}.withDefaults(), f, clk)
	if err != nil {
		t.Fatal(err)
	}
	running := make(chan Outcome)
	go func() { running <- p.Run(context.Background(), testJob("guest", "a", "1")) }()
	waitFor(t, "a running", func() bool { c := f.created(); return len(c) == 1 && c[0].count("run") == 1 })
	buffered := make(chan Outcome)
	go func() { buffered <- p.Run(context.Background(), testJob("guest", "b", "1")) }()
	waitFor(t, "b buffered", func() bool { return p.buffered() == 1 })
	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	if out := <-buffered; out.Response.StatusCode != entity.StatusWhiskError {
		t.Fatalf("buffered job: %d", out.Response.StatusCode)
	}
	close(unblock)
	mustSucceed(t, <-running)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !f.created()[0].isDestroyed() {
		t.Fatal("busy container not destroyed after its run")
	}
	checkNoViolations(t, f)
}

func TestRealTimers(t *testing.T) {
	f := &fakeFactory{}
	p, err := New(context.Background(), Config{PauseGrace: time.Millisecond, IdleTimeout: 200 * time.Millisecond, Logger: failOnErrors(t)}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	job := testJob("guest", "hello", "1")
	first := p.Run(context.Background(), job)
	c := f.byID(first.ContainerID)
	waitFor(t, "paused", func() bool { s, _ := p.stateOf(c.id); return s == stPaused })
	second := p.Run(context.Background(), job)
	if second.ContainerID != c.id || c.count("resume") != 1 {
		t.Fatal("paused container not resumed and reused")
	}
	waitFor(t, "removed", c.isDestroyed)
	checkNoViolations(t, f)
}

func TestResumeFailureRetriesElsewhere(t *testing.T) {
	f := &fakeFactory{}
	f.resume = func(*fakeContainer) error { return errors.New("thaw failed") }
	p, clk := newTestPool(t, Config{PauseGrace: 10 * time.Millisecond}, f)
	job := testJob("guest", "hello", "1")
	first := p.Run(context.Background(), job)
	clk.Advance(10 * time.Millisecond)
	waitFor(t, "paused", func() bool { s, _ := p.stateOf(first.ContainerID); return s == stPaused })
	second := p.Run(context.Background(), job)
	mustSucceed(t, second)
	if second.ContainerID == first.ContainerID || !second.Cold {
		t.Fatal("ran on the container that failed to resume")
	}
	waitFor(t, "broken container destroyed", f.byID(first.ContainerID).isDestroyed)
}

func TestPauseFailureDestroys(t *testing.T) {
	f := &fakeFactory{}
	f.pause = func(*fakeContainer) error { return errors.New("freeze failed") }
	p, clk := newTestPool(t, Config{PauseGrace: 10 * time.Millisecond}, f)
	out := p.Run(context.Background(), testJob("guest", "hello", "1"))
	clk.Advance(10 * time.Millisecond)
	waitFor(t, "destroyed", f.byID(out.ContainerID).isDestroyed)
	if p.used() != 0 {
		t.Fatalf("used %d", p.used())
	}
}

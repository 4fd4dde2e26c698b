package pool

import (
	"context"
	"testing"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// BenchmarkWarmRun is one warm run through the pool on a fake container:
// claim, /run, result interpretation, log collection, release (and the
// pause timer re-armed).
func BenchmarkWarmRun(b *testing.B) {
	f := &fakeFactory{quiet: true}
	p, err := New(context.Background(), Config{}, f)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	job := testJob("guest", "hello", "1")
	ctx := context.Background()
	if out := p.Run(ctx, job); out.Response.StatusCode != 0 {
		b.Fatal(out.Response)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := p.Run(ctx, job); out.Cold {
			b.Fatal("cold")
		}
	}
}

// BenchmarkWarmRunParallel is BenchmarkWarmRun from GOMAXPROCS goroutines
// sharing one action with intra-container concurrency.
func BenchmarkWarmRunParallel(b *testing.B) {
	f := &fakeFactory{quiet: true}
	p, err := New(context.Background(), Config{UserMemoryMB: 1 << 20}, f)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	job := testJob("guest", "hello", "1")
	job.Concurrency = 1000
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Run(context.Background(), job)
		}
	})
}

// BenchmarkDirectRun is the same work without the pool (the fake
// container's Run and Logs, result interpretation, log formatting): the
// difference to BenchmarkWarmRun is the pool's overhead.
func BenchmarkDirectRun(b *testing.B) {
	f := &fakeFactory{quiet: true}
	c, _ := f.Create(context.Background(), container.Spec{})
	fc := c.(*fakeContainer)
	fc.inited = true
	job := testJob("guest", "hello", "1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rctx, cancel := context.WithTimeout(ctx, job.Timeout)
		res, err := c.Run(rctx, job.Run)
		cancel()
		resp := container.InterpretRun(res, err, job.Timeout, defaultTruncation)
		lctx, cancel := context.WithTimeout(ctx, minLogCollectTimeout)
		lines, tr, _ := c.Logs(lctx, job.LogLimit, true)
		cancel()
		_ = container.FormatLogs(lines, tr, job.LogLimit)
		_ = resp
	}
}

package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures one message through the broker: Send, then
// Fetch by a consumer group member, then its at-most-once Commit. It
// reports the Send→Fetch latency percentiles; ns/op includes the commit.
func BenchmarkRoundTrip(b *testing.B) {
	cluster := newCluster(b)
	cfg := testConfig(b, cluster)
	ensure(b, cfg, InvokerTopics(0))
	p := newProducer(b, cfg)
	c := newConsumer(b, cfg, "invoker0", "invoker0")
	ctx := context.Background()
	msg := []byte(`{"transid":["a1b2c3",1700000000123],"activationId":"c7bb1339cb4f40e3a6ccead6c99f804e","blocking":true}`)
	// Join the group before measuring.
	if err := p.Send(ctx, "invoker0", msg); err != nil {
		b.Fatal(err)
	}
	take(b, c)

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := p.Send(ctx, "invoker0", msg); err != nil {
			b.Fatal(err)
		}
		m, err := c.Fetch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if err := c.Commit(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkSendParallel measures produce throughput and latency of one
// producer shared by senders×GOMAXPROCS goroutines, with the default batch
// timeout and kafka-go's usual ~1 ms.
func BenchmarkSendParallel(b *testing.B) {
	for _, senders := range []int{1, 4, 16, 64} {
		for _, bt := range []time.Duration{DefaultBatchTimeout, time.Millisecond} {
			name := fmt.Sprintf("senders=%dxCPU/batch=%v", senders, bt)
			b.Run(name, func(b *testing.B) { benchSendParallel(b, senders, bt) })
		}
	}
}

func benchSendParallel(b *testing.B, senders int, batchTimeout time.Duration) {
	cluster := newCluster(b)
	cfg := testConfig(b, cluster)
	cfg.BatchTimeout = batchTimeout
	ensure(b, cfg, InvokerTopics(0))
	p := newProducer(b, cfg)
	msg := make([]byte, 512)
	b.SetParallelism(senders)
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := p.Send(context.Background(), "invoker0", msg); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	}
}

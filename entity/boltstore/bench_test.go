package boltstore

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/storetest"
)

func BenchmarkGetAction(b *testing.B) {
	db := openTest(b, Config{})
	for i := range 1000 {
		if _, err := db.Entities().Put(ctx(b), storetest.Action("guest", "", fmt.Sprintf("a%d", i), int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	name := entity.NewFQN("guest", "", "a500")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Entities().Get(ctx(b), entity.KindAction, name); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkActivationPut measures durable record throughput: parallel Puts,
// then a Flush, so every counted record is committed (fsync on) when the
// timer stops.
func BenchmarkActivationPut(b *testing.B) {
	db := openTest(b, Config{})
	acts := db.Activations()
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			a := storetest.Activation(fmt.Sprintf("ns%d", i%8), "", "bench", 1_700_000_000_000+i)
			if err := acts.Put(ctx(b), a); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := acts.Flush(ctx(b)); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/messaging"
)

func TestPings(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ID = 3; c.UserMemoryMB = 1024 })
	health := h.bus.Consumer(messaging.TopicHealth, "health0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.inv.RunPings(ctx, 5*time.Millisecond) }()

	fetch := func() messaging.PingMessage {
		t.Helper()
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer fcancel()
		m, err := health.Fetch(fctx)
		if err != nil {
			t.Fatalf("no ping: %v", err)
		}
		var p messaging.PingMessage
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Fatalf("ping %s: %v", m.Value, err)
		}
		return p
	}
	// Repeated pings, each naming this invoker with its memory.
	for range 3 {
		p := fetch()
		if p.Invoker.Instance != 3 || p.Invoker.UserMemory != 1024*messaging.MB || !p.IsEnabled {
			t.Fatalf("ping = %+v, want invoker 3 with 1024 MB, enabled", p)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunPings = %v, want context.Canceled", err)
	}

	// A stopping invoker says so.
	if err := h.inv.Ping(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	for {
		p := fetch()
		if !p.IsEnabled {
			break
		}
	}
}

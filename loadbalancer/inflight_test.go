package loadbalancer

import (
	"context"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// TestInflightNamespaceCounts: an activation counts for its namespace from
// add until a slot-freeing ack, its forced completion, cancel or close; a
// result-only ack keeps it in flight.
func TestInflightNamespaceCounts(t *testing.T) {
	clock := newFakeClock()
	f := newInflight(clock.AfterFunc, nil)
	newEntry := func(ns string, timeout time.Duration) *entry {
		t.Helper()
		e := &entry{id: entity.NewActivationID(), namespace: ns, memoryMB: 256}
		if err := f.add(e, timeout); err != nil {
			t.Fatal(err)
		}
		return e
	}
	want := func(step string, counts map[string]int) {
		t.Helper()
		for ns, n := range counts {
			if got := f.namespaceCount(ns); got != n {
				t.Errorf("%s: namespace %q has %d in flight, want %d", step, ns, got, n)
			}
		}
	}
	a := newEntry("ns1", time.Hour)
	b := newEntry("ns1", time.Minute)
	c := newEntry("ns2", time.Hour)
	want("added", map[string]int{"ns1": 2, "ns2": 1, "other": 0})

	f.ack(&messaging.Ack{Kind: messaging.AckResult, ActivationID: a.id})
	want("result-only ack", map[string]int{"ns1": 2, "ns2": 1})
	f.ack(&messaging.Ack{Kind: messaging.AckCompletion, ActivationID: a.id})
	want("completion ack", map[string]int{"ns1": 1, "ns2": 1})
	f.ack(&messaging.Ack{Kind: messaging.AckCompletion, ActivationID: a.id})
	want("duplicate ack", map[string]int{"ns1": 1, "ns2": 1})

	clock.Advance(2 * time.Minute)
	want("forced completion", map[string]int{"ns1": 0, "ns2": 1})
	if f.cancel(b) {
		t.Error("cancel of a forced-complete entry reported it in flight")
	}
	want("late cancel", map[string]int{"ns1": 0, "ns2": 1})

	if !f.cancel(c) {
		t.Error("cancel of an in-flight entry reported it gone")
	}
	want("cancel", map[string]int{"ns1": 0, "ns2": 0})

	newEntry("ns2", time.Hour)
	newEntry("ns3", time.Hour)
	f.close()
	want("close", map[string]int{"ns2": 0, "ns3": 0})
	f.mu.Lock()
	left := len(f.perNamespace)
	f.mu.Unlock()
	if left != 0 {
		t.Errorf("%d namespaces left in the counts after close", left)
	}
}

// TestLeanNamespaceInFlight: the lean balancer counts an activation for
// the caller's namespace (controller.ThrottleKey) until its completion.
func TestLeanNamespaceInFlight(t *testing.T) {
	h := newHarness(t)
	req := h.request(false)
	key := controller.ThrottleKey(req.Identity)
	if key == "" {
		t.Fatal("test identity has no throttle key")
	}
	if _, err := h.lb.Activate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := h.lb.NamespaceInFlight(key); n != 1 {
		t.Fatalf("in flight for %q: %d, want 1", key, n)
	}
	if n := h.lb.NamespaceInFlight(key + "x"); n != 0 {
		t.Fatalf("in flight for another namespace: %d, want 0", n)
	}
	m := h.takeMessage()
	h.ack(messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID), Invoker: invoker0})
	h.waitIdle()
	if n := h.lb.NamespaceInFlight(key); n != 0 {
		t.Fatalf("in flight after completion: %d, want 0", n)
	}
}

// TestShardingNamespaceInFlight: the sharding balancer counts this
// controller's activations per caller namespace until they complete.
func TestShardingNamespaceInFlight(t *testing.T) {
	h := newShardingHarness(t, 1, 1024*mb)
	h.bringUp()
	h.settle()
	h.invokers[0].setMode(holdUser)
	req := h.request("guest", "a", 256, false)
	key := controller.ThrottleKey(req.Identity)
	h.activate(req)
	h.activate(h.request("guest", "b", 256, false))
	if n := h.lb.NamespaceInFlight(key); n != 2 {
		t.Fatalf("in flight for %q: %d, want 2", key, n)
	}
	h.invokers[0].releaseHeld()
	h.waitIdle()
	if n := h.lb.NamespaceInFlight(key); n != 0 {
		t.Fatalf("in flight after completion: %d, want 0", n)
	}
}

package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/lean"
)

const mb = messaging.MB

// settle waits until every invoker's two health test actions (on entering
// Unhealthy, and after the success that made it Healthy) were counted.
func (h *shardingHarness) settle() {
	h.t.Helper()
	eventually(h.t, "the health test actions to complete", func() bool {
		h.lb.mu.Lock()
		defer h.lb.mu.Unlock()
		for i := range h.invokers {
			if i >= len(h.lb.invokers) || h.lb.invokers[i].health.results.n < 2 {
				return false
			}
		}
		return true
	})
}

// results reports how many results of kind r invoker i's ring holds.
func (h *shardingHarness) results(i int, r result) int {
	h.lb.mu.Lock()
	defer h.lb.mu.Unlock()
	return h.lb.invokers[i].health.results.count(r)
}

// nameWithHome finds an action name of ns whose home is want among n.
func nameWithHome(t *testing.T, ns string, want, n int) string {
	t.Helper()
	for i := range 1000 {
		name := fmt.Sprintf("act%d", i)
		if expectedHome(ns, name, n) == want {
			return name
		}
	}
	t.Fatalf("no action name with home %d of %d", want, n)
	return ""
}

func (h *shardingHarness) waitIdle() {
	h.t.Helper()
	eventually(h.t, "nothing in flight", func() bool {
		n, mem := h.lb.InFlight()
		return n == 0 && mem == 0
	})
}

func TestShardingSpreadsByHomeInvoker(t *testing.T) {
	h := newShardingHarness(t, 2, 1024*mb)
	h.bringUp()
	if got := h.lb.Invokers(); len(got) != 2 || got[0] != (InvokerStatus{"invoker0", "up"}) || got[1] != (InvokerStatus{"invoker1", "up"}) {
		t.Fatalf("Invokers() = %+v", got)
	}
	homes := map[int]int{}
	for i := range 12 {
		name := fmt.Sprintf("act%d", i)
		want := expectedHome("guest", name, 2)
		for range 2 { // the same action goes home again
			req := h.request("guest", name, 128, true)
			ch, got := h.activate(req)
			if got != want {
				t.Fatalf("%s went to invoker%d, its home is invoker%d", name, got, want)
			}
			if rec := await(t, ch); rec == nil || rec.ActivationID != req.ActivationID {
				t.Fatalf("%s: record %+v", name, rec)
			}
		}
		homes[want]++
	}
	if len(homes) != 2 {
		t.Fatalf("all actions have the same home: %v", homes)
	}
	h.waitIdle()
	eventually(t, "slots released", func() bool { return h.lb.FreeMemory(0) == 1024 && h.lb.FreeMemory(1) == 1024 })
}

func TestShardingInvocationNamespaceChangesHome(t *testing.T) {
	h := newShardingHarness(t, 5, 1024*mb)
	h.bringUp()
	// A shared action invoked by different callers is hashed with the
	// caller's namespace.
	seen := map[int]bool{}
	for _, caller := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		req := h.request("shared", "act", 128, false)
		req.Identity.Namespace.Name = caller
		_, got := h.activate(req)
		want := home(actionHash(caller, "shared/act"), 5)
		if got != want {
			t.Fatalf("caller %s: invoker%d, want invoker%d", caller, got, want)
		}
		seen[got] = true
	}
	if len(seen) < 2 {
		t.Fatalf("every caller landed on the same invoker: %v", seen)
	}
}

func TestShardingBlackboxInvokers(t *testing.T) {
	h := newShardingHarness(t, 3, 1024*mb)
	h.bringUp()
	// 3 invokers: managed = ceil(2.7) = 3 (all), blackbox = max(1, 0) = 1 (the last).
	for i := range 6 {
		req := h.request("guest", fmt.Sprintf("bb%d", i), 128, false)
		req.Action.Exec = entity.Exec{Kind: entity.KindBlackbox, Image: "me/image"}
		if _, got := h.activate(req); got != 2 {
			t.Fatalf("blackbox action went to invoker%d, want invoker2", got)
		}
	}
}

func TestShardingStepsAndOverload(t *testing.T) {
	h := newShardingHarness(t, 2, 256*mb, func(c *Config) { c.Rand = func(n int) int { return n - 1 } })
	h.bringUp()
	h.settle()
	for _, inv := range h.invokers {
		inv.setMode(holdUser)
	}
	name := nameWithHome(t, "guest", 0, 2)
	var waiters []<-chan *entity.Activation
	for i, want := range []int{0, 1, 1} { // home, next by step, forced on the random (last) healthy
		ch, got := h.activate(h.request("guest", name, 256, true))
		if got != want {
			t.Fatalf("activation %d went to invoker%d, want invoker%d", i, got, want)
		}
		waiters = append(waiters, ch)
	}
	if f0, f1 := h.lb.FreeMemory(0), h.lb.FreeMemory(1); f0 != 0 || f1 != -256 {
		t.Fatalf("free memory %d, %d; want 0, -256 (overdrawn)", f0, f1)
	}
	if n, mem := h.lb.InFlight(); n != 3 || mem != 768 {
		t.Fatalf("in flight %d (%d MB)", n, mem)
	}
	calls := h.healthCallCount()

	// No acks: the forced-completion timeout (max(60 s, 60 s) × 2 + 1 min)
	// releases the slots and closes the waiters empty.
	h.clock.Advance(3*time.Minute - time.Second)
	if n, _ := h.lb.InFlight(); n != 3 {
		t.Fatalf("forced before the timeout: %d in flight", n)
	}
	h.clock.Advance(time.Second)
	for i, ch := range waiters {
		if rec := await(t, ch); rec != nil {
			t.Fatalf("waiter %d got %+v", i, rec)
		}
	}
	if n, mem := h.lb.InFlight(); n != 0 || mem != 0 {
		t.Fatalf("after the forced timeout: %d in flight (%d MB)", n, mem)
	}
	if f0, f1 := h.lb.FreeMemory(0), h.lb.FreeMemory(1); f0 != 256 || f1 != 256 {
		t.Fatalf("free memory after the forced timeout %d, %d", f0, f1)
	}
	if h.results(0, resultTimeout) != 1 || h.results(1, resultTimeout) != 2 {
		t.Fatalf("timeouts counted: %d, %d", h.results(0, resultTimeout), h.results(1, resultTimeout))
	}
	// Invoker 0 had 2 results, so the timeout alone made it unresponsive,
	// which invoked the health test action; its success brings it back.
	eventually(t, "a health test action after the invoker became unresponsive", func() bool { return h.healthCallCount() > calls })
	h.waitStatus("up", "up")
}

func TestShardingInvokerGoesDown(t *testing.T) {
	forcedIDs := make(chan string, 4)
	h := newShardingHarness(t, 2, 1024*mb, func(c *Config) {
		c.OnForcedCompletion = func(req controller.ActivationRequest) { forcedIDs <- req.ActivationID }
	})
	h.bringUp()
	h.settle()
	h.invokers[1].setMode(holdAll)
	name := nameWithHome(t, "guest", 1, 2)
	stuckReq := h.request("guest", name, 256, true)
	stuckID := stuckReq.ActivationID
	stuck, got := h.activate(stuckReq)
	if got != 1 {
		t.Fatalf("went to invoker%d, want its home invoker1", got)
	}

	// Invoker 1 stops pinging; invoker 0 keeps on.
	h.clock.Advance(5 * time.Second)
	h.pingSome(0)
	h.clock.Advance(4 * time.Second)
	h.lb.checkHealth()
	if s := h.statuses(); s[0] != "up" || s[1] != "up" {
		t.Fatalf("9 s after its last ping: %v", s)
	}
	h.clock.Advance(time.Second)
	h.lb.checkHealth()
	if s := h.statuses(); s[0] != "up" || s[1] != "down" {
		t.Fatalf("10 s after its last ping: %v, want [up down]", s)
	}

	// New work for invoker 1's actions goes to invoker 0.
	for range 3 {
		req := h.request("guest", name, 256, true)
		ch, got := h.activate(req)
		if got != 0 {
			t.Fatalf("went to invoker%d while invoker1 is down", got)
		}
		if rec := await(t, ch); rec == nil || rec.ActivationID != req.ActivationID {
			t.Fatalf("record %+v", rec)
		}
	}

	// The activation stuck on invoker 1 is forced complete: its waiter
	// closes empty (the controller then reads the store) and its slot is
	// released.
	h.clock.Advance(3 * time.Minute)
	if rec := await(t, stuck); rec != nil {
		t.Fatalf("stuck activation delivered %+v", rec)
	}
	h.waitIdle()
	if f := h.lb.FreeMemory(1); f != 1024 {
		t.Fatalf("invoker1 free memory %d", f)
	}
	if h.results(1, resultTimeout) != 1 || h.statuses()[1] != "down" {
		t.Fatalf("after the forced timeout: %d timeouts, %v", h.results(1, resultTimeout), h.statuses())
	}
	select {
	case id := <-forcedIDs:
		if id != stuckID {
			t.Fatalf("OnForcedCompletion for %s, want the stuck activation %s", id, stuckID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnForcedCompletion was not called for the stuck activation")
	}
	if len(forcedIDs) != 0 {
		t.Fatalf("OnForcedCompletion called for activations that completed")
	}

	// It comes back: pings make it unhealthy, the health test action up.
	h.invokers[1].setMode(answerAll)
	h.invokers[1].releaseHeld() // a late ack of the forced activation changes nothing
	h.pingSome(0, 1)
	h.waitStatus("up", "up")
}

func TestShardingNoHealthyInvokers(t *testing.T) {
	h := newShardingHarness(t, 1, 1024*mb)
	_, err := h.lb.Activate(context.Background(), h.request("guest", "a", 128, true))
	if !errors.Is(err, entity.ErrUnavailable) || !strings.Contains(err.Error(), "No invokers available") {
		t.Fatalf("no invokers: %v", err)
	}

	// Registered, but its health test action is never answered: unhealthy.
	h.invokers[0].setMode(holdAll)
	h.pingSome(0)
	h.waitStatus("unhealthy")
	_, err = h.lb.Activate(context.Background(), h.request("guest", "a", 128, true))
	if !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("unhealthy invoker: %v", err)
	}
	if n, _ := h.lb.InFlight(); n != 0 || h.lb.FreeMemory(0) != 1024 {
		t.Fatalf("refused activation left %d in flight, %d MB free", n, h.lb.FreeMemory(0))
	}
}

func TestShardingHealthActionWhileUnhealthy(t *testing.T) {
	h := newShardingHarness(t, 1, 1024*mb)
	inv := h.invokers[0]
	inv.setMode(holdAll)
	h.pingSome(0)
	eventually(t, "the health test action on entering unhealthy", func() bool { return len(inv.healthActions()) == 1 })
	m := inv.healthActions()[0]
	if m.Action.FQN().DocID() != "whisk.system/invokerHealthTestAction0" || m.Blocking || m.Revision != "" ||
		m.User.Namespace.Name != "whisk.system" || m.User.Subject != "whisk.system" || m.RootControllerIndex.AsString != "0" ||
		m.Content != nil || !entity.ValidActivationID(m.ActivationID) {
		t.Fatalf("health action message %+v", m)
	}
	if n, _ := h.lb.InFlight(); n != 0 {
		t.Fatalf("health actions are not tracked in flight: %d", n)
	}

	// Every minute while unhealthy (pinging every 5 s to stay registered).
	for range 11 {
		h.clock.Advance(5 * time.Second)
		h.pingSome(0)
		h.lb.checkHealth()
	}
	if n := h.healthCallCount(); n != 1 {
		t.Fatalf("%d health actions before a minute passed", n)
	}
	h.clock.Advance(5 * time.Second)
	h.pingSome(0)
	h.lb.checkHealth()
	eventually(t, "the periodic health test action", func() bool { return len(inv.healthActions()) == 2 })
	if s := h.statuses(); s[0] != "unhealthy" {
		t.Fatalf("status %v", s)
	}

	// The invoker answers: a success makes it up (and invokes the test
	// action once more, as OpenWhisk, to clear errors quickly).
	inv.setMode(answerAll)
	inv.releaseHeld()
	h.waitStatus("up")
	eventually(t, "the test action after the success", func() bool { return h.healthCallCount() >= 3 })
}

func TestShardingSystemErrorsMakeUnhealthy(t *testing.T) {
	h := newShardingHarness(t, 1, 1024*mb)
	h.bringUp()
	h.settle()
	// Fill the ring with successes.
	for i := range 8 {
		_, _ = h.activate(h.request("guest", fmt.Sprintf("ok%d", i), 128, false))
	}
	eventually(t, "a ring of successes", func() bool { return h.results(0, resultSuccess) == 10 })

	h.invokers[0].setMode(failUser)
	for i := range 3 {
		_, _ = h.activate(h.request("guest", "bad", 128, false))
		eventually(t, "the system error counted", func() bool { return h.results(0, resultSystemError) == i+1 })
		if s := h.statuses(); s[0] != "up" {
			t.Fatalf("after %d system errors: %v", i+1, s)
		}
	}
	// The fourth system error (more than 3 of the last 10) makes it
	// unhealthy; the health test actions are held to observe it.
	calls := h.healthCallCount()
	h.invokers[0].setMode(failUserHoldHealth)
	_, _ = h.activate(h.request("guest", "bad", 128, false))
	h.waitStatus("unhealthy")
	eventually(t, "the health test action on entering unhealthy", func() bool { return h.healthCallCount() == calls+1 })
	if _, err := h.lb.Activate(context.Background(), h.request("guest", "x", 128, false)); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Activate on an unhealthy invoker: %v", err)
	}

	// Health test successes push the errors out of the ring: each success
	// while unhealthy invokes the next test action, until it is up.
	h.invokers[0].setMode(answerAll)
	h.invokers[0].releaseHeld()
	h.waitStatus("up")
	if n := h.results(0, resultSystemError); n > resultErrorTolerance {
		t.Fatalf("up with %d system errors in the ring", n)
	}
}

func TestShardingDisabledPing(t *testing.T) {
	h := newShardingHarness(t, 2, 1024*mb)
	h.bringUp()
	h.invokers[1].ping(false)
	h.waitStatus("up", "down")
	name := nameWithHome(t, "guest", 1, 2)
	if _, got := h.activate(h.request("guest", name, 128, false)); got != 0 {
		t.Fatalf("went to the disabled invoker%d", got)
	}
	h.clock.Advance(time.Second)
	h.pingSome(0, 1)
	h.waitStatus("up", "up")
}

func TestShardingRegistersWithPlaceholders(t *testing.T) {
	h := newShardingHarness(t, 3, 512*mb)
	h.invokers[2].ping(true)
	h.waitStatus("down", "down", "up")
	// Bad pings and acks are dropped.
	for _, raw := range []string{`{not json`, `{"isEnabled":true}`, `{"name":{"instance":-1,"userMemory":"1 MB"}}`,
		fmt.Sprintf(`{"name":{"instance":%d,"userMemory":"1 MB"}}`, MaxInvokers), `{"name":{"instance":1e12,"userMemory":"1 MB"}}`} {
		if err := h.invokers[0].producer.Send(context.Background(), messaging.TopicHealth, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	for _, raw := range []string{`{not json`, `{"transid":["sid_invokerHealth",1],"activationId":"0123456789abcdef0123456789abcdef","isSystemError":false,"instance":{"instance":99,"userMemory":"1 MB"}}`} {
		if err := h.invokers[0].producer.Send(context.Background(), messaging.CompletedTopic("0"), []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(time.Second)
	h.pingSome(0)
	h.waitStatus("up", "down", "up")
	// Memory shares follow the pings: 512 MB on a one-controller cluster.
	if f := h.lb.FreeMemory(0); f != 512 {
		t.Fatalf("invoker0 free memory %d", f)
	}
	if f := h.lb.FreeMemory(7); f != 0 {
		t.Fatalf("unknown invoker free memory %d", f)
	}
}

func TestShardingClusterShare(t *testing.T) {
	h := newShardingHarness(t, 1, 1024*mb, func(c *Config) { c.ClusterSize = 4 })
	h.bringUp()
	if f := h.lb.FreeMemory(0); f != 256 {
		t.Fatalf("a quarter of 1024 MB: %d", f)
	}
}

// failingProducer fails Sends to invoker topics once armed.
type failingProducer struct {
	messaging.Producer
	armed atomic.Bool
	err   error
}

func (p *failingProducer) Send(ctx context.Context, topic string, msg []byte) error {
	if p.armed.Load() && strings.HasPrefix(topic, "invoker") {
		return p.err
	}
	return p.Producer.Send(ctx, topic, msg)
}

func TestShardingPublishFailureReleasesSlot(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"too large", entity.Errorf(entity.ErrTooLarge, "message too large"), entity.ErrTooLarge},
		{"transport down", errors.New("broker gone"), entity.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fp *failingProducer
			h := newShardingHarness(t, 1, 1024*mb, func(c *Config) {
				fp = &failingProducer{Producer: c.Producer, err: tc.err}
				c.Producer = fp
			})
			h.bringUp()
			fp.armed.Store(true)
			_, err := h.lb.Activate(context.Background(), h.request("guest", "a", 256, true))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Activate = %v, want %v", err, tc.want)
			}
			if n, _ := h.lb.InFlight(); n != 0 || h.lb.FreeMemory(0) != 1024 {
				t.Fatalf("failed publish left %d in flight, %d MB free", n, h.lb.FreeMemory(0))
			}
		})
	}
}

func TestShardingRunEndClosesWaiters(t *testing.T) {
	h := newShardingHarness(t, 1, 1024*mb)
	h.bringUp()
	h.invokers[0].setMode(holdAll)
	ch, _ := h.activate(h.request("guest", "a", 128, true))
	h.cancel()
	if err := <-h.runErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	h.runErr <- nil // for the cleanup
	if rec := await(t, ch); rec != nil {
		t.Fatalf("got %+v", rec)
	}
	if _, err := h.lb.Activate(context.Background(), h.request("guest", "a", 128, false)); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Activate after Run ended = %v", err)
	}
}

func TestShardingAckConsumerClosedEndsRun(t *testing.T) {
	bus := lean.New(lean.Config{})
	defer bus.Close()
	acks := bus.Consumer("completed0", "completed0")
	lb, err := NewSharding(Config{Producer: bus.Producer(), Acks: acks, Health: bus.Consumer("health", "health0")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lb.Run(context.Background()) }()
	_ = acks.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestNewShardingValidation(t *testing.T) {
	bus := lean.New(lean.Config{})
	defer bus.Close()
	p, a, hc := bus.Producer(), bus.Consumer("c", "c"), bus.Consumer("h", "h")
	for name, cfg := range map[string]Config{
		"no producer": {Acks: a, Health: hc},
		"no acks":     {Producer: p, Health: hc},
		"no health":   {Producer: p, Acks: a},
		"bad id":      {Producer: p, Acks: a, Health: hc, ControllerID: "a/b"},
	} {
		if _, err := NewSharding(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	lb, err := NewSharding(Config{Producer: p, Acks: a, Health: hc})
	if err != nil {
		t.Fatal(err)
	}
	if lb.cfg.ControllerID != "0" || lb.cfg.ClusterSize != 1 || lb.cfg.ManagedFraction != 0.9 || lb.cfg.BlackboxFraction != 0.1 ||
		lb.timings.healthyTimeout != 10*time.Second || lb.timings.testInterval != time.Minute {
		t.Fatalf("defaults %+v", lb.cfg)
	}
	if got := lb.Invokers(); len(got) != 0 {
		t.Fatalf("invokers before any ping: %v", got)
	}
}

func TestHealthTestAction(t *testing.T) {
	now := time.UnixMilli(1700000000123)
	a, err := HealthTestAction("7", testManifest(t), now)
	if err != nil {
		t.Fatal(err)
	}
	if a.FullName().DocID() != "whisk.system/invokerHealthTestAction7" || a.Exec.Kind != "nodejs:20" ||
		a.Exec.Code != "function main(params) { return params; }" || a.Limits.Memory != 128 || a.Updated != now.UnixMilli() {
		t.Fatalf("action %+v", a)
	}
	if _, err := HealthTestAction("0", nil, now); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("no manifest: %v", err)
	}
	m, err := entity.ParseManifest([]byte(`{"runtimes":{"python":[{"kind":"python:3.11","image":{"name":"p"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := HealthTestAction("0", m, now); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("manifest without nodejs: %v", err)
	}
}

package loadbalancer

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/lean"
)

// fakeClock is a manual clock: timers fire, synchronously, only in
// Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1700000000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves the clock by d and runs the timers that came due, in
// order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.fired = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// invokerMode is how a fake invoker answers.
type invokerMode int

const (
	answerAll          invokerMode = iota // ack everything successfully
	holdUser                              // ack health actions, keep user activations
	holdAll                               // ack nothing
	failUser                              // ack user activations with a system error
	failUserHoldHealth                    // as failUser, and keep health actions
)

// fakeInvoker consumes invoker<N> on the bus and answers with combined
// acks on the sender's completed topic, as an invoker would; pings are
// sent by the test.
type fakeInvoker struct {
	t        *testing.T
	id       int
	memory   messaging.ByteSize
	producer messaging.Producer

	mu   sync.Mutex
	mode invokerMode
	got  map[string]*messaging.ActivationMessage // by activation id
	held []*messaging.ActivationMessage
}

func startFakeInvoker(t *testing.T, bus *lean.Bus, id int, memory messaging.ByteSize) *fakeInvoker {
	inv := &fakeInvoker{t: t, id: id, memory: memory, producer: bus.Producer(), got: map[string]*messaging.ActivationMessage{}}
	c := bus.Consumer(messaging.InvokerTopic(id), messaging.InvokerTopic(id))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := c.Fetch(context.Background())
			if err != nil {
				return // the bus closed
			}
			am, err := messaging.ActivationFrom(&m)
			if err != nil {
				t.Errorf("invoker%d: undecodable activation message: %v", id, err)
				continue
			}
			inv.take(am)
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return inv
}

func (inv *fakeInvoker) instance() messaging.InvokerInstanceID {
	return messaging.InvokerInstanceID{Instance: inv.id, UserMemory: inv.memory}
}

func isHealthAction(m *messaging.ActivationMessage) bool { return m.TransID.ID == HealthTransactionID }

func (inv *fakeInvoker) take(m *messaging.ActivationMessage) {
	inv.mu.Lock()
	inv.got[m.ActivationID] = m
	mode := inv.mode
	hold := mode == holdAll || (mode == holdUser && !isHealthAction(m)) || (mode == failUserHoldHealth && isHealthAction(m))
	if hold {
		inv.held = append(inv.held, m)
	}
	inv.mu.Unlock()
	if !hold {
		inv.ack(m, (mode == failUser || mode == failUserHoldHealth) && !isHealthAction(m))
	}
}

// ack answers m with a combined completion and result.
func (inv *fakeInvoker) ack(m *messaging.ActivationMessage, systemError bool) {
	rec := record(m.ActivationID)
	if systemError {
		rec.Response = entity.Response{StatusCode: entity.StatusWhiskError, Result: json.RawMessage(`{"error":"boom"}`)}
	}
	a := messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: rec,
		IsSystemError: systemError, Invoker: inv.instance()}
	b, err := a.AppendJSON(nil)
	if err != nil {
		inv.t.Errorf("invoker%d: encoding ack: %v", inv.id, err)
		return
	}
	if err := inv.producer.Send(context.Background(), messaging.CompletedTopic(m.RootControllerIndex.AsString), b); err != nil && !errors.Is(err, messaging.ErrClosed) {
		inv.t.Errorf("invoker%d: sending ack: %v", inv.id, err)
	}
}

func (inv *fakeInvoker) setMode(m invokerMode) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.mode = m
}

// releaseHeld acks every held message successfully.
func (inv *fakeInvoker) releaseHeld() {
	inv.mu.Lock()
	held := inv.held
	inv.held = nil
	inv.mu.Unlock()
	for _, m := range held {
		inv.ack(m, false)
	}
}

// has reports whether the invoker received activation id.
func (inv *fakeInvoker) has(id string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.got[id] != nil
}

// healthActions counts the health test activations received.
func (inv *fakeInvoker) healthActions() []*messaging.ActivationMessage {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var out []*messaging.ActivationMessage
	for _, m := range inv.got {
		if isHealthAction(m) {
			out = append(out, m)
		}
	}
	return out
}

func (inv *fakeInvoker) ping(enabled bool) {
	inv.t.Helper()
	p := messaging.PingMessage{Invoker: inv.instance(), IsEnabled: enabled}
	if err := inv.producer.Send(context.Background(), messaging.TopicHealth, p.AppendJSON(nil)); err != nil {
		inv.t.Fatalf("invoker%d: ping: %v", inv.id, err)
	}
}

// shardingHarness is a sharding balancer on a lean bus with fake invokers
// and a manual clock.
type shardingHarness struct {
	t        *testing.T
	bus      *lean.Bus
	clock    *fakeClock
	lb       *Sharding
	invokers []*fakeInvoker
	health   *entity.Action
	cancel   context.CancelFunc
	runErr   chan error

	mu          sync.Mutex
	healthCalls []int // invoker of each HealthAction call
}

func newShardingHarness(t *testing.T, n int, memory messaging.ByteSize, opts ...func(*Config)) *shardingHarness {
	t.Helper()
	bus := lean.New(lean.Config{})
	h := &shardingHarness{t: t, bus: bus, clock: newFakeClock(), runErr: make(chan error, 1)}
	var err error
	h.health, err = HealthTestAction("0", testManifest(t), h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Producer:            bus.Producer(),
		Acks:                bus.Consumer(messaging.CompletedTopic("0"), messaging.CompletedTopic("0")),
		Health:              bus.Consumer(messaging.TopicHealth, "health0"),
		Now:                 h.clock.Now,
		AfterFunc:           h.clock.AfterFunc,
		HealthCheckInterval: time.Hour, // the test ticks with checkHealth
		HealthAction: func(ctx context.Context, i int) error {
			h.mu.Lock()
			h.healthCalls = append(h.healthCalls, i)
			h.mu.Unlock()
			return h.lb.SendHealthAction(ctx, i, h.health)
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.lb, err = NewSharding(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		h.invokers = append(h.invokers, startFakeInvoker(t, bus, i, memory))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.runErr <- h.lb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.runErr
		_ = bus.Close()
	})
	return h
}

func testManifest(t *testing.T) *entity.Manifest {
	t.Helper()
	m, err := entity.ParseManifest([]byte(`{"runtimes":{"nodejs":[{"kind":"nodejs:20","default":true,"image":{"name":"action-nodejs-v20"}},
		{"kind":"nodejs:18","image":{"name":"action-nodejs-v18"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// eventually polls cond until it holds (the balancer processes pings and
// acks asynchronously); it fails after a generous real-time deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *shardingHarness) statuses() []string {
	var out []string
	for _, s := range h.lb.Invokers() {
		out = append(out, s.Status)
	}
	return out
}

// waitStatus waits until the invokers show want ("up", "down", ...).
func (h *shardingHarness) waitStatus(want ...string) {
	h.t.Helper()
	eventually(h.t, "invoker states "+join(want), func() bool { return slices.Equal(h.statuses(), want) })
}

func join(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

func (h *shardingHarness) healthCallCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.healthCalls)
}

// bringUp pings every invoker and waits until all are up (through the
// health test action each answers).
func (h *shardingHarness) bringUp() {
	h.t.Helper()
	want := make([]string, len(h.invokers))
	for i, inv := range h.invokers {
		inv.ping(true)
		want[i] = "up"
	}
	h.waitStatus(want...)
}

// pingSome pings the given invokers and waits until the balancer
// processed the pings (their last ping is the clock's now; the test
// advances the clock between rounds of pings).
func (h *shardingHarness) pingSome(ids ...int) {
	h.t.Helper()
	for _, i := range ids {
		h.invokers[i].ping(true)
	}
	now := h.clock.Now()
	eventually(h.t, "the pings to be processed", func() bool {
		h.lb.mu.Lock()
		defer h.lb.mu.Unlock()
		for _, i := range ids {
			if i >= len(h.lb.invokers) || !h.lb.invokers[i].health.lastPing.Equal(now) {
				return false
			}
		}
		return true
	})
}

func (h *shardingHarness) request(ns, name string, memMB int, blocking bool) controller.ActivationRequest {
	h.t.Helper()
	a, err := entity.NewAction(entity.NewFQN(ns, "", name), entity.ActionPut{
		Exec:   &entity.Exec{Kind: "nodejs:20", Code: "function main(){}"},
		Limits: &entity.ActionLimitsPut{Memory: &memMB},
	}, 1, entity.DefaultSystemLimits())
	if err != nil {
		h.t.Fatal(err)
	}
	a.SetRevision("1-abc")
	return controller.ActivationRequest{
		ActivationID: entity.NewActivationID(), TransactionID: "tid-" + name,
		Identity: entity.NewIdentity(ns, entity.NamespaceKey{Name: ns, UUID: entity.GuestUUID, Key: entity.GuestKey}, entity.UserLimits{}),
		Action:   a, Args: json.RawMessage(`{}`), Blocking: blocking, Received: h.clock.Now(),
	}
}

// activate schedules req and returns the waiter and the invoker that got
// the message.
func (h *shardingHarness) activate(req controller.ActivationRequest) (<-chan *entity.Activation, int) {
	h.t.Helper()
	ch, err := h.lb.Activate(context.Background(), req)
	if err != nil {
		h.t.Fatalf("Activate(%s): %v", req.Action.Name, err)
	}
	got := -1
	eventually(h.t, "an invoker to receive "+req.ActivationID, func() bool {
		for _, inv := range h.invokers {
			if inv.has(req.ActivationID) {
				got = inv.id
				return true
			}
		}
		return false
	})
	return ch, got
}

// expectedHome is where the pure functions place an action of ns invoked
// by ns among n managed invokers.
func expectedHome(ns, name string, n int) int {
	return home(actionHash(ns, ns+"/"+name), n)
}

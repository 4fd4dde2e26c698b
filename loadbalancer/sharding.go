package loadbalancer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// MaxInvokers bounds the invoker instance numbers the sharding balancer
// registers (a ping from a higher instance is dropped).
const MaxInvokers = 4096

// HealthTransactionID is the transaction id of health test activations
// (OpenWhisk's TransactionId.invokerHealth). Their acks, which have no
// in-flight entry, count as results of the acking invoker.
const HealthTransactionID = "sid_invokerHealth"

// Config wires a sharding balancer. Producer, Acks and Health are
// required; zero values of the others take the defaults.
type Config struct {
	// ControllerID is this controller's instance id (default "0").
	ControllerID string
	// ClusterSize is the number of controllers sharing the invokers
	// (default 1): each controller fills 1/ClusterSize of an invoker's
	// memory.
	ClusterSize int
	// Producer publishes ActivationMessages on messaging.InvokerTopic(N).
	Producer messaging.Producer
	// Acks consumes messaging.CompletedTopic(ControllerID).
	Acks messaging.Consumer
	// Health consumes messaging.TopicHealth in this controller's own group
	// ("health<ControllerID>"), so that it sees every ping.
	Health messaging.Consumer
	// ManagedFraction and BlackboxFraction split the invokers (defaults
	// DefaultManagedFraction and DefaultBlackboxFraction).
	ManagedFraction  float64
	BlackboxFraction float64
	// Forced-completion timeout parameters (defaults DefaultTimeoutFloor,
	// DefaultTimeoutFactor, DefaultTimeoutAddon).
	TimeoutFloor  time.Duration
	TimeoutFactor int
	TimeoutAddon  time.Duration
	// Health protocol timings (defaults DefaultHealthyTimeout,
	// DefaultHealthActionInterval, DefaultHealthCheckInterval).
	HealthyTimeout       time.Duration
	HealthActionInterval time.Duration
	HealthCheckInterval  time.Duration
	// HealthAction invokes the health test action on invoker N, typically
	// with SendHealthAction. It runs in its own goroutine with Run's
	// context; an error is logged. nil = never, so a new invoker stays
	// unhealthy (it gets no work to prove itself): the wiring must set it.
	HealthAction func(ctx context.Context, invoker int) error
	// OnForcedCompletion is called, in its own goroutine, for every
	// activation forced complete (no completion ack before the
	// forced-completion timeout), with the accepted request without its
	// Args; the wiring uses it to make sure such an activation gets a
	// record. nil = nothing beyond releasing the slot and the waiter.
	OnForcedCompletion func(req controller.ActivationRequest)
	Logger             *slog.Logger
	// Now and AfterFunc are the clock (default time.Now and
	// time.AfterFunc); AfterFunc runs the forced-completion timers.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) Timer
	// Rand returns a uniform int in [0, n) for the overload fallback
	// (default math/rand/v2.IntN).
	Rand func(n int) int
}

// Sharding is the load balancer of the distributed deployment (OpenWhisk's
// ShardingContainerPoolBalancer): it spreads activations over the healthy
// invokers by the home invoker of each action and the invokers' memory
// slots, tracks invoker health from pings and activation results, and
// keeps the in-flight bookkeeping. Create it with NewSharding, start Run,
// and pass it to the controller as its Activator.
type Sharding struct {
	cfg      Config
	log      *slog.Logger
	timings  healthTimings
	flights  *inflight
	healthID entity.Identity

	mu       sync.Mutex
	invokers []invokerRecord    // by instance number
	slots    []*nestedSemaphore // by instance number
	steps    map[int][]int      // step sizes by set size
	runCtx   context.Context    // Run's context while it runs, else nil
	hooks    sync.WaitGroup     // running HealthAction calls
}

// invokerRecord is one registered invoker (or a placeholder below the
// highest registered instance).
type invokerRecord struct {
	id     messaging.InvokerInstanceID
	health invokerHealth
}

// InvokerStatus is one invoker as GET /invokers shows it.
type InvokerStatus struct {
	Name   string // "invoker0"
	Status string // "up", "down", "unhealthy" or "unresponsive"
}

var (
	_ controller.Activator       = (*Sharding)(nil)
	_ controller.InFlightCounter = (*Sharding)(nil)
)

// NewSharding checks cfg and returns a balancer.
func NewSharding(cfg Config) (*Sharding, error) {
	if cfg.Producer == nil || cfg.Acks == nil || cfg.Health == nil {
		return nil, errors.New("loadbalancer: Config.Producer, Acks and Health are required")
	}
	if cfg.ControllerID == "" {
		cfg.ControllerID = "0"
	}
	if !messaging.ValidControllerID(cfg.ControllerID) {
		return nil, fmt.Errorf("loadbalancer: invalid controller id %q", cfg.ControllerID)
	}
	if cfg.ClusterSize <= 0 {
		cfg.ClusterSize = 1
	}
	if cfg.ManagedFraction <= 0 {
		cfg.ManagedFraction = DefaultManagedFraction
	}
	if cfg.BlackboxFraction <= 0 {
		cfg.BlackboxFraction = DefaultBlackboxFraction
	}
	defaultTimeouts(&cfg.TimeoutFloor, &cfg.TimeoutFactor, &cfg.TimeoutAddon)
	if cfg.HealthyTimeout <= 0 {
		cfg.HealthyTimeout = DefaultHealthyTimeout
	}
	if cfg.HealthActionInterval <= 0 {
		cfg.HealthActionInterval = DefaultHealthActionInterval
	}
	if cfg.HealthCheckInterval <= 0 {
		cfg.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = realAfterFunc
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.IntN
	}
	uuid := entity.NewUUID()
	s := &Sharding{
		cfg:     cfg,
		log:     cfg.Logger,
		timings: healthTimings{healthyTimeout: cfg.HealthyTimeout, testInterval: cfg.HealthActionInterval},
		// A stub identity for the health test action, as OpenWhisk's.
		healthID: entity.NewIdentity(HealthActionNamespace, entity.NamespaceKey{Name: HealthActionNamespace, UUID: uuid, Key: entity.NewKey()}, entity.UserLimits{}),
		steps:    map[int][]int{},
	}
	s.flights = newInflight(cfg.AfterFunc, s.done)
	return s, nil
}

// Activate schedules the activation on an invoker and registers it in
// flight; see controller.Activator. Errors: entity.ErrUnavailable "No
// invokers available." when no invoker is healthy, the balancer is closed
// or the transport refuses the message; entity.ErrTooLarge when the
// message is too large for the transport; ctx's error when ctx ends while
// the transport is busy.
func (s *Sharding) Activate(ctx context.Context, req controller.ActivationRequest) (<-chan *entity.Activation, error) {
	a := req.Action
	if a == nil || !entity.ValidActivationID(req.ActivationID) {
		return nil, errors.New("loadbalancer: activation request without action or valid activation id")
	}
	msg := activationMessage(&req, s.cfg.ControllerID, s.cfg.Now())
	fqn := a.FullName().DocID()
	e := &entry{
		id:            req.ActivationID,
		tid:           req.TransactionID,
		namespace:     controller.ThrottleKey(req.Identity),
		slotKey:       fqn + "@" + a.Version.String(),
		memoryMB:      a.Limits.Memory,
		maxConcurrent: max(1, a.Limits.Concurrency),
		blocking:      req.Blocking,
	}
	if s.cfg.OnForcedCompletion != nil {
		kept := req
		kept.Args = nil
		e.req = &kept
	}
	hash := actionHash(req.Identity.Namespace.Name, fqn)
	invoker, forced, ok := s.place(hash, a.Exec.Kind == entity.KindBlackbox, e)
	if !ok {
		return nil, entity.Errorf(entity.ErrUnavailable, "No invokers available.")
	}
	e.invoker = invoker
	if forced {
		s.log.Warn("system is overloaded; chose an invoker by random assignment", "tid", e.tid, "activationId", e.id, "invoker", invoker)
	}
	timeout := forcedTimeout(time.Duration(a.Limits.Timeout)*time.Millisecond, s.cfg.TimeoutFloor, s.cfg.TimeoutFactor, s.cfg.TimeoutAddon)
	// Register before sending: the ack may arrive before Send returns.
	if err := s.flights.add(e, timeout); err != nil {
		s.releaseSlot(e)
		return nil, err
	}
	topic := messaging.InvokerTopic(invoker)
	if err := messaging.SendActivation(ctx, s.cfg.Producer, topic, msg); err != nil {
		if s.flights.cancel(e) {
			s.releaseSlot(e)
		}
		if errors.Is(err, entity.ErrTooLarge) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return nil, err
		}
		s.log.Warn("publishing an activation failed", "tid", e.tid, "activationId", e.id, "topic", topic, "err", err)
		return nil, entity.Errorf(entity.ErrUnavailable, "No invokers available.")
	}
	if e.done == nil {
		return nil, nil
	}
	return e.done, nil
}

// place picks the invoker for e and takes its slot.
func (s *Sharding) place(hash uint32, blackbox bool, e *entry) (invoker int, forced, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.invokers)
	managed, bb := partition(n, s.cfg.ManagedFraction, s.cfg.BlackboxFraction)
	lo, hi := 0, managed
	if blackbox {
		lo, hi = n-bb, n
	}
	set := make([]invokerState, 0, hi-lo)
	for i := lo; i < hi; i++ {
		set = append(set, invokerState{id: i, usable: s.invokers[i].health.state.usable()})
	}
	st := s.steps[len(set)]
	if st == nil {
		st = steps(len(set))
		s.steps[len(set)] = st
	}
	return schedule(set, s.slots, home(hash, len(set)), stepFor(hash, st), e.slotKey, e.memoryMB, e.maxConcurrent, s.cfg.Rand)
}

// releaseSlot gives back e's slot on its invoker.
func (s *Sharding) releaseSlot(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.invoker < len(s.slots) {
		s.slots[e.invoker].release(e.slotKey, e.maxConcurrent, e.memoryMB)
	}
}

// done is called for every activation that leaves the bookkeeping by an
// ack or by its forced-completion timer: its slot is released and the
// result counts for its invoker's health.
func (s *Sharding) done(e *entry, r result) {
	s.releaseSlot(e)
	if r == resultTimeout {
		s.log.Warn("forced completion of an activation without ack", "tid", e.tid, "activationId", e.id, "invoker", e.invoker)
		if s.cfg.OnForcedCompletion != nil && e.req != nil {
			go s.cfg.OnForcedCompletion(*e.req)
		}
	}
	s.healthEvent(e.invoker, healthEvent{kind: eventResult, result: r})
}

// healthEvent applies ev (at Now) to invoker i, if registered, logs a
// state change and starts the health test action when due.
func (s *Sharding) healthEvent(i int, ev healthEvent) {
	ev.now = s.cfg.Now()
	s.mu.Lock()
	if i < 0 || i >= len(s.invokers) {
		s.mu.Unlock()
		return
	}
	rec := &s.invokers[i]
	old := rec.health.state
	var test bool
	rec.health, test = transition(rec.health, ev, s.timings)
	now := rec.health.state
	s.mu.Unlock()
	s.logChange(i, old, now)
	if test {
		s.startHealthAction(i)
	}
}

func (s *Sharding) logChange(i int, old, now healthState) {
	switch {
	case old == now:
	case now.usable():
		s.log.Info("invoker is "+now.String(), "invoker", i, "was", old.String())
	default:
		s.log.Warn("invoker is "+now.String(), "invoker", i, "was", old.String())
	}
}

// ping registers the pinging invoker (padding the list with Offline
// placeholders up to it), updates its memory share and applies the ping.
func (s *Sharding) ping(p *messaging.PingMessage) {
	i := p.Invoker.Instance
	if i < 0 || i >= MaxInvokers {
		s.log.Warn("dropping a ping from an invoker number out of range", "invoker", i, "max", MaxInvokers-1)
		return
	}
	s.mu.Lock()
	for len(s.invokers) <= i {
		s.invokers = append(s.invokers, invokerRecord{id: messaging.InvokerInstanceID{Instance: len(s.invokers)}})
		s.slots = append(s.slots, newNestedSemaphore(minInvokerSlotMB))
	}
	s.invokers[i].id = p.Invoker
	s.slots[i].permits = invokerSlotMB(p.Invoker.UserMemory, s.cfg.ClusterSize)
	s.mu.Unlock()
	s.healthEvent(i, healthEvent{kind: eventPing, enabled: p.IsEnabled})
}

// checkHealth ticks every invoker's health machine at Now: silent
// invokers go Offline, periodic health test actions start.
func (s *Sharding) checkHealth() {
	s.mu.Lock()
	n := len(s.invokers)
	s.mu.Unlock()
	for i := range n {
		s.healthEvent(i, healthEvent{kind: eventTick})
	}
}

// startHealthAction runs HealthAction for invoker i in its own goroutine,
// if Run is running.
func (s *Sharding) startHealthAction(i int) {
	if s.cfg.HealthAction == nil {
		return
	}
	s.mu.Lock()
	ctx := s.runCtx
	if ctx == nil {
		s.mu.Unlock()
		return
	}
	s.hooks.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.hooks.Done()
		if err := s.cfg.HealthAction(ctx, i); err != nil && ctx.Err() == nil {
			s.log.Warn("invoking the health test action failed", "invoker", i, "err", err)
		}
	}()
}

// Run consumes acks and pings and checks invoker health every
// HealthCheckInterval, until ctx ends or the ack consumer is closed
// (messaging.ErrClosed; other Fetch errors are logged and retried; a
// closed health consumer only stops the pings, so that the invokers go
// down). It then closes the balancer: later Activate calls fail with
// ErrUnavailable and every blocking waiter still open is closed. It
// returns nil when the ack consumer was closed, else ctx's error. Call it
// once.
func (s *Sharding) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	var loops sync.WaitGroup
	loops.Add(2)
	go func() {
		defer loops.Done()
		err := consume(ctx, s.cfg.Health, s.log, "pings", func(m messaging.Message) {
			var p messaging.PingMessage
			if err := json.Unmarshal(m.Value, &p); err != nil {
				s.log.Warn("dropping malformed ping", "offset", m.Offset, "err", err)
				return
			}
			s.ping(&p)
		})
		if err == nil {
			s.log.Warn("the health consumer is closed; no more pings")
		}
	}()
	go func() {
		defer loops.Done()
		t := time.NewTicker(s.cfg.HealthCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.checkHealth()
			}
		}
	}()
	err := consume(ctx, s.cfg.Acks, s.log, "acks", func(m messaging.Message) {
		a, err := messaging.AckFrom(&m)
		if err != nil {
			s.log.Warn("dropping malformed ack", "offset", m.Offset, "err", err)
			return
		}
		s.processAck(&a)
	})
	cancel()
	loops.Wait()
	s.mu.Lock()
	s.runCtx = nil
	s.mu.Unlock()
	s.hooks.Wait()
	s.flights.close()
	return err
}

// processAck applies an ack to its in-flight entry (its slot and health
// result follow through done). The completion of a health test action
// (no entry, HealthTransactionID) counts as a result of the acking
// invoker; other acks for unknown activations are ignored.
func (s *Sharding) processAck(a *messaging.Ack) {
	if s.flights.ack(a) {
		if a.IsSystemError {
			s.log.Warn("activation ended with a system error", "tid", a.TransID.ID, "activationId", a.ActivationID)
		}
		return
	}
	if a.TransID.ID == HealthTransactionID && a.FreesSlot() {
		r := resultSuccess
		if a.IsSystemError {
			r = resultSystemError
		}
		s.log.Debug("health test action completed", "invoker", a.Invoker.Instance, "activationId", a.ActivationID, "result", r.String())
		s.healthEvent(a.Invoker.Instance, healthEvent{kind: eventResult, result: r})
		return
	}
	s.log.Debug("ack for an activation not in flight", "tid", a.TransID.ID, "activationId", a.ActivationID, "kind", a.Kind.String())
}

// Invokers lists every invoker by instance number with its state, for GET
// /invokers (placeholders below the highest registered invoker are
// "down").
func (s *Sharding) Invokers() []InvokerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]InvokerStatus, len(s.invokers))
	for i, rec := range s.invokers {
		out[i] = InvokerStatus{Name: "invoker" + strconv.Itoa(i), Status: rec.health.state.String()}
	}
	return out
}

// InFlight reports how many activations are in flight and the memory they
// hold.
func (s *Sharding) InFlight() (count, memoryMB int) { return s.flights.counts() }

// NamespaceInFlight returns the number of this controller's in-flight
// activations of the namespace with controller.ThrottleKey key (the
// concurrentInvocations throttle); see controller.InFlightCounter.
func (s *Sharding) NamespaceInFlight(key string) int { return s.flights.namespaceCount(key) }

// FreeMemory reports the memory this controller may still fill on
// invoker i (negative when overloaded), or 0 for an unknown invoker.
func (s *Sharding) FreeMemory(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.slots) {
		return 0
	}
	return s.slots[i].free()
}

package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// LeanConfig wires a lean balancer. Producer is required.
type LeanConfig struct {
	// Producer publishes ActivationMessages on messaging.InvokerTopic(Invoker).
	Producer messaging.Producer
	// Acks consumes messaging.CompletedTopic(ControllerID); Run reads it.
	// Without it, the transport passes each ack to HandleAck (see
	// lean.Bus.Handle).
	Acks messaging.Consumer
	// ControllerID is this controller's instance id (default "0").
	ControllerID string
	// Invoker is the number of the one invoker (default 0).
	Invoker int
	// UserMemoryMB is the invoker's container memory (default 2048, as the
	// pool and the invoker). The lean balancer never refuses work for
	// memory (it has one invoker and the invoker buffers), it only reports
	// overload in the log.
	UserMemoryMB int
	// Forced-completion timeout parameters; zero values take the defaults
	// DefaultTimeoutFloor, DefaultTimeoutFactor and DefaultTimeoutAddon.
	TimeoutFloor  time.Duration
	TimeoutFactor int
	TimeoutAddon  time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// Lean is the load balancer of the standalone server: one in-process
// invoker behind the same messages and bookkeeping as the distributed
// balancer. Create it with NewLean, start Run, and pass it to the
// controller as its Activator.
type Lean struct {
	cfg     LeanConfig
	log     *slog.Logger
	topic   string
	flights *inflight
}

var (
	_ controller.Activator       = (*Lean)(nil)
	_ controller.InFlightCounter = (*Lean)(nil)
)

// NewLean checks cfg and returns a balancer.
func NewLean(cfg LeanConfig) (*Lean, error) {
	if cfg.Producer == nil {
		return nil, errors.New("loadbalancer: LeanConfig.Producer is required")
	}
	if cfg.ControllerID == "" {
		cfg.ControllerID = "0"
	}
	if !messaging.ValidControllerID(cfg.ControllerID) {
		return nil, fmt.Errorf("loadbalancer: invalid controller id %q", cfg.ControllerID)
	}
	if cfg.Invoker < 0 {
		return nil, fmt.Errorf("loadbalancer: invalid invoker number %d", cfg.Invoker)
	}
	if cfg.UserMemoryMB <= 0 {
		cfg.UserMemoryMB = 2048
	}
	defaultTimeouts(&cfg.TimeoutFloor, &cfg.TimeoutFactor, &cfg.TimeoutAddon)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Lean{cfg: cfg, log: cfg.Logger, topic: messaging.InvokerTopic(cfg.Invoker)}
	l.flights = newInflight(nil, l.done)
	return l, nil
}

// Activate publishes the activation to the invoker and registers it in
// flight; see controller.Activator. Errors: entity.ErrUnavailable when the
// balancer or the bus is closed (or the bus stays full), entity.ErrTooLarge
// when the message is too large for the bus, ctx's error when ctx ends
// while the bus is full.
func (l *Lean) Activate(ctx context.Context, req controller.ActivationRequest) (<-chan *entity.Activation, error) {
	if req.Action == nil || !entity.ValidActivationID(req.ActivationID) {
		return nil, errors.New("loadbalancer: activation request without action or valid activation id")
	}
	msg := activationMessage(&req, l.cfg.ControllerID, l.cfg.Now())
	e := &entry{
		id: req.ActivationID, tid: req.TransactionID, namespace: controller.ThrottleKey(req.Identity),
		invoker: l.cfg.Invoker, memoryMB: req.Action.Limits.Memory, blocking: req.Blocking,
	}
	timeout := forcedTimeout(time.Duration(req.Action.Limits.Timeout)*time.Millisecond, l.cfg.TimeoutFloor, l.cfg.TimeoutFactor, l.cfg.TimeoutAddon)

	// Register before sending: the ack may arrive before Send returns.
	if err := l.flights.add(e, timeout); err != nil {
		return nil, err
	}
	if _, mem := l.flights.counts(); mem > l.cfg.UserMemoryMB {
		l.log.Debug("invoker memory exhausted by in-flight activations; queuing", "tid", e.tid, "activationId", e.id, "invoker", l.cfg.Invoker)
	}

	if err := messaging.SendActivation(ctx, l.cfg.Producer, l.topic, msg); err != nil {
		l.flights.cancel(e)
		if errors.Is(err, entity.ErrTooLarge) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return nil, err
		}
		l.log.Warn("publishing an activation failed", "tid", e.tid, "activationId", e.id, "topic", l.topic, "err", err)
		return nil, entity.Errorf(entity.ErrUnavailable, "No invokers available.")
	}
	if e.done == nil {
		return nil, nil
	}
	return e.done, nil
}

// done is called for every activation that leaves the bookkeeping by an
// ack or by its forced-completion timer.
func (l *Lean) done(e *entry, r result) {
	if r == resultTimeout {
		l.log.Warn("forced completion of an activation without ack", "tid", e.tid, "activationId", e.id, "invoker", l.cfg.Invoker)
	}
}

// Run consumes acks until ctx ends or the ack consumer is closed
// (messaging.ErrClosed; other Fetch errors are logged and retried), then
// closes the balancer: later Activate calls fail with ErrUnavailable and
// every blocking waiter still open is closed. It returns nil when the
// consumer was closed, else ctx's error. Without LeanConfig.Acks it only
// waits for ctx to end, closes the balancer and returns nil.
func (l *Lean) Run(ctx context.Context) error {
	defer l.flights.close()
	if l.cfg.Acks == nil {
		<-ctx.Done()
		return nil
	}
	return consume(ctx, l.cfg.Acks, l.log, "acks", l.HandleAck)
}

// HandleAck applies one message of the ack topic, as Run does with every
// message it fetches. A malformed ack is logged and dropped.
func (l *Lean) HandleAck(m messaging.Message) {
	a, err := messaging.AckFrom(&m)
	if err != nil {
		l.log.Warn("dropping malformed ack", "offset", m.Offset, "err", err)
		return
	}
	l.processAck(&a)
}

// processAck applies an ack to its in-flight entry. Acks for unknown
// activations (forced complete already, or a duplicate) are ignored.
func (l *Lean) processAck(a *messaging.Ack) {
	if !l.flights.ack(a) {
		l.log.Debug("ack for an activation not in flight", "tid", a.TransID.ID, "activationId", a.ActivationID, "kind", a.Kind.String())
		return
	}
	if a.IsSystemError {
		l.log.Warn("activation ended with a system error", "tid", a.TransID.ID, "activationId", a.ActivationID)
	}
}

// InFlight reports how many activations are in flight and the memory they
// hold.
func (l *Lean) InFlight() (count, memoryMB int) { return l.flights.counts() }

// NamespaceInFlight returns the number of in-flight activations of the
// namespace with controller.ThrottleKey key (the concurrentInvocations
// throttle); see controller.InFlightCounter.
func (l *Lean) NamespaceInFlight(key string) int { return l.flights.namespaceCount(key) }

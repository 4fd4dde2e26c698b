// Package invoker is the invoker's service loop: it consumes
// ActivationMessages from invoker<N>, fetches each action by name and
// revision (cached), runs it through the container pool, acknowledges the
// activation on completed<controller> and then stores its record
// (reference §4.1, §4.8).
//
// Sequences run in the controller (controller/sequence.go), which invokes
// their components: an ActivationMessage naming a sequence action itself
// ends in an application-error record saying so.
package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/messaging"
)

// Runner runs a job to its outcome; *pool.Pool implements it. Run blocks
// until the job is done and reports every failure in the outcome.
type Runner interface {
	Run(ctx context.Context, job pool.Job) pool.Outcome
}

var _ Runner = (*pool.Pool)(nil)

// Messages of records for activations that could not run (OpenWhisk's
// Messages).
const (
	MsgActionNotFound     = "Action could not be found or may have been deleted."
	MsgActionMismatch     = "Action version is not compatible and cannot be invoked."
	MsgActionFetchFailed  = "Action could not be fetched."
	MsgSequenceNotHandled = "Sequences are run by the controller, not by an invoker."
)

// Defaults of Config.
const (
	DefaultUserMemoryMB = 2048
	// slotMB is the memory of one concurrent activation slot (OpenWhisk's
	// maxPeek = userMemory / 128 MB).
	slotMB = 128
	// storeTimeout bounds the ack and the record write of one activation.
	storeTimeout = 30 * time.Second
	// fetchRetryDelay is the pause after a failed Fetch.
	fetchRetryDelay = 100 * time.Millisecond
)

// Config wires an invoker. Consumer, Producer, Entities, Activations, Pool
// and Manifest are required.
type Config struct {
	// ID is the invoker's number: Consumer reads messaging.InvokerTopic(ID).
	ID          int
	Consumer    messaging.Consumer
	Producer    messaging.Producer
	Entities    entity.Store
	Activations entity.Activations
	Pool        Runner
	Manifest    *entity.Manifest
	// Limits are the system limits an action is re-checked against with
	// the namespace's limits (zero: entity.DefaultSystemLimits()).
	Limits entity.SystemLimits
	// UserMemoryMB is the pool's memory (default 2048): it sizes the
	// number of activations handled at once and is reported in acks.
	UserMemoryMB int
	// MaxConcurrent overrides the number of activations handled at once
	// (default UserMemoryMB / 128).
	MaxConcurrent int
	// APIHost is given to every container as __OW_API_HOST.
	APIHost string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Invoker is the service loop. Create it with New and start Run.
type Invoker struct {
	cfg     Config
	log     *slog.Logger
	self    messaging.InvokerInstanceID
	actions *actionCache
	sem     chan struct{}
}

// New checks cfg and returns an invoker.
func New(cfg Config) (*Invoker, error) {
	switch {
	case cfg.Consumer == nil || cfg.Producer == nil:
		return nil, errors.New("invoker: Config.Consumer and Producer are required")
	case cfg.Entities == nil || cfg.Activations == nil:
		return nil, errors.New("invoker: Config.Entities and Activations are required")
	case cfg.Pool == nil:
		return nil, errors.New("invoker: Config.Pool is required")
	case cfg.Manifest == nil:
		return nil, errors.New("invoker: Config.Manifest is required")
	case cfg.ID < 0:
		return nil, fmt.Errorf("invoker: invalid id %d", cfg.ID)
	}
	if cfg.Limits == (entity.SystemLimits{}) {
		cfg.Limits = entity.DefaultSystemLimits()
	}
	if cfg.UserMemoryMB <= 0 {
		cfg.UserMemoryMB = DefaultUserMemoryMB
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = max(cfg.UserMemoryMB/slotMB, 1)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Invoker{
		cfg:     cfg,
		log:     cfg.Logger,
		self:    messaging.InvokerInstanceID{Instance: cfg.ID, UserMemory: messaging.ByteSize(cfg.UserMemoryMB) * messaging.MB},
		actions: newActionCache(cfg.Entities, actionCacheSize),
		sem:     make(chan struct{}, cfg.MaxConcurrent),
	}, nil
}

// Run consumes activations until ctx ends or the consumer is closed
// (messaging.ErrClosed), then waits for the activations in progress; other
// Fetch errors are logged and retried. Messages are committed as soon as
// they are fetched (at-most-once, as OpenWhisk). It returns nil when the
// consumer was closed, else ctx's error.
func (inv *Invoker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case inv.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		m, err := inv.cfg.Consumer.Fetch(ctx)
		if err != nil {
			<-inv.sem
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, messaging.ErrClosed):
				return nil
			}
			inv.log.Warn("invoker: fetching activations; retrying", "err", err)
			if !sleep(ctx, fetchRetryDelay) {
				return ctx.Err()
			}
			continue
		}
		if err := inv.cfg.Consumer.Commit(ctx, m); err != nil {
			inv.log.Warn("invoker: committing offset", "offset", m.Offset, "err", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inv.sem }()
			inv.handle(ctx, &m)
		}()
	}
}

// handle runs one activation message to its ack and record.
func (inv *Invoker) handle(ctx context.Context, m *messaging.Message) {
	msg, err := messaging.ActivationFrom(m)
	if err != nil {
		inv.log.Warn("invoker: dropping malformed activation message", "err", err)
		return
	}
	log := inv.log.With("tid", msg.TransID.ID, "activationId", msg.ActivationID)
	rec := inv.execute(ctx, msg, log)
	// The ack and the record outlive a cancelled ctx: the activation ran.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	inv.ack(octx, msg, rec, log)
	if !storesActivations(&msg.User) {
		return
	}
	if err := inv.cfg.Activations.Put(octx, rec); err != nil {
		log.Error("invoker: storing the activation record", "err", err)
	}
}

// execute fetches the action and runs it, or returns a fallback record.
func (inv *Invoker) execute(ctx context.Context, msg *messaging.ActivationMessage, log *slog.Logger) *entity.Activation {
	a, err := inv.actions.get(ctx, msg.Action.FQN(), msg.Revision)
	if err != nil {
		log.Info("invoker: action not runnable", "action", msg.Action.FQN().DocID(), "err", err)
		return fallbackRecord(msg, "", fetchFailure(err), inv.cfg.Now())
	}
	if a.Exec.Kind == entity.KindSequence {
		return fallbackRecord(msg, entity.KindSequence, entity.ErrorResponse(entity.StatusApplicationError, MsgSequenceNotHandled), inv.cfg.Now())
	}
	if err := inv.cfg.Limits.Effective(msg.User.Limits).CheckAction(a.Limits); err != nil {
		return fallbackRecord(msg, "", entity.ErrorResponse(entity.StatusApplicationError, err.Error()), inv.cfg.Now())
	}
	kind, image, native, ok := runtimeSpec(inv.cfg.Manifest, &a.Exec)
	if !ok {
		_, kerr := inv.cfg.Manifest.CheckKind(a.Exec.Kind)
		return fallbackRecord(msg, a.Exec.Kind, entity.ErrorResponse(entity.StatusWhiskError, kerr.Error()), inv.cfg.Now())
	}
	job := buildJob(jobInput{msg: msg, action: a, kind: kind, image: image, native: native,
		apiHost: inv.cfg.APIHost, invoker: inv.cfg.ID, now: inv.cfg.Now()})
	out := inv.cfg.Pool.Run(ctx, job)
	return record(msg, a, kind, &out)
}

// fetchFailure is the response of an activation whose action could not be
// fetched (OpenWhisk's InvokerReactive).
func fetchFailure(err error) entity.Response {
	switch {
	case errors.Is(err, entity.ErrNotFound):
		return entity.ErrorResponse(entity.StatusApplicationError, MsgActionNotFound)
	case errors.Is(err, entity.ErrWrongCollection):
		return entity.ErrorResponse(entity.StatusWhiskError, MsgActionMismatch)
	}
	return entity.ErrorResponse(entity.StatusWhiskError, MsgActionFetchFailed)
}

// ack sends the activation's ack to its controller. A combined ack too
// large for the transport is shrunk to the activation id (the controller
// then reads the record from the store).
func (inv *Invoker) ack(ctx context.Context, msg *messaging.ActivationMessage, rec *entity.Activation, log *slog.Logger) {
	a := ackFor(msg, rec, inv.self)
	topic := messaging.CompletedTopic(msg.RootControllerIndex.AsString)
	err := messaging.SendAck(ctx, inv.cfg.Producer, topic, &a)
	if errors.Is(err, entity.ErrTooLarge) && a.Record != nil {
		shrunk := a
		shrunk.Record = nil
		err = messaging.SendAck(ctx, inv.cfg.Producer, topic, &shrunk)
	}
	if err != nil {
		log.Error("invoker: sending the ack", "topic", topic, "err", err)
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
)

// MsgLostActivation is the error of the record stored for an activation
// that never completed.
const MsgLostActivation = "The activation did not complete: its invoker did not acknowledge it before the forced-completion timeout (the invoker may have failed)."

// lostRecordGrace is how long after the load balancer's forced completion
// the record is looked for: a record the invoker was still writing is
// there by then.
const lostRecordGrace = 2 * time.Second

// lostRecordTimeout bounds the store calls of one check.
const lostRecordTimeout = 30 * time.Second

// lostRecords makes sure every activation the sharding balancer forced
// complete (no ack before its forced-completion timeout) ends with a
// record: lostRecordGrace later it looks for the activation's record and,
// if the invoker never wrote one (it crashed with the activation in
// flight, or its ack and record were lost), stores a whisk internal error
// record saying so, so that no activation is silently lost (issue 5).
// Namespaces that do not store activations are skipped. It is fed by the
// balancer's OnForcedCompletion hook.
//
// Pending checks live in this controller's memory: a controller that
// restarts forgets the checks of the activations it had in flight.
type lostRecords struct {
	activations entity.Activations
	grace       time.Duration
	log         *slog.Logger
	now         func() time.Time

	mu      sync.Mutex
	closed  bool
	pending map[string]*time.Timer // by activation id
	checks  sync.WaitGroup
}

// pendingActivation is what a lost activation's record is built from.
type pendingActivation struct {
	id, namespace, subject, cause string
	action                        entity.FQN
	version                       entity.SemVer
	kind                          string
	start                         time.Time
}

func newLostRecords(acts entity.Activations, log *slog.Logger) *lostRecords {
	return &lostRecords{activations: acts, grace: lostRecordGrace, log: log, now: time.Now, pending: map[string]*time.Timer{}}
}

// forced schedules the check of the record of req, an activation the
// balancer forced complete (its OnForcedCompletion hook).
func (l *lostRecords) forced(req controller.ActivationRequest) {
	if req.Action == nil {
		return
	}
	if sa := req.Identity.Limits.StoreActivations; sa != nil && !*sa {
		return
	}
	start := req.Received
	if start.IsZero() {
		start = l.now()
	}
	p := &pendingActivation{
		id: req.ActivationID, namespace: req.Identity.Namespace.Name, subject: req.Identity.Subject, cause: req.Cause,
		action: req.Action.FullName(), version: req.Action.Version, kind: req.Action.Exec.Kind, start: start,
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.pending[p.id] = time.AfterFunc(l.grace, func() { l.check(p) })
}

// check stores the whisk error record of p unless its record exists.
func (l *lostRecords) check(p *pendingActivation) {
	l.mu.Lock()
	if l.closed || l.pending[p.id] == nil {
		l.mu.Unlock()
		return
	}
	delete(l.pending, p.id)
	l.checks.Add(1)
	l.mu.Unlock()
	defer l.checks.Done()

	ctx, cancel := context.WithTimeout(context.Background(), lostRecordTimeout)
	defer cancel()
	_, err := l.activations.Get(ctx, p.namespace, p.id)
	switch {
	case err == nil:
		return
	case !errors.Is(err, entity.ErrNotFound):
		l.log.Error("looking for the record of an activation forced complete", "activationId", p.id, "err", err)
		return
	}
	rec := lostRecord(p, l.now())
	if err := l.activations.Put(ctx, rec); err != nil {
		l.log.Error("storing the record of a lost activation", "activationId", p.id, "err", err)
		return
	}
	l.log.Warn("activation was forced complete without a record; stored a whisk internal error record",
		"activationId", p.id, "action", p.action.DocID())
}

// lostRecord is the whisk internal error record of a lost activation.
func lostRecord(p *pendingActivation, now time.Time) *entity.Activation {
	result, _ := json.Marshal(map[string]string{"error": MsgLostActivation})
	duration := now.Sub(p.start).Milliseconds()
	version := p.version
	if version == (entity.SemVer{}) {
		version = entity.DefaultVersion
	}
	ann := entity.Params{
		{Key: entity.AnnotationPath, Value: entity.JSONValue(p.action.DocID())},
		{Key: entity.AnnotationKind, Value: entity.JSONValue(p.kind)},
	}
	if p.cause != "" {
		ann = append(ann, entity.Param{Key: entity.AnnotationCausedBy, Value: entity.JSONValue("sequence")})
	}
	return &entity.Activation{
		Namespace:    p.namespace,
		Name:         p.action.Name,
		Subject:      p.subject,
		ActivationID: p.id,
		Start:        p.start.UnixMilli(),
		End:          now.UnixMilli(),
		Duration:     &duration,
		Cause:        p.cause,
		Response:     entity.Response{StatusCode: entity.StatusWhiskError, Result: result},
		Logs:         []string{},
		Version:      version,
		Annotations:  ann,
	}
}

// close cancels the pending checks and waits, bounded by ctx, for those
// running.
func (l *lostRecords) close(ctx context.Context) {
	l.mu.Lock()
	l.closed = true
	for id, t := range l.pending {
		t.Stop()
		delete(l.pending, id)
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		l.checks.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

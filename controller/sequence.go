package controller

// Sequence actions (reference §7.4; OpenWhisk's SequenceActions.scala).
//
// The controller runs a sequence itself: its components one after another,
// each a blocking invocation through the same path as POST
// /actions/{name}?blocking=true (resolveInvocation and activate in
// invoke.go) that waits up to the component's timeout + 1 minute. A
// component gets the previous component's result as its arguments (the
// first gets the sequence's arguments) and cause = the sequence's
// activation id; the invoker then annotates its record causedBy:"sequence".
// A nested sequence runs recursively in the same goroutine. The run stops
// at the first result with an "error" field, failed or timed-out component,
// or missing component, and at more than SequenceMaxLength atomic actions
// counted from the start of the topmost sequence. The sequence's own
// activation record (logs = component activation ids, response = the last
// component's, duration = the sum of theirs) is written to the activation
// store by the controller.
//
// Components are not charged to the namespace throttles (OpenWhisk checks
// them with noThrottle): the throttle is a middleware of the HTTP routes,
// and components never pass through a route.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

// Messages of sequence activations (OpenWhisk's Messages).
const (
	msgSequenceFailed = "Sequence failed."
)

// componentWaitSlack is added to a component's timeout to bound the wait
// for its record (OpenWhisk: action timeout + 1 minute).
const componentWaitSlack = time.Minute

// msgSequenceTimeout is the whisk error of a component whose record did not
// arrive in time (Messages.sequenceRetrieveActivationTimeout).
func msgSequenceTimeout(id string) string {
	return "Timeout reached when retrieving activation " + id + " for sequence component."
}

// seqAccount is the state of a running sequence (OpenWhisk's
// SequenceAccounting): what the next component gets and what the record
// will hold. Its methods return updated copies.
type seqAccount struct {
	// count is the number of atomic actions run since the start of the
	// topmost sequence.
	count int
	// response is the last component's response; before the first
	// component, a success holding the sequence's arguments.
	response entity.Response
	// logs are the activation ids of the components run.
	logs []string
	// duration is the sum of the components' durations (ms).
	duration int64
	// maxMemory is the largest memory limit of the components' records,
	// if hasMemory.
	maxMemory int
	hasMemory bool
	// stop ends the sequence (short-circuit).
	stop bool
}

// newSeqAccount starts the account of a sequence whose first component
// gets args, count atomic actions into the topmost sequence.
func newSeqAccount(count int, args json.RawMessage) seqAccount {
	return seqAccount{count: count, response: entity.Response{StatusCode: entity.StatusSuccess, Result: args}, logs: []string{}}
}

// completed is the account after a component that produced record rec
// (for a nested sequence, the nested sequence's record), with count atomic
// actions run so far: its id, duration and memory are tallied and its
// response becomes the last one. The sequence stops if the result has an
// "error" field, and with an application error "Too many actions in the
// sequence." if count exceeds max (SequenceAccounting.maybe).
func (a seqAccount) completed(rec *entity.Activation, count, max int) seqAccount {
	a.logs = append(a.logs[:len(a.logs):len(a.logs)], rec.ActivationID)
	a.count = count
	a.duration += recordDuration(rec)
	if m, ok := memoryLimit(rec); ok && (!a.hasMemory || m > a.maxMemory) {
		a.maxMemory, a.hasMemory = m, true
	}
	a.response = rec.Response
	switch {
	case count > max:
		a.response = entity.ErrorResponse(entity.StatusApplicationError, msgSequenceTooLong)
		a.stop = true
	case hasErrorField(rec.Response.Result):
		a.stop = true
	}
	return a
}

// failed is the account after a component that could not run or whose
// record is missing: resp becomes the last response and the sequence
// stops; id, if known, is logged (SequenceAccounting.fail).
func (a seqAccount) failed(resp entity.Response, id string) seqAccount {
	if id != "" {
		a.logs = append(a.logs[:len(a.logs):len(a.logs)], id)
	}
	a.response = resp
	a.stop = true
	return a
}

// hasErrorField reports whether a result is a JSON object with an "error"
// field: the component failed and the sequence stops there.
func hasErrorField(result json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(result, &m) != nil {
		return false
	}
	_, ok := m["error"]
	return ok
}

// recordDuration is a record's duration in ms: the stored one, else
// end - start.
func recordDuration(rec *entity.Activation) int64 {
	switch {
	case rec.Duration != nil:
		return *rec.Duration
	case rec.End > rec.Start:
		return rec.End - rec.Start
	}
	return 0
}

// memoryLimit is the memory of a record's limits annotation, if it has one
// with a numeric memory.
func memoryLimit(rec *entity.Activation) (int, bool) {
	v, ok := rec.Annotations.Get(entity.AnnotationLimits)
	if !ok {
		return 0, false
	}
	var l struct {
		Memory *json.Number `json:"memory"`
	}
	if json.Unmarshal(v, &l) != nil || l.Memory == nil {
		return 0, false
	}
	n, err := l.Memory.Int64()
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// componentFailure is the response that ends a sequence whose component
// could not be started because of err: an application error "Sequence
// component does not exist." for a missing component, an application error
// with err's message for the caller's errors (4xx: forbidden, invalid
// arguments, deprecated kind, throttled, too large), else a whisk error
// "Sequence failed.".
func componentFailure(err error) entity.Response {
	if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
		return entity.ErrorResponse(entity.StatusApplicationError, msgSequenceNoComponent)
	}
	if status, msg, internal := errorStatus(err); !internal && status < http.StatusInternalServerError {
		return entity.ErrorResponse(entity.StatusApplicationError, msg)
	}
	return entity.ErrorResponse(entity.StatusWhiskError, msgSequenceFailed)
}

// sequenceArgs are the arguments a sequence's first component gets: the
// request body as it is (an object, an array, or {} when empty). The
// sequence's own parameters are not passed on (OpenWhisk passes the
// payload alone); they only guard a final sequence's defined parameters
// against being overridden, as for any action. Errors are ErrInvalid.
func sequenceArgs(params entity.Params, final bool, body []byte) (json.RawMessage, error) {
	if _, err := invokeArgs(params, final, body); err != nil {
		return nil, err
	}
	return invokeArgs(nil, false, body)
}

// componentWait bounds the wait for a component's record.
func componentWait(l entity.ActionLimits) time.Duration {
	return time.Duration(l.Timeout)*time.Millisecond + componentWaitSlack
}

// seqRun describes one run of a sequence.
type seqRun struct {
	inv     invocation     // caller, tid and received of the topmost request
	action  *entity.Action // the resolved sequence
	id      string         // the sequence's activation id
	cause   string         // the parent sequence's id for a nested one
	topmost bool
}

// sequenceRecord builds the activation record of a finished sequence
// (makeSequenceActivation): annotations topmost, path, kind "sequence",
// causedBy "sequence" when nested, waitTime, and limits with the largest
// memory of the components when any reported one; cause only when nested.
func sequenceRecord(r seqRun, acc seqAccount, start, end time.Time) *entity.Activation {
	a := r.action
	ann := entity.Params{
		{Key: entity.AnnotationTopmost, Value: entity.JSONValue(r.topmost)},
		{Key: entity.AnnotationPath, Value: entity.JSONValue(a.FullName().DocID())},
		{Key: entity.AnnotationKind, Value: entity.JSONValue(entity.KindSequence)},
	}
	if !r.topmost {
		ann = append(ann, entity.Param{Key: entity.AnnotationCausedBy, Value: entity.JSONValue(entity.KindSequence)})
	}
	var wait int64
	if !r.inv.received.IsZero() {
		wait = max(start.Sub(r.inv.received).Milliseconds(), 0)
	}
	ann = append(ann, entity.Param{Key: entity.AnnotationWaitTime, Value: entity.JSONValue(wait)})
	if acc.hasMemory {
		l := a.Limits
		l.Memory = acc.maxMemory
		ann = append(ann, entity.Param{Key: entity.AnnotationLimits, Value: entity.JSONValue(l)})
	}
	dur := acc.duration
	rec := &entity.Activation{
		Namespace: r.inv.caller.Namespace.Name, Name: a.Name, Subject: r.inv.caller.Subject,
		ActivationID: r.id, Start: start.UnixMilli(), End: end.UnixMilli(), Duration: &dur,
		Response: acc.response, Logs: acc.logs, Version: a.Version, Annotations: ann,
	}
	if !r.topmost {
		rec.Cause = r.cause
	}
	return rec
}

// invokeSequence starts the topmost run of the resolved sequence ra of
// inv: it checks the arguments and that the caller may activate each
// direct component (ErrForbidden otherwise; missing components fail at run
// time), then runs the sequence in the background, where it continues
// after the request ends. A blocking invocation waits up to inv.timeout
// for the sequence's record, as invoke.
func (s *Server) invokeSequence(ctx context.Context, inv invocation, ra resolvedAction) (id string, rec *entity.Activation, err error) {
	args, err := sequenceArgs(ra.Action.Parameters, ra.Action.Annotations.IsTruthy(entity.AnnotationFinal), inv.body)
	if err != nil {
		return "", nil, err
	}
	if err := s.checkComponentAccess(ctx, inv.caller, ra.Action.Exec.Components); err != nil {
		return "", nil, err
	}
	if s.cfg.Activator == nil {
		return "", nil, entity.ErrUnavailable
	}
	run := seqRun{inv: inv, action: ra.Action, id: entity.NewActivationID(), topmost: true}
	done := make(chan *entity.Activation, 1)
	bg := context.WithoutCancel(ctx)
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		rec, _ := s.runSequence(bg, run, 0, args)
		done <- rec
	}()
	s.log.Debug("sequence started", "tid", inv.tid, "activationId", run.id, "action", ra.Action.FullName().DocID(), "blocking", inv.blocking)
	if !inv.blocking {
		return run.id, nil, nil
	}
	return run.id, s.await(ctx, done, inv.caller.Namespace.Name, run.id, inv.timeout), nil
}

// checkComponentAccess returns ErrForbidden if the caller may not activate
// one of a sequence's components (OpenWhisk checks the direct components'
// ACTIVATE right before it runs a sequence). Other errors (a missing
// component) are left to the run.
func (s *Server) checkComponentAccess(ctx context.Context, caller entity.Identity, comps []string) error {
	for _, c := range comps {
		f, err := entity.ParseComponent(c)
		if err != nil {
			continue
		}
		err = s.checkActionAccess(ctx, caller, resolveDefaultNS(f, caller.Namespace.Name))
		if errors.Is(err, entity.ErrForbidden) {
			return err
		}
	}
	return nil
}

// runSequence runs the components of r.action with args, count atomic
// actions into the topmost sequence, then stores and returns the
// sequence's record and the count of atomic actions after it.
func (s *Server) runSequence(ctx context.Context, r seqRun, count int, args json.RawMessage) (*entity.Activation, int) {
	start := s.cfg.Now()
	limit := s.cfg.Limits.SequenceMaxLength
	acc := newSeqAccount(count, args)
	for _, c := range r.action.Exec.Components {
		if acc.count >= limit {
			acc = acc.failed(entity.ErrorResponse(entity.StatusApplicationError, msgSequenceTooLong), "")
			break
		}
		acc = s.runComponent(ctx, r, c, acc, limit)
		if acc.stop {
			break
		}
	}
	rec := sequenceRecord(r, acc, start, s.cfg.Now())
	if sa := r.inv.caller.Limits.StoreActivations; sa == nil || *sa {
		if err := s.cfg.Activations.Put(ctx, rec); err != nil {
			s.log.Error("storing sequence activation", "tid", r.inv.tid, "activationId", r.id, "err", err)
		}
	}
	s.log.Debug("sequence completed", "tid", r.inv.tid, "activationId", r.id, "statusCode", rec.Response.StatusCode, "components", len(acc.logs))
	return rec, acc.count
}

// runComponent runs component comp of the sequence r with the last
// response's result as its arguments and returns the updated account.
func (s *Server) runComponent(ctx context.Context, r seqRun, comp string, acc seqAccount, limit int) seqAccount {
	f, err := entity.ParseComponent(comp)
	if err != nil {
		return acc.failed(componentFailure(entity.ErrNotFound), "")
	}
	inv := invocation{
		caller: r.inv.caller, name: resolveDefaultNS(f, r.inv.caller.Namespace.Name), body: acc.response.Result,
		blocking: true, tid: r.inv.tid, cause: r.id, received: r.inv.received,
	}
	ra, err := s.resolveInvocation(ctx, inv)
	if err != nil {
		s.log.Info("sequence component not run", "tid", inv.tid, "activationId", r.id, "component", comp, "err", err)
		return acc.failed(componentFailure(err), "")
	}
	if ra.Action.Exec.Kind == entity.KindSequence {
		args, err := sequenceArgs(ra.Action.Parameters, ra.Action.Annotations.IsTruthy(entity.AnnotationFinal), inv.body)
		if err != nil {
			return acc.failed(componentFailure(err), "")
		}
		nested := seqRun{inv: r.inv, action: ra.Action, id: entity.NewActivationID(), cause: r.id}
		rec, count := s.runSequence(ctx, nested, acc.count, args)
		return acc.completed(rec, count, limit)
	}
	if isConductor(ra.Action) { // a nested composition (conductor.go)
		cctx, ok := crossNesting(ctx, limit)
		if !ok {
			return acc.failed(entity.ErrorResponse(entity.StatusApplicationError, msgSequenceTooLong), "")
		}
		rec := s.runComposition(cctx, compRun{inv: r.inv, ra: ra, id: entity.NewActivationID(), cause: r.id}, &compCount{}, inv.body)
		return acc.completed(rec, acc.count+1, limit)
	}
	inv.timeout = componentWait(ra.Action.Limits)
	id, rec, err := s.activateAction(ctx, inv, ra)
	if err != nil {
		s.log.Info("sequence component not run", "tid", inv.tid, "activationId", r.id, "component", comp, "err", err)
		return acc.failed(componentFailure(err), "")
	}
	if rec == nil {
		s.log.Warn("sequence component record not retrieved", "tid", inv.tid, "activationId", r.id, "component", id)
		return acc.failed(entity.ErrorResponse(entity.StatusWhiskError, msgSequenceTimeout(id)), id)
	}
	return acc.completed(rec, acc.count+1, limit)
}

// nestingKey is the context key of the number of times a run crossed from
// a sequence into a composition or back (crossNesting).
type nestingKey struct{}

// crossNesting returns ctx for a composition run as a sequence's component
// or a sequence run as a composition's: each counts its actions afresh (as
// OpenWhisk), so a conductor naming a sequence that holds that conductor
// would nest without end; ok is false once limit such crossings are on
// the stack.
func crossNesting(ctx context.Context, limit int) (context.Context, bool) {
	n, _ := ctx.Value(nestingKey{}).(int)
	if n >= limit {
		return ctx, false
	}
	return context.WithValue(ctx, nestingKey{}, n+1), true
}

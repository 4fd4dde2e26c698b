package controller

// Conductor actions (reference §7.5; OpenWhisk's docs/conductors.md and
// PrimitiveActions.invokeComposition).
//
// An action (not a sequence) with a truthy "conductor" annotation is a
// conductor. Invoking it starts a composition that the controller runs
// itself, as it runs sequences: it activates the conductor with the
// arguments; while the conductor's result names a next "action", it
// activates that component with the result's "params" and activates the
// conductor again with the component's result plus the "state" the
// conductor returned last. A conductor result without "action" ends the
// composition with its "params" (or the whole result); a conductor result
// with an "error" field ends it with that response as it is.
//
// Every activation (the conductor's and the components') is a blocking
// invocation through the invoke path (activateAction in invoke.go) with
// cause = the composition's id and a wait of the action's timeout + 1
// minute. A component that is itself a conductor runs as a nested
// composition that shares the counts of the caller; a sequence component
// runs as a nested sequence (runSequence). A component name that does not
// parse, names an action the caller may not activate or that does not
// exist, or goes beyond SequenceMaxLength components is not fatal: the
// conductor is activated again with {"error": <message>} (plus the state)
// and decides. More than 2×SequenceMaxLength+1 conductor activations end
// the composition with an application error. A component or conductor
// activation that fails or whose record does not arrive ends it with a
// whisk error.
//
// The composition's record (kind "sequence", conductor: true) is written
// to the activation store by the controller: logs = the ids of the
// conductor and component activations in order (a nested composition or
// sequence contributes its own id only), duration = the sum of theirs.
//
// Components are not charged to the namespace throttles: they never pass
// through a route.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

// annotationConductor marks conductor actions and composition records.
const annotationConductor = "conductor"

// Fields of a conductor's result (WhiskActivation.actionField etc.).
const (
	conductorActionField = "action"
	conductorParamsField = "params"
	conductorStateField  = "state"
)

// Messages of compositions (OpenWhisk's Messages).
const (
	msgCompositionTooLong           = "Too many actions in the composition."
	msgCompositionActivationFailure = "Activation failure during composition."
)

func msgCompositionTimeout(id string) string {
	return "Timeout reached when retrieving activation " + id + " during composition."
}

func msgCompositionComponentInvalid(value json.RawMessage) string {
	return "Failed to parse action name from json value " + string(compact(value)) + " during composition."
}

func msgCompositionComponentNotFound(name string) string {
	return "Failed to resolve action with name '" + name + "' during composition."
}

func msgCompositionComponentNotAccessible(name string) string {
	return "Failed entitlement check for action with name '" + name + "' during composition."
}

// isConductor reports whether a resolved action runs as a composition:
// a non-sequence action with a truthy conductor annotation (the
// annotation is ignored on sequences).
func isConductor(a *entity.Action) bool {
	return a != nil && a.Exec.Kind != entity.KindSequence && a.Annotations.IsTruthy(annotationConductor)
}

// conductorStep is what a conductor activation's response asks for.
type conductorStep struct {
	// done ends the composition with response.
	done     bool
	response entity.Response
	// action is the raw value of the result's "action" field (when not
	// done); params are the component's arguments (an object, or nil for
	// none).
	action json.RawMessage
	params json.RawMessage
	// state is the object to add to the conductor's next arguments (nil
	// for none).
	state json.RawMessage
}

// parseConductorResult reads a conductor activation's response: a result
// with an "error" field (or that is not an object) ends the composition
// with the response as it is; a result without "action" ends it with the
// result's "params" (boxed as {"value": v} if not an object) or else the
// whole result, under the activation's status code; otherwise the
// composition continues with the named action. "state" is boxed as
// {"state": v} if not an object.
func parseConductorResult(resp entity.Response) conductorStep {
	var fields map[string]json.RawMessage
	if json.Unmarshal(resp.Result, &fields) != nil || fields == nil {
		return conductorStep{done: true, response: resp}
	}
	if _, ok := fields["error"]; ok {
		return conductorStep{done: true, response: resp}
	}
	var step conductorStep
	if v, ok := fields[conductorParamsField]; ok {
		step.params = boxObject(v, "value")
	}
	if v, ok := fields[conductorStateField]; ok {
		step.state = boxObject(v, conductorStateField)
	}
	next, ok := fields[conductorActionField]
	if !ok {
		result := resp.Result
		if step.params != nil {
			result = step.params
		}
		return conductorStep{done: true, response: entity.Response{StatusCode: resp.StatusCode, Result: result}, state: step.state}
	}
	step.action = next
	return step
}

// boxObject returns v if it is a JSON object, else {key: v}.
func boxObject(v json.RawMessage, key string) json.RawMessage {
	if isJSONObject(v) {
		return compact(v)
	}
	b, err := json.Marshal(map[string]json.RawMessage{key: compact(v)})
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// isJSONObject reports whether v is a valid JSON object.
func isJSONObject(v json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(v, &m) == nil && m != nil
}

// conductorArgs are the arguments of a conductor activation: payload with
// the fields of state added (state wins). Without state, payload is passed
// as it is (an object, an array, or nothing); with state, a payload that is
// not an object is boxed as {"value": payload} first.
func conductorArgs(payload, state json.RawMessage) json.RawMessage {
	if state == nil {
		return payload
	}
	var base entity.Params
	if len(payload) > 0 {
		p, err := entity.ParamsFromObject(boxObject(payload, "value"))
		if err == nil {
			base = p
		}
	}
	over, err := entity.ParamsFromObject(state)
	if err != nil {
		return base.AppendObject(nil)
	}
	return base.Merge(over).AppendObject(nil)
}

// errorObject is {"error": msg}.
func errorObject(msg string) json.RawMessage {
	return entity.ErrorResponse(entity.StatusApplicationError, msg).Result
}

// compCount counts the activations of a composition and of the
// compositions nested in it (OpenWhisk's CompositionAccounting, shared
// between a composition and its nested compositions).
type compCount struct {
	components int
	conductors int
}

// conductorAllowed reports whether one more conductor activation is
// allowed: at most 2×limit+1 per topmost composition.
func (c compCount) conductorAllowed(limit int) bool { return c.conductors <= 2*limit }

// componentAllowed reports whether one more component activation is
// allowed: at most limit per topmost composition.
func (c compCount) componentAllowed(limit int) bool { return c.components < limit }

// nextComponent resolves the "action" value of a conductor result to the
// name of the component to run, against the caller's namespace ns. msg is
// the error fed back to the conductor instead: the value is not a string
// naming an action, or the composition already ran limit components.
func nextComponent(action json.RawMessage, ns string, c compCount, limit int) (name entity.FQN, msg string) {
	var s string
	if json.Unmarshal(action, &s) != nil {
		return entity.FQN{}, msgCompositionComponentInvalid(action)
	}
	f, err := entity.ParseFQN(s, ns)
	if err != nil {
		return entity.FQN{}, msgCompositionComponentInvalid(action)
	}
	if !c.componentAllowed(limit) {
		return entity.FQN{}, msgCompositionTooLong
	}
	return resolveDefaultNS(f, ns), ""
}

// compTally is what a composition's record will hold.
type compTally struct {
	logs      []string
	duration  int64
	maxMemory int
}

// add is the tally after the activation record rec.
func (t compTally) add(rec *entity.Activation) compTally {
	t.logs = append(t.logs[:len(t.logs):len(t.logs)], rec.ActivationID)
	t.duration += recordDuration(rec)
	if m, ok := memoryLimit(rec); ok && m > t.maxMemory {
		t.maxMemory = m
	}
	return t
}

// addID is the tally after an activation whose record is missing.
func (t compTally) addID(id string) compTally {
	t.logs = append(t.logs[:len(t.logs):len(t.logs)], id)
	return t
}

// compRun describes one run of a composition.
type compRun struct {
	inv     invocation     // caller, tid and received of the topmost request
	ra      resolvedAction // the conductor
	id      string         // the composition's activation id
	cause   string         // the parent's id for a nested one
	topmost bool
}

// compositionRecord builds the activation record of a finished composition
// (PrimitiveActions.completeActivation): annotations topmost, path, kind
// "sequence", conductor true, causedBy "sequence" when nested, waitTime,
// and limits = the conductor's with the largest memory of the conductor and
// the activations run; cause only when nested.
func compositionRecord(r compRun, t compTally, resp entity.Response, start, end time.Time) *entity.Activation {
	a := r.ra.Action
	ann := entity.Params{
		{Key: entity.AnnotationTopmost, Value: entity.JSONValue(r.topmost)},
		{Key: entity.AnnotationPath, Value: entity.JSONValue(a.FullName().DocID())},
		{Key: entity.AnnotationKind, Value: entity.JSONValue(entity.KindSequence)},
		{Key: annotationConductor, Value: entity.JSONValue(true)},
	}
	if !r.topmost {
		ann = append(ann, entity.Param{Key: entity.AnnotationCausedBy, Value: entity.JSONValue(entity.KindSequence)})
	}
	var wait int64
	if !r.inv.received.IsZero() {
		wait = max(start.Sub(r.inv.received).Milliseconds(), 0)
	}
	l := a.Limits
	l.Memory = max(l.Memory, t.maxMemory)
	ann = append(ann,
		entity.Param{Key: entity.AnnotationWaitTime, Value: entity.JSONValue(wait)},
		entity.Param{Key: entity.AnnotationLimits, Value: entity.JSONValue(l)})
	logs := t.logs
	if logs == nil {
		logs = []string{}
	}
	dur := t.duration
	rec := &entity.Activation{
		Namespace: r.inv.caller.Namespace.Name, Name: a.Name, Subject: r.inv.caller.Subject,
		ActivationID: r.id, Start: start.UnixMilli(), End: end.UnixMilli(), Duration: &dur,
		Response: resp, Logs: logs, Version: a.Version, Annotations: ann,
	}
	if !r.topmost {
		rec.Cause = r.cause
	}
	return rec
}

// compositionFailure is the response that ends a composition whose
// conductor or component activation could not be started because of err:
// an application error with err's message for the caller's errors (4xx),
// else a whisk error "Activation failure during composition.".
func compositionFailure(err error) entity.Response {
	if status, msg, internal := errorStatus(err); !internal && status < http.StatusInternalServerError {
		return entity.ErrorResponse(entity.StatusApplicationError, msg)
	}
	return entity.ErrorResponse(entity.StatusWhiskError, msgCompositionActivationFailure)
}

// invokeConductor starts the topmost composition of the resolved conductor
// ra of inv: it checks the arguments, then runs the composition in the
// background, where it continues after the request ends. A blocking
// invocation waits up to inv.timeout for the composition's record, as
// invoke.
func (s *Server) invokeConductor(ctx context.Context, inv invocation, ra resolvedAction) (id string, rec *entity.Activation, err error) {
	if _, err := invokeArgs(ra.Action.Parameters, ra.Action.Annotations.IsTruthy(entity.AnnotationFinal), inv.body); err != nil {
		return "", nil, err
	}
	if s.cfg.Activator == nil {
		return "", nil, entity.ErrUnavailable
	}
	run := compRun{inv: inv, ra: ra, id: entity.NewActivationID(), cause: inv.cause, topmost: inv.cause == ""}
	done := make(chan *entity.Activation, 1)
	bg := context.WithoutCancel(ctx)
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		done <- s.runComposition(bg, run, &compCount{}, inv.body)
	}()
	s.log.Debug("composition started", "tid", inv.tid, "activationId", run.id, "action", ra.Action.FullName().DocID(), "blocking", inv.blocking)
	if !inv.blocking {
		return run.id, nil, nil
	}
	return run.id, s.await(ctx, done, inv.caller.Namespace.Name, run.id, inv.timeout), nil
}

// runComposition runs the composition r with the arguments payload,
// counting its activations in c, then stores and returns its record.
func (s *Server) runComposition(ctx context.Context, r compRun, c *compCount, payload json.RawMessage) *entity.Activation {
	start := s.cfg.Now()
	t := compTally{logs: []string{}, maxMemory: r.ra.Action.Limits.Memory}
	resp, t := s.conduct(ctx, r, c, t, payload)
	rec := compositionRecord(r, t, resp, start, s.cfg.Now())
	if sa := r.inv.caller.Limits.StoreActivations; sa == nil || *sa {
		if err := s.cfg.Activations.Put(ctx, rec); err != nil {
			s.log.Error("storing composition activation", "tid", r.inv.tid, "activationId", r.id, "err", err)
		}
	}
	s.log.Debug("composition completed", "tid", r.inv.tid, "activationId", r.id, "statusCode", rec.Response.StatusCode, "activations", len(t.logs))
	return rec
}

// conduct is the loop of a composition: conductor, component, conductor,
// ... until the conductor is done or something fails. It returns the
// composition's response and tally.
func (s *Server) conduct(ctx context.Context, r compRun, c *compCount, t compTally, payload json.RawMessage) (entity.Response, compTally) {
	limit := s.cfg.Limits.SequenceMaxLength
	var state json.RawMessage
	for {
		if !c.conductorAllowed(limit) {
			return entity.ErrorResponse(entity.StatusApplicationError, msgCompositionTooLong), t
		}
		c.conductors++
		rec, fail := s.compActivate(ctx, r, r.ra, conductorArgs(payload, state), &t)
		if rec == nil {
			return fail, t
		}
		step := parseConductorResult(rec.Response)
		state = step.state
		if step.done {
			return step.response, t
		}
		name, msg := nextComponent(step.action, r.inv.caller.Namespace.Name, *c, limit)
		if msg != "" {
			payload = errorObject(msg)
			continue
		}
		params := step.params
		if params == nil {
			params = json.RawMessage("{}")
		}
		rec, fail, msg = s.runCompComponent(ctx, r, c, &t, name, params)
		switch {
		case msg != "":
			payload = errorObject(msg)
		case rec == nil:
			return fail, t
		default:
			payload = rec.Response.Result
		}
	}
}

// runCompComponent runs the component name of composition r with args. It
// returns the component's record; or msg, an error to feed back to the
// conductor (the caller may not activate it, it does not exist); or else
// fail, the response that ends the composition (a deprecated kind, a
// store failure, an activation that failed or timed out).
func (s *Server) runCompComponent(ctx context.Context, r compRun, c *compCount, t *compTally, name entity.FQN, args json.RawMessage) (rec *entity.Activation, fail entity.Response, msg string) {
	ra, err := s.resolveInvocation(ctx, invocation{caller: r.inv.caller, name: name})
	if err != nil {
		s.log.Info("composition component not run", "tid", r.inv.tid, "activationId", r.id, "component", name.DocID(), "err", err)
		switch {
		case errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection):
			return nil, fail, msgCompositionComponentNotFound(name.DocID())
		case errors.Is(err, entity.ErrForbidden):
			return nil, fail, msgCompositionComponentNotAccessible(name.DocID())
		}
		return nil, compositionFailure(err), ""
	}
	switch {
	case isConductor(ra.Action):
		nested := compRun{inv: r.inv, ra: ra, id: entity.NewActivationID(), cause: r.id}
		rec = s.runComposition(ctx, nested, c, args)
		*t = t.add(rec)
		return rec, fail, ""
	case ra.Action.Exec.Kind == entity.KindSequence:
		c.components++
		sargs, err := sequenceArgs(ra.Action.Parameters, ra.Action.Annotations.IsTruthy(entity.AnnotationFinal), args)
		if err != nil {
			return nil, compositionFailure(err), ""
		}
		sctx, ok := crossNesting(ctx, s.cfg.Limits.SequenceMaxLength)
		if !ok {
			return nil, entity.ErrorResponse(entity.StatusApplicationError, msgCompositionTooLong), ""
		}
		nested := seqRun{inv: r.inv, action: ra.Action, id: entity.NewActivationID(), cause: r.id}
		rec, _ = s.runSequence(sctx, nested, 0, sargs)
		*t = t.add(rec)
		return rec, fail, ""
	}
	c.components++
	rec, fail = s.compActivate(ctx, r, ra, args, t)
	return rec, fail, ""
}

// compActivate activates ra (the conductor or a component of composition
// r) with args, blocking up to its timeout + 1 minute, and tallies it. It
// returns the record, or nil and the response that ends the composition.
func (s *Server) compActivate(ctx context.Context, r compRun, ra resolvedAction, args json.RawMessage, t *compTally) (*entity.Activation, entity.Response) {
	inv := invocation{
		caller: r.inv.caller, name: ra.Action.FullName(), body: args, blocking: true,
		timeout: componentWait(ra.Action.Limits), tid: r.inv.tid, cause: r.id, received: r.inv.received,
	}
	id, rec, err := s.activateAction(ctx, inv, ra)
	if err != nil {
		s.log.Info("composition activation not run", "tid", inv.tid, "activationId", r.id, "action", ra.Action.FullName().DocID(), "err", err)
		return nil, compositionFailure(err)
	}
	if rec == nil {
		s.log.Warn("composition activation record not retrieved", "tid", inv.tid, "activationId", r.id, "component", id)
		*t = t.addID(id)
		return nil, entity.ErrorResponse(entity.StatusWhiskError, msgCompositionTimeout(id))
	}
	*t = t.add(rec)
	return rec, entity.Response{}
}

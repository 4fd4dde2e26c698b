package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// headerActivationID carries the activation id on invoke and fire
// responses (OpenWhisk ActivationIdHeader).
const headerActivationID = "x-openwhisk-activation-id"

// Blocking invoke bounds (whisk.controller.activation.max-wait-for-blocking-activation).
const (
	maxBlockingWait = 60 * time.Second
	// storePollInterval is how often a blocking wait looks for the record
	// in the activation store once the activator gave up delivering it.
	storePollInterval = 250 * time.Millisecond
)

// Messages of the invoke route.
const (
	msgParametersNotAllowed = "Request defines parameters that are not allowed (e.g., reserved properties)."
	msgInvalidTimeout       = "Timeout must be number of milliseconds up to 60000."
	msgInvokeBody           = msgMalformed + "the arguments must be a JSON object or a JSON array"
)

func (s *Server) registerInvokeRoutes(ns *gin.RouterGroup) {
	ns.POST("/actions/*name", s.handleInvoke)
}

// invokeOptions are the query parameters of POST /actions/{name}.
type invokeOptions struct {
	blocking bool
	result   bool
	timeout  time.Duration
}

// parseTimeout reads the timeout query value: whole milliseconds in
// 1..60000; absent means the maximum.
func parseTimeout(v string, present bool) (time.Duration, error) {
	if !present {
		return maxBlockingWait, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || time.Duration(n)*time.Millisecond > maxBlockingWait {
		return 0, entity.Invalidf("The query parameter 'timeout' was malformed:\n" + msgInvalidTimeout)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parseInvokeOptions(c *gin.Context) (invokeOptions, error) {
	var o invokeOptions
	var err error
	if o.blocking, err = boolQuery(c, "blocking", false); err != nil {
		return o, err
	}
	if o.result, err = boolQuery(c, "result", false); err != nil {
		return o, err
	}
	v, ok := c.GetQuery("timeout")
	o.timeout, err = parseTimeout(v, ok)
	return o, err
}

// invocation is one request to run an action, from the invoke route or
// from a trigger's rule.
type invocation struct {
	caller   entity.Identity
	name     entity.FQN // as requested: may name an action in a binding
	body     []byte     // JSON object, JSON array, or empty
	blocking bool
	timeout  time.Duration // blocking wait
	tid      string
	cause    string
	received time.Time
}

// handleInvoke answers POST /actions/[pkg/]name.
func (s *Server) handleInvoke(c *gin.Context) {
	_, _, p, fqn, err := s.actionTarget(c)
	if err == nil && p.Listing {
		err = entity.ErrNotFound
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	opts, err := parseInvokeOptions(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	id := callerIdentity(c)
	body, err := s.readBody(c, int64(s.cfg.Limits.Effective(id.Limits).PayloadMax))
	if err != nil {
		s.abort(c, err)
		return
	}
	aid, rec, err := s.invoke(ctx(c), invocation{
		caller: id, name: fqn, body: body, blocking: opts.blocking, timeout: opts.timeout,
		tid: transactionID(c), received: s.cfg.Now(),
	})
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Header(headerActivationID, aid)
	if rec == nil {
		respond(c, http.StatusAccepted, activationIDBody{aid})
		return
	}
	status, out := blockingResponse(rec, opts.result)
	respond(c, status, out)
}

type activationIDBody struct {
	ActivationID string `json:"activationId"`
}

// blockingResponse is the HTTP status and body of a completed blocking
// invoke: 200 for success, 502 for application and developer errors, 500
// for whisk errors; the body is the record in API form, or its result with
// result=true, or an array result as it is.
func blockingResponse(rec *entity.Activation, resultOnly bool) (int, any) {
	status := http.StatusInternalServerError
	switch rec.Response.StatusCode {
	case entity.StatusSuccess:
		status = http.StatusOK
	case entity.StatusApplicationError, entity.StatusDeveloperError:
		status = http.StatusBadGateway
	}
	res := bytes.TrimSpace(rec.Response.Result)
	switch {
	case len(res) > 0 && res[0] == '[':
		return status, json.RawMessage(res)
	case resultOnly && len(res) > 0 && res[0] == '{':
		return status, json.RawMessage(res)
	case resultOnly:
		return status, json.RawMessage("{}")
	}
	return status, rec.API()
}

// invokeArgs builds the arguments of a run from the action's merged
// parameters and the request body: an object body overrides the parameters
// (400 if the action is final and the body sets a defined parameter), an
// array body is passed through unmerged, an empty body gives the
// parameters alone. Anything else is ErrInvalid.
func invokeArgs(params entity.Params, final bool, body []byte) (json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return params.AppendObject(nil), nil
	}
	switch body[0] {
	case '[':
		if !json.Valid(body) {
			return nil, entity.Invalidf(msgMalformed + "the arguments are not valid JSON")
		}
		return compact(body), nil
	case '{':
		if !json.Valid(body) {
			return nil, entity.Invalidf(msgMalformed + "the arguments are not valid JSON")
		}
		over, err := entity.ParamsFromObject(body)
		if err != nil {
			return nil, err
		}
		if final {
			for _, p := range over {
				if v, ok := params.Get(p.Key); ok && string(v) != "null" {
					return nil, entity.Invalidf(msgParametersNotAllowed)
				}
			}
		}
		return params.Merge(over).AppendObject(nil), nil
	}
	return nil, entity.Invalidf(msgInvokeBody)
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return append(json.RawMessage(nil), b...)
	}
	return buf.Bytes()
}

// checkRunnable rejects actions whose kind is deprecated (or no longer in
// the manifest).
func (s *Server) checkRunnable(a *entity.Action) error {
	switch a.Exec.Kind {
	case entity.KindSequence, entity.KindBlackbox:
		return nil
	}
	_, err := s.cfg.Manifest.CheckKind(a.Exec.Kind)
	return err
}

// invoke is the one path that starts an action: entitlement, resolution
// through bindings, argument merging and checks, then the activator; a
// sequence action is run by the controller instead (invokeSequence,
// sequence.go). For a blocking invocation it waits up to inv.timeout for
// the record and returns it; rec is nil for non-blocking invocations and
// when the wait ended first (the caller answers 202 with id). Errors are
// entity-kinded.
func (s *Server) invoke(ctx context.Context, inv invocation) (id string, rec *entity.Activation, err error) {
	ra, err := s.resolveInvocation(ctx, inv)
	if err != nil {
		return "", nil, err
	}
	if ra.Action.Exec.Kind == entity.KindSequence {
		return s.invokeSequence(ctx, inv, ra)
	}
	return s.activate(ctx, inv, ra)
}

// resolveInvocation checks that inv's caller may activate the action it
// names, resolves it through bindings and checks that its kind is still
// runnable.
func (s *Server) resolveInvocation(ctx context.Context, inv invocation) (resolvedAction, error) {
	if err := s.checkActionAccess(ctx, inv.caller, inv.name); err != nil {
		return resolvedAction{}, err
	}
	ra, err := s.resolveAction(ctx, inv.name)
	if err != nil {
		return resolvedAction{}, err
	}
	if err := s.checkRunnable(ra.Action); err != nil {
		return resolvedAction{}, err
	}
	return ra, nil
}

// activate starts the resolved (non-sequence) action ra of inv: a
// conductor as a composition (invokeConductor, conductor.go), any other
// action on the activator (activateAction).
func (s *Server) activate(ctx context.Context, inv invocation, ra resolvedAction) (id string, rec *entity.Activation, err error) {
	if isConductor(ra.Action) {
		return s.invokeConductor(ctx, inv, ra)
	}
	return s.activateAction(ctx, inv, ra)
}

// activateAction starts the resolved (non-sequence) action ra of inv on the
// activator, and for a blocking invocation waits for its record as invoke.
func (s *Server) activateAction(ctx context.Context, inv invocation, ra resolvedAction) (id string, rec *entity.Activation, err error) {
	args, err := invokeArgs(ra.Action.Parameters, ra.Action.Annotations.IsTruthy(entity.AnnotationFinal), inv.body)
	if err != nil {
		return "", nil, err
	}
	if s.cfg.Activator == nil {
		return "", nil, entity.ErrUnavailable
	}
	id = entity.NewActivationID()
	req := ActivationRequest{
		ActivationID: id, TransactionID: inv.tid, Identity: inv.caller, Action: ra.Action,
		Binding: ra.Binding, Args: args, Blocking: inv.blocking, Cause: inv.cause, Received: inv.received,
	}
	done, err := s.cfg.Activator.Activate(ctx, req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return "", nil, entity.Errorf(entity.ErrUnavailable, "The request was cancelled before the activation was scheduled.")
		}
		return "", nil, err
	}
	s.log.Debug("activation scheduled", "tid", inv.tid, "activationId", id, "action", ra.Action.FullName().DocID(), "blocking", inv.blocking)
	if !inv.blocking {
		return id, nil, nil
	}
	return id, s.await(ctx, done, inv.caller.Namespace.Name, id, inv.timeout), nil
}

// await waits up to timeout for the record of activation id: delivered on
// done, or, once done is closed without one, found in the activation
// store. It returns nil when the wait ends first or ctx ends.
func (s *Server) await(ctx context.Context, done <-chan *entity.Activation, ns, id string, timeout time.Duration) *entity.Activation {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for done != nil {
		select {
		case rec, ok := <-done:
			if ok && rec != nil {
				return rec
			}
			done = nil
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	tick := time.NewTicker(storePollInterval)
	defer tick.Stop()
	for {
		rec, err := s.cfg.Activations.Get(ctx, ns, id)
		if err == nil {
			return rec
		}
		if !errors.Is(err, entity.ErrNotFound) {
			s.log.Warn("polling for activation record", "activationId", id, "err", err)
		}
		select {
		case <-tick.C:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// fireTimeout bounds the rule invocations of one trigger fire and the
// write of its activation record, which run after the response was sent.
const fireTimeout = 2 * time.Minute

// paramHeaders is the argument under which trigger-fired actions get the
// lower-cased headers of the fire request.
const paramHeaders = "__ow_headers"

func (s *Server) registerTriggerRoutes(ns *gin.RouterGroup) {
	ns.GET("/triggers", s.handleListTriggers)
	ns.GET("/triggers/", s.handleListTriggers)
	ns.GET("/triggers/:name", s.handleGetTrigger)
	ns.PUT("/triggers/:name", s.handlePutTrigger)
	ns.DELETE("/triggers/:name", s.handleDeleteTrigger)
	ns.POST("/triggers/:name", s.handleFireTrigger)
}

// entityBodyMax bounds the PUT body of a trigger, rule or similar
// entity: parameters and annotations at their limits plus slack.
func entityBodyMax(sys entity.SystemLimits) int64 {
	return 2*int64(sys.ParameterSizeMax) + 1<<20
}

// ownEntity resolves the namespace and the :name of an entity route on a
// collection that only its owner may use (triggers, rules): 403 for a
// foreign namespace, 400 for an illegal name.
func (s *Server) ownEntity(c *gin.Context) (entity.FQN, error) {
	ns, own := s.resolveNamespace(c)
	name := c.Param("name")
	if !entity.ValidName(ns) || !entity.ValidName(name) {
		return entity.FQN{}, entity.Invalidf(entity.MsgIllegalName)
	}
	if !own {
		return entity.FQN{}, entity.ErrForbidden
	}
	return entity.NewFQN(ns, "", name), nil
}

// getTrigger reads a trigger from the store (not the cache: its rules
// change under rule operations).
func (s *Server) getTrigger(ctx context.Context, name entity.FQN) (*entity.Trigger, error) {
	d, err := s.cfg.Entities.Get(ctx, entity.KindTrigger, name)
	if err != nil {
		return nil, err
	}
	t, ok := d.(*entity.Trigger)
	if !ok {
		return nil, entity.ErrWrongCollection
	}
	return t, nil
}

func (s *Server) handleListTriggers(c *gin.Context) {
	listOwn(s, c, entity.KindTrigger, func(d entity.Document) (entity.TriggerSummary, bool) {
		t, ok := d.(*entity.Trigger)
		if !ok {
			return entity.TriggerSummary{}, false
		}
		return t.Summary(), true
	})
}

func (s *Server) handleGetTrigger(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	t, err := s.getTrigger(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, t)
}

// handlePutTrigger creates a trigger, or replaces its fields with
// overwrite=true (annotations wholesale, rules kept, version bumped).
func (s *Server) handlePutTrigger(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	put, r, ok := readPut[entity.TriggerPut](s, c, entityBodyMax)
	if !ok {
		return
	}
	t, err := s.saveTrigger(ctx(c), fqn, put, r.overwrite, r.sys)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, t)
}

func (s *Server) saveTrigger(ctx context.Context, fqn entity.FQN, put entity.TriggerPut, overwrite bool, sys entity.SystemLimits) (*entity.Trigger, error) {
	var params, ann entity.Params
	if put.Parameters != nil {
		params = *put.Parameters
	}
	if put.Annotations != nil {
		ann = *put.Annotations
	}
	if err := entity.CheckSizes(0, params, ann, sys); err != nil {
		return nil, err
	}
	old, err := s.getTrigger(ctx, fqn)
	var t *entity.Trigger
	switch {
	case errors.Is(err, entity.ErrNotFound):
		if t, err = entity.NewTrigger(fqn, put, s.now()); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case !overwrite:
		return nil, entity.ErrExists
	default:
		if t, err = old.Update(put, s.now()); err != nil {
			return nil, err
		}
		t.SetRevision(old.Revision())
	}
	rev, err := s.cfg.Entities.Put(ctx, t)
	if err != nil {
		return nil, err
	}
	t.SetRevision(rev)
	return t, nil
}

func (s *Server) handleDeleteTrigger(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	t, err := s.getTrigger(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	if err := s.cfg.Entities.Delete(ctx(c), entity.KindTrigger, fqn, t.Revision()); err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, t)
}

// handleFireTrigger answers POST /triggers/{name}: 204 without active
// rules; else 202 with the trigger activation id at once, while the rules'
// actions are invoked (non-blocking, as the caller) and the trigger
// activation is stored in the background.
func (s *Server) handleFireTrigger(c *gin.Context) {
	fqn, err := s.ownEntity(c)
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
	payload, err := firePayload(body)
	if err != nil {
		s.abort(c, err)
		return
	}
	t, err := s.getTrigger(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	rules := t.ActiveRules()
	if len(rules) == 0 {
		c.Status(http.StatusNoContent)
		return
	}
	args, err := fireArgs(t.Parameters, requestHeaders(c.Request.Header), payload)
	if err != nil {
		s.abort(c, err)
		return
	}
	rec := &entity.Activation{
		Namespace: id.Namespace.Name, Name: t.Name, Subject: id.Subject,
		ActivationID: entity.NewActivationID(), Start: s.now(), End: 0,
		Response: entity.Response{StatusCode: entity.StatusSuccess, Result: payload},
		Logs:     []string{}, Version: t.Version, Annotations: entity.Params{},
	}
	tid := transactionID(c)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx(c)), fireTimeout)
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer cancel()
		s.activateRules(bg, id, tid, rules, args, rec)
	}()
	c.Header(headerActivationID, rec.ActivationID)
	respond(c, http.StatusAccepted, activationIDBody{rec.ActivationID})
}

// activateRules invokes the action of each rule with args, records one log
// line per rule on the trigger activation rec, and stores rec.
func (s *Server) activateRules(ctx context.Context, caller entity.Identity, tid string, rules map[string]entity.ReducedRule, args []byte, rec *entity.Activation) {
	names := make([]string, 0, len(rules))
	for k := range rules {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, rn := range names {
		r := rules[rn]
		// OpenWhisk posts each rule's invocation to its own invoke route,
		// so it passes the caller's invoke throttles (a 429 is logged as
		// an application error).
		var aid string
		err := s.throttler.CheckInvoke(caller)
		if err == nil {
			aid, _, err = s.invoke(ctx, invocation{
				caller: caller, name: r.Action, body: args, tid: tid, received: s.cfg.Now(),
			})
		}
		rec.Logs = append(rec.Logs, ruleLogLine(rn, r.Action.DocID(), aid, err))
		if err != nil {
			s.log.Info("trigger-fired action not invoked", "tid", tid, "rule", rn, "action", r.Action.DocID(), "err", err)
		}
	}
	if err := s.cfg.Activations.Put(ctx, rec); err != nil {
		s.log.Error("storing trigger activation", "tid", tid, "activationId", rec.ActivationID, "err", err)
	}
}

// ruleResult is one log line of a trigger activation.
type ruleResult struct {
	StatusCode   int    `json:"statusCode"`
	Success      bool   `json:"success"`
	ActivationID string `json:"activationId,omitempty"`
	Error        string `json:"error,omitempty"`
	Rule         string `json:"rule"`
	Action       string `json:"action"`
}

// ruleLogLine formats the result of one rule's invocation: success with the
// action's activation id, or the error with statusCode 3 for errors that
// are HTTP 5xx and 1 for the others.
func ruleLogLine(rule, action, activationID string, err error) string {
	r := ruleResult{Rule: rule, Action: action}
	if err == nil {
		r.StatusCode, r.Success, r.ActivationID = entity.StatusSuccess, true, activationID
	} else {
		status, msg, _ := errorStatus(err)
		r.StatusCode, r.Error = entity.StatusApplicationError, msg
		if status >= 500 {
			r.StatusCode = entity.StatusWhiskError
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r)
	return strings.TrimSuffix(buf.String(), "\n")
}

// firePayload validates the body of a fire: empty (the payload is {}) or
// a JSON object, returned compact.
func firePayload(body []byte) (json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return json.RawMessage("{}"), nil
	}
	if body[0] != '{' || !json.Valid(body) {
		return nil, entity.Invalidf(msgMalformed + "the payload must be a JSON object")
	}
	return compact(body), nil
}

// fireArgs builds the arguments of the actions a fire invokes: the
// trigger's parameters overridden by {"__ow_headers": headers} and then by
// the payload.
func fireArgs(params entity.Params, headers map[string]string, payload json.RawMessage) ([]byte, error) {
	h, err := json.Marshal(headers)
	if err != nil {
		return nil, err
	}
	over, err := entity.ParamsFromObject(payload)
	if err != nil {
		return nil, err
	}
	return params.Set(paramHeaders, h).Merge(over).AppendObject(nil), nil
}

// requestHeaders returns the request headers with lower-cased names
// (several values joined by ", "), without Authorization: the caller's
// credentials are not passed on to the actions.
func requestHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "authorization" {
			continue
		}
		out[lk] = strings.Join(vs, ", ")
	}
	return out
}

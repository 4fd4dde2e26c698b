package controller

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Messages of the rule routes (OpenWhisk Rules.scala).
const (
	msgRuleRefsRequired  = "rule requires a valid trigger and a valid action"
	msgRuleNeedsTrigger  = "Only rules with existing triggers can be activated"
	msgRuleStatusInvalid = msgMalformed + "status must be either 'active' or 'inactive'"
)

// triggerUpdateRetries bounds the read-modify-write attempts on a
// trigger's rules map when concurrent writes conflict.
const triggerUpdateRetries = 5

func (s *Server) registerRuleRoutes(ns *gin.RouterGroup) {
	ns.GET("/rules", s.handleListRules)
	ns.GET("/rules/", s.handleListRules)
	ns.GET("/rules/:name", s.handleGetRule)
	ns.PUT("/rules/:name", s.handlePutRule)
	ns.POST("/rules/:name", s.handleRuleState)
	ns.DELETE("/rules/:name", s.handleDeleteRule)
}

func (s *Server) getRule(ctx context.Context, name entity.FQN) (*entity.Rule, error) {
	d, err := s.cfg.Entities.Get(ctx, entity.KindRule, name)
	if err != nil {
		return nil, err
	}
	r, ok := d.(*entity.Rule)
	if !ok {
		return nil, entity.ErrWrongCollection
	}
	return r, nil
}

// ruleStatus is the status of rule ruleID in trigger t: inactive if the
// trigger is missing (nil) or does not link the rule.
func ruleStatus(t *entity.Trigger, ruleID string) string {
	if t != nil {
		if r, ok := t.Rules[ruleID]; ok && r.Status != "" {
			return r.Status
		}
	}
	return entity.StatusInactive
}

// optionalTrigger reads a trigger, returning nil without error when it is
// missing or not a trigger.
func (s *Server) optionalTrigger(ctx context.Context, name entity.FQN) (*entity.Trigger, error) {
	t, err := s.getTrigger(ctx, name)
	if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
		return nil, nil
	}
	return t, err
}

// withStatus returns a copy of r for a response, with its status.
func withStatus(r *entity.Rule, status string) *entity.Rule {
	cp := *r
	cp.Status = status
	return &cp
}

// updateTriggerRules applies change to the rules map of trigger name and
// writes the trigger, retrying on revision conflicts. change reports
// whether it changed anything (nothing is written otherwise). Errors:
// ErrNotFound if the trigger is missing, ErrConflict if conflicts persist.
func (s *Server) updateTriggerRules(ctx context.Context, name entity.FQN, change func(rules map[string]entity.ReducedRule) bool) error {
	var err error
	for range triggerUpdateRetries {
		var t *entity.Trigger
		if t, err = s.getTrigger(ctx, name); err != nil {
			return err
		}
		u := *t
		u.Rules = t.CopyRules()
		if u.Rules == nil {
			u.Rules = map[string]entity.ReducedRule{}
		}
		if !change(u.Rules) {
			return nil
		}
		if len(u.Rules) == 0 {
			u.Rules = nil
		}
		u.Updated = s.now()
		if _, err = s.cfg.Entities.Put(ctx, &u); !errors.Is(err, entity.ErrConflict) {
			return err
		}
	}
	return err
}

// linkRule sets the entry of rule ruleID in trigger name.
func (s *Server) linkRule(ctx context.Context, name entity.FQN, ruleID string, link entity.ReducedRule) error {
	return s.updateTriggerRules(ctx, name, func(rules map[string]entity.ReducedRule) bool {
		if old, ok := rules[ruleID]; ok && old == link {
			return false
		}
		rules[ruleID] = link
		return true
	})
}

// unlinkRule removes rule ruleID from trigger name; a missing trigger is
// not an error.
func (s *Server) unlinkRule(ctx context.Context, name entity.FQN, ruleID string) error {
	err := s.updateTriggerRules(ctx, name, func(rules map[string]entity.ReducedRule) bool {
		if _, ok := rules[ruleID]; !ok {
			return false
		}
		delete(rules, ruleID)
		return true
	})
	if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
		return nil
	}
	return err
}

func (s *Server) handleListRules(c *gin.Context) {
	listOwn(s, c, entity.KindRule, func(d entity.Document) (*entity.Rule, bool) {
		r, ok := d.(*entity.Rule)
		if !ok {
			return nil, false
		}
		return withStatus(r, ""), true
	})
}

func (s *Server) handleGetRule(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	r, err := s.getRule(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	t, err := s.optionalTrigger(ctx(c), r.Trigger)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, withStatus(r, ruleStatus(t, fqn.DocID())))
}

// handlePutRule creates a rule (active, linked into its trigger) or, with
// overwrite=true, updates it, moving the link to another trigger with the
// rule's previous status.
func (s *Server) handlePutRule(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	put, req, ok := readPut[entity.RulePut](s, c, entityBodyMax)
	if !ok {
		return
	}
	r, err := s.saveRule(ctx(c), req.id, fqn, put, req.overwrite, req.sys)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, r)
}

// saveRule implements PUT /rules/{name}; it returns the rule with status.
func (s *Server) saveRule(ctx context.Context, id entity.Identity, fqn entity.FQN, put entity.RulePut, overwrite bool, sys entity.SystemLimits) (*entity.Rule, error) {
	var ann entity.Params
	if put.Annotations != nil {
		ann = *put.Annotations
	}
	if err := entity.CheckSizes(0, nil, ann, sys); err != nil {
		return nil, err
	}
	trig, act, err := put.ResolveRefs(fqn.Namespace())
	if err != nil {
		return nil, err
	}
	if err := s.entitleRuleRefs(ctx, id, trig, act); err != nil {
		return nil, err
	}
	old, err := s.getRule(ctx, fqn)
	switch {
	case errors.Is(err, entity.ErrNotFound):
		return s.createRule(ctx, fqn, put, trig, act)
	case err != nil:
		return nil, err
	case !overwrite:
		return nil, entity.ErrExists
	}
	return s.updateRule(ctx, old, put, trig, act)
}

// entitleRuleRefs checks that the caller may read the referenced trigger
// (its own namespace only) and action (own, or in a readable package).
func (s *Server) entitleRuleRefs(ctx context.Context, id entity.Identity, trig, act entity.FQN) error {
	if trig != (entity.FQN{}) && trig.Namespace() != id.Namespace.Name {
		return entity.ErrForbidden
	}
	if act != (entity.FQN{}) {
		return s.checkActionAccess(ctx, id, act)
	}
	return nil
}

// checkRuleRefs checks that the trigger and the action of a rule exist:
// 400 "trigger /ns/t does not exist" or "action /ns/a does not exist".
func (s *Server) checkRuleRefs(ctx context.Context, trig, act entity.FQN) error {
	_, err := s.getTrigger(ctx, trig)
	if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
		return entity.Invalidf("trigger %s does not exist", trig)
	}
	if err != nil {
		return err
	}
	_, err = s.resolveAction(ctx, act)
	if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
		return entity.Invalidf("action %s does not exist", act)
	}
	return err
}

func (s *Server) createRule(ctx context.Context, fqn entity.FQN, put entity.RulePut, trig, act entity.FQN) (*entity.Rule, error) {
	if trig == (entity.FQN{}) || act == (entity.FQN{}) {
		return nil, entity.Invalidf(msgRuleRefsRequired)
	}
	if err := s.checkRuleRefs(ctx, trig, act); err != nil {
		return nil, err
	}
	r := &entity.Rule{Trigger: trig, Action: act}
	r.Namespace, r.Name = fqn.Path, fqn.Name
	r.Version = entity.DefaultVersion
	if put.Version != nil {
		r.Version = *put.Version
	}
	if put.Publish != nil {
		r.Publish = *put.Publish
	}
	r.Annotations = entity.Params{}
	if put.Annotations != nil {
		r.Annotations = *put.Annotations
	}
	r.Updated = s.now()
	rev, err := s.cfg.Entities.Put(ctx, r)
	if err != nil {
		return nil, err
	}
	r.SetRevision(rev)
	link := entity.ReducedRule{Action: act, Status: entity.StatusActive}
	if err := s.linkRule(ctx, trig, fqn.DocID(), link); err != nil {
		// Without its link the rule would never fire: undo the create.
		if derr := s.cfg.Entities.Delete(ctx, entity.KindRule, fqn, rev); derr != nil {
			s.log.Warn("removing rule after failed trigger link", "rule", fqn.DocID(), "err", derr)
		}
		return nil, err
	}
	return withStatus(r, entity.StatusActive), nil
}

func (s *Server) updateRule(ctx context.Context, old *entity.Rule, put entity.RulePut, trig, act entity.FQN) (*entity.Rule, error) {
	ruleID := old.FullName().DocID()
	oldTrigger, err := s.optionalTrigger(ctx, old.Trigger)
	if err != nil {
		return nil, err
	}
	status := ruleStatus(oldTrigger, ruleID)
	if trig == (entity.FQN{}) {
		trig = old.Trigger
	}
	if act == (entity.FQN{}) {
		act = old.Action
	}
	if err := s.checkRuleRefs(ctx, trig, act); err != nil {
		return nil, err
	}
	u := *old
	u.Status = ""
	u.Trigger, u.Action = trig, act
	u.Version = old.Version.UpPatch()
	if put.Version != nil {
		u.Version = *put.Version
	}
	if put.Publish != nil {
		u.Publish = *put.Publish
	}
	if put.Annotations != nil {
		u.Annotations = *put.Annotations
	}
	u.Updated = s.now()
	rev, err := s.cfg.Entities.Put(ctx, &u)
	if err != nil {
		return nil, err
	}
	u.SetRevision(rev)
	if trig != old.Trigger && oldTrigger != nil {
		if err := s.unlinkRule(ctx, old.Trigger, ruleID); err != nil {
			return nil, err
		}
	}
	if err := s.linkRule(ctx, trig, ruleID, entity.ReducedRule{Action: act, Status: status}); err != nil {
		return nil, err
	}
	return withStatus(&u, status), nil
}

// ruleStateBody is the body of POST /rules/{name}.
type ruleStateBody struct {
	Status *string `json:"status"`
}

// handleRuleState answers POST /rules/{name} {"status":"active"|"inactive"}:
// it rewrites the rule's entry in its trigger. 200 also when the rule is
// already in that state.
func (s *Server) handleRuleState(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	sys := s.cfg.Limits.Effective(callerIdentity(c).Limits)
	var body ruleStateBody
	if err := s.readJSON(c, entityBodyMax(sys), &body); err != nil {
		s.abort(c, err)
		return
	}
	if body.Status == nil || (*body.Status != entity.StatusActive && *body.Status != entity.StatusInactive) {
		s.abort(c, entity.Invalidf(msgRuleStatusInvalid))
		return
	}
	want := *body.Status
	r, err := s.getRule(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	t, err := s.optionalTrigger(ctx(c), r.Trigger)
	if err != nil {
		s.abort(c, err)
		return
	}
	if ruleStatus(t, fqn.DocID()) != want {
		if t == nil {
			s.abort(c, entity.Errorf(entity.ErrNotFound, msgRuleNeedsTrigger))
			return
		}
		err := s.linkRule(ctx(c), r.Trigger, fqn.DocID(), entity.ReducedRule{Action: r.Action, Status: want})
		if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
			err = entity.Errorf(entity.ErrNotFound, msgRuleNeedsTrigger)
		}
		if err != nil {
			s.abort(c, err)
			return
		}
	}
	c.String(http.StatusOK, "OK")
}

// handleDeleteRule removes the rule's link from its trigger (if the
// trigger exists), deletes the rule and answers it with status inactive.
func (s *Server) handleDeleteRule(c *gin.Context) {
	fqn, err := s.ownEntity(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	r, err := s.getRule(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	if err := s.unlinkRule(ctx(c), r.Trigger, fqn.DocID()); err != nil {
		s.abort(c, err)
		return
	}
	if err := s.cfg.Entities.Delete(ctx(c), entity.KindRule, fqn, r.Revision()); err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, withStatus(r, entity.StatusInactive))
}

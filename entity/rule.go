package entity

import (
	"encoding/json"
	"strings"
)

// Rule is a rule document: it binds a trigger to an action. Its status is
// not stored here but in the trigger's rules map; Status is filled in for
// API responses only.
type Rule struct {
	meta
	Trigger FQN    `json:"trigger"`
	Action  FQN    `json:"action"`
	Status  string `json:"status,omitempty"`
}

func (*Rule) EntityKind() Kind { return KindRule }

// UnmarshalJSON also reads the legacy stored form where trigger and action
// are "/ns/name" strings.
func (r *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	var aux struct {
		plain
		Trigger json.RawMessage `json:"trigger"`
		Action  json.RawMessage `json:"action"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*r = Rule(aux.plain)
	var err error
	if r.Trigger, err = readRuleRef(aux.Trigger, string(r.Namespace)); err != nil {
		return err
	}
	r.Action, err = readRuleRef(aux.Action, string(r.Namespace))
	return err
}

func readRuleRef(b json.RawMessage, ns string) (FQN, error) {
	if len(b) == 0 || string(b) == "null" {
		return FQN{}, nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return FQN{}, err
		}
		return ParseFQN(s, ns)
	}
	var f FQN
	err := json.Unmarshal(b, &f)
	return f, err
}

// RulePut is the body of PUT /rules/{name}: trigger and action as names
// ("/ns/t", "t", "pkg/a") or {path,name} objects. A status is ignored.
type RulePut struct {
	Trigger     json.RawMessage `json:"trigger,omitempty"`
	Action      json.RawMessage `json:"action,omitempty"`
	Version     *SemVer         `json:"version,omitempty"`
	Publish     *bool           `json:"publish,omitempty"`
	Annotations *Params         `json:"annotations,omitempty"`
}

// ResolveRefs parses the trigger and action references of a rule body
// against the caller's namespace. A missing reference is the zero FQN.
func (p RulePut) ResolveRefs(ns string) (trigger, action FQN, err error) {
	parse := func(b json.RawMessage) (FQN, error) {
		if len(b) == 0 || string(b) == "null" {
			return FQN{}, nil
		}
		if b[0] == '"' {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return FQN{}, err
			}
			if strings.TrimSpace(s) == "" {
				return FQN{}, nil
			}
			return ParseFQN(s, ns)
		}
		var f FQN
		if err := json.Unmarshal(b, &f); err != nil {
			return FQN{}, Invalidf("rule requires a valid trigger and a valid action")
		}
		return ParseFQN(f.String(), ns)
	}
	if trigger, err = parse(p.Trigger); err != nil {
		return
	}
	action, err = parse(p.Action)
	return
}

// RuleSummary is a rule's row in a list (OpenWhisk lists full rule docs,
// without status).
type RuleSummary = Rule

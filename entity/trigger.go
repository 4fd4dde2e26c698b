package entity

import "encoding/json"

// Rule statuses as stored in a trigger's rules map and shown on rules.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// ReducedRule is a trigger's view of a rule: the action it fires and
// whether it is active.
type ReducedRule struct {
	Action FQN    `json:"action"`
	Status string `json:"status"`
}

// Trigger is a trigger document. Rules is keyed by the rule's doc id
// ("ns/rule") and is where a rule's status lives.
type Trigger struct {
	meta
	Parameters Params                 `json:"parameters"`
	Limits     struct{}               `json:"limits"`
	Rules      map[string]ReducedRule `json:"rules,omitempty"`
}

func (*Trigger) EntityKind() Kind { return KindTrigger }

// TriggerPut is the body of PUT /triggers/{name}.
type TriggerPut struct {
	Parameters  *Params `json:"parameters,omitempty"`
	Version     *SemVer `json:"version,omitempty"`
	Publish     *bool   `json:"publish,omitempty"`
	Annotations *Params `json:"annotations,omitempty"`
}

// NewTrigger builds a new trigger from a PUT body.
func NewTrigger(name FQN, put TriggerPut, now int64) (*Trigger, error) {
	t := &Trigger{Parameters: Params{}}
	t.setName(name)
	t.Version = DefaultVersion
	if put.Version != nil {
		t.Version = *put.Version
	}
	t.Annotations = Params{}
	t.apply(put, now)
	return t, checkFeed(t.Annotations)
}

// Update returns a copy of t with the body's fields replacing t's
// (annotations wholesale), the rules kept and the version bumped.
func (t *Trigger) Update(put TriggerPut, now int64) (*Trigger, error) {
	u := *t
	u.Rules = t.CopyRules()
	u.Version = t.Version.UpPatch()
	u.apply(put, now)
	return &u, checkFeed(u.Annotations)
}

func (t *Trigger) apply(put TriggerPut, now int64) {
	if put.Parameters != nil {
		t.Parameters = *put.Parameters
	}
	if put.Publish != nil {
		t.Publish = *put.Publish
	}
	if put.Annotations != nil {
		t.Annotations = *put.Annotations
	}
	t.Updated = now
}

// CopyRules returns a copy of the rules map (nil stays nil).
func (t *Trigger) CopyRules() map[string]ReducedRule {
	if t.Rules == nil {
		return nil
	}
	m := make(map[string]ReducedRule, len(t.Rules))
	for k, v := range t.Rules {
		m[k] = v
	}
	return m
}

// ActiveRules returns the rules that fire, keyed by rule doc id.
func (t *Trigger) ActiveRules() map[string]ReducedRule {
	out := map[string]ReducedRule{}
	for k, r := range t.Rules {
		if r.Status == StatusActive {
			out[k] = r
		}
	}
	return out
}

// checkFeed validates a feed annotation: it must name an entity path.
func checkFeed(ann Params) error {
	v, ok := ann.Get(AnnotationFeed)
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return Invalidf("Feed name is not valid")
	}
	if _, err := ParseFQN(s, DefaultNamespace); err != nil || s == "" {
		return Invalidf("Feed name is not valid")
	}
	return nil
}

// TriggerSummary is a trigger's row in a list.
type TriggerSummary struct {
	Namespace   EntityPath `json:"namespace"`
	Name        string     `json:"name"`
	Version     SemVer     `json:"version"`
	Publish     bool       `json:"publish"`
	Annotations Params     `json:"annotations"`
	Updated     int64      `json:"updated"`
}

// Summary returns the list form of the trigger.
func (t *Trigger) Summary() TriggerSummary {
	return TriggerSummary{t.Namespace, t.Name, t.Version, t.Publish, t.Annotations, t.Updated}
}

package entity

import (
	"encoding/json"
)

// Action is an action document (OpenWhisk WhiskAction).
type Action struct {
	meta
	Exec       Exec         `json:"exec"`
	Parameters Params       `json:"parameters"`
	Limits     ActionLimits `json:"limits"`
}

func (*Action) EntityKind() Kind { return KindAction }

// ActionPut is the body of PUT /actions/{name}: every field optional.
type ActionPut struct {
	Exec           *Exec            `json:"exec,omitempty"`
	Parameters     *Params          `json:"parameters,omitempty"`
	Limits         *ActionLimitsPut `json:"limits,omitempty"`
	Version        *SemVer          `json:"version,omitempty"`
	Publish        *bool            `json:"publish,omitempty"`
	Annotations    *Params          `json:"annotations,omitempty"`
	DelAnnotations []string         `json:"delAnnotations,omitempty"`
}

// Annotation keys the platform writes on actions.
const (
	AnnotationExec          = "exec"
	AnnotationProvideAPIKey = "provide-api-key"
	AnnotationFinal         = "final"
	AnnotationFeed          = "feed"
	AnnotationBinding       = "binding"
	ParamSequenceActions    = "_actions"
)

// NewAction builds a new action from a PUT body (create). The caller
// validates the result with CheckAction.
func NewAction(name FQN, put ActionPut, now int64, sys SystemLimits) (*Action, error) {
	if put.Exec == nil {
		return nil, Invalidf("exec undefined")
	}
	a := &Action{Exec: *put.Exec, Limits: put.Limits.Apply(sys.DefaultActionLimits())}
	a.setName(name)
	a.Version = DefaultVersion
	if put.Version != nil {
		a.Version = *put.Version
	}
	if put.Publish != nil {
		a.Publish = *put.Publish
	}
	a.Parameters = Params{}
	if put.Parameters != nil {
		a.Parameters = *put.Parameters
	}
	a.Annotations = Params{}
	if put.Annotations != nil {
		a.Annotations = *put.Annotations
	}
	if !a.Annotations.Has(AnnotationProvideAPIKey) {
		a.Annotations = a.Annotations.Set(AnnotationProvideAPIKey, json.RawMessage("false"))
	}
	a.amend(now)
	return a, nil
}

// Update returns a copy of a updated by a PUT body: exec, limits (field by
// field), parameters and publish replace; annotations are merged after
// delAnnotations are removed; the version's patch is bumped.
func (a *Action) Update(put ActionPut, now int64) *Action {
	u := *a
	if put.Exec != nil {
		u.Exec = *put.Exec
	}
	u.Limits = put.Limits.Apply(a.Limits)
	if put.Parameters != nil {
		u.Parameters = *put.Parameters
	}
	if put.Publish != nil {
		u.Publish = *put.Publish
	}
	ann := a.Annotations.Without(put.DelAnnotations...)
	if put.Annotations != nil {
		ann = ann.Merge(*put.Annotations)
	}
	u.Annotations = ann
	if u.Exec.Kind == KindSequence {
		if comps, ok := a.Parameters.Get(ParamSequenceActions); ok && put.Exec == nil {
			u.Parameters = u.Parameters.Set(ParamSequenceActions, comps)
		}
	}
	u.Version = a.Version.UpPatch()
	u.amend(now)
	return &u
}

// amend writes the system annotations and fields every write sets.
func (a *Action) amend(now int64) {
	kind, _ := json.Marshal(a.Exec.Kind)
	a.Annotations = a.Annotations.Set(AnnotationExec, kind)
	if a.Exec.Kind == KindSequence {
		comps, _ := json.Marshal(a.Exec.Components)
		a.Parameters = a.Parameters.Set(ParamSequenceActions, comps)
	}
	a.Updated = now
}

// CheckAction validates an action before it is stored: exec against the
// manifest, limits against sys, and the size limits. Errors are ErrInvalid
// (400) or ErrTooLarge (413) with OpenWhisk's messages.
func CheckAction(a *Action, m *Manifest, sys SystemLimits) error {
	if err := CheckSizes(a.Exec.Size(), a.Parameters, a.Annotations, sys); err != nil {
		return err
	}
	if err := a.Exec.Validate(m); err != nil {
		return err
	}
	// Validate canonicalized the kind ("nodejs:default" -> "nodejs:20") and
	// the sequence components: keep the exec annotation and _actions in step.
	kind, _ := json.Marshal(a.Exec.Kind)
	a.Annotations = a.Annotations.Set(AnnotationExec, kind)
	if a.Exec.Kind == KindSequence {
		comps, _ := json.Marshal(a.Exec.Components)
		a.Parameters = a.Parameters.Set(ParamSequenceActions, comps)
	}
	return sys.CheckAction(a.Limits)
}

// CheckSizes applies the exec, parameter and annotation size limits.
func CheckSizes(execSize int, params, annotations Params, sys SystemLimits) error {
	if execSize > sys.ExecSizeMax {
		return Errorf(ErrTooLarge, "exec larger than allowed: %d > %d bytes.", execSize, sys.ExecSizeMax)
	}
	if n := params.Size(); n > sys.ParameterSizeMax {
		return Errorf(ErrTooLarge, "parameters larger than allowed: %d > %d bytes.", n, sys.ParameterSizeMax)
	}
	if n := annotations.Size(); n > sys.ParameterSizeMax {
		return Errorf(ErrTooLarge, "annotations larger than allowed: %d > %d bytes.", n, sys.ParameterSizeMax)
	}
	return nil
}

// CheckSizes applies the size limits to a PUT body as OpenWhisk does
// (WhiskActionPut): to the exec, parameters and annotations the request
// carries, before system annotations are added or old annotations merged.
// Errors are ErrTooLarge.
func (p ActionPut) CheckSizes(sys SystemLimits) error {
	var execSize int
	if p.Exec != nil {
		execSize = p.Exec.Size()
	}
	var params, ann Params
	if p.Parameters != nil {
		params = *p.Parameters
	}
	if p.Annotations != nil {
		ann = *p.Annotations
	}
	return CheckSizes(execSize, params, ann, sys)
}

// WithoutCode returns a copy whose exec omits its code (GET ?code=false).
func (a *Action) WithoutCode() *Action {
	c := *a
	c.Exec.CodeOmitted = true
	return &c
}

// ActionSummary is an action's row in a list (the actions view value).
type ActionSummary struct {
	Namespace   EntityPath   `json:"namespace"`
	Name        string       `json:"name"`
	Version     SemVer       `json:"version"`
	Publish     bool         `json:"publish"`
	Annotations Params       `json:"annotations"`
	Limits      ActionLimits `json:"limits"`
	Exec        struct {
		Binary bool `json:"binary"`
	} `json:"exec"`
	Updated int64 `json:"updated"`
}

// Summary returns the list form of the action.
func (a *Action) Summary() ActionSummary {
	s := ActionSummary{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations, Limits: a.Limits, Updated: a.Updated}
	s.Exec.Binary = a.Exec.Binary
	return s
}

package entity

import (
	"encoding/json"
)

// Binding names the package a binding refers to. The zero value means the
// package is not a binding; its JSON is then {}.
type Binding struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// UnmarshalJSON reads {} or null (no binding) or {"namespace":..,"name":..} with
// both names legal, as OpenWhisk's Binding deserializer does; anything else
// is an ErrInvalid error.
func (b *Binding) UnmarshalJSON(data []byte) error {
	var raw struct {
		Namespace *string `json:"namespace"`
		Name      *string `json:"name"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Invalidf("binding malformed: expected {} or {\"namespace\":...,\"name\":...}")
	}
	if raw.Namespace == nil && raw.Name == nil {
		*b = Binding{}
		return nil
	}
	if raw.Namespace == nil || raw.Name == nil || !ValidName(*raw.Namespace) || !ValidName(*raw.Name) {
		return Invalidf("binding malformed: namespace and name must be legal entity names")
	}
	*b = Binding{Namespace: *raw.Namespace, Name: *raw.Name}
	return nil
}

// IsBinding reports whether the binding refers to a package.
func (b Binding) IsBinding() bool { return b.Name != "" }

// FQN is the name of the referenced package as an entity name.
func (b Binding) FQN() FQN { return FQN{Path: EntityPath(b.Namespace), Name: b.Name} }

// Package is a package document, or a package binding when Binding is set.
type Package struct {
	meta
	Binding    Binding       `json:"binding"`
	Parameters Params        `json:"parameters"`
	Actions    []EntityBrief `json:"actions,omitempty"`
	Feeds      []EntityBrief `json:"feeds,omitempty"`
}

func (*Package) EntityKind() Kind { return KindPackage }

// EntityBrief is an action of a package as listed in GET of the package.
type EntityBrief struct {
	Name        string `json:"name"`
	Version     SemVer `json:"version"`
	Annotations Params `json:"annotations"`
}

// PackagePut is the body of PUT /packages/{name}.
type PackagePut struct {
	Binding     *Binding `json:"binding,omitempty"`
	Parameters  *Params  `json:"parameters,omitempty"`
	Version     *SemVer  `json:"version,omitempty"`
	Publish     *bool    `json:"publish,omitempty"`
	Annotations *Params  `json:"annotations,omitempty"`
}

// NewPackage builds a new package or binding from a PUT body. The caller
// checks the binding target.
func NewPackage(name FQN, put PackagePut, now int64) *Package {
	p := &Package{Parameters: Params{}}
	p.setName(name)
	p.Version = DefaultVersion
	if put.Version != nil {
		p.Version = *put.Version
	}
	p.Annotations = Params{}
	p.apply(put, now)
	return p
}

// Update returns a copy of p with the body applied and the version bumped.
func (p *Package) Update(put PackagePut, now int64) *Package {
	u := *p
	u.Version = p.Version.UpPatch()
	u.Actions, u.Feeds = nil, nil
	u.apply(put, now)
	return &u
}

func (p *Package) apply(put PackagePut, now int64) {
	if put.Binding != nil {
		p.Binding = *put.Binding
	}
	if put.Parameters != nil {
		p.Parameters = *put.Parameters
	}
	if put.Publish != nil {
		p.Publish = *put.Publish
	}
	if put.Annotations != nil {
		p.Annotations = *put.Annotations
	}
	if p.Binding.IsBinding() {
		b, _ := json.Marshal(p.Binding)
		p.Annotations = p.Annotations.Set(AnnotationBinding, b)
	}
	p.Updated = now
}

// PackageSummary is a package's row in a list: binding is false or the
// binding object.
type PackageSummary struct {
	Namespace   EntityPath `json:"namespace"`
	Name        string     `json:"name"`
	Version     SemVer     `json:"version"`
	Publish     bool       `json:"publish"`
	Annotations Params     `json:"annotations"`
	Binding     any        `json:"binding"`
	Updated     int64      `json:"updated"`
}

// Summary returns the list form of the package.
func (p *Package) Summary() PackageSummary {
	s := PackageSummary{Namespace: p.Namespace, Name: p.Name, Version: p.Version, Publish: p.Publish,
		Annotations: p.Annotations, Binding: false, Updated: p.Updated}
	if p.Binding.IsBinding() {
		s.Binding = p.Binding
	}
	return s
}

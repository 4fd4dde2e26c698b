package entity

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Document is an entity kept in the entity store: an *Action, *Trigger,
// *Rule or *Package. Rev is the store revision ("" before the first write).
type Document interface {
	EntityKind() Kind
	FullName() FQN
	Revision() string
	SetRevision(rev string)
	UpdatedAt() int64
}

// NewDocument returns an empty document of the given kind.
func NewDocument(k Kind) (Document, error) {
	switch k {
	case KindAction:
		return &Action{}, nil
	case KindTrigger:
		return &Trigger{}, nil
	case KindRule:
		return &Rule{}, nil
	case KindPackage:
		return &Package{}, nil
	}
	return nil, fmt.Errorf("unknown entity kind %q", k)
}

// MarshalStored encodes a document in the stored form shared by every
// store and by OpenWhisk's CouchDB layout: the API JSON plus "_id",
// "entityType" and, if set, "_rev".
func MarshalStored(d Document) ([]byte, error) {
	body, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + 96)
	buf.WriteString(`{"_id":`)
	buf.Write(AppendJSONString(nil, d.FullName().DocID()))
	if rev := d.Revision(); rev != "" {
		buf.WriteString(`,"_rev":`)
		buf.Write(AppendJSONString(nil, rev))
	}
	buf.WriteString(`,"entityType":`)
	buf.Write(AppendJSONString(nil, string(d.EntityKind())))
	if len(body) > 2 {
		buf.WriteByte(',')
		buf.Write(body[1:])
	} else {
		buf.WriteByte('}')
	}
	return buf.Bytes(), nil
}

// StoredKind reads the entityType of a stored document. Documents written
// without one (old OpenWhisk data) are classified by shape, as OpenWhisk's
// views do: exec → action, binding → package, trigger → rule, else trigger.
func StoredKind(b []byte) (Kind, error) {
	var probe struct {
		EntityType string          `json:"entityType"`
		Exec       json.RawMessage `json:"exec"`
		Binding    json.RawMessage `json:"binding"`
		Trigger    json.RawMessage `json:"trigger"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return "", err
	}
	switch {
	case probe.EntityType != "":
		return Kind(probe.EntityType), nil
	case probe.Exec != nil:
		return KindAction, nil
	case probe.Binding != nil:
		return KindPackage, nil
	case probe.Trigger != nil:
		return KindRule, nil
	}
	return KindTrigger, nil
}

// UnmarshalStored decodes a stored document of any kind, taking its
// revision from "_rev" unless rev is given.
func UnmarshalStored(b []byte, rev string) (Document, error) {
	k, err := StoredKind(b)
	if err != nil {
		return nil, err
	}
	d, err := NewDocument(k)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", k, err)
	}
	if rev == "" {
		var r struct {
			Rev string `json:"_rev"`
		}
		_ = json.Unmarshal(b, &r)
		rev = r.Rev
	}
	normalize(d)
	if err := checkStored(d); err != nil {
		return nil, fmt.Errorf("stored %s document is corrupted: %s", k, err)
	}
	d.SetRevision(rev)
	return d, nil
}

// normalize gives a decoded document the canonical form its JSON encodes
// back to, so that decoding is idempotent through MarshalStored: absent
// parameter and annotation lists are empty lists, empty optional
// collections are nil.
func normalize(d Document) {
	switch v := d.(type) {
	case *Action:
		v.meta.normalize()
		v.Parameters = nonNil(v.Parameters)
	case *Package:
		v.meta.normalize()
		v.Parameters = nonNil(v.Parameters)
		if len(v.Actions) == 0 {
			v.Actions = nil
		}
		if len(v.Feeds) == 0 {
			v.Feeds = nil
		}
		for i := range v.Actions {
			v.Actions[i].Annotations = nonNil(v.Actions[i].Annotations)
		}
		for i := range v.Feeds {
			v.Feeds[i].Annotations = nonNil(v.Feeds[i].Annotations)
		}
	case *Trigger:
		v.meta.normalize()
		v.Parameters = nonNil(v.Parameters)
		if len(v.Rules) == 0 {
			v.Rules = nil
		}
	case *Rule:
		v.meta.normalize()
	}
}

func (m *meta) normalize() { m.Annotations = nonNil(m.Annotations) }

func nonNil(ps Params) Params {
	if ps == nil {
		return Params{}
	}
	return ps
}

// checkStored rejects a decoded document that lacks what OpenWhisk requires
// of a stored entity (it would not survive being written back): a legal
// name, a version, an exec kind, legal rule references and binding.
func checkStored(d Document) error {
	if !d.FullName().Valid() {
		return fmt.Errorf("illegal name %q", d.FullName().DocID())
	}
	switch v := d.(type) {
	case *Action:
		if v.Version == (SemVer{}) {
			return fmt.Errorf("no version")
		}
		if v.Exec.Kind == "" {
			return fmt.Errorf("no exec")
		}
	case *Package:
		if v.Version == (SemVer{}) {
			return fmt.Errorf("no version")
		}
		if v.Binding.IsBinding() && !v.Binding.FQN().Valid() {
			return fmt.Errorf("illegal binding %q", v.Binding.FQN().DocID())
		}
		for _, b := range append(append([]EntityBrief(nil), v.Actions...), v.Feeds...) {
			if !ValidName(b.Name) || b.Version == (SemVer{}) {
				return fmt.Errorf("illegal package member %q", b.Name)
			}
		}
	case *Trigger:
		if v.Version == (SemVer{}) {
			return fmt.Errorf("no version")
		}
	case *Rule:
		if v.Version == (SemVer{}) {
			return fmt.Errorf("no version")
		}
		if !v.Trigger.Valid() || !v.Action.Valid() {
			return fmt.Errorf("illegal trigger or action reference")
		}
	}
	return nil
}

// meta is embedded by every entity: the fields and methods they share.
type meta struct {
	Namespace   EntityPath `json:"namespace"`
	Name        string     `json:"name"`
	Version     SemVer     `json:"version"`
	Publish     bool       `json:"publish"`
	Annotations Params     `json:"annotations"`
	Updated     int64      `json:"updated"`

	rev string
}

func (m *meta) FullName() FQN          { return FQN{Path: m.Namespace, Name: m.Name} }
func (m *meta) Revision() string       { return m.rev }
func (m *meta) SetRevision(rev string) { m.rev = rev }
func (m *meta) UpdatedAt() int64       { return m.Updated }
func (m *meta) setName(n FQN)          { m.Namespace, m.Name = n.Path, n.Name }

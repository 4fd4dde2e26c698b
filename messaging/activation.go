package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/gowhisk/gowhisk/entity"
)

// ActionRef is OpenWhisk's FullyQualifiedEntityName as an ActivationMessage
// carries it: {"path":"guest/pkg","name":"hello","version":"0.0.2",
// "binding":"guest/mybinding"}; version and binding are optional.
type ActionRef struct {
	Path    entity.EntityPath // the action's real namespace and package
	Name    string
	Version entity.SemVer     // zero = absent
	Binding entity.EntityPath // the binding invoked through, or ""
}

// FQN returns the action's name.
func (r ActionRef) FQN() entity.FQN { return entity.FQN{Path: r.Path, Name: r.Name} }

// AppendJSON appends the object form of r.
func (r ActionRef) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"path":`...)
	dst = appendString(dst, string(r.Path))
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, r.Name)
	if r.Version != (entity.SemVer{}) {
		dst = append(dst, `,"version":"`...)
		dst = append(dst, r.Version.String()...)
		dst = append(dst, '"')
	}
	if r.Binding != "" {
		dst = append(dst, `,"binding":`...)
		dst = appendString(dst, string(r.Binding))
	}
	return append(dst, '}')
}

// MarshalJSON writes the object form.
func (r ActionRef) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// UnmarshalJSON requires a valid path and name; a binding must be a valid
// path.
func (r *ActionRef) UnmarshalJSON(b []byte) error {
	var j struct {
		Path    *string        `json:"path"`
		Name    *string        `json:"name"`
		Version *entity.SemVer `json:"version"`
		Binding *string        `json:"binding"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("action: %w", err)
	}
	if j.Path == nil || j.Name == nil {
		return fmt.Errorf("action: path and name are required")
	}
	ref := ActionRef{Path: entity.EntityPath(*j.Path), Name: *j.Name}
	if !ref.FQN().Valid() {
		return fmt.Errorf("action: illegal name %q", ref.FQN().DocID())
	}
	if j.Version != nil {
		ref.Version = *j.Version
	}
	if j.Binding != nil {
		ref.Binding = entity.EntityPath(*j.Binding)
		if !ref.Binding.Valid() {
			return fmt.Errorf("action: illegal binding %q", *j.Binding)
		}
	}
	*r = ref
	return nil
}

// ActivationMessage is what a controller sends an invoker on invoker<N>
// (OpenWhisk's ActivationMessage, reference §5.5).
type ActivationMessage struct {
	TransID             TransactionID
	Action              ActionRef
	Revision            string // store revision of the action; "" = null
	User                entity.Identity
	ActivationID        string
	RootControllerIndex ControllerInstanceID
	Blocking            bool
	// Content is the arguments: a JSON object or array; nil = absent.
	Content json.RawMessage
	// InitArgs names the parameters passed to /init (present in Content).
	InitArgs []string
	// LockedArgs maps encrypted parameter names to their scheme.
	LockedArgs   map[string]string
	Cause        string            // causing activation id, or ""
	TraceContext map[string]string // nil = absent
}

// AppendJSON appends the message in OpenWhisk's JSON form to dst.
func (m *ActivationMessage) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"transid":`...)
	dst = m.TransID.AppendJSON(dst)
	dst = append(dst, `,"action":`...)
	dst = m.Action.AppendJSON(dst)
	dst = append(dst, `,"revision":`...)
	if m.Revision == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, m.Revision)
	}
	dst = append(dst, `,"user":`...)
	dst = appendIdentity(dst, &m.User)
	dst = append(dst, `,"activationId":`...)
	dst = appendString(dst, m.ActivationID)
	dst = append(dst, `,"rootControllerIndex":`...)
	dst = m.RootControllerIndex.AppendJSON(dst)
	dst = append(dst, `,"blocking":`...)
	dst = appendBool(dst, m.Blocking)
	if !isNull(m.Content) {
		dst = append(dst, `,"content":`...)
		dst = appendCompact(dst, m.Content)
	}
	dst = append(dst, `,"initArgs":`...)
	dst = appendStrings(dst, m.InitArgs)
	dst = append(dst, `,"lockedArgs":`...)
	dst = appendStringMap(dst, m.LockedArgs)
	if m.Cause != "" {
		dst = append(dst, `,"cause":`...)
		dst = appendString(dst, m.Cause)
	}
	if m.TraceContext != nil {
		dst = append(dst, `,"traceContext":`...)
		dst = appendStringMap(dst, m.TraceContext)
	}
	return append(dst, '}'), nil
}

// SizeHint estimates the size of the message's JSON form.
func (m *ActivationMessage) SizeHint() int {
	return 768 + len(m.Content) + len(m.User.AuthKey.APIKey) + len(m.User.Subject)
}

// MarshalJSON writes the message.
func (m ActivationMessage) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil) }

// appendCompact appends raw JSON, compacting it if it holds whitespace.
func appendCompact(dst []byte, raw json.RawMessage) []byte {
	if bytes.ContainsAny(raw, " \t\r\n") {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return append(dst, buf.Bytes()...)
		}
	}
	return append(dst, raw...)
}

// appendIdentity writes the identity as OpenWhisk's Identity JSON (§2.7);
// only non-empty limits go through encoding/json.
func appendIdentity(dst []byte, id *entity.Identity) []byte {
	dst = append(dst, `{"subject":`...)
	dst = appendString(dst, id.Subject)
	dst = append(dst, `,"namespace":{"name":`...)
	dst = appendString(dst, id.Namespace.Name)
	dst = append(dst, `,"uuid":`...)
	dst = appendString(dst, id.Namespace.UUID)
	dst = append(dst, `},"authkey":{"api_key":`...)
	dst = appendString(dst, id.AuthKey.APIKey)
	dst = append(dst, `},"rights":`...)
	dst = appendStrings(dst, id.Rights)
	dst = append(dst, `,"limits":`...)
	if reflect.ValueOf(&id.Limits).Elem().IsZero() {
		dst = append(dst, "{}"...)
	} else if out, err := appendMarshal(dst, id.Limits); err == nil {
		dst = out
	} else {
		dst = append(dst, "{}"...)
	}
	return append(dst, '}')
}

// activationJSON is the decoding form of ActivationMessage.
type activationJSON struct {
	TransID             json.RawMessage       `json:"transid"`
	Action              *ActionRef            `json:"action"`
	Revision            *string               `json:"revision"`
	User                *entity.Identity      `json:"user"`
	ActivationID        *string               `json:"activationId"`
	RootControllerIndex *ControllerInstanceID `json:"rootControllerIndex"`
	Blocking            *bool                 `json:"blocking"`
	Content             json.RawMessage       `json:"content"`
	InitArgs            []string              `json:"initArgs"`
	LockedArgs          map[string]string     `json:"lockedArgs"`
	Cause               *string               `json:"cause"`
	TraceContext        map[string]string     `json:"traceContext"`
}

// DecodeActivationMessage decodes and checks an ActivationMessage: action,
// user, a valid activation id, the root controller and blocking are
// required; content must be an object or an array when present; cause must
// be a valid activation id when present. It never panics on bad input.
func DecodeActivationMessage(b []byte) (*ActivationMessage, error) {
	var j activationJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("activation message: %w", err)
	}
	switch {
	case j.Action == nil:
		return nil, fmt.Errorf("activation message: action is required")
	case j.User == nil:
		return nil, fmt.Errorf("activation message: user is required")
	case j.ActivationID == nil || !entity.ValidActivationID(*j.ActivationID):
		return nil, fmt.Errorf("activation message: activationId missing or invalid")
	case j.RootControllerIndex == nil:
		return nil, fmt.Errorf("activation message: rootControllerIndex is required")
	case j.Blocking == nil:
		return nil, fmt.Errorf("activation message: blocking is required")
	case j.Cause != nil && *j.Cause != "" && !entity.ValidActivationID(*j.Cause):
		return nil, fmt.Errorf("activation message: cause is not an activation id")
	}
	m := &ActivationMessage{
		TransID:             parseTransactionID(j.TransID),
		Action:              *j.Action,
		User:                *j.User,
		ActivationID:        *j.ActivationID,
		RootControllerIndex: *j.RootControllerIndex,
		Blocking:            *j.Blocking,
		InitArgs:            j.InitArgs,
		LockedArgs:          j.LockedArgs,
		TraceContext:        j.TraceContext,
	}
	if j.Revision != nil {
		m.Revision = *j.Revision
	}
	if j.Cause != nil {
		m.Cause = *j.Cause
	}
	if !isNull(j.Content) {
		c := bytes.TrimSpace(j.Content)
		if c[0] != '{' && c[0] != '[' {
			return nil, fmt.Errorf("activation message: content must be an object or an array")
		}
		m.Content = appendCompact(nil, c)
	}
	return m, nil
}

// UnmarshalJSON decodes with the checks of DecodeActivationMessage.
func (m *ActivationMessage) UnmarshalJSON(b []byte) error {
	d, err := DecodeActivationMessage(b)
	if err != nil {
		return err
	}
	*m = *d
	return nil
}

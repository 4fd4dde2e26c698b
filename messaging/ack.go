package messaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gowhisk/gowhisk/entity"
)

// ActivationResult is the "response" of a result-carrying ack: the
// activation record (stored form) or, when the record was too large for the
// transport, only its activation id.
type ActivationResult struct {
	ActivationID string             // always set
	Record       *entity.Activation // nil when shrunk to the id
}

func (r ActivationResult) appendJSON(dst []byte) ([]byte, error) {
	if r.Record == nil {
		return appendString(dst, r.ActivationID), nil
	}
	return appendMarshal(dst, r.Record)
}

// decodeActivationResult reads a string id or an activation object.
func decodeActivationResult(raw json.RawMessage) (ActivationResult, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ActivationResult{}, errors.New("response is empty")
	}
	switch raw[0] {
	case '"':
		var id string
		if err := json.Unmarshal(raw, &id); err != nil || !entity.ValidActivationID(id) {
			return ActivationResult{}, errors.New("response is not an activation id")
		}
		return ActivationResult{ActivationID: id}, nil
	case '{':
		var rec entity.Activation
		if err := json.Unmarshal(raw, &rec); err != nil {
			return ActivationResult{}, fmt.Errorf("response: %w", err)
		}
		if !entity.ValidActivationID(rec.ActivationID) {
			return ActivationResult{}, errors.New("response: activationId missing or invalid")
		}
		if rec.Version == (entity.SemVer{}) {
			return ActivationResult{}, errors.New("response: version is required")
		}
		return ActivationResult{ActivationID: rec.ActivationID, Record: &rec}, nil
	}
	return ActivationResult{}, errors.New("response must be an activation or an activation id")
}

// CompletionMessage frees the load balancer's slot of an activation:
// {"transid":[..],"activationId":"..","isSystemError":false,"instance":{..}}.
type CompletionMessage struct {
	TransID       TransactionID
	ActivationID  string
	IsSystemError bool
	Invoker       InvokerInstanceID
}

// AppendJSON appends the message to dst.
func (m *CompletionMessage) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"transid":`...)
	dst = m.TransID.AppendJSON(dst)
	dst = append(dst, `,"activationId":`...)
	dst = appendString(dst, m.ActivationID)
	dst = append(dst, `,"isSystemError":`...)
	dst = appendBool(dst, m.IsSystemError)
	dst = append(dst, `,"instance":`...)
	dst = m.Invoker.AppendJSON(dst)
	return append(dst, '}')
}

// MarshalJSON writes the message.
func (m CompletionMessage) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// ResultMessage carries a blocking activation's result without freeing its
// slot: {"transid":[..],"response":{activation}|"<id>"}.
type ResultMessage struct {
	TransID  TransactionID
	Response ActivationResult
}

// AppendJSON appends the message to dst.
func (m *ResultMessage) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"transid":`...)
	dst = m.TransID.AppendJSON(dst)
	dst = append(dst, `,"response":`...)
	dst, err := m.Response.appendJSON(dst)
	return append(dst, '}'), err
}

// MarshalJSON writes the message.
func (m ResultMessage) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil) }

// CombinedCompletionAndResultMessage carries the result and frees the slot:
// {"transid":[..],"response":{activation}|"<id>","isSystemError":false,"instance":{..}}.
type CombinedCompletionAndResultMessage struct {
	TransID       TransactionID
	Response      ActivationResult
	IsSystemError bool
	Invoker       InvokerInstanceID
}

// AppendJSON appends the message to dst.
func (m *CombinedCompletionAndResultMessage) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"transid":`...)
	dst = m.TransID.AppendJSON(dst)
	dst = append(dst, `,"response":`...)
	dst, err := m.Response.appendJSON(dst)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"isSystemError":`...)
	dst = appendBool(dst, m.IsSystemError)
	dst = append(dst, `,"instance":`...)
	dst = m.Invoker.AppendJSON(dst)
	return append(dst, '}'), nil
}

// MarshalJSON writes the message.
func (m CombinedCompletionAndResultMessage) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil) }

// AckKind tells which acknowledgement an Ack is.
type AckKind int

// The acknowledgement messages.
const (
	AckCompletion AckKind = iota + 1 // CompletionMessage: frees the slot
	AckResult                        // ResultMessage: carries the result
	AckCombined                      // CombinedCompletionAndResultMessage: both
)

func (k AckKind) String() string {
	switch k {
	case AckCompletion:
		return "completion"
	case AckResult:
		return "result"
	case AckCombined:
		return "combined"
	}
	return "invalid"
}

// Ack is any decoded acknowledgement, flattened.
type Ack struct {
	Kind          AckKind
	TransID       TransactionID
	ActivationID  string
	Record        *entity.Activation // the result's record (nil for completions and shrunk results)
	IsSystemError bool
	Invoker       InvokerInstanceID // zero for AckResult
}

// FreesSlot reports whether the ack completes the activation for the load
// balancer (completion or combined message).
func (a *Ack) FreesSlot() bool { return a.Kind == AckCompletion || a.Kind == AckCombined }

// CarriesResult reports whether the ack answers a blocking waiter (result or
// combined message); Record may still be nil when the result was shrunk.
func (a *Ack) CarriesResult() bool { return a.Kind == AckResult || a.Kind == AckCombined }

// SizeHint estimates the size of the ack's JSON form.
func (a *Ack) SizeHint() int {
	n := 256
	if r := a.Record; r != nil {
		n += 512 + len(r.Response.Result)
		for _, l := range r.Logs {
			n += len(l) + 3
		}
		for _, p := range r.Annotations {
			n += len(p.Key) + len(p.Value) + 20
		}
	}
	return n
}

// AppendJSON appends the ack in the JSON form of its kind.
func (a *Ack) AppendJSON(dst []byte) ([]byte, error) {
	res := ActivationResult{ActivationID: a.ActivationID, Record: a.Record}
	switch a.Kind {
	case AckCompletion:
		m := CompletionMessage{TransID: a.TransID, ActivationID: a.ActivationID, IsSystemError: a.IsSystemError, Invoker: a.Invoker}
		return m.AppendJSON(dst), nil
	case AckResult:
		m := ResultMessage{TransID: a.TransID, Response: res}
		return m.AppendJSON(dst)
	case AckCombined:
		m := CombinedCompletionAndResultMessage{TransID: a.TransID, Response: res, IsSystemError: a.IsSystemError, Invoker: a.Invoker}
		return m.AppendJSON(dst)
	}
	return dst, fmt.Errorf("ack: invalid kind %d", a.Kind)
}

// ackJSON is the decoding form of every ack.
type ackJSON struct {
	TransID       json.RawMessage `json:"transid"`
	ActivationID  *string         `json:"activationId"`
	Response      json.RawMessage `json:"response"`
	IsSystemError *bool           `json:"isSystemError"`
	Instance      json.RawMessage `json:"instance"`
}

// DecodeAck decodes an acknowledgement, discriminating as OpenWhisk does by
// the presence of "instance" and "response": both → combined, instance only
// → completion, response only → result, neither → error. A completion needs
// a valid activationId; a response must be an activation record with a
// valid id or a valid id string. An absent isSystemError is false; a
// result message's is derived from its record (whisk error). It never
// panics on bad input.
func DecodeAck(b []byte) (Ack, error) {
	var j ackJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Ack{}, fmt.Errorf("ack: %w", err)
	}
	hasInstance, hasResponse := j.Instance != nil, j.Response != nil
	a := Ack{TransID: parseTransactionID(j.TransID)}
	if j.IsSystemError != nil {
		a.IsSystemError = *j.IsSystemError
	}
	switch {
	case hasInstance && hasResponse:
		a.Kind = AckCombined
	case hasInstance:
		a.Kind = AckCompletion
	case hasResponse:
		a.Kind = AckResult
	default:
		return Ack{}, errors.New("ack: neither instance nor response present")
	}
	if hasInstance {
		if err := json.Unmarshal(j.Instance, &a.Invoker); err != nil || isNull(j.Instance) {
			return Ack{}, fmt.Errorf("ack: instance missing or invalid")
		}
	}
	if hasResponse {
		res, err := decodeActivationResult(j.Response)
		if err != nil {
			return Ack{}, fmt.Errorf("ack: %w", err)
		}
		a.ActivationID, a.Record = res.ActivationID, res.Record
		if a.Kind == AckResult {
			// A ResultMessage carries no isSystemError: OpenWhisk derives it
			// from the record.
			a.IsSystemError = a.Record != nil && a.Record.Response.StatusCode == entity.StatusWhiskError
		}
	} else {
		if j.ActivationID == nil || !entity.ValidActivationID(*j.ActivationID) {
			return Ack{}, errors.New("ack: activationId missing or invalid")
		}
		a.ActivationID = *j.ActivationID
	}
	return a, nil
}

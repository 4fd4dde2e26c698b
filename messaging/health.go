package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
)

// PingMessage is an invoker's heartbeat on the health topic:
// {"name":{InvokerInstanceId},"isEnabled":true}.
type PingMessage struct {
	Invoker   InvokerInstanceID
	IsEnabled bool
}

// AppendJSON appends the message to dst.
func (m *PingMessage) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = m.Invoker.AppendJSON(dst)
	dst = append(dst, `,"isEnabled":`...)
	dst = appendBool(dst, m.IsEnabled)
	return append(dst, '}')
}

// MarshalJSON writes the message.
func (m PingMessage) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// UnmarshalJSON requires name; an absent isEnabled is true (older
// invokers did not send it).
func (m *PingMessage) UnmarshalJSON(b []byte) error {
	var j struct {
		Name      json.RawMessage `json:"name"`
		IsEnabled *bool           `json:"isEnabled"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if isNull(j.Name) {
		return errors.New("ping: name is required")
	}
	var p PingMessage
	if err := json.Unmarshal(j.Name, &p.Invoker); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	p.IsEnabled = j.IsEnabled == nil || *j.IsEnabled
	*m = p
	return nil
}

// CacheKey names a cached entity: its document id and, optionally, a
// secondary id (a revision).
type CacheKey struct {
	MainID      string
	SecondaryID string // optional
}

// CacheInvalidationMessage tells the other controllers to drop an entity
// from their caches: {"key":{"mainId":"guest/hello","secondaryId"?:".."},
// "instanceId":"controller0"}.
type CacheInvalidationMessage struct {
	Key        CacheKey
	InstanceID string // the sender, e.g. "controller0"
}

// AppendJSON appends the message to dst.
func (m *CacheInvalidationMessage) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"key":{"mainId":`...)
	dst = appendString(dst, m.Key.MainID)
	if m.Key.SecondaryID != "" {
		dst = append(dst, `,"secondaryId":`...)
		dst = appendString(dst, m.Key.SecondaryID)
	}
	dst = append(dst, `},"instanceId":`...)
	dst = appendString(dst, m.InstanceID)
	return append(dst, '}')
}

// MarshalJSON writes the message.
func (m CacheInvalidationMessage) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// UnmarshalJSON requires key.mainId and instanceId.
func (m *CacheInvalidationMessage) UnmarshalJSON(b []byte) error {
	var j struct {
		Key *struct {
			MainID      *string `json:"mainId"`
			SecondaryID *string `json:"secondaryId"`
		} `json:"key"`
		InstanceID *string `json:"instanceId"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("cache invalidation: %w", err)
	}
	if j.Key == nil || j.Key.MainID == nil || j.InstanceID == nil {
		return errors.New("cache invalidation: key.mainId and instanceId are required")
	}
	*m = CacheInvalidationMessage{Key: CacheKey{MainID: *j.Key.MainID}, InstanceID: *j.InstanceID}
	if j.Key.SecondaryID != nil {
		m.Key.SecondaryID = *j.Key.SecondaryID
	}
	return nil
}

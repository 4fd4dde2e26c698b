package entity

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Param is one {"key":..,"value":..} entry of a parameter or annotation list.
// Value holds compact JSON; Init marks a parameter passed only at /init (as an
// environment variable); Encryption names an at-rest encryption scheme.
type Param struct {
	Key        string          `json:"key"`
	Value      json.RawMessage `json:"value"`
	Init       bool            `json:"init,omitempty"`
	Encryption string          `json:"encryption,omitempty"`
}

// UnmarshalJSON requires a string key and a value, and keeps the value compact.
func (p *Param) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key        *string         `json:"key"`
		Value      json.RawMessage `json:"value"`
		Init       bool            `json:"init"`
		Encryption json.RawMessage `json:"encryption"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Key == nil {
		return Invalidf("parameter or annotation is missing its 'key'")
	}
	if raw.Value == nil {
		return Invalidf("parameter or annotation %q is missing its 'value'", *raw.Key)
	}
	p.Key = *raw.Key
	p.Value = compactJSON(raw.Value)
	p.Init = raw.Init
	p.Encryption = ""
	if len(raw.Encryption) > 0 && string(raw.Encryption) != "null" {
		var enc string
		if err := json.Unmarshal(raw.Encryption, &enc); err == nil {
			p.Encryption = enc
		}
	}
	return nil
}

// compactJSON returns b compact and with <, >, &, U+2028 and U+2029 in
// strings escaped: the form encoding/json writes a json.RawMessage in, so
// that a value decodes to the same bytes after being encoded again.
func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return append(json.RawMessage(nil), b...)
	}
	if bytes.ContainsAny(buf.Bytes(), "<>&\u2028\u2029") {
		var esc bytes.Buffer
		json.HTMLEscape(&esc, buf.Bytes())
		return esc.Bytes()
	}
	return buf.Bytes()
}

// Params is an ordered list of parameters or annotations. Its JSON form is
// always an array (never null).
type Params []Param

// MarshalJSON writes nil as [].
func (ps Params) MarshalJSON() ([]byte, error) {
	if ps == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Param(ps))
}

// UnmarshalJSON reads an array of {key,value}; null is an empty list. A
// repeated key keeps its last value.
func (ps *Params) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*ps = Params{}
		return nil
	}
	var list []Param
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	// OpenWhisk keeps parameters in a map: a repeated key keeps its last
	// value (here at the key's first position, as Set does).
	out := make(Params, 0, len(list))
	for _, p := range list {
		if i := out.index(p.Key); i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	*ps = out
	return nil
}

func (ps Params) index(key string) int {
	for i := range ps {
		if ps[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of key and whether it is present.
func (ps Params) Get(key string) (json.RawMessage, bool) {
	for i := range ps {
		if ps[i].Key == key {
			return ps[i].Value, true
		}
	}
	return nil, false
}

// Has reports whether key is present.
func (ps Params) Has(key string) bool {
	_, ok := ps.Get(key)
	return ok
}

// IsTruthy reports whether key is present with a truthy JSON value (true, a
// non-zero number, a non-empty string, an object or an array), as OpenWhisk
// reads boolean annotations.
func (ps Params) IsTruthy(key string) bool {
	v, ok := ps.Get(key)
	if !ok {
		return false
	}
	return truthy(v)
}

func truthy(v json.RawMessage) bool {
	s := string(v)
	switch {
	case s == "" || s == "null" || s == "false" || s == `""`:
		return false
	case s == "true":
		return true
	case s[0] == '"', s[0] == '{', s[0] == '[':
		return true
	default:
		f, err := strconv.ParseFloat(s, 64)
		return err == nil && f != 0
	}
}

// Merge returns ps overridden by over: keys of over replace those of ps in
// place, new keys are appended in over's order. Neither input is modified.
func (ps Params) Merge(over Params) Params {
	out := make(Params, len(ps), len(ps)+len(over))
	copy(out, ps)
	if len(ps)*len(over) <= linearLimit {
		for _, p := range over {
			replaced := false
			for i := range out {
				if out[i].Key == p.Key {
					out[i] = p
					replaced = true
					break
				}
			}
			if !replaced {
				out = append(out, p)
			}
		}
		return out
	}
	// Many keys (a large request body): an index instead of a scan per key.
	at := make(map[string]int, len(out)+len(over))
	for i, p := range out {
		if _, dup := at[p.Key]; !dup {
			at[p.Key] = i
		}
	}
	for _, p := range over {
		if i, ok := at[p.Key]; ok {
			out[i] = p
			continue
		}
		at[p.Key] = len(out)
		out = append(out, p)
	}
	return out
}

// JSONValue is the compact JSON of v, for a parameter or annotation value
// (null when v cannot be encoded).
func JSONValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// linearLimit bounds the work of the simple quadratic scans (Merge,
// AppendObject); beyond it they index the keys in a map.
const linearLimit = 256

// Set returns ps with key set to value (replacing or appending).
func (ps Params) Set(key string, value json.RawMessage) Params {
	return ps.Merge(Params{{Key: key, Value: value}})
}

// Without returns ps without the given keys.
func (ps Params) Without(keys ...string) Params {
	out := make(Params, 0, len(ps))
next:
	for _, p := range ps {
		for _, k := range keys {
			if p.Key == k {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// Size is the size OpenWhisk compares against the parameter size limit: the
// sum of key lengths and compact value lengths.
func (ps Params) Size() int {
	n := 0
	for _, p := range ps {
		n += len(p.Key) + len(p.Value)
	}
	return n
}

// AppendObject appends ps as a JSON object ({"k":v,...}) to dst. Later
// duplicates of a key win, as in a JSON object built by merging.
func (ps Params) AppendObject(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	var last map[string]int // the index of each key's last occurrence
	if len(ps)*len(ps) > linearLimit {
		last = make(map[string]int, len(ps))
		for i, p := range ps {
			last[p.Key] = i
		}
	}
	for i, p := range ps {
		if last != nil && last[p.Key] != i || last == nil && ps.shadowed(i) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, p.Key)
		dst = append(dst, ':')
		if len(p.Value) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, p.Value...)
		}
	}
	return append(dst, '}')
}

func (ps Params) shadowed(i int) bool {
	for j := i + 1; j < len(ps); j++ {
		if ps[j].Key == ps[i].Key {
			return true
		}
	}
	return false
}

// ParamsFromObject converts a JSON object into parameters, keeping the key
// order of the object. It returns an ErrInvalid error if b is not an object.
func ParamsFromObject(b []byte) (Params, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, Invalidf("The request content was malformed: expected a JSON object")
	}
	out := Params{}
	at := map[string]int{} // a repeated key replaces the first in place
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, Invalidf("The request content was malformed: %v", err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, Invalidf("The request content was malformed: %v", err)
		}
		p := Param{Key: kt.(string), Value: compactJSON(v)}
		if i, ok := at[p.Key]; ok {
			out[i] = p
			continue
		}
		at[p.Key] = len(out)
		out = append(out, p)
	}
	return out, nil
}

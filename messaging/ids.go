package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UnknownTransactionID is the id a malformed transaction id decodes to, as
// OpenWhisk's TransactionId reader falls back to "sid_unknown".
const UnknownTransactionID = "sid_unknown"

// TransactionID is OpenWhisk's TransactionId: the JSON array
// [id, startEpochMs] or [id, startEpochMs, extraLogging]. A nested parent
// transaction (a fourth element written by newer OpenWhisk versions) is
// accepted and dropped.
type TransactionID struct {
	ID           string
	Start        int64 // epoch milliseconds
	ExtraLogging bool
}

// AppendJSON appends the array form of t to dst.
func (t TransactionID) AppendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	dst = appendString(dst, t.ID)
	dst = append(dst, ',')
	dst = appendInt(dst, t.Start)
	if t.ExtraLogging {
		dst = append(dst, ",true"...)
	}
	return append(dst, ']')
}

// MarshalJSON writes [id, start] (plus true when ExtraLogging).
func (t TransactionID) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// UnmarshalJSON reads the array form. Like OpenWhisk it never fails: a
// value of any other shape becomes {ID: "sid_unknown", Start: 0}.
func (t *TransactionID) UnmarshalJSON(b []byte) error {
	*t = parseTransactionID(b)
	return nil
}

func parseTransactionID(b []byte) TransactionID {
	unknown := TransactionID{ID: UnknownTransactionID}
	var parts []json.RawMessage
	if json.Unmarshal(b, &parts) != nil || len(parts) < 2 {
		return unknown
	}
	var id string
	if json.Unmarshal(parts[0], &id) != nil || isNull(parts[0]) {
		return unknown
	}
	start, ok := parseEpochMs(parts[1])
	if !ok {
		return unknown
	}
	t := TransactionID{ID: id, Start: start}
	if len(parts) >= 3 {
		if json.Unmarshal(parts[2], &t.ExtraLogging) != nil || isNull(parts[2]) {
			return unknown
		}
	}
	return t
}

// parseEpochMs reads a JSON number as whole milliseconds (a fraction is
// dropped, as Scala's BigDecimal.longValue does).
func parseEpochMs(raw json.RawMessage) (int64, bool) {
	s := string(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if len(s) == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// MaxControllerIDLength bounds a controller instance id: it becomes part of
// a topic name (OpenWhisk reserves 121 of Kafka's 249 characters for
// prefixes).
const MaxControllerIDLength = 249 - 121

// ControllerInstanceID is OpenWhisk's ControllerInstanceId:
// {"asString":"0","instanceType":"controller"}.
type ControllerInstanceID struct {
	AsString string
}

// ValidControllerID reports whether s may name a controller: 1..128 of
// [a-zA-Z0-9._-] (OpenWhisk's rule, as the id ends up in a topic name).
func ValidControllerID(s string) bool {
	if len(s) == 0 || len(s) > MaxControllerIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AppendJSON appends the object form of c to dst.
func (c ControllerInstanceID) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"asString":`...)
	dst = appendString(dst, c.AsString)
	return append(dst, `,"instanceType":"controller"}`...)
}

// MarshalJSON writes {"asString":..,"instanceType":"controller"}.
func (c ControllerInstanceID) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// UnmarshalJSON requires a valid asString; instanceType, if present, must
// be "controller".
func (c *ControllerInstanceID) UnmarshalJSON(b []byte) error {
	var j struct {
		AsString     *string `json:"asString"`
		InstanceType *string `json:"instanceType"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("controller instance id: %w", err)
	}
	if j.AsString == nil || !ValidControllerID(*j.AsString) {
		return errors.New("controller instance id: asString missing or invalid")
	}
	if j.InstanceType != nil && *j.InstanceType != "controller" {
		return errors.New("controller instance id: instanceType is not controller")
	}
	c.AsString = *j.AsString
	return nil
}

// ByteSize is a size in bytes, written as OpenWhisk writes the sizes it
// configures in megabytes: "<n> MB" when whole megabytes, else "<n> KB" or
// "<n> B". Reading accepts B, KB, MB and GB.
type ByteSize int64

// Size units.
const (
	KB ByteSize = 1024
	MB ByteSize = 1024 * KB
	GB ByteSize = 1024 * MB
)

// MegaBytes returns the size in whole megabytes.
func (s ByteSize) MegaBytes() int { return int(s / MB) }

// AppendText appends "<n> <unit>".
func (s ByteSize) AppendText(dst []byte) []byte {
	n, unit := int64(s), "B"
	switch {
	case s != 0 && s%MB == 0:
		n, unit = int64(s/MB), "MB"
	case s != 0 && s%KB == 0:
		n, unit = int64(s/KB), "KB"
	}
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, ' ')
	return append(dst, unit...)
}

func (s ByteSize) String() string { return string(s.AppendText(nil)) }

// ParseByteSize reads "<n> <unit>" with unit B, K, KB, M, MB, G or GB (case
// insensitive, the space optional), as OpenWhisk's ByteSize.fromString.
func ParseByteSize(str string) (ByteSize, error) {
	s := strings.TrimSpace(str)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 15 {
		return 0, fmt.Errorf("size %q: want <n> B|KB|MB|GB", str)
	}
	n, _ := strconv.ParseInt(s[:i], 10, 64)
	unit := ByteSize(0)
	switch strings.ToUpper(strings.TrimSpace(s[i:])) {
	case "B":
		unit = 1
	case "K", "KB":
		unit = KB
	case "M", "MB":
		unit = MB
	case "G", "GB":
		unit = GB
	default:
		return 0, fmt.Errorf("size %q: want <n> B|KB|MB|GB", str)
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("size %q is too large", str)
	}
	return ByteSize(n) * unit, nil
}

// MarshalJSON writes the size as a JSON string.
func (s ByteSize) MarshalJSON() ([]byte, error) {
	b := append([]byte{'"'}, s.AppendText(nil)...)
	return append(b, '"'), nil
}

// UnmarshalJSON reads the string form.
func (s *ByteSize) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("size: %w", err)
	}
	v, err := ParseByteSize(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// InvokerInstanceID is OpenWhisk's InvokerInstanceId:
// {"instance":0,"userMemory":"2048 MB","instanceType":"invoker","tags":[],
// "dedicatedNamespaces":[],"uniqueName"?,"displayedName"?,"busyMemory"?}.
type InvokerInstanceID struct {
	Instance            int
	UniqueName          string   // optional
	DisplayedName       string   // optional
	UserMemory          ByteSize // the invoker's container pool memory
	BusyMemory          ByteSize // optional (0 = absent)
	Tags                []string
	DedicatedNamespaces []string
}

// AppendJSON appends the object form of i to dst.
func (i InvokerInstanceID) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"instance":`...)
	dst = strconv.AppendInt(dst, int64(i.Instance), 10)
	dst = append(dst, `,"userMemory":"`...)
	dst = i.UserMemory.AppendText(dst)
	dst = append(dst, `","instanceType":"invoker","tags":`...)
	dst = appendStrings(dst, i.Tags)
	dst = append(dst, `,"dedicatedNamespaces":`...)
	dst = appendStrings(dst, i.DedicatedNamespaces)
	if i.UniqueName != "" {
		dst = append(dst, `,"uniqueName":`...)
		dst = appendString(dst, i.UniqueName)
	}
	if i.DisplayedName != "" {
		dst = append(dst, `,"displayedName":`...)
		dst = appendString(dst, i.DisplayedName)
	}
	if i.BusyMemory != 0 {
		dst = append(dst, `,"busyMemory":"`...)
		dst = i.BusyMemory.AppendText(dst)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// MarshalJSON writes the object form.
func (i InvokerInstanceID) MarshalJSON() ([]byte, error) { return i.AppendJSON(nil), nil }

// UnmarshalJSON requires instance (>= 0) and userMemory; instanceType, if
// present, must be "invoker"; tags and dedicatedNamespaces default to empty.
func (i *InvokerInstanceID) UnmarshalJSON(b []byte) error {
	var j struct {
		Instance            *int      `json:"instance"`
		UniqueName          *string   `json:"uniqueName"`
		DisplayedName       *string   `json:"displayedName"`
		UserMemory          *ByteSize `json:"userMemory"`
		BusyMemory          *ByteSize `json:"busyMemory"`
		InstanceType        *string   `json:"instanceType"`
		Tags                []string  `json:"tags"`
		DedicatedNamespaces []string  `json:"dedicatedNamespaces"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("invoker instance id: %w", err)
	}
	if j.Instance == nil || *j.Instance < 0 || j.UserMemory == nil || *j.UserMemory < 0 {
		return errors.New("invoker instance id: instance or userMemory missing or invalid")
	}
	if j.InstanceType != nil && *j.InstanceType != "invoker" {
		return errors.New("invoker instance id: instanceType is not invoker")
	}
	*i = InvokerInstanceID{Instance: *j.Instance, UserMemory: *j.UserMemory, Tags: j.Tags, DedicatedNamespaces: j.DedicatedNamespaces}
	if j.UniqueName != nil {
		i.UniqueName = *j.UniqueName
	}
	if j.DisplayedName != nil {
		i.DisplayedName = *j.DisplayedName
	}
	if j.BusyMemory != nil {
		i.BusyMemory = *j.BusyMemory
	}
	return nil
}

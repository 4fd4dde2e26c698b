package entity

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// KeyLength is the exact length of a namespace key (the password half of
// uuid:key).
const KeyLength = 64

// Guest credentials, as shipped by OpenWhisk (ansible/files/auth.guest and
// auth.whisk.system). A standalone server creates the guest namespace with
// this key on first start.
const (
	GuestSubject   = "guest"
	GuestUUID      = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	GuestKey       = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	SystemSubject  = "whisk.system"
	SystemUUID     = "789c46b1-71f6-4ed5-8c54-816aa4f8c502"
	SystemKey      = "abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	GuestAuthToken = GuestUUID + ":" + GuestKey
)

// NamespaceKey is one namespace of a subject with its credentials.
type NamespaceKey struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
	Key  string `json:"key"`
}

// Subject is a document of the subjects database: a user and the
// namespaces (with keys) it owns. Blocked disables all of its namespaces.
type Subject struct {
	Subject    string         `json:"subject"`
	Namespaces []NamespaceKey `json:"namespaces"`
	Blocked    bool           `json:"blocked,omitempty"`
	Rev        string         `json:"-"`
}

// UserLimits are a namespace's overrides of the system limits; nil fields
// fall back to the system defaults. JSON field names match OpenWhisk's
// limits documents.
type UserLimits struct {
	InvocationsPerMinute        *int     `json:"invocationsPerMinute,omitempty"`
	ConcurrentInvocations       *int     `json:"concurrentInvocations,omitempty"`
	FiresPerMinute              *int     `json:"firesPerMinute,omitempty"`
	AllowedKinds                []string `json:"allowedKinds,omitempty"`
	StoreActivations            *bool    `json:"storeActivations,omitempty"`
	MinActionMemory             *int     `json:"minActionMemory,omitempty"`
	MaxActionMemory             *int     `json:"maxActionMemory,omitempty"`
	MinActionLogs               *int     `json:"minActionLogs,omitempty"`
	MaxActionLogs               *int     `json:"maxActionLogs,omitempty"`
	MinActionTimeout            *int     `json:"minActionTimeout,omitempty"`
	MaxActionTimeout            *int     `json:"maxActionTimeout,omitempty"`
	MinActionConcurrency        *int     `json:"minActionConcurrency,omitempty"`
	MaxActionConcurrency        *int     `json:"maxActionConcurrency,omitempty"`
	MaxActionInstances          *int     `json:"maxActionInstances,omitempty"`
	MaxParameterSize            *int     `json:"maxParameterSize,omitempty"`
	MaxPayloadSize              *int     `json:"maxPayloadSize,omitempty"`
	TruncationSize              *int     `json:"truncationSize,omitempty"`
	WarmedContainerKeepingCount *int     `json:"warmedContainerKeepingCount,omitempty"`
	WarmedContainerKeepingTime  *string  `json:"warmedContainerKeepingTimeout,omitempty"`
}

// KindAllowed reports whether the namespace may use kind (no list = all).
func (u UserLimits) KindAllowed(kind string) bool {
	if len(u.AllowedKinds) == 0 {
		return true
	}
	for _, k := range u.AllowedKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Identity is an authenticated caller: its subject, the namespace its key
// belongs to, the key and its rights. Its JSON is the form OpenWhisk puts in
// ActivationMessage.user.
type Identity struct {
	Subject   string       `json:"subject"`
	Namespace NamespaceRef `json:"namespace"`
	AuthKey   AuthKey      `json:"authkey"`
	Rights    []string     `json:"rights"`
	Limits    UserLimits   `json:"limits"`
}

// NamespaceRef names a namespace and its uuid.
type NamespaceRef struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// AuthKey holds the "uuid:key" credential string.
type AuthKey struct {
	APIKey string `json:"api_key"`
}

// AllRights is what a namespace owner holds on its own resources.
func AllRights() []string { return []string{"READ", "PUT", "DELETE", "ACTIVATE"} }

// NewIdentity builds the identity of ns as owned by subject.
func NewIdentity(subject string, ns NamespaceKey, limits UserLimits) Identity {
	return Identity{
		Subject:   subject,
		Namespace: NamespaceRef{Name: ns.Name, UUID: ns.UUID},
		AuthKey:   AuthKey{APIKey: ns.UUID + ":" + ns.Key},
		Rights:    AllRights(),
		Limits:    limits,
	}
}

// SplitAuth splits "uuid:key"; ok is false if there is no colon.
func SplitAuth(s string) (uuid, key string, ok bool) {
	return strings.Cut(s, ":")
}

// NewUUID returns a random RFC 4122 version 4 UUID, dashed.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewKey returns a random 64-character alphanumeric namespace key.
func NewKey() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, KeyLength)
	var buf [KeyLength]byte
	for len(out) < KeyLength {
		_, _ = rand.Read(buf[:])
		for _, c := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the choice uniform.
			if c < 248 && len(out) < KeyLength {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// ValidKey reports whether s is a 64-character alphanumeric key.
func ValidKey(s string) bool {
	if len(s) != KeyLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// NewActivationID returns a new activation id: 32 lowercase hex characters,
// the form of OpenWhisk's ids (a UUID without dashes). The id is a version
// 7 UUID (RFC 9562): the current Unix time in milliseconds, then 74 random
// bits. Ids made later sort later, so the stores' indexes by id grow at
// their end instead of at random places (fewer pages written per commit).
func NewActivationID() string {
	var r [10]byte
	_, _ = rand.Read(r[:])
	return activationIDAt(time.Now().UnixMilli(), r)
}

// activationIDAt is the version 7 UUID of Unix millisecond ms and 80 bits
// of randomness (6 of which the version and variant overwrite), as 32
// lowercase hex characters.
func activationIDAt(ms int64, random [10]byte) string {
	var b [16]byte
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	copy(b[6:], random[:])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// ValidActivationID reports whether s is 32 lowercase hex characters.
func ValidActivationID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			return false
		}
	}
	return true
}

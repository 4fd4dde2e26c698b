package entity

import (
	"strings"
)

// MaxNameLength is the longest entity name OpenWhisk accepts.
const MaxNameLength = 256

// DefaultNamespace is the placeholder that resolves to the caller's namespace.
const DefaultNamespace = "_"

// MsgIllegalName is OpenWhisk's message for a name that breaks the name rules.
const MsgIllegalName = "The name of the entity contains illegal characters."

// ValidName reports whether s is a legal entity name (OpenWhisk's
// EntityName.REGEX: \A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z).
// It does not allocate.
func ValidName(s string) bool {
	n := len(s)
	if n == 0 || n > MaxNameLength {
		return false
	}
	if !isWord(s[0]) {
		return false
	}
	if n == 1 {
		return true
	}
	for i := 1; i < n-1; i++ {
		c := s[i]
		if !isWord(c) && c != '@' && c != ' ' && c != '.' && c != '&' && c != '-' {
			return false
		}
	}
	c := s[n-1]
	return isWord(c) || c == '@' || c == '.' || c == '&' || c == '-'
}

func isWord(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// EntityPath is the path of the container of an entity: a namespace
// ("guest") or a namespace and a package ("guest/pkg").
type EntityPath string

// Root returns the namespace part of the path.
func (p EntityPath) Root() string {
	s := string(p)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}

// Package returns the package part of the path, or "" if there is none.
func (p EntityPath) Package() string {
	s := string(p)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// Valid reports whether every segment of the path is a legal name and the
// path has one or two segments.
func (p EntityPath) Valid() bool {
	s := string(p)
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return ValidName(s)
	}
	return ValidName(s[:i]) && ValidName(s[i+1:])
}

// FQN is a fully qualified entity name: the path of its container and its
// own name. Its JSON form is OpenWhisk's {"path":..,"name":..} object, used in
// stored rule and trigger documents.
type FQN struct {
	Path EntityPath `json:"path"`
	Name string     `json:"name"`
}

// NewFQN builds a name from a namespace, an optional package and a name.
func NewFQN(namespace, pkg, name string) FQN {
	if pkg == "" {
		return FQN{Path: EntityPath(namespace), Name: name}
	}
	return FQN{Path: EntityPath(namespace + "/" + pkg), Name: name}
}

// DocID is the document id: "ns/name" or "ns/pkg/name".
func (n FQN) DocID() string { return string(n.Path) + "/" + n.Name }

// String is the slash-led form used by the CLI and in messages: "/ns/pkg/name".
func (n FQN) String() string { return "/" + n.DocID() }

// Namespace is the root namespace of the entity.
func (n FQN) Namespace() string { return n.Path.Root() }

// Package is the package holding the entity, or "".
func (n FQN) Package() string { return n.Path.Package() }

// Valid reports whether the path and the name are legal.
func (n FQN) Valid() bool { return n.Path.Valid() && ValidName(n.Name) }

// ParseFQN parses a qualified name as OpenWhisk resolves one in request
// bodies (FullyQualifiedEntityName.resolveName): empty segments are dropped,
// then
//
//	/ns/name, /ns/pkg/name   explicit namespace ("_" is the caller's)
//	ns/pkg/name              three segments are always fully qualified
//	name, pkg/name           relative to defaultNS
//
// It returns an ErrInvalid error for an empty name, a lone "/name", too
// many segments or an illegal segment.
func ParseFQN(s, defaultNS string) (FQN, error) {
	explicit := strings.HasPrefix(s, "/")
	var parts []string
	for _, p := range strings.Split(s, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	var ns, pkg, name string
	switch {
	case len(parts) == 2 && explicit:
		ns, name = parts[0], parts[1]
	case len(parts) == 3:
		ns, pkg, name = parts[0], parts[1], parts[2]
	case len(parts) == 1 && !explicit:
		ns, name = defaultNS, parts[0]
	case len(parts) == 2:
		ns, pkg, name = defaultNS, parts[0], parts[1]
	case len(parts) == 0:
		return FQN{}, Invalidf(MsgIllegalName)
	default:
		return FQN{}, Invalidf(MsgMalformedFQN)
	}
	if ns == DefaultNamespace {
		ns = defaultNS
	}
	if !ValidName(ns) || !ValidName(name) || (pkg != "" && !ValidName(pkg)) {
		return FQN{}, Invalidf(MsgIllegalName)
	}
	return NewFQN(ns, pkg, name), nil
}

// MsgMalformedFQN is OpenWhisk's message for a qualified name without
// both a namespace and a name.
const MsgMalformedFQN = "The fully qualified name of the entity must contain at least the namespace and the name of the entity."

// Kind names the type of an entity document; its string is OpenWhisk's
// stored entityType.
type Kind string

// The entity kinds kept in the entity store.
const (
	KindAction  Kind = "action"
	KindTrigger Kind = "trigger"
	KindRule    Kind = "rule"
	KindPackage Kind = "package"
)

// Collection is the REST collection name of the kind ("actions", ...).
func (k Kind) Collection() string { return string(k) + "s" }

// Kinds lists every entity kind kept in the entity store.
var kinds = [...]Kind{KindAction, KindTrigger, KindRule, KindPackage}

// Kinds returns the entity kinds kept in the entity store.
func Kinds() []Kind { return kinds[:] }

package entity

import (
	"encoding/json"
	"strings"
)

// Exec is what an action runs: code of a runtime kind, a blackbox image
// (optionally with code), or a sequence of other actions.
type Exec struct {
	Kind       string   // canonical kind, "blackbox" or "sequence"
	Code       string   // source, or base64 of an archive when Binary
	Binary     bool     // computed from Code on write
	Main       string   // entry point override
	Image      string   // blackbox image
	Components []string // sequence components, "/ns/[pkg/]name"

	// CodeOmitted drops code from the JSON (GET with code=false).
	CodeOmitted bool
}

type execJSON struct {
	Kind       string   `json:"kind"`
	Code       *string  `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Binary     *bool    `json:"binary,omitempty"`
	Main       string   `json:"main,omitempty"`
	Components []string `json:"components,omitempty"`
}

// MarshalJSON writes OpenWhisk's exec variants.
func (e Exec) MarshalJSON() ([]byte, error) {
	j := execJSON{Kind: e.Kind}
	switch e.Kind {
	case KindSequence:
		j.Components = e.Components
		if j.Components == nil {
			j.Components = []string{}
		}
		return json.Marshal(struct {
			Kind       string   `json:"kind"`
			Components []string `json:"components"`
		}{e.Kind, j.Components})
	case KindBlackbox:
		j.Image = e.Image
		if e.Code != "" && !e.CodeOmitted {
			j.Code = &e.Code
		}
	default:
		if !e.CodeOmitted {
			j.Code = &e.Code
		}
	}
	j.Binary = &e.Binary
	j.Main = e.Main
	return json.Marshal(j)
}

// UnmarshalJSON reads an exec as sent in a PUT body or stored: kind, code
// (or its legacy alias jar), image, main, components. Binary is recomputed.
func (e *Exec) UnmarshalJSON(b []byte) error {
	var j struct {
		Kind       *string  `json:"kind"`
		Code       *string  `json:"code"`
		Jar        *string  `json:"jar"`
		Image      string   `json:"image"`
		Main       string   `json:"main"`
		Components []string `json:"components"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return Invalidf("exec malformed: %v", err)
	}
	if j.Kind == nil || *j.Kind == "" {
		return Invalidf("exec malformed: kind is required")
	}
	// OpenWhisk reads the kind trimmed and lower-cased.
	*e = Exec{Kind: strings.ToLower(strings.TrimSpace(*j.Kind)), Image: j.Image, Main: j.Main, Components: j.Components}
	if e.Kind == "" {
		return Invalidf("exec malformed: kind is required")
	}
	switch {
	case j.Code != nil:
		e.Code = *j.Code
	case j.Jar != nil:
		e.Code = *j.Jar
	}
	// Keep only what the kind's JSON form holds (see MarshalJSON).
	switch e.Kind {
	case KindSequence:
		e.Code, e.Image, e.Main = "", "", ""
		if len(e.Components) == 0 {
			e.Components = nil
		}
	case KindBlackbox:
		e.Components = nil
	default:
		e.Image, e.Components = "", nil
	}
	e.Binary = IsBase64(e.Code)
	return nil
}

// Size is the size compared against the exec size limit.
func (e Exec) Size() int {
	n := len(e.Code) + len(e.Image)
	for _, c := range e.Components {
		n += len(c)
	}
	return n
}

// Validate checks the exec against the manifest, canonicalizes its kind, and
// computes Binary. Errors are ErrInvalid with OpenWhisk's messages.
func (e *Exec) Validate(m *Manifest) error {
	switch e.Kind {
	case KindSequence:
		if len(e.Components) == 0 {
			return Invalidf("No component specified for the sequence.")
		}
		comps := make([]string, len(e.Components))
		for i, c := range e.Components {
			n, err := ParseComponent(c)
			if err != nil {
				return err
			}
			comps[i] = n.String()
		}
		e.Components = comps
		e.Code, e.Image, e.Main, e.Binary = "", "", "", false
		return nil
	case KindBlackbox:
		if e.Image == "" || !validImageRef(e.Image) {
			return Invalidf("exec malformed: the blackbox image name is invalid")
		}
	default:
		k, err := m.CheckKind(e.Kind)
		if err != nil {
			return err
		}
		e.Kind = k
		if r, _ := m.Resolve(k); r.RequireMain && e.Main == "" {
			return Invalidf("exec malformed: kind '%s' requires the main parameter", k)
		}
		if strings.TrimSpace(e.Code) == "" {
			return Invalidf("exec malformed: code is required for kind '%s'", k)
		}
		e.Components = nil
		e.Image = ""
	}
	e.Binary = IsBase64(e.Code)
	return nil
}

// ParseComponent parses a sequence component as OpenWhisk reads one
// (EntityPath(name).toFullyQualifiedEntityName): empty segments are
// dropped, and the first of two or three segments is the namespace, with or
// without a leading slash ("/ns/a", "ns/pkg/a"). "_" is kept; the caller
// resolves it to its namespace. Errors are ErrInvalid.
func ParseComponent(s string) (FQN, error) {
	var parts []string
	for _, p := range strings.Split(s, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) < 2 || len(parts) > 3 {
		return FQN{}, Invalidf(MsgMalformedFQN)
	}
	for _, p := range parts {
		if !ValidName(p) {
			return FQN{}, Invalidf(MsgIllegalName)
		}
	}
	if len(parts) == 2 {
		return NewFQN(parts[0], "", parts[1]), nil
	}
	return NewFQN(parts[0], parts[1], parts[2]), nil
}

// IsBase64 reports whether code is treated as binary: trimmed it is
// non-empty, a multiple of 4 long, and standard padded base64.
func IsBase64(code string) bool {
	s := strings.TrimSpace(code)
	n := len(s)
	if n == 0 || n%4 != 0 {
		return false
	}
	for i := 0; i < n; i++ {
		c := s[i]
		ok := (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'
		if !ok {
			// '=' only as one or two final padding characters.
			if c == '=' && (i == n-1 || (i == n-2 && s[n-1] == '=')) {
				continue
			}
			return false
		}
	}
	return true
}

// validImageRef is a permissive check of a Docker image reference:
// non-empty, no whitespace or control characters, no leading separator,
// and only the characters a reference may hold.
func validImageRef(s string) bool {
	if s == "" || len(s) > 512 || s[0] == '/' || s[0] == ':' || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@'
		if !ok {
			return false
		}
	}
	return true
}

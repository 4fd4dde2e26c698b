package entity

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Special exec kinds that are not runtimes of the manifest.
const (
	KindBlackbox = "blackbox"
	KindSequence = "sequence"
)

// ImageName is a Docker image reference in OpenWhisk's manifest form.
type ImageName struct {
	Registry string `json:"registry,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Name     string `json:"name"`
	Tag      string `json:"tag,omitempty"`
}

// String resolves the image as registry/prefix/name:tag.
func (i ImageName) String() string {
	s := i.Name
	if i.Prefix != "" {
		s = i.Prefix + "/" + s
	}
	if i.Registry != "" {
		s = i.Registry + "/" + s
	}
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	return s
}

// RuntimeKind is one kind of the runtimes manifest. Fields beyond
// OpenWhisk's (how the kind runs locally) live in package runtimes, which
// reads the same file; this is what the controller needs to validate and
// describe kinds.
type RuntimeKind struct {
	Kind            string          `json:"kind"`
	Default         bool            `json:"default"`
	Deprecated      bool            `json:"deprecated"`
	Image           ImageName       `json:"image"`
	RequireMain     bool            `json:"requireMain"`
	SentinelledLogs *bool           `json:"sentinelledLogs,omitempty"`
	Attached        json.RawMessage `json:"attached,omitempty"`
	Aliases         []string        `json:"aliases,omitempty"`
}

// Manifest is the runtimes manifest: kind families and blackbox images.
type Manifest struct {
	Runtimes   map[string][]RuntimeKind `json:"runtimes"`
	Blackboxes []ImageName              `json:"blackboxes"`

	byKind map[string]*RuntimeKind // kind and alias -> entry
}

// ParseManifest decodes and checks a runtimes manifest: every family has
// exactly one default (or exactly one kind), kinds and aliases are unique.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	m.byKind = map[string]*RuntimeKind{}
	for fam, kinds := range m.Runtimes {
		defaults := 0
		for i := range kinds {
			k := &kinds[i]
			if k.Default {
				defaults++
			}
			for _, name := range append([]string{k.Kind}, k.Aliases...) {
				if _, dup := m.byKind[name]; dup {
					return nil, fmt.Errorf("runtimes manifest: kind %q listed twice", name)
				}
				m.byKind[name] = k
			}
		}
		if defaults > 1 || (defaults == 0 && len(kinds) != 1) {
			return nil, fmt.Errorf("runtimes manifest: family %q needs exactly one default kind", fam)
		}
		if len(kinds) == 1 {
			kinds[0].Default = true
		}
	}
	return &m, nil
}

// Resolve maps a requested kind to its manifest entry, resolving
// "<family>:default" and aliases. ok is false for an unknown kind.
func (m *Manifest) Resolve(kind string) (*RuntimeKind, bool) {
	if fam, ok := strings.CutSuffix(kind, ":default"); ok {
		for i, k := range m.Runtimes[fam] {
			if k.Default {
				return &m.Runtimes[fam][i], true
			}
		}
		return nil, false
	}
	k, ok := m.byKind[kind]
	return k, ok
}

// Kinds lists the valid kind names (including aliases and blackbox and
// sequence), sorted, as OpenWhisk lists them in its unknown-kind message.
func (m *Manifest) Kinds() []string {
	out := make([]string, 0, len(m.byKind)+2)
	for k := range m.byKind {
		out = append(out, k)
	}
	out = append(out, KindBlackbox, KindSequence)
	sort.Strings(out)
	return out
}

// IsNativeBlackbox reports whether image is one of the manifest's blackbox
// images (run without pulling).
func (m *Manifest) IsNativeBlackbox(image string) bool {
	_, ok := m.NativeBlackboxImage(image)
	return ok
}

// NativeBlackboxImage returns the manifest's full image name (with its tag)
// of the blackbox image that image names, with or without that tag: the
// CLI's --native sends "openwhisk/dockerskeleton", which runs as the
// manifest's "openwhisk/dockerskeleton:nightly". ok is false for any other
// image.
func (m *Manifest) NativeBlackboxImage(image string) (string, bool) {
	for _, b := range m.Blackboxes {
		full := b.String()
		if full == image || strings.TrimSuffix(full, ":"+b.Tag) == image {
			return full, true
		}
	}
	return "", false
}

// CheckKind validates a requested code kind (not blackbox or sequence) and
// returns its canonical kind name. Unknown and deprecated kinds give
// ErrInvalid with OpenWhisk's messages.
func (m *Manifest) CheckKind(kind string) (string, error) {
	k, ok := m.Resolve(kind)
	if !ok {
		return "", Invalidf("The specified runtime '%s' is not supported by this platform. Valid values are: '%s'.", kind, strings.Join(m.Kinds(), "', '"))
	}
	if k.Deprecated {
		return "", Invalidf("The '%s' runtime is no longer supported. You may read and delete but not update or invoke this action.", k.Kind)
	}
	return k.Kind, nil
}

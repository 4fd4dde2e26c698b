// Package runtimes holds gowhisk's runtimes manifest: the action kinds the
// platform supports, in Apache OpenWhisk's RUNTIMES_MANIFEST format
// (runtimes.json, embedded in the binary), and readers for it.
//
// "blackbox" and "sequence" are special kinds handled by entity.Exec; they
// are not families of the manifest.
package runtimes

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
)

//go:embed runtimes.json
var manifestJSON []byte

// ManifestJSON returns a copy of the embedded runtimes.json, for readers of
// fields beyond entity.Manifest's (local launcher settings, stem cells).
func ManifestJSON() []byte { return append([]byte(nil), manifestJSON...) }

// LoadManifest parses the embedded runtimes manifest.
func LoadManifest() (*entity.Manifest, error) {
	return entity.ParseManifest(manifestJSON)
}

// ReadManifestFile reads and parses a runtimes manifest file in OpenWhisk's
// format (for example a RUNTIMES_MANIFEST saved to disk). Unknown fields are
// ignored.
func ReadManifestFile(path string) (*entity.Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	return entity.ParseManifest(b)
}

// StemCell is a number of pre-started containers of a kind with a memory
// size (OpenWhisk's stemCells entry of a runtime).
type StemCell struct {
	Kind         string
	InitialCount int
	MemoryMB     int
}

// StemCells returns the stem cells a manifest document asks for, in the
// order of its families (sorted by name) and kinds.
func StemCells(manifest []byte) ([]StemCell, error) {
	var m struct {
		Runtimes map[string][]struct {
			Kind      string `json:"kind"`
			StemCells []struct {
				InitialCount int    `json:"initialCount"`
				Memory       string `json:"memory"`
			} `json:"stemCells"`
		} `json:"runtimes"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	fams := make([]string, 0, len(m.Runtimes))
	for f := range m.Runtimes {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	var out []StemCell
	for _, f := range fams {
		for _, k := range m.Runtimes[f] {
			for _, sc := range k.StemCells {
				mb, err := ParseMemory(sc.Memory)
				if err != nil {
					return nil, fmt.Errorf("runtimes manifest: kind %q stem cell: %w", k.Kind, err)
				}
				if sc.InitialCount < 0 {
					return nil, fmt.Errorf("runtimes manifest: kind %q stem cell: negative initialCount", k.Kind)
				}
				out = append(out, StemCell{Kind: k.Kind, InitialCount: sc.InitialCount, MemoryMB: mb})
			}
		}
	}
	return out, nil
}

// ParseMemory parses an OpenWhisk size string such as "256 MB", "256M" or
// "1 GB" into megabytes.
func ParseMemory(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(t[:i])
	if err != nil || i > 9 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	switch strings.TrimSpace(t[i:]) {
	case "M", "MB":
		return n, nil
	case "G", "GB":
		return n * 1024, nil
	}
	return 0, fmt.Errorf("bad size %q: use MB or GB", s)
}

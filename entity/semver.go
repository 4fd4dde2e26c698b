package entity

import (
	"encoding/json"
	"strconv"
	"strings"
)

// SemVer is an entity version; its JSON is the string "major.minor.patch".
type SemVer struct{ Major, Minor, Patch int }

// DefaultVersion is the version of a newly created entity.
var DefaultVersion = SemVer{0, 0, 1}

func (v SemVer) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Patch)
}

// UpPatch returns v with the patch number incremented.
func (v SemVer) UpPatch() SemVer { v.Patch++; return v }

// ParseSemVer parses "M.m.p" (a missing minor or patch is 0).
func ParseSemVer(s string) (SemVer, error) {
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return SemVer{}, Invalidf("bad semantic version")
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || len(p) > 9 {
			return SemVer{}, Invalidf("bad semantic version")
		}
		n[i] = x
	}
	if n == [3]int{} {
		return SemVer{}, Invalidf("bad semantic version")
	}
	return SemVer{n[0], n[1], n[2]}, nil
}

func (v SemVer) MarshalJSON() ([]byte, error) {
	return AppendJSONString(nil, v.String()), nil
}

func (v *SemVer) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Invalidf("version must be a string such as \"0.0.1\"")
	}
	p, err := ParseSemVer(s)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

package entity

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// owNameRegex is OpenWhisk's EntityName.REGEX, verbatim.
var owNameRegex = regexp.MustCompile(`\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z`)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"single letter", "a", true},
		{"single digit", "7", true},
		{"single underscore", "_", true},
		{"inner space", "a b", true},
		{"trailing dash", "a-", true},
		{"trailing at", "a@", true},
		{"trailing dot", "a.", true},
		{"trailing ampersand", "a&", true},
		{"email like", "john@example.com_dev", true},
		{"leading space", " a", false},
		{"trailing space", "a ", false},
		{"leading dash", "-a", false},
		{"leading dot", ".a", false},
		{"leading at", "@a", false},
		{"empty", "", false},
		{"slash", "a/b", false},
		{"tab", "a\tb", false},
		{"newline at end", "a\n", false},
		{"unicode letter", "é", false},
		{"unicode inside", "aéb", false},
		{"max length 256", strings.Repeat("a", 256), true},
		{"257 chars", strings.Repeat("a", 257), false},
		{"256 with spaces inside", "a" + strings.Repeat(" ", 254) + "b", true},
		{"invalid utf8", "a\xffb", false},
		{"star", "a*", false},
		{"colon", "a:b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidName(tc.in); got != tc.want {
				t.Errorf("ValidName(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if re := owNameRegex.MatchString(tc.in); re != tc.want {
				t.Errorf("test case disagrees with OpenWhisk's regex for %q: regex %v", tc.in, re)
			}
		})
	}
}

func TestParseFQN(t *testing.T) {
	tests := []struct {
		name, in, ns string
		want         FQN
		err          string // "" = success
	}{
		{"explicit namespace", "/ns/a", "guest", NewFQN("ns", "", "a"), ""},
		{"explicit package", "/ns/p/a", "guest", NewFQN("ns", "p", "a"), ""},
		{"relative name", "a", "guest", NewFQN("guest", "", "a"), ""},
		{"relative package", "p/a", "guest", NewFQN("guest", "p", "a"), ""},
		{"three segments are fully qualified", "ns/p/a", "guest", NewFQN("ns", "p", "a"), ""},
		{"default namespace resolves", "/_/a", "guest", NewFQN("guest", "", "a"), ""},
		{"default namespace with package", "/_/p/a", "guest", NewFQN("guest", "p", "a"), ""},
		{"empty segments dropped", "//ns//a/", "guest", NewFQN("ns", "", "a"), ""},
		{"names with spaces", "/my ns/my pkg/my action", "guest", NewFQN("my ns", "my pkg", "my action"), ""},
		{"lone slash name", "/a", "guest", FQN{}, MsgMalformedFQN},
		{"too many segments", "/ns/p/a/b", "guest", FQN{}, MsgMalformedFQN},
		{"too many relative segments", "a/b/c/d", "guest", FQN{}, MsgMalformedFQN},
		{"empty", "", "guest", FQN{}, MsgIllegalName},
		{"only slashes", "///", "guest", FQN{}, MsgIllegalName},
		{"illegal name", "/ns/a*", "guest", FQN{}, MsgIllegalName},
		{"illegal package", "/ns/-p/a", "guest", FQN{}, MsgIllegalName},
		{"illegal namespace", "/ n/a", "guest", FQN{}, MsgIllegalName},
		{"illegal default namespace", "a", "", FQN{}, MsgIllegalName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFQN(tc.in, tc.ns)
			if tc.err != "" {
				if !errors.Is(err, ErrInvalid) || err.Error() != tc.err {
					t.Fatalf("ParseFQN(%q) = %v, %v; want ErrInvalid %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseFQN(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if !got.Valid() {
				t.Errorf("%v is not Valid", got)
			}
			again, err := ParseFQN(got.String(), "other")
			if err != nil || again != got {
				t.Errorf("reparse of %q = %v, %v", got.String(), again, err)
			}
		})
	}
}

func TestFQNAccessors(t *testing.T) {
	tests := []struct {
		name                    string
		n                       FQN
		doc, str, ns, pkg, root string
	}{
		{"namespace entity", NewFQN("guest", "", "a"), "guest/a", "/guest/a", "guest", "", "guest"},
		{"packaged entity", NewFQN("guest", "p", "a"), "guest/p/a", "/guest/p/a", "guest", "p", "guest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.n.DocID() != tc.doc || tc.n.String() != tc.str || tc.n.Namespace() != tc.ns ||
				tc.n.Package() != tc.pkg || tc.n.Path.Root() != tc.root {
				t.Errorf("%#v: DocID %q String %q Namespace %q Package %q", tc.n, tc.n.DocID(), tc.n.String(), tc.n.Namespace(), tc.n.Package())
			}
		})
	}
}

func TestEntityPathValid(t *testing.T) {
	tests := []struct {
		in   EntityPath
		want bool
	}{
		{"guest", true},
		{"guest/pkg", true},
		{"", false},
		{"guest/", false},
		{"/guest", false},
		{"guest/pkg/x", false},
		{"gu est/p-1", true},
	}
	for _, tc := range tests {
		t.Run(string(tc.in), func(t *testing.T) {
			if got := tc.in.Valid(); got != tc.want {
				t.Errorf("EntityPath(%q).Valid() = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	want := map[Kind]string{KindAction: "actions", KindTrigger: "triggers", KindRule: "rules", KindPackage: "packages"}
	if len(Kinds()) != len(want) {
		t.Fatalf("Kinds() = %v", Kinds())
	}
	for _, k := range Kinds() {
		if k.Collection() != want[k] {
			t.Errorf("%q.Collection() = %q, want %q", k, k.Collection(), want[k])
		}
		d, err := NewDocument(k)
		if err != nil || d.EntityKind() != k {
			t.Errorf("NewDocument(%q) = %v, %v", k, d, err)
		}
	}
	if _, err := NewDocument("activation"); err == nil {
		t.Error("NewDocument(activation) succeeded")
	}
}

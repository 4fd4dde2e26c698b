package entity

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a", "a b", "a-", " a", "a ", "", "_", "é", "a\n", "x@y.z&-", strings.Repeat("a", 256), strings.Repeat("a", 257)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidName(s), owNameRegex.MatchString(s); got != want {
			t.Fatalf("ValidName(%q) = %v, OpenWhisk's regex says %v", s, got, want)
		}
	})
}

func FuzzParseFQN(f *testing.F) {
	for _, s := range []string{"/ns/a", "/ns/p/a", "a", "p/a", "ns/p/a", "/_/a", "/_/p/a", "/a/b/c/d", "", "/", "//a//b", "/ns/a b", "/ns/ a"} {
		f.Add(s, "guest")
	}
	f.Add("a", "_")
	f.Add("a", "")
	f.Fuzz(func(t *testing.T, s, ns string) {
		n, err := ParseFQN(s, ns)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseFQN(%q, %q) error %v is not ErrInvalid", s, ns, err)
			}
			return
		}
		if !ValidName(n.Namespace()) || !ValidName(n.Name) || (n.Package() != "" && !ValidName(n.Package())) || !n.Valid() {
			t.Fatalf("ParseFQN(%q, %q) = %#v has an invalid segment", s, ns, n)
		}
		// A fully qualified name does not depend on the default namespace,
		// unless it is the placeholder "_" itself.
		other := "other"
		if n.Namespace() == DefaultNamespace {
			other = ns
		}
		again, err := ParseFQN(n.String(), other)
		if err != nil || again != n {
			t.Fatalf("ParseFQN(%q, %q) = %#v; reparse of %q = %#v, %v", s, ns, n, n.String(), again, err)
		}
		if c, err := ParseComponent(n.String()); err != nil || c != n {
			t.Fatalf("ParseComponent(%q) = %#v, %v", n.String(), c, err)
		}
	})
}

// allowedPutError reports whether err is what bad input may produce: an
// ErrInvalid or ErrTooLarge error, or a JSON decoding error.
func allowedPutError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) || errors.As(err, &syn) || errors.As(err, &typ)
}

func FuzzActionPutJSON(f *testing.F) {
	for _, name := range []string{"action_code.json", "action_zip.json", "action_blackbox.json", "action_sequence.json", "package.json", "binding.json", "trigger.json", "rule.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"exec":{"kind":"nodejs:default","code":"x"},"limits":{"memory":1024}}`,
		`{"exec":{"kind":"sequence","components":["a","/ns/b","x/y/z/w"]}}`,
		`{"exec":{"kind":"blackbox","image":"u/i","code":"UEsD"},"delAnnotations":["exec"]}`,
		`{"exec":{"kind":"java:8","jar":"UEsD"}}`,
		`{"parameters":[{"key":"a","value":1,"init":true}],"annotations":[{"key":"feed","value":"/a/b/c"}]}`,
		`{"binding":{"namespace":"n","name":"p"},"version":"1.2.3"}`,
		`{"trigger":{"path":"_","name":"t"},"action":"p/a"}`,
		`{"limits":{"timeout":1e3}}`, `null`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	sys := DefaultSystemLimits()
	m := testManifest(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		name := NewFQN("guest", "", "x")
		var ap ActionPut
		if err := json.Unmarshal(b, &ap); err != nil {
			if !allowedPutError(err) {
				t.Fatalf("ActionPut decode error %T %v", err, err)
			}
		} else {
			if err := ap.CheckSizes(sys); err != nil && !allowedPutError(err) {
				t.Fatalf("CheckSizes error %v", err)
			}
			a, err := NewAction(name, ap, 1, sys)
			if err == nil {
				err = CheckAction(a, m, sys)
				if err == nil {
					u := a.Update(ap, 2)
					if err := CheckAction(u, m, sys); err != nil && !allowedPutError(err) {
						t.Fatalf("CheckAction(update) error %v", err)
					}
					checkStoredRoundTrip(t, a)
				}
			}
			if err != nil && !allowedPutError(err) {
				t.Fatalf("NewAction/CheckAction error %T %v", err, err)
			}
		}

		var pp PackagePut
		if err := json.Unmarshal(b, &pp); err != nil {
			if !allowedPutError(err) {
				t.Fatalf("PackagePut decode error %T %v", err, err)
			}
		} else {
			p := NewPackage(name, pp, 1)
			checkStoredRoundTrip(t, p)
			checkStoredRoundTrip(t, p.Update(pp, 2))
		}

		var tp TriggerPut
		if err := json.Unmarshal(b, &tp); err != nil {
			if !allowedPutError(err) {
				t.Fatalf("TriggerPut decode error %T %v", err, err)
			}
		} else if tr, err := NewTrigger(name, tp, 1); err != nil {
			if !allowedPutError(err) {
				t.Fatalf("NewTrigger error %v", err)
			}
		} else {
			checkStoredRoundTrip(t, tr)
		}

		var rp RulePut
		if err := json.Unmarshal(b, &rp); err != nil {
			if !allowedPutError(err) {
				t.Fatalf("RulePut decode error %T %v", err, err)
			}
		} else if trig, act, err := rp.ResolveRefs("guest"); err != nil {
			if !allowedPutError(err) {
				t.Fatalf("ResolveRefs error %T %v", err, err)
			}
		} else {
			for _, n := range []FQN{trig, act} {
				if n != (FQN{}) && !n.Valid() {
					t.Fatalf("ResolveRefs returned invalid name %#v", n)
				}
			}
		}
	})
}

// checkStoredRoundTrip requires that d survives MarshalStored and
// UnmarshalStored unchanged.
func checkStoredRoundTrip(t *testing.T, d Document) {
	t.Helper()
	d.SetRevision("1-r")
	b, err := MarshalStored(d)
	if err != nil {
		t.Fatalf("MarshalStored(%+v): %v", d, err)
	}
	back, err := UnmarshalStored(b, "")
	if err != nil {
		t.Fatalf("UnmarshalStored(%s): %v", b, err)
	}
	b2, err := MarshalStored(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Fatalf("stored form changed on a round trip:\n%s\n%s", b, b2)
	}
}

func FuzzStoredDocument(f *testing.F) {
	for _, name := range []string{"action_code.json", "action_zip.json", "action_blackbox.json", "action_blackbox_code.json", "action_sequence.json",
		"package.json", "package_get.json", "binding.json", "trigger.json", "trigger_norules.json", "rule.json", "rule_legacy.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"_id":"guest/a","_rev":"1-x","entityType":"action","exec":{"kind":"nodejs:20","code":"x"}}`,
		`{"entityType":"trigger","rules":{}}`, `{"entityType":"rule","trigger":"/a/b","action":null}`,
		`{"entityType":"package","binding":{"namespace":"a","name":"b"}}`, `{"entityType":"activation"}`, `{}`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d1, err := UnmarshalStored(b, "")
		if err != nil {
			return
		}
		b1, err := MarshalStored(d1)
		if err != nil {
			t.Fatalf("MarshalStored of a decoded document: %v\ninput %q", err, b)
		}
		d2, err := UnmarshalStored(b1, "")
		if err != nil {
			t.Fatalf("re-decode failed: %v\ninput %q\nstored %s", err, b, b1)
		}
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("documents differ after a round trip\ninput %q\n 1st %#v\n 2nd %#v", b, d1, d2)
		}
		b2, err := MarshalStored(d2)
		if err != nil || string(b1) != string(b2) {
			t.Fatalf("stored form not stable: %v\n%s\n%s", err, b1, b2)
		}
	})
}

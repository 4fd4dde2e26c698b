package entity

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// owBase64 is OpenWhisk's Exec.isBase64Pattern, verbatim.
var owBase64 = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

// owIsBinaryCode is OpenWhisk's Exec.isBinaryCode.
func owIsBinaryCode(code string) bool {
	t := strings.TrimSpace(code)
	return len(t) > 0 && len(t)%4 == 0 && owBase64.MatchString(t)
}

func TestIsBase64(t *testing.T) {
	tests := []struct {
		name, in string
		want     bool
	}{
		{"empty", "", false},
		{"blank", "   ", false},
		{"four chars", "AAAA", true},
		{"one pad", "AAA=", true},
		{"two pads", "AA==", true},
		{"three pads", "A===", false},
		{"pad inside", "AA=A", false},
		{"pad only", "====", false},
		{"not multiple of 4", "AAAAA", false},
		{"surrounding whitespace trimmed", "\n UEsDBBQAAAAIAA== \t", true},
		{"inner newline", "AAAA\nAAAA", false},
		{"plus and slash", "+/+/", true},
		{"url-safe alphabet", "-_-_", false},
		{"javascript", "function main(p){return p}", false},
		{"word of four letters", "main", true},
		{"unicode", "ÄÄ==", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsBase64(tc.in); got != tc.want {
				t.Errorf("IsBase64(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if ow := owIsBinaryCode(tc.in); ow != tc.want {
				t.Errorf("case disagrees with OpenWhisk's isBinaryCode(%q) = %v", tc.in, ow)
			}
		})
	}
}

func TestExecUnmarshal(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Exec
		err  bool
	}{
		{"code kind", `{"kind":"nodejs:20","code":"x","main":"m"}`, Exec{Kind: "nodejs:20", Code: "x", Main: "m"}, false},
		{"binary recomputed", `{"kind":"python:3","code":"UEsD","binary":false}`, Exec{Kind: "python:3", Code: "UEsD", Binary: true}, false},
		{"binary claim ignored", `{"kind":"nodejs:20","code":"a b","binary":true}`, Exec{Kind: "nodejs:20", Code: "a b"}, false},
		{"legacy jar alias", `{"kind":"java:8","jar":"UEsD","main":"Hello"}`, Exec{Kind: "java:8", Code: "UEsD", Binary: true, Main: "Hello"}, false},
		{"kind trimmed and lower-cased", `{"kind":" NodeJS:20 ","code":"x"}`, Exec{Kind: "nodejs:20", Code: "x"}, false},
		{"blackbox", `{"kind":"blackbox","image":"u/i:1"}`, Exec{Kind: "blackbox", Image: "u/i:1"}, false},
		{"sequence", `{"kind":"sequence","components":["/a/b"]}`, Exec{Kind: "sequence", Components: []string{"/a/b"}}, false},
		{"no kind", `{"code":"x"}`, Exec{}, true},
		{"blank kind", `{"kind":"  "}`, Exec{}, true},
		{"kind not a string", `{"kind":1}`, Exec{}, true},
		{"main not a string", `{"kind":"nodejs:20","code":"x","main":1}`, Exec{}, true},
		{"components not an array", `{"kind":"sequence","components":"/a/b"}`, Exec{}, true},
		{"null", `null`, Exec{}, true},
		{"array", `[]`, Exec{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Exec
			err := json.Unmarshal([]byte(tc.in), &e)
			if tc.err {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Unmarshal(%s) = %+v, %v; want ErrInvalid", tc.in, e, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(e, tc.want) {
				t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, e, err, tc.want)
			}
		})
	}
}

func TestExecMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   Exec
		want string
	}{
		{"code", Exec{Kind: "nodejs:20", Code: "x"}, `{"kind":"nodejs:20","code":"x","binary":false}`},
		{"code with main", Exec{Kind: "nodejs:20", Code: "x", Main: "m"}, `{"kind":"nodejs:20","code":"x","binary":false,"main":"m"}`},
		{"code omitted", Exec{Kind: "nodejs:20", Code: "UEsD", Binary: true, CodeOmitted: true}, `{"kind":"nodejs:20","binary":true}`},
		{"blackbox without code", Exec{Kind: "blackbox", Image: "i"}, `{"kind":"blackbox","image":"i","binary":false}`},
		{"blackbox with code", Exec{Kind: "blackbox", Image: "i", Code: "x"}, `{"kind":"blackbox","code":"x","image":"i","binary":false}`},
		{"blackbox code omitted", Exec{Kind: "blackbox", Image: "i", Code: "x", CodeOmitted: true}, `{"kind":"blackbox","image":"i","binary":false}`},
		{"sequence", Exec{Kind: "sequence", Components: []string{"/a/b"}}, `{"kind":"sequence","components":["/a/b"]}`},
		{"sequence without components", Exec{Kind: "sequence"}, `{"kind":"sequence","components":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, b, []byte(tc.want))
		})
	}
}

func testManifest(t testing.TB) *Manifest {
	t.Helper()
	m, err := ParseManifest([]byte(`{"runtimes":{
	  "nodejs":[{"kind":"nodejs:20","default":true,"image":{"prefix":"openwhisk","name":"action-nodejs-v20","tag":"nightly"}},
	            {"kind":"nodejs:6","deprecated":true,"image":{"name":"nodejs6action"}}],
	  "python":[{"kind":"python:3.11","aliases":["python:3"],"image":{"name":"action-python-v3.11"}}],
	  "java":[{"kind":"java:8","requireMain":true,"image":{"name":"java8action"}}]},
	 "blackboxes":[{"prefix":"openwhisk","name":"dockerskeleton","tag":"nightly"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExecValidate(t *testing.T) {
	m := testManifest(t)
	tests := []struct {
		name string
		in   Exec
		want Exec
		err  string // "" = valid
	}{
		{"code kind", Exec{Kind: "nodejs:20", Code: "x"}, Exec{Kind: "nodejs:20", Code: "x"}, ""},
		{"default kind resolved", Exec{Kind: "nodejs:default", Code: "x"}, Exec{Kind: "nodejs:20", Code: "x"}, ""},
		{"alias resolved", Exec{Kind: "python:3", Code: "UEsD"}, Exec{Kind: "python:3.11", Code: "UEsD", Binary: true}, ""},
		{"single kind family default", Exec{Kind: "python:default", Code: "x"}, Exec{Kind: "python:3.11", Code: "x"}, ""},
		{"stray image and components dropped", Exec{Kind: "nodejs:20", Code: "x", Image: "i", Components: []string{"/a/b"}}, Exec{Kind: "nodejs:20", Code: "x"}, ""},
		{"require main", Exec{Kind: "java:8", Code: "UEsD"}, Exec{}, "exec malformed: kind 'java:8' requires the main parameter"},
		{"require main given", Exec{Kind: "java:8", Code: "UEsD", Main: "Hello"}, Exec{Kind: "java:8", Code: "UEsD", Main: "Hello", Binary: true}, ""},
		{"no code", Exec{Kind: "nodejs:20", Code: " \n"}, Exec{}, "exec malformed: code is required for kind 'nodejs:20'"},
		{"unknown kind", Exec{Kind: "cobol", Code: "x"}, Exec{}, "The specified runtime 'cobol' is not supported by this platform. Valid values are: 'blackbox', 'java:8', 'nodejs:20', 'nodejs:6', 'python:3', 'python:3.11', 'sequence'."},
		{"deprecated kind", Exec{Kind: "nodejs:6", Code: "x"}, Exec{}, "The 'nodejs:6' runtime is no longer supported. You may read and delete but not update or invoke this action."},
		{"blackbox", Exec{Kind: "blackbox", Image: "user/img:1.0"}, Exec{Kind: "blackbox", Image: "user/img:1.0"}, ""},
		{"blackbox with registry and digest", Exec{Kind: "blackbox", Image: "reg.io:5000/u/img@sha256:abc"}, Exec{Kind: "blackbox", Image: "reg.io:5000/u/img@sha256:abc"}, ""},
		{"blackbox with zip", Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: "UEsD"}, Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: "UEsD", Binary: true}, ""},
		{"blackbox without image", Exec{Kind: "blackbox"}, Exec{}, "exec malformed: the blackbox image name is invalid"},
		{"blackbox bad image", Exec{Kind: "blackbox", Image: "has space"}, Exec{}, "exec malformed: the blackbox image name is invalid"},
		{"sequence canonical", Exec{Kind: "sequence", Components: []string{"/guest/a", "guest/pkg/b", "//ns//c"}}, Exec{Kind: "sequence", Components: []string{"/guest/a", "/guest/pkg/b", "/ns/c"}}, ""},
		{"sequence drops code", Exec{Kind: "sequence", Code: "x", Main: "m", Components: []string{"/g/a"}}, Exec{Kind: "sequence", Components: []string{"/g/a"}}, ""},
		{"sequence empty", Exec{Kind: "sequence"}, Exec{}, "No component specified for the sequence."},
		{"sequence single segment", Exec{Kind: "sequence", Components: []string{"/a"}}, Exec{}, MsgMalformedFQN},
		{"sequence too many segments", Exec{Kind: "sequence", Components: []string{"/a/b/c/d"}}, Exec{}, MsgMalformedFQN},
		{"sequence illegal name", Exec{Kind: "sequence", Components: []string{"/a/b c "}}, Exec{}, MsgIllegalName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.in
			err := e.Validate(m)
			if tc.err != "" {
				if !errors.Is(err, ErrInvalid) || err.Error() != tc.err {
					t.Errorf("Validate(%+v) = %v; want ErrInvalid %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(e, tc.want) {
				t.Errorf("Validate(%+v) -> %+v, %v; want %+v", tc.in, e, err, tc.want)
			}
		})
	}
}

func TestExecSize(t *testing.T) {
	if got := (Exec{Code: "abc", Image: "i", Components: []string{"/a/b", "/c/d"}}).Size(); got != 3+1+4+4 {
		t.Errorf("Size = %d", got)
	}
}

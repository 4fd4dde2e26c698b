package wskcli

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestInferKind(t *testing.T) {
	tests := []struct {
		name, artifact string
		flags          execFlags
		want           string
		wantErr        string
	}{
		{"js", "a.js", execFlags{}, "nodejs:default", ""},
		{"py", "dir/a.py", execFlags{}, "python:default", ""},
		{"go", "a.go", execFlags{}, "go:default", ""},
		{"jar", "a.jar", execFlags{}, "java:default", ""},
		{"swift", "a.swift", execFlags{}, "swift:default", ""},
		{"php", "a.php", execFlags{}, "php:default", ""},
		{"ruby", "a.rb", execFlags{}, "ruby:default", ""},
		{"rust", "a.rs", execFlags{}, "rust:default", ""},
		{"explicit kind wins", "a.js", execFlags{kind: "nodejs:20"}, "nodejs:20", ""},
		{"zip with kind", "a.zip", execFlags{kind: "python:3"}, "python:3", ""},
		{"zip native", "a.zip", execFlags{native: true}, "blackbox", ""},
		{"docker", "", execFlags{docker: "me/img"}, "blackbox", ""},
		{"zip without kind", "a.zip", execFlags{}, "", "creating an action from a .zip artifact requires specifying the action kind explicitly"},
		{"unknown extension", "a.txt", execFlags{}, "", "'.txt' is not a supported action runtime"},
		{"no extension", "Makefile", execFlags{}, "", "'' is not a supported action runtime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inferKind(tc.artifact, tc.flags)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || ExitCode(err) != exitUsage {
					t.Fatalf("err = %v (exit %d), want %q exit 2", err, ExitCode(err), tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestBuildExec(t *testing.T) {
	zipBytes := []byte("PK\x03\x04 fake zip \x00\xff")
	e, err := buildExec("a.zip", zipBytes, execFlags{kind: "python:3", main: "handler"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Code != base64.StdEncoding.EncodeToString(zipBytes) || !e.Binary || e.Main != "handler" || e.Kind != "python:3" {
		t.Errorf("zip exec = %+v", e)
	}
	e, err = buildExec("a.js", []byte("function main(){}"), execFlags{})
	if err != nil || e.Code != "function main(){}" || e.Binary || e.Kind != "nodejs:default" {
		t.Errorf("source exec = %+v, %v", e, err)
	}
	e, err = buildExec("a.zip", zipBytes, execFlags{native: true})
	if err != nil || e.Kind != "blackbox" || e.Image != "openwhisk/dockerskeleton" || !e.Binary {
		t.Errorf("native exec = %+v, %v", e, err)
	}
	e, err = buildExec("", nil, execFlags{docker: "me/img:1"})
	if err != nil || e.Kind != "blackbox" || e.Image != "me/img:1" || e.Code != "" {
		t.Errorf("docker exec = %+v, %v", e, err)
	}
	seq := sequenceExec("a,/other/b,pkg/c", "_")
	if seq.Kind != "sequence" || strings.Join(seq.Components, " ") != "/_/a /other/b /_/pkg/c" {
		t.Errorf("sequence exec = %+v", seq)
	}
}

func annotJSON(kvs []keyValue) string {
	b, _ := json.Marshal(kvs)
	return string(b)
}

func TestWebAnnotations(t *testing.T) {
	base := []keyValue{{"description", json.RawMessage(`"d"`)}, {"web-export", json.RawMessage("false")}}
	tests := []struct {
		mode, want string
	}{
		{"true", `[{"key":"description","value":"d"},{"key":"web-export","value":true},{"key":"raw-http","value":false},{"key":"final","value":true}]`},
		{"YES", `[{"key":"description","value":"d"},{"key":"web-export","value":true},{"key":"raw-http","value":false},{"key":"final","value":true}]`},
		{"raw", `[{"key":"description","value":"d"},{"key":"web-export","value":true},{"key":"raw-http","value":true},{"key":"final","value":true}]`},
		{"false", `[{"key":"description","value":"d"},{"key":"web-export","value":false},{"key":"raw-http","value":false},{"key":"final","value":false}]`},
		{"no", `[{"key":"description","value":"d"},{"key":"web-export","value":false},{"key":"raw-http","value":false},{"key":"final","value":false}]`},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			got, err := webAnnotations(tc.mode, base)
			if err != nil || annotJSON(got) != tc.want {
				t.Fatalf("got %s, %v\nwant %s", annotJSON(got), err, tc.want)
			}
		})
	}
	if _, err := webAnnotations("maybe", base); err == nil || ExitCode(err) != exitUsage {
		t.Errorf("--web maybe: err = %v", err)
	}
	if annotJSON(base) != `[{"key":"description","value":"d"},{"key":"web-export","value":false}]` {
		t.Errorf("webAnnotations modified its input: %s", annotJSON(base))
	}
}

func TestApplyWebSecure(t *testing.T) {
	web := []keyValue{{"web-export", json.RawMessage("true")}}
	withNumber := append(append([]keyValue(nil), web...), keyValue{"require-whisk-auth", json.RawMessage("1234")})

	got, del := applyWebSecure("s3cret", web)
	if v, _ := getKeyValue(got, annotWebSecure); string(v) != `"s3cret"` || del {
		t.Errorf("a string secret: %s, delete %v", annotJSON(got), del)
	}
	got, _ = applyWebSecure("true", web)
	v, _ := getKeyValue(got, annotWebSecure)
	var n int64
	if json.Unmarshal(v, &n) != nil || n < 0 || n > maxJSInt {
		t.Errorf("true generated %s, want an integer up to 2^53-1", v)
	}
	got, _ = applyWebSecure("true", withNumber)
	if v, _ := getKeyValue(got, annotWebSecure); string(v) != "1234" {
		t.Errorf("true replaced an existing generated secret: %s", v)
	}
	got, del = applyWebSecure("false", withNumber)
	if _, ok := getKeyValue(got, annotWebSecure); ok || !del {
		t.Errorf("false kept the secret or did not ask to delete it: %s, %v", annotJSON(got), del)
	}
	if _, del = applyWebSecure("false", web); del {
		t.Errorf("false asked to delete a secret that is not there")
	}
}

func TestKindExtension(t *testing.T) {
	tests := []struct {
		kind   string
		binary bool
		want   string
	}{
		{"nodejs:20", false, ".js"}, {"python:3.11", false, ".py"}, {"php:8", false, ".php"},
		{"swift:5", false, ".swift"}, {"go:1.22", false, ".go"}, {"python:3", true, ".zip"},
		{"java:8", true, ".jar"}, {"ballerina:1", true, ".balx"}, {"blackbox", false, ""},
	}
	for _, tc := range tests {
		if got := kindExtension(tc.kind, tc.binary); got != tc.want {
			t.Errorf("kindExtension(%q, %v) = %q, want %q", tc.kind, tc.binary, got, tc.want)
		}
	}
}

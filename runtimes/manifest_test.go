package runtimes

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestLoadManifestResolve(t *testing.T) {
	m, err := LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kind, want string
		image            string
	}{
		{"nodejs 20", "nodejs:20", "nodejs:20", "openwhisk/action-nodejs-v20:nightly"},
		{"nodejs default", "nodejs:default", "nodejs:20", "openwhisk/action-nodejs-v20:nightly"},
		{"python 3.11", "python:3.11", "python:3.11", "openwhisk/action-python-v3.11:nightly"},
		{"python 3 alias", "python:3", "python:3.11", "openwhisk/action-python-v3.11:nightly"},
		{"python default", "python:default", "python:3.11", "openwhisk/action-python-v3.11:nightly"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := m.Resolve(tc.kind)
			if !ok {
				t.Fatalf("Resolve(%q) not found", tc.kind)
			}
			if k.Kind != tc.want {
				t.Errorf("Resolve(%q).Kind = %q, want %q", tc.kind, k.Kind, tc.want)
			}
			if got := k.Image.String(); got != tc.image {
				t.Errorf("image = %q, want %q", got, tc.image)
			}
			if !k.Default {
				t.Errorf("%q is not the default of its family", k.Kind)
			}
			got, err := m.CheckKind(tc.kind)
			if err != nil || got != tc.want {
				t.Errorf("CheckKind(%q) = %q, %v; want %q", tc.kind, got, err, tc.want)
			}
		})
	}
}

func TestLoadManifestContent(t *testing.T) {
	m, err := LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Runtimes["nodejs"]); got != 1 {
		t.Errorf("nodejs kinds = %d, want 1", got)
	}
	node, _ := m.Resolve("nodejs:20")
	if string(node.Attached) == "" || !strings.Contains(string(node.Attached), `"codefile"`) {
		t.Errorf("nodejs:20 attached = %s, want the codefile attachment", node.Attached)
	}
	if node.RequireMain {
		t.Error("nodejs:20 requires main")
	}
	if len(m.Blackboxes) != 1 || m.Blackboxes[0].String() != "openwhisk/dockerskeleton:nightly" {
		t.Errorf("blackboxes = %+v", m.Blackboxes)
	}
	for _, img := range []string{"openwhisk/dockerskeleton", "openwhisk/dockerskeleton:nightly"} {
		if !m.IsNativeBlackbox(img) {
			t.Errorf("IsNativeBlackbox(%q) = false", img)
		}
	}
	if m.IsNativeBlackbox("user/img:1") {
		t.Error(`IsNativeBlackbox("user/img:1") = true`)
	}
	for _, special := range []string{entity.KindBlackbox, entity.KindSequence} {
		if _, ok := m.Resolve(special); ok {
			t.Errorf("%q is a manifest family kind; it must be handled by entity.Exec", special)
		}
	}
}

func TestUnknownKindMessage(t *testing.T) {
	m, err := LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.CheckKind("cobol:1")
	if !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("CheckKind(cobol:1) error = %v, want ErrInvalid", err)
	}
	want := "The specified runtime 'cobol:1' is not supported by this platform. Valid values are: " +
		"'blackbox', 'nodejs:20', 'python:3', 'python:3.11', 'sequence'."
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err.Error(), want)
	}
}

func TestDeprecatedKindMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtimes.json")
	doc := `{"runtimes":{"nodejs":[
	  {"kind":"nodejs:20","default":true,"image":{"prefix":"openwhisk","name":"action-nodejs-v20","tag":"nightly"}},
	  {"kind":"nodejs:6","default":false,"deprecated":true,"image":{"prefix":"openwhisk","name":"nodejs6action","tag":"nightly"},
	   "stemCells":[{"initialCount":1,"memory":"128 MB","reactive":{"minCount":1,"maxCount":4,"ttl":"2 minutes","threshold":1,"increment":1}}],
	   "localLauncher":{"command":["node","launcher.js"]}}]},
	 "blackboxes":[{"prefix":"openwhisk","name":"dockerskeleton","tag":"nightly"}],
	 "someFutureField":true}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifestFile(path)
	if err != nil {
		t.Fatalf("ReadManifestFile with extra fields: %v", err)
	}
	_, err = m.CheckKind("nodejs:6")
	want := "The 'nodejs:6' runtime is no longer supported. You may read and delete but not update or invoke this action."
	if !errors.Is(err, entity.ErrInvalid) || err == nil || err.Error() != want {
		t.Errorf("CheckKind(nodejs:6) = %v, want %q", err, want)
	}
	if k, err := m.CheckKind("nodejs:default"); err != nil || k != "nodejs:20" {
		t.Errorf("CheckKind(nodejs:default) = %q, %v", k, err)
	}
}

func TestReadManifestFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, doc string
	}{
		{"not json", `{"runtimes":`},
		{"two defaults", `{"runtimes":{"x":[{"kind":"x:1","default":true,"image":{"name":"a"}},{"kind":"x:2","default":true,"image":{"name":"b"}}]}}`},
		{"no default of two", `{"runtimes":{"x":[{"kind":"x:1","image":{"name":"a"}},{"kind":"x:2","image":{"name":"b"}}]}}`},
		{"duplicate alias", `{"runtimes":{"x":[{"kind":"x:1","default":true,"aliases":["x:2"],"image":{"name":"a"}},{"kind":"x:2","image":{"name":"b"}}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			if err := os.WriteFile(p, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadManifestFile(p); err == nil {
				t.Errorf("ReadManifestFile(%s) succeeded, want an error", tc.doc)
			}
		})
	}
	if _, err := ReadManifestFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("ReadManifestFile(missing) succeeded")
	}
}

func TestStemCells(t *testing.T) {
	got, err := StemCells(ManifestJSON())
	if err != nil {
		t.Fatal(err)
	}
	want := []StemCell{{Kind: "nodejs:20", InitialCount: 2, MemoryMB: 256}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StemCells = %+v, want %+v", got, want)
	}
	if _, err := StemCells([]byte(`{"runtimes":{"x":[{"kind":"x:1","stemCells":[{"initialCount":1,"memory":"lots"}]}]}}`)); err == nil {
		t.Error("StemCells with a bad memory succeeded")
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"256 MB", 256, true},
		{"256MB", 256, true},
		{"128 m", 128, true},
		{"1 GB", 1024, true},
		{" 2g ", 2048, true},
		{"", 0, false},
		{"MB", 0, false},
		{"256", 0, false},
		{"256 KB", 0, false},
		{"-1 MB", 0, false},
		{"9999999999 MB", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMemory(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseMemory(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestManifestJSONIsACopy(t *testing.T) {
	a := ManifestJSON()
	a[0] = 'X'
	if ManifestJSON()[0] == 'X' {
		t.Error("ManifestJSON returned the embedded slice")
	}
}

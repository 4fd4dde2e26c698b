package runtimes

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestInstallLaunchers(t *testing.T) {
	dir := t.TempDir()
	// A stale copy is replaced.
	os.MkdirAll(filepath.Join(dir, "nodejs"), 0o700)
	os.WriteFile(filepath.Join(dir, "nodejs", "launcher.js"), []byte("old"), 0o600)
	if err := InstallLaunchers(dir); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"nodejs/launcher.js", "python/launcher.py", "native/launcher.py"} {
		want, err := Launcher(rel)
		if err != nil || len(want) == 0 {
			t.Fatalf("Launcher(%s): %v", rel, err)
		}
		p := filepath.Join(dir, rel)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: content differs from the embedded launcher (%v)", rel, err)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", rel, st.Mode().Perm())
		}
		dst, _ := os.Stat(filepath.Dir(p))
		if dst.Mode().Perm() != 0o755 {
			t.Errorf("%s dir mode %v, want 0755", rel, dst.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nodejs", "launcher.js.tmp")); err == nil {
		t.Error("temporary file left behind")
	}
}

func TestLocalCommand(t *testing.T) {
	tests := []struct {
		name, kind string
		over       map[string]string
		want       []string
		wantErr    error
	}{
		{"nodejs", "nodejs:20", nil, []string{"/usr/bin/node", "/l/nodejs/launcher.js"}, nil},
		{"nodejs default", "nodejs:default", nil, []string{"/usr/bin/node", "/l/nodejs/launcher.js"}, nil},
		{"python", "python:3.11", nil, []string{"/usr/bin/python3", "/l/python/launcher.py"}, nil},
		{"python alias", "python:3", nil, []string{"/usr/bin/python3", "/l/python/launcher.py"}, nil},
		{"blackbox", "blackbox", nil, []string{"/usr/bin/python3", "/l/native/launcher.py"}, nil},
		{"native", "native", nil, []string{"/usr/bin/python3", "/l/native/launcher.py"}, nil},
		{"family override", "python:3.11", map[string]string{"python": "/opt/py/bin/python3"}, []string{"/opt/py/bin/python3", "/l/python/launcher.py"}, nil},
		{"kind override wins", "python:3.11", map[string]string{"python": "/a", "python:3.11": "/b"}, []string{"/b", "/l/python/launcher.py"}, nil},
		{"unknown", "cobol:1", nil, nil, entity.ErrInvalid},
		{"sequence", "sequence", nil, nil, entity.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LocalCommandWith(tc.kind, "/l", tc.over)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("LocalCommandWith(%q) = %q, %v; want %q", tc.kind, got, err, tc.want)
			}
		})
	}
	if got, err := LocalCommand("nodejs:20", "/l"); err != nil || got[0] != "/usr/bin/node" {
		t.Errorf("LocalCommand = %q, %v", got, err)
	}
}

func TestLocalSettings(t *testing.T) {
	tests := []struct {
		name, doc string
		want      map[string]Local
		wantErr   bool
	}{
		{"args and default", `{"runtimes":{"x":[{"kind":"x:1","default":true,"local":{"interpreter":"/i","args":["-u"],"launcher":"x/l"}},{"kind":"x:2"}]}}`,
			map[string]Local{"x:1": {"/i", []string{"-u"}, "x/l"}, "x:default": {"/i", []string{"-u"}, "x/l"}}, false},
		{"no local", `{"runtimes":{"x":[{"kind":"x:1"}]},"blackboxes":[{"name":"b"}]}`, map[string]Local{}, false},
		{"incomplete local", `{"runtimes":{"x":[{"kind":"x:1","local":{"interpreter":"/i"}}]}}`, nil, true},
		{"not json", `{`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LocalSettings([]byte(tc.doc))
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("LocalSettings = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if c := (Local{Interpreter: "/i", Args: []string{"-X"}, Launcher: "a/b.py"}).Command("/d"); !reflect.DeepEqual(c, []string{"/i", "-X", "/d/a/b.py"}) {
		t.Errorf("Command = %q", c)
	}
}

package actionloop_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

type zipEntry struct {
	name    string
	content string
	mode    fs.FileMode
}

func rawZip(t *testing.T, entries ...zipEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestPrepare(t *testing.T) {
	script := "#!/bin/sh\necho '{}'\n"
	tests := []struct {
		name, kind string
		req        container.InitRequest
		lim        actionloop.Limits
		wantPath   string // relative to dir; "." is dir itself
		wantErr    error
		check      func(t *testing.T, dir string)
	}{
		{name: "node source", kind: "nodejs:20", req: container.InitRequest{Code: "function main(){}"}, wantPath: "action.js"},
		{name: "python source", kind: "python:3.11", req: container.InitRequest{Code: "def main(a): return a"}, wantPath: "__main__.py"},
		{name: "native script", kind: "blackbox", req: container.InitRequest{Code: script}, wantPath: "exec",
			check: func(t *testing.T, dir string) { mustExec(t, filepath.Join(dir, "exec")) }},
		{name: "native binary not zip", kind: "native", req: container.InitRequest{Binary: true, Code: base64.StdEncoding.EncodeToString([]byte("\x7fELF..."))}, wantPath: "exec"},
		{name: "node zip", kind: "nodejs:20", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "index.js", content: "x"}, zipEntry{name: "lib/", mode: fs.ModeDir | 0o755}, zipEntry{name: "lib/a.js", content: "y"})}, wantPath: ".",
			check: func(t *testing.T, dir string) {
				if b, _ := os.ReadFile(filepath.Join(dir, "lib/a.js")); string(b) != "y" {
					t.Errorf("lib/a.js = %q", b)
				}
			}},
		{name: "native zip exec", kind: "blackbox", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "exec", content: script, mode: 0o644})}, wantPath: "exec",
			check: func(t *testing.T, dir string) { mustExec(t, filepath.Join(dir, "exec")) }},
		{name: "internal symlink", kind: "nodejs:20", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "index.js", content: "x"}, zipEntry{name: "node_modules/.bin/x", content: "../../index.js", mode: fs.ModeSymlink | 0o777})}, wantPath: "."},
		{name: "native zip without exec", kind: "blackbox", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "run.sh", content: script})}, wantErr: entity.ErrInvalid},
		{name: "missing code", kind: "nodejs:20", req: container.InitRequest{Code: "  "}, wantErr: entity.ErrInvalid},
		{name: "bad base64", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: "!!notbase64"}, wantErr: entity.ErrInvalid},
		{name: "binary not zip for node", kind: "nodejs:20", req: container.InitRequest{Binary: true, Code: base64.StdEncoding.EncodeToString([]byte("hello"))}, wantErr: entity.ErrInvalid},
		{name: "corrupt zip", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: base64.StdEncoding.EncodeToString([]byte("PK\x03\x04garbage"))}, wantErr: entity.ErrInvalid},
		{name: "unknown kind", kind: "cobol:1", req: container.InitRequest{Code: "x"}, wantErr: entity.ErrInvalid},
		{name: "zip slip dotdot", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "../evil.py", content: "x"})}, wantErr: entity.ErrInvalid,
			check: func(t *testing.T, dir string) {
				if exists(filepath.Join(filepath.Dir(dir), "evil.py")) {
					t.Error("zip slip wrote outside dir")
				}
			}},
		{name: "zip slip nested dotdot", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "a/../../evil.py", content: "x"})}, wantErr: entity.ErrInvalid},
		{name: "absolute path", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "/tmp/evil.py", content: "x"})}, wantErr: entity.ErrInvalid},
		{name: "backslash path", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "..\\evil.py", content: "x"})}, wantErr: entity.ErrInvalid},
		{name: "escaping symlink", kind: "nodejs:20", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "link", content: "../../etc", mode: fs.ModeSymlink | 0o777})}, wantErr: entity.ErrInvalid},
		{name: "absolute symlink", kind: "nodejs:20", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "link", content: "/etc", mode: fs.ModeSymlink | 0o777})}, wantErr: entity.ErrInvalid},
		{name: "write through symlinked dir", kind: "nodejs:20", req: container.InitRequest{Binary: true, Code: rawZip(t,
			zipEntry{name: "d", content: ".", mode: fs.ModeSymlink | 0o777}, zipEntry{name: "d/ok.js", content: "x"})}, wantPath: "."},
		{name: "too many files", kind: "python:3.11", lim: actionloop.Limits{MaxFiles: 2}, req: container.InitRequest{Binary: true, Code: rawZip(t,
			zipEntry{name: "a", content: "1"}, zipEntry{name: "b", content: "2"}, zipEntry{name: "c", content: "3"})}, wantErr: entity.ErrTooLarge},
		{name: "zip bomb", kind: "python:3.11", lim: actionloop.Limits{MaxBytes: 1 << 20}, req: container.InitRequest{Binary: true, Code: rawZip(t,
			zipEntry{name: "__main__.py", content: strings.Repeat("\x00", 8<<20)})}, wantErr: entity.ErrTooLarge},
		{name: "bytes over many files", kind: "python:3.11", lim: actionloop.Limits{MaxBytes: 1000}, req: container.InitRequest{Binary: true, Code: rawZip(t,
			zipEntry{name: "a", content: strings.Repeat("a", 600)}, zipEntry{name: "b", content: strings.Repeat("b", 600)})}, wantErr: entity.ErrTooLarge},
		{name: "fifo entry", kind: "python:3.11", req: container.InitRequest{Binary: true, Code: rawZip(t, zipEntry{name: "p", mode: fs.ModeNamedPipe | 0o644})}, wantErr: entity.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "action")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			got, err := actionloop.PrepareWithLimits(dir, tc.kind, tc.req, tc.lim)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Prepare: %v", err)
				}
				if want := filepath.Join(dir, tc.wantPath); got != want {
					t.Errorf("path = %q, want %q", got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

func mustExec(t *testing.T, p string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable: %v %v", p, st, err)
	}
}

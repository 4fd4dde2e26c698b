package actionloop_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

// runner is what Native and a launcher Process have in common.
type runner interface {
	Init(ctx context.Context, name, main, path string, env map[string]string) error
	Call(ctx context.Context, body []byte) (container.RunResult, error)
}

var nativeCases = []struct {
	name, script string
	value        any
	status       int
	body         string
	logs         string // expected on stdout before the sentinel
}{
	{"result and logs", "#!/bin/sh\necho log line\necho \"args $1\" >&2\necho '{\"ok\":true}'\n", map[string]any{"a": 1}, 200, `{"ok":true}`, "log line\n"},
	{"env", "#!/bin/sh\necho \"{\\\"ns\\\":\\\"$__OW_NAMESPACE\\\",\\\"i\\\":\\\"$INIT_VAR\\\"}\"\n", nil, 200, `{"ns":"guest","i":"iv"}`, ""},
	{"argv and stdin agree", "#!/bin/sh\nread x\n[ \"$x\" = \"$1\" ] && echo '{\"same\":1}' || echo '{\"same\":0}'\n", map[string]any{"k": "v"}, 200, `{"same":1}`, ""},
	{"array result", "#!/bin/sh\necho '[1,2]'\n", nil, 200, `[1,2]`, ""},
	{"not a dictionary", "#!/bin/sh\necho first\necho 'plain text'\n", nil, 502, `{"error":"The action did not return a dictionary or array."}`, "first\nplain text\n"},
	{"no output", "#!/bin/sh\nexit 0\n", nil, 502, actionloop.NotDictionary, ""},
	{"non-zero exit with result", "#!/bin/sh\necho '{\"x\":1}'\nexit 3\n", nil, 200, `{"x":1}`, ""},
	{"no trailing newline", "#!/bin/sh\nprintf 'a\\n{\"t\":2}'\n", nil, 200, `{"t":2}`, "a\n"},
	{"scalar argument", "#!/bin/sh\necho '{}'\n", "str", 404, actionloop.NotReceivedDictionary, ""},
}

func TestNative(t *testing.T) {
	impls := map[string]func(t *testing.T) (runner, *syncBuffer, *syncBuffer){
		"go": func(t *testing.T) (runner, *syncBuffer, *syncBuffer) {
			out, errw := &syncBuffer{}, &syncBuffer{}
			return &actionloop.Native{Env: []string{"PATH=/usr/bin:/bin"}, Stdout: out, Stderr: errw}, out, errw
		},
		"launcher": func(t *testing.T) (runner, *syncBuffer, *syncBuffer) {
			l := start(t, "blackbox")
			return nativeProc{l}, l.out, l.err
		},
	}
	for implName, mk := range impls {
		for _, tc := range nativeCases {
			t.Run(implName+"/"+tc.name, func(t *testing.T) {
				r, out, errw := mk(t)
				dir := t.TempDir()
				path, err := actionloop.Prepare(dir, "blackbox", container.InitRequest{Code: tc.script})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := r.Init(ctx, "n", "main", path, map[string]string{"INIT_VAR": "iv"}); err != nil {
					t.Fatal(err)
				}
				res, err := r.Call(ctx, runBody(t, tc.value, nil))
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != tc.status || !strings.Contains(string(res.Body), tc.body) {
					t.Errorf("got %d %s, want %d %s", res.Status, res.Body, tc.status, tc.body)
				}
				wantOut := tc.logs + container.Sentinel + "\n"
				if got := out.waitFor(t, container.Sentinel); got != wantOut {
					t.Errorf("stdout = %q, want %q", got, wantOut)
				}
				if got := errw.waitFor(t, container.Sentinel); !strings.HasSuffix(got, container.Sentinel+"\n") {
					t.Errorf("stderr = %q, want the sentinel last", got)
				}
			})
		}
	}
}

// nativeProc adapts a launched native launcher to runner.
type nativeProc struct{ l *launched }

func (n nativeProc) Init(ctx context.Context, name, main, path string, env map[string]string) error {
	return n.l.p.Init(ctx, name, main, path, env)
}

func (n nativeProc) Call(ctx context.Context, body []byte) (container.RunResult, error) {
	return n.l.p.Call(ctx, body)
}

func TestNativeInitErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain")
	os.WriteFile(notExec, []byte("x"), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing"), notExec, dir} {
		out, errw := &syncBuffer{}, &syncBuffer{}
		n := &actionloop.Native{Stdout: out, Stderr: errw}
		err := n.Init(context.Background(), "n", "", p, nil)
		var ie *container.InitError
		if !errors.As(err, &ie) || ie.Status != 502 || !strings.Contains(string(ie.Body), actionloop.NoBinary) {
			t.Errorf("Init(%s) = %v, want InitError 502 %q", p, err, actionloop.NoBinary)
		}
		if !strings.Contains(out.String(), container.Sentinel) {
			t.Errorf("Init(%s) wrote no sentinel", p)
		}
	}
	n := &actionloop.Native{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}}
	if _, err := n.Run(context.Background(), []byte(`{"value":{}}`)); err == nil {
		t.Error("Run before Init succeeded")
	}
}

func TestNativeTimeoutKillsTheActivation(t *testing.T) {
	dir := t.TempDir()
	path, err := actionloop.Prepare(dir, "native", container.InitRequest{Code: "#!/bin/sh\nsleep 3600 &\nsleep 3600\n"})
	if err != nil {
		t.Fatal(err)
	}
	n := &actionloop.Native{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}}
	if err := n.Init(context.Background(), "n", "", path, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := n.Run(ctx, []byte(`{"value":{}}`))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, container.ErrTimeout) {
			t.Fatalf("Run error = %v, want ErrTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its deadline")
	}
}

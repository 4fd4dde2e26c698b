package proxy_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes"
	"github.com/gowhisk/gowhisk/runtimes/proxy"
	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

type env struct {
	srv      *httptest.Server
	out, err *gowhisktest.SyncBuffer
	conns    atomic.Int32
}

// newProxy serves a proxy for kind ("nodejs", "python", "native").
func newProxy(t *testing.T, kind string) *env { return newProxyB(t, kind) }

func newProxyB(t testing.TB, kind string) *env { return newProxyToken(t, kind, "") }

// newProxyToken serves a proxy for kind whose Config.Token is token.
func newProxyToken(t testing.TB, kind, token string) *env {
	t.Helper()
	var launcher []string
	if kind != "native" {
		dir := t.TempDir()
		if err := runtimes.InstallLaunchers(dir); err != nil {
			t.Fatal(err)
		}
		k := map[string]string{"nodejs": "nodejs:20", "python": "python:3.11"}[kind]
		var err error
		launcher, err = runtimes.LocalCommand(k, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(launcher[0]); err != nil {
			t.Skipf("%s: %v", launcher[0], err)
		}
	}
	e := &env{out: &gowhisktest.SyncBuffer{}, err: &gowhisktest.SyncBuffer{}}
	p, err := proxy.New(proxy.Config{Launcher: launcher, Kind: kind, WorkDir: t.TempDir(),
		Env: []string{"PATH=/usr/bin:/bin"}, Stdout: e.out, Stderr: e.err, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(p)
	e.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.conns.Add(1)
		}
	}
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		p.Close()
	})
	return e
}

func (e *env) post(t testing.TB, path string, body any) (int, string) {
	t.Helper()
	st, b, _ := e.postH(t, path, body)
	return st, b
}

// postH is post that also returns the answer's header.
func (e *env) postH(t testing.TB, path string, body any) (int, string, http.Header) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := e.srv.Client().Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	return resp.StatusCode, strings.TrimSpace(string(rb)), resp.Header
}

func initBody(code, main string, binary bool) map[string]any {
	return map[string]any{"value": map[string]any{"name": "a", "main": main, "code": code, "binary": binary,
		"env": map[string]any{"S": "s", "N": 3, "B": true, "Z": nil}}}
}

func runBody(value any) map[string]any {
	return map[string]any{"value": value, "namespace": "guest", "action_name": "/guest/a", "activation_id": "id1",
		"transaction_id": "t", "deadline": "1700000060000", "action_version": "0.0.1"}
}

type step struct {
	path   string
	body   any
	status int
	want   string // exact body
	exited bool   // the answer says the action's process is gone
}

func TestProxy(t *testing.T) {
	tests := []struct {
		name, kind string
		steps      []step
	}{
		{"nodejs lifecycle", "nodejs", []step{
			{"/run", runBody(map[string]any{}), 500, `{"error":"no action defined yet"}`, false},
			{"/init", initBody("", "main", false), 403, `{"error":"Missing main/no code to execute."}`, false},
			{"/init", `{"value":`, 400, `{"error":"Error unmarshaling request: unexpected end of JSON input"}`, false},
			{"/init", initBody(`function main(a) { console.log("log " + a.x); return {x: a.x, s: process.env.S, n: process.env.N, b: process.env.B, z: process.env.Z, ns: process.env.__OW_NAMESPACE} }`, "main", false), 200, `{"ok":true}`, false},
			{"/init", initBody(`function main() {}`, "main", false), 403, `{"error":"Cannot initialize the action more than once."}`, false},
			{"/run", runBody(map[string]any{"x": 1}), 200, `{"x":1,"s":"s","n":"3","b":"true","z":"","ns":"guest"}`, false},
			{"/run", runBody(map[string]any{"x": 2}), 200, `{"x":2,"s":"s","n":"3","b":"true","z":"","ns":"guest"}`, false},
		}},
		{"nodejs non-object result", "nodejs", []step{
			{"/init", initBody(`function main() { return 5 }`, "main", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{}), 502, `{"error":"The action did not return a dictionary."}`, false},
		}},
		{"nodejs exception", "nodejs", []step{
			{"/init", initBody(`function main() { throw new Error("boom") }`, "main", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{}), 502, `{"error":"An error has occurred: Error: boom"}`, false},
		}},
		{"nodejs init failure", "nodejs", []step{
			{"/init", initBody(`function other() {}`, "main", false), 502, `{"error":"Initialization has failed due to: Action entrypoint 'main' is not a function."}`, false},
			{"/init", initBody(`function main() {}`, "main", false), 403, `{"error":"Cannot initialize the action more than once."}`, false},
			{"/run", runBody(map[string]any{}), 500, `{"error":"no action defined yet"}`, false},
		}},
		{"nodejs exit", "nodejs", []step{
			{"/init", initBody(`function main() { process.exit(1) }`, "main", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{}), 400, `{"error":"command exited"}`, true},
			{"/run", runBody(map[string]any{}), 500, `{"error":"no action defined yet"}`, false},
		}},
		{"python exit", "python", []step{
			{"/init", initBody("import os\ndef main(a):\n    os._exit(3)\n", "main", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{}), 400, `{"error":"command exited"}`, true},
		}},
		{"python lifecycle", "python", []step{
			{"/init", initBody("def main(a):\n    return {'x': a.get('x')}\n", "", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{"x": "y"}), 200, `{"x": "y"}`, false},
			{"/run", runBody([]int{1}), 200, `{"error": "'list' object has no attribute 'get'"}`, false},
		}},
		{"python non-dict result", "python", []step{
			{"/init", initBody("def main(a):\n    return 'no'\n", "main", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{}), 502, `{"error":"The action did not return a dictionary or array."}`, false},
		}},
		{"python syntax error", "python", []step{
			{"/init", initBody("def main(a)\n  return {}\n", "main", false), 502, `{"error":"expected ':'"}`, false},
		}},
		{"python bad zip", "python", []step{
			{"/init", initBody(base64.StdEncoding.EncodeToString([]byte("not a zip")), "main", true), 502, `{"error":"There was an error uncompressing the action archive. (not a zip archive)"}`, false},
		}},
		{"native script", "native", []step{
			{"/run", runBody(map[string]any{}), 500, `{"error":"no action defined yet"}`, false},
			{"/init", initBody("#!/bin/sh\necho some log\necho \"{\\\"arg\\\":$1}\"\n", "", false), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{"k": "v"}), 200, `{"arg":{"k":"v"}}`, false},
			{"/run", runBody("scalar"), 404, `{"error":"The action did not receive a dictionary or array as an argument."}`, false},
		}},
		{"native zip", "native", []step{
			{"/init", initBody(zipExec(t, "#!/bin/sh\necho '{\"zipped\":true}'\n"), "", true), 200, `{"ok":true}`, false},
			{"/run", runBody(map[string]any{}), 200, `{"zipped":true}`, false},
		}},
		{"native zip without exec", "native", []step{
			{"/init", initBody(base64.StdEncoding.EncodeToString(mkZip(t, "other", "x")), "", true), 502, `{"error":"The action failed to generate or locate a binary. See logs for details. (the archive has no file \"exec\")"}`, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProxy(t, tc.kind)
			for i, s := range tc.steps {
				status, body, h := e.postH(t, s.path, s.body)
				if status != s.status || (s.want != "" && body != s.want) {
					t.Errorf("step %d %s: got %d %s, want %d %s\nstderr: %s", i, s.path, status, body, s.status, s.want, e.err.String())
				}
				if exited := h.Get(proxy.ChildExitedHeader) == "true"; exited != s.exited || (!exited && h.Get(proxy.ChildExitedHeader) != "") {
					t.Errorf("step %d %s: %s %q, want exited %v", i, s.path, proxy.ChildExitedHeader, h.Get(proxy.ChildExitedHeader), s.exited)
				}
				if tok := h.Get(proxy.TokenHeader); tok != "" {
					t.Errorf("step %d %s: %s %q from a proxy without a token", i, s.path, proxy.TokenHeader, tok)
				}
			}
			if n := e.conns.Load(); n != 1 {
				t.Errorf("%d connections for %d requests, want keep-alive on one", n, len(tc.steps))
			}
		})
	}
}

func TestProxyLogs(t *testing.T) {
	e := newProxy(t, "nodejs")
	e.post(t, "/init", initBody(`function main(a) { console.log("out " + a.i); console.error("err " + a.i); return {} }`, "main", false))
	for i := 1; i <= 2; i++ {
		if st, body := e.post(t, "/run", runBody(map[string]any{"i": i})); st != 200 {
			t.Fatalf("run: %d %s", st, body)
		}
	}
	s := container.Sentinel + "\n"
	waitEq(t, "stdout", e.out, "out 1\n"+s+"out 2\n"+s)
	waitEq(t, "stderr", e.err, "err 1\n"+s+"err 2\n"+s)
}

func TestProxyRoutes(t *testing.T) {
	e := newProxy(t, "native")
	resp, err := e.srv.Client().Get(e.srv.URL + "/run")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /run = %d, want 405", resp.StatusCode)
	}
	if st, _ := e.post(t, "/other", "{}"); st != http.StatusNotFound {
		t.Errorf("POST /other = %d, want 404", st)
	}
}

// TestProxyToken checks that a proxy with a token names it on every
// answer (so that a client can tell its proxy from another one on the same
// address) and answers the readiness probe.
func TestProxyToken(t *testing.T) {
	const token = "0123abcd"
	e := newProxyToken(t, "native", token)
	get := func(method, path string) (int, string, http.Header) {
		req, err := http.NewRequest(method, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
	}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, proxy.ReadyPath, 200, `{"ok":true}`},
		{http.MethodHead, proxy.ReadyPath, 200, ""},
		{http.MethodPost, proxy.ReadyPath, 405, `{"error":"method not allowed"}`},
		{http.MethodGet, "/run", 405, `{"error":"method not allowed"}`},
		{http.MethodGet, "/other", 404, `{"error":"not found"}`},
	} {
		st, body, h := get(tc.method, tc.path)
		if st != tc.status || body != tc.body || h.Get(proxy.TokenHeader) != token {
			t.Errorf("%s %s = %d %s (%s %q), want %d %s with the token", tc.method, tc.path, st, body, proxy.TokenHeader, h.Get(proxy.TokenHeader), tc.status, tc.body)
		}
	}
	for _, s := range []step{
		{"/run", runBody(map[string]any{}), 500, `{"error":"no action defined yet"}`, false},
		{"/init", initBody("#!/bin/sh\necho '{\"ok\":1}'\n", "", false), 200, `{"ok":true}`, false},
		{"/run", runBody(map[string]any{}), 200, `{"ok":1}`, false},
	} {
		st, body, h := e.postH(t, s.path, s.body)
		if st != s.status || body != s.want || h.Get(proxy.TokenHeader) != token {
			t.Errorf("POST %s = %d %s (%s %q), want %d %s with the token", s.path, st, body, proxy.TokenHeader, h.Get(proxy.TokenHeader), s.status, s.want)
		}
	}
}

// TestProxyLauncherExitedBetweenRuns: a launcher that exits after
// answering makes the next /run answer "command exited" (OpenWhisk's 500
// when the exit was seen before the run, its 400 when the run found the
// launcher going), saying the action's process is gone.
func TestProxyLauncherExitedBetweenRuns(t *testing.T) {
	e := newProxy(t, "nodejs")
	if st, body := e.post(t, "/init", initBody(`let runs = 0
function main() {
  // Exit soon after answering; a run that still finds the launcher (it
  // came in before the timer) makes it exit right away.
  if (runs++ > 0) process.exit(0);
  setTimeout(() => process.exit(0), 1);
  return {first: true};
}`, "main", false)); st != 200 {
		t.Fatalf("init: %d %s", st, body)
	}
	if st, body := e.post(t, "/run", runBody(map[string]any{})); st != 200 || body != `{"first":true}` {
		t.Fatalf("first run: %d %s", st, body)
	}
	st, body, h := e.postH(t, "/run", runBody(map[string]any{}))
	if (st != 500 && st != 400) || body != `{"error":"command exited"}` || h.Get(proxy.ChildExitedHeader) != "true" {
		t.Errorf("run after the launcher exited: %d %s (%s %q), want command exited", st, body, proxy.ChildExitedHeader, h.Get(proxy.ChildExitedHeader))
	}
}

func TestNewValidates(t *testing.T) {
	out := &gowhisktest.SyncBuffer{}
	for name, cfg := range map[string]proxy.Config{
		"no writers": {Kind: "native", WorkDir: t.TempDir()},
		"bad kind":   {Kind: "cobol", WorkDir: t.TempDir(), Stdout: out, Stderr: out},
		"no workdir": {Kind: "native", Stdout: out, Stderr: out},
	} {
		if _, err := proxy.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func waitEq(t *testing.T, name string, b *gowhisktest.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.String() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := b.String(); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func mkZip(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(content))
	zw.Close()
	return buf.Bytes()
}

func zipExec(t *testing.T, script string) string {
	return base64.StdEncoding.EncodeToString(mkZip(t, "exec", script))
}

// Package standalone_test is an end-to-end test of the gowhisk binary: it
// builds cmd/gowhisk, runs `gowhisk standalone` as a user would, talks to it
// over HTTP on loopback, and runs `gowhisk admin` on its data dir.
package standalone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

const (
	guestAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	// readyWait bounds how long a starting server may take before the test
	// gives up (a timeout against hangs, not a performance assertion).
	readyWait = 60 * time.Second
)

func TestStandaloneEndToEnd(t *testing.T) {
	bin := gowhisktest.BuildGowhisk(t)
	dataDir := filepath.Join(t.TempDir(), "data")

	// First start on a new data dir: guest is created, the wsk line printed.
	srv := startServer(t, bin, "--data-dir", dataDir)
	if srv.Auth != guestAuth {
		t.Fatalf("printed auth = %q, want the well-known guest key", srv.Auth)
	}
	if code, body := srv.do(t, "GET", "/ping", "", nil); code != 200 || strings.TrimSpace(body) != "pong" {
		t.Fatalf("GET /ping = %d %q, want 200 pong", code, body)
	}
	if code, body := srv.do(t, "GET", "/api/v1/namespaces/_/actions", guestAuth, nil); code != 200 || !jsonEqual(body, `[]`) {
		t.Fatalf("list actions = %d %s, want 200 []", code, body)
	}
	if code, _ := srv.do(t, "GET", "/api/v1/namespaces/_/actions", "", nil); code != 401 {
		t.Fatalf("list actions without auth = %d, want 401", code)
	}

	code := `function main(params) { return {greeting: "hello " + params.name} }`
	put := map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": code}}
	if st, body := srv.do(t, "PUT", "/api/v1/namespaces/_/actions/hello", guestAuth, put); st != 200 {
		t.Fatalf("PUT action = %d %s, want 200", st, body)
	}
	checkAction(t, srv, code)

	// The execution path runs it (test/standalone/exec_test.go covers it).
	if st, body := srv.do(t, "POST", "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", guestAuth, map[string]any{"name": "x"}); st != 200 || !jsonEqual(body, `{"greeting":"hello x"}`) {
		t.Fatalf("invoke = %d %s, want 200 {\"greeting\":\"hello x\"}", st, body)
	}

	// While the server runs, admin cannot open the data dir and says why.
	out, errOut, err := runCmd(t, bin, "admin", "--data-dir", dataDir, "user", "get", "guest")
	if err == nil || !strings.Contains(errOut, "locked") {
		t.Fatalf("admin on a data dir in use: err=%v stdout=%q stderr=%q, want a failure mentioning the lock", err, out, errOut)
	}
	srv.stop(t)

	// Restart on the same data dir: the action is still there.
	srv = startServer(t, bin, "--data-dir", dataDir)
	checkAction(t, srv, code)
	srv.stop(t)

	t.Run("refuses non-loopback with the guest key", func(t *testing.T) {
		out, errOut, err := runCmd(t, bin, "standalone", "--data-dir", dataDir, "--host", "0.0.0.0", "--port", "0")
		if err == nil {
			t.Fatalf("standalone --host 0.0.0.0 succeeded; stdout=%q", out)
		}
		for _, want := range []string{"refusing to listen", "guest", "gowhisk admin"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr %q does not mention %q", errOut, want)
			}
		}
	})

	t.Run("admin users and limits", func(t *testing.T) {
		admin := func(args ...string) string {
			t.Helper()
			out, errOut, err := runCmd(t, bin, append([]string{"admin", "--data-dir", dataDir}, args...)...)
			if err != nil {
				t.Fatalf("gowhisk admin %v: %v\nstderr: %s", args, err, errOut)
			}
			return out
		}
		key := strings.TrimSpace(admin("user", "create", "alice01"))
		if !regexp.MustCompile(`^[0-9a-f-]{36}:[A-Za-z0-9]{64}$`).MatchString(key) {
			t.Fatalf("user create printed %q, want uuid:key", key)
		}
		if got := strings.TrimSpace(admin("user", "get", "alice01")); got != key {
			t.Fatalf("user get = %q, want %q", got, key)
		}
		if got := admin("user", "list", "alice01"); got != key+"\talice01\n" {
			t.Fatalf("user list = %q", got)
		}
		admin("limits", "set", "alice01", "--invocationsPerMinute", "7", "--allowedKinds", "nodejs:20,python:3", "--storeActivations", "false")
		admin("limits", "set", "alice01", "--firesPerMinute", "9")
		got := admin("limits", "get", "alice01")
		want := "invocationsPerMinute = 7\nfiresPerMinute = 9\nallowedKinds = [\"nodejs:20\",\"python:3\"]\nstoreActivations = false\n"
		if got != want {
			t.Fatalf("limits get =\n%s\nwant\n%s", got, want)
		}

		// The new key works against the server; the guest namespace is
		// not visible to it.
		srv := startServer(t, bin, "--data-dir", dataDir)
		if st, body := srv.do(t, "GET", "/api/v1/namespaces/_/actions", key, nil); st != 200 || !jsonEqual(body, `[]`) {
			t.Fatalf("alice01 lists actions = %d %s, want 200 []", st, body)
		}
		if st, body := srv.do(t, "GET", "/api/v1/namespaces/guest/actions/hello", key, nil); st != 403 {
			t.Fatalf("alice01 reads guest's action = %d %s, want 403", st, body)
		}
		srv.stop(t)

		if out := admin("user", "delete", "alice01"); strings.TrimSpace(out) != "Subject deleted" {
			t.Fatalf("user delete printed %q", out)
		}
		if _, errOut, err := runCmd(t, bin, "admin", "--data-dir", dataDir, "user", "get", "alice01"); err == nil || !strings.Contains(errOut, "not found") {
			t.Fatalf("user get after delete: err=%v stderr=%q, want a not-found failure", err, errOut)
		}

		// Rekeyed, the stock guest key stops working and no wsk line with
		// it is printed.
		admin("user", "rekey", "guest")
		srv = startServer(t, bin, "--data-dir", dataDir)
		if srv.Auth != "" {
			t.Fatalf("after rekey the server printed a guest auth %q", srv.Auth)
		}
		if st, _ := srv.do(t, "GET", "/api/v1/namespaces/_/actions", guestAuth, nil); st != 401 {
			t.Fatalf("old guest key after rekey = %d, want 401", st)
		}
		srv.stop(t)
	})
}

// checkAction reads guest's action hello and checks what was PUT.
func checkAction(t *testing.T, srv *server, code string) {
	t.Helper()
	st, body := srv.do(t, "GET", "/api/v1/namespaces/_/actions/hello", guestAuth, nil)
	if st != 200 {
		t.Fatalf("GET action = %d %s, want 200", st, body)
	}
	var a struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Exec      struct {
			Kind string `json:"kind"`
			Code string `json:"code"`
		} `json:"exec"`
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET action body %q: %v", body, err)
	}
	if a.Name != "hello" || a.Namespace != "guest" || a.Exec.Kind != "nodejs:20" || a.Exec.Code != code {
		t.Fatalf("GET action = %+v, want hello in guest with the code PUT", a)
	}
}

// runCmd runs the binary to completion and returns its stdout and stderr.
func runCmd(t *testing.T, bin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// cleanEnv is the test's environment without GOWHISK_* settings, so a
// developer's own configuration cannot change what the test runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOWHISK_") {
			env = append(env, kv)
		}
	}
	return env
}

// server is a running `gowhisk standalone` process.
type server struct{ *gowhisktest.Standalone }

// startServer starts `gowhisk standalone --port 0` with extra args and
// waits until it answers /ping.
func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	return &server{gowhisktest.StartStandalone(t, bin, cleanEnv(), args...)}
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) { s.Stop(t) }

// do sends a request with optional basic auth (uuid:key) and JSON body.
func (s *server) do(t *testing.T, method, path, auth string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.APIHost+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		u, k, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, k)
	}
	client := &http.Client{Timeout: readyWait}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", method, path, err, s.Stderr)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func jsonEqual(got, want string) bool {
	var g, w any
	if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return reflect.DeepEqual(g, w)
}

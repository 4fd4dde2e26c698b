package wskcli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the CLI with args, a properties file in a temp directory
// and the given environment.
func runMain(t *testing.T, props string, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), Env{
		Args: args, Stdout: &out, Stderr: &errb, HomeDir: t.TempDir(),
		Getenv: func(k string) string {
			if k == "WSK_CONFIG_FILE" {
				return props
			}
			return env[k]
		},
	})
	return out.String(), errb.String(), code
}

func TestMainProperties(t *testing.T) {
	props := filepath.Join(t.TempDir(), "wskprops")
	out, errOut, code := runMain(t, props, nil, "property", "set", "--apihost", "localhost:3233", "-u", "uuid:key", "--apiversion", "v1")
	want := "ok: whisk auth set. Run 'wsk property get --auth' to see the new value.\n" +
		"ok: whisk API host set to localhost:3233\n" +
		"ok: whisk API version set to v1\n"
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("set: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(props)
	if err != nil || string(b) != "AUTH=uuid:key\nAPIHOST=localhost:3233\nAPIVERSION=v1\n" {
		t.Fatalf("file %q, %v", b, err)
	}
	out, _, code = runMain(t, props, nil, "property", "get", "--auth", "--apihost")
	if code != 0 || out != "whisk auth\t\tuuid:key\nwhisk API host\t\tlocalhost:3233\n" {
		t.Fatalf("get: exit %d %q", code, out)
	}
	out, _, _ = runMain(t, props, map[string]string{"WHISK_AUTH": "env:key"}, "property", "get", "--auth", "-o", "raw")
	if out != "env:key\n" {
		t.Errorf("WHISK_AUTH not used: %q", out)
	}
	out, _, code = runMain(t, props, nil, "property", "unset", "--auth", "--apihost")
	if code != 0 || out != "ok: whisk auth unset.\nok: whisk API host unset.\n" {
		t.Fatalf("unset: exit %d %q", code, out)
	}
	if b, _ := os.ReadFile(props); string(b) != "APIVERSION=v1\n" {
		t.Errorf("after unset: %q", b)
	}
	_, errOut, code = runMain(t, props, nil, "action", "list")
	if code != 1 || errOut != "error: The API host is not valid: An API host must be provided.\n" {
		t.Errorf("no API host: exit %d %q", code, errOut)
	}
}

// fakeWhisk answers like an OpenWhisk controller for the cases the real
// server cannot produce on demand: a blocking invoke that has not finished
// (202 after 60 s) and a whisk error (500) on invoke.
func fakeWhisk(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "uuid" || p != "key" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"The supplied authentication is invalid","code":"tid1"}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/namespaces/_/actions/slow":
			if r.URL.Query().Get("blocking") != "true" {
				t.Errorf("slow invoked without blocking=true: %s", r.URL)
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"activationId":"0123456789abcdef0123456789abcdef"}`))
		case "/api/v1/namespaces/_/actions/broken":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"activationId":"0123456789abcdef0123456789abcdef","response":{"status":"whisk internal error","success":false}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"The requested resource does not exist.","code":"tid2"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMainInvokeOutcomes(t *testing.T) {
	srv := fakeWhisk(t)
	props := filepath.Join(t.TempDir(), "wskprops")
	if err := os.WriteFile(props, []byte("APIHOST="+srv.URL+"\nAUTH=uuid:key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		args              []string
		code              int
		stdout, stderrHas string
	}{
		{"blocking invoke not finished", []string{"action", "invoke", "slow", "-b"}, 202, "",
			"ok: invoked /_/slow, but the request has not yet finished, with id 0123456789abcdef0123456789abcdef\n"},
		{"result invoke not finished", []string{"action", "invoke", "slow", "-r"}, 202, "",
			"ok: invoked /_/slow, but the request has not yet finished, with id 0123456789abcdef0123456789abcdef\n"},
		{"whisk error", []string{"action", "invoke", "broken", "-b"}, 244, "",
			"error: Unable to invoke action 'broken': The connection failed, or timed out. (HTTP status code 500)\nRun 'wsk --help' for usage.\n"},
		{"not found", []string{"action", "get", "nope"}, 148, "",
			"error: Unable to get action 'nope': The requested resource does not exist. (code tid2)\nRun 'wsk --help' for usage.\n"},
		{"bad auth", []string{"-u", "x:y", "trigger", "list"}, 145, "",
			"error: Unable to obtain the list of triggers for namespace 'default': The supplied authentication is invalid (code tid1)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runMain(t, props, nil, tc.args...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errOut, tc.stderrHas) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out, tc.stdout, errOut, tc.stderrHas)
			}
		})
	}
}

func TestMainUsageErrors(t *testing.T) {
	props := filepath.Join(t.TempDir(), "wskprops")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, "error: unknown command \"frobnicate\" for \"wsk\"\nRun 'wsk --help' for usage.\n"},
		{"unknown flag", []string{"property", "get", "--bogus"}, 2, "error: unknown flag: --bogus\nRun 'wsk --help' for usage.\n"},
		{"bad output format", []string{"property", "get", "-o", "xml"}, 2, "error: Supported output format are std|raw\nRun 'wsk --help' for usage.\n"},
		{"-p without value", []string{"action", "invoke", "a", "-p", "k"}, 1,
			"error: Failed to parse arguments: The parameter arguments are invalid: Arguments for '-p' must be a key/value pair\nRun 'wsk --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runMain(t, props, nil, tc.args...)
			if code != tc.code || errOut != tc.err {
				t.Fatalf("exit %d %q, want %d %q", code, errOut, tc.code, tc.err)
			}
		})
	}
	out, _, code := runMain(t, props, nil, "--help")
	if code != 0 || !strings.Contains(out, "OpenWhisk cloud computing command line interface.") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

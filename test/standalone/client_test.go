package standalone_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Helpers of the execution tests: a REST client for actions, invocations
// and activation records with the guest key.

// pollWait bounds every wait for a record or a state (a guard against
// hangs, not a performance assertion).
const pollWait = 30 * time.Second

// activation is an activation record as the API returns it.
type activation struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	ActivationID string `json:"activationId"`
	Response     struct {
		Status  string          `json:"status"`
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result"`
	} `json:"response"`
	Logs        []string `json:"logs"`
	Annotations []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"annotations"`
	raw string
}

// annotation returns the value of annotation key and whether it is there.
func (a *activation) annotation(key string) (json.RawMessage, bool) {
	for _, an := range a.Annotations {
		if an.Key == key {
			return an.Value, true
		}
	}
	return nil, false
}

// cold reports whether the record has the initTime annotation.
func (a *activation) cold() bool {
	_, ok := a.annotation("initTime")
	return ok
}

// result decodes the response's result into a map.
func (a *activation) result(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Response.Result, &m); err != nil {
		t.Fatalf("result %s is not an object: %v\nrecord: %s", a.Response.Result, err, a.raw)
	}
	return m
}

// errorText is the result's "error" string ("" if none).
func (a *activation) errorText() string {
	var m struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(a.Response.Result, &m)
	return m.Error
}

// api is the REST client of one server with the guest key.
type api struct {
	t   *testing.T
	srv *server
}

// request sends a JSON request and returns the status, the x-openwhisk-
// activation-id header and the body.
func (c api) request(t *testing.T, method, path string, body any) (int, string, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.APIHost+"/api/v1/namespaces/_"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	u, k, _ := strings.Cut(guestAuth, ":")
	req.SetBasicAuth(u, k)
	resp, err := (&http.Client{Timeout: 2 * pollWait}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nserver stderr (tail):\n%s", method, path, err, tail(c.srv.Stderr.String()))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("x-openwhisk-activation-id"), b
}

// putAction creates or replaces action name with exec and limits.
func (c api) putAction(t *testing.T, name string, exec map[string]any, limits map[string]any) {
	t.Helper()
	doc := map[string]any{"exec": exec}
	if limits != nil {
		doc["limits"] = limits
	}
	if st, _, b := c.request(t, "PUT", "/actions/"+name+"?overwrite=true", doc); st != 200 {
		t.Fatalf("PUT action %s = %d %s", name, st, b)
	}
}

// source is the exec of a source action.
func source(kind, code string) map[string]any {
	return map[string]any{"kind": kind, "code": code}
}

// invoke runs action name blocking and returns the HTTP status and the
// record (the body of a 200 or 502).
func (c api) invoke(t *testing.T, name string, args any) (int, *activation) {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	st, hdr, b := c.request(t, "POST", "/actions/"+name+"?blocking=true", args)
	a := &activation{raw: string(b)}
	if err := json.Unmarshal(b, a); err != nil || a.ActivationID == "" {
		t.Fatalf("blocking invoke of %s = %d %s: not an activation record (%v)", name, st, b, err)
	}
	if hdr != a.ActivationID {
		t.Fatalf("x-openwhisk-activation-id %q, record %q", hdr, a.ActivationID)
	}
	return st, a
}

// invokeOK runs action name blocking and expects 200 success.
func (c api) invokeOK(t *testing.T, name string, args any) *activation {
	t.Helper()
	st, a := c.invoke(t, name, args)
	if st != 200 || a.Response.Status != "success" || !a.Response.Success {
		t.Fatalf("invoke %s = %d %s, want 200 success", name, st, a.raw)
	}
	return a
}

// invokeAsync runs action name non-blocking and returns the activation id
// of the 202.
func (c api) invokeAsync(t *testing.T, name string, args any) string {
	t.Helper()
	st, hdr, b := c.request(t, "POST", "/actions/"+name, args)
	var r struct {
		ActivationID string `json:"activationId"`
	}
	if st != 202 || json.Unmarshal(b, &r) != nil || len(r.ActivationID) != 32 || hdr != r.ActivationID {
		t.Fatalf("non-blocking invoke of %s = %d (header %q) %s, want 202 with the id", name, st, hdr, b)
	}
	return r.ActivationID
}

// activation polls GET /activations/{id} until the record is there.
func (c api) activation(t *testing.T, id string) *activation {
	t.Helper()
	deadline := time.Now().Add(pollWait)
	for {
		st, _, b := c.request(t, "GET", "/activations/"+id, nil)
		if st == 200 {
			a := &activation{raw: string(b)}
			if err := json.Unmarshal(b, a); err != nil {
				t.Fatalf("GET activation %s: %s: %v", id, b, err)
			}
			return a
		}
		if st != 404 || time.Now().After(deadline) {
			t.Fatalf("GET activation %s = %d %s (waited up to %v for 200)", id, st, b, pollWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zipBase64 builds a zip archive of files (path → content; executable
// when the path is in exec) and returns it base64-encoded.
func zipBase64(t *testing.T, files map[string]string, exec ...string) string {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		for _, e := range exec {
			if e == name {
				h.SetMode(0o755)
			}
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(f, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// tail is the end of a long log, for failure messages.
func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// wantField fails unless m[key] equals want (compared as JSON).
func wantField(t *testing.T, a *activation, key string, want any) {
	t.Helper()
	got, ok := a.result(t)[key]
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !ok || string(gj) != string(wj) {
		t.Fatalf("result[%q] = %s, want %s\nrecord: %s", key, gj, wj, a.raw)
	}
}

package controller

// Shared HTTP test harness of the controller package.
//
//	ts := newTestServer(t)                        // guest and alice exist; Activator nil
//	ts := newTestServer(t, func(c *Config) { c.Activator = myActivator })
//	r := ts.do("PUT", "/api/v1/namespaces/_/actions/hello", `{"exec":{...}}`)          // as guest
//	r := ts.do("GET", "/api/v1/namespaces/_/actions", "", aliceAuth)                    // as alice
//	r := ts.do("GET", "/api/v1/namespaces", "", noAuth)                                 // no credentials
//	r.Status, r.Header, r.Body (raw bytes), r.JSON (decoded, nil if not JSON),
//	r.Obj() (JSON object or fails), r.Arr() (JSON array or fails), r.ErrMsg() ("error" field)
//	ts.request(req)    // full control over an *http.Request built with ts.URL
//
// The server runs New() over a real entity/boltstore in t.TempDir() and the
// embedded runtimes manifest, behind httptest.NewServer; all are closed by
// t.Cleanup. ts.Stores gives direct store access for setup and checks.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/runtimes"
)

// Credentials of the test subjects. Pass one as the auth argument of do.
const (
	aliceNS   = "alice"
	aliceUUID = "7b3e2c8a-1111-4a2b-9c3d-0123456789ab"
	aliceKey  = "AliceKeyAliceKeyAliceKeyAliceKeyAliceKeyAliceKeyAliceKeyAliceKey"
	guestAuth = entity.GuestUUID + ":" + entity.GuestKey
	aliceAuth = aliceUUID + ":" + aliceKey
	// noAuth sends the request without an Authorization header.
	noAuth = ""
)

type testServer struct {
	t      testing.TB
	URL    string
	Server *Server
	Config Config
	Stores struct {
		Entities    entity.Store
		Activations entity.Activations
		Subjects    entity.SubjectAdmin
	}
}

// newTestServer starts a controller over a fresh store with the subjects
// guest and alice (t may be a *testing.T, *testing.B or *testing.F). opts may change the Config before New is called.
func newTestServer(t testing.TB, opts ...func(*Config)) *testServer {
	t.Helper()
	ctx := context.Background()
	db, err := boltstore.Open(ctx, t.TempDir(), boltstore.Config{})
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for _, s := range []entity.Subject{
		{Subject: entity.GuestSubject, Namespaces: []entity.NamespaceKey{{Name: entity.GuestSubject, UUID: entity.GuestUUID, Key: entity.GuestKey}}},
		{Subject: aliceNS, Namespaces: []entity.NamespaceKey{{Name: aliceNS, UUID: aliceUUID, Key: aliceKey}}},
	} {
		if _, err := db.Subjects().PutSubject(ctx, s); err != nil {
			t.Fatalf("PutSubject %s: %v", s.Subject, err)
		}
	}
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatalf("LoadManifest: %v", err)
	}
	cfg := Config{
		Entities:    db.Entities(),
		Activations: db.Activations(),
		Subjects:    db.Subjects(),
		Manifest:    m,
		Limits:      entity.DefaultSystemLimits(),
		Build:       "2026-01-01T00:00:00Z",
		BuildNo:     "test-build",
	}
	tickingClock(&cfg) // deterministic list order; opts may replace it
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts := &testServer{t: t, URL: hs.URL, Server: srv, Config: cfg}
	ts.Stores.Entities, ts.Stores.Activations, ts.Stores.Subjects = db.Entities(), db.Activations(), db.Subjects()
	return ts
}

// response is a recorded HTTP response.
type response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
	JSON   any // decoded body, nil if it is not JSON
}

// do sends method path with body (no body if "") authenticated as guest,
// or with auth ("uuid:key", or noAuth for no header) if given.
func (ts *testServer) do(method, path, body string, auth ...string) response {
	ts.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		ts.t.Fatalf("NewRequest: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	a := guestAuth
	if len(auth) > 0 {
		a = auth[0]
	}
	if a != noAuth {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a)))
	}
	return ts.request(req)
}

// request sends req as is and records the response.
func (ts *testServer) request(req *http.Request) response {
	ts.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		ts.t.Fatalf("read body: %v", err)
	}
	r := response{t: ts.t, Status: res.StatusCode, Header: res.Header, Body: b}
	if len(bytes.TrimSpace(b)) > 0 {
		var v any
		if json.Unmarshal(b, &v) == nil {
			r.JSON = v
		}
	}
	return r
}

// Obj returns the body as a JSON object, failing the test otherwise.
func (r response) Obj() map[string]any {
	r.t.Helper()
	m, ok := r.JSON.(map[string]any)
	if !ok {
		r.t.Fatalf("body is not a JSON object (status %d): %s", r.Status, r.Body)
	}
	return m
}

// Arr returns the body as a JSON array, failing the test otherwise.
func (r response) Arr() []any {
	r.t.Helper()
	a, ok := r.JSON.([]any)
	if !ok {
		r.t.Fatalf("body is not a JSON array (status %d): %s", r.Status, r.Body)
	}
	return a
}

// ErrMsg returns the "error" field of an OpenWhisk error body ("" if none).
func (r response) ErrMsg() string {
	m, _ := r.JSON.(map[string]any)
	s, _ := m["error"].(string)
	return s
}

// wantStatus fails the test unless the status is want.
func (r response) wantStatus(want int) response {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// tickingClock is a test option whose clock advances one millisecond per
// reading, so entities written one after another never share an `updated`
// time and list order is deterministic.
func tickingClock(c *Config) {
	var mu sync.Mutex
	now := time.Now()
	c.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
}

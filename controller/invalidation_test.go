package controller

import (
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

// writeLog records the OnEntityWrite calls of a controller.
type writeLog struct {
	mu     sync.Mutex
	writes []string // "kind docID"
}

func (w *writeLog) hook(k entity.Kind, n entity.FQN) {
	w.mu.Lock()
	w.writes = append(w.writes, string(k)+" "+n.DocID())
	w.mu.Unlock()
}

func (w *writeLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

func TestOnEntityWriteCalledAfterSuccessfulWrites(t *testing.T) {
	var log writeLog
	ts := newTestServer(t, func(c *Config) { c.OnEntityWrite = log.hook })
	action := `{"exec":{"kind":"nodejs:20","code":"function main(){return {}}"}}`
	for _, tt := range []struct {
		name         string
		method, path string
		body         string
		status       int
		want         []string
	}{
		{"create action", "PUT", "/api/v1/namespaces/_/actions/hello", action, 200, []string{"action guest/hello"}},
		{"create existing action without overwrite", "PUT", "/api/v1/namespaces/_/actions/hello", action, 409, nil},
		{"update action", "PUT", "/api/v1/namespaces/_/actions/hello?overwrite=true", action, 200, []string{"action guest/hello"}},
		{"create package", "PUT", "/api/v1/namespaces/_/packages/pkg", `{}`, 200, []string{"package guest/pkg"}},
		{"create packaged action", "PUT", "/api/v1/namespaces/_/actions/pkg/inner", action, 200, []string{"action guest/pkg/inner"}},
		{"create trigger", "PUT", "/api/v1/namespaces/_/triggers/tick", `{}`, 200, []string{"trigger guest/tick"}},
		{"create rule (links the trigger)", "PUT", "/api/v1/namespaces/_/rules/r", `{"trigger":"/_/tick","action":"/_/hello"}`, 200, []string{"rule guest/r", "trigger guest/tick"}},
		{"delete rule (unlinks the trigger)", "DELETE", "/api/v1/namespaces/_/rules/r", "", 200, []string{"trigger guest/tick", "rule guest/r"}},
		{"delete missing action", "DELETE", "/api/v1/namespaces/_/actions/nope", "", 404, nil},
		{"force-delete package with its action", "DELETE", "/api/v1/namespaces/_/packages/pkg?force=true", "", 200, []string{"action guest/pkg/inner", "package guest/pkg"}},
		{"delete action", "DELETE", "/api/v1/namespaces/_/actions/hello", "", 200, []string{"action guest/hello"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.do(tt.method, tt.path, tt.body).wantStatus(tt.status)
			got := log.take()
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("OnEntityWrite calls = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCacheInvalidationBetweenControllers runs two controllers over one
// store: B caches an action when invoking it; an update through A reaches
// B's invokes only when A's OnEntityWrite makes B invalidate the entry.
func TestCacheInvalidationBetweenControllers(t *testing.T) {
	var fa, fb fakeActivator
	var forward atomic.Bool
	var peer atomic.Pointer[Server]
	a := newTestServer(t, withFake(&fa), func(c *Config) {
		c.OnEntityWrite = func(_ entity.Kind, n entity.FQN) {
			if p := peer.Load(); p != nil && forward.Load() {
				p.InvalidateDocID(n.DocID())
			}
		}
	})
	cfg := a.Config
	cfg.OnEntityWrite = nil
	fb.store = cfg.Activations
	cfg.Activator = &fb
	srvB, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	peer.Store(srvB)
	hs := httptest.NewServer(srvB.Handler())
	t.Cleanup(hs.Close)
	b := &testServer{t: t, URL: hs.URL, Server: srvB, Config: cfg}

	put := func(code string) {
		t.Helper()
		a.do("PUT", "/api/v1/namespaces/_/actions/ok-cached?overwrite=true",
			`{"exec":{"kind":"nodejs:20","code":"`+code+`"}}`).wantStatus(200)
	}
	invokedCode := func() string {
		t.Helper()
		b.do("POST", "/api/v1/namespaces/_/actions/ok-cached?blocking=true", `{}`).wantStatus(200)
		return fb.last(t).Action.Exec.Code
	}
	put("v1")
	if got := invokedCode(); got != "v1" {
		t.Fatalf("B invoked %q, want v1", got)
	}
	// Without the invalidation B keeps running its cached copy (the cache
	// is what the invalidation is for).
	put("v2")
	if got := invokedCode(); got != "v1" {
		t.Fatalf("without invalidation B invoked %q, want its cached v1", got)
	}
	forward.Store(true)
	put("v3")
	if got := invokedCode(); got != "v3" {
		t.Fatalf("after A's invalidation B invoked %q, want v3", got)
	}
}

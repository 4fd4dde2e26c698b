package controller

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

func TestInfoRoutes(t *testing.T) {
	ts := newTestServer(t)

	t.Run("ping", func(t *testing.T) {
		r := ts.do("GET", "/ping", "", noAuth).wantStatus(200)
		if string(r.Body) != "pong" {
			t.Fatalf("body %q", r.Body)
		}
	})
	t.Run("controller info", func(t *testing.T) {
		m := ts.do("GET", "/", "", noAuth).wantStatus(200).Obj()
		if m["description"] != "OpenWhisk" {
			t.Errorf("description %v", m["description"])
		}
		limits := m["limits"].(map[string]any)
		want := map[string]float64{
			"actions_per_minute": 60, "triggers_per_minute": 60, "concurrent_actions": 30, "sequence_length": 50,
			"min_action_duration": 100, "max_action_duration": 300000,
			"min_action_memory": 128 << 20, "max_action_memory": 512 << 20,
			"min_action_logs": 0, "max_action_logs": 10 << 20,
			"default_max_action_memory": 512 << 20,
		}
		for k, v := range want {
			if limits[k] != v {
				t.Errorf("limits.%s = %v, want %v", k, limits[k], v)
			}
		}
		rt := m["runtimes"].(map[string]any)
		node, ok := rt["nodejs"].([]any)
		if !ok || len(node) == 0 {
			t.Fatalf("runtimes.nodejs missing: %v", rt)
		}
		k := node[0].(map[string]any)
		if k["kind"] != "nodejs:20" || k["image"] != "openwhisk/action-nodejs-v20:nightly" || k["default"] != true || k["attached"] != true {
			t.Errorf("nodejs entry %v", k)
		}
		if _, ok := m["support"].(map[string]any)["github"]; !ok {
			t.Errorf("support.github missing")
		}
	})
	t.Run("api info", func(t *testing.T) {
		m := ts.do("GET", "/api/v1", "", noAuth).wantStatus(200).Obj()
		if m["build"] != "2026-01-01T00:00:00Z" || m["buildno"] != "test-build" || m["api_version"] != "1.0.0" || m["api_version_path"] != "v1" {
			t.Errorf("api info %v", m)
		}
	})
	t.Run("namespaces", func(t *testing.T) {
		for _, tc := range []struct{ auth, want string }{{guestAuth, "guest"}, {aliceAuth, "alice"}} {
			a := ts.do("GET", "/api/v1/namespaces", "", tc.auth).wantStatus(200).Arr()
			if len(a) != 1 || a[0] != tc.want {
				t.Errorf("%s: %v", tc.want, a)
			}
		}
		ts.do("GET", "/api/v1/namespaces/", "").wantStatus(200)
	})
}

func TestHeaders(t *testing.T) {
	ts := newTestServer(t)
	t.Run("cors on api", func(t *testing.T) {
		r := ts.do("GET", "/api/v1", "", noAuth)
		if r.Header.Get("Access-Control-Allow-Origin") != "*" ||
			r.Header.Get("Access-Control-Allow-Methods") != "GET, DELETE, POST, PUT, HEAD" ||
			r.Header.Get("Access-Control-Allow-Headers") != "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent" {
			t.Errorf("cors headers %v", r.Header)
		}
	})
	t.Run("options without auth", func(t *testing.T) {
		for _, p := range []string{"/api/v1", "/api/v1/namespaces/_/actions/x", "/api/v1/namespaces/guest/whatever/deep"} {
			r := ts.do("OPTIONS", p, "", noAuth)
			if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("OPTIONS %s: %d %v", p, r.Status, r.Header)
			}
		}
	})
	t.Run("request id echoed", func(t *testing.T) {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/namespaces/_/actions/nope", nil)
		req.Header.Set("X-Request-ID", "my-tid-123")
		req.SetBasicAuth("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
		r := ts.request(req).wantStatus(404)
		if r.Header.Get("X-Request-ID") != "my-tid-123" || r.Obj()["code"] != "my-tid-123" {
			t.Errorf("tid not echoed: %v %s", r.Header, r.Body)
		}
	})
	t.Run("sid_ request id replaced", func(t *testing.T) {
		req, _ := http.NewRequest("GET", ts.URL+"/ping", nil)
		req.Header.Set("X-Request-ID", "sid_abc")
		r := ts.request(req)
		tid := r.Header.Get("X-Request-ID")
		if len(tid) != 32 || strings.HasPrefix(tid, "sid_") {
			t.Errorf("tid %q", tid)
		}
	})
	t.Run("generated request id", func(t *testing.T) {
		r := ts.do("GET", "/api/v1/namespaces/_/actions/nope", "")
		tid := r.Header.Get("X-Request-ID")
		if len(tid) != 32 || r.Obj()["code"] != tid {
			t.Errorf("tid %q body %s", tid, r.Body)
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name, method, path string
		status             int
		msg                string
	}{
		{"unknown path", "GET", "/api/v1/nope", 404, "The requested resource does not exist."},
		{"unknown root path", "GET", "/whatever", 404, "The requested resource does not exist."},
		{"method not allowed on actions", "PATCH", "/api/v1/namespaces/_/actions/a", 405, ""},
		{"post on packages", "POST", "/api/v1/namespaces/_/packages/p", 405, ""},
		{"too many action segments", "GET", "/api/v1/namespaces/_/actions/a/b/c", 404, "The requested resource does not exist."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(tc.method, tc.path, "").wantStatus(tc.status)
			m := r.Obj()
			if tc.msg != "" && m["error"] != tc.msg {
				t.Errorf("error %v", m["error"])
			}
			if m["code"] == "" || m["code"] == nil {
				t.Errorf("no code: %s", r.Body)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	ts := newTestServer(t)
	wrongKey := strings.Repeat("x", 64)
	cases := []struct {
		name   string
		header string // Authorization header value; "" = none
		status int
	}{
		{"no credentials", "", 401},
		{"not basic", "Bearer abc", 401},
		{"bad base64", "Basic !!!notbase64", 401},
		{"no colon", "Basic " + b64("justauser"), 401},
		{"short key", "Basic " + b64("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:short"), 401},
		{"wrong key", "Basic " + b64("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"+wrongKey), 401},
		{"unknown uuid", "Basic " + b64("00000000-0000-4000-8000-000000000000:"+wrongKey), 401},
		{"empty", "Basic ", 401},
		{"guest", "Basic " + b64(guestAuth), 200},
		{"lower-case scheme", "basic " + b64(guestAuth), 200},
		{"alice", "Basic " + b64(aliceAuth), 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second request goes through the identity cache
				req, _ := http.NewRequest("GET", ts.URL+"/api/v1/namespaces/_/actions", nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				r := ts.request(req).wantStatus(tc.status)
				if tc.status == 401 {
					if r.Header.Get("WWW-Authenticate") != `Basic realm="OpenWhisk secure realm"` {
						t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
					}
					if r.ErrMsg() == "" {
						t.Errorf("no error message: %s", r.Body)
					}
				}
			}
		})
	}
}

func TestForeignNamespaceForbidden(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", "/api/v1/namespaces/_/actions/a", `{"exec":{"kind":"nodejs:20","code":"x"}}`, aliceAuth).wantStatus(200)
	cases := []struct{ name, method, path, body string }{
		{"list actions", "GET", "/api/v1/namespaces/alice/actions", ""},
		{"get action", "GET", "/api/v1/namespaces/alice/actions/a", ""},
		{"put action", "PUT", "/api/v1/namespaces/alice/actions/b", `{"exec":{"kind":"nodejs:20","code":"x"}}`},
		{"delete action", "DELETE", "/api/v1/namespaces/alice/actions/a", ""},
		{"put package", "PUT", "/api/v1/namespaces/alice/packages/p", `{}`},
		{"delete package", "DELETE", "/api/v1/namespaces/alice/packages/p", ""},
		{"get missing foreign package", "GET", "/api/v1/namespaces/alice/packages/nope", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(tc.method, tc.path, tc.body).wantStatus(403)
			if r.ErrMsg() != "The supplied authentication is not authorized to access this resource." {
				t.Errorf("error %q", r.ErrMsg())
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestNewRequiresStores(t *testing.T) {
	full := newTestServer(t).Config
	cases := []struct {
		name   string
		change func(*Config)
	}{
		{"no entities", func(c *Config) { c.Entities = nil }},
		{"no activations", func(c *Config) { c.Activations = nil }},
		{"no subjects", func(c *Config) { c.Subjects = nil }},
		{"no manifest", func(c *Config) { c.Manifest = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := full
			tc.change(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted an incomplete config")
			}
		})
	}
	t.Run("zero limits default", func(t *testing.T) {
		cfg := full
		cfg.Limits = entity.SystemLimits{}
		s, err := New(cfg)
		if err != nil || s.cfg.Limits != entity.DefaultSystemLimits() {
			t.Fatalf("limits %+v, %v", s.cfg.Limits, err)
		}
	})
}

func TestRequestLogging(t *testing.T) {
	var buf gowhisktest.SyncBuffer
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/namespaces/_/actions/nope", nil)
	req.Header.Set("X-Request-ID", "tid-for-log")
	req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
	ts.request(req).wantStatus(404)
	out := buf.String()
	if !strings.Contains(out, "tid=tid-for-log") || !strings.Contains(out, "status=404") || !strings.Contains(out, "level=DEBUG") {
		t.Fatalf("log %q", out)
	}
}

package controller

import (
	"fmt"
	"strings"
	"testing"
)

const packagesPath = "/api/v1/namespaces/_/packages/"

func TestPackageCreateUpdate(t *testing.T) {
	ts := newTestServer(t)
	m := ts.do("PUT", packagesPath+"pkg", `{"parameters":[{"key":"a","value":1}],"annotations":[{"key":"binding","value":"fake"},{"key":"k","value":"v"}],"publish":true}`).wantStatus(200).Obj()
	for k, v := range map[string]any{"namespace": "guest", "name": "pkg", "version": "0.0.1", "publish": true} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if b, ok := m["binding"].(map[string]any); !ok || len(b) != 0 {
		t.Errorf("binding %v, want {}", m["binding"])
	}
	if _, ok := annotation(m["annotations"], "binding"); ok {
		t.Errorf("user binding annotation kept on a package: %v", m["annotations"])
	}
	if _, ok := m["actions"]; ok {
		t.Errorf("PUT response lists actions")
	}

	t.Run("exists without overwrite", func(t *testing.T) {
		checkErrMsg(t, ts.do("PUT", packagesPath+"pkg", `{}`).wantStatus(409), "resource already exists")
	})
	t.Run("update replaces annotations and bumps version", func(t *testing.T) {
		m := ts.do("PUT", packagesPath+"pkg?overwrite=true", `{"annotations":[{"key":"n","value":2}]}`).wantStatus(200).Obj()
		if m["version"] != "0.0.2" || m["publish"] != true {
			t.Errorf("version %v publish %v", m["version"], m["publish"])
		}
		if _, ok := annotation(m["annotations"], "k"); ok {
			t.Errorf("annotations not replaced: %v", m["annotations"])
		}
		if v, _ := annotation(m["parameters"], "a"); v != 1.0 {
			t.Errorf("parameters lost: %v", m["parameters"])
		}
	})
	t.Run("empty body creates", func(t *testing.T) {
		ts.do("PUT", packagesPath+"empty", "").wantStatus(200)
	})
	t.Run("binding", func(t *testing.T) {
		m := ts.do("PUT", packagesPath+"bnd", `{"binding":{"namespace":"_","name":"pkg"},"parameters":[{"key":"b","value":2}]}`).wantStatus(200).Obj()
		b, _ := m["binding"].(map[string]any)
		if b["namespace"] != "guest" || b["name"] != "pkg" {
			t.Errorf("binding %v", m["binding"])
		}
		v, ok := annotation(m["annotations"], "binding")
		if bv, _ := v.(map[string]any); !ok || bv["namespace"] != "guest" || bv["name"] != "pkg" {
			t.Errorf("binding annotation %v", m["annotations"])
		}
		// Updating a binding without a binding field keeps it a binding.
		m = ts.do("PUT", packagesPath+"bnd?overwrite=true", `{"parameters":[{"key":"c","value":3}]}`).wantStatus(200).Obj()
		if b, _ := m["binding"].(map[string]any); b["name"] != "pkg" {
			t.Errorf("binding lost on update: %v", m["binding"])
		}
		if _, ok := annotation(m["annotations"], "binding"); !ok {
			t.Errorf("binding annotation lost on update: %v", m["annotations"])
		}
	})
	t.Run("binding to foreign published package", func(t *testing.T) {
		ts.do("PUT", packagesPath+"alicebnd", `{"binding":{"namespace":"guest","name":"pkg"}}`, aliceAuth).wantStatus(200)
	})
}

func TestPackagePutErrors(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", packagesPath+"pkg", `{}`).wantStatus(200)
	ts.do("PUT", packagesPath+"bnd", `{"binding":{"namespace":"guest","name":"pkg"}}`).wantStatus(200)
	ts.do("PUT", packagesPath+"private", `{}`, aliceAuth).wantStatus(200)
	ts.do("PUT", actionsPath+"act", nodeAction("x")).wantStatus(200)
	cases := []struct {
		name, path, body string
		auth             string
		status           int
		msg              string
	}{
		{"reserved name", "default", `{}`, guestAuth, 400, "Package name 'default' is reserved."},
		{"illegal name", "a%24b", `{}`, guestAuth, 400, "The name of the entity contains illegal characters."},
		{"malformed json", "m1", `{"publish":`, guestAuth, 400, "The request content was malformed:..."},
		{"wrong type", "m2", `{"parameters":"x"}`, guestAuth, 400, "The request content was malformed:..."},
		{"binding wrong type", "m3", `{"binding":"guest/pkg"}`, guestAuth, 400, "The request content was malformed:..."},
		{"binding to missing package", "b1", `{"binding":{"namespace":"guest","name":"nope"}}`, guestAuth, 400, "Binding references a package that does not exist."},
		{"binding to binding", "b2", `{"binding":{"namespace":"guest","name":"bnd"}}`, guestAuth, 400, "Cannot bind to another package binding."},
		{"binding to an action", "b3", `{"binding":{"namespace":"guest","name":"act"}}`, guestAuth, 409, "Cannot bind to a resource that is not a package."},
		{"binding to foreign private package", "b4", `{"binding":{"namespace":"alice","name":"private"}}`, guestAuth, 403, ""},
		{"binding illegal name", "b5", `{"binding":{"namespace":"guest","name":"a/b"}}`, guestAuth, 400, ""},
		{"package becomes binding", "pkg?overwrite=true", `{"binding":{"namespace":"guest","name":"pkg"}}`, guestAuth, 409, "Resource is a package and cannot be converted into a binding."},
		{"binding becomes package", "bnd?overwrite=true", `{"binding":{}}`, guestAuth, 409, "Resource is a binding and cannot be converted into a package."},
		{"name holds an action", "act?overwrite=true", `{}`, guestAuth, 409, "Resource by this name exists but is not in this collection."},
		{"parameters too large", "big", `{"parameters":[{"key":"k","value":"` + strings.Repeat("x", 1<<20) + `"}]}`, guestAuth, 413, "parameters larger than allowed:..."},
		{"body too large", "big2", `{"parameters":[{"key":"k","value":"` + strings.Repeat("x", 4<<20) + `"}]}`, guestAuth, 413, "Request larger than allowed:..."},
		{"bad overwrite", "pkg?overwrite=1", `{}`, guestAuth, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("PUT", packagesPath+tc.path, tc.body, tc.auth).wantStatus(tc.status)
			checkErrMsg(t, r, tc.msg)
		})
	}
}

func TestPackageGet(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", packagesPath+"pkg", `{"publish":true,"parameters":[{"key":"x","value":"pkg"},{"key":"y","value":"pkg"}]}`).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/a", nodeAction("a")).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/f", `{"exec":{"kind":"nodejs:20","code":"f"},"annotations":[{"key":"feed","value":true}]}`).wantStatus(200)
	ts.do("PUT", packagesPath+"bnd", `{"binding":{"namespace":"guest","name":"pkg"},"parameters":[{"key":"y","value":"bnd"}]}`).wantStatus(200)
	ts.do("PUT", packagesPath+"private", `{}`).wantStatus(200)
	ts.do("PUT", actionsPath+"act", nodeAction("x")).wantStatus(200)

	briefNames := func(v any) string {
		var out []string
		for _, e := range v.([]any) {
			m := e.(map[string]any)
			if _, ok := m["version"]; !ok {
				t.Errorf("brief lacks version: %v", m)
			}
			out = append(out, fmt.Sprint(m["name"]))
		}
		return strings.Join(out, ",")
	}
	t.Run("package", func(t *testing.T) {
		m := ts.do("GET", packagesPath+"pkg", "").wantStatus(200).Obj()
		if got := briefNames(m["actions"]); got != "a" {
			t.Errorf("actions %s", got)
		}
		if got := briefNames(m["feeds"]); got != "f" {
			t.Errorf("feeds %s", got)
		}
	})
	t.Run("binding merges parameters", func(t *testing.T) {
		m := ts.do("GET", packagesPath+"bnd", "").wantStatus(200).Obj()
		if m["name"] != "bnd" {
			t.Errorf("name %v", m["name"])
		}
		if x, _ := annotation(m["parameters"], "x"); x != "pkg" {
			t.Errorf("x = %v", x)
		}
		if y, _ := annotation(m["parameters"], "y"); y != "bnd" {
			t.Errorf("y = %v", y)
		}
		if got := briefNames(m["actions"]); got != "a" {
			t.Errorf("actions %s", got)
		}
		if b, _ := m["binding"].(map[string]any); b["name"] != "pkg" {
			t.Errorf("binding %v", m["binding"])
		}
	})
	t.Run("empty package lists empty arrays", func(t *testing.T) {
		m := ts.do("GET", packagesPath+"private", "").wantStatus(200).Obj()
		if a, ok := m["actions"].([]any); !ok || len(a) != 0 {
			t.Errorf("actions %v", m["actions"])
		}
		if a, ok := m["feeds"].([]any); !ok || len(a) != 0 {
			t.Errorf("feeds %v", m["feeds"])
		}
	})
	cases := []struct {
		name, path, auth string
		status           int
	}{
		{"foreign published", "/api/v1/namespaces/guest/packages/pkg", aliceAuth, 200},
		{"foreign unpublished", "/api/v1/namespaces/guest/packages/private", aliceAuth, 403},
		{"foreign unpublished binding", "/api/v1/namespaces/guest/packages/bnd", aliceAuth, 403},
		{"missing", packagesPath + "nope", guestAuth, 404},
		{"an action", packagesPath + "act", guestAuth, 409},
		{"illegal name", packagesPath + "a%24b", guestAuth, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", tc.path, "", tc.auth).wantStatus(tc.status)
			if tc.status != 200 {
				checkErrMsg(t, r, "")
			}
		})
	}
}

func TestPackageDelete(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", packagesPath+"pkg", `{}`).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/a", nodeAction("a")).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/b", nodeAction("b")).wantStatus(200)
	ts.do("PUT", packagesPath+"one", `{}`).wantStatus(200)
	ts.do("PUT", actionsPath+"one/a", nodeAction("a")).wantStatus(200)
	ts.do("PUT", packagesPath+"bnd", `{"binding":{"namespace":"guest","name":"pkg"}}`).wantStatus(200)
	ts.do("PUT", actionsPath+"act", nodeAction("x")).wantStatus(200)

	cases := []struct {
		name, path string
		auth       string
		status     int
		msg        string
	}{
		{"not empty", "pkg", guestAuth, 409, "Package not empty (contains 2 entities). Set force param or delete package contents."},
		{"not empty singular", "one", guestAuth, 409, "Package not empty (contains 1 entity). Set force param or delete package contents."},
		{"bad force", "pkg?force=sure", guestAuth, 400, ""},
		{"missing", "nope", guestAuth, 404, "The requested resource does not exist."},
		{"an action", "act", guestAuth, 409, "Resource by this name exists but is not in this collection."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrMsg(t, ts.do("DELETE", packagesPath+tc.path, "", tc.auth).wantStatus(tc.status), tc.msg)
		})
	}
	t.Run("foreign namespace forbidden", func(t *testing.T) {
		ts.do("DELETE", "/api/v1/namespaces/guest/packages/pkg", "", aliceAuth).wantStatus(403)
	})
	t.Run("binding deletes without touching the package", func(t *testing.T) {
		m := ts.do("DELETE", packagesPath+"bnd", "").wantStatus(200).Obj()
		if m["name"] != "bnd" {
			t.Errorf("deleted %v", m)
		}
		ts.do("GET", actionsPath+"pkg/a", "").wantStatus(200)
	})
	t.Run("force deletes contents", func(t *testing.T) {
		m := ts.do("DELETE", packagesPath+"pkg?force=true", "").wantStatus(200).Obj()
		if m["name"] != "pkg" {
			t.Errorf("deleted %v", m)
		}
		ts.do("GET", actionsPath+"pkg/a", "").wantStatus(404)
		ts.do("GET", packagesPath+"pkg", "").wantStatus(404)
		if n := ts.do("GET", "/api/v1/namespaces/_/actions?count=true", "").Obj()["actions"]; n != 2.0 {
			t.Errorf("remaining actions %v, want 2 (one/a and act)", n)
		}
	})
	t.Run("empty package deletes", func(t *testing.T) {
		ts.do("DELETE", actionsPath+"one/a", "").wantStatus(200)
		ts.do("DELETE", packagesPath+"one", "").wantStatus(200)
	})
}

func TestPackageList(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Now = steppingClock() })
	ts.do("PUT", packagesPath+"p1", `{"publish":true}`).wantStatus(200)
	ts.do("PUT", packagesPath+"p2", `{}`).wantStatus(200)
	ts.do("PUT", packagesPath+"p3", `{"publish":true}`).wantStatus(200)
	ts.do("PUT", packagesPath+"b1", `{"binding":{"namespace":"guest","name":"p1"},"publish":true}`).wantStatus(200)

	names := func(r response) string {
		var out []string
		for _, e := range r.Arr() {
			m := e.(map[string]any)
			out = append(out, fmt.Sprint(m["name"]))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name, path, auth string
		status           int
		want             string
	}{
		{"own all newest first", "/api/v1/namespaces/_/packages", guestAuth, 200, "b1,p3,p2,p1"},
		{"own trailing slash", "/api/v1/namespaces/_/packages/", guestAuth, 200, "b1,p3,p2,p1"},
		{"own limit skip", "/api/v1/namespaces/_/packages?limit=2&skip=1", guestAuth, 200, "p3,p2"},
		{"own count", "/api/v1/namespaces/_/packages?count=true", guestAuth, 200, `{"packages":4}`},
		{"foreign published only", "/api/v1/namespaces/guest/packages", aliceAuth, 200, "p3,p1"},
		{"foreign count", "/api/v1/namespaces/guest/packages?count=true", aliceAuth, 200, `{"packages":2}`},
		{"foreign skip", "/api/v1/namespaces/guest/packages?skip=1", aliceAuth, 200, "p1"},
		{"foreign limit", "/api/v1/namespaces/guest/packages?limit=1", aliceAuth, 200, "p3"},
		{"foreign skip past end", "/api/v1/namespaces/guest/packages?skip=5", aliceAuth, 200, ""},
		{"unknown namespace", "/api/v1/namespaces/nobody/packages", aliceAuth, 200, ""},
		{"limit out of range", "/api/v1/namespaces/_/packages?limit=300", guestAuth, 400, "The value '300' is not in the range of 0 to 200 for packages."},
		{"bad skip", "/api/v1/namespaces/_/packages?skip=-2", guestAuth, 400, ""},
		{"bad count", "/api/v1/namespaces/_/packages?count=2", guestAuth, 400, ""},
		{"no auth", "/api/v1/namespaces/_/packages", noAuth, 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", tc.path, "", tc.auth).wantStatus(tc.status)
			switch {
			case tc.status != 200:
				checkErrMsg(t, r, tc.want)
			case strings.HasPrefix(tc.want, "{"):
				if strings.TrimSpace(string(r.Body)) != tc.want {
					t.Errorf("body %s", r.Body)
				}
			default:
				if got := names(r); got != tc.want {
					t.Errorf("got %s, want %s", got, tc.want)
				}
			}
		})
	}
	t.Run("summary binding field", func(t *testing.T) {
		for _, e := range ts.do("GET", "/api/v1/namespaces/_/packages", "").Arr() {
			m := e.(map[string]any)
			switch m["name"] {
			case "b1":
				if b, _ := m["binding"].(map[string]any); b["name"] != "p1" {
					t.Errorf("b1 binding %v", m["binding"])
				}
			default:
				if m["binding"] != false {
					t.Errorf("%v binding %v, want false", m["name"], m["binding"])
				}
			}
		}
	})
}

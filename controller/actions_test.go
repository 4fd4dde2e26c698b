package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

const actionsPath = "/api/v1/namespaces/_/actions/"

// steppingClock returns a clock that advances 1 ms per reading, so that
// entities written one after the other have distinct update times.
func steppingClock() func() time.Time {
	var n atomic.Int64
	base := time.Unix(1_700_000_000, 0)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

func nodeAction(code string) string {
	b, _ := json.Marshal(map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": code}})
	return string(b)
}

// annotation returns the value of key in a decoded annotations array.
func annotation(list any, key string) (any, bool) {
	arr, _ := list.([]any)
	for _, e := range arr {
		m, _ := e.(map[string]any)
		if m["key"] == key {
			return m["value"], true
		}
	}
	return nil, false
}

func TestActionCreate(t *testing.T) {
	ts := newTestServer(t)
	m := ts.do("PUT", actionsPath+"hello", `{"exec":{"kind":"nodejs:default","code":"function main(p){return p}"},"parameters":[{"key":"name","value":"World"}],"name":"ignored","namespace":"ignored"}`).wantStatus(200).Obj()
	checks := map[string]any{"namespace": "guest", "name": "hello", "version": "0.0.1", "publish": false}
	for k, v := range checks {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	exec := m["exec"].(map[string]any)
	if exec["kind"] != "nodejs:20" || exec["binary"] != false || exec["code"] != "function main(p){return p}" {
		t.Errorf("exec %v", exec)
	}
	limits := m["limits"].(map[string]any)
	if limits["timeout"] != 60000.0 || limits["memory"] != 256.0 || limits["logs"] != 10.0 || limits["concurrency"] != 1.0 {
		t.Errorf("limits %v", limits)
	}
	if v, ok := annotation(m["annotations"], "exec"); !ok || v != "nodejs:20" {
		t.Errorf("exec annotation %v", m["annotations"])
	}
	if v, ok := annotation(m["annotations"], "provide-api-key"); !ok || v != false {
		t.Errorf("provide-api-key annotation %v", m["annotations"])
	}
	if p := m["parameters"].([]any); len(p) != 1 {
		t.Errorf("parameters %v", p)
	}
	if _, ok := m["updated"].(float64); !ok {
		t.Errorf("updated %v", m["updated"])
	}

	t.Run("exists without overwrite", func(t *testing.T) {
		r := ts.do("PUT", actionsPath+"hello", nodeAction("x")).wantStatus(409)
		if r.ErrMsg() != "resource already exists" {
			t.Errorf("error %q", r.ErrMsg())
		}
	})
	t.Run("binary code", func(t *testing.T) {
		m := ts.do("PUT", actionsPath+"zip", `{"exec":{"kind":"nodejs:20","code":"UEsDBAoAAAAAAA=="}}`).wantStatus(200).Obj()
		if m["exec"].(map[string]any)["binary"] != true {
			t.Errorf("binary not detected: %v", m["exec"])
		}
	})
	t.Run("blackbox", func(t *testing.T) {
		m := ts.do("PUT", actionsPath+"bb", `{"exec":{"kind":"blackbox","image":"openwhisk/dockerskeleton"}}`).wantStatus(200).Obj()
		if m["exec"].(map[string]any)["image"] != "openwhisk/dockerskeleton" {
			t.Errorf("exec %v", m["exec"])
		}
	})
	t.Run("python alias", func(t *testing.T) {
		m := ts.do("PUT", actionsPath+"py", `{"exec":{"kind":"python:3","code":"def main(a): return a"}}`).wantStatus(200).Obj()
		if k := m["exec"].(map[string]any)["kind"]; k != "python:3.11" {
			t.Errorf("kind %v", k)
		}
	})
}

func TestActionUpdate(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", actionsPath+"a", `{"exec":{"kind":"nodejs:20","code":"1"},"annotations":[{"key":"x","value":1},{"key":"y","value":2}],"parameters":[{"key":"p","value":1}],"limits":{"memory":300}}`).wantStatus(200)
	m := ts.do("PUT", actionsPath+"a?overwrite=true", `{"annotations":[{"key":"z","value":3}],"delAnnotations":["y"],"limits":{"timeout":1000}}`).wantStatus(200).Obj()
	if m["version"] != "0.0.2" {
		t.Errorf("version %v", m["version"])
	}
	ann := m["annotations"]
	for _, k := range []string{"x", "z", "exec", "provide-api-key"} {
		if _, ok := annotation(ann, k); !ok {
			t.Errorf("annotation %s missing: %v", k, ann)
		}
	}
	if _, ok := annotation(ann, "y"); ok {
		t.Errorf("annotation y not deleted: %v", ann)
	}
	limits := m["limits"].(map[string]any)
	if limits["memory"] != 300.0 || limits["timeout"] != 1000.0 {
		t.Errorf("limits %v", limits)
	}
	if m["exec"].(map[string]any)["code"] != "1" {
		t.Errorf("exec changed: %v", m["exec"])
	}
	if p := m["parameters"].([]any); len(p) != 1 {
		t.Errorf("parameters %v", p)
	}
	m = ts.do("PUT", actionsPath+"a?overwrite=true", `{"exec":{"kind":"python:3.11","code":"2"}}`).wantStatus(200).Obj()
	if v, _ := annotation(m["annotations"], "exec"); v != "python:3.11" || m["version"] != "0.0.3" {
		t.Errorf("exec annotation %v version %v", v, m["version"])
	}
	ts.do("PUT", actionsPath+"a?overwrite=maybe", `{}`).wantStatus(400)
}

func TestActionPutErrors(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Limits.ExecSizeMax = 1000
		c.Limits.ParameterSizeMax = 1000
	})
	ts.do("PUT", "/api/v1/namespaces/_/packages/pkg", `{}`).wantStatus(200)
	ts.do("PUT", "/api/v1/namespaces/_/packages/bnd", `{"binding":{"namespace":"_","name":"pkg"}}`).wantStatus(200)
	big := strings.Repeat("x", 1500)
	cases := []struct {
		name, path, body string
		status           int
		msg              string // exact error, or prefix ending in "..."
	}{
		{"malformed json", "m1", `{"exec":`, 400, "The request content was malformed:..."},
		{"not an object", "m2", `[1]`, 400, "The request content was malformed:..."},
		{"exec not an object", "m3", `{"exec":"code"}`, 400, "The request content was malformed:..."},
		{"parameters not an array", "m4", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":{"a":1}}`, 400, "The request content was malformed:..."},
		{"memory not a number", "m5", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":"big"}}`, 400, "The request content was malformed:..."},
		{"publish not bool", "m6", `{"exec":{"kind":"nodejs:20","code":"x"},"publish":"yes"}`, 400, "The request content was malformed:..."},
		{"version malformed", "m7", `{"exec":{"kind":"nodejs:20","code":"x"},"version":"abc"}`, 400, ""},
		{"parameter without key", "m8", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"value":1}]}`, 400, ""},
		{"no exec", "m9", `{}`, 400, ""},
		{"empty body", "m10", ``, 400, ""},
		{"no kind", "m11", `{"exec":{"code":"x"}}`, 400, ""},
		{"unknown kind", "k1", `{"exec":{"kind":"cobol:1","code":"x"}}`, 400, "The specified runtime 'cobol:1' is not supported by this platform. Valid values are:..."},
		{"no code", "k2", `{"exec":{"kind":"nodejs:20"}}`, 400, ""},
		{"bad blackbox image", "k3", `{"exec":{"kind":"blackbox","image":"bad image!"}}`, 400, ""},
		{"memory too large", "l1", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":1024}}`, 400, "memory 1024 MB exceeds allowed threshold of..."},
		{"timeout too small", "l2", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":1}}`, 400, "duration 1 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency too large", "l3", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":2}}`, 400, "concurrency 2 exceeds allowed threshold of 1"},
		{"illegal name", "-bad", nodeAction("x"), 400, entity.MsgIllegalName},
		{"illegal name chars", "a$b", nodeAction("x"), 400, entity.MsgIllegalName},
		{"illegal package", "p$/a", nodeAction("x"), 400, entity.MsgIllegalName},
		{"package listing path", "pkg/", nodeAction("x"), 400, entity.MsgIllegalName},
		{"missing package", "nopkg/a", nodeAction("x"), 404, "The requested resource does not exist."},
		{"in binding", "bnd/a", nodeAction("x"), 400, "Operation not permitted on package binding."},
		{"code too large", "s1", nodeAction(big), 413, "exec larger than allowed: 1500 > 1000 bytes."},
		{"parameters too large", "s2", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"k","value":"` + big + `"}]}`, 413, "parameters larger than allowed:..."},
		{"annotations too large", "s3", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"k","value":"` + big + `"}]}`, 413, "annotations larger than allowed:..."},
		{"body too large", "s4", `{"exec":{"kind":"nodejs:20","code":"` + strings.Repeat("y", 2<<20) + `"}}`, 413, "Request larger than allowed:..."},
		{"package name is an action path", "pkg", `{"exec":{"kind":"nodejs:20","code":"x"}}`, 409, "Resource by this name exists but is not in this collection."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("PUT", actionsPath+tc.path, tc.body).wantStatus(tc.status)
			checkErrMsg(t, r, tc.msg)
		})
	}
}

// checkErrMsg compares the error message with want: exact, or a prefix if
// want ends in "...", or anything non-empty if want is "".
func checkErrMsg(t *testing.T, r response, want string) {
	t.Helper()
	got := r.ErrMsg()
	switch {
	case got == "":
		t.Errorf("no error message: %s", r.Body)
	case want == "":
	case strings.HasSuffix(want, "..."):
		if !strings.HasPrefix(got, strings.TrimSuffix(want, "...")) {
			t.Errorf("error %q, want prefix %q", got, want)
		}
	case got != want:
		t.Errorf("error %q, want %q", got, want)
	}
	if code, _ := r.Obj()["code"].(string); code == "" {
		t.Errorf("no code in %s", r.Body)
	}
}

func TestActionAllowedKinds(t *testing.T) {
	ts := newTestServer(t)
	if err := ts.Stores.Subjects.PutLimits(context.Background(), aliceNS, entity.UserLimits{AllowedKinds: []string{"python:3.11"}}); err != nil {
		t.Fatal(err)
	}
	r := ts.do("PUT", actionsPath+"a", nodeAction("x"), aliceAuth).wantStatus(403)
	checkErrMsg(t, r, "The supplied authentication is not authorized to access actions of kind 'nodejs:20'.")
	ts.do("PUT", actionsPath+"b", `{"exec":{"kind":"python:3","code":"x"}}`, aliceAuth).wantStatus(200)
	ts.do("PUT", actionsPath+"a", nodeAction("x")).wantStatus(200) // guest has no restriction
}

func TestActionNamespaceLimits(t *testing.T) {
	ts := newTestServer(t)
	maxMem := 1024
	if err := ts.Stores.Subjects.PutLimits(context.Background(), aliceNS, entity.UserLimits{MaxActionMemory: &maxMem}); err != nil {
		t.Fatal(err)
	}
	body := `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":1024}}`
	ts.do("PUT", actionsPath+"big", body, aliceAuth).wantStatus(200)
	ts.do("PUT", actionsPath+"big", body).wantStatus(400)
}

func TestActionSequences(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.SequenceMaxLength = 3 })
	ts.do("PUT", actionsPath+"a", nodeAction("1")).wantStatus(200)
	ts.do("PUT", actionsPath+"b", nodeAction("2")).wantStatus(200)
	ts.do("PUT", "/api/v1/namespaces/_/packages/pkg", `{}`).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/c", nodeAction("3")).wantStatus(200)

	seq := func(comps ...string) string {
		b, _ := json.Marshal(map[string]any{"exec": map[string]any{"kind": "sequence", "components": comps}})
		return string(b)
	}
	m := ts.do("PUT", actionsPath+"s1", seq("/_/a", "/guest/pkg/c")).wantStatus(200).Obj()
	exec := m["exec"].(map[string]any)
	comps, _ := exec["components"].([]any)
	if exec["kind"] != "sequence" || len(comps) != 2 || comps[0] != "/guest/a" || comps[1] != "/guest/pkg/c" {
		t.Errorf("exec %v", exec)
	}
	if v, ok := annotation(m["parameters"], "_actions"); !ok || fmt.Sprint(v) != "[/guest/a /guest/pkg/c]" {
		t.Errorf("_actions parameter %v", m["parameters"])
	}
	if v, _ := annotation(m["annotations"], "exec"); v != "sequence" {
		t.Errorf("exec annotation %v", v)
	}
	ts.do("PUT", actionsPath+"s2", seq("/_/s1", "/_/b")).wantStatus(200)

	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"missing component", "x1", seq("/_/nope"), 400, "Sequence component does not exist."},
		{"component is a package", "x2", seq("/_/pkg"), 400, "Sequence component does not exist."},
		{"self reference", "x3", seq("/_/a", "/_/x3"), 400, "Sequence may not refer to itself."},
		{"cycle through nested sequence", "s1?overwrite=true", seq("/_/s2"), 400, "Sequence may not refer to itself."},
		{"too long", "x4", seq("/_/a", "/_/a", "/_/a", "/_/a"), 400, "Too many actions in the sequence."},
		{"too long nested", "x5", seq("/_/s2", "/_/a"), 400, "Too many actions in the sequence."},
		{"no components", "x6", `{"exec":{"kind":"sequence","components":[]}}`, 400, "No component specified for the sequence."},
		{"malformed component", "x7", seq("a"), 400, ""},
		{"foreign unpublished component", "x8", seq("/alice/a"), 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("PUT", actionsPath+tc.path, tc.body).wantStatus(tc.status)
			checkErrMsg(t, r, tc.msg)
		})
	}
	t.Run("update keeps _actions", func(t *testing.T) {
		m := ts.do("PUT", actionsPath+"s1?overwrite=true", `{"parameters":[{"key":"k","value":1}]}`).wantStatus(200).Obj()
		if _, ok := annotation(m["parameters"], "_actions"); !ok {
			t.Errorf("_actions lost: %v", m["parameters"])
		}
	})
}

func TestActionGetDelete(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", actionsPath+"a", `{"exec":{"kind":"nodejs:20","code":"code!"},"parameters":[{"key":"x","value":"action"}]}`).wantStatus(200)
	ts.do("PUT", "/api/v1/namespaces/_/packages/pkg", `{"parameters":[{"key":"x","value":"pkg"},{"key":"y","value":"pkg"}],"publish":true}`).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/b", `{"exec":{"kind":"nodejs:20","code":"b"},"parameters":[{"key":"x","value":"action"}]}`).wantStatus(200)
	ts.do("PUT", "/api/v1/namespaces/_/packages/bnd", `{"binding":{"namespace":"guest","name":"pkg"},"parameters":[{"key":"y","value":"binding"},{"key":"z","value":"binding"}]}`).wantStatus(200)
	ts.do("PUT", "/api/v1/namespaces/_/packages/priv", `{}`).wantStatus(200)
	ts.do("PUT", actionsPath+"priv/c", nodeAction("c")).wantStatus(200)

	t.Run("get with code", func(t *testing.T) {
		m := ts.do("GET", actionsPath+"a", "").wantStatus(200).Obj()
		if m["exec"].(map[string]any)["code"] != "code!" {
			t.Errorf("exec %v", m["exec"])
		}
	})
	t.Run("get without code", func(t *testing.T) {
		m := ts.do("GET", actionsPath+"a?code=false", "").wantStatus(200).Obj()
		exec := m["exec"].(map[string]any)
		if _, ok := exec["code"]; ok || exec["binary"] != false || exec["kind"] != "nodejs:20" {
			t.Errorf("exec %v", exec)
		}
	})
	t.Run("get bad code value", func(t *testing.T) {
		ts.do("GET", actionsPath+"a?code=nope", "").wantStatus(400)
	})
	t.Run("get packaged merges package params", func(t *testing.T) {
		m := ts.do("GET", actionsPath+"pkg/b", "").wantStatus(200).Obj()
		ps := m["parameters"]
		if x, _ := annotation(ps, "x"); x != "action" {
			t.Errorf("x = %v", x)
		}
		if y, _ := annotation(ps, "y"); y != "pkg" {
			t.Errorf("y = %v", y)
		}
		if m["namespace"] != "guest/pkg" {
			t.Errorf("namespace %v", m["namespace"])
		}
	})
	t.Run("get through binding", func(t *testing.T) {
		m := ts.do("GET", actionsPath+"bnd/b", "").wantStatus(200).Obj()
		ps := m["parameters"]
		for k, want := range map[string]string{"x": "action", "y": "binding", "z": "binding"} {
			if v, _ := annotation(ps, k); v != want {
				t.Errorf("%s = %v, want %v", k, v, want)
			}
		}
		if m["namespace"] != "guest/pkg" {
			t.Errorf("namespace %v", m["namespace"])
		}
	})
	t.Run("foreign published package readable", func(t *testing.T) {
		ts.do("GET", "/api/v1/namespaces/guest/actions/pkg/b", "", aliceAuth).wantStatus(200)
	})
	t.Run("foreign unpublished package forbidden", func(t *testing.T) {
		ts.do("GET", "/api/v1/namespaces/guest/actions/priv/c", "", aliceAuth).wantStatus(403)
	})
	t.Run("foreign default package forbidden", func(t *testing.T) {
		ts.do("GET", "/api/v1/namespaces/guest/actions/a", "", aliceAuth).wantStatus(403)
	})
	t.Run("get missing", func(t *testing.T) {
		checkErrMsg(t, ts.do("GET", actionsPath+"nope", "").wantStatus(404), "The requested resource does not exist.")
	})
	t.Run("get a package name", func(t *testing.T) {
		checkErrMsg(t, ts.do("GET", actionsPath+"pkg", "").wantStatus(409), "Resource by this name exists but is not in this collection.")
	})
	t.Run("get illegal name", func(t *testing.T) {
		checkErrMsg(t, ts.do("GET", actionsPath+"a%24b", "").wantStatus(400), entity.MsgIllegalName)
	})
	t.Run("delete", func(t *testing.T) {
		m := ts.do("DELETE", actionsPath+"a", "").wantStatus(200).Obj()
		if m["name"] != "a" || m["exec"].(map[string]any)["code"] != "code!" {
			t.Errorf("deleted %v", m)
		}
		ts.do("GET", actionsPath+"a", "").wantStatus(404)
		ts.do("DELETE", actionsPath+"a", "").wantStatus(404)
	})
	t.Run("delete a package name", func(t *testing.T) {
		ts.do("DELETE", actionsPath+"pkg", "").wantStatus(409)
	})
	t.Run("delete packaged", func(t *testing.T) {
		ts.do("DELETE", actionsPath+"priv/c", "").wantStatus(200)
		ts.do("GET", actionsPath+"priv/c", "").wantStatus(404)
	})
}

func TestActionThroughUnpublishedBinding(t *testing.T) {
	ts := newTestServer(t)
	ts.do("PUT", packagesPath+"shared", `{"publish":true}`, aliceAuth).wantStatus(200)
	ts.do("PUT", actionsPath+"shared/a", nodeAction("a"), aliceAuth).wantStatus(200)
	ts.do("PUT", packagesPath+"bnd", `{"binding":{"namespace":"alice","name":"shared"}}`).wantStatus(200)
	ts.do("GET", actionsPath+"bnd/a", "").wantStatus(200)
	ts.do("GET", actionsPath+"bnd/", "").wantStatus(200)
	ts.do("PUT", packagesPath+"shared?overwrite=true", `{"publish":false}`, aliceAuth).wantStatus(200)
	ts.do("GET", actionsPath+"bnd/a", "").wantStatus(403)
	ts.do("GET", actionsPath+"bnd/", "").wantStatus(403)
	ts.do("GET", packagesPath+"bnd", "").wantStatus(403)
	ts.do("GET", actionsPath+"shared/a", "", aliceAuth).wantStatus(200)
}

func TestActionList(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Now = steppingClock() })
	for _, n := range []string{"a1", "a2", "a3"} {
		ts.do("PUT", actionsPath+n, nodeAction(n)).wantStatus(200)
	}
	ts.do("PUT", "/api/v1/namespaces/_/packages/pkg", `{"publish":true}`).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/p1", nodeAction("p")).wantStatus(200)
	ts.do("PUT", "/api/v1/namespaces/_/packages/bnd", `{"binding":{"namespace":"guest","name":"pkg"}}`).wantStatus(200)
	ts.do("PUT", actionsPath+"a1?overwrite=true", `{}`).wantStatus(200) // a1 is now the newest

	names := func(r response) []string {
		var out []string
		for _, e := range r.Arr() {
			m := e.(map[string]any)
			out = append(out, fmt.Sprint(m["namespace"], "/", m["name"]))
		}
		return out
	}
	cases := []struct {
		name, path string
		auth       string
		status     int
		want       string // names joined by ",", or the JSON body for counts
	}{
		{"all newest first", "/api/v1/namespaces/_/actions", guestAuth, 200, "guest/a1,guest/pkg/p1,guest/a3,guest/a2"},
		{"explicit namespace", "/api/v1/namespaces/guest/actions", guestAuth, 200, "guest/a1,guest/pkg/p1,guest/a3,guest/a2"},
		{"trailing slash", "/api/v1/namespaces/_/actions/", guestAuth, 200, "guest/a1,guest/pkg/p1,guest/a3,guest/a2"},
		{"limit", "/api/v1/namespaces/_/actions?limit=2", guestAuth, 200, "guest/a1,guest/pkg/p1"},
		{"skip", "/api/v1/namespaces/_/actions?skip=3", guestAuth, 200, "guest/a2"},
		{"skip past end", "/api/v1/namespaces/_/actions?skip=10", guestAuth, 200, ""},
		{"count", "/api/v1/namespaces/_/actions?count=true", guestAuth, 200, `{"actions":4}`},
		{"package listing", "/api/v1/namespaces/_/actions/pkg/", guestAuth, 200, "guest/pkg/p1"},
		{"package listing count", "/api/v1/namespaces/_/actions/pkg/?count=true", guestAuth, 200, `{"actions":1}`},
		{"binding listing", "/api/v1/namespaces/_/actions/bnd/", guestAuth, 200, "guest/pkg/p1"},
		{"foreign published package listing", "/api/v1/namespaces/guest/actions/pkg/", aliceAuth, 200, "guest/pkg/p1"},
		{"foreign namespace listing", "/api/v1/namespaces/guest/actions", aliceAuth, 403, ""},
		{"missing package listing", "/api/v1/namespaces/_/actions/nope/", guestAuth, 404, ""},
		{"limit out of range", "/api/v1/namespaces/_/actions?limit=201", guestAuth, 400, ""},
		{"limit not a number", "/api/v1/namespaces/_/actions?limit=ten", guestAuth, 400, ""},
		{"skip negative", "/api/v1/namespaces/_/actions?skip=-1", guestAuth, 400, ""},
		{"count not a bool", "/api/v1/namespaces/_/actions?count=1", guestAuth, 400, ""},
		{"other namespace empty", "/api/v1/namespaces/_/actions", aliceAuth, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", tc.path, "", tc.auth).wantStatus(tc.status)
			switch {
			case tc.status != 200:
				checkErrMsg(t, r, "")
			case strings.HasPrefix(tc.want, "{"):
				if strings.TrimSpace(string(r.Body)) != tc.want {
					t.Errorf("body %s, want %s", r.Body, tc.want)
				}
			default:
				if got := strings.Join(names(r), ","); got != tc.want {
					t.Errorf("got %s, want %s", got, tc.want)
				}
			}
		})
	}
	t.Run("summary shape", func(t *testing.T) {
		m := ts.do("GET", "/api/v1/namespaces/_/actions?limit=1", "").wantStatus(200).Arr()[0].(map[string]any)
		for _, k := range []string{"namespace", "name", "version", "publish", "annotations", "limits", "exec", "updated"} {
			if _, ok := m[k]; !ok {
				t.Errorf("summary lacks %s: %v", k, m)
			}
		}
		if _, ok := m["exec"].(map[string]any)["code"]; ok {
			t.Errorf("summary has code")
		}
	})
}

func TestActionCacheInvalidation(t *testing.T) {
	ts := newTestServer(t)
	name := entity.NewFQN("guest", "", "a")
	ctx := context.Background()
	ts.do("PUT", actionsPath+"a", nodeAction("v1")).wantStatus(200)
	a, err := ts.Server.getAction(ctx, name)
	if err != nil || a.Exec.Code != "v1" {
		t.Fatalf("getAction: %v %v", a, err)
	}
	ts.do("PUT", actionsPath+"a?overwrite=true", nodeAction("v2")).wantStatus(200)
	a, err = ts.Server.getAction(ctx, name)
	if err != nil || a.Exec.Code != "v2" {
		t.Fatalf("after update: %+v %v", a, err)
	}
	ts.do("DELETE", actionsPath+"a", "").wantStatus(200)
	if _, err := ts.Server.getAction(ctx, name); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	ts.do("PUT", actionsPath+"a", nodeAction("v3")).wantStatus(200)
	if a, err := ts.Server.getAction(ctx, name); err != nil || a.Exec.Code != "v3" {
		t.Fatalf("after re-create: %v", err)
	}
	// Package deletion with force invalidates the package's actions.
	ts.do("PUT", "/api/v1/namespaces/_/packages/pkg", `{}`).wantStatus(200)
	ts.do("PUT", actionsPath+"pkg/b", nodeAction("b")).wantStatus(200)
	pb := entity.NewFQN("guest", "pkg", "b")
	if _, err := ts.Server.getAction(ctx, pb); err != nil {
		t.Fatal(err)
	}
	ts.do("DELETE", "/api/v1/namespaces/_/packages/pkg?force=true", "").wantStatus(200)
	if _, err := ts.Server.getAction(ctx, pb); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("after force delete: %v", err)
	}
}

func FuzzActionPUT(f *testing.F) {
	seeds := []string{
		nodeAction("function main(){}"),
		`{"exec":{"kind":"sequence","components":["/_/a","/guest/pkg/b"]}}`,
		`{"exec":{"kind":"blackbox","image":"openwhisk/dockerskeleton","code":"UEsDBA=="}}`,
		`{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":-1,"timeout":1e99}}`,
		`{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"a","value":{"b":[1,2,null]}}],"annotations":null}`,
		`{"version":"1.2.3","publish":true,"delAnnotations":["x"]}`,
		`{"exec":{"kind":"sequence","components":["","//","/a/b/c/d"]}}`,
		`{"exec":null}`, `null`, `[]`, `"x"`, `{`, ``, "\x00",
	}
	for _, s := range seeds {
		f.Add("a", s)
		f.Add("pkg/a", s)
	}
	ts := newTestServer(f)
	ts.do("PUT", "/api/v1/namespaces/_/packages/pkg", `{}`).wantStatus(200)
	client := &http.Client{Timeout: 20 * time.Second}
	f.Fuzz(func(t *testing.T, name, body string) {
		u, err := url.Parse(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.Path, u.RawQuery = actionsPath+name, "overwrite=true"
		req, err := http.NewRequest("PUT", u.String(), strings.NewReader(body))
		if err != nil {
			t.Fatalf("request for %q: %v", name, err)
		}
		req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("PUT %q %q: %v", name, body, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("PUT %q %q: status %d: %s", name, body, res.StatusCode, b)
		}
		var e struct {
			Error string `json:"error"`
		}
		if res.StatusCode != 200 && (json.Unmarshal(b, &e) != nil || e.Error == "") {
			t.Fatalf("PUT %q %q: status %d without an error body: %s", name, body, res.StatusCode, b)
		}
	})
}

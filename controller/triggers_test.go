package controller

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

const triggersPath = "/api/v1/namespaces/_/triggers/"

// waitActivation polls the activation store for the record of id in ns
// (the trigger activation is stored after the fire response was sent).
func waitActivation(t *testing.T, ts *testServer, ns, id string) *entity.Activation {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := ts.Stores.Activations.Get(context.Background(), ns, id)
		if err == nil {
			return a
		}
		if !errors.Is(err, entity.ErrNotFound) {
			t.Fatalf("Get activation: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("activation %s/%s was never stored", ns, id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTriggerCRUD(t *testing.T) {
	ts := newTestServer(t)
	steps := []struct {
		name, method, path, body string
		auth                     string
		status                   int
		errContains              string
		check                    func(t *testing.T, r response)
	}{
		{name: "create", method: "PUT", path: "t1", body: `{"parameters":[{"key":"p","value":1}],"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]}`, status: 200,
			check: func(t *testing.T, r response) {
				m := r.Obj()
				equalJSON(t, "trigger", map[string]any{"namespace": m["namespace"], "name": m["name"], "version": m["version"], "publish": m["publish"],
					"parameters": m["parameters"], "annotations": m["annotations"], "limits": m["limits"]},
					`{"namespace":"guest","name":"t1","version":"0.0.1","publish":false,"parameters":[{"key":"p","value":1}],
					"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}],"limits":{}}`)
				if _, ok := m["updated"].(float64); !ok {
					t.Errorf("updated missing: %s", r.Body)
				}
			}},
		{name: "create again without overwrite", method: "PUT", path: "t1", body: `{}`, status: 409, errContains: "resource already exists"},
		{name: "overwrite replaces annotations and bumps version", method: "PUT", path: "t1?overwrite=true", body: `{"annotations":[{"key":"x","value":"y"}]}`, status: 200,
			check: func(t *testing.T, r response) {
				m := r.Obj()
				equalJSON(t, "annotations", m["annotations"], `[{"key":"x","value":"y"}]`)
				equalJSON(t, "parameters kept", m["parameters"], `[{"key":"p","value":1}]`)
				equalJSON(t, "version", m["version"], `"0.0.2"`)
			}},
		{name: "get", method: "GET", path: "t1", status: 200,
			check: func(t *testing.T, r response) { equalJSON(t, "version", r.Obj()["version"], `"0.0.2"`) }},
		{name: "invalid feed on create", method: "PUT", path: "t2", body: `{"annotations":[{"key":"feed","value":"a/b/c/d"}]}`, status: 400, errContains: "Feed name is not valid"},
		{name: "non-string feed", method: "PUT", path: "t2", body: `{"annotations":[{"key":"feed","value":7}]}`, status: 400, errContains: "Feed name is not valid"},
		{name: "invalid feed on update", method: "PUT", path: "t1?overwrite=true", body: `{"annotations":[{"key":"feed","value":""}]}`, status: 400, errContains: "Feed name is not valid"},
		{name: "create without body", method: "PUT", path: "t2", status: 200,
			check: func(t *testing.T, r response) { equalJSON(t, "parameters", r.Obj()["parameters"], `[]`) }},
		{name: "list", method: "GET", path: "", status: 200,
			check: func(t *testing.T, r response) {
				a := r.Arr()
				if len(a) != 2 || a[0].(map[string]any)["name"] != "t2" {
					t.Errorf("list %s", r.Body)
				}
				if _, ok := a[0].(map[string]any)["parameters"]; ok {
					t.Errorf("summary has parameters: %s", r.Body)
				}
			}},
		{name: "list without slash", method: "GET", path: "/api/v1/namespaces/_/triggers?limit=1&skip=1", status: 200,
			check: func(t *testing.T, r response) {
				if a := r.Arr(); len(a) != 1 || a[0].(map[string]any)["name"] != "t1" {
					t.Errorf("list %s", r.Body)
				}
			}},
		{name: "count", method: "GET", path: "?count=true", status: 200,
			check: func(t *testing.T, r response) { equalJSON(t, "count", r.JSON, `{"triggers":2}`) }},
		{name: "bad limit", method: "GET", path: "?limit=201", status: 400, errContains: "The value '201' is not in the range of 0 to 200 for triggers."},
		{name: "bad overwrite", method: "PUT", path: "t3?overwrite=maybe", body: `{}`, status: 400, errContains: "overwrite"},
		{name: "malformed body", method: "PUT", path: "t3", body: `{"parameters":{}}`, status: 400, errContains: "malformed"},
		{name: "illegal name", method: "PUT", path: "%20bad", body: `{}`, status: 400, errContains: entity.MsgIllegalName},
		{name: "foreign namespace get", method: "GET", path: "/api/v1/namespaces/alice/triggers/t1", status: 403},
		{name: "foreign namespace put", method: "PUT", path: "/api/v1/namespaces/alice/triggers/t9", body: `{}`, status: 403},
		{name: "foreign namespace list", method: "GET", path: "/api/v1/namespaces/alice/triggers", status: 403},
		{name: "other user sees own namespace only", method: "GET", path: "/api/v1/namespaces/_/triggers", auth: aliceAuth, status: 200,
			check: func(t *testing.T, r response) {
				if len(r.Arr()) != 0 {
					t.Errorf("alice sees %s", r.Body)
				}
			}},
		{name: "delete", method: "DELETE", path: "t2", status: 200,
			check: func(t *testing.T, r response) { equalJSON(t, "name", r.Obj()["name"], `"t2"`) }},
		{name: "get deleted", method: "GET", path: "t2", status: 404},
		{name: "delete missing", method: "DELETE", path: "t2", status: 404},
		{name: "name held by an action", method: "GET", path: "act", status: 409},
	}
	putTestAction(t, ts, "_", "act", "", "")
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			path := st.path
			if !strings.HasPrefix(path, "/") {
				path = triggersPath + path
				if strings.HasPrefix(st.path, "?") || st.path == "" {
					path = strings.TrimSuffix(triggersPath, "/") + st.path
					if st.path == "" {
						path = triggersPath
					}
				}
			}
			auth := guestAuth
			if st.auth != "" {
				auth = st.auth
			}
			r := ts.do(st.method, path, st.body, auth).wantStatus(st.status)
			if st.errContains != "" && !strings.Contains(r.ErrMsg(), st.errContains) {
				t.Errorf("error %q, want it to contain %q", r.ErrMsg(), st.errContains)
			}
			if st.check != nil {
				st.check(t, r)
			}
		})
	}
}

func TestTriggerKeepsRulesOnUpdate(t *testing.T) {
	ts := newTestServer(t)
	putTestAction(t, ts, "_", "a", "", "")
	putOK(t, ts, triggersPath+"t", `{}`)
	putOK(t, ts, "/api/v1/namespaces/_/rules/r", `{"trigger":"t","action":"a"}`)
	m := putOK(t, ts, triggersPath+"t?overwrite=true", `{"parameters":[{"key":"k","value":"v"}]}`)
	equalJSON(t, "rules", m["rules"], `{"guest/r":{"action":{"path":"guest","name":"a"},"status":"active"}}`)
}

func TestTriggerFire(t *testing.T) {
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake))
	putTestAction(t, ts, "_", "ok-1", `[{"key":"a","value":"action"}]`, "")
	putTestAction(t, ts, "_", "unavail-1", "", "")
	putTestAction(t, ts, "_", "ok-gone", "", "")
	putTestAction(t, ts, "_", "ok-off", "", "")
	putOK(t, ts, triggersPath+"t", `{"parameters":[{"key":"tp","value":1},{"key":"x","value":"trigger"}]}`)
	putOK(t, ts, triggersPath+"quiet", `{}`)
	for _, r := range []struct{ name, action string }{{"r1", "ok-1"}, {"r2", "unavail-1"}, {"r3", "ok-gone"}, {"r4", "ok-off"}} {
		putOK(t, ts, "/api/v1/namespaces/_/rules/"+r.name, `{"trigger":"t","action":"`+r.action+`"}`)
	}
	putOK(t, ts, "/api/v1/namespaces/_/rules/rq", `{"trigger":"quiet","action":"ok-1"}`)
	ts.do("POST", "/api/v1/namespaces/_/rules/rq", `{"status":"inactive"}`).wantStatus(200)
	ts.do("POST", "/api/v1/namespaces/_/rules/r4", `{"status":"inactive"}`).wantStatus(200)
	ts.do("DELETE", "/api/v1/namespaces/_/actions/ok-gone", "").wantStatus(200)

	t.Run("no active rules gives 204 and no record", func(t *testing.T) {
		r := ts.do("POST", triggersPath+"quiet", `{"x":1}`).wantStatus(http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("body %q", r.Body)
		}
		n, err := ts.Stores.Activations.Count(context.Background(), "guest", entity.ActivationQuery{})
		if err != nil || n != 0 {
			t.Errorf("activations %d, %v", n, err)
		}
		if len(fake.requests()) != 0 {
			t.Error("activator called")
		}
	})

	t.Run("fires active rules", func(t *testing.T) {
		req, _ := http.NewRequest("POST", ts.URL+triggersPath+"t", strings.NewReader(`{"x":"payload","y":[1]}`))
		req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
		req.Header.Set("X-Custom-Thing", "v1")
		req.Header.Set("X-Request-ID", "fire-tid")
		r := ts.request(req).wantStatus(http.StatusAccepted)
		id, _ := r.Obj()["activationId"].(string)
		if !entity.ValidActivationID(id) || r.Header.Get(headerActivationID) != id {
			t.Fatalf("body %s header %q", r.Body, r.Header.Get(headerActivationID))
		}
		rec := waitActivation(t, ts, "guest", id)

		reqs := fake.requests()
		if len(reqs) != 2 {
			t.Fatalf("activator got %d requests, want 2 (r1 and r2)", len(reqs))
		}
		var okReq ActivationRequest
		for _, q := range reqs {
			if q.Blocking {
				t.Errorf("rule invocation of %s is blocking", q.Action.Name)
			}
			if q.Identity.Namespace.Name != "guest" || q.TransactionID != "fire-tid" {
				t.Errorf("identity %s tid %q", q.Identity.Namespace.Name, q.TransactionID)
			}
			if q.Action.Name == "ok-1" {
				okReq = q
			}
		}
		var args map[string]any
		if err := json.Unmarshal(okReq.Args, &args); err != nil {
			t.Fatalf("args %s: %v", okReq.Args, err)
		}
		headers, _ := args[paramHeaders].(map[string]any)
		if headers["x-custom-thing"] != "v1" || headers["authorization"] != nil || headers["Authorization"] != nil {
			t.Errorf("headers %v", headers)
		}
		delete(args, paramHeaders)
		equalJSON(t, "args", args, `{"a":"action","tp":1,"x":"payload","y":[1]}`)

		equalJSON(t, "record", map[string]any{"namespace": rec.Namespace, "name": rec.Name, "subject": rec.Subject,
			"end": rec.End, "version": rec.Version, "annotations": rec.Annotations, "response": rec.Response},
			`{"namespace":"guest","name":"t","subject":"guest","end":0,"version":"0.0.1","annotations":[],
			"response":{"statusCode":0,"result":{"x":"payload","y":[1]}}}`)
		if rec.Start == 0 {
			t.Error("start not set")
		}
		want := []string{
			`{"statusCode":0,"success":true,"activationId":"` + okReq.ActivationID + `","rule":"guest/r1","action":"guest/ok-1"}`,
			`{"statusCode":3,"success":false,"error":"No invokers available","rule":"guest/r2","action":"guest/unavail-1"}`,
			`{"statusCode":1,"success":false,"error":"The requested resource does not exist.","rule":"guest/r3","action":"guest/ok-gone"}`,
		}
		if strings.Join(rec.Logs, "\n") != strings.Join(want, "\n") {
			t.Errorf("logs\n%s\nwant\n%s", strings.Join(rec.Logs, "\n"), strings.Join(want, "\n"))
		}

		// The API form of a trigger activation omits end and duration.
		g := ts.do("GET", "/api/v1/namespaces/_/activations/"+id, "").wantStatus(200).Obj()
		if _, ok := g["end"]; ok {
			t.Errorf("end present: %v", g)
		}
		if _, ok := g["duration"]; ok {
			t.Errorf("duration present: %v", g)
		}
		equalJSON(t, "logs", g["logs"], mustJSON(t, rec.Logs))
	})

	t.Run("empty payload", func(t *testing.T) {
		r := ts.do("POST", triggersPath+"t", "").wantStatus(http.StatusAccepted)
		rec := waitActivation(t, ts, "guest", r.Obj()["activationId"].(string))
		equalJSON(t, "result", rec.Response.Result, `{}`)
	})

	errs := []struct {
		name, path, body string
		status           int
		errContains      string
	}{
		{"missing trigger", "nope", `{}`, 404, ""},
		{"array payload", "t", `[1]`, 400, "JSON object"},
		{"malformed payload", "t", `{"x":`, 400, "malformed"},
		{"foreign namespace", "/api/v1/namespaces/alice/triggers/t", `{}`, 403, ""},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.requests())
			path := tc.path
			if !strings.HasPrefix(path, "/") {
				path = triggersPath + path
			}
			r := ts.do("POST", path, tc.body).wantStatus(tc.status)
			if !strings.Contains(r.ErrMsg(), tc.errContains) {
				t.Errorf("error %q, want %q", r.ErrMsg(), tc.errContains)
			}
			if len(fake.requests()) != before {
				t.Error("activator called")
			}
		})
	}
}

func TestTriggerFirePayloadLimit(t *testing.T) {
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake), func(c *Config) { c.Limits.PayloadMax = 32 })
	putTestAction(t, ts, "_", "ok-1", "", "")
	putOK(t, ts, triggersPath+"t", `{}`)
	putOK(t, ts, "/api/v1/namespaces/_/rules/r", `{"trigger":"t","action":"ok-1"}`)
	r := ts.do("POST", triggersPath+"t", `{"k":"`+strings.Repeat("x", 64)+`"}`).wantStatus(http.StatusRequestEntityTooLarge)
	if !strings.HasPrefix(r.ErrMsg(), "Request larger than allowed:") {
		t.Errorf("error %q", r.ErrMsg())
	}
	if len(fake.requests()) != 0 {
		t.Error("activator called")
	}
}

func TestTriggerFireWithoutActivator(t *testing.T) {
	ts := newTestServer(t)
	putTestAction(t, ts, "_", "a", "", "")
	putOK(t, ts, triggersPath+"t", `{}`)
	putOK(t, ts, "/api/v1/namespaces/_/rules/r", `{"trigger":"t","action":"a"}`)
	r := ts.do("POST", triggersPath+"t", `{}`).wantStatus(http.StatusAccepted)
	rec := waitActivation(t, ts, "guest", r.Obj()["activationId"].(string))
	want := `{"statusCode":3,"success":false,"error":"No invokers available","rule":"guest/r","action":"guest/a"}`
	if len(rec.Logs) != 1 || rec.Logs[0] != want {
		t.Errorf("logs %q", rec.Logs)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRuleLogLine(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, `{"statusCode":0,"success":true,"activationId":"abc","rule":"guest/r","action":"guest/p/a"}`},
		{"not found is application error", entity.ErrNotFound, `{"statusCode":1,"success":false,"error":"The requested resource does not exist.","rule":"guest/r","action":"guest/p/a"}`},
		{"forbidden", entity.ErrForbidden, `{"statusCode":1,"success":false,"error":"The supplied authentication is not authorized to access this resource.","rule":"guest/r","action":"guest/p/a"}`},
		{"throttled", entity.Errorf(entity.ErrThrottled, "Too many <requests>"), `{"statusCode":1,"success":false,"error":"Too many <requests>","rule":"guest/r","action":"guest/p/a"}`},
		{"unavailable is whisk error", entity.ErrUnavailable, `{"statusCode":3,"success":false,"error":"No invokers available","rule":"guest/r","action":"guest/p/a"}`},
		{"internal is whisk error", errors.New("disk on fire"), `{"statusCode":3,"success":false,"error":"` + msgInternal + `","rule":"guest/r","action":"guest/p/a"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			aid := ""
			if tc.err == nil {
				aid = "abc"
			}
			if got := ruleLogLine("guest/r", "guest/p/a", aid, tc.err); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFireArgs(t *testing.T) {
	params := entity.Params{{Key: "a", Value: json.RawMessage(`1`)}, {Key: paramHeaders, Value: json.RawMessage(`"old"`)}, {Key: "b", Value: json.RawMessage(`2`)}}
	cases := []struct {
		name    string
		payload string
		want    string
	}{
		{"payload wins", `{"b":3,"c":4}`, `{"a":1,"__ow_headers":{"h":"v"},"b":3,"c":4}`},
		{"payload may replace headers", `{"__ow_headers":5}`, `{"a":1,"__ow_headers":5,"b":2}`},
		{"empty payload", `{}`, `{"a":1,"__ow_headers":{"h":"v"},"b":2}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fireArgs(params, map[string]string{"h": "v"}, json.RawMessage(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	h := http.Header{"Authorization": {"Basic x"}, "X-Multi": {"a", "b"}, "Content-Type": {"application/json"}}
	got := requestHeaders(h)
	want := map[string]string{"x-multi": "a, b", "content-type": "application/json"}
	if len(got) != len(want) || got["x-multi"] != want["x-multi"] || got["content-type"] != want["content-type"] {
		t.Errorf("got %v, want %v", got, want)
	}
}

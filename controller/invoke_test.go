package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

const nodeCode = `{"kind":"nodejs:20","code":"function main(a){return a}"}`

// mustPut sends a PUT (as guest unless auth is given) and requires 200.
func putOK(t *testing.T, ts *testServer, path, body string, auth ...string) map[string]any {
	t.Helper()
	return ts.do(http.MethodPut, path, body, auth...).wantStatus(http.StatusOK).Obj()
}

// putAction creates an action with the given parameters and annotations
// (JSON arrays, "" for none).
func putTestAction(t *testing.T, ts *testServer, ns, name, params, annotations string, auth ...string) {
	t.Helper()
	body := `{"exec":` + nodeCode
	if params != "" {
		body += `,"parameters":` + params
	}
	if annotations != "" {
		body += `,"annotations":` + annotations
	}
	putOK(t, ts, "/api/v1/namespaces/"+ns+"/actions/"+name, body+"}", auth...)
}

func equalJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var gv any
	_ = json.Unmarshal(g, &gv)
	if !reflect.DeepEqual(gv, w) {
		t.Errorf("%s = %s, want %s", what, g, want)
	}
}

// setupInvoke creates the entities the invoke tests use:
//
//	guest/ok-1 .. (see fakeActivator) with parameters {a:1,b:2}
//	guest/final-ok  final, parameters {a:1, n:null}
//	guest/p (params {p:1,a:0}) with p/ok-p (params {x:1}); guest/bnd -> guest/p (params {b:9})
//	alice/private-ok, alice/shared (published) with shared/ok-shared
func setupInvoke(t *testing.T, ts *testServer) {
	t.Helper()
	params := `[{"key":"a","value":1},{"key":"b","value":2}]`
	for _, n := range []string{"ok-1", "array-1", "apperr-1", "deverr-1", "whiskerr-1", "hang-1", "closed-1", "unavail-1", "throttled-1"} {
		putTestAction(t, ts, "_", n, params, "")
	}
	putTestAction(t, ts, "_", "final-ok", `[{"key":"a","value":1},{"key":"n","value":null}]`, `[{"key":"final","value":true}]`)
	putOK(t, ts, "/api/v1/namespaces/_/packages/p", `{"parameters":[{"key":"p","value":1},{"key":"a","value":0}]}`)
	putTestAction(t, ts, "_", "p/ok-p", `[{"key":"x","value":1}]`, "")
	putOK(t, ts, "/api/v1/namespaces/_/packages/bnd", `{"binding":{"namespace":"guest","name":"p"},"parameters":[{"key":"b","value":9}]}`)
	putTestAction(t, ts, aliceNS, "private-ok", "", "", aliceAuth)
	putOK(t, ts, "/api/v1/namespaces/alice/packages/shared", `{"publish":true}`, aliceAuth)
	putTestAction(t, ts, aliceNS, "shared/ok-shared", "", "", aliceAuth)
}

func TestInvoke(t *testing.T) {
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake))
	setupInvoke(t, ts)
	const base = "/api/v1/namespaces/_/actions/"

	cases := []struct {
		name, path, body string
		anonymous        bool
		status           int
		errContains      string
		check            func(t *testing.T, r response, req ActivationRequest)
	}{
		{name: "non-blocking", path: "ok-1", body: `{"c":3}`, status: http.StatusAccepted,
			check: func(t *testing.T, r response, req ActivationRequest) {
				id, _ := r.Obj()["activationId"].(string)
				if !entity.ValidActivationID(id) || len(r.Obj()) != 1 {
					t.Errorf("body %s: want only a valid activationId", r.Body)
				}
				if h := r.Header.Get(headerActivationID); h != id {
					t.Errorf("header %q, body id %q", h, id)
				}
				if req.ActivationID != id || req.Blocking {
					t.Errorf("request id %q blocking %v", req.ActivationID, req.Blocking)
				}
				equalJSON(t, "args", req.Args, `{"a":1,"b":2,"c":3}`)
				if req.Identity.Namespace.Name != "guest" || req.Identity.Subject != "guest" {
					t.Errorf("identity %+v", req.Identity)
				}
				if req.Action.FullName().DocID() != "guest/ok-1" || req.Action.Revision() == "" {
					t.Errorf("action %s rev %q", req.Action.FullName(), req.Action.Revision())
				}
				if req.TransactionID == "" || req.Received.IsZero() {
					t.Errorf("tid %q received %v", req.TransactionID, req.Received)
				}
			}},
		{name: "non-blocking without body", path: "ok-1", status: http.StatusAccepted,
			check: func(t *testing.T, r response, req ActivationRequest) { equalJSON(t, "args", req.Args, `{"a":1,"b":2}`) }},
		{name: "blocking success record", path: "ok-1?blocking=true", body: `{"b":"x"}`, status: http.StatusOK,
			check: func(t *testing.T, r response, req ActivationRequest) {
				m := r.Obj()
				if m["activationId"] != req.ActivationID || r.Header.Get(headerActivationID) != req.ActivationID {
					t.Errorf("id %v header %q want %s", m["activationId"], r.Header.Get(headerActivationID), req.ActivationID)
				}
				equalJSON(t, "response", m["response"], `{"result":{"a":1,"b":"x"},"status":"success","success":true}`)
				if _, ok := m["duration"]; !ok || m["namespace"] != "guest" || m["name"] != "ok-1" {
					t.Errorf("record %s", r.Body)
				}
				if !req.Blocking {
					t.Error("request not blocking")
				}
			}},
		{name: "blocking result only", path: "ok-1?blocking=true&result=true", body: `{"c":true}`, status: http.StatusOK,
			check: func(t *testing.T, r response, _ ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"a":1,"b":2,"c":true}`)
			}},
		{name: "application error record", path: "apperr-1?blocking=true", status: http.StatusBadGateway,
			check: func(t *testing.T, r response, _ ActivationRequest) {
				equalJSON(t, "response", r.Obj()["response"], `{"result":{"error":"app failed"},"status":"application error","success":false}`)
			}},
		{name: "application error result", path: "apperr-1?blocking=true&result=true", status: http.StatusBadGateway,
			check: func(t *testing.T, r response, _ ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"error":"app failed"}`)
			}},
		{name: "developer error", path: "deverr-1?blocking=true", status: http.StatusBadGateway,
			check: func(t *testing.T, r response, _ ActivationRequest) {
				equalJSON(t, "status", r.Obj()["response"].(map[string]any)["status"], `"action developer error"`)
			}},
		{name: "whisk error", path: "whiskerr-1?blocking=true&result=true", status: http.StatusInternalServerError,
			check: func(t *testing.T, r response, _ ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"error":"whisk failed"}`)
			}},
		{name: "array result as is", path: "array-1?blocking=true", status: http.StatusOK,
			check: func(t *testing.T, r response, _ ActivationRequest) { equalJSON(t, "body", r.JSON, `[1,2,3]`) }},
		{name: "array body passed unmerged", path: "array-1?blocking=true&result=true", body: ` ["x", {"a":5}] `, status: http.StatusOK,
			check: func(t *testing.T, r response, req ActivationRequest) {
				equalJSON(t, "args", req.Args, `["x",{"a":5}]`)
				equalJSON(t, "body", r.JSON, `["x",{"a":5}]`)
			}},
		{name: "blocking timeout gives 202", path: "hang-1?blocking=true&timeout=50", status: http.StatusAccepted,
			check: func(t *testing.T, r response, req ActivationRequest) {
				equalJSON(t, "body", r.JSON, fmt.Sprintf(`{"activationId":%q}`, req.ActivationID))
				if r.Header.Get(headerActivationID) != req.ActivationID {
					t.Errorf("header %q", r.Header.Get(headerActivationID))
				}
			}},
		{name: "record found in store after empty completion", path: "closed-1?blocking=true&timeout=10000", status: http.StatusOK,
			check: func(t *testing.T, r response, req ActivationRequest) {
				if r.Obj()["activationId"] != req.ActivationID {
					t.Errorf("body %s", r.Body)
				}
			}},
		{name: "no invokers", path: "unavail-1", status: http.StatusServiceUnavailable, errContains: "No invokers available"},
		{name: "throttled", path: "throttled-1?blocking=true", status: http.StatusTooManyRequests, errContains: "Too many concurrent requests in flight (count: 30, allowed: 30)."},
		{name: "final parameter overridden", path: "final-ok", body: `{"a":2}`, status: http.StatusBadRequest, errContains: msgParametersNotAllowed},
		{name: "final allows new and undefined keys", path: "final-ok", body: `{"z":2,"n":3}`, status: http.StatusAccepted,
			check: func(t *testing.T, _ response, req ActivationRequest) {
				equalJSON(t, "args", req.Args, `{"a":1,"n":3,"z":2}`)
			}},
		{name: "final allows array body", path: "final-ok", body: `[1]`, status: http.StatusAccepted},
		{name: "package parameters merged", path: "p/ok-p?blocking=true&result=true", body: `{"y":2}`, status: http.StatusOK,
			check: func(t *testing.T, r response, req ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"p":1,"a":0,"x":1,"y":2}`)
				if req.Binding != "" {
					t.Errorf("binding %q", req.Binding)
				}
			}},
		{name: "through binding", path: "bnd/ok-p?blocking=true&result=true", body: `{"p":5}`, status: http.StatusOK,
			check: func(t *testing.T, r response, req ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"p":5,"a":0,"b":9,"x":1}`)
				if req.Binding != "guest/bnd" || req.Action.FullName().DocID() != "guest/p/ok-p" {
					t.Errorf("binding %q action %s", req.Binding, req.Action.FullName())
				}
			}},
		{name: "published package of another namespace", path: "/api/v1/namespaces/alice/actions/shared/ok-shared", status: http.StatusAccepted,
			check: func(t *testing.T, _ response, req ActivationRequest) {
				if req.Identity.Namespace.Name != "guest" || req.Action.FullName().DocID() != "alice/shared/ok-shared" {
					t.Errorf("identity %s action %s", req.Identity.Namespace.Name, req.Action.FullName())
				}
			}},
		{name: "private action of another namespace", path: "/api/v1/namespaces/alice/actions/private-ok", status: http.StatusForbidden},
		{name: "missing action", path: "nope", status: http.StatusNotFound},
		{name: "missing package", path: "nopkg/ok", status: http.StatusNotFound},
		{name: "illegal name", path: "b%24d", status: http.StatusBadRequest, errContains: entity.MsgIllegalName},
		{name: "package listing path", path: "p/", status: http.StatusNotFound},
		{name: "malformed JSON", path: "ok-1", body: `{"a":`, status: http.StatusBadRequest, errContains: "malformed"},
		{name: "scalar body", path: "ok-1", body: `42`, status: http.StatusBadRequest, errContains: "JSON object or a JSON array"},
		{name: "timeout zero", path: "ok-1?blocking=true&timeout=0", status: http.StatusBadRequest, errContains: msgInvalidTimeout},
		{name: "timeout too large", path: "ok-1?timeout=60001", status: http.StatusBadRequest, errContains: msgInvalidTimeout},
		{name: "timeout not a number", path: "ok-1?blocking=true&timeout=1s", status: http.StatusBadRequest, errContains: msgInvalidTimeout},
		{name: "blocking not a boolean", path: "ok-1?blocking=yes", status: http.StatusBadRequest, errContains: "blocking"},
		{name: "result not a boolean", path: "ok-1?blocking=true&result=1", status: http.StatusBadRequest, errContains: "result"},
		{name: "no credentials", path: "ok-1", anonymous: true, status: http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.requests())
			auth, path := guestAuth, tc.path
			if tc.anonymous {
				auth = noAuth
			}
			if !strings.HasPrefix(path, "/") {
				path = base + path
			}
			r := ts.do(http.MethodPost, path, tc.body, auth)
			r.wantStatus(tc.status)
			if tc.errContains != "" && !strings.Contains(r.ErrMsg(), tc.errContains) {
				t.Errorf("error %q, want it to contain %q", r.ErrMsg(), tc.errContains)
			}
			reqs := fake.requests()
			if tc.check != nil {
				if len(reqs) != before+1 {
					t.Fatalf("activator got %d requests, want 1", len(reqs)-before)
				}
				tc.check(t, r, reqs[len(reqs)-1])
			}
			if tc.status == http.StatusBadRequest || tc.status == http.StatusNotFound || tc.status == http.StatusForbidden {
				if len(reqs) != before {
					t.Errorf("activator called on a rejected request")
				}
			}
		})
	}
}

func TestInvokeTransactionAndAPIKey(t *testing.T) {
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake))
	putTestAction(t, ts, "_", "ok-1", "", "")
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/namespaces/guest/actions/ok-1", strings.NewReader(`{}`))
	req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
	req.Header.Set("X-Request-ID", "my-transaction-1")
	ts.request(req).wantStatus(http.StatusAccepted)
	got := fake.last(t)
	if got.TransactionID != "my-transaction-1" {
		t.Errorf("transaction id %q", got.TransactionID)
	}
	if got.Identity.AuthKey.APIKey != guestAuth {
		t.Errorf("identity key %q", got.Identity.AuthKey.APIKey)
	}
}

func TestInvokeWithoutActivator(t *testing.T) {
	ts := newTestServer(t)
	putTestAction(t, ts, "_", "ok-1", "", "")
	r := ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/ok-1?blocking=true", `{}`).wantStatus(http.StatusServiceUnavailable)
	if !strings.Contains(r.ErrMsg(), "No invokers available") {
		t.Errorf("error %q", r.ErrMsg())
	}
}

func TestInvokePayloadLimit(t *testing.T) {
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake), func(c *Config) { c.Limits.PayloadMax = 64 })
	putTestAction(t, ts, "_", "ok-1", "", "")
	big := `{"k":"` + strings.Repeat("x", 100) + `"}`
	r := ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/ok-1", big).wantStatus(http.StatusRequestEntityTooLarge)
	if !strings.HasPrefix(r.ErrMsg(), "Request larger than allowed: 108 > 64 bytes.") {
		t.Errorf("error %q", r.ErrMsg())
	}
	ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/ok-1", `{"k":"small"}`).wantStatus(http.StatusAccepted)

	// A namespace limit overrides the system's.
	if err := ts.Stores.Subjects.PutLimits(context.Background(), aliceNS, entity.UserLimits{MaxPayloadSize: ptrInt(200)}); err != nil {
		t.Fatal(err)
	}
	putTestAction(t, ts, aliceNS, "ok-a", "", "", aliceAuth)
	ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/ok-a", big, aliceAuth).wantStatus(http.StatusAccepted)
	if len(fake.requests()) != 2 {
		t.Errorf("activator got %d requests, want 2", len(fake.requests()))
	}
}

func ptrInt(v int) *int { return &v }

func TestInvokeDeprecatedKind(t *testing.T) {
	m, err := entity.ParseManifest([]byte(`{"runtimes":{"nodejs":[
		{"kind":"nodejs:20","default":true,"image":{"name":"action-nodejs-v20"}},
		{"kind":"nodejs:10","deprecated":true,"image":{"name":"action-nodejs-v10"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake), func(c *Config) { c.Manifest = m })
	a, err := entity.NewAction(entity.NewFQN("guest", "", "old"), entity.ActionPut{Exec: &entity.Exec{Kind: "nodejs:10", Code: "x"}}, 1, entity.DefaultSystemLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Stores.Entities.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/old", `{}`).wantStatus(http.StatusBadRequest)
	want := "The 'nodejs:10' runtime is no longer supported. You may read and delete but not update or invoke this action."
	if r.ErrMsg() != want {
		t.Errorf("error %q, want %q", r.ErrMsg(), want)
	}
	if len(fake.requests()) != 0 {
		t.Error("activator called for a deprecated kind")
	}
}

func TestParseTimeout(t *testing.T) {
	cases := []struct {
		name    string
		v       string
		present bool
		want    time.Duration
		wantErr bool
	}{
		{"absent is the maximum", "", false, maxBlockingWait, false},
		{"one ms", "1", true, time.Millisecond, false},
		{"maximum", "60000", true, 60 * time.Second, false},
		{"zero", "0", true, 0, true},
		{"negative", "-5", true, 0, true},
		{"over maximum", "60001", true, 0, true},
		{"not a number", "ten", true, 0, true},
		{"empty", "", true, 0, true},
		{"huge", "99999999999999999999", true, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTimeout(tc.v, tc.present)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseTimeout(%q) = %v, %v", tc.v, got, err)
			}
			if err != nil && !errors.Is(err, entity.ErrInvalid) {
				t.Errorf("error kind %v", err)
			}
		})
	}
}

func TestInvokeArgs(t *testing.T) {
	params := entity.Params{{Key: "a", Value: json.RawMessage(`1`)}, {Key: "n", Value: json.RawMessage(`null`)}}
	cases := []struct {
		name    string
		final   bool
		body    string
		want    string
		wantErr string
	}{
		{"empty body gives parameters", false, "", `{"a":1,"n":null}`, ""},
		{"whitespace body", false, " \n ", `{"a":1,"n":null}`, ""},
		{"body overrides", false, `{"a":2,"c":[1]}`, `{"a":2,"n":null,"c":[1]}`, ""},
		{"array passes through", false, `[ 1, {"a":2} ]`, `[1,{"a":2}]`, ""},
		{"final rejects defined key", true, `{"a":2}`, "", msgParametersNotAllowed},
		{"final allows null-valued key", true, `{"n":2}`, `{"a":1,"n":2}`, ""},
		{"final allows new key", true, `{"z":2}`, `{"a":1,"n":null,"z":2}`, ""},
		{"string body", false, `"x"`, "", "JSON object"},
		{"null body", false, `null`, "", "JSON object"},
		{"broken object", false, `{"a"`, "", "malformed"},
		{"broken array", false, `[1,`, "", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := invokeArgs(params, tc.final, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, entity.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("args = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBlockingResponse(t *testing.T) {
	rec := func(code int, result string) *entity.Activation {
		return &entity.Activation{Namespace: "guest", Name: "a", ActivationID: strings.Repeat("a", 32), Start: 1, End: 2,
			Response: entity.Response{StatusCode: code, Result: json.RawMessage(result)}}
	}
	cases := []struct {
		name       string
		code       int
		result     string
		resultOnly bool
		status     int
		body       string // "" = the full record
	}{
		{"success record", entity.StatusSuccess, `{"x":1}`, false, 200, ""},
		{"success result", entity.StatusSuccess, `{"x":1}`, true, 200, `{"x":1}`},
		{"application error", entity.StatusApplicationError, `{"error":"e"}`, false, 502, ""},
		{"application error result", entity.StatusApplicationError, `{"error":"e"}`, true, 502, `{"error":"e"}`},
		{"developer error", entity.StatusDeveloperError, `{"error":"e"}`, true, 502, `{"error":"e"}`},
		{"whisk error", entity.StatusWhiskError, `{"error":"e"}`, false, 500, ""},
		{"unknown code is whisk error", 7, `{}`, true, 500, `{}`},
		{"array without result flag", entity.StatusSuccess, `[1]`, false, 200, `[1]`},
		{"array with result flag", entity.StatusSuccess, `[1]`, true, 200, `[1]`},
		{"missing result", entity.StatusSuccess, ``, true, 200, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rec(tc.code, tc.result)
			status, body := blockingResponse(r, tc.resultOnly)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if tc.body == "" {
				if !reflect.DeepEqual(body, r.API()) {
					t.Errorf("body %v, want the API record", body)
				}
				return
			}
			equalJSON(t, "body", body, tc.body)
		})
	}
}

// FuzzInvokeArgs: any body gives valid JSON arguments or an ErrInvalid
// error, never a panic.
func FuzzInvokeArgs(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"a":1}`, `[1,2]`, `"x"`, `{"a":`, `{"a":1}{}`, `[]`, ` {"final":true} `} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	params := entity.Params{{Key: "a", Value: json.RawMessage(`1`)}}
	f.Fuzz(func(t *testing.T, body []byte, final bool) {
		args, err := invokeArgs(params, final, body)
		if err != nil {
			if !errors.Is(err, entity.ErrInvalid) {
				t.Fatalf("error of kind other than ErrInvalid: %v", err)
			}
			return
		}
		if !json.Valid(args) || (args[0] != '{' && args[0] != '[') {
			t.Fatalf("args %q not a JSON object or array", args)
		}
	})
}

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

// seqActivator is the fakeActivator (activator_test.go) with two more
// behaviours, by the prefix of the action's name:
//
//	inc   success, result = the arguments with n incremented (n absent = 0),
//	      duration 5 ms, a limits annotation with the action's limits
//	gate  as inc, but the record is delivered only once gate is closed
type seqActivator struct {
	fakeActivator
	gate chan struct{}
}

func (f *seqActivator) Activate(ctx context.Context, req ActivationRequest) (<-chan *entity.Activation, error) {
	behaviour, _, _ := strings.Cut(req.Action.Name, "-")
	if behaviour != "inc" && behaviour != "gate" {
		return f.fakeActivator.Activate(ctx, req)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	rec := fakeRecord(req, "ok")
	var args map[string]any
	if err := json.Unmarshal(req.Args, &args); err != nil {
		return nil, err
	}
	n, _ := args["n"].(float64)
	args["n"] = n + 1
	rec.Response.Result, _ = json.Marshal(args)
	d := int64(5)
	rec.Duration = &d
	rec.Annotations = append(rec.Annotations, entity.Param{Key: entity.AnnotationLimits, Value: entity.JSONValue(req.Action.Limits)})
	ch := make(chan *entity.Activation, 1)
	if behaviour == "gate" {
		go func() {
			<-f.gate
			ch <- rec
		}()
		return ch, nil
	}
	ch <- rec
	return ch, nil
}

func withSeqFake(f *seqActivator) func(*Config) {
	return func(c *Config) {
		f.store = c.Activations
		c.Activator = f
	}
}

// putSeq creates (or replaces) the sequence name of guest.
func putSeq(t *testing.T, ts *testServer, name string, comps ...string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"exec": map[string]any{"kind": "sequence", "components": comps}})
	putOK(t, ts, actionsPath+name+"?overwrite=true", string(b))
}

// putLimited creates guest's action name with the given memory limit.
func putLimited(t *testing.T, ts *testServer, name string, memory int) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": "x"}, "limits": map[string]any{"memory": memory}})
	putOK(t, ts, actionsPath+name+"?overwrite=true", string(b))
}

// storedRecord polls the activation store for guest's record id.
func storedRecord(t *testing.T, ts *testServer, id string) *entity.Activation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := ts.Stores.Activations.Get(context.Background(), "guest", id)
		if err == nil {
			return rec
		}
		if !errors.Is(err, entity.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("record %s: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// annotationJSON is the compact JSON of a record's annotation ("" if none).
func annotationJSON(rec *entity.Activation, key string) string {
	v, ok := rec.Annotations.Get(key)
	if !ok {
		return ""
	}
	return string(compact(v))
}

// requestsOf returns the activator requests made for the sequence id.
func requestsOf(reqs []ActivationRequest, cause string) []ActivationRequest {
	var out []ActivationRequest
	for _, r := range reqs {
		if r.Cause == cause {
			out = append(out, r)
		}
	}
	return out
}

func TestSequenceInvoke(t *testing.T) {
	fake := &seqActivator{}
	ts := newTestServer(t, withSeqFake(fake))
	putLimited(t, ts, "inc-a", 128)
	putLimited(t, ts, "inc-b", 256)
	putLimited(t, ts, "inc-c", 192)
	for _, n := range []string{"ok-1", "apperr-1", "deverr-1", "whiskerr-1", "unavail-1", "throttled-1", "array-1", "gone-1"} {
		putTestAction(t, ts, "_", n, "", "")
	}
	putSeq(t, ts, "ab", "/_/inc-a", "/_/inc-b")
	putOK(t, ts, actionsPath+"withparams?overwrite=true", `{"exec":{"kind":"sequence","components":["/_/inc-a"]},"parameters":[{"key":"s","value":1}]}`)
	putSeq(t, ts, "inner", "/_/inc-c")
	putSeq(t, ts, "outer", "/_/inc-a", "/_/inner", "/_/inc-b")
	putSeq(t, ts, "apperr", "/_/inc-a", "/_/apperr-1", "/_/inc-b")
	putSeq(t, ts, "deverr", "/_/deverr-1", "/_/inc-b")
	putSeq(t, ts, "whiskerr", "/_/whiskerr-1", "/_/inc-b")
	putSeq(t, ts, "unavail", "/_/inc-a", "/_/unavail-1")
	putSeq(t, ts, "throttled", "/_/throttled-1")
	putSeq(t, ts, "array", "/_/array-1", "/_/ok-1")
	putSeq(t, ts, "missing", "/_/inc-a", "/_/gone-1", "/_/inc-b")
	ts.do(http.MethodDelete, actionsPath+"gone-1", "").wantStatus(http.StatusOK)

	cases := []struct {
		name, path, body string
		status           int
		check            func(t *testing.T, r response, rec *entity.Activation, comps []ActivationRequest)
	}{
		{name: "result passed from component to component", path: "ab?blocking=true", body: `{"n":1,"x":"y"}`, status: http.StatusOK,
			check: func(t *testing.T, r response, rec *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "result", json.RawMessage(rec.Response.Result), `{"n":3,"x":"y"}`)
				if len(comps) != 2 || comps[0].Action.Name != "inc-a" || comps[1].Action.Name != "inc-b" {
					t.Fatalf("components %v", comps)
				}
				equalJSON(t, "first args", comps[0].Args, `{"n":1,"x":"y"}`)
				equalJSON(t, "second args", comps[1].Args, `{"n":2,"x":"y"}`)
				if rec.Logs[0] != comps[0].ActivationID || rec.Logs[1] != comps[1].ActivationID || len(rec.Logs) != 2 {
					t.Errorf("logs %v", rec.Logs)
				}
				for _, c := range comps {
					if !c.Blocking || c.TransactionID == "" || c.Identity.Namespace.Name != "guest" {
						t.Errorf("component request %+v", c)
					}
				}
				if rec.Duration == nil || *rec.Duration != 10 {
					t.Errorf("duration %v, want the sum 10", rec.Duration)
				}
				if rec.Cause != "" || rec.Name != "ab" || rec.Namespace != "guest" || rec.Subject != "guest" {
					t.Errorf("record %+v", rec)
				}
				for k, want := range map[string]string{"topmost": "true", "kind": `"sequence"`, "path": `"guest/ab"`, "causedBy": ""} {
					if got := annotationJSON(rec, k); got != want {
						t.Errorf("annotation %s = %s, want %s", k, got, want)
					}
				}
				if annotationJSON(rec, "waitTime") == "" {
					t.Error("no waitTime annotation")
				}
				var lim entity.ActionLimits
				if err := json.Unmarshal([]byte(annotationJSON(rec, "limits")), &lim); err != nil || lim.Memory != 256 || lim.Timeout != 60000 {
					t.Errorf("limits %s (%v), want memory 256 = the max", annotationJSON(rec, "limits"), err)
				}
				m, _ := r.JSON.(map[string]any)
				if m["activationId"] != rec.ActivationID || r.Header.Get(headerActivationID) != rec.ActivationID {
					t.Errorf("response %s", r.Body)
				}
			}},
		{name: "result only", path: "ab?blocking=true&result=true", body: `{"n":5}`, status: http.StatusOK,
			check: func(t *testing.T, r response, _ *entity.Activation, _ []ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"n":7}`)
			}},
		{name: "no body", path: "ab?blocking=true&result=true", status: http.StatusOK,
			check: func(t *testing.T, r response, _ *entity.Activation, _ []ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"n":2}`)
			}},
		{name: "sequence parameters not passed on", path: "withparams?blocking=true", body: `{"n":0}`, status: http.StatusOK,
			check: func(t *testing.T, _ response, _ *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "first args", comps[0].Args, `{"n":0}`)
			}},
		{name: "nested sequence", path: "outer?blocking=true", body: `{"n":0}`, status: http.StatusOK,
			check: func(t *testing.T, _ response, rec *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "result", json.RawMessage(rec.Response.Result), `{"n":3}`)
				if len(rec.Logs) != 3 || len(comps) != 2 || rec.Logs[0] != comps[0].ActivationID || rec.Logs[2] != comps[1].ActivationID {
					t.Fatalf("outer logs %v, direct components %d", rec.Logs, len(comps))
				}
				inner := storedRecord(t, ts, rec.Logs[1])
				if inner.Name != "inner" || inner.Cause != rec.ActivationID || annotationJSON(inner, "causedBy") != `"sequence"` ||
					annotationJSON(inner, "topmost") != "false" || annotationJSON(inner, "kind") != `"sequence"` {
					t.Errorf("inner record %+v", inner)
				}
				innerComps := requestsOf(fake.requests(), inner.ActivationID)
				if len(innerComps) != 1 || innerComps[0].Action.Name != "inc-c" || len(inner.Logs) != 1 || inner.Logs[0] != innerComps[0].ActivationID {
					t.Errorf("inner components %v logs %v", innerComps, inner.Logs)
				}
				equalJSON(t, "inner component args", innerComps[0].Args, `{"n":1}`)
				if *inner.Duration != 5 || *rec.Duration != 15 {
					t.Errorf("durations inner %d outer %d, want 5 and 15", *inner.Duration, *rec.Duration)
				}
				if !strings.Contains(annotationJSON(inner, "limits"), `"memory":192`) || !strings.Contains(annotationJSON(rec, "limits"), `"memory":256`) {
					t.Errorf("limits inner %s outer %s", annotationJSON(inner, "limits"), annotationJSON(rec, "limits"))
				}
			}},
		{name: "short-circuit on an application error", path: "apperr?blocking=true", body: `{}`, status: http.StatusBadGateway,
			check: func(t *testing.T, _ response, rec *entity.Activation, comps []ActivationRequest) {
				if len(comps) != 2 || len(rec.Logs) != 2 {
					t.Fatalf("components %d logs %v, want 2 (the third not run)", len(comps), rec.Logs)
				}
				equalJSON(t, "response", rec.Response, `{"statusCode":1,"result":{"error":"app failed"}}`)
				equalJSON(t, "error component args", comps[1].Args, `{"n":1}`)
			}},
		{name: "short-circuit on a developer error", path: "deverr?blocking=true", status: http.StatusBadGateway,
			check: func(t *testing.T, _ response, rec *entity.Activation, comps []ActivationRequest) {
				if len(comps) != 1 || rec.Response.StatusCode != entity.StatusDeveloperError {
					t.Errorf("components %d response %+v", len(comps), rec.Response)
				}
			}},
		{name: "whisk error of a component", path: "whiskerr?blocking=true&result=true", status: http.StatusInternalServerError,
			check: func(t *testing.T, r response, _ *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"error":"whisk failed"}`)
			}},
		{name: "component not schedulable", path: "unavail?blocking=true", status: http.StatusInternalServerError,
			check: func(t *testing.T, _ response, rec *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "response", rec.Response, `{"statusCode":3,"result":{"error":"Sequence failed."}}`)
				if len(rec.Logs) != 1 {
					t.Errorf("logs %v, want only the first component", rec.Logs)
				}
			}},
		{name: "component throttled by the activator", path: "throttled?blocking=true", status: http.StatusBadGateway,
			check: func(t *testing.T, _ response, rec *entity.Activation, _ []ActivationRequest) {
				equalJSON(t, "response", rec.Response, `{"statusCode":1,"result":{"error":"Too many concurrent requests in flight (count: 30, allowed: 30)."}}`)
			}},
		{name: "missing component", path: "missing?blocking=true", body: `{}`, status: http.StatusBadGateway,
			check: func(t *testing.T, _ response, rec *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "response", rec.Response, `{"statusCode":1,"result":{"error":"Sequence component does not exist."}}`)
				if len(comps) != 1 || len(rec.Logs) != 1 {
					t.Errorf("components %d logs %v", len(comps), rec.Logs)
				}
			}},
		{name: "array result passed on", path: "array?blocking=true", status: http.StatusOK,
			check: func(t *testing.T, r response, _ *entity.Activation, comps []ActivationRequest) {
				equalJSON(t, "second args", comps[1].Args, `[1,2,3]`)
				equalJSON(t, "body", r.JSON, `[1,2,3]`)
			}},
		{name: "non-blocking", path: "ab", body: `{"n":10}`, status: http.StatusAccepted,
			check: func(t *testing.T, r response, rec *entity.Activation, _ []ActivationRequest) {
				equalJSON(t, "body", r.JSON, `{"activationId":"`+rec.ActivationID+`"}`)
				equalJSON(t, "result", json.RawMessage(rec.Response.Result), `{"n":12}`)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(http.MethodPost, actionsPath+tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body: %s", r.Status, tc.status, r.Body)
			}
			id := r.Header.Get(headerActivationID)
			if !entity.ValidActivationID(id) {
				t.Fatalf("activation id header %q", id)
			}
			rec := storedRecord(t, ts, id)
			if m, ok := r.JSON.(map[string]any); ok && m["response"] != nil {
				equalJSON(t, "blocking body", r.JSON, string(mustMarshal(t, rec.API())))
			}
			tc.check(t, r, rec, requestsOf(fake.requests(), id))
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSequenceRejected(t *testing.T) {
	fake := &seqActivator{}
	ts := newTestServer(t, withSeqFake(fake))
	putLimited(t, ts, "inc-a", 128)
	putSeq(t, ts, "s", "/_/inc-a")
	putOK(t, ts, actionsPath+"final?overwrite=true", `{"exec":{"kind":"sequence","components":["/_/inc-a"]},"parameters":[{"key":"k","value":1}],"annotations":[{"key":"final","value":true}]}`)
	putOK(t, ts, "/api/v1/namespaces/alice/packages/shared", `{"publish":true}`, aliceAuth)
	putTestAction(t, ts, aliceNS, "shared/ok-s", "", "", aliceAuth)
	putSeq(t, ts, "foreign", "/alice/shared/ok-s")
	putOK(t, ts, "/api/v1/namespaces/alice/packages/shared?overwrite=true", `{"publish":false}`, aliceAuth)

	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"scalar body", "s", `7`, http.StatusBadRequest, "JSON object or a JSON array"},
		{"final parameter overridden", "final", `{"k":2}`, http.StatusBadRequest, msgParametersNotAllowed},
		{"component no longer readable", "foreign?blocking=true", `{}`, http.StatusForbidden, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.requests())
			r := ts.do(http.MethodPost, actionsPath+tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body: %s", r.Status, tc.status, r.Body)
			}
			if !strings.Contains(r.ErrMsg(), tc.msg) {
				t.Errorf("error %q, want %q", r.ErrMsg(), tc.msg)
			}
			if len(fake.requests()) != before {
				t.Error("a component was invoked")
			}
		})
	}

	t.Run("without activator", func(t *testing.T) {
		ts := newTestServer(t)
		putTestAction(t, ts, "_", "ok-1", "", "")
		putSeq(t, ts, "s", "/_/ok-1")
		ts.do(http.MethodPost, actionsPath+"s?blocking=true", `{}`).wantStatus(http.StatusServiceUnavailable)
	})
}

// TestSequenceDynamicLimit: a sequence that grew past the limit through a
// nested sequence updated after it was created stops at the limit.
func TestSequenceDynamicLimit(t *testing.T) {
	fake := &seqActivator{}
	ts := newTestServer(t, withSeqFake(fake), func(c *Config) { c.Limits.SequenceMaxLength = 2 })
	for _, n := range []string{"inc-a", "inc-b", "inc-c"} {
		putLimited(t, ts, n, 128)
	}
	putSeq(t, ts, "inner", "/_/inc-b")
	putSeq(t, ts, "outer", "/_/inc-a", "/_/inner")
	putSeq(t, ts, "inner", "/_/inc-b", "/_/inc-c") // outer now has 3 atomic actions

	r := ts.do(http.MethodPost, actionsPath+"outer?blocking=true", `{}`).wantStatus(http.StatusBadGateway)
	rec := storedRecord(t, ts, r.Header.Get(headerActivationID))
	equalJSON(t, "response", rec.Response, `{"statusCode":1,"result":{"error":"Too many actions in the sequence."}}`)
	if len(rec.Logs) != 2 {
		t.Fatalf("outer logs %v, want inc-a and inner", rec.Logs)
	}
	inner := storedRecord(t, ts, rec.Logs[1])
	if len(inner.Logs) != 1 || inner.Response.StatusCode != entity.StatusApplicationError {
		t.Errorf("inner record %+v, want inc-b only and an application error", inner)
	}
	for _, q := range fake.requests() {
		if q.Action.Name == "inc-c" {
			t.Error("the third atomic action ran")
		}
	}
}

// TestSequenceBlockingTimeout: a blocking invoke whose wait ends first
// answers 202 with the sequence's id; the sequence completes afterwards.
func TestSequenceBlockingTimeout(t *testing.T) {
	fake := &seqActivator{gate: make(chan struct{})}
	ts := newTestServer(t, withSeqFake(fake))
	putLimited(t, ts, "inc-a", 128)
	putLimited(t, ts, "gate-b", 128)
	putSeq(t, ts, "s", "/_/inc-a", "/_/gate-b")

	r := ts.do(http.MethodPost, actionsPath+"s?blocking=true&timeout=50", `{"n":0}`).wantStatus(http.StatusAccepted)
	id := r.Header.Get(headerActivationID)
	equalJSON(t, "body", r.JSON, `{"activationId":"`+id+`"}`)
	if _, err := ts.Stores.Activations.Get(context.Background(), "guest", id); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("record before the sequence completed: %v", err)
	}
	close(fake.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Server.Close(ctx); err != nil {
		t.Fatalf("Close did not wait for the sequence: %v", err)
	}
	rec, err := ts.Stores.Activations.Get(context.Background(), "guest", id)
	if err != nil {
		t.Fatalf("record after Close: %v", err)
	}
	equalJSON(t, "result", json.RawMessage(rec.Response.Result), `{"n":2}`)
}

// TestSequenceComponentTimeout: a component whose record does not come
// ends the sequence with a whisk error naming it.
func TestSequenceComponentTimeout(t *testing.T) {
	fake := &seqActivator{}
	ts := newTestServer(t, withSeqFake(fake))
	putLimited(t, ts, "inc-a", 128)
	putTestAction(t, ts, "_", "hang-1", "", "")
	putTestAction(t, ts, "_", "ok-1", "", "")
	putSeq(t, ts, "s", "/_/inc-a", "/_/hang-1", "/_/ok-1")
	d, err := ts.Stores.Entities.Get(context.Background(), entity.KindAction, entity.NewFQN("guest", "", "s"))
	if err != nil {
		t.Fatal(err)
	}
	run := seqRun{
		inv:    invocation{caller: entity.Identity{Subject: "guest", Namespace: entity.NamespaceRef{Name: "guest", UUID: entity.GuestUUID}}, tid: "t1", received: time.Now()},
		action: d.(*entity.Action), id: entity.NewActivationID(), topmost: true,
	}
	// The wait for hang-1 ends with ctx (its own bound is timeout + 1 min).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rec, count := ts.Server.runSequence(ctx, run, 0, json.RawMessage(`{}`))
	comps := requestsOf(fake.requests(), run.id)
	if len(comps) != 2 || count != 1 {
		t.Fatalf("components %d count %d, want inc-a and hang-1 started, ok-1 not", len(comps), count)
	}
	hang := comps[1].ActivationID
	equalJSON(t, "response", rec.Response, `{"statusCode":3,"result":{"error":"Timeout reached when retrieving activation `+hang+` for sequence component."}}`)
	if len(rec.Logs) != 2 || rec.Logs[1] != hang {
		t.Errorf("logs %v, want inc-a's and hang-1's ids", rec.Logs)
	}
	if *rec.Duration != 5 {
		t.Errorf("duration %d, want inc-a's 5", *rec.Duration)
	}
}

func TestHasErrorField(t *testing.T) {
	cases := []struct {
		name   string
		result string
		want   bool
	}{
		{"error field", `{"error":"x"}`, true},
		{"null error field", `{"error":null}`, true},
		{"nested error only", `{"a":{"error":1}}`, false},
		{"plain object", `{"a":1}`, false},
		{"array", `[{"error":1}]`, false},
		{"empty", ``, false},
		{"not JSON", `{"error"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasErrorField(json.RawMessage(tc.result)); got != tc.want {
				t.Errorf("hasErrorField(%s) = %v", tc.result, got)
			}
		})
	}
}

func TestSeqAccount(t *testing.T) {
	rec := func(id, result string, code int, duration *int64, limits string) *entity.Activation {
		r := &entity.Activation{ActivationID: id, Start: 100, End: 107, Duration: duration,
			Response: entity.Response{StatusCode: code, Result: json.RawMessage(result)}}
		if limits != "" {
			r.Annotations = entity.Params{{Key: entity.AnnotationLimits, Value: json.RawMessage(limits)}}
		}
		return r
	}
	d := func(v int64) *int64 { return &v }
	cases := []struct {
		name  string
		steps func(a seqAccount) seqAccount
		want  seqAccount
	}{
		{"initial", func(a seqAccount) seqAccount { return a },
			seqAccount{count: 0, response: entity.Response{Result: json.RawMessage(`{"in":1}`)}, logs: []string{}}},
		{"two successes tallied", func(a seqAccount) seqAccount {
			a = a.completed(rec("a1", `{"x":1}`, 0, d(4), `{"memory":128,"timeout":1}`), 1, 50)
			return a.completed(rec("a2", `{"x":2}`, 0, nil, `{"memory":256}`), 2, 50)
		}, seqAccount{count: 2, response: entity.Response{Result: json.RawMessage(`{"x":2}`)}, logs: []string{"a1", "a2"},
			duration: 11, maxMemory: 256, hasMemory: true}},
		{"max memory kept", func(a seqAccount) seqAccount {
			a = a.completed(rec("a1", `{}`, 0, d(1), `{"memory":512}`), 1, 50)
			return a.completed(rec("a2", `{}`, 0, d(1), `{"memory":128}`), 2, 50)
		}, seqAccount{count: 2, response: entity.Response{Result: json.RawMessage(`{}`)}, logs: []string{"a1", "a2"},
			duration: 2, maxMemory: 512, hasMemory: true}},
		{"no limits annotation", func(a seqAccount) seqAccount {
			return a.completed(rec("a1", `{}`, 0, d(1), `{"timeout":1}`), 1, 50)
		}, seqAccount{count: 1, response: entity.Response{Result: json.RawMessage(`{}`)}, logs: []string{"a1"}, duration: 1}},
		{"error field stops", func(a seqAccount) seqAccount {
			return a.completed(rec("a1", `{"error":"e"}`, 1, d(2), ""), 1, 50)
		}, seqAccount{count: 1, response: entity.Response{StatusCode: 1, Result: json.RawMessage(`{"error":"e"}`)}, logs: []string{"a1"},
			duration: 2, stop: true}},
		{"success with error field stops", func(a seqAccount) seqAccount {
			return a.completed(rec("a1", `{"error":"e"}`, 0, d(2), ""), 1, 50)
		}, seqAccount{count: 1, response: entity.Response{Result: json.RawMessage(`{"error":"e"}`)}, logs: []string{"a1"},
			duration: 2, stop: true}},
		{"over the limit", func(a seqAccount) seqAccount {
			return a.completed(rec("a1", `{"x":1}`, 0, d(2), ""), 51, 50)
		}, seqAccount{count: 51, response: entity.ErrorResponse(1, "Too many actions in the sequence."), logs: []string{"a1"},
			duration: 2, stop: true}},
		{"at the limit", func(a seqAccount) seqAccount {
			return a.completed(rec("a1", `{"x":1}`, 0, d(2), ""), 50, 50)
		}, seqAccount{count: 50, response: entity.Response{Result: json.RawMessage(`{"x":1}`)}, logs: []string{"a1"}, duration: 2}},
		{"failure with id", func(a seqAccount) seqAccount {
			a = a.completed(rec("a1", `{}`, 0, d(3), ""), 1, 50)
			return a.failed(entity.ErrorResponse(3, "t"), "a2")
		}, seqAccount{count: 1, response: entity.ErrorResponse(3, "t"), logs: []string{"a1", "a2"}, duration: 3, stop: true}},
		{"failure without id", func(a seqAccount) seqAccount {
			return a.failed(entity.ErrorResponse(1, "gone"), "")
		}, seqAccount{response: entity.ErrorResponse(1, "gone"), logs: []string{}, stop: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.steps(newSeqAccount(0, json.RawMessage(`{"in":1}`)))
			equalJSON(t, "response", got.response, string(mustMarshal(t, tc.want.response)))
			if strings.Join(got.logs, ",") != strings.Join(tc.want.logs, ",") || got.logs == nil {
				t.Errorf("logs %q, want %q", got.logs, tc.want.logs)
			}
			if got.count != tc.want.count || got.duration != tc.want.duration || got.maxMemory != tc.want.maxMemory ||
				got.hasMemory != tc.want.hasMemory || got.stop != tc.want.stop {
				t.Errorf("account %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSeqAccountDoesNotAlias(t *testing.T) {
	base := newSeqAccount(0, nil).completed(&entity.Activation{ActivationID: "a"}, 1, 50)
	x := base.completed(&entity.Activation{ActivationID: "x"}, 2, 50)
	y := base.completed(&entity.Activation{ActivationID: "y"}, 2, 50)
	if strings.Join(x.logs, ",") != "a,x" || strings.Join(y.logs, ",") != "a,y" {
		t.Errorf("logs %v %v", x.logs, y.logs)
	}
}

func TestComponentFailure(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"missing", entity.ErrNotFound, `{"statusCode":1,"result":{"error":"Sequence component does not exist."}}`},
		{"missing package", entity.Errorf(entity.ErrNotFound, "x"), `{"statusCode":1,"result":{"error":"Sequence component does not exist."}}`},
		{"a package", entity.ErrWrongCollection, `{"statusCode":1,"result":{"error":"Sequence component does not exist."}}`},
		{"deprecated kind", entity.Invalidf("The 'nodejs:10' runtime is no longer supported."), `{"statusCode":1,"result":{"error":"The 'nodejs:10' runtime is no longer supported."}}`},
		{"throttled", entity.Errorf(entity.ErrThrottled, "Too many"), `{"statusCode":1,"result":{"error":"Too many"}}`},
		{"no invokers", entity.ErrUnavailable, `{"statusCode":3,"result":{"error":"Sequence failed."}}`},
		{"internal", errors.New("boom"), `{"statusCode":3,"result":{"error":"Sequence failed."}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			equalJSON(t, "response", componentFailure(tc.err), tc.want)
		})
	}
}

func TestSequenceArgs(t *testing.T) {
	params := entity.Params{{Key: "k", Value: json.RawMessage(`1`)}, {Key: "_actions", Value: json.RawMessage(`["/guest/a"]`)}}
	cases := []struct {
		name    string
		final   bool
		body    string
		want    string
		wantErr bool
	}{
		{"empty body", false, "", `{}`, false},
		{"object body alone", false, `{"a":1,"k":2}`, `{"a":1,"k":2}`, false},
		{"array body", false, `[1, 2]`, `[1,2]`, false},
		{"final keeps its parameters", true, `{"k":2}`, "", true},
		{"final allows new keys", true, `{"z":2}`, `{"z":2}`, false},
		{"scalar", false, `1`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sequenceArgs(params, tc.final, []byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, entity.ErrInvalid) {
					t.Fatalf("err %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("args %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestSequenceRecord(t *testing.T) {
	a, err := entity.NewAction(entity.NewFQN("alice", "pkg", "seq"), entity.ActionPut{Exec: &entity.Exec{Kind: "sequence", Components: []string{"/alice/a"}}}, 1, entity.DefaultSystemLimits())
	if err != nil {
		t.Fatal(err)
	}
	caller := entity.Identity{Subject: "guest", Namespace: entity.NamespaceRef{Name: "guest"}}
	received := time.UnixMilli(1_000_000)
	start, end := received.Add(7*time.Millisecond), received.Add(40*time.Millisecond)
	acc := newSeqAccount(0, nil).completed(&entity.Activation{ActivationID: "c1", Duration: ptr64(12),
		Response:    entity.Response{StatusCode: 0, Result: json.RawMessage(`{"r":1}`)},
		Annotations: entity.Params{{Key: "limits", Value: json.RawMessage(`{"memory":384}`)}}}, 1, 50)
	cases := []struct {
		name    string
		run     seqRun
		acc     seqAccount
		want    string
		wantAnn string
	}{
		{"topmost", seqRun{inv: invocation{caller: caller, received: received}, action: a, id: "s1", cause: "ignored", topmost: true}, acc,
			`{"namespace":"guest","name":"seq","subject":"guest","activationId":"s1","start":1000007,"end":1000040,"duration":12,
			  "response":{"statusCode":0,"result":{"r":1}},"logs":["c1"],"version":"0.0.1","publish":false}`,
			`[{"key":"topmost","value":true},{"key":"path","value":"alice/pkg/seq"},{"key":"kind","value":"sequence"},{"key":"waitTime","value":7},
			  {"key":"limits","value":{"timeout":60000,"memory":384,"logs":10,"concurrency":1}}]`},
		{"nested", seqRun{inv: invocation{caller: caller, received: received}, action: a, id: "s2", cause: "s1"}, newSeqAccount(0, json.RawMessage(`{}`)).failed(entity.ErrorResponse(1, "gone"), ""),
			`{"namespace":"guest","name":"seq","subject":"guest","activationId":"s2","cause":"s1","start":1000007,"end":1000040,"duration":0,
			  "response":{"statusCode":1,"result":{"error":"gone"}},"logs":[],"version":"0.0.1","publish":false}`,
			`[{"key":"topmost","value":false},{"key":"path","value":"alice/pkg/seq"},{"key":"kind","value":"sequence"},{"key":"causedBy","value":"sequence"},{"key":"waitTime","value":7}]`},
		{"no received time", seqRun{inv: invocation{caller: caller}, action: a, id: "s3", topmost: true}, newSeqAccount(0, json.RawMessage(`{}`)),
			`{"namespace":"guest","name":"seq","subject":"guest","activationId":"s3","start":1000007,"end":1000040,"duration":0,
			  "response":{"statusCode":0,"result":{}},"logs":[],"version":"0.0.1","publish":false}`,
			`[{"key":"topmost","value":true},{"key":"path","value":"alice/pkg/seq"},{"key":"kind","value":"sequence"},{"key":"waitTime","value":0}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := sequenceRecord(tc.run, tc.acc, start, end)
			ann := rec.Annotations
			rec.Annotations = nil
			var m map[string]any
			_ = json.Unmarshal(mustMarshal(t, rec), &m)
			delete(m, "annotations")
			equalJSON(t, "record", m, tc.want)
			equalJSON(t, "annotations", ann, tc.wantAnn)
		})
	}
}

func ptr64(v int64) *int64 { return &v }

package controller

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

// condActivator is the seqActivator (sequence_test.go) with one more
// behaviour, by the prefix of the action's name:
//
//	cond  result = the arguments, as an application error when they have an
//	      "error" field (as a runtime reports an action returning one),
//	      duration 3 ms; with the conductor annotation it echoes its
//	      arguments back as the continuation
type condActivator struct {
	seqActivator
}

func (f *condActivator) Activate(ctx context.Context, req ActivationRequest) (<-chan *entity.Activation, error) {
	if behaviour, _, _ := strings.Cut(req.Action.Name, "-"); behaviour != "cond" {
		return f.seqActivator.Activate(ctx, req)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	rec := fakeRecord(req, "ok")
	if hasErrorField(req.Args) {
		rec.Response.StatusCode = entity.StatusApplicationError
	}
	ch := make(chan *entity.Activation, 1)
	ch <- rec
	return ch, nil
}

func withCondFake(f *condActivator) func(*Config) {
	return func(c *Config) {
		f.store = c.Activations
		c.Activator = f
	}
}

const conductorAnn = `[{"key":"conductor","value":true}]`

// putConductor creates guest's conductor name (an echo, see condActivator).
func putConductor(t *testing.T, ts *testServer, name string) {
	t.Helper()
	putOK(t, ts, actionsPath+name+"?overwrite=true", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":`+conductorAnn+`}`)
}

// nestConductors is an argument object that makes the echo conductor cond
// start a nested composition of itself depth-1 times.
func nestConductors(cond string, depth int) string {
	body := `{"n":0}`
	for range depth - 1 {
		body = `{"action":"` + cond + `","params":` + body + `}`
	}
	return body
}

// chainComponents is an argument object that makes the echo conductor run
// the component comp n times (each next step is carried in the state).
func chainComponents(comp string, n int) string {
	state := `{}`
	for range n {
		state = `{"action":"` + comp + `","state":` + state + `}`
	}
	return state
}

func TestConductorInvoke(t *testing.T) {
	fake := &condActivator{}
	ts := newTestServer(t, withCondFake(fake))
	putConductor(t, ts, "cond-c")
	putLimited(t, ts, "inc-a", 128)
	putLimited(t, ts, "inc-b", 512)
	putTestAction(t, ts, "_", "unavail-1", "", "")
	putTestAction(t, ts, "_", "throttled-1", "", "")
	putTestAction(t, ts, aliceNS, "ok-private", "", "", aliceAuth)
	putSeq(t, ts, "ab", "/_/inc-a", "/_/inc-b")

	cases := []struct {
		name, body string
		status     int
		response   string // the record's response
		logs       int
		check      func(t *testing.T, rec *entity.Activation, reqs []ActivationRequest)
	}{
		{name: "no component: the result is the conductor's", body: `{"payload":"x"}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"payload":"x"}}`, logs: 1,
			check: func(t *testing.T, rec *entity.Activation, reqs []ActivationRequest) {
				if rec.Duration == nil || *rec.Duration != 3 {
					t.Errorf("duration %v, want 3", rec.Duration)
				}
				if rec.Logs[0] != reqs[0].ActivationID || reqs[0].Action.Name != "cond-c" || !reqs[0].Blocking {
					t.Errorf("logs %v, requests %+v", rec.Logs, reqs)
				}
			}},
		{name: "params unwrapped", body: `{"params":{"p":1},"other":2}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"p":1}}`, logs: 1},
		{name: "non-object params boxed", body: `{"params":5}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"value":5}}`, logs: 1},
		{name: "conductor error ends it", body: `{"error":"stop","action":"inc-a"}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"stop","action":"inc-a"}}`, logs: 1},
		{name: "one component", body: `{"action":"inc-a","params":{"n":1}}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"n":2}}`, logs: 3,
			check: func(t *testing.T, rec *entity.Activation, reqs []ActivationRequest) {
				if len(reqs) != 3 || reqs[1].Action.Name != "inc-a" || reqs[2].Action.Name != "cond-c" {
					t.Fatalf("requests %+v", reqs)
				}
				equalJSON(t, "component args", reqs[1].Args, `{"n":1}`)
				equalJSON(t, "second conductor args", reqs[2].Args, `{"n":2}`)
				for i, r := range reqs {
					if rec.Logs[i] != r.ActivationID {
						t.Errorf("logs %v, want the requests' ids in order", rec.Logs)
					}
				}
				if *rec.Duration != 3+5+3 {
					t.Errorf("duration %d, want 11", *rec.Duration)
				}
			}},
		{name: "state carried", body: `{"action":"inc-a","params":{"n":1},"state":{"witness":42,"n":7}}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"n":7,"witness":42}}`, logs: 3,
			check: func(t *testing.T, _ *entity.Activation, reqs []ActivationRequest) {
				equalJSON(t, "second conductor args", reqs[2].Args, `{"n":7,"witness":42}`)
			}},
		{name: "two components", body: `{"action":"inc-a","params":{"n":1},"state":{"action":"inc-b","params":{"n":10}}}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"n":11}}`, logs: 5,
			check: func(t *testing.T, rec *entity.Activation, reqs []ActivationRequest) {
				if reqs[3].Action.Name != "inc-b" {
					t.Errorf("fourth request %s, want inc-b", reqs[3].Action.Name)
				}
				if got := annotationJSON(rec, "limits"); !strings.Contains(got, `"memory":512`) {
					t.Errorf("limits %s, want the largest memory 512", got)
				}
			}},
		{name: "no params: the component gets none", body: `{"action":"inc-a"}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"n":1}}`, logs: 3,
			check: func(t *testing.T, _ *entity.Activation, reqs []ActivationRequest) {
				equalJSON(t, "component args", reqs[1].Args, `{}`)
			}},
		{name: "non-object params boxed for the component", body: `{"action":"inc-a","params":[1]}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"value":[1],"n":1}}`, logs: 3},
		{name: "invalid name fed back", body: `{"action":"invalid#Action","state":{"s":1}}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"Failed to parse action name from json value \"invalid#Action\" during composition.","s":1}}`, logs: 2},
		{name: "non-string name fed back", body: `{"action":{"a":1}}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"Failed to parse action name from json value {\"a\":1} during composition."}}`, logs: 2},
		{name: "missing component fed back", body: `{"action":"gone"}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"Failed to resolve action with name 'guest/gone' during composition."}}`, logs: 2},
		{name: "default namespace resolved", body: `{"action":"/_/pkg/gone"}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"Failed to resolve action with name 'guest/pkg/gone' during composition."}}`, logs: 2},
		{name: "forbidden component fed back", body: `{"action":"/alice/ok-private"}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"Failed entitlement check for action with name 'alice/ok-private' during composition."}}`, logs: 2},
		{name: "component failure ends it", body: `{"action":"unavail-1"}`, status: http.StatusInternalServerError,
			response: `{"statusCode":3,"result":{"error":"Activation failure during composition."}}`, logs: 1},
		{name: "throttled component is an application error", body: `{"action":"throttled-1"}`, status: http.StatusBadGateway,
			response: `{"statusCode":1,"result":{"error":"Too many concurrent requests in flight (count: 30, allowed: 30)."}}`, logs: 1},
		{name: "nested composition", body: `{"action":"cond-c","params":{"action":"inc-a","params":{"n":1}}}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"n":2}}`, logs: 3,
			check: func(t *testing.T, rec *entity.Activation, _ []ActivationRequest) {
				inner := storedRecord(t, ts, rec.Logs[1])
				if inner.Name != "cond-c" || inner.Cause != rec.ActivationID || len(inner.Logs) != 3 {
					t.Errorf("nested record %+v", inner)
				}
				for k, want := range map[string]string{"topmost": "false", "causedBy": `"sequence"`, "conductor": "true", "kind": `"sequence"`} {
					if got := annotationJSON(inner, k); got != want {
						t.Errorf("nested annotation %s = %s, want %s", k, got, want)
					}
				}
				innerReqs := requestsOf(fake.requests(), inner.ActivationID)
				if len(innerReqs) != 3 {
					t.Errorf("nested composition made %d requests, want 3", len(innerReqs))
				}
				if *rec.Duration != 3+11+3 {
					t.Errorf("duration %d, want 17", *rec.Duration)
				}
			}},
		{name: "sequence component", body: `{"action":"ab","params":{"n":0}}`, status: http.StatusOK,
			response: `{"statusCode":0,"result":{"n":2}}`, logs: 3,
			check: func(t *testing.T, rec *entity.Activation, _ []ActivationRequest) {
				seq := storedRecord(t, ts, rec.Logs[1])
				if seq.Name != "ab" || seq.Cause != rec.ActivationID || len(seq.Logs) != 2 || annotationJSON(seq, "conductor") != "" {
					t.Errorf("sequence record %+v", seq)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(http.MethodPost, actionsPath+"cond-c?blocking=true", tc.body).wantStatus(tc.status)
			id := r.Header.Get(headerActivationID)
			if r.Obj()["activationId"] != id {
				t.Fatalf("response %s", r.Body)
			}
			rec := storedRecord(t, ts, id)
			equalJSON(t, "response", rec.Response, tc.response)
			if len(rec.Logs) != tc.logs {
				t.Errorf("logs %v, want %d ids", rec.Logs, tc.logs)
			}
			for k, want := range map[string]string{"topmost": "true", "kind": `"sequence"`, "conductor": "true", "path": `"guest/cond-c"`, "causedBy": ""} {
				if got := annotationJSON(rec, k); got != want {
					t.Errorf("annotation %s = %s, want %s", k, got, want)
				}
			}
			if annotationJSON(rec, "waitTime") == "" || annotationJSON(rec, "limits") == "" {
				t.Errorf("annotations %s", mustMarshal(t, rec.Annotations))
			}
			if rec.Cause != "" || rec.Name != "cond-c" || rec.Namespace != "guest" {
				t.Errorf("record %+v", rec)
			}
			reqs := requestsOf(fake.requests(), id)
			for _, q := range reqs {
				if !q.Blocking || q.Identity.Namespace.Name != "guest" || q.TransactionID == "" {
					t.Errorf("request %+v", q)
				}
			}
			if tc.check != nil {
				tc.check(t, rec, reqs)
			}
		})
	}
}

// TestConductorLimits: at most SequenceMaxLength components and
// 2×SequenceMaxLength+1 conductor activations per topmost composition,
// nested compositions included.
func TestConductorLimits(t *testing.T) {
	fake := &condActivator{}
	ts := newTestServer(t, withCondFake(fake), func(c *Config) { c.Limits.SequenceMaxLength = 3 })
	putConductor(t, ts, "cond-c")
	putLimited(t, ts, "inc-a", 128)
	tooLong := `{"statusCode":1,"result":{"error":"Too many actions in the composition."}}`

	cases := []struct {
		name, body, response string
		logs                 int
	}{
		{name: "components at the limit", body: chainComponents("inc-a", 3), response: `{"statusCode":0,"result":{"n":1}}`, logs: 7},
		{name: "one component too many", body: chainComponents("inc-a", 4), response: tooLong, logs: 8},
		{name: "conductor activations at the limit", body: nestConductors("cond-c", 4), response: `{"statusCode":0,"result":{"n":0}}`, logs: 3},
		{name: "one conductor activation too many", body: nestConductors("cond-c", 5), response: tooLong, logs: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(http.MethodPost, actionsPath+"cond-c?blocking=true", tc.body)
			rec := storedRecord(t, ts, r.Header.Get(headerActivationID))
			equalJSON(t, "response", rec.Response, tc.response)
			if len(rec.Logs) != tc.logs {
				t.Errorf("logs %v, want %d ids", rec.Logs, tc.logs)
			}
		})
	}
}

// TestConductorPaths: a conductor runs as a composition from every path
// that starts an action: non-blocking invoke, a blocking invoke whose wait
// ends first, a sequence component and a web action; the annotation is
// ignored on a sequence; bad arguments are refused before it starts.
func TestConductorPaths(t *testing.T) {
	fake := &condActivator{seqActivator: seqActivator{gate: make(chan struct{})}}
	ts := newTestServer(t, withCondFake(fake))
	putConductor(t, ts, "cond-c")
	putLimited(t, ts, "inc-a", 128)
	putLimited(t, ts, "gate-g", 128)
	putOK(t, ts, actionsPath+"cond-web", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"conductor","value":true},{"key":"web-export","value":true}]}`)
	putOK(t, ts, actionsPath+"cond-final", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"p","value":1}],"annotations":[{"key":"conductor","value":true},{"key":"final","value":true}]}`)
	putSeq(t, ts, "withcond", "/_/inc-a", "/_/cond-c")
	putOK(t, ts, actionsPath+"seqcond", `{"exec":{"kind":"sequence","components":["/_/inc-a"]},"annotations":`+conductorAnn+`}`)

	t.Run("non-blocking", func(t *testing.T) {
		r := ts.do(http.MethodPost, actionsPath+"cond-c", `{"action":"inc-a","params":{"n":4}}`).wantStatus(http.StatusAccepted)
		rec := storedRecord(t, ts, r.Obj()["activationId"].(string))
		equalJSON(t, "response", rec.Response, `{"statusCode":0,"result":{"n":5}}`)
	})
	t.Run("conductor in a sequence", func(t *testing.T) {
		r := ts.do(http.MethodPost, actionsPath+"withcond?blocking=true&result=true", `{"n":0,"action":"inc-a"}`).wantStatus(http.StatusOK)
		equalJSON(t, "result", r.JSON, `{"n":1}`)
		seq := storedRecord(t, ts, r.Header.Get(headerActivationID))
		comp := storedRecord(t, ts, seq.Logs[1])
		if comp.Cause != seq.ActivationID || annotationJSON(comp, "conductor") != "true" || annotationJSON(comp, "topmost") != "false" || len(comp.Logs) != 3 {
			t.Errorf("composition record %+v", comp)
		}
	})
	t.Run("web action", func(t *testing.T) {
		r := webReq(t, ts, http.MethodPost, "/api/v1/web/guest/default/cond-web.json", "application/json", `{"params":{"x":1}}`, noAuth).wantStatus(http.StatusOK)
		equalJSON(t, "body", r.JSON, `{"x":1}`)
		rec := storedRecord(t, ts, r.Header.Get(headerActivationID))
		if annotationJSON(rec, "conductor") != "true" {
			t.Errorf("record %+v", rec)
		}
	})
	t.Run("annotation ignored on a sequence", func(t *testing.T) {
		r := ts.do(http.MethodPost, actionsPath+"seqcond?blocking=true", `{"n":0}`).wantStatus(http.StatusOK)
		rec := storedRecord(t, ts, r.Header.Get(headerActivationID))
		if annotationJSON(rec, "conductor") != "" || len(rec.Logs) != 1 {
			t.Errorf("record %+v", rec)
		}
	})
	t.Run("final parameter override refused", func(t *testing.T) {
		before := len(fake.requests())
		r := ts.do(http.MethodPost, actionsPath+"cond-final?blocking=true", `{"p":2}`).wantStatus(http.StatusBadRequest)
		if r.ErrMsg() != msgParametersNotAllowed || len(fake.requests()) != before {
			t.Errorf("body %s, %d activations", r.Body, len(fake.requests())-before)
		}
	})
	t.Run("blocking wait ends first", func(t *testing.T) {
		r := ts.do(http.MethodPost, actionsPath+"cond-c?blocking=true&timeout=50", `{"action":"gate-g","params":{"n":0}}`).wantStatus(http.StatusAccepted)
		id := r.Header.Get(headerActivationID)
		equalJSON(t, "body", r.JSON, `{"activationId":"`+id+`"}`)
		close(fake.gate)
		rec := storedRecord(t, ts, id)
		equalJSON(t, "response", rec.Response, `{"statusCode":0,"result":{"n":1}}`)
	})
}

// TestConductorActivationTimeout: a component whose record does not come
// ends the composition with a whisk error naming it.
func TestConductorActivationTimeout(t *testing.T) {
	fake := &condActivator{}
	ts := newTestServer(t, withCondFake(fake))
	putConductor(t, ts, "cond-c")
	putTestAction(t, ts, "_", "hang-1", "", "")
	ra, err := ts.Server.resolveAction(context.Background(), entity.NewFQN("guest", "", "cond-c"))
	if err != nil {
		t.Fatal(err)
	}
	run := compRun{
		inv: invocation{caller: entity.Identity{Subject: "guest", Namespace: entity.NamespaceRef{Name: "guest", UUID: entity.GuestUUID}}, tid: "t1", received: time.Now()},
		ra:  ra, id: entity.NewActivationID(), topmost: true,
	}
	// The wait for hang-1 ends with ctx (its own bound is timeout + 1 min).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rec := ts.Server.runComposition(ctx, run, &compCount{}, json.RawMessage(`{"action":"hang-1"}`))
	reqs := requestsOf(fake.requests(), run.id)
	if len(reqs) != 2 {
		t.Fatalf("requests %d, want the conductor and hang-1", len(reqs))
	}
	hang := reqs[1].ActivationID
	equalJSON(t, "response", rec.Response, `{"statusCode":3,"result":{"error":"Timeout reached when retrieving activation `+hang+` during composition."}}`)
	if len(rec.Logs) != 2 || rec.Logs[1] != hang {
		t.Errorf("logs %v, want the conductor's and hang-1's ids", rec.Logs)
	}
}

func TestParseConductorResult(t *testing.T) {
	ok := func(result string) entity.Response {
		return entity.Response{StatusCode: entity.StatusSuccess, Result: json.RawMessage(result)}
	}
	cases := []struct {
		name string
		resp entity.Response
		want conductorStep
	}{
		{name: "params object", resp: ok(`{"params":{"a":1},"x":2}`),
			want: conductorStep{done: true, response: ok(`{"a":1}`)}},
		{name: "params boxed", resp: ok(`{"params":"s"}`),
			want: conductorStep{done: true, response: ok(`{"value":"s"}`)}},
		{name: "no params: the whole result", resp: ok(`{"x":2}`),
			want: conductorStep{done: true, response: ok(`{"x":2}`)}},
		{name: "status kept", resp: entity.Response{StatusCode: entity.StatusDeveloperError, Result: json.RawMessage(`{"params":{"a":1}}`)},
			want: conductorStep{done: true, response: entity.Response{StatusCode: entity.StatusDeveloperError, Result: json.RawMessage(`{"a":1}`)}}},
		{name: "error ends it as it is", resp: entity.Response{StatusCode: entity.StatusApplicationError, Result: json.RawMessage(`{"error":"e","action":"a"}`)},
			want: conductorStep{done: true, response: entity.Response{StatusCode: entity.StatusApplicationError, Result: json.RawMessage(`{"error":"e","action":"a"}`)}}},
		{name: "array result", resp: ok(`[1]`),
			want: conductorStep{done: true, response: ok(`[1]`)}},
		{name: "next with params and state", resp: ok(`{"action":"a","params":{"p":1},"state":{"s":2}}`),
			want: conductorStep{action: json.RawMessage(`"a"`), params: json.RawMessage(`{"p":1}`), state: json.RawMessage(`{"s":2}`)}},
		{name: "state boxed", resp: ok(`{"action":"a","state":3}`),
			want: conductorStep{action: json.RawMessage(`"a"`), state: json.RawMessage(`{"state":3}`)}},
		{name: "null action", resp: ok(`{"action":null}`),
			want: conductorStep{action: json.RawMessage(`null`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseConductorResult(tc.resp)
			if got.done != tc.want.done || string(got.action) != string(tc.want.action) ||
				string(got.params) != string(tc.want.params) || string(got.state) != string(tc.want.state) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tc.want.done {
				equalJSON(t, "response", got.response, string(mustMarshal(t, tc.want.response)))
			}
		})
	}
}

func TestConductorArgs(t *testing.T) {
	cases := []struct {
		name, payload, state, want string
	}{
		{name: "no state: as it is", payload: `{"a":1}`, want: `{"a":1}`},
		{name: "no state: array as it is", payload: `[1]`, want: `[1]`},
		{name: "no state, no payload", want: ``},
		{name: "state added and wins", payload: `{"a":1,"s":0}`, state: `{"s":2}`, want: `{"a":1,"s":2}`},
		{name: "array boxed with state", payload: `[1]`, state: `{"s":2}`, want: `{"value":[1],"s":2}`},
		{name: "state alone", state: `{"s":2}`, want: `{"s":2}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p, s json.RawMessage
			if tc.payload != "" {
				p = json.RawMessage(tc.payload)
			}
			if tc.state != "" {
				s = json.RawMessage(tc.state)
			}
			got := conductorArgs(p, s)
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("got %s, want nothing", got)
				}
				return
			}
			equalJSON(t, "args", got, tc.want)
		})
	}
}

func TestNextComponent(t *testing.T) {
	cases := []struct {
		name, action string
		count        compCount
		want, msg    string
	}{
		{name: "relative", action: `"a"`, want: "guest/a"},
		{name: "in a package", action: `"pkg/a"`, want: "guest/pkg/a"},
		{name: "fully qualified", action: `"/alice/a"`, want: "alice/a"},
		{name: "three segments", action: `"alice/pkg/a"`, want: "alice/pkg/a"},
		{name: "default namespace", action: `"/_/a"`, want: "guest/a"},
		{name: "illegal name", action: `"invalid#Action"`, msg: `Failed to parse action name from json value "invalid#Action" during composition.`},
		{name: "empty", action: `""`, msg: `Failed to parse action name from json value "" during composition.`},
		{name: "too many segments", action: `"/a/b/c/d"`, msg: `Failed to parse action name from json value "/a/b/c/d" during composition.`},
		{name: "not a string", action: `42`, msg: `Failed to parse action name from json value 42 during composition.`},
		{name: "below the limit", action: `"a"`, count: compCount{components: 49}, want: "guest/a"},
		{name: "at the limit", action: `"a"`, count: compCount{components: 50}, msg: msgCompositionTooLong},
		{name: "invalid at the limit", action: `1`, count: compCount{components: 50}, msg: `Failed to parse action name from json value 1 during composition.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := nextComponent(json.RawMessage(tc.action), "guest", tc.count, 50)
			if msg != tc.msg || (tc.msg == "" && got.DocID() != tc.want) {
				t.Errorf("got %q, %q; want %q, %q", got.DocID(), msg, tc.want, tc.msg)
			}
		})
	}
}

func TestCompCountLimits(t *testing.T) {
	cases := []struct {
		name                 string
		c                    compCount
		conductor, component bool
	}{
		{name: "fresh", c: compCount{}, conductor: true, component: true},
		{name: "last conductor activation", c: compCount{conductors: 100, components: 49}, conductor: true, component: true},
		{name: "conductors exhausted", c: compCount{conductors: 101}, conductor: false, component: true},
		{name: "components exhausted", c: compCount{conductors: 50, components: 50}, conductor: true, component: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.conductorAllowed(50); got != tc.conductor {
				t.Errorf("conductorAllowed = %v", got)
			}
			if got := tc.c.componentAllowed(50); got != tc.component {
				t.Errorf("componentAllowed = %v", got)
			}
		})
	}
}

func TestCompositionRecord(t *testing.T) {
	action := &entity.Action{}
	action.Namespace, action.Name, action.Version = "guest/pkg", "c", entity.SemVer{Patch: 2}
	action.Limits = entity.ActionLimits{Timeout: 1000, Memory: 256, Logs: 10, Concurrency: 1}
	caller := entity.Identity{Subject: "subj", Namespace: entity.NamespaceRef{Name: "guest"}}
	received := time.UnixMilli(1_000_000)
	start, end := received.Add(7*time.Millisecond), received.Add(50*time.Millisecond)
	resp := entity.Response{StatusCode: entity.StatusSuccess, Result: json.RawMessage(`{"r":1}`)}
	cases := []struct {
		name          string
		run           compRun
		tally         compTally
		want, wantAnn string
	}{
		{name: "topmost", run: compRun{inv: invocation{caller: caller, received: received}, id: "id1", topmost: true},
			tally: compTally{logs: []string{"a", "b", "c"}, duration: 12, maxMemory: 128},
			want:  `{"namespace":"guest","name":"c","subject":"subj","activationId":"id1","start":1000007,"end":1000050,"duration":12,"response":{"statusCode":0,"result":{"r":1}},"logs":["a","b","c"],"version":"0.0.2","publish":false}`,
			wantAnn: `[{"key":"topmost","value":true},{"key":"path","value":"guest/pkg/c"},{"key":"kind","value":"sequence"},{"key":"conductor","value":true},` +
				`{"key":"waitTime","value":7},{"key":"limits","value":{"timeout":1000,"memory":256,"logs":10,"concurrency":1}}]`},
		{name: "nested, larger component memory", run: compRun{inv: invocation{caller: caller}, id: "id2", cause: "parent"},
			tally: compTally{duration: 0, maxMemory: 512},
			want:  `{"namespace":"guest","name":"c","subject":"subj","activationId":"id2","cause":"parent","start":1000007,"end":1000050,"duration":0,"response":{"statusCode":0,"result":{"r":1}},"logs":[],"version":"0.0.2","publish":false}`,
			wantAnn: `[{"key":"topmost","value":false},{"key":"path","value":"guest/pkg/c"},{"key":"kind","value":"sequence"},{"key":"conductor","value":true},` +
				`{"key":"causedBy","value":"sequence"},{"key":"waitTime","value":0},{"key":"limits","value":{"timeout":1000,"memory":512,"logs":10,"concurrency":1}}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run.ra = resolvedAction{Action: action}
			rec := compositionRecord(tc.run, tc.tally, resp, start, end)
			ann := rec.Annotations
			rec.Annotations = nil
			var m map[string]any
			if err := json.Unmarshal(mustMarshal(t, rec), &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "annotations")
			equalJSON(t, "record", m, tc.want)
			equalJSON(t, "annotations", ann, tc.wantAnn)
		})
	}
}

func TestCompTallyDoesNotAlias(t *testing.T) {
	base := compTally{logs: make([]string, 1, 4)}
	a := base.add(&entity.Activation{ActivationID: "a"})
	b := base.addID("b")
	if a.logs[1] != "a" || b.logs[1] != "b" {
		t.Errorf("tallies share logs: %v %v", a.logs, b.logs)
	}
}

// A conductor that names a sequence holding that conductor nests a new
// composition in a new sequence each round; each counts its actions
// afresh, so the crossings between them are bounded instead (by the
// sequence length limit).
func TestConductorSequenceRecursionBounded(t *testing.T) {
	fake := &condActivator{}
	ts := newTestServer(t, withCondFake(fake), func(c *Config) { c.Limits.SequenceMaxLength = 3 })
	putConductor(t, ts, "cond-c")
	putSeq(t, ts, "loop", "/_/cond-c")
	body := `{"n":0}`
	for range 12 {
		body = `{"action":"loop","params":` + body + `}`
	}
	r := ts.do(http.MethodPost, actionsPath+"cond-c?blocking=true", body)
	rec := storedRecord(t, ts, r.Header.Get(headerActivationID))
	if rec.Response.StatusCode != entity.StatusApplicationError || !strings.Contains(string(rec.Response.Result), "Too many actions in the") {
		t.Fatalf("response %s %s, want the nesting stopped", entity.StatusName(rec.Response.StatusCode), rec.Response.Result)
	}
}

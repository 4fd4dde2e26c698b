package controller

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

const rulesPath = "/api/v1/namespaces/_/rules/"

// triggerRules reads the rules map of trigger guest/name from the store.
func triggerRules(t *testing.T, ts *testServer, name string) map[string]entity.ReducedRule {
	t.Helper()
	d, err := ts.Stores.Entities.Get(context.Background(), entity.KindTrigger, entity.NewFQN("guest", "", name))
	if err != nil {
		t.Fatalf("get trigger %s: %v", name, err)
	}
	return d.(*entity.Trigger).Rules
}

func TestRules(t *testing.T) {
	ts := newTestServer(t)
	putTestAction(t, ts, "_", "a", "", "")
	putTestAction(t, ts, "_", "b", "", "")
	putOK(t, ts, "/api/v1/namespaces/_/packages/p", `{}`)
	putTestAction(t, ts, "_", "p/pa", "", "")
	putTestAction(t, ts, aliceNS, "secret", "", "", aliceAuth)
	putOK(t, ts, "/api/v1/namespaces/alice/packages/pub", `{"publish":true}`, aliceAuth)
	putTestAction(t, ts, aliceNS, "pub/shared", "", "", aliceAuth)
	putOK(t, ts, triggersPath+"t1", `{}`)
	putOK(t, ts, triggersPath+"t2", `{}`)
	putOK(t, ts, "/api/v1/namespaces/alice/triggers/at", `{}`, aliceAuth)

	link := func(trigger, rule string) (entity.ReducedRule, bool) {
		r, ok := triggerRules(t, ts, trigger)["guest/"+rule]
		return r, ok
	}
	wantStatus := func(rule, status string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			g := ts.do("GET", rulesPath+rule, "").wantStatus(200).Obj()
			if g["status"] != status {
				t.Errorf("GET status %v, want %s", g["status"], status)
			}
		}
	}

	steps := []struct {
		name, method, path, body string
		status                   int
		errContains              string
		check                    func(t *testing.T, r response)
	}{
		{name: "missing trigger", method: "PUT", path: "r1", body: `{"trigger":"/_/nt","action":"/_/a"}`, status: 400, errContains: "trigger /guest/nt does not exist"},
		{name: "missing action", method: "PUT", path: "r1", body: `{"trigger":"t1","action":"na"}`, status: 400, errContains: "action /guest/na does not exist"},
		{name: "missing references", method: "PUT", path: "r1", body: `{"trigger":"t1"}`, status: 400, errContains: "rule requires a valid trigger and a valid action"},
		{name: "empty body", method: "PUT", path: "r1", body: ``, status: 400, errContains: "rule requires a valid trigger and a valid action"},
		{name: "malformed reference", method: "PUT", path: "r1", body: `{"trigger":"/a/b/c/d","action":"a"}`, status: 400},
		{name: "foreign trigger", method: "PUT", path: "r1", body: `{"trigger":"/alice/at","action":"a"}`, status: 403},
		{name: "foreign private action", method: "PUT", path: "r1", body: `{"trigger":"t1","action":"/alice/secret"}`, status: 403},
		{name: "create", method: "PUT", path: "r1", body: `{"trigger":"/_/t1","action":"/_/a","status":"inactive"}`, status: 200,
			check: func(t *testing.T, r response) {
				m := r.Obj()
				equalJSON(t, "rule", map[string]any{"namespace": m["namespace"], "name": m["name"], "version": m["version"],
					"status": m["status"], "trigger": m["trigger"], "action": m["action"], "annotations": m["annotations"], "publish": m["publish"]},
					`{"namespace":"guest","name":"r1","version":"0.0.1","status":"active","publish":false,"annotations":[],
					"trigger":{"path":"guest","name":"t1"},"action":{"path":"guest","name":"a"}}`)
				if l, ok := link("t1", "r1"); !ok || l.Status != "active" || l.Action.DocID() != "guest/a" {
					t.Errorf("trigger link %+v %v", l, ok)
				}
			}},
		{name: "get active", method: "GET", path: "r1", status: 200, check: wantStatus("r1", "active")},
		{name: "create again without overwrite", method: "PUT", path: "r1", body: `{"trigger":"t1","action":"a"}`, status: 409, errContains: "resource already exists"},
		{name: "disable", method: "POST", path: "r1", body: `{"status":"inactive"}`, status: 200,
			check: func(t *testing.T, r response) {
				if string(r.Body) != "OK" {
					t.Errorf("body %q", r.Body)
				}
				wantStatus("r1", "inactive")(t, r)
				if l, _ := link("t1", "r1"); l.Status != "inactive" {
					t.Errorf("link %+v", l)
				}
			}},
		{name: "disable again", method: "POST", path: "r1", body: `{"status":"inactive"}`, status: 200, check: wantStatus("r1", "inactive")},
		{name: "bad status", method: "POST", path: "r1", body: `{"status":"activating"}`, status: 400, errContains: "status"},
		{name: "missing status", method: "POST", path: "r1", body: `{}`, status: 400, errContains: "status"},
		{name: "status not JSON", method: "POST", path: "r1", body: `active`, status: 400, errContains: "malformed"},
		{name: "state of missing rule", method: "POST", path: "nope", body: `{"status":"active"}`, status: 404},
		{name: "move to another trigger keeps status", method: "PUT", path: "r1?overwrite=true", body: `{"trigger":"t2","annotations":[{"key":"k","value":1}]}`, status: 200,
			check: func(t *testing.T, r response) {
				m := r.Obj()
				if m["status"] != "inactive" || m["version"] != "0.0.2" {
					t.Errorf("rule %s", r.Body)
				}
				equalJSON(t, "action kept", m["action"], `{"path":"guest","name":"a"}`)
				equalJSON(t, "annotations", m["annotations"], `[{"key":"k","value":1}]`)
				if _, ok := link("t1", "r1"); ok {
					t.Error("old trigger still links the rule")
				}
				if l, ok := link("t2", "r1"); !ok || l.Status != "inactive" {
					t.Errorf("new trigger link %+v %v", l, ok)
				}
			}},
		{name: "enable", method: "POST", path: "r1", body: `{"status":"active"}`, status: 200, check: wantStatus("r1", "active")},
		{name: "update action keeps status", method: "PUT", path: "r1?overwrite=true", body: `{"action":"p/pa"}`, status: 200,
			check: func(t *testing.T, r response) {
				if r.Obj()["status"] != "active" {
					t.Errorf("rule %s", r.Body)
				}
				if l, _ := link("t2", "r1"); l.Action.DocID() != "guest/p/pa" || l.Status != "active" {
					t.Errorf("link %+v", l)
				}
			}},
		{name: "update with missing action", method: "PUT", path: "r1?overwrite=true", body: `{"action":"zz"}`, status: 400, errContains: "action /guest/zz does not exist"},
		{name: "rule on published foreign action", method: "PUT", path: "r2", body: `{"trigger":"t1","action":"/alice/pub/shared"}`, status: 200,
			check: func(t *testing.T, r response) {
				equalJSON(t, "action", r.Obj()["action"], `{"path":"alice/pub","name":"shared"}`)
			}},
		{name: "list has no status", method: "GET", path: "", status: 200,
			check: func(t *testing.T, r response) {
				a := r.Arr()
				if len(a) != 2 {
					t.Fatalf("list %s", r.Body)
				}
				for _, e := range a {
					if _, ok := e.(map[string]any)["status"]; ok {
						t.Errorf("list row has status: %v", e)
					}
				}
			}},
		{name: "count", method: "GET", path: "/api/v1/namespaces/_/rules?count=true", status: 200,
			check: func(t *testing.T, r response) { equalJSON(t, "count", r.JSON, `{"rules":2}`) }},
		{name: "bad skip", method: "GET", path: "/api/v1/namespaces/_/rules?skip=-1", status: 400, errContains: "The value '-1' is not greater than or equal to 0 for rules."},
		{name: "foreign namespace", method: "GET", path: "/api/v1/namespaces/alice/rules/r1", status: 403},
		{name: "delete", method: "DELETE", path: "r2", status: 200,
			check: func(t *testing.T, r response) {
				if r.Obj()["status"] != "inactive" {
					t.Errorf("rule %s", r.Body)
				}
				if _, ok := link("t1", "r2"); ok {
					t.Error("trigger still links the deleted rule")
				}
			}},
		{name: "get deleted", method: "GET", path: "r2", status: 404},
		{name: "delete missing", method: "DELETE", path: "r2", status: 404},
		{name: "trigger deleted", method: "DELETE", path: triggersPath + "t2", status: 200},
		{name: "status inactive without trigger", method: "GET", path: "r1", status: 200, check: wantStatus("r1", "inactive")},
		{name: "activate without trigger", method: "POST", path: "r1", body: `{"status":"active"}`, status: 404, errContains: "Only rules with existing triggers can be activated"},
		{name: "deactivate without trigger", method: "POST", path: "r1", body: `{"status":"inactive"}`, status: 200},
		{name: "delete without trigger", method: "DELETE", path: "r1", status: 200,
			check: func(t *testing.T, r response) { equalJSON(t, "status", r.Obj()["status"], `"inactive"`) }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			path := st.path
			if !strings.HasPrefix(path, "/") {
				path = rulesPath + path
			}
			r := ts.do(st.method, path, st.body).wantStatus(st.status)
			if st.errContains != "" && !strings.Contains(r.ErrMsg(), st.errContains) {
				t.Errorf("error %q, want it to contain %q", r.ErrMsg(), st.errContains)
			}
			if st.check != nil {
				st.check(t, r)
			}
		})
	}
}

func TestRuleCreateOverwriteNew(t *testing.T) {
	ts := newTestServer(t)
	putTestAction(t, ts, "_", "a", "", "")
	putOK(t, ts, triggersPath+"t", `{}`)
	m := putOK(t, ts, rulesPath+"r?overwrite=true", `{"trigger":{"path":"_","name":"t"},"action":{"path":"guest","name":"a"}}`)
	if m["status"] != "active" {
		t.Errorf("rule %v", m)
	}
	// A name held by another kind of entity.
	ts.do("PUT", rulesPath+"a", `{"trigger":"t","action":"a"}`).wantStatus(http.StatusConflict)
}

func TestRuleStatus(t *testing.T) {
	tr := &entity.Trigger{Rules: map[string]entity.ReducedRule{
		"guest/on":  {Status: entity.StatusActive},
		"guest/off": {Status: entity.StatusInactive},
	}}
	cases := []struct {
		name    string
		trigger *entity.Trigger
		rule    string
		want    string
	}{
		{"active link", tr, "guest/on", "active"},
		{"inactive link", tr, "guest/off", "inactive"},
		{"no link", tr, "guest/other", "inactive"},
		{"no trigger", nil, "guest/on", "inactive"},
		{"trigger without rules", &entity.Trigger{}, "guest/on", "inactive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ruleStatus(tc.trigger, tc.rule); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

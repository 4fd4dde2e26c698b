package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

const activationsPath = "/api/v1/namespaces/_/activations"

// seedActivations stores records in guest: ids g1..g5 (start 1000..5000)
// named a, a, p/b (in package p), t (a trigger), a; and one in alice.
func seedActivations(t *testing.T, ts *testServer) map[string]string {
	t.Helper()
	ids := map[string]string{}
	mk := func(ns, key, name, path string, start int64, code int) {
		id := entity.NewActivationID()
		ids[key] = id
		a := &entity.Activation{Namespace: ns, Name: name, Subject: ns, ActivationID: id, Start: start,
			Response: entity.Response{StatusCode: code, Result: json.RawMessage(`{"k":"` + key + `"}`)},
			Logs:     []string{"log of " + key}, Version: entity.DefaultVersion, Annotations: entity.Params{}}
		if path != "" {
			p, _ := json.Marshal(path)
			a.Annotations = entity.Params{{Key: "path", Value: p}, {Key: "kind", Value: json.RawMessage(`"nodejs:20"`)}}
			a.End = start + 5
		}
		if err := ts.Stores.Activations.Put(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	mk("guest", "g1", "a", "guest/a", 1000, 0)
	mk("guest", "g2", "a", "guest/a", 2000, 1)
	mk("guest", "g3", "b", "guest/p/b", 3000, 0)
	mk("guest", "g4", "t", "", 4000, 0)
	mk("guest", "g5", "a", "guest/a", 5000, 3)
	mk("alice", "x1", "a", "alice/a", 6000, 0)
	return ids
}

func TestListActivations(t *testing.T) {
	ts := newTestServer(t)
	ids := seedActivations(t, ts)
	order := func(keys ...string) string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = ids[k]
		}
		return strings.Join(out, ",")
	}
	idsOf := func(r response) string {
		var out []string
		for _, e := range r.Arr() {
			out = append(out, e.(map[string]any)["activationId"].(string))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name, query string
		status      int
		errContains string
		want        string // ids in order, or a JSON body when it starts with {
		check       func(t *testing.T, r response)
	}{
		{name: "all newest first", query: "", status: 200, want: order("g5", "g4", "g3", "g2", "g1"),
			check: func(t *testing.T, r response) {
				row := r.Arr()[0].(map[string]any)
				if _, ok := row["response"]; ok {
					t.Errorf("summary has response: %v", row)
				}
				if row["statusCode"] != float64(3) || row["duration"] != float64(5) || row["end"] != float64(5005) {
					t.Errorf("summary %v", row)
				}
				trig := r.Arr()[1].(map[string]any)
				if _, ok := trig["end"]; ok {
					t.Errorf("trigger summary has end: %v", trig)
				}
			}},
		{name: "trailing slash", query: "/", status: 200, want: order("g5", "g4", "g3", "g2", "g1")},
		{name: "by name", query: "?name=a", status: 200, want: order("g5", "g2", "g1")},
		{name: "by package name", query: "?name=p/b", status: 200, want: order("g3")},
		{name: "blank name", query: "?name=%20", status: 200, want: order("g5", "g4", "g3", "g2", "g1")},
		{name: "limit and skip", query: "?limit=2&skip=1", status: 200, want: order("g4", "g3")},
		{name: "limit zero is 200", query: "?limit=0", status: 200, want: order("g5", "g4", "g3", "g2", "g1")},
		{name: "since and upto", query: "?since=2000&upto=4000", status: 200, want: order("g4", "g3", "g2")},
		{name: "docs", query: "?docs=true&name=p/b", status: 200,
			check: func(t *testing.T, r response) {
				a := r.Arr()
				if len(a) != 1 {
					t.Fatalf("list %s", r.Body)
				}
				equalJSON(t, "response", a[0].(map[string]any)["response"], `{"result":{"k":"g3"},"status":"success","success":true}`)
				equalJSON(t, "logs", a[0].(map[string]any)["logs"], `["log of g3"]`)
			}},
		{name: "count", query: "?count=true", status: 200, want: `{"activations":5}`},
		{name: "count by name", query: "?count=true&name=a&since=1500", status: 200, want: `{"activations":2}`},
		{name: "docs with count", query: "?docs=true&count=true", status: 400, errContains: "The parameter 'docs' is not permitted with 'count'."},
		{name: "bad since", query: "?since=yesterday", status: 400, errContains: "Parameter is not a valid value for epoch seconds: yesterday"},
		{name: "bad upto", query: "?upto=1.5", status: 400, errContains: "upto"},
		{name: "bad name", query: "?name=a/b/c", status: 400, errContains: "Parameter may be a 'simple' name or 'package-name/simple' name: a/b/c"},
		{name: "bad limit", query: "?limit=500", status: 400, errContains: "The value '500' is not in the range of 0 to 200 for activations."},
		{name: "bad docs", query: "?docs=ja", status: 400, errContains: "docs"},
		{name: "foreign namespace", query: "FOREIGN", status: 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := activationsPath + tc.query
			if tc.query == "FOREIGN" {
				path = "/api/v1/namespaces/alice/activations"
			}
			r := ts.do("GET", path, "").wantStatus(tc.status)
			if tc.errContains != "" && !strings.Contains(r.ErrMsg(), tc.errContains) {
				t.Errorf("error %q, want it to contain %q", r.ErrMsg(), tc.errContains)
			}
			switch {
			case strings.HasPrefix(tc.want, "{"):
				equalJSON(t, "body", r.JSON, tc.want)
			case tc.want != "":
				if got := idsOf(r); got != tc.want {
					t.Errorf("ids\n%s\nwant\n%s", got, tc.want)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestGetActivation(t *testing.T) {
	ts := newTestServer(t)
	ids := seedActivations(t, ts)
	missing := entity.NewActivationID()
	cases := []struct {
		name, path  string
		status      int
		errContains string
		want        string
	}{
		{name: "record", path: "/" + ids["g2"], status: 200},
		{name: "result", path: "/" + ids["g2"] + "/result", status: 200, want: `{"result":{"k":"g2"},"status":"application error","success":false}`},
		{name: "logs", path: "/" + ids["g3"] + "/logs", status: 200, want: `{"logs":["log of g3"]}`},
		{name: "too short", path: "/abc12", status: 400, errContains: "Activation id length is 5 but must be 32."},
		{name: "upper case", path: "/" + strings.ToUpper(ids["g1"]), status: 400, errContains: "The activation id is not valid."},
		{name: "not hex", path: "/" + strings.Repeat("z", 32) + "/result", status: 400, errContains: "The activation id is not valid."},
		{name: "missing", path: "/" + missing, status: 404},
		{name: "missing result", path: "/" + missing + "/result", status: 404},
		{name: "missing logs", path: "/" + missing + "/logs", status: 404},
		{name: "other namespace's record", path: "/" + ids["x1"], status: 404},
		{name: "unknown sub-resource", path: "/" + ids["g1"] + "/other", status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", activationsPath+tc.path, "").wantStatus(tc.status)
			if tc.errContains != "" && !strings.Contains(r.ErrMsg(), tc.errContains) {
				t.Errorf("error %q, want it to contain %q", r.ErrMsg(), tc.errContains)
			}
			if tc.want != "" {
				equalJSON(t, "body", r.JSON, tc.want)
			}
		})
	}
	t.Run("API form", func(t *testing.T) {
		m := ts.do("GET", activationsPath+"/"+ids["g1"], "").wantStatus(200).Obj()
		equalJSON(t, "record", m, fmt.Sprintf(`{"namespace":"guest","name":"a","subject":"guest","activationId":%q,
			"start":1000,"end":1005,"duration":5,"response":{"result":{"k":"g1"},"status":"success","success":true},
			"logs":["log of g1"],"version":"0.0.1","publish":false,
			"annotations":[{"key":"path","value":"guest/a"},{"key":"kind","value":"nodejs:20"}]}`, ids["g1"]))
	})
	t.Run("owner reads via explicit namespace", func(t *testing.T) {
		ts.do("GET", "/api/v1/namespaces/alice/activations/"+ids["x1"], "", aliceAuth).wantStatus(200)
		ts.do("GET", "/api/v1/namespaces/alice/activations/"+ids["x1"], "").wantStatus(403)
	})
}

func TestCheckActivationID(t *testing.T) {
	cases := []struct {
		name, id, wantErr string
	}{
		{"valid", "0123456789abcdef0123456789abcdef", ""},
		{"empty", "", "Activation id length is 0 but must be 32."},
		{"long", strings.Repeat("a", 33), "Activation id length is 33 but must be 32."},
		{"dashed uuid", "01234567-89ab-cdef-0123-456789abcdef", "Activation id length is 36 but must be 32."},
		{"upper", strings.Repeat("A", 32), msgActivationIDIllegal},
		{"non-hex", strings.Repeat("g", 32), msgActivationIDIllegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkActivationID(tc.id)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

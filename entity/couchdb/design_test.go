package couchdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

// viewHarness runs a CouchDB map function over documents in Node and
// prints, per document, the [key, value] rows it emitted, JSON-encoded as
// CouchDB stores them (undefined fields dropped).
const viewHarness = `
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
let rows;
const emit = (k, v) => rows.push([k, v === undefined ? null : v]);
const fn = new Function("emit", "return (" + input.fn + ")")(emit);
const out = input.docs.map(d => { rows = []; fn(d); return rows; });
process.stdout.write(JSON.stringify(out));
`

// runMap returns the rows fn emits for each document, as JSON strings.
func runMap(t *testing.T, fn string, docs ...string) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the view functions cannot be evaluated")
	}
	raw := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		raw[i] = json.RawMessage(d)
	}
	in, err := json.Marshal(map[string]any{"fn": fn, "docs": raw})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "-e", viewHarness)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var perDoc []json.RawMessage
	if err := json.Unmarshal(out, &perDoc); err != nil {
		t.Fatalf("harness output %s: %v", out, err)
	}
	res := make([]string, len(perDoc))
	for i, r := range perDoc {
		res[i] = string(r)
	}
	return res
}

func views(docs []designDoc) map[string]view {
	out := map[string]view{}
	for _, d := range docs {
		for name, v := range d.Views {
			out[d.ID+"/"+name] = v
		}
	}
	return out
}

func TestDesignDocuments(t *testing.T) {
	want := map[string]string{
		ddocWhisks + "/actions":                "_count",
		ddocWhisks + "/triggers":               "_count",
		ddocWhisks + "/rules":                  "_count",
		ddocWhisks + "/packages":               "_count",
		ddocWhisks + "/packages-public":        "_count",
		ddocWhisks + "/activations":            "_count",
		ddocFilters + "/activations":           "_count",
		ddocSubjects + "/identities":           "",
		ddocThrottlings + "/blockedNamespaces": "_sum",
		ddocCredentials + "/credentials":       "",
	}
	got := views(append(append(whisksDesignDocs(), activationsDesignDocs()...), subjectsDesignDocs()...))
	if len(got) != len(want) {
		t.Errorf("%d views, want %d: %v", len(got), len(want), got)
	}
	for name, reduce := range want {
		v, ok := got[name]
		if !ok {
			t.Errorf("missing view %s", name)
			continue
		}
		if v.Reduce != reduce || !strings.HasPrefix(v.Map, "function (doc) {") {
			t.Errorf("view %s: reduce %q map %.30q", name, v.Reduce, v.Map)
		}
	}
}

func TestSameViews(t *testing.T) {
	want := whisksDesignDocs()[0]
	same := want
	same.Rev = "3-x"
	changed := designDoc{ID: want.ID, Language: "javascript", Views: map[string]view{"actions": {Map: "function (doc) {}"}}}
	if !sameViews(same, want) {
		t.Error("a stored copy with a revision differs")
	}
	if sameViews(changed, want) || sameViews(designDoc{}, want) {
		t.Error("changed or missing views compare equal")
	}
}

const (
	actionDoc     = `{"_id":"guest/pkg/a","entityType":"action","namespace":"guest/pkg","name":"a","version":"0.0.1","publish":false,"annotations":[],"limits":{"timeout":60000},"exec":{"kind":"nodejs:20","code":"x","binary":true},"parameters":[],"updated":7}`
	legacyAction  = `{"_id":"guest/b","namespace":"guest","name":"b","exec":{"kind":"nodejs:20","code":"x"},"updated":8}`
	triggerDoc    = `{"_id":"guest/t","entityType":"trigger","namespace":"guest","name":"t","version":"0.0.1","publish":false,"annotations":[],"parameters":[],"limits":{},"updated":9}`
	legacyTrigger = `{"_id":"guest/t2","namespace":"guest","name":"t2","parameters":[],"updated":10}`
	ruleDoc       = `{"_id":"guest/r","entityType":"rule","namespace":"guest","name":"r","trigger":{"path":"guest","name":"t"},"action":{"path":"guest","name":"a"},"updated":11}`
	packageDoc    = `{"_id":"guest/p","entityType":"package","namespace":"guest","name":"p","publish":true,"binding":{},"parameters":[],"updated":12}`
	bindingDoc    = `{"_id":"guest/bp","entityType":"package","namespace":"guest","name":"bp","publish":true,"binding":{"namespace":"other","name":"shared"},"parameters":[],"updated":13}`
	privatePkgDoc = `{"_id":"guest/q","entityType":"package","namespace":"guest","name":"q","publish":false,"binding":{},"updated":14}`
)

func TestEntityViews(t *testing.T) {
	v := views(whisksDesignDocs())
	all := []string{actionDoc, legacyAction, triggerDoc, legacyTrigger, ruleDoc, packageDoc, bindingDoc, privatePkgDoc}
	tests := []struct {
		view string
		want []string // rows per document of all
	}{
		{"actions", []string{
			`[[["guest/pkg",7],{"namespace":"guest/pkg","name":"a","version":"0.0.1","publish":false,"annotations":[],"limits":{"timeout":60000},"exec":{"binary":true},"updated":7}],[["guest",7],{"namespace":"guest/pkg","name":"a","version":"0.0.1","publish":false,"annotations":[],"limits":{"timeout":60000},"exec":{"binary":true},"updated":7}]]`,
			`[[["guest",8],{"namespace":"guest","name":"b","exec":{"binary":false},"updated":8}]]`,
			`[]`, `[]`, `[]`, `[]`, `[]`, `[]`}},
		{"triggers", []string{`[]`, `[]`,
			`[[["guest",9],{"namespace":"guest","name":"t","version":"0.0.1","publish":false,"annotations":[],"updated":9}]]`,
			`[[["guest",10],{"namespace":"guest","name":"t2","updated":10}]]`,
			`[]`, `[]`, `[]`, `[]`}},
		{"rules", []string{`[]`, `[]`, `[]`, `[]`, `[[["guest",11],1]]`, `[]`, `[]`, `[]`}},
		{"packages", []string{`[]`, `[]`, `[]`, `[]`, `[]`,
			`[[["guest",12],{"namespace":"guest","name":"p","publish":true,"updated":12,"binding":false}]]`,
			`[[["guest",13],{"namespace":"guest","name":"bp","publish":true,"updated":13,"binding":{"namespace":"other","name":"shared"}}]]`,
			`[[["guest",14],{"namespace":"guest","name":"q","publish":false,"updated":14,"binding":false}]]`}},
		{"packages-public", []string{`[]`, `[]`, `[]`, `[]`, `[]`,
			`[[["guest",12],{"namespace":"guest","name":"p","publish":true,"updated":12,"binding":false}]]`,
			`[]`, `[]`}},
	}
	for _, tc := range tests {
		t.Run(tc.view, func(t *testing.T) {
			got := runMap(t, v[ddocWhisks+"/"+tc.view].Map, all...)
			for i := range all {
				if got[i] != tc.want[i] {
					t.Errorf("doc %d:\n got %s\nwant %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestActivationViews(t *testing.T) {
	v := views(activationsDesignDocs())
	acts := []*entity.Activation{
		activationFor("guest", "hello", 1000, nil),
		activationFor("guest", "hello", 2000, entity.Params{strAnn("path", "guest/pkg/hello")}),
		activationFor("guest", "hello", 3000, entity.Params{strAnn("path", "guest/hello")}),
		activationFor("guest", "hello", 4000, entity.Params{strAnn("path", "other/pkg/hello"), strAnn("binding", "guest/bound")}),
		activationFor("guest", "hello", 5000, entity.Params{strAnn("binding", "nopkg")}),
	}
	var docs []string
	for _, a := range acts {
		a.Version = entity.SemVer{Patch: 1}
		a.End = a.Start + 3
		a.Response.StatusCode = entity.StatusDeveloperError
		b, err := marshalActivation(a)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	trig := activationFor("guest", "t", 6000, nil)
	trig.Version = entity.SemVer{Patch: 1}
	tb, _ := marshalActivation(trig)
	docs = append(docs, string(tb), packageDoc)

	t.Run("filters key matches EntityPath", func(t *testing.T) {
		got := runMap(t, v[ddocFilters+"/"+viewActivations].Map, docs...)
		for i, a := range acts {
			var rows [][2]json.RawMessage
			if err := json.Unmarshal([]byte(got[i]), &rows); err != nil || len(rows) != 1 {
				t.Fatalf("doc %d: rows %s", i, got[i])
			}
			want := fmt.Sprintf(`[%q,%d]`, a.Namespace+"/"+a.EntityPath(), a.Start)
			if string(rows[0][0]) != want {
				t.Errorf("doc %d: key %s, want %s (EntityPath %q)", i, rows[0][0], want, a.EntityPath())
			}
		}
		if got[len(docs)-1] != `[]` {
			t.Errorf("a package emitted %s", got[len(docs)-1])
		}
	})
	t.Run("activations key and summary", func(t *testing.T) {
		got := runMap(t, v[ddocWhisks+"/"+viewActivations].Map, docs...)
		a := acts[0]
		want := fmt.Sprintf(`[[["guest",1000],{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"annotations":[],"activationId":%q,"start":1000,"end":1003,"duration":3,"statusCode":2}]]`, a.ActivationID)
		if got[0] != want {
			t.Errorf("action record:\n got %s\nwant %s", got[0], want)
		}
		// A trigger record (end 0) has no end, duration or statusCode.
		wantTrig := fmt.Sprintf(`[[["guest",6000],{"namespace":"guest","name":"t","version":"0.0.1","publish":false,"annotations":[],"activationId":%q,"start":6000}]]`, trig.ActivationID)
		if got[5] != wantTrig {
			t.Errorf("trigger record:\n got %s\nwant %s", got[5], wantTrig)
		}
	})
}

func TestSubjectViews(t *testing.T) {
	v := views(subjectsDesignDocs())
	subject := `{"_id":"alice","subject":"alice","namespaces":[{"name":"alice","uuid":"u1","key":"k1"},{"name":"dev","uuid":"u2","key":"k2"}]}`
	blocked := `{"_id":"bob","subject":"bob","blocked":true,"namespaces":[{"name":"bob","uuid":"u3","key":"k3"}]}`
	limits0 := `{"_id":"carol/limits","invocationsPerMinute":0}`
	limitsC := `{"_id":"dave/limits","concurrentInvocations":0,"invocationsPerMinute":5}`
	limits5 := `{"_id":"erin/limits","invocationsPerMinute":5}`
	docs := []string{subject, blocked, limits0, limitsC, limits5}
	tests := []struct {
		view string
		want []string
	}{
		{ddocSubjects + "/identities", []string{
			`[[["alice"],{"_id":"alice/limits","namespace":"alice","uuid":"u1","key":"k1"}],[["u1","k1"],{"_id":"alice/limits","namespace":"alice","uuid":"u1","key":"k1"}],` +
				`[["dev"],{"_id":"dev/limits","namespace":"dev","uuid":"u2","key":"k2"}],[["u2","k2"],{"_id":"dev/limits","namespace":"dev","uuid":"u2","key":"k2"}]]`,
			`[]`, `[]`, `[]`, `[]`}},
		{ddocThrottlings + "/blockedNamespaces", []string{`[]`, `[]`, `[["carol",1]]`, `[["dave",1]]`, `[]`}},
		{ddocCredentials + "/credentials", []string{`[[["u1","k1"],"alice"],[["u2","k2"],"dev"]]`, `[[["u3","k3"],"bob"]]`, `[]`, `[]`, `[]`}},
	}
	for _, tc := range tests {
		t.Run(tc.view, func(t *testing.T) {
			got := runMap(t, v[tc.view].Map, docs...)
			for i := range docs {
				if got[i] != tc.want[i] {
					t.Errorf("doc %d:\n got %s\nwant %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

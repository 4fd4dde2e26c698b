package couchdb

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestViewRange(t *testing.T) {
	tests := []struct {
		name        string
		prefix      string
		since, upto int64
		start, end  string
	}{
		{"unbounded", "guest", 0, 0, `["guest","\ufff0","\ufff0"]`, `["guest",0]`},
		{"since", "guest", 100, 0, `["guest","\ufff0","\ufff0"]`, `["guest",100]`},
		{"upto", "guest", 0, 200, `["guest",200,"\ufff0"]`, `["guest",0]`},
		{"both", "guest/pkg/a", 100, 200, `["guest/pkg/a",200,"\ufff0"]`, `["guest/pkg/a",100]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, e := viewRange(tc.prefix, tc.since, tc.upto)
			if got := asJSON(t, s); got != tc.start {
				t.Errorf("startkey = %s, want %s", got, tc.start)
			}
			if got := asJSON(t, e); got != tc.end {
				t.Errorf("endkey = %s, want %s", got, tc.end)
			}
		})
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Go escapes nothing in \ufff0; show it escaped for readability.
	var out []byte
	for _, r := range string(b) {
		if r == '\ufff0' {
			out = append(out, `\ufff0`...)
		} else {
			out = append(out, string(r)...)
		}
	}
	return string(out)
}

func TestRangeQueryParams(t *testing.T) {
	tests := []struct {
		name string
		q    rangeQuery
		want string
	}{
		{"list page with docs", rangeQuery{prefix: "ns", skip: 5, limit: 10, docs: true},
			"map[descending:true endkey:[ns 0] include_docs:true limit:10 reduce:false skip:5 startkey:[ns \ufff0 \ufff0]]"},
		{"no limit, no skip", rangeQuery{prefix: "ns"},
			"map[descending:true endkey:[ns 0] reduce:false startkey:[ns \ufff0 \ufff0]]"},
		{"negative paging ignored", rangeQuery{prefix: "ns", skip: -1, limit: -3},
			"map[descending:true endkey:[ns 0] reduce:false startkey:[ns \ufff0 \ufff0]]"},
		{"count drops paging and docs", rangeQuery{prefix: "ns", since: 7, skip: 5, limit: 10, docs: true, reduce: true},
			"map[descending:true endkey:[ns 7] reduce:true startkey:[ns \ufff0 \ufff0]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(tc.q.params()); got != tc.want {
				t.Errorf("params = %s\nwant      %s", got, tc.want)
			}
		})
	}
}

func TestEntityView(t *testing.T) {
	for k, want := range map[entity.Kind]string{
		entity.KindAction: "actions", entity.KindTrigger: "triggers",
		entity.KindRule: "rules", entity.KindPackage: "packages",
	} {
		if got, err := entityView(k); err != nil || got != want {
			t.Errorf("entityView(%s) = %q, %v; want %q", k, got, err, want)
		}
	}
	if _, err := entityView("activation"); err == nil {
		t.Error("entityView(activation) succeeded")
	}
}

func TestActivationView(t *testing.T) {
	tests := []struct {
		name, ns, filter string
		ddoc, prefix     string
	}{
		{"by namespace", "guest", "", ddocWhisks, "guest"},
		{"by name", "guest", "hello", ddocFilters, "guest/hello"},
		{"by package and name", "guest", "pkg/hello", ddocFilters, "guest/pkg/hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, p := activationView(tc.ns, entity.ActivationQuery{Name: tc.filter})
			if d != tc.ddoc || p != tc.prefix {
				t.Errorf("activationView = %s %s, want %s %s", d, p, tc.ddoc, tc.prefix)
			}
		})
	}
}

func TestValidDBName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"whisk_local_whisks", true},
		{"t1_activations", true},
		{"a$()+-/_9", true},
		{"Whisk_local_whisks", false},
		{"whisk_LOCAL_subjects", false},
		{"1whisks", false},
		{"_whisks", false},
		{"", false},
		{"whisks db", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validDBName(tc.name); got != tc.ok {
				t.Errorf("validDBName(%q) = %v, want %v", tc.name, got, tc.ok)
			}
		})
	}
}

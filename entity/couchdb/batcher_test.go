package couchdb

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestSplitBatches(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		max   int
		sizes string
	}{
		{"empty", 0, 500, "[]"},
		{"one", 1, 500, "[1]"},
		{"exactly one batch", 500, 500, "[500]"},
		{"one more", 501, 500, "[500 1]"},
		{"several", 1234, 500, "[500 500 234]"},
		{"max one", 3, 1, "[1 1 1]"},
		{"max zero means one", 2, 0, "[1 1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := make([]int, tc.n)
			for i := range recs {
				recs[i] = i
			}
			batches := splitBatches(recs, tc.max)
			sizes := make([]int, len(batches))
			next := 0
			for i, b := range batches {
				sizes[i] = len(b)
				for _, r := range b {
					if r != next {
						t.Fatalf("batch %d holds %d, want %d: order or coverage broken", i, r, next)
					}
					next++
				}
				if cap(b) != len(b) {
					t.Errorf("batch %d has spare capacity %d: appending would overwrite the next", i, cap(b))
				}
			}
			if next != tc.n {
				t.Errorf("batches cover %d records, want %d", next, tc.n)
			}
			if got := fmt.Sprint(sizes); got != tc.sizes {
				t.Errorf("sizes = %s, want %s", got, tc.sizes)
			}
		})
	}
}

func TestPage(t *testing.T) {
	all := []int{1, 2, 3, 4, 5}
	tests := []struct {
		skip, limit int
		want        string
	}{
		{0, 0, "[1 2 3 4 5]"},
		{0, 2, "[1 2]"},
		{2, 2, "[3 4]"},
		{4, 2, "[5]"},
		{5, 2, "[]"},
		{9, 0, "[]"},
		{3, 0, "[4 5]"},
		{-1, -1, "[1 2 3 4 5]"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("skip=%d,limit=%d", tc.skip, tc.limit), func(t *testing.T) {
			if got := fmt.Sprint(page(all, tc.skip, tc.limit)); got != tc.want {
				t.Errorf("page = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMergeListed(t *testing.T) {
	l := func(id string, start int64) listed { return listed{id: "ns/" + id, start: start} }
	ids := func(ls []listed) string {
		var out []string
		for _, x := range ls {
			out = append(out, strings.TrimPrefix(x.id, "ns/"))
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name            string
		stored, pending []listed
		skip, limit     int
		want            string
	}{
		{"interleaved", []listed{l("a", 30), l("b", 10)}, []listed{l("c", 20), l("d", 40)}, 0, 0, "[d a c b]"},
		{"pending already stored is listed once", []listed{l("a", 30), l("c", 20)}, []listed{l("c", 20)}, 0, 0, "[a c]"},
		{"paged after merging", []listed{l("a", 30), l("b", 10)}, []listed{l("c", 20), l("d", 40)}, 1, 2, "[a c]"},
		{"skip past the end", []listed{l("a", 30)}, []listed{l("c", 20)}, 2, 5, "[]"},
		{"equal starts by id descending", []listed{l("a", 10)}, []listed{l("b", 10)}, 0, 0, "[b a]"},
		{"only pending", nil, []listed{l("x", 1), l("y", 2)}, 0, 0, "[y x]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(mergeListed(tc.stored, tc.pending, tc.skip, tc.limit)); got != tc.want {
				t.Errorf("merge = %s, want %s", got, tc.want)
			}
		})
	}
}

func activationFor(ns, name string, start int64, ann entity.Params) *entity.Activation {
	return &entity.Activation{Namespace: ns, Name: name, ActivationID: entity.NewActivationID(), Start: start, Annotations: ann}
}

func strAnn(key, v string) entity.Param {
	b, _ := json.Marshal(v)
	return entity.Param{Key: key, Value: b}
}

func TestPendingMatches(t *testing.T) {
	inPkg := activationFor("guest", "hello", 2000, entity.Params{strAnn("path", "guest/pkg/hello")})
	top := activationFor("guest", "hello", 1000, entity.Params{strAnn("path", "guest/hello")})
	bound := activationFor("guest", "hello", 3000, entity.Params{strAnn("path", "other/pkg/hello"), strAnn("binding", "guest/bound")})
	rec := func(a *entity.Activation) queuedRecord {
		return queuedRecord{id: a.DocID(), ns: a.Namespace, path: a.EntityPath(), start: a.Start}
	}
	tests := []struct {
		name string
		a    *entity.Activation
		ns   string
		q    entity.ActivationQuery
		want bool
	}{
		{"namespace", top, "guest", entity.ActivationQuery{}, true},
		{"other namespace", top, "guest2", entity.ActivationQuery{}, false},
		{"namespace prefix", top, "gues", entity.ActivationQuery{}, false},
		{"name", top, "guest", entity.ActivationQuery{Name: "hello"}, true},
		{"name of packaged", inPkg, "guest", entity.ActivationQuery{Name: "hello"}, false},
		{"package/name", inPkg, "guest", entity.ActivationQuery{Name: "pkg/hello"}, true},
		{"binding wins over path", bound, "guest", entity.ActivationQuery{Name: "bound/hello"}, true},
		{"binding: not the path's package", bound, "guest", entity.ActivationQuery{Name: "pkg/hello"}, false},
		{"since inclusive", top, "guest", entity.ActivationQuery{Since: 1000}, true},
		{"since after", top, "guest", entity.ActivationQuery{Since: 1001}, false},
		{"upto inclusive", top, "guest", entity.ActivationQuery{Upto: 1000}, true},
		{"upto before", top, "guest", entity.ActivationQuery{Upto: 999}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rec(tc.a).matches(tc.ns, tc.q); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}
